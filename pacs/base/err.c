// SPDX-License-Identifier: MIT
/* Error codes and their strings, generated from the one X-macro list in err.h. */
#include "pacs/base/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#define PACS_ERR_TEXT_(name, text) [name] = text,
static const char *const err_text[PACS_ERR_COUNT_] = {PACS_ERRORS(PACS_ERR_TEXT_)};
#undef PACS_ERR_TEXT_

const char *pacs_err_str(pacs_err code)
{
    if ((unsigned)code >= PACS_ERR_COUNT_) {
        return "unknown error";
    }
    return err_text[code];
}

pacs_err pacs_errf(pacs_errinfo *ei, pacs_err code, const char *fmt, ...)
{
    if (ei) {
        va_list ap;
        ei->code = code;
        va_start(ap, fmt);
        vsnprintf(ei->msg, sizeof ei->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void pacs_errinfo_clear(pacs_errinfo *ei)
{
    if (ei) {
        ei->code = PACS_OK;
        ei->msg[0] = '\0';
    }
}

pacs_err pacs_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return PACS_OK;
    case ENOSPC:
    case EDQUOT:
        return PACS_ENOSPC;
    case ENOMEM:
        return PACS_ENOMEM;
    case ENOENT:
        return PACS_ENOTFOUND;
    case EEXIST:
        return PACS_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return PACS_EDENIED;
    case ETIMEDOUT:
        return PACS_ETIMEOUT;
    case EINVAL:
        return PACS_EINVAL;
    default:
        return PACS_EIO;
    }
}
