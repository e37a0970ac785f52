/* Unit tests for image loading/saving (image_io) and the file-system helpers
 * it relies on (fsutil): the real images in $CLDISPATCH_IMAGES, the broken
 * ones in bad/, hand-made lying headers, round trips, atomic output and the
 * folder walker. Every test works in its own temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include "error.h"
#include "fixtures.h"
#include "fsutil.h"
#include "image.h"
#include "image_io.h"

/* The real images are part of the repository: a missing one fails the
 * test (cld_test_image names it), it never skips. */
static void need_images(void)
{
    assert_int_equal(access(cld_test_image("camera.png"), R_OK), 0);
}

/* Load that must fail with st; checks the detail names the file. */
static void expect_load_fails(const char *path, enum cld_status st,
                              const char *detail_part)
{
    struct cld_image img;
    const char *base = strrchr(path, '/');

    cld_error_clear();
    assert_int_equal(cld_image_load(path, NULL, &img), st);
    assert_null(img.data);
    assert_int_equal(img.width, 0);
    assert_true(strlen(cld_error_detail()) > 0);
    assert_non_null(strstr(cld_error_detail(), base ? base + 1 : path));
    if (detail_part && !strstr(cld_error_detail(), detail_part))
        fail_msg("detail '%s' lacks '%s'", cld_error_detail(), detail_part);
}

static void expect_load_fails_bytes(struct cld_test_tmp *t, const char *name,
                                    const void *data, size_t n,
                                    enum cld_status st,
                                    const char *detail_part)
{
    const char *p = cld_test_tmp_path(t, name);

    cld_test_write_file(p, data, n);
    expect_load_fails(p, st, detail_part);
}

/* Deterministic pseudo-random test image. */
static void make_image(struct cld_image *img, uint32_t w, uint32_t h,
                       uint32_t ch, uint32_t seed)
{
    size_t n;
    uint32_t x = seed * 2654435761u + 1;

    assert_int_equal(cld_image_alloc(img, w, h, ch), CLD_OK);
    n = (size_t)w * h * ch;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        img->data[i] = (uint8_t)(x >> 24);
    }
}

/* ---- hand-made PNG chunks ---------------------------------------------- */

static uint32_t png_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Append a chunk at buf + *len. */
static void put_chunk(uint8_t *buf, size_t *len, const char *type,
                      const uint8_t *data, uint32_t n)
{
    uint8_t *c = buf + *len;

    put_be32(c, n);
    memcpy(c + 4, type, 4);
    if (n)
        memcpy(c + 8, data, n);
    put_be32(c + 8 + n, png_crc(c + 4, 4 + (size_t)n));
    *len += 12 + (size_t)n;
}

/* A PNG whose IHDR claims w x h 8-bit grey, with a tiny IDAT. */
static size_t make_lying_png(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                   '\n'};
    static const uint8_t idat[] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00,
                                   0x01};
    uint8_t ihdr[13] = {0};
    size_t len = 8;

    memcpy(buf, sig, 8);
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 0; /* grey */
    put_chunk(buf, &len, "IHDR", ihdr, 13);
    put_chunk(buf, &len, "IDAT", idat, sizeof idat);
    put_chunk(buf, &len, "IEND", NULL, 0);
    return len;
}

/* ---- PNG and JPEG writers used to make test inputs ---------------------- */

struct png_spec {
    uint32_t w, h;
    int depth, color, interlace;
    const png_color *palette;
    int npalette;
    const uint8_t *trans; /* palette alpha */
    int ntrans;
    const png_color_16 *trans_color; /* grey/RGB transparent colour */
};

static void write_png_spec(const char *path, const struct png_spec *s,
                           uint8_t *const *rows)
{
    FILE *fp = fopen(path, "wb");
    png_structp png;
    png_infop info;

    assert_non_null(fp);
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) {
        fclose(fp);
        fail_msg("libpng failed to write the test file");
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, s->w, s->h, s->depth, s->color, s->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->npalette);
    if (s->trans || s->trans_color)
        png_set_tRNS(png, info, s->trans, s->ntrans, s->trans_color);
    png_write_info(png, info);
    png_write_image(png, (png_bytepp)rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    assert_int_equal(fclose(fp), 0);
}

static void write_cmyk_jpeg(const char *path, uint32_t w, uint32_t h)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    FILE *fp = fopen(path, "wb");
    uint8_t *row = malloc((size_t)w * 4);

    assert_non_null(fp);
    assert_non_null(row);
    for (uint32_t i = 0; i < w * 4; i++)
        row[i] = (uint8_t)(i * 7);
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, fp);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height)
        jpeg_write_scanlines(&c, &row, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    assert_int_equal(fclose(fp), 0);
}

/* ---- formats ------------------------------------------------------------ */

static void test_image_io_format_names(void **state)
{
    (void)state;
    assert_int_equal(cld_format_from_name("png"), CLD_FMT_PNG);
    assert_int_equal(cld_format_from_name("JPG"), CLD_FMT_JPEG);
    assert_int_equal(cld_format_from_name("jpeg"), CLD_FMT_JPEG);
    assert_int_equal(cld_format_from_name("ppm"), CLD_FMT_PPM);
    assert_int_equal(cld_format_from_name("pgm"), CLD_FMT_PGM);
    assert_int_equal(cld_format_from_name("auto"), CLD_FMT_AUTO);
    assert_int_equal(cld_format_from_name("gif"), CLD_FMT_UNKNOWN);
    assert_int_equal(cld_format_from_name(NULL), CLD_FMT_UNKNOWN);
    assert_int_equal(cld_format_from_path("a/b.c/x.PNG"), CLD_FMT_PNG);
    assert_int_equal(cld_format_from_path("x.jpeg"), CLD_FMT_JPEG);
    assert_int_equal(cld_format_from_path("x.pnm"), CLD_FMT_PPM);
    assert_int_equal(cld_format_from_path("a.png/x"), CLD_FMT_UNKNOWN);
    assert_int_equal(cld_format_from_path("x.auto"), CLD_FMT_UNKNOWN);
    assert_int_equal(cld_format_from_path("noext"), CLD_FMT_UNKNOWN);
    assert_string_equal(cld_format_ext(CLD_FMT_PNG), "png");
    assert_string_equal(cld_format_ext(CLD_FMT_JPEG), "jpg");
    assert_string_equal(cld_format_ext(CLD_FMT_PPM), "ppm");
    assert_string_equal(cld_format_ext(CLD_FMT_PGM), "pgm");
    assert_null(cld_format_ext(CLD_FMT_AUTO));
    assert_null(cld_format_ext(CLD_FMT_UNKNOWN));
}

