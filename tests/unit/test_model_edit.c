/* test_model_edit.c - model JSON round trip, add/del of every kind, diff.
 *
 * The expected model of every edit is the base YAML with lines inserted or
 * removed by hand, loaded by the ordinary loader; models are compared via
 * their JSON form plus their assigned ids. Every refusal must leave the
 * current model's JSON byte for byte as it was and the output model empty,
 * and must name the object and the field.
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

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/control/vf_model.h"
#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_edit.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/rpc/vf_rpc.h"
#include "mgmt/daemon/vf_state.h"

static const char BASE[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: blue-web\n"
"        vni: 1001\n"
"        ports:\n"
"          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv1, port_security: true}\n"
"          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2], chassis: hv2}\n"
"      - name: blue-db\n"
"        vni: 1002\n"
"        ports:\n"
"          - {name: db1, mac: \"02:00:00:00:02:01\", ips: [10.0.1.1], chassis: hv1}\n"
"      - name: blue-empty\n"
"        vni: 1003\n"
"    routers:\n"
"      - name: blue-r\n"
"        ports:\n"
"          - {name: blue-r-web, switch: blue-web, mac: \"02:00:00:00:ff:01\", cidr: 10.0.0.254/24}\n"
"          - {name: blue-r-db, switch: blue-db, mac: \"02:00:00:00:ff:02\", cidr: 10.0.1.254/24}\n"
"        routes:\n"
"          - {prefix: 10.9.0.0/16, nexthop: 10.0.1.1}\n"
"    acls:\n"
"      - {switch: blue-web, direction: to-port, priority: 100, action: drop, match: {proto: tcp, dst_port: 22}}\n"
"      - {switch: blue-web, port: vm1, direction: from-port, priority: 50, action: allow, match: {src_ip: 10.0.0.1}}\n"
"  - name: red\n"
"    switches:\n"
"      - name: red-web\n"
"        vni: 2001\n"
"        ports:\n"
"          - {name: red1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv2}\n"
"  - name: green\n"
"local:\n"
"  chassis: hv1\n";

/* ---- helpers ---- */

static bool model_is_empty(const struct vf_model *m)
{
    static const struct vf_model zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

static void load(const char *yaml, struct vf_model *m)
{
    char err[1024];
    int rc = vf_config_load_string(yaml, strlen(yaml), m, err, sizeof(err));
    if (rc)
        fail_msg("load: %s\n%s", err, yaml);
}

static char *dump(const struct vf_model *m)
{
    json_t *j = vf_model_to_json(m);
    char *s;
    assert_non_null(j);
    s = json_dumps(j, JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(s);
    return s;
}

/* Same JSON and the same assigned ids. */
static void assert_models_equal(const struct vf_model *a,
                                const struct vf_model *b)
{
    char *x = dump(a), *y = dump(b);
    if (strcmp(x, y) != 0)
        fail_msg("models differ:\n%s\n%s", x, y);
    free(x);
    free(y);
    assert_int_equal(a->n_tenants, b->n_tenants);
    for (size_t t = 0; t < a->n_tenants; t++) {
        const struct vf_model_tenant *ta = &a->tenants[t], *tb = &b->tenants[t];
        for (size_t s = 0; s < ta->n_switches; s++) {
            assert_int_equal(ta->switches[s].id, tb->switches[s].id);
            for (size_t p = 0; p < ta->switches[s].n_ports; p++)
                assert_int_equal(ta->switches[s].ports[p].id,
                                 tb->switches[s].ports[p].id);
        }
        for (size_t r = 0; r < ta->n_routers; r++) {
            assert_int_equal(ta->routers[r].id, tb->routers[r].id);
            for (size_t p = 0; p < ta->routers[r].n_ports; p++)
                assert_int_equal(ta->routers[r].ports[p].id,
                                 tb->routers[r].ports[p].id);
        }
    }
}

/* base with the line containing `at` removed (insert NULL), or with insert
 * added after it. */
static char *yaml_edit(const char *base, const char *at, const char *insert)
{
    const char *hit = strstr(base, at), *eol;
    char *out;
    size_t head, n;

    if (!hit)
        fail_msg("no line with '%s'", at);
    while (hit > base && hit[-1] != '\n')
        hit--;
    eol = strchr(hit, '\n');
    assert_non_null(eol);
    eol++;
    n = strlen(base) + (insert ? strlen(insert) : 0) + 1;
    out = malloc(n);
    assert_non_null(out);
    head = (size_t)((insert ? eol : hit) - base);
    memcpy(out, base, head);
    out[head] = '\0';
    if (insert)
        strcat(out, insert);
    strcat(out, eol);
    return out;
}

static char *yaml_drop(const char *base, const char *at)
{
    return yaml_edit(base, at, NULL);
}

/* base without the lines from the one containing `from` up to, not
 * including, the one containing `to`. */
static char *yaml_cut(const char *base, const char *from, const char *to)
{
    const char *a = strstr(base, from), *b;
    char *out;

    if (!a)
        fail_msg("no line with '%s'", from);
    b = strstr(a, to);
    if (!b)
        fail_msg("no line with '%s' after '%s'", to, from);
    while (a > base && a[-1] != '\n')
        a--;
    while (b > a && b[-1] != '\n')
        b--;
    out = calloc(1, strlen(base) + 1);
    assert_non_null(out);
    memcpy(out, base, (size_t)(a - base));
    strcat(out, b);
    return out;
}

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

static int edit(const struct vf_model *cur, enum vf_edit_op op,
                const char *kind, const char *spec, bool cascade,
                struct vf_model *out, char *err, size_t len)
{
    json_t *j = js(spec);
    char *before = dump(cur), *spec_before = json_dumps(j, JSON_SORT_KEYS);
    int rc = vf_model_edit(cur, op, kind, j, cascade, out, err, len);
    char *after = dump(cur), *spec_after = json_dumps(j, JSON_SORT_KEYS);

    /* cur and spec are only read, whatever the outcome. */
    assert_string_equal(before, after);
    assert_string_equal(spec_before, spec_after);
    free(before);
    free(after);
    free(spec_before);
    free(spec_after);
    json_decref(j);
    return rc;
}

/* The edit succeeds and gives the model that expected_yaml describes. */
static void expect_ok(const struct vf_model *cur, enum vf_edit_op op,
                      const char *kind, const char *spec, bool cascade,
                      const char *expected_yaml)
{
    struct vf_model out, want;
    char err[1024];
    int rc = edit(cur, op, kind, spec, cascade, &out, err, sizeof(err));

    if (rc)
        fail_msg("%s %s %s: rc %d: %s", op == VF_EDIT_ADD ? "add" : "del",
                 kind, spec, rc, err);
    load(expected_yaml, &want);
    assert_models_equal(&out, &want);
    vf_model_free(&out);
    vf_model_free(&want);
}

/* The edit is refused with rc, out stays empty, and err holds every one of
 * the NULL-terminated fragments. */
static void expect_fail(const struct vf_model *cur, enum vf_edit_op op,
                        const char *kind, const char *spec, bool cascade,
                        int want_rc, ...)
{
    struct vf_model out;
    char err[1024] = "";
    va_list ap;
    const char *frag;
    int rc;

    memset(&out, 0x5a, sizeof(out));
    rc = edit(cur, op, kind, spec, cascade, &out, err, sizeof(err));
    if (rc != want_rc)
        fail_msg("%s %s %s: rc %d, want %d (%s)", op == VF_EDIT_ADD ? "add" :
                 "del", kind, spec, rc, want_rc, err);
    assert_true(model_is_empty(&out));
    if (getenv("VF_TEST_VERBOSE"))
        print_message("%s\n", err);
    va_start(ap, want_rc);
    while ((frag = va_arg(ap, const char *)) != NULL)
        if (!strstr(err, frag))
            fail_msg("error lacks '%s': %s", frag, err);
    va_end(ap);
}

static int setup(void **state)
{
    struct vf_model *m = malloc(sizeof(*m));
    if (!m)
        return -1;
    load(BASE, m);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    vf_model_free(*state);
    free(*state);
    return 0;
}

/* ---- JSON round trip ---- */

static void roundtrip_text(const char *yaml)
{
    struct vf_model a, b;
    char *s;

    load(yaml, &a);
    s = dump(&a);
    load(s, &b);
    assert_models_equal(&a, &b);
    free(s);
    vf_model_free(&a);
    vf_model_free(&b);
}

static void test_json_roundtrip(void **state)
{
    static const char *const files[] = {
        "examples/demo.yaml", "examples/two-hosts-hv1.yaml",
        "examples/two-hosts-hv2.yaml", "tests/data/config/valid-base.yaml",
        "tests/data/config/model-only.yaml",
    };
    static const char *const texts[] = {
        /* Every optional field and enum value at least once. */
        "chassis:\n"
        "  - {name: a, underlay_ip: 192.0.2.1, encap: vxlan, port: 4790}\n"
        "  - {name: b, underlay_ip: 192.0.2.2, encap: geneve}\n"
        "tenants:\n"
        "  - name: t\n"
        "    switches:\n"
        "      - name: s\n"
        "        vni: 16777215\n"
        "        ports:\n"
        "          - {name: p1, mac: \"02:00:00:00:00:01\", ips: [10.0.0.1, 10.0.0.9], chassis: a, attach: {type: tap, name: tap-p1}}\n"
        "          - {name: p2, mac: \"02:aa:bb:cc:dd:ee\", chassis: b, attach: {type: verbs, device: mlx5_0}}\n"
        "          - {name: p3, mac: \"02:00:00:00:00:03\", ips: [10.0.0.3], chassis: a, port_security: true}\n"
        "    acls:\n"
        "      - {switch: s, port: p1, direction: from-port, priority: 0, action: allow,\n"
        "         match: {proto: udp, src_ip: 10.0.0.0/24, dst_ip: 10.1.2.3, src_port: 1000-2000, dst_port: \"53\"}}\n"
        "      - {switch: s, direction: to-port, priority: 65535, action: drop, match: {proto: icmp}}\n"
        "      - {switch: s, direction: to-port, priority: 7, action: drop}\n"
        "local:\n"
        "  chassis: a\n"
        "  workers: [0, 1]\n"
        "  uplink: {type: udp, bind: \"127.0.0.1:4790\"}\n",
        "chassis: [{name: a, underlay_ip: 192.0.2.1}]\n"
        "local: {chassis: a, workers: 3, uplink: {type: verbs, device: mlx5_1, port: 2}}\n",
        "chassis: [{name: a, underlay_ip: 192.0.2.1}]\n"
        "local: {chassis: a, uplink: {type: udp, bind: 0.0.0.0}}\n",
        "chassis: []\n",
        BASE,
    };
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[PATH_MAX], *text;
        const char *dir = getenv("VF_SOURCE_DIR");
        FILE *f;
        long n;

        snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", files[i]);
        f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        rewind(f);
        text = calloc(1, (size_t)n + 1);
        assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        roundtrip_text(text);
        free(text);
    }
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        roundtrip_text(texts[i]);
}

/* ---- add and del, kind by kind ---- */

static void test_chassis(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "name: hv2,",
                           "  - {name: hv3, underlay_ip: 192.0.2.3, port: 7000}\n");
    struct vf_model mid;
    char err[512];

    expect_ok(m, VF_EDIT_ADD, "chassis",
              "{\"chassis\": {\"name\": \"hv3\", \"underlay_ip\": \"192.0.2.3\","
              " \"port\": 7000}}", false, with);
    /* del undoes add. */
    load(with, &mid);
    expect_ok(&mid, VF_EDIT_DEL, "chassis", "{\"name\": \"hv3\"}", false, BASE);
    vf_model_free(&mid);
    free(with);

    expect_fail(m, VF_EDIT_ADD, "chassis",
                "{\"chassis\": {\"name\": \"hv1\", \"underlay_ip\": \"192.0.2.9\"}}",
                false, -EINVAL, "chassis[2] (hv1)", "field 'name'", NULL);
    expect_fail(m, VF_EDIT_ADD, "chassis",
                "{\"chassis\": {\"name\": \"hv4\", \"underlay_ip\": \"192.0.2.300\"}}",
                false, -EINVAL, "chassis[2] (hv4)", "field 'underlay_ip'", NULL);
    expect_fail(m, VF_EDIT_ADD, "chassis",
                "{\"chassis\": {\"name\": \"hv4\", \"underlay_ip\": \"192.0.2.4\", \"vlan\": 3}}",
                false, -EINVAL, "chassis[2] (hv4)", "unknown field 'vlan'", NULL);
    expect_fail(m, VF_EDIT_DEL, "chassis", "{\"name\": \"hv2\"}", true,
                -EINVAL, "hv2", "vm2", "red1", NULL);
    expect_fail(m, VF_EDIT_DEL, "chassis", "{\"name\": \"hv9\"}", false,
                -ENOENT, "hv9", "field 'name'", "hv1, hv2", NULL);
    /* local's own chassis once no port uses it. */
    {
        char *t1 = yaml_drop(BASE, "name: vm1,"), *t2 = yaml_drop(t1, "name: db1,");
        struct vf_model m2;
        free(t1);
        t1 = t2;
        t2 = yaml_drop(t1, "priority: 50");
        load(t2, &m2);
        expect_fail(&m2, VF_EDIT_DEL, "chassis", "{\"name\": \"hv1\"}", false,
                    -EINVAL, "local.chassis", NULL);
        vf_model_free(&m2);
        free(t1);
        free(t2);
    }
    (void)err;
}

