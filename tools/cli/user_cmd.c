// SPDX-License-Identifier: MIT
/*
 * `pacs user`: the built-in users who sign in to the viewer (storage/users.h).
 *
 *   pacs user add NAME --role radiologist|technician|admin
 *   pacs user passwd NAME
 *   pacs user role NAME radiologist|technician|admin
 *   pacs user remove NAME
 *   pacs user list
 *
 * A password is never an argument (argv is visible to every user of the machine in ps): on a
 * terminal it is asked for twice without echo; otherwise it is the first line of standard
 * input. Safe while pacsd runs (the index orders the writes); a running pacsd ends the sessions
 * of a removed user, or begun before a new password, and gives a user's sessions its new role,
 * at their next look at the user (auth.session_recheck; the sessions live in its memory). Each
 * change is a line of the audit trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "storage/archive.h"
#include "storage/audit.h"
#include "storage/users.h"
#include "tools/cli/tool.h"

/* One line of `f` without its newline into `buf`; -1 at the end or for a line too long. */
static int read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f)) {
        return -1;
    }
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    } else if (!feof(f)) {
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\r') {
        buf[--n] = '\0';
    }
    return 0;
}

/* Asks for a password on the terminal, without echo. */
static int prompt(const char *what, char *buf, size_t cap)
{
    struct termios old, quiet;
    fprintf(stderr, "%s: ", what);
    fflush(stderr);
    int tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int rc = read_line(stdin, buf, cap);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return rc;
}

/* The new password: asked twice on a terminal, else the first line of standard input. */
static int read_password(char *pw, size_t cap)
{
    if (!isatty(STDIN_FILENO)) {
        if (read_line(stdin, pw, cap) != 0) {
            fprintf(stderr, "pacs user: no password on standard input (one line)\n");
            return -1;
        }
        return 0;
    }
    char again[PACS_PASSWORD_MAX + 2];
    int rc = -1;
    if (prompt("New password", pw, cap) == 0 && prompt("Again", again, sizeof again) == 0) {
        rc = strcmp(pw, again) == 0 ? 0 : -1;
        if (rc != 0) {
            fprintf(stderr, "pacs user: the passwords differ\n");
        }
    }
    OPENSSL_cleanse(again, sizeof again);
    return rc;
}

static int on_user(void *ctx, const pacs_user_info *u)
{
    (void)ctx;
    char created[32] = "", locked[48] = "";
    time_t t = (time_t)u->created_at;
    struct tm tm;
    if (gmtime_r(&t, &tm)) {
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    t = (time_t)u->locked_until;
    if (u->locked_until > (int64_t)time(NULL) && gmtime_r(&t, &tm)) {
        strftime(locked, sizeof locked, "  locked until %Y-%m-%dT%H:%M:%SZ", &tm);
    }
    printf("%-24s %-12s created %s%s\n", u->name, pacs_role_name(u->role), created, locked);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: pacs user add NAME --role radiologist|technician|admin\n"
                    "       pacs user role NAME radiologist|technician|admin\n"
                    "       pacs user passwd NAME | pacs user remove NAME | pacs user list\n"
                    "(the password is read from the terminal, or standard input's first line)\n");
    return TOOL_USAGE;
}

int pacs_tool__user(const pacs_config *cfg, int argc, char **argv)
{
    if (argc < 1) {
        return usage();
    }
    const char *cmd = argv[0], *name = argc > 1 ? argv[1] : NULL;
    pacs_role role = PACS_ROLE_NONE;
    int list = strcmp(cmd, "list") == 0 && argc == 1;
    int add = strcmp(cmd, "add") == 0;
    int passwd = strcmp(cmd, "passwd") == 0 && argc == 2;
    int remove = strcmp(cmd, "remove") == 0 && argc == 2;
    int set_role = strcmp(cmd, "role") == 0 && argc == 3;
    if (add || set_role) {
        if (add && (argc != 4 || strcmp(argv[2], "--role") != 0)) {
            return usage();
        }
        role = pacs_role_parse(argv[argc - 1]);
        if (role == PACS_ROLE_NONE) {
            fprintf(stderr, "pacs user: the role is radiologist, technician or admin\n");
            return TOOL_USAGE;
        }
    }
    if (!list && !add && !passwd && !remove && !set_role) {
        return usage();
    }
    if (name && !pacs_user_name_valid(name)) {
        fprintf(stderr, "pacs user: a user name has 1 to %d characters among A-Z a-z 0-9 . _ @ -\n",
                PACS_USER_NAME_MAX);
        return TOOL_USAGE;
    }
    char pw[PACS_PASSWORD_MAX + 2];
    if ((add || passwd) && read_password(pw, sizeof pw) != 0) {
        return TOOL_USAGE;
    }
    pacs_archive *a = NULL;
    if (pacs_tool__open_archive(cfg, 0, &a) != 0) {
        OPENSSL_cleanse(pw, sizeof pw);
        return TOOL_PROBLEMS;
    }
    pacs_errinfo ei;
    pacs_err err;
    const char *what = add        ? "added"
                       : passwd   ? "password set"
                       : set_role ? "given the role"
                                  : "removed";
    if (list) {
        err = pacs_users_list(a, on_user, NULL, &ei);
    } else if (add) {
        err = pacs_users_add(a, name, role, pw, &ei);
    } else if (passwd) {
        err = pacs_users_passwd(a, name, pw, &ei);
    } else if (set_role) {
        err = pacs_users_set_role(a, name, role, &ei);
    } else {
        err = pacs_users_remove(a, name, &ei);
    }
    OPENSSL_cleanse(pw, sizeof pw);
    pacs_archive_close(a);
    if (!list) {
        char detail[128];
        snprintf(detail, sizeof detail, "user %s %s%s%s", name, what,
                 add        ? " as "
                 : set_role ? " "
                            : "",
                 add || set_role ? pacs_role_name(role) : "");
        pacs_tool__audit_event(cfg, PACS_AUDIT_USER, err == PACS_OK, NULL, detail, 0);
    }
    if (err != PACS_OK) {
        fprintf(stderr, "pacs user: %s\n", ei.msg);
        return err == PACS_EINVAL ? TOOL_USAGE : TOOL_PROBLEMS;
    }
    if (!list) {
        printf("user %s %s%s%s\n", name, what, set_role ? " " : "",
               set_role ? pacs_role_name(role) : "");
    }
    return TOOL_OK;
}
