/* The engine as `cldispatch run` drives it (batch.c over launch.c): host
 * workers decode and encode while items' device work is in flight, and a
 * posted continuation finishes each item. Through both PoCL devices, in
 * zero-copy and copy-path modes, a 200-item batch equals the C reference
 * item by item, and its trace (valid JSON) shows every item decoded and
 * encoded exactly once, with host work overlapping device work; the
 * --inflight 1 baseline shows none. A device error on one item fails only
 * that item when the device is forced, and in auto mode the item runs
 * again elsewhere; a device that keeps failing is dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "batch.h"
#include "clw.h"
#include "fixtures.h"
#include "fsutil.h"
#include "image_io.h"
#include "jobs.h"
#include "placement.h"
#include "profile.h"

#define NITEMS 200
#define NBIG 4

/* fsync, wrapped at link time (tests/meson.build): when armed, the
 * fsync_fail_at-th call on a temporary output in fsync_dir fails with
 * EIO, as a disk that fails its writeback would. Called from commit and
 * worker threads: atomics only, no cmocka. */
int __real_fsync(int fd);
int __wrap_fsync(int fd);
static char fsync_dir[4400];
static atomic_uint fsync_calls, fsync_fail_at, fsync_failed;

int __wrap_fsync(int fd)
{
    char link[64], path[4400];
    ssize_t n;

    if (atomic_load(&fsync_fail_at) == 0)
        return __real_fsync(fd);
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return __real_fsync(fd);
    path[n] = '\0';
    if (strncmp(path, fsync_dir, strlen(fsync_dir)) != 0 ||
        n < 4 || strcmp(path + n - 4, ".tmp") != 0 ||
        atomic_fetch_add(&fsync_calls, 1) + 1 != atomic_load(&fsync_fail_at))
        return __real_fsync(fd);
    atomic_fetch_add(&fsync_failed, 1);
    errno = EIO;
    return -1;
}

struct fx {
    char *tmp;
    char *inputs[NITEMS];
    struct cld_image ref[NITEMS];  /* the host reference, per item */
    char *big[NBIG];               /* real images, for auto placement */
    struct cld_image bigref[NBIG];
};

static const char *const bignames[NBIG] = {
    "astronaut.png", "kde_grey_2560x1600.jpg", "dragonfly_by_bolly.jpg",
    "mate_storm.jpg"};

static void host_blur(const struct cld_image *src, struct cld_image *out)
{
    const struct cld_job *job = cld_job_find("blur");
    struct cld_params p;
    struct cld_data in, res;

    cld_params_default(&p, job);
    memset(&in, 0, sizeof in);
    in.kind = CLD_DATA_IMAGE;
    in.img = *src;
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &res), CLD_OK);
    *out = res.img;
}

/* 200 crops of a real photo at different offsets and sizes, as PPM files
 * (lossless, so an output read back is the pixels the job made). */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct cld_image src;
    char path[4200];

    assert_non_null(f);
    f->tmp = cld_test_tmpdir();
    /* A history of this test's own runs only (see check_history). */
    snprintf(path, sizeof path, "%s/cache", f->tmp);
    setenv("XDG_CACHE_HOME", path, 1);
    assert_int_equal(cld_image_load(cld_test_image("astronaut.png"), NULL,
                                    &src),
                     CLD_OK);
    for (int i = 0; i < NITEMS; i++) {
        uint32_t w = 48 + (uint32_t)(i * 7) % 80;
        uint32_t h = 32 + (uint32_t)(i * 13) % 64;
        uint32_t x = (uint32_t)(i * 37) % (src.width - w);
        uint32_t y = (uint32_t)(i * 53) % (src.height - h);
        struct cld_image c;
        struct cld_save_opts so = {.fmt = CLD_FMT_PPM, .overwrite = true};

        cld_test_crop(&src, x, y, w, h, &c);
        snprintf(path, sizeof path, "%s/in/item%03d.ppm", f->tmp, i);
        if (i == 0) {
            char dir[4200];

            snprintf(dir, sizeof dir, "%s/in", f->tmp);
            assert_int_equal(cld_mkdir_p(dir), CLD_OK);
        }
        assert_int_equal(cld_image_save(path, &c, &so), CLD_OK);
        f->inputs[i] = strdup(path);
        host_blur(&c, &f->ref[i]);
        cld_image_free(&c);
    }
    cld_image_free(&src);
    for (int i = 0; i < NBIG; i++) {
        struct cld_image img;

        f->big[i] = strdup(cld_test_image(bignames[i]));
        assert_int_equal(cld_image_load(f->big[i], NULL, &img), CLD_OK);
        host_blur(&img, &f->bigref[i]);
        cld_image_free(&img);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    for (int i = 0; i < NITEMS; i++) {
        free(f->inputs[i]);
        cld_image_free(&f->ref[i]);
    }
    for (int i = 0; i < NBIG; i++) {
        free(f->big[i]);
        cld_image_free(&f->bigref[i]);
    }
    cld_test_rmtree(f->tmp);
    free(f->tmp);
    free(f);
    return 0;
}

