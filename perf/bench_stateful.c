/* bench_stateful.c - what security groups cost per packet and per
 * connection (issue 15), beside the stateless paths, in one run.
 *
 * BM_pipeline_tcp_cached: the BM_pipeline_l2_cached loop (ring rx, the
 * whole pipeline with a flow cache hit, tx, recycle) with 32 established
 * TCP flows (64-byte ACK segments with data) from vm1 to vm2: the
 * stateless baseline.
 * BM_pipeline_ct_established: the same packets with vm1 in a security
 * group (out: allow-related; in: replies only), so every packet is also
 * looked up in vm1's zone (refresh of the cached conntrack packet, lookup,
 * the verdict of its state). The difference of the two is conntrack's
 * cost on the cached path (the target: <= +40 cycles).
 * BM_pipeline_miss_l2/N and BM_pipeline_ct_new/N: every packet a new flow
 * (a UDP datagram with a source/destination port pair not seen before)
 * from vm1 to vm2 with N never-matching from-port drop rules: the miss
 * path, stateless, and through the security group, where every packet is
 * also a new connection committed in vm1's zone: setup, the first packet
 * through the ACLs, the commit. Expiry is not in it (it is measured by
 * BM_ct_sweep_expire, and with everything else by `perf/run stress --only
 * ct`): when the table is half full the benchmark pauses its clock and
 * flushes it.
 * Read them beside BM_null_forward/32 (perf/bench_forward.c) in the same run.
 */
#include "fabric/vf_ring.h"
#include "perf/vf_bench.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_sg.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define BURST 32u
#define CT_CONNS (1u << 19)

static struct lt_fabric fab;
static struct sg_set sgs;
static char dst_cidr[SG_MAX_RULES][24];

static void model(struct vf_model *m)
{
    memset(m, 0, sizeof(*m));
    lt_chassis(m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(m, "blue");
    int a = lt_switch(m, t, "a", 100);
    lt_port(m, t, a, "vm1", 0x101, IP(10, 0, 0, 1), 0, true);
    lt_port(m, t, a, "vm2", 0x102, IP(10, 0, 0, 2), 0, true);
    lt_assign_ids(m);
}

/* n never-matching from-port drop rules as tenants write them (the
 * shapes of bench_pipeline.c's), plus, with a group, vm1's security group. */
static void rules(unsigned n, bool group)
{
    memset(&sgs, 0, sizeof(sgs));
    for (unsigned i = 0; i < n && sgs.n < SG_MAX_RULES - 2; i++) {
        struct sg_rule *r = sg_add(&sgs, "a", false, VF_ACL_V_DROP, (int32_t)(i % 1000) + 200);
        r->proto = i % 3 == 0 ? VF_IPPROTO_UDP : VF_IPPROTO_TCP;
        snprintf(dst_cidr[i], sizeof(dst_cidr[i]), "172.%u.%u.%u/%u", 16 + (i >> 16) % 16,
                 (i >> 8) & 0xff, i & 0xff, i % 4 == 0 ? 24 : 32);
        r->dst[0] = dst_cidr[i];
        r->dport_lo = (uint16_t)(1000 + i % 97);
        r->dport_hi = (uint16_t)(r->dport_lo + (i % 5 == 0 ? 9 : 0));
    }
    if (!group)
        return;
    struct sg_rule *r = sg_add(&sgs, "a", false, VF_ACL_V_ALLOW_RELATED, 100);
    r->ports[0] = "vm1";
    r = sg_add(&sgs, "a", true, VF_ACL_V_ALLOW_RELATED, 100);
    r->ports[0] = "vm1";
    r->proto = VF_IPPROTO_UDP;
    r->dport_lo = r->dport_hi = 9999;   /* in: replies only */
}

static size_t tcp_frame(uint8_t *buf, bool from_vm2, uint16_t cport, uint8_t flags,
                        uint32_t seq, uint32_t ack, size_t payload)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, from_vm2 ? 0x102 : 0x101);
    lt_mac(t.eth_dst, from_vm2 ? 0x101 : 0x102);
    t.ip4_src = from_vm2 ? IP(10, 0, 0, 2) : IP(10, 0, 0, 1);
    t.ip4_dst = from_vm2 ? IP(10, 0, 0, 1) : IP(10, 0, 0, 2);
    t.sport = from_vm2 ? 5001 : cport;
    t.dport = from_vm2 ? cport : 5001;
    t.tcp_flags = flags;
    t.tcp_seq = seq;
    t.tcp_ack = ack;
    t.payload_len = payload;
    return vf_tpkt_ip4_tcp(buf, 128, &t);
}

