/* The profile and history store: round trips, two processes writing at
 * once, and files that are corrupt, foreign or cut short. Every test works
 * in its own temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "profile.h"

struct fx {
    char *dir;
    struct cld_profile_store *store;
    struct cld_history hist;
};

static int fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);

    if (!fx)
        return -1;
    fx->dir = cld_test_tmpdir();
    if (!fx->dir || cld_profile_store_open(fx->dir, &fx->store) != CLD_OK)
        return -1;
    cld_history_init(&fx->hist);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;

    cld_history_clear(&fx->hist);
    cld_profile_store_close(fx->store);
    cld_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void write_raw(const char *dir, const char *name, const char *data,
                      size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void read_raw(const char *dir, const char *name, char *buf,
                     size_t size)
{
    char path[4096];
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static const struct cld_history_entry *find(const struct cld_history *h,
                                            const char *job)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->entries[i].job, job) == 0)
            return &h->entries[i];
    }
    return NULL;
}

static void test_profile_history_round_trip(void **state)
{
    struct fx *fx = *state;
    const struct cld_history_entry *e;

    assert_int_equal(cld_profile_record(fx->store, "blur", "sigma=2",
                                        "NVIDIA|RTX|535", 12000000,
                                        0.0051234567890123), CLD_OK);
    assert_int_equal(cld_profile_record(fx->store, "blur", "sigma=2",
                                        "NVIDIA|RTX|535", 12500000, 0.0053),
                     CLD_OK);
    assert_int_equal(cld_profile_record(fx->store, "gray", "",
                                        "host|x86_64|2", 4096, 1e-5),
                     CLD_OK);
    assert_string_equal(cld_profile_store_warning(fx->store), "");
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_string_equal(cld_profile_store_warning(fx->store), "");
    assert_int_equal(fx->hist.n, 2);
    e = find(&fx->hist, "blur");
    assert_non_null(e);
    assert_string_equal(e->params, "sigma=2");
    assert_string_equal(e->key, "NVIDIA|RTX|535");
    assert_int_equal(e->bucket, 23);
    assert_int_equal(e->n, 2);
    assert_int_equal(e->samples[0].work, 12000000);
    assert_true(e->samples[0].seconds == 0.0051234567890123);
    assert_true(e->samples[1].seconds == 0.0053);
    e = find(&fx->hist, "gray");
    assert_non_null(e);
    assert_string_equal(e->params, "");
    assert_int_equal(e->bucket, 12);
}

static void test_profile_calibration_round_trip(void **state)
{
    struct fx *fx = *state;
    struct cld_target_profile gpu, other, back;
    bool found = true;

    cld_target_init(&gpu, CLD_TARGET_CL_GPU, 1, "dgpu", "NVIDIA|RTX|535");
    gpu.h2d_bytes_per_s = 12.5e9;
    gpu.d2h_bytes_per_s = 13.25e9;
    gpu.launch_s = 8.5e-6;
    assert_int_equal(cld_target_set_rate(&gpu, "blur", 3.5e8), CLD_OK);
    assert_int_equal(cld_target_set_rate(&gpu, "matmul", 1.25e7), CLD_OK);
    cld_target_init(&other, CLD_TARGET_CL_CPU, 0, "pocl", "PoCL|cpu|5.0");
    other.launch_s = 1e-4;

    cld_target_init(&back, CLD_TARGET_CL_GPU, 1, "dgpu", "NVIDIA|RTX|535");
    assert_int_equal(cld_profile_load(fx->store, &back, &found), CLD_OK);
    assert_false(found);

    assert_int_equal(cld_profile_save(fx->store, &gpu), CLD_OK);
    assert_int_equal(cld_profile_save(fx->store, &other), CLD_OK);
    gpu.launch_s = 9e-6;  /* a recalibration replaces the old record */
    assert_int_equal(cld_profile_save(fx->store, &gpu), CLD_OK);

    back.compute_units = 40;
    assert_int_equal(cld_profile_load(fx->store, &back, &found), CLD_OK);
    assert_true(found);
    assert_true(back.h2d_bytes_per_s == 12.5e9);
    assert_true(back.d2h_bytes_per_s == 13.25e9);
    assert_true(back.launch_s == 9e-6);
    assert_int_equal(back.n_rates, 2);
    assert_true(cld_target_rate(&back, "blur") == 3.5e8);
    assert_true(cld_target_rate(&back, "matmul") == 1.25e7);
    assert_int_equal(back.compute_units, 40);  /* static fields kept */
    assert_string_equal(back.name, "dgpu");

    cld_target_init(&back, CLD_TARGET_CL_CPU, 0, "pocl", "PoCL|cpu|5.0");
    assert_int_equal(cld_profile_load(fx->store, &back, &found), CLD_OK);
    assert_true(found);
    assert_true(back.launch_s == 1e-4);
    assert_int_equal(back.n_rates, 0);
    assert_string_equal(cld_profile_store_warning(fx->store), "");
}

