/* Capability report in text and JSON from one field table. */
#include "caps.h"

#include <stddef.h>
#include <string.h>

enum field_kind {
    F_STR,   /* char[] */
    F_U32,   /* uint32_t */
    F_U64,   /* uint64_t */
    F_BYTES, /* uint64_t, humanised in text */
    F_MHZ,   /* uint32_t */
    F_BOOL,  /* bool */
    F_TYPE,  /* cl_device_type */
    F_SIZES, /* uint64_t[3] */
    F_NS,    /* uint64_t nanoseconds */
    F_LMEM   /* bool local_mem_dedicated */
};

struct field {
    const char *key;   /* JSON member */
    const char *label; /* text label */
    enum field_kind kind;
    size_t offset;
};

#define FLD(key, label, kind, member)                                       \
    { key, label, kind, offsetof(struct cld_device_info, member) }

static const struct field fields[] = {
    FLD("name", "Name", F_STR, name),
    FLD("vendor", "Vendor", F_STR, vendor),
    FLD("type", "Type", F_TYPE, type),
    FLD("platform", "Platform", F_STR, platform_name),
    FLD("platform_vendor", "Platform vendor", F_STR, platform_vendor),
    FLD("platform_version", "Platform version", F_STR, platform_version),
    FLD("device_version", "Device version", F_STR, version),
    FLD("opencl_c_version", "OpenCL C version", F_STR, c_version),
    FLD("driver_version", "Driver version", F_STR, driver_version),
    FLD("compute_units", "Compute units", F_U32, compute_units),
    FLD("max_clock_mhz", "Max clock", F_MHZ, max_clock_mhz),
    FLD("global_mem_bytes", "Global memory", F_BYTES, global_mem),
    FLD("max_alloc_bytes", "Max allocation", F_BYTES, max_alloc),
    FLD("local_mem_bytes", "Local memory", F_BYTES, local_mem),
    FLD("local_mem_dedicated", "Local memory type", F_LMEM,
        local_mem_dedicated),
    FLD("max_work_group_size", "Max work-group size", F_U64, max_wg),
    FLD("max_work_item_sizes", "Max work-item sizes", F_SIZES,
        max_item_sizes),
    FLD("preferred_vector_width_float", "Preferred float vector", F_U32,
        pref_vec_float),
    FLD("image_support", "Image support", F_BOOL, image_support),
    FLD("image2d_max_width", "Image2D max width", F_U64, image2d_max_w),
    FLD("image2d_max_height", "Image2D max height", F_U64, image2d_max_h),
    FLD("fp64", "FP64", F_BOOL, fp64),
    FLD("fp16", "FP16", F_BOOL, fp16),
    FLD("host_unified_memory", "Host-unified memory", F_BOOL, host_unified),
    FLD("profiling_timer_resolution_ns", "Timer resolution", F_NS,
        timer_res_ns),
    FLD("extensions", "Extensions", F_STR, extensions),
};

#define NFIELDS (sizeof fields / sizeof fields[0])

void cld_caps_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else if (v == (double)(uint64_t)v)
        snprintf(buf, len, "%.0f %s", v, units[u]);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}

static void field_text(const struct cld_device_info *d,
                       const struct field *f, char *buf, size_t len)
{
    const char *p = (const char *)d + f->offset;
    uint32_t u32;
    uint64_t u64;
    bool b;

    switch (f->kind) {
    case F_STR:
        snprintf(buf, len, "%s", p[0] ? p : "(none)");
        break;
    case F_U32:
        memcpy(&u32, p, sizeof u32);
        snprintf(buf, len, "%u", u32);
        break;
    case F_MHZ:
        memcpy(&u32, p, sizeof u32);
        snprintf(buf, len, "%u MHz", u32);
        break;
    case F_U64:
        memcpy(&u64, p, sizeof u64);
        snprintf(buf, len, "%llu", (unsigned long long)u64);
        break;
    case F_BYTES:
        memcpy(&u64, p, sizeof u64);
        cld_caps_bytes(u64, buf, len);
        break;
    case F_NS:
        memcpy(&u64, p, sizeof u64);
        snprintf(buf, len, "%llu ns", (unsigned long long)u64);
        break;
    case F_BOOL:
        memcpy(&b, p, sizeof b);
        snprintf(buf, len, "%s", b ? "yes" : "no");
        break;
    case F_LMEM:
        memcpy(&b, p, sizeof b);
        snprintf(buf, len, "%s", b ? "dedicated" : "global");
        break;
    case F_TYPE:
        snprintf(buf, len, "%s", cld_device_type_str(d->type));
        break;
    case F_SIZES: {
        uint64_t s[3];

        memcpy(s, p, sizeof s);
        snprintf(buf, len, "%llu x %llu x %llu", (unsigned long long)s[0],
                 (unsigned long long)s[1], (unsigned long long)s[2]);
        break;
    }
    }
}

