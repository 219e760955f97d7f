/* vf_worker.h - a pipeline worker: one pinned thread, its queues, its state.
 *
 * What: a worker owns a set of rx queues (a tenant port's queue, an uplink
 * queue), a pool cache, a flow cache and counters. vf_worker_run() loops:
 * read the published tables once, poll each rx queue for a burst, hand the
 * burst to vf_pipeline_burst() (the logical pipeline, process.c), which ends
 * every packet in exactly one of: vf_worker_enqueue_tx() (staged for output),
 * vf_worker_drop() (counted by reason and freed), or consumed (e.g. a flood
 * original after its copies). Then vf_worker_flush() sends the staged
 * packets with one tx_burst per output port, and the worker announces a
 * QSBR quiescent state: it holds no table pointer between bursts.
 *
 * Idle: after `idle_polls_before_sleep` empty polls in a row the worker
 * sleeps in poll() on its queues' wait fds and its own kick eventfd (with a
 * 1 ms timeout when a queue has no wait fd), so an idle vfabd costs no CPU.
 * Setting it to 0 means pure busy polling (a tuning choice).
 * The spin is adaptive unless `fixed_spin`: before each sleep, a worker
 * that waited for its CPU since its last sleep (over VF_WORKER_SPIN_WAIT_NS
 * of run-queue wait in /proc/thread-self/schedstat, and over 1/20 of the
 * time: the CPU is shared with other runnable threads) drops its budget of
 * empty polls to
 * VF_WORKER_SPIN_MIN, and one that did not doubles it, up to
 * idle_polls_before_sleep. On a core of its own a worker keeps the full
 * spin; on a shared one its spinning only delays the threads that feed it
 * (measured: tenant TCP over taps on a 2-CPU host, 4.1-4.3 Gb/s with a
 * fixed spin of 1024, 4.5-4.9 adaptive). Where the kernel has no
 * schedstat (no CONFIG_SCHED_INFO) the spin stays fixed. A sleeping
 * worker stays RCU-online, so the ports and tables it holds stay alive;
 * whoever publishes a change kicks every worker first (vf_worker_kick), so
 * a grace period still lasts only a wake-up.
 *
 * Rx queues: the set a worker polls is published like the tables (mgmt
 * rcu_assign_pointer, worker rcu_dereference once per iteration), so ports
 * can be added and removed while traffic runs.
 *
 * Conntrack (stateful ACLs): a worker attached to the host's connection
 * table (vf_worker_attach_ct) reads the clock once per iteration
 * (ct_now, what every lookup of the iteration uses) and, after the
 * iteration's bursts, sweeps its share of the table for expired
 * connections: a budget of buckets proportional to the time since the
 * last sweep, so its share is walked once per ct_pass_ms (default
 * VF_WORKER_CT_PASS_MS) whatever the loop's rate, and at most
 * VF_WORKER_CT_SWEEP_MAX buckets per iteration (a bounded pause).
 *
 * Thread-safety: everything here is owned by the worker thread, except:
 * `stats` (worker: rw relaxed, mgmt: ro), `stop` (mgmt: w, worker: r),
 * `tables` (mgmt publishes with rcu_assign_pointer; worker reads with
 * rcu_dereference once per burst), and the identity fields set before the
 * thread starts (ro afterwards).
 */
#ifndef VF_WORKER_H
#define VF_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fabric/vf_port.h"
#include "numa/vf_drop.h"
#include "numa/vf_pool.h"
#include "pipeline/vf_conntrack.h"
#include "pipeline/vf_flow_cache.h"
#include "pipeline/vf_tables.h"   /* VF_MAX_FPORTS */

#define VF_WORKER_MAX_RXQ 256
#define VF_WORKER_BURST 32
#define VF_WORKER_SPIN_MIN 16  /* least adaptive spin, in empty polls */
#define VF_WORKER_ICMP_PER_S 1000u  /* ICMP errors a worker sends per second */
#define VF_WORKER_SPIN_WAIT_NS 20000u  /* run-queue wait that means "shared", */
#define VF_WORKER_SPIN_WAIT_SHARE 20u  /* if also over 1/20 of the time */
#define VF_WORKER_CT_PASS_MS 10000u /* conntrack: sweep the share this often */
#define VF_WORKER_CT_SWEEP_MAX 256u /* buckets swept per iteration at most */

struct vf_ct_frag; /* pipeline/stage_ct.c: first fragments passed */
struct vf_capture_tap;  /* pipeline/vf_capture.h: copies for `vfabctl capture` */

struct vf_rxq {
    struct vf_port *port;
    unsigned queue;
};

/* The rx queues one worker polls; immutable once published. */
struct vf_rxq_set {
    unsigned n;
    struct vf_rxq q[VF_WORKER_MAX_RXQ];
};

/* Counters of one worker. Each is written by its worker only (relaxed
 * stores) and summed by mgmt (relaxed loads): no read is torn, a read may
 * be one burst stale. One exception: mgmt sets the spin_budget gauge once
 * before the worker's thread starts. */
