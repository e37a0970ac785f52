/* Atomic output files, mkdir -p, checked input opening and the image-folder
 * walker. Everything here reports "PATH: cause" detail lines. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The stdio buffer of an output being written. */
#define ATOMIC_BUF (256u << 10)

/* Longest part of the final name kept in a temporary name, so that
 * ".NAME.XXXXXX.tmp" stays under NAME_MAX. */
#define TMP_BASE_MAX CLD_ATOMIC_TMP_BASE_MAX
#define TMP_TRIES 100
/* Deepest folder nesting the walker follows. */
#define WALK_MAX_DEPTH 128

/* ---- temporary files a signal removes ---------------------------------- */

/* The temporary files open now, in fixed slots that a signal handler can
 * read without locks or allocation: a slot is FREE, BUSY while its path
 * is written, or LIVE. */
#define LIVE_SLOTS 256
#define LIVE_PATH 4096
enum { SLOT_FREE, SLOT_BUSY, SLOT_LIVE };
static struct {
    atomic_int state;
    char path[LIVE_PATH];
} live[LIVE_SLOTS];
/* Set by the handler before it removes them: a file made by another
 * thread while it runs removes itself (live_add). */
static atomic_int dying;

/* Claim a slot (BUSY) before the file is made: slot + 1, or 0 when every
 * slot is taken (the file is then not removed by a signal). Once the
 * handler has begun, no new file is made: the claim is given back and
 * the thread waits for the end of the process, which is near (the
 * handler saw this slot FREE, or waits for it while it is BUSY). */
static int live_claim(void)
{
    for (int i = 0; i < LIVE_SLOTS; i++) {
        int expect = SLOT_FREE;

        if (!atomic_compare_exchange_strong(&live[i].state, &expect,
                                            SLOT_BUSY))
            continue;
        if (atomic_load(&dying)) {
            atomic_store(&live[i].state, SLOT_FREE);
            for (;;)
                pause();
        }
        return i + 1;
    }
    return 0;
}

/* The file tmp now exists: make its claimed slot LIVE. The thread
 * making it blocks the ending signals from its claim to here
 * (cld_atomic_open), so the handler never runs in between on this
 * thread; on another, it waits for BUSY slots to settle. A file made
 * while the handler runs removes itself. */
static void live_set(int slot, const char *tmp)
{
    size_t n = strlen(tmp);

    if (slot <= 0 || n >= LIVE_PATH)
        return;
    memcpy(live[slot - 1].path, tmp, n + 1);
    atomic_store(&live[slot - 1].state, SLOT_LIVE);
    if (atomic_load(&dying))
        unlink(tmp);
}

static void live_remove(int slot)
{
    if (slot > 0)
        atomic_store(&live[slot - 1].state, SLOT_FREE);
}

/* Remove every temporary file still open, then end the process by the
 * same signal (SA_RESETHAND put its default action back). A slot still
 * BUSY belongs to a thread in the middle of making its file, with these
 * signals blocked: wait for it (up to 20 ms) to become LIVE. unlink,
 * nanosleep and raise are async-signal-safe, and so are lock-free
 * atomics. */
static void on_ending_signal(int sig)
{
    int saved = errno;

    atomic_store(&dying, 1);
    for (int i = 0; i < LIVE_SLOTS; i++) {
        int st = atomic_load(&live[i].state);

        for (int w = 0; st == SLOT_BUSY && w < 200; w++) {
            struct timespec nap = {0, 100000};

            nanosleep(&nap, NULL);
            st = atomic_load(&live[i].state);
        }
        if (st == SLOT_LIVE)
            unlink(live[i].path);
    }
    errno = saved;
    raise(sig);
}

/* Block the signals on_ending_signal handles on this thread; *old gets
 * the mask to restore. */
