/* test_logical.c - each logical stage, through vf_pipeline_burst.
 *
 * One fixed fabric (two chassis, two tenants with the same addresses):
 *   blue: web (vni 1001): vm1 (hv1, port security), vm2 (hv1), vm3 (hv2)
 *         db (1002): db1 (hv1), db2 (hv2)
 *         transit (1003), app (1004): app1 (hv2)
 *         r1: web .254, db .254, transit 10.0.2.1; route 10.0.3/24 via .2.2
 *         r2: transit 10.0.2.2, app .254; route 10.0.0/22 via 10.0.2.1
 *   red:  web (2001): rvm1 (hv1, same MAC/IP as vm1), rvm2 (hv2, as vm2)
 *   hv3 (192.0.2.3) is a chassis with no ports: a known sender that owns
 *   nothing. Port ids (lt_assign_ids): vm1 1, vm2 2, vm3 3, db1 4, db2 5,
 *   app1 6, rvm1 7, rvm2 8, r1-web 9, r1-db 10, r1-tr 11, r2-tr 12, r2-app 13.
 * Expected frames are written out byte by byte from the test's own
 * knowledge, never from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/vf_trace.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define MAC_VM(n) (0x0101u + (n))        /* 02:00:00:00:01:0n */
#define MAC_R(n) (0xff00u + (n))

struct world {
    struct vf_model m;
    struct lt_fabric f;
};

static void build(struct vf_model *m)
{
    memset(m, 0, sizeof(*m));
    lt_chassis(m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(m, "hv2", IP(192, 0, 2, 2), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(m, "hv3", IP(192, 0, 2, 3), VF_MODEL_ENCAP_GENEVE);   /* no ports */
    int b = lt_tenant(m, "blue");
    int web = lt_switch(m, b, "web", 1001);
    lt_port(m, b, web, "vm1", MAC_VM(0), IP(10, 0, 0, 1), 0, true);
    lt_port(m, b, web, "vm2", MAC_VM(1), IP(10, 0, 0, 2), 0, false);
    lt_port(m, b, web, "vm3", MAC_VM(2), IP(10, 0, 0, 3), 1, false);
    int db = lt_switch(m, b, "db", 1002);
    lt_port(m, b, db, "db1", 0x0201, IP(10, 0, 1, 1), 0, false);
    lt_port(m, b, db, "db2", 0x0202, IP(10, 0, 1, 2), 1, false);
    int tr = lt_switch(m, b, "transit", 1003);
    int app = lt_switch(m, b, "app", 1004);
    lt_port(m, b, app, "app1", 0x0301, IP(10, 0, 3, 1), 1, false);
    int r1 = lt_router(m, b, "r1");
    lt_rport(m, b, r1, "r1-web", web, MAC_R(1), IP(10, 0, 0, 254), 24);
    lt_rport(m, b, r1, "r1-db", db, MAC_R(2), IP(10, 0, 1, 254), 24);
    lt_rport(m, b, r1, "r1-tr", tr, MAC_R(3), IP(10, 0, 2, 1), 24);
    lt_route(m, b, r1, IP(10, 0, 3, 0), 24, IP(10, 0, 2, 2));
    lt_route(m, b, r1, IP(10, 9, 0, 0), 16, IP(10, 0, 2, 2));   /* loops */
    int r2 = lt_router(m, b, "r2");
    lt_rport(m, b, r2, "r2-tr", tr, MAC_R(4), IP(10, 0, 2, 2), 24);
    lt_rport(m, b, r2, "r2-app", app, MAC_R(5), IP(10, 0, 3, 254), 24);
    lt_route(m, b, r2, IP(10, 0, 0, 0), 22, IP(10, 0, 2, 1));
    lt_route(m, b, r2, IP(10, 9, 0, 0), 16, IP(10, 0, 2, 1));
    int red = lt_tenant(m, "red");
    int rweb = lt_switch(m, red, "rweb", 2001);
    lt_port(m, red, rweb, "rvm1", MAC_VM(0), IP(10, 0, 0, 1), 0, true);
    lt_port(m, red, rweb, "rvm2", MAC_VM(1), IP(10, 0, 0, 2), 1, false);
    lt_assign_ids(m);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    build(&w->m);
    if (lt_fabric_init(&w->f, &w->m, true))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    lt_fabric_fini(&w->f);
    lt_model_free(&w->m);
    free(w);
    return 0;
}

static void mac_of(uint8_t out[6], uint32_t low) { lt_mac(out, low); }

/* A test packet from vm1 (its MAC and 10.0.0.1) to (dmac, dip). */
static void tpkt_from_vm1(struct vf_tpkt *t, uint32_t dmac, uint32_t dip)
{
    vf_tpkt_init(t);
    mac_of(t->eth_src, MAC_VM(0));
    mac_of(t->eth_dst, dmac);
    t->ip4_src = IP(10, 0, 0, 1);
    t->ip4_dst = dip;
}

/* A UDP frame from port MAC/IP `src` to `dst`. */
static size_t udp_frame(uint8_t *buf, uint32_t smac, uint32_t sip, uint32_t dmac,
                        uint32_t dip, uint8_t ttl, uint16_t dport)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    mac_of(t.eth_src, smac);
    mac_of(t.eth_dst, dmac);
    t.ip4_src = sip;
    t.ip4_dst = dip;
    t.ttl = ttl;
    t.dport = dport;
    return vf_tpkt_ip4_udp(buf, 256, &t);
}

static struct lt_result res;

static void test_l2_local_and_remote(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    size_t n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_VM(1), IP(10, 0, 0, 2), 64, 53);
    assert_int_equal(lt_send(&w->f, "vm1", f, (unsigned)n, &res), 0);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm2");
    assert_int_equal(res.d[0].len, n);
    assert_memory_equal(res.d[0].data, f, n);
    assert_int_equal(res.tunnelled, 0);

    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_VM(2), IP(10, 0, 0, 3), 64, 53);
    assert_int_equal(lt_send(&w->f, "vm1", f, (unsigned)n, &res), 0);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm3");
    assert_memory_equal(res.d[0].data, f, n);   /* decap restored it exactly */
    assert_int_equal(res.tunnelled, 1);

    /* To its own MAC: hairpin. */
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_VM(0), IP(10, 0, 0, 1), 64, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_HAIRPIN);
}

static void test_flood(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    /* Broadcast and unknown unicast reach every other port of the switch,
     * locally and on hv2 (one tunnel copy), nothing of red, db or routers. */
    uint32_t dsts[] = {0xffffffffu & 0xffffff, 0x7777};
    for (unsigned k = 0; k < 2; k++) {
        size_t n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), dsts[k],
                             IP(10, 0, 0, 255), 64, 67);
        if (k == 0)
            memset(f, 0xff, 6);
        lt_send(&w->f, "vm1", f, (unsigned)n, &res);
        assert_int_equal(res.n, 2);
        assert_non_null(lt_find(&res, "vm2"));
        assert_non_null(lt_find(&res, "vm3"));
        assert_int_equal(res.tunnelled, 1);
        assert_memory_equal(lt_find(&res, "vm3")->data, f, n);
    }
    /* From hv2: vm3's flood reaches vm1 and vm2 with one tunnel copy. */
    size_t n = udp_frame(f, MAC_VM(2), IP(10, 0, 0, 3), 0x7777, IP(10, 0, 0, 9), 64, 67);
    lt_send(&w->f, "vm3", f, (unsigned)n, &res);
    assert_int_equal(res.n, 2);
    assert_non_null(lt_find(&res, "vm1"));
    assert_non_null(lt_find(&res, "vm2"));
    assert_int_equal(res.tunnelled, 1);
}

