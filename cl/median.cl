/* Median filter kernels: the median of the (2R + 1) x (2R + 1) window of
 * every byte of an 8-bit interleaved image (each channel on its own),
 * with clamp-to-edge borders. Built with -DRADIUS=R (1..3).
 *
 * median_3x3(in, out, width, height, ch, rows)            R = 1 only
 *     Sorts each window column of three, then takes the median of three:
 *     the largest of the column minima, the median of the column medians
 *     and the smallest of the column maxima (exact for 3 x 3).
 * median_net(in, out, width, height, ch, rows)            any R
 *     Batcher's odd-even merge sort network over the N window values, of
 *     which only the middle output is stored. The loops have constant
 *     bounds and unroll into straight-line code (28, 140 and 394
 *     compare-exchanges for N = 9, 25 and 49), in which only the 24, 113
 *     and 319 that can reach the middle output matter (counted in a model
 *     of the network) for the optimiser to keep. Counting each value
 *     against 8 thresholds, bit by bit, was 2.6 to 3.6 times slower for
 *     5 x 5 and 7 x 7 on PoCL.
 *
 * A work-item owns 16 consecutive bytes of a row and `rows` rows, and
 * works on uchar16 vectors: interleaved channels need no deinterleaving,
 * as byte b's horizontal neighbours are bytes b +- k * ch. Strips that
 * touch the left or right edge, or run past it, gather their lanes with
 * clamped pixel indices; the others load whole vectors.
 */

#ifndef RADIUS
#define RADIUS 1
#endif
#define SIDE (2 * RADIUS + 1)
#define NWIN (SIDE * SIDE)
#define MID ((NWIN - 1) / 2)

#define LANES (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/* 16 bytes of row at byte j0 + lane, each moved dx pixels and clamped to
 * the row's pixels; lanes past the end of the row repeat its last byte
 * (never stored). */
inline uchar16 load_edge(__global const uchar *row, int j0, int dx, int w,
                         int ch)
{
    int16 j = min(j0 + LANES, (int16)(w * ch - 1));
    int16 x = j / ch, c = j - x * ch;
    int16 i = clamp(x + dx, 0, w - 1) * ch + c;

    return (uchar16)(row[i.s0], row[i.s1], row[i.s2], row[i.s3], row[i.s4],
                     row[i.s5], row[i.s6], row[i.s7], row[i.s8], row[i.s9],
                     row[i.sa], row[i.sb], row[i.sc], row[i.sd], row[i.se],
                     row[i.sf]);
}

inline uchar16 load(__global const uchar *row, int j0, int dx, int w,
                    int ch, bool inside)
{
    return inside ? vload16(0, row + j0 + dx * ch)
                  : load_edge(row, j0, dx, w, ch);
}

/* Store the first n (1..16) bytes of u at p. PoCL 3.1 compiles vstore16
 * of a uchar16 to sixteen byte stores; sixteen element stores are merged
 * into one vector store instead. */
inline void store_n(__global uchar *p, uchar16 u, int n)
{
    if (n >= 16) {
        p[0] = u.s0; p[1] = u.s1; p[2] = u.s2; p[3] = u.s3;
        p[4] = u.s4; p[5] = u.s5; p[6] = u.s6; p[7] = u.s7;
        p[8] = u.s8; p[9] = u.s9; p[10] = u.sa; p[11] = u.sb;
        p[12] = u.sc; p[13] = u.sd; p[14] = u.se; p[15] = u.sf;
    } else {
        uchar t[16];

        vstore16(u, 0, t);
        for (int i = 0; i < n; i++)
            p[i] = t[i];
    }
}

inline uchar16 med3(uchar16 a, uchar16 b, uchar16 c)
{
    return max(min(a, b), min(max(a, b), c));
}

/* The strip of work-item (gx, gy): first byte, first and end rows, and
 * whether every load stays inside the row. False when there is nothing
 * to do. */
