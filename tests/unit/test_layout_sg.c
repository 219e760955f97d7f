/* test_layout_sg.c - security groups in the store layout: port groups,
 * address sets and port groups' ACLs (mgmt/layout/vf_layout.h, issue 15).
 *
 * Oracles: a model with groups and sets stored and read back is the same
 * model (vf_model_diff finds nothing) and the same keys; every txn of a
 * plan, cut as small as etcd allows, leaves a model that loads (a set or
 * group is put before the ACLs that use it and deleted after them, a port
 * before the groups that list it); a bad key is named with its field; two
 * ACLs that tie through a group are refused, and those that cannot meet
 * are not; a host's part compiles to the same ACL counts as the whole
 * fabric does for that host.
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

/* Group sg spans two switches (vm1 on web at hv1, db1 on db at hv2);
 * lone's ACL has sg's direction and priority but no port of sg. */
static const char SG[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2}\n"
"  - {name: hv3, underlay_ip: 192.0.2.3}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: web\n"
"        vni: 1001\n"
"        ports:\n"
"          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv1}\n"
"          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2], chassis: hv2}\n"
"      - name: db\n"
"        vni: 1002\n"
"        ports:\n"
"          - {name: db1, mac: \"02:00:00:00:02:01\", ips: [10.0.1.1], chassis: hv2}\n"
"      - name: lone\n"
"        vni: 1003\n"
"        ports:\n"
"          - {name: l1, mac: \"02:00:00:00:03:01\", ips: [10.0.3.1], chassis: hv3}\n"
"    port_groups:\n"
"      - {name: sg, ports: [vm1, db1]}\n"
"      - {name: sg/empty}\n"
"    address_sets:\n"
"      - {name: admins, addresses: [10.0.0.9, \"fd00::9\"]}\n"
"    acls:\n"
"      - {port_group: sg, direction: from-port, priority: 100, action: allow-related}\n"
"      - {port_group: sg, direction: to-port, priority: 100, action: allow-related,\n"
"         match: {proto: tcp, dst_port: 22, src_ip: $admins}}\n"
"      - {switch: web, port_group: sg, direction: to-port, priority: 200, action: reject,\n"
"         match: {proto: tcp, dst_port: 23}}\n"
"      - {switch: lone, direction: to-port, priority: 100, action: drop}\n"
"  - name: red\n"
"    switches:\n"
"      - name: red-web\n"
"        vni: 2001\n"
"        ports:\n"
"          - {name: r1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv1}\n"
"    address_sets:\n"
"      - {name: reds, addresses: [10.1.0.0/16]}\n"
"    acls:\n"
"      - {switch: red-web, direction: to-port, priority: 5, action: drop,\n"
"         match: {src_ip: $reds}}\n";

static void sg_keys(struct vf_layout_kvs *s)
{
    struct vf_model m;
    tl_load(SG, &m);
    tl_to_keys(&m, s);
    vf_model_free(&m);
}

/* A new copy of y with text put in front of the first `at` (freed). */
static char *splice(char *y, const char *at, const char *text)
{
    const char *p = strstr(y, at);
    assert_non_null(p);
    char *o = malloc(strlen(y) + strlen(text) + 1);
    memcpy(o, y, (size_t)(p - y));
    strcpy(o + (p - y), text);
    strcat(o, p);
    free(y);
    return o;
}

static size_t count_prefix(const struct vf_layout_kvs *s, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += !strncmp(s->kv[i].key, prefix, strlen(prefix));
    return n;
}

