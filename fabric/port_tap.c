/* port_tap.c - the tap port (vf_port_tap.h, "tap").
 *
 * Per queue: one tap fd, one io_uring, one eventfd registered with it.
 *
 * Requests in flight are told apart by their user_data: a packet pointer
 * (descriptors are 64-byte aligned, so the low bits are free) with
 * UD_WRITE_BIT set for a write, clear for a read; the values UD_CANCEL and
 * UD_MSHOT mark the cancel request of close and the multishot read.
 *
 * Two rx modes (vf_port_tap.h): a window of single reads, or one multishot
 * read over a provided-buffer ring of pool packets (bid -> packet in
 * bufs[], free bids on a stack). In both, rx_inflight counts the buffers
 * the kernel may fill (reads in flight, or buffers in the ring).
 *
 * Bounds that keep the rings from overflowing, per queue:
 *   rx_inflight + ready_n <= rx_window     (refill only tops the window up)
 *   tx_inflight           <= tx_depth      (tx accepts no more; nor past
 *                                           the port's tx budget)
 *   rx_window + tx_depth  <= sq entries, and the CQ has twice as many, so
 *   every request ever in flight has a CQ slot: the CQ cannot overflow.
 * The ready FIFO exists because the CQ is shared: tx_burst reaps write
 * completions to free packets, and read completions found on the way must
 * be kept (at most rx_window of them) for the next rx_burst.
 *
 * Which cache feeds the rx window: the worker's (the cache passed to
 * rx_burst) when it serves this queue's pool, otherwise the queue's own
 * cache, which is only touched by the queue's worker (and by open/close,
 * when no worker runs). Completed writes free into whatever cache the call
 * got: freeing to any cache is correct (vf_pool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fabric/vf_port_tap.h"
#include "fabric/vf_uring.h"
#include "fabric/vf_vnet_hdr.h"
#include "numa/vf_err.h"

#define HDR VF_TAP_VNET_HDR_LEN
#define UD_WRITE_BIT 1u   /* low bit of a packet pointer: its write */
#define UD_CANCEL 2u
#define UD_MSHOT 4u
/* IORING_OP_READ_MULTISHOT (Linux 6.7); liburing 2.3's header predates it.
 * Used only when the kernel's probe lists it. */
#define OP_READ_MULTISHOT 49u
#define BGID 0u                 /* each queue has its own ring: one group */
#define REG_CHUNK (1ul << 30)   /* the kernel's limit per registered buffer */
#define REG_MAX_CHUNKS 64u
#define REAP_BATCH 64u
#define CLOSE_WAIT_MS 2000

struct tap_q {
    /* Worker-only state (open/close run when no worker does). */
    alignas(VF_CACHE_LINE) struct io_uring ring;
    int fd;
    int efd;
    bool ring_ok;
    bool dead;             /* this queue saw the device vanish */
    struct vf_pool *pool;  /* rx buffers */
    uint8_t *reg_base;     /* registered region, NULL with plain I/O */
    size_t reg_len;
    unsigned rx_window, rx_inflight;
    unsigned tx_depth, tx_inflight;
    struct vf_pkt **ready; /* FIFO of completed reads, rx_window slots */
    unsigned ready_head, ready_n;
    /* Multishot mode: the provided-buffer ring and who holds which bid. */
    bool mshot, mshot_armed, mshot_ever;
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    struct vf_pkt **bufs;  /* bid -> packet in the ring, rx_window slots */
    unsigned *free_bids, n_free_bids;
    struct vf_pool_cache *own_cache;
    /* Tap-specific counters. worker: rw (relaxed), mgmt: ro. */
    alignas(VF_CACHE_LINE) _Atomic uint64_t rx_csum, rx_gso, rx_bad;
    _Atomic uint64_t tx_gso, tx_errors;
    _Atomic uint64_t rx_rearms;   /* multishot reads re-armed after ending */
};

struct tap_port {
    char ifname[IFNAMSIZ];
    bool fixed_bufs;
    bool tso;
    unsigned n_queues;
    /* Set once by the first worker that sees the device vanish (exchange),
     * read by every worker each burst and by mgmt: rarely written, so the
     * line stays shared. */
    alignas(VF_CACHE_LINE) _Atomic bool gone;
    struct tap_q *q;       /* n_queues entries */
};

static inline struct tap_q *tap_q(struct vf_port *p, unsigned q)
{
    struct tap_port *tp = p->priv;
    return q < tp->n_queues ? &tp->q[q] : NULL;
}

static inline bool in_region(const struct tap_q *tq, const void *a, size_t len,
                             unsigned *idx)
{
    const uint8_t *b = a;
    if (!tq->reg_base || b < tq->reg_base || b + len > tq->reg_base + tq->reg_len)
        return false;
    size_t off = (size_t)(b - tq->reg_base);
    /* Each registered chunk is one buffer index; a range that straddles two
     * chunks cannot be a fixed buffer and goes the plain way. */
    if (off / REG_CHUNK != (off + len - 1) / REG_CHUNK)
        return false;
    *idx = (unsigned)(off / REG_CHUNK);
    return true;
}

