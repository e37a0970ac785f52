/* Image loading and saving: content sniffing, header checks against limits
 * before any pixel allocation, PNG and JPEG through their libraries with
 * setjmp-based error handling, binary netpbm by hand, atomic output. */
#include "image_io.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <zlib.h>

#include "exif.h"
#include "fsutil.h"

#define DEFAULT_QUALITY 90
/* zlib's output buffer for PNG writing: fewer, larger writes than libpng's
 * 8 KiB default. */
#define PNG_WRITE_BUFFER 65536u
/* Deflate cannot expand data more than about 1032 times, so a PNG whose
 * header claims more pixel bytes than that times its file size is lying. */
#define DEFLATE_MAX_RATIO 1032u

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G',
                                         '\r', '\n', 0x1a, '\n'};

/* ---- formats ------------------------------------------------------------ */

enum cld_format cld_format_from_name(const char *name)
{
    static const struct {
        const char *name;
        enum cld_format fmt;
    } names[] = {
        {"auto", CLD_FMT_AUTO}, {"png", CLD_FMT_PNG}, {"jpg", CLD_FMT_JPEG},
        {"jpeg", CLD_FMT_JPEG}, {"ppm", CLD_FMT_PPM}, {"pnm", CLD_FMT_PPM},
        {"pgm", CLD_FMT_PGM},
    };

    if (!name)
        return CLD_FMT_UNKNOWN;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].fmt;
    return CLD_FMT_UNKNOWN;
}

/* The extension after the last '.' of the last path component, or NULL. */
static const char *path_ext(const char *path)
{
    const char *slash, *dot;

    if (!path)
        return NULL;
    slash = strrchr(path, '/');
    dot = strrchr(slash ? slash + 1 : path, '.');
    return dot ? dot + 1 : NULL;
}

enum cld_format cld_format_from_path(const char *path)
{
    const char *ext = path_ext(path);
    enum cld_format fmt;

    if (!ext)
        return CLD_FMT_UNKNOWN;
    fmt = cld_format_from_name(ext);
    return fmt == CLD_FMT_AUTO ? CLD_FMT_UNKNOWN : fmt;
}

const char *cld_format_ext(enum cld_format fmt)
{
    switch (fmt) {
    case CLD_FMT_PNG:
        return "png";
    case CLD_FMT_JPEG:
        return "jpg";
    case CLD_FMT_PPM:
        return "ppm";
    case CLD_FMT_PGM:
        return "pgm";
    default:
        return NULL;
    }
}

/* ---- limits ------------------------------------------------------------- */

/* Check claimed dimensions before anything is allocated. Zero is a corrupt
 * header (CLD_ERR_FORMAT); over a limit is CLD_ERR_TOO_LARGE. */
static enum cld_status check_dims(const char *path, const char *kind,
                                  uint64_t w, uint64_t h,
                                  const struct cld_image_limits *lim)
{
    uint32_t max_side = CLD_IMAGE_MAX_SIDE_DEFAULT;
    uint64_t max_pixels = CLD_IMAGE_MAX_PIXELS_DEFAULT;

    if (lim && lim->max_side)
        max_side = lim->max_side;
    if (lim && lim->max_pixels)
        max_pixels = lim->max_pixels;
    if (w == 0 || h == 0)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "%s header has a zero dimension (%llux%llu)",
                               kind, (unsigned long long)w,
                               (unsigned long long)h);
    /* w and h are at most 2^32 each, so the product fits. */
    if (w * h > max_pixels) {
        if (max_pixels % 1000000 == 0)
            return cld__path_error(CLD_ERR_TOO_LARGE, path,
                                   "dimensions %llux%llu exceed the %llu "
                                   "megapixel limit", (unsigned long long)w,
                                   (unsigned long long)h,
                                   (unsigned long long)(max_pixels / 1000000));
        return cld__path_error(CLD_ERR_TOO_LARGE, path,
                               "dimensions %llux%llu exceed the %llu pixel "
                               "limit", (unsigned long long)w,
                               (unsigned long long)h,
                               (unsigned long long)max_pixels);
    }
    if (w > max_side || h > max_side)
        return cld__path_error(CLD_ERR_TOO_LARGE, path,
                               "dimensions %llux%llu exceed the %u pixel "
                               "side limit", (unsigned long long)w,
                               (unsigned long long)h, max_side);
    return CLD_OK;
}

static enum cld_status alloc_image(const char *path, struct cld_image *img,
                                   uint32_t w, uint32_t h, uint32_t ch)
{
    enum cld_status st = cld_image_alloc(img, w, h, ch);

    if (st != CLD_OK)
        cld_error_prefix("%s", path);
    return st;
}

/* ---- channel conversion for writers ------------------------------------- */

/* Convert one row of w pixels from sch channels to dch (1 or 3) channels:
 * alpha is dropped, grey is replicated, colour becomes BT.601 luma. */
static void convert_row(const uint8_t *src, uint32_t sch, uint8_t *dst,
                        uint32_t dch, uint32_t w)
{
    for (uint32_t x = 0; x < w; x++, src += sch) {
        if (sch <= 2) {
            if (dch == 1) {
                *dst++ = src[0];
            } else {
                *dst++ = src[0];
                *dst++ = src[0];
                *dst++ = src[0];
            }
        } else if (dch == 3) {
            *dst++ = src[0];
            *dst++ = src[1];
            *dst++ = src[2];
        } else {
            *dst++ = cld_luma(src[0], src[1], src[2]);
        }
    }
}

/* ---- PNG ---------------------------------------------------------------- */

