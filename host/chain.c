/* Job chains (chain.h): building one, its workload for placement, its C
 * reference, its merged device work, and running it. */
#include "chain.h"

#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "launch.h"
#include "placement.h"

/* An index that names no buffer. */
#define NO_BUF CLD_WORK_MAX_BUFS

enum cld_status cld_chain_create(struct cld_chain **out)
{
    struct cld_chain *c = calloc(1, sizeof *c);

    *out = c;
    if (!c)
        return cld_error_set(CLD_ERR_NOMEM, "chain: out of memory");
    return CLD_OK;
}

/* Free the chain's parts. */
static void free_parts(struct cld_chain *c)
{
    for (unsigned k = 0; k < CLD_CHAIN_MAX_STEPS; k++) {
        cld_chain_destroy(c->head[k]);
        cld_chain_destroy(c->tail[k]);
        c->head[k] = c->tail[k] = NULL;
    }
}

void cld_chain_destroy(struct cld_chain *c)
{
    if (!c)
        return;
    free_parts(c);
    free(c);
}

void cld_chain_job_destroy(const struct cld_job *job)
{
    /* The job of a chain is the first member of the chain it points
     * back at, which was made by cld_chain_create. */
    if (job && job->chain)
        cld_chain_destroy((struct cld_chain *)job->chain);
}

/* CLD_ERR_USAGE: the detail line of step k (1-based), job, prefixed with
 * the step. */
static enum cld_status step_error(const struct cld_job *job, unsigned k)
{
    char why[256];

    /* The detail buffer is the one being written: copy it first. */
    snprintf(why, sizeof why, "%s", cld_error_detail());
    return cld_error_set(CLD_ERR_USAGE, "%s (step %u): %s", job->name, k,
                         why);
}

enum cld_status cld_chain_add(struct cld_chain *c, const struct cld_job *job,
                              const struct cld_params *p)
{
    unsigned k = c->nsteps + 1;

    if (c->nsteps == CLD_CHAIN_MAX_STEPS)
        return cld_error_set(CLD_ERR_USAGE, "a chain has at most %d steps",
                             CLD_CHAIN_MAX_STEPS);
    if (job->chain || job->input != CLD_DATA_IMAGE ||
        job->output != CLD_DATA_IMAGE)
        return cld_error_set(CLD_ERR_USAGE, "%s cannot be a step of a "
                             "chain (step %u): only jobs that take and give "
                             "an image chain", job->name, k);
    if (cld_job_validate(job, p) != CLD_OK)
        return step_error(job, k);
    c->steps[c->nsteps].job = job;
    c->steps[c->nsteps].params = *p;
    c->nsteps++;
    return CLD_OK;
}

/* A CPU device as PoCL reports one, and a GPU: whether steps merge
 * depends on the kind of device (a plan chooses its variant by it), not
 * on its sizes, for the jobs there are. */
static const struct cld_dev_facts probe_facts[2] = {
    {.cpu = true, .host_unified = true, .local_mem = 512 * 1024,
     .global_mem = 1ull << 32, .compute_units = 2, .max_group = 4096,
     .native_float = 8},
    {.cpu = false, .host_unified = false, .local_mem = 48 * 1024,
     .global_mem = 1ull << 33, .compute_units = 32, .max_group = 1024,
     .native_float = 1},
};

/* Most pixels an image of the probe may have: the plans allocate their
 * outputs, and a chain of enlarging resizes (or a resize to a fixed large
 * size) must not make the probe allocate gigabytes. */
#define PROBE_MAX_PIXELS (1u << 20)

/* The side of a square probe input whose every step's image is non-empty
 * and within PROBE_MAX_PIXELS, or 0 when there is none. */
static uint32_t probe_side(const struct cld_chain *c)
{
    static const uint32_t sides[] = {64, 16, 4, 1};

    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        struct cld_image in = {.width = sides[i], .height = sides[i],
                               .channels = 3};
        struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
        bool fits = true;

        cld_chain_shapes(c, &in, shape);
        for (unsigned k = 0; k <= c->nsteps && fits; k++)
            fits = shape[k].width && shape[k].height &&
                   (uint64_t)shape[k].width * shape[k].height <=
                       PROBE_MAX_PIXELS;
        if (fits)
            return sides[i];
    }
    return 0;
}

