/* Placement rules on synthetic machines: a discrete GPU on a 16 GB/s bus,
 * an integrated GPU with unified memory, a 2-core OpenCL CPU device, and
 * the host (2 threads). No OpenCL anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "placement.h"

enum { HOST, CPUDEV, IGPU, DGPU, N_TARGETS };

#define GIB 1073741824ull

struct machine {
    struct cld_target_profile t[N_TARGETS];
    struct cld_history hist;
    struct cld_plan plan;
};

static int machine_setup(void **state)
{
    struct machine *m = calloc(1, sizeof *m);
    struct cld_target_profile *t;

    if (!m)
        return -1;
    t = &m->t[HOST];
    cld_target_init(t, CLD_TARGET_HOST, -1, "host", "host|x86_64|2");
    t->compute_units = 2;
    t->max_clock_mhz = 3000;
    t->host_threads = 2;
    t->fp64 = true;

    t = &m->t[CPUDEV];
    cld_target_init(t, CLD_TARGET_CL_CPU, 0, "pocl-cpu", "PoCL|cpu|5.0");
    t->compute_units = 2;
    t->max_clock_mhz = 3000;
    t->vector_width_float = 8;
    t->host_unified_memory = true;
    t->fp64 = true;
    t->global_mem_bytes = 16 * GIB;
    t->max_alloc_bytes = 8 * GIB;

    t = &m->t[IGPU];
    cld_target_init(t, CLD_TARGET_CL_GPU, 1, "igpu", "Intel|UHD 610|23.0");
    t->compute_units = 12;
    t->max_clock_mhz = 1000;
    t->vector_width_float = 1;
    t->host_unified_memory = true;
    t->fp64 = false;
    t->global_mem_bytes = 6 * GIB;
    t->max_alloc_bytes = 1 * GIB;

    t = &m->t[DGPU];
    cld_target_init(t, CLD_TARGET_CL_GPU, 2, "dgpu", "NVIDIA|RTX|535.1");
    t->compute_units = 40;
    t->max_clock_mhz = 1700;
    t->vector_width_float = 1;
    t->fp64 = true;
    t->global_mem_bytes = 8 * GIB;
    t->max_alloc_bytes = 2 * GIB;
    t->h2d_bytes_per_s = 16e9;  /* calibrated: a 16 GB/s bus */
    t->d2h_bytes_per_s = 16e9;

    cld_history_init(&m->hist);
    cld_plan_init(&m->plan);
    *state = m;
    return 0;
}

static int machine_teardown(void **state)
{
    struct machine *m = *state;

    cld_history_clear(&m->hist);
    free(m);
    return 0;
}

/* An RGB image job of w x h pixels. */
static struct cld_workload image_job(const char *job, uint64_t w, uint64_t h,
                                     double ops, unsigned flags)
{
    struct cld_workload wl = { 0 };

    wl.job = job;
    wl.cls = CLD_CLASS_IMAGE;
    wl.flags = flags;
    wl.elements = w * h;
    wl.bytes_in = w * h * 3;
    wl.bytes_out = w * h * 3;
    wl.max_buffer = w * h * 3;
    wl.ops_per_element = ops;
    wl.kernel_launches = 2;
    wl.batch = 1;
    return wl;
}

static struct cld_workload matmul_job(uint64_t n)
{
    struct cld_workload wl = { 0 };

    wl.job = "matmul";
    wl.cls = CLD_CLASS_NUMERIC;
    wl.flags = CLD_WL_DATA_PARALLEL;
    wl.elements = n * n;
    wl.bytes_in = 2 * n * n * 4;
    wl.bytes_out = n * n * 4;
    wl.max_buffer = n * n * 4;
    wl.ops_per_element = 2.0 * (double)n;
    wl.kernel_launches = 1;
    wl.batch = 1;
    return wl;
}

static void decide(struct machine *m, const struct cld_workload *w,
                   const struct cld_target_profile *t, size_t n)
{
    assert_int_equal(cld_placement_decide(w, t, n, &m->hist, &m->plan),
                     CLD_OK);
}

