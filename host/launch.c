/* The one place where the jobs' device work meets OpenCL: a job's plan
 * (work.h) becomes buffers, kernel arguments and enqueues here, on the
 * device's queues by role (devq.h): uploads, kernels and readbacks of one
 * item are linked by events, and the item's thread waits for the
 * completion an event callback posts, holding no lock, so that other
 * items' transfers and kernels proceed meanwhile. */
#include "launch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "clock.h"
#include "devq.h"
#include "jobs.h"
#include "trace.h"

/* Commands of one item whose profiling times go to the timeline. */
#define MAX_NOTES (3 * CLD_WORK_MAX_BUFS + CLD_WORK_MAX_LAUNCHES + 4)

/* One item on its way through the device. */
struct run {
    struct cld_clctx *ctx;
    struct cld_devq *q;
    struct cld_devq_slot *slot;
    bool copy;
    struct cld_work *w;
    cl_mem mem[CLD_WORK_MAX_BUFS];   /* NULL: not used yet */
    bool own[CLD_WORK_MAX_BUFS];     /* mem[n] is the item's (zero-copy
                                        wrap of its host memory), not
                                        the ring slot's */
    cl_event up[CLD_WORK_MAX_BUFS];  /* uploads the next launch waits on */
    unsigned nup;
    cl_event last[CLD_ROLES];        /* the item's latest on each queue */
    struct note {
        cl_event ev;                 /* retained */
        enum cld_role role;
        const char *what;            /* static, or a kernel name of w */
        double host_s;               /* host clock just before enqueue */
    } notes[MAX_NOTES];
    unsigned nnotes;
    bool remap;                      /* zero-copy maps returned other
                                        memory: finish copies, unmaps */
    void *ptr[CLD_WORK_MAX_BUFS];    /* what the readbacks wrote to */
    bool want[CLD_WORK_MAX_BUFS];
};

/* Keep ev for the timeline: its times are read when the item is done. */
static void note(struct run *r, cl_event ev, enum cld_role role,
                 const char *what, double host_s)
{
    struct note *n;

    if (!ev || r->nnotes == MAX_NOTES || cld_clw_retain_event(ev) != CLD_OK)
        return;
    n = &r->notes[r->nnotes++];
    n->ev = ev;
    n->role = role;
    n->what = what;
    n->host_s = host_s;
}

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

/* Remember ev as the item's latest on role r's queue. */
static void set_last(struct run *r, enum cld_role role, cl_event ev)
{
    cld_clw_release_event(r->last[role]);
    r->last[role] = ev;
}

/* Create the buffers the launches of group g name that do not exist yet;
 * on the copy path fill their staging and enqueue their uploads. */
static enum cld_status make_buffers(struct run *r, unsigned g)
{
    const struct cld_work *w = r->w;
    bool pending[CLD_WORK_MAX_BUFS] = {false};
    unsigned npending = 0;
    cl_command_queue uq;
    enum cld_status st = CLD_OK;

