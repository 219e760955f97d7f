/* bench_pipeline.c - the logical pipeline's cost per packet.
 *
 * BM_pipeline_l2_cached: the BM_null_forward loop (ring rx, tx, the
 * generator recycling what was sent) with the whole pipeline in between:
 * parse, hash, flow cache hit, action list, vf_worker_enqueue_tx/flush. 32 flows
 * (source ports) from vm1 to vm2 on one switch, all local, so every packet
 * after the first round is a cache hit. Read it against BM_null_forward/32.
 *
 * BM_pipeline_l3_acl_miss/N: every packet is a flow cache miss (its source
 * port is new each time) and runs every stage: port security, N from-port
 * ACL rules on the source switch (none of which matches, so the classifier
 * does its whole search), L2 to the router port, the router (TTL, LPM, MAC
 * rewrite), the next switch's ACL and L2, egress ACL, and delivery; plus
 * the cache insert. The generator re-writes each frame from a template
 * (the router rewrote it), inside the timing.
 */
#include <stdalign.h>

#include "fabric/vf_ring.h"
#include "perf/vf_bench.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define BURST 32u

static void bench_model(struct vf_model *m, unsigned n_acl)
{
    memset(m, 0, sizeof(*m));
    lt_chassis(m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(m, "hv2", IP(192, 0, 2, 2), VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(m, "blue");
    int a = lt_switch(m, t, "a", 100);
    lt_port(m, t, a, "vm1", 0x101, IP(10, 0, 0, 1), 0, true);
    lt_port(m, t, a, "vm2", 0x102, IP(10, 0, 0, 2), 0, true);
    lt_port(m, t, a, "vm3", 0x103, IP(10, 0, 0, 3), 1, true);
    int b = lt_switch(m, t, "b", 101);
    lt_port(m, t, b, "db1", 0x201, IP(10, 0, 1, 1), 0, true);
    lt_port(m, t, b, "db2", 0x202, IP(10, 0, 1, 2), 1, true);
    int r = lt_router(m, t, "r");
    lt_rport(m, t, r, "r-a", a, 0xff01, IP(10, 0, 0, 254), 24);
    lt_rport(m, t, r, "r-b", b, 0xff02, IP(10, 0, 1, 254), 24);
    lt_route(m, t, r, IP(0, 0, 0, 0), 0, IP(10, 0, 1, 2));
    /* Rules as tenants write them: per-destination allow/deny lists with
     * port ranges, a few prefix shapes; none matches the benchmark flow. */
    for (unsigned i = 0; i < n_acl; i++) {
        struct vf_model_acl *acl = lt_acl(m, t, a, VF_ACL_FROM_PORT,
                                          (int32_t)(i % 1000), VF_ACL_DROP);
        acl->proto = i % 3 == 0 ? VF_IPPROTO_UDP : VF_IPPROTO_TCP;
        lt_pfx4(&acl->dst, htonl(IP(172, 16 + (i >> 16) % 16, (i >> 8) & 0xff,
                                    i & 0xff)), i % 4 == 0 ? 24 : 32);
        acl->dport_lo = (uint16_t)(1000 + i % 97);
        acl->dport_hi = (uint16_t)(acl->dport_lo + (i % 5 == 0 ? 9 : 0));
        if (i % 7 == 0) {
            lt_pfx4(&acl->src, htonl(IP(10, 0, 0, 0)), 16);
        }
    }
    lt_assign_ids(m);
}

static size_t udp_frame(uint8_t *buf, uint32_t dmac_low, uint32_t dip, uint16_t sport)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, 0x101);
    lt_mac(t.eth_dst, dmac_low);
    t.ip4_src = IP(10, 0, 0, 1);
    t.ip4_dst = dip;
    t.sport = sport;
    t.dport = 5001;
    t.payload_len = 18;     /* 64-byte frame */
    return vf_tpkt_ip4_udp(buf, 128, &t);
}

static struct lt_fabric bench_fab;

