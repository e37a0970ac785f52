/* Generator jobs: the Mandelbrot set as an RGB image, on the host or with
 * cl/fractal.cl. The view is fixed: centre (-0.5, 0), 3.0 wide, square
 * pixels. Both sides iterate in float with the same operation order and no
 * contraction, and colour from the integer escape count, so that a device
 * can match the host exactly (tests allow 0.5% of pixels, or 2, to differ,
 * for devices that round differently). */
#include <string.h>

#include "job_hooks.h"
#include "jobs.h"

/* a * b + c must stay two roundings, as in the kernel (FP_CONTRACT OFF
 * there). GCC lacks the standard pragma but contracts nothing in ISO C mode
 * (-std=c11 implies -ffp-contract=off); a build with -ffp-contract=fast and
 * FMA (-march=native) differs from PoCL in 0.35% of the pixels. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define DEFAULT_WIDTH 1024u
#define DEFAULT_HEIGHT 768u
#define MAX_SIDE 65536u
#define MAX_ITER 1000000u

#define SEG 8u /* escape counts per palette segment */

/* Sample points across the frame for the work estimate (and rows in
 * proportion): 32 x 24 for 4:3, under a millisecond at iter 4096. */
#define SAMPLE_GRID 32u

static const uint8_t stops[5][3] = {
    {0, 7, 100}, {32, 107, 203}, {237, 255, 255}, {255, 170, 0}, {0, 2, 0}};

/* Banded palette: linear between stops, SEG counts per segment, cycling;
 * black inside the set. Integer arithmetic only, as in the kernel. */
static void put(uint8_t *p, uint32_t n, uint32_t iter)
{
    uint32_t s = (n / SEG) % 5u, t = (s + 1u) % 5u;
    int f = (int)(n % SEG);

    for (int ch = 0; ch < 3; ch++) {
        int a = stops[s][ch], b = stops[t][ch];

        p[ch] = n >= iter ? 0 : (uint8_t)(a + (b - a) * f / (int)SEG);
    }
}

enum { P_SIZE, P_ITER };

static const struct cld_param mandel_params[] = {
    {.name = "size", .type = CLD_PARAM_SIZE, .metavar = "WxH", .imin = 1,
     .imax = MAX_SIDE, .flags = CLD_PARAM_OPTIONAL,
     .help = "image size (default 1024x768)"},
    {.name = "iter", .type = CLD_PARAM_INT, .metavar = "N", .imin = 1,
     .imax = MAX_ITER, .idef = 256, .flags = CLD_PARAM_KEY,
     .help = "iterations before a point counts as inside"},
};

/* Size after defaults. */
static void frame_size(const struct cld_params *p, uint32_t *w, uint32_t *h)
{
    bool dflt = !(p->given & (1u << P_SIZE));

    *w = dflt ? DEFAULT_WIDTH : cld_param_width(p, P_SIZE);
    *h = dflt ? DEFAULT_HEIGHT : cld_param_height(p, P_SIZE);
}

/* The view: left edge, top edge and pixel pitch, computed once in float on
 * the host and handed to the kernel so that both sides start equal. */
static void view(uint32_t w, uint32_t h, float *x0, float *y0, float *scale)
{
    *scale = 3.0f / (float)w;
    *x0 = -0.5f - 1.5f;
    *y0 = 0.5f * (float)h * *scale;
}

static uint32_t iter_of(const struct cld_params *p)
{
    return (uint32_t)cld_param_int(p, P_ITER);
}

/* The declared ranges are the whole check; kept for callers that build
 * parameters in code. */
static enum cld_status mandel_validate(const struct cld_params *p)
{
    return cld_params_check(p);
}

/* Iterations before c = cx + i cy escapes, iter if it does not; *loops
 * (may be NULL) gets the iterations actually run (0 for the points the
 * cardioid and bulb test settles at once). */
