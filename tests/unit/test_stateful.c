/* test_stateful.c - security groups through the real pipeline.
 *
 * One fabric (vf_test_logical.h: ring ports, two chassis, each with its
 * own worker, flow cache and connection table), stateful ACLs built by
 * vf_acl_build (vf_test_sg.h), every packet through vf_pipeline_burst:
 *   blue web (vni 1001): vm1 (hv1) in security group "sg": out anything
 *                        (allow-related, both families), in only TCP 22
 *                        (allow-related), TCP 23 and UDP 69 rejected;
 *                        vm2 (hv1), vm3 (hv2): no ACLs;
 *                        vm4 (hv1): in only TCP 80 (allow-related).
 *   red rweb (vni 2001): rvm1 (hv1, vm1's MAC and addresses, in "sg"),
 *                        rvm2 (hv1, vm2's).
 * Every test runs twice: with flow caches and without (a cached verdict
 * must never stand in for a connection's state). Expected outcomes are
 * written from the security-group rules (docs/conntrack.md), never taken
 * from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pipeline/vf_trace.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_sg.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

struct ep {
    const char *name;
    uint32_t mac;
    uint32_t ip;        /* host order; IPv6: fd00::<last byte of ip> */
};

static const struct ep VM1 = {"vm1", 0x0101, IP(10, 0, 0, 1)};
static const struct ep VM2 = {"vm2", 0x0102, IP(10, 0, 0, 2)};
static const struct ep VM3 = {"vm3", 0x0103, IP(10, 0, 0, 3)};
static const struct ep VM4 = {"vm4", 0x0104, IP(10, 0, 0, 4)};
static const struct ep RVM1 = {"rvm1", 0x0101, IP(10, 0, 0, 1)};
static const struct ep RVM2 = {"rvm2", 0x0102, IP(10, 0, 0, 2)};

struct world {
    struct vf_model m;
    struct lt_fabric f;
    struct sg_set sg;
    bool cache;
};

static void ip6_of(uint8_t out[16], uint32_t ip)
{
    memset(out, 0, 16);
    out[0] = 0xfd;
    out[15] = (uint8_t)ip;
}

static void add_port(struct vf_model *m, int t, int s, const struct ep *e, int chassis)
{
    int p = lt_port(m, t, s, e->name, e->mac, e->ip, chassis, true);
    struct vf_model_port *mp = &m->tenants[t].switches[s].ports[p];
    ip6_of(mp->ip6s[0], e->ip);
    mp->n_ip6s = 1;
}

static void sg_group(struct sg_set *s, const char *sw, const char *port)
{
    struct sg_rule *r = sg_add(s, sw, false, VF_ACL_V_ALLOW_RELATED, 100);
    r->ports[0] = port;
    r = sg_add(s, sw, true, VF_ACL_V_ALLOW_RELATED, 100);
    r->ports[0] = port;
    r->proto = VF_IPPROTO_TCP;
    r->dport_lo = r->dport_hi = 22;
    r = sg_add(s, sw, true, VF_ACL_V_REJECT, 200);
    r->ports[0] = port;
    r->proto = VF_IPPROTO_TCP;
    r->dport_lo = r->dport_hi = 23;
    r = sg_add(s, sw, true, VF_ACL_V_REJECT, 200);
    r->ports[0] = port;
    r->proto = VF_IPPROTO_UDP;
    r->dport_lo = r->dport_hi = 69;
}

static void default_sg(struct sg_set *s)
{
    memset(s, 0, sizeof(*s));
    sg_group(s, "web", "vm1");
    sg_group(s, "rweb", "rvm1");
    struct sg_rule *r = sg_add(s, "web", true, VF_ACL_V_ALLOW_RELATED, 100);
    r->ports[0] = "vm4";
    r->proto = VF_IPPROTO_TCP;
    r->dport_lo = r->dport_hi = 80;
    /* vm3 has no allow-related rule: a stateless reject */
    r = sg_add(s, "web", true, VF_ACL_V_REJECT, 100);
    r->ports[0] = "vm3";
    r->proto = VF_IPPROTO_TCP;
    r->dport_lo = r->dport_hi = 25;
}