/* Each child records its own job and shares one entry with the other,
 * one sample per call so that the two interleave under the lock. */
static int child_writer(const char *dir, int id)
{
    struct cld_profile_store *s = NULL;
    char job[16];
    int bad = 0;

    if (cld_profile_store_open(dir, &s) != CLD_OK)
        return 1;
    snprintf(job, sizeof job, "own%d", id);
    for (int i = 0; i < 10; i++) {
        bad |= cld_profile_record(s, job, "", "key", 1000, 1 + i) != CLD_OK;
        if (i < 8)
            bad |= cld_profile_record(s, "shared", "", "key", 1000,
                                      id * 100 + i + 1) != CLD_OK;
    }
    cld_profile_store_close(s);
    return bad;
}

static void test_profile_two_writers_keep_all_samples(void **state)
{
    struct fx *fx = *state;
    const struct cld_history_entry *e;
    pid_t pid[2];
    int seen[2] = { 0, 0 }, status;

    for (int c = 0; c < 2; c++) {
        pid[c] = fork();
        assert_true(pid[c] >= 0);
        if (pid[c] == 0)
            _exit(child_writer(fx->dir, c + 1));
    }
    for (int c = 0; c < 2; c++) {
        assert_int_equal(waitpid(pid[c], &status, 0), pid[c]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_string_equal(cld_profile_store_warning(fx->store), "");
    assert_int_equal(fx->hist.n, 3);
    assert_int_equal(find(&fx->hist, "own1")->n, 10);
    assert_int_equal(find(&fx->hist, "own2")->n, 10);
    e = find(&fx->hist, "shared");
    assert_int_equal(e->n, 16);
    for (size_t i = 0; i < e->n; i++)
        seen[(int)e->samples[i].seconds / 100 - 1]++;
    assert_int_equal(seen[0], 8);
    assert_int_equal(seen[1], 8);
    /* history and lock, and no temporary file left behind. */
    assert_int_equal(cld_test_count_entries(fx->dir), 2);
}

static void test_profile_cap_keeps_newest(void **state)
{
    struct fx *fx = *state;
    const struct cld_history_entry *e;

    for (int i = 1; i <= 20; i++) {
        struct cld_history one;

        cld_history_init(&one);
        assert_int_equal(cld_history_add(&one, "j", "", "k", 50, i), CLD_OK);
        assert_int_equal(cld_profile_record_many(fx->store, &one), CLD_OK);
        cld_history_clear(&one);
    }
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    e = find(&fx->hist, "j");
    assert_int_equal(e->n, CLD_HISTORY_SAMPLES);
    assert_true(e->samples[0].seconds == 5.0);
    assert_true(e->samples[15].seconds == 20.0);
}

static void test_profile_corrupt_lines_ignored(void **state)
{
    struct fx *fx = *state;
    static const char text[] =
        CLD_HISTORY_MAGIC "\n"
        "blur\t\tk\t1000\t0.5\n"
        "garbage line without tabs\n"
        "blur\t\tk\t-5\t0.5\n"
        "blur\t\tk\t1000\tnan\n"
        "blur\t\tk\t1000\t0.25x\n"
        "blur\t\tk\t1000\t0.5\textra\n"
        "\t\tk\t1000\t0.5\n"
        "blur\t\tk\t1000\t0.75\n";

    write_raw(fx->dir, "history", text, sizeof text - 1);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 1);
    assert_int_equal(fx->hist.entries[0].n, 2);
    assert_true(fx->hist.entries[0].samples[1].seconds == 0.75);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "6 malformed lines ignored"));
}

static void test_profile_foreign_file_ignored_then_replaced(void **state)
{
    struct fx *fx = *state;
    static const char text[] = "hello\nblur\t\tk\t1000\t0.5\n";
    char buf[256];

    write_raw(fx->dir, "history", text, sizeof text - 1);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 0);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "not a '" CLD_HISTORY_MAGIC "' file, ignored"));
    /* The next record rewrites the file in our format, without the
     * foreign records. */
    assert_int_equal(cld_profile_record(fx->store, "gray", "", "k", 64,
                                        0.125), CLD_OK);
    read_raw(fx->dir, "history", buf, sizeof buf);
    assert_string_equal(buf, CLD_HISTORY_MAGIC "\ngray\t\tk\t64\t0.125\n");
}

