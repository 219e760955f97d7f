/* port_udp.c - the UDP underlay uplink (see vf_port_udp.h for the design).
 *
 * Per queue: one SO_REUSEPORT socket, and in the io_uring modes one io_uring
 * whose completion queue carries three kinds of CQE, told apart by the tag
 * in user_data: the multishot recvmsg (UD_RX), and sends (UD_TX | slot),
 * which in zero-copy mode complete twice (result, then notification).
 * Whoever polls the CQ (rx_burst, tx_burst, reap) handles every kind, so a
 * received datagram completed during a tx call is staged for the next
 * rx_burst and a send completed during an rx call frees its packet at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fabric/vf_port_udp.h"
#include "numa/vf_wire.h"

#define UD_TAG_SHIFT 60
#define UD_RX (1ull << UD_TAG_SHIFT)
#define UD_TX (2ull << UD_TAG_SHIFT)
#define UD_IDX_MASK ((1ull << UD_TAG_SHIFT) - 1)
#define UDP_BGID 0            /* each queue has its own ring: one group */
#define UDP_FILE_IDX 0        /* the socket is fixed file 0 of its ring */
/* Room for IP_PKTINFO in a control buffer; a macro so arrays can use it. */
#define UDP_CTL_LEN CMSG_SPACE(sizeof(struct in_pktinfo))
/* Room for the UDP_GRO segment size as well (opts.gro). */
#define UDP_GRO_CTL_LEN CMSG_SPACE(sizeof(int))
#define UDP_CLOSE_WAIT_MS 200 /* bound on waiting for in-flight sends at close */

/* Kernel 6.2 uapi that liburing 2.3's header predates: ask zero-copy sends
 * to report in the notification whether the kernel copied after all. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

struct udp_txslot {
    struct vf_pkt *pkt;
    uint32_t frame_len;
    struct msghdr msg;    /* must live until the send's first CQE */
    struct iovec iov;
    struct sockaddr_in dst;
};

struct udp_q {
    int fd;
    int efd;              /* io_uring modes: eventfd registered with ring */
    bool has_ring;
    bool rx_armed;        /* the multishot recvmsg is live */
    bool armed_once;      /* the worker armed it at least once */
    bool cqe_since_drain; /* a CQE was seen since the eventfd was drained */
    unsigned br_pending;  /* buffers added to br but not yet published */
    struct io_uring ring;
    struct vf_pool *pool;
    /* Refills the provided buffers when the worker's cache serves another
     * pool (a GRO port on large buffers): worker-only, like the queue. */
    struct vf_pool_cache *own_cache;
    /* copy_breaks(): the worker's pool and its data room. Worker-only. */
    const struct vf_pool *cb_pool;
    uint32_t cb_room;

    /* provided-buffer ring: bid -> packet whose data room the kernel owns */
    struct io_uring_buf_ring *br;
    size_t br_bytes;
    struct vf_pkt **bufs;
    struct msghdr rx_msg; /* multishot template: name and control lengths */

    /* received, not yet returned by rx_burst: FIFO of depth entries */
    struct vf_pkt **stage;
    unsigned st_head, st_n;

    /* tx slots: free stack and per-slot state */
    struct udp_txslot *tx;
    unsigned *tx_free;
    unsigned n_tx_free;

    uint64_t zc_notifs, zc_copied, rx_rearms;

    /* the fixed buffer (fixed_bufs): the queue pool's region */
    uintptr_t fb_base;
    size_t fb_len;

    /* syscall mode scratch, burst entries each */
    struct mmsghdr *mm;
    struct iovec *mm_iov;
    struct sockaddr_in *mm_name;
    uint8_t (*mm_ctl)[UDP_CTL_LEN];
};

struct udp_port {
    struct vf_udp_opts o;
    struct sockaddr_in addr;  /* bound address, port resolved */
    bool pktinfo;             /* bound to 0.0.0.0: learn dst per datagram */
    unsigned rx_hdr;          /* recvmsg_out + name + control before payload */
    unsigned n_queues;
    struct udp_q q[];
};

static const struct vf_port_ops udp_ops;

void vf_udp_opts_default(struct vf_udp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rx_mode = VF_UDP_RX_MULTISHOT;
    o->send_zc = false;
    o->fixed_bufs = false;
    o->ring_depth = VF_UDP_DEPTH_DEFAULT;
    o->burst = VF_BURST_MAX;
}

/* ---- frames ---- */

/* Finds the UDP payload of a full tunnel frame and its outer destination.
 * Returns the payload offset, or 0 when the frame is not Ethernet/IPv4/UDP
 * (0 is never a valid offset). */
