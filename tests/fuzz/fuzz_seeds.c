/* fuzz_seeds.c - writes the seed corpora of the packet fuzz targets.
 *
 * Usage: fuzz_seeds DIR   (normally tests/fuzz/corpus)
 * Writes DIR/parse, DIR/decap and DIR/pipeline: the frames the unit tests
 * build with vf_test_pkt.h (every protocol the parser knows, VLAN tags,
 * IPv4 options, IPv6 extension headers, fragments, ARP), wrapped the way
 * each target reads its input, with the MACs, addresses and logical port
 * ids of the fuzz fabric (vf_fuzz_fabric.h) so the seeds reach deep into
 * the pipeline. The tunnel frames come from our own encap. Run it again
 * after changing the fabric's model; the files are committed so that the
 * short ctest runs start from them. DIR/config gets the fabric's model as
 * YAML and in the JSON form the state directory saves; the YAML loader's
 * other seeds are the existing files (tests/data/config, examples), which
 * its runs read as extra corpus directories. DIR/vhost gets small guest
 * programs (seeds_vhost.c), DIR/ct connection life cycles (seeds_ct.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fabric/vf_port_udp.h"
#include "mgmt/control/vf_model_json.h"
#include "tests/fuzz/vf_fuzz_fabric.h"
#include "tests/fuzz/vf_fuzz_seeds.h"
#include "tests/unit/vf_test_pkt.h"

#define CAP 4096

static const char *g_dir;
static struct fz_fabric g_fab;

void fz_put(const char *sub, const char *name, const uint8_t *b, size_t n)
{
    char path[1024];
    FILE *f;

    if (mkdir(g_dir, 0755) && errno != EEXIST) {
        perror(g_dir);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s", g_dir, sub);
    if (mkdir(path, 0755) && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", g_dir, sub, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

/* ---- the fabric's ports ---- */
struct who {
    const char *port;
    uint8_t mac[6];
    uint32_t ip;          /* host order */
    uint32_t id;          /* logical port id */
    int chassis;
    int ring;             /* index in lt.ports */
};

static struct who who(const char *name)
{
    struct who w = { .port = name, .ring = -1 };
    size_t t, s, p;
    if (vf_model_find_port(&g_fab.m, name, &t, &s, &p)) {
        fprintf(stderr, "no port %s\n", name);
        exit(1);
    }
    const struct vf_model_port *mp = &g_fab.m.tenants[t].switches[s].ports[p];
    memcpy(w.mac, mp->mac, 6);
    w.ip = ntohl(mp->ips[0]);
    w.id = mp->id;
    w.chassis = mp->chassis_idx;
    for (unsigned i = 0; i < g_fab.lt.n_ports; i++)
        if (!strcmp(g_fab.lt.names[i], name))
            w.ring = (int)i;
    return w;
}

static void from_to(struct vf_tpkt *t, const struct who *a, const struct who *b)
{
    vf_tpkt_init(t);
    memcpy(t->eth_src, a->mac, 6);
    memcpy(t->eth_dst, b->mac, 6);
    t->ip4_src = a->ip;
    t->ip4_dst = b->ip;
}

