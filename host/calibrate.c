/* Micro-benchmarks for the placement model: bandwidth, fixed cost per item
 * and per-job rates of every target, in a few seconds. */
#include "calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "clw.h"

#define DEFAULT_RUNS 5u   /* per sweep */
#define BW_BYTES ((size_t)32 << 20)  /* bandwidth probe size */
#define TINY_SIDE 32u                 /* fixed-cost probe: 32x32 items */
#define SMALL_WIDTH 320u              /* a small item: QVGA, 2^16 pixels */
#define SMALL_HEIGHT 240u
#define MIN_COMPUTE_SHARE 0.05        /* of a run, when removing overheads */
#define LARGE_RUNS 3u     /* large-size runs per sweep, after a warm-up */
#define SWEEPS 2u         /* passes over all the jobs */
#define LARGE_PRUNE 3.0   /* skip targets predicted this much slower */

const char *cld_calibrate_first_error(const char *detail, char *buf,
                                      size_t len)
{
    const char *log = strstr(detail, "build log:\n");
    const char *line = detail;
    size_t n;

    if (log) {
        for (const char *p = log + 11; *p; p += n + (p[n] != '\0')) {
            n = strcspn(p, "\n");
            if (n && (strstr(p, "error") || strstr(p, "Error"))
                && (size_t)(strstr(p, "rror") - p) < n) {
                line = p;
                break;
            }
        }
    }
    n = strcspn(line, "\n");
    snprintf(buf, len, "%.*s", (int)n, line);
    return buf;
}

const char *cld_calibrate_label(const struct cld_targets *t, size_t i,
                                char *buf, size_t len)
{
    const struct cld_target_profile *p = &cld_targets_profiles(t)[i];

    if (p->kind == CLD_TARGET_HOST)
        snprintf(buf, len, "host");
    else
        snprintf(buf, len, "[%d] %s", p->device_index,
                 cld_target_kind_str(p->kind));
    return buf;
}

enum cld_status cld_calibrate_merge_history(struct cld_history *dst,
                                            const struct cld_history *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct cld_history_entry *e = &src->entries[i];

        for (size_t k = 0; k < e->n; k++) {
            enum cld_status st = cld_history_add(dst, e->job, e->params,
                                                 e->key,
                                                 e->samples[k].work,
                                                 e->samples[k].seconds);
            if (st != CLD_OK)
                return st;
        }
    }
    return CLD_OK;
}

enum cld_status cld_calibrate_measure(struct cld_targets *t, size_t i,
                                      const struct cld_job *job,
                                      const struct cld_params *p,
                                      const struct cld_data *in,
                                      unsigned warmups, unsigned runs,
                                      double *cold_s, double *median_s,
                                      double *samples, struct cld_data *out)
{
    struct cld_clctx *ctx = NULL;
    struct cld_data res;
    double *v = NULL, t0;
    enum cld_status st;
    unsigned total = warmups + (runs ? runs : 1);

    if (out)
        memset(out, 0, sizeof *out);
    if (runs == 0)
        runs = 1;
    if ((st = cld_targets_context(t, i, &ctx)) != CLD_OK)
        return st;
    v = malloc(runs * sizeof *v);
    if (!v)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (unsigned k = 0; k < total; k++) {
        t0 = cld_now_s();
        st = cld_job_run(job, ctx, p, in, &res);
        t0 = cld_now_s() - t0;
        if (st != CLD_OK)
            goto out;
        if (k == 0 && warmups > 0 && cold_s)
            *cold_s = t0;
        if (k >= warmups)
            v[k - warmups] = t0;
        if (k + 1 == total && out)
            *out = res;
        else
            cld_data_free(&res);
    }
    if (samples)
        memcpy(samples, v, runs * sizeof *v);
    *median_s = cld_median(v, runs);
out:
    free(v);
    return st;
}

/* Per-call state of the randomised target order. */
static uint32_t order_next(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x2545f491u;
}

