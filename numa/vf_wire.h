/* vf_wire.h - the wire formats every layer reads and writes: Ethernet,
 * VLAN, ARP, IPv4, IPv6, UDP, TCP, ICMP and ICMPv6 layouts and lengths,
 * big-endian field access, and the Internet checksum.
 *
 * What: one copy of what the RFCs fix, in the bottom layer, so that
 * fabric/ (the vnet headers of taps and vhost-user guests, the UDP
 * uplink's synthesised headers), tunnel/ (encap, decap, segmentation),
 * pipeline/ (parse, rewrites, ICMP errors, conntrack) and mgmt/ (demo
 * frames) agree. The tunnel formats (Geneve, VXLAN) stay in tunnel/.
 *
 * Layouts: multi-byte fields are in network order. The structs are packed
 * because they sit at odd offsets (after the 14-byte Ethernet header), so
 * a compiler never assumes their alignment; vf_wire_get16/32 and
 * vf_wire_put16/32 read and write big-endian fields at any address. The
 * *_HDR_LEN lengths are those without options.
 *
 * The checksum (RFC 1071) has ONE byte-order contract: a running sum is a
 * uint64_t whose value is the sum of the data read as big-endian 16-bit
 * words, an odd last byte being the high byte of a word padded with zero.
 * So:
 *   - a field's host-order value is added as a plain integer (the
 *     pseudo-header's protocol and length: sum += proto + len);
 *   - vf_csum_fold() gives the host-order 16-bit sum, and the checksum
 *     field gets its complement through a big-endian store:
 *     vf_wire_put16(field, (uint16_t)~vf_csum_fold(sum)), or vf_csum();
 *   - sums chain: add the pieces in order, every piece but the last of
 *     even length;
 *   - a sum never overflows for any length a packet can have (the 64-bit
 *     accumulator takes 2^47 bytes).
 * vf_csum_add_scalar() (one 16-bit word at a time) is the reference;
 * vf_csum_add() is the fast one (STYLE rule 8): a short buffer (a header)
 * is summed inline as 32-bit native words into a 64-bit accumulator, byte
 * swapped once at the end (the sum of native little-endian words is the
 * byte swap of the big-endian one, RFC 1071 section 2(B)); from
 * VF_CSUM_LONG bytes on vf_csum_add_long() (wire.c) takes over, which on
 * x86-64 adds 32-byte blocks with SSE2 (wire_x86.h). test_wire checks both
 * paths against the reference for random buffers, lengths, offsets and
 * seeds; perf/bench_wire.c measures them.
 *
 * Incremental update (RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m')):
 * vf_csum_update16/32 give a checksum field's new value when one 16- or
 * 32-bit field it covers changes, without reading the rest.
 *
 * Thread-safety: constants and pure functions.
 */
#ifndef VF_WIRE_H
#define VF_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- lengths (without options) ---- */
#define VF_ETH_ADDR_LEN 6
#define VF_ETH_HDR_LEN 14
#define VF_VLAN_HDR_LEN 4          /* one 802.1Q/802.1ad tag */
#define VF_ARP_LEN 28              /* IPv4 over Ethernet (RFC 826) */
#define VF_IP4_HDR_LEN 20          /* IHL 5 */
#define VF_IP6_HDR_LEN 40
#define VF_UDP_HDR_LEN 8
#define VF_TCP_HDR_LEN 20          /* data offset 5 */
#define VF_ICMP_HDR_LEN 8          /* type, code, checksum + 4 bytes every message has */
#define VF_ICMP6_HDR_LEN 8

/* ---- EtherTypes ---- */
#define VF_ETH_P_IP 0x0800
#define VF_ETH_P_ARP 0x0806
#define VF_ETH_P_8021Q 0x8100
#define VF_ETH_P_8021AD 0x88a8
#define VF_ETH_P_IPV6 0x86dd

/* ---- IP protocol numbers, IPv6 extension headers included ---- */
#define VF_IPPROTO_HOPOPTS 0
#define VF_IPPROTO_ICMP 1
#define VF_IPPROTO_TCP 6
#define VF_IPPROTO_UDP 17
#define VF_IPPROTO_ROUTING 43
#define VF_IPPROTO_FRAGMENT 44
#define VF_IPPROTO_ICMPV6 58
#define VF_IPPROTO_DSTOPTS 60

/* ---- IPv4 flags and fragment offset (the frag_off field) ---- */
#define VF_IP4_DF 0x4000
#define VF_IP4_MF 0x2000
#define VF_IP4_OFF_MASK 0x1fff        /* fragment offset, 8-byte units */
#define VF_IP4_FRAG_MASK 0x3fff       /* MF and the offset: a fragment */

