/* Checked OpenCL wrappers, the fault-injection switch, kernel sources and
 * per-device contexts with a program cache in memory and on disk. */
#include "clw.h"

#include <ctype.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "devq.h"
#include "fsutil.h"
#include "kernels_embedded.h"
#include "seal.h"

#define X(code) { code, #code },
static const struct {
    cl_int code;
    const char *name;
} errnames[] = {
    X(CL_SUCCESS) X(CL_DEVICE_NOT_FOUND) X(CL_DEVICE_NOT_AVAILABLE)
    X(CL_COMPILER_NOT_AVAILABLE) X(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    X(CL_OUT_OF_RESOURCES) X(CL_OUT_OF_HOST_MEMORY)
    X(CL_PROFILING_INFO_NOT_AVAILABLE) X(CL_MEM_COPY_OVERLAP)
    X(CL_IMAGE_FORMAT_MISMATCH) X(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    X(CL_BUILD_PROGRAM_FAILURE) X(CL_MAP_FAILURE)
    X(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    X(CL_COMPILE_PROGRAM_FAILURE) X(CL_LINKER_NOT_AVAILABLE)
    X(CL_LINK_PROGRAM_FAILURE) X(CL_DEVICE_PARTITION_FAILED)
    X(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) X(CL_INVALID_VALUE)
    X(CL_INVALID_DEVICE_TYPE) X(CL_INVALID_PLATFORM) X(CL_INVALID_DEVICE)
    X(CL_INVALID_CONTEXT) X(CL_INVALID_QUEUE_PROPERTIES)
    X(CL_INVALID_COMMAND_QUEUE) X(CL_INVALID_HOST_PTR)
    X(CL_INVALID_MEM_OBJECT) X(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    X(CL_INVALID_IMAGE_SIZE) X(CL_INVALID_SAMPLER) X(CL_INVALID_BINARY)
    X(CL_INVALID_BUILD_OPTIONS) X(CL_INVALID_PROGRAM)
    X(CL_INVALID_PROGRAM_EXECUTABLE) X(CL_INVALID_KERNEL_NAME)
    X(CL_INVALID_KERNEL_DEFINITION) X(CL_INVALID_KERNEL)
    X(CL_INVALID_ARG_INDEX) X(CL_INVALID_ARG_VALUE) X(CL_INVALID_ARG_SIZE)
    X(CL_INVALID_KERNEL_ARGS) X(CL_INVALID_WORK_DIMENSION)
    X(CL_INVALID_WORK_GROUP_SIZE) X(CL_INVALID_WORK_ITEM_SIZE)
    X(CL_INVALID_GLOBAL_OFFSET) X(CL_INVALID_EVENT_WAIT_LIST)
    X(CL_INVALID_EVENT) X(CL_INVALID_OPERATION) X(CL_INVALID_GL_OBJECT)
    X(CL_INVALID_BUFFER_SIZE) X(CL_INVALID_MIP_LEVEL)
    X(CL_INVALID_GLOBAL_WORK_SIZE) X(CL_INVALID_PROPERTY)
    X(CL_INVALID_IMAGE_DESCRIPTOR) X(CL_INVALID_COMPILER_OPTIONS)
    X(CL_INVALID_LINKER_OPTIONS) X(CL_INVALID_DEVICE_PARTITION_COUNT)
    { -1001, "CL_PLATFORM_NOT_FOUND_KHR" },
};
#undef X

const char *cld_cl_errname(cl_int err)
{
    static _Thread_local char buf[32];

    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++) {
        if (errnames[i].code == err)
            return errnames[i].name;
    }
    snprintf(buf, sizeof buf, "CL_ERROR(%d)", (int)err);
    return buf;
}

static cl_int errcode_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++) {
        if (strcmp(errnames[i].name, name) == 0)
            return errnames[i].code;
    }
    return CL_OUT_OF_RESOURCES;
}

enum cld_status cld_clw_check(cl_int err, const char *call)
{
    if (err == CL_SUCCESS)
        return CLD_OK;
    return cld_error_set(CLD_ERR_CL, "%s: %s", call, cld_cl_errname(err));
}

/* --- fault injection ---------------------------------------------------- */

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static char fault_call[160];
static unsigned fault_nth;   /* 0: every call */
static unsigned fault_seen;
static cl_int fault_err;
static bool fault_armed;

static void fault_set_locked(const char *call, unsigned nth, cl_int err)
{
    snprintf(fault_call, sizeof fault_call, "%s", call);
    fault_nth = nth;
    fault_seen = 0;
    fault_err = err;
    fault_armed = true;
}

static void fault_from_env(void)
{
    const char *env = getenv("CLDISPATCH_FAULT");
    char buf[160];
    char *nth, *name;

    if (!env || !*env)
        return;
    snprintf(buf, sizeof buf, "%s", env);
    nth = strchr(buf, ':');
    name = NULL;
    if (nth) {
        *nth++ = '\0';
        name = strchr(nth, ':');
        if (name)
            *name++ = '\0';
    }
    fault_set_locked(buf, nth ? (unsigned)strtoul(nth, NULL, 10) : 1,
                     name ? errcode_from_name(name) : CL_OUT_OF_RESOURCES);
}

void cld_clw_fault_set(const char *call, unsigned nth, cl_int err)
{
    pthread_once(&fault_once, fault_from_env);
    pthread_mutex_lock(&fault_lock);
    fault_set_locked(call, nth, err);
    pthread_mutex_unlock(&fault_lock);
}

void cld_clw_fault_clear(void)
{
    pthread_once(&fault_once, fault_from_env);
    pthread_mutex_lock(&fault_lock);
    fault_armed = false;
    pthread_mutex_unlock(&fault_lock);
}

cl_int cld_clw_fault(const char *call)
{
    cl_int err = CL_SUCCESS;

    pthread_once(&fault_once, fault_from_env);
    pthread_mutex_lock(&fault_lock);
    if (fault_armed && (strcmp(fault_call, "*") == 0 ||
                        strcmp(fault_call, call) == 0)) {
        fault_seen++;
        if (fault_nth == 0 || fault_seen == fault_nth)
            err = fault_err;
    }
    pthread_mutex_unlock(&fault_lock);
    return err;
}

unsigned cld_clw_fault_seen(void)
{
    unsigned n;

    pthread_mutex_lock(&fault_lock);
    n = fault_seen;
    pthread_mutex_unlock(&fault_lock);
    return n;
}

/* --- kernel sources ----------------------------------------------------- */

/* The whole file plus a terminating NUL; *size (when non-NULL) gets the
 * length without it. Files over max bytes are CLD_ERR_TOO_LARGE. */
static enum cld_status read_file_max(const char *path, long max, char **out,
                                     size_t *size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;
    enum cld_status st = CLD_OK;

    *out = NULL;
    if (!f)
        return cld_error_set(CLD_ERR_NOT_FOUND, "%s: cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        st = cld_error_set(CLD_ERR_IO, "%s: cannot read", path);
        goto out;
    }
    if (len > max) {
        st = cld_error_set(CLD_ERR_TOO_LARGE, "%s: %ld bytes", path, len);
        goto out;
    }
    buf = malloc((size_t)len + 1);
    if (!buf) {
        st = cld_error_set(CLD_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        st = cld_error_set(CLD_ERR_IO, "%s: short read", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[len] = '\0';
    *out = buf;
    if (size)
        *size = (size_t)len;
out:
    fclose(f);
    return st;
}

static enum cld_status read_file(const char *path, char **out)
{
    return read_file_max(path, 64L << 20, out, NULL);
}

enum cld_status cld_kernel_source(const char *family, char **out)
{
    const char *dir = getenv("CLDISPATCH_KERNEL_DIR");

    *out = NULL;
    if (dir && *dir) {
        char path[4096];

        snprintf(path, sizeof path, "%s/%s.cl", dir, family);
        return read_file(path, out);
    }
    for (size_t i = 0; cld__kernel_sources[i].family; i++) {
        if (strcmp(cld__kernel_sources[i].family, family) == 0) {
            *out = strdup(cld__kernel_sources[i].text);
            return *out ? CLD_OK
                        : cld_error_set(CLD_ERR_NOMEM, "out of memory");
        }
    }
    return cld_error_set(CLD_ERR_INTERNAL, "no kernel family '%s'", family);
}

/* --- contexts ----------------------------------------------------------- */

struct program_entry {
    char key[192];
    cl_program prog;   /* NULL when the source failed to compile */
    char *build_error; /* the failure's detail (with the build log) */
    struct program_entry *next;
};

struct cld_clctx {
    cl_device_id dev;
    cl_device_type type;
    cl_context ctx;
    cl_command_queue queue;
    bool unified;
    struct cld_dev_facts facts; /* for the jobs' plans */
    pthread_mutex_t lock;  /* guards programs, names and stats */
    pthread_mutex_t submit; /* command submission, see clw.h */
    struct program_entry *programs;
    char devname[256];     /* filled at the first build, for the cache */
    char driver[256];
    struct cld_clctx_stats stats;
    struct cld_devq *devq; /* the launcher's queues and ring (devq.h) */
};

enum cld_status cld_clctx_create(cl_device_id dev, struct cld_clctx **out)
{
    struct cld_clctx *c = NULL;
    cl_int err;
    cl_bool unified = CL_FALSE;
    cl_ulong lmem = 0, gmem = 0;
    cl_uint units = 1, native = 1;
    size_t group = 1;
    enum cld_status st;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    c->dev = dev;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->submit, NULL);
    err = cld_clw_fault("clGetDeviceInfo");
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof c->type, &c->type,
                              NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_HOST_UNIFIED_MEMORY,
                              sizeof unified, &unified, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem,
                              &lmem, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem,
                              &gmem, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units,
                              &units, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE,
                              sizeof group, &group, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT,
                              sizeof native, &native, NULL);
    if ((st = cld_clw_check(err, "clGetDeviceInfo")) != CLD_OK)
        goto fail;
    c->unified = unified || (c->type & CL_DEVICE_TYPE_CPU);
    c->facts.cpu = c->type & CL_DEVICE_TYPE_CPU;
    c->facts.host_unified = c->unified;
    c->facts.local_mem = lmem;
    c->facts.global_mem = gmem;
    c->facts.compute_units = units ? units : 1;
    c->facts.max_group = group ? group : 1;
    c->facts.native_float = native ? native : 1;
    err = cld_clw_fault("clCreateContext");
    if (err == CL_SUCCESS)
        c->ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    if ((st = cld_clw_check(err, "clCreateContext")) != CLD_OK)
        goto fail;
    err = cld_clw_fault("clCreateCommandQueue");
    if (err == CL_SUCCESS)
        c->queue = clCreateCommandQueue(c->ctx, dev,
                                        CL_QUEUE_PROFILING_ENABLE, &err);
    if ((st = cld_clw_check(err, "clCreateCommandQueue")) != CLD_OK)
        goto fail;
    *out = c;
    return CLD_OK;
fail:
    cld_clctx_destroy(c);
    return st;
}

const struct cld_dev_facts *cld_clctx_facts(const struct cld_clctx *ctx)
{
    return &ctx->facts;
}

void cld_clctx_destroy(struct cld_clctx *c)
{
    struct program_entry *p, *next;

    if (!c)
        return;
    if (c->queue)
        clFinish(c->queue);
    cld_devq_destroy(c->devq);
    for (p = c->programs; p; p = next) {
        next = p->next;
        if (p->prog)
            clReleaseProgram(p->prog);
        free(p->build_error);
        free(p);
    }
    if (c->queue)
        clReleaseCommandQueue(c->queue);
    if (c->ctx)
        clReleaseContext(c->ctx);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->submit);
    free(c);
}

void cld_clctx_lock(struct cld_clctx *c)
{
    pthread_mutex_lock(&c->submit);
}

void cld_clctx_unlock(struct cld_clctx *c)
{
    pthread_mutex_unlock(&c->submit);
}

cl_context cld_clctx_context(const struct cld_clctx *c) { return c->ctx; }
cl_command_queue cld_clctx_queue(const struct cld_clctx *c)
{
    return c->queue;
}
cl_device_id cld_clctx_device(const struct cld_clctx *c) { return c->dev; }
bool cld_clctx_host_unified(const struct cld_clctx *c) { return c->unified; }
cl_device_type cld_clctx_type(const struct cld_clctx *c) { return c->type; }

static void build_log(cl_program prog, cl_device_id dev, const char *family)
{
    size_t len = 0;
    char *log;

    if (clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL,
                              &len) != CL_SUCCESS || len == 0) {
        cld_error_set(CLD_ERR_BUILD, "building cl/%s.cl failed (no log)",
                      family);
        return;
    }
    log = malloc(len + 1);
    if (!log || clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, len,
                                      log, NULL) != CL_SUCCESS) {
        free(log);
        cld_error_set(CLD_ERR_BUILD, "building cl/%s.cl failed", family);
        return;
    }
    log[len] = '\0';
    cld_error_set(CLD_ERR_BUILD, "building cl/%s.cl failed; build log:\n%s",
                  family, log);
    free(log);
}

