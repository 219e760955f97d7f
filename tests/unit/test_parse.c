/* test_parse.c - vf_parse() and vf_flow_key_hash().
 *
 * Every frame is parsed from a heap copy of exactly its length, so under
 * ASan any read past `len` fails the test. Expected keys are built
 * independently from the same struct vf_tpkt that built the frame and
 * compared as whole memory, which also proves every byte of the key is
 * written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_parse.h"
#include "tests/unit/vf_test_pkt.h"

#define BUF_LEN 2048

/* Parses a heap copy of exactly len bytes; also checks that a key and
 * offsets pre-filled with garbage come out identical to zero-filled ones. */
static int parse_exact(const uint8_t *frame, size_t len, struct vf_flow_key *key,
                       struct vf_hdr_offsets *off)
{
    uint8_t *copy = malloc(len ? len : 1);
    struct vf_flow_key k2;
    struct vf_hdr_offsets o2;
    int rc, rc2;

    assert_non_null(copy);
    memcpy(copy, frame, len);
    memset(key, 0xa5, sizeof(*key));
    memset(off, 0xa5, sizeof(*off));
    memset(&k2, 0x5a, sizeof(k2));
    memset(&o2, 0x5a, sizeof(o2));
    rc = vf_parse(copy, (uint32_t)len, key, off);
    rc2 = vf_parse(copy, (uint32_t)len, &k2, &o2);
    free(copy);
    assert_int_equal(rc, rc2);
    assert_memory_equal(key, &k2, sizeof(k2));
    assert_memory_equal(off, &o2, sizeof(o2));
    assert_true(rc >= 0 && rc < VF_DROP__COUNT);
    return rc;
}

/* A description with no field left at a value that would hide a bug by
 * matching the key's zero fill. */
static void tpkt_nonzero(struct vf_tpkt *t)
{
    vf_tpkt_init(t);
    t->tos = 0xb8;
    t->ttl = 17;
    t->ip4_src = 0xc0a80a01;
    t->ip4_dst = 0xc0a80a63;
    t->ip6_src[1] = 0x11;
    t->ip6_dst[7] = 0x77;
    t->sport = 40000;
    t->dport = 443;
    t->icmp_type = 8;
    t->icmp_code = 3;
    t->vlan[0] = 0x2005;
    t->vlan[1] = 0x0007;
}

enum kind {
    K_IP4_TCP, K_IP4_UDP, K_IP4_ICMP, K_IP4_RAW,
    K_IP6_TCP, K_IP6_UDP, K_IP6_ICMP6, K_IP6_RAW,
    K_ARP_REQ, K_ARP_REPLY, K_OTHER,
};

static const uint8_t ext_all4[] = {VF_TPKT_PROTO_HOPOPTS, VF_TPKT_PROTO_ROUTING,
                                   VF_TPKT_PROTO_FRAGMENT, VF_TPKT_PROTO_DSTOPTS};
static const uint8_t ext_frag[] = {VF_TPKT_PROTO_FRAGMENT};
static const uint8_t ext_8[] = {0, 60, 43, 60, 0, 60, 43, 60};
static const uint8_t ip4_opts[12] = {0x94, 4, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0};

struct vcase {
    const char *name;
    enum kind kind;
    unsigned nvlan;
    size_t ip4_opts_len;
    const uint8_t *ext;
    unsigned next;
    size_t tcp_opts_len;
    size_t payload_len;
    bool pad;               /* pad to 60 bytes as a NIC would */
    uint16_t frag_offset;
    bool more_frags;
    uint8_t raw_proto;      /* K_*_RAW: the next-protocol field */
    uint16_t eth_type;      /* K_OTHER: written; others: expected */
    /* expected */
    uint8_t flags;
    uint8_t proto;
    uint16_t l3, l4, l4_len;
};

#define F_L4 VF_FLOW_L4
#define F4 VF_FLOW_IP4
#define F6 VF_FLOW_IP6
#define FV VF_FLOW_VLAN

