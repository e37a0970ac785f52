/* Pointwise kernels: each output pixel depends on one input pixel.
 *
 * pointwise_gray_rgb(in, out, npix)   RGB (3 channels) -> 8-bit luma
 * pointwise_gray_chan(in, out, npix, channels)   1/2/4 channels -> luma
 *
 * Luma is BT.601 in 16-bit fixed point, exactly as the C reference:
 *   Y = (19595 R + 38470 G + 7471 B + 32768) >> 16
 * Each work-item converts 16 pixels with explicit vectors, which PoCL's CPU
 * device runs as SIMD; the last work-item finishes the tail pixel by pixel.
 */

#define LUMA(r, g, b) (((r) * 19595u + (g) * 38470u + (b) * 7471u + 32768u) >> 16)

__kernel void pointwise_gray_rgb(__global const uchar *in,
                                 __global uchar *out, uint npix)
{
    uint base = (uint)get_global_id(0) * 16u;

    if (base + 16u <= npix) {
        __global const uchar *p = in + (size_t)base * 3u;
        uchar16 x0 = vload16(0, p);
        uchar16 x1 = vload16(1, p);
        uchar16 x2 = vload16(2, p);
        uint16 r = convert_uint16((uchar16)(x0.s0369, x0.sCF, x1.s258B,
                                            x1.sE, x2.s147A, x2.sD));
        uint16 g = convert_uint16((uchar16)(x0.s147A, x0.sD, x1.s0369,
                                            x1.sCF, x2.s258B, x2.sE));
        uint16 b = convert_uint16((uchar16)(x0.s258B, x0.sE, x1.s147A,
                                            x1.sD, x2.s0369, x2.sCF));
        vstore16(convert_uchar16(LUMA(r, g, b)), 0, out + base);
    } else {
        for (uint i = base; i < npix; i++) {
            uint r = in[i * 3u], g = in[i * 3u + 1u], b = in[i * 3u + 2u];
            out[i] = (uchar)LUMA(r, g, b);
        }
    }
}

__kernel void pointwise_gray_chan(__global const uchar *in,
                                  __global uchar *out, uint npix,
                                  uint channels)
{
    uint base = (uint)get_global_id(0) * 16u;
    uint end = min(base + 16u, npix);

    for (uint i = base; i < end; i++) {
        __global const uchar *p = in + (size_t)i * channels;
        if (channels >= 3u)
            out[i] = (uchar)LUMA((uint)p[0], (uint)p[1], (uint)p[2]);
        else
            out[i] = p[0];
    }
}
