/* The launcher's queues by role and ring of in-flight items, on every
 * OpenCL device, in both transfer modes (zero-copy, and the copy path that
 * CLDISPATCH_TRANSFER=copy forces): a 200-item blur batch run by several
 * host threads at once equals the C reference item by item, each item done
 * exactly once; the ring bounds the items and buffers on the device; and a
 * fault injected on one item's kernel or readback leaves every other item
 * done; and a thread that waits for a slot through a waiter is woken each
 * time one comes back, never left to its timeout. Worker threads only
 * record; every check runs on the main thread (cmocka is not
 * thread-safe). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "jobs.h"
#include "launch.h"

#define NITEMS 200
#define NTHREADS 3
/* The items: 200 crops of a real photo at different offsets and sizes. */
struct batch {
    struct cld_data in[NITEMS];
    struct cld_data ref[NITEMS];
    struct cld_params p;
    struct cld_device_list list;
};

/* A waiter for the ring (launch.h) that sleeps on its own condition
 * variable: a slot given back without a wake would leave it asleep until
 * WAITER_TIMEOUT_S, and count as a timeout. */
#define WAITER_TIMEOUT_S 20
struct test_waiter {
    struct cld_ring_waiter w;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_uint waits, wakes, timeouts;
};

static void waiter_wait(void *arg, bool (*ready)(void *ready_arg),
                        void *ready_arg)
{
    struct test_waiter *tw = arg;
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAITER_TIMEOUT_S;
    pthread_mutex_lock(&tw->lock);
    atomic_fetch_add(&tw->waits, 1);
    while (!ready(ready_arg)) {
        if (pthread_cond_timedwait(&tw->cond, &tw->lock, &until) ==
                ETIMEDOUT &&
            !ready(ready_arg)) {
            atomic_fetch_add(&tw->timeouts, 1);
            break;
        }
    }
    pthread_mutex_unlock(&tw->lock);
}

static void waiter_wake(void *arg)
{
    struct test_waiter *tw = arg;

    pthread_mutex_lock(&tw->lock);
    atomic_fetch_add(&tw->wakes, 1);
    pthread_cond_broadcast(&tw->cond);
    pthread_mutex_unlock(&tw->lock);
}

/* One run of the batch on one device context. */
struct run {
    const struct batch *b;
    const struct cld_ring_waiter *waiter;  /* the threads'; NULL: block */
    struct cld_clctx *ctx;
    atomic_uint next;
    struct cld_data out[NITEMS];
    enum cld_status st[NITEMS];
    atomic_uint done[NITEMS];
};

static void crop(const struct cld_image *src, uint32_t x, uint32_t y,
                 uint32_t w, uint32_t h, struct cld_data *out)
{
    memset(out, 0, sizeof *out);
    out->kind = CLD_DATA_IMAGE;
    cld_test_crop(src, x, y, w, h, &out->img);
}

static int batch_setup(void **state)
{
    struct batch *b = calloc(1, sizeof *b);
    const struct cld_job *blur = cld_job_find("blur");
    struct cld_data photo;

    assert_non_null(b);
    assert_non_null(blur);
    cld_params_default(&b->p, blur);
    b->p.v[cld_params_find(&b->p, "sigma")].real = 2.0;
    cld_test_load("chelsea.png", &photo);
    for (unsigned i = 0; i < NITEMS; i++) {
        uint32_t w = 64 + (i * 13) % 97, h = 48 + (i * 7) % 61;
        uint32_t x = (i * 37) % (photo.img.width - w);
        uint32_t y = (i * 23) % (photo.img.height - h);

        crop(&photo.img, x, y, w, h, &b->in[i]);
        assert_int_equal(cld_job_run(blur, NULL, &b->p, &b->in[i],
                                     &b->ref[i]), CLD_OK);
    }
    cld_data_free(&photo);
    assert_int_equal(cld_device_discover(&b->list), CLD_OK);
    *state = b;
    return 0;
}

static int batch_teardown(void **state)
{
    struct batch *b = *state;

    for (unsigned i = 0; i < NITEMS; i++) {
        cld_data_free(&b->in[i]);
        cld_data_free(&b->ref[i]);
    }
    cld_device_list_free(&b->list);
    free(b);
    cld_launch_set_inflight(0);
    return 0;
}

