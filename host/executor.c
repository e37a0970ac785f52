/* Worker pool with a bounded queue and reference-counted futures. */
#include "executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cld_future {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    enum cld_status status;
    char *detail;
    cld_task_fn fn;
    void *arg;
    cld_done_fn on_done;
    void *user;
    struct cld_future *next; /* queue link */
    bool deferred;           /* completed by cld_future_complete */
    struct cld_executor *ex;
};

/* A posted continuation. */
struct post {
    enum cld_status (*fn)(void *arg);
    void *arg;
    struct post *next;
};

struct cld_executor {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* queue gained a task or shutdown */
    pthread_cond_t space; /* queue has room */
    pthread_cond_t idle;  /* nothing queued or running */
    struct cld_future *head, *tail;
    struct post *phead, *ptail;  /* posted: run before head */
    unsigned queued, running, max_pending, nthreads;
    unsigned deferred, posted;   /* pending futures; posted tasks queued
                                    or running */
    unsigned wakes;              /* cld_executor_wake calls */
    bool stopping;
    pthread_t *threads;
};

static void future_unref(struct cld_future *f);

/* The executor and task of the calling worker thread. */
static _Thread_local struct cld_executor *cur_ex;
static _Thread_local struct cld_future *cur_task;
static _Thread_local int cur_index = -1;

struct start {
    struct cld_executor *ex;
    int index;
};

static bool idle(const struct cld_executor *ex)
{
    return ex->queued == 0 && ex->running == 0 && ex->deferred == 0 &&
           ex->posted == 0;
}

/* Take the first posted task, or NULL. Caller holds ex->lock. */
static struct post *take_post(struct cld_executor *ex)
{
    struct post *p = ex->phead;

    if (p) {
        ex->phead = p->next;
        if (!ex->phead)
            ex->ptail = NULL;
    }
    return p;
}

/* Run a posted task taken from the queue, then count it done. */
static void run_post(struct cld_executor *ex, struct post *p)
{
    struct cld_future *task = cur_task;

    cur_task = NULL;
    cld_error_clear();
    p->fn(p->arg);
    free(p);
    cur_task = task;
    pthread_mutex_lock(&ex->lock);
    ex->posted--;
    if (idle(ex))
        pthread_cond_broadcast(&ex->idle);
    pthread_mutex_unlock(&ex->lock);
}

/* Signal a future's end: callback, waiters, reference. */
static void finish_future(struct cld_future *f, enum cld_status st)
{
    pthread_mutex_lock(&f->lock);
    f->status = st;
    if (st != CLD_OK)
        f->detail = strdup(cld_error_detail());
    pthread_mutex_unlock(&f->lock);
    if (f->on_done)
        f->on_done(f, f->user);
    pthread_mutex_lock(&f->lock);
    f->done = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    future_unref(f);
}

static void future_unref(struct cld_future *f)
{
    bool last;

    pthread_mutex_lock(&f->lock);
    last = --f->refs == 0;
    pthread_mutex_unlock(&f->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f->detail);
    free(f);
}

static void *worker(void *p)
{
    struct start *sp = p;
    struct cld_executor *ex = sp->ex;

    cur_ex = ex;
    cur_index = sp->index;
    free(sp);
    for (;;) {
        struct cld_future *f;
        struct post *post;
        enum cld_status st;

        pthread_mutex_lock(&ex->lock);
        while (!ex->phead && !ex->head && !ex->stopping)
            pthread_cond_wait(&ex->work, &ex->lock);
        if ((post = take_post(ex)) != NULL) {
            pthread_mutex_unlock(&ex->lock);
            run_post(ex, post);
            continue;
        }
        if (!ex->head) {
            pthread_mutex_unlock(&ex->lock);
            return NULL;
        }
        f = ex->head;
        ex->head = f->next;
        if (!ex->head)
            ex->tail = NULL;
        ex->queued--;
        ex->running++;
        pthread_cond_signal(&ex->space);
        pthread_mutex_unlock(&ex->lock);

        cld_error_clear();
        cur_task = f;
        st = f->fn(f->arg);
        cur_task = NULL;
        if (!f->deferred)
            finish_future(f, st);
        else
            future_unref(f);  /* the worker's; cld_executor_defer took
                                 the caller's */

        pthread_mutex_lock(&ex->lock);
        ex->running--;
        if (idle(ex))
            pthread_cond_broadcast(&ex->idle);
        pthread_mutex_unlock(&ex->lock);
    }
}

struct cld_future *cld_executor_defer(void)
{
    struct cld_future *f = cur_task;

    if (!f || f->deferred)
        return NULL;
    pthread_mutex_lock(&f->lock);
    f->refs++;
    f->deferred = true;
    pthread_mutex_unlock(&f->lock);
    pthread_mutex_lock(&cur_ex->lock);
    cur_ex->deferred++;
    pthread_mutex_unlock(&cur_ex->lock);
    return f;
}

void cld_future_complete(struct cld_future *f, enum cld_status st)
{
    struct cld_executor *ex = f->ex;

    finish_future(f, st);
    pthread_mutex_lock(&ex->lock);
    ex->deferred--;
    if (idle(ex))
        pthread_cond_broadcast(&ex->idle);
    pthread_mutex_unlock(&ex->lock);
}

enum cld_status cld_executor_post(struct cld_executor *ex,
                                  enum cld_status (*fn)(void *arg),
                                  void *arg)
{
    struct post *p = calloc(1, sizeof *p);

    if (!p)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&ex->lock);
    if (ex->ptail)
        ex->ptail->next = p;
    else
        ex->phead = p;
    ex->ptail = p;
    ex->posted++;
    /* Every waiter: a helper waiting for a post shares the condition
     * with idle workers. */
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    return CLD_OK;
}

