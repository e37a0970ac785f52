/* Argument parsing and the top-level commands. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "bench.h"
#include "calibrate.h"
#include "caps.h"
#include "cli_steps.h"
#include "config.h"
#include "device.h"
#include "jobs.h"
#include "profile.h"
#include "scaleout.h"
#include "targets.h"

static const char usage_main[] =
    "Usage: cldispatch [--help] [--version]\n"
    "       cldispatch --devices [--json]\n"
    "       cldispatch --jobs\n"
    "       cldispatch --calibrate [--job NAME]\n"
    "       cldispatch run JOB [OPTIONS] INPUT... -o OUTDIR\n"
    "       cldispatch run JOB [OPTIONS] then JOB [OPTIONS]... INPUT...\n"
    "                      -o OUTDIR\n"
    "       cldispatch plan JOB [OPTIONS] [then JOB [OPTIONS]]... INPUT...\n"
    "                       -o OUTDIR --shards N --plan FILE\n"
    "       cldispatch run --plan FILE [--shard K]\n"
    "       cldispatch merge FILE\n"
    "       cldispatch bench placement [--quick] [--runs N] [--job NAME]\n"
    "                                  [--passes N] [--no-calibrate]\n"
    "                                  [--explain]\n"
    "       cldispatch bench kernels [--size WxH] [--runs N] [--job NAME]\n"
    "\n"
    "Send image and array jobs to the best processor: the host CPU (plain\n"
    "C), an OpenCL CPU device or an OpenCL GPU, with decoding, compute and\n"
    "saving overlapped.\n"
    "\n"
    "  --devices         list every OpenCL platform and device\n"
    "  --json            with --devices: one JSON document (see README)\n"
    "  --jobs            list the jobs, their options and workload classes\n"
    "  --calibrate       measure every target (bandwidth, launch cost, each\n"
    "                    job's rate; a few seconds) and save the profiles\n"
    "                    under $XDG_CACHE_HOME/cldispatch for placement;\n"
    "                    --job NAME: that job only\n"
    "  plan, run --plan, merge\n"
    "                    split a batch into N shards balanced by pixels,\n"
    "                    run a shard (K from --shard, Slurm, MPI or\n"
    "                    Kubernetes), check the shards cover every input\n"
    "                    once (`cldispatch run --plan --help`)\n"
    "  bench placement   run every job at 256x256, 1024x1024 and 4000x3000\n"
    "                    (--quick: 256x256 and 1024x768) on every target\n"
    "                    after calibrating; report how often the automatic\n"
    "                    choice was the fastest\n"
    "  bench kernels     each job's throughput on each target on a\n"
    "                    4000x3000 synthetic image, cold and warm\n"
    "  --version         print the version\n"
    "  -h, --help        this help; `cldispatch run --help` for run\n"
    "\n"
    "Exit codes: 0 all items done, 1 some items failed, 2 usage error,\n"
    "3 no usable device or OpenCL error.\n";

static const char usage_run[] =
    "Usage: cldispatch run JOB [OPTIONS] [then JOB [OPTIONS]]... INPUT...\n"
    "                      -o OUTDIR\n"
    "\n"
    "Run JOB on each input image (files, or folders walked for .png .jpg\n"
    ".jpeg .ppm .pgm .pnm) and write OUTDIR/<name>.<ext>, keeping names\n"
    "relative to an input folder. Outputs are written atomically.\n"
    "\n"
    "  -o, --output DIR     output folder (created if missing; required)\n"
    "  -d, --device SEL     auto | host | cpu | gpu | N | PLATFORM:NAME\n"
    "                       (default: $CLDISPATCH_DEVICE, else auto)\n"
    "  -f, --format FMT     png | jpg | ppm | pgm (default: the input's)\n"
    "  -q, --quality N      JPEG quality 1..100 (default 90)\n"
    "      --png-compression N  PNG zlib level 0..9 (default 1: run-length,\n"
    "                       fastest; 6 is libpng's usual; 9 smallest)\n"
    "      --png-filter F   none | sub | up | avg | paeth | adaptive\n"
    "                       (default: avg at level 1, adaptive above,\n"
    "                       none at 0)\n"
    "      --keep-orientation  leave JPEGs as stored (default: turn them\n"
    "                       upright by their EXIF orientation)\n"
    "      --no-shrink-on-load  decode JPEGs at full size even when the\n"
    "                       job shrinks them by 2x or more\n"
    "      --overwrite      replace existing outputs (default: refuse)\n"
    "      --max-pixels N   refuse larger images (default 512000000)\n"
    "  -j, --threads N      host worker threads (default: cores)\n"
    "      --inflight N     items on each device at once, 1..64 (default:\n"
    "                       up to 4 as device memory allows; 1: the plain\n"
    "                       loop, one item decoded, run and saved at a\n"
    "                       time on one worker: the sequential baseline)\n"
    "      --explain        per size of item, every candidate target with\n"
    "                       its predicted time and what decided it\n"
    "  -v, --verbose        a line per finished item\n"
    "      --progress, --no-progress  a line of items done, items/s,\n"
    "                       MPix/s and time left, redrawn on stderr\n"
    "                       (default: when stderr is a terminal)\n"
    "      --trace FILE     write the run's timeline (host workers and\n"
    "                       device queues) as Chrome trace JSON, for\n"
    "                       Perfetto or chrome://tracing\n"
    "\n"
    "Each job takes its own options: `cldispatch --jobs` lists them all,\n"
    "`cldispatch run JOB --help` those of JOB.\n"
    "\n"
    "Chains: `run resize --scale 0.5 then blur --sigma 2 then sharpen\n"
    "IN... -o OUT` runs the jobs in turn on each input, on one target, and\n"
    "writes the last one's output. Each job's options follow its name, up\n"
    "to the next `then`; the options above may be anywhere. Image jobs only\n"
    "(up to 8); on an OpenCL device the intermediates stay in device\n"
    "memory (--explain says when a step prevents it).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cldispatch: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cldispatch --help'.\n");
    return CLD_EXIT_USAGE;
}

int cld__cli_status_exit(enum cld_status st)
{
    switch (st) {
    case CLD_OK:
        return CLD_EXIT_OK;
    case CLD_ERR_USAGE:
    case CLD_ERR_INVALID:
        return CLD_EXIT_USAGE;
    case CLD_ERR_CL:
    case CLD_ERR_BUILD:
    case CLD_ERR_NO_PLATFORM:
    case CLD_ERR_NO_DEVICE:
    case CLD_ERR_UNSUPPORTED:
        return CLD_EXIT_DEVICE;
    default:
        return CLD_EXIT_ITEMS_FAILED;
    }
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi,
                      uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    char buf[64];
    char *x;
    uint64_t a, b;

    snprintf(buf, sizeof buf, "%s", s);
    x = strpbrk(buf, "xX");
    if (!x)
        return false;
    *x = '\0';
    if (!parse_u64(buf, 1, 65536, &a) || !parse_u64(x + 1, 1, 65536, &b))
        return false;
    *w = (uint32_t)a;
    *h = (uint32_t)b;
    return true;
}

/* Targets for the "Preferred for" line, with the saved profiles and
 * history; NULL (no line) when they cannot be set up. */
