/* vf_test_ct.h - conntrack packets for tests and benchmarks (header-only).
 *
 * What: a flow between endpoint A and endpoint B (IPv4 or IPv6, ports)
 * and builders that turn "a TCP segment from A with these flags", "a UDP
 * datagram from B", "an ICMP echo request from A", "an ICMP error from B
 * quoting A's packet" into a real frame (vf_test_pkt.h), parse it
 * (vf_parse) and fill a struct vf_ct_pkt for zone. So every test goes
 * through the same parser and vf_ct_pkt_init the pipeline will use.
 *
 * Thread-safety: pure functions on caller-owned memory.
 */
#ifndef VF_TEST_CT_H
#define VF_TEST_CT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pipeline/vf_conntrack.h"
#include "pipeline/vf_parse.h"
#include "tests/unit/vf_test_pkt.h"

struct ctt_flow {
    bool v6;
    uint32_t a4, b4;          /* host order */
    uint8_t a6[16], b6[16];
    uint16_t ap, bp;          /* ports, host order; ICMP: ap is the id */
};

/* Flow i: A = 10.x.y.1 / fd00::x:y01 port 1024 + i % 60000, B = 10.0.1.2 /
 * fd00::2 port 80, where x.y counts the 60,000s: distinct flows for
 * distinct i (up to 2^24). */
static inline void ctt_flow(struct ctt_flow *f, unsigned i, bool v6)
{
    unsigned hi = i / 60000;
    memset(f, 0, sizeof(*f));
    f->v6 = v6;
    f->a4 = 0x0a000001u + (hi << 8);
    f->b4 = 0x0a000102u;
    f->a6[0] = f->b6[0] = 0xfd;
    f->a6[13] = (uint8_t)(hi >> 8);
    f->a6[14] = (uint8_t)hi;
    f->a6[15] = 1;
    f->b6[15] = 2;
    f->ap = (uint16_t)(1024 + i % 60000);
    f->bp = 80;
}

/* The frame's addressing from one side of the flow. */
static inline void ctt_addr(struct vf_tpkt *t, const struct ctt_flow *f, bool from_b)
{
    vf_tpkt_init(t);
    t->ip4_src = from_b ? f->b4 : f->a4;
    t->ip4_dst = from_b ? f->a4 : f->b4;
    memcpy(t->ip6_src, from_b ? f->b6 : f->a6, 16);
    memcpy(t->ip6_dst, from_b ? f->a6 : f->b6, 16);
    t->sport = from_b ? f->bp : f->ap;
    t->dport = from_b ? f->ap : f->bp;
}

/* Parses buf[0, n) and fills p. Returns the parser's verdict (0 = ok). */
static inline int ctt_finish(const struct vf_ct *ct, uint16_t zone, const uint8_t *buf,
                             size_t n, struct vf_ct_pkt *p)
{
    struct vf_flow_key k;
    struct vf_hdr_offsets off;
    int r = vf_parse(buf, (uint32_t)n, &k, &off);
    vf_ct_pkt_init(ct, buf, (uint32_t)n, &k, &off, zone, p);
    return r;
}

static inline int ctt_tcp(const struct vf_ct *ct, uint16_t zone, const struct ctt_flow *f,
                          bool from_b, uint8_t flags, uint32_t seq, uint32_t ack,
                          size_t payload, struct vf_ct_pkt *p)
{
    uint8_t buf[2048];
    struct vf_tpkt t;
    ctt_addr(&t, f, from_b);
    t.tcp_flags = flags;
    t.tcp_seq = seq;
    t.tcp_ack = ack;
    t.payload_len = payload;
    size_t n = f->v6 ? vf_tpkt_ip6_tcp(buf, sizeof(buf), &t)
                     : vf_tpkt_ip4_tcp(buf, sizeof(buf), &t);
    return ctt_finish(ct, zone, buf, n, p);
}

static inline int ctt_udp(const struct vf_ct *ct, uint16_t zone, const struct ctt_flow *f,
                          bool from_b, struct vf_ct_pkt *p)
{
    uint8_t buf[256];
    struct vf_tpkt t;
    ctt_addr(&t, f, from_b);
    t.payload_len = 18;
    size_t n = f->v6 ? vf_tpkt_ip6_udp(buf, sizeof(buf), &t)
                     : vf_tpkt_ip4_udp(buf, sizeof(buf), &t);
    return ctt_finish(ct, zone, buf, n, p);
}

/* ICMP/ICMPv6 message of `type` with id f->ap (echo: 8/0, v6 128/129). */
static inline int ctt_icmp(const struct vf_ct *ct, uint16_t zone, const struct ctt_flow *f,
                           bool from_b, uint8_t type, struct vf_ct_pkt *p)
{
    uint8_t buf[256];
    struct vf_tpkt t;
    ctt_addr(&t, f, from_b);
    t.icmp_type = type;
    t.icmp_id = f->ap;
    t.payload_len = 8;
    size_t n = f->v6 ? vf_tpkt_ip6_icmp6(buf, sizeof(buf), &t)
                     : vf_tpkt_ip4_icmp(buf, sizeof(buf), &t);
    return ctt_finish(ct, zone, buf, n, p);
}

/* An ICMP error (type/code) quoting `quoted` (a whole frame built by one
 * of the builders' frame step, Ethernet included), sent from `src` (host
 * order IPv4 / IPv6 bytes) to the quoted packet's source. */
static inline int ctt_icmp_err(const struct vf_ct *ct, uint16_t zone, bool v6,
                               uint32_t src4, const uint8_t src6[16], uint8_t type,
                               uint8_t code, const uint8_t *quoted, size_t qlen,
                               struct vf_ct_pkt *p)
{
    uint8_t buf[512];
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    const uint8_t *ip = quoted + VF_TPKT_ETH_LEN;
    size_t iplen = qlen - VF_TPKT_ETH_LEN;
    if (v6) {
        memcpy(t.ip6_src, src6, 16);
        memcpy(t.ip6_dst, ip + 8, 16);   /* to the quoted source */
    } else {
        t.ip4_src = src4;
        t.ip4_dst = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 |
                    (uint32_t)ip[14] << 8 | ip[15];
    }
    t.icmp_type = type;
    t.icmp_code = code;
    t.icmp_id = 0;
    t.icmp_seq = 0;
    t.payload = ip;
    t.payload_len = iplen;
    size_t n = v6 ? vf_tpkt_ip6_icmp6(buf, sizeof(buf), &t)
                  : vf_tpkt_ip4_icmp(buf, sizeof(buf), &t);
    return ctt_finish(ct, zone, buf, n, p);
}

/* The frame of a UDP datagram of f (for quoting in an ICMP error). */
static inline size_t ctt_udp_frame(uint8_t *buf, size_t cap, const struct ctt_flow *f,
                                   bool from_b)
{
    struct vf_tpkt t;
    ctt_addr(&t, f, from_b);
    t.payload_len = 18;
    return f->v6 ? vf_tpkt_ip6_udp(buf, cap, &t) : vf_tpkt_ip4_udp(buf, cap, &t);
}

static inline size_t ctt_tcp_frame(uint8_t *buf, size_t cap, const struct ctt_flow *f,
                                   bool from_b, uint8_t flags, uint32_t seq)
{
    struct vf_tpkt t;
    ctt_addr(&t, f, from_b);
    t.tcp_flags = flags;
    t.tcp_seq = seq;
    return f->v6 ? vf_tpkt_ip6_tcp(buf, cap, &t) : vf_tpkt_ip4_tcp(buf, cap, &t);
}

#endif
