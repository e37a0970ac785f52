/* Job chains without a device: `run A ... then B ...` parsed into a chain
 * whose steps keep their own options (and a single job parsed as before),
 * the one-line usage errors of a bad chain, the chain as one workload
 * for placement (sizes from each step's declared output, transfer of the
 * first input and last output, compute summed, one history key), the
 * split of a chain across a synthetic discrete GPU and the host (each
 * part priced as a job of its own, the cheapest of whole and split
 * chosen), and an item's own copy of a chain after shrink-on-load (with
 * parts of its own). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "chain.h"
#include "cli.h"
#include "fixtures.h"
#include "jobs.h"
#include "placement.h"
#include "targets.h"

/* A parsed command line: `run` then the words of line (one per line). */
struct parsed {
    char *text;
    char *argv[32];
    int argc;
    int rc;
    int first;
    struct cld_batch_opts o;
    char err[1024]; /* what the parse printed on stderr */
};

static void parse(struct parsed *p, const char *line)
{
    FILE *tmp = tmpfile();
    int saved;
    size_t n;

    memset(p, 0, sizeof *p);
    assert_non_null(tmp);
    p->text = strdup(line);
    assert_non_null(p->text);
    p->argv[p->argc++] = "run";
    for (char *s = p->text; p->argc < 31;) {
        char *nl = strchr(s, '\n');

        p->argv[p->argc++] = s;
        if (!nl)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    p->argv[p->argc] = NULL;
    unsetenv("CLDISPATCH_DEVICE");
    fflush(stderr);
    saved = dup(fileno(stderr));
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), fileno(stderr)) >= 0);
    p->rc = cld__cli_parse_run(p->argc, p->argv, &p->o, &p->first);
    fflush(stderr);
    assert_true(dup2(saved, fileno(stderr)) >= 0);
    close(saved);
    rewind(tmp);
    n = fread(p->err, 1, sizeof p->err - 1, tmp);
    p->err[n] = '\0';
    fclose(tmp);
}

static void parsed_free(struct parsed *p)
{
    if (p->rc == -1)
        cld_chain_job_destroy(p->o.job);
    free(p->text);
}

/* The parse fails with exit code 2 and a first line containing want. */
static void expect_usage(const char *line, const char *want)
{
    struct parsed p;
    char *nl;

    parse(&p, line);
    if (p.rc != CLD_EXIT_USAGE)
        fail_msg("'%s': exit %d, not 2", line, p.rc);
    nl = strchr(p.err, '\n');
    if (nl)
        *nl = '\0';
    if (!strstr(p.err, want))
        fail_msg("'%s': error line '%s' does not say '%s'", line, p.err,
                 want);
    parsed_free(&p);
}

static double real_param(const struct cld_params *p, const char *name)
{
    int i = cld_params_find(p, name);

    assert_true(i >= 0);
    return cld_param_real(p, (size_t)i);
}

static void test_chain_parse_steps(void **state)
{
    struct parsed p;
    const struct cld_chain *c;

    (void)state;
    /* Step options after their job; batch options and inputs anywhere. */
    parse(&p, "resize\n--scale\n0.5\na.png\nthen\nblur\n--sigma\n3\n-o\n"
              "out\nthen\nsharpen\nb.png\n--amount\n1.5\n-d\nhost\nc.png");
    assert_int_equal(p.rc, -1);
    c = p.o.job->chain;
    assert_non_null(c);
    assert_int_equal(c->nsteps, 3);
    assert_ptr_equal(c->steps[0].job, &cld_job_resize);
    assert_ptr_equal(c->steps[1].job, &cld_job_blur);
    assert_ptr_equal(c->steps[2].job, &cld_job_sharpen);
    assert_true(real_param(&c->steps[0].params, "scale") == 0.5);
    assert_true(real_param(&c->steps[1].params, "sigma") == 3.0);
    /* Each step keeps its own defaults. */
    assert_true(real_param(&c->steps[2].params, "sigma") == 2.0);
    assert_true(real_param(&c->steps[2].params, "amount") == 1.5);
    assert_string_equal(p.o.job->name, "resize+blur+sharpen");
    assert_string_equal(c->key, "scale=0.5; sigma=3; sigma=2 amount=1.5");
    assert_string_equal(p.o.outdir, "out");
    assert_string_equal(p.o.device, "host");
    /* Only the inputs, in order, from argv[first] on. */
    assert_int_equal(p.argc - p.first, 3);
    assert_string_equal(p.argv[p.first], "a.png");
    assert_string_equal(p.argv[p.first + 1], "b.png");
    assert_string_equal(p.argv[p.first + 2], "c.png");
    parsed_free(&p);
}

