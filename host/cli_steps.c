/* Finding the steps of a chained `run` command line (cli_steps.h). */
#include "cli_steps.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* True when the option word t (not "--") takes the next word as its
 * value: a long option (or an unambiguous prefix of one, as getopt_long
 * accepts) with a required argument and no "=value", or a short option
 * with an argument at the end of its cluster. */
static bool takes_next(const char *t, const char *shortopts,
                       const struct option *lo)
{
    size_t len;
    int found = -1, matches = 0;

    if (t[1] != '-') {
        for (const char *c = t + 1; *c; c++) {
            const char *o = *c != ':' ? strchr(shortopts, *c) : NULL;

            if (o && o[1] == ':')
                return c[1] == '\0';
        }
        return false;
    }
    t += 2;
    len = strcspn(t, "=");
    if (t[len] == '=')
        return false;
    for (int i = 0; lo[i].name; i++) {
        if (strncmp(lo[i].name, t, len) != 0)
            continue;
        if (strlen(lo[i].name) == len)
            return lo[i].has_arg == required_argument;
        found = i;
        matches++;
    }
    return matches == 1 && lo[found].has_arg == required_argument;
}

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "cldispatch: run: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cldispatch run --help'.\n");
    return 2; /* CLD_EXIT_USAGE */
}

int cld__steps_find(struct cld__steps *s, int argc, char **argv,
                    const struct cld_job *first, const char *shortopts,
                    const struct option *longopts)
{
    memset(s, 0, sizeof *s);
    s->argv = argv;
    s->shortopts = shortopts;
    s->longopts = longopts;
    s->job[0] = first;
    s->n = 1;
    for (int i = 1; i < argc; i++) {
        const char *t = argv[i];

        if (strcmp(t, "--") == 0)
            break;
        if (t[0] == '-' && t[1] != '\0') {
            if (takes_next(t, shortopts, longopts))
                i++;
            continue;
        }
        if (strcmp(t, "then") != 0)
            continue;
        if (i + 1 >= argc)
            return usage("%s", "'then' at the end: a job must follow it");
        if (s->n == CLD_CHAIN_MAX_STEPS) {
            char n[16];

            snprintf(n, sizeof n, "%d", CLD_CHAIN_MAX_STEPS);
            return usage("a chain has at most %s steps", n);
        }
        if (!(s->job[s->n] = cld_job_find(argv[i + 1])))
            return usage("unknown job '%s' after 'then' (see --jobs)",
                         argv[i + 1]);
        s->end[s->n - 1] = i;
        s->start[s->n++] = ++i;
    }
    s->end[s->n - 1] = argc;
    /* 0, not 1: glibc's getopt then starts afresh. With 1 it can resume an
     * option cluster where an earlier parse stopped ("-Xdgone") and read
     * that call's arguments (found by the option fuzzer). */
    optind = 0;
    opterr = 0;
    return 0;
}

int cld__steps_getopt(struct cld__steps *s)
{
    for (;;) {
        int c = getopt_long(s->end[s->k] - s->start[s->k],
                            s->argv + s->start[s->k], s->shortopts,
                            s->longopts, NULL);

        if (c != -1)
            return c;
        /* getopt moved the step's inputs to the end of its words. */
        s->inputs[s->k] = s->start[s->k] + optind;
        if (s->k + 1 == s->n)
            return -1;
        s->k++;
        optind = 0;
    }
}

const char *cld__steps_word(const struct cld__steps *s)
{
    return s->argv[s->start[s->k] + optind - 1];
}

/* Reverse argv[a..b-1]. */
static void reverse(char **argv, int a, int b)
{
    for (b--; a < b; a++, b--) {
        char *t = argv[a];

        argv[a] = argv[b];
        argv[b] = t;
    }
}

int cld__steps_gather(struct cld__steps *s)
{
    int tail = s->inputs[s->n - 1];

    /* From the last step back: step k's inputs, then the words of the
     * steps after it, then the inputs gathered so far; rotate the first
     * two. */
    for (int k = s->n - 2; k >= 0; k--) {
        int a = s->inputs[k], b = s->end[k];

        reverse(s->argv, a, b);
        reverse(s->argv, b, tail);
        reverse(s->argv, a, tail);
        tail -= b - a;
    }
    return tail;
}

enum cld_status cld__steps_chain(const struct cld__steps *s,
                                 const struct cld_params *p,
                                 const struct cld_job **job)
{
    return cld_chain_make((unsigned)s->n, s->job, p, job);
}
