/* test_ring.c - the SPSC ring (vf_ring.h) and the ring port (vf_port.h).
 *
 * Correctness tests first (sizes, burst/bulk, a model FIFO as oracle,
 * wraparound of the 32-bit indices), then the ring port, then the two
 * threaded stress tests: a producer/consumer moving 5 million items, and the
 * sleep/wake protocol. Every loop is bounded by a count or by a deadline so
 * a bug fails the test instead of hanging it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fabric/vf_port.h"
#include "fabric/vf_ring.h"
#include "numa/vf_pool.h"

/* xorshift64: fixed seeds keep failures reproducible. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *tok(uint64_t v)
{
    return (void *)(uintptr_t)v;
}

/* ---- the ring ---- */

static void test_bad_sizes(void **state)
{
    (void)state;
    const uint32_t bad[] = {0, 1, 3, 6, 100, 1000, (1u << 31) + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(vf_ring_create(bad[i], -1));
    const uint32_t good[] = {2, 4, 1024};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct vf_ring *r = vf_ring_create(good[i], 0);
        assert_non_null(r);
        assert_true(((uintptr_t)r % VF_CACHE_LINE) == 0);
        assert_int_equal(vf_ring_count(r), 0);
        assert_int_equal(vf_ring_free_count(r), good[i]);
        vf_ring_destroy(r);
    }
    vf_ring_destroy(NULL);
}

static void test_burst_bulk(void **state)
{
    (void)state;
    struct vf_ring *r = vf_ring_create(8, -1);
    assert_non_null(r);
    void *in[16], *out[16];
    for (unsigned i = 0; i < 16; i++)
        in[i] = tok(i + 1);

    assert_int_equal(vf_ring_enqueue_bulk(r, in, 0), 0);
    assert_int_equal(vf_ring_enqueue_burst(r, in, 0), 0);
    assert_int_equal(vf_ring_enqueue_bulk(r, in, 9), 0);     /* > size: none */
    assert_int_equal(vf_ring_count(r), 0);
    assert_int_equal(vf_ring_enqueue_burst(r, in, 10), 8);   /* partial */
    assert_int_equal(vf_ring_count(r), 8);
    assert_int_equal(vf_ring_free_count(r), 0);
    assert_int_equal(vf_ring_enqueue_burst(r, in, 1), 0);
    assert_int_equal(vf_ring_enqueue_bulk(r, in, 1), 0);

    assert_int_equal(vf_ring_dequeue_bulk(r, out, 9), 0);    /* none taken */
    assert_int_equal(vf_ring_count(r), 8);
    assert_int_equal(vf_ring_dequeue_burst(r, out, 3), 3);
    for (unsigned i = 0; i < 3; i++)
        assert_ptr_equal(out[i], in[i]);
    assert_int_equal(vf_ring_free_count(r), 3);
    assert_int_equal(vf_ring_enqueue_bulk(r, &in[8], 4), 0); /* only 3 free */
    assert_int_equal(vf_ring_count(r), 5);
    assert_int_equal(vf_ring_enqueue_bulk(r, &in[8], 3), 3);
    assert_int_equal(vf_ring_free_count(r), 0);

    assert_int_equal(vf_ring_dequeue_burst(r, out, 16), 8);
    for (unsigned i = 0; i < 5; i++)
        assert_ptr_equal(out[i], in[3 + i]);
    for (unsigned i = 0; i < 3; i++)
        assert_ptr_equal(out[5 + i], in[8 + i]);
    assert_int_equal(vf_ring_dequeue_bulk(r, out, 1), 0);
    assert_int_equal(vf_ring_dequeue_burst(r, out, 1), 0);
    assert_int_equal(vf_ring_dequeue_burst(r, out, 0), 0);
    assert_int_equal(vf_ring_count(r), 0);
    vf_ring_destroy(r);
}

/* A fill bound below the size: never passed, changeable between calls,
 * and one lowered below the fill level takes nothing until the consumer
 * brings the ring under it. */
