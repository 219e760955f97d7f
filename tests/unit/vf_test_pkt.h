/* vf_test_pkt.h - header-only frame builder shared by the unit tests.
 *
 * What: static inline functions that write well-formed Ethernet frames into a
 * caller buffer and return their length: Ethernet with 0, 1 or 2 VLAN tags,
 * ARP request/reply, IPv4 (optional options, correct header checksum) carrying
 * TCP/UDP/ICMP, and IPv6 (optional extension headers) carrying
 * TCP/UDP/ICMPv6, neighbour discovery included. L4 checksums are filled in too, so a frame is valid as a
 * whole and a test can corrupt exactly the field it is about.
 *
 * Two levels:
 *   - Whole frames from one description, struct vf_tpkt:
 *       struct vf_tpkt t;
 *       vf_tpkt_init(&t);               sensible defaults, then override
 *       t.sport = 4242; t.payload_len = 100;
 *       size_t n = vf_tpkt_ip4_tcp(buf, sizeof(buf), &t);
 *   - Single headers (vf_tpkt_eth, vf_tpkt_ip4_hdr, vf_tpkt_udp_hdr...), for
 *     tests that stack their own layers (e.g. an outer tunnel header in
 *     front of an inner frame).
 *
 * Conventions:
 *   - Every builder takes (buf, cap) and returns the bytes written, or 0 if
 *     the result would not fit in cap (nothing useful is left in buf then).
 *   - Numbers in struct vf_tpkt (IPv4 addresses, ports, ids) are HOST order;
 *     the builders write them in network order. The parser keeps addresses
 *     and ports in network order, so compare with htonl()/htons().
 *   - Frames are exactly as long as their headers + payload: no padding to
 *     the 60-byte Ethernet minimum unless the test calls vf_tpkt_pad().
 *   - Payload bytes are copied from t->payload, or are the pattern
 *     (uint8_t)i when t->payload is NULL.
 *
 * Thread-safety: pure functions on caller-owned buffers.
 */
#ifndef VF_TEST_PKT_H
#define VF_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VF_TPKT_ETH_LEN 14u
#define VF_TPKT_VLAN_LEN 4u
#define VF_TPKT_ARP_LEN 28u
#define VF_TPKT_IP4_LEN 20u     /* without options */
#define VF_TPKT_IP4_OPT_MAX 40u
#define VF_TPKT_IP6_LEN 40u
#define VF_TPKT_IP6_EXT_LEN 8u  /* every extension header we build is 8 bytes */
#define VF_TPKT_IP6_EXT_MAX 16u
#define VF_TPKT_TCP_LEN 20u     /* without options */
#define VF_TPKT_TCP_OPT_MAX 40u
#define VF_TPKT_UDP_LEN 8u
#define VF_TPKT_ICMP_LEN 8u     /* type, code, checksum, id, sequence */
#define VF_TPKT_ETH_MIN 60u     /* minimum frame without FCS */

#define VF_TPKT_ETH_P_IP 0x0800
#define VF_TPKT_ETH_P_ARP 0x0806
#define VF_TPKT_ETH_P_8021Q 0x8100
#define VF_TPKT_ETH_P_8021AD 0x88a8
#define VF_TPKT_ETH_P_IPV6 0x86dd

#define VF_TPKT_PROTO_HOPOPTS 0
#define VF_TPKT_PROTO_ICMP 1
#define VF_TPKT_PROTO_TCP 6
#define VF_TPKT_PROTO_UDP 17
#define VF_TPKT_PROTO_ROUTING 43
#define VF_TPKT_PROTO_FRAGMENT 44
#define VF_TPKT_PROTO_ICMPV6 58
#define VF_TPKT_PROTO_NONE 59
#define VF_TPKT_PROTO_DSTOPTS 60

#define VF_TPKT_ARP_REQUEST 1
#define VF_TPKT_ARP_REPLY 2

#define VF_TPKT_TCP_FIN 0x01
#define VF_TPKT_TCP_SYN 0x02
#define VF_TPKT_TCP_RST 0x04
#define VF_TPKT_TCP_PSH 0x08
#define VF_TPKT_TCP_ACK 0x10

/* One frame's description. vf_tpkt_init() fills every field; tests override
 * only what they are about. */