static void test_placement_large_blur_goes_to_discrete_gpu(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 4000, 3000, 40,
                                      CLD_WL_DATA_PARALLEL);
    const struct cld_candidate *c = m->plan.cand;

    decide(m, &w, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, DGPU);
    /* 72 MB over 16 GB/s, 4 enqueues of 20 us, 480 Mops at 1.09 Tops/s. */
    assert_true(fabs(c[DGPU].transfer_s - 4.5e-3) < 1e-6);
    assert_true(fabs(c[DGPU].overhead_s - 80e-6) < 1e-9);
    assert_true(fabs(c[DGPU].compute_s - 480e6 / 1.088e12) < 1e-6);
    /* The host: 2 threads x 3 GHz x 2 ops/cycle = 12 Gops/s -> 40 ms. */
    assert_true(fabs(c[HOST].seconds - 40e-3) < 1e-6);
    assert_true(c[IGPU].seconds > 1.5 * c[DGPU].seconds);
    assert_non_null(strstr(c[DGPU].basis, "calibrated: 16.0 GB/s bus"));
    assert_non_null(strstr(c[DGPU].basis, "prior: 20.0 us launch"));
    assert_non_null(strstr(c[IGPU].basis, "zero-copy"));
    assert_non_null(strstr(m->plan.reason, "lowest predicted time"));
}

static void test_placement_batch_scales_time(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 4000, 3000, 40,
                                      CLD_WL_DATA_PARALLEL);
    double one;

    decide(m, &w, m->t, N_TARGETS);
    one = m->plan.cand[DGPU].seconds;
    w.batch = 10;
    cld_plan_init(&m->plan);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[DGPU].seconds - 10 * one) < 1e-9);
    assert_int_equal(m->plan.batch, 10);
}

static void test_placement_small_image_stays_on_host(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 64, 64, 40,
                                      CLD_WL_DATA_PARALLEL);

    decide(m, &w, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, HOST);
    assert_true(m->plan.cand[HOST].seconds < 20e-6);
    /* Every device pays at least four enqueues. */
    assert_true(m->plan.cand[IGPU].overhead_s >= 80e-6 - 1e-12);
    assert_true(m->plan.cand[CPUDEV].overhead_s >= 400e-6 - 1e-12);
    assert_non_null(strstr(m->plan.reason, "mostly launch overhead"));
}

static void test_placement_sequential_stays_on_host(void **state)
{
    struct machine *m = *state;
    static const uint64_t sizes[] = { 64, 4000, 20000 };

    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        struct cld_workload w = image_job("dither", sizes[i], sizes[i], 20,
                                          CLD_WL_SEQUENTIAL);

        cld_plan_init(&m->plan);
        decide(m, &w, m->t, N_TARGETS);
        assert_int_equal(m->plan.chosen, HOST);
        assert_string_equal(m->plan.cand[HOST].basis,
                            "rule: sequential work stays on host "
                            "(6.0 Gops/s)");
        assert_non_null(strstr(m->plan.cand[DGPU].basis,
                               "runs as one work-item"));
        assert_non_null(strstr(m->plan.reason,
                               "sequential work stays on host"));
        /* One GPU lane: 1.7 GHz x 0.1 ops/cycle, far below the host. */
        assert_true(m->plan.cand[DGPU].compute_s
                    > 30 * m->plan.cand[HOST].compute_s);
    }
}

static void test_placement_matmul_by_size(void **state)
{
    struct machine *m = *state;
    struct cld_workload big = matmul_job(4096), small = matmul_job(32);

    decide(m, &big, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, DGPU);
    assert_true(m->plan.cand[DGPU].seconds < 0.2);
    assert_true(m->plan.cand[HOST].seconds > 10.0);

    cld_plan_init(&m->plan);
    decide(m, &small, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, HOST);
    assert_int_not_equal(m->plan.cand[m->plan.chosen].kind,
                         CLD_TARGET_CL_GPU);
}

