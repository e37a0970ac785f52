/* The job table, shared buffer helpers and the catalogue listing. */
#include "jobs.h"

#include <string.h>

static const struct cld_job *const jobs[] = {
    &cld_job_grayscale,
    &cld_job_mandelbrot,
    &cld_job_matmul,
    &cld_job_resize,
    &cld_job_equalize,
    &cld_job_dither,
    &cld_job_blur,
    &cld_job_sobel,
    &cld_job_sharpen,
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
    enum cld_status st = cld_params_check(p);

    if (st == CLD_OK && job->validate)
        st = job->validate(p);
    return st;
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

enum cld_status cld_job_run(const struct cld_job *job, struct cld_clctx *ctx,
                            const struct cld_params *p,
                            const struct cld_data *in, struct cld_data *out)
{
    enum cld_status st;

    memset(out, 0, sizeof *out);
    if (ctx) {
        cld_clctx_lock(ctx);
        st = job->run_cl(ctx, p, in, out);
        cld_clctx_unlock(ctx);
    } else
        st = job->run_host(p, in, out);
    if (st != CLD_OK)
        cld_data_free(out);
    return st;
}

enum cld_status cld__buf_in(struct cld_clctx *ctx, const void *host,
                            size_t size, cl_mem *out)
{
    cl_mem_flags fl = CL_MEM_READ_ONLY;

    fl |= cld_clctx_host_unified(ctx) ? CL_MEM_USE_HOST_PTR
                                      : CL_MEM_COPY_HOST_PTR;
    return cld_clw_buffer(cld_clctx_context(ctx), fl, size, (void *)host,
                          out);
}

enum cld_status cld__buf_out(struct cld_clctx *ctx, void *host, size_t size,
                             cl_mem *out)
{
    if (cld_clctx_host_unified(ctx))
        return cld_clw_buffer(cld_clctx_context(ctx),
                              CL_MEM_WRITE_ONLY | CL_MEM_USE_HOST_PTR, size,
                              host, out);
    return cld_clw_buffer(cld_clctx_context(ctx), CL_MEM_WRITE_ONLY, size,
                          NULL, out);
}

enum cld_status cld__buf_tmp(struct cld_clctx *ctx, size_t size, cl_mem *out)
{
    return cld_clw_buffer(cld_clctx_context(ctx), CL_MEM_READ_WRITE, size,
                          NULL, out);
}

enum cld_status cld__buf_fetch(struct cld_clctx *ctx, cl_mem mem, void *host,
                               size_t size)
{
    cl_command_queue q = cld_clctx_queue(ctx);
    void *p = NULL;
    enum cld_status st;

    if (!cld_clctx_host_unified(ctx))
        return cld_clw_read(q, mem, true, 0, size, host, 0, NULL, NULL);
    /* Mapping a USE_HOST_PTR buffer synchronises the host copy in place. */
    st = cld_clw_map(q, mem, CL_MAP_READ, 0, size, &p);
    if (st != CLD_OK)
        return st;
    if (p != host)
        memcpy(host, p, size);
    st = cld_clw_unmap(q, mem, p);
    if (st == CLD_OK)
        st = cld_clw_finish(q);
    return st;
}
