/* test_conntrack.c - connection tracking (pipeline/vf_conntrack.h).
 *
 * Every packet is a real frame through vf_parse and vf_ct_pkt_init
 * (vf_test_ct.h). The clock is the test's: each call passes `now`.
 * Covered: the key (both directions meet, zones and ICMP requesters
 * apart, the hash against its plain definition), the TCP state machine
 * (handshake, close, RST rules, reopen, what may not create or move a
 * connection), UDP and ICMP/ICMPv6 echo, ICMP errors (related or not),
 * zones, timeouts and their configuration, the table and zone limits,
 * the bounded sweep and reclaim, simultaneous inserts, the burst lookup
 * against single lookups, listing, and threads: the two directions of the
 * same connections on different threads under load, with a sweeper, a
 * churner and the reclaimer running, and no entry lost.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include <urcu-qsbr.h>

#include "numa/vf_drop.h"
#include "pipeline/ct_impl.h"
#include "pipeline/vf_conntrack.h"
#include "tests/unit/vf_test_ct.h"

#define SYN VF_TPKT_TCP_SYN
#define ACK VF_TPKT_TCP_ACK
#define FIN VF_TPKT_TCP_FIN
#define RST VF_TPKT_TCP_RST
#define PSH VF_TPKT_TCP_PSH

static uint64_t rng_state = 42;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct fix {
    struct vf_ct *ct;
    struct vf_ct_worker w;
};

static struct vf_ct *mk_ct(uint32_t max, uint32_t zone_max)
{
    struct vf_ct_config cfg = {.max_conns = max, .zone_max = zone_max, .seed = 7};
    struct vf_ct *ct = vf_ct_create(&cfg);
    assert_non_null(ct);
    return ct;
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    f->ct = mk_ct(1000, 0);
    assert_int_equal(vf_ct_worker_init(&f->w, f->ct, 0, 1), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    vf_ct_worker_fini(&f->w);
    vf_ct_destroy(f->ct);
    free(f);
    return 0;
}

/* Lookup, and commit if NEW; returns the lookup's state. */
static unsigned go(struct vf_ct_worker *w, const struct vf_ct_pkt *p, uint64_t now,
                   struct vf_ct_result *r, bool commit)
{
    vf_ct_lookup(w, p, now, r);
    unsigned st = r->state;
    if (commit && st == VF_CT_NEW)
        assert_int_equal(vf_ct_commit(w, p, now, r), VF_DROP_NONE);
    return st;
}

static uint64_t live(const struct vf_ct *ct)
{
    struct vf_ct_totals t;
    vf_ct_get_stats(ct, &t);
    return t.live;
}

/* ---- keys ---- */

static void test_hash_matches_definition(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 10000; i++) {
        struct vf_ct_key k;
        uint64_t seed[4] = {rnd(), rnd(), rnd(), rnd()};
        uint8_t *b = (uint8_t *)&k;
        for (unsigned j = 0; j < sizeof(k); j++)
            b[j] = (uint8_t)rnd();
        assert_true(ct_key_hash(&k, seed) == ct_key_hash_ref(&k, seed));
    }
}

static void test_both_directions_one_key(void **state)
{
    struct fix *f = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct ctt_flow fl;
        struct vf_ct_pkt a, b;
        ctt_flow(&fl, 5, v6);
        ctt_tcp(f->ct, 1, &fl, false, SYN, 1, 0, 0, &a);
        ctt_tcp(f->ct, 1, &fl, true, SYN | ACK, 9, 2, 0, &b);
        assert_int_equal(a.kind, VF_CT_K_TCP);
        assert_memory_equal(&a.key, &b.key, sizeof(a.key));
        assert_true(a.hash == b.hash);
        assert_int_not_equal(a.sender, b.sender);
        assert_int_equal(a.key.family, v6 ? 6 : 4);
        /* Another zone: another key and hash. */
        ctt_tcp(f->ct, 2, &fl, false, SYN, 1, 0, 0, &b);
        assert_memory_not_equal(&a.key, &b.key, sizeof(a.key));
        /* ICMP: request and reply meet; a request from the other side
         * with the same id is another connection. */
        ctt_icmp(f->ct, 1, &fl, false, v6 ? 128 : 8, &a);
        ctt_icmp(f->ct, 1, &fl, true, v6 ? 129 : 0, &b);
        assert_int_equal(a.kind, VF_CT_K_ICMP_REQ);
        assert_int_equal(b.kind, VF_CT_K_ICMP_REPLY);
        assert_memory_equal(&a.key, &b.key, sizeof(a.key));
        ctt_icmp(f->ct, 1, &fl, true, v6 ? 128 : 8, &b);
        assert_memory_not_equal(&a.key, &b.key, sizeof(a.key));
    }
}

/* vf_ct_pkt_init writes every byte of the key, also for a packet with no
 * endpoints (not IP, a later fragment, TCP without its header), so the same
 * frame always gives the same packet, whatever the memory held before
 * (found by fuzz_ct). */
static void test_pkt_init_writes_whole_key(void **state)
{
    struct fix *f = *state;
    uint8_t buf[256];
    struct vf_tpkt t;
    size_t n[3];
    uint8_t frames[3][256];

    vf_tpkt_init(&t);
    n[0] = vf_tpkt_arp_request(frames[0], sizeof(frames[0]), &t);
    t.frag_offset = 100;
    t.payload_len = 16;
    n[1] = vf_tpkt_ip4_raw(frames[1], sizeof(frames[1]), &t, VF_TPKT_PROTO_UDP);
    vf_tpkt_init(&t);
    t.payload_len = 4;                   /* "TCP" with 4 bytes of header */
    n[2] = vf_tpkt_ip4_raw(frames[2], sizeof(frames[2]), &t, VF_TPKT_PROTO_TCP);
    for (unsigned i = 0; i < 3; i++) {
        struct vf_ct_pkt a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0xa5, sizeof(b));
        memcpy(buf, frames[i], n[i]);
        ctt_finish(f->ct, 4, buf, n[i], &a);
        ctt_finish(f->ct, 4, buf, n[i], &b);
        assert_int_not_equal(a.kind, VF_CT_K_TCP);
        assert_memory_equal(&a.key, &b.key, sizeof(a.key));
        assert_true(a.hash == b.hash);
        assert_int_equal(a.key.zone, 4);
    }
}

/* A packet refreshed from its flow's first packet (what a flow-cache hit
 * will do) is the packet vf_ct_pkt_init makes. */