static uint32_t frame_parse(const uint8_t *f, uint32_t len,
                            struct sockaddr_in *dst, uint32_t *plen,
                            bool batch)
{
    if (len < VF_UDP_OUTER_HDRS || vf_wire_get16(f + 12) != VF_ETH_P_IP)
        return 0;
    const uint8_t *ip = f + VF_ETH_HDR_LEN;
    uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    if ((ip[0] >> 4) != 4 || ihl < VF_IP4_HDR_LEN || ip[9] != IPPROTO_UDP)
        return 0;
    uint32_t off = VF_ETH_HDR_LEN + ihl + VF_UDP_HDR_LEN;
    uint32_t tot = (uint32_t)ip[2] << 8 | ip[3];
    uint32_t end = VF_ETH_HDR_LEN + tot;
    /* Honour the IP total length (a frame may carry Ethernet padding) but
     * never read past the buffer. */
    if (end > len || batch)
        end = len;   /* a GSO batch runs to the end of the frame */
    if (off > end)
        return 0;
    dst->sin_family = AF_INET;
    memcpy(&dst->sin_addr.s_addr, ip + 16, 4);
    memcpy(&dst->sin_port, ip + ihl + 2, 2);
    *plen = end - off;
    return off;
}

/* Writes outer Ethernet/IPv4/UDP headers in front of a payload that starts
 * at data_off + VF_UDP_OUTER_HDRS and makes them part of the frame. */
static void frame_synth(struct vf_pkt *p, uint32_t plen,
                        const struct sockaddr_in *src, uint32_t dst_ip,
                        uint16_t dst_port_be)
{
    uint8_t *f = vf_pkt_data(p);
    memset(f, 0, 12);
    vf_wire_put16(f + 12, VF_ETH_P_IP);
    uint8_t *ip = f + VF_ETH_HDR_LEN;
    uint16_t tot = (uint16_t)(VF_IP4_HDR_LEN + VF_UDP_HDR_LEN + plen);
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    memset(ip + 4, 0, 4);       /* id 0, no fragment: the kernel reassembled */
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    ip[10] = ip[11] = 0;
    memcpy(ip + 12, &src->sin_addr.s_addr, 4);
    memcpy(ip + 16, &dst_ip, 4);
    vf_wire_put16(ip + 10, vf_csum(ip, VF_IP4_HDR_LEN));
    uint8_t *udp = ip + VF_IP4_HDR_LEN;
    uint16_t ulen = (uint16_t)(VF_UDP_HDR_LEN + plen);
    memcpy(udp, &src->sin_port, 2);
    memcpy(udp + 2, &dst_port_be, 2);
    udp[4] = (uint8_t)(ulen >> 8);
    udp[5] = (uint8_t)ulen;
    udp[6] = udp[7] = 0;        /* zero UDP checksum is legal over IPv4 */
    p->len = VF_UDP_OUTER_HDRS + plen;
}

/* The datagram's destination address: from IP_PKTINFO when bound to the
 * wildcard, else the bound address. */
static uint32_t dgram_dst(const struct udp_port *u, struct msghdr *mh,
                          struct cmsghdr *first)
{
    if (!u->pktinfo)
        return u->addr.sin_addr.s_addr;
    for (struct cmsghdr *c = first; c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            return pi.ipi_addr.s_addr;
        }
    }
    return 0;
}

/* ---- io_uring completion handling ---- */

