/* The median job: the median of the (2R + 1) x (2R + 1) window of every
 * channel, R = 1..3, with clamp-to-edge borders, on the host or with
 * cl/median.cl. Integer selection on both sides: a device gives the same
 * bytes as the host. */
#include <string.h>

#include "jobs.h"

enum { P_RADIUS };

static const struct cld_param median_params[] = {
    {.name = "radius", .type = CLD_PARAM_INT, .metavar = "R", .imin = 1,
     .imax = 3, .idef = 1, .flags = CLD_PARAM_KEY,
     .help = "window of (2R + 1) x (2R + 1) pixels"},
};

/* Variants: median_3x3 (R = 1 only: sorted columns, rows reused down a
 * strip) and median_net (any R: a pruned sorting network). */
enum { MEDIAN_3X3, MEDIAN_NET };

/* Output rows per work-item and work-items per work-group along x, per
 * device type: a CPU work-group function loops over 16 strips of 16 bytes
 * and each strip walks down 16 rows; GPUs take a row a work-item. */
#define CPU_ROWS 16
#define CPU_GROUP 16
#define GPU_ROWS 1
#define GPU_GROUP 64

static int radius_of(const struct cld_params *p)
{
    return (int)cld_param_int(p, P_RADIUS);
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Median of channel c of row y by a sliding histogram (Huang's method):
 * moving one pixel right removes the window's leftmost column and adds a
 * new rightmost one, and the median moves from where it was. med is the
 * median and below the window values under it. */
static void median_row(const struct cld_image *src, int r, int y, int c,
                       uint8_t *drow)
{
    int w = (int)src->width, h = (int)src->height, ch = (int)src->channels;
    int side = 2 * r + 1, mid = (side * side - 1) / 2;
    size_t rb = (size_t)w * ch;
    const uint8_t *rows[7];
    unsigned hist[256] = {0};
    int med = 0, below = 0;

    for (int dy = -r; dy <= r; dy++)
        rows[dy + r] = src->data + (size_t)clampi(y + dy, 0, h - 1) * rb;
    for (int dx = -r; dx <= r; dx++) {
        size_t i = (size_t)clampi(dx, 0, w - 1) * ch + c;

        for (int k = 0; k < side; k++)
            hist[rows[k][i]]++;
    }
    for (int x = 0; x < w; x++) {
        if (x > 0) {
            size_t out = (size_t)clampi(x - 1 - r, 0, w - 1) * ch + c;
            size_t in = (size_t)clampi(x + r, 0, w - 1) * ch + c;

            for (int k = 0; k < side; k++) {
                uint8_t o = rows[k][out], n = rows[k][in];

                hist[o]--;
                below -= o < med;
                hist[n]++;
                below += n < med;
            }
        }
        /* The median is the value with at most mid values below it and
         * more than mid at or below it. */
        while (below > mid)
            below -= (int)hist[--med];
        while (below + (int)hist[med] <= mid)
            below += (int)hist[med++];
        drow[(size_t)x * ch + c] = (uint8_t)med;
    }
}

static enum cld_status median_validate(const struct cld_params *p)
{
    return cld_params_check(p);
}

static enum cld_status median_host(const struct cld_params *p,
                                   const struct cld_data *in,
                                   struct cld_data *out)
{
    const struct cld_image *src = &in->img;
    enum cld_status st;

    if ((st = median_validate(p)) != CLD_OK)
        return st;
    if ((st = cld_image_alloc(&out->img, src->width, src->height,
                              src->channels)) != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    for (uint32_t y = 0; y < src->height; y++) {
        uint8_t *drow = out->img.data + (size_t)y * src->width * src->channels;

        for (uint32_t c = 0; c < src->channels; c++)
            median_row(src, radius_of(p), (int)y, (int)c, drow);
    }
    return CLD_OK;
}

static enum cld_status median_plan(const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_dev_facts *dev,
                                   int variant, struct cld_data *out,
                                   struct cld_work *w)
{
    static const char *const opts[] = {"-DRADIUS=1", "-DRADIUS=2",
                                       "-DRADIUS=3"};
    const struct cld_image *src = &in->img;
    size_t rb = (size_t)src->width * src->channels;
    size_t bytes = rb * src->height;
    int r = radius_of(p), rows = dev->cpu ? CPU_ROWS : GPU_ROWS;
    struct cld_work_launch *l;
    unsigned bin, bout;
    enum cld_status st;

    if ((st = median_validate(p)) != CLD_OK)
        return st;
    if (variant == CLD_VARIANT_AUTO)
        variant = r == 1 ? MEDIAN_3X3 : MEDIAN_NET;
    if (variant == MEDIAN_3X3 && r != 1)
        return cld_error_set(CLD_ERR_UNSUPPORTED, "median: median_3x3 is "
                             "for radius 1, not %d", r);
    if (variant != MEDIAN_3X3 && variant != MEDIAN_NET)
        return cld_error_set(CLD_ERR_INVALID, "median: no variant %d",
                             variant);
    if (rb + 16 + 3 * (size_t)src->channels > INT32_MAX / 2 ||
        src->height > INT32_MAX / 2)
        return cld_error_set(CLD_ERR_TOO_LARGE, "%ux%u image exceeds the "
                             "median kernels' index range", src->width,
                             src->height);
    if ((st = cld_image_alloc(&out->img, src->width, src->height,
                              src->channels)) != CLD_OK)
        return st;
    out->kind = CLD_DATA_IMAGE;
    w->options = opts[r - 1];
    bin = cld_work_buffer(w, src->data, bytes,
                          CLD_WBUF_READ | CLD_WBUF_UPLOAD);
    bout = cld_work_buffer(w, out->img.data, bytes,
                           CLD_WBUF_WRITE | CLD_WBUF_FETCH);
    l = cld_work_launch(w, variant == MEDIAN_3X3 ? "median_3x3"
                                                 : "median_net",
                        0, 2, (rb + 15) / 16,
                        ((size_t)src->height + rows - 1) / rows,
                        dev->cpu ? CPU_GROUP : GPU_GROUP, 1);
    cld_arg_buf(l, bin);
    cld_arg_buf(l, bout);
    cld_arg_i32(l, (int32_t)src->width);
    cld_arg_i32(l, (int32_t)src->height);
    cld_arg_i32(l, (int32_t)src->channels);
    cld_arg_i32(l, rows);
    return CLD_OK;
}

static void median_traits(const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w)
{
    /* Min/max operations per byte: the 3 x 3 kernel's sorted columns, and
     * the pruned networks of 25 and 49 values. */
    static const double ops[] = {18.0, 202.0, 590.0};
    uint64_t npix = (uint64_t)in->img.width * in->img.height;
    int r = radius_of(p);

    w->elements = npix;
    w->bytes_in = npix * in->img.channels;
    w->bytes_out = w->bytes_in;
    w->max_buffer = w->bytes_in;
    w->ops_per_element = in->img.channels * ops[r >= 1 && r <= 3 ? r - 1
                                                                 : 2];
    w->kernel_launches = 1;
}

const struct cld_job cld_job_median = {
    .name = "median",
    .summary = "median of each (2R + 1)^2 window, every channel",
    .cls = CLD_CLASS_IMAGE,
    .flags = CLD_WL_DATA_PARALLEL,
    .input = CLD_DATA_IMAGE,
    .output = CLD_DATA_IMAGE,
    .family = "median",
    CLD_JOB_PARAMS(median_params),
    .validate = median_validate,
    .traits = median_traits,
    .run_host = median_host,
    .plan = median_plan,
};
