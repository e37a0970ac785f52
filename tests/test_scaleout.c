/* Scale-out: the pixel-balanced split, which shards a process runs (shard
 * arithmetic and the precedence of --shard and the engines' variables),
 * the plan file (round trip, the manifest hash catching a changed input
 * list, one clear error per kind of damage), header-only probing, and real
 * shards of real images on the host target: resuming after a kill,
 * removing a killed run's temporary files, the lock, and merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fixtures.h"
#include "fsutil.h"
#include "image_io.h"
#include "scaleout.h"

/* ---- split ------------------------------------------------------------ */

static void check_balance(const uint64_t *px, size_t n, uint32_t nshards,
                          const uint32_t *shard)
{
    uint64_t *load = calloc(nshards, sizeof *load);
    uint64_t lo = UINT64_MAX, hi = 0, biggest = 0;

    assert_non_null(load);
    for (size_t i = 0; i < n; i++) {
        assert_true(shard[i] < nshards);
        load[shard[i]] += px[i] ? px[i] : 1;
        biggest = px[i] > biggest ? px[i] : biggest;
    }
    for (uint32_t k = 0; k < nshards; k++) {
        lo = load[k] < lo ? load[k] : lo;
        hi = load[k] > hi ? load[k] : hi;
    }
    /* Greedy to the least-loaded shard keeps every gap within one item. */
    assert_true(hi - lo <= biggest);
    free(load);
}

/* One large image and nine small ones: by count each shard would get five
 * files (1400 against 500 pixels); by pixels the big one stands alone. */
static void test_scaleout_split_by_pixels_not_count(void **state)
{
    uint64_t px[10] = {100, 100, 100, 1000, 100, 100, 100, 100, 100, 100};
    uint32_t shard[10];
    uint64_t load[2] = {0, 0};

    (void)state;
    assert_int_equal(cld_scaleout_split(px, 10, 2, shard), CLD_OK);
    for (int i = 0; i < 10; i++)
        load[shard[i]] += px[i];
    assert_int_equal(shard[3], 0);
    assert_int_equal(load[0], 1000);
    assert_int_equal(load[1], 900);
    check_balance(px, 10, 2, shard);
}

/* Real image sizes read from headers, and a spread of random sizes. */
static void test_scaleout_split_balance_bound(void **state)
{
    static const char *const names[] = {
        "astronaut.png", "camera.png", "chelsea.png", "clock_motion.png",
        "dragonfly_by_bolly.jpg", "hubble_deep_field.jpg",
        "kde_grey_2560x1600.jpg", "mate_storm.jpg", "rocket.jpg"};
    uint64_t px[1000];
    uint32_t shard[1000], again[1000];
    uint64_t x = 12345;
    size_t n = 0;

    (void)state;
    for (size_t r = 0; r < 10; r++) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            uint32_t w, h;

            assert_int_equal(cld_image_probe(cld_test_image(names[i]), NULL,
                                             &w, &h), CLD_OK);
            px[n++] = (uint64_t)w * h;
        }
    }
    for (uint32_t s = 1; s <= 9; s += 4) {
        assert_int_equal(cld_scaleout_split(px, n, s, shard), CLD_OK);
        check_balance(px, n, s, shard);
    }
    for (size_t i = 0; i < 1000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        px[i] = (x >> 33) % 40000000u; /* some are 0: unreadable headers */
    }
    for (uint32_t s = 1; s <= 300; s = s * 3 + 1) {
        assert_int_equal(cld_scaleout_split(px, 1000, s, shard), CLD_OK);
        check_balance(px, 1000, s, shard);
        /* Deterministic: every process that reads the plan agrees. */
        assert_int_equal(cld_scaleout_split(px, 1000, s, again), CLD_OK);
        assert_memory_equal(shard, again, sizeof shard);
    }
    /* More shards than items: each item alone, the rest empty. */
    assert_int_equal(cld_scaleout_split(px, 5, 8, shard), CLD_OK);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < i; j++)
            assert_int_not_equal(shard[i], shard[j]);
}

/* ---- which shard ------------------------------------------------------ */

static const char *fake_env[16][2];

static const char *get_fake(const char *name)
{
    for (int i = 0; i < 16 && fake_env[i][0]; i++) {
        if (strcmp(fake_env[i][0], name) == 0)
            return fake_env[i][1];
    }
    return NULL;
}

/* Set the fake environment from "NAME=value" strings, NULL-terminated. */
static void set_env(const char *first, ...)
{
    static char store[16][64];
    va_list ap;
    const char *s = first;
    int i = 0;

    memset(fake_env, 0, sizeof fake_env);
    va_start(ap, first);
    for (; s && i < 15; s = va_arg(ap, const char *), i++) {
        char *eq;

        snprintf(store[i], sizeof store[i], "%s", s);
        eq = strchr(store[i], '=');
        *eq = '\0';
        fake_env[i][0] = store[i];
        fake_env[i][1] = eq + 1;
    }
    va_end(ap);
}

static void expect_sel(long flag, uint32_t n, uint32_t first,
                       uint32_t stride)
{
    struct cld_scaleout_sel sel;

    assert_int_equal(cld_scaleout_select(flag, n, get_fake, &sel), CLD_OK);
    assert_int_equal(sel.first, first);
    assert_int_equal(sel.stride, stride);
}

static void expect_usage(long flag, uint32_t n, const char *mention)
{
    struct cld_scaleout_sel sel;

    assert_int_equal(cld_scaleout_select(flag, n, get_fake, &sel),
                     CLD_ERR_USAGE);
    if (!strstr(cld_error_detail(), mention))
        fail_msg("'%s' does not mention '%s'", cld_error_detail(), mention);
}

