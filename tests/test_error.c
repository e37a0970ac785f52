/* Status messages and the per-thread detail line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "clw.h"
#include "error.h"
#include "fixtures.h"

static void test_error_status_strings(void **state)
{
    (void)state;
    assert_string_equal(cld_status_str(CLD_OK), "success");
    assert_string_equal(cld_status_str(CLD_ERR_TOO_LARGE), "image too large");
    assert_string_equal(cld_status_str((enum cld_status)9999),
                        "unknown status");
    for (int s = 0; s < CLD_STATUS_COUNT; s++)
        assert_true(strlen(cld_status_str((enum cld_status)s)) > 0);
}

static void test_error_detail_set_and_prefix(void **state)
{
    (void)state;
    cld_error_clear();
    assert_string_equal(cld_error_detail(), "");
    assert_int_equal(cld_error_set(CLD_ERR_IO, "read %d bytes", 7),
                     CLD_ERR_IO);
    assert_string_equal(cld_error_detail(), "read 7 bytes");
    cld_error_prefix("%s", "a.png");
    assert_string_equal(cld_error_detail(), "a.png: read 7 bytes");
    cld_error_clear();
    cld_error_prefix("only %s", "head");
    assert_string_equal(cld_error_detail(), "only head");
}

static void test_error_prefix_truncates_long_detail(void **state)
{
    char big[6000];

    (void)state;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cld_error_set(CLD_ERR_IO, "%s", big);
    cld_error_prefix("head");
    assert_int_equal(strncmp(cld_error_detail(), "head: xxx", 9), 0);
    assert_true(strlen(cld_error_detail()) < 4096);
}

/* The longest head (1023 bytes after truncation) joined to the longest
 * detail (4095 bytes): the result is cut to 4095 bytes and nothing is
 * written past any buffer (the old code needed 5121 bytes in a 5120-byte
 * one; the AddressSanitizer build of this suite catches that). */
static void test_error_prefix_longest_head_and_detail(void **state)
{
    char head[2000], big[6000];
    const char *d;

    (void)state;
    memset(head, 'p', sizeof head - 1);
    head[sizeof head - 1] = '\0';
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cld_error_set(CLD_ERR_IO, "%s", big);
    assert_int_equal(strlen(cld_error_detail()), 4095);
    cld_error_prefix("%s", head);
    d = cld_error_detail();
    assert_int_equal(strlen(d), 4095);
    assert_int_equal(strspn(d, "p"), 1023);
    assert_int_equal(strncmp(d + 1023, ": x", 3), 0);
    assert_int_equal(strspn(d + 1025, "x"), 4095 - 1025);
    /* Prefixing again keeps the newest head in front. */
    cld_error_prefix("%s", "again");
    assert_int_equal(strncmp(cld_error_detail(), "again: ppp", 10), 0);
    assert_int_equal(strlen(cld_error_detail()), 4095);
}

static void *other_thread(void *arg)
{
    (void)arg;
    cld_error_set(CLD_ERR_CL, "from another thread");
    return NULL;
}

static void test_error_detail_is_per_thread(void **state)
{
    pthread_t t;

    (void)state;
    cld_error_set(CLD_ERR_IO, "mine");
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, NULL);
    assert_string_equal(cld_error_detail(), "mine");
}

static void test_error_cl_names(void **state)
{
    (void)state;
    assert_string_equal(cld_cl_errname(CL_OUT_OF_RESOURCES),
                        "CL_OUT_OF_RESOURCES");
    assert_string_equal(cld_cl_errname(-5), "CL_OUT_OF_RESOURCES");
    assert_string_equal(cld_cl_errname(CL_INVALID_KERNEL_NAME),
                        "CL_INVALID_KERNEL_NAME");
    assert_string_equal(cld_cl_errname(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    assert_string_equal(cld_cl_errname(-9999), "CL_ERROR(-9999)");
    assert_int_equal(cld_clw_check(CL_SUCCESS, "clFinish"), CLD_OK);
    assert_int_equal(cld_clw_check(CL_MEM_OBJECT_ALLOCATION_FAILURE,
                                   "clCreateBuffer"), CLD_ERR_CL);
    assert_string_equal(cld_error_detail(),
                        "clCreateBuffer: CL_MEM_OBJECT_ALLOCATION_FAILURE");
}

static void test_error_fault_injection_counts_calls(void **state)
{
    (void)state;
    cld_clw_fault_set("clFinish", 2, CL_OUT_OF_RESOURCES);
    assert_int_equal(cld_clw_fault("clFinish"), CL_SUCCESS);
    assert_int_equal(cld_clw_fault("clEnqueueReadBuffer"), CL_SUCCESS);
    assert_int_equal(cld_clw_fault("clFinish"), CL_OUT_OF_RESOURCES);
    assert_int_equal(cld_clw_fault("clFinish"), CL_SUCCESS);
    cld_clw_fault_set("*", 0, CL_INVALID_VALUE);
    assert_int_equal(cld_clw_fault("clCreateBuffer"), CL_INVALID_VALUE);
    assert_int_equal(cld_clw_fault("clFinish"), CL_INVALID_VALUE);
    cld_clw_fault_clear();
    assert_int_equal(cld_clw_fault("clFinish"), CL_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_status_strings),
        cmocka_unit_test(test_error_detail_set_and_prefix),
        cmocka_unit_test(test_error_prefix_truncates_long_detail),
        cmocka_unit_test(test_error_prefix_longest_head_and_detail),
        cmocka_unit_test(test_error_detail_is_per_thread),
        cmocka_unit_test(test_error_cl_names),
        cmocka_unit_test(test_error_fault_injection_counts_calls),
    };

    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
