/* Keyed and unkeyed digests for cache files, and the cache's key file. */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#define KEY_FILE "key"
#define KEY_HEX (2 * sizeof(((struct cld_seal_key *)0)->bytes))

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void cld_seal_sha256(const void *data, size_t n, char out[CLD_SEAL_HEX_LEN])
{
    struct sha256_ctx ctx;
    uint8_t md[SHA256_DIGEST_SIZE];

    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, sizeof md, md);
    to_hex(md, sizeof md, out);
}

void cld_seal_mac(const struct cld_seal_key *key, const void *data,
                  size_t n, char out[CLD_SEAL_HEX_LEN])
{
    struct hmac_sha256_ctx ctx;
    uint8_t md[SHA256_DIGEST_SIZE];

    hmac_sha256_set_key(&ctx, sizeof key->bytes, key->bytes);
    hmac_sha256_update(&ctx, n, data);
    hmac_sha256_digest(&ctx, sizeof md, md);
    explicit_bzero(&ctx, sizeof ctx); /* it holds the padded key */
    to_hex(md, sizeof md, out);
}

bool cld_seal_equal(const char *a, const char *b)
{
    size_t la = strnlen(a, CLD_SEAL_HEX_LEN), lb = strnlen(b,
                                                           CLD_SEAL_HEX_LEN);

    if (la != CLD_SEAL_HEX_LEN - 1 || lb != CLD_SEAL_HEX_LEN - 1)
        return false;
    return memeql_sec(a, b, CLD_SEAL_HEX_LEN - 1) != 0;
}

/* Parse "64 hex digits\n"; false when malformed. */
static bool parse_key(const char *text, size_t len, struct cld_seal_key *key)
{
    if (len != KEY_HEX + 1 || text[KEY_HEX] != '\n')
        return false;
    for (size_t i = 0; i < sizeof key->bytes; i++) {
        int hi = hex_val(text[2 * i]), lo = hex_val(text[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        key->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* Read path into key. CLD_ERR_NOT_FOUND when missing, CLD_ERR_FORMAT when
 * malformed, CLD_ERR_IO when unsafe or unreadable. */
static enum cld_status read_key(const char *path, struct cld_seal_key *key)
{
    char text[KEY_HEX + 8];
    struct stat st;
    ssize_t len;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    enum cld_status s = CLD_OK;

    if (fd < 0)
        return errno == ENOENT
                   ? CLD_ERR_NOT_FOUND
                   : cld_error_set(CLD_ERR_IO, "%s: %s", path,
                                   strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        s = cld_error_set(CLD_ERR_IO, "%s: not a private file of this user "
                          "(mode 0600 expected)", path);
        goto out;
    }
    len = read(fd, text, sizeof text);
    if (len < 0) {
        s = cld_error_set(CLD_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!parse_key(text, (size_t)len, key))
        s = CLD_ERR_FORMAT;
out:
    close(fd);
    return s;
}

/* Write a new random key next to path and move it into place: with
 * link(2), which never replaces a key that another process made first,
 * or with rename(2) over a malformed one when replace is set. */
static enum cld_status write_key(const char *dir, const char *path,
                                 bool replace)
{
    struct cld_seal_key k;
    char text[KEY_HEX + 2], tmp[4096];
    int fd, n;
    enum cld_status s = CLD_OK;

    for (size_t got = 0; got < sizeof k.bytes;) {
        ssize_t r = getrandom(k.bytes + got, sizeof k.bytes - got, 0);

        if (r < 0 && errno != EINTR)
            return cld_error_set(CLD_ERR_IO, "no random bytes for the cache "
                                 "key: %s", strerror(errno));
        got += r > 0 ? (size_t)r : 0;
    }
    to_hex(k.bytes, sizeof k.bytes, text);
    text[KEY_HEX] = '\n';
    n = snprintf(tmp, sizeof tmp, "%s/.key.XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return cld_error_set(CLD_ERR_IO, "%s: path too long", dir);
    fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0)
        return cld_error_set(CLD_ERR_IO, "%s: %s", dir, strerror(errno));
    if (write(fd, text, KEY_HEX + 1) != (ssize_t)(KEY_HEX + 1) ||
        fsync(fd) != 0) {
        s = cld_error_set(CLD_ERR_IO, "%s: %s", tmp, strerror(errno));
        close(fd);
        goto out;
    }
    close(fd);
    if (replace ? rename(tmp, path) != 0
                : link(tmp, path) != 0 && errno != EEXIST)
        s = cld_error_set(CLD_ERR_IO, "%s: %s", path, strerror(errno));
out:
    unlink(tmp); /* after link(2), or when something failed */
    explicit_bzero(&k, sizeof k);
    return s;
}

enum cld_status cld_seal_key_load(const char *dir, struct cld_seal_key *key)
{
    char path[4096];
    enum cld_status s;
    int n = snprintf(path, sizeof path, "%s/" KEY_FILE, dir);

    if (n < 0 || (size_t)n >= sizeof path)
        return cld_error_set(CLD_ERR_IO, "%s: path too long", dir);
    s = read_key(path, key);
    if (s == CLD_ERR_NOT_FOUND || s == CLD_ERR_FORMAT) {
        /* Whoever links first wins; everyone then reads that key. */
        s = write_key(dir, path, s == CLD_ERR_FORMAT);
        if (s == CLD_OK)
            s = read_key(path, key);
        if (s == CLD_ERR_NOT_FOUND || s == CLD_ERR_FORMAT)
            s = cld_error_set(CLD_ERR_IO, "%s: cannot make a key", path);
    }
    return s;
}
