/* The steps of a `run` command line: `run A [OPTIONS] then B [OPTIONS]
 * ... INPUT...` names a chain of jobs (chain.h), each followed by its
 * own parameters; batch options and inputs may be anywhere. cli.c parses
 * the words of each step in turn with getopt_long; this file finds the
 * steps, walks getopt from one step to the next, gathers the inputs and
 * builds the chain. Internal to the command line. */
#ifndef CLD_CLI_STEPS_H
#define CLD_CLI_STEPS_H

#include <getopt.h>

#include "chain.h"
#include "jobs.h"
#include "params.h"

struct cld__steps {
    int n;                 /* steps */
    int k;                 /* the step whose words getopt reads */
    char **argv;           /* argv[0] is the first job's name */
    const char *shortopts; /* getopt's short options */
    const struct option *longopts;
    const struct cld_job *job[CLD_CHAIN_MAX_STEPS];
    int start[CLD_CHAIN_MAX_STEPS]; /* index of step k's job name */
    int end[CLD_CHAIN_MAX_STEPS];   /* index of the `then` after it, or
                                       argc */
    int inputs[CLD_CHAIN_MAX_STEPS];/* its first input once parsed */
};

/* Find the steps of argv[0..argc-1] (argv[0] is the first job, already
 * found as first): a `then` is a word of its own that is neither an
 * option's value nor after "--", and the word after it must name a job.
 * Returns 0, or the exit code after printing a usage error ('then' at the
 * end, an unknown job after it, too many steps). Resets getopt for the
 * first step. */
int cld__steps_find(struct cld__steps *s, int argc, char **argv,
                    const struct cld_job *first, const char *shortopts,
                    const struct option *longopts);

/* getopt_long over the words of step s->k, moving on to the next step at
 * the end of one; -1 after the last. */
int cld__steps_getopt(struct cld__steps *s);

/* The word getopt read last (for error messages). */
const char *cld__steps_word(const struct cld__steps *s);

/* After the last step: move every step's inputs, in order, to the end of
 * argv (the steps' other words before them) and return the index of the
 * first. */
int cld__steps_gather(struct cld__steps *s);

/* The chain of the steps with parameters p[k] (s->n >= 2), made with
 * cld_chain_create: *job is the job that stands for it (free it with
 * cld_chain_job_destroy). CLD_ERR_USAGE with a detail line naming the
 * step when a job cannot be a step or its parameters are invalid. */
enum cld_status cld__steps_chain(const struct cld__steps *s,
                                 const struct cld_params *p,
                                 const struct cld_job **job);

#endif
