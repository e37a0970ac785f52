/* Convolution kernels: Gaussian blur, unsharp mask and Sobel magnitude on
 * 8-bit interleaved images, with clamp-to-edge borders.
 *
 * Arguments shared by the blur family: in, out (rows packed, width * ch
 * bytes each), taps (2r + 1 Gaussian weights, symmetric, summing to 1), r,
 * width, height, ch (1..4).
 *
 * convolve_blur(in, out, taps, r, width, height, ch, rows, ring)
 * convolve_sharpen(in, out, taps, r, width, height, ch, rows, ring, amount)
 *     The CPU variant: both passes in one kernel. A work-item owns a column
 *     strip of STRIP bytes and `rows` output rows; it filters each input row
 *     horizontally once into its slice of `ring` (local memory, 2r + 1 rows
 *     of STRIP floats per work-item, rotated) and sums the ring vertically.
 *     Interleaved channels need no deinterleaving: the horizontal taps of
 *     byte b are bytes b + k * ch. Work is done in 16-byte vectors, four at a
 *     time, which PoCL compiles to SIMD; there is no temporary image.
 * convolve_blur_h(in, tmp, taps, r, width, height, ch)
 * convolve_blur_v(tmp, out, taps, r, width, height, ch)
 * convolve_sharpen_v(tmp, in, out, taps, r, width, height, ch, amount)
 *     The GPU variant: one work-item per byte, a float temporary image
 *     between the horizontal and the vertical pass (coalesced accesses).
 * convolve_sobel(in, out, width, height, ch, rows)
 *     3x3 Sobel magnitude of BT.601 luma (1 channel out). A work-item owns
 *     STRIP pixels and `rows` rows, keeping three rows of partial sums in
 *     registers. Exact: integer luma and gradients, and the magnitude
 *     rounded by an integer test around the float square root.
 *
 * Fixed point, the same as the C reference in host/job_convolve.c, so
 * that every device gives the reference's bytes: the taps are integers
 * summing to 4096 (in floats); the horizontal pass rounds its sums (below
 * 2^20) to 1/16 of a level, h = floor(s / 256 + 0.5), at most 4080; the
 * vertical pass sums taps * h (below 2^24) and rounds floor(v / 65536 +
 * 0.5). Every partial sum is an integer below 2^24, which a float holds
 * exactly, so the order of the sums and FMA contraction change nothing.
 * Sharpen: the blur to 1/256 of a level, b = floor(v / 256 + 0.5), the
 * amount to 1/256, a = floor(amount * 256 + 0.5), then out = c +
 * floor((a * (256 c - b) + 32768) / 65536) in 32-bit integers, clamped.
 */

#define VW 16           /* bytes or pixels per vector */
#define NV 4            /* vectors per work-item strip */
#define STRIP (VW * NV)

#define LUMA(r, g, b) (((r) * 19595u + (g) * 38470u + (b) * 7471u + 32768u) >> 16)

/* PoCL 3.1 stores a uchar16 through vstore16 one byte at a time; sixteen
 * element stores are merged into one vector store instead. */
inline void store16(__global uchar *p, uchar16 u)
{
    p[0] = u.s0; p[1] = u.s1; p[2] = u.s2; p[3] = u.s3;
    p[4] = u.s4; p[5] = u.s5; p[6] = u.s6; p[7] = u.s7;
    p[8] = u.s8; p[9] = u.s9; p[10] = u.sa; p[11] = u.sb;
    p[12] = u.sc; p[13] = u.sd; p[14] = u.se; p[15] = u.sf;
}

/* Store the first n (may be <= 0 or >= 16) bytes of u. */
inline void store_n(__global uchar *p, uchar16 u, int n)
{
    if (n >= VW) {
        store16(p, u);
    } else if (n > 0) {
        uchar t[VW];

        vstore16(u, 0, t);
        for (int i = 0; i < n; i++)
            p[i] = t[i];
    }
}

inline uchar16 to_u8(float16 v)
{
    return convert_uchar16(convert_int16(clamp(v + 0.5f, 0.0f, 255.0f)));
}

