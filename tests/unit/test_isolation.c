/* test_isolation.c - random multi-tenant fabrics against a reference model.
 *
 * Property: for random topologies where every tenant reuses the same MAC
 * and IP addresses, every packet (valid, spoofed, broadcast, unknown MAC,
 * ARP, routed) sent from every port is delivered to exactly the ports, with
 * exactly the bytes, that a naive reference model written here says; no
 * packet ever reaches another tenant's port. IPv6 frames are among them
 * (sources owned and spoofed, `::`, neighbour discovery, router
 * advertisements), so port security's IPv6 rules are checked against a
 * reference too (ref_ip6, docs/config.md's rules written out again here).
 * The reference reads the model
 * structs directly: linear ACL scan, linear switch/port scans, linear
 * longest prefix match. Nothing is shared with the code under test but the
 * frame builder (whose frames the reference describes by their fields).
 *
 * Also here: cache coherence (a fabric with flow caches and one without
 * give identical results across random model changes and recompiles, the
 * cached one sending every packet twice), and trace agreement (vf_trace_run
 * on the source host names the same local ports, tunnel copies and drop
 * reason as what vf_pipeline_burst did).
 *
 * Seeds are fixed (VF_TEST_SEED overrides) so a failure reproduces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/vf_trace.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_rand.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* ---- the reference model ---- */
struct ref_pkt {
    uint8_t eth_src[6], eth_dst[6];
    bool arp;
    uint16_t arp_op;
    uint32_t ip_src, ip_dst;    /* host order */
    uint8_t proto, ttl;
    uint16_t sport, dport;
    /* IPv6 (proto UDP, or ICMPv6 of icmp6_type: ND with target and the
     * link-layer options, all-zero when absent) */
    bool ip6;
    uint8_t src6[16], dst6[16], target[16];
    uint8_t icmp6_type;
    uint8_t sll[6], tll[6];
};

struct ref_out {
    unsigned n;
    char port[64][VF_NAME_MAX];
    uint8_t data[64][LT_FRAME_MAX];
    unsigned len[64];
    int drop;                   /* reason when n == 0 */
};

static bool mac_eq(const uint8_t *a, const uint8_t *b) { return memcmp(a, b, 6) == 0; }

static bool port_has_ip(const struct vf_model_port *p, uint32_t ip_host)
{
    for (unsigned i = 0; i < p->n_ips; i++)
        if (ntohl(p->ips[i]) == ip_host)
            return true;
    return false;
}

static bool pfx_match(uint32_t ip_host, uint32_t pfx_net, uint8_t plen)
{
    if (plen == 0)
        return true;
    uint32_t mask = plen >= 32 ? 0xffffffffu : ~0u << (32 - plen);
    return (ip_host & mask) == (ntohl(pfx_net) & mask);
}

/* fe80::/64 + modified EUI-64 of the MAC (RFC 4291 appendix A). */
static void ref_lla(const uint8_t mac[6], uint8_t out[16])
{
    const uint8_t a[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, mac[0] ^ 2, mac[1],
                            mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] };
    memcpy(out, a, 16);
}

static bool ref_has_ip6(const struct vf_model_port *p, const uint8_t a[16])
{
    uint8_t lla[16];
    ref_lla(p->mac, lla);
    if (memcmp(a, lla, 16) == 0)
        return true;
    for (unsigned i = 0; i < p->n_ip6s; i++)
        if (memcmp(a, p->ip6s[i], 16) == 0)
            return true;
    return false;
}

static bool is_zero(const uint8_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i])
            return false;
    return true;
}

