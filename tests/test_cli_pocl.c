/* The cldispatch program end to end: help and version, exit codes for
 * usage errors and missing devices, a batch that mixes good and malformed
 * files, name collisions, overwrite rules, an injected device failure
 * mid-batch, and outputs equal to the C reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"
#include "fixtures.h"
#include "fsutil.h"
#include "image_io.h"
#include "jobs.h"

static char output[65536];

/* Run `cldispatch ARGS` (a shell fragment) with stdout and stderr
 * captured into output; returns the exit code. */
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    const char *bin = getenv("CLDISPATCH_BIN");
    va_list ap;
    FILE *p;
    size_t n;
    int st;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin ? bin : "./cldispatch",
             args);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(output, 1, sizeof output - 1, p);
    output[n] = '\0';
    st = pclose(p);
    if (getenv("CLD_TEST_VERBOSE"))
        fprintf(stderr, "$ %s\n%s", cmd, output);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static bool exists(const char *dir, const char *name)
{
    char path[8400];
    struct stat sb;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static int count_lines_with(const char *needle)
{
    int n = 0;

    for (const char *p = output; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_cli_help_version_and_usage(void **state)
{
    (void)state;
    assert_int_equal(run("--version"), 0);
    assert_non_null(strstr(output, "cldispatch 0."));
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(output, "Exit codes"));
    assert_int_equal(run("run --help"), 0);
    assert_non_null(strstr(output, "--device"));
    assert_int_equal(run("--jobs"), 0);
    assert_non_null(strstr(output, "grayscale"));
    assert_non_null(strstr(output, "data-parallel image"));
    assert_int_equal(run(""), 2);
    assert_int_equal(run("--bogus"), 2);
    assert_int_equal(run("--json"), 2);
    assert_int_equal(run("run nosuchjob x.png -o /tmp"), 2);
    assert_non_null(strstr(output, "unknown job"));
    assert_int_equal(run("run grayscale %s", cld_test_image("camera.png")),
                     2);
    assert_non_null(strstr(output, "-o"));
    assert_int_equal(run("run grayscale --sigma 2 x.png -o /tmp"), 2);
    assert_non_null(strstr(output, "not an option of grayscale"));
    /* Job options come from the job's declaration: its ranges, its
     * help. */
    assert_int_equal(run("run blur --sigma 500 x.png -o /tmp"), 2);
    assert_non_null(strstr(output, "--sigma '500' is out of range "
                                   "(0.01..100)"));
    assert_int_equal(run("run dither --levels two x.png -o /tmp"), 2);
    assert_non_null(strstr(output, "--levels 'two' is not a whole number"));
    assert_int_equal(run("run resize --scale 0.5 --size 4x4 x.png -o /tmp"),
                     2);
    assert_non_null(strstr(output, "exactly one"));
    assert_int_equal(run("run sharpen --help"), 0);
    assert_non_null(strstr(output, "Options of sharpen:"));
    assert_non_null(strstr(output, "--amount A"));
    assert_non_null(strstr(output, "(0..100, default 1)"));
    assert_int_equal(run("run grayscale --device nonsense x.png -o /tmp"),
                     2);
    assert_int_equal(run("run grayscale --quality 101 x.png -o /tmp"), 2);
    assert_int_equal(run("run grayscale --format gif x.png -o /tmp"), 2);
    assert_int_equal(run("run grayscale --threads x x.png -o /tmp"), 2);
    assert_int_equal(run("run grayscale --inflight 0 x.png -o /tmp"), 2);
    assert_non_null(strstr(output, "bad --inflight '0' (1..64)"));
    assert_int_equal(run("run grayscale --inflight 65 x.png -o /tmp"), 2);
}

/* --inflight 1 (one item on the device at a time, zero-copy) and
 * --inflight 2 on the copy path (CLDISPATCH_TRANSFER=copy) with three
 * threads write the same bytes. */
static void test_cli_inflight_and_copy_path(void **state)
{
    static const char *const names[] = {"camera.png", "chelsea.png",
                                        "rocket.jpg"};
    char *tmp = cld_test_tmpdir();
    char a[4200], b[4200];

    (void)state;
    assert_int_equal(run("run blur --sigma 2 --device 0 --inflight 1 %s %s "
                         "%s -o %s/one", cld_test_image(names[0]),
                         cld_test_image(names[1]), cld_test_image(names[2]),
                         tmp), 0);
    assert_non_null(strstr(output, "3 done, 0 failed"));
    setenv("CLDISPATCH_TRANSFER", "copy", 1);
    assert_int_equal(run("run blur --sigma 2 --device 0 --inflight 2 "
                         "--threads 3 %s %s %s -o %s/copy",
                         cld_test_image(names[0]), cld_test_image(names[1]),
                         cld_test_image(names[2]), tmp), 0);
    unsetenv("CLDISPATCH_TRANSFER");
    assert_non_null(strstr(output, "3 done, 0 failed"));
    for (size_t i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/one/%s", tmp, names[i]);
        snprintf(b, sizeof b, "%s/copy/%s", tmp, names[i]);
        cld_test_assert_files_equal(a, b);
    }
    cld_test_rmtree(tmp);
    free(tmp);
}

static void test_cli_devices_report(void **state)
{
    (void)state;
    assert_int_equal(run("--devices"), 0);
    assert_non_null(strstr(output, "[0] pocl:"));
    assert_non_null(strstr(output, "[1] pocl:"));
    assert_int_equal(run("--devices --json | python3 -c "
                         "'import json,sys; d=json.load(sys.stdin); "
                         "assert d[\"device_count\"] >= 2'"), 0);
    /* A crashing platform probe is reported; no device left: exit 3. */
    assert_int_equal(run("--devices >/dev/null; CLDISPATCH_TEST_CRASH_"
                         "PLATFORM=0 %s --devices", getenv("CLDISPATCH_BIN")),
                     3);
    assert_non_null(strstr(output, "probe crashed"));
    /* No ICD at all. */
    assert_int_equal(run("--devices >/dev/null; OCL_ICD_VENDORS=/nonexistent "
                         "%s --devices", getenv("CLDISPATCH_BIN")), 3);
    assert_non_null(strstr(output, "no OpenCL platform found"));
    assert_int_equal(run("run grayscale --device 7 %s -o /tmp/cld-none",
                         cld_test_image("camera.png")), 3);
    assert_non_null(strstr(output, "device 7 does not exist"));
}

static void check_gray_output(const char *dir, const char *name,
                              const char *src)
{
    char path[4096];
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, ref;
    struct cld_image got;
    struct cld_params p;
    int maxdiff;
    double psnr;

    cld_params_default(&p, cld_job_find("grayscale"));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(cld_image_load(src, NULL, &in.img), CLD_OK);
    assert_int_equal(cld_job_run(cld_job_find("grayscale"), NULL, &p, &in,
                                 &ref), CLD_OK);
    assert_int_equal(cld_image_load(path, NULL, &got), CLD_OK);
    assert_true(cld_test_image_diff(&ref.img, &got, &maxdiff, &psnr));
    assert_int_equal(maxdiff, 0);
    cld_image_free(&got);
    cld_data_free(&ref);
    cld_data_free(&in);
}

static void test_cli_batch_with_bad_files(void **state)
{
    static const char *const devs[] = {"host", "0", "1", "POCL:basic"};
    char *tmp = cld_test_tmpdir();

    (void)state;
    assert_non_null(tmp);
    for (size_t d = 0; d < sizeof devs / sizeof devs[0]; d++) {
        char out[4200];

        snprintf(out, sizeof out, "%s/out%zu", tmp, d);
        assert_int_equal(run("run grayscale --device %s %s %s %s/bad -o %s",
                             devs[d], cld_test_image("camera.png"),
                             cld_test_image("chelsea.png"),
                             cld_test_images_dir(), out), 1);
        /* One line per bad file, naming it. */
        assert_int_equal(count_lines_with("cldispatch: "), 5);
        assert_non_null(strstr(output, "empty.png: "));
        assert_non_null(strstr(output, "truncated_rocket.jpg: "));
        assert_non_null(strstr(output, "huge_dims_100000x100000.ppm: "));
        assert_non_null(strstr(output, "text_not_image.png: "));
        assert_non_null(strstr(output, "truncated_camera.png: "));
        assert_non_null(strstr(output, "2 done, 5 failed"));
        /* Good outputs exactly equal the reference; nothing else left. */
        check_gray_output(out, "camera.png", cld_test_image("camera.png"));
        check_gray_output(out, "chelsea.png", cld_test_image("chelsea.png"));
        assert_int_equal(cld_test_count_entries(out), 2);
    }
    cld_test_rmtree(tmp);
    free(tmp);
}

static void test_cli_collisions_and_overwrite(void **state)
{
    char *tmp = cld_test_tmpdir();
    char out[4200], path[4300];
    struct stat sb;
    FILE *f;

    (void)state;
    snprintf(out, sizeof out, "%s/out", tmp);
    /* astronaut.png and astronaut.ppm both become astronaut.png. */
    assert_int_equal(run("run grayscale --device host --format png %s %s "
                         "-o %s", cld_test_image("astronaut.png"),
                         cld_test_image("astronaut.ppm"), out), 2);
    assert_non_null(strstr(output, "would both write"));
    assert_int_equal(cld_test_count_entries(out), -1); /* nothing made */

    assert_int_equal(run("run grayscale --device host %s -o %s",
                         cld_test_image("camera.png"), out), 0);
    snprintf(path, sizeof path, "%s/camera.png", out);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("keep me", f);
    fclose(f);
    assert_int_equal(run("run grayscale --device host %s -o %s",
                         cld_test_image("camera.png"), out), 1);
    assert_non_null(strstr(output, "--overwrite"));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 7);
    assert_int_equal(run("run grayscale --device host --overwrite %s -o %s",
                         cld_test_image("camera.png"), out), 0);
    check_gray_output(out, "camera.png", cld_test_image("camera.png"));
    /* --format converts; the environment selects the device. */
    assert_int_equal(run("run grayscale --format jpg %s -o %s && "
                         "CLDISPATCH_DEVICE=1 %s run grayscale --format pgm "
                         "%s -o %s", cld_test_image("rocket.jpg"), out,
                         getenv("CLDISPATCH_BIN"),
                         cld_test_image("rocket.jpg"), out), 0);
    assert_true(exists(out, "rocket.jpg"));
    assert_true(exists(out, "rocket.pgm"));
    assert_int_equal(cld_test_count_entries(out), 3);
    cld_test_rmtree(tmp);
    free(tmp);
}

static void test_cli_device_failure_mid_batch(void **state)
{
    char *tmp = cld_test_tmpdir();

    (void)state;
    /* The second kernel launch fails: that item is reported by name with
     * the OpenCL error by name, the others complete. */
    setenv("CLDISPATCH_FAULT", "clEnqueueNDRangeKernel:2:CL_OUT_OF_RESOURCES",
           1);
    assert_int_equal(run("run grayscale --device 0 --threads 1 %s %s %s -o "
                         "%s/out", cld_test_image("camera.png"),
                         cld_test_image("chelsea.png"),
                         cld_test_image("rocket.jpg"), tmp), 1);
    unsetenv("CLDISPATCH_FAULT");
    assert_non_null(strstr(output, "CL_OUT_OF_RESOURCES"));
    assert_non_null(strstr(output, "chelsea.png"));
    assert_non_null(strstr(output, "2 done, 1 failed"));
    {
        char out[4200];

        snprintf(out, sizeof out, "%s/out", tmp);
        assert_int_equal(cld_test_count_entries(out), 2);
        assert_false(exists(out, "chelsea.png"));
    }
    cld_test_rmtree(tmp);
    free(tmp);
}

/* A kernel that does not compile, on a forced device: each item fails
 * naming its file, with the device's build log; nothing is written. */
static void test_cli_kernel_build_failure(void **state)
{
    char *tmp = cld_test_tmpdir();
    char out[4200], cmd[16384];

    (void)state;
    snprintf(cmd, sizeof cmd, "mkdir %s/k && cp %s/../cl/*.cl %s/k/ && "
             "echo 'not OpenCL C;' >> %s/k/pointwise.cl", tmp,
             getenv("CLDISPATCH_SAMPLES"), tmp, tmp);
    assert_int_equal(system(cmd), 0);
    snprintf(out, sizeof out, "%s/k", tmp);
    setenv("CLDISPATCH_KERNEL_DIR", out, 1);
    snprintf(out, sizeof out, "%s/out", tmp);
    assert_int_equal(run("run grayscale --device 0 %s %s -o %s",
                         cld_test_image("camera.png"),
                         cld_test_image("rocket.jpg"), out), 1);
    unsetenv("CLDISPATCH_KERNEL_DIR");
    assert_int_equal(count_lines_with("build log:"), 2);
    assert_non_null(strstr(output, "camera.png: "));
    assert_non_null(strstr(output, "rocket.jpg: "));
    assert_non_null(strstr(output, "0 done, 2 failed"));
    assert_true(cld_test_count_entries(out) <= 0);
    cld_test_rmtree(tmp);
    free(tmp);
}

/* A pipelined batch sets its targets up on a thread of its own while the
 * first items decode. When that fails (no device matches the selector,
 * or every device is dropped), the batch fails with that one error: no
 * line per item, nothing written, the exit code of a device error (3);
 * the items decoded meanwhile are dropped quietly. */
static void test_cli_background_setup_failure(void **state)
{
    char *tmp = cld_test_tmpdir();
    char out[4200];
    const char *imgs[] = {"camera.png", "chelsea.png", "astronaut.png",
                          "clock_motion.png", "rocket.jpg", "mate_storm.jpg"};
    char list[4096] = "";

    (void)state;
    assert_non_null(tmp);
    for (size_t i = 0; i < sizeof imgs / sizeof imgs[0]; i++) {
        size_t n = strlen(list);

        snprintf(list + n, sizeof list - n, " %s", cld_test_image(imgs[i]));
    }
    snprintf(out, sizeof out, "%s/gpu", tmp);
    assert_int_equal(run("run blur -j 2 --device gpu%s -o %s", list, out),
                     3);
    assert_int_equal(count_lines_with("cldispatch:"), 1);
    assert_non_null(strstr(output, "cldispatch: no device matches 'gpu'"));
    assert_true(cld_test_count_entries(out) <= 0);
    /* Every device dropped by discovery, a device forced. */
    setenv("CLDISPATCH_FAULT", "clGetDeviceInfo:0:CL_OUT_OF_HOST_MEMORY", 1);
    snprintf(out, sizeof out, "%s/cpu", tmp);
    assert_int_equal(run("run blur -j 2 --device cpu%s -o %s", list, out),
                     3);
    unsetenv("CLDISPATCH_FAULT");
    assert_int_equal(count_lines_with("cldispatch: warning: OpenCL "
                                      "platform 0"), 1);
    assert_int_equal(count_lines_with("cldispatch: no device matches "
                                      "'cpu'"), 1);
    assert_int_equal(count_lines_with("cldispatch:"), 2);
    assert_true(cld_test_count_entries(out) <= 0);
    cld_test_rmtree(tmp);
    free(tmp);
}

/* A platform or device that discovery drops is named once on stderr with
 * the failing call, in `run` as in `--devices`, instead of vanishing. */
static void test_cli_dropped_devices_warned(void **state)
{
    char *tmp = cld_test_tmpdir();

    (void)state;
    assert_non_null(tmp);
    /* Every device query fails: both PoCL devices are dropped. */
    setenv("CLDISPATCH_FAULT", "clGetDeviceInfo:0:CL_OUT_OF_HOST_MEMORY", 1);
    assert_int_equal(run("--devices"), 3);
    assert_int_equal(count_lines_with("cldispatch: warning: OpenCL "
                                      "platform 0"), 1);
    assert_non_null(strstr(output, "device 0 dropped: clGetDeviceInfo("));
    assert_non_null(strstr(output, "device 1 dropped: "));
    assert_non_null(strstr(output, "CL_OUT_OF_HOST_MEMORY"));
    assert_int_equal(run("run grayscale --device cpu %s -o %s/a",
                         cld_test_image("camera.png"), tmp), 3);
    assert_int_equal(count_lines_with("cldispatch: warning: OpenCL "
                                      "platform 0"), 1);
    assert_non_null(strstr(output, "no device matches 'cpu'"));
    /* The platform's device list itself fails: auto says so, runs on the
     * host and still writes the item. */
    setenv("CLDISPATCH_FAULT", "clGetDeviceIDs:1:CL_OUT_OF_RESOURCES", 1);
    assert_int_equal(run("run grayscale %s -o %s/b",
                         cld_test_image("camera.png"), tmp), 0);
    unsetenv("CLDISPATCH_FAULT");
    assert_int_equal(count_lines_with("cldispatch: warning: OpenCL "
                                      "platform 0"), 1);
    assert_non_null(strstr(output, ") dropped: clGetDeviceIDs: "
                                   "CL_OUT_OF_RESOURCES"));
    assert_non_null(strstr(output, "1 done, 0 failed"));
    cld_test_rmtree(tmp);
    free(tmp);
}

/* A libjpeg warning on a file that still decodes is one warning line that
 * names the file; the item is written. */
static void test_cli_codec_warning_names_file(void **state)
{
    char *tmp = cld_test_tmpdir();
    char path[4200];

    (void)state;
    assert_non_null(tmp);
    snprintf(path, sizeof path, "%s/stray.jpg", tmp);
    cld_test_write_jpeg_with_stray_bytes("rocket.jpg", 2, path);
    assert_int_equal(run("run grayscale --device host %s %s -o %s/out", path,
                         cld_test_image("camera.png"), tmp), 0);
    assert_int_equal(count_lines_with("cldispatch: "), 1);
    assert_non_null(strstr(output, "cldispatch: warning: "));
    assert_non_null(strstr(output, "stray.jpg: libjpeg: Corrupt JPEG data: "
                                   "2 extraneous bytes before marker 0xda"));
    assert_non_null(strstr(output, "2 done, 0 failed"));
    cld_test_rmtree(tmp);
    free(tmp);
}

/* Size of an image file, by loading it (fails the test otherwise). */
static void image_size(const char *dir, const char *name, uint32_t *w,
                       uint32_t *h)
{
    char path[8400];
    struct cld_image img;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(cld_image_load(path, NULL, &img), CLD_OK);
    *w = img.width;
    *h = img.height;
    cld_image_free(&img);
}

static long file_bytes(const char *dir, const char *name)
{
    char path[8400];
    struct stat sb;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(stat(path, &sb), 0);
    return (long)sb.st_size;
}

/* The codec options from the command line: PNG levels, EXIF orientation
 * (applied by default, kept on request) and shrink-on-load (of resize, and
 * of a chain that starts with it), which the summary line and --explain
 * report. */
static void test_cli_codec_options(void **state)
{
    char *tmp = cld_test_tmpdir();
    const char *six = cld_test_image("orientation/6.jpg");
    uint32_t w, h;

    (void)state;
    assert_non_null(tmp);
    assert_int_equal(run("run blur --png-compression 10 x.png -o %s", tmp),
                     2);
    assert_int_equal(run("run blur --png-filter best x.png -o %s", tmp), 2);
    assert_int_equal(run("run blur --device host --png-compression 0 %s "
                         "-o %s/l0", cld_test_image("chelsea.png"), tmp), 0);
    assert_int_equal(run("run blur --device host --png-filter sub %s "
                         "-o %s/l1", cld_test_image("chelsea.png"), tmp), 0);
    assert_true(file_bytes(tmp, "l1/chelsea.png") * 2 <
                file_bytes(tmp, "l0/chelsea.png"));

    /* Stored 48x64 with orientation 6: upright 64x48; a quarter is 16x12,
     * decoded at 1/4 scale. */
    assert_int_equal(run("run resize --device host --scale 0.25 --explain "
                         "%s -o %s/up", six, tmp), 0);
    assert_non_null(strstr(output, "1 done, 0 failed (1 JPEG decoded at "
                                   "reduced size: shrink-on-load)"));
    assert_non_null(strstr(output, "shrink-on-load: 1 JPEG item decoded "
                                   "at 1/4 scale"));
    image_size(tmp, "up/6.jpg", &w, &h);
    assert_int_equal(w, 16);
    assert_int_equal(h, 12);
    assert_int_equal(run("run resize --device host --scale 0.25 "
                         "--keep-orientation %s -o %s/kept", six, tmp), 0);
    image_size(tmp, "kept/6.jpg", &w, &h);
    assert_int_equal(w, 12);
    assert_int_equal(h, 16);
    assert_int_equal(run("run resize --device host --scale 0.25 "
                         "--no-shrink-on-load %s -o %s/full", six, tmp), 0);
    assert_null(strstr(output, "shrink-on-load"));
    image_size(tmp, "full/6.jpg", &w, &h);
    assert_int_equal(w, 16);
    assert_int_equal(h, 12);
    /* A chain that starts with resize shrinks on load too, and says so;
     * not with the option. */
    assert_int_equal(run("run resize --scale 0.25 %s then blur --device "
                         "host --explain -o %s/chain", six, tmp), 0);
    assert_non_null(strstr(output, "1 done, 0 failed (1 JPEG decoded at "
                                   "reduced size: shrink-on-load)"));
    assert_non_null(strstr(output, "shrink-on-load: 1 JPEG item decoded "
                                   "at 1/4 scale"));
    image_size(tmp, "chain/6.jpg", &w, &h);
    assert_int_equal(w, 16);
    assert_int_equal(h, 12);
    assert_int_equal(run("run resize --scale 0.25 %s then blur --device "
                         "host --explain --no-shrink-on-load -o "
                         "%s/chainfull", six, tmp), 0);
    assert_null(strstr(output, "shrink-on-load"));
    image_size(tmp, "chainfull/6.jpg", &w, &h);
    assert_int_equal(w, 16);
    assert_int_equal(h, 12);
    cld_test_rmtree(tmp);
    free(tmp);
}

/* --progress draws its line, --trace writes a Chrome trace that json-c
 * reads with the lanes and spans of the run, and the summary line says
 * what the run did; a chain runs from the command line. */
static void test_cli_progress_trace_summary(void **state)
{
    char *tmp = cld_test_tmpdir();
    char trace[4200];
    json_object *root, *events;
    size_t nx = 0, nm = 0;

    (void)state;
    snprintf(trace, sizeof trace, "%s/run.trace.json", tmp);
    assert_int_equal(run("run resize --scale 0.5 then blur --sigma 2 "
                         "--device 0 --progress --trace %s %s %s -o %s/out",
                         trace, cld_test_image("camera.png"),
                         cld_test_image("chelsea.png"), tmp), 0);
    assert_non_null(strstr(output, "2/2 items, "));
    assert_non_null(strstr(output, "items/s"));
    assert_non_null(strstr(output, "2 done, 0 failed in "));
    assert_non_null(strstr(output, "MPix/s; "));
    assert_non_null(strstr(output, "100%; overlap efficiency "));
    {
        /* The process's CPU use over the batch's wall time, out of the
         * cores it may run on. */
        const char *cpu = strstr(output, "; CPU ");
        double used = -1;
        unsigned cores = 0;

        assert_non_null(cpu);
        assert_int_equal(sscanf(cpu, "; CPU %lf of %u cores", &used,
                                &cores), 2);
        assert_int_equal(cores, cld_usable_cores());
        assert_true(used > 0 && used <= cores + 0.5);
    }
    root = json_object_from_file(trace);
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "traceEvents", &events));
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        json_object *e = json_object_array_get_idx(events, i), *ph;

        assert_true(json_object_object_get_ex(e, "ph", &ph));
        nx += strcmp(json_object_get_string(ph), "X") == 0;
        nm += strcmp(json_object_get_string(ph), "M") == 0;
    }
    /* Two items decoded and encoded, and their merged chain's kernels. */
    assert_true(nx >= 2 * 2 + 2);
    assert_true(nm >= 2 * 2);  /* a name and an order per lane */
    json_object_put(root);
    /* An unwritable trace path is a warning; the items are still done. */
    assert_int_equal(run("run blur --device host --trace %s/no/such/t.json "
                         "%s -o %s/out2", tmp, cld_test_image("camera.png"),
                         tmp), 0);
    assert_non_null(strstr(output, "warning: trace not written"));
    assert_non_null(strstr(output, "1 done, 0 failed"));
    cld_test_rmtree(tmp);
    free(tmp);
}

