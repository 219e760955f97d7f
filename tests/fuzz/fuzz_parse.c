/* fuzz_parse.c - libFuzzer target for the frame parser (pipeline/parse.c).
 *
 * Each input is one frame, exactly as a tenant VM (or a decapsulated
 * tunnel) hands it to vf_parse(). libFuzzer's input buffer is exactly
 * `size` bytes long, so ASan stops any read past the frame. On top of
 * memory safety the target checks the contract in vf_parse.h:
 *   - the result is a known reason; every byte of the key is written (two
 *     parses give the same bytes, and the key's padding is zero); the
 *     hash equals its portable scalar twin;
 *   - offsets lie inside the frame: l3 + header <= len, l4 + l4_len <= len;
 *   - an accepted frame's key says what the bytes at its offsets say
 *     (MACs, VLAN, EtherType, addresses, protocol, ports or ICMP type and
 *     code, ARP fields), a later fragment has no ports, and what the key
 *     claims to have parsed fits the headers' own lengths;
 *   - bytes past what a header's length covers never matter: the same
 *     frame with Ethernet padding appended parses to the same key.
 * Build and run: docs/fuzzing.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_parse.h"
#include "tests/fuzz/vf_fuzz_check.h"

#define MAX_FRAME 65535u
#define PAD 64u

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t raw16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t raw32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* L4 fields of an accepted frame against the bytes at off->l4. */
static void check_l4(const uint8_t *f, uint32_t len,
                     const struct vf_flow_key *k,
                     const struct vf_hdr_offsets *o)
{
    const uint8_t *l4 = f + o->l4;
    bool known = k->ip_proto == VF_IPPROTO_TCP || k->ip_proto == VF_IPPROTO_UDP ||
                 k->ip_proto == VF_IPPROTO_ICMP || k->ip_proto == VF_IPPROTO_ICMPV6;

    if (k->flags & VF_FLOW_FRAG_LATER) {
        FZ_CHECK(!(k->flags & VF_FLOW_L4) && k->sport == 0 && k->dport == 0 &&
              o->l4 == 0 && !(k->flags & VF_FLOW_FRAG_FIRST),
              "a later fragment has no L4 (flags %#x)", k->flags);
        return;
    }
    FZ_CHECK(o->l4 != 0, "an IP frame's L4 offset is set");
    FZ_CHECK((uint32_t)o->l4 + o->l4_len <= len, "l4 %u + l4_len %u > len %u",
          o->l4, o->l4_len, len);
    FZ_CHECK(!!(k->flags & VF_FLOW_L4) == known, "L4 flag %#x for proto %u",
          k->flags, k->ip_proto);
    if (!known) {
        FZ_CHECK(k->sport == 0 && k->dport == 0, "ports without L4");
        return;
    }
    switch (k->ip_proto) {
    case VF_IPPROTO_TCP:
        FZ_CHECK(o->l4_len >= 20 && (uint32_t)(l4[12] >> 4) * 4 >= 20 &&
              (uint32_t)(l4[12] >> 4) * 4 <= o->l4_len,
              "TCP header %u in %u bytes", (l4[12] >> 4) * 4, o->l4_len);
        FZ_CHECK(k->sport == raw16(l4) && k->dport == raw16(l4 + 2), "TCP ports");
        break;
    case VF_IPPROTO_UDP:
        /* A first fragment's UDP length covers the whole datagram. */
        FZ_CHECK(o->l4_len >= 8 && be16(l4 + 4) >= 8 &&
                 (be16(l4 + 4) <= o->l4_len || (k->flags & VF_FLOW_FRAG_FIRST)),
                 "UDP length %u in %u bytes", be16(l4 + 4), o->l4_len);
        FZ_CHECK(k->sport == raw16(l4) && k->dport == raw16(l4 + 2), "UDP ports");
        break;
    default:
        FZ_CHECK(o->l4_len >= 8, "ICMP header in %u bytes", o->l4_len);
        FZ_CHECK(k->sport == __builtin_bswap16(l4[0]) &&
              k->dport == __builtin_bswap16(l4[1]), "ICMP type/code");
        break;
    }
    /* The ND target is the solicitation's or advertisement's, else zero. */
    static const uint8_t zero16[16];
    if (k->ip_proto == VF_IPPROTO_ICMPV6 && (l4[0] == 135 || l4[0] == 136))
        FZ_CHECK(o->l4_len >= 24 && !memcmp(k->nd_target, l4 + 8, 16),
                 "ND target");
    else
        FZ_CHECK(!memcmp(k->nd_target, zero16, 16), "ND target without ND");
}

