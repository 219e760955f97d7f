/* test_kinds.c - the kind table and the enum tables (vf_kinds.h,
 * vf_model.h) against the model they describe.
 *
 * Every kind's list is found through its parent's schema and holds exactly
 * the objects the C structs hold; walks visit them in file order with the
 * right indexes; names and ids come from the right fields; every enum's
 * spellings parse back to their values. A new kind whose row does not
 * match its schema fails here, not in a diff or an edit later.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mgmt/control/vf_kinds.h"
#include "mgmt/control/vf_model.h"

static const char MODEL[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: web\n"
"        vni: 100\n"
"        ports:\n"
"          - {name: a, mac: \"02:00:00:00:00:0a\", ips: [10.0.0.10], chassis: hv1}\n"
"          - {name: b, mac: \"02:00:00:00:00:0b\", chassis: hv2}\n"
"      - {name: db, vni: 101, ports: [{name: c, mac: \"02:00:00:00:00:0c\", chassis: hv1}]}\n"
"    routers:\n"
"      - name: r\n"
"        ports:\n"
"          - {name: r-web, switch: web, mac: \"02:00:00:00:ff:01\", cidr: 10.0.0.254/24}\n"
"          - {name: r-db, switch: db, mac: \"02:00:00:00:ff:02\", cidr: 10.1.0.254/24}\n"
"        routes: [{prefix: 10.9.0.0/16, nexthop: 10.1.0.1}]\n"
"    acls:\n"
"      - {switch: web, direction: to-port, priority: 1, action: drop}\n"
"      - {switch: db, direction: from-port, priority: 2, action: allow}\n"
"  - name: red\n"
"    switches: [{name: red-web, vni: 200}]\n"
"local: {chassis: hv1}\n";

static void load(struct vf_model *m)
{
    char err[1024];
    if (vf_config_load_string(MODEL, strlen(MODEL), m, err, sizeof(err)))
        fail_msg("load: %s", err);
}

struct seen {
    unsigned n[VF_KIND__COUNT];
    enum vf_kind order[64];
    unsigned total;
    char names[64][VF_NAME_MAX];
};

static int record(const struct vf_kind_ref *r, void *arg)
{
    struct seen *s = arg;
    const char *label = vf_kind_label(r->kind, r->obj[r->depth - 1]);

    assert_int_equal(r->depth, vf_kind_depth(r->kind));
    assert_true(s->total < 64);
    s->n[r->kind]++;
    s->order[s->total] = r->kind;
    snprintf(s->names[s->total], VF_NAME_MAX, "%s", label ? label : "-");
    s->total++;
    return 0;
}

static void test_table_matches_schema(void **state)
{
    (void)state;
    for (int k = 0; k < VF_KIND__COUNT; k++) {
        const struct vf_kind_desc *kd = vf_kind((enum vf_kind)k);
        assert_non_null(kd);
        assert_non_null(kd->schema);
        assert_int_equal(vf_kind_find(kd->name), k);
        /* A parent comes first in the table (walks rely on it). */
        assert_true(kd->parent < k);
        assert_true(vf_kind_depth((enum vf_kind)k) <= VF_KIND_DEPTH);
    }
    assert_int_equal(vf_kind_find("vlan"), VF_KIND_NONE);
    assert_null(vf_kind(VF_KIND__COUNT));
    char names[256];
    vf_kind_names(names, sizeof(names));
    assert_string_equal(names, "chassis, tenant, switch, port, router, "
                        "router-port, route, acl, port-group, address-set, nat, "
                        "load-balancer");
}

