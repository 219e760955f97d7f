/* fuzz_pipeline.c - libFuzzer target for whole pipeline bursts on the
 * two-tenant fuzz fabric (vf_fuzz_fabric.h), from both sides: frames that
 * tenant VMs send and datagrams that reach a host's underlay port.
 *
 * Input: a sequence of records, each one packet.
 *   tenant record:  byte 0 bit 7 clear; bits 0-5 pick the sending port
 *                   (mod the number of ports); bit 6: a TSO frame, two
 *                   bytes of MSS follow (little-endian; at least the 88 a
 *                   tap accepts). Then a 2-byte length and the frame.
 *   uplink record:  byte 0 bit 7 set; bits 0-1 pick the receiving host.
 *                   bit 2 clear: the frame is given whole (ring and verbs
 *                   uplinks). bit 2 set: as the UDP uplink builds it from
 *                   a datagram: a source byte (a chassis, or with the value
 *                   of the chassis count an address that is no chassis), a
 *                   2-byte source port, and with bit 3 a 2-byte GRO size;
 *                   the payload follows and the outer Ethernet/IPv4/UDP
 *                   headers are made for it. Then a 2-byte length and the
 *                   bytes.
 * Consecutive tenant records from one port form one burst (at most 32):
 * one poll of that port's queue. A datagram is a burst of its own, and so
 * is every tunnel frame the fabric carries from a sender to the host it
 * names (with the sender's address, as the underlay would).
 *
 * The isolation invariant, asserted on every output:
 *   - a frame from a port of tenant X reaches only ports of X, on any
 *     host; the tunnel frames it causes decap (our encap is valid), carry
 *     a VNI of X, logical ports of X, the sender's address, and go to
 *     another chassis; the host that receives them sends nothing back to
 *     the underlay;
 *   - a datagram from the underlay reaches only ports of the switches whose
 *     VNI its datagrams carry, and only when a remote chassis may send it
 *     (its address, and port where chassis share one; a Geneve ingress
 *     port on that chassis); it is never sent on to the underlay.
 * And: every input runs on two fabrics, one whose workers have flow caches
 * and one without; both must send exactly the same frames to the same
 * ports (a cached decision must not depend on anything outside its key).
 * Every buffer comes back to its pool after each input.
 * Build and run: docs/fuzzing.md.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/vf_port_udp.h"
#include "fabric/vf_vnet_hdr.h"
#include "tests/fuzz/vf_fuzz_fabric.h"
#include "tunnel/vf_segment.h"

#define FRAME_MAX (VF_PKT_DEFAULT_DATA_ROOM - VF_PKT_HEADROOM)
#define BIG_MAX 8192u           /* TSO and GRO buffers in the fuzzer */
#define BIG_BUFS 64u
#define MAX_RECORDS 64u
#define MAX_EVENTS 4096u

static struct fz_fabric g_fab[2];    /* [0] flow caches, [1] none */
static struct vf_pool *g_big[2];     /* big buffers, one pool per fabric */

/* One thing a fabric sent: a delivery or a tunnel frame. */
struct event {
    uint8_t host, uplink;
    int16_t port;
    uint32_t len, sum;
};

struct transcript {
    unsigned n;
    struct event ev[MAX_EVENTS];
};

static struct transcript g_tr[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[128];
    (void)argc;
    (void)argv;
    for (int i = 0; i < 2; i++) {
        fz_fabric_init(&g_fab[i], i == 0);
        g_big[i] = vf_pool_create(NULL, -1, BIG_BUFS,
                                  VF_PKT_HEADROOM + BIG_MAX + VF_SEG_BATCH_TAILROOM,
                                  err, sizeof(err));
        if (!g_big[i]) {
            fprintf(stderr, "fuzz_pipeline: %s\n", err);
            abort();
        }
    }
    return 0;
}

/* ---- reading records ---- */
struct reader {
    const uint8_t *p;
    size_t n;
};

static bool rd_u8(struct reader *r, uint8_t *v)
{
    if (r->n < 1)
        return false;
    *v = r->p[0];
    r->p++;
    r->n--;
    return true;
}

static bool rd_u16(struct reader *r, uint16_t *v)
{
    if (r->n < 2)
        return false;
    *v = (uint16_t)(r->p[0] | r->p[1] << 8);
    r->p += 2;
    r->n -= 2;
    return true;
}

