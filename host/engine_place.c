/* Placement of one item within a batch: the plan from the targets, the
 * batch's exclusions and the load of other processes, probes of close
 * runners-up, and the run history the measured items feed. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

/* Send this item to measure the runner-up instead, when the estimates
 * are close and the runner-up has never run at this size: the model
 * between measured sizes can be wrong, and a batch that only ever runs the
 * first choice would never find out. Caller holds b->lock. */
static struct group *maybe_probe(struct batch *b, struct cld_plan *plan)
{
    struct cld_candidate *c = plan->cand;
    int best = plan->chosen, r = -1, bucket;
    struct group *g = NULL;
    char a[32];

    if (best < 0 || (plan->flags & CLD_WL_SEQUENTIAL) || plan->split.used
        || b->nitems < PROBE_MIN_ITEMS
        || (b->probes_total + 1) * PROBE_SHARE > b->nitems)
        return NULL;
    for (int i = 0; i < (int)plan->n; i++) {
        if (i == best || c[i].excluded || c[i].measured_here)
            continue;
        if (r < 0 || c[i].seconds < c[r].seconds)
            r = i;
    }
    if (r < 0 || !(c[r].seconds <= PROBE_RATIO * c[best].seconds))
        return NULL;
    bucket = cld_history_bucket(plan->elements);
    for (size_t i = 0; i < b->nprobes && !g; i++) {
        if (b->probes[i].bucket == bucket && b->probes[i].target == r)
            g = &b->probes[i];
    }
    if (!g) {
        if (b->nprobes == MAX_GROUPS)
            return NULL;
        g = &b->probes[b->nprobes++];
        memset(g, 0, sizeof *g);
        g->bucket = bucket;
        g->target = r;
    }
    if (g->items >= CLD_HISTORY_MIN_SAMPLES)
        return NULL;
    g->items++;
    b->probes_total++;
    snprintf(plan->reason, sizeof plan->reason,
             "probe %u of %u: predicted %.2fx the time of %s (%s) but never "
             "run at this size; this item measures it", g->items,
             CLD_HISTORY_MIN_SAMPLES, c[r].seconds / c[best].seconds,
             c[best].target, cld_format_seconds(a, sizeof a,
                                                c[best].seconds));
    plan->chosen = r;
    return g;
}

/* Give back a probe whose item measured nothing. Caller holds b->lock. */
void cld_engine_probe_return(struct batch *b, struct group *g)
{
    if (!g)
        return;
    g->items--;
    b->probes_total--;
}

/* The target of a used split's part that the item does not count on
 * (plan->chosen is the other's), or -1 when the item runs whole. */
static int split_other(const struct cld_plan *plan)
{
    const struct cld_split *s = &plan->split;

    if (!s->used)
        return -1;
    return s->part[0].target == plan->chosen ? s->part[1].target
                                             : s->part[0].target;
}

/* The group of items of about 2^bucket elements on target (and split,
 * when split_at > 0, with the other part on `other`), or NULL. Caller
 * holds b->lock. */
static struct group *group_of(struct batch *b, int bucket, int target,
                              unsigned split_at, int other)
{
    for (size_t i = 0; i < b->ngroups; i++) {
        struct group *g = &b->groups[i];

        if (g->bucket == bucket && g->target == target &&
            g->split_at == split_at && g->other == other)
            return g;
    }
    return NULL;
}

/* Place one item of job: fill plan and *target, and *probe (may be NULL)
 * with the probe record when the item goes to measure a target. Caller
 * holds b->lock. Prints the plan the first time an item of this size
 * bucket goes to this target. */
enum cld_status cld_engine_choose(struct batch *b, const struct cld_job *job,
                                  const struct cld_params *p,
                                  const struct cld_data *in, uint64_t avoid,
                                  struct cld_plan *plan, int *target,
                                  struct group **probe)
{
    const struct cld_batch_opts *o = b->o;
    size_t nt = cld_targets_count(b->targets);
    enum cld_status st;
    struct group *g = NULL;