/* ---- rx ---------------------------------------------------------------- */

static inline struct vf_pool_cache *rx_cache(struct tap_q *tq,
                                             struct vf_pool_cache *c)
{
    return c && c->pool == tq->pool ? c : tq->own_cache;
}

/* Multishot mode: gives the kernel buffers up to the window and arms the
 * read when it is not; true when there is an SQE to submit. */
static bool rx_refill_mshot(struct tap_q *tq, struct vf_pool_cache *cache)
{
    struct vf_pkt *pkts[VF_BURST_MAX];
    unsigned want = tq->rx_window - tq->rx_inflight - tq->ready_n;
    unsigned added = 0;

    while (want > 0 && tq->n_free_bids > 0) {
        unsigned m = want < VF_BURST_MAX ? want : VF_BURST_MAX;
        m = m < tq->n_free_bids ? m : tq->n_free_bids;
        unsigned got = vf_pool_alloc_burst(rx_cache(tq, cache), pkts, m);
        for (unsigned i = 0; i < got; i++) {
            unsigned bid = tq->free_bids[--tq->n_free_bids];
            tq->bufs[bid] = pkts[i];
            /* As in window mode: the frame lands at VF_PKT_HEADROOM. */
            io_uring_buf_ring_add(tq->br, pkts[i]->buf + VF_PKT_HEADROOM - HDR,
                                  pkts[i]->buf_len - VF_PKT_HEADROOM + HDR,
                                  (unsigned short)bid,
                                  io_uring_buf_ring_mask(tq->rx_window), (int)added++);
        }
        tq->rx_inflight += got;
        if (got < m)
            break;   /* pool dry: the ring stays short until frees */
        want -= m;
    }
    if (added)
        /* Release store: the kernel sees the entries before the tail. */
        io_uring_buf_ring_advance(tq->br, (int)added);
    if (tq->mshot_armed || tq->rx_inflight == 0)
        return false;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&tq->ring);
    if (!sqe)
        return false;   /* cannot happen (bounds above); next burst retries */
    io_uring_prep_rw((int)OP_READ_MULTISHOT, sqe, tq->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, UD_MSHOT);
    tq->mshot_armed = true;
    if (tq->mshot_ever)
        vf_stat_add(&tq->rx_rearms, 1);
    tq->mshot_ever = true;
    return true;
}

/* Tops the read window up; true when there are SQEs to submit (the caller
 * submits). The SQ has room: rx_window + tx_depth <= its size and
 * everything is submitted at the end of each call. */
static bool rx_refill(struct tap_q *tq, struct vf_pool_cache *cache)
{
    if (tq->mshot)
        return rx_refill_mshot(tq, cache);
    struct vf_pkt *pkts[VF_BURST_MAX];
    unsigned want = tq->rx_window - tq->rx_inflight - tq->ready_n;
    unsigned before = tq->rx_inflight;

    while (want > 0) {
        unsigned m = want < VF_BURST_MAX ? want : VF_BURST_MAX;
        unsigned got = vf_pool_alloc_burst(rx_cache(tq, cache), pkts, m);
        for (unsigned i = 0; i < got; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&tq->ring);
            if (!sqe) {
                /* Cannot happen given the bounds above; be safe anyway. */
                vf_pool_free_burst(rx_cache(tq, cache), pkts + i, got - i);
                tq->rx_inflight += i;
                return tq->rx_inflight != before;
            }
            /* The header lands in the last HDR bytes of the headroom, so
             * the frame starts exactly at VF_PKT_HEADROOM. */
            uint8_t *at = pkts[i]->buf + VF_PKT_HEADROOM - HDR;
            unsigned len = pkts[i]->buf_len - VF_PKT_HEADROOM + HDR;
            unsigned idx;
            if (in_region(tq, at, len, &idx))
                io_uring_prep_read_fixed(sqe, tq->fd, at, len, 0, (int)idx);
            else
                io_uring_prep_read(sqe, tq->fd, at, len, 0);
            io_uring_sqe_set_data64(sqe, (uintptr_t)pkts[i]);
        }
        tq->rx_inflight += got;
        if (got < m)
            break;   /* pool dry: the window stays short until frees */
        want -= m;
    }
    return tq->rx_inflight != before;
}

/* Marks the device gone; only the first queue to notice counts it. */
static void rx_device_gone(struct vf_port *p, struct tap_q *tq, unsigned q)
{
    struct tap_port *tp = p->priv;
    tq->dead = true;
    if (!atomic_exchange_explicit(&tp->gone, true, memory_order_relaxed))
        vf_stat_add(&p->qstats[q].rx_errors, 1);
}

/* One read completion: the packet goes to the ready FIFO or back to the
 * pool (error, runt, bad header). */
