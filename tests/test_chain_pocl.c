/* Job chains on every OpenCL device, in both transfer modes (zero-copy,
 * and the copy path that CLDISPATCH_TRANSFER=copy forces): a chain's
 * output equals the composition of its steps' C references on real
 * images; its steps merge into one device work whose intermediates are
 * neither uploaded nor read back (the ring's transfer counters show one
 * readback of the output per item, and uploads of the input and the
 * steps' small tables only); a chain whose step has a host step runs step
 * by step and still equals the composition; `cldispatch run A then B`
 * writes what the composition gives; a chain split across a device and
 * the host by placement (test_chain_split_through_engine) writes the
 * composition too; and a chain that starts with resize shrinks JPEG
 * inputs on load (within the stated tolerance of the full decode; exactly
 * the remaining steps when the decode is the resize's size; never PNG or
 * PPM, nor with --no-shrink-on-load).
 *
 * Tolerance: none. Every 8-bit image job gives its reference's bytes on
 * every target (test_exact_pocl), so every chain is compared byte for
 * byte with the composition of the references; one that starts with
 * resize is also compared with the same steps run one by one on the same
 * device (the merge changes nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "batch.h"
#include "chain.h"
#include "clw.h"
#include "fixtures.h"
#include "image_io.h"
#include "jobs.h"
#include "launch.h"
#include "placement.h"
#include "profile.h"
#include "targets.h"

/* Resize one level off, then blur (an average: still one level) and
 * sharpen (in + (in - blur): up to three levels). */

static const char *const images[] = {"chelsea.png", "camera.png",
                                     "astronaut.png"};
#define NIMAGES (sizeof images / sizeof images[0])

struct fix {
    struct cld_device_list list;
    struct cld_data in[NIMAGES];
    struct cld_chain *resize_chain;  /* resize 0.5, blur 2, sharpen */
    struct cld_chain *exact_chain;   /* blur 1.5, sobel, sharpen 1 1.5 */
    struct cld_chain *host_step;     /* equalize, blur 1 */
};

