/* vf_csum.h - Internet checksum helpers and the outer IPv4/UDP layout.
 *
 * What: the RFC 1071 ones' complement sum, in two versions that must agree
 * (STYLE rule 8): vf_csum_add_scalar() adds big-endian 16-bit words one at a
 * time and is the reference; vf_csum_add() adds 32-bit native words into
 * 64-bit accumulators and swaps the byte order once at the end (RFC 1071
 * section 2(B): the sum is independent of byte order). test_tunnel checks
 * that both fold to the same value for random buffers, lengths and offsets.
 * The outer Ethernet/IPv4/UDP headers live here too because they are what
 * these sums cover; geneve_packet.h and vxlan_packet.h hold what follows.
 *
 * Invariants: a running sum is a uint64_t of big-endian word values; fold it
 * with vf_csum_fold() before inverting. Neither helper reads past buf + len.
 *
 * Thread-safety: pure functions.
 */
#ifndef VF_CSUM_H
#define VF_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VF_ETH_HDR_LEN 14
#define VF_ETH_TYPE_IPV4 0x0800
#define VF_IP4_HDR_LEN 20           /* without options (IHL 5) */
#define VF_IP4_PROTO_UDP 17
#define VF_IP4_DF 0x4000
#define VF_IP4_FRAG_MASK 0x3fff     /* MF bit and fragment offset */
#define VF_UDP_HDR_LEN 8
#define VF_UDP_SPORT_MIN 49152      /* RFC 6335 dynamic range, ECMP entropy */

/* Multi-byte fields are in network order; the structs are packed because
 * they sit at odd offsets after the 14-byte Ethernet header. */
struct vf_eth_hdr {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t type;
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

struct vf_udp_hdr {
    uint16_t sport;
    uint16_t dport;
    uint16_t len;
    uint16_t csum;          /* 0: none (IPv4 only) */
} __attribute__((packed));

_Static_assert(sizeof(struct vf_eth_hdr) == VF_ETH_HDR_LEN, "Ethernet header");
_Static_assert(sizeof(struct vf_ip4_hdr) == VF_IP4_HDR_LEN, "IPv4 header");
_Static_assert(sizeof(struct vf_udp_hdr) == VF_UDP_HDR_LEN, "UDP header");

/* The reference: adds buf as big-endian 16-bit words; an odd last byte is
 * the high byte of a word padded with zero. Bounded by len / 2 steps. */
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

/* Folds any 64-bit sum to 16 bits with end-around carry; not inverted. A
 * sum of bytes that are not all zero never folds to 0, only to 0xffff. */
static inline uint16_t vf_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "vf_csum_add swaps a little-endian sum (vfab is x86-64)");

/* The fast version: 32-bit native-order words summed into two 64-bit
 * accumulators, which cannot overflow below 2^31 steps, so there is no
 * carry chain and the compiler may vectorise the loop; one byte swap at the
 * end turns the little-endian sum into a big-endian one (RFC 1071 section
 * 2(B)). Bounded by len / 16 steps plus a 15-byte tail. */
static inline uint64_t vf_csum_add(uint64_t sum, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    uint64_t a0 = 0, a1 = 0;
    uint32_t w[4];
    uint16_t w2;

    while (len >= 16) {
        memcpy(w, b, 16);
        a0 += (uint64_t)w[0] + w[2];
        a1 += (uint64_t)w[1] + w[3];
        b += 16;
        len -= 16;
    }
    while (len >= 4) {
        memcpy(w, b, 4);
        a0 += w[0];
        b += 4;
        len -= 4;
    }
    if (len >= 2) {
        memcpy(&w2, b, 2);
        a1 += w2;
        b += 2;
        len -= 2;
    }
    if (len)
        a1 += *b;           /* the low byte of a little-endian word */
    /* Each accumulator is below 2^63 for any len a packet can have. */
    return sum + __builtin_bswap16(vf_csum_fold(a0 + a1));
}

#endif