/* ---- parse ---- */
static void parse_seeds(void)
{
    static const uint8_t ext3[] = {VF_TPKT_PROTO_HOPOPTS, VF_TPKT_PROTO_ROUTING,
                                   VF_TPKT_PROTO_DSTOPTS};
    static const uint8_t frag[] = {VF_TPKT_PROTO_FRAGMENT};
    static const uint8_t opts[8] = {0x94, 4, 0, 0, 1, 1, 1, 0};  /* RA, NOPs, EOL */
    uint8_t b[CAP];
    struct vf_tpkt t;
    size_t n;

#define SEED(name, expr) do { n = (expr); if (n) fz_put("parse", name, b, n); } while (0)
    vf_tpkt_init(&t);
    t.payload_len = 16;
    SEED("ip4-tcp", vf_tpkt_ip4_tcp(b, CAP, &t));
    SEED("ip4-udp", vf_tpkt_ip4_udp(b, CAP, &t));
    SEED("ip4-icmp", vf_tpkt_ip4_icmp(b, CAP, &t));
    SEED("ip4-raw-gre", vf_tpkt_ip4_raw(b, CAP, &t, 47));
    t.nvlan = 1;
    t.vlan[0] = 100;
    SEED("vlan-ip4-tcp", vf_tpkt_ip4_tcp(b, CAP, &t));
    t.nvlan = 2;
    t.vlan[1] = 200;
    SEED("qinq-ip4-udp", vf_tpkt_ip4_udp(b, CAP, &t));
    SEED("qinq-ip6-tcp", vf_tpkt_ip6_tcp(b, CAP, &t));
    t.nvlan = 0;
    t.ip4_opts = opts;
    t.ip4_opts_len = sizeof(opts);
    t.tcp_opts_len = 12;
    SEED("ip4-opts-tcp-opts", vf_tpkt_ip4_tcp(b, CAP, &t));
    t.ip4_opts = NULL;
    t.ip4_opts_len = 0;
    t.tcp_opts_len = 0;
    t.more_frags = true;
    SEED("ip4-frag-first-udp", vf_tpkt_ip4_udp(b, CAP, &t));
    t.frag_offset = 3;
    SEED("ip4-frag-later", vf_tpkt_ip4_raw(b, CAP, &t, VF_TPKT_PROTO_UDP));
    t.more_frags = false;
    t.frag_offset = 0;
    SEED("ip6-tcp", vf_tpkt_ip6_tcp(b, CAP, &t));
    SEED("ip6-udp", vf_tpkt_ip6_udp(b, CAP, &t));
    t.icmp_type = 128;
    SEED("ip6-icmp6", vf_tpkt_ip6_icmp6(b, CAP, &t));
    t.icmp_type = 135;  /* neighbour solicitation */
    SEED("ip6-icmp6-ns", vf_tpkt_ip6_icmp6(b, CAP, &t));
    t.ip6_ext = ext3;
    t.ip6_ext_count = sizeof(ext3);
    SEED("ip6-ext3-udp", vf_tpkt_ip6_udp(b, CAP, &t));
    t.ip6_ext = frag;
    t.ip6_ext_count = 1;
    t.more_frags = true;
    SEED("ip6-frag-first-udp", vf_tpkt_ip6_udp(b, CAP, &t));
    t.frag_offset = 5;
    SEED("ip6-frag-later", vf_tpkt_ip6_raw(b, CAP, &t, VF_TPKT_PROTO_UDP));
    t.ip6_ext = NULL;
    t.ip6_ext_count = 0;
    t.more_frags = false;
    t.frag_offset = 0;
    SEED("ip6-nonext", vf_tpkt_ip6_raw(b, CAP, &t, VF_TPKT_PROTO_NONE));
    SEED("arp-request", vf_tpkt_arp_request(b, CAP, &t));
    SEED("arp-reply", vf_tpkt_arp_reply(b, CAP, &t));
    t.payload_len = 0;
    n = vf_tpkt_ip4_udp(b, CAP, &t);
    SEED("ip4-udp-padded", vf_tpkt_pad(b, n, CAP, VF_TPKT_ETH_MIN));
    SEED("runt", 13);
    n = vf_tpkt_eth(b, CAP, &t, 0x88cc);   /* LLDP: unknown EtherType */
    memset(b + n, 0, 46);
    SEED("lldp", n + 46);
#undef SEED
}

/* ---- tunnel frames ---- */

/* Wraps the inner frame in[n] as chassis `from` sends it to chassis `to`
 * (their encap, our option), into out. Returns the frame length. */
static size_t encap(uint8_t *out, const uint8_t *in, size_t n, int from, int to,
                    enum vf_encap enc, uint32_t vni, uint32_t in_lport,
                    uint32_t out_lport)
{
    static uint8_t room[VF_PKT_HEADROOM + CAP];
    static const uint8_t mac[6];
    struct vf_pkt p = { .buf = room, .buf_len = sizeof(room),
                        .data_off = VF_PKT_HEADROOM, .len = (uint32_t)n };
    struct vf_tunnel_peer peer;
    const struct vf_model *m = &g_fab.m;

    memcpy(room + VF_PKT_HEADROOM, in, n);
    vf_tunnel_peer_init(&peer, enc, m->chassis[from].underlay_ip,
                        m->chassis[to].underlay_ip, 0, mac, mac, 9000, false);
    if (vf_tunnel_encap(&p, &peer, vni, in_lport, out_lport, 0x1234)) {
        fprintf(stderr, "encap failed\n");
        exit(1);
    }
    if (fz_addr_shared(m, from)) {
        /* Sent from its own port, as the UDP uplink's socket does. */
        uint16_t port = fz_chassis_port(m, from);
        vf_pkt_data(&p)[34] = (uint8_t)(port >> 8);
        vf_pkt_data(&p)[35] = (uint8_t)port;
    }
    memcpy(out, vf_pkt_data(&p), p.len);
    return p.len;
}