/* Shared by reading and writing; lives in the caller of the function that
 * calls setjmp, so nothing in it is clobbered by longjmp. */
struct png_ctx {
    const char *path;
    FILE *fp;
    uint64_t file_size;
    const struct cld_image_limits *lim;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    struct cld_image *out;       /* read */
    const struct cld_image *img; /* write */
    bool header_only;            /* read: stop after the size checks */
    int level;                   /* write: zlib level 0..9 */
    enum cld_png_filter filter;  /* write: resolved, never DEFAULT */
    bool eof;
    bool io_error;
    int io_errno;
    char msg[256];
};

static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *c = png_get_error_ptr(png);

    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

/* What the codecs said about the last load or save on this thread that
 * did not fail it: libpng and libjpeg would print such messages themselves,
 * without the file's name; the caller prints them on its own warning line
 * (cld_image_warning). The first message is kept, later ones counted. */
static _Thread_local char codec_warning[512];
static _Thread_local unsigned codec_warnings;

static void warning_clear(void)
{
    codec_warning[0] = '\0';
    codec_warnings = 0;
}

static void warning_add(const char *codec, const char *msg)
{
    if (codec_warnings++ == 0)
        snprintf(codec_warning, sizeof codec_warning, "%s: %s", codec,
                 msg && *msg ? msg : "warning");
}

const char *cld_image_warning(void)
{
    static _Thread_local char buf[600];

    if (codec_warnings == 0)
        return NULL;
    if (codec_warnings == 1)
        return codec_warning;
    snprintf(buf, sizeof buf, "%s (and %u more warning%s)", codec_warning,
             codec_warnings - 1, codec_warnings == 2 ? "" : "s");
    return buf;
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    warning_add("libpng", msg);
}

static void png_on_read(png_structp png, png_bytep buf, size_t len)
{
    struct png_ctx *c = png_get_io_ptr(png);

    if (fread(buf, 1, len, c->fp) == len)
        return;
    if (ferror(c->fp)) {
        c->io_error = true;
        c->io_errno = errno;
        png_error(png, "read error");
    }
    c->eof = true;
    png_error(png, "unexpected end of file");
}

static void png_on_write(png_structp png, png_bytep buf, size_t len)
{
    struct png_ctx *c = png_get_io_ptr(png);

    if (fwrite(buf, 1, len, c->fp) == len)
        return;
    c->io_error = true;
    c->io_errno = errno;
    png_error(png, "write error");
}

static void png_on_flush(png_structp png)
{
    (void)png; /* cld_image_save_begin flushes (cld_atomic_flush) */
}

static enum cld_status png_failure(struct png_ctx *c, bool writing)
{
    if (c->io_error)
        return cld__path_error(CLD_ERR_IO, c->path, "%s error: %s",
                               writing ? "write" : "read",
                               strerror(c->io_errno));
    if (c->eof)
        return cld__path_error(CLD_ERR_FORMAT, c->path,
                               "truncated PNG data (unexpected end of file)");
    if (strstr(c->msg, "ut of memory"))
        return cld__path_error(CLD_ERR_NOMEM, c->path, "libpng: %s", c->msg);
    if (writing)
        return cld__path_error(CLD_ERR_INVALID, c->path,
                               "cannot write PNG: %s", c->msg);
    return cld__path_error(CLD_ERR_FORMAT, c->path, "corrupt PNG: %s",
                           c->msg);
}

static enum cld_status png_decode(struct png_ctx *c)
{
    enum cld_status st;
    png_uint_32 w, h;
    int depth, color, interlace;
    uint64_t min_bytes;
    uint32_t ch;

