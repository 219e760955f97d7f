/* fuzz_decap.c - libFuzzer target for Geneve and VXLAN decap (tunnel/
 * decap.c) and the checks the receiving host's compiled tables make.
 *
 * Each input is one datagram that reaches hv1's underlay port in the
 * fuzz fabric (vf_fuzz_fabric.h): three chassis, tenants blue and red.
 * Input: a mode byte, a chassis byte, then the frame from the outer
 * Ethernet header on. The mode lets the fuzzer set what an attacker
 * controls but cannot easily guess:
 *   bits 0-1  outer IPv4 source: 1 = the address of chassis (byte 1 mod
 *             the chassis count), 2 = an address that is no chassis, else
 *             as in the frame;
 *   bit 2     rewrite the outer IPv4 total length and UDP length to fit
 *             the frame (what the UDP uplink's synthesised headers have).
 * Checked:
 *   - vf_tunnel_decap on an exact-size buffer (ASan sees any overread): a
 *     rejected frame is untouched, with a tunnel reason; an accepted one
 *     lies inside the frame, its VNI fits 24 bits, the metadata says what
 *     the outer headers say, and encapsulating the inner frame again with
 *     that metadata decaps to the same thing;
 *   - the whole receive path (vf_pipeline_burst on hv1's uplink): nothing
 *     goes back out the uplink; a frame decap refuses reaches no port, nor
 *     does one from an address (and port, where chassis share one) of no
 *     remote chassis, nor one whose Geneve ingress port lives on another
 *     chassis than the sender's; an accepted one reaches only hv1 ports of
 *     the switch with its VNI, byte for byte the inner frame; a frame
 *     refused for its sender is counted as tunnel_unknown_chassis or
 *     tunnel_in_port_not_on_chassis, exactly once; every buffer comes back
 *     to the pool.
 * Build and run: docs/fuzzing.md.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/vf_fuzz_fabric.h"
#include "tunnel/geneve_packet.h"

#define HOST 0                      /* hv1 receives */
#define MAX_FRAME (VF_PKT_DEFAULT_DATA_ROOM - VF_PKT_HEADROOM)

static struct fz_fabric g_fab;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_fabric_init(&g_fab, true);
    return 0;
}

static bool is_tunnel_reason(int r)
{
    switch (r) {
    case VF_DROP_TUN_TRUNC: case VF_DROP_TUN_NOT_UDP:
    case VF_DROP_TUN_BAD_PORT: case VF_DROP_TUN_BAD_VERSION:
    case VF_DROP_TUN_BAD_FLAGS: case VF_DROP_TUN_BAD_OPTLEN:
    case VF_DROP_TUN_BAD_PROTO:
        return true;
    default:
        return false;
    }
}

/* The fuzzer's view of the outer headers: source address and lengths. */
static void apply_mode(uint8_t *f, uint32_t len, uint8_t mode, uint8_t sel)
{
    const struct vf_model *m = &g_fab.m;
    uint32_t ip;

    if (len < VF_ETH_HDR_LEN + VF_IP4_HDR_LEN)
        return;
    if ((mode & 3) == 1) {
        ip = m->chassis[sel % m->n_chassis].underlay_ip;
        memcpy(f + 26, &ip, 4);
    } else if ((mode & 3) == 2) {
        ip = htonl(FZ_UNKNOWN_IP);
        memcpy(f + 26, &ip, 4);
    }
    if (mode & 4) {
        uint32_t ihl = 4u * (f[14] & 0x0f);
        uint16_t tot = (uint16_t)(len - 14);
        f[16] = (uint8_t)(tot >> 8);
        f[17] = (uint8_t)tot;
        if (14 + ihl + 8 <= len) {
            uint16_t ul = (uint16_t)(len - 14 - ihl);
            f[14 + ihl + 4] = (uint8_t)(ul >> 8);
            f[14 + ihl + 5] = (uint8_t)ul;
        }
    }
}