static void test_scaleout_select_sources(void **state)
{
    (void)state;
    set_env(NULL);
    expect_sel(3, 8, 3, 8);
    expect_usage(-1, 8, "no shard given");
    expect_usage(8, 8, "the plan has 8 shards");

    set_env("SLURM_ARRAY_TASK_ID=5", NULL);
    expect_sel(-1, 8, 5, 8);
    /* A re-run array reports its own count; only the plan's counts. */
    set_env("SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_COUNT=1",
            "SLURM_ARRAY_TASK_MAX=5", NULL);
    expect_sel(-1, 8, 5, 8);
    expect_usage(-1, 4, "SLURM_ARRAY_TASK_ID=5, but the plan has 4");

    set_env("JOB_COMPLETION_INDEX=0", NULL);
    expect_sel(-1, 1, 0, 1);

    /* Open MPI as mpirun.openmpi exports it. */
    set_env("OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=3",
            "PMIX_RANK=1", NULL);
    expect_sel(-1, 7, 1, 3);
    /* MPICH's Hydra. */
    set_env("PMI_RANK=2", "PMI_SIZE=3", NULL);
    expect_sel(-1, 7, 2, 3);
    /* More ranks than shards: this rank runs nothing (first >= shards). */
    expect_sel(-1, 2, 2, 3);
}

/* Ranks r of s stride over the shards: every shard exactly once. */
static void test_scaleout_select_rank_stride_covers(void **state)
{
    (void)state;
    for (uint32_t size = 1; size <= 5; size++) {
        for (uint32_t n = 1; n <= 11; n++) {
            unsigned seen[11] = {0};

            for (uint32_t r = 0; r < size; r++) {
                char a[32], b[32];
                struct cld_scaleout_sel sel;

                snprintf(a, sizeof a, "PMI_RANK=%" PRIu32, r);
                snprintf(b, sizeof b, "PMI_SIZE=%" PRIu32, size);
                set_env(a, b, NULL);
                assert_int_equal(cld_scaleout_select(-1, n, get_fake, &sel),
                                 CLD_OK);
                for (uint32_t k = sel.first; k < n; k += sel.stride)
                    seen[k]++;
            }
            for (uint32_t k = 0; k < n; k++)
                assert_int_equal(seen[k], 1);
        }
    }
}

static void test_scaleout_select_disagreement(void **state)
{
    (void)state;
    /* mpirun inside a Slurm array task: two engines, two numbers. */
    set_env("SLURM_ARRAY_TASK_ID=2", "OMPI_COMM_WORLD_RANK=0",
            "OMPI_COMM_WORLD_SIZE=3", NULL);
    expect_usage(-1, 8, "SLURM_ARRAY_TASK_ID=2 and OMPI_COMM_WORLD_RANK=0 "
                 "disagree");
    set_env("JOB_COMPLETION_INDEX=3", NULL);
    expect_usage(2, 8, "--shard 2 and JOB_COMPLETION_INDEX=3 disagree");
    /* Agreeing sources are fine. */
    expect_sel(3, 8, 3, 8);
    set_env("OMPI_COMM_WORLD_RANK=1", "PMIX_RANK=2",
            "OMPI_COMM_WORLD_SIZE=3", NULL);
    expect_usage(-1, 8, "PMIX_RANK=2 disagree");
    set_env("OMPI_COMM_WORLD_RANK=1", "OMPI_COMM_WORLD_SIZE=3",
            "PMI_SIZE=4", "PMI_RANK=1", NULL);
    expect_usage(-1, 8, "disagree on the world size");
    set_env("PMIX_RANK=1", NULL);
    expect_usage(-1, 8, "no world size");
    set_env("PMI_RANK=3", "PMI_SIZE=3", NULL);
    expect_usage(-1, 8, "is not below PMI_SIZE=3");
    set_env("SLURM_ARRAY_TASK_ID=1a", NULL);
    expect_usage(-1, 8, "'1a' is not a shard number");
    set_env("SLURM_ARRAY_TASK_ID=-1", NULL);
    expect_usage(-1, 8, "is not a shard number");
    set_env("SLURM_ARRAY_TASK_ID= 1", NULL);
    expect_usage(-1, 8, "is not a shard number");
    set_env("PMI_RANK=0", "PMI_SIZE=0", NULL);
    expect_usage(-1, 8, "is not a world size");
    /* An empty variable counts as unset. */
    set_env("SLURM_ARRAY_TASK_ID=", "JOB_COMPLETION_INDEX=4", NULL);
    expect_sel(-1, 8, 4, 8);
}

/* ---- plan files ------------------------------------------------------- */

static const char *const plan_images[] = {
    "astronaut.png", "astronaut.ppm", "camera.pgm", "camera.png",
    "chelsea.png", "clock_motion.png", "rocket.jpg", "hubble_deep_field.jpg",
};
#define NPLAN (sizeof plan_images / sizeof plan_images[0])

/* The plan's settings and the real images above as its items, with
 * outputs under DIR/out; finished and written to DIR/name. */
static void plan_items(struct cld_test_tmp *t, uint32_t shards,
                       const char *name, struct cld_scaleout_plan *p)
{
    p->format = CLD_FMT_PNG;
    p->shards = shards;
    assert_true(asprintf(&p->outdir, "%s/out", t->dir) > 0);
    p->items = calloc(NPLAN, sizeof *p->items);
    assert_non_null(p->items);
    for (size_t i = 0; i < NPLAN; i++) {
        struct cld_scaleout_item *it = &p->items[NPLAN - 1 - i];
        const char *name = plan_images[i];
        uint32_t w, h;

        it->input = strdup(cld_test_image(plan_images[i]));
        assert_int_equal(cld_image_probe(it->input, NULL, &w, &h), CLD_OK);
        it->pixels = (uint64_t)w * h;
        /* Two inputs per stem ("camera.png", "camera.pgm"): the output
         * keeps the input's extension in its name. */
        assert_true(asprintf(&it->output, "%s/%.*s_%s.png", p->outdir,
                             (int)strcspn(name, "."), name,
                             strchr(name, '.') + 1) > 0);
        p->nitems++;
    }
    assert_int_equal(cld_scaleout_plan_finish(p), CLD_OK);
    assert_int_equal(cld_scaleout_plan_write(p, cld_test_tmp_path(t, name)),
                     CLD_OK);
}

