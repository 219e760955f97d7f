/* test_port_verbs.c - the verbs uplink (fabric/port_verbs.c) against a
 * FAKE libibverbs: a link-time substitute, not a device.
 *
 * fake_verbs.h defines ibv_get_device_list, ibv_open_device, ibv_alloc_pd,
 * ibv_reg_mr, ibv_create_cq, ibv_create_qp, ibv_modify_qp, ... in this
 * program, so they win over the shared library at link time, and its fake
 * context serves the static inline verbs (post_send, post_recv, poll_cq,
 * create_flow, create_wq, ...) with a software NIC. Nothing here touches a
 * real device; test_verbs_hw.c is the hardware test.
 *
 * What is checked: the refusals (no device list, unknown name, not an
 * Ethernet port), buffer accounting (pool in_use back to 0 after close,
 * also after every half-open failure), the receive queue kept full,
 * receive completions taken in one batch, error completions counted and
 * their buffers returned, sends posted from the packet's own buffer with
 * one doorbell per burst and signalled every N, packets held until their
 * completion, partial tx when the send queue is full or the post fails
 * midway, steering rules and the RSS objects, and frames looped back
 * through the fake wire. Every loop is bounded by a count.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_verbs.h"
#include "fabric/vf_port_verbs.h"
#include "numa/vf_pool.h"
#include "vf_test_pkt.h"

#define ROOM VF_PKT_DEFAULT_DATA_ROOM

static struct vf_pool *mkpool(unsigned n)
{
    char err[256];
    struct vf_pool *p = vf_pool_create(NULL, -1, n, ROOM, err, sizeof(err));
    if (!p)
        fail_msg("pool: %s", err);
    return p;
}

/* An outer-looking Ethernet/IPv4/UDP frame; payload_len bytes of pattern
 * with the first byte set to tag so frames can be told apart. */
static size_t mkframe(uint8_t *buf, size_t cap, uint16_t sport, uint16_t dport,
                      size_t payload_len, uint8_t tag)
{
    struct vf_tpkt t;
    uint8_t pay[1500];
    vf_tpkt_init(&t);
    t.sport = sport;
    t.dport = dport;
    for (size_t i = 0; i < payload_len && i < sizeof(pay); i++)
        pay[i] = (uint8_t)(i * 7 + tag);
    if (payload_len > 0)
        pay[0] = tag;
    t.payload = pay;
    t.payload_len = payload_len;
    size_t n = vf_tpkt_ip4_udp(buf, cap, &t);
    assert_true(n > 0);
    return n;
}

static struct vf_port *open_ok(unsigned nq, struct vf_pool *const *pools,
                               const struct vf_verbs_opts *o)
{
    char err[512] = "";
    struct vf_port *p = vf_verbs_port_open("uplink", "mlx5_0", 1, nq, pools, o,
                                           err, sizeof(err));
    if (!p)
        fail_msg("open: %s", err);
    return p;
}

static void setup_fake(bool rss)
{
    fk_reset();
    fk_add_dev("mlx5_0");
    fk.rss = rss;
}

static void assert_all_released(void)
{
    assert_int_equal(fk_live(), 0);
    assert_int_equal(fk.order_violations, 0);
    assert_int_equal(fk.bad_sge, 0);
    assert_int_equal(fk.cq_overruns, 0);
}

/* ---- refusals ---- */

static void test_no_device(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(256);
    char err[512];

    fk_reset();
    fk.list_errno = ENOSYS;   /* what this machine's libibverbs says */
    struct vf_port *p = vf_verbs_port_open("up", "mlx5_0", 1, 1, &pool, NULL,
                                           err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "no RDMA device on this machine"));
    assert_non_null(strstr(err, "ibv_get_device_list: Function not implemented"));
    assert_non_null(strstr(err, "use uplink: {type: udp, bind: ADDR:PORT} or {type: ring}"));
    assert_int_equal(fk_live(), 0);

    /* An empty list (a library with no provider for any device). */
    fk_reset();
    p = vf_verbs_port_open("up", "mlx5_0", 1, 1, &pool, NULL, err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "no RDMA device on this machine"));
    assert_non_null(strstr(err, "type: udp"));
    assert_int_equal(fk_live(), 0);   /* the list was freed */
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

