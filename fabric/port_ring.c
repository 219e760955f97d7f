/* port_ring.c - the in-memory ring port (vf_port.h, "ring").
 *
 * Each queue has an rx ring (outside -> worker), a tx ring (worker ->
 * outside) and an eventfd the worker can sleep on. Roles per queue, each
 * one thread at a time because the rings are SPSC:
 *   - the queue's worker: rx_burst, tx_burst, vf_ring_port_set_sleeping;
 *   - one injector (the outside producer): vf_ring_port_inject;
 *   - one drainer (the outside consumer): vf_ring_port_drain.
 *
 * Sleep/wake protocol (no lost wakeup):
 *   worker, when idle:
 *     1. vf_ring_port_set_sleeping(p, q, 1): stores sleeping = 1, then a
 *        seq_cst fence;
 *     2. re-checks the rx ring (rx_burst, or vf_ring_count of the rx ring);
 *        if it is not empty: vf_ring_port_set_sleeping(p, q, 0), go on;
 *     3. poll()s wait_fd (with any timeout it likes);
 *     4. vf_ring_port_set_sleeping(p, q, 0): reads the eventfd to clear it,
 *        then stores sleeping = 0.
 *   injector: enqueues on the rx ring (release store of head), seq_cst fence,
 *   loads sleeping; if it is 1, writes 1 to the eventfd.
 * Why nothing is lost: the two fences order "store sleeping, load head"
 * against "store head, load sleeping" (the store-buffering pattern), so at
 * least one side sees the other's store. Either the worker's re-check in
 * step 2 sees the packets, or the injector sees sleeping == 1 and writes the
 * eventfd after step 1. The eventfd is read only by set_sleeping(0), which
 * ends the sleep attempt; so that write either ends the poll of this attempt
 * (step 3), or is consumed by the step 2/4 that ends it, and then the packets
 * are still in the ring for the worker to find before its next attempt's
 * re-check. A write that lands after step 4 leaves the eventfd readable and
 * the next poll returns at once: one spurious wakeup, never a lost one.
 *
 * Tx budget: the tx ring is filled to at most vf_port_tx_limit() packets
 * (the ring's size, or less when mgmt set a budget), so a drainer that
 * stops holds that many of the worker's buffers and no more.
 *
 * Packets still in the rings at close are not freed: the port does not know
 * where they came from (tests and benchmarks pass buffers that belong to no
 * pool), so whoever injected them drains them before closing: the drain op
 * (vf_port_drain) does it for pool buffers, as mgmt's injectors use.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "fabric/vf_port.h"
#include "fabric/vf_ring.h"

struct ring_port_q {
    /* read-only after open; read by the worker and the outside threads */
    alignas(VF_CACHE_LINE) struct vf_ring *rx;
    struct vf_ring *tx;
    int efd;
    /* worker: rw, injector: ro. On its own line so a sleep announcement does
     * not invalidate the line the rx/tx paths read every burst. */
    alignas(VF_CACHE_LINE) _Atomic int sleeping;
};

struct ring_port {
    unsigned n_queues;
    struct ring_port_q q[];
};

static inline struct ring_port_q *ring_q(struct vf_port *p, unsigned q)
{
    struct ring_port *rp = p->priv;
    return q < rp->n_queues ? &rp->q[q] : NULL;
}

/* Counters have one writer (the queue's worker), so a relaxed load and store
 * is enough and avoids a locked read-modify-write on the hot path; readers
 * only need untorn 64-bit values. */
static unsigned ring_rx_burst(struct vf_port *p, unsigned q,
                              struct vf_pkt **pkts, unsigned n,
                              struct vf_pool_cache *cache)
{
    (void)cache;   /* the buffers come from the injector, not our pool */
    struct ring_port_q *rq = ring_q(p, q);
    if (!rq)
        return 0;
    unsigned got = vf_ring_dequeue_burst(rq->rx, (void **)pkts, n);
    if (got == 0)
        return 0;
    uint64_t bytes = 0;
    uint16_t idx = (uint16_t)p->index;
    for (unsigned i = 0; i < got; i++) {
        pkts[i]->port = idx;
        bytes += pkts[i]->len;
    }
    struct vf_port_q_stats *s = &p->qstats[q];
    vf_stat_add(&s->rx_pkts, got);
    vf_stat_add(&s->rx_bytes, bytes);
    return got;
}