/* Port security for IPv6 (docs/config.md): 0 or the drop reason. */
static int ref_ip6(const struct vf_model_port *p, const struct ref_pkt *k)
{
    unsigned ty = k->proto == VF_IPPROTO_ICMPV6 ? k->icmp6_type : 0;
    bool own_ll_ok;

    if (ty == 134)
        return VF_DROP_PS_RA;
    if (ty == 137)
        return VF_DROP_PS_REDIRECT;
    if (is_zero(k->src6, 16)) {
        if ((ty == 131 || ty == 143) && k->dst6[0] == 0xff && k->dst6[1] == 2)
            return 0;
        bool snm = k->dst6[0] == 0xff && k->dst6[1] == 2 &&
                   is_zero(k->dst6 + 2, 9) && k->dst6[11] == 1 &&
                   k->dst6[12] == 0xff;
        if (ty != 135 || !snm)
            return VF_DROP_PS_IP6_SOURCE;
        return ref_has_ip6(p, k->target) && is_zero(k->sll, 6) ? 0
                                                                : VF_DROP_PS_ND;
    }
    if (!ref_has_ip6(p, k->src6))
        return VF_DROP_PS_IP6_SOURCE;
    own_ll_ok = is_zero(k->sll, 6) || mac_eq(k->sll, p->mac);
    if ((ty == 135 || ty == 133) && !own_ll_ok)
        return VF_DROP_PS_ND;
    if (ty == 136 && (!ref_has_ip6(p, k->target) ||
                      !(is_zero(k->tll, 6) || mac_eq(k->tll, p->mac))))
        return VF_DROP_PS_ND;
    return 0;
}

/* true when the packet passes the switch's ACLs of dir for port name. */
static bool ref_acl(const struct vf_model_tenant *tn, int sw, enum vf_acl_dir dir,
                    const char *port, const struct ref_pkt *k)
{
    if (k->arp)
        return true;
    const struct vf_model_acl *best = NULL;
    for (size_t i = 0; i < tn->n_acls; i++) {
        const struct vf_model_acl *a = &tn->acls[i];
        if (a->switch_idx != sw || a->dir != dir)
            continue;
        if (a->port[0] && strcmp(a->port, port) != 0)
            continue;
        if (a->proto && a->proto != k->proto)
            continue;
        /* A side without an address is any address of both families;
         * the random ACLs' prefixes are IPv4. */
        if (k->ip6 ? a->src.family || a->dst.family
                   : a->src.family == 6 || a->dst.family == 6)
            continue;
        uint32_t s4, d4;
        memcpy(&s4, a->src.addr, 4);
        memcpy(&d4, a->dst.addr, 4);
        if (!k->ip6 && (!pfx_match(k->ip_src, s4, a->src.plen) ||
                        !pfx_match(k->ip_dst, d4, a->dst.plen)))
            continue;
        bool l4 = k->proto == VF_IPPROTO_TCP || k->proto == VF_IPPROTO_UDP;
        uint16_t sp = l4 ? k->sport : 0, dp = l4 ? k->dport : 0;
        if (k->proto == VF_IPPROTO_ICMP) {
            sp = 8;      /* ICMP echo: type in sport, code in dport */
            dp = 0;
        }
        if (k->proto == VF_IPPROTO_ICMPV6) {
            sp = k->icmp6_type;
            dp = 0;
        }
        if (sp < a->sport_lo || sp > a->sport_hi || dp < a->dport_lo || dp > a->dport_hi)
            continue;
        if (!best || a->priority > best->priority)
            best = a;
    }
    return !best || best->action == VF_ACL_ALLOW;
}

static void ref_emit(struct ref_out *o, const char *port, const uint8_t *f, unsigned len)
{
    assert_true(o->n < 64);
    snprintf(o->port[o->n], VF_NAME_MAX, "%s", port);
    memcpy(o->data[o->n], f, len);
    o->len[o->n++] = len;
}

/* Delivers to VM port (sw, p) through its egress ACL. */
static void ref_deliver(const struct vf_model_tenant *tn, int sw, size_t p,
                        const struct ref_pkt *k, const uint8_t *f, unsigned len,
                        struct ref_out *o, bool *acl_dropped)
{
    const struct vf_model_port *mp = &tn->switches[sw].ports[p];
    if (!ref_acl(tn, sw, VF_ACL_TO_PORT, mp->name, k)) {
        *acl_dropped = true;
        return;
    }
    ref_emit(o, mp->name, f, len);
}

static void ref_run(const struct vf_model *m, int t, int sw, size_t in_port,
                    struct ref_pkt k, const uint8_t *frame, unsigned len,
                    struct ref_out *o)
{
    const struct vf_model_tenant *tn = &m->tenants[t];
    const struct vf_model_port *src = &tn->switches[sw].ports[in_port];
    uint8_t f[LT_FRAME_MAX];
    memcpy(f, frame, len);
    memset(o, 0, sizeof(*o));