static void test_profile_older_version_replaced(void **state)
{
    struct fx *fx = *state;
    /* Version 1 counted elements, not work units: its samples would
     * mislead, so they are dropped and the file rewritten. */
    static const char text[] = "cldispatch-history 1\nblur\t\tk\t1000\t0.5\n";
    char buf[256];

    write_raw(fx->dir, "history", text, sizeof text - 1);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 0);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "older format than '" CLD_HISTORY_MAGIC
                           "', ignored and replaced"));
    assert_int_equal(cld_profile_record(fx->store, "gray", "", "k", 64,
                                        0.125), CLD_OK);
    read_raw(fx->dir, "history", buf, sizeof buf);
    assert_string_equal(buf, CLD_HISTORY_MAGIC "\ngray\t\tk\t64\t0.125\n");
}

static void test_profile_other_version_left_alone(void **state)
{
    struct fx *fx = *state;
    static const char hist[] = "cldispatch-history 99\nnew format\n";
    static const char prof[] = "cldispatch-profiles 7\nnew format\n";
    struct cld_target_profile t;
    bool found = true;
    char buf[256];

    write_raw(fx->dir, "history", hist, sizeof hist - 1);
    write_raw(fx->dir, "profiles", prof, sizeof prof - 1);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 0);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "left alone"));
    /* A newer cldispatch owns these files: recording must not destroy
     * them, and says so. */
    assert_int_equal(cld_profile_record(fx->store, "gray", "", "k", 64,
                                        0.125), CLD_OK);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "left alone"));
    read_raw(fx->dir, "history", buf, sizeof buf);
    assert_string_equal(buf, hist);
    cld_target_init(&t, CLD_TARGET_CL_GPU, 0, "gpu", "gpu");
    t.launch_s = 1e-5;
    assert_int_equal(cld_profile_save(fx->store, &t), CLD_OK);
    read_raw(fx->dir, "profiles", buf, sizeof buf);
    assert_string_equal(buf, prof);
    assert_int_equal(cld_profile_load(fx->store, &t, &found), CLD_OK);
    assert_false(found);
}

static void test_profile_truncated_file(void **state)
{
    struct fx *fx = *state;
    static const char text[] = CLD_HISTORY_MAGIC "\n"
                               "blur\t\tk\t1000\t0.5\n"
                               "blur\t\tk\t1000\t0.2";

    write_raw(fx->dir, "history", text, sizeof text - 1);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 1);
    assert_int_equal(fx->hist.entries[0].n, 1);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "truncated last line ignored"));

    /* Cut inside the magic line. */
    write_raw(fx->dir, "history", "cldisp", 6);
    cld_history_clear(&fx->hist);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 0);
    assert_non_null(strstr(cld_profile_store_warning(fx->store), "not a"));

    write_raw(fx->dir, "history", "", 0);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_non_null(strstr(cld_profile_store_warning(fx->store), "empty"));
}

static void test_profile_binary_garbage(void **state)
{
    struct fx *fx = *state;
    char data[8192];
    size_t n = strlen(CLD_HISTORY_MAGIC "\n");
    unsigned x = 12345;

    /* Our magic, then pseudo-random bytes including NULs and tabs. */
    memcpy(data, CLD_HISTORY_MAGIC "\n", n);
    for (size_t i = n; i < sizeof data; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (char)(x >> 16);
    }
    write_raw(fx->dir, "history", data, sizeof data);
    assert_int_equal(cld_profile_load_history(fx->store, &fx->hist),
                     CLD_OK);
    assert_int_equal(fx->hist.n, 0);
    assert_string_not_equal(cld_profile_store_warning(fx->store), "");
}

static void test_profile_corrupt_profiles_file(void **state)
{
    struct fx *fx = *state;
    static const char text[] = CLD_PROFILES_MAGIC "\n"
                               "gpu\th2d=abc\tlaunch=1e-5\n"
                               "cpu\th2d=1e9\tfuture=7\tlaunch=2e-5\n";
    struct cld_target_profile t;
    bool found = true;

    write_raw(fx->dir, "profiles", text, sizeof text - 1);
    cld_target_init(&t, CLD_TARGET_CL_GPU, 0, "gpu", "gpu");
    assert_int_equal(cld_profile_load(fx->store, &t, &found), CLD_OK);
    assert_false(found);
    assert_true(t.launch_s == 0);
    assert_non_null(strstr(cld_profile_store_warning(fx->store),
                           "1 malformed line ignored"));
    /* Unknown names of the same version are skipped, not fatal. */
    cld_target_init(&t, CLD_TARGET_CL_CPU, 0, "cpu", "cpu");
    assert_int_equal(cld_profile_load(fx->store, &t, &found), CLD_OK);
    assert_true(found);
    assert_true(t.h2d_bytes_per_s == 1e9);
    assert_true(t.launch_s == 2e-5);
}