static void test_tenant(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "  - name: green", "  - name: pink\n");
    char *nogreen = yaml_drop(BASE, "  - name: green");
    char *noblue;

    expect_ok(m, VF_EDIT_ADD, "tenant", "{\"tenant\": {\"name\": \"pink\"}}",
              false, with);
    expect_ok(m, VF_EDIT_DEL, "tenant", "{\"name\": \"green\"}", false, nogreen);
    expect_fail(m, VF_EDIT_ADD, "tenant", "{\"tenant\": {\"name\": \"red\"}}",
                false, -EINVAL, "tenants[3] (red)", "field 'name'", NULL);
    expect_fail(m, VF_EDIT_DEL, "tenant", "{\"name\": \"blue\"}", false,
                -EINVAL, "tenant 'blue'", "blue-web", "blue-db", "blue-r",
                "ACLs", "cascade", NULL);
    expect_fail(m, VF_EDIT_DEL, "tenant", "{\"name\": \"nope\"}", false,
                -ENOENT, "\"nope\" is not a tenant", NULL);
    /* Cascade: the whole of blue goes. */
    noblue = yaml_cut(BASE, "  - name: blue\n", "  - name: red\n");
    expect_ok(m, VF_EDIT_DEL, "tenant", "{\"name\": \"blue\"}", true, noblue);
    free(with);
    free(nogreen);
    free(noblue);
}