static void *worker(void *arg)
{
    struct run *r = arg;
    const struct cld_job *blur = cld_job_find("blur");

    cld_launch_set_thread_wait(r->waiter);
    for (;;) {
        unsigned i = atomic_fetch_add(&r->next, 1);

        if (i >= NITEMS)
            return NULL;
        r->st[i] = cld_job_run(blur, r->ctx, &r->b->p, &r->b->in[i],
                               &r->out[i]);
        atomic_fetch_add(&r->done[i], 1);
    }
}

/* Run the batch on a fresh context of device d (so that it reads
 * CLDISPATCH_TRANSFER anew) with `inflight` slots, NTHREADS threads at
 * once that wait for a slot through waiter (NULL: blocked), a fault armed
 * first when fault_call is set; check the outputs and return how many
 * items failed, with the ring's counters. */
static unsigned run_batch_waiting(const struct batch *b, cl_device_id dev,
                                  unsigned inflight, const char *fault_call,
                                  const struct cld_ring_waiter *waiter,
                                  struct cld_ring_stats *rs)
{
    struct run *r = calloc(1, sizeof *r);
    pthread_t th[NTHREADS];
    unsigned failed = 0;

    assert_non_null(r);
    r->b = b;
    r->waiter = waiter;
    assert_int_equal(cld_clctx_create(dev, &r->ctx), CLD_OK);
    cld_launch_set_inflight(inflight);
    /* One item first, so that the program is built before the fault's
     * calls are counted and the threads start together. */
    r->st[0] = cld_job_run(cld_job_find("blur"), r->ctx, &b->p, &b->in[0],
                           &r->out[0]);
    atomic_store(&r->done[0], 1);
    atomic_store(&r->next, 1);
    assert_int_equal(r->st[0], CLD_OK);
    if (fault_call)
        cld_clw_fault_set(fault_call, 60, CL_OUT_OF_RESOURCES);
    for (unsigned t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, worker, r), 0);
    for (unsigned t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    cld_clw_fault_clear();
    assert_int_equal(cld_launch_stats(r->ctx, false, rs), CLD_OK);
    for (unsigned i = 0; i < NITEMS; i++) {
        int maxdiff;
        double psnr;

        assert_int_equal(atomic_load(&r->done[i]), 1);
        if (r->st[i] != CLD_OK) {
            /* The injected failure: reported, and nothing left behind. */
            assert_int_equal(r->st[i], CLD_ERR_CL);
            assert_null(r->out[i].img.data);
            failed++;
            continue;
        }
        /* Blur is fixed point: the reference's bytes exactly. */
        assert_true(cld_test_image_diff(&r->out[i].img, &b->ref[i].img,
                                        &maxdiff, &psnr));
        if (maxdiff != 0)
            fail_msg("item %u (%ux%u): max difference %d from the "
                     "reference", i, b->in[i].img.width,
                     b->in[i].img.height, maxdiff);
        cld_data_free(&r->out[i]);
    }
    /* Nothing of any item is still in use. */
    assert_int_equal(rs->in_use, 0);
    if (!rs->copy)
        assert_int_equal(rs->live_bufs, 0);
    cld_clctx_destroy(r->ctx);
    free(r);
    return failed;
}

static unsigned run_batch(const struct batch *b, cl_device_id dev,
                          unsigned inflight, const char *fault_call,
                          struct cld_ring_stats *rs)
{
    return run_batch_waiting(b, dev, inflight, fault_call, NULL, rs);
}

static void each_mode_and_device(void **state,
                                 void (*body)(const struct batch *b,
                                              cl_device_id dev, bool copy))
{
    const struct batch *b = *state;

    assert_true(b->list.ndevices > 0);
    for (int copy = 0; copy < 2; copy++) {
        if (copy)
            setenv("CLDISPATCH_TRANSFER", "copy", 1);
        else
            unsetenv("CLDISPATCH_TRANSFER");
        for (int d = 0; d < b->list.ndevices; d++)
            body(b, b->list.devices[d].device, copy);
    }
    unsetenv("CLDISPATCH_TRANSFER");
}

