/* Measurement only, not part of the build: PNG decode and encode speed of
 * libpng and libspng on the same images, and the output size of each
 * encoder setting. It informed the choice of codec and of the default
 * --png-compression; samples/bench/README.md gives the command.
 *
 *   cc -O2 -o /tmp/png_codecs samples/bench/png_codecs.c \
 *       $(pkg-config --cflags --libs libpng spng zlib)
 *   /tmp/png_codecs IMAGE.png...
 *
 * Each figure is the best of 5 runs (the machine is shared). */
#define _POSIX_C_SOURCE 200809L
#include <png.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define RUNS 5

struct img {
    unsigned w, h, ch;
    unsigned char *px;
};

struct mem {
    unsigned char *p;
    size_t n, cap;
};

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p;
    long len;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    p = malloc((size_t)len);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

struct rd {
    const unsigned char *p;
    size_t n, off;
};

static void png_mem_read(png_structp png, png_bytep out, size_t len)
{
    struct rd *r = png_get_io_ptr(png);

    if (r->n - r->off < len)
        png_error(png, "eof");
    memcpy(out, r->p + r->off, len);
    r->off += len;
}

static int decode_libpng(const unsigned char *buf, size_t n, struct img *im)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL,
                                             NULL, NULL);
    png_infop info = png_create_info_struct(png);
    struct rd r = {buf, n, 0};
    png_bytep *rows;

    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &r, png_mem_read);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_scale_16(png);
    png_read_update_info(png, info);
    im->w = png_get_image_width(png, info);
    im->h = png_get_image_height(png, info);
    im->ch = png_get_channels(png, info);
    im->px = malloc((size_t)im->w * im->h * im->ch);
    rows = malloc(im->h * sizeof *rows);
    for (unsigned y = 0; y < im->h; y++)
        rows[y] = im->px + (size_t)y * im->w * im->ch;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

static int decode_spng(const unsigned char *buf, size_t n, struct img *im)
{
    spng_ctx *ctx = spng_ctx_new(0);
    struct spng_ihdr ihdr;
    size_t out;
    int fmt, rc;

    spng_set_png_buffer(ctx, buf, n);
    if (spng_get_ihdr(ctx, &ihdr)) {
        spng_ctx_free(ctx);
        return -1;
    }
    im->w = ihdr.width;
    im->h = ihdr.height;
    if (ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE && ihdr.bit_depth == 8) {
        fmt = SPNG_FMT_G8;
        im->ch = 1;
    } else {
        fmt = SPNG_FMT_RGB8;
        im->ch = 3;
    }
    spng_decoded_image_size(ctx, fmt, &out);
    im->px = malloc(out);
    rc = spng_decode_image(ctx, im->px, out, fmt, 0);
    spng_ctx_free(ctx);
    return rc;
}

static void png_mem_write(png_structp png, png_bytep p, size_t len)
{
    struct mem *m = png_get_io_ptr(png);

    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, p, len);
    m->n += len;
}

static void png_mem_flush(png_structp png)
{
    (void)png;
}

static size_t encode_libpng(const struct img *im, int level, int strategy,
                            int filters)
{
    static const int ct[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GA,
                              PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
                                              NULL, NULL);
    png_infop info = png_create_info_struct(png);
    struct mem m = {0};
    size_t n;

    png_set_write_fn(png, &m, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, im->w, im->h, 8, ct[im->ch], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, level);
    png_set_compression_strategy(png, strategy);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, filters);
    png_write_info(png, info);
    for (unsigned y = 0; y < im->h; y++)
        png_write_row(png, im->px + (size_t)y * im->w * im->ch);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    n = m.n;
    free(m.p);
    return n;
}

static size_t encode_spng(const struct img *im, int level, int strategy,
                          int filters)
{
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    struct spng_ihdr ihdr = {0};
    size_t n = 0;
    void *p;
    int err;

    ihdr.width = im->w;
    ihdr.height = im->h;
    ihdr.bit_depth = 8;
    ihdr.color_type = im->ch == 1   ? SPNG_COLOR_TYPE_GRAYSCALE
                      : im->ch == 3 ? SPNG_COLOR_TYPE_TRUECOLOR
                                    : SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL, level);
    spng_set_option(ctx, SPNG_IMG_COMPRESSION_STRATEGY, strategy);
    spng_set_option(ctx, SPNG_FILTER_CHOICE, filters);
    spng_set_ihdr(ctx, &ihdr);
    spng_encode_image(ctx, im->px, (size_t)im->w * im->h * im->ch,
                      SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    p = spng_get_png_buffer(ctx, &n, &err);
    free(p);
    spng_ctx_free(ctx);
    return n;
}

