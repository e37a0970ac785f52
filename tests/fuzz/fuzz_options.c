/* libFuzzer target for `cldispatch run`'s option and job-parameter
 * parsing: the input is split at newlines into arguments after "run"
 * (the first is the job name). A parse that succeeds goes on to what the
 * batch does first with the options: select a device (from an empty list,
 * so no OpenCL is touched), and describe the workload of the parameters
 * on a synthetic input, where huge parameter values meet size arithmetic. */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "chain.h"
#include "cli.h"
#include "device.h"
#include "fuzz_common.h"
#include "jobs.h"
#include "targets.h"
#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, *argv[MAX_ARGS + 2];
    int argc = 0, first;
    struct cld_batch_opts o;

    cld_fuzz_quiet();
    if (size > 4096)
        return -1;
    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    argv[argc++] = "run";
    for (char *p = text; argc < MAX_ARGS + 1;) {
        char *nl = strchr(p, '\n');

        argv[argc++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    if (cld__cli_parse_run(argc, argv, &o, &first) == -1) {
        struct cld_device_list none = {0};
        struct cld_selection sel;
        struct cld_params p = o.params;
        struct cld_data in = {0};
        struct cld_workload w;

        if (o.device)
            (void)cld_device_select(&none, o.device, &sel);
        if (cld_targets_synth_input(o.job, 640, 480, false, &p, &in)
            == CLD_OK) {
            cld_targets_workload(o.job, &o.params, &in, &w);
            cld_data_free(&in);
        }
        cld_chain_job_destroy(o.job);
    }
    free(text);
    return 0;
}