static void rx_complete(struct vf_port *p, struct tap_q *tq, unsigned q,
                        struct vf_pkt *pkt, int res, struct vf_pool_cache *cache)
{
    tq->rx_inflight--;
    /* tun truncates a frame longer than the buffer and reports the buffer
     * length, so a full buffer may be a cut frame: dropped, never forwarded.
     * (The largest frame taken is therefore one byte short of the room.) */
    if (res >= (int)(HDR + 14) && (unsigned)res < pkt->buf_len - VF_PKT_HEADROOM + HDR) {
        const struct virtio_net_hdr_v1 *h =
            (const void *)(pkt->buf + VF_PKT_HEADROOM - HDR);
        pkt->data_off = VF_PKT_HEADROOM;
        pkt->len = (uint32_t)res - HDR;
        int r = vf_vnet_hdr_rx(h, pkt);
        if (r >= 0) {
            if (r & VF_VNET_RX_CSUM)
                vf_stat_add(&tq->rx_csum, 1);
            if (r & VF_VNET_RX_GSO)
                vf_stat_add(&tq->rx_gso, 1);
            pkt->port = (uint16_t)p->index;
            tq->ready[(tq->ready_head + tq->ready_n) & (tq->rx_window - 1)] = pkt;
            tq->ready_n++;
            return;
        }
    } else if (res < 0 && res != -ECANCELED && res != -EAGAIN && res != -EINTR) {
        /* EBADFD is what a detached tun fd returns; for any other error ask
         * the fd itself (TUNGETIFF fails with EBADFD once it is detached),
         * so an error that concerns one read (a fault on its buffer, say)
         * does not kill the port. Error path only. */
        struct ifreq ifr;
        if (res == -EBADFD || (ioctl(tq->fd, TUNGETIFF, &ifr) < 0 && errno == EBADFD)) {
            rx_device_gone(p, tq, q);
            vf_pool_free(cache ? cache : tq->own_cache, pkt);
            return;
        }
    }
    /* EAGAIN only comes back on kernels whose tun cannot be polled by
     * io_uring: not an error; the next refill arms a read again. */
    if (res != -ECANCELED && res != -EAGAIN && res != -EINTR && !tq->dead) {
        vf_stat_add(&tq->rx_bad, 1);
        vf_stat_add(&p->qstats[q].rx_errors, 1);
    }
    vf_pool_free(cache ? cache : tq->own_cache, pkt);
}

/* Multishot mode: one completion of the multishot read. A buffer it names
 * leaves the ring (its bid is free again) and is handled like a read's; a
 * completion without F_MORE ended the read (out of buffers: ENOBUFS,
 * cancelled, or an error) and the next refill re-arms it unless the
 * device is gone. */
static void mshot_complete(struct vf_port *p, struct tap_q *tq, unsigned q,
                           const struct io_uring_cqe *cqe,
                           struct vf_pool_cache *cache)
{
    int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        struct vf_pkt *pkt = bid < tq->rx_window ? tq->bufs[bid] : NULL;
        if (pkt) {
            tq->bufs[bid] = NULL;
            tq->free_bids[tq->n_free_bids++] = bid;
            rx_complete(p, tq, q, pkt, res, cache);
        }
    }
    if (cqe->flags & IORING_CQE_F_MORE)
        return;
    tq->mshot_armed = false;
    if (res >= 0 || res == -ENOBUFS || res == -ECANCELED || res == -EINTR ||
        res == -EAGAIN || tq->dead)
        return;
    /* An error that ended the read without a buffer: the device gone, or
     * something to count (the next refill tries again). */
    struct ifreq ifr;
    if (res == -EBADFD || (ioctl(tq->fd, TUNGETIFF, &ifr) < 0 && errno == EBADFD)) {
        rx_device_gone(p, tq, q);
        return;
    }
    vf_stat_add(&tq->rx_bad, 1);
    vf_stat_add(&p->qstats[q].rx_errors, 1);
}

/* Harvests every posted completion without entering the kernel (liburing
 * only enters when the CQ overflowed, which the bounds rule out). Bounded by
 * the requests in flight. */
static void reap(struct vf_port *p, struct tap_q *tq, unsigned q,
                 struct vf_pool_cache *cache)
{
    struct io_uring_cqe *cqes[REAP_BATCH];
    struct vf_pkt *done[REAP_BATCH];
    struct vf_pool_cache *fc = cache ? cache : tq->own_cache;

