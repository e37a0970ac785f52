/* Convolution jobs: blur (separable Gaussian), sharpen (unsharp mask) and
 * sobel (gradient magnitude of luma), on the host or with cl/convolve.cl.
 * The Gaussian taps are computed once here and shared by the C reference
 * and the kernels. Blur and sharpen are fixed point, so every target gives
 * the same bytes: the taps are integers summing to 4096; the horizontal
 * pass sums integers below 2^20 and rounds them to 1/16 of a level (at most
 * 4080); the vertical pass sums integers below 2^24; the result is rounded
 * to a level. Every partial sum is an integer below 2^24, so float
 * arithmetic computes it exactly in any order, with or without FMA, on the
 * host and in cl/convolve.cl alike. Sharpen applies its amount, rounded to
 * 1/256, in 32-bit integers. Sobel is integer throughout. All borders
 * clamp to the edge. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_hooks.h"
#include "jobs.h"

/* Largest blur radius the kernels accept (sigma 333). */
#define MAX_RADIUS 1000
/* CPU kernels: work-item strip width in bytes (cl/convolve.cl STRIP), the
 * work-group size along it, and output rows per work-item (blur: at most;
 * fewer on small images). */
#define STRIP 64
#define CPU_GROUP 16
#define BLUR_ROWS 256
#define SOBEL_ROWS 64
/* Output rows per work-item of the Sobel kernel on other devices. */
#define GPU_SOBEL_ROWS 4
/* Work-group sizes along x of the Sobel and the two-pass kernels. Explicit
 * sizes matter on PoCL, which compiles a kernel anew for each work-group
 * size it picks itself (that is, for nearly every image size). */
#define SOBEL_GROUP 16
#define PASS_GROUP 64

enum conv_kind { CONV_BLUR, CONV_SHARPEN };

/* Parameters: blur takes sigma, sharpen sigma then amount. */
enum { P_SIGMA, P_AMOUNT };

static const struct cld_param blur_params[] = {
    {.name = "sigma", .type = CLD_PARAM_REAL, .metavar = "S",
     .min = 0.01, .max = 100.0, .def = 2.0, .flags = CLD_PARAM_KEY,
     .help = "Gaussian standard deviation in pixels"},
};

static const struct cld_param sharpen_params[] = {
    {.name = "sigma", .type = CLD_PARAM_REAL, .metavar = "S",
     .min = 0.01, .max = 100.0, .def = 2.0, .flags = CLD_PARAM_KEY,
     .help = "Gaussian standard deviation of the blur"},
    {.name = "amount", .type = CLD_PARAM_REAL, .metavar = "A",
     .min = 0.0, .max = 100.0, .def = 1.0, .flags = CLD_PARAM_KEY,
     .help = "strength of the mask"},
};

/* Reference -------------------------------------------------------------*/

/* ceil(3 sigma), kept within 1 .. MAX_RADIUS + 1 for any sigma (traits
 * may see parameters that validation would refuse). */
static int radius_of(double sigma)
{
    if (!(sigma > 0.0))
        return 1;
    if (3.0 * sigma > MAX_RADIUS)
        return MAX_RADIUS + 1;
    return (int)ceil(3.0 * sigma);
}

static enum cld_status check_sigma(double sigma)
{
    if (!(sigma >= 0.01))
        return cld_error_set(CLD_ERR_USAGE, "sigma %g is out of range "
                             "(0.01 or more)", sigma);
    if (radius_of(sigma) > MAX_RADIUS)
        return cld_error_set(CLD_ERR_USAGE, "sigma %g needs a blur radius "
                             "of %.0f pixels; the most is %d (sigma %.1f)",
                             sigma, ceil(3.0 * sigma), MAX_RADIUS,
                             MAX_RADIUS / 3.0);
    return CLD_OK;
}

/* The radius limit first (its message says why), then the declared
 * ranges (sharpen: the amount). */
