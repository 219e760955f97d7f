/* port_verbs.c - the RDMA verbs uplink (vf_port_verbs.h, "verbs").
 *
 * Objects, created in this order and destroyed in the reverse one:
 *   device context -> PD -> one MR per distinct pool -> per queue: tx CQ,
 *   rx CQ (receiving queues), the queue's QP (raw packet; send only unless
 *   it is the single receiving queue), in RSS mode its receive WQ ->
 *   RSS only: indirection table -> hashing QP -> flow steering rules on
 *   the receiving QP (the hashing QP, or queue 0's QP).
 * Each queue has two CQs, not one: tx_burst reaps send completions and
 * rx_burst receive completions, and with a shared CQ each would have to
 * park the other's entries somewhere.
 *
 * Receive bookkeeping: rx_slots[] maps a receive WR's wr_id (a slot
 * index) to its packet; rx_free[] is a stack of free slot indices, so the
 * number posted is rq_size - rx_nfree and close frees exactly the slots in
 * use. Transmit bookkeeping: tx_ring[] holds the posted packets in post
 * order; tx_head counts WRs posted, tx_tail WRs known complete. A
 * signalled WR's wr_id is its sequence number + 1, and its completion
 * means every WR up to it is done (a send queue completes in order).
 *
 * Hot path bounds: rx_burst polls once for at most VF_BURST_MAX entries
 * and posts the refill in chunks of VF_BURST_MAX (at most rq_size WRs);
 * tx_burst posts at most n WRs in chunks of VF_BURST_MAX, one doorbell per
 * chunk; reaping frees at most sq_size packets. Local arrays are
 * VF_BURST_MAX long, so nothing is allocated.
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <infiniband/verbs.h>

#include "fabric/vf_port_verbs.h"
#include "numa/vf_err.h"
#include "numa/vf_wire.h"

#define VERBS_MAX_RQ 32768u
#define VERBS_RSS_KEY_LEN 40
#define VERBS_N_FLOWS 2      /* Geneve and VXLAN destination ports */

struct verbs_mr {
    struct vf_pool *pool;
    struct ibv_mr *mr;
};

struct verbs_q {
    /* Set at open, read-only afterwards (worker: ro). */
    alignas(VF_CACHE_LINE) struct ibv_cq *tx_cq;
    struct ibv_cq *rx_cq;       /* NULL: the queue only transmits */
    struct ibv_qp *qp;          /* sends; receives too in single-RQ mode */
    struct ibv_wq *wq;          /* RSS mode: this queue's receive WQ */
    struct vf_pkt **rx_slots;   /* rq_size entries; NULL when free */
    uint32_t *rx_free;          /* stack of free slot indices */
    struct vf_pkt **tx_ring;    /* sq_size entries, a power of two */
    struct vf_pool_cache *own_cache; /* on pools[q]: open, close, fallback */
    const struct verbs_mr *last_mr;  /* tx lookup hint */

    /* worker: rw (mgmt only at open/close, when no worker runs) */
    unsigned rx_nfree;
    uint64_t tx_head, tx_tail;

    /* worker: rw (vf_stat_add: one writer, so a relaxed load and store,
     * no locked add), mgmt: ro (relaxed loads, never torn) */
    _Atomic uint64_t tx_completions, tx_errors, tx_copies, rx_refill_short;
};

struct verbs_port {
    char dev_name[64];
    int ib_port;
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    unsigned n_mrs;
    struct verbs_mr mrs[VF_PORT_MAX_QUEUES];
    struct ibv_rwq_ind_table *ind_tbl;
    struct ibv_qp *hash_qp;
    unsigned n_flows;
    struct ibv_flow *flows[VERBS_N_FLOWS];
    bool rss;
    unsigned n_rxq;
    unsigned rq_size, sq_size, sig_every;
    unsigned n_queues;
    struct verbs_q *q;          /* n_queues entries */
};

/* A fixed Toeplitz key made of one repeated 16-bit pattern: such a key
 * hashes (a, b) and (b, a) alike, which keeps both directions of an outer
 * flow on one queue; any 40-byte key would do for spreading. */
static uint8_t rss_key[VERBS_RSS_KEY_LEN] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

static const struct vf_port_ops verbs_port_ops;