/* ---- real images -------------------------------------------------------- */

static void test_image_io_loads_good_images(void **state)
{
    static const struct {
        const char *name;
        uint32_t w, h, ch;
    } good[] = {
        {"camera.png", 512, 512, 1},
        {"astronaut.png", 512, 512, 3},
        {"chelsea.png", 451, 300, 3},
        {"clock_motion.png", 400, 300, 1},
        {"rocket.jpg", 640, 427, 3},
        {"hubble_deep_field.jpg", 1000, 872, 3},
        {"mate_storm.jpg", 1920, 1280, 3},
        {"kde_grey_2560x1600.jpg", 2560, 1600, 1},
        {"dragonfly_by_bolly.jpg", 4224, 3168, 3},
        {"astronaut.ppm", 512, 512, 3},
        {"camera.pgm", 512, 512, 1},
    };

    (void)state;
    need_images();
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct cld_image img;
        size_t n;
        uint8_t lo = 255, hi = 0;

        if (cld_image_load(cld_test_image(good[i].name), NULL, &img) !=
            CLD_OK)
            fail_msg("%s: %s", good[i].name, cld_error_detail());
        assert_int_equal(img.width, good[i].w);
        assert_int_equal(img.height, good[i].h);
        assert_int_equal(img.channels, good[i].ch);
        assert_non_null(img.data);
        /* Real photographs: the pixels must vary, in the last row too
         * (a half-decoded JPEG ends in flat grey). */
        n = (size_t)img.width * img.channels;
        for (size_t k = 0; k < n; k++) {
            uint8_t v = img.data[(size_t)(img.height - 1) * n + k];

            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        assert_true(hi > lo);
        cld_image_free(&img);
    }
}

static void test_image_io_png_matches_netpbm(void **state)
{
    struct cld_image a, b;

    (void)state;
    need_images();
    assert_int_equal(cld_image_load(cld_test_image("astronaut.png"), NULL, &a),
                     CLD_OK);
    assert_int_equal(cld_image_load(cld_test_image("astronaut.ppm"), NULL, &b),
                     CLD_OK);
    cld_test_assert_same_image(&a, &b);
    cld_image_free(&a);
    cld_image_free(&b);
    assert_int_equal(cld_image_load(cld_test_image("camera.png"), NULL, &a),
                     CLD_OK);
    assert_int_equal(cld_image_load(cld_test_image("camera.pgm"), NULL, &b),
                     CLD_OK);
    cld_test_assert_same_image(&a, &b);
    cld_image_free(&a);
    cld_image_free(&b);
}

static void test_image_io_bad_files(void **state)
{
    static const struct {
        const char *name;
        enum cld_status st;
        const char *part;
    } bad[] = {
        {"bad/truncated_camera.png", CLD_ERR_FORMAT, "truncated PNG"},
        {"bad/truncated_rocket.jpg", CLD_ERR_FORMAT, "truncated JPEG"},
        {"bad/huge_dims_100000x100000.ppm", CLD_ERR_TOO_LARGE,
         "100000x100000 exceed the 512 megapixel limit"},
        {"bad/empty.png", CLD_ERR_FORMAT, "empty file"},
        {"bad/text_not_image.png", CLD_ERR_FORMAT, "unknown signature"},
    };
    struct cld_path_list all;
    char root[4096];

    (void)state;
    need_images();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_load_fails(cld_test_image(bad[i].name), bad[i].st,
                          bad[i].part);
    /* Whatever else lands in bad/ must fail too. */
    snprintf(root, sizeof root, "%s/bad", cld_test_images_dir());
    assert_int_equal(cld_walk_images(root, &all), CLD_OK);
    assert_true(all.count >= 5);
    for (size_t i = 0; i < all.count; i++) {
        char p[8192];
        struct cld_image img;

        snprintf(p, sizeof p, "%s/%s", root, all.paths[i]);
        cld_error_clear();
        assert_int_not_equal(cld_image_load(p, NULL, &img), CLD_OK);
        assert_null(img.data);
        assert_true(strlen(cld_error_detail()) > 0);
    }
    cld_path_list_free(&all);
}

static void test_image_io_missing_and_folder(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image img;

    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "nope.png"), NULL, &img),
                     CLD_ERR_NOT_FOUND);
    assert_non_null(strstr(cld_error_detail(), "nope.png: "));
    assert_int_equal(cld_image_load(t->dir, NULL, &img), CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "folder"));
    assert_int_equal(cld_image_load(NULL, NULL, &img), CLD_ERR_INVALID);
    assert_int_equal(cld_image_load("x", NULL, NULL), CLD_ERR_INVALID);
}

/* ---- PPM / PGM headers -------------------------------------------------- */

