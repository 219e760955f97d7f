/* reject.c - TCP RST and ICMP/ICMPv6 port unreachable for reject ACLs
 * (vf_reject.h). */
#include <string.h>

#include "numa/vf_drop.h"
#include "numa/vf_wire.h"
#include "pipeline/vf_reject.h"
#include "pipeline/vf_tables.h"
#include "pipeline/vf_worker.h"

#define IP6_MIN_MTU 1280u

/* Not 0/8, loopback, multicast or class E (RFC 1122 3.2.2). */
static bool unicast4(uint32_t a_net)
{
    uint32_t a = __builtin_bswap32(a_net);
    return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) != 0xe && (a >> 28) != 0xf;
}

/* Not unspecified, not multicast. */
static bool unicast6(const uint8_t a[16])
{
    static const uint8_t zero[16];
    return a[0] != 0xff && memcmp(a, zero, 16) != 0;
}

/* The checksum of an L4 payload with its pseudo header, not inverted. */
static uint16_t l4_csum(bool v6, const uint8_t *src, const uint8_t *dst,
                        uint8_t proto, const uint8_t *l4, uint32_t len)
{
    uint8_t ph[12];
    uint64_t sum;
    if (v6) {
        sum = vf_csum_add(0, src, 16);
        sum = vf_csum_add(sum, dst, 16);
        vf_wire_put32(ph, len);
        memset(ph + 4, 0, 3);
        ph[7] = proto;
        sum = vf_csum_add(sum, ph, 8);
    } else {
        memcpy(ph, src, 4);
        memcpy(ph + 4, dst, 4);
        ph[8] = 0;
        ph[9] = proto;
        vf_wire_put16(ph + 10, (uint16_t)len);
        sum = vf_csum_add(0, ph, 12);
    }
    return vf_csum_fold(vf_csum_add(sum, l4, len));
}

/* Writes the L2 header (MACs swapped, p's tags kept) and the L3 header of
 * an answer with `l4_len` bytes of protocol proto; returns the L4 start. */
static uint8_t *answer_l3(const uint8_t *f, const struct vf_flow_key *key, uint32_t l3,
                          uint8_t *o, uint8_t proto, uint32_t l4_len)
{
    memcpy(o, key->eth_src, 6);             /* back to the sender */
    memcpy(o + 6, key->eth_dst, 6);         /* from whom it sent to */
    memcpy(o + 12, f + 12, l3 - 12);        /* VLAN tags, EtherType */
    uint8_t *h = o + l3;
    if (key->flags & VF_FLOW_IP6) {
        memset(h, 0, 40);
        h[0] = 0x60;
        vf_wire_put16(h + 4, (uint16_t)l4_len);
        h[6] = proto;
        h[7] = 64;
        memcpy(h + 8, key->ip6_dst, 16);
        memcpy(h + 24, key->ip6_src, 16);
        return h + 40;
    }
    h[0] = 0x45;
    h[1] = proto == VF_IPPROTO_ICMP ? 0xc0 : 0;   /* internetwork control */
    vf_wire_put16(h + 2, (uint16_t)(20 + l4_len));
    vf_wire_put16(h + 4, 0);
    vf_wire_put16(h + 6, VF_IP4_DF);
    h[8] = 64;
    h[9] = proto;
    vf_wire_put16(h + 10, 0);
    memcpy(h + 12, &key->ip_dst, 4);
    memcpy(h + 16, &key->ip_src, 4);
    vf_wire_put16(h + 10, (uint16_t)~vf_csum_fold(vf_csum_add(0, h, 20)));
    return h + 20;
}

