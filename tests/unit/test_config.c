/* test_config.c - the desired-state loader and validator.
 *
 * Every example loads; every file in tests/data/config/ that is not valid-*
 * or model-only is refused with -EINVAL and a message that names the file,
 * the line, the entry and the field; a refused load leaves the model empty
 * (and, under ASan, nothing leaked); ids are the same on every load and on
 * every host's file.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mgmt/control/vf_model.h"
#include "mgmt/control/vf_model_json.h"

static const char *src_dir(void)
{
    const char *d = getenv("VF_SOURCE_DIR");
    return d ? d : ".";
}

static void path_of(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", src_dir(), rel);
}

static bool model_is_empty(const struct vf_model *m)
{
    static const struct vf_model zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static int load_rel(const char *rel, struct vf_model *m, char *err,
                    size_t len)
{
    char path[PATH_MAX];
    path_of(path, sizeof(path), rel);
    return vf_config_load(path, m, err, len);
}

/* ---- valid files ---- */

static void test_examples_load(void **state)
{
    static const char *const files[] = {
        "examples/demo.yaml", "examples/two-hosts-hv1.yaml",
        "examples/two-hosts-hv2.yaml", "tests/data/config/valid-base.yaml",
        "tests/data/config/model-only.yaml",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct vf_model m;
        char err[1024] = "";
        int rc = load_rel(files[i], &m, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s: rc %d: %s", files[i], rc, err);
        vf_model_free(&m);
        assert_true(model_is_empty(&m));
    }
}

static void test_demo_contents(void **state)
{
    struct vf_model m;
    char err[1024];
    const struct vf_model_tenant *blue, *red;
    const struct vf_model_acl *acl;
    const struct vf_model_router *r;

    (void)state;
    assert_int_equal(load_rel("examples/demo.yaml", &m, err, sizeof(err)), 0);
    assert_int_equal(m.n_chassis, 2);
    assert_string_equal(m.chassis[1].name, "hv2");
    assert_int_equal(m.chassis[1].underlay_ip, ip4("192.0.2.2"));
    assert_int_equal(m.chassis[0].encap, VF_MODEL_ENCAP_GENEVE);
    assert_int_equal(m.chassis[0].udp_port, 0);
    assert_int_equal(m.n_tenants, 2);
    blue = &m.tenants[0];
    red = &m.tenants[1];
    assert_string_equal(blue->name, "blue");
    assert_string_equal(red->name, "red");

    /* Overlapping addresses: same MAC and IP in both tenants. */
    assert_memory_equal(blue->switches[0].ports[0].mac,
                        red->switches[0].ports[0].mac, 6);
    assert_int_equal(blue->switches[0].ports[0].ips[0],
                     red->switches[0].ports[0].ips[0]);
    assert_int_equal(blue->switches[0].ports[0].ips[0], ip4("10.0.0.1"));
    assert_true(blue->switches[0].ports[0].port_security);
    assert_int_equal(blue->switches[0].ports[3].chassis_idx, 1);
    assert_int_equal(blue->switches[0].ports[0].chassis_idx, 0);
    assert_int_equal(blue->switches[0].ports[0].attach.type, VF_ATTACH_RING);

    assert_int_equal(blue->n_routers, 1);
    r = &blue->routers[0];
    assert_int_equal(r->n_ports, 2);
    assert_int_equal(r->ports[1].switch_idx, 1);
    assert_int_equal(r->ports[1].ip, ip4("10.0.1.254"));
    assert_int_equal(r->ports[1].plen, 24);

    assert_int_equal(blue->n_acls, 1);
    acl = &blue->acls[0];
    assert_int_equal(acl->switch_idx, 0);
    assert_int_equal(acl->dir, VF_ACL_TO_PORT);
    assert_int_equal(acl->action, VF_ACL_DROP);
    assert_int_equal(acl->priority, 100);
    assert_int_equal(acl->proto, 6);
    assert_int_equal(acl->dport_lo, 22);
    assert_int_equal(acl->dport_hi, 22);
    assert_int_equal(acl->sport_lo, 0);
    assert_int_equal(acl->sport_hi, 65535);
    assert_int_equal(acl->src.family, 0);     /* not given: any address */

    assert_true(m.has_local);
    assert_string_equal(m.local.chassis, "hv1");
    assert_int_equal(m.local.chassis_idx, 0);
    assert_int_equal(m.local.workers.mode, VF_MODEL_WORKERS_AUTO);
    assert_int_equal(m.local.uplink, VF_UPLINK_RING);
    vf_model_free(&m);
}

/* Logical port ids travel in Geneve: both hosts must compute the same. */
static void test_ids(void **state)
{
    struct vf_model a, b;
    char err[1024];
    size_t t, s, p;

    (void)state;
    assert_int_equal(load_rel("examples/demo.yaml", &a, err, sizeof(err)), 0);
    /* Datapath ids are VNIs; port, router-port and router ids are name
     * hashes: non-zero, 31-bit, unique in one space, independent of order. */
    assert_int_equal(a.tenants[0].switches[0].id, 1001);
    assert_int_equal(a.tenants[0].switches[1].id, 1002);
    assert_int_equal(a.tenants[1].switches[0].id, 2001);
    {
        uint32_t ids[64];
        size_t n = 0;
        for (t = 0; t < a.n_tenants; t++) {
            for (s = 0; s < a.tenants[t].n_switches; s++)
                for (p = 0; p < a.tenants[t].switches[s].n_ports; p++)
                    ids[n++] = a.tenants[t].switches[s].ports[p].id;
            for (s = 0; s < a.tenants[t].n_routers; s++) {
                assert_true(a.tenants[t].routers[s].id != 0);
                for (p = 0; p < a.tenants[t].routers[s].n_ports; p++)
                    ids[n++] = a.tenants[t].routers[s].ports[p].id;
            }
        }
        assert_int_equal(n, 12);
        for (size_t i = 0; i < n; i++) {
            assert_true(ids[i] != 0 && ids[i] <= 0x7fffffffu);
            for (size_t j = i + 1; j < n; j++)
                assert_true(ids[i] != ids[j]);
        }
    }
    /* Same name, same id, wherever it stands in the file: red-vm1 and
     * blue-vm1 differ although they sit at the same place of their switch. */
    assert_true(a.tenants[0].switches[0].ports[0].id !=
                a.tenants[1].switches[0].ports[0].id);

    assert_int_equal(vf_model_find_port(&a, "red-vm2", &t, &s, &p), 0);
    assert_int_equal(t, 1);
    assert_int_equal(s, 0);
    assert_int_equal(p, 1);
    assert_int_equal(vf_model_find_port(&a, "blue-r-web", &t, &s, &p),
                     -ENOENT);
    assert_int_equal(vf_model_find_chassis(&a, "hv2"), 1);
    assert_int_equal(vf_model_find_chassis(&a, "hv3"), -1);

    /* Each host's file: same ids as the demo, own local part. */
    static const char *const hosts[] = { "examples/two-hosts-hv1.yaml",
                                         "examples/two-hosts-hv2.yaml" };
    for (int h = 0; h < 2; h++) {
        assert_int_equal(load_rel(hosts[h], &b, err, sizeof(err)), 0);
        assert_int_equal(b.n_tenants, a.n_tenants);
        for (t = 0; t < a.n_tenants; t++) {
            const struct vf_model_tenant *ta = &a.tenants[t],
                                         *tb = &b.tenants[t];
            assert_int_equal(tb->n_switches, ta->n_switches);
            for (s = 0; s < ta->n_switches; s++) {
                assert_int_equal(tb->switches[s].id, ta->switches[s].id);
                assert_int_equal(tb->switches[s].n_ports,
                                 ta->switches[s].n_ports);
                for (p = 0; p < ta->switches[s].n_ports; p++)
                    assert_int_equal(tb->switches[s].ports[p].id,
                                     ta->switches[s].ports[p].id);
            }
        }
        assert_int_equal(b.chassis[0].underlay_ip, ip4("127.0.0.1"));
        assert_int_equal(b.chassis[0].udp_port, 6081);
        assert_int_equal(b.chassis[1].udp_port, 6082);
        assert_int_equal(b.local.chassis_idx, h);
        assert_int_equal(b.local.uplink, VF_UPLINK_UDP);
        assert_int_equal(b.local.bind_ip, ip4("127.0.0.1"));
        assert_int_equal(b.local.bind_port, 6081 + h);
        assert_int_equal(b.local.workers.mode, VF_MODEL_WORKERS_COUNT);
        assert_int_equal(b.local.workers.count, 1);
        vf_model_free(&b);
    }
    vf_model_free(&a);
}

/* ---- invalid files ---- */

struct bad_case {
    const char *file;           /* in tests/data/config/ */
    int line;
    const char *want[3];        /* substrings of the message */
};

#define PORT_VM1 "tenants[0] (blue) switches[0] (blue-web) ports[0] (vm1)"
#define PORT_VM2 "tenants[0] (blue) switches[0] (blue-web) ports[1] (vm2)"
#define RPORT_DB "tenants[0] (blue) routers[0] (blue-r) ports[1] (blue-r-db)"
#define ROUTE0 "tenants[0] (blue) routers[0] (blue-r) routes[0]"
#define ACL0 "tenants[0] (blue) acls[0]"
#define RED_WEB "tenants[1] (red) switches[0] (red-web)"

static const struct bad_case bad_cases[] = {
    { "unknown-field", 15, { "ports[0] (vm1): unknown field 'vlan'",
                             "allowed: name, mac, ips, chassis, attach, "
                             "port_security" } },
    { "wrong-type", 21, { "switches[1] (blue-db): field 'ports'",
                          "expected a list" } },
    { "wrong-type-vni", 20, { "switches[1] (blue-db): field 'vni'",
                              "\"ten\" is not a whole number" } },
    { "missing-field", 19, { "switches[1] (blue-db): missing field 'vni'" } },
    { "bad-mac", 16, { PORT_VM2 ": field 'mac': \"02:00:zz\" is not a MAC "
                       "address" } },
    { "multicast-mac", 16, { PORT_VM2 ": field 'mac'", "multicast" } },
    { "bad-ip", 17, { PORT_VM2 ": field 'ips'",
                      "\"10.0.0.300\" is not an IPv4 or IPv6 address" } },
    { "bad-ip6", 17, { PORT_VM2 ": field 'ips'",
                       "\"2001:db8::zz\" is not an IPv4 or IPv6 address" } },
    { "ip6-multicast", 17, { PORT_VM2 ": field 'ips'",
                             "ff02::1 is a multicast address" } },
    { "ip6-unspecified", 17, { PORT_VM2 ": field 'ips'",
                               ":: is the unspecified address" } },
    { "dup-ip6-switch", 17, { PORT_VM2 ": field 'ips'",
                              "2001:db8::1 is already used on switch "
                              "blue-web by " PORT_VM1 } },
    { "ip6-lla-clash", 17, { PORT_VM2 ": field 'ips'",
                             "fe80::ff:fe00:101 is already used on switch "
                             "blue-web by " PORT_VM1,
                             "its MAC-derived link-local address" } },
    { "dup-tap", 39, { "tenants[1] (red) switches[0] (red-web) ports[0] "
                       "(red-vm1): field 'attach.name'",
                       "tap interface vtsame on chassis hv1 already backs "
                       PORT_VM1 } },
    { "tap-name-slash", 19, { PORT_VM2 ": field 'attach.name'",
                              "\"../x\" has a '/'" } },
    { "tap-name-dotdot", 19, { PORT_VM2 ": field 'attach.name'",
                               "\"..\" is not allowed" } },
    { "tap-name-long", 19, { PORT_VM2 ": field 'attach.name'",
                             "longer than 15 bytes" } },
    { "tap-name-space", 19, { PORT_VM2 ": field 'attach.name'",
                              "\"vt x\" has white space" } },
    { "tap-name-percent", 19, { PORT_VM2 ": field 'attach.name'",
                                "\"vt%d\" has a '%'" } },
    { "bad-underlay", 4, { "chassis[1] (hv2): field 'underlay_ip'",
                           "\"192.0.2\"" } },
    { "bad-cidr", 27, { RPORT_DB ": field 'cidr'",
                        "\"10.0.1.254\" is not an IPv4 prefix" } },
    { "cidr-not-inside", 27, { RPORT_DB ": field 'cidr'",
                               "network address" } },
    { "route-host-bits", 29, { ROUTE0 ": field 'prefix'", "host bits",
                               "10.9.0.0/16" } },
    { "route-nexthop", 29, { ROUTE0 ": field 'nexthop'", "\"gateway\"" } },
    { "route-nexthop-offlink", 29, { ROUTE0 ": field 'nexthop'",
                                     "172.16.0.1 is not inside" } },
    { "vni-range", 35, { RED_WEB ": field 'vni'", "1..16777215" } },
    { "vni-zero", 35, { RED_WEB ": field 'vni'", "1..16777215" } },
    { "dup-vni", 35, { RED_WEB ": field 'vni'",
                       "already the VNI of tenants[0] (blue) switches[0] "
                       "(blue-web)" } },
    { "dup-chassis", 4, { "chassis[1] (hv1): field 'name'",
                          "already used by chassis[0] (hv1)" } },
    { "dup-switch", 34, { "tenants[1] (red) switches[0] (blue-db): field "
                          "'name'", "already used by tenants[0] (blue) "
                          "switches[1] (blue-db)" } },
    { "dup-port", 37, { "tenants[1] (red) switches[0] (red-web) ports[0] "
                        "(vm2): field 'name'", "already used by " PORT_VM2 } },
    { "dup-rport", 27, { "routers[0] (blue-r) ports[1] (db1): field 'name'",
                         "already used by" } },
    { "dup-router", 30, { "tenants[0] (blue) routers[1] (blue-r): field "
                          "'name'", "router names are unique" } },
    { "dup-mac-switch", 16, { PORT_VM2 ": field 'mac'",
                              "already used on switch blue-web" } },
    { "dup-key", 18, { PORT_VM2 ": field 'mac' is given twice",
                       "line 16" } },
    { "port-chassis", 18, { PORT_VM2 ": field 'chassis'",
                            "\"hv9\" is not a chassis of the fabric" } },
    { "router-switch", 27, { RPORT_DB ": field 'switch'",
                             "switch of tenant red" } },
    { "router-switch-missing", 27, { RPORT_DB ": field 'switch'",
                                     "\"blue-app\" is not a switch of "
                                     "tenant blue" } },
    { "acl-switch", 31, { ACL0 ": field 'switch'", "\"blue-www\"" } },
    { "acl-port", 31, { ACL0 ": field 'port'",
                        "\"db1\" is not a port of switch blue-web" } },
    { "acl-priority", 31, { ACL0 ": field 'priority'", "0..65535" } },
    { "acl-port-range", 31, { ACL0 ": field 'match.dst_port'",
                              "\"2000-1000\"" } },
    { "acl-port-syntax", 31, { ACL0 ": field 'match.dst_port'",
                               "\"ssh\" is not a port" } },
    { "acl-range-proto", 31, { ACL0 ": field 'match.dst_port'",
                               "tcp or udp" } },
    { "acl-proto", 31, { ACL0 ": field 'match.proto'",
                         "\"sctp\" is not tcp, udp, icmp, icmp6 or any" } },
    { "acl-direction", 31, { ACL0 ": field 'direction'",
                             "from-port or to-port" } },
    { "acl-action", 31, { ACL0 ": field 'action'",
                          "\"deny\" is not allow, drop, allow-related or reject" } },
    { "local-chassis", 39, { "local: field 'chassis'", "\"hv3\"" } },
    { "port-security", 18, { PORT_VM2 ": field 'port_security'",
                             "no ips" } },
    { "encap", 4, { "chassis[1] (hv2): field 'encap'",
                    "\"gre\" is not geneve or vxlan" } },
    { "chassis-port", 4, { "chassis[1] (hv2): field 'port'",
                           "1..65535" } },
    { "attach-type", 19, { PORT_VM2 ": field 'attach.type'",
                           "\"vhost\" is not ring, tap, verbs or "
                           "vhost-user" } },
    { "attach-tap", 19, { PORT_VM2 ": field 'attach.name' is required",
                          "tap" } },
    { "attach-verbs", 19, { PORT_VM2 ": field 'attach.device' is required",
                            "verbs" } },
    { "vhost-socket", 19, { PORT_VM2 ": field 'attach.socket' is required",
                            "vhost-user" } },
    { "vhost-socket-relative", 19, { PORT_VM2 ": field 'attach.socket'",
                                     "\"run/vm2.sock\" is not an absolute "
                                     "path" } },
    { "vhost-mode-word", 19, { PORT_VM2 ": field 'attach.mode'",
                               "\"listen\" is not client or server" } },
    { "vhost-mode-tap", 19, { PORT_VM2 ": field 'attach.mode' only applies "
                              "to attach type vhost-user, not tap" } },
    { "vhost-socket-on-tap", 19, { PORT_VM2 ": field 'attach.socket' only "
                                   "applies to attach type vhost-user, not "
                                   "tap" } },
    { "dup-vhost-socket", 39, { "tenants[1] (red) switches[0] (red-web) "
                                "ports[0] (red-vm1): field 'attach.socket'",
                                "vhost-user socket /run/vfab/same.sock on "
                                "chassis hv1 already backs " PORT_VM1 } },
    { "uplink-type", 41, { "local: field 'uplink.type'", "\"dpdk\"" } },
    { "uplink-udp", 41, { "local: missing field 'uplink.bind'" } },
    { "uplink-bind", 41, { "local: field 'uplink.bind'",
                           "\"127.0.0.1:99999\"" } },
    { "uplink-verbs", 41, { "local: field 'uplink.device' is required" } },
    { "workers-range", 40, { "local: field 'workers'", "1..64" } },
    { "workers-word", 40, { "local: field 'workers'", "\"many\"" } },
    { "workers-list", 40, { "local: field 'workers'", "cpu 1 is listed "
                            "twice" } },
    { "sg-pgroup-port", 34, { "tenants[0] (blue) port_groups[0] (web): "
                              "field 'ports'", "\"red-vm1\" is not a port "
                              "of a switch of tenant blue" } },
    { "sg-aset-bits", 36, { "tenants[0] (blue) address_sets[0] (clients): "
                            "field 'addresses'", "10.2.0.1/16 has host "
                            "bits set" } },
    { "sg-aset-syntax", 38, { "address_sets[0] (clients): field "
                              "'addresses'", "\"10.2.0.300\" is not an "
                              "IPv4 or IPv6 address or prefix" } },
    { "sg-acl-set", 31, { ACL0 ": field 'match.src_ip'", "\"$nope\" is "
                          "not an address set of tenant blue (address "
                          "sets: clients)" } },
    { "sg-acl-pgroup", 31, { ACL0 ": field 'port_group'", "\"db\" is not "
                             "a port group of tenant blue (port groups: "
                             "web)" } },
    { "sg-acl-scope", 31, { ACL0 ": field 'port_group' is given with field "
                            "'port'" } },
    { "sg-icmp-family", 31, { ACL0 ": field 'match.dst_ip'", "2001:db8::/32 "
                              "is IPv6, but match.proto icmp is IPv4 "
                              "only" } },
    { "sg-icmp-port", 31, { ACL0 ": field 'match.dst_port' needs "
                            "match.proto tcp or udp" } },
    { "sg-max-conns", 15, { "ports[0] (vm1): field 'max_connections'",
                            "out of range 0..67108864" } },
    { "sg-ct-timeout", 48, { "local: field 'ct_timeouts.tcp_established'",
                             "out of range 1..2073600" } },
    { "yaml-syntax", 21, { "YAML syntax error" } },
    { "top-not-mapping", 2, { "expected a mapping" } },
};

static void test_invalid_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        char rel[256], path[PATH_MAX], err[1024] = "", where[PATH_MAX + 32];
        struct vf_model m;
        int rc;

        snprintf(rel, sizeof(rel), "tests/data/config/%s.yaml", bc->file);
        path_of(path, sizeof(path), rel);
        memset(&m, 0xa5, sizeof(m));    /* output only: garbage is fine */
        rc = vf_config_load(path, &m, err, sizeof(err));
        if (rc != -EINVAL)
            fail_msg("%s: rc %d, want -EINVAL (%s)", bc->file, rc, err);
        if (!model_is_empty(&m))
            fail_msg("%s: model not left empty", bc->file);
        snprintf(where, sizeof(where), "%s:%d:", path, bc->line);
        if (strncmp(err, where, strlen(where)) != 0)
            fail_msg("%s: message does not start with '%s': %s", bc->file,
                     where, err);
        for (int w = 0; w < 3 && bc->want[w]; w++)
            if (!strstr(err, bc->want[w]))
                fail_msg("%s: message lacks '%s': %s", bc->file,
                         bc->want[w], err);
    }
}

