/* Checked OpenCL wrappers, the fault-injection switch, kernel sources and
 * per-device contexts with a program cache. */
#include "clw.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_embedded.h"

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

/* --- kernel sources ----------------------------------------------------- */

static enum cld_status read_file(const char *path, char **out)
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
out:
    fclose(f);
    return st;
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
    cl_program prog;
    struct program_entry *next;
};

struct cld_clctx {
    cl_device_id dev;
    cl_device_type type;
    cl_context ctx;
    cl_command_queue queue;
    bool unified;
    pthread_mutex_t lock;
    struct program_entry *programs;
};

enum cld_status cld_clctx_create(cl_device_id dev, struct cld_clctx **out)
{
    struct cld_clctx *c = NULL;
    cl_int err;
    cl_bool unified = CL_FALSE;
    enum cld_status st;

    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    c->dev = dev;
    pthread_mutex_init(&c->lock, NULL);
    err = cld_clw_fault("clGetDeviceInfo");
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof c->type, &c->type,
                              NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(dev, CL_DEVICE_HOST_UNIFIED_MEMORY,
                              sizeof unified, &unified, NULL);
    if ((st = cld_clw_check(err, "clGetDeviceInfo")) != CLD_OK)
        goto fail;
    c->unified = unified || (c->type & CL_DEVICE_TYPE_CPU);
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

void cld_clctx_destroy(struct cld_clctx *c)
{
    struct program_entry *p, *next;

    if (!c)
        return;
    if (c->queue)
        clFinish(c->queue);
    for (p = c->programs; p; p = next) {
        next = p->next;
        clReleaseProgram(p->prog);
        free(p);
    }
    if (c->queue)
        clReleaseCommandQueue(c->queue);
    if (c->ctx)
        clReleaseContext(c->ctx);
    pthread_mutex_destroy(&c->lock);
    free(c);
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

static enum cld_status build_program(struct cld_clctx *c, const char *family,
                                     const char *options, cl_program *out)
{
    char *src = NULL;
    char opts[512];
    cl_program prog = NULL;
    cl_int err;
    enum cld_status st;
    const char *text;

    *out = NULL;
    if ((st = cld_kernel_source(family, &src)) != CLD_OK)
        return st;
    text = src;
    err = cld_clw_fault("clCreateProgramWithSource");
    if (err == CL_SUCCESS)
        prog = clCreateProgramWithSource(c->ctx, 1, &text, NULL, &err);
    if ((st = cld_clw_check(err, "clCreateProgramWithSource")) != CLD_OK)
        goto out;
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 %s", options ? options : "");
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
    *out = prog;
    prog = NULL;
out:
    if (prog)
        clReleaseProgram(prog);
    free(src);
    return st;
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
            goto out;
        }
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    st = build_program(c, family, options, &p->prog);
    if (st != CLD_OK) {
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

void cld_clw_release_event(cl_event e)
{
    if (e)
        clReleaseEvent(e);
}
