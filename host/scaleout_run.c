/* Running one shard of a plan through the batch runner, resumably, and
 * merging the shards' summaries. A shard holds a lock file while it runs,
 * removes the temporary files a killed run of it left, skips outputs that
 * exist (outputs appear only by rename, so an existing one is complete),
 * and when it ends fsyncs its output folders and renames its summary into
 * place: a shard without a summary did not finish. */
#include "scaleout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "batch.h"
#include "clock.h"
#include "fsutil.h"

#define SUMMARY_FORMAT "cldispatch-shard-summary"
#define MERGED_FORMAT "cldispatch-merged"
#define SUMMARY_VERSION 1

enum item_state { ST_PENDING, ST_DONE, ST_SKIPPED, ST_FAILED };

static const char *const state_names[] = {"pending", "done", "skipped",
                                          "failed"};

/* One item of the shard being run. */
struct shard_item {
    size_t index;             /* in the plan */
    enum item_state state;
    char *error;              /* failed: the error line */
};

static char *state_path(const struct cld_scaleout_plan *p, const char *name)
{
    char *s = NULL;

    if (asprintf(&s, "%s/%s/%s", p->outdir, CLD_SCALEOUT_STATE_DIR,
                 name) < 0)
        return NULL;
    return s;
}

char *cld_scaleout_summary_path(const struct cld_scaleout_plan *p,
                                uint32_t k)
{
    char name[64];

    snprintf(name, sizeof name, "shard-%" PRIu32 ".json", k);
    return state_path(p, name);
}

/* ---- the lock --------------------------------------------------------- */

/* Take shard k's lock without waiting: two copies of one shard (a re-run
 * started while the first still runs) would remove each other's temporary
 * files. The lock ends with the process, however it ends. */
static enum cld_status lock_shard(const struct cld_scaleout_plan *p,
                                  uint32_t k, int *fd_out)
{
    char name[64];
    char *path;
    int fd;
    enum cld_status st = CLD_OK;

    *fd_out = -1;
    snprintf(name, sizeof name, "shard-%" PRIu32 ".lock", k);
    if (!(path = state_path(p, name)))
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = cld__path_error(cld__status_from_errno(errno), path,
                             "cannot open the shard lock: %s",
                             strerror(errno));
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;

        close(fd);
        fd = -1;
        st = err == EWOULDBLOCK
                 ? cld__path_error(CLD_ERR_EXISTS, path, "shard %" PRIu32
                                   " is already running (another process "
                                   "holds this lock)", k)
                 : cld__path_error(CLD_ERR_IO, path, "cannot lock: %s",
                                   strerror(err));
    }
    free(path);
    *fd_out = fd;
    return st;
}

/* ---- leftover temporary files ----------------------------------------- */

struct dir_base {
    char *dir;
    char *base;   /* the final name cut as temporary names cut it */
};

static int cmp_dir_base(const void *a, const void *b)
{
    const struct dir_base *x = a, *y = b;
    int c = strcmp(x->dir, y->dir);

    return c ? c : strcmp(x->base, y->base);
}

/* Remove, in one folder, the temporary files whose final names are among
 * v[0..n) (all in that folder). */
static void clean_dir(const struct dir_base *v, size_t n, FILE *err,
                      unsigned *removed)
{
    DIR *d = opendir(v[0].dir);
    struct dirent *e;

    if (!d)
        return; /* no folder yet: nothing was written */
    while ((e = readdir(d)) != NULL) {
        size_t len = cld_atomic_tmp_base(e->d_name);
        struct dir_base key;
        char *base, *path = NULL;

        if (len == 0)
            continue;
        base = strndup(e->d_name + 1, len);
        if (!base)
            break;
        key.dir = v[0].dir;
        key.base = base;
        if (bsearch(&key, v, n, sizeof *v, cmp_dir_base) &&
            asprintf(&path, "%s/%s", v[0].dir, e->d_name) >= 0) {
            if (unlink(path) == 0) {
                (*removed)++;
                fprintf(err, "cldispatch: %s: removed a temporary file left "
                        "by an earlier run\n", path);
            } else if (errno != ENOENT) {
                fprintf(err, "cldispatch: warning: %s: cannot remove: %s\n",
                        path, strerror(errno));
            }
        }
        free(path);
        free(base);
    }
    closedir(d);
}

