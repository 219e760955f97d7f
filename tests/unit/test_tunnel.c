/* test_tunnel.c - Geneve/VXLAN encap and decap (tunnel/vf_tunnel.h).
 *
 * Field-by-field checks against the RFC layouts use byte offsets read here,
 * not the library's structs, so a wrong struct layout cannot hide itself.
 * The fuzz loop compares decap with ref_accept(), a second, plainer decoder
 * written from the RFCs, and places every frame so that it ends exactly at
 * the end of a heap block: under ASan any read past the frame is caught.
 *
 * With VF_PCAP_DIR set, test_write_pcap also writes tunnel.pcap there for
 * tests/integration/t_tshark_tunnel.sh to decode with tshark.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "numa/vf_wire.h"
#include "tunnel/vf_segment.h"
#include "tunnel/vf_tunnel.h"

#define DATA_ROOM 2048u
#define GENEVE_HL 62u       /* Eth 14 + IPv4 20 + UDP 8 + Geneve 8 + opt 12 */
#define VXLAN_HL 50u        /* Eth 14 + IPv4 20 + UDP 8 + VXLAN 8 */
#define IP_A 0x0a000001u    /* 10.0.0.1, host order */
#define IP_B 0x0a000002u

struct tbuf {
    struct vf_pkt p;
    uint8_t data[DATA_ROOM];
};

static const uint8_t MAC_SRC[6] = {0x02, 0x00, 0x00, 0x00, 0xaa, 0x01};
static const uint8_t MAC_DST[6] = {0x02, 0x00, 0x00, 0x00, 0xbb, 0x02};

/* xorshift64*: fixed seeds so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t rnd_range(uint32_t lo, uint32_t hi) /* inclusive */
{
    return lo + rnd() % (hi - lo + 1);
}

static void rnd_fill(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd();
}

static uint16_t rd16(const uint8_t *b, size_t off)
{
    return (uint16_t)(b[off] << 8 | b[off + 1]);
}

static uint32_t rd32(const uint8_t *b, size_t off)
{
    return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 |
           (uint32_t)b[off + 2] << 8 | b[off + 3];
}

static uint32_t rd24(const uint8_t *b, size_t off)
{
    return (uint32_t)b[off] << 16 | (uint32_t)b[off + 1] << 8 | b[off + 2];
}

static void wr16(uint8_t *b, size_t off, uint16_t v)
{
    b[off] = (uint8_t)(v >> 8);
    b[off + 1] = (uint8_t)v;
}

static void wr32(uint8_t *b, size_t off, uint32_t v)
{
    wr16(b, off, (uint16_t)(v >> 16));
    wr16(b, off + 2, (uint16_t)v);
}