static enum cld_status blur_validate(const struct cld_params *p)
{
    enum cld_status st = check_sigma(cld_param_real(p, P_SIGMA));

    return st != CLD_OK ? st : cld_params_check(p);
}

static enum cld_status sharpen_validate(const struct cld_params *p)
{
    return blur_validate(p);
}

/* Fixed-point scales (see the top comment): the taps sum to TAPS_ONE, the
 * horizontal pass keeps 1/16 of a level, sharpen's amount 1/256. */
#define TAPS_ONE 4096
#define H_DIV 256.0f
#define V_DIV 65536.0f
#define AMOUNT_ONE 256.0f

/* The 2r + 1 weights exp(-k^2 / (2 sigma^2)), k = -r..r, scaled to sum
 * TAPS_ONE and rounded to integers (held in floats) by largest remainder,
 * symmetrically: each weight is floored, then the centre gets the odd unit
 * and mirrored pairs with the largest remainders one unit each until the
 * sum is exact. No weight is negative, so every partial sum of the passes
 * stays below 2^24. The caller frees *taps with free(). */
static enum cld_status gauss_taps(double sigma, int *radius, float **taps)
{
    int r = radius_of(sigma);
    double *w = malloc((2 * (size_t)r + 1) * sizeof *w);
    float *t = malloc((2 * (size_t)r + 1) * sizeof *t);
    double sum = 0.0;
    long left = TAPS_ONE;

    if (!w || !t) {
        free(w);
        free(t);
        return cld_error_set(CLD_ERR_NOMEM, "blur: no memory for %d taps",
                             2 * r + 1);
    }
    for (int k = -r; k <= r; k++) {
        w[k + r] = exp(-(double)k * k / (2.0 * sigma * sigma));
        sum += w[k + r];
    }
    for (int k = 0; k <= 2 * r; k++) {
        w[k] = w[k] / sum * TAPS_ONE;
        t[k] = (float)floor(w[k]);
        left -= (long)t[k];
        w[k] -= floor(w[k]); /* the remainder */
    }
    if (left % 2) {
        t[r] += 1.0f;
        left--;
    }
    while (left > 0) {
        int best = 0; /* the pair r - 1 - best, r + 1 + best */

        for (int k = 1; k < r; k++)
            if (w[r - 1 - k] > w[r - 1 - best])
                best = k;
        if (r == 0 || w[r - 1 - best] < 0.0) {
            t[r] += (float)left; /* nothing left to share: the centre */
            break;
        }
        t[r - 1 - best] += 1.0f;
        t[r + 1 + best] += 1.0f;
        w[r - 1 - best] = -1.0; /* each pair at most once */
        left -= 2;
    }
    free(w);
    *radius = r;
    *taps = t;
    return CLD_OK;
}

static inline uint8_t round_u8(float v)
{
    v = floorf(v + 0.5f);
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
}

/* Sharpen's amount in 1/256 (0..25600 for amount 0..100); the kernels
 * compute the same from the same float. */
static inline int32_t amount_q8(float amount)
{
    return (int32_t)floorf(amount * AMOUNT_ONE + 0.5f);
}

/* The unsharp mask of pixel c whose blur, times V_DIV, is v (an integer
 * below 2^24): c + a * (c - blur) / 256, with the blur rounded to 1/256 of
 * a level and the product rounded to a level, in 32-bit integers. The
 * bias keeps the sum positive, so the shift is a floor. */
#define SHARP_BIAS (65536u * 25601u + 32768u)

