/* bench_conntrack.c - what connection tracking costs per packet and per
 * connection (pipeline/vf_conntrack.h). Read against BM_null_forward/32 and
 * BM_pipeline_l2_cached of the same run.
 *
 * BM_ct_hit_cached/N: the same with the flow-cache shortcut
 *   (vf_ct_pkt_refresh instead of vf_ct_pkt_init): what the wiring adds.
 * BM_ct_hit_steady/N: the same through vf_ct_lookup_steady, the call the
 *   pipeline makes first for a cached packet (a steady segment of an
 *   established connection: no refreshed copy, no state-machine step;
 *   anything else falls back to refresh and lookup, as here).
 * BM_ct_hit/N: what a cached packet of an established TCP connection will
 *   add once a flow-cache entry says "look up conntrack": vf_ct_pkt_init
 *   from the parsed frame (the pipeline has parsed it already) and
 *   vf_ct_lookup, in a table of N connections, the packets of 32 of them
 *   (both directions) in turn: the flow working set of BM_pipeline_l2_cached.
 * BM_ct_lookup_random/N: vf_ct_lookup alone, each packet a connection
 *   drawn at random among N (N = 1M: the whole table is the working set),
 *   both directions. BM_ct_lookup_burst/N: the same by bursts of 32 through
 *   vf_ct_lookup_burst (prefetching).
 * BM_ct_new: a new connection: vf_ct_lookup (a miss) and vf_ct_commit of a
 *   TCP SYN, into a table of 1M; when it is full, the timing pauses, it is
 *   flushed and reclaimed. Items are connections: items_per_second is new
 *   connections per second on one worker.
 * BM_ct_sweep_idle/N: vf_ct_sweep over a full table where nothing has
 *   expired: items are connections looked at (the steady cost of expiry).
 * BM_ct_sweep_expire/N: vf_ct_sweep where everything has expired: items are
 *   connections expired (unlinked, counted out, retired).
 * BM_ct_cross/MODE: the two directions of 10,000 connections on two
 *   threads; each thread "receives" its packets (copies a 64-byte frame into
 *   a buffer, parses it), then:
 *     0  one thread alone takes both directions (nothing crosses cores);
 *     1  shared table: each thread looks its own packets up (the design);
 *     2  hand-off: each thread looks up the packets whose connection it owns
 *        (symmetric hash % 2), passes the others to the owner over an SPSC
 *        ring, takes the ones passed to it, and gives their buffers back.
 *   Items are packets this thread looked up (the helper thread does the
 *   same work concurrently). The figure to read is cpu_ns_per_pkt: both
 *   threads' CPU time in bursts that did work, per packet looked up (on a
 *   shared machine wall-clock cycles_per_packet also counts waiting for a
 *   CPU, and in mode 2 for the other thread). Modes 1 and 2 against 0 is
 *   what the cross-worker choice costs. Needs two CPUs to mean anything.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "fabric/vf_ring.h"
#include "numa/vf_drop.h"
#include "perf/vf_bench.h"
#include "pipeline/ct_impl.h"
#include "pipeline/vf_conntrack.h"
#include "tests/unit/vf_test_ct.h"

#define BURST 32u
#define SYN VF_TPKT_TCP_SYN
#define ACK VF_TPKT_TCP_ACK

static uint64_t xs_state = 88172645463325252ull;

static inline uint64_t xs(void)
{
    xs_state ^= xs_state << 13;
    xs_state ^= xs_state >> 7;
    xs_state ^= xs_state << 17;
    return xs_state;
}

struct bench_ct {
    struct vf_ct *ct;
    struct vf_ct_worker w;
    struct vf_ct_pkt *pk;    /* one orig-direction ACK per connection */
    unsigned n;
};

/* A table of n established TCP connections (half of them IPv6 if mixed),
 * and the packet of each; returns a skip message or NULL. */