static void test_pkt_refresh_equals_init(void **state)
{
    struct fix *f = *state;
    static const uint8_t flags[] = {SYN, SYN | ACK, ACK, ACK | PSH, FIN | ACK, RST,
                                    RST | ACK, SYN | FIN, 0};
    for (unsigned i = 0; i < 2000; i++) {
        struct ctt_flow fl;
        struct vf_ct_pkt first, again, fresh;
        uint8_t buf[2048];
        struct vf_tpkt t;
        struct vf_flow_key k;
        struct vf_hdr_offsets o;
        bool from_b = rnd() & 1;
        ctt_flow(&fl, (unsigned)(rnd() % 50), rnd() & 1);
        unsigned kind = (unsigned)(rnd() % 3);
        ctt_addr(&t, &fl, from_b);
        t.tcp_flags = flags[rnd() % sizeof(flags)];
        t.tcp_seq = (uint32_t)rnd();
        t.tcp_ack = (uint32_t)rnd();
        t.icmp_type = fl.v6 ? 128 : 8;
        t.payload_len = rnd() % 300;
        size_t n = kind == 0 ? (fl.v6 ? vf_tpkt_ip6_tcp(buf, sizeof(buf), &t) : vf_tpkt_ip4_tcp(buf, sizeof(buf), &t))
                 : kind == 1 ? (fl.v6 ? vf_tpkt_ip6_udp(buf, sizeof(buf), &t) : vf_tpkt_ip4_udp(buf, sizeof(buf), &t))
                             : (fl.v6 ? vf_tpkt_ip6_icmp6(buf, sizeof(buf), &t) : vf_tpkt_ip4_icmp(buf, sizeof(buf), &t));
        ctt_finish(f->ct, 3, buf, n, &first);
        /* another packet of the same flow */
        t.tcp_flags = flags[rnd() % sizeof(flags)];
        t.tcp_seq = (uint32_t)rnd();
        t.tcp_ack = (uint32_t)rnd();
        t.payload_len = rnd() % 300;
        bool other_id = kind == 2 && (rnd() & 1);
        if (other_id)
            t.icmp_id = (uint16_t)(t.icmp_id + 1);   /* the same flow key */
        n = kind == 0 ? (fl.v6 ? vf_tpkt_ip6_tcp(buf, sizeof(buf), &t) : vf_tpkt_ip4_tcp(buf, sizeof(buf), &t))
          : kind == 1 ? (fl.v6 ? vf_tpkt_ip6_udp(buf, sizeof(buf), &t) : vf_tpkt_ip4_udp(buf, sizeof(buf), &t))
                      : (fl.v6 ? vf_tpkt_ip6_icmp6(buf, sizeof(buf), &t) : vf_tpkt_ip4_icmp(buf, sizeof(buf), &t));
        assert_int_equal(vf_parse(buf, (uint32_t)n, &k, &o), 0);
        vf_ct_pkt_init(f->ct, buf, (uint32_t)n, &k, &o, 3, &fresh);
        again = first;
        if (other_id) {
            /* The echo id is not in the flow key: it cannot be reused. */
            assert_false(vf_ct_pkt_refresh(&again, buf, (uint32_t)n, &o));
            continue;
        }
        assert_true(vf_ct_pkt_refresh(&again, buf, (uint32_t)n, &o));
        assert_memory_equal(&again.key, &fresh.key, sizeof(fresh.key));
        assert_true(again.hash == fresh.hash);
        assert_int_equal(again.kind, fresh.kind);
        assert_int_equal(again.cause, fresh.cause);
        assert_int_equal(again.sender, fresh.sender);
        assert_int_equal(again.tcp_flags, fresh.tcp_flags);
        assert_int_equal(again.seq, fresh.seq);
        assert_int_equal(again.ack, fresh.ack);
        assert_int_equal(again.end, fresh.end);
        assert_int_equal(again.bytes, fresh.bytes);
    }
    /* An ICMP error cannot be refreshed: its key is the quoted packet's. */
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    uint8_t q[256];
    ctt_flow(&fl, 1, false);
    size_t qn = ctt_udp_frame(q, sizeof(q), &fl, false);
    ctt_icmp_err(f->ct, 1, false, fl.b4, fl.b6, 3, 3, q, qn, &p);
    struct vf_hdr_offsets o = {.l3 = 14, .l4 = 34, .l4_len = 8};
    assert_false(vf_ct_pkt_refresh(&p, q, (uint32_t)qn, &o));
    /* A packet that is not IP stays what init made of it (0 bytes: there
     * is no IP packet to count), as the later fragment (found by
     * fuzz_ct). */
    uint8_t arp[64];
    struct vf_tpkt ta;
    vf_tpkt_init(&ta);
    size_t an = vf_tpkt_arp_request(arp, sizeof(arp), &ta);
    struct vf_ct_pkt pa, pa2;
    ctt_finish(f->ct, 1, arp, an, &pa);
    pa2 = pa;
    struct vf_flow_key ka;
    struct vf_hdr_offsets oa;
    vf_parse(arp, (uint32_t)an, &ka, &oa);
    assert_int_not_equal(oa.l3, 0);
    assert_true(vf_ct_pkt_refresh(&pa2, arp, (uint32_t)an, &oa));
    assert_int_equal(pa2.bytes, pa.bytes);
    assert_int_equal(pa.bytes, 0);

    /* Nor one that was invalid for what it quoted (the next error of the
     * same flow key may quote a connection). */
    struct vf_tpkt ft;
    ctt_addr(&ft, &fl, false);
    ft.frag_offset = 8;                     /* it quotes a later fragment */
    ft.payload_len = 16;
    qn = vf_tpkt_ip4_raw(q, sizeof(q), &ft, VF_IPPROTO_UDP);
    ctt_icmp_err(f->ct, 1, false, fl.b4, fl.b6, 3, 3, q, qn, &p);
    assert_int_equal(p.kind, VF_CT_K_INVALID);
    assert_int_equal(p.cause, VF_CT_WHY_ICMP_ERR);
    assert_false(vf_ct_pkt_refresh(&p, q, (uint32_t)qn, &o));
}

static void test_untracked_and_invalid_kinds(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    uint8_t buf[128];
    struct vf_tpkt t;

    vf_tpkt_init(&t);
    size_t n = vf_tpkt_arp_request(buf, sizeof(buf), &t);
    ctt_finish(f->ct, 1, buf, n, &p);
    vf_ct_lookup(&f->w, &p, 0, &r);
    assert_int_equal(r.state, VF_CT_UNTRACKED);
    assert_int_equal(r.cause, VF_CT_WHY_NOT_IP);
    /* A later fragment has no ports. */
    ctt_flow(&fl, 1, false);
    ctt_addr(&t, &fl, false);
    t.frag_offset = 100;
    t.payload_len = 16;
    n = vf_tpkt_ip4_raw(buf, sizeof(buf), &t, VF_TPKT_PROTO_UDP);
    ctt_finish(f->ct, 1, buf, n, &p);
    vf_ct_lookup(&f->w, &p, 0, &r);
    assert_int_equal(r.state, VF_CT_UNTRACKED);
    assert_int_equal(r.cause, VF_CT_WHY_FRAGMENT);
    /* Neighbour solicitation: untracked; router advertisement (v4 9): invalid. */
    ctt_flow(&fl, 1, true);
    ctt_icmp(f->ct, 1, &fl, false, 135, &p);
    vf_ct_lookup(&f->w, &p, 0, &r);
    assert_int_equal(r.state, VF_CT_UNTRACKED);
    ctt_flow(&fl, 1, false);
    ctt_icmp(f->ct, 1, &fl, false, 9, &p);
    vf_ct_lookup(&f->w, &p, 0, &r);
    assert_int_equal(r.state, VF_CT_INVALID);
    assert_int_equal(r.cause, VF_CT_WHY_ICMP_TYPE);
    /* Flag combinations no stack sends. */
    static const uint8_t bad[] = {0, FIN, SYN | FIN, SYN | RST, FIN | PSH | 0x20, SYN | ACK | 0x20};
    for (unsigned i = 0; i < sizeof(bad); i++) {
        ctt_tcp(f->ct, 1, &fl, false, bad[i], 1, 0, 0, &p);
        vf_ct_lookup(&f->w, &p, 0, &r);
        assert_int_equal(r.state, VF_CT_INVALID);
        assert_int_equal(r.cause, VF_CT_WHY_TCP_FLAGS);
    }
    assert_int_equal(live(f->ct), 0);
}

/* ---- TCP ---- */