    if (setjmp(png_jmpbuf(c->png)))
        return png_failure(c, false);
    png_set_read_fn(c->png, c, png_on_read);
    /* Let libpng accept any size the format allows; our limits apply. */
    png_set_user_limits(c->png, 0x7fffffff, 0x7fffffff);
#ifdef PNG_SKIP_sRGB_CHECK_PROFILE
    /* cldispatch never applies an embedded ICC profile, so libpng's check
     * of it ("known incorrect sRGB profile") says nothing about our
     * output and would only be noise on every such file. */
    png_set_option(c->png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
#endif
    png_read_info(c->png, c->info);
    png_get_IHDR(c->png, c->info, &w, &h, &depth, &color, &interlace, NULL,
                 NULL);
    st = check_dims(c->path, "PNG", w, h, c->lim);
    if (st != CLD_OK)
        return st;
    min_bytes = (uint64_t)w * h * png_get_channels(c->png, c->info) *
                (uint64_t)depth / 8;
    if (min_bytes / DEFLATE_MAX_RATIO > c->file_size + 1)
        return cld__path_error(CLD_ERR_FORMAT, c->path,
                               "truncated PNG data: %ux%u pixels cannot fit "
                               "in a %llu-byte file", (unsigned)w,
                               (unsigned)h,
                               (unsigned long long)c->file_size);
    if (c->header_only) {
        c->out->width = w;
        c->out->height = h;
        return CLD_OK;
    }

    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(c->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(c->png);
    if (png_get_valid(c->png, c->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(c->png);
    if (depth == 16)
        png_set_scale_16(c->png);
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);

    ch = png_get_channels(c->png, c->info);
    if (png_get_bit_depth(c->png, c->info) != 8 || ch < 1 || ch > 4 ||
        png_get_rowbytes(c->png, c->info) != (size_t)w * ch)
        return cld__path_error(CLD_ERR_FORMAT, c->path,
                               "unexpected PNG layout after expansion "
                               "(%u channels, %d bits)", ch,
                               png_get_bit_depth(c->png, c->info));
    st = alloc_image(c->path, c->out, w, h, ch);
    if (st != CLD_OK)
        return st;
    c->rows = malloc((size_t)h * sizeof *c->rows);
    if (!c->rows)
        return cld__path_error(CLD_ERR_NOMEM, c->path, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        c->rows[y] = c->out->data + (size_t)y * w * ch;
    png_read_image(c->png, c->rows);
    /* Read up to IEND so that a file cut after its pixel data still fails
     * and CRCs of the trailing chunks are checked. */
    png_read_end(c->png, NULL);
    return CLD_OK;
}

static enum cld_status load_png(const char *path, FILE *fp, uint64_t size,
                                const struct cld_image_limits *lim,
                                struct cld_image *out, bool header_only)
{
    enum cld_status st;
    struct png_ctx c;

    memset(&c, 0, sizeof c);
    c.header_only = header_only;
    c.path = path;
    c.fp = fp;
    c.file_size = size;
    c.lim = lim;
    c.out = out;
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error,
                                   png_on_warning);
    if (!c.png)
        return cld__path_error(CLD_ERR_NOMEM, path,
                               "cannot create a PNG reader");
    c.info = png_create_info_struct(c.png);
    if (!c.info)
        st = cld__path_error(CLD_ERR_NOMEM, path,
                             "cannot create a PNG reader");
    else
        st = png_decode(&c);
    png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
    free(c.rows);
    if (st != CLD_OK)
        cld_image_free(out);
    return st;
}

/* libpng's filter masks, by enum cld_png_filter. */
static const int png_filter_bits[] = {
    [CLD_PNG_FILTER_DEFAULT] = PNG_ALL_FILTERS,
    [CLD_PNG_FILTER_NONE] = PNG_FILTER_NONE,
    [CLD_PNG_FILTER_SUB] = PNG_FILTER_SUB,
    [CLD_PNG_FILTER_UP] = PNG_FILTER_UP,
    [CLD_PNG_FILTER_AVG] = PNG_FILTER_AVG,
    [CLD_PNG_FILTER_PAETH] = PNG_FILTER_PAETH,
    [CLD_PNG_FILTER_ADAPTIVE] = PNG_ALL_FILTERS,
};

static const char *const png_filter_names[] = {
    "default", "none", "sub", "up", "avg", "paeth", "adaptive"};

int cld_png_filter_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof png_filter_names /
                                       sizeof png_filter_names[0]; i++)
        if (strcasecmp(name, png_filter_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *cld_png_filter_name(enum cld_png_filter f)
{
    if ((unsigned)f >= sizeof png_filter_names / sizeof png_filter_names[0])
        return "?";
    return png_filter_names[f];
}

static enum cld_status png_encode(struct png_ctx *c)
{
    static const int color_types[5] = {
        0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
        PNG_COLOR_TYPE_RGB_ALPHA};
    const struct cld_image *img = c->img;
    size_t stride = (size_t)img->width * img->channels;

    if (setjmp(png_jmpbuf(c->png)))
        return png_failure(c, true);
    png_set_write_fn(c->png, c, png_on_write, png_on_flush);
    png_set_IHDR(c->png, c->info, img->width, img->height, 8,
                 color_types[img->channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(c->png, PNG_FILTER_TYPE_BASE, png_filter_bits[c->filter]);
    png_set_compression_level(c->png, c->level);
    /* Z_RLE only looks for runs of the previous byte: on filtered rows it
     * compresses about as well as level 1 of the usual strategy, in less
     * time, and every level gives the same bytes with it. */
    png_set_compression_strategy(c->png, c->level == 1 ? Z_RLE
                                         : c->level == 0
                                             ? Z_DEFAULT_STRATEGY
                                             : Z_FILTERED);
    png_set_compression_buffer_size(c->png, PNG_WRITE_BUFFER);
    png_write_info(c->png, c->info);
    for (uint32_t y = 0; y < img->height; y++)
        png_write_row(c->png, img->data + (size_t)y * stride);
    png_write_end(c->png, NULL);
    return CLD_OK;
}

static enum cld_status save_png(const char *path, FILE *fp,
                                const struct cld_image *img, int level,
                                enum cld_png_filter filter)
{
    enum cld_status st;
    struct png_ctx c;

    memset(&c, 0, sizeof c);
    c.path = path;
    c.fp = fp;
    c.img = img;
    c.level = level;
    c.filter = filter;
    /* With Z_RLE, Average wrote files 9-13% smaller than Sub (OpenCV's
     * choice) in the same time on the repository's images, blurred or
     * not; Paeth was 15-23% smaller again but 20% slower to write. */
    if (filter == CLD_PNG_FILTER_DEFAULT)
        c.filter = level == 0   ? CLD_PNG_FILTER_NONE
                   : level == 1 ? CLD_PNG_FILTER_AVG
                                : CLD_PNG_FILTER_ADAPTIVE;
    c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error,
                                    png_on_warning);
    if (!c.png)
        return cld__path_error(CLD_ERR_NOMEM, path,
                               "cannot create a PNG writer");
    c.info = png_create_info_struct(c.png);
    if (!c.info)
        st = cld__path_error(CLD_ERR_NOMEM, path,
                             "cannot create a PNG writer");
    else
        st = png_encode(&c);
    png_destroy_write_struct(&c.png, c.info ? &c.info : NULL);
    return st;
}

/* ---- JPEG --------------------------------------------------------------- */

struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int code;
    char msg[JMSG_LENGTH_MAX];
};

static void jpeg_on_error(j_common_ptr cinfo)
{
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;

    e->code = e->pub.msg_code;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings that leave the pixels intact; every other warning means lost or
 * made-up data (libjpeg fills a truncated scan with grey) and fails. */
static bool jpeg_warning_is_benign(int code)
{
    switch (code) {
    case JWRN_ADOBE_XFORM:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_JFIF_MAJOR:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_ICC:
        return true;
    default:
        return false;
    }
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;

    if (level >= 0)
        return; /* trace output */
    e->pub.num_warnings++;
    if (!jpeg_warning_is_benign(e->pub.msg_code))
        jpeg_on_error(cinfo);
    /* Kept for the caller's warning line instead of libjpeg's own print. */
    e->pub.format_message(cinfo, e->msg);
    warning_add("libjpeg", e->msg);
}

static void jpeg_err_init(struct jpeg_err *e)
{
    jpeg_std_error(&e->pub);
    e->pub.error_exit = jpeg_on_error;
    e->pub.emit_message = jpeg_on_message;
}

struct jpeg_ctx {
    const char *path;
    FILE *fp;
    uint64_t file_size;
    const struct cld_image_limits *lim;
    const struct cld_load_opts *opts; /* read; NULL: defaults */
    struct cld_load_info *info;       /* read */
    int orientation;                  /* read: EXIF, 1..8 */
    unsigned shrink;                  /* read: DCT scaling 1, 2, 4, 8 */
    struct jpeg_err err;
    struct jpeg_decompress_struct d;
    struct jpeg_compress_struct cc;
    bool created;
    struct cld_image *out;       /* read */
    const struct cld_image *img; /* write */
    bool header_only;            /* read: stop after the size checks */
    int quality;
    uint8_t *row; /* write: one converted row */
};

static enum cld_status jpeg_read_failure(struct jpeg_ctx *c)
{
    switch (c->err.code) {
    case JWRN_JPEG_EOF:
    case JERR_INPUT_EOF:
    case JERR_INPUT_EMPTY:
        return cld__path_error(CLD_ERR_FORMAT, c->path,
                               "truncated JPEG data (%s)", c->err.msg);
    case JERR_OUT_OF_MEMORY:
        return cld__path_error(CLD_ERR_NOMEM, c->path, "libjpeg: %s",
                               c->err.msg);
    case JERR_FILE_READ:
        return cld__path_error(CLD_ERR_IO, c->path, "read error: %s",
                               c->err.msg);
    default:
        return cld__path_error(CLD_ERR_FORMAT, c->path, "corrupt JPEG: %s",
                               c->err.msg);
    }
}

/* The EXIF orientation from the first APP1 segment that holds EXIF. */
static int jpeg_orientation(const struct jpeg_decompress_struct *d)
{
    for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0)
            return cld_exif_orientation(m->data, m->data_length);
    }
    return 1;
}

/* One side for cld_jpeg_shrink_fits: *wide when its extent is at least
 * twice the output m, *exact when the decode is m and either f divides
 * the side or the full image's resize averages it. */
static void shrink_side(uint32_t side, unsigned f, uint32_t m, bool *wide,
                        bool *exact)
{
    *wide = (uint64_t)side >= 2ull * f * m;
    *exact = (side + f - 1) / f == m &&
             (side % f == 0 || (uint64_t)side > 2ull * m);
}

bool cld_jpeg_shrink_fits(uint32_t width, uint32_t height, unsigned shrink,
                          uint32_t min_width, uint32_t min_height)
{
    bool wx, ex, wy, ey;

    if (shrink < 2 || min_width == 0 || min_height == 0)
        return false;
    shrink_side(width, shrink, min_width, &wx, &ex);
    shrink_side(height, shrink, min_height, &wy, &ey);
    return (wx && wy) || (ex && ey);
}

/* Shrink-on-load: the largest DCT scaling (1/8, 1/4, 1/2) that
 * cld_jpeg_shrink_fits what the caller asked for; sets d's scale and
 * returns the factor (1 when none fits). The request is in upright terms,
 * d's sizes are stored ones. A reduced decode that is just above the
 * target would leave a resize of less than 2x, which interpolates instead
 * of averaging and shows the aliasing that the averaging avoids on fine
 * detail (measured on tests/images: 32-36 dB against the full decode,
 * instead of 41-57 dB). A factor need not divide the sides: the decode
 * then has ceil(side / f) samples, the last standing for a partial block,
 * and the resize after it maps by the true extent side / f
 * (cld_resize_set_source), so its rows do not drift towards that edge
 * (which, resized as if the extent were ceil(side / f), measured 33 dB
 * and 107 levels on rocket.jpg, 640x427, at 0.5, and 40.2 dB and 47 levels
 * at 0.25 decoded at 1/2). The "at least twice" test is on that extent,
 * as the resize's choice of area averaging is. */
static unsigned jpeg_pick_shrink(struct jpeg_ctx *c, int orientation)
{
    struct jpeg_decompress_struct *d = &c->d;
    const struct cld_load_opts *o = c->opts;
    bool swap = cld_orientation_swaps(orientation);
    uint32_t uw = swap ? d->image_height : d->image_width;
    uint32_t uh = swap ? d->image_width : d->image_height;
    uint32_t mw = 0, mh = 0;

    if (!o || !o->min_size)
        return 1;
    o->min_size(o->min_size_arg, uw, uh, &mw, &mh);
    if (swap) {
        uint32_t t = mw;

        mw = mh;
        mh = t;
    }
    for (unsigned f = 8; f >= 2; f /= 2) {
        d->scale_num = 1;
        d->scale_denom = f;
        jpeg_calc_output_dimensions(d);
        if (mw == 0 || mh == 0)
            break;
        if (cld_jpeg_shrink_fits(d->image_width, d->image_height, f, mw, mh))
            return f;
    }
    d->scale_num = 1;
    d->scale_denom = 1;
    return 1;
}

static enum cld_status jpeg_decode(struct jpeg_ctx *c)
{
    struct jpeg_decompress_struct *d = &c->d;
    enum cld_status st;
    uint32_t ch;
    size_t stride;

    if (setjmp(c->err.jb))
        return jpeg_read_failure(c);
    jpeg_create_decompress(d);
    c->created = true;
    jpeg_stdio_src(d, c->fp);
    if (!c->opts || !c->opts->keep_orientation)
        jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(d, TRUE);
    switch (d->jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK:
        return cld__path_error(CLD_ERR_FORMAT, c->path,
                               "CMYK JPEG not supported (convert it to RGB "
                               "first)");
    case JCS_GRAYSCALE:
        d->out_color_space = JCS_GRAYSCALE;
        ch = 1;
        break;
    default:
        d->out_color_space = JCS_RGB;
        ch = 3;
        break;
    }
    /* Before jpeg_start_decompress, which allocates whole-image buffers for
     * progressive files. */
    st = check_dims(c->path, "JPEG", d->image_width, d->image_height, c->lim);
    if (st != CLD_OK)
        return st;
    /* With Huffman coding every 8x8 block of a component costs at least one
     * bit, so a small file cannot hold a huge image. Arithmetic coding has
     * no such floor. */
    if (!d->arith_code) {
        uint64_t blocks = 0;

        for (int i = 0; i < d->num_components; i++) {
            uint64_t b = (uint64_t)d->comp_info[i].width_in_blocks *
                         d->comp_info[i].height_in_blocks;

            blocks = b > blocks ? b : blocks;
        }
        if (blocks / 8 > c->file_size)
            return cld__path_error(CLD_ERR_FORMAT, c->path,
                                   "truncated JPEG data: %ux%u pixels cannot "
                                   "fit in a %llu-byte file",
                                   d->image_width, d->image_height,
                                   (unsigned long long)c->file_size);
    }
    if (c->header_only) {
        c->out->width = d->image_width;
        c->out->height = d->image_height;
        return CLD_OK;
    }
    /* In c, not locals: they change after setjmp. */
    c->orientation = 1;
    if (!c->opts || !c->opts->keep_orientation)
        c->orientation = jpeg_orientation(d);
    c->shrink = jpeg_pick_shrink(c, c->orientation);
    jpeg_start_decompress(d);
    if (d->output_components != (int)ch ||
        d->output_width != (d->image_width + c->shrink - 1) / c->shrink ||
        d->output_height != (d->image_height + c->shrink - 1) / c->shrink)
        return cld__path_error(CLD_ERR_FORMAT, c->path,
                               "unexpected JPEG output layout (%d "
                               "components)", d->output_components);
    st = alloc_image(c->path, c->out, d->output_width, d->output_height, ch);
    if (st != CLD_OK)
        return st;
    stride = (size_t)d->output_width * ch;
    while (d->output_scanline < d->output_height) {
        JSAMPROW row = c->out->data + (size_t)d->output_scanline * stride;

        if (jpeg_read_scanlines(d, &row, 1) != 1)
            return cld__path_error(CLD_ERR_FORMAT, c->path,
                                   "truncated JPEG data (no scanline %u)",
                                   d->output_scanline);
    }
    /* Reads up to EOI: a file cut after its last scan still fails. */
    jpeg_finish_decompress(d);
    if (c->info) {
        bool swap = cld_orientation_swaps(c->orientation);

        c->info->width = swap ? d->image_height : d->image_width;
        c->info->height = swap ? d->image_width : d->image_height;
        c->info->orientation = c->orientation;
        c->info->shrink = c->shrink;
    }
    if (c->orientation != 1) {
        if ((st = cld_image_orient(c->out, c->orientation)) != CLD_OK) {
            cld_error_prefix("%s", c->path);
            return st;
        }
        if (c->info)
            c->info->oriented = true;
    }
    return CLD_OK;
}

static enum cld_status load_jpeg(const char *path, FILE *fp, uint64_t size,
                                 const struct cld_image_limits *lim,
                                 const struct cld_load_opts *opts,
                                 struct cld_image *out,
                                 struct cld_load_info *info, bool header_only)
{
    enum cld_status st;
    struct jpeg_ctx *c = calloc(1, sizeof *c);

    if (!c)
        return cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
    c->path = path;
    c->fp = fp;
    c->file_size = size;
    c->lim = lim;
    c->opts = opts;
    c->info = info;
    c->out = out;
    c->header_only = header_only;
    jpeg_err_init(&c->err);
    c->d.err = &c->err.pub;
    st = jpeg_decode(c);
    if (c->created)
        jpeg_destroy_decompress(&c->d);
    if (st != CLD_OK)
        cld_image_free(out);
    free(c);
    return st;
}

static enum cld_status jpeg_write_failure(struct jpeg_ctx *c)
{
    switch (c->err.code) {
    case JERR_FILE_WRITE:
        return cld__path_error(CLD_ERR_IO, c->path, "write error: %s",
                               c->err.msg);
    case JERR_OUT_OF_MEMORY:
        return cld__path_error(CLD_ERR_NOMEM, c->path, "libjpeg: %s",
                               c->err.msg);
    default:
        return cld__path_error(CLD_ERR_INVALID, c->path,
                               "cannot write JPEG: %s", c->err.msg);
    }
}

static enum cld_status jpeg_encode(struct jpeg_ctx *c)
{
    struct jpeg_compress_struct *cc = &c->cc;
    const struct cld_image *img = c->img;
    uint32_t dch = img->channels <= 2 ? 1 : 3;
    size_t stride = (size_t)img->width * img->channels;

    if (setjmp(c->err.jb))
        return jpeg_write_failure(c);
    jpeg_create_compress(cc);
    c->created = true;
    jpeg_stdio_dest(cc, c->fp);
    cc->image_width = img->width;
    cc->image_height = img->height;
    cc->input_components = (int)dch;
    cc->in_color_space = dch == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cc);
    jpeg_set_quality(cc, c->quality, TRUE);
    jpeg_start_compress(cc, TRUE);
    while (cc->next_scanline < cc->image_height) {
        const uint8_t *src = img->data + (size_t)cc->next_scanline * stride;
        JSAMPROW row;

        if (img->channels == dch) {
            row = (JSAMPROW)src; /* libjpeg does not write to it */
        } else {
            convert_row(src, img->channels, c->row, dch, img->width);
            row = c->row;
        }
        jpeg_write_scanlines(cc, &row, 1);
    }
    jpeg_finish_compress(cc);
    return CLD_OK;
}

static enum cld_status save_jpeg(const char *path, FILE *fp,
                                 const struct cld_image *img, int quality)
{
    enum cld_status st = CLD_OK;
    struct jpeg_ctx *c = calloc(1, sizeof *c);

    if (!c)
        return cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
    c->path = path;
    c->fp = fp;
    c->img = img;
    c->quality = quality;
    c->row = malloc((size_t)img->width * 3);
    if (!c->row) {
        st = cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
        goto out;
    }
    jpeg_err_init(&c->err);
    c->cc.err = &c->err.pub;
    st = jpeg_encode(c);
    if (c->created)
        jpeg_destroy_compress(&c->cc);
out:
    free(c->row);
    free(c);
    return st;
}

/* ---- PPM / PGM ---------------------------------------------------------- */

static bool pnm_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
           ch == '\v' || ch == '\f';
}

/* Skip whitespace and '#' comments between header fields; at least one
 * separator is required. */
static enum cld_status pnm_skip_sep(const char *path, FILE *fp,
                                    const char *kind, const char *before)
{
    int ch, seen = 0;

    for (;;) {
        ch = getc(fp);
        if (ch == '#') {
            do
                ch = getc(fp);
            while (ch != EOF && ch != '\n' && ch != '\r');
            seen = 1;
            if (ch == EOF)
                break;
            continue;
        }
        if (!pnm_space(ch))
            break;
        seen = 1;
    }
    if (ch == EOF)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "truncated %s header (end of file before %s)",
                               kind, before);
    ungetc(ch, fp);
    if (!seen)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "bad %s header: no space before %s", kind,
                               before);
    return CLD_OK;
}

