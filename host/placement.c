/* Cost model and choice of target. The time of one item on a target is
 * fixed overhead (enqueues times launch latency) + transfers over the bus
 * + compute; calibration replaces parts of the prior, and a run history
 * for the same job, parameters, target and size replaces the whole. */
#include "placement.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* Priors, used where discovery or calibration left a figure unknown. They
 * aim at typical hardware and err towards the host: a wrong "stay on the
 * host" is cheap, a wrong trip over the bus is not, and the history soon
 * corrects either. */
#define PRIOR_CLOCK_MHZ 2500.0
#define HOST_OPS_PER_CYCLE 2.0   /* per thread: scalar C with some ILP */
#define CPU_DEV_VECTOR 4.0       /* float lanes when the width is unknown */
#define CPU_DEV_EFFICIENCY 0.5   /* of units x clock x vector width */
#define GPU_LANES_DISCRETE 64.0  /* ALUs per compute unit (AMD CU, half SM) */
#define GPU_LANES_UNIFIED 16.0   /* integrated GPUs report small units */
#define ACCEL_LANES 16.0
#define GPU_EFFICIENCY 0.25      /* occupancy, memory stalls */
#define GPU_UNITS 8.0            /* compute units when unknown */
#define BRANCHY_CPU_DEV 0.5      /* divergence across vectorised items */
#define BRANCHY_GPU 0.25         /* divergence within a wavefront */
#define SEQ_OPS_CPU_DEV 1.0      /* ops/cycle of a lone work-item */
#define SEQ_OPS_GPU 0.1          /* a lone GPU lane is slow and latent */
#define BUS_BYTES_PER_S 12e9     /* PCIe 3 x16 in practice; PCIe 4 ~ 25e9 */
#define LAUNCH_GPU_S 20e-6
#define LAUNCH_CPU_DEV_S 100e-6  /* PoCL: thread pool wake-up */
#define LAUNCH_ACCEL_S 50e-6
#define OUTLIER_MADS 3.0
#define SEQ_OVERRIDE_MARGIN 1.1  /* a device must measure 10% faster */

const char *cld_target_kind_str(enum cld_target_kind kind)
{
    switch (kind) {
    case CLD_TARGET_HOST: return "host";
    case CLD_TARGET_CL_CPU: return "cpu";
    case CLD_TARGET_CL_GPU: return "gpu";
    case CLD_TARGET_CL_ACCEL: return "accel";
    }
    return "?";
}

void cld_target_init(struct cld_target_profile *t, enum cld_target_kind kind,
                     int device_index, const char *name, const char *key)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->device_index = device_index;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    snprintf(t->key, sizeof t->key, "%s", key ? key : "");
}

enum cld_status cld_target_set_rate(struct cld_target_profile *t,
                                    const char *job, double elements_per_s)
{
    size_t i;

    if (!job || strlen(job) >= CLD_JOB_MAX || !isfinite(elements_per_s)
        || elements_per_s <= 0)
        return cld_error_set(CLD_ERR_INVALID, "bad calibrated rate");
    for (i = 0; i < t->n_rates; i++) {
        if (strcmp(t->rates[i].job, job) == 0)
            break;
    }
    if (i == t->n_rates) {
        if (t->n_rates == CLD_TARGET_RATES)
            return cld_error_set(CLD_ERR_INVALID, "%s: rate table full",
                                 t->name);
        t->n_rates++;
        snprintf(t->rates[i].job, sizeof t->rates[i].job, "%s", job);
    }
    t->rates[i].elements_per_s = elements_per_s;
    return CLD_OK;
}

double cld_target_rate(const struct cld_target_profile *t, const char *job)
{
    for (size_t i = 0; i < t->n_rates && job; i++) {
        if (strcmp(t->rates[i].job, job) == 0)
            return t->rates[i].elements_per_s;
    }
    return 0;
}

/* ---- history ---- */

void cld_history_init(struct cld_history *h)
{
    memset(h, 0, sizeof *h);
}

void cld_history_clear(struct cld_history *h)
{
    if (!h)
        return;
    free(h->entries);
    memset(h, 0, sizeof *h);
}

uint64_t cld_history_work(const struct cld_workload *w)
{
    double ops = w->ops_per_element > 1 ? w->ops_per_element : 1;
    double work = (double)w->elements * ops;

    if (work >= 1.8e19)
        return UINT64_MAX;
    return work >= 1 ? (uint64_t)llround(work) : 1;
}

int cld_history_bucket(uint64_t work)
{
    int b = 0;

    while (work > 1) {
        work >>= 1;
        b++;
    }
    return b;
}