/* A plan of blur over the real images, written to DIR/plan.json. */
static void make_plan(struct cld_test_tmp *t, uint32_t shards,
                      struct cld_scaleout_plan *p)
{
    memset(p, 0, sizeof *p);
    p->steps[0].job = strdup("blur");
    p->nsteps = 1;
    cld_params_default(&p->steps[0].params, cld_job_find("blur"));
    assert_int_equal(cld_params_set_real(&p->steps[0].params, "sigma",
                                         0.1 + 1.2),
                     CLD_OK);  /* not exact in binary */
    plan_items(t, shards, "plan.json", p);
}

/* A plan of the chain `resize --scale 0.5 then blur --sigma SIGMA then
 * sharpen` over the real images, written to DIR/name. */
static void make_chain_plan(struct cld_test_tmp *t, uint32_t shards,
                            double sigma, const char *name,
                            struct cld_scaleout_plan *p)
{
    const char *jobs[] = {"resize", "blur", "sharpen"};
    struct cld_chain *c;

    assert_int_equal(cld_chain_create(&c), CLD_OK);
    for (unsigned k = 0; k < 3; k++) {
        const struct cld_job *job = cld_job_find(jobs[k]);
        struct cld_params q;

        cld_params_default(&q, job);
        if (k == 0)
            assert_int_equal(cld_params_set_real(&q, "scale", 0.5), CLD_OK);
        if (k == 1)
            assert_int_equal(cld_params_set_real(&q, "sigma", sigma),
                             CLD_OK);
        assert_int_equal(cld_chain_add(c, job, &q), CLD_OK);
    }
    assert_int_equal(cld_chain_finish(c), CLD_OK);
    memset(p, 0, sizeof *p);
    assert_int_equal(cld_scaleout_plan_set_job(p, &c->job, NULL), CLD_OK);
    cld_chain_destroy(c);
    plan_items(t, shards, name, p);
}

static void test_scaleout_plan_round_trip(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_scaleout_plan p, q;

    make_plan(t, 3, &p);
    for (size_t i = 1; i < p.nitems; i++)
        assert_true(strcmp(p.items[i - 1].input, p.items[i].input) < 0);
    assert_int_equal(cld_scaleout_plan_load(cld_test_tmp_path(t,
                     "plan.json"), &q), CLD_OK);
    assert_string_equal(q.hash, p.hash);
    assert_string_equal(q.steps[0].job, "blur");
    assert_true(q.steps[0].params.decl == cld_job_find("blur")->params);
    assert_true(cld_param_real(&q.steps[0].params, 0) ==
                cld_param_real(&p.steps[0].params, 0));
    assert_int_equal(q.format, CLD_FMT_PNG);
    assert_int_equal(q.shards, 3);
    assert_string_equal(q.outdir, p.outdir);
    assert_int_equal(q.nitems, p.nitems);
    for (size_t i = 0; i < p.nitems; i++) {
        assert_string_equal(q.items[i].input, p.items[i].input);
        assert_string_equal(q.items[i].output, p.items[i].output);
        assert_int_equal(q.items[i].pixels, p.items[i].pixels);
        assert_int_equal(q.items[i].shard, p.items[i].shard);
    }
    cld_scaleout_plan_free(&q);
    cld_scaleout_plan_free(&p);
}

static void edit_file(const char *path, const char *from, const char *to);
static void expect_bad_plan(const char *path, const char *mention);
static void refused_after_edit(const struct cld_scaleout_plan *p,
                               const char *path, const char *from,
                               const char *to, const char *mention);

/* A plan whose parameters were all defaulted (nothing typed) and whose
 * codec options were set loads back with the same hash and the same
 * options: a shard writes the bytes one process would have written. */
static void test_scaleout_plan_defaults_and_codec_options(void **state)
{
    struct cld_test_tmp *t = *state;
    const char *path = cld_test_tmp_path(t, "defaults.json");
    struct cld_scaleout_plan p, q;

    memset(&p, 0, sizeof p);
    p.steps[0].job = strdup("sharpen");
    p.nsteps = 1;
    cld_params_default(&p.steps[0].params, cld_job_find("sharpen"));
    p.format = CLD_FMT_AUTO;
    p.png_compression = CLD_PNG_LEVEL(9);
    p.png_filter = CLD_PNG_FILTER_PAETH;
    p.keep_orientation = true;
    p.no_shrink_on_load = true;
    p.shards = 1;
    assert_true(asprintf(&p.outdir, "%s/out", t->dir) > 0);
    p.items = calloc(1, sizeof *p.items);
    assert_non_null(p.items);
    p.items[0].input = strdup(cld_test_image("camera.png"));
    assert_true(asprintf(&p.items[0].output, "%s/camera.png", p.outdir) > 0);
    p.items[0].pixels = 512 * 512;
    p.nitems = 1;
    assert_int_equal(cld_scaleout_plan_finish(&p), CLD_OK);
    assert_int_equal(cld_scaleout_plan_write(&p, path), CLD_OK);
    assert_int_equal(cld_scaleout_plan_load(path, &q), CLD_OK);
    assert_string_equal(q.hash, p.hash);
    assert_int_equal(q.png_compression, CLD_PNG_LEVEL(9));
    assert_int_equal(q.png_filter, CLD_PNG_FILTER_PAETH);
    assert_true(q.keep_orientation);
    assert_true(q.no_shrink_on_load);
    assert_true(cld_param_real(&q.steps[0].params, 0) ==
                cld_param_real(&p.steps[0].params, 0));
    cld_scaleout_plan_free(&q);

    /* Each codec option is covered by the hash. */
    edit_file(path, "\"png_filter\": \"paeth\"", "\"png_filter\": \"sub\"");
    expect_bad_plan(path, "hash mismatch");
    refused_after_edit(&p, path, "\"png_compression\": 10",
                       "\"png_compression\": 2", "hash mismatch");
    refused_after_edit(&p, path, "\"orientation\": false",
                       "\"orientation\": true", "hash mismatch");
    refused_after_edit(&p, path, "\"shrink_on_load\": false",
                       "\"shrink_on_load\": true", "hash mismatch");
    refused_after_edit(&p, path, "\"png_filter\": \"paeth\"",
                       "\"png_filter\": \"x\"", "unknown png_filter");
    cld_scaleout_plan_free(&p);
}

