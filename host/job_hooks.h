/* Entry points into individual kernel variants of the jobs, for the device
 * tests (every variant is checked on every device, not only the one the
 * job picks for that device) and for matmul's shared helpers. Not part of
 * the job interface: callers outside host/job_*.c and tests/ use the job
 * table (jobs.h). */
#ifndef CLD_JOB_HOOKS_H
#define CLD_JOB_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "jobs.h"

/* Blur (or sharpen) on a device; fused: the CPU ring-buffer kernel rather
 * than the two-pass kernels. */
enum cld_status cld__blur_cl(struct cld_clctx *ctx,
                             const struct cld_params *p,
                             const struct cld_data *in, bool sharpen,
                             bool fused, struct cld_data *out);

/* Resize with a named kernel ("resample_half", "resample_rows", ...). */
enum cld_status cld__resize_cl(struct cld_clctx *ctx,
                               const struct cld_params *p,
                               const struct cld_data *in, const char *kernel,
                               struct cld_data *out);

/* The filter taps resize computes for one axis of in samples resized to
 * out, the input standing for full / shrink samples (full == in, shrink
 * 1: the plain input), mirrored when flip (cld_resize_set_source): output
 * o reads samples (*start)[o] .. (*start)[o] + *ntap - 1 with weights
 * (*w)[o * *ntap + t] (summing to 65536). Caller frees *start and *w
 * with cld_buffer_free. */
enum cld_status cld__resize_taps(uint32_t in, uint32_t out, uint32_t full,
                                 uint32_t shrink, bool flip, uint32_t *ntap,
                                 int32_t **start, uint32_t **w);

/* Equalize; partial: per-work-item histograms instead of local atomics. */
enum cld_status cld__equalize_cl(struct cld_clctx *ctx,
                                 const struct cld_data *in, bool partial,
                                 struct cld_data *out);

/* Dither; wave: the wavefront kernel instead of one work-item. */
enum cld_status cld__dither_cl(struct cld_clctx *ctx,
                               const struct cld_params *p,
                               const struct cld_data *in, bool wave,
                               struct cld_data *out);

/* Mandelbrot with `lanes` pixels per work-item (1 = scalar kernel). */
enum cld_status cld__mandelbrot_cl(struct cld_clctx *ctx, uint32_t w,
                                   uint32_t h, uint32_t iter,
                                   unsigned lanes, struct cld_image *out);

/* Matmul pieces: portable random fill in [-1, 1) (state advances), the C
 * reference, and the device product (tiled: the GPU kernel). */
enum cld_status cld__matmul_random(struct cld_matrix *m, uint32_t rows,
                                   uint32_t cols, uint64_t *state);
enum cld_status cld__matmul_ref(const struct cld_matrix *a,
                                const struct cld_matrix *b,
                                struct cld_matrix *c);
enum cld_status cld__matmul_cl(struct cld_clctx *ctx,
                               const struct cld_matrix *a,
                               const struct cld_matrix *b, bool tiled,
                               struct cld_matrix *c);

#endif