static int setup_with(void **state, bool cache)
{
    struct world *w = calloc(1, sizeof(*w));
    struct vf_model *m = &w->m;
    lt_chassis(m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    lt_chassis(m, "hv2", IP(192, 0, 2, 2), VF_MODEL_ENCAP_GENEVE);
    int b = lt_tenant(m, "blue");
    int web = lt_switch(m, b, "web", 1001);
    add_port(m, b, web, &VM1, 0);
    add_port(m, b, web, &VM2, 0);
    add_port(m, b, web, &VM3, 1);
    add_port(m, b, web, &VM4, 0);
    int r = lt_tenant(m, "red");
    int rweb = lt_switch(m, r, "rweb", 2001);
    add_port(m, r, rweb, &RVM1, 0);
    add_port(m, r, rweb, &RVM2, 0);
    lt_assign_ids(m);
    default_sg(&w->sg);
    w->cache = cache;
    if (lt_fabric_init_ct(&w->f, m, cache, 4096, sg_post, &w->sg))
        return -1;
    *state = w;
    return 0;
}

static int setup_cache(void **state) { return setup_with(state, true); }
static int setup_nocache(void **state) { return setup_with(state, false); }

static int teardown(void **state)
{
    struct world *w = *state;
    lt_fabric_fini(&w->f);
    lt_model_free(&w->m);
    free(w);
    return 0;
}

/* ---- packets ---- */
struct pk {
    bool v6;
    uint8_t proto;
    uint16_t sport, dport;
    uint8_t flags;
    uint32_t seq, ack;
    uint8_t icmp_type;
    uint16_t icmp_id;
    size_t payload;
};

static size_t build(uint8_t *buf, const struct ep *a, const struct ep *b, const struct pk *k)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, a->mac);
    lt_mac(t.eth_dst, b->mac);
    t.ip4_src = a->ip;
    t.ip4_dst = b->ip;
    ip6_of(t.ip6_src, a->ip);
    ip6_of(t.ip6_dst, b->ip);
    t.sport = k->sport;
    t.dport = k->dport;
    t.tcp_flags = k->flags;
    t.tcp_seq = k->seq;
    t.tcp_ack = k->ack;
    t.icmp_type = k->icmp_type;
    t.icmp_id = k->icmp_id;
    t.payload_len = k->payload;
    switch (k->proto) {
    case VF_IPPROTO_TCP:
        return k->v6 ? vf_tpkt_ip6_tcp(buf, LT_FRAME_MAX, &t) : vf_tpkt_ip4_tcp(buf, LT_FRAME_MAX, &t);
    case VF_IPPROTO_UDP:
        return k->v6 ? vf_tpkt_ip6_udp(buf, LT_FRAME_MAX, &t) : vf_tpkt_ip4_udp(buf, LT_FRAME_MAX, &t);
    default:
        return k->v6 ? vf_tpkt_ip6_icmp6(buf, LT_FRAME_MAX, &t)
                     : vf_tpkt_ip4_icmp(buf, LT_FRAME_MAX, &t);
    }
}

static struct lt_result res;

/* Sends k from a to b; returns the drop reason counted (-1: none or
 * several), and whether b got it in *got. */
static int send_pk(struct world *w, const struct ep *a, const struct ep *b,
                   const struct pk *k, bool *got)
{
    uint8_t buf[LT_FRAME_MAX];
    size_t n = build(buf, a, b, k);
    assert_true(n > 0);
    assert_int_equal(lt_send(&w->f, a->name, buf, (unsigned)n, &res), 0);
    *got = lt_find(&res, b->name) != NULL;
    return lt_drop_reason(&res);
}

static void pass(struct world *w, const struct ep *a, const struct ep *b, const struct pk *k)
{
    bool got;
    int r = send_pk(w, a, b, k, &got);
    if (!got)
        fprintf(stderr, "%s -> %s: dropped as %s\n", a->name, b->name,
                r >= 0 ? vf_drop_name((unsigned)r) : "?");
    assert_true(got);
}

static void drop(struct world *w, const struct ep *a, const struct ep *b,
                 const struct pk *k, int reason)
{
    bool got;
    int r = send_pk(w, a, b, k, &got);
    assert_false(got);
    if (r != reason)
        fprintf(stderr, "%s -> %s: want %s, got %s\n", a->name, b->name,
                vf_drop_name((unsigned)reason), r >= 0 ? vf_drop_name((unsigned)r) : "?");
    assert_int_equal(r, reason);
}

