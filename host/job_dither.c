/* The dither job: Floyd-Steinberg error diffusion of luma to N evenly
 * spaced gray levels, on the host or with cl/dither.cl. Error diffusion
 * depends on order (every pixel waits for its left and upper neighbours),
 * so the host is its natural target; the kernels exist for completeness and
 * for GPUs, which can run rows as a wavefront.
 *
 * Integer rules, shared bit for bit with the kernels: values are kept in
 * 1/16 gray levels. A pixel's value v is 16 * luma plus the errors diffused
 * into it, clamped to 0..4080 (0..255). Its output is the nearest of the N
 * levels, round(k * 255 / (N - 1)) with k = round(v * (N - 1) / 4080) (ties
 * up), and its error e = v - 16 * output goes right (7/16), down-left
 * (3/16), down (5/16) and down-right (the rest), each share rounded as
 * floor((w * e + 8) / 16); shares that would leave the image are dropped. */
#include <stdio.h>
#include <string.h>

#include "job_hooks.h"
#include "jobs.h"

#define QMAX 4080 /* 255 in 1/16 units */

/* Rows a work-group of the wave kernel runs at once, at most. */
#define WAVE_ROWS 256u

/* Luma of a pixel: BT.601 for colour, the gray channel otherwise. */
static inline int luma(const uint8_t *p, uint32_t channels)
{
    return channels >= 3 ? cld_luma(p[0], p[1], p[2]) : p[0];
}

/* floor((w * e + 8) / 16); |w * e| < 16 * 4096 holds since |e| <= QMAX. */
static inline int share(int e, int w)
{
    return (w * e + 8 + 16 * 4096) / 16 - 4096;
}

/* Output byte for every value 0..QMAX. The caller frees it with
 * cld_buffer_free. */
static uint8_t *quant_table(uint32_t levels)
{
    uint8_t *t = cld_buffer_alloc(QMAX + 1);
    uint32_t n = levels - 1;

    if (!t)
        return NULL;
    for (uint32_t v = 0; v <= QMAX; v++) {
        uint32_t k = (v * n + QMAX / 2) / QMAX;

        t[v] = (uint8_t)((k * 255u + n / 2) / n);
    }
    return t;
}

static const struct cld_param dither_params[] = {
    {.name = "levels", .type = CLD_PARAM_INT, .metavar = "N", .imin = 2,
     .imax = 256, .idef = 2, .flags = CLD_PARAM_KEY,
     .help = "gray levels of the output"},
};

static uint32_t levels_of(const struct cld_params *p)
{
    return (uint32_t)cld_param_int(p, 0);
}

/* The declared range (2..256) is the whole check; kept for callers that
 * build parameters in code. */
static enum cld_status dither_validate(const struct cld_params *p)
{
    return cld_params_check(p);
}

static enum cld_status dither_host(const struct cld_params *p,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    uint32_t w = src->width, h = src->height, ch = src->channels;
    uint8_t *qtab = NULL;
    int *cur = NULL, *next = NULL, *t;
    enum cld_status st;

    if ((st = dither_validate(p)) != CLD_OK)
        return st;
    if ((st = cld_image_alloc(&out->img, w, h, 1)) != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    qtab = quant_table(levels_of(p));
    cur = cld_buffer_alloc((size_t)w * sizeof *cur);
    next = cld_buffer_alloc((size_t)w * sizeof *next);
    if (!qtab || !cur || !next) {
        st = cld_error_set(CLD_ERR_NOMEM, "dither: out of memory");
        goto out;
    }
    memset(cur, 0, (size_t)w * sizeof *cur);
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *s = src->data + (size_t)y * w * ch;
        uint8_t *d = out->img.data + (size_t)y * w;
        int carry = 0;

        memset(next, 0, (size_t)w * sizeof *next);
        for (uint32_t x = 0; x < w; x++, s += ch) {
            int v = 16 * luma(s, ch) + cur[x] + carry;
            int e, e7, e3, e5;

            v = v < 0 ? 0 : v > QMAX ? QMAX : v;
            d[x] = qtab[v];
            e = v - 16 * d[x];
            e7 = share(e, 7);
            e3 = share(e, 3);
            e5 = share(e, 5);
            carry = e7;
            if (x > 0)
                next[x - 1] += e3;
            next[x] += e5;
            if (x + 1 < w)
                next[x + 1] += e - e7 - e3 - e5;
        }
        t = cur;
        cur = next;
        next = t;
    }
out:
    cld_buffer_free(next);
    cld_buffer_free(cur);
    cld_buffer_free(qtab);
    return st;
}