    /* Cooperative task work (see vf_tap_port_open): completions wait in the
     * kernel until we enter it; the flag says when that is needed. */
    if (IO_URING_READ_ONCE(*tq->ring.sq.kflags) & IORING_SQ_TASKRUN)
        io_uring_get_events(&tq->ring);
    for (;;) {
        unsigned n = io_uring_peek_batch_cqe(&tq->ring, cqes, REAP_BATCH);
        unsigned nd = 0, errs = 0;
        for (unsigned i = 0; i < n; i++) {
            uint64_t ud = io_uring_cqe_get_data64(cqes[i]);
            int res = cqes[i]->res;
            if (ud == UD_CANCEL)
                continue;
            if (ud == UD_MSHOT) {
                mshot_complete(p, tq, q, cqes[i], cache);
            } else if (ud & UD_WRITE_BIT) {
                done[nd++] =
                    (struct vf_pkt *)(uintptr_t)(ud & ~(uint64_t)UD_WRITE_BIT);
                if (res < 0)
                    errs++;
            } else {
                rx_complete(p, tq, q, (struct vf_pkt *)(uintptr_t)ud, res, cache);
            }
        }
        io_uring_cq_advance(&tq->ring, n);
        if (nd) {
            tq->tx_inflight -= nd;
            vf_pool_free_burst(fc, done, nd);
        }
        if (errs)
            vf_stat_add(&tq->tx_errors, errs);
        if (n < REAP_BATCH)
            return;
    }
}

static unsigned tap_rx_burst(struct vf_port *p, unsigned q, struct vf_pkt **pkts,
                             unsigned n, struct vf_pool_cache *cache)
{
    struct tap_q *tq = tap_q(p, q);
    if (!tq)
        return 0;
    reap(p, tq, q, cache);

    unsigned got = n < tq->ready_n ? n : tq->ready_n;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < got; i++) {
        pkts[i] = tq->ready[(tq->ready_head + i) & (tq->rx_window - 1)];
        bytes += pkts[i]->len;
    }
    tq->ready_head = (tq->ready_head + got) & (tq->rx_window - 1);
    tq->ready_n -= got;

    if (!tq->dead && rx_refill(tq, cache))
        io_uring_submit(&tq->ring);
    if (got) {
        struct vf_port_q_stats *s = &p->qstats[q];
        vf_stat_add(&s->rx_pkts, got);
        vf_stat_add(&s->rx_bytes, bytes);
    }
    return got;
}

/* ---- tx ---------------------------------------------------------------- */

static unsigned tap_tx_burst(struct vf_port *p, unsigned q, struct vf_pkt **pkts,
                             unsigned n, struct vf_pool_cache *cache)
{
    struct tap_q *tq = tap_q(p, q);
    struct tap_port *tp = p->priv;
    if (!tq)
        return 0;
    reap(p, tq, q, cache);
    if (tq->dead || atomic_load_explicit(&tp->gone, memory_order_relaxed))
        return 0;

    /* The tx budget (vf_port.h) may be below tx_depth, and may have been
     * lowered below what is in flight now. */
    unsigned limit = vf_port_tx_limit(p);
    unsigned room = limit > tq->tx_inflight ? limit - tq->tx_inflight : 0;
    unsigned sq = io_uring_sq_space_left(&tq->ring);
    unsigned k = n < room ? n : room;
    k = k < sq ? k : sq;

    unsigned queued = 0, dropped = 0, gso = 0;
    uint64_t bytes = 0;
    struct vf_pkt *bad[VF_BURST_MAX];
    unsigned nbad = 0;
    for (unsigned i = 0; i < k; i++) {
        struct vf_pkt *pkt = pkts[i];
        struct virtio_net_hdr_v1 h;
        int r = vf_vnet_hdr_tx(&h, pkt);
        uint32_t flen = pkt->len;
        if (r >= 0 && pkt->data_off < HDR && vf_pkt_tailroom(pkt) >= HDR) {
            /* Rare (a frame grown into all its headroom): shift it. */
            memmove(vf_pkt_data(pkt) + HDR, vf_pkt_data(pkt), pkt->len);
            pkt->data_off += HDR;
        }
        if (r < 0 || pkt->data_off < HDR) {
            /* Accepted but unsendable: ours to free and count. */
            if (nbad == VF_BURST_MAX) {
                vf_pool_free_burst(cache ? cache : tq->own_cache, bad, nbad);
                nbad = 0;
            }
            bad[nbad++] = pkt;
            dropped++;
            continue;
        }
        uint8_t *at = vf_pkt_prepend(pkt, HDR);
        memcpy(at, &h, HDR);
        struct io_uring_sqe *sqe = io_uring_get_sqe(&tq->ring);  /* k <= sq */
        unsigned idx;
        if (in_region(tq, at, pkt->len, &idx))
            io_uring_prep_write_fixed(sqe, tq->fd, at, pkt->len, 0, (int)idx);
        else
            io_uring_prep_write(sqe, tq->fd, at, pkt->len, 0);
        io_uring_sqe_set_data64(sqe, (uintptr_t)pkt | UD_WRITE_BIT);
        queued++;
        bytes += flen;
        gso += r > 0;
    }
    if (nbad)
        vf_pool_free_burst(cache ? cache : tq->own_cache, bad, nbad);
    if (queued) {
        tq->tx_inflight += queued;
        /* One submit per burst; tun writes complete inline, so the frees
         * usually happen at the next reap. A failed submit leaves the SQEs
         * in the ring for the next one. */
        io_uring_submit(&tq->ring);
    }
    struct vf_port_q_stats *s = &p->qstats[q];
    if (queued) {
        vf_stat_add(&s->tx_pkts, queued);
        vf_stat_add(&s->tx_bytes, bytes);
    }
    if (dropped)
        vf_stat_add(&s->tx_drops, dropped);
    if (gso)
        vf_stat_add(&tq->tx_gso, gso);
    return k;
}

