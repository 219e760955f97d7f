/* udp_uring.c - the UDP uplink's io_uring mode (udp_impl.h, vf_port_udp.h):
 * a multishot recvmsg per queue into a provided-buffer ring of pool
 * packets, one sendmsg (or zero-copy send) SQE per frame, and the CQ
 * handling both share.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fabric/udp_impl.h"
#include "fabric/vf_uring.h"

/* Kernel 6.2 uapi that liburing 2.3's header predates: ask zero-copy sends
 * to report in the notification whether the kernel copied after all. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

static void br_give(struct udp_port *u, struct udp_q *q, struct vf_pkt *pkt,
                    unsigned bid)
{
    unsigned depth = u->o.ring_depth;
    uint32_t off = VF_PKT_HEADROOM - u->rx_hdr;
    q->bufs[bid] = pkt;
    io_uring_buf_ring_add(q->br, pkt->buf + off, pkt->buf_len - off,
                          (unsigned short)bid,
                          io_uring_buf_ring_mask(depth), (int)q->br_pending);
    q->br_pending++;
}

static bool rx_arm(struct udp_q *q)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
    if (!sqe)
        return false;
    io_uring_prep_recvmsg_multishot(sqe, UDP_FILE_IDX, &q->rx_msg, 0);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
    sqe->buf_group = UDP_BGID;
    io_uring_sqe_set_data64(sqe, UDP_TAG_RECV);
    q->rx_armed = true;
    return true;
}

/* Copy-break (as NIC drivers do for small frames): when the queue receives
 * into a pool other than the worker's (a GRO port on 64 KB buffers), a
 * datagram the kernel did not coalesce is copied into a buffer of the
 * worker's pool and its large buffer goes straight back to the ring. A
 * large buffer then never waits in a tenant port's queue for one small
 * datagram, and a single datagram needs no fresh large buffer. The
 * worker's pool data room is looked up once per pool, not per packet. */
static bool copy_breaks(struct udp_q *q, const struct vf_pool_cache *cache,
                        uint32_t plen, uint16_t gro)
{
    if (gro || !cache || !cache->pool || cache->pool == q->pool)
        return false;
    if (cache->pool != q->cb_pool) {
        struct vf_pool_info info;
        vf_pool_get_info(cache->pool, &info);
        q->cb_pool = cache->pool;
        q->cb_room = info.data_room;
    }
    return VF_PKT_HEADROOM + plen <= q->cb_room;
}

