/* The generic launcher: runs a job's device work (work.h) on a device
 * context. All of the jobs' OpenCL calls are in launch.c. */
#ifndef CLD_LAUNCH_H
#define CLD_LAUNCH_H

#include "clw.h"
#include "error.h"
#include "work.h"

/* Create w's buffers as its launches first name them, set the arguments,
 * enqueue the launches group by group with w's host step between groups,
 * bring the FETCH buffers to host memory, and wait for the device. The
 * caller holds the context's submission lock. CLD_ERR_UNSUPPORTED when a
 * launch cannot get the exact work-group it asks for; CLD_ERR_CL or
 * CLD_ERR_BUILD with a detail line on device errors. */
enum cld_status cld_launch_run(struct cld_clctx *ctx, struct cld_work *w);

#endif