/* Entries of dir: *hidden gets those whose name starts with '.'
 * (temporary outputs), the last of them in last; returns the others. */
static int scan_outputs(const char *dir, int *hidden, char *last,
                        size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    *hidden = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (e->d_name[0] == '.') {
            (*hidden)++;
            snprintf(last, cap, "%s", e->d_name);
        } else {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Ctrl-C in the middle of a pipelined batch: the process ends by SIGINT,
 * no temporary output is left behind (some wait on the commit threads),
 * and every output that is there is whole: the C reference's bytes. */
static void test_cli_interrupt_leaves_no_temporaries(void **state)
{
    const char *bin = getenv("CLDISPATCH_BIN");
    char *tmp = cld_test_tmpdir();
    char in[4200], out[4200], path[4400], sigma[] = "6", left[256] = "";
    const struct cld_job *blur = cld_job_find("blur");
    struct cld_data src, ref;
    struct cld_params p;
    int n = 0, hidden = 0, wst;
    pid_t pid;

    (void)state;
    snprintf(in, sizeof in, "%s/in", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    assert_int_equal(cld_mkdir_p(in), CLD_OK);
    cld_test_load("astronaut.png", &src);
    for (int i = 0; i < 80; i++) {
        struct cld_save_opts so = {.fmt = CLD_FMT_PPM};

        snprintf(path, sizeof path, "%s/a%02d.ppm", in, i);
        assert_int_equal(cld_image_save(path, &src.img, &so), CLD_OK);
    }
    cld_params_default(&p, blur);
    assert_int_equal(cld_params_set_real(&p, "sigma", 6.0), CLD_OK);
    assert_int_equal(cld_job_run(blur, NULL, &p, &src, &ref), CLD_OK);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(bin ? bin : "./cldispatch", "cldispatch", "run", "blur",
              "--sigma", sigma, "--device", "host", "--no-progress", in,
              "-o", out, (char *)NULL);
        _exit(127);
    }
    /* Interrupt once a few outputs are in place, at a moment when a
     * temporary file is there too (an output being written, or waiting
     * for its fsync), so that the handler has one to remove. */
    for (int polls = 0; polls < 200000 && !(n >= 3 && hidden > 0);
         polls++) {
        struct timespec nap = {0, 200000};

        n = scan_outputs(out, &hidden, left, sizeof left);
        if (n >= 3 && hidden > 0)
            break;
        if (waitpid(pid, &wst, WNOHANG) == pid)
            fail_msg("the batch ended (%d outputs) before a moment with a "
                     "temporary file could be caught; make it longer", n);
        nanosleep(&nap, NULL);
    }
    assert_true(n >= 3 && hidden > 0);
    assert_int_equal(kill(pid, SIGINT), 0);
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    if (!WIFSIGNALED(wst))
        fail_msg("the batch ended before the interrupt (exit %d); make it "
                 "longer", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    assert_int_equal(WTERMSIG(wst), SIGINT);
    n = scan_outputs(out, &hidden, left, sizeof left);
    if (hidden) {
        struct stat sb;
        char tp[4600];

        snprintf(tp, sizeof tp, "%s/%s", out, left);
        fail_msg("%d temporary file(s) left, such as %s (%lld bytes); %d "
                 "outputs", hidden, left,
                 stat(tp, &sb) == 0 ? (long long)sb.st_size : -1LL, n);
    }
    assert_true(n >= 3 && n < 80);
    for (int i = 0; i < 80; i++) {
        struct cld_image got;

        snprintf(path, sizeof path, "%s/a%02d.ppm", out, i);
        if (access(path, F_OK) != 0)
            continue;
        assert_int_equal(cld_image_load(path, NULL, &got), CLD_OK);
        cld_test_assert_same_image(&got, &ref.img);
        cld_image_free(&got);
    }
    printf("  interrupted with a temporary file there, after %d of 80 "
           "outputs: none left\n", n);
    cld_data_free(&src);
    cld_data_free(&ref);
    cld_test_rmtree(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_help_version_and_usage),
        cmocka_unit_test(test_cli_devices_report),
        cmocka_unit_test(test_cli_batch_with_bad_files),
        cmocka_unit_test(test_cli_collisions_and_overwrite),
        cmocka_unit_test(test_cli_device_failure_mid_batch),
        cmocka_unit_test(test_cli_inflight_and_copy_path),
        cmocka_unit_test(test_cli_kernel_build_failure),
        cmocka_unit_test(test_cli_dropped_devices_warned),
        cmocka_unit_test(test_cli_background_setup_failure),
        cmocka_unit_test(test_cli_codec_warning_names_file),
        cmocka_unit_test(test_cli_codec_options),
        cmocka_unit_test(test_cli_progress_trace_summary),
        cmocka_unit_test(test_cli_interrupt_leaves_no_temporaries),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("cli");
    return cmocka_run_group_tests_name("cli_pocl", tests, NULL, NULL);
}
