/* Placement: pure functions that turn a workload, the profiles of the
 * candidate targets and the run history into a plan with reasons. Nothing
 * here calls OpenCL, so every rule is testable with synthetic machines. */
#ifndef CLD_PLACEMENT_H
#define CLD_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "workload.h"

#define CLD_NAME_MAX 96     /* target name, with its terminator */
#define CLD_KEY_MAX 256     /* target key "platform|device|driver" */
#define CLD_JOB_MAX 32      /* job name */
#define CLD_PARAMS_MAX 96   /* same size as cld_workload.params */
#define CLD_TARGET_RATES 16 /* calibrated per-job rates per target */
#define CLD_HISTORY_SAMPLES 16     /* samples kept per history entry */
#define CLD_HISTORY_MIN_SAMPLES 3  /* fewer than this: the prior decides */
#define CLD_HISTORY_MAX_ENTRIES 4096
#define CLD_PLAN_MAX 16     /* candidates per plan */

enum cld_target_kind {
    CLD_TARGET_HOST,     /* the C reference on host threads */
    CLD_TARGET_CL_CPU,   /* OpenCL CPU device (PoCL) */
    CLD_TARGET_CL_GPU,   /* OpenCL GPU, discrete or integrated */
    CLD_TARGET_CL_ACCEL  /* any other OpenCL device */
};

/* Short name: "host", "cpu", "gpu", "accel". */
const char *cld_target_kind_str(enum cld_target_kind kind);

struct cld_job_rate {
    char job[CLD_JOB_MAX];
    double elements_per_s;
};

/* One candidate target. Zero in a property means "unknown"; the prior then
 * assumes a typical value for the kind. */
struct cld_target_profile {
    enum cld_target_kind kind;
    int device_index;              /* -1 for the host */
    char name[CLD_NAME_MAX];
    char key[CLD_KEY_MAX];         /* cache key: platform|device|driver */
    /* Static properties from discovery. */
    uint32_t compute_units;
    uint32_t max_clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t max_alloc_bytes;      /* 0: no limit (the host) */
    bool host_unified_memory;      /* integrated GPU or CPU device */
    bool fp64;                     /* ignored for the host: always true */
    uint32_t vector_width_float;   /* preferred float vector width */
    uint32_t host_threads;         /* host target: worker threads */
    /* Measured by calibration; 0 = not measured. */
    double h2d_bytes_per_s;
    double d2h_bytes_per_s;
    double launch_s;               /* enqueue-to-start latency */
    size_t n_rates;
    struct cld_job_rate rates[CLD_TARGET_RATES];
    /* The load now, for targets that run on the host's cores (the host
     * and CPU devices); not saved. Of shared_cores cores (0: unknown, no
     * adjustment), other processes keep busy_cores busy. Calibrated
     * figures are what the target does on an idle machine; a target with
     * more threads than the cores left to it is slowed by the ratio. */
    uint32_t shared_cores;
    double busy_cores;
};

/* Zero *t and set its identity; name and key are truncated to fit. */
void cld_target_init(struct cld_target_profile *t, enum cld_target_kind kind,
                     int device_index, const char *name, const char *key);

/* Set (or replace) the calibrated throughput of a job on t.
 * CLD_ERR_INVALID if the rate is not positive or the table is full. */
enum cld_status cld_target_set_rate(struct cld_target_profile *t,
                                    const char *job, double elements_per_s);

/* Calibrated elements/s of job on t, 0 if none. */
double cld_target_rate(const struct cld_target_profile *t, const char *job);

/* Run history: measured seconds per item, grouped by (job, params, target
 * key, size bucket = floor(log2(work))). Work is in units of
 * cld_history_work: elements times operations per element, so that a
 * matrix product of side n counts n^3 and one parameter text serves every
 * size. Samples are kept oldest first; adding beyond CLD_HISTORY_SAMPLES
 * drops the oldest. */
struct cld_sample {
    uint64_t work;
    double seconds;   /* wall time of one item, transfers included */
};

struct cld_history_entry {
    char job[CLD_JOB_MAX];
    char params[CLD_PARAMS_MAX];
    char key[CLD_KEY_MAX];
    int bucket;
    size_t n;
    struct cld_sample samples[CLD_HISTORY_SAMPLES];
};

struct cld_history {
    size_t n, cap;
    struct cld_history_entry *entries;  /* owned; freed by _clear */
};

/* Work units of one item of w: elements x operations per element
 * (rounded, at least the elements; at least 1). */
uint64_t cld_history_work(const struct cld_workload *w);

void cld_history_init(struct cld_history *h);

/* Free the entries; h is empty and reusable afterwards. NULL is fine. */
void cld_history_clear(struct cld_history *h);

/* floor(log2(work)); 0 for 0 or 1. */
int cld_history_bucket(uint64_t work);

/* Add one sample. CLD_ERR_INVALID for work == 0, a non-positive or
 * non-finite time, or names that are too long or hold tabs or newlines;
 * CLD_ERR_NOMEM. Past CLD_HISTORY_MAX_ENTRIES the oldest entry goes. */
enum cld_status cld_history_add(struct cld_history *h, const char *job,
                                const char *params, const char *key,
                                uint64_t work, double seconds);

/* How an estimate was made from the measured sizes around the item. */
enum cld_estimate_kind {
    CLD_EST_OWN,      /* the item's own size bucket, scaled */
    CLD_EST_BETWEEN,  /* a line through the nearest bucket below and above */
    CLD_EST_ABOVE,    /* extended up from the buckets below (<= 2 away) */
    CLD_EST_BELOW     /* extended down from the buckets above (<= 2 away) */
};