/* ---- waiting ----------------------------------------------------------- */

static int tap_wait_fd(struct vf_port *p, unsigned q)
{
    struct tap_q *tq = tap_q(p, q);
    return tq ? tq->efd : -1;
}

static int tap_sleep_notify(struct vf_port *p, unsigned q, int sleeping)
{
    struct tap_q *tq = tap_q(p, q);
    if (!tq)
        return 0;
    if (sleeping)
        /* io_uring_cq_ready() loads the CQ tail with acquire; the kernel
         * stores the tail (release) before signalling the eventfd, so a
         * completion missed here leaves the eventfd readable. */
        return tq->ready_n > 0 || io_uring_cq_ready(&tq->ring) > 0 ||
               (IO_URING_READ_ONCE(*tq->ring.sq.kflags) & IORING_SQ_TASKRUN);
    uint64_t v;
    ssize_t rc = read(tq->efd, &v, sizeof(v));   /* EAGAIN: nothing posted */
    (void)rc;
    return 0;
}

/* ---- open / close ------------------------------------------------------ */

/* Cancels everything in flight and reaps until nothing is, so no packet is
 * freed while the kernel may still write into it. Bounded by CLOSE_WAIT_MS;
 * what has not completed by then is leaked, never freed. */
static void q_drain(struct vf_port *p, struct tap_q *tq, unsigned q)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&tq->ring);
    if (sqe) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, UD_CANCEL);
    }
    io_uring_submit(&tq->ring);
    for (int ms = 0; ms < CLOSE_WAIT_MS; ms++) {
        reap(p, tq, q, NULL);
        /* Multishot: the buffers still in the ring never complete; once
         * the read has ended the kernel can no longer write into them. */
        if ((tq->mshot ? !tq->mshot_armed : tq->rx_inflight == 0) &&
            tq->tx_inflight == 0)
            return;
        struct __kernel_timespec ts = {0, 1000000};
        struct io_uring_cqe *cqe;
        (void)io_uring_wait_cqe_timeout(&tq->ring, &cqe, &ts);
    }
}

static void tap_close(struct vf_port *p)
{
    if (!p)
        return;
    struct tap_port *tp = p->priv;
    if (tp && tp->q) {
        for (unsigned q = 0; q < tp->n_queues; q++) {
            struct tap_q *tq = &tp->q[q];
            if (tq->ring_ok) {
                q_drain(p, tq, q);
                io_uring_queue_exit(&tq->ring);
            }
            if (tq->br)
                munmap(tq->br, tq->br_bytes);
            /* Buffers left in the ring (the read has ended, or the ring is
             * gone): back to the pool, unless the read never ended (then
             * leaked, never freed while the kernel may write). */
            if (tq->bufs && tq->own_cache && !tq->mshot_armed)
                for (unsigned i = 0; i < tq->rx_window; i++)
                    if (tq->bufs[i])
                        vf_pool_free(tq->own_cache, tq->bufs[i]);
            free(tq->bufs);
            free(tq->free_bids);
            if (tq->own_cache) {
                if (tq->ready)
                    for (unsigned i = 0; i < tq->ready_n; i++)
                        vf_pool_free(tq->own_cache,
                                     tq->ready[(tq->ready_head + i) & (tq->rx_window - 1)]);
                vf_pool_cache_flush(tq->own_cache);
                free(tq->own_cache);
            }
            free(tq->ready);
            if (tq->fd >= 0)
                close(tq->fd);
            if (tq->efd >= 0)
                close(tq->efd);
        }
        free(tp->q);
    }
    free(tp);
    vf_port_free(p);
}

static bool tap_gone(const struct vf_port *p);
static void tap_info(const struct vf_port *p, const struct vf_port_info_sink *s);

static const struct vf_port_ops tap_port_ops = {
    .type = "tap",
    .rx_burst = tap_rx_burst,
    .tx_burst = tap_tx_burst,
    .wait_fd = tap_wait_fd,
    .sleep_notify = tap_sleep_notify,
    .close = tap_close,
    .gone = tap_gone,
    .info = tap_info,
};