static void block_ending_signals(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

void cld_atomic_remove_on_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa, old;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_ending_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        /* A signal the caller ignores (nohup) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

enum cld_status cld__path_error(enum cld_status st, const char *path,
                                const char *fmt, ...)
{
    char cause[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    return cld_error_set(st, "%s: %s", path ? path : "(null)", cause);
}

enum cld_status cld__status_from_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return CLD_ERR_NOT_FOUND;
    case ENOMEM:
        return CLD_ERR_NOMEM;
    case EEXIST:
        return CLD_ERR_EXISTS;
    default:
        return CLD_ERR_IO;
    }
}

/* malloc'd "a" + "/" + "b"; the separator is left out when a is empty. */
static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);

    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (la > 0 && a[la - 1] != '/')
        s[la++] = '/';
    memcpy(s + la, b, lb + 1);
    return s;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- atomic output files ---------------------------------------------- */

static atomic_ulong tmp_counter;

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Six name characters that differ between processes, threads and tries;
 * O_EXCL makes the name safe, this only makes collisions rare. */
static void random_suffix(char out[7], const void *salt)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts;
    uint64_t x;

    clock_gettime(CLOCK_REALTIME, &ts);
    x = mix64(atomic_fetch_add(&tmp_counter, 1) ^
              ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
              ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)salt);
    for (int i = 0; i < 6; i++) {
        out[i] = alphabet[x % (sizeof alphabet - 1)];
        x /= sizeof alphabet - 1;
    }
    out[6] = '\0';
}

enum cld_status cld_atomic_open(const char *path, bool overwrite,
                                struct cld_atomic_file *af)
{
    enum cld_status st = CLD_OK;
    const char *slash, *base;
    char *final_path = NULL, *tmp = NULL;
    size_t dir_len, base_len, tmp_cap;
    struct stat sb;
    sigset_t mask;
    int fd = -1;
    FILE *fp = NULL;

