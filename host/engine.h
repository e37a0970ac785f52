/* The engine's own declarations, shared by batch.c (the batch and its
 * run), engine.c (one item's path: decode, place, run on a device or the
 * host, save), engine_place.c (placement of one item: probes, exclusions,
 * the run history) and engine_startup.c (targets, profiles and whether
 * OpenCL starts at all). Not a public interface. */
#ifndef CLD_ENGINE_H
#define CLD_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "executor.h"
#include "jobs.h"
#include "launch.h"
#include "placement.h"
#include "profile.h"
#include "targets.h"
#include "trace.h"

#define MAX_GROUPS 64
/* The load of other processes is read at a decision when its window has
 * run this long (shorter windows are too coarse for 10 ms ticks), then a
 * new window starts. */
#define LOAD_MIN_WINDOW_S 0.05
#define LOAD_REFRESH_S 0.25
/* Probes: in a batch of at least PROBE_MIN_ITEMS items, an item goes to
 * the runner-up when it is predicted within PROBE_RATIO of the choice but
 * has no runs at this size, until CLD_HISTORY_MIN_SAMPLES items have
 * measured it; at most one item in PROBE_SHARE is a probe. */
#define PROBE_MIN_ITEMS 8u
#define PROBE_RATIO 1.5
#define PROBE_SHARE 8u
/* A device that fails this many items is not used for the rest of the
 * batch. */
#define DEVICE_MAX_ERRORS 2u
/* The progress line is redrawn at most this often. */
#define PROGRESS_EVERY_S 0.2

struct item {
    char *src[2];   /* inputs (NULL for generators; two for matmul) */
    char *out;      /* output path */
    enum cld_status st;
    char *err;      /* one line, when st != CLD_OK */
    double seconds; /* load + compute + save */
    struct batch *b;
    /* The job the item runs: the batch's, or after shrink-on-load of a
     * chain that starts with resize the item's own copy of it (chain,
     * owned, freed with the item; chain.h cld_chain_shrunk). */
    const struct cld_job *job;
    struct cld_chain *chain;
    struct cld_params params; /* the batch's, or after shrink-on-load
                                 resize's output size as --size */
    unsigned shrink;          /* JPEG decoded at 1/shrink scale */
    double full_pixels;       /* then the image's own pixel count */
    bool retried;             /* ran again after a device error */
    uint64_t failed_on;       /* bit t: target t had a device error */
};

/* Items of one size bucket placed on one target, for --explain. A split
 * chain item (split_at > 0) counts on the target of its part predicted
 * to take longer (target), with the other part's target in other. */
struct group {
    int bucket;
    int target;
    unsigned split_at;  /* 0: whole items */
    int other;          /* the split's other target; -1 for whole items */
    unsigned items;
    double run_s;   /* sum of the measured compute times */
    unsigned timed;
};

struct batch {
    const struct cld_batch_opts *o;
    struct item *items;
    size_t nitems, cap;
    struct cld_targets *targets;
    int forced;            /* target index from --device; -1: auto */
    const char *spec;      /* the selector, for messages */
    struct cld_profile_store *store;  /* NULL: no cache folder */
    pthread_mutex_t lock;  /* guards what follows, and printing */
    struct cld_history hist;   /* saved history plus this batch's */
    struct cld_history fresh;  /* this batch's measurements */
    bool excluded[CLD_PLAN_MAX];
    char why[CLD_PLAN_MAX][336];
    struct group groups[MAX_GROUPS];
    size_t ngroups;
    struct cld_load_meter load;  /* other processes' load since then */
    struct group probes[MAX_GROUPS];  /* items sent to measure a target */
    size_t nprobes;
    unsigned probes_total;
    unsigned shrunk[4];    /* items decoded at 1/2, 1/4, 1/8 (index 1..3) */
    double preplan_host_s; /* the run on the host, before OpenCL starts */
    double preplan_best_s; /* start-up plus each item on its best target */
    double discovery_s;    /* this batch's discovery, when it ran one */
    bool hist_loaded;      /* hist was read before discovery */
    struct cld_executor *ex;
    /* How ex's workers wait for a device's ring slot: finishing items,
     * woken when a slot comes back (cld_engine_ring_waiter_init). */
    struct cld_ring_waiter ring_waiter;
    /* Threads that fsync and rename the outputs the workers have written,
     * so that no worker waits on the disk; NULL in the sequential loop
     * (--inflight 1), which saves each output whole before the next. */
    struct cld_executor *commits;
    struct cld_trace *trace;   /* the timeline (always: the summary) */
    double t_start;            /* when the batch began */
    double cpu_start;          /* the process's CPU time then */
    double pixels;             /* input pixels of the items done */
    unsigned done, failed;     /* items finished so far */
    unsigned errors[CLD_PLAN_MAX]; /* device errors per target */
    unsigned retried, dropped;
    bool progress_shown;       /* a progress line is on the terminal */
    unsigned nrun;             /* items submitted */
    double progress_s;         /* when it was drawn */
    /* Targets set up while the first items decode (cld_engine_setup_begin
     * and _end, on the batch's thread while another one submits the
     * items): workers wait for them (cld_engine_setup_wait) before
     * placing an item. */
    bool setup_pending;        /* begun, with workers possibly waiting */
    pthread_cond_t setup_cond; /* with lock: setup_done set */
    bool setup_done;
    enum cld_status setup_st;
};

