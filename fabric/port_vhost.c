/* port_vhost.c - the vhost-user port (vf_port_vhost.h, "vhost-user").
 *
 * A thin layer: each op enters the ring it needs (vf_virtq_enter, the
 * handshake with the management thread), calls the virtqueue data path, and
 * keeps the port's per-queue counters. Queue q is queue pair q: RX ring 2q,
 * TX ring 2q+1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/virtio_net.h>

#include "fabric/vf_port_vhost.h"
#include "numa/vf_wire.h"

#define TX_RING(q) (2u * (q) + 1u)
#define RX_RING(q) (2u * (q))
#define ETH_OVERHEAD (VF_ETH_HDR_LEN + VF_VLAN_HDR_LEN)   /* one VLAN tag */

struct vhost_port {
    struct vf_vhost_dev *dev;
    unsigned n_queues;
};

static inline struct vf_vhost_dev *port_dev(struct vf_port *p)
{
    return ((struct vhost_port *)p->priv)->dev;
}

static unsigned vhost_rx_burst(struct vf_port *p, unsigned q, struct vf_pkt **pkts,
                               unsigned n, struct vf_pool_cache *cache)
{
    struct vf_virtq *vq = vf_vhost_dev_vq(port_dev(p), TX_RING(q));
    if (!vq || !cache || !vf_virtq_enter(vq))
        return 0;
    struct vf_virtq_burst res;
    unsigned k = vf_virtq_dequeue_burst(vq, pkts, n, cache, &res);
    vf_virtq_leave(vq);

    struct vf_port_q_stats *s = &p->qstats[q];
    if (res.dropped)
        vf_stat_add(&s->rx_errors, res.dropped);
    if (k == 0)
        return 0;
    uint16_t idx = (uint16_t)p->index;
    for (unsigned i = 0; i < k; i++)
        pkts[i]->port = idx;
    vf_stat_add(&s->rx_pkts, k);
    vf_stat_add(&s->rx_bytes, res.bytes);
    return k;
}

static unsigned vhost_tx_burst(struct vf_port *p, unsigned q, struct vf_pkt **pkts,
                               unsigned n, struct vf_pool_cache *cache)
{
    struct vf_vhost_dev *dev = port_dev(p);
    struct vf_virtq *vq = vf_vhost_dev_vq(dev, RX_RING(q));
    if (!vq || !cache || n == 0)
        return 0;
    /* Fewer guest queue pairs than port queues: share queue pair 0's. */
    if (!vf_virtq_enter(vq)) {
        vq = vf_vhost_dev_vq(dev, RX_RING(0));
        if (q == 0 || !vf_virtq_enter(vq))
            return 0;
    }
    struct vf_virtq_burst res;
    unsigned k = vf_virtq_enqueue_burst(vq, pkts, n, cache, &res);
    vf_virtq_leave(vq);
    /* Accepted but refused frames (named in the ring's stats) are tx drops
     * the port counts itself: the worker counts only what it gets back. */
    struct vf_port_q_stats *s = &p->qstats[q];
    if (res.delivered) {
        vf_stat_add(&s->tx_pkts, res.delivered);
        vf_stat_add(&s->tx_bytes, res.bytes);
    }
    if (res.dropped)
        vf_stat_add(&s->tx_drops, res.dropped);
    return k;
}

static int vhost_wait_fd(struct vf_port *p, unsigned q)
{
    return vf_vhost_dev_wait_fd(port_dev(p), q);
}

static int vhost_sleep_notify(struct vf_port *p, unsigned q, int sleeping)
{
    struct vf_vhost_dev *dev = port_dev(p);
    struct vf_virtq *vq = vf_vhost_dev_vq(dev, TX_RING(q));
    if (!vq)
        return 0;
    int pending = 0;
    if (!sleeping)
        vf_vhost_dev_wake_clear(dev, q);
    if (vf_virtq_enter(vq)) {
        if (sleeping)
            pending = vf_virtq_notify_enable(vq);
        else
            vf_virtq_notify_disable(vq);
        vf_virtq_leave(vq);
    }
    return pending;
}

