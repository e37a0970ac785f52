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

/* Wait for every queued and running task to finish. */
void cld_executor_drain(struct cld_executor *ex);

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