static void test_tcp_handshake_and_close(void **state)
{
    struct fix *f = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct ctt_flow fl;
        struct vf_ct_pkt p;
        struct vf_ct_result r;
        ctt_flow(&fl, 10 + v6, v6);
        ctt_tcp(f->ct, 3, &fl, false, SYN, 100, 0, 0, &p);
        assert_int_equal(go(&f->w, &p, 1, &r, true), VF_CT_NEW);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_SENT);
        /* A retransmitted SYN: still new, same connection. */
        uint32_t conn = r.conn;
        ctt_tcp(f->ct, 3, &fl, false, SYN, 100, 0, 0, &p);
        assert_int_equal(go(&f->w, &p, 2, &r, true), VF_CT_NEW);
        assert_int_equal(r.conn, conn);
        ctt_tcp(f->ct, 3, &fl, true, SYN | ACK, 500, 101, 0, &p);
        assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_ESTABLISHED);
        assert_int_equal(r.dir, VF_CT_REPLY);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_RECV);
        ctt_tcp(f->ct, 3, &fl, false, ACK, 101, 501, 0, &p);
        assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_ESTABLISHED);
        assert_int_equal(r.dir, VF_CT_ORIG);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_ESTABLISHED);
        ctt_tcp(f->ct, 3, &fl, false, ACK | PSH, 101, 501, 100, &p);
        assert_int_equal(go(&f->w, &p, 5, &r, false), VF_CT_ESTABLISHED);
        ctt_tcp(f->ct, 3, &fl, true, ACK, 501, 201, 0, &p);
        assert_int_equal(go(&f->w, &p, 6, &r, false), VF_CT_ESTABLISHED);
        /* Close: FIN from A, ACK, FIN from B, last ACK. */
        ctt_tcp(f->ct, 3, &fl, false, FIN | ACK, 201, 501, 0, &p);
        go(&f->w, &p, 7, &r, false);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_FIN_WAIT);
        ctt_tcp(f->ct, 3, &fl, true, ACK, 501, 202, 0, &p);
        go(&f->w, &p, 8, &r, false);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_CLOSE_WAIT);
        ctt_tcp(f->ct, 3, &fl, true, FIN | ACK, 501, 202, 0, &p);
        go(&f->w, &p, 9, &r, false);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_LAST_ACK);
        ctt_tcp(f->ct, 3, &fl, false, ACK, 202, 502, 0, &p);
        assert_int_equal(go(&f->w, &p, 10, &r, false), VF_CT_ESTABLISHED);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_TIME_WAIT);
        /* A new SYN on the closed tuple opens a new connection. */
        ctt_tcp(f->ct, 3, &fl, false, SYN, 9000, 0, 0, &p);
        assert_int_equal(go(&f->w, &p, 11, &r, true), VF_CT_NEW);
        assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_SENT);
        struct vf_ct_totals t;
        vf_ct_get_stats(f->ct, &t);
        assert_true(t.reopened >= 1);
    }
    assert_int_equal(live(f->ct), 2);
}

/* What must never create a connection, or move one to ESTABLISHED. */
static void test_tcp_unsolicited(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    ctt_flow(&fl, 20, false);
    static const uint8_t flags[] = {ACK, SYN | ACK, FIN | ACK, RST, RST | ACK, ACK | PSH};
    for (unsigned i = 0; i < sizeof(flags); i++) {
        for (int from_b = 0; from_b < 2; from_b++) {
            ctt_tcp(f->ct, 1, &fl, from_b, flags[i], 7, 9, 10, &p);
            vf_ct_lookup(&f->w, &p, 1, &r);
            assert_int_equal(r.state, VF_CT_INVALID);
            assert_int_equal(r.cause, VF_CT_WHY_TCP_NO_CONN);
            /* commit refuses what lookup did not call new */
            assert_int_equal(vf_ct_commit(&f->w, &p, 1, &r), VF_DROP_NONE);
            assert_int_equal(r.conn, VF_CT_NONE);
        }
    }
    assert_int_equal(live(f->ct), 0);
    /* After A's SYN: A's ACK is invalid (no SYN-ACK yet); B's bare ACK
     * passes as a reply but leaves the connection in SYN_SENT. */
    ctt_tcp(f->ct, 1, &fl, false, SYN, 100, 0, 0, &p);
    go(&f->w, &p, 1, &r, true);
    ctt_tcp(f->ct, 1, &fl, false, ACK, 101, 1, 0, &p);
    assert_int_equal(go(&f->w, &p, 2, &r, false), VF_CT_INVALID);
    assert_int_equal(r.cause, VF_CT_WHY_TCP_STATE);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 5, 101, 0, &p);
    assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_SENT);
    /* A's own SYN-ACK, or B's FIN, are invalid here. */
    ctt_tcp(f->ct, 1, &fl, false, SYN | ACK, 100, 1, 0, &p);
    assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_INVALID);
    ctt_tcp(f->ct, 1, &fl, true, FIN | ACK, 5, 101, 0, &p);
    assert_int_equal(go(&f->w, &p, 5, &r, false), VF_CT_INVALID);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_SENT);
    assert_int_equal(live(f->ct), 1);
}

/* The fast path for an established connection's ACK (conntrack.c,
 * ct_tcp_steady) must be what the state machine says: same state word,
 * accepted, the timer restarted. */
static void test_tcp_steady_path_matches(void **state)
{
    (void)state;
    static const uint8_t flags[] = {ACK, ACK | PSH, ACK | 0x20, ACK | PSH | 0x40 | 0x80};
    const uint64_t base = VF_CT_CS_TCP_ESTABLISHED | CT_S_SEEN_REPLY | CT_S_ASSURED;
    for (unsigned extra = 0; extra < 4; extra++) {
        uint64_t s = ct_s_with_to(base | (extra & 1 ? CT_S_CLOSE_INIT : 0) |
                                      (extra & 2 ? CT_S_SIMOPEN : 0),
                                  VF_CT_TO_TCP_ESTABLISHED);
        for (unsigned dir = 0; dir < 2; dir++) {
            for (unsigned i = 0; i < sizeof(flags); i++) {
                struct vf_ct_pkt p = {.kind = VF_CT_K_TCP, .tcp_flags = flags[i],
                                      .seq = 5, .ack = 7};
                struct ct_tcp_seq q = {0};
                struct ct_tcp_step st = ct_tcp_next(s, dir, &p, &q);
                assert_true(st.state == s);
                assert_int_equal(st.verdict, CT_V_OK);
                assert_false(st.kill || st.resync || st.syn_end || st.no_refresh);
            }
        }
    }
}

static void handshake(struct fix *f, const struct ctt_flow *fl, uint16_t zone, uint64_t now)
{
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    ctt_tcp(f->ct, zone, fl, false, SYN, 1000, 0, 0, &p);
    go(&f->w, &p, now, &r, true);
    ctt_tcp(f->ct, zone, fl, true, SYN | ACK, 5000, 1001, 0, &p);
    go(&f->w, &p, now, &r, false);
    ctt_tcp(f->ct, zone, fl, false, ACK, 1001, 5001, 0, &p);
    go(&f->w, &p, now, &r, false);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_ESTABLISHED);
}

static void test_tcp_rst(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;

    /* B acknowledged up to 1001: a RST from A below that is invalid; one
     * inside the window but not at 1001 passes and keeps ESTABLISHED; at
     * 1001 it closes. */
    ctt_flow(&fl, 30, false);
    handshake(f, &fl, 1, 0);
    ctt_tcp(f->ct, 1, &fl, false, RST, 900, 0, 0, &p);
    assert_int_equal(go(&f->w, &p, 1, &r, false), VF_CT_INVALID);
    assert_int_equal(r.cause, VF_CT_WHY_TCP_RST);
    ctt_tcp(f->ct, 1, &fl, false, RST, 1500, 0, 0, &p);
    assert_int_equal(go(&f->w, &p, 2, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_ESTABLISHED);
    ctt_tcp(f->ct, 1, &fl, false, RST, 1001, 0, 0, &p);
    go(&f->w, &p, 3, &r, false);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_CLOSE);
    /* Later segments still find it (until the close timeout). */
    ctt_tcp(f->ct, 1, &fl, true, ACK, 5001, 1001, 0, &p);
    assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(live(f->ct), 1);

    /* A RST right after the sender's own data ("train") closes too. */
    ctt_flow(&fl, 31, false);
    handshake(f, &fl, 1, 0);
    ctt_tcp(f->ct, 1, &fl, true, ACK | PSH, 5001, 1001, 50, &p);
    go(&f->w, &p, 1, &r, false);
    ctt_tcp(f->ct, 1, &fl, true, RST | ACK, 5051, 1001, 0, &p);
    go(&f->w, &p, 2, &r, false);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_CLOSE);

    /* A RST answering the SYN: the connection never was. */
    ctt_flow(&fl, 32, false);
    ctt_tcp(f->ct, 1, &fl, false, SYN, 7, 0, 0, &p);
    go(&f->w, &p, 1, &r, true);
    uint64_t before = live(f->ct);
    ctt_tcp(f->ct, 1, &fl, true, RST | ACK, 0, 8, 0, &p);
    assert_int_equal(go(&f->w, &p, 2, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(live(f->ct), before - 1);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 0, 8, 0, &p);
    assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_INVALID);
}

