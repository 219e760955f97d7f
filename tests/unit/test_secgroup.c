/* test_secgroup.c - security groups from the model: YAML (port groups,
 * address sets of both families, allow-related, reject, icmp6,
 * max_connections, ct timeouts) through validation and vf_compile into
 * the real pipeline, the JSON round trip, and incremental recompiles.
 *
 * The fabric (vf_test_logical.h) has no post-compile hook here: the ACLs
 * reach the datapaths only through the model's compiler. Expected
 * outcomes come from the security-group rules (docs/config.md), not from
 * the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "mgmt/control/vf_model_json.h"
#include "mgmt/control/vf_secgroup.h"
#include "pipeline/vf_acl.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* blue: web (vm1 hv1, vm2 hv2, vm3 hv1), db (db1 hv1, db2 hv2).
 * Group sg = vm1, db1: out anything (allow-related), in TCP 22 from the
 * admins set only, TCP 23 rejected. vm3: from `bad` dropped (stateless). */
static const char *const yaml =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1}\n"
    "  - {name: hv2, underlay_ip: 192.0.2.2}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: web\n"
    "        vni: 1001\n"
    "        ports:\n"
    "          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1, \"fd00::1\"], chassis: hv1, max_connections: 8}\n"
    "          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2, \"fd00::2\"], chassis: hv2}\n"
    "          - {name: vm3, mac: \"02:00:00:00:01:03\", ips: [10.0.0.3, \"fd00::3\"], chassis: hv1}\n"
    "      - name: db\n"
    "        vni: 1002\n"
    "        ports:\n"
    "          - {name: db1, mac: \"02:00:00:00:02:01\", ips: [10.0.1.1], chassis: hv1}\n"
    "          - {name: db2, mac: \"02:00:00:00:02:02\", ips: [10.0.1.2], chassis: hv2}\n"
    "    port_groups:\n"
    "      - {name: sg, ports: [vm1, db1]}\n"
    "    address_sets:\n"
    "      - {name: admins, addresses: [10.0.0.3, \"fd00::3/128\"]}\n"
    "      - {name: bad, addresses: [\"10.9.0.0/16\"]}\n"
    "    acls:\n"
    "      - {port_group: sg, direction: from-port, priority: 100, action: allow-related}\n"
    "      - {port_group: sg, direction: to-port, priority: 100, action: allow-related,\n"
    "         match: {proto: tcp, dst_port: 22, src_ip: $admins}}\n"
    "      - {port_group: sg, direction: to-port, priority: 200, action: reject,\n"
    "         match: {proto: tcp, dst_port: 23}}\n"
    "      - {switch: web, port: vm3, direction: to-port, priority: 100, action: drop,\n"
    "         match: {src_ip: $bad}}\n"
    "      - {switch: web, port: vm3, direction: to-port, priority: 90, action: allow,\n"
    "         match: {proto: icmp6, icmp_type: 128}}\n"
    "local:\n"
    "  chassis: hv1\n"
    "  ct_timeouts: {udp_new: 5, tcp_established: 3600}\n";

struct world {
    struct vf_model m;
    struct lt_fabric f;
    char *text;             /* the YAML in force (edit() changes it) */
};

static int load(struct vf_model *m, const char *text)
{
    char err[512];
    int rc = vf_config_load_string(text, strlen(text), m, err, sizeof(err));
    if (rc)
        fprintf(stderr, "load: %s\n", err);
    return rc;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    if (!w || !(w->text = strdup(yaml)) || load(&w->m, yaml))
        return -1;
    if (lt_fabric_init_ct(&w->f, &w->m, true, 4096, NULL, NULL))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    lt_fabric_fini(&w->f);
    vf_model_free(&w->m);
    free(w->text);
    free(w);
    return 0;
}

/* ---- packets ---- */
struct ep {
    const char *name;
    uint32_t mac, ip;       /* host order; IPv6 fd00::<last byte> */
};
static const struct ep VM1 = {"vm1", 0x0101, IP(10, 0, 0, 1)};
static const struct ep VM2 = {"vm2", 0x0102, IP(10, 0, 0, 2)};
static const struct ep VM3 = {"vm3", 0x0103, IP(10, 0, 0, 3)};

static struct lt_result res;

/* Sends a TCP (proto 6), UDP (17) or echo request (1 or 58) from a to b;
 * true when b got it; *why: the one drop reason counted, or -1. */
