/* Job chains without a device: the chain as one workload for placement
 * (sizes from each step's declared output, transfer of the first input
 * and last output, compute summed, one history key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "fixtures.h"
#include "jobs.h"
#include "targets.h"

/* A chain made from (job, sigma or scale) pairs. */
static struct cld_chain *make_chain(const struct cld_job *const *jobs,
                                    int n)
{
    struct cld_chain *c;

    assert_int_equal(cld_chain_create(&c), CLD_OK);
    for (int k = 0; k < n; k++) {
        struct cld_params p;

        cld_params_default(&p, jobs[k]);
        if (jobs[k] == &cld_job_resize)
            assert_int_equal(cld_params_set_real(&p, "scale", 0.5), CLD_OK);
        assert_int_equal(cld_chain_add(c, jobs[k], &p), CLD_OK);
    }
    assert_int_equal(cld_chain_finish(c), CLD_OK);
    return c;
}

static void test_chain_workload(void **state)
{
    static const struct cld_job *const jobs[] = {
        &cld_job_resize, &cld_job_blur, &cld_job_sharpen,
    };
    struct cld_chain *c = make_chain(jobs, 3);
    struct cld_data in, mid;
    struct cld_workload w, s[3];
    struct cld_params p[3];
    double ops = 0;

    (void)state;
    memset(&in, 0, sizeof in);
    in.kind = CLD_DATA_IMAGE;
    in.img.width = 640;
    in.img.height = 480;
    in.img.channels = 3;
    mid = in;
    mid.img.width = 320;
    mid.img.height = 240;
    for (int k = 0; k < 3; k++) {
        p[k] = c->steps[k].params;
        cld_targets_workload(jobs[k], &p[k], k ? &mid : &in, &s[k]);
        ops += s[k].ops_per_element * (double)s[k].elements;
    }
    cld_targets_workload(&c->job, NULL, &in, &w);
    assert_string_equal(w.job, "resize+blur+sharpen");
    assert_string_equal(w.params, "scale=0.5; sigma=2; sigma=2 amount=1");
    /* The bus carries the first input and the last output only. */
    assert_int_equal(w.elements, 640 * 480);
    assert_int_equal(w.bytes_in, 640 * 480 * 3);
    assert_int_equal(w.bytes_out, 320 * 240 * 3);
    assert_int_equal(w.bytes_out, s[2].bytes_out);
    /* Compute: every step's work, per element of the input. */
    assert_true(w.ops_per_element * (double)w.elements > 0.999 * ops &&
                w.ops_per_element * (double)w.elements < 1.001 * ops);
    assert_int_equal(w.kernel_launches, s[0].kernel_launches +
                     s[1].kernel_launches + s[2].kernel_launches);
    assert_true(w.flags & CLD_WL_DATA_PARALLEL);
    cld_chain_destroy(c);
}

static void test_chain_shapes(void **state)
{
    const struct cld_job *const jobs[] = {
        &cld_job_blur, &cld_job_resize, cld_job_find("sobel"),
        &cld_job_sharpen,
    };
    struct cld_chain *c = make_chain(jobs, 4);
    struct cld_image in = {.width = 101, .height = 77, .channels = 3};
    struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
    uint32_t ow, oh;

    (void)state;
    assert_int_equal(cld_resize_output_size(&c->steps[1].params, 101, 77,
                                            &ow, &oh), CLD_OK);
    assert_true(ow < 101 && oh < 77);
    cld_chain_shapes(c, &in, shape);
    assert_int_equal(shape[1].width, 101);
    assert_int_equal(shape[1].channels, 3);
    /* resize's own rule for the size, sobel's traits for gray. */
    assert_int_equal(shape[2].width, ow);
    assert_int_equal(shape[2].height, oh);
    assert_int_equal(shape[2].channels, 3);
    assert_int_equal(shape[3].channels, 1);
    assert_int_equal(shape[4].width, ow);
    assert_int_equal(shape[4].height, oh);
    assert_int_equal(shape[4].channels, 1);
    cld_chain_destroy(c);
}

/* Which chains merge into one device work, by kind of device: a host
 * step (equalize) never; a kernel with a fallback (dither's wave kernel
 * on GPUs) only where the plan picks the kernel without one. */
static void test_chain_merges(void **state)
{
    const struct cld_job *const plain[] = {
        &cld_job_resize, &cld_job_blur, &cld_job_sharpen,
    };
    const struct cld_job *const host_step[] = {
        &cld_job_blur, &cld_job_equalize,
    };
    const struct cld_job *const dither[] = {
        &cld_job_blur, &cld_job_dither,
    };
    struct cld_dev_facts cpu = {.cpu = true}, gpu = {.cpu = false};
    struct cld_chain *c;

    (void)state;
    c = make_chain(plain, 3);
    assert_true(cld_chain_merges(c, &cpu));
    assert_true(cld_chain_merges(c, &gpu));
    assert_true(cld_job_one_work(&c->job, &gpu));
    cld_chain_destroy(c);
    c = make_chain(host_step, 2);
    assert_false(cld_chain_merges(c, &cpu));
    assert_false(cld_chain_merges(c, &gpu));
    assert_false(cld_job_one_work(&c->job, &cpu));
    assert_non_null(strstr(c->why[0], "equalize runs a host step"));
    cld_chain_destroy(c);
    c = make_chain(dither, 2);
    assert_true(cld_chain_merges(c, &cpu));
    assert_false(cld_chain_merges(c, &gpu));
    assert_non_null(strstr(c->why[1], "dither"));
    cld_chain_destroy(c);
    /* A plain job is always one work. */
    assert_true(cld_job_one_work(&cld_job_blur, &gpu));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_workload),
        cmocka_unit_test(test_chain_shapes),
        cmocka_unit_test(test_chain_merges),
    };

    return cmocka_run_group_tests_name("chain", tests, NULL, NULL);
}
