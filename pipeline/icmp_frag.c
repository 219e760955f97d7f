/* icmp_frag.c - ICMPv4 fragmentation-needed answers (vf_icmp.h). */
#include <string.h>

#include "pipeline/vf_icmp.h"
#include "numa/vf_wire.h"

/* An address an ICMP error may be sent to or about (RFC 1122 3.2.2):
 * not 0/8 ("this network"), loopback, multicast or class E (broadcast
 * included). */
static bool unicast4(uint32_t a_net)
{
    uint32_t a = __builtin_bswap32(a_net);
    return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) != 0xe && (a >> 28) != 0xf;
}

/* ICMP types that are errors: never answered with another error. */
static bool icmp_error(uint8_t type)
{
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

int vf_icmp4_frag_needed(const struct vf_pkt *p, const struct vf_flow_key *key,
                         const struct vf_hdr_offsets *off, uint16_t mtu,
                         struct vf_pkt *out)
{
    const uint8_t *f = vf_pkt_data(p);
    const uint32_t l3 = off->l3;

    if (key->eth_type != VF_ETH_P_IP || l3 < VF_ETH_HDR_LEN ||
        l3 + VF_IP4_HDR_LEN > p->len ||
        (key->eth_src[0] & 1) || (key->eth_dst[0] & 1) ||
        !unicast4(key->ip_src) || !unicast4(key->ip_dst))
        return -1;   /* also: a link-layer broadcast or group frame */
    const uint8_t *ip = f + l3;
    uint16_t frag = vf_wire_get16(ip + 6);
    if (!(frag & VF_IP4_DF) || (frag & VF_IP4_OFF_MASK))
        return -1;   /* may be fragmented, or not the first fragment */
    if (vf_wire_get16(ip + 2) <= mtu)
        return -1;   /* the IP packet fits: the excess is link padding */
    if (key->ip_proto == VF_IPPROTO_ICMP &&
        icmp_error((uint8_t)__builtin_bswap16(key->sport)))
        return -1;

    uint32_t ip_len = vf_wire_get16(ip + 2);
    if (ip_len > p->len - l3)
        ip_len = p->len - l3;
    const uint32_t quote = ip_len < VF_ICMP_QUOTE_MAX ? ip_len : VF_ICMP_QUOTE_MAX;
    const uint32_t len = l3 + VF_IP4_HDR_LEN + VF_ICMP_HDR_LEN + quote;
    if (out->data_off + len > out->buf_len)
        return -1;

    uint8_t *o = vf_pkt_data(out);
    memcpy(o, key->eth_src, 6);             /* back to the sender */
    memcpy(o + 6, key->eth_dst, 6);         /* from whom it sent to */
    memcpy(o + 12, f + 12, l3 - 12);        /* VLAN tags, EtherType */
    uint8_t *h = o + l3;
    h[0] = 0x45;
    h[1] = 0xc0;                            /* internetwork control */
    vf_wire_put16(h + 2, (uint16_t)(VF_IP4_HDR_LEN + VF_ICMP_HDR_LEN + quote));
    vf_wire_put16(h + 4, 0);
    vf_wire_put16(h + 6, 0);
    h[8] = 64;
    h[9] = VF_IPPROTO_ICMP;
    vf_wire_put16(h + 10, 0);
    memcpy(h + 12, &key->ip_dst, 4);
    memcpy(h + 16, &key->ip_src, 4);
    vf_wire_put16(h + 10, vf_csum(h, VF_IP4_HDR_LEN));
    uint8_t *icmp = h + VF_IP4_HDR_LEN;
    icmp[0] = VF_ICMP_UNREACH;
    icmp[1] = VF_ICMP_UNREACH_NEEDFRAG;
    vf_wire_put16(icmp + 2, 0);
    vf_wire_put16(icmp + 4, 0);             /* unused */
    vf_wire_put16(icmp + 6, mtu);           /* next-hop MTU */
    memcpy(icmp + VF_ICMP_HDR_LEN, ip, quote);
    vf_wire_put16(icmp + 2, vf_csum(icmp, VF_ICMP_HDR_LEN + quote));
    out->len = len;
    out->gso_size = 0;
    return 0;
}
