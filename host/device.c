/* OpenCL platform and device discovery, in process or isolated per
 * platform in child processes, and --device selector resolution. */
#include "device.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "clw.h"

/* ocl-icd's loader query (clGetICDLoaderInfoOCLICD), where present. */
typedef cl_int (*loader_info_fn)(cl_uint, size_t, void *, size_t *);
#define CLD_ICDL_VERSION 2
#define CLD_ICDL_NAME 3

#define PROBE_TIMEOUT_MS 30000

const char *cld_device_type_str(uint64_t type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (type & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (type & CL_DEVICE_TYPE_CUSTOM)
        return "custom";
    return "other";
}

void cld_device_list_warn(const struct cld_device_list *list, FILE *f)
{
    for (int p = 0; p < list->nplatforms; p++) {
        const struct cld_platform_info *pl = &list->platforms[p];

        if (pl->status == CLD_OK)
            continue;
        /* A platform whose own queries failed has no name to show. */
        fprintf(f, "cldispatch: warning: OpenCL platform %d%s%s%s%s %s\n",
                p, pl->name[0] ? " (" : "", pl->name,
                pl->name[0] ? ")" : "",
                strncmp(pl->error, "device ", 7) == 0 ? ":" : " dropped:",
                pl->error);
    }
}

void cld_device_list_free(struct cld_device_list *list)
{
    if (!list)
        return;
    free(list->platforms);
    free(list->devices);
    memset(list, 0, sizeof *list);
}

static void loader_info(struct cld_device_list *list)
{
    loader_info_fn fn;

    fn = (loader_info_fn)(uintptr_t)clGetExtensionFunctionAddress(
        "clGetICDLoaderInfoOCLICD");
    if (!fn)
        return;
    if (fn(CLD_ICDL_NAME, sizeof list->loader_name, list->loader_name,
           NULL) != CL_SUCCESS)
        list->loader_name[0] = '\0';
    if (fn(CLD_ICDL_VERSION, sizeof list->loader_version,
           list->loader_version, NULL) != CL_SUCCESS)
        list->loader_version[0] = '\0';
}

static cl_int plat_str(cl_platform_id p, cl_platform_info what, char *buf,
                       size_t len)
{
    cl_int err = cld_clw_fault("clGetPlatformInfo");

    buf[0] = '\0';
    if (err == CL_SUCCESS)
        err = clGetPlatformInfo(p, what, len, buf, NULL);
    if (err == CL_INVALID_VALUE) {
        /* Longer than our buffer: keep a truncated copy. */
        size_t need = 0;
        char *tmp;

        if (clGetPlatformInfo(p, what, 0, NULL, &need) == CL_SUCCESS &&
            (tmp = malloc(need + 1)) != NULL) {
            err = clGetPlatformInfo(p, what, need, tmp, NULL);
            if (err == CL_SUCCESS)
                snprintf(buf, len, "%s", tmp);
            free(tmp);
        }
    }
    buf[len - 1] = '\0';
    return err;
}

static cl_int dev_str(cl_device_id d, cl_device_info what, char *buf,
                      size_t len)
{
    cl_int err = cld_clw_fault("clGetDeviceInfo");
    size_t need = 0;

    buf[0] = '\0';
    if (err != CL_SUCCESS)
        return err;
    err = clGetDeviceInfo(d, what, 0, NULL, &need);
    if (err != CL_SUCCESS)
        return err;
    if (need <= len)
        return clGetDeviceInfo(d, what, len, buf, NULL);
    {
        char *tmp = malloc(need);

        if (!tmp)
            return CL_OUT_OF_HOST_MEMORY;
        err = clGetDeviceInfo(d, what, need, tmp, NULL);
        if (err == CL_SUCCESS)
            snprintf(buf, len, "%s", tmp);
        free(tmp);
    }
    return err;
}

static cl_int dev_val(cl_device_id d, cl_device_info what, void *v,
                      size_t size)
{
    cl_int err = cld_clw_fault("clGetDeviceInfo");

    memset(v, 0, size);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(d, what, size, v, NULL);
    return err;
}

static void slug(const char *in, char *out, size_t len)
{
    size_t o = 0;
    bool dash = false;

    for (; *in && o + 1 < len; in++) {
        if (isalnum((unsigned char)*in)) {
            if (dash && o > 0 && o + 2 < len)
                out[o++] = '-';
            dash = false;
            out[o++] = (char)tolower((unsigned char)*in);
        } else {
            dash = true;
        }
    }
    out[o] = '\0';
}

static void platform_slug(const struct cld_device_info *d, char *out,
                          size_t len)
{
    static const char *const known[] = {"pocl", "nvidia", "amd", "intel",
                                        "apple", "arm", "qualcomm", "rusticl",
                                        "clover", "mesa"};
    char low[2 * CLD_STR_MAX + 2];
    char first[64];

    snprintf(low, sizeof low, "%s %s", d->platform_name, d->platform_vendor);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strstr(low, "portable computing language")) {
        snprintf(out, len, "pocl");
        return;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strstr(low, known[i])) {
            snprintf(out, len, "%s", known[i]);
            return;
        }
    }
    snprintf(first, sizeof first, "%.63s", d->platform_name);
    first[strcspn(first, " ")] = '\0';
    slug(first, out, len);
    if (!out[0])
        snprintf(out, len, "platform%d", d->platform_index);
}

