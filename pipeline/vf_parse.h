/* vf_parse.h - one pass over a frame into a flow key.
 *
 * What: vf_parse() reads Ethernet, 802.1Q (one or two tags), ARP, IPv4 (with
 * options), IPv6 (extension headers: hop-by-hop, routing, fragment,
 * destination options; at most VF_PARSE_IP6_EXT_MAX of them), TCP, UDP, ICMP
 * and ICMPv6 into struct vf_flow_key and the header offsets the later stages
 * need to rewrite the frame.
 *
 * Invariants: it never reads past `len`. A truncated or malformed header
 * returns its own VF_DROP_* reason (numa/vf_drop.h) and the key is then only
 * valid up to the layer that parsed. Unknown EtherTypes / IP protocols are
 * not errors: the key stops at the last understood layer.
 *
 * Fragments (IPv4, and IPv6 with a fragment header): vfab forwards them as
 * they are and never reassembles. A first fragment (VF_FLOW_FRAG_FIRST)
 * holds the L4 header and gets its ports like a whole packet; only its
 * L4 header has to fit in it, since a UDP length covers the whole
 * datagram, which is longer than the fragment. A later fragment
 * (VF_FLOW_FRAG_LATER) has no L4 header: ip_proto is set, the ports are 0
 * and VF_FLOW_L4 is clear, so it can only be matched on L3 fields.
 *
 * Key layout: every byte of the key is written (zero where absent) so keys
 * can be hashed and compared as raw memory (vf_flow_key_hash / _eq).
 * Addresses and ports are kept in network byte order; eth_type and vlan
 * are in host order. IPv4 addresses use ip_src/ip_dst; IPv6 ones ip6_*.
 * ARP: ip_src/ip_dst are the sender/target protocol addresses, arp_op the
 * operation, and arp_sha/arp_tha the hardware addresses.
 * IPv6 neighbour discovery (as Open vSwitch keeps it): for a neighbour
 * solicitation or advertisement nd_target is the target address; for
 * those and a router solicitation arp_sha is the source and arp_tha the
 * target link-layer address option (zero when absent). An option that
 * cannot be vouched for (a wrong length, zero, two that differ, options
 * past VF_PARSE_ND_OPT_MAX or cut short) reads ff:ff:ff:ff:ff:ff
 * (VF_ND_LL_BAD), never a port's unicast MAC, so port security refuses it.
 *
 * Thread-safety: pure function.
 */
#ifndef VF_PARSE_H
#define VF_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "numa/vf_wire.h"

#define VF_PARSE_IP6_EXT_MAX 8
#define VF_PARSE_ND_OPT_MAX 16   /* ND options looked at */

/* EtherTypes, IP protocols and ICMPv6 types: numa/vf_wire.h. */

enum vf_flow_flags {
    VF_FLOW_VLAN = 1 << 0,        /* had an 802.1Q tag */
    VF_FLOW_IP4 = 1 << 1,
    VF_FLOW_IP6 = 1 << 2,
    VF_FLOW_ARP = 1 << 3,
    VF_FLOW_FRAG_FIRST = 1 << 4,  /* first fragment of a fragmented packet */
    VF_FLOW_FRAG_LATER = 1 << 5,  /* a later fragment: no L4 header */
    VF_FLOW_L4 = 1 << 6,          /* sport/dport (or icmp type/code) valid */
};

struct vf_flow_key {
    uint8_t eth_dst[6];
    uint8_t eth_src[6];
    uint16_t eth_type;     /* host order, after VLAN tags */
    uint16_t vlan;         /* host order TCI of the outer tag, 0 if none */
    uint32_t ip_src;       /* IPv4 (or ARP SPA), network order */
    uint32_t ip_dst;       /* IPv4 (or ARP TPA), network order */
    uint8_t ip6_src[16];
    uint8_t ip6_dst[16];
    uint8_t ip_proto;      /* TCP/UDP/ICMP...; 0 if none */
    uint8_t ip_ttl;        /* TTL or hop limit */
    uint8_t ip_tos;
    uint8_t flags;         /* enum vf_flow_flags */
    uint16_t sport;        /* network order; ICMP: type in sport */
    uint16_t dport;        /* network order; ICMP: code in dport */
    uint16_t arp_op;       /* host order */
    uint8_t arp_sha[6];    /* ARP sender / ND source link-layer address */
    uint8_t arp_tha[6];    /* ARP target / ND target link-layer address */
    uint8_t nd_target[16]; /* ND solicitation/advertisement target */
    /* vf_parse leaves these 10 bytes zero (they keep the key a multiple
     * of 8 bytes). The pipeline's flow-cache key of a decapsulated packet
     * stamps into them what its decision also depends on (process.c);
     * tun.tag is never 0 there, so such a key never equals a parsed one. */
    union {
        uint8_t pad[10];
        struct __attribute__((packed)) {
            uint32_t out_lport;    /* Geneve egress lport, host order */
            uint8_t vni[3];        /* little-endian */
            uint16_t from;         /* sending chassis index, host order */
            uint8_t tag;           /* TUN_KEY_TAG | has_ports */
        } tun;
    };
};

_Static_assert(sizeof(struct vf_flow_key) == 104, "key is hashed in 8-byte words");
_Static_assert(sizeof(((struct vf_flow_key *)0)->tun) == 10, "tun fills pad");

/* Every byte of arp_sha/arp_tha for an ND option that cannot be vouched
 * for: ff:ff:ff:ff:ff:ff. */
#define VF_ND_LL_BAD 0xff

/* Offsets of each layer from the frame start (0 if absent). */
struct vf_hdr_offsets {
    uint16_t l3;   /* IPv4/IPv6/ARP header */
    uint16_t l4;   /* TCP/UDP/ICMP header */
    uint16_t l4_len; /* bytes from l4 to the end of the IP payload */
};

/* Returns VF_DROP_NONE (0) or the VF_DROP_* reason; key and off are always
 * fully written. */
int vf_parse(const uint8_t *frame, uint32_t len, struct vf_flow_key *key,
             struct vf_hdr_offsets *off);

/* 32-bit hash of the whole key (also the ECMP entropy for tunnels). */
uint32_t vf_flow_key_hash(const struct vf_flow_key *key, uint32_t seed);
/* The portable CRC32C that vf_flow_key_hash equals bit for bit whatever
 * CPU path it takes (tests compare the two on random keys). */
uint32_t vf_flow_key_hash_scalar(const struct vf_flow_key *key, uint32_t seed);

static inline bool vf_flow_key_eq(const struct vf_flow_key *a,
                                  const struct vf_flow_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

#endif
