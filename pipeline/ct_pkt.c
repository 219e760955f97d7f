/* ct_pkt.c - from a parsed frame to what conntrack needs (struct vf_ct_pkt).
 *
 * vf_parse has already bounded every header of the frame itself; this file
 * reads the few fields the flow key does not hold (TCP flags, sequence and
 * ACK numbers, the ICMP id) and, for an ICMP error, the quoted packet
 * inside it, which it bounds itself: the quoted IP header, at most
 * CT_QUOTE_EXT_MAX IPv6 extension headers, and the first 8 bytes of its
 * transport header (all an ICMP error must carry, RFC 792/4443).
 *
 * The key is normalised (vf_conntrack.h): both directions of a connection
 * give the same key, and `sender` says which endpoint this packet is from.
 * The hash is a keyed multiply-mix of the key's five words: the seed is the
 * table's secret, so a tenant cannot choose flows that share a bucket.
 */
#include <string.h>

#include "numa/vf_wire.h"
#include "pipeline/ct_impl.h"

#define CT_QUOTE_EXT_MAX 8

/* 64x64 -> 128-bit multiply, folded: the mixing step (both halves carry
 * every input bit). */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Three independent multiplies, then one more to fold: about 15 cycles. */
uint64_t ct_key_hash(const struct vf_ct_key *k, const uint64_t seed[4])
{
    uint64_t w[5];
    memcpy(w, k, sizeof(w));
    uint64_t a = mum(w[0] ^ seed[0], w[1] ^ seed[1]);
    uint64_t b = mum(w[2] ^ seed[2], w[3] ^ seed[3]);
    uint64_t c = mum(w[4] ^ seed[1], seed[0] ^ 0x9e3779b97f4a7c15ull);
    return mum(a ^ c ^ seed[2], b ^ seed[3]);
}

/* The same value computed from bytes, little-endian, without the memcpy of
 * words or the 128-bit type: the definition the test compares against. */
uint64_t ct_key_hash_ref(const struct vf_ct_key *k, const uint64_t seed[4])
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t w[5];
    for (unsigned i = 0; i < 5; i++) {
        w[i] = 0;
        for (unsigned j = 0; j < 8; j++)
            w[i] |= (uint64_t)p[8 * i + j] << (8 * j);
    }
    uint64_t in[4][2] = {
        {w[0] ^ seed[0], w[1] ^ seed[1]},
        {w[2] ^ seed[2], w[3] ^ seed[3]},
        {w[4] ^ seed[1], seed[0] ^ 0x9e3779b97f4a7c15ull},
        {0, 0},
    };
    uint64_t out[3];
    for (unsigned i = 0; i < 4; i++) {
        if (i == 3) {
            in[3][0] = out[0] ^ out[2] ^ seed[2];
            in[3][1] = out[1] ^ seed[3];
        }
        /* Schoolbook 64x64 multiply on 32-bit halves. */
        uint64_t x = in[i][0], y = in[i][1];
        uint64_t xl = (uint32_t)x, xh = x >> 32, yl = (uint32_t)y, yh = y >> 32;
        uint64_t ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
        uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
        uint64_t lo = (mid << 32) | (uint32_t)ll;
        uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
        if (i == 3)
            return lo ^ hi;
        out[i] = lo ^ hi;
    }
    return 0;
}

/* An address as two words (IPv4: its 4 bytes, then zeros). */
struct addr128 {
    uint64_t w[2];
};

static inline struct addr128 get_addr(const struct vf_flow_key *k, bool v6, bool src)
{
    struct addr128 a = {{0, 0}};
    if (v6)
        memcpy(a.w, src ? k->ip6_src : k->ip6_dst, 16);
    else
        memcpy(a.w, src ? &k->ip_src : &k->ip_dst, 4);
    return a;
}

/* Any total order of endpoints does, as long as both directions use the
 * same: words as the CPU loads them, then the port. */
static inline bool addr_gt(struct addr128 a, struct addr128 b)
{
    return a.w[0] != b.w[0] ? a.w[0] > b.w[0] : a.w[1] > b.w[1];
}

static inline bool addr_eq(struct addr128 a, struct addr128 b)
{
    return ((a.w[0] ^ b.w[0]) | (a.w[1] ^ b.w[1])) == 0;
}

/* Puts (src, sport) and (dst, dport) in key order; returns the endpoint
 * the source became. Equal endpoints: the source is endpoint 0. */