/* Replace the first `from` in the file by `to`, or fail the test. */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t n;
    char *text = (char *)cld_test_read_file(path, &n);
    char *at, *out;

    text = realloc(text, n + 1);
    text[n] = '\0';
    at = strstr(text, from);
    if (!at)
        fail_msg("%s does not contain '%s'", path, from);
    out = malloc(n + strlen(to) + 1);
    memcpy(out, text, (size_t)(at - text));
    strcpy(out + (at - text), to);
    strcat(out, at + strlen(from));
    cld_test_write_file(path, out, strlen(out));
    free(out);
    free(text);
}

/* Load must fail with CLD_ERR_FORMAT and one line "PATH: ...mention...". */
static void expect_bad_plan(const char *path, const char *mention)
{
    struct cld_scaleout_plan q;
    const char *d;

    if (cld_scaleout_plan_load(path, &q) != CLD_ERR_FORMAT)
        fail_msg("loading a plan that should fail with '%s' gave: %s",
                 mention, cld_error_detail());
    d = cld_error_detail();
    assert_int_equal(strncmp(d, path, strlen(path)), 0);
    assert_null(strchr(d, '\n'));
    if (!strstr(d, mention))
        fail_msg("'%s' does not mention '%s'", d, mention);
    assert_null(q.items);
}

/* p written to path again, then from replaced by to in the file: loading
 * it is refused with mention. */
static void refused_after_edit(const struct cld_scaleout_plan *p,
                               const char *path, const char *from,
                               const char *to, const char *mention)
{
    assert_int_equal(cld_scaleout_plan_write(p, path), CLD_OK);
    edit_file(path, from, to);
    expect_bad_plan(path, mention);
}

/* A changed input list is caught by the manifest hash. */
static void test_scaleout_plan_hash_catches_changes(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_scaleout_plan p;
    const char *path = cld_test_tmp_path(t, "plan.json");
    char line[4096], count[64], hash[72];
    char *save;

    make_plan(t, 3, &p);
    /* One input dropped (the count fixed so that only the hash can tell). */
    snprintf(line, sizeof line, "    {\"input\": \"%s\", \"output\": \"%s\", "
             "\"pixels\": %" PRIu64 ", \"shard\": %" PRIu32 "},\n",
             p.items[1].input, p.items[1].output, p.items[1].pixels,
             p.items[1].shard);
    edit_file(path, line, "");
    snprintf(count, sizeof count, "\"count\": %zu", p.nitems);
    snprintf(line, sizeof line, "\"count\": %zu", p.nitems - 1);
    edit_file(path, count, line);
    expect_bad_plan(path, "hash mismatch");

    /* One input renamed. */
    refused_after_edit(&p, path, "camera.png\"", "camerb.png\"",
                       "hash mismatch");

    /* An item moved to another shard. */
    assert_int_equal(cld_scaleout_plan_write(&p, path), CLD_OK);
    snprintf(line, sizeof line, "\"shard\": %" PRIu32 "}", p.items[0].shard);
    snprintf(count, sizeof count, "\"shard\": %" PRIu32 "}",
             (p.items[0].shard + 1) % 3);
    edit_file(path, line, count);
    expect_bad_plan(path, "hash mismatch");

    /* A parameter changed. */
    refused_after_edit(&p, path, "\"sigma\": 1.3", "\"sigma\": 1.4",
                       "hash mismatch");

    /* Another input list hashes differently. */
    memcpy(hash, p.hash, sizeof hash);
    save = p.items[2].input;
    p.items[2].input = (char *)"elsewhere/camera.png";
    cld_scaleout_plan_hash(&p, p.hash);
    assert_string_not_equal(hash, p.hash);
    p.items[2].input = save;
    cld_scaleout_plan_free(&p);
}

/* The file at path as a string. */
static char *read_text(const char *path)
{
    size_t n;
    char *text = (char *)cld_test_read_file(path, &n);

    text = realloc(text, n + 1);
    assert_non_null(text);
    text[n] = '\0';
    return text;
}

/* A chain's plan is version 4 with its steps in order; it loads back with
 * the same hash and steps and makes the chain `run` makes; a step's
 * parameter, or the steps' order, changes the hash; a damaged step is
 * named. A plan of one job stays version 3. */
