/* udp_gso.c - the UDP uplink's GSO batches (vf_port_udp.h, "GSO
 * batches"), and the tx_burst of both modes, which sends runs of ordinary
 * frames through the mode and the batches between them, in order.
 */
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include "fabric/udp_impl.h"

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
    uint32_t off = udp_frame_parse(f, pkt->len, &dst, &plen, true);
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

unsigned udp_uring_tx_burst(struct vf_port *p, unsigned qi,
                            struct vf_pkt **pkts, unsigned n,
                            struct vf_pool_cache *cache)
{
    return tx_with_gso(p, qi, pkts, n, cache, udp_uring_tx_run);
}

unsigned udp_sys_tx_burst(struct vf_port *p, unsigned qi,
                          struct vf_pkt **pkts, unsigned n,
                          struct vf_pool_cache *cache)
{
    return tx_with_gso(p, qi, pkts, n, cache, udp_sys_tx_run);
}