struct record {
    bool uplink;
    unsigned port;            /* tenant: index in lt.ports */
    unsigned host;            /* uplink: receiving host */
    bool synth;
    uint8_t src;
    uint16_t sport;
    uint16_t gso;             /* tenant TSO MSS or uplink GRO size; 0 none */
    const uint8_t *bytes;
    uint32_t len;
};

static bool rd_record(struct reader *r, const struct fz_fabric *f,
                      struct record *rec)
{
    uint8_t k;
    uint16_t len;

    memset(rec, 0, sizeof(*rec));
    if (!rd_u8(r, &k))
        return false;
    rec->uplink = k & 0x80;
    if (!rec->uplink) {
        rec->port = (k & 0x3f) % f->lt.n_ports;
        if ((k & 0x40) && !rd_u16(r, &rec->gso))
            return false;
        if ((k & 0x40) && rec->gso < VF_VNET_MIN_GSO_SIZE)
            rec->gso = VF_VNET_MIN_GSO_SIZE;
    } else {
        rec->host = (k & 3) % f->lt.n_hosts;
        rec->synth = k & 4;
        if (rec->synth && (!rd_u8(r, &rec->src) || !rd_u16(r, &rec->sport)))
            return false;
        if (rec->synth && (k & 8) && !rd_u16(r, &rec->gso))
            return false;
    }
    if (!rd_u16(r, &len))
        return false;
    rec->len = len < r->n ? len : (uint32_t)r->n;
    rec->bytes = r->p;
    r->p += rec->len;
    r->n -= rec->len;
    return true;
}

/* ---- building packets ---- */

/* The outer headers the UDP uplink makes for a datagram (port_udp.c). */
static void synth_outer(uint8_t *f, uint32_t plen, uint32_t src_ip,
                        uint16_t sport, uint32_t dst_ip, uint16_t dport)
{
    uint16_t tot = (uint16_t)(20 + 8 + plen), ulen = (uint16_t)(8 + plen);
    memset(f, 0, VF_UDP_OUTER_HDRS);
    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = (uint8_t)(tot >> 8);
    f[17] = (uint8_t)tot;
    f[22] = 64;
    f[23] = 17;
    memcpy(f + 26, &src_ip, 4);
    memcpy(f + 30, &dst_ip, 4);
    f[34] = (uint8_t)(sport >> 8);
    f[35] = (uint8_t)sport;
    f[36] = (uint8_t)(dport >> 8);
    f[37] = (uint8_t)dport;
    f[38] = (uint8_t)(ulen >> 8);
    f[39] = (uint8_t)ulen;
}

/* A packet for rec on fabric fi, or NULL when the record cannot be one. */
static struct vf_pkt *make_pkt(int fi, const struct record *rec)
{
    struct fz_fabric *f = &g_fab[fi];
    const struct vf_model *m = &f->m;
    unsigned h = rec->uplink ? rec->host : (unsigned)f->lt.port_host[rec->port];
    struct vf_pool_cache *c = &f->lt.host[h].w->cache;
    uint32_t total = rec->synth ? VF_UDP_OUTER_HDRS + rec->len : rec->len;
    bool big = rec->gso || total > FRAME_MAX;
    struct vf_pkt *p;
    static struct vf_pool_cache bigc[2];

    if (total > BIG_MAX || (big && !rec->gso))
        return NULL;      /* no port hands over a frame this long */
    if (rec->uplink && rec->gso && (rec->gso >= rec->len || rec->gso == 0))
        return NULL;      /* the kernel reports GRO only for 2+ datagrams */
    if (big) {
        if (!bigc[fi].pool)
            vf_pool_cache_init(&bigc[fi], g_big[fi]);
        p = vf_pool_alloc(&bigc[fi]);
        /* Keep nothing in this cache: the leak check sees every buffer. */
    } else {
        p = vf_pool_alloc(c);
    }
    FZ_CHECK(p, "the fuzzer ran out of buffers");
    if (rec->synth) {
        int s = rec->src % (m->n_chassis + 1);
        uint32_t src = s < (int)m->n_chassis ? m->chassis[s].underlay_ip
                                             : htonl(FZ_UNKNOWN_IP);
        synth_outer(vf_pkt_data(p), rec->len, src, rec->sport,
                    m->chassis[h].underlay_ip, fz_chassis_port(m, (int)h));
        memcpy(vf_pkt_data(p) + VF_UDP_OUTER_HDRS, rec->bytes, rec->len);
        p->len = total;
    } else {
        memcpy(vf_pkt_data(p), rec->bytes, rec->len);
        p->len = rec->len;
    }
    p->gso_size = rec->gso;
    p->port = (uint16_t)(rec->uplink ? f->lt.host[h].uplink->index
                                     : f->lt.ports[rec->port]->index);
    if (big)
        vf_pool_cache_flush(&bigc[fi]);
    return p;
}

