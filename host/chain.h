/* Job chains: `run resize --scale 0.5 then blur then sharpen` runs its
 * steps one after the other on each item. A chain stands in a
 * batch as one job (its struct cld_job points back at it): placement
 * prices it as one workload (the first input crosses the bus, the last
 * output comes back, the compute of every step adds up), its C reference
 * is the composition of its steps' references, and on an OpenCL device
 * its steps' device work is merged into one work (work.h) in which step
 * k's output buffer is step k + 1's input buffer, so that intermediates
 * stay in device memory. A step whose work has a host step between its
 * kernels (equalize) breaks the merge: the chain then runs step by step
 * on the device with its intermediates in host memory. Placement may
 * also split a chain's item in two at one step boundary, each part on
 * its own target (targets_decide.c); the parts are made here when the
 * chain is finished (cld_chain_part). No OpenCL types here. */
#ifndef CLD_CHAIN_H
#define CLD_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "jobs.h"
#include "params.h"
#include "work.h"
#include "workload.h"

/* Most steps in one chain. */
#define CLD_CHAIN_MAX_STEPS 8
/* The chain's name ("resize+blur+sharpen") and parameter text fit the run
 * history's fields (placement.h CLD_JOB_MAX, CLD_PARAMS_MAX). */
#define CLD_CHAIN_NAME_MAX 64
#define CLD_CHAIN_KEY_MAX 96

struct cld_chain_step {
    const struct cld_job *job;
    struct cld_params params;   /* validated */
};

struct cld_chain {
    struct cld_job job;         /* the chain as a job (job.chain = this) */
    char name[CLD_CHAIN_NAME_MAX];
    char key[CLD_CHAIN_KEY_MAX];/* "scale=0.5; sigma=2; -" */
    unsigned nsteps;
    struct cld_chain_step steps[CLD_CHAIN_MAX_STEPS];
    /* Whether the steps merge into one device work on CPU devices [0] and
     * on other devices [1], found when the chain is finished, and if not
     * why. */
    bool merges[2];
    char why[2][160];
    /* The parts a split runs (placement prices splitting the chain at one
     * step boundary), made by cld_chain_finish unless this chain is
     * itself a part: head[k] runs steps [0, k) and tail[k] steps [k,
     * nsteps), where those are two steps or more; NULL elsewhere (one
     * step: the step's own job). Owned. */
    struct cld_chain *head[CLD_CHAIN_MAX_STEPS];
    struct cld_chain *tail[CLD_CHAIN_MAX_STEPS];
    bool is_part;
};

/* An empty chain on the heap, and its end with its parts (accepts
 * NULL). */
enum cld_status cld_chain_create(struct cld_chain **out);
void cld_chain_destroy(struct cld_chain *c);

/* Free the chain that job stands for; nothing for a job of the table
 * (or NULL). For those that hold a job that may be a chain. */
void cld_chain_job_destroy(const struct cld_job *job);

/* Append a step: job with parameters p (copied; checked with
 * cld_job_validate). CLD_ERR_USAGE with a detail line naming the step
 * when the chain is full, when job does not take and give an image, or
 * when p is invalid. */
enum cld_status cld_chain_add(struct cld_chain *c, const struct cld_job *job,
                              const struct cld_params *p);

/* Close the chain after its last step: name, parameter text, the job
 * that stands for it, whether its steps merge on each kind of device
 * (their plans tried on a small image), and its parts for a split.
 * CLD_ERR_USAGE when it has fewer than two steps or its name or
 * parameters do not fit the run history's fields; CLD_ERR_NOMEM. */
enum cld_status cld_chain_finish(struct cld_chain *c);

/* The chain of n steps, job[k] with parameters p[k], made and finished
 * (cld_chain_create, cld_chain_add, cld_chain_finish): *out gets its job,
 * to free with cld_chain_job_destroy. On failure (the errors of
 * cld_chain_add and cld_chain_finish) nothing is left. */
enum cld_status cld_chain_make(unsigned n, const struct cld_job *const job[],
                               const struct cld_params p[],
                               const struct cld_job **out);

