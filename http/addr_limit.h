// SPDX-License-Identifier: MIT
/*
 * Failed logins counted per client address (the login page, dicomweb/login.c): an address
 * that fails `max_failures` times within `window` seconds is refused every login for `lock`
 * seconds, whatever user it names, so that one machine cannot try passwords across many
 * user names (the per-user lockout, storage/users.h, stops tries at one name). A success does
 * not clear an address's count: one known account must not reset the tries at others.
 *
 * In memory, per pacsd process (a restart forgets it; on several nodes each counts its own):
 * a fixed table of a few thousand addresses, where a new address may take the place of an
 * idle one. Load: a hash and a compare per login. Thread-safe: one mutex.
 */
#ifndef PACS_HTTP_ADDR_LIMIT_H
#define PACS_HTTP_ADDR_LIMIT_H

#include <stdint.h>

#include "pacs/base/err.h"

typedef struct pacs_addr_limit pacs_addr_limit;

/** A table for the rule above; `max_failures` 0 turns it off (nothing is ever refused).
 *  Errors: PACS_ENOMEM. */
pacs_err pacs_addr_limit_new(unsigned max_failures, unsigned window, unsigned lock,
                             pacs_addr_limit **out, pacs_errinfo *ei);

/** Frees the table; NULL is accepted. */
void pacs_addr_limit_free(pacs_addr_limit *l);

/** True when logins from `addr` are refused at `now`. */
int pacs_addr_limit_locked(pacs_addr_limit *l, const char *addr, int64_t now);

/** Counts a failed login from `addr` at `now`; true when this failure locked the address. */
int pacs_addr_limit_fail(pacs_addr_limit *l, const char *addr, int64_t now);

#endif