static const struct setting {
    const char *name;
    int level, strategy, png_filters, spng_filters;
} settings[] = {
    {"L6 default adaptive (libpng default)", 6, Z_FILTERED,
     PNG_ALL_FILTERS, SPNG_FILTER_CHOICE_ALL},
    {"L1 RLE SUB (OpenCV default)", 1, Z_RLE, PNG_FILTER_SUB,
     SPNG_FILTER_CHOICE_SUB},
    {"L1 RLE UP", 1, Z_RLE, PNG_FILTER_UP, SPNG_FILTER_CHOICE_UP},
    {"L1 RLE AVG", 1, Z_RLE, PNG_FILTER_AVG, SPNG_FILTER_CHOICE_AVG},
    {"L1 RLE PAETH", 1, Z_RLE, PNG_FILTER_PAETH, SPNG_FILTER_CHOICE_PAETH},
    {"L1 RLE adaptive", 1, Z_RLE, PNG_ALL_FILTERS, SPNG_FILTER_CHOICE_ALL},
    {"L1 default SUB", 1, Z_DEFAULT_STRATEGY, PNG_FILTER_SUB,
     SPNG_FILTER_CHOICE_SUB},
    {"L1 default PAETH", 1, Z_DEFAULT_STRATEGY, PNG_FILTER_PAETH,
     SPNG_FILTER_CHOICE_PAETH},
    {"L3 RLE PAETH", 3, Z_RLE, PNG_FILTER_PAETH, SPNG_FILTER_CHOICE_PAETH},
    {"L0 NONE (stored)", 0, Z_DEFAULT_STRATEGY, PNG_FILTER_NONE,
     SPNG_FILTER_CHOICE_NONE},
};

int main(int argc, char **argv)
{
    size_t nset = sizeof settings / sizeof settings[0];
    double dec[2] = {0, 0};
    double enc[2][16] = {{0}};
    size_t bytes[2][16] = {{0}};
    struct img *ims = calloc((size_t)argc, sizeof *ims);

    for (int i = 1; i < argc; i++) {
        size_t n;
        unsigned char *buf = slurp(argv[i], &n);

        if (!buf) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        for (int lib = 0; lib < 2; lib++) {
            double best = 1e9;

            for (int r = 0; r < RUNS; r++) {
                struct img im;
                double t = now();

                if ((lib ? decode_spng : decode_libpng)(buf, n, &im)) {
                    fprintf(stderr, "%s: decode failed\n", argv[i]);
                    return 1;
                }
                t = now() - t;
                best = t < best ? t : best;
                if (lib == 0 && r == 0)
                    ims[i] = im;
                else
                    free(im.px);
            }
            dec[lib] += best;
        }
        free(buf);
        for (size_t s = 0; s < nset; s++) {
            for (int lib = 0; lib < 2; lib++) {
                const struct setting *st = &settings[s];
                double best = 1e9;
                size_t b = 0;

                for (int r = 0; r < RUNS; r++) {
                    double t = now();

                    b = lib ? encode_spng(&ims[i], st->level, st->strategy,
                                          st->spng_filters)
                            : encode_libpng(&ims[i], st->level, st->strategy,
                                            st->png_filters);
                    t = now() - t;
                    best = t < best ? t : best;
                }
                enc[lib][s] += best;
                bytes[lib][s] += b;
            }
        }
    }
    printf("%d images; best of %d runs each, summed over the images\n",
           argc - 1, RUNS);
    printf("decode: libpng %.1f ms, libspng %.1f ms\n", dec[0] * 1e3,
           dec[1] * 1e3);
    printf("%-38s %12s %12s %12s %12s\n", "encode setting", "libpng ms",
           "libpng bytes", "libspng ms", "spng bytes");
    for (size_t s = 0; s < nset; s++)
        printf("%-38s %12.1f %12zu %12.1f %12zu\n", settings[s].name,
               enc[0][s] * 1e3, bytes[0][s], enc[1][s] * 1e3, bytes[1][s]);
    for (int i = 1; i < argc; i++)
        free(ims[i].px);
    free(ims);
    return 0;
}