static bool send_pk(struct world *w, const struct ep *a, const struct ep *b,
                 bool v6, uint8_t proto, uint16_t sport, uint16_t dport,
                 uint8_t flags, int *why)
{
    uint8_t buf[LT_FRAME_MAX];
    struct vf_tpkt t;
    size_t n;

    vf_tpkt_init(&t);
    lt_mac(t.eth_src, a->mac);
    lt_mac(t.eth_dst, b->mac);
    t.ip4_src = a->ip;
    t.ip4_dst = b->ip;
    memset(t.ip6_src, 0, 16);
    memset(t.ip6_dst, 0, 16);
    t.ip6_src[0] = t.ip6_dst[0] = 0xfd;
    t.ip6_src[15] = (uint8_t)a->ip;
    t.ip6_dst[15] = (uint8_t)b->ip;
    t.sport = sport;
    t.dport = dport;
    t.tcp_flags = flags;
    t.tcp_seq = 1000;
    t.tcp_ack = flags & VF_TPKT_TCP_ACK ? 5001 : 0;
    t.icmp_type = v6 ? 128 : 8;
    t.icmp_id = sport;
    t.payload_len = 8;
    if (proto == VF_IPPROTO_TCP)
        n = v6 ? vf_tpkt_ip6_tcp(buf, sizeof(buf), &t)
               : vf_tpkt_ip4_tcp(buf, sizeof(buf), &t);
    else if (proto == VF_IPPROTO_UDP)
        n = v6 ? vf_tpkt_ip6_udp(buf, sizeof(buf), &t)
               : vf_tpkt_ip4_udp(buf, sizeof(buf), &t);
    else
        n = v6 ? vf_tpkt_ip6_icmp6(buf, sizeof(buf), &t)
               : vf_tpkt_ip4_icmp(buf, sizeof(buf), &t);
    assert_true(n > 0);
    assert_int_equal(lt_send(&w->f, a->name, buf, (unsigned)n, &res), 0);
    *why = lt_drop_reason(&res);
    return lt_find(&res, b->name) != NULL;
}

static void want_pass(struct world *w, const struct ep *a, const struct ep *b,
                      bool v6, uint8_t proto, uint16_t sp, uint16_t dp,
                      uint8_t flags)
{
    int why;
    if (!send_pk(w, a, b, v6, proto, sp, dp, flags, &why))
        fail_msg("%s -> %s (v6 %d proto %u %u->%u): dropped as %s", a->name,
                 b->name, v6, proto, sp, dp,
                 why >= 0 ? vf_drop_name((unsigned)why) : "?");
}

static void want_drop(struct world *w, const struct ep *a, const struct ep *b,
                      bool v6, uint8_t proto, uint16_t sp, uint16_t dp,
                      uint8_t flags, unsigned reason)
{
    int why;
    if (send_pk(w, a, b, v6, proto, sp, dp, flags, &why))
        fail_msg("%s -> %s (v6 %d proto %u %u->%u): delivered, want %s",
                 a->name, b->name, v6, proto, sp, dp, vf_drop_name(reason));
    if (why != (int)reason)
        fail_msg("%s -> %s (v6 %d proto %u): dropped as %s, want %s", a->name,
                 b->name, v6, proto,
                 why >= 0 ? vf_drop_name((unsigned)why) : "?",
                 vf_drop_name(reason));
}

#define SYN VF_TPKT_TCP_SYN
#define ACK VF_TPKT_TCP_ACK

static const struct vf_lport *lport(struct world *w, unsigned host,
                                    const char *name)
{
    uint32_t i;
    const struct vf_dp *dp = vf_tables_find_port(w->f.host[host].t, name, &i);
    assert_non_null(dp);
    return &dp->ports[i];
}

/* ---- tests ---- */

static void test_loaded(void **state)
{
    struct world *w = *state;
    const struct vf_model_tenant *tn = &w->m.tenants[0];

    assert_int_equal(tn->n_pgroups, 1);
    assert_int_equal(tn->pgroups[0].n_ports, 2);
    assert_int_equal(tn->n_asets, 2);
    assert_int_equal(tn->asets[0].n_addrs, 2);
    assert_int_equal(tn->asets[0].addrs[0].family, 4);
    assert_int_equal(tn->asets[0].addrs[0].plen, 32);
    assert_int_equal(tn->asets[0].addrs[1].family, 6);
    assert_int_equal(tn->acls[0].action, VF_ACL_ALLOW_RELATED);
    assert_int_equal(tn->acls[0].switch_idx, -1);
    assert_int_equal(tn->acls[0].pgroup_idx, 0);
    assert_int_equal(tn->acls[1].src_set_idx, 0);
    assert_int_equal(tn->acls[2].action, VF_ACL_REJECT);
    assert_int_equal(tn->acls[4].proto, 58);
    assert_int_equal(tn->acls[4].sport_lo, 128);
    assert_int_equal(tn->switches[0].ports[0].max_connections, 8);
    assert_int_equal(w->m.local.ct_timeouts[9], 5);          /* udp_new */
    assert_int_equal(w->m.local.ct_timeouts[2], 3600);       /* tcp_established */

    /* The compiled tables: both group members are tracked in both
     * directions, on their own switches; vm3 and vm2 are not tracked. */
    assert_int_equal(lport(w, 0, "vm1")->ct_flags, VF_LPORT_CT_FROM | VF_LPORT_CT_TO);
    assert_int_equal(lport(w, 0, "db1")->ct_flags, VF_LPORT_CT_FROM | VF_LPORT_CT_TO);
    assert_int_equal(lport(w, 0, "vm3")->ct_flags, 0);
    assert_int_equal(lport(w, 1, "vm2")->ct_flags, 0);
    assert_int_equal(lport(w, 0, "vm1")->ct_max, 8);
    assert_true(lport(w, 0, "vm1")->ct_zone != 0);
    assert_true(lport(w, 0, "db1")->ct_zone != lport(w, 0, "vm1")->ct_zone);
}