    if (src->port_security) {
        bool ok = mac_eq(k.eth_src, src->mac);
        if (!k.arp && !k.ip6 && k.ip_src && !port_has_ip(src, k.ip_src))
            ok = false;
        if (k.arp && k.ip_src && !port_has_ip(src, k.ip_src))
            ok = false;   /* (the frames here have sha == eth_src) */
        if (!ok) {
            o->drop = VF_DROP_PORT_SECURITY;
            return;
        }
        if (k.ip6 && (o->drop = ref_ip6(src, &k)) != 0)
            return;
    }
    const char *in_name = src->name;
    const struct vf_model_rport *in_rport = NULL;
    int hops = 0;
    for (;;) {
        if (!ref_acl(tn, sw, VF_ACL_FROM_PORT, in_name, &k)) {
            o->drop = VF_DROP_ACL_INGRESS;
            return;
        }
        if (k.arp && k.arp_op == 1 && k.ip_dst != k.ip_src) {
            const uint8_t *owner = NULL;
            bool self = port_has_ip(src, k.ip_dst);
            for (size_t p = 0; p < tn->switches[sw].n_ports && !owner; p++)
                if (port_has_ip(&tn->switches[sw].ports[p], k.ip_dst))
                    owner = tn->switches[sw].ports[p].mac;
            for (size_t r = 0; r < tn->n_routers && !owner; r++)
                for (size_t i = 0; i < tn->routers[r].n_ports; i++) {
                    const struct vf_model_rport *rp = &tn->routers[r].ports[i];
                    if (rp->switch_idx == sw && ntohl(rp->ip) == k.ip_dst)
                        owner = rp->mac;
                }
            if (owner && !self) {
                uint8_t *a = f + 14;
                memcpy(f, k.eth_src, 6);
                memcpy(f + 6, owner, 6);
                a[7] = 2;
                memcpy(a + 8, owner, 6);
                uint32_t v = htonl(k.ip_dst);
                memcpy(a + 14, &v, 4);
                memcpy(a + 18, k.eth_src, 6);
                v = htonl(k.ip_src);
                memcpy(a + 24, &v, 4);
                ref_emit(o, src->name, f, len);
                return;
            }
        }
        /* L2 */
        const struct vf_model_switch *s = &tn->switches[sw];
        bool flood = k.eth_dst[0] & 1;
        ssize_t vm = -1;
        const struct vf_model_rport *rport = NULL;
        const struct vf_model_router *router = NULL;
        if (!flood) {
            for (size_t p = 0; p < s->n_ports; p++)
                if (mac_eq(s->ports[p].mac, k.eth_dst))
                    vm = (ssize_t)p;
            for (size_t r = 0; r < tn->n_routers; r++)
                for (size_t i = 0; i < tn->routers[r].n_ports; i++)
                    if (tn->routers[r].ports[i].switch_idx == sw &&
                        mac_eq(tn->routers[r].ports[i].mac, k.eth_dst)) {
                        rport = &tn->routers[r].ports[i];
                        router = &tn->routers[r];
                    }
            flood = vm < 0 && !rport;
        }
        if (flood) {
            bool acl_dropped = false;
            for (size_t p = 0; p < s->n_ports; p++)
                if (strcmp(s->ports[p].name, in_name) != 0)
                    ref_deliver(tn, sw, p, &k, f, len, o, &acl_dropped);
            /* Copies to other chassis leave even when their ACLs drop
             * there; the reason counted then is the receiver's. */
            if (o->n == 0)
                o->drop = acl_dropped ? VF_DROP_ACL_EGRESS : VF_DROP_FLOOD_EMPTY;
            return;
        }
        if ((vm >= 0 && strcmp(s->ports[vm].name, in_name) == 0) ||
            (rport && rport == in_rport)) {
            o->drop = VF_DROP_HAIRPIN;
            return;
        }
        if (vm >= 0) {
            bool acl_dropped = false;
            ref_deliver(tn, sw, (size_t)vm, &k, f, len, o, &acl_dropped);
            if (acl_dropped)
                o->drop = VF_DROP_ACL_EGRESS;
            return;
        }
        /* Router: connected networks only in these topologies. */
        if (k.arp || k.ip6) {
            o->drop = VF_DROP_ROUTER_NOT_IP4;
            return;
        }
        if (hops >= VF_LOGICAL_MAX_HOPS) {
            o->drop = VF_DROP_LOOP;
            return;
        }
        if (k.ttl <= 1) {
            o->drop = VF_DROP_TTL_EXPIRED;
            return;
        }
        const struct vf_model_rport *out = NULL;
        for (size_t i = 0; i < router->n_ports; i++) {
            const struct vf_model_rport *rp = &router->ports[i];
            if (ntohl(rp->ip) == k.ip_dst) {
                o->drop = VF_DROP_ROUTER_OWN_ADDR;
                return;
            }
            if (pfx_match(k.ip_dst, rp->ip, rp->plen) && (!out || rp->plen > out->plen))
                out = rp;
        }
        if (!out) {
            o->drop = VF_DROP_NO_ROUTE;
            return;
        }
        int nsw = out->switch_idx;
        const uint8_t *nh_mac = NULL;
        for (size_t p = 0; p < tn->switches[nsw].n_ports && !nh_mac; p++)
            if (port_has_ip(&tn->switches[nsw].ports[p], k.ip_dst))
                nh_mac = tn->switches[nsw].ports[p].mac;
        for (size_t r = 0; r < tn->n_routers && !nh_mac; r++)
            for (size_t i = 0; i < tn->routers[r].n_ports; i++) {
                const struct vf_model_rport *rp = &tn->routers[r].ports[i];
                if (rp != out && rp->switch_idx == nsw && ntohl(rp->ip) == k.ip_dst)
                    nh_mac = rp->mac;
            }
        if (!nh_mac) {
            o->drop = VF_DROP_ROUTER_NO_NH_MAC;
            return;
        }
        memcpy(k.eth_src, out->mac, 6);
        memcpy(k.eth_dst, nh_mac, 6);
        k.ttl--;
        hops++;
        memcpy(f, k.eth_dst, 6);
        memcpy(f + 6, k.eth_src, 6);
        f[14 + 8] = k.ttl;
        f[14 + 10] = f[14 + 11] = 0;
        uint16_t c = vf_tpkt_csum_fold(vf_tpkt_csum_add(0, f + 14, 20));
        f[14 + 10] = (uint8_t)(c >> 8);
        f[14 + 11] = (uint8_t)c;
        sw = nsw;
        in_name = out->name;
        in_rport = out;
    }
}

