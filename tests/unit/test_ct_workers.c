/* test_ct_workers.c - stateful ports with the two directions of every
 * connection on different workers, under load (a stress test, apart from
 * test_stateful's correctness tests).
 *
 * One host, one shared connection table, 2 x PAIRS worker threads (each a
 * struct vf_worker with its own flow cache and conntrack context, as
 * vfabd's). Pair i: port a_i is in a security group (out: anything,
 * allow-related; in: nothing but replies), b_i has no ACLs. Thread A_i
 * sends a_i's side of CONNS TCP connections, thread B_i b_i's side: SYN
 * (A), SYN-ACK (B), then data and ACKs alternately, each step sent once
 * the previous one was delivered; a third of the connections end with a
 * RST from A (their close timeout is short, so the workers' sweeps and
 * lookups kill them while the rest run, and reclaim has work). So every lookup in a_i's zone of one
 * connection alternates between two workers, while the other pairs'
 * threads create, look up and sweep in the same table, and the main
 * thread reclaims killed entries (RCU grace periods with the workers
 * online) the whole time.
 *
 * Checked: every packet of every step is delivered (nothing dropped,
 * under any reason), every connection is created once (no duplicate, no
 * lost entry: the table holds exactly the connections that were not
 * reset, all established), every reset one expired and came back to the
 * free lists, and no lookup called anything invalid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <cmocka.h>

#include <urcu-qsbr.h>

#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_sg.h"

#define PAIRS 2
#define CONNS 10000
#define STEPS 22           /* SYN, SYN-ACK, then 20 data segments */
#define CLOSE_MS 30        /* the reset ones' close timeout */

static bool reset(unsigned c)
{
    return c % 3 == 0;
}

static unsigned last_step(unsigned c, bool b)
{
    return b ? STEPS - 1 : reset(c) ? STEPS : STEPS - 2;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

struct conn {
    _Atomic unsigned step;   /* next step to send; A sends even, B odd */
};

struct side {
    struct world *wd;
    unsigned pair;
    bool b;                  /* the b side (odd steps) */
    struct vf_worker *w;
    struct vf_port *in, *out;   /* the port it sends from, delivers to */
    uint64_t sent, delivered, stalls, expired;
};

struct world {
    struct vf_model m;
    struct lt_fabric f;
    struct sg_set sg;
    struct conn conns[PAIRS][CONNS];
    _Atomic unsigned done;
    _Atomic bool stop;       /* a thread saw something wrong */
};

static size_t frame(uint8_t *buf, unsigned pair, bool b, unsigned c, unsigned step)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    uint32_t a_ip = IP(10, 0, 0, 1 + 2 * pair), b_ip = a_ip + 1;
    lt_mac(t.eth_src, b ? b_ip & 0xffff : a_ip & 0xffff);
    lt_mac(t.eth_dst, b ? a_ip & 0xffff : b_ip & 0xffff);
    t.ip4_src = b ? b_ip : a_ip;
    t.ip4_dst = b ? a_ip : b_ip;
    uint16_t cport = (uint16_t)(10000 + c);
    t.sport = b ? 80 : cport;
    t.dport = b ? cport : 80;
    /* Sequence numbers that a real pair would use: A from 1000, B from
     * 5000, ten bytes per data segment. */
    uint32_t a_seq = 1001 + 10 * (step >= 2 ? (step - 2) / 2 : 0);
    uint32_t b_seq = 5001 + 10 * (step >= 3 ? (step - 3) / 2 : 0);
    if (step == STEPS) {          /* A's RST, at exactly its next sequence */
        t.tcp_flags = VF_TPKT_TCP_RST;
        t.tcp_seq = a_seq;
    } else if (step == 0) {
        t.tcp_flags = VF_TPKT_TCP_SYN;
        t.tcp_seq = 1000;
    } else if (step == 1) {
        t.tcp_flags = VF_TPKT_TCP_SYN | VF_TPKT_TCP_ACK;
        t.tcp_seq = 5000;
        t.tcp_ack = 1001;
    } else {
        t.tcp_flags = VF_TPKT_TCP_ACK;
        t.payload_len = 10;
        t.tcp_seq = b ? b_seq : a_seq;
        t.tcp_ack = b ? a_seq : b_seq;
    }
    return vf_tpkt_ip4_tcp(buf, 128, &t);
}

