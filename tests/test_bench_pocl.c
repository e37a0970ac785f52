/* The benchmarks and calibration on PoCL, for their output shape only (no
 * timing is judged), in-process and through the cldispatch binary. Small
 * sizes and single runs keep this quick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"
#include "fixtures.h"
#include "fsutil.h"
#include "image_io.h"
#include "jobs.h"
#include "targets.h"

struct fx {
    char *tmp;
    size_t ntargets;
};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct cld_targets *t = NULL;
    char cache[4200];

    if (!f || !(f->tmp = cld_test_tmpdir())) {
        free(f);
        return -1;
    }
    snprintf(cache, sizeof cache, "%s", f->tmp);
    setenv("XDG_CACHE_HOME", cache, 1);
    if (cld_targets_discover(false, &t) != CLD_OK)
        return -1;
    f->ntargets = cld_targets_count(t);
    cld_targets_destroy(t);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;

    cld_test_rmtree(f->tmp);
    free(f->tmp);
    free(f);
    return 0;
}

static unsigned lines_starting(const char *text, const char *prefix)
{
    unsigned n = 0;
    size_t len = strlen(prefix);

    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return n;
}

/* Run a benchmark with its tables captured; expects CLD_OK. The caller
 * frees the text. Not inlined: GCC 12 at -O3 then takes the text for the
 * address of the local `buf` that open_memstream was given
 * (-Wdangling-pointer). */
__attribute__((noinline))
static char *run_bench(enum cld_status (*bench)(const struct cld_bench_opts *),
                       struct cld_bench_opts *o)
{
    char *buf = NULL;
    size_t len = 0;

    o->out = open_memstream(&buf, &len);
    assert_non_null(o->out);
    assert_int_equal(bench(o), CLD_OK);
    fclose(o->out);
    printf("%s", buf);
    return buf;
}

static void test_bench_pocl_kernels(void **state)
{
    struct fx *f = *state;
    struct cld_bench_opts o = {
        .job = "grayscale", .runs = 1, .width = 96, .height = 64,
        .err = stderr};
    char *buf = run_bench(cld_bench_kernels, &o);

    assert_non_null(strstr(buf, "bench kernels: 96x64"));
    assert_non_null(strstr(buf, "Melem/s"));
    /* The header, then a row per target. */
    assert_int_equal(lines_starting(buf, "grayscale "), f->ntargets);
    assert_null(strstr(buf, "failed"));
    free(buf);
}

static void test_bench_pocl_placement(void **state)
{
    struct fx *f = *state;
    struct cld_bench_opts o = {
        .job = "grayscale", .quick = true, .runs = 1, .err = stderr};
    char *buf = run_bench(cld_bench_placement, &o);

    assert_non_null(strstr(buf, "step 1: calibration"));
    assert_non_null(strstr(buf, "saved "));
    /* Two sizes in --quick. */
    assert_int_equal(lines_starting(buf, "grayscale    "), 2);
    assert_non_null(strstr(buf, "choice was the fastest in "));
    assert_non_null(strstr(buf, "of 2 cells"));
    /* The strict count and the one with ties are both printed, and what
     * a tie is. */
    assert_non_null(strstr(buf, "%, strict); "));
    assert_non_null(strstr(buf, "the fastest or tied with it in "));
    assert_non_null(strstr(buf, "tie (\"tie\" above) = "));
    assert_non_null(strstr(buf, "geometric-mean slowdown"));
    (void)f;
    free(buf);
}

