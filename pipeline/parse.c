/* parse.c - one pass over a frame into a flow key (contract in vf_parse.h).
 *
 * Each layer works on [p, p + rem), where rem is what the layer below says
 * the layer may use: the frame for L2/L3, the IP payload (total / payload
 * length, never the Ethernet padding) for what sits above IP. So one bounds
 * check per header is enough never to read past `len`.
 *
 * How a problem is named, the same way at every layer:
 *   - *_TRUNC: the fixed part of the header does not fit in rem.
 *   - *_BAD_*: it fits but a field is impossible: a version, a header length
 *     below the minimum, or a length field that claims more bytes than the
 *     layer below holds (IPv4 total length / IPv6 payload length vs frame,
 *     TCP data offset / UDP length vs IP payload; a first fragment's UDP
 *     length is the whole datagram's, so only its header must fit).
 *   IPv4 options and IPv6 extension headers cut short by the end of the
 *   frame are truncation (IP4_TRUNC, IP6_EXT_TRUNC): the header itself is
 *   incomplete.
 *
 * Work is bounded by the frame: at most two VLAN tags,
 * VF_PARSE_IP6_EXT_MAX extension headers and VF_PARSE_ND_OPT_MAX
 * neighbour discovery options are looked at.
 */
#include "pipeline/vf_parse.h"

#include "numa/vf_drop.h"

#define ND_NS_LEN (VF_ICMP6_HDR_LEN + 16u) /* NS/NA: ICMPv6 header + target */
#define ND_OPT_SLL 1  /* source link-layer address option */
#define ND_OPT_TLL 2  /* target link-layer address option */

/* An extension header is at most (255 + 1) * 8 bytes, so even the largest
 * chain keeps every offset inside struct vf_hdr_offsets' uint16_t. */
_Static_assert(VF_ETH_HDR_LEN + 2 * VF_VLAN_HDR_LEN + VF_IP6_HDR_LEN +
                   VF_PARSE_IP6_EXT_MAX * 2048u <= 0xffff,
               "IPv6 extension chain must fit a 16-bit offset");

