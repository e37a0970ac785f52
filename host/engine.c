/* One item's path through the engine: decode, placement, then either the
 * host (plain C, on this worker) or a device: its work is started and the
 * worker goes on to other items; the device's completion posts the rest
 * (results out, the item saved) back to a worker. On an OpenCL error in
 * auto mode the item runs again on the next best target. */
#include "engine.h"

#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "chain.h"
#include "clock.h"
#include "fsutil.h"
#include "launch.h"
#include "npy.h"

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

/* Shrink-on-load: the output size of resize (arg, its parameters) is the
 * least it needs. */
static void resize_min_size(void *arg, uint32_t w, uint32_t h, uint32_t *mw,
                            uint32_t *mh)
{
    if (cld_resize_output_size(arg, w, h, mw, mh) != CLD_OK)
        *mw = *mh = 0;
}

const struct cld_params *cld_engine_shrink_params(const struct batch *b)
{
    const struct cld_job *job = b->o->job;

    if (b->o->no_shrink_on_load)
        return NULL;
    if (job == &cld_job_resize)
        return &b->o->params;
    if (job->chain && job->chain->steps[0].job == &cld_job_resize)
        return &job->chain->steps[0].params;
    return NULL;
}

enum cld_status cld_engine_shrunk(struct item *it, uint32_t width,
                                  uint32_t height, unsigned shrink,
                                  int orientation)
{
    const struct cld_params *p = cld_engine_shrink_params(it->b);
    struct cld_params q;
    uint32_t ow, oh;
    enum cld_status st;

    if (!p)
        return cld_error_set(CLD_ERR_INTERNAL, "%s shrinks on load",
                             it->b->o->job->name);
    /* The output size from the full image; the mapping from the decode's
     * extent (width / shrink, which is fractional when shrink does not
     * divide a side). */
    q = *p;
    if ((st = cld_resize_output_size(p, width, height, &ow, &oh)) != CLD_OK ||
        (st = cld_resize_set_size(&q, ow, oh)) != CLD_OK ||
        (st = cld_resize_set_source(&q, width, height, shrink,
                                    orientation)) != CLD_OK)
        return st;
    if (!it->b->o->job->chain) {
        it->params = q;
        return CLD_OK;
    }
    cld_chain_destroy(it->chain);
    it->chain = NULL;
    st = cld_chain_shrunk(it->b->o->job->chain, &q,
                          (width + shrink - 1) / shrink,
                          (height + shrink - 1) / shrink, &it->chain);
    it->job = it->chain ? &it->chain->job : it->b->o->job;
    return st;
}

/* Load an image input, turned upright unless asked not to, and for resize
 * (or a chain that starts with it) decoded at a reduced scale where that
 * still covers the output: the item then resizes to the output size
 * computed from the full image (cld_engine_shrunk). */
static enum cld_status load_image(struct item *it, struct cld_image *img)
{
    struct batch *b = it->b;
    const struct cld_batch_opts *o = b->o;
    struct cld_load_opts lo = {.limits = o->limits,
                               .keep_orientation = o->keep_orientation};
    const struct cld_params *shrink = cld_engine_shrink_params(b);
    struct cld_params need;
    struct cld_load_info info;
    enum cld_status st;

    if (shrink) {
        need = *shrink;
        lo.min_size = resize_min_size;
        lo.min_size_arg = &need;
    }
    st = cld_image_load_ex(it->src[0], &lo, img, &info);
    if (st != CLD_OK || info.shrink == 1)
        return st;
    st = cld_engine_shrunk(it, info.width, info.height, info.shrink,
                           info.oriented ? info.orientation : 1);
    if (st != CLD_OK)
        return st;
    it->shrink = info.shrink;
    it->full_pixels = (double)info.width * info.height;
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

/* Write the item's result. With af, an image is encoded into af's
 * temporary file and left open for the caller to commit; a matrix, or
 * without af, is written and committed here (af then stays empty). */
static enum cld_status save_output(struct item *it, const struct cld_data *r,
                                   struct cld_atomic_file *af)
{
    const struct cld_batch_opts *o = it->b->o;
    char *dir = strdup(it->out);
    enum cld_status st;