static void test_chain_parse_single_job_unchanged(void **state)
{
    struct parsed p;

    (void)state;
    parse(&p, "blur\na.png\n--sigma\n3\n-o\nout\nb.png");
    assert_int_equal(p.rc, -1);
    assert_ptr_equal(p.o.job, &cld_job_blur);
    assert_true(real_param(&p.o.params, "sigma") == 3.0);
    assert_int_equal(p.argc - p.first, 2);
    assert_string_equal(p.argv[p.first], "a.png");
    assert_string_equal(p.argv[p.first + 1], "b.png");
    parsed_free(&p);
    /* A word `then` that is an option's value is not a step. */
    parse(&p, "blur\n-o\nthen\na.png");
    assert_int_equal(p.rc, -1);
    assert_ptr_equal(p.o.job, &cld_job_blur);
    assert_string_equal(p.o.outdir, "then");
    assert_int_equal(p.argc - p.first, 1);
    parsed_free(&p);
    parse(&p, "blur\n--out\nthen\n--\nthen");
    assert_int_equal(p.rc, -1);
    assert_ptr_equal(p.o.job, &cld_job_blur);
    assert_int_equal(p.argc - p.first, 1);
    assert_string_equal(p.argv[p.first], "then");
    parsed_free(&p);
}

static void test_chain_parse_errors(void **state)
{
    (void)state;
    expect_usage("blur\n-o\nout\na.png\nthen", "'then' at the end");
    expect_usage("blur\nthen\nnosuch\n-o\nout\na.png",
                 "unknown job 'nosuch' after 'then'");
    expect_usage("blur\nthen\n--sigma\n2\nsharpen\n-o\nout\na.png",
                 "unknown job '--sigma' after 'then'");
    expect_usage("resize\n--scale\n0.5\nthen\nblur\n--amount\n2\n-o\nout\n"
                 "a.png", "--amount is not an option of blur (step 2 of "
                 "the chain)");
    expect_usage("resize\n--sigma\n2\nthen\nblur\n-o\nout\na.png",
                 "--sigma is not an option of resize (step 1");
    expect_usage("blur\nthen\nmatmul\n-o\nout\na.png",
                 "matmul cannot be a step of a chain (step 2)");
    expect_usage("mandelbrot\nthen\nblur\n-o\nout",
                 "mandelbrot cannot be a step of a chain (step 1)");
    /* A step's own check (resize needs --scale or --size). */
    expect_usage("blur\nthen\nresize\n-o\nout\na.png",
                 "resize (step 2): resize: give exactly one of");
    expect_usage("blur\nthen\nblur\nthen\nblur\nthen\nblur\nthen\nblur\n"
                 "then\nblur\nthen\nblur\nthen\nblur\nthen\nblur\n-o\nout\n"
                 "a.png", "at most 8 steps");
}

/* A chain made from (job, sigma or scale) pairs. */
static struct cld_chain *make_chain(const struct cld_job *const *jobs,
                                    int n)
{
    struct cld_chain *c;

    assert_int_equal(cld_chain_create(&c), CLD_OK);
    for (int k = 0; k < n; k++) {
        struct cld_params p;

        cld_params_default(&p, jobs[k]);
        if (jobs[k] == &cld_job_resize)
            assert_int_equal(cld_params_set_real(&p, "scale", 0.5), CLD_OK);
        assert_int_equal(cld_chain_add(c, jobs[k], &p), CLD_OK);
    }
    assert_int_equal(cld_chain_finish(c), CLD_OK);
    return c;
}