static void vhost_close(struct vf_port *p)
{
    if (!p)
        return;
    struct vhost_port *vp = p->priv;
    if (vp) {
        vf_vhost_dev_destroy(vp->dev);
        free(vp);
    }
    vf_port_free(p);
}

/* The device's on_features callback (mgmt thread): a guest that takes
 * TSO frames in both families gets GSO frames whole, as a tap does; one
 * with only one of them gets segments (always right, if slower), so the
 * pipeline needs no per-family bit. Reset to segments at a disconnect.
 * No features (not connected, or not negotiated yet): the port is down
 * for the worker's drop count (port_down). */
static void vhost_features(void *arg, uint64_t features)
{
    const uint64_t tso = (1ull << VIRTIO_NET_F_GUEST_TSO4) |
                         (1ull << VIRTIO_NET_F_GUEST_TSO6);
    vf_port_set_caps(arg, VF_PORT_CAP_GSO_TX, (features & tso) == tso);
    vf_port_set_caps(arg, VF_PORT_CAP_FAR_DOWN, features == 0);
}

/* Per ring, under "rings.<n>." (a dotted key is a nested object for the
 * JSON sink, vf_port.h): ring 2q is queue pair q's guest RX (vfab
 * enqueues), 2q+1 its guest TX (vfab dequeues). A broken ring names its
 * reason; errors lists only the reasons counted. */
static void ring_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    const struct vhost_port *vp = p->priv;
    char k[96];

    for (unsigned r = 0; r < 2 * vp->n_queues; r++) {
        struct vf_vhost_ring_info ri;
        if (vf_vhost_dev_ring_info(vp->dev, r, &ri))
            continue;
#define KEY_(name) (snprintf(k, sizeof(k), "rings.%u.%s", r, name), k)
        s->u64(s->arg, KEY_("queue_pair"), r / 2);
        s->str(s->arg, KEY_("guest"), r % 2 ? "tx" : "rx");
        s->u64(s->arg, KEY_("size"), ri.size);
        s->flag(s->arg, KEY_("started"), ri.started);
        s->flag(s->arg, KEY_("enabled"), ri.enabled);
        s->flag(s->arg, KEY_("live"), ri.live);
        s->u64(s->arg, KEY_("pkts"), ri.pkts);
        s->u64(s->arg, KEY_("bytes"), ri.bytes);
        s->u64(s->arg, KEY_("kicks"), ri.kicks);
        s->u64(s->arg, KEY_("calls"), ri.calls);
        s->u64(s->arg, KEY_("full"), ri.full);
        s->str(s->arg, KEY_("broken"),
               ri.broken ? vf_virtq_err_name(ri.broken) : "");
        for (unsigned e = 1; e < VF_VIRTQ_ERR__COUNT; e++) {
            char ek[64];
            if (!ri.err[e])
                continue;
            snprintf(ek, sizeof(ek), "errors.%s", vf_virtq_err_name(e));
            s->u64(s->arg, KEY_(ek), ri.err[e]);
        }
#undef KEY_
    }
}

/* The info op: the device's state and negotiation (vf_vhost_dev_info). */
static void vhost_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    struct vf_vhost_info vi;
    if (vf_vhost_dev_info(((const struct vhost_port *)p->priv)->dev, &vi))
        return;
    s->str(s->arg, "socket", vi.socket);
    s->flag(s->arg, "server", vi.server);
    s->str(s->arg, "state", vf_vhost_state_name(vi.state));
    s->u64(s->arg, "queue_pairs", vi.n_qp);
    s->u64(s->arg, "features_offered", vi.features_offered);
    s->u64(s->arg, "features", vi.features);
    s->u64(s->arg, "protocol_features", vi.protocol);
    s->u64(s->arg, "mtu", vi.mtu);
    s->flag(s->arg, "gso_tx", vf_port_has(p, VF_PORT_CAP_GSO_TX));
    s->u64(s->arg, "connects", vi.connects);
    s->u64(s->arg, "disconnects", vi.disconnects);
    s->u64(s->arg, "refused", vi.refused);
    s->str(s->arg, "last_error", vi.last_error);
    ring_info(p, s);
}

