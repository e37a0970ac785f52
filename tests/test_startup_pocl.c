/* Start-up: an `auto` run whose items all belong on the host does not
 * initialise OpenCL once an earlier run has cached the device inventory
 * (shown by the discovery counter, not by timing); a run that needs a
 * device, a forced device, or a changed OpenCL installation discovers for
 * real; items that shrink on load (a chain that starts with resize) are
 * placed at the size they decode at. Each test works in its own cache
 * folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "chain.h"
#include "device.h"
#include "fixtures.h"
#include "image_io.h"
#include "inventory.h"
#include "jobs.h"

struct fx {
    struct cld_test_tmp *tmp;
    char *saved_xdg;
    char *saved_pocl;
    char small[4200];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *x = getenv("XDG_CACHE_HOME"), *p = getenv("POCL_DEVICES");
    void *tmp = NULL;
    struct cld_image img;

    if (!f || cld_test_tmp_setup(&tmp) != 0)
        return -1;
    f->tmp = tmp;
    f->saved_xdg = x ? strdup(x) : NULL;
    f->saved_pocl = p ? strdup(p) : NULL;
    setenv("XDG_CACHE_HOME", f->tmp->dir, 1);
    if (!getenv("CLDISPATCH_BIN"))
        return -1; /* set by tests/meson.build */
    /* A 64x48 corner of a real photograph: far too small to pay for any
     * device's launch. */
    if (cld_image_load(cld_test_image("chelsea.png"), NULL, &img) != CLD_OK)
        return -1;
    img.width = 64;
    for (uint32_t y = 0; y < 48; y++)
        memmove(img.data + (size_t)y * 64 * img.channels,
                img.data + (size_t)y * 451 * img.channels,
                (size_t)64 * img.channels);
    img.height = 48;
    snprintf(f->small, sizeof f->small, "%s/small.png", f->tmp->dir);
    if (cld_image_save(f->small, &img, NULL) != CLD_OK)
        return -1;
    cld_image_free(&img);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    void *tmp = f->tmp;

    if (f->saved_xdg)
        setenv("XDG_CACHE_HOME", f->saved_xdg, 1);
    if (f->saved_pocl)
        setenv("POCL_DEVICES", f->saved_pocl, 1);
    free(f->saved_xdg);
    free(f->saved_pocl);
    cld_test_tmp_teardown(&tmp);
    free(f);
    return 0;
}

/* Run job over inputs into DIR/out with the given device selector; the
 * batch must succeed with every item done. */
static void run(struct fx *f, const char *job, const char *size,
                const char *device, char **inputs, int n, int done)
{
    struct cld_batch_opts o;
    struct cld_batch_result res;
    char dir[4200];

    memset(&o, 0, sizeof o);
    o.job = cld_job_find(job);
    assert_non_null(o.job);
    cld_params_default(&o.params, o.job);
    if (size)
        assert_int_equal(cld_params_set_size(&o.params, "size", 2048, 2048),
                         CLD_OK);
    snprintf(dir, sizeof dir, "%s/out", f->tmp->dir);
    o.outdir = dir;
    o.device = device;
    o.threads = 2;
    o.overwrite = true;
    o.out = stdout;
    o.err = stderr;
    assert_int_equal(cld_batch_run(&o, inputs, n, &res), CLD_OK);
    assert_int_equal(res.done, done);
    assert_int_equal(res.failed, 0);
}

/* The output equals the C reference (cld_job_run on no device). */
static void check_gray(const struct fx *f)
{
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, want;
    struct cld_image out;
    struct cld_params p;
    char path[4300];

    snprintf(path, sizeof path, "%s/out/small.png", f->tmp->dir);
    cld_params_default(&p, cld_job_find("grayscale"));
    assert_int_equal(cld_image_load(f->small, NULL, &in.img), CLD_OK);
    assert_int_equal(cld_job_run(cld_job_find("grayscale"), NULL, &p, &in,
                                 &want), CLD_OK);
    assert_int_equal(cld_image_load(path, NULL, &out), CLD_OK);
    assert_int_equal(out.width, want.img.width);
    assert_int_equal(out.height, want.img.height);
    assert_int_equal(out.channels, want.img.channels);
    assert_memory_equal(out.data, want.img.data,
                        (size_t)out.width * out.height * out.channels);
    cld_image_free(&out);
    cld_data_free(&want);
    cld_data_free(&in);
}

static void test_startup_host_items_never_start_opencl(void **state)
{
    struct fx *f = *state;
    char *in[1] = {f->small};
    unsigned n0 = cld_device_discover_count();

    /* No inventory yet: the first run discovers, and caches what it
     * found. */
    run(f, "grayscale", NULL, NULL, in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 1);
    check_gray(f);
    /* From then on a small item is placed on the host without OpenCL. */
    run(f, "grayscale", NULL, NULL, in, 1, 1);
    run(f, "grayscale", NULL, "auto", in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 1);
    check_gray(f);
    /* --device host never discovers; a forced device always does. */
    run(f, "grayscale", NULL, "host", in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 1);
    run(f, "grayscale", NULL, "0", in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 2);
    check_gray(f);
}

static void test_startup_device_items_start_opencl(void **state)
{
    struct fx *f = *state;
    char *in[1] = {f->small};
    unsigned n0 = cld_device_discover_count();

    run(f, "grayscale", NULL, NULL, in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 1);
    /* A 2048x2048 fractal is predicted faster on a device: discovery
     * runs, so the device that is really there is used. */
    run(f, "mandelbrot", "2048x2048", NULL, NULL, 0, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 2);
    /* Matrix jobs are not pre-placed: they always discover. */
    run(f, "matmul", NULL, NULL, NULL, 0, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 3);
}

