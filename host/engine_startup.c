/* The targets of a batch: discovery (or, in auto mode, the decision from
 * the cached device inventory that every item runs on the host and OpenCL
 * need not start), the saved profiles and history, and the inventory the
 * next run decides from. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "clock.h"
#include "inventory.h"

/* Open the profile store and load the profiles and history into
 * b->targets; *nprof counts the targets with a calibrated profile. */
static void load_profiles(struct batch *b, unsigned *nprof)
{
    const struct cld_batch_opts *o = b->o;
    char warn[512];

    *nprof = 0;
    if (!b->store && cld_profile_store_open(NULL, &b->store) != CLD_OK) {
        if (o->explain)
            fprintf(o->out, "no profile store (%s): placement uses the "
                    "prior\n", cld_error_detail());
        b->store = NULL;
        return;
    }
    if (cld_targets_load(b->targets, b->store,
                         b->hist_loaded ? NULL : &b->hist, nprof, warn,
                         sizeof warn) != CLD_OK)
        fprintf(o->err, "cldispatch: warning: profiles not loaded: %s\n",
                cld_error_detail());
    if (warn[0])
        fprintf(o->err, "cldispatch: warning: %s\n", warn);
}

/* With --explain, what placement starts from. */
static void explain_targets(const struct batch *b, unsigned nprof)
{
    const struct cld_batch_opts *o = b->o;

    if (o->explain && b->store)
        fprintf(o->out, "%zu target%s, %u with a calibrated profile, %zu "
                "history entr%s (%s)%s\n", cld_targets_count(b->targets),
                cld_targets_count(b->targets) == 1 ? "" : "s", nprof,
                b->hist.n, b->hist.n == 1 ? "y" : "ies",
                cld_profile_store_dir(b->store),
                nprof ? "" : "; run `cldispatch --calibrate` to measure");
}

/* For an item whose JPEG input will shrink on load (resize, or a chain
 * that starts with it): the size it will decode at, into *w x *h, and what
 * it then runs, set up in *it as the load does it (cld_engine_shrunk: for
 * a chain, it->chain is then the caller's to free). The rule of
 * jpeg_pick_shrink in image_io.c, on the stored size (an orientation that
 * swaps the sides changes neither the pixel count nor the choice much, and
 * one that mirrors an axis only moves its partial sample), the same
 * cld_jpeg_shrink_fits; the decode at 1/s is ceil(side / s). True when
 * the decode alone gives resize's output size (s divides both sides): no
 * job runs at all. */
static bool preplan_shrink(struct item *it, uint32_t *w, uint32_t *h)
{
    const struct cld_params *p = cld_engine_shrink_params(it->b);
    unsigned char magic[3] = {0};
    uint32_t ow, oh;
    FILE *f;

    if (!p || cld_resize_output_size(p, *w, *h, &ow, &oh) != CLD_OK)
        return false;
    f = fopen(it->src[0], "rb");
    if (!f)
        return false;
    if (fread(magic, 1, 3, f) != 3 || magic[0] != 0xff || magic[1] != 0xd8 ||
        magic[2] != 0xff) {
        fclose(f);
        return false;
    }
    fclose(f);
    for (uint32_t s = 8; s >= 2; s /= 2) {
        uint32_t sw = (*w + s - 1) / s, sh = (*h + s - 1) / s;

        if (cld_jpeg_shrink_fits(*w, *h, s, ow, oh)) {
            if (cld_engine_shrunk(it, *w, *h, s, 1) != CLD_OK)
                return false;
            *w = sw;
            *h = sh;
            return !it->b->o->job->chain &&
                   cld_resize_copies(&it->params, sw, sh);
        }
    }
    return false;
}

/* True when, with b->targets made from the cached inventory, running every
 * item on the host is predicted no slower than starting OpenCL (startup_s,
 * measured when the inventory was saved) and running each item on its
 * fastest target. Items are sized from their headers only; a job on
 * matrices, or a file whose header does not read, says no. */
