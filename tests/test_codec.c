/* Unit tests for the codec options, on the real test images: PNG
 * compression levels and filters (every setting decodes back to the exact
 * pixels), the EXIF orientation reader (hand-made and malformed segments)
 * and upright loading of files carrying each of the 8 orientations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "error.h"
#include "exif.h"
#include "fixtures.h"
#include "image.h"
#include "image_io.h"
#include "jobs.h"

static void load_or_fail(const char *path, struct cld_image *img)
{
    if (cld_image_load(path, NULL, img) != CLD_OK)
        fail_msg("cannot load the fixture %s: %s", path, cld_error_detail());
}

static long file_size(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return (long)sb.st_size;
}

/* A w x h crop from (x0, y0) of a real image, as a new image. */
static void load_crop(const char *name, uint32_t x0, uint32_t y0, uint32_t w,
                      uint32_t h, struct cld_image *out)
{
    struct cld_image full;

    load_or_fail(cld_test_image(name), &full);
    assert_true(x0 + w <= full.width && y0 + h <= full.height);
    assert_int_equal(cld_image_alloc(out, w, h, full.channels), CLD_OK);
    for (uint32_t y = 0; y < h; y++)
        memcpy(out->data + (size_t)y * w * full.channels,
               full.data + (((size_t)y0 + y) * full.width + x0) *
                               full.channels,
               (size_t)w * full.channels);
    cld_image_free(&full);
}

/* Crops (200x150, so that the slow levels stay quick) of the real test
 * images in 1, 2, 3 and 4 channels: camera (grey), chelsea (RGB), and each
 * with an alpha channel made from its own pixels. */
static void png_sources(struct cld_image src[4])
{
    struct cld_image grey, rgb;

    load_crop("camera.png", 150, 100, 200, 150, &grey);
    load_crop("chelsea.png", 120, 60, 200, 150, &rgb);
    assert_int_equal(grey.channels, 1);
    assert_int_equal(rgb.channels, 3);
    src[0] = grey;
    src[2] = rgb;
    assert_int_equal(cld_image_alloc(&src[1], grey.width, grey.height, 2),
                     CLD_OK);
    for (size_t i = 0; i < (size_t)grey.width * grey.height; i++) {
        src[1].data[2 * i] = grey.data[i];
        src[1].data[2 * i + 1] = (uint8_t)(255 - grey.data[i]);
    }
    assert_int_equal(cld_image_alloc(&src[3], rgb.width, rgb.height, 4),
                     CLD_OK);
    for (size_t i = 0; i < (size_t)rgb.width * rgb.height; i++) {
        memcpy(&src[3].data[4 * i], &rgb.data[3 * i], 3);
        src[3].data[4 * i + 3] = rgb.data[3 * i + 1];
    }
}

/* Every level 0..9 with its default filter, and every filter at levels 1
 * and 6, writes a PNG that decodes back to exactly the pixels written. */
static void test_codec_png_levels_and_filters_roundtrip(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image src[4];

    png_sources(src);
    for (int ch = 0; ch < 4; ch++) {
        for (int level = 0; level <= 9; level++) {
            for (int f = CLD_PNG_FILTER_DEFAULT; f <= CLD_PNG_FILTER_ADAPTIVE;
                 f++) {
                struct cld_save_opts o = {
                    .fmt = CLD_FMT_PNG, .overwrite = true,
                    .png_compression = CLD_PNG_LEVEL(level),
                    .png_filter = (enum cld_png_filter)f};
                const char *p = cld_test_tmp_path(t, "rt.png");
                struct cld_image back;

                if (f != CLD_PNG_FILTER_DEFAULT && level != 1 && level != 6)
                    continue;
                if (cld_image_save(p, &src[ch], &o) != CLD_OK)
                    fail_msg("level %d filter %s, %u channels: %s", level,
                             cld_png_filter_name(f), src[ch].channels,
                             cld_error_detail());
                assert_int_equal(cld_image_load(p, NULL, &back), CLD_OK);
                cld_test_assert_same_image(&src[ch], &back);
                cld_image_free(&back);
            }
        }
    }
    for (int ch = 0; ch < 4; ch++)
        cld_image_free(&src[ch]);
}

