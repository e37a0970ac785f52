/* In-memory data that jobs consume and produce: 8-bit interleaved images and
 * float32 row-major matrices. Pixel buffers are page-aligned and padded so that
 * OpenCL CPU devices can use them in place (CL_MEM_USE_HOST_PTR). */
#ifndef CLD_IMAGE_H
#define CLD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Alignment and size padding of every pixel/matrix buffer, in bytes. */
#define CLD_BUFFER_ALIGN 4096u
#define CLD_BUFFER_PAD 64u

struct cld_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels; /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    uint8_t *data;     /* width * height * channels bytes, rows packed;
                          owned, freed by cld_image_free */
};

struct cld_matrix {
    uint32_t rows;
    uint32_t cols;
    float *data; /* rows * cols floats, row-major; owned */
};

/* BT.601 luma in 16-bit fixed point, the one definition used everywhere
 * (jobs, kernels in cl/, and PGM conversion): 0.299 R + 0.587 G + 0.114 B,
 * rounded. */
static inline uint8_t cld_luma(uint32_t r, uint32_t g, uint32_t b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 32768u) >> 16);
}

/* Bytes of one image / matrix, or 0 when the size overflows size_t. */
size_t cld_image_bytes(uint32_t width, uint32_t height, uint32_t channels);
size_t cld_matrix_bytes(uint32_t rows, uint32_t cols);

/* Allocate an image (contents uninitialised). Checks channels (1..4),
 * non-zero sizes and overflow; CLD_ERR_NOMEM / CLD_ERR_INVALID with detail. */
enum cld_status cld_image_alloc(struct cld_image *img, uint32_t width,
                                uint32_t height, uint32_t channels);
/* Free the pixels and zero the struct; accepts NULL and empty images. */
void cld_image_free(struct cld_image *img);

enum cld_status cld_matrix_alloc(struct cld_matrix *m, uint32_t rows,
                                 uint32_t cols);
void cld_matrix_free(struct cld_matrix *m);

/* Aligned, padded allocation used by both; free with cld_buffer_free.
 * Large blocks (1 MiB and up) are recycled through a small cache, so a batch
 * of similar images does not pay first-touch page faults for every item. */
void *cld_buffer_alloc(size_t bytes);
void cld_buffer_free(void *p);
/* Release the blocks kept for reuse (optional; for leak checkers). */
void cld_buffer_cache_clear(void);

#endif
