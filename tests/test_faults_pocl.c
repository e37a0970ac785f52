/* The fault sweep: every OpenCL wrapper made to fail at each of its first
 * few calls during a whole batch (what `cldispatch run` does), with
 * placement choosing (auto) and with a forced device. After each run every
 * item is either written and byte-equal to the fault-free run's output, or
 * named on stderr; nothing partial is left in the output folder. A batch
 * may also stop before any work when the forced device cannot be set up;
 * then nothing at all is written and the cause is an OpenCL error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "clw.h"
#include "fixtures.h"
#include "jobs.h"
#include "profile.h"
#include "targets.h"

/* Every wrapper that passes through the fault switch (host/clw.c and the
 * device queries in host/device.c and the job files). */
static const char *const wrappers[] = {
    "clGetPlatformIDs", "clGetPlatformInfo", "clGetDeviceIDs",
    "clGetDeviceInfo", "clCreateContext", "clCreateCommandQueue",
    "clCreateProgramWithBinary", "clCreateProgramWithSource",
    "clBuildProgram", "clCreateKernel", "clGetKernelWorkGroupInfo",
    "clSetKernelArg", "clCreateBuffer", "clEnqueueWriteBuffer",
    "clEnqueueMapBuffer", "clEnqueueNDRangeKernel", "clEnqueueReadBuffer",
    "clEnqueueUnmapMemObject", "clFinish", "clSetEventCallback",
    "clRetainEvent", "clGetEventProfilingInfo",
    /* Not a wrapper: an item's device work ends in the error, as the
     * completion of a command that failed on the device reports it. */
    "command",
};

/* Each wrapper fails at its 1st, 2nd, ... FIRST_CALLS-th call. */
#define FIRST_CALLS 3
#define NITEMS 3

static const char *const names[NITEMS] = {"camera.png", "chelsea.png",
                                          "rocket.jpg"};

struct sweep {
    char *tmp;
    const char *job;
    const char *device;      /* NULL: auto */
    char *inputs[NITEMS];
    uint8_t *ref[NITEMS];    /* the fault-free run's output files */
    size_t reflen[NITEMS];
    unsigned runs, faults_fired, written, named, stopped;
};

/* Run the batch into tmp/outdir; stderr into *err (caller frees). */
static enum cld_status run_batch(struct sweep *s, const char *outdir,
                                 struct cld_batch_result *res, char **err)
{
    struct cld_batch_opts o;
    size_t le = 0;
    char dir[4200];
    enum cld_status st;

    /* Every run places from the same profiles: without this, the history
     * of a run that a fault confined to the host would send every later
     * auto run to the host, where no fault can reach it. */
    snprintf(dir, sizeof dir, "%s/cache/cldispatch/history", s->tmp);
    unlink(dir);
    memset(&o, 0, sizeof o);
    memset(res, 0, sizeof *res);
    o.job = cld_job_find(s->job);
    assert_non_null(o.job);
    cld_params_default(&o.params, o.job);
    snprintf(dir, sizeof dir, "%s/%s", s->tmp, outdir);
    o.outdir = dir;
    o.device = s->device;
    o.threads = 2;
    o.out = fopen("/dev/null", "w");
    o.err = open_memstream(err, &le);
    assert_non_null(o.out);
    assert_non_null(o.err);
    st = cld_batch_run(&o, s->inputs, NITEMS, res);
    fclose(o.out);
    fclose(o.err);
    return st;
}

/* A line of err that is an error (not a warning) naming name. */
static bool named(const char *err, const char *name)
{
    for (const char *p = err; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[4096];

        snprintf(line, sizeof line, "%.*s", (int)len, p);
        if (strncmp(line, "cldispatch: ", 12) == 0 &&
            strncmp(line, "cldispatch: warning", 19) != 0 &&
            strstr(line, name))
            return true;
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

/* One faulted run: check every item. */
static void check_run(struct sweep *s, const char *call, unsigned nth,
                      enum cld_status st, const struct cld_batch_result *res,
                      const char *outdir, const char *err)
{
    char dir[4200], path[4400];
    unsigned written = 0, failed = 0;

    snprintf(dir, sizeof dir, "%s/%s", s->tmp, outdir);
    if (st != CLD_OK) {
        /* Stopped before any work: only a device that cannot be set up,
         * and then nothing is written. */
        if (st != CLD_ERR_CL && st != CLD_ERR_NO_DEVICE &&
            st != CLD_ERR_NO_PLATFORM) {
            print_error("%s:%u: batch status %s\n", call, nth,
                        cld_status_str(st));
            fail();
        }
        assert_true(cld_test_count_entries(dir) <= 0);
        printf("  %s:%u stopped the batch: %s\n", call, nth,
               cld_error_detail());
        s->stopped++;
        return;
    }
    for (int i = 0; i < NITEMS; i++) {
        struct stat sb;

        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &sb) == 0) {
            size_t n;
            uint8_t *got = cld_test_read_file(path, &n);

            if (n != s->reflen[i] || memcmp(got, s->ref[i], n) != 0) {
                print_error("%s:%u: %s differs from the fault-free run\n",
                            call, nth, names[i]);
                fail();
            }
            free(got);
            written++;
        } else {
            if (!named(err, names[i])) {
                print_error("%s:%u: %s neither written nor named; "
                            "stderr:\n%s", call, nth, names[i], err);
                fail();
            }
            failed++;
        }
    }
    assert_int_equal(res->done, written);
    assert_int_equal(res->failed, failed);
    /* Nothing else in the folder: no temporary or partial file. */
    assert_int_equal(cld_test_count_entries(dir) < 0
                         ? 0 : cld_test_count_entries(dir),
                     written);
    s->written += written;
    s->named += failed;
}

