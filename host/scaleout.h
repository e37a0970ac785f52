/* Scale-out: one batch split into shards that an existing engine (Slurm
 * arrays, mpirun, Kubernetes Indexed Jobs, GNU parallel) runs on many
 * machines. `cldispatch plan` writes a plan file (the sorted manifest of
 * inputs with a SHA-256 hash, the job and its parameters, the output folder
 * and the split into shards, balanced by pixels read from image headers);
 * `cldispatch run --plan` runs one shard, or under MPI every shard of its
 * rank, through the ordinary batch runner; `cldispatch merge` checks that
 * the shards cover every input exactly once.
 *
 * Files: the plan is one JSON document (format below and in README.md).
 * Each shard leaves OUTDIR/.cldispatch/shard-K.json (its summary, renamed
 * into place when the shard ends) and holds OUTDIR/.cldispatch/shard-K.lock
 * while it runs; merge writes OUTDIR/.cldispatch/merged.json and
 * OUTDIR/.cldispatch/failed.txt. */
#ifndef CLD_SCALEOUT_H
#define CLD_SCALEOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chain.h"
#include "error.h"
#include "image_io.h"
#include "jobs.h"

/* The plan file's version: 3 for one job, 4 for a chain of jobs (it adds
 * "steps"; a cldispatch that reads only 3 refuses it rather than run the
 * first step alone). A plan of one job is still written as version 3, so
 * that older cldispatch on other machines run it. */
#define CLD_SCALEOUT_VERSION 3
#define CLD_SCALEOUT_VERSION_CHAIN 4
#define CLD_SCALEOUT_MAX_SHARDS 1000000u
/* Folder under OUTDIR for summaries, locks and the merge's results. */
#define CLD_SCALEOUT_STATE_DIR ".cldispatch"

struct cld_scaleout_item {
    char *input;      /* as given at plan time (relative to the cwd) */
    char *output;     /* OUTDIR/... */
    uint64_t pixels;  /* from the header; 0 when it could not be read */
    uint32_t shard;
};

/* One step of what the plan runs: a job alone is one step, a chain
 * (`A then B`) one per job, in order. */
struct cld_scaleout_step {
    char *job;                /* job name (cld_job_find) */
    struct cld_params params;
};

/* A plan in memory. Owns its strings and items. */
struct cld_scaleout_plan {
    struct cld_scaleout_step steps[CLD_CHAIN_MAX_STEPS];
    unsigned nsteps;          /* 1: a job; 2 or more: a chain */
    enum cld_format format;   /* CLD_FMT_AUTO: keep the input's */
    int quality;              /* 0 = default */
    uint64_t max_pixels;      /* 0 = default */
    /* Codec options of `run`, so that every shard writes what one
     * process would have written. */
    int png_compression;      /* CLD_PNG_LEVEL(n); 0 = default */
    enum cld_png_filter png_filter;
    bool keep_orientation;
    bool no_shrink_on_load;
    char *outdir;
    uint32_t shards;
    struct cld_scaleout_item *items;  /* sorted by input (strcmp) */
    size_t nitems;
    char hash[72];            /* "sha256:" + 64 hex digits */
};

/* Free everything the plan owns and zero it; accepts NULL. */
void cld_scaleout_plan_free(struct cld_scaleout_plan *p);

/* Set the plan's steps from what `run` would run: job with its params, or
 * a chain's job (job->chain; params unused) step by step. */
enum cld_status cld_scaleout_plan_set_job(struct cld_scaleout_plan *p,
                                          const struct cld_job *job,
                                          const struct cld_params *params);

/* The job the plan's steps make, as `run` makes it, into *job and
 * *params: free with cld_chain_job_destroy(*job). CLD_ERR_USAGE (with the
 * step named) when the steps do not make a chain. */
enum cld_status cld_scaleout_plan_job(const struct cld_scaleout_plan *p,
                                      const struct cld_job **job,
                                      struct cld_params *params);

/* Sort the items by input path, assign shards balanced by pixels and
 * compute the hash. p->items, p->nitems, p->shards and the settings must
 * be filled. CLD_ERR_USAGE for a shard count outside 1..MAX_SHARDS or a
 * repeated input. */
enum cld_status cld_scaleout_plan_finish(struct cld_scaleout_plan *p);

/* Assign n items of the given pixel counts to nshards shards: largest
 * first, each to the shard with the fewest pixels so far (ties: the lower
 * index; equal sizes: the earlier item). Afterwards no two shards differ
 * by more than the largest item, whatever the sizes. shard[i] receives
 * item i's shard. Items of 0 pixels count as 1. CLD_ERR_NOMEM only. */