/* A chain of n steps; sets[k] "name=value" or NULL for the defaults. */
static struct cld_chain *make_chain(const char *const *names,
                                    const char *const *sets, int n)
{
    struct cld_chain *c;

    assert_int_equal(cld_chain_create(&c), CLD_OK);
    for (int k = 0; k < n; k++) {
        const struct cld_job *job = cld_job_find(names[k]);
        struct cld_params p;

        assert_non_null(job);
        cld_params_default(&p, job);
        for (const char *s = sets[k]; s && *s;) {
            char name[32];
            size_t len = strcspn(s, "=");
            int i;

            assert_true(len < sizeof name);
            memcpy(name, s, len);
            name[len] = '\0';
            i = cld_params_find(&p, name);
            assert_true(i >= 0);
            s += len + 1;
            assert_int_equal(cld_params_parse(&p, (size_t)i, s), CLD_OK);
            s += strlen(s);
        }
        assert_int_equal(cld_chain_add(c, job, &p), CLD_OK);
    }
    assert_int_equal(cld_chain_finish(c), CLD_OK);
    return c;
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    static const char *const rs[] = {"resize", "blur", "sharpen"};
    static const char *const rs_set[] = {"scale=0.5", "sigma=2", NULL};
    static const char *const ex[] = {"blur", "sobel", "sharpen"};
    static const char *const ex_set[] = {"sigma=1.5", NULL, "amount=1.5"};
    static const char *const hs[] = {"equalize", "blur"};
    static const char *const hs_set[] = {NULL, "sigma=1"};

    assert_non_null(f);
    assert_int_equal(cld_device_discover(&f->list), CLD_OK);
    for (size_t i = 0; i < NIMAGES; i++)
        cld_test_load(images[i], &f->in[i]);
    f->resize_chain = make_chain(rs, rs_set, 3);
    f->exact_chain = make_chain(ex, ex_set, 3);
    f->host_step = make_chain(hs, hs_set, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    for (size_t i = 0; i < NIMAGES; i++)
        cld_data_free(&f->in[i]);
    cld_chain_destroy(f->resize_chain);
    cld_chain_destroy(f->exact_chain);
    cld_chain_destroy(f->host_step);
    cld_device_list_free(&f->list);
    free(f);
    return 0;
}

/* The composition of the steps' C references, step by step here (not
 * through cld_chain_run_host, which the test also checks). */
static void reference(const struct cld_chain *c, const struct cld_data *in,
                      struct cld_data *out)
{
    struct cld_data cur, next;

    memset(&cur, 0, sizeof cur);
    for (unsigned k = 0; k < c->nsteps; k++) {
        const struct cld_job *job = c->steps[k].job;

        memset(&next, 0, sizeof next);
        assert_int_equal(job->run_host(&c->steps[k].params, k ? &cur : in,
                                       &next), CLD_OK);
        cld_data_free(&cur);
        cur = next;
    }
    *out = cur;
}

/* The steps one by one on ctx, through host memory. */
static void stepwise(const struct cld_chain *c, struct cld_clctx *ctx,
                     const struct cld_data *in, struct cld_data *out)
{
    struct cld_data cur, next;

    memset(&cur, 0, sizeof cur);
    for (unsigned k = 0; k < c->nsteps; k++) {
        assert_int_equal(cld_job_run(c->steps[k].job, ctx,
                                     &c->steps[k].params, k ? &cur : in,
                                     &next), CLD_OK);
        cld_data_free(&cur);
        cur = next;
    }
    *out = cur;
}

/* Run the merged chain c on ctx and check the transfers it made: no
 * upload on the zero-copy path, on the copy path one per UPLOAD buffer of
 * its merged work (the input and the small tables: less than the smallest
 * intermediate beyond the input), and one readback of exactly the output.
 * Returns the output. */
static void run_merged(const struct cld_chain *c, struct cld_clctx *ctx,
                       const struct cld_data *in, bool copy,
                       struct cld_data *out)
{
    struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
    struct cld_data planned;
    struct cld_work w;
    struct cld_ring_stats rs;
    unsigned long uploads = 0, inputs = 0;
    unsigned long long up_bytes = 0, smallest = ~0ull;

    assert_int_equal(cld_chain_plan(c, in, cld_clctx_facts(ctx), &planned,
                                    &w), CLD_OK);
    for (unsigned b = 0; b < w.nbufs; b++) {
        const struct cld_work_buf *wb = &w.bufs[b];

        if ((wb->flags & CLD_WBUF_UPLOAD) && wb->host) {
            uploads++;
            up_bytes += wb->size;
        }
        inputs += wb->host == in->img.data;
        /* The output alone comes back. */
        if (wb->flags & CLD_WBUF_FETCH)
            assert_ptr_equal(wb->host, planned.img.data);
    }
    assert_int_equal(inputs, 1);
    cld_work_free(&w);
    cld_data_free(&planned);
    cld_chain_shapes(c, &in->img, shape);
    for (unsigned k = 1; k < c->nsteps; k++) {
        unsigned long long n = (unsigned long long)shape[k].width *
                               shape[k].height * shape[k].channels;

        smallest = n < smallest ? n : smallest;
    }
    assert_int_equal(cld_launch_stats(ctx, true, &rs), CLD_OK);
    assert_int_equal(cld_chain_run(c, ctx, in, out), CLD_OK);
    assert_int_equal(cld_launch_stats(ctx, false, &rs), CLD_OK);
    assert_int_equal(rs.copy, copy);
    assert_int_equal(rs.readbacks, 1);
    assert_int_equal(rs.readback_bytes,
                     (unsigned long long)out->img.width * out->img.height *
                         out->img.channels);
    if (copy) {
        size_t in_bytes = (size_t)in->img.width * in->img.height *
                          in->img.channels;

        assert_int_equal(rs.uploads, uploads);
        assert_int_equal(rs.upload_bytes, up_bytes);
        assert_true(rs.upload_bytes - in_bytes < smallest);
    } else {
        assert_int_equal(rs.uploads, 0);
    }
}

static void each_mode_and_device(void **state,
                                 void (*body)(const struct fix *f,
                                              struct cld_clctx *ctx,
                                              bool copy))
{
    const struct fix *f = *state;

    assert_true(f->list.ndevices > 0);
    for (int copy = 0; copy < 2; copy++) {
        if (copy)
            setenv("CLDISPATCH_TRANSFER", "copy", 1);
        else
            unsetenv("CLDISPATCH_TRANSFER");
        for (int d = 0; d < f->list.ndevices; d++) {
            struct cld_clctx *ctx;

            /* A fresh context reads CLDISPATCH_TRANSFER anew. */
            assert_int_equal(cld_clctx_create(f->list.devices[d].device,
                                              &ctx), CLD_OK);
            body(f, ctx, copy);
            cld_clctx_destroy(ctx);
        }
    }
    unsetenv("CLDISPATCH_TRANSFER");
}

static void exact_body(const struct fix *f, struct cld_clctx *ctx, bool copy)
{
    for (size_t i = 0; i < NIMAGES; i++) {
        struct cld_data ref, host, out;

        reference(f->exact_chain, &f->in[i], &ref);
        assert_int_equal(cld_chain_run_host(f->exact_chain, &f->in[i],
                                            &host), CLD_OK);
        cld_test_assert_same_image(&host.img, &ref.img);
        run_merged(f->exact_chain, ctx, &f->in[i], copy, &out);
        cld_test_assert_same_image(&out.img, &ref.img);
        assert_int_equal(out.img.channels, 1);
        cld_data_free(&out);
        cld_data_free(&host);
        cld_data_free(&ref);
    }
}

static void test_chain_exact_equals_references(void **state)
{
    each_mode_and_device(state, exact_body);
}

static void resize_body(const struct fix *f, struct cld_clctx *ctx,
                        bool copy)
{
    for (size_t i = 0; i < NIMAGES; i++) {
        struct cld_data ref, steps, out;
        int maxdiff;
        double psnr;

        reference(f->resize_chain, &f->in[i], &ref);
        stepwise(f->resize_chain, ctx, &f->in[i], &steps);
        run_merged(f->resize_chain, ctx, &f->in[i], copy, &out);
        cld_test_assert_same_image(&out.img, &steps.img);
        assert_true(cld_test_image_diff(&out.img, &ref.img, &maxdiff,
                                        &psnr));
        if (maxdiff > 0)
            fail_msg("%s: the chain differs from the references by %d "
                     "levels", images[i], maxdiff);
        cld_data_free(&out);
        cld_data_free(&steps);
        cld_data_free(&ref);
    }
}

static void test_chain_resize_equals_references(void **state)
{
    each_mode_and_device(state, resize_body);
}

static void host_step_body(const struct fix *f, struct cld_clctx *ctx,
                           bool copy)
{
    struct cld_data ref, out;
    struct cld_work w;
    struct cld_ring_stats rs;

    (void)copy;
    /* equalize's cumulative sum runs on the host between its kernels: no
     * merged work, and the chain runs step by step. */
    assert_int_equal(cld_chain_plan(f->host_step, &f->in[0],
                                    cld_clctx_facts(ctx), &out, &w),
                     CLD_ERR_UNSUPPORTED);
    assert_non_null(strstr(cld_error_detail(), "equalize"));
    assert_null(out.img.data);
    for (size_t i = 0; i < NIMAGES; i++) {
        reference(f->host_step, &f->in[i], &ref);
        assert_int_equal(cld_launch_stats(ctx, true, &rs), CLD_OK);
        assert_int_equal(cld_chain_run(f->host_step, ctx, &f->in[i], &out),
                         CLD_OK);
        assert_int_equal(cld_launch_stats(ctx, false, &rs), CLD_OK);
        /* Each step's output came back to host memory. */
        assert_true(rs.readbacks >= f->host_step->nsteps);
        cld_test_assert_same_image(&out.img, &ref.img);
        cld_data_free(&out);
        cld_data_free(&ref);
    }
}

static void test_chain_host_step_runs_stepwise(void **state)
{
    each_mode_and_device(state, host_step_body);
}

/* One chained command line run by the binary, and what it must write. */
struct cli_case {
    const char *name;   /* output folder */
    const char *env;    /* prefix of the command */
    const char *steps;  /* the chain with its options */
    const char *device;
    int tolerance;      /* levels from the composition of references */
};

/* The chains through the whole engine: on the host; on a device as one
 * merged work started and left in flight, zero-copy and on the copy
 * path; and a chain that runs step by step on the device (equalize),
 * waited for. Each output equals the composition of the references
 * (within the resize tolerance on a device). */
static void test_chain_cli_writes_composition(void **state)
{
    const struct fix *f = *state;
    const char *bin = getenv("CLDISPATCH_BIN");
    static const struct cli_case cases[] = {
        {"host", "", "resize --scale 0.5 IN then blur --sigma 2 then "
         "sharpen", "host", 0},
        {"cpu", "", "resize --scale 0.5 IN then blur --sigma 2 then "
         "sharpen", "cpu", 0},
        {"copy", "CLDISPATCH_TRANSFER=copy", "resize --scale 0.5 IN then "
         "blur --sigma 2 then sharpen", "cpu", 0},
        {"stepwise", "", "equalize IN then blur --sigma 1", "cpu", 0},
    };
    char *dir = cld_test_tmpdir();

    assert_non_null(dir);
    assert_non_null(bin);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct cli_case *k = &cases[c];
        const struct cld_chain *chain = strncmp(k->steps, "equalize", 8)
                                            ? f->resize_chain
                                            : f->host_step;
        char cmd[8192], path[4400], steps[512];
        const char *in = strstr(k->steps, "IN");
        int st, maxdiff;

        /* The inputs where IN stands: among the first step's words. */
        snprintf(steps, sizeof steps, "%.*s%s %s%s", (int)(in - k->steps),
                 k->steps, cld_test_image(images[0]),
                 cld_test_image(images[1]), in + 2);
        snprintf(cmd, sizeof cmd, "%s %s run %s -d %s -o %s/%s "
                 ">/dev/null 2>&1", k->env, bin, steps, k->device, dir,
                 k->name);
        st = system(cmd);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0)
            fail_msg("exit %d: %s", WEXITSTATUS(st), cmd);
        for (size_t i = 0; i < 2; i++) {
            struct cld_data ref;
            struct cld_image got;
            double psnr;

            reference(chain, &f->in[i], &ref);
            snprintf(path, sizeof path, "%s/%s/%s", dir, k->name,
                     images[i]);
            assert_int_equal(cld_image_load(path, NULL, &got), CLD_OK);
            assert_true(cld_test_image_diff(&got, &ref.img, &maxdiff,
                                            &psnr));
            if (maxdiff > k->tolerance)
                fail_msg("%s, %s: %d levels from the references",
                         k->name, images[i], maxdiff);
            cld_image_free(&got);
            cld_data_free(&ref);
        }
    }
    cld_test_rmtree(dir);
    free(dir);
}

