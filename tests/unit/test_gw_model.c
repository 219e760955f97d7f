/* test_gw_model.c - the gateways' model (issue 16): physical switches,
 * gateway ports, NAT rules, load balancers and local physical_networks.
 *
 * A file with all of them loads into the fields it says, writes back as
 * JSON that loads into the same model (what `show` and the state file
 * use), and edits through the kind table; every bad input of docs/config.md
 * "Gateways, NAT, load balancers" is refused with the entry and the field
 * named; the store's layout (format 1) refuses each of them by name
 * instead of dropping it. Compiled (slice 2): a physical switch gets its
 * localnet on the chassis that serves its gateway port, and a learned next
 * hop takes a routed packet out through it; without one the packet is
 * dropped as router_no_next_hop_mac on the gateway chassis and redirected
 * to it from the others.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_compile_gw.h"
#include "mgmt/control/vf_kinds.h"
#include "mgmt/control/vf_model.h"
#include "mgmt/control/vf_model_edit.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/layout/vf_layout.h"
#include "pipeline/vf_trace.h"

static const char BASE[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: blue-web\n"
"        vni: 1001\n"
"        ports:\n"
"          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv1}\n"
"          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2], chassis: hv2}\n"
"      - name: blue-ext\n"
"        vni: 1009\n"
"        physical: {network: ext, vlan: 12}\n"
"    routers:\n"
"      - name: blue-r\n"
"        ports:\n"
"          - {name: blue-r-web, switch: blue-web, mac: \"02:00:00:00:ff:01\", cidr: 10.0.0.254/24}\n"
"          - {name: blue-r-ext, switch: blue-ext, mac: \"02:00:00:00:ff:09\", cidr: 203.0.113.2/24, gateway_chassis: [hv1, hv2]}\n"
"        routes:\n"
"          - {prefix: 0.0.0.0/0, nexthop: 203.0.113.1}\n"
"        nat:\n"
"          - {type: snat, external_ip: 203.0.113.2, logical_ip: 10.0.0.0/24}\n"
"          - {type: dnat_and_snat, external_ip: 203.0.113.50, logical_ip: 10.0.0.1}\n"
"          - {type: dnat, external_ip: 203.0.113.51, logical_ip: 10.0.0.2}\n"
"          - {type: snat, external_ip: 203.0.113.2, logical_ip: 10.0.9.0/24, external_port_range: 20000-29999}\n"
"    load_balancers:\n"
"      - name: web-lb\n"
"        vip: 10.0.0.100:80\n"
"        protocol: tcp\n"
"        backends: [10.0.0.1:8080, 10.0.0.2:8080]\n"
"        switches: [blue-web]\n"
"        routers: [blue-r]\n"
"  - name: red\n"
"    switches:\n"
"      - {name: red-web, vni: 2001, ports: [{name: red-vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv1}]}\n"
"      - {name: red-ext, vni: 2009, physical: {network: ext}}\n"
"    routers:\n"
"      - name: red-r\n"
"        ports:\n"
"          - {name: red-r-web, switch: red-web, mac: \"02:00:00:00:fe:01\", cidr: 10.0.0.254/24}\n"
"          - {name: red-r-ext, switch: red-ext, mac: \"02:00:00:00:fe:09\", cidr: 203.0.113.3/24, gateway_chassis: [hv2]}\n"
"        nat:\n"
"          - {type: snat, external_ip: 203.0.113.3, logical_ip: 10.0.0.0/24}\n"
"local:\n"
"  chassis: hv1\n"
"  physical_networks: {ext: veth-ext0, mgmt: eth9}\n";

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static void load_ok(const char *y, struct vf_model *m)
{
    char err[1024];
    if (vf_config_load_string(y, strlen(y), m, err, sizeof(err)))
        fail_msg("load: %s", err);
}

/* BASE with the first occurrence of from replaced by to. */
static char *mutate(const char *from, const char *to)
{
    const char *at = strstr(BASE, from);
    char *y;

    if (!at)
        fail_msg("mutation anchor not in BASE: %s", from);
    y = malloc(strlen(BASE) + strlen(to) + 1);
    assert_non_null(y);
    memcpy(y, BASE, (size_t)(at - BASE));
    strcpy(y + (at - BASE), to);
    strcat(y, at + strlen(from));
    return y;
}

