/* The equalize job: histogram equalization of luma into a 1-channel image,
 * on the host or with cl/histogram.cl. The device counts the histogram and
 * applies the look-up table; the cumulative sum between them, which depends
 * on order, runs here on the host, with the same code as the C reference,
 * so a device matches the host exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_clones.h"
#include "job_hooks.h"
#include "jobs.h"

/* Pixels a work-item of the CPU variant handles at least (a multiple of
 * 32, for histogram_apply_pairs), and the most work-items (partial
 * histograms) it uses. */
#define CPU_MIN_CHUNK 65536u
#define CPU_MAX_PARTS 64u
/* Pixels a work-item of histogram_apply handles on GPUs. */
#define GPU_CHUNK 16u
/* Work-groups and their size for histogram_local. */
#define GPU_GROUPS 256u
#define GPU_GROUP_SIZE 256u

/* The standard mapping from a histogram of npix pixels:
 * lut[v] = round((cdf[v] - cdf_min) * 255 / (npix - cdf_min)), where
 * cdf_min is the count of the darkest value present. A constant image
 * (npix == cdf_min) maps to itself. */
static void make_lut(const uint64_t hist[256], uint64_t npix,
                     uint8_t lut[256])
{
    uint64_t cdf = 0, cdf_min = 0, den;

    for (int v = 0; v < 256 && cdf_min == 0; v++)
        cdf_min = hist[v];
    den = npix - cdf_min;
    for (int v = 0; v < 256; v++) {
        cdf += hist[v];
        if (den == 0)
            lut[v] = (uint8_t)v;
        else if (cdf < cdf_min)
            lut[v] = 0; /* below the darkest value: never looked up */
        else
            lut[v] = (uint8_t)(((cdf - cdf_min) * 510u + den) / (2u * den));
    }
}

/* Pixels the host converts to luma before counting them (still in L1),
 * and the inner loops' trip count: a constant lets GCC vectorise the luma
 * loop whole even at -O2. */
#define HOST_BLOCK 2048
#define HOST_VEC 32

/* d[i] = luma of RGB pixel i, for n pixels. Named apart from
 * job_pointwise.c's luma_rgb: clang 14 gives the resolver of a static
 * target_clones function external linkage, so two such functions of one
 * name in two files clash when linking. */
CLD_HOST_CLONES
static void hist_luma_rgb(const uint8_t *restrict s, uint8_t *restrict d,
                          size_t n)
{
    size_t i = 0;

    for (; i + HOST_VEC <= n; i += HOST_VEC) {
        const uint8_t *q = s + 3 * i;

        for (size_t j = 0; j < HOST_VEC; j++)
            d[i + j] = cld_luma(q[3 * j], q[3 * j + 1], q[3 * j + 2]);
    }
    for (; i < n; i++)
        d[i] = cld_luma(s[3 * i], s[3 * i + 1], s[3 * i + 2]);
}

/* The luma image into d and its histogram into hist, a block at a time;
 * four sub-histograms, so that runs of equal values do not wait on each
 * other's increments. */
static void luma_count(const uint8_t *s, uint32_t ch, uint8_t *d,
                       size_t npix, uint64_t hist[256])
{
    uint64_t h[4][256] = {{0}};

    for (size_t b = 0; b < npix; b += HOST_BLOCK) {
        size_t n = npix - b < HOST_BLOCK ? npix - b : HOST_BLOCK, i = 0;
        const uint8_t *y = d + b;

        if (ch == 3) {
            hist_luma_rgb(s + 3 * b, d + b, n);
        } else if (ch == 4) {
            for (i = 0; i < n; i++) {
                const uint8_t *q = s + 4 * (b + i);

                d[b + i] = cld_luma(q[0], q[1], q[2]);
            }
        } else if (ch == 2) {
            for (i = 0; i < n; i++)
                d[b + i] = s[2 * (b + i)];
        } else {
            y = s + b; /* gray: counted as is */
        }
        for (i = 0; i + 4 <= n; i += 4) {
            h[0][y[i]]++;
            h[1][y[i + 1]]++;
            h[2][y[i + 2]]++;
            h[3][y[i + 3]]++;
        }
        for (; i < n; i++)
            h[0][y[i]]++;
    }
    for (int v = 0; v < 256; v++)
        hist[v] = h[0][v] + h[1][v] + h[2][v] + h[3][v];
}