static void test_tcp_simultaneous_open(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    ctt_flow(&fl, 40, true);
    ctt_tcp(f->ct, 1, &fl, false, SYN, 10, 0, 0, &p);
    go(&f->w, &p, 1, &r, true);
    ctt_tcp(f->ct, 1, &fl, true, SYN, 90, 0, 0, &p);
    assert_int_equal(go(&f->w, &p, 2, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_SENT2);
    ctt_tcp(f->ct, 1, &fl, false, SYN | ACK, 10, 91, 0, &p);
    go(&f->w, &p, 3, &r, false);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_SYN_RECV);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 91, 11, 0, &p);
    go(&f->w, &p, 4, &r, false);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_ESTABLISHED);
}

/* ---- UDP, ICMP, related ---- */

static void test_udp(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    ctt_flow(&fl, 50, false);
    ctt_udp(f->ct, 1, &fl, false, &p);
    assert_int_equal(go(&f->w, &p, 1, &r, true), VF_CT_NEW);
    assert_int_equal(r.conn_state, VF_CT_CS_UDP_NEW);
    ctt_udp(f->ct, 1, &fl, false, &p);
    assert_int_equal(go(&f->w, &p, 2, &r, true), VF_CT_NEW);   /* unreplied */
    ctt_udp(f->ct, 1, &fl, true, &p);
    assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(r.conn_state, VF_CT_CS_UDP_REPLIED);
    ctt_udp(f->ct, 1, &fl, false, &p);
    assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(live(f->ct), 1);
}

static void test_icmp_echo(void **state)
{
    struct fix *f = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct ctt_flow fl;
        struct vf_ct_pkt p;
        struct vf_ct_result r;
        uint8_t req = v6 ? 128 : 8, rep = v6 ? 129 : 0;
        ctt_flow(&fl, 60, v6);
        ctt_icmp(f->ct, 1, &fl, true, rep, &p);   /* a reply to nothing */
        assert_int_equal(go(&f->w, &p, 1, &r, true), VF_CT_INVALID);
        assert_int_equal(r.cause, VF_CT_WHY_ICMP_NO_CONN);
        ctt_icmp(f->ct, 1, &fl, false, req, &p);
        assert_int_equal(go(&f->w, &p, 1, &r, true), VF_CT_NEW);
        ctt_icmp(f->ct, 1, &fl, true, rep, &p);
        assert_int_equal(go(&f->w, &p, 2, &r, false), VF_CT_ESTABLISHED);
        assert_int_equal(r.conn_state, VF_CT_CS_ICMP_REPLIED);
        /* A's reply with the same id: no request of B's to answer. */
        ctt_icmp(f->ct, 1, &fl, false, rep, &p);
        assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_INVALID);
        /* B's request with A's id: its own, new connection. */
        ctt_icmp(f->ct, 1, &fl, true, req, &p);
        assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_NEW);
        assert_int_equal(r.conn, VF_CT_NONE);
    }
}

static void test_icmp_errors_related(void **state)
{
    struct fix *f = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct ctt_flow fl, other;
        struct vf_ct_pkt p;
        struct vf_ct_result r;
        uint8_t q[256];
        uint8_t rtr6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};
        uint8_t unreach = v6 ? 1 : 3, code = v6 ? 4 : 3;
        ctt_flow(&fl, 70, v6);
        ctt_flow(&other, 71, v6);
        ctt_udp(f->ct, 5, &fl, false, &p);
        go(&f->w, &p, 1, &r, true);
        /* B's port unreachable about A's datagram, to A: related. */
        size_t n = ctt_udp_frame(q, sizeof(q), &fl, false);
        ctt_icmp_err(f->ct, 5, v6, fl.b4, fl.b6, unreach, code, q, n, &p);
        assert_int_equal(p.kind, VF_CT_K_ICMP_ERR);
        assert_int_equal(go(&f->w, &p, 2, &r, false), VF_CT_RELATED);
        assert_int_equal(r.dir, VF_CT_REPLY);
        /* From a router on the way: related as well. */
        ctt_icmp_err(f->ct, 5, v6, 0x0a0000fe, rtr6, v6 ? 3 : 11, 0, q, n, &p);
        assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_RELATED);
        /* Quoting a flow nobody tracks, or in another zone: invalid. */
        n = ctt_udp_frame(q, sizeof(q), &other, false);
        ctt_icmp_err(f->ct, 5, v6, other.b4, other.b6, unreach, code, q, n, &p);
        assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_INVALID);
        assert_int_equal(r.cause, VF_CT_WHY_ICMP_ERR);
        n = ctt_udp_frame(q, sizeof(q), &fl, false);
        ctt_icmp_err(f->ct, 6, v6, fl.b4, fl.b6, unreach, code, q, n, &p);
        assert_int_equal(go(&f->w, &p, 5, &r, false), VF_CT_INVALID);
        /* A's host about B's datagram, to B: related, A -> B. */
        n = ctt_udp_frame(q, sizeof(q), &fl, true);
        ctt_icmp_err(f->ct, 5, v6, fl.a4, fl.a6, unreach, code, q, n, &p);
        assert_int_equal(go(&f->w, &p, 6, &r, false), VF_CT_RELATED);
        assert_int_equal(r.dir, VF_CT_ORIG);
        /* TCP and a too-big error (v6) / frag-needed (v4) about it. */
        ctt_flow(&other, 72, v6);
        handshake(f, &other, 5, 7);
        n = ctt_tcp_frame(q, sizeof(q), &other, false, ACK, 1001);
        ctt_icmp_err(f->ct, 5, v6, 0x0a0000fe, rtr6, v6 ? 2 : 3, v6 ? 0 : 4, q, n, &p);
        assert_int_equal(go(&f->w, &p, 8, &r, false), VF_CT_RELATED);
        /* An error quoting an echo request. */
        uint8_t eb[128];
        struct vf_tpkt t;
        ctt_icmp(f->ct, 5, &fl, false, v6 ? 128 : 8, &p);
        go(&f->w, &p, 9, &r, true);
        ctt_addr(&t, &fl, false);
        t.icmp_type = v6 ? 128 : 8;
        t.icmp_id = fl.ap;
        t.payload_len = 8;
        n = v6 ? vf_tpkt_ip6_icmp6(eb, sizeof(eb), &t) : vf_tpkt_ip4_icmp(eb, sizeof(eb), &t);
        ctt_icmp_err(f->ct, 5, v6, fl.b4, fl.b6, unreach, 1, eb, n, &p);
        assert_int_equal(go(&f->w, &p, 10, &r, false), VF_CT_RELATED);
    }
}