static void test_chain_workload(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_resize, &cld_job_blur, &cld_job_sharpen,
    };
    struct cld_chain *c = make_chain(jobs, 3);
    struct cld_data in, mid;
    struct cld_workload w, s[3];
    struct cld_params p[3];
    double ops = 0;

    (void)state;
    memset(&in, 0, sizeof in);
    in.kind = CLD_DATA_IMAGE;
    in.img.width = 640;
    in.img.height = 480;
    in.img.channels = 3;
    mid = in;
    mid.img.width = 320;
    mid.img.height = 240;
    for (int k = 0; k < 3; k++) {
        p[k] = c->steps[k].params;
        cld_targets_workload(jobs[k], &p[k], k ? &mid : &in, &s[k]);
        ops += s[k].ops_per_element * (double)s[k].elements;
    }
    cld_targets_workload(&c->job, NULL, &in, &w);
    assert_string_equal(w.job, "resize+blur+sharpen");
    assert_string_equal(w.params, "scale=0.5; sigma=2; sigma=2 amount=1");
    /* The bus carries the first input and the last output only. */
    assert_int_equal(w.elements, 640 * 480);
    assert_int_equal(w.bytes_in, 640 * 480 * 3);
    assert_int_equal(w.bytes_out, 320 * 240 * 3);
    assert_int_equal(w.bytes_out, s[2].bytes_out);
    /* Compute: every step's work, per element of the input. */
    assert_true(w.ops_per_element * (double)w.elements > 0.999 * ops &&
                w.ops_per_element * (double)w.elements < 1.001 * ops);
    assert_int_equal(w.kernel_launches, s[0].kernel_launches +
                     s[1].kernel_launches + s[2].kernel_launches);
    assert_true(w.flags & CLD_WL_DATA_PARALLEL);
    cld_chain_destroy(c);
}

static void test_chain_shapes(void **state)
{
    const struct cld_job *const jobs[] = {
        &cld_job_blur, &cld_job_resize, cld_job_find("sobel"),
        &cld_job_sharpen,
    };
    struct cld_chain *c = make_chain(jobs, 4);
    struct cld_image in = {.width = 101, .height = 77, .channels = 3};
    struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
    uint32_t ow, oh;

    (void)state;
    assert_int_equal(cld_resize_output_size(&c->steps[1].params, 101, 77,
                                            &ow, &oh), CLD_OK);
    assert_true(ow < 101 && oh < 77);
    cld_chain_shapes(c, &in, shape);
    assert_int_equal(shape[1].width, 101);
    assert_int_equal(shape[1].channels, 3);
    /* resize's own rule for the size, sobel's traits for gray. */
    assert_int_equal(shape[2].width, ow);
    assert_int_equal(shape[2].height, oh);
    assert_int_equal(shape[2].channels, 3);
    assert_int_equal(shape[3].channels, 1);
    assert_int_equal(shape[4].width, ow);
    assert_int_equal(shape[4].height, oh);
    assert_int_equal(shape[4].channels, 1);
    /* One field per step in the history's text, "-" for none. */
    assert_string_equal(c->key, "sigma=2; scale=0.5; -; sigma=2 amount=1");
    assert_string_equal(c->job.name, "blur+resize+sobel+sharpen");
    cld_chain_destroy(c);
}

/* Which chains merge into one device work, by kind of device: a host
 * step (equalize) never; a kernel with a fallback (dither's wave kernel
 * on GPUs) only where the plan picks the kernel without one. */
static void test_chain_merges(void **state)
{
    const struct cld_job *const plain[] = {
        &cld_job_resize, &cld_job_blur, &cld_job_sharpen,
    };
    const struct cld_job *const host_step[] = {
        &cld_job_blur, &cld_job_equalize,
    };
    const struct cld_job *const dither[] = {
        &cld_job_blur, &cld_job_dither,
    };
    struct cld_dev_facts cpu = {.cpu = true}, gpu = {.cpu = false};
    struct cld_chain *c;

    (void)state;
    c = make_chain(plain, 3);
    assert_true(cld_chain_merges(c, &cpu));
    assert_true(cld_chain_merges(c, &gpu));
    assert_true(cld_job_one_work(&c->job, &gpu));
    cld_chain_destroy(c);
    c = make_chain(host_step, 2);
    assert_false(cld_chain_merges(c, &cpu));
    assert_false(cld_chain_merges(c, &gpu));
    assert_false(cld_job_one_work(&c->job, &cpu));
    assert_non_null(strstr(c->why[0], "equalize runs a host step"));
    cld_chain_destroy(c);
    c = make_chain(dither, 2);
    assert_true(cld_chain_merges(c, &cpu));
    assert_false(cld_chain_merges(c, &gpu));
    assert_non_null(strstr(c->why[1], "dither"));
    cld_chain_destroy(c);
    /* A plain job is always one work. */
    assert_true(cld_job_one_work(&cld_job_blur, &gpu));
}