/* vf_tunnel_decap alone, on a buffer exactly as long as the frame. */
static int check_decap(const uint8_t *f, uint32_t len, const struct vf_tables *t,
                       struct vf_tunnel_md *md, uint32_t *inner_off,
                       uint32_t *inner_len)
{
    uint8_t *buf = malloc(len ? len : 1);
    struct vf_pkt p = { .buf = buf, .buf_len = len, .data_off = 0, .len = len };
    int r;

    memcpy(buf, f, len);
    memset(md, 0x5a, sizeof(*md));
    r = vf_tunnel_decap(&p, t->geneve_port, t->vxlan_port, md);
    if (r) {
        FZ_CHECK(is_tunnel_reason(r), "decap reason %d", r);
        FZ_CHECK(p.data_off == 0 && p.len == len && !memcmp(buf, f, len),
                 "a refused frame was changed");
        free(buf);
        return r;
    }
    /* Eth 14 + IPv4 20 + UDP 8 + the smaller tunnel header (8). */
    FZ_CHECK(p.data_off >= 50 && p.len >= 14 && p.data_off + p.len <= len,
             "inner frame [%u, +%u) in %u bytes", p.data_off, p.len, len);
    FZ_CHECK(!memcmp(buf, f, len), "decap wrote to the frame");
    FZ_CHECK(md->vni <= 0xffffff, "VNI %#x", md->vni);
    FZ_CHECK(!memcmp(&md->outer_src_ip, f + 26, 4) &&
             !memcmp(&md->outer_dst_ip, f + 30, 4), "outer addresses");
    uint32_t ihl = 4u * (f[14] & 0xf);
    uint16_t dport = (uint16_t)(f[14 + ihl + 2] << 8 | f[14 + ihl + 3]);
    FZ_CHECK(md->encap == (dport == t->geneve_port ? VF_ENCAP_GENEVE
                                                   : VF_ENCAP_VXLAN),
             "encap %d for port %u", md->encap, dport);
    FZ_CHECK(md->encap == VF_ENCAP_GENEVE || !md->has_ports,
             "VXLAN with logical ports");
    *inner_off = p.data_off;
    *inner_len = p.len;

    /* Encap the inner frame again with what decap said; decap gives it
     * back. Our Geneve encap always carries the ports option. */
    uint32_t n = p.len;
    uint8_t *b2 = malloc(VF_PKT_HEADROOM + n);
    struct vf_pkt q = { .buf = b2, .buf_len = VF_PKT_HEADROOM + n,
                        .data_off = VF_PKT_HEADROOM, .len = n };
    struct vf_tunnel_peer peer;
    struct vf_tunnel_md md2;
    static const uint8_t mac[6];
    memcpy(b2 + VF_PKT_HEADROOM, buf + p.data_off, n);
    vf_tunnel_peer_init(&peer, md->encap, md->outer_src_ip, md->outer_dst_ip,
                        md->encap == VF_ENCAP_GENEVE ? t->geneve_port
                                                     : t->vxlan_port,
                        mac, mac, 9000, n & 1);
    r = vf_tunnel_encap(&q, &peer, md->vni, md->in_lport, md->out_lport, n);
    FZ_CHECK(r == 0, "re-encap: reason %d", r);
    r = vf_tunnel_decap(&q, t->geneve_port, t->vxlan_port, &md2);
    FZ_CHECK(r == 0, "re-decap: reason %d", r);
    FZ_CHECK(md2.vni == md->vni && md2.encap == md->encap &&
             md2.outer_src_ip == md->outer_src_ip &&
             (md->encap == VF_ENCAP_VXLAN ||
              (md2.has_ports && md2.in_lport == (md->has_ports ? md->in_lport : 0) &&
               md2.out_lport == (md->has_ports ? md->out_lport : 0))),
             "the round trip changed the metadata");
    FZ_CHECK(q.len == n && !memcmp(vf_pkt_data(&q), buf + p.data_off, n),
             "the round trip changed the inner frame");
    free(b2);
    free(buf);
    return 0;
}