struct vf_tpkt {
    /* L2 */
    uint8_t eth_dst[6];
    uint8_t eth_src[6];
    unsigned nvlan;          /* 0, 1 or 2 tags */
    uint16_t vlan[2];        /* TCIs, outer first. One tag: TPID 0x8100.
                              * Two tags: outer 0x88a8, inner 0x8100. */
    /* IPv4 (host order) */
    uint32_t ip4_src;
    uint32_t ip4_dst;
    uint16_t ip4_id;
    bool ip4_df;             /* Don't Fragment bit */
    const uint8_t *ip4_opts; /* ip4_opts_len bytes, copied as is */
    size_t ip4_opts_len;     /* multiple of 4, <= 40 */
    /* IPv6 */
    uint8_t ip6_src[16];
    uint8_t ip6_dst[16];
    uint32_t ip6_flow;       /* 20-bit flow label */
    const uint8_t *ip6_ext;  /* ip6_ext_count VF_TPKT_PROTO_* header types,
                              * in order; each is built 8 bytes long */
    unsigned ip6_ext_count;  /* <= VF_TPKT_IP6_EXT_MAX */
    /* Both IP versions */
    uint8_t ttl;             /* TTL / hop limit */
    uint8_t tos;             /* TOS / traffic class */
    uint16_t frag_offset;    /* in 8-byte units; IPv6: needs a fragment ext */
    bool more_frags;         /* MF / M flag */
    /* L4 (host order) */
    uint16_t sport;
    uint16_t dport;
    uint8_t tcp_flags;
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    size_t tcp_opts_len;     /* multiple of 4, <= 40; filled with NOPs */
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint16_t icmp_id;
    uint16_t icmp_seq;
    /* Payload after the L4 header (or after the IP header for
     * vf_tpkt_ip4_raw / vf_tpkt_ip6_raw). */
    const uint8_t *payload;  /* NULL: pattern (uint8_t)i */
    size_t payload_len;
};

/* ---- Byte order and checksums ------------------------------------------ */

static inline void vf_tpkt_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void vf_tpkt_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint16_t vf_tpkt_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Adds len bytes as big-endian 16-bit words to a one's-complement running
 * sum (an odd last byte is padded with zero, as RFC 1071 says). 64 bits so a
 * jumbo payload cannot overflow before the fold. */
static inline uint64_t vf_tpkt_csum_add(uint64_t sum, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += vf_tpkt_get16(p + i);
    if (len & 1)
        sum += (uint64_t)p[len - 1] << 8;
    return sum;
}

/* Folds a running sum and complements it: the value to store (host order,
 * write it with vf_tpkt_put16). */
static inline uint16_t vf_tpkt_csum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* IPv4 header checksum over IHL*4 bytes, with the checksum field counted as
 * zero whatever it holds. */
static inline uint16_t vf_tpkt_ip4_csum(const uint8_t *ip4)
{
    size_t hlen = (size_t)(ip4[0] & 0x0f) * 4;
    uint64_t sum = vf_tpkt_csum_add(0, ip4, hlen);

    sum -= vf_tpkt_get16(ip4 + 10);
    return vf_tpkt_csum_fold(sum);
}

/* Recomputes and stores the IPv4 header checksum (after a test edits the
 * header on purpose but wants only that one field to be wrong). */
static inline void vf_tpkt_ip4_csum_set(uint8_t *ip4)
{
    vf_tpkt_put16(ip4 + 10, vf_tpkt_ip4_csum(ip4));
}

static inline bool vf_tpkt_ip4_csum_ok(const uint8_t *ip4)
{
    size_t hlen = (size_t)(ip4[0] & 0x0f) * 4;

    return vf_tpkt_csum_fold(vf_tpkt_csum_add(0, ip4, hlen)) == 0;
}

/* TCP/UDP/ICMPv6 checksum over the pseudo-header + l4 (l4_len bytes, its
 * checksum field already zero). ip is the IPv4 or IPv6 header (version read
 * from it); the returned value is ready for vf_tpkt_put16. */
static inline uint16_t vf_tpkt_l4_csum(const uint8_t *ip, uint8_t proto,
                                       const uint8_t *l4, size_t l4_len)
{
    uint64_t sum = 0;

    if ((ip[0] >> 4) == 4) {
        sum = vf_tpkt_csum_add(sum, ip + 12, 8);   /* src + dst */
    } else {
        sum = vf_tpkt_csum_add(sum, ip + 8, 32);   /* src + dst */
        sum += (uint32_t)l4_len >> 16;
    }
    sum += proto;
    sum += (uint16_t)l4_len;
    return vf_tpkt_csum_fold(vf_tpkt_csum_add(sum, l4, l4_len));
}