    for (unsigned i = 0; i < w->nlaunches; i++) {
        const struct cld_work_launch *l = &w->launches[i];

        for (unsigned a = 0; a < l->nargs && l->group == g; a++) {
            unsigned n;
            const struct cld_work_buf *b;
            cl_mem_flags fl;
            void *host, *stage;

            if (l->args[a].kind != CLD_ARG_BUF)
                continue;
            n = l->args[a].v.buf;
            b = &w->bufs[n];
            if (r->mem[n])
                continue;
            fl = mem_flags(b, !r->copy, &host);
            if (!r->copy && host) {
                st = cld_devq_wrap(r->q, fl, b->size, host, &r->mem[n]);
                r->own[n] = st == CLD_OK;
            } else if (!r->copy) {
                /* Device-only (a chain's intermediate, a scratch buffer):
                 * the slot's, reused by the items that take the slot, so
                 * that no item pays first-touch page faults on fresh
                 * memory. As on the copy path, its contents are left
                 * from an earlier item. */
                st = cld_devq_dev_buffer(r->q, r->slot, n, fl, b->size,
                                         &r->mem[n]);
            } else {
                fl &= ~(cl_mem_flags)CL_MEM_COPY_HOST_PTR;
                st = cld_devq_dev_buffer(r->q, r->slot, n, fl, b->size,
                                         &r->mem[n]);
                if (st == CLD_OK && b->host && (b->flags & CLD_WBUF_UPLOAD)) {
                    st = cld_devq_staging(r->q, r->slot, n, b->size, &stage);
                    if (st == CLD_OK) {
                        memcpy(stage, b->host, b->size);
                        pending[n] = true;
                        npending++;
                    }
                }
            }
            if (st != CLD_OK)
                return st;
        }
    }
    if (npending == 0)
        return CLD_OK;
    uq = cld_devq_lock(r->q, CLD_ROLE_UPLOAD);
    for (unsigned n = 0; n < w->nbufs && st == CLD_OK; n++) {
        cl_event ev = NULL;
        double h = cld_now_s();

        if (!pending[n])
            continue;
        st = cld_clw_write(uq, r->mem[n], false, 0, w->bufs[n].size,
                           r->slot->stage_ptr[n], 0, NULL, &ev);
        if (st == CLD_OK) {
            r->up[r->nup++] = ev;
            note(r, ev, CLD_ROLE_UPLOAD, "upload", h);
            cld_devq_count(r->q, CLD_ROLE_UPLOAD, w->bufs[n].size);
        }
    }
    if (st == CLD_OK)
        st = cld_clw_flush(uq);
    cld_devq_unlock(r->q, CLD_ROLE_UPLOAD);
    return st;
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

/* A kernel for launch l with its arguments set, and its sizes. prog is
 * the work's program, used unless the launch names its own family. */
static enum cld_status prepare(struct run *r, cl_program prog,
                               const struct cld_work_launch *l, cl_kernel *k,
                               size_t global[3], size_t local[3],
                               bool *any_local)
{
    enum cld_status st;

    if (l->family &&
        (st = cld_clctx_program(r->ctx, l->family, l->options, &prog)) !=
            CLD_OK)
        return st;
    if ((st = cld_clw_kernel(prog, l->kernel, k)) != CLD_OK ||
        (st = sizes(r->ctx, *k, l, global, local, any_local)) != CLD_OK ||
        (st = set_args(*k, l, r->mem, local)) != CLD_OK)
        return st;
    return CLD_OK;
}

/* Enqueue launch group g on the compute queue after the uploads (and, in
 * order, after the item's earlier groups). */
static enum cld_status launch_group(struct run *r, cl_program prog,
                                    unsigned g)
{
    const struct cld_work *w = r->w;
    cl_kernel k[CLD_WORK_MAX_LAUNCHES] = {NULL};
    size_t global[CLD_WORK_MAX_LAUNCHES][3], local[CLD_WORK_MAX_LAUNCHES][3];
    bool any_local[CLD_WORK_MAX_LAUNCHES] = {false};
    cl_command_queue cq;
    enum cld_status st;

    if ((st = make_buffers(r, g)) != CLD_OK)
        return st;
    for (unsigned i = 0; i < w->nlaunches && st == CLD_OK; i++) {
        if (w->launches[i].group == g)
            st = prepare(r, prog, &w->launches[i], &k[i], global[i],
                         local[i], &any_local[i]);
    }
    if (st == CLD_OK) {
        cq = cld_devq_lock(r->q, CLD_ROLE_COMPUTE);
        for (unsigned i = 0; i < w->nlaunches && st == CLD_OK; i++) {
            cl_event ev = NULL;
            double h = cld_now_s();

            if (!k[i])
                continue;
            st = cld_clw_run(cq, k[i], w->launches[i].dims, global[i],
                             any_local[i] ? local[i] : NULL, r->nup,
                             r->nup ? r->up : NULL, &ev);
            if (st != CLD_OK)
                break;
            set_last(r, CLD_ROLE_COMPUTE, ev);
            note(r, ev, CLD_ROLE_COMPUTE, w->launches[i].kernel, h);
            /* Later launches follow in queue order. */
            while (r->nup > 0)
                cld_clw_release_event(r->up[--r->nup]);
        }
        if (st == CLD_OK)
            st = cld_clw_flush(cq);
        cld_devq_unlock(r->q, CLD_ROLE_COMPUTE);
    }
    for (unsigned i = 0; i < CLD_WORK_MAX_LAUNCHES; i++)
        cld_clw_release_kernel(k[i]);
    return st;
}

/* Enqueue the non-blocking readbacks of the buffers flagged `flag`
 * (copy path: into the slot's staging) or their maps (zero-copy) on the
 * download queue, after the item's kernels. fetch_done completes them
 * once r->last[CLD_ROLE_DOWNLOAD] has. */
static enum cld_status fetch_enqueue(struct run *r, unsigned flag)
{
    const struct cld_work *w = r->w;
    bool same = true;
    cl_event after = r->last[CLD_ROLE_COMPUTE];
    cl_command_queue dq;
    enum cld_status st = CLD_OK;

