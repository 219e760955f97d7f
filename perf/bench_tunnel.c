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
 *
 * decap is what a worker does per uplink packet: vf_pipeline_decap, i.e.
 * vf_tunnel_decap plus finding the sending chassis (one hash probe in a
 * fabric of BENCH_CHASSIS chassis; _shared: the sender shares its address
 * with this host, as on one machine, so a second probe by source port).
 * The _nocheck variants run vf_tunnel_decap alone, which is all decap did
 * before packets from unknown senders were refused: the difference, in
 * the same run, is the price of that check.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "perf/vf_bench.h"
#include "pipeline/vf_logical.h"
#include "tunnel/vf_tunnel.h"

#define BURST 32
#define ROOM 2048u
#define BENCH_CHASSIS 1000u
#define BENCH_SRC_IP 0xc0000201u    /* the sender, 192.0.2.1 */
#define BENCH_DST_IP 0xc0000202u    /* this host, 192.0.2.2 */

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
    vf_tunnel_peer_init(&c->peer, e, htonl(BENCH_SRC_IP), htonl(BENCH_DST_IP),
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

enum decap_check { CHECK_NONE, CHECK_CHASSIS, CHECK_CHASSIS_SHARED };

/* The chassis part of a tables snapshot, as mgmt/control/compile.c builds it:
 * chassis 0 is this host, 1 the sender (sharing this host's address when
 * `shared`, told apart by port), the rest elsewhere. */
static struct vf_chassis_tab *bench_chassis(struct vf_tables *t, bool shared)
{
    struct vf_chassis_tab *tab = vf_chassis_tab_alloc(BENCH_CHASSIS);

    if (!tab)
        return NULL;
    for (uint32_t i = 0; i < BENCH_CHASSIS; i++) {
        tab->c[i].underlay_ip = htonl(0x0a000000u + i);
        tab->c[i].port = VF_GENEVE_UDP_PORT;
    }
    tab->c[0].underlay_ip = htonl(BENCH_DST_IP);
    tab->c[0].local = true;
    tab->c[1].underlay_ip = htonl(shared ? BENCH_DST_IP : BENCH_SRC_IP);
    tab->c[1].port = 6082;
    if (vf_chassis_tab_index(tab)) {
        vf_chassis_tab_unref(tab);
        return NULL;
    }
    memset(t, 0, sizeof(*t));
    t->geneve_port = VF_GENEVE_UDP_PORT;
    t->vxlan_port = VF_VXLAN_UDP_PORT;
    t->chassis_tab = tab;
    t->chassis = tab->c;
    t->n_chassis = BENCH_CHASSIS;
    t->local_chassis = 0;
    return tab;
}

static void bench_decap(struct vf_bench_state *st, enum vf_encap e,
                        enum decap_check check, int64_t arg)
{
    struct bench_ctx c;
    struct vf_tunnel_md md;
    struct vf_tables t;
    struct vf_chassis_tab *tab;
    uint32_t vni_sum = 0, from_sum = 0, from;
    int bad = 0;

    if (ctx_init(&c, e, false, (uint32_t)arg)) {
        vf_bench_skip(st, "setup failed");
        return;
    }
    tab = bench_chassis(&t, check == CHECK_CHASSIS_SHARED);
    if (!tab) {
        free(c.slots);
        vf_bench_skip(st, "setup failed");
        return;
    }
    for (unsigned i = 0; i < BURST; i++) {
        bad |= vf_tunnel_encap(c.pkts[i], &c.peer, 1001 + i, i, i + 1,
                               c.hash[i]);
        c.off[i] = c.pkts[i]->data_off;
        c.len[i] = c.pkts[i]->len;
        /* What the UDP uplink reports: the sender's bound port. */
        uint8_t *udp = vf_pkt_data(c.pkts[i]) + VF_ETH_HDR_LEN + VF_IP4_HDR_LEN;
        udp[0] = 6082 >> 8;
        udp[1] = 6082 & 0xff;
        if (check == CHECK_CHASSIS_SHARED) {
            /* From this host's own address (decap checks no checksum). */
            uint32_t ip = htonl(BENCH_DST_IP);
            memcpy(udp - 8, &ip, 4);
        }
    }
    while (vf_bench_next(st)) {
        if (check == CHECK_NONE) {
            for (unsigned i = 0; i < BURST; i++) {
                bad |= vf_tunnel_decap(c.pkts[i], VF_GENEVE_UDP_PORT,
                                       VF_VXLAN_UDP_PORT, &md);
                vni_sum += md.vni;      /* keep md live */
            }
        } else {
            for (unsigned i = 0; i < BURST; i++) {
                bad |= vf_pipeline_decap(&t, c.pkts[i], &md, &from);
                vni_sum += md.vni;
                from_sum += from;
            }
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
    if (check != CHECK_NONE && from_sum % BURST)
        vf_bench_skip(st, "decap found another chassis than the sender");
    vf_chassis_tab_unref(tab);
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
    bench_decap(st, VF_ENCAP_GENEVE, CHECK_CHASSIS, arg);
}

static void BM_geneve_decap_shared(struct vf_bench_state *st, int64_t arg)
{
    bench_decap(st, VF_ENCAP_GENEVE, CHECK_CHASSIS_SHARED, arg);
}

static void BM_geneve_decap_nocheck(struct vf_bench_state *st, int64_t arg)
{
    bench_decap(st, VF_ENCAP_GENEVE, CHECK_NONE, arg);
}

static void BM_vxlan_decap(struct vf_bench_state *st, int64_t arg)
{
    bench_decap(st, VF_ENCAP_VXLAN, CHECK_CHASSIS, arg);
}

static void BM_vxlan_decap_nocheck(struct vf_bench_state *st, int64_t arg)
{
    bench_decap(st, VF_ENCAP_VXLAN, CHECK_NONE, arg);
}

VF_BENCH_ARGS(BM_geneve_encap, 64, 1400)
VF_BENCH_ARGS(BM_geneve_encap_udpcsum, 64, 1400)
VF_BENCH_ARGS(BM_vxlan_encap, 64, 1400)
VF_BENCH_ARGS(BM_geneve_decap, 64, 1400)
VF_BENCH_ARGS(BM_geneve_decap_shared, 64, 1400)
VF_BENCH_ARGS(BM_geneve_decap_nocheck, 64, 1400)
VF_BENCH_ARGS(BM_vxlan_decap, 64, 1400)
VF_BENCH_ARGS(BM_vxlan_decap_nocheck, 64, 1400)