static unsigned ring_tx_burst(struct vf_port *p, unsigned q,
                              struct vf_pkt **pkts, unsigned n,
                              struct vf_pool_cache *cache)
{
    (void)cache;
    struct ring_port_q *rq = ring_q(p, q);
    if (!rq)
        return 0;
    /* Lengths are read before the enqueue: once a packet is on the tx ring
     * the drainer owns it and may already be changing or freeing it. Chunks
     * of VF_BURST_MAX bound the local prefix-sum array. */
    uint64_t cum[VF_BURST_MAX];
    unsigned sent = 0;
    uint64_t bytes = 0;
    /* The tx budget (vf_port.h): what a reader that stopped leaves here is
     * bounded by it, not by the ring's size. */
    const uint32_t limit = vf_port_tx_limit(p);
    while (sent < n) {
        unsigned m = n - sent < VF_BURST_MAX ? n - sent : VF_BURST_MAX;
        uint64_t sum = 0;
        for (unsigned i = 0; i < m; i++) {
            sum += pkts[sent + i]->len;
            cum[i] = sum;
        }
        unsigned k = vf_ring_enqueue_burst_max(rq->tx, (void *const *)&pkts[sent],
                                               m, limit);
        if (k > 0)
            bytes += cum[k - 1];
        sent += k;
        if (k < m)
            break;   /* tx ring at its limit: the caller frees and counts the rest */
    }
    if (sent > 0) {
        struct vf_port_q_stats *s = &p->qstats[q];
        vf_stat_add(&s->tx_pkts, sent);
        vf_stat_add(&s->tx_bytes, bytes);
    }
    return sent;
}

static int ring_wait_fd(struct vf_port *p, unsigned q)
{
    struct ring_port_q *rq = ring_q(p, q);
    return rq ? rq->efd : -1;
}

static void ring_close(struct vf_port *p)
{
    if (!p)
        return;
    struct ring_port *rp = p->priv;
    if (rp) {
        for (unsigned q = 0; q < rp->n_queues; q++) {
            vf_ring_destroy(rp->q[q].rx);
            vf_ring_destroy(rp->q[q].tx);
            if (rp->q[q].efd >= 0)
                close(rp->q[q].efd);
        }
        free(rp);
    }
    vf_port_free(p);
}

/* The worker's side of the sleep protocol through the generic port op:
 * announce, then re-check the rx ring (the fence in set_sleeping orders the
 * re-check after the announcement). */
static int ring_sleep_notify(struct vf_port *p, unsigned q, int sleeping)
{
    vf_ring_port_set_sleeping(p, q, sleeping);
    if (!sleeping)
        return 0;
    struct vf_ring *r = vf_ring_port_rx_ring(p, q);
    return r && vf_ring_count(r) > 0;
}

/* The drain op: both rings of every queue back to their pools through c.
 * No worker polls the port and no injector or drainer runs any more, so
 * this thread is every ring's only consumer. Bounded by the rings' size. */
static void ring_drain(struct vf_port *p, struct vf_pool_cache *c)
{
    struct vf_pkt *b[64];
    for (unsigned q = 0; q < p->n_queues; q++) {
        struct vf_ring *rings[2] = {vf_ring_port_rx_ring(p, q),
                                    vf_ring_port_tx_ring(p, q)};
        for (unsigned r = 0; r < 2; r++) {
            unsigned n;
            while ((n = vf_ring_dequeue_burst(rings[r], (void **)b, 64)))
                vf_pool_free_burst(c, b, n);
        }
    }
}

static const struct vf_port_ops ring_port_ops = {
    .type = "ring",
    .rx_burst = ring_rx_burst,
    .tx_burst = ring_tx_burst,
    .wait_fd = ring_wait_fd,
    .sleep_notify = ring_sleep_notify,
    .close = ring_close,
    .drain = ring_drain,
};