static inline uint8_t order_endpoints(struct vf_ct_key *key, struct addr128 src,
                                      struct addr128 dst, uint16_t sport, uint16_t dport)
{
    bool swap = addr_gt(src, dst) || (addr_eq(src, dst) && sport > dport);
    memcpy(key->addr[swap], src.w, 16);
    memcpy(key->addr[!swap], dst.w, 16);
    key->port[swap] = sport;
    key->port[!swap] = dport;
    return swap;
}

/* ICMP request/reply pairs: the request type of a type, or -1. `reply`
 * says which side of the pair it is. ICMPv4: echo, timestamp, information,
 * address mask; ICMPv6: echo, node information. */
static int icmp_pair(bool v6, uint8_t type, bool *reply)
{
    static const uint8_t v4[][2] = {{8, 0}, {13, 14}, {15, 16}, {17, 18}};
    static const uint8_t v6p[][2] = {{128, 129}, {139, 140}};
    const uint8_t (*t)[2] = v6 ? v6p : v4;
    unsigned n = v6 ? 2 : 4;
    for (unsigned i = 0; i < n; i++) {
        if (type == t[i][0] || type == t[i][1]) {
            *reply = type == t[i][1];
            return t[i][0];
        }
    }
    return -1;
}

static bool icmp_is_error(bool v6, uint8_t type)
{
    if (v6)
        return type >= 1 && type <= 4;   /* unreachable, too big, time, param */
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* ICMPv6 messages the kernel leaves untracked too: MLD, neighbour
 * discovery (they never open anything). */
static bool icmp6_is_nd(uint8_t type)
{
    return (type >= 130 && type <= 137) || type == 143;
}

/* The key of an ICMP request/reply: endpoint 0 is the requester. */
static void icmp_key(struct vf_ct_key *key, struct addr128 src, struct addr128 dst,
                     uint16_t id, int req_type, bool reply)
{
    memcpy(key->addr[0], reply ? dst.w : src.w, 16);
    memcpy(key->addr[1], reply ? src.w : dst.w, 16);
    key->port[0] = id;
    key->port[1] = (uint16_t)req_type;
}

/* What every TCP segment carries: flags, numbers, and whether the flags
 * are a combination a stack sends (the key and hash stay valid when not,
 * so a flow cache can keep them: vf_ct_pkt_refresh). */
static inline void tcp_fields(struct vf_ct_pkt *p, const uint8_t *l4, uint32_t l4_len)
{
    uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
    uint32_t w[2];
    memcpy(w, l4 + 4, 8);
    p->tcp_flags = l4[13];
    p->seq = __builtin_bswap32(w[0]);
    p->ack = __builtin_bswap32(w[1]);
    p->end = p->seq + (l4_len - doff) + !!(p->tcp_flags & 0x02) + !!(p->tcp_flags & 0x01);
    bool ok = ct_tcp_flags_valid(p->tcp_flags);
    p->kind = ok ? VF_CT_K_TCP : VF_CT_K_INVALID;
    p->cause = ok ? VF_CT_WHY_NONE : VF_CT_WHY_TCP_FLAGS;
}

static void mark(struct vf_ct_pkt *p, uint8_t kind, uint8_t cause)
{
    p->kind = kind;
    p->cause = cause;
}

/* The packet an ICMP error quotes: [q, q + len). Builds the key of its
 * connection; outer_dst must be the quoted packet's source. Returns
 * VF_CT_WHY_NONE or why the error relates to nothing. */
static uint8_t quoted(struct vf_ct_pkt *p, const uint8_t *q, uint32_t len, bool v6,
                      struct addr128 outer_dst)
{
    struct addr128 src = {{0, 0}}, dst = {{0, 0}};
    uint32_t hl;
    uint8_t proto;

    if (!v6) {
        if (len < VF_IP4_HDR_LEN || (q[0] >> 4) != 4 ||
            (q[0] & 0xf) * 4u < VF_IP4_HDR_LEN ||
            (q[0] & 0xf) * 4u > len)
            return VF_CT_WHY_TRUNC;
        hl = (q[0] & 0xfu) * 4;
        if (vf_wire_get16(q + 6) & VF_IP4_OFF_MASK)   /* a later fragment */
            return VF_CT_WHY_ICMP_ERR;
        proto = q[9];
        memcpy(src.w, q + 12, 4);
        memcpy(dst.w, q + 16, 4);
    } else {
        if (len < VF_IP6_HDR_LEN || (q[0] >> 4) != 6)
            return VF_CT_WHY_TRUNC;
        memcpy(src.w, q + 8, 16);
        memcpy(dst.w, q + 24, 16);
        proto = q[6];
        hl = VF_IP6_HDR_LEN;
        for (unsigned i = 0; i < CT_QUOTE_EXT_MAX; i++) {
            if (proto != VF_IPPROTO_HOPOPTS && proto != VF_IPPROTO_ROUTING &&
                proto != VF_IPPROTO_FRAGMENT && proto != VF_IPPROTO_DSTOPTS)
                break;
            if (len - hl < 8)
                return VF_CT_WHY_TRUNC;
            if (proto == VF_IPPROTO_FRAGMENT && (vf_wire_get16(q + hl + 2) & 0xfff8))
                return VF_CT_WHY_ICMP_ERR;
            uint32_t el = proto == VF_IPPROTO_FRAGMENT ? 8 : (q[hl + 1] + 1u) * 8;
            proto = q[hl];
            if (el > len - hl)
                return VF_CT_WHY_TRUNC;
            hl += el;
        }
    }
    if (!addr_eq(outer_dst, src))
        return VF_CT_WHY_ICMP_ERR_DST;
    const uint8_t *l4 = q + hl;
    uint32_t l4len = len - hl;
    p->key.proto = proto;
    if (proto == VF_IPPROTO_TCP || proto == VF_IPPROTO_UDP) {
        if (l4len < 8)
            return VF_CT_WHY_TRUNC;
        uint16_t sp, dp;
        memcpy(&sp, l4, 2);
        memcpy(&dp, l4 + 2, 2);
        p->sender = order_endpoints(&p->key, src, dst, sp, dp);
    } else if (proto == (v6 ? VF_IPPROTO_ICMPV6 : VF_IPPROTO_ICMP)) {
        bool reply;
        int req;
        if (l4len < 8)
            return VF_CT_WHY_TRUNC;
        req = icmp_pair(v6, l4[0], &reply);
        if (req < 0)   /* an error about an error, or untracked */
            return VF_CT_WHY_ICMP_ERR;
        uint16_t id;
        memcpy(&id, l4 + 4, 2);
        icmp_key(&p->key, src, dst, id, req, reply);
        p->sender = reply;
    } else {
        p->sender = order_endpoints(&p->key, src, dst, 0, 0);
    }
    return VF_CT_WHY_NONE;
}

void vf_ct_pkt_init(const struct vf_ct *ct, const uint8_t *frame, uint32_t len,
                    const struct vf_flow_key *k, const struct vf_hdr_offsets *off,
                    uint16_t zone, struct vf_ct_pkt *p)
{
    bool v6 = k->flags & VF_FLOW_IP6;

    /* Every field is written here, and the key's endpoints again by the
     * endpoint ordering or the ICMP key where there are any: a packet with
     * none (not IP, a later fragment, TCP or UDP without its header) is
     * still the same bytes for the same frame. */
    memset(p->key.addr, 0, sizeof(p->key.addr));
    p->key.port[0] = p->key.port[1] = 0;
    p->key.zone = zone;
    p->key.proto = 0;
    p->key.family = 0;
    p->kind = VF_CT_K_UNTRACKED;
    p->sender = 0;
    p->tcp_flags = 0;
    p->cause = VF_CT_WHY_NONE;
    p->seq = p->ack = p->end = 0;
    p->bytes = 0;
    p->hash = 0;
    if (!(k->flags & (VF_FLOW_IP4 | VF_FLOW_IP6))) {
        mark(p, VF_CT_K_UNTRACKED, VF_CT_WHY_NOT_IP);
        return;
    }
    if (k->flags & VF_FLOW_FRAG_LATER) {
        mark(p, VF_CT_K_UNTRACKED, VF_CT_WHY_FRAGMENT);
        return;
    }
    p->key.family = v6 ? 6 : 4;
    p->key.proto = k->ip_proto;
    p->bytes = off->l4 ? (uint32_t)(off->l4 - off->l3) + off->l4_len
                       : (len > off->l3 ? len - off->l3 : 0);
    struct addr128 src = get_addr(k, v6, true), dst = get_addr(k, v6, false);
    const uint8_t *l4 = frame + off->l4;
    bool has_l4 = (k->flags & VF_FLOW_L4) && off->l4 && off->l4 < len;

    switch (k->ip_proto) {
    case VF_IPPROTO_TCP:
        if (!has_l4)
            break;
        p->kind = VF_CT_K_TCP;
        p->sender = order_endpoints(&p->key, src, dst, k->sport, k->dport);
        tcp_fields(p, l4, off->l4_len);
        break;
    case VF_IPPROTO_UDP:
        if (!has_l4)
            break;
        p->kind = VF_CT_K_UDP;
        p->sender = order_endpoints(&p->key, src, dst, k->sport, k->dport);
        break;
    case VF_IPPROTO_ICMP:
    case VF_IPPROTO_ICMPV6: {
        if (!has_l4 || (k->ip_proto == VF_IPPROTO_ICMPV6) != v6)
            goto other;   /* ICMPv4 in IPv6 or the reverse: just a protocol */
        uint8_t type = l4[0];
        bool reply;
        int req = icmp_pair(v6, type, &reply);
        if (req >= 0) {
            uint16_t id;
            memcpy(&id, l4 + 4, 2);
            icmp_key(&p->key, src, dst, id, req, reply);
            p->sender = reply;
            p->kind = reply ? VF_CT_K_ICMP_REPLY : VF_CT_K_ICMP_REQ;
        } else if (icmp_is_error(v6, type)) {
            uint8_t c = quoted(p, l4 + 8, off->l4_len - 8, v6, dst);
            if (c)
                mark(p, VF_CT_K_INVALID, c);
            else
                p->kind = VF_CT_K_ICMP_ERR;
        } else if (v6 && icmp6_is_nd(type)) {
            mark(p, VF_CT_K_UNTRACKED, VF_CT_WHY_ND);
        } else {
            mark(p, VF_CT_K_INVALID, VF_CT_WHY_ICMP_TYPE);
        }
        break;
    }
    default:
    other:
        p->kind = VF_CT_K_OTHER;
        p->sender = order_endpoints(&p->key, src, dst, 0, 0);
        break;
    }
    if (p->kind == VF_CT_K_UNTRACKED && p->cause == VF_CT_WHY_NONE) {
        /* TCP/UDP the parser could not read ports of: nothing to find. */
        mark(p, VF_CT_K_INVALID, VF_CT_WHY_TRUNC);
        return;
    }
    p->hash = ct_key_hash(&p->key, ct->seed);
}

bool vf_ct_pkt_refresh(struct vf_ct_pkt *p, const uint8_t *frame, uint32_t len,
                       const struct vf_hdr_offsets *off)
{
    if (p->kind == VF_CT_K_ICMP_ERR ||
        (p->kind == VF_CT_K_INVALID &&
         (p->cause == VF_CT_WHY_TRUNC || p->cause == VF_CT_WHY_ICMP_ERR ||
          p->cause == VF_CT_WHY_ICMP_ERR_DST)))
        return false;   /* an ICMP error: it depends on what it quotes */
    if (p->kind == VF_CT_K_UNTRACKED &&
        (p->cause == VF_CT_WHY_NOT_IP || p->cause == VF_CT_WHY_FRAGMENT))
        return true;    /* no IP packet to count: init leaves 0 bytes */
    if (p->kind == VF_CT_K_ICMP_REQ || p->kind == VF_CT_K_ICMP_REPLY) {
        /* The echo id is in the key but not in the flow key: requests
         * with other ids share a flow (found by the kernel comparison
         * through the pipeline). Same id: the key stands. */
        uint16_t id;
        if (!off->l4 || (uint32_t)off->l4 + 6 > len)
            return false;
        memcpy(&id, frame + off->l4 + 4, 2);
        if (id != p->key.port[0])
            return false;
    }
    if (off->l3)
        p->bytes = off->l4 ? (uint32_t)(off->l4 - off->l3) + off->l4_len
                           : (len > off->l3 ? len - off->l3 : 0);
    if (p->key.proto == VF_IPPROTO_TCP && p->key.family &&
        (p->kind == VF_CT_K_TCP || p->cause == VF_CT_WHY_TCP_FLAGS)) {
        if (!off->l4 || off->l4 >= len)
            return false;
        tcp_fields(p, frame + off->l4, off->l4_len);
    }
    return true;
}
