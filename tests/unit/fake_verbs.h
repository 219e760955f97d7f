/* fake_verbs.h - FAKE libibverbs: a link-time substitute, not a device.
 *
 * What: definitions of the libibverbs entry points that fabric/port_verbs.c
 * calls (ibv_get_device_list, ibv_open_device, ibv_alloc_pd, ibv_reg_mr,
 * ibv_create_cq, ibv_create_qp, ibv_modify_qp, ...). A test program that
 * includes this header defines them itself, so at link time they win over
 * the shared library for every reference from the test and from the vfab
 * libraries linked into it. The calls that verbs.h makes static inline
 * (ibv_post_send, ibv_post_recv, ibv_poll_cq through ctx->ops;
 * ibv_create_flow, ibv_create_wq, ibv_query_device_ex, ... through the
 * extended verbs_context; ibv_post_wq_recv through wq->post_recv) land in
 * the function pointers the fake context fills in: a software "NIC" with
 * send queues, receive queues and CQs.
 *
 * The fake NIC checks what a real one would refuse: SGEs must lie inside a
 * registered MR with the matching lkey (counted in fk.bad_sge), queues have
 * their created capacity (posting beyond it fails with ENOMEM, as
 * providers do), QPs must walk RESET->INIT->RTR->RTS and send only in RTS,
 * a CQ that overflows is counted (fk.cq_overruns), and destroying an object
 * that another live object still uses (a CQ under a QP, a PD under an MR,
 * a QP under a flow, ...) fails with EBUSY and is counted in
 * fk.order_violations. The test side drives the wire: fk_inject() and
 * fk_inject_error() complete posted receive WRs; fk_transmit() completes
 * posted send WRs and, with fk.loopback, delivers the frames through the
 * installed steering rules (and the RSS indirection table) to receive
 * queues.
 *
 * Include it from exactly one test program (test_port_verbs.c). It is
 * never part of a vfab library; test_verbs_hw.c uses the real library.
 *
 * Thread-safety: none; the tests are single-threaded.
 */
#ifndef FAKE_VERBS_H
#define FAKE_VERBS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <infiniband/verbs.h>

#define FK_MAX_DEVS 4
#define FK_MAX_OBJS 128
#define FK_MAX_SENT 4096

struct fk_wr {
    uint64_t wr_id;
    uint64_t addr;
    uint32_t len;
    uint32_t lkey;
    bool signaled;
};

/* A circular FIFO of posted WRs with the capacity the queue was created
 * with. */
struct fk_fifo {
    struct fk_wr *e;
    unsigned cap, head, count;
};

struct fk_cq {
    struct ibv_cq cq;
    struct ibv_wc *e;
    unsigned cap, head, count;
    unsigned refs;              /* QPs and WQs using it */
};

struct fk_rq {
    struct fk_fifo posted;
    struct fk_cq *cq;
};

struct fk_ind;

struct fk_qp {
    struct ibv_qp qp;
    struct fk_fifo sq;
    struct fk_rq rq;
    struct fk_cq *scq;
    bool is_hash;
    struct fk_ind *ind;
    unsigned flows;             /* live flows attached */
    unsigned n_trans;           /* successful state changes */
    int sq_sig_all;
    uint64_t hash_fields;
    uint8_t hash_func, hash_key_len;
};

struct fk_wq {
    struct ibv_wq wq;
    struct fk_rq rq;
    unsigned refs;              /* indirection tables using it */
};

struct fk_ind {
    struct ibv_rwq_ind_table ind;
    unsigned size;
    struct fk_wq *wq[64];
    unsigned refs;              /* hash QPs using it */
};

struct fk_flow {
    struct ibv_flow flow;
    struct fk_qp *qp;
    uint8_t port;
    struct ibv_flow_eth_filter eth, eth_mask;
    struct ibv_flow_ipv4_filter ip, ip_mask;
    struct ibv_flow_tcp_udp_filter udp, udp_mask;
};

struct fk_mr {
    struct ibv_mr mr;
    int access;
};

struct fk_pd {
    struct ibv_pd pd;
    unsigned refs;              /* MRs and QPs using it */
};

struct fk_ctx {
    struct verbs_context vctx;  /* the library's layout: context is last */
};