/* Sends one frame through the pipeline; true if it reached `to`. */
static bool one(struct vf_worker *w, const struct vf_tables *t, struct vf_port *in,
                struct vf_port *to, const uint8_t *f, size_t n)
{
    struct vf_pkt *p = vf_pool_alloc(&w->cache);
    if (!p || vf_pkt_set(p, f, (uint32_t)n))
        return false;
    p->port = (uint16_t)in->index;
    w->ct_now = vf_ct_now_ms();
    vf_pipeline_burst(w, t, &p, 1);
    vf_worker_flush(w);
    struct vf_pkt *got[4];
    unsigned g = vf_ring_port_drain(to, 0, got, 4);
    vf_pool_free_burst(&w->cache, got, g);
    return g == 1;
}

static void tcp_cached(struct vf_bench_state *st, bool group)
{
    struct vf_model m;
    model(&m);
    rules(0, group);
    if (lt_fabric_init_ct(&fab, &m, true, 65536, sg_post, &sgs)) {
        vf_bench_skip(st, "fabric setup failed");
        return;
    }
    struct vf_port *vm1 = fab.ports[lt_port_idx(&fab, "vm1")];
    struct vf_port *vm2 = fab.ports[lt_port_idx(&fab, "vm2")];
    struct vf_worker *w = fab.host[0].w;
    const struct vf_tables *t = fab.host[0].t;
    uint8_t f[128];
    for (unsigned i = 0; i < 32; i++) {   /* the handshakes, as a real pair */
        uint16_t c = (uint16_t)(1000 + i);
        size_t n = tcp_frame(f, false, c, VF_TPKT_TCP_SYN, 100, 0, 0);
        bool ok = one(w, t, vm1, vm2, f, n);
        n = tcp_frame(f, true, c, VF_TPKT_TCP_SYN | VF_TPKT_TCP_ACK, 900, 101, 0);
        ok = ok && one(w, t, vm2, vm1, f, n);
        if (!ok) {
            vf_bench_skip(st, "handshake refused");
            goto out;
        }
    }
    struct vf_pkt *pkts[BURST * 8];
    for (unsigned i = 0; i < BURST * 8; i++) {
        pkts[i] = vf_pool_alloc(&w->cache);
        size_t n = tcp_frame(f, false, (uint16_t)(1000 + i % 32), VF_TPKT_TCP_ACK, 101, 901, 10);
        vf_pkt_set(pkts[i], f, (uint32_t)n);
    }
    vf_ring_port_inject(vm1, 0, pkts, BURST * 8);
    uint64_t fwd = 0, lookups0 = atomic_load(&w->ct.stats.lookups) +
                                 atomic_load(&w->ct.stats.steady);
    while (vf_bench_next(st)) {
        unsigned n = vf_port_rx_burst(vm1, 0, pkts, BURST, &w->cache);
        w->ct_now = vf_ct_now_ms();     /* once per iteration, as a worker */
        vf_pipeline_burst(w, t, pkts, n);
        vf_worker_flush(w);
        unsigned k = vf_ring_port_drain(vm2, 0, pkts, BURST);
        fwd += k;
        vf_ring_port_inject(vm1, 0, pkts, k);
    }
    vf_bench_items(st, fwd);
    uint64_t lookups = atomic_load(&w->ct.stats.lookups) + atomic_load(&w->ct.stats.steady);
    vf_bench_counter(st, "ct_lookups_per_pkt", fwd ? (double)(lookups - lookups0) / (double)fwd : 0);
    struct vf_pkt *rest[BURST * 8];
    unsigned r = vf_ring_port_drain(vm1, 0, rest, BURST * 8);
    r += vf_ring_dequeue_burst(vf_ring_port_rx_ring(vm1, 0), (void **)rest + r, BURST * 8 - r);
    vf_pool_free_burst(&w->cache, rest, r);
out:
    lt_fabric_fini(&fab);
    lt_model_free(&m);
}

static void BM_pipeline_tcp_cached(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    tcp_cached(st, false);
}
VF_BENCH(BM_pipeline_tcp_cached)