/* The oracle checksum: RFC 1071 sum in a 32-bit register, folded often. */
static uint32_t ref_sum(uint32_t sum, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sum += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

static void tbuf_init(struct tbuf *t, const uint8_t *inner, uint32_t n)
{
    memset(&t->p, 0, sizeof(t->p));
    t->p.buf = t->data;
    t->p.buf_len = DATA_ROOM;
    vf_pkt_reset(&t->p);
    assert_int_equal(vf_pkt_set(&t->p, inner, n), 0);
}

static void peer_make(struct vf_tunnel_peer *peer, enum vf_encap e, bool csum)
{
    vf_tunnel_peer_init(peer, e, htonl(IP_A), htonl(IP_B), 0, MAC_SRC,
                        MAC_DST, 0, csum);
}

/* Decaps a copy of frame[0, n) that ends exactly at the end of its own heap
 * block, so ASan flags any read past the frame. */
static int decap_exact(const uint8_t *frame, uint32_t n, uint16_t gport,
                       uint16_t vport, struct vf_tunnel_md *md,
                       uint32_t *inner_off, uint32_t *inner_len)
{
    uint8_t *mem = malloc(n ? n : 1);
    struct vf_pkt p;
    int rc;

    assert_non_null(mem);
    if (n)
        memcpy(mem, frame, n);
    memset(&p, 0, sizeof(p));
    p.buf = mem;
    p.buf_len = n;
    p.data_off = 0;
    p.len = n;
    rc = vf_tunnel_decap(&p, gport, vport, md);
    if (rc) {
        assert_int_equal(p.data_off, 0);
        assert_int_equal(p.len, n);
        if (n)
            assert_memory_equal(mem, frame, n);
    }
    if (inner_off)
        *inner_off = p.data_off;
    if (inner_len)
        *inner_len = p.len;
    free(mem);
    return rc;
}

/* ---- frame builder, independent of the library -------------------------- */

struct gen {
    int vxlan;              /* 0: Geneve */
    uint8_t ver;            /* Geneve version */
    uint8_t flags;          /* Geneve flags byte or VXLAN flags byte */
    uint16_t proto;         /* Geneve protocol type */
    uint32_t vni;
    const uint8_t *opts;    /* Geneve options, opt_len bytes */
    uint32_t opt_len;
    const uint8_t *inner;
    uint32_t inner_len;
    uint16_t dport;
};

static uint32_t gen_frame(uint8_t *f, const struct gen *g)
{
    uint32_t th = 8 + g->opt_len, udp_len = 8 + th + g->inner_len;
    uint32_t n = 14 + 20 + udp_len;
    uint32_t sum;

    memset(f, 0, 42 + th);
    memcpy(f, MAC_DST, 6);
    memcpy(f + 6, MAC_SRC, 6);
    wr16(f, 12, 0x0800);
    f[14] = 0x45;
    wr16(f, 16, (uint16_t)(20 + udp_len));
    wr16(f, 20, 0x4000);
    f[22] = 64;
    f[23] = 17;
    wr32(f, 26, IP_B);
    wr32(f, 30, IP_A);
    sum = ref_sum(0, f + 14, 20);
    wr16(f, 24, (uint16_t)~sum);
    wr16(f, 34, 50000);
    wr16(f, 36, g->dport ? g->dport : (g->vxlan ? 4789 : 6081));
    wr16(f, 38, (uint16_t)udp_len);
    if (g->vxlan) {
        f[42] = g->flags;
    } else {
        f[42] = (uint8_t)(g->ver << 6 | (g->opt_len / 4));
        f[43] = g->flags;
        wr16(f, 44, g->proto);
        if (g->opt_len)
            memcpy(f + 50, g->opts, g->opt_len);
    }
    f[46] = (uint8_t)(g->vni >> 16);
    f[47] = (uint8_t)(g->vni >> 8);
    f[48] = (uint8_t)g->vni;
    memcpy(f + 42 + th, g->inner, g->inner_len);
    return n;
}

static struct gen gen_geneve(const uint8_t *inner, uint32_t n)
{
    struct gen g = {.proto = 0x6558, .vni = 77, .inner = inner,
                    .inner_len = n};
    return g;
}

/* An option header plus data_words of data, into o; returns bytes. */
static uint32_t gen_opt(uint8_t *o, uint16_t cls, uint8_t type,
                        uint8_t data_words, uint32_t a, uint32_t b)
{
    wr16(o, 0, cls);
    o[2] = type;
    o[3] = data_words;
    memset(o + 4, 0, 4u * data_words);
    if (data_words >= 1)
        wr32(o, 4, a);
    if (data_words >= 2)
        wr32(o, 8, b);
    return 4 + 4u * data_words;
}

/* ---- the reference decoder ---------------------------------------------- */

/* Plain accept/reject per RFC 8926 / RFC 7348 with our rules (no fragments,
 * no O bit, unknown critical options refused, our option exactly 8 bytes). */
static bool ref_accept(const uint8_t *f, uint32_t n, uint16_t gport,
                       uint16_t vport, uint32_t *off, uint32_t *ilen,
                       struct vf_tunnel_md *md)
{
    uint32_t ihl, tot, ulen, pl, t, optb, i;

    if (n < 34 || rd16(f, 12) != 0x0800 || (f[14] >> 4) != 4)
        return false;
    ihl = 4u * (f[14] & 15);
    tot = rd16(f, 16);
    if (ihl < 20 || f[23] != 17 || (rd16(f, 20) & 0x3fff) || tot > n - 14 ||
        tot < ihl + 8)
        return false;
    ulen = rd16(f, 14 + ihl + 4);
    if (ulen < 8 || ulen > tot - ihl)
        return false;
    t = 14 + ihl + 8;
    pl = ulen - 8;
    if (pl < 8)
        return false;
    memset(md, 0, sizeof(*md));
    md->outer_src_ip = htonl(rd32(f, 26));
    md->outer_dst_ip = htonl(rd32(f, 30));
    md->outer_src_port = rd16(f, 14 + ihl);
    md->vni = rd24(f, t + 4);
    if (rd16(f, 14 + ihl + 2) == gport) {
        md->encap = VF_ENCAP_GENEVE;
        if ((f[t] >> 6) != 0 || (f[t + 1] & 0x80) || rd16(f, t + 2) != 0x6558)
            return false;
        optb = 4u * (f[t] & 63);
        if (optb > pl - 8)
            return false;
        for (i = 0; i < optb;) {
            const uint8_t *o = f + t + 8 + i;
            uint32_t dl = 4u * (o[3] & 31);

            if (i + 4 + dl > optb)
                return false;
            if (rd16(o, 0) == VF_GENEVE_OPT_CLASS &&
                o[2] == VF_GENEVE_OPT_TYPE) {
                if (dl != 8)
                    return false;
                if (!md->has_ports) {
                    md->has_ports = true;
                    md->in_lport = rd32(o, 4);
                    md->out_lport = rd32(o, 8);
                }
            } else if (o[2] & 0x80) {
                return false;
            }
            i += 4 + dl;
        }
        *off = t + 8 + optb;
        *ilen = pl - 8 - optb;
    } else if (rd16(f, 14 + ihl + 2) == vport) {
        md->encap = VF_ENCAP_VXLAN;
        if (!(f[t] & 0x08))
            return false;
        *off = t + 8;
        *ilen = pl - 8;
    } else {
        return false;
    }
    return *ilen >= 14;
}

/* ---- peer template ------------------------------------------------------- */

static void test_peer_init_defaults(void **state)
{
    struct vf_tunnel_peer g, v;

    (void)state;
    peer_make(&g, VF_ENCAP_GENEVE, false);
    peer_make(&v, VF_ENCAP_VXLAN, true);
    assert_int_equal(g.dst_port, VF_GENEVE_UDP_PORT);
    assert_int_equal(v.dst_port, VF_VXLAN_UDP_PORT);
    assert_int_equal(g.mtu, 1500);
    assert_int_equal(g.tmpl_len, GENEVE_HL);
    assert_int_equal(v.tmpl_len, VXLAN_HL);
    assert_false(g.udp_csum);
    assert_true(v.udp_csum);
    /* The template's IPv4 header checksum is valid as it stands. */
    assert_int_equal(ref_sum(0, g.tmpl + 14, 20), 0xffff);

    vf_tunnel_peer_init(&g, VF_ENCAP_GENEVE, 1, 2, 7000, NULL, NULL, 9000,
                        false);
    assert_int_equal(g.dst_port, 7000);
    assert_int_equal(g.mtu, 9000);
    assert_int_equal(rd16(g.tmpl, 36), 7000);
    for (int i = 0; i < 12; i++)
        assert_int_equal(g.tmpl[i], 0);
}

/* ---- encap layout --------------------------------------------------------- */

static void check_outer(const uint8_t *f, uint32_t hl, uint32_t inner_len,
                        uint16_t dport, bool csum)
{
    uint32_t ip_len = hl - 14 + inner_len, udp_len = ip_len - 20;

    /* Ethernet */
    assert_memory_equal(f, MAC_DST, 6);
    assert_memory_equal(f + 6, MAC_SRC, 6);
    assert_int_equal(rd16(f, 12), 0x0800);
    /* IPv4 (RFC 791) */
    assert_int_equal(f[14], 0x45);
    assert_int_equal(f[15], 0);
    assert_int_equal(rd16(f, 16), ip_len);
    assert_int_equal(rd16(f, 18), 0);                /* id 0 ... */
    assert_int_equal(rd16(f, 20), 0x4000);           /* ... with DF */
    assert_int_equal(f[22], 64);
    assert_int_equal(f[23], 17);
    assert_int_equal(rd32(f, 26), IP_A);
    assert_int_equal(rd32(f, 30), IP_B);
    assert_int_equal(ref_sum(0, f + 14, 20), 0xffff);  /* verifies to 0 */
    /* UDP (RFC 768) */
    assert_in_range(rd16(f, 34), 49152, 65535);
    assert_int_equal(rd16(f, 36), dport);
    assert_int_equal(rd16(f, 38), udp_len);
    if (!csum) {
        assert_int_equal(rd16(f, 40), 0);
    } else {
        uint8_t ph[12];
        uint32_t sum;

        memcpy(ph, f + 26, 8);
        ph[8] = 0;
        ph[9] = 17;
        wr16(ph, 10, (uint16_t)udp_len);
        sum = ref_sum(ref_sum(0, ph, 12), f + 34, udp_len);
        assert_int_not_equal(rd16(f, 40), 0);
        assert_int_equal(sum, 0xffff);
    }
}

static void test_geneve_encap_layout(void **state)
{
    struct vf_tunnel_peer peer;
    struct tbuf t;
    uint8_t inner[100];
    const uint8_t *f;

    (void)state;
    for (int csum = 0; csum < 2; csum++) {
        rnd_fill(inner, sizeof(inner));
        peer_make(&peer, VF_ENCAP_GENEVE, csum);
        tbuf_init(&t, inner, sizeof(inner));
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 0x123456, 7, 9, 0xabc),
                         0);
        assert_int_equal(t.p.data_off, VF_PKT_HEADROOM - GENEVE_HL);
        assert_int_equal(t.p.len, GENEVE_HL + sizeof(inner));
        f = vf_pkt_data(&t.p);
        check_outer(f, GENEVE_HL, sizeof(inner), 6081, csum);
        /* Geneve base header (RFC 8926 3.4) */
        assert_int_equal(f[42] >> 6, 0);             /* version */
        assert_int_equal(f[42] & 0x3f, 3);           /* 12 option bytes */
        assert_int_equal(f[43], 0);                  /* O, C, reserved */
        assert_int_equal(rd16(f, 44), 0x6558);
        assert_int_equal(rd24(f, 46), 0x123456);
        assert_int_equal(f[49], 0);
        /* Our option (RFC 8926 3.5) */
        assert_int_equal(rd16(f, 50), VF_GENEVE_OPT_CLASS);
        assert_in_range(VF_GENEVE_OPT_CLASS, 0xff00, 0xffff);
        assert_int_equal(f[52], VF_GENEVE_OPT_TYPE);
        assert_int_equal(f[52] & 0x80, 0);           /* not critical */
        assert_int_equal(f[53], 2);                  /* 2 words, R bits 0 */
        assert_int_equal(rd32(f, 54), 7);
        assert_int_equal(rd32(f, 58), 9);
        assert_memory_equal(f + GENEVE_HL, inner, sizeof(inner));
    }
}

static void test_vxlan_encap_layout(void **state)
{
    struct vf_tunnel_peer peer;
    struct tbuf t;
    uint8_t inner[77];
    const uint8_t *f;

    (void)state;
    for (int csum = 0; csum < 2; csum++) {
        rnd_fill(inner, sizeof(inner));
        peer_make(&peer, VF_ENCAP_VXLAN, csum);
        tbuf_init(&t, inner, sizeof(inner));
        /* VNI above 24 bits: only the low 24 go on the wire. */
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 0x7fabcdef, 7, 9, 1),
                         0);
        assert_int_equal(t.p.data_off, VF_PKT_HEADROOM - VXLAN_HL);
        assert_int_equal(t.p.len, VXLAN_HL + sizeof(inner));
        f = vf_pkt_data(&t.p);
        check_outer(f, VXLAN_HL, sizeof(inner), 4789, csum);
        /* VXLAN (RFC 7348 5) */
        assert_int_equal(f[42], 0x08);
        assert_int_equal(rd24(f, 43), 0);
        assert_int_equal(rd24(f, 46), 0xabcdef);
        assert_int_equal(f[49], 0);
        assert_memory_equal(f + VXLAN_HL, inner, sizeof(inner));
    }
}