/* --- program binary cache ---------------------------------------------- */

/* Version 2: the payload's SHA-256 and a keyed MAC of the header (see
 * seal.h); version 1 had a 64-bit FNV sum that a writer could recompute. */
#define CACHE_MAGIC_NAME "cldispatch-clbin "
#define CACHE_MAGIC CACHE_MAGIC_NAME "2\n"
#define CACHE_MAX_BYTES (512L << 20)

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cache_dir;        /* override; NULL = from the environment */
static bool cache_dir_set;
static cld_clw_warn_fn warn_fn;
static void *warn_user;
static bool write_warned;      /* warn once per process on write errors */
/* The sealing key of the last cache folder used, read once per folder. */
static char key_dir[4096];     /* "" until a key is read */
static struct cld_seal_key key_bytes;
static bool key_ok;

void cld_clw_cache_set_dir(const char *dir)
{
    pthread_mutex_lock(&cache_lock);
    free(cache_dir);
    cache_dir = dir ? strdup(dir) : NULL;
    cache_dir_set = dir != NULL;
    key_dir[0] = '\0'; /* read the key again at the next build */
    pthread_mutex_unlock(&cache_lock);
}

void cld_clw_set_warn(cld_clw_warn_fn fn, void *user)
{
    pthread_mutex_lock(&cache_lock);
    warn_fn = fn;
    warn_user = user;
    pthread_mutex_unlock(&cache_lock);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
    char line[1024];
    cld_clw_warn_fn fn;
    void *user;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&cache_lock);
    fn = warn_fn;
    user = warn_user;
    pthread_mutex_unlock(&cache_lock);
    if (fn)
        fn(line, user);
    else
        fprintf(stderr, "cldispatch: warning: %s\n", line);
}