/* Run `cldispatch ARGS` with stdout and stderr into out (a shell
 * fragment); returns the exit code. */
static int run_bin(char *out, size_t len, const char *args)
{
    char cmd[8192 + 4096];  /* args (at most 8192) and the binary's path */
    FILE *p;
    size_t n;
    int st;

    snprintf(cmd, sizeof cmd, "%s %s 2>&1", getenv("CLDISPATCH_BIN"), args);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* --explain shows the chain's steps and how it runs; a chain planned
 * into shards and run on the device writes what its run wrote. */
static void test_chain_cli_explain_and_plan(void **state)
{
    char *dir = cld_test_tmpdir(), args[8192], out[16384];

    (void)state;
    assert_non_null(dir);
    assert_non_null(getenv("CLDISPATCH_BIN"));
    snprintf(args, sizeof args, "run resize --scale 0.5 %s then equalize "
             "then blur --sigma 3 -d cpu --explain -o %s/e",
             cld_test_image(images[0]), dir);
    assert_int_equal(run_bin(out, sizeof out, args), 0);
    if (!strstr(out, "chain resize+equalize+blur, 3 steps") ||
        !strstr(out, "1. resize (scale=0.5)") ||
        !strstr(out, "3. blur (sigma=3)") ||
        !strstr(out, "step by step, intermediates through host memory "
                     "(equalize runs a host step between its kernels)") ||
        !strstr(out, "placement of resize+equalize+blur (scale=0.5; -; "
                     "sigma=3)"))
        fail_msg("--explain said:\n%s", out);
    snprintf(args, sizeof args, "run blur %s then sharpen -d cpu --explain "
             "-o %s/m", cld_test_image(images[0]), dir);
    assert_int_equal(run_bin(out, sizeof out, args), 0);
    if (!strstr(out, "on an OpenCL CPU device: one device work"))
        fail_msg("--explain said:\n%s", out);
    snprintf(args, sizeof args, "plan blur %s then sharpen -o %s/p "
             "--shards 2 --plan %s/plan.json", cld_test_image(images[0]),
             dir, dir);
    assert_int_equal(run_bin(out, sizeof out, args), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "run --plan %s/plan.json --shard %d "
                 "-d cpu", dir, k);
        assert_int_equal(run_bin(out, sizeof out, args), 0);
    }
    /* The sharded chain wrote what the chain's run on the device wrote. */
    {
        char pa[4096], pb[4096];

        snprintf(pa, sizeof pa, "%s/p/%s", dir, images[0]);
        snprintf(pb, sizeof pb, "%s/m/%s", dir, images[0]);
        cld_test_assert_files_equal(pa, pb);
    }
    cld_test_rmtree(dir);
    free(dir);
}

