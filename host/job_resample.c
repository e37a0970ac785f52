/* The resize job: bilinear resampling, or area averaging on an axis that
 * shrinks by more than 2x, on the host or with cl/resample.cl. The filter
 * taps of each axis are computed once here, on the host, as integers, and
 * shared by the C reference and the kernels, which then do the same
 * integer arithmetic: every target gives the same bytes, whatever its
 * float rounding or contraction (see the fixed-point notes below). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "exif.h"
#include "job_hooks.h"
#include "jobs.h"

/* Fixed point, the same in cl/resample.cl. The taps of each output sample
 * are integers summing to 1 << WBITS (2^16: a tap of 1/65536, so even an
 * average over 1000 source samples keeps each weight within 1% of its
 * share). The vertical pass sums taps times bytes (below 2^24) and rounds
 * to 1/256 of a level (at most 65280); the horizontal pass sums taps times
 * those (at most 65536 * 65280 plus the rounding bias, below 2^32) and
 * rounds to a level. All sums are unsigned 32-bit and exact, and need no
 * clamp: the taps are non-negative and sum to one. As OpenCV's 8-bit
 * INTER_LINEAR_EXACT, integer weights make the result independent of the
 * target. */
#define WBITS 16u
#define WONE (1u << WBITS)
#define MID_SHIFT 8u
#define MID_HALF (1u << (MID_SHIFT - 1))
#define OUT_SHIFT (2u * WBITS - MID_SHIFT)
#define OUT_HALF (1u << (OUT_SHIFT - 1))

/* Largest output side, as the command line's --size accepts. */
#define MAX_SIDE 65536u

/* The taps of one axis: output coordinate o reads source samples
 * start[o] .. start[o] + ntap - 1 with weights w[o * ntap + t]; every
 * entry has ntap taps (unused ones weigh 0), and start[o] + ntap <= in. */
struct axis {
    uint32_t n;
    uint32_t ntap;
    int32_t *start;
    uint32_t *w;
};

static void axis_free(struct axis *a)
{
    cld_buffer_free(a->start);
    cld_buffer_free(a->w);
    memset(a, 0, sizeof *a);
}

static enum cld_status axis_alloc(struct axis *a, uint32_t n, uint32_t ntap)
{
    a->n = n;
    a->ntap = ntap;
    a->start = cld_buffer_alloc((size_t)n * sizeof *a->start);
    a->w = cld_buffer_alloc((size_t)n * ntap * sizeof *a->w);
    if (!a->start || !a->w) {
        axis_free(a);
        return cld_error_set(CLD_ERR_NOMEM, "resize: no memory for %u x %u "
                             "filter taps", n, ntap);
    }
    memset(a->w, 0, (size_t)n * ntap * sizeof *a->w);
    return CLD_OK;
}

/* What the in samples of one input axis stand for. Usually themselves;
 * after shrink-on-load, full / shrink samples (fractional when shrink
 * does not divide full): the image spans [off, off + full / shrink) of
 * the samples, off being 0, or, when the axis was mirrored after the
 * decode, what the partial sample lacks (in - full / shrink). */
struct extent {
    uint32_t in;
    uint32_t full, shrink;
    double off;
};

static struct extent extent_of(uint32_t in, uint32_t full, uint32_t shrink,
                               bool flip)
{
    struct extent e = {in, in, 1, 0.0};

    /* A factor that divides the side maps as the plain input does. */
    if (shrink > 1 && (uint64_t)in * shrink != full) {
        e.full = full;
        e.shrink = shrink;
        if (flip)
            e.off = in - (double)full / shrink;
    }
    return e;
}

/* Source samples per output sample: in / out, or full / shrink / out
 * (the same double when shrink is 1: both divisions round the same real
 * number). */
static double ratio(const struct extent *e, uint32_t out)
{
    return (double)e->full / ((double)e->shrink * out);
}

/* Source footprint [lo, hi) of output o when averaging with ratio r,
 * clamped to the samples there are. */