/* Drivers pad their extension lists with runs of spaces; keep one. */
static void collapse_spaces(char *s)
{
    char *start = s, *o = s;
    bool space = true; /* drops leading spaces */

    for (; *s; s++) {
        if (*s == ' ' && space)
            continue;
        space = *s == ' ';
        *o++ = *s;
    }
    if (o > start && o[-1] == ' ')
        o--;
    *o = '\0';
}

/* Fill one device record; returns the first failing query's error. */
static cl_int probe_device(cl_device_id dev, struct cld_device_info *d,
                           const char **failed)
{
    cl_int err;
    cl_uint u;
    cl_ulong ul;
    size_t sz, sizes[3] = {0, 0, 0};
    cl_bool b;
    cl_device_local_mem_type lmt;
    cl_device_fp_config fp;
    char dslug[CLD_STR_MAX], pslug[64];

#define REQ(expr, what)                                                     \
    do {                                                                    \
        err = (expr);                                                       \
        if (err != CL_SUCCESS) {                                            \
            *failed = what;                                                 \
            return err;                                                     \
        }                                                                   \
    } while (0)

    REQ(dev_str(dev, CL_DEVICE_NAME, d->name, sizeof d->name),
        "CL_DEVICE_NAME");
    REQ(dev_val(dev, CL_DEVICE_TYPE, &d->type, sizeof d->type),
        "CL_DEVICE_TYPE");
    REQ(dev_str(dev, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor),
        "CL_DEVICE_VENDOR");
    REQ(dev_str(dev, CL_DEVICE_VERSION, d->version, sizeof d->version),
        "CL_DEVICE_VERSION");
    REQ(dev_str(dev, CL_DRIVER_VERSION, d->driver_version,
                sizeof d->driver_version), "CL_DRIVER_VERSION");
    REQ(dev_val(dev, CL_DEVICE_MAX_COMPUTE_UNITS, &u, sizeof u),
        "CL_DEVICE_MAX_COMPUTE_UNITS");
    d->compute_units = u;
    REQ(dev_val(dev, CL_DEVICE_MAX_CLOCK_FREQUENCY, &u, sizeof u),
        "CL_DEVICE_MAX_CLOCK_FREQUENCY");
    d->max_clock_mhz = u;
    REQ(dev_val(dev, CL_DEVICE_GLOBAL_MEM_SIZE, &ul, sizeof ul),
        "CL_DEVICE_GLOBAL_MEM_SIZE");
    d->global_mem = ul;
    REQ(dev_val(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, &ul, sizeof ul),
        "CL_DEVICE_MAX_MEM_ALLOC_SIZE");
    d->max_alloc = ul;
    REQ(dev_val(dev, CL_DEVICE_LOCAL_MEM_SIZE, &ul, sizeof ul),
        "CL_DEVICE_LOCAL_MEM_SIZE");
    d->local_mem = ul;
    REQ(dev_val(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, &sz, sizeof sz),
        "CL_DEVICE_MAX_WORK_GROUP_SIZE");
    d->max_wg = sz;
    REQ(dev_val(dev, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizes, sizeof sizes),
        "CL_DEVICE_MAX_WORK_ITEM_SIZES");
    for (int i = 0; i < 3; i++)
        d->max_item_sizes[i] = sizes[i];
#undef REQ

    /* The rest are optional: a device that cannot answer gets zero. */
    if (dev_str(dev, CL_DEVICE_OPENCL_C_VERSION, d->c_version,
                sizeof d->c_version) != CL_SUCCESS)
        d->c_version[0] = '\0';
    if (dev_val(dev, CL_DEVICE_LOCAL_MEM_TYPE, &lmt, sizeof lmt) ==
        CL_SUCCESS)
        d->local_mem_dedicated = lmt == CL_LOCAL;
    if (dev_val(dev, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, &u, sizeof u) ==
        CL_SUCCESS)
        d->pref_vec_float = u;
    if (dev_val(dev, CL_DEVICE_IMAGE_SUPPORT, &b, sizeof b) == CL_SUCCESS)
        d->image_support = b;
    if (d->image_support) {
        if (dev_val(dev, CL_DEVICE_IMAGE2D_MAX_WIDTH, &sz, sizeof sz) ==
            CL_SUCCESS)
            d->image2d_max_w = sz;
        if (dev_val(dev, CL_DEVICE_IMAGE2D_MAX_HEIGHT, &sz, sizeof sz) ==
            CL_SUCCESS)
            d->image2d_max_h = sz;
    }
    if (dev_val(dev, CL_DEVICE_DOUBLE_FP_CONFIG, &fp, sizeof fp) ==
        CL_SUCCESS)
        d->fp64 = fp != 0;
    if (dev_val(dev, CL_DEVICE_HOST_UNIFIED_MEMORY, &b, sizeof b) ==
        CL_SUCCESS)
        d->host_unified = b;
    if (dev_val(dev, CL_DEVICE_PROFILING_TIMER_RESOLUTION, &sz, sizeof sz) ==
        CL_SUCCESS)
        d->timer_res_ns = sz;
    if (dev_str(dev, CL_DEVICE_EXTENSIONS, d->extensions,
                sizeof d->extensions) != CL_SUCCESS)
        d->extensions[0] = '\0';
    collapse_spaces(d->extensions);
    d->fp16 = strstr(d->extensions, "cl_khr_fp16") != NULL;
    if (!d->fp64)
        d->fp64 = strstr(d->extensions, "cl_khr_fp64") != NULL;

    platform_slug(d, pslug, sizeof pslug);
    slug(d->name, dslug, sizeof dslug);
    snprintf(d->id, sizeof d->id, "%.63s:%.190s", pslug, dslug);
    return CL_SUCCESS;
}

