/* Error-diffusion kernels for the dither job: Floyd-Steinberg on luma, rows
 * scanned left to right, in integer arithmetic exactly as the C reference
 * (host/job_dither.c, which explains the rules):
 *   v   = clamp(16 * luma + err_in[x] + carry, 0, 4080)   (1/16 units)
 *   q   = qtab[v]                    output byte, nearest of N levels
 *   e   = v - 16 * q
 *   right 7/16, down-left 3/16, down 5/16: floor((w * e + 8) / 16) each;
 *   down-right gets what is left, so that e is diffused whole.
 * Errors that would fall outside the image are dropped.
 *
 * dither_serial(in, out, width, height, channels, qtab, err)
 *   One work-item does the whole image (the CPU variant; the order
 *   dependency leaves nothing to share). err holds 2 * width ints.
 * dither_wave(in, out, width, height, channels, qtab, err)
 *   One work-group of R work-items (the GPU variant): work-item r handles
 *   rows r, r + R, ...; in a band of R rows, row r handles pixel t - 2r at
 *   step t, so each row runs two pixels behind the row above, whose errors
 *   it needs up to x + 1. A barrier separates steps. err holds
 *   (R + 1) * width ints, the incoming errors of row y in slot y % (R + 1).
 */

#define LUMA(r, g, b)                                                      \
    (((r) * 19595u + (g) * 38470u + (b) * 7471u + 32768u) >> 16)

static int luma_at(__global const uchar *in, size_t i, uint channels)
{
    __global const uchar *p = in + i * channels;

    if (channels >= 3u)
        return (int)LUMA((uint)p[0], (uint)p[1], (uint)p[2]);
    return p[0];
}

/* floor((w * e + 8) / 16) for |w * e| < 16 * 4096, without relying on
 * the rounding of signed division or shifts. */
static int share(int e, int w)
{
    return (w * e + 8 + 16 * 4096) / 16 - 4096;
}

/* The state of one row between pixels: the carry to the right and the
 * errors still being gathered for the row below at x - 1 and x. */
struct row_state {
    int carry, below_prev, below_here;
};

/* Dither pixel x of a row whose incoming error there is ein; writes the
 * finished error for the row below at x - 1 to below[x - 1]. */
static void step(__global const uchar *in, __global uchar *out, size_t i,
                 uint x, uint width, uint channels,
                 __global const uchar *qtab, int ein, __global int *below,
                 struct row_state *s)
{
    int v = 16 * luma_at(in, i, channels) + ein + s->carry;
    int q, e, e7, e3, e5;

    v = clamp(v, 0, 4080);
    q = qtab[v];
    out[i] = (uchar)q;
    e = v - 16 * q;
    e7 = share(e, 7);
    e3 = share(e, 3);
    e5 = share(e, 5);
    s->carry = e7;
    if (x > 0)
        below[x - 1] = s->below_prev + e3;
    s->below_prev = s->below_here + e5;
    s->below_here = e - e7 - e3 - e5;
    if (x + 1 == width)
        below[x] = s->below_prev;
}

__kernel void dither_serial(__global const uchar *in, __global uchar *out,
                            uint width, uint height, uint channels,
                            __global const uchar *qtab, __global int *err)
{
    __global int *cur = err, *next = err + width;

    for (uint x = 0; x < width; x++)
        cur[x] = 0;
    for (uint y = 0; y < height; y++) {
        struct row_state s = {0, 0, 0};
        size_t row = (size_t)y * width;
        __global int *t;

        for (uint x = 0; x < width; x++)
            step(in, out, row + x, x, width, channels, qtab, cur[x], next,
                 &s);
        t = cur;
        cur = next;
        next = t;
    }
}

__kernel void dither_wave(__global const uchar *in, __global uchar *out,
                          uint width, uint height, uint channels,
                          __global const uchar *qtab, __global int *err)
{
    uint r = (uint)get_local_id(0), nr = (uint)get_local_size(0);
    uint slots = nr + 1u;

    /* Row 0 starts without incoming errors. */
    for (uint x = r; x < width; x += nr)
        err[x] = 0;
    barrier(CLK_GLOBAL_MEM_FENCE);
    for (uint band = 0; band < height; band += nr) {
        uint y = band + r;
        __global int *cur = err + (size_t)(y % slots) * width;
        __global int *below = err + (size_t)((y + 1u) % slots) * width;
        uint steps = width + 2u * (nr - 1u);
        struct row_state s = {0, 0, 0};

        for (uint t = 0; t < steps; t++) {
            if (y < height && t >= 2u * r && t - 2u * r < width) {
                uint x = t - 2u * r;

                step(in, out, (size_t)y * width + x, x, width, channels,
                     qtab, cur[x], below, &s);
            }
            barrier(CLK_GLOBAL_MEM_FENCE);
        }
    }
}
