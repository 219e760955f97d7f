/* vf_port.h - the one port interface every fabric backend implements.
 *
 * What: a port is where packets enter and leave vfab: a tenant port (ring,
 * tap, ...) or the uplink toward the underlay (ring, UDP, verbs). Each port
 * has n_queues queues; each queue is served by exactly one worker, which is
 * the only thread that calls rx_burst/tx_burst on it.
 *
 * Contract of the ops:
 *   rx_burst(port, q, pkts, n, cache): fills up to n packets (buffers taken
 *     from `cache`, the calling worker's pool cache) and returns how many.
 *     pkt->port is set to port->index.
 *   tx_burst(port, q, pkts, n, cache): takes ownership of the packets it
 *     accepts and returns how many (a prefix of pkts). The caller frees the
 *     rest and counts them as tx drops; backends never free what they did
 *     not accept. It never lets queue q hold more than vf_port_tx_limit()
 *     packets.
 *   wait_fd(port, q): a file descriptor that becomes readable when queue q
 *     has work, so an idle worker can sleep in poll(); -1 if it has none.
 *   sleep_notify: optional, see below.
 *   close: releases everything; safe on a half-opened port.
 *   drain, gone, info: optional, see "Capabilities and optional ops".
 *
 * Counters: per queue, written only by the queue's worker, summed by mgmt
 * (vf_port_stats_sum). Reads from mgmt may be a burst stale; they are
 * 64-bit relaxed atomics so no read is torn. What each means (the names
 * are shown by `vfabctl stats` and the metrics, so they are stable):
 *   rx_errors   real receive failures of the backend: a read or receive
 *               that failed, a truncated datagram or frame, a bad vnet
 *               header, the device gone. Never a shortage of buffers.
 *   rx_no_buffer  frames the backend received and dropped because its
 *               pool had no fresh buffer to refill its receive ring with.
 *   pipe_no_buffer packets for this port, or from it, that the pipeline
 *               dropped because the worker's pool was empty (a flood copy
 *               for it, a segment or datagram split from its frame).
 *   tx_drops    packets the port did not take: its tx queue or tx budget
 *               was full (the pipeline counts them as tx_queue_full), or
 *               the backend refused a frame it accepted.
 * rx_no_buffer + pipe_no_buffer is the port's `no_buffer`; summed over all
 * ports it is the `no_buffer` drop reason.
 *
 * Buffers a port holds (what keeps one port from draining a pool). A
 * worker's pool (numa/vf_pool.h) feeds every port queue the worker
 * serves, so what one queue may keep is bounded, and mgmt sizes the pool
 * for the sum (mgmt/daemon/vf_budget.h). Each backend states at open, per
 * queue:
 *   rx_hold   buffers of its rx pool it keeps: a receive ring or window,
 *             received frames staged for the next rx_burst;
 *   tx_hold   the most packets it keeps on tx by its own bound: a ring's
 *             size, sends or writes in flight.
 * A tenant port's tx (what a stalled reader, a hung VM, lets pile up) is
 * further bounded by tx_budget, which mgmt sets from the pool size and
 * the port count and may change at any time: tx_burst never lets the
 * queue hold more than min(tx_hold, tx_budget) packets, and refuses the
 * rest, which the caller drops as tx_queue_full on this port. So a queue
 * nobody drains costs its own packets, never another port's buffers.
 *
 * Capabilities and optional ops. Nothing outside a backend decides by
 * the backend's name (ops->type is for people: stats, metrics, logs).
 * What the pipeline and mgmt may assume of a port is in p->caps
 * (VF_PORT_CAP_*), set by the backend at open. A capability that depends
 * on the far side (vhost-user's GSO_TX follows the guest's negotiated
 * features) is changed by the backend on the management thread; readers
 * load it relaxed, so a worker may act on the old value for a burst, and
 * the backend then refuses what it cannot take, counted under its own name
 * (guest_cannot_take_gso). The optional ops (NULL: the port has nothing to
 * say) are reached through vf_port_drain/vf_port_gone/vf_port_info:
 *   drain(p, c): gives back to cache c the buffers still queued inside the
 *     port (a ring port's rings), called by mgmt when no worker polls the
 *     port any more, before close (which has no cache to free into);
 *   gone(p): true once the device has vanished under the port
 *     (VF_PORT_CAP_CAN_VANISH: a deleted tap); any thread, relaxed;
 *   info(p, sink): the backend's own facts (device, mode, offload
 *     counters) as key/value pairs for stats; mgmt turns them into JSON, so
 *     fabric/ needs no JSON library. Management thread.
 *
 * Thread-safety: open/close from the management thread while no worker
 * serves the port; rx/tx per queue from that queue's worker only.
 */
#ifndef VF_PORT_H
#define VF_PORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "numa/vf_pkt.h"
#include "numa/vf_pool.h"

#define VF_PORT_NAME_MAX 64
#define VF_PORT_MAX_QUEUES 64

/* Capabilities (p->caps; see "Capabilities and optional ops"). */
/* tx_burst takes a TCP GSO frame (pkt->gso_size) whole and the far side
 * segments it (tap; vhost-user with the guest's GUEST_TSO4 and TSO6). */