    r->remap = false;
    for (unsigned n = 0; n < w->nbufs && st == CLD_OK; n++) {
        r->ptr[n] = NULL;
        r->want[n] = (w->bufs[n].flags & flag) && r->mem[n] &&
                     w->bufs[n].host;
        if (r->want[n] && r->copy)
            st = cld_devq_staging(r->q, r->slot, n, w->bufs[n].size,
                                  &r->ptr[n]);
    }
    if (st != CLD_OK)
        return st;
    dq = cld_devq_lock(r->q, CLD_ROLE_DOWNLOAD);
    for (unsigned n = 0; n < w->nbufs && st == CLD_OK; n++) {
        cl_event ev = NULL;
        double h = cld_now_s();

        if (!r->want[n])
            continue;
        if (r->copy)
            st = cld_clw_read(dq, r->mem[n], false, 0, w->bufs[n].size,
                              r->ptr[n], after ? 1 : 0, after ? &after : NULL,
                              &ev);
        else
            st = cld_clw_map_async(dq, r->mem[n], CL_MAP_READ, 0,
                                   w->bufs[n].size, after ? 1 : 0,
                                   after ? &after : NULL, &ev, &r->ptr[n]);
        if (st == CLD_OK) {
            set_last(r, CLD_ROLE_DOWNLOAD, ev);
            note(r, ev, CLD_ROLE_DOWNLOAD, r->copy ? "readback" : "map", h);
            cld_devq_count(r->q, CLD_ROLE_DOWNLOAD, w->bufs[n].size);
            same = same && (r->copy || r->ptr[n] == w->bufs[n].host);
        }
    }
    /* Zero-copy maps of wrapped host memory return that memory: unmap in
     * the same group. */
    for (unsigned n = 0; n < w->nbufs && st == CLD_OK && !r->copy && same;
         n++) {
        cl_event ev = NULL;

        if (!r->want[n])
            continue;
        st = cld_clw_unmap_async(dq, r->mem[n], r->ptr[n], 0, NULL, &ev);
        if (st == CLD_OK)
            set_last(r, CLD_ROLE_DOWNLOAD, ev);
        r->ptr[n] = NULL;
    }
    if (st == CLD_OK)
        st = cld_clw_flush(dq);
    cld_devq_unlock(r->q, CLD_ROLE_DOWNLOAD);
    r->remap = st == CLD_OK && !r->copy && !same;
    return st;
}

/* After the readbacks of fetch_enqueue completed: copy staging (or maps
 * that returned other memory) to the buffers' host memory, and unmap
 * those maps, waiting for that. */
static enum cld_status fetch_done(struct run *r)
{
    const struct cld_work *w = r->w;
    cl_command_queue dq;
    enum cld_status st = CLD_OK;