/* The levels do what they say on real images: level 0 stores (at least one
 * byte per sample), every other level compresses, and a zeroed options
 * struct means the default level. */
static void test_codec_png_level_sizes(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image src[4];

    png_sources(src);
    for (int ch = 0; ch < 4; ch++) {
        long size[10];
        long raw = (long)src[ch].width * src[ch].height * src[ch].channels;
        struct cld_save_opts dflt = {.fmt = CLD_FMT_PNG, .overwrite = true};
        const char *p = cld_test_tmp_path(t, "lv.png");

        for (int level = 0; level <= 9; level++) {
            struct cld_save_opts o = {
                .fmt = CLD_FMT_PNG, .overwrite = true,
                .png_compression = CLD_PNG_LEVEL(level)};

            assert_int_equal(cld_image_save(p, &src[ch], &o), CLD_OK);
            size[level] = file_size(p);
        }
        /* Level 9 is not always smaller than 1: libpng's adaptive filter
         * choice can lose to Paeth on every row (the alpha crops here). */
        assert_true(size[0] >= raw);
        for (int level = 1; level <= 9; level++)
            assert_true(size[level] < raw * 9 / 10);
        assert_int_equal(cld_image_save(p, &src[ch], &dflt), CLD_OK);
        assert_int_equal(file_size(p), size[CLD_PNG_LEVEL_DEFAULT]);
        cld_image_free(&src[ch]);
    }
}

static void test_codec_png_bad_options(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image img;
    struct cld_save_opts hi = {.fmt = CLD_FMT_PNG,
                               .png_compression = CLD_PNG_LEVEL(10)};
    struct cld_save_opts lo = {.fmt = CLD_FMT_PNG,
                               .png_compression = CLD_PNG_LEVEL(-2)};
    struct cld_save_opts f = {.fmt = CLD_FMT_PNG,
                              .png_filter = (enum cld_png_filter)99};

    load_or_fail(cld_test_image("camera.png"), &img);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "a.png"), &img, &hi),
                     CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "0..9"));
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "a.png"), &img, &lo),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "a.png"), &img, &f),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_test_count_entries(t->dir), 0);
    assert_int_equal(cld_png_filter_from_name("Paeth"), CLD_PNG_FILTER_PAETH);
    assert_int_equal(cld_png_filter_from_name("adaptive"),
                     CLD_PNG_FILTER_ADAPTIVE);
    assert_int_equal(cld_png_filter_from_name("best"), -1);
    assert_int_equal(cld_png_filter_from_name(NULL), -1);
    cld_image_free(&img);
}

/* ---- EXIF orientation reader ------------------------------------------ */

/* An APP1 payload: "Exif\0\0", a TIFF header in either byte order, and
 * IFD0 with two entries (an unrelated tag first) whose second is the
 * Orientation; returns its length. */
static size_t make_exif(uint8_t *b, bool le, uint16_t type, uint32_t count,
                        uint16_t value)
{
    uint8_t *t = b + 6;
    size_t n = 0;

#define PUT16(p, v)                                                         \
    do {                                                                    \
        (p)[le ? 0 : 1] = (uint8_t)((v) & 0xff);                            \
        (p)[le ? 1 : 0] = (uint8_t)((v) >> 8);                              \
    } while (0)
#define PUT32(p, v)                                                         \
    do {                                                                    \
        PUT16((p) + (le ? 0 : 2), (v) & 0xffff);                            \
        PUT16((p) + (le ? 2 : 0), (v) >> 16);                               \
    } while (0)
    memcpy(b, "Exif\0\0", 6);
    t[0] = t[1] = le ? 'I' : 'M';
    PUT16(t + 2, 42);
    PUT32(t + 4, 8);
    PUT16(t + 8, 2);
    /* ImageWidth, LONG, 1, 64 */
    PUT16(t + 10, 0x0100);
    PUT16(t + 12, 4);
    PUT32(t + 14, 1);
    PUT32(t + 18, 64);
    PUT16(t + 22, 0x0112);
    PUT16(t + 24, type);
    PUT32(t + 26, count);
    memset(t + 30, 0, 4);
    PUT16(t + 30, value);
    PUT32(t + 34, 0); /* no next IFD */
#undef PUT16
#undef PUT32
    n = 6 + 38;
    return n;
}

