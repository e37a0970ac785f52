/* The placement and kernel benchmarks. Both time cld_job_run on synthetic
 * inputs through cld_calibrate_measure, as calibration does. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "clock.h"
#include "jobs.h"
#include "placement.h"
#include "profile.h"
#include "targets.h"

/* The benchmarks reach devices only through the targets layer. */
#ifdef __OPENCL_CL_H
#error "bench.c should not see CL/cl.h"
#endif

#define PLACEMENT_RUNS 13u       /* cells of up to LARGE_CELL elements */
#define PLACEMENT_RUNS_LARGE 7u  /* larger cells: each run costs more */
#define PLACEMENT_RUNS_QUICK 3u
#define LARGE_CELL (4u << 20)
#define KERNEL_RUNS 5u
#define KERNEL_WIDTH 4000u
#define KERNEL_HEIGHT 3000u
#define TIE_MARGIN 1.05   /* "within 5%" in the summary */
#define MAX_RUNS CLD_MEASURE_MAX_RUNS
#define LOAD_WINDOW_S 0.1 /* load sampled before each decision */

struct size {
    uint32_t w, h;
};

static const struct size sizes_full[] = {
    {256, 256}, {1024, 1024}, {4000, 3000}};
static const struct size sizes_quick[] = {{256, 256}, {1024, 768}};

/* Shared set-up: targets, the store (NULL when there is no cache folder)
 * and the history it holds. */
struct env {
    struct cld_targets *t;
    struct cld_profile_store *s;
    struct cld_history hist;
    unsigned nprofiles;
};

static void env_close(struct env *e)
{
    cld_history_clear(&e->hist);
    cld_profile_store_close(e->s);
    cld_targets_destroy(e->t);
}

static enum cld_status env_open(const struct cld_bench_opts *o, bool load,
                                struct env *e)
{
    char warn[512];
    enum cld_status st;

    memset(e, 0, sizeof *e);
    cld_history_init(&e->hist);
    st = cld_targets_discover(false, &e->t);
    if (st != CLD_OK) {
        fprintf(o->err, "cldispatch: warning: device discovery failed (%s); "
                "host only\n", cld_error_detail());
        st = cld_targets_discover(true, &e->t);
        if (st != CLD_OK)
            return st;
    }
    cld_targets_warn_dropped(e->t, o->err);
    if (!load)
        return CLD_OK;
    if (cld_profile_store_open(NULL, &e->s) != CLD_OK) {
        fprintf(o->err, "cldispatch: warning: %s; nothing is saved\n",
                cld_error_detail());
        return CLD_OK;
    }
    st = cld_targets_load(e->t, e->s, &e->hist, &e->nprofiles, warn,
                          sizeof warn);
    if (warn[0])
        fprintf(o->err, "cldispatch: warning: %s\n", warn);
    if (st != CLD_OK) {
        fprintf(o->err, "cldispatch: warning: profiles not loaded: %s\n",
                cld_error_detail());
        st = CLD_OK;
    }
    return st;
}

static size_t history_samples(const struct cld_history *h)
{
    size_t n = 0;

    for (size_t i = 0; i < h->n; i++)
        n += h->entries[i].n;
    return n;
}

static const char *size_text(const struct cld_job *job, uint32_t w,
                             uint32_t h, char *buf, size_t len)
{
    if (job->input == CLD_DATA_MATRIX) {
        uint32_t n = cld_targets_matrix_side(w, h);

        snprintf(buf, len, "n=%u", n);
    } else {
        snprintf(buf, len, "%ux%u", w, h);
    }
    return buf;
}

static const char *time_text(double s, char *buf, size_t len)
{
    if (!isfinite(s))
        return snprintf(buf, len, "-"), buf;
    return cld_format_seconds(buf, len, s);
}

/* --- placement --------------------------------------------------------- */

struct tally {
    unsigned cells, fastest, tied, within, failed;
    unsigned halves, halves_agree;  /* the measurement's repeatability */
    unsigned again, same;   /* cells measured in an earlier pass; same
                               fastest target as there */
    double log_sum;
    unsigned nlog;
};

/* Lower quartile of the n runs at v, interpolated (v is not changed). */
static double lower_quartile(const double *v, unsigned n)
{
    double c[MAX_RUNS], pos = 0.25 * (n - 1);
    unsigned i = (unsigned)pos;

    memcpy(c, v, n * sizeof *c);
    cld_sort_doubles(c, n);
    if (i + 1 >= n)
        return c[n - 1];
    return c[i] + (c[i + 1] - c[i]) * (pos - i);
}