/* The cache folder (malloc'd), or NULL when the cache is off. */
static char *cache_folder(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *dir = NULL;
    int rc = 0;

    pthread_mutex_lock(&cache_lock);
    if (cache_dir_set)
        dir = cache_dir && *cache_dir ? strdup(cache_dir) : NULL;
    else if (xdg && xdg[0] == '/')
        rc = asprintf(&dir, "%s/cldispatch/kernels", xdg);
    else if (home && *home)
        rc = asprintf(&dir, "%s/.cache/cldispatch/kernels", home);
    pthread_mutex_unlock(&cache_lock);
    return rc < 0 ? NULL : dir;
}

/* The sealing key of dir (creating the folder and the key when missing);
 * false, after one warning per folder, when there is none to be had: the
 * cache is then off, since an unsealed file must never reach a driver. */
static bool cache_key(const char *dir, struct cld_seal_key *key)
{
    bool ok, fresh;
    char why[512] = "";

    pthread_mutex_lock(&cache_lock);
    fresh = strcmp(key_dir, dir) != 0;
    if (fresh) {
        snprintf(key_dir, sizeof key_dir, "%s", dir);
        key_ok = cld_mkdir_p(dir) == CLD_OK &&
                 cld_seal_key_load(dir, &key_bytes) == CLD_OK;
        if (!key_ok)
            snprintf(why, sizeof why, "%s", cld_error_detail());
    }
    ok = key_ok;
    *key = key_bytes;
    pthread_mutex_unlock(&cache_lock);
    if (fresh && !ok)
        warn("kernel cache: off, no sealing key: %s", why);
    return ok;
}

