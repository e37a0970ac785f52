/* Queues by role, the ring of in-flight items and completion posts. */
#include "devq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

/* The default ring: at most this many items in flight per device, fewer
 * when a quarter of the device's memory cannot hold that many items. */
#define INFLIGHT_DEFAULT_MAX 4u

struct cld_devq {
    struct cld_clctx *ctx;
    bool copy;
    cl_command_queue queue[CLD_ROLES];
    pthread_mutex_t qlock[CLD_ROLES];
    pthread_mutex_t lock;       /* guards what follows */
    pthread_cond_t room;        /* a slot was given back */
    struct ring_wait *waiting;  /* threads waiting through a waiter */
    atomic_uint released;       /* slots given back, ever */
    struct cld_devq_slot *free; /* slots whose buffers wait for reuse */
    unsigned slots;             /* slots that exist (in use or free) */
    unsigned in_use, peak_in_use;
    unsigned live_bufs, peak_bufs;
    unsigned ring;              /* the last bound applied */
    char name[128];             /* the device's */
    /* Transfers enqueued since creation or reset (see cld_ring_stats). */
    unsigned long uploads, readbacks;
    unsigned long long upload_bytes, readback_bytes;
};

/* A thread in cld_devq_acquire waiting through w (on its stack). */
struct ring_wait {
    const struct cld_ring_waiter *w;
    struct cld_devq *q;
    unsigned gen;           /* q->released when it began to wait */
    struct ring_wait *next;
};

static enum cld_role role(const struct cld_devq *q, enum cld_role r);

/* --inflight, for every device of the process; 0: the default. */
static pthread_mutex_t setting_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned inflight_setting;

void cld_launch_set_inflight(unsigned n)
{
    pthread_mutex_lock(&setting_lock);
    inflight_setting = n;
    pthread_mutex_unlock(&setting_lock);
}

static unsigned ring_size(const struct cld_devq *q, size_t item_bytes)
{
    const struct cld_dev_facts *f = cld_clctx_facts(q->ctx);
    unsigned n;
    uint64_t fit;

    pthread_mutex_lock(&setting_lock);
    n = inflight_setting;
    pthread_mutex_unlock(&setting_lock);
    if (n)
        return n;
    fit = f->global_mem / 4 / (item_bytes ? item_bytes : 1);
    n = fit < INFLIGHT_DEFAULT_MAX ? (unsigned)fit : INFLIGHT_DEFAULT_MAX;
    return n ? n : 1;
}

enum cld_status cld_devq_create(struct cld_clctx *ctx, struct cld_devq **out)
{
    struct cld_devq *q;
    const char *mode = getenv("CLDISPATCH_TRANSFER");
    enum cld_status st = CLD_OK;

    *out = NULL;
    q = calloc(1, sizeof *q);
    if (!q)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    q->ctx = ctx;
    cld_clctx_name(ctx, q->name, sizeof q->name);
    q->copy = !cld_clctx_host_unified(ctx) ||
              (mode && strcmp(mode, "copy") == 0);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->room, NULL);
    atomic_init(&q->released, 0);
    for (unsigned r = 0; r < CLD_ROLES; r++)
        pthread_mutex_init(&q->qlock[r], NULL);
    for (unsigned r = 0; r < CLD_ROLES && st == CLD_OK; r++) {
        if (role(q, (enum cld_role)r) == r)
            st = cld_clw_queue(ctx, &q->queue[r]);
    }
    if (st != CLD_OK) {
        cld_devq_destroy(q);
        return st;
    }
    *out = q;
    return CLD_OK;
}

/* Unmap and release a staging buffer. */
static void stage_free(struct cld_devq *q, cl_mem m, void *p)
{
    if (!m)
        return;
    if (p) {
        cl_command_queue uq = cld_devq_lock(q, CLD_ROLE_UPLOAD);
        cl_event ev = NULL;

        if (cld_clw_unmap_async(uq, m, p, 0, NULL, &ev) == CLD_OK)
            cld_clw_flush(uq);
        cld_devq_unlock(q, CLD_ROLE_UPLOAD);
        if (ev)
            cld_clw_wait(1, &ev);
        cld_clw_release_event(ev);
    }
    cld_devq_drop(q, m);
}

/* Release a slot's buffers (no item uses them any more). */
static void slot_free(struct cld_devq *q, struct cld_devq_slot *s)
{
    for (unsigned i = 0; i < CLD_WORK_MAX_BUFS; i++) {
        stage_free(q, s->stage[i], s->stage_ptr[i]);
        cld_devq_drop(q, s->dev[i]);
    }
    free(s);
}