struct fk_sent {
    uint64_t addr;
    uint32_t len;
    bool signaled;
};

/* The fake's whole state; fk_reset() zeroes it between tests. */
static struct {
    /* knobs */
    unsigned n_devs;
    int list_errno;             /* !0: ibv_get_device_list fails with it */
    bool rss;                   /* report RSS caps for raw packet QPs */
    bool loopback;              /* fk_transmit delivers the frames */
    int link_layer;             /* 0 = Ethernet */
    const char *fail_fn;        /* make the fail_nth call of it fail */
    int fail_nth, fail_calls, fail_errno;
    int send_fail_at;           /* >=0: post_send refuses that WR index */
    enum ibv_wc_status tx_status; /* status of send completions */

    /* observations */
    unsigned live_lists, live_ctx, live_pd, live_mr, live_cq, live_qp, live_wq, live_ind,
             live_flow;
    unsigned order_violations, bad_sge, cq_overruns, not_steered;
    unsigned n_post_send, n_post_recv, n_poll, max_poll_n, last_send_chain,
             last_recv_chain;
    unsigned n_sent;            /* frames handed to the wire by fk_transmit */
    struct fk_sent posted_sends[FK_MAX_SENT]; /* every send WR, in order */
    unsigned n_posted_sends;

    /* objects, in creation order (pointers stay after destroy: NULL) */
    struct ibv_device devs[FK_MAX_DEVS];
    struct ibv_device *dev_ptrs[FK_MAX_DEVS + 1];
    struct fk_mr *mrs[FK_MAX_OBJS];
    unsigned n_mrs;
    struct fk_qp *qps[FK_MAX_OBJS];
    unsigned n_qps;
    struct fk_wq *wqs[FK_MAX_OBJS];
    unsigned n_wqs;
    struct fk_flow *flows[FK_MAX_OBJS];
    unsigned n_flows;
    struct fk_ind *inds[FK_MAX_OBJS];
    unsigned n_inds;
    uint32_t next_key;
} fk;

static void fk_reset(void)
{
    memset(&fk, 0, sizeof(fk));
    fk.send_fail_at = -1;
    fk.next_key = 0x1000;
}

static void fk_add_dev(const char *name)
{
    struct ibv_device *d = &fk.devs[fk.n_devs];
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->transport_type = IBV_TRANSPORT_IB;
    fk.dev_ptrs[fk.n_devs++] = d;
}

static bool fk_fail(const char *fn)
{
    if (!fk.fail_fn || strcmp(fk.fail_fn, fn) != 0)
        return false;
    if (++fk.fail_calls != fk.fail_nth)
        return false;
    errno = fk.fail_errno ? fk.fail_errno : ENOMEM;
    return true;
}

static bool fk_busy(unsigned refs)
{
    if (refs == 0)
        return false;
    fk.order_violations++;
    return true;
}

/* ---- queues ---- */

static int fifo_init(struct fk_fifo *f, unsigned cap)
{
    f->cap = cap;
    f->head = f->count = 0;
    f->e = cap ? calloc(cap, sizeof(*f->e)) : NULL;
    return cap && !f->e ? -1 : 0;
}

static bool fifo_push(struct fk_fifo *f, const struct fk_wr *w)
{
    if (f->count == f->cap)
        return false;
    f->e[(f->head + f->count) % f->cap] = *w;
    f->count++;
    return true;
}

static bool fifo_pop(struct fk_fifo *f, struct fk_wr *w)
{
    if (f->count == 0)
        return false;
    *w = f->e[f->head];
    f->head = (f->head + 1) % f->cap;
    f->count--;
    return true;
}

static void cq_push(struct fk_cq *c, uint64_t wr_id, enum ibv_wc_status st,
                    enum ibv_wc_opcode op, uint32_t byte_len)
{
    if (c->count == c->cap) {
        fk.cq_overruns++;
        return;
    }
    struct ibv_wc *w = &c->e[(c->head + c->count) % c->cap];
    memset(w, 0, sizeof(*w));
    w->wr_id = wr_id;
    w->status = st;
    w->opcode = op;
    w->byte_len = byte_len;
    c->count++;
}