/* ---- checks ---- */
static uint32_t sum_bytes(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void record_event(int fi, unsigned h, bool uplink, int port,
                         const struct vf_pkt *p)
{
    struct transcript *tr = &g_tr[fi];
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FZ_VERBOSE") != NULL;
    if (verbose)   /* FZ_VERBOSE=1: what each fabric sent, to replay a find */
        fprintf(stderr, "fabric %d host %u: %s %s, %u bytes\n", fi, h,
                uplink ? "tunnel" : "deliver", uplink ? "uplink" :
                g_fab[fi].lt.names[port], p->len);
    if (tr->n == MAX_EVENTS)
        return;
    tr->ev[tr->n++] = (struct event){ .host = (uint8_t)h, .uplink = uplink,
                                      .port = (int16_t)port, .len = p->len,
                                      .sum = sum_bytes(vf_pkt_data(p), p->len) };
}

/* VNIs a datagram carries (a GRO buffer carries several): the set of
 * switches its deliveries may reach. Room for one per datagram of the
 * largest GRO buffer (a 1-byte GRO size): the receive path
 * (process.c gro_split) takes every datagram of a buffer, however many. */
#define MAX_VNIS BIG_MAX
struct vni_set {
    unsigned n;
    uint32_t vni[MAX_VNIS];
};

static bool vni_in(const struct vni_set *s, uint32_t vni)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->vni[i] == vni)
            return true;
    return false;
}

/* Adds the VNI of datagram p (at host h) if h may deliver it: it decaps,
 * and comes from a chassis that may send it. */
static void vni_add_decap(struct vni_set *s, const struct fz_fabric *f,
                          unsigned h, struct vf_pkt *p)
{
    const struct vf_tables *t = f->lt.host[h].t;
    struct vf_tunnel_md md;
    uint32_t off = p->data_off, len = p->len;
    if (vf_tunnel_decap(p, t->geneve_port, t->vxlan_port, &md) == 0) {
        p->data_off = off;
        if (fz_sender_ok(&f->m, (int)h, &md, fz_outer_sport(vf_pkt_data(p))) &&
            !vni_in(s, md.vni)) {
            FZ_CHECK(s->n < MAX_VNIS, "a datagram carries over %u VNIs",
                     MAX_VNIS);
            s->vni[s->n++] = md.vni;
        }
    }
    p->data_off = off;
    p->len = len;
}

/* What a datagram p (before the pipeline sees it) may deliver to. A GRO
 * buffer: every one of its datagrams, as gro_split takes them; one that
 * does not fit a buffer is skipped there, and the next (a short last one)
 * may still go through, so a failed split ends nothing here either. */
static void datagram_vnis(struct fz_fabric *f, unsigned h, struct vf_pkt *p,
                          struct vni_set *s)
{
    s->n = 0;
    if (!p->gso_size) {
        vni_add_decap(s, f, h, p);
        return;
    }
    struct vf_pool_cache *c = &f->lt.host[h].w->cache;
    unsigned n = vf_seg_gro_count(p);
    for (unsigned k = 0; k < n; k++) {
        struct vf_pkt *d = vf_pool_alloc(c);
        FZ_CHECK(d, "the fuzzer ran out of buffers");
        if (vf_seg_gro_split(p, k, d) == 0)
            vni_add_decap(s, f, h, d);
        vf_pool_free(c, d);
    }
}

/* Deliveries of a burst from tenant `tenant` (or, tenant < 0, of a
 * datagram whose VNIs are vnis) on host h; uplink frames are checked and
 * carried to their host by the caller. */
static void check_deliveries(int fi, unsigned h, const struct fz_out *o,
                             int tenant, const struct vni_set *vnis)
{
    struct fz_fabric *f = &g_fab[fi];
    for (unsigned i = 0; i < o->n_dlv; i++) {
        int d = o->dlv_port[i];
        FZ_CHECK(f->lt.port_host[d] == (int)h, "host %u sent on %s of "
                 "another host", h, f->lt.names[d]);
        if (tenant >= 0)
            FZ_CHECK(f->port_tenant[d] == tenant, "a frame of tenant %s "
                     "reached %s of tenant %s", f->m.tenants[tenant].name,
                     f->lt.names[d], f->m.tenants[f->port_tenant[d]].name);
        else
            FZ_CHECK(vni_in(vnis, f->port_vni[d]), "a datagram reached %s "
                     "(VNI %u), a VNI it does not carry", f->lt.names[d],
                     f->port_vni[d]);
        record_event(fi, h, false, d, o->dlv[i]);
    }
}

