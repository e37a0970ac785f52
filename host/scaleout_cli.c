/* The commands of scale-out: `cldispatch plan`, `cldispatch run --plan`
 * and `cldispatch merge`. They print, choose exit codes and call the plan
 * and shard functions; the work is in scaleout_plan.c and scaleout_run.c. */
#include "scaleout.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "device.h"

static const char usage_run_plan[] =
    "Usage: cldispatch run --plan FILE [--shard K] [-d SEL] [-j N] [-v]\n"
    "                      [--explain]\n"
    "\n"
    "Run one shard of a plan made by `cldispatch plan`. Without --shard, K\n"
    "comes from SLURM_ARRAY_TASK_ID, OMPI_COMM_WORLD_RANK, PMI_RANK,\n"
    "PMIX_RANK or JOB_COMPLETION_INDEX; under mpirun with fewer ranks than\n"
    "shards, rank r of s runs shards r, r+s, ... Outputs that exist are\n"
    "skipped, so a shard that was killed can simply be run again.\n"
    "\n"
    "  --plan FILE      the plan\n"
    "  --shard K        the shard (0-based)\n"
    "  -d, --device SEL, -j, --threads N, -v, --explain: as for run\n";

static const char usage_merge[] =
    "Usage: cldispatch merge FILE\n"
    "\n"
    "Check that every shard of the plan FILE finished and that together\n"
    "they cover every input exactly once; write OUTDIR/.cldispatch/\n"
    "merged.json and failed.txt (one failed input per line).\n"
    "Exit 0: complete, nothing failed; 1: complete, some inputs failed;\n"
    "4: a shard is missing or an input was not covered exactly once.\n";

/* run's mapping, except that a plan file that is missing or does not
 * parse is the caller's mistake (usage), not a failed item. */
static int exit_for(enum cld_status st)
{
    if (st == CLD_ERR_FORMAT || st == CLD_ERR_NOT_FOUND)
        return CLD_EXIT_USAGE;
    return cld__cli_status_exit(st);
}

static int fail(enum cld_status st)
{
    fprintf(stderr, "cldispatch: %s\n", cld_error_detail()[0]
                                            ? cld_error_detail()
                                            : cld_status_str(st));
    return exit_for(st);
}

/* ---- plan ------------------------------------------------------------- */

int cld_scaleout_cli_plan(const struct cld_batch_opts *o,
                          char *const *inputs, int ninputs, uint32_t shards,
                          const char *plan_path)
{
    struct cld_scaleout_plan p;
    struct cld_batch_opts bo = *o;
    char **srcs = NULL, **outs = NULL;
    char *outdir = NULL;
    uint64_t total = 0, lo = UINT64_MAX, hi = 0, *load = NULL;
    size_t n = 0, unreadable = 0, len;
    enum cld_status st;
    int rc;

    memset(&p, 0, sizeof p);
    if (o->job->input != CLD_DATA_IMAGE) {
        fprintf(stderr, "cldispatch: plan: %s is not an image job; only "
                "image batches are split into shards\n", o->job->name);
        return CLD_EXIT_USAGE;
    }
    if (o->overwrite) {
        fprintf(stderr, "cldispatch: plan: --overwrite does not go with a "
                "plan (a shard skips the outputs that exist, which is what "
                "makes it resumable)\n");
        return CLD_EXIT_USAGE;
    }
    if (shards < 1 || shards > CLD_SCALEOUT_MAX_SHARDS) {
        fprintf(stderr, "cldispatch: plan: --shards must be 1..%u\n",
                CLD_SCALEOUT_MAX_SHARDS);
        return CLD_EXIT_USAGE;
    }
    /* "out/" and "out" name one folder; outputs are checked against it. */
    len = strlen(o->outdir);
    while (len > 1 && o->outdir[len - 1] == '/')
        len--;
    outdir = strndup(o->outdir, len);
    if (!outdir)
        return fail(cld_error_set(CLD_ERR_NOMEM, "out of memory"));
    bo.outdir = outdir;
    st = cld_batch_items(&bo, inputs, ninputs, &srcs, &outs, &n);
    if (st != CLD_OK)
        goto out;
    p.items = calloc(n ? n : 1, sizeof *p.items);
    p.outdir = outdir;
    outdir = NULL;
    if (!p.items) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = cld_scaleout_plan_set_job(&p, o->job, &o->params)) != CLD_OK)
        goto out;
    p.format = o->format;
    p.quality = o->quality;
    p.max_pixels = o->limits.max_pixels;
    p.png_compression = o->png_compression;
    p.png_filter = o->png_filter;
    p.keep_orientation = o->keep_orientation;
    p.no_shrink_on_load = o->no_shrink_on_load;
    p.shards = shards;
    for (size_t i = 0; i < n; i++) {
        uint32_t w, h;

        p.items[i].input = srcs[i];
        p.items[i].output = outs[i];
        srcs[i] = outs[i] = NULL;
        p.nitems = i + 1;
        /* Headers only: planning a million files must not decode them. */
        if (cld_image_probe(p.items[i].input, &o->limits, &w, &h) !=
            CLD_OK) {
            fprintf(stderr, "cldispatch: warning: %s (planned anyway; its "
                    "shard will report it as failed)\n", cld_error_detail());
            unreadable++;
            continue;
        }
        p.items[i].pixels = (uint64_t)w * h;
    }
    if ((st = cld_scaleout_plan_finish(&p)) != CLD_OK ||
        (st = cld_scaleout_plan_write(&p, plan_path)) != CLD_OK)
        goto out;
    load = calloc(shards, sizeof *load);
    if (!load) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p.nitems; i++) {
        load[p.items[i].shard] += p.items[i].pixels;
        total += p.items[i].pixels;
    }
    for (uint32_t k = 0; k < shards; k++) {
        lo = load[k] < lo ? load[k] : lo;
        hi = load[k] > hi ? load[k] : hi;
    }
    printf("%s: %zu inputs, %.1f Mpixels, %" PRIu32 " shard%s of %.2f to "
           "%.2f Mpixels; %s\n", plan_path, p.nitems, (double)total / 1e6,
           shards, shards == 1 ? "" : "s", (double)lo / 1e6,
           (double)hi / 1e6, p.hash);
    if (unreadable)
        fprintf(stderr, "cldispatch: warning: %zu input%s could not be "
                "read\n", unreadable, unreadable == 1 ? "" : "s");
    if (p.nitems < shards)
        fprintf(stderr, "cldispatch: warning: %" PRIu32 " shards for %zu "
                "inputs: some shards are empty\n", shards, p.nitems);