/* The outer destination must be the quoted packet's source. */
static void test_icmp_error_wrong_destination(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    uint8_t q[256], buf[512];
    ctt_flow(&fl, 75, false);
    ctt_udp(f->ct, 1, &fl, false, &p);
    go(&f->w, &p, 1, &r, true);
    size_t qn = ctt_udp_frame(q, sizeof(q), &fl, false);
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.ip4_src = fl.b4;
    t.ip4_dst = 0x0a000063;   /* not A */
    t.icmp_type = 3;
    t.icmp_code = 3;
    t.icmp_id = 0;
    t.icmp_seq = 0;
    t.payload = q + VF_TPKT_ETH_LEN;
    t.payload_len = qn - VF_TPKT_ETH_LEN;
    size_t n = vf_tpkt_ip4_icmp(buf, sizeof(buf), &t);
    ctt_finish(f->ct, 1, buf, n, &p);
    vf_ct_lookup(&f->w, &p, 2, &r);
    assert_int_equal(r.state, VF_CT_INVALID);
    assert_int_equal(r.cause, VF_CT_WHY_ICMP_ERR_DST);
}

/* ---- zones, timeouts, limits ---- */

static void test_zones_never_share(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    ctt_flow(&fl, 80, false);
    ctt_udp(f->ct, 1, &fl, false, &p);
    go(&f->w, &p, 1, &r, true);
    /* The reply in zone 2 is a new connection there, not zone 1's reply. */
    ctt_udp(f->ct, 2, &fl, true, &p);
    assert_int_equal(go(&f->w, &p, 2, &r, true), VF_CT_NEW);
    ctt_udp(f->ct, 1, &fl, false, &p);
    assert_int_equal(go(&f->w, &p, 3, &r, false), VF_CT_NEW);   /* still unreplied */
    assert_int_equal(vf_ct_zone_count(f->ct, 1), 1);
    assert_int_equal(vf_ct_zone_count(f->ct, 2), 1);
    /* Flushing zone 1 leaves zone 2. */
    assert_int_equal(vf_ct_flush(&f->w, 1), 1);
    assert_int_equal(vf_ct_zone_count(f->ct, 1), 0);
    ctt_udp(f->ct, 2, &fl, false, &p);
    assert_int_equal(go(&f->w, &p, 4, &r, false), VF_CT_ESTABLISHED);
    assert_int_equal(vf_ct_flush(&f->w, -1), 1);
    assert_int_equal(live(f->ct), 0);
}

static void test_timeouts(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    assert_int_equal(vf_ct_get_timeout(f->ct, VF_CT_TO_UDP_NEW), 30000);
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_UDP_NEW, 0), -EINVAL);
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_UDP_NEW, VF_CT_TIMEOUT_MAX_MS + 1), -EINVAL);
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_UDP_NEW, 1000), 0);
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_UDP_REPLIED, 5000), 0);
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_TCP_ESTABLISHED, 3000), 0);
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_TCP_CLOSE, 500), 0);

    ctt_flow(&fl, 90, false);
    uint64_t t0 = 1000000;
    ctt_udp(f->ct, 1, &fl, false, &p);
    go(&f->w, &p, t0, &r, true);
    ctt_udp(f->ct, 1, &fl, true, &p);   /* 999 ms later: still there */
    assert_int_equal(go(&f->w, &p, t0 + 999, &r, false), VF_CT_ESTABLISHED);
    /* Replied: 5 s now, counted from the last packet. */
    ctt_udp(f->ct, 1, &fl, false, &p);
    assert_int_equal(go(&f->w, &p, t0 + 999 + 4999, &r, false), VF_CT_ESTABLISHED);
    ctt_udp(f->ct, 1, &fl, true, &p);
    assert_int_equal(go(&f->w, &p, t0 + 999 + 4999 + 5000, &r, false), VF_CT_NEW);
    assert_int_equal(r.conn, VF_CT_NONE);

    /* Unreplied: 1 s. */
    ctt_flow(&fl, 91, false);
    ctt_udp(f->ct, 1, &fl, false, &p);
    go(&f->w, &p, t0, &r, true);
    ctt_udp(f->ct, 1, &fl, true, &p);
    assert_int_equal(go(&f->w, &p, t0 + 1000, &r, false), VF_CT_NEW);

    /* A SYN repeated before any reply does not restart the timer. */
    assert_int_equal(vf_ct_set_timeout(f->ct, VF_CT_TO_TCP_SYN_SENT, 2000), 0);
    ctt_flow(&fl, 95, false);
    ctt_tcp(f->ct, 1, &fl, false, SYN, 10, 0, 0, &p);
    go(&f->w, &p, t0, &r, true);
    ctt_tcp(f->ct, 1, &fl, false, SYN, 10, 0, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 1500, &r, false), VF_CT_NEW);
    assert_int_not_equal(r.conn, VF_CT_NONE);
    ctt_tcp(f->ct, 1, &fl, true, SYN | ACK, 70, 11, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 2000, &r, false), VF_CT_INVALID);

    /* TCP established 3 s; an ACK after it is invalid. */
    ctt_flow(&fl, 92, false);
    handshake(f, &fl, 1, t0);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 5001, 1001, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 2999, &r, false), VF_CT_ESTABLISHED);
    ctt_tcp(f->ct, 1, &fl, false, ACK, 1001, 5001, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 2999 + 3000, &r, false), VF_CT_INVALID);
    /* After a RST, even one that keeps ESTABLISHED, the close timeout;
     * the next segment gives the established one back. */
    ctt_flow(&fl, 93, false);
    handshake(f, &fl, 1, t0);
    ctt_tcp(f->ct, 1, &fl, false, RST, 1500, 0, 0, &p);
    go(&f->w, &p, t0 + 1, &r, false);
    assert_int_equal(r.conn_state, VF_CT_CS_TCP_ESTABLISHED);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 5001, 1001, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 400, &r, false), VF_CT_ESTABLISHED);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 5001, 1001, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 400 + 2000, &r, false), VF_CT_ESTABLISHED);
    ctt_flow(&fl, 94, false);
    handshake(f, &fl, 1, t0);
    ctt_tcp(f->ct, 1, &fl, false, RST, 1500, 0, 0, &p);
    go(&f->w, &p, t0 + 1, &r, false);
    ctt_tcp(f->ct, 1, &fl, true, ACK, 5001, 1001, 0, &p);
    assert_int_equal(go(&f->w, &p, t0 + 501, &r, false), VF_CT_INVALID);
}

/* Expired entries leave the table through the sweep, a bounded number of
 * buckets per call, and come back after reclaim. */
static void test_sweep_bounded_and_reclaim(void **state)
{
    (void)state;
    struct vf_ct *ct = mk_ct(4096, 0);
    struct vf_ct_worker w;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    assert_int_equal(vf_ct_worker_init(&w, ct, 0, 1), 0);
    vf_ct_set_timeout(ct, VF_CT_TO_UDP_NEW, 100);
    for (unsigned i = 0; i < 4096; i++) {
        ctt_flow(&fl, i, i & 1);
        ctt_udp(ct, 1, &fl, false, &p);
        go(&w, &p, 0, &r, true);
    }
    assert_int_equal(live(ct), 4096);
    /* Full: one more is refused, counted. */
    ctt_flow(&fl, 5000, false);
    ctt_udp(ct, 1, &fl, false, &p);
    vf_ct_lookup(&w, &p, 0, &r);
    assert_int_equal(vf_ct_commit(&w, &p, 0, &r), VF_DROP_CT_TABLE_FULL);
    /* Nothing expired yet: a sweep kills nothing. */
    uint32_t nb = ct->bucket_mask + 1;
    assert_int_equal(vf_ct_sweep(&w, 50, nb), 0);
    /* Each call visits exactly `budget` buckets and kills at most the
     * slots in them. */
    struct vf_ct_totals t0, t1;
    unsigned total = 0, calls = 0;
    vf_ct_get_stats(ct, &t0);
    while (total < 4096) {
        unsigned k = vf_ct_sweep(&w, 200, 16);
        assert_true(k <= 16 * CT_WAYS);
        total += k;
        calls++;
        assert_true(calls <= nb / 16 + 1);
    }
    vf_ct_get_stats(ct, &t1);
    assert_int_equal(t1.swept_buckets - t0.swept_buckets, 16ull * calls);
    assert_int_equal(live(ct), 0);
    assert_int_equal(vf_ct_zone_count(ct, 1), 0);
    /* The killed entries are not free until reclaim; the spare room lets
     * new connections in meanwhile. After reclaim they all are. */
    rcu_register_thread();
    vf_ct_sweep(&w, 200, nb);   /* finish the pass: the partial limbo goes */
    unsigned back = vf_ct_reclaim(ct);
    assert_int_equal(back, 4096);
    for (unsigned i = 0; i < 4096; i++) {
        ctt_flow(&fl, 10000 + i, false);
        ctt_udp(ct, 1, &fl, false, &p);
        vf_ct_lookup(&w, &p, 300, &r);
        assert_int_equal(vf_ct_commit(&w, &p, 300, &r), VF_DROP_NONE);
    }
    rcu_unregister_thread();
    vf_ct_worker_fini(&w);
    vf_ct_destroy(ct);
}