/* Inner frames for the tunnel seeds: (name, sender, receiver, frame). */
struct inner {
    const char *name;
    struct who from, to;
    uint32_t vni;
    size_t n;
    uint8_t b[CAP];
};

static unsigned inner_frames(struct inner *in)
{
    struct vf_tpkt t;
    unsigned k = 0;
    struct who bvm1 = who("blue-vm1"), bvm3 = who("blue-vm3"),
               bvm4 = who("blue-vm4"), rvm1 = who("red-vm1"),
               rvm2 = who("red-vm2"), bdb1 = who("blue-db1"),
               bdb2 = who("blue-db2"), rvm4 = who("red-vm4"),
               rvm5 = who("red-vm5");

    in[k] = (struct inner){ "blue-icmp", bvm3, bvm1, 1001, 0, {0} };
    from_to(&t, &bvm3, &bvm1);
    in[k].n = vf_tpkt_ip4_icmp(in[k].b, CAP, &t);
    k++;
    in[k] = (struct inner){ "blue-arp-bcast", bvm4, bvm1, 1001, 0, {0} };
    from_to(&t, &bvm4, &bvm1);
    memset(t.eth_dst, 0xff, 6);
    in[k].n = vf_tpkt_arp_request(in[k].b, CAP, &t);
    k++;
    in[k] = (struct inner){ "blue-db-udp", bdb2, bdb1, 1002, 0, {0} };
    from_to(&t, &bdb2, &bdb1);
    t.dport = 53;
    t.payload_len = 40;
    in[k].n = vf_tpkt_ip4_udp(in[k].b, CAP, &t);
    k++;
    in[k] = (struct inner){ "red-tcp", rvm2, rvm1, 2001, 0, {0} };
    from_to(&t, &rvm2, &rvm1);
    t.payload_len = 100;
    in[k].n = vf_tpkt_ip4_tcp(in[k].b, CAP, &t);
    k++;
    in[k] = (struct inner){ "red-ip6", rvm2, rvm4, 2001, 0, {0} };
    from_to(&t, &rvm2, &rvm4);
    in[k].n = vf_tpkt_ip6_udp(in[k].b, CAP, &t);
    k++;
    /* From hv4, which shares hv3's address. */
    in[k] = (struct inner){ "red-shared-addr", rvm5, rvm1, 2001, 0, {0} };
    from_to(&t, &rvm5, &rvm1);
    in[k].n = vf_tpkt_ip4_icmp(in[k].b, CAP, &t);
    k++;
    return k;
}