static void test_image_io_netpbm_header_lies(void **state)
{
    struct cld_test_tmp *t = *state;
    static const char short_px[] = "P6\n4 4\n255\n0123456789";
    static const char maxval0[] = "P5\n2 2\n0\n\1\1\1\1";
    static const char maxval16[] = "P5\n1 1\n65535\n\0\0";
    static const char maxval_big[] = "P5\n1 1\n70000\n\0\0";
    static const char overflow[] = "P6\n99999999999999999999 1\n255\n000";
    static const char zero_w[] = "P5\n0 5\n255\n";
    static const char not_digit[] = "P5\n-3 5\n255\n12345";
    static const char no_space[] = "P5\n12a 3\n255\n";
    static const char after_max[] = "P5\n1 1\n255X\1";
    static const char no_pixels[] = "P5\n1 1\n255";
    static const char over_max[] = "P5 1 1 15\n\xc8";
    static const char side[] = "P5\n40000 2\n255\n";
    static const char plain[] = "P3\n1 1\n255\n1 2 3\n";

    expect_load_fails_bytes(t, "short.ppm", short_px, sizeof short_px - 1,
                            CLD_ERR_FORMAT, "truncated PPM data");
    expect_load_fails_bytes(t, "m0.pgm", maxval0, sizeof maxval0 - 1,
                            CLD_ERR_FORMAT, "maxval 0");
    expect_load_fails_bytes(t, "m16.pgm", maxval16, sizeof maxval16 - 1,
                            CLD_ERR_FORMAT, "16-bit netpbm not supported");
    expect_load_fails_bytes(t, "mbig.pgm", maxval_big, sizeof maxval_big - 1,
                            CLD_ERR_FORMAT, "maxval 70000");
    expect_load_fails_bytes(t, "ovf.ppm", overflow, sizeof overflow - 1,
                            CLD_ERR_FORMAT, "width does not fit");
    expect_load_fails_bytes(t, "zero.pgm", zero_w, sizeof zero_w - 1,
                            CLD_ERR_FORMAT, "zero dimension");
    expect_load_fails_bytes(t, "neg.pgm", not_digit, sizeof not_digit - 1,
                            CLD_ERR_FORMAT, "width is not a number");
    expect_load_fails_bytes(t, "nospace.pgm", no_space, sizeof no_space - 1,
                            CLD_ERR_FORMAT, "no space before height");
    expect_load_fails_bytes(t, "after.pgm", after_max, sizeof after_max - 1,
                            CLD_ERR_FORMAT, "no whitespace after maxval");
    expect_load_fails_bytes(t, "nopx.pgm", no_pixels, sizeof no_pixels - 1,
                            CLD_ERR_FORMAT, "truncated PGM");
    expect_load_fails_bytes(t, "over.pgm", over_max, sizeof over_max - 1,
                            CLD_ERR_FORMAT, "exceeds maxval 15");
    expect_load_fails_bytes(t, "side.pgm", side, sizeof side - 1,
                            CLD_ERR_TOO_LARGE, "32768 pixel side limit");
    expect_load_fails_bytes(t, "plain.ppm", plain, sizeof plain - 1,
                            CLD_ERR_FORMAT, "P3");
}

static void test_image_io_netpbm_comments_and_maxval(void **state)
{
    struct cld_test_tmp *t = *state;
    static const char commented[] =
        "P6 # magic\n# whole-line comment\n2\t1 # size\n255\n"
        "\x01\x02\x03\xfd\xfe\xff";
    static const char scaled[] = "P5\n2 2\n15\n\x00\x0f\x07\x08";
    static const uint8_t expect_scaled[4] = {0, 255, 119, 136};
    struct cld_image img;

    cld_test_write_file(cld_test_tmp_path(t, "c.ppm"), commented, sizeof commented - 1);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "c.ppm"), NULL, &img), CLD_OK);
    assert_int_equal(img.width, 2);
    assert_int_equal(img.height, 1);
    assert_int_equal(img.channels, 3);
    assert_memory_equal(img.data, "\x01\x02\x03\xfd\xfe\xff", 6);
    cld_image_free(&img);

    /* Content decides: a PGM named .png still loads as PGM. */
    cld_test_write_file(cld_test_tmp_path(t, "s.png"), scaled, sizeof scaled - 1);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "s.png"), NULL, &img), CLD_OK);
    assert_int_equal(img.channels, 1);
    assert_memory_equal(img.data, expect_scaled, 4);
    cld_image_free(&img);
}

/* ---- PNG and JPEG lies -------------------------------------------------- */

static void test_image_io_png_lies(void **state)
{
    struct cld_test_tmp *t = *state;
    uint8_t buf[256];
    uint8_t *cam;
    size_t n;

    /* A huge IHDR is refused before anything is allocated. */
    n = make_lying_png(buf, 40000, 40000);
    expect_load_fails_bytes(t, "huge.png", buf, n, CLD_ERR_TOO_LARGE,
                            "40000x40000 exceed the 512 megapixel limit");
    /* Within the limits but impossible for an 80-byte file. */
    n = make_lying_png(buf, 20000, 20000);
    expect_load_fails_bytes(t, "lying.png", buf, n, CLD_ERR_FORMAT,
                            "truncated PNG data");
    /* Zero width is a corrupt header (libpng's own check). */
    n = make_lying_png(buf, 0, 10);
    expect_load_fails_bytes(t, "zero.png", buf, n, CLD_ERR_FORMAT,
                            "corrupt PNG");
    /* Text with a .jpg name, and a PNG signature cut short. */
    expect_load_fails_bytes(t, "text.jpg", "hello, world\n", 13,
                            CLD_ERR_FORMAT, "not an image");
    expect_load_fails_bytes(t, "sig.png", "\x89PNG", 4, CLD_ERR_FORMAT,
                            "truncated PNG");

    need_images();
    cam = cld_test_read_file(cld_test_image("camera.png"), &n);
    /* IHDR's CRC is bytes 29..32. */
    cam[30] ^= 0x55;
    expect_load_fails_bytes(t, "crc.png", cam, n, CLD_ERR_FORMAT, "CRC");
    cam[30] ^= 0x55;
    /* Cut just before IEND: pixels complete, file still truncated. */
    expect_load_fails_bytes(t, "noend.png", cam, n - 12, CLD_ERR_FORMAT,
                            "truncated PNG");
    free(cam);
}

static void test_image_io_limits(void **state)
{
    struct cld_image_limits side = {100, 0};
    struct cld_image_limits pixels = {0, 1000};
    struct cld_image_limits roomy = {512, 512 * 512};
    struct cld_image img;

    (void)state;
    need_images();
    assert_int_equal(cld_image_load(cld_test_image("camera.png"), &side,
                                    &img), CLD_ERR_TOO_LARGE);
    assert_non_null(strstr(cld_error_detail(),
                           "512x512 exceed the 100 pixel side limit"));
    assert_int_equal(cld_image_load(cld_test_image("rocket.jpg"), &pixels,
                                    &img), CLD_ERR_TOO_LARGE);
    assert_non_null(strstr(cld_error_detail(), "1000 pixel limit"));
    assert_int_equal(cld_image_load(cld_test_image("camera.pgm"), &side,
                                    &img), CLD_ERR_TOO_LARGE);
    assert_int_equal(cld_image_load(cld_test_image("camera.png"), &roomy,
                                    &img), CLD_OK);
    cld_image_free(&img);
}

