/* Job parameters declared once: parsing of each type, range errors,
 * defaults, the run history's parameter text (which must stay what it was
 * before the declarations, so that saved histories stay valid) and the
 * --jobs listing, all read from the declarations. No OpenCL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "params.h"
#include "targets.h"

static const struct cld_param decl[] = {
    {.name = "sigma", .type = CLD_PARAM_REAL, .metavar = "S", .min = 0.01,
     .max = 100.0, .def = 2.0, .flags = CLD_PARAM_KEY, .help = "spread"},
    {.name = "levels", .type = CLD_PARAM_INT, .metavar = "N", .imin = 2,
     .imax = 256, .idef = 2, .flags = CLD_PARAM_KEY, .help = "levels"},
    {.name = "size", .type = CLD_PARAM_SIZE, .metavar = "WxH", .imin = 1,
     .imax = 65536, .flags = CLD_PARAM_KEY | CLD_PARAM_OPTIONAL,
     .help = "output size"},
    {.name = "seed", .type = CLD_PARAM_INT, .metavar = "N", .imin = 0,
     .imax = UINT64_MAX, .idef = 1, .help = "seed"},
};

#define NDECL (sizeof decl / sizeof decl[0])

static void test_params_defaults(void **state)
{
    struct cld_params p;

    (void)state;
    memset(&p, 0xa5, sizeof p);
    cld_params_init(&p, decl, NDECL);
    assert_int_equal(p.n, NDECL);
    assert_int_equal(p.given, 0);
    assert_true(cld_param_real(&p, 0) == 2.0);
    assert_int_equal(cld_param_int(&p, 1), 2);
    /* Optional: unset. */
    assert_int_equal(cld_param_width(&p, 2), 0);
    assert_int_equal(cld_param_height(&p, 2), 0);
    assert_int_equal(cld_param_int(&p, 3), 1);
    assert_int_equal(cld_params_find(&p, "levels"), 1);
    assert_int_equal(cld_params_find(&p, "level"), -1);
    assert_int_equal(cld_params_check(&p), CLD_OK);
}

static void test_params_parse_each_type(void **state)
{
    struct cld_params p;

    (void)state;
    cld_params_init(&p, decl, NDECL);
    assert_int_equal(cld_params_parse(&p, 0, "0.75"), CLD_OK);
    assert_true(cld_param_real(&p, 0) == 0.75);
    assert_int_equal(cld_params_parse(&p, 0, "1e1"), CLD_OK);
    assert_true(cld_param_real(&p, 0) == 10.0);
    assert_int_equal(cld_params_parse(&p, 1, "256"), CLD_OK);
    assert_int_equal(cld_param_int(&p, 1), 256);
    assert_int_equal(cld_params_parse(&p, 2, "640x480"), CLD_OK);
    assert_int_equal(cld_param_width(&p, 2), 640);
    assert_int_equal(cld_param_height(&p, 2), 480);
    assert_int_equal(cld_params_parse(&p, 2, "3X2"), CLD_OK);
    assert_int_equal(cld_param_width(&p, 2), 3);
    assert_int_equal(cld_param_height(&p, 2), 2);
    assert_int_equal(cld_params_parse(&p, 3, "18446744073709551615"),
                     CLD_OK);
    assert_true(cld_param_int(&p, 3) == UINT64_MAX);
    assert_int_equal(p.given, 0xf);
}

/* Bad text: usage error, a detail naming the option, the text and the
 * range, and the value unchanged. */
static void expect_bad(struct cld_params *p, size_t i, const char *text,
                       const char *why, const char *range)
{
    union cld_value before = p->v[i];
    char opt[32];

    snprintf(opt, sizeof opt, "--%s '%s'", p->decl[i].name, text);
    assert_int_equal(cld_params_parse(p, i, text), CLD_ERR_USAGE);
    assert_non_null(strstr(cld_error_detail(), opt));
    assert_non_null(strstr(cld_error_detail(), why));
    assert_non_null(strstr(cld_error_detail(), range));
    assert_memory_equal(&before, &p->v[i], sizeof before);
}