static void test_bench_pocl_placement_two_passes(void **state)
{
    struct cld_bench_opts o = {
        .job = "grayscale", .quick = true, .no_calibrate = true, .runs = 2,
        .passes = 2, .explain = true, .err = stderr};
    char *buf, *p2, *again;

    (void)state;
    buf = run_bench(cld_bench_placement, &o);
    assert_non_null(strstr(buf, "pass 1 of 2: "));
    p2 = strstr(buf, "pass 2 of 2: ");
    assert_non_null(p2);
    /* Each pass has its own rows and summary; the second says how often
     * the first pass's measurement named the same fastest target, and
     * every pass how often the measurement agreed with itself. */
    assert_int_equal(lines_starting(buf, "grayscale    "), 4);
    assert_int_equal(lines_starting(p2, "grayscale    "), 2);
    assert_int_equal(lines_starting(buf, "choice was the fastest in "), 2);
    assert_int_equal(lines_starting(buf, "repeatability of the "
                                         "measurement itself: "), 2);
    again = strstr(buf, "pass 1 named the same fastest target as this "
                        "pass in ");
    assert_non_null(again);
    assert_true(again > p2);
    assert_non_null(strstr(p2, " of 2 ("));
    free(buf);
}

static void test_bench_pocl_unknown_job(void **state)
{
    struct cld_bench_opts o = {
        .job = "no-such-job", .runs = 1, .out = stdout, .err = stderr};

    (void)state;
    assert_int_equal(cld_bench_kernels(&o), CLD_ERR_USAGE);
    assert_int_equal(cld_bench_placement(&o), CLD_ERR_USAGE);
}

/* Run the binary with args; its stdout into *out; the exit code. */
static int run_cli(const char *args, char **out)
{
    const char *bin = getenv("CLDISPATCH_BIN");
    char cmd[4096], chunk[4096];
    size_t len = 0, n;
    FILE *p;
    int rc;

    if (!bin)
        bin = "./cldispatch";
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    p = popen(cmd, "r");
    assert_non_null(p);
    *out = calloc(1, 1);
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) {
        char *grown = realloc(*out, len + n + 1);

        assert_non_null(grown);
        *out = grown;
        memcpy(*out + len, chunk, n);
        len += n;
        (*out)[len] = '\0';
    }
    rc = pclose(p);
    printf("$ cldispatch %s -> %d\n%s", args, WEXITSTATUS(rc), *out);
    return WEXITSTATUS(rc);
}

static void test_bench_pocl_cli(void **state)
{
    struct fx *f = *state;
    char *out = NULL;

    assert_int_equal(run_cli("--calibrate --job grayscale", &out), 0);
    assert_non_null(strstr(out, "calibration: "));
    assert_non_null(strstr(out, "saved "));
    free(out);
    assert_int_equal(run_cli("--devices", &out), 0);
    free(out);
    assert_int_equal(run_cli("--devices --json", &out), 0);
    assert_non_null(strstr(out, "\"preferred_for\": ["));
    free(out);
    assert_int_equal(run_cli("bench kernels --size 64x48 --runs 1 "
                             "--job grayscale", &out), 0);
    assert_int_equal(lines_starting(out, "grayscale "), f->ntargets);
    free(out);
    assert_int_equal(run_cli("bench kernels --quick", &out), 2);
    free(out);
    assert_int_equal(run_cli("bench placement --size 10x10", &out), 2);
    free(out);
    assert_int_equal(run_cli("bench placement --passes 4", &out), 2);
    assert_non_null(strstr(out, "bad --passes '4' (1..3)"));
    free(out);
    assert_int_equal(run_cli("bench kernels --passes 2", &out), 2);
    assert_non_null(strstr(out, "--passes goes with bench placement"));
    free(out);
    assert_int_equal(run_cli("bench kernels --explain", &out), 2);
    free(out);
    assert_int_equal(run_cli("bench frobnicate", &out), 2);
    free(out);
    assert_int_equal(run_cli("--calibrate --jobs", &out), 2);
    free(out);
    assert_int_equal(run_cli("--calibrate --job nope", &out), 2);
    free(out);
}

