/* Synthetic inputs for calibration, the benchmarks and the device report
 * (targets.h): images with gradients, texture and noise, and random
 * matrices, made the same on every run so that figures compare. */
#include "targets.h"

#include <math.h>
#include <string.h>

uint32_t cld_targets_matrix_side(uint32_t width, uint32_t height)
{
    double side = sqrt((double)width * (double)height) / 4.0;
    uint32_t n = (uint32_t)(side / 16.0 + 0.5) * 16u;

    return n < 32 ? 32 : n;
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Gradients with texture and noise: neither flat (trivial for some jobs)
 * nor pure noise. */
static void fill_image(struct cld_image *img)
{
    uint32_t seed = 0x9e3779b9u;
    uint8_t *px = img->data;

    for (uint32_t y = 0; y < img->height; y++) {
        for (uint32_t x = 0; x < img->width; x++, px += 3) {
            uint32_t r = xorshift(&seed);

            px[0] = (uint8_t)(x * 255u / img->width + (r & 15u));
            px[1] = (uint8_t)(y * 255u / img->height + ((r >> 4) & 15u));
            px[2] = (uint8_t)(((x ^ y) & 0x3fu) * 3u + ((r >> 8) & 31u));
        }
    }
}

static void fill_matrix(struct cld_matrix *m, uint32_t seed)
{
    size_t n = (size_t)m->rows * m->cols;

    for (size_t i = 0; i < n; i++)
        m->data[i] = (float)(xorshift(&seed) >> 8) / 8388608.0f - 1.0f;
}

enum cld_status cld_targets_synth_input(const struct cld_job *job,
                                        uint32_t width, uint32_t height,
                                        bool pixels, struct cld_params *p,
                                        struct cld_data *in)
{
    enum cld_status st = CLD_OK;
    uint32_t n;

    memset(in, 0, sizeof *in);
    in->kind = job->input;
    switch (job->input) {
    case CLD_DATA_NONE:
        /* Generators take their output size as their first size. */
        for (size_t i = 0; i < p->n; i++) {
            if (p->decl[i].type == CLD_PARAM_SIZE) {
                st = cld_params_set_size(p, p->decl[i].name, width,
                                         height);
                break;
            }
        }
        break;
    case CLD_DATA_IMAGE:
        if (pixels) {
            st = cld_image_alloc(&in->img, width, height, 3);
            if (st == CLD_OK)
                fill_image(&in->img);
        } else {
            in->img.width = width;
            in->img.height = height;
            in->img.channels = 3;
        }
        break;
    case CLD_DATA_MATRIX:
        n = cld_targets_matrix_side(width, height);
        st = cld_params_set_int(p, "n", n);
        in->nmat = 2;
        for (int k = 0; k < 2 && st == CLD_OK; k++) {
            if (pixels) {
                st = cld_matrix_alloc(&in->mat[k], n, n);
                if (st == CLD_OK)
                    fill_matrix(&in->mat[k], 0x1234567u + (uint32_t)k);
            } else {
                in->mat[k].rows = in->mat[k].cols = n;
            }
        }
        break;
    }
    if (st == CLD_OK && cld_job_validate(job, p) != CLD_OK) {
        /* A resize needs a target size: half the input. */
        if (cld_params_find(p, "scale") >= 0)
            cld_params_set_real(p, "scale", 0.5);
        if (cld_job_validate(job, p) != CLD_OK)
            st = cld_error_set(CLD_ERR_UNSUPPORTED,
                               "%s: no default parameters to run with "
                               "(%s)", job->name, cld_error_detail());
    }
    if (st != CLD_OK) {
        if (pixels)
            cld_data_free(in);
        memset(in, 0, sizeof *in);
    }
    return st;
}