/* A tunnel frame host h sent for tenant `tenant`: check it, then carry it
 * to the chassis it names, run that host's burst and check what it did. */
static void carry_one(int fi, unsigned h, struct vf_pkt *p, int tenant)
{
    struct fz_fabric *f = &g_fab[fi];
    const struct vf_model *m = &f->m;
    struct vf_tunnel_md md;
    uint32_t off = p->data_off, len = p->len, dst_ip;
    static struct fz_out o2;

    record_event(fi, h, true, -1, p);
    /* Where it goes: the outer destination address and UDP port. */
    FZ_CHECK(p->len >= VF_UDP_OUTER_HDRS && (vf_pkt_data(p)[14] & 0xf) == 5,
             "host %u sent a %u-byte tunnel frame", h, p->len);
    const uint8_t *udp = vf_pkt_data(p) + 34;
    memcpy(&dst_ip, vf_pkt_data(p) + 30, 4);
    int to = fz_chassis_at(m, dst_ip, (uint16_t)(udp[2] << 8 | udp[3]));
    FZ_CHECK(to >= 0 && to != (int)h, "host %u tunnelled to chassis %d", h, to);
    const struct vf_tables *tt = f->lt.host[to].t;
    int r = vf_tunnel_decap(p, tt->geneve_port, tt->vxlan_port, &md);
    FZ_CHECK(r == 0, "host %u sent a tunnel frame chassis %d cannot decap "
             "(%s)", h, to, vf_drop_name((unsigned)r));
    p->data_off = off;
    p->len = len;
    FZ_CHECK(fz_tenant_of_vni(m, md.vni) == tenant, "tenant %s's frame "
             "tunnelled with VNI %u", m->tenants[tenant].name, md.vni);
    if (md.has_ports) {
        FZ_CHECK(fz_tenant_of_lport(m, md.in_lport) == tenant, "tenant %s's "
                 "frame tunnelled with in-port %u", m->tenants[tenant].name,
                 md.in_lport);
        FZ_CHECK(md.out_lport == 0 || fz_tenant_of_lport(m, md.out_lport) ==
                 tenant, "tenant %s's frame tunnelled to port %u",
                 m->tenants[tenant].name, md.out_lport);
    }
    FZ_CHECK(md.outer_src_ip == m->chassis[h].underlay_ip, "host %u sent "
             "from another address", h);

    /* A chassis that shares its address sends from its own port (the UDP
     * uplink's socket); others pick source ports for entropy (our encap). */
    if (fz_addr_shared(m, (int)h)) {
        uint16_t port = fz_chassis_port(m, (int)h);
        uint8_t *sp = vf_pkt_data(p) + 34;
        sp[0] = (uint8_t)(port >> 8);
        sp[1] = (uint8_t)port;
    }
    p->port = (uint16_t)f->lt.host[to].uplink->index;
    p->gso_size = 0;
    fz_burst(f, (unsigned)to, &p, 1, &o2);
    check_deliveries(fi, (unsigned)to, &o2, tenant, NULL);
    FZ_CHECK(o2.n_up == 0, "host %d sent a received tunnel frame on", to);
    fz_out_free(f, (unsigned)to, &o2);
}

/* What host h sent on its uplink for tenant `tenant`: one tunnel frame, or
 * a UDP GSO batch (p->gso_size: datagram payload size; vf_segment.h),
 * which is cut into datagrams as the kernel does: the outer headers of
 * the first, each with its own lengths. */
