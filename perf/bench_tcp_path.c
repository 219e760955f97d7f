/* bench_tcp_path.c - the tenant TCP path through two hosts, per 64 KB frame,
 * and the cost of dropped packets.
 *
 * BM_tcp_gso_tx/E: what host A's worker does with one 64 KB TCP frame a
 * TSO tap handed it (gso_size = the MSS of a 1400-byte tenant MTU), vm1 to
 * vm3 on host B: parse, flow cache hit, and the frame made one UDP GSO
 * batch of tunnel datagrams in place (vf_seg_tunnel_batch: every segment
 * its headers and TCP checksum), staged on the uplink and flushed. The
 * uplink is a ring port told it takes UDP GSO batches, as the UDP uplink
 * does; the batch is drained and freed by the generator. E: 0 Geneve,
 * 1 VXLAN. Each iteration copies the frame from a template first (the
 * generator's memcpy: outside vf_pipeline_burst, see perf/cost.sh).
 *
 * BM_tcp_gro_rx/E: the other half: host B's worker gets that batch as the
 * UDP uplink's GRO hands it over (one buffer of N datagrams), merges it
 * back into one 64 KB frame (vf_seg_gro_merge), decapsulates, hits the
 * flow cache and stages it whole for vm3's port (a ring port told it takes
 * GSO frames, as a TSO tap does).
 *
 * BM_pipeline_drops/N: bursts of 32 64-byte frames from vm1 of which N are
 * dropped (a spoofed source MAC, port security) and 32 - N delivered to
 * vm2 on the same host: the cost of a drop next to the cost of a delivery.
 *
 * Items: frames (64 KB ones for the TCP benchmarks, 64-byte ones for drops).
 * Read with vfab-count under callgrind (perf/cost.sh) for instruction
 * counts per item; under vfab-bench the times are as noisy as the machine.
 */
#include <stdlib.h>
#include <string.h>

#include "fabric/vf_port_tap.h"
#include "fabric/vf_ring.h"
#include "perf/vf_bench.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tunnel/vf_segment.h"

#define TP_IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define TP_PAYLOAD 65000u       /* a TSO frame's payload: 64 KB less headers */
#define TP_MSS 1360u            /* 1400-byte tenant MTU - IPv4 - TCP */
#define TP_ROOM (VF_TAP_TSO_DATA_ROOM + VF_SEG_BATCH_TAILROOM)
#define TP_BURST 32u

static void tp_model(struct vf_model *m, enum vf_model_encap e)
{
    memset(m, 0, sizeof(*m));
    lt_chassis(m, "hv1", TP_IP(192, 0, 2, 1), e);
    lt_chassis(m, "hv2", TP_IP(192, 0, 2, 2), e);
    int t = lt_tenant(m, "blue");
    int a = lt_switch(m, t, "a", 100);
    lt_port(m, t, a, "vm1", 0x101, TP_IP(10, 0, 0, 1), 0, true);
    lt_port(m, t, a, "vm2", 0x102, TP_IP(10, 0, 0, 2), 0, true);
    lt_port(m, t, a, "vm3", 0x103, TP_IP(10, 0, 0, 3), 1, true);
    lt_assign_ids(m);
}

struct tp_ctx {
    struct vf_model m;
    struct lt_fabric f;
    struct vf_pool *big;        /* buffers a TSO tap would read into */
    struct vf_pool_cache bc;
    uint8_t *tmpl;              /* the 64 KB frame vm1 sends */
    size_t len;
};

static struct tp_ctx tp;

static int tp_init(struct tp_ctx *c, int64_t encap)
{
    char err[128];
    tp_model(&c->m, encap ? VF_MODEL_ENCAP_VXLAN : VF_MODEL_ENCAP_GENEVE);
    if (lt_fabric_init(&c->f, &c->m, true))
        return -1;
    c->big = vf_pool_create(NULL, -1, 64, TP_ROOM, err, sizeof(err));
    c->tmpl = malloc(TP_PAYLOAD + 128);
    if (!c->big || !c->tmpl)
        return -1;
    vf_pool_cache_init(&c->bc, c->big);
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, 0x101);
    lt_mac(t.eth_dst, 0x103);
    t.ip4_src = TP_IP(10, 0, 0, 1);
    t.ip4_dst = TP_IP(10, 0, 0, 3);
    t.sport = 40000;
    t.dport = 5201;
    t.tcp_flags = 0x18;         /* PSH, ACK */
    t.payload_len = TP_PAYLOAD;
    c->len = vf_tpkt_ip4_tcp(c->tmpl, TP_PAYLOAD + 128, &t);
    /* Host A sends batches; host B's vm3 takes frames whole (a TSO tap). */
    vf_port_set_caps(c->f.host[0].uplink, VF_PORT_CAP_UDP_GSO, true);
    vf_port_set_caps(c->f.ports[lt_port_idx(&c->f, "vm3")], VF_PORT_CAP_GSO_TX, true);
    return c->len ? 0 : -1;
}

