/* test_isolation_ct.c - random fabrics with security groups against a
 * reference model of connection tracking.
 *
 * Property: in random multi-tenant fabrics where every tenant reuses the
 * same MAC and IP addresses (vf_test_rand.h), with random stateful ACLs
 * (allow-related rules on random ports, so random ports are tracked in
 * zones of their own, plus stateless drops), every UDP packet (unicast on
 * a switch, routed, broadcast; new, replies, and "replies" sent from the
 * other tenants' ports with the same addresses) is delivered to exactly
 * the ports a naive reference says. The reference keeps, per port, the
 * list of its connections and applies docs/conntrack.md's rules with
 * linear scans; the only thing shared with the code under test is the
 * frame builder. So two tenants' zones sharing a connection would show
 * as a delivery the reference does not make.
 *
 * Also: a fabric with flow caches and one without must agree packet by
 * packet (a cached verdict never stands in for a connection's state), and
 * recompiles in the middle (a port added) keep every connection.
 *
 * Seeds are fixed (VF_TEST_SEED overrides) so a failure reproduces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_rand.h"
#include "tests/unit/vf_test_sg.h"

/* ---- random security groups ---- */

/* Rules name ports by copies (the model's arrays move when a port is
 * added): a pool reset per round. */
static char name_pool[1024][VF_NAME_MAX];
static unsigned n_names;

static const char *port_name(const struct vf_model *m, int t, int s, size_t p)
{
    assert_true(n_names < 1024);
    snprintf(name_pool[n_names], VF_NAME_MAX, "%s", m->tenants[t].switches[s].ports[p].name);
    return name_pool[n_names++];
}

static void random_sg(const struct vf_model *m, struct sg_set *set)
{
    memset(set, 0, sizeof(*set));
    n_names = 0;
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            assert_true(n_names < 1024);
            snprintf(name_pool[n_names], VF_NAME_MAX, "%s", tn->switches[s].name);
            const char *sw = name_pool[n_names++];
            for (size_t p = 0; p < tn->switches[s].n_ports; p++) {
                if (rnd(2))
                    continue;
                const char *port = port_name(m, (int)t, (int)s, p);
                struct sg_rule *r;
                if (rnd(4)) {       /* out: anything, or only to port 53 */
                    r = sg_add(set, sw, false, VF_ACL_V_ALLOW_RELATED, 100);
                    r->ports[0] = port;
                    r->proto = VF_IPPROTO_UDP;
                    if (rnd(3) == 0)
                        r->dport_lo = r->dport_hi = 53;
                }
                if (rnd(2)) {       /* in: port 53, or nothing (stateful) */
                    r = sg_add(set, sw, true, VF_ACL_V_ALLOW_RELATED, 100);
                    r->ports[0] = port;
                    r->proto = VF_IPPROTO_UDP;
                    r->dport_lo = r->dport_hi = rnd(2) ? 53 : 9999;
                }
            }
            if (rnd(3) == 0) {      /* a stateless drop, port or switch-wide */
                struct sg_rule *r = sg_add(set, sw, rnd(2), VF_ACL_V_DROP, 200);
                r->proto = VF_IPPROTO_UDP;
                r->dport_lo = r->dport_hi = 80;
                if (rnd(2) && tn->switches[s].n_ports)
                    r->ports[0] = port_name(m, (int)t, (int)s,
                                            rnd((uint32_t)tn->switches[s].n_ports));
            }
        }
    }
}

/* ---- the reference ---- */

struct rpkt {
    uint32_t src, dst;           /* host order */
    uint16_t sport, dport;
};

static bool in_cidr(uint32_t ip, const char *const *list)
{
    if (!list[0])
        return true;
    for (unsigned i = 0; i < SG_MAX_NAMES && list[i]; i++) {
        struct vf_acl_prefix p;
        if (!sg_cidr(list[i], &p) || p.family != 4)
            continue;
        uint32_t a = (uint32_t)p.addr[0] << 24 | (uint32_t)p.addr[1] << 16 |
                     (uint32_t)p.addr[2] << 8 | p.addr[3];
        uint32_t mask = p.plen ? ~0u << (32 - p.plen) : 0;
        if (((a ^ ip) & mask) == 0)
            return true;
    }
    return false;
}

