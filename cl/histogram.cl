/* Histogram kernels for the equalize job: the luma histogram, counted on the
 * device, and the look-up table (built on the host from its cumulative sum)
 * applied on the device. Luma is BT.601 in 16-bit fixed point, exactly as
 * the C reference: Y = (19595 R + 38470 G + 7471 B + 32768) >> 16; gray
 * input is used as is and gray+alpha uses the gray channel. For more than
 * one channel the first kernel also writes the luma image to `lum`, which
 * the host then hands to histogram_apply as both source and destination.
 *
 * histogram_partial(in, lum, npix, channels, chunk, partial)
 *   CPU variant, work-groups of one: work-item g takes pixels
 *   [g * chunk, (g + 1) * chunk) in blocks of 128, converts a block to
 *   luma (16 RGB pixels at a time) and counts it into private histograms,
 *   then writes its own 256 bins to partial[g * 256 ..]; the host sums
 *   them. chunk is a multiple of 16.
 * histogram_local(in, lum, npix, channels, hist)
 *   GPU variant: each work-group counts a grid-strided share of the pixels
 *   into a local histogram with local atomics, then adds it to the global
 *   256 bins (zeroed by the host) with global atomics.
 * histogram_apply(lum, out, npix, chunk, lut)
 *   GPU variant: out[i] = lut[lum[i]] for pixels [g * chunk,
 *   (g + 1) * chunk), 16 at a time; lum may equal out. The table has 256
 *   uints.
 * histogram_apply_pairs(lum, out, npix, chunk, lut2)
 *   CPU variant, the same for chunks that are a multiple of 32, but two
 *   pixels per look-up: lut2 has 65536 uints, lut2[v] = lut[v & 255] |
 *   lut[v >> 8] << 8, so that the 16-bit word of two luma bytes maps to
 *   the word of their two outputs whatever the byte order; 32 pixels are
 *   one gather of 16 lanes. lum and out must be 32-byte aligned (device
 *   buffers and host images are).
 */

#define LUMA(r, g, b)                                                      \
    (((r) * 19595u + (g) * 38470u + (b) * 7471u + 32768u) >> 16)

static uint luma_at(__global const uchar *in, uint i, uint channels)
{
    __global const uchar *p = in + (size_t)i * channels;

    if (channels >= 3u)
        return LUMA((uint)p[0], (uint)p[1], (uint)p[2]);
    return p[0];
}

/* Luma of 16 RGB pixels starting at pixel i (as in pointwise.cl, but the
 * bytes are widened as they are loaded, which PoCL does in one load). */
static uint16 luma16_rgb(__global const uchar *in, uint i)
{
    __global const uchar *p = in + (size_t)i * 3u;
    ushort16 x0 = convert_ushort16(vload16(0, p));
    ushort16 x1 = convert_ushort16(vload16(1, p));
    ushort16 x2 = convert_ushort16(vload16(2, p));
    uint16 r = convert_uint16((ushort16)(x0.s0369, x0.scf, x1.s258b, x1.se,
                                         x2.s147a, x2.sd));
    uint16 g = convert_uint16((ushort16)(x0.s147a, x0.sd, x1.s0369, x1.scf,
                                         x2.s258b, x2.se));
    uint16 b = convert_uint16((ushort16)(x0.s258b, x0.se, x1.s147a, x1.sd,
                                         x2.s0369, x2.scf));

    return LUMA(r, g, b);
}

/* PoCL turns vstore16 of bytes into 16 byte stores, but merges these. */
#define STORE16(v, p)                                                       \
    do {                                                                    \
        __global uchar *q_ = (p);                                           \
        q_[0] = (v).s0; q_[1] = (v).s1; q_[2] = (v).s2; q_[3] = (v).s3;     \
        q_[4] = (v).s4; q_[5] = (v).s5; q_[6] = (v).s6; q_[7] = (v).s7;     \
        q_[8] = (v).s8; q_[9] = (v).s9; q_[10] = (v).sa; q_[11] = (v).sb;   \
        q_[12] = (v).sc; q_[13] = (v).sd; q_[14] = (v).se; q_[15] = (v).sf; \
    } while (0)

/* Pixels the CPU kernel converts to luma before counting them. */
#define BLOCK 128u