struct run {
    const char *device;   /* NULL: auto */
    bool copy;            /* CLDISPATCH_TRANSFER=copy */
    unsigned inflight;
    bool big;             /* the real images instead of the crops */
    const char *outdir;
    struct cld_batch_result res;
    char *err;            /* stderr */
    char trace[4200];
};

static enum cld_status run_batch(struct fx *f, struct run *r)
{
    struct cld_batch_opts o;
    char dir[4200];
    size_t le = 0;
    enum cld_status st;

    if (r->copy)
        setenv("CLDISPATCH_TRANSFER", "copy", 1);
    else
        unsetenv("CLDISPATCH_TRANSFER");
    memset(&o, 0, sizeof o);
    o.job = cld_job_find("blur");
    cld_params_default(&o.params, o.job);
    snprintf(dir, sizeof dir, "%s/%s", f->tmp, r->outdir);
    snprintf(r->trace, sizeof r->trace, "%s/%s.trace.json", f->tmp,
             r->outdir);
    o.outdir = dir;
    o.format = r->big ? CLD_FMT_PNG : CLD_FMT_AUTO;
    o.device = r->device;
    o.threads = r->inflight == 1 ? 0 : 2;
    o.inflight = r->inflight;
    o.trace_path = r->trace;
    o.out = fopen("/dev/null", "w");
    o.err = open_memstream(&r->err, &le);
    assert_non_null(o.out);
    assert_non_null(o.err);
    st = cld_batch_run(&o, r->big ? f->big : f->inputs,
                       r->big ? NBIG : NITEMS, &r->res);
    fclose(o.out);
    fclose(o.err);
    unsetenv("CLDISPATCH_TRANSFER");
    return st;
}

/* Output path of input i of a run. */
static void out_path(struct fx *f, const struct run *r, int i, char *buf,
                     size_t n)
{
    const char *in = r->big ? f->big[i] : f->inputs[i];
    const char *base = strrchr(in, '/') + 1;
    const char *dot = strrchr(base, '.');

    snprintf(buf, n, "%s/%s/%.*s.%s", f->tmp, r->outdir,
             (int)(dot - base), base, r->big ? "png" : dot + 1);
}

/* Every output written equals its reference; returns how many were. */
static unsigned check_outputs(struct fx *f, const struct run *r)
{
    unsigned n = r->big ? NBIG : NITEMS, written = 0;
    char path[4400];

    for (unsigned i = 0; i < n; i++) {
        struct cld_image got;

        out_path(f, r, (int)i, path, sizeof path);
        if (cld_image_load(path, NULL, &got) != CLD_OK)
            continue;
        cld_test_assert_same_image(&got, r->big ? &f->bigref[i]
                                                : &f->ref[i]);
        cld_image_free(&got);
        written++;
    }
    return written;
}

/* What the trace shows. */
struct shown {
    unsigned decode[NITEMS], encode[NITEMS], commit[NITEMS];
    double encode_end[NITEMS], commit_start[NITEMS];
    unsigned host_spans, device_spans, transfers;
    unsigned busy_lanes;         /* lanes with spans, commit lanes aside */
    double lane_busy[64];        /* seconds of spans per lane, by tid */
    unsigned host_over_device;   /* host spans overlapping device spans */
    unsigned transfer_over_kernel; /* transfers during another item's
                                      kernel */
};

struct ev {
    double t0, t1;
    int lane;       /* 0 host, 1 compute, 2 transfer, 3 commit */
    const char *item;
};

static int item_index(const char *item)
{
    int i;

    if (!item || sscanf(item, "item%d.ppm", &i) != 1 || i < 0 ||
        i >= NITEMS)
        return -1;
    return i;
}