/* Read a decimal header field: digits only, at most 32 bits. The character
 * after the digits is left unread. */
static enum cld_status pnm_read_uint(const char *path, FILE *fp,
                                     const char *kind, const char *field,
                                     uint32_t *out)
{
    uint64_t v = 0;
    int ch = getc(fp);

    if (ch == EOF)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "truncated %s header (end of file in %s)",
                               kind, field);
    if (ch < '0' || ch > '9')
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "bad %s header: %s is not a number (found "
                               "'%c')", kind, field,
                               ch >= 0x20 && ch < 0x7f ? ch : '?');
    while (ch >= '0' && ch <= '9') {
        v = v * 10 + (uint64_t)(ch - '0');
        if (v > UINT32_MAX)
            return cld__path_error(CLD_ERR_FORMAT, path,
                                   "bad %s header: %s does not fit in 32 "
                                   "bits", kind, field);
        ch = getc(fp);
    }
    if (ch != EOF)
        ungetc(ch, fp);
    *out = (uint32_t)v;
    return CLD_OK;
}

static enum cld_status load_pnm(const char *path, FILE *fp, uint64_t size,
                                const struct cld_image_limits *lim,
                                struct cld_image *out, bool header_only)
{
    enum cld_status st;
    uint32_t w = 0, h = 0, maxval = 0, ch;
    const char *kind;
    uint64_t data_bytes;
    long header_len;
    int magic[2], c;