static bool scoped(const struct sg_rule *r, const char *port)
{
    if (!r->ports[0])
        return true;
    for (unsigned i = 0; i < SG_MAX_NAMES && r->ports[i]; i++)
        if (!strcmp(r->ports[i], port))
            return true;
    return false;
}

/* The best rule of (switch, direction) for port and packet, or NULL. */
static const struct sg_rule *ref_best(const struct sg_set *set, const char *sw,
                                      bool to_port, const char *port,
                                      const struct rpkt *k)
{
    const struct sg_rule *best = NULL;
    for (unsigned i = 0; i < set->n; i++) {
        const struct sg_rule *r = &set->r[i];
        if (strcmp(r->sw, sw) || r->to_port != to_port || !scoped(r, port))
            continue;
        if (r->proto && r->proto != VF_IPPROTO_UDP)
            continue;
        uint16_t shi = r->sport_lo || r->sport_hi ? r->sport_hi : 65535;
        uint16_t dhi = r->dport_lo || r->dport_hi ? r->dport_hi : 65535;
        if (k->sport < r->sport_lo || k->sport > shi || k->dport < r->dport_lo ||
            k->dport > dhi || !in_cidr(k->src, r->src) || !in_cidr(k->dst, r->dst))
            continue;
        if (!best || r->prio > best->prio)
            best = r;
    }
    return best;
}

static bool ref_stateful(const struct sg_set *set, const char *sw, const char *port,
                         bool to_port)
{
    for (unsigned i = 0; i < set->n; i++)
        if (!strcmp(set->r[i].sw, sw) && set->r[i].to_port == to_port &&
            set->r[i].verdict == VF_ACL_V_ALLOW_RELATED && scoped(&set->r[i], port))
            return true;
    return false;
}

static int drop_of(const struct sg_rule *r, bool to_port)
{
    if (r && r->verdict == VF_ACL_V_DROP)
        return to_port ? VF_DROP_ACL_EGRESS : VF_DROP_ACL_INGRESS;
    return 0;
}

/* opener(D, k) of docs/conntrack.md */
static int ref_opener(const struct sg_set *set, const char *sw, const char *port,
                      bool to_port, const struct rpkt *k)
{
    const struct sg_rule *r = ref_best(set, sw, to_port, port, k);
    if (r)
        return drop_of(r, to_port);
    return ref_stateful(set, sw, port, to_port) ? VF_DROP_ACL_STATEFUL_DENY : 0;
}

struct rconn {
    char zone[VF_NAME_MAX];      /* the port's name (names are unique) */
    struct rpkt orig;            /* the packet that opened it */
    bool seen_reply;
};

#define MAX_CONNS 8192
static struct rconn conns[MAX_CONNS];
static unsigned n_conns;

/* A port's zone check: lookup (the state moves whatever the verdict),
 * then its verdict; *commit when it is new with no connection yet. */
static int ref_check(const struct sg_set *set, const char *sw, const char *port,
                     bool to_port, const struct rpkt *k, bool *commit)
{
    *commit = false;
    for (unsigned i = 0; i < n_conns; i++) {
        struct rconn *c = &conns[i];
        if (strcmp(c->zone, port))
            continue;
        const struct rpkt *o = &c->orig;
        bool orig = o->src == k->src && o->dst == k->dst && o->sport == k->sport &&
                    o->dport == k->dport;
        bool reply = o->src == k->dst && o->dst == k->src && o->sport == k->dport &&
                     o->dport == k->sport;
        if (!orig && !reply)
            continue;
        if (reply) {
            c->seen_reply = true;
            struct rpkt rev = {k->dst, k->src, k->dport, k->sport};
            return ref_opener(set, sw, port, !to_port, &rev) ? VF_DROP_ACL_CT_BLOCKED : 0;
        }
        int a = ref_opener(set, sw, port, to_port, k);
        if (c->seen_reply)   /* established */
            return a ? VF_DROP_ACL_CT_BLOCKED : 0;
        return a;            /* new, connection exists unreplied */
    }
    int a = ref_opener(set, sw, port, to_port, k);
    *commit = a == 0;
    return a;
}

static void ref_commit(const char *port, const struct rpkt *k)
{
    assert_true(n_conns < MAX_CONNS);
    struct rconn *c = &conns[n_conns++];
    memset(c, 0, sizeof(*c));
    snprintf(c->zone, sizeof(c->zone), "%s", port);
    c->orig = *k;
}

