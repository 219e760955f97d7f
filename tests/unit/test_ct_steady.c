/* test_ct_steady.c - the cached path's steady segment
 * (vf_ct_lookup_steady, pipeline/ct_impl.h) against the whole way
 * (vf_ct_pkt_init + vf_ct_lookup + vf_ct_commit).
 *
 * Oracle: two tables with one seed get the same random packet sequences
 * (TCP: handshakes, data both ways, ACKs with old and new numbers, FIN,
 * RST, SYNs on established connections, invalid flags; UDP datagrams both
 * ways; time jumps past the timeouts; IPv4 and IPv6). Table A takes each packet as the pipeline's
 * cached path does: vf_ct_lookup_steady from the flow's cached packet,
 * else refresh (or init) and vf_ct_lookup; table B always builds the
 * packet anew and looks it up. After every packet both must give the same
 * result, list the same connections with the same states, counters and
 * expiry, and sum to the same statistics; the fast path must have taken
 * a good share of the packets (else the test proves nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_conntrack.h"
#include "tests/unit/vf_test_ct.h"

#define SYN VF_TPKT_TCP_SYN
#define ACK VF_TPKT_TCP_ACK
#define FIN VF_TPKT_TCP_FIN
#define RST VF_TPKT_TCP_RST
#define PSH VF_TPKT_TCP_PSH

#define FLOWS 12
#define STEPS 20000

static uint64_t rng_state = 4242;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct side {
    struct vf_ct *ct;
    struct vf_ct_worker w;
};

/* A flow as the two endpoints see it, and table A's cached packets (one
 * per direction: a flow-cache entry is per direction). */
struct flow {
    struct ctt_flow f;
    bool udp;
    uint32_t next_seq[2], acked[2];
    bool have_tmpl[2];
    struct vf_ct_pkt tmpl[2];
};

struct frame {
    uint8_t buf[2048];
    uint32_t len;
    struct vf_flow_key k;
    struct vf_hdr_offsets off;
};

static void build(struct frame *fr, const struct flow *fl, bool from_b, uint8_t flags,
                  uint32_t seq, uint32_t ack, size_t payload)
{
    struct vf_tpkt t;
    ctt_addr(&t, &fl->f, from_b);
    t.tcp_flags = flags;
    t.tcp_seq = seq;
    t.tcp_ack = ack;
    t.payload_len = payload;
    size_t n;
    if (fl->udp)
        n = fl->f.v6 ? vf_tpkt_ip6_udp(fr->buf, sizeof(fr->buf), &t)
                     : vf_tpkt_ip4_udp(fr->buf, sizeof(fr->buf), &t);
    else
        n = fl->f.v6 ? vf_tpkt_ip6_tcp(fr->buf, sizeof(fr->buf), &t)
                     : vf_tpkt_ip4_tcp(fr->buf, sizeof(fr->buf), &t);
    fr->len = (uint32_t)n;
    assert_int_equal(vf_parse(fr->buf, fr->len, &fr->k, &fr->off), 0);
}

/* Table A, as stage_ct.c runs one check. Returns whether the steady path
 * took it. */
static bool run_cached(struct side *a, struct flow *fl, unsigned dir, const struct frame *fr,
                       uint64_t now, struct vf_ct_result *r)
{
    if (!fl->have_tmpl[dir]) {
        vf_ct_pkt_init(a->ct, fr->buf, fr->len, &fr->k, &fr->off, 1, &fl->tmpl[dir]);
        fl->have_tmpl[dir] = true;
    }
    if (vf_ct_lookup_steady(&a->w, &fl->tmpl[dir], fr->buf, fr->len, &fr->off, now, r))
        return true;
    struct vf_ct_pkt p = fl->tmpl[dir];
    if (!vf_ct_pkt_refresh(&p, fr->buf, fr->len, &fr->off))
        vf_ct_pkt_init(a->ct, fr->buf, fr->len, &fr->k, &fr->off, 1, &p);
    vf_ct_lookup(&a->w, &p, now, r);
    if (r->state == VF_CT_NEW)
        vf_ct_commit(&a->w, &p, now, r);
    return false;
}

static void run_whole(struct side *b, const struct frame *fr, uint64_t now,
                      struct vf_ct_result *r)
{
    struct vf_ct_pkt p;
    vf_ct_pkt_init(b->ct, fr->buf, fr->len, &fr->k, &fr->off, 1, &p);
    vf_ct_lookup(&b->w, &p, now, r);
    if (r->state == VF_CT_NEW)
        vf_ct_commit(&b->w, &p, now, r);
}

