/* Pointwise kernels: each output pixel depends on one input pixel.
 *
 * pointwise_gray_rgb(in, out, npix)              RGB (3 channels) -> luma
 * pointwise_gray_chan(in, out, npix, channels)   1/2/4 channels -> luma
 *
 * Luma is BT.601 in 16-bit fixed point, exactly as the C reference:
 *   Y = (19595 R + 38470 G + 7471 B + 32768) >> 16
 * (1 channel: copied; 2 channels, gray + alpha: the gray channel.)
 *
 * Work-item i converts the 16 pixels of block i with whole-vector loads and
 * stores; the buffers are typed as uchar16 so that the loads are aligned
 * vector loads (buffer bases are aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN,
 * at least 16 bytes, and a block starts at a multiple of 16 bytes).
 * Work-item npix / 16 finishes the npix % 16 tail pixels one at a time; the
 * host rounds the range up to whole work-groups, and the work-items past
 * the tail do nothing.
 */

#define LUMA(r, g, b) (((r) * 19595u + (g) * 38470u + (b) * 7471u + 32768u) >> 16)

/* Luma of 16 pixels given as three vectors of channel values. */
inline uchar16 luma16(uchar16 r, uchar16 g, uchar16 b)
{
    return convert_uchar16(LUMA(convert_uint16(r), convert_uint16(g),
                                convert_uint16(b)));
}

inline uchar luma1(__global const uchar *p)
{
    return (uchar)LUMA((uint)p[0], (uint)p[1], (uint)p[2]);
}

__kernel void pointwise_gray_rgb(__global const uchar16 *in,
                                 __global uchar16 *out, uint npix)
{
    size_t i = get_global_id(0);
    size_t nblk = npix / 16u;

    if (i < nblk) {
        /* 48 bytes = 16 interleaved RGB pixels. */
        uchar16 x0 = in[3 * i], x1 = in[3 * i + 1], x2 = in[3 * i + 2];
        uchar16 r = (uchar16)(x0.s0369, x0.sCF, x1.s258B, x1.sE,
                              x2.s147A, x2.sD);
        uchar16 g = (uchar16)(x0.s147A, x0.sD, x1.s0369, x1.sCF,
                              x2.s258B, x2.sE);
        uchar16 b = (uchar16)(x0.s258B, x0.sE, x1.s147A, x1.sD,
                              x2.s0369, x2.sCF);

        out[i] = luma16(r, g, b);
    } else if (i == nblk) {
        __global const uchar *p = (__global const uchar *)in;
        __global uchar *o = (__global uchar *)out;

        for (size_t k = nblk * 16u; k < npix; k++)
            o[k] = luma1(p + 3 * k);
    }
}

__kernel void pointwise_gray_chan(__global const uchar16 *in,
                                  __global uchar16 *out, uint npix,
                                  uint channels)
{
    size_t i = get_global_id(0);
    size_t nblk = npix / 16u;

    if (i < nblk) {
        if (channels == 1u) {
            out[i] = in[i];
        } else if (channels == 2u) {
            uchar16 x0 = in[2 * i], x1 = in[2 * i + 1];

            out[i] = (uchar16)(x0.even, x1.even);
        } else {
            /* 64 bytes = 16 RGBA pixels; alpha is ignored. */
            uchar16 x0 = in[4 * i], x1 = in[4 * i + 1];
            uchar16 x2 = in[4 * i + 2], x3 = in[4 * i + 3];
            uchar16 r = (uchar16)(x0.s048C, x1.s048C, x2.s048C, x3.s048C);
            uchar16 g = (uchar16)(x0.s159D, x1.s159D, x2.s159D, x3.s159D);
            uchar16 b = (uchar16)(x0.s26AE, x1.s26AE, x2.s26AE, x3.s26AE);

            out[i] = luma16(r, g, b);
        }
    } else if (i == nblk) {
        __global const uchar *p = (__global const uchar *)in;
        __global uchar *o = (__global uchar *)out;

        for (size_t k = nblk * 16u; k < npix; k++) {
            __global const uchar *q = p + k * channels;

            o[k] = channels >= 3u ? luma1(q) : q[0];
        }
    }
}