/* Every inner length up to the MTU: the incremental IPv4 checksum and the
 * UDP checksum verify for all of them. */
static void test_checksums_all_lengths(void **state)
{
    static uint8_t inner[1500];
    struct vf_tunnel_peer peer;
    struct tbuf t;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    for (int e = 0; e < 2; e++) {
        uint32_t hl = e ? VXLAN_HL : GENEVE_HL;

        peer_make(&peer, e ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE, true);
        for (uint32_t n = 14; n + hl - 14 <= 1500; n++) {
            tbuf_init(&t, inner, n);
            assert_int_equal(vf_tunnel_encap(&t.p, &peer, n, 1, 2, n * 31u),
                             0);
            check_outer(vf_pkt_data(&t.p), hl, n, e ? 4789 : 6081, true);
        }
    }
}

static void test_sport_from_flow_hash(void **state)
{
    static uint8_t seen[16384];
    struct vf_tunnel_peer peer;
    uint8_t inner[60] = {0};
    struct tbuf t;
    unsigned distinct = 0, hi_differs = 0;
    uint16_t first = 0, again;

    (void)state;
    memset(seen, 0, sizeof(seen));
    peer_make(&peer, VF_ENCAP_GENEVE, false);
    for (unsigned i = 0; i < 4096; i++) {
        uint32_t h = rnd();
        uint16_t sp;

        tbuf_init(&t, inner, sizeof(inner));
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 1, 1, 1, h), 0);
        sp = rd16(vf_pkt_data(&t.p), 34);
        assert_in_range(sp, 49152, 65535);
        distinct += !seen[sp - 49152];
        seen[sp - 49152] = 1;
        if (i == 0)
            first = sp;
        /* The same hash always gives the same port (one path per flow). */
        if (i == 0) {
            tbuf_init(&t, inner, sizeof(inner));
            assert_int_equal(vf_tunnel_encap(&t.p, &peer, 1, 1, 1, h), 0);
            again = rd16(vf_pkt_data(&t.p), 34);
            assert_int_equal(first, again);
        }
    }
    /* 4096 random hashes over 16384 ports: expect about 3600 distinct. */
    assert_true(distinct > 3000);
    /* Hashes that differ only in their high half still spread. */
    for (uint32_t hi = 1; hi < 65; hi++) {
        uint16_t a, b;

        tbuf_init(&t, inner, sizeof(inner));
        vf_tunnel_encap(&t.p, &peer, 1, 1, 1, 0x1234);
        a = rd16(vf_pkt_data(&t.p), 34);
        tbuf_init(&t, inner, sizeof(inner));
        vf_tunnel_encap(&t.p, &peer, 1, 1, 1, 0x1234 | hi << 16);
        b = rd16(vf_pkt_data(&t.p), 34);
        hi_differs += a != b;
    }
    assert_true(hi_differs > 60);
}

static void test_encap_mtu_and_headroom(void **state)
{
    static uint8_t inner[1600];
    struct vf_tunnel_peer peer;
    struct tbuf t, before;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    for (int e = 0; e < 2; e++) {
        uint32_t over = e ? 36 : 48;   /* outer IP+UDP+tunnel bytes */
        uint32_t hl = over + 14;

        peer_make(&peer, e ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE, true);
        tbuf_init(&t, inner, 1500 - over);
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 5, 1, 2, 3), 0);
        assert_int_equal(rd16(vf_pkt_data(&t.p), 16), 1500);

        tbuf_init(&t, inner, 1500 - over + 1);
        memcpy(&before, &t, sizeof(t));
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 5, 1, 2, 3),
                         VF_DROP_MTU);
        assert_memory_equal(&before.data, &t.data, sizeof(t.data));
        assert_int_equal(t.p.data_off, before.p.data_off);
        assert_int_equal(t.p.len, before.p.len);

        /* Headroom one byte short: refused and untouched; exact: fine. */
        tbuf_init(&t, inner, 100);
        t.p.data_off = hl - 1;
        memcpy(t.data + hl - 1, inner, 100);
        memcpy(&before, &t, sizeof(t));
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 5, 1, 2, 3),
                         VF_DROP_ENCAP_NO_HEADROOM);
        assert_memory_equal(&before.data, &t.data, sizeof(t.data));
        assert_int_equal(t.p.data_off, hl - 1);
        assert_int_equal(t.p.len, 100);
        t.p.data_off = hl;
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, 5, 1, 2, 3), 0);
        assert_int_equal(t.p.data_off, 0);
    }
}

/* ---- round trips ----------------------------------------------------------- */

static void test_roundtrip_random(void **state)
{
    static uint8_t inner[1500];
    struct vf_tunnel_peer peer;
    struct vf_tunnel_md md;
    struct tbuf t;

    (void)state;
    for (unsigned i = 0; i < 3000; i++) {
        enum vf_encap e = rnd() & 1 ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE;
        uint32_t hl = e == VF_ENCAP_VXLAN ? VXLAN_HL : GENEVE_HL;
        uint32_t n = rnd_range(14, 1500 - (hl - 14));
        uint32_t vni = rnd() & 0xffffff, in = rnd(), out = rnd();
        uint32_t src = rnd(), dst = rnd();

        rnd_fill(inner, n);
        vf_tunnel_peer_init(&peer, e, src, dst, 0, MAC_SRC, MAC_DST, 0,
                            rnd() & 1);
        tbuf_init(&t, inner, n);
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, vni, in, out, rnd()),
                         0);
        memset(&md, 0xa5, sizeof(md));
        assert_int_equal(vf_tunnel_decap(&t.p, VF_GENEVE_UDP_PORT,
                                         VF_VXLAN_UDP_PORT, &md), 0);
        assert_int_equal(t.p.data_off, VF_PKT_HEADROOM);
        assert_int_equal(t.p.len, n);
        assert_memory_equal(vf_pkt_data(&t.p), inner, n);
        assert_int_equal(md.encap, e);
        assert_int_equal(md.vni, vni);
        assert_int_equal(md.outer_src_ip, src);
        assert_int_equal(md.outer_dst_ip, dst);
        if (e == VF_ENCAP_GENEVE) {
            assert_true(md.has_ports);
            assert_int_equal(md.in_lport, in);
            assert_int_equal(md.out_lport, out);
        } else {
            assert_false(md.has_ports);
        }
    }
}

/* Non-default ports: decap takes the ports it is given. */
static void test_roundtrip_custom_ports(void **state)
{
    struct vf_tunnel_peer peer;
    struct vf_tunnel_md md;
    uint8_t inner[64];
    struct tbuf t;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    vf_tunnel_peer_init(&peer, VF_ENCAP_VXLAN, 1, 2, 8472, NULL, NULL, 0, 0);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &peer, 9, 0, 0, 0), 0);
    assert_int_equal(vf_tunnel_decap(&t.p, 6081, 4789, &md),
                     VF_DROP_TUN_BAD_PORT);
    assert_int_equal(vf_tunnel_decap(&t.p, 6081, 8472, &md), 0);
    assert_int_equal(md.vni, 9);
    assert_int_equal(md.encap, VF_ENCAP_VXLAN);
}

/* ---- decap acceptance ------------------------------------------------------ */