void cld_devq_destroy(struct cld_devq *q)
{
    if (!q)
        return;
    while (q->free) {
        struct cld_devq_slot *s = q->free;

        q->free = s->next;
        slot_free(q, s);
    }
    for (unsigned r = 0; r < CLD_ROLES; r++) {
        if (q->queue[r]) {
            clFinish(q->queue[r]);
            clReleaseCommandQueue(q->queue[r]);
        }
        pthread_mutex_destroy(&q->qlock[r]);
    }
    pthread_cond_destroy(&q->room);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

bool cld_devq_copy(const struct cld_devq *q)
{
    return q->copy;
}

/* On the zero-copy path a readback is a map of memory the kernel wrote
 * in place, not a transfer: it goes on the compute queue, in order after
 * the kernel, without a cross-queue event (which cost PoCL's pthread
 * device about a millisecond per item in `bench kernels`). */
static enum cld_role role(const struct cld_devq *q, enum cld_role r)
{
    return !q->copy && r == CLD_ROLE_DOWNLOAD ? CLD_ROLE_COMPUTE : r;
}

enum cld_role cld_devq_role(const struct cld_devq *q, enum cld_role r)
{
    return role(q, r);
}

const char *cld_devq_name(const struct cld_devq *q)
{
    return q->name;
}

cl_command_queue cld_devq_lock(struct cld_devq *q, enum cld_role r)
{
    pthread_mutex_lock(&q->qlock[role(q, r)]);
    return q->queue[role(q, r)];
}

void cld_devq_unlock(struct cld_devq *q, enum cld_role r)
{
    pthread_mutex_unlock(&q->qlock[role(q, r)]);
}

/* A waiter's test, which takes no lock (it runs under the waiter's own):
 * was a slot given back since it began to wait? */
static bool has_room(void *arg)
{
    const struct ring_wait *rw = arg;

    return atomic_load(&rw->q->released) != rw->gen;
}

struct cld_devq_slot *cld_devq_acquire(struct cld_devq *q, size_t item_bytes,
                                       const struct cld_ring_waiter *w)
{
    unsigned ring = ring_size(q, item_bytes);
    struct cld_devq_slot *s = NULL;
    struct ring_wait me = {.w = w, .q = q};

    pthread_mutex_lock(&q->lock);
    q->ring = ring;
    while (q->in_use >= ring) {
        struct ring_wait **pp;

        if (!w) {
            pthread_cond_wait(&q->room, &q->lock);
            continue;
        }
        /* The slot comes back when another item is finished, which may
         * be this thread's to do; cld_devq_release wakes it. */
        me.gen = atomic_load(&q->released);
        me.next = q->waiting;
        q->waiting = &me;
        pthread_mutex_unlock(&q->lock);
        w->wait(w->arg, has_room, &me);
        pthread_mutex_lock(&q->lock);
        for (pp = &q->waiting; *pp != &me; pp = &(*pp)->next)
            ;
        *pp = me.next;
    }
    if (q->free) {
        s = q->free;
        q->free = s->next;
    } else {
        s = calloc(1, sizeof *s);
        if (s)
            q->slots++;
    }
    if (s) {
        q->in_use++;
        if (q->in_use > q->peak_in_use)
            q->peak_in_use = q->in_use;
    } else {
        cld_error_set(CLD_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_unlock(&q->lock);
    return s;
}

void cld_devq_release(struct cld_devq *q, struct cld_devq_slot *s)
{
    bool drop;

    if (!s)
        return;
    pthread_mutex_lock(&q->lock);
    q->in_use--;
    atomic_fetch_add(&q->released, 1);
    /* Wake each waiter, each waking once (the workers of one executor
     * share theirs). Under q->lock, so that no waiter can leave and take
     * its waker with it meanwhile: a wake must not take q->lock. */
    for (struct ring_wait *rw = q->waiting; rw; rw = rw->next) {
        const struct ring_wait *seen = q->waiting;

        while (seen != rw && (seen->w->wake != rw->w->wake ||
                              seen->w->arg != rw->w->arg))
            seen = seen->next;
        if (seen == rw)
            rw->w->wake(rw->w->arg);
    }
    /* Keep no more slots (and their buffers) than the ring allows now. */
    drop = q->slots > q->ring;
    if (drop) {
        q->slots--;
    } else {
        s->next = q->free;
        q->free = s;
    }
    pthread_cond_signal(&q->room);
    pthread_mutex_unlock(&q->lock);
    if (drop)
        slot_free(q, s);
}

static void count_buffer(struct cld_devq *q, int delta)
{
    pthread_mutex_lock(&q->lock);
    q->live_bufs += (unsigned)delta;
    if (q->live_bufs > q->peak_bufs)
        q->peak_bufs = q->live_bufs;
    pthread_mutex_unlock(&q->lock);
}

void cld_devq_count(struct cld_devq *q, enum cld_role r, size_t bytes)
{
    pthread_mutex_lock(&q->lock);
    if (r == CLD_ROLE_UPLOAD) {
        q->uploads++;
        q->upload_bytes += bytes;
    } else {
        q->readbacks++;
        q->readback_bytes += bytes;
    }
    pthread_mutex_unlock(&q->lock);
}

enum cld_status cld_devq_wrap(struct cld_devq *q, cl_mem_flags fl,
                              size_t size, void *host, cl_mem *out)
{
    enum cld_status st;

    st = cld_clw_buffer(cld_clctx_context(q->ctx), fl, size, host, out);
    if (st == CLD_OK)
        count_buffer(q, 1);
    return st;
}

void cld_devq_drop(struct cld_devq *q, cl_mem m)
{
    if (!m)
        return;
    cld_clw_release_mem(m);
    count_buffer(q, -1);
}

enum cld_status cld_devq_dev_buffer(struct cld_devq *q,
                                    struct cld_devq_slot *s, unsigned i,
                                    cl_mem_flags fl, size_t size,
                                    cl_mem *out)
{
    enum cld_status st;

    if (s->dev[i] && s->dev_size[i] >= size && s->dev_flags[i] == fl) {
        *out = s->dev[i];
        return CLD_OK;
    }
    cld_devq_drop(q, s->dev[i]);
    s->dev[i] = NULL;
    s->dev_size[i] = 0;
    st = cld_devq_wrap(q, fl, size, NULL, &s->dev[i]);
    if (st == CLD_OK) {
        s->dev_size[i] = size;
        s->dev_flags[i] = (unsigned)fl;
    }
    *out = s->dev[i];
    return st;
}

enum cld_status cld_devq_staging(struct cld_devq *q, struct cld_devq_slot *s,
                                 unsigned i, size_t size, void **out)
{
    cl_command_queue uq;
    cl_event ev = NULL;
    cl_mem m = NULL;
    void *p = NULL;
    enum cld_status st;

    *out = NULL;
    if (s->stage[i] && s->stage_size[i] >= size) {
        *out = s->stage_ptr[i];
        return CLD_OK;
    }
    /* Too small for this item: make a larger one. */
    stage_free(q, s->stage[i], s->stage_ptr[i]);
    s->stage[i] = NULL;
    s->stage_ptr[i] = NULL;
    s->stage_size[i] = 0;
    st = cld_devq_wrap(q, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, size,
                       NULL, &m);
    if (st != CLD_OK)
        return st;
    uq = cld_devq_lock(q, CLD_ROLE_UPLOAD);
    st = cld_clw_map_async(uq, m, CL_MAP_READ | CL_MAP_WRITE, 0, size, 0,
                           NULL, &ev, &p);
    if (st == CLD_OK)
        st = cld_clw_flush(uq);
    cld_devq_unlock(q, CLD_ROLE_UPLOAD);
    if (st == CLD_OK)
        st = cld_clw_wait(1, &ev);
    else if (ev)
        cld_clw_wait(1, &ev);
    cld_clw_release_event(ev);
    if (st != CLD_OK) {
        cld_devq_drop(q, m);
        return st;
    }
    s->stage[i] = m;
    s->stage_ptr[i] = p;
    s->stage_size[i] = size;
    *out = p;
    return CLD_OK;
}

struct post {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    cl_int status;
};

/* Runs on a driver thread or at once on the enqueuing thread: post the
 * completion, nothing else. */
static void CL_CALLBACK on_complete(cl_event ev, cl_int status, void *user)
{
    struct post *p = user;

    (void)ev;
    pthread_mutex_lock(&p->lock);
    p->done = true;
    p->status = status;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

enum cld_status cld_devq_await(cl_event ev, const char *what)
{
    struct post p;
    enum cld_status st;

    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    st = cld_clw_on_complete(ev, on_complete, &p);
    if (st == CLD_OK) {
        pthread_mutex_lock(&p.lock);
        while (!p.done)
            pthread_cond_wait(&p.cond, &p.lock);
        pthread_mutex_unlock(&p.lock);
        if (p.status < 0)
            st = cld_error_set(CLD_ERR_CL, "%s: %s", what,
                               cld_cl_errname(p.status));
    }
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
    return st;
}

void cld_devq_stats(struct cld_devq *q, struct cld_ring_stats *out)
{
    pthread_mutex_lock(&q->lock);
    out->ring = q->ring;
    out->in_use = q->in_use;
    out->peak_in_use = q->peak_in_use;
    out->live_bufs = q->live_bufs;
    out->peak_bufs = q->peak_bufs;
    out->copy = q->copy;
    out->uploads = q->uploads;
    out->readbacks = q->readbacks;
    out->upload_bytes = q->upload_bytes;
    out->readback_bytes = q->readback_bytes;
    pthread_mutex_unlock(&q->lock);
}

void cld_devq_stats_reset(struct cld_devq *q)
{
    pthread_mutex_lock(&q->lock);
    q->peak_in_use = q->in_use;
    q->peak_bufs = q->live_bufs;
    q->uploads = q->readbacks = 0;
    q->upload_bytes = q->readback_bytes = 0;
    pthread_mutex_unlock(&q->lock);
}