static const struct vcase valid_cases[] = {
    {"ip4 tcp", K_IP4_TCP, 0, 0, NULL, 0, 0, 100, false, 0, false, 0, 0x0800,
     F4 | F_L4, 6, 14, 34, 120},
    {"ip4 tcp padded", K_IP4_TCP, 0, 0, NULL, 0, 0, 0, true, 0, false, 0, 0x0800,
     F4 | F_L4, 6, 14, 34, 20},
    {"ip4 tcp opts+tcp opts", K_IP4_TCP, 0, 12, NULL, 0, 12, 5, false, 0, false, 0,
     0x0800, F4 | F_L4, 6, 14, 46, 37},
    {"ip4 tcp vlan", K_IP4_TCP, 1, 0, NULL, 0, 0, 1, false, 0, false, 0, 0x0800,
     F4 | F_L4 | FV, 6, 18, 38, 21},
    {"ip4 tcp qinq", K_IP4_TCP, 2, 0, NULL, 0, 0, 1, false, 0, false, 0, 0x0800,
     F4 | F_L4 | FV, 6, 22, 42, 21},
    {"ip4 udp", K_IP4_UDP, 0, 0, NULL, 0, 0, 64, false, 0, false, 0, 0x0800,
     F4 | F_L4, 17, 14, 34, 72},
    {"ip4 udp padded", K_IP4_UDP, 1, 0, NULL, 0, 0, 2, true, 0, false, 0, 0x0800,
     F4 | F_L4 | FV, 17, 18, 38, 10},
    {"ip4 icmp", K_IP4_ICMP, 0, 0, NULL, 0, 0, 56, false, 0, false, 0, 0x0800,
     F4 | F_L4, 1, 14, 34, 64},
    {"ip4 icmp opts", K_IP4_ICMP, 0, 12, NULL, 0, 0, 0, true, 0, false, 0, 0x0800,
     F4 | F_L4, 1, 14, 46, 8},
    {"ip4 frag first", K_IP4_UDP, 0, 0, NULL, 0, 0, 16, false, 0, true, 0, 0x0800,
     F4 | F_L4 | VF_FLOW_FRAG_FIRST, 17, 14, 34, 24},
    {"ip4 frag later", K_IP4_RAW, 0, 0, NULL, 0, 0, 40, false, 3, true, 17, 0x0800,
     F4 | VF_FLOW_FRAG_LATER, 17, 14, 0, 0},
    {"ip4 frag last", K_IP4_RAW, 0, 0, NULL, 0, 0, 3, true, 7, false, 6, 0x0800,
     F4 | VF_FLOW_FRAG_LATER, 6, 14, 0, 0},
    {"ip4 gre (unknown proto)", K_IP4_RAW, 0, 0, NULL, 0, 0, 4, false, 0, false, 47,
     0x0800, F4, 47, 14, 34, 4},
    {"ip6 tcp", K_IP6_TCP, 0, 0, NULL, 0, 0, 100, false, 0, false, 0, 0x86dd,
     F6 | F_L4, 6, 14, 54, 120},
    {"ip6 tcp vlan", K_IP6_TCP, 1, 0, NULL, 0, 8, 0, false, 0, false, 0, 0x86dd,
     F6 | F_L4 | FV, 6, 18, 58, 28},
    {"ip6 udp", K_IP6_UDP, 0, 0, NULL, 0, 0, 9, false, 0, false, 0, 0x86dd,
     F6 | F_L4, 17, 14, 54, 17},
    {"ip6 icmp6", K_IP6_ICMP6, 0, 0, NULL, 0, 0, 0, false, 0, false, 0, 0x86dd,
     F6 | F_L4, 58, 14, 54, 8},
    {"ip6 4 ext udp", K_IP6_UDP, 0, 0, ext_all4, 4, 0, 3, false, 0, false, 0, 0x86dd,
     F6 | F_L4, 17, 14, 86, 11},
    {"ip6 8 ext tcp qinq", K_IP6_TCP, 2, 0, ext_8, 8, 0, 0, false, 0, false, 0, 0x86dd,
     F6 | F_L4 | FV, 6, 22, 126, 20},
    {"ip6 frag first", K_IP6_TCP, 0, 0, ext_frag, 1, 0, 8, false, 0, true, 0, 0x86dd,
     F6 | F_L4 | VF_FLOW_FRAG_FIRST, 6, 14, 62, 28},
    {"ip6 atomic frag", K_IP6_ICMP6, 0, 0, ext_frag, 1, 0, 0, false, 0, false, 0, 0x86dd,
     F6 | F_L4, 58, 14, 62, 8},
    {"ip6 frag later", K_IP6_RAW, 0, 0, ext_frag, 1, 0, 16, false, 10, true, 17, 0x86dd,
     F6 | VF_FLOW_FRAG_LATER, 17, 14, 0, 0},
    {"ip6 no next header", K_IP6_RAW, 0, 0, ext_all4, 4, 0, 0, false, 0, false, 59,
     0x86dd, F6, 59, 14, 86, 0},
    {"arp request", K_ARP_REQ, 0, 0, NULL, 0, 0, 0, true, 0, false, 0, 0x0806,
     VF_FLOW_ARP, 0, 14, 0, 0},
    {"arp reply vlan", K_ARP_REPLY, 1, 0, NULL, 0, 0, 0, false, 0, false, 0, 0x0806,
     VF_FLOW_ARP | FV, 0, 18, 0, 0},
    {"unknown ethertype", K_OTHER, 0, 0, NULL, 0, 0, 46, false, 0, false, 0, 0x88cc,
     0, 0, 0, 0, 0},
    {"unknown ethertype qinq", K_OTHER, 2, 0, NULL, 0, 0, 0, false, 0, false, 0, 0x9000,
     FV, 0, 0, 0, 0},
};

/* Builds the frame of a case; returns its length. */
static size_t build(const struct vcase *c, struct vf_tpkt *t, uint8_t *buf)
{
    size_t n = 0;

    tpkt_nonzero(t);
    t->nvlan = c->nvlan;
    t->ip4_opts = ip4_opts;
    t->ip4_opts_len = c->ip4_opts_len;
    t->ip6_ext = c->ext;
    t->ip6_ext_count = c->next;
    t->tcp_opts_len = c->tcp_opts_len;
    t->payload_len = c->payload_len;
    t->frag_offset = c->frag_offset;
    t->more_frags = c->more_frags;
    if (c->kind == K_IP6_ICMP6)
        t->icmp_type = 128;
    switch (c->kind) {
    case K_IP4_TCP: n = vf_tpkt_ip4_tcp(buf, BUF_LEN, t); break;
    case K_IP4_UDP: n = vf_tpkt_ip4_udp(buf, BUF_LEN, t); break;
    case K_IP4_ICMP: n = vf_tpkt_ip4_icmp(buf, BUF_LEN, t); break;
    case K_IP4_RAW: n = vf_tpkt_ip4_raw(buf, BUF_LEN, t, c->raw_proto); break;
    case K_IP6_TCP: n = vf_tpkt_ip6_tcp(buf, BUF_LEN, t); break;
    case K_IP6_UDP: n = vf_tpkt_ip6_udp(buf, BUF_LEN, t); break;
    case K_IP6_ICMP6: n = vf_tpkt_ip6_icmp6(buf, BUF_LEN, t); break;
    case K_IP6_RAW: n = vf_tpkt_ip6_raw(buf, BUF_LEN, t, c->raw_proto); break;
    case K_ARP_REQ: n = vf_tpkt_arp_request(buf, BUF_LEN, t); break;
    case K_ARP_REPLY: n = vf_tpkt_arp_reply(buf, BUF_LEN, t); break;
    case K_OTHER:
        n = vf_tpkt_eth(buf, BUF_LEN, t, c->eth_type);
        n += vf_tpkt_payload(buf + n, BUF_LEN - n, t);
        break;
    }
    assert_true(n > 0);
    if (c->pad)
        n = vf_tpkt_pad(buf, n, BUF_LEN, VF_TPKT_ETH_MIN);
    return n;
}

