/* worker.c - the worker loop: poll, process, flush, quiesce, sleep when idle.
 *
 * One worker thread runs to completion on its own core: no locks, no
 * malloc, no syscall except the fabric's rx/tx and the idle sleep. See
 * vf_worker.h for the ownership of every field.
 *
 * The one file of pipeline/ that does I/O (ARCHITECTURE: pipeline/ works
 * on bursts in memory): the loop's idle path polls the ports' wait fds and
 * its kick eventfd, reads its own /proc schedstat to adapt the spin, and
 * yields; none of it runs per packet. Everything a packet meets is in
 * process.c and the stages, which tests and benchmarks drive directly.
 */
#include <errno.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "numa/vf_cycles.h"
#include "pipeline/vf_capture.h"
#include "pipeline/vf_tables.h"
#include "pipeline/vf_worker.h"

#define VF_WORKER_SLEEP_MS 100   /* longest sleep: bounds stop latency */

int vf_worker_init(struct vf_worker *w, unsigned id, struct vf_pool *pool,
                   unsigned fc_entries)
{
    if (!pool)
        return -EINVAL;   /* before any field: fini keys on cache.pool */
    w->id = id;
    vf_pool_cache_init(&w->cache, pool);
    w->stage = calloc(VF_MAX_FPORTS, sizeof(*w->stage));
    w->fc = vf_fc_create(fc_entries ? fc_entries : 4096, w->numa_node);
    w->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->frag = vf_ct_frag_create();
    if (!w->stage || !w->fc || w->kick_fd < 0 || !w->frag) {
        vf_worker_fini(w);
        return -ENOMEM;
    }
    w->n_dirty = 0;
    w->n_dropped = 0;
    return 0;
}

void vf_worker_fini(struct vf_worker *w)
{
    if (!w)
        return;
    if (w->stage) {
        vf_worker_flush(w);
        free(w->stage);
        w->stage = NULL;
    }
    vf_fc_destroy(w->fc);
    w->fc = NULL;
    free(w->frag);
    w->frag = NULL;
    if (w->ct.ct)
        vf_ct_worker_fini(&w->ct);
    w->ct.ct = NULL;
    /* The eventfd may be descriptor 0 (a process started without stdin);
     * a zeroed worker that init never saw has kick_fd 0 too, and no pool. */
    if (w->cache.pool && w->kick_fd >= 0)
        close(w->kick_fd);
    w->kick_fd = -1;
    if (w->cache.pool)
        vf_pool_cache_flush(&w->cache);
}

int vf_worker_attach_ct(struct vf_worker *w, struct vf_ct *ct, unsigned index,
                        unsigned n_sweepers)
{
    int rc = vf_ct_worker_init(&w->ct, ct, index, n_sweepers);
    if (rc)
        w->ct.ct = NULL;
    w->ct_now = w->ct_swept_at = vf_ct_now_ms();
    w->ct_sweep_owed = 0;
    return rc;
}

void vf_worker_ct_sweep(struct vf_worker *w)
{
    uint64_t pass = w->ct_pass_ms ? w->ct_pass_ms : VF_WORKER_CT_PASS_MS;
    uint64_t share = w->ct.sweep_hi - w->ct.sweep_lo;
    uint64_t dt = w->ct_now - w->ct_swept_at;

    if (!w->ct.ct || !share)
        return;
    w->ct_swept_at = w->ct_now;
    /* Owed: share x elapsed / pass buckets, at most one pass (an idle
     * worker that slept does not owe more than a walk of its share). */
    w->ct_sweep_owed += share * (dt < pass ? dt : pass);
    if (w->ct_sweep_owed > share * pass)
        w->ct_sweep_owed = share * pass;
    uint64_t n = w->ct_sweep_owed / pass;
    if (n == 0)
        return;
    if (n > VF_WORKER_CT_SWEEP_MAX)
        n = VF_WORKER_CT_SWEEP_MAX;
    w->ct_sweep_owed -= n * pass;
    vf_ct_sweep(&w->ct, w->ct_now, (unsigned)n);
}

bool vf_worker_icmp_budget(struct vf_worker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    if ((uint64_t)ts.tv_sec != w->icmp_sec) {
        w->icmp_sec = (uint64_t)ts.tv_sec;
        w->icmp_left = VF_WORKER_ICMP_PER_S;
    }
    if (w->icmp_left == 0)
        return false;
    w->icmp_left--;
    return true;
}

void vf_worker_kick(struct vf_worker *w)
{
    uint64_t one = 1;
    if (w->kick_fd >= 0)
        (void)!write(w->kick_fd, &one, sizeof(one));
}