static void read_trace(const char *path, struct shown *s)
{
    json_object *root = json_object_from_file(path), *events;
    const char *lanes[64] = {NULL};
    bool used[64] = {false};
    struct ev *ev;
    size_t n, nev = 0;

    memset(s, 0, sizeof *s);
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "traceEvents", &events));
    n = json_object_array_length(events);
    ev = calloc(n, sizeof *ev);
    assert_non_null(ev);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(events, i), *v, *a;
        const char *ph, *name;
        int tid;

        assert_true(json_object_object_get_ex(e, "ph", &v));
        ph = json_object_get_string(v);
        assert_true(json_object_object_get_ex(e, "tid", &v));
        tid = json_object_get_int(v);
        assert_true(tid > 0 && tid < 64);
        assert_true(json_object_object_get_ex(e, "name", &v));
        name = json_object_get_string(v);
        if (strcmp(ph, "M") == 0) {
            if (strcmp(name, "thread_name") == 0) {
                assert_true(json_object_object_get_ex(e, "args", &a));
                assert_true(json_object_object_get_ex(a, "name", &v));
                lanes[tid] = json_object_get_string(v);
            }
            continue;
        }
        assert_string_equal(ph, "X");
        assert_non_null(lanes[tid]);  /* named before use */
        assert_true(json_object_object_get_ex(e, "ts", &v));
        ev[nev].t0 = json_object_get_double(v);
        assert_true(json_object_object_get_ex(e, "dur", &v));
        ev[nev].t1 = ev[nev].t0 + json_object_get_double(v);
        assert_true(ev[nev].t1 >= ev[nev].t0);
        ev[nev].item = NULL;
        if (json_object_object_get_ex(e, "args", &a) &&
            json_object_object_get_ex(a, "item", &v))
            ev[nev].item = json_object_get_string(v);
        if (strncmp(lanes[tid], "host commit", 11) == 0) {
            /* A commit thread's fsync and rename of an item's output. */
            int k = item_index(ev[nev].item);

            ev[nev].lane = 3;
            assert_string_equal(name, "fsync+rename");
            assert_true(k >= 0);
            s->commit[k]++;
            s->commit_start[k] = ev[nev].t0;
            nev++;
            continue;
        }
        if (!used[tid]) {
            used[tid] = true;
            s->busy_lanes++;
        }
        s->lane_busy[tid] += (ev[nev].t1 - ev[nev].t0) * 1e-6;
        if (strncmp(lanes[tid], "host worker", 11) == 0) {
            int k = item_index(ev[nev].item);

            ev[nev].lane = 0;
            s->host_spans++;
            if (k >= 0 && strcmp(name, "decode") == 0)
                s->decode[k]++;
            if (k >= 0 && strcmp(name, "encode") == 0) {
                s->encode[k]++;
                s->encode_end[k] = ev[nev].t1;
            }
        } else if (strstr(lanes[tid], ": compute") &&
                   strcmp(name, "map") != 0) {
            ev[nev].lane = 1;
            s->device_spans++;
        } else {
            ev[nev].lane = 2;
            s->transfers++;
        }
        nev++;
    }
    for (size_t i = 0; i < nev; i++) {
        bool hd = false, tk = false;

        for (size_t j = 0; j < nev && ev[i].lane != 1 && ev[i].lane != 3;
             j++) {
            bool over = ev[i].t0 < ev[j].t1 && ev[j].t0 < ev[i].t1;

            if (!over || ev[j].lane != 1)
                continue;
            hd = hd || ev[i].lane == 0;
            tk = tk || (ev[i].lane == 2 && ev[i].item && ev[j].item &&
                        strcmp(ev[i].item, ev[j].item) != 0);
        }
        s->host_over_device += hd;
        s->transfer_over_kernel += tk;
    }
    free(ev);
    json_object_put(root);
}

/* A whole batch on one device: outputs equal the reference, each item
 * decoded and encoded once, host work overlapping device work. */