static inline uint8_t sharpen_px(uint8_t c, float v, int32_t a)
{
    int32_t b8 = (int32_t)floorf(v * (1.0f / H_DIV) + 0.5f);
    int32_t d = (int32_t)c * 256 - b8;
    uint32_t u = (uint32_t)(d * a) + SHARP_BIAS;
    int32_t o = (int32_t)c + ((int32_t)(u >> 16) - 25601);

    return o < 0 ? 0 : o > 255 ? 255 : (uint8_t)o;
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* acc[i] += w * src[i] for i < n * 16. Whole groups of 16 and arrays
 * that do not overlap let compilers vectorise the loop at -O2 (GCC's
 * "very cheap" model: no scalar tail, no alias checks). */
static void axpy16(float *restrict acc, const float *restrict src, float w,
                   size_t n)
{
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < 16; i++)
            acc[j * 16 + i] += w * src[j * 16 + i];
}

/* Gaussian blur (kind CONV_BLUR) or unsharp mask (CONV_SHARPEN) on the
 * host: a horizontal pass into a float image, then a vertical pass row by
 * row. Float rows are padded to whole groups of 16 values (stride rbp);
 * the padding holds values nobody reads back. */
static enum cld_status conv_host(enum conv_kind kind,
                                 const struct cld_params *p,
                                 const struct cld_data *in,
                                 struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    int w = (int)src->width, h = (int)src->height, ch = (int)src->channels;
    size_t rb = (size_t)w * ch, rbp = cld_round_up(rb, 16), npad;
    int32_t amount = kind == CONV_SHARPEN
                         ? amount_q8((float)cld_param_real(p, P_AMOUNT))
                         : 0;
    float *taps = NULL, *tmp = NULL, *pad = NULL, *acc = NULL;
    int r;
    enum cld_status st;

    st = kind == CONV_BLUR ? blur_validate(p) : sharpen_validate(p);
    if (st != CLD_OK || (st = gauss_taps(cld_param_real(p, P_SIGMA), &r,
                                         &taps)) != CLD_OK)
        return st;
    if ((st = cld_image_alloc(&out->img, src->width, src->height,
                              src->channels)) != CLD_OK)
        goto out;
    out->kind = CLD_DATA_IMAGE;
    /* pad: the row with r clamped pixels on each side, then zeros up to
     * what the last tap of the last padded value reads. */
    npad = rbp + 2 * (size_t)r * ch;
    if (rbp > SIZE_MAX / sizeof(float) / h) {
        st = cld_error_set(CLD_ERR_TOO_LARGE, "%dx%d image is too large "
                           "for a float copy", w, h);
        goto out;
    }
    tmp = cld_buffer_alloc(rbp * h * sizeof *tmp);
    pad = cld_buffer_alloc(npad * sizeof *pad);
    acc = cld_buffer_alloc(rbp * sizeof *acc);
    if (!tmp || !pad || !acc) {
        st = cld_error_set(CLD_ERR_NOMEM, "%s: no memory for a %dx%d float "
                           "image", kind == CONV_BLUR ? "blur" : "sharpen",
                           w, h);
        goto out;
    }
    memset(pad, 0, npad * sizeof *pad);
    /* Horizontal: tmp[i] = sum over k of taps[k] * pad[i + k * ch]. */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src->data + (size_t)y * rb;
        float *t = tmp + (size_t)y * rbp;

        for (int x = -r; x < w + r; x++)
            for (int c = 0; c < ch; c++)
                pad[(size_t)(x + r) * ch + c] =
                    row[(size_t)clampi(x, 0, w - 1) * ch + c];
        memset(t, 0, rbp * sizeof *t);
        for (int k = 0; k <= 2 * r; k++)
            axpy16(t, pad + (size_t)k * ch, taps[k], rbp / 16);
        for (size_t i = 0; i < rb; i++)
            t[i] = floorf(t[i] * (1.0f / H_DIV) + 0.5f);
    }
    /* Vertical, one output row at a time, then round (blur) or apply the
     * mask (sharpen: in + amount * (in - blur)). */
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src->data + (size_t)y * rb;
        uint8_t *d = out->img.data + (size_t)y * rb;

        memset(acc, 0, rbp * sizeof *acc);
        for (int k = -r; k <= r; k++)
            axpy16(acc, tmp + (size_t)clampi(y + k, 0, h - 1) * rbp,
                   taps[k + r], rbp / 16);
        if (kind == CONV_BLUR) {
            for (size_t i = 0; i < rb; i++)
                d[i] = round_u8(acc[i] * (1.0f / V_DIV));
        } else {
            for (size_t i = 0; i < rb; i++)
                d[i] = sharpen_px(s[i], acc[i], amount);
        }
    }