static const char *bench_ct_fill(struct bench_ct *b, unsigned n, uint32_t max, bool mixed)
{
    struct vf_ct_config cfg = {.max_conns = max};
    b->n = n;
    b->ct = vf_ct_create(&cfg);
    b->pk = malloc((size_t)n * sizeof(*b->pk));
    if (!b->ct || !b->pk || vf_ct_worker_init(&b->w, b->ct, 0, 1))
        return "table setup failed";
    for (unsigned i = 0; i < n; i++) {
        struct ctt_flow fl;
        struct vf_ct_pkt p;
        struct vf_ct_result r;
        ctt_flow(&fl, i, mixed && (i & 1));
        ctt_tcp(b->ct, 1, &fl, false, SYN, 1000, 0, 0, &p);
        vf_ct_lookup(&b->w, &p, 1, &r);
        if (r.state != VF_CT_NEW || vf_ct_commit(&b->w, &p, 1, &r) != VF_DROP_NONE)
            return "commit failed";
        ctt_tcp(b->ct, 1, &fl, true, SYN | ACK, 5000, 1001, 0, &p);
        vf_ct_lookup(&b->w, &p, 1, &r);
        ctt_tcp(b->ct, 1, &fl, false, ACK, 1001, 5001, 0, &b->pk[i]);
        vf_ct_lookup(&b->w, &b->pk[i], 1, &r);
        if (r.conn_state != VF_CT_CS_TCP_ESTABLISHED)
            return "handshake failed";
    }
    return NULL;
}

static void bench_ct_free(struct bench_ct *b)
{
    if (b->ct)
        vf_ct_worker_fini(&b->w);
    vf_ct_destroy(b->ct);
    free(b->pk);
    memset(b, 0, sizeof(*b));
}

static void report_table(struct vf_bench_state *st, const struct bench_ct *b)
{
    vf_bench_counter(st, "bytes_per_conn", (double)vf_ct_bytes_per_conn(b->ct));
    struct vf_ct_totals t;
    vf_ct_get_stats(b->ct, &t);
    vf_bench_counter(st, "live", (double)t.live);
}

/* A table of n connections for a benchmark; false (skipped) if it failed. */
static bool bench_ct_begin(struct vf_bench_state *st, struct bench_ct *b, unsigned n,
                           bool mixed)
{
    const char *err = bench_ct_fill(b, n, n, mixed);
    if (err) {
        vf_bench_skip(st, err);
        bench_ct_free(b);
        return false;
    }
    return true;
}

/* n packets looked up, est of them found established (all must be). */
static void bench_ct_end(struct vf_bench_state *st, struct bench_ct *b, uint64_t n,
                         uint64_t est)
{
    vf_bench_items(st, n);
    if (est != n)
        vf_bench_skip(st, "a packet did not find its connection");
    report_table(st, b);
    bench_ct_free(b);
}

/* 32 of a table's n connections, each direction: TCP ACKs with data,
 * parsed as the pipeline has them, and each one's vf_ct_pkt (what a flow
 * cache entry would keep). */
struct hit_frames {
    uint8_t frames[64][128];
    struct vf_flow_key keys[64];
    struct vf_hdr_offsets offs[64];
    struct vf_ct_pkt tmpl[64];
    uint32_t lens[64];
};

static struct hit_frames *hit_frames(const struct vf_ct *ct, unsigned n)
{
    static struct hit_frames hf;
    for (unsigned i = 0; i < 64; i++) {
        struct ctt_flow fl;
        struct vf_tpkt t;
        ctt_flow(&fl, (i / 2) * (n / 32), false);
        ctt_addr(&t, &fl, i & 1);
        t.tcp_flags = ACK;
        t.tcp_seq = i & 1 ? 5001 : 1001;
        t.tcp_ack = i & 1 ? 1001 : 5001;
        t.payload_len = 10;
        hf.lens[i] = (uint32_t)vf_tpkt_ip4_tcp(hf.frames[i], sizeof(hf.frames[i]), &t);
        vf_parse(hf.frames[i], hf.lens[i], &hf.keys[i], &hf.offs[i]);
        vf_ct_pkt_init(ct, hf.frames[i], hf.lens[i], &hf.keys[i], &hf.offs[i], 1, &hf.tmpl[i]);
    }
    return &hf;
}

/* cached: the flow-cache shortcut (each flow's vf_ct_pkt kept from its
 * first packet, refreshed per packet); else a full vf_ct_pkt_init. */
enum hit_mode { HIT_INIT, HIT_CACHED, HIT_STEADY };