static int info_cmp(const void *x, const void *y)
{
    return memcmp(&((const struct vf_ct_info *)x)->key, &((const struct vf_ct_info *)y)->key,
                  sizeof(struct vf_ct_key));
}

static unsigned list(const struct vf_ct *ct, uint64_t now, struct vf_ct_info *out)
{
    uint32_t pos = 0;
    unsigned n = 0;
    while (pos != UINT32_MAX && n + 64 <= 4 * FLOWS + 64)
        n += vf_ct_iter(ct, &pos, -1, now, out + n, 64);
    qsort(out, n, sizeof(*out), info_cmp);
    return n;
}

static void same_tables(const struct side *a, const struct side *b, uint64_t now,
                        unsigned step)
{
    static struct vf_ct_info la[4 * FLOWS + 64], lb[4 * FLOWS + 64];
    unsigned na = list(a->ct, now, la), nb = list(b->ct, now, lb);
    if (na != nb)
        fail_msg("step %u: %u connections against %u", step, na, nb);
    for (unsigned i = 0; i < na; i++) {
        const struct vf_ct_info *x = &la[i], *y = &lb[i];
        if (memcmp(&x->key, &y->key, sizeof(x->key)) || x->orig != y->orig ||
            x->conn_state != y->conn_state || x->seen_reply != y->seen_reply ||
            x->assured != y->assured || x->age_ms != y->age_ms ||
            x->expires_ms != y->expires_ms || x->pkts[0] != y->pkts[0] ||
            x->pkts[1] != y->pkts[1] || x->bytes[0] != y->bytes[0] ||
            x->bytes[1] != y->bytes[1])
            fail_msg("step %u: connection %u differs: state %u/%u pkts %llu,%llu/%llu,%llu "
                     "bytes %llu/%llu expires %u/%u", step, i, x->conn_state, y->conn_state,
                     (unsigned long long)x->pkts[0], (unsigned long long)x->pkts[1],
                     (unsigned long long)y->pkts[0], (unsigned long long)y->pkts[1],
                     (unsigned long long)(x->bytes[0] + x->bytes[1]),
                     (unsigned long long)(y->bytes[0] + y->bytes[1]), x->expires_ms,
                     y->expires_ms);
    }
    struct vf_ct_totals ta, tb;
    vf_ct_get_stats(a->ct, &ta);
    vf_ct_get_stats(b->ct, &tb);
    assert_int_equal(ta.lookups, tb.lookups);
    assert_int_equal(ta.found, tb.found);
    assert_int_equal(ta.created, tb.created);
    assert_int_equal(ta.expired, tb.expired);
    assert_int_equal(ta.live, tb.live);
    for (unsigned s = 0; s < VF_CT_STATE__COUNT; s++)
        assert_int_equal(ta.by_state[s], tb.by_state[s]);
    for (unsigned c = 0; c < VF_CT_WHY__COUNT; c++)
        assert_int_equal(ta.by_cause[c], tb.by_cause[c]);
    for (unsigned s = 0; s < VF_CT_CS__COUNT; s++)
        assert_int_equal(ta.conns[s], tb.conns[s]);
}

/* One random segment of flow fl: mostly what endpoints send (data and
 * ACKs in order), sometimes old numbers, SYNs, FINs, RSTs or bad flags. */
static void pick(struct flow *fl, bool *from_b, uint8_t *flags, uint32_t *seq,
                 uint32_t *ack, size_t *payload)
{
    unsigned d = rnd() & 1, roll = (unsigned)(rnd() % 100);
    *from_b = d;
    *payload = 0;
    *seq = fl->next_seq[d];
    *ack = fl->next_seq[!d];
    if (roll < 3) {                       /* a (re)opening handshake step */
        *flags = (uint8_t)(d ? SYN | ACK : SYN);
        *seq = fl->next_seq[d] = (uint32_t)rnd();
        fl->next_seq[d]++;
        *ack = d ? fl->next_seq[0] : 0;
    } else if (roll < 88) {               /* data or a bare ACK */
        *flags = (uint8_t)(ACK | (rnd() & 1 ? PSH : 0));
        *payload = rnd() % 3 ? (size_t)(rnd() % 300) : 0;
        fl->next_seq[d] += (uint32_t)*payload;
    } else if (roll < 93) {               /* an old or far ACK */
        *flags = ACK;
        *seq -= (uint32_t)(rnd() % 5000);
        *ack += (uint32_t)(rnd() % 100000);
    } else if (roll < 95) {
        *flags = FIN | ACK;
        fl->next_seq[d]++;
    } else if (roll < 97) {
        *flags = (uint8_t)(rnd() & 1 ? RST : RST | ACK);
    } else {
        static const uint8_t odd[] = {0, SYN | FIN, FIN, ACK | 0x20, SYN | ACK, SYN | RST};
        *flags = odd[rnd() % sizeof(odd)];
    }
}