struct vf_worker_stats {
    _Atomic uint64_t rx_pkts;
    _Atomic uint64_t tx_pkts;
    _Atomic uint64_t bursts;        /* non-empty rx bursts */
    _Atomic uint64_t polls;         /* rx polls, empty or not */
    _Atomic uint64_t sleeps;        /* times the worker went to sleep */
    _Atomic uint64_t busy_tsc;      /* TSC cycles in non-empty iterations */
    _Atomic uint64_t idle_tsc;      /* TSC cycles in empty iterations */
    _Atomic uint64_t generation;    /* tables generation last seen */
    _Atomic uint64_t spin_budget;   /* empty polls before the next sleep */
    _Atomic uint64_t spin_cuts;     /* sleeps that found the worker preempted */
    _Atomic uint64_t icmp_frag_needed; /* ICMP answers to too-big packets */
    _Atomic uint64_t reject_answers;   /* TCP RST / ICMP unreachable sent
                                        * for reject ACLs */
    _Atomic uint64_t reject_unanswered; /* rejected, but no answer went:
                                         * rate limit, no buffer, or a
                                         * sender it cannot reach */
    _Atomic uint64_t drops[VF_DROP__COUNT];
} __attribute__((aligned(64)));

struct vf_tx_stage {
    struct vf_port *port;
    unsigned n;
    unsigned dirty;              /* listed in w->dirty[] until the flush */
    struct vf_pkt *pkts[VF_BURST_MAX];
};

struct vf_worker {
    /* identity: set by mgmt before start, ro afterwards */
    unsigned id;
    int cpu;
    int numa_node;
    unsigned idle_polls_before_sleep;   /* 0 = busy poll; the spin's cap */
    bool fixed_spin;       /* always spin idle_polls_before_sleep: no adapting */
    unsigned txq;          /* tx queue this worker uses on multi-queue ports */
    unsigned rx_burst;     /* packets per rx poll, <= VF_BURST_MAX; 0 = 32 */
    unsigned tx_batch;     /* staged per port before a send; 0 = VF_BURST_MAX */
    bool flush_per_queue;  /* flush after each rx queue's burst, not per poll */
    unsigned ct_pass_ms;   /* conntrack sweep period; 0 = VF_WORKER_CT_PASS_MS */

    /* mgmt: w (rcu_assign_pointer), worker: r (rcu_dereference) */
    struct vf_tables **tables;
    /* mgmt: w (rcu_assign_pointer), worker: r (rcu_dereference) */
    struct vf_rxq_set *rxqs;
    _Atomic bool stop;     /* mgmt: w, worker: r */
    /* mgmt: w (release store; frees after a grace period), worker: r
     * (acquire load once per iteration). NULL: no capture, no cost. */
    struct vf_capture_tap *_Atomic capture;
    int kick_fd;           /* eventfd: mgmt writes, the sleeping worker reads */

    /* worker-private */
    struct vf_pool_cache cache;
    struct vf_flow_cache *fc;
    unsigned n_dirty;
    uint16_t dirty[VF_MAX_FPORTS];      /* fabric indexes with staged pkts:
                                         * one entry per port at most, so it
                                         * cannot overflow */
    struct vf_tx_stage *stage;          /* VF_MAX_FPORTS entries, lazily used */
    unsigned n_dropped;                 /* dropped[] holds packets dropped */
    struct vf_pkt *dropped[VF_BURST_MAX];  /* since the last free: one pool
                                         * free per burst, not per drop */
    struct vf_capture_tap *cap_now;     /* `capture` for this iteration */
    unsigned spin_budget;               /* empty polls before sleeping now */
    int schedstat_fd;                   /* /proc/thread-self/schedstat or -1 */
    uint64_t last_run_delay;            /* its run-queue wait at last sleep */
    uint64_t last_sleep_ns;             /* CLOCK_MONOTONIC at last sleep */
    uint64_t icmp_sec;                  /* second of the ICMP budget */
    unsigned icmp_left;                 /* ICMP answers left this second */
    /* Its context on the host's connection table (ct.ct NULL: none; ct.stats
     * is read by mgmt as vf_conntrack.h says), the clock every lookup of
     * the iteration uses (ms, vf_ct_now_ms; tests driving
     * vf_pipeline_burst set it themselves), the sweep's bookkeeping, and
     * the first fragments its stateful ports passed. */
    struct vf_ct_worker ct;
    uint64_t ct_now;
    uint64_t ct_swept_at;               /* ct_now of the last sweep */
    uint64_t ct_sweep_owed;             /* buckets owed x pass period */
    struct vf_ct_frag *frag;

    struct vf_worker_stats stats;
} __attribute__((aligned(64)));

/* Sets up the private parts (pool cache, flow cache of fc_entries, tx
 * staging, the kick eventfd). 0, -EINVAL without a pool, or -ENOMEM. */
int vf_worker_init(struct vf_worker *w, unsigned id, struct vf_pool *pool,
                   unsigned fc_entries);
/* Releases what init set up; accepts a zeroed worker (one init never saw:
 * it closes no descriptor, not even 0) and a second call. */