/* A lookup hash for cache file names (not an integrity check). */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#define FNV_SEED UINT64_C(0xcbf29ce484222325)

/* Lower-case letters and digits of s, other runs as one '-'. */
static void slug(char *dst, size_t size, const char *s)
{
    size_t n = 0;

    for (; *s && n + 1 < size; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch))
            dst[n++] = (char)tolower(ch);
        else if (n > 0 && dst[n - 1] != '-')
            dst[n++] = '-';
    }
    while (n > 0 && dst[n - 1] == '-')
        n--;
    dst[n] = '\0';
}

/* Device name and driver version, once per context (under its lock). */
static void device_names(struct cld_clctx *c)
{
    char *p;

    if (c->devname[0])
        return;
    if (clGetDeviceInfo(c->dev, CL_DEVICE_NAME, sizeof c->devname - 1,
                        c->devname, NULL) != CL_SUCCESS)
        snprintf(c->devname, sizeof c->devname, "unknown");
    if (clGetDeviceInfo(c->dev, CL_DRIVER_VERSION, sizeof c->driver - 1,
                        c->driver, NULL) != CL_SUCCESS)
        snprintf(c->driver, sizeof c->driver, "unknown");
    /* The header is line-based: no newlines in the values. */
    for (p = c->devname; *p; p++)
        *p = *p == '\n' || *p == '\r' ? ' ' : *p;
    for (p = c->driver; *p; p++)
        *p = *p == '\n' || *p == '\r' ? ' ' : *p;
}

/* The header every cache file of this device, source and options starts
 * with; the binary's size and checksum follow it. */
static void cache_header(const struct cld_clctx *c, uint64_t key, char *buf,
                         size_t size)
{
    snprintf(buf, size, CACHE_MAGIC "device=%s\ndriver=%s\nkey=%016llx\n",
             c->devname, c->driver, (unsigned long long)key);
}

/* Load path as a program for c. CLD_OK with *out set on a hit; CLD_OK with
 * *out NULL on a miss (no file, or one of an older format, replaced
 * without a warning) or a rejected file (*rejected set, with the reason in
 * why); an error when an injected build fault says the build fails.
 * Nothing of the file reaches the driver before its size, the SHA-256 of
 * its payload and the MAC of its header have been checked. */