static enum cld_status get_platforms(cl_platform_id **out, cl_uint *n)
{
    cl_int err = cld_clw_fault("clGetPlatformIDs");
    cl_platform_id *ids;

    *out = NULL;
    *n = 0;
    if (err == CL_SUCCESS)
        err = clGetPlatformIDs(0, NULL, n);
    /* The ICD loader says CL_PLATFORM_NOT_FOUND_KHR when no ICD exists:
     * that is an empty list, not an error. */
    if (err == -1001 || (err == CL_SUCCESS && *n == 0)) {
        *n = 0;
        return CLD_OK;
    }
    if (err != CL_SUCCESS)
        return cld_clw_check(err, "clGetPlatformIDs");
    ids = calloc(*n, sizeof *ids);
    if (!ids)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    err = clGetPlatformIDs(*n, ids, NULL);
    if (err != CL_SUCCESS) {
        free(ids);
        *n = 0;
        return cld_clw_check(err, "clGetPlatformIDs");
    }
    *out = ids;
    return CLD_OK;
}

/* Probe platform p (index pi) into *pl and a malloc'd device array. */
static void probe_platform(cl_platform_id p, int pi,
                           struct cld_platform_info *pl,
                           struct cld_device_info **devs_out)
{
    cl_uint nd = 0;
    cl_device_id *ids = NULL;
    struct cld_device_info *devs = NULL;
    cl_int err;
    const char *failed = NULL;

