/* test_compile.c - the table compiler: contents, sharing, errors.
 *
 * Sharing is checked by identity: a datapath whose inputs did not change
 * must be the very same object in the new snapshot (and counted as not
 * built), one whose inputs changed must be a new object. Freeing in either
 * order must leave no leak and no double free (run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vf_test_logical.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static struct vf_port *fake_ports[64];

/* Gives each local model port a (never used for I/O) ring port. */
static struct vf_port *port_of(void *arg, const struct vf_model_port *mp)
{
    (void)arg;
    unsigned i = mp->id;
    if (i >= 64)
        return NULL;
    if (!fake_ports[i]) {
        fake_ports[i] = vf_ring_port_open(mp->name, 1, 2, -1);
        fake_ports[i]->index = 100 + i;
    }
    return fake_ports[i];
}

static void close_ports(void)
{
    for (unsigned i = 0; i < 64; i++) {
        vf_port_close(fake_ports[i]);
        fake_ports[i] = NULL;
    }
}

/* hv1 hosts a (blue-a); blue-b is reachable through r; blue-c is not;
 * green-x has nothing on hv1. */
static void build(struct vf_model *m)
{
    memset(m, 0, sizeof(*m));
    lt_chassis(m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(m, "hv2", IP(192, 0, 2, 2), VF_MODEL_ENCAP_VXLAN);
    lt_chassis(m, "hv3", IP(192, 0, 2, 3), VF_MODEL_ENCAP_GENEVE);
    int b = lt_tenant(m, "blue");
    int sa = lt_switch(m, b, "blue-a", 10);
    lt_port(m, b, sa, "a1", 0x11, IP(10, 0, 0, 1), 0, true);
    lt_port(m, b, sa, "a2", 0x12, IP(10, 0, 0, 2), 1, false);
    lt_port(m, b, sa, "a3", 0x13, IP(10, 0, 0, 3), 1, false);
    lt_port(m, b, sa, "a4", 0x14, IP(10, 0, 0, 4), 2, false);
    int sb = lt_switch(m, b, "blue-b", 11);
    lt_port(m, b, sb, "b1", 0x21, IP(10, 0, 1, 1), 1, false);
    int sc = lt_switch(m, b, "blue-c", 12);
    lt_port(m, b, sc, "c1", 0x31, IP(10, 0, 2, 1), 2, false);
    int r = lt_router(m, b, "r");
    lt_rport(m, b, r, "r-a", sa, 0xff01, IP(10, 0, 0, 254), 24);
    lt_rport(m, b, r, "r-b", sb, 0xff02, IP(10, 0, 1, 254), 24);
    lt_route(m, b, r, IP(0, 0, 0, 0), 0, IP(10, 0, 1, 1));
    lt_route(m, b, r, IP(172, 16, 0, 0), 12, IP(10, 9, 9, 9)); /* unreachable */
    struct vf_model_acl *a = lt_acl(m, b, sa, VF_ACL_TO_PORT, 5, VF_ACL_DROP);
    snprintf(a->port, sizeof(a->port), "a1");
    lt_acl(m, b, sa, VF_ACL_FROM_PORT, 5, VF_ACL_DROP);
    int g = lt_tenant(m, "green");
    int sx = lt_switch(m, g, "green-x", 20);
    lt_port(m, g, sx, "x1", 0x11, IP(10, 0, 0, 1), 1, false);
    lt_assign_ids(m);
}

static struct vf_tables *compile(const struct vf_model *m, const struct vf_tables *prev,
                                 uint64_t gen, struct vf_port *uplink)
{
    char err[256] = "";
    struct vf_compile_env env = {
        .chassis_idx = 0, .port_of = port_of, .uplink = uplink,
    };
    struct vf_tables *t = vf_compile(m, prev, &env, gen, err, sizeof(err));
    if (!t)
        fprintf(stderr, "compile: %s\n", err);
    return t;
}

static void test_contents(void **state)
{
    (void)state;
    struct vf_model m;
    build(&m);
    struct vf_port *up = vf_ring_port_open("up", 1, 2, -1);
    up->index = 1;
    struct vf_tables *t = compile(&m, NULL, 7, up);
    assert_non_null(t);
    assert_int_equal(t->generation, 7);
    assert_ptr_equal(t->uplink, up);
    assert_int_equal(t->n_dps, 2);            /* blue-a, blue-b */
    assert_int_equal(t->n_routers, 1);
    assert_null(vf_tables_dp_by_vni(t, 12));
    assert_null(vf_tables_dp_by_vni(t, 20));
    const struct vf_dp *a = vf_tables_dp_by_vni(t, 10);
    assert_non_null(a);
    assert_string_equal(a->name, "blue-a");
    assert_int_equal(a->n_ports, 5);          /* 4 VMs + the router port */
    assert_int_equal(a->n_flood_local, 1);
    assert_int_equal(a->n_flood_remote, 2);   /* hv2 once, hv3 */
    assert_int_equal(a->n_acl_in, 1);
    assert_int_equal(a->n_acl_out, 1);
    /* Fabric port map: a1's ring port -> (blue-a, a1). */
    const struct vf_fport_map *fm = &t->fports[fake_ports[1]->index];
    assert_ptr_equal(fm->dp, a);
    assert_string_equal(a->ports[fm->lport].name, "a1");
    assert_ptr_equal(vf_tables_lport_fport(&a->ports[fm->lport]), fake_ports[1]);
    assert_null(vf_tables_lport_fport(&a->ports[1]));   /* a2 is remote */
    /* Chassis: peers toward the others with their encap. */
    assert_int_equal(t->n_chassis, 3);
    assert_true(t->chassis[0].local);
    assert_int_equal(t->chassis[1].peer.encap, VF_ENCAP_VXLAN);
    assert_int_equal(t->chassis[2].peer.dst_ip, htonl(IP(192, 0, 2, 3)));
    assert_int_equal(t->chassis[2].peer.src_ip, htonl(IP(192, 0, 2, 1)));
    /* Routes: longest first, the unreachable static one has no port. */
    const struct vf_router *r = t->routers[0];
    assert_int_equal(r->n_routes, 4);
    assert_int_equal(r->routes[0].plen, 24);
    assert_int_equal(r->routes[2].plen, 12);
    assert_int_equal(r->routes[2].out, UINT32_MAX);
    assert_int_equal(r->routes[3].plen, 0);
    assert_int_equal(r->routes[3].out, 1);    /* via r-b */
    vf_tables_free(t);
    vf_port_close(up);
    close_ports();
    lt_model_free(&m);
}

static void test_sharing(void **state)
{
    (void)state;
    struct vf_model m;
    build(&m);
    struct vf_tables *t1 = compile(&m, NULL, 1, NULL);
    assert_non_null(t1);
    assert_int_equal(t1->n_dps_built, 2);

    /* Nothing changed: everything shared. */
    struct vf_tables *t2 = compile(&m, t1, 2, NULL);
    assert_int_equal(t2->n_dps_built, 0);
    assert_int_equal(t2->n_routers_built, 0);
    assert_ptr_equal(vf_tables_dp_by_vni(t2, 10), vf_tables_dp_by_vni(t1, 10));

    /* A port added to blue-b (with an id that does not shift others):
     * only blue-b is rebuilt; the router is shared. */
    struct vf_model_switch *sb = &m.tenants[0].switches[1];
    lt_port(&m, 0, 1, "b2", 0x22, IP(10, 0, 1, 2), 2, false);
    sb->ports[sb->n_ports - 1].id = 500;
    struct vf_tables *t3 = compile(&m, t2, 3, NULL);
    assert_non_null(t3);
    assert_int_equal(t3->n_dps_built, 1);
    assert_int_equal(t3->n_routers_built, 0);
    assert_ptr_equal(vf_tables_dp_by_vni(t3, 10), vf_tables_dp_by_vni(t1, 10));
    assert_ptr_not_equal(vf_tables_dp_by_vni(t3, 11), vf_tables_dp_by_vni(t2, 11));
    assert_int_equal(vf_tables_dp_by_vni(t3, 11)->n_ports, 3);
    assert_int_equal(vf_tables_dp_by_vni(t2, 11)->n_ports, 2);   /* untouched */
    assert_ptr_equal(t3->routers[0], t1->routers[0]);

    /* An ACL change rebuilds only its switch. */
    m.tenants[0].acls[1].priority = 6;
    struct vf_tables *t4 = compile(&m, t3, 4, NULL);
    assert_int_equal(t4->n_dps_built, 1);
    assert_ptr_not_equal(vf_tables_dp_by_vni(t4, 10), vf_tables_dp_by_vni(t3, 10));
    assert_ptr_equal(vf_tables_dp_by_vni(t4, 11), vf_tables_dp_by_vni(t3, 11));

    /* A route change rebuilds the router only. */
    m.tenants[0].routers[0].routes[0].nexthop = htonl(IP(10, 0, 1, 2));
    struct vf_tables *t5 = compile(&m, t4, 5, NULL);
    assert_int_equal(t5->n_dps_built, 0);
    assert_int_equal(t5->n_routers_built, 1);

    /* Chassis: shared while unchanged; a moved chassis gets a new peer. */
    assert_ptr_equal(t5->chassis_tab, t1->chassis_tab);
    m.chassis[2].underlay_ip = htonl(IP(192, 0, 2, 33));
    struct vf_tables *t6 = compile(&m, t5, 6, NULL);
    assert_ptr_not_equal(t6->chassis_tab, t5->chassis_tab);
    assert_int_equal(t6->chassis[2].peer.dst_ip, htonl(IP(192, 0, 2, 33)));
    assert_int_equal(t5->chassis[2].peer.dst_ip, htonl(IP(192, 0, 2, 3)));
    assert_memory_equal(&t6->chassis[1].peer, &t5->chassis[1].peer,
                        sizeof(t5->chassis[1].peer));
    assert_int_equal(t6->n_dps_built, 0);
    vf_tables_free(t6);

    /* Free out of order: shared objects survive until their last user. */
    vf_tables_free(t1);
    vf_tables_free(t4);
    assert_int_equal(vf_tables_dp_by_vni(t3, 10)->n_ports, 5);
    vf_tables_free(t2);
    vf_tables_free(t5);
    vf_tables_free(t3);
    vf_tables_free(NULL);
    close_ports();
    lt_model_free(&m);
}

static void test_reachability(void **state)
{
    (void)state;
    struct vf_model m;
    build(&m);
    /* Move a1 away: hv1 has no port of blue any more. */
    m.tenants[0].switches[0].ports[0].chassis_idx = 1;
    struct vf_tables *t = compile(&m, NULL, 1, NULL);
    assert_int_equal(t->n_dps, 0);
    assert_int_equal(t->n_routers, 0);
    vf_tables_free(t);
    /* A port on blue-c: blue-c only (no router touches it). */
    m.tenants[0].switches[2].ports[0].chassis_idx = 0;
    t = compile(&m, NULL, 1, NULL);
    assert_int_equal(t->n_dps, 1);
    assert_non_null(vf_tables_dp_by_vni(t, 12));
    vf_tables_free(t);
    close_ports();
    lt_model_free(&m);
}

static void test_errors(void **state)
{
    (void)state;
    struct vf_model m;
    char err[256];
    build(&m);
    snprintf(m.tenants[0].acls[0].port, VF_NAME_MAX, "nope");
    struct vf_compile_env env = { .chassis_idx = 0, .port_of = port_of };
    assert_null(vf_compile(&m, NULL, &env, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "nope"));
    assert_non_null(strstr(err, "blue-a"));
    snprintf(m.tenants[0].acls[0].port, VF_NAME_MAX, "a1");
    env.chassis_idx = 9;
    assert_null(vf_compile(&m, NULL, &env, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "chassis"));
    /* Two ports on one fabric index. */
    env.chassis_idx = 0;
    struct vf_port *up = vf_ring_port_open("up", 1, 2, -1);
    env.uplink = up;
    struct vf_tables *ok = vf_compile(&m, NULL, &env, 1, err, sizeof(err));
    assert_non_null(ok);
    up->index = fake_ports[1]->index;
    assert_null(vf_compile(&m, NULL, &env, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "used twice"));
    vf_tables_free(ok);
    vf_port_close(up);
    close_ports();
    lt_model_free(&m);
}

/* Liveness as a compile input (vfabd --store): a chassis that is down has
 * its ports marked unreachable and gets no flood copies; the datapaths it
 * touches are rebuilt when it changes, the others shared. */
static void test_chassis_down(void **state)
{
    (void)state;
    struct vf_model m;
    build(&m);
    struct vf_port *up = vf_ring_port_open("up", 1, 2, -1);
    up->index = 1;
    char err[256] = "";
    uint8_t down[3] = {1, 0, 1};           /* hv3 down; hv1 is local: ignored */
    struct vf_compile_env env = {.chassis_idx = 0, .port_of = port_of, .uplink = up};
    struct vf_tables *t0 = vf_compile(&m, NULL, &env, 1, err, sizeof(err));
    env.chassis_down = down;
    struct vf_tables *t1 = vf_compile(&m, t0, &env, 2, err, sizeof(err));
    assert_non_null(t0);
    assert_non_null(t1);
    const struct vf_dp *a0 = vf_tables_dp_by_vni(t0, 10), *a1 = vf_tables_dp_by_vni(t1, 10);
    const struct vf_dp *b0 = vf_tables_dp_by_vni(t0, 11), *b1 = vf_tables_dp_by_vni(t1, 11);
    assert_int_equal(a0->n_flood_remote, 2);
    assert_int_equal(a1->n_flood_remote, 1);  /* hv2 only */
    assert_int_equal(a1->flood_remote[0], 1);
    for (uint32_t i = 0; i < a1->n_ports; i++) {
        const struct vf_lport *lp = &a1->ports[i];
        bool on_hv3 = lp->kind == VF_LPORT_VM && !lp->local && lp->chassis == 2;
        assert_int_equal(lp->chassis_down, on_hv3);   /* a4 only */
        assert_false(a0->ports[i].chassis_down);
        assert_false(lp->local && lp->chassis_down);  /* never the local one */
    }
    assert_ptr_not_equal(a0, a1);             /* a4 on hv3: rebuilt */
    assert_ptr_equal(b0, b1);                 /* blue-b has nothing on hv3 */
    /* Back up: the flood list and the port again. */
    env.chassis_down = NULL;
    struct vf_tables *t2 = vf_compile(&m, t1, &env, 3, err, sizeof(err));
    assert_non_null(t2);
    assert_int_equal(vf_tables_dp_by_vni(t2, 10)->n_flood_remote, 2);
    vf_tables_free(t0);
    vf_tables_free(t1);
    vf_tables_free(t2);
    vf_port_close(up);
    close_ports();
    lt_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contents),
        cmocka_unit_test(test_chassis_down),
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_reachability),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