static inline struct udp_port *udp_of(struct vf_port *p)
{
    return p->priv;
}

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
    io_uring_sqe_set_data64(sqe, UD_RX);
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
    uint32_t dst_ip = dgram_dst(u, &q->rx_msg,
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
    frame_synth(pkt, plen, &src, dst_ip, u->addr.sin_port);
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
    unsigned slot = (unsigned)(cqe->user_data & UD_IDX_MASK);
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
static void cq_poll(struct vf_port *p, unsigned qi, struct vf_pool_cache *cache)
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
        uint64_t tag = cqe->user_data & ~UD_IDX_MASK;
        if (tag == UD_RX) {
            if (q->st_n == u->o.ring_depth)
                break;
            rx_complete(p, q, cqe, cache, qi);
        } else if (tag == UD_TX) {
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

/* ---- io_uring mode ops ---- */

static unsigned uring_rx_burst(struct vf_port *p, unsigned qi,
                               struct vf_pkt **pkts, unsigned n,
                               struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    if (q->st_n < n)
        cq_poll(p, qi, cache);
    if (q->st_n == 0 && q->cqe_since_drain) {
        /* About to report empty: clear the eventfd first, then look again,
         * so a CQE posted in between is either seen now or leaves the fd
         * readable for the worker's poll(). */
        uint64_t v;
        ssize_t r = read(q->efd, &v, sizeof(v));
        (void)r;
        q->cqe_since_drain = false;
        cq_poll(p, qi, cache);
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
    if (n) {
        vf_stat_add(&p->qstats[qi].rx_pkts, n);
        vf_stat_add(&p->qstats[qi].rx_bytes, bytes);
    }
    return n;
}

static unsigned uring_tx_run(struct vf_port *p, unsigned qi,
                               struct vf_pkt **pkts, unsigned n,
                               struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];

    /* Free slots whose sends completed before taking new ones. */
    cq_poll(p, qi, cache);
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
        uint32_t off = frame_parse(f, pkt->len, &dst, &plen, false);
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
        io_uring_sqe_set_data64(sqe, UD_TX | slot);
        queued++;
    }
    if (queued)
        io_uring_submit(&q->ring);
    /* Refused packets (want - acc) are the caller's to count (vf_port.h). */
    return acc;
}

static int uring_wait_fd(struct vf_port *p, unsigned qi)
{
    return udp_of(p)->q[qi].efd;
}

/* ---- syscall mode ops ---- */

static unsigned sys_rx_burst(struct vf_port *p, unsigned qi,
                             struct vf_pkt **pkts, unsigned n,
                             struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];
    if (n > u->o.burst)
        n = u->o.burst;
    /* The uplink's receive may take the pool's reserve (vf_pool.h). With no
     * buffer at all the datagrams wait in the socket: nothing is lost. */
    unsigned got = vf_pool_alloc_burst_reserve(cache, pkts, n);
    if (got == 0)
        return 0;
    for (unsigned i = 0; i < got; i++) {
        struct msghdr *mh = &q->mm[i].msg_hdr;
        q->mm_iov[i].iov_base = vf_pkt_data(pkts[i]);
        q->mm_iov[i].iov_len = pkts[i]->buf_len - pkts[i]->data_off;
        mh->msg_name = &q->mm_name[i];
        mh->msg_namelen = sizeof(q->mm_name[i]);
        mh->msg_iov = &q->mm_iov[i];
        mh->msg_iovlen = 1;
        mh->msg_control = u->pktinfo ? q->mm_ctl[i] : NULL;
        mh->msg_controllen = u->pktinfo ? UDP_CTL_LEN : 0;
        mh->msg_flags = 0;
    }
    int r = recvmmsg(q->fd, q->mm, got, MSG_DONTWAIT, NULL);
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            vf_stat_add(&st->rx_errors, 1);
        r = 0;
    }
    unsigned k = 0;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < (unsigned)r; i++) {
        struct vf_pkt *pkt = pkts[i];
        struct msghdr *mh = &q->mm[i].msg_hdr;
        if (mh->msg_flags & MSG_TRUNC) {
            vf_stat_add(&st->rx_errors, 1);
            vf_pool_free(cache, pkt);
            continue;
        }
        uint32_t dst_ip = dgram_dst(u, mh, CMSG_FIRSTHDR(mh));
        pkt->data_off = VF_PKT_HEADROOM - VF_UDP_OUTER_HDRS;
        frame_synth(pkt, q->mm[i].msg_len, &q->mm_name[i], dst_ip,
                    u->addr.sin_port);
        pkt->port = (uint16_t)p->index;
        bytes += pkt->len;
        pkts[k++] = pkt;
    }
    if (got > (unsigned)r)
        vf_pool_free_burst(cache, pkts + r, got - (unsigned)r);
    if (k) {
        vf_stat_add(&st->rx_pkts, k);
        vf_stat_add(&st->rx_bytes, bytes);
    }
    return k;
}

