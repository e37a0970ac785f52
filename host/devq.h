/* The device side of the executor: per device, three in-order queues by
 * role (upload, compute, download) that the launcher links with events,
 * each under its own lock (never a lock around a whole item: PoCL 3.1's
 * `basic` driver deadlocks when two threads enqueue on one queue at once);
 * a bounded ring of in-flight items whose slots own the reusable device
 * buffers and pinned staging of the copy path; and completion posts that
 * an event callback fills and a host thread waits on. */
#ifndef CLD_DEVQ_H
#define CLD_DEVQ_H

#include <stdbool.h>
#include <stddef.h>

#include "clw.h"
#include "error.h"
#include "launch.h"
#include "work.h"

enum cld_role {
    CLD_ROLE_UPLOAD,
    CLD_ROLE_COMPUTE,
    CLD_ROLE_DOWNLOAD,
    CLD_ROLES
};

/* One entry of the ring, held by one item from acquire to release. On the
 * copy path it keeps its device buffers and mapped staging for the next
 * item; on the zero-copy path the item's buffers wrap its host memory. */
struct cld_devq_slot {
    cl_mem dev[CLD_WORK_MAX_BUFS];
    size_t dev_size[CLD_WORK_MAX_BUFS];
    unsigned dev_flags[CLD_WORK_MAX_BUFS];
    cl_mem stage[CLD_WORK_MAX_BUFS];
    void *stage_ptr[CLD_WORK_MAX_BUFS];
    size_t stage_size[CLD_WORK_MAX_BUFS];
    struct cld_devq_slot *next;
};

/* Create and destroy the queues and ring of a context (clw.c does both). */
enum cld_status cld_devq_create(struct cld_clctx *ctx, struct cld_devq **out);
void cld_devq_destroy(struct cld_devq *q);

/* True when items take the discrete path: separate device buffers with
 * explicit uploads and readbacks (a device that is not host-unified, or
 * CLDISPATCH_TRANSFER=copy when the queues were created). */
bool cld_devq_copy(const struct cld_devq *q);

/* The queue role r's commands go to (on the zero-copy path readbacks are
 * maps on the compute queue). */
enum cld_role cld_devq_role(const struct cld_devq *q, enum cld_role r);

/* The device's name, for timeline lanes. */
const char *cld_devq_name(const struct cld_devq *q);

/* Lock role r's queue for a group of enqueues and return it; unlock
 * after its clFlush. */
cl_command_queue cld_devq_lock(struct cld_devq *q, enum cld_role r);
void cld_devq_unlock(struct cld_devq *q, enum cld_role r);

/* Take a slot of the ring for an item whose buffers total item_bytes,
 * waiting while the ring is full: through w (launch.h) when not NULL,
 * else blocked; give it back with cld_devq_release, which wakes the
 * waiters. */
struct cld_devq_slot *cld_devq_acquire(struct cld_devq *q, size_t item_bytes,
                                       const struct cld_ring_waiter *w);
void cld_devq_release(struct cld_devq *q, struct cld_devq_slot *s);

/* Copy path: slot s's device buffer i of at least size bytes (made or
 * grown here, kept for the next item). */
enum cld_status cld_devq_dev_buffer(struct cld_devq *q,
                                    struct cld_devq_slot *s, unsigned i,
                                    cl_mem_flags fl, size_t size,
                                    cl_mem *out);
/* Copy path: slot s's pinned staging for buffer i (CL_MEM_ALLOC_HOST_PTR,
 * mapped once when made), at least size bytes. */
enum cld_status cld_devq_staging(struct cld_devq *q, struct cld_devq_slot *s,
                                 unsigned i, size_t size, void **out);
/* Zero-copy path: a buffer wrapping host memory for one item, counted
 * among the live buffers until cld_devq_drop. */
enum cld_status cld_devq_wrap(struct cld_devq *q, cl_mem_flags fl,
                              size_t size, void *host, cl_mem *out);
void cld_devq_drop(struct cld_devq *q, cl_mem m);

/* Count one transfer of bytes enqueued on role r's queue: an upload, or a
 * readback (a read on the copy path, a map on the zero-copy path). */
void cld_devq_count(struct cld_devq *q, enum cld_role r, size_t bytes);

/* Wait on the calling thread until ev completes: an event callback posts
 * the completion (it takes one short lock and signals, nothing more).
 * CLD_ERR_CL naming what when the command failed on the device. */
enum cld_status cld_devq_await(cl_event ev, const char *what);

/* The counters behind cld_launch_stats (launch.h). */
struct cld_ring_stats;
void cld_devq_stats(struct cld_devq *q, struct cld_ring_stats *out);
void cld_devq_stats_reset(struct cld_devq *q);

#endif