static inline unsigned min_u(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

/* Linear search: at most one MR per queue, and the hint catches the
 * common case of a queue sending its own pool's buffers. */
static inline const struct verbs_mr *mr_find(const struct verbs_port *vp,
                                             struct verbs_q *vq,
                                             const struct vf_pool *pool)
{
    if (vq->last_mr && vq->last_mr->pool == pool)
        return vq->last_mr;
    for (unsigned i = 0; i < vp->n_mrs; i++) {
        if (vp->mrs[i].pool == pool) {
            vq->last_mr = &vp->mrs[i];
            return vq->last_mr;
        }
    }
    return NULL;
}

/* ---- receive ---- */

/* Posts fresh buffers until every slot is in use or the pool is empty.
 * Buffers come from the worker's cache when its pool is registered (no
 * second cache in the loop), else from the queue's own cache. */
static void rx_refill(struct verbs_port *vp, struct verbs_q *vq,
                      struct vf_pool_cache *cache)
{
    struct vf_pool_cache *c = vq->own_cache;
    const struct verbs_mr *mr;

    if (cache && cache->pool && (mr = mr_find(vp, vq, cache->pool)) != NULL)
        c = cache;
    else
        mr = mr_find(vp, vq, c->pool);
    if (!mr)
        return;   /* cannot happen: open registers every pools[q] */

    while (vq->rx_nfree > 0) {
        struct vf_pkt *fresh[VF_BURST_MAX];
        struct ibv_recv_wr wr[VF_BURST_MAX];
        struct ibv_sge sge[VF_BURST_MAX];
        unsigned want = min_u(vq->rx_nfree, VF_BURST_MAX);
        /* An uplink's receive may take the pool's reserve (vf_pool.h). */
        unsigned k = vf_pool_alloc_burst_reserve(c, fresh, want);

        if (k == 0) {
            vf_stat_add(&vq->rx_refill_short, 1);
            return;
        }
        for (unsigned j = 0; j < k; j++) {
            uint32_t slot = vq->rx_free[--vq->rx_nfree];
            struct vf_pkt *pk = fresh[j];
            vq->rx_slots[slot] = pk;
            sge[j].addr = (uintptr_t)(pk->buf + VF_PKT_HEADROOM);
            sge[j].length = pk->buf_len - VF_PKT_HEADROOM;
            sge[j].lkey = mr->mr->lkey;
            wr[j].wr_id = slot;
            wr[j].sg_list = &sge[j];
            wr[j].num_sge = 1;
            wr[j].next = j + 1 < k ? &wr[j + 1] : NULL;
        }
        struct ibv_recv_wr *bad = NULL;
        int rc = vq->wq ? ibv_post_wq_recv(vq->wq, wr, &bad)
                        : ibv_post_recv(vq->qp, wr, &bad);
        if (rc) {
            /* WRs from bad on were not posted: take them back. */
            unsigned from = bad ? (unsigned)(bad - wr) : 0;
            for (unsigned j = from; j < k; j++) {
                uint32_t slot = (uint32_t)wr[j].wr_id;
                vq->rx_slots[slot] = NULL;
                vq->rx_free[vq->rx_nfree++] = slot;
            }
            vf_pool_free_burst(c, &fresh[from], k - from);
            vf_stat_add(&vq->rx_refill_short, 1);
            return;
        }
        if (k < want) {
            vf_stat_add(&vq->rx_refill_short, 1);
            return;
        }
    }
}

/* ---- transmit completions ---- */

/* Frees the packets of WRs tx_tail .. upto-1 (sequence numbers). */
static void tx_release(struct verbs_port *vp, struct verbs_q *vq,
                       uint64_t upto, struct vf_pool_cache *c)
{
    uint64_t mask = vp->sq_size - 1;
    while (vq->tx_tail < upto) {
        struct vf_pkt *done[VF_BURST_MAX];
        unsigned k = 0;
        while (k < VF_BURST_MAX && vq->tx_tail < upto) {
            done[k++] = vq->tx_ring[vq->tx_tail & mask];
            vq->tx_tail++;
        }
        vf_pool_free_burst(c, done, k);
    }
}

/* Reaps send completions. Bounded: each entry frees >= 1 WR, so at most
 * sq_size entries exist; the loop stops at the first short poll. */
static void tx_reap(struct verbs_port *vp, struct verbs_q *vq,
                    struct vf_pool_cache *cache)
{
    struct vf_pool_cache *c = cache ? cache : vq->own_cache;
    unsigned polls = vp->sq_size / 16 + 1;

    while (vq->tx_head != vq->tx_tail && polls-- > 0) {
        struct ibv_wc wc[16];
        int got = ibv_poll_cq(vq->tx_cq, 16, wc);
        if (got <= 0) {
            if (got < 0)
                vf_stat_add(&vq->tx_errors, 1);
            return;
        }
        for (int i = 0; i < got; i++) {
            uint64_t seq = wc[i].wr_id;
            if (wc[i].status != IBV_WC_SUCCESS)
                vf_stat_add(&vq->tx_errors, 1);
            /* A wr_id outside (tail, head] is not one of ours. */
            if (seq <= vq->tx_tail || seq > vq->tx_head)
                continue;
            tx_release(vp, vq, seq, c);
        }
        vf_stat_add(&vq->tx_completions, (uint64_t)got);
        if (got < 16)
            return;
    }
}

/* ---- port ops ---- */

static inline struct verbs_q *port_q(struct vf_port *p, unsigned q)
{
    struct verbs_port *vp = p->priv;
    return q < vp->n_queues ? &vp->q[q] : NULL;
}

static unsigned verbs_rx_burst(struct vf_port *p, unsigned q,
                               struct vf_pkt **pkts, unsigned n,
                               struct vf_pool_cache *cache)
{
    struct verbs_port *vp = p->priv;
    struct verbs_q *vq = port_q(p, q);
    if (!vq || !vq->rx_cq)
        return 0;
    /* Reaping here too returns sent buffers when the queue sends little. */
    if (vq->tx_head != vq->tx_tail)
        tx_reap(vp, vq, cache);

    struct ibv_wc wc[VF_BURST_MAX];
    int got = ibv_poll_cq(vq->rx_cq, (int)min_u(n, VF_BURST_MAX), wc);
    struct vf_port_q_stats *s = &p->qstats[q];
    if (got <= 0) {
        if (got < 0)
            vf_stat_add(&s->rx_errors, 1);
        /* A queue the pool could not refill gets no completion to wake
         * it up; retry here so it recovers once buffers are back. */
        if (vq->rx_nfree > 0)
            rx_refill(vp, vq, cache);
        return 0;
    }

    struct vf_pkt *bad[VF_BURST_MAX];
    unsigned out = 0, n_bad = 0, n_err = 0;
    uint64_t bytes = 0;
    uint16_t idx = (uint16_t)p->index;
    for (int i = 0; i < got; i++) {
        uint64_t slot = wc[i].wr_id;
        if (slot >= vp->rq_size || !vq->rx_slots[slot]) {
            n_err++;   /* not a WR we posted: nothing to free */
            continue;
        }
        struct vf_pkt *pk = vq->rx_slots[slot];
        vq->rx_slots[slot] = NULL;
        vq->rx_free[vq->rx_nfree++] = (uint32_t)slot;
        if (wc[i].status != IBV_WC_SUCCESS || wc[i].opcode != IBV_WC_RECV ||
            wc[i].byte_len > pk->buf_len - VF_PKT_HEADROOM) {
            bad[n_bad++] = pk;
            continue;
        }
        pk->len = wc[i].byte_len;
        pk->port = idx;
        bytes += pk->len;
        pkts[out++] = pk;
    }
    if (n_bad > 0)
        vf_pool_free_burst(cache ? cache : vq->own_cache, bad, n_bad);
    if (n_bad + n_err > 0)
        vf_stat_add(&s->rx_errors, n_bad + n_err);
    if (out > 0) {
        vf_stat_add(&s->rx_pkts, out);
        vf_stat_add(&s->rx_bytes, bytes);
    }
    rx_refill(vp, vq, cache);
    return out;
}

/* A copy of pk in a buffer of a registered pool, or NULL (pool empty,
 * frame too long). The original stays the caller's. */
static struct vf_pkt *tx_copy(struct verbs_port *vp, struct verbs_q *vq,
                              struct vf_pool_cache *cache,
                              const struct vf_pkt *pk,
                              const struct verbs_mr **mr)
{
    struct vf_pool_cache *c = vq->own_cache;
    if (cache && cache->pool && mr_find(vp, vq, cache->pool))
        c = cache;
    struct vf_pkt *cp = vf_pool_alloc(c);
    if (!cp)
        return NULL;
    if (vf_pkt_set(cp, vf_pkt_data(pk), pk->len) != 0) {
        vf_pool_free(c, cp);
        return NULL;
    }
    *mr = mr_find(vp, vq, cp->pool);
    vf_stat_add(&vq->tx_copies, 1);
    return cp;
}

static unsigned verbs_tx_burst(struct vf_port *p, unsigned q,
                               struct vf_pkt **pkts, unsigned n,
                               struct vf_pool_cache *cache)
{
    struct verbs_port *vp = p->priv;
    struct verbs_q *vq = port_q(p, q);
    if (!vq)
        return 0;
    tx_reap(vp, vq, cache);   /* also with n == 0: a way to reap only */

    const uint64_t mask = vp->sq_size - 1;
    unsigned sent = 0;
    uint64_t bytes = 0;
    while (sent < n) {
        unsigned room = vp->sq_size - (unsigned)(vq->tx_head - vq->tx_tail);
        unsigned m = min_u(min_u(n - sent, VF_BURST_MAX), room);
        if (m == 0)
            break;   /* send queue full: the caller counts the rest */

        struct ibv_send_wr wr[VF_BURST_MAX];
        struct ibv_sge sge[VF_BURST_MAX];
        struct vf_pkt *orig[VF_BURST_MAX];  /* non-NULL: wire is a copy */
        unsigned built = 0;
        for (unsigned j = 0; j < m; j++) {
            struct vf_pkt *pk = pkts[sent + j], *wire = pk;
            const struct verbs_mr *mr = mr_find(vp, vq, pk->pool);
            orig[j] = NULL;
            if (!mr) {
                wire = tx_copy(vp, vq, cache, pk, &mr);
                if (!wire)
                    break;
                orig[j] = pk;
            }
            uint64_t seq = vq->tx_head + j;
            vq->tx_ring[seq & mask] = wire;
            sge[j].addr = (uintptr_t)vf_pkt_data(wire);
            sge[j].length = wire->len;
            sge[j].lkey = mr->mr->lkey;
            memset(&wr[j], 0, sizeof(wr[j]));
            wr[j].wr_id = seq + 1;
            wr[j].sg_list = &sge[j];
            wr[j].num_sge = 1;
            wr[j].opcode = IBV_WR_SEND;
            wr[j].send_flags = (seq + 1) % vp->sig_every == 0 ? IBV_SEND_SIGNALED : 0;
            if (j > 0)
                wr[j - 1].next = &wr[j];
            built++;
        }
        if (built == 0)
            break;

        struct ibv_send_wr *bad = NULL;
        unsigned posted = built;
        if (ibv_post_send(vq->qp, wr, &bad) != 0)
            posted = bad ? (unsigned)(bad - wr) : 0;
        struct vf_pool_cache *c = cache ? cache : vq->own_cache;
        for (unsigned j = 0; j < built; j++) {
            if (!orig[j])
                continue;
            /* Posted: the original is ours and no longer needed. Not
             * posted: drop our copy, the caller keeps the original. */
            if (j < posted)
                vf_pool_free(c, orig[j]);
            else
                vf_pool_free(c, vq->tx_ring[(vq->tx_head + j) & mask]);
        }
        for (unsigned j = 0; j < posted; j++)
            bytes += sge[j].length;
        vq->tx_head += posted;
        sent += posted;
        if (posted < m)
            break;
    }
    if (sent > 0) {
        struct vf_port_q_stats *s = &p->qstats[q];
        vf_stat_add(&s->tx_pkts, sent);
        vf_stat_add(&s->tx_bytes, bytes);
    }
    return sent;
}

static int verbs_wait_fd(struct vf_port *p, unsigned q)
{
    (void)p;
    (void)q;
    return -1;   /* polled; see "Not done" in vf_port_verbs.h */
}

static void verbs_close(struct vf_port *p)
{
    if (!p)
        return;
    struct verbs_port *vp = p->priv;
    if (vp) {
        /* Steering first so no new frame lands while queues go away. */
        for (unsigned i = 0; i < vp->n_flows; i++)
            ibv_destroy_flow(vp->flows[i]);
        if (vp->hash_qp)
            ibv_destroy_qp(vp->hash_qp);
        if (vp->ind_tbl)
            ibv_destroy_rwq_ind_table(vp->ind_tbl);
        for (unsigned q = 0; vp->q && q < vp->n_queues; q++) {
            struct verbs_q *vq = &vp->q[q];
            if (vq->qp)
                ibv_destroy_qp(vq->qp);
            if (vq->wq)
                ibv_destroy_wq(vq->wq);
        }
        /* The NIC no longer owns any buffer: free what was posted. */
        for (unsigned q = 0; vp->q && q < vp->n_queues; q++) {
            struct verbs_q *vq = &vp->q[q];
            if (!vq->own_cache)
                continue;
            if (vq->rx_slots) {
                for (unsigned s = 0; s < vp->rq_size; s++) {
                    if (vq->rx_slots[s])
                        vf_pool_free(vq->own_cache, vq->rx_slots[s]);
                }
            }
            if (vq->tx_ring)
                tx_release(vp, vq, vq->tx_head, vq->own_cache);
            vf_pool_cache_flush(vq->own_cache);
        }
        for (unsigned q = 0; vp->q && q < vp->n_queues; q++) {
            struct verbs_q *vq = &vp->q[q];
            if (vq->rx_cq)
                ibv_destroy_cq(vq->rx_cq);
            if (vq->tx_cq)
                ibv_destroy_cq(vq->tx_cq);
            free(vq->rx_slots);
            free(vq->rx_free);
            free(vq->tx_ring);
            free(vq->own_cache);
        }
        for (unsigned i = 0; i < vp->n_mrs; i++)
            ibv_dereg_mr(vp->mrs[i].mr);
        if (vp->pd)
            ibv_dealloc_pd(vp->pd);
        if (vp->ctx)
            ibv_close_device(vp->ctx);
        free(vp->q);
        free(vp);
    }
    vf_port_free(p);
}

static void verbs_info(const struct vf_port *p, const struct vf_port_info_sink *s);

static const struct vf_port_ops verbs_port_ops = {
    .type = "verbs",
    .rx_burst = verbs_rx_burst,
    .tx_burst = verbs_tx_burst,
    .wait_fd = verbs_wait_fd,
    .sleep_notify = NULL,
    .close = verbs_close,
    .info = verbs_info,
};

/* ---- open ---- */

/* Finds the device; on failure says what exists instead. The list is
 * freed here; the returned context outlives it (verbs allows that). */
static struct ibv_context *open_device(const char *device, char *err,
                                       size_t errlen)
{
    int num = 0;
    errno = 0;
    struct ibv_device **list = ibv_get_device_list(&num);
    if (!list || num <= 0) {
        const char *why = !list ? strerror(errno ? errno : ENODEV)
                                : "no devices";
        vf_errf(err, errlen, "uplink verbs device '%s': no RDMA device on this "
                "machine (ibv_get_device_list: %s); use uplink: {type: udp, "
                "bind: ADDR:PORT} or {type: ring}", device, why);
        if (list)
            ibv_free_device_list(list);
        return NULL;
    }
    struct ibv_device *found = NULL;
    char names[256] = "";
    size_t used = 0;
    for (int i = 0; i < num && list[i]; i++) {
        const char *nm = ibv_get_device_name(list[i]);
        if (nm && strcmp(nm, device) == 0)
            found = list[i];
        if (nm && used < sizeof(names)) {
            int w = snprintf(names + used, sizeof(names) - used, "%s%s",
                             used ? ", " : "", nm);
            if (w > 0)
                used += (size_t)w;
        }
    }
    struct ibv_context *ctx = NULL;
    if (!found) {
        vf_errf(err, errlen, "uplink verbs device '%s' not found; devices on "
                "this machine: %s", device, names);
    } else {
        ctx = ibv_open_device(found);
        if (!ctx)
            vf_errf(err, errlen, "uplink verbs device '%s': ibv_open_device: %s",
                    device, strerror(errno ? errno : EIO));
    }
    ibv_free_device_list(list);
    return ctx;
}

static int qp_to_rts(struct ibv_qp *qp, int ib_port)
{
    struct ibv_qp_attr a;
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_INIT;
    a.port_num = (uint8_t)ib_port;
    int rc = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT);
    if (rc)
        return rc;
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTR;
    rc = ibv_modify_qp(qp, &a, IBV_QP_STATE);
    if (rc)
        return rc;
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTS;
    return ibv_modify_qp(qp, &a, IBV_QP_STATE);
}

