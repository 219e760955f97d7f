/* decap.c - validates and strips Geneve or VXLAN outer headers.
 *
 * Every length is checked against the real frame before the bytes it
 * covers are read, and nothing is written to the packet until every check
 * has passed, so a rejected packet is exactly as it came in.
 *
 * Which reason for what (each a VF_DROP_TUN_* so uplink drops are counted
 * apart from tenant-side parser drops):
 *   TUN_TRUNC       the frame ends before a header it needs or claims:
 *                   Ethernet, IPv4 header (IHL), IPv4 total length, UDP
 *                   header or length, tunnel header, inner Ethernet header.
 *   TUN_NOT_UDP     not a whole IPv4 UDP datagram: another EtherType, IP
 *                   version not 4, IHL below 5, a fragment (we do not
 *                   reassemble), or another IP protocol.
 *   TUN_BAD_PORT    UDP destination port neither Geneve nor VXLAN.
 *   TUN_BAD_VERSION Geneve version not 0.
 *   TUN_BAD_FLAGS   VXLAN without the I flag; Geneve control (O) packets,
 *                   which carry no tenant frame; a critical Geneve option
 *                   we do not know (RFC 8926 3.5 says drop).
 *   TUN_BAD_OPTLEN  Geneve options longer than the datagram, an option
 *                   running past Opt Len, or our option with a wrong size.
 *   TUN_BAD_PROTO   Geneve protocol type not Ethernet (0x6558).
 *
 * Not checked: the outer IPv4 and UDP checksums. Underlay NICs and the
 * kernel (UDP uplink) verify them before we see the frame, and the UDP
 * uplink rebuilds the outer Ethernet/IPv4 headers itself.
 *
 * Bounds: the option walk visits at most 63 options (Opt Len is 6 bits and
 * each option is at least one 4-byte word).
 */
#include <arpa/inet.h>
#include <string.h>

#include "tunnel/geneve_packet.h"
#include "tunnel/vf_tunnel.h"
#include "tunnel/vxlan_packet.h"

static inline uint32_t decap_vni(const uint8_t v[3])
{
    return (uint32_t)v[0] << 16 | (uint32_t)v[1] << 8 | v[2];
}

/* Our option header with its exact length, as one 32-bit compare. */
static inline bool decap_is_lport_opt(const uint8_t *o)
{
    static const uint8_t ours[VF_GENEVE_OPT_HDR_LEN] = {
        VF_GENEVE_OPT_CLASS >> 8, VF_GENEVE_OPT_CLASS & 0xff,
        VF_GENEVE_OPT_TYPE, VF_GENEVE_LPORT_OPT_WORDS,
    };

    return memcmp(o, &ours, sizeof(ours)) == 0;
}

struct decap_geneve_opts {
    bool has_ports;
    uint32_t in_lport, out_lport;   /* host order */
};

/* Walks Geneve options in [opt, opt + len); len is a multiple of 4 and
 * lies inside the frame. Returns 0 or a drop reason. */
static int decap_geneve_opts(const uint8_t *opt, uint32_t len,
                             struct decap_geneve_opts *out)
{
    uint32_t off = 0;

    while (off < len) {
        const struct vf_geneve_opt *o = (const void *)(opt + off);
        uint32_t data_len;

        /* off and len are multiples of 4, so the 4-byte header fits. */
        data_len = 4u * (o->len & VF_GENEVE_OPT_LEN_MASK);
        if (data_len > len - off - VF_GENEVE_OPT_HDR_LEN)
            return VF_DROP_TUN_BAD_OPTLEN;
        if (o->opt_class == htons(VF_GENEVE_OPT_CLASS) &&
            o->type == VF_GENEVE_OPT_TYPE) {
            const struct vf_geneve_lport_opt *l = (const void *)o;

            if (data_len != 4u * VF_GENEVE_LPORT_OPT_WORDS)
                return VF_DROP_TUN_BAD_OPTLEN;
            /* The first copy wins; a second one is ignored. */
            if (!out->has_ports) {
                out->has_ports = true;
                out->in_lport = ntohl(l->in_lport);
                out->out_lport = ntohl(l->out_lport);
            }
        } else if (o->type & VF_GENEVE_OPT_CRITICAL) {
            return VF_DROP_TUN_BAD_FLAGS;
        }
        off += VF_GENEVE_OPT_HDR_LEN + data_len;
    }
    return 0;
}

/* Geneve header and options in [t, t + len), the UDP payload. Sets *hlen
 * to the bytes before the inner frame. */
static int decap_geneve(const uint8_t *t, uint32_t len, uint32_t *hlen,
                        struct vf_tunnel_md *md)
{
    const struct vf_geneve_hdr *g = (const void *)t;
    struct decap_geneve_opts opts = {0};
    uint32_t opt_len;
    int rc;