static void BM_pipeline_l2_cached(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    struct vf_model m;
    struct lt_fabric *f = &bench_fab;
    bench_model(&m, 0);
    if (lt_fabric_init(f, &m, true)) {
        vf_bench_skip(st, "fabric setup failed");
        return;
    }
    struct vf_port *in = f->ports[lt_port_idx(f, "vm1")];
    struct vf_port *out = f->ports[lt_port_idx(f, "vm2")];
    struct vf_worker *w = f->host[0].w;
    const struct vf_tables *t = f->host[0].t;
    struct vf_pkt *pkts[BURST * 8];
    uint8_t frame[128];
    for (unsigned i = 0; i < BURST * 8; i++) {
        pkts[i] = vf_pool_alloc(&w->cache);
        size_t n = udp_frame(frame, 0x102, IP(10, 0, 0, 2), (uint16_t)(1000 + i % 32));
        vf_pkt_set(pkts[i], frame, (uint32_t)n);
    }
    vf_ring_port_inject(in, 0, pkts, BURST * 8);
    uint64_t fwd = 0;
    while (vf_bench_next(st)) {
        unsigned n = vf_port_rx_burst(in, 0, pkts, BURST, &w->cache);
        vf_pipeline_burst(w, t, pkts, n);
        vf_worker_flush(w);
        unsigned k = vf_ring_port_drain(out, 0, pkts, BURST);
        fwd += k;
        vf_ring_port_inject(in, 0, pkts, k);
    }
    vf_bench_items(st, fwd);
    struct vf_flow_cache_stats cs;
    vf_fc_get_stats(w->fc, &cs);
    vf_bench_counter(st, "hit_rate", cs.hits + cs.misses ?
                     (double)cs.hits / (double)(cs.hits + cs.misses) : 0);
    struct vf_pkt *rest[BURST * 8];
    unsigned r = vf_ring_port_drain(in, 0, rest, BURST * 8);
    r += vf_ring_dequeue_burst(vf_ring_port_rx_ring(in, 0), (void **)rest + r,
                               BURST * 8 - r);
    vf_pool_free_burst(&w->cache, rest, r);
    lt_fabric_fini(f);
    lt_model_free(&m);
}
VF_BENCH(BM_pipeline_l2_cached)

static void BM_pipeline_l3_acl_miss(struct vf_bench_state *st, int64_t arg)
{
    struct vf_model m;
    struct lt_fabric *f = &bench_fab;
    bench_model(&m, (unsigned)arg);
    if (lt_fabric_init(f, &m, true)) {
        vf_bench_skip(st, "fabric setup failed");
        return;
    }
    struct vf_port *vm1 = f->ports[lt_port_idx(f, "vm1")];
    struct vf_port *out = f->ports[lt_port_idx(f, "db1")];
    struct vf_worker *w = f->host[0].w;
    const struct vf_tables *t = f->host[0].t;
    struct vf_pkt *pkts[BURST];
    uint8_t tmpl[128];
    size_t len = udp_frame(tmpl, 0xff01, IP(10, 0, 1, 1), 0);
    for (unsigned i = 0; i < BURST; i++)
        pkts[i] = vf_pool_alloc(&w->cache);
    uint16_t sport = 0;
    uint64_t fwd = 0, drops0 = atomic_load(&w->stats.drops[VF_DROP_ACL_INGRESS]);
    while (vf_bench_next(st)) {
        /* generator: fresh frames, each with a source port not seen for
         * 65536 packets, far more than the cache holds */
        for (unsigned i = 0; i < BURST; i++) {
            struct vf_pkt *p = pkts[i];
            p->data_off = VF_PKT_HEADROOM;
            memcpy(vf_pkt_data(p), tmpl, len);
            p->len = (uint32_t)len;
            uint8_t *udp = vf_pkt_data(p) + 34;
            udp[0] = (uint8_t)(sport >> 8);
            udp[1] = (uint8_t)sport;
            udp[6] = udp[7] = 0;    /* checksum optional in IPv4 UDP */
            sport++;
            p->port = (uint16_t)vm1->index;
        }
        vf_pipeline_burst(w, t, pkts, BURST);
        vf_worker_flush(w);
        unsigned k = vf_ring_port_drain(out, 0, pkts, BURST);
        fwd += k;
        if (k != BURST) {
            vf_bench_skip(st, "packets did not reach db1");
            vf_pool_free_burst(&w->cache, pkts, k);
            goto out;
        }
    }
    vf_bench_items(st, fwd);
    struct vf_flow_cache_stats cs;
    vf_fc_get_stats(w->fc, &cs);
    vf_bench_counter(st, "hit_rate", cs.hits + cs.misses ?
                     (double)cs.hits / (double)(cs.hits + cs.misses) : 0);
    vf_bench_counter(st, "acl_drops",
                     (double)(atomic_load(&w->stats.drops[VF_DROP_ACL_INGRESS]) - drops0));
    vf_pool_free_burst(&w->cache, pkts, BURST);
out:
    lt_fabric_fini(f);
    lt_model_free(&m);
}
VF_BENCH_ARGS(BM_pipeline_l3_acl_miss, 0, 1000, 10000)