static void test_port_security(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    size_t n;
    /* Spoofed MAC, spoofed IP: dropped on vm1 (port security on). */
    n = udp_frame(f, 0x9999, IP(10, 0, 0, 1), MAC_VM(1), IP(10, 0, 0, 2), 64, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_PORT_SECURITY);
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 7), MAC_VM(1), IP(10, 0, 0, 2), 64, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_PORT_SECURITY);
    /* ARP with a foreign sender IP, and with a foreign sender MAC. */
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    mac_of(t.eth_src, MAC_VM(0));
    memset(t.eth_dst, 0xff, 6);
    t.ip4_src = IP(10, 0, 0, 2);
    t.ip4_dst = IP(10, 0, 0, 3);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_PORT_SECURITY);
    t.ip4_src = IP(10, 0, 0, 1);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    f[22 + 5] ^= 1;                       /* sender MAC != Ethernet source */
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_PORT_SECURITY);
    /* The same spoof from vm2 (no port security) goes through. */
    n = udp_frame(f, 0x9999, IP(10, 0, 0, 7), MAC_VM(2), IP(10, 0, 0, 3), 64, 53);
    lt_send(&w->f, "vm2", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm3");
    /* DHCP-style source 0.0.0.0 is allowed with the right MAC. */
    n = udp_frame(f, MAC_VM(0), 0, MAC_VM(1), IP(10, 0, 0, 2), 64, 67);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
}

/* ---- IPv6 port security ---- */

static void ip6_of(uint8_t a[16], const char *s)
{
    assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

/* IPv6 from `port` with source MAC smac: UDP when type is 0, else ICMPv6
 * of that type (ND ones with target and the link-layer options). A
 * multicast dst goes to its 33:33 MAC, a unicast one to dmac. Returns
 * VF_DROP_NONE when the frame was delivered somewhere and nothing was
 * dropped, else the one reason counted (-1: none or several). */
static int send6(struct world *w, const char *port, uint32_t smac,
                 const char *src, uint32_t dmac, const char *dst,
                 unsigned type, const char *target, const uint8_t *sll,
                 const uint8_t *tll)
{
    static const uint8_t body[32];
    uint8_t f[256], tg[16] = {0};
    struct vf_tpkt t;
    size_t n;

    vf_tpkt_init(&t);
    mac_of(t.eth_src, smac);
    ip6_of(t.ip6_src, src);
    ip6_of(t.ip6_dst, dst);
    if (t.ip6_dst[0] == 0xff) {
        static const uint8_t mc[2] = {0x33, 0x33};
        memcpy(t.eth_dst, mc, 2);
        memcpy(t.eth_dst + 2, t.ip6_dst + 12, 4);
    } else {
        mac_of(t.eth_dst, dmac);
    }
    t.ttl = 255;
    if (target)
        ip6_of(tg, target);
    if (type == 0) {
        n = vf_tpkt_ip6_udp(f, sizeof(f), &t);
    } else if (type == VF_ICMP6_RS || type == VF_ICMP6_NS ||
               type == VF_ICMP6_NA) {
        n = vf_tpkt_ip6_nd(f, sizeof(f), &t, (uint8_t)type, tg, sll, tll);
    } else {
        t.icmp_type = (uint8_t)type;
        t.icmp_code = 0;
        t.payload = body;               /* RA: 8 bytes; redirect: 32 */
        t.payload_len = type == VF_ICMP6_REDIRECT ? 32 : 8;
        n = vf_tpkt_ip6_icmp6(f, sizeof(f), &t);
    }
    assert_true(n > 0);
    assert_int_equal(lt_send(&w->f, port, f, (unsigned)n, &res), 0);
    if (res.n > 0 && lt_drop_reason(&res) < 0)
        return VF_DROP_NONE;
    return res.n ? -1 : lt_drop_reason(&res);
}

#define LLA1 "fe80::ff:fe00:101"        /* vm1's, from 02:00:00:00:01:01 */
#define LLA2 "fe80::ff:fe00:102"        /* vm2's */
#define SNM1 "ff02::1:ff00:101"         /* vm1's solicited-node group */

/* vm1 is secured with IPv4 addresses only: IPv6 only from its link-local
 * address (and :: for DAD), ND naming only itself, never RAs/redirects. */
static void test_port_security_ipv6(void **state)
{
    struct world *w = *state;
    uint8_t own[6], other[6];

    mac_of(own, MAC_VM(0));
    mac_of(other, MAC_VM(1));
    /* Its link-local source passes; any other source does not. */
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, MAC_VM(1), LLA2, 0,
                           NULL, NULL, NULL), VF_DROP_NONE);
    assert_non_null(lt_find(&res, "vm2"));
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "2001:db8::66", MAC_VM(1),
                           LLA2, 0, NULL, NULL, NULL), VF_DROP_PS_IP6_SOURCE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "fe80::bad", MAC_VM(1),
                           LLA2, 0, NULL, NULL, NULL), VF_DROP_PS_IP6_SOURCE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA2, MAC_VM(1), LLA2, 0,
                           NULL, NULL, NULL), VF_DROP_PS_IP6_SOURCE);
    /* The MAC rule still comes first. */
    assert_int_equal(send6(w, "vm1", 0x9999, LLA1, MAC_VM(1), LLA2, 0,
                           NULL, NULL, NULL), VF_DROP_PORT_SECURITY);

    /* Router messages, even from its own address. */
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1",
                           VF_ICMP6_RA, NULL, NULL, NULL), VF_DROP_PS_RA);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "fe80::bad", 0, "ff02::1",
                           VF_ICMP6_RA, NULL, NULL, NULL), VF_DROP_PS_RA);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, MAC_VM(1), LLA2,
                           VF_ICMP6_REDIRECT, NULL, NULL, NULL),
                     VF_DROP_PS_REDIRECT);

    /* Advertisements: for itself with its MAC (or none) pass; for vm2's
     * address, or with another MAC, not. The same flow key but for the
     * target: the cached answer of the first must not serve the second. */
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1",
                           VF_ICMP6_NA, LLA1, NULL, own), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1",
                           VF_ICMP6_NA, LLA2, NULL, own), VF_DROP_PS_ND);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1",
                           VF_ICMP6_NA, LLA1, NULL, other), VF_DROP_PS_ND);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, MAC_VM(1), LLA2,
                           VF_ICMP6_NA, LLA1, NULL, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1",
                           VF_ICMP6_NA, "2001:db8::2", NULL, own),
                     VF_DROP_PS_ND);

    /* Solicitations: for anyone, but the source option is its own MAC. */
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1:ff00:102",
                           VF_ICMP6_NS, LLA2, own, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::1:ff00:102",
                           VF_ICMP6_NS, LLA2, other, NULL), VF_DROP_PS_ND);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::2",
                           VF_ICMP6_RS, NULL, own, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, 0, "ff02::2",
                           VF_ICMP6_RS, NULL, other, NULL), VF_DROP_PS_ND);

    /* Duplicate address detection from ::, for its own address only, to
     * the solicited-node group, without a link-layer option; MLD reports
     * from :: to link-scope groups; nothing else from ::. */
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, SNM1, VF_ICMP6_NS,
                           LLA1, NULL, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, "ff02::1:ff00:102",
                           VF_ICMP6_NS, LLA2, NULL, NULL), VF_DROP_PS_ND);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, SNM1, VF_ICMP6_NS,
                           LLA1, own, NULL), VF_DROP_PS_ND);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, "ff02::1",
                           VF_ICMP6_NS, LLA1, NULL, NULL),
                     VF_DROP_PS_IP6_SOURCE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, "ff02::16",
                           VF_ICMP6_MLD2_REPORT, NULL, NULL, NULL),
                     VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, "ff05::16",
                           VF_ICMP6_MLD2_REPORT, NULL, NULL, NULL),
                     VF_DROP_PS_IP6_SOURCE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", MAC_VM(1), LLA2, 0,
                           NULL, NULL, NULL), VF_DROP_PS_IP6_SOURCE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "::", 0, SNM1, VF_ICMP6_NA,
                           LLA1, NULL, NULL), VF_DROP_PS_IP6_SOURCE);

    /* vm2 has no port security: the same spoofs go through. */
    assert_int_equal(send6(w, "vm2", MAC_VM(1), "2001:db8::66", MAC_VM(0),
                           LLA1, 0, NULL, NULL, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm2", MAC_VM(1), LLA2, 0, "ff02::1",
                           VF_ICMP6_RA, NULL, NULL, NULL), VF_DROP_NONE);

    /* Modelled IPv6 addresses: vm1 may now also send from and advertise
     * 2001:db8::1, and no other global address. */
    ip6_of(w->m.tenants[0].switches[0].ports[0].ip6s[0], "2001:db8::1");
    w->m.tenants[0].switches[0].ports[0].n_ip6s = 1;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "2001:db8::1", MAC_VM(1),
                           "2001:db8::2", 0, NULL, NULL, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "2001:db8::1", 0, "ff02::1",
                           VF_ICMP6_NA, "2001:db8::1", NULL, own),
                     VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), LLA1, MAC_VM(1), LLA2, 0,
                           NULL, NULL, NULL), VF_DROP_NONE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "2001:db8::3", MAC_VM(1),
                           "2001:db8::2", 0, NULL, NULL, NULL),
                     VF_DROP_PS_IP6_SOURCE);
    assert_int_equal(send6(w, "vm1", MAC_VM(0), "2001:db8::1", 0, "ff02::1",
                           VF_ICMP6_NA, "2001:db8::2", NULL, own),
                     VF_DROP_PS_ND);
}