#define VF_PORT_CAP_GSO_TX (1u << 0)
/* tx_burst takes a UDP GSO batch of tunnel datagrams (vf_segment.h's
 * vf_seg_tunnel_batch; the UDP uplink). */
#define VF_PORT_CAP_UDP_GSO (1u << 1)
/* The far side spreads received traffic over all queues, so worker w polls
 * queue w (tap, vhost-user, the UDP and verbs uplinks); without it a
 * tenant port's queue 0 is polled by one worker. */
#define VF_PORT_CAP_MQ_RX (1u << 2)
/* The device can vanish under the port; ops->gone says when it has. */
#define VF_PORT_CAP_CAN_VANISH (1u << 3)
/* The far side is in this process: a generator or test injects and drains
 * in memory (the ring port: vf_ring_port_inject/drain). */
#define VF_PORT_CAP_IN_MEMORY (1u << 4)
/* Not a capability but the far side's state: nobody is there to take
 * frames now (a vhost-user port whose guest is not connected or has not
 * negotiated yet), so tx_burst takes none, and the worker counts what it
 * gets back as port_down rather than tx_queue_full. Changed by the backend
 * on the management thread, like GSO_TX. */
#define VF_PORT_CAP_FAR_DOWN (1u << 5)

struct vf_port;

struct vf_port_q_stats {
    _Atomic uint64_t rx_pkts;   /* worker: rw (relaxed), mgmt: ro */
    _Atomic uint64_t rx_bytes;
    _Atomic uint64_t tx_pkts;
    _Atomic uint64_t tx_bytes;
    _Atomic uint64_t tx_drops;  /* not taken (tx full, over budget, refused) */
    _Atomic uint64_t rx_errors; /* backend receive failures, never buffers */
    _Atomic uint64_t rx_no_buffer;   /* worker: rw (relaxed), mgmt: ro */
    /* any worker: atomic add (failure path only), mgmt: ro */
    _Atomic uint64_t pipe_no_buffer;
} __attribute__((aligned(64)));

/* Adds n to a counter that has one writer (a queue's worker): a relaxed
 * load and store, no locked add; readers' relaxed loads see no torn value. */
static inline void vf_stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

struct vf_port_stats {
    uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_drops, rx_errors;
    uint64_t no_buffer;      /* rx_no_buffer + pipe_no_buffer */
    uint64_t rx_no_buffer;
};

/* Where a backend's info op writes its facts: one call per key, keys
 * unique within the port, strings copied by the callee before it returns.
 * A dotted key ("rings.0.kicks") names a nested fact: JSON shows it as
 * nested objects (vhost-user's per-ring counters). */
struct vf_port_info_sink {
    void (*str)(void *arg, const char *key, const char *val);
    void (*u64)(void *arg, const char *key, uint64_t val);
    void (*flag)(void *arg, const char *key, bool val);
    void *arg;
};

struct vf_port_ops {
    /* "ring", "tap", "udp", "verbs", "vhost-user": a name for people,
     * never compared (decisions read p->caps). */
    const char *type;
    unsigned (*rx_burst)(struct vf_port *p, unsigned q, struct vf_pkt **pkts,
                         unsigned n, struct vf_pool_cache *cache);
    unsigned (*tx_burst)(struct vf_port *p, unsigned q, struct vf_pkt **pkts,
                         unsigned n, struct vf_pool_cache *cache);
    int (*wait_fd)(struct vf_port *p, unsigned q);
    /* Optional. The worker calls it with sleeping=1 before it sleeps on
     * wait_fd and with 0 when it wakes. A backend whose producers must kick
     * a sleeping worker (ring ports) records the state, and clears its
     * wait_fd on wake. With sleeping=1 it returns nonzero when the queue
     * already has work, so the worker must not sleep (no lost wake-up). */
    int (*sleep_notify)(struct vf_port *p, unsigned q, int sleeping);
    void (*close)(struct vf_port *p);
    /* Optional, see "Capabilities and optional ops". */
    void (*drain)(struct vf_port *p, struct vf_pool_cache *c);
    bool (*gone)(const struct vf_port *p);
    void (*info)(const struct vf_port *p, const struct vf_port_info_sink *s);
};

struct vf_port {
    const struct vf_port_ops *ops;
    char name[VF_PORT_NAME_MAX];
    /* Position in the worker-visible port table, stamped into pkt->port by
     * rx_burst. mgmt: w once, after open and before the port is in any
     * worker's rx set (whose publication orders the store); worker: ro. */
    uint32_t index;
    unsigned n_queues;
    void *priv;          /* backend state */
    struct vf_port_q_stats *qstats; /* n_queues entries */
    /* Per queue, set by the backend at open, ro afterwards (see "Buffers a
     * port holds" above). */
    uint32_t rx_hold;
    uint32_t tx_hold;
    /* mgmt: w (vf_port_set_tx_budget), worker: r (relaxed, once per
     * tx_burst). 0 until mgmt sets one: tx_hold alone bounds the queue. */
    _Atomic uint32_t tx_budget;
    /* VF_PORT_CAP_* bits. backend: w (at open; later only on the mgmt
     * thread, vf_port_set_caps); worker, mgmt: r (relaxed). */
    _Atomic uint32_t caps;
};

