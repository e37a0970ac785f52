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
 * means lost data (premature end of file, corrupt data) fails the load.
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

struct cld_save_opts {
    enum cld_format fmt; /* CLD_FMT_AUTO: from the path's extension */
    int quality;         /* JPEG quality 1..100; 0 means 90 */
    bool overwrite;      /* replace an existing file */
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

#endif