void cld_calibrate_measure_all(struct cld_targets *t, const bool *use,
                               const struct cld_job *job,
                               const struct cld_params *p,
                               const struct cld_data *in, unsigned warmups,
                               unsigned runs, double *best_s,
                               double *samples, enum cld_status *status,
                               char (*why)[256])
{
    size_t nt = cld_targets_count(t), order[CLD_PLAN_MAX];
    struct cld_clctx *ctx[CLD_PLAN_MAX] = {0};
    bool live[CLD_PLAN_MAX], rewarm[CLD_PLAN_MAX];
    double v[CLD_PLAN_MAX][CLD_MEASURE_MAX_RUNS];
    struct cld_data res;
    uint32_t seed = (uint32_t)(cld_now_s() * 1e6) | 1u;

    if (runs == 0)
        runs = 1;
    if (runs > CLD_MEASURE_MAX_RUNS)
        runs = CLD_MEASURE_MAX_RUNS;
    for (size_t i = 0; i < nt; i++) {
        enum cld_status st = CLD_OK;

        best_s[i] = NAN;
        order[i] = i;
        rewarm[i] = false;
        live[i] = !use || use[i];
        if (live[i])
            st = cld_targets_context(t, i, &ctx[i]);
        if (status)
            status[i] = st;
        if (st != CLD_OK) {
            live[i] = false;
            if (why)
                cld_calibrate_first_error(cld_error_detail(), why[i], 256);
        } else if (why) {
            why[i][0] = '\0';
        }
    }
    for (unsigned k = 0; k < warmups + runs; k++) {
        /* A new random order each round: no target always runs right
         * after the same other one (whose cache footprint, frequency or
         * background load it would inherit). */
        for (size_t i = nt; i > 1; i--) {
            size_t j = order_next(&seed) % i, x = order[i - 1];

            order[i - 1] = order[j];
            order[j] = x;
        }
        for (size_t oi = 0; oi < nt; oi++) {
            size_t i = order[oi];
            enum cld_status st = CLD_OK;
            unsigned reps = k >= warmups && rewarm[i] ? 2 : 1;
            double t0 = 0;

            if (!live[i])
                continue;
            /* Short items: the run right after a switch of target finds
             * the caches holding the other target's data; it is run and
             * dropped, and the next one timed (an item of a batch runs
             * after another on the same target). */
            for (unsigned r = 0; r < reps; r++) {
                t0 = cld_now_s();
                st = cld_job_run(job, ctx[i], p, in, &res);
                t0 = cld_now_s() - t0;
                if (st != CLD_OK)
                    break;
                cld_data_free(&res);
            }
            if (st != CLD_OK) {
                live[i] = false;
                if (status)
                    status[i] = st;
                if (why)
                    cld_calibrate_first_error(cld_error_detail(), why[i],
                                              256);
                continue;
            }
            if (k + 1 == warmups)
                rewarm[i] = t0 < CLD_MEASURE_REWARM_S;
            if (k >= warmups)
                v[i][k - warmups] = t0;
        }
    }
    for (size_t i = 0; i < nt; i++) {
        if (!live[i])
            continue;
        if (samples)
            memcpy(samples + i * runs, v[i], runs * sizeof v[i][0]);
        /* Other processes only ever add time: the fastest run is the
         * closest to what the target can do. */
        best_s[i] = v[i][0];
        for (unsigned k = 1; k < runs; k++)
            best_s[i] = v[i][k] < best_s[i] ? v[i][k] : best_s[i];
    }
}

/* Blocking write and read of BW_BYTES, each the median of `runs` after a
 * warm-up. */
static enum cld_status bandwidth(struct cld_clctx *ctx, unsigned runs,
                                 double *h2d, double *d2h)
{
    cl_command_queue q = cld_clctx_queue(ctx);
    cl_mem buf = NULL;
    void *host = cld_buffer_alloc(BW_BYTES);
    double w[16], r[16], t0;
    enum cld_status st;

    *h2d = *d2h = 0;
    if (runs > 15)
        runs = 15;
    if (!host)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    memset(host, 0x5a, BW_BYTES);
    st = cld_clw_buffer(cld_clctx_context(ctx), CL_MEM_READ_WRITE, BW_BYTES,
                        NULL, &buf);
    for (unsigned k = 0; k <= runs && st == CLD_OK; k++) {
        t0 = cld_now_s();
        st = cld_clw_write(q, buf, true, 0, BW_BYTES, host, 0, NULL, NULL);
        w[k] = cld_now_s() - t0;
        if (st != CLD_OK)
            break;
        t0 = cld_now_s();
        st = cld_clw_read(q, buf, true, 0, BW_BYTES, host, 0, NULL, NULL);
        r[k] = cld_now_s() - t0;
    }
    if (st == CLD_OK) {
        /* Index 0 is the warm-up (first touch of the pages). */
        *h2d = (double)BW_BYTES / cld_median(w + 1, runs);
        *d2h = (double)BW_BYTES / cld_median(r + 1, runs);
    }
    cld_clw_release_mem(buf);
    cld_buffer_free(host);
    return st;
}