static void test_unknown_device(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(256);
    char err[512];

    fk_reset();
    fk_add_dev("mlx5_0");
    fk_add_dev("mlx5_1");
    struct vf_port *p = vf_verbs_port_open("up", "mlx5_7", 1, 1, &pool, NULL,
                                           err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "'mlx5_7' not found"));
    assert_non_null(strstr(err, "mlx5_0, mlx5_1"));
    assert_int_equal(fk_live(), 0);

    /* Not Ethernet: raw packet QPs cannot work on an InfiniBand port. */
    setup_fake(false);
    fk.link_layer = IBV_LINK_LAYER_INFINIBAND;
    p = vf_verbs_port_open("up", "mlx5_0", 1, 1, &pool, NULL, err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "not an Ethernet port"));
    assert_all_released();

    /* Port 2 does not exist on the fake device. */
    setup_fake(false);
    p = vf_verbs_port_open("up", "mlx5_0", 2, 1, &pool, NULL, err, sizeof(err));
    assert_null(p);
    assert_non_null(strstr(err, "port 2"));
    assert_all_released();

    /* Arguments. */
    assert_null(vf_verbs_port_open("up", NULL, 1, 1, &pool, NULL, err, sizeof(err)));
    assert_null(vf_verbs_port_open("up", "mlx5_0", 1, 0, &pool, NULL, err, sizeof(err)));
    struct vf_pool *none[2] = {pool, NULL};
    assert_null(vf_verbs_port_open("up", "mlx5_0", 1, 2, none, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "no pool for queue 1"));
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

/* ---- open, objects, close ---- */

static void test_open_single_rq(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(512);
    struct vf_pool *pools[2] = {pool, pool};
    struct vf_verbs_opts o = {.rq_size = 64, .sq_size = 64};
    struct vf_pool_info pi;
    vf_pool_get_info(pool, &pi);

    setup_fake(false);
    struct vf_port *p = open_ok(2, pools, &o);
    assert_string_equal(p->ops->type, "verbs");
    assert_int_equal(p->ops->wait_fd(p, 0), -1);

    /* One pool, one MR over its whole region, local write. */
    assert_int_equal(fk.live_mr, 1);
    assert_ptr_equal(fk.mrs[0]->mr.addr, pi.base);
    assert_int_equal(fk.mrs[0]->mr.length, pi.size);
    assert_int_equal(fk.mrs[0]->access, IBV_ACCESS_LOCAL_WRITE);

    struct vf_verbs_info info;
    assert_int_equal(vf_verbs_port_info(p, &info), 0);
    assert_false(info.rss);
    assert_int_equal(info.n_rx_queues, 1);
    assert_int_equal(info.n_flows, 2);
    assert_int_equal(info.rq_size, 64);
    assert_int_equal(info.sq_size, 64);

    /* Two raw packet QPs in RTS, no sq_sig_all; queue 0 receives. */
    assert_int_equal(fk.live_qp, 2);
    for (unsigned q = 0; q < 2; q++) {
        struct fk_qp *qp = fk_tx_qp(q);
        assert_non_null(qp);
        assert_int_equal(qp->qp.state, IBV_QPS_RTS);
        assert_int_equal(qp->n_trans, 3);
        assert_int_equal(qp->sq_sig_all, 0);
    }
    struct fk_qp *rx = fk_rx_qp();
    assert_ptr_equal(rx, fk_tx_qp(0));
    assert_int_equal(fk_tx_qp(1)->rq.posted.cap, 0);

    /* The receive queue is full, every WR at the headroom of a buffer. */
    assert_int_equal(rx->rq.posted.count, 64);
    assert_int_equal(vf_verbs_port_rq_posted(p, 0), 64);
    assert_int_equal(vf_verbs_port_rq_posted(p, 1), 0);
    assert_int_equal(vf_pool_in_use(pool), 64);
    uintptr_t base = (uintptr_t)pi.base;
    size_t slot = pi.slot_size;
    for (unsigned i = 0; i < rx->rq.posted.count; i++) {
        const struct fk_wr *w = &rx->rq.posted.e[i];
        assert_int_equal(w->len, ROOM - VF_PKT_HEADROOM);
        assert_int_equal((w->addr - base) % slot,
                         sizeof(struct vf_pkt) + VF_PKT_HEADROOM);
    }

    /* Steering: Geneve and VXLAN UDP ports, network order, on queue 0. */
    assert_int_equal(fk.live_flow, 2);
    uint16_t want[2] = {htons(6081), htons(4789)};
    for (unsigned i = 0; i < 2; i++) {
        const struct fk_flow *f = fk.flows[i];
        assert_ptr_equal(f->qp, rx);
        assert_int_equal(f->port, 1);
        assert_int_equal(f->udp.dst_port, want[i]);
        assert_int_equal(f->udp_mask.dst_port, 0xffff);
        assert_int_equal(f->eth.ether_type, htons(0x0800));
        assert_int_equal(f->ip_mask.dst_ip, 0);   /* no local IP given */
    }

    /* Queue 1 transmits only. */
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);
    struct vf_pkt *pk[4];
    assert_int_equal(vf_port_rx_burst(p, 1, pk, 4, &c), 0);
    assert_int_equal(vf_port_rx_burst(p, 7, pk, 4, &c), 0);
    vf_pool_cache_flush(&c);

    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