void vf_worker_flush_port(struct vf_worker *w, struct vf_tx_stage *s)
{
    if (s->n == 0)
        return;
    struct vf_port *port = s->port;
    unsigned q = w->txq < port->n_queues ? w->txq : 0;
    if (__builtin_expect(w->cap_now != NULL, 0) &&
        port->index == w->cap_now->port_index)
        vf_capture_copy_burst(w->cap_now, s->pkts, s->n, VF_CAPTURE_TO_VM);
    unsigned sent = vf_port_tx_burst(port, q, s->pkts, s->n, &w->cache);
    vf_stat_add(&w->stats.tx_pkts, sent);
    if (sent < s->n) {
        unsigned lost = s->n - sent;
        vf_pool_free_burst(&w->cache, s->pkts + sent, lost);
        vf_worker_count_drop(w, vf_port_has(port, VF_PORT_CAP_FAR_DOWN)
                                ? VF_DROP_PORT_DOWN : VF_DROP_TX_FULL, lost);
        atomic_fetch_add_explicit(&port->qstats[q].tx_drops, lost,
                                  memory_order_relaxed);
    }
    s->n = 0;
}

void vf_worker_flush(struct vf_worker *w)
{
    vf_worker_free_dropped(w);
    for (unsigned i = 0; i < w->n_dirty; i++) {
        struct vf_tx_stage *s = &w->stage[w->dirty[i]];
        vf_worker_flush_port(w, s);
        s->dirty = 0;
    }
    w->n_dirty = 0;
}

unsigned vf_worker_poll_once(struct vf_worker *w)
{
    struct vf_pkt *pkts[VF_BURST_MAX];
    unsigned burst = w->rx_burst && w->rx_burst <= VF_BURST_MAX ? w->rx_burst
                                                                : VF_WORKER_BURST;
    /* One table snapshot per iteration: every packet of the iteration sees
     * the same generation, and the pointer is dropped before quiescing. */
    const struct vf_tables *t = rcu_dereference(*w->tables);
    const struct vf_rxq_set *rs = rcu_dereference(w->rxqs);
    unsigned total = 0;
    unsigned n_rxq = rs ? rs->n : 0;
    /* Acquire: pairs with mgmt's release store of a fully built tap. */
    w->cap_now = atomic_load_explicit(&w->capture, memory_order_acquire);
    if (w->ct.ct)
        w->ct_now = vf_ct_now_ms();   /* one clock read for the iteration */

    /* Tells mgmt (and the churn stress test) which tables this worker
     * forwards with. Relaxed: mgmt only reads the number (stats, the
     * test's progress check); nothing is published through it. */
    if (t)
        atomic_store_explicit(&w->stats.generation, t->generation,
                              memory_order_relaxed);

    for (unsigned i = 0; i < n_rxq; i++) {
        const struct vf_rxq *rq = &rs->q[i];
        unsigned n = vf_port_rx_burst(rq->port, rq->queue, pkts,
                                      burst, &w->cache);
        if (n == 0)
            continue;
        total += n;
        if (__builtin_expect(w->cap_now != NULL, 0) &&
            rq->port->index == w->cap_now->port_index)
            vf_capture_copy_burst(w->cap_now, pkts, n, VF_CAPTURE_FROM_VM);
        /* With no tables yet (t == NULL) the pipeline drops the burst as
         * unknown_in_port: nothing can be forwarded. */
        vf_pipeline_burst(w, t, pkts, n);
        /* Latency over batching: this queue's packets leave before the
         * next queue is polled. */
        if (w->flush_per_queue)
            vf_worker_flush(w);
    }
    vf_worker_flush(w);
    w->cap_now = NULL;   /* not held past the quiescent state */
    if (w->ct.ct)
        vf_worker_ct_sweep(w);
    vf_stat_add(&w->stats.polls, 1);
    if (total) {
        vf_stat_add(&w->stats.rx_pkts, total);
        vf_stat_add(&w->stats.bursts, 1);
    }
    return total;
}

static int notify_sleep(const struct vf_rxq_set *rs, int sleeping)
{
    int pending = 0;
    for (unsigned i = 0; rs && i < rs->n; i++) {
        struct vf_port *p = rs->q[i].port;
        if (p->ops->sleep_notify)
            pending |= p->ops->sleep_notify(p, rs->q[i].queue, sleeping);
    }
    return pending;
}

/* The worker's run-queue wait so far in ns (the second field of
 * /proc/thread-self/schedstat: time it was runnable but not running), or
 * UINT64_MAX when the kernel does not say (no CONFIG_SCHED_INFO). */
