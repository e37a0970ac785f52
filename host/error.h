/* One status enum for the whole project, with a message per code, and a
 * per-thread detail line that says where and why the last error happened. */
#ifndef CLD_ERROR_H
#define CLD_ERROR_H

#include <stdarg.h>

/* X(name, message) */
#define CLD_STATUS_MAP(X)                                                   \
    X(OK, "success")                                                        \
    X(ERR_NOMEM, "out of memory")                                           \
    X(ERR_IO, "input/output error")                                         \
    X(ERR_NOT_FOUND, "no such file or directory")                           \
    X(ERR_FORMAT, "unsupported or corrupt file")                            \
    X(ERR_TOO_LARGE, "image too large")                                     \
    X(ERR_INVALID, "invalid argument")                                      \
    X(ERR_USAGE, "usage error")                                             \
    X(ERR_EXISTS, "output already exists")                                  \
    X(ERR_CL, "OpenCL error")                                               \
    X(ERR_BUILD, "kernel build failed")                                     \
    X(ERR_NO_PLATFORM, "no OpenCL platform found")                          \
    X(ERR_NO_DEVICE, "no usable device")                                    \
    X(ERR_UNSUPPORTED, "not supported by this target")                      \
    X(ERR_CANCELLED, "cancelled")                                           \
    X(ERR_INTERNAL, "internal error")

enum cld_status {
#define CLD__STATUS_ENUM(name, msg) CLD_##name,
    CLD_STATUS_MAP(CLD__STATUS_ENUM)
#undef CLD__STATUS_ENUM
    CLD_STATUS_COUNT
};

/* Static message for a status code; never NULL. */
const char *cld_status_str(enum cld_status st);

/* Record a detail line for the calling thread (printf-style); returns st so
 * that callers can write `return cld_error_set(CLD_ERR_IO, "...", ...)`. */
enum cld_status cld_error_set(enum cld_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepend context to the detail line: "ctx: old detail". */
void cld_error_prefix(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The calling thread's last detail line ("" if none). Valid until the next
 * cld_error_set on this thread. */
const char *cld_error_detail(void);

/* Clear the calling thread's detail line. */
void cld_error_clear(void);

#endif