static void test_image_io_jpeg_truncated(void **state)
{
    struct cld_test_tmp *t = *state;
    uint8_t *jpg;
    size_t n;

    need_images();
    jpg = cld_test_read_file(cld_test_image("rocket.jpg"), &n);
    {
        const size_t cuts[] = {2, 3, 20, 200, 600, 5000, n / 2, n - 100,
                               n - 2, n - 1};

        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            char name[64];

            snprintf(name, sizeof name, "cut%zu.jpg", cuts[i]);
            expect_load_fails_bytes(t, name, jpg, cuts[i], CLD_ERR_FORMAT,
                                    NULL);
        }
    }
    free(jpg);
    /* Progressive: libjpeg buffers all scans first, then must fail too. */
    jpg = cld_test_read_file(cld_test_image("dragonfly_by_bolly.jpg"), &n);
    expect_load_fails_bytes(t, "prog.jpg", jpg, n / 3, CLD_ERR_FORMAT,
                            "truncated JPEG data");
    free(jpg);
}

/* Offset of the first SOF0/SOF2 marker's height field, or 0. */
static size_t jpeg_sof_dims(const uint8_t *jpg, size_t n)
{
    for (size_t i = 2; i + 9 < n; i++)
        if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc2))
            return i + 5;
    return 0;
}

static void test_image_io_jpeg_header_lies(void **state)
{
    struct cld_test_tmp *t = *state;
    uint8_t *jpg;
    size_t n, at;

    need_images();
    jpg = cld_test_read_file(cld_test_image("rocket.jpg"), &n);
    at = jpeg_sof_dims(jpg, n);
    assert_true(at > 0);
    assert_int_equal(jpg[at] << 8 | jpg[at + 1], 427);
    assert_int_equal(jpg[at + 2] << 8 | jpg[at + 3], 640);
    /* 20000x20000 passes the limits but needs 6.25 M blocks of at least
     * one bit each: more than a 112 kB file holds. */
    jpg[at] = jpg[at + 2] = 20000 >> 8;
    jpg[at + 1] = jpg[at + 3] = 20000 & 0xff;
    expect_load_fails_bytes(t, "lie.jpg", jpg, n, CLD_ERR_FORMAT,
                            "cannot fit in a 112525-byte file");
    jpg[at] = jpg[at + 2] = 40000 >> 8;
    jpg[at + 1] = jpg[at + 3] = 40000 & 0xff;
    expect_load_fails_bytes(t, "huge.jpg", jpg, n, CLD_ERR_TOO_LARGE,
                            "40000x40000 exceed");
    free(jpg);
}

static void test_image_io_jpeg_cmyk_refused(void **state)
{
    struct cld_test_tmp *t = *state;

    write_cmyk_jpeg(cld_test_tmp_path(t, "cmyk.jpg"), 16, 8);
    expect_load_fails(cld_test_tmp_path(t, "cmyk.jpg"), CLD_ERR_FORMAT, "CMYK");
}

/* ---- round trips -------------------------------------------------------- */

static void test_image_io_png_roundtrip_channels(void **state)
{
    struct cld_test_tmp *t = *state;

    for (uint32_t ch = 1; ch <= 4; ch++) {
        struct cld_image a, b;
        struct cld_save_opts o = {.fmt = CLD_FMT_AUTO};
        char name[32];

        snprintf(name, sizeof name, "rt%u.png", ch);
        make_image(&a, 37, 23, ch, ch);
        assert_int_equal(cld_image_save(cld_test_tmp_path(t, name), &a, &o), CLD_OK);
        assert_int_equal(cld_image_load(cld_test_tmp_path(t, name), NULL, &b), CLD_OK);
        cld_test_assert_same_image(&a, &b);
        cld_image_free(&a);
        cld_image_free(&b);
    }
    /* An explicit format wins over the name. */
    {
        struct cld_image a, b;
        struct cld_save_opts o = {.fmt = CLD_FMT_PNG};

        make_image(&a, 5, 4, 3, 9);
        assert_int_equal(cld_image_save(cld_test_tmp_path(t, "really_png.jpg"), &a, &o),
                         CLD_OK);
        assert_int_equal(cld_image_load(cld_test_tmp_path(t, "really_png.jpg"), NULL,
                                        &b), CLD_OK);
        cld_test_assert_same_image(&a, &b);
        cld_image_free(&a);
        cld_image_free(&b);
    }
}

static void test_image_io_netpbm_roundtrip(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image a, b;
    struct cld_save_opts o = {.fmt = CLD_FMT_AUTO};

    make_image(&a, 31, 17, 3, 1);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "a.ppm"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "a.ppm"), NULL, &b), CLD_OK);
    cld_test_assert_same_image(&a, &b);
    cld_image_free(&a);
    cld_image_free(&b);

    make_image(&a, 31, 17, 1, 2);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "a.pgm"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "a.pgm"), NULL, &b), CLD_OK);
    cld_test_assert_same_image(&a, &b);
    cld_image_free(&a);
    cld_image_free(&b);
}