static void footprint(const struct extent *e, uint32_t o, double r,
                      double *lo, double *hi)
{
    *lo = o * r + e->off;
    *hi = (o + 1) * r + e->off;
    if (*hi > e->in)
        *hi = e->in;
}

/* Integer taps for the ntap real weights w (non-negative, not all zero)
 * of one output sample: differences of the running sum, normalised and
 * rounded to 1/WONE, so they sum to exactly WONE, each within 1 of its
 * share, and a zero weight stays zero. */
static void quantize(const double *w, uint32_t ntap, uint32_t *q)
{
    double total = 0.0, c = 0.0;
    uint32_t prev = 0;

    for (uint32_t t = 0; t < ntap; t++)
        total += w[t];
    for (uint32_t t = 0; t < ntap; t++) {
        uint32_t r;

        c += w[t];
        /* c == total (bit for bit) once the last non-zero weight is in. */
        r = c == total ? WONE : (uint32_t)floor(c / total * WONE + 0.5);
        if (r < prev)
            r = prev;
        q[t] = r - prev;
        prev = r;
    }
}

/* Area averaging: each output sample is the mean of its exact source
 * footprint, edge samples weighted by the fraction they cover. */
static enum cld_status axis_area(const struct extent *e, uint32_t out,
                                 struct axis *a)
{
    uint32_t in = e->in;
    double r = ratio(e, out), lo, hi, *w = NULL;
    uint32_t ntap = 1;
    enum cld_status st;

    for (uint32_t o = 0; o < out; o++) {
        footprint(e, o, r, &lo, &hi);
        if ((uint32_t)(ceil(hi) - floor(lo)) > ntap)
            ntap = (uint32_t)(ceil(hi) - floor(lo));
    }
    if ((st = axis_alloc(a, out, ntap)) != CLD_OK)
        return st;
    if (!(w = cld_buffer_alloc(ntap * sizeof *w))) {
        axis_free(a);
        return cld_error_set(CLD_ERR_NOMEM, "resize: no memory for %u "
                             "filter taps", ntap);
    }
    for (uint32_t o = 0; o < out; o++) {
        uint32_t i0, i1, s;

        footprint(e, o, r, &lo, &hi);
        i0 = (uint32_t)floor(lo);
        i1 = (uint32_t)ceil(hi);
        s = i0 + ntap > in ? in - ntap : i0;
        a->start[o] = (int32_t)s;
        memset(w, 0, ntap * sizeof *w);
        for (uint32_t i = i0; i < i1; i++) {
            double l = i > lo ? i : lo, h = i + 1 < hi ? i + 1 : hi;

            w[i - s] = h - l;
        }
        quantize(w, ntap, a->w + (size_t)o * ntap);
    }
    cld_buffer_free(w);
    return CLD_OK;
}

/* Bilinear with pixel centres at +0.5 (as OpenCV and Pillow): output o
 * samples the source at (o + 0.5) * in / out - 0.5 (with an extent: at
 * (o + 0.5) * r - 0.5 + off, r = full / shrink / out), clamped to the
 * samples there are. */
static enum cld_status axis_bilinear(const struct extent *e, uint32_t out,
                                     struct axis *a)
{
    uint32_t in = e->in;
    double r = ratio(e, out);
    enum cld_status st;

    if ((st = axis_alloc(a, out, in > 1 ? 2 : 1)) != CLD_OK)
        return st;
    for (uint32_t o = 0; o < out; o++) {
        double src = (o + 0.5) * r - 0.5 + e->off, f;
        uint32_t i0;

        if (in == 1) {
            a->start[o] = 0;
            a->w[o] = WONE;
            continue;
        }
        if (src < 0)
            src = 0;
        if (src > in - 1)
            src = in - 1;
        i0 = (uint32_t)floor(src);
        f = src - i0;
        if (i0 >= in - 1) {
            i0 = in - 2;
            f = 1.0;
        }
        a->start[o] = (int32_t)i0;
        a->w[2 * (size_t)o + 1] = (uint32_t)floor(f * WONE + 0.5);
        a->w[2 * (size_t)o] = WONE - a->w[2 * (size_t)o + 1];
    }
    return CLD_OK;
}