bool cld_executor_help(struct cld_executor *ex, double timeout_s,
                       bool (*ready)(void *ready_arg), void *ready_arg)
{
    bool worker = cur_ex == ex;
    struct post *p = NULL;
    struct timespec until;
    unsigned wakes;

    if (!worker && !ready)
        return false;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(timeout_s * 1e9);
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&ex->lock);
    wakes = ex->wakes;
    while (!(worker && ex->phead) && ex->wakes == wakes &&
           !(ready && ready(ready_arg))) {
        if (pthread_cond_timedwait(&ex->work, &ex->lock, &until) ==
            ETIMEDOUT)
            break;
    }
    if (worker)
        p = take_post(ex);
    pthread_mutex_unlock(&ex->lock);
    if (!p)
        return false;
    run_post(ex, p);
    return true;
}

void cld_executor_wake(struct cld_executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->wakes++;
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
}

int cld_executor_worker_index(void)
{
    return cur_index;
}

enum cld_status cld_executor_create(unsigned nthreads, unsigned max_pending,
                                    struct cld_executor **out)
{
    struct cld_executor *ex;

    *out = NULL;
    if (nthreads == 0 || max_pending == 0)
        return cld_error_set(CLD_ERR_INVALID,
                             "executor needs at least one thread and slot");
    ex = calloc(1, sizeof *ex);
    if (!ex)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    ex->threads = calloc(nthreads, sizeof *ex->threads);
    if (!ex->threads) {
        free(ex);
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    pthread_cond_init(&ex->space, NULL);
    pthread_cond_init(&ex->idle, NULL);
    ex->max_pending = max_pending;
    for (unsigned i = 0; i < nthreads; i++) {
        struct start *sp = malloc(sizeof *sp);

        if (!sp)
            break;
        sp->ex = ex;
        sp->index = (int)i;
        if (pthread_create(&ex->threads[i], NULL, worker, sp) != 0) {
            free(sp);
            break;
        }
        ex->nthreads++;
    }
    if (ex->nthreads == 0) {
        cld_executor_destroy(ex);
        return cld_error_set(CLD_ERR_INTERNAL, "cannot start threads");
    }
    *out = ex;
    return CLD_OK;
}

enum cld_status cld_executor_submit(struct cld_executor *ex, cld_task_fn fn,
                                    void *arg, cld_done_fn done, void *user,
                                    struct cld_future **out)
{
    struct cld_future *f;

    if (out)
        *out = NULL;
    f = calloc(1, sizeof *f);
    if (!f)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->refs = out ? 2 : 1;
    f->fn = fn;
    f->arg = arg;
    f->on_done = done;
    f->user = user;
    f->ex = ex;
    pthread_mutex_lock(&ex->lock);
    while (ex->queued >= ex->max_pending && !ex->stopping)
        pthread_cond_wait(&ex->space, &ex->lock);
    if (ex->stopping) {
        pthread_mutex_unlock(&ex->lock);
        f->refs = 1;
        future_unref(f);
        return cld_error_set(CLD_ERR_CANCELLED, "executor is shutting down");
    }
    if (ex->tail)
        ex->tail->next = f;
    else
        ex->head = f;
    ex->tail = f;
    ex->queued++;
    /* Every waiter: a worker in cld_executor_help also waits on `work`
     * but takes only posts, so a signal that woke it could leave an idle
     * worker asleep beside the new task. */
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    if (out)
        *out = f;
    return CLD_OK;
}

void cld_executor_drain(struct cld_executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    while (!idle(ex))
        pthread_cond_wait(&ex->idle, &ex->lock);
    pthread_mutex_unlock(&ex->lock);
}

void cld_executor_destroy(struct cld_executor *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
    /* Deferred items finish through posted tasks: let them. */
    while (ex->deferred > 0 || ex->posted > 0)
        pthread_cond_wait(&ex->idle, &ex->lock);
    ex->stopping = true;
    pthread_cond_broadcast(&ex->work);
    pthread_cond_broadcast(&ex->space);
    pthread_mutex_unlock(&ex->lock);
    for (unsigned i = 0; i < ex->nthreads; i++)
        pthread_join(ex->threads[i], NULL);
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->work);
    pthread_cond_destroy(&ex->space);
    pthread_cond_destroy(&ex->idle);
    free(ex->threads);
    free(ex);
}

enum cld_status cld_future_wait(struct cld_future *f)
{
    enum cld_status st;

    pthread_mutex_lock(&f->lock);
    while (!f->done)
        pthread_cond_wait(&f->cond, &f->lock);
    st = f->status;
    pthread_mutex_unlock(&f->lock);
    return st;
}

bool cld_future_done(struct cld_future *f)
{
    bool d;

    pthread_mutex_lock(&f->lock);
    d = f->done;
    pthread_mutex_unlock(&f->lock);
    return d;
}

enum cld_status cld_future_status(struct cld_future *f)
{
    enum cld_status st;

    pthread_mutex_lock(&f->lock);
    st = f->status;
    pthread_mutex_unlock(&f->lock);
    return st;
}

const char *cld_future_detail(struct cld_future *f)
{
    return f->detail ? f->detail : "";
}

void *cld_future_arg(struct cld_future *f)
{
    return f->arg;
}

void cld_future_release(struct cld_future *f)
{
    if (f)
        future_unref(f);
}