static struct cld_targets *preferred_targets(const struct cld_device_list *l,
                                             struct cld_history *hist)
{
    struct cld_targets *t = NULL;
    struct cld_profile_store *s = NULL;

    if (cld_targets_create(l, &t) != CLD_OK)
        return NULL;
    if (cld_profile_store_open(NULL, &s) == CLD_OK) {
        char warn[512];

        if (cld_targets_load(t, s, hist, NULL, warn, sizeof warn) != CLD_OK)
            cld_history_clear(hist);
        if (warn[0])
            fprintf(stderr, "cldispatch: warning: %s\n", warn);
        cld_profile_store_close(s);
    }
    return t;
}

static int cmd_devices(bool json)
{
    struct cld_device_list list;
    struct cld_history hist;
    struct cld_preferred_ctx pc;
    enum cld_status st = cld_device_discover_isolated(&list);

    if (st != CLD_OK) {
        fprintf(stderr, "cldispatch: device discovery failed: %s\n",
                cld_error_detail());
        return CLD_EXIT_DEVICE;
    }
    cld_history_init(&hist);
    pc.targets = preferred_targets(&list, &hist);
    pc.hist = &hist;
    if (json)
        cld_caps_print_json(stdout, &list,
                            pc.targets ? cld_targets_preferred : NULL, &pc);
    else
        cld_caps_print_text(stdout, &list,
                            pc.targets ? cld_targets_preferred : NULL, &pc);
    cld_targets_destroy((struct cld_targets *)pc.targets);
    cld_history_clear(&hist);
    cld_device_list_warn(&list, stderr);
    if (list.ndevices == 0) {
        fprintf(stderr, "cldispatch: %s\n",
                list.nplatforms == 0
                    ? "no OpenCL platform found (is an ICD such as "
                      "pocl-opencl-icd installed? see /etc/OpenCL/vendors)"
                    : "no OpenCL device found on any platform");
        cld_device_list_free(&list);
        return CLD_EXIT_DEVICE;
    }
    cld_device_list_free(&list);
    return CLD_EXIT_OK;
}