static int build_rst(const uint8_t *f, const struct vf_flow_key *key,
                     const struct vf_hdr_offsets *off, struct vf_pkt *out)
{
    bool v6 = key->flags & VF_FLOW_IP6;
    const uint8_t *tcp = f + off->l4;
    uint8_t flags = tcp[13];
    uint32_t doff = (uint32_t)(tcp[12] >> 4) * 4;
    if ((flags & VF_TCP_RST) || off->l4_len < 20 || doff > off->l4_len)
        return -1;
    uint32_t l3len = v6 ? 40 : 20;
    uint32_t len = off->l3 + l3len + 20;
    if (out->data_off + len > out->buf_len)
        return -1;
    uint8_t *o = vf_pkt_data(out);
    uint8_t *t = answer_l3(f, key, off->l3, o, VF_IPPROTO_TCP, 20);
    memset(t, 0, 20);
    memcpy(t, tcp + 2, 2);                   /* from its destination port */
    memcpy(t + 2, tcp, 2);                   /* to its source port */
    if (flags & VF_TCP_ACK) {
        vf_wire_put32(t + 4, vf_wire_get32(tcp + 8));          /* seq = its ACK */
        t[13] = VF_TCP_RST;
    } else {
        uint32_t seglen = off->l4_len - doff + !!(flags & VF_TCP_SYN) + !!(flags & VF_TCP_FIN);
        vf_wire_put32(t + 8, vf_wire_get32(tcp + 4) + seglen); /* ACK everything it carried */
        t[13] = VF_TCP_RST | VF_TCP_ACK;
    }
    t[12] = 5 << 4;
    const uint8_t *h = o + off->l3;
    uint16_t cs = v6 ? l4_csum(true, h + 8, h + 24, VF_IPPROTO_TCP, t, 20)
                     : l4_csum(false, h + 12, h + 16, VF_IPPROTO_TCP, t, 20);
    vf_wire_put16(t + 16, (uint16_t)~cs);
    out->len = len;
    out->gso_size = 0;
    return 0;
}

static int build_unreachable(const uint8_t *f, uint32_t flen,
                             const struct vf_flow_key *key,
                             const struct vf_hdr_offsets *off, struct vf_pkt *out)
{
    bool v6 = key->flags & VF_FLOW_IP6;
    uint8_t type = (uint8_t)__builtin_bswap16(key->sport);
    if (v6 && key->ip_proto == VF_IPPROTO_ICMPV6 && (key->flags & VF_FLOW_L4) && type < 128)
        return -1;   /* an ICMPv6 error */
    if (!v6 && key->ip_proto == VF_IPPROTO_ICMP && (key->flags & VF_FLOW_L4) &&
        (type == 3 || type == 4 || type == 5 || type == 11 || type == 12))
        return -1;   /* an ICMP error */
    const uint8_t *ip = f + off->l3;
    uint32_t ip_len = v6 ? 40u + vf_wire_get16(ip + 4) : vf_wire_get16(ip + 2);
    if (ip_len > flen - off->l3)
        ip_len = flen - off->l3;
    uint32_t quote_max = v6 ? IP6_MIN_MTU - 40 - 8 : 576u - 20 - 8;
    uint32_t quote = ip_len < quote_max ? ip_len : quote_max;
    uint32_t len = off->l3 + (v6 ? 40 : 20) + 8 + quote;
    if (out->data_off + len > out->buf_len)
        return -1;
    uint8_t *o = vf_pkt_data(out);
    uint8_t proto = v6 ? VF_IPPROTO_ICMPV6 : VF_IPPROTO_ICMP;
    uint8_t *icmp = answer_l3(f, key, off->l3, o, proto, 8 + quote);
    icmp[0] = v6 ? 1 : 3;                    /* destination unreachable */
    icmp[1] = v6 ? 4 : 3;                    /* port unreachable */
    memset(icmp + 2, 0, 6);
    memcpy(icmp + 8, ip, quote);
    const uint8_t *h = o + off->l3;
    uint16_t cs = v6 ? l4_csum(true, h + 8, h + 24, proto, icmp, 8 + quote)
                     : vf_csum_fold(vf_csum_add(0, icmp, 8 + quote));
    vf_wire_put16(icmp + 2, (uint16_t)~cs);
    out->len = len;
    out->gso_size = 0;
    return 0;
}

