/* The command line: options into a struct, then the device report, the job
 * list, or a batch run. Returns the process exit code (see README):
 * 0 all items done, 1 some items failed, 2 usage error, 3 no usable device
 * or an OpenCL error, 4 (merge) a shard missing or an input not covered
 * exactly once. */
#ifndef CLD_CLI_H
#define CLD_CLI_H

#include <stdio.h>

#include "error.h"

enum cld_exit {
    CLD_EXIT_OK = 0,
    CLD_EXIT_ITEMS_FAILED = 1,
    CLD_EXIT_USAGE = 2,
    CLD_EXIT_DEVICE = 3,
    CLD_EXIT_INCOMPLETE = 4
};

int cld_cli_main(int argc, char **argv);

/* Internal, for tests and the option fuzzer: parse `run JOB [OPTIONS]
 * INPUT...` (argv[0] is "run") into *o, job parameters validated. Returns
 * -1 when the batch should run, with its inputs at
 * argv[*first_input..argc-1]; -2 for the `run --plan FILE` form, which the
 * scale-out module parses (o is then not filled); else the exit code
 * (usage error, or 0 after --help), the message printed. After -1, o->job
 * may be a chain (`run A ... then B ...`): free it with
 * cld_chain_job_destroy(o->job) (chain.h). */
struct cld_batch_opts;

/* Internal, shared with the scale-out commands: the exit code for a
 * status (usage 2, device 3, otherwise items failed 1; 0 for CLD_OK). */
int cld__cli_status_exit(enum cld_status st);

int cld__cli_parse_run(int argc, char **argv, struct cld_batch_opts *o,
                       int *first_input);

/* The end-of-run line: "N done, M failed in S s, X MPix/s; TARGET share;
 * overlap efficiency E (L lanes)". */
struct cld_batch_result;
void cld__cli_print_summary(FILE *f, const struct cld_batch_result *res);

#endif