static void check_arp_reply(const struct lt_dlv *d, uint32_t owner_mac,
                            uint32_t owner_ip)
{
    uint8_t exp[42];
    uint8_t om[6], rm[6];
    mac_of(om, owner_mac);
    mac_of(rm, MAC_VM(0));
    memcpy(exp, rm, 6);
    memcpy(exp + 6, om, 6);
    exp[12] = 0x08; exp[13] = 0x06;
    uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 2};
    memcpy(exp + 14, hdr, 8);
    memcpy(exp + 22, om, 6);
    uint32_t ip = htonl(owner_ip);
    memcpy(exp + 28, &ip, 4);
    memcpy(exp + 32, rm, 6);
    ip = htonl(IP(10, 0, 0, 1));
    memcpy(exp + 38, &ip, 4);
    assert_int_equal(d->len, 42);
    assert_memory_equal(d->data, exp, 42);
}

static void test_arp_responder(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    mac_of(t.eth_src, MAC_VM(0));
    memset(t.eth_dst, 0xff, 6);
    t.ip4_src = IP(10, 0, 0, 1);

    /* A VM on the other chassis: answered here, out vm1 only. */
    t.ip4_dst = IP(10, 0, 0, 3);
    size_t n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm1");
    assert_int_equal(res.tunnelled, 0);
    check_arp_reply(&res.d[0], MAC_VM(2), IP(10, 0, 0, 3));

    /* The router port: answered with its MAC. */
    t.ip4_dst = IP(10, 0, 0, 254);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    check_arp_reply(&res.d[0], MAC_R(1), IP(10, 0, 0, 254));

    /* The same again comes from the flow cache: same bytes. */
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    check_arp_reply(&res.d[0], MAC_R(1), IP(10, 0, 0, 254));

    /* Unknown address, and an address of another switch: flooded. */
    t.ip4_dst = IP(10, 0, 0, 99);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 2);
    assert_non_null(lt_find(&res, "vm2"));
    assert_non_null(lt_find(&res, "vm3"));
    t.ip4_dst = IP(10, 0, 1, 1);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 2);
    /* Red's rvm1 asks for 10.0.0.2: red's rvm2 answers, not blue's vm2
     * (same IP, same MAC: the reply must come from red's switch, which the
     * in-port alone decides). */
    t.ip4_dst = IP(10, 0, 0, 2);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "rvm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "rvm1");
    /* Gratuitous ARP is not answered: flooded. */
    t.ip4_dst = IP(10, 0, 0, 1);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 2);
}

/* Expected routed frame: the original with new MACs, TTL and checksum. */
static void check_routed(const struct lt_dlv *d, const uint8_t *orig, size_t n,
                         uint32_t smac, uint32_t dmac, uint8_t ttl)
{
    uint8_t exp[256];
    memcpy(exp, orig, n);
    mac_of(exp, dmac);
    mac_of(exp + 6, smac);
    exp[14 + 8] = ttl;
    exp[14 + 10] = exp[14 + 11] = 0;
    uint16_t c = vf_tpkt_csum_fold(vf_tpkt_csum_add(0, exp + 14, 20));
    exp[14 + 10] = (uint8_t)(c >> 8);
    exp[14 + 11] = (uint8_t)c;
    assert_int_equal(d->len, n);
    assert_memory_equal(d->data, exp, n);
    assert_int_equal(vf_tpkt_csum_fold(vf_tpkt_csum_add(0, d->data + 14, 20)), 0);
}

static void test_router(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    /* One hop, local: vm1 -> db1. */
    size_t n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), IP(10, 0, 1, 1), 64, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "db1");
    check_routed(&res.d[0], f, n, MAC_R(2), 0x0201, 63);
    /* One hop, remote: vm1 -> db2 through the tunnel. */
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), IP(10, 0, 1, 2), 17, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "db2");
    assert_int_equal(res.tunnelled, 1);
    check_routed(&res.d[0], f, n, MAC_R(2), 0x0202, 16);
    /* Two hops (r1, transit, r2), all at the source host. */
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), IP(10, 0, 3, 1), 64, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "app1");
    assert_int_equal(res.tunnelled, 1);
    check_routed(&res.d[0], f, n, MAC_R(5), 0x0301, 62);
    /* And back from hv2: app1 -> vm2. */
    n = udp_frame(f, 0x0301, IP(10, 0, 3, 1), MAC_R(5), IP(10, 0, 0, 2), 64, 53);
    lt_send(&w->f, "app1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm2");
    check_routed(&res.d[0], f, n, MAC_R(1), MAC_VM(1), 62);
}