static void test_geneve_without_options(void **state)
{
    uint8_t inner[60], f[200];
    struct vf_tunnel_md md;
    struct gen g;
    uint32_t n, off, ilen;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    g = gen_geneve(inner, sizeof(inner));
    g.vni = 0xfedcba;
    n = gen_frame(f, &g);   /* as Open vSwitch sends it: Opt Len 0 */
    memset(&md, 0xa5, sizeof(md));
    assert_int_equal(decap_exact(f, n, 6081, 4789, &md, &off, &ilen), 0);
    assert_int_equal(off, 50);
    assert_int_equal(ilen, sizeof(inner));
    assert_int_equal(md.encap, VF_ENCAP_GENEVE);
    assert_int_equal(md.vni, 0xfedcba);
    assert_false(md.has_ports);
    assert_int_equal(md.in_lport, 0);
    assert_int_equal(md.out_lport, 0);
    assert_int_equal(md.outer_src_ip, htonl(IP_B));
    assert_int_equal(md.outer_dst_ip, htonl(IP_A));
    assert_int_equal(md.outer_src_port, 50000);   /* gen_frame's */
}

static void test_geneve_foreign_options(void **state)
{
    uint8_t inner[60], f[300], opts[64];
    struct vf_tunnel_md md;
    struct gen g;
    uint32_t n, o = 0;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    /* A non-critical foreign option before ours and an empty one after:
     * skipped; ours is found in the middle. The C bit is only a hint. */
    o += gen_opt(opts + o, 0x0102, 0x05, 3, 1, 2);
    o += gen_opt(opts + o, VF_GENEVE_OPT_CLASS, VF_GENEVE_OPT_TYPE, 2, 11, 0);
    o += gen_opt(opts + o, 0xff00, 0x7f, 0, 0, 0);
    g = gen_geneve(inner, sizeof(inner));
    g.opts = opts;
    g.opt_len = o;
    g.flags = 0x40;
    n = gen_frame(f, &g);
    assert_int_equal(decap_exact(f, n, 6081, 4789, &md, NULL, NULL), 0);
    assert_true(md.has_ports);
    assert_int_equal(md.in_lport, 11);
    assert_int_equal(md.out_lport, 0);

    /* Our class with another, critical, type: unknown, so dropped. */
    o = gen_opt(opts, VF_GENEVE_OPT_CLASS, VF_GENEVE_OPT_TYPE | 0x80, 2, 1, 2);
    g.opt_len = o;
    n = gen_frame(f, &g);
    assert_int_equal(decap_exact(f, n, 6081, 4789, &md, NULL, NULL),
                     VF_DROP_TUN_BAD_FLAGS);
}

/* Ethernet padding after the IP datagram is not part of the inner frame;
 * IPv4 options in the outer header are skipped. */
static void test_decap_padding_and_ip_options(void **state)
{
    struct vf_tunnel_peer peer;
    struct vf_tunnel_md md;
    uint8_t inner[20], f[200];
    struct tbuf t;
    uint32_t n, off, ilen;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    peer_make(&peer, VF_ENCAP_VXLAN, false);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &peer, 3, 0, 0, 0), 0);
    n = t.p.len;
    memcpy(f, vf_pkt_data(&t.p), n);
    memset(f + n, 0xee, 30);
    assert_int_equal(decap_exact(f, n + 30, 6081, 4789, &md, &off, &ilen), 0);
    assert_int_equal(off, VXLAN_HL);
    assert_int_equal(ilen, sizeof(inner));

    /* IHL 6: four bytes of IP options (NOPs) after the base header. */
    memmove(f + 38, f + 34, n - 34);
    memset(f + 34, 1, 4);
    f[14] = 0x46;
    wr16(f, 16, (uint16_t)(rd16(f, 16) + 4));
    assert_int_equal(decap_exact(f, n + 4, 6081, 4789, &md, &off, &ilen), 0);
    assert_int_equal(off, VXLAN_HL + 4);
    assert_int_equal(ilen, sizeof(inner));
    assert_memory_equal(f + off, inner, sizeof(inner));
}

/* ---- decap rejections -------------------------------------------------------- */

enum { MUT_LEN, MUT_U8, MUT_U16 };

struct bad_case {
    const char *what;
    int vxlan;
    int kind;
    uint32_t off;       /* byte to change, or new length for MUT_LEN */
    uint32_t val;       /* new value (MUT_U8 / MUT_U16) */
    int rc;
};

static void test_decap_each_failure(void **state)
{
    /* Frames with 20 inner bytes: Geneve 82 bytes, UDP length 48; VXLAN 70
     * bytes, UDP length 36. */
    static const struct bad_case cases[] = {
        {"no Ethernet", 0, MUT_LEN, 13, 0, VF_DROP_TUN_TRUNC},
        {"IPv6 ethertype", 0, MUT_U16, 12, 0x86dd, VF_DROP_TUN_NOT_UDP},
        {"ARP ethertype", 1, MUT_U16, 12, 0x0806, VF_DROP_TUN_NOT_UDP},
        {"IPv4 header cut", 0, MUT_LEN, 33, 0, VF_DROP_TUN_TRUNC},
        {"IP version 6", 0, MUT_U8, 14, 0x65, VF_DROP_TUN_NOT_UDP},
        {"IHL 4", 0, MUT_U8, 14, 0x44, VF_DROP_TUN_NOT_UDP},
        {"IHL 15 past frame", 1, MUT_U8, 14, 0x4f, VF_DROP_TUN_TRUNC},
        {"MF fragment", 0, MUT_U16, 20, 0x2000, VF_DROP_TUN_NOT_UDP},
        {"fragment offset", 1, MUT_U16, 20, 0x4001, VF_DROP_TUN_NOT_UDP},
        {"TCP", 0, MUT_U8, 23, 6, VF_DROP_TUN_NOT_UDP},
        {"GRE", 1, MUT_U8, 23, 47, VF_DROP_TUN_NOT_UDP},
        {"IP length > frame", 0, MUT_U16, 16, 69, VF_DROP_TUN_TRUNC},
        {"IP length < header+UDP", 0, MUT_U16, 16, 27, VF_DROP_TUN_TRUNC},
        {"IP length 0", 1, MUT_U16, 16, 0, VF_DROP_TUN_TRUNC},
        {"frame cut in payload", 0, MUT_LEN, 81, 0, VF_DROP_TUN_TRUNC},
        {"UDP length 7", 0, MUT_U16, 38, 7, VF_DROP_TUN_TRUNC},
        {"UDP length > IP", 0, MUT_U16, 38, 49, VF_DROP_TUN_TRUNC},
        {"unknown port", 0, MUT_U16, 36, 1234, VF_DROP_TUN_BAD_PORT},
        {"geneve to vxlan port", 0, MUT_U16, 36, 4789, VF_DROP_TUN_BAD_FLAGS},
        {"UDP no room for Geneve", 0, MUT_U16, 38, 15, VF_DROP_TUN_TRUNC},
        {"UDP no room for VXLAN", 1, MUT_U16, 38, 15, VF_DROP_TUN_TRUNC},
        {"Geneve version 1", 0, MUT_U8, 42, 0x43, VF_DROP_TUN_BAD_VERSION},
        {"Geneve version 3", 0, MUT_U8, 42, 0xc3, VF_DROP_TUN_BAD_VERSION},
        {"Geneve O bit", 0, MUT_U8, 43, 0x80, VF_DROP_TUN_BAD_FLAGS},
        {"Opt Len past datagram", 0, MUT_U8, 42, 0x0a, VF_DROP_TUN_BAD_OPTLEN},
        {"Opt Len 63", 0, MUT_U8, 42, 0x3f, VF_DROP_TUN_BAD_OPTLEN},
        {"option past Opt Len", 0, MUT_U8, 53, 3, VF_DROP_TUN_BAD_OPTLEN},
        {"our option too short", 0, MUT_U8, 53, 1, VF_DROP_TUN_BAD_OPTLEN},
        {"Opt Len cuts option", 0, MUT_U8, 42, 0x02, VF_DROP_TUN_BAD_OPTLEN},
        {"unknown critical", 0, MUT_U16, 51, 0x0181, VF_DROP_TUN_BAD_FLAGS},
        {"Geneve proto IPv4", 0, MUT_U16, 44, 0x0800, VF_DROP_TUN_BAD_PROTO},
        {"inner 13 bytes", 0, MUT_U16, 38, 8 + 20 + 13, VF_DROP_TUN_TRUNC},
        {"VXLAN inner 13", 1, MUT_U16, 38, 8 + 8 + 13, VF_DROP_TUN_TRUNC},
        {"VXLAN no I flag", 1, MUT_U8, 42, 0x00, VF_DROP_TUN_BAD_FLAGS},
        {"VXLAN all but I", 1, MUT_U8, 42, 0xf7, VF_DROP_TUN_BAD_FLAGS},
    };
    struct vf_tunnel_peer gp, vp;
    struct vf_tunnel_md md;
    uint8_t inner[20], gf[128], vf[128], f[128];
    struct tbuf t;
    uint32_t gn, vn;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    peer_make(&gp, VF_ENCAP_GENEVE, false);
    peer_make(&vp, VF_ENCAP_VXLAN, false);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &gp, 1, 2, 3, 4), 0);
    gn = t.p.len;
    memcpy(gf, vf_pkt_data(&t.p), gn);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &vp, 1, 2, 3, 4), 0);
    vn = t.p.len;
    memcpy(vf, vf_pkt_data(&t.p), vn);
    assert_int_equal(gn, 82);
    assert_int_equal(vn, 70);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        uint32_t n = c->vxlan ? vn : gn;
        int rc;

        memcpy(f, c->vxlan ? vf : gf, n);
        if (c->kind == MUT_LEN)
            n = c->off;
        else if (c->kind == MUT_U8)
            f[c->off] = (uint8_t)c->val;
        else
            wr16(f, c->off, (uint16_t)c->val);
        rc = decap_exact(f, n, 6081, 4789, &md, NULL, NULL);
        if (rc != c->rc)
            fail_msg("%s: got %s, want %s", c->what, vf_drop_name(rc),
                     vf_drop_name(c->rc));
    }
}