static void test_burst_max(void **state)
{
    (void)state;
    struct vf_ring *r = vf_ring_create(16, -1);
    assert_non_null(r);
    void *in[32], *out[32];
    for (unsigned i = 0; i < 32; i++)
        in[i] = tok(i + 1);

    assert_int_equal(vf_ring_enqueue_burst_max(r, in, 10, 5), 5);
    assert_int_equal(vf_ring_enqueue_burst_max(r, in + 5, 10, 5), 0);
    assert_int_equal(vf_ring_count(r), 5);
    assert_int_equal(vf_ring_dequeue_burst(r, out, 2), 2);
    assert_int_equal(vf_ring_enqueue_burst_max(r, in + 5, 10, 5), 2);
    assert_int_equal(vf_ring_count(r), 5);
    /* Lowered below the fill level: nothing until it drains under 3. */
    assert_int_equal(vf_ring_enqueue_burst_max(r, in + 7, 10, 3), 0);
    assert_int_equal(vf_ring_dequeue_burst(r, out + 2, 2), 2);
    assert_int_equal(vf_ring_enqueue_burst_max(r, in + 7, 10, 3), 0);
    assert_int_equal(vf_ring_dequeue_burst(r, out + 4, 1), 1);
    assert_int_equal(vf_ring_enqueue_burst_max(r, in + 7, 10, 3), 1);
    /* A bound over the size is the size. */
    assert_int_equal(vf_ring_enqueue_burst_max(r, in + 8, 24, 1000), 13);
    assert_int_equal(vf_ring_count(r), 16);
    /* FIFO order across all of it. */
    assert_int_equal(vf_ring_dequeue_burst(r, out + 5, 32), 16);
    for (unsigned i = 0; i < 21; i++)
        assert_ptr_equal(out[i], in[i]);
    vf_ring_destroy(r);
}

/* Random burst/bulk operations checked against a plain array FIFO. Returns
 * after `ops` operations; the ring starts at whatever indices it has. */
static void run_against_model(struct vf_ring *r, uint32_t size, unsigned ops,
                              uint64_t seed)
{
    enum { MODEL_CAP = 4096 };
    assert_true(size <= MODEL_CAP);
    static uint64_t model[MODEL_CAP];
    unsigned m_head = 0, m_len = 0;   /* circular model */
    uint64_t next = 1;
    void *buf[80];
    uint64_t s = seed;
    for (unsigned op = 0; op < ops; op++) {
        unsigned n = rnd(&s) % (size + 9);   /* sometimes more than fits */
        if (n > 80)
            n = 80;
        unsigned kind = rnd(&s) % 4;
        if (kind < 2) {
            for (unsigned i = 0; i < n; i++)
                buf[i] = tok(next + i);
            unsigned room = size - m_len;
            unsigned want = kind == 0 ? (n <= room ? n : room)     /* burst */
                                      : (n <= room ? n : 0);       /* bulk */
            unsigned got = kind == 0 ? vf_ring_enqueue_burst(r, buf, n)
                                     : vf_ring_enqueue_bulk(r, buf, n);
            assert_int_equal(got, want);
            for (unsigned i = 0; i < got; i++)
                model[(m_head + m_len + i) % MODEL_CAP] = next + i;
            m_len += got;
            next += got;
        } else {
            unsigned want = kind == 2 ? (n <= m_len ? n : m_len)
                                      : (n <= m_len ? n : 0);
            unsigned got = kind == 2 ? vf_ring_dequeue_burst(r, buf, n)
                                     : vf_ring_dequeue_bulk(r, buf, n);
            assert_int_equal(got, want);
            for (unsigned i = 0; i < got; i++)
                assert_ptr_equal(buf[i], tok(model[(m_head + i) % MODEL_CAP]));
            m_head = (m_head + got) % MODEL_CAP;
            m_len -= got;
        }
        assert_int_equal(vf_ring_count(r), m_len);
        assert_int_equal(vf_ring_free_count(r), size - m_len);
    }
    /* Drain what is left, still in order. */
    while (m_len > 0) {
        unsigned got = vf_ring_dequeue_burst(r, buf, 80);
        assert_true(got > 0);
        for (unsigned i = 0; i < got; i++)
            assert_ptr_equal(buf[i], tok(model[(m_head + i) % MODEL_CAP]));
        m_head = (m_head + got) % MODEL_CAP;
        m_len -= got;
    }
    assert_int_equal(vf_ring_count(r), 0);
}