static void sweep_all(struct sweep *s)
{
    struct cld_batch_result res;
    char *err = NULL, outdir[64];
    enum cld_status st;

    /* The fault-free run gives the reference outputs. */
    cld_clw_fault_clear();
    assert_int_equal(run_batch(s, "ref", &res, &err), CLD_OK);
    free(err);
    assert_int_equal(res.done, NITEMS);
    for (int i = 0; i < NITEMS; i++) {
        char path[4400];

        snprintf(path, sizeof path, "%s/ref/%s", s->tmp, names[i]);
        s->ref[i] = cld_test_read_file(path, &s->reflen[i]);
    }
    for (size_t w = 0; w < sizeof wrappers / sizeof wrappers[0]; w++) {
        for (unsigned nth = 1; nth <= FIRST_CALLS; nth++) {
            unsigned seen;

            snprintf(outdir, sizeof outdir, "o%zu-%u", w, nth);
            cld_clw_fault_set(wrappers[w], nth, CL_OUT_OF_RESOURCES);
            st = run_batch(s, outdir, &res, &err);
            seen = cld_clw_fault_seen();
            cld_clw_fault_clear();
            s->runs++;
            check_run(s, wrappers[w], nth, st, &res, outdir, err);
            free(err);
            err = NULL;
            if (seen < nth)
                break; /* the wrapper made fewer calls: none failed */
            s->faults_fired++;
        }
    }
    printf("fault sweep, %s on %s: %u runs, %u with a fault injected; "
           "items: %u written equal to the fault-free run, %u named on "
           "stderr; %u batches stopped before any work\n", s->job,
           s->device ? s->device : "auto", s->runs, s->faults_fired,
           s->written, s->named, s->stopped);
    for (int i = 0; i < NITEMS; i++)
        free(s->ref[i]);
}

static void setup_sweep(struct sweep *s, const char *job, const char *dev)
{
    char cache[4200];

    memset(s, 0, sizeof *s);
    s->tmp = cld_test_tmpdir();
    assert_non_null(s->tmp);
    s->job = job;
    s->device = dev;
    for (int i = 0; i < NITEMS; i++)
        s->inputs[i] = (char *)cld_test_image(names[i]);
    snprintf(cache, sizeof cache, "%s/cache", s->tmp);
    assert_int_equal(mkdir(cache, 0700), 0);
    setenv("XDG_CACHE_HOME", cache, 1);
    cld_clw_cache_set_dir(NULL);
}

static void teardown_sweep(struct sweep *s)
{
    cld_clw_fault_clear();
    cld_test_rmtree(s->tmp);
    free(s->tmp);
}

/* auto: profiles that put the job on the pthread device, the other device
 * next and the host last, so that faults meet real device work and the
 * fallback after a build failure. grayscale gives the same bytes on every
 * target, so an item that moved is still equal to the reference. */
static void test_faults_auto(void **state)
{
    struct sweep s;
    struct cld_targets *t = NULL;
    struct cld_profile_store *store = NULL;
    char *keep[NITEMS];

    (void)state;
    setup_sweep(&s, "grayscale", NULL);
    memcpy(keep, s.inputs, sizeof keep);
    for (int i = 0; i < NITEMS; i++)
        s.inputs[i] = strdup(keep[i]); /* cld_test_image rotates buffers */
    assert_int_equal(cld_targets_discover(false, &t), CLD_OK);
    assert_int_equal(cld_profile_store_open(NULL, &store), CLD_OK);
    for (size_t i = 0; i < cld_targets_count(t); i++) {
        struct cld_target_profile *p = cld_targets_profile(t, i);
        double rate = i == 0 ? 1e5
                      : strstr(p->name, "pthread") ? 1e12 : 1e10;

        p->launch_s = 1e-6;
        assert_int_equal(cld_target_set_rate(p, s.job, rate), CLD_OK);
        assert_int_equal(cld_profile_save(store, p), CLD_OK);
    }
    cld_profile_store_close(store);
    cld_targets_destroy(t);
    sweep_all(&s);
    for (int i = 0; i < NITEMS; i++)
        free(s.inputs[i]);
    teardown_sweep(&s);
}

/* Forced onto one device: blur, the job with the most OpenCL calls per
 * item (scratch buffers, two passes, work-group queries). */
static void test_faults_forced(void **state)
{
    struct sweep s;

    (void)state;
    setup_sweep(&s, "blur", "0");
    for (int i = 0; i < NITEMS; i++)
        s.inputs[i] = strdup(s.inputs[i]);
    sweep_all(&s);
    for (int i = 0; i < NITEMS; i++)
        free(s.inputs[i]);
    teardown_sweep(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_auto),
        cmocka_unit_test(test_faults_forced),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("faults");
    return cmocka_run_group_tests_name("faults_pocl", tests, NULL, NULL);
}