enum run_opt {
    OPT_OVERWRITE = 256,
    OPT_MAX_PIXELS,
    OPT_EXPLAIN,
    OPT_SHARDS,
    OPT_PLAN,
    OPT_PNG_COMPRESSION,
    OPT_PNG_FILTER,
    OPT_KEEP_ORIENTATION,
    OPT_NO_SHRINK,
    OPT_INFLIGHT,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_TRACE,
    /* Job parameters: OPT_PARAM + index into the names run_longopts
     * collects. */
    OPT_PARAM = 512
};

/* Options of `run` and `plan` besides the job's own. */
static const struct option run_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"device", required_argument, NULL, 'd'},
    {"format", required_argument, NULL, 'f'},
    {"quality", required_argument, NULL, 'q'},
    {"threads", required_argument, NULL, 'j'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"overwrite", no_argument, NULL, OPT_OVERWRITE},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"shards", required_argument, NULL, OPT_SHARDS},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"png-compression", required_argument, NULL, OPT_PNG_COMPRESSION},
    {"png-filter", required_argument, NULL, OPT_PNG_FILTER},
    {"keep-orientation", no_argument, NULL, OPT_KEEP_ORIENTATION},
    {"no-shrink-on-load", no_argument, NULL, OPT_NO_SHRINK},
    {"inflight", required_argument, NULL, OPT_INFLIGHT},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"trace", required_argument, NULL, OPT_TRACE},
};

#define NRUN_OPTS (sizeof run_opts / sizeof run_opts[0])
/* Distinct parameter names over all jobs, at most. */
#define MAX_PARAM_NAMES 64

/* The run options, then one long option per distinct parameter name of
 * every job (so that a parameter of another job gets "is not an option of
 * JOB" rather than "unknown option"), then the terminator. names[k] is the
 * name of option OPT_PARAM + k. Returns false when a job declares a name
 * that a run option already has, or too many. */
static bool run_longopts(struct option *lo, const char **names,
                         size_t *nnames)
{
    const struct cld_job *j;
    size_t n = 0;

    memcpy(lo, run_opts, sizeof run_opts);
    for (size_t i = 0; (j = cld_job_at(i)) != NULL; i++) {
        for (size_t k = 0; k < j->nparams; k++) {
            const char *name = j->params[k].name;
            size_t m = 0;

            for (size_t r = 0; r < NRUN_OPTS; r++) {
                if (strcmp(run_opts[r].name, name) == 0)
                    return false;
            }
            while (m < n && strcmp(names[m], name) != 0)
                m++;
            if (m < n)
                continue;
            if (n == MAX_PARAM_NAMES)
                return false;
            names[n] = name;
            lo[NRUN_OPTS + n] = (struct option){name, required_argument,
                                                NULL, OPT_PARAM + (int)n};
            n++;
        }
    }
    lo[NRUN_OPTS + n] = (struct option){NULL, 0, NULL, 0};
    *nnames = n;
    return true;
}