static void *side_main(void *arg)
{
    struct side *s = arg;
    struct world *wd = s->wd;
    struct vf_worker *w = s->w;
    const struct vf_tables *t = wd->f.host[0].t;
    struct conn *cs = wd->conns[s->pair];
    unsigned cursor = 0, finished = 0;
    uint8_t buf[128];

    rcu_register_thread();
    while (finished < CONNS && !atomic_load(&wd->stop)) {
        struct vf_pkt *pk[VF_WORKER_BURST];
        unsigned n = 0;
        finished = 0;
        for (unsigned k = 0; k < CONNS && n < VF_WORKER_BURST; k++) {
            unsigned c = (cursor + k) % CONNS;
            /* Acquire: pairs with the other side's release once its step
             * was delivered (its lookup and commit came before). */
            unsigned st = atomic_load_explicit(&cs[c].step, memory_order_acquire);
            if (st > last_step(c, s->b)) {
                finished++;
                continue;
            }
            if ((st & 1) != s->b)
                continue;
            struct vf_pkt *p = vf_pool_alloc(&w->cache);
            size_t len = frame(buf, s->pair, s->b, c, st);
            if (!p || vf_pkt_set(p, buf, (uint32_t)len)) {
                atomic_store(&wd->stop, true);   /* no cmocka asserts here */
                break;
            }
            p->port = (uint16_t)s->in->index;
            pk[n++] = p;
        }
        cursor = (cursor + 97) % CONNS;
        if (n == 0) {
            s->stalls++;
            rcu_quiescent_state();
            sched_yield();
            continue;
        }
        w->ct_now = vf_ct_now_ms();
        vf_pipeline_burst(w, t, pk, n);
        vf_worker_flush(w);
        w->ct_pass_ms = 20;   /* quick passes: the reset ones die meanwhile */
        vf_worker_ct_sweep(w);
        s->sent += n;
        struct vf_pkt *got[VF_WORKER_BURST];
        unsigned g = vf_ring_port_drain(s->out, 0, got, VF_WORKER_BURST);
        s->delivered += g;
        for (unsigned i = 0; i < g; i++) {
            /* The connection is the client port of what arrived. */
            const uint8_t *f = vf_pkt_data(got[i]);
            unsigned c = vf_tpkt_get16(f + (s->b ? 36 : 34)) - 10000u;
            if (c >= CONNS) {
                atomic_store(&wd->stop, true);
                continue;
            }
            atomic_fetch_add_explicit(&cs[c].step, 1, memory_order_release);
        }
        vf_pool_free_burst(&w->cache, got, g);
        rcu_quiescent_state();
        if (g != n) {
            atomic_store(&wd->stop, true);   /* lost: stop everyone, report */
            break;
        }
    }
    atomic_fetch_add(&wd->done, 1);
    rcu_unregister_thread();
    return NULL;
}

