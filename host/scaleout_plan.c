/* The plan file of a scaled-out batch: the split into shards balanced by
 * pixels, the hash over the plan's canonical form (SHA-256 from nettle),
 * writing and strictly checking the JSON document (json-c), and which shard
 * a process runs, from --shard or the engine's environment. */
#include "scaleout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <nettle/sha2.h>

#include "fsutil.h"

#define FORMAT_NAME "cldispatch-plan"
/* Largest plan file read: json-c takes a length in an int. A million
 * inputs take about 100 MB. */
#define PLAN_MAX_BYTES ((uint64_t)INT32_MAX)

void cld_scaleout_plan_free(struct cld_scaleout_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nitems; i++) {
        free(p->items[i].input);
        free(p->items[i].output);
    }
    free(p->items);
    for (unsigned k = 0; k < CLD_CHAIN_MAX_STEPS; k++)
        free(p->steps[k].job);
    free(p->outdir);
    memset(p, 0, sizeof *p);
}

enum cld_status cld_scaleout_plan_set_job(struct cld_scaleout_plan *p,
                                          const struct cld_job *job,
                                          const struct cld_params *params)
{
    const struct cld_chain *c = job->chain;
    unsigned n = c ? c->nsteps : 1;

    for (unsigned k = 0; k < CLD_CHAIN_MAX_STEPS; k++) {
        free(p->steps[k].job);
        memset(&p->steps[k], 0, sizeof p->steps[k]);
    }
    p->nsteps = 0;
    for (unsigned k = 0; k < n; k++) {
        const struct cld_job *jk = c ? c->steps[k].job : job;

        if (!(p->steps[k].job = strdup(jk->name)))
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        p->steps[k].params = c ? c->steps[k].params : *params;
        p->nsteps = k + 1;
    }
    return CLD_OK;
}

enum cld_status cld_scaleout_plan_job(const struct cld_scaleout_plan *p,
                                      const struct cld_job **job,
                                      struct cld_params *params)
{
    const struct cld_job *jobs[CLD_CHAIN_MAX_STEPS];
    struct cld_params ps[CLD_CHAIN_MAX_STEPS];
    enum cld_status st;

    *job = NULL;
    if (p->nsteps == 1) {
        if (!(*job = cld_job_find(p->steps[0].job)))
            return cld_error_set(CLD_ERR_USAGE, "unknown job '%s'",
                                 p->steps[0].job);
        *params = p->steps[0].params;
        return CLD_OK;
    }
    for (unsigned k = 0; k < p->nsteps; k++) {
        if (!(jobs[k] = cld_job_find(p->steps[k].job)))
            return cld_error_set(CLD_ERR_USAGE, "step %u: unknown job '%s'",
                                 k + 1, p->steps[k].job);
        ps[k] = p->steps[k].params;
    }
    if ((st = cld_chain_make(p->nsteps, jobs, ps, job)) != CLD_OK)
        return st;
    cld_params_default(params, *job);
    return CLD_OK;
}

/* ---- split ------------------------------------------------------------ */

/* A min-heap of shards by (pixels, index): the root is the shard that
 * takes the next item. */
struct heap {
    uint64_t *load;
    uint32_t *idx;
    uint32_t n;
};

static bool heap_less(const struct heap *h, uint32_t a, uint32_t b)
{
    if (h->load[a] != h->load[b])
        return h->load[a] < h->load[b];
    return h->idx[a] < h->idx[b];
}

static void heap_swap(struct heap *h, uint32_t a, uint32_t b)
{
    uint64_t l = h->load[a];
    uint32_t i = h->idx[a];

    h->load[a] = h->load[b];
    h->idx[a] = h->idx[b];
    h->load[b] = l;
    h->idx[b] = i;
}

static void heap_down(struct heap *h, uint32_t at)
{
    for (;;) {
        uint32_t l = 2 * at + 1, r = l + 1, m = at;

        if (l < h->n && heap_less(h, l, m))
            m = l;
        if (r < h->n && heap_less(h, r, m))
            m = r;
        if (m == at)
            return;
        heap_swap(h, at, m);
        at = m;
    }
}

static uint64_t weight(uint64_t pixels)
{
    return pixels ? pixels : 1;
}

static int cmp_size_desc(const void *a, const void *b, void *arg)
{
    const uint64_t *pixels = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    uint64_t px = weight(pixels[x]), py = weight(pixels[y]);

    if (px != py)
        return px > py ? -1 : 1;
    return x < y ? -1 : x > y;
}

