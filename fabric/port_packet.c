/* port_packet.c - the physical network port (vf_port_packet.h, "packet").
 *
 * Per queue: one AF_PACKET socket with a TPACKET_V2 rx ring and tx ring in
 * one mapping (rx first). Each ring is an array of fixed slots of
 * SLOT bytes; a slot's tpacket2_hdr.tp_status says who owns it:
 *   rx: TP_STATUS_KERNEL (0) the kernel may fill it; TP_STATUS_USER set:
 *       ours to read, given back by storing TP_STATUS_KERNEL;
 *   tx: TP_STATUS_AVAILABLE ours to fill; we store SEND_REQUEST and the
 *       kernel sends it on the next send() and stores AVAILABLE back (or
 *       WRONG_FORMAT, which we count as a drop and reclaim).
 * The status word is shared with the kernel: read with acquire before the
 * slot's contents, written with release after them (the kernel's side
 * uses smp_wmb/smp_rmb around the same word).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fabric/vf_port_packet.h"

#define SLOT 2048u                  /* a slot: header + a frame up to 1522 */
#define DEFAULT_FRAMES 512u
#define BLOCK (SLOT * 16u)          /* ring block: 16 slots, 32 KB */
#define DATA_OFF (TPACKET_ALIGN(sizeof(struct tpacket2_hdr)))

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct pq {
    int fd;
    uint8_t *map;                   /* rx ring, then tx ring */
    size_t map_len;
    unsigned rx_head, tx_head;      /* next slot to look at */
};

struct pport {
    char ifname[IF_NAMESIZE];
    int ifindex;
    unsigned frames;                /* slots per ring */
    unsigned n_queues;
    struct pq q[];
};

static inline struct tpacket2_hdr *slot(const struct pport *pp,
                                        const struct pq *q, bool tx,
                                        unsigned i)
{
    return (struct tpacket2_hdr *)(q->map + (tx ? (size_t)pp->frames * SLOT
                                                : 0) + (size_t)i * SLOT);
}

static inline uint32_t status_load(const struct tpacket2_hdr *h)
{
    return atomic_load_explicit((_Atomic uint32_t *)&h->tp_status,
                                memory_order_acquire);
}

static inline void status_store(struct tpacket2_hdr *h, uint32_t s)
{
    atomic_store_explicit((_Atomic uint32_t *)&h->tp_status, s,
                          memory_order_release);
}

/* ---- rx ---- */

/* Copies one received slot into pkt: 0, or -1 for a frame to count as an
 * error (cut short by the slot). */
static int take(const struct tpacket2_hdr *h, struct vf_pkt *pkt)
{
    const uint8_t *f = (const uint8_t *)h + h->tp_mac;
    uint32_t len = h->tp_snaplen;
    bool tag = (h->tp_status & TP_STATUS_VLAN_VALID) && len >= 12;
    uint8_t *d = vf_pkt_data(pkt);

    if (h->tp_snaplen < h->tp_len || len + (tag ? 4u : 0u) >
                                     pkt->buf_len - pkt->data_off)
        return -1;
    if (!tag) {
        memcpy(d, f, len);
        pkt->len = len;
        return 0;
    }
    /* The tag as it was on the wire: MACs, TPID, TCI, then the rest. */
    uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) &&
                    h->tp_vlan_tpid ? h->tp_vlan_tpid : ETH_P_8021Q;
    uint16_t be_tpid = htons(tpid), be_tci = htons(h->tp_vlan_tci);
    memcpy(d, f, 12);
    memcpy(d + 12, &be_tpid, 2);
    memcpy(d + 14, &be_tci, 2);
    memcpy(d + 16, f + 12, len - 12);
    pkt->len = len + 4;
    return 0;
}

static unsigned pk_rx_burst(struct vf_port *p, unsigned qi,
                            struct vf_pkt **pkts, unsigned n,
                            struct vf_pool_cache *cache)
{
    struct pport *pp = p->priv;
    struct pq *q = &pp->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];
    unsigned got = 0, seen = 0, errors = 0, nobuf = 0;
    uint64_t bytes = 0;

    while (got < n && seen < pp->frames) {
        struct tpacket2_hdr *h = slot(pp, q, false, q->rx_head);
        const struct sockaddr_ll *sll;

        if (!(status_load(h) & TP_STATUS_USER))
            break;
        seen++;
        sll = (const struct sockaddr_ll *)((const uint8_t *)h +
                                           TPACKET_ALIGN(sizeof(*h)));
        if (sll->sll_pkttype != PACKET_OUTGOING) {
            struct vf_pkt *pkt = vf_pool_alloc(cache);
            if (!pkt) {
                nobuf++;
            } else if (take(h, pkt) != 0) {
                vf_pool_free(cache, pkt);
                errors++;
            } else {
                pkt->port = (uint16_t)p->index;
                bytes += pkt->len;
                pkts[got++] = pkt;
            }
        }
        status_store(h, TP_STATUS_KERNEL);
        q->rx_head = q->rx_head + 1 == pp->frames ? 0 : q->rx_head + 1;
    }
    if (got) {
        vf_stat_add(&st->rx_pkts, got);
        vf_stat_add(&st->rx_bytes, bytes);
    }
    if (errors)
        vf_stat_add(&st->rx_errors, errors);
    if (nobuf)
        vf_stat_add(&st->rx_no_buffer, nobuf);
    return got;
}