/* A raw packet QP whose receive side is used only when recv_cq is set. */
static struct ibv_qp *create_raw_qp(struct verbs_port *vp, struct ibv_cq *send_cq,
                                    struct ibv_cq *recv_cq)
{
    struct ibv_qp_init_attr ia;
    memset(&ia, 0, sizeof(ia));
    ia.send_cq = send_cq;
    /* A send-only QP still names a receive CQ; it never gets an entry
     * since no receive WR is ever posted. */
    ia.recv_cq = recv_cq ? recv_cq : send_cq;
    ia.qp_type = IBV_QPT_RAW_PACKET;
    ia.sq_sig_all = 0;
    ia.cap.max_send_wr = vp->sq_size;
    ia.cap.max_send_sge = 1;
    ia.cap.max_recv_wr = recv_cq ? vp->rq_size : 0;
    ia.cap.max_recv_sge = recv_cq ? 1 : 0;
    return ibv_create_qp(vp->pd, &ia);
}

static bool rss_supported(const struct ibv_device_attr_ex *dx, unsigned n_queues)
{
    const struct ibv_rss_caps *rc = &dx->rss_caps;
    const uint64_t fields = IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4 |
                            IBV_RX_HASH_SRC_PORT_UDP | IBV_RX_HASH_DST_PORT_UDP;
    return (rc->supported_qpts & (1u << IBV_QPT_RAW_PACKET)) &&
           rc->max_rwq_indirection_tables > 0 &&
           rc->max_rwq_indirection_table_size >= vf_pow2_ceil(n_queues) &&
           (rc->rx_hash_function & IBV_RX_HASH_FUNC_TOEPLITZ) &&
           (rc->rx_hash_fields_mask & fields) == fields &&
           dx->max_wq_type_rq >= n_queues;
}