/* A packet too big for its tunnel is dropped (mtu_exceeded) and, with DF
 * set, answered with ICMP fragmentation-needed out its in-port, naming the
 * largest inner IP packet the tunnel carries (vf_icmp.h). */
static size_t big_frame(uint8_t *buf, size_t cap, uint32_t dmac, uint32_t dip,
                        bool df, size_t ip_len, uint8_t icmp_type)
{
    struct vf_tpkt t;
    tpkt_from_vm1(&t, dmac, dip);
    t.ip4_df = df;
    t.ttl = 64;
    t.dport = 53;
    t.icmp_type = icmp_type;
    t.payload_len = ip_len - 28;
    return icmp_type ? vf_tpkt_ip4_icmp(buf, cap, &t) : vf_tpkt_ip4_udp(buf, cap, &t);
}

static void test_frag_needed(void **state)
{
    struct world *w = *state;
    static uint8_t f[2048];
    /* Geneve with vfab's option: 14 + 20 + 8 + 8 + 12 bytes of outer
     * headers on a 1500-byte underlay leave 1452 for the inner frame. */
    const uint16_t want_mtu = 1500 - (20 + 8 + 8 + 12) - 14;
    size_t n = big_frame(f, sizeof(f), MAC_VM(2), IP(10, 0, 0, 3), true, 1500, 0);
    assert_int_equal(n, 1514);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_MTU);
    assert_int_equal(res.tunnelled, 0);
    assert_int_equal(res.n, 1);
    const struct lt_dlv *d = &res.d[0];
    assert_string_equal(d->port, "vm1");
    assert_int_equal(d->len, 14 + 576);
    assert_memory_equal(d->data, f + 6, 6);        /* to vm1 */
    assert_memory_equal(d->data + 6, f, 6);        /* from vm3's MAC */
    assert_int_equal(vf_tpkt_get16(d->data + 12), 0x0800);
    const uint8_t *ip = d->data + 14, *icmp = ip + 20;
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(ip[9], 1);
    assert_int_equal(vf_tpkt_get16(ip + 2), 576);
    assert_memory_equal(ip + 12, f + 14 + 16, 4);  /* from 10.0.0.3 */
    assert_memory_equal(ip + 16, f + 14 + 12, 4);  /* to 10.0.0.1 */
    assert_true(vf_tpkt_ip4_csum_ok(ip));
    assert_int_equal(icmp[0], 3);
    assert_int_equal(icmp[1], 4);
    assert_int_equal(vf_tpkt_get16(icmp + 6), want_mtu);
    assert_int_equal(vf_tpkt_csum_fold(vf_tpkt_csum_add(0, icmp, 576 - 20)), 0);
    assert_memory_equal(icmp + 8, f + 14, 576 - 28);   /* the quote */
    assert_int_equal(w->f.host[0].w->stats.icmp_frag_needed, 1);

    /* At the advertised MTU it goes through. */
    n = big_frame(f, sizeof(f), MAC_VM(2), IP(10, 0, 0, 3), true, want_mtu, 0);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm3");
    assert_int_equal(res.tunnelled, 1);
    /* Routed (vm1 -> r1 -> db2 on hv2): the answer comes from the router
     * port's MAC, the one vm1 sent to. */
    n = big_frame(f, sizeof(f), MAC_R(1), IP(10, 0, 1, 2), true, 1500, 0);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_MTU);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm1");
    uint8_t rmac[6];
    mac_of(rmac, MAC_R(1));
    assert_memory_equal(res.d[0].data + 6, rmac, 6);
    assert_int_equal(vf_tpkt_get16(res.d[0].data + 14 + 20 + 6), want_mtu);

    /* No answer: DF clear, or the packet is itself an ICMP error. An echo
     * request is answered. */
    n = big_frame(f, sizeof(f), MAC_VM(2), IP(10, 0, 0, 3), false, 1500, 0);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_MTU);
    assert_int_equal(res.n, 0);
    n = big_frame(f, sizeof(f), MAC_VM(2), IP(10, 0, 0, 3), true, 1500, 3);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_MTU);
    assert_int_equal(res.n, 0);
    n = big_frame(f, sizeof(f), MAC_VM(2), IP(10, 0, 0, 3), true, 1500, 8);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.d[0].data[14 + 20], 3);
    assert_int_equal(w->f.host[0].w->stats.icmp_frag_needed, 3);
    /* A link-layer broadcast is flooded (vm2 gets it, the tunnel to vm3
     * is too small) and never answered. */
    n = big_frame(f, sizeof(f), MAC_VM(2), IP(10, 0, 0, 3), true, 1500, 0);
    memset(f, 0xff, 6);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_non_null(lt_find(&res, "vm2"));
    assert_null(lt_find(&res, "vm1"));
    assert_int_equal(res.drops[VF_DROP_MTU], 1);
    assert_int_equal(w->f.host[0].w->stats.icmp_frag_needed, 3);
}

static void test_router_drops(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    struct { uint32_t dip; uint8_t ttl; int reason; } c[] = {
        {IP(10, 0, 1, 1), 1, VF_DROP_TTL_EXPIRED},
        {IP(10, 0, 3, 1), 2, VF_DROP_TTL_EXPIRED},   /* second hop */
        {IP(10, 0, 3, 1), 3, VF_DROP_NONE},
        {IP(10, 0, 1, 77), 64, VF_DROP_ROUTER_NO_NH_MAC},
        {IP(192, 168, 1, 1), 64, VF_DROP_NO_ROUTE},
        {IP(10, 9, 1, 1), 64, VF_DROP_LOOP},
        {IP(10, 0, 0, 254), 64, VF_DROP_ROUTER_OWN_ADDR},   /* the router itself */
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        size_t n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), c[i].dip,
                             c[i].ttl, 53);
        lt_send(&w->f, "vm1", f, (unsigned)n, &res);
        if (c[i].reason == VF_DROP_NONE) {
            assert_int_equal(res.n, 1);
            check_routed(&res.d[0], f, n, MAC_R(5), 0x0301, 1);
        } else {
            assert_int_equal(res.n, 0);
            assert_int_equal(lt_drop_reason(&res), c[i].reason);
        }
    }
}

