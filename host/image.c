/* Allocation of images and matrices with overflow checks. */
#include "image.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)

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

/* Large buffers are recycled. A freshly mapped 12 MB image costs about
 * 3000 first-touch page faults (6-10 ms measured here, more than the
 * grayscale kernel itself), and glibc never reuses a freed block with
 * 4096-byte alignment. So blocks of at least CACHE_MIN bytes go to a small
 * cache on free, and an allocation takes a cached block whose capacity
 * fits (not more than twice the request). Fresh large blocks are advised
 * to use transparent huge pages. Each block has one page of header before
 * the aligned pointer, holding its capacity. */
#define CACHE_MIN (1u << 20)
#define CACHE_SLOTS 32
#define CACHE_MAX_BYTES ((size_t)1 << 30)

struct header {
    size_t capacity; /* usable bytes after the header page */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static void *cache[CACHE_SLOTS];
static size_t cache_bytes;

static struct header *header_of(void *p)
{
    return (struct header *)((char *)p - CLD_BUFFER_ALIGN);
}

static void *cache_take(size_t bytes)
{
    void *best = NULL;
    int slot = -1;

    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        size_t cap;

        if (!cache[i])
            continue;
        cap = header_of(cache[i])->capacity;
        if (cap >= bytes && cap / 2 <= bytes &&
            (!best || cap < header_of(best)->capacity)) {
            best = cache[i];
            slot = i;
        }
    }
    if (best) {
        cache[slot] = NULL;
        cache_bytes -= header_of(best)->capacity;
    }
    pthread_mutex_unlock(&cache_lock);
    return best;
}

/* True when p was kept for reuse. */
static bool cache_put(void *p)
{
    size_t cap = header_of(p)->capacity;
    bool kept = false;

    if (cap < CACHE_MIN)
        return false;
    pthread_mutex_lock(&cache_lock);
    if (cache_bytes + cap <= CACHE_MAX_BYTES) {
        for (int i = 0; i < CACHE_SLOTS && !kept; i++) {
            if (!cache[i]) {
                cache[i] = p;
                cache_bytes += cap;
                kept = true;
            }
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return kept;
}

void cld_buffer_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i])
            free(header_of(cache[i]));
        cache[i] = NULL;
    }
    cache_bytes = 0;
    pthread_mutex_unlock(&cache_lock);
}

void *cld_buffer_alloc(size_t bytes)
{
    void *base = NULL;
    char *p;
    size_t padded;

    if (bytes == 0 || bytes > SIZE_MAX - 2 * CLD_BUFFER_ALIGN)
        return NULL;
    padded = (bytes + CLD_BUFFER_PAD) & ~(size_t)(CLD_BUFFER_PAD - 1);
    if (padded >= CACHE_MIN && (p = cache_take(padded)) != NULL)
        return p;
    if (posix_memalign(&base, CLD_BUFFER_ALIGN, padded + CLD_BUFFER_ALIGN) !=
        0)
        return NULL;
    p = (char *)base + CLD_BUFFER_ALIGN;
    ((struct header *)base)->capacity = padded;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (padded >= HUGE_PAGE) {
        /* Advice only: fewer faults and TLB misses for big images. */
        uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t e = ((uintptr_t)p + padded) & ~(HUGE_PAGE - 1);

        if (e > a)
            (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
#endif
    return p;
}

void cld_buffer_free(void *p)
{
    if (!p || cache_put(p))
        return;
    free(header_of(p));
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