    magic[0] = getc(fp);
    magic[1] = getc(fp);
    if (magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6'))
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "not a binary PPM/PGM file");
    ch = magic[1] == '6' ? 3 : 1;
    kind = ch == 3 ? "PPM" : "PGM";
    if ((st = pnm_skip_sep(path, fp, kind, "width")) != CLD_OK ||
        (st = pnm_read_uint(path, fp, kind, "width", &w)) != CLD_OK ||
        (st = pnm_skip_sep(path, fp, kind, "height")) != CLD_OK ||
        (st = pnm_read_uint(path, fp, kind, "height", &h)) != CLD_OK ||
        (st = pnm_skip_sep(path, fp, kind, "maxval")) != CLD_OK ||
        (st = pnm_read_uint(path, fp, kind, "maxval", &maxval)) != CLD_OK)
        return st;
    /* Exactly one whitespace character separates maxval from the pixels. */
    c = getc(fp);
    if (c == EOF)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "truncated %s data (no pixels after the "
                               "header)", kind);
    if (!pnm_space(c))
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "bad %s header: no whitespace after maxval",
                               kind);
    if (maxval == 0)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "bad %s header: maxval 0 (must be 1..255)",
                               kind);
    if (maxval > 65535)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "bad %s header: maxval %u (must be 1..255)",
                               kind, maxval);
    if (maxval > 255)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "16-bit netpbm not supported (maxval %u)",
                               maxval);
    st = check_dims(path, kind, w, h, lim);
    if (st != CLD_OK)
        return st;
    header_len = ftell(fp);
    if (header_len < 0)
        return cld__path_error(CLD_ERR_IO, path, "cannot tell position: %s",
                               strerror(errno));
    data_bytes = (uint64_t)w * h * ch;
    if ((uint64_t)header_len > size || data_bytes > size - header_len)
        return cld__path_error(CLD_ERR_FORMAT, path,
                               "truncated %s data: header claims %ux%u "
                               "(%llu bytes), file has %llu after the header",
                               kind, w, h, (unsigned long long)data_bytes,
                               (unsigned long long)(size - header_len));
    if (header_only) {
        out->width = w;
        out->height = h;
        return CLD_OK;
    }
    st = alloc_image(path, out, w, h, ch);
    if (st != CLD_OK)
        return st;
    if (fread(out->data, 1, (size_t)data_bytes, fp) != data_bytes) {
        st = ferror(fp)
                 ? cld__path_error(CLD_ERR_IO, path, "read error: %s",
                                   strerror(errno))
                 : cld__path_error(CLD_ERR_FORMAT, path,
                                   "truncated %s data (file shrank while "
                                   "reading)", kind);
        cld_image_free(out);
        return st;
    }
    if (maxval < 255) {
        uint8_t map[256];

        for (uint32_t v = 0; v <= maxval; v++)
            map[v] = (uint8_t)((v * 255u + maxval / 2) / maxval);
        for (size_t i = 0; i < data_bytes; i++) {
            if (out->data[i] > maxval) {
                st = cld__path_error(CLD_ERR_FORMAT, path,
                                     "%s sample %u at pixel byte %zu exceeds "
                                     "maxval %u", kind, out->data[i], i,
                                     maxval);
                cld_image_free(out);
                return st;
            }
            out->data[i] = map[out->data[i]];
        }
    }
    return CLD_OK;
}