/* The options of one job, from its declaration. */
static void print_job_options(FILE *f, const struct cld_job *job)
{
    fprintf(f, "\nOptions of %s:%s\n", job->name,
            job->nparams ? "" : " (none)");
    for (size_t k = 0; k < job->nparams; k++) {
        char line[200];

        cld_param_describe(&job->params[k], line, sizeof line);
        fprintf(f, "  %s\n", line);
    }
}

/* `run JOB ...`, or with plan set `plan JOB ... --shards N --plan FILE`,
 * which takes the same options. */
/* parse_run's results other than an exit code. */
#define RUN_GO (-1)        /* run (or plan) the batch */
#define RUN_PLAN_FILE (-2) /* `run --plan FILE`: the scale-out module's */

/* Parse `run JOB ...`, or with plan set `plan JOB ... --shards N --plan
 * FILE` (which takes the same options), into *out, *plan_path_out and
 * *shards_out, job parameters validated; the inputs are
 * argv[*first..argc-1]. Returns RUN_GO, RUN_PLAN_FILE, or an exit code
 * after printing why. */
static int parse_run(int argc, char **argv, bool plan,
                     struct cld_batch_opts *out, int *first,
                     const char **plan_path_out, uint64_t *shards_out)
{
    struct option longopts[NRUN_OPTS + MAX_PARAM_NAMES + 1];
    const char *names[MAX_PARAM_NAMES];
    size_t nnames;
    struct cld_batch_opts o;
    const char *plan_path = NULL;
    uint64_t shards = 0;
    const struct cld_job *job;
    struct cld__steps steps;
    struct cld_params sp[CLD_CHAIN_MAX_STEPS];
    uint64_t u;
    int c;

    memset(&o, 0, sizeof o);
    o.progress = isatty(STDERR_FILENO);
    o.out = stdout;
    o.err = stderr;
    o.device = getenv("CLDISPATCH_DEVICE");
    if (o.device && !*o.device)
        o.device = NULL;
    /* `run --plan FILE` has no JOB: the plan holds it. */
    for (int i = 1; !plan && i < argc && argv[1][0] == '-'; i++) {
        if (strcmp(argv[i], "--plan") == 0 ||
            strncmp(argv[i], "--plan=", 7) == 0)
            return RUN_PLAN_FILE;
    }
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") ||
                          !strcmp(argv[1], "-h"))) {
            fputs(usage_run, stdout);
            return CLD_EXIT_OK;
        }
        return usage_error("%s", "run: missing JOB (see --jobs)");
    }
    job = cld_job_find(argv[1]);
    if (!job)
        return usage_error("run: unknown job '%s' (see --jobs)", argv[1]);
    o.job = job;
    if (!run_longopts(longopts, names, &nnames)) {
        fprintf(stderr, "cldispatch: internal error: a job parameter "
                "clashes with a run option\n");
        return CLD_EXIT_USAGE;
    }
    argc--;
    argv++;
    /* `A ... then B ...`: a chain, each step's words parsed in turn. */
    if ((c = cld__steps_find(&steps, argc, argv, job, ":o:d:f:q:j:vh",
                             longopts)) != 0)
        return c;
    for (int k = 0; k < steps.n; k++)
        cld_params_default(&sp[k], steps.job[k]);
    while ((c = cld__steps_getopt(&steps)) != -1) {
        job = steps.job[steps.k];
        if (c >= OPT_PARAM && c < OPT_PARAM + (int)nnames) {
            const char *name = names[c - OPT_PARAM];
            int i = cld_params_find(&sp[steps.k], name);

            if (i < 0) {
                fprintf(stderr, "cldispatch: --%s is not an option of "
                        "%s", name, job->name);
                if (steps.n > 1)
                    fprintf(stderr, " (step %d of the chain)", steps.k + 1);
                fputc('\n', stderr);
                return CLD_EXIT_USAGE;
            }
            if (cld_params_parse(&sp[steps.k], (size_t)i, optarg) != CLD_OK)
                return usage_error("%s", cld_error_detail());
            continue;
        }
        switch (c) {
        case 'o':
            o.outdir = optarg;
            break;
        case 'd':
            o.device = optarg;
            break;
        case 'f':
            o.format = cld_format_from_name(optarg);
            if (o.format == CLD_FMT_UNKNOWN || o.format == CLD_FMT_AUTO)
                return usage_error("bad --format '%s' (png, jpg, ppm, pgm)",
                                   optarg);
            break;
        case 'q':
            if (!parse_u64(optarg, 1, 100, &u))
                return usage_error("bad --quality '%s' (1..100)", optarg);
            o.quality = (int)u;
            break;
        case 'j':
            if (!parse_u64(optarg, 1, 256, &u))
                return usage_error("bad --threads '%s' (1..256)", optarg);
            o.threads = (unsigned)u;
            break;
        case OPT_INFLIGHT:
            if (!parse_u64(optarg, 1, 64, &u))
                return usage_error("bad --inflight '%s' (1..64)", optarg);
            o.inflight = (unsigned)u;
            break;
        case 'v':
            o.verbose = true;
            break;
        case OPT_PROGRESS:
            o.progress = true;
            break;
        case OPT_NO_PROGRESS:
            o.progress = false;
            break;
        case OPT_TRACE:
            o.trace_path = optarg;
            break;
        case 'h':
            fputs(usage_run, stdout);
            for (int k = 0; k < steps.n; k++)
                print_job_options(stdout, steps.job[k]);
            return CLD_EXIT_OK;
        case OPT_OVERWRITE:
            o.overwrite = true;
            break;
        case OPT_MAX_PIXELS:
            if (!parse_u64(optarg, 1, UINT64_C(1) << 40, &u))
                return usage_error("bad --max-pixels '%s'", optarg);
            o.limits.max_pixels = u;
            break;
        case OPT_EXPLAIN:
            o.explain = true;
            break;
        case OPT_SHARDS:
            if (!plan || !parse_u64(optarg, 1, CLD_SCALEOUT_MAX_SHARDS,
                                    &shards))
                return usage_error("bad --shards '%s' (plan: 1..1000000)",
                                   optarg);
            break;
        case OPT_PLAN:
            if (!plan)
                return usage_error("%s", "--plan FILE comes right after "
                                   "run, without a JOB");
            plan_path = optarg;
            break;
        case OPT_PNG_COMPRESSION:
            if (!parse_u64(optarg, 0, 9, &u))
                return usage_error("bad --png-compression '%s' (0..9)",
                                   optarg);
            o.png_compression = CLD_PNG_LEVEL((int)u);
            break;
        case OPT_PNG_FILTER:
            if (cld_png_filter_from_name(optarg) < 0)
                return usage_error("bad --png-filter '%s' (none, sub, up, "
                                   "avg, paeth, adaptive)", optarg);
            o.png_filter = cld_png_filter_from_name(optarg);
            break;
        case OPT_KEEP_ORIENTATION:
            o.keep_orientation = true;
            break;
        case OPT_NO_SHRINK:
            o.no_shrink_on_load = true;
            break;
        case ':':
            return usage_error("option %s needs a value",
                               cld__steps_word(&steps));
        default:
            return usage_error("unknown option '%s'",
                               cld__steps_word(&steps));
        }
    }
    if (!o.outdir)
        return usage_error("%s", "run: missing -o OUTDIR");
    if (o.device && cld_device_selector_check(o.device) != CLD_OK)
        return usage_error("%s", cld_error_detail());
    if (steps.n == 1 && cld_job_validate(o.job, &sp[0]) != CLD_OK)
        return usage_error("%s", cld_error_detail());
    if (plan && (!shards || !plan_path))
        return usage_error("%s", "plan: needs --shards N and --plan FILE");
    o.params = sp[0];
    if (steps.n > 1) {
        if (cld__steps_chain(&steps, sp, &o.job) != CLD_OK)
            return usage_error("run: %s", cld_error_detail());
        cld_params_default(&o.params, o.job);
    }
    *out = o;
    *first = cld__steps_gather(&steps) + 1;
    *plan_path_out = plan_path;
    *shards_out = shards;
    return RUN_GO;
}

