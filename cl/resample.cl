/* Resampling kernels for the resize job. Both axes are separable filters
 * whose taps the host computes (bilinear, or area averaging on an axis
 * that shrinks by more than 2x): output o reads source start[o] ..
 * start[o] + ntap - 1 with weights w[o * ntap + t]. The weights are
 * integers summing to 1 << WBITS, and everything is unsigned 32-bit
 * integer arithmetic, exactly as in the C reference (host/job_resample.c,
 * which explains the bounds): the vertical pass rounds its sums to 1/256
 * of a level, the horizontal pass rounds to a level; no sum overflows and
 * no clamp is needed. So every device gives the reference's bytes.
 *
 * resample_rows(in, out, in_w, out_w, out_h, channels, sx, wx, ntx,
 *               sy, wy, nty, acc)
 *   CPU variant: a work-item per output row, work-groups of one. The
 *   vertical pass blends source rows 16 bytes at a time into the row acc
 *   (local memory, in_w * channels uints, in 1/256 of a level); the
 *   horizontal pass makes 16 output bytes at a time, gathering from acc
 *   (32-bit gathers: 16-bit ones measured 1.5-2.5x slower on PoCL). Its x
 *   taps are per output byte j: sx[j] indexes acc, weights are tap-major,
 *   wx[t * n + j].
 * resample_half(in, out, out_w, out_h, channels)
 *   CPU, exact halving only: bilinear at 0.5 averages 2x2 blocks with taps
 *   of one half, which is (a + b + c + d + 2) >> 2 in the reference's
 *   fixed point too.
 * resample_direct(in, out, in_w, out_w, out_h, channels, sx, wx, ntx,
 *                 sy, wy, nty)
 *   GPU variant: a work-item per output pixel, taps read from global
 *   memory (2-D range rounded up to whole work-groups; the kernel guards).
 */

#define WBITS 16u
#define MID_SHIFT 8u
#define MID_HALF (1u << (MID_SHIFT - 1u))
#define OUT_SHIFT (2u * WBITS - MID_SHIFT)
#define OUT_HALF (1u << (OUT_SHIFT - 1u))

static void vertical(__global const uchar *src, uint rowlen,
                     __global const uint *w, uint n, __local uint *acc)
{
    uint k = 0;

    for (; k + 16u <= rowlen; k += 16u) {
        uint16 s = (uint16)MID_HALF;

        for (uint j = 0; j < n; j++)
            s += w[j] * convert_uint16(vload16(0, src + (size_t)j * rowlen +
                                                      k));
        vstore16(s >> MID_SHIFT, 0, acc + k);
    }
    for (; k < rowlen; k++) {
        uint s = MID_HALF;

        for (uint j = 0; j < n; j++)
            s += w[j] * (uint)src[(size_t)j * rowlen + k];
        acc[k] = s >> MID_SHIFT;
    }
}

#define GATHER16(p, i)                                                     \
    (uint16)((p)[(i).s0], (p)[(i).s1], (p)[(i).s2], (p)[(i).s3],          \
              (p)[(i).s4], (p)[(i).s5], (p)[(i).s6], (p)[(i).s7],          \
              (p)[(i).s8], (p)[(i).s9], (p)[(i).sa], (p)[(i).sb],          \
              (p)[(i).sc], (p)[(i).sd], (p)[(i).se], (p)[(i).sf])

/* PoCL turns vstore16 of bytes into 16 byte stores, but merges these. */
#define STORE16(v, p)                                                       \
    do {                                                                    \
        __global uchar *q_ = (p);                                           \
        q_[0] = (v).s0; q_[1] = (v).s1; q_[2] = (v).s2; q_[3] = (v).s3;     \
        q_[4] = (v).s4; q_[5] = (v).s5; q_[6] = (v).s6; q_[7] = (v).s7;     \
        q_[8] = (v).s8; q_[9] = (v).s9; q_[10] = (v).sa; q_[11] = (v).sb;   \
        q_[12] = (v).sc; q_[13] = (v).sd; q_[14] = (v).se; q_[15] = (v).sf; \
    } while (0)

__kernel void resample_rows(__global const uchar *in, __global uchar *out,
                            uint in_w, uint out_w, uint out_h,
                            uint channels, __global const int *hidx,
                            __global const uint *hw, uint ntx,
                            __global const int *sy,
                            __global const uint *wy, uint nty,
                            __local uint *acc)
{
    uint oy = (uint)get_global_id(0), j = 0;
    uint in_len = in_w * channels, out_len = out_w * channels;
    __global uchar *dst = out + (size_t)oy * out_len;

    if (oy >= out_h)
        return;
    vertical(in + (size_t)sy[oy] * in_len, in_len, wy + (size_t)oy * nty,
             nty, acc);
    for (; j + 16u <= out_len; j += 16u) {
        int16 i = vload16(0, hidx + j);
        uint16 s = (uint16)OUT_HALF;
        uchar16 u;

        for (uint t = 0; t < ntx; t++, i += (int)channels)
            s += vload16(0, hw + (size_t)t * out_len + j) *
                 GATHER16(acc, i);
        u = convert_uchar16(s >> OUT_SHIFT);
        STORE16(u, dst + j);
    }
    for (; j < out_len; j++) {
        uint s = OUT_HALF;

        for (uint t = 0; t < ntx; t++)
            s += hw[(size_t)t * out_len + j] *
                 (uint)acc[hidx[j] + t * channels];
        dst[j] = (uchar)(s >> OUT_SHIFT);
    }
}

