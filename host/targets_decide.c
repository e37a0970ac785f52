/* From a job and its input to a placement decision (targets.h): the
 * workload descriptor, calibrated rates scaled to the job's parameters,
 * the decision itself, and the device report's "Preferred for" line built
 * from the decisions for a large item of every job. */
#include "targets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

void cld_targets_workload(const struct cld_job *job,
                          const struct cld_params *p,
                          const struct cld_data *in, struct cld_workload *w)
{
    static const struct cld_data none;

    if (job->chain) {
        cld_chain_workload(job->chain, in, w);
        return;
    }
    memset(w, 0, sizeof *w);
    job->traits(p, in ? in : &none, w);
    w->job = job->name;
    w->cls = job->cls;
    w->flags |= job->flags;
    w->batch = 1;
    /* The declared KEY parameters; sizes (--size, --n) are not among
     * them: the run history scales with the work units of an item, so that
     * measurements at one size serve the others. */
    cld_params_key(p, w->params, sizeof w->params);
    /* The history's text format keeps tabs and newlines out. */
    for (char *c = w->params; *c; c++) {
        if (*c == '\t' || *c == '\n' || *c == '\r')
            *c = ' ';
    }
}

/* Work per element of the calibration workload over that of w; 1 when
 * either is unknown. */
static double calibration_scale(const struct cld_job *job,
                                const struct cld_workload *w)
{
    struct cld_params dp;
    struct cld_data cin;
    struct cld_workload wc;
    double s = 1;

    cld_params_default(&dp, job);
    if (cld_targets_synth_input(job, CLD_CALIBRATE_WIDTH,
                                CLD_CALIBRATE_HEIGHT, false, &dp, &cin)
        != CLD_OK)
        return 1;
    cld_targets_workload(job, &dp, &cin, &wc);
    if (wc.ops_per_element > 0 && w->ops_per_element > 0)
        s = wc.ops_per_element / w->ops_per_element;
    cld_data_free(&cin);
    return s;
}

/* A chain's calibrated rate on t, in elements of its input per second:
 * the times of its steps at their calibrated rates (each scaled as for
 * the job alone) added up; 0 when a step has no rate on t. */
static double chain_rate(const struct cld_target_profile *t,
                         const struct cld_chain *c, const struct cld_data *in)
{
    struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
    double secs = 0, first = 0;

    cld_chain_shapes(c, &in->img, shape);
    for (unsigned k = 0; k < c->nsteps; k++) {
        const struct cld_job *job = c->steps[k].job;
        struct cld_data d;
        struct cld_workload ws;
        double r = cld_target_rate(t, job->name), scale;

        if (r <= 0)
            return 0;
        memset(&d, 0, sizeof d);
        d.kind = CLD_DATA_IMAGE;
        d.img = shape[k];
        cld_targets_workload(job, &c->steps[k].params, &d, &ws);
        scale = calibration_scale(job, &ws);
        if (scale != 1 && isfinite(scale) && scale > 0)
            r *= scale;
        secs += (double)ws.elements / r;
        if (k == 0)
            first = (double)ws.elements;
    }
    return secs > 0 ? first / secs : 0;
}

/* Price splitting chain c's item on in at each step boundary, and offer
 * each split to plan, decided for the whole chain (cld_plan_offer_split).
 * Each part is decided as a job of its own (cld_targets_decide: a step's
 * calibrated rate, or the steps' rates added up for a sub-chain; the run
 * history under the part's own name), on the image it receives, with the
 * targets the caller excluded (tmpl, the plan as it came) left out. A
 * part that cannot be priced leaves that split out. */
static void decide_split(const struct cld_targets *t,
                         const struct cld_chain *c,
                         const struct cld_data *in,
                         const struct cld_history *hist,
                         const struct cld_plan *tmpl, struct cld_plan *plan)
{
    struct cld_image shape[CLD_CHAIN_MAX_STEPS + 1];
    struct cld_plan *part;

    if (c->is_part || !in || in->kind != CLD_DATA_IMAGE || plan->chosen < 0)
        return;
    part = malloc(2 * sizeof *part);
    if (!part)
        return;  /* the whole chain, as decided */
    cld_chain_shapes(c, &in->img, shape);
    for (unsigned k = 1; k < c->nsteps; k++) {
        const struct cld_params *hp, *tp;
        const struct cld_job *head = cld_chain_part(c, 0, k, &hp);
        const struct cld_job *tail = cld_chain_part(c, k, c->nsteps, &tp);
        struct cld_data mid;

        memset(&mid, 0, sizeof mid);
        mid.kind = CLD_DATA_IMAGE;
        mid.img = shape[k];   /* the shape only: no pixels */
        part[0] = *tmpl;
        part[1] = *tmpl;
        if (head && tail &&
            cld_targets_decide(t, head, hp, in, hist, &part[0]) == CLD_OK &&
            cld_targets_decide(t, tail, tp, &mid, hist, &part[1]) == CLD_OK)
            cld_plan_offer_split(plan, k, c->nsteps, &part[0], &part[1]);
    }
    free(part);
}