static void hit(struct vf_bench_state *st, int64_t arg, enum hit_mode mode)
{
    struct bench_ct b = {0};
    if (!bench_ct_begin(st, &b, (unsigned)arg, false))
        return;
    struct hit_frames *hf = hit_frames(b.ct, (unsigned)arg);
    uint64_t n = 0, est = 0;
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    while (vf_bench_next(st)) {
        uint64_t now = vf_ct_now_ms();   /* a worker reads its clock per burst */
        for (unsigned i = 0; i < 64; i++) {
            const struct vf_ct_pkt *pp = &hf->tmpl[i];
            if (mode == HIT_STEADY &&
                vf_ct_lookup_steady(&b.w, pp, hf->frames[i], hf->lens[i], &hf->offs[i], now,
                                    &r)) {
                est += r.state == VF_CT_ESTABLISHED;
                continue;
            }
            if (mode != HIT_INIT) {
                vf_ct_pkt_refresh(&hf->tmpl[i], hf->frames[i], hf->lens[i], &hf->offs[i]);
            } else {
                vf_ct_pkt_init(b.ct, hf->frames[i], hf->lens[i], &hf->keys[i], &hf->offs[i],
                               1, &p);
                pp = &p;
            }
            vf_ct_lookup(&b.w, pp, now, &r);
            est += r.state == VF_CT_ESTABLISHED;
        }
        n += 64;
    }
    bench_ct_end(st, &b, n, est);
}

static void BM_ct_hit(struct vf_bench_state *st, int64_t arg)
{
    hit(st, arg, HIT_INIT);
}
VF_BENCH_ARGS(BM_ct_hit, 1000, 1000000)

static void BM_ct_hit_cached(struct vf_bench_state *st, int64_t arg)
{
    hit(st, arg, HIT_CACHED);
}
VF_BENCH_ARGS(BM_ct_hit_cached, 1000, 1000000)

static void BM_ct_hit_steady(struct vf_bench_state *st, int64_t arg)
{
    hit(st, arg, HIT_STEADY);
}
VF_BENCH_ARGS(BM_ct_hit_steady, 1000, 1000000)

static void lookup_random(struct vf_bench_state *st, int64_t arg, bool burst)
{
    struct bench_ct b = {0};
    if (!bench_ct_begin(st, &b, (unsigned)arg, true))
        return;
    struct vf_ct_pkt pk[BURST];
    const struct vf_ct_pkt *pp[BURST];
    struct vf_ct_result r[BURST];
    uint64_t n = 0, est = 0;
    for (unsigned i = 0; i < BURST; i++)
        pp[i] = &pk[i];
    while (vf_bench_next(st)) {
        /* The generator: 32 random connections, random directions (two
         * stores per packet; the packets come from the table's own). */
        for (unsigned i = 0; i < BURST; i++) {
            uint64_t x = xs();
            pk[i] = b.pk[x % b.n];
            pk[i].sender ^= (uint8_t)(x >> 63);
        }
        uint64_t now = vf_ct_now_ms();
        if (burst) {
            vf_ct_lookup_burst(&b.w, pp, BURST, now, r);
        } else {
            for (unsigned i = 0; i < BURST; i++)
                vf_ct_lookup(&b.w, &pk[i], now, &r[i]);
        }
        for (unsigned i = 0; i < BURST; i++)
            est += r[i].state == VF_CT_ESTABLISHED;
        n += BURST;
    }
    bench_ct_end(st, &b, n, est);
}

static void BM_ct_lookup_random(struct vf_bench_state *st, int64_t arg)
{
    lookup_random(st, arg, false);
}
VF_BENCH_ARGS(BM_ct_lookup_random, 1000, 1000000)

static void BM_ct_lookup_burst(struct vf_bench_state *st, int64_t arg)
{
    lookup_random(st, arg, true);
}
VF_BENCH_ARGS(BM_ct_lookup_burst, 1000, 1000000)

#define NEW_TABLE 1000000u

