/* Checked wrappers over the OpenCL calls the project uses. Every failure is
 * reported by name (CL_OUT_OF_RESOURCES, not -5) in the thread's detail line,
 * and every wrapper passes through one fault-injection switch so that tests
 * can make a device fail at a chosen call. */
#ifndef CLD_CLW_H
#define CLD_CLW_H

#include <stdbool.h>
#include <stddef.h>

#include <CL/cl.h>

#include "error.h"
#include "work.h"
/* Symbolic name of an OpenCL error code ("CL_OUT_OF_RESOURCES"); codes the
 * table lacks come back as "CL_ERROR(-1234)" in a per-thread buffer. */
const char *cld_cl_errname(cl_int err);

/* CLD_OK for CL_SUCCESS; otherwise records "call: NAME" and returns
 * CLD_ERR_CL. */
enum cld_status cld_clw_check(cl_int err, const char *call);

/* Fault injection. The nth call (1-based, counted from now) of the named
 * wrapper, or of every wrapper when call is "*", fails with err instead of
 * running; nth 0 means every call from now on. Also read once from the
 * environment variable CLDISPATCH_FAULT="CALL[:NTH[:CL_ERROR_NAME]]"
 * (defaults: NTH 1, CL_OUT_OF_RESOURCES). cld_clw_fault_clear() disarms.
 * Besides the wrappers' names, "command" makes an item's device work end
 * in that error (the status its completion reports), as a device that
 * fails while running it would. */
void cld_clw_fault_set(const char *call, unsigned nth, cl_int err);
void cld_clw_fault_clear(void);
/* The error to inject for this call, or CL_SUCCESS. */
cl_int cld_clw_fault(const char *call);
/* Calls of the armed wrapper (or of all, for "*") since cld_clw_fault_set:
 * with nth beyond any run, how many calls a run made (for sweeps). */
unsigned cld_clw_fault_seen(void);

/* One OpenCL device with its own context, an in-order queue and a cache of
 * built programs. Thread-safe: programs are built once under a lock;
 * kernels are created per use by the caller (clSetKernelArg is not
 * thread-safe on a shared kernel). */
struct cld_clctx;

/* Create a context and queue for a device (profiling enabled). The caller
 * destroys it with cld_clctx_destroy. */
enum cld_status cld_clctx_create(cl_device_id dev, struct cld_clctx **out);
void cld_clctx_destroy(struct cld_clctx *ctx);
cl_context cld_clctx_context(const struct cld_clctx *ctx);
cl_command_queue cld_clctx_queue(const struct cld_clctx *ctx);
cl_device_id cld_clctx_device(const struct cld_clctx *ctx);
/* True when the device shares memory with the host (CPU devices, iGPUs):
 * buffers should wrap host memory instead of copying. */
bool cld_clctx_host_unified(const struct cld_clctx *ctx);
/* Serialise command submission on the context's own queue
 * (cld_clctx_queue), for callers that enqueue there from several threads:
 * PoCL 3.1's `basic` driver deadlocks when two host threads enqueue on one
 * queue at once (seen here: pocl_update_event_running re-takes an event
 * lock). The job launcher does not take it: it enqueues on its own queues
 * by role, each under its own lock (devq.h). */
void cld_clctx_lock(struct cld_clctx *ctx);
void cld_clctx_unlock(struct cld_clctx *ctx);
/* What the jobs' plans may know of the device (owned by ctx). */
const struct cld_dev_facts *cld_clctx_facts(const struct cld_clctx *ctx);
/* CL_DEVICE_TYPE_* of the device. */
cl_device_type cld_clctx_type(const struct cld_clctx *ctx);

/* The OpenCL C source of a kernel family ("pointwise" for cl/pointwise.cl):
 * from $CLDISPATCH_KERNEL_DIR when set, else the copy embedded at build
 * time. Returns a malloc'd string the caller frees. */
enum cld_status cld_kernel_source(const char *family, char **out);

/* Build (once) and return the program for a family and option string. The
 * context owns the program. On a build failure the detail line holds the
 * device's build log. */
enum cld_status cld_clctx_program(struct cld_clctx *ctx, const char *family,
                                  const char *options, cl_program *out);

/* Program binary cache. Built programs are saved (clGetProgramInfo
 * CL_PROGRAM_BINARIES) to a file named after the device, its driver version
 * and a hash of the source and build options, and later loaded with
 * clCreateProgramWithBinary. Each file is sealed (seal.h): its payload's
 * SHA-256 and a MAC of its header under the folder's key are checked before
 * any byte reaches the driver. A corrupt, foreign or unsealed file is
 * ignored with a warning and the program is built from source again; a
 * file of an older format is replaced quietly; writes are atomic. Without
 * a usable key (the folder's "key" file must be private to this user) the
 * cache is off, with one warning.
 * dir NULL: $XDG_CACHE_HOME/cldispatch/kernels, else
 * $HOME/.cache/cldispatch/kernels (the default); "" turns the cache off.
 * The string is copied. */