/* The names of the timeouts are conntrack's, in its order. */
static void test_timeout_names(void **state)
{
    (void)state;
    _Static_assert(VF_MODEL_CT_TIMEOUTS == VF_CT_TO__COUNT,
                   "one model timeout per conntrack timeout");
    for (unsigned i = 0; i < VF_CT_TO__COUNT; i++)
        assert_string_equal(vf_model_ct_timeout_names[i], vf_ct_timeout_name(i));
}

/* show/state/edits go through JSON: it must load back to the same model. */
static void test_json_round_trip(void **state)
{
    struct world *w = *state;
    json_t *j1 = vf_model_to_json(&w->m);
    char *s1 = json_dumps(j1, JSON_SORT_KEYS);
    struct vf_model m2;
    assert_int_equal(load(&m2, s1), 0);
    json_t *j2 = vf_model_to_json(&m2);
    char *s2 = json_dumps(j2, JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    assert_non_null(strstr(s1, "\"src_ip\": \"$admins\""));
    assert_non_null(strstr(s1, "\"port_group\": \"sg\""));
    assert_non_null(strstr(s1, "\"allow-related\""));
    assert_non_null(strstr(s1, "\"icmp_type\": \"128\""));
    assert_non_null(strstr(s1, "\"fd00::3/128\""));
    assert_non_null(strstr(s1, "\"max_connections\": 8"));
    assert_non_null(strstr(s1, "\"udp_new\": 5"));
    free(s1);
    free(s2);
    json_decref(j1);
    json_decref(j2);
    vf_model_free(&m2);
}

/* vm1 (group sg) opens TCP and UDP to vm2 on the other host, both
 * families: replies come back; vm2 cannot open to vm1, a forged reply is
 * invalid; SSH only from the admins set; TCP 23 is rejected. */
static void test_group_traffic(void **state)
{
    struct world *w = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        uint16_t cp = (uint16_t)(40000 + v6);
        want_pass(w, &VM1, &VM2, v6, VF_IPPROTO_TCP, cp, 443, SYN);
        want_pass(w, &VM2, &VM1, v6, VF_IPPROTO_TCP, 443, cp, SYN | ACK);
        want_pass(w, &VM1, &VM2, v6, VF_IPPROTO_TCP, cp, 443, ACK);
        want_pass(w, &VM2, &VM1, v6, VF_IPPROTO_TCP, 443, cp, ACK);
        want_pass(w, &VM1, &VM2, v6, VF_IPPROTO_UDP, cp, 53, 0);
        want_pass(w, &VM2, &VM1, v6, VF_IPPROTO_UDP, 53, cp, 0);
        /* vm2 opens to vm1: denied by default, TCP and UDP */
        want_drop(w, &VM2, &VM1, v6, VF_IPPROTO_TCP, 50000, 8080, SYN,
                  VF_DROP_ACL_STATEFUL_DENY);
        want_drop(w, &VM2, &VM1, v6, VF_IPPROTO_UDP, 50000, 8080, 0,
                  VF_DROP_ACL_STATEFUL_DENY);
        /* a forged reply without a connection */
        want_drop(w, &VM2, &VM1, v6, VF_IPPROTO_TCP, 443, 41000, SYN | ACK,
                  VF_DROP_CT_INVALID);
        /* SSH: from vm3 (admins), not from vm2 */
        want_pass(w, &VM3, &VM1, v6, VF_IPPROTO_TCP, 50022, 22, SYN);
        want_drop(w, &VM2, &VM1, v6, VF_IPPROTO_TCP, 50022, 22, SYN,
                  VF_DROP_ACL_STATEFUL_DENY);
        want_drop(w, &VM3, &VM1, v6, VF_IPPROTO_TCP, 50023, 23, SYN,
                  VF_DROP_ACL_REJECT);
    }
}