    if (!af)
        return cld_error_set(CLD_ERR_INVALID, "cld_atomic_open: af is NULL");
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return cld_error_set(CLD_ERR_INVALID, "empty output path");
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    dir_len = (size_t)(base - path);
    base_len = strlen(base);
    if (base_len == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return cld__path_error(CLD_ERR_INVALID, path,
                               "output path names a folder, not a file");
    if (!overwrite && lstat(path, &sb) == 0)
        return cld__path_error(CLD_ERR_EXISTS, path,
                               "file exists and overwrite is off");
    if (base_len > TMP_BASE_MAX)
        base_len = TMP_BASE_MAX;

    final_path = dup_str(path);
    tmp_cap = dir_len + base_len + 16;
    tmp = malloc(tmp_cap);
    if (!final_path || !tmp) {
        st = cld__path_error(CLD_ERR_NOMEM, path, "out of memory");
        goto out;
    }
    /* No ending signal on this thread from the claim until the file, if
     * made, is in its slot. */
    block_ending_signals(&mask);
    af->live = live_claim();
    for (int i = 0; i < TMP_TRIES; i++) {
        char suffix[7];

        random_suffix(suffix, af);
        snprintf(tmp, tmp_cap, "%.*s.%.*s.%s.tmp", (int)dir_len, path,
                 (int)base_len, base, suffix);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0)
            live_set(af->live, tmp);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    {
        int err = errno;

        pthread_sigmask(SIG_SETMASK, &mask, NULL);
        errno = err;
    }
    if (fd < 0) {
        int err = errno;

        st = cld__path_error(cld__status_from_errno(err), path,
                             "cannot create a temporary file in '%.*s': %s",
                             dir_len ? (int)dir_len : 1,
                             dir_len ? path : ".", strerror(err));
        goto out;
    }
    fp = fdopen(fd, "wb");
    if (!fp) {
        int err = errno;

        close(fd);
        unlink(tmp);
        st = cld__path_error(cld__status_from_errno(err), path,
                             "cannot open a stream: %s", strerror(err));
        goto out;
    }
    /* Encoders write a row at a time: with stdio's 4 KiB buffer a 6 MB
     * PPM took about 1,500 write calls. (glibc ignores the size unless it
     * is given the buffer; it lives until the stream is closed.) */
    af->buf = malloc(ATOMIC_BUF);
    if (af->buf)
        setvbuf(fp, af->buf, _IOFBF, ATOMIC_BUF);
    af->fp = fp;
    af->path = final_path;
    af->tmp_path = tmp;
    af->overwrite = overwrite;
    final_path = NULL;
    tmp = NULL;
out:
    if (st != CLD_OK) {
        live_remove(af->live);
        af->live = 0;
    }
    free(final_path);
    free(tmp);
    return st;
}

size_t cld_atomic_tmp_base(const char *name)
{
    /* "." + BASE + "." + six suffix characters + ".tmp" */
    size_t n = strlen(name);

    if (n < 1 + 1 + 1 + 6 + 4 || name[0] != '.' ||
        strcmp(name + n - 4, ".tmp") != 0 || name[n - 11] != '.')
        return 0;
    for (size_t i = n - 10; i < n - 4; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    return n - 12 > TMP_BASE_MAX ? 0 : n - 12;
}

/* Move tmp to path without replacing an existing file. link(2) is atomic
 * and fails with EEXIST; file systems without hard links get
 * renameat2(RENAME_NOREPLACE); only where neither exists do we fall back to
 * a check followed by rename, which can race. */
static enum cld_status place_noreplace(const char *tmp, const char *path)
{
    struct stat sb;
    int err;

    if (link(tmp, path) == 0) {
        unlink(tmp);
        return CLD_OK;
    }
    err = errno;
    if (err == EEXIST)
        goto exists;
    if (err != EPERM && err != EOPNOTSUPP && err != ENOSYS && err != EMLINK)
        goto fail;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return CLD_OK;
    err = errno;
    if (err == EEXIST)
        goto exists;
    if (err != EINVAL && err != ENOSYS)
        goto fail;
    if (lstat(path, &sb) == 0)
        goto exists;
    if (rename(tmp, path) == 0)
        return CLD_OK;
    err = errno;
fail:
    return cld__path_error(cld__status_from_errno(err), path,
                           "cannot move the finished file into place: %s",
                           strerror(err));
exists:
    return cld__path_error(CLD_ERR_EXISTS, path,
                           "file exists and overwrite is off");
}

static void atomic_clear(struct cld_atomic_file *af)
{
    live_remove(af->live);
    free(af->buf);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

enum cld_status cld_atomic_flush(struct cld_atomic_file *af)
{
    if (!af || !af->fp)
        return cld_error_set(CLD_ERR_INVALID,
                             "cld_atomic_flush: no open file");
    if (ferror(af->fp))
        return cld__path_error(CLD_ERR_IO, af->path,
                               "write error (an earlier write failed)");
    if (fflush(af->fp) != 0)
        return cld__path_error(CLD_ERR_IO, af->path, "write error: %s",
                               strerror(errno));
    return CLD_OK;
}

enum cld_status cld_atomic_commit(struct cld_atomic_file *af)
{
    enum cld_status st;
    FILE *fp;

    if (!af || !af->fp || !af->tmp_path || !af->path)
        return cld_error_set(CLD_ERR_INVALID,
                             "cld_atomic_commit: no open file");
    st = cld_atomic_flush(af);
    fp = af->fp;
    af->fp = NULL;
    if (st == CLD_OK && !af->no_sync && fsync(fileno(fp)) != 0 &&
        errno != EINVAL && errno != EROFS) {
        st = cld__path_error(CLD_ERR_IO, af->path, "fsync failed: %s",
                             strerror(errno));
    }
    if (fclose(fp) != 0 && st == CLD_OK)
        st = cld__path_error(CLD_ERR_IO, af->path, "close failed: %s",
                             strerror(errno));
    if (st == CLD_OK) {
        if (af->overwrite) {
            if (rename(af->tmp_path, af->path) != 0) {
                int err = errno;

                st = cld__path_error(CLD_ERR_IO, af->path,
                                     "cannot move the finished file into "
                                     "place: %s", strerror(err));
            }
        } else {
            st = place_noreplace(af->tmp_path, af->path);
        }
    }
    if (st != CLD_OK)
        unlink(af->tmp_path);
    atomic_clear(af);
    return st;
}

void cld_atomic_abort(struct cld_atomic_file *af)
{
    if (!af)
        return;
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    atomic_clear(af);
}

/* ---- folders and input files ------------------------------------------ */

enum cld_status cld_mkdir_p(const char *dir)
{
    enum cld_status st = CLD_OK;
    char *buf = NULL;
    size_t len;
    struct stat sb;

    if (!dir || !*dir)
        return cld_error_set(CLD_ERR_INVALID, "empty folder path");
    buf = dup_str(dir);
    if (!buf)
        return cld__path_error(CLD_ERR_NOMEM, dir, "out of memory");
    len = strlen(buf);
    /* Visit each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (i < len && buf[i] != '/')
            continue;
        if (i < len && buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0) {
            int err = errno;

            if (stat(buf, &sb) != 0) {
                st = cld__path_error(cld__status_from_errno(err), dir,
                                     "cannot create folder '%s': %s", buf,
                                     strerror(err));
                goto out;
            }
            if (!S_ISDIR(sb.st_mode)) {
                st = cld__path_error(CLD_ERR_IO, dir,
                                     "'%s' exists and is not a folder", buf);
                goto out;
            }
        }
        if (i < len)
            buf[i] = '/';
    }
out:
    free(buf);
    return st;
}

enum cld_status cld_open_read(const char *path, FILE **fp, uint64_t *size)
{
    struct stat sb;
    int fd, flags, err;
    FILE *f;

    if (!fp || !size)
        return cld_error_set(CLD_ERR_INVALID, "cld_open_read: NULL out");
    *fp = NULL;
    *size = 0;
    if (!path || !*path)
        return cld_error_set(CLD_ERR_INVALID, "empty input path");
    /* O_NONBLOCK so that opening a FIFO cannot hang; cleared below. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        err = errno;
        return cld__path_error(cld__status_from_errno(err), path,
                               "cannot open: %s", strerror(err));
    }
    if (fstat(fd, &sb) != 0) {
        err = errno;
        close(fd);
        return cld__path_error(CLD_ERR_IO, path, "cannot stat: %s",
                               strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return cld__path_error(CLD_ERR_INVALID, path, "%s",
                               S_ISDIR(sb.st_mode) ? "is a folder, not a file"
                                                   : "not a regular file");
    }
    flags = fcntl(fd, F_GETFL);
    if (flags != -1)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    f = fdopen(fd, "rb");
    if (!f) {
        err = errno;
        close(fd);
        return cld__path_error(cld__status_from_errno(err), path,
                               "cannot open a stream: %s", strerror(err));
    }
    *fp = f;
    *size = (uint64_t)sb.st_size;
    return CLD_OK;
}

/* ---- walker ------------------------------------------------------------ */

bool cld_path_has_image_ext(const char *path)
{
    static const char *const exts[] = {"png", "jpg", "jpeg", "ppm", "pgm",
                                       "pnm"};
    const char *slash, *dot;

    if (!path)
        return false;
    slash = strrchr(path, '/');
    dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot)
        return false;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0)
            return true;
    return false;
}

void cld_path_list_free(struct cld_path_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    list->paths = NULL;
    list->count = list->cap = 0;
}

/* Takes ownership of s. */
static enum cld_status list_push(struct cld_path_list *list, char *s)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 32;
        char **p = realloc(list->paths, cap * sizeof *p);

        if (!p) {
            free(s);
            return cld_error_set(CLD_ERR_NOMEM, "out of memory listing "
                                                "images");
        }
        list->paths = p;
        list->cap = cap;
    }
    list->paths[list->count++] = s;
    return CLD_OK;
}