/* d[i] = lut[y[i]] (y may equal d), two pixels per look-up where memory
 * allows: pair[w] is the 16-bit word of the outputs of the two bytes of w,
 * lut[w & 255] | lut[w >> 8] << 8, right whatever the byte order. */
static void map_lut(const uint8_t *y, uint8_t *d, size_t npix,
                    const uint8_t lut[256])
{
    uint16_t *pair = malloc(65536 * sizeof *pair);
    size_t i = 0;

    if (pair) {
        for (unsigned hi = 0; hi < 256; hi++)
            for (unsigned lo = 0; lo < 256; lo++)
                pair[hi << 8 | lo] = (uint16_t)(lut[lo] | lut[hi] << 8);
        for (; i + 2 <= npix; i += 2) {
            uint16_t w;

            memcpy(&w, y + i, sizeof w);
            w = pair[w];
            memcpy(d + i, &w, sizeof w);
        }
        free(pair);
    }
    for (; i < npix; i++)
        d[i] = lut[y[i]];
}

static enum cld_status equalize_host(const struct cld_params *p,
                                     const struct cld_data *in,
                                     struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height;
    const uint8_t *s = src->data, *y;
    uint64_t hist[256];
    uint8_t lut[256], *d;
    enum cld_status st;

    (void)p;
    st = cld_image_alloc(&out->img, src->width, src->height, 1);
    if (st != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    d = out->img.data;
    luma_count(s, src->channels, d, npix, hist);
    make_lut(hist, npix, lut);
    /* Gray input was counted in place: map it from the source. */
    y = src->channels == 1 ? s : d;
    map_lut(y, d, npix, lut);
    return CLD_OK;
}

/* Variants of the count: histogram_partial (CPUs: private histograms
 * per work-item, summed here) and histogram_local (GPUs: local atomics
 * merged with global atomics). */
enum { EQ_PARTIAL, EQ_LOCAL };

/* aux[] of the work: what the host step needs. */
enum { AUX_NPARTS, AUX_NPIX, AUX_PAIRS, AUX_BUFS };

/* The host step between the count and the look-up: sum the partial
 * histograms, make the table (as the C reference does), and write it in
 * the form the look-up kernel reads: 32-bit entries, which CPUs can
 * gather; on CPUs two pixels at once, entry v of the 65536 holding
 * lut[v & 255] | lut[v >> 8] << 8 (see histogram_apply_pairs). */
static enum cld_status equalize_step(struct cld_work *w, unsigned after)
{
    const uint32_t *h = w->bufs[w->aux[AUX_BUFS] & 0xff].host;
    uint32_t *t = w->bufs[w->aux[AUX_BUFS] >> 8].host;
    uint64_t hist[256];
    uint8_t lut[256];

    (void)after;
    for (size_t v = 0; v < 256; v++) {
        hist[v] = 0;
        for (size_t g = 0; g < w->aux[AUX_NPARTS]; g++)
            hist[v] += h[g * 256 + v];
    }
    make_lut(hist, w->aux[AUX_NPIX], lut);
    if (w->aux[AUX_PAIRS]) {
        for (size_t hi = 0; hi < 256; hi++)
            for (size_t lo = 0; lo < 256; lo++)
                t[hi << 8 | lo] = lut[lo] | (uint32_t)lut[hi] << 8;
    } else {
        for (size_t v = 0; v < 256; v++)
            t[v] = lut[v];
    }
    return CLD_OK;
}

/* Count the luma histogram (and write the luma image into the output,
 * when there is more than one channel), then, after the host step, look
 * the output up in the table in place. */
static enum cld_status equalize_plan(const struct cld_params *p,
                                     const struct cld_data *in,
                                     const struct cld_dev_facts *dev,
                                     int variant, struct cld_data *out,
                                     struct cld_work *w)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height, hbytes, entries;
    uint32_t ch = src->channels, chunk = 0, nparts = 1;
    bool partial = variant == CLD_VARIANT_AUTO ? dev->cpu
                                               : variant == EQ_PARTIAL;
    struct cld_work_launch *l;
    unsigned bin, bout, bh, bl;
    uint32_t *h, *t;
    enum cld_status st;

    (void)p;
    if (npix > UINT32_MAX / 4)
        return cld_error_set(CLD_ERR_TOO_LARGE,
                             "%zu pixels exceed the kernel's index range",
                             npix);
    st = cld_image_alloc(&out->img, src->width, src->height, 1);
    if (st != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    if (partial) {
        chunk = (uint32_t)cld_round_up((npix + CPU_MAX_PARTS - 1) /
                                       CPU_MAX_PARTS, 16);
        if (chunk < CPU_MIN_CHUNK)
            chunk = CPU_MIN_CHUNK;
        nparts = (uint32_t)((npix + chunk - 1) / chunk);
    }
    hbytes = (size_t)nparts * 256 * sizeof *h;
    entries = partial ? 65536 : 256;
    h = cld_work_alloc(w, hbytes);
    t = cld_work_alloc(w, entries * sizeof *t);
    if (!h || !t)
        return CLD_ERR_NOMEM;
    memset(h, 0, hbytes);
    bin = cld_work_buffer(w, src->data, npix * ch,
                          CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    /* The luma image goes straight into the output buffer, which the
     * table is then applied to in place. */
    bout = cld_work_buffer(w, out->img.data, npix,
                           CLD_WBUF_READ | CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    /* The local variant adds to zeroed counts; the partial one writes
     * every count. */
    bh = cld_work_buffer(w, h, hbytes,
                         CLD_WBUF_READ | CLD_WBUF_WRITE | CLD_WBUF_STEP |
                             (partial ? 0 : CLD_WBUF_UPLOAD));
    bl = cld_work_buffer(w, t, entries * sizeof *t,
                         CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    if (partial) {
        l = cld_work_launch(w, "histogram_partial", 0, 1, nparts, 0, 1, 0);
    } else {
        l = cld_work_launch(w, "histogram_local", 0, 1, GPU_GROUPS, 0,
                            GPU_GROUP_SIZE, 0);
        l->flags |= CLD_LAUNCH_GROUPS;
    }
    cld_arg_buf(l, bin);
    cld_arg_buf(l, bout);
    cld_arg_u32(l, (uint32_t)npix);
    cld_arg_u32(l, ch);
    if (partial)
        cld_arg_u32(l, chunk);
    cld_arg_buf(l, bh);
    w->step = equalize_step;
    w->aux[AUX_NPARTS] = nparts;
    w->aux[AUX_NPIX] = npix;
    w->aux[AUX_PAIRS] = partial;
    w->aux[AUX_BUFS] = bh | bl << 8;
    chunk = partial ? CPU_MIN_CHUNK : GPU_CHUNK;
    /* A fixed work-group size: PoCL compiles one per size it meets. */
    l = cld_work_launch(w, partial ? "histogram_apply_pairs"
                                   : "histogram_apply",
                        1, 1, (npix + chunk - 1) / chunk, 0,
                        partial ? 1 : 64, 0);
    cld_arg_buf(l, ch == 1 ? bin : bout);
    cld_arg_buf(l, bout);
    cld_arg_u32(l, (uint32_t)npix);
    cld_arg_u32(l, chunk);
    cld_arg_buf(l, bl);
    return CLD_OK;
}

/* Shared with the device tests, which run both histogram kernels on every
 * device: partial selects histogram_partial (the CPU variant) over
 * histogram_local (the GPU variant). Fills *out (caller frees with
 * cld_data_free); on failure *out is left empty. */
enum cld_status cld__equalize_cl(struct cld_clctx *ctx,
                                 const struct cld_data *in, bool partial,
                                 struct cld_data *out)
{
    struct cld_params p;

    cld_params_default(&p, &cld_job_equalize);
    return cld_job_run_variant(&cld_job_equalize, ctx, &p, in,
                               partial ? EQ_PARTIAL : EQ_LOCAL, out);
}

static void equalize_traits(const struct cld_params *p,
                            const struct cld_data *in,
                            struct cld_workload *w)
{
    uint64_t npix = (uint64_t)in->img.width * in->img.height;

    (void)p;
    w->elements = npix;
    w->bytes_in = npix * in->img.channels;
    w->bytes_out = npix;
    w->max_buffer = w->bytes_in;
    /* Luma (5), a histogram increment (2) and a table look-up (2). */
    w->ops_per_element = 9;
    w->kernel_launches = 2;
}

const struct cld_job cld_job_equalize = {
    .name = "equalize",
    .summary = "histogram equalization of luma (8-bit gray out)",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "histogram",
    .validate = NULL,
    .traits = equalize_traits,
    .run_host = equalize_host,
    .plan = equalize_plan,
};