/* How many buffers blur's device work on item 0 declares on dev. */
static unsigned blur_bufs(const struct batch *b, cl_device_id dev)
{
    struct cld_clctx *ctx;
    struct cld_data out;
    struct cld_work w;
    unsigned n;

    assert_int_equal(cld_clctx_create(dev, &ctx), CLD_OK);
    memset(&out, 0, sizeof out);
    cld_work_init(&w, cld_job_find("blur")->family, NULL);
    assert_int_equal(cld_job_plan(cld_job_find("blur"), &b->p, &b->in[0],
                                  cld_clctx_facts(ctx), CLD_VARIANT_AUTO,
                                  &out, &w), CLD_OK);
    n = w.nbufs;
    cld_work_free(&w);
    cld_data_free(&out);
    cld_clctx_destroy(ctx);
    assert_true(n >= 2 && n < CLD_WORK_MAX_BUFS);
    return n;
}

static void batch_body(const struct batch *b, cl_device_id dev, bool copy)
{
    struct cld_ring_stats rs;
    unsigned nbufs = blur_bufs(b, dev);

    /* The ring smaller than the threads: items wait for a slot. */
    assert_int_equal(run_batch(b, dev, 2, NULL, &rs), 0);
    assert_int_equal(rs.copy, copy);
    assert_int_equal(rs.ring, 2);
    assert_true(rs.peak_in_use >= 1 && rs.peak_in_use <= 2);
    /* Each slot holds at most a device buffer and a staging buffer per
     * buffer of the plan; the zero-copy path one buffer per buffer of the
     * plan (its wraps of host memory, or the slot's device-only ones). */
    assert_true(rs.peak_bufs <= 2u * nbufs * (copy ? 2u : 1u));
    if (copy)
        assert_true(rs.live_bufs > 0 && rs.live_bufs <= rs.peak_bufs);
    /* The same through a waiter: threads waited, and every wait ended
     * with a slot given back and a wake, none by its timeout. */
    {
        struct test_waiter tw = {.w = {waiter_wait, waiter_wake, &tw}};

        pthread_mutex_init(&tw.lock, NULL);
        pthread_cond_init(&tw.cond, NULL);
        assert_int_equal(run_batch_waiting(b, dev, 2, NULL, &tw.w, &rs), 0);
        assert_true(rs.peak_in_use >= 1 && rs.peak_in_use <= 2);
        assert_true(atomic_load(&tw.waits) > 0);
        assert_true(atomic_load(&tw.wakes) > 0);
        assert_int_equal(atomic_load(&tw.timeouts), 0);
        pthread_cond_destroy(&tw.cond);
        pthread_mutex_destroy(&tw.lock);
    }
    /* --inflight 1: one item on the device at a time. */
    assert_int_equal(run_batch(b, dev, 1, NULL, &rs), 0);
    assert_int_equal(rs.peak_in_use, 1);
    assert_true(rs.peak_bufs <= nbufs * (copy ? 2u : 1u));
}

static void test_pipeline_batch(void **state)
{
    each_mode_and_device(state, batch_body);
}

static void fault_body(const struct batch *b, cl_device_id dev, bool copy)
{
    struct cld_ring_stats rs;

    assert_int_equal(run_batch(b, dev, 0, "clEnqueueNDRangeKernel", &rs),
                     1);
    assert_int_equal(run_batch(b, dev, 0, copy ? "clEnqueueReadBuffer"
                                               : "clEnqueueMapBuffer", &rs),
                     1);
    assert_int_equal(run_batch(b, dev, 0, copy ? "clEnqueueWriteBuffer"
                                               : "clSetEventCallback", &rs),
                     1);
}

static void test_pipeline_fault_on_one_item(void **state)
{
    each_mode_and_device(state, fault_body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_batch),
        cmocka_unit_test(test_pipeline_fault_on_one_item),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("pipeline");
    return cmocka_run_group_tests_name("pipeline_pocl", tests,
                                       batch_setup, batch_teardown);
}
