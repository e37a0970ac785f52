/* `cldispatch bench pipeline`: whole batches as `cldispatch run` makes
 * them (decode, placement, device, encode, files written), timed as a
 * user times the command, in the sequential loop (--inflight 1) and
 * pipelined, in zero-copy and copy-path modes, rounds interleaved. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "batch.h"
#include "chain.h"
#include "clock.h"
#include "fsutil.h"
#include "image_io.h"
#include "jobs.h"

#define PIPE_ITEMS 64u
#define PIPE_W 1920u
#define PIPE_H 1080u
#define PIPE_RUNS 3u
#define SAMPLES_DIR "samples/images"

/* src scaled to cover PIPE_W x PIPE_H (the host's resize), then a window
 * of that size at an offset that differs per index, so that no two
 * derived images are the same. */
static enum cld_status derive(const struct cld_image *src, unsigned index,
                              struct cld_image *out)
{
    const struct cld_job *resize = cld_job_find("resize");
    struct cld_params p;
    struct cld_data in, res;
    double s = (double)PIPE_W / src->width;
    uint32_t w, h, x, y;
    enum cld_status st;

    if (s < (double)PIPE_H / src->height)
        s = (double)PIPE_H / src->height;
    s *= 1.0 + 0.05 * (index % 5);
    w = (uint32_t)(src->width * s + 1);
    h = (uint32_t)(src->height * s + 1);
    cld_params_default(&p, resize);
    if ((st = cld_resize_set_size(&p, w, h)) != CLD_OK)
        return st;
    memset(&in, 0, sizeof in);
    in.kind = CLD_DATA_IMAGE;
    in.img = *src;
    if ((st = cld_job_run(resize, NULL, &p, &in, &res)) != CLD_OK)
        return st;
    x = (res.img.width - PIPE_W) * (index % 7) / 6;
    y = (res.img.height - PIPE_H) * (index % 3) / 2;
    st = cld_image_alloc(out, PIPE_W, PIPE_H, res.img.channels);
    for (uint32_t r = 0; r < PIPE_H && st == CLD_OK; r++)
        memcpy(out->data + (size_t)r * PIPE_W * out->channels,
               res.img.data + ((size_t)(y + r) * res.img.width + x) *
                                  res.img.channels,
               (size_t)PIPE_W * out->channels);
    cld_data_free(&res);
    return st;
}

/* PIPE_ITEMS PPM images of PIPE_W x PIPE_H in dir, derived from the
 * repository's sample images. */
static enum cld_status make_inputs(const char *dir, FILE *out)
{
    struct cld_path_list list = {0};
    struct cld_image *src = NULL;
    size_t nsrc = 0;
    char path[4400];
    enum cld_status st;

    st = cld_walk_images(SAMPLES_DIR, &list);
    if (st != CLD_OK || list.count == 0) {
        cld_path_list_free(&list);
        return cld_error_set(CLD_ERR_NOT_FOUND,
                             "bench pipeline: no FOLDER given and no "
                             "images in ./%s to derive %ux%u inputs from "
                             "(run it from the repository's root)",
                             SAMPLES_DIR, PIPE_W, PIPE_H);
    }
    src = calloc(list.count, sizeof *src);
    if (!src)
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list.count && st == CLD_OK; i++) {
        snprintf(path, sizeof path, "%s/%s", SAMPLES_DIR, list.paths[i]);
        st = cld_image_load(path, NULL, &src[i]);
        nsrc += st == CLD_OK;
    }
    for (unsigned i = 0; i < PIPE_ITEMS && st == CLD_OK; i++) {
        struct cld_image img;
        struct cld_save_opts so = {.fmt = CLD_FMT_PPM, .overwrite = true};

        memset(&img, 0, sizeof img);
        st = derive(&src[i % nsrc], i, &img);
        snprintf(path, sizeof path, "%s/in%02u.ppm", dir, i);
        if (st == CLD_OK)
            st = cld_image_save(path, &img, &so);
        cld_image_free(&img);
    }
    if (st == CLD_OK)
        fprintf(out, "inputs: %u PPM images of %ux%u derived from %zu "
                "sample images in ./%s\n", PIPE_ITEMS, PIPE_W, PIPE_H, nsrc,
                SAMPLES_DIR);
    for (size_t i = 0; src && i < list.count; i++)
        cld_image_free(&src[i]);
    free(src);
    cld_path_list_free(&list);
    return st;
}