/* Truncating a valid frame anywhere must fail with tunnel_truncated: the IP
 * total length no longer fits. Covers every byte of headers and payload. */
static void test_truncation_every_length(void **state)
{
    static uint8_t inner[1400];
    uint8_t opts[16];
    static uint8_t f[1600];
    struct vf_tunnel_peer peer;
    struct vf_tunnel_md md;
    struct tbuf t;
    struct gen g;

    (void)state;
    rnd_fill(inner, sizeof(inner));
    for (int v = 0; v < 5; v++) {
        uint32_t n, ilen = v == 4 ? sizeof(inner) : 14 + 3 * (uint32_t)v;

        if (v == 3) {           /* Geneve with a foreign option only */
            g = gen_geneve(inner, ilen);
            g.opts = opts;
            g.opt_len = gen_opt(opts, 0x0001, 0x02, 1, 5, 0);
            n = gen_frame(f, &g);
        } else {
            peer_make(&peer, v & 1 ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE, v);
            tbuf_init(&t, inner, ilen);
            assert_int_equal(vf_tunnel_encap(&t.p, &peer, 1, 2, 3, 4), 0);
            n = t.p.len;
            memcpy(f, vf_pkt_data(&t.p), n);
        }
        assert_int_equal(decap_exact(f, n, 6081, 4789, &md, NULL, NULL), 0);
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(decap_exact(f, k, 6081, 4789, &md, NULL, NULL),
                             VF_DROP_TUN_TRUNC);
    }
}

/* ---- fuzz ------------------------------------------------------------------ */

#define FUZZ_ITERS 200000u
#define FUZZ_ROOM 512u

static void test_fuzz_mutations(void **state)
{
    uint8_t seeds[6][FUZZ_ROOM], opts[64], inner[120];
    uint32_t seed_len[6];
    uint8_t *mem = malloc(FUZZ_ROOM);
    uint8_t work[FUZZ_ROOM];
    struct vf_tunnel_peer peer;
    struct vf_tunnel_md md, ref_md;
    struct tbuf t;
    struct gen g;
    unsigned accepted = 0, rejected = 0, i, s;

    (void)state;
    assert_non_null(mem);
    rnd_fill(inner, sizeof(inner));
    for (s = 0; s < 4; s++) {
        peer_make(&peer, s & 1 ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE, s >> 1);
        tbuf_init(&t, inner, 14 + 30 * s);
        assert_int_equal(vf_tunnel_encap(&t.p, &peer, s, 5, 6, s), 0);
        seed_len[s] = t.p.len;
        memcpy(seeds[s], vf_pkt_data(&t.p), t.p.len);
    }
    g = gen_geneve(inner, 40);
    seed_len[4] = gen_frame(seeds[4], &g);
    g.opts = opts;
    g.opt_len = gen_opt(opts, 0x0100, 0x03, 1, 1, 0);
    g.opt_len += gen_opt(opts + g.opt_len, VF_GENEVE_OPT_CLASS,
                         VF_GENEVE_OPT_TYPE, 2, 8, 9);
    g.opt_len += gen_opt(opts + g.opt_len, 0x0100, 0x04, 0, 0, 0);
    seed_len[5] = gen_frame(seeds[5], &g);

    for (i = 0; i < FUZZ_ITERS; i++) {
        uint32_t n, off = 0, ilen = 0, roff = 0, rlen = 0;
        unsigned muts = rnd_range(1, 4);
        bool ref;
        struct vf_pkt p;
        int rc;

        s = rnd() % 6;
        n = seed_len[s];
        memcpy(work, seeds[s], n);
        while (muts--) {
            uint32_t r = rnd(), pos;

            /* Mostly the headers (first 80 bytes), where the checks are. */
            pos = (r & 3) ? rnd() % (n < 80 ? n : 80) : rnd() % n;
            switch ((r >> 2) % 5) {
            case 0:
                work[pos] = (uint8_t)rnd();
                break;
            case 1:
                work[pos] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 2:     /* a length field: IP total, UDP, Opt Len, option */
                if (r & 64)
                    wr16(work, (r & 128) ? 16 : 38,
                         (uint16_t)(rd16(work, (r & 128) ? 16 : 38) +
                                    rnd_range(0, 16) - 8));
                else
                    work[(r & 128) ? 42 : 53] = (uint8_t)rnd();
                break;
            case 3:     /* truncate */
                n = rnd() % (n + 1);
                break;
            default:    /* extend with junk */
                if (n + 16 <= FUZZ_ROOM) {
                    rnd_fill(work + n, 16);
                    n += rnd_range(1, 16);
                }
                break;
            }
            if (n == 0)
                break;
        }
        /* The frame ends at the end of the heap block. */
        memcpy(mem + FUZZ_ROOM - n, work, n);
        memset(&p, 0, sizeof(p));
        p.buf = mem;
        p.buf_len = FUZZ_ROOM;
        p.data_off = FUZZ_ROOM - n;
        p.len = n;
        rc = vf_tunnel_decap(&p, 6081, 4789, &md);
        ref = ref_accept(work, n, 6081, 4789, &roff, &rlen, &ref_md);
        if (rc) {
            rejected++;
            if (ref)
                fail_msg("iter %u: decap refused (%s) a frame the reference "
                         "accepts", i, vf_drop_name(rc));
            assert_true(rc >= VF_DROP_TUN_TRUNC &&
                        rc <= VF_DROP_TUN_BAD_PROTO);
            assert_int_equal(p.data_off, FUZZ_ROOM - n);
            assert_int_equal(p.len, n);
            assert_memory_equal(mem + FUZZ_ROOM - n, work, n);
            continue;
        }
        accepted++;
        if (!ref)
            fail_msg("iter %u: decap accepted a frame the reference refuses",
                     i);
        off = p.data_off - (FUZZ_ROOM - n);
        ilen = p.len;
        assert_int_equal(off, roff);
        assert_int_equal(ilen, rlen);
        assert_true(off + ilen <= n && ilen >= 14);
        assert_int_equal(md.encap, ref_md.encap);
        assert_int_equal(md.vni, ref_md.vni);
        assert_int_equal(md.outer_src_ip, ref_md.outer_src_ip);
        assert_int_equal(md.outer_dst_ip, ref_md.outer_dst_ip);
        assert_int_equal(md.outer_src_port, ref_md.outer_src_port);
        assert_int_equal(md.has_ports, ref_md.has_ports);
        assert_int_equal(md.in_lport, ref_md.in_lport);
        assert_int_equal(md.out_lport, ref_md.out_lport);
        assert_memory_equal(mem + FUZZ_ROOM - n, work, n);
    }
    free(mem);
    /* The mutations must explore both sides, or the loop proves little. */
    assert_true(accepted > FUZZ_ITERS / 20);
    assert_true(rejected > FUZZ_ITERS / 4);
}

