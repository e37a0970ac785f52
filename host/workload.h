/* Plain descriptions of work and of the targets that can run it. Filled by
 * the job catalogue (workloads) and by discovery plus measurement (targets);
 * consumed by placement, which never calls OpenCL. */
#ifndef CLD_WORKLOAD_H
#define CLD_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

/* Workload classes, as listed by `cldispatch --jobs`. */
enum cld_workload_class {
    CLD_CLASS_IMAGE,      /* data-parallel image work */
    CLD_CLASS_NUMERIC,    /* data-parallel numeric (matmul, element-wise) */
    CLD_CLASS_SEQUENTIAL, /* order-dependent (error diffusion, prefix sums) */
    CLD_CLASS_BRANCHY,    /* branch-heavy logic */
    CLD_CLASS_GENERATOR,  /* no input; produces data (fractals) */
    CLD_CLASS_COUNT
};

/* Class flags; a workload may carry several. */
#define CLD_WL_DATA_PARALLEL 0x1u
#define CLD_WL_SEQUENTIAL 0x2u  /* carries an order dependency */
#define CLD_WL_BRANCHY 0x4u     /* work items diverge */

struct cld_workload {
    const char *job;          /* job name, static string */
    char params[96];          /* canonical parameter text, e.g. "sigma=2" */
    enum cld_workload_class cls;
    unsigned flags;           /* CLD_WL_* */
    uint64_t elements;        /* pixels or matrix elements processed */
    uint64_t bytes_in;        /* bytes sent to the target */
    uint64_t bytes_out;       /* bytes read back */
    uint64_t max_buffer;      /* largest single device allocation */
    double ops_per_element;   /* rough arithmetic operations per element */
    uint32_t kernel_launches; /* enqueues per item */
    uint32_t batch;           /* items of this shape in the batch (>= 1) */
    bool needs_fp64;
};

const char *cld_workload_class_str(enum cld_workload_class cls);

#endif