static void test_acl(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    /* web: drop tcp/22 from every port, but allow it from vm2 (port rule,
     * higher priority); db: to-port drop udp 5000-5010. */
    struct vf_model_acl *a = lt_acl(&w->m, 0, 0, VF_ACL_FROM_PORT, 100, VF_ACL_DROP);
    a->proto = VF_IPPROTO_TCP;
    a->dport_lo = a->dport_hi = 22;
    a = lt_acl(&w->m, 0, 0, VF_ACL_FROM_PORT, 200, VF_ACL_ALLOW);
    snprintf(a->port, sizeof(a->port), "vm2");
    a->proto = VF_IPPROTO_TCP;
    a = lt_acl(&w->m, 0, 1, VF_ACL_TO_PORT, 10, VF_ACL_DROP);
    a->proto = VF_IPPROTO_UDP;
    a->dport_lo = 5000;
    a->dport_hi = 5010;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);

    struct vf_tpkt t;
    vf_tpkt_init(&t);
    mac_of(t.eth_src, MAC_VM(0));
    mac_of(t.eth_dst, MAC_VM(2));
    t.ip4_src = IP(10, 0, 0, 1);
    t.ip4_dst = IP(10, 0, 0, 3);
    t.dport = 22;
    size_t n = vf_tpkt_ip4_tcp(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_INGRESS);
    t.dport = 23;
    n = vf_tpkt_ip4_tcp(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    mac_of(t.eth_src, MAC_VM(1));
    t.ip4_src = IP(10, 0, 0, 2);
    t.dport = 22;
    n = vf_tpkt_ip4_tcp(f, sizeof(f), &t);
    lt_send(&w->f, "vm2", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    /* Egress ACL: local (db1) and remote (db2, applied at hv2). */
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), IP(10, 0, 1, 1), 64, 5005);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_EGRESS);
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), IP(10, 0, 1, 2), 64, 5010);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.tunnelled, 1);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_EGRESS);
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_R(1), IP(10, 0, 1, 2), 64, 5011);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    /* ACLs do not apply to ARP. */
    vf_tpkt_init(&t);
    mac_of(t.eth_src, MAC_VM(3));
    memset(t.eth_dst, 0xff, 6);
    lt_acl(&w->m, 0, 0, VF_ACL_FROM_PORT, 1, VF_ACL_DROP);  /* drop all IPv4 */
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_VM(1), IP(10, 0, 0, 2), 64, 53);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_INGRESS);
    mac_of(t.eth_src, MAC_VM(0));
    t.ip4_src = IP(10, 0, 0, 1);
    t.ip4_dst = IP(10, 0, 0, 2);
    n = vf_tpkt_arp_request(f, sizeof(f), &t);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
}

/* One fragment of a UDP datagram of dgram bytes (header included) from
 * vm1 to (dmac, dip) port dport: the first one (at 0, with the UDP header
 * and the whole datagram's length) or a later one at byte `at`. */
static size_t frag_frame(uint8_t *buf, size_t cap, uint32_t dmac, uint32_t dip,
                         uint16_t dport, uint32_t at, uint32_t len, uint32_t dgram)
{
    struct vf_tpkt t;
    tpkt_from_vm1(&t, dmac, dip);
    t.dport = dport;
    t.frag_offset = (uint16_t)(at / 8);
    t.more_frags = at + len < dgram;
    if (at == 0) {
        t.payload_len = len - VF_TPKT_UDP_LEN;
        size_t n = vf_tpkt_ip4_udp(buf, cap, &t);
        vf_tpkt_put16(buf + VF_TPKT_ETH_LEN + VF_TPKT_IP4_LEN + 4, (uint16_t)dgram);
        return n;
    }
    t.payload_len = len;
    return vf_tpkt_ip4_raw(buf, cap, &t, VF_TPKT_PROTO_UDP);
}

/* UDP datagrams larger than the MTU arrive as IP fragments (issue 12 item
 * 5): the first carries the ports and a UDP length longer than itself, the
 * later ones no ports. Both cross the switch, the tunnel and the router,
 * and the ACLs treat them as docs/config.md says: the first like a whole
 * packet, later ones on L3 only (no rule with a port range matches them). */
static void test_fragments(void **state)
{
    struct world *w = *state;
    uint8_t f[1024];
    size_t n;
    /* web, to-port: drop udp to ports 0-1023, and to 7777. db, to-port:
     * drop all udp (no port range). */
    struct vf_model_acl *a = lt_acl(&w->m, 0, 0, VF_ACL_TO_PORT, 100, VF_ACL_DROP);
    a->proto = VF_IPPROTO_UDP;
    a->dport_lo = 0;
    a->dport_hi = 1023;
    a = lt_acl(&w->m, 0, 0, VF_ACL_TO_PORT, 90, VF_ACL_DROP);
    a->proto = VF_IPPROTO_UDP;
    a->dport_lo = a->dport_hi = 7777;
    a = lt_acl(&w->m, 0, 1, VF_ACL_TO_PORT, 10, VF_ACL_DROP);
    a->proto = VF_IPPROTO_UDP;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);

    const uint32_t dgram = 1000, per = 400;
    /* To port 5000 on vm2 (local) and vm3 (hv2): every fragment arrives
     * unchanged. */
    for (unsigned k = 0; k < 2; k++) {
        uint32_t mac = k ? MAC_VM(2) : MAC_VM(1), ip = IP(10, 0, 0, 2 + k);
        const char *to = k ? "vm3" : "vm2";
        for (uint32_t at = 0; at < dgram; at += per) {
            uint32_t len = dgram - at < per ? dgram - at : per;
            n = frag_frame(f, sizeof(f), mac, ip, 5000, at, len, dgram);
            assert_true(n > 0);
            lt_send(&w->f, "vm1", f, (unsigned)n, &res);
            if (res.n != 1)
                fail_msg("fragment at %u to %s: %u deliveries, drop %s", at, to,
                         res.n, vf_drop_name((unsigned)lt_drop_reason(&res)));
            assert_string_equal(res.d[0].port, to);
            assert_int_equal(res.d[0].len, n);
            assert_memory_equal(res.d[0].data, f, n);
            assert_int_equal(res.tunnelled, k);
        }
    }
    /* To 7777: the first fragment meets the rule; the later ones have no
     * port for it (the receiver cannot reassemble without the first). */
    n = frag_frame(f, sizeof(f), MAC_VM(1), IP(10, 0, 0, 2), 7777, 0, per, dgram);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_EGRESS);
    n = frag_frame(f, sizeof(f), MAC_VM(1), IP(10, 0, 0, 2), 7777, per, per, dgram);
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    /* Through the router to db1: "drop udp" has no port range, so it
     * drops every fragment. */
    for (uint32_t at = 0; at < dgram; at += per) {
        uint32_t len = dgram - at < per ? dgram - at : per;
        n = frag_frame(f, sizeof(f), MAC_R(1), IP(10, 0, 1, 1), 5000, at, len, dgram);
        lt_send(&w->f, "vm1", f, (unsigned)n, &res);
        assert_int_equal(res.n, 0);
        assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_EGRESS);
    }
}