/* Would the measurement name the same fastest target twice? The fastest
 * of the even rounds against that of the odd ones (runs >= 2): no choice
 * can agree with the measurement more often than the measurement agrees
 * with itself. */
static bool halves_agree(const double *samples, unsigned runs, size_t nt,
                         const bool *use, const enum cld_status *sts)
{
    int half[2] = {-1, -1};
    double hb[2][CLD_PLAN_MAX];

    for (size_t i = 0; i < nt; i++) {
        if (!use[i] || sts[i] != CLD_OK)
            continue;
        hb[0][i] = hb[1][i] = INFINITY;
        for (unsigned k = 0; k < runs; k++) {
            double v = samples[i * runs + k];

            hb[k % 2][i] = v < hb[k % 2][i] ? v : hb[k % 2][i];
        }
        for (int h = 0; h < 2; h++) {
            if (half[h] < 0 || hb[h][i] < hb[h][half[h]])
                half[h] = (int)i;
        }
    }
    return half[0] == half[1];
}

/* One cell: decide, then measure every target. The fastest target is the
 * one with the fastest run (other processes only add time). The choice
 * ties with it when the measurement cannot tell them apart: the choice's
 * fastest run is no slower than the lower-quartile run of the fastest
 * target, i.e. the fastest one did not repeat its best run often enough
 * to be told apart (with 5 runs: its second-fastest; with 13: its
 * fourth-fastest). */
static int placement_cell(const struct cld_bench_opts *o, struct env *e,
                          const struct cld_job *job, struct size sz,
                          unsigned runs, int before,
                          struct cld_history *fresh, struct tally *ty)
{
    size_t nt = cld_targets_count(e->t);
    const struct cld_target_profile *prof = cld_targets_profiles(e->t);
    struct cld_params p;
    struct cld_data in;
    struct cld_workload w;
    struct cld_plan plan;
    double tm[CLD_PLAN_MAX], samples[CLD_PLAN_MAX * MAX_RUNS];
    bool use[CLD_PLAN_MAX];
    enum cld_status sts[CLD_PLAN_MAX];
    char why[CLD_PLAN_MAX][256], buf[64], pred[32];
    int fastest = -1, chosen;
    double busy;
    unsigned cores;
    enum cld_status st;

    cld_params_default(&p, job);
    st = cld_targets_synth_input(job, sz.w, sz.h, true, &p, &in);
    if (st != CLD_OK) {
        fprintf(o->err, "cldispatch: warning: %s: %s\n", job->name,
                cld_error_detail());
        return -1;
    }
    cld_targets_workload(job, &p, &in, &w);
    /* Decide as a run would: from the profiles, the history and the load
     * that other processes put on the machine right now. */
    busy = cld_targets_busy_cores(LOAD_WINDOW_S, &cores);
    cld_targets_set_load(e->t, busy, cores);
    cld_plan_init(&plan);
    chosen = cld_targets_decide(e->t, job, &p, &in, &e->hist, &plan)
                     == CLD_OK ? plan.chosen : -1;
    cld_targets_set_load(e->t, -1, 0);
    for (size_t i = 0; i < nt; i++)
        use[i] = !plan.cand[i].excluded;
    /* Interleaved, so that a change of load on a shared machine does not
     * favour whichever target ran when it was quiet. */
    cld_calibrate_measure_all(e->t, use, job, &p, &in, 1, runs, tm, samples,
                              sts, why);
    for (size_t i = 0; i < nt; i++) {
        if (!use[i])
            continue;
        if (sts[i] != CLD_OK) {
            fprintf(o->err, "cldispatch: warning: %s on %s: %s\n", job->name,
                    prof[i].name, why[i]);
            continue;
        }
        for (unsigned k = 0; k < runs; k++)
            cld_history_add(fresh, job->name, w.params, prof[i].key,
                            cld_history_work(&w), samples[i * runs + k]);
        if (fastest < 0 || tm[i] < tm[fastest])
            fastest = (int)i;
    }
    cld_data_free(&in);
    if (fastest >= 0 && runs >= 2) {
        ty->halves++;
        ty->halves_agree += halves_agree(samples, runs, nt, use, sts);
    }
    fprintf(o->out, "%-12s %-10s", job->name,
            size_text(job, sz.w, sz.h, buf, sizeof buf));
    for (size_t i = 0; i < nt; i++)
        fprintf(o->out, " %10s", time_text(tm[i], buf, sizeof buf));
    if (fastest < 0) {
        fprintf(o->out, "  (no target ran it)\n");
        return -1;
    }
    ty->cells++;
    if (before >= 0) {
        ty->again++;
        ty->same += before == fastest;
    }
    fprintf(o->out, "  %-8s", cld_calibrate_label(e->t, (size_t)fastest, buf,
                                                  sizeof buf));
    if (chosen < 0 || !isfinite(tm[chosen])) {
        ty->failed++;
        fprintf(o->out, " %-8s %10s %8s\n", chosen < 0 ? "none" : "failed",
                "-", "-");
        return fastest;
    }
    {
        double slow = tm[chosen] / tm[fastest];
        bool tie = chosen != fastest
                   && tm[chosen] <= lower_quartile(samples
                                                      + (size_t)fastest
                                                            * runs,
                                                  runs);

        ty->fastest += chosen == fastest;
        ty->tied += tie;
        ty->within += slow <= TIE_MARGIN;
        ty->log_sum += log(slow);
        ty->nlog++;
        fprintf(o->out, " %-8s %10s %7.2fx %-4s %5.1f\n",
                cld_calibrate_label(e->t, (size_t)chosen, buf, sizeof buf),
                time_text(plan.cand[chosen].seconds, pred, sizeof pred),
                slow, chosen == fastest ? "" : tie ? "tie" : "*",
                busy >= 0 ? busy : 0.0);
        if (o->explain && chosen != fastest)
            cld_plan_print(o->out, &plan);
    }
    fflush(o->out);
    return fastest;
}