static void test_order_model(void **state)
{
    (void)state;
    const uint32_t sizes[] = {2, 8, 32, 64};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct vf_ring *r = vf_ring_create(sizes[i], -1);
        assert_non_null(r);
        run_against_model(r, sizes[i], 20000, 0x9e3779b97f4a7c15ull + i);
        vf_ring_destroy(r);
    }
}

/* Many laps of a small ring, and the 32-bit indices wrapping past 2^32:
 * the indices are set just below the wrap (white box: the fields are part
 * of the public struct) so the model run crosses it. */
static void test_wraparound(void **state)
{
    (void)state;
    struct vf_ring *r = vf_ring_create(16, -1);
    assert_non_null(r);
    void *buf[16];
    uint64_t next = 1, expect = 1;
    for (unsigned lap = 0; lap < 100000; lap++) {
        unsigned n = 1 + lap % 16;
        for (unsigned i = 0; i < n; i++)
            buf[i] = tok(next++);
        assert_int_equal(vf_ring_enqueue_bulk(r, buf, n), n);
        assert_int_equal(vf_ring_count(r), n);
        assert_int_equal(vf_ring_dequeue_bulk(r, buf, n), n);
        for (unsigned i = 0; i < n; i++)
            assert_ptr_equal(buf[i], tok(expect++));
    }
    vf_ring_destroy(r);

    r = vf_ring_create(32, -1);
    assert_non_null(r);
    const uint32_t start = UINT32_MAX - 100;
    atomic_store(&r->head, start);
    atomic_store(&r->tail, start);
    r->head_cache = start;
    r->tail_cache = start;
    run_against_model(r, 32, 5000, 42);
    assert_true(atomic_load(&r->head) < start);   /* it did wrap */
    vf_ring_destroy(r);
}

/* ---- two-thread stress: strict order and no loss ---- */

#define STRESS_ITEMS 5000000ull
#define STRESS_DEADLINE_S 120.0

struct stress {
    struct vf_ring *r;
    double deadline;
    uint64_t produced;
    uint64_t consumed;
    uint64_t order_errors;
};

static void *stress_producer(void *arg)
{
    struct stress *st = arg;
    void *buf[64];
    uint64_t next = 1, s = 7;
    unsigned idle = 0;
    while (next <= STRESS_ITEMS) {
        unsigned n = 1 + rnd(&s) % 64;
        if (n > STRESS_ITEMS - next + 1)
            n = (unsigned)(STRESS_ITEMS - next + 1);
        for (unsigned i = 0; i < n; i++)
            buf[i] = tok(next + i);
        unsigned k = (rnd(&s) & 1) ? vf_ring_enqueue_burst(st->r, buf, n)
                                   : vf_ring_enqueue_bulk(st->r, buf, n);
        next += k;
        if (k == 0 && (++idle & 255) == 0) {
            if (now_s() > st->deadline)
                break;
            sched_yield();   /* two shared cores: let the consumer run */
        }
    }
    st->produced = next - 1;
    return NULL;
}

static void *stress_consumer(void *arg)
{
    struct stress *st = arg;
    void *buf[64];
    uint64_t expect = 1, s = 11;
    unsigned idle = 0;
    while (expect <= STRESS_ITEMS) {
        unsigned n = 1 + rnd(&s) % 64;
        unsigned k = (rnd(&s) & 1) ? vf_ring_dequeue_burst(st->r, buf, n)
                                   : vf_ring_dequeue_bulk(st->r, buf, n);
        for (unsigned i = 0; i < k; i++) {
            if (buf[i] != tok(expect))
                st->order_errors++;
            expect++;
        }
        if (k == 0 && (++idle & 255) == 0) {
            if (now_s() > st->deadline)
                break;
            sched_yield();
        }
    }
    st->consumed = expect - 1;
    return NULL;
}