/* ---- tx ---- */

static unsigned pk_tx_burst(struct vf_port *p, unsigned qi,
                            struct vf_pkt **pkts, unsigned n,
                            struct vf_pool_cache *cache)
{
    struct pport *pp = p->priv;
    struct pq *q = &pp->q[qi];
    struct vf_port_q_stats *st = &p->qstats[qi];
    unsigned took = 0, queued = 0, refused = 0;
    uint64_t bytes = 0;

    while (took < n) {
        struct tpacket2_hdr *h = slot(pp, q, true, q->tx_head);
        uint32_t s = status_load(h);
        struct vf_pkt *pkt = pkts[took];

        if (s == TP_STATUS_WRONG_FORMAT) {
            /* The kernel refused what we put there earlier. */
            refused++;
        } else if (s != TP_STATUS_AVAILABLE) {
            break;                  /* the ring is full */
        }
        took++;
        if (pkt->len > VF_PACKET_FRAME_MAX || pkt->len > SLOT - DATA_OFF) {
            refused++;
            if (s == TP_STATUS_WRONG_FORMAT)
                status_store(h, TP_STATUS_AVAILABLE);
            vf_pool_free(cache, pkt);
            continue;
        }
        memcpy((uint8_t *)h + DATA_OFF, vf_pkt_data(pkt), pkt->len);
        h->tp_len = pkt->len;
        h->tp_snaplen = pkt->len;
        bytes += pkt->len;
        vf_pool_free(cache, pkt);
        status_store(h, TP_STATUS_SEND_REQUEST);
        queued++;
        q->tx_head = q->tx_head + 1 == pp->frames ? 0 : q->tx_head + 1;
    }
    /* One kick for the burst; the kernel sends every SEND_REQUEST slot.
     * It may fail with ENOBUFS under pressure: the slots stay queued and
     * go with the next kick. */
    if (queued)
        (void)send(q->fd, NULL, 0, MSG_DONTWAIT);
    if (queued) {
        vf_stat_add(&st->tx_pkts, queued);
        vf_stat_add(&st->tx_bytes, bytes);
    }
    if (refused)
        vf_stat_add(&st->tx_drops, refused);
    return took;
}

static int pk_wait_fd(struct vf_port *p, unsigned qi)
{
    return ((struct pport *)p->priv)->q[qi].fd;
}

static int pk_sleep_notify(struct vf_port *p, unsigned qi, int sleeping)
{
    struct pport *pp = p->priv;
    struct pq *q = &pp->q[qi];

    return sleeping && (status_load(slot(pp, q, false, q->rx_head)) &
                        TP_STATUS_USER);
}

static void pk_close(struct vf_port *p)
{
    struct pport *pp;

    if (!p)
        return;
    pp = p->priv;
    for (unsigned i = 0; pp && i < pp->n_queues; i++) {
        if (pp->q[i].map && pp->q[i].map != MAP_FAILED)
            munmap(pp->q[i].map, pp->q[i].map_len);
        if (pp->q[i].fd >= 0)
            close(pp->q[i].fd);
    }
    free(pp);
    vf_port_free(p);
}

static void pk_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    const struct pport *pp = p->priv;

    s->str(s->arg, "interface", pp->ifname);
    s->u64(s->arg, "ring_frames", pp->frames);
    s->str(s->arg, "mode", "af_packet tpacket_v2");
}

static const struct vf_port_ops packet_port_ops = {
    .type = "packet",
    .rx_burst = pk_rx_burst,
    .tx_burst = pk_tx_burst,
    .wait_fd = pk_wait_fd,
    .sleep_notify = pk_sleep_notify,
    .close = pk_close,
    .info = pk_info,
};

/* ---- open ---- */

