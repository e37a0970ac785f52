/* Planning and running a batch of items through the executor. */
#include "batch.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "executor.h"
#include "fsutil.h"
#include "npy.h"

struct item {
    char *src[2];   /* inputs (NULL for generators; two for matmul) */
    char *out;      /* output path */
    enum cld_status st;
    char *err;      /* one line, when st != CLD_OK */
    double seconds; /* load + compute + save */
    struct batch *b;
};

struct batch {
    const struct cld_batch_opts *o;
    struct item *items;
    size_t nitems, cap;
    struct cld_device_list devices;
    bool have_devices;
    struct cld_selection sel;
    struct cld_clctx *ctx; /* the selected device's context, or NULL */
    pthread_mutex_t lock;  /* serialises printing */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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
        return plan_images(b, inputs, n);
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
        st = cld_image_load(it->src[0], &o->limits, &in->img);
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
            .overwrite = o->overwrite};

        return cld_image_save(it->out, &r->img, &so);
    }
}

static enum cld_status run_item(void *arg)
{
    struct item *it = arg;
    struct batch *b = it->b;
    struct cld_data in, res;
    double t0 = now_s();
    enum cld_status st;

    memset(&res, 0, sizeof res);
    st = load_input(it, &in);
    if (st == CLD_OK) {
        st = cld_job_run(b->o->job, b->ctx, &b->o->params, &in, &res);
        if (st != CLD_OK)
            cld_error_prefix("%s", it->src[0] ? it->src[0] : it->out);
    }
    cld_data_free(&in);
    if (st == CLD_OK)
        st = save_output(it, &res);
    cld_data_free(&res);
    it->seconds = now_s() - t0;
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
        fprintf(b->o->err, "cldispatch: %s\n", cld_future_detail(f));
    } else if (b->o->verbose) {
        fprintf(b->o->out, "%s (%.1f ms)\n", it->out, it->seconds * 1e3);
    }
    pthread_mutex_unlock(&b->lock);
}

static enum cld_status setup_target(struct batch *b)
{
    const char *spec = b->o->device ? b->o->device : "auto";
    enum cld_status st;

    if ((st = cld_device_selector_check(spec)) != CLD_OK)
        return st;
    b->sel.kind = CLD_SELECT_HOST;
    if (!strcasecmp(spec, "host"))
        return CLD_OK;
    if ((st = cld_device_discover(&b->devices)) != CLD_OK)
        return st;
    b->have_devices = true;
    if ((st = cld_device_select(&b->devices, spec, &b->sel)) != CLD_OK)
        return st;
    if (b->sel.kind == CLD_SELECT_AUTO) {
        /* Without measurements, the prior: a GPU when there is one for
         * data-parallel work, the host otherwise. */
        b->sel.kind = CLD_SELECT_HOST;
        if (b->o->job->flags & CLD_WL_DATA_PARALLEL) {
            for (int i = 0; i < b->devices.ndevices; i++) {
                if (b->devices.devices[i].type & CL_DEVICE_TYPE_GPU) {
                    b->sel.kind = CLD_SELECT_DEVICE;
                    b->sel.device = i;
                    break;
                }
            }
        }
    }
    if (b->sel.kind != CLD_SELECT_DEVICE)
        return CLD_OK;
    st = cld_clctx_create(b->devices.devices[b->sel.device].device, &b->ctx);
    if (st != CLD_OK)
        cld_error_prefix("device %d (%s)", b->sel.device,
                         b->devices.devices[b->sel.device].name);
    return st;
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
    unsigned threads = o->threads ? o->threads : default_threads();
    enum cld_status st;

    memset(res, 0, sizeof *res);
    memset(&b, 0, sizeof b);
    b.o = o;
    pthread_mutex_init(&b.lock, NULL);
    if ((st = plan(&b, inputs, ninputs)) != CLD_OK ||
        (st = check_outputs(&b)) != CLD_OK)
        goto out;
    if ((st = cld_mkdir_p(o->outdir)) != CLD_OK)
        goto out;
    if ((st = setup_target(&b)) != CLD_OK)
        goto out;
    if (o->explain)
        fprintf(o->out, "%s: target %s\n", o->job->name,
                b.ctx ? b.devices.devices[b.sel.device].id : "host");
    if ((st = cld_executor_create(threads, 2 * threads, &ex)) != CLD_OK)
        goto out;
    for (size_t i = 0; i < b.nitems; i++) {
        if (b.items[i].st != CLD_OK)
            continue;
        st = cld_executor_submit(ex, run_item, &b.items[i], item_done, &b,
                                 NULL);
        if (st != CLD_OK)
            goto out;
    }
    cld_executor_drain(ex);
out:
    cld_executor_destroy(ex);
    for (size_t i = 0; i < b.nitems; i++) {
        struct item *it = &b.items[i];

        if (it->st == CLD_ERR_EXISTS && it->err)
            fprintf(o->err, "cldispatch: %s\n", it->err);
        if (st == CLD_OK) {
            if (it->st == CLD_OK)
                res->done++;
            else
                res->failed++;
        }
        free(it->src[0]);
        free(it->src[1]);
        free(it->out);
        free(it->err);
    }
    free(b.items);
    cld_clctx_destroy(b.ctx);
    if (b.have_devices)
        cld_device_list_free(&b.devices);
    pthread_mutex_destroy(&b.lock);
    return st;
}