void cld_caps_print_text(FILE *f, const struct cld_device_list *list,
                         cld_caps_preferred_fn pref, void *user)
{
    char val[CLD_EXT_MAX + 16];
    int width = 0;

    for (size_t i = 0; i < NFIELDS; i++) {
        int l = (int)strlen(fields[i].label);

        width = l > width ? l : width;
    }
    if (list->loader_name[0])
        fprintf(f, "ICD loader: %s %s\n", list->loader_name,
                list->loader_version);
    else
        fprintf(f, "ICD loader: (did not identify itself)\n");
    fprintf(f, "%d platform%s, %d device%s\n", list->nplatforms,
            list->nplatforms == 1 ? "" : "s", list->ndevices,
            list->ndevices == 1 ? "" : "s");
    for (int p = 0; p < list->nplatforms; p++) {
        const struct cld_platform_info *pl = &list->platforms[p];

        fprintf(f, "\nPlatform %d: %s (%s)\n", pl->index,
                pl->name[0] ? pl->name : "(unknown)", pl->vendor);
        if (pl->status != CLD_OK)
            fprintf(f, "  error: %s\n", pl->error);
        if (pl->ndevices == 0 && pl->status == CLD_OK)
            fprintf(f, "  (no devices)\n");
        for (int i = 0; i < list->ndevices; i++) {
            const struct cld_device_info *d = &list->devices[i];

            if (d->platform_index != pl->index)
                continue;
            fprintf(f, "\n  [%d] %s\n", d->index, d->id);
            for (size_t k = 0; k < NFIELDS; k++) {
                field_text(d, &fields[k], val, sizeof val);
                fprintf(f, "    %-*s  %s\n", width, fields[k].label, val);
            }
            if (pref) {
                val[0] = '\0';
                pref(d, val, sizeof val, user);
                if (val[0])
                    fprintf(f, "    %-*s  %s\n", width, "Preferred for",
                            val);
            }
        }
    }
}

void cld_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void field_json(FILE *f, const struct cld_device_info *d,
                       const struct field *fl)
{
    const char *p = (const char *)d + fl->offset;
    uint32_t u32;
    uint64_t u64;
    bool b;

    switch (fl->kind) {
    case F_STR:
        cld_json_string(f, p);
        break;
    case F_U32:
    case F_MHZ:
        memcpy(&u32, p, sizeof u32);
        fprintf(f, "%u", u32);
        break;
    case F_U64:
    case F_BYTES:
    case F_NS:
        memcpy(&u64, p, sizeof u64);
        fprintf(f, "%llu", (unsigned long long)u64);
        break;
    case F_BOOL:
        memcpy(&b, p, sizeof b);
        fputs(b ? "true" : "false", f);
        break;
    case F_LMEM:
        memcpy(&b, p, sizeof b);
        fputs(b ? "\"local\"" : "\"global\"", f);
        break;
    case F_TYPE:
        cld_json_string(f, cld_device_type_str(d->type));
        break;
    case F_SIZES: {
        uint64_t s[3];

        memcpy(s, p, sizeof s);
        fprintf(f, "[%llu, %llu, %llu]", (unsigned long long)s[0],
                (unsigned long long)s[1], (unsigned long long)s[2]);
        break;
    }
    }
}

static void device_json(FILE *f, const struct cld_device_info *d,
                        cld_caps_preferred_fn pref, void *user)
{
    char buf[512];

    fprintf(f, "        {\n          \"index\": %d,\n          \"id\": ",
            d->index);
    cld_json_string(f, d->id);
    for (size_t k = 0; k < NFIELDS; k++) {
        if (fields[k].offset == offsetof(struct cld_device_info, extensions))
            continue;
        fprintf(f, ",\n          \"%s\": ", fields[k].key);
        field_json(f, d, &fields[k]);
    }
    /* Extensions as an array of names. */
    fputs(",\n          \"extensions\": [", f);
    {
        const char *s = d->extensions;
        bool first = true;

        while (*s) {
            size_t n;

            s += strspn(s, " ");
            n = strcspn(s, " ");
            if (n == 0)
                break;
            snprintf(buf, sizeof buf, "%.*s", (int)n, s);
            fputs(first ? "" : ", ", f);
            cld_json_string(f, buf);
            first = false;
            s += n;
        }
    }
    fputs("]", f);
    fputs(",\n          \"preferred_for\": [", f);
    if (pref) {
        char *tok, *save = NULL;
        bool first = true;

        buf[0] = '\0';
        pref(d, buf, sizeof buf, user);
        for (tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            tok += strspn(tok, " ");
            fputs(first ? "" : ", ", f);
            cld_json_string(f, tok);
            first = false;
        }
    }
    fputs("]\n        }", f);
}

void cld_caps_print_json(FILE *f, const struct cld_device_list *list,
                         cld_caps_preferred_fn pref, void *user)
{
    fprintf(f, "{\n  \"schema\": \"%s\",\n  \"loader\": ", CLD_CAPS_SCHEMA);
    if (list->loader_name[0]) {
        fputs("{\"name\": ", f);
        cld_json_string(f, list->loader_name);
        fputs(", \"version\": ", f);
        cld_json_string(f, list->loader_version);
        fputs("}", f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n  \"device_count\": %d,\n  \"platforms\": [",
            list->ndevices);
    for (int p = 0; p < list->nplatforms; p++) {
        const struct cld_platform_info *pl = &list->platforms[p];
        bool first = true;

        fprintf(f, "%s\n    {\n      \"index\": %d,\n      \"name\": ",
                p ? "," : "", pl->index);
        cld_json_string(f, pl->name);
        fputs(",\n      \"vendor\": ", f);
        cld_json_string(f, pl->vendor);
        fputs(",\n      \"version\": ", f);
        cld_json_string(f, pl->version);
        fputs(",\n      \"error\": ", f);
        if (pl->status != CLD_OK)
            cld_json_string(f, pl->error);
        else
            fputs("null", f);
        fputs(",\n      \"devices\": [", f);
        for (int i = 0; i < list->ndevices; i++) {
            if (list->devices[i].platform_index != pl->index)
                continue;
            fputs(first ? "\n" : ",\n", f);
            device_json(f, &list->devices[i], pref, user);
            first = false;
        }
        fputs(first ? "]\n    }" : "\n      ]\n    }", f);
    }
    fputs(list->nplatforms ? "\n  ]\n}\n" : "]\n}\n", f);
}