static void test_open_two_pools_and_steering_opts(void **state)
{
    (void)state;
    struct vf_pool *pools[2] = {mkpool(256), mkpool(256)};
    struct vf_verbs_opts o = {
        .rq_size = 32, .has_mac = true,
        .local_mac = {0x02, 0, 0, 0, 0, 0x11},
        .local_ip = htonl(0xc0000201), .geneve_port = 6090,
    };
    setup_fake(false);
    struct vf_port *p = open_ok(2, pools, &o);
    assert_int_equal(fk.live_mr, 2);   /* each distinct pool once */
    for (unsigned i = 0; i < 2; i++) {
        const struct fk_flow *f = fk.flows[i];
        assert_memory_equal(f->eth.dst_mac, o.local_mac, 6);
        assert_int_equal(f->eth_mask.dst_mac[0], 0xff);
        assert_int_equal(f->ip.dst_ip, o.local_ip);
        assert_int_equal(f->ip_mask.dst_ip, 0xffffffff);
    }
    assert_int_equal(fk.flows[0]->udp.dst_port, htons(6090));
    assert_int_equal(fk.flows[1]->udp.dst_port, htons(4789));
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pools[0]), 0);
    assert_int_equal(vf_pool_in_use(pools[1]), 0);
    assert_all_released();
    vf_pool_destroy(pools[0]);
    vf_pool_destroy(pools[1]);
}

/* ---- receive ---- */

static void test_rx_batches_and_refill(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(512);
    struct vf_verbs_opts o = {.rq_size = 64};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    p->index = 3;
    struct fk_qp *rx = fk_rx_qp();
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    uint8_t frames[50][256];
    size_t lens[50];
    uint64_t total = 0;
    for (unsigned i = 0; i < 50; i++) {
        lens[i] = mkframe(frames[i], sizeof(frames[i]), (uint16_t)(50000 + i),
                          6081, 10 + i * 3, (uint8_t)i);
        total += lens[i];
        assert_true(fk_rq_deliver(&rx->rq, frames[i], (uint32_t)lens[i]));
    }
    assert_int_equal(rx->rq.posted.count, 14);

    struct vf_pkt *pk[VF_BURST_MAX];
    unsigned seen = 0;
    unsigned want[3] = {32, 18, 0};
    for (unsigned b = 0; b < 3; b++) {
        unsigned polls = fk.n_poll, posts = fk.n_post_recv;
        unsigned got = vf_port_rx_burst(p, 0, pk, 32, &c);
        assert_int_equal(got, want[b]);
        /* One poll for the whole batch, at most n entries asked. */
        assert_int_equal(fk.n_poll - polls, 1);
        assert_int_equal(fk.max_poll_n, 32);
        /* Refilled to full, in one post: the port's 64 are the WRs the
         * fake still holds plus the completions not yet polled. */
        assert_int_equal(vf_verbs_port_rq_posted(p, 0), 64);
        assert_int_equal(rx->rq.posted.count + rx->rq.cq->count, 64);
        if (got) {
            assert_int_equal(fk.n_post_recv - posts, 1);
            assert_int_equal(fk.last_recv_chain, got);
        }
        for (unsigned i = 0; i < got; i++, seen++) {
            assert_int_equal(pk[i]->len, lens[seen]);
            assert_int_equal(pk[i]->data_off, VF_PKT_HEADROOM);
            assert_int_equal(pk[i]->port, 3);
            assert_ptr_equal(pk[i]->pool, pool);
            assert_memory_equal(vf_pkt_data(pk[i]), frames[seen], lens[seen]);
        }
        vf_pool_free_burst(&c, pk, got);
    }
    assert_int_equal(seen, 50);

    /* n beyond VF_BURST_MAX: one poll of at most VF_BURST_MAX entries. */
    for (unsigned i = 0; i < 64; i++)
        assert_true(fk_rq_deliver(&rx->rq, frames[i % 50], (uint32_t)lens[i % 50]));
    struct vf_pkt *big[200];
    assert_int_equal(vf_port_rx_burst(p, 0, big, 200, &c), VF_BURST_MAX);
    assert_int_equal(fk.max_poll_n, VF_BURST_MAX);
    vf_pool_free_burst(&c, big, VF_BURST_MAX);

    struct vf_port_stats st;
    vf_port_stats_sum(p, &st);
    assert_int_equal(st.rx_pkts, 50 + 64);
    assert_int_equal(st.rx_errors, 0);
    uint64_t extra = 0;
    for (unsigned i = 0; i < 64; i++)
        extra += lens[i % 50];
    assert_int_equal(st.rx_bytes, total + extra);

    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(pool), 64);
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