enum cld_status cld_scaleout_split(const uint64_t *pixels, size_t n,
                                   uint32_t nshards, uint32_t *shard)
{
    struct heap h = {0};
    size_t *order = NULL;
    enum cld_status st = CLD_OK;

    if (nshards == 0)
        return cld_error_set(CLD_ERR_INVALID, "split into 0 shards");
    order = malloc((n ? n : 1) * sizeof *order);
    h.load = calloc(nshards, sizeof *h.load);
    h.idx = malloc(nshards * sizeof *h.idx);
    if (!order || !h.load || !h.idx) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* All loads are zero: indices in order already form a heap. */
    for (uint32_t i = 0; i < nshards; i++)
        h.idx[i] = i;
    h.n = nshards;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_size_desc, (void *)pixels);
    for (size_t i = 0; i < n; i++) {
        shard[order[i]] = h.idx[0];
        h.load[0] += weight(pixels[order[i]]);
        heap_down(&h, 0);
    }
out:
    free(order);
    free(h.load);
    free(h.idx);
    return st;
}

/* ---- hash ------------------------------------------------------------- */

static void hash_str(struct sha256_ctx *c, const char *s)
{
    /* With its terminating NUL, so that fields cannot run together. */
    sha256_update(c, strlen(s) + 1, (const uint8_t *)s);
}

static void hash_fmt(struct sha256_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hash_fmt(struct sha256_ctx *c, const char *fmt, ...)
{
    char buf[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hash_str(c, buf);
}

/* A step's job and parameters. */
static void hash_step(struct sha256_ctx *c, const struct cld_scaleout_step *s)
{
    const struct cld_params *q = &s->params;

    hash_str(c, s->job ? s->job : "");
    /* The job's declared parameters; %a prints a double exactly, so equal
     * values hash equally. */
    for (size_t i = 0; i < q->n; i++) {
        switch (q->decl[i].type) {
        case CLD_PARAM_REAL:
            hash_fmt(c, "%s=%a", q->decl[i].name, q->v[i].real);
            break;
        case CLD_PARAM_INT:
            hash_fmt(c, "%s=%" PRIu64, q->decl[i].name, q->v[i].i);
            break;
        case CLD_PARAM_SIZE:
            hash_fmt(c, "%s=%" PRIu32 "x%" PRIu32, q->decl[i].name,
                     q->v[i].size.w, q->v[i].size.h);
            break;
        }
    }
    /* Which optional parameters have a value is part of the plan (they are
     * written only then); whether a required one was typed or defaulted
     * is not, since the file holds its value either way. */
    {
        uint32_t optional_given = 0;

        for (size_t i = 0; i < q->n; i++)
            if ((q->decl[i].flags & CLD_PARAM_OPTIONAL) &&
                (q->given & (1u << i)))
                optional_given |= 1u << i;
        hash_fmt(c, "given=%x", optional_given);
    }
}

void cld_scaleout_plan_hash(const struct cld_scaleout_plan *p, char out[72])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    struct sha256_ctx c;
    const char *fmt = cld_format_ext(p->format);

    sha256_init(&c);
    /* One job hashes as version 3 always did; a chain, each step in turn
     * after its count. */
    if (p->nsteps <= 1) {
        hash_fmt(&c, "%s %d", FORMAT_NAME, CLD_SCALEOUT_VERSION);
        hash_step(&c, &p->steps[0]);
    } else {
        hash_fmt(&c, "%s %d", FORMAT_NAME, CLD_SCALEOUT_VERSION_CHAIN);
        hash_fmt(&c, "steps=%u", p->nsteps);
        for (unsigned k = 0; k < p->nsteps; k++)
            hash_step(&c, &p->steps[k]);
    }
    hash_str(&c, fmt ? fmt : "auto");
    hash_fmt(&c, "%d %" PRIu64 " %" PRIu32 " %zu", p->quality, p->max_pixels,
             p->shards, p->nitems);
    hash_fmt(&c, "png=%d/%s orient=%d shrink=%d", p->png_compression,
             cld_png_filter_name(p->png_filter), p->keep_orientation ? 0 : 1,
             p->no_shrink_on_load ? 0 : 1);
    hash_str(&c, p->outdir ? p->outdir : "");
    for (size_t i = 0; i < p->nitems; i++) {
        const struct cld_scaleout_item *it = &p->items[i];

        hash_str(&c, it->input);
        hash_str(&c, it->output);
        hash_fmt(&c, "%" PRIu64 " %" PRIu32, it->pixels, it->shard);
    }
    sha256_digest(&c, sizeof d, d);
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}

/* ---- finishing a plan ------------------------------------------------- */

static int cmp_item_input(const void *a, const void *b)
{
    return strcmp(((const struct cld_scaleout_item *)a)->input,
                  ((const struct cld_scaleout_item *)b)->input);
}

enum cld_status cld_scaleout_plan_finish(struct cld_scaleout_plan *p)
{
    uint64_t *px = NULL;
    uint32_t *sh = NULL;
    enum cld_status st;

    if (p->shards < 1 || p->shards > CLD_SCALEOUT_MAX_SHARDS)
        return cld_error_set(CLD_ERR_USAGE, "--shards %" PRIu32 " is out "
                             "of range (1..%u)", p->shards,
                             CLD_SCALEOUT_MAX_SHARDS);
    qsort(p->items, p->nitems, sizeof *p->items, cmp_item_input);
    for (size_t i = 1; i < p->nitems; i++) {
        if (strcmp(p->items[i - 1].input, p->items[i].input) == 0)
            return cld_error_set(CLD_ERR_USAGE, "%s: input given twice",
                                 p->items[i].input);
    }
    px = malloc((p->nitems ? p->nitems : 1) * sizeof *px);
    sh = malloc((p->nitems ? p->nitems : 1) * sizeof *sh);
    if (!px || !sh) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->nitems; i++)
        px[i] = p->items[i].pixels;
    if ((st = cld_scaleout_split(px, p->nitems, p->shards, sh)) != CLD_OK)
        goto out;
    for (size_t i = 0; i < p->nitems; i++)
        p->items[i].shard = sh[i];
    cld_scaleout_plan_hash(p, p->hash);
out:
    free(px);
    free(sh);
    return st;
}

