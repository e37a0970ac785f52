/* Allocation of images and matrices with overflow checks. */
#include "image.h"

#include <stdlib.h>

size_t cld_image_bytes(uint32_t width, uint32_t height, uint32_t channels)
{
    size_t px;

    if (width == 0 || height == 0 || channels == 0)
        return 0;
    if ((size_t)width > SIZE_MAX / height)
        return 0;
    px = (size_t)width * height;
    if (px > SIZE_MAX / channels)
        return 0;
    return px * channels;
}

size_t cld_matrix_bytes(uint32_t rows, uint32_t cols)
{
    size_t n = cld_image_bytes(rows, cols, 1);

    if (n == 0 || n > SIZE_MAX / sizeof(float))
        return 0;
    return n * sizeof(float);
}

void *cld_buffer_alloc(size_t bytes)
{
    void *p = NULL;
    size_t padded;

    if (bytes == 0 || bytes > SIZE_MAX - 2 * CLD_BUFFER_PAD)
        return NULL;
    padded = (bytes + CLD_BUFFER_PAD) & ~(size_t)(CLD_BUFFER_PAD - 1);
    if (posix_memalign(&p, CLD_BUFFER_ALIGN, padded) != 0)
        return NULL;
    return p;
}

void cld_buffer_free(void *p)
{
    free(p);
}

enum cld_status cld_image_alloc(struct cld_image *img, uint32_t width,
                                uint32_t height, uint32_t channels)
{
    size_t bytes;

    img->width = img->height = img->channels = 0;
    img->data = NULL;
    if (channels < 1 || channels > 4)
        return cld_error_set(CLD_ERR_INVALID, "%u channels (need 1 to 4)",
                             channels);
    bytes = cld_image_bytes(width, height, channels);
    if (bytes == 0)
        return cld_error_set(CLD_ERR_INVALID, "bad image size %ux%ux%u",
                             width, height, channels);
    img->data = cld_buffer_alloc(bytes);
    if (!img->data)
        return cld_error_set(CLD_ERR_NOMEM, "cannot allocate %zu bytes",
                             bytes);
    img->width = width;
    img->height = height;
    img->channels = channels;
    return CLD_OK;
}

void cld_image_free(struct cld_image *img)
{
    if (!img)
        return;
    cld_buffer_free(img->data);
    img->data = NULL;
    img->width = img->height = img->channels = 0;
}

enum cld_status cld_matrix_alloc(struct cld_matrix *m, uint32_t rows,
                                 uint32_t cols)
{
    size_t bytes = cld_matrix_bytes(rows, cols);

    m->rows = m->cols = 0;
    m->data = NULL;
    if (bytes == 0)
        return cld_error_set(CLD_ERR_INVALID, "bad matrix size %ux%u", rows,
                             cols);
    m->data = cld_buffer_alloc(bytes);
    if (!m->data)
        return cld_error_set(CLD_ERR_NOMEM, "cannot allocate %zu bytes",
                             bytes);
    m->rows = rows;
    m->cols = cols;
    return CLD_OK;
}

void cld_matrix_free(struct cld_matrix *m)
{
    if (!m)
        return;
    cld_buffer_free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}