/* Horizontal sums to 1/16 of a level (exact: see the top comment). */
inline float16 h_round(float16 s)
{
    return floor(s * (1.0f / 256) + 0.5f);
}

#define SHARP_BIAS (65536u * 25601u + 32768u)

inline int amount_q8(float amount)
{
    return (int)floor(amount * 256.0f + 0.5f);
}

/* Sharpened bytes of c (the input, as floats) whose blur times 65536 is
 * v, with the amount a in 1/256. */
inline uchar16 sharpen_u8(float16 c, float16 v, int a)
{
    int16 ci = convert_int16(c);
    int16 d = ci * 256 - convert_int16(floor(v * (1.0f / 256) + 0.5f));
    uint16 u = as_uint16(d * a) + (uint16)SHARP_BIAS;
    int16 o = ci + (as_int16(u >> 16) - 25601);

    return convert_uchar16(clamp(o, 0, 255));
}

inline uchar16 gather16(__global const uchar *p, int16 i)
{
    return (uchar16)(p[i.s0], p[i.s1], p[i.s2], p[i.s3], p[i.s4], p[i.s5],
                     p[i.s6], p[i.s7], p[i.s8], p[i.s9], p[i.sa], p[i.sb],
                     p[i.sc], p[i.sd], p[i.se], p[i.sf]);
}

#define LANES (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/* Bytes b0 .. b0 + 15 of a row of rb bytes, lanes past the end repeating
 * the last byte of their channel. */
inline int16 lane_bytes(int b0, int rb)
{
    return min((int16)b0 + LANES, (int16)(rb - 1));
}

/* Horizontal blur of the 16 bytes at b0, any position: each lane's taps
 * are clamped to its own channel within the row. A tap whose 16 bytes lie
 * inside the row is one vector load; only the others are gathered. Lanes
 * past the end of the row (never stored) read bytes of the row's last
 * pixel. Each lane's channel comes without a vector division: x = b0 % ch
 * + lane is below 20 and ch at most 4, so x / ch = (x * m) >> 8 with m =
 * ceil(256 / ch). */
inline float16 hblur_edge(__global const uchar *row, int b0, int rb, int ch,
                          int r, __constant float *taps)
{
    int m = (256 + ch - 1) / ch;
    int16 x = (int16)(b0 % ch) + LANES;
    int16 c = x - ((x * m) >> 8) * ch;
    int16 b = (int16)b0 + LANES;
    int16 hi = (int16)(rb - ch) + c;
    float16 s = 0.0f;

    for (int k = -r; k <= r; k++) {
        int o = b0 + k * ch;
        uchar16 v;

        if (o >= 0 && o + VW <= rb)
            v = vload16(0, row + o);
        else
            v = gather16(row, clamp(b + (int16)(k * ch), c, hi));
        s += taps[k + r] * convert_float16(v);
    }
    return h_round(s);
}

#define LD(p) convert_int16(vload16(0, (p)))

/* Horizontal blur of 16 interior bytes (all taps inside the row). */
inline float16 hblur_one(__global const uchar *p, int ch, int r,
                         __constant float *taps)
{
    float16 s = taps[r] * convert_float16(vload16(0, p));

    for (int k = 1; k <= r; k++)
        s += taps[r + k] * convert_float16(LD(p - k * ch) + LD(p + k * ch));
    return h_round(s);
}

/* Horizontal blur of the strip at byte x0 of one row into dst[0..3].
 * Mirrored taps are added as integers first (the weights are symmetric),
 * and four independent sums keep the FMA units busy. */
