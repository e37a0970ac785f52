/* The target set: the host and every discovered OpenCL device as placement
 * profiles, their keys in the profile store, --device selection, loading
 * the measured figures, and the pool of their device contexts. The rest
 * of targets.h lives in targets_decide.c, targets_meter.c and
 * targets_synth.c. */
#include "targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <CL/cl.h>

#include "config.h"
#include "ctxpool.h"

struct cld_targets {
    struct cld_device_list list;   /* deep copy; handles as discovered */
    size_t n;
    struct cld_target_profile prof[CLD_PLAN_MAX];
    int device[CLD_PLAN_MAX];      /* index into list.devices, -1: host */
    struct cld_ctxpool *pool;      /* slot i: the context of target i */
};

void cld_targets_device_key(const struct cld_device_info *d, char *buf,
                            size_t len)
{
    char *p;

    snprintf(buf, len, "%s|%s|%s", d->platform_name, d->name,
             d->driver_version);
    /* The store is tab-separated and line-based. */
    for (p = buf; *p; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    }
}

/* The CPU's model name from /proc/cpuinfo, or "cpu". */
static void cpu_model(char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];

    snprintf(buf, len, "cpu");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 1 + strspn(colon + 1, " \t");
            colon[strcspn(colon, "\r\n")] = '\0';
            if (*colon)
                snprintf(buf, len, "%s", colon);
            break;
        }
    }
    fclose(f);
}

void cld_targets_host_key(char *buf, size_t len)
{
    char model[160];
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    cpu_model(model, sizeof model);
    /* The host's speed is our own C code's: the version is the driver. */
    snprintf(buf, len, "host|%s x%ld|cldispatch %s", model, n > 0 ? n : 1,
             CLD_VERSION);
}

static enum cld_status copy_list(struct cld_device_list *dst,
                                 const struct cld_device_list *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src)
        return CLD_OK;
    memcpy(dst->loader_name, src->loader_name, sizeof dst->loader_name);
    memcpy(dst->loader_version, src->loader_version,
           sizeof dst->loader_version);
    if (src->nplatforms > 0) {
        dst->platforms = calloc((size_t)src->nplatforms,
                                sizeof *dst->platforms);
        if (!dst->platforms)
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        memcpy(dst->platforms, src->platforms,
               (size_t)src->nplatforms * sizeof *dst->platforms);
        dst->nplatforms = src->nplatforms;
    }
    if (src->ndevices > 0) {
        dst->devices = calloc((size_t)src->ndevices, sizeof *dst->devices);
        if (!dst->devices)
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        memcpy(dst->devices, src->devices,
               (size_t)src->ndevices * sizeof *dst->devices);
        dst->ndevices = src->ndevices;
    }
    return CLD_OK;
}

static void device_profile(const struct cld_device_info *d,
                           struct cld_target_profile *t)
{
    enum cld_target_kind kind = CLD_TARGET_CL_ACCEL;
    char key[CLD_KEY_MAX];

    if (d->type & CL_DEVICE_TYPE_GPU)
        kind = CLD_TARGET_CL_GPU;
    else if (d->type & CL_DEVICE_TYPE_CPU)
        kind = CLD_TARGET_CL_CPU;
    cld_targets_device_key(d, key, sizeof key);
    cld_target_init(t, kind, d->index, d->id, key);
    t->compute_units = d->compute_units;
    t->max_clock_mhz = d->max_clock_mhz;
    t->global_mem_bytes = d->global_mem;
    t->max_alloc_bytes = d->max_alloc;
    t->host_unified_memory = d->host_unified || kind == CLD_TARGET_CL_CPU;
    t->fp64 = d->fp64;
    t->vector_width_float = d->pref_vec_float;
}

static void host_profile(struct cld_target_profile *t)
{
    char key[CLD_KEY_MAX];
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    cld_targets_host_key(key, sizeof key);
    cld_target_init(t, CLD_TARGET_HOST, -1, "host", key);
    t->compute_units = n > 0 ? (uint32_t)n : 1;
    t->fp64 = true;
    /* The C reference runs one item on one thread; items of a batch run
     * side by side on every target alike. */
    t->host_threads = 1;
}

enum cld_status cld_targets_create(const struct cld_device_list *list,
                                   struct cld_targets **out)
{
    struct cld_targets *t = calloc(1, sizeof *t);
    enum cld_status st;

    *out = NULL;
    if (!t)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    if ((st = copy_list(&t->list, list)) != CLD_OK) {
        cld_targets_destroy(t);
        return st;
    }
    host_profile(&t->prof[0]);
    t->device[0] = -1;
    t->n = 1;
    for (int i = 0; i < t->list.ndevices && t->n < CLD_PLAN_MAX; i++) {
        device_profile(&t->list.devices[i], &t->prof[t->n]);
        t->device[t->n] = i;
        t->n++;
    }
    if ((st = cld_ctxpool_create(t->n, &t->pool)) != CLD_OK) {
        cld_targets_destroy(t);
        return st;
    }
    *out = t;
    return CLD_OK;
}

enum cld_status cld_targets_discover(bool host_only, struct cld_targets **out)
{
    struct cld_device_list list;
    enum cld_status st;