static void tp_fini(struct tp_ctx *c)
{
    vf_pool_cache_flush(&c->bc);
    lt_fabric_fini(&c->f);
    vf_pool_destroy(c->big);
    free(c->tmpl);
    lt_model_free(&c->m);
}

/* Host A: the frame from vm1's tap, through the pipeline, onto the uplink;
 * returns the batch the uplink got (NULL: none). */
static struct vf_pkt *tp_send(struct tp_ctx *c)
{
    struct vf_pkt *p = vf_pool_alloc(&c->bc);
    if (!p || vf_pkt_set(p, c->tmpl, (uint32_t)c->len))
        return NULL;
    p->port = (uint16_t)c->f.ports[lt_port_idx(&c->f, "vm1")]->index;
    p->gso_size = TP_MSS;
    struct lt_host *h = &c->f.host[0];
    vf_pipeline_burst(h->w, h->t, &p, 1);
    vf_worker_flush(h->w);
    struct vf_pkt *out = NULL;
    return vf_ring_port_drain(h->uplink, 0, &out, 1) == 1 ? out : NULL;
}

static void BM_tcp_gso_tx(struct vf_bench_state *st, int64_t encap)
{
    struct tp_ctx *c = &tp;
    if (tp_init(c, encap)) {
        vf_bench_skip(st, "setup failed");
        return;
    }
    uint64_t frames = 0;
    while (vf_bench_next(st)) {
        struct vf_pkt *b = tp_send(c);
        if (!b) {
            vf_bench_skip(st, "no batch on the uplink");
            break;
        }
        frames++;
        vf_pool_free(&c->bc, b);
    }
    vf_bench_items(st, frames);
    tp_fini(c);
}
VF_BENCH_ARGS(BM_tcp_gso_tx, 0, 1)

static void BM_tcp_gro_rx(struct vf_bench_state *st, int64_t encap)
{
    struct tp_ctx *c = &tp;
    if (tp_init(c, encap)) {
        vf_bench_skip(st, "setup failed");
        return;
    }
    /* One batch from host A, kept as the template of host B's GRO buffer. */
    struct vf_pkt *b = tp_send(c);
    uint8_t *batch = b ? malloc(b->len) : NULL;
    uint32_t blen = b ? b->len : 0;
    uint16_t gso = b ? b->gso_size : 0;
    if (!batch || gso == 0) {
        vf_bench_skip(st, "no batch on the uplink");
        free(batch);
        if (b)
            vf_pool_free(&c->bc, b);
        tp_fini(c);
        return;
    }
    memcpy(batch, vf_pkt_data(b), blen);
    vf_pool_free(&c->bc, b);
    struct lt_host *h = &c->f.host[1];
    struct vf_port *vm3 = c->f.ports[lt_port_idx(&c->f, "vm3")];
    uint64_t frames = 0;
    while (vf_bench_next(st)) {
        struct vf_pkt *p = vf_pool_alloc(&c->bc);
        if (!p || vf_pkt_set(p, batch, blen)) {
            vf_bench_skip(st, "pool");
            break;
        }
        p->port = (uint16_t)h->uplink->index;
        p->gso_size = gso;
        vf_pipeline_burst(h->w, h->t, &p, 1);
        vf_worker_flush(h->w);
        struct vf_pkt *out = NULL;
        if (vf_ring_port_drain(vm3, 0, &out, 1) != 1 || out->gso_size != TP_MSS) {
            vf_bench_skip(st, "vm3 did not get the frame whole");
            if (out)
                vf_pool_free(&c->bc, out);
            break;
        }
        frames++;
        vf_pool_free(&c->bc, out);
    }
    vf_bench_items(st, frames);
    free(batch);
    tp_fini(c);
}
VF_BENCH_ARGS(BM_tcp_gro_rx, 0, 1)

/* A 64-byte UDP frame to vm2 from MAC src_low (vm1's: 0x101) and vm1's
 * address, into buf (128 bytes); returns its length. */
static size_t tp_udp64(uint8_t *buf, uint32_t src_low)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, src_low);
    lt_mac(t.eth_dst, 0x102);
    t.ip4_src = TP_IP(10, 0, 0, 1);
    t.ip4_dst = TP_IP(10, 0, 0, 2);
    t.payload_len = 18;
    return vf_tpkt_ip4_udp(buf, 128, &t);
}