static int setup_rss(struct verbs_port *vp, char *err, size_t errlen)
{
    unsigned tbl = vf_pow2_ceil(vp->n_queues), log = 0;
    while ((1u << log) < tbl)
        log++;
    struct ibv_wq *ind[VF_PORT_MAX_QUEUES];
    for (unsigned i = 0; i < tbl; i++)
        ind[i] = vp->q[i % vp->n_queues].wq;

    struct ibv_rwq_ind_table_init_attr ta;
    memset(&ta, 0, sizeof(ta));
    ta.log_ind_tbl_size = log;
    ta.ind_tbl = ind;
    vp->ind_tbl = ibv_create_rwq_ind_table(vp->ctx, &ta);
    if (!vp->ind_tbl) {
        vf_errf(err, errlen, "uplink verbs device '%s': ibv_create_rwq_ind_table: %s",
                vp->dev_name, strerror(errno ? errno : EIO));
        return -(errno ? errno : EIO);
    }

    struct ibv_qp_init_attr_ex qa;
    memset(&qa, 0, sizeof(qa));
    qa.qp_type = IBV_QPT_RAW_PACKET;
    qa.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_IND_TABLE |
                   IBV_QP_INIT_ATTR_RX_HASH;
    qa.pd = vp->pd;
    qa.rwq_ind_tbl = vp->ind_tbl;
    qa.rx_hash_conf.rx_hash_function = IBV_RX_HASH_FUNC_TOEPLITZ;
    qa.rx_hash_conf.rx_hash_key_len = VERBS_RSS_KEY_LEN;
    qa.rx_hash_conf.rx_hash_key = rss_key;
    qa.rx_hash_conf.rx_hash_fields_mask =
        IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4 |
        IBV_RX_HASH_SRC_PORT_UDP | IBV_RX_HASH_DST_PORT_UDP;
    vp->hash_qp = ibv_create_qp_ex(vp->ctx, &qa);
    if (!vp->hash_qp) {
        vf_errf(err, errlen, "uplink verbs device '%s': ibv_create_qp_ex (RSS): %s",
                vp->dev_name, strerror(errno ? errno : EIO));
        return -(errno ? errno : EIO);
    }
    return 0;
}