/* The key the parser must produce, built from the description alone. */
static void expected_key(const struct vcase *c, const struct vf_tpkt *t,
                         struct vf_flow_key *k)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->eth_dst, t->eth_dst, 6);
    memcpy(k->eth_src, t->eth_src, 6);
    k->eth_type = c->eth_type;
    k->vlan = c->nvlan ? t->vlan[0] : 0;
    k->flags = c->flags;
    k->ip_proto = c->proto;
    if (c->flags & VF_FLOW_IP4) {
        k->ip_src = htonl(t->ip4_src);
        k->ip_dst = htonl(t->ip4_dst);
    }
    if (c->flags & VF_FLOW_IP6) {
        memcpy(k->ip6_src, t->ip6_src, 16);
        memcpy(k->ip6_dst, t->ip6_dst, 16);
    }
    if (c->flags & (VF_FLOW_IP4 | VF_FLOW_IP6)) {
        k->ip_ttl = t->ttl;
        k->ip_tos = t->tos;
    }
    if (c->flags & VF_FLOW_L4) {
        if (c->proto == VF_IPPROTO_ICMP || c->proto == VF_IPPROTO_ICMPV6) {
            k->sport = htons(t->icmp_type);
            k->dport = htons(t->icmp_code);
        } else {
            k->sport = htons(t->sport);
            k->dport = htons(t->dport);
        }
    }
    if (c->flags & VF_FLOW_ARP) {
        k->ip_src = htonl(t->ip4_src);
        k->ip_dst = htonl(t->ip4_dst);
        k->arp_op = c->kind == K_ARP_REQ ? 1 : 2;
        memcpy(k->arp_sha, t->eth_src, 6);
        if (c->kind == K_ARP_REPLY)
            memcpy(k->arp_tha, t->eth_dst, 6);
    }
}

static void test_valid_frames(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct vcase *c = &valid_cases[i];
        uint8_t buf[BUF_LEN];
        struct vf_tpkt t;
        struct vf_flow_key key, want;
        struct vf_hdr_offsets off;
        size_t n = build(c, &t, buf);
        int rc;

        print_message("case %s (%zu bytes)\n", c->name, n);
        rc = parse_exact(buf, n, &key, &off);
        assert_int_equal(rc, VF_DROP_NONE);
        expected_key(c, &t, &want);
        assert_memory_equal(&key, &want, sizeof(key));
        assert_int_equal(off.l3, c->l3);
        assert_int_equal(off.l4, c->l4);
        assert_int_equal(off.l4_len, c->l4_len);
    }
}

/* The reason a frame cut to `cut` bytes must give. Cuts never reach L4:
 * IP length fields bound L4 and a cut frame contradicts them first. */
static int cut_reason(const struct vcase *c, size_t full, size_t cut)
{
    size_t l3 = VF_TPKT_ETH_LEN + VF_TPKT_VLAN_LEN * c->nvlan;
    bool v4 = c->kind <= K_IP4_RAW, arp = c->kind == K_ARP_REQ || c->kind == K_ARP_REPLY;

    if (cut < VF_TPKT_ETH_LEN)
        return VF_DROP_RUNT;
    if (cut < l3)
        return VF_DROP_VLAN_TRUNC;
    if (arp)
        return cut < l3 + VF_TPKT_ARP_LEN ? VF_DROP_ARP_TRUNC : VF_DROP_NONE;
    if (c->kind == K_OTHER)
        return VF_DROP_NONE;
    if (v4) {
        if (cut < l3 + VF_TPKT_IP4_LEN + c->ip4_opts_len)
            return VF_DROP_IP4_TRUNC;
        return cut < full ? VF_DROP_IP4_BAD_LEN : VF_DROP_NONE;
    }
    if (cut < l3 + VF_TPKT_IP6_LEN)
        return VF_DROP_IP6_TRUNC;
    return cut < full ? VF_DROP_IP6_BAD_LEN : VF_DROP_NONE;
}

/* Every valid frame cut at every length from 0 to full. */
static void test_cut_every_byte(void **state)
{
    size_t i, cut;

    (void)state;
    for (i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct vcase *c = &valid_cases[i];
        uint8_t buf[BUF_LEN];
        struct vf_tpkt t;
        struct vf_flow_key key;
        struct vf_hdr_offsets off;
        size_t n = build(c, &t, buf);

        if (c->pad)
            continue;   /* the padding would blur the expected cut points */
        for (cut = 0; cut <= n; cut++) {
            int rc = parse_exact(buf, cut, &key, &off);
            int want = cut_reason(c, n, cut);

            if (rc != want)
                print_error("case %s cut %zu: got %s want %s\n", c->name, cut,
                            vf_drop_name((unsigned)rc), vf_drop_name((unsigned)want));
            assert_int_equal(rc, want);
        }
    }
}