static void test_placement_gray_on_slow_bus_stays_on_cpu(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("gray", 4000, 3000, 5,
                                      CLD_WL_DATA_PARALLEL);
    struct cld_target_profile t[3];

    /* The integrated GPU is left out: with zero-copy it is not crossing
     * any bus, so the rule under test does not apply to it. */
    t[0] = m->t[HOST];
    t[1] = m->t[CPUDEV];
    t[2] = m->t[DGPU];
    t[2].h2d_bytes_per_s = t[2].d2h_bytes_per_s = 2e9;
    w.bytes_out = 4000 * 3000;
    w.kernel_launches = 1;
    decide(m, &w, t, 3);
    assert_in_range(m->plan.chosen, 0, 1);
    /* 48 MB at 2 GB/s is 24 ms, while the host needs 5 ms in all. */
    assert_true(fabs(m->plan.cand[2].transfer_s - 24e-3) < 1e-6);
    assert_true(fabs(m->plan.cand[0].seconds - 5e-3) < 1e-6);
}

static void test_placement_fp64_excludes_device(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = matmul_job(2048);

    w.needs_fp64 = true;
    w.bytes_in *= 2;
    w.bytes_out *= 2;
    w.max_buffer *= 2;
    decide(m, &w, m->t, N_TARGETS);
    assert_true(m->plan.cand[IGPU].excluded);
    assert_string_equal(m->plan.cand[IGPU].reason,
                        "needs fp64, which the device lacks");
    assert_false(m->plan.cand[DGPU].excluded);
    assert_false(m->plan.cand[HOST].excluded);
    assert_int_equal(m->plan.chosen, DGPU);
}

static void test_placement_buffer_over_max_alloc_excluded(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 40000, 28633, 40,
                                      CLD_WL_DATA_PARALLEL);

    /* 40000 x 28633 x 3 bytes = 3.2 GiB per buffer. */
    decide(m, &w, m->t, N_TARGETS);
    assert_true(m->plan.cand[DGPU].excluded);
    assert_string_equal(m->plan.cand[DGPU].reason,
                        "buffer of 3.2 GiB exceeds max allocation 2.0 GiB");
    assert_true(m->plan.cand[IGPU].excluded);
    assert_non_null(strstr(m->plan.cand[IGPU].reason,
                           "max allocation 1.0 GiB"));
    assert_false(m->plan.cand[CPUDEV].excluded);
    assert_int_equal(m->plan.chosen, CPUDEV);
}

static void test_placement_global_mem_excludes_device(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = matmul_job(4096);

    m->t[DGPU].global_mem_bytes = 128ull << 20;
    decide(m, &w, m->t, N_TARGETS);
    assert_true(m->plan.cand[DGPU].excluded);
    assert_string_equal(m->plan.cand[DGPU].reason,
                        "needs 192.0 MiB of device memory, has 128.0 MiB");
}

static void test_placement_caller_exclusion_kept(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 4000, 3000, 40,
                                      CLD_WL_DATA_PARALLEL);

    assert_int_equal(cld_plan_exclude(&m->plan, DGPU, "kernel build "
                                      "failed: %s", "CL_BUILD_PROGRAM_FAILURE"),
                     CLD_OK);
    assert_int_equal(cld_plan_exclude(&m->plan, CLD_PLAN_MAX, "x"),
                     CLD_ERR_INVALID);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(m->plan.cand[DGPU].excluded);
    assert_string_equal(m->plan.cand[DGPU].reason,
                        "kernel build failed: CL_BUILD_PROGRAM_FAILURE");
    assert_int_equal(m->plan.chosen, IGPU);
}

static void test_placement_all_excluded(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = matmul_job(64);

    w.needs_fp64 = true;
    cld_plan_exclude(&m->plan, 0, "no C reference");
    assert_int_equal(cld_placement_decide(&w, &m->t[IGPU], 1, NULL,
                                          &m->plan), CLD_ERR_NO_DEVICE);
    assert_int_equal(m->plan.chosen, -1);
    assert_string_equal(m->plan.cand[0].reason, "no C reference");
    assert_int_equal(cld_placement_decide(&w, m->t, CLD_PLAN_MAX + 1, NULL,
                                          &m->plan), CLD_ERR_INVALID);
}