/* The x taps per output byte for resample_rows, which vectorises over the
 * bytes of a row: byte j = o * ch + c reads row value start[j] + t * ch with
 * weight w[t * n + j] (tap-major), n = out * ch. */
static enum cld_status axis_expand(const struct axis *a, uint32_t ch,
                                   struct axis *b)
{
    enum cld_status st = axis_alloc(b, a->n * ch, a->ntap);

    if (st != CLD_OK)
        return st;
    for (uint32_t o = 0; o < a->n; o++) {
        for (uint32_t c = 0; c < ch; c++) {
            size_t j = (size_t)o * ch + c;

            b->start[j] = a->start[o] * (int32_t)ch + (int32_t)c;
            for (uint32_t t = 0; t < a->ntap; t++)
                b->w[t * (size_t)b->n + j] = a->w[(size_t)o * a->ntap + t];
        }
    }
    return CLD_OK;
}

/* Area averaging where the axis shrinks by more than 2x (by its extent),
 * bilinear otherwise. */
static enum cld_status axis_build(const struct extent *e, uint32_t out,
                                  struct axis *a)
{
    return ratio(e, out) > 2.0 ? axis_area(e, out, a)
                               : axis_bilinear(e, out, a);
}

enum cld_status cld__resize_taps(uint32_t in, uint32_t out, uint32_t full,
                                 uint32_t shrink, bool flip, uint32_t *ntap,
                                 int32_t **start, uint32_t **w)
{
    struct extent e = extent_of(in, full, shrink, flip);
    struct axis a;
    enum cld_status st = axis_build(&e, out, &a);

    *ntap = st == CLD_OK ? a.ntap : 0;
    *start = st == CLD_OK ? a.start : NULL;
    *w = st == CLD_OK ? a.w : NULL;
    return st;
}

enum { P_SCALE, P_SIZE };

static const struct cld_param resize_params[] = {
    {.name = "scale", .type = CLD_PARAM_REAL, .metavar = "F", .min = 0.001,
     .max = 64.0, .flags = CLD_PARAM_KEY | CLD_PARAM_OPTIONAL,
     .help = "factor for both sides"},
    {.name = "size", .type = CLD_PARAM_SIZE, .metavar = "WxH", .imin = 1,
     .imax = MAX_SIDE, .flags = CLD_PARAM_KEY | CLD_PARAM_OPTIONAL,
     .help = "output size"},
};

static double scale_of(const struct cld_params *p)
{
    return p->given & (1u << P_SCALE) ? cld_param_real(p, P_SCALE) : 0.0;
}

static enum cld_status resize_validate(const struct cld_params *p)
{
    bool scale = p->given & (1u << P_SCALE);
    bool size = p->given & (1u << P_SIZE);
    enum cld_status st;

    if ((st = cld_params_check(p)) != CLD_OK)
        return st;
    if (scale == size)
        return cld_error_set(CLD_ERR_USAGE, "resize: give exactly one of "
                             "--scale F and --size WxH");
    return CLD_OK;
}

/* One output side: the nearest integer to in * scale, at least 1. */
static enum cld_status scaled_side(uint32_t in, double scale, uint32_t *out)
{
    double v = floor((double)in * scale + 0.5);

    if (v > MAX_SIDE)
        return cld_error_set(CLD_ERR_TOO_LARGE, "resize: %u x %g gives more "
                             "than %u pixels a side", in, scale, MAX_SIDE);
    *out = v < 1.0 ? 1u : (uint32_t)v;
    return CLD_OK;
}