__kernel void histogram_partial(__global const uchar *in,
                                __global uchar *lum, uint npix,
                                uint channels, uint chunk,
                                __global uint *partial)
{
    uint g = (uint)get_global_id(0);
    uint begin = g * chunk, end = min(begin + chunk, npix);
    __global const uchar *y = channels == 1u ? in : lum;
    uint h[8][256];

    for (uint v = 0; v < 256u; v++) {
        for (uint k = 0; k < 8u; k++)
            h[k][v] = 0;
    }
    for (uint b = begin; b < end; b += BLOCK) {
        uint e = min(b + BLOCK, end), i = b;

        /* Luma of the block into lum (still in cache when counted). */
        if (channels == 3u) {
            for (; i + 16u <= e; i += 16u) {
                uchar16 l = convert_uchar16(luma16_rgb(in, i));

                STORE16(l, lum + i);
            }
        }
        if (channels != 1u) {
            for (; i < e; i++)
                lum[i] = (uchar)luma_at(in, i, channels);
        }
        /* Eight sub-histograms, so that runs of equal values do not wait
         * on each other's increments (a little faster than four). */
        for (i = b; i + 8u <= e; i += 8u) {
            h[0][y[i]]++;
            h[1][y[i + 1u]]++;
            h[2][y[i + 2u]]++;
            h[3][y[i + 3u]]++;
            h[4][y[i + 4u]]++;
            h[5][y[i + 5u]]++;
            h[6][y[i + 6u]]++;
            h[7][y[i + 7u]]++;
        }
        for (; i < e; i++)
            h[0][y[i]]++;
    }
    for (uint v = 0; v < 256u; v++) {
        uint t = 0;

        for (uint k = 0; k < 8u; k++)
            t += h[k][v];
        partial[(size_t)g * 256u + v] = t;
    }
}

__kernel void histogram_local(__global const uchar *in,
                              __global uchar *lum, uint npix, uint channels,
                              __global uint *hist)
{
    __local uint lh[256];
    uint lid = (uint)get_local_id(0), lsz = (uint)get_local_size(0);

    for (uint v = lid; v < 256u; v += lsz)
        lh[v] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = (uint)get_global_id(0); i < npix;
         i += (uint)get_global_size(0)) {
        uint y = luma_at(in, i, channels);

        if (channels != 1u)
            lum[i] = (uchar)y;
        atomic_inc(&lh[y]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint v = lid; v < 256u; v += lsz) {
        if (lh[v])
            atomic_add(&hist[v], lh[v]);
    }
}

#define LUT16(t, y)                                                         \
    (uint16)((t)[(y).s0], (t)[(y).s1], (t)[(y).s2], (t)[(y).s3],           \
             (t)[(y).s4], (t)[(y).s5], (t)[(y).s6], (t)[(y).s7],           \
             (t)[(y).s8], (t)[(y).s9], (t)[(y).sa], (t)[(y).sb],           \
             (t)[(y).sc], (t)[(y).sd], (t)[(y).se], (t)[(y).sf])

__kernel void histogram_apply(__global const uchar *lum, __global uchar *out,
                              uint npix, uint chunk,
                              __constant uint *lut)
{
    uint begin = (uint)get_global_id(0) * chunk;
    uint end = min(begin + chunk, npix), i = begin;

    if (begin >= npix)
        return;
    for (; i + 16u <= end; i += 16u) {
        uint16 y = convert_uint16(vload16(0, lum + i));
        uchar16 o = convert_uchar16(LUT16(lut, y));

        STORE16(o, out + i);
    }
    for (; i < end; i++)
        out[i] = (uchar)lut[lum[i]];
}

__kernel void histogram_apply_pairs(__global const uchar *lum,
                                    __global uchar *out, uint npix,
                                    uint chunk, __global const uint *lut2)
{
    uint begin = (uint)get_global_id(0) * chunk;
    uint end = min(begin + chunk, npix), i = begin;

    if (begin >= npix)
        return;
    for (; i + 32u <= end; i += 32u) {
        uint16 y = convert_uint16(*(__global const ushort16 *)(lum + i));

        *(__global ushort16 *)(out + i) = convert_ushort16(LUT16(lut2, y));
    }
    for (; i < end; i++)
        out[i] = (uchar)lut2[lum[i]];
}