static void test_stress_spsc(void **state)
{
    (void)state;
    struct stress st = {0};
    st.r = vf_ring_create(256, -1);
    assert_non_null(st.r);
    st.deadline = now_s() + STRESS_DEADLINE_S;
    pthread_t prod, cons;
    assert_int_equal(pthread_create(&cons, NULL, stress_consumer, &st), 0);
    assert_int_equal(pthread_create(&prod, NULL, stress_producer, &st), 0);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    assert_int_equal(st.order_errors, 0);
    assert_int_equal(st.produced, STRESS_ITEMS);
    assert_int_equal(st.consumed, STRESS_ITEMS);
    assert_int_equal(vf_ring_count(st.r), 0);
    vf_ring_destroy(st.r);
}

/* ---- the ring port ---- */

static struct vf_pkt port_pkts[128];

static void init_pkts(void)
{
    for (unsigned i = 0; i < 128; i++) {
        memset(&port_pkts[i], 0, sizeof(port_pkts[i]));
        port_pkts[i].len = 60 + i;
        port_pkts[i].port = 0xffff;
        port_pkts[i].user = i;
    }
}

static void test_port_open_errors(void **state)
{
    (void)state;
    assert_null(vf_ring_port_open("bad", 1, 3, -1));
    assert_null(vf_ring_port_open("bad", 1, 0, -1));
    assert_null(vf_ring_port_open("bad", 0, 64, -1));
    assert_null(vf_ring_port_open("bad", VF_PORT_MAX_QUEUES + 1, 64, -1));
    vf_port_close(NULL);
}

static void test_port_round_trip(void **state)
{
    (void)state;
    init_pkts();
    struct vf_port *p = vf_ring_port_open("ring0", 2, 64, -1);
    assert_non_null(p);
    assert_string_equal(p->ops->type, "ring");
    assert_string_equal(p->name, "ring0");
    assert_int_equal(p->n_queues, 2);
    p->index = 5;

    int fd0 = p->ops->wait_fd(p, 0), fd1 = p->ops->wait_fd(p, 1);
    assert_true(fd0 >= 0 && fd1 >= 0 && fd0 != fd1);
    assert_int_equal(p->ops->wait_fd(p, 2), -1);
    assert_non_null(vf_ring_port_rx_ring(p, 1));
    assert_non_null(vf_ring_port_tx_ring(p, 1));
    assert_true(vf_ring_port_rx_ring(p, 1) != vf_ring_port_tx_ring(p, 1));
    assert_null(vf_ring_port_rx_ring(p, 2));
    assert_null(vf_ring_port_tx_ring(p, 2));

    struct vf_pkt *in[128], *out[128];
    for (unsigned i = 0; i < 128; i++)
        in[i] = &port_pkts[i];

    /* inject on queue 1 only; queue 0 stays empty */
    assert_int_equal(vf_ring_port_inject(p, 1, in, 10), 10);
    assert_int_equal(vf_port_rx_burst(p, 0, out, 32, NULL), 0);
    assert_int_equal(vf_port_rx_burst(p, 2, out, 32, NULL), 0);
    assert_int_equal(vf_port_rx_burst(p, 1, out, 4, NULL), 4);
    assert_int_equal(vf_port_rx_burst(p, 1, &out[4], 32, NULL), 6);
    uint64_t rx_bytes = 0;
    for (unsigned i = 0; i < 10; i++) {
        assert_ptr_equal(out[i], in[i]);
        assert_int_equal(out[i]->port, 5);
        rx_bytes += in[i]->len;
    }
    assert_int_equal(atomic_load(&p->qstats[1].rx_pkts), 10);
    assert_int_equal(atomic_load(&p->qstats[1].rx_bytes), rx_bytes);
    assert_int_equal(atomic_load(&p->qstats[0].rx_pkts), 0);

    /* tx what we received, drain it on the outside, same order */
    assert_int_equal(vf_port_tx_burst(p, 1, out, 10, NULL), 10);
    struct vf_pkt *drained[128];
    assert_int_equal(vf_ring_port_drain(p, 0, drained, 128), 0);
    assert_int_equal(vf_ring_port_drain(p, 1, drained, 128), 10);
    for (unsigned i = 0; i < 10; i++)
        assert_ptr_equal(drained[i], in[i]);
    assert_int_equal(atomic_load(&p->qstats[1].tx_pkts), 10);
    assert_int_equal(atomic_load(&p->qstats[1].tx_bytes), rx_bytes);

    /* tx more than fits: a prefix is accepted and only it is counted; the
     * chunking inside tx_burst is crossed (100 > VF_BURST_MAX). */
    assert_int_equal(vf_port_tx_burst(p, 0, in, 14, NULL), 14);
    assert_int_equal(vf_port_tx_burst(p, 0, &in[14], 100, NULL), 50);
    uint64_t tx_bytes = 0;
    for (unsigned i = 0; i < 64; i++)
        tx_bytes += in[i]->len;
    assert_int_equal(atomic_load(&p->qstats[0].tx_pkts), 64);
    assert_int_equal(atomic_load(&p->qstats[0].tx_bytes), tx_bytes);
    assert_int_equal(atomic_load(&p->qstats[0].tx_drops), 0); /* caller's job */
    assert_int_equal(vf_port_tx_burst(p, 0, &in[64], 1, NULL), 0);
    assert_int_equal(vf_ring_port_drain(p, 0, drained, 128), 64);
    for (unsigned i = 0; i < 64; i++)
        assert_ptr_equal(drained[i], in[i]);

    /* inject into a full rx ring: partial */
    assert_int_equal(vf_ring_port_inject(p, 0, in, 100), 64);
    assert_int_equal(vf_ring_port_inject(p, 0, in, 1), 0);
    assert_int_equal(vf_ring_port_inject(p, 2, in, 1), 0);
    assert_int_equal(vf_port_rx_burst(p, 0, out, 128, NULL), 64);

    struct vf_port_stats sum;
    vf_port_stats_sum(p, &sum);
    assert_int_equal(sum.rx_pkts, 10 + 64);
    assert_int_equal(sum.tx_pkts, 10 + 64);
    assert_int_equal(sum.tx_bytes, rx_bytes + tx_bytes);
    assert_int_equal(sum.tx_drops, 0);
    assert_int_equal(sum.rx_errors, 0);
    vf_port_close(p);
}