static void test_profile_atomic_write_leaves_no_temp(void **state)
{
    struct fx *fx = *state;
    struct cld_target_profile t;

    cld_target_init(&t, CLD_TARGET_CL_GPU, 0, "gpu", "gpu|x|1");
    t.launch_s = 1e-5;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(cld_profile_record(fx->store, "j", "", "k", 10,
                                            1.0 + i), CLD_OK);
        assert_int_equal(cld_profile_save(fx->store, &t), CLD_OK);
    }
    /* history, profiles, lock. */
    assert_int_equal(cld_test_count_entries(fx->dir), 3);
}

static void test_profile_invalid_input(void **state)
{
    struct fx *fx = *state;
    struct cld_target_profile t;

    assert_int_equal(cld_profile_record(fx->store, "a\nb", "", "k", 10, 1),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_profile_record(fx->store, "a", "", "", 10, 1),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_profile_record(fx->store, "a", "", "k", 10, -1),
                     CLD_ERR_INVALID);
    cld_target_init(&t, CLD_TARGET_CL_GPU, 0, "gpu", "");
    assert_int_equal(cld_profile_save(fx->store, &t), CLD_ERR_INVALID);
    assert_int_equal(cld_test_count_entries(fx->dir), 0);
}

/* The record that must fail on a read-only folder: in a child that gives
 * up root first, since root writes through permission bits. The child
 * reports through its exit status (cmocka is not used across fork). */
static int record_unprivileged(struct cld_profile_store *s)
{
    pid_t pid = fork();
    int status = 0;

    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        _exit(cld_profile_record(s, "j", "", "k", 10, 2) == CLD_ERR_IO ? 0
                                                                       : 4);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void test_profile_unwritable_dir(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(cld_profile_record(fx->store, "j", "", "k", 10, 1),
                     CLD_OK);
    /* Readable and searchable by the unprivileged child, not writable. */
    assert_int_equal(chmod(fx->dir, 0555), 0);
    assert_int_equal(record_unprivileged(fx->store), 0);
    assert_int_equal(chmod(fx->dir, 0700), 0);
    assert_int_equal(cld_test_count_entries(fx->dir), 2);
}

static void test_profile_default_dir(void **state)
{
    struct fx *fx = *state;
    struct cld_profile_store *s = NULL;
    char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char want[4096], *old_xdg = xdg ? strdup(xdg) : NULL;
    char *old_home = home ? strdup(home) : NULL;
    struct stat st;

    setenv("XDG_CACHE_HOME", fx->dir, 1);
    assert_int_equal(cld_profile_store_open(NULL, &s), CLD_OK);
    snprintf(want, sizeof want, "%s/cldispatch", fx->dir);
    assert_string_equal(cld_profile_store_dir(s), want);
    assert_int_equal(stat(want, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    cld_profile_store_close(s);

    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", fx->dir, 1);
    assert_int_equal(cld_profile_store_open(NULL, &s), CLD_OK);
    snprintf(want, sizeof want, "%s/.cache/cldispatch", fx->dir);
    assert_string_equal(cld_profile_store_dir(s), want);
    assert_int_equal(stat(want, &st), 0);
    cld_profile_store_close(s);

    unsetenv("HOME");
    assert_int_equal(cld_profile_store_open(NULL, &s), CLD_ERR_NOT_FOUND);
    assert_null(s);

    if (old_xdg)
        setenv("XDG_CACHE_HOME", old_xdg, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_xdg);
    free(old_home);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_profile_history_round_trip),
        T(test_profile_calibration_round_trip),
        T(test_profile_two_writers_keep_all_samples),
        T(test_profile_cap_keeps_newest),
        T(test_profile_corrupt_lines_ignored),
        T(test_profile_foreign_file_ignored_then_replaced),
        T(test_profile_older_version_replaced),
        T(test_profile_other_version_left_alone),
        T(test_profile_truncated_file),
        T(test_profile_binary_garbage),
        T(test_profile_corrupt_profiles_file),
        T(test_profile_atomic_write_leaves_no_temp),
        T(test_profile_invalid_input),
        T(test_profile_unwritable_dir),
        T(test_profile_default_dir),
    };
#undef T
    return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