static void test_placement_measurements_override_prior(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 4000, 3000, 40,
                                      CLD_WL_DATA_PARALLEL);
    static const double slow[] = { 0.20, 0.21, 0.19, 0.20, 0.22 };

    snprintf(w.params, sizeof w.params, "sigma=2");
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(cld_history_add(&m->hist, "blur", "sigma=2",
                                         m->t[DGPU].key,
                                         cld_history_work(&w), slow[i]),
                         CLD_OK);
    /* Other parameters do not count. */
    assert_int_equal(cld_history_add(&m->hist, "blur", "sigma=9",
                                     m->t[IGPU].key, cld_history_work(&w),
                                     9.0),
                     CLD_OK);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(m->plan.cand[DGPU].measured);
    assert_true(fabs(m->plan.cand[DGPU].seconds - 0.19) < 1e-9);
    assert_string_equal(m->plan.cand[DGPU].basis,
                        "measured: fastest of 5 runs at this size");
    assert_false(m->plan.cand[IGPU].measured);
    assert_int_equal(m->plan.chosen, IGPU);
}

static void test_placement_measured_device_beats_sequential_rule(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("dither", 4000, 3000, 20,
                                      CLD_WL_SEQUENTIAL);

    for (int i = 0; i < 4; i++)
        cld_history_add(&m->hist, "dither", "", m->t[DGPU].key,
                        cld_history_work(&w), 0.010);
    decide(m, &w, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, DGPU);
    /* Measured on the host as well, within 10%: that is noise, and the
     * guidance keeps order-dependent work on the host. */
    for (int i = 0; i < 4; i++)
        cld_history_add(&m->hist, "dither", "", m->t[HOST].key,
                        cld_history_work(&w), 0.0105);
    decide(m, &w, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, HOST);
    assert_non_null(strstr(m->plan.reason, "sequential work stays on host"));
    /* 20% faster is an advantage. */
    for (int i = 0; i < CLD_HISTORY_SAMPLES; i++)
        cld_history_add(&m->hist, "dither", "", m->t[HOST].key,
                        cld_history_work(&w), 0.012);
    decide(m, &w, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, DGPU);
}

static void test_placement_calibrated_rate_used(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 4000, 3000, 40,
                                      CLD_WL_DATA_PARALLEL);

    assert_int_equal(cld_target_set_rate(&m->t[IGPU], "blur", 1.2e10),
                     CLD_OK);
    assert_int_equal(cld_target_set_rate(&m->t[IGPU], "blur", 1.0e10),
                     CLD_OK);
    assert_int_equal(m->t[IGPU].n_rates, 1);
    assert_int_equal(cld_target_set_rate(&m->t[IGPU], "blur", -1),
                     CLD_ERR_INVALID);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[IGPU].compute_s - 1.2e-3) < 1e-9);
    assert_non_null(strstr(m->plan.cand[IGPU].basis,
                           "calibrated: 10.0 Gelem/s"));
    assert_int_equal(m->plan.chosen, IGPU);
}

/* Other processes' load slows the targets that share the host's cores by
 * the threads they would need over the cores left; nothing else. */
