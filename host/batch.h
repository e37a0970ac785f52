/* A batch: the items of one `cldispatch run JOB ...` command, planned
 * (inputs walked, output names computed, collisions found) before any work
 * starts, then run through the executor with decode, compute and save
 * overlapped across items. */
#ifndef CLD_BATCH_H
#define CLD_BATCH_H

#include <stdbool.h>
#include <stdio.h>

#include "image_io.h"
#include "jobs.h"

struct cld_batch_opts {
    const struct cld_job *job;
    struct cld_params params;
    const char *outdir;
    enum cld_format format;   /* CLD_FMT_AUTO: keep the input's format */
    int quality;              /* JPEG quality, 0 = default */
    bool overwrite;
    struct cld_image_limits limits;
    const char *device;       /* selector; NULL = "auto" */
    bool explain;             /* print placement decisions */
    unsigned threads;         /* host workers; 0 = number of cores */
    bool verbose;             /* a line per finished item */
    FILE *out;                /* progress and explanations (stdout) */
    FILE *err;                /* error lines (stderr) */
};

struct cld_batch_result {
    unsigned done;
    unsigned failed;
};

/* Run the batch. Per-item failures are counted in res and printed as one
 * line each ("cldispatch: PATH: cause"); the return status is for errors
 * that stop the whole batch before work starts (CLD_ERR_USAGE for name
 * collisions or bad inputs lists, CLD_ERR_NO_DEVICE / CLD_ERR_CL when the
 * chosen device cannot be set up). */
enum cld_status cld_batch_run(const struct cld_batch_opts *o,
                              char *const *inputs, int ninputs,
                              struct cld_batch_result *res);

#endif
