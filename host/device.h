/* Discovery of OpenCL platforms and devices through the ICD loader into
 * plain structs. No platform is an empty list, not an error. The isolated
 * variant probes each platform in a child process so that a faulty vendor
 * driver cannot take the whole report down. */
#ifndef CLD_DEVICE_H
#define CLD_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* The structs that cl_platform_id and cl_device_id point to
 * (CL/cl_platform.h), declared here so that this header, and the CLI and
 * batch code that include it, need no OpenCL header: the handles below
 * are opaque pointers of the very types the OpenCL calls take. */
struct _cl_platform_id;
struct _cl_device_id;

#define CLD_STR_MAX 256
#define CLD_EXT_MAX 8192

struct cld_device_info {
    int index;          /* stable global index: platform order, then device */
    int platform_index;
    int device_in_platform;
    char id[CLD_STR_MAX]; /* "platform-slug:device-slug", usable as a
                             --device selector */
    char platform_name[CLD_STR_MAX];
    char platform_vendor[CLD_STR_MAX];
    char platform_version[CLD_STR_MAX];
    char name[CLD_STR_MAX];
    char vendor[CLD_STR_MAX];
    char version[CLD_STR_MAX];
    char c_version[CLD_STR_MAX];
    char driver_version[CLD_STR_MAX];
    uint64_t type;      /* CL_DEVICE_TYPE_* bits (a cl_device_type) */
    uint32_t compute_units;
    uint32_t max_clock_mhz;
    uint64_t global_mem;
    uint64_t max_alloc;
    uint64_t local_mem;
    bool local_mem_dedicated; /* CL_LOCAL vs CL_GLOBAL local memory */
    uint64_t max_wg;
    uint64_t max_item_sizes[3];
    uint32_t pref_vec_float;
    bool image_support;
    uint64_t image2d_max_w;
    uint64_t image2d_max_h;
    bool fp64;
    bool fp16;
    bool host_unified;
    uint64_t timer_res_ns;
    char extensions[CLD_EXT_MAX];
    /* Handles: valid only for in-process discovery (zero when probed in a
     * child). Root devices and platforms are not reference counted. */
    struct _cl_platform_id *platform;
    struct _cl_device_id *device;
};

struct cld_platform_info {
    int index;
    char name[CLD_STR_MAX];
    char vendor[CLD_STR_MAX];
    char version[CLD_STR_MAX];
    int ndevices;
    enum cld_status status; /* CLD_OK, or why this platform failed */
    char error[512];        /* one line, when status != CLD_OK */
};

struct cld_device_list {
    char loader_name[CLD_STR_MAX];    /* "" when the loader does not say */
    char loader_version[CLD_STR_MAX];
    int nplatforms;
    struct cld_platform_info *platforms; /* owned */
    int ndevices;
    struct cld_device_info *devices;     /* owned */
};

/* Discover in this process. CLD_OK with zero platforms when no ICD is
 * installed. The caller frees with cld_device_list_free. */
enum cld_status cld_device_discover(struct cld_device_list *out);

/* How many times this process has called cld_device_discover (the only
 * in-process start of OpenCL), for tests and --explain. */
unsigned cld_device_discover_count(void);

/* Discover with each platform probed in a child process; a platform whose
 * probe crashes, hangs or fails is kept in the list with status and error
 * set, and the others are still reported. Handles are not filled. */
enum cld_status cld_device_discover_isolated(struct cld_device_list *out);

/* One warning line on f for each platform that discovery dropped, whole
 * or some of its devices, with the failing call and error by name:
 * "cldispatch: warning: OpenCL platform 0 (NAME) dropped: clGetDeviceIDs:
 * CL_OUT_OF_RESOURCES" or "...: device 1 dropped: clGetDeviceInfo(...)". */
void cld_device_list_warn(const struct cld_device_list *list, FILE *f);

void cld_device_list_free(struct cld_device_list *list);

/* "CPU", "GPU", "accelerator", "custom" or "other", for CL_DEVICE_TYPE_*
 * bits. */
const char *cld_device_type_str(uint64_t type);

/* Device selection: auto | host | cpu | gpu | N | PLATFORM:NAME-SUBSTRING.
 * Matching is case-insensitive; PLATFORM matches a substring of the
 * platform name, vendor or id slug. */
enum cld_select_kind {
    CLD_SELECT_AUTO,
    CLD_SELECT_HOST,
    CLD_SELECT_DEVICE
};

struct cld_selection {
    enum cld_select_kind kind;
    int device; /* index into the list when kind == CLD_SELECT_DEVICE */
};

/* Check the syntax of a selector without a device list (for argument
 * parsing): CLD_ERR_USAGE with detail when malformed. */
enum cld_status cld_device_selector_check(const char *spec);

/* Resolve a selector against a list. "cpu"/"gpu" pick the first device of
 * that type (by index); a selector that matches nothing is
 * CLD_ERR_NO_DEVICE with the selector in the detail. */
enum cld_status cld_device_select(const struct cld_device_list *list,
                                  const char *spec,
                                  struct cld_selection *out);

/* Call before the first OpenCL call of the process: ask PoCL to pin its
 * pthread device's worker threads one per core (POCL_AFFINITY=1), unless
 * POCL_AFFINITY is set already (the user's choice stands) or this process
 * may not run on every online core (a cpuset or taskset: PoCL pins worker
 * i to core i). Unpinned, that device's time for a millisecond kernel on
 * a 2-vCPU VM swung between 0.5x and 1.5x of the one-thread device's from
 * second to second; pinned it mostly stays at 0.5-0.9x. True when set. */
bool cld_device_pin_pocl_threads(void);

#endif
