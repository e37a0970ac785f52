/* Shared test helpers. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixtures.h"

#include "fsutil.h"
#include "image_io.h"
#include "jobs.h"
#include "profile.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cld_test_images_dir(void)
{
    const char *d = getenv("CLDISPATCH_IMAGES");

    /* tests/meson.build bakes in the repository's own tests/images, so a
     * test binary run by hand finds them too; the variable overrides. */
    return (d && *d) ? d : CLD_TEST_IMAGES_DIR;
}

const char *cld_test_image(const char *name)
{
    /* A ring of buffers, so that several calls can share one printf. */
    static _Thread_local char buf[8][4096];
    static _Thread_local unsigned next;
    char *b = buf[next++ % 8];

    snprintf(b, sizeof buf[0], "%s/%s", cld_test_images_dir(), name);
    /* A missing fixture is a failure that names it, never a skip: a test
     * that quietly passes without its input proves nothing. */
    if (access(b, F_OK) != 0)
        fail_msg("missing test image %s (%s); the suites read only the "
                 "repository's tests/images", b, strerror(errno));
    return b;
}

char *cld_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;

    if (!base || !*base)
        base = "/tmp";
    if (asprintf(&path, "%s/cldtest.XXXXXX", base) < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void cld_test_rmtree(const char *path)
{
    cld_remove_tree(path);
}

const char *cld_test_device(int k)
{
    static char list[512];
    static const char *sel[CLD_TEST_MAX_DEVICES];
    static int n = -1;

    if (n < 0) {
        const char *env = getenv("CLDISPATCH_TEST_DEVICES");
        char *save = NULL;

        snprintf(list, sizeof list, "%s",
                 env && *env ? env : "pocl:pthread pocl:basic");
        n = 0;
        for (char *t = strtok_r(list, " ", &save);
             t && n < CLD_TEST_MAX_DEVICES; t = strtok_r(NULL, " ", &save))
            sel[n++] = t;
    }
    return k >= 0 && k < n ? sel[k] : NULL;
}

int cld_test_no_device(const char *suite)
{
    const char *req = getenv("CLDISPATCH_REQUIRE_DEVICE");

    if (req && strcmp(req, "1") == 0) {
        fprintf(stderr, "%s: no OpenCL device found, and "
                "CLDISPATCH_REQUIRE_DEVICE=1 requires one\n", suite);
        return 1;
    }
    fprintf(stderr, "%s: no OpenCL device found; skipping\n", suite);
    return 77;
}

int cld_test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    }
    closedir(d);
    return n;
}

bool cld_test_have_device(void)
{
    struct cld_device_list list;
    bool have;

    if (cld_device_discover(&list) != CLD_OK)
        return false;
    have = list.ndevices > 0;
    cld_device_list_free(&list);
    return have;
}

int cld_test_devices_setup(void **state)
{
    struct cld_test_devices *t = calloc(1, sizeof *t);

    if (!t)
        return -1;
    if (cld_device_discover(&t->list) != CLD_OK || t->list.ndevices == 0) {
        cld_device_list_free(&t->list);
        free(t);
        return -1;
    }
    for (int i = 0; i < t->list.ndevices && t->n < CLD_TEST_MAX_DEVICES;
         i++) {
        if (cld_clctx_create(t->list.devices[i].device, &t->ctx[t->n]) !=
            CLD_OK) {
            fprintf(stderr, "cannot use device %d: %s\n", i,
                    cld_error_detail());
            continue;
        }
        t->n++;
    }
    *state = t;
    return t->n > 0 ? 0 : -1;
}

int cld_test_devices_teardown(void **state)
{
    struct cld_test_devices *t = *state;

    if (!t)
        return 0;
    for (int i = 0; i < t->n; i++)
        cld_clctx_destroy(t->ctx[i]);
    cld_device_list_free(&t->list);
    free(t);
    *state = NULL;
    return 0;
}

