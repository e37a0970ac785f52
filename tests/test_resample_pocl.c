/* resize on every OpenCL device, with every kernel (the CPU variants, one
 * of them for exact halving only, and the GPU variant), equal byte for
 * byte to the C reference on real images; the fixed-point reference
 * against the same filters in double precision; properties of the
 * reference itself (identity, exact block means, output size); parameter
 * errors; and release on every failing OpenCL call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "image_io.h"
#include "job_hooks.h"
#include "jobs.h"

/* In host/job_resample.c: runs the named kernel. */

/* Every kernel, and NULL for the job's own choice. resample_half only
 * takes exact halving and refuses other sizes. */
static const char *const kernels[] = {"resample_rows", "resample_direct",
                                      "resample_half", NULL};
#define NKERNELS (sizeof kernels / sizeof kernels[0])

static enum cld_status run_kernel(struct cld_clctx *ctx,
                                  const struct cld_params *p,
                                  const struct cld_data *in, size_t k,
                                  struct cld_data *out)
{
    if (!kernels[k])
        return cld_job_run(cld_job_find("resize"), ctx, p, in, out);
    return cld__resize_cl(ctx, p, in, kernels[k], out);
}

static bool halving(const struct cld_data *in, const struct cld_data *ref)
{
    return in->img.width == 2 * ref->img.width &&
           in->img.height == 2 * ref->img.height;
}

static const char *const images[] = {
    "camera.png",  /* 512x512 gray */
    "chelsea.png", /* 451x300 RGB, odd width */
    "rocket.jpg",  /* 640x427 RGB, odd height */
};

static const double scales[] = {0.5, 0.3, 0.25, 1.7, 2.0};

static const struct cld_job *job(void)
{
    return cld_job_find("resize");
}

static void params(struct cld_params *p, double scale, uint32_t w,
                   uint32_t h)
{
    int i;

    /* Unchecked, so that the tests see what validation makes of them;
     * zero leaves the parameter unset. */
    cld_params_default(p, job());
    if (scale != 0.0) {
        i = cld_params_find(p, "scale");
        p->v[i].real = scale;
        p->given |= 1u << i;
    }
    if (w != 0 || h != 0) {
        i = cld_params_find(p, "size");
        p->v[i].size.w = w;
        p->v[i].size.h = h;
        p->given |= 1u << i;
    }
}

static double scale_of(const struct cld_params *p)
{
    int i = cld_params_find(p, "scale");

    return p->given & (1u << i) ? cld_param_real(p, (size_t)i) : 0.0;
}

static uint32_t width_of(const struct cld_params *p)
{
    return cld_param_width(p, (size_t)cld_params_find(p, "size"));
}

static uint32_t height_of(const struct cld_params *p)
{
    return cld_param_height(p, (size_t)cld_params_find(p, "size"));
}

/* Every kernel on every device against the reference ref. The GPU
 * variant (a pixel per work-item) is slow on CPU devices, above all under
 * valgrind, so large images may leave it out (gpu false). */
static void check_kernels(struct cld_test_devices *t,
                          const struct cld_params *p,
                          const struct cld_data *in,
                          const struct cld_data *ref, const char *what,
                          bool gpu)
{
    for (int d = 0; d < t->n; d++) {
        for (size_t k = 0; k < NKERNELS; k++) {
            struct cld_data got = {0};
            enum cld_status st;

            if (!gpu && kernels[k] && !strcmp(kernels[k], "resample_direct"))
                continue;
            st = run_kernel(t->ctx[d], p, in, k, &got);
            if (st == CLD_ERR_UNSUPPORTED && !halving(in, ref))
                continue;
            assert_int_equal(st, CLD_OK);
            /* Name the case before the assertion fails. */
            if (got.img.width != ref->img.width ||
                got.img.height != ref->img.height ||
                got.img.channels != ref->img.channels ||
                memcmp(got.img.data, ref->img.data,
                       cld_image_bytes(ref->img.width, ref->img.height,
                                       ref->img.channels)) != 0)
                print_error("%s, device %d, %s: not the reference's bytes\n",
                            what, d, kernels[k] ? kernels[k] : "job");
            cld_test_assert_same_image(&ref->img, &got.img);
            cld_data_free(&got);
        }
    }
}