struct mode {
    const char *name;
    bool copy;          /* CLDISPATCH_TRANSFER=copy */
    unsigned inflight;
    double best_s;      /* whole-batch wall time, best run */
    double eff;         /* its overlap efficiency */
    double cpu;         /* its CPU use: CPU seconds over wall seconds */
    double busiest;     /* its busiest lane's busy time over wall time */
    unsigned lanes;
    unsigned done;
    char share[256];
};

/* One batch of job (with params) over the files or folder in, into out,
 * with the ring bound inflight (0: the default); *t gets its wall time and
 * *res the batch's result. Any failed item fails the benchmark. */
static enum cld_status run_job(const struct cld_bench_opts *o,
                               const struct cld_job *job,
                               const struct cld_params *p, unsigned inflight,
                               const char *in, const char *out, double *t,
                               struct cld_batch_result *res)
{
    struct cld_batch_opts bo;
    char *inputs[1] = {(char *)in};
    enum cld_status st;

    memset(&bo, 0, sizeof bo);
    bo.job = job;
    bo.params = *p;
    bo.outdir = out;
    bo.format = CLD_FMT_PPM;
    bo.overwrite = true;
    bo.device = o->device;
    bo.inflight = inflight;
    bo.out = fopen("/dev/null", "w");
    bo.err = o->err;
    if (!bo.out)
        return cld_error_set(CLD_ERR_IO, "cannot open /dev/null");
    *t = cld_now_s();
    st = cld_batch_run(&bo, inputs, 1, res);
    *t = cld_now_s() - *t;
    fclose(bo.out);
    if (st == CLD_OK && res->failed)
        st = cld_error_set(CLD_ERR_IO, "bench pipeline: %u item%s failed "
                           "(%s)", res->failed, res->failed == 1 ? "" : "s",
                           job->name);
    return st;
}

/* One round of mode m: blur over in, keeping the best. */
static enum cld_status run_mode(const struct cld_bench_opts *o,
                                const char *in, const char *outdir,
                                struct mode *m)
{
    const struct cld_job *blur = cld_job_find("blur");
    struct cld_params p;
    struct cld_batch_result res;
    double t;
    enum cld_status st;

    cld_params_default(&p, blur);
    if (m->copy)
        setenv("CLDISPATCH_TRANSFER", "copy", 1);
    else
        unsetenv("CLDISPATCH_TRANSFER");
    st = run_job(o, blur, &p, m->inflight, in, outdir, &t, &res);
    unsetenv("CLDISPATCH_TRANSFER");
    if (st == CLD_OK && (m->best_s <= 0 || t < m->best_s)) {
        m->best_s = t;
        m->eff = res.wall_s > 0 && res.lanes
                     ? res.busy_s / (res.wall_s * res.lanes) : 0;
        m->lanes = res.lanes;
        m->cpu = res.wall_s > 0 ? res.cpu_s / res.wall_s : 0;
        m->busiest = res.wall_s > 0 ? res.busiest_s / res.wall_s : 0;
        m->done = res.done;
        snprintf(m->share, sizeof m->share, "%s", res.share);
    }
    return st;
}

/* The steps of the chain row: resize --scale 0.5, blur --sigma 2,
 * sharpen (the example). */
static enum cld_status chain_steps(const struct cld_job *job[3],
                                   struct cld_params p[3])
{
    static const char *const names[3] = {"resize", "blur", "sharpen"};
    enum cld_status st = CLD_OK;

    for (int k = 0; k < 3; k++) {
        job[k] = cld_job_find(names[k]);
        if (!job[k])
            return cld_error_set(CLD_ERR_INTERNAL, "no job %s", names[k]);
        cld_params_default(&p[k], job[k]);
    }
    if ((st = cld_params_set_real(&p[0], "scale", 0.5)) == CLD_OK)
        st = cld_params_set_real(&p[1], "sigma", 2.0);
    return st;
}

extern char **environ;

/* This program (/proc/self/exe) run as a user runs it: `cldispatch run`
 * with args, the device (unless auto), PPM out, overwrite; *t gets the
 * whole command's wall time. Its stdout goes to /dev/null and its stderr
 * to a file in tmp, whose last line a failure quotes. */