/* Flow rule layout: the attribute header followed by its specs with no
 * gap, as libibverbs walks them (each spec is `size` bytes long). Every
 * part is a multiple of 4 bytes with 4-byte alignment, so the natural
 * layout has no padding; the asserts hold us to that rather than a packed
 * struct, whose members could not be addressed safely. */
struct verbs_flow_rule {
    struct ibv_flow_attr attr;
    struct ibv_flow_spec_eth eth;
    struct ibv_flow_spec_ipv4 ip;
    struct ibv_flow_spec_tcp_udp udp;
};
_Static_assert(offsetof(struct verbs_flow_rule, eth) == sizeof(struct ibv_flow_attr),
               "flow specs must follow the attribute header directly");
_Static_assert(offsetof(struct verbs_flow_rule, ip) ==
               offsetof(struct verbs_flow_rule, eth) + sizeof(struct ibv_flow_spec_eth),
               "the IPv4 spec must follow the Ethernet spec directly");
_Static_assert(offsetof(struct verbs_flow_rule, udp) ==
               offsetof(struct verbs_flow_rule, ip) + sizeof(struct ibv_flow_spec_ipv4),
               "the UDP spec must follow the IPv4 spec directly");
_Static_assert(sizeof(struct verbs_flow_rule) ==
               offsetof(struct verbs_flow_rule, udp) + sizeof(struct ibv_flow_spec_tcp_udp),
               "no tail padding in a flow rule");