/* Plan the chain on a small synthetic image for a device with facts dev:
 * true when the steps merge; otherwise why, into why. Whether they merge
 * depends on the jobs and the kind of device, not on sizes; a chain whose
 * images cannot be kept small is taken to merge, and the run decides
 * (it falls back to running step by step when the merge fails). */
static bool probe_merge(const struct cld_chain *c,
                        const struct cld_dev_facts *dev, char *why,
                        size_t len)
{
    struct cld_data in, out;
    struct cld_work w;
    uint32_t side = probe_side(c);
    enum cld_status st;

    why[0] = '\0';
    if (side == 0)
        return true;
    memset(&in, 0, sizeof in);
    in.kind = CLD_DATA_IMAGE;
    st = cld_image_alloc(&in.img, side, side, 3);
    if (st == CLD_OK)
        st = cld_chain_plan(c, &in, dev, &out, &w);
    if (st == CLD_OK) {
        cld_work_free(&w);
        cld_data_free(&out);
    } else {
        snprintf(why, len, "%s", cld_error_detail());
    }
    cld_data_free(&in);
    return st == CLD_OK;
}

/* The chain of steps [from, to) of c, finished, into *out. */
static enum cld_status make_part(const struct cld_chain *c, unsigned from,
                                 unsigned to, struct cld_chain **out)
{
    struct cld_chain *p;
    enum cld_status st = cld_chain_create(&p);

    *out = NULL;
    if (st != CLD_OK)
        return st;
    p->is_part = true;
    for (unsigned k = from; k < to && st == CLD_OK; k++)
        st = cld_chain_add(p, c->steps[k].job, &c->steps[k].params);
    if (st == CLD_OK)
        st = cld_chain_finish(p);
    if (st != CLD_OK) {
        cld_chain_destroy(p);
        return st;
    }
    *out = p;
    return CLD_OK;
}

enum cld_status cld_chain_make(unsigned n, const struct cld_job *const job[],
                               const struct cld_params p[],
                               const struct cld_job **out)
{
    struct cld_chain *c;
    enum cld_status st = cld_chain_create(&c);

    *out = NULL;
    for (unsigned k = 0; k < n && st == CLD_OK; k++)
        st = cld_chain_add(c, job[k], &p[k]);
    if (st == CLD_OK)
        st = cld_chain_finish(c);
    if (st != CLD_OK) {
        cld_chain_destroy(c);
        return st;
    }
    *out = &c->job;
    return CLD_OK;
}

const struct cld_job *cld_chain_part(const struct cld_chain *c,
                                     unsigned from, unsigned to,
                                     const struct cld_params **p)
{
    if (c->is_part || from >= to || to > c->nsteps ||
        (from != 0 && to != c->nsteps) || (from == 0 && to == c->nsteps))
        return NULL;
    *p = &c->steps[from].params;
    if (to - from == 1)
        return c->steps[from].job;
    return from == 0 ? &c->head[to]->job : &c->tail[from]->job;
}

static enum cld_status make_parts(struct cld_chain *c);

enum cld_status cld_chain_finish(struct cld_chain *c)
{
    size_t nlen = 0, klen = 0;
    unsigned flags = 0;
    enum cld_workload_class cls = CLD_CLASS_IMAGE;