struct walk {
    const char *root;
    struct cld_path_list *out;
    struct {
        dev_t dev;
        ino_t ino;
    } chain[WALK_MAX_DEPTH];
    size_t depth;
};

static enum cld_status walk_dir(struct walk *w, const char *rel);

/* Handle one directory entry: full is root-based, rel is root-relative.
 * Takes ownership of rel. */
static enum cld_status walk_entry(struct walk *w, const char *full, char *rel)
{
    enum cld_status st = CLD_OK;
    struct stat sb;
    bool loop = false;

    if (stat(full, &sb) != 0) {
        int err = errno;

        /* Dangling links and link loops are skipped, not errors. */
        if (err != ENOENT && err != ELOOP)
            st = cld__path_error(CLD_ERR_IO, full, "cannot stat: %s",
                                 strerror(err));
        free(rel);
        return st;
    }
    if (S_ISREG(sb.st_mode)) {
        if (cld_path_has_image_ext(rel))
            return list_push(w->out, rel);
        free(rel);
        return CLD_OK;
    }
    if (!S_ISDIR(sb.st_mode)) {
        free(rel);
        return CLD_OK;
    }
    for (size_t i = 0; i < w->depth; i++)
        if (w->chain[i].dev == sb.st_dev && w->chain[i].ino == sb.st_ino)
            loop = true;
    if (!loop) {
        if (w->depth == WALK_MAX_DEPTH) {
            st = cld__path_error(CLD_ERR_IO, full, "folders nested deeper "
                                 "than %d levels", WALK_MAX_DEPTH);
        } else {
            w->chain[w->depth].dev = sb.st_dev;
            w->chain[w->depth].ino = sb.st_ino;
            w->depth++;
            st = walk_dir(w, rel);
            w->depth--;
        }
    }
    free(rel);
    return st;
}