static void test_rx_error_completions(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(512);
    struct vf_verbs_opts o = {.rq_size = 64};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    struct fk_qp *rx = fk_rx_qp();
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    /* good, bad, good, bad, bad, good, good, good */
    const int pattern[8] = {1, 0, 1, 0, 0, 1, 1, 1};
    const enum ibv_wc_status bad[3] = {IBV_WC_LOC_PROT_ERR, IBV_WC_LOC_LEN_ERR,
                                       IBV_WC_WR_FLUSH_ERR};
    uint8_t fr[8][128];
    size_t len[8];
    unsigned nb = 0;
    for (unsigned i = 0; i < 8; i++) {
        len[i] = mkframe(fr[i], sizeof(fr[i]), 50000, 4789, 20 + i, (uint8_t)i);
        if (pattern[i])
            assert_true(fk_rq_deliver(&rx->rq, fr[i], (uint32_t)len[i]));
        else
            assert_true(fk_rq_error(&rx->rq, bad[nb++]));
    }
    struct vf_pkt *pk[VF_BURST_MAX];
    unsigned got = vf_port_rx_burst(p, 0, pk, VF_BURST_MAX, &c);
    assert_int_equal(got, 5);
    for (unsigned i = 0, k = 0; i < 8; i++) {
        if (!pattern[i])
            continue;
        assert_int_equal(pk[k]->len, len[i]);
        assert_memory_equal(vf_pkt_data(pk[k]), fr[i], len[i]);
        k++;
    }
    struct vf_port_stats st;
    vf_port_stats_sum(p, &st);
    assert_int_equal(st.rx_errors, 3);
    assert_int_equal(st.rx_pkts, 5);
    /* The 3 failed buffers went back; the RQ is full again. */
    assert_int_equal(rx->rq.posted.count, 64);
    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(pool), 64 + 5);
    vf_pool_free_burst(&c, pk, got);
    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(pool), 64);

    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

static void test_rx_pool_short_recovers(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(80);
    struct vf_verbs_opts o = {.rq_size = 64};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    struct fk_qp *rx = fk_rx_qp();
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);
    uint8_t fr[128];
    size_t n = mkframe(fr, sizeof(fr), 50000, 6081, 30, 1);

    for (unsigned i = 0; i < 64; i++)
        assert_true(fk_rq_deliver(&rx->rq, fr, (uint32_t)n));
    struct vf_pkt *pk[VF_BURST_MAX];
    assert_int_equal(vf_port_rx_burst(p, 0, pk, VF_BURST_MAX, &c), 64);
    /* Only 16 buffers were left for the refill. */
    assert_int_equal(rx->rq.posted.count, 16);
    assert_int_equal(vf_verbs_port_rq_posted(p, 0), 16);
    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    assert_true(info.rx_refill_short >= 1);

    /* Buffers come back: an empty poll refills the queue to full. */
    vf_pool_free_burst(&c, pk, 64);
    assert_int_equal(vf_port_rx_burst(p, 0, pk, VF_BURST_MAX, &c), 0);
    assert_int_equal(rx->rq.posted.count, 64);
    vf_pool_cache_flush(&c);
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