static enum cld_status save_pnm(const char *path, FILE *fp,
                                const struct cld_image *img, uint32_t dch)
{
    size_t stride = (size_t)img->width * img->channels;
    size_t out_stride = (size_t)img->width * dch;
    uint8_t *row = NULL;
    enum cld_status st = CLD_OK;

    if (fprintf(fp, "P%c\n%u %u\n255\n", dch == 3 ? '6' : '5', img->width,
                img->height) < 0)
        return cld__path_error(CLD_ERR_IO, path, "write error: %s",
                               strerror(errno));
    if (img->channels == dch) {
        size_t n = stride * img->height;

        if (fwrite(img->data, 1, n, fp) != n)
            return cld__path_error(CLD_ERR_IO, path, "write error: %s",
                                   strerror(errno));
        return CLD_OK;
    }
    row = malloc(out_stride);
    if (!row)
        return cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
    for (uint32_t y = 0; y < img->height; y++) {
        convert_row(img->data + (size_t)y * stride, img->channels, row, dch,
                    img->width);
        if (fwrite(row, 1, out_stride, fp) != out_stride) {
            st = cld__path_error(CLD_ERR_IO, path, "write error: %s",
                                 strerror(errno));
            break;
        }
    }
    free(row);
    return st;
}

/* ---- entry points ------------------------------------------------------- */