static void print_summary(const struct cld_bench_opts *o,
                          const struct tally *ty, bool legend)
{
    if (ty->cells == 0) {
        fprintf(o->out, "no cell could be measured\n");
        return;
    }
    if (legend)
        fprintf(o->out, "fastest = the target with the fastest run; tie "
                "(\"tie\" above) = the choice's fastest run is no slower "
                "than the fastest target's lower-quartile run (it did not "
                "repeat its best run often enough to be told apart)\n");
    fprintf(o->out, "choice was the fastest in %u of %u cells (%.1f%%, "
            "strict); the fastest or tied with it in %u (%.1f%%); within "
            "5%% of the fastest in %u (%.1f%%)\n", ty->fastest, ty->cells,
            100.0 * ty->fastest / ty->cells, ty->fastest + ty->tied,
            100.0 * (ty->fastest + ty->tied) / ty->cells, ty->within,
            100.0 * ty->within / ty->cells);
    if (ty->halves)
        fprintf(o->out, "repeatability of the measurement itself: its even "
                "and odd rounds named the same fastest target in %u of %u "
                "cells (%.1f%%)", ty->halves_agree, ty->halves,
                100.0 * ty->halves_agree / ty->halves);
    if (ty->again)
        fprintf(o->out, "%sass 1 named the same fastest target as this "
                "pass in %u of %u (%.1f%%): no choice made before a "
                "measurement can agree with it much more often",
                ty->halves ? "; p" : "p", ty->same, ty->again,
                100.0 * ty->same / ty->again);
    if (ty->halves || ty->again)
        fputc('\n', o->out);
    fprintf(o->out, "geometric-mean slowdown of the choice vs the fastest: "
            "%.3fx over %u cells%s\n",
            ty->nlog ? exp(ty->log_sum / ty->nlog) : 1.0, ty->nlog,
            ty->failed ? " (the choice failed in some cells)" : "");
}

enum cld_status cld_bench_placement(const struct cld_bench_opts *o)
{
    const struct size *sizes = o->quick ? sizes_quick : sizes_full;
    size_t nsizes = o->quick ? sizeof sizes_quick / sizeof *sizes_quick
                             : sizeof sizes_full / sizeof *sizes_full;
    unsigned runs = o->runs ? o->runs
                            : o->quick ? PLACEMENT_RUNS_QUICK : PLACEMENT_RUNS;
    unsigned runs_large = o->runs ? o->runs
                          : o->quick ? PLACEMENT_RUNS_QUICK
                                     : PLACEMENT_RUNS_LARGE;
    unsigned passes = o->passes ? o->passes : o->quick ? 1 : 2;
    int *first = NULL;  /* fastest target per cell in pass 1 */
    size_t ncells = 0;
    struct cld_history fresh;
    struct env e;
    const struct cld_job *job;
    char lab[48];
    double t0 = cld_now_s();
    size_t nt, nloaded, ncal = 0;
    bool any = false;
    enum cld_status st;