/* ---- transmit ---- */

static unsigned fill_pkts(struct vf_pool_cache *c, struct vf_pkt **pk,
                          unsigned n, uint16_t dport)
{
    unsigned got = vf_pool_alloc_burst(c, pk, n);
    assert_int_equal(got, n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t fr[256];
        size_t len = mkframe(fr, sizeof(fr), (uint16_t)(49152 + i), dport,
                             16 + i, (uint8_t)i);
        assert_int_equal(vf_pkt_set(pk[i], fr, (uint32_t)len), 0);
    }
    return got;
}

static void test_tx_zero_copy_and_completions(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(512);
    struct vf_verbs_opts o = {.rq_size = 64, .sq_size = 64, .tx_signal_every = 16};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    struct fk_qp *tx = fk_tx_qp(0);
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    struct vf_pkt *pk[20];
    fill_pkts(&c, pk, 20, 6081);
    uint64_t bytes = 0;
    for (unsigned i = 0; i < 20; i++)
        bytes += pk[i]->len;
    unsigned doorbells = fk.n_post_send;
    assert_int_equal(vf_port_tx_burst(p, 0, pk, 20, &c), 20);
    /* One chain, one doorbell; each WR points at its packet's own data. */
    assert_int_equal(fk.n_post_send - doorbells, 1);
    assert_int_equal(fk.last_send_chain, 20);
    assert_int_equal(fk.n_posted_sends, 20);
    for (unsigned i = 0; i < 20; i++) {
        assert_int_equal(fk.posted_sends[i].addr, (uintptr_t)vf_pkt_data(pk[i]));
        assert_int_equal(fk.posted_sends[i].len, pk[i]->len);
        assert_int_equal(fk.posted_sends[i].signaled, (i + 1) % 16 == 0);
    }
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 20);
    struct vf_port_stats st;
    vf_port_stats_sum(p, &st);
    assert_int_equal(st.tx_pkts, 20);
    assert_int_equal(st.tx_bytes, bytes);

    /* 10 on the wire but none signalled: nothing may be freed yet. */
    assert_int_equal(fk_transmit(&tx->qp, 10), 10);
    assert_int_equal(vf_port_tx_burst(p, 0, pk, 0, &c), 0);
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 20);
    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(pool), 64 + 20);

    /* WR 16 completes: it and the 15 before it are freed, 4 stay. */
    assert_int_equal(fk_transmit(&tx->qp, 10), 10);
    assert_int_equal(vf_port_tx_burst(p, 0, pk, 0, &c), 0);
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 4);
    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(pool), 64 + 4);
    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    assert_int_equal(info.tx_completions, 1);
    assert_int_equal(info.tx_errors, 0);
    assert_int_equal(info.tx_copies, 0);

    /* Close frees the 4 still held, after the QP is gone. */
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

static void test_tx_partial(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(512);
    struct vf_verbs_opts o = {.rq_size = 16, .sq_size = 32, .tx_signal_every = 8};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    struct fk_qp *tx = fk_tx_qp(0);
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    /* Send queue full: a prefix of 32 is taken, the caller keeps 18. */
    struct vf_pkt *pk[50];
    fill_pkts(&c, pk, 50, 6081);
    unsigned k = vf_port_tx_burst(p, 0, pk, 50, &c);
    assert_int_equal(k, 32);
    assert_int_equal(vf_port_tx_burst(p, 0, &pk[32], 18, &c), 0);
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 32);
    struct vf_port_stats st;
    vf_port_stats_sum(p, &st);
    assert_int_equal(st.tx_pkts, 32);
    assert_int_equal(st.tx_drops, 0);   /* the caller counts its drops */

    /* The wire drains: 4 signalled completions free all 32; the rest goes. */
    assert_int_equal(fk_transmit(&tx->qp, 100), 32);
    assert_int_equal(vf_port_tx_burst(p, 0, &pk[32], 18, &c), 18);
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 18);
    assert_int_equal(fk_transmit(&tx->qp, 100), 18);

    /* The provider refuses WR 3 of a chain: 3 accepted, 7 stay ours. */
    fk.send_fail_at = 3;
    struct vf_pkt *more[10];
    fill_pkts(&c, more, 10, 6081);
    assert_int_equal(vf_port_tx_burst(p, 0, more, 10, &c), 3);
    fk.send_fail_at = -1;
    vf_pool_free_burst(&c, &more[3], 7);   /* as the caller would */

    vf_pool_cache_flush(&c);
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