static struct pk tcp(bool v6, uint16_t sport, uint16_t dport, uint8_t flags,
                     uint32_t seq, uint32_t ack)
{
    return (struct pk){.v6 = v6, .proto = VF_IPPROTO_TCP, .sport = sport,
                       .dport = dport, .flags = flags, .seq = seq, .ack = ack};
}

static struct pk udp(bool v6, uint16_t sport, uint16_t dport)
{
    return (struct pk){.v6 = v6, .proto = VF_IPPROTO_UDP, .sport = sport,
                       .dport = dport, .payload = 20};
}

static struct pk echo(bool v6, bool reply, uint16_t id)
{
    return (struct pk){.v6 = v6, .proto = v6 ? VF_IPPROTO_ICMPV6 : VF_IPPROTO_ICMP,
                       .icmp_type = (uint8_t)(v6 ? (reply ? 129 : 128) : (reply ? 0 : 8)),
                       .icmp_id = id, .payload = 8};
}

#define SYN VF_TPKT_TCP_SYN
#define ACK VF_TPKT_TCP_ACK
#define RST VF_TPKT_TCP_RST
#define FIN VF_TPKT_TCP_FIN

static uint16_t zone_of(struct world *w, unsigned host, const char *port)
{
    uint32_t i;
    const struct vf_dp *dp = vf_tables_find_port(w->f.host[host].t, port, &i);
    assert_non_null(dp);
    return dp->ports[i].ct_zone;
}

/* A whole TCP connection from a to b (port dport) and some data both
 * ways: every packet must arrive. */
static void tcp_conversation(struct world *w, const struct ep *a, const struct ep *b,
                             bool v6, uint16_t sport, uint16_t dport)
{
    struct pk k = tcp(v6, sport, dport, SYN, 1000, 0);
    pass(w, a, b, &k);
    k = tcp(v6, dport, sport, SYN | ACK, 5000, 1001);
    pass(w, b, a, &k);
    for (unsigned i = 0; i < 3; i++) {
        k = tcp(v6, sport, dport, ACK, 1001 + 10 * i, 5001 + 10 * i);
        k.payload = 10;
        pass(w, a, b, &k);
        k = tcp(v6, dport, sport, ACK, 5001 + 10 * i, 1011 + 10 * i);
        k.payload = 10;
        pass(w, b, a, &k);
    }
}

/* ---- tests ---- */

/* A stateful port opens TCP, UDP and ICMP, locally and across chassis, in
 * both families; the replies come back though no rule lets them in. */
static void test_out_and_replies(void **state)
{
    struct world *w = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        tcp_conversation(w, &VM1, &VM3, v6, 40000, 443);   /* remote */
        tcp_conversation(w, &VM1, &VM2, v6, 40001, 8080);  /* local */
        struct pk k = udp(v6, 5353, 53);
        pass(w, &VM1, &VM3, &k);
        k = udp(v6, 53, 5353);
        pass(w, &VM3, &VM1, &k);
        pass(w, &VM3, &VM1, &k);   /* again: a cache hit where there is one */
        k = echo(v6, false, 77);
        pass(w, &VM1, &VM2, &k);
        k = echo(v6, true, 77);
        pass(w, &VM2, &VM1, &k);
    }
    /* Allowed in: SSH from vm3, and its replies out. */
    tcp_conversation(w, &VM3, &VM1, false, 50000, 22);
    /* vm1's zone holds what it committed: 2 TCP + 1 UDP + 1 ICMP per
     * family, plus the SSH connection. */
    assert_int_equal(vf_ct_zone_count(w->f.host[0].ct, zone_of(w, 0, "vm1")), 9);
}

/* Nothing gets in uninvited: a new connection, a forged reply, an
 * unsolicited ICMP reply; and none of them leaves a trace. */