static void test_params_range_errors(void **state)
{
    struct cld_params p;

    (void)state;
    cld_params_init(&p, decl, NDECL);
    expect_bad(&p, 0, "500", "is out of range", "(0.01..100)");
    expect_bad(&p, 0, "0.001", "is out of range", "(0.01..100)");
    expect_bad(&p, 0, "nan", "is not a number", "0.01..100");
    expect_bad(&p, 0, "inf", "is not a number", "0.01..100");
    expect_bad(&p, 0, "2x", "is not a number", "0.01..100");
    expect_bad(&p, 0, "", "is not a number", "0.01..100");
    expect_bad(&p, 1, "1", "is out of range", "(2..256)");
    expect_bad(&p, 1, "257", "is out of range", "(2..256)");
    expect_bad(&p, 1, "-3", "is not a whole number", "2..256");
    expect_bad(&p, 1, "+3", "is not a whole number", "2..256");
    expect_bad(&p, 1, " 3", "is not a whole number", "2..256");
    expect_bad(&p, 1, "2.5", "is not a whole number", "2..256");
    expect_bad(&p, 2, "640", "is not a size", "WxH, 1..65536 a side");
    expect_bad(&p, 2, "0x10", "is out of range", "1..65536 a side");
    expect_bad(&p, 2, "65537x1", "is out of range", "1..65536 a side");
    expect_bad(&p, 2, "x", "is not a size", "WxH");
    expect_bad(&p, 3, "18446744073709551616", "is not a whole number",
               "0..18446744073709551615");
    assert_int_equal(p.given, 0);
    assert_true(cld_param_real(&p, 0) == 2.0);
}

static void test_params_set_and_check(void **state)
{
    struct cld_params p;

    (void)state;
    cld_params_init(&p, decl, NDECL);
    assert_int_equal(cld_params_set_real(&p, "sigma", 3.5), CLD_OK);
    assert_true(cld_param_real(&p, 0) == 3.5);
    assert_int_equal(cld_params_set_real(&p, "sigma", 101.0),
                     CLD_ERR_USAGE);
    assert_non_null(strstr(cld_error_detail(), "--sigma '101'"));
    assert_true(cld_param_real(&p, 0) == 3.5);
    /* Wrong name or type. */
    assert_int_equal(cld_params_set_int(&p, "sigma", 3), CLD_ERR_INVALID);
    assert_int_equal(cld_params_set_real(&p, "radius", 1), CLD_ERR_INVALID);
    assert_int_equal(cld_params_set_size(&p, "size", 0, 5), CLD_ERR_USAGE);
    assert_int_equal(cld_params_set_size(&p, "size", 7, 5), CLD_OK);
    assert_int_equal(cld_param_width(&p, 2), 7);
    /* A value written past the setters is caught by the check. */
    p.v[1].i = 1000;
    assert_int_equal(cld_params_check(&p), CLD_ERR_USAGE);
    assert_non_null(strstr(cld_error_detail(), "--levels '1000'"));
}

static void test_params_key_text(void **state)
{
    struct cld_params p;
    char key[96];

    (void)state;
    cld_params_init(&p, decl, NDECL);
    cld_params_key(&p, key, sizeof key);
    /* seed is not a KEY; size is optional and unset. */
    assert_string_equal(key, "sigma=2 levels=2");
    assert_int_equal(cld_params_parse(&p, 0, "1.25"), CLD_OK);
    assert_int_equal(cld_params_parse(&p, 2, "64x48"), CLD_OK);
    cld_params_key(&p, key, sizeof key);
    assert_string_equal(key, "sigma=1.25 levels=2 size=64x48");
    /* Truncated, terminated. */
    cld_params_key(&p, key, 8);
    assert_string_equal(key, "sigma=1");
}

/* The workload of job with the given options parsed, on a shape-only
 * 640x480 RGB image: its parameter text. */
static void key_of(const char *job_name, const char *const *opts,
                   char *out, size_t len)
{
    const struct cld_job *job = cld_job_find(job_name);
    struct cld_data in = {.kind = CLD_DATA_IMAGE};
    struct cld_params p;
    struct cld_workload w;

    assert_non_null(job);
    in.img.width = 640;
    in.img.height = 480;
    in.img.channels = 3;
    cld_params_default(&p, job);
    for (size_t i = 0; opts && opts[i]; i += 2) {
        int k = cld_params_find(&p, opts[i]);

        assert_true(k >= 0);
        assert_int_equal(cld_params_parse(&p, (size_t)k, opts[i + 1]),
                         CLD_OK);
    }
    assert_int_equal(cld_job_validate(job, &p), CLD_OK);
    cld_targets_workload(job, &p, job->input == CLD_DATA_IMAGE ? &in : NULL,
                         &w);
    snprintf(out, len, "%s", w.params);
}

/* The history keys of every existing job, as the parameter text writers
 * before the declarations wrote them (traits and targets.c). */