    if (af)
        memset(af, 0, sizeof *af);
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

        st = af ? cld_image_save_begin(it->out, &r->img, &so, af)
                : cld_image_save(it->out, &r->img, &so);
        codec_warning(o, it->out, st);
        return st;
    }
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

/* What starts a line on o->err: the escape that first wipes a progress
 * line drawn there. Caller holds b->lock. */
static const char *clear_line(const struct batch *b)
{
    return b->progress_shown ? "\r\033[K" : "";
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
void cld_engine_progress(struct batch *b, bool force)
{
    double t = cld_now_s(), el = t - b->t_start, rate;
    unsigned n = b->done + b->failed;
    char eta[32] = "?", mpix[48] = "";

    if (!b->o->progress || (!force && t - b->progress_s < PROGRESS_EVERY_S))
        return;
    b->progress_s = t;
    rate = el > 0 ? n / el : 0;
    if (n >= b->nrun)
        snprintf(eta, sizeof eta, "0 s");
    else if (rate > 0)
        cld_format_seconds(eta, sizeof eta, (b->nrun - n) / rate);
    if (b->pixels > 0 && el > 0)
        snprintf(mpix, sizeof mpix, ", %.1f MPix/s", b->pixels / 1e6 / el);
    fprintf(b->o->err, "\r\033[K%u/%u items, %.1f items/s%s, ETA %s", n,
            b->nrun, rate, mpix, eta);
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
         * (a driver thread then pays for the encode), and leave the
         * thread as it was. */
        finish_item(pd);
        cld_launch_set_thread_wait(NULL);
    }
}

/* While a device's ring is full: finish an item if one is ready, else
 * sleep until a slot comes back (the ring wakes the executor's waiters)
 * or, as a safety net, a while passes. */
static void ring_wait(void *arg, bool (*ready)(void *ready_arg),
                      void *ready_arg)
{
    struct batch *b = arg;

    cld_executor_help(b->ex, 0.05, ready, ready_arg);
}

static void ring_wake(void *arg)
{
    struct batch *b = arg;

    cld_executor_wake(b->ex);
}

void cld_engine_ring_waiter_init(struct batch *b)
{
    b->ring_waiter.wait = ring_wait;
    b->ring_waiter.wake = ring_wake;
    b->ring_waiter.arg = b;
}

/* Plan job on ctx and start its device work, trying the plan's fallback
 * variant when the first cannot get its work-group. On success the work is
 * in flight and pd owns w and res. */
static enum cld_status start_device(struct item *it, struct cld_clctx *ctx,
                                    const struct cld_data *in,
                                    struct pending *pd)
{
    const struct cld_job *job = it->job;
    struct cld_launch_opts lo = {.item = item_name(it), .done = device_done,
                                 .user = pd,
                                 .wait = &it->b->ring_waiter};
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

/* Run a chain's item split as placement chose (s): the head on its
 * target (one merged device work where its steps merge, else step by
 * step; the C references on the host), its output in host memory, then
 * the tail on the other target; each waited for. On success the parts'
 * times are recorded. On failure *bad is the target of the part that
 * failed (-1 when neither: out of memory), *opening says whether its
 * device context could not be opened, and the detail line names the
 * part's steps and target. */
static enum cld_status run_split(struct item *it, const struct cld_split *s,
                                 const struct cld_data *in,
                                 struct cld_data *res, int *bad,
                                 bool *opening)
{
    struct batch *b = it->b;
    const struct cld_chain *c = it->job->chain;
    struct cld_clctx *ctx[2] = {NULL, NULL};
    struct cld_data mid;
    double secs[2] = {0, 0};
    bool timed[2] = {true, true};
    enum cld_status st = CLD_OK;

    *bad = -1;
    *opening = false;
    memset(&mid, 0, sizeof mid);
    memset(res, 0, sizeof *res);
    /* Both contexts first: a device that cannot be opened is then known
     * before any part runs. */
    for (int k = 0; k < 2 && st == CLD_OK; k++) {
        st = cld_targets_context(b->targets, (size_t)s->part[k].target,
                                 &ctx[k]);
        if (st != CLD_OK) {
            *bad = s->part[k].target;
            *opening = true;
        }
    }
    for (int k = 0; k < 2 && st == CLD_OK; k++) {
        const struct cld_params *p;
        unsigned from = k ? s->at : 0, to = k ? s->nsteps : s->at;
        const struct cld_job *job = cld_chain_part(c, from, to, &p);
        unsigned long builds = ctx[k] ? cld_launch_builds(ctx[k]) : 0;
        double t0 = cld_now_s();

        if (!job) {
            st = cld_error_set(CLD_ERR_INTERNAL, "%s: no part for steps "
                               "%u-%u", c->name, from + 1, to);
            break;
        }
        st = cld_job_run(job, ctx[k], p, k ? &mid : in, k ? res : &mid);
        secs[k] = cld_now_s() - t0;
        timed[k] = !ctx[k] || cld_launch_builds(ctx[k]) == builds;
        if (!ctx[k])
            span(it, "compute (host)", t0);
        if (st != CLD_OK) {
            *bad = s->part[k].target;
            if (to - from == 1)
                cld_error_prefix("%s (step %u of %s) on %s", job->name,
                                 to, c->name,
                                 cld_targets_profiles(b->targets)[*bad].name);
            else
                cld_error_prefix("%s (steps %u-%u of %s) on %s", job->name,
                                 from + 1, to, c->name,
                                 cld_targets_profiles(b->targets)[*bad].name);
        }
    }
    if (st == CLD_OK)
        cld_engine_record_split(b, it->job, s, in, &mid, secs, timed);
    else
        cld_data_free(res);
    cld_data_free(&mid);
    return st;
}

/* Exclude target for the rest of the batch because of the error just
 * reported (what, then its first line), giving back the item's probe
 * (may be NULL); true for the caller that excluded it first (who has the
 * next placement announce it). */
static bool exclude_target(struct batch *b, int target, const char *what,
                           struct group *probe)
{
    char line[256];
    bool first;