/* The tx budget (vf_port.h): a ring port never holds more than it on a tx
 * queue, takes more as the drainer makes room, and 0 means the ring size. */
static void test_port_tx_budget(void **state)
{
    (void)state;
    init_pkts();
    struct vf_port *p = vf_ring_port_open("ring0", 2, 64, -1);
    assert_non_null(p);
    assert_int_equal(p->tx_hold, 64);
    assert_int_equal(p->rx_hold, 0);
    assert_int_equal(vf_port_tx_limit(p), 64);
    struct vf_pkt *in[128], *drained[128];
    for (unsigned i = 0; i < 128; i++)
        in[i] = &port_pkts[i];

    vf_port_set_tx_budget(p, 20);
    assert_int_equal(vf_port_tx_limit(p), 20);
    assert_int_equal(vf_port_tx_burst(p, 0, in, 50, NULL), 20);
    assert_int_equal(vf_port_tx_burst(p, 0, in + 20, 5, NULL), 0);
    assert_int_equal(vf_port_tx_burst(p, 1, in + 20, 30, NULL), 20);  /* per queue */
    assert_int_equal(vf_ring_port_drain(p, 0, drained, 7), 7);
    assert_int_equal(vf_port_tx_burst(p, 0, in + 40, 30, NULL), 7);
    /* A budget over the ring's size is the size. */
    vf_port_set_tx_budget(p, 1000);
    assert_int_equal(vf_port_tx_limit(p), 64);
    assert_int_equal(vf_port_tx_burst(p, 0, in + 47, 81, NULL), 44);
    assert_int_equal(atomic_load(&p->qstats[0].tx_pkts), 20 + 7 + 44);
    assert_int_equal(vf_ring_port_drain(p, 0, drained + 7, 128), 64);
    for (unsigned i = 0; i < 71; i++)
        assert_ptr_equal(drained[i], in[i < 20 ? i : i + 20]);   /* q1 took 20..39 */
    assert_int_equal(vf_ring_port_drain(p, 1, drained, 128), 20);
    vf_port_close(p);
}

static int fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc = poll(&pfd, 1, timeout_ms);
    return rc > 0 && (pfd.revents & POLLIN);
}

/* The kick is sent exactly when the worker announced sleep, and a wake
 * clears it. Also shows that a bypassing enqueue (no kick) leaves the fd
 * quiet with data waiting, the condition the sleep test detects. */