    for (unsigned n = 0; n < w->nbufs; n++) {
        if (r->want[n] && r->ptr[n] && r->ptr[n] != w->bufs[n].host)
            memcpy(w->bufs[n].host, r->ptr[n], w->bufs[n].size);
    }
    if (!r->remap)
        return CLD_OK;
    r->remap = false;
    dq = cld_devq_lock(r->q, CLD_ROLE_DOWNLOAD);
    for (unsigned n = 0; n < w->nbufs && st == CLD_OK; n++) {
        cl_event ev = NULL;

        if (!r->want[n] || !r->ptr[n])
            continue;
        st = cld_clw_unmap_async(dq, r->mem[n], r->ptr[n], 0, NULL, &ev);
        if (st == CLD_OK)
            set_last(r, CLD_ROLE_DOWNLOAD, ev);
    }
    if (st == CLD_OK)
        st = cld_clw_flush(dq);
    cld_devq_unlock(r->q, CLD_ROLE_DOWNLOAD);
    if (st == CLD_OK)
        st = cld_devq_await(r->last[CLD_ROLE_DOWNLOAD], "unmap");
    return st;
}

/* Bring the buffers flagged `flag` to host memory, waiting for them (the
 * host step between launch groups). */
static enum cld_status fetch(struct run *r, unsigned flag)
{
    enum cld_status st = fetch_enqueue(r, flag);

    if (st == CLD_OK && r->last[CLD_ROLE_DOWNLOAD])
        st = cld_devq_await(r->last[CLD_ROLE_DOWNLOAD], "readback");
    if (st == CLD_OK)
        st = fetch_done(r);
    return st;
}

static size_t item_bytes(const struct cld_work *w)
{
    size_t n = 0;

    for (unsigned b = 0; b < w->nbufs; b++)
        n += w->bufs[b].size;
    return n;
}

/* Wait for everything of the item still on the device: host memory the
 * buffers wrap, and the slot's buffers, must outlive it. */
static void settle(struct run *r)
{
    cl_event ev[CLD_ROLES + CLD_WORK_MAX_BUFS];
    cl_uint n = 0;

    for (unsigned i = 0; i < CLD_ROLES; i++) {
        if (r->last[i])
            ev[n++] = r->last[i];
    }
    for (unsigned i = 0; i < r->nup; i++)
        ev[n++] = r->up[i];
    /* One at a time: a failed command makes clWaitForEvents return early
     * for the whole list. */
    for (cl_uint i = 0; i < n; i++)
        clWaitForEvents(1, &ev[i]);
}

/* The calling thread's wait while a ring is full, for launches that
 * bring none (see cld_launch_set_thread_wait). */
static _Thread_local const struct cld_ring_waiter *thread_wait;

void cld_launch_set_thread_wait(const struct cld_ring_waiter *w)
{
    thread_wait = w;
}

/* One item started on a device and not yet finished. */
struct cld_launch {
    struct run r;
    struct cld_launch_opts o;
    char item[256];
    pthread_mutex_t lock;   /* guards status */
    cl_int status;          /* the final command's, from the callback */
};

/* Runs on a driver thread, or at once on the thread that set it: note the
 * outcome and tell the owner, who must only post. */
static void CL_CALLBACK on_done(cl_event ev, cl_int status, void *user)
{
    struct cld_launch *l = user;
    void (*done)(void *) = l->o.done;
    void *arg = l->o.user;

    (void)ev;
    /* The fault switch's "command": the device reports the item's last
     * command failed, as a lost or exhausted device would. */
    if (status >= 0) {
        cl_int err = cld_clw_fault("command");

        if (err != CL_SUCCESS)
            status = err;
    }
    pthread_mutex_lock(&l->lock);
    l->status = status;
    pthread_mutex_unlock(&l->lock);
    done(arg);
}

/* Put the item's commands on the timeline, on lanes named after the
 * device and the queue: each command's device times, placed on the host
 * clock from the moment it was enqueued (its QUEUED time). */
static double trace_notes(struct run *r, const char *item)
{
    static const char *const lane[CLD_ROLES] = {"upload", "compute",
                                                "download"};
    struct cld_trace *t = cld_trace_current();
    char name[300];
    double busy = 0;

    for (unsigned i = 0; i < r->nnotes; i++) {
        struct note *n = &r->notes[i];
        cl_ulong q, b, e;
        enum cld_role role = cld_devq_role(r->q, n->role);

        if (cld_clw_event_times(n->ev, &q, &b, &e) == CLD_OK && b >= q &&
            e >= b) {
            busy += (double)(e - b) * 1e-9;
            if (!t)
                goto next;
            snprintf(name, sizeof name, "%s: %s", cld_devq_name(r->q),
                     lane[role]);
            cld_trace_span(t, cld_trace_lane(t, name), n->what, item,
                           n->host_s + (double)(b - q) * 1e-9,
                           n->host_s + (double)(e - q) * 1e-9);
        }
next:
        cld_clw_release_event(n->ev);
    }
    r->nnotes = 0;
    return busy;
}

/* Give back what the item holds on the device; waits first for anything
 * of it still queued when it failed (host memory the buffers wrap, and
 * the slot's buffers, must outlive it). */
static double end_run(struct run *r, bool failed, const char *item)
{
    double busy;

    if (failed)
        settle(r);
    busy = trace_notes(r, item);
    for (unsigned i = 0; i < CLD_ROLES; i++) {
        cld_clw_release_event(r->last[i]);
        r->last[i] = NULL;
    }
    while (r->nup > 0)
        cld_clw_release_event(r->up[--r->nup]);
    for (unsigned b = 0; b < r->w->nbufs; b++) {
        if (r->own[b])
            cld_devq_drop(r->q, r->mem[b]);
    }
    cld_devq_release(r->q, r->slot);
    return busy;
}

enum cld_status cld_launch_start(struct cld_clctx *ctx, struct cld_work *w,
                                 const struct cld_launch_opts *o,
                                 struct cld_launch **out)
{
    struct cld_launch *l;
    struct run *r;
    unsigned last = 0;
    cl_program prog;
    cl_event fin;
    enum cld_status st;