    if (c->nsteps < 2)
        return cld_error_set(CLD_ERR_USAGE, "a chain needs two steps or "
                             "more");
    c->name[0] = c->key[0] = '\0';
    for (unsigned k = 0; k < c->nsteps; k++) {
        const struct cld_chain_step *s = &c->steps[k];
        char key[CLD_CHAIN_KEY_MAX];
        int n;

        n = snprintf(c->name + nlen, sizeof c->name - nlen, "%s%s",
                     k ? "+" : "", s->job->name);
        if (n < 0 || (size_t)n >= sizeof c->name - nlen ||
            nlen + (size_t)n >= CLD_JOB_MAX)
            return cld_error_set(CLD_ERR_USAGE, "the chain's name is "
                                 "longer than the run history keeps (%d "
                                 "characters)", CLD_JOB_MAX - 1);
        nlen += (size_t)n;
        /* One field per step ("-" when it has no parameters), so that
         * the text tells apart parameters of different steps. */
        cld_params_key(&s->params, key, sizeof key);
        n = snprintf(c->key + klen, sizeof c->key - klen, "%s%s",
                     k ? "; " : "", key[0] ? key : "-");
        if (n < 0 || (size_t)n >= sizeof c->key - klen ||
            klen + (size_t)n >= CLD_PARAMS_MAX)
            return cld_error_set(CLD_ERR_USAGE, "the chain's parameters are "
                                 "longer than the run history keeps (%d "
                                 "characters)", CLD_PARAMS_MAX - 1);
        klen += (size_t)n;
        flags |= s->job->flags;
        if (s->job->cls != CLD_CLASS_IMAGE)
            cls = s->job->cls;
    }
    memset(&c->job, 0, sizeof c->job);
    c->job.name = c->name;
    c->job.summary = "a chain of jobs";
    c->job.cls = cls;
    c->job.flags = flags;
    c->job.input = CLD_DATA_IMAGE;
    c->job.output = CLD_DATA_IMAGE;
    c->job.family = c->steps[0].job->family;
    c->job.chain = c;
    for (int gpu = 0; gpu < 2; gpu++)
        c->merges[gpu] = probe_merge(c, &probe_facts[gpu], c->why[gpu],
                                     sizeof c->why[gpu]);
    return make_parts(c);
}

/* c's parts (none for a part): those of two steps or more, since a part
 * of one step is that step's job. Each is a shorter chain, so its name
 * and key fit. */
static enum cld_status make_parts(struct cld_chain *c)
{
    free_parts(c);
    if (c->is_part)
        return CLD_OK;
    for (unsigned k = 1; k < c->nsteps; k++) {
        enum cld_status st = CLD_OK;

        if (k >= 2)
            st = make_part(c, 0, k, &c->head[k]);
        if (st == CLD_OK && c->nsteps - k >= 2)
            st = make_part(c, k, c->nsteps, &c->tail[k]);
        if (st != CLD_OK) {
            free_parts(c);
            return st;
        }
    }
    return CLD_OK;
}

enum cld_status cld_chain_shrunk(const struct cld_chain *c,
                                 const struct cld_params *first,
                                 uint32_t width, uint32_t height,
                                 struct cld_chain **out)
{
    struct cld_chain *s;
    enum cld_status st;

    *out = NULL;
    if (c->nsteps < 2 || c->steps[0].job != &cld_job_resize ||
        first->decl != c->steps[0].params.decl)
        return cld_error_set(CLD_ERR_INTERNAL, "chain %s does not start "
                             "with resize", c->name);
    if ((st = cld_job_validate(&cld_job_resize, first)) != CLD_OK)
        return st;
    if ((st = cld_chain_create(&s)) != CLD_OK)
        return st;
    *s = *c;
    /* The parts are c's (owned there, and made of c's steps): the copy
     * makes its own below. */
    memset(s->head, 0, sizeof s->head);
    memset(s->tail, 0, sizeof s->tail);
    if (cld_resize_copies(first, width, height)) {
        memmove(&s->steps[0], &s->steps[1],
                (s->nsteps - 1) * sizeof s->steps[0]);
        s->nsteps--;
    } else {
        s->steps[0].params = *first;
    }
    /* Name and parameter text stay c's: the job's strings are the
     * copy's own. */
    s->job.name = s->name;
    s->job.family = s->steps[0].job->family;
    s->job.chain = s;
    /* Whether the steps merge depends on the jobs, not on sizes: c's
     * answer stands unless a step was left out. */
    for (int gpu = 0; gpu < 2 && s->nsteps != c->nsteps; gpu++)
        s->merges[gpu] = probe_merge(s, &probe_facts[gpu], s->why[gpu],
                                     sizeof s->why[gpu]);
    if ((st = make_parts(s)) != CLD_OK) {
        cld_chain_destroy(s);
        return st;
    }
    *out = s;
    return CLD_OK;
}

bool cld_chain_merges(const struct cld_chain *c,
                      const struct cld_dev_facts *dev)
{
    return c->merges[dev->cpu ? 0 : 1];
}