/* Where an SGE points must be inside a live MR with that lkey. */
static bool sge_ok(const struct ibv_sge *s)
{
    for (unsigned i = 0; i < fk.n_mrs; i++) {
        const struct fk_mr *m = fk.mrs[i];
        uintptr_t b = (uintptr_t)(m ? m->mr.addr : 0);
        if (m && m->mr.lkey == s->lkey && s->addr >= b &&
            s->addr + s->length <= b + m->mr.length)
            return true;
    }
    fk.bad_sge++;
    return false;
}

/* ---- the ops the static inline verbs call ---- */

static int fk_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
    struct fk_cq *c = (struct fk_cq *)cq;
    fk.n_poll++;
    if ((unsigned)n > fk.max_poll_n)
        fk.max_poll_n = (unsigned)n;
    int got = 0;
    while (got < n && c->count > 0) {
        wc[got++] = c->e[c->head];
        c->head = (c->head + 1) % c->cap;
        c->count--;
    }
    return got;
}

static int rq_post(struct fk_rq *rq, struct ibv_recv_wr *wr,
                   struct ibv_recv_wr **bad)
{
    unsigned chain = 0;
    fk.n_post_recv++;
    for (; wr; wr = wr->next, chain++) {
        struct fk_wr w = {.wr_id = wr->wr_id};
        if (wr->num_sge != 1 || !sge_ok(&wr->sg_list[0])) {
            *bad = wr;
            return EINVAL;
        }
        w.addr = wr->sg_list[0].addr;
        w.len = wr->sg_list[0].length;
        w.lkey = wr->sg_list[0].lkey;
        if (!fifo_push(&rq->posted, &w)) {
            *bad = wr;
            return ENOMEM;
        }
    }
    fk.last_recv_chain = chain;
    return 0;
}

static int fk_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
                        struct ibv_recv_wr **bad)
{
    struct fk_qp *q = (struct fk_qp *)qp;
    if (q->qp.state == IBV_QPS_RESET || q->rq.posted.cap == 0) {
        *bad = wr;
        return EINVAL;
    }
    return rq_post(&q->rq, wr, bad);
}

static int fk_wq_post_recv(struct ibv_wq *wq, struct ibv_recv_wr *wr,
                           struct ibv_recv_wr **bad)
{
    return rq_post(&((struct fk_wq *)wq)->rq, wr, bad);
}

static int fk_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
                        struct ibv_send_wr **bad)
{
    struct fk_qp *q = (struct fk_qp *)qp;
    unsigned chain = 0;
    fk.n_post_send++;
    if (q->qp.state != IBV_QPS_RTS) {
        *bad = wr;
        return EINVAL;
    }
    for (; wr; wr = wr->next, chain++) {
        if ((int)chain == fk.send_fail_at) {
            *bad = wr;
            return ENOMEM;
        }
        if (wr->opcode != IBV_WR_SEND || wr->num_sge != 1 ||
            !sge_ok(&wr->sg_list[0])) {
            *bad = wr;
            return EINVAL;
        }
        struct fk_wr w = {
            .wr_id = wr->wr_id,
            .addr = wr->sg_list[0].addr,
            .len = wr->sg_list[0].length,
            .lkey = wr->sg_list[0].lkey,
            .signaled = (wr->send_flags & IBV_SEND_SIGNALED) || q->sq_sig_all,
        };
        if (!fifo_push(&q->sq, &w)) {
            *bad = wr;
            return ENOMEM;
        }
        if (fk.n_posted_sends < FK_MAX_SENT) {
            fk.posted_sends[fk.n_posted_sends].addr = w.addr;
            fk.posted_sends[fk.n_posted_sends].len = w.len;
            fk.posted_sends[fk.n_posted_sends].signaled = w.signaled;
            fk.n_posted_sends++;
        }
    }
    fk.last_send_chain = chain;
    return 0;
}

/* ---- the wire (driven by the test) ---- */

/* Completes the oldest posted receive WR of rq with frame; false when no
 * WR is posted or the frame does not fit (the NIC would drop it). */
static bool fk_rq_deliver(struct fk_rq *rq, const void *frame, uint32_t len)
{
    struct fk_wr w;
    if (!fifo_pop(&rq->posted, &w))
        return false;
    if (len > w.len) {
        cq_push(rq->cq, w.wr_id, IBV_WC_LOC_LEN_ERR, IBV_WC_RECV, 0);
        return false;
    }
    memcpy((void *)(uintptr_t)w.addr, frame, len);
    cq_push(rq->cq, w.wr_id, IBV_WC_SUCCESS, IBV_WC_RECV, len);
    return true;
}