static void test_image_io_save_converts_channels(void **state)
{
    struct cld_test_tmp *t = *state;
    static const uint8_t rgba[8] = {255, 0, 0, 7, 10, 20, 30, 9};
    static const uint8_t ga[4] = {40, 1, 200, 2};
    struct cld_image a, b;
    struct cld_save_opts o = {.fmt = CLD_FMT_AUTO};
    size_t n;
    uint8_t *raw;

    /* RGBA -> PGM: BT.601 luma, rounded. */
    assert_int_equal(cld_image_alloc(&a, 2, 1, 4), CLD_OK);
    memcpy(a.data, rgba, sizeof rgba);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "l.pgm"), &a, &o), CLD_OK);
    raw = cld_test_read_file(cld_test_tmp_path(t, "l.pgm"), &n);
    assert_int_equal(n, 11 + 2);
    assert_memory_equal(raw, "P5\n2 1\n255\n", 11);
    assert_int_equal(raw[11], 76); /* (299 * 255 + 500) / 1000 */
    assert_int_equal(raw[12], 18); /* (2990 + 11740 + 3420 + 500) / 1000 */
    free(raw);
    /* RGBA -> PPM drops alpha. */
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "l.ppm"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "l.ppm"), NULL, &b), CLD_OK);
    assert_int_equal(b.channels, 3);
    assert_memory_equal(b.data, "\xff\x00\x00\x0a\x14\x1e", 6);
    cld_image_free(&b);
    cld_image_free(&a);

    /* Grey+alpha -> PPM replicates grey; .pnm picks PGM for grey. */
    assert_int_equal(cld_image_alloc(&a, 2, 1, 2), CLD_OK);
    memcpy(a.data, ga, sizeof ga);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "g.ppm"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "g.ppm"), NULL, &b), CLD_OK);
    assert_int_equal(b.channels, 3);
    assert_memory_equal(b.data, "\x28\x28\x28\xc8\xc8\xc8", 6);
    cld_image_free(&b);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "g.pnm"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "g.pnm"), NULL, &b), CLD_OK);
    assert_int_equal(b.channels, 1);
    assert_memory_equal(b.data, "\x28\xc8", 2);
    cld_image_free(&b);
    /* Grey+alpha -> JPEG gives a one-channel JPEG. */
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "g.jpg"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "g.jpg"), NULL, &b), CLD_OK);
    assert_int_equal(b.channels, 1);
    cld_image_free(&b);
    cld_image_free(&a);
}

static void test_image_io_jpeg_roundtrip_psnr(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_save_opts o = {.fmt = CLD_FMT_AUTO, .quality = 90};
    struct cld_save_opts low = {.fmt = CLD_FMT_JPEG, .quality = 10};
    struct cld_image a, b, c;
    int maxdiff;
    double psnr, psnr_low;

    need_images();
    assert_int_equal(cld_image_load(cld_test_image("astronaut.png"), NULL,
                                    &a), CLD_OK);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "a.jpg"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "a.jpg"), NULL, &b), CLD_OK);
    assert_true(cld_test_image_diff(&a, &b, &maxdiff, &psnr));
    if (psnr <= 30.0)
        fail_msg("JPEG q90 PSNR %.2f dB", psnr);
    /* Quality is honoured: q10 is clearly worse. */
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "low.jpeg.out"), &a, &low),
                     CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "low.jpeg.out"), NULL, &c),
                     CLD_OK);
    assert_true(cld_test_image_diff(&a, &c, &maxdiff, &psnr_low));
    assert_true(psnr_low < psnr - 3.0);
    cld_image_free(&a);
    cld_image_free(&b);
    cld_image_free(&c);

    assert_int_equal(cld_image_load(cld_test_image("camera.png"), NULL, &a),
                     CLD_OK);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "c.jpg"), &a, &o), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "c.jpg"), NULL, &b), CLD_OK);
    assert_int_equal(b.channels, 1);
    assert_true(cld_test_image_diff(&a, &b, &maxdiff, &psnr));
    if (psnr <= 30.0)
        fail_msg("grey JPEG q90 PSNR %.2f dB", psnr);
    cld_image_free(&a);
    cld_image_free(&b);
}

static void test_image_io_png16_scaled(void **state)
{
    struct cld_test_tmp *t = *state;
    enum { W = 64, H = 3 };
    struct png_spec s = {W, H, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                         NULL, 0, NULL, 0, NULL};
    uint8_t *rows[H];
    uint16_t vals[W * H * 3];
    struct cld_image img;

    for (int y = 0; y < H; y++) {
        rows[y] = malloc(W * 6);
        assert_non_null(rows[y]);
        for (int i = 0; i < W * 3; i++) {
            /* Cover the ends and values near the rounding boundaries. */
            uint32_t k = (uint32_t)(y * W * 3 + i);
            uint16_t v = k == 0 ? 0 : k == 1 ? 65535 :
                         (uint16_t)(k * 257u * 7u + (k & 1 ? 128u : 127u));

            vals[k] = v;
            rows[y][2 * i] = (uint8_t)(v >> 8);
            rows[y][2 * i + 1] = (uint8_t)v;
        }
    }
    write_png_spec(cld_test_tmp_path(t, "16.png"), &s, rows);
    for (int y = 0; y < H; y++)
        free(rows[y]);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "16.png"), NULL, &img), CLD_OK);
    assert_int_equal(img.channels, 3);
    for (int k = 0; k < W * H * 3; k++) {
        uint32_t want = ((uint32_t)vals[k] * 255u + 32767u) / 65535u;

        if (img.data[k] != want)
            fail_msg("sample %d: %u -> %u, want %u", k, vals[k],
                     img.data[k], want);
    }
    cld_image_free(&img);
}

static void test_image_io_png_palette_and_low_depth(void **state)
{
    struct cld_test_tmp *t = *state;
    static const png_color pal[4] = {
        {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 8, 7}};
    static const uint8_t alpha[2] = {255, 128};
    png_color_16 grey0 = {0, 0, 0, 0, 0};
    uint8_t row_pal[1] = {0x1b}; /* 2-bit indices 0,1,2,3 */
    uint8_t row_bits[1] = {0xa0}; /* 1-bit 1,0,1,0 */
    uint8_t row_grey[4] = {0, 10, 0, 250};
    uint8_t *rp = row_pal, *rb = row_bits, *rg = row_grey;
    struct png_spec s;
    struct cld_image img;

    /* Palette without tRNS -> RGB. */
    s = (struct png_spec){4, 1, 2, PNG_COLOR_TYPE_PALETTE,
                          PNG_INTERLACE_NONE, pal, 4, NULL, 0, NULL};
    write_png_spec(cld_test_tmp_path(t, "p.png"), &s, &rp);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "p.png"), NULL, &img), CLD_OK);
    assert_int_equal(img.channels, 3);
    assert_memory_equal(img.data, "\xff\0\0\0\xff\0\0\0\xff\x09\x08\x07",
                        12);
    cld_image_free(&img);

    /* Palette with tRNS -> RGBA. */
    s.trans = alpha;
    s.ntrans = 2;
    write_png_spec(cld_test_tmp_path(t, "pa.png"), &s, &rp);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "pa.png"), NULL, &img), CLD_OK);
    assert_int_equal(img.channels, 4);
    assert_memory_equal(img.data,
                        "\xff\0\0\xff\0\xff\0\x80\0\0\xff\xff\x09\x08\x07\xff",
                        16);
    cld_image_free(&img);

    /* 1-bit grey expands to 0/255. */
    s = (struct png_spec){4, 1, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                          NULL, 0, NULL, 0, NULL};
    write_png_spec(cld_test_tmp_path(t, "b.png"), &s, &rb);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "b.png"), NULL, &img), CLD_OK);
    assert_int_equal(img.channels, 1);
    assert_memory_equal(img.data, "\xff\0\xff\0", 4);
    cld_image_free(&img);

    /* Grey with a transparent grey value -> grey+alpha. */
    s = (struct png_spec){4, 1, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                          NULL, 0, NULL, 0, &grey0};
    write_png_spec(cld_test_tmp_path(t, "g.png"), &s, &rg);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "g.png"), NULL, &img), CLD_OK);
    assert_int_equal(img.channels, 2);
    assert_memory_equal(img.data, "\0\0\x0a\xff\0\0\xfa\xff", 8);
    cld_image_free(&img);
}

