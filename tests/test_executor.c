/* The executor: futures complete with the task's status and detail,
 * callbacks run once per task, the queue bound holds, drain waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "fixtures.h"

struct counter {
    atomic_int started;
    atomic_int running;
    atomic_int max_running;
    atomic_int callbacks;
};

static struct counter ctr;

static void nap(long us)
{
    struct timespec ts = {0, us * 1000};

    nanosleep(&ts, NULL);
}

static enum cld_status task_ok(void *arg)
{
    int *v = arg;
    int now = atomic_fetch_add(&ctr.running, 1) + 1;
    int prev = atomic_load(&ctr.max_running);

    atomic_fetch_add(&ctr.started, 1);
    while (now > prev &&
           !atomic_compare_exchange_weak(&ctr.max_running, &prev, now))
        ;
    nap(2000);
    *v *= 2;
    atomic_fetch_sub(&ctr.running, 1);
    return CLD_OK;
}

static enum cld_status task_fail(void *arg)
{
    return cld_error_set(CLD_ERR_FORMAT, "%s: bad header", (char *)arg);
}

static void on_done(struct cld_future *f, void *user)
{
    (void)user;
    assert_false(cld_future_done(f));
    atomic_fetch_add(&ctr.callbacks, 1);
}

static void test_executor_futures_and_callbacks(void **state)
{
    struct cld_executor *ex;
    struct cld_future *f[20];
    int vals[20];

    (void)state;
    memset(&ctr, 0, sizeof ctr);
    assert_int_equal(cld_executor_create(3, 4, &ex), CLD_OK);
    for (int i = 0; i < 20; i++) {
        vals[i] = i;
        assert_int_equal(cld_executor_submit(ex, task_ok, &vals[i], on_done,
                                             NULL, &f[i]), CLD_OK);
    }
    for (int i = 0; i < 20; i++) {
        assert_int_equal(cld_future_wait(f[i]), CLD_OK);
        assert_true(cld_future_done(f[i]));
        assert_string_equal(cld_future_detail(f[i]), "");
        assert_ptr_equal(cld_future_arg(f[i]), &vals[i]);
        assert_int_equal(vals[i], 2 * i);
        cld_future_release(f[i]);
    }
    cld_executor_destroy(ex);
    assert_int_equal(atomic_load(&ctr.callbacks), 20);
    assert_true(atomic_load(&ctr.max_running) <= 3);
    assert_true(atomic_load(&ctr.max_running) >= 2);
}

static void test_executor_failure_detail_reaches_future(void **state)
{
    struct cld_executor *ex;
    struct cld_future *f;
    char name[] = "x.ppm";

    (void)state;
    assert_int_equal(cld_executor_create(1, 1, &ex), CLD_OK);
    assert_int_equal(cld_executor_submit(ex, task_fail, name, NULL, NULL,
                                         &f), CLD_OK);
    assert_int_equal(cld_future_wait(f), CLD_ERR_FORMAT);
    assert_int_equal(cld_future_status(f), CLD_ERR_FORMAT);
    assert_string_equal(cld_future_detail(f), "x.ppm: bad header");
    cld_future_release(f);
    cld_executor_destroy(ex);
}

static void test_executor_drain_without_futures(void **state)
{
    struct cld_executor *ex;
    int vals[50];

    (void)state;
    memset(&ctr, 0, sizeof ctr);
    assert_int_equal(cld_executor_create(2, 2, &ex), CLD_OK);
    for (int i = 0; i < 50; i++) {
        vals[i] = 1;
        assert_int_equal(cld_executor_submit(ex, task_ok, &vals[i], on_done,
                                             NULL, NULL), CLD_OK);
    }
    cld_executor_drain(ex);
    assert_int_equal(atomic_load(&ctr.callbacks), 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(vals[i], 2);
    cld_executor_destroy(ex);
}

static void test_executor_rejects_bad_sizes(void **state)
{
    struct cld_executor *ex = (struct cld_executor *)&ex;

    (void)state;
    assert_int_equal(cld_executor_create(0, 1, &ex), CLD_ERR_INVALID);
    assert_null(ex);
    assert_int_equal(cld_executor_create(1, 0, &ex), CLD_ERR_INVALID);
    cld_executor_destroy(NULL);
    cld_future_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_executor_futures_and_callbacks),
        cmocka_unit_test(test_executor_failure_detail_reaches_future),
        cmocka_unit_test(test_executor_drain_without_futures),
        cmocka_unit_test(test_executor_rejects_bad_sizes),
    };

    return cmocka_run_group_tests_name("executor", tests, NULL, NULL);
}
