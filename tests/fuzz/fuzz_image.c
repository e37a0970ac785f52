/* libFuzzer target for one image decoder, chosen at build time by
 * FUZZ_FORMAT (1 PNG, 2 JPEG, 3 PPM/PGM). Inputs that do not start with
 * that format's signature are refused (return -1: not kept in the corpus),
 * so that each target spends its time inside its own decoder. */
#include <string.h>

#include "fuzz_common.h"
#include "image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int wanted(const uint8_t *d, size_t n)
{
#if FUZZ_FORMAT == 1
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                   '\n'};

    return n >= 8 && memcmp(d, sig, 8) == 0;
#elif FUZZ_FORMAT == 2
    return n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff;
#elif FUZZ_FORMAT == 3
    return n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6';
#else
#error "FUZZ_FORMAT must be 1, 2 or 3"
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small limits keep a header that claims a huge image from spending
     * the fuzzer's memory; the checks against them are part of the test. */
    static const struct cld_image_limits lim = {.max_side = 4096,
                                                .max_pixels = 1u << 22};
    struct cld_image img;
    const char *path;

    cld_fuzz_quiet();
    if (!wanted(data, size))
        return -1;
    path = cld_fuzz_memfile(data, size);
    if (!path)
        return 0;
    if (cld_image_load(path, &lim, &img) == CLD_OK) {
        size_t n = (size_t)img.width * img.height * img.channels;
        unsigned sum = 0;

        /* Touch every byte, so that a short buffer shows under ASan. */
        for (size_t i = 0; i < n; i++)
            sum += img.data[i];
        (void)sum;
    }
    cld_image_free(&img);
    return 0;
}