static void test_unsolicited(void **state)
{
    struct world *w = *state;
    uint16_t z = zone_of(w, 0, "vm1");
    for (int v6 = 0; v6 < 2; v6++) {
        struct pk k = tcp(v6, 40000, 80, SYN, 1, 0);
        drop(w, &VM2, &VM1, &k, VF_DROP_ACL_STATEFUL_DENY);
        drop(w, &VM3, &VM1, &k, VF_DROP_ACL_STATEFUL_DENY);
        k = tcp(v6, 80, 40000, SYN | ACK, 1, 2);          /* a forged reply */
        drop(w, &VM2, &VM1, &k, VF_DROP_CT_INVALID);
        drop(w, &VM3, &VM1, &k, VF_DROP_CT_INVALID);
        k = tcp(v6, 80, 40000, ACK, 1, 2);                /* unsolicited ACK */
        drop(w, &VM3, &VM1, &k, VF_DROP_CT_INVALID);
        k = udp(v6, 53, 5353);                            /* a "reply" */
        drop(w, &VM3, &VM1, &k, VF_DROP_ACL_STATEFUL_DENY);
        k = echo(v6, true, 9);
        drop(w, &VM2, &VM1, &k, VF_DROP_CT_INVALID);
        k = echo(v6, false, 9);
        drop(w, &VM2, &VM1, &k, VF_DROP_ACL_STATEFUL_DENY);
    }
    assert_int_equal(vf_ct_zone_count(w->f.host[0].ct, z), 0);
    /* Ports without ACLs are as before. */
    struct pk k = udp(false, 1, 2);
    pass(w, &VM3, &VM2, &k);
}

/* An ICMP error about a connection is related and passes; one about
 * nothing is invalid. */
static void test_related(void **state)
{
    struct world *w = *state;
    for (int v6 = 0; v6 < 2; v6++) {
        struct pk k = udp(v6, 6000, 7000);
        pass(w, &VM1, &VM3, &k);
        uint8_t quoted[LT_FRAME_MAX], err[LT_FRAME_MAX];
        size_t qn = build(quoted, &VM1, &VM3, &k);
        struct vf_tpkt t;
        vf_tpkt_init(&t);
        lt_mac(t.eth_src, VM3.mac);
        lt_mac(t.eth_dst, VM1.mac);
        t.ip4_src = VM3.ip;
        t.ip4_dst = VM1.ip;
        ip6_of(t.ip6_src, VM3.ip);
        ip6_of(t.ip6_dst, VM1.ip);
        t.icmp_type = v6 ? 1 : 3;
        t.icmp_code = v6 ? 4 : 3;
        t.icmp_id = t.icmp_seq = 0;
        t.payload = quoted + 14;
        t.payload_len = qn - 14;
        size_t n = v6 ? vf_tpkt_ip6_icmp6(err, sizeof(err), &t)
                      : vf_tpkt_ip4_icmp(err, sizeof(err), &t);
        assert_int_equal(lt_send(&w->f, "vm3", err, (unsigned)n, &res), 0);
        assert_non_null(lt_find(&res, "vm1"));
        /* The same error about a datagram vm1 never sent. */
        struct pk other = udp(v6, 6001, 7000);
        qn = build(quoted, &VM1, &VM3, &other);
        n = v6 ? vf_tpkt_ip6_icmp6(err, sizeof(err), &t) : vf_tpkt_ip4_icmp(err, sizeof(err), &t);
        assert_int_equal(lt_send(&w->f, "vm3", err, (unsigned)n, &res), 0);
        assert_null(lt_find(&res, "vm1"));
        assert_int_equal(lt_drop_reason(&res), VF_DROP_CT_INVALID);
    }
}

static const struct lt_dlv *only_to(const char *port)
{
    assert_int_equal(res.n, 1);
    assert_string_equal(res.d[0].port, port);
    return &res.d[0];
}

/* reject: a TCP RST, or ICMP / ICMPv6 port unreachable, back to the
 * sender, local or across chassis; counted. */