/* An accepted frame: the key against the bytes. */
static void check_accepted(const uint8_t *f, uint32_t len,
                           const struct vf_flow_key *k,
                           const struct vf_hdr_offsets *o)
{
    unsigned kinds = !!(k->flags & VF_FLOW_IP4) + !!(k->flags & VF_FLOW_IP6) +
                     !!(k->flags & VF_FLOW_ARP);

    FZ_CHECK(len >= 14, "accepted a %u-byte frame", len);
    FZ_CHECK(memcmp(k->eth_dst, f, 6) == 0 && memcmp(k->eth_src, f + 6, 6) == 0,
          "MACs");
    FZ_CHECK(kinds <= 1, "flags %#x name two L3 kinds", k->flags);
    if (k->flags & VF_FLOW_VLAN) {
        FZ_CHECK(be16(f + 12) == VF_ETH_P_8021Q || be16(f + 12) == VF_ETH_P_8021AD,
              "VLAN flag without a tag");
        FZ_CHECK(k->vlan == be16(f + 14), "VLAN TCI");
    } else {
        FZ_CHECK(k->vlan == 0 && k->eth_type == be16(f + 12), "EtherType");
    }
    if (k->eth_type != VF_ETH_P_IP && k->eth_type != VF_ETH_P_IPV6 &&
        k->eth_type != VF_ETH_P_ARP) {
        FZ_CHECK(kinds == 0 && o->l3 == 0 && o->l4 == 0 && k->ip_proto == 0,
              "unknown EtherType %#x parsed past L2", k->eth_type);
        return;
    }
    FZ_CHECK(kinds == 1, "EtherType %#x without its L3 flag", k->eth_type);
    FZ_CHECK(o->l3 == 14 || o->l3 == 18 || o->l3 == 22, "l3 %u", o->l3);
    FZ_CHECK(be16(f + o->l3 - 2) == k->eth_type, "l3 %u does not follow the "
          "EtherType %#x", o->l3, k->eth_type);
    const uint8_t *ip = f + o->l3;
    if (k->flags & VF_FLOW_IP4) {
        uint32_t hl = (uint32_t)(ip[0] & 0xf) * 4, tot;
        FZ_CHECK(o->l3 + 20u <= len && (ip[0] >> 4) == 4 && hl >= 20, "IPv4 header");
        tot = be16(ip + 2);
        FZ_CHECK(tot >= hl && o->l3 + tot <= len, "IPv4 total length %u", tot);
        FZ_CHECK(k->ip_src == raw32(ip + 12) && k->ip_dst == raw32(ip + 16) &&
              k->ip_proto == ip[9] && k->ip_ttl == ip[8] && k->ip_tos == ip[1],
              "IPv4 fields");
        if (!(k->flags & VF_FLOW_FRAG_LATER))
            FZ_CHECK(o->l4 == o->l3 + hl && o->l4_len == tot - hl,
                  "IPv4 l4 %u/%u", o->l4, o->l4_len);
        check_l4(f, len, k, o);
    } else if (k->flags & VF_FLOW_IP6) {
        uint32_t plen;
        FZ_CHECK(o->l3 + 40u <= len && (ip[0] >> 4) == 6, "IPv6 header");
        plen = be16(ip + 4);
        FZ_CHECK(o->l3 + 40u + plen <= len, "IPv6 payload length %u", plen);
        FZ_CHECK(!memcmp(k->ip6_src, ip + 8, 16) && !memcmp(k->ip6_dst, ip + 24, 16) &&
              k->ip_ttl == ip[7], "IPv6 fields");
        if (!(k->flags & VF_FLOW_FRAG_LATER))
            FZ_CHECK(o->l4 >= o->l3 + 40u && o->l4 + o->l4_len == o->l3 + 40u + plen,
                  "IPv6 l4 %u/%u", o->l4, o->l4_len);
        check_l4(f, len, k, o);
    } else {
        FZ_CHECK(o->l3 + 28u <= len && o->l4 == 0, "ARP header");
        FZ_CHECK(k->arp_op == be16(ip + 6) && !memcmp(k->arp_sha, ip + 8, 6) &&
              k->ip_src == raw32(ip + 14) && !memcmp(k->arp_tha, ip + 18, 6) &&
              k->ip_dst == raw32(ip + 24), "ARP fields");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t padded[MAX_FRAME + PAD];
    static const uint8_t zero_pad[sizeof(((struct vf_flow_key *)0)->pad)];
    struct vf_flow_key k, k2;
    struct vf_hdr_offsets o, o2;
    uint32_t len = (uint32_t)size;
    int r, r2;

    if (size > MAX_FRAME)
        return -1;      /* no frame is longer: keep it out of the corpus */
    /* Garbage first, so a byte the parser forgets to write shows. */
    memset(&k, 0x5a, sizeof(k));
    memset(&o, 0x5a, sizeof(o));
    r = vf_parse(data, len, &k, &o);
    FZ_CHECK(r >= 0 && r < VF_DROP__COUNT, "reason %d", r);
    FZ_CHECK(!memcmp(k.pad, zero_pad, sizeof(zero_pad)), "key padding written");
    FZ_CHECK(o.l3 <= len && (uint32_t)o.l4 + o.l4_len <= len,
          "offsets l3 %u l4 %u+%u past %u bytes", o.l3, o.l4, o.l4_len, len);
    FZ_CHECK(vf_flow_key_hash(&k, 7) == vf_flow_key_hash_scalar(&k, 7),
          "the hash differs from its scalar twin");

    memset(&k2, 0xa5, sizeof(k2));
    memset(&o2, 0xa5, sizeof(o2));
    r2 = vf_parse(data, len, &k2, &o2);
    FZ_CHECK(r2 == r && vf_flow_key_eq(&k, &k2) && !memcmp(&o, &o2, sizeof(o)),
          "two parses of one frame differ (an unwritten byte?)");
    if (r != VF_DROP_NONE)
        return 0;
    check_accepted(data, len, &k, &o);

    /* Ethernet padding: what follows the frame must not change the key. */
    memcpy(padded, data, size);
    memset(padded + size, 0xee, PAD);
    r2 = vf_parse(padded, len + PAD, &k2, &o2);
    FZ_CHECK(r2 == VF_DROP_NONE && vf_flow_key_eq(&k, &k2) &&
          !memcmp(&o, &o2, sizeof(o)), "padding changed the parse (reason %d)",
          r2);
    return 0;
}
