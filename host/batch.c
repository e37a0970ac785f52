/* Planning and running a batch of items through the executor. Each item
 * is placed on its own: after decoding, its workload goes to placement
 * (profiles, run history and this batch's measurements), unless --device
 * or CLDISPATCH_DEVICE forces a target. A target whose kernels fail to
 * build is excluded for the rest of the batch and the item is retried on
 * the next best one. Measured run times feed the history. */
#include "batch.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calibrate.h"
#include "clock.h"
#include "device.h"
#include "executor.h"
#include "fsutil.h"
#include "inventory.h"
#include "launch.h"
#include "npy.h"
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
    struct cld_params params; /* the batch's, or after shrink-on-load
                                 resize's output size as --size */
    unsigned shrink;          /* JPEG decoded at 1/shrink scale */
    bool retried;             /* ran again after a device error */
    uint64_t failed_on;       /* bit t: target t had a device error */
};

/* Items of one size bucket placed on one target, for --explain. */
struct group {
    int bucket;
    int target;
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
    struct cld_trace *trace;   /* the timeline (always: the summary) */
    double t_start;            /* when the batch began */
    double pixels;             /* input pixels of the items done */
    unsigned done, failed;     /* items finished so far */
    unsigned errors[CLD_PLAN_MAX]; /* device errors per target */
    unsigned retried, dropped;
    bool progress_shown;       /* a progress line is on the terminal */
    unsigned nrun;             /* items submitted */
    double progress_s;         /* when it was drawn */
};

static enum cld_status add_item(struct batch *b, const char *src0,
                                const char *src1, const char *out)
{
    struct item *it;

    if (b->nitems == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct item *grown = realloc(b->items, cap * sizeof *grown);

        if (!grown)
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        b->items = grown;
        b->cap = cap;
    }
    it = &b->items[b->nitems];
    memset(it, 0, sizeof *it);
    it->b = b;
    it->params = b->o->params;
    it->src[0] = src0 ? strdup(src0) : NULL;
    it->src[1] = src1 ? strdup(src1) : NULL;
    it->out = strdup(out);
    b->nitems++;
    if ((src0 && !it->src[0]) || (src1 && !it->src[1]) || !it->out)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    return CLD_OK;
}

static void item_fail(struct item *it, enum cld_status st, const char *fmt,
                      const char *a, const char *c)
{
    char buf[1024];

    snprintf(buf, sizeof buf, fmt, a, c);
    it->st = st;
    free(it->err);
    it->err = strdup(buf);
}

/* Output path for an input's relative name: OUTDIR/rel with the extension
 * replaced by the chosen format's (or kept). */
static char *out_name(const struct cld_batch_opts *o, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(slash ? slash + 1 : rel, '.');
    size_t stem = dot ? (size_t)(dot - rel) : strlen(rel);
    const char *ext;
    char *path = NULL;

    if (o->format != CLD_FMT_AUTO)
        ext = cld_format_ext(o->format);
    else if (dot && cld_format_from_path(rel) != CLD_FMT_UNKNOWN)
        ext = dot + 1;
    else
        ext = "png";
    if (asprintf(&path, "%s/%.*s.%s", o->outdir, (int)stem, rel, ext) < 0)
        return NULL;
    return path;
}