/* Load the image, or with header_only just its size as stored (out->data
 * stays NULL). */
static enum cld_status load(const char *path,
                            const struct cld_load_opts *opts,
                            struct cld_image *out,
                            struct cld_load_info *info, bool header_only)
{
    const struct cld_image_limits *lim = opts ? &opts->limits : NULL;
    struct cld_load_info scratch;
    enum cld_status st;
    uint8_t magic[8];
    uint64_t size = 0;
    FILE *fp = NULL;
    size_t n;

    warning_clear();
    memset(out, 0, sizeof *out);
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    info->shrink = 1;
    st = cld_open_read(path, &fp, &size);
    if (st != CLD_OK)
        return st;
    n = fread(magic, 1, sizeof magic, fp);
    if (n < sizeof magic && ferror(fp)) {
        st = cld__path_error(CLD_ERR_IO, path, "read error: %s",
                             strerror(errno));
        goto out;
    }
    rewind(fp);
    if (n == 0) {
        st = cld__path_error(CLD_ERR_FORMAT, path, "empty file");
    } else if (n == sizeof magic &&
               memcmp(magic, png_signature, sizeof magic) == 0) {
        st = load_png(path, fp, size, lim, out, header_only);
    } else if (n >= 3 && magic[0] == 0xff && magic[1] == 0xd8 &&
               magic[2] == 0xff) {
        st = load_jpeg(path, fp, size, lim, opts, out, info, header_only);
    } else if (n >= 2 && magic[0] == 'P' &&
               (magic[1] == '5' || magic[1] == '6')) {
        st = load_pnm(path, fp, size, lim, out, header_only);
    } else if (n >= 2 && magic[0] == 'P' && magic[1] >= '1' &&
               magic[1] <= '4') {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "plain or bitmap netpbm (P%c) not supported; "
                             "only binary P5/P6", magic[1]);
    } else if (n < sizeof magic && memcmp(magic, png_signature, n) == 0) {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "truncated PNG data (file ends inside the "
                             "signature)");
    } else {
        st = cld__path_error(CLD_ERR_FORMAT, path,
                             "not an image (unknown signature)");
    }