static enum cld_status cache_load(struct cld_clctx *c, const char *path,
                                  const char *header,
                                  const struct cld_seal_key *key,
                                  const char *opts, const char *family,
                                  cl_program *out, bool *rejected, char *why,
                                  size_t whylen)
{
    char *buf = NULL;
    size_t len = 0, hlen = strlen(header), bsize, maclen;
    const unsigned char *bin;
    const char *p, *end;
    char tail[512], sha[CLD_SEAL_HEX_LEN], mac[CLD_SEAL_HEX_LEN];
    char want[CLD_SEAL_HEX_LEN];
    cl_program prog = NULL;
    cl_int err, bstatus = CL_SUCCESS;
    enum cld_status st = CLD_OK;
    int used = 0, macat = 0;

    *out = NULL;
    *rejected = false;
    if (read_file_max(path, CACHE_MAX_BYTES, &buf, &len) == CLD_ERR_NOT_FOUND)
        return CLD_OK;
    cld_error_clear();
    *rejected = true;
    if (!buf) {
        snprintf(why, whylen, "unreadable or too large");
        goto out;
    }
    if (len < hlen || memcmp(buf, header, hlen) != 0) {
        if (strncmp(buf, CACHE_MAGIC_NAME, strlen(CACHE_MAGIC_NAME)) == 0 &&
            strncmp(buf, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0) {
            /* Another version's file: expected after an upgrade. */
            *rejected = false;
            goto out;
        }
        snprintf(why, whylen, "%s", strncmp(buf, CACHE_MAGIC,
                                            strlen(CACHE_MAGIC)) == 0
                                        ? "built for another device, "
                                          "driver or source"
                                        : "not a cldispatch kernel cache "
                                          "file");
        goto out;
    }
    /* The rest of the header ends at the first blank line; the binary,
     * which may start with any byte, follows it. */
    p = buf + hlen;
    end = memmem(p, len - hlen < 256 ? len - hlen : 256, "\n\n", 2);
    if (!end) {
        snprintf(why, whylen, "damaged header");
        goto out;
    }
    snprintf(tail, sizeof tail, "%.*s", (int)(end - p + 1), p);
    if (sscanf(tail, "size=%zu\nsha256=%64[0-9a-f]\n%nmac=%64[0-9a-f]\n%n",
               &bsize, sha, &macat, mac, &used) != 3
        || used != (int)strlen(tail)) {
        snprintf(why, whylen, "damaged header");
        goto out;
    }
    bin = (const unsigned char *)end + 2;
    if (bsize == 0 || (size_t)(bin - (const unsigned char *)buf) + bsize
                          != len) {
        snprintf(why, whylen, "truncated (%zu bytes, header says %zu)",
                 len - (size_t)(bin - (const unsigned char *)buf), bsize);
        goto out;
    }
    cld_seal_sha256(bin, bsize, want);
    if (!cld_seal_equal(want, sha)) {
        snprintf(why, whylen, "SHA-256 checksum mismatch (damaged payload)");
        goto out;
    }
    /* The MAC covers the header up to and including the sha256 line, so
     * a payload changed together with its size and SHA-256 still fails
     * unless whoever changed it could read the key. */
    maclen = hlen + (size_t)macat;
    cld_seal_mac(key, buf, maclen, want);
    if (!cld_seal_equal(want, mac)) {
        snprintf(why, whylen, "header not sealed by this cache's key "
                 "(edited, or the key changed)");
        goto out;
    }
    err = cld_clw_fault("clCreateProgramWithBinary");
    if (err == CL_SUCCESS)
        prog = clCreateProgramWithBinary(c->ctx, 1, &c->dev, &bsize, &bin,
                                         &bstatus, &err);
    if (err != CL_SUCCESS || bstatus != CL_SUCCESS) {
        snprintf(why, whylen, "clCreateProgramWithBinary: %s",
                 cld_cl_errname(err != CL_SUCCESS ? err : bstatus));
        goto out;
    }
    /* An injected build fault stands for a device that cannot build the
     * program, from source or binary alike. */
    err = cld_clw_fault("clBuildProgram");
    if (err != CL_SUCCESS) {
        *rejected = false;
        if (err == CL_BUILD_PROGRAM_FAILURE) {
            build_log(prog, c->dev, family);
            st = CLD_ERR_BUILD;
        } else {
            st = cld_clw_check(err, "clBuildProgram");
        }
        goto out;
    }
    err = clBuildProgram(prog, 1, &c->dev, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        snprintf(why, whylen, "clBuildProgram: %s", cld_cl_errname(err));
        goto out;
    }
    *rejected = false;
    *out = prog;
    prog = NULL;
out:
    if (prog)
        clReleaseProgram(prog);
    free(buf);
    return st;
}

/* Save prog's binary under path (atomically); false on failure, with the
 * reason in why. */
static bool cache_save(const char *dir, const char *path, const char *header,
                       const struct cld_seal_key *key, cl_program prog,
                       char *why, size_t whylen)
{
    struct cld_atomic_file af;
    size_t bsize = 0;
    unsigned char *bin = NULL;
    char *sealed = NULL, sha[CLD_SEAL_HEX_LEN], mac[CLD_SEAL_HEX_LEN];
    int slen;
    cl_int err;
    bool ok = false;

    err = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bsize,
                           &bsize, NULL);
    if (err != CL_SUCCESS || bsize == 0) {
        snprintf(why, whylen, "no program binary (%s)",
                 err ? cld_cl_errname(err) : "size 0");
        return false;
    }
    bin = malloc(bsize);
    if (!bin) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    err = clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin,
                           NULL);
    if (err != CL_SUCCESS) {
        snprintf(why, whylen, "clGetProgramInfo: %s", cld_cl_errname(err));
        goto out;
    }
    if (cld_mkdir_p(dir) != CLD_OK ||
        cld_atomic_open(path, true, &af) != CLD_OK) {
        snprintf(why, whylen, "%s", cld_error_detail());
        goto out;
    }
    af.no_sync = true; /* a torn file fails its checksum and is rebuilt */
    cld_seal_sha256(bin, bsize, sha);
    slen = asprintf(&sealed, "%ssize=%zu\nsha256=%s\n", header, bsize, sha);
    if (slen < 0) {
        sealed = NULL;
        cld_atomic_abort(&af);
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    cld_seal_mac(key, sealed, (size_t)slen, mac);
    if (fprintf(af.fp, "%smac=%s\n\n", sealed, mac) < 0 ||
        fwrite(bin, 1, bsize, af.fp) != bsize) {
        cld_atomic_abort(&af);
        snprintf(why, whylen, "%s: write failed", path);
        goto out;
    }
    if (cld_atomic_commit(&af) != CLD_OK) {
        snprintf(why, whylen, "%s", cld_error_detail());
        goto out;
    }
    ok = true;
out:
    free(sealed);
    free(bin);
    return ok;
}