/* ---- Defaults ---------------------------------------------------------- */

/* 02:00:00:00:00:02 <- 02:00:00:00:00:01, 10.0.0.1 -> 10.0.0.2,
 * fd00::1 -> fd00::2, TTL 64, ports 1234 -> 80, TCP ACK, ICMP echo request,
 * no VLAN, no options, no payload. */
static inline void vf_tpkt_init(struct vf_tpkt *t)
{
    static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02};
    static const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};

    memset(t, 0, sizeof(*t));
    memcpy(t->eth_dst, dst, 6);
    memcpy(t->eth_src, src, 6);
    t->ip4_src = 0x0a000001;
    t->ip4_dst = 0x0a000002;
    t->ip4_id = 1;
    t->ip6_src[0] = 0xfd;
    t->ip6_src[15] = 1;
    t->ip6_dst[0] = 0xfd;
    t->ip6_dst[15] = 2;
    t->ttl = 64;
    t->sport = 1234;
    t->dport = 80;
    t->tcp_flags = VF_TPKT_TCP_ACK;
    t->tcp_seq = 1;
    t->icmp_type = 8;   /* echo request; use 128 for ICMPv6 */
    t->icmp_id = 1;
    t->icmp_seq = 1;
}

/* ---- Single headers ---------------------------------------------------- */

/* Ethernet header with t->nvlan tags, ending in eth_type. */
static inline size_t vf_tpkt_eth(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                 uint16_t eth_type)
{
    size_t n = VF_TPKT_ETH_LEN + VF_TPKT_VLAN_LEN * t->nvlan;
    uint8_t *p = buf + 12;

    if (t->nvlan > 2 || n > cap)
        return 0;
    memcpy(buf, t->eth_dst, 6);
    memcpy(buf + 6, t->eth_src, 6);
    if (t->nvlan == 2) {
        vf_tpkt_put16(p, VF_TPKT_ETH_P_8021AD);
        vf_tpkt_put16(p + 2, t->vlan[0]);
        vf_tpkt_put16(p + 4, VF_TPKT_ETH_P_8021Q);
        vf_tpkt_put16(p + 6, t->vlan[1]);
        p += 8;
    } else if (t->nvlan == 1) {
        vf_tpkt_put16(p, VF_TPKT_ETH_P_8021Q);
        vf_tpkt_put16(p + 2, t->vlan[0]);
        p += 4;
    }
    vf_tpkt_put16(p, eth_type);
    return n;
}

/* IPv4 header (with t->ip4_opts) for l4_len bytes of payload; total length
 * and header checksum are set. */
static inline size_t vf_tpkt_ip4_hdr(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                     uint8_t proto, size_t l4_len)
{
    size_t hlen = VF_TPKT_IP4_LEN + t->ip4_opts_len;
    uint16_t frag = (uint16_t)(t->frag_offset & 0x1fff);

    if (t->ip4_opts_len > VF_TPKT_IP4_OPT_MAX || (t->ip4_opts_len & 3) ||
        hlen > cap || hlen + l4_len > 0xffff)
        return 0;
    if (t->ip4_df)
        frag |= 0x4000;
    if (t->more_frags)
        frag |= 0x2000;
    buf[0] = (uint8_t)(0x40 | (hlen / 4));
    buf[1] = t->tos;
    vf_tpkt_put16(buf + 2, (uint16_t)(hlen + l4_len));
    vf_tpkt_put16(buf + 4, t->ip4_id);
    vf_tpkt_put16(buf + 6, frag);
    buf[8] = t->ttl;
    buf[9] = proto;
    vf_tpkt_put16(buf + 10, 0);
    vf_tpkt_put32(buf + 12, t->ip4_src);
    vf_tpkt_put32(buf + 16, t->ip4_dst);
    if (t->ip4_opts_len)
        memcpy(buf + VF_TPKT_IP4_LEN, t->ip4_opts, t->ip4_opts_len);
    vf_tpkt_ip4_csum_set(buf);
    return hlen;
}

/* IPv6 header plus t->ip6_ext_count extension headers (each 8 bytes: PadN
 * options for hop-by-hop / destination options, type-0 routing with no
 * segments left, or a fragment header from frag_offset / more_frags), the
 * last one pointing at proto. Payload length covers the extension headers
 * and l4_len. */