static void test_sg_keys(void **state)
{
    (void)state;
    struct vf_layout_key k;
    char buf[VF_LAYOUT_KEY_MAX], err[256];

    assert_int_equal(vf_layout_key_make(VF_LK_PGACL, "sg/x", "00000000000000ff", buf,
                                        sizeof(buf)), 0);
    assert_string_equal(buf, "port-group-acl/sg%2Fx/00000000000000ff");
    assert_int_equal(vf_layout_key_parse(buf, &k, err, sizeof(err)), 0);
    assert_int_equal(k.kind, VF_LK_PGACL);
    assert_string_equal(k.parent, "sg/x");
    assert_int_equal(vf_layout_key_parse("port-group/sg", &k, err, sizeof(err)), 0);
    assert_int_equal(k.kind, VF_LK_PGROUP);
    assert_int_equal(vf_layout_key_parse("address-set/a", &k, err, sizeof(err)), 0);
    assert_int_equal(k.kind, VF_LK_ASET);
    assert_int_equal(vf_layout_key_parse("port-group-acl/sg", &k, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "want port-group-acl/GROUP/ID"));
}

static void test_sg_roundtrip(void **state)
{
    (void)state;
    struct vf_model m, back;
    struct vf_layout_kvs s, again;
    char err[1024];

    tl_load(SG, &m);
    tl_to_keys(&m, &s);
    const struct vf_layout_kv *kv = vf_layout_kvs_find(&s, "port-group/sg");
    assert_non_null(kv);
    assert_string_equal(kv->value, "{\"name\":\"sg\",\"ports\":[\"vm1\",\"db1\"],"
                        "\"tenant\":\"blue\"}");
    assert_non_null(vf_layout_kvs_find(&s, "port-group/sg%2Fempty"));
    kv = vf_layout_kvs_find(&s, "address-set/admins");
    assert_non_null(kv);
    assert_string_equal(kv->value, "{\"addresses\":[\"10.0.0.9/32\",\"fd00::9/128\"],"
                        "\"name\":\"admins\",\"tenant\":\"blue\"}");
    assert_non_null(vf_layout_kvs_find(&s, "address-set/reds"));
    /* Two ACLs without a switch under their group; the one with a switch
     * and a group under its switch, with the plain ones. */
    assert_int_equal(count_prefix(&s, "port-group-acl/sg/"), 2);
    assert_int_equal(count_prefix(&s, "acl/web/"), 1);
    assert_int_equal(count_prefix(&s, "acl/"), 3);
    assert_int_equal(vf_layout_to_model(&s, 0, "/vfab/desired/", &back, err, sizeof(err)), 0);
    tl_assert_same_model(&m, &back);
    assert_int_equal(back.tenants[0].n_pgroups, 2);
    assert_int_equal(back.tenants[0].n_asets, 1);
    assert_int_equal(back.tenants[0].n_acls, 4);
    tl_to_keys(&back, &again);
    assert_true(vf_layout_kvs_equal(&s, &again));
    vf_model_free(&m);
    vf_model_free(&back);
    vf_layout_kvs_free(&s);
    vf_layout_kvs_free(&again);
}

/* Every part of the plan, applied in turn, loads; the end is the target. */
static void check_plan(const struct vf_layout_kvs *from, const struct vf_layout_kvs *to,
                       unsigned room)
{
    struct vf_layout_kvs w = {0};
    struct vf_layout_change c;
    struct vf_layout_limits lim = {.max_txn_ops = room + 2, .reserved_ops = 2};
    size_t *ends, n;
    char err[2048];

    assert_int_equal(vf_layout_diff(from, to, &c), 0);
    if (vf_layout_plan(from, &c, &lim, &ends, &n, err, sizeof(err)))
        fail_msg("plan: %s", err);
    for (size_t i = 0; i < from->n; i++)
        vf_layout_kvs_add(&w, from->kv[i].key, from->kv[i].value, from->kv[i].value_len, 0);
    vf_layout_kvs_sort(&w);
    for (size_t k = 0, a = 0; k < n; a = ends[k++]) {
        struct vf_model m;
        assert_true(ends[k] > a && ends[k] - a <= room);
        assert_int_equal(vf_layout_kvs_apply(&w, c.ops + a, ends[k] - a), 0);
        if (vf_layout_to_model(&w, 0, "", &m, err, sizeof(err)))
            fail_msg("part %zu of %zu leaves an invalid model: %s", k, n, err);
        vf_model_free(&m);
    }
    assert_true(vf_layout_kvs_equal(&w, to));
    free(ends);
    vf_layout_change_free(&c);
    vf_layout_kvs_free(&w);
}

