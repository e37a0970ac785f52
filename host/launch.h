/* The generic launcher: runs a job's device work (work.h) on a device
 * context. All of the jobs' OpenCL calls are in launch.c. */
#ifndef CLD_LAUNCH_H
#define CLD_LAUNCH_H

#include "clw.h"
#include "error.h"
#include "work.h"

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

/* The ring bound, --inflight: at most n items hold device buffers on each
 * device at once (1: one item at a time, the sequential baseline). 0, the
 * default: up to 4, fewer when a quarter of the device's memory cannot
 * hold that many items. For every device of the process, from the next
 * item on. */
void cld_launch_set_inflight(unsigned n);

/* The ring's counters on one device, for tests and benchmarks. */
struct cld_ring_stats {
    unsigned ring;         /* the bound the last item was admitted under */
    unsigned in_use;       /* items holding a slot now */
    unsigned peak_in_use;  /* most at once since creation or reset */
    unsigned live_bufs;    /* device buffers that exist now (copy path:
                              kept by the ring's slots for reuse) */
    unsigned peak_bufs;    /* most at once */
    bool copy;             /* the copy path (see CLDISPATCH_TRANSFER) */
};
/* Read (and with reset, restart the peaks of) ctx's counters. */
enum cld_status cld_launch_stats(struct cld_clctx *ctx, bool reset,
                                 struct cld_ring_stats *out);

#endif