/* ---- TCP flags (the byte at offset 13) ---- */
#define VF_TCP_FIN 0x01
#define VF_TCP_SYN 0x02
#define VF_TCP_RST 0x04
#define VF_TCP_PSH 0x08
#define VF_TCP_ACK 0x10
#define VF_TCP_URG 0x20
#define VF_TCP_ECE 0x40
#define VF_TCP_CWR 0x80
#define VF_TCP_CSUM_OFF 16            /* the checksum field in the header */

/* ---- ICMP and ICMPv6 types ---- */
#define VF_ICMP_ECHO_REPLY 0
#define VF_ICMP_UNREACH 3
#define VF_ICMP_UNREACH_NEEDFRAG 4    /* code: fragmentation needed */
#define VF_ICMP_ECHO 8
#define VF_ICMP6_MLD_REPORT 131
#define VF_ICMP6_RS 133
#define VF_ICMP6_RA 134
#define VF_ICMP6_NS 135
#define VF_ICMP6_NA 136
#define VF_ICMP6_REDIRECT 137
#define VF_ICMP6_MLD2_REPORT 143

/* ---- layouts ---- */
struct vf_eth_hdr {
    uint8_t dst[VF_ETH_ADDR_LEN];
    uint8_t src[VF_ETH_ADDR_LEN];
    uint16_t type;
} __attribute__((packed));

struct vf_vlan_hdr {        /* follows the addresses in place of the type */
    uint16_t tpid;          /* VF_ETH_P_8021Q or VF_ETH_P_8021AD */
    uint16_t tci;           /* PCP, DEI, VLAN id */
} __attribute__((packed));

struct vf_arp_hdr {         /* IPv4 over Ethernet */
    uint16_t htype;         /* 1: Ethernet */
    uint16_t ptype;         /* VF_ETH_P_IP */
    uint8_t hlen, plen;     /* 6, 4 */
    uint16_t oper;          /* 1: request, 2: reply */
    uint8_t sha[VF_ETH_ADDR_LEN];
    uint8_t spa[4];
    uint8_t tha[VF_ETH_ADDR_LEN];
    uint8_t tpa[4];
} __attribute__((packed));

struct vf_ip4_hdr {
    uint8_t ver_ihl;        /* version 4 in the high nibble, IHL in words */
    uint8_t tos;
    uint16_t tot_len;
    uint16_t id;
    uint16_t frag_off;      /* DF, MF and the fragment offset */
    uint8_t ttl;
    uint8_t proto;
    uint16_t csum;
    uint32_t src;
    uint32_t dst;
} __attribute__((packed));

struct vf_ip6_hdr {
    uint32_t ver_tc_flow;   /* version 6, traffic class, flow label */
    uint16_t payload_len;
    uint8_t next;
    uint8_t hop_limit;
    uint8_t src[16];
    uint8_t dst[16];
} __attribute__((packed));

struct vf_udp_hdr {
    uint16_t sport;
    uint16_t dport;
    uint16_t len;
    uint16_t csum;          /* 0: none (IPv4 only) */
} __attribute__((packed));

struct vf_tcp_hdr {
    uint16_t sport;
    uint16_t dport;
    uint32_t seq;
    uint32_t ack;
    uint8_t off;            /* data offset in words, high nibble */
    uint8_t flags;          /* VF_TCP_* */
    uint16_t win;
    uint16_t csum;
    uint16_t urp;
} __attribute__((packed));

struct vf_icmp_hdr {        /* ICMP and ICMPv6 share the first 8 bytes */
    uint8_t type;
    uint8_t code;
    uint16_t csum;
    uint32_t rest;          /* id and sequence, next-hop MTU, unused... */
} __attribute__((packed));

_Static_assert(sizeof(struct vf_eth_hdr) == VF_ETH_HDR_LEN, "Ethernet header");
_Static_assert(sizeof(struct vf_vlan_hdr) == VF_VLAN_HDR_LEN, "VLAN tag");
_Static_assert(sizeof(struct vf_arp_hdr) == VF_ARP_LEN, "ARP");
_Static_assert(sizeof(struct vf_ip4_hdr) == VF_IP4_HDR_LEN, "IPv4 header");
_Static_assert(sizeof(struct vf_ip6_hdr) == VF_IP6_HDR_LEN, "IPv6 header");
_Static_assert(sizeof(struct vf_udp_hdr) == VF_UDP_HDR_LEN, "UDP header");
_Static_assert(sizeof(struct vf_tcp_hdr) == VF_TCP_HDR_LEN, "TCP header");
_Static_assert(sizeof(struct vf_icmp_hdr) == VF_ICMP_HDR_LEN, "ICMP header");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "vf_csum_add swaps a little-endian sum (vfab is x86-64)");