static void rx_complete(struct vf_port *p, struct udp_q *q,
                        const struct io_uring_cqe *cqe,
                        struct vf_pool_cache *cache, unsigned qi)
{
    struct udp_port *u = udp_of(p);
    struct vf_port_q_stats *st = &p->qstats[qi];
    if (!(cqe->flags & IORING_CQE_F_MORE))
        q->rx_armed = false;
    if (!(cqe->flags & IORING_CQE_F_BUFFER)) {
        /* -ENOBUFS only means the ring ran dry before we refilled it (the
         * stage was full: the worker is behind); the datagrams wait in the
         * socket and the rearm picks them up. Not a loss. */
        if (cqe->res != -ENOBUFS && cqe->res != -ECANCELED)
            vf_stat_add(&st->rx_errors, 1);
        return;
    }
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    struct vf_pkt *pkt = q->bufs[bid];
    uint8_t *b = pkt->buf + VF_PKT_HEADROOM - u->rx_hdr;
    struct io_uring_recvmsg_out *out =
        cqe->res < 0 ? NULL
                     : io_uring_recvmsg_validate(b, cqe->res, &q->rx_msg);
    if (!out || (out->flags & MSG_TRUNC) || out->namelen < sizeof(struct sockaddr_in)) {
        vf_stat_add(&st->rx_errors, 1);
        br_give(u, q, pkt, bid);          /* reuse the same buffer */
        return;
    }
    /* Read the name, control data and payload length first: they share the
     * bytes in front of the payload that the synthesised headers overwrite,
     * and the copy-break below decides on them. */
    struct sockaddr_in src;
    memcpy(&src, io_uring_recvmsg_name(out), sizeof(src));
    uint32_t dst_ip = udp_dgram_dst(u, &q->rx_msg,
                                    io_uring_recvmsg_cmsg_firsthdr(out, &q->rx_msg));
    uint32_t plen = io_uring_recvmsg_payload_length(out, cqe->res, &q->rx_msg);
    uint16_t gro = 0;
    if (u->o.gro) {
        /* Bounded by the control buffer (two messages at most). */
        for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(out, &q->rx_msg);
             c; c = io_uring_recvmsg_cmsg_nexthdr(out, &q->rx_msg, c)) {
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                int gs;
                memcpy(&gs, CMSG_DATA(c), sizeof(gs));
                if (gs > 0 && (uint32_t)gs < plen)
                    gro = (uint16_t)gs;
            }
        }
    }
    /* keep carries the datagram on; fresh goes into the ring at bid. Both
     * allocations may take the pool's reserve (vf_pool.h): this is the
     * uplink's receive. */
    struct vf_pkt *keep, *fresh;
    if (copy_breaks(q, cache, plen, gro)) {
        keep = vf_pool_alloc_reserve(cache);
        fresh = pkt;                      /* the large buffer goes back */
        if (keep)
            memcpy(keep->buf + VF_PKT_HEADROOM,
                   io_uring_recvmsg_payload(out, &q->rx_msg), plen);
    } else {
        /* The ring is refilled from this queue's pool, whose buffer size
         * the receive relies on, not just any cache the caller has. */
        struct vf_pool_cache *rc =
            cache && cache->pool == q->pool ? cache : q->own_cache;
        fresh = rc ? vf_pool_alloc_reserve(rc) : NULL;
        keep = fresh ? pkt : NULL;
        if (!fresh)
            fresh = pkt;
    }
    br_give(u, q, fresh, bid);
    if (!keep) {
        /* No buffer: the datagram is dropped, counted as what it is, and
         * its buffer went back so the kernel's ring never shrinks. */
        vf_stat_add(&st->rx_no_buffer, 1);
        return;
    }
    pkt = keep;
    pkt->data_off = VF_PKT_HEADROOM - VF_UDP_OUTER_HDRS;
    udp_frame_synth(pkt, plen, &src, dst_ip, u->addr.sin_port);
    pkt->gso_size = gro;
    pkt->port = (uint16_t)p->index;
    unsigned mask = u->o.ring_depth - 1;
    q->stage[(q->st_head + q->st_n) & mask] = pkt;
    q->st_n++;
}

static void tx_release(struct udp_q *q, unsigned slot,
                       struct vf_pool_cache *cache)
{
    vf_pool_free(cache, q->tx[slot].pkt);
    q->tx[slot].pkt = NULL;
    q->tx_free[q->n_tx_free++] = slot;
}

static void tx_complete(struct vf_port *p, struct udp_q *q,
                        const struct io_uring_cqe *cqe,
                        struct vf_pool_cache *cache, unsigned qi)
{
    unsigned slot = (unsigned)(cqe->user_data & UDP_TAG_SLOT_MASK);
    struct vf_port_q_stats *st = &p->qstats[qi];
    if (cqe->flags & IORING_CQE_F_NOTIF) {
        /* Zero copy: the kernel has let go of the pages only now. */
        q->zc_notifs++;
        if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
            q->zc_copied++;
        tx_release(q, slot, cache);
        return;
    }
    if (cqe->res >= 0) {
        vf_stat_add(&st->tx_pkts, 1);
        vf_stat_add(&st->tx_bytes, q->tx[slot].frame_len);
    } else {
        vf_stat_add(&st->tx_drops, 1);
    }
    if (!(cqe->flags & IORING_CQE_F_MORE))
        tx_release(q, slot, cache);
}

/* Handles every ready CQE, except that it stops at a receive when the stage
 * is full (the CQ then holds it until rx_burst makes room). Publishes the
 * refilled buffers and rearms the multishot receive when it ended. */