/* ---- writing ---------------------------------------------------------- */

/* Print s as a JSON string (quoted and escaped by json-c). */
static int put_json_str(FILE *f, const char *s)
{
    json_object *o = json_object_new_string(s);
    int rc;

    if (!o)
        return -1;
    rc = fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE),
               f);
    json_object_put(o);
    return rc < 0 ? -1 : 0;
}

/* A step's parameters that have a value, as a JSON object: reals as JSON
 * numbers, integers and sizes as strings (64-bit integers do not survive
 * every JSON reader). */
static void put_params(FILE *f, const struct cld_params *q)
{
    fputc('{', f);
    for (size_t i = 0, k = 0; i < q->n; i++) {
        const struct cld_param *d = &q->decl[i];

        if ((d->flags & CLD_PARAM_OPTIONAL) && !(q->given & (1u << i)))
            continue;
        fprintf(f, "%s\"%s\": ", k++ ? ", " : "", d->name);
        if (d->type == CLD_PARAM_REAL)
            fprintf(f, "%.17g", q->v[i].real);
        else if (d->type == CLD_PARAM_INT)
            fprintf(f, "\"%" PRIu64 "\"", q->v[i].i);
        else
            fprintf(f, "\"%" PRIu32 "x%" PRIu32 "\"", q->v[i].size.w,
                    q->v[i].size.h);
    }
    fputc('}', f);
}

/* The document: settings one per line, then one line per item, so that the
 * file reads and diffs like a list. */