/* Set b->ring_waiter up for b->ex's workers. */
void cld_engine_ring_waiter_init(struct batch *b);

/* One item's task for the executor, and its completion callback (user is
 * the batch). */
enum cld_status cld_engine_run_item(void *arg);
void cld_engine_item_done(struct cld_future *f, void *user);

/* The progress line (with --progress), at most every PROGRESS_EVERY_S
 * unless force. Caller holds b->lock. */
void cld_engine_progress(struct batch *b, bool force);

/* Place one item of job (engine_place.c): fill plan and *target, and
 * *probe (may be NULL) with the probe record when the item goes to measure
 * a target; targets in the bit set avoid are left out. Caller holds
 * b->lock. */
enum cld_status cld_engine_choose(struct batch *b, const struct cld_job *job,
                                  const struct cld_params *p,
                                  const struct cld_data *in, uint64_t avoid,
                                  struct cld_plan *plan, int *target,
                                  struct group **probe);
/* Give back a probe whose item measured nothing. Caller holds b->lock. */
void cld_engine_probe_return(struct batch *b, struct group *g);
/* Exclude target i for the rest of the batch, "what: line"; true for the
 * caller that excluded it first. Caller holds b->lock. */
bool cld_engine_exclude(struct batch *b, int i, const char *what,
                        const char *line);
/* An item of job done on target in `seconds`: count it, and record the
 * time unless it includes a program build (timed false). */
void cld_engine_record(struct batch *b, int target, const struct cld_job *job,
                       const struct cld_params *p, const struct cld_data *in,
                       double seconds, bool timed);

/* A split item of chain job done (plan->split): each part's time
 * recorded in the run history under its own job (a step's, or the
 * sub-chain's) and
 * target, unless it includes a program build (timed[k] false); mid is
 * the intermediate. The item counts in its group. */
void cld_engine_record_split(struct batch *b, const struct cld_job *job,
                             const struct cld_split *s,
                             const struct cld_data *in,
                             const struct cld_data *mid,
                             const double seconds[2], const bool timed[2]);
/* Shrink-on-load (engine.c): the resize parameters whose output size a
 * JPEG input of the batch may be decoded down to (the job's for resize,
 * the first step's for a chain that starts with resize), or NULL when
 * the batch decodes at full size (another job, --no-shrink-on-load). */
const struct cld_params *cld_engine_shrink_params(const struct batch *b);
/* After the input of it was decoded at 1/shrink scale from a full width x
 * height (upright; turned upright by EXIF orientation after the decode, 1
 * when not): what the item runs so that its output is the size the full
 * image gives. The resize that takes the reduced decode asks for that
 * size and maps by the decode's true extent (cld_resize_set_source); for
 * resize its parameters, for a chain its own copy (it->chain, it->job),
 * whose first step is that resize, or is left out when it would only
 * copy. */
enum cld_status cld_engine_shrunk(struct item *it, uint32_t width,
                                  uint32_t height, unsigned shrink,
                                  int orientation);

/* Set up b->targets for the selector (engine_startup.c), or in auto mode
 * decide from the cached inventory that no item needs OpenCL. */
enum cld_status cld_engine_setup_targets(struct batch *b);
/* Setting the targets up while the workers decode the first items
 * (OpenCL's start-up is then not paid before the first decode): begin
 * before the items are submitted, end with the setup's status once
 * cld_engine_setup_targets returns. A worker calls wait before placing
 * an item: it returns once the setup has ended, with its status (on
 * failure the batch fails with the setup's error, and the item is
 * dropped without a message of its own); without a begin, CLD_OK at
 * once. OpenCL starts on the batch's thread either way: a thread that
 * starts LLVM (PoCL's compiler) gets LLVM's alternate signal stack,
 * which AddressSanitizer then fails to unmap when that thread ends. */
void cld_engine_setup_begin(struct batch *b);
void cld_engine_setup_end(struct batch *b, enum cld_status st);
enum cld_status cld_engine_setup_wait(struct batch *b);
/* After a batch that started OpenCL: save what the next run prices in. */
void cld_engine_save_inventory(struct batch *b);

#endif
