/* equalize on every OpenCL device, with both histogram kernels (per-group
 * partial histograms and local atomics), equal to the C reference on real
 * images and on every pair of neighbouring luma values; properties of the
 * result (near-flat cumulative histogram, monotone in luma, constant image
 * unchanged); release on every failing OpenCL call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "image_io.h"
#include "job_hooks.h"
#include "jobs.h"

/* In host/job_histogram.c: partial selects the CPU kernel. */

static const char *const images[] = {
    "camera.png",             /* 512x512 gray */
    "chelsea.png",            /* 451x300 RGB, odd width */
    "rocket.jpg",             /* 640x427 RGB */
    "kde_grey_2560x1600.jpg", /* 4 MP gray */
    "mate_storm.jpg",         /* 1920x1280 RGB */
};

static const struct cld_job *job(void)
{
    return cld_job_find("equalize");
}

static uint8_t luma_at(const struct cld_image *img, size_t i)
{
    const uint8_t *p = img->data + i * img->channels;

    return img->channels < 3 ? p[0] : cld_luma(p[0], p[1], p[2]);
}

/* Both kernels on every device equal the reference exactly (integer luma
 * and counts on both sides; the table is built by the same host code). */
static void check_devices(struct cld_test_devices *t,
                          const struct cld_data *in, const char *what)
{
    struct cld_params p;
    struct cld_data ref;
    size_t n = (size_t)in->img.width * in->img.height;

    cld_params_default(&p, job());
    assert_int_equal(cld_job_run(job(), NULL, &p, in, &ref), CLD_OK);
    assert_int_equal(ref.img.channels, 1);
    for (int d = 0; d < t->n; d++) {
        for (int partial = 0; partial <= 1; partial++) {
            struct cld_data got;

            assert_int_equal(cld__equalize_cl(t->ctx[d], in, partial, &got),
                             CLD_OK);
            assert_int_equal(got.img.channels, 1);
            if (memcmp(got.img.data, ref.img.data, n) != 0)
                fail_msg("%s: device %d, %s kernel differs from the host",
                         what, d, partial ? "partial" : "local");
            cld_data_free(&got);
        }
        /* And the job's own choice. */
        {
            struct cld_data got;

            assert_int_equal(cld_job_run(job(), t->ctx[d], &p, in, &got),
                             CLD_OK);
            assert_memory_equal(got.img.data, ref.img.data, n);
            cld_data_free(&got);
        }
    }
    cld_data_free(&ref);
}

static void test_histogram_real_images(void **state)
{
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in;

        cld_test_load(images[i], &in);
        check_devices(*state, &in, images[i]);
        cld_data_free(&in);
    }
}

/* 1..4 channels and sizes around the 16-pixel vectors and the chunks. */
static void test_histogram_channels_and_tails(void **state)
{
    static const uint32_t sizes[][2] = {{1, 1}, {15, 1}, {17, 3},
                                        {451, 3}, {300, 301}};

    for (uint32_t ch = 1; ch <= 4; ch++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct cld_data in = {.kind = CLD_DATA_IMAGE};
            size_t n;

            assert_int_equal(cld_image_alloc(&in.img, sizes[s][0],
                                             sizes[s][1], ch), CLD_OK);
            n = cld_image_bytes(sizes[s][0], sizes[s][1], ch);
            for (size_t i = 0; i < n; i++)
                in.img.data[i] = (uint8_t)((i * i) % 251u);
            check_devices(*state, &in, "synthetic");
            cld_data_free(&in);
        }
    }
}

/* The cumulative histogram of the output stays near the uniform line
 * t / 255. It cannot be closer than the largest input bin allows (a bin
 * is never split), so the stated tolerance is: the largest bin's share
 * twice (one jump, plus the darkest bin that the mapping sends to 0) plus
 * 1/255 for rounding the table; and in any case under 0.1 for these
 * photographs. The mapping is monotone: a darker input pixel never comes
 * out brighter. */
static void test_histogram_flat_and_monotone(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_params p;
        struct cld_data in, out;
        size_t n, hin[256] = {0}, hout[256] = {0}, maxbin = 0, cum = 0;
        int map[256];
        double tol, worst = 0;

        cld_test_load(images[i], &in);
        cld_params_default(&p, job());
        assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_OK);
        n = (size_t)in.img.width * in.img.height;
        for (int v = 0; v < 256; v++)
            map[v] = -1;
        for (size_t k = 0; k < n; k++) {
            uint8_t y = luma_at(&in.img, k), o = out.img.data[k];

            hin[y]++;
            hout[o]++;
            /* Equal luma gives equal output. */
            if (map[y] < 0)
                map[y] = o;
            assert_int_equal(map[y], o);
        }
        for (int v = 0, last = -1; v < 256; v++) {
            if (hin[v] > maxbin)
                maxbin = hin[v];
            if (map[v] < 0)
                continue;
            assert_true(map[v] >= last);
            last = map[v];
        }
        /* The full range is used. */
        assert_int_equal(hout[255] > 0, 1);
        assert_int_equal(hout[0] > 0, 1);
        tol = 2.0 * (double)maxbin / (double)n + 1.0 / 255.0;
        for (int t = 0; t < 256; t++) {
            double d;

            cum += hout[t];
            d = fabs((double)cum / (double)n - t / 255.0);
            if (d > worst)
                worst = d;
        }
        if (worst > tol || worst > 0.1)
            fail_msg("%s: cumulative histogram %.4f from uniform "
                     "(tolerance %.4f)", images[i], worst, tol);
        cld_data_free(&out);
        cld_data_free(&in);
    }
}

