/* seeds_ct.c - fuzz_ct's seeds: connection life cycles as a tenant's
 * traffic makes them (the input format is at the top of fuzz_ct.c), IPv4
 * and IPv6, so the fuzzer starts inside every protocol's state machine.
 */
#include <stdio.h>
#include <string.h>

#include "tests/fuzz/vf_fuzz_seeds.h"
#include "tests/unit/vf_test_ct.h"

#define SYN VF_TPKT_TCP_SYN
#define ACK VF_TPKT_TCP_ACK
#define FIN VF_TPKT_TCP_FIN
#define RST VF_TPKT_TCP_RST

/* Control byte bits (fuzz_ct.c). */
#define C_ZONE2 0x01
#define C_WORKER1 0x02
#define C_ALLOW 0x04
#define C_TIME 0x08
#define C_SWEEP 0x10
#define C_FLUSH_ZONE 0x20
#define C_FLUSH_ALL 0x30
#define C_RECLAIM 0x40
#define C_NO_PKT 0x80

static void rec(struct fz_in *in, uint8_t ctl, uint32_t ms, const uint8_t *f,
                size_t n)
{
    fz_le(in, ctl | (ms ? C_TIME : 0), 1);
    if (ms)
        fz_le(in, ms, 4);
    if (ctl & C_NO_PKT)
        return;
    fz_le(in, n, 2);
    fz_bytes(in, f, n);
}

static size_t tcp(uint8_t *b, const struct ctt_flow *fl, bool from_b,
                  uint8_t flags, uint32_t seq, uint32_t ack, size_t payload)
{
    struct vf_tpkt t;
    ctt_addr(&t, fl, from_b);
    t.tcp_flags = flags;
    t.tcp_seq = seq;
    t.tcp_ack = ack;
    t.payload_len = payload;
    return fl->v6 ? vf_tpkt_ip6_tcp(b, 2048, &t) : vf_tpkt_ip4_tcp(b, 2048, &t);
}

static size_t icmp(uint8_t *b, const struct ctt_flow *fl, bool from_b,
                   uint8_t type, uint16_t id)
{
    struct vf_tpkt t;
    ctt_addr(&t, fl, from_b);
    t.icmp_type = type;
    t.icmp_id = id;
    t.payload_len = 8;
    return fl->v6 ? vf_tpkt_ip6_icmp6(b, 2048, &t) : vf_tpkt_ip4_icmp(b, 2048, &t);
}

/* An ICMP error from B's side quoting q (a frame A sent), to A. */
static size_t icmp_err(uint8_t *b, const struct ctt_flow *fl, const uint8_t *q,
                       size_t qn)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.ip4_src = fl->b4;
    t.ip4_dst = fl->a4;
    memcpy(t.ip6_src, fl->b6, 16);
    memcpy(t.ip6_dst, fl->a6, 16);
    t.icmp_type = fl->v6 ? 1 : 3;      /* destination unreachable */
    t.icmp_code = fl->v6 ? 4 : 3;      /* port unreachable */
    t.payload = q + VF_TPKT_ETH_LEN;
    t.payload_len = qn - VF_TPKT_ETH_LEN;
    return fl->v6 ? vf_tpkt_ip6_icmp6(b, 2048, &t) : vf_tpkt_ip4_icmp(b, 2048, &t);
}