static void test_codec_exif_reader(void **state)
{
    uint8_t b[64], *copy;
    size_t n;

    (void)state;
    for (int le = 0; le <= 1; le++) {
        for (uint16_t v = 0; v <= 9; v++) {
            n = make_exif(b, le, 3, 1, v);
            assert_int_equal(cld_exif_orientation(b, n),
                             v >= 1 && v <= 8 ? v : 1);
        }
        /* Wrong type or count: not a valid Orientation, read as none. */
        n = make_exif(b, le, 4, 1, 6);
        assert_int_equal(cld_exif_orientation(b, n), 1);
        n = make_exif(b, le, 3, 2, 6);
        assert_int_equal(cld_exif_orientation(b, n), 1);
        /* Every truncation, in a buffer of exactly that size (so that
         * ASan sees any read past it): the tag is found only when its
         * whole entry is there; shorter gives 1. */
        n = make_exif(b, le, 3, 1, 6);
        for (size_t k = 0; k <= n; k++) {
            int o;

            copy = malloc(k ? k : 1);
            assert_non_null(copy);
            memcpy(copy, b, k);
            o = cld_exif_orientation(copy, k);
            free(copy);
            assert_int_equal(o, k >= 6 + 34 ? 6 : 1);
        }
    }
    /* Lies: IFD0 offset past the end or inside the header, an entry count
     * that runs past the end, not TIFF, not EXIF, NULL. */
    n = make_exif(b, true, 3, 1, 6);
    b[6 + 4] = 200;
    assert_int_equal(cld_exif_orientation(b, n), 1);
    b[6 + 4] = 2;
    assert_int_equal(cld_exif_orientation(b, n), 1);
    b[6 + 4] = 8;
    b[6 + 8] = 0xff;
    b[6 + 9] = 0xff;
    assert_int_equal(cld_exif_orientation(b, n), 1);
    b[6 + 8] = 2;
    b[6 + 9] = 0;
    assert_int_equal(cld_exif_orientation(b, n), 6);
    b[6 + 2] = 43;
    assert_int_equal(cld_exif_orientation(b, n), 1);
    b[6 + 2] = 42;
    b[6] = 'X';
    assert_int_equal(cld_exif_orientation(b, n), 1);
    b[6] = 'I';
    b[0] = 'e';
    assert_int_equal(cld_exif_orientation(b, n), 1);
    assert_int_equal(cld_exif_orientation(NULL, 40), 1);
}

/* ---- upright loading ----------------------------------------------------- */

static const char *orient_file(int n)
{
    char name[32];

    snprintf(name, sizeof name, "orientation/%d.jpg", n);
    return cld_test_image(name);
}

/* Files carrying each orientation (made from one crop of rocket.jpg by
 * lossless transforms, tests/make_orientation_images.sh) load upright to
 * the same pixels. Flips and the half turn are exact. The transposing
 * orientations (5..8) come within 3 levels: libjpeg's IDCT rounds its
 * column and row passes differently, so a transposed block does not
 * decode to exactly the transposed pixels. */
static void test_codec_orientation_upright(void **state)
{
    struct cld_image ref;
    struct cld_load_info info;

    (void)state;
    if (cld_image_load_ex(orient_file(1), NULL, &ref, &info) != CLD_OK)
        fail_msg("fixture: %s", cld_error_detail());
    assert_int_equal(ref.width, 64);
    assert_int_equal(ref.height, 48);
    assert_int_equal(info.orientation, 1);
    assert_false(info.oriented);
    for (int n = 2; n <= 8; n++) {
        struct cld_image img;
        int maxdiff;
        double psnr;

        if (cld_image_load_ex(orient_file(n), NULL, &img, &info) != CLD_OK)
            fail_msg("fixture: %s", cld_error_detail());
        assert_int_equal(info.orientation, n);
        assert_true(info.oriented);
        assert_int_equal(info.width, 64);
        assert_int_equal(info.height, 48);
        assert_true(cld_test_image_diff(&ref, &img, &maxdiff, &psnr));
        if (n <= 4)
            assert_int_equal(maxdiff, 0);
        else if (maxdiff > 3 || psnr < 40.0)
            fail_msg("orientation %d: max difference %d, PSNR %.1f dB", n,
                     maxdiff, psnr);
        cld_image_free(&img);
    }
    cld_image_free(&ref);
}