/* ---- pcap for tshark ------------------------------------------------------- */

static void pcap_put32(FILE *fp, uint32_t v)
{
    assert_int_equal(fwrite(&v, 4, 1, fp), 1); /* native order + magic */
}

static void pcap_record(FILE *fp, const struct vf_pkt *p, uint32_t sec)
{
    pcap_put32(fp, sec);
    pcap_put32(fp, 0);
    pcap_put32(fp, p->len);
    pcap_put32(fp, p->len);
    assert_int_equal(fwrite(vf_pkt_data(p), 1, p->len, fp), p->len);
}

/* Writes VF_PCAP_DIR/tunnel.pcap: frame 1 Geneve (VNI 0x123456, ports 7 and
 * 9, UDP checksum), frame 2 VXLAN (VNI 0xabcdef, UDP checksum), frame 3
 * Geneve (VNI 4242, ports 1 and 0, no UDP checksum). */
static void test_write_pcap(void **state)
{
    const char *dir = getenv("VF_PCAP_DIR");
    struct vf_tunnel_peer peer;
    uint8_t inner[64];
    char path[4096];
    struct tbuf t;
    FILE *fp;

    (void)state;
    if (!dir)
        skip();
    /* Inner: a broadcast frame with the local-experimental EtherType. */
    memset(inner, 0, sizeof(inner));
    memset(inner, 0xff, 6);
    memcpy(inner + 6, MAC_SRC, 6);
    wr16(inner, 12, 0x88b5);
    memcpy(inner + 14, "vfab tunnel test", 16);
    snprintf(path, sizeof(path), "%s/tunnel.pcap", dir);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    pcap_put32(fp, 0xa1b2c3d4);         /* microsecond pcap */
    pcap_put32(fp, 2 | 4u << 16);       /* version 2.4 */
    pcap_put32(fp, 0);                  /* thiszone */
    pcap_put32(fp, 0);                  /* sigfigs */
    pcap_put32(fp, 65535);              /* snaplen */
    pcap_put32(fp, 1);                  /* LINKTYPE_ETHERNET */

    peer_make(&peer, VF_ENCAP_GENEVE, true);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &peer, 0x123456, 7, 9, 1), 0);
    pcap_record(fp, &t.p, 1);
    peer_make(&peer, VF_ENCAP_VXLAN, true);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &peer, 0xabcdef, 7, 9, 2), 0);
    pcap_record(fp, &t.p, 2);
    peer_make(&peer, VF_ENCAP_GENEVE, false);
    tbuf_init(&t, inner, sizeof(inner));
    assert_int_equal(vf_tunnel_encap(&t.p, &peer, 4242, 1, 0, 3), 0);
    pcap_record(fp, &t.p, 3);
    assert_int_equal(fclose(fp), 0);
}

/* ---- segmentation of large TCP frames (tunnel/vf_segment.h) ----
 * Each segment is checked against values computed here from the original
 * frame with the scalar reference sum: lengths, IP id, sequence numbers,
 * flags and both checksums; the payloads put back together must equal the
 * original payload. */

#define SEG_ROOM (VF_PKT_HEADROOM + 65536u + 32u + VF_SEG_BATCH_TAILROOM)
#define SEG_TCP_HL 32u              /* TCP with 12 bytes of options */

struct bigbuf {
    struct vf_pkt p;
    uint8_t data[SEG_ROOM];
};

static struct bigbuf *big_alloc(void)
{
    struct bigbuf *b = aligned_alloc(64, sizeof(*b));
    assert_non_null(b);
    memset(&b->p, 0, sizeof(b->p));
    b->p.buf = b->data;
    b->p.buf_len = SEG_ROOM;
    vf_pkt_reset(&b->p);
    return b;
}

