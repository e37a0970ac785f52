/* The targets of a run: the host plus every discovered OpenCL device, as
 * placement profiles (static properties from discovery, measured figures
 * from the profile store), with a pool of device contexts created on first
 * use (targets.c, ctxpool.c). Also the bridge from a job and its input to
 * a placement decision: the workload descriptor, calibrated rates scaled
 * to the job's parameters and the "Preferred for" line of the device report
 * (targets_decide.c); the load of the machine (targets_meter.c); synthetic
 * inputs for calibration and benchmarks (targets_synth.c). No OpenCL types
 * here: a device context is an opaque struct cld_clctx. */
#ifndef CLD_TARGETS_H
#define CLD_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "error.h"
#include "jobs.h"
#include "placement.h"
#include "profile.h"

/* The synthetic image size calibration measures each job at. Calibrated
 * rates are elements/s of the job with default parameters at this size;
 * placement scales them by the work per element of the actual item. */
#define CLD_CALIBRATE_WIDTH 1024u
#define CLD_CALIBRATE_HEIGHT 768u

/* Calibration also times each job at this size and records the runs in
 * the run history (size bucket 2^22, which estimates serve for items of
 * 2^21..2^23 elements, 4000x3000 included): large items are memory-bound
 * and do not scale linearly from the smaller size. */
#define CLD_CALIBRATE_LARGE_WIDTH 2560u
#define CLD_CALIBRATE_LARGE_HEIGHT 1920u

/* The size a device is judged at for "Preferred for". */
#define CLD_PREFERRED_WIDTH 4000u
#define CLD_PREFERRED_HEIGHT 3000u

struct cld_targets;
struct cld_clctx;   /* a device context (clw.h), opaque here */

/* Targets for the devices of list (copied; NULL or empty: the host only).
 * Target 0 is always the host, then one target per device in list order.
 * Device handles are only usable when list came from cld_device_discover
 * (in process); otherwise cld_targets_context fails for devices. The
 * caller destroys *out with cld_targets_destroy. */
enum cld_status cld_targets_create(const struct cld_device_list *list,
                                   struct cld_targets **out);

/* Discover the devices in this process and create targets for them; with
 * host_only no OpenCL call is made at all. */
enum cld_status cld_targets_discover(bool host_only,
                                     struct cld_targets **out);

/* The longest time any opened device context took to load one program from
 * the binary cache (contexts that compiled from source are left out): the
 * part of a device's start-up that discovery does not include. False when
 * no context loaded one. */
bool cld_targets_load_seconds(struct cld_targets *t, double *seconds);

/* The device list the targets were made from (handles only when made by
 * cld_targets_discover). Owned by t. */
const struct cld_device_list *cld_targets_list(const struct cld_targets *t);

/* Warn once on err about each OpenCL platform or device that discovery
 * dropped and why (see cld_device_list_warn); silent when none was. */
void cld_targets_warn_dropped(const struct cld_targets *t, FILE *err);

/* Release the contexts and the targets; NULL is fine. */
void cld_targets_destroy(struct cld_targets *t);

size_t cld_targets_count(const struct cld_targets *t);

/* The profiles, cld_targets_count of them, in target order. Owned by t. */
const struct cld_target_profile *
cld_targets_profiles(const struct cld_targets *t);
struct cld_target_profile *cld_targets_profile(struct cld_targets *t,
                                               size_t i);

/* Discovery record of target i, NULL for the host. Owned by t. */
const struct cld_device_info *cld_targets_device(const struct cld_targets *t,
                                                 size_t i);

/* Resolve a --device selector: *index = the target, or -1 for "auto".
 * CLD_ERR_USAGE for a malformed selector, CLD_ERR_NO_DEVICE when it
 * matches no device (detail names the selector). */
enum cld_status cld_targets_select(const struct cld_targets *t,
                                   const char *spec, int *index);

/* The context of target i, created on the first call (thread-safe); *out
 * is NULL for the host. A failed creation is remembered: later calls fail
 * at once with the same detail. Owned by t. */
enum cld_status cld_targets_context(struct cld_targets *t, size_t i,
                                    struct cld_clctx **out);

/* The context of target i if it exists already, else NULL. */
struct cld_clctx *cld_targets_context_if_any(struct cld_targets *t,
                                             size_t i);

/* Programs a target's device context has got ready so far. */
struct cld_target_programs {
    unsigned source_builds;   /* compiled from source */
    unsigned binary_loads;    /* loaded from the binary cache */
};

/* The program counters of target i's context: false, with zeros in *out,
 * for the host and for a device whose context is not open (yet). */
bool cld_targets_programs(struct cld_targets *t, size_t i,
                          struct cld_target_programs *out);

/* Fill the measured fields of every target from the store, and append the
 * run history to *hist when hist is non-NULL (initialised by the caller).
 * *nprofiles (may be NULL) counts the targets that had a saved profile.
 * Files the store found corrupt are reported in warn (may be NULL; "" when
 * none) and are otherwise ignored. */