static void test_reject(void **state)
{
    struct world *w = *state;
    uint8_t buf[LT_FRAME_MAX];
    for (int v6 = 0; v6 < 2; v6++) {
        unsigned l3 = 14, l4 = 14 + (v6 ? 40 : 20);
        const struct ep *from[] = {&VM2, &VM3};
        for (unsigned s = 0; s < 2; s++) {
            struct pk k = tcp(v6, 41000, 23, SYN, 777, 0);
            size_t n = build(buf, from[s], &VM1, &k);
            assert_int_equal(lt_send(&w->f, from[s]->name, buf, (unsigned)n, &res), 0);
            assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_REJECT);
            const struct lt_dlv *d = only_to(from[s]->name);
            struct vf_flow_key key;
            struct vf_hdr_offsets off;
            assert_int_equal(vf_parse(d->data, d->len, &key, &off), 0);
            assert_int_equal(key.ip_proto, VF_IPPROTO_TCP);
            assert_int_equal(ntohs(key.sport), 23);
            assert_int_equal(ntohs(key.dport), 41000);
            assert_int_equal(d->data[l4 + 13], RST | ACK);
            assert_int_equal(vf_tpkt_get16(d->data + l4 + 8) << 16 |
                             vf_tpkt_get16(d->data + l4 + 10), 778);   /* seq + SYN */
            uint8_t mac[6];
            lt_mac(mac, from[s]->mac);
            assert_memory_equal(d->data, mac, 6);
            if (!v6) {
                assert_int_equal(ntohl(key.ip_src), VM1.ip);
                assert_int_equal(ntohl(key.ip_dst), from[s]->ip);
                assert_true(vf_tpkt_ip4_csum_ok(d->data + l3));
            }
            assert_int_equal(vf_tpkt_l4_csum(d->data + l3, VF_IPPROTO_TCP,
                                             d->data + l4, 20), 0);
            /* UDP 69: port unreachable quoting the datagram. */
            k = udp(v6, 41001, 69);
            n = build(buf, from[s], &VM1, &k);
            assert_int_equal(lt_send(&w->f, from[s]->name, buf, (unsigned)n, &res), 0);
            d = only_to(from[s]->name);
            assert_int_equal(d->data[l4], v6 ? 1 : 3);
            assert_int_equal(d->data[l4 + 1], v6 ? 4 : 3);
            assert_memory_equal(d->data + l4 + 8, buf + 14, 20);
        }
    }
    uint64_t answers = atomic_load(&w->f.host[0].w->stats.reject_answers);
    assert_int_equal(answers, 8);
    /* A RST is never answered (with no connection it is invalid before
     * any rule; conntrack's verdict comes first). */
    struct pk k = tcp(false, 41000, 23, RST, 1, 0);
    drop(w, &VM2, &VM1, &k, VF_DROP_CT_INVALID);
    assert_int_equal(res.n, 0);
    assert_int_equal(atomic_load(&w->f.host[0].w->stats.reject_answers), answers);
}

/* A stateless reject (no connection tracking on vm3): an ACK segment gets
 * a RST at its acknowledgment number, tunnelled back to vm2's host; a
 * RST gets nothing. */
static void test_reject_stateless(void **state)
{
    struct world *w = *state;
    uint8_t buf[LT_FRAME_MAX];
    for (unsigned rep = 0; rep < 2; rep++) {   /* the second: a cache hit */
        struct pk k = tcp(false, 41000, 25, ACK, 5, 999);
        k.payload = 7;
        size_t n = build(buf, &VM2, &VM3, &k);
        assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
        assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_REJECT);
        const struct lt_dlv *d = only_to("vm2");
        unsigned l4 = 14 + 20;
        assert_int_equal(d->data[l4 + 13], RST);
        assert_int_equal(vf_tpkt_get16(d->data + l4 + 4) << 16 |
                         vf_tpkt_get16(d->data + l4 + 6), 999);
        assert_int_equal(vf_tpkt_l4_csum(d->data + 14, VF_IPPROTO_TCP, d->data + l4, 20), 0);
    }
    struct pk k = tcp(false, 41000, 25, RST | ACK, 5, 999);
    drop(w, &VM2, &VM3, &k, VF_DROP_ACL_REJECT);
    assert_int_equal(res.n, 0);
    assert_int_equal(atomic_load(&w->f.host[1].w->stats.reject_unanswered), 1);
}

/* Between two stateful ports on one host: both zones are looked up and a
 * connection is committed in both only if both allow it. */
static void test_two_zones(void **state)
{
    struct world *w = *state;
    uint16_t z1 = zone_of(w, 0, "vm1"), z4 = zone_of(w, 0, "vm4");
    assert_true(z1 && z4 && z1 != z4);
    tcp_conversation(w, &VM1, &VM4, false, 42000, 80);
    assert_int_equal(vf_ct_zone_count(w->f.host[0].ct, z1), 1);
    assert_int_equal(vf_ct_zone_count(w->f.host[0].ct, z4), 1);
    struct pk k = tcp(false, 42001, 81, SYN, 1, 0);      /* vm4 lets in 80 only */
    drop(w, &VM1, &VM4, &k, VF_DROP_ACL_STATEFUL_DENY);
    assert_int_equal(vf_ct_zone_count(w->f.host[0].ct, z1), 1);
    /* vm4's from-port direction is not stateful: it opens connections
     * freely, and vm1 (stateful both ways) lets it in only on port 22. */
    k = tcp(false, 42002, 22, SYN, 1, 0);
    pass(w, &VM4, &VM1, &k);
    k = tcp(false, 42003, 80, SYN, 1, 0);
    drop(w, &VM4, &VM1, &k, VF_DROP_ACL_STATEFUL_DENY);
}

