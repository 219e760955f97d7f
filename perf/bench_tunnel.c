/* bench_tunnel.c - Geneve/VXLAN encap and decap, bursts of 32.
 *
 * Each iteration handles one burst of 32 packets, then puts the packets
 * back as they were for the next iteration, inside the timed loop:
 *   encap: vf_pkt_adj() strips the outer header again (two adds); the next
 *          encap copies the template and patches the fields anew.
 *   decap: data_off and len are restored from saved copies (two stores);
 *          decap never writes packet bytes, so the outer headers it reads
 *          next time are exactly the ones it validated before.
 * The argument is the inner frame length. Without a UDP checksum neither
 * encap nor decap reads the inner frame; the _udpcsum variant shows what
 * the checksum over the whole frame costs.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "perf/vf_bench.h"
#include "tunnel/vf_tunnel.h"

#define BURST 32
#define ROOM 2048u

struct slot {
    struct vf_pkt p;
    uint8_t data[ROOM];
};

struct bench_ctx {
    struct slot *slots;
    struct vf_pkt *pkts[BURST];
    uint32_t hash[BURST];
    uint32_t off[BURST], len[BURST];
    struct vf_tunnel_peer peer;
};

static int ctx_init(struct bench_ctx *c, enum vf_encap e, bool csum,
                    uint32_t inner_len)
{
    static const uint8_t smac[6] = {2, 0, 0, 0, 0, 1};
    static const uint8_t dmac[6] = {2, 0, 0, 0, 0, 2};

    if (inner_len < 14 || inner_len > 1400)
        return -1;
    c->slots = aligned_alloc(VF_CACHE_LINE, sizeof(struct slot) * BURST);
    if (!c->slots)
        return -1;
    vf_tunnel_peer_init(&c->peer, e, htonl(0xc0000201), htonl(0xc0000202),
                        0, smac, dmac, 1500, csum);
    for (unsigned i = 0; i < BURST; i++) {
        struct vf_pkt *p = &c->slots[i].p;

        memset(p, 0, sizeof(*p));
        p->buf = c->slots[i].data;
        p->buf_len = ROOM;
        vf_pkt_reset(p);
        memset(vf_pkt_data(p), (int)i, inner_len);
        p->len = inner_len;
        c->pkts[i] = p;
        c->hash[i] = i * 0x9e3779b9u;
    }
    return 0;
}

static void bench_encap(struct vf_bench_state *st, enum vf_encap e,
                        bool csum, int64_t arg)
{
    struct bench_ctx c;
    int bad = 0;

    if (ctx_init(&c, e, csum, (uint32_t)arg)) {
        vf_bench_skip(st, "setup failed");
        return;
    }
    while (vf_bench_next(st)) {
        for (unsigned i = 0; i < BURST; i++)
            bad |= vf_tunnel_encap(c.pkts[i], &c.peer, 1001, i, i + 1,
                                   c.hash[i]);
        for (unsigned i = 0; i < BURST; i++)
            vf_pkt_adj(c.pkts[i], c.peer.tmpl_len);
        vf_bench_items(st, BURST);
    }
    if (bad)
        vf_bench_skip(st, "encap failed");
    free(c.slots);
}

static void bench_decap(struct vf_bench_state *st, enum vf_encap e,
                        int64_t arg)
{
    struct bench_ctx c;
    struct vf_tunnel_md md;
    uint32_t vni_sum = 0;
    int bad = 0;

    if (ctx_init(&c, e, false, (uint32_t)arg)) {
        vf_bench_skip(st, "setup failed");
        return;
    }
    for (unsigned i = 0; i < BURST; i++) {
        bad |= vf_tunnel_encap(c.pkts[i], &c.peer, 1001 + i, i, i + 1,
                               c.hash[i]);
        c.off[i] = c.pkts[i]->data_off;
        c.len[i] = c.pkts[i]->len;
    }
    while (vf_bench_next(st)) {
        for (unsigned i = 0; i < BURST; i++) {
            bad |= vf_tunnel_decap(c.pkts[i], VF_GENEVE_UDP_PORT,
                                   VF_VXLAN_UDP_PORT, &md);
            vni_sum += md.vni;      /* keep md live */
        }
        for (unsigned i = 0; i < BURST; i++) {
            c.pkts[i]->data_off = c.off[i];
            c.pkts[i]->len = c.len[i];
        }
        vf_bench_items(st, BURST);
    }
    if (bad)
        vf_bench_skip(st, "decap failed");
    vf_bench_counter(st, "vni_sum", (double)vni_sum);
    free(c.slots);
}

static void BM_geneve_encap(struct vf_bench_state *st, int64_t arg)
{
    bench_encap(st, VF_ENCAP_GENEVE, false, arg);
}

static void BM_geneve_encap_udpcsum(struct vf_bench_state *st, int64_t arg)
{
    bench_encap(st, VF_ENCAP_GENEVE, true, arg);
}

static void BM_vxlan_encap(struct vf_bench_state *st, int64_t arg)
{
    bench_encap(st, VF_ENCAP_VXLAN, false, arg);
}

static void BM_geneve_decap(struct vf_bench_state *st, int64_t arg)
{
    bench_decap(st, VF_ENCAP_GENEVE, arg);
}

static void BM_vxlan_decap(struct vf_bench_state *st, int64_t arg)
{
    bench_decap(st, VF_ENCAP_VXLAN, arg);
}

VF_BENCH_ARGS(BM_geneve_encap, 64, 1400)
VF_BENCH_ARGS(BM_geneve_encap_udpcsum, 64, 1400)
VF_BENCH_ARGS(BM_vxlan_encap, 64, 1400)
VF_BENCH_ARGS(BM_geneve_decap, 64, 1400)
VF_BENCH_ARGS(BM_vxlan_decap, 64, 1400)
