/* Where an 8-bit image item runs never changes its bytes: every 8-bit
 * image job, with several parameter sets, on real images (gray, RGB with an
 * odd width, RGB with an odd height, and RGBA and gray + alpha made from
 * them), run by the C reference and by every kernel variant (and the
 * job's own choice) on every OpenCL device, once with zero-copy buffers
 * and once on the copy path (CLDISPATCH_TRANSFER=copy, read when a
 * context's queues are made, so each mode gets fresh contexts). Every
 * output must equal the reference byte for byte: no tolerance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "jobs.h"
#include "launch.h"

/* Real images; the alpha variants are made from them in group setup. */
enum { IMG_GRAY, IMG_ODD_W, IMG_ODD_H, IMG_RGBA, IMG_GRAY_ALPHA, NIMAGES };

static const char *const image_names[NIMAGES] = {
    "camera.png",           /* 512x512 gray */
    "chelsea.png",          /* 451x300 RGB, odd width */
    "rocket.jpg",           /* 640x427 RGB, odd height */
    "chelsea.png + alpha",  /* 451x300 RGBA */
    "camera.png + alpha",   /* 512x512 gray + alpha */
};

/* One job with one parameter set: "name=value" words, parsed as the
 * command line does. */
struct exact_case {
    const char *job;
    const char *params;
};

/* Kernel variants of each job's plan (host/job_*.c), run by index beside
 * the automatic choice: blur and sharpen 0 fused, 1 two-pass; resize 0
 * rows, 1 exact halving, 2 direct; equalize 0 partial, 1 local; dither 0
 * serial, 1 wavefront; median 0 3x3, 1 network. Grayscale and sobel have
 * one kernel. A variant that cannot take an input says so
 * (CLD_ERR_UNSUPPORTED) and is left out for that input. */
static int nvariants(const char *job)
{
    static const struct {
        const char *job;
        int n;
    } v[] = {{"blur", 2},     {"sharpen", 2}, {"resize", 3},
             {"equalize", 2}, {"dither", 2},  {"median", 2}};

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (strcmp(v[i].job, job) == 0)
            return v[i].n;
    }
    return 0;
}

struct exact_state {
    struct cld_test_devices *dev;
    bool copy;
    struct cld_data img[NIMAGES];
};

/* Parse "a=1 b=2x3" into p (the job's defaults first). */
static void parse_params(const struct cld_job *j, const char *text,
                         struct cld_params *p)
{
    char buf[128], *save = NULL;

    cld_params_default(p, j);
    assert_true(strlen(text) < sizeof buf);
    strcpy(buf, text);
    for (char *w = strtok_r(buf, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        int i;

        assert_non_null(eq);
        *eq = '\0';
        i = cld_params_find(p, w);
        if (i < 0)
            fail_msg("%s has no parameter %s", j->name, w);
        if (cld_params_parse(p, (size_t)i, eq + 1) != CLD_OK)
            fail_msg("%s: %s", j->name, cld_error_detail());
    }
    assert_int_equal(cld_job_validate(j, p), CLD_OK);
}

/* got equals ref byte for byte; on a difference, say where first and how
 * many differ before the suite's assertion fails. */
static void expect_same(const struct cld_image *ref,
                        const struct cld_image *got, const char *what)
{
    size_t n = (size_t)ref->width * ref->height * ref->channels, first = 0;
    size_t ndiff = 0;
    int maxdiff = 0;

    if (got->width == ref->width && got->height == ref->height &&
        got->channels == ref->channels) {
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)ref->data[i] - (int)got->data[i]);

            if (d && !ndiff++)
                first = i;
            if (d > maxdiff)
                maxdiff = d;
        }
    }
    if (ndiff) {
        size_t px = first / ref->channels;

        print_error("%s: %zu of %zu bytes differ (largest by %d); first at "
                    "x %zu y %zu channel %zu: reference %u, got %u\n", what,
                    ndiff, n, maxdiff, px % ref->width, px / ref->width,
                    first % ref->channels, ref->data[first],
                    got->data[first]);
    }
    cld_test_assert_same_image(ref, got);
}

/* One case on one image: the reference, then every variant and the
 * automatic choice on every device. */