static bool ref_tracked(const struct sg_set *set, const char *sw, const char *port)
{
    return ref_stateful(set, sw, port, false) || ref_stateful(set, sw, port, true);
}

struct rout {
    unsigned n;
    const char *got[64];
    int drop;
};

static void emit(struct rout *o, const char *port)
{
    assert_true(o->n < 64);
    o->got[o->n++] = port;
}

/* A UDP packet from port P (t, sw, p) to VM port Q (t, qsw, q) or, when
 * q is SIZE_MAX, broadcast on P's switch. Routed when qsw != sw. */
static void ref_udp(const struct vf_model *m, const struct sg_set *set, int t, int sw,
                    size_t p, int qsw, size_t q, const struct rpkt *k, struct rout *o)
{
    const struct vf_model_tenant *tn = &m->tenants[t];
    const struct vf_model_port *P = &tn->switches[sw].ports[p];
    const char *swn = tn->switches[sw].name;
    bool ptr = ref_tracked(set, swn, P->name);
    memset(o, 0, sizeof(*o));

    /* Source host, decided without conntrack (the cached part). */
    if (!ptr && (o->drop = drop_of(ref_best(set, swn, false, P->name, k), false)))
        return;
    if (q == SIZE_MAX) {        /* broadcast: flood */
        const struct vf_model_switch *s = &tn->switches[sw];
        const char *local[64];
        unsigned n_local = 0, n_remote = 0;
        bool remote[8] = {0};
        for (size_t i = 0; i < s->n_ports; i++) {
            const struct vf_model_port *Q = &s->ports[i];
            if (i == p)
                continue;
            if (Q->chassis_idx != P->chassis_idx) {
                if (!remote[Q->chassis_idx])
                    n_remote++;
                remote[Q->chassis_idx] = true;
                continue;
            }
            /* a tracked port: as a new packet, never committed */
            if (!ref_opener(set, swn, Q->name, true, k))
                local[n_local++] = Q->name;
        }
        if (n_local + n_remote == 0) {
            o->drop = -1;      /* some flood reason: not compared */
            return;
        }
        bool commit = false;
        if (ptr && (o->drop = ref_check(set, swn, P->name, false, k, &commit)))
            return;
        if (commit)
            ref_commit(P->name, k);
        for (unsigned i = 0; i < n_local; i++)
            emit(o, local[i]);
        for (size_t i = 0; i < s->n_ports; i++) {   /* the receivers' floods */
            const struct vf_model_port *Q = &s->ports[i];
            if (Q->chassis_idx == P->chassis_idx)
                continue;
            if (!ref_opener(set, swn, Q->name, true, k))
                emit(o, Q->name);
        }
        o->drop = o->n ? 0 : -1;
        return;
    }
    const char *qswn = tn->switches[qsw].name;
    const struct vf_model_port *Q = &tn->switches[qsw].ports[q];
    if (qsw != sw) {            /* the router port's from-port ACLs */
        char rp[VF_NAME_MAX];
        snprintf(rp, sizeof(rp), "t%d-r-%d", t, qsw);
        if ((o->drop = drop_of(ref_best(set, qswn, false, rp, k), false)))
            return;
    }
    bool qtr = ref_tracked(set, qswn, Q->name);
    bool local = Q->chassis_idx == P->chassis_idx;
    if (local && !qtr && (o->drop = drop_of(ref_best(set, qswn, true, Q->name, k), true)))
        return;
    /* Per packet: the checks, then the commits. */
    bool c1 = false, c2 = false;
    if (ptr && (o->drop = ref_check(set, swn, P->name, false, k, &c1)))
        return;
    if (!local && c1)
        ref_commit(P->name, k);   /* the source host commits before sending */
    if (qtr) {
        if ((o->drop = ref_check(set, qswn, Q->name, true, k, &c2)))
            return;
    } else if (!local && (o->drop = drop_of(ref_best(set, qswn, true, Q->name, k), true))) {
        return;
    }
    if (local && c1)
        ref_commit(P->name, k);
    if (c2)
        ref_commit(Q->name, k);
    emit(o, Q->name);
}

/* ---- the run ---- */

struct hist {
    int t, sw, qsw;
    size_t p, q;
    uint16_t sport, dport;
};

static bool has_router_port(const struct vf_model_tenant *tn, int sw)
{
    for (size_t r = 0; r < tn->n_routers; r++)
        for (size_t i = 0; i < tn->routers[r].n_ports; i++)
            if (tn->routers[r].ports[i].switch_idx == sw)
                return true;
    return false;
}

