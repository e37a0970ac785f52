/* Integrity seals for the compiled-kernel cache: a SHA-256 of each file's
 * payload and an HMAC-SHA-256 of its header (which holds that SHA-256)
 * under a secret key kept in the cache folder. A file whose payload was
 * damaged, cut short or swapped fails the first check; one whose header
 * was rewritten to match a changed payload fails the second, unless the
 * writer could read the key. The digests come from nettle. */
#ifndef CLD_SEAL_H
#define CLD_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* 64 lower-case hex digits and a NUL. */
#define CLD_SEAL_HEX_LEN 65

struct cld_seal_key {
    unsigned char bytes[32];
};

/* The key in dir/key, made (32 random bytes, as hex, mode 0600) when the
 * file is missing or malformed; two processes that make it at once end up
 * with the same one. CLD_ERR_IO
 * with a detail line when the key cannot be read or written, or when the
 * file is not a regular file owned by this user and closed to others (then
 * anyone else could seal files). */
enum cld_status cld_seal_key_load(const char *dir, struct cld_seal_key *key);

/* SHA-256 of data, as hex. */
void cld_seal_sha256(const void *data, size_t n,
                     char out[CLD_SEAL_HEX_LEN]);

/* HMAC-SHA-256 of data under key, as hex. */
void cld_seal_mac(const struct cld_seal_key *key, const void *data,
                  size_t n, char out[CLD_SEAL_HEX_LEN]);

/* Compare two hex digests in time that does not depend on where they
 * differ; false unless both are 64 digits and equal. */
bool cld_seal_equal(const char *a, const char *b);

#endif