static void test_startup_changed_installation_rediscovers(void **state)
{
    struct fx *f = *state;
    char *in[1] = {f->small};
    char dir[4200], cmd[16384];
    struct cld_device_list list;
    unsigned n0 = cld_device_discover_count();

    snprintf(dir, sizeof dir, "%s/cldispatch", f->tmp->dir);
    run(f, "grayscale", NULL, NULL, in, 1, 1);
    assert_int_equal(cld_inventory_load(dir, &list, NULL), CLD_OK);
    assert_int_equal(list.ndevices, 2);
    cld_device_list_free(&list);
    /* A variable that changes what discovery finds makes the inventory
     * stale: it is not used, and the next run discovers again. */
    assert_null(getenv("POCL_MAX_PTHREAD_COUNT"));
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1);
    assert_int_equal(cld_inventory_load(dir, &list, NULL), CLD_ERR_NOT_FOUND);
    assert_int_equal(list.ndevices, 0);
    run(f, "grayscale", NULL, NULL, in, 1, 1);
    unsetenv("POCL_MAX_PTHREAD_COUNT");
    assert_int_equal(cld_device_discover_count(), n0 + 2);
    check_gray(f);
    /* One PoCL device fewer: stale again. */
    setenv("POCL_DEVICES", "basic", 1);
    assert_int_equal(cld_inventory_load(dir, &list, NULL), CLD_ERR_NOT_FOUND);
    /* PoCL reads POCL_DEVICES once per process, so the new machine is
     * seen by a new process: it saves an inventory of the one device,
     * which this process (same variables) then reads back. */
    snprintf(cmd, sizeof cmd, "POCL_DEVICES=basic XDG_CACHE_HOME='%s' "
             "'%s' run grayscale --overwrite '%s' -o '%s/out2' >/dev/null",
             f->tmp->dir, getenv("CLDISPATCH_BIN"), f->small, f->tmp->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(cld_inventory_load(dir, &list, NULL), CLD_OK);
    assert_int_equal(list.ndevices, 1);
    assert_non_null(strstr(list.devices[0].id, "basic"));
    cld_device_list_free(&list);
    /* And a run under it needs no discovery for a small item. */
    run(f, "grayscale", NULL, NULL, in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 2);
    check_gray(f);
}

/* A chain that starts with resize is pre-placed, like resize alone, at
 * the size its JPEG inputs decode at: six 4224x3168 photographs made an
 * eighth (then grey) are predicted faster on a device when decoded at
 * full size (the resize of 13 megapixels each), so that run discovers;
 * shrunk on load to the output size, the rest of the chain (grayscale on
 * 528x396) belongs on the host, and OpenCL is not started. */
static void test_startup_chain_sees_shrink_on_load(void **state)
{
    struct fx *f = *state;
    char *in[1] = {f->small};
    char folder[4300], link[4400], out[4300];
    struct cld_chain *c;
    struct cld_params p;
    unsigned n0 = cld_device_discover_count();

    snprintf(folder, sizeof folder, "%s/photos", f->tmp->dir);
    assert_int_equal(mkdir(folder, 0755), 0);
    for (int i = 0; i < 6; i++) {
        snprintf(link, sizeof link, "%s/d%d.jpg", folder, i);
        assert_int_equal(symlink(cld_test_image("dragonfly_by_bolly.jpg"),
                                 link), 0);
    }
    assert_int_equal(cld_chain_create(&c), CLD_OK);
    cld_params_default(&p, &cld_job_resize);
    assert_int_equal(cld_params_set_real(&p, "scale", 0.125), CLD_OK);
    assert_int_equal(cld_chain_add(c, &cld_job_resize, &p), CLD_OK);
    cld_params_default(&p, cld_job_find("grayscale"));
    assert_int_equal(cld_chain_add(c, cld_job_find("grayscale"), &p),
                     CLD_OK);
    assert_int_equal(cld_chain_finish(c), CLD_OK);

    run(f, "grayscale", NULL, NULL, in, 1, 1);
    assert_int_equal(cld_device_discover_count(), n0 + 1);
    for (int shrink = 0; shrink < 2; shrink++) {
        struct cld_batch_opts o;
        struct cld_batch_result res;
        char *photos[1] = {folder};

        memset(&o, 0, sizeof o);
        snprintf(out, sizeof out, "%s/chain", f->tmp->dir);
        o.job = &c->job;
        o.outdir = out;
        o.no_shrink_on_load = !shrink;
        o.threads = 2;
        o.overwrite = true;
        o.out = stdout;
        o.err = stderr;
        assert_int_equal(cld_batch_run(&o, photos, 1, &res), CLD_OK);
        assert_int_equal(res.done, 6);
        assert_int_equal(res.failed, 0);
        assert_int_equal(res.shrunk, shrink ? 6 : 0);
        /* Discovery at full size only. */
        assert_int_equal(cld_device_discover_count(), n0 + 2);
    }
    cld_chain_destroy(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_startup_host_items_never_start_opencl),
        T(test_startup_device_items_start_opencl),
        T(test_startup_changed_installation_rediscovers),
        T(test_startup_chain_sees_shrink_on_load),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("startup");
    return cmocka_run_group_tests_name("startup_pocl", tests, NULL, NULL);
}