static int add_flows(struct verbs_port *vp, struct ibv_qp *qp,
                     const struct vf_verbs_opts *o, char *err, size_t errlen)
{
    uint16_t ports[VERBS_N_FLOWS] = {
        o->geneve_port ? o->geneve_port : 6081,
        o->vxlan_port ? o->vxlan_port : 4789,
    };
    unsigned n = ports[0] == ports[1] ? 1 : VERBS_N_FLOWS;
    for (unsigned i = 0; i < n; i++) {
        struct verbs_flow_rule r;
        memset(&r, 0, sizeof(r));
        r.attr.type = IBV_FLOW_ATTR_NORMAL;
        r.attr.size = sizeof(r);
        r.attr.num_of_specs = 3;
        r.attr.port = (uint8_t)vp->ib_port;
        r.eth.type = IBV_FLOW_SPEC_ETH;
        r.eth.size = sizeof(r.eth);
        r.eth.val.ether_type = htons(VF_ETH_P_IP);
        r.eth.mask.ether_type = 0xffff;
        if (o->has_mac) {
            memcpy(r.eth.val.dst_mac, o->local_mac, 6);
            memset(r.eth.mask.dst_mac, 0xff, 6);
        }
        r.ip.type = IBV_FLOW_SPEC_IPV4;
        r.ip.size = sizeof(r.ip);
        if (o->local_ip) {
            r.ip.val.dst_ip = o->local_ip;
            r.ip.mask.dst_ip = 0xffffffff;
        }
        r.udp.type = IBV_FLOW_SPEC_UDP;
        r.udp.size = sizeof(r.udp);
        r.udp.val.dst_port = htons(ports[i]);
        r.udp.mask.dst_port = 0xffff;
        errno = 0;
        struct ibv_flow *f = ibv_create_flow(qp, &r.attr);
        if (!f) {
            int e = errno ? errno : EIO;
            vf_errf(err, errlen, "uplink verbs device '%s': ibv_create_flow (UDP "
                    "port %u): %s", vp->dev_name, ports[i], strerror(e));
            return -e;
        }
        vp->flows[vp->n_flows++] = f;
    }
    return 0;
}

static int setup_queue(struct verbs_port *vp, unsigned q, struct vf_pool *pool,
                       char *err, size_t errlen)
{
    struct verbs_q *vq = &vp->q[q];
    bool rx = vp->rss || q == 0;
    const char *step;

    vq->own_cache = aligned_alloc(VF_CACHE_LINE, sizeof(*vq->own_cache));
    vq->tx_ring = calloc(vp->sq_size, sizeof(*vq->tx_ring));
    if (!vq->own_cache || !vq->tx_ring) {
        vf_errf(err, errlen, "uplink verbs device '%s': out of memory (queue %u)",
                vp->dev_name, q);
        return -ENOMEM;
    }
    vf_pool_cache_init(vq->own_cache, pool);
    if (rx) {
        vq->rx_slots = calloc(vp->rq_size, sizeof(*vq->rx_slots));
        vq->rx_free = calloc(vp->rq_size, sizeof(*vq->rx_free));
        if (!vq->rx_slots || !vq->rx_free) {
            vf_errf(err, errlen, "uplink verbs device '%s': out of memory (queue %u)",
                    vp->dev_name, q);
            return -ENOMEM;
        }
        for (unsigned s = 0; s < vp->rq_size; s++)
            vq->rx_free[s] = vp->rq_size - 1 - s;
        vq->rx_nfree = vp->rq_size;
    }

    errno = 0;
    step = "ibv_create_cq (tx)";
    if (!(vq->tx_cq = ibv_create_cq(vp->ctx, (int)vp->sq_size, NULL, NULL, 0)))
        goto fail;
    if (rx) {
        step = "ibv_create_cq (rx)";
        if (!(vq->rx_cq = ibv_create_cq(vp->ctx, (int)vp->rq_size, NULL, NULL, 0)))
            goto fail;
    }
    step = "ibv_create_qp (raw packet)";
    if (!(vq->qp = create_raw_qp(vp, vq->tx_cq, vp->rss ? NULL : vq->rx_cq)))
        goto fail;
    step = "ibv_modify_qp (to RTS)";
    int rc = qp_to_rts(vq->qp, vp->ib_port);
    if (rc) {
        errno = rc;
        goto fail;
    }
    if (vp->rss) {
        struct ibv_wq_init_attr wa;
        memset(&wa, 0, sizeof(wa));
        wa.wq_type = IBV_WQT_RQ;
        wa.max_wr = vp->rq_size;
        wa.max_sge = 1;
        wa.pd = vp->pd;
        wa.cq = vq->rx_cq;
        step = "ibv_create_wq";
        if (!(vq->wq = ibv_create_wq(vp->ctx, &wa)))
            goto fail;
        struct ibv_wq_attr ma;
        memset(&ma, 0, sizeof(ma));
        ma.attr_mask = IBV_WQ_ATTR_STATE;
        ma.wq_state = IBV_WQS_RDY;
        step = "ibv_modify_wq (to ready)";
        if ((rc = ibv_modify_wq(vq->wq, &ma)) != 0) {
            errno = rc;
            goto fail;
        }
    }
    return 0;
fail:;
    int e = errno ? errno : EIO;
    vf_errf(err, errlen, "uplink verbs device '%s': %s (queue %u): %s%s",
            vp->dev_name, step, q, strerror(e),
            e == EPERM ? " (raw packet QPs need root or CAP_NET_RAW)" : "");
    return -e;
}