static void test_tx_unregistered_pool_copies(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(256), *other = mkpool(64);
    struct vf_verbs_opts o = {.rq_size = 16, .sq_size = 32, .tx_signal_every = 1};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    struct fk_qp *tx = fk_tx_qp(0);
    struct vf_pool_cache c, oc;
    vf_pool_cache_init(&c, pool);
    vf_pool_cache_init(&oc, other);

    struct vf_pkt *pk[1];
    fill_pkts(&oc, pk, 1, 6081);
    uint8_t copy[256];
    uint32_t len = pk[0]->len;
    memcpy(copy, vf_pkt_data(pk[0]), len);
    vf_pool_cache_flush(&oc);
    assert_int_equal(vf_pool_in_use(other), 1);

    assert_int_equal(vf_port_tx_burst(p, 0, pk, 1, &c), 1);
    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(other), 0);   /* original freed */
    struct vf_pool_info pi;
    vf_pool_get_info(pool, &pi);
    uintptr_t a = fk.posted_sends[0].addr;
    assert_true(a >= (uintptr_t)pi.base && a < (uintptr_t)pi.base + pi.size);
    assert_memory_equal((void *)a, copy, len);
    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    assert_int_equal(info.tx_copies, 1);

    assert_int_equal(fk_transmit(&tx->qp, 1), 1);
    assert_int_equal(vf_port_tx_burst(p, 0, pk, 0, &c), 0);
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 0);
    vf_pool_cache_flush(&c);
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
    vf_pool_destroy(other);
}