static unsigned sys_tx_run(struct vf_port *p, unsigned qi,
                             struct vf_pkt **pkts, unsigned n,
                             struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];
    unsigned idx[VF_BURST_MAX];   /* mm entry -> index in pkts */
    if (n > u->o.burst)
        n = u->o.burst;

    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        struct vf_pkt *pkt = pkts[i];
        uint8_t *f = vf_pkt_data(pkt);
        uint32_t plen;
        uint32_t off = frame_parse(f, pkt->len, &q->mm_name[m], &plen, false);
        if (!off)
            continue;
        struct msghdr *mh = &q->mm[m].msg_hdr;
        memset(mh, 0, sizeof(*mh));
        q->mm_iov[m].iov_base = f + off;
        q->mm_iov[m].iov_len = plen;
        mh->msg_name = &q->mm_name[m];
        mh->msg_namelen = sizeof(q->mm_name[m]);
        mh->msg_iov = &q->mm_iov[m];
        mh->msg_iovlen = 1;
        idx[m++] = i;
    }
    int r = m ? sendmmsg(q->fd, q->mm, m, MSG_DONTWAIT) : 0;
    unsigned sent, acc;
    if (r < 0) {
        sent = 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            acc = idx[0];               /* nothing went: stop at the first */
        } else {
            acc = idx[0] + 1;           /* this frame cannot go: drop it */
            vf_stat_add(&st->tx_drops, 1);
        }
    } else {
        sent = (unsigned)r;
        acc = sent < m ? idx[sent] : n;
    }
    uint64_t bytes = 0;
    for (unsigned j = 0; j < sent; j++)
        bytes += pkts[idx[j]]->len;
    /* Malformed frames inside the accepted prefix are ours to drop. */
    unsigned bad = 0;
    for (unsigned i = 0, j = 0; i < acc; i++) {
        if (j < m && idx[j] == i) {
            j++;
        } else {
            bad++;
        }
    }
    if (sent) {
        vf_stat_add(&st->tx_pkts, sent);
        vf_stat_add(&st->tx_bytes, bytes);
    }
    vf_pool_free_burst(cache, pkts, acc);
    if (bad)
        vf_stat_add(&st->tx_drops, bad);
    /* Refused packets (want - acc) are the caller's to count (vf_port.h). */
    return acc;
}

static int sys_wait_fd(struct vf_port *p, unsigned qi)
{
    return udp_of(p)->q[qi].fd;
}


/* ---- GSO batches (both modes) ---- */

/* Sends one GSO batch (vf_port_udp.h) with UDP_SEGMENT, synchronously: the
 * kernel copies the payload during sendmsg, so the packet is free to go
 * as soon as this returns, and one system call carries up to
 * VF_UDP_GSO_MAX_SEGS datagrams. A batch longer than one send allows
 * (VF_UDP_GSO_MAX_BYTES) is cut at datagram boundaries. Frees the packet
 * and counts datagrams sent in tx_pkts, the rest in tx_drops. */
static void gso_tx_one(struct vf_port *p, unsigned qi, struct vf_pkt *pkt,
                       struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];
    const uint8_t *f = vf_pkt_data(pkt);
    struct sockaddr_in dst;
    uint32_t plen;
    uint32_t off = frame_parse(f, pkt->len, &dst, &plen, true);
    uint32_t seg = pkt->gso_size;

    if (!off || seg == 0) {
        vf_stat_add(&st->tx_drops, 1);
        vf_pool_free(cache, pkt);
        return;
    }
    uint32_t per = VF_UDP_GSO_MAX_BYTES / seg;
    if (per > VF_UDP_GSO_MAX_SEGS)
        per = VF_UDP_GSO_MAX_SEGS;
    if (per == 0)
        per = 1;
    uint64_t sent = 0, lost = 0, bytes = 0;
    /* Bounded by plen / seg sends. */
    for (uint32_t at = 0; at < plen;) {
        uint32_t n = plen - at < per * seg ? plen - at : per * seg;
        uint32_t dgrams = (n + seg - 1) / seg;
        union {
            char buf[CMSG_SPACE(sizeof(uint16_t))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = (void *)(f + off + at), .iov_len = n};
        struct msghdr mh = {
            .msg_name = &dst, .msg_namelen = sizeof(dst),
            .msg_iov = &iov, .msg_iovlen = 1,
        };
        if (dgrams > 1) {
            /* One datagram needs no segmentation (and the kernel refuses
             * UDP_SEGMENT with a payload not longer than the size). */
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof(ctl.buf);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t gs = (uint16_t)seg;
            memcpy(CMSG_DATA(cm), &gs, sizeof(gs));
        }
        if (sendmsg(q->fd, &mh, MSG_DONTWAIT) < 0) {
            lost += dgrams;   /* EAGAIN too: TCP inside will resend */
        } else {
            sent += dgrams;
            bytes += n + (uint64_t)dgrams * VF_UDP_OUTER_HDRS;
        }
        at += n;
    }
    if (sent) {
        vf_stat_add(&st->tx_pkts, sent);
        vf_stat_add(&st->tx_bytes, bytes);
    }
    if (lost)
        vf_stat_add(&st->tx_drops, lost);
    vf_pool_free(cache, pkt);
}

/* Hands runs of ordinary frames to `run` and sends GSO batches in between,
 * in order. Stops at the first run that is not wholly accepted. */