static enum cld_status build_program(struct cld_clctx *c, const char *family,
                                     const char *options, cl_program *out)
{
    char *src = NULL, *dir = NULL, *path = NULL;
    char opts[512], header[768], why[512], name[64], drv[32];
    cl_program prog = NULL;
    cl_int err;
    enum cld_status st;
    const char *text;
    uint64_t key;
    struct cld_seal_key seal;
    bool rejected = false;
    double t0 = cld_now_s();

    *out = NULL;
    if ((st = cld_kernel_source(family, &src)) != CLD_OK)
        return st;
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 %s", options ? options : "");
    dir = cache_folder();
    if (dir && cache_key(dir, &seal)) {
        device_names(c);
        key = fnv1a(FNV_SEED, src, strlen(src) + 1);
        key = fnv1a(key, opts, strlen(opts) + 1);
        cache_header(c, key, header, sizeof header);
        slug(name, sizeof name, c->devname);
        slug(drv, sizeof drv, c->driver);
        if (asprintf(&path, "%s/%s-%s-%016llx.bin", dir, name, drv,
                     (unsigned long long)key) < 0)
            path = NULL;
    }
    if (path) {
        st = cache_load(c, path, header, &seal, opts, family, &prog,
                        &rejected, why, sizeof why);
        if (st != CLD_OK)
            goto out;
        if (prog) {
            c->stats.binary_loads++;
            goto done;
        }
        if (rejected) {
            c->stats.cache_rejects++;
            warn("kernel cache: %s: %s; ignored, building from source",
                 path, why);
        }
    }
    text = src;
    err = cld_clw_fault("clCreateProgramWithSource");
    if (err == CL_SUCCESS)
        prog = clCreateProgramWithSource(c->ctx, 1, &text, NULL, &err);
    if ((st = cld_clw_check(err, "clCreateProgramWithSource")) != CLD_OK)
        goto out;
    err = cld_clw_fault("clBuildProgram");
    if (err == CL_SUCCESS)
        err = clBuildProgram(prog, 1, &c->dev, opts, NULL, NULL);
    if (err == CL_BUILD_PROGRAM_FAILURE) {
        build_log(prog, c->dev, family);
        st = CLD_ERR_BUILD;
        goto out;
    }
    if ((st = cld_clw_check(err, "clBuildProgram")) != CLD_OK)
        goto out;
    c->stats.source_builds++;
    if (path) {
        if (cache_save(dir, path, header, &seal, prog, why, sizeof why)) {
            c->stats.cache_writes++;
        } else {
            bool first;

            pthread_mutex_lock(&cache_lock);
            first = !write_warned;
            write_warned = true;
            pthread_mutex_unlock(&cache_lock);
            if (first)
                warn("kernel cache: not saved: %s", why);
        }
    }
done:
    c->stats.build_seconds += cld_now_s() - t0;
    *out = prog;
    prog = NULL;
out:
    if (prog)
        clReleaseProgram(prog);
    free(path);
    free(dir);
    free(src);
    return st;
}