/* A full table never runs out of slots, whatever the seed: four slots per
 * connection and the insert rule keep both of a key's buckets from being
 * full (at a million connections the fullest bucket holds 7 of 8). */
static void test_fill_any_seed(void **state)
{
    (void)state;
    for (unsigned run = 0; run < 3; run++) {
        struct vf_ct_config cfg = {.max_conns = 50000};   /* seed 0: random */
        struct vf_ct *ct = vf_ct_create(&cfg);
        struct vf_ct_worker w;
        assert_non_null(ct);
        assert_int_equal(vf_ct_worker_init(&w, ct, 0, 1), 0);
        for (unsigned i = 0; i < 50000; i++) {
            struct ctt_flow fl;
            struct vf_ct_pkt p;
            struct vf_ct_result r;
            ctt_flow(&fl, i, i & 1);
            ctt_udp(ct, 1, &fl, false, &p);
            vf_ct_lookup(&w, &p, 1, &r);
            assert_int_equal(vf_ct_commit(&w, &p, 1, &r), VF_DROP_NONE);
        }
        struct vf_ct_totals t;
        vf_ct_get_stats(ct, &t);
        assert_int_equal(t.bucket_full, 0);
        assert_int_equal(t.live, 50000);
        vf_ct_worker_fini(&w);
        vf_ct_destroy(ct);
    }
}

static void test_zone_limit(void **state)
{
    (void)state;
    struct vf_ct *ct = mk_ct(1000, 10);
    struct vf_ct_worker w;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    assert_int_equal(vf_ct_worker_init(&w, ct, 0, 1), 0);
    vf_ct_zone_set_max(ct, 7, 3);
    for (unsigned i = 0; i < 5; i++) {
        ctt_flow(&fl, i, false);
        ctt_udp(ct, 7, &fl, false, &p);
        vf_ct_lookup(&w, &p, 0, &r);
        assert_int_equal(vf_ct_commit(&w, &p, 0, &r), i < 3 ? VF_DROP_NONE : VF_DROP_CT_ZONE_FULL);
    }
    /* The default (10) for another zone; other zones are unaffected. */
    for (unsigned i = 0; i < 12; i++) {
        ctt_flow(&fl, i, false);
        ctt_udp(ct, 8, &fl, false, &p);
        vf_ct_lookup(&w, &p, 0, &r);
        assert_int_equal(vf_ct_commit(&w, &p, 0, &r), i < 10 ? VF_DROP_NONE : VF_DROP_CT_ZONE_FULL);
    }
    struct vf_ct_totals t;
    vf_ct_get_stats(ct, &t);
    assert_int_equal(t.zone_full, 4);
    assert_int_equal(t.live, 13);
    /* A flush frees the zone's room at once. */
    vf_ct_flush(&w, 7);
    ctt_flow(&fl, 99, false);
    ctt_udp(ct, 7, &fl, false, &p);
    vf_ct_lookup(&w, &p, 0, &r);
    assert_int_equal(vf_ct_commit(&w, &p, 0, &r), VF_DROP_NONE);
    vf_ct_worker_fini(&w);
    vf_ct_destroy(ct);
}

/* Two contexts open the same connection before either commits: one
 * entry remains, and the second packet is applied to it. */
static void test_simultaneous_insert(void **state)
{
    (void)state;
    struct vf_ct *ct = mk_ct(1000, 0);
    struct vf_ct_worker a, b;
    struct ctt_flow fl;
    struct vf_ct_pkt pa, pb;
    struct vf_ct_result ra, rb;
    assert_int_equal(vf_ct_worker_init(&a, ct, 0, 2), 0);
    assert_int_equal(vf_ct_worker_init(&b, ct, 1, 2), 0);
    ctt_flow(&fl, 3, false);
    ctt_udp(ct, 1, &fl, false, &pa);
    ctt_udp(ct, 1, &fl, true, &pb);
    vf_ct_lookup(&a, &pa, 1, &ra);
    vf_ct_lookup(&b, &pb, 1, &rb);
    assert_int_equal(ra.state, VF_CT_NEW);
    assert_int_equal(rb.state, VF_CT_NEW);
    assert_int_equal(vf_ct_commit(&a, &pa, 1, &ra), VF_DROP_NONE);
    assert_int_equal(vf_ct_commit(&b, &pb, 1, &rb), VF_DROP_NONE);
    assert_int_equal(rb.conn, ra.conn);
    assert_int_equal(rb.state, VF_CT_ESTABLISHED);   /* B's was the reply */
    assert_int_equal(rb.dir, VF_CT_REPLY);
    struct vf_ct_totals t;
    vf_ct_get_stats(ct, &t);
    assert_int_equal(t.live, 1);
    assert_int_equal(t.dup_resolved, 1);
    assert_int_equal(vf_ct_zone_count(ct, 1), 1);
    vf_ct_worker_fini(&a);
    vf_ct_worker_fini(&b);
    vf_ct_destroy(ct);
}

/* ---- burst, listing ---- */

static void test_burst_equals_single(void **state)
{
    (void)state;
    struct vf_ct *c1 = mk_ct(2000, 0), *c2 = mk_ct(2000, 0);
    struct vf_ct_worker w1, w2;
    assert_int_equal(vf_ct_worker_init(&w1, c1, 0, 1), 0);
    assert_int_equal(vf_ct_worker_init(&w2, c2, 0, 1), 0);
    static struct vf_ct_pkt pk1[32], pk2[32];
    const struct vf_ct_pkt *pp[32];
    struct vf_ct_result r1[32], r2[32];
    for (unsigned round = 0; round < 200; round++) {
        unsigned n = 1 + (unsigned)(rnd() % 32);
        for (unsigned i = 0; i < n; i++) {
            struct ctt_flow fl;
            ctt_flow(&fl, (unsigned)(rnd() % 300), rnd() & 1);
            bool from_b = rnd() & 1;
            unsigned kind = (unsigned)(rnd() % 4);
            static const uint8_t fl_[] = {SYN, SYN | ACK, ACK, FIN | ACK, RST};
            uint8_t tf = fl_[rnd() % 5];
            if (kind == 0) {
                ctt_tcp(c1, 1, &fl, from_b, tf, 1000, 5001, 0, &pk1[i]);
                ctt_tcp(c2, 1, &fl, from_b, tf, 1000, 5001, 0, &pk2[i]);
            } else if (kind == 1) {
                ctt_udp(c1, 1, &fl, from_b, &pk1[i]);
                ctt_udp(c2, 1, &fl, from_b, &pk2[i]);
            } else {
                uint8_t ty = fl.v6 ? (from_b ? 129 : 128) : (from_b ? 0 : 8);
                ctt_icmp(c1, 1, &fl, from_b, ty, &pk1[i]);
                ctt_icmp(c2, 1, &fl, from_b, ty, &pk2[i]);
            }
            pp[i] = &pk2[i];
        }
        for (unsigned i = 0; i < n; i++)
            vf_ct_lookup(&w1, &pk1[i], round, &r1[i]);
        vf_ct_lookup_burst(&w2, pp, n, round, r2);
        for (unsigned i = 0; i < n; i++) {
            assert_int_equal(r1[i].state, r2[i].state);
            assert_int_equal(r1[i].conn_state, r2[i].conn_state);
            assert_int_equal(r1[i].dir, r2[i].dir);
            /* same commits on both */
            if (r1[i].state == VF_CT_NEW && (rnd() & 3)) {
                assert_int_equal(vf_ct_commit(&w1, &pk1[i], round, &r1[i]),
                                 vf_ct_commit(&w2, &pk2[i], round, &r2[i]));
            }
        }
    }
    assert_int_equal(live(c1), live(c2));
    vf_ct_worker_fini(&w1);
    vf_ct_worker_fini(&w2);
    vf_ct_destroy(c1);
    vf_ct_destroy(c2);
}