static int write_doc(FILE *f, const struct cld_scaleout_plan *p)
{
    const char *fmt = cld_format_ext(p->format);
    uint64_t *load = calloc(p->shards ? p->shards : 1, sizeof *load);
    uint64_t total = 0;
    int err = 0;

    if (!load)
        return -1;
    for (size_t i = 0; i < p->nitems; i++) {
        load[p->items[i].shard] += p->items[i].pixels;
        total += p->items[i].pixels;
    }
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n"
            "  \"hash\": \"%s\",\n", FORMAT_NAME,
            p->nsteps > 1 ? CLD_SCALEOUT_VERSION_CHAIN : CLD_SCALEOUT_VERSION,
            p->hash);
    if (p->nsteps <= 1) {
        fputs("  \"job\": ", f);
        err |= put_json_str(f, p->steps[0].job);
        fputs(",\n  \"params\": ", f);
        put_params(f, &p->steps[0].params);
        fputs(",\n", f);
    } else {
        /* A chain: one line per step, in order. */
        fputs("  \"steps\": [\n", f);
        for (unsigned k = 0; k < p->nsteps; k++) {
            fputs("    {\"job\": ", f);
            err |= put_json_str(f, p->steps[k].job);
            fputs(", \"params\": ", f);
            put_params(f, &p->steps[k].params);
            fprintf(f, "}%s\n", k + 1 < p->nsteps ? "," : "");
        }
        fputs("  ],\n", f);
    }
    fprintf(f, "  \"output_format\": \"%s\",\n  \"quality\": %d,\n"
            "  \"max_pixels\": %" PRIu64 ",\n",
            fmt ? fmt : "auto", p->quality, p->max_pixels);
    fprintf(f, "  \"png_compression\": %d,\n  \"png_filter\": \"%s\",\n"
            "  \"orientation\": %s,\n  \"shrink_on_load\": %s,\n"
            "  \"outdir\": ", p->png_compression,
            cld_png_filter_name(p->png_filter),
            p->keep_orientation ? "false" : "true",
            p->no_shrink_on_load ? "false" : "true");
    err |= put_json_str(f, p->outdir);
    fprintf(f, ",\n  \"shards\": %" PRIu32 ",\n  \"count\": %zu,\n"
            "  \"pixels\": %" PRIu64 ",\n  \"shard_pixels\": [", p->shards,
            p->nitems, total);
    for (uint32_t k = 0; k < p->shards; k++)
        fprintf(f, "%s%" PRIu64, k ? ", " : "", load[k]);
    fprintf(f, "],\n  \"items\": [\n");
    for (size_t i = 0; i < p->nitems; i++) {
        const struct cld_scaleout_item *it = &p->items[i];

        fprintf(f, "    {\"input\": ");
        err |= put_json_str(f, it->input);
        fprintf(f, ", \"output\": ");
        err |= put_json_str(f, it->output);
        fprintf(f, ", \"pixels\": %" PRIu64 ", \"shard\": %" PRIu32 "}%s\n",
                it->pixels, it->shard, i + 1 < p->nitems ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    free(load);
    return err || ferror(f) ? -1 : 0;
}

enum cld_status cld_scaleout_plan_write(const struct cld_scaleout_plan *p,
                                        const char *path)
{
    struct cld_atomic_file af;
    enum cld_status st;

    st = cld_atomic_open(path, true, &af);
    if (st != CLD_OK)
        return st;
    if (write_doc(af.fp, p) != 0) {
        int err = errno;

        cld_atomic_abort(&af);
        return cld__path_error(CLD_ERR_IO, path, "write error: %s",
                               strerror(err));
    }
    return cld_atomic_commit(&af);
}

/* ---- loading ---------------------------------------------------------- */

/* Member `key` of obj with JSON type t, or NULL (detail recorded). */
static json_object *member(const char *path, json_object *obj,
                           const char *where, const char *key,
                           enum json_type t)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v)) {
        cld__path_error(CLD_ERR_FORMAT, path, "%s: missing \"%s\"", where,
                        key);
        return NULL;
    }
    if (!json_object_is_type(v, t) &&
        !(t == json_type_double && json_object_is_type(v, json_type_int))) {
        cld__path_error(CLD_ERR_FORMAT, path, "%s: \"%s\" should be a%s %s",
                        where, key, t == json_type_int ? "n" : "",
                        json_type_to_name(t));
        return NULL;
    }
    return v;
}

/* An integer member in lo..hi. */
static bool member_int(const char *path, json_object *obj, const char *where,
                       const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_object *v = member(path, obj, where, key, json_type_int);
    int64_t x;

    if (!v)
        return false;
    errno = 0;
    x = json_object_get_int64(v);
    if (errno || x < lo || x > hi) {
        cld__path_error(CLD_ERR_FORMAT, path, "%s: \"%s\" is out of range "
                        "(%" PRId64 "..%" PRId64 ")", where, key, lo, hi);
        return false;
    }
    *out = x;
    return true;
}

/* A non-empty string member, copied. */
static char *member_str(const char *path, json_object *obj,
                        const char *where, const char *key)
{
    json_object *v = member(path, obj, where, key, json_type_string);
    char *s;

    if (!v)
        return NULL;
    if (json_object_get_string_len(v) == 0 ||
        strlen(json_object_get_string(v)) !=
            (size_t)json_object_get_string_len(v)) {
        cld__path_error(CLD_ERR_FORMAT, path, "%s: \"%s\" is empty or holds "
                        "a NUL", where, key);
        return NULL;
    }
    s = strdup(json_object_get_string(v));
    if (!s)
        cld_error_set(CLD_ERR_NOMEM, "out of memory");
    return s;
}

