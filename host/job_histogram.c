/* The equalize job: histogram equalization of luma into a 1-channel image,
 * on the host or with cl/histogram.cl. The device counts the histogram and
 * applies the look-up table; the cumulative sum between them, which depends
 * on order, runs here on the host, with the same code as the C reference,
 * so a device matches the host exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Gathering every third byte takes a byte shuffle (SSSE3) that baseline
 * x86-64 lacks, so the RGB loop is also compiled for x86-64-v2, -v3 and
 * -v4, and the dynamic loader picks the best one the CPU supports. Every
 * clone is the same C code. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define HOST_CLONES \
    __attribute__((target_clones("default", "arch=x86-64-v2", \
                                 "arch=x86-64-v3", "arch=x86-64-v4")))
#endif
#endif
#ifndef HOST_CLONES
#define HOST_CLONES
#endif

/* d[i] = luma of RGB pixel i, for n pixels. */
HOST_CLONES
static void luma_rgb(const uint8_t *restrict s, uint8_t *restrict d,
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
            luma_rgb(s + 3 * b, d + b, n);
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

/* A read-write device buffer over host memory: wraps it on host-unified
 * devices; elsewhere copies it in when init is set. */
static enum cld_status buf_rw(struct cld_clctx *ctx, void *host, size_t size,
                              bool init, cl_mem *out)
{
    cl_mem_flags fl = CL_MEM_READ_WRITE;

    if (cld_clctx_host_unified(ctx))
        fl |= CL_MEM_USE_HOST_PTR;
    else if (init)
        fl |= CL_MEM_COPY_HOST_PTR;
    else
        host = NULL;
    return cld_clw_buffer(cld_clctx_context(ctx), fl, size, host, out);
}

/* Count the luma histogram into hist (and the luma image into blum when
 * there is more than one channel). */
static enum cld_status count(struct cld_clctx *ctx, cl_program prog,
                             bool partial, cl_mem bin, cl_mem blum,
                             const struct cld_image *src,
                             uint64_t hist[256])
{
    cl_uint npix = src->width * src->height, ch = src->channels;
    cl_uint chunk = 0, nparts = 1;
    size_t global, local, hbytes;
    uint32_t *h = NULL;
    cl_kernel k = NULL;
    cl_mem bh = NULL;
    enum cld_status st;

    if (partial) {
        chunk = (cl_uint)cld_round_up((npix + CPU_MAX_PARTS - 1) /
                                      CPU_MAX_PARTS, 16);
        if (chunk < CPU_MIN_CHUNK)
            chunk = CPU_MIN_CHUNK;
        nparts = (npix + chunk - 1) / chunk;
    }
    hbytes = (size_t)nparts * 256 * sizeof *h;
    h = cld_buffer_alloc(hbytes);
    if (!h)
        return cld_error_set(CLD_ERR_NOMEM, "equalize: no memory for %u "
                             "histograms", nparts);
    memset(h, 0, hbytes);
    if ((st = cld_clw_kernel(prog, partial ? "histogram_partial"
                                           : "histogram_local", &k)) !=
            CLD_OK ||
        (st = buf_rw(ctx, h, hbytes, !partial, &bh)) != CLD_OK)
        goto out;
    if ((st = cld_clw_arg(k, 0, sizeof bin, &bin)) != CLD_OK ||
        (st = cld_clw_arg(k, 1, sizeof blum, &blum)) != CLD_OK ||
        (st = cld_clw_arg(k, 2, sizeof npix, &npix)) != CLD_OK ||
        (st = cld_clw_arg(k, 3, sizeof ch, &ch)) != CLD_OK)
        goto out;
    if (partial) {
        if ((st = cld_clw_arg(k, 4, sizeof chunk, &chunk)) != CLD_OK ||
            (st = cld_clw_arg(k, 5, sizeof bh, &bh)) != CLD_OK)
            goto out;
        global = nparts;
        local = 1;
    } else {
        if ((st = cld_clw_arg(k, 4, sizeof bh, &bh)) != CLD_OK ||
            (st = cld_clw_kernel_group_size(ctx, k, &local)) != CLD_OK)
            goto out;
        if (local > GPU_GROUP_SIZE)
            local = GPU_GROUP_SIZE;
        global = local * GPU_GROUPS;
    }
    st = cld_clw_run(cld_clctx_queue(ctx), k, 1, &global, &local, 0, NULL,
                     NULL);
    if (st == CLD_OK)
        st = cld__buf_fetch(ctx, bh, h, hbytes);
    if (st != CLD_OK)
        goto out;
    for (size_t v = 0; v < 256; v++) {
        hist[v] = 0;
        for (size_t g = 0; g < nparts; g++)
            hist[v] += h[g * 256 + v];
    }
out:
    cld_clw_release_mem(bh);
    cld_clw_release_kernel(k);
    cld_buffer_free(h);
    return st;
}

/* out = lut[lum] on the device; the table goes as 32-bit entries, which
 * CPUs can gather. On CPUs it maps two pixels at once: entry v of the
 * 65536 holds lut[v & 255] | lut[v >> 8] << 8 (see histogram_apply_pairs). */
static enum cld_status apply(struct cld_clctx *ctx, cl_program prog,
                             bool cpu, cl_mem blum, cl_mem bout,
                             cl_uint npix, const uint8_t lut[256])
{
    cl_uint chunk = cpu ? CPU_MIN_CHUNK : GPU_CHUNK;
    size_t entries = cpu ? 65536 : 256, global, local;
    cl_uint *t = NULL;
    cl_kernel k = NULL;
    cl_mem bl = NULL;
    enum cld_status st;

    t = cld_buffer_alloc(entries * sizeof *t);
    if (!t)
        return cld_error_set(CLD_ERR_NOMEM, "equalize: no memory");
    if (cpu) {
        for (size_t hi = 0; hi < 256; hi++)
            for (size_t lo = 0; lo < 256; lo++)
                t[hi << 8 | lo] = lut[lo] | (cl_uint)lut[hi] << 8;
    } else {
        for (size_t v = 0; v < 256; v++)
            t[v] = lut[v];
    }
    if ((st = cld_clw_kernel(prog, cpu ? "histogram_apply_pairs"
                                       : "histogram_apply", &k)) != CLD_OK ||
        (st = cld__buf_in(ctx, t, entries * sizeof *t, &bl)) != CLD_OK)
        goto out;
    if ((st = cld_clw_arg(k, 0, sizeof blum, &blum)) != CLD_OK ||
        (st = cld_clw_arg(k, 1, sizeof bout, &bout)) != CLD_OK ||
        (st = cld_clw_arg(k, 2, sizeof npix, &npix)) != CLD_OK ||
        (st = cld_clw_arg(k, 3, sizeof chunk, &chunk)) != CLD_OK ||
        (st = cld_clw_arg(k, 4, sizeof bl, &bl)) != CLD_OK)
        goto out;
    /* A fixed work-group size: PoCL compiles one per size it meets. */
    local = cpu ? 1 : 64;
    global = cld_round_up((npix + chunk - 1) / chunk, local);
    st = cld_clw_run(cld_clctx_queue(ctx), k, 1, &global, &local, 0, NULL,
                     NULL);
    /* The table must outlive the kernel: wait here, before freeing it. */
    if (st == CLD_OK)
        st = cld_clw_finish(cld_clctx_queue(ctx));
out:
    cld_clw_release_mem(bl);
    cld_clw_release_kernel(k);
    cld_buffer_free(t);
    return st;
}

/* Shared with the device tests, which run both histogram kernels on every
 * device: partial selects histogram_partial (the CPU variant: private
 * histograms per work-item, summed here) over histogram_local (the GPU
 * variant: local atomics merged with global atomics). Fills *out (caller
 * frees with cld_data_free); on failure *out is left empty. */

enum cld_status cld__equalize_cl(struct cld_clctx *ctx,
                                 const struct cld_data *in, bool partial,
                                 struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height;
    uint32_t ch = src->channels;
    cl_mem bin = NULL, bout = NULL;
    cl_program prog;
    uint64_t hist[256];
    uint8_t lut[256];
    enum cld_status st;

    memset(out, 0, sizeof *out);
    if (npix > UINT32_MAX / 4)
        return cld_error_set(CLD_ERR_TOO_LARGE,
                             "%zu pixels exceed the kernel's index range",
                             npix);
    st = cld_image_alloc(&out->img, src->width, src->height, 1);
    if (st != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    if ((st = cld_clctx_program(ctx, "histogram", NULL, &prog)) != CLD_OK)
        goto out;
    /* The luma image goes straight into the output buffer, which the
     * table is then applied to in place. */
    if ((st = cld__buf_in(ctx, src->data, npix * ch, &bin)) != CLD_OK ||
        (st = buf_rw(ctx, out->img.data, npix, false, &bout)) != CLD_OK)
        goto out;
    if ((st = count(ctx, prog, partial, bin, bout, src, hist)) != CLD_OK)
        goto out;
    make_lut(hist, npix, lut);
    st = apply(ctx, prog, partial, ch == 1 ? bin : bout, bout,
               (cl_uint)npix, lut);
    if (st == CLD_OK)
        st = cld__buf_fetch(ctx, bout, out->img.data, npix);
out:
    cld_clw_release_mem(bout);
    cld_clw_release_mem(bin);
    if (st != CLD_OK)
        cld_data_free(out);
    return st;
}

static enum cld_status equalize_cl(struct cld_clctx *ctx,
                                   const struct cld_params *p,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    (void)p;
    return cld__equalize_cl(ctx, in,
                            cld_clctx_type(ctx) & CL_DEVICE_TYPE_CPU, out);
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
    .run_cl = equalize_cl,
};