    *devs_out = NULL;
    memset(pl, 0, sizeof *pl);
    pl->index = pi;
    pl->status = CLD_OK;
    err = plat_str(p, CL_PLATFORM_NAME, pl->name, sizeof pl->name);
    if (err == CL_SUCCESS)
        err = plat_str(p, CL_PLATFORM_VENDOR, pl->vendor, sizeof pl->vendor);
    if (err == CL_SUCCESS)
        err = plat_str(p, CL_PLATFORM_VERSION, pl->version,
                       sizeof pl->version);
    if (err != CL_SUCCESS) {
        pl->status = CLD_ERR_CL;
        snprintf(pl->error, sizeof pl->error, "clGetPlatformInfo: %s",
                 cld_cl_errname(err));
        return;
    }
    err = cld_clw_fault("clGetDeviceIDs");
    if (err == CL_SUCCESS)
        err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && nd == 0))
        return; /* a platform with no devices is reported as such */
    if (err != CL_SUCCESS)
        goto fail;
    ids = calloc(nd, sizeof *ids);
    devs = calloc(nd, sizeof *devs);
    if (!ids || !devs) {
        err = CL_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, ids, NULL);
    if (err != CL_SUCCESS)
        goto fail;
    for (cl_uint i = 0; i < nd; i++) {
        struct cld_device_info *d = &devs[pl->ndevices];

        d->platform_index = pi;
        d->device_in_platform = (int)i;
        snprintf(d->platform_name, sizeof d->platform_name, "%s", pl->name);
        snprintf(d->platform_vendor, sizeof d->platform_vendor, "%s",
                 pl->vendor);
        snprintf(d->platform_version, sizeof d->platform_version, "%s",
                 pl->version);
        d->platform = p;
        d->device = ids[i];
        err = probe_device(ids[i], d, &failed);
        if (err != CL_SUCCESS) {
            /* Report every failing device, keep the others. */
            size_t used = strlen(pl->error);

            pl->status = CLD_ERR_CL;
            snprintf(pl->error + used, sizeof pl->error - used,
                     "%sdevice %u dropped: clGetDeviceInfo(%s): %s",
                     used ? "; " : "", i, failed, cld_cl_errname(err));
            memset(d, 0, sizeof *d);
            continue;
        }
        pl->ndevices++;
    }
    free(ids);
    *devs_out = devs;
    return;
fail:
    free(ids);
    free(devs);
    pl->ndevices = 0;
    pl->status = CLD_ERR_CL;
    snprintf(pl->error, sizeof pl->error, "clGetDeviceIDs: %s",
             cld_cl_errname(err));
}

static enum cld_status append_devices(struct cld_device_list *list,
                                      const struct cld_device_info *devs,
                                      int n)
{
    struct cld_device_info *grown;

    if (n == 0)
        return CLD_OK;
    grown = realloc(list->devices,
                    (size_t)(list->ndevices + n) * sizeof *grown);
    if (!grown)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    list->devices = grown;
    for (int i = 0; i < n; i++) {
        grown[list->ndevices] = devs[i];
        grown[list->ndevices].index = list->ndevices;
        list->ndevices++;
    }
    return CLD_OK;
}

/* In-process discoveries so far: the one place this process starts
 * OpenCL, counted so that tests can show when it did not. */
static _Atomic unsigned discoveries;

unsigned cld_device_discover_count(void)
{
    return discoveries;
}

enum cld_status cld_device_discover(struct cld_device_list *out)
{
    cl_platform_id *plats = NULL;
    cl_uint np = 0;
    enum cld_status st;

    discoveries++;
    memset(out, 0, sizeof *out);
    loader_info(out);
    if ((st = get_platforms(&plats, &np)) != CLD_OK)
        return st;
    if (np == 0)
        return CLD_OK;
    out->platforms = calloc(np, sizeof *out->platforms);
    if (!out->platforms) {
        free(plats);
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    }
    for (cl_uint i = 0; i < np; i++) {
        struct cld_device_info *devs = NULL;

        probe_platform(plats[i], (int)i, &out->platforms[i], &devs);
        out->nplatforms++;
        st = append_devices(out, devs, out->platforms[i].ndevices);
        free(devs);
        if (st != CLD_OK)
            break;
    }
    free(plats);
    if (st != CLD_OK)
        cld_device_list_free(out);
    return st;
}

/* --- isolated probing ----------------------------------------------------
 * The parent never calls OpenCL. A first child lists the platforms (and the
 * loader); then one child per platform probes its devices. Records cross a
 * pipe as raw structs: both ends are the same binary. */

static bool write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Read exactly len bytes before the deadline (monotonic ms, see
 * deadline_ms). */