static inline size_t vf_tpkt_ip6_hdr(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                     uint8_t proto, size_t l4_len)
{
    size_t ext_len = VF_TPKT_IP6_EXT_LEN * t->ip6_ext_count;
    size_t hlen = VF_TPKT_IP6_LEN + ext_len;
    uint8_t *p = buf + VF_TPKT_IP6_LEN;
    unsigned i;

    if (t->ip6_ext_count > VF_TPKT_IP6_EXT_MAX || hlen > cap ||
        ext_len + l4_len > 0xffff)
        return 0;
    vf_tpkt_put32(buf, (6u << 28) | ((uint32_t)t->tos << 20) | (t->ip6_flow & 0xfffff));
    vf_tpkt_put16(buf + 4, (uint16_t)(ext_len + l4_len));
    buf[6] = t->ip6_ext_count ? t->ip6_ext[0] : proto;
    buf[7] = t->ttl;
    memcpy(buf + 8, t->ip6_src, 16);
    memcpy(buf + 24, t->ip6_dst, 16);
    for (i = 0; i < t->ip6_ext_count; i++, p += VF_TPKT_IP6_EXT_LEN) {
        uint8_t type = t->ip6_ext[i];

        memset(p, 0, VF_TPKT_IP6_EXT_LEN);
        p[0] = i + 1 < t->ip6_ext_count ? t->ip6_ext[i + 1] : proto;
        if (type == VF_TPKT_PROTO_FRAGMENT) {
            /* p[1] reserved; offset in the top 13 bits, M in bit 0. */
            vf_tpkt_put16(p + 2, (uint16_t)((t->frag_offset << 3) | (t->more_frags ? 1 : 0)));
            vf_tpkt_put32(p + 4, t->ip4_id);
        } else if (type == VF_TPKT_PROTO_ROUTING) {
            p[1] = 0;   /* Hdr Ext Len: 8 bytes in all */
            p[2] = 0;   /* routing type */
            p[3] = 0;   /* segments left */
        } else {
            p[1] = 0;   /* Hdr Ext Len */
            p[2] = 1;   /* PadN option covering the remaining 4 bytes */
            p[3] = 4;
        }
    }
    return hlen;
}

/* TCP header with t->tcp_opts_len bytes of NOP options; checksum left 0
 * (vf_tpkt_l4_csum fills it once the payload is in place). */
static inline size_t vf_tpkt_tcp_hdr(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    size_t hlen = VF_TPKT_TCP_LEN + t->tcp_opts_len;

    if (t->tcp_opts_len > VF_TPKT_TCP_OPT_MAX || (t->tcp_opts_len & 3) || hlen > cap)
        return 0;
    vf_tpkt_put16(buf, t->sport);
    vf_tpkt_put16(buf + 2, t->dport);
    vf_tpkt_put32(buf + 4, t->tcp_seq);
    vf_tpkt_put32(buf + 8, t->tcp_ack);
    buf[12] = (uint8_t)((hlen / 4) << 4);
    buf[13] = t->tcp_flags;
    vf_tpkt_put16(buf + 14, 0xffff);    /* window */
    vf_tpkt_put16(buf + 16, 0);         /* checksum */
    vf_tpkt_put16(buf + 18, 0);         /* urgent pointer */
    memset(buf + VF_TPKT_TCP_LEN, 1, t->tcp_opts_len);
    return hlen;
}

/* UDP header whose length field covers itself + payload_len bytes. */
static inline size_t vf_tpkt_udp_hdr(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                     size_t payload_len)
{
    if (cap < VF_TPKT_UDP_LEN || payload_len > 0xffff - VF_TPKT_UDP_LEN)
        return 0;
    vf_tpkt_put16(buf, t->sport);
    vf_tpkt_put16(buf + 2, t->dport);
    vf_tpkt_put16(buf + 4, (uint16_t)(VF_TPKT_UDP_LEN + payload_len));
    vf_tpkt_put16(buf + 6, 0);
    return VF_TPKT_UDP_LEN;
}

/* ICMP / ICMPv6 echo-style header (type, code, checksum 0, id, seq). */
static inline size_t vf_tpkt_icmp_hdr(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    if (cap < VF_TPKT_ICMP_LEN)
        return 0;
    buf[0] = t->icmp_type;
    buf[1] = t->icmp_code;
    vf_tpkt_put16(buf + 2, 0);
    vf_tpkt_put16(buf + 4, t->icmp_id);
    vf_tpkt_put16(buf + 6, t->icmp_seq);
    return VF_TPKT_ICMP_LEN;
}