static void test_switch(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "  - name: green",
                           "    switches:\n      - {name: g1, vni: 3001}\n");
    char *noempty = yaml_drop(BASE, "name: blue-empty");
    char *t, *t2, *noweb;

    t = yaml_drop(noempty, "vni: 1003");
    expect_ok(m, VF_EDIT_ADD, "switch",
              "{\"tenant\": \"green\", \"switch\": {\"name\": \"g1\", \"vni\": 3001}}",
              false, with);
    expect_ok(m, VF_EDIT_DEL, "switch", "{\"name\": \"blue-empty\"}", false, t);
    free(t);
    expect_fail(m, VF_EDIT_ADD, "switch",
                "{\"tenant\": \"green\", \"switch\": {\"name\": \"g1\", \"vni\": 1001}}",
                false, -EINVAL, "tenants[2] (green) switches[0] (g1)",
                "field 'vni'", "1001", NULL);
    expect_fail(m, VF_EDIT_ADD, "switch",
                "{\"tenant\": \"green\", \"switch\": {\"name\": \"red-web\", \"vni\": 3001}}",
                false, -EINVAL, "switches[0] (red-web)", "field 'name'", NULL);
    expect_fail(m, VF_EDIT_ADD, "switch",
                "{\"tenant\": \"mauve\", \"switch\": {\"name\": \"g1\", \"vni\": 3001}}",
                false, -ENOENT, "field 'tenant'", "\"mauve\"", NULL);
    expect_fail(m, VF_EDIT_ADD, "switch",
                "{\"switch\": {\"name\": \"g1\", \"vni\": 3001}}",
                false, -EINVAL, "missing field 'tenant'", NULL);
    expect_fail(m, VF_EDIT_ADD, "switch",
                "{\"tenant\": \"green\", \"switch\": {\"name\": \"g1\", \"vni\": 99999999}}",
                false, -EINVAL, "(g1)", "field 'vni'", NULL);
    expect_fail(m, VF_EDIT_DEL, "switch", "{\"name\": \"blue-web\"}", false,
                -EINVAL, "switch 'blue-web'", "ports vm1, vm2",
                "router ports blue-r-web", "acls[0]", "acls[1]", NULL);
    expect_fail(m, VF_EDIT_DEL, "switch", "{\"name\": \"blue-wbe\"}", false,
                -ENOENT, "\"blue-wbe\" is not a switch", "blue-web", NULL);
    /* Cascade: ports, the router port on it and both ACLs on it; the
     * route via blue-db stays. */
    noweb = yaml_cut(BASE, "      - name: blue-web", "      - name: blue-db");
    t = yaml_drop(noweb, "name: blue-r-web,");
    t2 = yaml_drop(t, "priority: 100");
    free(t);
    t = yaml_drop(t2, "priority: 50");
    free(t2);
    expect_ok(m, VF_EDIT_DEL, "switch", "{\"name\": \"blue-web\"}", true, t);
    free(t);
    /* A route through the switch's router port goes with it. */
    {
        struct vf_model m2;
        char *via = yaml_edit(BASE, "prefix: 10.9.0.0/16",
            "          - {prefix: 0.0.0.0/0, nexthop: 10.0.0.253}\n");
        load(via, &m2);
        expect_fail(&m2, VF_EDIT_DEL, "switch", "{\"name\": \"blue-web\"}",
                    false, -EINVAL, "routes 0.0.0.0/0 via 10.0.0.253", NULL);
        t = yaml_cut(BASE, "      - name: blue-web", "      - name: blue-db");
        t2 = yaml_drop(t, "name: blue-r-web,");
        free(t);
        t = yaml_drop(t2, "priority: 100");
        free(t2);
        t2 = yaml_drop(t, "priority: 50");
        expect_ok(&m2, VF_EDIT_DEL, "switch", "{\"name\": \"blue-web\"}", true,
                  t2);
        free(t);
        free(t2);
        free(via);
        vf_model_free(&m2);
    }
    free(noweb);
    free(with);
    free(noempty);
}

static void test_port(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "name: db1,",
        "          - {name: db2, mac: \"02:00:00:00:02:02\", ips: [10.0.1.2], chassis: hv2}\n");
    char *novm2 = yaml_drop(BASE, "name: vm2,");
    char *t, *t2;

    expect_ok(m, VF_EDIT_ADD, "port",
              "{\"switch\": \"blue-db\", \"port\": {\"name\": \"db2\", \"mac\": "
              "\"02:00:00:00:02:02\", \"ips\": [\"10.0.1.2\"], \"chassis\": \"hv2\"}}",
              false, with);
    expect_ok(m, VF_EDIT_ADD, "port",
              "{\"tenant\": \"blue\", \"switch\": \"blue-db\", \"port\": {\"name\": "
              "\"db2\", \"mac\": \"02:00:00:00:02:02\", \"ips\": [\"10.0.1.2\"], "
              "\"chassis\": \"hv2\"}}", false, with);
    expect_ok(m, VF_EDIT_DEL, "port", "{\"name\": \"vm2\"}", false, novm2);
    /* Bad MAC: the message names the new port and the field. */
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"switch\": \"blue-db\", \"port\": {\"name\": \"db2\", \"mac\": "
                "\"02:00:zz\", \"chassis\": \"hv2\"}}", false, -EINVAL,
                "add port: ", "switches[1] (blue-db) ports[1] (db2)",
                "field 'mac'", "02:00:zz", NULL);
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"switch\": \"blue-db\", \"port\": {\"name\": \"db2\", \"mac\": "
                "\"02:00:00:00:02:02\", \"chassis\": \"hv9\"}}", false, -EINVAL,
                "ports[1] (db2)", "field 'chassis'", "hv9", NULL);
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"switch\": \"blue-db\", \"port\": {\"name\": \"vm1\", \"mac\": "
                "\"02:00:00:00:02:02\", \"chassis\": \"hv2\"}}", false, -EINVAL,
                "ports[1] (vm1)", "field 'name'", NULL);
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"switch\": \"blue-db\", \"port\": {\"name\": \"db2\", \"mac\": "
                "\"02:00:00:00:02:01\", \"chassis\": \"hv2\"}}", false, -EINVAL,
                "ports[1] (db2)", "field 'mac'", NULL);
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"switch\": \"nowhere\", \"port\": {\"name\": \"db2\", \"mac\": "
                "\"02:00:00:00:02:02\", \"chassis\": \"hv2\"}}", false, -ENOENT,
                "field 'switch'", "\"nowhere\" is not a switch", NULL);
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"tenant\": \"red\", \"switch\": \"blue-db\", \"port\": {\"name\": "
                "\"db2\", \"mac\": \"02:00:00:00:02:02\", \"chassis\": \"hv2\"}}",
                false, -EINVAL, "field 'tenant'", "blue-db", NULL);
    expect_fail(m, VF_EDIT_ADD, "port",
                "{\"switch\": \"blue-db\", \"port\": {\"name\": \"db2\", \"mac\": "
                "\"02:00:00:00:02:02\", \"chassis\": \"hv2\"}, \"vlan\": 4}", false,
                -EINVAL, "unknown field 'vlan'", NULL);
    expect_fail(m, VF_EDIT_ADD, "port", "{\"switch\": \"blue-db\", \"port\": 3}",
                false, -EINVAL, "field 'port'", NULL);
    expect_fail(m, VF_EDIT_ADD, "port", "{\"switch\": \"blue-db\"}",
                false, -EINVAL, "missing field 'port'", NULL);
    /* vm1 is named by an ACL. */
    expect_fail(m, VF_EDIT_DEL, "port", "{\"name\": \"vm1\"}", false, -EINVAL,
                "port 'vm1'", "acls[1]", NULL);
    expect_fail(m, VF_EDIT_DEL, "port", "{\"name\": \"vm7\"}", false, -ENOENT,
                "\"vm7\" is not a port", NULL);
    expect_fail(m, VF_EDIT_DEL, "port", "{\"name\": 7}", false, -EINVAL,
                "field 'name'", NULL);
    t = yaml_drop(BASE, "name: vm1,");
    t2 = yaml_drop(t, "priority: 50");
    expect_ok(m, VF_EDIT_DEL, "port", "{\"name\": \"vm1\"}", true, t2);
    free(t);
    free(t2);
    free(with);
    free(novm2);
}

/* One tap, one logical port (the live-edit form of the red team's attack:
 * blue's port and red's port added on one tap name), and IPv6 entries of
 * `ips` through add. */
static void test_port_identity(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "name: vm2,",
        "          - {name: blue-x, mac: \"02:00:00:00:01:09\", ips: [10.0.0.9, "
        "\"2001:db8::9\"], chassis: hv1, attach: {type: tap, name: vtX}}\n");
    struct vf_model m2, m3;
    char err[1024];

    expect_ok(m, VF_EDIT_ADD, "port",
              "{\"switch\": \"blue-web\", \"port\": {\"name\": \"blue-x\", "
              "\"mac\": \"02:00:00:00:01:09\", \"ips\": [\"10.0.0.9\", "
              "\"2001:db8::9\"], \"chassis\": \"hv1\", \"attach\": "
              "{\"type\": \"tap\", \"name\": \"vtX\"}}}", false, with);
    load(with, &m2);
    /* red's port on blue's tap of the same chassis: refused, naming both. */
    expect_fail(&m2, VF_EDIT_ADD, "port",
                "{\"switch\": \"red-web\", \"port\": {\"name\": \"red-x\", "
                "\"mac\": \"02:00:00:00:01:09\", \"chassis\": \"hv1\", "
                "\"attach\": {\"type\": \"tap\", \"name\": \"vtX\"}}}", false,
                -EINVAL, "add port: tenants[1] (red) switches[0] (red-web) "
                "ports[1] (red-x): field 'attach.name'", "tap interface vtX on "
                "chassis hv1 already backs tenants[0] (blue) switches[0] "
                "(blue-web) ports[2] (blue-x)", NULL);
    /* The same name on another chassis is another device. */
    assert_int_equal(edit(&m2, VF_EDIT_ADD, "port",
                          "{\"switch\": \"red-web\", \"port\": {\"name\": "
                          "\"red-x\", \"mac\": \"02:00:00:00:01:09\", "
                          "\"chassis\": \"hv2\", \"attach\": {\"type\": "
                          "\"tap\", \"name\": \"vtX\"}}}", false, &m3, err,
                          sizeof(err)), 0);
    vf_model_free(&m3);
    /* Interface names a kernel would refuse or rewrite. */
    expect_fail(&m2, VF_EDIT_ADD, "port",
                "{\"switch\": \"red-web\", \"port\": {\"name\": \"red-y\", "
                "\"mac\": \"02:00:00:00:01:0a\", \"chassis\": \"hv1\", "
                "\"attach\": {\"type\": \"tap\", \"name\": \"../x\"}}}", false,
                -EINVAL, "ports[1] (red-y): field 'attach.name'", "has a '/'",
                NULL);
    /* An IPv6 address another port of the switch holds. */
    expect_fail(&m2, VF_EDIT_ADD, "port",
                "{\"switch\": \"blue-web\", \"port\": {\"name\": \"blue-y\", "
                "\"mac\": \"02:00:00:00:01:0a\", \"ips\": [\"2001:db8::9\"], "
                "\"chassis\": \"hv2\"}}", false, -EINVAL,
                "ports[3] (blue-y): field 'ips'", "2001:db8::9 is already used "
                "on switch blue-web by tenants[0] (blue) switches[0] (blue-web) "
                "ports[2] (blue-x)", NULL);
    vf_model_free(&m2);
    free(with);
}

