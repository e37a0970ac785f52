/* Benchmarks (`cldispatch bench placement|kernels`). They print figures and
 * judge nothing: the placement benchmark runs every job at several sizes
 * on every target and reports how often the automatic choice was the
 * fastest; the kernel benchmark reports each job's throughput per target
 * on a large synthetic image. */
#ifndef CLD_BENCH_H
#define CLD_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

struct cld_bench_opts {
    const char *job;       /* only this job; NULL: every job */
    bool quick;            /* placement: fewer and smaller sizes */
    bool no_calibrate;     /* placement: use the saved profiles as they are */
    bool explain;          /* placement: the plan of each cell it missed */
    unsigned runs;         /* timed runs per cell; 0: the default */
    unsigned passes;       /* placement: passes over the grid; 0: 2
                              (--quick: 1) */
    uint32_t width;        /* kernels: the image size; 0: 4000 x 3000 */
    uint32_t height;
    const char *folder;    /* pipeline: the inputs; NULL: derived */
    const char *device;    /* pipeline: the selector; NULL: auto */
    FILE *out;             /* tables (stdout) */
    FILE *err;             /* warnings (stderr) */
};

/* Calibrate (unless no_calibrate), then, `passes` times over the grid
 * (each pass deciding with the earlier passes' measurements in the
 * history), for each job x size decide the
 * target from the profiles, the history and the machine's load right then
 * (cld_targets_busy_cores), measure every target (interleaved in random
 * order, cld_calibrate_measure_all), and print the table, the share of
 * cells where the choice was the fastest (the target with the fastest
 * run; strict), where it was the fastest or tied with it (its fastest run
 * no slower than the fastest target's lower-quartile run: the measurement
 * does not tell them apart), where it was within 5%, and the
 * geometric-mean slowdown of the choice against the fastest; also how
 * often the measurement agrees with itself (its even and odd rounds, and
 * pass 1 against later passes). The measured times are recorded in the run
 * history, like any run's. */
enum cld_status cld_bench_placement(const struct cld_bench_opts *o);

/* Per job and target: the first (cold) run, the median of `runs` runs
 * after a warm-up, and millions of elements (pixels) per second. */
enum cld_status cld_bench_kernels(const struct cld_bench_opts *o);

/* Blur PPM -> PPM on a folder (or 64 1920x1080 images derived from
 * ./samples/images), whole batches as `cldispatch run` makes them, best of
 * `runs` interleaved rounds of: --inflight 1 and pipelined, in zero-copy
 * and copy-path modes; prints wall time, images/s, the ratio to
 * --inflight 1 and the overlap efficiency of each. */
enum cld_status cld_bench_pipeline(const struct cld_bench_opts *o);

#endif