static struct lt_result got, got2;

static unsigned frame_of(const struct vf_model *m, int t, int sw, size_t p, int qsw,
                         size_t q, uint16_t sport, uint16_t dport, uint8_t *buf,
                         struct rpkt *k)
{
    const struct vf_model_tenant *tn = &m->tenants[t];
    const struct vf_model_port *P = &tn->switches[sw].ports[p];
    struct vf_tpkt tp;
    vf_tpkt_init(&tp);
    memcpy(tp.eth_src, P->mac, 6);
    tp.ip4_src = ntohl(P->ips[0]);
    if (q == SIZE_MAX) {
        memset(tp.eth_dst, 0xff, 6);
        tp.ip4_dst = IP(10, 0, sw, 255);
    } else {
        const struct vf_model_port *Q = &tn->switches[qsw].ports[q];
        if (qsw == sw)
            memcpy(tp.eth_dst, Q->mac, 6);
        else
            lt_mac(tp.eth_dst, 0xff00 | (unsigned)(sw + 1));
        tp.ip4_dst = ntohl(Q->ips[0]);
    }
    tp.sport = sport;
    tp.dport = dport;
    tp.payload_len = 12;
    *k = (struct rpkt){tp.ip4_src, tp.ip4_dst, sport, dport};
    return (unsigned)vf_tpkt_ip4_udp(buf, LT_FRAME_MAX, &tp);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_same(const struct lt_result *r, struct rout *o, int ref_drop)
{
    const char *names[LT_MAX_DLV];
    for (unsigned i = 0; i < r->n; i++)
        names[i] = r->d[i].port;
    qsort(names, r->n, sizeof(names[0]), name_cmp);
    qsort(o->got, o->n, sizeof(o->got[0]), name_cmp);
    if (r->n != o->n) {
        fprintf(stderr, "delivered to %u ports, the reference says %u (drop %s)\n",
                r->n, o->n, ref_drop > 0 ? vf_drop_name((unsigned)ref_drop) : "-");
        for (unsigned i = 0; i < r->n; i++)
            fprintf(stderr, "  got %s\n", names[i]);
        for (unsigned i = 0; i < o->n; i++)
            fprintf(stderr, "  ref %s\n", o->got[i]);
    }
    assert_int_equal(r->n, o->n);
    for (unsigned i = 0; i < r->n; i++)
        assert_string_equal(names[i], o->got[i]);
    if (o->n == 0 && ref_drop > 0) {
        if (lt_drop_reason(r) != ref_drop)
            fprintf(stderr, "drop %d, the reference says %s\n", lt_drop_reason(r),
                    vf_drop_name((unsigned)ref_drop));
        assert_int_equal(lt_drop_reason(r), ref_drop);
    }
}

struct stats {
    unsigned pkts, delivered, replies_ok, foreign_dropped, committed, recompiles;
};

static void one_round(uint64_t seed, struct stats *st)
{
    struct vf_model m;
    static struct sg_set set;
    struct lt_fabric *fc = calloc(1, sizeof(*fc)), *nc = calloc(1, sizeof(*nc));
    static struct hist h[4096];
    unsigned n_h = 0;
    uint8_t buf[LT_FRAME_MAX];

    rng_state = seed;
    random_model(&m);
    for (size_t t = 0; t < m.n_tenants; t++) {   /* the ACLs are the sg's */
        free(m.tenants[t].acls);
        m.tenants[t].acls = NULL;
        m.tenants[t].n_acls = 0;
    }
    random_sg(&m, &set);
    n_conns = 0;
    assert_int_equal(lt_fabric_init_ct(fc, &m, true, 8192, sg_post, &set), 0);
    assert_int_equal(lt_fabric_init_ct(nc, &m, false, 8192, sg_post, &set), 0);

    for (unsigned i = 0; i < 400; i++) {
        struct hist e;
        bool foreign = false;
        unsigned what = rnd(10);
        if (what < 4 && n_h) {                  /* a reply to an earlier one */
            const struct hist *o = &h[rnd(n_h)];
            e = (struct hist){o->t, o->qsw, o->sw, o->q, o->p, o->dport, o->sport};
            if (rnd(3) == 0) {                  /* ...from another tenant */
                int t2 = (int)rnd((uint32_t)m.n_tenants);
                const struct vf_model_tenant *tn = &m.tenants[t2];
                if (t2 != e.t && (size_t)e.sw < tn->n_switches && (size_t)e.qsw < tn->n_switches &&
                    e.p < tn->switches[e.sw].n_ports && e.q < tn->switches[e.qsw].n_ports &&
                    (e.sw == e.qsw || (has_router_port(tn, e.sw) && has_router_port(tn, e.qsw)))) {
                    e.t = t2;
                    foreign = true;
                }
            }
        } else {
            e.t = (int)rnd((uint32_t)m.n_tenants);
            const struct vf_model_tenant *tn = &m.tenants[e.t];
            e.sw = (int)rnd((uint32_t)tn->n_switches);
            e.p = rnd((uint32_t)tn->switches[e.sw].n_ports);
            e.qsw = e.sw;
            if (what == 9) {
                e.q = SIZE_MAX;                 /* broadcast */
            } else {
                e.qsw = (int)rnd((uint32_t)tn->n_switches);
                if (e.qsw != e.sw && !(has_router_port(tn, e.sw) && has_router_port(tn, e.qsw)))
                    e.qsw = e.sw;
                e.q = rnd((uint32_t)tn->switches[e.qsw].n_ports);
                if (e.qsw == e.sw && e.q == e.p)
                    continue;                   /* a hairpin: not the point */
            }
            static const uint16_t ports[] = {53, 80, 1000, 1001};
            e.sport = (uint16_t)(1000 + rnd(2));
            e.dport = ports[rnd(4)];
            if (e.q != SIZE_MAX && n_h < 4096)
                h[n_h++] = e;
        }
        const struct vf_model_port *P = &m.tenants[e.t].switches[e.sw].ports[e.p];
        struct rpkt k;
        unsigned len = frame_of(&m, e.t, e.sw, e.p, e.qsw, e.q, e.sport, e.dport, buf, &k);
        struct rout ref;
        unsigned before = n_conns;
        ref_udp(&m, &set, e.t, e.sw, e.p, e.qsw, e.q, &k, &ref);
        st->committed += n_conns - before;
        assert_int_equal(lt_send(fc, P->name, buf, len, &got), 0);
        assert_int_equal(lt_send(nc, P->name, buf, len, &got2), 0);
        check_same(&got, &ref, ref.drop);
        ref.n = 0;
        for (unsigned d = 0; d < got.n; d++)
            ref.got[ref.n++] = got.d[d].port;
        check_same(&got2, &ref, 0);           /* cache and no cache agree */
        for (unsigned d = 0; d < got.n; d++)  /* and never leave the tenant */
            assert_int_equal(strncmp(got.d[d].port, (char[]){'t', (char)('0' + e.t), '-', 0}, 3), 0);
        st->pkts++;
        st->delivered += got.n > 0;
        st->foreign_dropped += foreign && got.n == 0;
        st->replies_ok += what < 4 && !foreign && got.n > 0;
        if (i % 100 == 99) {                    /* a port more: zones stay */
            int lt = (int)m.n_tenants - 1;
            add_random_port(&m, lt, (int)m.tenants[lt].n_switches - 1);
            lt_assign_ids(&m);
            assert_int_equal(lt_compile(fc, &m), 0);
            assert_int_equal(lt_compile(nc, &m), 0);
            st->recompiles++;
        }
    }
    lt_fabric_fini(fc);
    lt_fabric_fini(nc);
    free(fc);
    free(nc);
    lt_model_free(&m);
}

static void test_isolation_stateful(void **state)
{
    (void)state;
    const char *s = getenv("VF_TEST_SEED");
    uint64_t base = s ? strtoull(s, NULL, 0) : 0x5ca1ab1e;
    struct stats st = {0};
    for (unsigned round = 0; round < 10; round++)
        one_round(base + round * 104729 + 1, &st);
    print_message("%u packets, %u delivered, %u connections committed, %u replies "
                  "delivered, %u replies from other tenants dropped, %u recompiles\n",
                  st.pkts, st.delivered, st.committed, st.replies_ok,
                  st.foreign_dropped, st.recompiles);
    /* The generator must exercise what the property is about. */
    assert_true(st.committed > st.pkts / 20);
    assert_true(st.replies_ok > st.pkts / 20);
    assert_true(st.foreign_dropped > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isolation_stateful),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
