/* Worker pool with a bounded queue and reference-counted futures. */
#include "executor.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
};

struct cld_executor {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* queue gained a task or shutdown */
    pthread_cond_t space; /* queue has room */
    pthread_cond_t idle;  /* nothing queued or running */
    struct cld_future *head, *tail;
    unsigned queued, running, max_pending, nthreads;
    bool stopping;
    pthread_t *threads;
};

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
    struct cld_executor *ex = p;

    for (;;) {
        struct cld_future *f;
        enum cld_status st;

        pthread_mutex_lock(&ex->lock);
        while (!ex->head && !ex->stopping)
            pthread_cond_wait(&ex->work, &ex->lock);
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
        st = f->fn(f->arg);
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

        pthread_mutex_lock(&ex->lock);
        ex->running--;
        if (ex->running == 0 && ex->queued == 0)
            pthread_cond_broadcast(&ex->idle);
        pthread_mutex_unlock(&ex->lock);
    }
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
        if (pthread_create(&ex->threads[i], NULL, worker, ex) != 0)
            break;
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
    pthread_cond_signal(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    if (out)
        *out = f;
    return CLD_OK;
}

void cld_executor_drain(struct cld_executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    while (ex->queued > 0 || ex->running > 0)
        pthread_cond_wait(&ex->idle, &ex->lock);
    pthread_mutex_unlock(&ex->lock);
}

void cld_executor_destroy(struct cld_executor *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
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