/* Whether p has every capability in cap. */
static inline bool vf_port_has(const struct vf_port *p, uint32_t cap)
{
    return (atomic_load_explicit(&p->caps, memory_order_relaxed) & cap) == cap;
}

/* Backend (open, or the management thread): sets or clears cap. Relaxed: a
 * worker acting on the old value for a burst is what "Capabilities" allows
 * for; one writer, so the load and store need no read-modify-write. */
static inline void vf_port_set_caps(struct vf_port *p, uint32_t cap, bool on)
{
    uint32_t c = atomic_load_explicit(&p->caps, memory_order_relaxed);
    atomic_store_explicit(&p->caps, on ? c | cap : c & ~cap,
                          memory_order_relaxed);
}

/* The most packets one of p's queues may hold on tx now. */
static inline uint32_t vf_port_tx_limit(const struct vf_port *p)
{
    uint32_t b = atomic_load_explicit(&p->tx_budget, memory_order_relaxed);
    return b && b < p->tx_hold ? b : p->tx_hold;
}

/* mgmt: sets p's tx budget (0: none). Relaxed: a worker that still uses
 * the old value for a burst holds at most that many more. */
static inline void vf_port_set_tx_budget(struct vf_port *p, uint32_t budget)
{
    atomic_store_explicit(&p->tx_budget, budget, memory_order_relaxed);
}

/* Helpers for backends: allocate/free the port and its per-queue stats. */
struct vf_port *vf_port_alloc(const struct vf_port_ops *ops, const char *name,
                              unsigned n_queues);
void vf_port_free(struct vf_port *p);   /* frees qstats and p, not priv */

/* The smallest power of two >= v (1 for 0), v <= 2^31: ring and queue
 * sizes. Bounded by 32 steps. */
static inline unsigned vf_pow2_ceil(unsigned v)
{
    unsigned r = 1;
    while (r < v)
        r <<= 1;
    return r;
}

static inline unsigned vf_port_rx_burst(struct vf_port *p, unsigned q,
                                        struct vf_pkt **pkts, unsigned n,
                                        struct vf_pool_cache *c)
{
    return p->ops->rx_burst(p, q, pkts, n, c);
}

static inline unsigned vf_port_tx_burst(struct vf_port *p, unsigned q,
                                        struct vf_pkt **pkts, unsigned n,
                                        struct vf_pool_cache *c)
{
    return p->ops->tx_burst(p, q, pkts, n, c);
}

static inline void vf_port_close(struct vf_port *p)
{
    if (p)
        p->ops->close(p);
}

void vf_port_stats_sum(const struct vf_port *p, struct vf_port_stats *out);

/* The optional ops; each does nothing (or says no) for a port without it. */
static inline void vf_port_drain(struct vf_port *p, struct vf_pool_cache *c)
{
    if (p && p->ops->drain)
        p->ops->drain(p, c);
}

static inline bool vf_port_gone(const struct vf_port *p)
{
    return p && p->ops->gone && p->ops->gone(p);
}

/* false when p has no facts of its own to give. */
static inline bool vf_port_info(const struct vf_port *p,
                                const struct vf_port_info_sink *s)
{
    if (!p || !p->ops->info)
        return false;
    p->ops->info(p, s);
    return true;
}

/* ---- the in-memory ring port (port_ring.c) ----
 * Each queue has two SPSC rings: `rx` (the outside world -> vfab: a traffic
 * generator, a test, or another vfabd's uplink produces; the worker consumes)
 * and `tx` (vfab -> outside: the worker produces; a sink consumes), which the
 * worker fills to at most vf_port_tx_limit() (tx_hold is the ring size).
 * wait_fd is an eventfd that vf_ring_port_inject() writes when the worker
 * said it is going to sleep (vf_ring_port_set_sleeping), so an idle worker
 * costs no CPU and still wakes on the first packet.
 */
struct vf_ring;
struct vf_port *vf_ring_port_open(const char *name, unsigned n_queues,
                                  unsigned ring_size, int numa_node);
struct vf_ring *vf_ring_port_rx_ring(struct vf_port *p, unsigned q);
struct vf_ring *vf_ring_port_tx_ring(struct vf_port *p, unsigned q);
/* Outside side: put packets on queue q's rx ring (wakes a sleeping worker);
 * get packets the worker sent from queue q's tx ring. */
unsigned vf_ring_port_inject(struct vf_port *p, unsigned q,
                             struct vf_pkt **pkts, unsigned n);
unsigned vf_ring_port_drain(struct vf_port *p, unsigned q,
                            struct vf_pkt **pkts, unsigned n);
/* Worker side: announce sleep (1) or wake (0) so injectors know to kick.
 * Waking also clears the eventfd, so the worker never reads it itself; the
 * re-check of the rx ring after announcing sleep is the caller's (the
 * ring port's sleep_notify op does both). */
void vf_ring_port_set_sleeping(struct vf_port *p, unsigned q, int sleeping);

#endif