    *out = NULL;
    if ((st = cld_work_check(w)) != CLD_OK)
        return st;
    if (!(l = calloc(1, sizeof *l)))
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&l->lock, NULL);
    l->o = *o;
    snprintf(l->item, sizeof l->item, "%s", o->item ? o->item : "");
    r = &l->r;
    r->ctx = ctx;
    r->w = w;
    for (unsigned i = 0; i < w->nlaunches; i++)
        last = w->launches[i].group > last ? w->launches[i].group : last;
    if ((st = cld_clctx_program(ctx, w->family, w->options, &prog)) !=
            CLD_OK ||
        (st = cld_clctx_devq(ctx, &r->q)) != CLD_OK)
        goto fail;
    r->copy = cld_devq_copy(r->q);
    r->slot = cld_devq_acquire(r->q, item_bytes(w),
                               o->wait ? o->wait : thread_wait);
    if (!r->slot) {
        st = CLD_ERR_NOMEM;
        goto fail;
    }
    for (unsigned g = 0; g <= last && st == CLD_OK; g++) {
        st = launch_group(r, prog, g);
        if (st != CLD_OK || g == last || !w->step)
            continue;
        /* A host step between launch groups waits for its inputs. */
        if ((st = fetch(r, CLD_WBUF_STEP)) == CLD_OK)
            st = w->step(w, g);
    }
    if (st == CLD_OK)
        st = fetch_enqueue(r, CLD_WBUF_FETCH);
    fin = r->last[CLD_ROLE_DOWNLOAD] ? r->last[CLD_ROLE_DOWNLOAD]
                                     : r->last[CLD_ROLE_COMPUTE];
    if (st == CLD_OK && !fin)
        st = cld_error_set(CLD_ERR_INTERNAL, "%s: work with no launch",
                           w->family);
    if (st != CLD_OK) {
        end_run(r, true, l->item);
        goto fail;
    }
    /* The callback may run at once, and the item be finished by another
     * thread before this returns: l is the owner's from here on. */
    *out = l;
    st = cld_clw_on_complete(fin, on_done, l);
    if (st != CLD_OK) {
        *out = NULL;
        end_run(r, true, l->item);
        goto fail;
    }
    return CLD_OK;
fail:
    pthread_mutex_destroy(&l->lock);
    free(l);
    return st;
}