/* The job that runs steps [from, to) of c, one part of a split (from 0
 * and 0 < to < nsteps, or 0 < from < nsteps and to nsteps), and its
 * parameters into *p: for one step its job and parameters, else the
 * sub-chain made by cld_chain_finish (whose job takes no parameters of
 * its own; *p is then the first step's, unused). NULL for any other
 * range, and for a chain that is itself a part: a chain splits once. */
const struct cld_job *cld_chain_part(const struct cld_chain *c,
                                     unsigned from, unsigned to,
                                     const struct cld_params **p);

/* For an input that shrink-on-load decoded at a reduced scale (image_io.h)
 * when c starts with resize: a copy of c whose first step has parameters
 * first (resize's: c's first step's, set to the size that step gives the
 * full-size image and to the decode's extent by cld_resize_set_size and
 * cld_resize_set_source), so that the chain's output has the same size
 * either way; when that resize would only copy the reduced width x height
 * input (cld_resize_copies), the copy leaves the first step out and the
 * rest runs unchanged on the decode. The copy keeps
 * c's name and parameter text, so that placement and the run history see
 * the same chain, and its job points at the copy; whether its steps merge
 * is c's when it keeps every step (merging depends on the jobs, not on
 * sizes), else found again for its own steps; its split parts are its
 * own. Caller frees with cld_chain_destroy.
 * CLD_ERR_INTERNAL when c does not start with resize. */
enum cld_status cld_chain_shrunk(const struct cld_chain *c,
                                 const struct cld_params *first,
                                 uint32_t width, uint32_t height,
                                 struct cld_chain **out);

/* Every step's parameters valid (cld_job_validate). */
enum cld_status cld_chain_validate(const struct cld_chain *c);

/* The sizes each step sees, without running any: shape[k] is the input
 * of step k (width, height, channels; no pixels), shape[nsteps] the
 * chain's output. From the steps' declared outputs: resize's size rule,
 * the channels of each step's traits. */
void cld_chain_shapes(const struct cld_chain *c, const struct cld_image *in,
                      struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1]);

/* The chain as one workload on input in (pixels not needed): elements
 * and bytes in of the first step, bytes out of the last, operations per
 * element of the first input summed over the steps, launches summed,
 * flags combined; job and params name the whole chain. */
void cld_chain_workload(const struct cld_chain *c, const struct cld_data *in,
                        struct cld_workload *w);

/* The chain's C reference: each step's run_host on the previous step's
 * output. Fills *out (caller frees with cld_data_free). */
enum cld_status cld_chain_run_host(const struct cld_chain *c,
                                   const struct cld_data *in,
                                   struct cld_data *out);

/* The merged device work of the chain on a device with facts dev: each
 * step planned (its automatic variant) on the previous step's output
 * shape, its buffers and launches appended to w (initialised here) with
 * launch groups renumbered, and each intermediate made one device-only
 * buffer: neither uploaded nor read back. *out receives the last step's
 * output buffers. CLD_ERR_UNSUPPORTED with a detail line saying why when
 * the steps cannot be merged (a host step between a step's kernels, a
 * plan with a fallback variant for the launcher to try, an input that a
 * step does not take straight into a buffer); the caller then runs the
 * steps one by one. On failure *out is empty and w freed. */
enum cld_status cld_chain_plan(const struct cld_chain *c,
                               const struct cld_data *in,
                               const struct cld_dev_facts *dev,
                               struct cld_data *out, struct cld_work *w);

/* Whether c's steps merge into one device work on a device with facts
 * dev (cld_chain_plan then succeeds); when not, the chain runs step by
 * step. */
bool cld_chain_merges(const struct cld_chain *c,
                      const struct cld_dev_facts *dev);

/* A device context (clw.h); only passed on. */
struct cld_clctx;

/* Run the chain on in and wait: on the host (ctx NULL) its C reference;
 * on a device its merged work, or its steps one by one when they cannot
 * be merged or the merged work reports CLD_ERR_UNSUPPORTED. Fills *out
 * (caller frees); errors as cld_job_run. */
enum cld_status cld_chain_run(const struct cld_chain *c,
                              struct cld_clctx *ctx,
                              const struct cld_data *in,
                              struct cld_data *out);

/* For --explain: the steps with their parameters, how the chain runs on
 * the host and on an OpenCL device (merged, or step by step and why),
 * and that placement prices it as one workload. */
void cld_chain_explain(FILE *f, const struct cld_chain *c);

#endif
