/* The generic launcher: runs a job's device work (work.h) on a device
 * context. All of the jobs' OpenCL calls are in launch.c. */
#ifndef CLD_LAUNCH_H
#define CLD_LAUNCH_H

#include <stdbool.h>

#include "error.h"
#include "work.h"

/* A device context (clw.h); no OpenCL types here. */
struct cld_clctx;

/* Take a slot of the device's ring of in-flight items, create w's
 * buffers as its launches first name them (zero-copy, or the slot's device
 * buffers with uploads from pinned staging on the upload queue), enqueue
 * the launches group by group on the compute queue with w's host step
 * between groups, read the FETCH buffers back on the download queue, and
 * wait for the completion that an event callback posts. Enqueues take one
 * queue's lock at a time; nothing is held while waiting. Any number of
 * threads may call it at once. CLD_ERR_UNSUPPORTED when a
 * launch cannot get the exact work-group it asks for; CLD_ERR_CL or
 * CLD_ERR_BUILD with a detail line on device errors. */
enum cld_status cld_launch_run(struct cld_clctx *ctx, struct cld_work *w);

/* The same without waiting: cld_launch_start enqueues w's device work
 * (the ring slot, buffers, uploads, launches and the non-blocking
 * readbacks; only a host step between launch groups waits) and returns;
 * when the device has completed it, done(user) runs, on a driver thread
 * or at once on the caller's: it must only post. Then, on a host thread,
 * cld_launch_finish brings the results to w's host memory, reports a
 * device error (CLD_ERR_CL naming it), gives back what the item held and
 * frees l; *device_s (may be NULL) gets the seconds the item's commands
 * ran on the device (from OpenCL profiling: uploads, kernels, readbacks).
 * w must live until then. */
/* How a thread waits for a slot of a full ring without sleeping on the
 * ring alone: wait(arg, ready, ready_arg) does other work (such as
 * finishing items) or sleeps until ready(ready_arg) is true, and returns;
 * it may return early. ready takes no lock. wait must test it under the
 * lock that wake(arg) takes, so that a slot given back between its test
 * and its sleep still wakes it. The ring calls wake(arg) each time a slot
 * comes back while the thread waits, holding the ring's lock (so that the
 * waiter, and arg, are still there): wake must take no lock but its
 * own. */
struct cld_ring_waiter {
    void (*wait)(void *arg, bool (*ready)(void *ready_arg), void *ready_arg);
    void (*wake)(void *arg);
    void *arg;
};

struct cld_launch;
struct cld_launch_opts {
    const char *item;            /* the item's name, for the timeline */
    void (*done)(void *user);
    void *user;
    /* How the thread waits while the device's ring is full; NULL: the
     * thread's own (cld_launch_set_thread_wait), and where the thread has
     * none either, it blocks. */
    const struct cld_ring_waiter *wait;
};
/* The wait that launches started on the calling thread without their own
 * (cld_launch_run among them) use while a ring is full; NULL: block. The
 * engine sets it on its worker threads, so that a worker waiting for a
 * slot finishes items instead of waiting for other workers to. */
void cld_launch_set_thread_wait(const struct cld_ring_waiter *w);

enum cld_status cld_launch_start(struct cld_clctx *ctx, struct cld_work *w,
                                 const struct cld_launch_opts *o,
                                 struct cld_launch **out);
enum cld_status cld_launch_finish(struct cld_launch *l, double *device_s);

/* The ring bound, --inflight: at most n items hold device buffers on each
 * device at once (1: one item at a time, the sequential baseline). 0, the
 * default: up to 4, fewer when a quarter of the device's memory cannot
 * hold that many items. For every device of the process, from the next
 * item on. */
void cld_launch_set_inflight(unsigned n);

/* What a job's plan may know of ctx's device (work.h). */
const struct cld_dev_facts *cld_launch_facts(const struct cld_clctx *ctx);

/* Programs built from source or loaded from the binary cache on ctx so
 * far: a run during which it grew measured a build. */
unsigned long cld_launch_builds(struct cld_clctx *ctx);

/* The ring's counters on one device, for tests and benchmarks. */
struct cld_ring_stats {
    unsigned ring;         /* the bound the last item was admitted under */
    unsigned in_use;       /* items holding a slot now */
    unsigned peak_in_use;  /* most at once since creation or reset */
    unsigned live_bufs;    /* device buffers that exist now (copy path:
                              kept by the ring's slots for reuse) */
    unsigned peak_bufs;    /* most at once */
    bool copy;             /* the copy path (see CLDISPATCH_TRANSFER) */
    /* Transfers since creation or reset: uploads from host memory, and
     * readbacks to it (reads on the copy path, maps on the zero-copy
     * path), with their bytes. A chain's intermediates count in neither. */
    unsigned long uploads, readbacks;
    unsigned long long upload_bytes, readback_bytes;
};
/* Read (and with reset, restart the peaks and transfer counts of) ctx's
 * counters. */
enum cld_status cld_launch_stats(struct cld_clctx *ctx, bool reset,
                                 struct cld_ring_stats *out);

#endif