static void test_placement_load_slows_shared_cores(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("blur", 4000, 3000, 40,
                                      CLD_WL_DATA_PARALLEL);
    double dgpu;

    assert_int_equal(cld_target_set_rate(&m->t[CPUDEV], "blur", 1e8),
                     CLD_OK);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[CPUDEV].compute_s - 0.12) < 1e-12);
    dgpu = m->plan.cand[DGPU].seconds;
    /* One of two cores busy: two threads get one core. */
    for (int i = HOST; i <= CPUDEV; i++) {
        m->t[i].shared_cores = 2;
        m->t[i].busy_cores = 1.0;
    }
    cld_plan_init(&m->plan);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[CPUDEV].compute_s - 0.24) < 1e-12);
    assert_non_null(strstr(m->plan.cand[CPUDEV].basis,
                           "x2.00: 1.0 of 2 cores busy"));
    assert_true(m->plan.cand[DGPU].seconds == dgpu);
    /* A one-thread device still has a core of its own. */
    m->t[CPUDEV].compute_units = 1;
    cld_plan_init(&m->plan);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[CPUDEV].compute_s - 0.12) < 1e-12);
    /* Both cores busy: a thread gets half of one. */
    m->t[CPUDEV].busy_cores = 2.0;
    cld_plan_init(&m->plan);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[CPUDEV].compute_s - 0.24) < 1e-12);
    /* Unknown load: no change. */
    m->t[CPUDEV].shared_cores = 0;
    cld_plan_init(&m->plan);
    decide(m, &w, m->t, N_TARGETS);
    assert_true(fabs(m->plan.cand[CPUDEV].compute_s - 0.12) < 1e-12);
}

static void test_placement_branchy_penalised_on_gpu(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = image_job("mandel", 1000, 1000, 200,
                                      CLD_WL_DATA_PARALLEL);
    double plain, branchy;

    decide(m, &w, m->t, N_TARGETS);
    plain = m->plan.cand[DGPU].compute_s;
    w.flags |= CLD_WL_BRANCHY;
    cld_plan_init(&m->plan);
    decide(m, &w, m->t, N_TARGETS);
    branchy = m->plan.cand[DGPU].compute_s;
    assert_true(fabs(branchy / plain - 4.0) < 1e-9);
    assert_true(fabs(m->plan.cand[HOST].compute_s - 1e6 * 200 / 12e9)
                < 1e-9);
}

static void test_placement_history_outliers_rejected(void **state)
{
    struct machine *m = *state;
    static const double s[] = { 1.0, 1.2, 1.1, 0.9, 30.0 };
    struct cld_estimate est;

    for (size_t i = 0; i < 5; i++)
        cld_history_add(&m->hist, "job", "", "k", 1000000, s[i]);
    assert_true(cld_history_estimate(&m->hist, "job", "", "k", 1000000, 0,
                                     &est));
    assert_int_equal(est.used, 4);
    assert_int_equal(est.rejected, 1);
    /* The fastest of the four kept; the slow outlier is not counted. */
    assert_true(fabs(est.seconds - 0.9) < 1e-12);
}

static void test_placement_history_scaling_and_limits(void **state)
{
    struct machine *m = *state;
    struct cld_estimate est;

    assert_int_equal(cld_history_bucket(0), 0);
    assert_int_equal(cld_history_bucket(1), 0);
    assert_int_equal(cld_history_bucket(4095), 11);
    assert_int_equal(cld_history_bucket(4096), 12);
    /* Two samples are not enough. */
    cld_history_add(&m->hist, "j", "p", "k", 1000000, 0.011);
    cld_history_add(&m->hist, "j", "p", "k", 1000000, 0.011);
    assert_false(cld_history_estimate(&m->hist, "j", "p", "k", 1000000,
                                      0.001, &est));
    cld_history_add(&m->hist, "j", "p", "k", 1000000, 0.011);
    /* 0.9e6 is in the same bucket (2^19): scale 10 ms of work by 0.9
     * and keep the 1 ms overhead. */
    assert_true(cld_history_estimate(&m->hist, "j", "p", "k", 900000,
                                     0.001, &est));
    assert_int_equal(est.kind, CLD_EST_OWN);
    assert_int_equal(est.bucket, 19);
    assert_true(fabs(est.seconds - 0.010) < 1e-12);
    /* 1.2e6 is in the next bucket: the same, 1.2 times the work. */
    assert_true(cld_history_estimate(&m->hist, "j", "p", "k", 1200000,
                                     0.001, &est));
    assert_int_equal(est.kind, CLD_EST_ABOVE);
    assert_int_equal(est.bucket, 19);
    assert_true(fabs(est.seconds - 0.013) < 1e-12);
    /* Two buckets up, with one point: proportional, overhead kept. */
    assert_true(cld_history_estimate(&m->hist, "j", "p", "k", 4000000,
                                      0.001, &est));
    assert_int_equal(est.kind, CLD_EST_ABOVE);
    assert_int_equal(est.bucket2, -1);
    assert_true(fabs(est.seconds - 0.041) < 1e-12);
    /* Four buckets away is too far: the cost model decides. */
    assert_false(cld_history_estimate(&m->hist, "j", "p", "k", 16000000,
                                      0.001, &est));
    assert_false(cld_history_estimate(&m->hist, "j", "p", "k", 60000,
                                      0.001, &est));
    /* Other work per element (params) or target is another history. */
    assert_false(cld_history_estimate(&m->hist, "j", "q", "k", 1000000,
                                      0.001, &est));
    assert_false(cld_history_estimate(&m->hist, "j", "p", "k2", 1000000,
                                      0.001, &est));
    /* The cap keeps the newest samples. */
    for (int i = 1; i <= 20; i++)
        cld_history_add(&m->hist, "cap", "", "k", 100, i);
    assert_int_equal(m->hist.entries[m->hist.n - 1].n, CLD_HISTORY_SAMPLES);
    assert_true(m->hist.entries[m->hist.n - 1].samples[0].seconds == 5.0);
    assert_int_equal(cld_history_add(&m->hist, "a\tb", "", "k", 1, 1),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_history_add(&m->hist, "a", "", "k", 0, 1),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_history_add(&m->hist, "a", "", "k", 1, NAN),
                     CLD_ERR_INVALID);
}