static void check_image(struct cld_test_devices *t, const struct cld_data *in,
                        const char *name, const struct cld_params *p,
                        bool gpu)
{
    struct cld_data ref;
    char what[128];

    assert_int_equal(cld_job_run(job(), NULL, p, in, &ref), CLD_OK);
    assert_int_equal(ref.img.channels, in->img.channels);
    if (scale_of(p) != 0.0) {
        assert_int_equal(ref.img.width,
                         (uint32_t)floor(in->img.width * scale_of(p) + 0.5));
        assert_int_equal(ref.img.height,
                         (uint32_t)floor(in->img.height * scale_of(p) + 0.5));
    } else {
        assert_int_equal(ref.img.width, width_of(p));
        assert_int_equal(ref.img.height, height_of(p));
    }
    snprintf(what, sizeof what, "%s scale %g size %ux%u", name, scale_of(p),
             width_of(p), height_of(p));
    check_kernels(t, p, in, &ref, what, gpu);
    cld_data_free(&ref);
}

static void test_resample_real_images(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;

    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in;

        cld_test_load(images[i], &in);
        /* The GPU variant upscales in test_resample_edges. */
        for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
            params(&p, scales[s], 0, 0);
            check_image(t, &in, images[i], &p, scales[s] < 1.0);
        }
        /* Odd sizes: bilinear across, area averaging down (> 2x). */
        params(&p, 0, 333, 101);
        check_image(t, &in, images[i], &p, true);
        cld_data_free(&in);
    }
}

/* The filters by their definition, in double precision: the taps of
 * output o of an axis of in samples shrunk or enlarged to out. Bilinear
 * samples the source at (o + 0.5) * in / out - 0.5, clamped; beyond 2x
 * shrinking, each output is the mean of its footprint [o r, (o + 1) r).
 * Fills idx and w (up to cap entries) and returns how many. */
static size_t exact_taps(uint32_t in, uint32_t out, uint32_t o, size_t cap,
                         uint32_t *idx, double *w)
{
    double r = (double)in / out;
    size_t n = 0;

    if (r > 2.0) {
        double lo = o * r, hi = (o + 1) * r < in ? (o + 1) * r : in;

        for (uint32_t i = (uint32_t)floor(lo); i < hi && n < cap; i++) {
            double l = i > lo ? i : lo, h = i + 1 < hi ? i + 1 : hi;

            idx[n] = i;
            w[n++] = (h - l) / r;
        }
    } else {
        double x = (o + 0.5) * r - 0.5;
        uint32_t i0;

        x = x < 0 ? 0 : x > in - 1 ? in - 1 : x;
        i0 = (uint32_t)floor(x);
        idx[n] = i0;
        w[n++] = 1.0 - (x - i0);
        if (i0 + 1 < in) {
            idx[n] = i0 + 1;
            w[n++] = x - i0;
        }
    }
    return n;
}

/* ---- a reduced decode's extent (shrink-on-load) ----------------------- */

/* The filter of an axis of W full samples resized to out, moved onto the
 * grid of its decode at 1/f (ceil(W / f) = in samples, the image covering
 * [off, off + W / f) of them; off is what the partial sample lacks when
 * the axis is mirrored, else 0): bilinear at the full image's position
 * x = (o + 0.5) W / out - 0.5, which is (x + 0.5) / f - 0.5 on the
 * reduced grid, clamped to the samples; area averaging (beyond 2x by the
 * extent) over the full footprint [o W / out, (o + 1) W / out) divided by
 * f, clamped likewise. Real weights summing to 1, by sample index. */