static enum cld_status bad(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum cld_status bad(const char *path, const char *fmt, ...)
{
    char cause[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    return cld__path_error(CLD_ERR_FORMAT, path, "%s", cause);
}

/* The status of the last member*() failure. */
static enum cld_status failed(void)
{
    return strcmp(cld_error_detail(), "out of memory") == 0 ? CLD_ERR_NOMEM
                                                            : CLD_ERR_FORMAT;
}

/* A step of obj (the plan, or one of its "steps", where names it): its
 * "job", an image job of this cldispatch, and its "params", parsed and
 * range checked as on the command line (pre prefixes the messages). */
static enum cld_status load_step(const char *path, json_object *obj,
                                 const char *where, const char *pre,
                                 struct cld_scaleout_step *s)
{
    const struct cld_job *job;
    json_object *pj;

    if (!(s->job = member_str(path, obj, where, "job")))
        return failed();
    job = cld_job_find(s->job);
    if (!job || job->input != CLD_DATA_IMAGE)
        return bad(path, "%sjob \"%s\" is not an image job of this "
                   "cldispatch", pre, s->job);
    cld_params_default(&s->params, job);
    if (!(pj = member(path, obj, where, "params", json_type_object)))
        return failed();
    json_object_object_foreach(pj, key, val) {
        int i = cld_params_find(&s->params, key);
        char text[64];

        if (i < 0)
            return bad(path, "%sparams: \"%s\" is not a parameter of %s",
                       pre, key, s->job);
        if (s->params.decl[i].type == CLD_PARAM_REAL) {
            if (!json_object_is_type(val, json_type_double) &&
                !json_object_is_type(val, json_type_int))
                return bad(path, "%sparams: \"%s\" should be a number", pre,
                           key);
            snprintf(text, sizeof text, "%.17g",
                     json_object_get_double(val));
        } else {
            if (!json_object_is_type(val, json_type_string))
                return bad(path, "%sparams: \"%s\" should be a string", pre,
                           key);
            snprintf(text, sizeof text, "%s", json_object_get_string(val));
        }
        if (cld_params_parse(&s->params, (size_t)i, text) != CLD_OK)
            return bad(path, "%sparams: %s", pre, cld_error_detail());
    }
    if (cld_job_validate(job, &s->params) != CLD_OK)
        return bad(path, "%sparams: %s", pre, cld_error_detail());
    return CLD_OK;
}

/* What the plan runs: version 3's "job" and "params", or version 4's
 * "steps" of a chain, which must make one as `run` would. */
static enum cld_status load_steps(const char *path, json_object *doc,
                                  int64_t version, struct cld_scaleout_plan *p)
{
    const struct cld_job *job;
    struct cld_params params;
    json_object *arr;
    size_t n;
    enum cld_status st;

    if (version == CLD_SCALEOUT_VERSION) {
        p->nsteps = 1;
        return load_step(path, doc, "plan", "", &p->steps[0]);
    }
    if (!(arr = member(path, doc, "plan", "steps", json_type_array)))
        return failed();
    n = json_object_array_length(arr);
    if (n < 2 || n > CLD_CHAIN_MAX_STEPS)
        return bad(path, "steps: a chain has 2 to %d steps, not %zu",
                   CLD_CHAIN_MAX_STEPS, n);
    for (size_t k = 0; k < n; k++) {
        json_object *sj = json_object_array_get_idx(arr, k);
        char where[24], pre[32];

        snprintf(where, sizeof where, "step %zu", k + 1);
        snprintf(pre, sizeof pre, "%s: ", where);
        if (!json_object_is_type(sj, json_type_object))
            return bad(path, "%snot a JSON object", pre);
        p->nsteps = (unsigned)k + 1;
        if ((st = load_step(path, sj, where, pre, &p->steps[k])) != CLD_OK)
            return st;
    }
    if ((st = cld_scaleout_plan_job(p, &job, &params)) != CLD_OK)
        return st == CLD_ERR_NOMEM ? st
                                   : bad(path, "steps: %s", cld_error_detail());
    cld_chain_job_destroy(job);
    return CLD_OK;
}

/* No "." or ".." component, so that an output cannot leave OUTDIR. */
static bool path_is_plain(const char *rel)
{
    const char *c = rel;

    while (*c) {
        size_t n = strcspn(c, "/");

        if (n == 0 || (n == 1 && c[0] == '.') ||
            (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += n;
        if (*c == '/')
            c++;
    }
    return rel[0] != '\0';
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum cld_status load_items(const char *path, json_object *doc,
                                  struct cld_scaleout_plan *p)
{
    json_object *arr = member(path, doc, "plan", "items", json_type_array);
    size_t outdir_len = strlen(p->outdir);
    char **outs = NULL;
    enum cld_status st = CLD_OK;
    size_t n;

    if (!arr)
        return failed();
    n = json_object_array_length(arr);
    p->items = calloc(n ? n : 1, sizeof *p->items);
    if (!p->items)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        struct cld_scaleout_item *it = &p->items[i];
        char where[48];
        int64_t x;

        snprintf(where, sizeof where, "item %zu", i);
        if (!json_object_is_type(o, json_type_object))
            return bad(path, "%s is not an object", where);
        p->nitems = i + 1;
        if (!(it->input = member_str(path, o, where, "input")) ||
            !(it->output = member_str(path, o, where, "output")))
            return failed();
        if (!member_int(path, o, where, "pixels", 0, INT64_C(1) << 48, &x))
            return failed();
        it->pixels = (uint64_t)x;
        if (!member_int(path, o, where, "shard", 0, (int64_t)p->shards - 1,
                        &x))
            return failed();
        it->shard = (uint32_t)x;
        if (strncmp(it->output, p->outdir, outdir_len) != 0 ||
            it->output[outdir_len] != '/' ||
            !path_is_plain(it->output + outdir_len + 1))
            return bad(path, "%s: output \"%s\" is not a plain path inside "
                       "the output folder", where, it->output);
        if (i > 0 && strcmp(p->items[i - 1].input, it->input) >= 0)
            return bad(path, "%s: inputs not sorted or repeated (\"%s\")",
                       where, it->input);
    }
    outs = malloc((n ? n : 1) * sizeof *outs);
    if (!outs)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        outs[i] = p->items[i].output;
    qsort(outs, n, sizeof *outs, cmp_str_ptr);
    for (size_t i = 1; i < n && st == CLD_OK; i++) {
        if (strcmp(outs[i - 1], outs[i]) == 0)
            st = bad(path, "two items write %s", outs[i]);
    }
    free(outs);
    return st;
}

/* "pixels" and "shard_pixels" are there for people and tools; they must
 * still agree with the items. */
static enum cld_status check_totals(const char *path, json_object *doc,
                                    const struct cld_scaleout_plan *p)
{
    json_object *arr = member(path, doc, "plan", "shard_pixels",
                              json_type_array);
    uint64_t total = 0, *load;
    bool ok = true;
    int64_t x;

    if (!arr || !member_int(path, doc, "plan", "pixels", 0, INT64_MAX, &x))
        return failed();
    if (json_object_array_length(arr) != p->shards)
        return bad(path, "\"shard_pixels\" do not match the items");
    load = calloc(p->shards, sizeof *load);
    if (!load)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->nitems; i++) {
        load[p->items[i].shard] += p->items[i].pixels;
        total += p->items[i].pixels;
    }
    for (uint32_t k = 0; k < p->shards && ok; k++) {
        json_object *v = json_object_array_get_idx(arr, k);

        ok = json_object_is_type(v, json_type_int) &&
             json_object_get_int64(v) >= 0 &&
             (uint64_t)json_object_get_int64(v) == load[k];
    }
    free(load);
    if (!ok)
        return bad(path, "\"shard_pixels\" do not match the items");
    if ((uint64_t)x != total)
        return bad(path, "\"pixels\" is %" PRId64 " but the items add up "
                   "to %" PRIu64, x, total);
    return CLD_OK;
}

static enum cld_status load_doc(const char *path, json_object *doc,
                                struct cld_scaleout_plan *p)
{
    json_object *v;
    const char *s;
    char hash[72];
    int64_t x;
    enum cld_status st;

    if (!json_object_is_type(doc, json_type_object))
        return bad(path, "not a cldispatch plan (not a JSON object)");
    if (!(v = member(path, doc, "plan", "format", json_type_string)) ||
        strcmp(json_object_get_string(v), FORMAT_NAME) != 0)
        return bad(path, "not a cldispatch plan (no \"format\": \"%s\")",
                   FORMAT_NAME);
    if (!member_int(path, doc, "plan", "version", 0, INT32_MAX, &x))
        return failed();
    if (x != CLD_SCALEOUT_VERSION && x != CLD_SCALEOUT_VERSION_CHAIN)
        return bad(path, "plan version %" PRId64 " (this cldispatch reads "
                   "versions %d and %d; re-plan with it)", x,
                   CLD_SCALEOUT_VERSION, CLD_SCALEOUT_VERSION_CHAIN);
    if ((st = load_steps(path, doc, x, p)) != CLD_OK)
        return st;
    if (!(v = member(path, doc, "plan", "output_format", json_type_string)))
        return failed();
    s = json_object_get_string(v);
    p->format = cld_format_from_name(s);
    if (p->format == CLD_FMT_UNKNOWN)
        return bad(path, "unknown output_format \"%s\"", s);
    if (!member_int(path, doc, "plan", "quality", 0, 100, &x))
        return failed();
    p->quality = (int)x;
    if (!member_int(path, doc, "plan", "max_pixels", 0, INT64_C(1) << 40,
                    &x))
        return failed();
    p->max_pixels = (uint64_t)x;
    if (!member_int(path, doc, "plan", "png_compression", 0,
                    CLD_PNG_LEVEL(9), &x))
        return failed();
    p->png_compression = (int)x;
    if (!(v = member(path, doc, "plan", "png_filter", json_type_string)))
        return failed();
    s = json_object_get_string(v);
    if (cld_png_filter_from_name(s) < 0)
        return bad(path, "unknown png_filter \"%s\"", s);
    p->png_filter = (enum cld_png_filter)cld_png_filter_from_name(s);
    if (!(v = member(path, doc, "plan", "orientation", json_type_boolean)))
        return failed();
    p->keep_orientation = !json_object_get_boolean(v);
    if (!(v = member(path, doc, "plan", "shrink_on_load",
                     json_type_boolean)))
        return failed();
    p->no_shrink_on_load = !json_object_get_boolean(v);
    if (!(p->outdir = member_str(path, doc, "plan", "outdir")))
        return failed();
    if (!member_int(path, doc, "plan", "shards", 1, CLD_SCALEOUT_MAX_SHARDS,
                    &x))
        return failed();
    p->shards = (uint32_t)x;
    if ((st = load_items(path, doc, p)) != CLD_OK)
        return st;
    if (!member_int(path, doc, "plan", "count", 0, INT64_MAX, &x))
        return failed();
    if ((uint64_t)x != p->nitems)
        return bad(path, "\"count\" is %" PRId64 " but %zu items are "
                   "listed", x, p->nitems);
    if (!(v = member(path, doc, "plan", "hash", json_type_string)))
        return failed();
    cld_scaleout_plan_hash(p, hash);
    if (strcmp(hash, json_object_get_string(v)) != 0)
        return bad(path, "hash mismatch: the plan says %s but its contents "
                   "hash to %s (the plan was edited or damaged; re-plan)",
                   json_object_get_string(v), hash);
    memcpy(p->hash, hash, sizeof hash);
    return check_totals(path, doc, p);
}

enum cld_status cld_scaleout_plan_load(const char *path,
                                       struct cld_scaleout_plan *out)
{
    struct json_tokener *tok = NULL;
    json_object *doc = NULL;
    enum cld_status st;
    uint64_t size = 0;
    char *buf = NULL;
    FILE *fp = NULL;

    memset(out, 0, sizeof *out);
    if ((st = cld_open_read(path, &fp, &size)) != CLD_OK)
        return st;
    if (size > PLAN_MAX_BYTES) {
        st = bad(path, "plan file of %" PRIu64 " bytes is too large",
                 size);
        goto out;
    }
    buf = malloc(size + 1);
    if (!buf) {
        st = cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
        goto out;
    }
    if (fread(buf, 1, size, fp) != size) {
        st = cld__path_error(CLD_ERR_IO, path, "read error");
        goto out;
    }
    buf[size] = '\0';
    if (strlen(buf) != size) {
        st = bad(path, "not a cldispatch plan (holds a NUL byte)");
        goto out;
    }
    tok = json_tokener_new();
    if (!tok) {
        st = cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
        goto out;
    }
    doc = json_tokener_parse_ex(tok, buf, (int)size);
    if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
        enum json_tokener_error e = json_tokener_get_error(tok);

        st = bad(path, "not a cldispatch plan: JSON %s at byte %zu",
                 e == json_tokener_continue ? "ends too early"
                                            : json_tokener_error_desc(e),
                 json_tokener_get_parse_end(tok));
        goto out;
    }
    if (json_tokener_get_parse_end(tok) < size &&
        buf[json_tokener_get_parse_end(tok) +
            strspn(buf + json_tokener_get_parse_end(tok), " \t\r\n")]) {
        st = bad(path, "not a cldispatch plan: text after the JSON "
                 "document at byte %zu", json_tokener_get_parse_end(tok));
        goto out;
    }
    st = load_doc(path, doc, out);
out:
    if (fp)
        fclose(fp);
    json_object_put(doc);
    if (tok)
        json_tokener_free(tok);
    free(buf);
    if (st != CLD_OK)
        cld_scaleout_plan_free(out);
    return st;
}

/* ---- which shard ------------------------------------------------------ */

static const struct {
    const char *name;
    bool rank;   /* an MPI rank: strides by the world size */
} shard_sources[] = {
    {"SLURM_ARRAY_TASK_ID", false},
    {"OMPI_COMM_WORLD_RANK", true},
    {"PMI_RANK", true},
    {"PMIX_RANK", true},
    {"JOB_COMPLETION_INDEX", false},
};

/* Open MPI exports OMPI_COMM_WORLD_SIZE (and PMIX_RANK, but no PMIx size);
 * MPICH's Hydra exports PMI_SIZE. */
static const char *const size_sources[] = {
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
};

/* A plain decimal number up to UINT32_MAX; NULL or "" is absent (1),
 * anything else is an error (-1). 0 with *out set when valid. */
static int parse_env(const char *s, uint32_t *out)
{
    uint64_t v = 0;

    if (!s || !*s)
        return 1;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9' || c - s >= 10)
            return -1;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

enum cld_status cld_scaleout_select(long flag, uint32_t nshards,
                                    cld_scaleout_getenv_fn get,
                                    struct cld_scaleout_sel *sel)
{
    char first_src[64] = "";
    uint32_t value = 0, size = 0;
    const char *size_name = NULL;
    bool have = false, index = false;

    memset(sel, 0, sizeof *sel);
    if (flag >= 0) {
        if ((unsigned long)flag > UINT32_MAX)
            return cld_error_set(CLD_ERR_USAGE, "--shard %ld is out of "
                                 "range", flag);
        value = (uint32_t)flag;
        have = index = true;
        snprintf(first_src, sizeof first_src, "--shard %" PRIu32, value);
    }
    for (size_t i = 0; i < sizeof shard_sources / sizeof shard_sources[0];
         i++) {
        const char *name = shard_sources[i].name, *s = get(name);
        uint32_t v;
        int rc = parse_env(s, &v);

        if (rc > 0)
            continue;
        if (rc < 0)
            return cld_error_set(CLD_ERR_USAGE, "%s='%s' is not a shard "
                                 "number", name, s);
        if (have && v != value)
            return cld_error_set(CLD_ERR_USAGE, "%s and %s=%" PRIu32
                                 " disagree on the shard (unset one, e.g. "
                                 "`env -u %s`)", first_src, name, v, name);
        if (!have)
            snprintf(first_src, sizeof first_src, "%s=%" PRIu32, name, v);
        value = v;
        have = true;
        if (!shard_sources[i].rank)
            index = true;
    }
    if (!have)
        return cld_error_set(CLD_ERR_USAGE, "no shard given: pass --shard K, "
                             "or run under Slurm (SLURM_ARRAY_TASK_ID), MPI "
                             "(OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK) or "
                             "a Kubernetes Indexed Job "
                             "(JOB_COMPLETION_INDEX)");
    if (index) {
        if (value >= nshards)
            return cld_error_set(CLD_ERR_USAGE, "%s, but the plan has %"
                                 PRIu32 " shard%s (0..%" PRIu32 ")",
                                 first_src, nshards, nshards == 1 ? "" : "s",
                                 nshards - 1);
        sel->first = value;
        sel->stride = nshards;
        snprintf(sel->source, sizeof sel->source, "%s", first_src);
        return CLD_OK;
    }
    for (size_t i = 0; i < sizeof size_sources / sizeof size_sources[0];
         i++) {
        const char *s = get(size_sources[i]);
        uint32_t v;
        int rc = parse_env(s, &v);

        if (rc > 0)
            continue;
        if (rc < 0 || v == 0)
            return cld_error_set(CLD_ERR_USAGE, "%s='%s' is not a world "
                                 "size", size_sources[i], s);
        if (size_name && v != size)
            return cld_error_set(CLD_ERR_USAGE, "%s=%" PRIu32 " and %s=%"
                                 PRIu32 " disagree on the world size",
                                 size_name, size, size_sources[i], v);
        size = v;
        size_name = size_sources[i];
    }
    if (!size_name)
        return cld_error_set(CLD_ERR_USAGE, "%s is set but no world size "
                             "(OMPI_COMM_WORLD_SIZE or PMI_SIZE): pass "
                             "--shard K", first_src);
    if (value >= size)
        return cld_error_set(CLD_ERR_USAGE, "%s is not below %s=%" PRIu32,
                             first_src, size_name, size);
    sel->first = value;
    sel->stride = size;
    snprintf(sel->source, sizeof sel->source, "%s of %s=%" PRIu32,
             first_src, size_name, size);
    return CLD_OK;
}
