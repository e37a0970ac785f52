/* Option parsing of `cldispatch run`, without a device: the regression
 * tests for what tests/fuzz/fuzz_options found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "chain.h"
#include "cli.h"
#include "fixtures.h"

/* Parse a command line given as one string, arguments split at '\n', in
 * a heap copy that the caller frees with done(). Returns the parser's
 * result; *dev gets a copy of the device selector (or "" when none). */
static int parse_keep(const char *line, char *dev, size_t devlen,
                      char **text)
{
    char *argv[32];
    int argc = 0, first, rc;
    struct cld_batch_opts o;

    *text = strdup(line);
    assert_non_null(*text);
    argv[argc++] = "run";
    for (char *p = *text; argc < 31;) {
        char *nl = strchr(p, '\n');

        argv[argc++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    rc = cld__cli_parse_run(argc, argv, &o, &first);
    snprintf(dev, devlen, "%s", rc == -1 && o.device ? o.device : "");
    if (rc == -1)
        cld_chain_job_destroy(o.job);
    return rc;
}

static void done(char *text)
{
    free(text);
}

static int parse(const char *line, char *dev, size_t devlen)
{
    char *text;
    int rc = parse_keep(line, dev, devlen, &text);

    done(text);
    return rc;
}

/* A parse that stopped inside an option cluster ("-Xd...": X unknown) left
 * glibc's getopt pointing at the rest of the cluster; the next parse took
 * "-d" and its value from the first one's arguments (freed by then, in the
 * fuzzer). */
static void test_cli_parse_forgets_earlier_cluster(void **state)
{
    char dev[64], *first, *second;

    (void)state;
    unsetenv("CLDISPATCH_DEVICE");
    assert_int_equal(parse_keep("blur\n-Xdgone\n-o\nout\na.png", dev,
                                sizeof dev, &first), CLD_EXIT_USAGE);
    assert_int_equal(parse_keep("blur\n-o\nout\na.png", dev, sizeof dev,
                                &second), -1);
    assert_string_equal(dev, "");
    done(first);
    done(second);
    /* And the cluster itself still parses when it is valid. */
    assert_int_equal(parse("blur\n-vdhost\n-o\nout\na.png", dev, sizeof dev),
                     -1);
    assert_string_equal(dev, "host");
}

static void test_cli_parse_job_parameters(void **state)
{
    char dev[64];

    (void)state;
    unsetenv("CLDISPATCH_DEVICE");
    assert_int_equal(parse("blur\n--sigma\n2\n-o\nout\na.png", dev,
                           sizeof dev), -1);
    assert_int_equal(parse("blur\n--sigma\n0\n-o\nout\na.png", dev,
                           sizeof dev), CLD_EXIT_USAGE);
    assert_int_equal(parse("blur\n--sigma\nnan\n-o\nout\na.png", dev,
                           sizeof dev), CLD_EXIT_USAGE);
    assert_int_equal(parse("blur\n--levels\n4\n-o\nout\na.png", dev,
                           sizeof dev), CLD_EXIT_USAGE);
    assert_int_equal(parse("resize\n--size\n0x5\n-o\nout\na.png", dev,
                           sizeof dev), CLD_EXIT_USAGE);
    assert_int_equal(parse("resize\n--size\n64x48\n-o\nout\na.png", dev,
                           sizeof dev), -1);
    assert_int_equal(parse("nosuchjob\n-o\nout", dev, sizeof dev),
                     CLD_EXIT_USAGE);
    assert_int_equal(parse("blur\n-o", dev, sizeof dev), CLD_EXIT_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_parse_forgets_earlier_cluster),
        cmocka_unit_test(test_cli_parse_job_parameters),
    };

    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
