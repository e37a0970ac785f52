/* The monotonic clock and the median shared by calibration, placement and
 * the benchmarks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "clock.h"

static void test_clock_median_odd_count(void **state)
{
    double v[] = {5.0, -1.0, 3.0, 9.0, 0.5};

    (void)state;
    assert_true(cld_median(v, 5) == 3.0);
    /* Documented: the values come back sorted. */
    assert_true(v[0] == -1.0 && v[1] == 0.5 && v[2] == 3.0 && v[3] == 5.0
                && v[4] == 9.0);
}

static void test_clock_median_even_count_is_mean_of_middle(void **state)
{
    double v[] = {4.0, 1.0, 10.0, 2.0};
    double one[] = {7.25};
    double same[] = {2.0, 2.0, 2.0, 2.0, 2.0, 2.0};

    (void)state;
    assert_true(cld_median(v, 4) == 3.0);   /* (2 + 4) / 2 */
    assert_true(cld_median(one, 1) == 7.25);
    assert_true(cld_median(same, 6) == 2.0);
}

static void test_clock_sort_doubles(void **state)
{
    double v[] = {3.0, -2.0, 3.0, 1e-9, -1e9, 0.0};

    (void)state;
    cld_sort_doubles(v, 6);
    for (size_t i = 1; i < 6; i++)
        assert_true(v[i - 1] <= v[i]);
    assert_true(v[0] == -1e9 && v[5] == 3.0);
    cld_sort_doubles(v, 0);     /* nothing to sort is fine */
}

static void test_clock_counts_sleep_and_never_goes_back(void **state)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    double t0, t1, prev;

    (void)state;
    t0 = cld_now_s();
    nanosleep(&ts, NULL);
    t1 = cld_now_s();
    /* nanosleep sleeps at least as long as asked; no upper bound is
     * checked (a shared machine may delay the wake-up). */
    assert_true(t1 - t0 >= 0.0199);
    prev = t1;
    for (int i = 0; i < 1000; i++) {
        double t = cld_now_s();

        assert_true(t >= prev);
        prev = t;
    }
}

/* Spin until the calling thread has used `s` seconds of CPU. */
static void *spin(void *arg)
{
    double s = *(const double *)arg;
    struct timespec ts;

    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    while ((double)ts.tv_sec + ts.tv_nsec * 1e-9 < s);
    return NULL;
}

/* The process's CPU time counts every thread's work, and sleeping adds
 * next to none. */
static void test_clock_process_cpu_counts_threads(void **state)
{
    double s, c0, c1, c2;
    struct timespec ts, nap = {0, 50000000};
    pthread_t th;

    (void)state;
    c0 = cld_process_cpu_s();
    /* 30 ms of CPU more than this thread has used so far, and 30 ms on
     * a thread of its own. */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    s = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + 0.03;
    {
        double t = 0.03;

        assert_int_equal(pthread_create(&th, NULL, spin, &t), 0);
        spin(&s);
        pthread_join(th, NULL);
    }
    c1 = cld_process_cpu_s();
    assert_true(c1 - c0 >= 0.06);
    nanosleep(&nap, NULL);
    c2 = cld_process_cpu_s();
    assert_true(c2 >= c1 && c2 - c1 < 0.02);
}

/* The cores the affinity mask allows. */
static void test_clock_usable_cores(void **state)
{
    cpu_set_t set;

    (void)state;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    assert_int_equal(cld_usable_cores(), (unsigned)CPU_COUNT(&set));
    assert_true(cld_usable_cores() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_median_odd_count),
        cmocka_unit_test(test_clock_median_even_count_is_mean_of_middle),
        cmocka_unit_test(test_clock_sort_doubles),
        cmocka_unit_test(test_clock_counts_sleep_and_never_goes_back),
        cmocka_unit_test(test_clock_process_cpu_counts_threads),
        cmocka_unit_test(test_clock_usable_cores),
    };

    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
