/* The monotonic clock and the median (clock.h). */
#include "clock.h"

#include <assert.h>
#include <stdlib.h>
#include <time.h>

double cld_now_s(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux for a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

void cld_sort_doubles(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_double);
}

double cld_median(double *v, size_t n)
{
    assert(n > 0);
    cld_sort_doubles(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