static bool fk_rq_error(struct fk_rq *rq, enum ibv_wc_status st)
{
    struct fk_wr w;
    if (!fifo_pop(&rq->posted, &w))
        return false;
    cq_push(rq->cq, w.wr_id, st, IBV_WC_RECV, 0);
    return true;
}

static bool flow_match(const struct fk_flow *f, const uint8_t *fr, uint32_t len)
{
    uint16_t et, dport;
    uint32_t dip;
    if (len < 14 + 20 + 8)
        return false;
    memcpy(&et, fr + 12, 2);
    for (int i = 0; i < 6; i++)
        if ((fr[i] & f->eth_mask.dst_mac[i]) != (f->eth.dst_mac[i] & f->eth_mask.dst_mac[i]))
            return false;
    if ((et & f->eth_mask.ether_type) != (f->eth.ether_type & f->eth_mask.ether_type))
        return false;
    if (et != htons(0x0800) || fr[14 + 9] != 17)
        return false;   /* the spec list holds a UDP spec */
    memcpy(&dip, fr + 14 + 16, 4);
    if ((dip & f->ip_mask.dst_ip) != (f->ip.dst_ip & f->ip_mask.dst_ip))
        return false;
    unsigned ihl = (fr[14] & 0xf) * 4u;
    if (len < 14 + ihl + 8)
        return false;
    memcpy(&dport, fr + 14 + ihl + 2, 2);
    return (dport & f->udp_mask.dst_port) == (f->udp.dst_port & f->udp_mask.dst_port);
}

/* What the NIC's steering does with a frame on the wire: the first
 * matching rule's QP gets it; a hashing QP spreads by UDP source port
 * through its indirection table (a stand-in for Toeplitz). */
static bool fk_wire_rx(const uint8_t *fr, uint32_t len)
{
    for (unsigned i = 0; i < fk.n_flows; i++) {
        struct fk_flow *f = fk.flows[i];
        if (!f || !flow_match(f, fr, len))
            continue;
        if (f->qp->is_hash) {
            unsigned ihl = (fr[14] & 0xf) * 4u;
            unsigned sport = ((unsigned)fr[14 + ihl] << 8) | fr[14 + ihl + 1];
            struct fk_ind *t = f->qp->ind;
            return fk_rq_deliver(&t->wq[sport % t->size]->rq, fr, len);
        }
        return fk_rq_deliver(&f->qp->rq, fr, len);
    }
    fk.not_steered++;
    return false;
}

/* Puts up to k posted send WRs of qp on the wire, oldest first; returns
 * how many. Signalled ones complete with fk.tx_status. */
static unsigned fk_transmit(struct ibv_qp *qp, unsigned k)
{
    struct fk_qp *q = (struct fk_qp *)qp;
    unsigned done = 0;
    struct fk_wr w;
    while (done < k && fifo_pop(&q->sq, &w)) {
        fk.n_sent++;
        if (fk.loopback)
            fk_wire_rx((const uint8_t *)(uintptr_t)w.addr, w.len);
        if (w.signaled)
            cq_push(q->scq, w.wr_id, fk.tx_status, IBV_WC_SEND, 0);
        done++;
    }
    return done;
}

/* ---- the extended verbs (verbs_context ops) ---- */

static int fk_query_device_ex(struct ibv_context *ctx,
                              const struct ibv_query_device_ex_input *in,
                              struct ibv_device_attr_ex *a, size_t sz)
{
    (void)ctx;
    (void)in;
    memset(a, 0, sz);
    a->orig_attr.max_qp_wr = 16384;
    a->orig_attr.max_qp = 1024;
    if (fk.rss) {
        a->rss_caps.supported_qpts = 1u << IBV_QPT_RAW_PACKET;
        a->rss_caps.max_rwq_indirection_tables = 64;
        a->rss_caps.max_rwq_indirection_table_size = 64;
        a->rss_caps.rx_hash_function = IBV_RX_HASH_FUNC_TOEPLITZ;
        a->rss_caps.rx_hash_fields_mask = 0xff;
        a->max_wq_type_rq = 64;
    }
    return 0;
}