const char *vf_tap_ifname_problem(const char *ifname)
{
    size_t len = ifname ? strnlen(ifname, IFNAMSIZ) : 0;

    if (len == 0)
        return "is empty";
    if (len >= IFNAMSIZ)
        return "is longer than 15 bytes (the limit of a Linux interface name)";
    if (strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
        return "is not allowed as a Linux interface name";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)ifname[i];

        if (ch == '/')
            return "has a '/' (not allowed in a Linux interface name)";
        if (ch == ':')
            return "has a ':' (not allowed in a Linux interface name)";
        if (ch == '%')
            return "has a '%' (the kernel would make up the tap's name)";
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
            ch == '\v' || ch == '\f')
            return "has white space (not allowed in a Linux interface name)";
        if (ch < 0x20 || ch >= 0x7f)
            return "has a byte that is not printable ASCII";
    }
    return NULL;
}

/* After TUNSETIFF refused ifname: when a device of that name exists and is
 * not a tun/tap device (loopback, veth, bridge...), says what it is in
 * what, so the error names the device in the way instead of an errno.
 * false when there is no such device or it is a tun/tap. */
static bool tap_name_taken(const char *ifname, char *what, size_t len)
{
    struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
    struct ifreq ifr;
    bool taken = true;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return false;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        close(fd);
        return false;                   /* no such device here */
    }
    ifr.ifr_data = (void *)&di;
    if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
        di.driver[sizeof(di.driver) - 1] = '\0';
        taken = strcmp(di.driver, "tun") != 0;
        snprintf(what, len, "a %s device", di.driver);
    } else if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 &&
               ifr.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK) {
        snprintf(what, len, "the loopback device");   /* lo has no driver */
    } else {
        snprintf(what, len, "a device that is not a tap");
    }
    close(fd);
    return taken;
}

static int set_link_up(const char *ifname)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    int rc = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        rc = -errno;
    } else if (!(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            rc = -errno;
    }
    close(s);
    return rc;
}

/* True when the kernel behind ring has IORING_OP_READ_MULTISHOT. */
static bool kernel_has_read_mshot(struct io_uring *ring)
{
    struct io_uring_probe *pr = io_uring_get_probe_ring(ring);
    if (!pr)
        return false;
    bool ok = io_uring_opcode_supported(pr, (int)OP_READ_MULTISHOT);
    io_uring_free_probe(pr);
    return ok;
}

/* Multishot mode: the provided-buffer ring (rx_window entries, empty until
 * the first rx_burst fills it) and the bid bookkeeping. */
static int mshot_setup(struct tap_q *tq)
{
    tq->bufs = calloc(tq->rx_window, sizeof(*tq->bufs));
    tq->free_bids = calloc(tq->rx_window, sizeof(*tq->free_bids));
    if (!tq->bufs || !tq->free_bids)
        return -ENOMEM;
    for (unsigned i = 0; i < tq->rx_window; i++)
        tq->free_bids[i] = tq->rx_window - 1 - i;
    tq->n_free_bids = tq->rx_window;
    return vf_uring_buf_ring_setup(&tq->ring, tq->rx_window, BGID, &tq->br,
                                   &tq->br_bytes);
}

/* Registers the pool region as fixed buffers, in chunks of at most 1 GiB
 * (the kernel's limit per buffer). Failure is not fatal: plain I/O works. */
static bool register_pool(struct tap_q *tq)
{
    struct vf_pool_info info;
    struct iovec iov[REG_MAX_CHUNKS];
    vf_pool_get_info(tq->pool, &info);
    unsigned n = (unsigned)((info.size + REG_CHUNK - 1) / REG_CHUNK);
    if (n == 0 || n > REG_MAX_CHUNKS)
        return false;
    for (unsigned i = 0; i < n; i++) {
        size_t off = (size_t)i * REG_CHUNK;
        iov[i].iov_base = (uint8_t *)info.base + off;
        iov[i].iov_len = info.size - off < REG_CHUNK ? info.size - off : REG_CHUNK;
    }
    if (io_uring_register_buffers(&tq->ring, iov, n) < 0)
        return false;
    tq->reg_base = info.base;
    tq->reg_len = info.size;
    return true;
}