int cld__cli_parse_run(int argc, char **argv, struct cld_batch_opts *o,
                       int *first_input)
{
    const char *plan_path;
    uint64_t shards;

    return parse_run(argc, argv, false, o, first_input, &plan_path,
                     &shards);
}

void cld__cli_print_summary(FILE *f, const struct cld_batch_result *res)
{
    fprintf(f, "%u done, %u failed", res->done, res->failed);
    if (res->shrunk)
        fprintf(f, " (%u JPEG decoded at reduced size: shrink-on-load)",
                res->shrunk);
    fprintf(f, " in %.2f s", res->wall_s);
    if (res->mpix > 0 && res->wall_s > 0)
        fprintf(f, ", %.1f MPix/s", res->mpix / res->wall_s);
    if (res->share[0])
        fprintf(f, "; %s", res->share);
    if (res->lanes && res->wall_s > 0)
        fprintf(f, "; overlap efficiency %.2f (%u lanes)",
                res->busy_s / (res->wall_s * res->lanes), res->lanes);
    if (res->cores && res->wall_s > 0 && res->cpu_s > 0)
        fprintf(f, "; CPU %.2f of %u cores", res->cpu_s / res->wall_s,
                res->cores);
    if (res->retried)
        fprintf(f, "; %u item%s run again after a device error",
                res->retried, res->retried == 1 ? "" : "s");
    if (res->dropped)
        fprintf(f, "; %u device%s dropped", res->dropped,
                res->dropped == 1 ? "" : "s");
    fputc('\n', f);
}