void cld_clw_cache_set_dir(const char *dir);

/* Where warnings of this layer go (a cache file ignored or not written):
 * one line without a newline. NULL restores the default, which prints
 * "cldispatch: warning: LINE" on stderr. The function may be called from
 * several threads at once. */
typedef void (*cld_clw_warn_fn)(const char *line, void *user);
void cld_clw_set_warn(cld_clw_warn_fn fn, void *user);

/* Program counters of one context, for tests, benchmarks and the batch
 * (which does not record a timing that includes a build). */
struct cld_clctx_stats {
    unsigned source_builds;   /* programs compiled from source */
    unsigned binary_loads;    /* programs loaded from the binary cache */
    unsigned cache_rejects;   /* cache files ignored as corrupt/foreign */
    unsigned cache_writes;    /* cache files written */
    double build_seconds;     /* time spent building or loading */
};
void cld_clctx_get_stats(struct cld_clctx *ctx, struct cld_clctx_stats *out);

/* A new kernel from a built program; the caller releases it. */
enum cld_status cld_clw_kernel(cl_program prog, const char *name,
                               cl_kernel *out);
enum cld_status cld_clw_arg(cl_kernel k, cl_uint idx, size_t size,
                            const void *value);
/* The largest work-group this kernel may run with on the context's device
 * (CL_KERNEL_WORK_GROUP_SIZE). */
enum cld_status cld_clw_kernel_group_size(struct cld_clctx *ctx, cl_kernel k,
                                          size_t *out);
/* A buffer; the caller releases it. */
enum cld_status cld_clw_buffer(cl_context ctx, cl_mem_flags flags,
                               size_t size, void *host, cl_mem *out);
enum cld_status cld_clw_write(cl_command_queue q, cl_mem mem, bool blocking,
                              size_t offset, size_t size, const void *ptr,
                              cl_uint nwait, const cl_event *wait,
                              cl_event *ev);
enum cld_status cld_clw_read(cl_command_queue q, cl_mem mem, bool blocking,
                             size_t offset, size_t size, void *ptr,
                             cl_uint nwait, const cl_event *wait,
                             cl_event *ev);
enum cld_status cld_clw_run(cl_command_queue q, cl_kernel k, cl_uint dims,
                            const size_t *global, const size_t *local,
                            cl_uint nwait, const cl_event *wait,
                            cl_event *ev);
enum cld_status cld_clw_map(cl_command_queue q, cl_mem mem, cl_map_flags fl,
                            size_t offset, size_t size, void **out);
enum cld_status cld_clw_unmap(cl_command_queue q, cl_mem mem, void *ptr);
enum cld_status cld_clw_finish(cl_command_queue q);
/* A further in-order queue on the context's device (profiling enabled);
 * the caller releases it with clReleaseCommandQueue. */
enum cld_status cld_clw_queue(struct cld_clctx *ctx, cl_command_queue *out);
/* Non-blocking map and unmap; *out is valid once ev completes. */
enum cld_status cld_clw_map_async(cl_command_queue q, cl_mem mem,
                                  cl_map_flags fl, size_t offset,
                                  size_t size, cl_uint nwait,
                                  const cl_event *wait, cl_event *ev,
                                  void **out);
enum cld_status cld_clw_unmap_async(cl_command_queue q, cl_mem mem,
                                    void *ptr, cl_uint nwait,
                                    const cl_event *wait, cl_event *ev);
enum cld_status cld_clw_flush(cl_command_queue q);
/* fn(ev, status, user) when ev completes (CL_COMPLETE or an error); it may
 * run on a driver thread or at once on the caller's. */
enum cld_status cld_clw_on_complete(cl_event ev,
                                    void(CL_CALLBACK *fn)(cl_event, cl_int,
                                                          void *),
                                    void *user);
enum cld_status cld_clw_wait(cl_uint n, const cl_event *ev);

/* A completed command's profiling times (device clock, nanoseconds):
 * when it was queued, started and ended. */
enum cld_status cld_clw_event_times(cl_event ev, cl_ulong *queued,
                                    cl_ulong *start, cl_ulong *end);

/* The device's name (CL_DEVICE_NAME) into buf; "device" when it cannot
 * be read. */
void cld_clctx_name(const struct cld_clctx *ctx, char *buf, size_t n);

/* The launcher's queues by role and ring of in-flight items on this
 * context (devq.h), created on first use, destroyed with the context. */
struct cld_devq;
enum cld_status cld_clctx_devq(struct cld_clctx *ctx, struct cld_devq **out);

/* Release helpers that accept NULL. */
void cld_clw_release_mem(cl_mem m);
void cld_clw_release_kernel(cl_kernel k);
void cld_clw_release_event(cl_event e);
/* Another reference to e (kept for its profiling times). */
enum cld_status cld_clw_retain_event(cl_event e);

#endif