enum cld_status cld_scaleout_split(const uint64_t *pixels, size_t n,
                                   uint32_t nshards, uint32_t *shard);

/* The plan's hash over its canonical form: every setting, then each item's
 * input, output, pixels and shard, in order. out gets "sha256:<hex>". */
void cld_scaleout_plan_hash(const struct cld_scaleout_plan *p,
                            char out[72]);

/* Write the plan as JSON to path, atomically (replaces an existing file). */
enum cld_status cld_scaleout_plan_write(const struct cld_scaleout_plan *p,
                                        const char *path);

/* Read and check a plan: JSON syntax, format name and version, every field
 * present with its type and range, items sorted and unique, shards in
 * range, and the hash. Any failure is CLD_ERR_FORMAT with one detail line
 * "PATH: cause" (or CLD_ERR_NOT_FOUND / CLD_ERR_IO). Free with
 * cld_scaleout_plan_free. */
enum cld_status cld_scaleout_plan_load(const char *path,
                                       struct cld_scaleout_plan *out);

/* Which shards this process runs: first, first + stride, ... below the
 * plan's shard count (none when first >= shards). */
struct cld_scaleout_sel {
    uint32_t first;
    uint32_t stride;
    char source[200];  /* where it came from, for messages */
};

/* Environment lookup (getenv, or a table in tests). */
typedef const char *(*cld_scaleout_getenv_fn)(const char *name);

/* Choose the shards from --shard (flag >= 0) or the engine's environment.
 * Index sources (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX) and --shard
 * name one shard, which must be below nshards. Rank sources
 * (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK) stride by the world size
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE), so that rank r of s runs r, r + s, ...;
 * ranks beyond the shard count run nothing. Every source that is set must
 * agree on the value, and every size on the size; a value that is not a
 * plain decimal number, a rank without a size, or no source at all is
 * CLD_ERR_USAGE with a detail line. The count always comes from the plan. */
enum cld_status cld_scaleout_select(long flag, uint32_t nshards,
                                    cld_scaleout_getenv_fn get,
                                    struct cld_scaleout_sel *sel);

/* Options of `cldispatch run --plan` that belong to the machine running
 * the shard, not to the plan. */
struct cld_scaleout_run_opts {
    const char *device;   /* selector; NULL = auto */
    unsigned threads;     /* 0 = cores */
    bool explain;
    bool verbose;
    FILE *out;
    FILE *err;
};

/* One shard's counts. */
struct cld_scaleout_counts {
    unsigned items;
    unsigned done;      /* processed by this run */
    unsigned skipped;   /* output already there */
    unsigned failed;
    unsigned tmp_removed;  /* temporary files of a killed run removed */
};

/* Run shard k of the plan: take its lock, remove temporary files a killed
 * run left for its outputs, skip outputs that exist, run the rest through
 * the batch runner, fsync the output folders (so the renames are on disk
 * before the summary says so) and rename its summary into place (source,
 * where the shard number came from, is recorded in it). Per-item failures
 * are counted in c; the status is for what stops the shard, which then
 * leaves no summary. */
enum cld_status cld_scaleout_run_shard(const struct cld_scaleout_plan *p,
                                       uint32_t k,
                                       const struct cld_scaleout_run_opts *o,
                                       struct cld_scaleout_counts *c,
                                       const char *source);

/* Result of a merge. */
struct cld_scaleout_merge_result {
    unsigned shards_missing;   /* no summary, or one of another plan */
    unsigned bad_cover;        /* inputs covered zero times or twice, or
                                  reported by the wrong shard */
    unsigned done, skipped, failed;
};

/* Check every shard's summary against the plan and write the combined
 * summary and the failed-input list (paths printed to out). Problems are
 * printed to err, one line each. CLD_OK even when shards are missing: the
 * caller decides the exit code from r. */
enum cld_status cld_scaleout_merge(const struct cld_scaleout_plan *p,
                                   FILE *out, FILE *err,
                                   struct cld_scaleout_merge_result *r);

/* Command-line entry points (exit codes as in cli.h). `cldispatch plan`
 * reuses the option parsing of `run` and hands over its batch options. */
struct cld_batch_opts;
int cld_scaleout_cli_plan(const struct cld_batch_opts *o,
                          char *const *inputs, int ninputs, uint32_t shards,
                          const char *plan_path);
int cld_scaleout_cli_run(int argc, char **argv);
int cld_scaleout_cli_merge(int argc, char **argv);

/* Path of shard k's summary: OUTDIR/.cldispatch/shard-K.json (malloc'd). */
char *cld_scaleout_summary_path(const struct cld_scaleout_plan *p,
                                uint32_t k);

#endif