static int cmd_run(int argc, char **argv, bool plan)
{
    struct cld_batch_opts o;
    const char *plan_path = NULL;
    uint64_t shards = 0;
    struct cld_batch_result res;
    enum cld_status st;
    int first = 0;
    int rc = parse_run(argc, argv, plan, &o, &first, &plan_path, &shards);

    if (rc == RUN_PLAN_FILE)
        return cld_scaleout_cli_run(argc, argv);
    if (rc != RUN_GO)
        return rc;
    if (plan) {
        rc = cld_scaleout_cli_plan(&o, argv + first, argc - first,
                                   (uint32_t)shards, plan_path);
        cld_chain_job_destroy(o.job);
        return rc;
    }
    if (o.explain && o.job->chain)
        cld_chain_explain(o.out, o.job->chain);
    st = cld_batch_run(&o, argv + first, argc - first, &res);
    cld_chain_job_destroy(o.job);
    if (st != CLD_OK) {
        fprintf(stderr, "cldispatch: %s\n", cld_error_detail()[0]
                                                ? cld_error_detail()
                                                : cld_status_str(st));
        return cld__cli_status_exit(st);
    }
    cld__cli_print_summary(stderr, &res);
    return res.failed ? CLD_EXIT_ITEMS_FAILED : CLD_EXIT_OK;
}