static void test_image_io_png_interlaced(void **state)
{
    struct cld_test_tmp *t = *state;
    enum { W = 19, H = 13 };
    struct png_spec s = {W, H, 8, PNG_COLOR_TYPE_RGB_ALPHA,
                         PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, NULL};
    struct cld_image a, b;
    uint8_t *rows[H];

    make_image(&a, W, H, 4, 77);
    for (int y = 0; y < H; y++)
        rows[y] = a.data + (size_t)y * W * 4;
    write_png_spec(cld_test_tmp_path(t, "i.png"), &s, rows);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "i.png"), NULL, &b), CLD_OK);
    cld_test_assert_same_image(&a, &b);
    cld_image_free(&a);
    cld_image_free(&b);
}

static void test_image_io_save_bad_args(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_save_opts q = {.fmt = CLD_FMT_JPEG, .quality = 101};
    struct cld_image a, empty = {0, 0, 0, NULL};

    make_image(&a, 4, 4, 3, 3);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "x.jpg"), &a, &q),
                     CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "quality 101"));
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "x.gif"), &a, NULL),
                     CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "x.gif: "));
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "x.png"), &empty, NULL),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_test_count_entries(t->dir), 0);
    cld_image_free(&a);
}

/* ---- atomic output ------------------------------------------------------ */

static void test_fsutil_no_overwrite_keeps_old(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_save_opts keep = {.fmt = CLD_FMT_AUTO};
    struct cld_save_opts replace = {.fmt = CLD_FMT_AUTO, .overwrite = true};
    struct cld_image a, b;
    uint8_t *raw;
    size_t n;

    make_image(&a, 8, 8, 3, 5);
    cld_test_write_file(cld_test_tmp_path(t, "out.png"), "old contents", 12);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "out.png"), &a, &keep),
                     CLD_ERR_EXISTS);
    assert_non_null(strstr(cld_error_detail(), cld_test_tmp_path(t, "out.png")));
    raw = cld_test_read_file(cld_test_tmp_path(t, "out.png"), &n);
    assert_int_equal(n, 12);
    assert_memory_equal(raw, "old contents", 12);
    free(raw);
    assert_int_equal(cld_test_count_entries(t->dir), 1);

    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "out.png"), &a, &replace),
                     CLD_OK);
    assert_int_equal(cld_image_load(cld_test_tmp_path(t, "out.png"), NULL, &b), CLD_OK);
    cld_test_assert_same_image(&a, &b);
    assert_int_equal(cld_test_count_entries(t->dir), 1);
    cld_image_free(&a);
    cld_image_free(&b);
}

static void test_fsutil_failed_save_leaves_nothing(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image a, wide;

    make_image(&a, 4, 4, 1, 8);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "missing/x.png"), &a, NULL),
                     CLD_ERR_NOT_FOUND);
    assert_non_null(strstr(cld_error_detail(), "missing/x.png: "));
    assert_int_equal(cld_test_count_entries(t->dir), 0);
    /* An encoder failure after the temporary file exists: libjpeg refuses
     * widths over 65500. */
    make_image(&wide, 70000, 1, 1, 1);
    assert_int_equal(cld_image_save(cld_test_tmp_path(t, "wide.jpg"), &wide, NULL),
                     CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "wide.jpg: "));
    assert_int_equal(cld_test_count_entries(t->dir), 0);
    cld_image_free(&a);
    cld_image_free(&wide);
}

static void test_fsutil_atomic_abort_and_commit(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_atomic_file af;
    uint8_t *raw;
    size_t n;

    assert_int_equal(cld_atomic_open(cld_test_tmp_path(t, "f.txt"), false, &af), CLD_OK);
    assert_non_null(af.fp);
    assert_int_equal(cld_test_count_entries(t->dir), 1);
    assert_non_null(strstr(af.tmp_path, "/.f.txt."));
    fputs("partial", af.fp);
    cld_atomic_abort(&af);
    assert_null(af.fp);
    cld_atomic_abort(&af); /* twice is harmless */
    assert_int_equal(cld_test_count_entries(t->dir), 0);

    assert_int_equal(cld_atomic_open(cld_test_tmp_path(t, "f.txt"), false, &af), CLD_OK);
    fputs("done", af.fp);
    assert_int_equal(cld_atomic_commit(&af), CLD_OK);
    cld_atomic_abort(&af); /* after commit: no-op */
    raw = cld_test_read_file(cld_test_tmp_path(t, "f.txt"), &n);
    assert_int_equal(n, 4);
    assert_memory_equal(raw, "done", 4);
    free(raw);
    assert_int_equal(cld_test_count_entries(t->dir), 1);

    /* Opening over an existing file without overwrite fails early. */
    assert_int_equal(cld_atomic_open(cld_test_tmp_path(t, "f.txt"), false, &af),
                     CLD_ERR_EXISTS);
    assert_null(af.fp);
    assert_int_equal(cld_atomic_commit(&af), CLD_ERR_INVALID);
}

