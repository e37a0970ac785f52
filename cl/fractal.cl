/* Fractal generators: the Mandelbrot set as an RGB image (3 bytes a pixel).
 *
 * fractal_mandelbrot(out, width, height, x0, y0, scale, iter)
 *     one pixel per work-item; global (width, height)
 * fractal_mandelbrot_vec(out, width, height, x0, y0, scale, iter)
 *     VW (build option -DVW=4, 8 or 16; default 8) adjacent pixels of a row
 *     per work-item as float lanes, SIMD on CPU devices; global
 *     (ceil(width / VW), height)
 *
 * Pixel (x, y) is c = (x0 + (x + 0.5) * scale, y0 - (y + 0.5) * scale).
 * Every step is a single float operation in the order of the C reference
 * (host/job_fractal.c) with contraction off, so escape counts agree bit for
 * bit; the colour depends on the integer count only.
 */
#pragma OPENCL FP_CONTRACT OFF

#define SEG 8u /* counts per palette segment */

__constant uchar stops[5][3] = {
    {0, 7, 100}, {32, 107, 203}, {237, 255, 255}, {255, 170, 0}, {0, 2, 0}};

static void put(__global uchar *p, uint n, uint iter)
{
    uint s = (n / SEG) % 5u, t = (s + 1u) % 5u;
    int f = (int)(n % SEG);

    for (int ch = 0; ch < 3; ch++) {
        int a = stops[s][ch], b = stops[t][ch];
        p[ch] = n >= iter ? 0 : (uchar)(a + (b - a) * f / (int)SEG);
    }
}

/* The main cardioid and the period-2 bulb never escape. */
#define INSIDE(cx, cy, xq, q)                                               \
    (q * (q + xq) <= 0.25f * cy * cy ||                                    \
     (cx + 1.0f) * (cx + 1.0f) + cy * cy <= 0.0625f)

__kernel void fractal_mandelbrot(__global uchar *out, uint width,
                                 uint height, float x0, float y0,
                                 float scale, uint iter)
{
    uint x = (uint)get_global_id(0), y = (uint)get_global_id(1);
    float cx = x0 + ((float)x + 0.5f) * scale;
    float cy = y0 - ((float)y + 0.5f) * scale;
    float xq = cx - 0.25f, q = xq * xq + cy * cy;
    float zr = 0.0f, zi = 0.0f;
    uint n = 0;

    if (x >= width || y >= height)
        return;
    if (INSIDE(cx, cy, xq, q))
        n = iter;
    for (; n < iter; n++) {
        float zr2 = zr * zr, zi2 = zi * zi;
        if (zr2 + zi2 > 4.0f)
            break;
        zi = (zr + zr) * zi + cy;
        zr = zr2 - zi2 + cx;
    }
    put(out + ((size_t)y * width + x) * 3u, n, iter);
}

#ifndef VW
#define VW 8
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatv CAT(float, VW)
#define intv CAT(int, VW)

__constant uint lane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                            14, 15};

__kernel void fractal_mandelbrot_vec(__global uchar *out, uint width,
                                     uint height, float x0, float y0,
                                     float scale, uint iter)
{
    uint xb = (uint)get_global_id(0) * VW, y = (uint)get_global_id(1);
    floatv xs = CAT(convert_float, VW)(CAT(vload, VW)(0, lane) + xb);
    floatv cx = x0 + (xs + 0.5f) * scale;
    float cy = y0 - ((float)y + 0.5f) * scale;
    floatv xq = cx - 0.25f, q = xq * xq + cy * cy;
    floatv zr = 0.0f, zi = 0.0f;
    intv in = INSIDE(cx, cy, xq, q), n = 0, act = ~in;
    uint cnt[VW];

    if (y >= height)
        return;
    for (uint i = 0; i < iter; i++) {
        floatv zr2 = zr * zr, zi2 = zi * zi;
        act &= zr2 + zi2 <= 4.0f;
        if (!any(act))
            break;
        n -= act; /* true lanes are -1 */
        zi = (zr + zr) * zi + cy;
        zr = zr2 - zi2 + cx;
    }
    n = select(n, (intv)(int)iter, in);
    CAT(vstore, VW)(CAT(as_uint, VW)(n), 0, cnt);
    for (uint k = 0; k < VW && xb + k < width; k++)
        put(out + ((size_t)y * width + xb + k) * 3u, cnt[k], iter);
}