static void test_tenants_apart(void **state)
{
    struct world *w = *state;
    uint8_t f[256];
    /* rvm1 sends to the MAC both vm2 and rvm2 use: only rvm2 gets it. */
    size_t n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_VM(1), IP(10, 0, 0, 2), 64, 53);
    lt_send(&w->f, "rvm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "rvm2");
    /* And vm1's identical frame only vm2. */
    lt_send(&w->f, "vm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "vm2");
    /* A red broadcast never leaves red. */
    memset(f, 0xff, 6);
    lt_send(&w->f, "rvm1", f, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "rvm2");
}

/* Turns a Geneve frame with our option (as vf_tunnel_encap builds it) into
 * one without options, as Open vSwitch sends: the 12 option bytes go and
 * the outer lengths shrink to match. */
static void geneve_drop_option(struct vf_pkt *p)
{
    uint8_t *f = vf_pkt_data(p);
    const uint32_t gen = 14 + 20 + 8, opt = 12;
    assert_int_equal(f[gen] & 0x3f, opt / 4);
    f[gen] = 0;
    memmove(f + gen + 8, f + gen + 8 + opt, p->len - gen - 8 - opt);
    p->len -= opt;
    uint16_t ip_len = (uint16_t)(p->len - 14), udp_len = (uint16_t)(p->len - 34);
    f[16] = (uint8_t)(ip_len >> 8);
    f[17] = (uint8_t)ip_len;
    f[38] = (uint8_t)(udp_len >> 8);
    f[39] = (uint8_t)udp_len;
}

/* Hand-made tunnel packets arriving at hv2, from chassis and from
 * addresses that are none. */
static void test_decap(void **state)
{
    struct world *w = *state;
    struct lt_fabric *fb = &w->f;
    struct lt_host *h2 = &fb->host[1];
    struct vf_tunnel_peer peer;
    static const uint8_t z[6];
    uint8_t f[256];
    size_t n = udp_frame(f, MAC_VM(0), IP(10, 0, 0, 1), MAC_VM(2), IP(10, 0, 0, 3), 64, 53);
    const uint32_t hv1 = IP(192, 0, 2, 1), hv2 = IP(192, 0, 2, 2),
                   hv3 = IP(192, 0, 2, 3), nobody = IP(192, 0, 2, 99);
    const bool opt = false, noopt = true;
    struct {
        uint32_t from; enum vf_encap encap; bool noopt;
        uint32_t vni, in, out; int reason; const char *to;
    } c[] = {
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 1, 3, VF_DROP_NONE, "vm3"},
        {hv1, VF_ENCAP_GENEVE, opt, 4242, 1, 3, VF_DROP_TUN_UNKNOWN_VNI, NULL},
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 1, 2, VF_DROP_TUN_BAD_EGRESS, NULL},  /* vm2: hv1 */
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 1, 8, VF_DROP_TUN_BAD_EGRESS, NULL},  /* red's */
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 1, 11, VF_DROP_TUN_BAD_EGRESS, NULL}, /* router */
        {hv1, VF_ENCAP_GENEVE, opt, 2001, 7, 3, VF_DROP_TUN_BAD_EGRESS, NULL},  /* vm3 in red */
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 1, 0, VF_DROP_NONE, "vm3"},          /* flood */
        {hv1, VF_ENCAP_VXLAN, opt, 1001, 0, 0, VF_DROP_NONE, "vm3"},           /* by MAC */
        {hv1, VF_ENCAP_VXLAN, opt, 2001, 0, 0, VF_DROP_NONE, "rvm2"},          /* unknown: flood */
        {hv1, VF_ENCAP_GENEVE, noopt, 2001, 0, 0, VF_DROP_NONE, "rvm2"},       /* as OVS */
        /* From no chassis: with or without ports named, Geneve or VXLAN. */
        {nobody, VF_ENCAP_GENEVE, opt, 1001, 1, 3, VF_DROP_TUN_UNKNOWN_CHASSIS, NULL},
        {nobody, VF_ENCAP_GENEVE, opt, 2001, 7, 8, VF_DROP_TUN_UNKNOWN_CHASSIS, NULL},
        {nobody, VF_ENCAP_GENEVE, noopt, 2001, 0, 0, VF_DROP_TUN_UNKNOWN_CHASSIS, NULL},
        {nobody, VF_ENCAP_VXLAN, opt, 2001, 0, 0, VF_DROP_TUN_UNKNOWN_CHASSIS, NULL},
        /* From hv2's own address: vfab never tunnels to itself. */
        {hv2, VF_ENCAP_GENEVE, opt, 1001, 1, 3, VF_DROP_TUN_UNKNOWN_CHASSIS, NULL},
        /* A chassis speaking for another's port. The first row is the
         * first row's packet (cached by now) from hv3 instead of hv1. */
        {hv3, VF_ENCAP_GENEVE, opt, 1001, 1, 3, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS, NULL},
        {hv3, VF_ENCAP_GENEVE, opt, 2001, 7, 8, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS, NULL},
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 3, 0, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS, NULL}, /* hv2's */
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 8, 3, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS, NULL}, /* red's */
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 999, 3, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS, NULL},
        /* Router ports are on every chassis; no ports named: chassis only. */
        {hv3, VF_ENCAP_GENEVE, opt, 1001, 9, 3, VF_DROP_NONE, "vm3"},
        {hv3, VF_ENCAP_VXLAN, opt, 1001, 0, 0, VF_DROP_NONE, "vm3"},
        {hv3, VF_ENCAP_GENEVE, noopt, 2001, 0, 0, VF_DROP_NONE, "rvm2"},
        {hv1, VF_ENCAP_GENEVE, opt, 1001, 1, 3, VF_DROP_NONE, "vm3"},          /* still */
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        vf_tunnel_peer_init(&peer, c[i].encap, htonl(c[i].from),
                            htonl(IP(192, 0, 2, 2)), 0, z, z, 1500, false);
        struct vf_pkt *p = vf_pool_alloc(&h2->w->cache);
        assert_non_null(p);
        assert_int_equal(vf_pkt_set(p, f, (uint32_t)n), 0);
        assert_int_equal(vf_tunnel_encap(p, &peer, c[i].vni, c[i].in, c[i].out, 7), 0);
        if (c[i].noopt)
            geneve_drop_option(p);
        p->port = (uint16_t)h2->uplink->index;
        uint64_t before[VF_DROP__COUNT];
        lt_sum_drops(fb, before);
        memset(&res, 0, sizeof(res));
        lt_run(fb, 1, p);
        lt_collect(fb, 1, &res, 0);
        lt_sum_drops(fb, res.drops);
        for (unsigned r = 0; r < VF_DROP__COUNT; r++)
            res.drops[r] -= before[r];
        if (c[i].to) {
            if (res.n != 1)
                fail_msg("row %u: %u deliveries (drop %d)", i, res.n,
                         lt_drop_reason(&res));
            assert_string_equal(res.d[0].port, c[i].to);
            assert_memory_equal(res.d[0].data, f, n);
        } else {
            if (res.n != 0 || lt_drop_reason(&res) != c[i].reason)
                fail_msg("row %u: %u deliveries, drop %d, want drop %d (%s)",
                         i, res.n, lt_drop_reason(&res), c[i].reason,
                         vf_drop_name((unsigned)c[i].reason));
        }
    }
}

/* Chassis that share one address (several vfabd on one machine) are told
 * apart by the source port, which is the sender's chassis port; a chassis
 * with an address of its own is found from any source port. Checked
 * against a linear walk over the chassis, on the compiled tables of a
 * one-machine model and on random chassis sets. */