struct vf_port *vf_tap_port_open(const char *name, const char *ifname,
                                 unsigned n_queues,
                                 struct vf_pool *const *pools,
                                 const struct vf_tap_opts *o,
                                 char *err, size_t errlen)
{
    struct vf_tap_opts opts = {0};
    struct vf_port *p = NULL;
    struct tap_port *tp = NULL;
    int rc;

    if (o)
        opts = *o;
    if (!opts.rx_window)
        opts.rx_window = VF_TAP_RX_WINDOW_DEFAULT;
    if (!opts.tx_depth)
        opts.tx_depth = VF_TAP_TX_DEPTH_DEFAULT;
    const char *why = vf_tap_ifname_problem(ifname);
    if (why) {
        vf_errf(err, errlen, "tap port '%s': interface name '%s' %s",
                name ? name : "", ifname ? ifname : "", why);
        return NULL;
    }
    if (n_queues == 0 || n_queues > VF_PORT_MAX_QUEUES || !pools) {
        vf_errf(err, errlen, "tap port '%s': need 1-%d queues, each with a pool",
                ifname, VF_PORT_MAX_QUEUES);
        return NULL;
    }
    if (opts.rx_window > VF_TAP_WINDOW_MAX || opts.tx_depth > VF_TAP_WINDOW_MAX) {
        vf_errf(err, errlen, "tap port '%s': rx_window and tx_depth must be <= %u",
                ifname, VF_TAP_WINDOW_MAX);
        return NULL;
    }
    opts.rx_window = vf_pow2_ceil(opts.rx_window);   /* the ready FIFO masks */
    for (unsigned q = 0; q < n_queues; q++) {
        struct vf_pool_info info;
        if (!pools[q]) {
            vf_errf(err, errlen, "tap port '%s': queue %u has no pool", ifname, q);
            return NULL;
        }
        vf_pool_get_info(pools[q], &info);
        if (info.data_room < VF_PKT_HEADROOM + 1514u) {
            vf_errf(err, errlen, "tap port '%s': pool data room %u is below %u",
                    ifname, info.data_room, VF_PKT_HEADROOM + 1514u);
            return NULL;
        }
        if (opts.tso && info.data_room < VF_TAP_TSO_DATA_ROOM) {
            vf_errf(err, errlen, "tap port '%s': tso needs pools with a data room "
                    "of at least %u (queue %u has %u)", ifname,
                    VF_TAP_TSO_DATA_ROOM, q, info.data_room);
            return NULL;
        }
    }

    p = vf_port_alloc(&tap_port_ops, name, n_queues);
    tp = calloc(1, sizeof(*tp));
    if (!p || !tp) {
        vf_errf(err, errlen, "tap port '%s': out of memory", ifname);
        free(tp);
        vf_port_free(p);
        return NULL;
    }
    p->priv = tp;
    /* Reads in flight and harvested frames share the window; writes in
     * flight are bounded by tx_depth and the tx budget (vf_port.h). */
    p->rx_hold = opts.rx_window;
    p->tx_hold = opts.tx_depth;
    /* The kernel takes a GSO frame through the vnet header whatever the
     * offloads of its own direction (opts.tso), and spreads flows over the
     * queues by hash. */
    vf_port_set_caps(p, VF_PORT_CAP_GSO_TX | VF_PORT_CAP_MQ_RX |
                        VF_PORT_CAP_CAN_VANISH, true);
    tp->n_queues = n_queues;
    tp->tso = opts.tso;
    atomic_init(&tp->gone, false);
    tp->q = aligned_alloc(VF_CACHE_LINE, sizeof(*tp->q) * n_queues);
    if (!tp->q) {
        vf_errf(err, errlen, "tap port '%s': out of memory", ifname);
        goto fail;
    }
    memset(tp->q, 0, sizeof(*tp->q) * n_queues);
    for (unsigned q = 0; q < n_queues; q++) {
        tp->q[q].fd = -1;
        tp->q[q].efd = -1;
    }
    /* From here tap_close() undoes whatever part is done. */
    snprintf(tp->ifname, sizeof(tp->ifname), "%s", ifname);
    tp->fixed_bufs = !opts.plain_io;

    for (unsigned q = 0; q < n_queues; q++) {
        struct tap_q *tq = &tp->q[q];
        struct ifreq ifr;

        tq->pool = pools[q];
        tq->rx_window = opts.rx_window;
        tq->tx_depth = opts.tx_depth;
        tq->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (tq->fd < 0) {
            vf_errf(err, errlen, "tap port '%s': open /dev/net/tun: %s",
                    ifname, strerror(errno));
            goto fail;
        }
        memset(&ifr, 0, sizeof(ifr));
        memcpy(ifr.ifr_name, tp->ifname, strlen(tp->ifname));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
        if (ioctl(tq->fd, TUNSETIFF, &ifr) < 0) {
            int e = errno;
            char what[64];

            if (e == EINVAL && tap_name_taken(ifname, what, sizeof(what)))
                vf_errf(err, errlen, "tap port '%s': interface %s already "
                        "exists and is %s, not a tap (choose another name, "
                        "or remove that device)", ifname, ifname, what);
            else
                vf_errf(err, errlen, "tap port '%s': TUNSETIFF (queue %u): %s%s",
                        ifname, q, strerror(e), e == EINVAL ? " (an existing "
                        "tun/tap device without multiqueue/vnet_hdr?)" : "");
            goto fail;
        }
        int hdr = (int)HDR;
        if (ioctl(tq->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
            vf_errf(err, errlen, "tap port '%s': TUNSETVNETHDRSZ: %s",
                    ifname, strerror(errno));
            goto fail;
        }
        if (q == 0) {
            unsigned off = TUN_F_CSUM | (opts.tso ? TUN_F_TSO4 | TUN_F_TSO6 : 0);
            if (ioctl(tq->fd, TUNSETOFFLOAD, off) < 0) {
                vf_errf(err, errlen, "tap port '%s': TUNSETOFFLOAD: %s",
                        ifname, strerror(errno));
                goto fail;
            }
        }

        tq->own_cache = aligned_alloc(VF_CACHE_LINE, sizeof(*tq->own_cache));
        tq->ready = calloc(tq->rx_window, sizeof(*tq->ready));
        tq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!tq->own_cache || !tq->ready || tq->efd < 0) {
            vf_errf(err, errlen, "tap port '%s': out of memory/eventfd", ifname);
            goto fail;
        }
        vf_pool_cache_init(tq->own_cache, tq->pool);

        /* Cooperative task work (vf_uring.h): no IPI per completion. */
        unsigned entries = vf_pow2_ceil(tq->rx_window + tq->tx_depth);
        rc = vf_uring_queue_init(&tq->ring, entries, 2 * entries);
        if (rc < 0) {
            vf_errf(err, errlen, "tap port '%s': io_uring_queue_init (queue %u): %s",
                    ifname, q, strerror(-rc));
            goto fail;
        }
        tq->ring_ok = true;
        rc = io_uring_register_eventfd(&tq->ring, tq->efd);
        if (rc < 0) {
            vf_errf(err, errlen, "tap port '%s': io_uring_register_eventfd: %s",
                    ifname, strerror(-rc));
            goto fail;
        }
        if (!opts.plain_io && !register_pool(tq))
            tp->fixed_bufs = false;   /* e.g. RLIMIT_MEMLOCK: plain I/O */
        if (!opts.no_multishot && kernel_has_read_mshot(&tq->ring)) {
            rc = mshot_setup(tq);
            if (rc < 0) {
                vf_errf(err, errlen, "tap port '%s': provided-buffer ring (queue %u): %s",
                        ifname, q, strerror(-rc));
                goto fail;
            }
            tq->mshot = true;
        }
    }

    rc = set_link_up(tp->ifname);
    if (rc < 0) {
        vf_errf(err, errlen, "tap port '%s': set link up: %s", ifname, strerror(-rc));
        goto fail;
    }
    /* The read window is armed by the first rx_burst, not here: io_uring
     * runs a request's completion work in the task that submitted it and
     * cancels a task's requests when it exits, so the reads must belong to
     * the worker, not to the management thread that opens the port. */
    return p;
fail:
    tap_close(p);
    return NULL;
}