static enum cld_status walk_dir(struct walk *w, const char *rel)
{
    enum cld_status st = CLD_OK;
    char *dir_path = NULL;
    DIR *d = NULL;
    struct dirent *e;

    dir_path = *rel ? path_join(w->root, rel) : dup_str(w->root);
    if (!dir_path)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory listing images");
    d = opendir(dir_path);
    if (!d) {
        int err = errno;

        st = cld__path_error(cld__status_from_errno(err), dir_path,
                             "cannot open folder: %s", strerror(err));
        goto out;
    }
    for (;;) {
        char *child_rel, *child_full;

        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno != 0)
                st = cld__path_error(CLD_ERR_IO, dir_path,
                                     "cannot read folder: %s",
                                     strerror(errno));
            break;
        }
        if (e->d_name[0] == '.')
            continue;
        child_rel = *rel ? path_join(rel, e->d_name) : dup_str(e->d_name);
        child_full = path_join(dir_path, e->d_name);
        if (!child_rel || !child_full) {
            free(child_rel);
            free(child_full);
            st = cld_error_set(CLD_ERR_NOMEM, "out of memory listing images");
            break;
        }
        st = walk_entry(w, child_full, child_rel);
        free(child_full);
        if (st != CLD_OK)
            break;
    }
out:
    if (d)
        closedir(d);
    free(dir_path);
    return st;
}

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum cld_status cld_walk_images(const char *root, struct cld_path_list *out)
{
    enum cld_status st;
    struct walk *w = NULL;
    struct stat sb;

    if (!out)
        return cld_error_set(CLD_ERR_INVALID, "cld_walk_images: out is NULL");
    memset(out, 0, sizeof *out);
    if (!root || !*root)
        return cld_error_set(CLD_ERR_INVALID, "empty folder path");
    if (stat(root, &sb) != 0) {
        int err = errno;

        return cld__path_error(cld__status_from_errno(err), root,
                               "cannot open folder: %s", strerror(err));
    }
    if (!S_ISDIR(sb.st_mode))
        return cld__path_error(CLD_ERR_INVALID, root, "not a folder");
    w = calloc(1, sizeof *w);
    if (!w)
        return cld__path_error(CLD_ERR_NOMEM, root, "out of memory");
    w->root = root;
    w->out = out;
    w->chain[0].dev = sb.st_dev;
    w->chain[0].ino = sb.st_ino;
    w->depth = 1;
    st = walk_dir(w, "");
    free(w);
    if (st != CLD_OK) {
        cld_path_list_free(out);
        return st;
    }
    if (out->count > 1)
        qsort(out->paths, out->count, sizeof *out->paths, cmp_paths);
    return CLD_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void cld_remove_tree(const char *path)
{
    if (path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