/* A folder of n PPM crops (w x h) of a real photo. */
static void make_ppms(const char *dir, unsigned n, uint32_t w, uint32_t h)
{
    struct cld_image src;
    char path[4400];

    assert_int_equal(cld_mkdir_p(dir), CLD_OK);
    assert_int_equal(cld_image_load(cld_test_image("astronaut.png"), NULL,
                                    &src), CLD_OK);
    for (unsigned i = 0; i < n; i++) {
        struct cld_image c;
        struct cld_save_opts so = {.fmt = CLD_FMT_PPM};
        uint32_t x = i * 29 % (src.width - w), y = i * 17 % (src.height - h);

        cld_test_crop(&src, x, y, w, h, &c);
        snprintf(path, sizeof path, "%s/p%02u.ppm", dir, i);
        assert_int_equal(cld_image_save(path, &c, &so), CLD_OK);
        cld_image_free(&c);
    }
    cld_image_free(&src);
}

/* The ratio printed after "label" on a line of out ("...: 1.23x"). */
static double ratio_after(const char *out, const char *label)
{
    const char *p = strstr(out, label), *x;
    double r = 0;

    assert_non_null(p);
    x = strchr(p, 'x');
    while (x && !(x[1] == '\n' || x[1] == ' ' || x[1] == '\0'))
        x = strchr(x + 1, 'x');
    assert_non_null(x);
    while (x > p && (x[-1] == '.' || (x[-1] >= '0' && x[-1] <= '9')))
        x--;
    assert_int_equal(sscanf(x, "%lf", &r), 1);
    return r;
}

/* bench pipeline over a small folder of its own: every row printed with a
 * ratio, the chain both in-process and as whole commands (this binary run
 * again), its temporary folder removed; a corrupt input fails it naming
 * the file. */
static void test_bench_pocl_pipeline(void **state)
{
    struct fx *f = *state;
    char in[4200], tmpdir[4200], args[8600], bad[4400];
    char *out = NULL;
    const char *rows[] = {"zero-copy, --inflight 1", "zero-copy, pipelined",
                          "copy path, --inflight 1", "copy path, pipelined"};

    snprintf(in, sizeof in, "%s/pipe-in", f->tmp);
    snprintf(tmpdir, sizeof tmpdir, "%s/pipe-tmp", f->tmp);
    make_ppms(in, 6, 96, 64);
    assert_int_equal(cld_mkdir_p(tmpdir), CLD_OK);
    setenv("TMPDIR", tmpdir, 1);
    snprintf(args, sizeof args, "bench pipeline --runs 1 --device %s '%s'",
             cld_test_device(0), in);
    assert_int_equal(run_cli(args, &out), 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_true(ratio_after(out, rows[i]) > 0);
    assert_true(ratio_after(out, "chain resize --scale 0.5") > 0);
    assert_true(ratio_after(out, "the same as whole commands") > 0);
    assert_non_null(strstr(out, "CPU: cores busy on average, of "));
    assert_non_null(strstr(out, "busiest: the busiest lane's busy time"));
    free(out);
    /* Nothing of its own left behind. */
    assert_int_equal(cld_test_count_entries(tmpdir), 0);

    snprintf(bad, sizeof bad, "%s/p03.ppm", in);
    cld_test_write_file(bad, "P6\n96 64\n255\n", 13);
    assert_int_not_equal(run_cli(args, &out), 0);
    assert_non_null(strstr(out, bad));
    free(out);
    assert_int_equal(cld_test_count_entries(tmpdir), 0);
    unsetenv("TMPDIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_pocl_kernels),
        cmocka_unit_test(test_bench_pocl_placement),
        cmocka_unit_test(test_bench_pocl_placement_two_passes),
        cmocka_unit_test(test_bench_pocl_unknown_job),
        cmocka_unit_test(test_bench_pocl_cli),
        cmocka_unit_test(test_bench_pocl_pipeline),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("test_bench_pocl");
    return cmocka_run_group_tests_name("bench_pocl", tests, group_setup,
                                       group_teardown);
}
