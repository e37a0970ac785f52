/* Pointwise jobs: grayscale (BT.601 luma). */
#include <string.h>

#include "host_clones.h"
#include "jobs.h"

/* Pixels per iteration of the host loops' outer loop. The inner loop's
 * constant trip count lets GCC vectorise it whole even at -O2. */
#define HOST_BLOCK 32

/* Luma of npix pixels of ch (3 or 4, the first three R, G, B) channels.
 * (GCC 12 vectorises the 3-channel case; 4 channels stay scalar.) */
static inline void luma_pixels(const uint8_t *restrict s,
                               uint8_t *restrict d, size_t npix,
                               const size_t ch)
{
    size_t i = 0;

    for (; i + HOST_BLOCK <= npix; i += HOST_BLOCK) {
        const uint8_t *p = s + i * ch;

        for (size_t j = 0; j < HOST_BLOCK; j++)
            d[i + j] = cld_luma(p[j * ch], p[j * ch + 1], p[j * ch + 2]);
    }
    for (; i < npix; i++)
        d[i] = cld_luma(s[i * ch], s[i * ch + 1], s[i * ch + 2]);
}

CLD_HOST_CLONES
static void luma_rgb(const uint8_t *restrict s, uint8_t *restrict d,
                     size_t npix)
{
    luma_pixels(s, d, npix, 3);
}

static void luma_rgba(const uint8_t *restrict s, uint8_t *restrict d,
                      size_t npix)
{
    luma_pixels(s, d, npix, 4);
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
    case 3:
        luma_rgb(s, d, npix);
        break;
    default:
        luma_rgba(s, d, npix);
        break;
    }
    return CLD_OK;
}

/* Work-items per work-group of the grayscale kernels (each converts 16
 * pixels). A fixed size, rather than the implementation's choice for a
 * NULL local size, so that PoCL builds one work-group function for all
 * image sizes and never falls back to tiny groups when the block count has
 * no good divisor. */
#define GRAY_GROUP 256

/* One work-item per whole 16-pixel block, one more for the tail. */
static enum cld_status gray_plan(const struct cld_params *p,
                                 const struct cld_data *in,
                                 const struct cld_dev_facts *dev,
                                 int variant, struct cld_data *out,
                                 struct cld_work *w)
{
    const struct cld_image *src = &in->img;
    size_t npix = (size_t)src->width * src->height;
    uint32_t ch = src->channels;
    struct cld_work_launch *l;
    unsigned bin, bout;
    enum cld_status st;

    (void)p;
    (void)dev;
    (void)variant;
    if (npix > UINT32_MAX / 4)
        return cld_error_set(CLD_ERR_TOO_LARGE,
                             "%zu pixels exceed the kernel's index range",
                             npix);
    st = cld_image_alloc(&out->img, src->width, src->height, 1);
    if (st != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    bin = cld_work_buffer(w, src->data, npix * ch,
                          CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bout = cld_work_buffer(w, out->img.data, npix,
                           CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    l = cld_work_launch(w, ch == 3 ? "pointwise_gray_rgb"
                                   : "pointwise_gray_chan",
                        0, 1, npix / 16 + (npix % 16 != 0), 0, GRAY_GROUP,
                        0);
    cld_arg_buf(l, bin);
    cld_arg_buf(l, bout);
    cld_arg_u32(l, (uint32_t)npix);
    if (ch != 3)
        cld_arg_u32(l, ch);
    return CLD_OK;
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
    .validate = NULL,
    .traits = gray_traits,
    .run_host = gray_host,
    .plan = gray_plan,
};