/* Every invalid file in the folder is in the table above (no orphans). */
static void test_every_file_has_a_case(void **state)
{
    char cmd[PATH_MAX + 64], line[512];
    FILE *ls;
    int files = 0;

    (void)state;
    snprintf(cmd, sizeof(cmd), "ls %s/tests/data/config", src_dir());
    ls = popen(cmd, "r");
    assert_non_null(ls);
    while (fgets(line, sizeof(line), ls) && files < 1000) {
        bool found = false;
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "valid-", 6) == 0 ||
            strcmp(line, "model-only.yaml") == 0)
            continue;
        files++;
        for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
            if (strncmp(line, bad_cases[i].file, strlen(bad_cases[i].file))
                    == 0 && strcmp(line + strlen(bad_cases[i].file),
                                   ".yaml") == 0)
                found = true;
        if (!found)
            fail_msg("tests/data/config/%s has no case in bad_cases", line);
    }
    pclose(ls);
    assert_true(files >= 15);
}

/* ---- strings, I/O, limits ---- */

static void test_load_string(void **state)
{
    static const char ok[] =
        "chassis: [{name: a, underlay_ip: 10.1.0.1, encap: vxlan}]\n"
        "tenants:\n"
        "  - name: t\n"
        "    switches:\n"
        "      - name: s\n"
        "        vni: 7\n"
        "        ports:\n"
        "          - name: p\n"
        "            mac: 02:00:00:00:00:01\n"   /* unquoted works too */
        "            chassis: a\n"
        "            attach: {type: tap, name: vfab0}\n"
        "    acls:\n"
        "      - {switch: s, port: p, direction: from-port, priority: 0,\n"
        "         action: allow, match: {proto: udp, src_ip: 10.0.0.0/8,\n"
        "         dst_ip: 10.2.3.4, src_port: \"1000-2000\"}}\n"
        "local: {chassis: a, workers: [1, 3], uplink: {type: verbs, "
        "device: mlx5_0}}\n";
    struct vf_model m;
    char err[1024] = "";
    int rc;

    (void)state;
    rc = vf_config_load_string(ok, strlen(ok), &m, err, sizeof(err));
    if (rc)
        fail_msg("rc %d: %s", rc, err);
    assert_int_equal(m.chassis[0].encap, VF_MODEL_ENCAP_VXLAN);
    assert_int_equal(m.tenants[0].switches[0].ports[0].n_ips, 0);
    assert_false(m.tenants[0].switches[0].ports[0].port_security);
    assert_string_equal(m.tenants[0].switches[0].ports[0].attach.name,
                        "vfab0");
    assert_true(m.tenants[0].switches[0].ports[0].id != 0);
    assert_int_equal(m.tenants[0].acls[0].proto, 17);
    uint32_t a4;
    memcpy(&a4, m.tenants[0].acls[0].src.addr, 4);
    assert_int_equal(m.tenants[0].acls[0].src.family, 4);
    assert_int_equal(a4, ip4("10.0.0.0"));
    assert_int_equal(m.tenants[0].acls[0].src.plen, 8);
    memcpy(&a4, m.tenants[0].acls[0].dst.addr, 4);
    assert_int_equal(a4, ip4("10.2.3.4"));
    assert_int_equal(m.tenants[0].acls[0].dst.plen, 32);
    assert_int_equal(m.tenants[0].acls[0].sport_lo, 1000);
    assert_int_equal(m.tenants[0].acls[0].sport_hi, 2000);
    assert_int_equal(m.local.workers.mode, VF_MODEL_WORKERS_LIST);
    assert_int_equal(m.local.workers.n_cpus, 2);
    assert_int_equal(m.local.workers.cpus[1], 3);
    assert_int_equal(m.local.uplink, VF_UPLINK_VERBS);
    assert_string_equal(m.local.device, "mlx5_0");
    assert_int_equal(m.local.device_port, 1);
    vf_model_free(&m);

    /* The brief's example message, from a string. */
    static const char bad[] =
        "chassis: [{name: hv1, underlay_ip: 192.0.2.1}]\n"
        "tenants:\n"
        "  - name: blue\n"
        "    switches:\n"
        "      - name: blue-web\n"
        "        vni: 1\n"
        "        ports:\n"
        "          - {name: vm1, mac: \"02:00:00:00:01:01\", chassis: hv1}\n"
        "          - {name: vm2, mac: \"02:00:zz\", chassis: hv1}\n";
    rc = vf_config_load_string(bad, strlen(bad), &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_true(model_is_empty(&m));
    assert_non_null(strstr(err, "<string>:9: tenants[0] (blue) switches[0] "
                           "(blue-web) ports[1] (vm2): field 'mac': "
                           "\"02:00:zz\" is not a MAC address"));

    /* Empty, unknown top-level field, second document, NUL inside. */
    rc = vf_config_load_string("", 0, &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "empty"));
    rc = vf_config_load_string("chassis: []\ntenant: []\n", 23, &m, err,
                               sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "<string>:2: unknown field 'tenant' "
                           "(allowed: chassis, tenants, local)"));
    rc = vf_config_load_string("chassis: []\n---\nchassis: []\n", 28, &m,
                               err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "second YAML document"));
    static const char nul[] = "chassis: [{name: \"a\\0b\", underlay_ip: "
                              "10.0.0.1}]\n";
    rc = vf_config_load_string(nul, strlen(nul), &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "field 'name' contains a NUL"));
    assert_true(model_is_empty(&m));

    /* Numbers far past any range are refused, not wrapped. */
    static const char huge[] =
        "chassis: [{name: a, underlay_ip: 10.0.0.1, "
        "port: 99999999999999999999999999}]\n";
    rc = vf_config_load_string(huge, strlen(huge), &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "field 'port'"));
    assert_non_null(strstr(err, "is out of range 1..65535"));

    /* A long value is quoted back cut at 48 characters with "...", and
     * what is not printable (or a quote) becomes '?'. */
    static const char longname[] =
        "chassis: [{name: a, underlay_ip: \"10.0.0.1\\t"
        "0123456789012345678901234567890123456789xyz\"}]\n";
    rc = vf_config_load_string(longname, strlen(longname), &m, err,
                               sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "field 'underlay_ip': \"10.0.0.1?"
                           "012345678901234567890123456789012345678...\" "
                           "is not an IPv4 address"));

    /* NULL err is allowed. */
    rc = vf_config_load_string("x: 1\n", 5, &m, NULL, 0);
    assert_int_equal(rc, -EINVAL);
}