static uint32_t ref_chassis_by_src(const struct vf_tables *t, uint32_t ip,
                                   uint16_t sport)
{
    uint32_t found = UINT32_MAX, at_ip = 0;
    for (uint32_t i = 0; i < t->n_chassis; i++) {
        if (t->chassis[i].underlay_ip != ip)
            continue;
        at_ip++;
        if (found == UINT32_MAX)
            found = i;
    }
    if (at_ip > 1) {
        found = UINT32_MAX;
        for (uint32_t i = 0; i < t->n_chassis; i++)
            if (t->chassis[i].underlay_ip == ip && t->chassis[i].port == sport)
                found = i;
    }
    return found == (uint32_t)t->local_chassis ? UINT32_MAX : found;
}

static void test_chassis_by_src(void **state)
{
    (void)state;
    struct vf_model m;
    memset(&m, 0, sizeof(m));
    lt_chassis(&m, "hv1", IP(127, 0, 0, 1), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(&m, "hv2", IP(127, 0, 0, 1), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(&m, "hv3", IP(127, 0, 0, 1), VF_MODEL_ENCAP_VXLAN);     /* 4789 */
    lt_chassis(&m, "hv4", IP(192, 0, 2, 4), VF_MODEL_ENCAP_GENEVE);
    m.chassis[0].udp_port = 6081;
    m.chassis[1].udp_port = 6082;
    lt_assign_ids(&m);
    struct lt_fabric *fb = calloc(1, sizeof(*fb));
    assert_int_equal(lt_fabric_init(fb, &m, true), 0);
    const struct vf_tables *t = fb->host[0].t;     /* hv1's view */
    const uint32_t lo = htonl(IP(127, 0, 0, 1)), hv4 = htonl(IP(192, 0, 2, 4));
    assert_int_equal(vf_tables_chassis_by_src(t, lo, 6082), 1);
    assert_int_equal(vf_tables_chassis_by_src(t, lo, 4789), 2);
    assert_int_equal(vf_tables_chassis_by_src(t, lo, 6081), UINT32_MAX);  /* itself */
    assert_int_equal(vf_tables_chassis_by_src(t, lo, 40000), UINT32_MAX); /* nobody */
    assert_int_equal(vf_tables_chassis_by_src(t, hv4, 6081), 3);
    assert_int_equal(vf_tables_chassis_by_src(t, hv4, 51234), 3);         /* entropy */
    assert_int_equal(vf_tables_chassis_by_src(t, htonl(IP(192, 0, 2, 99)), 6081),
                     UINT32_MAX);
    /* hv2's view of the same fabric: hv1 is found, hv2 is itself. */
    assert_int_equal(vf_tables_chassis_by_src(fb->host[1].t, lo, 6081), 0);
    assert_int_equal(vf_tables_chassis_by_src(fb->host[1].t, lo, 6082), UINT32_MAX);
    lt_fabric_fini(fb);
    free(fb);
    lt_model_free(&m);

    /* Random chassis sets: few addresses and ports, so many share. */
    uint32_t seed = 12345;
    for (unsigned round = 0; round < 200; round++) {
        uint32_t nc = 1 + (seed = seed * 1103515245u + 12345u) % 40;
        struct vf_chassis_tab *tab = vf_chassis_tab_alloc(nc);
        assert_non_null(tab);
        for (uint32_t i = 0; i < nc; i++) {
            /* Distinct endpoints, as the model requires: (ip, port) from
             * a counter, addresses from a small set. */
            seed = seed * 1103515245u + 12345u;
            tab->c[i].underlay_ip = htonl(IP(10, 0, 0, 1 + (seed >> 16) % 6));
            tab->c[i].port = (uint16_t)(6000 + i);
        }
        assert_int_equal(vf_chassis_tab_index(tab), 0);
        struct vf_tables tt = {.chassis_tab = tab, .chassis = tab->c,
                               .n_chassis = nc, .local_chassis = (int)(round % nc)};
        for (unsigned q = 0; q < 200; q++) {
            seed = seed * 1103515245u + 12345u;
            uint32_t ip = htonl(IP(10, 0, 0, (seed >> 16) % 8));
            uint16_t port = (uint16_t)(5998 + (seed >> 8) % 45);
            assert_int_equal(vf_tables_chassis_by_src(&tt, ip, port),
                             ref_chassis_by_src(&tt, ip, port));
        }
        vf_chassis_tab_unref(tab);
    }
}

static void test_trace(void **state)
{
    struct world *w = *state;
    struct vf_trace *tr = calloc(1, sizeof(*tr));
    const struct vf_tables *t1 = w->f.host[0].t;
    struct vf_trace_pkt pk = {0};

    /* Unicast to a remote port: tunnel to hv2 with vni 1001. */
    pk.fields = VF_TRACE_F_ETH_DST | VF_TRACE_F_IP_DST;
    mac_of(pk.eth_dst, MAC_VM(2));
    pk.ip_dst = htonl(IP(10, 0, 0, 3));
    assert_int_equal(vf_trace_run(t1, "vm1", &pk, tr), 0);
    assert_int_equal(tr->action, VF_TRACE_TUNNEL);
    assert_int_equal(tr->n_out, 1);
    assert_string_equal(tr->out[0].port, "vm3");
    assert_string_equal(tr->out[0].chassis, "hv2");
    assert_int_equal(tr->out[0].vni, 1001);
    assert_true(tr->n_steps >= 4);
    assert_string_equal(tr->steps[0].stage, "physical_to_logical");

    /* Routed two hops: the router stage appears twice. */
    mac_of(pk.eth_dst, MAC_R(1));
    pk.ip_dst = htonl(IP(10, 0, 3, 1));
    assert_int_equal(vf_trace_run(t1, "vm1", &pk, tr), 0);
    assert_true(tr->routed);
    assert_string_equal(tr->out[0].port, "app1");
    unsigned routers = 0;
    for (unsigned i = 0; i < tr->n_steps; i++)
        routers += strcmp(tr->steps[i].stage, "router") == 0;
    assert_int_equal(routers, 2);

    /* Flood: local vm2 and a copy to hv2. */
    pk.fields = 0;
    assert_int_equal(vf_trace_run(t1, "vm1", &pk, tr), 0);
    assert_int_equal(tr->n_out, 2);
    assert_int_equal(tr->out[0].action, VF_TRACE_DELIVER);
    assert_string_equal(tr->out[0].port, "vm2");
    assert_int_equal(tr->out[1].action, VF_TRACE_TUNNEL);
    assert_string_equal(tr->out[1].chassis, "hv2");

    /* Spoofed: drop with the reason's name. */
    pk.fields = VF_TRACE_F_IP_SRC;
    pk.ip_src = htonl(IP(10, 0, 0, 9));
    assert_int_equal(vf_trace_run(t1, "vm1", &pk, tr), 0);
    assert_int_equal(tr->action, VF_TRACE_DROP);
    assert_string_equal(tr->reason_name, "port_security");

    /* ARP: answered at the source. */
    pk.fields = VF_TRACE_F_ARP_OP | VF_TRACE_F_IP_DST;
    pk.arp_op = 1;
    pk.ip_dst = htonl(IP(10, 0, 0, 254));
    assert_int_equal(vf_trace_run(t1, "vm1", &pk, tr), 0);
    assert_true(tr->arp_reply);
    assert_string_equal(tr->out[0].port, "vm1");

    assert_int_equal(vf_trace_run(t1, "nope", &pk, tr), -ENOENT);
    assert_int_equal(vf_trace_run(t1, "r1-web", &pk, tr), -ENOENT);
    free(tr);
}

/* The shipped demo model, loaded from YAML and validated by mgmt: the ids
 * and resolved indexes are the real ones, not the test builder's. */
static void test_yaml_demo(void **state)
{
    (void)state;
    char path[512], err[256];
    const char *src = getenv("VF_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/examples/demo.yaml", src ? src : ".");
    struct vf_model m;
    if (vf_config_load(path, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        fail();
    }
    struct lt_fabric *f = calloc(1, sizeof(*f));
    assert_int_equal(lt_fabric_init(f, &m, true), 0);
    uint8_t fr[256];
    uint32_t vm1_mac = 0x0101, r_web = 0xff01;
    /* blue-vm1 (hv1) -> blue-db2 (hv2, 10.0.1.2) through blue-r. */
    size_t n = udp_frame(fr, vm1_mac, IP(10, 0, 0, 1), r_web, IP(10, 0, 1, 2), 64, 53);
    lt_send(f, "blue-vm1", fr, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "blue-db2");
    assert_int_equal(res.tunnelled, 1);
    check_routed(&res.d[0], fr, n, 0xff02, 0x0202, 63);
    /* ssh towards the web machines is dropped at their egress. */
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    mac_of(t.eth_src, 0x0201);
    mac_of(t.eth_dst, 0xff02);
    t.ip4_src = IP(10, 0, 1, 1);
    t.ip4_dst = IP(10, 0, 0, 4);
    t.dport = 22;
    n = vf_tpkt_ip4_tcp(fr, sizeof(fr), &t);
    lt_send(f, "blue-db1", fr, (unsigned)n, &res);
    assert_int_equal(res.n, 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_EGRESS);
    /* red-vm1 to the MAC red-vm4 and blue-vm4 share: red-vm4 only. */
    n = udp_frame(fr, vm1_mac, IP(10, 0, 0, 1), 0x0104, IP(10, 0, 0, 4), 64, 53);
    lt_send(f, "red-vm1", fr, (unsigned)n, &res);
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, "red-vm4");
    lt_fabric_fini(f);
    free(f);
    vf_model_free(&m);
}

/* A TCP GSO frame (as a TSO tap hands it over) from vm1 to vm2 on the
 * same host: a port with VF_PORT_CAP_GSO_TX (a tap, a vhost-user guest
 * with TSO) gets it whole, gso_size kept; a port without gets one segment
 * per MSS. Both runs use the same ring port, so the capability alone
 * decides, and the second run comes from the flow cache: the choice is
 * made per frame, not cached. */
static void test_gso_by_caps(void **state)
{
    struct world *w = *state;
    struct lt_fabric *f = &w->f;
    int i1 = lt_port_idx(f, "vm1"), i2 = lt_port_idx(f, "vm2");
    assert_true(i1 >= 0 && i2 >= 0);
    assert_int_equal(f->port_host[i1], 0);
    struct vf_tpkt t;
    tpkt_from_vm1(&t, MAC_VM(1), IP(10, 0, 0, 2));
    t.sport = 40000;
    t.dport = 80;
    t.tcp_flags = 0x18;          /* PSH, ACK */
    t.payload_len = 1200;
    uint8_t fr[1400];
    size_t n = vf_tpkt_ip4_tcp(fr, sizeof(fr), &t);
    assert_int_equal(n, 14 + 20 + 20 + 1200);
    for (int whole = 0; whole < 2; whole++) {
        vf_port_set_caps(f->ports[i2], VF_PORT_CAP_GSO_TX, whole);
        struct vf_pkt *p = vf_pool_alloc(&f->host[0].w->cache);
        assert_non_null(p);
        assert_int_equal(vf_pkt_set(p, fr, (uint32_t)n), 0);
        p->port = (uint16_t)f->ports[i1]->index;
        p->gso_size = 400;
        lt_run(f, 0, p);
        struct vf_pkt *pk[8];
        unsigned k = vf_ring_port_drain(f->ports[i2], 0, pk, 8);
        assert_int_equal(k, whole ? 1 : 3);
        for (unsigned i = 0; i < k; i++) {
            assert_int_equal(pk[i]->gso_size, whole ? 400 : 0);
            assert_int_equal(pk[i]->len, whole ? n : 54 + 400);
            vf_pool_free(&f->host[0].w->cache, pk[i]);
        }
    }
    vf_port_set_caps(f->ports[i2], VF_PORT_CAP_GSO_TX, false);
}

/* A flood to many ports is cached like any other list: the second
 * broadcast of a flow to 20 ports is a flow-cache hit with the same 20
 * deliveries. (Lists of more than 13 outputs did not fit a cache entry
 * and ran every stage each time.) */
static void test_big_flood_cached(void **state)
{
    (void)state;
    struct vf_model m;
    memset(&m, 0, sizeof(m));
    lt_chassis(&m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(&m, "blue");
    int s = lt_switch(&m, t, "big", 300);
    char name[16];
    for (unsigned i = 0; i < 21; i++) {
        snprintf(name, sizeof(name), "p%u", i);
        lt_port(&m, t, s, name, 0x500 + i, IP(10, 3, 0, 1 + i), 0, false);
    }
    lt_assign_ids(&m);
    struct lt_fabric *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(lt_fabric_init(f, &m, true), 0);
    uint8_t fr[256];
    size_t n = udp_frame(fr, 0x500, IP(10, 3, 0, 1), 0, IP(10, 3, 0, 255), 64, 9);
    memset(fr, 0xff, 6);          /* to every port */
    struct lt_result *res = calloc(1, sizeof(*res));
    assert_non_null(res);
    for (unsigned round = 0; round < 2; round++) {
        assert_int_equal(lt_send(f, "p0", fr, (unsigned)n, res), 0);
        assert_int_equal(res->n, 20);
        for (unsigned i = 0; i < res->n; i++)
            assert_string_not_equal(res->d[i].port, "p0");
        struct vf_flow_cache_stats cs;
        vf_fc_get_stats(f->host[0].w->fc, &cs);
        assert_int_equal(cs.inserts, 1);
        assert_int_equal(cs.hits, round);
    }
    free(res);
    lt_fabric_fini(f);
    free(f);
    lt_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_l2_local_and_remote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
        cmocka_unit_test(test_big_flood_cached),
        cmocka_unit_test_setup_teardown(test_port_security, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_security_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_responder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frag_needed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenants_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decap, setup, teardown),
        cmocka_unit_test(test_chassis_by_src),
        cmocka_unit_test_setup_teardown(test_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_by_caps, setup, teardown),
        cmocka_unit_test(test_yaml_demo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