static bool read_all(int fd, void *buf, size_t len, long long deadline)
{
    char *p = buf;

    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long long now = (long long)(cld_now_s() * 1000);
        ssize_t n;
        int r;

        if (now >= deadline)
            return false;
        r = poll(&pfd, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void child_list(int fd)
{
    struct cld_device_list hdr;
    cl_platform_id *plats = NULL;
    cl_uint np = 0;
    int32_t status;

    memset(&hdr, 0, sizeof hdr);
    loader_info(&hdr);
    status = (int32_t)get_platforms(&plats, &np);
    hdr.nplatforms = (int)np;
    write_all(fd, &status, sizeof status);
    write_all(fd, cld_error_detail(), 512);
    write_all(fd, &hdr, sizeof hdr);
    free(plats);
}

static void child_platform(int fd, int pi)
{
    cl_platform_id *plats = NULL;
    cl_uint np = 0;
    struct cld_platform_info pl;
    struct cld_device_info *devs = NULL;
    const char *crash = getenv("CLDISPATCH_TEST_CRASH_PLATFORM");

    /* Test hook: simulate a vendor driver that crashes while probed. */
    if (crash && atoi(crash) == pi)
        raise(SIGSEGV);
    memset(&pl, 0, sizeof pl);
    pl.index = pi;
    if (get_platforms(&plats, &np) != CLD_OK || (cl_uint)pi >= np) {
        pl.status = CLD_ERR_CL;
        snprintf(pl.error, sizeof pl.error, "platform vanished: %s",
                 cld_error_detail());
    } else {
        probe_platform(plats[pi], pi, &pl, &devs);
    }
    write_all(fd, &pl, sizeof pl);
    for (int i = 0; i < pl.ndevices; i++) {
        devs[i].platform = NULL;
        devs[i].device = NULL;
        write_all(fd, &devs[i], sizeof devs[i]);
    }
    free(devs);
    free(plats);
}

struct child {
    pid_t pid;
    int fd;
};

static bool spawn(struct child *c, int pi)
{
    int fds[2];

    if (pipe(fds) != 0)
        return false;
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (c->pid == 0) {
        /* A crash must end the child where the parent can see it, even
         * when the caller installed handlers (test frameworks do). */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE,
                                    SIGABRT};

        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        close(fds[0]);
        if (pi < 0)
            child_list(fds[1]);
        else
            child_platform(fds[1], pi);
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    c->fd = fds[0];
    return true;
}

/* Reap the child; describe how it ended when it did not exit cleanly. */
static bool reap(struct child *c, bool ok, char *why, size_t len)
{
    int wst = 0;

    close(c->fd);
    if (!ok)
        kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &wst, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(wst)) {
        snprintf(why, len, "probe crashed (%s)", strsignal(WTERMSIG(wst)));
        return false;
    }
    if (!ok) {
        snprintf(why, len, "probe did not answer within %d s",
                 PROBE_TIMEOUT_MS / 1000);
        return false;
    }
    if (WIFEXITED(wst) && WEXITSTATUS(wst) != 0) {
        snprintf(why, len, "probe exited with status %d", WEXITSTATUS(wst));
        return false;
    }
    return true;
}

static long long deadline_ms(void)
{
    return (long long)(cld_now_s() * 1000) + PROBE_TIMEOUT_MS;
}

enum cld_status cld_device_discover_isolated(struct cld_device_list *out)
{
    struct cld_device_list hdr;
    struct child c;
    int32_t status = 0;
    char detail[512], why[256];
    bool ok;
    long long dl;
    enum cld_status st = CLD_OK;

    memset(out, 0, sizeof *out);
    if (!spawn(&c, -1))
        return cld_error_set(CLD_ERR_INTERNAL, "fork: %s", strerror(errno));
    dl = deadline_ms();
    ok = read_all(c.fd, &status, sizeof status, dl) &&
         read_all(c.fd, detail, sizeof detail, dl) &&
         read_all(c.fd, &hdr, sizeof hdr, dl);
    if (!reap(&c, ok, why, sizeof why) || !ok)
        return cld_error_set(CLD_ERR_CL,
                             "the OpenCL ICD loader failed listing "
                             "platforms: %s", why);
    detail[sizeof detail - 1] = '\0';
    if (status != CLD_OK)
        return cld_error_set((enum cld_status)status, "%s", detail);
    snprintf(out->loader_name, sizeof out->loader_name, "%s",
             hdr.loader_name);
    snprintf(out->loader_version, sizeof out->loader_version, "%s",
             hdr.loader_version);
    if (hdr.nplatforms <= 0)
        return CLD_OK;
    out->platforms = calloc((size_t)hdr.nplatforms, sizeof *out->platforms);
    if (!out->platforms)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (int pi = 0; pi < hdr.nplatforms && st == CLD_OK; pi++) {
        struct cld_platform_info *pl = &out->platforms[pi];
        struct cld_device_info *devs = NULL;

        out->nplatforms++;
        pl->index = pi;
        if (!spawn(&c, pi)) {
            pl->status = CLD_ERR_INTERNAL;
            snprintf(pl->error, sizeof pl->error, "fork: %s",
                     strerror(errno));
            continue;
        }
        dl = deadline_ms();
        ok = read_all(c.fd, pl, sizeof *pl, dl);
        if (ok && pl->ndevices > 0) {
            devs = calloc((size_t)pl->ndevices, sizeof *devs);
            ok = devs != NULL;
            for (int i = 0; ok && i < pl->ndevices; i++)
                ok = read_all(c.fd, &devs[i], sizeof devs[i], dl);
        }
        if (!reap(&c, ok, why, sizeof why) || !ok) {
            memset(pl, 0, sizeof *pl);
            pl->index = pi;
            pl->status = CLD_ERR_CL;
            snprintf(pl->error, sizeof pl->error, "%s", why);
            snprintf(pl->name, sizeof pl->name, "platform %d", pi);
            free(devs);
            continue;
        }
        pl->index = pi;
        st = append_devices(out, devs, pl->ndevices);
        free(devs);
    }
    if (st != CLD_OK)
        cld_device_list_free(out);
    return st;
}

/* --- selection ---------------------------------------------------------- */

static bool icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return true;
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return false;
    }
    return true;
}