static void BM_pipeline_drops(struct vf_bench_state *st, int64_t n_bad)
{
    struct tp_ctx *c = &tp;
    if (n_bad < 0 || n_bad > (int64_t)TP_BURST || tp_init(c, 0)) {
        vf_bench_skip(st, "setup failed (N is 0..32)");
        return;
    }
    uint8_t good[128], bad[128];
    size_t len = tp_udp64(good, 0x101);
    tp_udp64(bad, 0x999);       /* not vm1's MAC: port security drops it */
    struct lt_host *h = &c->f.host[0];
    struct vf_port *vm1 = c->f.ports[lt_port_idx(&c->f, "vm1")];
    struct vf_port *vm2 = c->f.ports[lt_port_idx(&c->f, "vm2")];
    struct vf_pkt *pkts[TP_BURST];
    uint64_t frames = 0;
    while (vf_bench_next(st)) {
        if (vf_pool_alloc_burst(&h->w->cache, pkts, TP_BURST) != TP_BURST) {
            vf_bench_skip(st, "pool");
            break;
        }
        for (unsigned i = 0; i < TP_BURST; i++) {
            /* exactly n_bad, spread through the burst */
            unsigned nb = (unsigned)n_bad;
            bool is_bad = (i + 1) * nb / TP_BURST != i * nb / TP_BURST;
            vf_pkt_set(pkts[i], is_bad ? bad : good, (uint32_t)len);
            pkts[i]->port = (uint16_t)vm1->index;
        }
        vf_pipeline_burst(h->w, h->t, pkts, TP_BURST);
        vf_worker_flush(h->w);
        unsigned k = vf_ring_port_drain(vm2, 0, pkts, TP_BURST);
        vf_pool_free_burst(&h->w->cache, pkts, k);
        frames += TP_BURST;
    }
    vf_bench_items(st, frames);
    tp_fini(c);
}
VF_BENCH_ARGS(BM_pipeline_drops, 0, 8, 32)

/* BM_pipeline_flows/N: 64-byte frames of N flows (source and destination
 * ports), vm1 to vm2, every one a flow cache hit after the first round, in
 * bursts of 32 from a flow cache of 2N entries: with N large its buckets
 * and entries miss the CPU caches, which is what the burst's prefetch pass
 * (process.c) is for. Cycles, not instructions, show that: read it with
 * vfab-bench, old and new binaries interleaved (docs/perf.md). */
static void BM_pipeline_flows(struct vf_bench_state *st, int64_t n_flows)
{
    struct tp_ctx *c = &tp;
    if (n_flows < 1 || n_flows > (1 << 22) || tp_init(c, 0)) {
        vf_bench_skip(st, "setup failed (N is 1..2^22)");
        return;
    }
    struct lt_host *h = &c->f.host[0];
    vf_fc_destroy(h->w->fc);
    h->w->fc = vf_fc_create((unsigned)n_flows * 2, -1);
    uint8_t tmpl[128];
    size_t len = tp_udp64(tmpl, 0x101);
    size_t l4 = 14 + 20;
    struct vf_port *vm1 = c->f.ports[lt_port_idx(&c->f, "vm1")];
    struct vf_port *vm2 = c->f.ports[lt_port_idx(&c->f, "vm2")];
    struct vf_pkt *pkts[TP_BURST];
    uint64_t frames = 0, flow = 0;
    /* Spread the flows over the cache: a multiplicative step through them. */
    const uint64_t step = 2654435761u % (uint64_t)n_flows | 1;
    /* One untimed round first: every flow in the cache before the clock
     * starts, so old and new code are timed on hits alone. */
    uint64_t warm = ((uint64_t)n_flows + TP_BURST - 1) / TP_BURST + 1;
    bool timed = false;
    while (h->w->fc && (warm > 0 ? (warm--, true) : (timed = vf_bench_next(st)))) {
        if (vf_pool_alloc_burst(&h->w->cache, pkts, TP_BURST) != TP_BURST) {
            vf_bench_skip(st, "pool");
            break;
        }
        for (unsigned i = 0; i < TP_BURST; i++) {
            uint32_t f = (uint32_t)(flow % (uint64_t)n_flows);
            flow += step;
            vf_pkt_set(pkts[i], tmpl, (uint32_t)len);
            uint8_t *d = vf_pkt_data(pkts[i]);
            d[l4] = (uint8_t)(f >> 8);
            d[l4 + 1] = (uint8_t)f;
            d[l4 + 2] = (uint8_t)(0x80 | (f >> 24));
            d[l4 + 3] = (uint8_t)(f >> 16);
            pkts[i]->port = (uint16_t)vm1->index;
        }
        vf_pipeline_burst(h->w, h->t, pkts, TP_BURST);
        vf_worker_flush(h->w);
        unsigned k = vf_ring_port_drain(vm2, 0, pkts, TP_BURST);
        vf_pool_free_burst(&h->w->cache, pkts, k);
        if (timed)
            frames += TP_BURST;
    }
    if (!h->w->fc)
        vf_bench_skip(st, "no memory for the flow cache");
    vf_bench_items(st, frames);
    struct vf_flow_cache_stats cs;
    if (h->w->fc) {
        vf_fc_get_stats(h->w->fc, &cs);
        vf_bench_counter(st, "hit_rate", cs.hits + cs.misses ?
                         (double)cs.hits / (double)(cs.hits + cs.misses) : 0);
    }
    tp_fini(c);
}
VF_BENCH_ARGS(BM_pipeline_flows, 1024, 262144)