/* Times that follow 2 ms + 1 us per unit at 1e3 and 1e6 units, and grow
 * faster beyond (a cache overflowing) at 4e6. */
static void add_line(struct cld_history *h, const char *key, uint64_t work,
                     double seconds)
{
    for (int i = 0; i < CLD_HISTORY_MIN_SAMPLES; i++)
        assert_int_equal(cld_history_add(h, "j", "", key, work,
                                         seconds * (1 + 0.01 * i)),
                         CLD_OK);
}

static void test_placement_history_between_sizes(void **state)
{
    struct machine *m = *state;
    struct cld_estimate est;

    add_line(&m->hist, "k", 1000, 0.002 + 1000e-6);
    add_line(&m->hist, "k", 1000000, 0.002 + 1.0);
    add_line(&m->hist, "k", 4000000, 0.002 + 6.0);
    /* Between 2^9 and 2^19: on the line through both, so the 2 ms fixed
     * cost measured at the small size is kept, whatever the model says
     * (fixed_s 0 here). */
    assert_true(cld_history_estimate(&m->hist, "j", "", "k", 65536, 0,
                                     &est));
    assert_int_equal(est.kind, CLD_EST_BETWEEN);
    assert_int_equal(est.bucket, 19);
    assert_int_equal(est.bucket2, 9);
    assert_int_equal(est.used, 2 * CLD_HISTORY_MIN_SAMPLES);
    assert_true(fabs(est.seconds - (0.002 + 0.065536)) < 1e-9);
    /* Between 2^19 and 2^21: the steeper slope of the large sizes. */
    assert_true(cld_history_estimate(&m->hist, "j", "", "k", 1500000, 0,
                                     &est));
    assert_int_equal(est.kind, CLD_EST_BETWEEN);
    assert_true(fabs(est.seconds - (0.002 + 1.0 + 5.0 * 0.5 / 3.0))
                < 1e-9);
    /* Beyond the largest: that slope extended (not proportional, which
     * would give 12.0 at 8e6). */
    assert_true(cld_history_estimate(&m->hist, "j", "", "k", 8000000, 0,
                                     &est));
    assert_int_equal(est.kind, CLD_EST_ABOVE);
    assert_int_equal(est.bucket, 21);
    assert_int_equal(est.bucket2, 19);
    assert_true(fabs(est.seconds - (6.002 + 5.0 / 3.0 * 4.0)) < 1e-9);
    /* Below the smallest: the line through the two smallest, down to its
     * fixed cost. */
    assert_true(cld_history_estimate(&m->hist, "j", "", "k", 300, 0,
                                     &est));
    assert_int_equal(est.kind, CLD_EST_BELOW);
    assert_true(fabs(est.seconds - (0.002 + 300e-6)) < 1e-9);
    /* The plan shows the measured sizes in elements of the workload: work
     * over operations per element (4 here). */
    {
        struct cld_workload w = image_job("j", 128, 128, 4,
                                          CLD_WL_DATA_PARALLEL);
        struct cld_target_profile t;

        cld_target_init(&t, CLD_TARGET_HOST, -1, "host", "k");
        decide(m, &w, &t, 1);
        assert_true(m->plan.cand[0].measured);
        assert_string_equal(m->plan.cand[0].basis, "measured: between 250 "
                            "and 250K elements (6 runs)");
    }
}