static bool field_ok(const char *s, size_t max)
{
    return s && strlen(s) < max && !strpbrk(s, "\t\r\n");
}

static struct cld_history_entry *find_entry(const struct cld_history *h,
                                            const char *job,
                                            const char *params,
                                            const char *key, int bucket)
{
    for (size_t i = 0; h && i < h->n; i++) {
        struct cld_history_entry *e = &h->entries[i];

        if (e->bucket == bucket && strcmp(e->job, job) == 0
            && strcmp(e->params, params) == 0 && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

enum cld_status cld_history_add(struct cld_history *h, const char *job,
                                const char *params, const char *key,
                                uint64_t work, double seconds)
{
    struct cld_history_entry *e;
    int bucket = cld_history_bucket(work);

    if (!params)
        params = "";
    if (!field_ok(job, CLD_JOB_MAX) || !*job
        || !field_ok(params, CLD_PARAMS_MAX) || !field_ok(key, CLD_KEY_MAX)
        || !*key || work == 0 || !isfinite(seconds) || seconds <= 0)
        return cld_error_set(CLD_ERR_INVALID, "bad history sample");
    e = find_entry(h, job, params, key, bucket);
    if (!e) {
        if (h->n == CLD_HISTORY_MAX_ENTRIES) {
            memmove(h->entries, h->entries + 1,
                    (h->n - 1) * sizeof *h->entries);
            h->n--;
        }
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 16;
            void *p = realloc(h->entries, cap * sizeof *h->entries);

            if (!p)
                return cld_error_set(CLD_ERR_NOMEM, "history of %zu entries",
                                     cap);
            h->entries = p;
            h->cap = cap;
        }
        e = &h->entries[h->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->job, sizeof e->job, "%s", job);
        snprintf(e->params, sizeof e->params, "%s", params);
        snprintf(e->key, sizeof e->key, "%s", key);
        e->bucket = bucket;
    }
    if (e->n == CLD_HISTORY_SAMPLES) {
        memmove(e->samples, e->samples + 1,
                (e->n - 1) * sizeof *e->samples);
        e->n--;
    }
    e->samples[e->n].work = work;
    e->samples[e->n].seconds = seconds;
    e->n++;
    return CLD_OK;
}

/* One measured point of entry e: its samples scaled to `work` (keeping
 * fixed_s unscaled), slow outliers dropped, the fastest of the rest. */
static double entry_point(const struct cld_history_entry *e, double work,
                          double fixed_s, unsigned *used,
                          unsigned *rejected)
{
    double v[CLD_HISTORY_SAMPLES], dev[CLD_HISTORY_SAMPLES];
    double keep[CLD_HISTORY_SAMPLES], med, mad, best = INFINITY;
    size_t kept = 0;

    for (size_t i = 0; i < e->n; i++) {
        double t = e->samples[i].seconds;
        double f = fixed_s < t ? fixed_s : t;

        v[i] = f + (t - f) * work / (double)e->samples[i].work;
    }
    memcpy(keep, v, e->n * sizeof *v);
    med = cld_median(keep, e->n);
    for (size_t i = 0; i < e->n; i++)
        dev[i] = fabs(v[i] - med);
    mad = cld_median(dev, e->n);
    if (mad < 0.01 * med)
        mad = 0.01 * med;  /* identical samples: allow 3% jitter */
    /* Only slow outliers go: other processes add time to a run, nothing
     * takes time away. Of the rest the fastest, not the median: what the
     * target does when the machine is not loaded (as calibration and the
     * placement benchmark measure it). */
    for (size_t i = 0; i < e->n; i++) {
        if (v[i] - med <= OUTLIER_MADS * mad) {
            kept++;
            best = v[i] < best ? v[i] : best;
        }
    }
    *used = (unsigned)kept;
    *rejected = (unsigned)(e->n - kept);
    return best;
}

/* The measured point of the bucket: work and seconds. */
struct point {
    const struct cld_history_entry *e;
    double work, seconds;
    unsigned used, rejected;
};

static void make_point(const struct cld_history_entry *e, double fixed_s,
                       struct point *p)
{
    p->e = e;
    p->work = (double)e->samples[e->n - 1].work;
    p->seconds = entry_point(e, p->work, fixed_s, &p->used, &p->rejected);
}

/* Seconds at `work` on the line through a and b (a.work != b.work). */
static double line_at(const struct point *a, const struct point *b,
                      double work)
{
    return a->seconds + (b->seconds - a->seconds) * (work - a->work)
                            / (b->work - a->work);
}

bool cld_history_estimate(const struct cld_history *h, const char *job,
                          const char *params, const char *key,
                          uint64_t work, double fixed_s,
                          struct cld_estimate *out)
{
    /* Nearest two measured buckets below the item's and above it. */
    const struct cld_history_entry *own = NULL, *lo[2] = {0}, *hi[2] = {0};
    struct point a, b;
    int bucket = cld_history_bucket(work);
    double x = (double)work;

    memset(out, 0, sizeof *out);
    out->bucket2 = -1;
    if (!h || !job || !key || work == 0)
        return false;
    if (!params)
        params = "";
    for (size_t i = 0; i < h->n; i++) {
        const struct cld_history_entry *e = &h->entries[i];

        if (e->n < CLD_HISTORY_MIN_SAMPLES || strcmp(e->job, job) != 0
            || strcmp(e->params, params) != 0 || strcmp(e->key, key) != 0)
            continue;
        if (e->bucket == bucket) {
            own = e;
        } else if (e->bucket < bucket) {
            if (!lo[0] || e->bucket > lo[0]->bucket) {
                lo[1] = lo[0];
                lo[0] = e;
            } else if (!lo[1] || e->bucket > lo[1]->bucket) {
                lo[1] = e;
            }
        } else {
            if (!hi[0] || e->bucket < hi[0]->bucket) {
                hi[1] = hi[0];
                hi[0] = e;
            } else if (!hi[1] || e->bucket < hi[1]->bucket) {
                hi[1] = e;
            }
        }
    }
    if (own) {
        /* Within a factor of two: scale its samples directly. */
        unsigned used, rejected;

        out->seconds = entry_point(own, x, fixed_s, &used, &rejected);
        out->used = used;
        out->rejected = rejected;
        out->kind = CLD_EST_OWN;
        out->bucket = own->bucket;
        out->work = (double)own->samples[own->n - 1].work;
    } else if (lo[0] && hi[0]) {
        make_point(lo[0], fixed_s, &a);
        make_point(hi[0], fixed_s, &b);
        out->seconds = line_at(&a, &b, x);
        /* Noise can tilt a line the wrong way; stay between the two. */
        if (out->seconds < fmin(a.seconds, b.seconds))
            out->seconds = fmin(a.seconds, b.seconds);
        out->used = a.used + b.used;
        out->rejected = a.rejected + b.rejected;
        out->kind = CLD_EST_BETWEEN;
        out->bucket = bucket - lo[0]->bucket <= hi[0]->bucket - bucket
                          ? lo[0]->bucket : hi[0]->bucket;
        out->bucket2 = out->bucket == lo[0]->bucket ? hi[0]->bucket
                                                     : lo[0]->bucket;
        out->work = out->bucket == lo[0]->bucket ? a.work : b.work;
        out->work2 = out->bucket == lo[0]->bucket ? b.work : a.work;
    } else if ((lo[0] && bucket - lo[0]->bucket <= 2)
               || (hi[0] && hi[0]->bucket - bucket <= 2)) {
        const struct cld_history_entry *n0 = lo[0] ? lo[0] : hi[0];
        const struct cld_history_entry *n1 = lo[0] ? lo[1] : hi[1];
        /* Proportional scaling of the nearest point, fixed cost kept. */
        double f, prop;

        make_point(n0, fixed_s, &a);
        f = fixed_s < a.seconds ? fixed_s : a.seconds;
        prop = f + (a.seconds - f) * x / a.work;
        out->seconds = prop;
        out->used = a.used;
        out->rejected = a.rejected;
        out->bucket2 = -1;
        if (n1) {
            /* The slope between the two nearest points says how the time
             * grows here (caches overflowing, fixed costs fading); never
             * below proportional growth going up, never negative going
             * down. */
            double lin;

            make_point(n1, fixed_s, &b);
            lin = line_at(&a, &b, x);
            if (lo[0])
                out->seconds = lin > prop ? lin : prop;
            else if (lin > 0)
                out->seconds = lin;
            out->used += b.used;
            out->rejected += b.rejected;
            out->bucket2 = n1->bucket;
            out->work2 = b.work;
        }
        out->kind = lo[0] ? CLD_EST_ABOVE : CLD_EST_BELOW;
        out->bucket = n0->bucket;
        out->work = a.work;
    } else {
        return false;
    }
    return isfinite(out->seconds) && out->seconds > 0;
}

/* ---- formatting ---- */

const char *cld_format_seconds(char *buf, size_t size, double s)
{
    if (s < 1e-6)
        snprintf(buf, size, "%.0f ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, size, "%.1f us", s * 1e6);
    else if (s < 1.0)
        snprintf(buf, size, "%.2f ms", s * 1e3);
    else
        snprintf(buf, size, "%.2f s", s);
    return buf;
}

static const char *format_bytes(char *buf, size_t size, double b)
{
    if (b >= 1073741824.0)
        snprintf(buf, size, "%.1f GiB", b / 1073741824.0);
    else if (b >= 1048576.0)
        snprintf(buf, size, "%.1f MiB", b / 1048576.0);
    else
        snprintf(buf, size, "%.0f KiB", b / 1024.0);
    return buf;
}

/* Decimal rate: "12.0 G<unit>" etc. */
static const char *format_rate(char *buf, size_t size, double r,
                               const char *unit)
{
    if (r >= 1e12)
        snprintf(buf, size, "%.2f T%s", r / 1e12, unit);
    else if (r >= 1e9)
        snprintf(buf, size, "%.1f G%s", r / 1e9, unit);
    else
        snprintf(buf, size, "%.0f M%s", r / 1e6, unit);
    return buf;
}

/* Append ", text" (or "text" when empty) to a basis part list. */
static void add_part(char *list, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_part(char *list, size_t size, const char *fmt, ...)
{
    size_t len = strlen(list);
    va_list ap;

    if (len && len + 2 < size) {
        memcpy(list + len, ", ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(list + len, size - len, fmt, ap);
    va_end(ap);
}

/* ---- cost model ---- */

/* Prior arithmetic throughput (ops/s) of t for work with these flags. */
static double prior_ops_rate(const struct cld_target_profile *t,
                             unsigned flags)
{
    double hz = (t->max_clock_mhz ? t->max_clock_mhz : PRIOR_CLOCK_MHZ) * 1e6;
    double units = t->compute_units;
    double vec = t->vector_width_float ? t->vector_width_float : 1;
    bool seq = flags & CLD_WL_SEQUENTIAL, branchy = flags & CLD_WL_BRANCHY;
    double lanes, threads;

    switch (t->kind) {
    case CLD_TARGET_HOST:
        threads = t->host_threads ? t->host_threads : (units ? units : 1);
        return (seq ? 1 : threads) * hz * HOST_OPS_PER_CYCLE;
    case CLD_TARGET_CL_CPU:
        if (seq)
            return hz * SEQ_OPS_CPU_DEV;
        vec = t->vector_width_float ? vec : CPU_DEV_VECTOR;
        return (units ? units : 1) * hz * vec * CPU_DEV_EFFICIENCY
               * (branchy ? BRANCHY_CPU_DEV : 1);
    case CLD_TARGET_CL_GPU:
    case CLD_TARGET_CL_ACCEL:
        if (seq)
            return hz * SEQ_OPS_GPU;
        lanes = t->kind == CLD_TARGET_CL_ACCEL ? ACCEL_LANES
                : t->host_unified_memory ? GPU_LANES_UNIFIED
                : GPU_LANES_DISCRETE;
        return (units ? units : GPU_UNITS) * hz * lanes * GPU_EFFICIENCY
               * (branchy ? BRANCHY_GPU : 1);
    }
    return hz;
}

static double prior_launch(const struct cld_target_profile *t)
{
    switch (t->kind) {
    case CLD_TARGET_HOST: return 0;
    case CLD_TARGET_CL_CPU: return LAUNCH_CPU_DEV_S;
    case CLD_TARGET_CL_GPU: return LAUNCH_GPU_S;
    case CLD_TARGET_CL_ACCEL: return LAUNCH_ACCEL_S;
    }
    return LAUNCH_GPU_S;
}

/* How much slower t runs now than on an idle machine: its threads (work
 * items run on min(compute units, cores) of them; the host runs an item on
 * host_threads) share the cores left by other processes. 1 when the load
 * is unknown or leaves it enough cores. */
static double load_slowdown(const struct cld_target_profile *t)
{
    double cores = t->shared_cores, threads, free_cores;

    if (t->shared_cores == 0 || !(t->busy_cores > 0))
        return 1;
    if (t->kind == CLD_TARGET_HOST)
        threads = t->host_threads ? t->host_threads : 1;
    else if (t->kind == CLD_TARGET_CL_CPU)
        threads = t->compute_units ? t->compute_units : 1;
    else
        return 1;
    threads = threads < cores ? threads : cores;
    free_cores = cores - t->busy_cores;
    /* Time-sharing: even a fully loaded machine gives a thread some of a
     * core (half of one next to one busy process). */
    free_cores = free_cores > 0.5 ? free_cores : 0.5;
    return free_cores >= threads ? 1 : threads / free_cores;
}

/* Exclusion reason for w on t, or "" when t can run it. */
static void check_fit(const struct cld_workload *w,
                      const struct cld_target_profile *t,
                      char *reason, size_t size)
{
    char a[32], b[32];
    double mem = (double)w->bytes_in + (double)w->bytes_out;

    if (t->kind == CLD_TARGET_HOST)
        return;
    if (w->needs_fp64 && !t->fp64)
        snprintf(reason, size, "needs fp64, which the device lacks");
    else if (t->max_alloc_bytes && w->max_buffer > t->max_alloc_bytes)
        snprintf(reason, size, "buffer of %s exceeds max allocation %s",
                 format_bytes(a, sizeof a, (double)w->max_buffer),
                 format_bytes(b, sizeof b, (double)t->max_alloc_bytes));
    else if (t->global_mem_bytes && mem > (double)t->global_mem_bytes)
        snprintf(reason, size, "needs %s of device memory, has %s",
                 format_bytes(a, sizeof a, mem),
                 format_bytes(b, sizeof b, (double)t->global_mem_bytes));
}

/* Prior/calibrated cost of one item of w on t, into c; writes the basis. */
static void model_cost(const struct cld_workload *w,
                       const struct cld_target_profile *t,
                       struct cld_candidate *c)
{
    char prior[96] = "", cal[96] = "", x[32];
    bool seq = w->flags & CLD_WL_SEQUENTIAL;
    double ops = w->ops_per_element > 0 ? w->ops_per_element : 1;
    double launch = t->launch_s > 0 ? t->launch_s : prior_launch(t);
    double h2d = t->h2d_bytes_per_s, d2h = t->d2h_bytes_per_s;
    double rate = cld_target_rate(t, w->job), ops_rate;
    unsigned enqueues = w->kernel_launches ? w->kernel_launches : 1;

    if (t->kind == CLD_TARGET_HOST) {
        c->overhead_s = c->transfer_s = 0;
    } else {
        /* Each transfer (or map/unmap) is one more enqueue. */
        enqueues += (w->bytes_in > 0) + (w->bytes_out > 0);
        c->overhead_s = launch * enqueues;
        add_part(t->launch_s > 0 ? cal : prior, sizeof prior,
                 "%s launch", cld_format_seconds(x, sizeof x, launch));
        if (t->host_unified_memory) {
            c->transfer_s = 0;
            add_part(prior, sizeof prior, "zero-copy");
        } else {
            if (h2d <= 0 && d2h <= 0)
                add_part(prior, sizeof prior, "%s bus",
                         format_rate(x, sizeof x, BUS_BYTES_PER_S, "B/s"));
            else
                add_part(cal, sizeof cal, "%s bus",
                         format_rate(x, sizeof x, h2d > 0 ? h2d : d2h,
                                     "B/s"));
            h2d = h2d > 0 ? h2d : d2h > 0 ? d2h : BUS_BYTES_PER_S;
            d2h = d2h > 0 ? d2h : h2d;
            c->transfer_s = (double)w->bytes_in / h2d
                            + (double)w->bytes_out / d2h;
        }
    }
    if (rate > 0) {
        c->compute_s = (double)w->elements / rate;
        add_part(cal, sizeof cal, "%s",
                 format_rate(x, sizeof x, rate, "elem/s"));
    } else {
        ops_rate = prior_ops_rate(t, w->flags);
        c->compute_s = (double)w->elements * ops / ops_rate;
        if (t->kind == CLD_TARGET_HOST && t->host_threads > 1 && !seq)
            add_part(prior, sizeof prior, "%u threads", t->host_threads);
        add_part(prior, sizeof prior, "%s",
                 format_rate(x, sizeof x, ops_rate, "ops/s"));
    }
    if (seq && rate <= 0) {
        if (*cal)
            add_part(prior, sizeof prior, "calibrated %s", cal);
        snprintf(c->basis, sizeof c->basis, "rule: %s (%s)",
                 t->kind == CLD_TARGET_HOST
                     ? "sequential work stays on host"
                     : "sequential work runs as one work-item",
                 prior);
    } else if (*cal && *prior) {
        snprintf(c->basis, sizeof c->basis, "calibrated: %s; prior: %s",
                 cal, prior);
    } else {
        snprintf(c->basis, sizeof c->basis, "%s: %s",
                 *cal ? "calibrated" : "prior", *cal ? cal : prior);
    }
}

void cld_plan_init(struct cld_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->chosen = -1;
}

enum cld_status cld_plan_exclude(struct cld_plan *plan, size_t index,
                                 const char *fmt, ...)
{
    va_list ap;

    if (!plan || index >= CLD_PLAN_MAX || !fmt)
        return cld_error_set(CLD_ERR_INVALID, "exclude: bad target index");
    plan->cand[index].excluded = true;
    va_start(ap, fmt);
    vsnprintf(plan->cand[index].reason, sizeof plan->cand[index].reason,
              fmt, ap);
    va_end(ap);
    return CLD_OK;
}

/* "77K", "4.9M": a count of elements, short. */
static const char *format_count(char *buf, size_t size, double n)
{
    if (n >= 1e9)
        snprintf(buf, size, "%.3gG", n / 1e9);
    else if (n >= 1e6)
        snprintf(buf, size, "%.3gM", n / 1e6);
    else if (n >= 1e3)
        snprintf(buf, size, "%.3gK", n / 1e3);
    else
        snprintf(buf, size, "%.0f", n);
    return buf;
}

/* The basis of a row estimated from the run history. The measured sizes
 * are shown in elements of this workload (work / operations per
 * element). */
static void describe_estimate(const struct cld_estimate *est, double ops,
                              char *basis, size_t size)
{
    char a[16], b[16];
    double lo = est->work2 > 0 && est->work2 < est->work ? est->work2
                                                         : est->work;
    double hi = est->work2 > est->work ? est->work2 : est->work;

    format_count(a, sizeof a, lo / ops);
    format_count(b, sizeof b, hi / ops);
    switch (est->kind) {
    case CLD_EST_OWN:
        snprintf(basis, size, "measured: fastest of %u runs at this size",
                 est->used);
        break;
    case CLD_EST_BETWEEN:
        snprintf(basis, size, "measured: between %s and %s elements (%u "
                 "runs)", a, b, est->used);
        break;
    case CLD_EST_ABOVE:
    case CLD_EST_BELOW:
        if (est->bucket2 >= 0)
            snprintf(basis, size, "measured: extended from %s and %s "
                     "elements (%u runs)", a, b, est->used);
        else
            snprintf(basis, size, "measured: scaled from %s elements (%u "
                     "runs)", a, est->used);
        break;
    }
    if (est->rejected)
        add_part(basis, size, "%u outlier%s dropped", est->rejected,
                 est->rejected > 1 ? "s" : "");
}

/* Which term dominates a modelled row. */
static const char *dominant(const struct cld_candidate *c)
{
    if (c->measured)
        return "measured";
    if (c->overhead_s >= c->transfer_s && c->overhead_s >= c->compute_s)
        return "mostly launch overhead";
    return c->transfer_s >= c->compute_s ? "mostly transfer"
                                         : "mostly compute";
}

static void choose(const struct cld_workload *w, struct cld_plan *plan)
{
    int best = -1, next = -1, host = -1;
    char a[32], b[32];
    struct cld_candidate *c = plan->cand;

    for (int i = 0; i < (int)plan->n; i++) {
        if (c[i].excluded)
            continue;
        if (c[i].kind == CLD_TARGET_HOST && host < 0)
            host = i;
        if (best < 0 || c[i].seconds < c[best].seconds) {
            next = best;
            best = i;
        } else if (next < 0 || c[i].seconds < c[next].seconds) {
            next = i;
        }
    }
    plan->chosen = best;
    if (best < 0)
        return;
    /* Order-dependent work stays on the host unless a device has shown,
     * by measurement, that it does clearly better: by more than run-to-run
     * noise, which on a shared machine is several percent. */
    if ((w->flags & CLD_WL_SEQUENTIAL) && host >= 0
        && (best == host || !c[best].measured
            || c[best].seconds * SEQ_OVERRIDE_MARGIN > c[host].seconds)) {
        plan->chosen = host;
        snprintf(plan->reason, sizeof plan->reason,
                 "sequential work stays on host (%s)",
                 cld_format_seconds(a, sizeof a, c[host].seconds));
        return;
    }
    if (next < 0)
        snprintf(plan->reason, sizeof plan->reason,
                 "only usable target, %s",
                 cld_format_seconds(a, sizeof a, c[best].seconds));
    else
        snprintf(plan->reason, sizeof plan->reason,
                 "lowest predicted time, %s; next %s at %s (%s)",
                 cld_format_seconds(a, sizeof a, c[best].seconds),
                 c[next].target,
                 cld_format_seconds(b, sizeof b, c[next].seconds),
                 dominant(&c[next]));
}

enum cld_status cld_placement_decide(const struct cld_workload *w,
                                     const struct cld_target_profile *targets,
                                     size_t n,
                                     const struct cld_history *hist,
                                     struct cld_plan *plan)
{
    uint32_t batch;

    if (!w || !plan || (n && !targets) || n > CLD_PLAN_MAX || !w->job
        || w->elements == 0)
        return cld_error_set(CLD_ERR_INVALID,
                             "placement: bad workload or %zu targets", n);
    batch = w->batch ? w->batch : 1;
    snprintf(plan->job, sizeof plan->job, "%s", w->job);
    snprintf(plan->params, sizeof plan->params, "%s", w->params);
    plan->elements = w->elements;
    plan->batch = batch;
    plan->flags = w->flags;
    plan->n = n;
    plan->reason[0] = '\0';
    memset(&plan->split, 0, sizeof plan->split);
    for (size_t i = 0; i < n; i++) {
        const struct cld_target_profile *t = &targets[i];
        struct cld_candidate *c = &plan->cand[i];
        struct cld_estimate est;
        double load;

        snprintf(c->target, sizeof c->target, "%s", t->name);
        c->kind = t->kind;
        c->measured = c->measured_here = false;
        c->basis[0] = '\0';
        c->seconds = c->overhead_s = c->transfer_s = c->compute_s = 0;
        if (!c->excluded) {
            c->reason[0] = '\0';
            check_fit(w, t, c->reason, sizeof c->reason);
            c->excluded = c->reason[0] != '\0';
        }
        if (c->excluded)
            continue;
        model_cost(w, t, c);
        if (cld_history_estimate(hist, w->job, w->params, t->key,
                                 cld_history_work(w), c->overhead_s,
                                 &est)) {
            c->measured = true;
            c->measured_here = est.kind == CLD_EST_OWN;
            c->overhead_s = c->transfer_s = 0;
            c->compute_s = est.seconds;
            describe_estimate(&est, w->ops_per_element > 1
                                        ? w->ops_per_element : 1,
                              c->basis, sizeof c->basis);
        }
        load = load_slowdown(t);
        if (load > 1) {
            c->compute_s *= load;
            add_part(c->basis, sizeof c->basis, "x%.2f: %.1f of %u cores "
                     "busy", load, t->busy_cores, t->shared_cores);
        }
        c->seconds = (c->overhead_s + c->transfer_s + c->compute_s) * batch;
    }
    choose(w, plan);
    if (plan->chosen < 0) {
        snprintf(plan->reason, sizeof plan->reason,
                 "no target can run %s", w->job);
        return cld_error_set(CLD_ERR_NO_DEVICE, "%s: every target excluded",
                             w->job);
    }
    return CLD_OK;
}

bool cld_plan_allows(const struct cld_plan *plan, size_t i)
{
    const struct cld_candidate *c = plan->cand;
    size_t host = plan->n;

    if (i >= plan->n || c[i].excluded)
        return false;
    if (!(plan->flags & CLD_WL_SEQUENTIAL) || c[i].kind == CLD_TARGET_HOST)
        return true;
    for (size_t h = 0; h < plan->n && host == plan->n; h++) {
        if (!c[h].excluded && c[h].kind == CLD_TARGET_HOST)
            host = h;
    }
    /* As choose(): a device only when measured clearly faster. */
    return host == plan->n ||
           (c[i].measured &&
            c[i].seconds * SEQ_OVERRIDE_MARGIN <= c[host].seconds);
}

/* Part k of a split from row i of the part's plan p. */
static void split_part(struct cld_split_part *part, const struct cld_plan *p,
                       int i)
{
    snprintf(part->job, sizeof part->job, "%s", p->job);
    snprintf(part->params, sizeof part->params, "%s", p->params);
    part->target = i;
    part->seconds = p->cand[i].seconds;
    snprintf(part->basis, sizeof part->basis, "%s", p->cand[i].basis);
}

void cld_plan_offer_split(struct cld_plan *plan, unsigned at,
                          unsigned nsteps, const struct cld_plan *head,
                          const struct cld_plan *tail)
{
    struct cld_split *s = &plan->split;
    int a = -1, b = -1;
    double best = 0;
    char x[32];

    if (plan->chosen < 0 || at == 0 || at >= nsteps || head->n != plan->n
        || tail->n != plan->n)
        return;
    for (int i = 0; i < (int)plan->n; i++) {
        if (!cld_plan_allows(head, (size_t)i))
            continue;
        for (int j = 0; j < (int)plan->n; j++) {
            double t;

            if (j == i || !cld_plan_allows(tail, (size_t)j))
                continue;
            t = head->cand[i].seconds + tail->cand[j].seconds;
            if (a < 0 || t < best) {
                a = i;
                b = j;
                best = t;
            }
        }
    }
    if (a < 0 || !isfinite(best) || (s->at && !(best < s->seconds)))
        return;
    if (!s->at) {
        /* The first split offered: the whole chain's choice stands as
         * what every split is measured against. */
        s->whole = plan->chosen;
        s->whole_s = plan->cand[plan->chosen].seconds;
        snprintf(s->whole_reason, sizeof s->whole_reason, "%s",
                 plan->reason);
    }
    s->at = at;
    s->nsteps = nsteps;
    s->seconds = best;
    split_part(&s->part[0], head, a);
    split_part(&s->part[1], tail, b);
    s->used = best < s->whole_s;
    if (!s->used) {
        plan->chosen = s->whole;
        snprintf(plan->reason, sizeof plan->reason, "%s", s->whole_reason);
        return;
    }
    /* The item counts where it spends most of its time. */
    plan->chosen = s->part[1].seconds > s->part[0].seconds ? b : a;
    snprintf(plan->reason, sizeof plan->reason, "%s in all; the whole "
             "chain at best on %s: %.160s",
             cld_format_seconds(x, sizeof x, best),
             plan->cand[s->whole].target, s->whole_reason);
}

/* "step 2" or "steps 1-3": the steps of part k of split s. */
static const char *split_steps(char *buf, size_t size,
                               const struct cld_split *s, int k)
{
    unsigned from = k ? s->at + 1 : 1, to = k ? s->nsteps : s->at;

    if (from == to)
        snprintf(buf, size, "step %u", from);
    else
        snprintf(buf, size, "steps %u-%u", from, to);
    return buf;
}

/* The split's lines of the --explain table. */
static void print_split(FILE *f, const struct cld_plan *plan, int w)
{
    const struct cld_split *s = &plan->split;
    char t[32], u[32], r[24];

    if (s->used)
        fprintf(f, "split after step %u of %u (the intermediate through "
                "host memory):\n", s->at, s->nsteps);
    else
        fprintf(f, "best split, after step %u of %u: %s, no faster than "
                "the whole chain on %s (%s):\n", s->at, s->nsteps,
                cld_format_seconds(t, sizeof t, s->seconds),
                plan->cand[s->whole].target,
                cld_format_seconds(u, sizeof u, s->whole_s));
    for (int k = 0; k < 2; k++) {
        const struct cld_split_part *p = &s->part[k];
        const struct cld_candidate *c = &plan->cand[p->target];

        fprintf(f, "%c %-*s %-5s %10s  %s, %s%s%s%s: %s\n",
                s->used ? '*' : ' ', w, c->target,
                cld_target_kind_str(c->kind),
                cld_format_seconds(t, sizeof t, p->seconds),
                split_steps(r, sizeof r, s, k), p->job,
                p->params[0] ? " (" : "", p->params,
                p->params[0] ? ")" : "", p->basis);
    }
}

void cld_plan_print(FILE *f, const struct cld_plan *plan)
{
    char t[32];
    int w = 6;
    bool split = plan->split.at && plan->split.used;

    /* Size the target column to the longest name, so ids stay whole. */
    for (size_t i = 0; i < plan->n; i++) {
        int l = (int)strlen(plan->cand[i].target);

        w = l > w ? l : w;
    }
    fprintf(f, "placement of %s%s%s%s: %llu elements x %u%s%s%s\n",
            plan->job, plan->params[0] ? " (" : "", plan->params,
            plan->params[0] ? ")" : "",
            (unsigned long long)plan->elements, plan->batch,
            plan->flags & CLD_WL_DATA_PARALLEL ? ", data-parallel" : "",
            plan->flags & CLD_WL_SEQUENTIAL ? ", sequential" : "",
            plan->flags & CLD_WL_BRANCHY ? ", branchy" : "");
    fprintf(f, "  %-*s %-5s %10s  %s\n", w, "target", "kind", "predicted",
            "basis");
    for (size_t i = 0; i < plan->n; i++) {
        const struct cld_candidate *c = &plan->cand[i];

        fprintf(f, "%c %-*s %-5s %10s  %s%s\n",
                (int)i == plan->chosen && !split ? '*' : ' ', w, c->target,
                cld_target_kind_str(c->kind),
                c->excluded ? "-" : cld_format_seconds(t, sizeof t,
                                                       c->seconds),
                c->excluded ? "excluded: " : "",
                c->excluded ? c->reason : c->basis);
    }
    if (plan->split.at && plan->chosen >= 0)
        print_split(f, plan, w);
    if (split)
        fprintf(f, "chosen: split after step %u: %s on %s, %s on %s: %s\n",
                plan->split.at, plan->split.part[0].job,
                plan->cand[plan->split.part[0].target].target,
                plan->split.part[1].job,
                plan->cand[plan->split.part[1].target].target,
                plan->reason);
    else if (plan->chosen >= 0)
        fprintf(f, "chosen: %s: %s\n", plan->cand[plan->chosen].target,
                plan->reason);
    else
        fprintf(f, "chosen: none: %s\n", plan->reason);
}