struct vf_port *vf_verbs_port_open(const char *name, const char *device,
                                   int ib_port, unsigned n_queues,
                                   struct vf_pool *const *pools,
                                   const struct vf_verbs_opts *o,
                                   char *err, size_t errlen)
{
    static const struct vf_verbs_opts defaults;
    struct vf_port *p = NULL;
    struct verbs_port *vp = NULL;

    if (!o)
        o = &defaults;
    if (!device || !device[0] || !pools || n_queues == 0 ||
        n_queues > VF_PORT_MAX_QUEUES || ib_port < 1 || ib_port > 255) {
        vf_errf(err, errlen, "uplink verbs: needs a device name, port >= 1 and "
                "1..%u queues with a pool each", VF_PORT_MAX_QUEUES);
        return NULL;
    }
    for (unsigned q = 0; q < n_queues; q++) {
        if (!pools[q]) {
            vf_errf(err, errlen, "uplink verbs device '%s': no pool for queue %u",
                    device, q);
            return NULL;
        }
    }

    struct ibv_context *ctx = open_device(device, err, errlen);
    if (!ctx)
        return NULL;
    p = vf_port_alloc(&verbs_port_ops, name, n_queues);
    vp = calloc(1, sizeof(*vp));
    if (!p || !vp) {
        ibv_close_device(ctx);
        free(vp);
        vf_port_free(p);
        vf_errf(err, errlen, "uplink verbs device '%s': out of memory", device);
        return NULL;
    }
    p->priv = vp;   /* from here verbs_close() undoes a partial open */
    vp->ctx = ctx;
    vp->ib_port = ib_port;
    vp->n_queues = n_queues;
    snprintf(vp->dev_name, sizeof(vp->dev_name), "%s", device);

    /* Sizes: what was asked, bounded by the device; the send ring is a
     * power of two so a sequence number maps to a slot with a mask. */
    struct ibv_device_attr_ex dx;
    memset(&dx, 0, sizeof(dx));
    bool have_dx = ibv_query_device_ex(ctx, NULL, &dx) == 0;
    unsigned max_wr = have_dx && dx.orig_attr.max_qp_wr > 0
                          ? (unsigned)dx.orig_attr.max_qp_wr : VERBS_MAX_RQ;
    max_wr = min_u(max_wr, VERBS_MAX_RQ);
    vp->rq_size = min_u(o->rq_size ? o->rq_size : VF_VERBS_RQ_SIZE_DEFAULT, max_wr);
    vp->sq_size = vf_pow2_ceil(o->sq_size ? o->sq_size : VF_VERBS_SQ_SIZE_DEFAULT);
    while (vp->sq_size > max_wr)
        vp->sq_size >>= 1;
    vp->sig_every = min_u(o->tx_signal_every ? o->tx_signal_every
                                             : VF_VERBS_SIGNAL_DEFAULT,
                          vp->sq_size);
    /* Buffers a queue holds (vf_port.h): its posted receives, its sends
     * until reaped (copies included). */
    p->rx_hold = vp->rq_size;
    p->tx_hold = vp->sq_size;
    vp->rss = n_queues > 1 && !o->no_rss && have_dx && rss_supported(&dx, n_queues);
    /* Without RSS only queue 0 receives; the others are polled in vain. */
    vf_port_set_caps(p, VF_PORT_CAP_MQ_RX, vp->rss);
    vp->n_rxq = vp->rss ? n_queues : 1;

    struct ibv_port_attr pa;
    memset(&pa, 0, sizeof(pa));
    int rc = ibv_query_port(ctx, (uint8_t)ib_port, &pa);
    if (rc) {
        vf_errf(err, errlen, "uplink verbs device '%s': port %d: ibv_query_port: %s",
                device, ib_port, strerror(rc));
        goto fail;
    }
    if (pa.link_layer != IBV_LINK_LAYER_ETHERNET) {
        vf_errf(err, errlen, "uplink verbs device '%s' port %d is not an Ethernet "
                "port (raw packet QPs carry Ethernet frames)", device, ib_port);
        goto fail;
    }

    errno = 0;
    if (!(vp->pd = ibv_alloc_pd(ctx))) {
        vf_errf(err, errlen, "uplink verbs device '%s': ibv_alloc_pd: %s", device,
                strerror(errno ? errno : EIO));
        goto fail;
    }
    /* One MR per distinct pool, covering its whole region: every buffer
     * the pool will ever hand out is then usable by the NIC. */
    for (unsigned q = 0; q < n_queues; q++) {
        bool seen = false;
        for (unsigned i = 0; i < vp->n_mrs; i++)
            seen |= vp->mrs[i].pool == pools[q];
        if (seen)
            continue;
        struct vf_pool_info info;
        vf_pool_get_info(pools[q], &info);
        errno = 0;
        struct ibv_mr *mr = ibv_reg_mr(vp->pd, info.base, info.size,
                                       IBV_ACCESS_LOCAL_WRITE);
        if (!mr) {
            vf_errf(err, errlen, "uplink verbs device '%s': ibv_reg_mr (pool of "
                    "queue %u, %zu bytes): %s", device, q, info.size,
                    strerror(errno ? errno : EIO));
            goto fail;
        }
        vp->mrs[vp->n_mrs].pool = pools[q];
        vp->mrs[vp->n_mrs].mr = mr;
        vp->n_mrs++;
    }

    vp->q = aligned_alloc(VF_CACHE_LINE, n_queues * sizeof(*vp->q));
    if (!vp->q) {
        vf_errf(err, errlen, "uplink verbs device '%s': out of memory", device);
        goto fail;
    }
    memset(vp->q, 0, n_queues * sizeof(*vp->q));
    for (unsigned q = 0; q < n_queues; q++) {
        if (setup_queue(vp, q, pools[q], err, errlen) != 0)
            goto fail;
    }
    if (vp->rss && setup_rss(vp, err, errlen) != 0)
        goto fail;

    /* Fill every receive queue before steering sends frames its way. */
    for (unsigned q = 0; q < n_queues; q++) {
        struct verbs_q *vq = &vp->q[q];
        if (!vq->rx_cq)
            continue;
        rx_refill(vp, vq, NULL);
        /* The refill pulled half a cache more than it posted; give that
         * back so the workers' caches find it on the pool. */
        vf_pool_cache_flush(vq->own_cache);
        if (vq->rx_nfree == vp->rq_size) {
            vf_errf(err, errlen, "uplink verbs device '%s': could not post any "
                    "receive buffer on queue %u (pool empty or ibv_post_recv "
                    "failed)", device, q);
            goto fail;
        }
    }
    if (add_flows(vp, vp->rss ? vp->hash_qp : vp->q[0].qp, o, err, errlen) != 0)
        goto fail;
    return p;
fail:
    verbs_close(p);
    return NULL;
}

