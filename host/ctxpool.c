/* The pool of device contexts (ctxpool.h). */
#include "ctxpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "clw.h"

struct slot {
    bool tried;             /* creation attempted: ctx or st says how */
    struct cld_clctx *ctx;
    enum cld_status st;
    char detail[512];       /* why creation failed, repeated to callers */
};

struct cld_ctxpool {
    pthread_mutex_t lock;   /* guards every slot */
    size_t n;
    struct slot slot[];
};

enum cld_status cld_ctxpool_create(size_t n, struct cld_ctxpool **out)
{
    struct cld_ctxpool *p = calloc(1, sizeof *p + n * sizeof p->slot[0]);

    *out = NULL;
    if (!p)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    p->n = n;
    *out = p;
    return CLD_OK;
}

void cld_ctxpool_destroy(struct cld_ctxpool *p)
{
    if (!p)
        return;
    for (size_t i = p->n; i-- > 0;)
        cld_clctx_destroy(p->slot[i].ctx);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

enum cld_status cld_ctxpool_get(struct cld_ctxpool *p, size_t i,
                                const struct cld_device_info *d,
                                struct cld_clctx **out)
{
    struct slot *e;
    enum cld_status st;

    *out = NULL;
    if (i >= p->n)
        return cld_error_set(CLD_ERR_INVALID, "no context slot %zu", i);
    e = &p->slot[i];
    pthread_mutex_lock(&p->lock);
    if (!e->tried) {
        e->tried = true;
        if (!d->device)
            e->st = cld_error_set(CLD_ERR_NO_DEVICE,
                                  "no handle (probed out of process)");
        else
            e->st = cld_clctx_create(d->device, &e->ctx);
        if (e->st != CLD_OK) {
            cld_error_prefix("device %d (%s)", d->index, d->name);
            snprintf(e->detail, sizeof e->detail, "%s", cld_error_detail());
        }
    }
    st = e->st;
    if (st == CLD_OK)
        *out = e->ctx;
    else
        cld_error_set(st, "%s", e->detail);
    pthread_mutex_unlock(&p->lock);
    return st;
}

struct cld_clctx *cld_ctxpool_peek(struct cld_ctxpool *p, size_t i)
{
    struct cld_clctx *c;

    if (i >= p->n)
        return NULL;
    pthread_mutex_lock(&p->lock);
    c = p->slot[i].ctx;
    pthread_mutex_unlock(&p->lock);
    return c;
}

bool cld_ctxpool_programs(struct cld_ctxpool *p, size_t i,
                          unsigned *source_builds, unsigned *binary_loads)
{
    struct cld_clctx *c = cld_ctxpool_peek(p, i);
    struct cld_clctx_stats s;

    *source_builds = *binary_loads = 0;
    if (!c)
        return false;
    cld_clctx_get_stats(c, &s);
    *source_builds = s.source_builds;
    *binary_loads = s.binary_loads;
    return true;
}

bool cld_ctxpool_load_seconds(struct cld_ctxpool *p, double *seconds)
{
    bool any = false;

    *seconds = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        struct cld_clctx_stats s;

        if (!p->slot[i].ctx)
            continue;
        cld_clctx_get_stats(p->slot[i].ctx, &s);
        /* A compile from source is a one-off (its result is cached);
         * only contexts that loaded every program they needed count. */
        if (s.binary_loads == 0 || s.source_builds != 0)
            continue;
        if (s.build_seconds / s.binary_loads > *seconds)
            *seconds = s.build_seconds / s.binary_loads;
        any = true;
    }
    pthread_mutex_unlock(&p->lock);
    return any;
}