static void test_tx_error_completion(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(256);
    struct vf_verbs_opts o = {.rq_size = 16, .sq_size = 32, .tx_signal_every = 8};
    setup_fake(false);
    struct vf_port *p = open_ok(1, &pool, &o);
    struct fk_qp *tx = fk_tx_qp(0);
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    struct vf_pkt *pk[8];
    fill_pkts(&c, pk, 8, 6081);
    assert_int_equal(vf_port_tx_burst(p, 0, pk, 8, &c), 8);
    fk.tx_status = IBV_WC_LOC_PROT_ERR;
    assert_int_equal(fk_transmit(&tx->qp, 8), 8);
    /* Reaped from rx_burst too: the receive path returns sent buffers. */
    struct vf_pkt *r[4];
    assert_int_equal(vf_port_rx_burst(p, 0, r, 4, &c), 0);
    assert_int_equal(vf_verbs_port_tx_inflight(p, 0), 0);
    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    assert_int_equal(info.tx_errors, 1);
    vf_pool_cache_flush(&c);
    assert_int_equal(vf_pool_in_use(pool), 16);
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

/* ---- the fake wire: loopback through steering (and RSS) ---- */

static void test_loopback_single_rq(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(512);
    struct vf_pool *pools[2] = {pool, pool};
    struct vf_verbs_opts o = {.rq_size = 64, .sq_size = 64, .tx_signal_every = 4};
    setup_fake(false);
    fk.loopback = true;
    struct vf_port *p = open_ok(2, pools, &o);
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    /* From the transmit-only queue 1: 8 Geneve, 8 VXLAN, 4 DNS frames. */
    struct vf_pkt *pk[20];
    fill_pkts(&c, pk, 8, 6081);
    fill_pkts(&c, pk + 8, 8, 4789);
    fill_pkts(&c, pk + 16, 4, 53);
    uint8_t sent[20][256];
    for (unsigned i = 0; i < 20; i++)
        memcpy(sent[i], vf_pkt_data(pk[i]), pk[i]->len);
    assert_int_equal(vf_port_tx_burst(p, 1, pk, 20, &c), 20);
    assert_int_equal(fk_transmit(&fk_tx_qp(1)->qp, 100), 20);
    assert_int_equal(fk.not_steered, 4);   /* only tunnel ports are ours */

    struct vf_pkt *r[VF_BURST_MAX];
    assert_int_equal(vf_port_rx_burst(p, 1, r, VF_BURST_MAX, &c), 0);
    unsigned got = vf_port_rx_burst(p, 0, r, VF_BURST_MAX, &c);
    assert_int_equal(got, 16);
    for (unsigned i = 0; i < got; i++)
        assert_memory_equal(vf_pkt_data(r[i]), sent[i], r[i]->len);
    vf_pool_free_burst(&c, r, got);
    assert_int_equal(vf_port_tx_burst(p, 1, r, 0, &c), 0);   /* reap */
    assert_int_equal(vf_verbs_port_tx_inflight(p, 1), 0);
    vf_pool_cache_flush(&c);
    vf_port_close(p);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_all_released();
    vf_pool_destroy(pool);
}

static void test_loopback_rss(void **state)
{
    (void)state;
    enum { NQ = 4 };
    struct vf_pool *pools[NQ];
    for (unsigned q = 0; q < NQ; q++)
        pools[q] = mkpool(256);
    struct vf_verbs_opts o = {.rq_size = 32, .sq_size = 64, .tx_signal_every = 8};
    setup_fake(true);
    fk.loopback = true;
    struct vf_port *p = open_ok(NQ, pools, &o);

    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    assert_true(info.rss);
    assert_int_equal(info.n_rx_queues, NQ);
    /* A WQ per queue, ready and full; one table; one hashing QP. */
    assert_int_equal(fk.live_wq, NQ);
    for (unsigned q = 0; q < NQ; q++) {
        assert_int_equal(fk.wqs[q]->wq.state, IBV_WQS_RDY);
        assert_int_equal(fk.wqs[q]->rq.posted.count, 32);
        assert_int_equal(vf_verbs_port_rq_posted(p, q), 32);
        assert_int_equal(fk_tx_qp(q)->rq.posted.cap, 0);   /* send only */
        assert_int_equal(fk_tx_qp(q)->qp.state, IBV_QPS_RTS);
    }
    assert_int_equal(fk.live_ind, 1);
    assert_int_equal(fk.inds[0]->size, NQ);
    struct fk_qp *h = fk_hash_qp();
    assert_non_null(h);
    assert_int_equal(h->hash_func, IBV_RX_HASH_FUNC_TOEPLITZ);
    assert_int_equal(h->hash_key_len, 40);
    assert_int_equal(h->hash_fields, IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4 |
                                     IBV_RX_HASH_SRC_PORT_UDP | IBV_RX_HASH_DST_PORT_UDP);
    assert_ptr_equal(fk.flows[0]->qp, h);
    assert_ptr_equal(fk.flows[1]->qp, h);

    /* 32 Geneve frames from queue 2 spread over the 4 queues by source
     * port (the fake hashes sport % 4): 8 each. */
    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pools[2]);
    struct vf_pkt *pk[32];
    fill_pkts(&c, pk, 32, 6081);
    uint8_t sent[32][256];
    for (unsigned i = 0; i < 32; i++)
        memcpy(sent[i], vf_pkt_data(pk[i]), pk[i]->len);
    assert_int_equal(vf_port_tx_burst(p, 2, pk, 32, &c), 32);
    assert_int_equal(fk_transmit(&fk_tx_qp(2)->qp, 100), 32);

    unsigned total = 0;
    bool seen[32] = {false};
    for (unsigned q = 0; q < NQ; q++) {
        struct vf_pkt *r[VF_BURST_MAX];
        unsigned got = vf_port_rx_burst(p, q, r, VF_BURST_MAX, &c);
        assert_int_equal(got, 8);
        for (unsigned i = 0; i < got; i++) {
            /* The payload's first byte is the frame number (tag). */
            unsigned tag = vf_pkt_data(r[i])[14 + 20 + 8];
            assert_true(tag < 32);
            assert_false(seen[tag]);
            seen[tag] = true;
            assert_int_equal((49152 + tag) % NQ, q);
            assert_memory_equal(vf_pkt_data(r[i]), sent[tag], r[i]->len);
            assert_ptr_equal(r[i]->pool, pools[q]);
        }
        total += got;
        assert_int_equal(vf_verbs_port_rq_posted(p, q), 32);
        vf_pool_free_burst(&c, r, got);
    }
    assert_int_equal(total, 32);
    vf_pool_cache_flush(&c);

    vf_port_close(p);
    for (unsigned q = 0; q < NQ; q++) {
        assert_int_equal(vf_pool_in_use(pools[q]), 0);
        vf_pool_destroy(pools[q]);
    }
    assert_all_released();
}