/* A peek says what the lookup that follows it says, and a table that is
 * peeked at evolves exactly as one that is not. */
static void test_peek_changes_nothing(void **state)
{
    (void)state;
    struct vf_ct *c1 = mk_ct(2000, 0), *c2 = mk_ct(2000, 0);
    struct vf_ct_worker w1, w2;
    assert_int_equal(vf_ct_worker_init(&w1, c1, 0, 1), 0);
    assert_int_equal(vf_ct_worker_init(&w2, c2, 0, 1), 0);
    vf_ct_set_timeout(c1, VF_CT_TO_UDP_NEW, 50);
    vf_ct_set_timeout(c2, VF_CT_TO_UDP_NEW, 50);
    static const uint8_t fl_[] = {SYN, SYN | ACK, ACK, FIN | ACK, RST, RST | ACK};
    for (unsigned i = 0; i < 20000; i++) {
        struct ctt_flow fl;
        struct vf_ct_pkt p1, p2;
        struct vf_ct_result peek, r1, r2;
        uint64_t now = i / 10;
        ctt_flow(&fl, (unsigned)(rnd() % 40), rnd() & 1);
        bool from_b = rnd() & 1;
        if (rnd() & 1) {
            uint8_t tf = fl_[rnd() % sizeof(fl_)];
            uint32_t seq = (uint32_t)(rnd() % 3000), ack = (uint32_t)(rnd() % 3000);
            ctt_tcp(c1, 1, &fl, from_b, tf, seq, ack, 0, &p1);
            ctt_tcp(c2, 1, &fl, from_b, tf, seq, ack, 0, &p2);
        } else {
            ctt_udp(c1, 1, &fl, from_b, &p1);
            ctt_udp(c2, 1, &fl, from_b, &p2);
        }
        vf_ct_peek(c1, &p1, now, &peek);
        vf_ct_lookup(&w1, &p1, now, &r1);
        vf_ct_lookup(&w2, &p2, now, &r2);
        assert_int_equal(peek.state, r1.state);
        assert_int_equal(peek.conn_state, r1.conn_state);
        assert_int_equal(peek.dir, r1.dir);
        assert_int_equal(peek.cause, r1.cause);
        assert_int_equal(r1.state, r2.state);
        assert_int_equal(r1.conn_state, r2.conn_state);
        if (r1.state == VF_CT_NEW && (rnd() & 1)) {
            assert_int_equal(vf_ct_commit(&w1, &p1, now, &r1), vf_ct_commit(&w2, &p2, now, &r2));
        }
    }
    assert_int_equal(live(c1), live(c2));
    vf_ct_worker_fini(&w1);
    vf_ct_worker_fini(&w2);
    vf_ct_destroy(c1);
    vf_ct_destroy(c2);
}

static void test_iter(void **state)
{
    struct fix *f = *state;
    struct ctt_flow fl;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    for (unsigned i = 0; i < 50; i++) {
        ctt_flow(&fl, i, false);
        ctt_udp(f->ct, (uint16_t)(i % 2), &fl, false, &p);
        go(&f->w, &p, 100, &r, true);
        if (i % 5 == 0) {
            ctt_udp(f->ct, (uint16_t)(i % 2), &fl, true, &p);
            go(&f->w, &p, 150, &r, false);
        }
    }
    struct vf_ct_info info[16];
    uint32_t pos = 0;
    unsigned all = 0, zone1 = 0, replied = 0;
    assert_int_equal(vf_ct_iter(f->ct, &pos, -1, 200, info, 7), 0);
    while (pos != UINT32_MAX) {
        unsigned n = vf_ct_iter(f->ct, &pos, -1, 200, info, 16);
        for (unsigned i = 0; i < n; i++) {
            all++;
            zone1 += info[i].key.zone == 1;
            if (info[i].seen_reply) {
                replied++;
                assert_int_equal(info[i].conn_state, VF_CT_CS_UDP_REPLIED);
                assert_int_equal(info[i].pkts[VF_CT_REPLY], 1);
                assert_int_equal(info[i].expires_ms, 120000 - 50);
            } else {
                assert_int_equal(info[i].expires_ms, 30000 - 100);
            }
            assert_int_equal(info[i].pkts[VF_CT_ORIG], 1);
            assert_int_equal(info[i].age_ms, 100);
        }
    }
    assert_int_equal(all, 50);
    assert_int_equal(zone1, 25);
    assert_int_equal(replied, 10);
}

/* ---- threads ---- */

#define MT_CONNS 2000
#define MT_ROUNDS 300

struct mt {
    struct vf_ct *ct;
    _Atomic int phase;          /* 0 setup, 1 open, 2 load, 3 stop */
    _Atomic unsigned ready;
    _Atomic unsigned at[2];     /* open phase: connection each side is at */
    /* per thread results, checked by main */
    uint64_t sent[2], wrong[2], not_est[2];
    _Atomic uint64_t churn_created, reclaimed;
    struct ctt_flow flows[MT_CONNS];
};

struct mt_arg {
    struct mt *m;
    unsigned role;              /* 0: A's side, 1: B's side, 2: churn+sweep */
};

static void wait_phase(struct mt *m, int ph)
{
    while (atomic_load(&m->phase) < ph)
        rcu_quiescent_state();
}