/* Sets an IPv4 total length (fixing the checksum) or IPv6 payload length. */
static void set_ip_len(uint8_t *ip, size_t v)
{
    if ((ip[0] >> 4) == 4) {
        vf_tpkt_put16(ip + 2, (uint16_t)v);
        vf_tpkt_ip4_csum_set(ip);
    } else {
        vf_tpkt_put16(ip + 4, (uint16_t)v);
    }
}

/* The upper layers, cut through the IP length field instead of the frame:
 * every L4 / extension header length from 0 to full. */
static void test_cut_ip_payload(void **state)
{
    static const struct {
        const char *name;
        enum kind kind;
        const uint8_t *ext;
        unsigned next;
        size_t tcp_opts_len;
    } cases[] = {
        {"ip4 tcp", K_IP4_TCP, NULL, 0, 8},
        {"ip4 udp", K_IP4_UDP, NULL, 0, 0},
        {"ip4 icmp", K_IP4_ICMP, NULL, 0, 0},
        {"ip6 tcp", K_IP6_TCP, NULL, 0, 4},
        {"ip6 udp 4 ext", K_IP6_UDP, ext_all4, 4, 0},
        {"ip6 icmp6 frag", K_IP6_ICMP6, ext_frag, 1, 0},
    };
    size_t i, pl;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vcase c = {0};
        uint8_t buf[BUF_LEN];
        struct vf_tpkt t;
        struct vf_flow_key key;
        struct vf_hdr_offsets off;
        bool v4 = cases[i].kind <= K_IP4_RAW;
        size_t n, l4, hdr, ext_len = VF_TPKT_IP6_EXT_LEN * cases[i].next;

        c.kind = cases[i].kind;
        c.ext = cases[i].ext;
        c.next = cases[i].next;
        c.tcp_opts_len = cases[i].tcp_opts_len;
        c.payload_len = 4;
        n = build(&c, &t, buf);
        l4 = VF_TPKT_ETH_LEN + (v4 ? VF_TPKT_IP4_LEN : VF_TPKT_IP6_LEN + ext_len);
        hdr = c.kind == K_IP4_TCP || c.kind == K_IP6_TCP ? VF_TPKT_TCP_LEN + c.tcp_opts_len
              : c.kind == K_IP4_UDP || c.kind == K_IP6_UDP ? VF_TPKT_UDP_LEN
                                                           : VF_TPKT_ICMP_LEN;
        /* l4 payload length pl = bytes of IP payload after the ext headers. */
        for (pl = 0; pl + l4 <= n; pl++) {
            size_t iplen = v4 ? VF_TPKT_IP4_LEN + pl : ext_len + pl;
            int want, rc;

            set_ip_len(buf + VF_TPKT_ETH_LEN, iplen);
            if (c.kind == K_IP4_TCP || c.kind == K_IP6_TCP)
                want = pl < VF_TPKT_TCP_LEN ? VF_DROP_TCP_TRUNC
                       : pl < hdr ? VF_DROP_TCP_BAD_OFF : VF_DROP_NONE;
            else if (c.kind == K_IP4_UDP || c.kind == K_IP6_UDP)
                want = pl < VF_TPKT_UDP_LEN ? VF_DROP_UDP_TRUNC
                       : pl < n - l4 ? VF_DROP_UDP_BAD_LEN : VF_DROP_NONE;
            else
                want = pl >= hdr ? VF_DROP_NONE
                       : v4 ? VF_DROP_ICMP_TRUNC : VF_DROP_ICMP6_TRUNC;
            rc = parse_exact(buf, n, &key, &off);
            if (rc != want)
                print_error("case %s l4 len %zu: got %s want %s\n", cases[i].name, pl,
                            vf_drop_name((unsigned)rc), vf_drop_name((unsigned)want));
            assert_int_equal(rc, want);
            if (rc == VF_DROP_NONE)
                assert_int_equal(off.l4_len, pl);
        }
        /* And the extension headers themselves, cut by the payload length. */
        for (pl = 0; pl < ext_len; pl++) {
            set_ip_len(buf + VF_TPKT_ETH_LEN, pl);
            assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_IP6_EXT_TRUNC);
        }
    }
}

/* An IPv4 (or IPv6) TCP frame: 20-byte TCP header + payload_len bytes. */
static size_t tcp_frame(uint8_t *buf, bool v6, struct vf_tpkt *t, size_t payload_len)
{
    tpkt_nonzero(t);
    t->payload_len = payload_len;
    return v6 ? vf_tpkt_ip6_tcp(buf, BUF_LEN, t) : vf_tpkt_ip4_tcp(buf, BUF_LEN, t);
}

static int parse_buf(const uint8_t *buf, size_t n)
{
    struct vf_flow_key key;
    struct vf_hdr_offsets off;

    return parse_exact(buf, n, &key, &off);
}