static void BM_ct_new(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    struct vf_ct_config cfg = {.max_conns = NEW_TABLE};
    struct vf_ct *ct = vf_ct_create(&cfg);
    struct vf_ct_worker w, mgmt;
    struct vf_ct_pkt *pk = malloc(NEW_TABLE * sizeof(*pk));
    if (!ct || !pk || vf_ct_worker_init(&w, ct, 0, 1) || vf_ct_worker_init(&mgmt, ct, 1, 1)) {
        vf_bench_skip(st, "table setup failed");
        free(pk);
        vf_ct_destroy(ct);
        return;
    }
    for (unsigned i = 0; i < NEW_TABLE; i++) {
        struct ctt_flow fl;
        ctt_flow(&fl, i, i & 1);
        ctt_tcp(ct, 1, &fl, false, SYN, 1000, 0, 0, &pk[i]);
    }
    rcu_register_thread();
    uint64_t made = 0, refused = 0;
    unsigned next = 0;
    struct vf_ct_result r;
    while (vf_bench_next(st)) {
        for (unsigned i = 0; i < BURST; i++, next++) {
            vf_ct_lookup(&w, &pk[next], 3, &r);
            if (r.state == VF_CT_NEW && vf_ct_commit(&w, &pk[next], 3, &r) == VF_DROP_NONE)
                made++;
            else
                refused++;
        }
        if (next + BURST > NEW_TABLE) {
            /* mgmt's part, not the worker's: empty the table. */
            vf_bench_pause(st);
            vf_ct_flush(&mgmt, -1);
            vf_ct_worker_fini(&w);   /* its batches back too */
            vf_ct_worker_init(&w, ct, 0, 1);
            vf_ct_reclaim(ct);
            next = 0;
            vf_bench_resume(st);
        }
    }
    vf_bench_items(st, made);
    if (refused)
        vf_bench_skip(st, "a new connection was refused");
    rcu_unregister_thread();
    vf_ct_worker_fini(&w);
    vf_ct_worker_fini(&mgmt);
    vf_ct_destroy(ct);
    free(pk);
}
VF_BENCH(BM_ct_new)

#define SWEEP_BUDGET 1024u

static void sweep(struct vf_bench_state *st, int64_t arg, bool expire)
{
    struct bench_ct b = {0};
    if (!bench_ct_begin(st, &b, (unsigned)arg, true))
        return;
    rcu_register_thread();
    struct vf_ct_worker mgmt;
    vf_ct_worker_init(&mgmt, b.ct, 1, 1);
    vf_ct_set_timeout(b.ct, VF_CT_TO_TCP_ESTABLISHED, 1000);
    uint64_t now = expire ? 1000000 : 2, killed = 0, items = 0;
    struct vf_ct_totals t0, t1;
    vf_ct_get_stats(b.ct, &t0);
    while (vf_bench_next(st)) {
        killed += vf_ct_sweep(&b.w, now, SWEEP_BUDGET);
        if (expire && killed >= b.n) {
            /* Refill outside the timing (handshakes are not expiry). */
            vf_bench_pause(st);
            vf_ct_flush(&mgmt, -1);
            vf_ct_reclaim(b.ct);
            for (unsigned i = 0; i < b.n; i++) {
                struct vf_ct_pkt p = b.pk[i];
                struct vf_ct_result r;
                p.tcp_flags = SYN;
                vf_ct_lookup(&b.w, &p, now, &r);
                vf_ct_commit(&b.w, &p, now, &r);
            }
            now += 1000000;
            items += killed;
            killed = 0;
            vf_bench_resume(st);
        }
    }
    vf_ct_get_stats(b.ct, &t1);
    if (expire) {
        items += killed;
    } else {
        /* Connections looked at: buckets swept times connections per
         * bucket (the table is full and nothing leaves it). */
        uint64_t nb = (uint64_t)b.ct->bucket_mask + 1;
        items = (t1.swept_buckets - t0.swept_buckets) * b.n / nb;
        vf_bench_counter(st, "buckets", (double)nb);
    }
    vf_bench_items(st, items);
    vf_ct_worker_fini(&mgmt);
    rcu_unregister_thread();
    report_table(st, &b);
    bench_ct_free(&b);
}

static void BM_ct_sweep_idle(struct vf_bench_state *st, int64_t arg)
{
    sweep(st, arg, false);
}
VF_BENCH_ARGS(BM_ct_sweep_idle, 1000000)

static void BM_ct_sweep_expire(struct vf_bench_state *st, int64_t arg)
{
    sweep(st, arg, true);
}
VF_BENCH_ARGS(BM_ct_sweep_expire, 1000000)