static void whole_batch(struct fx *f, const char *device, bool copy,
                        const char *outdir)
{
    struct run r = {.device = device, .copy = copy, .outdir = outdir};
    struct shown *s = calloc(1, sizeof *s);

    assert_non_null(s);
    assert_int_equal(run_batch(f, &r), CLD_OK);
    if (r.res.failed)
        print_error("stderr:\n%s", r.err);
    assert_int_equal(r.res.done, NITEMS);
    assert_int_equal(r.res.failed, 0);
    assert_int_equal(check_outputs(f, &r), NITEMS);
    read_trace(r.trace, s);
    for (int i = 0; i < NITEMS; i++) {
        assert_int_equal(s->decode[i], 1);
        assert_int_equal(s->encode[i], 1);
        /* Its fsync and rename on a commit thread, after the encode. */
        assert_int_equal(s->commit[i], 1);
        assert_true(s->commit_start[i] >= s->encode_end[i]);
    }
    /* The summary's lanes are the workers' and the device's: the commit
     * threads, which wait on the disk, are not among them. */
    assert_int_equal(r.res.lanes, s->busy_lanes);
    {
        /* The busiest lane the summary reports is the trace's. */
        double most = 0;

        for (int i = 0; i < 64; i++)
            most = s->lane_busy[i] > most ? s->lane_busy[i] : most;
        assert_true(most > 0);
        assert_true(fabs(r.res.busiest_s - most) < 1e-3);
    }
    /* Each item's kernel is on the device's compute lane. */
    assert_true(s->device_spans >= NITEMS);
    printf("  %s%s: %u host spans, %u kernels, %u transfers; %u host spans "
           "during a kernel, %u transfers during another item's kernel\n",
           device, copy ? " (copy path)" : "", s->host_spans,
           s->device_spans, s->transfers, s->host_over_device,
           s->transfer_over_kernel);
    assert_true(s->host_over_device > 0);
    if (copy) {
        /* Every item's upload and readback are on the timeline, and on
         * the multi-threaded device some run during other items'
         * kernels (about 30 of 400 here; the single-threaded `basic`
         * device runs one command at a time). */
        assert_true(s->transfers >= 2 * NITEMS);
        if (strcmp(device, cld_test_device(0)) == 0)
            assert_true(s->transfer_over_kernel > 0);
    }
    free(r.err);
    free(s);
}

/* What the batches recorded in the run history is a device time per
 * item: well under a second for these items (a completion time taken
 * for a duration once gave hours). */
static void check_history(void)
{
    struct cld_history h;
    size_t dev = 0;

    cld_test_saved_history(&h);
    for (size_t i = 0; i < h.n; i++) {
        const struct cld_history_entry *e = &h.entries[i];

        if (strcmp(e->job, "blur") != 0 || strncmp(e->key, "host", 4) == 0)
            continue;
        for (size_t k = 0; k < e->n; k++) {
            double sec = e->samples[k].seconds;

            dev++;
            if (!(sec > 0 && sec < 1.0)) {
                print_error("%s on %s: %g s recorded\n", e->job, e->key,
                            sec);
                fail();
            }
        }
    }
    assert_true(dev > 0);
    cld_history_clear(&h);
}

static void test_engine_zero_copy(void **state)
{
    struct fx *f = *state;

    char out[32];

    for (int k = 0; cld_test_device(k); k++) {
        snprintf(out, sizeof out, "zc-%d", k);
        whole_batch(f, cld_test_device(k), false, out);
    }
    check_history();
}

static void test_engine_copy_path(void **state)
{
    struct fx *f = *state;

    char out[32];

    for (int k = 0; cld_test_device(k); k++) {
        snprintf(out, sizeof out, "cp-%d", k);
        whole_batch(f, cld_test_device(k), true, out);
    }
}

/* --inflight 1 is the plain loop: no host work while a kernel runs. */
static void test_engine_inflight_one_is_sequential(void **state)
{
    struct fx *f = *state;
    struct run r = {.device = cld_test_device(0), .inflight = 1,
                    .outdir = "seq"};
    struct shown *s = calloc(1, sizeof *s);

    assert_non_null(s);
    assert_int_equal(run_batch(f, &r), CLD_OK);
    assert_int_equal(r.res.done, NITEMS);
    assert_int_equal(check_outputs(f, &r), NITEMS);
    read_trace(r.trace, s);
    assert_true(s->device_spans >= NITEMS);
    assert_int_equal(s->host_over_device, 0);
    /* The plain loop saves each output whole, fsync included, on its one
     * worker. */
    for (int i = 0; i < NITEMS; i++)
        assert_int_equal(s->commit[i], 0);
    free(r.err);
    free(s);
}

/* A forced device failing item k's work: that item alone fails, named,
 * and nothing partial is left. */
static void test_engine_device_error_forced(void **state)
{
    struct fx *f = *state;
    struct run r = {.device = cld_test_device(0), .copy = true,
                    .outdir = "forced-fault"};
    char dir[4200];

    cld_clw_fault_set("command", 17, CL_OUT_OF_RESOURCES);
    assert_int_equal(run_batch(f, &r), CLD_OK);
    cld_clw_fault_clear();
    assert_int_equal(r.res.failed, 1);
    assert_int_equal(r.res.done, NITEMS - 1);
    assert_int_equal(r.res.retried, 0);
    assert_non_null(strstr(r.err, "CL_OUT_OF_RESOURCES"));
    assert_int_equal(check_outputs(f, &r), NITEMS - 1);
    snprintf(dir, sizeof dir, "%s/forced-fault", f->tmp);
    assert_int_equal(cld_test_count_entries(dir), NITEMS - 1);
    free(r.err);
}

