/* Image files in and out: PNG through libpng, JPEG through libjpeg(-turbo),
 * binary PPM/PGM by hand. Loading detects the format from the file's content,
 * checks every header field and the claimed size against limits (and, where
 * the format allows, against the file size) before allocating, and treats
 * truncated or corrupt data as an error rather than returning a partial
 * image. Saving is atomic (see fsutil.h).
 *
 * Errors: every detail line starts with the path, as "PATH: cause", e.g.
 *   "a.png: truncated PNG data (unexpected end of file)"
 *   "b.ppm: dimensions 100000x100000 exceed the 512 megapixel limit"
 *   "c.jpg: not an image (unknown signature)"
 * Callers should print cld_error_detail() as is, without adding the path.
 * Status codes: CLD_ERR_NOT_FOUND (missing file or output folder),
 * CLD_ERR_FORMAT (not an image, corrupt, truncated, zero width or height,
 * or a variant we do not read such as 16-bit netpbm or CMYK JPEG),
 * CLD_ERR_TOO_LARGE (over the limits), CLD_ERR_EXISTS (output exists and
 * overwrite is off), CLD_ERR_INVALID (bad arguments, an input path that is
 * a folder or not a regular file, an encoder refusing the image such as a
 * JPEG wider than 65500), CLD_ERR_IO, CLD_ERR_NOMEM. */
#ifndef CLD_IMAGE_IO_H
#define CLD_IMAGE_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "image.h"

struct cld_atomic_file; /* fsutil.h */

enum cld_format {
    CLD_FMT_AUTO = 0, /* load: by content; save: by the path's extension */
    CLD_FMT_PNG,
    CLD_FMT_JPEG,
    CLD_FMT_PPM,
    CLD_FMT_PGM,
    CLD_FMT_UNKNOWN /* returned by the lookups below when nothing matches */
};

/* "png", "jpg"/"jpeg", "ppm", "pgm", "pnm" (-> PPM) and "auto", compared
 * case-insensitively; anything else (or NULL) gives CLD_FMT_UNKNOWN. */
enum cld_format cld_format_from_name(const char *name);

/* The format named by the path's extension (as cld_format_from_name, "auto"
 * excluded); CLD_FMT_UNKNOWN when there is no known extension. */
enum cld_format cld_format_from_path(const char *path);

/* Canonical extension without the dot: "png", "jpg", "ppm", "pgm"; NULL for
 * CLD_FMT_AUTO and CLD_FMT_UNKNOWN. Static string. */
const char *cld_format_ext(enum cld_format fmt);

#define CLD_IMAGE_MAX_SIDE_DEFAULT 32768u
#define CLD_IMAGE_MAX_PIXELS_DEFAULT 512000000ull /* 512 megapixels */

/* Largest image cld_image_load accepts. A field of 0 means its default. */
struct cld_image_limits {
    uint32_t max_side;   /* width and height each <= max_side */
    uint64_t max_pixels; /* width * height <= max_pixels */
};

/* Read an image file into out (8 bits per sample, interleaved, rows packed).
 * The format is detected from the first bytes, whatever the file is called.
 * Channels: grey 1, grey+alpha 2, RGB 3, RGBA 4. PNG: palette and 1/2/4-bit
 * grey are expanded, tRNS becomes alpha, 16-bit samples are scaled to 8 bits
 * with rounding, interlacing is handled; ancillary-chunk warnings (such as a
 * known-incorrect sRGB profile) do not fail the load. JPEG: greyscale gives
 * 1 channel, everything else RGB; CMYK/YCCK are refused; any warning that
 * means lost data (premature end of file, corrupt data) fails the load;
 * the pixels are turned upright by the file's EXIF orientation (exif.h).
 * PPM/PGM: binary P6/P5 only, maxval 1..255 (scaled to 0..255).
 * lim may be NULL for the defaults. On failure out is left empty (safe to
 * pass to cld_image_free). On success the caller frees out with
 * cld_image_free. */
enum cld_status cld_image_load(const char *path,
                               const struct cld_image_limits *lim,
                               struct cld_image *out);

/* What libpng or libjpeg reported about the last cld_image_load or
 * cld_image_save on this thread without failing it (for example
 * "libpng: iCCP: known incorrect sRGB profile"), or NULL when nothing. The
 * codecs never print themselves; the caller prints this naming the file.
 * The string lives until the next load or save on the thread. */
const char *cld_image_warning(void);

/* The size of an image file from its header alone, without decoding the
 * pixels: the same format detection and header checks as cld_image_load
 * (limits, and sizes the file cannot hold), so a file it accepts fails
 * later only if its pixel data is corrupt. *width and *height are 0 on
 * failure. */
enum cld_status cld_image_probe(const char *path,
                                const struct cld_image_limits *lim,
                                uint32_t *width, uint32_t *height);

/* Shrink-on-load: called once a JPEG's upright size (width x height, EXIF
 * orientation applied unless kept) is known, before its pixels are
 * decoded; sets *min_width x *min_height to the smallest size the caller
 * can use (0 x 0, or the full size, for no shrinking). */
typedef void (*cld_load_size_fn)(void *arg, uint32_t width, uint32_t height,
                                 uint32_t *min_width, uint32_t *min_height);

