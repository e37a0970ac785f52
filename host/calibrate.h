/* Calibration (`cldispatch --calibrate`): short micro-benchmarks that give
 * each target its measured figures — bus bandwidth both ways, the fixed
 * cost of one enqueue, and every job's throughput — for the placement cost
 * model, saved in the profile store. Also the timing helper that the
 * benchmarks and tests share, so that all of them measure the same thing:
 * one cld_job_run (buffers, transfers and kernels; no file I/O). */
#ifndef CLD_CALIBRATE_H
#define CLD_CALIBRATE_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "jobs.h"
#include "placement.h"
#include "profile.h"
#include "targets.h"

struct cld_calibrate_opts {
    const char *job;  /* only this job; NULL: every job of the catalogue */
    unsigned runs;    /* timed runs per sweep after the warm-up; 0: 5 */
    FILE *out;        /* the tables; NULL: quiet */
    FILE *err;        /* warnings; NULL: stderr */
};

/* Calibrate every target of t. Each job runs on synthetic inputs of four
 * sizes, targets interleaved (cld_calibrate_measure_all), in two sweeps
 * over all the jobs (a burst of load rarely covers both). A tiny one and
 * CLD_CALIBRATE_WIDTH x CLD_CALIBRATE_HEIGHT (the fastest of opts->runs
 * runs after a warm-up, in either sweep) give the fixed cost per item and
 * the rate, which update the measured fields of t's profiles (load them
 * from the store first: rates of jobs not measured now are kept) and are
 * saved to s when s is non-NULL. A small size takes opts->runs runs as
 * well, and CLD_CALIBRATE_LARGE_WIDTH x CLD_CALIBRATE_LARGE_HEIGHT three
 * per sweep on the targets predicted within 3x of the best there. Every
 * timed run is run history, recorded in s and added to *hist when hist is
 * non-NULL: placement estimates the sizes between from them. A target or
 * job that fails (context, kernel build) is reported and skipped; the
 * status is an error only when nothing could be measured. */
enum cld_status cld_calibrate(struct cld_targets *t,
                              struct cld_profile_store *s,
                              struct cld_history *hist,
                              const struct cld_calibrate_opts *o);

/* Time job on input in with params p on target i of t: `warmups` untimed
 * runs (the first one's time in *cold_s when cold_s is non-NULL and
 * warmups > 0), then `runs` timed runs (>= 1), their times in samples[]
 * (may be NULL; room for `runs`) and their median in *median_s. When out
 * is non-NULL it receives the result of the last run (the caller frees it
 * with cld_data_free). */
enum cld_status cld_calibrate_measure(struct cld_targets *t, size_t i,
                                      const struct cld_job *job,
                                      const struct cld_params *p,
                                      const struct cld_data *in,
                                      unsigned warmups, unsigned runs,
                                      double *cold_s, double *median_s,
                                      double *samples, struct cld_data *out);

/* Most timed runs cld_calibrate_measure_all takes per target. */
#define CLD_MEASURE_MAX_RUNS 16u

/* Items whose warm-up ran shorter than this get one dropped run before
 * each timed one (see cld_calibrate_measure_all). */
#define CLD_MEASURE_REWARM_S 5e-3

/* Time job on every target i of t with use[i] (use NULL: all) the same
 * way, interleaved: the warm-ups first, then `runs` rounds (at most
 * CLD_MEASURE_MAX_RUNS) that each time every target once, in a new random
 * order each round, so that a change in the machine's load hits all
 * targets alike. A target whose last warm-up took under
 * CLD_MEASURE_REWARM_S also runs once untimed before each timed run: right
 * after another target the caches hold that one's data (needs warmups >
 * 0). Per target: best_s[i], the fastest of its runs (load from other
 * processes only adds time; NAN when skipped or failed), status[i] (may
 * be NULL) with the first line of the error in why[i] (may be NULL), and
 * the runs' times in samples[i * runs + k] (may be NULL). */
void cld_calibrate_measure_all(struct cld_targets *t, const bool *use,
                               const struct cld_job *job,
                               const struct cld_params *p,
                               const struct cld_data *in, unsigned warmups,
                               unsigned runs, double *best_s,
                               double *samples, enum cld_status *status,
                               char (*why)[256]);

/* The first line of an error detail that says what went wrong: for a
 * kernel build failure, the first line of the build log that mentions an
 * error, else the detail's first line. Into buf. */
const char *cld_calibrate_first_error(const char *detail, char *buf,
                                      size_t len);

/* Short column label of target i: "host", "[0] cpu", "[1] gpu"... */
const char *cld_calibrate_label(const struct cld_targets *t, size_t i,
                                char *buf, size_t len);

/* Copy every sample of src into dst. */
enum cld_status cld_calibrate_merge_history(struct cld_history *dst,
                                            const struct cld_history *src);

#endif