static void test_sg_order(void **state)
{
    (void)state;
    struct vf_layout_kvs none = {0}, s, more;
    struct vf_layout_change c;
    struct vf_model m;

    sg_keys(&s);
    /* Puts: a set before the ACLs that use it, a group after its ports and
     * before its ACLs; deletes the other way. */
    assert_int_equal(vf_layout_diff(&none, &s, &c), 0);
    size_t set = c.n, grp = c.n, port = 0, acl = c.n, pgacl = 0;
    for (size_t i = 0; i < c.n; i++) {
        enum vf_layout_kind k = c.ops[i].kind;
        if (k == VF_LK_ASET && i < set)
            set = i;
        if (k == VF_LK_PGROUP && i < grp)
            grp = i;
        if ((k == VF_LK_ACL || k == VF_LK_PGACL) && i < acl)
            acl = i;
        if (k == VF_LK_PORT)
            port = i;
        if (k == VF_LK_PGACL)
            pgacl = i;
    }
    assert_true(set < acl && port < grp && grp < acl && grp < pgacl);
    vf_layout_change_free(&c);
    /* One op a txn: up from nothing, then down to nothing. */
    check_plan(&none, &s, 1);
    check_plan(&s, &none, 1);
    /* A port comes and joins the group, a set gets an address and an ACL
     * starts using it; then all of it goes back. */
    char *y = strdup(SG);
    y = splice(y, "      - name: db\n",
               "          - {name: vm3, mac: \"02:00:00:00:01:03\", chassis: hv3}\n");
    y = splice(y, "vm1, db1]", "vm3, ");
    y = splice(y, "\"fd00::9\"]", "10.0.0.10, ");
    size_t n = strlen(y);
    y = realloc(y, n + 256);
    strcpy(y + n, "      - {switch: red-web, direction: from-port, priority: 5, action: drop,\n"
                  "         match: {dst_ip: $reds}}\n");
    tl_load(y, &m);
    tl_to_keys(&m, &more);
    check_plan(&s, &more, 1);
    check_plan(&more, &s, 1);
    vf_model_free(&m);
    vf_layout_kvs_free(&more);
    vf_layout_kvs_free(&s);
    free(y);
}

/* ---- a bad store is reported by key and field ---- */

static void expect_bad(const char *key, const char *value, const char *want)
{
    struct vf_layout_kvs s;
    sg_keys(&s);
    tl_expect_bad(&s, key, value, want);
}

/* The key of one of sg's ACLs, with a value of ours and its right id. */
static void pgacl_key(const char *value, char *key, size_t len)
{
    struct vf_model one;
    struct vf_layout_kvs k1;
    char y[1024];
    snprintf(y, sizeof(y), "chassis: [{name: c, underlay_ip: 192.0.2.9}]\ntenants: [{name: "
             "blue, switches: [{name: web, vni: 5, ports: [{name: vm1, mac: "
             "\"02:00:00:00:00:01\", chassis: c}]}], port_groups: [{name: sg, ports: "
             "[vm1]}], acls: [%s]}]\n", value);
    tl_load(y, &one);
    tl_to_keys(&one, &k1);
    for (size_t j = 0; j < k1.n; j++)
        if (!strncmp(k1.kv[j].key, "port-group-acl/", 15))
            snprintf(key, len, "%s", k1.kv[j].key);
    vf_layout_kvs_free(&k1);
    vf_model_free(&one);
}