inline void hblur_strip(__global const uchar *row, int x0, int rb, int ch,
                        int r, __constant float *taps, __local float16 *dst)
{
    if (x0 - r * ch >= 0 && x0 + STRIP + r * ch <= rb) {
        __global const uchar *p = row + x0;
        float wc = taps[r];
        float16 s0 = wc * convert_float16(vload16(0, p));
        float16 s1 = wc * convert_float16(vload16(1, p));
        float16 s2 = wc * convert_float16(vload16(2, p));
        float16 s3 = wc * convert_float16(vload16(3, p));

        for (int k = 1; k <= r; k++) {
            int o = k * ch;
            float wk = taps[r + k];

            s0 += wk * convert_float16(LD(p - o) + LD(p + o));
            s1 += wk * convert_float16(LD(p + 16 - o) + LD(p + 16 + o));
            s2 += wk * convert_float16(LD(p + 32 - o) + LD(p + 32 + o));
            s3 += wk * convert_float16(LD(p + 48 - o) + LD(p + 48 + o));
        }
        dst[0] = h_round(s0);
        dst[1] = h_round(s1);
        dst[2] = h_round(s2);
        dst[3] = h_round(s3);
    } else {
        for (int j = 0; j < NV; j++) {
            int b = x0 + j * VW;

            if (b - r * ch >= 0 && b + VW + r * ch <= rb)
                dst[j] = hblur_one(row + b, ch, r, taps);
            else
                dst[j] = hblur_edge(row, b, rb, ch, r, taps);
        }
    }
}

/* The 16 input bytes at b0 of a row, lanes past the end clamped. */
inline float16 load_center(__global const uchar *row, int b0, int rb)
{
    if (b0 + VW <= rb)
        return convert_float16(vload16(0, row + b0));
    return convert_float16(gather16(row, lane_bytes(b0, rb)));
}

/* The body of convolve_blur and convolve_sharpen (sharpen: out = in +
 * amount * (in - blur)). */
inline void blur_fused(__global const uchar *in, __global uchar *out,
                       __constant float *taps, int r, int width, int height,
                       int ch, int rows, __local float16 *ring, bool sharpen,
                       float amount)
{
    int rb = width * ch;
    int x0 = (int)get_global_id(0) * STRIP;
    int y0 = (int)get_global_id(1) * rows;
    int y1 = min(y0 + rows, height);
    int d = 2 * r + 1;
    int wr, base;

    if (x0 >= rb || y0 >= height)
        return;
    ring += (size_t)get_local_id(0) * d * NV;
    /* Ring slot i holds input row y0 - r + i until it is overwritten. */
    for (int i = 0; i < 2 * r; i++)
        hblur_strip(in + (size_t)clamp(y0 - r + i, 0, height - 1) * rb, x0,
                    rb, ch, r, taps, ring + i * NV);
    wr = 2 * r; /* slot of the next row to filter */
    base = 0;   /* slot of row y - r */
    for (int y = y0; y < y1; y++) {
        __global uchar *dst = out + (size_t)y * rb + x0;
        float16 s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        int sl = base;

        hblur_strip(in + (size_t)min(y + r, height - 1) * rb, x0, rb, ch, r,
                    taps, ring + wr * NV);
        wr = wr + 1 == d ? 0 : wr + 1;
        base = base + 1 == d ? 0 : base + 1;
        for (int k = 0; k < d; k++) {
            __local float16 *q = ring + sl * NV;
            float wk = taps[k];

            s0 += wk * q[0];
            s1 += wk * q[1];
            s2 += wk * q[2];
            s3 += wk * q[3];
            sl = sl + 1 == d ? 0 : sl + 1;
        }
        if (sharpen) {
            __global const uchar *src = in + (size_t)y * rb;
            int a = amount_q8(amount);

            store_n(dst, sharpen_u8(load_center(src, x0, rb), s0, a),
                    rb - x0);
            store_n(dst + 16, sharpen_u8(load_center(src, x0 + 16, rb), s1,
                                         a), rb - x0 - 16);
            store_n(dst + 32, sharpen_u8(load_center(src, x0 + 32, rb), s2,
                                         a), rb - x0 - 32);
            store_n(dst + 48, sharpen_u8(load_center(src, x0 + 48, rb), s3,
                                         a), rb - x0 - 48);
        } else {
            const float q = 1.0f / 65536;

            store_n(dst, to_u8(s0 * q), rb - x0);
            store_n(dst + 16, to_u8(s1 * q), rb - x0 - 16);
            store_n(dst + 32, to_u8(s2 * q), rb - x0 - 32);
            store_n(dst + 48, to_u8(s3 * q), rb - x0 - 48);
        }
    }
}

