/* The kernel cache's seals: digests against published test vectors, and
 * the key file's life (made once, kept, replaced when malformed, refused
 * when others may read or write it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "seal.h"

static void test_seal_digests_match_published_vectors(void **state)
{
    struct cld_seal_key key;
    char hex[CLD_SEAL_HEX_LEN];

    (void)state;
    /* FIPS 180-2, appendix B.1. */
    cld_seal_sha256("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
                             "b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231, test case 1: a 20-byte key of 0x0b (HMAC pads keys with
     * zeros, so 12 more zero bytes give the same MAC). */
    memset(key.bytes, 0, sizeof key.bytes);
    memset(key.bytes, 0x0b, 20);
    cld_seal_mac(&key, "Hi There", 8, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b"
                             "881dc200c9833da726e9376c2e32cff7");
}

static void test_seal_equal_needs_two_whole_digests(void **state)
{
    char a[CLD_SEAL_HEX_LEN], b[CLD_SEAL_HEX_LEN];

    (void)state;
    cld_seal_sha256("x", 1, a);
    memcpy(b, a, sizeof b);
    assert_true(cld_seal_equal(a, b));
    b[63] = b[63] == '0' ? '1' : '0';
    assert_false(cld_seal_equal(a, b));
    assert_false(cld_seal_equal("", ""));
    assert_false(cld_seal_equal("abc", "abc"));
}

static void test_seal_key_made_once_and_kept(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_seal_key k1, k2, k3;
    const char *path = cld_test_tmp_path(t, "key");
    struct stat st;

    assert_int_equal(cld_seal_key_load(t->dir, &k1), CLD_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cld_seal_key_load(t->dir, &k2), CLD_OK);
    assert_memory_equal(k1.bytes, k2.bytes, sizeof k1.bytes);
    /* Malformed: replaced by a new key. */
    cld_test_write_file(path, "not a key\n", 10);
    assert_int_equal(cld_seal_key_load(t->dir, &k3), CLD_OK);
    assert_memory_not_equal(k1.bytes, k3.bytes, sizeof k1.bytes);
    /* Open to others: refused, with the path in the detail line. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(cld_seal_key_load(t->dir, &k2), CLD_ERR_IO);
    assert_non_null(strstr(cld_error_detail(), path));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(cld_seal_key_load(t->dir, &k2), CLD_OK);
    assert_memory_equal(k2.bytes, k3.bytes, sizeof k2.bytes);
    /* No folder: an error, not a crash. */
    assert_int_equal(cld_seal_key_load("/nonexistent/cld", &k2), CLD_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_digests_match_published_vectors),
        cmocka_unit_test(test_seal_equal_needs_two_whole_digests),
        cmocka_unit_test(test_seal_key_made_once_and_kept),
    };

    return cmocka_run_group_tests_name("seal", tests, cld_test_tmp_setup,
                                       cld_test_tmp_teardown);
}