static uint64_t drops(const struct lt_host *ho, unsigned reason)
{
    return atomic_load_explicit(&ho->w->stats.drops[reason],
                                memory_order_relaxed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_fabric *f = &g_fab;
    struct lt_host *ho = &f->lt.host[HOST];
    struct vf_tunnel_md md;
    uint32_t len, inner_off = 0, inner_len = 0;
    static struct fz_out out;
    uint8_t *frame;
    int r;

    if (size < 2 || size - 2 > MAX_FRAME)
        return -1;
    len = (uint32_t)(size - 2);
    frame = malloc(len ? len : 1);
    memcpy(frame, data + 2, len);
    apply_mode(frame, len, data[0], data[1]);
    fz_fabric_reset(f);

    r = check_decap(frame, len, ho->t, &md, &inner_off, &inner_len);

    /* The receive path: hv1's worker, its tables, its ports. */
    struct vf_pkt *p = vf_pool_alloc(&ho->w->cache);
    FZ_CHECK(p && vf_pkt_set(p, frame, len) == 0, "no buffer");
    p->port = (uint16_t)ho->uplink->index;
    uint64_t unknown0 = drops(ho, VF_DROP_TUN_UNKNOWN_CHASSIS),
             in_port0 = drops(ho, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS);
    fz_burst(f, HOST, &p, 1, &out);
    FZ_CHECK(out.n_up == 0, "a received frame went back out the uplink");
    FZ_CHECK(r == 0 || out.n_dlv == 0, "a frame decap refuses (%d) was "
             "delivered", r);
    FZ_CHECK(r || out.n_dlv == 0 ||
             fz_sender_ok(&f->m, HOST, &md, fz_outer_sport(frame)),
             "a frame from %08x:%u (in-port %u, VNI %u) was delivered: no "
             "remote chassis sends it", ntohl(md.outer_src_ip),
             fz_outer_sport(frame), md.in_lport, md.vni);
    /* Refused for the sender, and counted under its own reason: the
     * unknown chassis right after decap, the foreign ingress port once the
     * inner frame parses and the VNI's switch is found. */
    if (r == 0) {
        int from = fz_sender(&f->m, HOST, md.outer_src_ip, fz_outer_sport(frame));
        uint64_t unknown = drops(ho, VF_DROP_TUN_UNKNOWN_CHASSIS) - unknown0,
                 in_port = drops(ho, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS) - in_port0;
        FZ_CHECK(unknown == (from < 0), "%08x:%u is %s chassis; counted %" PRIu64
                 " as tunnel_unknown_chassis", ntohl(md.outer_src_ip),
                 fz_outer_sport(frame), from < 0 ? "no remote" : "a remote",
                 unknown);
        struct vf_flow_key k;
        struct vf_hdr_offsets o;
        bool foreign = from >= 0 && md.has_ports &&
                       vf_parse(frame + inner_off, inner_len, &k, &o) == 0 &&
                       vf_tables_dp_by_vni(ho->t, md.vni) &&
                       !fz_in_port_ok(&f->m, md.vni, md.in_lport, from);
        FZ_CHECK(in_port == foreign, "in-port %u of VNI %u from chassis %d: "
                 "counted %" PRIu64 " as tunnel_in_port_not_on_chassis",
                 md.in_lport, md.vni, from, in_port);
    }
    for (unsigned i = 0; i < out.n_dlv; i++) {
        int d = out.dlv_port[i];
        const struct vf_pkt *q = out.dlv[i];
        FZ_CHECK(f->port_vni[d] == md.vni, "VNI %u delivered to %s (VNI %u)",
                 md.vni, f->lt.names[d], f->port_vni[d]);
        FZ_CHECK(q->len == inner_len &&
                 !memcmp(vf_pkt_data(q), frame + inner_off, q->len),
                 "%s got other bytes than the inner frame", f->lt.names[d]);
    }
    fz_out_free(f, HOST, &out);
    FZ_CHECK(vf_pool_in_use(f->lt.pool) == 0, "%u buffers leaked",
             vf_pool_in_use(f->lt.pool));
    free(frame);
    return 0;
}