/* Step 0's parameters as shrink-on-load sets them (cld_engine_shrunk) for
 * a full width x height decoded at 1/shrink. */
static struct cld_params shrunk_first(const struct cld_params *p,
                                      uint32_t width, uint32_t height,
                                      unsigned shrink)
{
    struct cld_params q = *p;
    uint32_t ow, oh;

    assert_int_equal(cld_resize_output_size(p, width, height, &ow, &oh),
                     CLD_OK);
    assert_int_equal(cld_resize_set_size(&q, ow, oh), CLD_OK);
    assert_int_equal(cld_resize_set_source(&q, width, height, shrink, 1),
                     CLD_OK);
    return q;
}

/* The item's own chain after shrink-on-load (cld_chain_shrunk): its
 * first resize goes to the output size of the full image from the reduced
 * input, mapping by the decode's true extent, or is left out when the
 * decode already is that size and the factor divides both sides (a decode
 * that is the output size only by rounding up a partial block, 1001 / 2 to
 * 501, still resamples); the copy keeps the chain's name and history key,
 * its job points at itself, and the original is untouched. A chain that
 * does not start with resize has no such copy. */
static void test_chain_shrunk_copy(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_resize, &cld_job_blur, &cld_job_sharpen,
    };
    static const struct cld_job *const dither[] = {
        &cld_job_resize, &cld_job_dither,
    };
    struct cld_chain *c = make_chain(jobs, 3), *s;
    struct cld_image in = {.width = 1001, .height = 751, .channels = 3};
    struct cld_image full[CLD_CHAIN_MAX_STEPS + 1];
    struct cld_image part[CLD_CHAIN_MAX_STEPS + 1];
    struct cld_dev_facts gpu = {.cpu = false};
    struct cld_params q;
    uint32_t ow, oh;

    (void)state;
    /* 1001x751 at 0.5 is 501x376; decoded at 1/2 it is 501x376 too. */
    assert_int_equal(cld_resize_output_size(&c->steps[0].params, 1001, 751,
                                            &ow, &oh), CLD_OK);
    assert_int_equal(ow, 501);
    assert_int_equal(oh, 376);
    cld_chain_shapes(c, &in, full);

    /* Decoded at 1/4 (251x188): the first step resizes to 501x376. */
    q = shrunk_first(&c->steps[0].params, 1001, 751, 4);
    assert_int_equal(cld_chain_shrunk(c, &q, 251, 188, &s), CLD_OK);
    assert_ptr_equal(s->job.chain, s);
    assert_ptr_equal(s->job.name, s->name);
    assert_string_equal(s->job.name, "resize+blur+sharpen");
    assert_string_equal(s->key, c->key);
    assert_int_equal(s->nsteps, 3);
    assert_ptr_equal(s->steps[0].job, &cld_job_resize);
    in.width = 251;
    in.height = 188;
    cld_chain_shapes(s, &in, part);
    for (unsigned k = 1; k <= 3; k++) {
        assert_int_equal(part[k].width, full[k].width);
        assert_int_equal(part[k].height, full[k].height);
    }
    assert_true(real_param(&c->steps[0].params, "scale") == 0.5);
    assert_int_equal(c->steps[0].params.source.shrink, 0);
    assert_int_equal(s->steps[0].params.source.shrink, 4);
    assert_int_equal(s->steps[0].params.source.width, 1001);
    assert_int_equal(s->steps[0].params.source.height, 751);
    assert_true(cld_job_one_work(&s->job, &gpu));
    /* The parts a split runs are the copy's own, made of its steps (the
     * first part resizes to 501x376 too), not c's: each chain frees its
     * own (ASan and valgrind catch a double free here). */
    {
        const struct cld_params *pp, *cp;
        const struct cld_job *head = cld_chain_part(s, 0, 2, &pp);
        const struct cld_job *chead = cld_chain_part(c, 0, 2, &cp);
        struct cld_image hs[CLD_CHAIN_MAX_STEPS + 1];

        assert_non_null(head);
        assert_non_null(chead);
        assert_ptr_not_equal(head, chead);
        assert_ptr_equal(pp, &s->steps[0].params);
        assert_string_equal(head->name, "resize+blur");
        cld_chain_shapes(head->chain, &in, hs);
        assert_int_equal(hs[2].width, full[2].width);
        assert_int_equal(hs[2].height, full[2].height);
        assert_ptr_equal(cld_chain_part(s, 1, 3, &pp),
                         &s->tail[1]->job);
        assert_ptr_not_equal(s->tail[1], c->tail[1]);
    }
    cld_chain_destroy(s);

    /* Decoded at 1/2: 501x376 too, but its extent is 500.5x375.5 (the
     * last column and row stand for half a block each): the resize stays,
     * to the same size, mapping by that extent. */
    q = shrunk_first(&c->steps[0].params, 1001, 751, 2);
    assert_false(cld_resize_copies(&q, 501, 376));
    assert_int_equal(cld_chain_shrunk(c, &q, 501, 376, &s), CLD_OK);
    assert_int_equal(s->nsteps, 3);
    assert_ptr_equal(s->steps[0].job, &cld_job_resize);
    assert_int_equal(s->steps[0].params.source.shrink, 2);
    in.width = 501;
    in.height = 376;
    cld_chain_shapes(s, &in, part);
    assert_int_equal(part[3].width, full[3].width);
    assert_int_equal(part[3].height, full[3].height);
    cld_chain_destroy(s);

    /* 1000x752 decoded at 1/2 is exactly its 500x376 output: the resize
     * is left out. */
    in.width = 1000;
    in.height = 752;
    cld_chain_shapes(c, &in, full);
    q = shrunk_first(&c->steps[0].params, 1000, 752, 2);
    assert_true(cld_resize_copies(&q, 500, 376));
    assert_int_equal(cld_chain_shrunk(c, &q, 500, 376, &s), CLD_OK);
    assert_int_equal(s->nsteps, 2);
    assert_ptr_equal(s->steps[0].job, &cld_job_blur);
    assert_ptr_equal(s->steps[1].job, &cld_job_sharpen);
    assert_string_equal(s->job.name, "resize+blur+sharpen");
    assert_string_equal(s->job.family, cld_job_blur.family);
    in.width = 500;
    in.height = 376;
    cld_chain_shapes(s, &in, part);
    assert_int_equal(part[2].width, full[3].width);
    assert_int_equal(part[2].height, full[3].height);
    cld_chain_destroy(s);
    cld_chain_destroy(c);

    /* Merging is found for the copy's own steps: dither alone still may
     * need its fallback on a GPU. */
    c = make_chain(dither, 2);
    q = shrunk_first(&c->steps[0].params, 100, 80, 2);
    assert_int_equal(cld_chain_shrunk(c, &q, 50, 40, &s), CLD_OK);
    assert_int_equal(s->nsteps, 1);
    assert_false(cld_chain_merges(s, &gpu));
    cld_chain_destroy(s);
    cld_chain_destroy(c);

    c = make_chain(jobs + 1, 2);
    assert_int_equal(cld_chain_shrunk(c, &q, 50, 40, &s), CLD_ERR_INTERNAL);
    assert_null(s);
    cld_chain_destroy(c);
}