static void reduced_filter(uint32_t full, uint32_t f, uint32_t out,
                           uint32_t o, bool flip, double *w)
{
    uint32_t in = (full + f - 1) / f;
    double rf = (double)full / out, off = flip ? in - (double)full / f : 0.0;

    memset(w, 0, in * sizeof *w);
    if (rf / f > 2.0) {
        double lo = o * rf / f + off, hi = (o + 1) * rf / f + off;

        hi = hi < in ? hi : in;
        for (uint32_t i = (uint32_t)floor(lo); i < hi; i++) {
            double l = i > lo ? i : lo, h = i + 1 < hi ? i + 1 : hi;

            w[i] = (h - l) / (hi - lo);
        }
    } else {
        double x = ((o + 0.5) * rf - 0.5 + 0.5) / f - 0.5 + off;
        uint32_t i0;

        x = x < 0 ? 0 : x > in - 1 ? in - 1 : x;
        i0 = (uint32_t)floor(x);
        if (i0 + 1 >= in) {
            w[in - 1] = 1.0;
            if (in > 1)
                w[in - 2] = i0 + 1 > in - 1 ? 0.0 : 1.0 - (x - i0);
            return;
        }
        w[i0] = 1.0 - (x - i0);
        w[i0 + 1] = x - i0;
    }
}

struct taps {
    uint32_t ntap;
    int32_t *start;
    uint32_t *w;
};

static void taps_of(uint32_t in, uint32_t out, uint32_t full, uint32_t f,
                    bool flip, struct taps *t)
{
    assert_int_equal(cld__resize_taps(in, out, full, f, flip, &t->ntap,
                                      &t->start, &t->w), CLD_OK);
}

static void taps_free(struct taps *t)
{
    cld_buffer_free(t->start);
    cld_buffer_free(t->w);
}

/* The weight of sample i in output o's taps (0 outside them). */
static long tap_at(const struct taps *t, uint32_t o, uint32_t i)
{
    uint32_t s = (uint32_t)t->start[o];

    return i >= s && i < s + t->ntap ? (long)t->w[o * t->ntap + i - s] : 0;
}

static bool taps_equal(const struct taps *a, const struct taps *b,
                       uint32_t out)
{
    return a->ntap == b->ntap &&
           !memcmp(a->start, b->start, out * sizeof *a->start) &&
           !memcmp(a->w, b->w, (size_t)out * a->ntap * sizeof *a->w);
}

/* The taps resize computes for a reduced decode (cld__resize_taps, as
 * cld_resize_set_source gives them) are the full image's filter moved
 * onto the reduced grid (reduced_filter): each integer weight within 1 of
 * its share of 65536, summing to 65536, reading only samples there are.
 * Mirrored, they are the unmirrored ones reversed. Where f divides W (or
 * f is 1) they are the plain axis's taps, byte for byte, so every
 * existing exactness test holds for them; where it does not, the plain
 * taps of ceil(W / f) differ (the drift this extent removes). */