/* Two tenants with the same addresses: one's connection is nothing to the
 * other's ports. */
static void test_tenants(void **state)
{
    struct world *w = *state;
    assert_int_not_equal(zone_of(w, 0, "vm1"), zone_of(w, 0, "rvm1"));
    struct pk k = udp(false, 1000, 53);
    pass(w, &VM1, &VM2, &k);
    k = udp(false, 53, 1000);
    drop(w, &RVM2, &RVM1, &k, VF_DROP_ACL_STATEFUL_DENY);
    pass(w, &VM2, &VM1, &k);
    k = tcp(false, 43000, 443, SYN, 1, 0);
    pass(w, &RVM1, &RVM2, &k);
    k = tcp(false, 443, 43000, SYN | ACK, 9, 2);
    drop(w, &VM2, &VM1, &k, VF_DROP_CT_INVALID);
    pass(w, &RVM2, &RVM1, &k);
}

/* Changing the ACLs applies to new packets at once; a connection the new
 * rules no longer allow is dropped both ways (acl_ct_blocked), and lives
 * again if the rules come back. Zones do not move across recompiles. */
static void test_acl_change(void **state)
{
    struct world *w = *state;
    uint16_t z = zone_of(w, 0, "vm1");
    tcp_conversation(w, &VM1, &VM3, false, 44000, 443);
    struct sg_set saved = w->sg;
    /* vm1 may now only send UDP. */
    w->sg.r[0].proto = VF_IPPROTO_UDP;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    assert_int_equal(zone_of(w, 0, "vm1"), z);
    struct pk k = tcp(false, 44000, 443, ACK, 2000, 6000);
    drop(w, &VM1, &VM3, &k, VF_DROP_ACL_CT_BLOCKED);
    k = tcp(false, 443, 44000, ACK, 6000, 2000);
    drop(w, &VM3, &VM1, &k, VF_DROP_ACL_CT_BLOCKED);
    k = tcp(false, 44001, 443, SYN, 1, 0);
    drop(w, &VM1, &VM3, &k, VF_DROP_ACL_STATEFUL_DENY);
    k = udp(false, 44002, 53);
    pass(w, &VM1, &VM3, &k);
    /* Back as before: the connection was never forgotten. */
    w->sg = saved;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    assert_int_equal(zone_of(w, 0, "vm1"), z);
    k = tcp(false, 443, 44000, ACK, 6000, 2000);
    pass(w, &VM3, &VM1, &k);
    /* A port that stops being stateful forgets its connections. */
    w->sg.n = 0;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    assert_int_equal(vf_ct_zone_count(w->f.host[0].ct, z), 0);
    w->sg = saved;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    drop(w, &VM3, &VM1, &k, VF_DROP_CT_INVALID);
}

/* Fragments: a later fragment passes where its first fragment passed. */
static void frag(uint8_t *buf, size_t *n, const struct ep *a, const struct ep *b,
                 bool first, uint16_t id, uint16_t sport, uint16_t dport)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, a->mac);
    lt_mac(t.eth_dst, b->mac);
    t.ip4_src = a->ip;
    t.ip4_dst = b->ip;
    t.ip4_id = id;
    t.ip4_df = false;
    t.sport = sport;
    t.dport = dport;
    t.payload_len = 24;
    if (first) {
        t.more_frags = true;
        *n = vf_tpkt_ip4_udp(buf, LT_FRAME_MAX, &t);
    } else {
        t.frag_offset = 4;
        *n = vf_tpkt_ip4_raw(buf, LT_FRAME_MAX, &t, VF_IPPROTO_UDP);
    }
    assert_true(*n > 0);
}