/* Regression (fuzz_options, out of memory): finishing a chain plans it on
 * a probe image to learn whether its steps merge, and a chain of
 * enlarging resizes made that probe 31190x31190 (2.9 GB). The probe now
 * keeps every image within a megapixel; the child runs with its address
 * space limited to 1 GiB (not under ASan, which reserves far more), where
 * the old probe's allocation failed and the chain was said not to merge. */
static void test_chain_large_resizes_probe_small(void **state)
{
    static const double scales[3] = {11.4, 4.5, 9.5};
    pid_t pid;
    int status = 0;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct cld_chain *c;
        bool ok;

#if !defined(__SANITIZE_ADDRESS__)
        struct rlimit lim = {1ul << 30, 1ul << 30};

        setrlimit(RLIMIT_AS, &lim);
#endif
        if (cld_chain_create(&c) != CLD_OK)
            _exit(2);
        for (int k = 0; k < 3; k++) {
            struct cld_params p;

            cld_params_default(&p, &cld_job_resize);
            if (cld_params_set_real(&p, "scale", scales[k]) != CLD_OK ||
                cld_chain_add(c, &cld_job_resize, &p) != CLD_OK)
                _exit(3);
        }
        ok = cld_chain_finish(c) == CLD_OK && c->merges[0] && c->merges[1];
        cld_chain_destroy(c);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- splitting a chain across targets --------------------------------- */

enum { HOST, DGPU };

/* A machine of the host (one thread per item at 3 GHz, as the engine's
 * host target) and a discrete GPU (40 units at 1.7 GHz, a 16 GB/s bus),
 * uncalibrated: the prior and, where a test adds some, the run history
 * decide. The device list is synthetic (no OpenCL): only its profile is
 * used. */
static struct cld_targets *dgpu_machine(void)
{
    struct cld_device_info d;
    struct cld_device_list list;
    struct cld_targets *t = NULL;
    struct cld_target_profile *p;

    memset(&d, 0, sizeof d);
    memset(&list, 0, sizeof list);
    snprintf(d.id, sizeof d.id, "synthetic:dgpu");
    snprintf(d.name, sizeof d.name, "dgpu");
    snprintf(d.platform_name, sizeof d.platform_name, "synthetic");
    snprintf(d.driver_version, sizeof d.driver_version, "1.0");
    d.type = CL_DEVICE_TYPE_GPU;
    d.compute_units = 40;
    d.max_clock_mhz = 1700;
    d.global_mem = 8ull << 30;
    d.max_alloc = 2ull << 30;
    d.fp64 = true;
    d.pref_vec_float = 1;
    list.ndevices = 1;
    list.devices = &d;
    assert_int_equal(cld_targets_create(&list, &t), CLD_OK);
    assert_int_equal(cld_targets_count(t), 2);
    p = cld_targets_profile(t, HOST);
    p->compute_units = 2;
    p->max_clock_mhz = 3000;
    p->host_threads = 1;
    p = cld_targets_profile(t, DGPU);
    assert_int_equal(p->kind, CLD_TARGET_CL_GPU);
    p->h2d_bytes_per_s = 16e9;
    p->d2h_bytes_per_s = 16e9;
    return t;
}

/* An RGB image of w x h: its shape only, as placement needs. */
static struct cld_data shape_only(uint32_t w, uint32_t h)
{
    struct cld_data d;

    memset(&d, 0, sizeof d);
    d.kind = CLD_DATA_IMAGE;
    d.img.width = w;
    d.img.height = h;
    d.img.channels = 3;
    return d;
}

/* Decide job (a step alone) on in, the plan as the parts' are made. */
static void decide_alone(struct cld_targets *t, const struct cld_job *job,
                         const struct cld_params *p,
                         const struct cld_data *in,
                         const struct cld_history *h, struct cld_plan *plan)
{
    cld_plan_init(plan);
    assert_int_equal(cld_targets_decide(t, job, p, in, h, plan), CLD_OK);
}

static bool near(double a, double b)
{
    return a > 0.999 * b && a < 1.001 * b;
}

/* `blur --sigma 2 then dither` on a 4000x3000 image: dither is
 * order-dependent and stays on the host; blur is ~100x faster on the GPU
 * than on the host, even with the image over the bus both ways. The
 * chain splits after step 1, each part priced as the step alone would be
 * (the GPU's part: the input up, blur, its output back; the host's: no
 * transfer), and the split beats the whole chain on the host. */
static void test_chain_split_blur_dither(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_blur, &cld_job_dither,
    };
    struct cld_chain *c = make_chain(jobs, 2);
    struct cld_targets *t = dgpu_machine();
    struct cld_data in = shape_only(4000, 3000);
    struct cld_plan plan, blur, dither;
    struct cld_workload w;
    const struct cld_split *s = &plan.split;
    char *text = NULL;
    size_t len = 0;
    FILE *m;

    (void)state;
    decide_alone(t, &c->job, NULL, &in, NULL, &plan);
    assert_true(s->used);
    assert_int_equal(s->at, 1);
    assert_int_equal(s->nsteps, 2);
    assert_int_equal(s->part[0].target, DGPU);
    assert_int_equal(s->part[1].target, HOST);
    assert_string_equal(s->part[0].job, "blur");
    assert_string_equal(s->part[0].params, "sigma=2");
    assert_string_equal(s->part[1].job, "dither");
    /* The whole chain: on the host (sequential work stays there). */
    assert_int_equal(s->whole, HOST);
    assert_true(near(s->whole_s, plan.cand[HOST].seconds));
    assert_true(s->seconds < s->whole_s);
    /* The parts are priced as the steps alone. */
    decide_alone(t, &cld_job_blur, &c->steps[0].params, &in, NULL, &blur);
    decide_alone(t, &cld_job_dither, &c->steps[1].params, &in, NULL,
                 &dither);
    assert_true(near(s->part[0].seconds, blur.cand[DGPU].seconds));
    assert_true(near(s->part[1].seconds, dither.cand[HOST].seconds));
    assert_true(near(s->seconds, s->part[0].seconds + s->part[1].seconds));
    cld_targets_workload(&cld_job_blur, &c->steps[0].params, &in, &w);
    assert_true(near(blur.cand[DGPU].transfer_s,
                     (double)(w.bytes_in + w.bytes_out) / 16e9));
    assert_true(blur.cand[HOST].transfer_s == 0);
    /* The item counts where it spends most of its time: dither's host. */
    assert_true(s->part[1].seconds > s->part[0].seconds);
    assert_int_equal(plan.chosen, HOST);
    /* --explain: both parts marked, both predictions in the reason. */
    m = open_memstream(&text, &len);
    assert_non_null(m);
    cld_plan_print(m, &plan);
    fclose(m);
    if (!strstr(text, "split after step 1 of 2 (the intermediate through "
                      "host memory):\n* synthetic:dgpu") ||
        !strstr(text, "step 1, blur (sigma=2): calibrated: 16.0 GB/s bus; "
                      "prior:") ||
        !strstr(text, "step 2, dither (levels=2): rule: sequential work "
                      "stays on host") ||
        !strstr(text, "chosen: split after step 1: blur on synthetic:dgpu, "
                      "dither on host: ") ||
        !strstr(text, "in all; the whole chain at best on host: "
                      "sequential work stays on host"))
        fail_msg("the plan printed:\n%s", text);
    free(text);
    cld_targets_destroy(t);
    cld_chain_destroy(c);
}