static void test_no_rss_opt(void **state)
{
    (void)state;
    struct vf_pool *pool = mkpool(256);
    struct vf_pool *pools[2] = {pool, pool};
    struct vf_verbs_opts o = {.rq_size = 16, .no_rss = true};
    setup_fake(true);
    struct vf_port *p = open_ok(2, pools, &o);
    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    assert_false(info.rss);
    assert_int_equal(fk.live_wq, 0);
    assert_int_equal(fk.live_ind, 0);
    vf_port_close(p);
    assert_all_released();
    /* One queue never uses RSS, even where the device has it. */
    setup_fake(true);
    p = open_ok(1, &pool, &o);
    vf_verbs_port_info(p, &info);
    assert_false(info.rss);
    vf_port_close(p);
    assert_all_released();
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

/* ---- half-open ports: every failure point unwinds completely ---- */

static void test_half_open(void **state)
{
    (void)state;
    static const struct {
        const char *fn;
        int nth;
        bool rss;
        int err;
    } cases[] = {
        {"ibv_open_device", 1, false, 0},
        {"ibv_alloc_pd", 1, false, 0},
        {"ibv_reg_mr", 2, false, 0},
        {"ibv_create_cq", 1, false, 0},
        {"ibv_create_cq", 2, false, 0},
        {"ibv_create_cq", 3, false, 0},
        {"ibv_create_qp", 1, false, EPERM},
        {"ibv_create_qp", 2, false, 0},
        {"ibv_modify_qp", 1, false, 0},
        {"ibv_modify_qp", 5, false, 0},
        {"ibv_create_flow", 1, false, 0},
        {"ibv_create_flow", 2, false, 0},
        {"ibv_create_cq", 4, true, 0},
        {"ibv_create_wq", 3, true, 0},
        {"ibv_modify_wq", 2, true, 0},
        {"ibv_create_rwq_ind_table", 1, true, 0},
        {"ibv_create_qp_ex", 1, true, 0},
        {"ibv_create_flow", 2, true, 0},
    };
    struct vf_pool *pools[3] = {mkpool(128), mkpool(128), mkpool(128)};
    struct vf_verbs_opts o = {.rq_size = 32, .sq_size = 32};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        setup_fake(cases[i].rss);
        fk.fail_fn = cases[i].fn;
        fk.fail_nth = cases[i].nth;
        fk.fail_errno = cases[i].err;
        struct vf_port *p = vf_verbs_port_open("up", "mlx5_0", 1, 3, pools, &o,
                                               err, sizeof(err));
        if (p)
            fail_msg("case %zu (%s #%d): opened", i, cases[i].fn, cases[i].nth);
        if (!strstr(err, cases[i].fn))
            fail_msg("case %zu: error '%s' does not name %s", i, err, cases[i].fn);
        if (cases[i].err == EPERM)
            assert_non_null(strstr(err, "CAP_NET_RAW"));
        if (fk_live() != 0 || fk.order_violations != 0)
            fail_msg("case %zu (%s #%d): %u objects left, %u order violations",
                     i, cases[i].fn, cases[i].nth, fk_live(), fk.order_violations);
        for (unsigned q = 0; q < 3; q++)
            assert_int_equal(vf_pool_in_use(pools[q]), 0);
    }
    /* The same opens without failures succeed (the cases are reachable). */
    for (int rss = 0; rss < 2; rss++) {
        setup_fake(rss);
        struct vf_port *p = open_ok(3, pools, &o);
        vf_port_close(p);
        assert_all_released();
    }
    vf_port_close(NULL);
    for (unsigned q = 0; q < 3; q++)
        vf_pool_destroy(pools[q]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_device),
        cmocka_unit_test(test_unknown_device),
        cmocka_unit_test(test_open_single_rq),
        cmocka_unit_test(test_open_two_pools_and_steering_opts),
        cmocka_unit_test(test_rx_batches_and_refill),
        cmocka_unit_test(test_rx_error_completions),
        cmocka_unit_test(test_rx_pool_short_recovers),
        cmocka_unit_test(test_tx_zero_copy_and_completions),
        cmocka_unit_test(test_tx_partial),
        cmocka_unit_test(test_tx_unregistered_pool_copies),
        cmocka_unit_test(test_tx_error_completion),
        cmocka_unit_test(test_loopback_single_rq),
        cmocka_unit_test(test_loopback_rss),
        cmocka_unit_test(test_no_rss_opt),
        cmocka_unit_test(test_half_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
