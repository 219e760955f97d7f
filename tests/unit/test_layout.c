/* test_layout.c - the store layout (mgmt/layout/vf_layout.h) without etcd.
 *
 * Oracles: a model stored and read back is the same model (vf_model_diff
 * finds nothing) and the same keys; applying a diff to its source set
 * gives its target; every part of a plan loads as a valid model; a port
 * applied in place gives the model a load from the keys gives; a host's
 * subset compiles to the same switches, ports and ACL counts as the whole
 * fabric does for that host. Every refusal names the key and the field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/vf_test_layout.h"

static const char BASE[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}\n"
"  - {name: hv3, underlay_ip: 192.0.2.3, port: 7000}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: blue-web\n"
"        vni: 1001\n"
"        ports:\n"
"          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1, \"2001:db8::1\"], chassis: hv1, port_security: true}\n"
"          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2], chassis: hv2, attach: {type: tap, name: tap2}}\n"
"      - name: blue/db\n"
"        vni: 1002\n"
"        ports:\n"
"          - {name: db/1, mac: \"02:00:00:00:02:01\", ips: [10.0.1.1], chassis: hv2}\n"
"      - name: blue-lone\n"
"        vni: 1003\n"
"        ports:\n"
"          - {name: lone1, mac: \"02:00:00:00:03:01\", ips: [10.0.3.1], chassis: hv3}\n"
"    routers:\n"
"      - name: blue-r\n"
"        ports:\n"
"          - {name: blue-r-web, switch: blue-web, mac: \"02:00:00:00:ff:01\", cidr: 10.0.0.254/24}\n"
"          - {name: blue-r-db, switch: blue/db, mac: \"02:00:00:00:ff:02\", cidr: 10.0.1.254/24}\n"
"        routes:\n"
"          - {prefix: 10.9.0.0/16, nexthop: 10.0.1.1}\n"
"          - {prefix: 0.0.0.0/0, nexthop: 10.0.0.2}\n"
"    acls:\n"
"      - {switch: blue-web, direction: to-port, priority: 100, action: drop, match: {proto: tcp, dst_port: 22}}\n"
"      - {switch: blue-web, direction: to-port, priority: 100, action: allow, match: {proto: udp, dst_port: 53}}\n"
"      - {switch: blue-web, port: vm1, direction: from-port, priority: 50, action: allow, match: {src_ip: 10.0.0.1}}\n"
"      - {switch: blue/db, direction: to-port, priority: 10, action: drop}\n"
"  - name: red\n"
"    switches:\n"
"      - name: red-web\n"
"        vni: 2001\n"
"        ports:\n"
"          - {name: red1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv2}\n"
"  - name: green\n";

static void base_keys(struct vf_layout_kvs *s)
{
    struct vf_model m;
    tl_load(BASE, &m);
    tl_to_keys(&m, s);
    vf_model_free(&m);
}

static const char *value_of(const struct vf_layout_kvs *s, const char *key)
{
    const struct vf_layout_kv *kv = vf_layout_kvs_find(s, key);
    if (!kv)
        fail_msg("no key %s", key);
    return kv->value;
}

/* ---- keys ---- */