    if (runs > MAX_RUNS)
        runs = MAX_RUNS;
    cld_history_init(&fresh);
    if ((st = env_open(o, true, &e)) != CLD_OK)
        return st;
    nt = cld_targets_count(e.t);
    nloaded = history_samples(&e.hist);
    for (size_t j = 0; (job = cld_job_at(j)) != NULL; j++) {
        if (!o->job || strcmp(o->job, job->name) == 0) {
            any = true;
            ncells += nsizes;
        }
    }
    if (!any) {
        st = cld_error_set(CLD_ERR_USAGE, "no job named '%s'", o->job);
        goto out;
    }
    first = malloc(ncells * sizeof *first);
    if (!first) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!o->no_calibrate) {
        struct cld_calibrate_opts co = {
            .job = o->job, .runs = 0, .out = o->out, .err = o->err};
        struct cld_history cal;

        fprintf(o->out, "step 1: calibration, as `cldispatch --calibrate` "
                "does\n");
        cld_history_init(&cal);
        st = cld_calibrate(e.t, e.s, &cal, &co);
        ncal = history_samples(&cal);
        if (st == CLD_OK
            && cld_calibrate_merge_history(&e.hist, &cal) != CLD_OK)
            fprintf(o->err, "cldispatch: warning: run history: %s\n",
                    cld_error_detail());
        cld_history_clear(&cal);
        if (st != CLD_OK)
            goto out;
        fprintf(o->out, "\nstep 2: ");
    } else {
        fprintf(o->out, "no calibration now (--no-calibrate): %u saved "
                "profile%s\n", e.nprofiles, e.nprofiles == 1 ? "" : "s");
    }
    fprintf(o->out, "placement decided from the calibrated profiles and the "
            "run history (%zu sample%s from earlier runs, %zu from the "
            "calibration, the newest %d per job, size and target kept); "
            "then every target measured (fastest of %u run%s, "
            "%u for items over %u Mpixels, after a warm-up; targets "
            "interleaved in random order; I/O excluded); busy = cores "
            "that other processes kept busy over %.0f ms before the "
            "decision\n", nloaded,
            nloaded == 1 ? "" : "s", ncal, CLD_HISTORY_SAMPLES,
            runs, runs == 1 ? "" : "s", runs_large, LARGE_CELL >> 20,
            LOAD_WINDOW_S * 1e3);
    for (size_t i = 0; i < nt; i++)
        fprintf(o->out, "  %-8s %s\n",
                cld_calibrate_label(e.t, i, lab, sizeof lab),
                cld_targets_profiles(e.t)[i].name);
    for (unsigned pass = 0; pass < passes && st == CLD_OK; pass++) {
        struct cld_history mine;
        struct tally ty = {0};

        cld_history_init(&mine);
        if (passes > 1)
            fprintf(o->out, "\npass %u of %u: %s\n", pass + 1, passes,
                    pass == 0 ? "the first run of each size: decisions "
                                "from the calibration"
                              : "the same grid again: decisions with the "
                                "earlier passes' measurements in the run "
                                "history, as a later run of these sizes "
                                "gets them");
        fprintf(o->out, "%-12s %-10s", "job", "size");
        for (size_t i = 0; i < nt; i++)
            fprintf(o->out, " %10s", cld_calibrate_label(e.t, i, lab,
                                                           sizeof lab));
        fprintf(o->out, "  %-8s %-8s %10s %8s %-4s %5s\n", "fastest",
                "choice", "predicted", "slowdown", "", "busy");
        for (size_t j = 0, cell = 0; (job = cld_job_at(j)) != NULL; j++) {
            if (o->job && strcmp(o->job, job->name) != 0)
                continue;
            for (size_t k = 0; k < nsizes; k++, cell++) {
                int f = placement_cell(o, &e, job, sizes[k],
                                       (uint64_t)sizes[k].w * sizes[k].h
                                               > LARGE_CELL
                                           ? runs_large : runs,
                                       pass ? first[cell] : -1, &mine, &ty);

                if (pass == 0)
                    first[cell] = f;
            }
        }
        print_summary(o, &ty, pass == 0);
        /* What this pass measured informs the next one, and is saved. */
        st = cld_calibrate_merge_history(&e.hist, &mine);
        if (st == CLD_OK)
            st = cld_calibrate_merge_history(&fresh, &mine);
        cld_history_clear(&mine);
    }
    if (e.s && cld_profile_record_many(e.s, &fresh) != CLD_OK)
        fprintf(o->err, "cldispatch: warning: history not saved: %s\n",
                cld_error_detail());
    fprintf(o->out, "total %.1f s; the measurements were added to the run "
            "history%s\n", cld_now_s() - t0,
            e.s ? "" : " (not saved: no cache folder)");