static void test_ip4_malformed(void **state)
{
    uint8_t buf[BUF_LEN], *ip = buf + VF_TPKT_ETH_LEN;
    struct vf_tpkt t;
    size_t n;
    uint8_t ihl;

    (void)state;
    n = tcp_frame(buf, false, &t, 30);     /* total length 70 */
    ip[0] = 0x65;   /* version 6 in an IPv4 EtherType */
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_VERSION);
    ip[0] = 0x05;
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_VERSION);
    for (ihl = 0; ihl < 5; ihl++) {
        ip[0] = (uint8_t)(0x40 | ihl);
        assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_IHL);
    }
    /* IHL 15 (60 bytes) runs into the TCP header but fits the total length:
     * the 10 bytes left are too short for a TCP header. */
    ip[0] = 0x4f;
    assert_int_equal(parse_buf(buf, n), VF_DROP_TCP_TRUNC);
    /* IHL 15 with total length 59: shorter than the header it has. */
    set_ip_len(ip, 59);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_LEN);
    /* IHL past the frame end. */
    assert_int_equal(parse_buf(buf, VF_TPKT_ETH_LEN + 40), VF_DROP_IP4_TRUNC);

    n = tcp_frame(buf, false, &t, 10);
    set_ip_len(ip, 19);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_LEN);
    set_ip_len(ip, 0);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_LEN);
    set_ip_len(ip, n - VF_TPKT_ETH_LEN + 1);   /* one byte more than the frame */
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_LEN);
    set_ip_len(ip, 0xffff);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP4_BAD_LEN);
    set_ip_len(ip, n - VF_TPKT_ETH_LEN);
    assert_int_equal(parse_buf(buf, n), VF_DROP_NONE);
    /* Ethernet padding / trailer beyond the total length is fine. */
    memset(buf + n, 0xee, 100);
    assert_int_equal(parse_buf(buf, n + 100), VF_DROP_NONE);
}

static void test_l4_malformed(void **state)
{
    uint8_t buf[BUF_LEN];
    struct vf_tpkt t;
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    size_t n, l4;
    int v6;
    uint8_t doff;

    (void)state;
    for (v6 = 0; v6 < 2; v6++) {
        l4 = VF_TPKT_ETH_LEN + (v6 ? VF_TPKT_IP6_LEN : VF_TPKT_IP4_LEN);
        n = tcp_frame(buf, v6, &t, 10);
        for (doff = 0; doff < 16; doff++) {
            buf[l4 + 12] = (uint8_t)(doff << 4);
            assert_int_equal(parse_buf(buf, n),
                             doff < 5 || doff * 4 > 30 ? VF_DROP_TCP_BAD_OFF : VF_DROP_NONE);
        }

        tpkt_nonzero(&t);
        t.payload_len = 10;
        n = v6 ? vf_tpkt_ip6_udp(buf, BUF_LEN, &t) : vf_tpkt_ip4_udp(buf, BUF_LEN, &t);
        vf_tpkt_put16(buf + l4 + 4, 7);
        assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_BAD_LEN);
        vf_tpkt_put16(buf + l4 + 4, 0);
        assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_BAD_LEN);
        vf_tpkt_put16(buf + l4 + 4, 19);
        assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_BAD_LEN);
        vf_tpkt_put16(buf + l4 + 4, 0xffff);
        assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_BAD_LEN);
        /* Shorter than the IP payload: the rest is padding, accepted. */
        vf_tpkt_put16(buf + l4 + 4, 8);
        assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
        assert_int_equal(off.l4_len, 18);
        assert_int_equal(key.dport, htons(t.dport));
    }
}

static void test_ip6_malformed(void **state)
{
    uint8_t buf[BUF_LEN], *ip = buf + VF_TPKT_ETH_LEN;
    uint8_t ext[VF_PARSE_IP6_EXT_MAX + 1];
    struct vf_tpkt t;
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    size_t n;
    unsigned i;

    (void)state;
    n = tcp_frame(buf, true, &t, 10);
    ip[0] = 0x45;
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP6_BAD_VERSION);
    ip[0] = 0x60;
    set_ip_len(ip, n - VF_TPKT_ETH_LEN - VF_TPKT_IP6_LEN + 1);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP6_BAD_LEN);
    set_ip_len(ip, 0xffff);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP6_BAD_LEN);

    /* VF_PARSE_IP6_EXT_MAX extension headers parse; one more is refused. */
    for (i = 0; i <= VF_PARSE_IP6_EXT_MAX; i++)
        ext[i] = i & 1 ? VF_TPKT_PROTO_DSTOPTS : VF_TPKT_PROTO_ROUTING;
    tpkt_nonzero(&t);
    t.ip6_ext = ext;
    t.ip6_ext_count = VF_PARSE_IP6_EXT_MAX;
    n = vf_tpkt_ip6_udp(buf, BUF_LEN, &t);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_int_equal(key.ip_proto, VF_IPPROTO_UDP);
    t.ip6_ext_count = VF_PARSE_IP6_EXT_MAX + 1;
    n = vf_tpkt_ip6_udp(buf, BUF_LEN, &t);
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP6_EXT_LIMIT);

    /* An extension header whose own length runs past the payload. */
    t.ip6_ext_count = 2;
    n = vf_tpkt_ip6_udp(buf, BUF_LEN, &t);
    buf[VF_TPKT_ETH_LEN + VF_TPKT_IP6_LEN + 8 + 1] = 1;    /* 16 bytes: eats the UDP header */
    assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_TRUNC);
    buf[VF_TPKT_ETH_LEN + VF_TPKT_IP6_LEN + 8 + 1] = 2;    /* 24 bytes: 8 too many */
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP6_EXT_TRUNC);
    buf[VF_TPKT_ETH_LEN + VF_TPKT_IP6_LEN + 8 + 1] = 255;
    assert_int_equal(parse_buf(buf, n), VF_DROP_IP6_EXT_TRUNC);

    /* A later fragment: no ports, no L4 offset, not a drop, even though the
     * bytes after it would not parse as UDP. */
    tpkt_nonzero(&t);
    t.ip6_ext = ext_frag;
    t.ip6_ext_count = 1;
    t.frag_offset = 185;
    t.payload_len = 3;
    n = vf_tpkt_ip6_raw(buf, BUF_LEN, &t, VF_TPKT_PROTO_UDP);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_int_equal(key.flags, VF_FLOW_IP6 | VF_FLOW_FRAG_LATER);
    assert_int_equal(key.ip_proto, VF_IPPROTO_UDP);
    assert_int_equal(key.sport, 0);
    assert_int_equal(key.dport, 0);
    assert_int_equal(off.l4, 0);

    /* Two fragment headers, the first one a first fragment's and the
     * second a later one's (found by fuzz_parse): a later fragment only,
     * never both flags. */
    static const uint8_t ext_frag2[] = {VF_TPKT_PROTO_FRAGMENT,
                                        VF_TPKT_PROTO_FRAGMENT};
    tpkt_nonzero(&t);
    t.ip6_ext = ext_frag2;
    t.ip6_ext_count = 2;
    t.frag_offset = 0;
    t.more_frags = true;
    t.payload_len = 3;
    n = vf_tpkt_ip6_raw(buf, BUF_LEN, &t, VF_TPKT_PROTO_UDP);
    vf_tpkt_put16(buf + VF_TPKT_ETH_LEN + VF_TPKT_IP6_LEN + 8 + 2, 185 << 3);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_int_equal(key.flags, VF_FLOW_IP6 | VF_FLOW_FRAG_LATER);
    assert_int_equal(key.sport, 0);
    assert_int_equal(off.l4, 0);
}