static enum cld_status plan_images(struct batch *b, char *const *inputs,
                                   int n)
{
    const struct cld_batch_opts *o = b->o;
    enum cld_status st = CLD_OK;

    for (int i = 0; i < n && st == CLD_OK; i++) {
        struct stat sb;
        char *out;

        if (stat(inputs[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            struct cld_path_list list = {0};

            st = cld_walk_images(inputs[i], &list);
            if (st != CLD_OK)
                return st;
            if (list.count == 0)
                fprintf(o->err, "cldispatch: warning: %s: no image files\n",
                        inputs[i]);
            for (size_t k = 0; k < list.count && st == CLD_OK; k++) {
                char *src = NULL;

                out = out_name(o, list.paths[k]);
                if (!out || asprintf(&src, "%s/%s", inputs[i],
                                     list.paths[k]) < 0) {
                    free(out);
                    cld_path_list_free(&list);
                    return cld_error_set(CLD_ERR_NOMEM, "out of memory");
                }
                st = add_item(b, src, NULL, out);
                free(src);
                free(out);
            }
            cld_path_list_free(&list);
            continue;
        }
        {
            char *copy = strdup(inputs[i]);

            out = copy ? out_name(o, basename(copy)) : NULL;
            free(copy);
        }
        if (!out)
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        st = add_item(b, inputs[i], NULL, out);
        free(out);
    }
    return st;
}

static enum cld_status plan(struct batch *b, char *const *inputs, int n)
{
    const struct cld_batch_opts *o = b->o;
    const struct cld_job *job = o->job;
    char *out = NULL;
    enum cld_status st;

    switch (job->input) {
    case CLD_DATA_IMAGE:
        if (n == 0)
            return cld_error_set(CLD_ERR_USAGE, "%s needs input images",
                                 job->name);
        st = CLD_OK;
        for (int i = 0; o->outputs && i < n && st == CLD_OK; i++)
            st = add_item(b, inputs[i], NULL, o->outputs[i]);
        return o->outputs ? st : plan_images(b, inputs, n);
    case CLD_DATA_NONE:
        if (n != 0)
            return cld_error_set(CLD_ERR_USAGE,
                                 "%s generates its output and takes no "
                                 "inputs", job->name);
        if (asprintf(&out, "%s/%s.%s", o->outdir, job->name,
                     o->format != CLD_FMT_AUTO ? cld_format_ext(o->format)
                                               : "png") < 0)
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        st = add_item(b, NULL, NULL, out);
        free(out);
        return st;
    case CLD_DATA_MATRIX:
        if (n != 0 && n != 2)
            return cld_error_set(CLD_ERR_USAGE,
                                 "%s takes two .npy inputs (A and B), or "
                                 "none for random matrices", job->name);
        if (n == 0) {
            if (asprintf(&out, "%s/%s.npy", o->outdir, job->name) < 0)
                return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        } else {
            char *a = strdup(inputs[0]), *c = strdup(inputs[1]);
            char *sa, *sc;

            if (!a || !c) {
                free(a);
                free(c);
                return cld_error_set(CLD_ERR_NOMEM, "out of memory");
            }
            sa = basename(a);
            sc = basename(c);
            sa[strcspn(sa, ".")] = '\0';
            sc[strcspn(sc, ".")] = '\0';
            if (asprintf(&out, "%s/%s_x_%s.npy", o->outdir, sa, sc) < 0)
                out = NULL;
            free(a);
            free(c);
            if (!out)
                return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        }
        st = add_item(b, n ? inputs[0] : NULL, n ? inputs[1] : NULL, out);
        free(out);
        return st;
    }
    return cld_error_set(CLD_ERR_INTERNAL, "bad job input kind");
}

static int cmp_out(const void *a, const void *c)
{
    const struct item *const *x = a, *const *y = c;

    return strcmp((*x)->out, (*y)->out);
}

/* Two inputs that would write one output are a usage error, reported
 * before any work; existing outputs fail their item unless --overwrite. */
static enum cld_status check_outputs(struct batch *b)
{
    struct item **order;
    enum cld_status st = CLD_OK;

    if (b->nitems == 0)
        return CLD_OK;
    order = malloc(b->nitems * sizeof *order);
    if (!order)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < b->nitems; i++)
        order[i] = &b->items[i];
    qsort(order, b->nitems, sizeof *order, cmp_out);
    for (size_t i = 1; i < b->nitems; i++) {
        if (strcmp(order[i - 1]->out, order[i]->out) == 0) {
            fprintf(b->o->err,
                    "cldispatch: error: %s and %s would both write %s\n",
                    order[i - 1]->src[0], order[i]->src[0], order[i]->out);
            st = CLD_ERR_USAGE;
        }
    }
    free(order);
    if (st != CLD_OK)
        return cld_error_set(st, "output name collision (use --format or "
                                 "separate output folders)");
    for (size_t i = 0; i < b->nitems && !b->o->overwrite; i++) {
        struct stat sb;

        if (lstat(b->items[i].out, &sb) == 0)
            item_fail(&b->items[i], CLD_ERR_EXISTS,
                      "%s: output exists (use --overwrite to replace it)%s",
                      b->items[i].out, "");
    }
    return CLD_OK;
}

/* What libpng or libjpeg said about a file that still loaded or saved, on
 * our own warning line with the file's name (a failure has its error line
 * instead). */
static void codec_warning(const struct cld_batch_opts *o, const char *path,
                          enum cld_status st)
{
    const char *w = cld_image_warning();

    if (st == CLD_OK && w)
        fprintf(o->err, "cldispatch: warning: %s: %s\n", path, w);
}

/* Shrink-on-load for resize: its output size is the least it needs. */
static void resize_min_size(void *arg, uint32_t w, uint32_t h, uint32_t *mw,
                            uint32_t *mh)
{
    if (cld_resize_output_size(arg, w, h, mw, mh) != CLD_OK)
        *mw = *mh = 0;
}

/* Load an image input, turned upright unless asked not to, and for resize
 * decoded at a reduced scale where that still covers the output: the item
 * then resizes to the output size computed from the full image. */
static enum cld_status load_image(struct item *it, struct cld_image *img)
{
    struct batch *b = it->b;
    const struct cld_batch_opts *o = b->o;
    struct cld_load_opts lo = {.limits = o->limits,
                               .keep_orientation = o->keep_orientation};
    struct cld_load_info info;
    uint32_t ow, oh;
    enum cld_status st;

    if (o->job == &cld_job_resize && !o->no_shrink_on_load) {
        lo.min_size = resize_min_size;
        lo.min_size_arg = &it->params;
    }
    st = cld_image_load_ex(it->src[0], &lo, img, &info);
    if (st != CLD_OK || info.shrink == 1)
        return st;
    st = cld_resize_output_size(&o->params, info.width, info.height, &ow,
                                &oh);
    if (st == CLD_OK)
        st = cld_resize_set_size(&it->params, ow, oh);
    if (st != CLD_OK)
        return st;
    it->shrink = info.shrink;
    pthread_mutex_lock(&b->lock);
    b->shrunk[info.shrink == 2 ? 1 : info.shrink == 4 ? 2 : 3]++;
    pthread_mutex_unlock(&b->lock);
    return CLD_OK;
}

static enum cld_status load_input(struct item *it, struct cld_data *in)
{
    const struct cld_batch_opts *o = it->b->o;
    enum cld_status st = CLD_OK;

    memset(in, 0, sizeof *in);
    switch (o->job->input) {
    case CLD_DATA_NONE:
        break;
    case CLD_DATA_IMAGE:
        in->kind = CLD_DATA_IMAGE;
        st = load_image(it, &in->img);
        codec_warning(o, it->src[0], st);
        break;
    case CLD_DATA_MATRIX:
        in->kind = CLD_DATA_MATRIX;
        if (it->src[0]) {
            st = cld_npy_load(it->src[0], &in->mat[0]);
            if (st == CLD_OK)
                st = cld_npy_load(it->src[1], &in->mat[1]);
            in->nmat = 2;
        }
        break;
    }
    return st;
}

static enum cld_status save_output(struct item *it, const struct cld_data *r)
{
    const struct cld_batch_opts *o = it->b->o;
    char *dir = strdup(it->out);
    enum cld_status st;

    if (!dir)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    st = cld_mkdir_p(dirname(dir));
    free(dir);
    if (st != CLD_OK)
        return st;
    if (r->kind == CLD_DATA_MATRIX)
        return cld_npy_save(it->out, &r->mat[0], o->overwrite);
    {
        struct cld_save_opts so = {
            .fmt = o->format, .quality = o->quality,
            .overwrite = o->overwrite,
            .png_compression = o->png_compression,
            .png_filter = o->png_filter};

        st = cld_image_save(it->out, &r->img, &so);
        codec_warning(o, it->out, st);
        return st;
    }
}

/* Send this item to measure the runner-up instead, when the estimates
 * are close and the runner-up has never run at this size: the model
 * between measured sizes can be wrong, and a batch that only ever runs the
 * first choice would never find out. Caller holds b->lock. */
static struct group *maybe_probe(struct batch *b, struct cld_plan *plan)
{
    struct cld_candidate *c = plan->cand;
    int best = plan->chosen, r = -1, bucket;
    struct group *g = NULL;
    char a[32];

    if (best < 0 || (plan->flags & CLD_WL_SEQUENTIAL)
        || b->nitems < PROBE_MIN_ITEMS
        || (b->probes_total + 1) * PROBE_SHARE > b->nitems)
        return NULL;
    for (int i = 0; i < (int)plan->n; i++) {
        if (i == best || c[i].excluded || c[i].measured_here)
            continue;
        if (r < 0 || c[i].seconds < c[r].seconds)
            r = i;
    }
    if (r < 0 || !(c[r].seconds <= PROBE_RATIO * c[best].seconds))
        return NULL;
    bucket = cld_history_bucket(plan->elements);
    for (size_t i = 0; i < b->nprobes && !g; i++) {
        if (b->probes[i].bucket == bucket && b->probes[i].target == r)
            g = &b->probes[i];
    }
    if (!g) {
        if (b->nprobes == MAX_GROUPS)
            return NULL;
        g = &b->probes[b->nprobes++];
        memset(g, 0, sizeof *g);
        g->bucket = bucket;
        g->target = r;
    }
    if (g->items >= CLD_HISTORY_MIN_SAMPLES)
        return NULL;
    g->items++;
    b->probes_total++;
    snprintf(plan->reason, sizeof plan->reason,
             "probe %u of %u: predicted %.2fx the time of %s (%s) but never "
             "run at this size; this item measures it", g->items,
             CLD_HISTORY_MIN_SAMPLES, c[r].seconds / c[best].seconds,
             c[best].target, cld_format_seconds(a, sizeof a,
                                                c[best].seconds));
    plan->chosen = r;
    return g;
}

/* Give back a probe whose item measured nothing. Caller holds b->lock. */
static void probe_return(struct batch *b, struct group *g)
{
    if (!g)
        return;
    g->items--;
    b->probes_total--;
}

/* Place one item: fill plan and *target, and *probe (may be NULL) with
 * the probe record when the item goes to measure a target. Caller holds
 * b->lock. Prints the plan the first time an item of this size bucket goes
 * to this target. */
static enum cld_status choose(struct batch *b, const struct cld_params *p,
                              const struct cld_data *in, uint64_t avoid,
                              struct cld_plan *plan, int *target,
                              struct group **probe)
{
    const struct cld_batch_opts *o = b->o;
    size_t nt = cld_targets_count(b->targets);
    enum cld_status st;
    struct group *g = NULL;
    int bucket;

    cld_plan_init(plan);
    for (size_t i = 0; i < nt; i++) {
        if (b->excluded[i])
            cld_plan_exclude(plan, i, "%s", b->why[i]);
        else if (avoid & (1ull << i))
            cld_plan_exclude(plan, i, "%s", "failed this item");
    }
    /* Cores other processes keep busy slow the host and CPU devices: read
     * over the time since the last reading (decoding and computing went
     * on meanwhile; nothing waits for it). */
    if (cld_load_age(&b->load) >= LOAD_MIN_WINDOW_S) {
        unsigned cores;
        double busy = cld_load_read(&b->load, LOAD_MIN_WINDOW_S, &cores);

        if (busy >= 0)
            cld_targets_set_load(b->targets, busy, cores);
        if (cld_load_age(&b->load) >= LOAD_REFRESH_S)
            cld_load_start(&b->load);
    }
    st = cld_targets_decide(b->targets, o->job, p, in, &b->hist, plan);
    *probe = st == CLD_OK && b->forced < 0 ? maybe_probe(b, plan) : NULL;
    if (b->forced >= 0) {
        const struct cld_candidate *c = &plan->cand[b->forced];

        if (c->excluded)
            return cld_error_set(CLD_ERR_UNSUPPORTED, "%s cannot run %s: %s",
                                 c->target, o->job->name, c->reason);
        if (plan->chosen != b->forced)
            snprintf(plan->reason, sizeof plan->reason,
                     "forced by --device/CLDISPATCH_DEVICE '%s' "
                     "(placement would pick %s)", b->spec,
                     plan->chosen >= 0 ? plan->cand[plan->chosen].target
                                       : "nothing");
        else
            snprintf(plan->reason, sizeof plan->reason,
                     "forced by --device/CLDISPATCH_DEVICE '%s' (placement "
                     "agrees)", b->spec);
        plan->chosen = b->forced;
        st = CLD_OK;
    }
    if (st != CLD_OK)
        return st;
    *target = plan->chosen;
    bucket = cld_history_bucket(plan->elements);
    for (size_t i = 0; i < b->ngroups && !g; i++) {
        if (b->groups[i].bucket == bucket && b->groups[i].target == *target)
            g = &b->groups[i];
    }
    if (!g && b->ngroups < MAX_GROUPS) {
        g = &b->groups[b->ngroups++];
        g->bucket = bucket;
        g->target = *target;
        if (o->explain) {
            fprintf(o->out, "items of about 2^%d elements:\n", bucket);
            cld_plan_print(o->out, plan);
            fflush(o->out);
        }
    }
    return CLD_OK;
}

/* Exclude target i for the rest of the batch, "what: first error line";
 * true for the caller that excluded it first (who warns). Caller holds
 * b->lock. */
static bool exclude(struct batch *b, int i, const char *what,
                    const char *line)
{
    if (b->excluded[i])
        return false;
    b->excluded[i] = true;
    snprintf(b->why[i], sizeof b->why[i], "%s: %s", what, line);
    return true;
}

/* An item done on target in `seconds`: count it in its group, and record
 * the time unless it includes a program build (timed false). */
static void record(struct batch *b, int target, const struct cld_params *p,
                   const struct cld_data *in, double seconds, bool timed)
{
    const struct cld_target_profile *t =
        &cld_targets_profiles(b->targets)[target];
    struct cld_workload w;
    int bucket;

    cld_targets_workload(b->o->job, p, in, &w);
    bucket = cld_history_bucket(w.elements);
    pthread_mutex_lock(&b->lock);
    if (timed && w.elements > 0) {
        cld_history_add(&b->fresh, w.job, w.params, t->key,
                        cld_history_work(&w), seconds);
        cld_history_add(&b->hist, w.job, w.params, t->key,
                        cld_history_work(&w), seconds);
    }
    for (size_t i = 0; i < b->ngroups; i++) {
        if (b->groups[i].bucket == bucket && b->groups[i].target == target) {
            b->groups[i].items++;
            if (timed) {
                b->groups[i].run_s += seconds;
                b->groups[i].timed++;
            }
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
}

/* An item whose device work is in flight: what finishing it needs. */
struct pending {
    struct item *it;
    struct cld_future *f;     /* the item's, deferred */
    struct cld_data in, res;
    struct cld_work w;
    struct cld_launch *l;
    int target;
    struct group *probe;
    double start_s;           /* host seconds spent starting it */
    bool timed;               /* no program build while starting */
    double t0;                /* when the item's task began */
    /* Two events let finish_item run: the device's completion, and the
     * starting thread having filled in the above. */
    atomic_int gate;
};

/* The host worker's lane on the batch's timeline. */
static int host_lane(struct batch *b)
{
    char name[32];

    if (!b->trace)
        return -1;
    snprintf(name, sizeof name, "host worker %d",
             cld_executor_worker_index() + 1);
    return cld_trace_lane(b->trace, name);
}

static const char *item_name(const struct item *it)
{
    const char *p = it->src[0] ? it->src[0] : it->out;
    const char *slash = strrchr(p, '/');

    return slash ? slash + 1 : p;
}

static void span(struct item *it, const char *what, double t0)
{
    struct batch *b = it->b;

    cld_trace_span(b->trace, host_lane(b), what, item_name(it), t0,
                   cld_now_s());
}

/* The progress line on o->err (with --progress): items done, rate, MPix/s
 * and the time left, redrawn in place at most every PROGRESS_EVERY_S.
 * Caller holds b->lock. */
static void progress(struct batch *b, bool force)
{
    double t = cld_now_s(), el = t - b->t_start, rate;
    unsigned n = b->done + b->failed;
    char eta[32];

    if (!b->o->progress || (!force && t - b->progress_s < PROGRESS_EVERY_S))
        return;
    b->progress_s = t;
    rate = el > 0 ? n / el : 0;
    if (rate > 0)
        cld_format_seconds(eta, sizeof eta, (b->nrun - n) / rate);
    else
        snprintf(eta, sizeof eta, "?");
    fprintf(b->o->err, "\r\033[K%u/%u items, %.1f items/s, %.1f MPix/s, "
            "ETA %s", n, b->nrun, rate, el > 0 ? b->pixels / 1e6 / el : 0,
            eta);
    fflush(b->o->err);
    b->progress_shown = true;
}

/* Posted by the launcher's completion: finish on a worker thread. */
static enum cld_status finish_item(void *arg);

/* One of the two events finish_item waits for; the second posts it. */
static void device_done(void *arg)
{
    struct pending *pd = arg;

    if (atomic_fetch_sub(&pd->gate, 1) != 1)
        return;
    if (cld_executor_post(pd->it->b->ex, finish_item, pd) != CLD_OK) {
        /* Out of memory for the post: finish here rather than lose it
         * (a driver thread then pays for the encode). */
        finish_item(pd);
    }
}

/* While a device's ring is full: finish an item if one is ready. */
static bool ring_wait(void *arg)
{
    struct batch *b = arg;

    return cld_executor_help(b->ex, 0.002);
}

/* Plan job on ctx and start its device work, trying the plan's fallback
 * variant when the first cannot get its work-group. On success the work is
 * in flight and pd owns w and res. */
static enum cld_status start_device(struct item *it, struct cld_clctx *ctx,
                                    const struct cld_data *in,
                                    struct pending *pd)
{
    const struct cld_job *job = it->b->o->job;
    struct cld_launch_opts lo = {.item = item_name(it), .done = device_done,
                                 .user = pd, .wait = ring_wait,
                                 .wait_arg = it->b};
    int variant = CLD_VARIANT_AUTO;
    enum cld_status st;

    for (;;) {
        memset(&pd->res, 0, sizeof pd->res);
        cld_work_init(&pd->w, job->family, NULL);
        st = cld_job_plan(job, &it->params, in, cld_launch_facts(ctx),
                          variant, &pd->res, &pd->w);
        if (st == CLD_OK)
            st = cld_launch_start(ctx, &pd->w, &lo, &pd->l);
        if (st == CLD_OK)
            return CLD_OK;
        cld_work_free(&pd->w);
        cld_data_free(&pd->res);
        if (st != CLD_ERR_UNSUPPORTED || variant >= 0 ||
            pd->w.fallback < 0)
            return st;
        variant = pd->w.fallback;
    }
}

static enum cld_status device_failed(struct item *it, int target,
                                     enum cld_status st,
                                     const struct cld_data *in,
                                     struct cld_data *res);

/* Run the job on the item's input: place it and run it, on a kernel build
 * failure (or a device that cannot be opened) excluding that target and
 * trying the next best one; never on the item's failed targets. With pd,
 * work placed on a device is started and left in flight (then *started is
 * set and pd owns the input's result); without, it is waited for. */
static enum cld_status place_and_run(struct item *it,
                                     const struct cld_data *in,
                                     struct cld_data *res,
                                     struct pending *pd, bool *started)
{
    struct batch *b = it->b;
    const struct cld_batch_opts *o = b->o;
    size_t nt = cld_targets_count(b->targets);
    enum cld_status st = CLD_ERR_NO_DEVICE;
    char line[256];
    int announce = -1;  /* target whose exclusion this item announces */

    if (started)
        *started = false;
    for (size_t attempt = 0; attempt <= nt; attempt++) {
        struct cld_plan plan;
        struct cld_clctx *ctx = NULL;
        unsigned long builds = 0;
        struct group *probe = NULL;
        int target = -1;
        double t0;
        bool timed, async;

        pthread_mutex_lock(&b->lock);
        st = choose(b, &it->params, in, it->failed_on, &plan, &target,
                    &probe);
        if (announce >= 0) {
            fprintf(o->err, "cldispatch: warning: %s: %s; %s goes to %s "
                    "instead\n",
                    cld_targets_profiles(b->targets)[announce].name,
                    b->why[announce], o->job->name,
                    st == CLD_OK ? plan.cand[target].target : "no target");
            announce = -1;
        }
        pthread_mutex_unlock(&b->lock);
        if (st != CLD_OK)
            return st;
        st = cld_targets_context(b->targets, (size_t)target, &ctx);
        if (st != CLD_OK) {
            if (b->forced >= 0)
                return st;
            pthread_mutex_lock(&b->lock);
            probe_return(b, probe);
            if (exclude(b, target, "cannot be opened",
                        cld_calibrate_first_error(cld_error_detail(), line,
                                                  sizeof line)))
                announce = target;
            pthread_mutex_unlock(&b->lock);
            continue;
        }
        if (ctx)
            builds = cld_launch_builds(ctx);
        t0 = cld_now_s();
        /* A chain whose steps do not merge runs step by step, waited
         * for. */
        async = ctx && pd && cld_job_one_work(o->job, cld_launch_facts(ctx));
        if (async) {
            st = start_device(it, ctx, in, pd);
        } else {
            st = cld_job_run(o->job, ctx, &it->params, in, res);
            if (!ctx)
                span(it, "compute (host)", t0);
        }
        t0 = cld_now_s() - t0;
        if (st == CLD_ERR_BUILD) {
            bool first;

            pthread_mutex_lock(&b->lock);
            probe_return(b, probe);
            first = exclude(b, target, "kernel build failed",
                            cld_calibrate_first_error(cld_error_detail(),
                                                      line, sizeof line));
            pthread_mutex_unlock(&b->lock);
            if (b->forced >= 0)
                return st;
            if (first)
                announce = target;
            continue;
        }
        /* A run that waited for a program build measures the build. */
        timed = !ctx || cld_launch_builds(ctx) == builds;
        if (st == CLD_OK && async) {
            if (probe && !timed) {
                /* It will measure a build: another item may probe. */
                pthread_mutex_lock(&b->lock);
                probe_return(b, probe);
                pthread_mutex_unlock(&b->lock);
                probe = NULL;
            }
            pd->target = target;
            pd->probe = probe;
            pd->timed = timed;
            pd->start_s = t0;
            *started = true;
            device_done(pd);
            return CLD_OK;
        }
        if (probe && (st != CLD_OK || !timed)) {
            /* It measured nothing: another item may probe instead. */
            pthread_mutex_lock(&b->lock);
            probe_return(b, probe);
            pthread_mutex_unlock(&b->lock);
        }
        if (st != CLD_OK)
            return device_failed(it, target, st, in, res);
        record(b, target, &it->params, in, t0, timed);
        return CLD_OK;
    }
    return st;
}

/* An OpenCL error while item ran on target. With placement choosing,
 * count it against the target (excluded for the rest of the batch after
 * DEVICE_MAX_ERRORS, said once) and run the item again on the next best
 * target that has not failed it (the host, last of all); a forced
 * target's error fails the item. */
static enum cld_status device_failed(struct item *it, int target,
                                     enum cld_status st,
                                     const struct cld_data *in,
                                     struct cld_data *res)
{
    struct batch *b = it->b;
    const struct cld_batch_opts *o = b->o;
    const char *name = cld_targets_profiles(b->targets)[target].name;
    char line[256], what[64];
    bool dropped = false, first = !it->retried;
    enum cld_status again;

    if (st != CLD_ERR_CL || b->forced >= 0 || target == 0 ||
        target >= 64)
        return st;
    cld_calibrate_first_error(cld_error_detail(), line, sizeof line);
    it->failed_on |= 1ull << target;
    pthread_mutex_lock(&b->lock);
    if (first)
        b->retried++;
    it->retried = true;
    if (++b->errors[target] >= DEVICE_MAX_ERRORS) {
        snprintf(what, sizeof what, "failed %u items", b->errors[target]);
        dropped = exclude(b, target, what, line);
        b->dropped += dropped;
    }
    if (dropped)
        fprintf(o->err, "%scldispatch: warning: %s: %s: %s; not used for "
                "the rest of the batch\n", b->progress_shown ? "\r\033[K" : "",
                name, what, line);
    pthread_mutex_unlock(&b->lock);
    cld_data_free(res);
    /* Synchronously: a failure there comes back here for the next. */
    again = place_and_run(it, in, res, NULL, NULL);
    if (again == CLD_OK && first) {
        pthread_mutex_lock(&b->lock);
        fprintf(o->err, "%scldispatch: warning: %s: %s on %s; done again "
                "on another target\n", b->progress_shown ? "\r\033[K" : "",
                it->src[0] ? it->src[0] : it->out, line, name);
        pthread_mutex_unlock(&b->lock);
    }
    return again;
}

/* True when an item shrunk on load is already its output size. */
static bool shrunk_to_size(const struct item *it, const struct cld_data *in)
{
    uint32_t ow, oh;

    return it->shrink > 1 &&
           cld_resize_output_size(&it->params, in->img.width,
                                  in->img.height, &ow, &oh) == CLD_OK &&
           ow == in->img.width && oh == in->img.height;
}

/* Save the item's result, count its pixels, and note its time. */
static enum cld_status save_item(struct item *it, const struct cld_data *in,
                                 const struct cld_data *res, double t0)
{
    struct batch *b = it->b;
    double e0 = cld_now_s();
    enum cld_status st = save_output(it, res);
    const struct cld_data *px = in->kind == CLD_DATA_IMAGE ? in : res;

    span(it, "encode", e0);
    if (st == CLD_OK && px->kind == CLD_DATA_IMAGE) {
        pthread_mutex_lock(&b->lock);
        b->pixels += (double)px->img.width * px->img.height;
        pthread_mutex_unlock(&b->lock);
    }
    it->seconds = cld_now_s() - t0;
    return st;
}

static enum cld_status finish_item(void *arg)
{
    struct pending *pd = arg;
    struct item *it = pd->it;
    struct batch *b = it->b;
    double device_s = 0;
    enum cld_status st = cld_launch_finish(pd->l, &device_s);

    cld_work_free(&pd->w);
    if (pd->probe && (st != CLD_OK || !pd->timed)) {
        pthread_mutex_lock(&b->lock);
        probe_return(b, pd->probe);
        pthread_mutex_unlock(&b->lock);
    }
    if (st == CLD_OK)
        record(b, pd->target, &it->params, &pd->in, pd->start_s + device_s,
               pd->timed);
    else
        st = device_failed(it, pd->target, st, &pd->in, &pd->res);
    if (st == CLD_OK)
        st = save_item(it, &pd->in, &pd->res, pd->t0);
    else
        cld_error_prefix("%s", it->src[0] ? it->src[0] : it->out);
    cld_data_free(&pd->in);
    cld_data_free(&pd->res);
    cld_future_complete(pd->f, st);
    free(pd);
    return st;
}

static enum cld_status run_item(void *arg)
{
    struct item *it = arg;
    struct pending *pd = NULL;
    struct cld_data in, res;
    double t0 = cld_now_s();
    bool started = false;
    enum cld_status st;

    memset(&res, 0, sizeof res);
    st = load_input(it, &in);
    if (it->src[0])
        span(it, "decode", t0);
    if (st == CLD_OK && shrunk_to_size(it, &in)) {
        /* Shrink-on-load made the output size itself: resizing to the
         * same size is a copy, so the decoded pixels are the result. */
        res = in;
        memset(&in, 0, sizeof in);
    } else if (st == CLD_OK && it->b->o->inflight == 1) {
        /* The sequential baseline: wait for the device here. */
        st = place_and_run(it, &in, &res, NULL, NULL);
        if (st != CLD_OK)
            cld_error_prefix("%s", it->src[0] ? it->src[0] : it->out);
    } else if (st == CLD_OK && !(pd = calloc(1, sizeof *pd))) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
    } else if (st == CLD_OK) {
        /* Set up before the start: the completion may come, and another
         * worker finish the item, before place_and_run returns. */
        pd->it = it;
        pd->t0 = t0;
        pd->in = in;
        atomic_init(&pd->gate, 2);
        pd->f = cld_executor_defer();
        st = place_and_run(it, &in, &res, pd, &started);
        if (started)
            return CLD_OK;  /* finish_item completes the future */
        if (st != CLD_OK)
            cld_error_prefix("%s", it->src[0] ? it->src[0] : it->out);
    }
    if (st == CLD_OK)
        st = save_item(it, &in, &res, t0);
    cld_data_free(&in);
    cld_data_free(&res);
    if (pd && pd->f)
        cld_future_complete(pd->f, st);
    free(pd);
    return st;
}

static void item_done(struct cld_future *f, void *user)
{
    struct item *it = cld_future_arg(f);
    struct batch *b = user;
    enum cld_status st = cld_future_status(f);

    pthread_mutex_lock(&b->lock);
    if (st != CLD_OK) {
        it->st = st;
        free(it->err);
        it->err = strdup(cld_future_detail(f));
        fprintf(b->o->err, "%scldispatch: %s\n", b->progress_shown ? "\r\033[K" : "",
                cld_future_detail(f));
        b->failed++;
    } else {
        b->done++;
        if (b->o->verbose) {
            fprintf(b->o->out, "%s (%.1f ms", it->out, it->seconds * 1e3);
            if (it->shrink > 1)
                fprintf(b->o->out, ", decoded at 1/%u", it->shrink);
            fprintf(b->o->out, ")\n");
        }
    }
    progress(b, false);
    pthread_mutex_unlock(&b->lock);
}

/* Targets, the forced one if any, and the saved profiles and history. */
/* Open the profile store and load the profiles and history into
 * b->targets; *nprof counts the targets with a calibrated profile. */
static void load_profiles(struct batch *b, unsigned *nprof)
{
    const struct cld_batch_opts *o = b->o;
    char warn[512];

    *nprof = 0;
    if (!b->store && cld_profile_store_open(NULL, &b->store) != CLD_OK) {
        if (o->explain)
            fprintf(o->out, "no profile store (%s): placement uses the "
                    "prior\n", cld_error_detail());
        b->store = NULL;
        return;
    }
    if (cld_targets_load(b->targets, b->store,
                         b->hist_loaded ? NULL : &b->hist, nprof, warn,
                         sizeof warn) != CLD_OK)
        fprintf(o->err, "cldispatch: warning: profiles not loaded: %s\n",
                cld_error_detail());
    if (warn[0])
        fprintf(o->err, "cldispatch: warning: %s\n", warn);
}

/* With --explain, what placement starts from. */
static void explain_targets(const struct batch *b, unsigned nprof)
{
    const struct cld_batch_opts *o = b->o;

    if (o->explain && b->store)
        fprintf(o->out, "%zu target%s, %u with a calibrated profile, %zu "
                "history entr%s (%s)%s\n", cld_targets_count(b->targets),
                cld_targets_count(b->targets) == 1 ? "" : "s", nprof,
                b->hist.n, b->hist.n == 1 ? "y" : "ies",
                cld_profile_store_dir(b->store),
                nprof ? "" : "; run `cldispatch --calibrate` to measure");
}

/* For a resize that will shrink a JPEG on load, the size it will decode
 * at and the parameters it will then run with (the rule of
 * jpeg_pick_shrink in image_io.c, on the stored size; an orientation that
 * swaps the sides changes neither the pixel count nor the choice much).
 * True when the decode alone gives the output size: no job runs at all. */
static bool preplan_shrink(const struct batch *b, const char *path,
                           struct cld_params *p, uint32_t *w, uint32_t *h)
{
    unsigned char magic[3] = {0};
    uint32_t ow, oh;
    FILE *f;

    if (b->o->job != &cld_job_resize || b->o->no_shrink_on_load ||
        cld_resize_output_size(p, *w, *h, &ow, &oh) != CLD_OK)
        return false;
    f = fopen(path, "rb");
    if (!f)
        return false;
    if (fread(magic, 1, 3, f) != 3 || magic[0] != 0xff || magic[1] != 0xd8 ||
        magic[2] != 0xff) {
        fclose(f);
        return false;
    }
    fclose(f);
    for (uint32_t s = 8; s >= 2; s /= 2) {
        uint32_t sw = (*w + s - 1) / s, sh = (*h + s - 1) / s;

        if (sw == ow && sh == oh)
            return true;
        if (sw / 2 >= ow && sh / 2 >= oh) {
            if (cld_resize_set_size(p, ow, oh) == CLD_OK) {
                *w = sw;
                *h = sh;
            }
            return false;
        }
    }
    return false;
}

/* True when, with b->targets made from the cached inventory, running every
 * item on the host is predicted no slower than starting OpenCL (startup_s,
 * measured when the inventory was saved) and running each item on its
 * fastest target. Items are sized from their headers only; a job on
 * matrices, or a file whose header does not read, says no. */
static bool all_on_host(struct batch *b, double startup_s)
{
    const struct cld_job *job = b->o->job;
    double host_s = 0, best_s = startup_s;

    if (job->input == CLD_DATA_MATRIX)
        return false;
    for (size_t i = 0; i < b->nitems; i++) {
        struct item *it = &b->items[i];
        struct cld_params p = it->params;
        struct cld_data in;
        struct cld_plan plan;
        uint32_t w = 0, h = 0;
        double best = -1;

        if (it->st != CLD_OK)
            continue;
        memset(&in, 0, sizeof in);
        in.kind = job->input;
        if (job->input == CLD_DATA_IMAGE) {
            if (cld_image_probe(it->src[0], &b->o->limits, &w, &h) != CLD_OK)
                return false;
            if (preplan_shrink(b, it->src[0], &p, &w, &h))
                continue;
            if (cld_targets_synth_input(job, w, h, false, &p, &in) != CLD_OK)
                return false;
        }
        cld_plan_init(&plan);
        if (cld_targets_decide(b->targets, job, &p, &in, &b->hist, &plan) !=
                CLD_OK ||
            plan.n == 0 || plan.cand[0].excluded) {
            cld_data_free(&in);
            return false;
        }
        cld_data_free(&in);
        for (size_t t = 0; t < plan.n; t++) {
            if (!plan.cand[t].excluded &&
                (best < 0 || plan.cand[t].seconds < best))
                best = plan.cand[t].seconds;
        }
        host_s += plan.cand[0].seconds;
        best_s += best;
    }
    b->preplan_host_s = host_s;
    b->preplan_best_s = best_s;
    return host_s <= best_s;
}

/* In auto mode, decide from the device inventory cached by an earlier run
 * whether any item needs a device; when none does, run on the host with
 * the devices listed but not started, and OpenCL is never initialised.
 * True when that is what was set up. Batches of more than
 * DEFER_MAX_ITEMS items start OpenCL anyway: its start-up is then a
 * small share of the run, and reading every header first is not. */
#define DEFER_MAX_ITEMS 64u

static bool defer_opencl(struct batch *b)
{
    const struct cld_batch_opts *o = b->o;
    char h[32], d[32], u[32];
    struct cld_device_list list;
    double startup_s = 0;
    unsigned nprof;

    if (b->nitems > DEFER_MAX_ITEMS ||
        cld_profile_store_open(NULL, &b->store) != CLD_OK) {
        b->store = NULL;
        return false;
    }
    if (cld_inventory_load(cld_profile_store_dir(b->store), &list,
                           &startup_s) != CLD_OK)
        return false;
    if (list.ndevices == 0 ||
        cld_targets_create(&list, &b->targets) != CLD_OK) {
        cld_device_list_free(&list);
        return false;
    }
    cld_device_list_free(&list);
    load_profiles(b, &nprof);
    if (!all_on_host(b, startup_s)) {
        /* Start again from what discovery finds; the history already
         * read stays (it is keyed by target name, not by handle). */
        b->hist_loaded = true;
        cld_targets_destroy(b->targets);
        b->targets = NULL;
        return false;
    }
    for (size_t i = 1; i < cld_targets_count(b->targets); i++)
        exclude(b, (int)i, "not started",
                "the host is predicted to finish the run before OpenCL "
                "could start and run it");
    explain_targets(b, nprof);
    if (o->explain)
        fprintf(o->out, "OpenCL not started: with the %zu device%s cached "
                "by an earlier run, the host is predicted to take %s for "
                "every item, against %s with OpenCL's start-up (%s, "
                "measured) and each item on its fastest target\n",
                cld_targets_count(b->targets) - 1,
                cld_targets_count(b->targets) == 2 ? "" : "s",
                cld_format_seconds(h, sizeof h, b->preplan_host_s),
                cld_format_seconds(d, sizeof d, b->preplan_best_s),
                cld_format_seconds(u, sizeof u, startup_s));
    return true;
}

static enum cld_status setup_targets(struct batch *b)
{
    const struct cld_batch_opts *o = b->o;
    const char *spec = o->device ? o->device : "auto";
    bool host_only;
    unsigned nprof;
    double startup_s;
    enum cld_status st;

    if ((st = cld_device_selector_check(spec)) != CLD_OK)
        return st;
    b->spec = spec;
    cld_load_start(&b->load);
    host_only = strcasecmp(spec, "host") == 0;
    if (strcasecmp(spec, "auto") == 0 && defer_opencl(b))
        return CLD_OK;
    startup_s = cld_now_s();
    st = cld_targets_discover(host_only, &b->targets);
    startup_s = cld_now_s() - startup_s;
    if (st != CLD_OK) {
        if (strcasecmp(spec, "auto") != 0)
            return st;
        fprintf(o->err, "cldispatch: warning: device discovery failed (%s); "
                "running on the host\n", cld_error_detail());
        if ((st = cld_targets_discover(true, &b->targets)) != CLD_OK)
            return st;
    }
    cld_targets_warn_dropped(b->targets, o->err);
    if ((st = cld_targets_select(b->targets, spec, &b->forced)) != CLD_OK)
        return st;
    load_profiles(b, &nprof);
    explain_targets(b, nprof);
    /* What discovery found, for the next run's decision to defer it; the
     * batch adds its first program load when it ends (save_inventory). */
    if (b->store && !host_only) {
        cld_inventory_save(cld_profile_store_dir(b->store),
                           cld_targets_list(b->targets), startup_s);
        b->discovery_s = startup_s;
    }
    return CLD_OK;
}

/* After a batch that started OpenCL: the start-up the next run prices in
 * is discovery plus loading one program on a device. */
static void save_inventory(struct batch *b)
{
    double load_s;

    if (b->discovery_s > 0 && b->store &&
        cld_targets_load_seconds(b->targets, &load_s))
        cld_inventory_save(cld_profile_store_dir(b->store),
                           cld_targets_list(b->targets),
                           b->discovery_s + load_s);
}

static void explain_summary(struct batch *b)
{
    char t[32];

    if (!b->o->explain ||
        (b->ngroups == 0 && !b->shrunk[1] && !b->shrunk[2] && !b->shrunk[3]))
        return;
    fprintf(b->o->out, "summary:\n");
    for (size_t i = 0; i < b->ngroups; i++) {
        const struct group *g = &b->groups[i];

        fprintf(b->o->out, "  2^%-2d elements  %-36s %4u item%s", g->bucket,
                cld_targets_profiles(b->targets)[g->target].name, g->items,
                g->items == 1 ? " " : "s");
        if (g->timed)
            fprintf(b->o->out, "  %s per item (compute, mean of %u)",
                    cld_format_seconds(t, sizeof t, g->run_s / g->timed),
                    g->timed);
        else if (g->items == 0 && b->excluded[g->target])
            fprintf(b->o->out, "  (excluded: %s)", b->why[g->target]);
        fputc('\n', b->o->out);
    }
    for (unsigned k = 1; k < 4; k++) {
        if (b->shrunk[k])
            fprintf(b->o->out, "  shrink-on-load: %u JPEG item%s decoded at "
                    "1/%u scale (DCT scaling)\n", b->shrunk[k],
                    b->shrunk[k] == 1 ? "" : "s", 1u << k);
    }
}

/* The figures of the end-of-run summary (cli.c prints them). */
static void summarize(struct batch *b, struct cld_batch_result *res)
{
    const struct cld_target_profile *prof =
        cld_targets_profiles(b->targets);
    unsigned per[CLD_PLAN_MAX] = {0}, total = 0;
    size_t nt = cld_targets_count(b->targets), len = 0;

    pthread_mutex_lock(&b->lock);
    if (b->progress_shown) {
        progress(b, true);
        fprintf(b->o->err, "\r\033[K");
        b->progress_shown = false;
    }
    pthread_mutex_unlock(&b->lock);
    res->wall_s = cld_now_s() - b->t_start;
    res->mpix = b->pixels / 1e6;
    res->busy_s = cld_trace_busy(b->trace, &res->lanes);
    res->retried = b->retried;
    res->dropped = b->dropped;
    for (size_t i = 0; i < b->ngroups; i++) {
        per[b->groups[i].target] += b->groups[i].items;
        total += b->groups[i].items;
    }
    res->share[0] = '\0';
    for (size_t t = 0; t < nt && total; t++) {
        int n;

        if (!per[t])
            continue;
        n = snprintf(res->share + len, sizeof res->share - len, "%s%s %.0f%%",
                     len ? ", " : "", prof[t].name, 100.0 * per[t] / total);
        if (n < 0 || (size_t)n >= sizeof res->share - len)
            break;
        len += (size_t)n;
    }
}

static void free_items(struct batch *b)
{
    for (size_t i = 0; i < b->nitems; i++) {
        free(b->items[i].src[0]);
        free(b->items[i].src[1]);
        free(b->items[i].out);
        free(b->items[i].err);
    }
    free(b->items);
    b->items = NULL;
    b->nitems = 0;
}

enum cld_status cld_batch_items(const struct cld_batch_opts *o,
                                char *const *inputs, int ninputs,
                                char ***srcs, char ***outs, size_t *count)
{
    struct batch b;
    enum cld_status st;

    *srcs = NULL;
    *outs = NULL;
    *count = 0;
    memset(&b, 0, sizeof b);
    b.o = o;
    if ((st = plan(&b, inputs, ninputs)) != CLD_OK ||
        (st = check_outputs(&b)) != CLD_OK)
        goto out;
    *srcs = calloc(b.nitems ? b.nitems : 1, sizeof **srcs);
    *outs = calloc(b.nitems ? b.nitems : 1, sizeof **outs);
    if (!*srcs || !*outs) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        free(*srcs);
        free(*outs);
        *srcs = *outs = NULL;
        goto out;
    }
    for (size_t i = 0; i < b.nitems; i++) {
        (*srcs)[i] = b.items[i].src[0];
        (*outs)[i] = b.items[i].out;
        b.items[i].src[0] = b.items[i].out = NULL;
    }
    *count = b.nitems;
out:
    free_items(&b);
    return st;
}

void cld_batch_items_free(char **srcs, char **outs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(srcs ? srcs[i] : NULL);
        free(outs ? outs[i] : NULL);
    }
    free(srcs);
    free(outs);
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (unsigned)n : 1;
}