static void *mt_side(void *arg)
{
    struct mt_arg *a = arg;
    struct mt *m = a->m;
    unsigned side = a->role;
    struct vf_ct_worker w;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    rcu_register_thread();
    if (vf_ct_worker_init(&w, m->ct, side, 3))
        m->wrong[side]++;
    atomic_fetch_add(&m->ready, 1);
    /* Open: both sides send the first UDP datagram of every even
     * connection at once (both may commit), and TCP handshakes on the odd
     * ones (A's SYN, B's SYN-ACK once A's is in, A's ACK). */
    wait_phase(m, 1);
    for (unsigned i = 0; i < MT_CONNS; i += 2) {
        /* Lockstep: each side waits for the other to reach connection i,
         * so both first datagrams are in flight together. */
        atomic_store(&m->at[side], i);
        while (atomic_load(&m->at[!side]) < i)
            rcu_quiescent_state();
        ctt_udp(m->ct, 1, &m->flows[i], side, &p);
        vf_ct_lookup(&w, &p, 1, &r);
        if (r.state == VF_CT_NEW && vf_ct_commit(&w, &p, 1, &r) != VF_DROP_NONE)
            m->wrong[side]++;
        if ((i & 63) == 0)
            rcu_quiescent_state();
    }
    atomic_store(&m->at[side], MT_CONNS);
    for (unsigned i = 1; i < MT_CONNS; i += 2) {
        const struct ctt_flow *fl = &m->flows[i];
        if (side == 0) {
            ctt_tcp(m->ct, 1, fl, false, SYN, 1000, 0, 0, &p);
            vf_ct_lookup(&w, &p, 1, &r);
            if (r.state != VF_CT_NEW || vf_ct_commit(&w, &p, 1, &r) != VF_DROP_NONE)
                m->wrong[side]++;
        } else {
            /* B answers once A's SYN is there (a SYN-ACK before would be
             * invalid, and is retried). */
            ctt_tcp(m->ct, 1, fl, true, SYN | ACK, 5000, 1001, 0, &p);
            for (unsigned tries = 0;; tries++) {
                vf_ct_lookup(&w, &p, 1, &r);
                if (r.state == VF_CT_ESTABLISHED)
                    break;
                rcu_quiescent_state();
                if (tries > 100000000u) {
                    m->wrong[side]++;
                    break;
                }
            }
        }
        if ((i & 63) == 1)
            rcu_quiescent_state();
    }
    if (side == 0) {
        for (unsigned i = 1; i < MT_CONNS; i += 2) {
            const struct ctt_flow *fl = &m->flows[i];
            ctt_tcp(m->ct, 1, fl, false, ACK, 1001, 5001, 0, &p);
            for (unsigned tries = 0;; tries++) {
                vf_ct_lookup(&w, &p, 1, &r);
                if (r.state == VF_CT_ESTABLISHED && r.conn_state == VF_CT_CS_TCP_ESTABLISHED)
                    break;
                rcu_quiescent_state();
                if (tries > 100000000u) {
                    m->wrong[side]++;
                    break;
                }
            }
        }
    }
    atomic_fetch_add(&m->ready, 1);
    /* Load: every connection, this side's direction, many rounds, while
     * the other side does the same and the churner runs. */
    wait_phase(m, 2);
    for (unsigned round = 0; round < MT_ROUNDS; round++) {
        for (unsigned i = 0; i < MT_CONNS; i++) {
            const struct ctt_flow *fl = &m->flows[i];
            if (i & 1)
                ctt_tcp(m->ct, 1, fl, side, ACK, side ? 5001 : 1001, side ? 1001 : 5001, 0, &p);
            else
                ctt_udp(m->ct, 1, fl, side, &p);
            vf_ct_lookup(&w, &p, 2 + round, &r);
            m->sent[side]++;
            if (r.state != VF_CT_ESTABLISHED)
                m->not_est[side]++;
            if ((i & 31) == 0)
                rcu_quiescent_state();
        }
    }
    vf_ct_worker_fini(&w);
    rcu_unregister_thread();
    return NULL;
}

/* Creates and kills other connections in zone 2 (flush), sweeps its share
 * and reclaims, so batches move while the sides work. */
static void *mt_churn(void *arg)
{
    struct mt_arg *a = arg;
    struct mt *m = a->m;
    struct vf_ct_worker w;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    rcu_register_thread();
    vf_ct_worker_init(&w, m->ct, 2, 3);
    atomic_fetch_add(&m->ready, 1);
    wait_phase(m, 2);
    unsigned i = 0;
    while (atomic_load(&m->phase) < 3) {
        for (unsigned k = 0; k < 500; k++, i++) {
            struct ctt_flow fl;
            ctt_flow(&fl, 100000 + i % 50000, i & 1);
            ctt_udp(m->ct, 2, &fl, false, &p);
            vf_ct_lookup(&w, &p, 5, &r);
            if (r.state == VF_CT_NEW && vf_ct_commit(&w, &p, 5, &r) == VF_DROP_NONE)
                atomic_fetch_add(&m->churn_created, 1);
        }
        vf_ct_sweep(&w, 5, 64);
        vf_ct_flush(&w, 2);
        atomic_fetch_add(&m->reclaimed, vf_ct_reclaim(m->ct));
        rcu_quiescent_state();
    }
    vf_ct_worker_fini(&w);
    rcu_unregister_thread();
    return NULL;
}

static void test_threads_two_directions(void **state)
{
    (void)state;
    struct mt *m = calloc(1, sizeof(*m));
    m->ct = mk_ct(MT_CONNS + 20000, 0);
    for (unsigned i = 0; i < MT_CONNS; i++)
        ctt_flow(&m->flows[i], i, i % 4 >= 2);
    struct mt_arg args[3] = {{m, 0}, {m, 1}, {m, 2}};
    pthread_t th[3];
    pthread_create(&th[0], NULL, mt_side, &args[0]);
    pthread_create(&th[1], NULL, mt_side, &args[1]);
    pthread_create(&th[2], NULL, mt_churn, &args[2]);
    while (atomic_load(&m->ready) < 3)
        ;
    atomic_store(&m->phase, 1);
    while (atomic_load(&m->ready) < 5)
        ;
    atomic_store(&m->phase, 2);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    atomic_store(&m->phase, 3);
    pthread_join(th[2], NULL);

    for (unsigned s = 0; s < 2; s++) {
        assert_int_equal(m->wrong[s], 0);
        assert_int_equal(m->sent[s], (uint64_t)MT_CONNS * MT_ROUNDS);
        assert_int_equal(m->not_est[s], 0);   /* no entry ever lost */
    }
    /* Exactly one entry per connection in zone 1, each with every packet
     * of each direction counted (one writer per direction). */
    struct vf_ct_totals t;
    vf_ct_get_stats(m->ct, &t);
    print_message("simultaneous opens merged: %llu of %u\n",
                  (unsigned long long)t.dup_resolved, MT_CONNS / 2);
    assert_int_equal(vf_ct_zone_count(m->ct, 1), MT_CONNS);
    assert_int_equal(t.live, MT_CONNS);   /* zone 2 flushed at the end */
    assert_true(atomic_load(&m->churn_created) > 0);
    struct vf_ct_info info[64];
    uint32_t pos = 0;
    unsigned seen = 0;
    rcu_register_thread();
    while (pos != UINT32_MAX) {
        unsigned n = vf_ct_iter(m->ct, &pos, 1, 10, info, 64);
        for (unsigned i = 0; i < n; i++) {
            seen++;
            /* open phase: the UDP ones got 1 or 2 packets per side (one
             * of them was committed, the other applied), TCP 2 from A,
             * 1 from B; then MT_ROUNDS each side. */
            uint64_t o = info[i].pkts[VF_CT_ORIG], rp = info[i].pkts[VF_CT_REPLY];
            bool tcp = info[i].key.proto == VF_IPPROTO_TCP;
            assert_true(o >= MT_ROUNDS + 1 && o <= MT_ROUNDS + 2);
            assert_true(rp >= MT_ROUNDS + (tcp ? 1u : 0u) && rp <= MT_ROUNDS + 1);
            assert_true(o + rp == 2u * MT_ROUNDS + (tcp ? 3u : 2u));
        }
    }
    rcu_unregister_thread();
    assert_int_equal(seen, MT_CONNS);
    vf_ct_destroy(m->ct);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_matches_definition),
        cmocka_unit_test_setup_teardown(test_both_directions_one_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pkt_init_writes_whole_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pkt_refresh_equals_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untracked_and_invalid_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_handshake_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_unsolicited, setup, teardown),
        cmocka_unit_test(test_tcp_steady_path_matches),
        cmocka_unit_test_setup_teardown(test_tcp_rst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_simultaneous_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_errors_related, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_error_wrong_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zones_never_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test(test_sweep_bounded_and_reclaim),
        cmocka_unit_test(test_fill_any_seed),
        cmocka_unit_test(test_zone_limit),
        cmocka_unit_test(test_simultaneous_insert),
        cmocka_unit_test(test_burst_equals_single),
        cmocka_unit_test(test_peek_changes_nothing),
        cmocka_unit_test_setup_teardown(test_iter, setup, teardown),
        cmocka_unit_test(test_threads_two_directions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
