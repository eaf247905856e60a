// SPDX-License-Identifier: MIT
/*
 * The login page of built-in users (storage/users.h), served beside the viewer from the same
 * origin, and the end of a session:
 *
 *   GET  /login[?next=/viewer/...]  a small HTML form (name, password), no script
 *   POST /login                     a form (application/x-www-form-urlencoded: name,
 *                                   password, next) or JSON ({"name", "password"}): the user's
 *                                   lockout and password are checked (pacs_users_login); on
 *                                   success a session begins (http/session.h) and its cookie is
 *                                   set (HttpOnly; SameSite=Strict; Path=/; Secure over TLS),
 *                                   then a form is sent on to `next` (303; a path of this
 *                                   server only) and JSON gets 200 {"user", "role"}. Every
 *                                   refusal (unknown user, wrong password, locked user) gets
 *                                   the same 401 and message, so the answer never tells
 *                                   whether a user exists; so does any login from an address
 *                                   that failed too often (http/addr_limit.h).
 *   POST /logout                    ends the cookie's session on the server and clears the
 *                                   cookie: 303 to /login for a browser's form, else 204.
 *
 * POST requests must come from this server's pages when they say where they come from (Origin
 * or Referer, http/auth.h's pacs_auth_same_origin): 403 otherwise, which keeps another site
 * from signing a browser in or out. Every login, failure (with its reason), lockout and logout
 * is a line of the audit trail (storage/audit.h).
 *
 * Load: a login costs an Argon2id verification (tens of ms); the page is a few KB.
 * Thread-safe: stateless; runs on the request's thread.
 */
#ifndef PACS_DICOMWEB_LOGIN_H
#define PACS_DICOMWEB_LOGIN_H

#include <stddef.h>

#include "http/auth.h"
#include "http/http.h"

/** True when `path` (without its query) is /login or /logout. */
int pacs_login_owns(const char *path, size_t len);

/** Answers a request whose path pacs_login_owns (`query`: the raw text after '?', or NULL);
 *  `tls` when the server speaks HTTPS (the cookie is then Secure). Answers exactly once. */
void pacs_login_serve(pacs_auth *a, pacs_http_req *r, const char *path, size_t len,
                      const char *query, int tls);

/** Answers 302 to the login page, with `uri` (the request's, as received) to come back to. */
void pacs_login_redirect(pacs_http_req *r, const char *uri);

#endif