static void test_scaleout_chain_plan(void **state)
{
    struct cld_test_tmp *t = *state;
    const char *path = cld_test_tmp_path(t, "chain.json");
    struct cld_scaleout_plan p, q, one;
    const struct cld_job *job;
    struct cld_params params;
    char *text, hash[72];

    make_plan(t, 2, &one);
    text = read_text(cld_test_tmp_path(t, "plan.json"));
    assert_non_null(strstr(text, "\"version\": 3,"));
    assert_null(strstr(text, "\"steps\""));
    free(text);
    cld_scaleout_plan_free(&one);

    make_chain_plan(t, 2, 0.1 + 1.2, "chain.json", &p);
    assert_int_equal(p.nsteps, 3);
    text = read_text(path);
    assert_non_null(strstr(text, "\"version\": 4,"));
    assert_non_null(strstr(text, "\"steps\": [\n    {\"job\": \"resize\", "
                                 "\"params\": {\"scale\": 0.5}},\n"
                                 "    {\"job\": \"blur\", \"params\": "
                                 "{\"sigma\": 1.3}},\n"
                                 "    {\"job\": \"sharpen\", \"params\": "
                                 "{"));
    assert_null(strstr(text, "\"job\": \"resize\",\n"));
    free(text);
    assert_int_equal(cld_scaleout_plan_load(path, &q), CLD_OK);
    assert_string_equal(q.hash, p.hash);
    assert_int_equal(q.nsteps, 3);
    assert_string_equal(q.steps[0].job, "resize");
    assert_string_equal(q.steps[1].job, "blur");
    assert_string_equal(q.steps[2].job, "sharpen");
    assert_true(cld_param_real(&q.steps[1].params, 0) == 0.1 + 1.2);
    assert_int_equal(cld_scaleout_plan_job(&q, &job, &params), CLD_OK);
    assert_non_null(job->chain);
    assert_int_equal(job->chain->nsteps, 3);
    assert_ptr_equal(job->chain->steps[0].job, cld_job_find("resize"));
    assert_true(cld_param_real(&job->chain->steps[0].params, 0) == 0.5);
    assert_ptr_equal(job->chain->steps[2].job, cld_job_find("sharpen"));
    cld_chain_job_destroy(job);
    cld_scaleout_plan_free(&q);

    /* A step's parameter, then the steps' order: other hashes. */
    memcpy(hash, p.hash, sizeof hash);
    edit_file(path, "\"sigma\": 1.3", "\"sigma\": 1.4");
    expect_bad_plan(path, "hash mismatch");
    p.steps[1].params.v[0].real = 1.4;
    cld_scaleout_plan_hash(&p, p.hash);
    assert_string_not_equal(hash, p.hash);
    p.steps[1].params.v[0].real = 0.1 + 1.2;
    {
        struct cld_scaleout_step s = p.steps[1];

        p.steps[1] = p.steps[2];
        p.steps[2] = s;
        cld_scaleout_plan_hash(&p, p.hash);
        assert_string_not_equal(hash, p.hash);
        p.steps[2] = p.steps[1];
        p.steps[1] = s;
    }
    cld_scaleout_plan_hash(&p, p.hash);
    assert_string_equal(hash, p.hash);

    /* Damage, named by step. */
    refused_after_edit(&p, path, "{\"job\": \"blur\"",
                       "{\"job\": \"matmul\"",
                       "step 2: job \"matmul\" is not an image job");
    refused_after_edit(&p, path, "\"sigma\": 1.3", "\"sigma\": 1000",
                       "step 2: params: --sigma '1000' is out of range");
    refused_after_edit(&p, path, "{\"job\": \"blur\", \"params\"",
                       "{\"job\": \"blur\", \"parms\"",
                       "step 2: missing \"params\"");
    /* Read as version 3, it has no job: refused, not run in part. */
    refused_after_edit(&p, path, "\"version\": 4", "\"version\": 3",
                       "plan: missing \"job\"");
    refused_after_edit(&p, path, "\"version\": 4", "\"version\": 5",
                       "plan version 5 (this cldispatch reads versions "
                       "3 and 4");
    cld_scaleout_plan_free(&p);
}

static void test_scaleout_plan_damage(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_scaleout_plan p;
    const char *path = cld_test_tmp_path(t, "plan.json");
    size_t n;
    uint8_t *text;

    make_plan(t, 3, &p);
    text = cld_test_read_file(path, &n);
    cld_test_write_file(path, text, n / 2);
    expect_bad_plan(path, "JSON ends too early");
    cld_test_write_file(path, "[1, 2]", 6);
    expect_bad_plan(path, "not a cldispatch plan");
    cld_test_write_file(path, "{\"format\": \"x\"}", 15);
    expect_bad_plan(path, "not a cldispatch plan");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"version\": 3", "\"version\": 5");
    expect_bad_plan(path, "plan version 5");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"shards\": 3", "\"shards\": 2");
    expect_bad_plan(path, "\"shard\" is out of range");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"job\": \"blur\"", "\"job\": \"nope\"");
    expect_bad_plan(path, "job \"nope\"");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"output\": \"", "\"output\": \"/etc/");
    expect_bad_plan(path, "not a plain path inside the output folder");
    cld_test_write_file(path, text, n);
    edit_file(path, "/out/", "/out/../");
    expect_bad_plan(path, "not a plain path inside the output folder");
    cld_test_write_file(path, text, n);
    edit_file(path, ", \"pixels\": ", ", \"pixel\": ");
    expect_bad_plan(path, "item 0: missing \"pixels\"");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"shard_pixels\": [", "\"shard_pixels\": [1");
    expect_bad_plan(path, "\"shard_pixels\" do not match the items");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"quality\": 0", "\"quality\": \"0\"");
    expect_bad_plan(path, "\"quality\" should be an int");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"sigma\": 1.3", "\"sigma\": 1000");
    expect_bad_plan(path, "params: --sigma '1000' is out of range");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"sigma\": 1.3", "\"levels\": 1.3");
    expect_bad_plan(path, "params: \"levels\" is not a parameter of blur");
    cld_test_write_file(path, text, n);
    edit_file(path, "\n}\n", "\n}\n{}");
    expect_bad_plan(path, "text after the JSON document");
    cld_test_write_file(path, text, n);
    edit_file(path, "\"hash\": \"sha256:", "\"hash\": \"sha256:0");
    expect_bad_plan(path, "hash mismatch");
    free(text);
    cld_scaleout_plan_free(&p);
}

/* Header-only sizes agree with full decoding on every format. */
static void test_scaleout_probe_matches_load(void **state)
{
    (void)state;
    for (size_t i = 0; i < NPLAN; i++) {
        struct cld_image img;
        uint32_t w, h;
        const char *path = cld_test_image(plan_images[i]);

        assert_int_equal(cld_image_probe(path, NULL, &w, &h), CLD_OK);
        assert_int_equal(cld_image_load(path, NULL, &img), CLD_OK);
        assert_int_equal(w, img.width);
        assert_int_equal(h, img.height);
        cld_image_free(&img);
    }
    {
        uint32_t w = 1, h = 1;
        struct cld_image_limits lim = {0, 1000};

        assert_int_equal(cld_image_probe(cld_test_image(
                             "bad/text_not_image.png"), NULL, &w, &h),
                         CLD_ERR_FORMAT);
        assert_int_equal(w, 0);
        assert_int_equal(cld_image_probe(cld_test_image("camera.png"), &lim,
                                         &w, &h), CLD_ERR_TOO_LARGE);
    }
}

/* ---- running shards and merging --------------------------------------- */

static struct cld_scaleout_run_opts host_opts(void)
{
    struct cld_scaleout_run_opts o = {.device = "host", .threads = 2,
                                      .out = stdout, .err = stderr};