static uint64_t run_delay_ns(int fd)
{
    char buf[96];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
    unsigned long long run = 0, wait = 0;

    if (n <= 0)
        return UINT64_MAX;
    buf[n] = 0;
    if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
        return UINT64_MAX;
    return wait;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Blocks until a queue has work, the worker is kicked, or
 * VF_WORKER_SLEEP_MS passes. The worker stays RCU-online: the rx set and
 * its ports cannot be freed under it, and publishers kick it before they
 * wait for a grace period. */
static void worker_sleep(struct vf_worker *w)
{
    struct pollfd pfd[VF_WORKER_MAX_RXQ + 1];
    const struct vf_rxq_set *rs = rcu_dereference(w->rxqs);
    unsigned n = 0;
    bool all_have_fd = true;

    pfd[n++] = (struct pollfd){.fd = w->kick_fd, .events = POLLIN};
    for (unsigned i = 0; rs && i < rs->n; i++) {
        struct vf_port *p = rs->q[i].port;
        int fd = p->ops->wait_fd ? p->ops->wait_fd(p, rs->q[i].queue) : -1;
        if (fd < 0) {
            all_have_fd = false;
            continue;
        }
        pfd[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }

    vf_stat_add(&w->stats.sleeps, 1);
    /* The announcement re-checks the queues: a packet injected between our
     * last empty poll and the announcement is seen here, not after a sleep. */
    int pending = notify_sleep(rs, 1);
    if (!pending && !atomic_load_explicit(&w->stop, memory_order_acquire))
        /* Queues without a wait fd are polled every 1 ms while idle. */
        (void)poll(pfd, n, all_have_fd ? VF_WORKER_SLEEP_MS : 1);
    if (pfd[0].revents & POLLIN) {
        uint64_t v;
        (void)!read(w->kick_fd, &v, sizeof(v));
    }
    notify_sleep(rs, 0);
}

/* Busy polling: one syscall per this many empty polls (a power of two;
 * milliseconds of idling, so the cost does not show in latency). */
#define BUSY_SYSCALL_EVERY 65536u

/* Before each sleep: drops the spin budget to VF_WORKER_SPIN_MIN when,
 * since its last sleep, the worker waited for its CPU for more than
 * VF_WORKER_SPIN_WAIT_NS and more than 1/VF_WORKER_SPIN_WAIT_SHARE of the
 * time (the CPU is shared: its spinning takes time from the threads that
 * feed it, and it waits for them in turn), and otherwise doubles it, up to
 * idle_polls_before_sleep. On a core of its own the run-queue wait stays
 * near zero, and a kernel thread's occasional turn during a long busy
 * spell is a small share of it, so the spin stays whole. One pread per
 * sleep, which already costs a poll(). */
static void adapt_spin(struct vf_worker *w)
{
    uint64_t wait = run_delay_ns(w->schedstat_fd), now = mono_ns();
    unsigned b = w->spin_budget, cap = w->idle_polls_before_sleep;

    if (wait == UINT64_MAX)
        return;
    uint64_t waited = wait - w->last_run_delay, span = now - w->last_sleep_ns;
    if (waited > VF_WORKER_SPIN_WAIT_NS && waited > span / VF_WORKER_SPIN_WAIT_SHARE) {
        b = VF_WORKER_SPIN_MIN;
        vf_stat_add(&w->stats.spin_cuts, 1);
    } else {
        b = b > cap / 2 ? cap : b * 2;
    }
    w->spin_budget = b < cap ? b : cap;
    w->last_run_delay = wait;
    w->last_sleep_ns = now;
    atomic_store_explicit(&w->stats.spin_budget, w->spin_budget, memory_order_relaxed);
}

void *vf_worker_run(void *arg)
{
    struct vf_worker *w = arg;
    unsigned empty = 0;

    w->spin_budget = w->idle_polls_before_sleep;
    w->schedstat_fd = w->fixed_spin ? -1
                                    : open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    w->last_run_delay = run_delay_ns(w->schedstat_fd);
    w->last_sleep_ns = mono_ns();
    atomic_store_explicit(&w->stats.spin_budget, w->spin_budget, memory_order_relaxed);
    rcu_register_thread();
    while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
        uint64_t t0 = vf_cycles();
        unsigned n = vf_worker_poll_once(w);
        uint64_t dt = vf_cycles() - t0;
        rcu_quiescent_state();
        if (n) {
            vf_stat_add(&w->stats.busy_tsc, dt);
            empty = 0;
            continue;
        }
        vf_stat_add(&w->stats.idle_tsc, dt);
        if (w->idle_polls_before_sleep && ++empty >= w->spin_budget) {
            if (!w->fixed_spin)
                adapt_spin(w);
            worker_sleep(w);
            empty = 0;
        } else if (!w->idle_polls_before_sleep && (++empty & (BUSY_SYSCALL_EVERY - 1)) == 0) {
            /* A busy-polling worker makes no syscall while idle, so
             * io_uring task work queued to it without an IPI (cooperative
             * task work: the cancels of a port being closed, completions
             * whose ring's TASKRUN flag it does not poll) would wait for
             * the next timer tick, or much longer on a nohz_full core.
             * Any syscall runs it on the way back to user space. */
            sched_yield();
        }
    }
    vf_worker_flush(w);
    if (w->schedstat_fd >= 0)
        close(w->schedstat_fd);
    rcu_unregister_thread();
    return NULL;
}
