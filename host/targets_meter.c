/* The load other processes put on this machine, from /proc/stat and
 * /proc/self/stat: a meter to start and read later without waiting, and a
 * sample over a short sleep (targets.h). Placement counts the cores found
 * busy against the targets that share the host's cores. */
#include "targets.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Busy and total ticks of all cores, from the first line of /proc/stat. */
static bool cpu_ticks(unsigned long long *busy, unsigned long long *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (!f)
        return false;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
               &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return false;
    /* user nice system idle iowait irq softirq steal */
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *total = *busy + v[3] + v[4];
    return true;
}

/* User and system ticks of this process, all threads. */
static bool self_ticks(unsigned long long *ticks)
{
    char buf[1024], *p;
    unsigned long long ut, st;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n;

    if (!f)
        return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces: fields follow the last ')'. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%llu %llu", &ut, &st) != 2)
        return false;
    *ticks = ut + st;
    return true;
}

static unsigned online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1u : (unsigned)n;
}

void cld_load_start(struct cld_load_meter *m)
{
    m->start_s = cld_now_s();
    m->ok = cpu_ticks(&m->busy, &m->total) && self_ticks(&m->self);
}

double cld_load_age(const struct cld_load_meter *m)
{
    return cld_now_s() - m->start_s;
}

double cld_load_read(const struct cld_load_meter *m, double min_window_s,
                     unsigned *cores)
{
    unsigned long long b1, t1, s1;
    unsigned n = online_cores();
    double busy;

    if (cores)
        *cores = n;
    if (!m->ok || cld_load_age(m) < min_window_s || !cpu_ticks(&b1, &t1)
        || !self_ticks(&s1) || t1 <= m->total)
        return -1;
    busy = ((double)(b1 - m->busy) - (double)(s1 - m->self))
           / (double)(t1 - m->total) * (double)n;
    return busy < 0 ? 0 : busy > (double)n ? (double)n : busy;
}

double cld_targets_busy_cores(double window_s, unsigned *cores)
{
    struct cld_load_meter m;
    struct timespec ts;

    cld_load_start(&m);
    if (!m.ok) {
        if (cores)
            *cores = online_cores();
        return -1;
    }
    ts.tv_sec = (time_t)window_s;
    ts.tv_nsec = (long)((window_s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
    return cld_load_read(&m, 0, cores);
}