/* keep_orientation loads the stored pixels (sides swapped for 5..8);
 * turning them upright afterwards gives exactly the default load. */
static void test_codec_orientation_kept(void **state)
{
    struct cld_load_opts keep = {.keep_orientation = true};

    (void)state;
    for (int n = 1; n <= 8; n++) {
        struct cld_image kept, upright;
        struct cld_load_info info;

        assert_int_equal(cld_image_load_ex(orient_file(n), &keep, &kept,
                                           &info), CLD_OK);
        assert_false(info.oriented);
        assert_int_equal(info.orientation, 1);
        assert_int_equal(kept.width, n >= 5 ? 48 : 64);
        assert_int_equal(kept.height, n >= 5 ? 64 : 48);
        assert_int_equal(cld_image_orient(&kept, n), CLD_OK);
        assert_int_equal(cld_image_load(orient_file(n), NULL, &upright),
                         CLD_OK);
        cld_test_assert_same_image(&upright, &kept);
        cld_image_free(&kept);
        cld_image_free(&upright);
    }
}

/* The transform on a small image whose every pixel names its position,
 * against the EXIF definitions written out: where the stored top-left,
 * top-right and bottom-left corners end up upright. */
static void test_codec_orient_corners(void **state)
{
    /* Upright position (x, y) of the stored top-left (A), top-right (B)
     * and bottom-left (C) pixels of a 3x2 image, per orientation. */
    static const uint32_t where[9][3][2] = {
        [1] = {{0, 0}, {2, 0}, {0, 1}}, [2] = {{2, 0}, {0, 0}, {2, 1}},
        [3] = {{2, 1}, {0, 1}, {2, 0}}, [4] = {{0, 1}, {2, 1}, {0, 0}},
        [5] = {{0, 0}, {0, 2}, {1, 0}}, [6] = {{1, 0}, {1, 2}, {0, 0}},
        [7] = {{1, 2}, {1, 0}, {0, 2}}, [8] = {{0, 2}, {0, 0}, {1, 2}},
    };
    static const uint8_t mark[3] = {10, 20, 30};

    (void)state;
    for (int n = 1; n <= 8; n++) {
        struct cld_image img;

        assert_int_equal(cld_image_alloc(&img, 3, 2, 2), CLD_OK);
        memset(img.data, 0, 12);
        img.data[0] = mark[0];            /* (0, 0) */
        img.data[2 * 2] = mark[1];        /* (2, 0) */
        img.data[2 * 3] = mark[2];        /* (0, 1) */
        img.data[1] = 99;                 /* second channel travels too */
        assert_int_equal(cld_image_orient(&img, n), CLD_OK);
        assert_int_equal(img.width, n >= 5 ? 2 : 3);
        assert_int_equal(img.height, n >= 5 ? 3 : 2);
        for (int k = 0; k < 3; k++) {
            size_t at = ((size_t)where[n][k][1] * img.width +
                         where[n][k][0]) * 2;

            if (img.data[at] != mark[k])
                fail_msg("orientation %d: corner %d not at (%u, %u)", n, k,
                         where[n][k][0], where[n][k][1]);
        }
        assert_int_equal(img.data[((size_t)where[n][0][1] * img.width +
                                   where[n][0][0]) * 2 + 1], 99);
        cld_image_free(&img);
    }
    {
        struct cld_image img;

        assert_int_equal(cld_image_alloc(&img, 3, 2, 1), CLD_OK);
        assert_int_equal(cld_image_orient(&img, 0), CLD_ERR_INVALID);
        assert_int_equal(cld_image_orient(&img, 9), CLD_ERR_INVALID);
        assert_int_equal(img.width, 3);
        cld_image_free(&img);
    }
}

/* ---- shrink-on-load ------------------------------------------------------ */

static void resize_need(void *arg, uint32_t w, uint32_t h, uint32_t *mw,
                        uint32_t *mh)
{
    assert_int_equal(cld_resize_output_size(arg, w, h, mw, mh), CLD_OK);
}