static unsigned tx_with_gso(struct vf_port *p, unsigned qi,
                            struct vf_pkt **pkts, unsigned n,
                            struct vf_pool_cache *cache,
                            unsigned (*run)(struct vf_port *, unsigned,
                                            struct vf_pkt **, unsigned,
                                            struct vf_pool_cache *))
{
    unsigned done = 0;
    while (done < n) {
        if (pkts[done]->gso_size) {
            gso_tx_one(p, qi, pkts[done], cache);
            done++;
            continue;
        }
        unsigned k = done;
        while (k < n && !pkts[k]->gso_size)
            k++;
        unsigned acc = run(p, qi, pkts + done, k - done, cache);
        done += acc;
        if (done < k)
            break;
    }
    return done;
}

static unsigned uring_tx_burst(struct vf_port *p, unsigned qi,
                               struct vf_pkt **pkts, unsigned n,
                               struct vf_pool_cache *cache)
{
    return tx_with_gso(p, qi, pkts, n, cache, uring_tx_run);
}

static unsigned sys_tx_burst(struct vf_port *p, unsigned qi,
                             struct vf_pkt **pkts, unsigned n,
                             struct vf_pool_cache *cache)
{
    return tx_with_gso(p, qi, pkts, n, cache, sys_tx_run);
}

/* ---- open / close ---- */

/* Frees packets outside any worker: through a private cache that is then
 * flushed back to the pool. */
static void free_pkts(struct vf_pool *pool, struct vf_pkt **pkts, unsigned n)
{
    if (n == 0)
        return;
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    if (!c)
        return;   /* leak rather than crash while closing */
    vf_pool_cache_init(c, pool);
    vf_pool_free_burst(c, pkts, n);
    vf_pool_cache_flush(c);
    free(c);
}

static void q_close(struct udp_port *u, struct vf_port *p, unsigned qi)
{
    struct udp_q *q = &u->q[qi];
    unsigned depth = u->o.ring_depth;
    struct vf_pool_cache *c = NULL;

    if (q->has_ring && q->tx && q->stage && q->n_tx_free < depth) {
        /* Sends in flight still reference their packets: give them a
         * bounded time to complete (zero-copy notifications included). */
        c = aligned_alloc(64, sizeof(*c));
        if (c) {
            vf_pool_cache_init(c, q->pool);
            for (int i = 0; i < UDP_CLOSE_WAIT_MS && q->n_tx_free < depth; i++) {
                struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
                struct io_uring_cqe *cqe;
                io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts);
                cq_poll(p, qi, c);
                while (q->st_n) {   /* keep the stage from blocking tx CQEs */
                    vf_pool_free(c, q->stage[q->st_head]);
                    q->st_head = (q->st_head + 1) & (depth - 1);
                    q->st_n--;
                }
            }
        }
    }
    if (q->has_ring)
        io_uring_queue_exit(&q->ring);   /* cancels the multishot receive */
    if (q->bufs) {
        unsigned nb = 0;
        for (unsigned i = 0; i < depth; i++)
            if (q->bufs[i])
                q->bufs[nb++] = q->bufs[i];
        free_pkts(q->pool, q->bufs, nb);
    }
    if (q->stage) {
        for (unsigned i = 0; i < q->st_n; i++)
            q->stage[i] = q->stage[(q->st_head + i) & (depth - 1)];
        free_pkts(q->pool, q->stage, q->st_n);
    }
    if (q->tx) {
        for (unsigned i = 0; i < depth; i++)
            if (q->tx[i].pkt)
                free_pkts(q->pool, &q->tx[i].pkt, 1);
    }
    if (c) {
        vf_pool_cache_flush(c);
        free(c);
    }
    if (q->own_cache) {
        vf_pool_cache_flush(q->own_cache);
        free(q->own_cache);
    }
    if (q->br)
        munmap(q->br, q->br_bytes);
    if (q->efd >= 0)
        close(q->efd);
    if (q->fd >= 0)
        close(q->fd);
    free(q->bufs);
    free(q->stage);
    free(q->tx);
    free(q->tx_free);
    free(q->mm);
    free(q->mm_iov);
    free(q->mm_name);
    free(q->mm_ctl);
}

static void udp_close(struct vf_port *p)
{
    if (!p)
        return;
    struct udp_port *u = p->priv;
    if (u) {
        for (unsigned i = 0; i < u->n_queues; i++)
            q_close(u, p, i);
        free(u);
    }
    vf_port_free(p);
}

static int parse_bind(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535)
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -EINVAL;
    return 0;
}