/* ---- big-endian fields at any address ---- */
static inline uint16_t vf_wire_get16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return __builtin_bswap16(v);
}

static inline uint32_t vf_wire_get32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return __builtin_bswap32(v);
}

static inline void vf_wire_put16(void *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, sizeof(v));
}

static inline void vf_wire_put32(void *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, sizeof(v));
}

/* ---- the Internet checksum (see the contract above) ---- */

/* From this many bytes on vf_csum_add() calls vf_csum_add_long(). */
#define VF_CSUM_LONG 64u

/* The reference: buf as big-endian 16-bit words, one at a time. Bounded by
 * len / 2 steps. */
static inline uint64_t vf_csum_add_scalar(uint64_t sum, const void *buf,
                                          size_t len)
{
    const uint8_t *b = buf;
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += (uint64_t)((b[i] << 8) | b[i + 1]);
    if (len & 1)
        sum += (uint64_t)b[len - 1] << 8;
    return sum;
}

/* Folds any sum to 16 bits with end-around carry; not inverted. A sum of
 * bytes that are not all zero never folds to 0, only to 0xffff. */
static inline uint16_t vf_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

/* 32-bit native words into a 64-bit accumulator, which 2^32 words cannot
 * overflow, byte swapped once: the short path of vf_csum_add(), for any
 * length. Bounded by len / 4 steps. */
static inline uint64_t vf_csum_add_short(uint64_t sum, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    uint64_t a = 0;
    uint32_t w;
    uint16_t h;

    while (len >= 4) {
        memcpy(&w, b, 4);
        a += w;
        b += 4;
        len -= 4;
    }
    if (len >= 2) {
        memcpy(&h, b, 2);
        a += h;
        b += 2;
        len -= 2;
    }
    if (len)
        a += *b;           /* the low byte of a little-endian word */
    return sum + __builtin_bswap16(vf_csum_fold(a));
}

/* The long path (wire.c: the CPU's loop, wire_x86.h on x86-64). */
uint64_t vf_csum_add_long(uint64_t sum, const void *buf, size_t len);

/* Moves len bytes from src to dst and adds them to sum (the contract
 * above), in one pass over them: what a copy followed by a checksum of the
 * copy does, reading the bytes once. Like memmove when dst >= src (it
 * copies from the end down) or when the two do not overlap; dst < src
 * with an overlap is not allowed. test_wire checks it against memmove and
 * the reference sum. */
uint64_t vf_csum_move(uint64_t sum, void *dst, const void *src, size_t len);

/* Adds buf to sum (the contract above): headers inline, payloads through
 * vf_csum_add_long(). */
static inline uint64_t vf_csum_add(uint64_t sum, const void *buf, size_t len)
{
    if (len >= VF_CSUM_LONG)
        return vf_csum_add_long(sum, buf, len);
    return vf_csum_add_short(sum, buf, len);
}

/* The checksum field's value (host order) for a header or message whose
 * checksum field is zero: the complement of its folded sum. */
static inline uint16_t vf_csum(const void *buf, size_t len)
{
    return (uint16_t)~vf_csum_fold(vf_csum_add(0, buf, len));
}

/* The pseudo-header sum (RFC 768/793 for IPv4, RFC 8200 8.1 for IPv6) of
 * an L4 segment of l4_len bytes with protocol proto behind the IP header
 * at ip: addresses from the header, protocol and length added as values. */
static inline uint64_t vf_csum_pseudo4(const void *ip, uint8_t proto,
                                       uint32_t l4_len)
{
    return vf_csum_add(0, (const uint8_t *)ip + 12, 8) + proto + l4_len;
}

static inline uint64_t vf_csum_pseudo6(const void *ip6, uint8_t proto,
                                       uint32_t l4_len)
{
    return vf_csum_add(0, (const uint8_t *)ip6 + 8, 32) + proto + l4_len;
}

/* RFC 1624 eqn. 3: the new value of checksum field csum (host order) when
 * a 16-bit field it covers changes from old to new (host order). */
static inline uint16_t vf_csum_update16(uint16_t csum, uint16_t old, uint16_t new)
{
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old + new;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* The same for a 32-bit field (an IPv4 address, a TCP sequence number). */
static inline uint16_t vf_csum_update32(uint16_t csum, uint32_t old, uint32_t new)
{
    csum = vf_csum_update16(csum, (uint16_t)(old >> 16), (uint16_t)(new >> 16));
    return vf_csum_update16(csum, (uint16_t)old, (uint16_t)new);
}

#endif
