/* A pool of device contexts, one slot per target: each context is created
 * on first use (thread-safe), shared afterwards and destroyed with the
 * pool. A failed creation is remembered, so that later requests fail at
 * once with the same detail instead of retrying a broken device. The
 * contexts stay opaque here: this header needs no OpenCL types. */
#ifndef CLD_CTXPOOL_H
#define CLD_CTXPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "device.h"
#include "error.h"

struct cld_clctx;
struct cld_ctxpool;

/* A pool of n empty slots. The caller destroys *out with
 * cld_ctxpool_destroy. */
enum cld_status cld_ctxpool_create(size_t n, struct cld_ctxpool **out);

/* Destroy the contexts, last slot first, then the pool; NULL is fine. */
void cld_ctxpool_destroy(struct cld_ctxpool *p);

/* The context of slot i for device d, created from d's handle on the first
 * call (d must come from in-process discovery; a record probed in a child
 * has no handle and fails with CLD_ERR_NO_DEVICE). Errors name the device
 * ("device 1 (NAME): ..."). The pool owns *out. */
enum cld_status cld_ctxpool_get(struct cld_ctxpool *p, size_t i,
                                const struct cld_device_info *d,
                                struct cld_clctx **out);

/* The context of slot i if it was created already, else NULL. */
struct cld_clctx *cld_ctxpool_peek(struct cld_ctxpool *p, size_t i);

/* Programs the context of slot i compiled from source and loaded from the
 * binary cache so far: false, with zeros, when it has no context. */
bool cld_ctxpool_programs(struct cld_ctxpool *p, size_t i,
                          unsigned *source_builds, unsigned *binary_loads);

/* The longest time any context took to load one program from the binary
 * cache, counting only contexts that loaded every program they needed
 * (a compile from source is a one-off); false when none did. */
bool cld_ctxpool_load_seconds(struct cld_ctxpool *p, double *seconds);

#endif