static void free_dirs(struct dir_base *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].dir);
        free(v[i].base);
    }
    free(v);
}

/* The folder and cut final name of each output of the shard, sorted by
 * folder then name. */
static enum cld_status shard_dirs(const struct cld_scaleout_plan *p,
                                  const struct shard_item *items, size_t n,
                                  struct dir_base **out)
{
    struct dir_base *v = calloc(n ? n : 1, sizeof *v);

    *out = NULL;
    if (!v)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *o = p->items[items[i].index].output;
        const char *slash = strrchr(o, '/');

        /* Outputs are OUTDIR/..., so there is always a slash. */
        v[i].dir = strndup(o, (size_t)(slash - o));
        v[i].base = strndup(slash + 1, CLD_ATOMIC_TMP_BASE_MAX);
        if (!v[i].dir || !v[i].base) {
            free_dirs(v, n);
            return cld_error_set(CLD_ERR_NOMEM, "out of memory");
        }
    }
    qsort(v, n, sizeof *v, cmp_dir_base);
    *out = v;
    return CLD_OK;
}

/* Remove the temporary files a killed run of this shard left next to its
 * outputs. Each output belongs to one shard and the shard is locked, so no
 * living process is writing these. */
static void clean_tmp(const struct dir_base *v, size_t n, FILE *err,
                      unsigned *removed)
{
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(v[i].dir, v[j].dir) == 0; j++)
            ;
        clean_dir(v + i, j - i, err, removed);
    }
}

/* fsync a folder, so that the names renamed into it survive a crash. File
 * systems that cannot sync a folder say EINVAL; read-only ones EROFS. */
static enum cld_status sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    enum cld_status st = CLD_OK;

    if (fd < 0) {
        /* A folder that was never made holds no output of this shard. */
        return errno == ENOENT ? CLD_OK
                               : cld__path_error(CLD_ERR_IO, dir,
                                                 "cannot open: %s",
                                                 strerror(errno));
    }
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        st = cld__path_error(CLD_ERR_IO, dir, "fsync failed: %s",
                             strerror(errno));
    close(fd);
    return st;
}

/* Before the summary says the shard is done, its outputs' names must be
 * on disk: each output was synced before its rename, but the rename
 * itself lives in the folder. */
static enum cld_status sync_dirs(const struct dir_base *v, size_t n)
{
    enum cld_status st = CLD_OK;

    for (size_t i = 0; i < n && st == CLD_OK; i++) {
        if (i == 0 || strcmp(v[i].dir, v[i - 1].dir) != 0)
            st = sync_dir(v[i].dir);
    }
    return st;
}

/* ---- the summary ------------------------------------------------------ */

static int put_obj_line(FILE *f, json_object *o, const char *tail)
{
    if (!o)
        return -1;
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                         JSON_C_TO_STRING_NOSLASHESCAPE),
          f);
    fputs(tail, f);
    json_object_put(o);
    return 0;
}

static json_object *json_str(const char *s)
{
    return json_object_new_string(s ? s : "");
}