static int fk_query_port(struct ibv_context *ctx, uint8_t port,
                         struct ibv_port_attr *a, size_t sz)
{
    (void)ctx;
    memset(a, 0, sz);
    if (port != 1)
        return EINVAL;
    a->state = IBV_PORT_ACTIVE;
    a->link_layer = fk.link_layer ? (uint8_t)fk.link_layer : IBV_LINK_LAYER_ETHERNET;
    return 0;
}

static struct ibv_flow *fk_create_flow(struct ibv_qp *qp, struct ibv_flow_attr *a)
{
    if (fk_fail("ibv_create_flow"))
        return NULL;
    struct fk_flow *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->flow.context = qp->context;
    f->qp = (struct fk_qp *)qp;
    f->port = a->port;
    /* Walk the specs the way the library does: each is `size` bytes. They
     * are only 4-byte aligned, so copy each out before reading it. */
    const uint8_t *s = (const uint8_t *)(a + 1);
    for (unsigned i = 0; i < a->num_of_specs; i++) {
        struct {
            enum ibv_flow_spec_type type;
            uint16_t size;
        } hdr;
        memcpy(&hdr, s, sizeof(hdr));
        if (hdr.type == IBV_FLOW_SPEC_ETH && hdr.size == sizeof(struct ibv_flow_spec_eth)) {
            struct ibv_flow_spec_eth e;
            memcpy(&e, s, sizeof(e));
            f->eth = e.val;
            f->eth_mask = e.mask;
        } else if (hdr.type == IBV_FLOW_SPEC_IPV4 &&
                   hdr.size == sizeof(struct ibv_flow_spec_ipv4)) {
            struct ibv_flow_spec_ipv4 e;
            memcpy(&e, s, sizeof(e));
            f->ip = e.val;
            f->ip_mask = e.mask;
        } else if (hdr.type == IBV_FLOW_SPEC_UDP &&
                   hdr.size == sizeof(struct ibv_flow_spec_tcp_udp)) {
            struct ibv_flow_spec_tcp_udp e;
            memcpy(&e, s, sizeof(e));
            f->udp = e.val;
            f->udp_mask = e.mask;
        } else {
            free(f);
            errno = EINVAL;
            return NULL;
        }
        s += hdr.size;
    }
    if ((size_t)(s - (const uint8_t *)a) != a->size) {
        free(f);
        errno = EINVAL;
        return NULL;
    }
    f->qp->flows++;
    fk.flows[fk.n_flows++] = f;
    fk.live_flow++;
    return &f->flow;
}

static int fk_destroy_flow(struct ibv_flow *flow)
{
    struct fk_flow *f = (struct fk_flow *)flow;
    for (unsigned i = 0; i < fk.n_flows; i++)
        if (fk.flows[i] == f)
            fk.flows[i] = NULL;
    f->qp->flows--;
    fk.live_flow--;
    free(f);
    return 0;
}

static struct ibv_wq *fk_create_wq(struct ibv_context *ctx,
                                   struct ibv_wq_init_attr *a)
{
    if (fk_fail("ibv_create_wq"))
        return NULL;
    struct fk_wq *w = calloc(1, sizeof(*w));
    if (!w || a->wq_type != IBV_WQT_RQ || !a->cq ||
        fifo_init(&w->rq.posted, a->max_wr) != 0) {
        free(w);
        errno = EINVAL;
        return NULL;
    }
    w->wq.context = ctx;
    w->wq.pd = a->pd;
    w->wq.cq = a->cq;
    w->wq.state = IBV_WQS_RESET;
    w->wq.wq_type = IBV_WQT_RQ;
    w->wq.post_recv = fk_wq_post_recv;
    w->rq.cq = (struct fk_cq *)a->cq;
    w->rq.cq->refs++;
    ((struct fk_pd *)a->pd)->refs++;
    fk.wqs[fk.n_wqs++] = w;
    fk.live_wq++;
    return &w->wq;
}

static int fk_modify_wq(struct ibv_wq *wq, struct ibv_wq_attr *a)
{
    if (fk_fail("ibv_modify_wq"))
        return errno;
    if (a->attr_mask & IBV_WQ_ATTR_STATE)
        wq->state = a->wq_state;
    return 0;
}