/* max_connections: 8 for vm1; the ninth new connection is refused. */
static void test_max_connections(void **state)
{
    struct world *w = *state;
    for (uint16_t i = 0; i < 8; i++)
        want_pass(w, &VM1, &VM2, false, VF_IPPROTO_UDP, (uint16_t)(1000 + i), 53, 0);
    want_drop(w, &VM1, &VM2, false, VF_IPPROTO_UDP, 1008, 53, 0,
              VF_DROP_CT_ZONE_FULL);
}

/* Rules without addresses cover both families; icmp6 rules only IPv6
 * (vm3's ICMPv6 echo allow has nothing to deny here, vm3 being
 * stateless: its drop rule from `bad` must not touch vm1). */
static void test_families(void **state)
{
    struct world *w = *state;
    want_pass(w, &VM1, &VM3, true, VF_IPPROTO_ICMPV6, 7, 0, 0);
    want_pass(w, &VM1, &VM3, false, VF_IPPROTO_ICMP, 7, 0, 0);
    /* echo in to vm1 from vm2: no rule lets it in */
    want_drop(w, &VM2, &VM1, true, VF_IPPROTO_ICMPV6, 9, 0, 0,
              VF_DROP_ACL_STATEFUL_DENY);
}

static const struct vf_dp *dp_of(struct world *w, unsigned h, uint32_t vni)
{
    const struct vf_dp *dp = vf_tables_dp_by_vni(w->f.host[h].t, vni);
    assert_non_null(dp);
    return dp;
}

/* Recompiles after an edit of the YAML text in force: old -> new. */
static void edit(struct world *w, const char *old, const char *new)
{
    char *text = malloc(strlen(w->text) + strlen(new) + 1);
    const char *at = strstr(w->text, old);
    assert_non_null(at);
    size_t pre = (size_t)(at - w->text);
    memcpy(text, w->text, pre);
    strcpy(text + pre, new);
    strcat(text, at + strlen(old));
    struct vf_model m2;
    assert_int_equal(load(&m2, text), 0);
    free(w->text);
    w->text = text;
    assert_int_equal(lt_compile(&w->f, &m2), 0);
    vf_model_free(&w->m);
    w->m = m2;
    w->f.m = &w->m;
}

/* A set or group change recompiles the switches whose rules it changes,
 * and only those. */
static void test_incremental(void **state)
{
    struct world *w = *state;
    const struct vf_dp *web = dp_of(w, 0, 1001), *db = dp_of(w, 0, 1002);

    /* `bad` is used by a rule of web only */
    edit(w, "[\"10.9.0.0/16\"]", "[\"10.9.0.0/16\", \"fd09::/16\"]");
    assert_ptr_not_equal(dp_of(w, 0, 1001), web);
    assert_ptr_equal(dp_of(w, 0, 1002), db);
    web = dp_of(w, 0, 1001);

    /* `admins` is used through group sg: both switches have a member */
    edit(w, "[10.0.0.3, \"fd00::3/128\"]", "[10.0.0.3]");
    assert_ptr_not_equal(dp_of(w, 0, 1001), web);
    assert_ptr_not_equal(dp_of(w, 0, 1002), db);
    web = dp_of(w, 0, 1001);
    db = dp_of(w, 0, 1002);

    /* db1 leaves the group: db changes, web keeps its rules */
    edit(w, "[vm1, db1]", "[vm1]");
    assert_ptr_equal(dp_of(w, 0, 1001), web);
    assert_ptr_not_equal(dp_of(w, 0, 1002), db);
    assert_int_equal(lport(w, 0, "db1")->ct_flags, 0);
    assert_int_equal(lport(w, 0, "vm1")->ct_flags, VF_LPORT_CT_FROM | VF_LPORT_CT_TO);

    /* max_connections is the port's switch's input */
    web = dp_of(w, 0, 1001);
    db = dp_of(w, 0, 1002);
    edit(w, "max_connections: 8", "max_connections: 7");
    assert_ptr_not_equal(dp_of(w, 0, 1001), web);
    assert_ptr_equal(dp_of(w, 0, 1002), db);
    assert_int_equal(lport(w, 0, "vm1")->ct_max, 7);
}

/* A rule without addresses used to be IPv4 only; now it is both
 * families, and an empty address set matches nothing. */
static void test_empty_set(void **state)
{
    struct world *w = *state;
    /* admins empty: SSH from vm3 is denied too */
    edit(w, "[10.0.0.3, \"fd00::3/128\"]", "[]");
    want_drop(w, &VM3, &VM1, false, VF_IPPROTO_TCP, 50122, 22, SYN,
              VF_DROP_ACL_STATEFUL_DENY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loaded, setup, teardown),
        cmocka_unit_test(test_timeout_names),
        cmocka_unit_test_setup_teardown(test_json_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_traffic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_families, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_set, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