static void test_io_error(void **state)
{
    struct vf_model m;
    char err[1024];

    (void)state;
    memset(&m, 0x5a, sizeof(m));
    assert_int_equal(vf_config_load("/nonexistent/vfab.yaml", &m, err,
                                    sizeof(err)), -ENOENT);
    assert_true(model_is_empty(&m));
    assert_non_null(strstr(err, "/nonexistent/vfab.yaml"));
}

/* Aliases reuse nodes; the walker bounds the expanded size. 600 routers x
 * 2000 routes = 1.2M entries from a file of a few kilobytes. */
static void test_alias_bomb(void **state)
{
    size_t cap = 64 * 1024, o = 0;
    char *y = malloc(cap), err[1024];
    struct vf_model m;
    int rc;

    (void)state;
    assert_non_null(y);
    o += (size_t)snprintf(y + o, cap - o, "tenants:\n  - name: t\n"
                          "    routers:\n");
    for (int r = 0; r < 600; r++) {
        if (r == 0) {
            o += (size_t)snprintf(y + o, cap - o,
                                  "      - &r {name: r, routes: [");
            for (int i = 0; i < 2000; i++)
                o += (size_t)snprintf(y + o, cap - o, "%s%s", i ? "," : "",
                                      i ? "*rt" : "&rt {prefix: 0.0.0.0/0,"
                                      " nexthop: 10.0.0.1}");
            o += (size_t)snprintf(y + o, cap - o, "]}\n");
        } else {
            o += (size_t)snprintf(y + o, cap - o, "      - *r\n");
        }
        assert_true(o < cap - 64);
    }
    o += (size_t)snprintf(y + o, cap - o, "chassis: []\n");
    rc = vf_config_load_string(y, o, &m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err, "more than"));
    assert_true(model_is_empty(&m));
    free(y);
}

