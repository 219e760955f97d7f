/* test_store_local.c - a host's file for vfabd --store (config.c,
 * config_store.c): only `local:`, anything else refused by name;
 * local.store parsed, and its errors named by field.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/control/vf_model.h"

static char path[64];

/* Loads text as a local-only file: the return code, err filled. */
static int load(const char *text, struct vf_model *m, char *err, size_t len)
{
    snprintf(path, sizeof(path), "/tmp/vf-store-local.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = vf_config_load_local(path, m, err, len);
    unlink(path);
    return rc;
}

static void test_local_only(void **state)
{
    (void)state;
    struct vf_model m;
    char err[1024] = "";
    int rc = load("local:\n"
                  "  chassis: hv1\n"
                  "  workers: 1\n"
                  "  uplink: {type: udp, bind: \"192.0.2.1:6081\"}\n"
                  "  store:\n"
                  "    endpoints: [http://10.0.0.1:2379, http://10.0.0.2:2379]\n"
                  "    prefix: /fab1/\n"
                  "    lease_ttl: 30\n"
                  "    tls: {ca: /etc/vfab/ca.crt, cert: /etc/vfab/c.crt, key: /etc/vfab/c.key}\n",
                  &m, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_true(m.has_local);
    assert_string_equal(m.local.chassis, "hv1");
    assert_int_equal(m.local.chassis_idx, -1);    /* the fabric is the store's */
    assert_int_equal(m.n_chassis, 0);
    assert_int_equal(m.n_tenants, 0);
    assert_true(m.local.store.given);
    assert_string_equal(m.local.store.endpoints, "http://10.0.0.1:2379,http://10.0.0.2:2379");
    assert_string_equal(m.local.store.prefix, "/fab1/");
    assert_int_equal(m.local.store.lease_ttl, 30);
    assert_string_equal(m.local.store.ca, "/etc/vfab/ca.crt");
    assert_string_equal(m.local.store.key, "/etc/vfab/c.key");
    vf_model_free(&m);

    /* A string of URLs and no store at all are fine too. */
    assert_int_equal(load("local: {chassis: hv2, store: {endpoints: \"http://a:1,http://b:2\"}}\n",
                          &m, err, sizeof(err)), 0);
    assert_string_equal(m.local.store.endpoints, "http://a:1,http://b:2");
    vf_model_free(&m);
    assert_int_equal(load("local: {chassis: hv2}\n", &m, err, sizeof(err)), 0);
    assert_false(m.local.store.given);
    vf_model_free(&m);
}

static void test_fabric_refused(void **state)
{
    (void)state;
    struct vf_model m;
    char err[1024] = "";
    int rc = load("chassis:\n  - {name: hv1, underlay_ip: 192.0.2.1}\n"
                  "tenants: []\n"
                  "local: {chassis: hv1}\n", &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "drop 'chassis', 'tenants'"));
    assert_non_null(strstr(err, ":1:"));          /* the line of the first */
    assert_non_null(strstr(err, "vfabctl --store URL apply"));
    assert_int_equal(m.n_chassis, 0);             /* nothing half-loaded */
    /* The fabric without local: local is required. */
    rc = load("tenants: []\n", &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "drop 'tenants'"));
    rc = load("local: {workers: 1}\n", &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "chassis"));
}

static void test_store_errors(void **state)
{
    (void)state;
    static const struct { const char *store, *want; } cases[] = {
        {"{lease_ttl: 1}", "store.lease_ttl"},
        {"{lease_ttl: 301}", "2..300"},
        {"{lease_ttl: ten}", "store.lease_ttl"},
        {"{prefix: vfab}", "store.prefix"},
        {"{prefix: /vfab}", "start and end with '/'"},
        {"{endpoints: []}", "lists no URL"},
        {"{endpoints: {a: b}}", "store.endpoints"},
        {"{tls: {cert: /c}}", "cert and key go together"},
        {"{tls: {pem: /c}}", "allowed: ca, cert, key"},
        {"{endpoint: http://x:1}", "allowed: endpoints, prefix, lease_ttl, tls"},
        {"[http://x:1]", "expected a mapping"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256], err[1024] = "";
        struct vf_model m;
        snprintf(text, sizeof(text), "local:\n  chassis: hv1\n  store: %s\n",
                 cases[i].store);
        int rc = load(text, &m, err, sizeof(err));
        if (rc != -EINVAL || !strstr(err, cases[i].want))
            fail_msg("store %s: rc %d, err \"%s\" (want \"%s\")", cases[i].store, rc,
                     err, cases[i].want);
        assert_non_null(strstr(err, ":3:"));      /* the store line */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_only),
        cmocka_unit_test(test_fabric_refused),
        cmocka_unit_test(test_store_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