/* The summary, one line per item. */
static int write_summary_doc(FILE *f, const struct cld_scaleout_plan *p,
                             uint32_t k, const char *source,
                             const struct shard_item *items, size_t n,
                             const struct cld_scaleout_counts *c,
                             double seconds)
{
    char host[256] = "";
    json_object *head;
    int err = 0;

    gethostname(host, sizeof host - 1);
    head = json_object_new_object();
    if (!head)
        return -1;
    json_object_object_add(head, "host", json_str(host));
    json_object_object_add(head, "pid", json_object_new_int64(getpid()));
    json_object_object_add(head, "source", json_str(source));
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n"
            "  \"plan_hash\": \"%s\",\n  \"shard\": %" PRIu32 ",\n"
            "  \"shards\": %" PRIu32 ",\n  \"run\": ", SUMMARY_FORMAT,
            SUMMARY_VERSION, p->hash, k, p->shards);
    err |= put_obj_line(f, head, ",\n");
    fprintf(f, "  \"seconds\": %.3f,\n  \"items_count\": %u,\n"
            "  \"done\": %u,\n  \"skipped\": %u,\n  \"failed\": %u,\n"
            "  \"tmp_removed\": %u,\n  \"items\": [\n", seconds, c->items,
            c->done, c->skipped, c->failed, c->tmp_removed);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();

        if (!o)
            return -1;
        json_object_object_add(o, "index",
                               json_object_new_int64((int64_t)items[i].index));
        json_object_object_add(o, "input",
                               json_str(p->items[items[i].index].input));
        json_object_object_add(o, "status",
                               json_str(state_names[items[i].state]));
        if (items[i].state == ST_FAILED)
            json_object_object_add(o, "error", json_str(items[i].error));
        fputs("    ", f);
        err |= put_obj_line(f, o, i + 1 < n ? ",\n" : "\n");
    }
    fputs("  ]\n}\n", f);
    return err || ferror(f) ? -1 : 0;
}

static enum cld_status write_summary(const struct cld_scaleout_plan *p,
                                     uint32_t k, const char *source,
                                     const struct shard_item *items,
                                     size_t n,
                                     const struct cld_scaleout_counts *c,
                                     double seconds)
{
    char *path = cld_scaleout_summary_path(p, k);
    struct cld_atomic_file af;
    enum cld_status st;

    if (!path)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    st = cld_atomic_open(path, true, &af);
    if (st == CLD_OK) {
        if (write_summary_doc(af.fp, p, k, source, items, n, c, seconds)) {
            cld_atomic_abort(&af);
            st = cld__path_error(CLD_ERR_IO, path, "write error");
        } else {
            st = cld_atomic_commit(&af);
        }
    }
    if (st == CLD_OK) {
        *strrchr(path, '/') = '\0';
        st = sync_dir(path);
    }
    free(path);
    return st;
}

/* ---- running a shard -------------------------------------------------- */

struct hook_ctx {
    struct shard_item **run;  /* the items given to the batch, in order */
};

static void on_item(void *user, size_t i, enum cld_status st,
                    const char *error)
{
    struct hook_ctx *h = user;
    struct shard_item *it = h->run[i];

    if (st == CLD_OK) {
        it->state = ST_DONE;
        return;
    }
    it->state = ST_FAILED;
    it->error = strdup(error && *error ? error : cld_status_str(st));
}