static void test_placement_history_noisy_line_stays_between(void **state)
{
    struct machine *m = *state;
    struct cld_estimate est;

    /* A noisy large point faster than the small one: the estimate never
     * drops below the faster of the two measured points. */
    add_line(&m->hist, "k", 1000, 0.010);
    add_line(&m->hist, "k", 1000000, 0.008);
    assert_true(cld_history_estimate(&m->hist, "j", "", "k", 500000, 0,
                                     &est));
    assert_true(est.seconds >= 0.008 && est.seconds <= 0.010);
    assert_true(cld_history_work(&(struct cld_workload){
                    .elements = 1000, .ops_per_element = 2.5}) == 2500);
    assert_true(cld_history_work(&(struct cld_workload){
                    .elements = 1000, .ops_per_element = 0}) == 1000);
}

static void test_placement_plan_print(void **state)
{
    struct machine *m = *state;
    struct cld_workload w = matmul_job(2048);
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    w.needs_fp64 = true;
    snprintf(w.params, sizeof w.params, "n=2048");
    decide(m, &w, m->t, N_TARGETS);
    f = open_memstream(&text, &len);
    assert_non_null(f);
    cld_plan_print(f, &m->plan);
    fclose(f);
    assert_non_null(strstr(text, "placement of matmul (n=2048): 4194304 "
                                 "elements x 1, data-parallel\n"));
    assert_non_null(strstr(text, "\n* dgpu "));
    assert_non_null(strstr(text, "\n  igpu "));
    assert_non_null(strstr(text, "excluded: needs fp64, which the device "
                                 "lacks\n"));
    assert_non_null(strstr(text, "prior: 2 threads, 12.0 Gops/s\n"));
    assert_non_null(strstr(text, "chosen: dgpu: lowest predicted time, "));
    free(text);
}

/* The plan of w on the machine, apart from m->plan. */
static void decide_into(struct machine *m, const struct cld_workload *w,
                        struct cld_plan *plan)
{
    cld_plan_init(plan);
    assert_int_equal(cld_placement_decide(w, m->t, N_TARGETS, &m->hist,
                                          plan), CLD_OK);
}

/* Splits offered to a chain's plan (blur then dither as workloads): the
 * cheapest pair of different targets that the parts' plans allow is the
 * split, priced as the sum of their rows, and used when cheaper than the
 * whole chain's choice; the item counts on its longer part's target. A
 * sequential part stays on the host unless a device measured clearly
 * faster. A split point out of range, part plans of other targets, or a
 * costlier later offer change nothing. */