static void carry(int fi, unsigned h, struct vf_pkt *p, int tenant)
{
    struct vf_pool_cache *c = &g_fab[fi].lt.host[h].w->cache;
    uint32_t g = p->gso_size;

    if (!g) {
        carry_one(fi, h, p, tenant);
        return;
    }
    FZ_CHECK(p->len > VF_UDP_OUTER_HDRS, "an empty GSO batch");
    const uint8_t *b = vf_pkt_data(p);
    for (uint32_t at = VF_UDP_OUTER_HDRS; at < p->len; at += g) {
        uint32_t n = p->len - at < g ? p->len - at : g;
        struct vf_pkt *d = vf_pool_alloc(c);
        FZ_CHECK(d, "the fuzzer ran out of buffers");
        FZ_CHECK(VF_UDP_OUTER_HDRS + n <= d->buf_len - d->data_off,
                 "a %u-byte datagram in a GSO batch", n);
        uint8_t *o = vf_pkt_data(d);
        memcpy(o, b, VF_UDP_OUTER_HDRS);
        memcpy(o + VF_UDP_OUTER_HDRS, b + at, n);
        o[16] = (uint8_t)((20 + 8 + n) >> 8);
        o[17] = (uint8_t)(20 + 8 + n);
        o[38] = (uint8_t)((8 + n) >> 8);
        o[39] = (uint8_t)(8 + n);
        d->len = VF_UDP_OUTER_HDRS + n;
        carry_one(fi, h, d, tenant);
    }
    vf_pool_free(c, p);
}

/* One burst on fabric fi: n records from one tenant port, or one datagram. */
static void run_burst(int fi, const struct record *recs, unsigned n)
{
    struct fz_fabric *f = &g_fab[fi];
    struct vf_pkt *pk[VF_WORKER_BURST];
    static struct vni_set vnis;   /* static: 32 KiB */
    static struct fz_out o;
    unsigned h, np = 0;
    int tenant = -1;

    h = recs[0].uplink ? recs[0].host : (unsigned)f->lt.port_host[recs[0].port];
    for (unsigned i = 0; i < n; i++) {
        struct vf_pkt *p = make_pkt(fi, &recs[i]);
        if (p)
            pk[np++] = p;
    }
    if (!np)
        return;
    if (recs[0].uplink)
        datagram_vnis(f, h, pk[0], &vnis);
    else
        tenant = f->port_tenant[recs[0].port];
    fz_burst(f, h, pk, np, &o);
    check_deliveries(fi, h, &o, tenant, &vnis);
    if (tenant < 0)
        FZ_CHECK(o.n_up == 0, "host %u sent a datagram from the underlay "
                 "back to it", h);
    for (unsigned i = 0; i < o.n_up; i++) {
        carry(fi, h, o.up[i], tenant);
        o.up[i] = NULL;   /* carried: freed by the host that received it */
    }
    o.n_up = 0;
    fz_out_free(f, h, &o);
}

static void run_input(int fi, const uint8_t *data, size_t size)
{
    struct fz_fabric *f = &g_fab[fi];
    struct reader r = { data, size };
    struct record recs[VF_WORKER_BURST];
    unsigned n = 0, count = 0;
    struct record rec;

    fz_fabric_reset(f);
    g_tr[fi].n = 0;
    while (count++ < MAX_RECORDS && rd_record(&r, f, &rec)) {
        bool joins = n && !rec.uplink && !recs[0].uplink &&
                     recs[0].port == rec.port && n < VF_WORKER_BURST;
        if (n && !joins) {
            run_burst(fi, recs, n);
            n = 0;
        }
        recs[n++] = rec;
    }
    if (n)
        run_burst(fi, recs, n);
    if (getenv("FZ_VERBOSE")) {
        uint64_t d[VF_DROP__COUNT];
        lt_sum_drops(&f->lt, d);
        for (unsigned i = 1; i < VF_DROP__COUNT; i++)
            if (d[i])
                fprintf(stderr, "fabric %d: %llu %s so far\n", fi,
                        (unsigned long long)d[i], vf_drop_name(i));
    }
    FZ_CHECK(vf_pool_in_use(f->lt.pool) == 0 && vf_pool_in_use(g_big[fi]) == 0,
             "buffers leaked: %u + %u big", vf_pool_in_use(f->lt.pool),
             vf_pool_in_use(g_big[fi]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_input(0, data, size);
    run_input(1, data, size);
    FZ_CHECK(g_tr[0].n == g_tr[1].n, "with flow caches %u outputs, "
             "without %u", g_tr[0].n, g_tr[1].n);
    for (unsigned i = 0; i < g_tr[0].n; i++) {
        const struct event *a = &g_tr[0].ev[i], *b = &g_tr[1].ev[i];
        FZ_CHECK(!memcmp(a, b, sizeof(*a)), "output %u differs with and "
                 "without flow caches: host %u %s %d len %u vs host %u %s "
                 "%d len %u", i, a->host, a->uplink ? "uplink" : "port",
                 a->port, a->len, b->host, b->uplink ? "uplink" : "port",
                 b->port, b->len);
    }
    return 0;
}