/* A UDP datagram larger than the MTU, cut as the kernel cuts it: IPv4 at
 * MTU 1400 (1376 payload bytes a fragment), IPv6 at MTU 1400 (1352 after
 * the fragment header). The first fragment's UDP length is the whole
 * datagram's, longer than the fragment: it must parse with its ports (it
 * was dropped as udp_bad_length, issue 12 item 5); the later ones parse
 * with no ports. */
static void check_udp_fragments(bool v6, uint32_t dgram)
{
    const uint32_t per = v6 ? 1352 : 1376;
    const size_t udp_off = VF_TPKT_ETH_LEN + (v6 ? VF_TPKT_IP6_LEN + VF_TPKT_IP6_EXT_LEN
                                                 : VF_TPKT_IP4_LEN);
    uint8_t buf[BUF_LEN];
    struct vf_tpkt t;
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    unsigned frags = 0;

    for (uint32_t at = 0; at < dgram; at += per, frags++) {
        uint32_t len = dgram - at < per ? dgram - at : per;
        size_t n;

        tpkt_nonzero(&t);
        t.ip6_ext = v6 ? ext_frag : NULL;
        t.ip6_ext_count = v6 ? 1 : 0;
        t.frag_offset = (uint16_t)(at / 8);
        t.more_frags = at + len < dgram;
        if (at == 0) {
            t.payload_len = len - VF_TPKT_UDP_LEN;
            n = v6 ? vf_tpkt_ip6_udp(buf, BUF_LEN, &t) : vf_tpkt_ip4_udp(buf, BUF_LEN, &t);
            vf_tpkt_put16(buf + udp_off + 4, (uint16_t)dgram);
        } else {
            t.payload_len = len;
            n = v6 ? vf_tpkt_ip6_raw(buf, BUF_LEN, &t, VF_TPKT_PROTO_UDP)
                   : vf_tpkt_ip4_raw(buf, BUF_LEN, &t, VF_TPKT_PROTO_UDP);
        }
        assert_true(n > 0);
        assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
        assert_int_equal(key.ip_proto, VF_IPPROTO_UDP);
        uint8_t l3 = v6 ? VF_FLOW_IP6 : VF_FLOW_IP4;
        if (at == 0) {
            assert_int_equal(key.flags, l3 | VF_FLOW_L4 | VF_FLOW_FRAG_FIRST);
            assert_int_equal(key.sport, htons(t.sport));
            assert_int_equal(key.dport, htons(t.dport));
            assert_int_equal(off.l4, udp_off);
            assert_int_equal(off.l4_len, len);
            /* The same header on a datagram that is not fragmented claims
             * more than it carries: still refused. */
            if (v6)
                buf[VF_TPKT_ETH_LEN + VF_TPKT_IP6_LEN + 3] &= (uint8_t)~1;  /* M = 0 */
            else
                buf[VF_TPKT_ETH_LEN + 6] &= (uint8_t)~0x20;                /* MF = 0 */
            assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_BAD_LEN);
        } else {
            assert_int_equal(key.flags, l3 | VF_FLOW_FRAG_LATER);
            assert_int_equal(key.sport, 0);
            assert_int_equal(key.dport, 0);
            assert_int_equal(off.l4, 0);
        }
    }
    assert_int_equal(frags, (dgram + per - 1) / per);
}

static void test_udp_fragments(void **state)
{
    uint8_t buf[BUF_LEN];
    struct vf_tpkt t;
    size_t n;

    (void)state;
    for (unsigned v6 = 0; v6 < 2; v6++) {
        check_udp_fragments(v6, 3000);
        check_udp_fragments(v6, 9000);
        check_udp_fragments(v6, 65507);
    }

    /* A first fragment still needs its whole UDP header (RFC 1858's tiny
     * fragment could otherwise hide the ports), and a length below 8 is
     * impossible whatever the fragment. */
    tpkt_nonzero(&t);
    t.more_frags = true;
    t.payload_len = 0;
    n = vf_tpkt_ip4_raw(buf, BUF_LEN, &t, VF_TPKT_PROTO_UDP);
    vf_tpkt_put16(buf + VF_TPKT_ETH_LEN + 2, VF_TPKT_IP4_LEN + 4);  /* 4 bytes of UDP */
    assert_int_equal(parse_buf(buf, VF_TPKT_ETH_LEN + VF_TPKT_IP4_LEN + 4),
                     VF_DROP_UDP_TRUNC);
    t.payload_len = 100;
    n = vf_tpkt_ip4_udp(buf, BUF_LEN, &t);
    vf_tpkt_put16(buf + VF_TPKT_ETH_LEN + VF_TPKT_IP4_LEN + 4, 7);
    assert_int_equal(parse_buf(buf, n), VF_DROP_UDP_BAD_LEN);
}

