/* Pointwise jobs: grayscale (BT.601 luma). */
#include <string.h>

#include "jobs.h"

static inline uint8_t luma(uint32_t r, uint32_t g, uint32_t b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 32768u) >> 16);
}

/* Luma of any 1..4 channel image into a new 1-channel image. */
static enum cld_status gray_host(const struct cld_params *p,
                                 const struct cld_data *in,
                                 struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height;
    const uint8_t *s = src->data;
    uint8_t *d;
    enum cld_status st;

    (void)p;
    st = cld_image_alloc(&out->img, src->width, src->height, 1);
    if (st != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    d = out->img.data;
    switch (src->channels) {
    case 1:
        memcpy(d, s, npix);
        break;
    case 2:
        for (size_t i = 0; i < npix; i++)
            d[i] = s[2 * i];
        break;
    default:
        for (size_t i = 0; i < npix; i++, s += src->channels)
            d[i] = luma(s[0], s[1], s[2]);
        break;
    }
    return CLD_OK;
}

static enum cld_status gray_cl(struct cld_clctx *ctx,
                               const struct cld_params *p,
                               const struct cld_data *in,
                               struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height;
    cl_program prog;
    cl_kernel k = NULL;
    cl_mem bin = NULL, bout = NULL;
    cl_uint n = (cl_uint)npix, ch = src->channels;
    size_t global;
    enum cld_status st;

    (void)p;
    if (npix > UINT32_MAX / 4)
        return cld_error_set(CLD_ERR_TOO_LARGE,
                             "%zu pixels exceed the kernel's index range",
                             npix);
    st = cld_image_alloc(&out->img, src->width, src->height, 1);
    if (st != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    if ((st = cld_clctx_program(ctx, "pointwise", NULL, &prog)) != CLD_OK)
        goto out;
    st = cld_clw_kernel(prog, ch == 3 ? "pointwise_gray_rgb"
                                      : "pointwise_gray_chan", &k);
    if (st != CLD_OK)
        goto out;
    if ((st = cld__buf_in(ctx, src->data, npix * ch, &bin)) != CLD_OK ||
        (st = cld__buf_out(ctx, out->img.data, npix, &bout)) != CLD_OK)
        goto out;
    if ((st = cld_clw_arg(k, 0, sizeof bin, &bin)) != CLD_OK ||
        (st = cld_clw_arg(k, 1, sizeof bout, &bout)) != CLD_OK ||
        (st = cld_clw_arg(k, 2, sizeof n, &n)) != CLD_OK)
        goto out;
    if (ch != 3 && (st = cld_clw_arg(k, 3, sizeof ch, &ch)) != CLD_OK)
        goto out;
    global = (npix + 15) / 16;
    st = cld_clw_run(cld_clctx_queue(ctx), k, 1, &global, NULL, 0, NULL,
                     NULL);
    if (st == CLD_OK)
        st = cld__buf_fetch(ctx, bout, out->img.data, npix);
out:
    cld_clw_release_mem(bout);
    cld_clw_release_mem(bin);
    cld_clw_release_kernel(k);
    return st;
}

static void gray_traits(const struct cld_params *p, const struct cld_data *in,
                        struct cld_workload *w)
{
    uint64_t npix = (uint64_t)in->img.width * in->img.height;

    (void)p;
    w->elements = npix;
    w->bytes_in = npix * in->img.channels;
    w->bytes_out = npix;
    w->max_buffer = w->bytes_in;
    w->ops_per_element = 5;
    w->kernel_launches = 1;
}

const struct cld_job cld_job_grayscale = {
    .name = "grayscale",
    .summary = "8-bit grayscale (BT.601 luma)",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "pointwise",
    .options = 0,
    .validate = NULL,
    .traits = gray_traits,
    .run_host = gray_host,
    .run_cl = gray_cl,
};