    cld_calibrate_first_error(cld_error_detail(), line, sizeof line);
    pthread_mutex_lock(&b->lock);
    cld_engine_probe_return(b, probe);
    first = cld_engine_exclude(b, target, what, line);
    pthread_mutex_unlock(&b->lock);
    return first;
}

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
        st = cld_engine_choose(b, it->job, &it->params, in, it->failed_on,
                               &plan, &target, &probe);
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
        if (plan.split.used) {
            /* Never forced (a forced device runs the whole chain), never
             * a probe. */
            bool opening;
            int bad;

            st = run_split(it, &plan.split, in, res, &bad, &opening);
            if (st == CLD_OK || bad < 0)
                return st;
            if (opening || st == CLD_ERR_BUILD) {
                if (exclude_target(b, bad, opening ? "cannot be opened"
                                                   : "kernel build failed",
                                   NULL))
                    announce = bad;
                continue;
            }
            return device_failed(it, bad, st, in, res);
        }
        st = cld_targets_context(b->targets, (size_t)target, &ctx);
        if (st != CLD_OK) {
            if (b->forced >= 0)
                return st;
            if (exclude_target(b, target, "cannot be opened", probe))
                announce = target;
            continue;
        }
        if (ctx)
            builds = cld_launch_builds(ctx);
        t0 = cld_now_s();
        /* A chain whose steps do not merge runs step by step, waited
         * for. */
        async = ctx && pd && cld_job_one_work(it->job, cld_launch_facts(ctx));
        if (async) {
            st = start_device(it, ctx, in, pd);
        } else {
            st = cld_job_run(it->job, ctx, &it->params, in, res);
            if (!ctx)
                span(it, "compute (host)", t0);
        }
        t0 = cld_now_s() - t0;
        if (st == CLD_ERR_BUILD) {
            bool first = exclude_target(b, target, "kernel build failed",
                                        probe);

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
                cld_engine_probe_return(b, probe);
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
            cld_engine_probe_return(b, probe);
            pthread_mutex_unlock(&b->lock);
        }
        if (st != CLD_OK)
            return device_failed(it, target, st, in, res);
        cld_engine_record(b, target, it->job, &it->params, in, t0, timed);
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
        dropped = cld_engine_exclude(b, target, what, line);
        b->dropped += dropped;
    }
    if (dropped)
        fprintf(o->err, "%scldispatch: warning: %s: %s: %s; not used for "
                "the rest of the batch\n", clear_line(b), name, what, line);
    pthread_mutex_unlock(&b->lock);
    cld_data_free(res);
    /* Synchronously: a failure there comes back here for the next. */
    again = place_and_run(it, in, res, NULL, NULL);
    if (again == CLD_OK && first) {
        /* A split part's error line names its target already. */
        bool named = strstr(line, name) != NULL;

        pthread_mutex_lock(&b->lock);
        fprintf(o->err, "%scldispatch: warning: %s: %s%s%s; done again "
                "on another target\n", clear_line(b),
                it->src[0] ? it->src[0] : it->out, line,
                named ? "" : " on ", named ? "" : name);
        pthread_mutex_unlock(&b->lock);
    }
    return again;
}