struct cld_load_opts {
    struct cld_image_limits limits;
    bool keep_orientation;     /* JPEG: do not apply the EXIF orientation */
    cld_load_size_fn min_size; /* NULL: always decode at full size */
    void *min_size_arg;
};

/* What a load did, beyond the pixels. */
struct cld_load_info {
    uint32_t width, height; /* upright size at full scale */
    int orientation;        /* EXIF orientation found, 1..8 (1: none) */
    bool oriented;          /* the pixels were turned upright by it */
    unsigned shrink;        /* JPEG DCT scaling: 1 (none), 2, 4 or 8 */
};

/* Shrink-on-load's rule: whether a width x height JPEG may be decoded at
 * 1/shrink for a resize to min_width x min_height. Either on both sides
 * the extent (side / shrink) is at least twice the output, so that the
 * resize after the decode still averages; or on both sides the decode,
 * ceil(side / shrink), is the output size, and shrink divides the side or
 * the full image's own resize averages that side (side > 2 x output). Not
 * where the decode is the output size only by rounding up and the full
 * image's resize is bilinear (just under 2x): that resize weights single
 * rows near point sampling, which no reduced decode can give (rocket.jpg,
 * 427 rows, at 0.5: 35.8 dB and 86 levels against it). */
bool cld_jpeg_shrink_fits(uint32_t width, uint32_t height, unsigned shrink,
                          uint32_t min_width, uint32_t min_height);

/* cld_image_load with options. JPEG shrink-on-load decodes at 1/2, 1/4 or
 * 1/8 scale (libjpeg-turbo's scaled IDCT): the smallest of these that
 * cld_jpeg_shrink_fits for the size min_size asks for; each side of the
 * result is the full side divided by the factor, rounded up: where the
 * factor does not divide the side, the last sample stands for a partial
 * block (resize maps it by the true extent: cld_resize_set_source).
 * Scaled
 * decoding averages each 8x8 block's frequencies rather than its pixels,
 * so the result differs slightly from a full decode followed by area
 * averaging (see the README for the measured tolerance). o may be NULL (the
 * defaults of cld_image_load: orientation applied, full size); info may be
 * NULL. */
enum cld_status cld_image_load_ex(const char *path,
                                  const struct cld_load_opts *o,
                                  struct cld_image *out,
                                  struct cld_load_info *info);

/* PNG row filters (the PNG specification's five, or libpng's adaptive
 * choice per row among all of them). */
enum cld_png_filter {
    CLD_PNG_FILTER_DEFAULT = 0, /* by level: see CLD_PNG_LEVEL */
    CLD_PNG_FILTER_NONE,
    CLD_PNG_FILTER_SUB,
    CLD_PNG_FILTER_UP,
    CLD_PNG_FILTER_AVG,
    CLD_PNG_FILTER_PAETH,
    CLD_PNG_FILTER_ADAPTIVE
};

/* PNG compression as stored in cld_save_opts.png_compression: zlib level
 * n (0..9) is CLD_PNG_LEVEL(n), so that a zeroed struct means the default,
 * CLD_PNG_LEVEL_DEFAULT. Level 0 stores (no filter unless one is asked
 * for); level 1 is zlib's run-length strategy (Z_RLE), fastest, with the
 * Average filter; levels 2..9 are zlib's filtered strategy at that level with
 * libpng's adaptive filter choice (6 is libpng's own default). */
#define CLD_PNG_LEVEL(n) ((n) + 1)
#define CLD_PNG_LEVEL_DEFAULT 1

/* "none", "sub", "up", "avg", "paeth", "adaptive" (and "default");
 * -1 for anything else. */
int cld_png_filter_from_name(const char *name);
/* The name of a filter, as above. Static string. */
const char *cld_png_filter_name(enum cld_png_filter f);

struct cld_save_opts {
    enum cld_format fmt; /* CLD_FMT_AUTO: from the path's extension */
    int quality;         /* JPEG quality 1..100; 0 means 90 */
    bool overwrite;      /* replace an existing file */
    int png_compression; /* CLD_PNG_LEVEL(0..9); 0: CLD_PNG_LEVEL_DEFAULT */
    enum cld_png_filter png_filter; /* DEFAULT: as the level says */
};

/* Write img to path atomically (a temporary file in the same folder renamed
 * into place; nothing is left behind on failure). opts may be NULL: AUTO,
 * quality 90, no overwrite. Channels are converted as the format needs:
 * PNG keeps 1/2/3/4 channels; PGM takes grey, or
 * BT.601 luma (cld_luma in image.h) for colour; PPM replicates grey;
 * JPEG, PPM and PGM drop alpha. JPEG uses 4:2:0 chroma subsampling. With
 * fmt AUTO, a ".pnm" path is written as PGM for grey images, PPM otherwise.
 * Without overwrite an existing file gives CLD_ERR_EXISTS and is untouched. */
enum cld_status cld_image_save(const char *path, const struct cld_image *img,
                               const struct cld_save_opts *opts);

/* cld_image_save up to the commit: img encoded into af's temporary file
 * and flushed (cld_atomic_flush), for the caller, or a thread it hands af
 * to, to finish with cld_atomic_commit (fsync, rename) or cld_atomic_abort.
 * On failure nothing is left behind and af needs no abort. */
enum cld_status cld_image_save_begin(const char *path,
                                     const struct cld_image *img,
                                     const struct cld_save_opts *opts,
                                     struct cld_atomic_file *af);

#endif