/* Largest first, so that the shard's own worker threads end together. */
static int cmp_run_order(const void *a, const void *b, void *arg)
{
    const struct cld_scaleout_plan *p = arg;
    const struct shard_item *x = *(struct shard_item *const *)a;
    const struct shard_item *y = *(struct shard_item *const *)b;
    uint64_t px = p->items[x->index].pixels, py = p->items[y->index].pixels;

    if (px != py)
        return px > py ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

enum cld_status cld_scaleout_run_shard(const struct cld_scaleout_plan *p,
                                       uint32_t k,
                                       const struct cld_scaleout_run_opts *o,
                                       struct cld_scaleout_counts *c,
                                       const char *source)
{
    struct shard_item *items = NULL;
    struct shard_item **run = NULL;
    struct dir_base *dirs = NULL;
    char **in = NULL, **out = NULL;
    struct cld_batch_opts bo;
    struct cld_batch_result br;
    struct hook_ctx hook;
    size_t n = 0, nrun = 0;
    char *state = NULL;
    double t0 = cld_now_s();
    int lock = -1;
    enum cld_status st;

    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < p->nitems; i++)
        n += p->items[i].shard == k;
    items = calloc(n ? n : 1, sizeof *items);
    run = calloc(n ? n : 1, sizeof *run);
    in = calloc(n ? n : 1, sizeof *in);
    out = calloc(n ? n : 1, sizeof *out);
    state = state_path(p, "");
    if (!items || !run || !in || !out || !state) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    n = 0;
    for (size_t i = 0; i < p->nitems; i++) {
        if (p->items[i].shard == k)
            items[n++].index = i;
    }
    c->items = (unsigned)n;
    if ((st = cld_mkdir_p(state)) != CLD_OK ||
        (st = lock_shard(p, k, &lock)) != CLD_OK ||
        (st = shard_dirs(p, items, n, &dirs)) != CLD_OK)
        goto out;
    clean_tmp(dirs, n, o->err, &c->tmp_removed);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;

        if (lstat(p->items[items[i].index].output, &sb) == 0 &&
            S_ISREG(sb.st_mode)) {
            items[i].state = ST_SKIPPED;
            c->skipped++;
        } else {
            run[nrun++] = &items[i];
        }
    }
    qsort_r(run, nrun, sizeof *run, cmp_run_order, (void *)p);
    for (size_t i = 0; i < nrun; i++) {
        in[i] = p->items[run[i]->index].input;
        out[i] = p->items[run[i]->index].output;
    }
    if (nrun > 0) {
        memset(&bo, 0, sizeof bo);
        if ((st = cld_scaleout_plan_job(p, &bo.job, &bo.params)) != CLD_OK)
            goto out;
        bo.outdir = p->outdir;
        bo.format = p->format;
        bo.quality = p->quality;
        bo.limits.max_pixels = p->max_pixels;
        bo.png_compression = p->png_compression;
        bo.png_filter = p->png_filter;
        bo.keep_orientation = p->keep_orientation;
        bo.no_shrink_on_load = p->no_shrink_on_load;
        bo.device = o->device;
        bo.explain = o->explain;
        bo.threads = o->threads;
        bo.verbose = o->verbose;
        bo.out = o->out;
        bo.err = o->err;
        bo.outputs = out;
        hook.run = run;
        bo.on_item = on_item;
        bo.on_item_user = &hook;
        if (bo.explain && bo.job->chain)
            cld_chain_explain(bo.out, bo.job->chain);
        st = cld_batch_run(&bo, in, (int)nrun, &br);
        cld_chain_job_destroy(bo.job);
        if (st != CLD_OK)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].state == ST_DONE)
            c->done++;
        else if (items[i].state == ST_FAILED)
            c->failed++;
        else if (items[i].state == ST_PENDING)
            st = cld_error_set(CLD_ERR_INTERNAL, "%s: no result from the "
                               "batch", p->items[items[i].index].input);
    }
    if (st == CLD_OK)
        st = sync_dirs(dirs, n);
    if (st == CLD_OK)
        st = write_summary(p, k, source, items, n, c, cld_now_s() - t0);
out:
    if (lock >= 0)
        close(lock);
    for (size_t i = 0; items && i < n; i++)
        free(items[i].error);
    free(items);
    free_dirs(dirs, n);
    free(run);
    free(in);
    free(out);
    free(state);
    return st;
}

/* ---- merge ------------------------------------------------------------ */

/* Read shard k's summary and count its items into seen[]. Returns false
 * (with a line printed) when the summary is missing or unusable. */
static bool read_summary(const struct cld_scaleout_plan *p, uint32_t k,
                         unsigned *seen, enum item_state *state,
                         char **error, FILE *err,
                         struct cld_scaleout_merge_result *r)
{
    char *path = cld_scaleout_summary_path(p, k);
    json_object *doc = NULL, *v, *arr;
    bool ok = false;
    size_t n;