static void test_fsutil_commit_never_clobbers(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_atomic_file af;
    uint8_t *raw;
    size_t n;

    /* Someone else creates the file between open and commit. */
    assert_int_equal(cld_atomic_open(cld_test_tmp_path(t, "race"), false, &af), CLD_OK);
    fputs("mine", af.fp);
    cld_test_write_file(cld_test_tmp_path(t, "race"), "theirs", 6);
    assert_int_equal(cld_atomic_commit(&af), CLD_ERR_EXISTS);
    assert_non_null(strstr(cld_error_detail(), "race: "));
    raw = cld_test_read_file(cld_test_tmp_path(t, "race"), &n);
    assert_int_equal(n, 6);
    assert_memory_equal(raw, "theirs", 6);
    free(raw);
    assert_int_equal(cld_test_count_entries(t->dir), 1);

    /* With overwrite the commit replaces it. */
    assert_int_equal(cld_atomic_open(cld_test_tmp_path(t, "race"), true, &af), CLD_OK);
    fputs("mine", af.fp);
    assert_int_equal(cld_atomic_commit(&af), CLD_OK);
    raw = cld_test_read_file(cld_test_tmp_path(t, "race"), &n);
    assert_int_equal(n, 4);
    assert_memory_equal(raw, "mine", 4);
    free(raw);
    assert_int_equal(cld_test_count_entries(t->dir), 1);
}