static uint32_t escape(float cx, float cy, uint32_t iter, uint32_t *loops)
{
    float xq = cx - 0.25f, q = xq * xq + cy * cy;
    float zr = 0.0f, zi = 0.0f;
    uint32_t n = 0;

    if (loops)
        *loops = 0;
    /* The main cardioid and the period-2 bulb never escape. */
    if (q * (q + xq) <= 0.25f * cy * cy ||
        (cx + 1.0f) * (cx + 1.0f) + cy * cy <= 0.0625f)
        return iter;
    for (; n < iter; n++) {
        float zr2 = zr * zr, zi2 = zi * zi;

        if (zr2 + zi2 > 4.0f)
            break;
        zi = (zr + zr) * zi + cy;
        zr = zr2 - zi2 + cx;
    }
    if (loops)
        *loops = n;
    return n;
}

/* Mean iterations a pixel of the w x h frame runs, from a coarse grid of
 * sample points over the same view: the work per pixel depends on how
 * much of the frame the set covers, which its shape changes. */
static double mean_iterations(uint32_t w, uint32_t h, uint32_t iter)
{
    float x0, y0, scale;
    uint32_t gx = SAMPLE_GRID, gy;
    double sum = 0;

    view(w, h, &x0, &y0, &scale);
    gy = (uint32_t)((double)SAMPLE_GRID * h / w + 0.5);
    gy = gy < 1 ? 1 : gy > 4 * SAMPLE_GRID ? 4 * SAMPLE_GRID : gy;
    for (uint32_t j = 0; j < gy; j++) {
        for (uint32_t i = 0; i < gx; i++) {
            float cx = x0 + (float)((i + 0.5) * w / gx) * scale;
            float cy = y0 - (float)((j + 0.5) * h / gy) * scale;
            uint32_t loops;

            escape(cx, cy, iter, &loops);
            sum += loops;
        }
    }
    return sum / ((double)gx * gy);
}