void cld_clctx_get_stats(struct cld_clctx *c, struct cld_clctx_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

enum cld_status cld_clctx_program(struct cld_clctx *c, const char *family,
                                  const char *options, cl_program *out)
{
    char key[192];
    struct program_entry *p;
    enum cld_status st = CLD_OK;

    snprintf(key, sizeof key, "%s|%s", family, options ? options : "");
    pthread_mutex_lock(&c->lock);
    for (p = c->programs; p; p = p->next) {
        if (strcmp(p->key, key) == 0) {
            *out = p->prog;
            if (!p->prog)
                st = cld_error_set(CLD_ERR_BUILD, "%s", p->build_error);
            goto out;
        }
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    st = build_program(c, family, options, &p->prog);
    if (st == CLD_ERR_BUILD) {
        /* A compile error is a property of the source and the device: remember
         * it, so that the items of a batch do not each rebuild and fail. */
        p->build_error = strdup(cld_error_detail());
        if (!p->build_error) {
            free(p);
            goto out;
        }
    } else if (st != CLD_OK) {
        free(p);
        goto out;
    }
    memcpy(p->key, key, sizeof key);
    p->next = c->programs;
    c->programs = p;
    *out = p->prog;
out:
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* --- wrappers ----------------------------------------------------------- */

enum cld_status cld_clw_kernel(cl_program prog, const char *name,
                               cl_kernel *out)
{
    cl_int err = cld_clw_fault("clCreateKernel");

    *out = NULL;
    if (err == CL_SUCCESS)
        *out = clCreateKernel(prog, name, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return cld_error_set(CLD_ERR_CL, "clCreateKernel(%s): %s", name,
                             cld_cl_errname(err));
    }
    return CLD_OK;
}

enum cld_status cld_clw_kernel_group_size(struct cld_clctx *ctx, cl_kernel k,
                                          size_t *out)
{
    cl_int err = cld_clw_fault("clGetKernelWorkGroupInfo");

    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(k, ctx->dev, CL_KERNEL_WORK_GROUP_SIZE,
                                       sizeof *out, out, NULL);
    return cld_clw_check(err, "clGetKernelWorkGroupInfo");
}

enum cld_status cld_clw_arg(cl_kernel k, cl_uint idx, size_t size,
                            const void *value)
{
    cl_int err = cld_clw_fault("clSetKernelArg");

    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, idx, size, value);
    if (err != CL_SUCCESS)
        return cld_error_set(CLD_ERR_CL, "clSetKernelArg(%u): %s", idx,
                             cld_cl_errname(err));
    return CLD_OK;
}

enum cld_status cld_clw_buffer(cl_context ctx, cl_mem_flags flags,
                               size_t size, void *host, cl_mem *out)
{
    cl_int err = cld_clw_fault("clCreateBuffer");

    *out = NULL;
    if (err == CL_SUCCESS)
        *out = clCreateBuffer(ctx, flags, size, host, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return cld_error_set(CLD_ERR_CL, "clCreateBuffer(%zu bytes): %s",
                             size, cld_cl_errname(err));
    }
    return CLD_OK;
}

enum cld_status cld_clw_write(cl_command_queue q, cl_mem mem, bool blocking,
                              size_t offset, size_t size, const void *ptr,
                              cl_uint nwait, const cl_event *wait,
                              cl_event *ev)
{
    cl_int err = cld_clw_fault("clEnqueueWriteBuffer");

    if (err == CL_SUCCESS)
        err = clEnqueueWriteBuffer(q, mem, blocking ? CL_TRUE : CL_FALSE,
                                   offset, size, ptr, nwait, wait, ev);
    return cld_clw_check(err, "clEnqueueWriteBuffer");
}

enum cld_status cld_clw_read(cl_command_queue q, cl_mem mem, bool blocking,
                             size_t offset, size_t size, void *ptr,
                             cl_uint nwait, const cl_event *wait,
                             cl_event *ev)
{
    cl_int err = cld_clw_fault("clEnqueueReadBuffer");

    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(q, mem, blocking ? CL_TRUE : CL_FALSE,
                                  offset, size, ptr, nwait, wait, ev);
    return cld_clw_check(err, "clEnqueueReadBuffer");
}

enum cld_status cld_clw_run(cl_command_queue q, cl_kernel k, cl_uint dims,
                            const size_t *global, const size_t *local,
                            cl_uint nwait, const cl_event *wait,
                            cl_event *ev)
{
    cl_int err = cld_clw_fault("clEnqueueNDRangeKernel");

    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(q, k, dims, NULL, global, local, nwait,
                                     wait, ev);
    return cld_clw_check(err, "clEnqueueNDRangeKernel");
}

enum cld_status cld_clw_map(cl_command_queue q, cl_mem mem, cl_map_flags fl,
                            size_t offset, size_t size, void **out)
{
    cl_int err = cld_clw_fault("clEnqueueMapBuffer");

    *out = NULL;
    if (err == CL_SUCCESS)
        *out = clEnqueueMapBuffer(q, mem, CL_TRUE, fl, offset, size, 0, NULL,
                                  NULL, &err);
    if (err != CL_SUCCESS)
        *out = NULL;
    return cld_clw_check(err, "clEnqueueMapBuffer");
}

enum cld_status cld_clw_unmap(cl_command_queue q, cl_mem mem, void *ptr)
{
    cl_int err = cld_clw_fault("clEnqueueUnmapMemObject");

    if (err == CL_SUCCESS)
        err = clEnqueueUnmapMemObject(q, mem, ptr, 0, NULL, NULL);
    return cld_clw_check(err, "clEnqueueUnmapMemObject");
}

enum cld_status cld_clctx_devq(struct cld_clctx *c, struct cld_devq **out)
{
    enum cld_status st = CLD_OK;

    pthread_mutex_lock(&c->lock);
    if (!c->devq)
        st = cld_devq_create(c, &c->devq);
    *out = c->devq;
    pthread_mutex_unlock(&c->lock);
    return st;
}

enum cld_status cld_clw_queue(struct cld_clctx *c, cl_command_queue *out)
{
    cl_int err = cld_clw_fault("clCreateCommandQueue");

    *out = NULL;
    if (err == CL_SUCCESS)
        *out = clCreateCommandQueue(c->ctx, c->dev,
                                    CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS)
        *out = NULL;
    return cld_clw_check(err, "clCreateCommandQueue");
}

enum cld_status cld_clw_map_async(cl_command_queue q, cl_mem mem,
                                  cl_map_flags fl, size_t offset,
                                  size_t size, cl_uint nwait,
                                  const cl_event *wait, cl_event *ev,
                                  void **out)
{
    cl_int err = cld_clw_fault("clEnqueueMapBuffer");

    *out = NULL;
    if (err == CL_SUCCESS)
        *out = clEnqueueMapBuffer(q, mem, CL_FALSE, fl, offset, size, nwait,
                                  wait, ev, &err);
    if (err != CL_SUCCESS)
        *out = NULL;
    return cld_clw_check(err, "clEnqueueMapBuffer");
}

enum cld_status cld_clw_unmap_async(cl_command_queue q, cl_mem mem,
                                    void *ptr, cl_uint nwait,
                                    const cl_event *wait, cl_event *ev)
{
    cl_int err = cld_clw_fault("clEnqueueUnmapMemObject");

    if (err == CL_SUCCESS)
        err = clEnqueueUnmapMemObject(q, mem, ptr, nwait, wait, ev);
    return cld_clw_check(err, "clEnqueueUnmapMemObject");
}

enum cld_status cld_clw_flush(cl_command_queue q)
{
    cl_int err = cld_clw_fault("clFlush");

    if (err == CL_SUCCESS)
        err = clFlush(q);
    return cld_clw_check(err, "clFlush");
}

enum cld_status cld_clw_on_complete(cl_event ev,
                                    void(CL_CALLBACK *fn)(cl_event, cl_int,
                                                          void *),
                                    void *user)
{
    cl_int err = cld_clw_fault("clSetEventCallback");

    if (err == CL_SUCCESS)
        err = clSetEventCallback(ev, CL_COMPLETE, fn, user);
    return cld_clw_check(err, "clSetEventCallback");
}

enum cld_status cld_clw_wait(cl_uint n, const cl_event *ev)
{
    cl_int err = cld_clw_fault("clWaitForEvents");

    if (err == CL_SUCCESS && n > 0)
        err = clWaitForEvents(n, ev);
    return cld_clw_check(err, "clWaitForEvents");
}

enum cld_status cld_clw_event_times(cl_event ev, cl_ulong *queued,
                                    cl_ulong *start, cl_ulong *end)
{
    cl_int err = cld_clw_fault("clGetEventProfilingInfo");

    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_QUEUED,
                                      sizeof *queued, queued, NULL);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START,
                                      sizeof *start, start, NULL);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END,
                                      sizeof *end, end, NULL);
    return cld_clw_check(err, "clGetEventProfilingInfo");
}