static int open_queue(struct pport *pp, struct pq *q, int fanout_id,
                      char *err, size_t errlen)
{
    struct tpacket_req req = {
        .tp_block_size = BLOCK,
        .tp_block_nr = pp->frames / (BLOCK / SLOT),
        .tp_frame_size = SLOT,
        .tp_frame_nr = pp->frames,
    };
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = pp->ifindex,
    };
    struct packet_mreq mr = {
        .mr_ifindex = pp->ifindex,
        .mr_type = PACKET_MR_PROMISC,
    };
    int v2 = TPACKET_V2, one = 1;

    q->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   htons(ETH_P_ALL));
    if (q->fd < 0) {
        snprintf(err, errlen, "interface %s: packet socket: %s%s", pp->ifname,
                 strerror(errno), errno == EPERM ? " (needs CAP_NET_RAW)" : "");
        return -errno;
    }
    if (setsockopt(q->fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) ||
        setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) ||
        setsockopt(q->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req))) {
        snprintf(err, errlen, "interface %s: packet rings: %s", pp->ifname,
                 strerror(errno));
        return -errno;
    }
    /* Best effort: kernels without them still work (outgoing frames are
     * skipped by type in rx_burst; tx then goes through the qdisc). */
    (void)setsockopt(q->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                     sizeof(one));
    (void)setsockopt(q->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
                     sizeof(one));
    q->map_len = 2 * (size_t)req.tp_block_size * req.tp_block_nr;
    q->map = mmap(NULL, q->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                  q->fd, 0);
    if (q->map == MAP_FAILED) {
        q->map = NULL;
        snprintf(err, errlen, "interface %s: mapping the rings: %s",
                 pp->ifname, strerror(errno));
        return -errno;
    }
    if (bind(q->fd, (struct sockaddr *)&sll, sizeof(sll))) {
        snprintf(err, errlen, "interface %s: bind: %s", pp->ifname,
                 strerror(errno));
        return -errno;
    }
    if (setsockopt(q->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
                   sizeof(mr))) {
        snprintf(err, errlen, "interface %s: promiscuous mode: %s",
                 pp->ifname, strerror(errno));
        return -errno;
    }
    if (fanout_id >= 0) {
        int f = fanout_id | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &f, sizeof(f))) {
            snprintf(err, errlen, "interface %s: fanout group: %s",
                     pp->ifname, strerror(errno));
            return -errno;
        }
    }
    return 0;
}

struct vf_port *vf_packet_port_open(const char *name, const char *ifname,
                                    unsigned n_queues,
                                    const struct vf_packet_opts *o,
                                    char *err, size_t errlen)
{
    static _Atomic unsigned groups;     /* mgmt only; relaxed: a counter */
    unsigned frames = o && o->ring_frames ? o->ring_frames : DEFAULT_FRAMES;
    struct vf_port *p;
    struct pport *pp;
    int fanout = -1;

    if (!ifname || !ifname[0] || strlen(ifname) >= IF_NAMESIZE) {
        snprintf(err, errlen, "interface \"%s\": not an interface name",
                 ifname ? ifname : "");
        return NULL;
    }
    if (n_queues < 1 || n_queues > VF_PORT_MAX_QUEUES) {
        snprintf(err, errlen, "interface %s: %u queues (want 1..%d)", ifname,
                 n_queues, VF_PORT_MAX_QUEUES);
        return NULL;
    }
    frames = (frames + BLOCK / SLOT - 1) / (BLOCK / SLOT) * (BLOCK / SLOT);
    p = vf_port_alloc(&packet_port_ops, name, n_queues);
    pp = calloc(1, sizeof(*pp) + n_queues * sizeof(pp->q[0]));
    if (!p || !pp) {
        snprintf(err, errlen, "interface %s: out of memory", ifname);
        free(pp);
        vf_port_free(p);
        return NULL;
    }
    p->priv = pp;
    snprintf(pp->ifname, sizeof(pp->ifname), "%s", ifname);
    pp->frames = frames;
    pp->n_queues = n_queues;
    for (unsigned i = 0; i < n_queues; i++)
        pp->q[i].fd = -1;
    pp->ifindex = (int)if_nametoindex(ifname);
    if (pp->ifindex == 0) {
        snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
        goto fail;
    }
    /* One fanout group per port, unique in this process and unlikely to
     * meet another process's on the same interface. */
    if (n_queues > 1)
        fanout = (int)((((unsigned)getpid() << 4) ^
                        atomic_fetch_add_explicit(&groups, 1, memory_order_relaxed)) & 0xffff);
    for (unsigned i = 0; i < n_queues; i++)
        if (open_queue(pp, &pp->q[i], fanout, err, errlen))
            goto fail;
    p->rx_hold = 0;
    p->tx_hold = frames;
    if (n_queues > 1)
        vf_port_set_caps(p, VF_PORT_CAP_MQ_RX, true);
    return p;
fail:
    pk_close(p);
    return NULL;
}