void fz_seeds_ct(void)
{
    static struct fz_in in;
    static uint8_t f[2048], q[2048];
    struct ctt_flow fl;
    size_t n;

    for (int v6 = 0; v6 < 2; v6++) {
        char name[64];
        const char *fam = v6 ? "ip6" : "ip4";

        /* TCP: handshake, data both ways, FIN from each side, time-wait
         * over, swept, reclaimed; the second worker sees the replies. */
        ctt_flow(&fl, 1, v6);
        in.n = 0;
        fz_le(&in, 0x11, 1);                    /* 16 conns, 2 per zone */
        rec(&in, C_ALLOW, 0, f, tcp(f, &fl, false, SYN, 100, 0, 0));
        rec(&in, C_ALLOW | C_WORKER1, 5, f, tcp(f, &fl, true, SYN | ACK, 500, 101, 0));
        rec(&in, C_ALLOW, 5, f, tcp(f, &fl, false, ACK, 101, 501, 0));
        rec(&in, C_ALLOW, 5, f, tcp(f, &fl, false, ACK, 101, 501, 100));
        rec(&in, C_ALLOW | C_WORKER1, 5, f, tcp(f, &fl, true, ACK, 501, 201, 50));
        rec(&in, C_ALLOW, 5, f, tcp(f, &fl, false, FIN | ACK, 201, 551, 0));
        rec(&in, C_ALLOW | C_WORKER1, 5, f, tcp(f, &fl, true, FIN | ACK, 551, 202, 0));
        rec(&in, C_ALLOW, 5, f, tcp(f, &fl, false, ACK, 202, 552, 0));
        rec(&in, C_NO_PKT | C_SWEEP, 130000, f, 0);
        rec(&in, C_NO_PKT | C_RECLAIM, 0, f, 0);
        snprintf(name, sizeof(name), "tcp-life-%s", fam);
        fz_put("ct", name, in.b, in.n);

        /* TCP oddities: an unsolicited ACK, a RST below the peer's ACK, a
         * SYN that reopens a closed tuple, flags no stack sends. */
        in.n = 0;
        fz_le(&in, 0x02, 1);
        rec(&in, C_ALLOW, 0, f, tcp(f, &fl, false, ACK, 1, 1, 0));
        rec(&in, C_ALLOW, 0, f, tcp(f, &fl, false, SYN, 100, 0, 0));
        rec(&in, C_ALLOW, 1, f, tcp(f, &fl, true, SYN | ACK, 500, 101, 0));
        rec(&in, C_ALLOW, 1, f, tcp(f, &fl, true, RST, 400, 0, 0));
        rec(&in, C_ALLOW, 1, f, tcp(f, &fl, true, RST | ACK, 501, 101, 0));
        rec(&in, C_ALLOW, 1, f, tcp(f, &fl, false, SYN, 9000, 0, 0));
        rec(&in, C_ALLOW, 1, f, tcp(f, &fl, false, SYN | FIN, 9000, 0, 0));
        snprintf(name, sizeof(name), "tcp-odd-%s", fam);
        fz_put("ct", name, in.b, in.n);

        /* UDP both ways in two zones, an ICMP error quoting it, then the
         * zone's limit, a flush of zone 2 and of everything. */
        in.n = 0;
        fz_le(&in, 0x11, 1);
        size_t qn = ctt_udp_frame(q, sizeof(q), &fl, false);
        rec(&in, C_ALLOW, 0, q, qn);
        ctt_udp_frame(f, sizeof(f), &fl, true);
        rec(&in, C_ALLOW | C_WORKER1, 2, f, ctt_udp_frame(f, sizeof(f), &fl, true));
        rec(&in, C_ALLOW, 2, f, icmp_err(f, &fl, q, qn));
        for (unsigned i = 2; i < 6; i++) {
            ctt_flow(&fl, i, v6);
            rec(&in, C_ALLOW | C_ZONE2, 1, f, ctt_udp_frame(f, sizeof(f), &fl, false));
        }
        rec(&in, C_NO_PKT | C_ZONE2 | C_FLUSH_ZONE, 0, f, 0);
        rec(&in, C_NO_PKT | C_FLUSH_ALL, 0, f, 0);
        snprintf(name, sizeof(name), "udp-err-zones-%s", fam);
        fz_put("ct", name, in.b, in.n);

        /* ICMP echo: a request and its reply, a second request of the
         * same flow with another id, a reply nobody asked for. */
        ctt_flow(&fl, 7, v6);
        in.n = 0;
        fz_le(&in, 0x01, 1);
        uint8_t req = v6 ? 128 : 8, rep = v6 ? 129 : 0;
        rec(&in, C_ALLOW, 0, f, icmp(f, &fl, false, req, 1));
        rec(&in, C_ALLOW | C_WORKER1, 1, f, icmp(f, &fl, true, rep, 1));
        rec(&in, C_ALLOW, 1, f, icmp(f, &fl, false, req, 2));
        rec(&in, C_ALLOW | C_WORKER1, 1, f, icmp(f, &fl, true, rep, 3));
        rec(&in, C_ALLOW, 1, f, icmp(f, &fl, false, v6 ? 135 : 9, 0));
        snprintf(name, sizeof(name), "icmp-echo-%s", fam);
        fz_put("ct", name, in.b, in.n);

        /* Another IP protocol (GRE) and a later fragment. */
        in.n = 0;
        fz_le(&in, 0x00, 1);
        {
            struct vf_tpkt t;
            ctt_addr(&t, &fl, false);
            t.payload_len = 16;
            n = v6 ? vf_tpkt_ip6_raw(f, sizeof(f), &t, 47)
                   : vf_tpkt_ip4_raw(f, sizeof(f), &t, 47);
            rec(&in, C_ALLOW, 0, f, n);
            ctt_addr(&t, &fl, true);
            n = v6 ? vf_tpkt_ip6_raw(f, sizeof(f), &t, 47)
                   : vf_tpkt_ip4_raw(f, sizeof(f), &t, 47);
            rec(&in, C_ALLOW, 0, f, n);
            if (!v6) {
                ctt_addr(&t, &fl, false);
                t.frag_offset = 100;
                n = vf_tpkt_ip4_raw(f, sizeof(f), &t, VF_TPKT_PROTO_UDP);
                rec(&in, C_ALLOW, 0, f, n);
            }
        }
        snprintf(name, sizeof(name), "other-proto-%s", fam);
        fz_put("ct", name, in.b, in.n);
    }
}
