/* The pool of device contexts without a device: bounds, a device record
 * with no handle (as probed in a child process), the failure remembered
 * with its detail, and the counters of empty slots. No OpenCL call is
 * made: a record without a handle never reaches clCreateContext. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ctxpool.h"

static void test_ctxpool_no_handle_fails_and_is_remembered(void **state)
{
    struct cld_ctxpool *p = NULL;
    struct cld_device_info d;
    struct cld_clctx *c = (struct cld_clctx *)&d; /* any non-NULL: cleared */
    char first[512];

    (void)state;
    memset(&d, 0, sizeof d);
    d.index = 3;
    strcpy(d.name, "Probed Device");
    assert_int_equal(cld_ctxpool_create(2, &p), CLD_OK);
    assert_non_null(p);
    assert_int_equal(cld_ctxpool_get(p, 1, &d, &c), CLD_ERR_NO_DEVICE);
    assert_null(c);
    assert_non_null(strstr(cld_error_detail(), "device 3 (Probed Device)"));
    assert_non_null(strstr(cld_error_detail(), "no handle"));
    snprintf(first, sizeof first, "%s", cld_error_detail());
    /* Later calls fail at once with the same detail, whatever the record
     * says now. */
    cld_error_clear();
    d.index = 4;
    assert_int_equal(cld_ctxpool_get(p, 1, &d, &c), CLD_ERR_NO_DEVICE);
    assert_string_equal(cld_error_detail(), first);
    assert_null(cld_ctxpool_peek(p, 1));
    cld_ctxpool_destroy(p);
}

static void test_ctxpool_bounds_and_empty_slots(void **state)
{
    struct cld_ctxpool *p = NULL;
    struct cld_device_info d;
    struct cld_clctx *c = NULL;
    unsigned builds = 7, loads = 7;
    double seconds = -1;

    (void)state;
    memset(&d, 0, sizeof d);
    assert_int_equal(cld_ctxpool_create(2, &p), CLD_OK);
    assert_int_equal(cld_ctxpool_get(p, 2, &d, &c), CLD_ERR_INVALID);
    assert_null(cld_ctxpool_peek(p, 0));
    assert_null(cld_ctxpool_peek(p, 2));
    assert_false(cld_ctxpool_programs(p, 0, &builds, &loads));
    assert_int_equal(builds, 0);
    assert_int_equal(loads, 0);
    assert_false(cld_ctxpool_load_seconds(p, &seconds));
    assert_true(seconds == 0);
    cld_ctxpool_destroy(p);
    cld_ctxpool_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctxpool_no_handle_fails_and_is_remembered),
        cmocka_unit_test(test_ctxpool_bounds_and_empty_slots),
    };

    return cmocka_run_group_tests_name("ctxpool", tests, NULL, NULL);
}