/* Copies t->payload (or writes the pattern) into buf. */
static inline size_t vf_tpkt_payload(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    size_t i;

    if (t->payload_len > cap)
        return 0;
    if (t->payload) {
        memcpy(buf, t->payload, t->payload_len);
    } else {
        for (i = 0; i < t->payload_len; i++)
            buf[i] = (uint8_t)i;
    }
    return t->payload_len;
}

/* Pads a frame with zeros up to min bytes (e.g. VF_TPKT_ETH_MIN), as a NIC
 * would; returns the new length, or 0 if cap is too small. */
static inline size_t vf_tpkt_pad(uint8_t *buf, size_t len, size_t cap, size_t min)
{
    if (len >= min)
        return len;
    if (min > cap)
        return 0;
    memset(buf + len, 0, min - len);
    return min;
}

/* ---- Whole frames ------------------------------------------------------ */

/* Ethernet/IPv4 ARP; the sender is (eth_src, ip4_src), the target
 * (tha, ip4_dst). A request has tha all zero by convention. */
static inline size_t vf_tpkt_arp(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                 uint16_t op, const uint8_t tha[6])
{
    size_t n = vf_tpkt_eth(buf, cap, t, VF_TPKT_ETH_P_ARP);
    uint8_t *a = buf + n;

    if (!n || n + VF_TPKT_ARP_LEN > cap)
        return 0;
    vf_tpkt_put16(a, 1);                 /* hardware: Ethernet */
    vf_tpkt_put16(a + 2, VF_TPKT_ETH_P_IP);
    a[4] = 6;
    a[5] = 4;
    vf_tpkt_put16(a + 6, op);
    memcpy(a + 8, t->eth_src, 6);
    vf_tpkt_put32(a + 14, t->ip4_src);
    memcpy(a + 18, tha, 6);
    vf_tpkt_put32(a + 24, t->ip4_dst);
    return n + VF_TPKT_ARP_LEN;
}

static inline size_t vf_tpkt_arp_request(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    static const uint8_t zero[6];

    return vf_tpkt_arp(buf, cap, t, VF_TPKT_ARP_REQUEST, zero);
}

/* A reply goes back to eth_dst: tha = t->eth_dst. */
static inline size_t vf_tpkt_arp_reply(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_arp(buf, cap, t, VF_TPKT_ARP_REPLY, t->eth_dst);
}

/* Shared tail of the IP builders: L2 + L3 for an L4 segment of l4_len bytes.
 * Returns the L4 offset, or 0. */
static inline size_t vf_tpkt_l2l3_(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                   bool v6, uint8_t proto, size_t l4_len)
{
    size_t l2 = vf_tpkt_eth(buf, cap, t, v6 ? VF_TPKT_ETH_P_IPV6 : VF_TPKT_ETH_P_IP);
    size_t l3;

    if (!l2)
        return 0;
    l3 = v6 ? vf_tpkt_ip6_hdr(buf + l2, cap - l2, t, proto, l4_len)
            : vf_tpkt_ip4_hdr(buf + l2, cap - l2, t, proto, l4_len);
    if (!l3 || l2 + l3 + l4_len > cap)
        return 0;
    return l2 + l3;
}

/* Builds L2 + IP + an L4 header of type proto + payload and fills the L4
 * checksum (IPv4 ICMP's covers only the ICMP message: no pseudo-header). */
static inline size_t vf_tpkt_ip_l4_(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                    bool v6, uint8_t proto)
{
    size_t hlen, l4, ip, n;
    uint8_t *h;
    int csum_at;

    switch (proto) {
    case VF_TPKT_PROTO_TCP:
        hlen = VF_TPKT_TCP_LEN + t->tcp_opts_len;
        csum_at = 16;
        break;
    case VF_TPKT_PROTO_UDP:
        hlen = VF_TPKT_UDP_LEN;
        csum_at = 6;
        break;
    default:
        hlen = VF_TPKT_ICMP_LEN;
        csum_at = 2;
        break;
    }
    l4 = vf_tpkt_l2l3_(buf, cap, t, v6, proto, hlen + t->payload_len);
    if (!l4)
        return 0;
    h = buf + l4;
    if (proto == VF_TPKT_PROTO_TCP)
        n = vf_tpkt_tcp_hdr(h, cap - l4, t);
    else if (proto == VF_TPKT_PROTO_UDP)
        n = vf_tpkt_udp_hdr(h, cap - l4, t, t->payload_len);
    else
        n = vf_tpkt_icmp_hdr(h, cap - l4, t);
    if (!n || (!vf_tpkt_payload(h + n, cap - l4 - n, t) && t->payload_len))
        return 0;
    n += t->payload_len;
    ip = VF_TPKT_ETH_LEN + VF_TPKT_VLAN_LEN * t->nvlan;
    if (proto == VF_TPKT_PROTO_ICMP)
        vf_tpkt_put16(h + csum_at, vf_tpkt_csum_fold(vf_tpkt_csum_add(0, h, n)));
    else
        vf_tpkt_put16(h + csum_at, vf_tpkt_l4_csum(buf + ip, proto, h, n));
    return l4 + n;
}

