/* Building device-work descriptions (work.h). Plain C: no OpenCL. */
#include "work.h"

#include <string.h>

#include "image.h"

void cld_work_init(struct cld_work *w, const char *family,
                   const char *options)
{
    memset(w, 0, sizeof *w);
    w->family = family;
    w->options = options;
    w->fallback = -1;
}

void cld_work_free(struct cld_work *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->nowned; i++)
        cld_buffer_free(w->owned[i]);
    w->nowned = 0;
}

void *cld_work_alloc(struct cld_work *w, size_t size)
{
    void *p;

    if (w->nowned == CLD_WORK_MAX_OWNED) {
        w->overflow = true;
        cld_error_set(CLD_ERR_INTERNAL, "%s: more than %d host blocks",
                      w->family, CLD_WORK_MAX_OWNED);
        return NULL;
    }
    p = cld_buffer_alloc(size);
    if (!p) {
        cld_error_set(CLD_ERR_NOMEM, "%s: no memory for %zu bytes",
                      w->family, size);
        return NULL;
    }
    w->owned[w->nowned++] = p;
    return p;
}

enum cld_status cld_work_own(struct cld_work *w, void *block)
{
    if (w->nowned == CLD_WORK_MAX_OWNED) {
        w->overflow = true;
        cld_buffer_free(block);
        return cld_error_set(CLD_ERR_INTERNAL, "%s: more than %d host "
                             "blocks", w->family, CLD_WORK_MAX_OWNED);
    }
    w->owned[w->nowned++] = block;
    return CLD_OK;
}

unsigned cld_work_buffer(struct cld_work *w, void *host, size_t size,
                         unsigned flags)
{
    if (w->nbufs == CLD_WORK_MAX_BUFS) {
        w->overflow = true;
        return CLD_WORK_MAX_BUFS;
    }
    w->bufs[w->nbufs] = (struct cld_work_buf){host, size, flags};
    return w->nbufs++;
}

struct cld_work_launch *cld_work_launch(struct cld_work *w,
                                        const char *kernel, unsigned group,
                                        unsigned dims, size_t g0, size_t g1,
                                        size_t l0, size_t l1)
{
    struct cld_work_launch *l;

    if (w->nlaunches == CLD_WORK_MAX_LAUNCHES) {
        w->overflow = true;
        l = &w->spill;
    } else {
        l = &w->launches[w->nlaunches++];
    }
    memset(l, 0, sizeof *l);
    l->kernel = kernel;
    l->group = group;
    l->dims = dims;
    l->global[0] = g0;
    l->global[1] = dims > 1 ? g1 : 1;
    l->global[2] = 1;
    l->local[0] = l0;
    l->local[1] = dims > 1 ? l1 : (l0 ? 1 : 0);
    l->local[2] = l0 ? 1 : 0;
    return l;
}

static struct cld_work_arg *next_arg(struct cld_work_launch *l)
{
    /* Past the table nargs still counts, for cld_work_check to see. */
    if (l->nargs++ >= CLD_WORK_MAX_ARGS)
        return NULL;
    return &l->args[l->nargs - 1];
}

void cld_arg_buf(struct cld_work_launch *l, unsigned buf)
{
    struct cld_work_arg *a = next_arg(l);

    if (a)
        *a = (struct cld_work_arg){.kind = CLD_ARG_BUF, .v.buf = buf};
}

void cld_arg_i32(struct cld_work_launch *l, int32_t v)
{
    struct cld_work_arg *a = next_arg(l);

    if (a)
        *a = (struct cld_work_arg){.kind = CLD_ARG_I32, .v.i32 = v};
}

void cld_arg_u32(struct cld_work_launch *l, uint32_t v)
{
    struct cld_work_arg *a = next_arg(l);

    if (a)
        *a = (struct cld_work_arg){.kind = CLD_ARG_U32, .v.u32 = v};
}

void cld_arg_f32(struct cld_work_launch *l, float v)
{
    struct cld_work_arg *a = next_arg(l);

    if (a)
        *a = (struct cld_work_arg){.kind = CLD_ARG_F32, .v.f32 = v};
}

void cld_arg_local(struct cld_work_launch *l, size_t bytes)
{
    struct cld_work_arg *a = next_arg(l);

    if (a)
        *a = (struct cld_work_arg){.kind = CLD_ARG_LOCAL, .v.bytes = bytes};
}

void cld_arg_local_per_item(struct cld_work_launch *l, size_t bytes)
{
    struct cld_work_arg *a = next_arg(l);

    if (a)
        *a = (struct cld_work_arg){.kind = CLD_ARG_LOCAL_PER_ITEM,
                                   .v.bytes = bytes};
}

enum cld_status cld_work_check(const struct cld_work *w)
{
    if (w->overflow)
        return cld_error_set(CLD_ERR_INTERNAL, "%s: the work description "
                             "overflows its tables", w->family);
    for (unsigned i = 0; i < w->nlaunches; i++) {
        const struct cld_work_launch *l = &w->launches[i];

        if (l->nargs > CLD_WORK_MAX_ARGS || l->dims < 1 || l->dims > 3)
            return cld_error_set(CLD_ERR_INTERNAL, "%s: launch of %s has "
                                 "%u arguments in %u dimensions", w->family,
                                 l->kernel, l->nargs, l->dims);
        for (unsigned a = 0; a < l->nargs; a++) {
            if (l->args[a].kind == CLD_ARG_BUF
                && l->args[a].v.buf >= w->nbufs)
                return cld_error_set(CLD_ERR_INTERNAL, "%s: argument %u of "
                                     "%s names buffer %u of %u", w->family,
                                     a, l->kernel, l->args[a].v.buf,
                                     w->nbufs);
        }
    }
    return CLD_OK;
}