    if (host_only)
        return cld_targets_create(NULL, out);
    if ((st = cld_device_discover(&list)) != CLD_OK)
        return st;
    st = cld_targets_create(&list, out);
    /* The copy keeps the handles; root devices and platforms are not
     * reference counted, so freeing the list releases nothing they need. */
    cld_device_list_free(&list);
    return st;
}

bool cld_targets_load_seconds(struct cld_targets *t, double *seconds)
{
    return cld_ctxpool_load_seconds(t->pool, seconds);
}

const struct cld_device_list *cld_targets_list(const struct cld_targets *t)
{
    return &t->list;
}

void cld_targets_warn_dropped(const struct cld_targets *t, FILE *err)
{
    if (t)
        cld_device_list_warn(&t->list, err);
}

void cld_targets_destroy(struct cld_targets *t)
{
    if (!t)
        return;
    cld_ctxpool_destroy(t->pool);
    free(t->list.platforms);
    free(t->list.devices);
    free(t);
}

size_t cld_targets_count(const struct cld_targets *t)
{
    return t->n;
}

const struct cld_target_profile *
cld_targets_profiles(const struct cld_targets *t)
{
    return t->prof;
}

struct cld_target_profile *cld_targets_profile(struct cld_targets *t,
                                               size_t i)
{
    return i < t->n ? &t->prof[i] : NULL;
}

const struct cld_device_info *cld_targets_device(const struct cld_targets *t,
                                                 size_t i)
{
    if (i >= t->n || t->device[i] < 0)
        return NULL;
    return &t->list.devices[t->device[i]];
}

enum cld_status cld_targets_select(const struct cld_targets *t,
                                   const char *spec, int *index)
{
    struct cld_selection sel;
    enum cld_status st;

    *index = -1;
    if (!spec || !*spec)
        spec = "auto";
    if ((st = cld_device_selector_check(spec)) != CLD_OK)
        return st;
    if (strcasecmp(spec, "auto") == 0)
        return CLD_OK;
    if (strcasecmp(spec, "host") == 0) {
        *index = 0;
        return CLD_OK;
    }
    if ((st = cld_device_select(&t->list, spec, &sel)) != CLD_OK)
        return st;
    if (sel.kind == CLD_SELECT_HOST) {
        *index = 0;
        return CLD_OK;
    }
    if (sel.kind == CLD_SELECT_AUTO)
        return CLD_OK;
    for (size_t i = 1; i < t->n; i++) {
        if (t->device[i] == sel.device) {
            *index = (int)i;
            return CLD_OK;
        }
    }
    return cld_error_set(CLD_ERR_NO_DEVICE, "device '%s' is not usable",
                         spec);
}

enum cld_status cld_targets_context(struct cld_targets *t, size_t i,
                                    struct cld_clctx **out)
{
    *out = NULL;
    if (i >= t->n)
        return cld_error_set(CLD_ERR_INVALID, "no target %zu", i);
    if (t->device[i] < 0)
        return CLD_OK;
    return cld_ctxpool_get(t->pool, i, &t->list.devices[t->device[i]], out);
}

struct cld_clctx *cld_targets_context_if_any(struct cld_targets *t,
                                             size_t i)
{
    return i < t->n ? cld_ctxpool_peek(t->pool, i) : NULL;
}

bool cld_targets_programs(struct cld_targets *t, size_t i,
                          struct cld_target_programs *out)
{
    return cld_ctxpool_programs(t->pool, i, &out->source_builds,
                                &out->binary_loads);
}

static void add_warning(char *warn, size_t len, const char *w)
{
    size_t have;

    if (!warn || !w || !*w || strstr(warn, w))
        return;
    have = strlen(warn);
    snprintf(warn + have, len - have, "%s%s", have ? "; " : "", w);
}

enum cld_status cld_targets_load(struct cld_targets *t,
                                 struct cld_profile_store *s,
                                 struct cld_history *hist,
                                 unsigned *nprofiles, char *warn,
                                 size_t warnlen)
{
    enum cld_status st = CLD_OK;
    unsigned found_n = 0;

    if (warn && warnlen)
        warn[0] = '\0';
    for (size_t i = 0; i < t->n && st == CLD_OK; i++) {
        bool found = false;

        st = cld_profile_load(s, &t->prof[i], &found);
        found_n += found;
        add_warning(warn, warnlen, cld_profile_store_warning(s));
    }
    if (st == CLD_OK && hist) {
        st = cld_profile_load_history(s, hist);
        add_warning(warn, warnlen, cld_profile_store_warning(s));
    }
    if (nprofiles)
        *nprofiles = found_n;
    return st;
}

void cld_targets_set_load(struct cld_targets *t, double busy,
                          unsigned cores)
{
    for (size_t i = 0; i < t->n; i++) {
        struct cld_target_profile *p = &t->prof[i];
        bool shared = p->kind == CLD_TARGET_HOST
                      || p->kind == CLD_TARGET_CL_CPU;

        p->shared_cores = shared && busy >= 0 ? cores : 0;
        p->busy_cores = shared && busy >= 0 ? busy : 0;
    }
}
