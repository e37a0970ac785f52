/* libFuzzer target for the .npy reader (header dict parser, version 1 and
 * 2 headers, data size checks, '<f8' conversion). */
#include "fuzz_common.h"
#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cld_matrix m = {0};
    const char *path;

    cld_fuzz_quiet();
    path = cld_fuzz_memfile(data, size);
    if (!path)
        return 0;
    if (cld_npy_load(path, &m) == CLD_OK) {
        float sum = 0;

        /* Touch every element, so that a short buffer shows under ASan. */
        for (size_t i = 0; i < (size_t)m.rows * m.cols; i++)
            sum += m.data[i];
        (void)sum;
    }
    cld_matrix_free(&m);
    return 0;
}