static int q_open_socket(struct udp_port *u, struct udp_q *q, bool probe_first,
                         const char *name, const char *bind_s, char *err,
                         size_t errlen)
{
    int one = 1;
    if (probe_first) {
        /* A socket without SO_REUSEPORT fails to bind if anyone holds the
         * port, even a reuseport group we would otherwise silently join. */
        int t = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (t < 0 || bind(t, (struct sockaddr *)&u->addr, sizeof(u->addr))) {
            snprintf(err, errlen, "udp port '%s': bind %s: %s", name, bind_s,
                     strerror(errno));
            if (t >= 0)
                close(t);
            return -EADDRINUSE;
        }
        close(t);
    }
    q->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0 ||
        setsockopt(q->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        bind(q->fd, (struct sockaddr *)&u->addr, sizeof(u->addr))) {
        int e = errno;
        snprintf(err, errlen, "udp port '%s': bind %s: %s", name, bind_s,
                 strerror(e));
        return -e;
    }
    if (u->addr.sin_port == 0) {
        /* PORT 0: the first queue's socket picks; the others join it. */
        socklen_t l = sizeof(u->addr);
        getsockname(q->fd, (struct sockaddr *)&u->addr, &l);
    }
    /* Bigger socket buffers ride out a worker's scheduling hiccup and a
     * peer's burst: the receive buffer is the queue in front of the ring
     * (VF_UDP_RCVBUF). With CAP_NET_ADMIN the FORCE variant is not capped
     * by net.core.rmem_max (212992 bytes on a stock kernel, doubled: ~500
     * small datagrams); without it, best effort under the cap. */
    int sz = VF_UDP_RCVBUF;
    if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
        setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (setsockopt(q->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
        setsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if (u->o.gro && setsockopt(q->fd, SOL_UDP, UDP_GRO, &one, sizeof(one))) {
        snprintf(err, errlen, "udp port '%s': UDP_GRO on %s: %s", name,
                 bind_s, strerror(errno));
        return -errno;
    }
    if (u->pktinfo &&
        setsockopt(q->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one))) {
        snprintf(err, errlen, "udp port '%s': IP_PKTINFO on %s: %s", name,
                 bind_s, strerror(errno));
        return -errno;
    }
    return 0;
}

static int q_open_uring(struct udp_port *u, struct udp_q *q, const char *name,
                        char *err, size_t errlen)
{
    unsigned depth = u->o.ring_depth;
    struct io_uring_params prm;
    int r;

    memset(&prm, 0, sizeof(prm));
    /* The SQ must hold a whole burst plus the rearm; the CQ must hold a
     * receive per provided buffer plus two CQEs per zero-copy send. */
    unsigned sq = depth < 2 * VF_BURST_MAX ? 2 * VF_BURST_MAX : depth;
    /* Cooperative task work, as on the tap port: no IPI per completion;
     * cq_poll enters the kernel when the TASKRUN flag says work waits. */
    prm.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
                IORING_SETUP_TASKRUN_FLAG;
    prm.cq_entries = 4 * depth > 2 * sq ? 4 * depth : 2 * sq;
    r = io_uring_queue_init_params(sq, &q->ring, &prm);
    if (r == -EINVAL) {   /* a kernel before 5.19: plain task work */
        unsigned cq = prm.cq_entries;
        memset(&prm, 0, sizeof(prm));
        prm.flags = IORING_SETUP_CQSIZE;
        prm.cq_entries = cq;
        r = io_uring_queue_init_params(sq, &q->ring, &prm);
    }
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

    /* Provided-buffer ring: page-aligned memory the kernel reads entries
     * from, sized for one entry per buffer. */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    q->br_bytes = (depth * sizeof(struct io_uring_buf) + pg - 1) & ~(pg - 1);
    q->br = mmap(NULL, q->br_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q->br == MAP_FAILED) {
        q->br = NULL;
        return -ENOMEM;
    }
    io_uring_buf_ring_init(q->br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)(uintptr_t)q->br,
        .ring_entries = depth,
        .bgid = UDP_BGID,
    };
    if ((r = io_uring_register_buf_ring(&q->ring, &reg, 0)) < 0) {
        snprintf(err, errlen, "udp port '%s': io_uring_register_buf_ring: %s",
                 name, strerror(-r));
        return r;
    }
    q->bufs = calloc(depth, sizeof(*q->bufs));
    q->own_cache = aligned_alloc(64, sizeof(*q->own_cache));
    if (!q->bufs || !q->own_cache)
        return -ENOMEM;
    vf_pool_cache_init(q->own_cache, q->pool);
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    if (!c)
        return -ENOMEM;
    vf_pool_cache_init(c, q->pool);
    unsigned have = 0;
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

static int q_open_sys(struct udp_port *u, struct udp_q *q)
{
    unsigned b = u->o.burst;
    q->mm = calloc(b, sizeof(*q->mm));
    q->mm_iov = calloc(b, sizeof(*q->mm_iov));
    q->mm_name = calloc(b, sizeof(*q->mm_name));
    q->mm_ctl = calloc(b, sizeof(*q->mm_ctl));
    return q->mm && q->mm_iov && q->mm_name && q->mm_ctl ? 0 : -ENOMEM;
}

/* The info op: the options in force (immutable after open, so safe to
 * read while workers run; the per-queue counters are not: q_info). */
static void udp_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    const struct udp_port *u = p->priv;
    char a[INET_ADDRSTRLEN + 8], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &u->addr.sin_addr, ip, sizeof(ip));
    snprintf(a, sizeof(a), "%s:%u", ip, ntohs(u->addr.sin_port));
    s->str(s->arg, "bind", a);
    s->str(s->arg, "rx_mode",
           u->o.rx_mode == VF_UDP_RX_SYSCALL ? "syscall" : "multishot");
    s->flag(s->arg, "send_zc", u->o.send_zc);
    s->flag(s->arg, "fixed_bufs", u->o.fixed_bufs);
    s->flag(s->arg, "gro", u->o.gro);
    s->u64(s->arg, "ring_depth", u->o.ring_depth);
}

