/* The timeline of a run: busy intervals per lane (each host worker
 * thread, each device queue by role), summed for the end-of-run summary's
 * overlap efficiency and, when asked (--trace FILE), kept and written as
 * Chrome trace-event JSON that opens in Perfetto or chrome://tracing.
 * Times are seconds on the project's one clock (cld_now_s, clock.h);
 * device intervals come from OpenCL profiling, placed on that clock by the
 * launcher. No OpenCL types here. */
#ifndef CLD_TRACE_H
#define CLD_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct cld_trace;

/* A timeline; record: keep every interval for cld_trace_write (else only
 * the sums). */
enum cld_status cld_trace_create(bool record, struct cld_trace **out);
void cld_trace_destroy(struct cld_trace *t);

/* The timeline the launcher and the batch record into (NULL: none), for
 * the whole process. */
void cld_trace_set_current(struct cld_trace *t);
struct cld_trace *cld_trace_current(void);

/* The lane called name (made on first use); -1 when out of memory. */
int cld_trace_lane(struct cld_trace *t, const char *name);
/* The same for a lane whose spans wait on something outside the process
 * (the disk's fsync): written to the file like any other, but neither
 * its seconds nor the lane count in cld_trace_busy. */
int cld_trace_wait_lane(struct cld_trace *t, const char *name);

/* One busy interval [t0, t1] on lane: what (a stage or kernel name) for
 * item (a file name, or NULL). Thread-safe; accepts t == NULL or lane < 0
 * and then does nothing. */
void cld_trace_span(struct cld_trace *t, int lane, const char *what,
                    const char *item, double t0, double t1);

/* Busy seconds summed over lanes, and the lanes with any (wait lanes
 * left out). */
double cld_trace_busy(struct cld_trace *t, unsigned *lanes);

/* Busy seconds of the busiest lane (wait lanes left out): in a pipeline,
 * its bottleneck's. */
double cld_trace_busiest(struct cld_trace *t);

/* Write the recorded intervals to path as Chrome trace-event JSON, times
 * relative to origin (seconds on the same clock), one track per lane;
 * atomically (temporary file and rename). */
enum cld_status cld_trace_write(struct cld_trace *t, const char *path,
                                double origin);

#endif