out:
    free(first);
    cld_history_clear(&fresh);
    env_close(&e);
    return st;
}

/* --- kernels ----------------------------------------------------------- */

enum cld_status cld_bench_kernels(const struct cld_bench_opts *o)
{
    uint32_t width = o->width ? o->width : KERNEL_WIDTH;
    uint32_t height = o->height ? o->height : KERNEL_HEIGHT;
    unsigned runs = o->runs ? o->runs : KERNEL_RUNS;
    struct env e;
    const struct cld_job *job;
    char lab[48], a[32], b[32], err1[256];
    size_t nt;
    bool any = false;
    enum cld_status st;

    if (runs > MAX_RUNS)
        runs = MAX_RUNS;
    if ((st = env_open(o, false, &e)) != CLD_OK)
        return st;
    nt = cld_targets_count(e.t);
    fprintf(o->out, "bench kernels: %ux%u RGB synthetic input (matrix jobs: "
            "n x n, n = %u), I/O excluded; median of %u run%s after a "
            "warm-up; cold = the first run in this process, with the "
            "program build (from source, or loaded from the binary "
            "cache)\n", width, height, cld_targets_matrix_side(width, height),
            runs, runs == 1 ? "" : "s");
    fprintf(o->out, "%-12s %-44s %-10s %10s %10s %10s  %s\n", "job",
            "target", "size", "cold", "median", "Melem/s", "program");
    for (size_t j = 0; (job = cld_job_at(j)) != NULL; j++) {
        struct cld_params p;
        struct cld_data in;
        struct cld_plan plan;

        if (o->job && strcmp(o->job, job->name) != 0)
            continue;
        any = true;
        cld_params_default(&p, job);
        if (cld_targets_synth_input(job, width, height, true, &p, &in)
            != CLD_OK) {
            fprintf(o->err, "cldispatch: warning: %s: %s\n", job->name,
                    cld_error_detail());
            continue;
        }
        cld_plan_init(&plan);
        cld_targets_decide(e.t, job, &p, &in, NULL, &plan);
        for (size_t i = 0; i < nt; i++) {
            const struct cld_target_profile *prof =
                &cld_targets_profiles(e.t)[i];
            struct cld_target_programs p0, p1;
            struct cld_workload w;
            double cold = NAN, med = NAN;
            char name[160], sz[32];
            const char *prog = "-";

            snprintf(name, sizeof name, "%s%s%s",
                     cld_calibrate_label(e.t, i, lab, sizeof lab),
                     prof->kind == CLD_TARGET_HOST ? "" : " ",
                     prof->kind == CLD_TARGET_HOST ? "" : prof->name);
            size_text(job, width, height, sz, sizeof sz);
            if (plan.cand[i].excluded) {
                fprintf(o->out, "%-12s %-44.44s %-10s excluded: %s\n",
                        job->name, name, sz, plan.cand[i].reason);
                continue;
            }
            /* Zeros while the device's context is not open: the
             * measurement opens it. */
            cld_targets_programs(e.t, i, &p0);
            st = cld_calibrate_measure(e.t, i, job, &p, &in, 1, runs, &cold,
                                       &med, NULL, NULL);
            if (st != CLD_OK) {
                fprintf(o->out, "%-12s %-44.44s %-10s failed: %s\n",
                        job->name, name, sz,
                        cld_calibrate_first_error(cld_error_detail(), err1,
                                                  sizeof err1));
                st = CLD_OK;
                continue;
            }
            if (cld_targets_programs(e.t, i, &p1))
                prog = p1.source_builds > p0.source_builds ? "source build"
                       : p1.binary_loads > p0.binary_loads ? "binary cache"
                                                           : "built before";
            cld_targets_workload(job, &p, &in, &w);
            fprintf(o->out, "%-12s %-44.44s %-10s %10s %10s %10.1f  %s\n",
                    job->name, name, sz, time_text(cold, a, sizeof a),
                    time_text(med, b, sizeof b),
                    (double)w.elements / med / 1e6, prog);
            fflush(o->out);
        }
        cld_data_free(&in);
    }
    if (!any)
        st = cld_error_set(CLD_ERR_USAGE, "no job named '%s'", o->job);
    env_close(&e);
    return st;
}