static void test_steady_matches_whole_way(void **state)
{
    (void)state;
    struct vf_ct_config cfg = {.max_conns = 4096, .seed = 11};
    static struct side a, b;
    a.ct = vf_ct_create(&cfg);
    b.ct = vf_ct_create(&cfg);
    assert_non_null(a.ct);
    assert_non_null(b.ct);
    assert_int_equal(vf_ct_worker_init(&a.w, a.ct, 0, 1), 0);
    assert_int_equal(vf_ct_worker_init(&b.w, b.ct, 0, 1), 0);
    /* Short timeouts, so time jumps expire connections now and then. */
    assert_int_equal(vf_ct_set_timeout(a.ct, VF_CT_TO_TCP_ESTABLISHED, 3000), 0);
    assert_int_equal(vf_ct_set_timeout(b.ct, VF_CT_TO_TCP_ESTABLISHED, 3000), 0);
    assert_int_equal(vf_ct_set_timeout(a.ct, VF_CT_TO_UDP_REPLIED, 3000), 0);
    assert_int_equal(vf_ct_set_timeout(b.ct, VF_CT_TO_UDP_REPLIED, 3000), 0);
    static struct flow fl[FLOWS];
    for (unsigned i = 0; i < FLOWS; i++) {
        memset(&fl[i], 0, sizeof(fl[i]));
        ctt_flow(&fl[i].f, i, i % 3 == 0);
        fl[i].udp = i % 4 == 1;
        fl[i].next_seq[0] = (uint32_t)rnd();
        fl[i].next_seq[1] = (uint32_t)rnd();
    }
    static struct frame fr;
    uint64_t now = 1000;
    unsigned steady = 0;
    for (unsigned step = 0; step < STEPS; step++) {
        struct flow *f = &fl[rnd() % FLOWS];
        bool from_b;
        uint8_t flags;
        uint32_t seq, ack;
        size_t payload;
        /* A clean handshake now and then, so most flows get established. */
        if (!f->udp && rnd() % 20 == 0) {
            for (unsigned h = 0; h < 3; h++) {
                unsigned d = h == 1;
                uint8_t fl3[] = {SYN, SYN | ACK, ACK};
                if (h < 2)
                    f->next_seq[d] = (uint32_t)rnd() + 1;
                uint32_t s = h < 2 ? f->next_seq[d] - 1 : f->next_seq[0];
                build(&fr, f, d, fl3[h], s, h ? f->next_seq[!d] : 0, 0);
                struct vf_ct_result ra, rb;
                steady += run_cached(&a, f, d, &fr, now, &ra);
                run_whole(&b, &fr, now, &rb);
            }
        }
        pick(f, &from_b, &flags, &seq, &ack, &payload);
        if (f->udp)
            payload = (size_t)(rnd() % 200);
        build(&fr, f, from_b, flags, seq, ack, payload);
        struct vf_ct_result ra, rb;
        memset(&ra, 0xa5, sizeof(ra));
        memset(&rb, 0x5a, sizeof(rb));
        steady += run_cached(&a, f, from_b, &fr, now, &ra);
        run_whole(&b, &fr, now, &rb);
        bool found = ra.conn != VF_CT_NONE || rb.conn != VF_CT_NONE;
        if (ra.state != rb.state || ra.cause != rb.cause ||
            (found && (ra.dir != rb.dir || ra.conn_state != rb.conn_state)))
            fail_msg("step %u (flags 0x%x from %c): cached %u/%u/%u/%u, whole %u/%u/%u/%u",
                     step, flags, from_b ? 'B' : 'A', ra.state, ra.cause, ra.dir,
                     ra.conn_state, rb.state, rb.cause, rb.dir, rb.conn_state);
        same_tables(&a, &b, now, step);
        /* Time: mostly a few ms (so last_seen moves in steps), sometimes
         * past the established timeout. */
        now += rnd() % 200 == 0 ? 3500 : rnd() % 40;
    }
    /* Coverage, not timing: the fast path carried a good part of it. */
    if (steady < STEPS / 5)
        fail_msg("the steady path took only %u of %u packets", steady, STEPS);
    vf_ct_worker_fini(&a.w);
    vf_ct_worker_fini(&b.w);
    vf_ct_destroy(a.ct);
    vf_ct_destroy(b.ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_matches_whole_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