struct vf_port *vf_ring_port_open(const char *name, unsigned n_queues,
                                  unsigned ring_size, int numa_node)
{
    struct vf_port *p = vf_port_alloc(&ring_port_ops, name, n_queues);
    if (!p)
        return NULL;
    size_t bytes = sizeof(struct ring_port) + n_queues * sizeof(struct ring_port_q);
    bytes = (bytes + VF_CACHE_LINE - 1) & ~((size_t)VF_CACHE_LINE - 1);
    struct ring_port *rp = aligned_alloc(VF_CACHE_LINE, bytes);
    if (!rp)
        goto fail;
    memset(rp, 0, bytes);
    rp->n_queues = n_queues;
    for (unsigned q = 0; q < n_queues; q++) {
        rp->q[q].efd = -1;
        atomic_init(&rp->q[q].sleeping, 0);
    }
    p->priv = rp;   /* from here ring_close() can undo a partial open */
    /* Received buffers belong to the injector; sent ones wait in the tx
     * ring until the drainer takes them. */
    p->rx_hold = 0;
    p->tx_hold = ring_size;
    /* One queue per worker would be MQ_RX, but who injects where is the
     * outside's choice: mgmt polls a tenant ring port's queue 0 only. */
    vf_port_set_caps(p, VF_PORT_CAP_IN_MEMORY, true);
    for (unsigned q = 0; q < n_queues; q++) {
        struct ring_port_q *rq = &rp->q[q];
        rq->rx = vf_ring_create(ring_size, numa_node);
        rq->tx = vf_ring_create(ring_size, numa_node);
        rq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!rq->rx || !rq->tx || rq->efd < 0)
            goto fail;
    }
    return p;
fail:
    ring_close(p);
    return NULL;
}

struct vf_ring *vf_ring_port_rx_ring(struct vf_port *p, unsigned q)
{
    struct ring_port_q *rq = ring_q(p, q);
    return rq ? rq->rx : NULL;
}

struct vf_ring *vf_ring_port_tx_ring(struct vf_port *p, unsigned q)
{
    struct ring_port_q *rq = ring_q(p, q);
    return rq ? rq->tx : NULL;
}

unsigned vf_ring_port_inject(struct vf_port *p, unsigned q,
                             struct vf_pkt **pkts, unsigned n)
{
    struct ring_port_q *rq = ring_q(p, q);
    if (!rq)
        return 0;
    unsigned k = vf_ring_enqueue_burst(rq->rx, (void *const *)pkts, n);
    if (k == 0)
        return 0;
    /* Pairs with the fence in vf_ring_port_set_sleeping(1): our head store
     * and their sleeping store cannot both go unseen (see the top comment). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&rq->sleeping, memory_order_relaxed)) {
        uint64_t one = 1;
        /* Can only fail with EAGAIN when the counter is near 2^64, which
         * still leaves the fd readable, so the kick is never lost. */
        ssize_t rc = write(rq->efd, &one, sizeof(one));
        (void)rc;
    }
    return k;
}

unsigned vf_ring_port_drain(struct vf_port *p, unsigned q,
                            struct vf_pkt **pkts, unsigned n)
{
    struct ring_port_q *rq = ring_q(p, q);
    if (!rq)
        return 0;
    return vf_ring_dequeue_burst(rq->tx, (void **)pkts, n);
}

void vf_ring_port_set_sleeping(struct vf_port *p, unsigned q, int sleeping)
{
    struct ring_port_q *rq = ring_q(p, q);
    if (!rq)
        return;
    if (sleeping) {
        atomic_store_explicit(&rq->sleeping, 1, memory_order_relaxed);
        /* Pairs with the fence in vf_ring_port_inject(): the caller's
         * re-check of the rx ring that follows is ordered after this store. */
        atomic_thread_fence(memory_order_seq_cst);
    } else {
        /* Clear the kick before announcing we are awake, so a kick that
         * arrives from now on stays pending for the next sleep (at worst a
         * spurious wakeup). EAGAIN just means nobody kicked. */
        uint64_t v;
        ssize_t rc = read(rq->efd, &v, sizeof(v));
        (void)rc;
        atomic_store_explicit(&rq->sleeping, 0, memory_order_relaxed);
    }
}
