/* cldispatch: entry point; the command line lives in cli.c. */
#include "cli.h"
#include "fsutil.h"
#include "image.h"

int main(int argc, char **argv)
{
    int rc;

    /* Ctrl-C (or a TERM from a scheduler) leaves no temporary output. */
    cld_atomic_remove_on_signals();
    rc = cld_cli_main(argc, argv);

    /* Large pixel buffers kept for reuse go back to the system, so that
     * leak checkers see every allocation freed. */
    cld_buffer_cache_clear();
    return rc;
}
