/* The executor: futures complete with the task's status and detail,
 * callbacks run once per task, the queue bound holds, drain waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
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

/* Runs on a worker thread: records, never calls cmocka (which is not
 * thread-safe); the main thread checks. */
static atomic_int done_too_early;

static void on_done(struct cld_future *f, void *user)
{
    (void)user;
    if (cld_future_done(f))
        atomic_fetch_add(&done_too_early, 1);
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

/* Deferred futures: each task hands its item to a "driver" thread and
 * returns at once; the driver posts the continuation, which completes the
 * future. Workers are free meanwhile, drain waits for the continuations,
 * and every future ends once with the continuation's status. */
#define NDEFER 24

struct deferred {
    struct cld_executor *ex;
    struct cld_future *f;
    int index;
    pthread_t driver;
    atomic_int continued;
};

static atomic_int pending_now, max_pending_now;

static enum cld_status continuation(void *arg)
{
    struct deferred *d = arg;

    atomic_fetch_add(&d->continued, 1);
    atomic_fetch_sub(&pending_now, 1);
    if (d->index % 3 == 0) {
        cld_error_set(CLD_ERR_FORMAT, "item %d: bad", d->index);
        cld_future_complete(d->f, CLD_ERR_FORMAT);
    } else {
        cld_future_complete(d->f, CLD_OK);
    }
    return CLD_OK;
}

static void *driver(void *arg)
{
    struct deferred *d = arg;

    nap(3000);  /* the "device" */
    cld_executor_post(d->ex, continuation, d);
    return NULL;
}

static enum cld_status task_defer(void *arg)
{
    struct deferred *d = arg;
    int now = atomic_fetch_add(&pending_now, 1) + 1, prev;

    prev = atomic_load(&max_pending_now);
    while (now > prev &&
           !atomic_compare_exchange_weak(&max_pending_now, &prev, now))
        ;
    d->f = cld_executor_defer();
    if (!d->f || pthread_create(&d->driver, NULL, driver, d) != 0)
        abort();
    return CLD_ERR_INTERNAL;  /* ignored: the continuation decides */
}

static void test_executor_deferred_futures(void **state)
{
    struct cld_executor *ex;
    struct deferred d[NDEFER];
    struct cld_future *f[NDEFER];

    (void)state;
    memset(&ctr, 0, sizeof ctr);
    memset(d, 0, sizeof d);
    atomic_store(&pending_now, 0);
    atomic_store(&max_pending_now, 0);
    /* Outside a task there is nothing to defer. */
    assert_null(cld_executor_defer());
    assert_int_equal(cld_executor_create(2, 4, &ex), CLD_OK);
    for (int i = 0; i < NDEFER; i++) {
        d[i].ex = ex;
        d[i].index = i;
        assert_int_equal(cld_executor_submit(ex, task_defer, &d[i], on_done,
                                             NULL, &f[i]),
                         CLD_OK);
    }
    cld_executor_drain(ex);
    for (int i = 0; i < NDEFER; i++) {
        assert_true(cld_future_done(f[i]));
        assert_int_equal(atomic_load(&d[i].continued), 1);
        if (i % 3 == 0) {
            assert_int_equal(cld_future_status(f[i]), CLD_ERR_FORMAT);
            assert_non_null(strstr(cld_future_detail(f[i]), "bad"));
        } else {
            assert_int_equal(cld_future_status(f[i]), CLD_OK);
        }
        cld_future_release(f[i]);
        pthread_join(d[i].driver, NULL);
    }
    assert_int_equal(atomic_load(&ctr.callbacks), NDEFER);
    assert_int_equal(atomic_load(&done_too_early), 0);
    /* Two workers had more than two items in flight: a deferred task
     * does not hold its worker. */
    assert_true(atomic_load(&max_pending_now) > 2);
    cld_executor_destroy(ex);
}

/* A worker that waits for what a posted task brings runs that task
 * itself: with one worker, nothing else could. */
struct helped {
    struct cld_executor *ex;
    atomic_int flag;
    atomic_int ran_on;
    bool helped;
};

static enum cld_status set_flag(void *arg)
{
    struct helped *h = arg;

    atomic_store(&h->ran_on, cld_executor_worker_index());
    atomic_store(&h->flag, 1);
    return CLD_OK;
}

static enum cld_status wait_for_flag(void *arg)
{
    struct helped *h = arg;

    cld_executor_post(h->ex, set_flag, h);
    while (!atomic_load(&h->flag))
        h->helped = cld_executor_help(h->ex, 0.01, NULL, NULL) || h->helped;
    return CLD_OK;
}

static void test_executor_help_runs_posted_task(void **state)
{
    struct helped h;
    struct cld_future *f;

    (void)state;
    memset(&h, 0, sizeof h);
    atomic_store(&h.ran_on, -2);
    assert_int_equal(cld_executor_create(1, 1, &h.ex), CLD_OK);
    /* Not a worker of ex: no help, at once. */
    assert_false(cld_executor_help(h.ex, 0.01, NULL, NULL));
    assert_int_equal(cld_executor_worker_index(), -1);
    assert_int_equal(cld_executor_submit(h.ex, wait_for_flag, &h, NULL, NULL,
                                         &f),
                     CLD_OK);
    assert_int_equal(cld_future_wait(f), CLD_OK);
    cld_future_release(f);
    assert_true(h.helped);
    assert_int_equal(atomic_load(&h.ran_on), 0);
    cld_executor_destroy(h.ex);
}

/* A worker waiting in cld_executor_help for its ready is woken by
 * cld_executor_wake, long before its timeout. */
struct woken {
    struct cld_executor *ex;
    atomic_int flag;
    atomic_int waiting;
    int returned_ready;
    int ran;
};

static bool flag_set(void *arg)
{
    struct woken *w = arg;

    return atomic_load(&w->flag) != 0;
}

static enum cld_status wait_for_wake(void *arg)
{
    struct woken *w = arg;

    atomic_store(&w->waiting, 1);
    /* A lost wake would hold this for a minute and then fail below. */
    w->ran = cld_executor_help(w->ex, 60.0, flag_set, w);
    w->returned_ready = flag_set(w);
    return CLD_OK;
}

static void test_executor_wake_ends_help(void **state)
{
    struct woken w;
    struct cld_future *f;

    (void)state;
    memset(&w, 0, sizeof w);
    assert_int_equal(cld_executor_create(1, 1, &w.ex), CLD_OK);
    assert_int_equal(cld_executor_submit(w.ex, wait_for_wake, &w, NULL, NULL,
                                         &f),
                     CLD_OK);
    while (!atomic_load(&w.waiting))
        sched_yield();
    /* Most likely asleep in the wait by now (if not, ready holds when it
     * looks, which is right too). */
    nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    atomic_store(&w.flag, 1);
    cld_executor_wake(w.ex);
    assert_int_equal(cld_future_wait(f), CLD_OK);
    cld_future_release(f);
    assert_false(w.ran);
    assert_true(w.returned_ready);
    /* Not a worker, with a ready that holds: back at once, having run
     * nothing. */
    assert_false(cld_executor_help(w.ex, 60.0, flag_set, &w));
    cld_executor_destroy(w.ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_executor_futures_and_callbacks),
        cmocka_unit_test(test_executor_failure_detail_reaches_future),
        cmocka_unit_test(test_executor_drain_without_futures),
        cmocka_unit_test(test_executor_rejects_bad_sizes),
        cmocka_unit_test(test_executor_deferred_futures),
        cmocka_unit_test(test_executor_help_runs_posted_task),
        cmocka_unit_test(test_executor_wake_ends_help),
    };

    return cmocka_run_group_tests_name("executor", tests, NULL, NULL);
}