static void BM_pipeline_ct_established(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    tcp_cached(st, true);
}
VF_BENCH(BM_pipeline_ct_established)

static void miss(struct vf_bench_state *st, unsigned n_rules, bool group)
{
    struct vf_model m;
    model(&m);
    rules(n_rules, group);
    if (lt_fabric_init_ct(&fab, &m, true, group ? CT_CONNS : 1024, sg_post, &sgs)) {
        vf_bench_skip(st, "fabric setup failed");
        return;
    }
    struct vf_ct *ct = fab.host[0].ct;
    struct vf_port *vm1 = fab.ports[lt_port_idx(&fab, "vm1")];
    struct vf_port *vm2 = fab.ports[lt_port_idx(&fab, "vm2")];
    struct vf_worker *w = fab.host[0].w;
    const struct vf_tables *t = fab.host[0].t;
    struct vf_pkt *pkts[BURST];
    uint8_t tmpl[128];
    struct vf_tpkt tp;
    vf_tpkt_init(&tp);
    lt_mac(tp.eth_src, 0x101);
    lt_mac(tp.eth_dst, 0x102);
    tp.ip4_src = IP(10, 0, 0, 1);
    tp.ip4_dst = IP(10, 0, 0, 2);
    tp.payload_len = 18;
    size_t len = vf_tpkt_ip4_udp(tmpl, sizeof(tmpl), &tp);
    for (unsigned i = 0; i < BURST; i++)
        pkts[i] = vf_pool_alloc(&w->cache);
    uint32_t flow = 0;
    uint64_t fwd = 0, iters = 0, created0 = 0, created_total = 0;
    struct vf_ct_totals tot;
    vf_ct_get_stats(ct, &tot);
    created0 = tot.created;
    while (vf_bench_next(st)) {
        for (unsigned i = 0; i < BURST; i++) {
            struct vf_pkt *p = pkts[i];
            p->data_off = VF_PKT_HEADROOM;
            memcpy(vf_pkt_data(p), tmpl, len);
            p->len = (uint32_t)len;
            uint8_t *udp = vf_pkt_data(p) + 34;
            uint16_t sport = (uint16_t)flow, dport = (uint16_t)(2000 + (flow >> 16) % 4096);
            udp[0] = (uint8_t)(sport >> 8);
            udp[1] = (uint8_t)sport;
            udp[2] = (uint8_t)(dport >> 8);
            udp[3] = (uint8_t)dport;
            udp[6] = udp[7] = 0;    /* checksum optional in IPv4 UDP */
            flow++;
            p->port = (uint16_t)vm1->index;
        }
        w->ct_now = vf_ct_now_ms();
        vf_pipeline_burst(w, t, pkts, BURST);
        vf_worker_flush(w);
        if (group && (++iters & 1023) == 0 &&
            vf_ct_zone_count(ct, t->dps[0]->ports[0].ct_zone) > CT_CONNS / 2) {
            vf_bench_pause(st);     /* room for more: not what is measured */
            created_total += vf_ct_flush(&w->ct, -1);
            vf_ct_reclaim(ct);      /* no RCU reader is registered here */
            vf_bench_resume(st);
        }
        unsigned k = vf_ring_port_drain(vm2, 0, pkts, BURST);
        fwd += k;
        if (k != BURST) {
            vf_bench_skip(st, "packets did not reach vm2 (table full?)");
            vf_pool_free_burst(&w->cache, pkts, k);
            goto out;
        }
    }
    vf_bench_items(st, fwd);
    vf_ct_get_stats(ct, &tot);
    vf_bench_counter(st, "conns_created", (double)(tot.created - created0));
    vf_bench_counter(st, "conns_per_pkt", fwd ? (double)(tot.created - created0) / (double)fwd : 0);
    (void)created_total;
    vf_pool_free_burst(&w->cache, pkts, BURST);
out:
    lt_fabric_fini(&fab);
    lt_model_free(&m);
}

static void BM_pipeline_miss_l2(struct vf_bench_state *st, int64_t arg)
{
    miss(st, (unsigned)arg, false);
}
VF_BENCH_ARGS(BM_pipeline_miss_l2, 0, 1000)

static void BM_pipeline_ct_new(struct vf_bench_state *st, int64_t arg)
{
    miss(st, (unsigned)arg, true);
}
VF_BENCH_ARGS(BM_pipeline_ct_new, 0, 1000)