static void test_fsutil_mkdir_p(void **state)
{
    struct cld_test_tmp *t = *state;
    struct stat sb;

    assert_int_equal(cld_mkdir_p(cld_test_tmp_path(t, "a/b//c/")), CLD_OK);
    assert_int_equal(stat(cld_test_tmp_path(t, "a/b/c"), &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(cld_mkdir_p(cld_test_tmp_path(t, "a/b/c")), CLD_OK);
    cld_test_write_file(cld_test_tmp_path(t, "file"), "x", 1);
    assert_int_equal(cld_mkdir_p(cld_test_tmp_path(t, "file/sub")), CLD_ERR_IO);
    assert_non_null(strstr(cld_error_detail(), "not a folder"));
    assert_int_equal(cld_mkdir_p(""), CLD_ERR_INVALID);
}

/* ---- walker ------------------------------------------------------------- */

static void test_fsutil_walk_images(void **state)
{
    static const char *const want[] = {
        "B.PPM", "a.png", "b/c.JPG", "b/d/e.jpeg", "b/d/f.pgm", "b/z.pnm",
        "link/e.jpeg", "link/f.pgm", "z.png",
    };
    struct cld_test_tmp *t = *state;
    struct cld_path_list list;

    assert_int_equal(cld_mkdir_p(cld_test_tmp_path(t, "b/d")), CLD_OK);
    assert_int_equal(cld_mkdir_p(cld_test_tmp_path(t, ".hidden")), CLD_OK);
    cld_test_write_file(cld_test_tmp_path(t, "z.png"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "a.png"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "B.PPM"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "notes.txt"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "png"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, ".secret.png"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, ".hidden/h.png"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "b/c.JPG"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "b/z.pnm"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "b/d/e.jpeg"), "x", 1);
    cld_test_write_file(cld_test_tmp_path(t, "b/d/f.pgm"), "x", 1);
    assert_int_equal(cld_mkdir_p(cld_test_tmp_path(t, "b/d/dir.png")), CLD_OK);
    /* A loop back to the root, a link to a subfolder, a dangling link. */
    assert_int_equal(symlink("../..", cld_test_tmp_path(t, "b/d/up")), 0);
    assert_int_equal(symlink("b/d", cld_test_tmp_path(t, "link")), 0);
    assert_int_equal(symlink("nowhere.png", cld_test_tmp_path(t, "dangling.png")), 0);

    assert_int_equal(cld_walk_images(t->dir, &list), CLD_OK);
    assert_int_equal(list.count, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < list.count; i++)
        assert_string_equal(list.paths[i], want[i]);
    cld_path_list_free(&list);
    assert_null(list.paths);
    assert_int_equal(list.count, 0);

    assert_int_equal(cld_walk_images(cld_test_tmp_path(t, "nope"), &list),
                     CLD_ERR_NOT_FOUND);
    assert_int_equal(list.count, 0);
    assert_int_equal(cld_walk_images(cld_test_tmp_path(t, "a.png"), &list),
                     CLD_ERR_INVALID);
    assert_true(cld_path_has_image_ext("x/y.JpEg"));
    assert_false(cld_path_has_image_ext("x.png/y"));
    assert_false(cld_path_has_image_ext("png"));
}

/* What libpng and libjpeg say about a file that still loads is kept for
 * the caller's own warning line (the codecs print nothing themselves), and
 * the pixels are those of the clean file. */
static void test_image_io_codec_warnings(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_image clean, warned;
    const char *path, *w;
    uint8_t *buf;
    size_t n, i;

    /* Clean files, including an iCCP profile libpng calls incorrect: no
     * warning (cldispatch applies no ICC profile, so the check is off). */
    assert_int_equal(cld_image_load(cld_test_image("astronaut.png"), NULL,
                                    &clean), CLD_OK);
    assert_null(cld_image_warning());
    cld_image_free(&clean);

    /* chelsea.png with its iTXt chunk's CRC broken: libpng warns and
     * drops the (ancillary) chunk; the pixels are unchanged. */
    buf = cld_test_read_file(cld_test_image("chelsea.png"), &n);
    for (i = 12; i + 4 <= n && memcmp(buf + i, "iTXt", 4) != 0; i++)
        ;
    assert_true(i + 4 <= n);
    {
        uint32_t len = (uint32_t)buf[i - 4] << 24 | buf[i - 3] << 16 |
                       buf[i - 2] << 8 | buf[i - 1];

        assert_true(i + 8 + len <= n);
        buf[i + 4 + len] ^= 0x5a;
    }
    path = cld_test_tmp_path(t, "itxt_crc.png");
    cld_test_write_file(path, buf, n);
    free(buf);
    assert_int_equal(cld_image_load(cld_test_image("chelsea.png"), NULL,
                                    &clean), CLD_OK);
    assert_int_equal(cld_image_load(path, NULL, &warned), CLD_OK);
    w = cld_image_warning();
    assert_non_null(w);
    assert_non_null(strstr(w, "libpng: "));
    assert_non_null(strstr(w, "CRC"));
    cld_test_assert_same_image(&clean, &warned);
    cld_image_free(&clean);
    cld_image_free(&warned);

    /* rocket.jpg with three stray bytes before its scan: libjpeg's
     * "Corrupt JPEG data: 3 extraneous bytes" warning, same pixels. */
    path = cld_test_tmp_path(t, "extraneous.jpg");
    cld_test_write_jpeg_with_stray_bytes("rocket.jpg", 3, path);
    assert_int_equal(cld_image_load(cld_test_image("rocket.jpg"), NULL,
                                    &clean), CLD_OK);
    assert_null(cld_image_warning());
    assert_int_equal(cld_image_load(path, NULL, &warned), CLD_OK);
    w = cld_image_warning();
    assert_non_null(w);
    assert_string_equal(w, "libjpeg: Corrupt JPEG data: 3 extraneous bytes "
                           "before marker 0xda");
    cld_test_assert_same_image(&clean, &warned);
    /* The next load starts clean. */
    cld_image_free(&warned);
    assert_int_equal(cld_image_load(cld_test_image("camera.png"), NULL,
                                    &warned), CLD_OK);
    assert_null(cld_image_warning());
    cld_image_free(&clean);
    cld_image_free(&warned);
}

/* In a child: two outputs open (one flushed, one never flushed), one
 * committed, one aborted; then sig. Exits 0 if sig did not end it, 3 on
 * a setup failure. */
static void child_signalled(const char *dir, int sig)
{
    struct cld_atomic_file a, b, c, d;
    char p[4][4200];

    for (int i = 0; i < 4; i++)
        snprintf(p[i], sizeof p[i], "%s/out%d.txt", dir, i);
    cld_atomic_remove_on_signals();
    if (cld_atomic_open(p[0], false, &a) != CLD_OK ||
        cld_atomic_open(p[1], false, &b) != CLD_OK ||
        cld_atomic_open(p[2], false, &c) != CLD_OK ||
        cld_atomic_open(p[3], false, &d) != CLD_OK)
        _exit(3);
    fputs("flushed", a.fp);
    fputs("buffered", b.fp);
    fputs("done", c.fp);
    cld_atomic_abort(&d);
    if (cld_atomic_flush(&a) != CLD_OK || cld_atomic_commit(&c) != CLD_OK)
        _exit(3);
    raise(sig);
    cld_atomic_abort(&a);
    cld_atomic_abort(&b);
    _exit(0);
}

/* SIGINT, SIGTERM and SIGHUP remove the temporary files still open and
 * end the process by that signal; committed files stay. A signal the
 * process ignored (nohup) stays ignored. */
static void test_fsutil_signal_removes_temporaries(void **state)
{
    struct cld_test_tmp *t = *state;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char dir[4200], done[4300];
        int wst;
        pid_t pid;

        snprintf(dir, sizeof dir, "%s/sig%zu", t->dir, i);
        assert_int_equal(cld_mkdir_p(dir), CLD_OK);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child_signalled(dir, sigs[i]);
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        assert_true(WIFSIGNALED(wst));
        assert_int_equal(WTERMSIG(wst), sigs[i]);
        /* Only the committed file is left. */
        assert_int_equal(cld_test_count_entries(dir), 1);
        snprintf(done, sizeof done, "%s/out2.txt", dir);
        assert_int_equal(access(done, F_OK), 0);
    }
    {
        char dir[4200];
        int wst;
        pid_t pid;

        snprintf(dir, sizeof dir, "%s/ignored", t->dir);
        assert_int_equal(cld_mkdir_p(dir), CLD_OK);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGHUP, SIG_IGN);
            child_signalled(dir, SIGHUP);
        }
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        /* Not ended by the signal. (Under valgrind its exit status is
         * valgrind's: the fork holds the test's blocks at _exit.) */
        assert_true(WIFEXITED(wst));
        assert_int_not_equal(WEXITSTATUS(wst), 3);
        /* It went on and aborted its files itself. */
        assert_int_equal(cld_test_count_entries(dir), 1);
    }
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, cld_test_tmp_setup, cld_test_tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TMP_TEST(test_image_io_format_names),
        TMP_TEST(test_image_io_loads_good_images),
        TMP_TEST(test_image_io_png_matches_netpbm),
        TMP_TEST(test_image_io_bad_files),
        TMP_TEST(test_image_io_missing_and_folder),
        TMP_TEST(test_image_io_netpbm_header_lies),
        TMP_TEST(test_image_io_netpbm_comments_and_maxval),
        TMP_TEST(test_image_io_png_lies),
        TMP_TEST(test_image_io_limits),
        TMP_TEST(test_image_io_jpeg_truncated),
        TMP_TEST(test_image_io_jpeg_header_lies),
        TMP_TEST(test_image_io_jpeg_cmyk_refused),
        TMP_TEST(test_image_io_png_roundtrip_channels),
        TMP_TEST(test_image_io_netpbm_roundtrip),
        TMP_TEST(test_image_io_save_converts_channels),
        TMP_TEST(test_image_io_jpeg_roundtrip_psnr),
        TMP_TEST(test_image_io_png16_scaled),
        TMP_TEST(test_image_io_png_palette_and_low_depth),
        TMP_TEST(test_image_io_png_interlaced),
        TMP_TEST(test_image_io_save_bad_args),
        TMP_TEST(test_image_io_codec_warnings),
        TMP_TEST(test_fsutil_no_overwrite_keeps_old),
        TMP_TEST(test_fsutil_failed_save_leaves_nothing),
        TMP_TEST(test_fsutil_atomic_abort_and_commit),
        TMP_TEST(test_fsutil_signal_removes_temporaries),
        TMP_TEST(test_fsutil_commit_never_clobbers),
        TMP_TEST(test_fsutil_mkdir_p),
        TMP_TEST(test_fsutil_walk_images),
    };

    return cmocka_run_group_tests_name("image_io", tests, NULL, NULL);
}