/* ---- the cross-worker choice ---- */

#define CROSS_CONNS 10000u
#define CROSS_BUFS 512u     /* buffers per thread */

struct xbuf {
    uint8_t frame[128];
    struct vf_ct_pkt p;
} __attribute__((aligned(64)));

struct cross {
    struct bench_ct b;
    unsigned mode;
    _Atomic int stop;
    uint8_t frames[2][CROSS_CONNS][64];   /* [direction][connection] */
    struct vf_ring *pass[2];              /* [to thread] packets to look up */
    struct vf_ring *back[2];              /* [to thread] its buffers back */
};

struct cross_thread {
    struct cross *x;
    unsigned id;
    struct vf_ct_worker w;
    struct xbuf *bufs;
    struct xbuf *free_list[CROSS_BUFS];
    unsigned n_free;
    uint64_t looked, est, pos, busy_ns, bursts;
    uint64_t now;           /* the clock, read per burst */
    pthread_t th;
};

/* Receives one packet of this thread's stream into a free buffer: the
 * copy an rx path makes, the parse, what conntrack reads of it. */
static struct xbuf *cross_rx(struct cross_thread *t, unsigned dir)
{
    struct cross *x = t->x;
    if (t->n_free == 0)
        return NULL;
    struct xbuf *b = t->free_list[--t->n_free];
    unsigned c = (unsigned)(t->pos++ % CROSS_CONNS);
    memcpy(b->frame, x->frames[dir][c], 64);
    struct vf_flow_key k;
    struct vf_hdr_offsets o;
    vf_parse(b->frame, 64, &k, &o);
    vf_ct_pkt_init(x->b.ct, b->frame, 64, &k, &o, 1, &b->p);
    return b;
}