static void test_loads(void **state)
{
    struct vf_model m;
    (void)state;
    load_ok(BASE, &m);
    const struct vf_model_tenant *b = &m.tenants[0];
    assert_string_equal(b->switches[1].physical.network, "ext");
    assert_int_equal(b->switches[1].physical.vlan, 12);
    assert_string_equal(b->switches[0].physical.network, "");
    assert_int_equal(m.tenants[1].switches[1].physical.vlan, 0);
    const struct vf_model_rport *gw = &b->routers[0].ports[1];
    assert_int_equal(gw->n_gw_chassis, 2);
    assert_string_equal(gw->gw_chassis[0], "hv1");
    assert_int_equal(gw->gw_chassis_idx[0], 0);
    assert_int_equal(gw->gw_chassis_idx[1], 1);
    assert_int_equal(b->routers[0].ports[0].n_gw_chassis, 0);
    assert_int_equal(b->routers[0].n_nats, 4);
    const struct vf_model_nat *n = b->routers[0].nats;
    assert_int_equal(n[0].type, VF_NAT_SNAT);
    assert_int_equal(n[0].external_ip, ip4("203.0.113.2"));
    assert_int_equal(n[0].logical_ip, ip4("10.0.0.0"));
    assert_int_equal(n[0].logical_plen, 24);
    assert_int_equal(n[0].port_lo, 0);
    assert_int_equal(n[0].port_hi, 65535);
    assert_int_equal(n[1].type, VF_NAT_DNAT_AND_SNAT);
    assert_int_equal(n[1].logical_plen, 32);
    assert_int_equal(n[2].type, VF_NAT_DNAT);
    assert_int_equal(n[3].port_lo, 20000);
    assert_int_equal(n[3].port_hi, 29999);
    assert_int_equal(b->n_lbs, 1);
    const struct vf_model_lb *lb = &b->lbs[0];
    assert_string_equal(lb->name, "web-lb");
    assert_int_equal(lb->vip, ip4("10.0.0.100"));
    assert_int_equal(lb->vip_port, 80);
    assert_int_equal(lb->proto, VF_LB_TCP);
    assert_int_equal(lb->n_backends, 2);
    assert_int_equal(lb->backends[1].ip, ip4("10.0.0.2"));
    assert_int_equal(lb->backends[1].port, 8080);
    assert_int_equal(lb->n_switches, 1);
    assert_string_equal(lb->routers[0], "blue-r");
    assert_int_equal(m.local.n_physnets, 2);
    assert_string_equal(m.local.physnets[0].name, "ext");
    assert_string_equal(m.local.physnets[0].ifname, "veth-ext0");
    assert_string_equal(m.local.physnets[1].ifname, "eth9");
    /* The kind table sees the new kinds where the file has them. */
    assert_int_equal(vf_kind_count(VF_KIND_NAT, &b->routers[0]), 4);
    assert_int_equal(vf_kind_count(VF_KIND_LB, b), 1);
    assert_string_equal(vf_kind_label(VF_KIND_LB, lb), "web-lb");
    vf_model_free(&m);
}

/* What show and the state file write loads back into the same model. */
static void test_json_roundtrip(void **state)
{
    struct vf_model m, m2;
    json_t *j, *j2;
    char *s;
    (void)state;
    load_ok(BASE, &m);
    j = vf_model_to_json(&m);
    assert_non_null(j);
    s = json_dumps(j, JSON_SORT_KEYS);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"physical\": {\"network\": \"ext\", "
                              "\"vlan\": 12}"));
    assert_non_null(strstr(s, "\"gateway_chassis\": [\"hv1\", \"hv2\"]"));
    assert_non_null(strstr(s, "\"external_port_range\": \"20000-29999\""));
    assert_non_null(strstr(s, "\"backends\": [\"10.0.0.1:8080\", "
                              "\"10.0.0.2:8080\"]"));
    assert_non_null(strstr(s, "\"physical_networks\": {\"ext\": "
                              "\"veth-ext0\", \"mgmt\": \"eth9\"}"));
    /* A switch without physical, a router without nat: nothing written. */
    assert_null(strstr(s, "\"physical\": {\"network\": \"\""));
    load_ok(s, &m2);
    j2 = vf_model_to_json(&m2);
    assert_true(json_equal(j, j2));
    free(s);
    json_decref(j);
    json_decref(j2);
    vf_model_free(&m);
    vf_model_free(&m2);
}

