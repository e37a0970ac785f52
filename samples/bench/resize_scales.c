/* Measurement only, not part of the build: resize at any scale on the host
 * and with each CPU kernel on every OpenCL device (`bench kernels` times
 * only its default, 0.5, which CPU devices run with the halving kernel).
 * It measured the fixed-point resize against the float one it replaced.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -DCL_TARGET_OPENCL_VERSION=120 \
 *       -Ihost -Ibuild -Ibuild/host -o /tmp/resize_scales \
 *       samples/bench/resize_scales.c build/host/libcldispatch.a \
 *       $(pkg-config --libs OpenCL libpng libjpeg zlib json-c nettle) \
 *       -lpthread -lm
 *   POCL_DEVICES="pthread basic" /tmp/resize_scales 0.37 0.75 2
 *
 * Input: a 4000x3000 RGB synthetic image (a ramp with noise). Each figure
 * is the best of 7 runs after a warm-up (the machine is shared). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clw.h"
#include "device.h"
#include "image.h"
#include "job_hooks.h"
#include "jobs.h"

#define RUNS 7
#define WIDTH 4000u
#define HEIGHT 3000u

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Best time of RUNS runs after one warm-up; kernel NULL: the host. */
static int best_of(struct cld_clctx *ctx, const char *kernel,
                   const struct cld_params *p, const struct cld_data *in,
                   double *best)
{
    *best = 1e30;
    for (int r = 0; r <= RUNS; r++) {
        struct cld_data out;
        double t0 = now(), t;
        enum cld_status st = kernel ? cld__resize_cl(ctx, p, in, kernel, &out)
                                    : cld_job_run(cld_job_find("resize"),
                                                  NULL, p, in, &out);

        t = now() - t0;
        if (st == CLD_ERR_UNSUPPORTED)
            return 1;
        if (st != CLD_OK) {
            fprintf(stderr, "resize_scales: %s\n", cld_error_detail());
            return -1;
        }
        cld_data_free(&out);
        if (r > 0 && t < *best)
            *best = t;
    }
    return 0;
}

static void report(double scale, const char *target, const char *kernel,
                   double t)
{
    printf("scale %-6g %-40.40s %-16s %9.2f ms %9.1f MPix/s\n", scale,
           target, kernel, t * 1e3, (double)WIDTH * HEIGHT / t / 1e6);
}

int main(int argc, char **argv)
{
    static const char *const kernels[] = {"resample_rows", "resample_half"};
    struct cld_data in = {.kind = CLD_DATA_IMAGE};
    struct cld_device_list list = {0};
    struct cld_clctx *ctx[8] = {0};
    uint64_t s = 1;
    int ndev = 0, rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: resize_scales SCALE...\n");
        return 2;
    }
    if (cld_image_alloc(&in.img, WIDTH, HEIGHT, 3) != CLD_OK ||
        cld_device_discover(&list) != CLD_OK)
        return 1;
    for (size_t i = 0; i < (size_t)WIDTH * HEIGHT * 3; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        in.img.data[i] = (uint8_t)((i % (WIDTH * 3)) / 48 + (s >> 60));
    }
    for (int d = 0; d < list.ndevices && ndev < 8; d++) {
        if (cld_clctx_create(list.devices[d].device, &ctx[ndev]) == CLD_OK)
            ndev++;
    }
    for (int a = 1; a < argc && rc == 0; a++) {
        struct cld_params p;
        double scale = atof(argv[a]), t;

        cld_params_default(&p, cld_job_find("resize"));
        if (cld_params_set_real(&p, "scale", scale) != CLD_OK) {
            fprintf(stderr, "resize_scales: %s\n", cld_error_detail());
            rc = 2;
            break;
        }
        if ((rc = best_of(NULL, NULL, &p, &in, &t)) == 0)
            report(scale, "host", "-", t);
        for (int d = 0; d < ndev && rc >= 0; d++) {
            for (size_t k = 0; k < 2; k++) {
                rc = best_of(ctx[d], kernels[k], &p, &in, &t);
                if (rc == 0)
                    report(scale, list.devices[d].name, kernels[k], t);
            }
            rc = rc > 0 ? 0 : rc;
        }
    }
    for (int d = 0; d < ndev; d++)
        cld_clctx_destroy(ctx[d]);
    cld_device_list_free(&list);
    cld_image_free(&in.img);
    return rc ? 1 : 0;
}