    return o;
}

/* Count of items of shard k, and the index of its first one. */
static unsigned shard_items(const struct cld_scaleout_plan *p, uint32_t k,
                            size_t *first)
{
    unsigned n = 0;

    for (size_t i = p->nitems; i-- > 0;) {
        if (p->items[i].shard == k) {
            n++;
            *first = i;
        }
    }
    return n;
}

static bool exists(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0;
}

static char *tmp_name_for(const char *output, const char *suffix)
{
    const char *slash = strrchr(output, '/');
    char *s = NULL;

    assert_true(asprintf(&s, "%.*s/.%s.%s.tmp", (int)(slash - output),
                         output, slash + 1, suffix) > 0);
    return s;
}

/* A killed shard re-run does only what is missing and removes what the
 * killed run left; the other shards' files are not touched. */
static void test_scaleout_shard_resume(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_scaleout_run_opts o = host_opts();
    struct cld_scaleout_counts c;
    struct cld_scaleout_plan p;
    char *mine, *theirs, *sum;
    size_t first = 0, other = 0;
    unsigned n0;

    make_plan(t, 2, &p);
    n0 = shard_items(&p, 0, &first);
    assert_true(n0 >= 2);
    assert_true(shard_items(&p, 1, &other) >= 1);
    assert_int_equal(cld_scaleout_run_shard(&p, 0, &o, &c, "test"), CLD_OK);
    assert_int_equal(c.items, n0);
    assert_int_equal(c.done, n0);
    assert_int_equal(c.skipped + c.failed + c.tmp_removed, 0);

    /* As if killed: one output lost, a temporary file for it half
     * written, and shard 1 busy writing its own. */
    assert_int_equal(unlink(p.items[first].output), 0);
    mine = tmp_name_for(p.items[first].output, "Ab12Z9");
    theirs = tmp_name_for(p.items[other].output, "Xy34W8");
    cld_test_write_file(mine, "partial", 7);
    cld_test_write_file(theirs, "partial", 7);
    sum = cld_scaleout_summary_path(&p, 0);
    assert_int_equal(unlink(sum), 0);

    assert_int_equal(cld_scaleout_run_shard(&p, 0, &o, &c, "test"), CLD_OK);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.skipped, n0 - 1);
    assert_int_equal(c.tmp_removed, 1);
    assert_false(exists(mine));
    assert_true(exists(theirs));
    assert_true(exists(p.items[first].output));
    assert_true(exists(sum));
    {
        struct cld_image img;

        assert_int_equal(cld_image_load(p.items[first].output, NULL, &img),
                         CLD_OK);
        cld_image_free(&img);
    }
    /* Everything there: a third run processes nothing. */
    assert_int_equal(cld_scaleout_run_shard(&p, 0, &o, &c, "test"), CLD_OK);
    assert_int_equal(c.done, 0);
    assert_int_equal(c.skipped, n0);
    free(mine);
    free(theirs);
    free(sum);
    cld_scaleout_plan_free(&p);
}

/* A second copy of a running shard refuses to start. */
static void test_scaleout_shard_lock(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_scaleout_run_opts o = host_opts();
    struct cld_scaleout_counts c;
    struct cld_scaleout_plan p;
    char *lock = NULL;
    int fd;

    make_plan(t, 2, &p);
    assert_int_equal(cld_mkdir_p(p.outdir), CLD_OK);
    assert_true(asprintf(&lock, "%s/%s", p.outdir,
                         CLD_SCALEOUT_STATE_DIR) > 0);
    assert_int_equal(cld_mkdir_p(lock), CLD_OK);
    free(lock);
    assert_true(asprintf(&lock, "%s/%s/shard-1.lock", p.outdir,
                         CLD_SCALEOUT_STATE_DIR) > 0);
    fd = open(lock, O_RDWR | O_CREAT, 0666);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(cld_scaleout_run_shard(&p, 1, &o, &c, "test"),
                     CLD_ERR_EXISTS);
    assert_non_null(strstr(cld_error_detail(), "already running"));
    close(fd);
    assert_int_equal(cld_scaleout_run_shard(&p, 1, &o, &c, "test"), CLD_OK);
    free(lock);
    cld_scaleout_plan_free(&p);
}

/* Read a JSON file, or fail. */
static json_object *read_json(const char *path)
{
    json_object *o = json_object_from_file(path);

    if (!o)
        fail_msg("%s: %s", path, json_util_get_last_err());
    return o;
}

static int64_t json_int(json_object *o, const char *key)
{
    json_object *v;

    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_int64(v);
}

static void merge_expect(const struct cld_scaleout_plan *p,
                         unsigned missing, unsigned bad, unsigned done,
                         unsigned skipped, unsigned failed)
{
    struct cld_scaleout_merge_result r;
    FILE *null = fopen("/dev/null", "w");

    assert_non_null(null);
    assert_int_equal(cld_scaleout_merge(p, null, stderr, &r), CLD_OK);
    fclose(null);
    assert_int_equal(r.shards_missing, missing);
    assert_int_equal(r.bad_cover, bad);
    assert_int_equal(r.done, done);
    assert_int_equal(r.skipped, skipped);
    assert_int_equal(r.failed, failed);
}

/* What merge should count: items of shard `missing` are left out, those
 * of shard `skipped` were skipped, the input `bad` failed. */
static void tally(const struct cld_scaleout_plan *p, const char *bad,
                  long missing, long skipped, unsigned v[3])
{
    v[0] = v[1] = v[2] = 0;
    for (size_t i = 0; i < p->nitems; i++) {
        if ((long)p->items[i].shard == missing)
            continue;
        if (strcmp(p->items[i].input, bad) == 0)
            v[2]++;
        else if ((long)p->items[i].shard == skipped)
            v[1]++;
        else
            v[0]++;
    }
}

