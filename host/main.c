/* cldispatch: entry point; the command line lives in cli.c. */
#include "cli.h"
#include "image.h"

int main(int argc, char **argv)
{
    int rc = cld_cli_main(argc, argv);

    /* Large pixel buffers kept for reuse go back to the system, so that
     * leak checkers see every allocation freed. */
    cld_buffer_cache_clear();
    return rc;
}