static void decap_seeds(void)
{
    static struct inner in[8];
    unsigned n_in = inner_frames(in);
    uint8_t b[CAP + 2];
    char name[128];
    size_t n;

    for (unsigned i = 0; i < n_in; i++) {
        const struct inner *x = &in[i];
        int from = x->from.chassis;
        /* As the fabric sends it: the receiver's encap (hv1: Geneve). */
        n = encap(b + 2, x->b, x->n, from, 0, VF_ENCAP_GENEVE, x->vni,
                  x->from.id, x->to.id);
        b[0] = 0;
        b[1] = 0;
        snprintf(name, sizeof(name), "geneve-%s", x->name);
        fz_put("decap", name, b, n + 2);
        /* Flood (out port 0), from its own chassis by the mode byte. */
        n = encap(b + 2, x->b, x->n, from, 0, VF_ENCAP_GENEVE, x->vni,
                  x->from.id, 0);
        b[0] = 1;
        b[1] = (uint8_t)from;
        snprintf(name, sizeof(name), "geneve-flood-%s", x->name);
        fz_put("decap", name, b, n + 2);
        /* VXLAN (no ports): the destination MAC decides. */
        n = encap(b + 2, x->b, x->n, from, 0, VF_ENCAP_VXLAN, x->vni, 0, 0);
        b[0] = 4;
        snprintf(name, sizeof(name), "vxlan-%s", x->name);
        fz_put("decap", name, b, n + 2);
        /* Forged: from no chassis, and naming the other tenant's VNI. */
        n = encap(b + 2, x->b, x->n, from, 0, VF_ENCAP_GENEVE,
                  x->vni < 2000 ? x->vni + 1000 : x->vni - 1000, x->from.id,
                  x->to.id);
        b[0] = 2;
        snprintf(name, sizeof(name), "forged-%s", x->name);
        fz_put("decap", name, b, n + 2);
    }
    /* Geneve without options, as Open vSwitch sends it. */
    n = encap(b + 2, in[0].b, in[0].n, 2, 0, VF_ENCAP_GENEVE, 1001, 0, 0);
    memmove(b + 2 + 50, b + 2 + 62, n - 62);
    b[2 + 42] = 0;                         /* Opt Len 0 */
    n -= 12;
    b[0] = 4;                              /* fix the outer lengths */
    fz_put("decap", "geneve-no-options", b, n + 2);
}

/* ---- pipeline ---- */
struct rec_buf {
    size_t n;
    uint8_t b[CAP * 4];
};

static void rec_tenant(struct rec_buf *r, const struct who *w, uint16_t mss,
                       const uint8_t *f, size_t n)
{
    r->b[r->n++] = (uint8_t)(w->ring | (mss ? 0x40 : 0));
    if (mss) {
        r->b[r->n++] = (uint8_t)mss;
        r->b[r->n++] = (uint8_t)(mss >> 8);
    }
    r->b[r->n++] = (uint8_t)n;
    r->b[r->n++] = (uint8_t)(n >> 8);
    memcpy(r->b + r->n, f, n);
    r->n += n;
}

/* A datagram at host `host`, its outer headers made by the UDP uplink;
 * payload = the tunnel header and inner frame. */
static void rec_udp(struct rec_buf *r, int host, int src, uint16_t gro,
                    const uint8_t *payload, size_t n)
{
    /* The UDP uplink sends from its bound port: the chassis's. */
    uint16_t sport = src < (int)g_fab.m.n_chassis ? fz_chassis_port(&g_fab.m, src)
                                                   : 6081;
    r->b[r->n++] = (uint8_t)(0x80 | host | 4 | (gro ? 8 : 0));
    r->b[r->n++] = (uint8_t)src;
    r->b[r->n++] = (uint8_t)sport;        /* little-endian, as the target reads */
    r->b[r->n++] = (uint8_t)(sport >> 8);
    if (gro) {
        r->b[r->n++] = (uint8_t)gro;
        r->b[r->n++] = (uint8_t)(gro >> 8);
    }
    r->b[r->n++] = (uint8_t)n;
    r->b[r->n++] = (uint8_t)(n >> 8);
    memcpy(r->b + r->n, payload, n);
    r->n += n;
}

static void rec_raw(struct rec_buf *r, int host, const uint8_t *f, size_t n)
{
    r->b[r->n++] = (uint8_t)(0x80 | host);
    r->b[r->n++] = (uint8_t)n;
    r->b[r->n++] = (uint8_t)(n >> 8);
    memcpy(r->b + r->n, f, n);
    r->n += n;
}

