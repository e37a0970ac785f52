/* Calibration profiles and run history on disk. Each file is a magic line
 * then one tab-separated record per line; writers hold an flock on "lock"
 * while they read, merge and replace a file through a temporary file and
 * rename, so readers never see half a file and no writer loses another's
 * records. Anything that does not parse is dropped with a warning. */
#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HISTORY_FILE "history"
#define PROFILES_FILE "profiles"
#define LOCK_FILE "lock"
#define LINE_MAX_LEN 4096

struct cld_profile_store {
    char *dir;
    char warning[512];
    bool other_version;  /* last read met another schema version */
};

/* A growing array of saved profiles (only key and measured fields). */
struct profile_list {
    size_t n, cap;
    struct cld_target_profile *v;
};

typedef enum cld_status (*line_fn)(void *ctx, char *line);
typedef enum cld_status (*write_fn)(void *ctx, FILE *f);

static void warn(struct cld_profile_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct cld_profile_store *s, const char *fmt, ...)
{
    size_t len = strlen(s->warning);
    va_list ap;

    if (len && len + 2 < sizeof s->warning) {
        memcpy(s->warning + len, "; ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(s->warning + len, sizeof s->warning - len, fmt, ap);
    va_end(ap);
}

static char *path_join(const char *dir, const char *name)
{
    char *p = NULL;

    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

/* mkdir -p, mode 0700 for what it creates. */
static enum cld_status make_dirs(char *path)
{
    struct stat st;

    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;

        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            enum cld_status st2 = cld_error_set(CLD_ERR_IO, "mkdir %s: %s",
                                                path, strerror(errno));
            *p = c;
            return st2;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cld_error_set(CLD_ERR_IO, "%s: not a folder", path);
    return CLD_OK;
}

enum cld_status cld_profile_store_open(const char *dir,
                                       struct cld_profile_store **out)
{
    struct cld_profile_store *s = NULL;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    enum cld_status st = CLD_OK;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return cld_error_set(CLD_ERR_NOMEM, "profile store");
    if (dir && *dir)
        rc = asprintf(&s->dir, "%s", dir);
    else if (xdg && xdg[0] == '/')  /* the spec ignores relative values */
        rc = asprintf(&s->dir, "%s/cldispatch", xdg);
    else if (home && *home)
        rc = asprintf(&s->dir, "%s/.cache/cldispatch", home);
    else {
        st = cld_error_set(CLD_ERR_NOT_FOUND, "no cache folder: neither "
                           "XDG_CACHE_HOME nor HOME is set");
        goto out;
    }
    if (rc < 0) {
        s->dir = NULL;
        st = cld_error_set(CLD_ERR_NOMEM, "profile store path");
        goto out;
    }
    st = make_dirs(s->dir);
out:
    if (st != CLD_OK)
        cld_profile_store_close(s);
    else
        *out = s;
    return st;
}

void cld_profile_store_close(struct cld_profile_store *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s);
}

const char *cld_profile_store_dir(const struct cld_profile_store *s)
{
    return s->dir;
}

const char *cld_profile_store_warning(const struct cld_profile_store *s)
{
    return s->warning;
}

static enum cld_status lock_store(struct cld_profile_store *s, int *fd)
{
    char *path = path_join(s->dir, LOCK_FILE);
    enum cld_status st = CLD_OK;

    *fd = -1;
    if (!path)
        return cld_error_set(CLD_ERR_NOMEM, "lock path");
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) {
        st = cld_error_set(CLD_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            st = cld_error_set(CLD_ERR_IO, "flock %s: %s", path,
                               strerror(errno));
            close(*fd);
            *fd = -1;
            goto out;
        }
    }
out:
    free(path);
    return st;
}

static void unlock_store(int fd)
{
    if (fd >= 0)
        close(fd);  /* releases the flock */
}

/* Compare the version in line with magic's when the names match: > 0 for
 * a newer file, < 0 for an older one, 0 for the same or another name. */
static int version_cmp(const char *line, const char *magic)
{
    size_t name = (size_t)(strrchr(magic, ' ') - magic) + 1;
    char *end;
    unsigned long ours, theirs;

    if (strncmp(line, magic, name) != 0 || !isdigit((unsigned char)line[name]))
        return 0;
    ours = strtoul(magic + name, NULL, 10);
    errno = 0;
    theirs = strtoul(line + name, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    return (theirs > ours) - (theirs < ours);
}

/* Feed each record line of dir/name to fn. A missing file is empty; a
 * wrong magic, malformed lines or a cut-off last line are warnings. */
static enum cld_status read_file(struct cld_profile_store *s,
                                 const char *name, const char *magic,
                                 line_fn fn, void *ctx)
{
    char *path = path_join(s->dir, name), *line = NULL;
    size_t cap = 0, bad = 0, lineno = 0;
    enum cld_status st = CLD_OK;
    FILE *f = NULL;
    ssize_t len;

    s->other_version = false;
    if (!path)
        return cld_error_set(CLD_ERR_NOMEM, "store path");
    f = fopen(path, "re");
    if (!f) {
        if (errno != ENOENT)
            st = cld_error_set(CLD_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        bool whole = len > 0 && line[len - 1] == '\n';

        lineno++;
        if (whole)
            line[--len] = '\0';
        if (lineno == 1) {
            if (whole && strcmp(line, magic) == 0)
                continue;
            /* Same name, newer version: a newer cldispatch owns it, so
             * neither read it nor write over it. An older version is
             * ignored and replaced by the next write. */
            s->other_version = whole && version_cmp(line, magic) > 0;
            if (whole && version_cmp(line, magic) < 0)
                warn(s, "%s: older format than '%s', ignored and replaced",
                     path, magic);
            else
                warn(s, "%s: not a '%s' file, %s", path, magic,
                     s->other_version ? "left alone" : "ignored");
            goto out;
        }
        if (!whole) {
            warn(s, "%s: truncated last line ignored", path);
            break;
        }
        if ((size_t)len != strlen(line) || len > LINE_MAX_LEN) {
            bad++;
            continue;
        }
        st = fn(ctx, line);
        if (st == CLD_ERR_FORMAT) {
            bad++;
            st = CLD_OK;
        } else if (st != CLD_OK) {
            goto out;
        }
    }
    if (ferror(f))
        st = cld_error_set(CLD_ERR_IO, "reading %s", path);
    else if (lineno == 0)
        warn(s, "%s: empty, ignored", path);
    if (bad)
        warn(s, "%s: %zu malformed line%s ignored", path, bad,
             bad > 1 ? "s" : "");
out:
    if (f)
        fclose(f);
    free(line);
    free(path);
    return st;
}

/* Replace dir/name atomically with magic plus what fn writes. */
static enum cld_status write_file(struct cld_profile_store *s,
                                  const char *name, const char *magic,
                                  write_fn fn, void *ctx)
{
    char *path = path_join(s->dir, name), *tmp = NULL;
    enum cld_status st = CLD_OK;
    FILE *f = NULL;
    bool made = false;
    int fd = -1;

    if (!path || asprintf(&tmp, "%s/.%s.XXXXXX", s->dir, name) < 0) {
        tmp = NULL;
        st = cld_error_set(CLD_ERR_NOMEM, "store path");
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    made = fd >= 0;
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        st = cld_error_set(CLD_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (fprintf(f, "%s\n", magic) < 0) {
        st = cld_error_set(CLD_ERR_IO, "writing %s", tmp);
        goto out;
    }
    st = fn(ctx, f);
    if (st != CLD_OK)
        goto out;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        st = cld_error_set(CLD_ERR_IO, "writing %s: %s", tmp,
                           strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        st = cld_error_set(CLD_ERR_IO, "closing %s", tmp);
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0)
        st = cld_error_set(CLD_ERR_IO, "rename %s: %s", path,
                           strerror(errno));
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (st != CLD_OK && made)
        unlink(tmp);
    free(tmp);
    free(path);
    return st;
}

/* Split line at tabs into at most max fields; returns the count. */
static size_t split_tabs(char *line, char **field, size_t max)
{
    size_t n = 0;

    for (char *p = line; n < max; n++) {
        field[n] = p;
        p = strchr(p, '\t');
        if (!p)
            return n + 1;
        *p++ = '\0';
    }
    return max + 1;  /* too many */
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static bool parse_double(const char *s, double *v)
{
    char *end;

    if (!*s)
        return false;
    errno = 0;
    *v = strtod(s, &end);
    return errno == 0 && *end == '\0' && isfinite(*v) && *v >= 0;
}

/* ---- history ---- */

/* "job \t params \t key \t work \t seconds" */
static enum cld_status history_line(void *ctx, char *line)
{
    char *f[5];
    uint64_t work;
    double seconds;
    enum cld_status st;

    if (split_tabs(line, f, 5) != 5 || !parse_u64(f[3], &work)
        || !parse_double(f[4], &seconds))
        return CLD_ERR_FORMAT;
    st = cld_history_add(ctx, f[0], f[1], f[2], work, seconds);
    return st == CLD_ERR_INVALID ? CLD_ERR_FORMAT : st;
}

static enum cld_status history_write(void *ctx, FILE *f)
{
    const struct cld_history *h = ctx;

    for (size_t i = 0; i < h->n; i++) {
        const struct cld_history_entry *e = &h->entries[i];

        for (size_t j = 0; j < e->n; j++) {
            if (fprintf(f, "%s\t%s\t%s\t%llu\t%.17g\n", e->job, e->params,
                        e->key, (unsigned long long)e->samples[j].work,
                        e->samples[j].seconds) < 0)
                return cld_error_set(CLD_ERR_IO, "writing history");
        }
    }
    return CLD_OK;
}

enum cld_status cld_profile_load_history(struct cld_profile_store *s,
                                         struct cld_history *hist)
{
    s->warning[0] = '\0';
    return read_file(s, HISTORY_FILE, CLD_HISTORY_MAGIC, history_line, hist);
}

enum cld_status cld_profile_record_many(struct cld_profile_store *s,
                                        const struct cld_history *fresh)
{
    struct cld_history merged;
    enum cld_status st;
    int lock = -1;

    cld_history_init(&merged);
    s->warning[0] = '\0';
    st = lock_store(s, &lock);
    if (st != CLD_OK)
        goto out;
    st = read_file(s, HISTORY_FILE, CLD_HISTORY_MAGIC, history_line,
                   &merged);
    for (size_t i = 0; st == CLD_OK && i < fresh->n; i++) {
        const struct cld_history_entry *e = &fresh->entries[i];

        for (size_t j = 0; st == CLD_OK && j < e->n; j++)
            st = cld_history_add(&merged, e->job, e->params, e->key,
                                 e->samples[j].work,
                                 e->samples[j].seconds);
    }
    if (st == CLD_OK && !s->other_version)
        st = write_file(s, HISTORY_FILE, CLD_HISTORY_MAGIC, history_write,
                        &merged);
out:
    unlock_store(lock);
    cld_history_clear(&merged);
    return st;
}

enum cld_status cld_profile_record(struct cld_profile_store *s,
                                   const char *job, const char *params,
                                   const char *target_key, uint64_t work,
                                   double seconds)
{
    struct cld_history one;
    enum cld_status st;

    cld_history_init(&one);
    st = cld_history_add(&one, job, params, target_key, work, seconds);
    if (st == CLD_OK)
        st = cld_profile_record_many(s, &one);
    cld_history_clear(&one);
    return st;
}

/* ---- calibration profiles ---- */

static enum cld_status append_profile(struct profile_list *l,
                                      const struct cld_target_profile *t)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        void *p = realloc(l->v, cap * sizeof *l->v);

        if (!p)
            return cld_error_set(CLD_ERR_NOMEM, "profile list");
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = *t;
    return CLD_OK;
}

/* "key \t h2d=.. \t d2h=.. \t launch=.. \t rate.<job>=.." ; unknown names
 * are skipped so that a newer writer of the same version stays readable. */
static enum cld_status profile_line(void *ctx, char *line)
{
    struct profile_list *l = ctx;
    struct cld_target_profile t;
    char *f[4 + CLD_TARGET_RATES];
    size_t n = split_tabs(line, f, 4 + CLD_TARGET_RATES);
    double v;

    if (n > 4 + CLD_TARGET_RATES || strlen(f[0]) >= CLD_KEY_MAX || !*f[0])
        return CLD_ERR_FORMAT;
    cld_target_init(&t, CLD_TARGET_HOST, -1, "", f[0]);
    for (size_t i = 1; i < n; i++) {
        char *eq = strchr(f[i], '=');

        if (!eq || !parse_double(eq + 1, &v))
            return CLD_ERR_FORMAT;
        *eq = '\0';
        if (strcmp(f[i], "h2d") == 0)
            t.h2d_bytes_per_s = v;
        else if (strcmp(f[i], "d2h") == 0)
            t.d2h_bytes_per_s = v;
        else if (strcmp(f[i], "launch") == 0)
            t.launch_s = v;
        else if (strncmp(f[i], "rate.", 5) == 0
                 && cld_target_set_rate(&t, f[i] + 5, v) != CLD_OK)
            return CLD_ERR_FORMAT;
    }
    return append_profile(l, &t);
}

static enum cld_status profiles_write(void *ctx, FILE *f)
{
    const struct profile_list *l = ctx;
    int rc = 0;

    for (size_t i = 0; i < l->n && rc >= 0; i++) {
        const struct cld_target_profile *t = &l->v[i];

        rc = fprintf(f, "%s\th2d=%.17g\td2h=%.17g\tlaunch=%.17g", t->key,
                     t->h2d_bytes_per_s, t->d2h_bytes_per_s, t->launch_s);
        for (size_t j = 0; j < t->n_rates && rc >= 0; j++)
            rc = fprintf(f, "\trate.%s=%.17g", t->rates[j].job,
                         t->rates[j].elements_per_s);
        if (rc >= 0)
            rc = fputc('\n', f);
    }
    return rc < 0 ? cld_error_set(CLD_ERR_IO, "writing profiles") : CLD_OK;
}

/* Last saved profile with key, or NULL. */
static struct cld_target_profile *find_profile(struct profile_list *l,
                                               const char *key)
{
    for (size_t i = l->n; i-- > 0;) {
        if (strcmp(l->v[i].key, key) == 0)
            return &l->v[i];
    }
    return NULL;
}

static void copy_measured(struct cld_target_profile *dst,
                          const struct cld_target_profile *src)
{
    dst->h2d_bytes_per_s = src->h2d_bytes_per_s;
    dst->d2h_bytes_per_s = src->d2h_bytes_per_s;
    dst->launch_s = src->launch_s;
    dst->n_rates = src->n_rates;
    memcpy(dst->rates, src->rates, sizeof dst->rates);
}

enum cld_status cld_profile_load(struct cld_profile_store *s,
                                 struct cld_target_profile *t, bool *found)
{
    struct profile_list l = { 0 };
    struct cld_target_profile *p;
    enum cld_status st;

    *found = false;
    s->warning[0] = '\0';
    st = read_file(s, PROFILES_FILE, CLD_PROFILES_MAGIC, profile_line, &l);
    if (st == CLD_OK && (p = find_profile(&l, t->key)) != NULL) {
        copy_measured(t, p);
        *found = true;
    }
    free(l.v);
    return st;
}

enum cld_status cld_profile_save(struct cld_profile_store *s,
                                 const struct cld_target_profile *t)
{
    struct profile_list l = { 0 };
    struct cld_target_profile *p;
    enum cld_status st;
    int lock = -1;

    s->warning[0] = '\0';
    if (!t->key[0] || strpbrk(t->key, "\t\r\n"))
        return cld_error_set(CLD_ERR_INVALID, "bad target key '%s'",
                             t->key);
    for (size_t j = 0; j < t->n_rates; j++) {
        if (strpbrk(t->rates[j].job, "\t\r\n="))
            return cld_error_set(CLD_ERR_INVALID, "bad job name in rates");
    }
    st = lock_store(s, &lock);
    if (st != CLD_OK)
        goto out;
    st = read_file(s, PROFILES_FILE, CLD_PROFILES_MAGIC, profile_line, &l);
    if (st != CLD_OK)
        goto out;
    if (s->other_version)
        goto out;
    p = find_profile(&l, t->key);
    if (p) {
        copy_measured(p, t);
    } else {
        st = append_profile(&l, t);
        if (st != CLD_OK)
            goto out;
    }
    st = write_file(s, PROFILES_FILE, CLD_PROFILES_MAGIC, profiles_write,
                    &l);
out:
    unlock_store(lock);
    free(l.v);
    return st;
}
