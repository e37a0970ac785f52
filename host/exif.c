/* EXIF orientation. Only IFD0's Orientation tag is read, so a small reader
 * with every offset checked is used rather than a full EXIF library: it
 * parses no maker notes or sub-IFDs (where EXIF parsers' bugs have lived)
 * and costs nothing per image. The pixel transform copies in tiles so that
 * the transposing orientations do not miss the cache on every pixel. */
#include "exif.h"

#include <string.h>

#define TAG_ORIENTATION 0x0112u
#define TYPE_SHORT 3u
#define IFD_ENTRY_BYTES 12u
/* Side of the square tiles the transform copies; 64x64 pixels of up to 4
 * bytes fit in the L1 cache with their destination. */
#define TILE 64u

static uint32_t rd16(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8
              : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? rd16(p, 1) | rd16(p + 2, 1) << 16
              : rd16(p, 0) << 16 | rd16(p + 2, 0);
}

int cld_exif_orientation(const uint8_t *data, size_t n)
{
    static const uint8_t exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
    const uint8_t *tiff;
    size_t len;
    uint32_t ifd, count;
    int le;

    if (!data || n < sizeof exif_id || memcmp(data, exif_id, 6) != 0)
        return 1;
    /* Offsets inside EXIF count from the TIFF header after the id. */
    tiff = data + sizeof exif_id;
    len = n - sizeof exif_id;
    if (len < 8)
        return 1;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        le = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        le = 0;
    else
        return 1;
    if (rd16(tiff + 2, le) != 42)
        return 1;
    ifd = rd32(tiff + 4, le);
    if (ifd < 8 || ifd > len || len - ifd < 2)
        return 1;
    count = rd16(tiff + ifd, le);
    if (count > (len - ifd - 2) / IFD_ENTRY_BYTES)
        return 1;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = tiff + ifd + 2 + (size_t)i * IFD_ENTRY_BYTES;
        uint32_t v;

        if (rd16(e, le) != TAG_ORIENTATION)
            continue;
        /* One SHORT, held in the first two bytes of the value field. */
        if (rd16(e + 2, le) != TYPE_SHORT || rd32(e + 4, le) != 1)
            return 1;
        v = rd16(e + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* Source pixel of upright pixel (x, y), for a stored image w x h. */
static void source_of(int orientation, uint32_t w, uint32_t h, uint32_t x,
                      uint32_t y, uint32_t *sx, uint32_t *sy)
{
    switch (orientation) {
    case 2:
        *sx = w - 1 - x;
        *sy = y;
        break;
    case 3:
        *sx = w - 1 - x;
        *sy = h - 1 - y;
        break;
    case 4:
        *sx = x;
        *sy = h - 1 - y;
        break;
    case 5:
        *sx = y;
        *sy = x;
        break;
    case 6:
        *sx = y;
        *sy = h - 1 - x;
        break;
    case 7:
        *sx = w - 1 - y;
        *sy = h - 1 - x;
        break;
    case 8:
        *sx = w - 1 - y;
        *sy = x;
        break;
    default:
        *sx = x;
        *sy = y;
        break;
    }
}

enum cld_status cld_image_orient(struct cld_image *img, int orientation)
{
    struct cld_image out;
    uint32_t ow, oh, ch;
    enum cld_status st;

    if (orientation < 1 || orientation > 8)
        return cld_error_set(CLD_ERR_INVALID, "EXIF orientation %d is not "
                             "1..8", orientation);
    if (orientation == 1)
        return CLD_OK;
    ch = img->channels;
    ow = cld_orientation_swaps(orientation) ? img->height : img->width;
    oh = cld_orientation_swaps(orientation) ? img->width : img->height;
    if ((st = cld_image_alloc(&out, ow, oh, ch)) != CLD_OK)
        return st;
    for (uint32_t ty = 0; ty < oh; ty += TILE) {
        for (uint32_t tx = 0; tx < ow; tx += TILE) {
            uint32_t ey = ty + TILE < oh ? ty + TILE : oh;
            uint32_t ex = tx + TILE < ow ? tx + TILE : ow;

            for (uint32_t y = ty; y < ey; y++) {
                uint8_t *d = out.data + ((size_t)y * ow + tx) * ch;

                for (uint32_t x = tx; x < ex; x++, d += ch) {
                    uint32_t sx, sy;

                    source_of(orientation, img->width, img->height, x, y,
                              &sx, &sy);
                    memcpy(d, img->data + ((size_t)sy * img->width + sx) * ch,
                           ch);
                }
            }
        }
    }
    cld_image_free(img);
    *img = out;
    return CLD_OK;
}