out:
    cld_buffer_free(acc);
    cld_buffer_free(pad);
    cld_buffer_free(tmp);
    free(taps);
    if (st != CLD_OK)
        cld_data_free(out);
    return st;
}

static enum cld_status blur_host(const struct cld_params *p,
                                 const struct cld_data *in,
                                 struct cld_data *out)
{
    return conv_host(CONV_BLUR, p, in, out);
}

static enum cld_status sharpen_host(const struct cld_params *p,
                                    const struct cld_data *in,
                                    struct cld_data *out)
{
    return conv_host(CONV_SHARPEN, p, in, out);
}

static inline int luma(const uint8_t *px, int ch)
{
    if (ch < 3)
        return px[0];
    return (int)((px[0] * 19595u + px[1] * 38470u + px[2] * 7471u +
                  32768u) >> 16);
}

/* Sobel magnitude on the host: luma image, then the 3x3 operator with
 * clamped neighbours. */
static enum cld_status sobel_host(const struct cld_params *p,
                                  const struct cld_data *in,
                                  struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    int w = (int)src->width, h = (int)src->height, ch = (int)src->channels;
    size_t npix = (size_t)w * h;
    uint8_t *g = NULL;
    enum cld_status st;

    (void)p;
    if ((st = cld_image_alloc(&out->img, src->width, src->height, 1)) !=
        CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    if (!(g = cld_buffer_alloc(npix))) {
        cld_data_free(out);
        return cld_error_set(CLD_ERR_NOMEM, "sobel: no memory for a %dx%d "
                             "luma image", w, h);
    }
    for (size_t i = 0; i < npix; i++)
        g[i] = (uint8_t)luma(src->data + i * ch, ch);
    for (int y = 0; y < h; y++) {
        const uint8_t *a = g + (size_t)clampi(y - 1, 0, h - 1) * w;
        const uint8_t *b = g + (size_t)y * w;
        const uint8_t *c = g + (size_t)clampi(y + 1, 0, h - 1) * w;
        uint8_t *d = out->img.data + (size_t)y * w;

        for (int x = 0; x < w; x++) {
            int l = clampi(x - 1, 0, w - 1), r = clampi(x + 1, 0, w - 1);
            int gx = (a[r] + 2 * b[r] + c[r]) - (a[l] + 2 * b[l] + c[l]);
            int gy = (c[l] + 2 * c[x] + c[r]) - (a[l] + 2 * a[x] + a[r]);
            double m = floor(sqrt((double)(gx * gx + gy * gy)) + 0.5);

            d[x] = m > 255.0 ? 255 : (uint8_t)m;
        }
    }
    cld_buffer_free(g);
    return CLD_OK;
}

/* Device work -----------------------------------------------------------*/

/* Variants of blur and sharpen: the fused ring-buffer kernel (CPUs) and
 * the two-pass kernels with a float temporary (GPUs). */
enum { CONV_FUSED, CONV_TWO_PASS };

/* Index ranges of the kernels: byte offsets within a row and row numbers
 * are ints there. */
static enum cld_status check_kernel_range(const struct cld_image *img,
                                          int r)
{
    uint64_t rb = (uint64_t)img->width * img->channels;

    if (rb + 2 * (uint64_t)STRIP + 2 * (uint64_t)r * img->channels >
            INT_MAX / 2 ||
        img->height > INT_MAX / 2)
        return cld_error_set(CLD_ERR_TOO_LARGE, "%ux%u image exceeds the "
                             "convolution kernels' index range",
                             img->width, img->height);
    return CLD_OK;
}

/* The launch of the fused CPU kernel; false (nothing added) when its
 * ring does not fit the device's local memory. */
static bool plan_fused(struct cld_work *wk, enum conv_kind kind,
                       float amount, const struct cld_image *src,
                       const unsigned buf[3], int r,
                       const struct cld_dev_facts *dev)
{
    size_t rb = (size_t)src->width * src->channels, group = CPU_GROUP;
    /* 2r + 1 rows of STRIP floats per work-item. */
    size_t ring_item = (2 * (size_t)r + 1) * STRIP * sizeof(float), gx;
    uint32_t h = src->height;
    int32_t rows;
    struct cld_work_launch *l;

    if (group > dev->local_mem / ring_item)
        group = dev->local_mem / ring_item;
    if (group == 0)
        return false;
    gx = cld_round_up((rb + STRIP - 1) / STRIP, group);
    /* Each work-item filters 2r rows it does not output: tall bands
     * amortise them; shorter ones keep every compute unit busy with a few
     * work-groups on small images. */
    rows = BLUR_ROWS;
    while (rows / 2 >= 8 * r && rows > 16 &&
           gx / group * (((size_t)h + rows - 1) / rows) <
               4 * (size_t)dev->compute_units)
        rows /= 2;
    if (rows < 8 * r)
        rows = 8 * r;
    l = cld_work_launch(wk, kind == CONV_BLUR ? "convolve_blur"
                                              : "convolve_sharpen",
                        0, 2, gx, ((size_t)h + rows - 1) / rows, group, 1);
    cld_arg_buf(l, buf[0]);
    cld_arg_buf(l, buf[1]);
    cld_arg_buf(l, buf[2]);
    cld_arg_i32(l, r);
    cld_arg_i32(l, (int32_t)src->width);
    cld_arg_i32(l, (int32_t)h);
    cld_arg_i32(l, (int32_t)src->channels);
    cld_arg_i32(l, rows);
    cld_arg_local_per_item(l, ring_item);
    if (kind == CONV_SHARPEN)
        cld_arg_f32(l, amount);
    return true;
}

/* The two-pass kernels through a float temporary. */
static void plan_two_pass(struct cld_work *wk, enum conv_kind kind,
                          float amount, const struct cld_image *src,
                          const unsigned buf[3], int r)
{
    size_t rb = (size_t)src->width * src->channels;
    unsigned tmp = cld_work_buffer(wk, NULL, rb * src->height * sizeof(float),
                                   CLD_WBUF_READ | CLD_WBUF_WRITE);
    struct cld_work_launch *l;

    l = cld_work_launch(wk, "convolve_blur_h", 0, 2, rb, src->height,
                        PASS_GROUP, 1);
    cld_arg_buf(l, buf[0]);
    cld_arg_buf(l, tmp);
    cld_arg_buf(l, buf[2]);
    cld_arg_i32(l, r);
    cld_arg_i32(l, (int32_t)src->width);
    cld_arg_i32(l, (int32_t)src->height);
    cld_arg_i32(l, (int32_t)src->channels);
    l = cld_work_launch(wk, kind == CONV_BLUR ? "convolve_blur_v"
                                              : "convolve_sharpen_v",
                        0, 2, rb, src->height, PASS_GROUP, 1);
    cld_arg_buf(l, tmp);
    if (kind == CONV_SHARPEN)
        cld_arg_buf(l, buf[0]);
    cld_arg_buf(l, buf[1]);
    cld_arg_buf(l, buf[2]);
    cld_arg_i32(l, r);
    cld_arg_i32(l, (int32_t)src->width);
    cld_arg_i32(l, (int32_t)src->height);
    cld_arg_i32(l, (int32_t)src->channels);
    if (kind == CONV_SHARPEN)
        cld_arg_f32(l, amount);
}

/* Blur or sharpen: the fused kernel on CPUs (the two-pass ones when its
 * ring does not fit local memory), the two-pass kernels elsewhere. */
static enum cld_status conv_plan(enum conv_kind kind,
                                 const struct cld_params *p,
                                 const struct cld_data *in,
                                 const struct cld_dev_facts *dev,
                                 int variant, struct cld_data *out,
                                 struct cld_work *wk)
{
    const struct cld_image *src = &in->img;
    size_t bytes = (size_t)src->width * src->height * src->channels;
    float *taps = NULL, *t;
    float amount = kind == CONV_SHARPEN ? (float)cld_param_real(p, P_AMOUNT)
                                        : 0.0f;
    unsigned buf[3];
    bool fused;
    int r;
    enum cld_status st;

    st = kind == CONV_SHARPEN ? sharpen_validate(p) : blur_validate(p);
    if (st != CLD_OK ||
        (st = gauss_taps(cld_param_real(p, P_SIGMA), &r, &taps)) != CLD_OK)
        return st;
    if ((st = check_kernel_range(src, r)) != CLD_OK ||
        (st = cld_image_alloc(&out->img, src->width, src->height,
                              src->channels)) != CLD_OK)
        goto out;
    out->kind = CLD_DATA_IMAGE;
    if (!(t = cld_work_alloc(wk, (2 * (size_t)r + 1) * sizeof *t))) {
        st = CLD_ERR_NOMEM;
        goto out;
    }
    memcpy(t, taps, (2 * (size_t)r + 1) * sizeof *t);
    buf[0] = cld_work_buffer(wk, src->data, bytes,
                             CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    buf[1] = cld_work_buffer(wk, out->img.data, bytes,
                             CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    buf[2] = cld_work_buffer(wk, t, (2 * (size_t)r + 1) * sizeof *t,
                             CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    fused = variant == CLD_VARIANT_AUTO ? dev->cpu : variant == CONV_FUSED;
    if (!fused || !plan_fused(wk, kind, amount, src, buf, r, dev))
        plan_two_pass(wk, kind, amount, src, buf, r);
out:
    free(taps);
    return st;
}

/* Shared with the device tests, which run both variants on every device:
 * fused selects convolve_blur / convolve_sharpen (the CPU variant; falls
 * back to the other when the ring does not fit local memory) over the
 * two-pass kernels (the GPU variant). sharpen selects the unsharp mask over
 * the plain blur. Fills *out (caller frees with cld_data_free); on failure
 * *out is left empty. */
enum cld_status cld__blur_cl(struct cld_clctx *ctx,
                             const struct cld_params *p,
                             const struct cld_data *in, bool sharpen,
                             bool fused, struct cld_data *out)
{
    return cld_job_run_variant(sharpen ? &cld_job_sharpen : &cld_job_blur,
                               ctx, p, in,
                               fused ? CONV_FUSED : CONV_TWO_PASS, out);
}

static enum cld_status blur_plan(const struct cld_params *p,
                                 const struct cld_data *in,
                                 const struct cld_dev_facts *dev,
                                 int variant, struct cld_data *out,
                                 struct cld_work *wk)
{
    return conv_plan(CONV_BLUR, p, in, dev, variant, out, wk);
}

static enum cld_status sharpen_plan(const struct cld_params *p,
                                    const struct cld_data *in,
                                    const struct cld_dev_facts *dev,
                                    int variant, struct cld_data *out,
                                    struct cld_work *wk)
{
    return conv_plan(CONV_SHARPEN, p, in, dev, variant, out, wk);
}

/* Sobel: strips of STRIP pixels, SOBEL_ROWS rows a work-item on CPUs,
 * GPU_SOBEL_ROWS elsewhere. */
static enum cld_status sobel_plan(const struct cld_params *p,
                                  const struct cld_data *in,
                                  const struct cld_dev_facts *dev,
                                  int variant, struct cld_data *out,
                                  struct cld_work *wk)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height;
    int32_t rows = dev->cpu ? SOBEL_ROWS : GPU_SOBEL_ROWS;
    struct cld_work_launch *l;
    unsigned bin, bout;
    enum cld_status st;

    (void)p;
    (void)variant;
    if ((st = check_kernel_range(src, 1)) != CLD_OK ||
        (st = cld_image_alloc(&out->img, src->width, src->height, 1)) !=
            CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    bin = cld_work_buffer(wk, src->data, npix * src->channels,
                          CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bout = cld_work_buffer(wk, out->img.data, npix,
                           CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    l = cld_work_launch(wk, "convolve_sobel", 0, 2,
                        ((size_t)src->width + STRIP - 1) / STRIP,
                        ((size_t)src->height + rows - 1) / rows,
                        SOBEL_GROUP, 1);
    cld_arg_buf(l, bin);
    cld_arg_buf(l, bout);
    cld_arg_i32(l, (int32_t)src->width);
    cld_arg_i32(l, (int32_t)src->height);
    cld_arg_i32(l, (int32_t)src->channels);
    cld_arg_i32(l, rows);
    return CLD_OK;
}

/* Traits ----------------------------------------------------------------*/

static void conv_traits(const struct cld_data *in, struct cld_workload *w,
                        double ops_per_byte)
{
    uint64_t npix = (uint64_t)in->img.width * in->img.height;
    uint64_t bytes = npix * in->img.channels;

    w->elements = npix;
    w->bytes_in = bytes;
    w->bytes_out = bytes;
    /* The two-pass (GPU) variant holds a float temporary image. */
    w->max_buffer = bytes * sizeof(float);
    w->ops_per_element = ops_per_byte * in->img.channels;
    /* One fused kernel on CPUs, two passes elsewhere. */
    w->kernel_launches = 2;
}

static void blur_traits(const struct cld_params *p, const struct cld_data *in,
                        struct cld_workload *w)
{
    double taps = 2.0 * radius_of(cld_param_real(p, P_SIGMA)) + 1.0;

    /* A multiply-add per tap and channel, in each of the two passes. */
    conv_traits(in, w, 2.0 * taps);
}

static void sharpen_traits(const struct cld_params *p,
                           const struct cld_data *in, struct cld_workload *w)
{
    double taps = 2.0 * radius_of(cld_param_real(p, P_SIGMA)) + 1.0;

    /* The blur, then a subtraction and a multiply-add per channel. */
    conv_traits(in, w, 2.0 * taps + 3.0);
}

static void sobel_traits(const struct cld_params *p, const struct cld_data *in,
                         struct cld_workload *w)
{
    uint64_t npix = (uint64_t)in->img.width * in->img.height;

    (void)p;
    w->elements = npix;
    w->bytes_in = npix * in->img.channels;
    w->bytes_out = npix;
    w->max_buffer = w->bytes_in;
    /* Luma (5), two 3x3 gradients (12), magnitude and rounding (6). */
    w->ops_per_element = 23;
    w->kernel_launches = 1;
}

const struct cld_job cld_job_blur = {
    .name = "blur",
    .summary = "Gaussian blur (separable, every channel)",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "convolve",
    CLD_JOB_PARAMS(blur_params),
    .validate = blur_validate,
    .traits = blur_traits,
    .run_host = blur_host,
    .plan = blur_plan,
};

const struct cld_job cld_job_sobel = {
    .name = "sobel",
    .summary = "Sobel gradient magnitude of luma (8-bit gray out)",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "convolve",

    .validate = NULL,
    .traits = sobel_traits,
    .run_host = sobel_host,
    .plan = sobel_plan,
};

const struct cld_job cld_job_sharpen = {
    .name = "sharpen",
    .summary = "unsharp mask: in + amount * (in - blur)",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "convolve",
    CLD_JOB_PARAMS(sharpen_params),
    .validate = sharpen_validate,
    .traits = sharpen_traits,
    .run_host = sharpen_host,
    .plan = sharpen_plan,
};
