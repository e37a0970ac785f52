/* The job table and the catalogue listing. */
#include "jobs.h"

#include <string.h>

#include "chain.h"

/* The job table, one line per job: X(name) is the declaration
 * cld_job_<name> in its host/job_*.c file, listed in this order by
 * --jobs. */
#define CLD_JOB_TABLE(X) \
    X(grayscale) \
    X(mandelbrot) \
    X(matmul) \
    X(resize) \
    X(equalize) \
    X(dither) \
    X(blur) \
    X(sobel) \
    X(sharpen) \
    X(median) \
    /* one line per job above, each ending in a backslash */

#define DECLARE(name) extern const struct cld_job cld_job_##name;
CLD_JOB_TABLE(DECLARE)
#undef DECLARE

static const struct cld_job *const jobs[] = {
#define ENTRY(name) &cld_job_##name,
    CLD_JOB_TABLE(ENTRY)
#undef ENTRY
};

#define NJOBS (sizeof jobs / sizeof jobs[0])

void cld_data_free(struct cld_data *d)
{
    if (!d)
        return;
    cld_image_free(&d->img);
    cld_matrix_free(&d->mat[0]);
    cld_matrix_free(&d->mat[1]);
    d->nmat = 0;
    d->kind = CLD_DATA_NONE;
}

void cld_params_default(struct cld_params *p, const struct cld_job *job)
{
    cld_params_init(p, job->params, job->nparams);
}

enum cld_status cld_job_validate(const struct cld_job *job,
                                 const struct cld_params *p)
{
    enum cld_status st;

    if (job->chain)
        return cld_chain_validate(job->chain);
    st = cld_params_check(p);
    if (st == CLD_OK && job->validate)
        st = job->validate(p);
    return st;
}

enum cld_status cld_job_plan(const struct cld_job *job,
                             const struct cld_params *p,
                             const struct cld_data *in,
                             const struct cld_dev_facts *dev, int variant,
                             struct cld_data *out, struct cld_work *w)
{
    if (job->chain)
        return cld_chain_plan(job->chain, in, dev, out, w);
    return job->plan(p, in, dev, variant, out, w);
}

bool cld_job_one_work(const struct cld_job *job,
                      const struct cld_dev_facts *dev)
{
    return !job->chain || cld_chain_merges(job->chain, dev);
}

const struct cld_job *cld_job_find(const char *name)
{
    for (size_t i = 0; i < NJOBS; i++) {
        if (strcmp(jobs[i]->name, name) == 0)
            return jobs[i];
    }
    return NULL;
}

const struct cld_job *cld_job_at(size_t i)
{
    return i < NJOBS ? jobs[i] : NULL;
}

void cld_jobs_print(FILE *f)
{
    for (size_t i = 0; i < NJOBS; i++) {
        const struct cld_job *j = jobs[i];

        fprintf(f, "%-11s %s\n", j->name, j->summary);
        fprintf(f, "%-11s class: %s\n", "", cld_workload_class_str(j->cls));
        fprintf(f, "%-11s options:%s\n", "", j->nparams ? "" : " (none)");
        for (size_t k = 0; k < j->nparams; k++) {
            char line[200];

            cld_param_describe(&j->params[k], line, sizeof line);
            fprintf(f, "%-13s %s\n", "", line);
        }
    }
}