enum cld_status cld_targets_decide(const struct cld_targets *t,
                                   const struct cld_job *job,
                                   const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_history *hist,
                                   struct cld_plan *plan)
{
    struct cld_target_profile prof[CLD_PLAN_MAX];
    size_t n = cld_targets_count(t);
    struct cld_workload w;
    double scale;

    cld_targets_workload(job, p, in, &w);
    if (w.elements == 0)
        return cld_error_set(CLD_ERR_INVALID, "%s: empty input", job->name);
    memcpy(prof, cld_targets_profiles(t), n * sizeof *prof);
    if (job->chain) {
        struct cld_plan *tmpl = malloc(sizeof *tmpl);
        enum cld_status st;

        /* Placement reads the rate of the chain's name: its steps'. */
        for (size_t i = 0; i < n && in; i++) {
            double r = chain_rate(&prof[i], job->chain, in);

            if (r > 0 && isfinite(r))
                cld_target_set_rate(&prof[i], job->name, r);
        }
        if (tmpl)
            *tmpl = *plan;  /* the caller's exclusions, for the parts */
        st = cld_placement_decide(&w, prof, n, hist, plan);
        if (st == CLD_OK && tmpl)
            decide_split(t, job->chain, in, hist, tmpl, plan);
        free(tmpl);
        return st;
    }
    scale = calibration_scale(job, &w);
    for (size_t i = 0; i < n; i++) {
        double r = cld_target_rate(&prof[i], job->name);

        if (r > 0 && scale != 1 && isfinite(scale) && scale > 0)
            cld_target_set_rate(&prof[i], job->name, r * scale);
    }
    return cld_placement_decide(&w, prof, n, hist, plan);
}

/* Target chosen for a large item of job, or -1. */
static int large_choice(const struct cld_targets *t, const struct cld_job *job,
                        const struct cld_history *hist)
{
    struct cld_params p;
    struct cld_data in;
    struct cld_plan plan;
    int chosen = -1;

    cld_params_default(&p, job);
    if (cld_targets_synth_input(job, CLD_PREFERRED_WIDTH,
                                CLD_PREFERRED_HEIGHT, false, &p, &in)
        != CLD_OK)
        return -1;
    cld_plan_init(&plan);
    if (cld_targets_decide(t, job, &p, &in, hist, &plan) == CLD_OK)
        chosen = plan.chosen;
    cld_data_free(&in);
    return chosen;
}

void cld_targets_preferred(const struct cld_device_info *d, char *buf,
                           size_t len, void *user)
{
    const struct cld_preferred_ctx *pc = user;
    const struct cld_targets *t = pc->targets;
    size_t n = cld_targets_count(t), used = 0;

    buf[0] = '\0';
    for (int cls = 0; cls < CLD_CLASS_COUNT; cls++) {
        unsigned votes[CLD_PLAN_MAX] = { 0 };
        int first = -1, best = -1;
        const struct cld_job *job;
        const struct cld_device_info *chosen;

        for (size_t j = 0; (job = cld_job_at(j)) != NULL; j++) {
            int c;

            if ((int)job->cls != cls)
                continue;
            c = large_choice(t, job, pc->hist);
            if (c < 0)
                continue;
            votes[c]++;
            if (first < 0)
                first = c;
        }
        best = first;
        for (int i = 0; i < (int)n && best >= 0; i++) {
            if (votes[i] > votes[best])
                best = i;
        }
        chosen = best >= 0 ? cld_targets_device(t, (size_t)best) : NULL;
        if (!chosen || chosen->index != d->index)
            continue;
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                     used ? ", " : "",
                                     cld_workload_class_str(cls));
    }
}