static int cmd_calibrate(const char *job)
{
    struct cld_targets *t = NULL;
    struct cld_profile_store *s = NULL;
    struct cld_calibrate_opts co = {.job = job, .out = stdout,
                                    .err = stderr};
    char warn[512];
    enum cld_status st;
    int rc = CLD_EXIT_OK;

    st = cld_targets_discover(false, &t);
    if (st != CLD_OK) {
        fprintf(stderr, "cldispatch: warning: device discovery failed (%s); "
                "calibrating the host only\n", cld_error_detail());
        if ((st = cld_targets_discover(true, &t)) != CLD_OK)
            goto out;
    }
    cld_targets_warn_dropped(t, stderr);
    if (cld_profile_store_open(NULL, &s) != CLD_OK) {
        fprintf(stderr, "cldispatch: warning: %s; the profiles will not be "
                "saved\n", cld_error_detail());
        s = NULL;
    } else {
        /* Start from the saved profiles so that nothing else is lost. */
        if (cld_targets_load(t, s, NULL, NULL, warn, sizeof warn) != CLD_OK)
            fprintf(stderr, "cldispatch: warning: %s\n", cld_error_detail());
        if (warn[0])
            fprintf(stderr, "cldispatch: warning: %s\n", warn);
    }
    st = cld_calibrate(t, s, NULL, &co);
out:
    if (st != CLD_OK) {
        fprintf(stderr, "cldispatch: calibration failed: %s\n",
                cld_error_detail());
        rc = cld__cli_status_exit(st);
    }
    cld_profile_store_close(s);
    cld_targets_destroy(t);
    return rc;
}

static const char usage_bench[] =
    "Usage: cldispatch bench placement [--quick] [--runs N] [--job NAME]\n"
    "                                  [--passes N] [--no-calibrate]\n"
    "                                  [--explain]\n"
    "       cldispatch bench kernels [--size WxH] [--runs N] [--job NAME]\n"
    "       cldispatch bench pipeline [FOLDER] [--runs N] [--device SEL]\n"
    "\n"
    "placement: calibrate (as --calibrate), then for every job at 256x256,\n"
    "  1024x1024 and 4000x3000 (--quick: 256x256 and 1024x768) decide the\n"
    "  target, time every target, and report how often the choice was the\n"
    "  fastest (best of N runs; also counting ties within the fastest\n"
    "  target's own spread, and within 5%) and the geometric-mean slowdown\n"
    "  of the choice. Default runs: 13, 7 for items over 4 Mpixels\n"
    "  (--quick: 3), after a warm-up, targets in a shuffled order.\n"
    "  --passes N: measure the grid N times (default 2, --quick 1); each\n"
    "  pass decides with the earlier passes' measurements in the history.\n"
    "  --explain prints the placement table of each cell it missed.\n"
    "kernels: per job and target, the cold first run, the median of N runs\n"
    "  (default 5) after a warm-up, and million elements per second, on a\n"
    "  synthetic RGB image (default 4000x3000). I/O is never timed.\n"
    "pipeline: blur PPM -> PPM over FOLDER (default: 64 1920x1080 images\n"
    "  derived from ./samples/images), whole batches timed as a user times\n"
    "  `cldispatch run`: --inflight 1 (the sequential loop) against the\n"
    "  pipelined default, in zero-copy and copy-path modes, best of N\n"
    "  interleaved rounds (default 3), with each one's overlap efficiency.\n";