static void test_scaleout_merge(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_scaleout_run_opts o = host_opts();
    struct cld_scaleout_counts c;
    struct cld_scaleout_plan p;
    char *s0, *s1, *s2, *merged = NULL, *failed = NULL, *bad;
    json_object *m;
    unsigned v[3];
    size_t n, first = 0;
    uint8_t *keep;

    make_plan(t, 3, &p);
    /* One input unreadable: its shard reports it, merge lists it. */
    bad = strdup(cld_test_tmp_path(t, "bad.png"));
    cld_test_write_file(bad, "not a png", 9);
    free(p.items[0].input);
    p.items[0].input = strdup(bad);
    free(p.items[0].output);
    assert_true(asprintf(&p.items[0].output, "%s/0bad.png", p.outdir) > 0);
    assert_int_equal(cld_scaleout_plan_finish(&p), CLD_OK);
    for (uint32_t k = 0; k < 3; k++) {
        assert_int_equal(cld_scaleout_run_shard(&p, k, &o, &c, "test"),
                         CLD_OK);
    }
    merge_expect(&p, 0, 0, NPLAN - 1, 0, 1);
    assert_true(asprintf(&merged, "%s/%s/merged.json", p.outdir,
                         CLD_SCALEOUT_STATE_DIR) > 0);
    assert_true(asprintf(&failed, "%s/%s/failed.txt", p.outdir,
                         CLD_SCALEOUT_STATE_DIR) > 0);
    m = read_json(merged);
    assert_int_equal(json_int(m, "inputs"), NPLAN);
    assert_int_equal(json_int(m, "failed"), 1);
    assert_true(json_object_get_boolean(json_object_object_get(m,
                                                               "complete")));
    json_object_put(m);
    keep = cld_test_read_file(failed, &n);
    assert_int_equal(n, strlen(bad) + 1);
    assert_memory_equal(keep, bad, n - 1);
    free(keep);

    /* A shard that did not finish. */
    s0 = cld_scaleout_summary_path(&p, 0);
    s1 = cld_scaleout_summary_path(&p, 1);
    s2 = cld_scaleout_summary_path(&p, 2);
    keep = cld_test_read_file(s1, &n);
    assert_int_equal(unlink(s1), 0);
    tally(&p, bad, 1, -1, v);
    merge_expect(&p, 1, 0, v[0], v[1], v[2]);
    m = read_json(merged);
    assert_false(json_object_get_boolean(json_object_object_get(m,
                                                                "complete")));
    json_object_put(m);

    /* Shard 1's items claimed by shard 2: each is in the wrong shard, and
     * shard 2's own are covered by nobody. */
    cld_test_write_file(s1, keep, n);
    cld_test_write_file(s2, keep, n);
    edit_file(s2, "\"shard\": 1,", "\"shard\": 2,");
    tally(&p, bad, 2, -1, v);
    merge_expect(&p, 0, shard_items(&p, 1, &first) +
                 shard_items(&p, 2, &first), v[0], v[1], v[2]);
    free(keep);

    /* A re-run that finds everything there still covers its items once. */
    assert_int_equal(cld_scaleout_run_shard(&p, 2, &o, &c, "test"), CLD_OK);
    assert_int_equal(c.done, 0);
    tally(&p, bad, -1, 2, v);
    if (p.items[0].shard != 2)
        merge_expect(&p, 0, 0, v[0], v[1], v[2]);

    /* A summary of another plan does not count. */
    edit_file(s0, "\"plan_hash\": \"sha256:", "\"plan_hash\": \"sha256:0");
    tally(&p, bad, 0, 2, v);
    merge_expect(&p, 1, 0, v[0], v[1], v[2]);

    /* An item listed twice in one summary. */
    assert_int_equal(cld_scaleout_run_shard(&p, 0, &o, &c, "test"), CLD_OK);
    {
        size_t len;
        char *text = (char *)cld_test_read_file(s0, &len), *line;
        char from[4200];

        text = realloc(text, len + 1);
        text[len] = '\0';
        line = strstr(text, "    {\"index\"");
        assert_non_null(line);
        snprintf(from, sizeof from, "\"items\": [\n%.*s,\n",
                 (int)(strcspn(line, "}") + 1), line);
        free(text);
        edit_file(s0, "\"items\": [\n", from);
    }
    {
        struct cld_scaleout_merge_result r;
        FILE *null = fopen("/dev/null", "w");

        assert_int_equal(cld_scaleout_merge(&p, null, null, &r), CLD_OK);
        fclose(null);
        assert_int_equal(r.shards_missing, 0);
        assert_int_equal(r.bad_cover, 1);
    }
    free(bad);
    free(s0);
    free(s1);
    free(s2);
    free(merged);
    free(failed);
    cld_scaleout_plan_free(&p);
}

/* ---- the commands, end to end ---------------------------------------- */

static char output[65536];

/* Run `cldispatch ARGS` (a shell fragment) from folder dir with no engine
 * variables set, stdout and stderr captured into output; returns the exit
 * code. */
static int run_cli(const char *dir, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    const char *bin = getenv("CLDISPATCH_BIN");
    va_list ap;
    FILE *p;
    size_t n;
    int st;

    assert_non_null(bin);
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && env -u SLURM_ARRAY_TASK_ID "
             "-u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE -u PMI_RANK "
             "-u PMI_SIZE -u PMIX_RANK -u JOB_COMPLETION_INDEX %s 2>&1",
             dir, args);
    {
        /* The binary's path replaces "CLD" at the start of args. */
        char *at = strstr(cmd, "CLD ");
        char rest[8192];

        assert_non_null(at);
        snprintf(rest, sizeof rest, "%s", at + 3);
        snprintf(at, sizeof cmd - (size_t)(at - cmd), "%s%s", bin, rest);
    }
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void expect_output(const char *needle)
{
    if (!strstr(output, needle))
        fail_msg("output lacks '%s':\n%s", needle, output);
}

/* plan, run --plan and merge as a user runs them, on the test images
 * folder, whose bad/ files fail in their shards and are listed by merge. */
