/* EXIF orientation: read the one tag cldispatch uses from a JPEG's APP1
 * segment, and turn an image upright by it. */
#ifndef CLD_EXIF_H
#define CLD_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "image.h"

/* The Orientation tag (0x0112) of IFD0 in the payload of an APP1 segment
 * (starting with "Exif\0\0"), 1..8; 1 (as stored) when the segment is not
 * EXIF, has no such tag, or is malformed in any way (every offset and count
 * is checked against n; nothing is read outside data[0..n)). */
int cld_exif_orientation(const uint8_t *data, size_t n);

/* True for orientations 5..8, whose upright image is the stored one
 * transposed (width and height swap). */
static inline int cld_orientation_swaps(int orientation)
{
    return orientation >= 5 && orientation <= 8;
}

/* True when the upright image's x (or y) axis runs against the stored
 * one's: orientations 2, 3, 6, 7 (x) and 3, 4, 7, 8 (y). */
static inline int cld_orientation_flips_x(int orientation)
{
    return orientation == 2 || orientation == 3 || orientation == 6 ||
           orientation == 7;
}

static inline int cld_orientation_flips_y(int orientation)
{
    return orientation == 3 || orientation == 4 || orientation == 7 ||
           orientation == 8;
}

/* Turn img upright by an EXIF orientation (1..8, as the EXIF specification
 * defines them: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90
 * clockwise, 7 transverse, 8 rotate 90 anticlockwise). Replaces img's
 * pixels (and swaps its sides for 5..8); on failure img is unchanged.
 * Other values: CLD_ERR_INVALID. */
enum cld_status cld_image_orient(struct cld_image *img, int orientation);

#endif