static void test_port_kick(void **state)
{
    (void)state;
    init_pkts();
    struct vf_port *p = vf_ring_port_open("kick", 1, 64, -1);
    assert_non_null(p);
    int fd = p->ops->wait_fd(p, 0);
    struct vf_pkt *in[4] = {&port_pkts[0], &port_pkts[1], &port_pkts[2],
                            &port_pkts[3]}, *out[4];

    assert_int_equal(vf_ring_port_inject(p, 0, in, 1), 1);
    assert_false(fd_readable(fd, 0));          /* awake: no kick */

    vf_ring_port_set_sleeping(p, 0, 1);
    assert_int_equal(vf_ring_enqueue_burst(vf_ring_port_rx_ring(p, 0),
                                           (void **)&in[1], 1), 1);
    assert_false(fd_readable(fd, 20));         /* bypassed: no kick */
    assert_int_equal(vf_ring_port_inject(p, 0, &in[2], 1), 1);
    assert_true(fd_readable(fd, 0));           /* asleep: kicked */
    vf_ring_port_set_sleeping(p, 0, 0);
    assert_false(fd_readable(fd, 0));          /* wake cleared it */
    assert_int_equal(vf_port_rx_burst(p, 0, out, 4, NULL), 3);
    vf_port_close(p);
}

/* ---- sleep/wake stress: a worker that sleeps when idle ---- */

#define SLEEP_ITEMS 30000u
#define SLEEP_POLL_MS 500
#define SLEEP_DEADLINE_S 60.0

static struct vf_pkt sleep_pkts[SLEEP_ITEMS];

struct sleep_test {
    struct vf_port *p;
    double deadline;
    _Atomic unsigned received;   /* worker: rw, injector: ro */
    unsigned order_errors;
    unsigned lost_wakeups;   /* poll timed out while packets were waiting */
    unsigned sleeps;         /* polls that ended by a kick */
    unsigned injected;
    _Atomic int worker_done; /* the injector stops when the worker gave up */
};

static void *sleep_worker(void *arg)
{
    struct sleep_test *t = arg;
    struct vf_port *p = t->p;
    int fd = p->ops->wait_fd(p, 0);
    struct vf_pkt *buf[32];
    while (t->received < SLEEP_ITEMS && now_s() < t->deadline) {
        unsigned n = vf_port_rx_burst(p, 0, buf, 32, NULL);
        if (n == 0) {
            /* the protocol of port_ring.c: announce, re-check, sleep */
            vf_ring_port_set_sleeping(p, 0, 1);
            n = vf_port_rx_burst(p, 0, buf, 32, NULL);
            if (n == 0) {
                if (fd_readable(fd, SLEEP_POLL_MS)) {
                    t->sleeps++;
                } else if (vf_ring_count(vf_ring_port_rx_ring(p, 0)) > 0) {
                    t->lost_wakeups++;
                    vf_ring_port_set_sleeping(p, 0, 0);
                    break;
                }
            }
            vf_ring_port_set_sleeping(p, 0, 0);
        }
        unsigned got = atomic_load(&t->received);
        for (unsigned i = 0; i < n; i++) {
            if (buf[i]->user != got)
                t->order_errors++;
            got++;
        }
        atomic_store(&t->received, got);
    }
    atomic_store(&t->worker_done, 1);
    return NULL;
}

static void *sleep_injector(void *arg)
{
    struct sleep_test *t = arg;
    struct vf_pkt *buf[8];
    uint64_t s = 99;
    unsigned next = 0;
    while (next < SLEEP_ITEMS && now_s() < t->deadline &&
           !atomic_load(&t->worker_done)) {
        unsigned n = 1 + rnd(&s) % 8;
        if (n > SLEEP_ITEMS - next)
            n = SLEEP_ITEMS - next;
        for (unsigned i = 0; i < n; i++)
            buf[i] = &sleep_pkts[next + i];
        next += vf_ring_port_inject(t->p, 0, buf, n);
        /* Pauses of varied length so the worker often goes to sleep and is
         * often caught right in the middle of announcing it. Waiting for
         * delivery makes each burst the last one for a while: a lost kick
         * is then not repaired by the next inject, and the worker's poll
         * times out with data waiting. */
        uint64_t r = rnd(&s) % 16;
        if (r < 3) {
            while (atomic_load(&t->received) < next &&
                   !atomic_load(&t->worker_done) && now_s() < t->deadline)
                sched_yield();
        } else if (r < 5)
            usleep((useconds_t)(rnd(&s) % 200));
        else if (r < 8)
            for (volatile unsigned spin = rnd(&s) % 2000; spin > 0; spin--)
                ;
        else if (r < 9)
            sched_yield();
    }
    t->injected = next;
    return NULL;
}

