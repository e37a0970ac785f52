/* A job's device work described as data, after StarPU's codelets: the
 * buffers it needs (host memory, size, how kernels use them), then the
 * kernel launches (kernel name, arguments that name buffers or scalars,
 * global and local size), in launch groups with an optional host step
 * between groups (equalize's cumulative sum). A job's plan function fills
 * one from its parameters, its input and the facts of the device it will
 * run on, so that it can choose sizes and kernel variants per device type;
 * it makes no OpenCL call. The launcher (launch.c) turns it into
 * enqueues. No OpenCL types here. */
#ifndef CLD_WORK_H
#define CLD_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* What a plan may know of the device, read once when its context is
 * created. */
struct cld_dev_facts {
    bool cpu;                /* CL_DEVICE_TYPE_CPU */
    bool host_unified;       /* buffers wrap host memory (zero-copy) */
    uint64_t local_mem;      /* CL_DEVICE_LOCAL_MEM_SIZE, bytes */
    uint64_t global_mem;     /* CL_DEVICE_GLOBAL_MEM_SIZE, bytes */
    unsigned compute_units;  /* CL_DEVICE_MAX_COMPUTE_UNITS */
    size_t max_group;        /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    unsigned native_float;   /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT */
};

/* Buffer flags. A buffer with host memory wraps it on host-unified
 * devices (zero-copy: CL_MEM_USE_HOST_PTR, which is also what lets the
 * pixel-buffer cache of image.c serve as device memory); elsewhere it is
 * copied in when UPLOAD and read back when FETCH or STEP. A buffer without
 * host memory is device-only scratch. */
#define CLD_WBUF_READ 0x1u   /* kernels read it */
#define CLD_WBUF_WRITE 0x2u  /* kernels write it */
#define CLD_WBUF_UPLOAD 0x4u /* starts with the host memory's contents */
#define CLD_WBUF_FETCH 0x8u  /* ends in host memory after the last launch */
#define CLD_WBUF_STEP 0x10u  /* in host memory before the host step */

struct cld_work_buf {
    void *host;       /* NULL: device-only */
    size_t size;      /* bytes */
    unsigned flags;   /* CLD_WBUF_* */
};

enum cld_arg_kind {
    CLD_ARG_BUF,            /* a buffer, by index */
    CLD_ARG_I32,
    CLD_ARG_U32,
    CLD_ARG_F32,
    CLD_ARG_LOCAL,          /* __local memory of `bytes` */
    CLD_ARG_LOCAL_PER_ITEM  /* __local memory of `bytes` per work-item of
                               the work-group the launch gets */
};

struct cld_work_arg {
    enum cld_arg_kind kind;
    union {
        unsigned buf;
        int32_t i32;
        uint32_t u32;
        float f32;
        size_t bytes;
    } v;
};

/* Launch flags. */
#define CLD_LAUNCH_EXACT_LOCAL 0x1u /* CLD_ERR_UNSUPPORTED rather than a
                                       smaller work-group than asked */
#define CLD_LAUNCH_GROUPS 0x2u      /* global[] counts work-groups */

/* Sized for a chain of up to CLD_CHAIN_MAX_STEPS jobs merged into one
 * work (chain.h): about three buffers, two launches and three host blocks
 * a step. */
#define CLD_WORK_MAX_BUFS 24
#define CLD_WORK_MAX_LAUNCHES 16
#define CLD_WORK_MAX_ARGS 14
#define CLD_WORK_MAX_OWNED 24

/* One kernel launch. global[d] is the work-items needed along d; the
 * launcher rounds it up to whole work-groups. local[d] is the work-group
 * size wanted (fixed sizes matter on PoCL, which compiles a kernel anew
 * for each size it picks itself); all 0 leaves it to the implementation.
 * The launcher shrinks local[0] to what the kernel allows (unless
 * EXACT_LOCAL). */
struct cld_work_launch {
    const char *kernel;
    /* The kernel's program when it is not the work's own (a merged chain
     * runs kernels of several families): cl/<family>.cl built with
     * options; NULL family: the work's. */
    const char *family;
    const char *options;
    unsigned group;     /* launch group; the host step runs between */
    unsigned dims;      /* 1..3 */
    size_t global[3];
    size_t local[3];
    unsigned flags;     /* CLD_LAUNCH_* */
    unsigned nargs;
    struct cld_work_arg args[CLD_WORK_MAX_ARGS];
};

struct cld_work {
    const char *family;   /* cl/<family>.cl */
    const char *options;  /* build options, or NULL */
    unsigned nbufs;
    struct cld_work_buf bufs[CLD_WORK_MAX_BUFS];
    unsigned nlaunches;
    struct cld_work_launch launches[CLD_WORK_MAX_LAUNCHES];
    /* Run on the host after launch group `after` and before the next:
     * the STEP buffers are in host memory; it fills host memory of
     * buffers that later groups upload (created when first used). Plain
     * C; may be NULL. */
    enum cld_status (*step)(struct cld_work *w, unsigned after);
    uint64_t aux[4];      /* the plan's values for the step */
    /* The variant to try when this one reports CLD_ERR_UNSUPPORTED at
     * launch (a work-group the kernel cannot run), or -1. */
    int fallback;
    /* Host memory the work owns (cld_work_alloc), freed with it. */
    unsigned nowned;
    void *owned[CLD_WORK_MAX_OWNED];
    bool overflow;        /* a table above was full: a bug in the plan */
    struct cld_work_launch spill; /* what an overflowing launch fills */
};

/* Round n up to a multiple of m (m > 0). */
static inline size_t cld_round_up(size_t n, size_t m)
{
    return (n + m - 1) / m * m;
}

/* An empty description of family's work. */
void cld_work_init(struct cld_work *w, const char *family,
                   const char *options);

/* Free the owned memory; the struct may be reused after cld_work_init. */
void cld_work_free(struct cld_work *w);

/* size bytes of aligned host memory owned by w (a cld_buffer_alloc block,
 * usable zero-copy), or NULL with CLD_ERR_NOMEM recorded. */
void *cld_work_alloc(struct cld_work *w, size_t size);

/* Take ownership of block, a cld_buffer_alloc block: freed with w (also
 * on failure, CLD_ERR_INTERNAL when w owns too many). */
enum cld_status cld_work_own(struct cld_work *w, void *block);

/* Add a buffer; returns its index for cld_arg_buf. */
unsigned cld_work_buffer(struct cld_work *w, void *host, size_t size,
                         unsigned flags);

/* Add a launch of kernel in group `group` over dims dimensions:
 * global g0 x g1, work-groups l0 x l1 (0 x 0: the implementation's
 * choice). Arguments follow with cld_arg_*, in kernel order. */
struct cld_work_launch *cld_work_launch(struct cld_work *w,
                                        const char *kernel, unsigned group,
                                        unsigned dims, size_t g0, size_t g1,
                                        size_t l0, size_t l1);

void cld_arg_buf(struct cld_work_launch *l, unsigned buf);
void cld_arg_i32(struct cld_work_launch *l, int32_t v);
void cld_arg_u32(struct cld_work_launch *l, uint32_t v);
void cld_arg_f32(struct cld_work_launch *l, float v);
void cld_arg_local(struct cld_work_launch *l, size_t bytes);
void cld_arg_local_per_item(struct cld_work_launch *l, size_t bytes);

/* CLD_ERR_INTERNAL when the plan overflowed a table or names a buffer
 * that does not exist; CLD_OK otherwise. */
enum cld_status cld_work_check(const struct cld_work *w);

#endif