static void test_router(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "name: red1,", "    routers:\n      - name: red-r\n");
    char *t, *t2;

    expect_ok(m, VF_EDIT_ADD, "router",
              "{\"tenant\": \"red\", \"router\": {\"name\": \"red-r\"}}", false, with);
    expect_fail(m, VF_EDIT_ADD, "router",
                "{\"tenant\": \"red\", \"router\": {\"name\": \"blue-r\"}}", false,
                -EINVAL, "routers[0] (blue-r)", "field 'name'", NULL);
    /* A router port on another tenant's switch is a dangling reference. */
    expect_fail(m, VF_EDIT_ADD, "router",
                "{\"tenant\": \"red\", \"router\": {\"name\": \"red-r\", \"ports\": "
                "[{\"name\": \"rr\", \"switch\": \"blue-web\", \"mac\": "
                "\"02:00:00:00:ff:09\", \"cidr\": \"10.0.0.1/24\"}]}}", false,
                -EINVAL, "routers[0] (red-r) ports[0] (rr)", "field 'switch'", NULL);
    expect_fail(m, VF_EDIT_DEL, "router", "{\"name\": \"blue-r\"}", false,
                -EINVAL, "router 'blue-r'", "blue-r-web, blue-r-db",
                "10.9.0.0/16 via 10.0.1.1", NULL);
    t = yaml_cut(BASE, "    routers:", "    acls:");
    expect_ok(m, VF_EDIT_DEL, "router", "{\"name\": \"blue-r\"}", true, t);
    free(t);
    /* An empty router goes without cascade. */
    {
        struct vf_model m2;
        load(with, &m2);
        expect_ok(&m2, VF_EDIT_DEL, "router", "{\"name\": \"red-r\"}", false, BASE);
        vf_model_free(&m2);
    }
    (void)t2;
    free(with);
}

static void test_router_port(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "name: blue-r-db,",
        "          - {name: blue-r-e, switch: blue-empty, mac: \"02:00:00:00:ff:03\", cidr: 10.0.2.254/24}\n");
    char *noweb = yaml_drop(BASE, "name: blue-r-web,");
    char *t, *t2;

    expect_ok(m, VF_EDIT_ADD, "router-port",
              "{\"router\": \"blue-r\", \"router-port\": {\"name\": \"blue-r-e\", "
              "\"switch\": \"blue-empty\", \"mac\": \"02:00:00:00:ff:03\", "
              "\"cidr\": \"10.0.2.254/24\"}}", false, with);
    expect_ok(m, VF_EDIT_DEL, "router-port", "{\"name\": \"blue-r-web\"}", false,
              noweb);
    expect_fail(m, VF_EDIT_ADD, "router-port",
                "{\"router\": \"blue-r\", \"router-port\": {\"name\": \"blue-r-e\", "
                "\"switch\": \"blue-empty\", \"mac\": \"02:00:00:00:ff:03\", "
                "\"cidr\": \"10.0.1.200/24\"}}", false, -EINVAL,
                "ports[2] (blue-r-e)", "field 'cidr'", "overlaps", NULL);
    expect_fail(m, VF_EDIT_ADD, "router-port",
                "{\"router\": \"blue-r\", \"router-port\": {\"name\": \"blue-r-e\", "
                "\"switch\": \"red-web\", \"mac\": \"02:00:00:00:ff:03\", "
                "\"cidr\": \"10.0.2.254/24\"}}", false, -EINVAL,
                "ports[2] (blue-r-e)", "field 'switch'", NULL);
    expect_fail(m, VF_EDIT_ADD, "router-port",
                "{\"router\": \"red-r\", \"router-port\": {\"name\": \"x\"}}", false,
                -ENOENT, "field 'router'", "\"red-r\" is not a router", NULL);
    /* blue-r-db carries the route's next hop. */
    expect_fail(m, VF_EDIT_DEL, "router-port", "{\"name\": \"blue-r-db\"}", false,
                -EINVAL, "router-port 'blue-r-db'", "10.9.0.0/16 via 10.0.1.1",
                NULL);
    t = yaml_drop(BASE, "name: blue-r-db,");
    t2 = yaml_cut(t, "        routes:", "    acls:");
    expect_ok(m, VF_EDIT_DEL, "router-port", "{\"name\": \"blue-r-db\"}", true, t2);
    free(t);
    free(t2);
    free(with);
    free(noweb);
}

static void test_route(void **state)
{
    const struct vf_model *m = *state;
    char *with = yaml_edit(BASE, "prefix: 10.9.0.0/16",
        "          - {prefix: 0.0.0.0/0, nexthop: 10.0.0.253}\n");
    char *none = yaml_cut(BASE, "        routes:", "    acls:");
    struct vf_model two;

    expect_ok(m, VF_EDIT_ADD, "route",
              "{\"router\": \"blue-r\", \"route\": {\"prefix\": \"0.0.0.0/0\", "
              "\"nexthop\": \"10.0.0.253\"}}", false, with);
    expect_ok(m, VF_EDIT_DEL, "route",
              "{\"router\": \"blue-r\", \"prefix\": \"10.9.0.0/16\"}", false, none);
    expect_ok(m, VF_EDIT_DEL, "route", "{\"router\": \"blue-r\", \"index\": 0}",
              false, none);
    expect_ok(m, VF_EDIT_DEL, "route",
              "{\"router\": \"blue-r\", \"prefix\": \"10.9.0.0/16\", \"nexthop\": "
              "\"10.0.1.1\"}", false, none);
    expect_fail(m, VF_EDIT_ADD, "route",
                "{\"router\": \"blue-r\", \"route\": {\"prefix\": \"10.9.0.1/16\", "
                "\"nexthop\": \"10.0.0.253\"}}", false, -EINVAL,
                "routers[0] (blue-r) routes[1]", "field 'prefix'", "host bits", NULL);
    expect_fail(m, VF_EDIT_ADD, "route",
                "{\"router\": \"blue-r\", \"route\": {\"prefix\": \"10.8.0.0/16\", "
                "\"nexthop\": \"172.16.0.1\"}}", false, -EINVAL,
                "routes[1]", "field 'nexthop'", NULL);
    expect_fail(m, VF_EDIT_DEL, "route",
                "{\"router\": \"blue-r\", \"prefix\": \"10.8.0.0/16\"}", false,
                -ENOENT, "no route 10.8.0.0/16", NULL);
    expect_fail(m, VF_EDIT_DEL, "route",
                "{\"router\": \"blue-r\", \"prefix\": \"10.9.0.0/16\", \"nexthop\": "
                "\"10.0.1.9\"}", false, -ENOENT, "no route", NULL);
    expect_fail(m, VF_EDIT_DEL, "route", "{\"router\": \"blue-r\", \"index\": 1}",
                false, -ENOENT, "field 'index'", NULL);
    expect_fail(m, VF_EDIT_DEL, "route", "{\"router\": \"blue-r\"}", false,
                -EINVAL, "missing field 'prefix'", NULL);
    expect_fail(m, VF_EDIT_DEL, "route",
                "{\"router\": \"blue-r\", \"prefix\": \"10.9.0/16\"}", false,
                -EINVAL, "field 'prefix'", NULL);
    /* The same prefix twice: a prefix alone is ambiguous. */
    {
        char *dup = yaml_edit(BASE, "prefix: 10.9.0.0/16",
            "          - {prefix: 10.9.0.0/16, nexthop: 10.0.0.253}\n");
        char *left = yaml_drop(dup, "nexthop: 10.0.0.253");
        load(dup, &two);
        expect_fail(&two, VF_EDIT_DEL, "route",
                    "{\"router\": \"blue-r\", \"prefix\": \"10.9.0.0/16\"}", false,
                    -EINVAL, "2 routes", NULL);
        expect_ok(&two, VF_EDIT_DEL, "route",
                  "{\"router\": \"blue-r\", \"prefix\": \"10.9.0.0/16\", \"nexthop\": "
                  "\"10.0.0.253\"}", false, left);
        vf_model_free(&two);
        free(dup);
        free(left);
    }
    free(with);
    free(none);
}