static inline size_t vf_tpkt_ip4_tcp(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_ip_l4_(buf, cap, t, false, VF_TPKT_PROTO_TCP);
}

static inline size_t vf_tpkt_ip4_udp(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_ip_l4_(buf, cap, t, false, VF_TPKT_PROTO_UDP);
}

static inline size_t vf_tpkt_ip4_icmp(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_ip_l4_(buf, cap, t, false, VF_TPKT_PROTO_ICMP);
}

static inline size_t vf_tpkt_ip6_tcp(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_ip_l4_(buf, cap, t, true, VF_TPKT_PROTO_TCP);
}

static inline size_t vf_tpkt_ip6_udp(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_ip_l4_(buf, cap, t, true, VF_TPKT_PROTO_UDP);
}

/* ICMPv6 (set t->icmp_type to 128 for an echo request). */
static inline size_t vf_tpkt_ip6_icmp6(uint8_t *buf, size_t cap, const struct vf_tpkt *t)
{
    return vf_tpkt_ip_l4_(buf, cap, t, true, VF_TPKT_PROTO_ICMPV6);
}

#define VF_TPKT_ND_RS 133
#define VF_TPKT_ND_RA 134
#define VF_TPKT_ND_NS 135
#define VF_TPKT_ND_NA 136

/* Neighbour discovery (RFC 4861) over ICMPv6: a router solicitation (no
 * target), a neighbour solicitation or an advertisement (solicited +
 * override flags) for target, then a source (type 1) and/or target (type
 * 2) link-layer address option when sll / tll are not NULL. t gives L2 and
 * L3 (a real sender uses hop limit 255); its ICMP and payload fields are
 * ignored. */
static inline size_t vf_tpkt_ip6_nd(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                    uint8_t type, const uint8_t target[16],
                                    const uint8_t sll[6], const uint8_t tll[6])
{
    struct vf_tpkt nd = *t;
    uint8_t body[16 + 8 + 8];
    size_t n = 0;

    if (type != VF_TPKT_ND_RS) {
        memcpy(body, target, 16);
        n = 16;
    }
    if (sll) {
        body[n] = 1;
        body[n + 1] = 1;            /* 8 bytes */
        memcpy(body + n + 2, sll, 6);
        n += 8;
    }
    if (tll) {
        body[n] = 2;
        body[n + 1] = 1;
        memcpy(body + n + 2, tll, 6);
        n += 8;
    }
    nd.icmp_type = type;
    nd.icmp_code = 0;
    nd.icmp_id = type == VF_TPKT_ND_NA ? 0x6000 : 0;   /* S and O flags */
    nd.icmp_seq = 0;
    nd.payload = body;
    nd.payload_len = n;
    return vf_tpkt_ip6_icmp6(buf, cap, &nd);
}

/* IP with no L4 header at all: proto is written as the next protocol and
 * t->payload follows the IP (and extension) headers directly. For later
 * fragments and unknown protocols. */
static inline size_t vf_tpkt_ip4_raw(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                     uint8_t proto)
{
    size_t l4 = vf_tpkt_l2l3_(buf, cap, t, false, proto, t->payload_len);

    if (!l4 || (!vf_tpkt_payload(buf + l4, cap - l4, t) && t->payload_len))
        return 0;
    return l4 + t->payload_len;
}

static inline size_t vf_tpkt_ip6_raw(uint8_t *buf, size_t cap, const struct vf_tpkt *t,
                                     uint8_t proto)
{
    size_t l4 = vf_tpkt_l2l3_(buf, cap, t, true, proto, t->payload_len);

    if (!l4 || (!vf_tpkt_payload(buf + l4, cap - l4, t) && t->payload_len))
        return 0;
    return l4 + t->payload_len;
}

#endif