static const struct vf_port_ops vhost_port_ops = {
    .type = "vhost-user",
    .rx_burst = vhost_rx_burst,
    .tx_burst = vhost_tx_burst,
    .wait_fd = vhost_wait_fd,
    .sleep_notify = vhost_sleep_notify,
    .close = vhost_close,
    .info = vhost_info,
};

struct vf_port *vf_vhost_port_open(const char *name,
                                   const struct vf_vhost_port_opts *o,
                                   unsigned n_queues,
                                   struct vf_pool *const *pools,
                                   char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    const char *sock = o && o->socket ? o->socket : "";
    if (!o || n_queues == 0 || n_queues > VF_PORT_MAX_QUEUES || !pools) {
        snprintf(err, errlen, "vhost-user port '%s' (socket '%s'): need 1-%d "
                 "queues, each with a pool", name ? name : "", sock, VF_PORT_MAX_QUEUES);
        return NULL;
    }
    unsigned room = UINT32_MAX;
    for (unsigned q = 0; q < n_queues; q++) {
        struct vf_pool_info info;
        if (!pools[q]) {
            snprintf(err, errlen, "vhost-user port '%s': queue %u has no pool", name, q);
            return NULL;
        }
        vf_pool_get_info(pools[q], &info);
        room = info.data_room < room ? info.data_room : room;
    }
    if (room < VF_PKT_HEADROOM + 1514u) {
        snprintf(err, errlen, "vhost-user port '%s': pool data room %u is below %u",
                 name, room, VF_PKT_HEADROOM + 1514u);
        return NULL;
    }
    if (o->tso && room < VF_VHOST_TSO_DATA_ROOM) {
        snprintf(err, errlen, "vhost-user port '%s': tso needs pools with a data "
                 "room of at least %u (the smallest has %u)", name,
                 VF_VHOST_TSO_DATA_ROOM, room);
        return NULL;
    }
    unsigned max_frame = room - VF_PKT_HEADROOM;
    if (max_frame > VF_VIRTQ_MAX_FRAME)
        max_frame = VF_VIRTQ_MAX_FRAME;
    struct vf_vhost_opts dopts = {
        .socket = o->socket,
        .server = o->server,
        .n_qp = n_queues,
        .tso = o->tso,
        /* The MTU the guest may set: what one buffer holds (an L3 size). */
        .max_mtu = max_frame - ETH_OVERHEAD < 65535u ? max_frame - ETH_OVERHEAD : 65535u,
        .log = o->log,
        .log_arg = o->log_arg,
        .on_features = vhost_features,
    };

    struct vf_port *p = vf_port_alloc(&vhost_port_ops, name, n_queues);
    struct vhost_port *vp = calloc(1, sizeof(*vp));
    if (!p || !vp) {
        snprintf(err, errlen, "vhost-user port '%s': out of memory", name);
        free(vp);
        vf_port_free(p);
        return NULL;
    }
    p->priv = vp;
    /* Buffers a queue holds (vf_port.h): none between calls. RX copies out
     * of guest memory into fresh buffers it hands over; TX copies into the
     * guest's buffers and frees, and what the guest's ring has no room for
     * goes back to the worker (tx_queue_full). A guest that stops reading
     * therefore holds none of the worker's pool. */
    p->rx_hold = 0;
    p->tx_hold = 0;
    /* One queue pair per worker; GSO_TX comes with the guest's features. */
    vf_port_set_caps(p, VF_PORT_CAP_MQ_RX, true);
    vf_port_set_caps(p, VF_PORT_CAP_FAR_DOWN, true);
    dopts.on_features_arg = p;
    vp->n_queues = n_queues;
    vp->dev = vf_vhost_dev_create(&dopts, err, errlen);
    if (!vp->dev) {
        vhost_close(p);
        return NULL;
    }
    return p;
}

struct vf_vhost_dev *vf_vhost_port_dev(struct vf_port *p)
{
    if (!p || p->ops != &vhost_port_ops)
        return NULL;
    return port_dev(p);
}