static void test_placement_split_offer(void **state)
{
    struct machine *m = *state;
    struct cld_workload whole = image_job("blur+dither", 4000, 3000, 100,
                                          CLD_WL_DATA_PARALLEL |
                                              CLD_WL_SEQUENTIAL);
    struct cld_workload head = image_job("blur", 4000, 3000, 80,
                                         CLD_WL_DATA_PARALLEL);
    struct cld_workload tail = image_job("dither", 4000, 3000, 20,
                                         CLD_WL_SEQUENTIAL);
    struct cld_plan h, t, dear;
    struct cld_split before;
    const struct cld_split *s = &m->plan.split;

    decide(m, &whole, m->t, N_TARGETS);
    assert_int_equal(m->plan.chosen, HOST);
    assert_int_equal(s->at, 0);
    decide_into(m, &head, &h);
    decide_into(m, &tail, &t);
    assert_true(cld_plan_allows(&h, DGPU));
    assert_true(cld_plan_allows(&t, HOST));
    assert_false(cld_plan_allows(&t, DGPU));
    assert_false(cld_plan_allows(&t, CPUDEV));
    cld_plan_offer_split(&m->plan, 1, 2, &h, &t);
    assert_true(s->used);
    assert_int_equal(s->at, 1);
    assert_int_equal(s->part[0].target, DGPU);
    assert_int_equal(s->part[1].target, HOST);
    assert_string_equal(s->part[0].job, "blur");
    assert_true(s->seconds == h.cand[DGPU].seconds + t.cand[HOST].seconds);
    assert_int_equal(s->whole, HOST);
    assert_true(s->seconds < s->whole_s);
    assert_true(t.cand[HOST].seconds > h.cand[DGPU].seconds);
    assert_int_equal(m->plan.chosen, HOST);
    assert_non_null(strstr(m->plan.reason, "in all; the whole chain at "
                                           "best on host: sequential"));

    /* Nothing changes for a bad split point or mismatched plans. */
    before = *s;
    cld_plan_offer_split(&m->plan, 0, 2, &h, &t);
    cld_plan_offer_split(&m->plan, 2, 2, &h, &t);
    dear = h;
    dear.n = 2;
    cld_plan_offer_split(&m->plan, 1, 2, &dear, &t);
    /* A dearer head: a costlier offer does not replace the split. */
    dear = h;
    for (size_t i = 0; i < dear.n; i++)
        dear.cand[i].seconds *= 10;
    cld_plan_offer_split(&m->plan, 1, 2, &dear, &t);
    assert_memory_equal(&before, s, sizeof before);

    /* dither measured on the CPU device at a tenth of the host's model:
     * that part may go there now, and does, being cheapest. */
    for (int i = 0; i < CLD_HISTORY_MIN_SAMPLES; i++)
        assert_int_equal(cld_history_add(&m->hist, "dither", "",
                                         m->t[CPUDEV].key,
                                         cld_history_work(&tail),
                                         t.cand[HOST].seconds / 10),
                         CLD_OK);
    decide_into(m, &tail, &t);
    assert_true(cld_plan_allows(&t, CPUDEV));
    assert_false(cld_plan_allows(&t, DGPU));
    decide(m, &whole, m->t, N_TARGETS);
    cld_plan_offer_split(&m->plan, 1, 2, &h, &t);
    assert_true(s->used);
    assert_int_equal(s->part[0].target, DGPU);
    assert_int_equal(s->part[1].target, CPUDEV);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, machine_setup, \
                                              machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_placement_large_blur_goes_to_discrete_gpu),
        T(test_placement_batch_scales_time),
        T(test_placement_small_image_stays_on_host),
        T(test_placement_sequential_stays_on_host),
        T(test_placement_matmul_by_size),
        T(test_placement_gray_on_slow_bus_stays_on_cpu),
        T(test_placement_fp64_excludes_device),
        T(test_placement_buffer_over_max_alloc_excluded),
        T(test_placement_global_mem_excludes_device),
        T(test_placement_caller_exclusion_kept),
        T(test_placement_all_excluded),
        T(test_placement_measurements_override_prior),
        T(test_placement_measured_device_beats_sequential_rule),
        T(test_placement_calibrated_rate_used),
        T(test_placement_load_slows_shared_cores),
        T(test_placement_branchy_penalised_on_gpu),
        T(test_placement_history_outliers_rejected),
        T(test_placement_history_scaling_and_limits),
        T(test_placement_history_between_sizes),
        T(test_placement_history_noisy_line_stays_between),
        T(test_placement_plan_print),
        T(test_placement_split_offer),
    };
#undef T
    return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