/* Every pair of neighbouring luma values (the CPU paths map two pixels
 * per look-up): gray pixels 2k and 2k + 1 are k & 255 and k >> 8, at even
 * and, shifted by one pixel, odd offsets; both kernels on every device
 * equal the reference, which equals lut[y] pixel by pixel. */
static void test_histogram_all_pairs(void **state)
{
    for (uint32_t shift = 0; shift <= 1; shift++) {
        struct cld_data in = {.kind = CLD_DATA_IMAGE}, ref;
        struct cld_params p;
        uint32_t n = 2 * 65536 + shift;
        int map[256];

        assert_int_equal(cld_image_alloc(&in.img, n, 1, 1), CLD_OK);
        in.img.data[0] = 3;
        for (uint32_t k = 0; k < 65536; k++) {
            in.img.data[shift + 2 * k] = (uint8_t)(k & 255);
            in.img.data[shift + 2 * k + 1] = (uint8_t)(k >> 8);
        }
        check_devices(*state, &in, "all pairs");
        cld_params_default(&p, job());
        assert_int_equal(cld_job_run(job(), NULL, &p, &in, &ref), CLD_OK);
        for (int v = 0; v < 256; v++)
            map[v] = -1;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t y = in.img.data[i];

            if (map[y] < 0)
                map[y] = ref.img.data[i];
            assert_int_equal(map[y], ref.img.data[i]);
        }
        cld_data_free(&ref);
        cld_data_free(&in);
    }
}

/* A constant image is left as it is, on the host and every device. */
static void test_histogram_constant_is_identity(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;
    struct cld_params p;

    cld_params_default(&p, job());
    assert_int_equal(cld_image_alloc(&in.img, 37, 19, 1), CLD_OK);
    memset(in.img.data, 77, 37 * 19);
    assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_OK);
    assert_memory_equal(out.img.data, in.img.data, 37 * 19);
    cld_data_free(&out);
    for (int d = 0; d < t->n; d++) {
        assert_int_equal(cld_job_run(job(), t->ctx[d], &p, &in, &out),
                         CLD_OK);
        assert_memory_equal(out.img.data, in.img.data, 37 * 19);
        cld_data_free(&out);
    }
    cld_data_free(&in);
}

/* Two values: the darker goes to 0, the brighter to 255. */
static void test_histogram_two_values(void **state)
{
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;
    struct cld_params p;

    (void)state;
    cld_params_default(&p, job());
    assert_int_equal(cld_image_alloc(&in.img, 4, 1, 1), CLD_OK);
    memcpy(in.img.data, (const uint8_t[]){100, 100, 120, 100}, 4);
    assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_OK);
    assert_memory_equal(out.img.data, ((const uint8_t[]){0, 0, 255, 0}), 4);
    cld_data_free(&out);
    cld_data_free(&in);
}

struct equalize_run {
    struct cld_clctx *ctx;
    const struct cld_data *in;
    bool partial;
};

static enum cld_status equalize_run(void *arg, struct cld_data *out)
{
    struct equalize_run *r = arg;

    return cld__equalize_cl(r->ctx, r->in, r->partial, out);
}

static void test_histogram_faults(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_data in = {.kind = CLD_DATA_IMAGE};

    assert_int_equal(cld_image_alloc(&in.img, 64, 48, 3), CLD_OK);
    for (size_t i = 0; i < 64 * 48 * 3; i++)
        in.img.data[i] = (uint8_t)i;
    for (int partial = 0; partial <= 1; partial++) {
        struct equalize_run r = {t->ctx[0], &in, partial};

        cld_test_fault_sweep(equalize_run, &r);
    }
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_two_values),
        cmocka_unit_test(test_histogram_flat_and_monotone),
        cmocka_unit_test(test_histogram_constant_is_identity),
        cmocka_unit_test(test_histogram_channels_and_tails),
        cmocka_unit_test(test_histogram_real_images),
        cmocka_unit_test(test_histogram_all_pairs),
        cmocka_unit_test(test_histogram_faults),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("histogram");
    return cmocka_run_group_tests_name("histogram_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