static int fk_destroy_wq(struct ibv_wq *wq)
{
    struct fk_wq *w = (struct fk_wq *)wq;
    if (fk_busy(w->refs))
        return EBUSY;
    for (unsigned i = 0; i < fk.n_wqs; i++)
        if (fk.wqs[i] == w)
            fk.wqs[i] = NULL;
    w->rq.cq->refs--;
    ((struct fk_pd *)w->wq.pd)->refs--;
    free(w->rq.posted.e);
    free(w);
    fk.live_wq--;
    return 0;
}

static struct ibv_rwq_ind_table *fk_create_ind(struct ibv_context *ctx,
                                               struct ibv_rwq_ind_table_init_attr *a)
{
    if (fk_fail("ibv_create_rwq_ind_table"))
        return NULL;
    unsigned size = 1u << a->log_ind_tbl_size;
    struct fk_ind *t = calloc(1, sizeof(*t));
    if (!t || size > 64) {
        free(t);
        errno = EINVAL;
        return NULL;
    }
    t->ind.context = ctx;
    t->size = size;
    for (unsigned i = 0; i < size; i++) {
        t->wq[i] = (struct fk_wq *)a->ind_tbl[i];
        t->wq[i]->refs++;
    }
    fk.inds[fk.n_inds++] = t;
    fk.live_ind++;
    return &t->ind;
}

static int fk_destroy_ind(struct ibv_rwq_ind_table *ind)
{
    struct fk_ind *t = (struct fk_ind *)ind;
    if (fk_busy(t->refs))
        return EBUSY;
    for (unsigned i = 0; i < t->size; i++)
        t->wq[i]->refs--;
    for (unsigned i = 0; i < fk.n_inds; i++)
        if (fk.inds[i] == t)
            fk.inds[i] = NULL;
    free(t);
    fk.live_ind--;
    return 0;
}

static struct ibv_qp *fk_create_qp_ex(struct ibv_context *ctx,
                                      struct ibv_qp_init_attr_ex *a)
{
    if (fk_fail("ibv_create_qp_ex"))
        return NULL;
    const uint32_t need = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_IND_TABLE |
                          IBV_QP_INIT_ATTR_RX_HASH;
    struct fk_qp *q = calloc(1, sizeof(*q));
    if (!q || (a->comp_mask & need) != need || a->qp_type != IBV_QPT_RAW_PACKET ||
        !a->rwq_ind_tbl) {
        free(q);
        errno = EINVAL;
        return NULL;
    }
    q->qp.context = ctx;
    q->qp.pd = a->pd;
    q->qp.qp_type = IBV_QPT_RAW_PACKET;
    q->qp.state = IBV_QPS_RTR;   /* a hashing QP receives as created */
    q->is_hash = true;
    q->ind = (struct fk_ind *)a->rwq_ind_tbl;
    q->ind->refs++;
    q->hash_fields = a->rx_hash_conf.rx_hash_fields_mask;
    q->hash_func = a->rx_hash_conf.rx_hash_function;
    q->hash_key_len = a->rx_hash_conf.rx_hash_key_len;
    ((struct fk_pd *)a->pd)->refs++;
    fk.qps[fk.n_qps++] = q;
    fk.live_qp++;
    return &q->qp;
}

/* ---- the exported entry points (these win at link time) ---- */

struct ibv_device **ibv_get_device_list(int *num)
{
    if (fk.list_errno) {
        errno = fk.list_errno;
        if (num)
            *num = 0;
        return NULL;
    }
    /* A fresh copy each call, as the library hands out. */
    struct ibv_device **l = calloc(fk.n_devs + 1, sizeof(*l));
    if (!l)
        return NULL;
    memcpy(l, fk.dev_ptrs, fk.n_devs * sizeof(*l));
    if (num)
        *num = (int)fk.n_devs;
    fk.live_lists++;
    return l;
}

void ibv_free_device_list(struct ibv_device **list)
{
    fk.live_lists--;
    free(list);
}

const char *ibv_get_device_name(struct ibv_device *d)
{
    return d->name;
}

