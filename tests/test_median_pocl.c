/* median on every OpenCL device, with both kernels (sorted columns for
 * 3x3, and a pruned sorting network for every radius), equal byte for
 * byte to the C reference on real images and on shapes that exercise the
 * edges; the C reference against a plain sort of every window; parameter
 * errors; the history key; release on failing calls. */
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
#include "targets.h"

static const char *const images[] = {
    "camera.png",            /* 512x512 gray */
    "chelsea.png",           /* 451x300 RGB, odd width */
    "rocket.jpg",            /* 640x427 RGB */
    "astronaut.png",         /* 512x512 RGB */
};

/* The plan's variants (host/job_median.c): 0 median_3x3 (radius 1 only),
 * 1 median_net. */
#define NVARIANTS 2

static const struct cld_job *job(void)
{
    const struct cld_job *j = cld_job_find("median");

    assert_non_null(j);
    return j;
}

static void params(struct cld_params *p, unsigned radius)
{
    cld_params_default(p, job());
    assert_int_equal(cld_params_set_int(p, "radius", radius), CLD_OK);
}

static int cmp_u8(const void *a, const void *b)
{
    return *(const uint8_t *)a - *(const uint8_t *)b;
}

/* The median of every window by sorting it: slow and plainly right. */
static void naive_median(const struct cld_image *src, int r,
                         struct cld_image *out)
{
    int w = (int)src->width, h = (int)src->height, ch = (int)src->channels;
    int side = 2 * r + 1;
    uint8_t win[49];

    assert_int_equal(cld_image_alloc(out, src->width, src->height,
                                     src->channels), CLD_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                int n = 0;

                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++) {
                        int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1
                                                              : y + dy;
                        int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1
                                                              : x + dx;

                        win[n++] = src->data[((size_t)yy * w + xx) * ch + c];
                    }
                qsort(win, (size_t)n, 1, cmp_u8);
                out->data[((size_t)y * w + x) * ch + c] =
                    win[side * side / 2];
            }
}

/* Every device and kernel against the host; tolerance: exact. */
static void check_devices(struct cld_test_devices *t, const struct cld_data *in,
                          unsigned radius, const char *what)
{
    size_t bytes = (size_t)in->img.width * in->img.height * in->img.channels;
    struct cld_params p;
    struct cld_data ref;

    params(&p, radius);
    assert_int_equal(cld_job_run(job(), NULL, &p, in, &ref), CLD_OK);
    for (int d = 0; d < t->n; d++) {
        for (int v = 0; v < NVARIANTS; v++) {
            struct cld_data got;
            enum cld_status st;

            st = cld_job_run_variant(job(), t->ctx[d], &p, in, v, &got);
            if (v == 0 && radius != 1) {
                assert_int_equal(st, CLD_ERR_UNSUPPORTED);
                assert_null(got.img.data);
                continue;
            }
            assert_int_equal(st, CLD_OK);
            assert_int_equal(got.img.width, in->img.width);
            assert_int_equal(got.img.channels, in->img.channels);
            if (memcmp(got.img.data, ref.img.data, bytes) != 0)
                fail_msg("%s, radius %u: device %d, variant %d differs "
                         "from the host", what, radius, d, v);
            cld_data_free(&got);
        }
    }
    cld_data_free(&ref);
}

/* The host reference equals sorting every window, on real image crops
 * and tiny shapes. */
static void test_median_reference_is_the_median(void **state)
{
    static const uint32_t shapes[][3] = {
        {1, 1, 1}, {1, 5, 3}, {5, 1, 2}, {2, 3, 4}, {7, 7, 1}, {19, 4, 3}};
    struct cld_data full;

    (void)state;
    cld_test_load("chelsea.png", &full);
    for (unsigned r = 1; r <= 3; r++) {
        struct cld_params p;
        struct cld_data crop = {.kind = CLD_DATA_IMAGE}, ref;
        struct cld_image naive;

        params(&p, r);
        /* A 61x37 crop holding the cat's eye and fur. */
        assert_int_equal(cld_image_alloc(&crop.img, 61, 37, 3), CLD_OK);
        for (uint32_t y = 0; y < 37; y++)
            memcpy(crop.img.data + (size_t)y * 61 * 3,
                   full.img.data + ((size_t)(120 + y) * full.img.width +
                                    200) * 3,
                   61 * 3);
        assert_int_equal(cld_job_run(job(), NULL, &p, &crop, &ref), CLD_OK);
        naive_median(&crop.img, (int)r, &naive);
        assert_memory_equal(ref.img.data, naive.data, 61 * 37 * 3);
        cld_image_free(&naive);
        cld_data_free(&ref);
        cld_data_free(&crop);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            struct cld_data in = {.kind = CLD_DATA_IMAGE};
            size_t n = (size_t)shapes[s][0] * shapes[s][1] * shapes[s][2];

            assert_int_equal(cld_image_alloc(&in.img, shapes[s][0],
                                             shapes[s][1], shapes[s][2]),
                             CLD_OK);
            for (size_t i = 0; i < n; i++)
                in.img.data[i] = (uint8_t)(i * 97u + (i >> 3) * 31u);
            assert_int_equal(cld_job_run(job(), NULL, &p, &in, &ref),
                             CLD_OK);
            naive_median(&in.img, (int)r, &naive);
            assert_memory_equal(ref.img.data, naive.data, n);
            cld_image_free(&naive);
            cld_data_free(&ref);
            cld_data_free(&in);
        }
    }
    cld_data_free(&full);
}