static void test_port_sleep_wake(void **state)
{
    (void)state;
    for (unsigned i = 0; i < SLEEP_ITEMS; i++) {
        memset(&sleep_pkts[i], 0, sizeof(sleep_pkts[i]));
        sleep_pkts[i].len = 64;
        sleep_pkts[i].user = i;
    }
    struct sleep_test t = {0};
    t.p = vf_ring_port_open("sleepy", 1, 64, -1);
    assert_non_null(t.p);
    t.deadline = now_s() + SLEEP_DEADLINE_S;
    pthread_t w, inj;
    assert_int_equal(pthread_create(&w, NULL, sleep_worker, &t), 0);
    assert_int_equal(pthread_create(&inj, NULL, sleep_injector, &t), 0);
    pthread_join(inj, NULL);
    pthread_join(w, NULL);
    print_message("sleeps %u lost %u\n", t.sleeps, t.lost_wakeups);
    assert_int_equal(t.lost_wakeups, 0);
    assert_int_equal(t.order_errors, 0);
    assert_int_equal(t.injected, SLEEP_ITEMS);
    assert_int_equal(t.received, SLEEP_ITEMS);
    assert_true(t.sleeps > 0);   /* the protocol was really exercised */
    assert_int_equal(atomic_load(&t.p->qstats[0].rx_pkts), SLEEP_ITEMS);
    vf_port_close(t.p);
}

/* The ring port's capabilities and drain op (vf_port.h): packets injected
 * but never received, and sent but never drained, go back to their pool
 * with one call, as mgmt does before it closes a port. */
static void test_port_drain_op(void **state)
{
    (void)state;
    char err[128];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 256, VF_PKT_DEFAULT_DATA_ROOM,
                                          err, sizeof(err));
    assert_non_null(pool);
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    assert_non_null(c);
    vf_pool_cache_init(c, pool);
    struct vf_port *p = vf_ring_port_open("ring0", 2, 64, -1);
    assert_non_null(p);
    assert_true(vf_port_has(p, VF_PORT_CAP_IN_MEMORY));
    assert_false(vf_port_has(p, VF_PORT_CAP_MQ_RX));
    assert_false(vf_port_has(p, VF_PORT_CAP_GSO_TX));
    assert_false(vf_port_gone(p));
    assert_false(vf_port_info(p, NULL));   /* nothing of its own to say */
    struct vf_pkt *b[40];
    assert_int_equal(vf_pool_alloc_burst(c, b, 40), 40);
    assert_int_equal(vf_ring_port_inject(p, 0, b, 10), 10);       /* rx q0 */
    assert_int_equal(vf_ring_port_inject(p, 1, b + 10, 10), 10);  /* rx q1 */
    assert_int_equal(vf_port_tx_burst(p, 1, b + 20, 20, c), 20);  /* tx q1 */
    assert_int_equal(vf_pool_in_use(pool), 40);
    vf_port_drain(p, c);
    vf_pool_cache_flush(c);
    assert_int_equal(vf_pool_in_use(pool), 0);
    struct vf_pkt *none[4];
    assert_int_equal(vf_ring_port_drain(p, 1, none, 4), 0);
    vf_port_close(p);
    vf_pool_destroy(pool);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_burst_bulk),
        cmocka_unit_test(test_burst_max),
        cmocka_unit_test(test_order_model),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_port_open_errors),
        cmocka_unit_test(test_port_round_trip),
        cmocka_unit_test(test_port_drain_op),
        cmocka_unit_test(test_port_tx_budget),
        cmocka_unit_test(test_port_kick),
        cmocka_unit_test(test_stress_spsc),
        cmocka_unit_test(test_port_sleep_wake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