static void test_scaleout_commands(void **state)
{
    struct cld_test_tmp *t = *state;
    const char *images = cld_test_images_dir();
    char *failed = NULL;
    size_t n;
    int lines = 0;

    assert_int_equal(run_cli(t->dir, "CLD plan grayscale '%s' -o out/ "
                             "--shards 3 --plan p.json", images), 0);
    expect_output("3 shards of");
    expect_output("huge_dims_100000x100000.ppm: dimensions 100000x100000 "
                  "exceed");
    assert_int_equal(run_cli(t->dir, "CLD plan grayscale '%s' -o o2 "
                             "--shards 3 --plan p2.json --overwrite", images),
                     2);
    expect_output("--overwrite does not go with a plan");
    assert_int_equal(run_cli(t->dir, "CLD run --plan p.json -d host"), 2);
    expect_output("no shard given");
    assert_int_equal(run_cli(t->dir, "JOB_COMPLETION_INDEX=1 CLD run --plan "
                             "p.json --shard 0 -d host"), 2);
    expect_output("--shard 0 and JOB_COMPLETION_INDEX=1 disagree");
    assert_int_equal(run_cli(t->dir, "CLD run --plan p.json --shard 3"), 2);
    expect_output("the plan has 3 shards (0..2)");
    assert_int_equal(run_cli(t->dir, "CLD run blur --plan p.json"), 2);

    /* Shards 0 and 1 from two engines' variables; bad files fail them. */
    assert_true(run_cli(t->dir, "JOB_COMPLETION_INDEX=0 CLD run --plan "
                        "p.json -d host") <= 1);
    assert_true(run_cli(t->dir, "SLURM_ARRAY_TASK_ID=1 CLD run --plan p.json "
                        "-d host") <= 1);
    expect_output("shard 1/3 (SLURM_ARRAY_TASK_ID=1)");
    assert_int_equal(run_cli(t->dir, "CLD merge p.json"), 4);
    expect_output("shard 2 is missing");
    assert_true(run_cli(t->dir, "CLD run --shard 2 --plan p.json -d host")
                <= 1);
    /* Five broken files in bad/ (one of them too large to plan a size). */
    assert_int_equal(run_cli(t->dir, "CLD merge p.json"), 1);
    expect_output("0 missing");
    expect_output("5 failed, 0 not covered exactly once");
    failed = (char *)cld_test_read_file(cld_test_tmp_path(t,
                                        "out/.cldispatch/failed.txt"), &n);
    for (size_t i = 0; i < n; i++)
        lines += failed[i] == '\n';
    assert_int_equal(lines, 5);
    free(failed);

    /* A damaged plan: one line naming it, exit 2, for run and merge. */
    assert_int_equal(run_cli(t->dir, "sh -c 'head -c 300 p.json > d.json' "
                             "&& CLD run --plan d.json --shard 0"), 2);
    assert_string_equal(output, "cldispatch: d.json: not a cldispatch plan: "
                        "JSON ends too early at byte 300\n");
    assert_int_equal(run_cli(t->dir, "CLD merge d.json"), 2);
    expect_output("d.json: not a cldispatch plan");
}

/* A chain planned, its shards run and merged as a user runs them: every
 * output equals, byte for byte, what one `run` of the same chain wrote. */
static void test_scaleout_chain_commands(void **state)
{
    struct cld_test_tmp *t = *state;
    const char *names[] = {"chelsea.png", "rocket.jpg", "camera.png",
                           "astronaut.ppm"};
    char inputs[2048] = "";
    const char *chain = "resize --scale 0.5 then blur --sigma 2 then "
                        "sharpen --amount 0.8";

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t len = strlen(inputs);

        snprintf(inputs + len, sizeof inputs - len, " '%s'",
                 cld_test_image(names[i]));
    }
    assert_int_equal(run_cli(t->dir, "CLD plan %s%s -o out --shards 2 "
                             "--plan c.json", chain, inputs), 0);
    expect_output("4 inputs");
    expect_output("2 shards of");
    assert_int_equal(run_cli(t->dir, "CLD run --plan c.json --shard 0 "
                             "-d host --explain"), 0);
    expect_output("chain resize+blur+sharpen, 3 steps");
    assert_int_equal(run_cli(t->dir, "CLD run --plan c.json --shard 1 "
                             "-d host"), 0);
    assert_int_equal(run_cli(t->dir, "CLD merge c.json"), 0);
    expect_output("4 inputs: 4 done, 0 skipped (already there), 0 failed");
    assert_int_equal(run_cli(t->dir, "CLD run %s%s -o ref -d host", chain,
                             inputs), 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char a[4096], b[4096];

        snprintf(a, sizeof a, "%s/out/%s", t->dir, names[i]);
        snprintf(b, sizeof b, "%s/ref/%s", t->dir, names[i]);
        cld_test_assert_files_equal(a, b);
    }
}

static int fresh_tmp(void **state)
{
    return cld_test_tmp_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaleout_split_by_pixels_not_count),
        cmocka_unit_test(test_scaleout_split_balance_bound),
        cmocka_unit_test(test_scaleout_select_sources),
        cmocka_unit_test(test_scaleout_select_rank_stride_covers),
        cmocka_unit_test(test_scaleout_select_disagreement),
        cmocka_unit_test(test_scaleout_probe_matches_load),
        cmocka_unit_test_setup_teardown(
            test_scaleout_plan_defaults_and_codec_options, fresh_tmp,
            cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_plan_round_trip,
                                        fresh_tmp, cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(
            test_scaleout_plan_hash_catches_changes, fresh_tmp,
            cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_plan_damage, fresh_tmp,
                                        cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_chain_plan, fresh_tmp,
                                        cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_shard_resume,
                                        fresh_tmp, cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_shard_lock, fresh_tmp,
                                        cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_merge, fresh_tmp,
                                        cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_commands, fresh_tmp,
                                        cld_test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_scaleout_chain_commands,
                                        fresh_tmp, cld_test_tmp_teardown),
    };

    int rc = cmocka_run_group_tests_name("scaleout", tests, NULL, NULL);

    /* The pixel buffers the shards' batches kept for reuse, as main.c
     * does, so that valgrind sees every block freed. */
    cld_buffer_cache_clear();
    return rc;
}