enum cld_status cld_device_selector_check(const char *spec)
{
    const char *colon;

    if (!spec || !*spec)
        return cld_error_set(CLD_ERR_USAGE, "empty device selector");
    if (!strcasecmp(spec, "auto") || !strcasecmp(spec, "host") ||
        !strcasecmp(spec, "cpu") || !strcasecmp(spec, "gpu") ||
        all_digits(spec))
        return CLD_OK;
    colon = strchr(spec, ':');
    if (colon && colon != spec && colon[1])
        return CLD_OK;
    return cld_error_set(CLD_ERR_USAGE,
                         "bad device selector '%s' (expected auto, host, "
                         "cpu, gpu, an index, or PLATFORM:NAME)", spec);
}

enum cld_status cld_device_select(const struct cld_device_list *list,
                                  const char *spec,
                                  struct cld_selection *out)
{
    enum cld_status st = cld_device_selector_check(spec);
    cl_device_type want = 0;

    out->kind = CLD_SELECT_AUTO;
    out->device = -1;
    if (st != CLD_OK)
        return st;
    if (!strcasecmp(spec, "auto"))
        return CLD_OK;
    if (!strcasecmp(spec, "host")) {
        out->kind = CLD_SELECT_HOST;
        return CLD_OK;
    }
    if (all_digits(spec)) {
        long i = strtol(spec, NULL, 10);

        if (i < 0 || i >= list->ndevices)
            return cld_error_set(CLD_ERR_NO_DEVICE,
                                 "device %s does not exist (%d device%s "
                                 "found)", spec, list->ndevices,
                                 list->ndevices == 1 ? "" : "s");
        out->kind = CLD_SELECT_DEVICE;
        out->device = (int)i;
        return CLD_OK;
    }
    if (!strcasecmp(spec, "cpu"))
        want = CL_DEVICE_TYPE_CPU;
    else if (!strcasecmp(spec, "gpu"))
        want = CL_DEVICE_TYPE_GPU;
    for (int i = 0; i < list->ndevices; i++) {
        const struct cld_device_info *d = &list->devices[i];
        bool match;

        if (want) {
            match = (d->type & want) != 0;
        } else {
            const char *colon = strchr(spec, ':');
            char plat[CLD_STR_MAX];
            char pslug[CLD_STR_MAX];

            snprintf(plat, sizeof plat, "%.*s", (int)(colon - spec), spec);
            snprintf(pslug, sizeof pslug, "%s", d->id);
            pslug[strcspn(pslug, ":")] = '\0';
            match = (icontains(d->platform_name, plat) ||
                     icontains(d->platform_vendor, plat) ||
                     icontains(pslug, plat)) &&
                    (icontains(d->name, colon + 1) ||
                     icontains(d->id + strlen(pslug) + 1, colon + 1));
        }
        if (match) {
            out->kind = CLD_SELECT_DEVICE;
            out->device = i;
            return CLD_OK;
        }
    }
    return cld_error_set(CLD_ERR_NO_DEVICE, "no device matches '%s'", spec);
}

bool cld_device_pin_pocl_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;

    if (getenv("POCL_AFFINITY") || n < 1 || n > CPU_SETSIZE)
        return false;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return false;
    for (long i = 0; i < n; i++) {
        if (!CPU_ISSET((int)i, &set))
            return false;
    }
    return setenv("POCL_AFFINITY", "1", 0) == 0;
}