void cld_clctx_name(const struct cld_clctx *ctx, char *buf, size_t n)
{
    size_t got = 0;

    if (n == 0)
        return;
    buf[0] = '\0';
    if (clGetDeviceInfo(ctx->dev, CL_DEVICE_NAME, n - 1, buf, &got) !=
            CL_SUCCESS ||
        got == 0) {
        snprintf(buf, n, "device");
        return;
    }
    buf[got < n ? got : n - 1] = '\0';
}

enum cld_status cld_clw_finish(cl_command_queue q)
{
    cl_int err = cld_clw_fault("clFinish");

    if (err == CL_SUCCESS)
        err = clFinish(q);
    return cld_clw_check(err, "clFinish");
}

void cld_clw_release_mem(cl_mem m)
{
    if (m)
        clReleaseMemObject(m);
}

void cld_clw_release_kernel(cl_kernel k)
{
    if (k)
        clReleaseKernel(k);
}

enum cld_status cld_clw_retain_event(cl_event e)
{
    cl_int err = cld_clw_fault("clRetainEvent");

    if (err == CL_SUCCESS)
        err = clRetainEvent(e);
    return cld_clw_check(err, "clRetainEvent");
}

void cld_clw_release_event(cl_event e)
{
    if (e)
        clReleaseEvent(e);
}