out:
    fclose(fp);
    if (st != CLD_OK)
        cld_image_free(out);
    else if (info->width == 0) {
        info->width = out->width;
        info->height = out->height;
    }
    return st;
}

/* The options of cld_image_load and cld_image_probe: limits only. */
static void default_opts(const struct cld_image_limits *lim,
                         struct cld_load_opts *o)
{
    memset(o, 0, sizeof *o);
    if (lim)
        o->limits = *lim;
}

enum cld_status cld_image_load(const char *path,
                               const struct cld_image_limits *lim,
                               struct cld_image *out)
{
    struct cld_load_opts o;

    if (!out)
        return cld_error_set(CLD_ERR_INVALID, "cld_image_load: out is NULL");
    default_opts(lim, &o);
    return load(path, &o, out, NULL, false);
}

enum cld_status cld_image_load_ex(const char *path,
                                  const struct cld_load_opts *opts,
                                  struct cld_image *out,
                                  struct cld_load_info *info)
{
    if (!out)
        return cld_error_set(CLD_ERR_INVALID, "cld_image_load: out is NULL");
    return load(path, opts, out, info, false);
}

enum cld_status cld_image_probe(const char *path,
                                const struct cld_image_limits *lim,
                                uint32_t *width, uint32_t *height)
{
    struct cld_image hdr;
    enum cld_status st;

    if (!width || !height)
        return cld_error_set(CLD_ERR_INVALID,
                             "cld_image_probe: width or height is NULL");
    struct cld_load_opts o;

    default_opts(lim, &o);
    st = load(path, &o, &hdr, NULL, true);
    *width = st == CLD_OK ? hdr.width : 0;
    *height = st == CLD_OK ? hdr.height : 0;
    return st;
}

enum cld_status cld_image_save_begin(const char *path,
                                     const struct cld_image *img,
                                     const struct cld_save_opts *opts,
                                     struct cld_atomic_file *af)
{
    struct cld_save_opts o = {CLD_FMT_AUTO, 0, false, 0,
                              CLD_PNG_FILTER_DEFAULT};
    enum cld_status st;
    enum cld_format fmt;
    const char *ext;

    memset(af, 0, sizeof *af);
    warning_clear();
    if (opts)
        o = *opts;
    if (!path || !*path)
        return cld_error_set(CLD_ERR_INVALID, "empty output path");
    if (!img || !img->data || img->width == 0 || img->height == 0 ||
        img->channels < 1 || img->channels > 4)
        return cld__path_error(CLD_ERR_INVALID, path,
                               "nothing to save (empty image or %u channels)",
                               img ? img->channels : 0);
    if (o.quality == 0)
        o.quality = DEFAULT_QUALITY;
    if (o.quality < 1 || o.quality > 100)
        return cld__path_error(CLD_ERR_INVALID, path,
                               "JPEG quality %d out of range 1..100",
                               o.quality);
    if (o.png_compression == 0)
        o.png_compression = CLD_PNG_LEVEL(CLD_PNG_LEVEL_DEFAULT);
    if (o.png_compression < CLD_PNG_LEVEL(0) ||
        o.png_compression > CLD_PNG_LEVEL(9))
        return cld__path_error(CLD_ERR_INVALID, path,
                               "PNG compression %d out of range 0..9",
                               o.png_compression - CLD_PNG_LEVEL(0));
    if ((unsigned)o.png_filter > CLD_PNG_FILTER_ADAPTIVE)
        return cld__path_error(CLD_ERR_INVALID, path,
                               "unknown PNG filter %d", (int)o.png_filter);
    fmt = o.fmt;
    if (fmt == CLD_FMT_AUTO) {
        fmt = cld_format_from_path(path);
        ext = path_ext(path);
        if (fmt == CLD_FMT_PPM && img->channels <= 2 && ext &&
            strcasecmp(ext, "pnm") == 0)
            fmt = CLD_FMT_PGM;
    }
    if (fmt != CLD_FMT_PNG && fmt != CLD_FMT_JPEG && fmt != CLD_FMT_PPM &&
        fmt != CLD_FMT_PGM)
        return cld__path_error(CLD_ERR_INVALID, path,
                               "cannot tell the output format (use a .png, "
                               ".jpg, .ppm or .pgm name or set the format)");
    st = cld_atomic_open(path, o.overwrite, af);
    if (st != CLD_OK)
        return st;
    switch (fmt) {
    case CLD_FMT_PNG:
        st = save_png(path, af->fp, img,
                      o.png_compression - CLD_PNG_LEVEL(0), o.png_filter);
        break;
    case CLD_FMT_JPEG:
        st = save_jpeg(path, af->fp, img, o.quality);
        break;
    case CLD_FMT_PPM:
        st = save_pnm(path, af->fp, img, 3);
        break;
    default:
        st = save_pnm(path, af->fp, img, 1);
        break;
    }
    if (st == CLD_OK)
        st = cld_atomic_flush(af);
    if (st != CLD_OK)
        cld_atomic_abort(af);
    return st;
}

enum cld_status cld_image_save(const char *path, const struct cld_image *img,
                               const struct cld_save_opts *opts)
{
    struct cld_atomic_file af;
    enum cld_status st = cld_image_save_begin(path, img, opts, &af);

    return st == CLD_OK ? cld_atomic_commit(&af) : st;
}