/* Variants: dither_serial (one work-item; CPUs, where one core runs the
 * chain fastest) and dither_wave (one work-group, rows as a wavefront;
 * GPUs). */
enum { DITHER_SERIAL, DITHER_WAVE };

static enum cld_status dither_plan(const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_dev_facts *dev,
                                   int variant, struct cld_data *out,
                                   struct cld_work *wk)
{
    const struct cld_image *src = &in->img;
    uint32_t w = src->width, h = src->height, ch = src->channels;
    size_t npix = (size_t)w * h, rows = 1, errbytes;
    bool wave = variant == CLD_VARIANT_AUTO ? !dev->cpu
                                           : variant == DITHER_WAVE;
    struct cld_work_launch *l;
    unsigned bin, bout, bq, berr;
    uint8_t *qtab, *t;
    enum cld_status st;

    if ((st = dither_validate(p)) != CLD_OK)
        return st;
    if ((st = cld_image_alloc(&out->img, w, h, 1)) != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    if (!(qtab = quant_table(levels_of(p))))
        return cld_error_set(CLD_ERR_NOMEM, "dither: out of memory");
    t = cld_work_alloc(wk, QMAX + 1);
    if (t)
        memcpy(t, qtab, QMAX + 1);
    cld_buffer_free(qtab);
    if (!t)
        return CLD_ERR_NOMEM;
    if (wave) {
        /* As many rows at once as a work-group may hold; the launch asks
         * for exactly that group, and falls back to the serial kernel
         * when this kernel allows fewer. */
        rows = dev->max_group < WAVE_ROWS ? dev->max_group : WAVE_ROWS;
        if (rows > h)
            rows = h;
        if (variant == CLD_VARIANT_AUTO)
            wk->fallback = DITHER_SERIAL;
    }
    /* Serial: two rows of errors; wave: one more than it runs at once. */
    errbytes = (wave ? rows + 1 : 2) * (size_t)w * sizeof(int32_t);
    bin = cld_work_buffer(wk, src->data, npix * ch,
                          CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bout = cld_work_buffer(wk, out->img.data, npix,
                           CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    bq = cld_work_buffer(wk, t, QMAX + 1, CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    berr = cld_work_buffer(wk, NULL, errbytes,
                           CLD_WBUF_READ | CLD_WBUF_WRITE);
    l = cld_work_launch(wk, wave ? "dither_wave" : "dither_serial", 0, 1,
                        rows, 0, rows, 0);
    l->flags |= CLD_LAUNCH_EXACT_LOCAL;
    cld_arg_buf(l, bin);
    cld_arg_buf(l, bout);
    cld_arg_u32(l, w);
    cld_arg_u32(l, h);
    cld_arg_u32(l, ch);
    cld_arg_buf(l, bq);
    cld_arg_buf(l, berr);
    return CLD_OK;
}

/* Shared with the device tests, which run both kernels on every device:
 * wave selects dither_wave (the GPU variant) over dither_serial. Fills
 * *out (caller frees with cld_data_free); on failure *out is left
 * empty. */
enum cld_status cld__dither_cl(struct cld_clctx *ctx,
                               const struct cld_params *p,
                               const struct cld_data *in, bool wave,
                               struct cld_data *out)
{
    return cld_job_run_variant(&cld_job_dither, ctx, p, in,
                               wave ? DITHER_WAVE : DITHER_SERIAL, out);
}

static void dither_traits(const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w)
{
    uint64_t npix = (uint64_t)in->img.width * in->img.height;

    (void)p;
    w->elements = npix;
    w->bytes_in = npix * in->img.channels;
    w->bytes_out = npix;
    w->max_buffer = w->bytes_in;
    /* Luma, clamp, look-up, three shares and four updates, all on one
     * chain of dependencies. */
    w->ops_per_element = 20;
    w->kernel_launches = 1;
}

const struct cld_job cld_job_dither = {
    .name = "dither",
    .summary = "Floyd-Steinberg dither of luma to N gray levels",
    .cls = CLD_CLASS_SEQUENTIAL,
    .flags = CLD_WL_SEQUENTIAL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "dither",
    CLD_JOB_PARAMS(dither_params),
    .validate = dither_validate,
    .traits = dither_traits,
    .run_host = dither_host,
    .plan = dither_plan,
};