out:
    rc = st == CLD_OK ? CLD_EXIT_OK : fail(st);
    cld_batch_items_free(srcs, outs, n);
    cld_scaleout_plan_free(&p);
    free(outdir);
    free(load);
    return rc;
}

/* ---- run --plan ------------------------------------------------------- */

static bool parse_num(const char *s, unsigned long lo, unsigned long hi,
                      unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static const char *env(const char *name)
{
    return getenv(name);
}

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "cldispatch: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cldispatch run --plan --help'.\n");
    return CLD_EXIT_USAGE;
}

int cld_scaleout_cli_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"plan", required_argument, NULL, 'P'},
        {"shard", required_argument, NULL, 'S'},
        {"device", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"explain", no_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct cld_scaleout_run_opts o = {.out = stdout, .err = stderr};
    struct cld_scaleout_plan p;
    struct cld_scaleout_sel sel;
    const char *plan_path = NULL;
    long shard = -1;
    unsigned long v;
    int c, rc = CLD_EXIT_OK;
    enum cld_status st;

    o.device = getenv("CLDISPATCH_DEVICE");
    if (o.device && !*o.device)
        o.device = NULL;
    optind = 0; /* afresh: see cld__steps_find */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:j:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'P':
            plan_path = optarg;
            break;
        case 'S':
            if (!parse_num(optarg, 0, CLD_SCALEOUT_MAX_SHARDS - 1, &v))
                return usage("bad --shard '%s'", optarg);
            shard = (long)v;
            break;
        case 'd':
            o.device = optarg;
            break;
        case 'j':
            if (!parse_num(optarg, 1, 256, &v))
                return usage("bad --threads '%s' (1..256)", optarg);
            o.threads = (unsigned)v;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'E':
            o.explain = true;
            break;
        case 'h':
            fputs(usage_run_plan, stdout);
            return CLD_EXIT_OK;
        case ':':
            return usage("option %s needs a value", argv[optind - 1]);
        default:
            return usage("unknown option '%s' (job options belong to the "
                         "plan)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage("unexpected argument '%s' (the inputs are in the "
                     "plan)", argv[optind]);
    if (!plan_path)
        return usage("%s", "run: missing --plan FILE");
    if (o.device && cld_device_selector_check(o.device) != CLD_OK)
        return usage("%s", cld_error_detail());
    if ((st = cld_scaleout_plan_load(plan_path, &p)) != CLD_OK)
        return fail(st);
    st = cld_scaleout_select(shard, p.shards, env, &sel);
    if (st != CLD_OK) {
        rc = fail(st);
        goto out;
    }
    if (sel.first >= p.shards)
        fprintf(stderr, "cldispatch: %s: no shard for this process (the "
                "plan has %" PRIu32 ")\n", sel.source, p.shards);
    for (uint32_t k = sel.first; k < p.shards; k += sel.stride) {
        struct cld_scaleout_counts cnt;

        st = cld_scaleout_run_shard(&p, k, &o, &cnt, sel.source);
        if (st != CLD_OK) {
            fprintf(stderr, "cldispatch: shard %" PRIu32 ": %s\n", k,
                    cld_error_detail()[0] ? cld_error_detail()
                                          : cld_status_str(st));
            if (exit_for(st) > rc)
                rc = exit_for(st);
        } else {
            fprintf(stderr, "shard %" PRIu32 "/%" PRIu32 " (%s): %u items, "
                    "%u done, %u skipped, %u failed\n", k, p.shards,
                    sel.source, cnt.items, cnt.done, cnt.skipped,
                    cnt.failed);
            if (cnt.failed && rc == CLD_EXIT_OK)
                rc = CLD_EXIT_ITEMS_FAILED;
        }
        /* A shard is at most UINT32_MAX; stop before k wraps around. */
        if (p.shards - k <= sel.stride)
            break;
    }
out:
    cld_scaleout_plan_free(&p);
    return rc;
}

/* ---- merge ------------------------------------------------------------ */

int cld_scaleout_cli_merge(int argc, char **argv)
{
    struct cld_scaleout_plan p;
    struct cld_scaleout_merge_result r;
    enum cld_status st;
    int rc;

    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_merge, stdout);
        return CLD_EXIT_OK;
    }
    if (argc != 2) {
        fputs(usage_merge, stderr);
        return CLD_EXIT_USAGE;
    }
    if ((st = cld_scaleout_plan_load(argv[1], &p)) != CLD_OK)
        return fail(st);
    st = cld_scaleout_merge(&p, stdout, stderr, &r);
    if (st != CLD_OK)
        rc = fail(st);
    else if (r.shards_missing || r.bad_cover)
        rc = CLD_EXIT_INCOMPLETE;
    else
        rc = r.failed ? CLD_EXIT_ITEMS_FAILED : CLD_EXIT_OK;
    cld_scaleout_plan_free(&p);
    return rc;
}