static void test_fragments(void **state)
{
    struct world *w = *state;
    uint8_t buf[LT_FRAME_MAX];
    size_t n;
    frag(buf, &n, &VM1, &VM2, true, 100, 3000, 4000);
    assert_int_equal(lt_send(&w->f, "vm1", buf, (unsigned)n, &res), 0);
    assert_non_null(lt_find(&res, "vm2"));
    frag(buf, &n, &VM1, &VM2, false, 100, 0, 0);
    assert_int_equal(lt_send(&w->f, "vm1", buf, (unsigned)n, &res), 0);
    assert_non_null(lt_find(&res, "vm2"));
    /* The reply, fragmented, into the stateful port. */
    frag(buf, &n, &VM2, &VM1, true, 200, 4000, 3000);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_non_null(lt_find(&res, "vm1"));
    frag(buf, &n, &VM2, &VM1, false, 200, 0, 0);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_non_null(lt_find(&res, "vm1"));
    /* A later fragment of a datagram whose first piece never passed. */
    frag(buf, &n, &VM2, &VM1, false, 201, 0, 0);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_null(lt_find(&res, "vm1"));
    assert_int_equal(lt_drop_reason(&res), VF_DROP_CT_FRAG_NO_FIRST);
    /* ...nor one whose first piece was refused. */
    frag(buf, &n, &VM2, &VM1, true, 202, 4000, 3999);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_ACL_STATEFUL_DENY);
    frag(buf, &n, &VM2, &VM1, false, 202, 0, 0);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_CT_FRAG_NO_FIRST);
    /* Too late: the fragment table forgets after a few seconds. */
    frag(buf, &n, &VM1, &VM2, true, 300, 3001, 4000);
    assert_int_equal(lt_send(&w->f, "vm1", buf, (unsigned)n, &res), 0);
    w->f.now += 6000;
    frag(buf, &n, &VM1, &VM2, false, 300, 0, 0);
    assert_int_equal(lt_send(&w->f, "vm1", buf, (unsigned)n, &res), 0);
    assert_int_equal(lt_drop_reason(&res), VF_DROP_CT_FRAG_NO_FIRST);
}

/* A broadcast reaches a stateful port only if a rule lets it in; ARP
 * always does (ACLs are about IP). */
static void test_flood(void **state)
{
    struct world *w = *state;
    struct ep bcast = {"", 0, IP(10, 0, 0, 255)};
    uint8_t buf[LT_FRAME_MAX];
    struct pk k = udp(false, 68, 67);
    size_t n = build(buf, &VM2, &bcast, &k);
    memset(buf, 0xff, 6);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_null(lt_find(&res, "vm1"));
    assert_null(lt_find(&res, "vm4"));
    assert_non_null(lt_find(&res, "vm3"));
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, VM2.mac);
    memset(t.eth_dst, 0xff, 6);
    t.ip4_src = VM2.ip;
    t.ip4_dst = IP(10, 0, 0, 77);   /* nobody's: flooded */
    n = vf_tpkt_arp_request(buf, sizeof(buf), &t);
    assert_int_equal(lt_send(&w->f, "vm2", buf, (unsigned)n, &res), 0);
    assert_non_null(lt_find(&res, "vm1"));
}

/* Connections expire by their timeouts: a reply after that is a stranger. */
static void test_expiry(void **state)
{
    struct world *w = *state;
    assert_int_equal(vf_ct_set_timeout(w->f.host[0].ct, VF_CT_TO_UDP_NEW, 2000), 0);
    struct pk k = udp(false, 45000, 53);
    pass(w, &VM1, &VM2, &k);
    w->f.now += 1000;
    struct pk r = udp(false, 53, 45000);
    pass(w, &VM2, &VM1, &r);
    k.sport = 45001;
    r.dport = 45001;
    pass(w, &VM1, &VM2, &k);
    w->f.now += 2100;
    drop(w, &VM2, &VM1, &r, VF_DROP_ACL_STATEFUL_DENY);
    /* The worker's sweep gives the entries back (its whole share, as a
     * pass period went by). */
    w->f.host[0].w->ct_now = w->f.now + 200000;
    w->f.host[0].w->ct_pass_ms = 1;
    for (unsigned i = 0; i < 64; i++)
        vf_worker_ct_sweep(w->f.host[0].w);
    struct vf_ct_totals tot;
    vf_ct_get_stats(w->f.host[0].ct, &tot);
    assert_int_equal(tot.live, 0);
}