static void check_case(struct exact_state *s, const struct exact_case *c,
                       int image)
{
    const struct cld_job *j = cld_job_find(c->job);
    const struct cld_data *in = &s->img[image];
    struct cld_params p;
    struct cld_data ref;
    int nv;

    assert_non_null(j);
    nv = nvariants(c->job);
    parse_params(j, c->params, &p);
    assert_int_equal(cld_job_run(j, NULL, &p, in, &ref), CLD_OK);
    for (int d = 0; d < s->dev->n; d++) {
        struct cld_clctx *ctx = s->dev->ctx[d];

        for (int v = CLD_VARIANT_AUTO; v < nv; v++) {
            struct cld_ring_stats rs;
            struct cld_data got;
            enum cld_status st;
            char what[512];

            st = cld_job_run_variant(j, ctx, &p, in, v, &got);
            if (st == CLD_ERR_UNSUPPORTED && v != CLD_VARIANT_AUTO)
                continue;
            snprintf(what, sizeof what, "%s %s on %s, device %d (%s), "
                     "variant %d, %s", c->job, c->params, image_names[image],
                     d, s->dev->list.devices[d].name, v,
                     s->copy ? "copy path" : "zero-copy");
            if (st != CLD_OK)
                fail_msg("%s: %s", what, cld_error_detail());
            /* The mode under test is the one the device ran. */
            assert_int_equal(cld_launch_stats(ctx, false, &rs), CLD_OK);
            assert_int_equal(rs.copy, s->copy);
            expect_same(&ref.img, &got.img, what);
            cld_data_free(&got);
        }
    }
    cld_data_free(&ref);
}

static void check_cases(void **state, const struct exact_case *cases,
                        size_t ncases, const int *images, size_t nimages)
{
    for (size_t c = 0; c < ncases; c++) {
        for (size_t i = 0; i < nimages; i++)
            check_case(*state, &cases[c], images[i]);
    }
}

static const int all_images[] = {IMG_GRAY, IMG_ODD_W, IMG_ODD_H, IMG_RGBA,
                                 IMG_GRAY_ALPHA};
#define NALL (sizeof all_images / sizeof all_images[0])

static void test_exact_grayscale(void **state)
{
    static const struct exact_case cases[] = {{"grayscale", ""}};

    check_cases(state, cases, 1, all_images, NALL);
}

static void test_exact_blur(void **state)
{
    static const struct exact_case cases[] = {
        {"blur", "sigma=0.7"}, {"blur", ""}, {"blur", "sigma=4.3"}};

    check_cases(state, cases, 3, all_images, NALL);
}

static void test_exact_sharpen(void **state)
{
    static const struct exact_case cases[] = {
        {"sharpen", ""}, {"sharpen", "sigma=1.3 amount=2.7"}};

    check_cases(state, cases, 2, all_images, NALL);
}

static void test_exact_sobel(void **state)
{
    static const struct exact_case cases[] = {{"sobel", ""}};

    check_cases(state, cases, 1, all_images, NALL);
}

/* Down and up, uniform and not: exact halving; bilinear (0.75, 2.0);
 * area averaging on both axes (0.37, 0.25); and sizes that average one
 * axis while interpolating or enlarging the other. */
static void test_exact_resize(void **state)
{
    static const struct exact_case cases[] = {
        {"resize", "scale=0.5"},     {"resize", "scale=0.37"},
        {"resize", "scale=0.25"},    {"resize", "scale=0.75"},
        {"resize", "scale=2"},       {"resize", "scale=1.37"},
        {"resize", "size=333x101"},  {"resize", "size=700x150"},
        {"resize", "size=97x640"},   {"resize", "size=1x1"},
    };

    check_cases(state, cases, sizeof cases / sizeof cases[0], all_images,
                NALL);
}

static void test_exact_equalize(void **state)
{
    static const struct exact_case cases[] = {{"equalize", ""}};

    check_cases(state, cases, 1, all_images, NALL);
}

static void test_exact_dither(void **state)
{
    static const struct exact_case cases[] = {{"dither", ""},
                                              {"dither", "levels=5"}};

    check_cases(state, cases, 2, all_images, NALL);
}