    if (!path)
        return false;
    if (access(path, F_OK) != 0) {
        fprintf(err, "cldispatch: shard %" PRIu32 " is missing (no %s: it "
                "did not finish; run it again)\n", k, path);
        goto out;
    }
    doc = json_object_from_file(path);
    if (!doc || !json_object_object_get_ex(doc, "format", &v) ||
        strcmp(json_object_get_string(v), SUMMARY_FORMAT) != 0 ||
        !json_object_object_get_ex(doc, "version", &v) ||
        json_object_get_int(v) != SUMMARY_VERSION) {
        fprintf(err, "cldispatch: %s: not a shard summary of this "
                "cldispatch\n", path);
        goto out;
    }
    if (!json_object_object_get_ex(doc, "plan_hash", &v) ||
        strcmp(json_object_get_string(v), p->hash) != 0) {
        fprintf(err, "cldispatch: %s: written for another plan (%s); run "
                "shard %" PRIu32 " of this plan again\n", path,
                v ? json_object_get_string(v) : "no hash", k);
        goto out;
    }
    if (!json_object_object_get_ex(doc, "shard", &v) ||
        json_object_get_int64(v) != (int64_t)k ||
        !json_object_object_get_ex(doc, "items", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        fprintf(err, "cldispatch: %s: damaged summary (shard number or "
                "items)\n", path);
        goto out;
    }
    n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *iv, *sv, *ev;
        int64_t idx;
        const char *s;
        int stn = -1;

        if (!json_object_object_get_ex(o, "index", &iv) ||
            !json_object_object_get_ex(o, "status", &sv) ||
            !json_object_is_type(iv, json_type_int)) {
            fprintf(err, "cldispatch: %s: item %zu is damaged\n", path, i);
            r->bad_cover++;
            continue;
        }
        idx = json_object_get_int64(iv);
        s = json_object_get_string(sv);
        for (int t = ST_DONE; t <= ST_FAILED; t++) {
            if (strcmp(s, state_names[t]) == 0)
                stn = t;
        }
        if (idx < 0 || (uint64_t)idx >= p->nitems || stn < 0 ||
            p->items[idx].shard != k) {
            fprintf(err, "cldispatch: %s: item %zu (index %" PRId64 ", "
                    "status '%s') does not belong to shard %" PRIu32 "\n",
                    path, i, idx, s, k);
            r->bad_cover++;
            continue;
        }
        seen[idx]++;
        state[idx] = (enum item_state)stn;
        if (stn == ST_FAILED && !error[idx] &&
            json_object_object_get_ex(o, "error", &ev))
            error[idx] = strdup(json_object_get_string(ev));
    }
    ok = true;
out:
    json_object_put(doc);
    free(path);
    return ok;
}

static enum cld_status write_text(const char *path, const char *text,
                                  const struct cld_scaleout_plan *p,
                                  const enum item_state *state,
                                  const bool *missing)
{
    struct cld_atomic_file af;
    enum cld_status st = cld_atomic_open(path, true, &af);

    if (st != CLD_OK)
        return st;
    if (text) {
        fputs(text, af.fp);
    } else {
        for (size_t i = 0; i < p->nitems; i++) {
            if (state[i] == ST_FAILED && !missing[p->items[i].shard])
                fprintf(af.fp, "%s\n", p->items[i].input);
        }
    }
    if (ferror(af.fp)) {
        cld_atomic_abort(&af);
        return cld__path_error(CLD_ERR_IO, path, "write error");
    }
    return cld_atomic_commit(&af);
}