static void test_resample_reduced_taps(void **state)
{
    static const uint32_t fulls[] = {427, 1001, 853, 13, 640, 1000};
    static const double scales[] = {0.5, 0.25, 0.2, 0.125, 0.1, 0.37, 0.06};
    double *w = malloc(1001 * sizeof *w);
    unsigned checked = 0, drifted = 0;

    (void)state;
    assert_non_null(w);
    for (size_t k = 0; k < sizeof fulls / sizeof fulls[0]; k++) {
        for (uint32_t f = 2; f <= 8; f *= 2) {
            uint32_t full = fulls[k], in = (full + f - 1) / f;

            /* The scales', and the decode's own size: 1001 / 2 rounds up
             * to 501, which 0.5 also gives. */
            for (size_t s = 0; s <= sizeof scales / sizeof scales[0]; s++) {
                uint32_t out = s < sizeof scales / sizeof scales[0]
                                   ? (uint32_t)floor(full * scales[s] + 0.5)
                                   : in;
                struct taps t[2], plain;

                if (out == 0 || out > in)
                    continue;
                for (int flip = 0; flip < 2; flip++) {
                    taps_of(in, out, full, f, flip, &t[flip]);
                    for (uint32_t o = 0; o < out; o++) {
                        uint32_t sum = 0;

                        reduced_filter(full, f, out, o, flip, w);
                        assert_true(t[flip].start[o] >= 0);
                        assert_true(t[flip].start[o] + t[flip].ntap <= in);
                        for (uint32_t i = 0; i < in; i++) {
                            long tap = tap_at(&t[flip], o, i);
                            long share = lround(w[i] * 65536.0);

                            sum += (uint32_t)tap;
                            if (labs(tap - share) > 1)
                                fail_msg("W %u f %u out %u flip %d: output "
                                         "%u sample %u weighs %ld, the "
                                         "filter %.6f", full, f, out, flip,
                                         o, i, tap, w[i] * 65536.0);
                        }
                        assert_int_equal(sum, 65536);
                        checked++;
                    }
                }
                /* Mirrored: reversed (a footprint may straddle one more
                 * sample one way than the other: by sample index). */
                for (uint32_t o = 0; o < out; o++) {
                    for (uint32_t i = 0; i < in; i++) {
                        long a = tap_at(&t[1], o, i);
                        long b = tap_at(&t[0], out - 1 - o, in - 1 - i);

                        assert_true(labs(a - b) <= 1);
                    }
                }
                taps_of(in, out, in, 1, false, &plain);
                if (full % f == 0) {
                    assert_true(taps_equal(&t[0], &plain, out));
                    assert_true(taps_equal(&t[1], &plain, out));
                } else {
                    drifted += !taps_equal(&t[0], &plain, out);
                }
                taps_free(&plain);
                taps_free(&t[0]);
                taps_free(&t[1]);
            }
        }
    }
    /* Every plain case: f 1, and f dividing the side. */
    for (uint32_t in = 1; in <= 64; in++) {
        for (uint32_t out = 1; out <= 64; out++) {
            struct taps a, b, c;

            taps_of(in, out, in, 1, false, &a);
            taps_of(in, out, in, 1, true, &b);
            taps_of(in, out, 4 * in, 4, true, &c);
            assert_true(taps_equal(&a, &b, out));
            assert_true(taps_equal(&a, &c, out));
            taps_free(&a);
            taps_free(&b);
            taps_free(&c);
        }
    }
    print_message("%u reduced outputs checked, %u cases differ from the "
                  "plain taps\n", checked, drifted);
    assert_true(drifted > 0);
    free(w);
}

/* Every kernel on every device uses the taps of a reduced decode's extent
 * (cld_resize_set_source) as the reference does, byte for byte: rocket.jpg
 * as the decode at 1/2 of a 1279x853 image, mirrored or not, at sizes
 * that average and interpolate; and an input exactly twice the output
 * whose extent is not (63.5 x 47.5 samples): its taps are not halves, so
 * no device takes resample_half for it (which refuses it). The results
 * differ from those of the plain input. */
