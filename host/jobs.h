/* The job catalogue. A job is a declaration: its parameters (params.h), a
 * traits function that describes the workload for placement, a plain C
 * reference (the `host` target and the test oracle), and a plan that
 * describes its device work as data (work.h) for the launcher, with an
 * OpenCL kernel family in cl/. A job file makes no OpenCL call. Adding a
 * job touches one cl/ file, one host/job_*.c file and one entry in the
 * table in jobs.c. No OpenCL types here. */
#ifndef CLD_JOBS_H
#define CLD_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "image.h"
#include "params.h"
#include "work.h"
#include "workload.h"

enum cld_data_kind {
    CLD_DATA_NONE,   /* generators take no input */
    CLD_DATA_IMAGE,
    CLD_DATA_MATRIX  /* one or two float32 matrices */
};

/* What flows into and out of a job. Owns its buffers. */
struct cld_data {
    enum cld_data_kind kind;
    struct cld_image img;
    struct cld_matrix mat[2];
    int nmat;
};

void cld_data_free(struct cld_data *d);

/* A chain of jobs run as one (chain.h). */
struct cld_chain;

struct cld_job {
    const char *name;
    const char *summary;
    enum cld_workload_class cls;
    unsigned flags;         /* CLD_WL_* */
    enum cld_data_kind input;
    enum cld_data_kind output;
    const char *family;     /* cl/<family>.cl */
    /* The parameters it takes, declared once (see params.h). */
    const struct cld_param *params;
    size_t nparams;
    /* Check what the declared ranges cannot (one parameter against
     * another); CLD_ERR_USAGE with a detail when invalid. May be NULL. */
    enum cld_status (*validate)(const struct cld_params *p);
    /* Describe the work for placement (input may be NULL for generators). */
    void (*traits)(const struct cld_params *p, const struct cld_data *in,
                   struct cld_workload *w);
    /* Plain C reference: fills *out (caller frees with cld_data_free). */
    enum cld_status (*run_host)(const struct cld_params *p,
                                const struct cld_data *in,
                                struct cld_data *out);
    /* The device work on a device with these facts: allocates *out (the
     * buffers that receive the results) and fills w (initialised by the
     * caller with the job's family). variant: CLD_VARIANT_AUTO, or one of
     * the job's own variant numbers (its kernels for other device types,
     * for the tests). No OpenCL calls; errors as run_host. */
    enum cld_status (*plan)(const struct cld_params *p,
                            const struct cld_data *in,
                            const struct cld_dev_facts *dev, int variant,
                            struct cld_data *out, struct cld_work *w);
    /* Set on the job that stands for a chain of jobs (chain.h), whose
     * steps carry their own parameters: validation, traits, the C
     * reference and the device run then go to the chain, and the
     * function pointers above are NULL. NULL for every job of the
     * table. */
    const struct cld_chain *chain;
};

/* A declaration's array and its length, for struct cld_job. */
#define CLD_JOB_PARAMS(arr) .params = (arr), \
                            .nparams = sizeof(arr) / sizeof((arr)[0])

/* The defaults of job's parameters into *p. */
void cld_params_default(struct cld_params *p, const struct cld_job *job);

/* Range check (cld_params_check) then the job's own validate. */
enum cld_status cld_job_validate(const struct cld_job *job,
                                 const struct cld_params *p);

/* job's device work on a device with facts dev, as its plan function
 * makes it (see struct cld_job), or for a chain its steps' merged work
 * (cld_chain_plan; variant ignored). */
enum cld_status cld_job_plan(const struct cld_job *job,
                             const struct cld_params *p,
                             const struct cld_data *in,
                             const struct cld_dev_facts *dev, int variant,
                             struct cld_data *out, struct cld_work *w);

/* True when job's device work on a device with facts dev is one work
 * (cld_job_plan) that can be started and left in flight; false for a
 * chain whose steps do not merge there, which cld_job_run runs step by
 * step. */
bool cld_job_one_work(const struct cld_job *job,
                      const struct cld_dev_facts *dev);

/* The job named `name`, or NULL. */
const struct cld_job *cld_job_find(const char *name);
/* The nth job (0-based) or NULL past the end. */
const struct cld_job *cld_job_at(size_t i);

/* Print the catalogue (`cldispatch --jobs`). */
void cld_jobs_print(FILE *f);

#define CLD_VARIANT_AUTO (-1)

/* A device context (clw.h); jobs only pass it on. */
struct cld_clctx;

/* Run a job on the host or on a device context (ctx NULL = host), holding
 * the device's submission lock for the item; in launch.c. */
enum cld_status cld_job_run(const struct cld_job *job, struct cld_clctx *ctx,
                            const struct cld_params *p,
                            const struct cld_data *in, struct cld_data *out);

/* The same with a chosen variant of the job's plan (CLD_VARIANT_AUTO: the
 * plan chooses by device type, and a variant the device cannot run falls
 * back to the plan's fallback). */
enum cld_status cld_job_run_variant(const struct cld_job *job,
                                    struct cld_clctx *ctx,
                                    const struct cld_params *p,
                                    const struct cld_data *in, int variant,
                                    struct cld_data *out);

/* The size resize makes of a width x height image with parameters p
 * (validated as the job does); for shrink-on-load. */
enum cld_status cld_resize_output_size(const struct cld_params *p,
                                       uint32_t width, uint32_t height,
                                       uint32_t *ow, uint32_t *oh);
/* Make resize parameters ask for exactly ow x oh (--size, no --scale): an
 * item shrunk on load still gets the size computed from the full image. */
enum cld_status cld_resize_set_size(struct cld_params *p, uint32_t ow,
                                    uint32_t oh);
/* Tell resize parameters that their input is a JPEG of width x height
 * (upright) decoded at 1/shrink scale and then turned upright by EXIF
 * orientation (1 when it was not): ceil(width / shrink) x ceil(height /
 * shrink) samples, the last of a side that shrink does not divide
 * standing for a partial block. Resize then maps as if the input's extent
 * were width / shrink x height / shrink, as the full image would be
 * resized, clamped to the samples there are (p->source, params.h; not in
 * the parameter text). shrink 1 clears it. CLD_ERR_INVALID for a shrink
 * other than 1, 2, 4, 8, or an empty side; CLD_ERR_INTERNAL when p is not
 * resize's. An input of other sides than that decode's (a chain's merge
 * probe, a synthetic input timed for placement) maps as a plain input. */
enum cld_status cld_resize_set_source(struct cld_params *p, uint32_t width,
                                      uint32_t height, unsigned shrink,
                                      int orientation);
/* True when resize with parameters p would only copy a width x height
 * input: the output is that size and the input's extent is its size (a
 * reduced decode whose extent is fractional still resamples). */
bool cld_resize_copies(const struct cld_params *p, uint32_t width,
                       uint32_t height);

/* Job declarations used before their definition in their own files (the
 * table in jobs.c declares every job itself). */
extern const struct cld_job cld_job_mandelbrot, cld_job_matmul;
extern const struct cld_job cld_job_resize, cld_job_equalize, cld_job_dither;
extern const struct cld_job cld_job_blur, cld_job_sharpen;

#endif