static const struct vf_port_ops udp_ops = {
    .type = "udp",
    .rx_burst = uring_rx_burst,
    .tx_burst = uring_tx_burst,
    .wait_fd = uring_wait_fd,
    .close = udp_close,
    .info = udp_info,
};

static const struct vf_port_ops udp_sys_ops = {
    .type = "udp",
    .rx_burst = sys_rx_burst,
    .tx_burst = sys_tx_burst,
    .wait_fd = sys_wait_fd,
    .close = udp_close,
    .info = udp_info,
};

struct vf_port *vf_udp_port_open(const char *name, const char *bind_s,
                                 unsigned n_queues,
                                 const struct vf_udp_opts *o,
                                 struct vf_pool *const *pools,
                                 char *err, size_t errlen)
{
    struct vf_udp_opts def;
    struct vf_port *p = NULL;
    struct udp_port *u = NULL;
    char dummy[1];

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!name)
        name = "";
    if (!o) {
        vf_udp_opts_default(&def);
        o = &def;
    }
    struct vf_udp_opts opt = *o;
    if (opt.ring_depth == 0)
        opt.ring_depth = VF_UDP_DEPTH_DEFAULT;
    if (opt.burst == 0)
        opt.burst = VF_BURST_MAX;
    if (opt.ring_depth < 8 || opt.ring_depth > VF_UDP_DEPTH_MAX ||
        (opt.ring_depth & (opt.ring_depth - 1))) {
        snprintf(err, errlen,
                 "udp port '%s': ring_depth %u is not a power of two in 8..%u",
                 name, opt.ring_depth, VF_UDP_DEPTH_MAX);
        return NULL;
    }
    if (opt.burst > VF_BURST_MAX) {
        snprintf(err, errlen, "udp port '%s': burst %u exceeds %u", name,
                 opt.burst, VF_BURST_MAX);
        return NULL;
    }
    if (opt.rx_mode != VF_UDP_RX_MULTISHOT && opt.rx_mode != VF_UDP_RX_SYSCALL) {
        snprintf(err, errlen, "udp port '%s': unknown rx mode %d", name,
                 (int)opt.rx_mode);
        return NULL;
    }
    if (opt.gro && opt.rx_mode != VF_UDP_RX_MULTISHOT) {
        snprintf(err, errlen, "udp port '%s': gro needs the multishot rx mode",
                 name);
        return NULL;
    }
    for (unsigned i = 0; opt.gro && pools && i < n_queues; i++) {
        struct vf_pool_info info;
        if (!pools[i])
            break;   /* refused below */
        vf_pool_get_info(pools[i], &info);
        if (info.data_room < VF_UDP_GRO_DATA_ROOM) {
            snprintf(err, errlen, "udp port '%s': gro needs pools with a data "
                     "room of at least %u (queue %u has %u)", name,
                     VF_UDP_GRO_DATA_ROOM, i, info.data_room);
            return NULL;
        }
    }
    if (opt.fixed_bufs && !opt.send_zc) {
        snprintf(err, errlen, "udp port '%s': fixed_bufs needs send_zc", name);
        return NULL;
    }
    if (n_queues == 0 || n_queues > VF_PORT_MAX_QUEUES) {
        snprintf(err, errlen, "udp port '%s': n_queues %u not in 1..%u", name,
                 n_queues, VF_PORT_MAX_QUEUES);
        return NULL;
    }
    for (unsigned i = 0; i < n_queues; i++) {
        if (!pools || !pools[i]) {
            snprintf(err, errlen, "udp port '%s': no pool for queue %u", name, i);
            return NULL;
        }
    }

    struct sockaddr_in addr;
    if (parse_bind(bind_s, &addr) < 0) {
        snprintf(err, errlen,
                 "udp port '%s': bind address '%s' is not IPv4 ADDR:PORT", name,
                 bind_s ? bind_s : "(null)");
        return NULL;
    }

    bool sys = opt.rx_mode == VF_UDP_RX_SYSCALL;
    p = vf_port_alloc(sys ? &udp_sys_ops : &udp_ops, name, n_queues);
    u = calloc(1, sizeof(*u) + n_queues * sizeof(u->q[0]));
    if (!p || !u) {
        snprintf(err, errlen, "udp port '%s': out of memory", name);
        goto fail;
    }
    p->priv = u;
    /* Buffers a queue holds (vf_port.h). Multishot: the provided ring and
     * the staged frames (copies in the worker's pool when GRO copy-breaks;
     * counted there either way), and the sends in flight. Syscall mode
     * holds nothing between calls: sendmmsg and recvmmsg are synchronous. */
    p->rx_hold = sys ? 0 : 2 * opt.ring_depth;
    p->tx_hold = sys ? 0 : opt.ring_depth;
    /* Both modes send GSO batches; SO_REUSEPORT spreads flows. */
    vf_port_set_caps(p, VF_PORT_CAP_UDP_GSO | VF_PORT_CAP_MQ_RX, true);
    u->o = opt;
    u->addr = addr;
    u->pktinfo = addr.sin_addr.s_addr == htonl(INADDR_ANY);
    u->rx_hdr = (unsigned)(sizeof(struct io_uring_recvmsg_out) +
                           sizeof(struct sockaddr_in) +
                           (u->pktinfo ? UDP_CTL_LEN : 0) +
                           (opt.gro ? UDP_GRO_CTL_LEN : 0));
    _Static_assert(sizeof(struct io_uring_recvmsg_out) +
                           sizeof(struct sockaddr_in) + UDP_CTL_LEN +
                           UDP_GRO_CTL_LEN <=
                       VF_PKT_HEADROOM,
                   "the recvmsg header must fit in the headroom");
    u->n_queues = n_queues;
    for (unsigned i = 0; i < n_queues; i++) {
        u->q[i].fd = -1;
        u->q[i].efd = -1;
        u->q[i].pool = pools[i];
    }

    for (unsigned i = 0; i < n_queues; i++) {
        struct udp_q *q = &u->q[i];
        int r = q_open_socket(u, q, i == 0 && addr.sin_port != 0, name,
                              bind_s, err, errlen);
        if (r == 0)
            r = sys ? q_open_sys(u, q) : q_open_uring(u, q, name, err, errlen);
        if (r < 0) {
            if (!err[0])
                snprintf(err, errlen, "udp port '%s' on %s: queue %u: %s",
                         name, bind_s, i, strerror(-r));
            goto fail;
        }
    }
    return p;