enum cld_status cld_resize_output_size(const struct cld_params *p,
                                       uint32_t width, uint32_t height,
                                       uint32_t *ow, uint32_t *oh)
{
    double scale = scale_of(p);
    enum cld_status st;

    if ((st = resize_validate(p)) != CLD_OK)
        return st;
    *ow = cld_param_width(p, P_SIZE);
    *oh = cld_param_height(p, P_SIZE);
    if (scale != 0.0 &&
        ((st = scaled_side(width, scale, ow)) != CLD_OK ||
         (st = scaled_side(height, scale, oh)) != CLD_OK))
        return st;
    return CLD_OK;
}

enum cld_status cld_resize_set_size(struct cld_params *p, uint32_t ow,
                                    uint32_t oh)
{
    p->given &= ~(1u << P_SCALE);
    p->v[P_SCALE].real = 0.0;
    return cld_params_set_size(p, "size", ow, oh);
}

enum cld_status cld_resize_set_source(struct cld_params *p, uint32_t width,
                                      uint32_t height, unsigned shrink,
                                      int orientation)
{
    if (p->decl != resize_params)
        return cld_error_set(CLD_ERR_INTERNAL, "a source extent is for "
                             "resize only");
    if (shrink != 1 && shrink != 2 && shrink != 4 && shrink != 8)
        return cld_error_set(CLD_ERR_INVALID, "resize: no source scale "
                             "1/%u", shrink);
    if (width == 0 || height == 0)
        return cld_error_set(CLD_ERR_INVALID, "resize: empty source "
                             "%ux%u", width, height);
    memset(&p->source, 0, sizeof p->source);
    if (shrink == 1)
        return CLD_OK;
    p->source.width = width;
    p->source.height = height;
    p->source.shrink = shrink;
    p->source.flip_x = cld_orientation_flips_x(orientation);
    p->source.flip_y = cld_orientation_flips_y(orientation);
    return CLD_OK;
}

/* The input's extents: those of the source the parameters were told of
 * when the input is its decode; an input of other sides is not (a chain's
 * merge probe, a synthetic input timed for placement) and maps as itself. */
static void source_extents(const struct cld_params *p,
                           const struct cld_image *src, struct extent *ex,
                           struct extent *ey)
{
    const struct cld_source *s = &p->source;

    if (s->shrink > 1 &&
        (s->width + s->shrink - 1) / s->shrink == src->width &&
        (s->height + s->shrink - 1) / s->shrink == src->height) {
        *ex = extent_of(src->width, s->width, s->shrink, s->flip_x);
        *ey = extent_of(src->height, s->height, s->shrink, s->flip_y);
    } else {
        *ex = extent_of(src->width, src->width, 1, false);
        *ey = extent_of(src->height, src->height, 1, false);
    }
}

/* True when e maps as the plain input does. */
static bool plain(const struct extent *e)
{
    return e->shrink == 1;
}

bool cld_resize_copies(const struct cld_params *p, uint32_t width,
                       uint32_t height)
{
    const struct cld_image shape = {.width = width, .height = height};
    struct extent ex, ey;
    uint32_t ow, oh;

    if (cld_resize_output_size(p, width, height, &ow, &oh) != CLD_OK ||
        ow != width || oh != height)
        return false;
    source_extents(p, &shape, &ex, &ey);
    return plain(&ex) && plain(&ey);
}

/* Validate, then the output size and both axes' taps; *exact (may be
 * NULL) tells whether both axes map as the plain input does. */
static enum cld_status resize_plan(const struct cld_params *p,
                                   const struct cld_image *src,
                                   struct axis *ax, struct axis *ay,
                                   bool *exact)
{
    struct extent ex, ey;
    uint32_t ow, oh;
    enum cld_status st;

    memset(ax, 0, sizeof *ax);
    memset(ay, 0, sizeof *ay);
    if ((st = cld_resize_output_size(p, src->width, src->height, &ow,
                                     &oh)) != CLD_OK)
        return st;
    source_extents(p, src, &ex, &ey);
    if (exact)
        *exact = plain(&ex) && plain(&ey);
    if ((st = axis_build(&ex, ow, ax)) != CLD_OK)
        return st;
    if ((st = axis_build(&ey, oh, ay)) != CLD_OK)
        axis_free(ax);
    return st;
}