inline bool strip(int w, int h, int ch, int rows, int *j0, int *y0,
                  int *y1, bool *inside)
{
    int rb = w * ch;

    *j0 = (int)get_global_id(0) * 16;
    *y0 = (int)get_global_id(1) * rows;
    *y1 = min(*y0 + rows, h);
    *inside = *j0 - RADIUS * ch >= 0 && *j0 + 16 + RADIUS * ch <= rb;
    return *j0 < rb && *y0 < h;
}

__kernel void median_3x3(__global const uchar *in, __global uchar *out,
                         int w, int h, int ch, int rows)
{
    int rb = w * ch, j0, y0, y1;
    bool inside;
    /* The three rows of the window at the three column offsets. */
    uchar16 a[3], b[3], c[3];

    if (!strip(w, h, ch, rows, &j0, &y0, &y1, &inside))
        return;
#pragma unroll
    for (int d = 0; d < 3; d++) {
        a[d] = load(in + (size_t)max(y0 - 1, 0) * rb, j0, d - 1, w, ch,
                    inside);
        b[d] = load(in + (size_t)y0 * rb, j0, d - 1, w, ch, inside);
    }
    for (int y = y0; y < y1; y++) {
        __global const uchar *next = in + (size_t)min(y + 1, h - 1) * rb;
        uchar16 lo[3], mi[3], hi[3], m;

#pragma unroll
        for (int d = 0; d < 3; d++) {
            uchar16 t0, t1, t2;

            c[d] = load(next, j0, d - 1, w, ch, inside);
            /* Sort the column (a, b, c). */
            t0 = min(a[d], b[d]);
            t1 = max(a[d], b[d]);
            t2 = min(t1, c[d]);
            hi[d] = max(t1, c[d]);
            lo[d] = min(t0, t2);
            mi[d] = max(t0, t2);
        }
        m = med3(max(max(lo[0], lo[1]), lo[2]), med3(mi[0], mi[1], mi[2]),
                 min(min(hi[0], hi[1]), hi[2]));
        store_n(out + (size_t)y * rb + j0, m, rb - j0);
#pragma unroll
        for (int d = 0; d < 3; d++) {
            a[d] = b[d];
            b[d] = c[d];
        }
    }
}

/* Smallest power of two at least NWIN (Batcher's networks have 2^k
 * wires). */
#if NWIN <= 16
#define NPOW 16
#elif NWIN <= 32
#define NPOW 32
#else
#define NPOW 64
#endif

__kernel void median_net(__global const uchar *in, __global uchar *out,
                         int w, int h, int ch, int rows)
{
    int rb = w * ch, j0, y0, y1;
    bool inside;

    if (!strip(w, h, ch, rows, &j0, &y0, &y1, &inside))
        return;
    for (int y = y0; y < y1; y++) {
        uchar16 v[NWIN];

#pragma unroll
        for (int dy = 0; dy < SIDE; dy++) {
            __global const uchar *row =
                in + (size_t)clamp(y + dy - RADIUS, 0, h - 1) * rb;

#pragma unroll
            for (int dx = 0; dx < SIDE; dx++)
                v[dy * SIDE + dx] = load(row, j0, dx - RADIUS, w, ch,
                                         inside);
        }
        /* Batcher's odd-even merge sort; wires past NWIN hold +infinity,
         * so comparators that reach them are left out. */
#pragma unroll
        for (int p = 1; p < NPOW; p <<= 1)
#pragma unroll
            for (int k = p; k >= 1; k >>= 1)
#pragma unroll
                for (int j = k % p; j + k < NPOW; j += 2 * k)
#pragma unroll
                    for (int i = 0; i < k; i++) {
                        int a = i + j, b = i + j + k;

                        if (b < NWIN && a / (2 * p) == b / (2 * p)) {
                            uchar16 lo = min(v[a], v[b]);

                            v[b] = max(v[a], v[b]);
                            v[a] = lo;
                        }
                    }
        store_n(out + (size_t)y * rb + j0, v[MID], rb - j0);
    }
}
