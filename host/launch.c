/* The one place where the jobs' device work meets OpenCL: a job's plan
 * (work.h) becomes buffers, kernel arguments and enqueues here. For now
 * each item runs synchronously under the device's submission lock, as
 * before the plans existed; the executor with per-role queues and events
 * replaces this loop, not the plans. */
#include "launch.h"

#include <string.h>

#include "jobs.h"

/* The cl_mem flags of buffer b on this device (see CLD_WBUF_*), and the
 * host pointer to pass. */
static cl_mem_flags mem_flags(const struct cld_work_buf *b, bool unified,
                              void **host)
{
    cl_mem_flags fl;

    if ((b->flags & CLD_WBUF_READ) && (b->flags & CLD_WBUF_WRITE))
        fl = CL_MEM_READ_WRITE;
    else if (b->flags & CLD_WBUF_WRITE)
        fl = CL_MEM_WRITE_ONLY;
    else
        fl = CL_MEM_READ_ONLY;
    *host = NULL;
    if (b->host && unified) {
        fl |= CL_MEM_USE_HOST_PTR;
        *host = b->host;
    } else if (b->host && (b->flags & CLD_WBUF_UPLOAD)) {
        fl |= CL_MEM_COPY_HOST_PTR;
        *host = b->host;
    }
    return fl;
}

/* Bring buffer b's contents to its host memory (blocking). */
static enum cld_status fetch(struct cld_clctx *ctx, cl_mem mem,
                             const struct cld_work_buf *b)
{
    cl_command_queue q = cld_clctx_queue(ctx);
    void *p = NULL;
    enum cld_status st;

    if (!cld_clctx_host_unified(ctx))
        return cld_clw_read(q, mem, true, 0, b->size, b->host, 0, NULL,
                            NULL);
    /* Mapping a USE_HOST_PTR buffer synchronises the host copy in place. */
    st = cld_clw_map(q, mem, CL_MAP_READ, 0, b->size, &p);
    if (st != CLD_OK)
        return st;
    if (p != b->host)
        memcpy(b->host, p, b->size);
    st = cld_clw_unmap(q, mem, p);
    if (st == CLD_OK)
        st = cld_clw_finish(q);
    return st;
}

/* The work-group and global sizes of launch l for kernel k. */
static enum cld_status sizes(struct cld_clctx *ctx, cl_kernel k,
                             const struct cld_work_launch *l,
                             size_t global[3], size_t local[3],
                             bool *any_local)
{
    size_t want = 1, rest = 1, group;
    enum cld_status st;

    *any_local = l->local[0] != 0;
    for (unsigned d = 0; d < 3; d++) {
        global[d] = l->global[d];
        local[d] = l->local[d] ? l->local[d] : 1;
        want *= local[d];
        if (d > 0)
            rest *= local[d];
    }
    if (!*any_local)
        return CLD_OK;
    if (want > 1) {
        if ((st = cld_clw_kernel_group_size(ctx, k, &group)) != CLD_OK)
            return st;
        if (want > group) {
            if (l->flags & CLD_LAUNCH_EXACT_LOCAL)
                return cld_error_set(CLD_ERR_UNSUPPORTED, "%s needs "
                                     "work-groups of %zu, the device "
                                     "allows %zu", l->kernel, want, group);
            local[0] = group / rest ? group / rest : 1;
        }
    }
    for (unsigned d = 0; d < 3; d++) {
        if (l->flags & CLD_LAUNCH_GROUPS)
            global[d] *= local[d];
        else
            global[d] = cld_round_up(global[d] ? global[d] : 1, local[d]);
    }
    return CLD_OK;
}

/* Create the buffers launch l names that do not exist yet. */
static enum cld_status make_buffers(struct cld_clctx *ctx,
                                    const struct cld_work *w,
                                    const struct cld_work_launch *l,
                                    cl_mem *mem)
{
    bool unified = cld_clctx_host_unified(ctx);

    for (unsigned a = 0; a < l->nargs; a++) {
        const struct cld_work_buf *b;
        cl_mem_flags fl;
        void *host;
        enum cld_status st;

        if (l->args[a].kind != CLD_ARG_BUF || mem[l->args[a].v.buf])
            continue;
        b = &w->bufs[l->args[a].v.buf];
        fl = mem_flags(b, unified, &host);
        st = cld_clw_buffer(cld_clctx_context(ctx), fl, b->size, host,
                            &mem[l->args[a].v.buf]);
        if (st != CLD_OK)
            return st;
    }
    return CLD_OK;
}