static void test_resample_reduced_kernels(void **state)
{
    struct cld_test_devices *t = *state;
    static const uint32_t sizes[][2] = {{320, 213}, {333, 101}, {100, 50}};
    struct cld_data in, small = {.kind = CLD_DATA_IMAGE};
    struct cld_params p, plain;

    cld_test_load("rocket.jpg", &in);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int o = 1; o <= 3; o += 2) {
            struct cld_data ref, pref;
            char what[96];

            params(&plain, 0, sizes[k][0], sizes[k][1]);
            p = plain;
            /* 3 mirrors both axes. */
            assert_int_equal(cld_resize_set_source(&p, 1279, 853, 2, o),
                             CLD_OK);
            assert_int_equal(p.source.flip_x, o == 3);
            snprintf(what, sizeof what, "rocket.jpg as 1279x853 at 1/2, "
                     "orientation %d, to %ux%u", o, sizes[k][0],
                     sizes[k][1]);
            assert_int_equal(cld_job_run(job(), NULL, &p, &in, &ref),
                             CLD_OK);
            assert_int_equal(cld_job_run(job(), NULL, &plain, &in, &pref),
                             CLD_OK);
            assert_int_equal(ref.img.width, sizes[k][0]);
            assert_int_equal(ref.img.height, sizes[k][1]);
            assert_memory_not_equal(ref.img.data, pref.img.data,
                                    cld_image_bytes(ref.img.width,
                                                    ref.img.height, 3));
            check_kernels(t, &p, &in, &ref, what, true);
            cld_data_free(&ref);
            cld_data_free(&pref);
        }
    }
    cld_data_free(&in);

    assert_int_equal(cld_image_alloc(&small.img, 64, 48, 3), CLD_OK);
    for (size_t i = 0; i < 64 * 48 * 3; i++)
        small.img.data[i] = (uint8_t)(i * 37u + (i / 192) * 11u);
    params(&plain, 0, 32, 24);
    p = plain;
    assert_int_equal(cld_resize_set_source(&p, 127, 95, 2, 1), CLD_OK);
    {
        struct cld_data ref, pref;

        assert_int_equal(cld_job_run(job(), NULL, &p, &small, &ref), CLD_OK);
        assert_int_equal(cld_job_run(job(), NULL, &plain, &small, &pref),
                         CLD_OK);
        assert_memory_not_equal(ref.img.data, pref.img.data, 32 * 24 * 3);
        for (int d = 0; d < t->n; d++) {
            for (size_t k = 0; k < NKERNELS; k++) {
                struct cld_data got = {0};
                enum cld_status st = run_kernel(t->ctx[d], &p, &small, k,
                                                &got);

                if (kernels[k] && !strcmp(kernels[k], "resample_half")) {
                    assert_int_equal(st, CLD_ERR_UNSUPPORTED);
                    continue;
                }
                assert_int_equal(st, CLD_OK);
                cld_test_assert_same_image(&ref.img, &got.img);
                cld_data_free(&got);
            }
        }
        cld_data_free(&ref);
        cld_data_free(&pref);
    }
    cld_data_free(&small);
}

/* set_source's checks; an input other than the decode it names (a merge
 * probe, a synthetic timing input) resizes as a plain input; only a
 * resize to the decode's size whose extent is that size copies. */
static void test_resample_source_rules(void **state)
{
    struct cld_params p, q;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, a, b;

    (void)state;
    params(&p, 0, 50, 30);
    q = p;
    assert_int_equal(cld_resize_set_source(&q, 101, 61, 3, 1),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_resize_set_source(&q, 0, 61, 2, 1),
                     CLD_ERR_INVALID);
    assert_int_equal(q.source.shrink, 0);
    {
        struct cld_params blur;

        cld_params_default(&blur, cld_job_find("blur"));
        assert_int_equal(cld_resize_set_source(&blur, 101, 61, 2, 1),
                         CLD_ERR_INTERNAL);
    }
    /* The parameter text does not change. */
    assert_int_equal(cld_resize_set_source(&q, 101, 61, 2, 1), CLD_OK);
    {
        char k1[128], k2[128];

        cld_params_key(&p, k1, sizeof k1);
        cld_params_key(&q, k2, sizeof k2);
        assert_string_equal(k1, k2);
    }
    /* 101x61 at 1/2 is 51x31: a 40x40 input is not that decode. */
    assert_int_equal(cld_image_alloc(&in.img, 40, 40, 1), CLD_OK);
    for (size_t i = 0; i < 1600; i++)
        in.img.data[i] = (uint8_t)(i * 29u);
    assert_int_equal(cld_job_run(job(), NULL, &p, &in, &a), CLD_OK);
    assert_int_equal(cld_job_run(job(), NULL, &q, &in, &b), CLD_OK);
    cld_test_assert_same_image(&a.img, &b.img);
    cld_data_free(&a);
    cld_data_free(&b);
    cld_data_free(&in);
    /* Copies: 1001 / 2 rounds up to the output, 501, but its extent is
     * 500.5; 1000 / 2 is 500 exactly; shrink 1 clears the source. */
    params(&p, 0, 501, 376);
    assert_true(cld_resize_copies(&p, 501, 376));
    assert_int_equal(cld_resize_set_source(&p, 1001, 751, 2, 1), CLD_OK);
    assert_false(cld_resize_copies(&p, 501, 376));
    assert_int_equal(cld_resize_set_source(&p, 1001, 751, 1, 1), CLD_OK);
    assert_int_equal(p.source.shrink, 0);
    assert_true(cld_resize_copies(&p, 501, 376));
    params(&p, 0, 500, 376);
    assert_int_equal(cld_resize_set_source(&p, 1000, 752, 2, 6), CLD_OK);
    assert_true(cld_resize_copies(&p, 500, 376));
    assert_false(cld_resize_copies(&p, 500, 377));
}