/* Network-order copy: the key keeps addresses and ports as on the wire. */
static inline uint16_t rd16_raw(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t rd32_raw(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Neighbour discovery (RFC 4861), what port security checks: the target
 * of a solicitation or advertisement and the link-layer address options
 * of those and of a router solicitation. rem >= VF_ICMP6_HDR_LEN. Options
 * are walked at most VF_PARSE_ND_OPT_MAX deep; when they cannot be read whole
 * (length 0, cut short, too many) both addresses read bad, as does one
 * that is zero, not Ethernet-sized or given twice with two values: a
 * receiver may use any of them, so none can be vouched for. */
static int parse_nd(const uint8_t *p, uint32_t rem, struct vf_flow_key *key)
{
    static const uint8_t zero_mac[6];
    bool seen[2] = { false, false };
    uint32_t pos = VF_ICMP6_HDR_LEN;

    if (p[0] != VF_ICMP6_RS && p[0] != VF_ICMP6_NS && p[0] != VF_ICMP6_NA)
        return VF_DROP_NONE;
    if (p[0] != VF_ICMP6_RS) {
        if (rem < ND_NS_LEN)
            return VF_DROP_ICMP6_TRUNC;
        memcpy(key->nd_target, p + VF_ICMP6_HDR_LEN, 16);
        pos = ND_NS_LEN;
    }
    for (unsigned n = 0; pos < rem; n++) {
        uint32_t olen = rem - pos >= 2 ? p[pos + 1] * 8u : 0;
        uint8_t type = p[pos];

        if (n == VF_PARSE_ND_OPT_MAX || olen == 0 || olen > rem - pos) {
            memset(key->arp_sha, VF_ND_LL_BAD, 6);
            memset(key->arp_tha, VF_ND_LL_BAD, 6);
            return VF_DROP_NONE;
        }
        if (type == ND_OPT_SLL || type == ND_OPT_TLL) {
            uint8_t *ll = type == ND_OPT_SLL ? key->arp_sha : key->arp_tha;
            const uint8_t *mac = p + pos + 2;

            if (olen != 8 || memcmp(mac, zero_mac, 6) == 0 ||
                (seen[type - 1] && memcmp(ll, mac, 6) != 0))
                memset(ll, VF_ND_LL_BAD, 6);
            else
                memcpy(ll, mac, 6);
            seen[type - 1] = true;
        }
        pos += olen;
    }
    return VF_DROP_NONE;
}

/* L4 over the IP payload [p, p + rem). off->l4/l4_len are already set.
 * first_frag: p is the first fragment of a larger datagram, so rem is
 * only what this fragment carries: the L4 header must fit in it (a first
 * fragment too short for its ports is truncated, RFC 1858's tiny
 * fragment), but a UDP length covering the whole datagram is right. */
static inline int parse_l4(const uint8_t *p, uint32_t rem, uint8_t proto,
                           bool first_frag, struct vf_flow_key *key)
{
    switch (proto) {
    case VF_IPPROTO_TCP: {
        uint32_t doff;

        if (rem < VF_TCP_HDR_LEN)
            return VF_DROP_TCP_TRUNC;
        doff = (uint32_t)(p[12] >> 4) * 4;
        if (doff < VF_TCP_HDR_LEN || doff > rem)
            return VF_DROP_TCP_BAD_OFF;
        break;
    }
    case VF_IPPROTO_UDP: {
        uint32_t ulen;

        if (rem < VF_UDP_HDR_LEN)
            return VF_DROP_UDP_TRUNC;
        /* Shorter than the IP payload is allowed (the rest is padding);
         * longer would make the receiver read past the datagram, unless
         * the rest of the datagram is in the later fragments. */
        ulen = vf_wire_get16(p + 4);
        if (ulen < VF_UDP_HDR_LEN || (ulen > rem && !first_frag))
            return VF_DROP_UDP_BAD_LEN;
        break;
    }
    case VF_IPPROTO_ICMP:
    case VF_IPPROTO_ICMPV6:
        if (rem < VF_ICMP_HDR_LEN)
            return proto == VF_IPPROTO_ICMP ? VF_DROP_ICMP_TRUNC : VF_DROP_ICMP6_TRUNC;
        /* Type and code, widened to 16 bits in network order like ports. */
        key->sport = __builtin_bswap16(p[0]);
        key->dport = __builtin_bswap16(p[1]);
        key->flags |= VF_FLOW_L4;
        return proto == VF_IPPROTO_ICMPV6 ? parse_nd(p, rem, key) : VF_DROP_NONE;
    default:
        return VF_DROP_NONE;    /* unknown protocol: the key stops at L3 */
    }
    key->sport = rd16_raw(p);
    key->dport = rd16_raw(p + 2);
    key->flags |= VF_FLOW_L4;
    return VF_DROP_NONE;
}

static int parse_ip4(const uint8_t *frame, uint32_t l3, uint32_t len,
                     struct vf_flow_key *key, struct vf_hdr_offsets *off)
{
    const uint8_t *p = frame + l3;
    uint32_t rem = len - l3;
    uint32_t hlen, tot;
    uint16_t frag;

    if (rem < VF_IP4_HDR_LEN)
        return VF_DROP_IP4_TRUNC;
    if ((p[0] >> 4) != 4)
        return VF_DROP_IP4_BAD_VERSION;
    hlen = (uint32_t)(p[0] & 0x0f) * 4;
    if (hlen < VF_IP4_HDR_LEN)
        return VF_DROP_IP4_BAD_IHL;
    if (hlen > rem)
        return VF_DROP_IP4_TRUNC;
    /* Bytes past the total length are Ethernet padding and are ignored. */
    tot = vf_wire_get16(p + 2);
    if (tot < hlen || tot > rem)
        return VF_DROP_IP4_BAD_LEN;

    key->flags |= VF_FLOW_IP4;
    key->ip_tos = p[1];
    key->ip_ttl = p[8];
    key->ip_proto = p[9];
    key->ip_src = rd32_raw(p + 12);
    key->ip_dst = rd32_raw(p + 16);

    frag = vf_wire_get16(p + 6);
    if (frag & VF_IP4_OFF_MASK) {
        key->flags |= VF_FLOW_FRAG_LATER;   /* no L4 header here */
        return VF_DROP_NONE;
    }
    if (frag & VF_IP4_MF)
        key->flags |= VF_FLOW_FRAG_FIRST;
    off->l4 = (uint16_t)(l3 + hlen);
    off->l4_len = (uint16_t)(tot - hlen);
    return parse_l4(p + hlen, tot - hlen, p[9],
                    key->flags & VF_FLOW_FRAG_FIRST, key);
}

static int parse_ip6(const uint8_t *frame, uint32_t l3, uint32_t len,
                     struct vf_flow_key *key, struct vf_hdr_offsets *off)
{
    const uint8_t *p = frame + l3;
    uint32_t rem = len - l3;
    uint32_t plen, pos;
    uint8_t nh;
    unsigned i;

    if (rem < VF_IP6_HDR_LEN)
        return VF_DROP_IP6_TRUNC;
    if ((p[0] >> 4) != 6)
        return VF_DROP_IP6_BAD_VERSION;
    plen = vf_wire_get16(p + 4);
    if (plen > rem - VF_IP6_HDR_LEN)
        return VF_DROP_IP6_BAD_LEN;

    key->flags |= VF_FLOW_IP6;
    key->ip_tos = (uint8_t)(vf_wire_get16(p) >> 4);  /* traffic class */
    key->ip_ttl = p[7];
    memcpy(key->ip6_src, p + 8, 16);
    memcpy(key->ip6_dst, p + 24, 16);

    /* Walk the extension headers inside the payload; pos is relative to the
     * end of the fixed header, so every header is bounded by plen. */
    nh = p[6];
    pos = 0;
    p += VF_IP6_HDR_LEN;
    for (i = 0;; i++) {
        uint32_t elen;

        if (nh != VF_IPPROTO_HOPOPTS && nh != VF_IPPROTO_ROUTING &&
            nh != VF_IPPROTO_FRAGMENT && nh != VF_IPPROTO_DSTOPTS)
            break;
        if (i == VF_PARSE_IP6_EXT_MAX)
            return VF_DROP_IP6_EXT_LIMIT;
        if (plen - pos < 8)
            return VF_DROP_IP6_EXT_TRUNC;
        if (nh == VF_IPPROTO_FRAGMENT) {
            uint16_t fo = vf_wire_get16(p + pos + 2);

            if (fo & 0xfff8) {
                /* No L4 header here. A first fragment header before this
                 * one does not make it a first fragment: the flags say
                 * one thing (as OVS's "later" wins over "any"). */
                key->ip_proto = p[pos];
                key->flags = (uint8_t)((key->flags & ~VF_FLOW_FRAG_FIRST) |
                                       VF_FLOW_FRAG_LATER);
                return VF_DROP_NONE;
            }
            if (fo & 1)
                key->flags |= VF_FLOW_FRAG_FIRST;
            elen = 8;
        } else {
            elen = ((uint32_t)p[pos + 1] + 1) * 8;
            if (elen > plen - pos)
                return VF_DROP_IP6_EXT_TRUNC;
        }
        nh = p[pos];
        pos += elen;
    }

    key->ip_proto = nh;
    off->l4 = (uint16_t)(l3 + VF_IP6_HDR_LEN + pos);
    off->l4_len = (uint16_t)(plen - pos);
    return parse_l4(p + pos, plen - pos, nh, key->flags & VF_FLOW_FRAG_FIRST,
                    key);
}

/* Only Ethernet/IPv4 ARP carries what the key has room for. */
static int parse_arp(const uint8_t *p, uint32_t rem, struct vf_flow_key *key)
{
    if (rem < VF_ARP_LEN)
        return VF_DROP_ARP_TRUNC;
    if (vf_wire_get16(p) != 1 || vf_wire_get16(p + 2) != VF_ETH_P_IP ||
        p[4] != 6 || p[5] != 4)
        return VF_DROP_ARP_BAD;
    key->flags |= VF_FLOW_ARP;
    key->arp_op = vf_wire_get16(p + 6);
    memcpy(key->arp_sha, p + 8, 6);
    key->ip_src = rd32_raw(p + 14);
    memcpy(key->arp_tha, p + 18, 6);
    key->ip_dst = rd32_raw(p + 24);
    return VF_DROP_NONE;
}

/* Copying this is how the key is cleared: GCC turns a 104-byte memset of
 * an unknown-alignment pointer into `rep stos`, which costs more than the
 * whole parse of a TCP/IPv4 frame; a fixed-size memcpy becomes seven moves. */
static const struct vf_flow_key zero_key;

int vf_parse(const uint8_t *frame, uint32_t len, struct vf_flow_key *key,
             struct vf_hdr_offsets *off)
{
    uint32_t l3 = VF_ETH_HDR_LEN;
    uint16_t type;

    memcpy(key, &zero_key, sizeof(*key));
    memset(off, 0, sizeof(*off));
    if (len < VF_ETH_HDR_LEN)
        return VF_DROP_RUNT;
    memcpy(key->eth_dst, frame, 12);    /* dst then src, as on the wire */
    type = vf_wire_get16(frame + 12);

    /* At most two tags (802.1ad outer + 802.1Q inner, or two 802.1Q); a
     * third TPID is left as the EtherType, which nothing above understands. */
    if (type == VF_ETH_P_8021Q || type == VF_ETH_P_8021AD) {
        if (len - l3 < VF_VLAN_HDR_LEN)
            return VF_DROP_VLAN_TRUNC;
        key->flags |= VF_FLOW_VLAN;
        key->vlan = vf_wire_get16(frame + l3);
        type = vf_wire_get16(frame + l3 + 2);
        l3 += VF_VLAN_HDR_LEN;
        if (type == VF_ETH_P_8021Q || type == VF_ETH_P_8021AD) {
            if (len - l3 < VF_VLAN_HDR_LEN)
                return VF_DROP_VLAN_TRUNC;
            type = vf_wire_get16(frame + l3 + 2);
            l3 += VF_VLAN_HDR_LEN;
        }
    }
    key->eth_type = type;

    switch (type) {
    case VF_ETH_P_IP:
        off->l3 = (uint16_t)l3;
        return parse_ip4(frame, l3, len, key, off);
    case VF_ETH_P_IPV6:
        off->l3 = (uint16_t)l3;
        return parse_ip6(frame, l3, len, key, off);
    case VF_ETH_P_ARP:
        off->l3 = (uint16_t)l3;
        return parse_arp(frame + l3, len - l3, key);
    default:
        return VF_DROP_NONE;
    }
}