/* max_connections: a port's zone is full at its limit, named. */
static void test_zone_full(void **state)
{
    struct world *w = *state;
    w->sg.max_port[0] = "vm1";
    w->sg.max[0] = 2;
    assert_int_equal(lt_compile(&w->f, &w->m), 0);
    struct pk k = udp(false, 46000, 53);
    pass(w, &VM1, &VM3, &k);
    k.sport++;
    pass(w, &VM1, &VM3, &k);
    k.sport++;
    drop(w, &VM1, &VM3, &k, VF_DROP_CT_ZONE_FULL);
    k = udp(false, 1, 2);   /* vm2 has no limit (and no zone) */
    pass(w, &VM2, &VM3, &k);
}

/* trace shows the state a packet would have, and changes nothing. */
static void test_trace(void **state)
{
    struct world *w = *state;
    static struct vf_trace tr;
    struct vf_trace_pkt tp = {
        .fields = VF_TRACE_F_ETH_DST | VF_TRACE_F_IP_DST | VF_TRACE_F_PROTO |
                  VF_TRACE_F_SPORT | VF_TRACE_F_DPORT | VF_TRACE_F_TCP_FLAGS,
        .ip_dst = htonl(VM2.ip), .proto = VF_IPPROTO_TCP, .sport = 47000,
        .dport = 80, .tcp_flags = ACK,
    };
    lt_mac(tp.eth_dst, VM2.mac);
    const struct vf_tables *t = w->f.host[0].t;
    struct vf_ct *ct = w->f.host[0].ct;
    assert_int_equal(vf_trace_run_ct(t, ct, w->f.now, "vm1", &tp, &tr), 0);
    assert_int_equal(tr.action, VF_TRACE_DROP);
    assert_int_equal(tr.reason, VF_DROP_CT_INVALID);
    assert_int_equal(tr.n_ct, 1);
    assert_int_equal(tr.ct[0].state, VF_CT_INVALID);
    tp.tcp_flags = SYN;
    assert_int_equal(vf_trace_run_ct(t, ct, w->f.now, "vm1", &tp, &tr), 0);
    assert_int_equal(tr.action, VF_TRACE_DELIVER);
    assert_int_equal(tr.ct[0].state, VF_CT_NEW);
    assert_int_equal(vf_ct_zone_count(ct, zone_of(w, 0, "vm1")), 0);
    tcp_conversation(w, &VM1, &VM2, false, 47000, 80);
    tp.tcp_flags = ACK;
    assert_int_equal(vf_trace_run_ct(t, ct, w->f.now, "vm1", &tp, &tr), 0);
    assert_int_equal(tr.action, VF_TRACE_DELIVER);
    assert_int_equal(tr.ct[0].state, VF_CT_ESTABLISHED);
    assert_false(tr.ct[0].reply);
    /* Without a table: the verdicts of every state, and it goes on. */
    assert_int_equal(vf_trace_run(t, "vm1", &tp, &tr), 0);
    assert_int_equal(tr.n_ct, 0);
    bool listed = false;
    for (unsigned i = 0; i < tr.n_steps; i++)
        listed |= strstr(tr.steps[i].text, "stateful") != NULL;
    assert_true(listed);
}

/* A worker without a connection table cannot track: it refuses. */
static void test_no_table(void **state)
{
    (void)state;
    struct world *w = NULL;
    assert_int_equal(setup_with((void **)&w, true), 0);
    vf_ct_worker_fini(&w->f.host[0].w->ct);
    w->f.host[0].w->ct.ct = NULL;
    struct pk k = udp(false, 1, 2);
    drop(w, &VM1, &VM2, &k, VF_DROP_CT_TABLE_FULL);
    pass(w, &VM2, &VM3, &k);
    teardown((void **)&w);
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_cache, teardown), \
                cmocka_unit_test_setup_teardown(t, setup_nocache, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_out_and_replies),
        BOTH(test_unsolicited),
        BOTH(test_related),
        BOTH(test_reject),
        BOTH(test_reject_stateless),
        BOTH(test_two_zones),
        BOTH(test_tenants),
        BOTH(test_acl_change),
        BOTH(test_fragments),
        BOTH(test_flood),
        BOTH(test_expiry),
        BOTH(test_zone_full),
        BOTH(test_trace),
        cmocka_unit_test(test_no_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
