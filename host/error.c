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
    char head[1024], joined[DETAIL_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* Keep the head and as much of the old detail as fits; snprintf
     * truncates within joined, however long both parts are. */
    if (detail[0])
        n = snprintf(joined, sizeof joined, "%s: %s", head, detail);
    else
        n = snprintf(joined, sizeof joined, "%s", head);
    if (n < 0)
        joined[0] = '\0';
    memcpy(detail, joined, sizeof detail);
}

const char *cld_error_detail(void)
{
    return detail;
}

void cld_error_clear(void)
{
    detail[0] = '\0';
}
