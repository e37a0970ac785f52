/* Shared helpers for the test suites: where the test images are, temporary
 * folders, and the skip-or-fail rule for device tests. */
#ifndef CLD_TEST_FIXTURES_H
#define CLD_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>

/* Folder of the real test images: $CLDISPATCH_IMAGES, else the
 * repository's tests/images. */
const char *cld_test_images_dir(void);

/* Path of an image in that folder, in one of eight rotating per-thread
 * buffers (so up to eight results can be used at once). Fails the running
 * test, naming the path, when the file does not exist. */
const char *cld_test_image(const char *name);

/* A fresh temporary folder; the caller frees the string and removes the
 * folder with cld_test_rmtree. NULL on failure. */
char *cld_test_tmpdir(void);

/* Recursively remove a folder (for temp dirs made by cld_test_tmpdir). */
void cld_test_rmtree(const char *path);

/* Exit status for a device suite that found no device: 77 (meson SKIP), or
 * 1 when CLDISPATCH_REQUIRE_DEVICE=1 is set (as in CI). Prints why. */
int cld_test_no_device(const char *suite);

/* Count of entries in a folder (excluding . and ..), -1 on error. */
int cld_test_count_entries(const char *dir);

/* --- temporary folder fixture ----------------------------------------- */

#include <stdint.h>

/* A per-group temporary folder (cmocka group state), removed at teardown. */
struct cld_test_tmp {
    char *dir;
    char paths[4][4096];
    int next;
};

int cld_test_tmp_setup(void **state);
int cld_test_tmp_teardown(void **state);
/* "DIR/name" in one of four rotating buffers. */
const char *cld_test_tmp_path(struct cld_test_tmp *t, const char *name);

/* Write n bytes to path, or fail the test. */
void cld_test_write_file(const char *path, const void *data, size_t n);
/* A whole file in a malloc'd buffer (caller frees); *n gets its size. Fails
 * the test when the file cannot be read. */
uint8_t *cld_test_read_file(const char *path, size_t *n);
/* Fail the test, naming both, unless files a and b hold the same bytes. */
void cld_test_assert_files_equal(const char *a, const char *b);

/* Copy the real JPEG `name` to path with nstray zero bytes put before its
 * first scan (SOS marker): a file libjpeg decodes to the same pixels while
 * warning "Corrupt JPEG data: N extraneous bytes before marker 0xda".
 * Fails the test on any error. */
void cld_test_write_jpeg_with_stray_bytes(const char *name, size_t nstray,
                                          const char *path);

/* --- device suites ------------------------------------------------------ */

#include "clw.h"
#include "device.h"
#include "image.h"

#define CLD_TEST_MAX_DEVICES 8

/* Every OpenCL device found, each with its own context. Group fixture for
 * the pocl suites: cld_test_devices_setup fails the group when none is
 * found (main should check cld_test_have_device first). */
struct cld_test_devices {
    struct cld_device_list list;
    int n;
    struct cld_clctx *ctx[CLD_TEST_MAX_DEVICES];
};

/* True when at least one OpenCL device is present. */
bool cld_test_have_device(void);

/* The device selectors that the engine's whole-batch tests run on, k = 0,
 * 1, ...; NULL past the last. From CLDISPATCH_TEST_DEVICES (selectors
 * separated by spaces, e.g. "gpu" on a GPU machine), else PoCL's
 * "pocl:pthread pocl:basic". The first is expected to run transfers
 * while other commands run (PoCL's pthread device, a GPU); the others
 * may run one command at a time (PoCL's basic device). */
const char *cld_test_device(int k);
int cld_test_devices_setup(void **state);
int cld_test_devices_teardown(void **state);

struct cld_data;

/* The run history saved in the cache folder of XDG_CACHE_HOME, into h
 * (initialised here; the caller clears it with cld_history_clear). */
struct cld_history;
void cld_test_saved_history(struct cld_history *h);

/* A device run for cld_test_fault_sweep: fills out from what arg holds. */
typedef enum cld_status (*cld_test_run_fn)(void *arg, struct cld_data *out);

/* Make the 1st, 2nd, 3rd... OpenCL wrapper call of run fail in turn with
 * CL_OUT_OF_RESOURCES: each such run must return CLD_ERR_CL with out left
 * empty. Ends at the first run that reaches no failing call, which must
 * succeed (within 100 calls). */
void cld_test_fault_sweep(cld_test_run_fn run, void *arg);

/* Load a real test image (by name in the images folder) into d as image
 * data, or fail the test. Free with cld_data_free. */
void cld_test_load(const char *name, struct cld_data *d);

/* The w x h window of src at (x, y), which must lie inside it, into out
 * (allocated here; free with cld_image_free), or fail the test. */
void cld_test_crop(const struct cld_image *src, uint32_t x, uint32_t y,
                   uint32_t w, uint32_t h, struct cld_image *out);

/* a and b have the same shape and the same bytes, or the test fails. */
void cld_test_assert_same_image(const struct cld_image *a,
                                const struct cld_image *b);

/* Largest absolute difference and PSNR (dB; INFINITY when identical)
 * between two images of the same shape; false when shapes differ. */
bool cld_test_image_diff(const struct cld_image *a, const struct cld_image *b,
                         int *maxdiff, double *psnr);

#endif