/* True when a resize item shrunk on load is already its output size,
 * with the factor dividing both sides (a decode whose last row or column
 * stands for a partial block still resamples to its true extent); a
 * chain's own copy leaves its resize out instead: cld_chain_shrunk. */
static bool shrunk_to_size(const struct item *it, const struct cld_data *in)
{
    return it->shrink > 1 && it->job == &cld_job_resize &&
           cld_resize_copies(&it->params, in->img.width, in->img.height);
}

/* An output written and flushed, waiting on a commit thread for its
 * fsync and rename; the item's future completes after them. */
struct commit {
    struct item *it;
    struct cld_atomic_file af;
    struct cld_future *f;
    double pixels;       /* the item's input pixels, counted when done */
    double t0;           /* when the item's task began */
};

/* The item is done once its output is in place: count its pixels and
 * time. */
static void item_saved(struct item *it, double pixels, double t0)
{
    struct batch *b = it->b;

    if (pixels > 0) {
        pthread_mutex_lock(&b->lock);
        b->pixels += pixels;
        pthread_mutex_unlock(&b->lock);
    }
    it->seconds = cld_now_s() - t0;
}

/* On a commit thread: fsync, close and rename the output, then complete
 * the item's future (with the commit's detail line on failure). */
static enum cld_status commit_item(void *arg)
{
    struct commit *c = arg;
    struct batch *b = c->it->b;
    double c0 = cld_now_s();
    enum cld_status st = cld_atomic_commit(&c->af);

    if (b->trace) {
        char name[32];

        snprintf(name, sizeof name, "host commit %d",
                 cld_executor_worker_index() + 1);
        cld_trace_span(b->trace, cld_trace_wait_lane(b->trace, name),
                       "fsync+rename", item_name(c->it), c0, cld_now_s());
    }
    if (st == CLD_OK)
        item_saved(c->it, c->pixels, c->t0);
    cld_future_complete(c->f, st);
    free(c);
    return st;
}

/* Save the item's result, and count its input's pixels (the image's own
 * for one shrunk on load, not the reduced decode's) and its time. *f is
 * the item's future when it is deferred already, else NULL. With the
 * batch's commit threads (b->commits), an image is encoded here and its
 * fsync and rename wait there: the future (deferred now if need be) goes
 * with it, *f becomes NULL, and the item completes once its file is in
 * place. */
static enum cld_status save_item(struct item *it, const struct cld_data *in,
                                 const struct cld_data *res, double t0,
                                 struct cld_future **f)
{
    struct batch *b = it->b;
    double e0 = cld_now_s(), pixels = 0;
    const struct cld_data *px = in->kind == CLD_DATA_IMAGE ? in : res;
    struct commit *c = NULL;
    enum cld_status st;