struct ibv_context *ibv_open_device(struct ibv_device *d)
{
    if (fk_fail("ibv_open_device"))
        return NULL;
    struct fk_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    struct verbs_context *v = &c->vctx;
    v->sz = sizeof(*v);
    v->context.device = d;
    v->context.abi_compat = __VERBS_ABI_IS_EXTENDED;
    v->context.ops.poll_cq = fk_poll_cq;
    v->context.ops.post_send = fk_post_send;
    v->context.ops.post_recv = fk_post_recv;
    v->query_device_ex = fk_query_device_ex;
    v->query_port = fk_query_port;
    v->ibv_create_flow = fk_create_flow;
    v->ibv_destroy_flow = fk_destroy_flow;
    v->create_wq = fk_create_wq;
    v->modify_wq = fk_modify_wq;
    v->destroy_wq = fk_destroy_wq;
    v->create_rwq_ind_table = fk_create_ind;
    v->destroy_rwq_ind_table = fk_destroy_ind;
    v->create_qp_ex = fk_create_qp_ex;
    fk.live_ctx++;
    return &v->context;
}

int ibv_close_device(struct ibv_context *ctx)
{
    if (fk_busy(fk.live_pd + fk.live_cq + fk.live_qp + fk.live_wq +
                fk.live_ind + fk.live_flow + fk.live_mr))
        return EBUSY;
    free((uint8_t *)ctx - offsetof(struct verbs_context, context));
    fk.live_ctx--;
    return 0;
}

/* The legacy paths verbs.h falls back to; the fake context never needs
 * them, so reaching one is a bug in the fake or the code under test. */
int ibv_query_device(struct ibv_context *ctx, struct ibv_device_attr *a)
{
    (void)ctx;
    (void)a;
    fk.order_violations++;
    return EOPNOTSUPP;
}

int (ibv_query_port)(struct ibv_context *ctx, uint8_t port,
                     struct _compat_ibv_port_attr *a)
{
    (void)ctx;
    (void)port;
    (void)a;
    fk.order_violations++;
    return EOPNOTSUPP;
}

struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t len,
                                uint64_t iova, unsigned int access)
{
    (void)pd;
    (void)addr;
    (void)len;
    (void)iova;
    (void)access;
    fk.order_violations++;
    errno = EOPNOTSUPP;
    return NULL;
}

struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
    if (fk_fail("ibv_alloc_pd"))
        return NULL;
    struct fk_pd *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->pd.context = ctx;
    fk.live_pd++;
    return &p->pd;
}

int ibv_dealloc_pd(struct ibv_pd *pd)
{
    struct fk_pd *p = (struct fk_pd *)pd;
    if (fk_busy(p->refs))
        return EBUSY;
    free(p);
    fk.live_pd--;
    return 0;
}

struct ibv_mr *(ibv_reg_mr)(struct ibv_pd *pd, void *addr, size_t len, int access)
{
    if (fk_fail("ibv_reg_mr"))
        return NULL;
    struct fk_mr *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->mr.context = pd->context;
    m->mr.pd = pd;
    m->mr.addr = addr;
    m->mr.length = len;
    m->mr.lkey = fk.next_key++;
    m->mr.rkey = m->mr.lkey;
    m->access = access;
    ((struct fk_pd *)pd)->refs++;
    fk.mrs[fk.n_mrs++] = m;
    fk.live_mr++;
    return &m->mr;
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
    struct fk_mr *m = (struct fk_mr *)mr;
    for (unsigned i = 0; i < fk.n_mrs; i++)
        if (fk.mrs[i] == m)
            fk.mrs[i] = NULL;
    ((struct fk_pd *)mr->pd)->refs--;
    free(m);
    fk.live_mr--;
    return 0;
}

struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx,
                             struct ibv_comp_channel *ch, int vec)
{
    (void)ch;
    (void)vec;
    if (fk_fail("ibv_create_cq"))
        return NULL;
    struct fk_cq *c = calloc(1, sizeof(*c));
    if (!c || cqe <= 0 || !(c->e = calloc((size_t)cqe, sizeof(*c->e)))) {
        free(c);
        errno = EINVAL;
        return NULL;
    }
    c->cap = (unsigned)cqe;
    c->cq.context = ctx;
    c->cq.cq_context = cq_ctx;
    c->cq.cqe = cqe;
    fk.live_cq++;
    return &c->cq;
}