/* Resize a real photograph (its path) by scale, once from a full decode
 * and once shrunk on load (as a batch does it: cld_engine_shrunk); *shrink
 * gets the factor used. unmirrored (may be NULL) gets the shrunk decode
 * resized as if its EXIF orientation had mirrored nothing. */
static void resize_both_ways(const char *name, double scale,
                             struct cld_data *full_out,
                             struct cld_data *shrunk_out, unsigned *shrink,
                             struct cld_data *unmirrored)
{
    struct cld_params p, q;
    struct cld_load_opts lo = {.min_size = resize_need, .min_size_arg = &p};
    struct cld_load_info info;
    struct cld_data full = {.kind = CLD_DATA_IMAGE};
    struct cld_data small = {.kind = CLD_DATA_IMAGE};
    uint32_t ow, oh;

    cld_params_default(&p, &cld_job_resize);
    assert_int_equal(cld_params_set_real(&p, "scale", scale), CLD_OK);
    load_or_fail(name, &full.img);
    if (cld_image_load_ex(name, &lo, &small.img, &info) != CLD_OK)
        fail_msg("%s: %s", name, cld_error_detail());
    assert_int_equal(info.width, full.img.width);
    assert_int_equal(info.height, full.img.height);
    assert_int_equal(small.img.width,
                     (full.img.width + info.shrink - 1) / info.shrink);
    q = p;
    assert_int_equal(cld_resize_output_size(&p, info.width, info.height,
                                            &ow, &oh), CLD_OK);
    assert_int_equal(cld_resize_set_size(&q, ow, oh), CLD_OK);
    assert_int_equal(cld_resize_set_source(&q, info.width, info.height,
                                           info.shrink,
                                           info.oriented ? info.orientation
                                                         : 1), CLD_OK);
    assert_int_equal(cld_job_run(&cld_job_resize, NULL, &p, &full,
                                 full_out), CLD_OK);
    assert_int_equal(cld_job_run(&cld_job_resize, NULL, &q, &small,
                                 shrunk_out), CLD_OK);
    if (unmirrored) {
        assert_int_equal(cld_resize_set_source(&q, info.width, info.height,
                                               info.shrink, 1), CLD_OK);
        assert_int_equal(cld_job_run(&cld_job_resize, NULL, &q, &small,
                                     unmirrored), CLD_OK);
    }
    *shrink = info.shrink;
    cld_data_free(&full);
    cld_data_free(&small);
}

/* Shrink-on-load against the full decode, resize on the host both ways, on
 * the real photographs: the same output size, and within the stated
 * tolerance. Measured here: 40.8-57.3 dB, largest single difference 33
 * (at a sharp colour edge, where the scaled decode treats the subsampled
 * chroma differently). The factor chosen is the largest that
 * cld_jpeg_shrink_fits (its extent at least twice the output, or its
 * decode the output size), dividing the sides or not. */
#define SHRINK_MIN_PSNR 40.0
#define SHRINK_MAX_DIFF 40
static void test_codec_shrink_on_load_tolerance(void **state)
{
    static const struct {
        const char *name;
        double scale;
        unsigned shrink;
    } cases[] = {
        {"dragonfly_by_bolly.jpg", 0.125, 8}, /* progressive, 4224x3168 */
        {"dragonfly_by_bolly.jpg", 0.2, 2},
        {"mate_storm.jpg", 0.125, 8},
        {"mate_storm.jpg", 0.25, 4},
        {"mate_storm.jpg", 0.2, 2},
        {"kde_grey_2560x1600.jpg", 0.5, 2},   /* greyscale */
        {"kde_grey_2560x1600.jpg", 0.1, 4},
        {"hubble_deep_field.jpg", 0.25, 4},
        /* 427 rows, which no factor divides: a reduced decode's last
         * row stands for a partial block, and the resize maps by the
         * true extent (427 / f rows). At 0.25 the decode at 1/4 is the
         * output size (107 rows) only by rounding up: it still
         * resamples, to 106.75 rows, against the full image's area
         * averaging. At 0.5 the decode at 1/2 would be the output size
         * (214) only by rounding up too, but the full image's resize is
         * bilinear there (427 / 214, just under 2x), close to point
         * sampling single rows, which pair averages cannot give: 35.8 dB
         * and 86 levels. Full decode. */
        {"rocket.jpg", 0.5, 1},
        {"rocket.jpg", 0.25, 4},
        {"rocket.jpg", 0.2, 2},
        {"rocket.jpg", 0.125, 4},             /* 1/8: 54 rows for 53 */
        /* 1/2 would leave a resize of 1.25x: full decode instead. */
        {"rocket.jpg", 0.4, 1},
        {"rocket.jpg", 0.6, 1},               /* under 2x */
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cld_data a, b;
        unsigned shrink;
        int maxdiff;
        double psnr;

        resize_both_ways(cld_test_image(cases[i].name), cases[i].scale, &a,
                         &b, &shrink, NULL);
        assert_true(cld_test_image_diff(&a.img, &b.img, &maxdiff, &psnr));
        print_message("%s x%g: shrink %u, max difference %d, PSNR %.1f dB\n",
                      cases[i].name, cases[i].scale, shrink, maxdiff, psnr);
        assert_int_equal(shrink, cases[i].shrink);
        if (shrink == 1)
            assert_int_equal(maxdiff, 0);
        else if (psnr < SHRINK_MIN_PSNR || maxdiff > SHRINK_MAX_DIFF)
            fail_msg("%s x%g: outside the tolerance", cases[i].name,
                     cases[i].scale);
        cld_data_free(&a);
        cld_data_free(&b);
    }
}