struct cld_estimate {
    double seconds;     /* predicted seconds for one item */
    unsigned used;      /* samples kept for the estimate */
    unsigned rejected;  /* outliers dropped (> 3 MAD from the median) */
    enum cld_estimate_kind kind;
    int bucket;         /* bucket the estimate rests on (the nearer one) */
    int bucket2;        /* the other bucket of a line; -1 if none */
    double work;        /* work of the measured point of `bucket` */
    double work2;       /* and of bucket2's; 0 if none */
};

/* Estimate one item of `work` units from the history of (job, params,
 * key). Each bucket with CLD_HISTORY_MIN_SAMPLES samples or more is a
 * measured point: its samples scaled to its newest sample's work (keeping
 * `fixed_s`, the launch overhead, unscaled), slow outliers (> 3 MAD above
 * the median: runs that other processes slowed) rejected, and the
 * fastest of the rest taken. The item's own bucket is scaled to `work`
 * the same way; else the line through the nearest points below and above
 * gives it (the fixed cost of small items and the slope of large ones
 * both measured); else, within two buckets, the line through the two
 * nearest points on one side is extended (never below proportional
 * scaling, never negative). False (and *out zeroed) when nothing is near
 * enough: the cost model decides. */
bool cld_history_estimate(const struct cld_history *h, const char *job,
                          const char *params, const char *key,
                          uint64_t work, double fixed_s,
                          struct cld_estimate *out);

/* The plan: one row per candidate target, in the order of the targets. */
struct cld_candidate {
    char target[CLD_NAME_MAX];
    enum cld_target_kind kind;
    bool excluded;
    bool measured;          /* seconds came from the run history */
    bool measured_here;     /* ... from runs at this very size bucket */
    double seconds;         /* predicted for the whole batch */
    double overhead_s;      /* per item: launches and enqueues */
    double transfer_s;      /* per item: bus transfers */
    double compute_s;       /* per item: the work itself */
    char reason[160];       /* why excluded; "" otherwise */
    char basis[224];        /* what the estimate rests on */
};

/* A chain's item split in two (a chain's plan, targets_decide.c): the
 * steps before `at` on target `first`, the others on target `second`, the
 * intermediate through host memory. At most one split point is priced:
 * every step boundary, with each part on every target it may use. */
struct cld_split_part {
    char job[CLD_JOB_MAX];      /* a step's job name, or a sub-chain's */
    char params[CLD_PARAMS_MAX];
    int target;
    double seconds;             /* predicted for the whole batch */
    char basis[224];            /* what the estimate rests on */
};

struct cld_split {
    unsigned at;         /* first step of the second part; 0: none priced */
    unsigned nsteps;     /* steps of the whole chain */
    bool used;           /* the item runs split (else whole on chosen) */
    double seconds;      /* both parts: predicted for the whole batch */
    int whole;           /* the best target for the whole chain, or -1 */
    double whole_s;      /* and its prediction */
    char whole_reason[256];  /* why it is that one */
    struct cld_split_part part[2];
};

struct cld_plan {
    char job[CLD_JOB_MAX];
    char params[CLD_PARAMS_MAX];
    uint64_t elements;
    uint32_t batch;
    unsigned flags;
    size_t n;
    int chosen;             /* index into the targets; -1 if none */
    char reason[256];       /* one line: why the chosen one */
    struct cld_candidate cand[CLD_PLAN_MAX];
    /* The best split of a chain (cld_plan_offer_split); when used,
     * `chosen` is the target of its part predicted to take longer. */
    struct cld_split split;
};

/* Empty plan, no exclusions. Call before cld_plan_exclude and decide. */
void cld_plan_init(struct cld_plan *plan);

/* Mark the target at `index` excluded before deciding (a kernel that did
 * not build, a device the user turned off...); decide keeps the mark.
 * CLD_ERR_INVALID if index >= CLD_PLAN_MAX. */
enum cld_status cld_plan_exclude(struct cld_plan *plan, size_t index,
                                 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fill plan (initialised by cld_plan_init) for w on targets[0..n-1]; hist
 * may be NULL. CLD_ERR_INVALID for bad arguments or n > CLD_PLAN_MAX;
 * CLD_ERR_NO_DEVICE when every target is excluded (plan->chosen = -1, the
 * rows still say why). */
enum cld_status cld_placement_decide(const struct cld_workload *w,
                                     const struct cld_target_profile *targets,
                                     size_t n,
                                     const struct cld_history *hist,
                                     struct cld_plan *plan);

/* Whether row i of a decided plan may run its work: not excluded, and
 * for sequential work the host, or a device measured to beat the host by
 * more than run-to-run noise (the rule cld_placement_decide chooses by). */
bool cld_plan_allows(const struct cld_plan *plan, size_t i);

/* Offer the split of a chain of nsteps steps before step `at` (1 <=
 * at < nsteps) to plan, decided for the whole chain: head and tail are
 * the plans decided for steps [0, at) and [at, nsteps) on the same
 * targets, in the same order. The cheapest pair of different targets
 * that head and tail allow (cld_plan_allows) is priced as the sum of
 * their rows; it becomes plan->split when it is the cheapest split so
 * far, and is used (plan->chosen and plan->reason follow it) when it is
 * also cheaper than the whole chain on its chosen target. */
void cld_plan_offer_split(struct cld_plan *plan, unsigned at,
                          unsigned nsteps, const struct cld_plan *head,
                          const struct cld_plan *tail);

/* The --explain table: one row per candidate, the chosen one marked '*',
 * then the reason for the choice. For a chain, its best split: the two
 * parts marked '*' when the item runs split, else the split's
 * prediction against the whole chain's. */
void cld_plan_print(FILE *f, const struct cld_plan *plan);

/* Human-readable time ("14.2 us", "5.03 ms", "1.20 s") into buf. */
const char *cld_format_seconds(char *buf, size_t size, double s);

#endif