void vf_worker_fini(struct vf_worker *w);
/* Gives the worker a context on the host's connection table: it is the
 * index-th of n_sweepers workers that share the sweeping (its id). Before
 * the thread starts. 0 or -ENOSPC (vf_ct_worker_init). */
int vf_worker_attach_ct(struct vf_worker *w, struct vf_ct *ct, unsigned index,
                        unsigned n_sweepers);
/* Sweeps what the worker owes of its share at ct_now (bounded: at most
 * VF_WORKER_CT_SWEEP_MAX buckets); vf_worker_poll_once calls it. */
void vf_worker_ct_sweep(struct vf_worker *w);
/* Wakes the worker if it sleeps (any thread; async-signal-safe). */
void vf_worker_kick(struct vf_worker *w);

/* The thread body: runs until w->stop. Registers with RCU itself. */
void *vf_worker_run(void *w);
/* One iteration (poll every rx queue once, process, flush); returns the
 * number of packets received. The caller must be an RCU-registered thread
 * and announce quiescent states itself. Tests and benchmarks drive this. */
unsigned vf_worker_poll_once(struct vf_worker *w);

/* The worker is the only writer of its counters (see vf_worker_stats):
 * a relaxed load and store, no locked add per dropped packet. */
static inline void vf_worker_count_drop(struct vf_worker *w, unsigned reason,
                                        uint64_t n)
{
    vf_stat_add(&w->stats.drops[reason], n);
}

/* Counts n packets lost because the worker's pool was empty: the no_buffer
 * drop, and on `port` (may be NULL), the port that did not get them or
 * whose frame they came from (vf_port.h, pipe_no_buffer). A failure path:
 * the atomic add lets several workers share a queue's counter. */
static inline void vf_worker_count_no_buffer(struct vf_worker *w,
                                             struct vf_port *port, uint64_t n)
{
    vf_worker_count_drop(w, VF_DROP_NO_BUFFER, n);
    if (port) {
        unsigned q = w->txq < port->n_queues ? w->txq : 0;
        atomic_fetch_add_explicit(&port->qstats[q].pipe_no_buffer, n,
                                  memory_order_relaxed);
    }
}

/* The fragment table of stateful ports (stage_ct.c); free() frees it. */
struct vf_ct_frag *vf_ct_frag_create(void);

/* One ICMP (or reject) answer from the worker's budget of
 * VF_WORKER_ICMP_PER_S a second: true if it may send one now. */
bool vf_worker_icmp_budget(struct vf_worker *w);

/* Frees the packets dropped since the last call, in one pool free: the
 * end of vf_pipeline_burst and vf_worker_flush call it. */
static inline void vf_worker_free_dropped(struct vf_worker *w)
{
    if (w->n_dropped) {
        vf_pool_free_burst(&w->cache, w->dropped, w->n_dropped);
        w->n_dropped = 0;
    }
}

/* Counts the drop by reason and frees the packet: at the end of the burst
 * with the burst's other drops (one vf_pool_free_burst, one update of the
 * pool's shared in-use counter, instead of one per packet), or now when
 * VF_BURST_MAX are waiting. The caller must not touch p again. */
static inline void vf_worker_drop(struct vf_worker *w, struct vf_pkt *p,
                                  unsigned reason)
{
    vf_worker_count_drop(w, reason, 1);
    if (w->n_dropped == VF_BURST_MAX)
        vf_worker_free_dropped(w);
    w->dropped[w->n_dropped++] = p;
}

void vf_worker_flush_port(struct vf_worker *w, struct vf_tx_stage *s);

/* Stages p for output on fabric port `port` (tx queue w->txq, or 0 if the
 * port has fewer queues): nothing is sent until the stage fills (then that
 * port's stage is sent) or vf_worker_flush() runs. */
static inline void vf_worker_enqueue_tx(struct vf_worker *w,
                                        struct vf_port *port, struct vf_pkt *p)
{
    struct vf_tx_stage *s = &w->stage[port->index];
    if (s->n == 0) {
        s->port = port;
        if (!s->dirty) {         /* not yet listed for this flush */
            s->dirty = 1;
            w->dirty[w->n_dirty++] = (uint16_t)port->index;
        }
    }
    s->pkts[s->n++] = p;
    if (s->n >= (w->tx_batch ? w->tx_batch : VF_BURST_MAX))
        vf_worker_flush_port(w, s);
}

/* Sends every staged packet: one tx_burst per port; what a port does not
 * accept is freed and counted as VF_DROP_TX_FULL, or VF_DROP_PORT_DOWN
 * when the port's far side is not there (VF_PORT_CAP_FAR_DOWN). */
void vf_worker_flush(struct vf_worker *w);

/* Implemented by the logical pipeline (pipeline/process.c): processes a
 * burst received on one rx queue against tables t. Every packet ends in
 * vf_worker_enqueue_tx, vf_worker_drop, or is freed. */
void vf_pipeline_burst(struct vf_worker *w, const struct vf_tables *t,
                       struct vf_pkt **pkts, unsigned n);

#endif