static char *merged_doc(const struct cld_scaleout_plan *p,
                        const struct cld_scaleout_merge_result *r,
                        const bool *missing, const enum item_state *state,
                        char *const *error)
{
    json_object *doc = json_object_new_object(), *ms, *fl;
    char *text = NULL;

    if (!doc)
        return NULL;
    json_object_object_add(doc, "format", json_str(MERGED_FORMAT));
    json_object_object_add(doc, "version",
                           json_object_new_int(SUMMARY_VERSION));
    json_object_object_add(doc, "plan_hash", json_str(p->hash));
    json_object_object_add(doc, "shards", json_object_new_int64(p->shards));
    json_object_object_add(doc, "inputs",
                           json_object_new_int64((int64_t)p->nitems));
    json_object_object_add(doc, "done", json_object_new_int64(r->done));
    json_object_object_add(doc, "skipped",
                           json_object_new_int64(r->skipped));
    json_object_object_add(doc, "failed", json_object_new_int64(r->failed));
    json_object_object_add(doc, "bad_cover",
                           json_object_new_int64(r->bad_cover));
    json_object_object_add(doc, "complete",
                           json_object_new_boolean(r->shards_missing == 0 &&
                                                   r->bad_cover == 0));
    ms = json_object_new_array();
    fl = json_object_new_array();
    json_object_object_add(doc, "shards_missing", ms);
    json_object_object_add(doc, "failed_inputs", fl);
    for (uint32_t k = 0; ms && k < p->shards; k++) {
        if (missing[k])
            json_object_array_add(ms, json_object_new_int64(k));
    }
    for (size_t i = 0; fl && i < p->nitems; i++) {
        json_object *o;

        if (state[i] != ST_FAILED || missing[p->items[i].shard])
            continue;
        o = json_object_new_object();
        json_object_object_add(o, "input", json_str(p->items[i].input));
        json_object_object_add(o, "error", json_str(error[i]));
        json_object_array_add(fl, o);
    }
    text = strdup(json_object_to_json_string_ext(
        doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
    return text;
}

enum cld_status cld_scaleout_merge(const struct cld_scaleout_plan *p,
                                   FILE *out, FILE *err,
                                   struct cld_scaleout_merge_result *r)
{
    unsigned *seen = calloc(p->nitems ? p->nitems : 1, sizeof *seen);
    enum item_state *state = calloc(p->nitems ? p->nitems : 1,
                                    sizeof *state);
    char **error = calloc(p->nitems ? p->nitems : 1, sizeof *error);
    bool *missing = calloc(p->shards, sizeof *missing);
    char *merged = state_path(p, "merged.json");
    char *failed = state_path(p, "failed.txt");
    char *dir = state_path(p, "");
    char *text = NULL;
    enum cld_status st = CLD_OK;

    memset(r, 0, sizeof *r);
    if (!seen || !state || !error || !missing || !merged || !failed ||
        !dir) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (uint32_t k = 0; k < p->shards; k++) {
        if (!read_summary(p, k, seen, state, error, err, r)) {
            missing[k] = true;
            r->shards_missing++;
        }
    }
    for (size_t i = 0; i < p->nitems; i++) {
        if (missing[p->items[i].shard])
            continue;
        if (seen[i] != 1) {
            fprintf(err, "cldispatch: %s: covered %u times by shard %" PRIu32
                    " (expected once)\n", p->items[i].input, seen[i],
                    p->items[i].shard);
            r->bad_cover++;
            continue;
        }
        if (state[i] == ST_DONE)
            r->done++;
        else if (state[i] == ST_SKIPPED)
            r->skipped++;
        else
            r->failed++;
    }
    if ((st = cld_mkdir_p(dir)) != CLD_OK)
        goto out;
    text = merged_doc(p, r, missing, state, error);
    if (!text) {
        st = cld_error_set(CLD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = write_text(merged, text, p, state, missing)) != CLD_OK ||
        (st = write_text(failed, NULL, p, state, missing)) != CLD_OK)
        goto out;
    fprintf(out, "%" PRIu32 " shard%s, %" PRIu32 " missing; %zu inputs: "
            "%u done, %u skipped (already there), %u failed, %u not "
            "covered exactly once\n", p->shards, p->shards == 1 ? "" : "s",
            r->shards_missing, p->nitems, r->done, r->skipped, r->failed,
            r->bad_cover);
    fprintf(out, "summary: %s\nfailed inputs: %s\n", merged, failed);
out:
    for (size_t i = 0; error && i < p->nitems; i++)
        free(error[i]);
    free(seen);
    free(state);
    free(error);
    free(missing);
    free(merged);
    free(failed);
    free(dir);
    free(text);
    return st;
}