/* Sums of 2x2 blocks plus 2 for the 16 source bytes at x, whose right
 * neighbours are c bytes on. */
static ushort16 quad16(__global const uchar *r0, __global const uchar *r1,
                       uint x, uint c)
{
    return convert_ushort16(vload16(0, r0 + x)) +
           convert_ushort16(vload16(0, r0 + x + c)) +
           convert_ushort16(vload16(0, r1 + x)) +
           convert_ushort16(vload16(0, r1 + x + c)) + (ushort)2;
}

/* Output byte m of a row reads source byte 2m - m % c and its neighbour.
 * Of 16 outputs from m (a multiple of 16), with lo and hi the sums from
 * 2 m - m % c on, pick the right lanes; the phase ph = m % c matters for
 * RGB only. */
static ushort16 pick16(ushort16 lo, ushort16 hi, uint c, uint ph)
{
    if (c == 1u)
        return (ushort16)(lo.even, hi.even);
    if (c == 2u)
        return (ushort16)(lo.s0145, lo.s89cd, hi.s0145, hi.s89cd);
    if (c == 4u)
        return (ushort16)(lo.s0123, lo.s89ab, hi.s0123, hi.s89ab);
    if (ph == 0u)
        return (ushort16)(lo.s012, lo.s678, lo.scde, hi.s234, hi.s89a,
                          hi.se);
    if (ph == 1u)
        return (ushort16)(lo.s01, lo.s567, lo.sbcd, hi.s123, hi.s789,
                          hi.sde);
    return (ushort16)(lo.s0, lo.s456, lo.sabc, hi.s012, hi.s678, hi.scde);
}

__kernel void resample_half(__global const uchar *in, __global uchar *out,
                            uint out_w, uint out_h, uint channels)
{
    uint oy = (uint)get_global_id(0), c = channels, m = 0, ph = 0;
    uint out_len = out_w * c, in_len = 2u * out_len, step = 16u % c;
    __global const uchar *r0 = in + (size_t)oy * 2u * in_len;
    __global const uchar *r1 = r0 + in_len;
    __global uchar *dst = out + (size_t)oy * out_len;

    if (oy >= out_h)
        return;
    /* Whole vectors while the right neighbours stay inside the row; ph is
     * m % c, kept without dividing. */
    for (; 2u * (m + 16u) + c <= in_len; m += 16u) {
        uint x = 2u * m - ph;
        ushort16 q = pick16(quad16(r0, r1, x, c),
                            quad16(r0, r1, x + 16u, c), c, ph);
        uchar16 u = convert_uchar16(q >> (ushort)2);

        STORE16(u, dst + m);
        ph += step;
        if (ph >= c)
            ph -= c;
    }
    for (; m < out_len; m++) {
        uint x = 2u * m - m % c;

        dst[m] = (uchar)((r0[x] + r0[x + c] + r1[x] + r1[x + c] + 2u) >> 2);
    }
}

__kernel void resample_direct(__global const uchar *in, __global uchar *out,
                              uint in_w, uint out_w, uint out_h,
                              uint channels, __global const int *sx,
                              __global const uint *wx, uint ntx,
                              __global const int *sy,
                              __global const uint *wy, uint nty)
{
    uint ox = (uint)get_global_id(0), oy = (uint)get_global_id(1);
    size_t rowlen = (size_t)in_w * channels;
    __global const uchar *src;
    __global const uint *wh, *wv;

    if (ox >= out_w || oy >= out_h)
        return;
    src = in + (size_t)sy[oy] * rowlen + (size_t)sx[ox] * channels;
    wh = wx + (size_t)ox * ntx;
    wv = wy + (size_t)oy * nty;
    for (uint c = 0; c < channels; c++) {
        uint s = OUT_HALF;

        for (uint t = 0; t < ntx; t++) {
            __global const uchar *p = src + t * channels + c;
            uint v = MID_HALF;

            for (uint j = 0; j < nty; j++)
                v += wv[j] * (uint)p[j * rowlen];
            s += wh[t] * (v >> MID_SHIFT);
        }
        out[((size_t)oy * out_w + ox) * channels + c] =
            (uchar)(s >> OUT_SHIFT);
    }
}