static void test_acl(void **state)
{
    const struct vf_model *m = *state;
    const char *line = "      - {switch: blue-db, direction: to-port, priority: 10, "
                       "action: drop, match: {proto: udp, dst_ip: 10.0.1.0/24, "
                       "dst_port: 1000-2000}}\n";
    char *with = yaml_edit(BASE, "priority: 50", line);
    char *no0 = yaml_drop(BASE, "priority: 100"), *no1 = yaml_drop(BASE, "priority: 50");
    const char *acl = "{\"switch\": \"blue-db\", \"direction\": \"to-port\", "
                      "\"priority\": 10, \"action\": \"drop\", \"match\": "
                      "{\"proto\": \"udp\", \"dst_ip\": \"10.0.1.0/24\", "
                      "\"dst_port\": \"1000-2000\"}}";
    char spec[512];

    snprintf(spec, sizeof(spec), "{\"tenant\": \"blue\", \"acl\": %s}", acl);
    expect_ok(m, VF_EDIT_ADD, "acl", spec, false, with);
    snprintf(spec, sizeof(spec), "{\"acl\": %s}", acl);
    expect_ok(m, VF_EDIT_ADD, "acl", spec, false, with);
    snprintf(spec, sizeof(spec), "{\"tenant\": \"red\", \"acl\": %s}", acl);
    expect_fail(m, VF_EDIT_ADD, "acl", spec, false, -EINVAL,
                "tenants[1] (red) acls[0]", "field 'switch'", NULL);
    expect_fail(m, VF_EDIT_ADD, "acl",
                "{\"acl\": {\"switch\": \"blue-db\", \"direction\": \"to-port\", "
                "\"priority\": 10, \"action\": \"drop\", \"match\": {\"dst_port\": 22}}}",
                false, -EINVAL, "tenants[0] (blue) acls[2]", "field 'match.dst_port'",
                NULL);
    expect_fail(m, VF_EDIT_ADD, "acl",
                "{\"acl\": {\"switch\": \"blue-db\", \"port\": \"vm1\", \"direction\": "
                "\"to-port\", \"priority\": 10, \"action\": \"drop\"}}",
                false, -EINVAL, "acls[2]", "field 'port'", NULL);
    expect_fail(m, VF_EDIT_ADD, "acl",
                "{\"acl\": {\"switch\": \"blue-db\", \"direction\": \"sideways\", "
                "\"priority\": 10, \"action\": \"drop\"}}",
                false, -EINVAL, "acls[2]", "field 'direction'", NULL);
    expect_fail(m, VF_EDIT_ADD, "acl", "{\"acl\": {\"priority\": 1}}", false,
                -EINVAL, "missing field 'tenant'", NULL);

    expect_ok(m, VF_EDIT_DEL, "acl", "{\"switch\": \"blue-web\", \"priority\": 100}",
              false, no0);
    expect_ok(m, VF_EDIT_DEL, "acl", "{\"tenant\": \"blue\", \"index\": 1}",
              false, no1);
    /* Given fields are compared in normal form: 10.0.0.1 is 10.0.0.1/32. */
    expect_ok(m, VF_EDIT_DEL, "acl",
              "{\"switch\": \"blue-web\", \"priority\": 50, \"port\": \"vm1\", "
              "\"match\": {\"src_ip\": \"10.0.0.1/32\"}}", false, no1);
    expect_ok(m, VF_EDIT_DEL, "acl",
              "{\"switch\": \"blue-web\", \"priority\": 100, \"match\": "
              "{\"proto\": \"tcp\", \"dst_port\": \"22-22\"}}", false, no0);
    expect_fail(m, VF_EDIT_DEL, "acl",
                "{\"switch\": \"blue-web\", \"priority\": 100, \"action\": \"allow\"}",
                false, -ENOENT, "no ACL matches", NULL);
    expect_fail(m, VF_EDIT_DEL, "acl",
                "{\"switch\": \"blue-web\", \"priority\": 100, \"match\": {}}",
                false, -ENOENT, "no ACL matches", NULL);
    expect_fail(m, VF_EDIT_DEL, "acl",
                "{\"switch\": \"blue-web\", \"priority\": 100, \"match\": "
                "{\"dst_port\": \"x\"}}", false, -EINVAL, "field 'match.dst_port'",
                NULL);
    expect_fail(m, VF_EDIT_DEL, "acl", "{\"tenant\": \"blue\", \"index\": 2}",
                false, -ENOENT, "field 'index'", NULL);
    expect_fail(m, VF_EDIT_DEL, "acl", "{\"tenant\": \"blue\"}",
                false, -EINVAL, "missing field 'switch'", NULL);
    expect_fail(m, VF_EDIT_DEL, "acl", "{\"switch\": \"blue-web\"}",
                false, -EINVAL, "missing field 'priority'", NULL);
    /* Two ACLs alike but for the action: priority alone is ambiguous. */
    {
        struct vf_model two;
        char *dup = yaml_edit(BASE, "priority: 50",
            "      - {switch: blue-web, direction: to-port, priority: 100, action: allow}\n");
        load(dup, &two);
        expect_fail(&two, VF_EDIT_DEL, "acl",
                    "{\"switch\": \"blue-web\", \"priority\": 100}", false, -EINVAL,
                    "2 ACLs match", NULL);
        expect_ok(&two, VF_EDIT_DEL, "acl",
                  "{\"switch\": \"blue-web\", \"priority\": 100, \"action\": \"allow\"}",
                  false, BASE);
        vf_model_free(&two);
        free(dup);
    }
    free(with);
    free(no0);
    free(no1);
}

/* Port groups and address sets: add, list, delete; what uses them (ACLs,
 * group membership) refuses a delete or goes with --cascade. */