__kernel void convolve_blur(__global const uchar *in, __global uchar *out,
                            __constant float *taps, int r, int width,
                            int height, int ch, int rows,
                            __local float16 *ring)
{
    blur_fused(in, out, taps, r, width, height, ch, rows, ring, false, 0.0f);
}

__kernel void convolve_sharpen(__global const uchar *in, __global uchar *out,
                               __constant float *taps, int r, int width,
                               int height, int ch, int rows,
                               __local float16 *ring, float amount)
{
    blur_fused(in, out, taps, r, width, height, ch, rows, ring, true, amount);
}

/* GPU variant ------------------------------------------------------------*/

__kernel void convolve_blur_h(__global const uchar *in, __global float *tmp,
                              __constant float *taps, int r, int width,
                              int height, int ch)
{
    int b = (int)get_global_id(0), y = (int)get_global_id(1);
    int rb = width * ch, c, x;
    __global const uchar *row;
    float s = 0.0f;

    if (b >= rb || y >= height)
        return;
    row = in + (size_t)y * rb;
    c = b % ch;
    x = b / ch;
    for (int k = -r; k <= r; k++)
        s += taps[k + r] * row[clamp(x + k, 0, width - 1) * ch + c];
    tmp[(size_t)y * rb + b] = floor(s * (1.0f / 256) + 0.5f);
}

inline float vblur(__global const float *tmp, __constant float *taps, int r,
                   int rb, int height, int b, int y)
{
    float s = 0.0f;

    for (int k = -r; k <= r; k++)
        s += taps[k + r] * tmp[(size_t)clamp(y + k, 0, height - 1) * rb + b];
    return s;
}

__kernel void convolve_blur_v(__global const float *tmp, __global uchar *out,
                              __constant float *taps, int r, int width,
                              int height, int ch)
{
    int b = (int)get_global_id(0), y = (int)get_global_id(1);
    int rb = width * ch;
    float v;

    if (b >= rb || y >= height)
        return;
    v = vblur(tmp, taps, r, rb, height, b, y) * (1.0f / 65536);
    out[(size_t)y * rb + b] = convert_uchar(clamp(v + 0.5f, 0.0f, 255.0f));
}

__kernel void convolve_sharpen_v(__global const float *tmp,
                                 __global const uchar *in,
                                 __global uchar *out, __constant float *taps,
                                 int r, int width, int height, int ch,
                                 float amount)
{
    int b = (int)get_global_id(0), y = (int)get_global_id(1);
    int rb = width * ch;
    size_t i = (size_t)y * rb + b;
    int c, d, o;
    float v;

    if (b >= rb || y >= height)
        return;
    c = in[i];
    v = vblur(tmp, taps, r, rb, height, b, y);
    d = c * 256 - (int)floor(v * (1.0f / 256) + 0.5f);
    o = c + ((int)(((uint)(d * amount_q8(amount)) + SHARP_BIAS) >> 16)
             - 25601);
    out[i] = convert_uchar(clamp(o, 0, 255));
}

/* Sobel ------------------------------------------------------------------*/

/* Luma of pixels px .. px + 15 of a row, all inside it. */
inline int16 luma16(__global const uchar *row, int px, int ch)
{
    __global const uchar *p = row + (size_t)px * ch;

    if (ch == 3) {
        uchar16 a = vload16(0, p), b = vload16(1, p), c = vload16(2, p);
        uint16 r = convert_uint16((uchar16)(a.s0369, a.scf, b.s258b, b.se,
                                            c.s147a, c.sd));
        uint16 g = convert_uint16((uchar16)(a.s147a, a.sd, b.s0369, b.scf,
                                            c.s258b, c.se));
        uint16 bl = convert_uint16((uchar16)(a.s258b, a.se, b.s147a, b.sd,
                                             c.s0369, c.scf));

        return convert_int16(LUMA(r, g, bl));
    }
    if (ch == 4) {
        uchar16 a = vload16(0, p), b = vload16(1, p), c = vload16(2, p),
                d = vload16(3, p);
        uint16 r = convert_uint16((uchar16)(a.s048c, b.s048c, c.s048c,
                                            d.s048c));
        uint16 g = convert_uint16((uchar16)(a.s159d, b.s159d, c.s159d,
                                            d.s159d));
        uint16 bl = convert_uint16((uchar16)(a.s26ae, b.s26ae, c.s26ae,
                                             d.s26ae));

        return convert_int16(LUMA(r, g, bl));
    }
    if (ch == 2) {
        uchar16 a = vload16(0, p), b = vload16(1, p);

        return convert_int16((uchar16)(a.s02468ace, b.s02468ace));
    }
    return convert_int16(vload16(0, p));
}