/* Bad input is refused whole, naming the entry and the field. */
static void test_refusals(void **state)
{
    static const struct {
        const char *from, *to, *want;
    } cases[] = {
        /* overlapping NAT external IPs */
        { "external_ip: 203.0.113.51", "external_ip: 203.0.113.50",
          "routers[0] (blue-r) nat[2]: field 'external_ip': 203.0.113.50 "
          "overlaps nat[1] (dnat_and_snat" },
        { "external_ip: 203.0.113.3, logical_ip", "external_ip: 203.0.113.50, "
          "logical_ip", "tenants[1] (red) routers[0] (red-r) nat[0]: field "
          "'external_ip': 203.0.113.50 overlaps nat[1] of router blue-r "
          "(tenant blue)" },
        /* an external IP not in the gateway's subnet */
        { "external_ip: 203.0.113.51", "external_ip: 198.51.100.7",
          "nat[2]: field 'external_ip': 198.51.100.7 is not in the subnet of "
          "gateway port blue-r-ext (203.0.113.2/24)" },
        { "external_ip: 203.0.113.51", "external_ip: 203.0.113.255",
          "nat[2]: field 'external_ip': 203.0.113.255 is the broadcast "
          "address" },
        { "external_ip: 203.0.113.50", "external_ip: 203.0.113.2",
          "nat[1]: field 'external_ip': 203.0.113.2 is gateway port "
          "blue-r-ext's own address" },
        /* an LB with no backends */
        { "backends: [10.0.0.1:8080, 10.0.0.2:8080]", "backends: []",
          "tenants[0] (blue) load_balancers[0] (web-lb): field 'backends' "
          "is empty" },
        /* a VIP equal to a port's address */
        { "vip: 10.0.0.100:80", "vip: 10.0.0.2:80",
          "load_balancers[0] (web-lb): field 'vip': 10.0.0.2 is the address "
          "of port vm2" },
        { "vip: 10.0.0.100:80", "vip: 10.0.0.254:80",
          "field 'vip': 10.0.0.254 is the address of port blue-r-web" },
        { "vip: 10.0.0.100:80", "vip: 10.0.0.100",
          "load_balancers[0] (web-lb): field 'vip': \"10.0.0.100\" is not "
          "IP:PORT" },
        { "backends: [10.0.0.1:8080, 10.0.0.2:8080]",
          "backends: [10.0.0.1:8080, 10.0.0.1:8080]",
          "field 'backends': 10.0.0.1:8080 is listed twice" },
        { "        switches: [blue-web]\n        routers: [blue-r]\n", "",
          "load_balancers[0] (web-lb): field 'switches' is missing" },
        { "switches: [blue-web]", "switches: [red-web]",
          "field 'switches': \"red-web\" is not a switch of tenant blue" },
        { "protocol: tcp", "protocol: sctp",
          "field 'protocol': \"sctp\" is not tcp or udp" },
        /* gateway ports */
        { ", gateway_chassis: [hv1, hv2]", "",
          "routers[0] (blue-r) ports[1] (blue-r-ext): field 'gateway_chassis' "
          "is missing: switch blue-ext is physical" },
        { "gateway_chassis: [hv1, hv2]", "gateway_chassis: [hv1, hv7]",
          "ports[1] (blue-r-ext): field 'gateway_chassis': \"hv7\" is not a "
          "chassis of the fabric" },
        { "gateway_chassis: [hv1, hv2]", "gateway_chassis: [hv1, hv1]",
          "field 'gateway_chassis': \"hv1\" is listed twice" },
        { "cidr: 10.0.0.254/24}\n          - {name: blue-r-ext",
          "cidr: 10.0.0.254/24, gateway_chassis: [hv1]}\n"
          "          - {name: blue-r-ext",
          "ports[0] (blue-r-web): field 'gateway_chassis' only applies to a "
          "router port on a physical switch (switch blue-web" },
        { "physical: {network: ext, vlan: 12}", "physical: {network: ext, "
          "vlan: 4095}", "switches[1] (blue-ext): field 'physical.vlan': "
          "\"4095\" is out of range 0..4094" },
        { "physical: {network: ext, vlan: 12}", "physical: {vlan: 12}",
          "missing field 'physical.network'" },
        /* NAT fields */
        { "logical_ip: 10.0.0.1}", "logical_ip: 10.0.0.0/24}",
          "nat[1]: field 'logical_ip': 10.0.0.0/24 is a prefix; "
          "dnat_and_snat needs one address" },
        { "logical_ip: 10.0.0.0/24}\n          - {type: dnat_and_snat",
          "logical_ip: 10.0.0.1/24}\n          - {type: dnat_and_snat",
          "nat[0]: field 'logical_ip': 10.0.0.1/24 has host bits set" },
        { "logical_ip: 10.0.0.2}", "logical_ip: 10.0.0.1}",
          "nat[2]: field 'logical_ip': 10.0.0.1 already has nat[1]" },
        { "logical_ip: 10.0.9.0/24, external_port_range: 20000-29999",
          "logical_ip: 10.0.0.0/24", "nat[3]: field 'logical_ip': "
          "10.0.0.0/24 is already SNATed by nat[0]" },
        { "logical_ip: 10.0.0.2}", "logical_ip: 10.0.0.2, "
          "external_port_range: 100-200}", "nat[2]: field "
          "'external_port_range' only applies to type snat" },
        { "{type: dnat, ", "{type: masquerade, ",
          "field 'type': \"masquerade\" is not snat, dnat or dnat_and_snat" },
        { "          - {name: red-r-ext, switch: red-ext, mac: "
          "\"02:00:00:00:fe:09\", cidr: 203.0.113.3/24, gateway_chassis: "
          "[hv2]}\n", "", "tenants[1] (red) routers[0] (red-r) nat[0]: "
          "field 'external_ip' needs a gateway port on router red-r" },
        /* local.physical_networks */
        { "{ext: veth-ext0, mgmt: eth9}", "{ext: veth-ext0, mgmt: veth-ext0}",
          "local: field 'physical_networks': ext and mgmt both name "
          "interface veth-ext0" },
        { "{ext: veth-ext0, mgmt: eth9}", "{ext: veth-ext0, mgmt: "
          "an-interface-name-too-long}", "local: field 'physical_networks': "
          "\"an-interface-name-too-long\" is not an interface name" },
        { "{ext: veth-ext0, mgmt: eth9}", "{ext: \"../x\"}",
          "local: field 'physical_networks': ext: \"../x\"" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *y = mutate(cases[i].from, cases[i].to), err[1024] = "";
        struct vf_model m;
        int rc = vf_config_load_string(y, strlen(y), &m, err, sizeof(err));
        if (rc != -EINVAL || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d, err \"%s\"; want \"%s\"", i, rc, err,
                     cases[i].want);
        vf_model_free(&m);
        free(y);
    }
}

/* Add and delete through the kind table, as vfabctl add/del do. */
static void test_edit(void **state)
{
    struct vf_model m, m2, m3;
    char err[1024];
    json_t *spec;
    (void)state;
    load_ok(BASE, &m);
    spec = json_pack("{s:s, s:{s:s, s:s, s:s}}", "router", "red-r", "nat",
                     "type", "dnat_and_snat", "external_ip", "203.0.113.60",
                     "logical_ip", "10.0.0.1");
    if (vf_model_edit(&m, VF_EDIT_ADD, "nat", spec, false, &m2, err,
                      sizeof(err)))
        fail_msg("add nat: %s", err);
    json_decref(spec);
    assert_int_equal(m2.tenants[1].routers[0].n_nats, 2);
    /* The same floating IP again is an overlap, refused by field. */
    spec = json_pack("{s:s, s:{s:s, s:s, s:s}}", "router", "blue-r", "nat",
                     "type", "dnat_and_snat", "external_ip", "203.0.113.60",
                     "logical_ip", "10.0.0.9");
    assert_int_equal(vf_model_edit(&m2, VF_EDIT_ADD, "nat", spec, false, &m3,
                                   err, sizeof(err)), -EINVAL);
    if (!strstr(err, "field 'external_ip': 203.0.113.60 overlaps"))
        fail_msg("unexpected: %s", err);
    json_decref(spec);
    spec = json_pack("{s:s, s:{s:s, s:s, s:[s], s:[s]}}", "tenant", "red",
                     "load-balancer", "name", "red-lb", "vip", "10.0.0.80:53",
                     "backends", "10.0.0.1:53", "switches", "red-web");
    if (vf_model_edit(&m2, VF_EDIT_ADD, "load-balancer", spec, false, &m3,
                      err, sizeof(err)))
        fail_msg("add load-balancer: %s", err);
    json_decref(spec);
    assert_int_equal(m3.tenants[1].n_lbs, 1);
    vf_model_free(&m2);
    spec = json_pack("{s:s}", "name", "web-lb");
    if (vf_model_edit(&m3, VF_EDIT_DEL, "load-balancer", spec, false, &m2,
                      err, sizeof(err)))
        fail_msg("del load-balancer: %s", err);
    json_decref(spec);
    assert_int_equal(m2.tenants[0].n_lbs, 0);
    assert_int_equal(m2.tenants[1].n_lbs, 1);
    vf_model_free(&m3);
    spec = json_pack("{s:s, s:i}", "router", "blue-r", "index", 1);
    if (vf_model_edit(&m2, VF_EDIT_DEL, "nat", spec, false, &m3, err,
                      sizeof(err)))
        fail_msg("del nat: %s", err);
    json_decref(spec);
    assert_int_equal(m3.tenants[0].routers[0].n_nats, 3);
    assert_int_equal(m3.tenants[0].routers[0].nats[1].type, VF_NAT_DNAT);
    vf_model_free(&m);
    vf_model_free(&m2);
    vf_model_free(&m3);
}

/* The store has no keys for these yet: refused by name, never dropped. */
static void test_store_refuses(void **state)
{
    struct vf_model m;
    struct vf_layout_kvs s;
    char err[1024];
    (void)state;
    load_ok(BASE, &m);
    memset(&s, 0, sizeof(s));
    assert_int_equal(vf_layout_from_model(&m, &s, err, sizeof(err)), -EINVAL);
    if (!strstr(err, "tenant blue: the store (layout format 1) cannot hold a "
                "switch's physical binding"))
        fail_msg("unexpected: %s", err);
    assert_int_equal(s.n, 0);
    vf_model_free(&m);
    /* Each kind alone is refused too. */
    static const char *const only[][2] = {
        { "load_balancers", "cannot hold load_balancers" },
        { "nat", "cannot hold nat" },
        { "gateway_chassis", "cannot hold gateway_chassis" },
    };
    for (size_t i = 0; i < 3; i++) {
        load_ok(BASE, &m);
        for (size_t t = 0; t < m.n_tenants; t++) {
            struct vf_model_tenant *tn = &m.tenants[t];
            for (size_t sw = 0; sw < tn->n_switches; sw++)
                tn->switches[sw].physical.network[0] = '\0';
            for (size_t r = 0; r < tn->n_routers; r++) {
                if (i != 2)
                    for (size_t p = 0; p < tn->routers[r].n_ports; p++)
                        tn->routers[r].ports[p].n_gw_chassis = 0;
                if (i != 1)
                    tn->routers[r].n_nats = 0;
            }
            if (i != 0) {
                for (size_t l = 0; l < tn->n_lbs; l++) {
                    free(tn->lbs[l].backends);
                    free(tn->lbs[l].switches);
                    free(tn->lbs[l].routers);
                }
                tn->n_lbs = 0;
            }
        }
        assert_int_equal(vf_layout_check_model(&m, err, sizeof(err)),
                         -EINVAL);
        if (!strstr(err, only[i][1]))
            fail_msg("%s: unexpected: %s", only[i][0], err);
        vf_model_free(&m);
    }
}


/* The tables of a gateway (vf_compile_gw.h), traced. */
static struct vf_port *g_phys;

static struct vf_port *phys_of(void *arg, const struct vf_model_switch *sw)
{
    (void)arg;
    return strcmp(sw->name, "blue-ext") == 0 ? g_phys : NULL;
}

static void test_compile(void **state)
{
    struct vf_model m;
    struct vf_trace *tr = calloc(1, sizeof(*tr));
    struct vf_trace_pkt pk = {0};
    char err[512];
    (void)state;
    assert_non_null(tr);
    load_ok(BASE, &m);
    g_phys = vf_ring_port_open("blue-ext/physical", 1, 64, -1);
    assert_non_null(g_phys);
    g_phys->index = 7;
    const struct vf_model_rport *gw = &m.tenants[0].routers[0].ports[1];
    struct vf_gw_neigh nb = { .rport_id = gw->id,
                              .n = { .ip = ip4("203.0.113.1"),
                                     .mac = {0x02, 0xee, 0, 0, 0, 1} } };
    struct vf_compile_env env = { .chassis_idx = 0, .physical_of = phys_of };
    assert_int_equal(vf_gw_switch_chassis(&m.tenants[0], 1), 0);
    assert_int_equal(vf_gw_switch_chassis(&m.tenants[0], 0), -1);
    assert_int_equal(vf_gw_switch_chassis(&m.tenants[1], 1), 1);

    /* hv1 serves blue-ext: its localnet is local, on the physical port. */
    struct vf_tables *t = vf_compile(&m, NULL, &env, 1, err, sizeof(err));
    if (!t)
        fail_msg("compile: %s", err);
    const struct vf_dp *ext = vf_tables_dp_by_id(t, m.tenants[0].switches[1].id);
    assert_non_null(ext);
    const struct vf_lport *ln = &ext->ports[ext->n_ports - 1];
    assert_int_equal(ln->id, vf_gw_localnet_id(1009));
    assert_true(ln->local);
    assert_ptr_equal(ln->fport, g_phys);
    assert_ptr_equal(t->fports[7].dp, ext);
    /* No next hop learned yet: dropped by name. */
    pk.fields = VF_TRACE_F_ETH_DST | VF_TRACE_F_IP_DST;
    memcpy(pk.eth_dst, (uint8_t[]){0x02, 0, 0, 0, 0xff, 0x01}, 6);
    pk.ip_dst = ip4("198.51.100.1");
    assert_int_equal(vf_trace_run(t, "vm1", &pk, tr), 0);
    assert_int_equal(tr->action, VF_TRACE_DROP);
    assert_string_equal(tr->reason_name, "router_no_next_hop_mac");
    /* Learned: out through the localnet, to the next hop's MAC. */
    env.neigh = &nb;
    env.n_neigh = 1;
    struct vf_tables *t2 = vf_compile(&m, t, &env, 2, err, sizeof(err));
    if (!t2)
        fail_msg("compile: %s", err);
    assert_int_equal(vf_trace_run(t2, "vm1", &pk, tr), 0);
    assert_true(tr->routed);
    assert_int_equal(tr->action, VF_TRACE_DELIVER);
    assert_int_equal(tr->n_out, 1);
    assert_string_equal(tr->out[0].port, "blue-ext/physical");
    assert_int_equal(tr->out[0].fport, 7);
    vf_tables_free(t);

    /* hv2 (vm2's) does not serve it: the localnet is hv1's, floods reach
     * hv1, and a packet to the outside, whose next hop hv2 cannot know,
     * is redirected to hv1 with destination MAC 00:00:00:00:00:00 (hv1
     * resolves it on decap). */
    struct vf_port *up = vf_ring_port_open("uplink", 1, 64, -1);
    assert_non_null(up);
    up->index = 8;
    env = (struct vf_compile_env){ .chassis_idx = 1, .physical_of = phys_of,
                                   .uplink = up };
    struct vf_tables *t3 = vf_compile(&m, NULL, &env, 1, err, sizeof(err));
    if (!t3)
        fail_msg("compile: %s", err);
    ext = vf_tables_dp_by_id(t3, m.tenants[0].switches[1].id);
    assert_non_null(ext);
    ln = &ext->ports[ext->n_ports - 1];
    assert_false(ln->local);
    assert_null(ln->fport);
    assert_int_equal(ln->chassis, 0);
    assert_int_equal(ext->n_flood_remote, 1);
    assert_int_equal(ext->flood_remote[0], 0);
    assert_int_equal(vf_trace_run(t3, "vm2", &pk, tr), 0);
    assert_true(tr->routed);
    assert_int_equal(tr->action, VF_TRACE_TUNNEL);
    assert_int_equal(tr->n_out, 1);
    assert_string_equal(tr->out[0].port, "blue-ext/physical");
    assert_string_equal(tr->out[0].chassis, "hv1");
    assert_int_equal(tr->out[0].lport, vf_gw_localnet_id(1009));
    assert_int_equal(tr->out[0].vni, 1009);
    vf_tables_free(t2);
    vf_tables_free(t3);
    vf_port_close(g_phys);
    vf_port_close(up);
    vf_model_free(&m);
    free(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_edit),
        cmocka_unit_test(test_store_refuses),
        cmocka_unit_test(test_compile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
