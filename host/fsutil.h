/* File-system helpers for the I/O layer: atomic output files (write to a
 * temporary file in the target's folder, then rename it into place), mkdir -p,
 * checked opening of input files, and a deterministic image-folder walker.
 *
 * Error detail convention (shared by fsutil, image_io and npy): every detail
 * line recorded by these modules starts with the path it is about, as
 * "PATH: cause" (for example "out/a.png: file exists and overwrite is off").
 * Callers should not prefix the path again. */
#ifndef CLD_FSUTIL_H
#define CLD_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* An output file being written. Fill it with cld_atomic_open, write through
 * fp, then call exactly one of cld_atomic_commit or cld_atomic_abort (abort
 * after commit, or twice, is a harmless no-op). The struct is caller-owned;
 * the strings inside are owned by it and freed by commit/abort. */
struct cld_atomic_file {
    FILE *fp;        /* write here; closed by commit/abort */
    char *path;      /* final path */
    char *tmp_path;  /* ".NAME.XXXXXX.tmp" in the same folder */
    bool overwrite;  /* replace an existing file at commit */
    void *buf;       /* the stream's buffer, freed after it is closed */
    bool no_sync;    /* set after open to skip fsync at commit (faster,
                        less durable after a crash) */
    int live;        /* its slot for cld_atomic_remove_on_signals; 0: none */
};

/* Create a temporary file next to path (same folder, so the final rename is
 * atomic) and open it for writing with permissions 0666 & ~umask. When
 * overwrite is false and path already exists, fails early with
 * CLD_ERR_EXISTS; commit checks again without a race. A missing folder gives
 * CLD_ERR_NOT_FOUND, other failures CLD_ERR_IO. On failure af is left empty
 * and needs no abort. */
enum cld_status cld_atomic_open(const char *path, bool overwrite,
                                struct cld_atomic_file *af);

/* Write what the stream holds to the file, reporting a failed write (a
 * full disk) as "PATH: write error: ..."; the file stays open for
 * cld_atomic_commit (or abort). For a writer that hands the commit, with
 * its wait for the disk, to another thread. */
enum cld_status cld_atomic_flush(struct cld_atomic_file *af);

/* Flush, fsync (unless no_sync), close and move the temporary file to its
 * final path. Without overwrite an existing file is never replaced (link(2),
 * else renameat2 RENAME_NOREPLACE): CLD_ERR_EXISTS naming the path. On any
 * failure the temporary file is removed. af is emptied either way. */
enum cld_status cld_atomic_commit(struct cld_atomic_file *af);

/* Close and remove the temporary file; a no-op on an empty or committed af. */
void cld_atomic_abort(struct cld_atomic_file *af);

/* For programs (the CLI calls it first): make SIGINT, SIGTERM and SIGHUP
 * remove every temporary file still open (written but not yet committed
 * or aborted) before they end the process as they would have. Signals
 * the process ignores stay ignored. Best effort: a file made in the
 * instant before the signal may still be left, and SIGKILL leaves them
 * all (cld_atomic_tmp_base names them for whoever cleans up). Not done
 * by the library on its own: a host program keeps its own handlers. */
void cld_atomic_remove_on_signals(void);

/* A temporary name keeps at most this many bytes of the final name. */
#define CLD_ATOMIC_TMP_BASE_MAX 200

/* When the folder entry `name` has the form of a temporary file made by
 * cld_atomic_open (".BASE.XXXXXX.tmp"), the length of BASE, which starts at
 * name + 1 and is the final file's name cut to CLD_ATOMIC_TMP_BASE_MAX
 * bytes; otherwise 0. A process killed between open and commit leaves such
 * a file behind; whoever owns the final name may remove it. */
size_t cld_atomic_tmp_base(const char *name);

/* Remove path and everything under it (symbolic links are removed, not
 * followed); for folders the program made itself. */
void cld_remove_tree(const char *path);

/* Create dir and its missing parents (mode 0777 & ~umask). An existing
 * directory is fine; an existing non-directory is CLD_ERR_IO. */
enum cld_status cld_mkdir_p(const char *dir);

/* Open an existing regular file for reading (binary). Refuses directories,
 * FIFOs and devices without blocking. *size receives the file size. The
 * caller closes *fp with fclose. CLD_ERR_NOT_FOUND when it does not exist. */
enum cld_status cld_open_read(const char *path, FILE **fp, uint64_t *size);

/* A list of paths; the list owns each string and the array. */
struct cld_path_list {
    char **paths;
    size_t count;
    size_t cap;
};

/* True when path ends in an image extension this project reads: .png .jpg
 * .jpeg .ppm .pgm .pnm, compared case-insensitively. */
bool cld_path_has_image_ext(const char *path);

/* Recursively list the regular files under root whose names have an image
 * extension, as paths relative to root ("sub/a.png"), sorted bytewise
 * (strcmp) so that the order does not depend on the file system or locale.
 * Entries whose names start with '.' are skipped (this also hides temporary
 * files of cld_atomic_open). Symbolic links are followed, but a directory
 * that is already an ancestor of the current one is skipped, so link loops
 * end; dangling links are skipped. A subdirectory that cannot be read is an
 * error, so that no input is silently lost. out must be zeroed or freed
 * before the call; on failure it is left empty. Free with
 * cld_path_list_free. */
enum cld_status cld_walk_images(const char *root, struct cld_path_list *out);

/* Free the paths and the array and zero the list; accepts NULL. */
void cld_path_list_free(struct cld_path_list *list);

/* Internal to the I/O layer: record "PATH: formatted cause" and return st. */
enum cld_status cld__path_error(enum cld_status st, const char *path,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Internal: map an errno value to a status (ENOENT/ENOTDIR -> NOT_FOUND,
 * ENOMEM -> NOMEM, EEXIST -> EXISTS, anything else -> IO). */
enum cld_status cld__status_from_errno(int err);

#endif