enum cld_status cld_chain_validate(const struct cld_chain *c)
{
    for (unsigned k = 0; k < c->nsteps; k++) {
        if (cld_job_validate(c->steps[k].job, &c->steps[k].params) != CLD_OK)
            return step_error(c->steps[k].job, k + 1);
    }
    return CLD_OK;
}

/* The traits of step s on an input of shape in. */
static void step_traits(const struct cld_chain_step *s,
                        const struct cld_image *in, struct cld_workload *w)
{
    struct cld_data d;

    memset(&d, 0, sizeof d);
    d.kind = CLD_DATA_IMAGE;
    d.img.width = in->width;
    d.img.height = in->height;
    d.img.channels = in->channels;
    memset(w, 0, sizeof *w);
    s->job->traits(&s->params, &d, w);
}

void cld_chain_shapes(const struct cld_chain *c, const struct cld_image *in,
                      struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1])
{
    memset(shape, 0, (CLD_CHAIN_MAX_STEPS + 1) * sizeof *shape);
    shape[0].width = in->width;
    shape[0].height = in->height;
    shape[0].channels = in->channels;
    for (unsigned k = 0; k < c->nsteps; k++) {
        const struct cld_image *a = &shape[k];
        struct cld_image *b = &shape[k + 1];
        struct cld_workload w;
        uint64_t npix;

        *b = *a;
        /* Only resize changes the size; every step may change the
         * channels (sobel gives gray), which its traits declare. */
        if (c->steps[k].job == &cld_job_resize &&
            cld_resize_output_size(&c->steps[k].params, a->width, a->height,
                                   &b->width, &b->height) != CLD_OK)
            b->width = b->height = 0;
        npix = (uint64_t)b->width * b->height;
        step_traits(&c->steps[k], a, &w);
        if (npix && w.bytes_out && w.bytes_out % npix == 0 &&
            w.bytes_out / npix >= 1 && w.bytes_out / npix <= 4)
            b->channels = (uint32_t)(w.bytes_out / npix);
    }
}

void cld_chain_workload(const struct cld_chain *c, const struct cld_data *in,
                        struct cld_workload *w)
{
    struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
    struct cld_image none;
    double ops = 0;

    memset(&none, 0, sizeof none);
    cld_chain_shapes(c, in && in->kind == CLD_DATA_IMAGE ? &in->img : &none,
                     shape);
    memset(w, 0, sizeof *w);
    for (unsigned k = 0; k < c->nsteps; k++) {
        struct cld_workload s;

        step_traits(&c->steps[k], &shape[k], &s);
        if (k == 0) {
            w->elements = s.elements;
            w->bytes_in = s.bytes_in;
        }
        if (k == c->nsteps - 1)
            w->bytes_out = s.bytes_out;
        if (s.max_buffer > w->max_buffer)
            w->max_buffer = s.max_buffer;
        /* Work of every step, per element of the chain's input. */
        ops += s.ops_per_element * (double)s.elements;
        w->kernel_launches += s.kernel_launches;
        w->needs_fp64 = w->needs_fp64 || s.needs_fp64;
        w->flags |= s.flags;
    }
    w->ops_per_element = w->elements ? ops / (double)w->elements : 0;
    w->job = c->job.name;
    w->cls = c->job.cls;
    w->flags |= c->job.flags;
    w->batch = 1;
    snprintf(w->params, sizeof w->params, "%s", c->key);
}

enum cld_status cld_chain_run_host(const struct cld_chain *c,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    return cld_chain_run(c, NULL, in, out);
}

/* Append the buffers, launches and host blocks of sw, step k's work, to
 * w. in_buf is the buffer of sw that receives the step's input (NO_BUF
 * for the first step) and becomes w's buffer *prev; out_buf (NO_BUF for
 * the last step) is the intermediate it writes, made device-only, whose
 * index in w goes to *prev. *group is the first launch group free in w.
 * The host blocks move to w even on failure. */