static void test_counts_and_order(void **state)
{
    struct vf_model m;
    struct seen s = {0};

    (void)state;
    load(&m);
    assert_int_equal(vf_kind_walk_all(&m, record, &s), 0);
    assert_int_equal(s.n[VF_KIND_CHASSIS], 2);
    assert_int_equal(s.n[VF_KIND_TENANT], 2);
    assert_int_equal(s.n[VF_KIND_SWITCH], 3);
    assert_int_equal(s.n[VF_KIND_PORT], 3);
    assert_int_equal(s.n[VF_KIND_ROUTER], 1);
    assert_int_equal(s.n[VF_KIND_RPORT], 2);
    assert_int_equal(s.n[VF_KIND_ROUTE], 1);
    assert_int_equal(s.n[VF_KIND_ACL], 2);
    /* The order of the file: parents before children. */
    static const char *const want[] = {
        "hv1", "hv2", "blue", "web", "a", "b", "db", "c", "r", "r-web",
        "r-db", "-", "-", "-", "red", "red-web",
    };
    assert_int_equal(s.total, sizeof(want) / sizeof(want[0]));
    for (unsigned i = 0; i < s.total; i++)
        assert_string_equal(s.names[i], want[i]);
    assert_int_equal(s.order[11], VF_KIND_ROUTE);
    assert_int_equal(s.order[12], VF_KIND_ACL);

    /* One kind at a time: the same objects, with indexes that find them. */
    struct seen p = {0};
    assert_int_equal(vf_kind_walk(&m, VF_KIND_PORT, record, &p), 0);
    assert_int_equal(p.total, 3);
    assert_string_equal(p.names[2], "c");
    assert_int_equal(vf_kind_count(VF_KIND_PORT, &m.tenants[0].switches[0]), 2);
    assert_ptr_equal(vf_kind_at(VF_KIND_RPORT, &m.tenants[0].routers[0], 1),
                     &m.tenants[0].routers[0].ports[1]);
    assert_null(vf_kind_at(VF_KIND_RPORT, &m.tenants[0].routers[0], 2));
    assert_int_equal(vf_kind_id(VF_KIND_SWITCH, &m.tenants[0].switches[1]),
                     101);
    assert_int_equal(vf_kind_id(VF_KIND_PORT, &m.tenants[0].switches[0].ports[0]),
                     m.tenants[0].switches[0].ports[0].id);
    assert_int_equal(vf_kind_id(VF_KIND_ACL, &m.tenants[0].acls[0]), 0);
    assert_null(vf_kind_label(VF_KIND_ROUTE, &m.tenants[0].routers[0].routes[0]));
    vf_model_free(&m);
}

static int stop_at_second(const struct vf_kind_ref *r, void *arg)
{
    (void)r;
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_walk_stops(void **state)
{
    struct vf_model m;
    int n = 0;

    (void)state;
    load(&m);
    assert_int_equal(vf_kind_walk(&m, VF_KIND_SWITCH, stop_at_second, &n), 42);
    assert_int_equal(n, 2);
    vf_model_free(&m);
}

static void check_enum(const struct vf_model_enum *e, const char *list)
{
    char buf[128];
    int v;

    vf_model_enum_list(e, buf, sizeof(buf));
    assert_string_equal(buf, list);
    for (unsigned i = 0; i < e->n; i++) {
        assert_true(vf_model_enum_parse(e, e->names[i], &v));
        assert_int_equal(v, e->values[i]);
        assert_string_equal(vf_model_enum_name(e, v), e->names[i]);
    }
    assert_false(vf_model_enum_parse(e, "nope", &v));
    assert_null(vf_model_enum_name(e, 1000));
}

static void test_enums(void **state)
{
    (void)state;
    check_enum(&vf_model_encaps, "geneve or vxlan");
    check_enum(&vf_attach_types, "ring, tap, verbs or vhost-user");
    check_enum(&vf_attach_modes, "client or server");
    check_enum(&vf_uplink_types, "ring, udp or verbs");
    check_enum(&vf_acl_dirs, "from-port or to-port");
    check_enum(&vf_acl_actions, "allow, drop, allow-related or reject");
    check_enum(&vf_acl_protos, "tcp, udp, icmp, icmp6 or any");
    check_enum(&vf_nat_types, "snat, dnat or dnat_and_snat");
    check_enum(&vf_lb_protos, "tcp or udp");
    int v;
    assert_true(vf_model_enum_parse(&vf_acl_protos, "udp", &v));
    assert_int_equal(v, 17);
    assert_int_equal(VF_ATTACH_TAP, 1);
    assert_int_equal(VF_ACL_PROTO_ICMP, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_schema),
        cmocka_unit_test(test_counts_and_order),
        cmocka_unit_test(test_walk_stops),
        cmocka_unit_test(test_enums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
