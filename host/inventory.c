/* The device inventory cache: a fingerprint of the OpenCL installation and
 * the last discovery's plain structs, written atomically and checked
 * field by field when read back. */
#include "inventory.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fsutil.h"

#define INV_FILE "devices.inv"
#define INV_MAGIC "CLDINV2\n"
#define INV_MAX_PLATFORMS 64
#define INV_MAX_DEVICES 256

struct inv_header {
    char magic[8];
    uint32_t info_size;     /* sizeof(struct cld_device_info) */
    uint32_t platform_size; /* sizeof(struct cld_platform_info) */
    int32_t nplatforms;
    int32_t ndevices;
    uint64_t payload_sum;   /* FNV-1a of what follows the header */
    double startup_s;       /* discovery's time in the run that saved it */
    char fingerprint[24];
    char loader_name[CLD_STR_MAX];
    char loader_version[CLD_STR_MAX];
};

/* --- fingerprint ---------------------------------------------------------
 * FNV-1a, 64 bits: the fingerprint only has to change when the
 * installation does; nobody gains by forging one for their own cache. */

static void fnv(uint64_t *h, const void *data, size_t n)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++) {
        *h ^= p[i];
        *h *= UINT64_C(1099511628211);
    }
}

static void fnv_str(uint64_t *h, const char *s)
{
    fnv(h, s, strlen(s) + 1);
}

static void fnv_stat(uint64_t *h, const char *path)
{
    struct stat sb;
    int64_t v[3] = {-1, -1, -1};

    if (stat(path, &sb) == 0) {
        v[0] = (int64_t)sb.st_size;
        v[1] = (int64_t)sb.st_mtim.tv_sec;
        v[2] = (int64_t)sb.st_mtim.tv_nsec;
    }
    fnv_str(h, path);
    fnv(h, v, sizeof v);
}

/* The driver library an ICD file names: its path as written, and the file
 * the dynamic loader would most likely open for a bare name. */
static void fnv_library(uint64_t *h, const char *lib)
{
    static const char *const dirs[] = {
        "/usr/local/lib", "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib"};
    char path[4096];

    if (lib[0] == '/') {
        fnv_stat(h, lib);
        return;
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        struct stat sb;

        snprintf(path, sizeof path, "%s/%s", dirs[i], lib);
        if (stat(path, &sb) == 0) {
            fnv_stat(h, path);
            return;
        }
    }
    fnv_str(h, lib);
}

static void fnv_icd(uint64_t *h, const char *path)
{
    char text[4096];
    size_t n = 0;
    FILE *f = fopen(path, "r");

    fnv_stat(h, path);
    if (!f)
        return;
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    text[strcspn(text, "\r\n")] = '\0';
    fnv_str(h, text);
    if (text[0])
        fnv_library(h, text);
}

static int icd_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);

    return n > 4 && strcmp(e->d_name + n - 4, ".icd") == 0;
}

void cld_inventory_fingerprint(char *out, size_t len)
{
    static const char *const vars[] = {
        "OCL_ICD_VENDORS", "OCL_ICD_FILENAMES", "OPENCL_VENDOR_PATH",
        "POCL_DEVICES", "POCL_MAX_PTHREAD_COUNT", "POCL_CPU_MAX_CU_COUNT",
        "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
        "GPU_DEVICE_ORDINAL", "ZE_AFFINITY_MASK", "CLDISPATCH_FAULT",
        "CLDISPATCH_TEST_CRASH_PLATFORM"};
    uint64_t h = UINT64_C(14695981039346656037);
    const char *dir = getenv("OCL_ICD_VENDORS");
    struct dirent **names = NULL;
    struct stat sb;
    char path[4096];
    int n;

    fnv_str(&h, CLD_VERSION);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);

        fnv_str(&h, vars[i]);
        fnv_str(&h, v ? v : "\x01unset");
    }
    if (!dir || !*dir)
        dir = "/etc/OpenCL/vendors";
    if (stat(dir, &sb) == 0 && S_ISREG(sb.st_mode)) {
        fnv_icd(&h, dir); /* ocl-icd also takes a single .icd file */
    } else {
        fnv_stat(&h, dir);
        n = scandir(dir, &names, icd_filter, alphasort);
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            fnv_icd(&h, path);
            free(names[i]);
        }
        free(names);
    }
    snprintf(out, len, "%016llx", (unsigned long long)h);
}