void udp_uring_cq_poll(struct vf_port *p, unsigned qi, struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;

    /* With deferred task work or an overflowed CQ, completions wait in the
     * kernel until we enter it; the flags say when that is needed. */
    if (IO_URING_READ_ONCE(*q->ring.sq.kflags) &
        (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
        io_uring_get_events(&q->ring);

    io_uring_for_each_cqe(&q->ring, head, cqe) {
        uint64_t tag = cqe->user_data & ~UDP_TAG_SLOT_MASK;
        if (tag == UDP_TAG_RECV) {
            if (q->st_n == u->o.ring_depth)
                break;
            rx_complete(p, q, cqe, cache, qi);
        } else if (tag == UDP_TAG_SEND) {
            tx_complete(p, q, cqe, cache, qi);
        }
        seen++;
    }
    if (seen) {
        io_uring_cq_advance(&q->ring, seen);
        q->cqe_since_drain = true;
    }
    if (q->br_pending) {
        /* Release store: the kernel sees the buffer entries before the new
         * tail that exposes them. */
        io_uring_buf_ring_advance(q->br, (int)q->br_pending);
        q->br_pending = 0;
    }
    if (!q->rx_armed && rx_arm(q)) {
        if (q->armed_once)
            q->rx_rearms++;
        q->armed_once = true;
        io_uring_submit(&q->ring);
    }
}

unsigned udp_uring_rx_burst(struct vf_port *p, unsigned qi,
                            struct vf_pkt **pkts, unsigned n,
                            struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    if (q->st_n < n)
        udp_uring_cq_poll(p, qi, cache);
    if (q->st_n == 0 && q->cqe_since_drain) {
        /* About to report empty: clear the eventfd first, then look again,
         * so a CQE posted in between is either seen now or leaves the fd
         * readable for the worker's poll(). */
        uint64_t v;
        ssize_t r = read(q->efd, &v, sizeof(v));
        (void)r;
        q->cqe_since_drain = false;
        udp_uring_cq_poll(p, qi, cache);
    }
    if (n > u->o.burst)
        n = u->o.burst;
    if (n > q->st_n)
        n = q->st_n;
    unsigned mask = u->o.ring_depth - 1;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < n; i++) {
        pkts[i] = q->stage[(q->st_head + i) & mask];
        bytes += pkts[i]->len;
    }
    q->st_head = (q->st_head + n) & mask;
    q->st_n -= n;
    udp_count_rx(p, qi, n, bytes);
    return n;
}

unsigned udp_uring_tx_run(struct vf_port *p, unsigned qi,
                          struct vf_pkt **pkts, unsigned n,
                          struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];

    /* Free slots whose sends completed before taking new ones. */
    udp_uring_cq_poll(p, qi, cache);
    if (n > u->o.burst)
        n = u->o.burst;
    if (n > q->n_tx_free)
        n = q->n_tx_free;

    unsigned acc = 0, queued = 0;
    for (; acc < n; acc++) {
        struct vf_pkt *pkt = pkts[acc];
        const uint8_t *f = vf_pkt_data(pkt);
        struct sockaddr_in dst;
        uint32_t plen;
        uint32_t off = udp_frame_parse(f, pkt->len, &dst, &plen, false);
        if (!off) {
            vf_stat_add(&st->tx_drops, 1);
            vf_pool_free(cache, pkt);
            continue;
        }
        struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
        if (!sqe)
            break;   /* cannot happen: the SQ holds more than a burst */
        unsigned slot = q->tx_free[--q->n_tx_free];
        struct udp_txslot *s = &q->tx[slot];
        s->pkt = pkt;
        s->frame_len = pkt->len;
        s->dst = dst;
        s->iov.iov_base = (void *)(f + off);
        s->iov.iov_len = plen;
        uintptr_t a = (uintptr_t)(f + off);
        if (u->o.send_zc && q->fb_len && a >= q->fb_base &&
            a + plen <= q->fb_base + q->fb_len) {
            io_uring_prep_send_zc_fixed(sqe, UDP_FILE_IDX, f + off, plen, 0,
                                        IORING_SEND_ZC_REPORT_USAGE, 0);
            io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)&s->dst,
                                        sizeof(s->dst));
        } else {
            memset(&s->msg, 0, sizeof(s->msg));
            s->msg.msg_name = &s->dst;
            s->msg.msg_namelen = sizeof(s->dst);
            s->msg.msg_iov = &s->iov;
            s->msg.msg_iovlen = 1;
            if (u->o.send_zc) {
                io_uring_prep_sendmsg_zc(sqe, UDP_FILE_IDX, &s->msg, 0);
                sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
            } else
                io_uring_prep_sendmsg(sqe, UDP_FILE_IDX, &s->msg, 0);
        }
        sqe->flags |= IOSQE_FIXED_FILE;
        io_uring_sqe_set_data64(sqe, UDP_TAG_SEND | slot);
        queued++;
    }
    if (queued)
        io_uring_submit(&q->ring);
    /* Refused packets (want - acc) are the caller's to count (vf_port.h). */
    return acc;
}

int udp_uring_wait_fd(struct vf_port *p, unsigned qi)
{
    return udp_of(p)->q[qi].efd;
}