/* ---- random packets ---- */

/* An IPv6 address of some port of switch sw (one of its modelled ones or
 * its link-local one, which may or may not exist), or a stranger's. */
static void random_addr6(const struct vf_model_switch *s, size_t self,
                         uint8_t a[16])
{
    const struct vf_model_port *q = &s->ports[rnd(4) ? self
                                                     : rnd((uint32_t)s->n_ports)];
    static const uint8_t stranger[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x66,
                                          [15] = 0x66 };
    switch (rnd(4)) {
    case 0:
        memcpy(a, stranger, 16);
        break;
    case 1:
        if (q->n_ip6s) {
            memcpy(a, q->ip6s[0], 16);
            break;
        }
        /* fall through */
    default:
        ref_lla(q->mac, a);
        break;
    }
}

static void random_pkt6(const struct vf_model *m, int t, int sw, size_t p,
                        struct ref_pkt *k)
{
    const struct vf_model_switch *s = &m->tenants[t].switches[sw];
    const struct vf_model_port *src = &s->ports[p];
    static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
    static const uint8_t mld2[16] = { 0xff, 0x02, [15] = 0x16 };
    static const uint8_t types[] = { 0, 0, 0, 133, 134, 135, 135, 136, 136,
                                     137, 143 };

    k->ip6 = true;
    k->ttl = 255;
    random_addr6(s, p, k->src6);
    if (rnd(6) == 0)
        memset(k->src6, 0, 16);         /* :: */
    k->icmp6_type = types[rnd(sizeof(types))];
    k->proto = k->icmp6_type ? VF_IPPROTO_ICMPV6 : VF_IPPROTO_UDP;
    if (rnd(3)) {                       /* to a neighbour's address */
        const struct vf_model_port *q = &s->ports[rnd((uint32_t)s->n_ports)];
        memcpy(k->eth_dst, q->mac, 6);
        ref_lla(q->mac, k->dst6);
    } else {
        memcpy(k->dst6, k->icmp6_type == 143 ? mld2 : all_nodes, 16);
    }
    if (k->icmp6_type == 135 || k->icmp6_type == 136) {
        random_addr6(s, p, k->target);
        if (k->icmp6_type == 135 && rnd(2)) {   /* to its solicited-node group */
            static const uint8_t snm[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
            memcpy(k->dst6, snm, 13);
            memcpy(k->dst6 + 13, k->target + 13, 3);
        }
    }
    if (k->icmp6_type == 133 || k->icmp6_type == 135 || k->icmp6_type == 136) {
        uint8_t *ll = k->icmp6_type == 136 ? k->tll : k->sll;
        switch (rnd(3)) {
        case 0: break;                  /* no option */
        case 1: memcpy(ll, src->mac, 6); break;
        default: memcpy(ll, s->ports[rnd((uint32_t)s->n_ports)].mac, 6);
                 ll[5] ^= (uint8_t)rnd(2); break;
        }
    }
    if (k->dst6[0] == 0xff) {
        k->eth_dst[0] = k->eth_dst[1] = 0x33;
        memcpy(k->eth_dst + 2, k->dst6 + 12, 4);
    }
    k->sport = 546;
    k->dport = 547;
}

/* The frame of an IPv6 ref_pkt (the trace builder makes IPv4 and ARP). */
static unsigned to_frame6(const struct ref_pkt *k, uint8_t *buf)
{
    static const uint8_t body[32];
    struct vf_tpkt t;
    size_t n;

    vf_tpkt_init(&t);
    memcpy(t.eth_src, k->eth_src, 6);
    memcpy(t.eth_dst, k->eth_dst, 6);
    memcpy(t.ip6_src, k->src6, 16);
    memcpy(t.ip6_dst, k->dst6, 16);
    t.ttl = k->ttl;
    t.sport = k->sport;
    t.dport = k->dport;
    switch (k->icmp6_type) {
    case 0:
        n = vf_tpkt_ip6_udp(buf, LT_FRAME_MAX, &t);
        break;
    case 133:
    case 135:
    case 136:
        n = vf_tpkt_ip6_nd(buf, LT_FRAME_MAX, &t, k->icmp6_type, k->target,
                           is_zero(k->sll, 6) ? NULL : k->sll,
                           is_zero(k->tll, 6) ? NULL : k->tll);
        break;
    default:
        t.icmp_type = k->icmp6_type;
        t.icmp_code = 0;
        t.payload = body;
        t.payload_len = k->icmp6_type == 137 ? 32 : 8;
        n = vf_tpkt_ip6_icmp6(buf, LT_FRAME_MAX, &t);
        break;
    }
    return (unsigned)n;
}
static void random_pkt(const struct vf_model *m, int t, int sw, size_t p,
                       struct ref_pkt *k)
{
    const struct vf_model_tenant *tn = &m->tenants[t];
    const struct vf_model_switch *s = &tn->switches[sw];
    const struct vf_model_port *src = &s->ports[p];
    memset(k, 0, sizeof(*k));
    memcpy(k->eth_src, src->mac, 6);
    k->ip_src = src->n_ips ? ntohl(src->ips[0]) : 0;
    k->ttl = 64;
    static const uint8_t protos[] = {VF_IPPROTO_TCP, VF_IPPROTO_UDP, VF_IPPROTO_ICMP};
    static const uint16_t ports[] = {22, 53, 80, 443, 1000};
    k->proto = protos[rnd(3)];
    k->sport = (uint16_t)(1024 + rnd(4));
    k->dport = ports[rnd(5)];
    /* A destination: some port pattern (may or may not exist here). */
    unsigned ds = rnd(3), dp = rnd(5);
    lt_mac(k->eth_dst, (ds + 1) << 8 | (dp + 1));
    k->ip_dst = IP(10, 0, ds, dp + 1);
    if (rnd(4) == 0) {
        random_pkt6(m, t, sw, p, k);
        return;
    }
    switch (rnd(9)) {
    case 0:         /* unicast to a real port of the switch */
        memcpy(k->eth_dst, s->ports[rnd((uint32_t)s->n_ports)].mac, 6);
        break;
    case 1:         /* spoofed MAC */
        k->eth_src[5] ^= 0x40;
        break;
    case 2:         /* spoofed IP */
        k->ip_src = IP(10, 0, 3, 3);
        break;
    case 3:         /* broadcast */
        memset(k->eth_dst, 0xff, 6);
        break;
    case 4:         /* unknown unicast */
        lt_mac(k->eth_dst, 0x7777);
        break;
    case 5:         /* ARP request */
    case 6:
        k->arp = true;
        k->arp_op = 1;
        memset(k->eth_dst, 0xff, 6);
        if (rnd(4) == 0)
            k->ip_dst = IP(10, 0, sw, 254);
        if (rnd(6) == 0)
            k->ip_src ^= 0x80;      /* spoofed sender */
        break;
    default:        /* routed: to the switch's router MAC */
        lt_mac(k->eth_dst, 0xff00 | (unsigned)(sw + 1));
        k->ttl = rnd(4) == 0 ? (uint8_t)(1 + rnd(2)) : 64;
        if (rnd(5) == 0)
            k->ip_dst = IP(10, 7, 7, 7);
        break;
    }
}

static unsigned to_frame(const struct vf_lport *in, const struct ref_pkt *k,
                         uint8_t *buf)
{
    if (k->ip6)
        return to_frame6(k, buf);
    struct vf_trace_pkt tp = {
        .fields = VF_TRACE_F_ETH_SRC | VF_TRACE_F_ETH_DST | VF_TRACE_F_IP_SRC |
                  VF_TRACE_F_IP_DST | VF_TRACE_F_PROTO | VF_TRACE_F_SPORT |
                  VF_TRACE_F_DPORT | VF_TRACE_F_TTL,
        .ip_src = htonl(k->ip_src), .ip_dst = htonl(k->ip_dst),
        .proto = k->proto, .sport = k->sport, .dport = k->dport, .ttl = k->ttl,
    };
    memcpy(tp.eth_src, k->eth_src, 6);
    memcpy(tp.eth_dst, k->eth_dst, 6);
    if (k->arp) {
        tp.fields |= VF_TRACE_F_ARP_OP;
        tp.arp_op = k->arp_op;
    }
    return vf_trace_build_frame(in, &tp, buf, LT_FRAME_MAX);
}

static struct vf_trace_pkt trace_pkt_of(const struct ref_pkt *k)
{
    struct vf_trace_pkt tp = {
        .fields = 0x1ff & ~(unsigned)(k->arp ? 0 : VF_TRACE_F_ARP_OP),
        .ip_src = htonl(k->ip_src), .ip_dst = htonl(k->ip_dst),
        .proto = k->proto, .sport = k->sport, .dport = k->dport, .ttl = k->ttl,
        .arp_op = k->arp_op,
    };
    memcpy(tp.eth_src, k->eth_src, 6);
    memcpy(tp.eth_dst, k->eth_dst, 6);
    return tp;
}

static int dlv_cmp(const void *a, const void *b)
{
    const struct lt_dlv *x = a, *y = b;
    int c = strcmp(x->port, y->port);
    return c ? c : memcmp(x->data, y->data, LT_FRAME_MAX);
}

static int tenant_of(const struct vf_model *m, const char *port)
{
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            for (size_t p = 0; p < m->tenants[t].switches[s].n_ports; p++)
                if (strcmp(m->tenants[t].switches[s].ports[p].name, port) == 0)
                    return (int)t;
    return -1;
}

static void sort_result(struct lt_result *r)
{
    for (unsigned i = 0; i < r->n; i++)
        memset(r->d[i].data + r->d[i].len, 0, LT_FRAME_MAX - r->d[i].len);
    qsort(r->d, r->n, sizeof(r->d[0]), dlv_cmp);
}

static struct lt_result got, got2, exp_r;
static struct ref_out ref;
static struct vf_trace tr;

static void ref_to_result(const struct ref_out *o, struct lt_result *r)
{
    memset(r, 0, sizeof(*r));
    r->n = o->n;
    for (unsigned i = 0; i < o->n; i++) {
        snprintf(r->d[i].port, VF_NAME_MAX, "%s", o->port[i]);
        r->d[i].len = o->len[i];
        memcpy(r->d[i].data, o->data[i], o->len[i]);
    }
    sort_result(r);
}

static void assert_same(const struct lt_result *a, const struct lt_result *b,
                        const char *what, const char *port, unsigned pkt)
{
    if (a->n != b->n) {
        fprintf(stderr, "%s: port %s packet %u: %u deliveries vs %u\n", what,
                port, pkt, a->n, b->n);
        for (unsigned i = 0; i < a->n; i++)
            fprintf(stderr, "  a: %s\n", a->d[i].port);
        for (unsigned i = 0; i < b->n; i++)
            fprintf(stderr, "  b: %s\n", b->d[i].port);
    }
    assert_int_equal(a->n, b->n);
    for (unsigned i = 0; i < a->n; i++) {
        assert_string_equal(a->d[i].port, b->d[i].port);
        assert_int_equal(a->d[i].len, b->d[i].len);
        assert_memory_equal(a->d[i].data, b->d[i].data, a->d[i].len);
    }
}

/* Checks the trace of the packet against what the burst did. */
static void check_trace(struct lt_fabric *f, unsigned host, const char *port,
                        const struct ref_pkt *k, const struct lt_result *r)
{
    struct vf_trace_pkt tp = trace_pkt_of(k);
    assert_int_equal(vf_trace_run(f->host[host].t, port, &tp, &tr), 0);
    unsigned local = 0, n_tun = 0;
    for (unsigned i = 0; i < tr.n_out; i++) {
        if (tr.out[i].action == VF_TRACE_TUNNEL) {
            n_tun++;
            continue;
        }
        local++;
        const struct lt_dlv *d = lt_find(r, tr.out[i].port);
        assert_non_null(d);
        assert_int_equal(f->port_host[lt_port_idx(f, d->port)], (int)host);
    }
    unsigned got_local = 0;
    for (unsigned i = 0; i < r->n; i++)
        got_local += f->port_host[lt_port_idx(f, r->d[i].port)] == (int)host;
    assert_int_equal(local, got_local);
    assert_int_equal(n_tun, r->tunnelled);
    if (tr.action == VF_TRACE_DROP)
        assert_true(r->drops[tr.reason] > 0);
}

struct run_stats {
    unsigned pkts, delivered, dropped;
    unsigned ip6, ip6_delivered;
    unsigned reason[VF_DROP__COUNT];    /* the reference's drops */
};

/* Every port of m sends npkt random packets on f (and on f2 if given,
 * whose results must be identical); all checked against the reference. */
static void send_all(struct lt_fabric *f, struct lt_fabric *f2,
                     const struct vf_model *m, unsigned npkt,
                     struct run_stats *st)
{
    uint8_t frame[LT_FRAME_MAX];
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            for (size_t p = 0; p < m->tenants[t].switches[s].n_ports; p++) {
                const struct vf_model_port *mp = &m->tenants[t].switches[s].ports[p];
                int host = mp->chassis_idx;
                uint32_t li;
                const struct vf_dp *dp = vf_tables_find_port(f->host[host].t, mp->name, &li);
                assert_non_null(dp);
                for (unsigned i = 0; i < npkt; i++) {
                    struct ref_pkt k;
                    random_pkt(m, (int)t, (int)s, p, &k);
                    unsigned len = to_frame(&dp->ports[li], &k, frame);
                    assert_true(len > 0);
                    ref_run(m, (int)t, (int)s, p, k, frame, len, &ref);
                    ref_to_result(&ref, &exp_r);
                    assert_int_equal(lt_send(f, mp->name, frame, len, &got), 0);
                    if (!k.ip6)         /* trace builds IPv4 and ARP only */
                        check_trace(f, (unsigned)host, mp->name, &k, &got);
                    sort_result(&got);
                    assert_same(&got, &exp_r, "vs reference", mp->name, i);
                    for (unsigned d = 0; d < got.n; d++)
                        assert_int_equal(tenant_of(m, got.d[d].port), (int)t);
                    if (ref.n == 0 && !got.tunnelled)
                        assert_int_equal(lt_drop_reason(&got), ref.drop);
                    if (f2) {
                        /* Twice: the second run is a flow cache hit. */
                        for (int rep = 0; rep < 2; rep++) {
                            assert_int_equal(lt_send(f2, mp->name, frame, len, &got2), 0);
                            sort_result(&got2);
                            assert_same(&got2, &got, "cache vs no cache", mp->name, i);
                        }
                    }
                    st->pkts++;
                    st->delivered += got.n;
                    st->dropped += got.n == 0;
                    st->ip6 += k.ip6;
                    st->ip6_delivered += k.ip6 && got.n > 0;
                    if (ref.n == 0)
                        st->reason[ref.drop]++;
                }
            }
}

static uint64_t seed_base(void)
{
    const char *s = getenv("VF_TEST_SEED");
    return s ? strtoull(s, NULL, 0) : 0x1234567;
}

static void test_isolation_random(void **state)
{
    (void)state;
    struct run_stats st = {0};
    for (unsigned round = 0; round < 12; round++) {
        struct vf_model m;
        struct lt_fabric *f = calloc(1, sizeof(*f));
        rng_state = seed_base() + round * 7919 + 1;
        random_model(&m);
        assert_int_equal(lt_fabric_init(f, &m, round % 2 == 0), 0);
        send_all(f, NULL, &m, 12, &st);
        lt_fabric_fini(f);
        free(f);
        lt_model_free(&m);
    }
    /* The generator must exercise both outcomes a lot, and every IPv6
     * port security rule. */
    print_message("%u packets (%u IPv6, %u of those delivered), %u dropped; "
                  "IPv6 port security drops: source %u, nd %u, ra %u, "
                  "redirect %u\n", st.pkts, st.ip6, st.ip6_delivered,
                  st.dropped, st.reason[VF_DROP_PS_IP6_SOURCE],
                  st.reason[VF_DROP_PS_ND], st.reason[VF_DROP_PS_RA],
                  st.reason[VF_DROP_PS_REDIRECT]);
    assert_true(st.delivered > st.pkts / 4);
    assert_true(st.dropped > st.pkts / 10);
    assert_true(st.ip6_delivered > st.ip6 / 4);
    assert_true(st.reason[VF_DROP_PS_IP6_SOURCE] > 0);
    assert_true(st.reason[VF_DROP_PS_ND] > 0);
    assert_true(st.reason[VF_DROP_PS_RA] > 0);
    assert_true(st.reason[VF_DROP_PS_REDIRECT] > 0);
}

/* Random changes between bursts: the cached fabric must agree with the
 * uncached one and with the reference after every recompile. */
static void test_cache_coherence(void **state)
{
    (void)state;
    struct run_stats st = {0};
    struct vf_model m;
    struct lt_fabric *fc = calloc(1, sizeof(*fc)), *nc = calloc(1, sizeof(*nc));
    rng_state = seed_base() ^ 0xabcdef;
    random_model(&m);
    assert_int_equal(lt_fabric_init(nc, &m, false), 0);
    assert_int_equal(lt_fabric_init(fc, &m, true), 0);
    for (unsigned round = 0; round < 10; round++) {
        send_all(nc, fc, &m, 6, &st);
        int t = (int)rnd((uint32_t)m.n_tenants);
        int s = (int)rnd((uint32_t)m.tenants[t].n_switches);
        struct vf_model_switch *sw = &m.tenants[t].switches[s];
        switch (rnd(4)) {
        case 0:
            random_acls(&m, t);
            break;
        case 1:
            if (sw->n_ports < 6)
                add_random_port(&m, t, s);
            break;
        case 2:
            if (sw->n_ports > 1)
                sw->n_ports--;          /* the last port goes away */
            random_acls(&m, t);         /* (an ACL may have named it) */
            break;
        default:
            sw->ports[rnd((uint32_t)sw->n_ports)].port_security ^= 1;
            break;
        }
        lt_assign_ids(&m);
        assert_int_equal(lt_compile(nc, &m), 0);
        assert_int_equal(lt_compile(fc, &m), 0);
    }
    struct vf_flow_cache_stats cs;
    vf_fc_get_stats(fc->host[0].w->fc, &cs);
    assert_true(cs.hits > 0);
    lt_fabric_fini(nc);
    lt_fabric_fini(fc);
    free(nc);
    free(fc);
    lt_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isolation_random),
        cmocka_unit_test(test_cache_coherence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