int vf_verbs_port_info(const struct vf_port *p, struct vf_verbs_info *out)
{
    if (!p || p->ops != &verbs_port_ops || !out)
        return -EINVAL;
    const struct verbs_port *vp = p->priv;
    memset(out, 0, sizeof(*out));
    out->rss = vp->rss;
    out->n_rx_queues = vp->n_rxq;
    out->n_flows = vp->n_flows;
    out->rq_size = vp->rq_size;
    out->sq_size = vp->sq_size;
    for (unsigned q = 0; q < vp->n_queues; q++) {
        const struct verbs_q *vq = &vp->q[q];
        out->tx_completions += atomic_load_explicit(&vq->tx_completions, memory_order_relaxed);
        out->tx_errors += atomic_load_explicit(&vq->tx_errors, memory_order_relaxed);
        out->tx_copies += atomic_load_explicit(&vq->tx_copies, memory_order_relaxed);
        out->rx_refill_short += atomic_load_explicit(&vq->rx_refill_short, memory_order_relaxed);
    }
    return 0;
}

/* The info op: vf_verbs_port_info as key/value pairs. */
static void verbs_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    const struct verbs_port *vp = p->priv;
    struct vf_verbs_info vi;
    if (vf_verbs_port_info(p, &vi))
        return;
    s->str(s->arg, "device", vp->dev_name);
    s->u64(s->arg, "ib_port", (uint64_t)vp->ib_port);
    s->flag(s->arg, "rss", vi.rss);
    s->u64(s->arg, "rx_queues", vi.n_rx_queues);
    s->u64(s->arg, "flows", vi.n_flows);
    s->u64(s->arg, "rq_size", vi.rq_size);
    s->u64(s->arg, "sq_size", vi.sq_size);
    s->u64(s->arg, "tx_completions", vi.tx_completions);
    s->u64(s->arg, "tx_errors", vi.tx_errors);
    s->u64(s->arg, "tx_copies", vi.tx_copies);
    s->u64(s->arg, "rx_refill_short", vi.rx_refill_short);
}

unsigned vf_verbs_port_rq_posted(const struct vf_port *p, unsigned q)
{
    if (!p || p->ops != &verbs_port_ops)
        return 0;
    const struct verbs_port *vp = p->priv;
    if (q >= vp->n_queues || !vp->q[q].rx_cq)
        return 0;
    return vp->rq_size - vp->q[q].rx_nfree;
}

unsigned vf_verbs_port_tx_inflight(const struct vf_port *p, unsigned q)
{
    if (!p || p->ops != &verbs_port_ops)
        return 0;
    const struct verbs_port *vp = p->priv;
    if (q >= vp->n_queues)
        return 0;
    return (unsigned)(vp->q[q].tx_head - vp->q[q].tx_tail);
}