    cld_plan_init(plan);
    for (size_t i = 0; i < nt; i++) {
        if (b->excluded[i])
            cld_plan_exclude(plan, i, "%s", b->why[i]);
        else if (avoid & (1ull << i))
            cld_plan_exclude(plan, i, "%s", "failed this item");
    }
    /* Cores other processes keep busy slow the host and CPU devices: read
     * over the time since the last reading (decoding and computing went
     * on meanwhile; nothing waits for it). */
    if (cld_load_age(&b->load) >= LOAD_MIN_WINDOW_S) {
        unsigned cores;
        double busy = cld_load_read(&b->load, LOAD_MIN_WINDOW_S, &cores);

        if (busy >= 0)
            cld_targets_set_load(b->targets, busy, cores);
        if (cld_load_age(&b->load) >= LOAD_REFRESH_S)
            cld_load_start(&b->load);
    }
    st = cld_targets_decide(b->targets, job, p, in, &b->hist, plan);
    *probe = st == CLD_OK && b->forced < 0 ? maybe_probe(b, plan) : NULL;
    if (b->forced >= 0) {
        const struct cld_candidate *c = &plan->cand[b->forced];

        if (c->excluded)
            return cld_error_set(CLD_ERR_UNSUPPORTED, "%s cannot run %s: %s",
                                 c->target, job->name, c->reason);
        /* A forced target runs the whole chain: never a split. */
        if (plan->split.used)
            snprintf(plan->reason, sizeof plan->reason,
                     "forced by --device/CLDISPATCH_DEVICE '%s' "
                     "(placement would split: %s on %s, %s on %s)", b->spec,
                     plan->split.part[0].job,
                     plan->cand[plan->split.part[0].target].target,
                     plan->split.part[1].job,
                     plan->cand[plan->split.part[1].target].target);
        else if (plan->chosen != b->forced)
            snprintf(plan->reason, sizeof plan->reason,
                     "forced by --device/CLDISPATCH_DEVICE '%s' "
                     "(placement would pick %s)", b->spec,
                     plan->chosen >= 0 ? plan->cand[plan->chosen].target
                                       : "nothing");
        else
            snprintf(plan->reason, sizeof plan->reason,
                     "forced by --device/CLDISPATCH_DEVICE '%s' (placement "
                     "agrees)", b->spec);
        plan->chosen = b->forced;
        memset(&plan->split, 0, sizeof plan->split);
        st = CLD_OK;
    }
    if (st != CLD_OK)
        return st;
    *target = plan->chosen;
    g = group_of(b, cld_history_bucket(plan->elements), plan->chosen,
                 plan->split.used ? plan->split.at : 0, split_other(plan));
    if (!g && b->ngroups < MAX_GROUPS) {
        g = &b->groups[b->ngroups++];
        g->bucket = cld_history_bucket(plan->elements);
        g->target = *target;
        g->split_at = plan->split.used ? plan->split.at : 0;
        g->other = split_other(plan);
        if (o->explain) {
            fprintf(o->out, "items of about 2^%d elements:\n", g->bucket);
            cld_plan_print(o->out, plan);
            fflush(o->out);
        }
    }
    return CLD_OK;
}

/* Exclude target i for the rest of the batch, "what: first error line";
 * true for the caller that excluded it first (who warns). Caller holds
 * b->lock. */
bool cld_engine_exclude(struct batch *b, int i, const char *what,
                        const char *line)
{
    if (b->excluded[i])
        return false;
    b->excluded[i] = true;
    snprintf(b->why[i], sizeof b->why[i], "%s: %s", what, line);
    return true;
}

/* One item's time on target in the run history, for its workload w.
 * Caller holds b->lock. */
static void add_history(struct batch *b, int target,
                        const struct cld_workload *w, double seconds)
{
    const struct cld_target_profile *t =
        &cld_targets_profiles(b->targets)[target];

    if (w->elements == 0)
        return;
    cld_history_add(&b->fresh, w->job, w->params, t->key,
                    cld_history_work(w), seconds);
    cld_history_add(&b->hist, w->job, w->params, t->key, cld_history_work(w),
                    seconds);
}

/* Count one item in its group (group_of), with its time when timed.
 * Caller holds b->lock. */
static void count_item(struct batch *b, int bucket, int target,
                       unsigned split_at, int other, double seconds,
                       bool timed)
{
    struct group *g = group_of(b, bucket, target, split_at, other);

    if (!g)
        return;
    g->items++;
    if (timed) {
        g->run_s += seconds;
        g->timed++;
    }
}

/* An item of job done on target in `seconds`: count it in its group, and
 * record the time unless it includes a program build (timed false). */
void cld_engine_record(struct batch *b, int target, const struct cld_job *job,
                       const struct cld_params *p, const struct cld_data *in,
                       double seconds, bool timed)
{
    struct cld_workload w;

    cld_targets_workload(job, p, in, &w);
    pthread_mutex_lock(&b->lock);
    if (timed)
        add_history(b, target, &w, seconds);
    count_item(b, cld_history_bucket(w.elements), target, 0, -1, seconds,
               timed);
    pthread_mutex_unlock(&b->lock);
}

void cld_engine_record_split(struct batch *b, const struct cld_job *job,
                             const struct cld_split *s,
                             const struct cld_data *in,
                             const struct cld_data *mid,
                             const double seconds[2], const bool timed[2])
{
    const struct cld_chain *c = job->chain;
    const struct cld_params *p[2];
    const struct cld_job *part[2] = {
        cld_chain_part(c, 0, s->at, &p[0]),
        cld_chain_part(c, s->at, s->nsteps, &p[1]),
    };
    /* The item counts where it was predicted to spend most time, as
     * placement chose its group. */
    int big = s->part[1].seconds > s->part[0].seconds;
    struct cld_workload w, pw[2];

    cld_targets_workload(job, NULL, in, &w);
    for (int k = 0; k < 2; k++) {
        if (part[k])
            cld_targets_workload(part[k], p[k], k ? mid : in, &pw[k]);
    }
    pthread_mutex_lock(&b->lock);
    /* Each part is a job of its own on its own target; the sum is no
     * time of the whole chain on one target, and is not recorded. */
    for (int k = 0; k < 2; k++) {
        if (timed[k] && part[k])
            add_history(b, s->part[k].target, &pw[k], seconds[k]);
    }
    count_item(b, cld_history_bucket(w.elements), s->part[big].target,
               s->at, s->part[!big].target, seconds[0] + seconds[1],
               timed[0] && timed[1]);
    pthread_mutex_unlock(&b->lock);
}