/* --- a chain split across targets, through the engine ------------------ */

/* Target index of the device whose name contains s, or -1. */
static int target_named(const struct cld_targets *t, const char *s)
{
    for (size_t i = 1; i < cld_targets_count(t); i++) {
        if (strstr(cld_targets_profiles(t)[i].name, s))
            return (int)i;
    }
    return -1;
}

/* Synthetic profiles in the cache folder (XDG_CACHE_HOME) that make
 * placement split `blur then dither`: blur far faster on device `fast`
 * than on the other device, and 10^7 times slower on the host than there;
 * dither fast on the host and slow on the devices (it is sequential and
 * stays on the host anyway). The whole chain, with its steps' rates
 * added up, is slow on every target. */
static void save_split_profiles(struct cld_targets *t, int fast)
{
    struct cld_profile_store *s = NULL;

    assert_int_equal(cld_profile_store_open(NULL, &s), CLD_OK);
    for (size_t i = 0; i < cld_targets_count(t); i++) {
        struct cld_target_profile *p = cld_targets_profile(t, i);

        p->launch_s = 1e-6;
        assert_int_equal(cld_target_set_rate(p, "blur", (int)i == fast ? 1e12
                                             : i > 0 ? 1e10 : 1e5), CLD_OK);
        assert_int_equal(cld_target_set_rate(p, "dither", i ? 1e4 : 1e9),
                         CLD_OK);
        assert_int_equal(cld_profile_save(s, p), CLD_OK);
    }
    cld_profile_store_close(s);
}

/* Run chain c on inputs through cld_batch_run with --explain, outputs as
 * PNG into outdir; what it printed into *out and *err (caller frees). */
static void split_batch(const struct cld_chain *c, const char *device,
                        const char *outdir, char *const *inputs, int n,
                        unsigned threads, char **out, char **err,
                        struct cld_batch_result *res)
{
    struct cld_batch_opts o;
    size_t lo = 0, le = 0;

    memset(&o, 0, sizeof o);
    o.job = &c->job;
    o.outdir = outdir;
    o.format = CLD_FMT_PNG;
    o.device = device;
    o.explain = true;
    o.threads = threads;
    o.overwrite = true;
    o.out = open_memstream(out, &lo);
    o.err = open_memstream(err, &le);
    assert_non_null(o.out);
    assert_non_null(o.err);
    assert_int_equal(cld_batch_run(&o, inputs, n, res), CLD_OK);
    fclose(o.out);
    fclose(o.err);
    printf("--- out:\n%s--- err:\n%s---\n", *out, *err);
}

/* Each output in outdir equals the chain's C reference of its input. */
static void assert_outputs_are_references(const struct fix *f,
                                          const struct cld_chain *c,
                                          const char *outdir,
                                          const size_t *which, int n)
{
    for (int i = 0; i < n; i++) {
        struct cld_data ref;
        struct cld_image got;
        char path[4400];

        assert_int_equal(cld_chain_run_host(c, &f->in[which[i]], &ref),
                         CLD_OK);
        snprintf(path, sizeof path, "%s/%s", outdir, images[which[i]]);
        assert_int_equal(cld_image_load(path, NULL, &got), CLD_OK);
        cld_test_assert_same_image(&got, &ref.img);
        cld_image_free(&got);
        cld_data_free(&ref);
    }
}