static enum cld_status resize_host(const struct cld_params *p,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    uint32_t ch = src->channels;
    size_t rowlen = (size_t)src->width * ch;
    struct axis ax, ay;
    uint32_t *acc = NULL;
    enum cld_status st;

    if ((st = resize_plan(p, src, &ax, &ay, NULL)) != CLD_OK)
        return st;
    if ((st = cld_image_alloc(&out->img, ax.n, ay.n, ch)) != CLD_OK)
        goto out;
    out->kind = CLD_DATA_IMAGE;
    acc = cld_buffer_alloc(rowlen * sizeof *acc);
    if (!acc) {
        st = cld_error_set(CLD_ERR_NOMEM, "resize: no memory for a row");
        goto out;
    }
    for (uint32_t oy = 0; oy < ay.n; oy++) {
        const uint8_t *s = src->data + (size_t)ay.start[oy] * rowlen;
        const uint32_t *wv = ay.w + (size_t)oy * ay.ntap;
        uint8_t *d = out->img.data + (size_t)oy * ax.n * ch;

        /* Vertical taps into a row in 1/256 of a level, then horizontal
         * taps (fixed point: see the top of the file). */
        for (size_t k = 0; k < rowlen; k++)
            acc[k] = 0;
        for (uint32_t j = 0; j < ay.ntap; j++, s += rowlen) {
            for (size_t k = 0; k < rowlen; k++)
                acc[k] += wv[j] * s[k];
        }
        for (size_t k = 0; k < rowlen; k++)
            acc[k] = (acc[k] + MID_HALF) >> MID_SHIFT;
        for (uint32_t ox = 0; ox < ax.n; ox++) {
            const uint32_t *a = acc + (size_t)ax.start[ox] * ch;
            const uint32_t *wh = ax.w + (size_t)ox * ax.ntap;

            for (uint32_t c = 0; c < ch; c++) {
                uint32_t v = OUT_HALF;

                for (uint32_t t = 0; t < ax.ntap; t++)
                    v += wh[t] * a[t * ch + c];
                *d++ = (uint8_t)(v >> OUT_SHIFT);
            }
        }
    }
out:
    cld_buffer_free(acc);
    axis_free(&ax);
    axis_free(&ay);
    return st;
}

/* True when both sides halve exactly: bilinear at 0.5 then averages 2x2
 * blocks with taps of WONE / 2, which resample_half does directly as
 * (a + b + c + d + 2) >> 2: the same value, bit for bit. Not on a reduced
 * decode whose extent is not its size (exact false): its taps are not
 * halves. */
static bool halves(const struct cld_image *src, const struct axis *ax,
                   const struct axis *ay, bool exact)
{
    return exact && src->width == 2 * ax->n && src->height == 2 * ay->n;
}

/* Variants: resample_rows (CPU: a row of vertical sums in local memory,
 * work-groups of one), resample_half (CPU, exact halving only)
 * and resample_direct (GPU: a pixel a work-item). */
enum { RS_ROWS, RS_HALF, RS_DIRECT };

/* Hand the taps of axis a to the work, which frees them after the
 * launch; a is left empty. */
static enum cld_status give_axis(struct cld_work *w, struct axis *a)
{
    enum cld_status st = cld_work_own(w, a->start);

    a->start = NULL;
    if (st == CLD_OK)
        st = cld_work_own(w, a->w);
    a->w = NULL;
    return st;
}