    if (px->kind == CLD_DATA_IMAGE)
        pixels = it->full_pixels > 0
                     ? it->full_pixels
                     : (double)px->img.width * px->img.height;
    if (b->commits && res->kind == CLD_DATA_IMAGE &&
        !(c = calloc(1, sizeof *c)))
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    st = save_output(it, res, c ? &c->af : NULL);
    span(it, "encode", e0);
    if (st != CLD_OK || !c) {
        free(c);
        if (st == CLD_OK)
            item_saved(it, pixels, t0);
        return st;
    }
    c->it = it;
    c->pixels = pixels;
    c->t0 = t0;
    c->f = *f ? *f : cld_executor_defer();
    if (c->f && cld_executor_submit(b->commits, commit_item, c, NULL, NULL,
                                    NULL) == CLD_OK) {
        *f = NULL;
        return CLD_OK;
    }
    /* Not on a worker, or the commit threads have stopped: commit here. */
    *f = c->f;
    st = cld_atomic_commit(&c->af);
    if (st == CLD_OK)
        item_saved(it, pixels, t0);
    free(c);
    return st;
}

static enum cld_status finish_item(void *arg)
{
    struct pending *pd = arg;
    struct item *it = pd->it;
    struct batch *b = it->b;
    double device_s = 0;
    enum cld_status st;

    /* A retry below may wait for a ring slot: finish items meanwhile. */
    cld_launch_set_thread_wait(&b->ring_waiter);
    st = cld_launch_finish(pd->l, &device_s);

    cld_work_free(&pd->w);
    if (pd->probe && (st != CLD_OK || !pd->timed)) {
        pthread_mutex_lock(&b->lock);
        cld_engine_probe_return(b, pd->probe);
        pthread_mutex_unlock(&b->lock);
    }
    if (st == CLD_OK)
        cld_engine_record(b, pd->target, it->job, &it->params, &pd->in,
                          pd->start_s + device_s, pd->timed);
    else
        st = device_failed(it, pd->target, st, &pd->in, &pd->res);
    if (st == CLD_OK)
        st = save_item(it, &pd->in, &pd->res, pd->t0, &pd->f);
    else
        cld_error_prefix("%s", it->src[0] ? it->src[0] : it->out);
    cld_data_free(&pd->in);
    cld_data_free(&pd->res);
    if (pd->f)
        cld_future_complete(pd->f, st);
    free(pd);
    return st;
}

enum cld_status cld_engine_run_item(void *arg)
{
    struct item *it = arg;
    struct pending *pd = NULL;
    struct cld_future *f = NULL;
    struct cld_data in, res;
    double t0 = cld_now_s();
    bool started = false, copy;
    enum cld_status st;

    /* A run that waits for a ring slot (the sequential loop, a chain run
     * step by step) finishes items meanwhile. */
    cld_launch_set_thread_wait(&it->b->ring_waiter);
    memset(&res, 0, sizeof res);
    st = load_input(it, &in);
    if (it->src[0])
        span(it, "decode", t0);
    copy = st == CLD_OK && shrunk_to_size(it, &in);
    /* The targets may still be setting up (cld_engine_setup_begin). */
    if (st == CLD_OK && !copy && cld_engine_setup_wait(it->b) != CLD_OK) {
        cld_data_free(&in);
        return CLD_ERR_CL;  /* the batch fails with the setup's error */
    }
    if (copy) {
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
    if (pd)
        f = pd->f;
    if (st == CLD_OK)
        st = save_item(it, &in, &res, t0, &f);
    cld_data_free(&in);
    cld_data_free(&res);
    if (f)
        cld_future_complete(f, st);
    free(pd);
    return st;
}

void cld_engine_item_done(struct cld_future *f, void *user)
{
    struct item *it = cld_future_arg(f);
    struct batch *b = user;
    enum cld_status st = cld_future_status(f);

    pthread_mutex_lock(&b->lock);
    if (st != CLD_OK && b->setup_done && b->setup_st != CLD_OK) {
        /* Dropped: the targets could not be set up, which the batch
         * reports once. */
        it->st = st;
    } else if (st != CLD_OK) {
        it->st = st;
        free(it->err);
        it->err = strdup(cld_future_detail(f));
        fprintf(b->o->err, "%scldispatch: %s\n", clear_line(b),
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
    cld_engine_progress(b, false);
    pthread_mutex_unlock(&b->lock);
}