static enum cld_status append(struct cld_work *w, struct cld_work *sw,
                              unsigned in_buf, unsigned out_buf,
                              unsigned *prev, unsigned *group)
{
    unsigned map[CLD_WORK_MAX_BUFS], last = 0;
    enum cld_status st = CLD_OK;

    for (unsigned i = 0; i < sw->nowned; i++) {
        if (st == CLD_OK)
            st = cld_work_own(w, sw->owned[i]);
        else
            cld_buffer_free(sw->owned[i]);
    }
    sw->nowned = 0;
    if (st != CLD_OK)
        return st;
    for (unsigned b = 0; b < sw->nbufs; b++) {
        struct cld_work_buf nb = sw->bufs[b];

        if (b == in_buf) {
            if (nb.size > w->bufs[*prev].size)
                return cld_error_set(CLD_ERR_INTERNAL, "chain: %s reads "
                                     "%zu bytes of a %zu-byte "
                                     "intermediate", sw->family, nb.size,
                                     w->bufs[*prev].size);
            w->bufs[*prev].flags |= nb.flags & (CLD_WBUF_READ |
                                                CLD_WBUF_WRITE);
            map[b] = *prev;
            continue;
        }
        if (b == out_buf) {
            nb.host = NULL;
            nb.flags &= ~(CLD_WBUF_FETCH | CLD_WBUF_STEP | CLD_WBUF_UPLOAD);
        }
        map[b] = cld_work_buffer(w, nb.host, nb.size, nb.flags);
        if (map[b] == CLD_WORK_MAX_BUFS)
            return cld_error_set(CLD_ERR_INTERNAL, "chain: more than %d "
                                 "buffers", CLD_WORK_MAX_BUFS);
    }
    for (unsigned i = 0; i < sw->nlaunches; i++) {
        struct cld_work_launch *l;

        if (w->nlaunches == CLD_WORK_MAX_LAUNCHES)
            return cld_error_set(CLD_ERR_INTERNAL, "chain: more than %d "
                                 "launches", CLD_WORK_MAX_LAUNCHES);
        l = &w->launches[w->nlaunches++];
        *l = sw->launches[i];
        if (!l->family) {
            l->family = sw->family;
            l->options = sw->options;
        }
        last = l->group > last ? l->group : last;
        l->group += *group;
        for (unsigned a = 0; a < l->nargs; a++) {
            if (l->args[a].kind == CLD_ARG_BUF)
                l->args[a].v.buf = map[l->args[a].v.buf];
        }
    }
    *group += last + 1;
    if (out_buf != NO_BUF)
        *prev = map[out_buf];
    return CLD_OK;
}

/* The buffer of sw wrapping host memory `host` with flag `flag`, or
 * NO_BUF. */
static unsigned find_buf(const struct cld_work *sw, const void *host,
                         unsigned flag)
{
    for (unsigned b = 0; b < sw->nbufs; b++) {
        if (host && sw->bufs[b].host == host && (sw->bufs[b].flags & flag))
            return b;
    }
    return NO_BUF;
}

enum cld_status cld_chain_plan(const struct cld_chain *c,
                               const struct cld_data *in,
                               const struct cld_dev_facts *dev,
                               struct cld_data *out, struct cld_work *w)
{
    struct cld_data cur, next;
    struct cld_work sw;
    unsigned prev = NO_BUF, group = 0;
    enum cld_status st = CLD_OK;

    memset(out, 0, sizeof *out);
    memset(&cur, 0, sizeof cur);
    cld_work_init(w, c->steps[0].job->family, NULL);
    for (unsigned k = 0; k < c->nsteps && st == CLD_OK; k++) {
        const struct cld_chain_step *s = &c->steps[k];
        const struct cld_data *sin = k == 0 ? in : &cur;
        bool last = k + 1 == c->nsteps;
        unsigned in_buf = NO_BUF, out_buf = NO_BUF;

        memset(&next, 0, sizeof next);
        cld_work_init(&sw, s->job->family, NULL);
        st = s->job->plan(&s->params, sin, dev, CLD_VARIANT_AUTO, &next,
                          &sw);
        if (st == CLD_OK)
            st = cld_work_check(&sw);
        if (st == CLD_OK && sw.step)
            st = cld_error_set(CLD_ERR_UNSUPPORTED, "%s runs a host step "
                               "between its kernels", s->job->name);
        /* A variant the launcher may have to replace (dither's wave
         * kernel, whose work-group the device may not grant) would take
         * the whole merged work with it: such steps run alone. */
        if (st == CLD_OK && sw.fallback >= 0)
            st = cld_error_set(CLD_ERR_UNSUPPORTED, "%s may need its "
                               "fallback kernel here", s->job->name);
        if (st == CLD_OK && k > 0 &&
            (in_buf = find_buf(&sw, cur.img.data, CLD_WBUF_UPLOAD)) ==
                NO_BUF)
            st = cld_error_set(CLD_ERR_UNSUPPORTED, "%s does not take its "
                               "input image as a buffer", s->job->name);
        if (st == CLD_OK && !last &&
            (out_buf = find_buf(&sw, next.img.data, CLD_WBUF_FETCH)) ==
                NO_BUF)
            st = cld_error_set(CLD_ERR_UNSUPPORTED, "%s does not write its "
                               "output image to a buffer", s->job->name);
        if (st == CLD_OK)
            st = append(w, &sw, in_buf, out_buf, &prev, &group);
        cld_work_free(&sw);
        /* The previous intermediate's host memory only identified its
         * buffer in this step's work: the device holds it. */
        cld_data_free(&cur);
        if (last && st == CLD_OK)
            *out = next;
        else
            cur = next;
    }
    cld_data_free(&cur);
    if (st == CLD_OK)
        st = cld_work_check(w);
    if (st != CLD_OK) {
        cld_data_free(out);
        cld_work_free(w);
    }
    return st;
}