enum cld_status cld_launch_finish(struct cld_launch *l, double *device_s)
{
    struct run *r = &l->r;
    enum cld_status st = CLD_OK;
    cl_int status;
    double busy;

    pthread_mutex_lock(&l->lock);
    status = l->status;
    pthread_mutex_unlock(&l->lock);
    if (status < 0)
        st = cld_error_set(CLD_ERR_CL, "%s: %s",
                           r->last[CLD_ROLE_DOWNLOAD] ? "readback" : "kernel",
                           cld_cl_errname(status));
    if (st == CLD_OK)
        st = fetch_done(r);
    busy = end_run(r, st != CLD_OK, l->item);
    if (device_s)
        *device_s = busy;
    pthread_mutex_destroy(&l->lock);
    free(l);
    return st;
}

/* The synchronous run: start, wait for the posted completion, finish. */
struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void wake(void *arg)
{
    struct waiter *wt = arg;

    pthread_mutex_lock(&wt->lock);
    wt->done = true;
    pthread_cond_signal(&wt->cond);
    pthread_mutex_unlock(&wt->lock);
}

enum cld_status cld_launch_run(struct cld_clctx *ctx, struct cld_work *w)
{
    struct waiter wt = {.done = false};
    struct cld_launch_opts o = {.done = wake, .user = &wt};
    struct cld_launch *l;
    enum cld_status st;

    pthread_mutex_init(&wt.lock, NULL);
    pthread_cond_init(&wt.cond, NULL);
    st = cld_launch_start(ctx, w, &o, &l);
    if (st == CLD_OK) {
        pthread_mutex_lock(&wt.lock);
        while (!wt.done)
            pthread_cond_wait(&wt.cond, &wt.lock);
        pthread_mutex_unlock(&wt.lock);
        st = cld_launch_finish(l, NULL);
    }
    pthread_cond_destroy(&wt.cond);
    pthread_mutex_destroy(&wt.lock);
    return st;
}

const struct cld_dev_facts *cld_launch_facts(const struct cld_clctx *ctx)
{
    return cld_clctx_facts(ctx);
}

unsigned long cld_launch_builds(struct cld_clctx *ctx)
{
    struct cld_clctx_stats s;

    cld_clctx_get_stats(ctx, &s);
    return (unsigned long)(s.source_builds + s.binary_loads);
}

enum cld_status cld_launch_stats(struct cld_clctx *ctx, bool reset,
                                 struct cld_ring_stats *out)
{
    struct cld_devq *q;
    enum cld_status st;

    memset(out, 0, sizeof *out);
    if ((st = cld_clctx_devq(ctx, &q)) != CLD_OK)
        return st;
    cld_devq_stats(q, out);
    if (reset)
        cld_devq_stats_reset(q);
    return CLD_OK;
}

enum cld_status cld_job_run_variant(const struct cld_job *job,
                                    struct cld_clctx *ctx,
                                    const struct cld_params *p,
                                    const struct cld_data *in, int variant,
                                    struct cld_data *out)
{
    struct cld_work w;
    enum cld_status st;

    if (job->chain)
        return cld_chain_run(job->chain, ctx, in, out);
    memset(out, 0, sizeof *out);
    if (!ctx) {
        st = job->run_host(p, in, out);
        if (st != CLD_OK)
            cld_data_free(out);
        return st;
    }
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
