/* udp_sys.c - the UDP uplink's syscall mode (udp_impl.h, vf_port_udp.h):
 * recvmmsg / sendmmsg with MSG_DONTWAIT, no io_uring; the baseline the
 * io_uring mode is measured against. Nothing is held between calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fabric/udp_impl.h"

unsigned udp_sys_rx_burst(struct vf_port *p, unsigned qi,
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
        uint32_t dst_ip = udp_dgram_dst(u, mh, CMSG_FIRSTHDR(mh));
        pkt->data_off = VF_PKT_HEADROOM - VF_UDP_OUTER_HDRS;
        udp_frame_synth(pkt, q->mm[i].msg_len, &q->mm_name[i], dst_ip,
                        u->addr.sin_port);
        pkt->port = (uint16_t)p->index;
        bytes += pkt->len;
        pkts[k++] = pkt;
    }
    if (got > (unsigned)r)
        vf_pool_free_burst(cache, pkts + r, got - (unsigned)r);
    udp_count_rx(p, qi, k, bytes);
    return k;
}

unsigned udp_sys_tx_run(struct vf_port *p, unsigned qi,
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
        uint32_t off = udp_frame_parse(f, pkt->len, &q->mm_name[m], &plen, false);
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

int udp_sys_wait_fd(struct vf_port *p, unsigned qi)
{
    return udp_of(p)->q[qi].fd;
}

int udp_sys_q_open(struct udp_port *u, struct udp_q *q)
{
    unsigned b = u->o.burst;
    q->mm = calloc(b, sizeof(*q->mm));
    q->mm_iov = calloc(b, sizeof(*q->mm_iov));
    q->mm_name = calloc(b, sizeof(*q->mm_name));
    q->mm_ctl = calloc(b, sizeof(*q->mm_ctl));
    return q->mm && q->mm_iov && q->mm_name && q->mm_ctl ? 0 : -ENOMEM;
}