static bool tap_gone(const struct vf_port *p)
{
    const struct tap_port *tp = p->priv;
    return atomic_load_explicit(&tp->gone, memory_order_relaxed);
}

bool vf_tap_port_gone(const struct vf_port *p)
{
    return p && p->ops == &tap_port_ops && tap_gone(p);
}

int vf_tap_port_info(const struct vf_port *p, struct vf_tap_info *out)
{
    if (!p || p->ops != &tap_port_ops || !out)
        return -EINVAL;
    const struct tap_port *tp = p->priv;
    memset(out, 0, sizeof(*out));
    snprintf(out->ifname, sizeof(out->ifname), "%s", tp->ifname);
    out->n_queues = tp->n_queues;
    out->fixed_bufs = tp->fixed_bufs;
    out->tso = tp->tso;
    out->multishot = tp->n_queues > 0 && tp->q[0].mshot;
    out->gone = atomic_load_explicit(&tp->gone, memory_order_relaxed);
    for (unsigned q = 0; q < tp->n_queues; q++) {
        const struct tap_q *tq = &tp->q[q];
        out->rx_csum_completed += atomic_load_explicit(&tq->rx_csum, memory_order_relaxed);
        out->rx_gso += atomic_load_explicit(&tq->rx_gso, memory_order_relaxed);
        out->rx_bad += atomic_load_explicit(&tq->rx_bad, memory_order_relaxed);
        out->tx_gso += atomic_load_explicit(&tq->tx_gso, memory_order_relaxed);
        out->rx_rearms += atomic_load_explicit(&tq->rx_rearms, memory_order_relaxed);
        out->tx_errors += atomic_load_explicit(&tq->tx_errors, memory_order_relaxed);
    }
    return 0;
}

/* The info op: what vf_tap_port_info gives, as `vfabctl stats` shows it. */
static void tap_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    struct vf_tap_info ti;
    if (vf_tap_port_info(p, &ti))
        return;
    s->str(s->arg, "ifname", ti.ifname);
    s->str(s->arg, "rx_mode", ti.multishot ? "multishot" : "window");
    s->flag(s->arg, "fixed_bufs", ti.fixed_bufs);
    s->flag(s->arg, "tso", ti.tso);
    s->flag(s->arg, "gone", ti.gone);
    s->u64(s->arg, "rx_csum_completed", ti.rx_csum_completed);
    s->u64(s->arg, "rx_gso", ti.rx_gso);
    s->u64(s->arg, "tx_gso", ti.tx_gso);
    s->u64(s->arg, "rx_bad", ti.rx_bad);
    s->u64(s->arg, "tx_errors", ti.tx_errors);
    s->u64(s->arg, "rx_rearms", ti.rx_rearms);
}