/* Seeded damage to the demo file: each variant loads or is refused with
 * -EINVAL and an empty model; ASan/LSan catch what the error paths leak or
 * overrun. Deterministic (fixed seed), 500 variants. */
static void test_mutations(void **state)
{
    static const char junk[] = ":-[]{},\"'#&*!|>%@` \n\t0zZ";
    char path[PATH_MAX], err[1024];
    uint32_t seed = 12345;
    FILE *f;
    char *orig, *buf;
    long len;

    (void)state;
    path_of(path, sizeof(path), "examples/demo.yaml");
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    orig = malloc((size_t)len);
    buf = malloc((size_t)len);
    assert_non_null(orig);
    assert_non_null(buf);
    assert_int_equal(fread(orig, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    for (int i = 0; i < 500; i++) {
        struct vf_model m;
        size_t n = (size_t)len;
        int rc;

        memcpy(buf, orig, n);
        for (int k = 0; k < 1 + i % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 8 == 0)
                n = at + 1;                     /* truncate */
            else
                buf[at] = junk[(seed >> 16) % (sizeof(junk) - 1)];
        }
        rc = vf_config_load_string(buf, n, &m, err, sizeof(err));
        if (rc != 0 && rc != -EINVAL)
            fail_msg("variant %d: rc %d (%s)", i, rc, err);
        if (rc == 0)
            vf_model_free(&m);
        else if (!model_is_empty(&m) || strncmp(err, "<string>:", 9) != 0)
            fail_msg("variant %d: bad refusal: %s", i, err);
    }
    free(orig);
    free(buf);
}

/* ---- the validator on a model built by code ---- */

static void test_validate_programmatic(void **state)
{
    struct vf_model m = { 0 };
    struct vf_model_errloc loc;
    char err[512];

    (void)state;
    m.n_chassis = 1;
    m.chassis = calloc(1, sizeof(*m.chassis));
    m.n_tenants = 1;
    m.tenants = calloc(1, sizeof(*m.tenants));
    assert_non_null(m.chassis);
    assert_non_null(m.tenants);
    strcpy(m.chassis[0].name, "hv1");
    m.chassis[0].underlay_ip = ip4("192.0.2.1");
    strcpy(m.tenants[0].name, "t");
    m.tenants[0].n_switches = 2;
    m.tenants[0].switches = calloc(2, sizeof(struct vf_model_switch));
    assert_non_null(m.tenants[0].switches);
    strcpy(m.tenants[0].switches[0].name, "s0");
    strcpy(m.tenants[0].switches[1].name, "s1");
    m.tenants[0].switches[0].vni = 5;
    m.tenants[0].switches[1].vni = 0;

    assert_int_equal(vf_model_validate_loc(&m, err, sizeof(err), &loc),
                     -EINVAL);
    assert_string_equal(err, "tenants[0] (t) switches[1] (s1): field 'vni': "
                        "0 is out of range 1..16777215");
    assert_int_equal(loc.depth, 2);
    assert_string_equal(loc.key[0], "tenants");
    assert_string_equal(loc.key[1], "switches");
    assert_int_equal(loc.idx[1], 1);
    assert_string_equal(loc.field, "vni");
    /* Refused: not freed, no ids. */
    assert_non_null(m.tenants[0].switches);
    assert_int_equal(m.tenants[0].switches[0].id, 0);

    m.tenants[0].switches[1].vni = 6;
    strcpy(m.tenants[0].switches[1].name, "bad name");
    assert_int_equal(vf_model_validate(&m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "field 'name'"));
    strcpy(m.tenants[0].switches[1].name, "s1");
    assert_int_equal(vf_model_validate(&m, err, sizeof(err)), 0);
    assert_int_equal(m.tenants[0].switches[1].id, 6);   /* its VNI */
    vf_model_free(&m);
    assert_true(model_is_empty(&m));
    vf_model_free(&m);          /* twice is fine: zeroed */
    vf_model_free(NULL);
}

/* IPv6 entries of `ips`, and tap names: the accepting side of the rules
 * the bad files above refuse. */
static void test_ip6_and_taps(void **state)
{
    static const char ok[] =
        "chassis: [{name: hv1, underlay_ip: 192.0.2.1},\n"
        "          {name: hv2, underlay_ip: 192.0.2.2}]\n"
        "tenants:\n"
        "  - name: t\n"
        "    switches:\n"
        "      - name: s\n"
        "        vni: 7\n"
        "        ports:\n"
        /* unquoted IPv6 in a flow list; its own link-local listed too */
        "          - {name: a, mac: \"02:00:00:00:00:01\", chassis: hv1,\n"
        "             ips: [2001:db8::a, 10.0.0.1, fe80::ff:fe00:1],\n"
        "             port_security: true, attach: {type: tap, name: vt0}}\n"
        /* IPv6 only, secured; the same tap name on another chassis */
        "          - {name: b, mac: \"02:00:00:00:00:02\", chassis: hv2,\n"
        "             ips: [\"2001:db8::b\"], port_security: true,\n"
        "             attach: {type: tap, name: vt0}}\n";
    struct vf_model m;
    char err[1024] = "";
    uint8_t a6[16], lla[16];
    int rc;

    (void)state;
    rc = vf_config_load_string(ok, strlen(ok), &m, err, sizeof(err));
    if (rc)
        fail_msg("rc %d: %s", rc, err);
    const struct vf_model_port *a = &m.tenants[0].switches[0].ports[0];
    const struct vf_model_port *b = &m.tenants[0].switches[0].ports[1];
    assert_int_equal(a->n_ips, 1);
    assert_int_equal(a->n_ip6s, 2);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::a", a6), 1);
    assert_memory_equal(a->ip6s[0], a6, 16);
    vf_model_lla(a->mac, lla);
    assert_int_equal(inet_pton(AF_INET6, "fe80::ff:fe00:1", a6), 1);
    assert_memory_equal(lla, a6, 16);       /* u/l bit flipped: 02 -> 00 */
    assert_memory_equal(a->ip6s[1], a6, 16);
    assert_int_equal(b->n_ips, 0);
    assert_int_equal(b->n_ip6s, 1);

    /* show / list / --json: IPv4 first, then IPv6, as text. */
    json_t *j = vf_model_to_json(&m);
    char *txt = json_dumps(json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(j,
        "tenants"), 0), "switches"), 0), "ports"), 0), "ips"), JSON_COMPACT);
    assert_string_equal(txt, "[\"10.0.0.1\",\"2001:db8::a\",\"fe80::ff:fe00:1\"]");
    free(txt);
    json_decref(j);

    /* The same tap name on one chassis: refused, naming both ports, also
     * for a model built by code (vfabctl add goes through the loader, but
     * the rule lives in the validator). */
    snprintf(m.tenants[0].switches[0].ports[1].chassis, VF_NAME_MAX, "hv1");
    rc = vf_model_validate(&m, err, sizeof(err));
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err, "tenants[0] (t) switches[0] (s) ports[1] (b): "
                        "field 'attach.name': tap interface vt0 on chassis "
                        "hv1 already backs tenants[0] (t) switches[0] (s) "
                        "ports[0] (a) (one tap interface backs one logical "
                        "port)");
    snprintf(m.tenants[0].switches[0].ports[1].attach.name, VF_NAME_MAX,
             "vt1");
    assert_int_equal(vf_model_validate(&m, err, sizeof(err)), 0);
    /* A ring port opens nothing shared: no name, no rule. */
    m.tenants[0].switches[0].ports[1].attach.type = VF_ATTACH_RING;
    m.tenants[0].switches[0].ports[1].attach.name[0] = '\0';
    assert_int_equal(vf_model_validate(&m, err, sizeof(err)), 0);

    /* More than the IPv6 addresses a port may hold. */
    m.tenants[0].switches[0].ports[1].n_ip6s = VF_MODEL_MAX_IP6S + 1;
    assert_int_equal(vf_model_validate(&m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "field 'ips' has 9 IPv6 addresses (at most "
                           "8)"));
    vf_model_free(&m);
}

