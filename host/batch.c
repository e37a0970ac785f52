/* A batch: its items (inputs walked, output names made and checked), then
 * the run: targets set up (engine_startup.c), every item submitted to the
 * executor (engine.c runs one item's path: decode, placement in
 * engine_place.c, the device or the host, save), the summary and the
 * history saved at the end. */
#include "batch.h"
#include "engine.h"

#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "clock.h"
#include "executor.h"
#include "fsutil.h"
#include "launch.h"
#include "profile.h"
#include "targets.h"
#include "trace.h"

/* Threads that fsync and rename finished outputs, and the outputs that
 * may wait for them (written, open) before a worker's hand-off blocks.
 * A pipelined blur of 64 1920x1080 PPMs on the 2-core VM took (median of
 * 9) 0.580 s with one commit thread, 0.537 s with two, 0.536 s with
 * four: concurrent fsyncs share the file system's journal commits. */
#define COMMIT_THREADS 2u
#define COMMIT_PENDING 8u

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
    it->job = b->o->job;
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
        if (g->split_at)
            fprintf(b->o->out, "  split after step %u, the other part on "
                    "%s", g->split_at,
                    cld_targets_profiles(b->targets)[g->other].name);
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
        cld_engine_progress(b, true);
        fprintf(b->o->err, "\r\033[K");
        b->progress_shown = false;
    }
    pthread_mutex_unlock(&b->lock);
    res->wall_s = cld_now_s() - b->t_start;
    res->mpix = b->pixels / 1e6;
    res->busy_s = cld_trace_busy(b->trace, &res->lanes);
    res->busiest_s = cld_trace_busiest(b->trace);
    res->cpu_s = cld_process_cpu_s() - b->cpu_start;
    res->cores = cld_usable_cores();
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

/* What an item owns. */
static void item_free(struct item *it)
{
    free(it->src[0]);
    free(it->src[1]);
    free(it->out);
    free(it->err);
    cld_chain_destroy(it->chain);
}

static void free_items(struct batch *b)
{
    for (size_t i = 0; i < b->nitems; i++)
        item_free(&b->items[i]);
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

/* Submit every item still to run to the batch's executor (which may
 * block while its queue is full). */
static enum cld_status submit_all(struct batch *b)
{
    for (size_t i = 0; i < b->nitems; i++) {
        enum cld_status st;

        if (b->items[i].st != CLD_OK)
            continue;
        st = cld_executor_submit(b->ex, cld_engine_run_item, &b->items[i],
                                 cld_engine_item_done, b, NULL);
        if (st != CLD_OK)
            return st;
    }
    return CLD_OK;
}

struct submitter {
    struct batch *b;
    enum cld_status st;
    char detail[1024];
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;

    s->st = submit_all(s->b);
    if (s->st != CLD_OK)
        snprintf(s->detail, sizeof s->detail, "%s", cld_error_detail());
    return NULL;
}

/* Set the targets up (OpenCL's discovery and contexts: 20-30 ms with
 * PoCL, most of it loading PoCL and LLVM) on this thread while another
 * submits the items and the workers decode the first ones; each worker
 * waits for the targets before placing its item. The setup's error, or
 * else the submitter's. */
static enum cld_status setup_while_submitting(struct batch *b)
{
    struct submitter s = {.b = b, .st = CLD_OK};
    pthread_t th;
    enum cld_status st;

    cld_engine_setup_begin(b);
    if (pthread_create(&th, NULL, submitter_main, &s) != 0) {
        st = cld_engine_setup_targets(b);
        cld_engine_setup_end(b, st);
        return st == CLD_OK ? submit_all(b) : st;
    }
    st = cld_engine_setup_targets(b);
    cld_engine_setup_end(b, st);
    pthread_join(th, NULL);
    if (st == CLD_OK && s.st != CLD_OK)
        st = cld_error_set(s.st, "%s", s.detail);
    return st;
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
    b.cpu_start = cld_process_cpu_s();
    cld_history_init(&b.hist);
    cld_history_init(&b.fresh);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.setup_cond, NULL);
    if ((st = plan(&b, inputs, ninputs)) != CLD_OK ||
        (st = check_outputs(&b)) != CLD_OK)
        goto out;
    if ((st = cld_mkdir_p(o->outdir)) != CLD_OK)
        goto out;
    cld_launch_set_inflight(o->inflight);
    if ((st = cld_trace_create(o->trace_path != NULL, &b.trace)) != CLD_OK)
        goto out;
    cld_trace_set_current(b.trace);
    /* The workers first: a thread started while OpenCL's libraries load
     * waits for the loader's lock. */
    if ((st = cld_executor_create(threads, 2 * threads, &ex)) != CLD_OK)
        goto out;
    b.ex = ex;
    cld_engine_ring_waiter_init(&b);
    /* Pipelined, the fsync and rename of each output wait on threads of
     * their own (engine.c save_item): they wait on the disk, not the CPU,
     * and a worker waiting there would leave the devices without input. */
    if (o->inflight != 1 &&
        (st = cld_executor_create(COMMIT_THREADS, COMMIT_PENDING,
                                  &b.commits)) != CLD_OK)
        goto out;
    for (size_t i = 0; i < b.nitems; i++)
        b.nrun += b.items[i].st == CLD_OK;
    if (o->inflight == 1 || threads == 1 ||
        cld_device_selector_check(o->device ? o->device : "auto") !=
            CLD_OK) {
        /* The plain loop sets its targets up first, as a plain loop
         * would; a bad selector is a usage error at once. */
        if ((st = cld_engine_setup_targets(&b)) == CLD_OK)
            st = submit_all(&b);
    } else {
        st = setup_while_submitting(&b);
    }
    if (st != CLD_OK)
        goto out;
    cld_executor_drain(ex);
    summarize(&b, res);
    if (o->trace_path &&
        cld_trace_write(b.trace, o->trace_path, b.t_start) != CLD_OK)
        fprintf(o->err, "cldispatch: warning: trace not written: %s\n",
                cld_error_detail());
    cld_engine_save_inventory(&b);
    explain_summary(&b);
    res->shrunk = b.shrunk[1] + b.shrunk[2] + b.shrunk[3];
out:
    cld_executor_destroy(ex);
    cld_executor_destroy(b.commits);
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
        item_free(it);
    }
    free(b.items);
    cld_history_clear(&b.hist);
    cld_history_clear(&b.fresh);
    cld_profile_store_close(b.store);
    cld_targets_destroy(b.targets);
    pthread_cond_destroy(&b.setup_cond);
    pthread_mutex_destroy(&b.lock);
    return st;
}