static void test_sg_bad_store(void **state)
{
    (void)state;
    expect_bad("port-group/sg", "{\"name\":\"sg\",\"ports\":[\"vm1\",\"nope\"],"
               "\"tenant\":\"blue\"}",
               "key /vfab/desired/port-group/sg: field 'ports': \"nope\" is not a port");
    expect_bad("port-group/sg2", "{\"name\":\"sg2\",\"ports\":[],\"tenant\":\"pink\"}",
               "key /vfab/desired/port-group/sg2: field 'tenant': \"pink\" is not a "
               "tenant in the store");
    expect_bad("address-set/admins", "{\"name\":\"admins\",\"addresses\":[\"10.0.0.9/8\"],"
               "\"tenant\":\"blue\"}",
               "key /vfab/desired/address-set/admins: field 'addresses'");
    expect_bad("address-set/x", "{\"name\":\"y\",\"addresses\":[],\"tenant\":\"blue\"}",
               "key /vfab/desired/address-set/x: field 'name': \"y\" does not match");
    /* A set an ACL uses is gone: the ACL's key is named. */
    expect_bad("address-set/reds", NULL, "key /vfab/desired/acl/red-web/");
    expect_bad("port-group-acl/nope/0000000000000000",
               "{\"port_group\":\"nope\",\"direction\":\"from-port\",\"priority\":1,"
               "\"action\":\"drop\",\"match\":{}}",
               "field 'port_group': \"nope\" is not a port group in the store");
    expect_bad("port-group-acl/sg/0000000000000000",
               "{\"port_group\":\"sg\",\"direction\":\"from-port\",\"priority\":1,"
               "\"action\":\"drop\",\"match\":{}}",
               "key /vfab/desired/port-group-acl/sg/0000000000000000: the id should be");
    expect_bad("port-group-acl/sg/0000000000000000",
               "{\"port_group\":\"sg\",\"switch\":\"web\",\"direction\":\"from-port\","
               "\"priority\":1,\"action\":\"drop\",\"match\":{}}",
               "an ACL with a switch is stored under /vfab/desired/acl/SWITCH/");
    /* A hand-written tie with sg's to-port rule (ids right). */
    static const char tie[] = "{port_group: sg, direction: to-port, priority: 100, "
                              "action: drop, match: {proto: tcp}}";
    char key[VF_LAYOUT_KEY_MAX] = "";
    struct vf_layout_kvs s;
    struct vf_model m, one;
    struct vf_layout_kvs k1;
    char err[1024], y[1024];
    pgacl_key(tie, key, sizeof(key));
    assert_true(key[0]);
    snprintf(y, sizeof(y), "chassis: [{name: c, underlay_ip: 192.0.2.9}]\ntenants: [{name: "
             "blue, switches: [{name: web, vni: 5, ports: [{name: vm1, mac: "
             "\"02:00:00:00:00:01\", chassis: c}]}], port_groups: [{name: sg, ports: "
             "[vm1]}], acls: [%s]}]\n", tie);
    tl_load(y, &one);
    tl_to_keys(&one, &k1);
    sg_keys(&s);
    const struct vf_layout_kv *kv = vf_layout_kvs_find(&k1, key);
    assert_non_null(kv);
    vf_layout_kvs_set(&s, key, kv->value, kv->value_len, 0);
    assert_int_equal(vf_layout_to_model(&s, 0, "/vfab/desired/", &m, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "tenant blue: key /vfab/desired/port-group-acl/sg/"));
    assert_non_null(strstr(err, "(port group sg, to-port, priority 100) can match the same"));
    vf_layout_kvs_free(&s);
    vf_layout_kvs_free(&k1);
    vf_model_free(&one);
}

/* ---- ties through a group ---- */

static int with_acl(const char *line, char *err, size_t errlen)
{
    char *y = splice(strdup(SG), "  - name: red\n", line);
    struct vf_model m;
    struct vf_layout_kvs s;
    tl_load(y, &m);
    int rc = vf_layout_from_model(&m, &s, err, errlen);
    if (rc)
        assert_int_equal(s.n, 0);
    vf_layout_kvs_free(&s);
    vf_model_free(&m);
    free(y);
    return rc;
}