/* The steps one by one on the host (ctx NULL) or on the device, each on
 * the previous step's output in host memory. */
static enum cld_status run_steps(const struct cld_chain *c,
                                 struct cld_clctx *ctx,
                                 const struct cld_data *in,
                                 struct cld_data *out)
{
    struct cld_data cur, next;
    enum cld_status st = CLD_OK;

    memset(&cur, 0, sizeof cur);
    memset(out, 0, sizeof *out);
    for (unsigned k = 0; k < c->nsteps && st == CLD_OK; k++) {
        const struct cld_chain_step *s = &c->steps[k];

        st = cld_job_run(s->job, ctx, &s->params, k ? &cur : in, &next);
        cld_data_free(&cur);
        if (st == CLD_OK)
            cur = next;
    }
    if (st == CLD_OK)
        *out = cur;
    else
        cld_data_free(&cur);
    return st;
}

enum cld_status cld_chain_run(const struct cld_chain *c,
                              struct cld_clctx *ctx,
                              const struct cld_data *in,
                              struct cld_data *out)
{
    struct cld_work w;
    enum cld_status st;

    if (!ctx)
        return run_steps(c, NULL, in, out);
    st = cld_chain_plan(c, in, cld_launch_facts(ctx), out, &w);
    if (st == CLD_OK) {
        st = cld_launch_run(ctx, &w);
        cld_work_free(&w);
        if (st != CLD_OK)
            cld_data_free(out);
    }
    if (st != CLD_ERR_UNSUPPORTED)
        return st;
    /* Not mergeable here, or a launch of the merged work cannot get its
     * work-group: each step's own plan (and fallback) through host
     * memory. */
    return run_steps(c, ctx, in, out);
}

void cld_chain_explain(FILE *f, const struct cld_chain *c)
{
    static const char *const kind[2] = {"an OpenCL CPU device",
                                        "a GPU or other device"};

    fprintf(f, "chain %s, %u steps:\n", c->name, c->nsteps);
    for (unsigned k = 0; k < c->nsteps; k++) {
        char key[CLD_CHAIN_KEY_MAX];

        cld_params_key(&c->steps[k].params, key, sizeof key);
        fprintf(f, "  %u. %s%s%s%s\n", k + 1, c->steps[k].job->name,
                key[0] ? " (" : "", key, key[0] ? ")" : "");
    }
    for (int gpu = 0; gpu < 2; gpu++) {
        if (c->merges[gpu])
            fprintf(f, "  on %s: one device work; the input is uploaded "
                    "once, the output read back once, intermediates stay "
                    "in device memory\n", kind[gpu]);
        else
            fprintf(f, "  on %s: step by step, intermediates through host "
                    "memory (%s)\n", kind[gpu], c->why[gpu]);
    }
    fprintf(f, "  on the host: each step's C reference in turn\n"
            "  placement prices the chain as one workload: transfer of "
            "the first input and the last output, compute of every step;\n"
            "  and split at each step boundary: the steps before it on one "
            "target, the rest on another, the intermediate through host "
            "memory; the cheapest runs\n");
}