static int cmd_bench(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'Q'},
        {"runs", required_argument, NULL, 'r'},
        {"job", required_argument, NULL, 'J'},
        {"size", required_argument, NULL, 'S'},
        {"no-calibrate", no_argument, NULL, 'N'},
        {"explain", no_argument, NULL, 'E'},
        {"passes", required_argument, NULL, 'P'},
        {"device", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct cld_bench_opts o;
    bool placement, pipeline;
    uint64_t u;
    int c;
    enum cld_status st;

    memset(&o, 0, sizeof o);
    o.out = stdout;
    o.err = stderr;
    if (argc < 2 || (strcmp(argv[1], "placement") != 0 &&
                     strcmp(argv[1], "kernels") != 0 &&
                     strcmp(argv[1], "pipeline") != 0)) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") ||
                          !strcmp(argv[1], "-h"))) {
            fputs(usage_bench, stdout);
            return CLD_EXIT_OK;
        }
        return usage_error("%s", "bench: say 'placement', 'kernels' or "
                           "'pipeline'");
    }
    placement = strcmp(argv[1], "placement") == 0;
    pipeline = strcmp(argv[1], "pipeline") == 0;
    argc--;
    argv++;
    optind = 0; /* afresh: see cld__steps_find */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'Q':
            if (!placement)
                return usage_error("%s", "--quick goes with bench placement");
            o.quick = true;
            break;
        case 'N':
            if (!placement)
                return usage_error("%s", "--no-calibrate goes with bench "
                                   "placement");
            o.no_calibrate = true;
            break;
        case 'P':
            if (!placement)
                return usage_error("%s", "--passes goes with bench "
                                   "placement");
            if (!parse_u64(optarg, 1, 3, &u))
                return usage_error("bad --passes '%s' (1..3)", optarg);
            o.passes = (unsigned)u;
            break;
        case 'E':
            if (!placement)
                return usage_error("%s", "--explain goes with bench "
                                   "placement");
            o.explain = true;
            break;
        case 'r':
            if (!parse_u64(optarg, 1, 15, &u))
                return usage_error("bad --runs '%s' (1..15)", optarg);
            o.runs = (unsigned)u;
            break;
        case 'J':
            if (!cld_job_find(optarg))
                return usage_error("unknown job '%s' (see --jobs)", optarg);
            o.job = optarg;
            break;
        case 'D':
            if (!pipeline)
                return usage_error("%s", "--device goes with bench "
                                   "pipeline");
            if (cld_device_selector_check(optarg) != CLD_OK)
                return usage_error("%s", cld_error_detail());
            o.device = optarg;
            break;
        case 'S':
            if (placement || pipeline)
                return usage_error("%s", "--size goes with bench kernels");
            if (!parse_size(optarg, &o.width, &o.height))
                return usage_error("bad --size '%s' (WxH, 1..65536)",
                                   optarg);
            break;
        case 'h':
            fputs(usage_bench, stdout);
            return CLD_EXIT_OK;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (pipeline && optind < argc)
        o.folder = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    st = placement ? cld_bench_placement(&o)
         : pipeline ? cld_bench_pipeline(&o) : cld_bench_kernels(&o);
    if (st != CLD_OK) {
        fprintf(stderr, "cldispatch: %s\n", cld_error_detail()[0]
                                                ? cld_error_detail()
                                                : cld_status_str(st));
        return cld__cli_status_exit(st);
    }
    return CLD_EXIT_OK;
}

int cld_cli_main(int argc, char **argv)
{
    bool devices = false, json = false, jobs = false, calibrate = false;
    const char *job = NULL;

    /* Steadier timings from PoCL's pthread device, for placement's
     * measurements (see the function). */
    cld_device_pin_pocl_threads();
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1, false);
    if (argc >= 2 && strcmp(argv[1], "plan") == 0)
        return cmd_run(argc - 1, argv + 1, true);
    if (argc >= 2 && strcmp(argv[1], "merge") == 0)
        return cld_scaleout_cli_merge(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_main, stdout);
            return CLD_EXIT_OK;
        } else if (!strcmp(argv[i], "--version")) {
            printf("cldispatch %s\n", CLD_VERSION);
            return CLD_EXIT_OK;
        } else if (!strcmp(argv[i], "--devices")) {
            devices = true;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--jobs")) {
            jobs = true;
        } else if (!strcmp(argv[i], "--calibrate")) {
            calibrate = true;
        } else if (!strcmp(argv[i], "--job") && i + 1 < argc) {
            job = argv[++i];
            if (!cld_job_find(job))
                return usage_error("unknown job '%s' (see --jobs)", job);
        } else {
            return usage_error("unknown argument '%s'", argv[i]);
        }
    }
    if (json && !devices)
        return usage_error("%s", "--json goes with --devices");
    if (calibrate && (devices || jobs))
        return usage_error("%s", "--calibrate goes alone");
    if (job && !calibrate)
        return usage_error("%s", "--job goes with --calibrate");
    if (calibrate)
        return cmd_calibrate(job);
    if (devices)
        return cmd_devices(json);
    if (jobs) {
        cld_jobs_print(stdout);
        return CLD_EXIT_OK;
    }
    fputs(usage_main, stderr);
    return CLD_EXIT_USAGE;
}