/* A chain of data-parallel steps runs whole on the GPU: a split only
 * adds a trip over the bus. Its best split is still priced, and shown. */
static void test_chain_parallel_does_not_split(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_blur, &cld_job_sharpen,
    };
    struct cld_chain *c = make_chain(jobs, 2);
    struct cld_targets *t = dgpu_machine();
    struct cld_data in = shape_only(4000, 3000);
    struct cld_plan plan;
    char *text = NULL;
    size_t len = 0;
    FILE *m;

    (void)state;
    decide_alone(t, &c->job, NULL, &in, NULL, &plan);
    assert_int_equal(plan.chosen, DGPU);
    assert_int_equal(plan.split.at, 1);
    assert_false(plan.split.used);
    assert_true(plan.split.seconds > plan.cand[DGPU].seconds);
    m = open_memstream(&text, &len);
    assert_non_null(m);
    cld_plan_print(m, &plan);
    fclose(m);
    if (!strstr(text, "* synthetic:dgpu") ||
        !strstr(text, "best split, after step 1 of 2: ") ||
        !strstr(text, "no faster than the whole chain on synthetic:dgpu") ||
        !strstr(text, "chosen: synthetic:dgpu: lowest predicted time"))
        fail_msg("the plan printed:\n%s", text);
    free(text);
    cld_targets_destroy(t);
    cld_chain_destroy(c);
}