static enum cld_status run_command(const struct cld_bench_opts *o,
                                   const char *tmp, const char *const *args,
                                   double *t)
{
    const char *argv[32];
    char log[4300], line[512] = "";
    posix_spawn_file_actions_t fa;
    int n = 0, rc, status = 0;
    pid_t pid;
    FILE *f;

    argv[n++] = "cldispatch";
    argv[n++] = "run";
    while (*args && n < 24)
        argv[n++] = *args++;
    argv[n++] = "--format";
    argv[n++] = "ppm";
    argv[n++] = "--overwrite";
    argv[n++] = "--no-progress";
    if (o->device) {
        argv[n++] = "--device";
        argv[n++] = o->device;
    }
    argv[n] = NULL;
    snprintf(log, sizeof log, "%s/command.log", tmp);
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        return cld_error_set(CLD_ERR_NOMEM, "bench pipeline: %s",
                             strerror(rc));
    rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_addopen(
            &fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    *t = cld_now_s();
    if (rc == 0)
        rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL,
                         (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return cld_error_set(CLD_ERR_IO, "bench pipeline: cannot start "
                             "/proc/self/exe: %s", strerror(rc));
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *t = cld_now_s() - *t;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return CLD_OK;
    if ((f = fopen(log, "r"))) {
        char buf[512];

        while (fgets(buf, sizeof buf, f))
            snprintf(line, sizeof line, "%s", buf);
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
    }
    return cld_error_set(CLD_ERR_IO, "bench pipeline: `cldispatch run %s "
                         "...` %s %d: %s", argv[2],
                         WIFEXITED(status) ? "exited with" : "killed by signal",
                         WIFEXITED(status) ? WEXITSTATUS(status)
                                           : WTERMSIG(status), line);
}

/* The same comparison as whole commands, as a user types them: the chain
 * as one `cldispatch run`, against three, each start-up included. */
static enum cld_status chain_commands(const struct cld_bench_opts *o,
                                      const char *in, const char *tmp,
                                      double *chain_s, double *steps_s)
{
    char d1[4300], d2[4300], d3[4300], dc[4300];
    const char *chain[] = {"resize", "--scale", "0.5", "then", "blur",
                           "--sigma", "2", "then", "sharpen", in, "-o", dc,
                           NULL};
    const char *s1[] = {"resize", "--scale", "0.5", in, "-o", d1, NULL};
    const char *s2[] = {"blur", "--sigma", "2", d1, "-o", d2, NULL};
    const char *s3[] = {"sharpen", d2, "-o", d3, NULL};
    const char *const *steps[] = {s1, s2, s3};
    double t, sum = 0;
    enum cld_status st;

    snprintf(dc, sizeof dc, "%s/cmd-chain", tmp);
    snprintf(d1, sizeof d1, "%s/cmd-step1", tmp);
    snprintf(d2, sizeof d2, "%s/cmd-step2", tmp);
    snprintf(d3, sizeof d3, "%s/cmd-step3", tmp);
    if ((st = run_command(o, tmp, chain, &t)) != CLD_OK)
        return st;
    if (*chain_s <= 0 || t < *chain_s)
        *chain_s = t;
    for (int k = 0; k < 3; k++) {
        if ((st = run_command(o, tmp, steps[k], &t)) != CLD_OK)
            return st;
        sum += t;
    }
    if (*steps_s <= 0 || sum < *steps_s)
        *steps_s = sum;
    return CLD_OK;
}

/* The chain as one run against its three steps as three runs through
 * PPM files, best of `runs` interleaved rounds: in this process, and as
 * whole commands. */
static enum cld_status bench_chain(const struct cld_bench_opts *o,
                                   const char *in, const char *tmp,
                                   unsigned runs)
{
    const struct cld_job *job[3], *cj;
    const struct cld_chain *c;
    struct cld_params p[3], dp;
    double best_chain = 0, best_steps = 0, cmd_chain = 0, cmd_steps = 0;
    char step_in[4300], step_out[4300];
    enum cld_status st = chain_steps(job, p);

    if (st == CLD_OK)
        st = cld_chain_make(3, job, p, &cj);
    if (st != CLD_OK)
        return st;
    c = cj->chain;
    cld_params_default(&dp, cj);
    for (unsigned r = 0; r < runs && st == CLD_OK; r++) {
        struct cld_batch_result res;
        double t, sum = 0;

        snprintf(step_out, sizeof step_out, "%s/chain", tmp);
        st = run_job(o, cj, &dp, 0, in, step_out, &t, &res);
        if (st == CLD_OK && (best_chain <= 0 || t < best_chain))
            best_chain = t;
        snprintf(step_in, sizeof step_in, "%s", in);
        for (int k = 0; k < 3 && st == CLD_OK; k++) {
            snprintf(step_out, sizeof step_out, "%s/step%d", tmp, k + 1);
            st = run_job(o, job[k], &p[k], 0, step_in, step_out, &t, &res);
            sum += t;
            snprintf(step_in, sizeof step_in, "%s", step_out);
        }
        if (st == CLD_OK && (best_steps <= 0 || sum < best_steps))
            best_steps = sum;
        if (st == CLD_OK)
            st = chain_commands(o, in, tmp, &cmd_chain, &cmd_steps);
    }
    if (st == CLD_OK)
        fprintf(o->out, "chain resize --scale 0.5 then blur --sigma 2 then "
                "sharpen: one run %.3fs, three runs through PPM files "
                "%.3fs: %.2fx (intermediates %s)\n", best_chain,
                best_steps, best_steps / best_chain,
                c->merges[0] && c->merges[1]
                    ? "kept in device memory when on a device"
                    : "in host memory between steps");
    if (st == CLD_OK)
        fprintf(o->out, "the same as whole commands (`cldispatch run`, "
                "start-up included): one %.3fs, three %.3fs: %.2fx\n",
                cmd_chain, cmd_steps, cmd_steps / cmd_chain);
    cld_chain_job_destroy(cj);
    return st;
}

enum cld_status cld_bench_pipeline(const struct cld_bench_opts *o)
{
    struct mode modes[] = {
        {.name = "zero-copy, --inflight 1", .inflight = 1},
        {.name = "zero-copy, pipelined"},
        {.name = "copy path, --inflight 1", .copy = true, .inflight = 1},
        {.name = "copy path, pipelined", .copy = true},
    };
    size_t nm = sizeof modes / sizeof modes[0];
    unsigned runs = o->runs ? o->runs : PIPE_RUNS;
    char *tmp = NULL, in[4200], outdir[4200];
    const char *folder = o->folder;
    enum cld_status st = CLD_OK;

    {
        /* Outputs (and derived inputs) in a folder of our own. */
        const char *base = getenv("TMPDIR");
        char tmpl[4200];

        snprintf(tmpl, sizeof tmpl, "%s/cldispatch-bench.XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(tmpl) || !(tmp = strdup(tmpl)))
            return cld_error_set(CLD_ERR_IO, "bench pipeline: cannot make "
                                 "a temporary folder");
    }
    snprintf(outdir, sizeof outdir, "%s/out", tmp);
    if (!folder) {
        snprintf(in, sizeof in, "%s/in", tmp);
        if ((st = cld_mkdir_p(in)) == CLD_OK)
            st = make_inputs(in, o->out);
        folder = in;
    }
    if (st == CLD_OK)
        fprintf(o->out, "blur (sigma 2) PPM -> PPM on %s, device %s; whole "
                "batches as `cldispatch run` makes them, best of %u "
                "interleaved rounds\n", folder, o->device ? o->device
                                                          : "auto", runs);
    for (unsigned r = 0; r < runs && st == CLD_OK; r++) {
        for (size_t i = 0; i < nm && st == CLD_OK; i++)
            st = run_mode(o, folder, outdir, &modes[i]);
    }
    if (st == CLD_OK) {
        fprintf(o->out, "  %-26s %9s %9s %7s %11s %7s %5s  %s\n", "mode",
                "wall", "images/s", "ratio", "overlap eff", "busiest",
                "CPU", "share");
        for (size_t i = 0; i < nm; i++) {
            const struct mode *m = &modes[i];
            const struct mode *base = &modes[i & ~(size_t)1];

            fprintf(o->out, "  %-26s %8.3fs %9.1f %6.2fx %6.2f (%u) "
                    "%7.2f %5.2f  %s\n", m->name, m->best_s,
                    m->done / m->best_s, base->best_s / m->best_s, m->eff,
                    m->lanes, m->busiest, m->cpu, m->share);
        }
        fprintf(o->out, "(ratio: the --inflight 1 run's time over this "
                "one's, same transfer mode; overlap eff: busy time of all "
                "lanes / (wall x lanes), lanes in brackets; busiest: the "
                "busiest lane's busy time / wall, the bottleneck's; CPU: "
                "cores busy on average, of %u)\n", cld_usable_cores());
        st = bench_chain(o, folder, tmp, runs);
    }
    cld_remove_tree(tmp);
    free(tmp);
    return st;
}