/* What one job measured on one target. */
struct point {
    bool ok;
    double big_s, tiny_s;
    uint64_t big_el, tiny_el;
    double big_work, tiny_work;  /* elements x ops per element */
    unsigned enqueues;
    uint64_t bytes_in, bytes_out;
};

static void warnf(const struct cld_calibrate_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warnf(const struct cld_calibrate_opts *o, const char *fmt, ...)
{
    FILE *f = o->err ? o->err : stderr;
    va_list ap;

    fputs("cldispatch: warning: ", f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

static double fixed_cost(const struct point *pt);

/* Targets worth timing at the large size: within LARGE_PRUNE of the best
 * prediction from the two smaller points (a target several times slower
 * cannot win there, and timing it would cost most of the calibration). */
static void prune_large(const struct point *pts, size_t nt, double work,
                        bool *live)
{
    double pred[CLD_PLAN_MAX], best = INFINITY;

    for (size_t i = 0; i < nt; i++) {
        const struct point *pt = &pts[i];
        double fixed;

        pred[i] = INFINITY;
        if (!live[i] || !pt->ok)
            continue;
        fixed = fixed_cost(pt);
        pred[i] = fixed + (pt->big_s - fixed) * work / pt->big_work;
        if (pred[i] < best)
            best = pred[i];
    }
    for (size_t i = 0; i < nt; i++)
        live[i] = live[i] && pred[i] <= LARGE_PRUNE * best;
}

/* The sizes calibration times each job at, in this order. */
enum pass { PASS_CAL, PASS_TINY, PASS_SMALL, PASS_LARGE, PASSES };

/* Measure job at the calibration size, the tiny, small and large sizes on
 * the targets marked in use; pts has one point per target (stride 1).
 * Every run goes to hist: estimates for the sizes between rest on these
 * measurements rather than on the linear model (small items are mostly
 * fixed cost, large memory-bound ones overflow the caches). A failure is
 * reported once and leaves that target's point not ok. */
static void measure_job(struct cld_targets *t, const bool *use,
                        const struct cld_job *job, unsigned runs,
                        const struct cld_calibrate_opts *o,
                        struct cld_history *hist, struct point *pts)
{
    const struct cld_target_profile *prof = cld_targets_profiles(t);
    size_t nt = cld_targets_count(t);
    bool live[CLD_PLAN_MAX];
    double med[CLD_PLAN_MAX], samples[CLD_PLAN_MAX * CLD_MEASURE_MAX_RUNS];
    enum cld_status st[CLD_PLAN_MAX];
    char why[CLD_PLAN_MAX][256];
    static const uint32_t size[PASSES][2] = {
        [PASS_CAL] = {CLD_CALIBRATE_WIDTH, CLD_CALIBRATE_HEIGHT},
        [PASS_TINY] = {TINY_SIDE, TINY_SIDE},
        [PASS_SMALL] = {SMALL_WIDTH, SMALL_HEIGHT},
        [PASS_LARGE] = {CLD_CALIBRATE_LARGE_WIDTH,
                        CLD_CALIBRATE_LARGE_HEIGHT}};

    for (size_t i = 0; i < nt; i++) {
        memset(&pts[i], 0, sizeof pts[i]);
        live[i] = use[i];
    }
    for (int pass = 0; pass < PASSES; pass++) {
        uint32_t wd = size[pass][0], ht = size[pass][1];
        unsigned n = pass == PASS_LARGE ? LARGE_RUNS : runs;
        struct cld_params p;
        struct cld_data in;
        struct cld_workload w;

        cld_params_default(&p, job);
        if (cld_targets_synth_input(job, wd, ht, true, &p, &in) != CLD_OK) {
            warnf(o, "%s: %s; not calibrated", job->name,
                  cld_error_detail());
            return;
        }
        cld_targets_workload(job, &p, &in, &w);
        if (pass == PASS_LARGE)
            prune_large(pts, nt, (double)cld_history_work(&w), live);
        for (size_t i = 0; i < nt; i++) {
            /* Skip what placement would exclude (fp64, allocation). */
            struct cld_plan plan;

            cld_plan_init(&plan);
            if (live[i] && cld_placement_decide(&w, &prof[i], 1, NULL, &plan)
                               != CLD_OK)
                live[i] = false;
        }
        /* Each size gets its own warm-up: the first run at a new size
         * allocates and first-touches bigger buffers. */
        cld_calibrate_measure_all(t, live, job, &p, &in, 1, n, med, samples,
                                  st, why);
        cld_data_free(&in);
        for (size_t i = 0; i < nt; i++) {
            struct point *pt = &pts[i];

            if (!live[i])
                continue;
            if (st[i] != CLD_OK) {
                warnf(o, "%s: %s: %s; not calibrated for it", prof[i].name,
                      job->name, why[i]);
                live[i] = false;
                continue;
            }
            for (unsigned k = 0; hist && k < n; k++)
                cld_history_add(hist, job->name, w.params, prof[i].key,
                                cld_history_work(&w), samples[i * n + k]);
            if (pass == PASS_CAL) {
                pt->big_s = med[i];
                pt->big_el = w.elements;
                pt->big_work = (double)cld_history_work(&w);
                pt->enqueues = (w.kernel_launches ? w.kernel_launches : 1)
                               + (w.bytes_in > 0) + (w.bytes_out > 0);
                pt->bytes_in = w.bytes_in;
                pt->bytes_out = w.bytes_out;
            } else if (pass == PASS_TINY) {
                pt->tiny_s = med[i];
                pt->tiny_el = w.elements;
                pt->tiny_work = (double)cld_history_work(&w);
                pt->ok = pt->big_work > pt->tiny_work && pt->big_s > 0;
            }
        }
    }
}

/* Fold the point of one sweep into *acc: the faster time of each size
 * (first: *acc is empty). A failure in any sweep leaves the point not
 * ok: the target is not reliable for the job. */
static void merge_point(struct point *acc, const struct point *one,
                        bool first)
{
    if (first) {
        *acc = *one;
        return;
    }
    if (!acc->ok || !one->ok) {
        acc->ok = false;
        return;
    }
    acc->big_s = one->big_s < acc->big_s ? one->big_s : acc->big_s;
    acc->tiny_s = one->tiny_s < acc->tiny_s ? one->tiny_s : acc->tiny_s;
}

/* Fixed seconds per item from the two points (a line through both). */
static double fixed_cost(const struct point *pt)
{
    double f = pt->tiny_work / pt->big_work;
    double fixed = (pt->tiny_s - pt->big_s * f) / (1 - f);

    if (fixed > pt->big_s)
        fixed = pt->big_s;
    return fixed > 0 ? fixed : 0;
}

static void print_rate(FILE *f, double r)
{
    char buf[32];

    if (r <= 0)
        snprintf(buf, sizeof buf, "-");
    else if (r >= 1e9)
        snprintf(buf, sizeof buf, "%.2f G/s", r / 1e9);
    else
        snprintf(buf, sizeof buf, "%.1f M/s", r / 1e6);
    fprintf(f, "  %12s", buf);
}

static const char *bw_text(double v, char *buf, size_t len)
{
    if (v <= 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.2f GB/s", v / 1e9);
    return buf;
}

/* Launch cost, bandwidths and rates of target i from its points. */
static unsigned fit_target(struct cld_target_profile *prof, bool device,
                           const struct point *pts, size_t stride,
                           const struct cld_job *const *jobs, size_t njobs,
                           double h2d, double d2h)
{
    double fixed[CLD_TARGET_RATES], launch;
    size_t nfixed = 0;
    unsigned measured = 0;

    for (size_t j = 0; j < njobs && device; j++) {
        const struct point *pt = &pts[j * stride];

        if (pt->ok)
            fixed[nfixed++] = fixed_cost(pt) / pt->enqueues;
    }
    if (device) {
        launch = nfixed ? cld_median(fixed, nfixed) : 0;
        /* A launch too short to time stays unknown (the prior). */
        prof->launch_s = launch > 1e-7 ? launch : 0;
        prof->h2d_bytes_per_s = h2d;
        prof->d2h_bytes_per_s = d2h;
    }
    for (size_t j = 0; j < njobs; j++) {
        const struct point *pt = &pts[j * stride];
        double over = 0, rest;

        if (!pt->ok)
            continue;
        /* The rate is the job's own slope between its two points (its own
         * fixed cost taken out, not the target's median one: a cheap item
         * can be mostly fixed cost, and a small error there would swamp
         * it), less the bus transfers that the model adds on its own. */
        rest = pt->big_s - fixed_cost(pt);
        if (device && !prof->host_unified_memory && h2d > 0 && d2h > 0)
            over = (double)pt->bytes_in / h2d + (double)pt->bytes_out / d2h;
        if (rest - over >= MIN_COMPUTE_SHARE * pt->big_s)
            rest -= over;
        else if (rest < MIN_COMPUTE_SHARE * pt->big_s)
            rest = pt->big_s;  /* no usable slope: the whole run */
        if (cld_target_set_rate(prof, jobs[j]->name,
                                (double)pt->big_el / rest) == CLD_OK)
            measured++;
    }
    return measured;
}

enum cld_status cld_calibrate(struct cld_targets *t,
                              struct cld_profile_store *s,
                              struct cld_history *hist,
                              const struct cld_calibrate_opts *o)
{
    struct cld_history fresh;
    size_t nt = cld_targets_count(t), njobs = 0;
    unsigned runs = o->runs ? o->runs : DEFAULT_RUNS;
    const struct cld_job *jobs[CLD_TARGET_RATES], *job;
    struct point *pts = NULL;   /* [job][target] */
    bool use[CLD_PLAN_MAX];
    double h2d[CLD_PLAN_MAX] = {0}, d2h[CLD_PLAN_MAX] = {0};
    char lab[48], a[32], b[32], c[32];
    double t0 = cld_now_s();
    unsigned measured = 0, saved = 0;

    if (runs > 15)
        runs = 15;
    for (size_t j = 0; (job = cld_job_at(j)) != NULL; j++) {
        if ((!o->job || strcmp(o->job, job->name) == 0)
            && njobs < CLD_TARGET_RATES)
            jobs[njobs++] = job;
    }
    if (njobs == 0)
        return cld_error_set(CLD_ERR_USAGE, "no job named '%s'",
                             o->job ? o->job : "");
    pts = calloc(nt * njobs, sizeof *pts);
    if (!pts)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    cld_history_init(&fresh);
    if (o->out)
        fprintf(o->out, "calibration: %zu target%s x %zu job%s at %ux%u "
                "(the rate), %ux%u (the fixed cost) and %ux%u, fastest of "
                "%u sweeps x %u runs after a warm-up; %ux%u, %u x %u runs "
                "on the targets within %.0fx of the best; every run is "
                "also run history; targets interleaved in random order\n",
                nt, nt == 1 ? "" : "s", njobs, njobs == 1 ? "" : "s",
                CLD_CALIBRATE_WIDTH, CLD_CALIBRATE_HEIGHT, TINY_SIDE,
                TINY_SIDE, SMALL_WIDTH, SMALL_HEIGHT, SWEEPS, runs,
                CLD_CALIBRATE_LARGE_WIDTH, CLD_CALIBRATE_LARGE_HEIGHT,
                SWEEPS, LARGE_RUNS, LARGE_PRUNE);
    for (size_t i = 0; i < nt; i++) {
        struct cld_clctx *ctx = NULL;

        use[i] = cld_targets_context(t, i, &ctx) == CLD_OK;
        if (!use[i]) {
            warnf(o, "%s: %s; not calibrated",
                  cld_targets_profiles(t)[i].name, cld_error_detail());
            continue;
        }
        if (ctx && bandwidth(ctx, runs, &h2d[i], &d2h[i]) != CLD_OK) {
            warnf(o, "%s: bandwidth: %s", cld_targets_profiles(t)[i].name,
                  cld_error_detail());
            h2d[i] = d2h[i] = 0;
        }
    }
    /* Two sweeps over the jobs, seconds apart, each point the faster of
     * the two: a burst of load from other processes that covers one
     * job's runs in one sweep is unlikely to cover them in both. */
    for (unsigned sweep = 0; sweep < SWEEPS; sweep++) {
        for (size_t j = 0; j < njobs; j++) {
            struct point one[CLD_PLAN_MAX];
            bool again[CLD_PLAN_MAX];

            /* What failed (or gave nothing usable) in the first sweep is
             * not tried, nor reported, again. */
            for (size_t i = 0; i < nt; i++)
                again[i] = use[i] && (sweep == 0 || pts[j * nt + i].ok);
            measure_job(t, again, jobs[j], runs, o, &fresh, one);
            for (size_t i = 0; i < nt; i++)
                merge_point(&pts[j * nt + i], &one[i], sweep == 0);
        }
    }
    if (s && fresh.n && cld_profile_record_many(s, &fresh) != CLD_OK)
        warnf(o, "run history not saved: %s", cld_error_detail());
    if (hist && cld_calibrate_merge_history(hist, &fresh) != CLD_OK)
        warnf(o, "run history: %s", cld_error_detail());
    if (o->out)
        fprintf(o->out, "  %-8s %-40s %12s %12s %12s\n", "target", "name",
                "host->dev", "dev->host", "fixed/enq");
    for (size_t i = 0; i < nt; i++) {
        struct cld_target_profile *prof = cld_targets_profile(t, i);
        bool device = prof->kind != CLD_TARGET_HOST;

        if (!use[i])
            continue;
        measured += fit_target(prof, device, &pts[i], nt, jobs, njobs,
                               h2d[i], d2h[i]);
        if (o->out)
            fprintf(o->out, "  %-8s %-40.40s %12s %12s %12s\n",
                    cld_calibrate_label(t, i, lab, sizeof lab), prof->name,
                    bw_text(device ? h2d[i] : 0, a, sizeof a),
                    bw_text(device ? d2h[i] : 0, b, sizeof b),
                    device && prof->launch_s > 0
                        ? cld_format_seconds(c, sizeof c, prof->launch_s)
                        : "-");
        if (s) {
            if (cld_profile_save(s, prof) == CLD_OK)
                saved++;
            else
                warnf(o, "%s: profile not saved: %s", prof->name,
                      cld_error_detail());
        }
    }
    if (o->out) {
        fprintf(o->out, "  %-12s", "job (rate)");
        for (size_t i = 0; i < nt; i++)
            fprintf(o->out, "  %12s", cld_calibrate_label(t, i, lab,
                                                            sizeof lab));
        fprintf(o->out, "    (elements/s at %ux%u)\n", CLD_CALIBRATE_WIDTH,
                CLD_CALIBRATE_HEIGHT);
        for (size_t j = 0; j < njobs; j++) {
            fprintf(o->out, "  %-12s", jobs[j]->name);
            for (size_t i = 0; i < nt; i++)
                print_rate(o->out, pts[j * nt + i].ok
                                       ? cld_target_rate(
                                             &cld_targets_profiles(t)[i],
                                             jobs[j]->name)
                                       : 0);
            fputc('\n', o->out);
        }
        if (s)
            fprintf(o->out, "saved %u profile%s to %s/profiles (%.1f s)\n",
                    saved, saved == 1 ? "" : "s", cld_profile_store_dir(s),
                    cld_now_s() - t0);
        else
            fprintf(o->out, "not saved: no cache folder (%.1f s)\n",
                    cld_now_s() - t0);
    }
    free(pts);
    cld_history_clear(&fresh);
    if (measured == 0)
        return cld_error_set(CLD_ERR_NO_DEVICE, "calibration measured "
                             "nothing");
    return CLD_OK;
}