static void test_sg_ties(void **state)
{
    (void)state;
    char err[1024];
    /* A switch's rule meets sg's through vm1 on web. */
    assert_int_equal(with_acl("      - {switch: web, direction: to-port, priority: 100, "
                              "action: drop, match: {proto: tcp}}\n", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "tenant blue: acls[1] and acls[4] (port group sg, to-port, "
                            "priority 100) can match the same packet"));
    /* Only vm2 of web: not in sg, no tie. */
    assert_int_equal(with_acl("      - {switch: web, port: vm2, direction: to-port, "
                              "priority: 100, action: drop, match: {proto: tcp}}\n", err,
                              sizeof(err)), 0);
    /* Another group sharing db1 with sg. */
    char *y = splice(strdup(SG), "      - {name: sg, ", "      - {name: sg2, ports: [db1]}\n");
    y = splice(y, "  - name: red\n", "      - {port_group: sg2, direction: from-port, "
               "priority: 100, action: drop, match: {proto: udp}}\n");
    struct vf_model m;
    struct vf_layout_kvs s;
    tl_load(y, &m);
    assert_int_equal(vf_layout_from_model(&m, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "(port group sg, from-port, priority 100)"));
    vf_model_free(&m);
    /* The same with sg2 holding vm2 only: no port in common. */
    char *d = strstr(y, "ports: [db1]");
    memcpy(d, "ports: [vm2]", 12);
    tl_load(y, &m);
    assert_int_equal(vf_layout_from_model(&m, &s, err, sizeof(err)), 0);
    vf_layout_kvs_free(&s);
    vf_model_free(&m);
    free(y);
}

/* ---- a host's part ---- */

static void test_sg_subset(void **state)
{
    (void)state;
    struct vf_layout_kvs s, sub;
    struct vf_model full, part;
    char err[1024];
    static const char *const hosts[] = {"hv1", "hv2", "hv3"};
    /* sg's ports on the switches each host compiles: hv1 vm1 (web), hv2
     * vm1 and db1 (web for vm2, db for db1), hv3 none (lone only). */
    static const size_t want_sg[] = {1, 2, 0};

    sg_keys(&s);
    assert_int_equal(vf_layout_to_model(&s, 0, "", &full, err, sizeof(err)), 0);
    for (unsigned h = 0; h < 3; h++) {
        assert_int_equal(vf_layout_subset(&s, hosts[h], &sub), 0);
        assert_int_equal(count_prefix(&sub, "port-group-acl/sg/"), 2);
        if (vf_layout_to_model(&sub, VF_LAYOUT_SUBSET, "", &part, err, sizeof(err)))
            fail_msg("%s: %s", hosts[h], err);
        assert_int_equal(part.tenants[0].n_pgroups, 2);
        assert_int_equal(part.tenants[0].pgroups[0].n_ports, want_sg[h]);
        struct vf_tables *a = tl_compile_for(&full, hosts[h]), *b = tl_compile_for(&part, hosts[h]);
        assert_int_equal(a->n_dps, b->n_dps);
        for (uint32_t i = 0; i < a->n_dps; i++) {
            const struct vf_dp *x = a->dps[i], *y = tl_dp(b, x->name, hosts[h]);
            assert_int_equal(x->n_ports, y->n_ports);
            assert_int_equal(x->n_acl_in, y->n_acl_in);
            assert_int_equal(x->n_acl_out, y->n_acl_out);
        }
        vf_tables_free(a);
        vf_tables_free(b);
        /* A port of a tenant with groups is never spliced in place: the
         * part's groups lack the ports it did not hold. */
        static const char vm9[] = "{\"chassis\":\"hv1\",\"mac\":\"02:00:00:00:01:09\","
                                  "\"name\":\"vm9\",\"switch\":\"web\"}";
        if (h == 0)
            assert_int_equal(vf_layout_model_update(&part, "port/web/vm9", vm9,
                                                    strlen(vm9), false, err, sizeof(err)),
                             -EAGAIN);
        vf_model_free(&part);
        vf_layout_kvs_free(&sub);
    }
    vf_model_free(&full);
    vf_layout_kvs_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sg_keys),
        cmocka_unit_test(test_sg_roundtrip),
        cmocka_unit_test(test_sg_order),
        cmocka_unit_test(test_sg_bad_store),
        cmocka_unit_test(test_sg_ties),
        cmocka_unit_test(test_sg_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
