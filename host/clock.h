/* Measuring time: the project's one monotonic clock, and the median that
 * turns repeated runs (or a target's run history) into one figure. */
#ifndef CLD_CLOCK_H
#define CLD_CLOCK_H

#include <stddef.h>

/* Seconds on CLOCK_MONOTONIC: only differences between two readings mean
 * anything. Unaffected by changes of the wall clock. */
double cld_now_s(void);

/* CPU seconds the whole process has used (all its threads, user and
 * system): differences between two readings mean anything. */
double cld_process_cpu_s(void);

/* Cores the process may run on (its affinity mask), at least 1. */
unsigned cld_usable_cores(void);

/* Sort v[0..n-1] into ascending order. */
void cld_sort_doubles(double *v, size_t n);

/* The median of v[0..n-1], n > 0: the middle value, or the mean of the two
 * middle ones when n is even. Sorts v in place. */
double cld_median(double *v, size_t n);

#endif
