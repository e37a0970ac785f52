/* Shared helpers for the test suites: where the test images are, temporary
 * folders, and the skip-or-fail rule for device tests. */
#ifndef CLD_TEST_FIXTURES_H
#define CLD_TEST_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>

/* Folder of the shared real test images ($CLDISPATCH_IMAGES). */
const char *cld_test_images_dir(void);

/* Path of an image in that folder, in one of eight rotating per-thread
 * buffers (so up to eight results can be used at once). */
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
int cld_test_devices_setup(void **state);
int cld_test_devices_teardown(void **state);

/* Largest absolute difference and PSNR (dB; INFINITY when identical)
 * between two images of the same shape; false when shapes differ. */
bool cld_test_image_diff(const struct cld_image *a, const struct cld_image *b,
                         int *maxdiff, double *psnr);

#endif