/* A tiny input runs whole on the host: the GPU's launches and transfers
 * cost more than the work, so no split either. */
static void test_chain_tiny_input_stays_on_host(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_blur, &cld_job_dither,
    };
    struct cld_chain *c = make_chain(jobs, 2);
    struct cld_targets *t = dgpu_machine();
    struct cld_data in = shape_only(16, 12);
    struct cld_plan plan;

    (void)state;
    decide_alone(t, &c->job, NULL, &in, NULL, &plan);
    assert_int_equal(plan.chosen, HOST);
    assert_true(plan.split.at > 0);
    assert_false(plan.split.used);
    assert_true(plan.split.seconds > plan.cand[HOST].seconds);
    cld_targets_destroy(t);
    cld_chain_destroy(c);
}

/* The split point with a sub-chain for a part (resize then blur on the
 * GPU, dither on the host); a target the caller excluded is used by
 * neither part; the run history of a part, under its own name, replaces
 * the model for it (blur measured slow on the GPU: no split), and the
 * whole chain measured fast on the host keeps it whole. */
static void test_chain_split_parts_and_history(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_resize, &cld_job_blur, &cld_job_dither,
    };
    static const struct cld_job *const two[] = {
        &cld_job_blur, &cld_job_dither,
    };
    struct cld_chain *c = make_chain(jobs, 3), *bd = make_chain(two, 2);
    struct cld_targets *t = dgpu_machine();
    struct cld_data in = shape_only(4000, 3000);
    struct cld_history h;
    struct cld_workload w;
    struct cld_plan plan;
    const struct cld_params *p;

    (void)state;
    decide_alone(t, &c->job, NULL, &in, NULL, &plan);
    assert_true(plan.split.used);
    assert_int_equal(plan.split.at, 2);
    assert_string_equal(plan.split.part[0].job, "resize+blur");
    assert_string_equal(plan.split.part[0].params, "scale=0.5; sigma=2");
    assert_int_equal(plan.split.part[0].target, DGPU);
    assert_string_equal(plan.split.part[1].job, "dither");
    assert_int_equal(plan.split.part[1].target, HOST);
    /* The parts: a sub-chain, a step's own job; no part of a part. */
    assert_ptr_equal(cld_chain_part(c, 0, 2, &p), &c->head[2]->job);
    assert_ptr_equal(cld_chain_part(c, 2, 3, &p), &cld_job_dither);
    assert_ptr_equal(p, &c->steps[2].params);
    assert_ptr_equal(cld_chain_part(c, 1, 3, &p), &c->tail[1]->job);
    assert_null(cld_chain_part(c, 1, 2, &p));
    assert_null(cld_chain_part(c, 0, 3, &p));
    assert_null(cld_chain_part(c->head[2], 0, 1, &p));

    /* The GPU excluded by the caller: nothing to split onto. */
    cld_plan_init(&plan);
    assert_int_equal(cld_plan_exclude(&plan, DGPU, "off"), CLD_OK);
    assert_int_equal(cld_targets_decide(t, &c->job, NULL, &in, NULL, &plan),
                     CLD_OK);
    assert_int_equal(plan.chosen, HOST);
    assert_int_equal(plan.split.at, 0);
    assert_false(plan.split.used);

    /* blur measured slow on the GPU at this size (10 s): no split. */
    cld_history_init(&h);
    cld_targets_workload(&cld_job_blur, &bd->steps[0].params, &in, &w);
    for (int k = 0; k < CLD_HISTORY_MIN_SAMPLES; k++)
        assert_int_equal(cld_history_add(&h, "blur", w.params,
                                         cld_targets_profiles(t)[DGPU].key,
                                         cld_history_work(&w), 10.0),
                         CLD_OK);
    decide_alone(t, &bd->job, NULL, &in, &h, &plan);
    assert_false(plan.split.used);
    assert_int_equal(plan.chosen, HOST);
    assert_int_equal(plan.split.part[0].target, DGPU);
    assert_non_null(strstr(plan.split.part[0].basis, "measured"));
    cld_history_clear(&h);

    /* The whole chain measured fast on the host (1 ms): kept whole. */
    cld_history_init(&h);
    cld_targets_workload(&bd->job, NULL, &in, &w);
    for (int k = 0; k < CLD_HISTORY_MIN_SAMPLES; k++)
        assert_int_equal(cld_history_add(&h, w.job, w.params,
                                         cld_targets_profiles(t)[HOST].key,
                                         cld_history_work(&w), 0.001),
                         CLD_OK);
    decide_alone(t, &bd->job, NULL, &in, &h, &plan);
    assert_false(plan.split.used);
    assert_int_equal(plan.chosen, HOST);
    assert_true(plan.cand[HOST].measured);
    cld_history_clear(&h);
    cld_targets_destroy(t);
    cld_chain_destroy(bd);
    cld_chain_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_parse_steps),
        cmocka_unit_test(test_chain_parse_single_job_unchanged),
        cmocka_unit_test(test_chain_parse_errors),
        cmocka_unit_test(test_chain_workload),
        cmocka_unit_test(test_chain_shapes),
        cmocka_unit_test(test_chain_merges),
        cmocka_unit_test(test_chain_shrunk_copy),
        cmocka_unit_test(test_chain_large_resizes_probe_small),
        cmocka_unit_test(test_chain_split_blur_dither),
        cmocka_unit_test(test_chain_parallel_does_not_split),
        cmocka_unit_test(test_chain_tiny_input_stays_on_host),
        cmocka_unit_test(test_chain_split_parts_and_history),
    };

    return cmocka_run_group_tests_name("chain", tests, NULL, NULL);
}