/* The rule the loader and the start-up pre-plan share: the extent (side /
 * factor) at least twice the output on both sides, or the decode the
 * output size on both, dividing the side or where the full image's resize
 * averages it. */
static void test_codec_shrink_fits_rule(void **state)
{
    (void)state;
    /* Divides, and is the output. */
    assert_true(cld_jpeg_shrink_fits(1000, 752, 2, 500, 376));
    /* 1001 / 2 rounds up to the output, 501, whose full resize is
     * bilinear (1001 / 501 < 2): full decode. */
    assert_false(cld_jpeg_shrink_fits(1001, 751, 2, 501, 376));
    /* 427 / 4 rounds up to the output, 107; the full resize averages
     * (427 / 107 > 2): used, and resized by the extent 106.75. */
    assert_true(cld_jpeg_shrink_fits(640, 427, 4, 160, 107));
    /* Extent 213.5 rows, at least twice 85. */
    assert_true(cld_jpeg_shrink_fits(640, 427, 2, 128, 85));
    /* The decode's 214 rows are twice 107, its extent 213.5 is not (the
     * resize would interpolate, not average). */
    assert_false(cld_jpeg_shrink_fits(640, 427, 2, 160, 107));
    /* 427 / 8 rounds up to 54, not 53; not twice either. */
    assert_false(cld_jpeg_shrink_fits(640, 427, 8, 80, 53));
    assert_true(cld_jpeg_shrink_fits(640, 427, 4, 80, 53));
    /* Both sides must fit the same way. */
    assert_false(cld_jpeg_shrink_fits(1000, 1000, 2, 500, 250));
    assert_false(cld_jpeg_shrink_fits(640, 427, 1, 160, 107));
    assert_false(cld_jpeg_shrink_fits(640, 427, 2, 0, 0));
}

/* Write img to path as a JPEG (quality 95) carrying EXIF orientation n:
 * an APP1 segment right after SOI, big-endian TIFF with the one tag. */
static void save_oriented(const char *path, const struct cld_image *img,
                          int n)
{
    const uint8_t app1[] = {
        0xff, 0xe1, 0, 34, 'E', 'x', 'i', 'f', 0, 0,  /* length 34 */
        'M', 'M', 0, 42, 0, 0, 0, 8,                   /* IFD0 at 8 */
        0, 1,                                          /* one entry */
        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)n, 0, 0,
        0, 0, 0, 0,                                    /* no IFD1 */
    };
    struct cld_save_opts so = {.fmt = CLD_FMT_JPEG, .quality = 95,
                               .overwrite = true};
    uint8_t *jpg, *out;
    size_t len;

    assert_int_equal(cld_image_save(path, img, &so), CLD_OK);
    jpg = cld_test_read_file(path, &len);
    assert_true(len > 2 && jpg[0] == 0xff && jpg[1] == 0xd8);
    out = malloc(len + sizeof app1);
    assert_non_null(out);
    memcpy(out, jpg, 2);
    memcpy(out + 2, app1, sizeof app1);
    memcpy(out + 2 + sizeof app1, jpg + 2, len - 2);
    cld_test_write_file(path, out, len + sizeof app1);
    free(out);
    free(jpg);
}

