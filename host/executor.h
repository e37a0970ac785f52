/* A bounded task executor with futures, in the shape of Python's
 * concurrent.futures: submit() hands a task to a pool of worker threads and
 * returns a future; a completion callback runs when the task ends. At most
 * `max_pending` tasks wait in the queue; submit blocks beyond that, which
 * bounds the memory held by in-flight items. */
#ifndef CLD_EXECUTOR_H
#define CLD_EXECUTOR_H

#include <stdbool.h>

#include "error.h"

struct cld_executor;
struct cld_future;

/* A task: returns its status; on failure the worker captures the thread's
 * detail line into the future. */
typedef enum cld_status (*cld_task_fn)(void *arg);
/* Completion callback, run on the worker thread right after the task. Must
 * not block for long; must not release the future it is given. */
typedef void (*cld_done_fn)(struct cld_future *f, void *user);

/* nthreads >= 1 workers; max_pending >= 1 queued tasks. */
enum cld_status cld_executor_create(unsigned nthreads, unsigned max_pending,
                                    struct cld_executor **out);

/* Queue fn(arg). If out is non-NULL the caller gets a reference to the
 * future and must cld_future_release it. CLD_ERR_CANCELLED after
 * shutdown. */
enum cld_status cld_executor_submit(struct cld_executor *ex, cld_task_fn fn,
                                    void *arg, cld_done_fn done, void *user,
                                    struct cld_future **out);

/* Wait for every queued, running, deferred and posted task to finish. */
void cld_executor_drain(struct cld_executor *ex);

/* Continuations, for work that waits on a device without holding a
 * worker thread. A task that has started such work calls
 * cld_executor_defer() before it returns: its future then stays pending
 * (the task's return value is ignored) until cld_future_complete. The
 * code that learns of the device's completion (an event callback, which
 * must not block) hands the rest of the item to a worker with
 * cld_executor_post, which never blocks: posted tasks run before
 * submitted ones, so that finished items leave before new ones come in. */

/* The running task's future, now deferred; NULL when the calling thread
 * is not running a task. The reference returned belongs to the caller
 * until it passes it to cld_future_complete. */
struct cld_future *cld_executor_defer(void);

/* Complete a deferred future with st (and, when st != CLD_OK, the calling
 * thread's detail line): run its completion callback, wake its waiters
 * and drop the reference. */
void cld_future_complete(struct cld_future *f, enum cld_status st);

/* Queue fn(arg) ahead of the submitted tasks without blocking (its status
 * is ignored). CLD_ERR_NOMEM when it cannot be queued. */
enum cld_status cld_executor_post(struct cld_executor *ex,
                                  enum cld_status (*fn)(void *arg),
                                  void *arg);

/* On a worker thread waiting for what a posted task brings about (a free
 * slot of a device's ring): run one posted task here if there is one,
 * else wait up to timeout_s for one to be posted, for cld_executor_wake,
 * or for ready(ready_arg) to be true. ready (may be NULL) is tested under
 * the executor's lock, so a waker that makes it true and then calls
 * cld_executor_wake is never missed; it may take locks of its own, but
 * the waker must not hold them while it calls cld_executor_wake. True
 * when it ran a task. On a thread that is not one of ex's workers it runs
 * nothing: false at once when ready is NULL, else after the wait. */
bool cld_executor_help(struct cld_executor *ex, double timeout_s,
                       bool (*ready)(void *ready_arg), void *ready_arg);

/* Wake the threads waiting in cld_executor_help, so that they test their
 * ready again. */
void cld_executor_wake(struct cld_executor *ex);

/* The worker running the calling thread's task, as 0..nthreads-1, or -1
 * on a thread that is not a worker (for traces). */
int cld_executor_worker_index(void);

/* Finish queued tasks, stop the workers and free the executor. Accepts
 * NULL. */
void cld_executor_destroy(struct cld_executor *ex);

/* Block until the task has ended; returns its status. */
enum cld_status cld_future_wait(struct cld_future *f);
bool cld_future_done(struct cld_future *f);
/* The task's status without waiting: valid inside the completion callback
 * and after the future is done. */
enum cld_status cld_future_status(struct cld_future *f);
/* The failed task's detail line ("" on success); valid while the caller
 * holds the future. */
const char *cld_future_detail(struct cld_future *f);
void *cld_future_arg(struct cld_future *f);
void cld_future_release(struct cld_future *f);

#endif
