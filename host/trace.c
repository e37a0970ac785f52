/* Lanes, intervals and their JSON. */
#include "trace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fsutil.h"

#define MAX_LANES 64

struct span {
    int lane;
    const char *what;   /* static, or interned */
    char *item;
    double t0, t1;
};

struct cld_trace {
    pthread_mutex_t lock;
    bool record;
    char *lane[MAX_LANES];
    double busy[MAX_LANES];
    bool waits[MAX_LANES];  /* a lane that waits (on the disk): not busy */
    unsigned nlanes;
    struct span *spans;
    size_t nspans, cap;
    char **names;       /* interned `what` strings */
    size_t nnames;
};

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cld_trace *current;

enum cld_status cld_trace_create(bool record, struct cld_trace **out)
{
    struct cld_trace *t = calloc(1, sizeof *t);

    *out = NULL;
    if (!t)
        return cld_error_set(CLD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    t->record = record;
    *out = t;
    return CLD_OK;
}

void cld_trace_destroy(struct cld_trace *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->nlanes; i++)
        free(t->lane[i]);
    for (size_t i = 0; i < t->nspans; i++)
        free(t->spans[i].item);
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i]);
    free(t->names);
    free(t->spans);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void cld_trace_set_current(struct cld_trace *t)
{
    pthread_mutex_lock(&current_lock);
    current = t;
    pthread_mutex_unlock(&current_lock);
}

struct cld_trace *cld_trace_current(void)
{
    struct cld_trace *t;

    pthread_mutex_lock(&current_lock);
    t = current;
    pthread_mutex_unlock(&current_lock);
    return t;
}

static int lane(struct cld_trace *t, const char *name, bool waits)
{
    int id = -1;

    if (!t)
        return -1;
    pthread_mutex_lock(&t->lock);
    for (unsigned i = 0; i < t->nlanes && id < 0; i++) {
        if (strcmp(t->lane[i], name) == 0)
            id = (int)i;
    }
    if (id < 0 && t->nlanes < MAX_LANES &&
        (t->lane[t->nlanes] = strdup(name)) != NULL) {
        t->waits[t->nlanes] = waits;
        id = (int)t->nlanes++;
    }
    pthread_mutex_unlock(&t->lock);
    return id;
}

int cld_trace_lane(struct cld_trace *t, const char *name)
{
    return lane(t, name, false);
}

int cld_trace_wait_lane(struct cld_trace *t, const char *name)
{
    return lane(t, name, true);
}

/* The interned copy of s. Caller holds t->lock. */
static const char *intern(struct cld_trace *t, const char *s)
{
    char **grown, *copy;

    for (size_t i = 0; i < t->nnames; i++) {
        if (strcmp(t->names[i], s) == 0)
            return t->names[i];
    }
    grown = realloc(t->names, (t->nnames + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    t->names = grown;
    if (!(copy = strdup(s)))
        return NULL;
    t->names[t->nnames++] = copy;
    return copy;
}

void cld_trace_span(struct cld_trace *t, int lane, const char *what,
                    const char *item, double t0, double t1)
{
    struct span *s;

    if (!t || lane < 0 || !(t1 >= t0))
        return;
    pthread_mutex_lock(&t->lock);
    t->busy[lane] += t1 - t0;
    if (!t->record)
        goto out;
    if (t->nspans == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct span *grown = realloc(t->spans, cap * sizeof *grown);

        if (!grown)
            goto out;  /* the sums stay right; the file misses this one */
        t->spans = grown;
        t->cap = cap;
    }
    s = &t->spans[t->nspans];
    s->lane = lane;
    s->what = intern(t, what);
    s->item = item ? strdup(item) : NULL;
    s->t0 = t0;
    s->t1 = t1;
    if (s->what)
        t->nspans++;
    else
        free(s->item);
out:
    pthread_mutex_unlock(&t->lock);
}

double cld_trace_busy(struct cld_trace *t, unsigned *lanes)
{
    double sum = 0;
    unsigned n = 0;

    if (t) {
        pthread_mutex_lock(&t->lock);
        for (unsigned i = 0; i < t->nlanes; i++) {
            if (t->waits[i])
                continue;
            sum += t->busy[i];
            n += t->busy[i] > 0;
        }
        pthread_mutex_unlock(&t->lock);
    }
    if (lanes)
        *lanes = n;
    return sum;
}

double cld_trace_busiest(struct cld_trace *t)
{
    double most = 0;

    if (!t)
        return 0;
    pthread_mutex_lock(&t->lock);
    for (unsigned i = 0; i < t->nlanes; i++) {
        if (!t->waits[i] && t->busy[i] > most)
            most = t->busy[i];
    }
    pthread_mutex_unlock(&t->lock);
    return most;
}

static json_object *event(const char *ph, const char *name, int tid)
{
    json_object *e = json_object_new_object();

    json_object_object_add(e, "name", json_object_new_string(name));
    json_object_object_add(e, "ph", json_object_new_string(ph));
    json_object_object_add(e, "pid", json_object_new_int(1));
    json_object_object_add(e, "tid", json_object_new_int(tid));
    return e;
}

enum cld_status cld_trace_write(struct cld_trace *t, const char *path,
                                double origin)
{
    struct cld_atomic_file af;
    json_object *root, *events;
    const char *text;
    enum cld_status st;

    root = json_object_new_object();
    events = json_object_new_array();
    json_object_object_add(root, "traceEvents", events);
    json_object_object_add(root, "displayTimeUnit",
                           json_object_new_string("ms"));
    pthread_mutex_lock(&t->lock);
    for (unsigned i = 0; i < t->nlanes; i++) {
        json_object *m = event("M", "thread_name", (int)i + 1), *a;

        a = json_object_new_object();
        json_object_object_add(a, "name", json_object_new_string(t->lane[i]));
        json_object_object_add(m, "args", a);
        json_object_array_add(events, m);
        m = event("M", "thread_sort_index", (int)i + 1);
        a = json_object_new_object();
        json_object_object_add(a, "sort_index", json_object_new_int((int)i));
        json_object_object_add(m, "args", a);
        json_object_array_add(events, m);
    }
    for (size_t i = 0; i < t->nspans; i++) {
        const struct span *s = &t->spans[i];
        json_object *e = event("X", s->what, s->lane + 1);

        /* Microseconds, as the format has them. */
        json_object_object_add(e, "ts",
                               json_object_new_double((s->t0 - origin) * 1e6));
        json_object_object_add(e, "dur",
                               json_object_new_double((s->t1 - s->t0) * 1e6));
        if (s->item) {
            json_object *a = json_object_new_object();

            json_object_object_add(a, "item",
                                   json_object_new_string(s->item));
            json_object_object_add(e, "args", a);
        }
        json_object_array_add(events, e);
    }
    pthread_mutex_unlock(&t->lock);
    text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    st = cld_atomic_open(path, true, &af);
    if (st == CLD_OK) {
        if (fputs(text, af.fp) < 0 || fputc('\n', af.fp) < 0) {
            cld_atomic_abort(&af);
            st = cld_error_set(CLD_ERR_IO, "%s: cannot write the trace",
                               path);
        } else {
            st = cld_atomic_commit(&af);
        }
    }
    json_object_put(root);
    return st;
}
