/* See fuzz_common.h. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int memfd = -1;
static char mempath[64];

const char *cld_fuzz_memfile(const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (memfd < 0) {
        memfd = memfd_create("cld-fuzz", MFD_CLOEXEC);
        if (memfd < 0)
            return NULL;
        snprintf(mempath, sizeof mempath, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) != 0)
        return NULL;
    while (done < size) {
        ssize_t n = pwrite(memfd, data + done, size - done, (off_t)done);

        if (n <= 0)
            return NULL;
        done += (size_t)n;
    }
    return mempath;
}

void cld_fuzz_quiet(void)
{
    static FILE *null;

    if (!null) {
        null = fopen("/dev/null", "w");
        if (null) {
            stderr = null;
            stdout = null; /* `run --help` prints the usage there */
        }
    }
}

static char store_dir[256];

/* libFuzzer ends a bounded run with exit(): remove what the store targets
 * wrote. */
static void remove_store_dir(void)
{
    static const char *const names[] = {"history", "profiles", "lock"};
    char path[320];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", store_dir, names[i]);
        unlink(path);
    }
    rmdir(store_dir);
}

const char *cld_fuzz_dir(void)
{
    char *dir = store_dir;

    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");

        /* A file system in memory where there is one: on a disk, each
         * execution's file costs the fuzzer twenty times its speed. */
        if (access("/dev/shm", W_OK) == 0)
            tmp = "/dev/shm";
        snprintf(dir, sizeof store_dir, "%s/cld-fuzz-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            dir[0] = '\0';
            return NULL;
        }
        atexit(remove_store_dir);
    }
    return dir;
}

int cld_fuzz_write(const char *dir, const char *name, const uint8_t *data,
                   size_t size)
{
    char path[512];
    FILE *f;
    int rc = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    if (size && fwrite(data, 1, size, f) != size)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}
