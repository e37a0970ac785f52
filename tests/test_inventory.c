/* The device inventory cache without OpenCL: a synthetic list round trips,
 * a damaged or cut file is refused (never trusted, never a crash), and the
 * fingerprint follows the ICD files and the variables that matter. */
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

#include "fixtures.h"
#include "inventory.h"

static void make_list(struct cld_device_list *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->loader_name, sizeof l->loader_name, "OpenCL ICD Loader");
    l->nplatforms = 1;
    l->platforms = calloc(1, sizeof *l->platforms);
    l->ndevices = 2;
    l->devices = calloc(2, sizeof *l->devices);
    assert_non_null(l->platforms);
    assert_non_null(l->devices);
    snprintf(l->platforms[0].name, CLD_STR_MAX, "Fake Platform");
    l->platforms[0].ndevices = 2;
    for (int i = 0; i < 2; i++) {
        struct cld_device_info *d = &l->devices[i];

        d->index = i;
        d->device_in_platform = i;
        snprintf(d->id, sizeof d->id, "fake:dev%d", i);
        snprintf(d->name, sizeof d->name, "Device %d", i);
        d->type = i ? CL_DEVICE_TYPE_GPU : CL_DEVICE_TYPE_CPU;
        d->compute_units = 8u << i;
        d->global_mem = UINT64_C(1) << (30 + i);
        /* Handles are never saved. */
        d->device = (cl_device_id)(uintptr_t)0x1234;
    }
}

static void with_vendors(struct cld_test_tmp *t, const char *icd_text)
{
    cld_test_write_file(cld_test_tmp_path(t, "vendors/a.icd"), icd_text,
                        strlen(icd_text));
}

static void test_inventory_round_trip_and_damage(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_device_list l, r;
    char path[4200];
    uint8_t *buf;
    size_t n;

    make_list(&l);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_ERR_NOT_FOUND);
    assert_int_equal(cld_inventory_save(t->dir, &l, 0.042), CLD_OK);
    {
        double startup = 0;

        assert_int_equal(cld_inventory_load(t->dir, &r, &startup), CLD_OK);
        assert_true(startup == 0.042);
    }
    assert_int_equal(r.nplatforms, 1);
    assert_int_equal(r.ndevices, 2);
    assert_string_equal(r.platforms[0].name, "Fake Platform");
    assert_string_equal(r.devices[1].id, "fake:dev1");
    assert_int_equal(r.devices[1].compute_units, 16);
    assert_true(r.devices[1].type == CL_DEVICE_TYPE_GPU);
    assert_null(r.devices[0].device);
    assert_string_equal(r.loader_name, "OpenCL ICD Loader");
    cld_device_list_free(&r);

    snprintf(path, sizeof path, "%s/devices.inv", t->dir);
    buf = cld_test_read_file(path, &n);
    /* One byte changed anywhere in a device record. */
    buf[n - 100] ^= 0x01;
    cld_test_write_file(path, buf, n);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_ERR_FORMAT);
    assert_int_equal(r.ndevices, 0);
    assert_null(r.devices);
    buf[n - 100] ^= 0x01;
    /* Cut short, to a bare header's start, or empty. */
    cld_test_write_file(path, buf, n - 1);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_ERR_FORMAT);
    cld_test_write_file(path, buf, 10);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_ERR_FORMAT);
    cld_test_write_file(path, "", 0);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_ERR_FORMAT);
    /* Intact again: accepted. */
    cld_test_write_file(path, buf, n);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_OK);
    cld_device_list_free(&r);
    free(buf);
    cld_device_list_free(&l);
}

static void test_inventory_fingerprint_follows_installation(void **state)
{
    struct cld_test_tmp *t = *state;
    const char *saved = getenv("OCL_ICD_VENDORS");
    char *keep = saved ? strdup(saved) : NULL;
    char dir[4200], a[32], b[32], c[32], d[32], e[32];
    struct cld_device_list l, r;

    snprintf(dir, sizeof dir, "%s/vendors", t->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    with_vendors(t, "libfakeocl.so.1\n");
    setenv("OCL_ICD_VENDORS", dir, 1);
    cld_inventory_fingerprint(a, sizeof a);
    cld_inventory_fingerprint(b, sizeof b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 16);
    /* The inventory saved now is valid only while nothing changes. */
    make_list(&l);
    assert_int_equal(cld_inventory_save(t->dir, &l, 0.042), CLD_OK);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_OK);
    cld_device_list_free(&r);
    /* Another driver library named. */
    with_vendors(t, "libotherocl.so.2\n");
    cld_inventory_fingerprint(c, sizeof c);
    assert_string_not_equal(a, c);
    assert_int_equal(cld_inventory_load(t->dir, &r, NULL), CLD_ERR_NOT_FOUND);
    /* A second ICD installed. */
    cld_test_write_file(cld_test_tmp_path(t, "vendors/b.icd"), "x.so\n", 5);
    cld_inventory_fingerprint(d, sizeof d);
    assert_string_not_equal(c, d);
    /* Which devices PoCL exposes. */
    setenv("POCL_DEVICES", "nothing-real", 1);
    cld_inventory_fingerprint(e, sizeof e);
    assert_string_not_equal(d, e);
    unsetenv("POCL_DEVICES");
    if (keep)
        setenv("OCL_ICD_VENDORS", keep, 1);
    else
        unsetenv("OCL_ICD_VENDORS");
    free(keep);
    cld_device_list_free(&l);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, cld_test_tmp_setup, cld_test_tmp_teardown)
    const struct CMUnitTest tests[] = {
        T(test_inventory_round_trip_and_damage),
        T(test_inventory_fingerprint_follows_installation),
    };

    return cmocka_run_group_tests_name("inventory", tests, NULL, NULL);
}