/* Tolerance of the fixed-point C reference against the double-precision
 * filters rounded to nearest: a byte may differ, by 1, only where the
 * exact value lies within TIE_DIST of a .5 boundary (weights such as 1/6
 * and 5/6 make exact ties common; the fixed point rounds its weights and
 * breaks them either way). Measured on the images below: at most 0.002
 * from a tie, in up to 1.3% of the bytes (0.75 of camera.png, where
 * quarter and sixth weights tie often), none at all at 2x and 1/25. */
#define TIE_DIST 0.01

static void check_against_double(const struct cld_data *in,
                                 const struct cld_params *p, const char *what)
{
    const struct cld_image *src = &in->img;
    uint32_t ch = src->channels;
    struct cld_data ref;
    size_t off = 0, n;
    double worst = 0.0;
    uint32_t xi[64], yi[64];
    double xw[64], yw[64];

    assert_int_equal(cld_job_run(job(), NULL, p, in, &ref), CLD_OK);
    n = cld_image_bytes(ref.img.width, ref.img.height, ch);
    for (uint32_t oy = 0; oy < ref.img.height; oy++) {
        size_t ny = exact_taps(src->height, ref.img.height, oy, 64, yi, yw);

        for (uint32_t ox = 0; ox < ref.img.width; ox++) {
            size_t nx = exact_taps(src->width, ref.img.width, ox, 64, xi, xw);

            for (uint32_t c = 0; c < ch; c++) {
                double v = 0.0;
                int want, got;

                for (size_t j = 0; j < ny; j++)
                    for (size_t i = 0; i < nx; i++)
                        v += yw[j] * xw[i] *
                             src->data[((size_t)yi[j] * src->width + xi[i]) *
                                       ch + c];
                want = (int)floor(v + 0.5);
                got = ref.img.data[((size_t)oy * ref.img.width + ox) * ch +
                                   c];
                if (got != want &&
                    fabs(v - floor(v) - 0.5) > TIE_DIST)
                    fail_msg("%s: (%u, %u, %u) is %d, the exact filter "
                             "gives %.4f", what, ox, oy, c, got, v);
                if (got != want && fabs(v - floor(v) - 0.5) > worst)
                    worst = fabs(v - floor(v) - 0.5);
                off += got != want;
            }
        }
    }
    print_message("%s: %zu of %zu bytes off by one, at most %.4f from a "
                  "tie\n", what, off, n, worst);
    cld_data_free(&ref);
}

/* The fixed-point reference is the filter it claims to be: on real
 * images, downscaled (by halves, bilinear and area averaging, with up to
 * 27 taps an axis) and upscaled, uniformly and not. */
static void test_resample_reference_accuracy(void **state)
{
    static const struct {
        double scale;
        uint32_t w, h;
    } cases[] = {{0.5, 0, 0},  {0.37, 0, 0}, {0.75, 0, 0}, {2.0, 0, 0},
                 {0.04, 0, 0}, {0, 333, 101}, {0, 700, 150}};
    struct cld_params p;

    (void)state;
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in;

        cld_test_load(images[i], &in);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            char what[96];

            params(&p, cases[c].scale, cases[c].w, cases[c].h);
            snprintf(what, sizeof what, "%s scale %g size %ux%u", images[i],
                     cases[c].scale, cases[c].w, cases[c].h);
            check_against_double(&in, &p, what);
        }
        cld_data_free(&in);
    }
}