/* --- file ---------------------------------------------------------------- */

static uint64_t payload_sum(const struct cld_platform_info *p, int np,
                            const struct cld_device_info *d, int nd)
{
    uint64_t h = UINT64_C(14695981039346656037);

    if (np > 0)
        fnv(&h, p, (size_t)np * sizeof *p);
    if (nd > 0)
        fnv(&h, d, (size_t)nd * sizeof *d);
    return h;
}

enum cld_status cld_inventory_save(const char *dir,
                                   const struct cld_device_list *list,
                                   double startup_s)
{
    struct inv_header hdr;
    struct cld_device_info *devs = NULL;
    struct cld_atomic_file af;
    char path[4096];
    enum cld_status st;
    int np = list->nplatforms, nd = list->ndevices;

    if (np < 0 || np > INV_MAX_PLATFORMS || nd < 0 || nd > INV_MAX_DEVICES)
        return cld_error_set(CLD_ERR_INVALID, "inventory: %d platforms, %d "
                             "devices", np, nd);
    if (nd > 0) {
        devs = malloc((size_t)nd * sizeof *devs);
        if (!devs)
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        memcpy(devs, list->devices, (size_t)nd * sizeof *devs);
        for (int i = 0; i < nd; i++) {
            devs[i].platform = NULL;
            devs[i].device = NULL;
        }
    }
    memset(&hdr, 0, sizeof hdr);
    memcpy(hdr.magic, INV_MAGIC, sizeof hdr.magic);
    hdr.info_size = sizeof(struct cld_device_info);
    hdr.platform_size = sizeof(struct cld_platform_info);
    hdr.nplatforms = np;
    hdr.ndevices = nd;
    hdr.payload_sum = payload_sum(list->platforms, np, devs, nd);
    hdr.startup_s = startup_s;
    cld_inventory_fingerprint(hdr.fingerprint, sizeof hdr.fingerprint);
    memcpy(hdr.loader_name, list->loader_name, sizeof hdr.loader_name);
    memcpy(hdr.loader_version, list->loader_version,
           sizeof hdr.loader_version);
    snprintf(path, sizeof path, "%s/%s", dir, INV_FILE);
    if ((st = cld_atomic_open(path, true, &af)) != CLD_OK)
        goto out;
    if (fwrite(&hdr, sizeof hdr, 1, af.fp) != 1 ||
        (np > 0 && fwrite(list->platforms, sizeof *list->platforms,
                          (size_t)np, af.fp) != (size_t)np) ||
        (nd > 0 && fwrite(devs, sizeof *devs, (size_t)nd, af.fp) !=
                       (size_t)nd)) {
        st = cld_error_set(CLD_ERR_IO, "%s: write error: %s", path,
                           strerror(errno));
        cld_atomic_abort(&af);
        goto out;
    }
    st = cld_atomic_commit(&af);
out:
    free(devs);
    return st;
}

#define TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

/* Strings always end inside their arrays, and every index points inside
 * the list, whatever the file held. */
static bool sane(struct cld_device_list *l)
{
    for (int p = 0; p < l->nplatforms; p++) {
        struct cld_platform_info *pl = &l->platforms[p];

        TERMINATE(pl->name);
        TERMINATE(pl->vendor);
        TERMINATE(pl->version);
        TERMINATE(pl->error);
        if (pl->index != p || pl->ndevices < 0 ||
            pl->ndevices > INV_MAX_DEVICES)
            return false;
    }
    for (int i = 0; i < l->ndevices; i++) {
        struct cld_device_info *d = &l->devices[i];

        TERMINATE(d->id);
        TERMINATE(d->platform_name);
        TERMINATE(d->platform_vendor);
        TERMINATE(d->platform_version);
        TERMINATE(d->name);
        TERMINATE(d->vendor);
        TERMINATE(d->version);
        TERMINATE(d->c_version);
        TERMINATE(d->driver_version);
        TERMINATE(d->extensions);
        if (d->index != i || d->platform_index < 0 ||
            d->platform_index >= l->nplatforms || d->device_in_platform < 0)
            return false;
        d->platform = NULL;
        d->device = NULL;
    }
    TERMINATE(l->loader_name);
    TERMINATE(l->loader_version);
    return true;
}