static bool all_on_host(struct batch *b, double startup_s)
{
    const struct cld_job *job = b->o->job;
    double host_s = 0, best_s = startup_s;

    if (job->input == CLD_DATA_MATRIX)
        return false;
    for (size_t i = 0; i < b->nitems; i++) {
        /* The item as it will run, made afresh from what never changes
         * (its inputs; the batch's job and parameters): the workers may be
         * decoding the real items meanwhile (cld_engine_setup_begin) and
         * shrinking them on load. Its own chain, if shrink-on-load gives
         * it one, is freed here. */
        struct item it;
        struct cld_data in;
        struct cld_plan plan;
        uint32_t w = 0, h = 0;
        double best = -1;
        bool ok;

        pthread_mutex_lock(&b->lock);
        ok = b->items[i].st == CLD_OK;
        pthread_mutex_unlock(&b->lock);
        if (!ok)
            continue;
        memset(&it, 0, sizeof it);
        it.b = b;
        it.job = job;
        it.params = b->o->params;
        it.src[0] = b->items[i].src[0];
        it.src[1] = b->items[i].src[1];
        memset(&in, 0, sizeof in);
        in.kind = job->input;
        if (job->input == CLD_DATA_IMAGE) {
            if (cld_image_probe(it.src[0], &b->o->limits, &w, &h) != CLD_OK)
                return false;
            if (preplan_shrink(&it, &w, &h))
                continue;
        }
        cld_plan_init(&plan);
        ok = (job->input != CLD_DATA_IMAGE ||
              cld_targets_synth_input(it.job, w, h, false, &it.params,
                                      &in) == CLD_OK) &&
             cld_targets_decide(b->targets, it.job, &it.params, &in,
                                &b->hist, &plan) == CLD_OK &&
             plan.n > 0 && !plan.cand[0].excluded;
        cld_data_free(&in);
        cld_chain_destroy(it.chain);
        if (!ok)
            return false;
        for (size_t t = 0; t < plan.n; t++) {
            if (!plan.cand[t].excluded &&
                (best < 0 || plan.cand[t].seconds < best))
                best = plan.cand[t].seconds;
        }
        /* A chain's item may be fastest split (one part on a device). */
        if (plan.split.at && plan.split.seconds < best)
            best = plan.split.seconds;
        host_s += plan.cand[0].seconds;
        best_s += best;
    }
    b->preplan_host_s = host_s;
    b->preplan_best_s = best_s;
    return host_s <= best_s;
}

/* In auto mode, decide from the device inventory cached by an earlier run
 * whether any item needs a device; when none does, run on the host with
 * the devices listed but not started, and OpenCL is never initialised.
 * True when that is what was set up. Batches of more than
 * DEFER_MAX_ITEMS items start OpenCL anyway: its start-up is then a
 * small share of the run, and reading every header first is not. */
#define DEFER_MAX_ITEMS 64u

static bool defer_opencl(struct batch *b)
{
    const struct cld_batch_opts *o = b->o;
    char h[32], d[32], u[32];
    struct cld_device_list list;
    double startup_s = 0;
    unsigned nprof;

    if (b->nitems > DEFER_MAX_ITEMS ||
        cld_profile_store_open(NULL, &b->store) != CLD_OK) {
        b->store = NULL;
        return false;
    }
    if (cld_inventory_load(cld_profile_store_dir(b->store), &list,
                           &startup_s) != CLD_OK)
        return false;
    if (list.ndevices == 0 ||
        cld_targets_create(&list, &b->targets) != CLD_OK) {
        cld_device_list_free(&list);
        return false;
    }
    cld_device_list_free(&list);
    load_profiles(b, &nprof);
    if (!all_on_host(b, startup_s)) {
        /* Start again from what discovery finds; the history already
         * read stays (it is keyed by target name, not by handle). */
        b->hist_loaded = true;
        cld_targets_destroy(b->targets);
        b->targets = NULL;
        return false;
    }
    for (size_t i = 1; i < cld_targets_count(b->targets); i++)
        cld_engine_exclude(b, (int)i, "not started",
                           "the host is predicted to finish the run before "
                           "OpenCL could start and run it");
    explain_targets(b, nprof);
    if (o->explain)
        fprintf(o->out, "OpenCL not started: with the %zu device%s cached "
                "by an earlier run, the host is predicted to take %s for "
                "every item, against %s with OpenCL's start-up (%s, "
                "measured) and each item on its fastest target\n",
                cld_targets_count(b->targets) - 1,
                cld_targets_count(b->targets) == 2 ? "" : "s",
                cld_format_seconds(h, sizeof h, b->preplan_host_s),
                cld_format_seconds(d, sizeof d, b->preplan_best_s),
                cld_format_seconds(u, sizeof u, startup_s));
    return true;
}