enum cld_status cld_batch_run(const struct cld_batch_opts *o,
                              char *const *inputs, int ninputs,
                              struct cld_batch_result *res)
{
    struct batch b;
    struct cld_executor *ex = NULL;
    /* --inflight 1 is the plain loop: one item at a time, decoded, run
     * and saved before the next (unless -j asks for more workers). */
    unsigned threads = o->threads ? o->threads
                       : o->inflight == 1 ? 1 : default_threads();
    enum cld_status st;

    memset(res, 0, sizeof *res);
    memset(&b, 0, sizeof b);
    b.o = o;
    b.forced = -1;
    b.t_start = cld_now_s();
    cld_history_init(&b.hist);
    cld_history_init(&b.fresh);
    pthread_mutex_init(&b.lock, NULL);
    if ((st = plan(&b, inputs, ninputs)) != CLD_OK ||
        (st = check_outputs(&b)) != CLD_OK)
        goto out;
    if ((st = cld_mkdir_p(o->outdir)) != CLD_OK)
        goto out;
    if ((st = setup_targets(&b)) != CLD_OK)
        goto out;
    cld_launch_set_inflight(o->inflight);
    if ((st = cld_trace_create(o->trace_path != NULL, &b.trace)) != CLD_OK)
        goto out;
    cld_trace_set_current(b.trace);
    if ((st = cld_executor_create(threads, 2 * threads, &ex)) != CLD_OK)
        goto out;
    b.ex = ex;
    for (size_t i = 0; i < b.nitems; i++)
        b.nrun += b.items[i].st == CLD_OK;
    for (size_t i = 0; i < b.nitems; i++) {
        if (b.items[i].st != CLD_OK)
            continue;
        st = cld_executor_submit(ex, run_item, &b.items[i], item_done, &b,
                                 NULL);
        if (st != CLD_OK)
            goto out;
    }
    cld_executor_drain(ex);
    summarize(&b, res);
    if (o->trace_path &&
        cld_trace_write(b.trace, o->trace_path, b.t_start) != CLD_OK)
        fprintf(o->err, "cldispatch: warning: trace not written: %s\n",
                cld_error_detail());
    save_inventory(&b);
    explain_summary(&b);
    res->shrunk = b.shrunk[1] + b.shrunk[2] + b.shrunk[3];
out:
    cld_executor_destroy(ex);
    cld_trace_set_current(NULL);
    cld_trace_destroy(b.trace);
    if (b.store && b.fresh.n > 0
        && cld_profile_record_many(b.store, &b.fresh) != CLD_OK)
        fprintf(o->err, "cldispatch: warning: run history not saved: %s\n",
                cld_error_detail());
    for (size_t i = 0; i < b.nitems; i++) {
        struct item *it = &b.items[i];

        if (it->st == CLD_ERR_EXISTS && it->err)
            fprintf(o->err, "cldispatch: %s\n", it->err);
        if (st == CLD_OK) {
            if (it->st == CLD_OK)
                res->done++;
            else
                res->failed++;
            if (o->on_item)
                o->on_item(o->on_item_user, i, it->st, it->err);
        }
        free(it->src[0]);
        free(it->src[1]);
        free(it->out);
        free(it->err);
    }
    free(b.items);
    cld_history_clear(&b.hist);
    cld_history_clear(&b.fresh);
    cld_profile_store_close(b.store);
    cld_targets_destroy(b.targets);
    pthread_mutex_destroy(&b.lock);
    return st;
}