static void test_secgroup_kinds(void **state)
{
    const struct vf_model *m = *state;
    const char *grp = "    port_groups:\n      - {name: sg, ports: [vm1, db1]}\n";
    const char *set = "    address_sets:\n      - {name: adm, addresses: [10.0.0.0/24, \"fd00::/64\"]}\n";
    const char *acl = "      - {port_group: sg, direction: to-port, priority: 7, "
                      "action: allow-related, match: {src_ip: $adm}}\n";
    char *g = yaml_edit(BASE, "priority: 50", grp);
    char *gs = yaml_edit(g, "name: sg", set);
    char *gsa = yaml_edit(gs, "priority: 50", acl);
    struct vf_model mg, mgs, mgsa;

    expect_ok(m, VF_EDIT_ADD, "port-group",
              "{\"tenant\": \"blue\", \"port-group\": {\"name\": \"sg\", "
              "\"ports\": [\"vm1\", \"db1\"]}}", false, g);
    expect_fail(m, VF_EDIT_ADD, "port-group",
                "{\"tenant\": \"blue\", \"port-group\": {\"name\": \"sg\", "
                "\"ports\": [\"red1\"]}}", false, -EINVAL,
                "tenants[0] (blue) port_groups[0] (sg)", "field 'ports'",
                "\"red1\" is not a port", NULL);
    load(g, &mg);
    expect_ok(&mg, VF_EDIT_ADD, "address-set",
              "{\"tenant\": \"blue\", \"address-set\": {\"name\": \"adm\", "
              "\"addresses\": [\"10.0.0.0/24\", \"fd00::/64\"]}}", false, gs);
    expect_fail(&mg, VF_EDIT_ADD, "address-set",
                "{\"tenant\": \"blue\", \"address-set\": {\"name\": \"adm\", "
                "\"addresses\": [\"10.0.0.1/24\"]}}", false, -EINVAL,
                "address_sets[0] (adm)", "field 'addresses'",
                "host bits", NULL);
    load(gs, &mgs);
    expect_ok(&mgs, VF_EDIT_ADD, "acl",
              "{\"tenant\": \"blue\", \"acl\": {\"port_group\": \"sg\", "
              "\"direction\": \"to-port\", \"priority\": 7, \"action\": "
              "\"allow-related\", \"match\": {\"src_ip\": \"$adm\"}}}", false, gsa);
    expect_fail(&mgs, VF_EDIT_ADD, "acl",
                "{\"tenant\": \"blue\", \"acl\": {\"port_group\": \"sg\", "
                "\"direction\": \"to-port\", \"priority\": 7, \"action\": "
                "\"allow-related\", \"match\": {\"src_ip\": \"$nope\"}}}",
                false, -EINVAL, "acls[2]", "field 'match.src_ip'",
                "\"$nope\" is not an address set", NULL);
    load(gsa, &mgsa);

    /* list */
    json_t *l = vf_model_list(&mgsa, "port-group");
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(json_array_get(l, 0), "port-group"), "name")), "sg");
    json_decref(l);
    l = vf_model_list(&mgsa, "address-set");
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);

    /* used by an ACL: refused, or the ACL goes too */
    expect_fail(&mgsa, VF_EDIT_DEL, "address-set", "{\"name\": \"adm\"}", false,
                -EINVAL, "address-set 'adm' still has ACLs acls[2]", NULL);
    expect_fail(&mgsa, VF_EDIT_DEL, "port-group", "{\"name\": \"sg\"}", false,
                -EINVAL, "port-group 'sg' still has ACLs acls[2]", NULL);
    expect_ok(&mgsa, VF_EDIT_DEL, "address-set", "{\"name\": \"adm\"}", true, g);
    expect_ok(&mgs, VF_EDIT_DEL, "address-set", "{\"name\": \"adm\"}", false, g);
    expect_fail(&mgs, VF_EDIT_DEL, "address-set", "{\"name\": \"nope\"}",
                false, -ENOENT, "\"nope\" is not an address set", NULL);

    /* a member port: refused, or it leaves the group */
    expect_fail(&mg, VF_EDIT_DEL, "port", "{\"name\": \"db1\"}", false, -EINVAL,
                "membership in port groups sg", NULL);
    {
        char *nodb = yaml_drop(g, "name: db1");
        char *want = malloc(strlen(nodb) + 1);
        const char *at = strstr(nodb, "[vm1, db1]");
        assert_non_null(at);
        memcpy(want, nodb, (size_t)(at - nodb));
        strcpy(want + (at - nodb), "[vm1]");
        strcat(want, at + strlen("[vm1, db1]"));
        expect_ok(&mg, VF_EDIT_DEL, "port", "{\"name\": \"db1\"}", true, want);
        free(nodb);
        free(want);
    }
    vf_model_free(&mg);
    vf_model_free(&mgs);
    vf_model_free(&mgsa);
    free(g);
    free(gs);
    free(gsa);
}

static void test_bad_calls(void **state)
{
    const struct vf_model *m = *state;
    struct vf_model out;
    char err[256];

    expect_fail(m, VF_EDIT_ADD, "vlan", "{}", false, -EINVAL,
                "unknown kind", "router-port", NULL);
    expect_fail(m, VF_EDIT_ADD, "port", "[1]", false, -EINVAL,
                "not a JSON object", NULL);
    expect_fail(m, VF_EDIT_DEL, "switch", "{\"name\": \"blue-empty\", \"x\": 1}",
                false, -EINVAL, "unknown field 'x'", NULL);
    assert_int_equal(vf_model_edit(m, VF_EDIT_ADD, NULL, NULL, false, &out, err,
                                   sizeof(err)), -EINVAL);
    assert_true(model_is_empty(&out));
    /* A tiny error buffer is never overrun, and NULL err is allowed. */
    assert_int_equal(vf_model_edit(m, VF_EDIT_ADD, "x", NULL, false, &out, err,
                                   4), -EINVAL);
    assert_int_equal(strlen(err), 3);
    assert_int_equal(vf_model_edit(m, VF_EDIT_ADD, "x", NULL, false, &out, NULL,
                                   0), -EINVAL);
}

/* Many edits in a row, each from the last result: the model stays
 * loadable and no existing id moves (ids are functions of names). */
static void test_edit_chain(void **state)
{
    struct vf_model cur, next;
    char err[1024], spec[256];

    (void)state;
    load(BASE, &cur);
    uint32_t red_id = cur.tenants[1].switches[0].ports[0].id;
    uint32_t rport_id = cur.tenants[0].routers[0].ports[0].id;
    for (int i = 0; i < 40; i++) {
        json_t *j;
        snprintf(spec, sizeof(spec), "{\"switch\": \"blue-empty\", \"port\": "
                 "{\"name\": \"e%d\", \"mac\": \"02:00:00:00:03:%02x\", "
                 "\"chassis\": \"hv%d\"}}", i, i + 1, 1 + i % 2);
        j = js(spec);
        assert_int_equal(vf_model_edit(&cur, VF_EDIT_ADD, "port", j, false,
                                       &next, err, sizeof(err)), 0);
        json_decref(j);
        vf_model_free(&cur);
        cur = next;
    }
    assert_int_equal(cur.tenants[0].switches[2].n_ports, 40);
    /* 40 ports later, ports that were there keep their ids. */
    assert_int_equal(cur.tenants[1].switches[0].ports[0].id, red_id);
    assert_int_equal(cur.tenants[0].routers[0].ports[0].id, rport_id);
    assert_true(cur.tenants[0].switches[2].ports[39].id != 0);
    {
        json_t *j = js("{\"name\": \"blue-empty\"}");
        assert_int_equal(vf_model_edit(&cur, VF_EDIT_DEL, "switch", j, true,
                                       &next, err, sizeof(err)), 0);
        json_decref(j);
        vf_model_free(&cur);
        cur = next;
    }
    {
        struct vf_model want;
        char *t = yaml_drop(BASE, "name: blue-empty"), *t2 = yaml_drop(t, "vni: 1003");
        load(t2, &want);
        assert_models_equal(&cur, &want);
        vf_model_free(&want);
        free(t);
        free(t2);
    }
    vf_model_free(&cur);
}

static void test_list(void **state)
{
    const struct vf_model *m = *state;
    json_t *l;

    assert_null(vf_model_list(m, "vlan"));
    l = vf_model_list(m, "port");
    assert_int_equal(json_array_size(l), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 3),
                                                          "switch")), "red-web");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 3),
                                                          "tenant")), "red");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 3), "id")),
                     m->tenants[1].switches[0].ports[0].id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_array_get(l, 0), "port"), "mac")), "02:00:00:00:01:01");
    json_decref(l);
    l = vf_model_list(m, "switch");
    assert_int_equal(json_array_size(l), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "ports")), 2);
    assert_null(json_object_get(json_object_get(json_array_get(l, 0), "switch"), "ports"));
    json_decref(l);
    l = vf_model_list(m, "tenant");
    assert_int_equal(json_array_size(l), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "acls")), 2);
    json_decref(l);
    l = vf_model_list(m, "chassis");
    assert_int_equal(json_array_size(l), 2);
    json_decref(l);
    l = vf_model_list(m, "router");
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    l = vf_model_list(m, "router-port");
    assert_int_equal(json_array_size(l), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "id")),
                     m->tenants[0].routers[0].ports[1].id);
    json_decref(l);
    l = vf_model_list(m, "route");
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    l = vf_model_list(m, "acl");
    assert_int_equal(json_array_size(l), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "index")), 1);
    json_decref(l);
    /* A listed item, less its facts, is an add spec: add it back elsewhere
     * after deleting it. */
    {
        struct vf_model mid, back;
        char err[1024];
        json_t *del = js("{\"name\": \"red1\"}"), *item;
        l = vf_model_list(m, "port");
        item = json_deep_copy(json_array_get(l, 3));
        json_object_del(item, "id");
        assert_int_equal(vf_model_edit(m, VF_EDIT_DEL, "port", del, false, &mid,
                                       err, sizeof(err)), 0);
        assert_int_equal(vf_model_edit(&mid, VF_EDIT_ADD, "port", item, false,
                                       &back, err, sizeof(err)), 0);
        assert_models_equal(&back, m);
        vf_model_free(&mid);
        vf_model_free(&back);
        json_decref(item);
        json_decref(del);
        json_decref(l);
    }
}