fail:
    if (p && u)
        udp_close(p);
    else {
        free(u);
        vf_port_free(p);
    }
    return NULL;
}

int vf_udp_port_addr(const struct vf_port *p, struct sockaddr_in *out)
{
    if (!p || (p->ops != &udp_ops && p->ops != &udp_sys_ops))
        return -EINVAL;
    *out = ((const struct udp_port *)p->priv)->addr;
    return 0;
}

unsigned vf_udp_port_reap(struct vf_port *p, unsigned qi,
                          struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    if (!q->has_ring)
        return 0;
    cq_poll(p, qi, cache);
    return u->o.ring_depth - q->n_tx_free;
}

int vf_udp_port_q_info(const struct vf_port *p, unsigned qi,
                       struct vf_udp_q_info *out)
{
    if (!p || (p->ops != &udp_ops && p->ops != &udp_sys_ops) ||
        qi >= p->n_queues)
        return -EINVAL;
    const struct udp_port *u = p->priv;
    const struct udp_q *q = &u->q[qi];
    memset(out, 0, sizeof(*out));
    if (q->has_ring)
        out->tx_inflight = u->o.ring_depth - q->n_tx_free;
    out->rx_staged = q->st_n;
    out->zc_notifs = q->zc_notifs;
    out->zc_copied = q->zc_copied;
    out->rx_rearms = q->rx_rearms;
    return 0;
}