/* Shrink-on-load of a JPEG whose side no factor divides, stored turned or
 * mirrored with the EXIF orientation that turns it upright (rocket.jpg,
 * 640x427 upright, re-encoded as each orientation stores it): where an
 * orientation mirrors an upright axis, the decode's partial sample ends
 * up first on that axis, and the resize maps it there
 * (cld_resize_set_source). Each is within the tolerance at 0.25 (decoded
 * at 1/4, the output size by rounding up) and 0.2 (at 1/2); where the
 * 427-row axis is mirrored, mapping it as if it were not is 3 dB or more
 * further from the full decode (measured 6 dB). */
static void test_codec_shrink_on_load_oriented(void **state)
{
    struct cld_test_tmp *t = *state;
    static const double scales[] = {0.25, 0.2};
    static const unsigned want[] = {4, 2};
    struct cld_image up;

    load_or_fail(cld_test_image("rocket.jpg"), &up);
    for (int n = 1; n <= 8; n++) {
        /* Orientation n turns the stored image upright: stored is the
         * upright one turned the inverse way (6 and 8 undo each other,
         * the others themselves). */
        int inverse = n == 6 ? 8 : n == 8 ? 6 : n;
        struct cld_image stored;
        char name[16];
        const char *path;

        assert_int_equal(cld_image_alloc(&stored, up.width, up.height,
                                         up.channels), CLD_OK);
        memcpy(stored.data, up.data,
               cld_image_bytes(up.width, up.height, up.channels));
        assert_int_equal(cld_image_orient(&stored, inverse), CLD_OK);
        snprintf(name, sizeof name, "o%d.jpg", n);
        path = cld_test_tmp_path(t, name);
        save_oriented(path, &stored, n);
        cld_image_free(&stored);
        for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
            struct cld_data a, b, c;
            unsigned shrink;
            int maxdiff, cdiff;
            double psnr, cpsnr;

            resize_both_ways(path, scales[s], &a, &b, &shrink, &c);
            assert_true(cld_test_image_diff(&a.img, &b.img, &maxdiff,
                                            &psnr));
            assert_true(cld_test_image_diff(&a.img, &c.img, &cdiff,
                                            &cpsnr));
            print_message("rocket.jpg stored for orientation %d x%g: "
                          "shrink %u, max difference %d, PSNR %.1f dB "
                          "(unmirrored: %d, %.1f dB)\n", n, scales[s],
                          shrink, maxdiff, psnr, cdiff, cpsnr);
            if (cld_orientation_flips_y(n))
                assert_true(psnr >= cpsnr + 3.0);
            else
                cld_test_assert_same_image(&b.img, &c.img);
            cld_data_free(&c);
            assert_int_equal(a.img.width, 640 * scales[s] + 0.5);
            assert_int_equal(shrink, want[s]);
            if (psnr < SHRINK_MIN_PSNR || maxdiff > SHRINK_MAX_DIFF)
                fail_msg("orientation %d x%g: outside the tolerance", n,
                         scales[s]);
            cld_data_free(&a);
            cld_data_free(&b);
        }
    }
    cld_image_free(&up);
}

#define TMP_TEST(f)                                                         \
    cmocka_unit_test_setup_teardown(f, cld_test_tmp_setup,                  \
                                    cld_test_tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TMP_TEST(test_codec_png_levels_and_filters_roundtrip),
        TMP_TEST(test_codec_png_level_sizes),
        TMP_TEST(test_codec_png_bad_options),
        cmocka_unit_test(test_codec_exif_reader),
        cmocka_unit_test(test_codec_orientation_upright),
        cmocka_unit_test(test_codec_orientation_kept),
        cmocka_unit_test(test_codec_orient_corners),
        cmocka_unit_test(test_codec_shrink_fits_rule),
        cmocka_unit_test(test_codec_shrink_on_load_tolerance),
        TMP_TEST(test_codec_shrink_on_load_oriented),
    };

    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