static void test_keys(void **state)
{
    (void)state;
    struct vf_layout_key k;
    char buf[VF_LAYOUT_KEY_MAX], err[256];

    assert_int_equal(vf_layout_key_make(VF_LK_PORT, "blue/db", "db/1", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "port/blue%2Fdb/db%2F1");
    assert_int_equal(vf_layout_key_parse(buf, &k, err, sizeof(err)), 0);
    assert_int_equal(k.kind, VF_LK_PORT);
    assert_string_equal(k.parent, "blue/db");
    assert_string_equal(k.name, "db/1");
    assert_int_equal(vf_layout_key_make(VF_LK_ROUTE, "r", "10.0.0.0/8", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "route/r/10.0.0.0/8");
    assert_int_equal(vf_layout_key_parse(buf, &k, err, sizeof(err)), 0);
    assert_string_equal(k.name, "10.0.0.0/8");
    assert_int_equal(vf_layout_key_parse("switch/a%2f", &k, err, sizeof(err)), -EINVAL);
    assert_int_equal(vf_layout_key_parse("switch/a%2", &k, err, sizeof(err)), -EINVAL);
    assert_int_equal(vf_layout_key_parse("widget/x", &k, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "widget/x: not a key of the layout"));
    assert_int_equal(vf_layout_key_parse("port/only", &k, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "want port/SWITCH/NAME"));
    assert_int_equal(vf_layout_key_parse("switch/", &k, err, sizeof(err)), -EINVAL);
}

/* ---- round trip ---- */

static void test_roundtrip(void **state)
{
    (void)state;
    struct vf_model m, back;
    struct vf_layout_kvs s, again;
    char err[1024];

    tl_load(BASE, &m);
    tl_to_keys(&m, &s);
    /* The values are show's JSON plus the parent. */
    assert_string_equal(value_of(&s, "switch/blue%2Fdb"),
                        "{\"name\":\"blue/db\",\"tenant\":\"blue\",\"vni\":1002}");
    assert_string_equal(value_of(&s, "route/blue-r/0.0.0.0/0"),
                        "{\"nexthop\":\"10.0.0.2\",\"prefix\":\"0.0.0.0/0\",\"router\":\"blue-r\"}");
    assert_string_equal(value_of(&s, "chassis-switch/hv2/blue%2Fdb"),
                        "{\"chassis\":\"hv2\",\"switch\":\"blue/db\"}");
    assert_non_null(vf_layout_kvs_find(&s, "tenant/green"));
    assert_non_null(strstr(value_of(&s, "port/blue-web/vm2"), "\"switch\":\"blue-web\""));
    /* 3 chassis, 3 tenants, 4 switches, 5 ports, 1 router, 2 router ports,
     * 2 routes, 4 ACLs, 5 index keys (hv1/web, hv2/web, hv2/db, hv3/lone,
     * hv2/red-web). */
    assert_int_equal(s.n, 3 + 3 + 4 + 5 + 1 + 2 + 2 + 4 + 5);
    assert_int_equal(vf_layout_to_model(&s, 0, "/vfab/desired/", &back, err, sizeof(err)), 0);
    tl_assert_same_model(&m, &back);
    tl_to_keys(&back, &again);
    assert_true(vf_layout_kvs_equal(&s, &again));
    vf_model_free(&m);
    vf_model_free(&back);
    vf_layout_kvs_free(&s);
    vf_layout_kvs_free(&again);
}

/* ---- what the store cannot hold ---- */

static void expect_refused(const char *yaml_tail, const char *want)
{
    char *y = malloc(strlen(BASE) + strlen(yaml_tail) + 1), err[1024];
    struct vf_model m;
    struct vf_layout_kvs s;
    strcpy(y, BASE);
    /* Insert the extra ACL or route lines after blue's first ACL. */
    char *at = strstr(y, "    acls:\n") + strlen("    acls:\n");
    memmove(at + strlen(yaml_tail), at, strlen(at) + 1);
    memcpy(at, yaml_tail, strlen(yaml_tail));
    tl_load(y, &m);
    assert_int_equal(vf_layout_from_model(&m, &s, err, sizeof(err)), -EINVAL);
    if (!strstr(err, want))
        fail_msg("'%s' not in: %s", want, err);
    assert_int_equal(s.n, 0);
    vf_model_free(&m);
    free(y);
}

static void test_refusals(void **state)
{
    (void)state;
    /* Same switch, direction and priority, overlapping, different action. */
    expect_refused("      - {switch: blue-web, direction: to-port, priority: 100, action: allow,"
                   " match: {src_ip: 10.0.0.0/8}}\n",
                   "tenant blue: acls[0] and acls[1] (switch blue-web, to-port, priority "
                   "100) can match the same packet");
    /* Identical to an existing one. */
    expect_refused("      - {switch: blue/db, direction: to-port, priority: 10, action: drop}\n",
                   "two ACLs of switch blue/db are identical");
    /* Not refused: same priority but disjoint (udp 53 and tcp 22 above),
     * other direction, or the same action. */
    struct vf_model m;
    struct vf_layout_kvs s;
    char *y = strdup(BASE), err[1024];
    tl_load(y, &m);
    assert_int_equal(vf_layout_from_model(&m, &s, err, sizeof(err)), 0);
    vf_layout_kvs_free(&s);
    vf_model_free(&m);
    free(y);
}

static void test_route_refusal(void **state)
{
    (void)state;
    const char *at = "          - {prefix: 0.0.0.0/0, nexthop: 10.0.0.2}\n";
    char *y = malloc(strlen(BASE) + 128), err[1024];
    const char *p = strstr(BASE, at) + strlen(at);
    struct vf_model m;
    struct vf_layout_kvs s;
    size_t head = (size_t)(p - BASE);
    memcpy(y, BASE, head);
    strcpy(y + head, "          - {prefix: 10.9.0.0/16, nexthop: 10.0.0.2}\n");
    strcat(y, p);
    tl_load(y, &m);
    assert_int_equal(vf_layout_from_model(&m, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "router blue-r: routes[0] and routes[2] have the same prefix "
                            "10.9.0.0/16"));
    vf_model_free(&m);
    free(y);
}

/* ---- a bad store is reported by key and field ---- */

static void expect_bad_store(const char *key, const char *value, const char *want)
{
    struct vf_layout_kvs s;
    base_keys(&s);
    tl_expect_bad(&s, key, value, want);
}

static void test_bad_store(void **state)
{
    (void)state;
    expect_bad_store("port/blue-web/vm9", "{\"name\":\"vm9\",\"switch\":\"blue-web\","
                     "\"mac\":\"02:00:zz\",\"chassis\":\"hv1\"}",
                     "key /vfab/desired/port/blue-web/vm9: field 'mac': \"02:00:zz\" is "
                     "not a MAC address");
    expect_bad_store("port/blue-web/vm9", "{\"name\":\"vm8\",\"switch\":\"blue-web\"}",
                     "key /vfab/desired/port/blue-web/vm9: field 'name': \"vm8\" does not "
                     "match the key");
    expect_bad_store("port/blue-nope/vm9", "{\"name\":\"vm9\",\"switch\":\"blue-nope\"}",
                     "key /vfab/desired/port/blue-nope/vm9: field 'switch': \"blue-nope\" "
                     "is not a switch in the store");
    expect_bad_store("switch/sw9", "[1]", "key /vfab/desired/switch/sw9: the value is not "
                     "a JSON object");
    expect_bad_store("gadget/x", "{}", "key /vfab/desired/gadget/x: not a key of the layout");
    expect_bad_store("chassis-switch/hv1/blue-web", NULL,
                     "key /vfab/desired/port/blue-web/vm1: its index key "
                     "/vfab/desired/chassis-switch/hv1/blue-web is missing");
    expect_bad_store("acl/blue-web/0000000000000000",
                     "{\"switch\":\"blue-web\",\"direction\":\"from-port\",\"priority\":1,"
                     "\"action\":\"drop\",\"match\":{}}",
                     "key /vfab/desired/acl/blue-web/0000000000000000: the id should be");
    expect_bad_store("switch/sw9", "{\"name\":\"sw9\",\"tenant\":\"red\",\"vni\":1001}",
                     "key /vfab/desired/switch/sw9: field 'vni'");
    expect_bad_store("router-port/rp9", "{\"name\":\"rp9\",\"router\":\"nope\"}",
                     "key /vfab/desired/router-port/rp9: field 'router': \"nope\" is not a "
                     "router in the store");
    /* A tie written by hand (the ids are right: the hash of each value). */
    struct vf_layout_kvs s;
    struct vf_model m;
    char err[1024];
    base_keys(&s);
    for (size_t i = 0; i < s.n; i++)
        if (!strncmp(s.kv[i].key, "acl/blue%2Fdb/", 14)) {
            /* blue/db has one drop ACL at priority 10; an allow-all at 10
             * ties with it. Its key must carry the hash of its value. */
            struct vf_model one;
            struct vf_layout_kvs k1;
            tl_load("chassis: [{name: c, underlay_ip: 192.0.2.9}]\ntenants: [{name: t, "
                 "switches: [{name: blue/db, vni: 5}], acls: [{switch: blue/db, direction: "
                 "to-port, priority: 10, action: allow}]}]\n", &one);
            tl_to_keys(&one, &k1);
            for (size_t j = 0; j < k1.n; j++)
                if (!strncmp(k1.kv[j].key, "acl/", 4))
                    vf_layout_kvs_set(&s, k1.kv[j].key, k1.kv[j].value,
                                      k1.kv[j].value_len, 0);
            vf_layout_kvs_free(&k1);
            vf_model_free(&one);
            break;
        }
    assert_int_equal(vf_layout_to_model(&s, 0, "/vfab/desired/", &m, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "tenant blue: key /vfab/desired/acl/blue%2Fdb/"));
    assert_non_null(strstr(err, "can match the same packet"));
    vf_layout_kvs_free(&s);
    /* A stale index key (no port left there) is tolerated. */
    base_keys(&s);
    assert_int_equal(vf_layout_kvs_set(&s, "chassis-switch/hv3/blue-web",
                                       "{\"chassis\":\"hv3\",\"switch\":\"blue-web\"}", 37,
                                       0), 0);
    assert_int_equal(vf_layout_to_model(&s, 0, "", &m, err, sizeof(err)), 0);
    vf_model_free(&m);
    vf_layout_kvs_free(&s);
}

/* ---- diff and plan ---- */

static void test_diff_order(void **state)
{
    (void)state;
    struct vf_layout_kvs a = {0}, b, w;
    struct vf_layout_change c;
    base_keys(&b);
    assert_int_equal(vf_layout_diff(&a, &b, &c), 0);
    assert_int_equal(c.n, b.n);
    assert_int_equal(c.n_puts, b.n);
    for (size_t i = 1; i < c.n; i++)
        assert_true(c.ops[i - 1].kind <= c.ops[i].kind);
    vf_layout_change_free(&c);
    /* Everything deleted: children first. */
    assert_int_equal(vf_layout_diff(&b, &a, &c), 0);
    assert_int_equal(c.n_dels, b.n);
    for (size_t i = 1; i < c.n; i++)
        assert_true(c.ops[i - 1].kind >= c.ops[i].kind);
    vf_layout_change_free(&c);
    /* A diff applied to its source gives its target. */
    struct vf_model m;
    tl_load(BASE, &m);
    struct vf_model_port *p = &m.tenants[0].switches[0].ports[1];
    strcpy(p->chassis, "hv3");                 /* vm2 moves */
    m.tenants[0].switches[1].vni = 1005;
    m.tenants[0].n_acls--;                     /* the last ACL goes */
    char err[1024];
    assert_int_equal(vf_model_validate(&m, err, sizeof(err)), 0);
    struct vf_layout_kvs next;
    tl_to_keys(&m, &next);
    assert_int_equal(vf_layout_diff(&b, &next, &c), 0);
    /* vm2, switch blue/db and the new index hv3/blue-web put; the ACL and
     * the stale index hv2/blue-web (vm2 was its only port) deleted. */
    assert_int_equal(c.n_puts, 3);
    assert_int_equal(c.n_dels, 2);
    assert_string_equal(c.ops[0].key, "switch/blue%2Fdb");
    assert_string_equal(c.ops[1].key, "chassis-switch/hv3/blue-web");
    assert_string_equal(c.ops[2].key, "port/blue-web/vm2");
    assert_true(c.ops[3].del && c.ops[3].kind == VF_LK_ACL);
    assert_string_equal(c.ops[4].key, "chassis-switch/hv2/blue-web");
    assert_int_equal(vf_layout_kvs_apply(&b, c.ops, c.n), 0);
    assert_true(vf_layout_kvs_equal(&b, &next));
    (void)w;
    vf_layout_change_free(&c);
    vf_layout_kvs_free(&b);
    vf_layout_kvs_free(&next);
    vf_model_free(&m);
}

/* A fabric of n ports on one switch, for the plan tests. */
static char *many_ports(unsigned n, unsigned vni_a, unsigned vni_b, bool hv2)
{
    size_t cap = 512 + (size_t)n * 160, o = 0;
    char *y = malloc(cap);
    o += (size_t)snprintf(y + o, cap - o,
                          "chassis: [{name: hv1, underlay_ip: 192.0.2.1}%s]\n"
                          "tenants:\n  - name: t\n    switches:\n"
                          "      - {name: a, vni: %u}\n      - {name: b, vni: %u}\n"
                          "      - name: s\n        vni: 9\n        ports:\n",
                          hv2 ? ", {name: hv2, underlay_ip: 192.0.2.2}" : "", vni_a, vni_b);
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(y + o, cap - o,
                              "          - {name: p%u, mac: \"02:00:00:00:%02x:%02x\", "
                              "chassis: hv1}\n", i, (i >> 8) & 0xff, i & 0xff);
    return y;
}

static void check_plan(const struct vf_layout_kvs *from, const struct vf_layout_kvs *to,
                       const struct vf_layout_change *c, const size_t *ends, size_t n,
                       unsigned room)
{
    struct vf_layout_kvs w = {0};
    char err[1024];
    for (size_t i = 0; i < from->n; i++)
        vf_layout_kvs_add(&w, from->kv[i].key, from->kv[i].value, from->kv[i].value_len, 0);
    vf_layout_kvs_sort(&w);
    for (size_t k = 0, a = 0; k < n; a = ends[k++]) {
        struct vf_model m;
        assert_true(ends[k] > a && ends[k] - a <= room);
        assert_int_equal(vf_layout_kvs_apply(&w, c->ops + a, ends[k] - a), 0);
        if (vf_layout_to_model(&w, 0, "", &m, err, sizeof(err)))
            fail_msg("part %zu leaves an invalid model: %s", k, err);
        vf_model_free(&m);
    }
    assert_int_equal(ends[n - 1], c->n);
    assert_true(vf_layout_kvs_equal(&w, to));
    vf_layout_kvs_free(&w);
}

static void test_plan(void **state)
{
    (void)state;
    struct vf_model ma, mb;
    struct vf_layout_kvs a, b;
    struct vf_layout_change c;
    size_t *ends, n;
    char err[2048];
    char *ya = many_ports(10, 1, 2, false), *yb = many_ports(40, 2, 1, true);

    tl_load(ya, &ma);
    tl_load(yb, &mb);
    tl_to_keys(&ma, &a);
    tl_to_keys(&mb, &b);
    assert_int_equal(vf_layout_diff(&a, &b, &c), 0);
    /* hv2 comes, a and b swap VNIs (cutting between their puts is
     * invalid), 30 ports come. */
    assert_int_equal(c.n, 1 + 2 + 30);
    struct vf_layout_limits lim = {.max_txn_ops = 3, .reserved_ops = 2};
    assert_int_equal(vf_layout_plan(&a, &c, &lim, &ends, &n, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "cannot be cut into txns that each leave a valid fabric"));
    assert_non_null(strstr(err, "putting switch/a"));
    assert_non_null(strstr(err, "field 'vni'"));
    lim.max_txn_ops = 4;      /* 2 a part: the first cut moves back to 1 */
    assert_int_equal(vf_layout_plan(&a, &c, &lim, &ends, &n, err, sizeof(err)), 0);
    assert_int_equal(ends[0], 1);
    assert_int_equal(ends[1], 3);
    check_plan(&a, &b, &c, ends, n, 2);
    free(ends);
    /* By bytes: each op is about 160 bytes here. */
    lim = (struct vf_layout_limits){.max_request_bytes = 1000, .max_txn_ops = 1000,
                                    .reserved_bytes = 100};
    assert_int_equal(vf_layout_plan(&a, &c, &lim, &ends, &n, err, sizeof(err)), 0);
    assert_true(n > 5);
    check_plan(&a, &b, &c, ends, n, 1000);
    free(ends);
    /* Atomic: refused, naming both limits. */
    lim = (struct vf_layout_limits){.max_txn_ops = 10, .reserved_ops = 2, .atomic = true};
    assert_int_equal(vf_layout_plan(&a, &c, &lim, &ends, &n, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "etcd --max-txn-ops"));
    assert_non_null(strstr(err, "etcd --max-request-bytes"));
    assert_null(ends);
    /* Fits: one part. */
    lim.max_txn_ops = 128;
    assert_int_equal(vf_layout_plan(&a, &c, &lim, &ends, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    free(ends);
    vf_layout_change_free(&c);
    vf_layout_kvs_free(&a);
    vf_layout_kvs_free(&b);
    vf_model_free(&ma);
    vf_model_free(&mb);
    free(ya);
    free(yb);
}

/* A change that only adds keys is cut without loading each cut; every part
 * must still load. */
static void test_plan_adds(void **state)
{
    (void)state;
    struct vf_model mb;
    struct vf_layout_kvs a = {0}, b, half;
    struct vf_layout_change c;
    size_t *ends, n;
    char err[2048];
    char *yb = many_ports(60, 1, 2, true);

    tl_load(yb, &mb);
    tl_to_keys(&mb, &b);
    /* From nothing: chassis, tenant, switches, index, ports in 7-op parts. */
    assert_int_equal(vf_layout_diff(&a, &b, &c), 0);
    assert_int_equal(c.n_dels, 0);
    struct vf_layout_limits lim = {.max_txn_ops = 9, .reserved_ops = 2};
    assert_int_equal(vf_layout_plan(&a, &c, &lim, &ends, &n, err, sizeof(err)), 0);
    assert_true(n >= c.n / 7);
    check_plan(&a, &b, &c, ends, n, 7);
    free(ends);
    vf_layout_change_free(&c);
    /* From a fabric with half the ports. */
    char *yh = many_ports(30, 1, 2, true);
    struct vf_model mh;
    tl_load(yh, &mh);
    tl_to_keys(&mh, &half);
    assert_int_equal(vf_layout_diff(&half, &b, &c), 0);
    assert_int_equal(c.n, 30);
    assert_int_equal(vf_layout_plan(&half, &c, &lim, &ends, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 5);
    check_plan(&half, &b, &c, ends, n, 7);
    free(ends);
    vf_layout_change_free(&c);
    vf_layout_kvs_free(&half);
    vf_layout_kvs_free(&b);
    vf_model_free(&mh);
    vf_model_free(&mb);
    free(yh);
    free(yb);
}

/* ---- one key applied in place ---- */

/* m updated in place by key/value must equal the model loaded from s after
 * the same change. */
static void check_update(struct vf_model *m, struct vf_layout_kvs *s, const char *key,
                         const char *value)
{
    struct vf_model want;
    char err[1024];
    int rc = vf_layout_model_update(m, key, value, value ? strlen(value) : 0, !value, err,
                                    sizeof(err));
    if (rc)
        fail_msg("update %s: %d %s", key, rc, err);
    if (value)
        assert_int_equal(vf_layout_kvs_set(s, key, value, strlen(value), 0), 0);
    else
        vf_layout_kvs_del(s, key);
    if (vf_layout_to_model(s, 0, "", &want, err, sizeof(err)))
        fail_msg("load after %s: %s", key, err);
    tl_assert_same_model(m, &want);
    vf_model_free(&want);
}

static void test_model_update(void **state)
{
    (void)state;
    struct vf_model m;
    struct vf_layout_kvs s;
    char err[1024];

    base_keys(&s);
    assert_int_equal(vf_layout_to_model(&s, 0, "", &m, err, sizeof(err)), 0);
    /* A new port (between vm1 and vm2 in name order), a changed one (moved
     * to hv3, an address more), a deleted one. */
    check_update(&m, &s, "port/blue-web/vm15",
                 "{\"attach\":{\"type\":\"ring\"},\"chassis\":\"hv1\",\"ips\":[\"10.0.0.15\"],"
                 "\"mac\":\"02:00:00:00:01:15\",\"name\":\"vm15\",\"port_security\":true,"
                 "\"switch\":\"blue-web\"}");
    static const char idx[] = "{\"chassis\":\"hv3\",\"switch\":\"blue-web\"}";
    assert_int_equal(vf_layout_kvs_set(&s, "chassis-switch/hv3/blue-web", idx, strlen(idx), 0),
                     0);
    check_update(&m, &s, "port/blue-web/vm2",
                 "{\"attach\":{\"type\":\"ring\"},\"chassis\":\"hv3\",\"ips\":[\"10.0.0.2\","
                 "\"10.0.0.22\"],\"mac\":\"02:00:00:00:01:02\",\"name\":\"vm2\","
                 "\"port_security\":false,\"switch\":\"blue-web\"}");
    check_update(&m, &s, "port/blue%2Fdb/db%2F1", NULL);
    /* A port that clashes with the fabric (vm1's MAC on its switch): m is
     * left invalid and the caller rebuilds. */
    static const char clash[] = "{\"chassis\":\"hv1\",\"mac\":\"02:00:00:00:01:01\","
                                "\"name\":\"vm16\",\"switch\":\"blue-web\"}";
    assert_int_equal(vf_layout_model_update(&m, "port/blue-web/vm16", clash, strlen(clash),
                                            false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "mac"));
    vf_model_free(&m);
    assert_int_equal(vf_layout_to_model(&s, 0, "", &m, err, sizeof(err)), 0);
    /* A value that does not load names the key; one whose name disagrees
     * with its key is refused; m is unchanged by both. */
    static const char bad[] = "{\"chassis\":\"hv1\",\"mac\":\"zz\",\"name\":\"vm17\","
                              "\"switch\":\"blue-web\"}";
    assert_int_equal(vf_layout_model_update(&m, "port/blue-web/vm17", bad, strlen(bad), false,
                                            err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "port/blue-web/vm17: "));
    assert_non_null(strstr(err, "field 'mac'"));
    assert_int_equal(vf_layout_model_update(&m, "port/blue-web/other", bad, strlen(bad),
                                            false, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a port value that matches its key"));
    struct vf_model same;
    assert_int_equal(vf_layout_to_model(&s, 0, "", &same, err, sizeof(err)), 0);
    tl_assert_same_model(&m, &same);
    vf_model_free(&same);
    /* Not done in place: other kinds, a switch m lacks. */
    assert_int_equal(vf_layout_model_update(&m, "switch/blue-web", "{}", 2, false, err,
                                            sizeof(err)), -EAGAIN);
    assert_int_equal(vf_layout_model_update(&m, "port/nowhere/x", "{}", 2, false, err,
                                            sizeof(err)), -EAGAIN);
    vf_model_free(&m);
    vf_layout_kvs_free(&s);
}

/* ---- a host's part ---- */

static void test_subset(void **state)
{
    (void)state;
    struct vf_layout_kvs s, sub;
    struct vf_model full, part;
    char err[1024];
    static const char *const hosts[] = {"hv1", "hv2", "hv3"};
    /* hv1: blue-web (vm1), and through blue-r blue/db; hv3: blue-lone only. */
    static const unsigned want_switches[] = {2, 3, 1};

    base_keys(&s);
    assert_int_equal(vf_layout_to_model(&s, 0, "", &full, err, sizeof(err)), 0);
    for (unsigned h = 0; h < 3; h++) {
        assert_int_equal(vf_layout_subset(&s, hosts[h], &sub), 0);
        if (vf_layout_to_model(&sub, VF_LAYOUT_SUBSET, "", &part, err, sizeof(err)))
            fail_msg("%s: %s", hosts[h], err);
        json_t *sw = vf_layout_host_switches(&s, hosts[h]);
        assert_int_equal(json_object_size(sw), want_switches[h]);
        json_decref(sw);
        struct vf_tables *a = tl_compile_for(&full, hosts[h]), *b = tl_compile_for(&part, hosts[h]);
        assert_int_equal(a->n_dps, b->n_dps);
        assert_int_equal(a->n_routers, b->n_routers);
        for (uint32_t i = 0; i < a->n_dps; i++) {
            const struct vf_dp *x = a->dps[i], *y = tl_dp(b, x->name, hosts[h]);
            assert_int_equal(x->vni, y->vni);
            assert_int_equal(x->n_ports, y->n_ports);
            assert_int_equal(x->n_acl_in, y->n_acl_in);
            assert_int_equal(x->n_acl_out, y->n_acl_out);
            assert_int_equal(x->n_flood_remote, y->n_flood_remote);
        }
        vf_tables_free(a);
        vf_tables_free(b);
        vf_model_free(&part);
        vf_layout_kvs_free(&sub);
    }
    vf_model_free(&full);
    vf_layout_kvs_free(&s);
}

/* ---- runtime records ---- */

static void test_records(void **state)
{
    (void)state;
    struct vf_layout_chassis_rec r = {.name = "hv1", .underlay_ip = "192.0.2.1",
                                      .encap = "geneve", .port = 6081, .version = "0.1.0",
                                      .started = 1764000000}, back;
    char err[256], ch[VF_NAME_MAX];
    char *t = vf_layout_chassis_rec_encode(&r);
    assert_non_null(t);
    assert_int_equal(vf_layout_chassis_rec_decode("hv1", t, strlen(t), &back, err,
                                                  sizeof(err)), 0);
    /* Field by field: the struct's padding is not the codec's. */
    assert_string_equal(back.name, r.name);
    assert_string_equal(back.underlay_ip, r.underlay_ip);
    assert_string_equal(back.encap, r.encap);
    assert_int_equal(back.port, r.port);
    assert_string_equal(back.version, r.version);
    assert_int_equal(back.started, r.started);
    free(t);
    assert_int_equal(vf_layout_chassis_rec_decode("hv1", "{\"encap\":\"geneve\"}", 18, &back,
                                                  err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "field 'underlay_ip'"));
    t = vf_layout_binding_encode("hv2");
    assert_string_equal(t, "{\"chassis\":\"hv2\"}");
    assert_int_equal(vf_layout_binding_decode(t, strlen(t), ch, sizeof(ch), err, sizeof(err)),
                     0);
    assert_string_equal(ch, "hv2");
    free(t);
    assert_int_equal(vf_layout_binding_decode("nope", 4, ch, sizeof(ch), err, sizeof(err)),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_route_refusal),
        cmocka_unit_test(test_bad_store),
        cmocka_unit_test(test_diff_order),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_plan_adds),
        cmocka_unit_test(test_model_update),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