enum cld_status cld_inventory_load(const char *dir,
                                   struct cld_device_list *list,
                                   double *startup_s)
{
    struct inv_header hdr;
    char path[4096], fp[24];
    FILE *f = NULL;
    uint64_t size = 0, want;
    enum cld_status st;

    memset(list, 0, sizeof *list);
    snprintf(path, sizeof path, "%s/%s", dir, INV_FILE);
    if ((st = cld_open_read(path, &f, &size)) != CLD_OK)
        return st == CLD_ERR_NOT_FOUND
                   ? st
                   : cld_error_set(CLD_ERR_NOT_FOUND, "%s",
                                   cld_error_detail());
    cld_inventory_fingerprint(fp, sizeof fp);
    if (fread(&hdr, sizeof hdr, 1, f) != 1 ||
        memcmp(hdr.magic, INV_MAGIC, sizeof hdr.magic) != 0 ||
        hdr.info_size != sizeof(struct cld_device_info) ||
        hdr.platform_size != sizeof(struct cld_platform_info) ||
        hdr.nplatforms < 0 || hdr.nplatforms > INV_MAX_PLATFORMS ||
        hdr.ndevices < 0 || hdr.ndevices > INV_MAX_DEVICES ||
        !(hdr.startup_s >= 0 && hdr.startup_s < 3600)) {
        st = cld_error_set(CLD_ERR_FORMAT, "%s: not an inventory of this "
                           "cldispatch", path);
        goto out;
    }
    TERMINATE(hdr.fingerprint);
    if (strcmp(hdr.fingerprint, fp) != 0) {
        st = cld_error_set(CLD_ERR_NOT_FOUND, "%s: the OpenCL installation "
                           "changed", path);
        goto out;
    }
    want = sizeof hdr +
           (uint64_t)hdr.nplatforms * sizeof(struct cld_platform_info) +
           (uint64_t)hdr.ndevices * sizeof(struct cld_device_info);
    if (size != want) {
        st = cld_error_set(CLD_ERR_FORMAT, "%s: %llu bytes, expected %llu",
                           path, (unsigned long long)size,
                           (unsigned long long)want);
        goto out;
    }
    list->platforms = calloc((size_t)hdr.nplatforms + 1,
                             sizeof *list->platforms);
    list->devices = calloc((size_t)hdr.ndevices + 1, sizeof *list->devices);
    if (!list->platforms || !list->devices) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    list->nplatforms = hdr.nplatforms;
    list->ndevices = hdr.ndevices;
    memcpy(list->loader_name, hdr.loader_name, sizeof list->loader_name);
    memcpy(list->loader_version, hdr.loader_version,
           sizeof list->loader_version);
    if (fread(list->platforms, sizeof *list->platforms,
              (size_t)hdr.nplatforms, f) != (size_t)hdr.nplatforms ||
        fread(list->devices, sizeof *list->devices, (size_t)hdr.ndevices,
              f) != (size_t)hdr.ndevices ||
        payload_sum(list->platforms, hdr.nplatforms, list->devices,
                    hdr.ndevices) != hdr.payload_sum ||
        !sane(list)) {
        st = cld_error_set(CLD_ERR_FORMAT, "%s: corrupt inventory", path);
        goto out;
    }
    if (startup_s)
        *startup_s = hdr.startup_s;
    st = CLD_OK;
out:
    fclose(f);
    if (st != CLD_OK)
        cld_device_list_free(list);
    return st;
}