static uint16_t rd16_(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32_(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A large TCP frame (IPv4 or IPv6), payload bytes from a fixed seed. */
static uint32_t big_tcp_frame(uint8_t *f, bool ip6, uint32_t payload,
                              uint8_t flags)
{
    uint32_t l3 = 14, l4 = l3 + (ip6 ? 40u : 20u), hl = l4 + SEG_TCP_HL;
    uint64_t x = 0x9e3779b97f4a7c15ull;

    memset(f, 0, hl);
    memcpy(f, MAC_DST, 6);
    memcpy(f + 6, MAC_SRC, 6);
    f[12] = ip6 ? 0x86 : 0x08;
    f[13] = ip6 ? 0xdd : 0x00;
    uint8_t *ip = f + l3;
    if (ip6) {
        ip[0] = 0x60;
        ip[4] = (uint8_t)((SEG_TCP_HL + payload) >> 8);
        ip[5] = (uint8_t)(SEG_TCP_HL + payload);
        ip[6] = 6;
        ip[7] = 64;
        for (int i = 0; i < 32; i++)
            ip[8 + i] = (uint8_t)(0x20 + i);
    } else {
        uint32_t tot = 20 + SEG_TCP_HL + payload;
        ip[0] = 0x45;
        ip[2] = (uint8_t)(tot >> 8);
        ip[3] = (uint8_t)tot;
        ip[4] = 0xff;               /* id 0xfff0: segments wrap past 0xffff */
        ip[5] = 0xf0;
        ip[6] = 0x40;               /* DF */
        ip[8] = 64;
        ip[9] = 6;
        memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    }
    uint8_t *t = f + l4;
    t[0] = 0x9c; t[1] = 0x40; t[2] = 0x14; t[3] = 0x51;   /* ports */
    t[4] = 0xff; t[5] = 0xff; t[6] = 0xf0; t[7] = 0x00;   /* seq wraps */
    t[8] = 0x12; t[9] = 0x34; t[10] = 0x56; t[11] = 0x78; /* ack */
    t[12] = (SEG_TCP_HL / 4) << 4;
    t[13] = flags;
    t[14] = 0x01; t[15] = 0xf5;
    t[16] = 0xde; t[17] = 0xad;     /* a partial sum the segmenter ignores */
    t[20] = 1; t[21] = 1; t[22] = 8; t[23] = 10;          /* NOP NOP TS */
    for (uint32_t i = 0; i < payload; i++) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        f[hl + i] = (uint8_t)((x * 0x2545f4914f6cdd1dull) >> 56);
    }
    return hl + payload;
}

/* Checks one segment (a complete inner frame) against the original. */
static void check_segment(const uint8_t *seg, uint32_t seg_len,
                          const uint8_t *orig, bool ip6, unsigned i,
                          unsigned n, uint32_t mss, uint32_t payload)
{
    uint32_t l3 = 14, l4 = l3 + (ip6 ? 40u : 20u), hl = l4 + SEG_TCP_HL;
    uint32_t plen = i + 1 < n ? mss : payload - (n - 1) * mss;
    const uint8_t *ip = seg + l3, *t = seg + l4;

    assert_int_equal(seg_len, hl + plen);
    assert_memory_equal(seg, orig, 14);
    if (ip6) {
        assert_int_equal(rd16_(ip + 4), SEG_TCP_HL + plen);
        assert_memory_equal(ip + 6, orig + l3 + 6, 34);
    } else {
        assert_int_equal(rd16_(ip + 2), 20 + SEG_TCP_HL + plen);
        assert_int_equal(rd16_(ip + 4), (uint16_t)(0xfff0 + i));
        assert_int_equal(vf_csum_fold(vf_csum_add_scalar(0, ip, 20)), 0xffff);
        assert_memory_equal(ip + 12, orig + l3 + 12, 8);
    }
    assert_int_equal(rd32_(t + 4), (uint32_t)(0xfffff000u + i * mss));
    assert_memory_equal(t + 8, orig + l4 + 8, 5);   /* ack, data offset */
    uint8_t want = orig[l4 + 13];
    if (i + 1 < n)
        want &= (uint8_t)~0x09;     /* FIN and PSH only on the last */
    if (i > 0)
        want &= (uint8_t)~0x80;     /* CWR only on the first */
    assert_int_equal(t[13], want);
    /* The TCP checksum over the pseudo-header verifies to 0xffff. */
    uint64_t sum = ip6 ? vf_csum_add_scalar(0, ip + 8, 32)
                       : vf_csum_add_scalar(0, ip + 12, 8);
    sum += 6 + SEG_TCP_HL + plen;
    sum = vf_csum_add_scalar(sum, t, SEG_TCP_HL + plen);
    assert_int_equal(vf_csum_fold(sum), 0xffff);
    assert_memory_equal(seg + hl, orig + hl + (size_t)i * mss, plen);
}

static void seg_build_case(bool ip6, uint32_t payload, uint16_t mss)
{
    struct bigbuf *b = big_alloc();
    uint8_t *orig = malloc(SEG_ROOM);
    assert_non_null(orig);
    uint32_t len = big_tcp_frame(orig, ip6, payload, 0x80 | 0x10 | 0x08 | 0x01);
    assert_int_equal(vf_pkt_set(&b->p, orig, len), 0);
    b->p.gso_size = mss;
    b->p.meta.flow_hash = 77;

    struct vf_seg_info si;
    assert_int_equal(vf_seg_parse(&b->p, mss, &si), 0);
    assert_int_equal(si.ip6, ip6);
    assert_int_equal(si.hdr_len, 14 + (ip6 ? 40 : 20) + SEG_TCP_HL);
    assert_int_equal(si.payload, payload);
    unsigned n = payload ? (payload + mss - 1) / mss : 1;
    assert_int_equal(si.n_segs, n);
    struct tbuf t;
    for (unsigned i = 0; i < n; i++) {
        tbuf_init(&t, orig, 0);
        assert_int_equal(vf_seg_build(&b->p, &si, i, &t.p), 0);
        assert_int_equal(t.p.gso_size, 0);
        assert_int_equal(t.p.meta.flow_hash, 77);
        check_segment(vf_pkt_data(&t.p), t.p.len, orig, ip6, i, n, mss, payload);
    }
    /* The input is never changed. */
    assert_int_equal(b->p.len, len);
    assert_memory_equal(vf_pkt_data(&b->p), orig, len);
    free(orig);
    free(b);
}

static void test_seg_build_ipv4(void **state)
{
    (void)state;
    seg_build_case(false, 60000, 1398);   /* 43 segments, a short last */
    seg_build_case(false, 1398 * 5, 1398);/* exact multiple */
    seg_build_case(false, 100, 1398);     /* one segment */
}

static void test_seg_build_ipv6(void **state)
{
    (void)state;
    seg_build_case(true, 30001, 1378);
}

/* The batch: outer headers once, then datagrams of gso_size bytes, each
 * its own tunnel header and a whole segment; every datagram, given the
 * outer headers the UDP uplink rebuilds on receive, decaps to segment i. */
static void seg_batch_case(enum vf_encap e, uint16_t mtu, uint32_t payload,
                           uint16_t mss)
{
    struct bigbuf *b = big_alloc();
    uint8_t *orig = malloc(SEG_ROOM);
    assert_non_null(orig);
    uint32_t len = big_tcp_frame(orig, false, payload, 0x10 | 0x08);
    assert_int_equal(vf_pkt_set(&b->p, orig, len), 0);
    b->p.gso_size = mss;
    struct vf_tunnel_peer peer;
    vf_tunnel_peer_init(&peer, e, htonl(IP_A), htonl(IP_B), 0, MAC_SRC,
                        MAC_DST, mtu, false);
    uint32_t hl = e == VF_ENCAP_GENEVE ? GENEVE_HL : VXLAN_HL;
    uint32_t tl = hl - 42;
    uint32_t inner_hl = 14 + 20 + SEG_TCP_HL;

    struct vf_seg_info si;
    assert_int_equal(vf_seg_parse(&b->p, mss, &si), 0);
    uint32_t eff = mss;
    if (hl - 14 + inner_hl + eff > peer.mtu)
        eff = peer.mtu - (hl - 14) - inner_hl;
    unsigned n = (payload + eff - 1) / eff;
    assert_int_equal(vf_seg_tunnel_batch(&b->p, &si, &peer, 0x123456, 5, 6,
                                         0xbeef), 0);
    uint32_t chunk = tl + inner_hl + eff;
    assert_int_equal(b->p.gso_size, n > 1 ? chunk : 0);
    assert_int_equal(b->p.len, hl + (n - 1) * chunk + inner_hl +
                                   (payload - (n - 1) * eff));
    const uint8_t *f = vf_pkt_data(&b->p);
    /* Outer lengths are those of the first datagram. */
    uint32_t first = n > 1 ? chunk : b->p.len - 42;
    assert_int_equal(rd16_(f + 14 + 2), 28 + first);
    assert_int_equal(rd16_(f + 34 + 4), 8 + first);
    assert_int_equal(vf_csum_fold(vf_csum_add_scalar(0, f + 14, 20)), 0xffff);
    struct tbuf t;
    for (unsigned i = 0; i < n; i++) {
        uint32_t dlen = i + 1 < n ? chunk : b->p.len - 42 - (n - 1) * chunk;
        const uint8_t *d = f + 42 + (size_t)i * chunk;
        assert_true(28 + dlen <= peer.mtu);
        /* What the receiver's UDP uplink hands decap. */
        static uint8_t frame[2048];
        memcpy(frame, f, 42);
        memcpy(frame + 42, d, dlen);
        frame[16] = (uint8_t)((28 + dlen) >> 8);
        frame[17] = (uint8_t)(28 + dlen);
        frame[24] = frame[25] = 0;
        uint16_t c = (uint16_t)~vf_csum_fold(vf_csum_add_scalar(0, frame + 14, 20));
        frame[24] = (uint8_t)(c >> 8);
        frame[25] = (uint8_t)c;
        frame[38] = (uint8_t)((8 + dlen) >> 8);
        frame[39] = (uint8_t)(8 + dlen);
        tbuf_init(&t, frame, 42 + dlen);
        struct vf_tunnel_md md;
        assert_int_equal(vf_tunnel_decap(&t.p, VF_GENEVE_UDP_PORT,
                                         VF_VXLAN_UDP_PORT, &md), 0);
        assert_int_equal(md.vni, 0x123456);
        if (e == VF_ENCAP_GENEVE) {
            assert_true(md.has_ports);
            assert_int_equal(md.in_lport, 5);
            assert_int_equal(md.out_lport, 6);
        }
        check_segment(vf_pkt_data(&t.p), t.p.len, orig, false, i, n, eff,
                      payload);
    }
    free(orig);
    free(b);
}

static void test_seg_batch_geneve(void **state)
{
    (void)state;
    seg_batch_case(VF_ENCAP_GENEVE, 0, 63000, 1398);  /* clamped to 1500 */
    seg_batch_case(VF_ENCAP_GENEVE, 9000, 20000, 1398);
    seg_batch_case(VF_ENCAP_GENEVE, 0, 1000, 1398);   /* one datagram */
}

static void test_seg_batch_vxlan(void **state)
{
    (void)state;
    seg_batch_case(VF_ENCAP_VXLAN, 1500, 40000, 1448);
    seg_batch_case(VF_ENCAP_VXLAN, 700, 9000, 1448);  /* small underlay */
}

static void test_seg_refusals(void **state)
{
    (void)state;
    struct bigbuf *b = big_alloc();
    uint8_t *orig = malloc(SEG_ROOM);
    assert_non_null(orig);
    struct vf_tunnel_peer peer;
    struct vf_seg_info si;
    vf_tunnel_peer_init(&peer, VF_ENCAP_GENEVE, htonl(IP_A), htonl(IP_B), 0,
                        MAC_SRC, MAC_DST, 0, false);

    /* More than VF_SEG_MAX_SEGS segments: the caller builds them apart. */
    uint32_t len = big_tcp_frame(orig, false, 20000, 0x10);
    assert_int_equal(vf_pkt_set(&b->p, orig, len), 0);
    assert_int_equal(vf_seg_parse(&b->p, 200, &si), 0);
    assert_int_equal(vf_seg_tunnel_batch(&b->p, &si, &peer, 1, 1, 1, 1), -E2BIG);
    assert_int_equal(b->p.len, len);
    assert_memory_equal(vf_pkt_data(&b->p), orig, len);

    /* Short tailroom: refused, unchanged. */
    b->p.buf_len = VF_PKT_HEADROOM + len + 100;
    assert_int_equal(vf_seg_parse(&b->p, 1398, &si), 0);
    assert_int_equal(vf_seg_tunnel_batch(&b->p, &si, &peer, 1, 1, 1, 1),
                     VF_DROP_SEG_NO_ROOM);
    assert_memory_equal(vf_pkt_data(&b->p), orig, len);
    b->p.buf_len = SEG_ROOM;

    /* An underlay too small for the headers alone. */
    vf_tunnel_peer_init(&peer, VF_ENCAP_GENEVE, htonl(IP_A), htonl(IP_B), 0,
                        MAC_SRC, MAC_DST, 100, false);
    assert_int_equal(vf_seg_tunnel_batch(&b->p, &si, &peer, 1, 1, 1, 1),
                     VF_DROP_MTU);

    /* Not TCP, truncated headers, a lying length: refused by parse. */
    orig[14 + 9] = 17;
    assert_int_equal(vf_pkt_set(&b->p, orig, len), 0);
    assert_int_not_equal(vf_seg_parse(&b->p, 1398, &si), 0);
    orig[14 + 9] = 6;
    assert_int_equal(vf_pkt_set(&b->p, orig, 14 + 20 + 10), 0);
    assert_int_not_equal(vf_seg_parse(&b->p, 1398, &si), 0);
    assert_int_equal(vf_pkt_set(&b->p, orig, 1000), 0);   /* tot_len > len */
    assert_int_not_equal(vf_seg_parse(&b->p, 1398, &si), 0);
    assert_int_equal(vf_pkt_set(&b->p, orig, len), 0);
    assert_int_not_equal(vf_seg_parse(&b->p, 0, &si), 0);
    free(orig);
    free(b);
}

/* The receiver's side: a batch as UDP GRO hands it over merges back into
 * one large frame with the original payload; one out-of-order datagram
 * makes the merge refuse, untouched, and the split then yields each
 * datagram as an ordinary frame that decaps to its segment. */
static void test_seg_gro_merge_and_split(void **state)
{
    (void)state;
    struct bigbuf *b = big_alloc();
    uint8_t *orig = malloc(SEG_ROOM), *copy = malloc(SEG_ROOM);
    assert_non_null(orig);
    assert_non_null(copy);
    const uint32_t payload = 50000, ihl = 14 + 20 + SEG_TCP_HL;
    uint32_t len = big_tcp_frame(orig, false, payload, 0x10 | 0x08);
    struct vf_tunnel_peer peer;
    vf_tunnel_peer_init(&peer, VF_ENCAP_GENEVE, htonl(IP_A), htonl(IP_B), 0,
                        MAC_SRC, MAC_DST, 0, false);
    struct vf_seg_info si;
    for (int round = 0; round < 2; round++) {
        vf_pkt_reset(&b->p);
        assert_int_equal(vf_pkt_set(&b->p, orig, len), 0);
        assert_int_equal(vf_seg_parse(&b->p, 1398, &si), 0);
        assert_int_equal(vf_seg_tunnel_batch(&b->p, &si, &peer, 77, 1, 2, 3), 0);
        uint16_t dg = b->p.gso_size;
        uint32_t mss = dg - 20 - ihl;
        if (round == 0) {
            assert_int_equal(vf_seg_gro_merge(&b->p, VF_VXLAN_UDP_PORT), 0);
            assert_int_equal(b->p.gso_size, mss);
            struct vf_tunnel_md md;
            assert_int_equal(vf_tunnel_decap(&b->p, VF_GENEVE_UDP_PORT,
                                             VF_VXLAN_UDP_PORT, &md), 0);
            assert_int_equal(md.vni, 77);
            const uint8_t *f = vf_pkt_data(&b->p);
            assert_int_equal(b->p.len, len);
            assert_int_equal(rd16_(f + 16), 20 + SEG_TCP_HL + payload);
            assert_int_equal(vf_csum_fold(vf_csum_add_scalar(0, f + 14, 20)), 0xffff);
            assert_memory_equal(f + ihl, orig + ihl, payload);
            assert_int_equal(rd32_(f + 34 + 4), 0xfffff000u);
            assert_int_equal(f[34 + 13], 0x18);   /* PSH of the last kept */
            continue;
        }
        /* Datagram 3's sequence number off by one: refused, unchanged. */
        uint8_t *seq = vf_pkt_data(&b->p) + 42 + 3u * dg + 20 + 34 + 7;
        (*seq)++;
        uint32_t blen = b->p.len;
        memcpy(copy, vf_pkt_data(&b->p), blen);
        assert_int_equal(vf_seg_gro_merge(&b->p, VF_VXLAN_UDP_PORT), -EINVAL);
        assert_int_equal(b->p.len, blen);
        assert_memory_equal(vf_pkt_data(&b->p), copy, blen);
        (*seq)--;
        unsigned n = (blen - 42 + dg - 1) / dg;
        struct tbuf t;
        for (unsigned k = 0; k < n; k++) {
            tbuf_init(&t, orig, 0);
            assert_int_equal(vf_seg_gro_split(&b->p, k, &t.p), 0);
            struct vf_tunnel_md md;
            assert_int_equal(vf_tunnel_decap(&t.p, VF_GENEVE_UDP_PORT,
                                             VF_VXLAN_UDP_PORT, &md), 0);
            check_segment(vf_pkt_data(&t.p), t.p.len, orig, false, k, n, mss,
                          payload);
        }
        tbuf_init(&t, orig, 0);
        assert_int_equal(vf_seg_gro_split(&b->p, n, &t.p), VF_DROP_TUN_TRUNC);
    }
    free(copy);
    free(orig);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_init_defaults),
        cmocka_unit_test(test_geneve_encap_layout),
        cmocka_unit_test(test_vxlan_encap_layout),
        cmocka_unit_test(test_checksums_all_lengths),
        cmocka_unit_test(test_sport_from_flow_hash),
        cmocka_unit_test(test_encap_mtu_and_headroom),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_roundtrip_custom_ports),
        cmocka_unit_test(test_geneve_without_options),
        cmocka_unit_test(test_geneve_foreign_options),
        cmocka_unit_test(test_decap_padding_and_ip_options),
        cmocka_unit_test(test_decap_each_failure),
        cmocka_unit_test(test_truncation_every_length),
        cmocka_unit_test(test_fuzz_mutations),
        cmocka_unit_test(test_write_pcap),
        cmocka_unit_test(test_seg_build_ipv4),
        cmocka_unit_test(test_seg_build_ipv6),
        cmocka_unit_test(test_seg_batch_geneve),
        cmocka_unit_test(test_seg_batch_vxlan),
        cmocka_unit_test(test_seg_refusals),
        cmocka_unit_test(test_seg_gro_merge_and_split),
    };

    return cmocka_run_group_tests_name("tunnel", tests, NULL, NULL);
}