/* Luma of pixels clamp(px + lane, 0, width - 1), one lane at a time. */
inline int16 luma16_edge(__global const uchar *row, int px, int width,
                         int ch)
{
    int v[VW];

    for (int i = 0; i < VW; i++) {
        __global const uchar *p = row + clamp(px + i, 0, width - 1) * ch;

        v[i] = ch >= 3 ? (int)LUMA((uint)p[0], (uint)p[1], (uint)p[2])
                       : (int)p[0];
    }
    return vload16(0, v);
}

/* Per strip vector j of one row: the horizontal difference right - left
 * and the smoothed sum left + 2 * centre + right of the luma. */
struct sobel_row {
    short16 d[NV];
    short16 s[NV];
};

inline struct sobel_row sobel_row(__global const uchar *row, int x0,
                                  int width, int ch)
{
    struct sobel_row o;
    int16 v[NV + 1];

    /* v[j] holds pixels x0 - 1 + 16 j ..; the centre and right neighbours
     * are v shifted by one and two lanes. */
    for (int j = 0; j <= NV; j++) {
        int px = x0 - 1 + j * VW;

        if (px >= 0 && px + VW <= width)
            v[j] = luma16(row, px, ch);
        else
            v[j] = luma16_edge(row, px, width, ch);
    }
    for (int j = 0; j < NV; j++) {
        int16 a = v[j], n = v[j + 1];
        int16 c = (int16)(a.s1234, a.s5678, a.s9abc, a.sdef, n.s0);
        int16 r = (int16)(a.s2345, a.s6789, a.sabcd, a.sef, n.s01);

        o.d[j] = convert_short16(r - a);
        o.s[j] = convert_short16(a + 2 * c + r);
    }
    return o;
}

/* The nearest integer to sqrt(n), clamped to 255, for integers n below
 * 2^22. The float square root gives a candidate m, and exact integer tests
 * move it by one where the root was off enough to cross a rounding
 * boundary (m is right when m^2 - m < n <= m^2 + m, or n = m = 0), so the
 * result does not rest on the device's sqrt accuracy. */
inline uchar16 magnitude_u8(int16 n)
{
    int16 m = convert_int16(sqrt(convert_float16(n)) + 0.5f);

    /* A true vector comparison is -1. */
    m -= n > m * m + m;
    m += (n <= m * m - m) & (m > 0);
    return convert_uchar16(min(m, 255));
}

__kernel void convolve_sobel(__global const uchar *in, __global uchar *out,
                             int width, int height, int ch, int rows)
{
    int x0 = (int)get_global_id(0) * STRIP;
    int y0 = (int)get_global_id(1) * rows;
    int y1 = min(y0 + rows, height);
    size_t rb = (size_t)width * ch;
    struct sobel_row prev, cur, next;

    if (x0 >= width || y0 >= height)
        return;
    prev = sobel_row(in + (size_t)max(y0 - 1, 0) * rb, x0, width, ch);
    cur = sobel_row(in + (size_t)y0 * rb, x0, width, ch);
    for (int y = y0; y < y1; y++) {
        __global uchar *dst = out + (size_t)y * width + x0;

        next = sobel_row(in + (size_t)min(y + 1, height - 1) * rb, x0, width,
                         ch);
        for (int j = 0; j < NV; j++) {
            int16 gx = convert_int16(prev.d[j] + (short)2 * cur.d[j] +
                                     next.d[j]);
            int16 gy = convert_int16(next.s[j] - prev.s[j]);

            store_n(dst + j * VW, magnitude_u8(gx * gx + gy * gy),
                    width - x0 - j * VW);
        }
        prev = cur;
        cur = next;
    }
}