    if (len < VF_GENEVE_HDR_LEN)
        return VF_DROP_TUN_TRUNC;
    if (g->ver_optlen >> VF_GENEVE_VER_SHIFT)
        return VF_DROP_TUN_BAD_VERSION;
    if (g->flags & VF_GENEVE_FLAG_O)
        return VF_DROP_TUN_BAD_FLAGS;
    opt_len = 4u * (g->ver_optlen & VF_GENEVE_OPTLEN_MASK);
    if (opt_len > len - VF_GENEVE_HDR_LEN)
        return VF_DROP_TUN_BAD_OPTLEN;
    if (g->proto != htons(VF_ETH_TYPE_TEB))
        return VF_DROP_TUN_BAD_PROTO;
    if (opt_len == sizeof(struct vf_geneve_lport_opt) &&
        decap_is_lport_opt(t + VF_GENEVE_HDR_LEN)) {
        /* What our encap sends: just our option. The walk below would
         * find the same; this saves its loop on the common case. */
        const struct vf_geneve_lport_opt *l =
            (const void *)(t + VF_GENEVE_HDR_LEN);

        opts.has_ports = true;
        opts.in_lport = ntohl(l->in_lport);
        opts.out_lport = ntohl(l->out_lport);
    } else if (opt_len) {
        rc = decap_geneve_opts(t + VF_GENEVE_HDR_LEN, opt_len, &opts);
        if (rc)
            return rc;
    }
    *hlen = VF_GENEVE_HDR_LEN + opt_len;
    md->encap = VF_ENCAP_GENEVE;
    md->vni = decap_vni(g->vni);
    md->has_ports = opts.has_ports;
    md->in_lport = opts.in_lport;
    md->out_lport = opts.out_lport;
    return 0;
}

static int decap_vxlan(const uint8_t *t, uint32_t len, uint32_t *hlen,
                       struct vf_tunnel_md *md)
{
    const struct vf_vxlan_hdr *v = (const void *)t;

    if (len < VF_VXLAN_HDR_LEN)
        return VF_DROP_TUN_TRUNC;
    if (!(v->flags & VF_VXLAN_FLAG_I))
        return VF_DROP_TUN_BAD_FLAGS;
    *hlen = VF_VXLAN_HDR_LEN;
    md->encap = VF_ENCAP_VXLAN;
    md->vni = decap_vni(v->vni);
    md->has_ports = false;
    md->in_lport = 0;
    md->out_lport = 0;
    return 0;
}

int vf_tunnel_decap(struct vf_pkt *p, uint16_t geneve_port,
                    uint16_t vxlan_port, struct vf_tunnel_md *md)
{
    const uint8_t *f = vf_pkt_data(p);
    const uint32_t len = p->len;
    const struct vf_eth_hdr *eth = (const void *)f;
    const struct vf_ip4_hdr *ip = (const void *)(eth + 1);
    const struct vf_udp_hdr *udp;
    struct vf_tunnel_md m;
    uint32_t ihl, ip_len, udp_len, tun_off, hlen = 0;
    uint16_t dport;
    int rc;

    if (len < VF_ETH_HDR_LEN)
        return VF_DROP_TUN_TRUNC;
    if (eth->type != htons(VF_ETH_P_IP))
        return VF_DROP_TUN_NOT_UDP;
    if (len < VF_ETH_HDR_LEN + VF_IP4_HDR_LEN)
        return VF_DROP_TUN_TRUNC;
    ihl = 4u * (ip->ver_ihl & 0x0f);
    if ((ip->ver_ihl >> 4) != 4 || ihl < VF_IP4_HDR_LEN)
        return VF_DROP_TUN_NOT_UDP;
    if (ip->proto != VF_IPPROTO_UDP ||
        (ip->frag_off & htons(VF_IP4_FRAG_MASK)))
        return VF_DROP_TUN_NOT_UDP;
    /* Trailing bytes past the IP total length are Ethernet padding. */
    ip_len = ntohs(ip->tot_len);
    if (ip_len > len - VF_ETH_HDR_LEN ||
        ip_len < ihl + VF_UDP_HDR_LEN)
        return VF_DROP_TUN_TRUNC;

    /* ihl + 8 <= ip_len <= len - 14: the UDP header is inside the frame. */
    udp = (const void *)(f + VF_ETH_HDR_LEN + ihl);
    udp_len = ntohs(udp->len);
    if (udp_len < VF_UDP_HDR_LEN || udp_len > ip_len - ihl)
        return VF_DROP_TUN_TRUNC;

    tun_off = VF_ETH_HDR_LEN + ihl + VF_UDP_HDR_LEN;
    dport = ntohs(udp->dport);
    if (dport == geneve_port)
        rc = decap_geneve(f + tun_off, udp_len - VF_UDP_HDR_LEN, &hlen, &m);
    else if (dport == vxlan_port)
        rc = decap_vxlan(f + tun_off, udp_len - VF_UDP_HDR_LEN, &hlen, &m);
    else
        rc = VF_DROP_TUN_BAD_PORT;
    if (rc)
        return rc;
    if (udp_len - VF_UDP_HDR_LEN - hlen < VF_ETH_HDR_LEN)
        return VF_DROP_TUN_TRUNC;

    m.outer_src_ip = ip->src;
    m.outer_dst_ip = ip->dst;
    m.outer_src_port = ntohs(udp->sport);
    *md = m;
    p->data_off += tun_off + hlen;
    p->len = udp_len - VF_UDP_HDR_LEN - hlen;
    return 0;
}