/* A larger image (1920x1280 RGB), at the size of a typical use, with the
 * kernels a CPU device runs. */
static void test_resample_large_image(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in;

    cld_test_load("mate_storm.jpg", &in);
    params(&p, 0.5, 0, 0);
    check_image(t, &in, "mate_storm.jpg", &p, false);
    params(&p, 0.3, 0, 0);
    check_image(t, &in, "mate_storm.jpg", &p, false);
    cld_data_free(&in);
}

/* Scale 1 gives the input back exactly, on the host and every device. */
static void test_resample_scale_one_is_identity(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;

    params(&p, 1.0, 0, 0);
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in, out;
        size_t n;

        cld_test_load(images[i], &in);
        n = cld_image_bytes(in.img.width, in.img.height, in.img.channels);
        assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_OK);
        assert_memory_equal(out.img.data, in.img.data, n);
        cld_data_free(&out);
        for (int d = 0; d < t->n; d++) {
            for (size_t k = 0; k < NKERNELS; k++) {
                if (kernels[k] && !strcmp(kernels[k], "resample_half"))
                    continue;
                assert_int_equal(run_kernel(t->ctx[d], &p, &in, k, &out),
                                 CLD_OK);
                assert_memory_equal(out.img.data, in.img.data, n);
                cld_data_free(&out);
            }
        }
        cld_data_free(&in);
    }
}

/* Area averaging by 4 of an image made of 4x4 blocks gives each block's
 * value exactly; by 3 on 3x3 blocks too (1/3 is not exact in float). A
 * shrink to 1x1 gives the image mean. Every channel count. */
static void test_resample_area_means(void **state)
{
    struct cld_test_devices *t = *state;

    for (uint32_t ch = 1; ch <= 4; ch++) {
        for (uint32_t b = 3; b <= 4; b++) {
            struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;
            struct cld_params p;
            uint32_t w = 13 * b, h = 7 * b;
            double sum = 0;

            assert_int_equal(cld_image_alloc(&in.img, w, h, ch), CLD_OK);
            for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++)
                    for (uint32_t c = 0; c < ch; c++) {
                        uint8_t v = (uint8_t)((x / b) * 37 + (y / b) * 91 +
                                              c * 50);

                        in.img.data[((size_t)y * w + x) * ch + c] = v;
                        sum += v;
                    }
            params(&p, 0, 13, 7);
            assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out),
                             CLD_OK);
            for (uint32_t y = 0; y < 7; y++)
                for (uint32_t x = 0; x < 13; x++)
                    for (uint32_t c = 0; c < ch; c++)
                        assert_int_equal(
                            out.img.data[((size_t)y * 13 + x) * ch + c],
                            (uint8_t)(x * 37 + y * 91 + c * 50));
            check_kernels(t, &p, &in, &out, "blocks", true);
            cld_data_free(&out);

            params(&p, 0, 1, 1);
            assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out),
                             CLD_OK);
            if (ch == 1)
                assert_true(fabs(out.img.data[0] - sum / ((double)w * h)) <=
                            0.5 + 1e-3);
            check_kernels(t, &p, &in, &out, "1x1", true);
            cld_data_free(&out);
            cld_data_free(&in);
        }
    }
}

/* Tiny images and extreme factors: 1-pixel sides, shrinking to 1, a
 * factor that rounds a side to 0 (kept at 1), large upscales. */