/* Neighbour discovery: the target and the link-layer options land in the
 * key (what port security checks), and options that cannot be vouched for
 * read ff:ff:ff:ff:ff:ff. */
static void test_nd(void **state)
{
    static const uint8_t tgt[16] = { 0xfe, 0x80, [8] = 0x02, [15] = 0x42 };
    static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
    static const uint8_t mac2[6] = { 0x02, 0, 0, 0, 0x01, 0x02 };
    static const uint8_t bad[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t zero6[6], zero16[16];
    const size_t opts = VF_TPKT_ETH_LEN + VF_TPKT_IP6_LEN + 8 + 16;
    uint8_t buf[BUF_LEN], body[16 + 8 * (VF_PARSE_ND_OPT_MAX + 1)];
    struct vf_tpkt t;
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    size_t n;

    (void)state;
    tpkt_nonzero(&t);
    t.ttl = 255;
    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_NS, tgt, mac, NULL);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_int_equal(key.sport, htons(VF_ICMP6_NS));
    assert_memory_equal(key.nd_target, tgt, 16);
    assert_memory_equal(key.arp_sha, mac, 6);
    assert_memory_equal(key.arp_tha, zero6, 6);

    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_NA, tgt, NULL, mac2);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_int_equal(key.sport, htons(VF_ICMP6_NA));
    assert_memory_equal(key.nd_target, tgt, 16);
    assert_memory_equal(key.arp_sha, zero6, 6);
    assert_memory_equal(key.arp_tha, mac2, 6);

    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_RS, NULL, mac, NULL);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.nd_target, zero16, 16);
    assert_memory_equal(key.arp_sha, mac, 6);

    /* Two source options: the same MAC twice is that MAC; two MACs (a
     * receiver might take either) read bad. */
    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_NS, tgt, mac, mac);
    buf[opts + 8] = 1;                  /* the second option is a source one */
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.arp_sha, mac, 6);
    assert_memory_equal(key.arp_tha, zero6, 6);
    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_NS, tgt, mac, mac2);
    buf[opts + 8] = 1;
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.arp_sha, bad, 6);

    /* An all-zero or not Ethernet-sized option, a zero length, an option
     * running past the message: none can be vouched for. */
    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_NA, tgt, NULL, zero6);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.arp_tha, bad, 6);
    n = vf_tpkt_ip6_nd(buf, BUF_LEN, &t, VF_TPKT_ND_NA, tgt, mac, mac2);
    buf[opts + 1] = 2;                  /* 16 bytes: swallows the TLL */
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.arp_sha, bad, 6);
    assert_memory_equal(key.arp_tha, zero6, 6);
    buf[opts + 1] = 0;
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.arp_sha, bad, 6);
    assert_memory_equal(key.arp_tha, bad, 6);
    buf[opts + 1] = 1;
    buf[opts + 9] = 3;                  /* the TLL claims 24 bytes */
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.arp_sha, bad, 6);
    assert_memory_equal(key.arp_tha, bad, 6);

    /* Past VF_PARSE_ND_OPT_MAX options the rest is not read: bad. */
    {
        memcpy(body, tgt, 16);
        for (unsigned i = 0; i < VF_PARSE_ND_OPT_MAX; i++) {
            memset(body + 16 + 8 * i, 0, 8);
            body[16 + 8 * i] = 14;      /* nonce: meaningless here */
            body[16 + 8 * i + 1] = 1;
        }
        body[16 + 8 * VF_PARSE_ND_OPT_MAX] = 2;
        body[16 + 8 * VF_PARSE_ND_OPT_MAX + 1] = 1;
        memcpy(body + 16 + 8 * VF_PARSE_ND_OPT_MAX + 2, mac, 6);
        t.icmp_type = VF_ICMP6_NA;
        t.icmp_code = 0;
        t.payload = body;
        t.payload_len = sizeof(body);
        n = vf_tpkt_ip6_icmp6(buf, BUF_LEN, &t);
        assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
        assert_memory_equal(key.arp_tha, bad, 6);
        t.payload_len -= 8;             /* one fewer: within the limit */
        body[16 + 8 * (VF_PARSE_ND_OPT_MAX - 1)] = 2;
        memcpy(body + 16 + 8 * (VF_PARSE_ND_OPT_MAX - 1) + 2, mac, 6);
        n = vf_tpkt_ip6_icmp6(buf, BUF_LEN, &t);
        assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
        assert_memory_equal(key.arp_tha, mac, 6);
    }

    /* A solicitation too short for its target is truncated; other ICMPv6
     * messages leave the ND fields zero. */
    t.icmp_type = VF_ICMP6_NS;
    t.payload_len = 15;
    n = vf_tpkt_ip6_icmp6(buf, BUF_LEN, &t);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_ICMP6_TRUNC);
    t.icmp_type = 128;                  /* echo request */
    t.payload = NULL;
    t.payload_len = 40;
    n = vf_tpkt_ip6_icmp6(buf, BUF_LEN, &t);
    assert_int_equal(parse_exact(buf, n, &key, &off), VF_DROP_NONE);
    assert_memory_equal(key.nd_target, zero16, 16);
    assert_memory_equal(key.arp_sha, zero6, 6);
    assert_memory_equal(key.arp_tha, zero6, 6);
}