static void pipeline_seeds(void)
{
    static struct rec_buf r;
    static struct inner in[8];
    static uint8_t big[3 * CAP];
    uint8_t f[CAP], g[CAP];
    struct vf_tpkt t;
    size_t n;
    struct who bvm1 = who("blue-vm1"), bvm2 = who("blue-vm2"),
               bvm3 = who("blue-vm3"), rvm1 = who("red-vm1"),
               rvm4 = who("red-vm4"), bdb2 = who("blue-db2");
    struct who router = bvm1;
    static const uint8_t rmac[6] = {2, 0, 0, 0, 0xff, 1};
    memcpy(router.mac, rmac, 6);

    /* ARP for a neighbour, then a ping to it across hosts. */
    r.n = 0;
    from_to(&t, &bvm1, &bvm3);
    memset(t.eth_dst, 0xff, 6);
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_arp_request(f, CAP, &t));
    from_to(&t, &bvm1, &bvm3);
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_icmp(f, CAP, &t));
    t.payload_len = 1400;                 /* fits the tunnel's MTU */
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_icmp(f, CAP, &t));
    t.payload_len = 1460;                 /* does not: ICMP frag-needed */
    t.ip4_df = true;
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_icmp(f, CAP, &t));
    fz_put("pipeline", "blue-arp-ping-remote", r.b, r.n);

    /* Same addresses in red: a ping to red-vm4 on the same host, a spoof. */
    r.n = 0;
    from_to(&t, &rvm1, &rvm4);
    rec_tenant(&r, &rvm1, 0, f, vf_tpkt_ip4_icmp(f, CAP, &t));
    from_to(&t, &rvm4, &rvm1);
    t.ip4_src = 0x0a000063;               /* not red-vm4's address */
    rec_tenant(&r, &rvm4, 0, f, vf_tpkt_ip4_udp(f, CAP, &t));
    fz_put("pipeline", "red-local-and-spoof", r.b, r.n);

    /* More than a tight port's budget (FZ_TIGHT_BUDGET) in one burst:
     * six frames to blue-vm2, then five broadcasts from red-vm4, flooded
     * to red-vm1 (also tight) and to the other chassis. */
    r.n = 0;
    from_to(&t, &bvm1, &bvm2);
    for (int i = 0; i < 6; i++) {
        t.sport = (uint16_t)(1000 + i);
        rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_udp(f, CAP, &t));
    }
    from_to(&t, &rvm4, &rvm1);
    memset(t.eth_dst, 0xff, 6);
    t.ip4_dst = 0x0a0000ffu;
    for (int i = 0; i < 5; i++) {
        t.sport = (uint16_t)(2000 + i);
        rec_tenant(&r, &rvm4, 0, f, vf_tpkt_ip4_udp(f, CAP, &t));
    }
    fz_put("pipeline", "tight-budgets", r.b, r.n);

    /* Routed: blue-vm1 -> router -> blue-db2 (on hv3), and past it. */
    r.n = 0;
    from_to(&t, &bvm1, &router);
    t.ip4_dst = bdb2.ip;
    t.dport = 53;
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_udp(f, CAP, &t));
    t.ip4_dst = 0x0a090001;               /* 10.9.0.1 via 10.0.1.2 */
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_tcp(f, CAP, &t));
    t.ttl = 1;
    rec_tenant(&r, &bvm1, 0, f, vf_tpkt_ip4_tcp(f, CAP, &t));
    fz_put("pipeline", "blue-routed", r.b, r.n);

    /* Unknown unicast and broadcast floods, IPv6, a VLAN tag. */
    r.n = 0;
    from_to(&t, &bvm2, &bvm3);
    t.eth_dst[5] = 0x77;
    rec_tenant(&r, &bvm2, 0, f, vf_tpkt_ip4_udp(f, CAP, &t));
    memset(t.eth_dst, 0xff, 6);
    rec_tenant(&r, &bvm2, 0, f, vf_tpkt_ip4_udp(f, CAP, &t));
    from_to(&t, &bvm2, &bvm1);
    rec_tenant(&r, &bvm2, 0, f, vf_tpkt_ip6_tcp(f, CAP, &t));
    t.nvlan = 1;
    t.vlan[0] = 5;
    rec_tenant(&r, &bvm2, 0, f, vf_tpkt_ip4_tcp(f, CAP, &t));
    fz_put("pipeline", "blue-floods", r.b, r.n);

    /* A TSO frame, to a local port and across a tunnel. */
    r.n = 0;
    from_to(&t, &bvm2, &bvm1);
    t.payload_len = 1800;
    t.tcp_flags = VF_TPKT_TCP_ACK | VF_TPKT_TCP_PSH;
    rec_tenant(&r, &bvm2, 1400, f, vf_tpkt_ip4_tcp(f, CAP, &t));
    from_to(&t, &bvm2, &bvm3);
    t.payload_len = 1800;
    rec_tenant(&r, &bvm2, 1000, f, vf_tpkt_ip6_tcp(f, CAP, &t));
    fz_put("pipeline", "blue-tso", r.b, r.n);

    /* Datagrams: each inner frame as its sender's chassis tunnels it to
     * the receiver's, through the UDP uplink and as a raw frame; one from
     * no chassis; a GRO buffer of two datagrams. */
    unsigned n_in = inner_frames(in);
    for (unsigned i = 0; i < n_in; i++) {
        const struct inner *x = &in[i];
        int from = x->from.chassis, to = x->to.chassis;
        enum vf_encap enc = g_fab.m.chassis[to].encap == VF_MODEL_ENCAP_VXLAN
                                ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE;
        char name[128];
        if (from == to)
            continue;
        n = encap(g, x->b, x->n, from, to, enc, x->vni, x->from.id, x->to.id);
        r.n = 0;
        rec_udp(&r, to, from, 0, g + VF_UDP_OUTER_HDRS, n - VF_UDP_OUTER_HDRS);
        rec_raw(&r, to, g, n);
        rec_udp(&r, to, (int)g_fab.m.n_chassis, 0, g + VF_UDP_OUTER_HDRS,
                n - VF_UDP_OUTER_HDRS);
        snprintf(name, sizeof(name), "underlay-%s", x->name);
        fz_put("pipeline", name, r.b, r.n);
    }
    n = encap(g, in[0].b, in[0].n, in[0].from.chassis, 0, VF_ENCAP_GENEVE,
              in[0].vni, in[0].from.id, in[0].to.id);
    size_t d = n - VF_UDP_OUTER_HDRS;
    memcpy(f, g + VF_UDP_OUTER_HDRS, d);
    memcpy(f + d, g + VF_UDP_OUTER_HDRS, d);
    r.n = 0;
    rec_udp(&r, 0, in[0].from.chassis, (uint16_t)d, f, 2 * d);
    fz_put("pipeline", "underlay-gro", r.b, r.n);

    /* A GRO buffer that merges: three consecutive TCP segments of one flow
     * behind one tunnel header, as a peer's TSO batch arrives. */
    struct who bvm3s = who("blue-vm3");
    size_t total = 0, seg = 0;
    for (unsigned k = 0; k < 3; k++) {
        from_to(&t, &bvm3s, &bvm1);
        t.payload_len = 200;
        t.tcp_seq = 1000 + 200 * k;
        t.ip4_id = (uint16_t)(7 + k);
        if (k == 2)
            t.tcp_flags |= VF_TPKT_TCP_PSH;
        size_t fn = vf_tpkt_ip4_tcp(f, CAP, &t);
        n = encap(g, f, fn, bvm3s.chassis, 0, VF_ENCAP_GENEVE, 1001,
                  bvm3s.id, bvm1.id);
        seg = n - VF_UDP_OUTER_HDRS;
        memcpy(big + total, g + VF_UDP_OUTER_HDRS, seg);
        total += seg;
    }
    r.n = 0;
    rec_udp(&r, 0, bvm3s.chassis, (uint16_t)seg, big, total);
    fz_put("pipeline", "underlay-gro-tcp", r.b, r.n);
}

/* ---- config: the fabric's own model, as written and as saved ---- */
static void config_seeds(void)
{
    json_t *j = vf_model_to_json(&g_fab.m);
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

    fz_put("config", "fuzz-fabric.yaml", (const uint8_t *)FZ_MODEL_YAML,
        sizeof(FZ_MODEL_YAML) - 1);
    if (!s) {
        fprintf(stderr, "cannot serialise the model\n");
        exit(1);
    }
    fz_put("config", "fuzz-fabric-saved.json", (const uint8_t *)s, strlen(s));
    free(s);
    json_decref(j);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR (e.g. tests/fuzz/corpus)\n");
        return 2;
    }
    g_dir = argv[1];
    fz_fabric_init(&g_fab, false);
    parse_seeds();
    decap_seeds();
    pipeline_seeds();
    config_seeds();
    fz_seeds_vhost();
    fz_seeds_ct();
    return 0;
}
