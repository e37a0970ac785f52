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
    int png_compression;      /* CLD_PNG_LEVEL(n); 0 = default */
    enum cld_png_filter png_filter;
    bool keep_orientation;    /* JPEG: ignore the EXIF orientation */
    bool no_shrink_on_load;   /* JPEG: always decode at full size */
    bool overwrite;
    struct cld_image_limits limits;
    const char *device;       /* selector; NULL = "auto" */
    bool explain;             /* print placement decisions */
    unsigned threads;         /* host workers; 0 = number of cores */
    unsigned inflight;        /* items per device at once; 0 = default */
    bool verbose;             /* a line per finished item */
    bool progress;            /* a progress line on err, redrawn */
    const char *trace_path;   /* write a Chrome trace here, or NULL */
    FILE *out;                /* progress and explanations (stdout) */
    FILE *err;                /* error lines (stderr) */
    /* Set by a shard of a plan (scaleout.h): the inputs are image files and
     * outputs[i] is the path inputs[i] is written to; no folder walk, no
     * naming. NULL for a plain run. */
    char *const *outputs;
    /* When set, called once per input after the batch (in input order)
     * with its status and, on failure, its error line. */
    void (*on_item)(void *user, size_t index, enum cld_status st,
                    const char *error);
    void *on_item_user;
};

struct cld_batch_result {
    unsigned done;
    unsigned failed;
    unsigned shrunk; /* JPEG items decoded at a reduced scale */
    /* For the summary line: */
    double wall_s;   /* the batch's whole time */
    double mpix;     /* input megapixels of the items done */
    double busy_s;   /* busy time summed over the timeline's lanes */
    unsigned lanes;  /* lanes (host workers, device queues) with work */
    double busiest_s;/* busy time of the busiest lane (the bottleneck) */
    double cpu_s;    /* CPU time of the whole process during the batch
                        (every thread: workers, commits, OpenCL's) */
    unsigned cores;  /* cores the process may run on */
    unsigned retried;/* items run again after a device error */
    unsigned dropped;/* devices left out after repeated errors */
    char share[256]; /* "TARGET 75%, host 25%": items per target */
};

/* Run the batch. Per-item failures are counted in res and printed as one
 * line each ("cldispatch: PATH: cause"); the return status is for errors
 * that stop the whole batch before work starts (CLD_ERR_USAGE for name
 * collisions or bad inputs lists, CLD_ERR_NO_DEVICE / CLD_ERR_CL when the
 * chosen device cannot be set up). */
enum cld_status cld_batch_run(const struct cld_batch_opts *o,
                              char *const *inputs, int ninputs,
                              struct cld_batch_result *res);

/* The items a batch would run, without running them: input and output
 * paths in batch order, folders walked and output names made as
 * cld_batch_run does, with the same usage errors (name collisions are
 * printed to o->err). On success *srcs and *outs are malloc'd arrays of
 * *count malloc'd strings (srcs[i] NULL for generators); free them with
 * cld_batch_items_free. */
enum cld_status cld_batch_items(const struct cld_batch_opts *o,
                                char *const *inputs, int ninputs,
                                char ***srcs, char ***outs, size_t *count);
void cld_batch_items_free(char **srcs, char **outs, size_t count);

#endif