static enum cld_status mandel_host(const struct cld_params *p,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    uint32_t w, h, iter = iter_of(p);
    float x0, y0, scale;
    enum cld_status st;

    (void)in;
    if ((st = mandel_validate(p)) != CLD_OK)
        return st;
    frame_size(p, &w, &h);
    view(w, h, &x0, &y0, &scale);
    if ((st = cld_image_alloc(&out->img, w, h, 3)) != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    for (uint32_t y = 0; y < h; y++) {
        float cy = y0 - ((float)y + 0.5f) * scale;
        uint8_t *row = out->img.data + (size_t)y * w * 3u;

        for (uint32_t x = 0; x < w; x++) {
            float cx = x0 + ((float)x + 0.5f) * scale;
            uint32_t n = escape(cx, cy, iter, NULL);

            put(row + (size_t)x * 3u, n, iter);
        }
    }
    return CLD_OK;
}

/* The device work. Variants: lanes 1 runs fractal_mandelbrot (a pixel a
 * work-item), 4, 8 or 16 fractal_mandelbrot_vec with that many pixels a
 * work-item. Explicit lanes pay on CPU devices, whose compilers do not
 * vectorise the escape loop across work-items (PoCL, 4000x3000: 1 lane
 * 23-33, 8 lanes 64-73, 16 lanes 77-87 MPix/s on AVX-512); GPUs want a
 * pixel a work-item. */
static enum cld_status mandel_plan(const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_dev_facts *dev,
                                   int variant, struct cld_data *out,
                                   struct cld_work *wk)
{
    static const char *const opts[] = {"-DVW=4", "-DVW=8", "-DVW=16"};
    uint32_t w, h, lanes;
    float x0, y0, scale;
    struct cld_work_launch *l;
    unsigned bout;
    enum cld_status st;

    (void)in;
    if ((st = mandel_validate(p)) != CLD_OK)
        return st;
    if (variant == CLD_VARIANT_AUTO) {
        unsigned native = dev->native_float;

        lanes = !dev->cpu ? 1 : native <= 4 ? 4 : native <= 8 ? 8 : 16;
    } else {
        lanes = (uint32_t)variant;
    }
    if (lanes != 1 && lanes != 4 && lanes != 8 && lanes != 16)
        return cld_error_set(CLD_ERR_INVALID,
                             "mandelbrot: %u lanes (need 1, 4, 8 or 16)",
                             lanes);
    frame_size(p, &w, &h);
    if ((st = cld_image_alloc(&out->img, w, h, 3)) != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    view(w, h, &x0, &y0, &scale);
    if (lanes > 1)
        wk->options = opts[lanes == 4 ? 0 : lanes == 8 ? 1 : 2];
    bout = cld_work_buffer(wk, out->img.data, (size_t)w * h * 3u,
                           CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    if (lanes > 1)
        l = cld_work_launch(wk, "fractal_mandelbrot_vec", 0, 2,
                            (w + lanes - 1u) / lanes, h, 0, 0);
    else /* Whole 16 x 16 blocks for GPUs; the kernel guards. */
        l = cld_work_launch(wk, "fractal_mandelbrot", 0, 2,
                            cld_round_up(w, 16), cld_round_up(h, 16), 0, 0);
    cld_arg_buf(l, bout);
    cld_arg_u32(l, w);
    cld_arg_u32(l, h);
    cld_arg_f32(l, x0);
    cld_arg_f32(l, y0);
    cld_arg_f32(l, scale);
    cld_arg_u32(l, iter_of(p));
    return CLD_OK;
}

/* Shared with the device tests, which run every kernel on every device:
 * the job with lanes as its variant. Fills *out (caller frees with
 * cld_image_free). */
enum cld_status cld__mandelbrot_cl(struct cld_clctx *ctx, uint32_t w,
                                   uint32_t h, uint32_t iter,
                                   unsigned lanes, struct cld_image *out)
{
    struct cld_params p;
    struct cld_data none = {.kind = CLD_DATA_NONE}, res;
    enum cld_status st;

    memset(out, 0, sizeof *out);
    cld_params_default(&p, &cld_job_mandelbrot);
    if ((st = cld_params_set_size(&p, "size", w, h)) != CLD_OK ||
        (st = cld_params_set_int(&p, "iter", iter)) != CLD_OK)
        return st;
    st = cld_job_run_variant(&cld_job_mandelbrot, ctx, &p, &none,
                             (int)lanes, &res);
    if (st == CLD_OK)
        *out = res.img;
    return st;
}

static void mandel_traits(const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w)
{
    uint32_t width, height;
    uint64_t npix;

    (void)in;
    frame_size(p, &width, &height);
    npix = (uint64_t)width * height;
    w->elements = npix;
    w->bytes_in = 0;
    w->bytes_out = npix * 3u;
    w->max_buffer = npix * 3u;
    /* About 8 float operations an iteration, plus the escape and the
     * cardioid test; the mean iterations are sampled on this frame (at
     * iter 256 the 4:3 default frame runs about 11 a pixel, a square one
     * more: it shows more of the set). */
    w->ops_per_element = 8.0 * (1.0 + mean_iterations(width, height,
                                                        iter_of(p)));
    w->kernel_launches = 1;
}

const struct cld_job cld_job_mandelbrot = {
    .name = "mandelbrot",
    .summary = "Mandelbrot set as an RGB image (generator)",
    .cls = CLD_CLASS_GENERATOR,
    .flags = CLD_WL_DATA_PARALLEL | CLD_WL_BRANCHY,
    .input = CLD_DATA_NONE,
    .output = CLD_DATA_IMAGE,
    .family = "fractal",
    CLD_JOB_PARAMS(mandel_params),
    .validate = mandel_validate,
    .traits = mandel_traits,
    .run_host = mandel_host,
    .plan = mandel_plan,
};
