/* test_yaml_guard.c - the checks before a desired-state file is loaded.
 *
 * Nesting past VF_YAML_MAX_DEPTH is refused (flow and block style) at the
 * line and column where it goes too deep, through the loader's own entry
 * points, including a 1 MB hostile file; nesting the schema uses passes;
 * every example passes the guard. Text that is not UTF-8 (a UTF-16 byte
 * order mark, a NUL byte, a stray Latin-1 byte) is refused naming the
 * line and column and what to do. (How fast the 1 MB file is refused is
 * measured in docs/observe.md, not asserted here.)
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/control/vf_model.h"
#include "mgmt/control/vf_text.h"
#include "mgmt/control/vf_yaml_guard.h"

/* "chassis: []\ntenants: " then depth '[' and as many ']'. */
static char *flow_nest(unsigned depth, size_t *len)
{
    const char *head = "chassis: []\ntenants: ";
    size_t h = strlen(head);
    char *s = malloc(h + 2 * (size_t)depth + 2);
    memcpy(s, head, h);
    memset(s + h, '[', depth);
    memset(s + h + depth, ']', depth);
    s[h + 2 * depth] = '\n';
    s[h + 2 * depth + 1] = '\0';
    *len = h + 2 * (size_t)depth + 1;
    return s;
}

static void test_deep_flow_refused(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    /* The top mapping is level 1, so 16 brackets open level 17. */
    char *s = flow_nest(VF_YAML_MAX_DEPTH, &len);
    assert_int_equal(vf_yaml_guard("deep.yaml", s, len, err, sizeof(err)), -EINVAL);
    /* Refused at the bracket that opens level 17: column 10 + 15. */
    assert_non_null(strstr(err, "deep.yaml:2:25: YAML nested more than 16 levels"));
    free(s);
    s = flow_nest(VF_YAML_MAX_DEPTH - 1, &len);
    assert_int_equal(vf_yaml_guard("ok.yaml", s, len, err, sizeof(err)), 0);
    free(s);
}

static void test_deep_block_refused(void **state)
{
    (void)state;
    char buf[8192], err[512];
    size_t n = 0;
    /* a:\n  a:\n    a: ... block mappings, one level per line. */
    for (unsigned d = 0; d < VF_YAML_MAX_DEPTH + 4; d++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%*sa:\n", (int)(2 * d), "");
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%*sx\n",
                          (int)(2 * (VF_YAML_MAX_DEPTH + 4)), "");
    assert_int_equal(vf_yaml_guard("b.yaml", buf, n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "b.yaml:17:"));
    assert_non_null(strstr(err, "more than 16 levels"));
}

/* The loader's entry points run the guard: a 1 MB file of brackets, which
 * libyaml alone takes minutes over, is refused with the guard's error. */
static void test_loader_refuses_hostile_megabyte(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    struct vf_model m;
    char *s = flow_nest(500000, &len);
    assert_true(len > 1000000);
    assert_int_equal(vf_config_load_string(s, len, &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "<string>:2:25: YAML nested more than"));
    char path[] = "/tmp/vf-test-guard-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fwrite(s, 1, len, f);
    fclose(f);
    assert_int_equal(vf_config_load(path, &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "YAML nested more than"));
    unlink(path);
    free(s);
}

static void test_examples_pass(void **state)
{
    (void)state;
    static const char *const files[] = {
        "examples/demo.yaml", "examples/two-hosts-hv1.yaml",
        "examples/two-hosts-hv2.yaml", "tests/data/config/valid-base.yaml",
    };
    const char *src = getenv("VF_SOURCE_DIR");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[PATH_MAX], err[512];
        snprintf(path, sizeof(path), "%s/%s", src ? src : ".", files[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if (vf_yaml_guard(files[i], buf, n, err, sizeof(err)) != 0)
            fail_msg("%s: %s", files[i], err);
    }
}

static void test_text_refusals(void **state)
{
    (void)state;
    char err[512];
    struct vf_model m;
    static const char utf16[] = "\xff\xfe" "c\0h\0";
    assert_int_equal(vf_text_check("u.yaml", utf16, sizeof(utf16) - 1, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "u.yaml:1:1: UTF-16 text"));
    assert_non_null(strstr(err, "iconv -f UTF-16 -t UTF-8 u.yaml"));
    /* The loader says the same (vfabd --check and apply agree). */
    assert_int_equal(vf_config_load_string(utf16, sizeof(utf16) - 1, &m, err,
                                           sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "UTF-16 text"));

    static const char nul[] = "chassis: []\ntenants: [a\0b]\n";
    assert_int_equal(vf_text_check("n.yaml", nul, sizeof(nul) - 1, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "n.yaml:2:12: a NUL byte"));

    static const char latin1[] = "chassis: []\n# caf\xe9\n";
    assert_int_equal(vf_text_check("l.yaml", latin1, sizeof(latin1) - 1, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "l.yaml:2:6: byte 0xe9 is not UTF-8"));

    static const char surrogate[] = "a: \xed\xa0\x80\n";
    assert_int_equal(vf_text_check("s.yaml", surrogate, sizeof(surrogate) - 1,
                                   err, sizeof(err)), -EINVAL);
    static const char good[] = "\xef\xbb\xbf# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\n";
    assert_int_equal(vf_text_check("g.yaml", good, sizeof(good) - 1, err,
                                   sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_flow_refused),
        cmocka_unit_test(test_deep_block_refused),
        cmocka_unit_test(test_loader_refuses_hostile_megabyte),
        cmocka_unit_test(test_examples_pass),
        cmocka_unit_test(test_text_refusals),
    };
    return cmocka_run_group_tests_name("yaml_guard", tests, NULL, NULL);
}