bool cld_test_image_diff(const struct cld_image *a, const struct cld_image *b,
                         int *maxdiff, double *psnr)
{
    size_t n;
    double se = 0;
    int md = 0;

    if (a->width != b->width || a->height != b->height ||
        a->channels != b->channels)
        return false;
    n = (size_t)a->width * a->height * a->channels;
    for (size_t i = 0; i < n; i++) {
        int d = (int)a->data[i] - (int)b->data[i];

        if (d < 0)
            d = -d;
        if (d > md)
            md = d;
        se += (double)d * d;
    }
    *maxdiff = md;
    *psnr = se == 0 ? INFINITY
                    : 10.0 * log10(255.0 * 255.0 / (se / (double)n));
    return true;
}

int cld_test_tmp_setup(void **state)
{
    struct cld_test_tmp *t = calloc(1, sizeof *t);

    if (!t)
        return -1;
    t->dir = cld_test_tmpdir();
    if (!t->dir) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

int cld_test_tmp_teardown(void **state)
{
    struct cld_test_tmp *t = *state;

    cld_test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

const char *cld_test_tmp_path(struct cld_test_tmp *t, const char *name)
{
    char *p = t->paths[t->next++ % 4];

    snprintf(p, sizeof t->paths[0], "%s/%s", t->dir, name);
    return p;
}

void cld_test_write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

uint8_t *cld_test_read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf;
    long len;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    assert_true(len >= 0);
    rewind(fp);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

void cld_test_assert_files_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = cld_test_read_file(a, &na);
    uint8_t *y = cld_test_read_file(b, &nb);
    bool same = na == nb && memcmp(x, y, na) == 0;

    free(x);
    free(y);
    if (!same)
        fail_msg("%s (%zu bytes) and %s (%zu bytes) differ", a, na, b, nb);
}

void cld_test_load(const char *name, struct cld_data *d)
{
    memset(d, 0, sizeof *d);
    d->kind = CLD_DATA_IMAGE;
    assert_int_equal(cld_image_load(cld_test_image(name), NULL, &d->img),
                     CLD_OK);
}

void cld_test_fault_sweep(cld_test_run_fn run, void *arg)
{
    for (unsigned nth = 1;; nth++) {
        struct cld_data out;
        enum cld_status st;

        memset(&out, 0, sizeof out);
        cld_clw_fault_set("*", nth, CL_OUT_OF_RESOURCES);
        st = run(arg, &out);
        cld_clw_fault_clear();
        if (st == CLD_OK) {
            cld_data_free(&out);
            return;
        }
        assert_int_equal(st, CLD_ERR_CL);
        assert_null(out.img.data);
        assert_true(nth < 100);
    }
}

void cld_test_write_jpeg_with_stray_bytes(const char *name, size_t nstray,
                                          const char *path)
{
    size_t n, i;
    uint8_t *buf = cld_test_read_file(cld_test_image(name), &n);
    uint8_t *out = malloc(n + nstray);

    assert_non_null(out);
    for (i = 2; i + 1 < n && !(buf[i] == 0xff && buf[i + 1] == 0xda); i++)
        ;
    assert_true(i + 1 < n);
    memcpy(out, buf, i);
    memset(out + i, 0, nstray);
    memcpy(out + i + nstray, buf + i, n - i);
    cld_test_write_file(path, out, n + nstray);
    free(buf);
    free(out);
}

void cld_test_crop(const struct cld_image *src, uint32_t x, uint32_t y,
                   uint32_t w, uint32_t h, struct cld_image *out)
{
    assert_true(x + (uint64_t)w <= src->width &&
                y + (uint64_t)h <= src->height);
    assert_int_equal(cld_image_alloc(out, w, h, src->channels), CLD_OK);
    for (uint32_t r = 0; r < h; r++)
        memcpy(out->data + (size_t)r * w * src->channels,
               src->data + ((size_t)(y + r) * src->width + x) *
                               src->channels,
               (size_t)w * src->channels);
}

void cld_test_assert_same_image(const struct cld_image *a,
                                const struct cld_image *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    assert_int_equal(a->channels, b->channels);
    assert_memory_equal(a->data, b->data,
                        (size_t)a->width * a->height * a->channels);
}

void cld_test_saved_history(struct cld_history *h)
{
    struct cld_profile_store *s = NULL;

    cld_history_init(h);
    assert_int_equal(cld_profile_store_open(NULL, &s), CLD_OK);
    assert_int_equal(cld_profile_load_history(s, h), CLD_OK);
    cld_profile_store_close(s);
}
