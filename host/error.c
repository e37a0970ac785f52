/* Status messages and the per-thread detail line. */
#include "error.h"

#include <stdio.h>
#include <string.h>

#define DETAIL_MAX 4096

static _Thread_local char detail[DETAIL_MAX];

static const char *const messages[] = {
#define CLD__STATUS_MSG(name, msg) [CLD_##name] = msg,
    CLD_STATUS_MAP(CLD__STATUS_MSG)
#undef CLD__STATUS_MSG
};

const char *cld_status_str(enum cld_status st)
{
    if ((unsigned)st >= CLD_STATUS_COUNT)
        return "unknown status";
    return messages[st];
}

enum cld_status cld_error_set(enum cld_status st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return st;
}

void cld_error_prefix(const char *fmt, ...)
{
    char joined[DETAIL_MAX + 1024];
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(joined, 1024, fmt, ap);
    va_end(ap);
    n = strlen(joined);
    if (detail[0]) {
        memcpy(joined + n, ": ", 3);
        memcpy(joined + n + 2, detail, strlen(detail) + 1);
    }
    /* Keep the head and as much of the old detail as fits. */
    n = strlen(joined);
    if (n >= DETAIL_MAX)
        n = DETAIL_MAX - 1;
    memcpy(detail, joined, n);
    detail[n] = '\0';
}

const char *cld_error_detail(void)
{
    return detail;
}

void cld_error_clear(void)
{
    detail[0] = '\0';
}