static void test_resample_edges(void **state)
{
    struct cld_test_devices *t = *state;
    static const uint32_t shapes[][3] = {{1, 1, 1}, {1, 9, 3}, {17, 1, 4},
                                         {5, 3, 2}};
    static const double factors[] = {0.01, 0.5, 1.0, 3.3, 16.0};

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct cld_data in = {.kind = CLD_DATA_IMAGE};
        size_t n;

        assert_int_equal(cld_image_alloc(&in.img, shapes[s][0], shapes[s][1],
                                         shapes[s][2]), CLD_OK);
        n = cld_image_bytes(shapes[s][0], shapes[s][1], shapes[s][2]);
        for (size_t i = 0; i < n; i++)
            in.img.data[i] = (uint8_t)(i * 53u + 7u);
        for (size_t f = 0; f < sizeof factors / sizeof factors[0]; f++) {
            struct cld_params p;
            struct cld_data ref;

            params(&p, factors[f], 0, 0);
            assert_int_equal(cld_job_run(job(), NULL, &p, &in, &ref),
                             CLD_OK);
            assert_true(ref.img.width >= 1 && ref.img.height >= 1);
            check_kernels(t, &p, &in, &ref, "edges", true);
            cld_data_free(&ref);
        }
        cld_data_free(&in);
    }
}

static void test_resample_usage_errors(void **state)
{
    const struct cld_job *j = job();
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;

    (void)state;
    assert_non_null(j->validate);
    params(&p, 0, 0, 0);
    assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
    assert_non_null(strstr(cld_error_detail(), "exactly one"));
    params(&p, 0.5, 100, 100);
    assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
    assert_non_null(strstr(cld_error_detail(), "exactly one"));
    params(&p, 0, 100, 0);
    assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
    params(&p, -2.0, 0, 0);
    assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
    params(&p, 0.5, 0, 0);
    assert_int_equal(j->validate(&p), CLD_OK);
    params(&p, 0, 640, 480);
    assert_int_equal(j->validate(&p), CLD_OK);
    /* The run functions check too. */
    assert_int_equal(cld_image_alloc(&in.img, 8, 8, 1), CLD_OK);
    memset(in.img.data, 1, 64);
    params(&p, 0.5, 4, 4);
    assert_int_equal(cld_job_run(j, NULL, &p, &in, &out), CLD_ERR_USAGE);
    assert_null(out.img.data);
    cld_data_free(&in);
}

/* Fail each OpenCL call of a run in turn: the run reports CLD_ERR_CL (or
 * a build error) and releases what it made; the device works afterwards. */
struct resize_run {
    struct cld_clctx *ctx;
    const struct cld_params *p;
    const struct cld_data *in;
    const char *kernel;
};

static enum cld_status resize_run(void *arg, struct cld_data *out)
{
    struct resize_run *r = arg;

    return cld__resize_cl(r->ctx, r->p, r->in, r->kernel, out);
}

static void test_resample_faults(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;

    params(&p, 0.5, 0, 0);
    assert_int_equal(cld_image_alloc(&in.img, 64, 48, 3), CLD_OK);
    memset(in.img.data, 9, 64 * 48 * 3);
    for (size_t k = 0; kernels[k]; k++) {
        struct resize_run r = {t->ctx[0], &p, &in, kernels[k]};

        cld_test_fault_sweep(resize_run, &r);
        assert_int_equal(cld__resize_cl(t->ctx[0], &p, &in, kernels[k],
                                        &out), CLD_OK);
        cld_data_free(&out);
    }
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resample_usage_errors),
        cmocka_unit_test(test_resample_scale_one_is_identity),
        cmocka_unit_test(test_resample_reference_accuracy),
        cmocka_unit_test(test_resample_reduced_taps),
        cmocka_unit_test(test_resample_reduced_kernels),
        cmocka_unit_test(test_resample_source_rules),
        cmocka_unit_test(test_resample_area_means),
        cmocka_unit_test(test_resample_edges),
        cmocka_unit_test(test_resample_real_images),
        cmocka_unit_test(test_resample_large_image),
        cmocka_unit_test(test_resample_faults),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("resample");
    return cmocka_run_group_tests_name("resample_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