/* Set the arguments of l on k. */
static enum cld_status set_args(cl_kernel k, const struct cld_work_launch *l,
                                const cl_mem *mem, const size_t local[3])
{
    size_t items = local[0] * local[1] * local[2];
    enum cld_status st = CLD_OK;

    for (unsigned a = 0; a < l->nargs && st == CLD_OK; a++) {
        const struct cld_work_arg *g = &l->args[a];
        cl_uint i = a;

        switch (g->kind) {
        case CLD_ARG_BUF:
            st = cld_clw_arg(k, i, sizeof(cl_mem), &mem[g->v.buf]);
            break;
        case CLD_ARG_I32:
            st = cld_clw_arg(k, i, sizeof(cl_int), &g->v.i32);
            break;
        case CLD_ARG_U32:
            st = cld_clw_arg(k, i, sizeof(cl_uint), &g->v.u32);
            break;
        case CLD_ARG_F32:
            st = cld_clw_arg(k, i, sizeof(cl_float), &g->v.f32);
            break;
        case CLD_ARG_LOCAL:
            st = cld_clw_arg(k, i, g->v.bytes, NULL);
            break;
        case CLD_ARG_LOCAL_PER_ITEM:
            st = cld_clw_arg(k, i, g->v.bytes * items, NULL);
            break;
        }
    }
    return st;
}

static enum cld_status launch_one(struct cld_clctx *ctx, cl_program prog,
                                  const struct cld_work *w,
                                  const struct cld_work_launch *l,
                                  cl_mem *mem, bool *enqueued)
{
    size_t global[3], local[3];
    bool any_local;
    cl_kernel k = NULL;
    enum cld_status st;

    if ((st = cld_clw_kernel(prog, l->kernel, &k)) != CLD_OK ||
        (st = sizes(ctx, k, l, global, local, &any_local)) != CLD_OK ||
        (st = make_buffers(ctx, w, l, mem)) != CLD_OK ||
        (st = set_args(k, l, mem, local)) != CLD_OK)
        goto out;
    st = cld_clw_run(cld_clctx_queue(ctx), k, l->dims, global,
                     any_local ? local : NULL, 0, NULL, NULL);
    *enqueued = *enqueued || st == CLD_OK;
out:
    cld_clw_release_kernel(k);
    return st;
}

enum cld_status cld_launch_run(struct cld_clctx *ctx, struct cld_work *w)
{
    cl_mem mem[CLD_WORK_MAX_BUFS] = {NULL};
    unsigned last = 0;
    bool enqueued = false;
    cl_program prog;
    enum cld_status st, fs;

    if ((st = cld_work_check(w)) != CLD_OK)
        return st;
    for (unsigned i = 0; i < w->nlaunches; i++)
        last = w->launches[i].group > last ? w->launches[i].group : last;
    if ((st = cld_clctx_program(ctx, w->family, w->options, &prog)) !=
        CLD_OK)
        return st;
    for (unsigned g = 0; g <= last && st == CLD_OK; g++) {
        for (unsigned i = 0; i < w->nlaunches && st == CLD_OK; i++) {
            if (w->launches[i].group == g)
                st = launch_one(ctx, prog, w, &w->launches[i], mem,
                                &enqueued);
        }
        if (st != CLD_OK || g == last || !w->step)
            continue;
        for (unsigned b = 0; b < w->nbufs && st == CLD_OK; b++) {
            if ((w->bufs[b].flags & CLD_WBUF_STEP) && mem[b])
                st = fetch(ctx, mem[b], &w->bufs[b]);
        }
        if (st == CLD_OK)
            st = w->step(w, g);
    }
    for (unsigned b = 0; b < w->nbufs && st == CLD_OK; b++) {
        if ((w->bufs[b].flags & CLD_WBUF_FETCH) && mem[b])
            st = fetch(ctx, mem[b], &w->bufs[b]);
    }
    /* Host memory the buffers wrap must outlive every kernel that uses
     * it: after a failure, wait for what was enqueued before returning. */
    if (enqueued) {
        fs = cld_clw_finish(cld_clctx_queue(ctx));
        if (st == CLD_OK)
            st = fs;
    }
    for (unsigned b = w->nbufs; b-- > 0;)
        cld_clw_release_mem(mem[b]);
    return st;
}

enum cld_status cld_job_run_variant(const struct cld_job *job,
                                    struct cld_clctx *ctx,
                                    const struct cld_params *p,
                                    const struct cld_data *in, int variant,
                                    struct cld_data *out)
{
    struct cld_work w;
    enum cld_status st;

    memset(out, 0, sizeof *out);
    if (!ctx) {
        st = job->run_host(p, in, out);
        if (st != CLD_OK)
            cld_data_free(out);
        return st;
    }
    cld_clctx_lock(ctx);
    for (;;) {
        cld_work_init(&w, job->family, NULL);
        st = job->plan(p, in, cld_clctx_facts(ctx), variant, out, &w);
        if (st == CLD_OK)
            st = cld_launch_run(ctx, &w);
        cld_work_free(&w);
        if (st != CLD_ERR_UNSUPPORTED || variant >= 0 || w.fallback < 0)
            break;
        /* The automatic choice could not run here: its fallback can. */
        cld_data_free(out);
        variant = w.fallback;
    }
    cld_clctx_unlock(ctx);
    if (st != CLD_OK)
        cld_data_free(out);
    return st;
}

enum cld_status cld_job_run(const struct cld_job *job, struct cld_clctx *ctx,
                            const struct cld_params *p,
                            const struct cld_data *in, struct cld_data *out)
{
    return cld_job_run_variant(job, ctx, p, in, CLD_VARIANT_AUTO, out);
}