/* Takes depth buffers from the queue's pool for the provided-buffer ring;
 * -ENOMEM with err saying how many the pool had. */
static int fill_buf_ring(struct udp_port *u, struct udp_q *q, const char *name,
                         char *err, size_t errlen)
{
    unsigned depth = u->o.ring_depth, have = 0;
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    if (!c)
        return -ENOMEM;
    vf_pool_cache_init(c, q->pool);
    while (have < depth) {
        unsigned k = depth - have > VF_BURST_MAX ? VF_BURST_MAX : depth - have;
        unsigned got = vf_pool_alloc_burst(c, q->bufs + have, k);
        if (got == 0)
            break;
        have += got;
    }
    vf_pool_cache_flush(c);
    free(c);
    if (have < depth) {
        snprintf(err, errlen,
                 "udp port '%s': pool has %u free buffers, ring_depth needs %u",
                 name, have, depth);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < depth; i++)
        br_give(u, q, q->bufs[i], i);
    io_uring_buf_ring_advance(q->br, (int)q->br_pending);
    q->br_pending = 0;
    return 0;
}

int udp_uring_q_open(struct udp_port *u, struct udp_q *q, const char *name,
                     char *err, size_t errlen)
{
    unsigned depth = u->o.ring_depth;
    int r;

    /* The SQ must hold a whole burst plus the rearm; the CQ must hold a
     * receive per provided buffer plus two CQEs per zero-copy send.
     * Cooperative task work, as on the tap port: udp_uring_cq_poll enters
     * the kernel when the TASKRUN flag says work waits. */
    unsigned sq = depth < 2 * VF_BURST_MAX ? 2 * VF_BURST_MAX : depth;
    r = vf_uring_queue_init(&q->ring, sq, 4 * depth > 2 * sq ? 4 * depth : 2 * sq);
    if (r < 0) {
        snprintf(err, errlen, "udp port '%s': io_uring_queue_init: %s", name,
                 strerror(-r));
        return r;
    }
    q->has_ring = true;

    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0)
        return -errno;
    if ((r = io_uring_register_eventfd(&q->ring, q->efd)) < 0 ||
        (r = io_uring_register_files(&q->ring, &q->fd, 1)) < 0) {
        snprintf(err, errlen, "udp port '%s': io_uring register: %s", name,
                 strerror(-r));
        return r;
    }

    if (u->o.fixed_bufs) {
        struct vf_pool_info info;
        vf_pool_get_info(q->pool, &info);
        struct iovec iov = {.iov_base = info.base, .iov_len = info.size};
        r = io_uring_register_buffers(&q->ring, &iov, 1);
        if (r < 0) {
            snprintf(err, errlen,
                     "udp port '%s': registering the pool (%zu bytes) as a "
                     "fixed buffer: %s", name, info.size, strerror(-r));
            return r;
        }
        q->fb_base = (uintptr_t)info.base;
        q->fb_len = info.size;
    }

    r = vf_uring_buf_ring_setup(&q->ring, depth, UDP_BGID, &q->br, &q->br_bytes);
    if (r < 0) {
        snprintf(err, errlen, "udp port '%s': provided-buffer ring: %s",
                 name, strerror(-r));
        return r;
    }
    q->bufs = calloc(depth, sizeof(*q->bufs));
    q->own_cache = aligned_alloc(64, sizeof(*q->own_cache));
    if (!q->bufs || !q->own_cache)
        return -ENOMEM;
    vf_pool_cache_init(q->own_cache, q->pool);
    r = fill_buf_ring(u, q, name, err, errlen);
    if (r < 0)
        return r;

    /* The multishot receive is armed by the worker's first rx/tx call, not
     * here: io_uring runs a request's receive work in the task that
     * submitted it, which must be the worker, not the management thread. */
    q->rx_msg.msg_namelen = sizeof(struct sockaddr_in);
    q->rx_msg.msg_controllen = (u->pktinfo ? UDP_CTL_LEN : 0) +
                               (u->o.gro ? UDP_GRO_CTL_LEN : 0);

    q->tx = calloc(depth, sizeof(*q->tx));
    q->tx_free = calloc(depth, sizeof(*q->tx_free));
    q->stage = calloc(depth, sizeof(*q->stage));
    if (!q->tx || !q->tx_free || !q->stage)
        return -ENOMEM;
    for (unsigned i = 0; i < depth; i++)
        q->tx_free[i] = depth - 1 - i;
    q->n_tx_free = depth;
    return 0;
}