static void test_two_workers_per_connection(void **state)
{
    (void)state;
    struct world *wd = calloc(1, sizeof(*wd));
    struct vf_model *m = &wd->m;
    lt_chassis(m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(m, "blue");
    int sw = lt_switch(m, t, "web", 1001);
    memset(&wd->sg, 0, sizeof(wd->sg));
    static char names[PAIRS][2][16];
    for (unsigned i = 0; i < PAIRS; i++) {
        uint32_t a_ip = IP(10, 0, 0, 1 + 2 * i);
        snprintf(names[i][0], 16, "a%u", i);
        snprintf(names[i][1], 16, "b%u", i);
        lt_port(m, t, sw, names[i][0], a_ip & 0xffff, a_ip, 0, true);
        lt_port(m, t, sw, names[i][1], (a_ip + 1) & 0xffff, a_ip + 1, 0, true);
        struct sg_rule *r = sg_add(&wd->sg, "web", false, VF_ACL_V_ALLOW_RELATED, 10);
        r->ports[0] = names[i][0];
        r = sg_add(&wd->sg, "web", true, VF_ACL_V_ALLOW_RELATED, 10);
        r->ports[0] = names[i][0];
        r->proto = VF_IPPROTO_UDP;
        r->dport_lo = r->dport_hi = 9999;   /* in: replies only */
    }
    lt_assign_ids(m);
    assert_int_equal(lt_fabric_init_ct(&wd->f, m, true, 4 * PAIRS * CONNS, sg_post, &wd->sg), 0);
    struct vf_ct *ct = wd->f.host[0].ct;
    assert_int_equal(vf_ct_set_timeout(ct, VF_CT_TO_TCP_CLOSE, CLOSE_MS), 0);

    /* 2 x PAIRS workers on the host's table (the harness's own one is
     * given up: the threads' workers are 0 .. 2 x PAIRS - 1). */
    vf_ct_worker_fini(&wd->f.host[0].w->ct);
    wd->f.host[0].w->ct.ct = NULL;
    static struct side sides[PAIRS][2];
    pthread_t th[PAIRS][2];
    for (unsigned i = 0; i < PAIRS; i++) {
        for (unsigned b = 0; b < 2; b++) {
            struct side *s = &sides[i][b];
            memset(s, 0, sizeof(*s));
            s->wd = wd;
            s->pair = i;
            s->b = b;
            s->w = aligned_alloc(64, sizeof(*s->w));
            memset(s->w, 0, sizeof(*s->w));
            unsigned id = 2 * i + b;
            assert_int_equal(vf_worker_init(s->w, id, wd->f.pool, 4096), 0);
            assert_int_equal(vf_worker_attach_ct(s->w, ct, id, 2 * PAIRS), 0);
            s->in = wd->f.ports[lt_port_idx(&wd->f, names[i][b])];
            s->out = wd->f.ports[lt_port_idx(&wd->f, names[i][!b])];
        }
    }
    for (unsigned i = 0; i < PAIRS; i++)
        for (unsigned b = 0; b < 2; b++)
            assert_int_equal(pthread_create(&th[i][b], NULL, side_main, &sides[i][b]), 0);
    /* mgmt: reclaim while they run (nothing dies here unless a duplicate
     * insert was resolved; the grace periods still have to pass). */
    unsigned reclaims = 0, freed = 0;
    while (atomic_load(&wd->done) < 2 * PAIRS) {
        freed += vf_ct_reclaim(ct);
        reclaims++;
        usleep(2000);
    }
    for (unsigned i = 0; i < PAIRS; i++)
        for (unsigned b = 0; b < 2; b++)
            pthread_join(th[i][b], NULL);
    /* The threads are gone: their workers sweep once more, past the
     * close timeout, whole shares (a pass ends: killed entries retire). */
    for (unsigned i = 0; i < PAIRS; i++)
        for (unsigned b = 0; b < 2; b++) {
            struct vf_worker *w = sides[i][b].w;
            w->ct_now = vf_ct_now_ms() + 10 * CLOSE_MS;
            w->ct_swept_at = 0;
            w->ct_sweep_owed = 0;
            for (unsigned k = 0; k < 1024 && w->ct.sweep_lo != w->ct.sweep_hi; k++) {
                w->ct_now += 1000;
                vf_worker_ct_sweep(w);
            }
        }
    freed += vf_ct_reclaim(ct);
    unsigned n_reset = 0;
    for (unsigned c = 0; c < CONNS; c++)
        n_reset += reset(c);
    n_reset *= PAIRS;

    uint64_t sent = 0, delivered = 0, drops[VF_DROP__COUNT] = {0};
    for (unsigned i = 0; i < PAIRS; i++)
        for (unsigned b = 0; b < 2; b++) {
            sent += sides[i][b].sent;
            delivered += sides[i][b].delivered;
            for (unsigned r = 0; r < VF_DROP__COUNT; r++)
                drops[r] += atomic_load(&sides[i][b].w->stats.drops[r]);
        }
    for (unsigned r = 0; r < VF_DROP__COUNT; r++)
        if (drops[r])
            fprintf(stderr, "dropped %llu as %s\n", (unsigned long long)drops[r],
                    vf_drop_name(r));
    struct vf_ct_totals tot;
    vf_ct_get_stats(ct, &tot);
    print_message("%llu packets over %u workers, %llu delivered; %llu connections "
                  "created, %llu live (%lld established), %llu simultaneous "
                  "inserts merged, %u reclaims freed %u\n", (unsigned long long)sent,
                  2 * PAIRS, (unsigned long long)delivered,
                  (unsigned long long)tot.created, (unsigned long long)tot.live,
                  (long long)tot.conns[VF_CT_CS_TCP_ESTABLISHED],
                  (unsigned long long)tot.dup_resolved, reclaims, freed);
    assert_false(atomic_load(&wd->stop));
    assert_int_equal(sent, (uint64_t)PAIRS * CONNS * STEPS + n_reset);
    assert_int_equal(delivered, sent);
    assert_int_equal(tot.created, PAIRS * CONNS);
    assert_int_equal(tot.live, PAIRS * CONNS - n_reset);
    assert_int_equal(tot.conns[VF_CT_CS_TCP_ESTABLISHED], PAIRS * CONNS - n_reset);
    assert_int_equal(tot.expired, n_reset);
    assert_int_equal(freed, n_reset);
    assert_int_equal(tot.by_state[VF_CT_INVALID], 0);
    for (unsigned i = 0; i < PAIRS; i++)
        for (unsigned b = 0; b < 2; b++) {
            vf_worker_fini(sides[i][b].w);
            free(sides[i][b].w);
        }
    lt_fabric_fini(&wd->f);
    lt_model_free(m);
    free(wd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_workers_per_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