static void test_params_history_keys_unchanged(void **state)
{
    static const char *const sigma[] = {"sigma", "1.5", NULL};
    static const char *const sharp[] = {"sigma", "3", "amount", "0.25",
                                        NULL};
    static const char *const scale[] = {"scale", "0.5", NULL};
    static const char *const size[] = {"size", "320x200", NULL};
    static const char *const levels[] = {"levels", "4", NULL};
    static const char *const mandel[] = {"size", "64x48", "iter", "1000",
                                         NULL};
    static const char *const matmul[] = {"n", "64", "seed", "7", NULL};
    static const struct {
        const char *job;
        const char *const *opts;
        const char *key;
    } cases[] = {
        {"grayscale", NULL, ""},
        {"sobel", NULL, ""},
        {"equalize", NULL, ""},
        {"blur", NULL, "sigma=2"},
        {"blur", sigma, "sigma=1.5"},
        {"sharpen", NULL, "sigma=2 amount=1"},
        {"sharpen", sharp, "sigma=3 amount=0.25"},
        {"resize", scale, "scale=0.5"},
        {"resize", size, "size=320x200"},
        {"dither", NULL, "levels=2"},
        {"dither", levels, "levels=4"},
        {"mandelbrot", NULL, "iter=256"},
        {"mandelbrot", mandel, "iter=1000"},
        {"matmul", matmul, ""},
    };
    char key[96];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        key_of(cases[i].job, cases[i].opts, key, sizeof key);
        if (strcmp(key, cases[i].key) != 0)
            fail_msg("%s: key '%s', expected '%s'", cases[i].job, key,
                     cases[i].key);
    }
}

/* Every declaration is well formed: names unique within a job, defaults
 * in range, and no name clashes with a `run` option. */
static void test_params_declarations_valid(void **state)
{
    static const char *const run_opts[] = {
        "output", "device", "format", "quality", "threads", "verbose",
        "help", "overwrite", "max-pixels", "explain", "shards", "plan"};
    const struct cld_job *j;

    (void)state;
    for (size_t i = 0; (j = cld_job_at(i)) != NULL; i++) {
        struct cld_params p;

        assert_true(j->nparams <= CLD_JOB_PARAMS_MAX);
        cld_params_default(&p, j);
        if (cld_params_check(&p) != CLD_OK)
            fail_msg("%s: a default is out of range: %s", j->name,
                     cld_error_detail());
        for (size_t k = 0; k < j->nparams; k++) {
            const struct cld_param *d = &j->params[k];

            assert_non_null(d->help);
            assert_non_null(d->metavar);
            for (size_t m = k + 1; m < j->nparams; m++)
                assert_string_not_equal(d->name, j->params[m].name);
            for (size_t r = 0; r < sizeof run_opts / sizeof run_opts[0];
                 r++)
                assert_string_not_equal(d->name, run_opts[r]);
        }
    }
}

/* --jobs: every job, and under it one line per declared parameter with
 * its metavariable, help, range and default. */
static void test_params_jobs_listing(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const struct cld_job *j;

    (void)state;
    assert_non_null(f);
    cld_jobs_print(f);
    assert_int_equal(fclose(f), 0);
    for (size_t i = 0; (j = cld_job_at(i)) != NULL; i++) {
        const char *at = strstr(text, j->name);
        const char *next = cld_job_at(i + 1)
                               ? strstr(text, cld_job_at(i + 1)->summary)
                               : text + len;

        assert_non_null(at);
        assert_non_null(strstr(at, j->summary));
        if (j->nparams == 0) {
            const char *none = strstr(at, "options: (none)");

            assert_non_null(none);
            assert_true(none < next);
        }
        for (size_t k = 0; k < j->nparams; k++) {
            char line[200];
            const char *hit;

            cld_param_describe(&j->params[k], line, sizeof line);
            hit = strstr(at, line);
            if (!hit || hit > next)
                fail_msg("%s: '%s' not listed", j->name, line);
        }
    }
    /* The text of one line, spelled out. */
    assert_non_null(strstr(text, "--sigma S      Gaussian standard "
                                 "deviation in pixels (0.01..100, "
                                 "default 2)"));
    assert_non_null(strstr(text, "--levels N     gray levels of the "
                                 "output (2..256, default 2)"));
    assert_non_null(strstr(text, "--size WxH     output size (WxH, "
                                 "1..65536 a side)"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_defaults),
        cmocka_unit_test(test_params_parse_each_type),
        cmocka_unit_test(test_params_range_errors),
        cmocka_unit_test(test_params_set_and_check),
        cmocka_unit_test(test_params_key_text),
        cmocka_unit_test(test_params_history_keys_unchanged),
        cmocka_unit_test(test_params_declarations_valid),
        cmocka_unit_test(test_params_jobs_listing),
    };

    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
