// SPDX-License-Identifier: MIT
/*
 * One error enum for the whole tree, with a fixed-size detail record so that error paths never
 * allocate. Every fallible function returns a pacs_err and, when given a pacs_errinfo, fills it
 * with a human-readable message. Errors become DIMSE or HTTP statuses once, at the protocol edge.
 * Thread-safe: no shared state.
 */
#ifndef PACS_BASE_ERR_H
#define PACS_BASE_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, text): the one list both the enum and the strings come from. */
#define PACS_ERRORS(X)                                                                             \
    X(PACS_OK, "ok")                                                                               \
    X(PACS_EINVAL, "invalid argument")                                                             \
    X(PACS_ENOMEM, "out of memory")                                                                \
    X(PACS_EIO, "input/output error")                                                              \
    X(PACS_ENOSPC, "out of storage space")                                                         \
    X(PACS_ENOTFOUND, "not found")                                                                 \
    X(PACS_EEXIST, "already exists")                                                               \
    X(PACS_EBADDATA, "malformed data")                                                             \
    X(PACS_EUNSUPPORTED, "not supported")                                                          \
    X(PACS_EDB, "index database error")                                                            \
    X(PACS_ETIMEOUT, "timed out")                                                                  \
    X(PACS_ECANCELED, "canceled")                                                                  \
    X(PACS_ECONFLICT, "conflict")                                                                  \
    X(PACS_ETOOBIG, "too large")                                                                   \
    X(PACS_EBUSY, "busy")                                                                          \
    X(PACS_ECORRUPT, "corrupt object")                                                             \
    X(PACS_ENET, "network error")                                                                  \
    X(PACS_EDENIED, "access denied")                                                               \
    X(PACS_ECLOSED, "connection closed")                                                           \
    X(PACS_EAGAIN, "more data needed")

#define PACS_ERR_ENUM_(name, text) name,
typedef enum pacs_err { PACS_ERRORS(PACS_ERR_ENUM_) PACS_ERR_COUNT_ } pacs_err;
#undef PACS_ERR_ENUM_

/** Detail of the last error: the code and a message naming what failed. */
typedef struct pacs_errinfo {
    pacs_err code;
    char msg[256];
} pacs_errinfo;

/** Static text for a code; never NULL. */
const char *pacs_err_str(pacs_err code);

/**
 * Records an error in `ei` (which may be NULL) and returns `code`, so callers can write
 * `return pacs_errf(ei, PACS_EIO, "write %s: %s", path, strerror(errno));`.
 */
pacs_err pacs_errf(pacs_errinfo *ei, pacs_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Clears `ei` to PACS_OK with an empty message; NULL is accepted. */
void pacs_errinfo_clear(pacs_errinfo *ei);

/** Maps an errno value to the closest code (ENOSPC and EDQUOT to PACS_ENOSPC, ...). */
pacs_err pacs_err_from_errno(int errnum);

#ifdef __cplusplus
}
#endif

#endif