static void test_enum_names(void **state)
{
    (void)state;
    assert_string_equal(vf_model_encap_name(VF_MODEL_ENCAP_GENEVE), "geneve");
    assert_string_equal(vf_model_encap_name(VF_MODEL_ENCAP_VXLAN), "vxlan");
    assert_string_equal(vf_model_encap_name((enum vf_model_encap)9), "?");
    assert_string_equal(vf_attach_type_name(VF_ATTACH_VERBS), "verbs");
    assert_string_equal(vf_uplink_type_name(VF_UPLINK_UDP), "udp");
    assert_string_equal(vf_acl_dir_name(VF_ACL_FROM_PORT), "from-port");
    assert_string_equal(vf_acl_action_name(VF_ACL_DROP), "drop");
}

/* Adding a port moves no other id (hosts learn of changes at different
 * times, and unchanged switches must compile to the same bytes). */
static void test_ids_stable_across_adds(void **state)
{
    (void)state;
    static const char *y1 =
        "chassis: [{name: hv1, underlay_ip: 192.0.2.1}]\n"
        "tenants:\n"
        "  - name: t\n"
        "    switches:\n"
        "      - name: s\n"
        "        vni: 7\n"
        "        ports:\n"
        "%s"
        "          - {name: p1, mac: '02:00:00:00:00:01', chassis: hv1}\n"
        "          - {name: p2, mac: '02:00:00:00:00:02', chassis: hv1}\n";
    char a[1024], b[1024], err[512];
    snprintf(a, sizeof(a), y1, "");
    snprintf(b, sizeof(b), y1, "          - {name: p0, mac: '02:00:00:00:00:09', chassis: hv1}\n");
    struct vf_model ma, mb;
    memset(&ma, 0, sizeof(ma));
    memset(&mb, 0, sizeof(mb));
    assert_int_equal(vf_config_load_string(a, strlen(a), &ma, err, sizeof(err)), 0);
    assert_int_equal(vf_config_load_string(b, strlen(b), &mb, err, sizeof(err)), 0);
    assert_int_equal(ma.tenants[0].switches[0].ports[0].id,
                     mb.tenants[0].switches[0].ports[1].id);
    assert_int_equal(ma.tenants[0].switches[0].ports[1].id,
                     mb.tenants[0].switches[0].ports[2].id);
    vf_model_free(&ma);
    vf_model_free(&mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_demo_contents),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_ids_stable_across_adds),
        cmocka_unit_test(test_invalid_files),
        cmocka_unit_test(test_every_file_has_a_case),
        cmocka_unit_test(test_load_string),
        cmocka_unit_test(test_io_error),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_validate_programmatic),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_ip6_and_taps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