/* In auto mode the item whose device failed runs again on the next best
 * target: every item done, equal to the reference, and the summary
 * counts the retry. */
static void test_engine_device_error_auto_retries(void **state)
{
    struct fx *f = *state;
    struct run r = {.big = true, .outdir = "auto-fault"};

    cld_clw_fault_set("command", 1, CL_OUT_OF_RESOURCES);
    assert_int_equal(run_batch(f, &r), CLD_OK);
    /* Placement sent at least one item to a device (else this test
     * proves nothing): the fault fired. */
    assert_true(cld_clw_fault_seen() >= 1);
    cld_clw_fault_clear();
    if (r.res.failed)
        print_error("stderr:\n%s", r.err);
    assert_int_equal(r.res.done, NBIG);
    assert_int_equal(r.res.retried, 1);
    assert_int_equal(r.res.dropped, 0);
    assert_non_null(strstr(r.err, "done again on another target"));
    assert_int_equal(check_outputs(f, &r), NBIG);
    free(r.err);
}

/* A device that fails every item is dropped after two; every item still
 * ends on a target that works. */
static void test_engine_failing_device_dropped(void **state)
{
    struct fx *f = *state;
    struct run r = {.big = true, .outdir = "auto-drop"};

    cld_clw_fault_set("command", 0, CL_DEVICE_NOT_AVAILABLE);
    assert_int_equal(run_batch(f, &r), CLD_OK);
    cld_clw_fault_clear();
    if (r.res.failed)
        print_error("stderr:\n%s", r.err);
    assert_int_equal(r.res.done, NBIG);
    assert_true(r.res.retried >= 1);
    assert_true(r.res.dropped >= 1);
    assert_non_null(strstr(r.err, "not used for the rest of the batch"));
    assert_int_equal(check_outputs(f, &r), NBIG);
    free(r.err);
}

/* The disk fails one output's fsync: that item alone fails, named with
 * the cause, its file is neither in place nor left as a temporary one,
 * and every other item is done. Pipelined the fsync runs on a commit
 * thread; in the plain loop on the worker. */
static void commit_fault(struct fx *f, struct run *r)
{
    char dir[4200], path[4400];
    int missing = -1;

    snprintf(dir, sizeof dir, "%s/%s", f->tmp, r->outdir);
    snprintf(fsync_dir, sizeof fsync_dir, "%s/", dir);
    atomic_store(&fsync_calls, 0);
    atomic_store(&fsync_failed, 0);
    atomic_store(&fsync_fail_at, 37);
    assert_int_equal(run_batch(f, r), CLD_OK);
    atomic_store(&fsync_fail_at, 0);
    assert_int_equal(atomic_load(&fsync_failed), 1);
    assert_int_equal(r->res.failed, 1);
    assert_int_equal(r->res.done, NITEMS - 1);
    assert_non_null(strstr(r->err, "fsync failed: Input/output error"));
    assert_int_equal(check_outputs(f, r), NITEMS - 1);
    /* No temporary file left: one entry per output done. */
    assert_int_equal(cld_test_count_entries(dir), NITEMS - 1);
    for (int i = 0; i < NITEMS; i++) {
        out_path(f, r, i, path, sizeof path);
        if (access(path, F_OK) != 0) {
            assert_int_equal(missing, -1);
            missing = i;
        }
    }
    /* The error line names the output that failed. */
    assert_true(missing >= 0);
    out_path(f, r, missing, path, sizeof path);
    assert_non_null(strstr(r->err, path));
    free(r->err);
}

static void test_engine_commit_fault_pipelined(void **state)
{
    struct run r = {.device = cld_test_device(0), .outdir = "commit-fault"};

    commit_fault(*state, &r);
}

static void test_engine_commit_fault_sequential(void **state)
{
    struct run r = {.device = cld_test_device(0), .inflight = 1,
                    .outdir = "commit-fault-seq"};

    commit_fault(*state, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_zero_copy),
        cmocka_unit_test(test_engine_copy_path),
        cmocka_unit_test(test_engine_inflight_one_is_sequential),
        cmocka_unit_test(test_engine_device_error_forced),
        cmocka_unit_test(test_engine_device_error_auto_retries),
        cmocka_unit_test(test_engine_failing_device_dropped),
        cmocka_unit_test(test_engine_commit_fault_pipelined),
        cmocka_unit_test(test_engine_commit_fault_sequential),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("test_engine_pocl");
    return cmocka_run_group_tests(tests, setup, teardown);
}