static void test_l2_arp_malformed(void **state)
{
    uint8_t buf[BUF_LEN];
    struct vf_tpkt t;
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    size_t n;
    int field;

    (void)state;
    tpkt_nonzero(&t);
    for (field = 0; field < 4; field++) {
        n = vf_tpkt_arp_request(buf, BUF_LEN, &t);
        switch (field) {
        case 0: vf_tpkt_put16(buf + 14, 6); break;            /* htype IEEE 802 */
        case 1: vf_tpkt_put16(buf + 16, 0x86dd); break;       /* ptype */
        case 2: buf[18] = 8; break;                           /* hlen */
        case 3: buf[19] = 16; break;                          /* plen */
        }
        assert_int_equal(parse_buf(buf, n), VF_DROP_ARP_BAD);
    }
    /* A third VLAN tag is not looked into: the key stops at L2. */
    t.nvlan = 2;
    n = vf_tpkt_eth(buf, BUF_LEN, &t, VF_TPKT_ETH_P_8021Q);
    vf_tpkt_put16(buf + n, 0x0123);
    vf_tpkt_put16(buf + n + 2, VF_TPKT_ETH_P_IP);
    memset(buf + n + 4, 0, 40);
    assert_int_equal(parse_exact(buf, n + 44, &key, &off), VF_DROP_NONE);
    assert_int_equal(key.eth_type, VF_ETH_P_8021Q);
    assert_int_equal(key.vlan, t.vlan[0]);
    assert_int_equal(off.l3, 0);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* 200k frames: random bytes, and valid frames with a few random bytes
 * changed (which get much deeper into the parser). Bounded by count. */
static void test_fuzz(void **state)
{
    static const uint16_t types[] = {0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8};
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint8_t base[BUF_LEN];
    unsigned iter, hist[VF_DROP__COUNT] = {0};

    (void)state;
    for (iter = 0; iter < 200000; iter++) {
        uint8_t buf[256];
        struct vf_flow_key key;
        struct vf_hdr_offsets off;
        size_t n, i;
        int rc;

        if (iter & 1) {
            n = rng_next(&s) % sizeof(buf);
            for (i = 0; i < n; i++)
                buf[i] = (uint8_t)rng_next(&s);
            /* Steer some random frames at a real EtherType. */
            if (n >= 14 && (iter & 2))
                vf_tpkt_put16(buf + 12, types[rng_next(&s) % 5]);
        } else {
            const struct vcase *c =
                &valid_cases[rng_next(&s) % (sizeof(valid_cases) / sizeof(valid_cases[0]))];
            struct vf_tpkt t;
            unsigned flips = 1 + rng_next(&s) % 4;

            n = build(c, &t, base);
            if (n > sizeof(buf))
                n = sizeof(buf);
            memcpy(buf, base, n);
            while (flips--)
                buf[rng_next(&s) % n] = (uint8_t)rng_next(&s);
            n -= rng_next(&s) % 3 == 0 ? rng_next(&s) % (n + 1) : 0;
        }
        rc = parse_exact(buf, n, &key, &off);
        hist[rc]++;
        assert_true(off.l3 <= n);
        assert_true((size_t)off.l4 + off.l4_len <= n);
        assert_true(off.l4 == 0 || off.l4 > off.l3);
        for (i = 0; i < sizeof(key.pad); i++)
            assert_int_equal(key.pad[i], 0);
    }
    /* The mutated frames must reach deep into the parser, or the fuzz is
     * only testing the Ethernet check. */
    assert_true(hist[VF_DROP_NONE] > 1000);
    assert_true(hist[VF_DROP_TCP_BAD_OFF] > 0);
    assert_true(hist[VF_DROP_UDP_BAD_LEN] > 0);
    assert_true(hist[VF_DROP_IP6_EXT_TRUNC] > 0);
    assert_true(hist[VF_DROP_IP4_BAD_IHL] > 0);
}

static void random_key(uint64_t *s, struct vf_flow_key *k)
{
    uint8_t *p = (uint8_t *)k;
    size_t i;

    for (i = 0; i < sizeof(*k); i++)
        p[i] = (uint8_t)rng_next(s);
}

static void test_hash_matches_scalar(void **state)
{
    uint64_t s = 42;
    unsigned i;

    (void)state;
    for (i = 0; i < 5000; i++) {
        struct vf_flow_key k;
        uint32_t seed = i < 10 ? i : (uint32_t)rng_next(&s);

        random_key(&s, &k);
        assert_int_equal(vf_flow_key_hash(&k, seed), vf_flow_key_hash_scalar(&k, seed));
    }
}

/* CRC detects every single-bit change, and the seed matters. */
static void test_hash_bits(void **state)
{
    struct vf_flow_key k;
    uint64_t s = 7;
    uint32_t h0;
    unsigned bit;

    (void)state;
    random_key(&s, &k);
    h0 = vf_flow_key_hash(&k, 0);
    assert_int_not_equal(h0, vf_flow_key_hash(&k, 1));
    for (bit = 0; bit < sizeof(k) * 8; bit++) {
        ((uint8_t *)&k)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(vf_flow_key_hash(&k, 0), h0);
        assert_int_not_equal(vf_flow_key_hash_scalar(&k, 0), h0);
        ((uint8_t *)&k)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(vf_flow_key_hash(&k, 0), h0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_frames),
        cmocka_unit_test(test_cut_every_byte),
        cmocka_unit_test(test_cut_ip_payload),
        cmocka_unit_test(test_ip4_malformed),
        cmocka_unit_test(test_l4_malformed),
        cmocka_unit_test(test_ip6_malformed),
        cmocka_unit_test(test_udp_fragments),
        cmocka_unit_test(test_l2_arp_malformed),
        cmocka_unit_test(test_nd),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_hash_matches_scalar),
        cmocka_unit_test(test_hash_bits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