/* ---- diff ---- */

static json_t *diff_of(const char *ya, const char *yb)
{
    struct vf_model a, b;
    json_t *d;
    load(ya, &a);
    load(yb, &b);
    d = vf_model_diff(&a, &b);
    assert_non_null(d);
    vf_model_free(&a);
    vf_model_free(&b);
    return d;
}

/* The diff's items as "kind:name" strings joined by spaces, per list. */
static void diff_names(json_t *d, const char *list, char *buf, size_t len)
{
    json_t *it;
    size_t i;

    buf[0] = '\0';
    json_array_foreach(json_object_get(d, list), i, it) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s:%s", i ? " " : "",
                 json_string_value(json_object_get(it, "kind")),
                 json_string_value(json_object_get(it, "name")));
    }
}

static void expect_diff(const char *ya, const char *yb, const char *added,
                        const char *removed, const char *changed)
{
    json_t *d = diff_of(ya, yb);
    char buf[1024];

    diff_names(d, "added", buf, sizeof(buf));
    assert_string_equal(buf, added);
    diff_names(d, "removed", buf, sizeof(buf));
    assert_string_equal(buf, removed);
    diff_names(d, "changed", buf, sizeof(buf));
    assert_string_equal(buf, changed);
    json_decref(d);
}

static void test_diff(void **state)
{
    char *t, *t2;
    json_t *d, *c;

    (void)state;
    expect_diff(BASE, BASE, "", "", "");
    t = yaml_edit(BASE, "name: db1,",
        "          - {name: db2, mac: \"02:00:00:00:02:02\", ips: [10.0.1.2], chassis: hv2}\n");
    expect_diff(BASE, t, "port:db2", "", "");
    expect_diff(t, BASE, "", "port:db2", "");
    free(t);
    /* The cascade delete of blue-web, as the edit makes it. */
    t = yaml_cut(BASE, "      - name: blue-web", "      - name: blue-db");
    t2 = yaml_drop(t, "name: blue-r-web,");
    free(t);
    t = yaml_drop(t2, "priority: 100");
    free(t2);
    t2 = yaml_drop(t, "priority: 50");
    expect_diff(BASE, t2, "", "switch:blue-web port:vm1 port:vm2 "
                "router-port:blue-r-web acl:blue acls[0] acl:blue acls[1]", "");
    free(t);
    free(t2);
    /* A changed field, with from and to. */
    t = yaml_edit(BASE, "name: blue-empty", "        vni: 1004\n");
    t2 = yaml_drop(t, "vni: 1003");
    d = diff_of(BASE, t2);
    assert_int_equal(vf_model_diff_count(d), 1);
    c = json_array_get(json_object_get(d, "changed"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "blue-empty");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "fields"), 0)),
                        "vni");
    assert_int_equal(json_array_size(json_object_get(c, "fields")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "from"), "vni")),
                     1003);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "to"), "vni")),
                     1004);
    json_decref(d);
    free(t);
    free(t2);
    /* A port moved between switches is a change of its "switch". */
    t = yaml_drop(BASE, "name: vm2,");
    t2 = yaml_edit(t, "name: db1,",
        "          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2], chassis: hv2}\n");
    expect_diff(BASE, t2, "", "", "port:vm2");
    free(t);
    free(t2);
    /* Edited ACL: one removed, one added; route nexthop: changed; local. */
    t = yaml_edit(BASE, "priority: 100", "      - {switch: blue-web, direction: to-port, "
                  "priority: 101, action: drop, match: {proto: tcp, dst_port: 22}}\n");
    t2 = yaml_drop(t, "priority: 100");
    expect_diff(BASE, t2, "acl:blue acls[0]", "acl:blue acls[0]", "");
    free(t);
    free(t2);
    t = yaml_edit(BASE, "prefix: 10.9.0.0/16", "          - {prefix: 10.9.0.0/16, nexthop: 10.0.0.9}\n");
    t2 = yaml_drop(t, "nexthop: 10.0.1.1");
    expect_diff(BASE, t2, "", "", "route:blue-r 10.9.0.0/16");
    free(t);
    free(t2);
    t = yaml_edit(BASE, "  chassis: hv1", "  workers: 2\n");
    expect_diff(BASE, t, "", "", "local:local");
    free(t);
    t = yaml_drop(BASE, "  - name: green");
    expect_diff(BASE, t, "", "tenant:green", "");
    free(t);
}

static void expect_switches(const char *ya, const char *yb, const char *want)
{
    struct vf_model a, b;
    bool changed[16];
    char buf[256] = "";
    size_t g = 0;
    int n, count = 0;

    load(ya, &a);
    load(yb, &b);
    n = vf_model_changed_switches(&a, &b, changed, 3);
    assert_int_equal(n, -EINVAL);
    for (size_t t = 0; t < b.n_tenants; t++)
        g += b.tenants[t].n_switches;
    n = vf_model_changed_switches(&a, &b, changed, g);
    assert_true(n >= 0);
    g = 0;
    for (size_t t = 0; t < b.n_tenants; t++)
        for (size_t s = 0; s < b.tenants[t].n_switches; s++, g++)
            if (changed[g]) {
                size_t used = strlen(buf);
                snprintf(buf + used, sizeof(buf) - used, "%s%s", count++ ? " " : "",
                         b.tenants[t].switches[s].name);
            }
    assert_int_equal(n, count);
    assert_string_equal(buf, want);
    vf_model_free(&a);
    vf_model_free(&b);
}

static void test_changed_switches(void **state)
{
    char *t, *t2;

    (void)state;
    expect_switches(BASE, BASE, "");
    t = yaml_edit(BASE, "name: blue-empty", "        vni: 1004\n");
    t2 = yaml_drop(t, "vni: 1003");
    expect_switches(BASE, t2, "blue-empty");
    free(t);
    free(t2);
    /* A port on red-web changes red-web only: ids are name hashes, so no
     * other port or router port is renumbered. */
    t = yaml_edit(BASE, "name: red1,",
        "          - {name: red2, mac: \"02:00:00:00:01:02\", chassis: hv1}\n");
    expect_switches(BASE, t, "red-web");
    free(t);
    /* A new ACL on blue-db reaches blue-web through the router. */
    t = yaml_edit(BASE, "priority: 50",
        "      - {switch: blue-db, direction: to-port, priority: 10, action: drop}\n");
    expect_switches(BASE, t, "blue-web blue-db");
    free(t);
    /* hv2 moves: switches with ports there, and blue-db through blue-r. */
    t = yaml_edit(BASE, "name: hv2,", "  - {name: hv2, underlay_ip: 192.0.2.22, encap: vxlan}\n");
    t2 = yaml_drop(t, "192.0.2.2,");
    expect_switches(BASE, t2, "blue-web blue-db red-web");
    free(t);
    free(t2);
    t = yaml_edit(BASE, "  chassis: hv1", "  workers: 2\n");
    expect_switches(BASE, t, "blue-web blue-db blue-empty red-web");
    free(t);
    /* A new switch is changed; the rest are not. */
    t = yaml_edit(BASE, "  - name: green", "    switches: [{name: g, vni: 5}]\n");
    expect_switches(BASE, t, "g");
    free(t);
}

/* ---- the RPC handlers over a running daemon ---- */