int vf_reject_build(const struct vf_pkt *p, const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off, struct vf_pkt *out)
{
    const uint8_t *f = vf_pkt_data(p);
    bool v6 = key->flags & VF_FLOW_IP6;

    if (!(key->flags & (VF_FLOW_IP4 | VF_FLOW_IP6)) || (key->flags & VF_FLOW_FRAG_LATER) ||
        off->l3 < VF_ETH_HDR_LEN || off->l3 + (v6 ? 40u : 20u) > p->len ||
        (key->eth_src[0] & 1) || (key->eth_dst[0] & 1))
        return -1;
    if (v6 ? !unicast6(key->ip6_src) || !unicast6(key->ip6_dst)
           : !unicast4(key->ip_src) || !unicast4(key->ip_dst))
        return -1;
    if (key->ip_proto == VF_IPPROTO_TCP && (key->flags & VF_FLOW_L4) && off->l4)
        return build_rst(f, key, off, out);
    return build_unreachable(f, p->len, key, off, out);
}

/* The VM port of the switch of md's VNI that sent a tunnelled packet, on
 * chassis `from` (*id: its lport id), and the port it went to (*to). */
static bool tunnel_sender(const struct vf_tables *t, const struct vf_flow_key *key,
                          const struct vf_tunnel_md *md, uint32_t from,
                          uint32_t *id, uint32_t *to)
{
    const struct vf_dp *dp = vf_tables_dp_by_vni(t, md->vni);
    if (!dp)
        return false;
    uint32_t i = md->has_ports ? vf_hmap_get(&dp->by_id, md->in_lport)
                               : vf_hmap_get(&dp->by_mac, vf_mac_key(key->eth_src));
    uint32_t o = md->has_ports && md->out_lport ? vf_hmap_get(&dp->by_id, md->out_lport)
                                                : vf_hmap_get(&dp->by_mac,
                                                              vf_mac_key(key->eth_dst));
    if (i == UINT32_MAX || o == UINT32_MAX || dp->ports[i].kind != VF_LPORT_VM ||
        dp->ports[i].chassis != from)
        return false;   /* a router port: the answer would need routing */
    *id = dp->ports[i].id;
    *to = dp->ports[o].id;
    return true;
}

void vf_reject_send(struct vf_worker *w, const struct vf_tables *t,
                    const struct vf_pkt *p, const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off,
                    const struct vf_tunnel_md *md, uint32_t from)
{
    struct vf_port *port = NULL;
    uint32_t sender = 0, replier = 0;

    if (!md) {
        if (p->port < t->n_fports && t->fports[p->port].dp)
            port = t->fports[p->port].port;
    } else if (t->uplink && from < t->n_chassis &&
               tunnel_sender(t, key, md, from, &sender, &replier)) {
        port = t->uplink;
    }
    struct vf_pkt *r = port && vf_worker_icmp_budget(w) ? vf_pool_alloc(&w->cache) : NULL;
    if (!r) {
        vf_stat_add(&w->stats.reject_unanswered, 1);
        return;
    }
    if (vf_reject_build(p, key, off, r)) {
        vf_pool_free(&w->cache, r);
        vf_stat_add(&w->stats.reject_unanswered, 1);
        return;
    }
    r->port = p->port;
    if (md) {
        int e = vf_tunnel_encap(r, &t->chassis[from].peer, md->vni, replier, sender,
                                vf_flow_key_hash(key, 0));
        if (e) {
            vf_worker_drop(w, r, (unsigned)e);
            vf_stat_add(&w->stats.reject_unanswered, 1);
            return;
        }
    }
    vf_stat_add(&w->stats.reject_answers, 1);
    vf_worker_enqueue_tx(w, port, r);
}