/* The filter kernels' arguments after the two images. */
static void filter_args(struct cld_work *w, struct cld_work_launch *l,
                        uint32_t in_w, uint32_t out_w, uint32_t out_h,
                        uint32_t ch, const struct axis *hx,
                        const struct axis *ay)
{
    unsigned xs = cld_work_buffer(w, hx->start, hx->n * sizeof *hx->start,
                                  CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    unsigned xw = cld_work_buffer(w, hx->w, (size_t)hx->n * hx->ntap *
                                                sizeof *hx->w,
                                  CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    unsigned ys = cld_work_buffer(w, ay->start, out_h * sizeof *ay->start,
                                  CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    unsigned yw = cld_work_buffer(w, ay->w, (size_t)out_h * ay->ntap *
                                                sizeof *ay->w,
                                  CLD_WBUF_READ | CLD_WBUF_UPLOAD);

    cld_arg_u32(l, in_w);
    cld_arg_u32(l, out_w);
    cld_arg_u32(l, out_h);
    cld_arg_u32(l, ch);
    cld_arg_buf(l, xs);
    cld_arg_buf(l, xw);
    cld_arg_u32(l, hx->ntap);
    cld_arg_buf(l, ys);
    cld_arg_buf(l, yw);
    cld_arg_u32(l, ay->ntap);
}

static enum cld_status resize_plan_cl(const struct cld_params *p,
                                      const struct cld_data *in,
                                      const struct cld_dev_facts *dev,
                                      int variant, struct cld_data *out,
                                      struct cld_work *w)
{
    const struct cld_image *src = &in->img;
    uint32_t ch = src->channels, out_w, out_h;
    size_t inbytes = cld_image_bytes(src->width, src->height, ch);
    size_t rowbytes = (size_t)src->width * ch * sizeof(uint32_t);
    struct axis ax, ay, bx = {0};
    struct cld_work_launch *l;
    unsigned bin, bout;
    bool exact = true;
    enum cld_status st;

    if ((st = resize_plan(p, src, &ax, &ay, &exact)) != CLD_OK)
        return st;
    out_w = ax.n;
    out_h = ay.n;
    /* CPU devices want few work-items with wide vectors and loops (their
     * "local memory" is ordinary cached memory); GPUs a pixel each. */
    if (variant == CLD_VARIANT_AUTO)
        variant = !dev->cpu ? RS_DIRECT
                  : halves(src, &ax, &ay, exact) ? RS_HALF
                  : rowbytes <= dev->local_mem ? RS_ROWS : RS_DIRECT;
    if (variant == RS_HALF && !halves(src, &ax, &ay, exact)) {
        st = cld_error_set(CLD_ERR_UNSUPPORTED, "resize: resample_half "
                           "needs a size of exactly half");
        goto out;
    }
    if (variant == RS_ROWS && rowbytes > dev->local_mem) {
        st = cld_error_set(CLD_ERR_UNSUPPORTED, "resize: a row of %zu "
                           "bytes exceeds the %lu bytes of local memory",
                           rowbytes, (unsigned long)dev->local_mem);
        goto out;
    }
    if (variant < RS_ROWS || variant > RS_DIRECT) {
        st = cld_error_set(CLD_ERR_INVALID, "resize: no variant %d",
                           variant);
        goto out;
    }
    if (variant == RS_ROWS && (st = axis_expand(&ax, ch, &bx)) != CLD_OK)
        goto out;
    if ((st = cld_image_alloc(&out->img, out_w, out_h, ch)) != CLD_OK)
        goto out;
    out->kind = CLD_DATA_IMAGE;
    bin = cld_work_buffer(w, src->data, inbytes,
                          CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bout = cld_work_buffer(w, out->img.data,
                           cld_image_bytes(out_w, out_h, ch),
                           CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    if (variant == RS_HALF) {
        l = cld_work_launch(w, "resample_half", 0, 1, out_h, 0, 1, 0);
        cld_arg_buf(l, bin);
        cld_arg_buf(l, bout);
        cld_arg_u32(l, out_w);
        cld_arg_u32(l, out_h);
        cld_arg_u32(l, ch);
    } else if (variant == RS_ROWS) {
        l = cld_work_launch(w, "resample_rows", 0, 1, out_h, 0, 1, 0);
        cld_arg_buf(l, bin);
        cld_arg_buf(l, bout);
        filter_args(w, l, src->width, out_w, out_h, ch, &bx, &ay);
        cld_arg_local(l, rowbytes);
        if ((st = give_axis(w, &bx)) != CLD_OK ||
            (st = give_axis(w, &ay)) != CLD_OK)
            goto out;
    } else {
        /* A fixed work-group shape: PoCL compiles one per shape it
         * meets. */
        l = cld_work_launch(w, "resample_direct", 0, 2, out_w, out_h, 16,
                            4);
        cld_arg_buf(l, bin);
        cld_arg_buf(l, bout);
        filter_args(w, l, src->width, out_w, out_h, ch, &ax, &ay);
        if ((st = give_axis(w, &ax)) != CLD_OK ||
            (st = give_axis(w, &ay)) != CLD_OK)
            goto out;
    }
out:
    axis_free(&bx);
    axis_free(&ax);
    axis_free(&ay);
    return st;
}

/* Shared with the device tests, which run every kernel on every device.
 * kernel names one: "resample_rows" (the CPU variant; CLD_ERR_UNSUPPORTED
 * when a row of 32-bit vertical sums exceeds the device's local memory),
 * "resample_half" (CPU, exact halving only; CLD_ERR_UNSUPPORTED otherwise)
 * or "resample_direct" (the GPU variant). Fills *out (caller frees with
 * cld_data_free); on failure *out is left empty. */
enum cld_status cld__resize_cl(struct cld_clctx *ctx,
                               const struct cld_params *p,
                               const struct cld_data *in, const char *kernel,
                               struct cld_data *out)
{
    static const char *const names[] = {"resample_rows", "resample_half",
                                        "resample_direct"};

    for (int v = 0; v < 3; v++) {
        if (strcmp(kernel, names[v]) == 0)
            return cld_job_run_variant(&cld_job_resize, ctx, p, in, v, out);
    }
    memset(out, 0, sizeof *out);
    return cld_error_set(CLD_ERR_INVALID, "resize: no kernel %s", kernel);
}

static void resize_traits(const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w)
{
    const struct cld_image *src = &in->img;
    uint64_t npix = (uint64_t)src->width * src->height;
    uint32_t ow = cld_param_width(p, P_SIZE);
    uint32_t oh = cld_param_height(p, P_SIZE);
    double scale = scale_of(p);
    uint64_t outpix;
    double rx, ry, taps;

    if (scale != 0.0 &&
        (scaled_side(src->width, scale, &ow) != CLD_OK ||
         scaled_side(src->height, scale, &oh) != CLD_OK))
        ow = oh = MAX_SIDE;
    if (ow == 0 || oh == 0)
        ow = oh = 1;
    outpix = (uint64_t)ow * oh;
    w->elements = npix;
    w->bytes_in = npix * src->channels;
    w->bytes_out = outpix * src->channels;
    w->max_buffer = w->bytes_in > w->bytes_out ? w->bytes_in : w->bytes_out;
    /* A multiply-add per vertical tap over every source column of every
     * output row, and one per horizontal tap of every output value, per
     * input pixel. */
    rx = (double)src->width / ow;
    ry = (double)src->height / oh;
    taps = (ry > 2.0 ? ceil(ry) + 1.0 : 2.0) * oh / src->height +
           (rx > 2.0 ? ceil(rx) + 1.0 : 2.0) * (double)outpix / npix;
    w->ops_per_element = 2.0 * taps * src->channels;
    w->kernel_launches = 1;
}

const struct cld_job cld_job_resize = {
    .name = "resize",
    .summary = "resize: bilinear, area averaging below 1/2",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "resample",
    CLD_JOB_PARAMS(resize_params),
    .validate = resize_validate,
    .traits = resize_traits,
    .run_host = resize_host,
    .plan = resize_plan_cl,
};