static const char RPC_BASE[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: web\n"
"        vni: 100\n"
"        ports:\n"
"          - {name: a, mac: \"02:00:00:00:00:0a\", ips: [10.0.0.10], chassis: hv1}\n"
"          - {name: r, mac: \"02:00:00:00:00:0b\", ips: [10.0.0.11], chassis: hv2}\n"
"local: {chassis: hv1, workers: 1, uplink: {type: ring}}\n";

static struct vf_daemon D;
static char rpc_dir[64];

static int rpc_setup(void **state)
{
    struct vf_model m;
    struct vf_daemon_opts o = { .pool_bufs = 1024, .ring_size = 256,
                                .flow_cache_entries = 1024, .idle_polls = 64 };
    char err[512];

    (void)state;
    snprintf(rpc_dir, sizeof(rpc_dir), "/tmp/vf-rpc-XXXXXX");
    if (!mkdtemp(rpc_dir))
        return -1;
    load(RPC_BASE, &m);
    memset(&D, 0, sizeof(D));
    if (vf_daemon_start(&D, &m, &o, err, sizeof(err))) {
        print_error("daemon: %s\n", err);
        return -1;
    }
    return vf_daemon_set_state_dir(&D, rpc_dir);
}

static int rpc_teardown(void **state)
{
    char p[128];

    (void)state;
    vf_daemon_stop(&D);
    snprintf(p, sizeof(p), "%s/%s", rpc_dir, VF_STATE_FILE);
    unlink(p);
    rmdir(rpc_dir);
    return 0;
}

static json_t *call(json_t *(*fn)(void *, json_t *, struct vf_rpc_error *),
                    const char *params, struct vf_rpc_error *e)
{
    json_t *p = js(params), *r;
    *e = (struct vf_rpc_error){ VF_RPC_INTERNAL_ERROR, "internal error" };
    r = fn(&D, p, e);
    json_decref(p);
    return r;
}

/* The saved state equals the daemon's model. */
static void assert_saved(void)
{
    struct vf_model m;
    char err[512];
    if (vf_state_load(rpc_dir, &m, err, sizeof(err)))
        fail_msg("saved state: %s", err);
    assert_models_equal(&m, &D.model);
    vf_model_free(&m);
}

static void test_rpc(void **state)
{
    struct vf_rpc_error e;
    json_t *r;
    char *before;
    uint64_t gen = D.generation;

    (void)state;
    /* add: applied, saved, diff says what. */
    r = call(vf_rpc_add, "{\"kind\": \"port\", \"spec\": {\"switch\": \"web\", "
             "\"port\": {\"name\": \"c\", \"mac\": \"02:00:00:00:00:0c\", "
             "\"ips\": [\"10.0.0.12\"], \"chassis\": \"hv1\"}}}", &e);
    if (!r)
        fail_msg("add: %s", e.message);
    assert_true(json_is_true(json_object_get(r, "applied")));
    assert_true(json_is_true(json_object_get(r, "persisted")));
    assert_int_equal(json_integer_value(json_object_get(r, "generation")), gen + 1);
    assert_int_equal(vf_model_diff_count(json_object_get(r, "diff")), 1);
    json_decref(r);
    assert_non_null(vf_daemon_find_port(&D, "c"));
    assert_saved();

    /* Refused: nothing changes, in memory or on disk. */
    before = dump(&D.model);
    r = call(vf_rpc_add, "{\"kind\": \"port\", \"spec\": {\"switch\": \"web\", "
             "\"port\": {\"name\": \"d\", \"mac\": \"02:00:zz\", \"chassis\": "
             "\"hv1\"}}}", &e);
    assert_null(r);
    assert_int_equal(e.code, VF_RPC_REFUSED);
    assert_non_null(strstr(e.message, "(d): field 'mac'"));
    r = call(vf_rpc_del, "{\"kind\": \"switch\", \"spec\": {\"name\": \"web\"}}", &e);
    assert_null(r);
    assert_non_null(strstr(e.message, "cascade"));
    r = call(vf_rpc_add, "{\"kind\": \"port\"}", &e);
    assert_null(r);
    assert_int_equal(e.code, VF_RPC_INVALID_PARAMS);
    {
        char *after = dump(&D.model);
        assert_string_equal(before, after);
        free(after);
    }
    assert_int_equal(D.generation, gen + 1);
    assert_saved();

    /* Dry run: the diff, nothing applied. */
    r = call(vf_rpc_del, "{\"kind\": \"switch\", \"spec\": {\"name\": \"web\"}, "
             "\"cascade\": true, \"dry_run\": true}", &e);
    if (!r)
        fail_msg("dry run: %s", e.message);
    assert_false(json_is_true(json_object_get(r, "applied")));
    assert_int_equal(vf_model_diff_count(json_object_get(r, "diff")), 4);
    json_decref(r);
    assert_int_equal(D.generation, gen + 1);
    assert_non_null(vf_daemon_find_port(&D, "c"));

    /* apply: a file without local keeps this host's; errors name the file. */
    r = call(vf_rpc_apply, "{\"yaml\": \"chassis: [{name: hv1, underlay_ip: "
             "192.0.2.1}]\\ntenants:\\n  - name: blue\\n    switches: [{name: "
             "web, vni: 100, ports: [{name: a, mac: '02:00:00:00:00:0a', ips: "
             "[10.0.0.10], chassis: hv1}]}]\\n\", \"name\": \"x.yaml\"}", &e);
    if (!r)
        fail_msg("apply: %s", e.message);
    assert_true(json_is_true(json_object_get(r, "applied")));
    assert_string_equal(D.model.local.chassis, "hv1");
    assert_int_equal(D.model.n_chassis, 1);
    assert_null(vf_daemon_find_port(&D, "c"));
    json_decref(r);
    assert_saved();
    r = call(vf_rpc_apply, "{\"yaml\": \"chassis: [{name: hv1}]\\n\", \"name\": "
             "\"x.yaml\"}", &e);
    assert_null(r);
    assert_non_null(strstr(e.message, "x.yaml:1: chassis[0] (hv1): missing field "
                           "'underlay_ip'"));
    /* The same model again: no change, no new generation. */
    gen = D.generation;
    r = call(vf_rpc_apply, "{\"yaml\": \"chassis: [{name: hv1, underlay_ip: "
             "192.0.2.1}]\\ntenants:\\n  - name: blue\\n    switches: [{name: "
             "web, vni: 100, ports: [{name: a, mac: '02:00:00:00:00:0a', ips: "
             "[10.0.0.10], chassis: hv1}]}]\\n\"}", &e);
    assert_non_null(r);
    assert_false(json_is_true(json_object_get(r, "applied")));
    json_decref(r);
    assert_int_equal(D.generation, gen);

    /* list */
    r = call(vf_rpc_list, "{\"kind\": \"port\"}", &e);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    assert_null(call(vf_rpc_list, "{\"kind\": \"vlan\"}", &e));
    assert_int_equal(e.code, VF_RPC_INVALID_PARAMS);
    free(before);
}

/* When the state cannot be saved the change is refused before any worker
 * sees it (redteam #16: it used to be published, then undone). */
static void test_rpc_save_fails(void **state)
{
    struct vf_rpc_error e;
    json_t *r;
    char *before = dump(&D.model), *after, bad[96];
    uint64_t gen = D.generation, pub = D.pub.n_published;

    (void)state;
    snprintf(bad, sizeof(bad), "%s/missing", rpc_dir);
    assert_int_equal(vf_daemon_set_state_dir(&D, bad), 0);
    r = call(vf_rpc_add, "{\"kind\": \"port\", \"spec\": {\"switch\": \"web\", "
             "\"port\": {\"name\": \"c\", \"mac\": \"02:00:00:00:00:0c\", "
             "\"chassis\": \"hv1\"}}}", &e);
    assert_null(r);
    assert_non_null(strstr(e.message, "could not be saved"));
    assert_non_null(strstr(e.message, "nothing was applied"));
    after = dump(&D.model);
    assert_string_equal(before, after);
    assert_null(vf_daemon_find_port(&D, "c"));
    /* Never published: no new generation, the old model in force, and no
     * worker ever ran the unsaved tables. */
    assert_int_equal(D.generation, gen);
    assert_int_equal(D.pub.n_published, pub);
    for (unsigned w = 0; w < D.n_workers; w++)
        assert_true(atomic_load(&D.workers[w].stats.generation) <= gen);
    free(before);
    free(after);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_json_roundtrip),
    cmocka_unit_test_setup_teardown(test_chassis, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tenant, setup, teardown),
    cmocka_unit_test_setup_teardown(test_switch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_port, setup, teardown),
    cmocka_unit_test_setup_teardown(test_port_identity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_router, setup, teardown),
    cmocka_unit_test_setup_teardown(test_router_port, setup, teardown),
    cmocka_unit_test_setup_teardown(test_route, setup, teardown),
    cmocka_unit_test_setup_teardown(test_acl, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secgroup_kinds, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_calls, setup, teardown),
    cmocka_unit_test(test_edit_chain),
    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
    cmocka_unit_test(test_diff),
    cmocka_unit_test(test_changed_switches),
    cmocka_unit_test_setup_teardown(test_rpc, rpc_setup, rpc_teardown),
    cmocka_unit_test_setup_teardown(test_rpc_save_fails, rpc_setup, rpc_teardown),
};

int main(void)
{
    return cmocka_run_group_tests(tests, NULL, NULL);
}