enum cld_status cld_engine_setup_targets(struct batch *b)
{
    const struct cld_batch_opts *o = b->o;
    const char *spec = o->device ? o->device : "auto";
    bool host_only;
    unsigned nprof;
    double startup_s;
    enum cld_status st;

    if ((st = cld_device_selector_check(spec)) != CLD_OK)
        return st;
    b->spec = spec;
    cld_load_start(&b->load);
    host_only = strcasecmp(spec, "host") == 0;
    if (strcasecmp(spec, "auto") == 0 && defer_opencl(b))
        return CLD_OK;
    startup_s = cld_now_s();
    st = cld_targets_discover(host_only, &b->targets);
    startup_s = cld_now_s() - startup_s;
    if (st != CLD_OK) {
        if (strcasecmp(spec, "auto") != 0)
            return st;
        fprintf(o->err, "cldispatch: warning: device discovery failed (%s); "
                "running on the host\n", cld_error_detail());
        if ((st = cld_targets_discover(true, &b->targets)) != CLD_OK)
            return st;
    }
    cld_targets_warn_dropped(b->targets, o->err);
    if ((st = cld_targets_select(b->targets, spec, &b->forced)) != CLD_OK)
        return st;
    load_profiles(b, &nprof);
    explain_targets(b, nprof);
    /* What discovery found, for the next run's decision to defer it; the
     * batch adds its first program load when it ends (save_inventory). */
    if (b->store && !host_only) {
        cld_inventory_save(cld_profile_store_dir(b->store),
                           cld_targets_list(b->targets), startup_s);
        b->discovery_s = startup_s;
    }
    return CLD_OK;
}

/* After a batch that started OpenCL: the start-up the next run prices in
 * is discovery plus loading one program on a device. */
void cld_engine_save_inventory(struct batch *b)
{
    double load_s;

    if (b->discovery_s > 0 && b->store &&
        cld_targets_load_seconds(b->targets, &load_s))
        cld_inventory_save(cld_profile_store_dir(b->store),
                           cld_targets_list(b->targets),
                           b->discovery_s + load_s);
}

void cld_engine_setup_begin(struct batch *b)
{
    pthread_mutex_lock(&b->lock);
    b->setup_pending = true;
    b->setup_done = false;
    pthread_mutex_unlock(&b->lock);
}

void cld_engine_setup_end(struct batch *b, enum cld_status st)
{
    pthread_mutex_lock(&b->lock);
    b->setup_st = st;
    b->setup_done = true;
    pthread_cond_broadcast(&b->setup_cond);
    pthread_mutex_unlock(&b->lock);
}

enum cld_status cld_engine_setup_wait(struct batch *b)
{
    enum cld_status st;

    pthread_mutex_lock(&b->lock);
    while (b->setup_pending && !b->setup_done)
        pthread_cond_wait(&b->setup_cond, &b->lock);
    st = b->setup_st;
    pthread_mutex_unlock(&b->lock);
    return st;
}