static void test_median_real_images(void **state)
{
    struct cld_test_devices *t = *state;

    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in;

        cld_test_load(images[i], &in);
        for (unsigned r = 1; r <= 3; r++)
            check_devices(t, &in, r, images[i]);
        cld_data_free(&in);
    }
}

/* Widths around the 16-byte strips and the edges, every channel count,
 * heights around the rows a work-item walks. */
static void test_median_shapes(void **state)
{
    static const uint32_t shapes[][3] = {
        {1, 1, 3}, {3, 2, 1}, {5, 40, 1}, {16, 3, 1}, {17, 17, 1},
        {6, 7, 3}, {33, 5, 2}, {10, 18, 4}, {123, 35, 3}};
    struct cld_test_devices *t = *state;

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct cld_data in = {.kind = CLD_DATA_IMAGE};
        size_t n = (size_t)shapes[s][0] * shapes[s][1] * shapes[s][2];
        char what[64];

        assert_int_equal(cld_image_alloc(&in.img, shapes[s][0], shapes[s][1],
                                         shapes[s][2]), CLD_OK);
        for (size_t i = 0; i < n; i++)
            in.img.data[i] = (uint8_t)(i * 131u ^ (i >> 2) * 7u);
        snprintf(what, sizeof what, "%ux%ux%u", shapes[s][0], shapes[s][1],
                 shapes[s][2]);
        for (unsigned r = 1; r <= 3; r++)
            check_devices(t, &in, r, what);
        cld_data_free(&in);
    }
}

/* The declared range, the history key, and no OpenCL call for a bad
 * variant. */
static void test_median_parameters(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;
    struct cld_workload w;

    cld_params_default(&p, job());
    assert_int_equal(cld_param_int(&p, 0), 1);
    assert_int_equal(cld_params_set_int(&p, "radius", 4), CLD_ERR_USAGE);
    assert_non_null(strstr(cld_error_detail(), "--radius '4' is out of "
                                               "range (1..3)"));
    assert_int_equal(cld_params_parse(&p, 0, "0"), CLD_ERR_USAGE);
    p.v[0].i = 9; /* as a program could set it */
    assert_int_equal(job()->validate(&p), CLD_ERR_USAGE);
    assert_int_equal(cld_image_alloc(&in.img, 8, 8, 1), CLD_OK);
    memset(in.img.data, 7, 64);
    assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_ERR_USAGE);
    assert_int_equal(cld_job_run(job(), t->ctx[0], &p, &in, &out),
                     CLD_ERR_USAGE);
    assert_null(out.img.data);
    params(&p, 2);
    assert_int_equal(cld_job_run_variant(job(), t->ctx[0], &p, &in, 7, &out),
                     CLD_ERR_INVALID);
    cld_targets_workload(job(), &p, &in, &w);
    assert_string_equal(w.params, "radius=2");
    assert_int_equal(w.elements, 64);
    assert_int_equal(w.bytes_in, 64);
    assert_int_equal(w.bytes_out, 64);
    cld_data_free(&in);
}

struct median_run {
    struct cld_clctx *ctx;
    const struct cld_params *p;
    const struct cld_data *in;
    int variant;
};

static enum cld_status median_run(void *arg, struct cld_data *out)
{
    struct median_run *r = arg;

    return cld_job_run_variant(job(), r->ctx, r->p, r->in, r->variant, out);
}

static void test_median_faults(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_data in = {.kind = CLD_DATA_IMAGE};
    struct cld_params p1, p3;

    params(&p1, 1);
    params(&p3, 3);
    assert_int_equal(cld_image_alloc(&in.img, 40, 30, 3), CLD_OK);
    for (size_t i = 0; i < 40 * 30 * 3; i++)
        in.img.data[i] = (uint8_t)(i * 13u);
    for (int v = 0; v < NVARIANTS; v++) {
        struct median_run r = {t->ctx[0], v == 0 ? &p1 : &p3, &in, v};

        cld_test_fault_sweep(median_run, &r);
    }
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_reference_is_the_median),
        cmocka_unit_test(test_median_parameters),
        cmocka_unit_test(test_median_shapes),
        cmocka_unit_test(test_median_real_images),
        cmocka_unit_test(test_median_faults),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("median");
    return cmocka_run_group_tests_name("median_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