static void test_exact_median(void **state)
{
    static const struct exact_case cases[] = {
        {"median", ""}, {"median", "radius=2"}, {"median", "radius=3"}};

    check_cases(state, cases, 3, all_images, NALL);
}

/* Every 8-bit image job of the catalogue is covered above: a new one
 * must be added here. */
static void test_exact_covers_every_image_job(void **state)
{
    static const char *const covered[] = {"grayscale", "blur", "sharpen",
                                          "sobel", "resize", "equalize",
                                          "dither", "median"};
    const struct cld_job *j;

    (void)state;
    for (size_t i = 0; (j = cld_job_at(i)) != NULL; i++) {
        bool found = false;

        if (j->input != CLD_DATA_IMAGE || j->output != CLD_DATA_IMAGE)
            continue;
        for (size_t k = 0; k < sizeof covered / sizeof covered[0]; k++)
            found |= strcmp(covered[k], j->name) == 0;
        if (!found)
            fail_msg("image job %s is not checked for exactness", j->name);
    }
}

/* dst: the pixels of src with an alpha channel after them, taken from
 * the source's own values (so it is real content, not a constant). */
static void add_alpha(const struct cld_data *src, struct cld_data *dst)
{
    uint32_t ch = src->img.channels;
    size_t npix = (size_t)src->img.width * src->img.height;

    memset(dst, 0, sizeof *dst);
    dst->kind = CLD_DATA_IMAGE;
    assert_int_equal(cld_image_alloc(&dst->img, src->img.width,
                                     src->img.height, ch + 1), CLD_OK);
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = src->img.data + i * ch;
        uint8_t *q = dst->img.data + i * (ch + 1);

        memcpy(q, p, ch);
        q[ch] = (uint8_t)(255 - p[ch - 1]);
    }
}

static int setup_mode(void **state, bool copy)
{
    struct exact_state *s = calloc(1, sizeof *s);
    void *dev = NULL;

    if (!s)
        return -1;
    /* Before the contexts are made: their queues read it. */
    if (copy)
        setenv("CLDISPATCH_TRANSFER", "copy", 1);
    else
        unsetenv("CLDISPATCH_TRANSFER");
    if (cld_test_devices_setup(&dev) != 0) {
        free(s);
        return -1;
    }
    s->dev = dev;
    s->copy = copy;
    for (int i = 0; i < IMG_RGBA; i++)
        cld_test_load(image_names[i], &s->img[i]);
    add_alpha(&s->img[IMG_ODD_W], &s->img[IMG_RGBA]);
    add_alpha(&s->img[IMG_GRAY], &s->img[IMG_GRAY_ALPHA]);
    assert_int_equal(s->img[IMG_GRAY].img.channels, 1);
    assert_int_equal(s->img[IMG_ODD_W].img.width % 2, 1);
    assert_int_equal(s->img[IMG_ODD_H].img.height % 2, 1);
    *state = s;
    return 0;
}

static int setup_zero_copy(void **state)
{
    return setup_mode(state, false);
}

static int setup_copy(void **state)
{
    return setup_mode(state, true);
}

static int teardown_mode(void **state)
{
    struct exact_state *s = *state;
    void *dev;

    if (!s)
        return 0;
    dev = s->dev;
    for (int i = 0; i < NIMAGES; i++)
        cld_data_free(&s->img[i]);
    cld_test_devices_teardown(&dev);
    free(s);
    unsetenv("CLDISPATCH_TRANSFER");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_covers_every_image_job),
        cmocka_unit_test(test_exact_grayscale),
        cmocka_unit_test(test_exact_blur),
        cmocka_unit_test(test_exact_sharpen),
        cmocka_unit_test(test_exact_sobel),
        cmocka_unit_test(test_exact_resize),
        cmocka_unit_test(test_exact_equalize),
        cmocka_unit_test(test_exact_dither),
        cmocka_unit_test(test_exact_median),
    };
    int failed;

    if (!cld_test_have_device())
        return cld_test_no_device("exact");
    failed = cmocka_run_group_tests_name("exact_pocl zero-copy", tests,
                                         setup_zero_copy, teardown_mode);
    failed += cmocka_run_group_tests_name("exact_pocl copy path", tests,
                                          setup_copy, teardown_mode);
    return failed ? 1 : 0;
}