enum cld_status cld_targets_load(struct cld_targets *t,
                                 struct cld_profile_store *s,
                                 struct cld_history *hist,
                                 unsigned *nprofiles, char *warn,
                                 size_t warnlen);

/* Profile keys, "platform|device|driver version". */
void cld_targets_device_key(const struct cld_device_info *d, char *buf,
                            size_t len);
void cld_targets_host_key(char *buf, size_t len);

/* Record the load now (busy of cores busy, see cld_targets_busy_cores) in
 * the profiles of the targets that share the host's cores (the host and
 * CPU devices), so that decisions account for it; busy < 0 or cores 0
 * clears it (calibrated figures as they are). */
void cld_targets_set_load(struct cld_targets *t, double busy,
                          unsigned cores);

/* --- the load of the machine (targets_meter.c) ------------------------ */

/* A window over which to measure the load other processes put on the
 * machine, without waiting: start it, do other work, read it. */
struct cld_load_meter {
    bool ok;                       /* the start could be read */
    unsigned long long busy, total, self;  /* ticks at the start */
    double start_s;                /* monotonic seconds at the start */
};

/* Start (or restart) the window now. */
void cld_load_start(struct cld_load_meter *m);

/* Cores that other processes kept busy since the start (this process's
 * own threads not counted), of *cores (may be NULL) cores; negative when
 * it cannot be told (no /proc, or fewer than min_window_s seconds since
 * the start: /proc/stat counts in 10 ms ticks). Does not restart. */
double cld_load_read(const struct cld_load_meter *m, double min_window_s,
                     unsigned *cores);

/* Seconds since the window started. */
double cld_load_age(const struct cld_load_meter *m);

/* Cores of this machine that other processes kept busy over the next
 * window_s seconds (this process's own threads not counted), from
 * /proc/stat and /proc/self/stat; *cores (may be NULL) gets the number of
 * cores. Sleeps for window_s. Negative when it cannot be told (no /proc):
 * then the load is unknown. */
double cld_targets_busy_cores(double window_s, unsigned *cores);

/* --- jobs and workloads (targets_decide.c) --------------------------- */

/* The workload of one item of job on in (NULL or empty for generators),
 * batch 1. Where the job's traits leave the parameter text empty it is
 * filled from the options the job declares ("sigma=2"), so that the run
 * history tells parameter sets apart. */
void cld_targets_workload(const struct cld_job *job,
                          const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w);

/* Decide where one item of job on in runs: plan (initialised by the caller,
 * who may have excluded targets) gets one row per target. Calibrated rates
 * are scaled from the calibration workload (default parameters at
 * CLD_CALIBRATE_WIDTH x CLD_CALIBRATE_HEIGHT) to this one by the work per
 * element. For a chain, each split at one step boundary is priced too,
 * its two parts decided as jobs of their own (a step's, or a sub-chain's:
 * chain.h cld_chain_part) on the targets the caller left in, and
 * plan->split holds the cheapest (used when cheaper than the whole chain
 * on its best target; see cld_plan_offer_split). hist may be NULL.
 * Errors as cld_placement_decide. */
enum cld_status cld_targets_decide(const struct cld_targets *t,
                                   const struct cld_job *job,
                                   const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_history *hist,
                                   struct cld_plan *plan);

/* --- synthetic inputs (targets_synth.c) ------------------------------- */

/* A synthetic input of about width x height elements for job, with *p
 * (defaults, or the caller's) adjusted to fit: generators get --size,
 * matrix jobs square float matrices of side ~ sqrt(width*height)/4,
 * resizing jobs --scale 0.5 when their parameters need a size. With
 * pixels false only the shape is filled (no data) — enough for traits.
 * CLD_ERR_UNSUPPORTED when the job rejects every parameter set tried.
 * The caller frees *in with cld_data_free. */
enum cld_status cld_targets_synth_input(const struct cld_job *job,
                                        uint32_t width, uint32_t height,
                                        bool pixels, struct cld_params *p,
                                        struct cld_data *in);

/* Side of the square matrices cld_targets_synth_input makes. */
uint32_t cld_targets_matrix_side(uint32_t width, uint32_t height);

/* --- the device report (targets_decide.c) ---------------------------- */

struct cld_preferred_ctx {
    const struct cld_targets *targets;
    const struct cld_history *hist;   /* may be NULL */
};

/* A cld_caps_preferred_fn (user: struct cld_preferred_ctx *): the workload
 * classes, comma-separated, for which placement picks device d for a
 * CLD_PREFERRED_WIDTH x CLD_PREFERRED_HEIGHT item (per class, the target
 * most of its jobs pick). */
void cld_targets_preferred(const struct cld_device_info *d, char *buf,
                           size_t len, void *user);

#endif
