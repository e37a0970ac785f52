/* libFuzzer target for the profile store's parsers, chosen at build time
 * by FUZZ_STORE: 1 the run history, 2 the calibration profiles (read and
 * look one up). The input is the whole file as another process might have
 * left it. Writing is left out: each atomic rewrite syncs to disk, which
 * would hold the fuzzer to a hundred executions a second. */
#include <string.h>

#include "fuzz_common.h"
#include "placement.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cld_profile_store *s = NULL;
    const char *dir;

    cld_fuzz_quiet();
    dir = cld_fuzz_dir();
    if (!dir || cld_profile_store_open(dir, &s) != CLD_OK)
        return 0;
#if FUZZ_STORE == 1
    {
        struct cld_history h;

        if (cld_fuzz_write(dir, "history", data, size) != 0)
            goto out;
        cld_history_init(&h);
        (void)cld_profile_load_history(s, &h);
        cld_history_clear(&h);
    }
#elif FUZZ_STORE == 2
    {
        struct cld_target_profile t;
        bool found;

        if (cld_fuzz_write(dir, "profiles", data, size) != 0)
            goto out;
        cld_target_init(&t, CLD_TARGET_CL_CPU, 0, "dev", "pocl|x|3.1");
        (void)cld_profile_load(s, &t, &found);
    }
#else
#error "FUZZ_STORE must be 1 or 2"
#endif
out:
    cld_profile_store_close(s);
    return 0;
}
