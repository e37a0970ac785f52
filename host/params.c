/* Parsing, checking and printing job parameters from their declarations. */
#include "params.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cld_params_init(struct cld_params *p, const struct cld_param *decl,
                     size_t n)
{
    assert(n <= CLD_JOB_PARAMS_MAX);
    memset(p, 0, sizeof *p);
    p->decl = decl;
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct cld_param *d = &decl[i];

        if (d->flags & CLD_PARAM_OPTIONAL)
            continue;
        switch (d->type) {
        case CLD_PARAM_REAL:
            p->v[i].real = d->def;
            break;
        case CLD_PARAM_INT:
            p->v[i].i = d->idef;
            break;
        case CLD_PARAM_SIZE:
            p->v[i].size.w = (uint32_t)d->idef;
            p->v[i].size.h = (uint32_t)d->idef;
            break;
        }
    }
}

int cld_params_find(const struct cld_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->decl[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* The accepted range as text: "0.01..100", "1..3", "1..65536 a side". */
static void range_text(const struct cld_param *d, char *buf, size_t len)
{
    if (d->type == CLD_PARAM_REAL)
        snprintf(buf, len, "%g..%g", d->min, d->max);
    else
        snprintf(buf, len, "%" PRIu64 "..%" PRIu64 "%s", d->imin, d->imax,
                 d->type == CLD_PARAM_SIZE ? " a side" : "");
}

static enum cld_status bad_value(const struct cld_param *d, const char *text,
                                 const char *why)
{
    char range[64];

    range_text(d, range, sizeof range);
    return cld_error_set(CLD_ERR_USAGE, "--%s '%s' %s (%s%s)", d->name, text,
                         why, d->type == CLD_PARAM_SIZE ? "WxH, " : "",
                         range);
}

static bool parse_real(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Decimal digits only: strtoull would take a sign or leading blanks. */
static bool parse_uint(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_wxh(const char *s, uint64_t *w, uint64_t *h)
{
    char buf[64];
    char *x;

    if (strlen(s) >= sizeof buf)
        return false;
    memcpy(buf, s, strlen(s) + 1);
    x = strpbrk(buf, "xX");
    if (!x)
        return false;
    *x = '\0';
    return parse_uint(buf, w) && parse_uint(x + 1, h);
}

static bool in_int_range(const struct cld_param *d, uint64_t v)
{
    return v >= d->imin && v <= d->imax;
}

enum cld_status cld_params_parse(struct cld_params *p, size_t i,
                                 const char *text)
{
    const struct cld_param *d;
    double r;
    uint64_t u, w, h;

    assert(i < p->n);
    d = &p->decl[i];
    switch (d->type) {
    case CLD_PARAM_REAL:
        if (!parse_real(text, &r))
            return bad_value(d, text, "is not a number");
        if (!(r >= d->min && r <= d->max))
            return bad_value(d, text, "is out of range");
        p->v[i].real = r;
        break;
    case CLD_PARAM_INT:
        if (!parse_uint(text, &u))
            return bad_value(d, text, "is not a whole number");
        if (!in_int_range(d, u))
            return bad_value(d, text, "is out of range");
        p->v[i].i = u;
        break;
    case CLD_PARAM_SIZE:
        if (!parse_wxh(text, &w, &h))
            return bad_value(d, text, "is not a size");
        if (!in_int_range(d, w) || !in_int_range(d, h))
            return bad_value(d, text, "is out of range");
        p->v[i].size.w = (uint32_t)w;
        p->v[i].size.h = (uint32_t)h;
        break;
    }
    p->given |= 1u << i;
    return CLD_OK;
}

/* Parameter `name` of type type, or -1 with CLD_ERR_INVALID recorded. */
static int find_typed(const struct cld_params *p, const char *name,
                      enum cld_param_type type)
{
    int i = cld_params_find(p, name);

    if (i < 0 || p->decl[i].type != type) {
        cld_error_set(CLD_ERR_INVALID, "no %s parameter '%s'",
                      type == CLD_PARAM_REAL  ? "real"
                      : type == CLD_PARAM_INT ? "integer"
                                              : "size",
                      name);
        return -1;
    }
    return i;
}

/* The value of parameter i as text, the way the history writes it. */
static void value_text(const struct cld_params *p, size_t i, char *buf,
                       size_t len)
{
    switch (p->decl[i].type) {
    case CLD_PARAM_REAL:
        snprintf(buf, len, "%g", p->v[i].real);
        break;
    case CLD_PARAM_INT:
        snprintf(buf, len, "%" PRIu64, p->v[i].i);
        break;
    case CLD_PARAM_SIZE:
        snprintf(buf, len, "%" PRIu32 "x%" PRIu32, p->v[i].size.w,
                 p->v[i].size.h);
        break;
    }
}

/* Range check of value i (set or default). */
static enum cld_status check_one(const struct cld_params *p, size_t i)
{
    const struct cld_param *d = &p->decl[i];
    const union cld_value *v = &p->v[i];
    bool ok = true;
    char text[64];

    if ((d->flags & CLD_PARAM_OPTIONAL) && !(p->given & (1u << i)))
        return CLD_OK;
    switch (d->type) {
    case CLD_PARAM_REAL:
        ok = v->real >= d->min && v->real <= d->max;
        break;
    case CLD_PARAM_INT:
        ok = in_int_range(d, v->i);
        break;
    case CLD_PARAM_SIZE:
        ok = in_int_range(d, v->size.w) && in_int_range(d, v->size.h);
        break;
    }
    if (ok)
        return CLD_OK;
    value_text(p, i, text, sizeof text);
    return bad_value(d, text, "is out of range");
}

enum cld_status cld_params_set_real(struct cld_params *p, const char *name,
                                    double v)
{
    int i = find_typed(p, name, CLD_PARAM_REAL);
    union cld_value old;
    enum cld_status st;

    if (i < 0)
        return CLD_ERR_INVALID;
    old = p->v[i];
    p->v[i].real = v;
    p->given |= 1u << i;
    if ((st = check_one(p, (size_t)i)) != CLD_OK)
        p->v[i] = old;
    return st;
}

enum cld_status cld_params_set_int(struct cld_params *p, const char *name,
                                   uint64_t v)
{
    int i = find_typed(p, name, CLD_PARAM_INT);
    union cld_value old;
    enum cld_status st;

    if (i < 0)
        return CLD_ERR_INVALID;
    old = p->v[i];
    p->v[i].i = v;
    p->given |= 1u << i;
    if ((st = check_one(p, (size_t)i)) != CLD_OK)
        p->v[i] = old;
    return st;
}

enum cld_status cld_params_set_size(struct cld_params *p, const char *name,
                                    uint32_t w, uint32_t h)
{
    int i = find_typed(p, name, CLD_PARAM_SIZE);
    union cld_value old;
    enum cld_status st;

    if (i < 0)
        return CLD_ERR_INVALID;
    old = p->v[i];
    p->v[i].size.w = w;
    p->v[i].size.h = h;
    p->given |= 1u << i;
    if ((st = check_one(p, (size_t)i)) != CLD_OK)
        p->v[i] = old;
    return st;
}

enum cld_status cld_params_check(const struct cld_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        enum cld_status st = check_one(p, i);

        if (st != CLD_OK)
            return st;
    }
    return CLD_OK;
}

void cld_params_key(const struct cld_params *p, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n && used < len; i++) {
        const struct cld_param *d = &p->decl[i];
        char v[64];

        if (!(d->flags & CLD_PARAM_KEY))
            continue;
        if ((d->flags & CLD_PARAM_OPTIONAL) && !(p->given & (1u << i)))
            continue;
        value_text(p, i, v, sizeof v);
        used += (size_t)snprintf(buf + used, len - used, "%s%s=%s",
                                 used ? " " : "", d->name, v);
    }
}

void cld_param_describe(const struct cld_param *d, char *buf, size_t len)
{
    char range[64], opt[48];

    range_text(d, range, sizeof range);
    snprintf(opt, sizeof opt, "--%s %s", d->name, d->metavar);
    if (d->flags & CLD_PARAM_OPTIONAL)
        snprintf(buf, len, "%-14s %s (%s%s)", opt, d->help,
                 d->type == CLD_PARAM_SIZE ? "WxH, " : "", range);
    else if (d->type == CLD_PARAM_REAL)
        snprintf(buf, len, "%-14s %s (%s, default %g)", opt, d->help, range,
                 d->def);
    else if (d->type == CLD_PARAM_INT)
        snprintf(buf, len, "%-14s %s (%s, default %" PRIu64 ")", opt,
                 d->help, range, d->idef);
    else
        snprintf(buf, len, "%-14s %s (WxH, %s, default %" PRIu64 "x%" PRIu64
                 ")", opt, d->help, range, d->idef, d->idef);
}