int ibv_destroy_cq(struct ibv_cq *cq)
{
    struct fk_cq *c = (struct fk_cq *)cq;
    if (fk_busy(c->refs))
        return EBUSY;
    free(c->e);
    free(c);
    fk.live_cq--;
    return 0;
}

struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *a)
{
    if (fk_fail("ibv_create_qp"))
        return NULL;
    struct fk_qp *q = calloc(1, sizeof(*q));
    if (!q || a->qp_type != IBV_QPT_RAW_PACKET || !a->send_cq || !a->recv_cq ||
        fifo_init(&q->sq, a->cap.max_send_wr) != 0 ||
        fifo_init(&q->rq.posted, a->cap.max_recv_wr) != 0) {
        if (q)
            free(q->sq.e);
        free(q);
        errno = EINVAL;
        return NULL;
    }
    q->qp.context = pd->context;
    q->qp.pd = pd;
    q->qp.send_cq = a->send_cq;
    q->qp.recv_cq = a->recv_cq;
    q->qp.qp_type = a->qp_type;
    q->qp.state = IBV_QPS_RESET;
    q->sq_sig_all = a->sq_sig_all;
    q->scq = (struct fk_cq *)a->send_cq;
    q->rq.cq = (struct fk_cq *)a->recv_cq;
    q->scq->refs++;
    q->rq.cq->refs++;
    ((struct fk_pd *)pd)->refs++;
    fk.qps[fk.n_qps++] = q;
    fk.live_qp++;
    return &q->qp;
}

int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *a, int mask)
{
    struct fk_qp *q = (struct fk_qp *)qp;
    if (fk_fail("ibv_modify_qp"))
        return errno;
    if (!(mask & IBV_QP_STATE))
        return EINVAL;
    enum ibv_qp_state from = q->qp.state, to = a->qp_state;
    bool ok = (from == IBV_QPS_RESET && to == IBV_QPS_INIT && (mask & IBV_QP_PORT) &&
               a->port_num == 1) ||
              (from == IBV_QPS_INIT && to == IBV_QPS_RTR) ||
              (from == IBV_QPS_RTR && to == IBV_QPS_RTS) ||
              to == IBV_QPS_ERR || to == IBV_QPS_RESET;
    if (!ok)
        return EINVAL;
    q->qp.state = to;
    q->n_trans++;
    return 0;
}

int ibv_destroy_qp(struct ibv_qp *qp)
{
    struct fk_qp *q = (struct fk_qp *)qp;
    if (fk_busy(q->flows))
        return EBUSY;
    for (unsigned i = 0; i < fk.n_qps; i++)
        if (fk.qps[i] == q)
            fk.qps[i] = NULL;
    if (q->is_hash) {
        q->ind->refs--;
    } else {
        q->scq->refs--;
        q->rq.cq->refs--;
    }
    ((struct fk_pd *)qp->pd)->refs--;
    free(q->sq.e);
    free(q->rq.posted.e);
    free(q);
    fk.live_qp--;
    return 0;
}

/* ---- helpers for the tests ---- */

/* Every object the port made is gone and every list was freed. */
static unsigned fk_live(void)
{
    return fk.live_lists + fk.live_ctx + fk.live_pd + fk.live_mr + fk.live_cq + fk.live_qp +
           fk.live_wq + fk.live_ind + fk.live_flow;
}

/* The receiving QP in single-RQ mode (the one created with receive WRs). */
static struct fk_qp *fk_rx_qp(void)
{
    for (unsigned i = 0; i < fk.n_qps; i++)
        if (fk.qps[i] && !fk.qps[i]->is_hash && fk.qps[i]->rq.posted.cap > 0)
            return fk.qps[i];
    return NULL;
}

/* The i-th live non-hashing QP: queue i's send QP (creation order). */
static struct fk_qp *fk_tx_qp(unsigned i)
{
    for (unsigned k = 0; k < fk.n_qps; k++) {
        if (fk.qps[k] && !fk.qps[k]->is_hash) {
            if (i == 0)
                return fk.qps[k];
            i--;
        }
    }
    return NULL;
}

static struct fk_qp *fk_hash_qp(void)
{
    for (unsigned i = 0; i < fk.n_qps; i++)
        if (fk.qps[i] && fk.qps[i]->is_hash)
            return fk.qps[i];
    return NULL;
}

#endif