/* Lines of text that contain s. */
static unsigned count_lines(const char *text, const char *s)
{
    unsigned n = 0;

    for (const char *p = text; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

/* Samples in the saved history of job on the target with key (NULL: any
 * target). */
static unsigned history_samples(const char *job, const char *key)
{
    struct cld_history h;
    unsigned n = 0;

    cld_test_saved_history(&h);
    for (size_t i = 0; i < h.n; i++) {
        if (strcmp(h.entries[i].job, job) == 0 &&
            (!key || strcmp(h.entries[i].key, key) == 0))
            n += (unsigned)h.entries[i].n;
    }
    cld_history_clear(&h);
    return n;
}

/* `blur --sigma 2 then dither` through the engine, with profiles (in a
 * cache folder of this test's own) that make placement split it: blur on
 * PoCL's pthread device, dither on the host. The outputs equal the
 * chain's C reference byte for byte; --explain shows the split, the
 * summary counts the items on the host (dither, their larger part) with
 * the other part's device; the run history gets each part under its own
 * job and target and nothing for the whole chain. A device error in the
 * split's device part re-runs the item elsewhere (auto mode); a forced
 * device runs the whole chain, and the plan says placement would split. */
static void test_chain_split_through_engine(void **state)
{
    const struct fix *f = *state;
    static const char *const names[] = {"blur", "dither"};
    static const char *const sets[] = {"sigma=2", NULL};
    static const size_t which[2] = {0, 2};
    struct cld_chain *c = make_chain(names, sets, 2);
    struct cld_targets *t = NULL;
    struct cld_batch_result res;
    char *dir = cld_test_tmpdir(), *old = NULL, cache[4200], outdir[4200];
    char a[4096], b[4096], *in[2] = {a, b}, *out = NULL, *err = NULL;
    char want[1024], fastkey[CLD_KEY_MAX], hostkey[CLD_KEY_MAX];
    const char *fastname;
    int fast, other;

    (void)state;
    assert_non_null(dir);
    if (getenv("XDG_CACHE_HOME"))
        old = strdup(getenv("XDG_CACHE_HOME"));
    snprintf(cache, sizeof cache, "%s/cache", dir);
    assert_int_equal(mkdir(cache, 0700), 0);
    setenv("XDG_CACHE_HOME", cache, 1);
    snprintf(a, sizeof a, "%s", cld_test_image(images[which[0]]));
    snprintf(b, sizeof b, "%s", cld_test_image(images[which[1]]));

    assert_int_equal(cld_targets_discover(false, &t), CLD_OK);
    fast = target_named(t, "pthread");
    other = target_named(t, "basic");
    if (fast < 0 || other < 0)
        fail_msg("this test needs PoCL's 'pthread' and 'basic' devices "
                 "(POCL_DEVICES=\"pthread basic\", as tests/meson.build "
                 "sets)");
    save_split_profiles(t, fast);
    fastname = cld_targets_profiles(t)[fast].name;
    snprintf(fastkey, sizeof fastkey, "%s", cld_targets_profiles(t)[fast].key);
    snprintf(hostkey, sizeof hostkey, "%s", cld_targets_profiles(t)[0].key);

    /* Auto: split. */
    snprintf(outdir, sizeof outdir, "%s/split", dir);
    split_batch(c, NULL, outdir, in, 2, 2, &out, &err, &res);
    assert_int_equal(res.done, 2);
    assert_int_equal(res.failed, 0);
    assert_outputs_are_references(f, c, outdir, which, 2);
    assert_non_null(strstr(out, "split after step 1 of 2 (the intermediate "
                                "through host memory):"));
    snprintf(want, sizeof want, "chosen: split after step 1: blur on %s, "
             "dither on host: ", fastname);
    if (!strstr(out, want))
        fail_msg("--explain does not say '%s'", want);
    snprintf(want, sizeof want, "split after step 1, the other part on %s",
             fastname);
    if (!strstr(out, want))
        fail_msg("the summary does not say '%s'", want);
    assert_string_equal(res.share, "host 100%");
    /* dither on the host has no build to wait for: recorded. */
    assert_true(history_samples("dither", hostkey) >= 1);
    assert_int_equal(history_samples("blur+dither", NULL), 0);
    free(out);
    free(err);

    /* Again, with one worker: the first item loads blur's program from
     * the binary cache into this batch's own context (a load: not timed),
     * so the second item's blur on the device is timed; still nothing
     * for the whole chain. (With two workers both items may wait for
     * that load, and neither is timed.) */
    split_batch(c, NULL, outdir, in, 2, 1, &out, &err, &res);
    assert_int_equal(res.done, 2);
    assert_outputs_are_references(f, c, outdir, which, 2);
    assert_true(history_samples("blur", fastkey) >= 1);
    assert_int_equal(history_samples("blur+dither", NULL), 0);
    free(out);
    free(err);

    /* A device error in blur's part: the item runs again elsewhere. */
    snprintf(outdir, sizeof outdir, "%s/retry", dir);
    cld_clw_fault_set("clEnqueueNDRangeKernel", 1, CL_OUT_OF_RESOURCES);
    split_batch(c, NULL, outdir, in, 2, 2, &out, &err, &res);
    cld_clw_fault_clear();
    assert_int_equal(res.done, 2);
    assert_int_equal(res.failed, 0);
    assert_int_equal(res.retried, 1);
    assert_outputs_are_references(f, c, outdir, which, 2);
    snprintf(want, sizeof want, "blur (step 1 of blur+dither) on %s: ",
             fastname);
    if (!strstr(err, want) || !strstr(err, "done again on another target"))
        fail_msg("the warning does not say '%s' and that the item was done "
                 "again", want);
    /* The target is named once: by the part's error line, not again by
     * the retry's warning. */
    if (strstr(strstr(err, want) + strlen(want), fastname))
        fail_msg("the warning names %s twice: %s", fastname, err);
    free(out);
    free(err);

    /* Forced to the device: the whole chain there, never split. */
    snprintf(outdir, sizeof outdir, "%s/forced", dir);
    {
        char sel[16];

        snprintf(sel, sizeof sel, "%d",
                 cld_targets_profiles(t)[fast].device_index);
        split_batch(c, sel, outdir, in, 2, 2, &out, &err, &res);
    }
    assert_int_equal(res.done, 2);
    assert_outputs_are_references(f, c, outdir, which, 2);
    /* (Which device placement would give blur now depends on what the
     * runs above measured on it.) */
    if (!strstr(out, "(placement would split: blur on pocl:") ||
        !strstr(out, ", dither on host)") || strstr(out, "split after step"))
        fail_msg("the forced plan does not say placement would split, or "
                 "shows a split");
    assert_int_equal(count_lines(out, "chosen: "), 2);
    free(out);
    free(err);

    if (old)
        setenv("XDG_CACHE_HOME", old, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    free(old);
    cld_targets_destroy(t);
    cld_chain_destroy(c);
    cld_test_rmtree(dir);
    free(dir);
}

/* ---- shrink-on-load -------------------------------------------------- */

/* The tolerance of shrink-on-load against the full decode, as for resize
 * alone (test_codec.c, stated in the README): a chain that starts with
 * resize is held to it at its output. */
#define SHRINK_MIN_PSNR 40.0
#define SHRINK_MAX_DIFF 40

/* The real photographs (JPEG): colour 4:2:0, greyscale, and an odd
 * height (rocket.jpg, 640x427), which no DCT scale divides: shrunk where
 * cld_jpeg_shrink_fits (at 0.25 to 1/4, 107 rows standing for 106.75; at
 * 0.2 to 1/2), the resize mapping by that extent; at 0.5 not (the full
 * path's own resize is bilinear, just under 2x), and its output is then
 * the full path's, byte for byte. */
static const char *const photos[] = {"mate_storm.jpg",
                                     "kde_grey_2560x1600.jpg",
                                     "hubble_deep_field.jpg", "rocket.jpg"};
#define NPHOTOS (sizeof photos / sizeof photos[0])

/* Run job (with parameters p; NULL for a chain's) by the batch, in this
 * process, over inputs into dir/name (PNG) on device, with shrink-on-load
 * or not; every item is done. */
static void run_job_batch(const struct cld_job *job,
                          const struct cld_params *p, const char *device,
                          bool no_shrink, char *const *inputs, int n,
                          const char *dir, const char *name,
                          struct cld_batch_result *res)
{
    struct cld_batch_opts o;
    char out[4400];

    memset(&o, 0, sizeof o);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    o.job = job;
    if (p)
        o.params = *p;
    o.outdir = out;
    o.format = CLD_FMT_PNG;
    o.no_shrink_on_load = no_shrink;
    o.device = device;
    o.threads = 2;
    o.overwrite = true;
    o.out = stdout;
    o.err = stderr;
    memset(res, 0, sizeof *res);
    assert_int_equal(cld_batch_run(&o, inputs, n, res), CLD_OK);
    assert_int_equal(res->done, (unsigned)n);
    assert_int_equal(res->failed, 0);
}

/* The same for chain c. */
static void run_batch(const struct cld_chain *c, const char *device,
                      bool no_shrink, char *const *inputs, int n,
                      const char *dir, const char *name,
                      struct cld_batch_result *res)
{
    run_job_batch(&c->job, NULL, device, no_shrink, inputs, n, dir, name,
                  res);
}

/* The PNG the batch wrote for input `photo` into dir/name. */
static void load_output(const char *dir, const char *name, const char *photo,
                        struct cld_image *img)
{
    char path[4600];
    const char *dot = strrchr(photo, '.');

    snprintf(path, sizeof path, "%s/%s/%.*s.png", dir, name,
             (int)(dot - photo), photo);
    if (cld_image_load(path, NULL, img) != CLD_OK)
        fail_msg("%s", cld_error_detail());
}

static void resize_need(void *arg, uint32_t w, uint32_t h, uint32_t *mw,
                        uint32_t *mh)
{
    assert_int_equal(cld_resize_output_size(arg, w, h, mw, mh), CLD_OK);
}

/* Load photo as the batch does for chain c when it shrinks on load: the
 * factor used and the decoded pixels. */
static unsigned shrunk_decode(const struct cld_chain *c, const char *photo,
                              struct cld_data *d)
{
    struct cld_params p = c->steps[0].params;
    struct cld_load_opts lo = {.min_size = resize_need, .min_size_arg = &p};
    struct cld_load_info info;

    memset(d, 0, sizeof *d);
    d->kind = CLD_DATA_IMAGE;
    if (cld_image_load_ex(cld_test_image(photo), &lo, &d->img, &info) !=
        CLD_OK)
        fail_msg("%s: %s", photo, cld_error_detail());
    return info.shrink;
}

/* The targets a batch test runs on: the host, then each device by
 * index; returns how many. */
static int batch_targets(const struct fix *f, char devices[4][16])
{
    int n = 0;

    snprintf(devices[n++], 16, "host");
    for (int d = 0; d < f->list.ndevices && n < 4; d++)
        snprintf(devices[n++], 16, "%d", d);
    return n;
}

/* Chains that start with resize, over the real photographs, on the host
 * and on every PoCL device: decoded at a reduced scale against the full
 * decode (--no-shrink-on-load), the same output size and within the
 * tolerance; the batch counts the items it shrank, as the loader decides
 * them. 0.25 and 0.5 reach a DCT scale exactly on most of these sides
 * (the resize is then left out; on rocket.jpg at 0.25 it stays, to its
 * decode's size, for the decode's extent); 0.2 decodes at 1/2 and resizes
 * the rest. */
static void test_chain_shrink_on_load_tolerance(void **state)
{
    const struct fix *f = *state;
    static const char *const blur[] = {"resize", "blur"};
    static const char *const sharpen[] = {"resize", "sharpen"};
    static const struct {
        const char *const *names;
        const char *sets[2];
        unsigned shrunk;   /* photos decoded at a reduced scale */
    } cases[] = {
        {blur, {"scale=0.25", "sigma=2"}, NPHOTOS},
        {sharpen, {"scale=0.5", NULL}, NPHOTOS - 1},
        {blur, {"scale=0.2", "sigma=2"}, NPHOTOS},
    };
    char *dir = cld_test_tmpdir();
    char *inputs[NPHOTOS];
    char devices[4][16];
    int ndev = batch_targets(f, devices);

    assert_non_null(dir);
    for (size_t i = 0; i < NPHOTOS; i++)
        inputs[i] = (char *)cld_test_image(photos[i]);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct cld_chain *c = make_chain(cases[k].names, cases[k].sets, 2);
        unsigned want = 0, shrink[NPHOTOS];

        for (size_t i = 0; i < NPHOTOS; i++) {
            struct cld_data d;

            shrink[i] = shrunk_decode(c, photos[i], &d);
            want += shrink[i] > 1;
            cld_data_free(&d);
        }
        assert_int_equal(want, cases[k].shrunk);
        for (int d = 0; d < ndev; d++) {
            struct cld_batch_result res;

            double full_mpix;

            run_batch(c, devices[d], true, inputs, NPHOTOS, dir, "full",
                      &res);
            assert_int_equal(res.shrunk, 0);
            full_mpix = res.mpix;
            run_batch(c, devices[d], false, inputs, NPHOTOS, dir, "shrunk",
                      &res);
            assert_int_equal(res.shrunk, want);
            /* The summary's pixels are the inputs' own, shrunk or not. */
            assert_true(fabs(res.mpix - full_mpix) < 1e-9);
            assert_true(full_mpix > 0);
            for (size_t i = 0; i < NPHOTOS; i++) {
                struct cld_image a, b;
                int maxdiff;
                double psnr;

                load_output(dir, "full", photos[i], &a);
                load_output(dir, "shrunk", photos[i], &b);
                assert_true(cld_test_image_diff(&a, &b, &maxdiff, &psnr));
                print_message("%s %s on %s, %s: shrink %u, max "
                              "difference %d, PSNR %.1f dB\n", c->name,
                              cases[k].sets[0], devices[d], photos[i],
                              shrink[i], maxdiff, psnr);
                if (shrink[i] == 1)
                    assert_int_equal(maxdiff, 0);
                else if (psnr < SHRINK_MIN_PSNR ||
                         maxdiff > SHRINK_MAX_DIFF)
                    fail_msg("%s %s on %s, %s: outside the tolerance",
                             c->name, cases[k].sets[0], devices[d],
                             photos[i]);
                cld_image_free(&a);
                cld_image_free(&b);
            }
        }
        cld_chain_destroy(c);
    }
    cld_test_rmtree(dir);
    free(dir);
}

/* A chain whose resize reaches a DCT scale exactly (--size a quarter, a
 * half of the photograph): the decode is step 0's output, the resize is
 * left out, and what the batch writes is the remaining steps' references
 * on the reduced decode, byte for byte, on the host and every device. */
static void test_chain_shrink_on_load_exact_scale(void **state)
{
    const struct fix *f = *state;
    static const char *const blur[] = {"resize", "blur"};
    static const char *const sharpen[] = {"resize", "sharpen"};
    static const struct {
        const char *photo;
        const char *const *names;
        const char *sets[2];
        unsigned shrink;
    } cases[] = {
        {"mate_storm.jpg", blur, {"size=480x320", "sigma=2"}, 4},
        {"kde_grey_2560x1600.jpg", sharpen, {"size=1280x800", NULL}, 2},
    };
    char *dir = cld_test_tmpdir();
    char devices[4][16];
    int ndev = batch_targets(f, devices);

    assert_non_null(dir);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct cld_chain *c = make_chain(cases[k].names, cases[k].sets, 2);
        char *in[1] = {(char *)cld_test_image(cases[k].photo)};
        struct cld_data d, want;
        uint32_t ow, oh;

        assert_int_equal(shrunk_decode(c, cases[k].photo, &d),
                         cases[k].shrink);
        assert_int_equal(cld_resize_output_size(&c->steps[0].params, 1, 1,
                                                &ow, &oh), CLD_OK);
        assert_int_equal(d.img.width, ow);
        assert_int_equal(d.img.height, oh);
        memset(&want, 0, sizeof want);
        assert_int_equal(c->steps[1].job->run_host(&c->steps[1].params, &d,
                                                   &want), CLD_OK);
        for (int t = 0; t < ndev; t++) {
            struct cld_batch_result res;
            struct cld_image got;

            run_batch(c, devices[t], false, in, 1, dir, "exact", &res);
            assert_int_equal(res.shrunk, 1);
            load_output(dir, "exact", cases[k].photo, &got);
            cld_test_assert_same_image(&got, &want.img);
            cld_image_free(&got);
        }
        cld_data_free(&want);
        cld_data_free(&d);
        cld_chain_destroy(c);
    }
    cld_test_rmtree(dir);
    free(dir);
}

/* A decode that is the output size only by rounding up a partial block
 * (rocket.jpg, 640x427, at 0.25: decoded at 1/4 to 160x107, standing for
 * 160x106.75) is not the result: resize alone still resizes it to its
 * size, by that extent, and a chain keeps its resize step; what the batch
 * writes is the references of those on the decode, byte for byte, on the
 * host and every device, and not the decode itself. */
static void test_chain_shrink_on_load_rounded(void **state)
{
    const struct fix *f = *state;
    static const char *const names[] = {"resize", "blur"};
    static const char *const sets[] = {"scale=0.25", "sigma=2"};
    struct cld_chain *c = make_chain(names, sets, 2);
    char *in[1] = {(char *)cld_test_image("rocket.jpg")};
    char *dir = cld_test_tmpdir();
    char devices[4][16];
    int ndev = batch_targets(f, devices);
    struct cld_params q = c->steps[0].params;
    struct cld_data d, sized, want;

    assert_non_null(dir);
    assert_int_equal(shrunk_decode(c, "rocket.jpg", &d), 4);
    assert_int_equal(d.img.width, 160);
    assert_int_equal(d.img.height, 107);
    assert_int_equal(cld_resize_set_size(&q, 160, 107), CLD_OK);
    assert_int_equal(cld_resize_set_source(&q, 640, 427, 4, 1), CLD_OK);
    assert_false(cld_resize_copies(&q, 160, 107));
    memset(&sized, 0, sizeof sized);
    memset(&want, 0, sizeof want);
    assert_int_equal(cld_job_resize.run_host(&q, &d, &sized), CLD_OK);
    assert_memory_not_equal(sized.img.data, d.img.data,
                            cld_image_bytes(160, 107, 3));
    assert_int_equal(c->steps[1].job->run_host(&c->steps[1].params, &sized,
                                               &want), CLD_OK);
    for (int t = 0; t < ndev; t++) {
        struct cld_batch_result res;
        struct cld_image got;

        run_job_batch(&cld_job_resize, &c->steps[0].params, devices[t],
                      false, in, 1, dir, "alone", &res);
        assert_int_equal(res.shrunk, 1);
        load_output(dir, "alone", "rocket.jpg", &got);
        cld_test_assert_same_image(&got, &sized.img);
        cld_image_free(&got);
        run_batch(c, devices[t], false, in, 1, dir, "chain", &res);
        assert_int_equal(res.shrunk, 1);
        load_output(dir, "chain", "rocket.jpg", &got);
        cld_test_assert_same_image(&got, &want.img);
        cld_image_free(&got);
    }
    cld_data_free(&want);
    cld_data_free(&sized);
    cld_data_free(&d);
    cld_chain_destroy(c);
    cld_test_rmtree(dir);
    free(dir);
}

/* PNG and PPM inputs are never shrunk, and --no-shrink-on-load decodes
 * JPEGs at full size for a chain too: the batch counts none, and writes
 * the composition of the references on the full image, byte for byte, on
 * the host and every device. */
static void test_chain_shrink_on_load_only_jpeg(void **state)
{
    const struct fix *f = *state;
    static const char *const names[] = {"resize", "blur"};
    static const char *const sets[] = {"scale=0.25", "sigma=2"};
    static const char *const files[] = {"astronaut.png", "astronaut.ppm",
                                        "mate_storm.jpg"};
    struct cld_chain *c = make_chain(names, sets, 2);
    char *dir = cld_test_tmpdir();
    char devices[4][16];
    int ndev = batch_targets(f, devices);

    assert_non_null(dir);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *in[1] = {(char *)cld_test_image(files[i])};
        bool jpeg = strstr(files[i], ".jpg") != NULL;
        struct cld_data full, want;

        cld_test_load(files[i], &full);
        reference(c, &full, &want);
        for (int t = 0; t < ndev; t++) {
            struct cld_batch_result res;
            struct cld_image got;

            /* A JPEG with the option; the others without. */
            run_batch(c, devices[t], jpeg, in, 1, dir, "o", &res);
            assert_int_equal(res.shrunk, 0);
            load_output(dir, "o", files[i], &got);
            cld_test_assert_same_image(&got, &want.img);
            cld_image_free(&got);
        }
        cld_data_free(&want);
        cld_data_free(&full);
    }
    cld_chain_destroy(c);
    cld_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_exact_equals_references),
        cmocka_unit_test(test_chain_resize_equals_references),
        cmocka_unit_test(test_chain_host_step_runs_stepwise),
        cmocka_unit_test(test_chain_cli_writes_composition),
        cmocka_unit_test(test_chain_cli_explain_and_plan),
        cmocka_unit_test(test_chain_split_through_engine),
        cmocka_unit_test(test_chain_shrink_on_load_tolerance),
        cmocka_unit_test(test_chain_shrink_on_load_exact_scale),
        cmocka_unit_test(test_chain_shrink_on_load_rounded),
        cmocka_unit_test(test_chain_shrink_on_load_only_jpeg),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("chain");
    return cmocka_run_group_tests_name("chain_pocl", tests, setup,
                                       teardown);
}