static void cross_look(struct cross_thread *t, struct xbuf *b)
{
    struct vf_ct_result r;
    vf_ct_lookup(&t->w, &b->p, t->now, &r);
    t->looked++;
    t->est += r.state == VF_CT_ESTABLISHED;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned cross_burst_(struct cross_thread *t);

/* One burst, timed in this thread's CPU time when it did work: on a
 * machine where the two threads share cores with others, wall-clock cycles
 * would count the time a thread waits for its CPU (or, handing off, for
 * the other thread), CPU time only what the work costs. The clock read
 * (a syscall) is paid per burst in every mode alike. */
static unsigned cross_burst(struct cross_thread *t)
{
    uint64_t t0 = thread_cpu_ns();
    t->now = vf_ct_now_ms();
    unsigned n = cross_burst_(t);
    if (n) {
        t->busy_ns += thread_cpu_ns() - t0;
        t->bursts++;
    }
    return n;
}

/* One burst of this thread's loop; returns packets looked up. */
static unsigned cross_burst_(struct cross_thread *t)
{
    struct cross *x = t->x;
    uint64_t before = t->looked;
    void *objs[BURST];
    if (x->mode == 0) {        /* alone: both directions */
        for (unsigned i = 0; i < BURST; i++) {
            struct xbuf *b = cross_rx(t, i & 1);
            cross_look(t, b);
            t->free_list[t->n_free++] = b;
        }
        return (unsigned)(t->looked - before);
    }
    if (x->mode == 1) {        /* shared table: look up what you receive */
        for (unsigned i = 0; i < BURST; i++) {
            struct xbuf *b = cross_rx(t, t->id);
            cross_look(t, b);
            t->free_list[t->n_free++] = b;
        }
        return (unsigned)(t->looked - before);
    }
    /* hand-off: buffers of the other thread's connections go to it */
    void *mine[BURST];
    unsigned n_pass = 0;
    for (unsigned i = 0; i < BURST; i++) {
        struct xbuf *b = cross_rx(t, t->id);
        if (!b)
            break;
        if ((unsigned)(b->p.hash >> 40) % 2 == t->id) {
            cross_look(t, b);
            t->free_list[t->n_free++] = b;
        } else {
            mine[n_pass++] = b;
        }
    }
    unsigned sent = vf_ring_enqueue_burst(x->pass[!t->id], mine, n_pass);
    for (unsigned i = sent; i < n_pass; i++)   /* ring full: dropped */
        t->free_list[t->n_free++] = mine[i];
    unsigned got = vf_ring_dequeue_burst(x->pass[t->id], objs, BURST);
    for (unsigned i = 0; i < got; i++)
        cross_look(t, objs[i]);
    unsigned ret = vf_ring_enqueue_burst(x->back[!t->id], objs, got);
    (void)ret;   /* sized so it never fills: every buffer fits */
    got = vf_ring_dequeue_burst(x->back[t->id], objs, BURST);
    for (unsigned i = 0; i < got; i++)
        t->free_list[t->n_free++] = objs[i];
    return (unsigned)(t->looked - before);
}

static void *cross_helper(void *arg)
{
    struct cross_thread *t = arg;
    while (!atomic_load_explicit(&t->x->stop, memory_order_relaxed))
        cross_burst(t);
    return NULL;
}

static int cross_thread_init(struct cross_thread *t, struct cross *x, unsigned id)
{
    t->x = x;
    t->id = id;
    t->pos = id * 7919u;
    t->bufs = aligned_alloc(64, CROSS_BUFS * sizeof(*t->bufs));
    if (!t->bufs || vf_ct_worker_init(&t->w, x->b.ct, id, 2))
        return -1;
    for (unsigned i = 0; i < CROSS_BUFS; i++)
        t->free_list[t->n_free++] = &t->bufs[i];
    return 0;
}

static void BM_ct_cross(struct vf_bench_state *st, int64_t arg)
{
    static struct cross x;
    static struct cross_thread th[2];
    memset(&x, 0, sizeof(x));
    memset(th, 0, sizeof(th));
    x.mode = (unsigned)arg;
    const char *err = bench_ct_fill(&x.b, CROSS_CONNS, CROSS_CONNS, false);
    for (unsigned c = 0; !err && c < CROSS_CONNS; c++) {
        struct ctt_flow fl;
        ctt_flow(&fl, c, false);
        for (unsigned d = 0; d < 2; d++) {
            struct vf_tpkt t;
            ctt_addr(&t, &fl, d);
            t.tcp_flags = ACK;
            t.tcp_seq = d ? 5001 : 1001;
            t.tcp_ack = d ? 1001 : 5001;
            t.payload_len = 6;   /* 14 + 20 + 20 + 6 = 60 bytes */
            vf_tpkt_ip4_tcp(x.frames[d][c], 64, &t);
        }
    }
    for (unsigned i = 0; i < 2 && !err; i++) {
        x.pass[i] = vf_ring_create(2 * CROSS_BUFS, -1);
        x.back[i] = vf_ring_create(2 * CROSS_BUFS, -1);
        if (!x.pass[i] || !x.back[i] || cross_thread_init(&th[i], &x, i))
            err = "cross setup failed";
    }
    if (!err && x.mode > 0 && pthread_create(&th[1].th, NULL, cross_helper, &th[1]))
        err = "no helper thread";
    if (err) {
        vf_bench_skip(st, err);
    } else {
        while (vf_bench_next(st))
            cross_burst(&th[0]);
        atomic_store(&x.stop, 1);
        if (x.mode > 0)
            pthread_join(th[1].th, NULL);
        vf_bench_items(st, th[0].looked);
        vf_bench_counter(st, "helper_pkts", (double)th[1].looked);
        vf_bench_counter(st, "pkts_per_burst", (double)(th[0].looked + th[1].looked) /
                                                   (double)(th[0].bursts + th[1].bursts));
        vf_bench_counter(st, "cpu_ns_per_pkt",
                         (double)(th[0].busy_ns + th[1].busy_ns) /
                             (double)(th[0].looked + th[1].looked));
        if (th[0].est != th[0].looked || th[1].est != th[1].looked)
            vf_bench_skip(st, "a packet did not find its connection");
    }
    for (unsigned i = 0; i < 2; i++) {
        if (th[i].x)
            vf_ct_worker_fini(&th[i].w);
        free(th[i].bufs);
        vf_ring_destroy(x.pass[i]);
        vf_ring_destroy(x.back[i]);
    }
    bench_ct_free(&x.b);
}
VF_BENCH_ARGS(BM_ct_cross, 0, 1, 2)
