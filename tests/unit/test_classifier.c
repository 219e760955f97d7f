/* test_classifier.c - the tuple space classifier against a linear oracle.
 *
 * The oracle below is the definition of a right answer: scan the rules from
 * the highest priority down (insertion order among equals) and return the
 * first that matches field by field. The random test feeds both the same
 * rules and packets and demands the same (matched?, action, priority);
 * every rule's action is its index, so the action also proves the tie
 * break picked the right rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/vf_classifier.h"

/* At least 10,000 rules and 100,000 packets; the same under ASan. */
#define N_RULES 10000
#define N_PACKETS 100000

/* ---- a small deterministic PRNG (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---- the linear oracle ---- */

struct oracle_rule {
    struct vf_cls_match m;
    int32_t prio;
    uint32_t action;
};

static uint32_t plen_mask(uint8_t plen)
{
    return plen == 0 ? 0 : ~0u << (32 - plen);
}

static bool oracle_match(const struct vf_cls_match *m, const struct vf_cls_key *k)
{
    if (m->match_scope && m->scope != k->scope)
        return false;
    if ((m->ip_src ^ k->ip_src) & plen_mask(m->src_plen))
        return false;
    if ((m->ip_dst ^ k->ip_dst) & plen_mask(m->dst_plen))
        return false;
    if (m->proto && m->proto != k->proto)
        return false;
    if (k->no_ports)    /* only rules that say nothing about ports */
        return m->sport_lo == 0 && m->sport_hi == 65535 &&
               m->dport_lo == 0 && m->dport_hi == 65535;
    return k->sport >= m->sport_lo && k->sport <= m->sport_hi &&
           k->dport >= m->dport_lo && k->dport <= m->dport_hi;
}

static const struct oracle_rule *cmp_rules;

/* Priority descending, then insertion (index) ascending. */
static int oracle_order_cmp(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *)a_, b = *(const uint32_t *)b_;
    if (cmp_rules[a].prio != cmp_rules[b].prio)
        return cmp_rules[a].prio > cmp_rules[b].prio ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* order[] lists rule indexes best first; the first match is the answer. */
static const struct oracle_rule *oracle_lookup(const struct oracle_rule *rules,
                                               const uint32_t *order, size_t n,
                                               const struct vf_cls_key *k)
{
    for (size_t i = 0; i < n; i++)
        if (oracle_match(&rules[order[i]].m, k))
            return &rules[order[i]];
    return NULL;
}

/* ---- random rules and packets ---- */

static uint32_t addr_pool[16];

static uint8_t rand_plen(void)
{
    /* Mostly the lengths ACLs use, sometimes any length: every distinct
     * length pair is another subtable, and tens of thousands of them would
     * only make the test slow, not more thorough. */
    static const uint8_t common[] = {8, 16, 24};
    uint32_t r = rnd_below(20);
    if (r < 4)
        return 0;
    if (r < 8)
        return 32;
    if (r < 18)
        return common[rnd_below(3)];
    return (uint8_t)rnd_below(33);
}

static uint32_t rand_addr(void)
{
    /* Addresses cluster around a few bases so that rules overlap. */
    return addr_pool[rnd_below(16)] ^ (uint32_t)rnd_below(1u << 12);
}

static uint8_t rand_proto(void)
{
    static const uint8_t common[] = {0, 6, 17, 1};
    return rnd_below(4) ? common[rnd_below(4)] : (uint8_t)rnd_below(256);
}

static uint16_t rand_port(void)
{
    static const uint16_t common[] = {22, 53, 80, 443, 8080, 0, 65535};
    return rnd_below(2) ? common[rnd_below(7)] : (uint16_t)rnd_below(65536);
}

static void rand_range(uint16_t *lo, uint16_t *hi, unsigned any_pct)
{
    uint32_t r = rnd_below(100);
    if (r < any_pct) {
        *lo = 0, *hi = 65535;
        return;
    }
    r = rnd_below(10);
    if (r < 4) {                /* one port */
        *lo = *hi = rand_port();
    } else if (r < 7) {         /* an aligned block, i.e. exactly one prefix */
        unsigned bits = rnd_below(17);
        uint32_t base = rnd_below(65536) & ~((1u << bits) - 1);
        *lo = (uint16_t)base, *hi = (uint16_t)(base + (1u << bits) - 1);
    } else if (r < 9) {         /* a short arbitrary range */
        uint32_t a = rnd_below(65536), b = a + rnd_below(2000);
        *lo = (uint16_t)a, *hi = (uint16_t)(b > 65535 ? 65535 : b);
    } else {                    /* any two ports */
        uint16_t a = (uint16_t)rnd_below(65536), b = (uint16_t)rnd_below(65536);
        *lo = a < b ? a : b, *hi = a < b ? b : a;
    }
}

static void rand_rule(struct oracle_rule *r, uint32_t idx, bool catch_all_ok)
{
    memset(r, 0, sizeof(*r));
    r->m.match_scope = rnd_below(10) < 3;
    r->m.scope = rnd_below(8);
    r->m.ip_src = rand_addr();     /* bits past the prefix must not matter */
    r->m.src_plen = rand_plen();
    r->m.ip_dst = rand_addr();
    r->m.dst_plen = rand_plen();
    r->m.proto = rand_proto();
    rand_range(&r->m.sport_lo, &r->m.sport_hi, 90);
    rand_range(&r->m.dport_lo, &r->m.dport_hi, 50);
    /* Rules with both addresses (nearly) wildcarded would match every
     * packet and leave the no-match answer untested; tie them to a scope,
     * which packets with a scope >= 8 never carry. */
    if (!catch_all_ok && r->m.src_plen < 8 && r->m.dst_plen < 8)
        r->m.match_scope = true;
    r->prio = (int32_t)rnd_below(64) - 16;   /* many ties, some negative */
    r->action = idx;
}

static uint32_t in_prefix(uint32_t addr, uint8_t plen)
{
    uint32_t m = plen_mask(plen);
    return (addr & m) | ((uint32_t)rnd() & ~m);
}

static uint16_t in_range(uint16_t lo, uint16_t hi)
{
    return (uint16_t)(lo + rnd_below((uint32_t)hi - lo + 1));
}

static void rand_packet(struct vf_cls_key *k, const struct oracle_rule *rules,
                        size_t n_rules)
{
    memset(k, 0, sizeof(*k));
    if (n_rules && rnd_below(2)) {
        /* A packet inside a random rule, so that most rules get hit. */
        const struct vf_cls_match *m = &rules[rnd_below((uint32_t)n_rules)].m;
        k->scope = m->match_scope ? m->scope : rnd_below(8);
        k->ip_src = in_prefix(m->ip_src, m->src_plen);
        k->ip_dst = in_prefix(m->ip_dst, m->dst_plen);
        k->proto = m->proto ? m->proto : rand_proto();
        k->sport = in_range(m->sport_lo, m->sport_hi);
        k->dport = in_range(m->dport_lo, m->dport_hi);
        k->no_ports = rnd_below(8) == 0;
        if (k->no_ports)
            k->sport = k->dport = 0;   /* as stage_acl sends a later fragment */
        return;
    }
    k->scope = rnd_below(16);
    k->ip_src = rnd_below(2) ? rand_addr() : (uint32_t)rnd();
    k->ip_dst = rnd_below(2) ? rand_addr() : (uint32_t)rnd();
    k->proto = rand_proto();
    k->sport = rand_port();
    k->dport = rand_port();
    k->no_ports = rnd_below(8) == 0;
    if (k->no_ports)
        k->sport = k->dport = 0;
}

/* ---- helpers for the edge cases ---- */

static struct vf_cls_match match_any(void)
{
    struct vf_cls_match m;
    memset(&m, 0, sizeof(m));
    m.sport_hi = m.dport_hi = 65535;
    return m;
}

static struct vf_cls_key key_of(uint32_t src, uint32_t dst, uint8_t proto,
                                uint16_t sport, uint16_t dport)
{
    struct vf_cls_key k;
    memset(&k, 0, sizeof(k));
    k.ip_src = src, k.ip_dst = dst, k.proto = proto;
    k.sport = sport, k.dport = dport;
    return k;
}

/* Returns the action or -1 on no match; *prio gets the priority. */
static int64_t lookup(const struct vf_classifier *c, struct vf_cls_key k,
                      int32_t *prio)
{
    uint32_t action = 0xdeadbeef;
    int32_t p = INT32_MIN;
    if (!vf_cls_lookup(c, &k, &action, &p))
        return -1;
    if (prio)
        *prio = p;
    return action;
}

/* ---- tests ---- */

static void test_empty(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    assert_non_null(c);
    vf_cls_seal(c);
    assert_int_equal(vf_cls_n_rules(c), 0);
    assert_int_equal(vf_cls_n_subtables(c), 0);
    assert_int_equal(lookup(c, key_of(1, 2, 6, 3, 4), NULL), -1);
    vf_cls_destroy(c);
    vf_cls_destroy(NULL);
}

static void test_refused(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    struct vf_cls_match m = match_any();

    m.sport_lo = 10, m.sport_hi = 9;
    assert_int_equal(vf_cls_add(c, &m, 1, 1), -EINVAL);
    m = match_any();
    m.dport_lo = 65535, m.dport_hi = 0;
    assert_int_equal(vf_cls_add(c, &m, 1, 1), -EINVAL);
    m = match_any();
    m.src_plen = 33;
    assert_int_equal(vf_cls_add(c, &m, 1, 1), -EINVAL);
    m = match_any();
    m.dst_plen = 255;
    assert_int_equal(vf_cls_add(c, &m, 1, 1), -EINVAL);
    assert_int_equal(vf_cls_n_rules(c), 0);

    m = match_any();
    assert_int_equal(vf_cls_add(c, &m, 1, 7), 0);
    vf_cls_seal(c);
    /* A sealed classifier is immutable (workers may be reading it). */
    assert_int_equal(vf_cls_add(c, &m, 2, 8), -EBUSY);
    assert_int_equal(vf_cls_n_rules(c), 1);
    assert_int_equal(lookup(c, key_of(1, 2, 3, 4, 5), NULL), 7);
    vf_cls_destroy(c);
}

static void test_prefix_lengths(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    struct vf_cls_match m = match_any();

    m.ip_src = 0x0a000001, m.src_plen = 32;        /* 10.0.0.1/32 */
    assert_int_equal(vf_cls_add(c, &m, 10, 1), 0);
    m = match_any();
    m.ip_dst = 0xc0a80155, m.dst_plen = 24;        /* 192.168.1.0/24, host bits set */
    assert_int_equal(vf_cls_add(c, &m, 5, 2), 0);
    m = match_any();
    m.ip_src = 0xffffffff, m.src_plen = 0;         /* /0 ignores the address */
    assert_int_equal(vf_cls_add(c, &m, 0, 3), 0);
    vf_cls_seal(c);
    assert_int_equal(vf_cls_n_subtables(c), 3);

    int32_t prio = 0;
    assert_int_equal(lookup(c, key_of(0x0a000001, 0, 6, 1, 1), &prio), 1);
    assert_int_equal(prio, 10);
    assert_int_equal(lookup(c, key_of(0x0a000002, 0, 6, 1, 1), &prio), 3);
    assert_int_equal(prio, 0);
    assert_int_equal(lookup(c, key_of(0x0a000000, 0, 6, 1, 1), NULL), 3);
    assert_int_equal(lookup(c, key_of(7, 0xc0a801ff, 6, 1, 1), NULL), 2);
    assert_int_equal(lookup(c, key_of(7, 0xc0a80100, 6, 1, 1), NULL), 2);
    assert_int_equal(lookup(c, key_of(7, 0xc0a80200, 6, 1, 1), NULL), 3);
    assert_int_equal(lookup(c, key_of(0x0a000001, 0xc0a80101, 6, 1, 1), NULL), 1);
    vf_cls_destroy(c);
}

static void test_port_ranges(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    struct vf_cls_match m = match_any();

    /* 0-65535 is one piece: nothing to split. */
    assert_int_equal(vf_cls_add(c, &m, 0, 100), 0);
    assert_int_equal(vf_cls_n_rules(c), 1);
    /* lo == hi is one exact piece. */
    m = match_any();
    m.dport_lo = m.dport_hi = 22;
    assert_int_equal(vf_cls_add(c, &m, 10, 22), 0);
    assert_int_equal(vf_cls_n_rules(c), 2);
    /* 1-6 = {1, 2-3, 4-5, 6}: four pieces. */
    m = match_any();
    m.sport_lo = 1, m.sport_hi = 6;
    assert_int_equal(vf_cls_add(c, &m, 20, 16), 0);
    assert_int_equal(vf_cls_n_rules(c), 6);
    /* 1-6 x 1-6 is the cross product: sixteen pieces. */
    m.dport_lo = 1, m.dport_hi = 6, m.proto = 17;
    assert_int_equal(vf_cls_add(c, &m, 30, 66), 0);
    assert_int_equal(vf_cls_n_rules(c), 22);
    /* 0-65534 = 16 pieces (every prefix length but /0). */
    m = match_any();
    m.sport_lo = 0, m.sport_hi = 65534, m.proto = 6;
    assert_int_equal(vf_cls_add(c, &m, 5, 65534), 0);
    assert_int_equal(vf_cls_n_rules(c), 38);
    vf_cls_seal(c);
    assert_int_equal(vf_cls_n_rules(c), 38);

    assert_int_equal(lookup(c, key_of(0, 0, 6, 9, 22), NULL), 22);
    assert_int_equal(lookup(c, key_of(0, 0, 6, 9, 21), NULL), 65534);
    assert_int_equal(lookup(c, key_of(0, 0, 6, 9, 23), NULL), 65534);
    assert_int_equal(lookup(c, key_of(0, 0, 6, 65535, 23), NULL), 100);
    assert_int_equal(lookup(c, key_of(0, 0, 17, 65535, 23), NULL), 100);
    for (uint16_t p = 0; p < 9; p++) {
        bool in = p >= 1 && p <= 6;
        assert_int_equal(lookup(c, key_of(0, 0, 1, p, 9), NULL), in ? 16 : 100);
        assert_int_equal(lookup(c, key_of(0, 0, 17, p, p), NULL),
                         in ? 66 : p == 22 ? 22 : 100);
    }
    vf_cls_destroy(c);
}

static void test_ties(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    struct vf_cls_match any = match_any(), exact = match_any();
    exact.ip_src = 0x01020304, exact.src_plen = 32;
    exact.match_scope = true, exact.scope = 9;

    /* Same match, same priority: the first added wins (same subtable). */
    assert_int_equal(vf_cls_add(c, &exact, 50, 1), 0);
    assert_int_equal(vf_cls_add(c, &exact, 50, 2), 0);
    /* Same priority in another subtable, added later: loses to 1. */
    assert_int_equal(vf_cls_add(c, &any, 50, 3), 0);
    /* Lower priority first, higher later: priority beats order. */
    assert_int_equal(vf_cls_add(c, &any, 40, 4), 0);
    struct vf_cls_match tcp = match_any();
    tcp.proto = 6;
    assert_int_equal(vf_cls_add(c, &tcp, 60, 5), 0);
    vf_cls_seal(c);

    struct vf_cls_key k = key_of(0x01020304, 0, 17, 1, 1);
    k.scope = 9;
    int32_t prio = 0;
    assert_int_equal(lookup(c, k, &prio), 1);
    assert_int_equal(prio, 50);
    k.scope = 8;
    assert_int_equal(lookup(c, k, NULL), 3);
    k.proto = 6;
    assert_int_equal(lookup(c, k, &prio), 5);
    assert_int_equal(prio, 60);
    vf_cls_destroy(c);

    /* The wildcard rule added first wins the tie against the exact one. */
    c = vf_cls_create();
    assert_int_equal(vf_cls_add(c, &any, -5, 3), 0);
    assert_int_equal(vf_cls_add(c, &exact, -5, 1), 0);
    vf_cls_seal(c);
    k.proto = 17, k.scope = 9;
    assert_int_equal(lookup(c, k, &prio), 3);
    assert_int_equal(prio, -5);
    vf_cls_destroy(c);
}

/* A packet without ports (a later IP fragment) matches only rules that say
 * nothing about ports, even when a port range contains 0. */
static void test_no_ports(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    struct vf_cls_match low = match_any(), udp = match_any(), sport0 = match_any();
    low.proto = 17;
    low.dport_lo = 0, low.dport_hi = 1023;
    udp.proto = 17;
    sport0.sport_lo = sport0.sport_hi = 0;
    assert_int_equal(vf_cls_add(c, &low, 100, 1), 0);
    assert_int_equal(vf_cls_add(c, &udp, 10, 2), 0);
    assert_int_equal(vf_cls_add(c, &sport0, 200, 3), 0);
    vf_cls_seal(c);

    struct vf_cls_key k = key_of(0x0a000001, 0x0a000002, 17, 0, 0);
    assert_int_equal(lookup(c, k, NULL), 3);      /* real ports 0 and 0 */
    k.no_ports = 1;
    assert_int_equal(lookup(c, k, NULL), 2);      /* no ports: proto only */
    k.proto = 6;
    assert_int_equal(lookup(c, k, NULL), -1);
    k = key_of(0x0a000001, 0x0a000002, 17, 5000, 53);
    assert_int_equal(lookup(c, k, NULL), 1);
    vf_cls_destroy(c);
}

/* The best match so far may be a non-head entry of an earlier subtable; a
 * later subtable whose head ties on priority but was added earlier must
 * still be searched, and wins. */
static void test_tie_across_subtables(void **state)
{
    (void)state;
    struct vf_classifier *c = vf_cls_create();
    struct vf_cls_match a = match_any(), b = match_any();

    a.src_plen = 32, a.ip_src = 0x01010101;
    assert_int_equal(vf_cls_add(c, &a, 10, 0), 0);     /* A's head */
    b.dst_plen = 32, b.ip_dst = 0x02020202;
    assert_int_equal(vf_cls_add(c, &b, 5, 1), 0);      /* B, seq 1 */
    a.ip_src = 0x03030303;
    assert_int_equal(vf_cls_add(c, &a, 5, 2), 0);      /* in A, seq 2 */
    vf_cls_seal(c);
    assert_int_equal(vf_cls_n_subtables(c), 2);

    int32_t prio = 0;
    assert_int_equal(lookup(c, key_of(0x03030303, 0x02020202, 6, 1, 1), &prio), 1);
    assert_int_equal(prio, 5);
    assert_int_equal(lookup(c, key_of(0x03030303, 0x02020203, 6, 1, 1), NULL), 2);
    assert_int_equal(lookup(c, key_of(0x01010101, 0x02020202, 6, 1, 1), NULL), 0);
    vf_cls_destroy(c);
}

static void run_random(uint64_t seed, size_t n_rules, size_t n_packets,
                       bool check_mix)
{
    rng_state = seed;
    for (int i = 0; i < 16; i++)
        addr_pool[i] = (uint32_t)rnd();

    struct oracle_rule *rules = calloc(n_rules, sizeof(*rules));
    uint32_t *order = calloc(n_rules, sizeof(*order));
    assert_non_null(rules);
    assert_non_null(order);
    struct vf_classifier *c = vf_cls_create();
    assert_non_null(c);

    for (size_t i = 0; i < n_rules; i++) {
        rand_rule(&rules[i], (uint32_t)i, !check_mix);
        assert_int_equal(vf_cls_add(c, &rules[i].m, rules[i].prio,
                                    rules[i].action), 0);
        order[i] = (uint32_t)i;
    }
    cmp_rules = rules;
    qsort(order, n_rules, sizeof(*order), oracle_order_cmp);
    vf_cls_seal(c);
    assert_true(vf_cls_n_rules(c) >= n_rules);

    size_t hits = 0;
    for (size_t i = 0; i < n_packets; i++) {
        struct vf_cls_key k;
        rand_packet(&k, rules, n_rules);
        const struct oracle_rule *want = oracle_lookup(rules, order, n_rules, &k);
        uint32_t action = 0;
        int32_t prio = 0;
        bool got = vf_cls_lookup(c, &k, &action, &prio);
        if (got != (want != NULL) || (want && (action != want->action ||
                                               prio != want->prio))) {
            print_message("seed %llu packet %zu: scope %u %08x->%08x proto %u "
                          "%u->%u: want %d/%u/%d got %d/%u/%d\n",
                          (unsigned long long)seed, i, k.scope, k.ip_src,
                          k.ip_dst, k.proto, k.sport, k.dport, want != NULL,
                          want ? want->action : 0, want ? want->prio : 0, got,
                          action, prio);
            fail();
        }
        hits += got;
    }
    print_message("seed %llu: %zu rules -> %zu pieces in %zu subtables; "
                  "%zu/%zu packets matched\n", (unsigned long long)seed,
                  n_rules, vf_cls_n_rules(c), vf_cls_n_subtables(c), hits,
                  n_packets);
    /* Both outcomes must be exercised for the comparison to mean much. */
    if (check_mix) {
        assert_true(hits > n_packets / 2);
        assert_true(hits < n_packets);
    }
    vf_cls_destroy(c);
    free(order);
    free(rules);
}

static void test_random_vs_oracle(void **state)
{
    (void)state;
    const char *s = getenv("VF_TEST_SEED");
    run_random(s ? strtoull(s, NULL, 0) : 0x5eed, N_RULES, N_PACKETS, true);
}

/* Small rule sets make early exit and ties matter more per packet. */
static void test_random_small(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        run_random(seed, 1 + seed * 5, 5000, false);
}

/* ---- IPv6: the same rules over 128-bit prefixes, the same oracle ---- */

struct oracle_rule6 {
    struct vf_cls_match6 m;
    int32_t prio;
    uint32_t action;
};

static uint8_t addr6_pool[16][16];

static bool in_prefix6_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
    for (unsigned i = 0; i < plen; i++) {
        unsigned bit = 7 - i % 8;
        if (((a[i / 8] >> bit) & 1) != ((b[i / 8] >> bit) & 1))
            return false;
    }
    return true;
}

static bool oracle_match6(const struct vf_cls_match6 *m, const struct vf_cls_key6 *k)
{
    if (m->match_scope && m->scope != k->scope)
        return false;
    if (!in_prefix6_eq(m->src, k->src, m->src_plen) ||
        !in_prefix6_eq(m->dst, k->dst, m->dst_plen))
        return false;
    if (m->proto && m->proto != k->proto)
        return false;
    if (k->no_ports)
        return m->sport_lo == 0 && m->sport_hi == 65535 &&
               m->dport_lo == 0 && m->dport_hi == 65535;
    return k->sport >= m->sport_lo && k->sport <= m->sport_hi &&
           k->dport >= m->dport_lo && k->dport <= m->dport_hi;
}

static uint8_t rand_plen6(void)
{
    /* Lengths either side of the 64-bit word boundary, and any. */
    static const uint8_t common[] = {0, 32, 48, 56, 64, 65, 96, 127, 128};
    return rnd_below(3) ? common[rnd_below(9)] : (uint8_t)rnd_below(129);
}

static void rand_addr6(uint8_t out[16])
{
    memcpy(out, addr6_pool[rnd_below(16)], 16);
    out[15] ^= (uint8_t)rnd();            /* low bits vary... */
    if (rnd_below(3) == 0)
        out[7] ^= (uint8_t)rnd();         /* ...and sometimes the high word */
}

/* A copy of a with the bits past plen random. */
static void in_prefix6(uint8_t out[16], const uint8_t a[16], unsigned plen)
{
    for (unsigned i = 0; i < 16; i++) {
        uint8_t r = (uint8_t)rnd();
        unsigned keep = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;
        uint8_t m = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
        out[i] = (uint8_t)((a[i] & m) | (r & ~m));
    }
}

static const struct oracle_rule6 *cmp_rules6;

static int oracle_order_cmp6(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *)a_, b = *(const uint32_t *)b_;
    if (cmp_rules6[a].prio != cmp_rules6[b].prio)
        return cmp_rules6[a].prio > cmp_rules6[b].prio ? -1 : 1;
    return a < b ? -1 : a > b;
}

static void run_random6(uint64_t seed, size_t n_rules, size_t n_packets)
{
    rng_state = seed;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            addr6_pool[i][j] = (uint8_t)rnd();
    struct oracle_rule6 *rules = calloc(n_rules, sizeof(*rules));
    uint32_t *order = calloc(n_rules, sizeof(*order));
    struct vf_classifier *c = vf_cls_create6();
    assert_non_null(rules);
    assert_non_null(order);
    assert_non_null(c);
    for (size_t i = 0; i < n_rules; i++) {
        struct oracle_rule6 *r = &rules[i];
        r->m.match_scope = rnd_below(10) < 3;
        r->m.scope = rnd_below(8);
        rand_addr6(r->m.src);
        r->m.src_plen = rand_plen6();
        rand_addr6(r->m.dst);
        r->m.dst_plen = rand_plen6();
        r->m.proto = rand_proto();
        rand_range(&r->m.sport_lo, &r->m.sport_hi, 90);
        rand_range(&r->m.dport_lo, &r->m.dport_hi, 50);
        if (r->m.src_plen < 8 && r->m.dst_plen < 8)
            r->m.match_scope = true;
        r->prio = (int32_t)rnd_below(64) - 16;
        r->action = (uint32_t)i;
        assert_int_equal(vf_cls_add6(c, &r->m, r->prio, r->action), 0);
        order[i] = (uint32_t)i;
    }
    cmp_rules6 = rules;
    qsort(order, n_rules, sizeof(*order), oracle_order_cmp6);
    vf_cls_seal(c);
    size_t hits = 0;
    for (size_t i = 0; i < n_packets; i++) {
        struct vf_cls_key6 k;
        memset(&k, 0, sizeof(k));
        if (rnd_below(2)) {
            const struct vf_cls_match6 *m = &rules[rnd_below((uint32_t)n_rules)].m;
            k.scope = m->match_scope ? m->scope : rnd_below(8);
            in_prefix6(k.src, m->src, m->src_plen);
            in_prefix6(k.dst, m->dst, m->dst_plen);
            k.proto = m->proto ? m->proto : rand_proto();
            k.sport = in_range(m->sport_lo, m->sport_hi);
            k.dport = in_range(m->dport_lo, m->dport_hi);
        } else {
            k.scope = rnd_below(16);
            rand_addr6(k.src);
            rand_addr6(k.dst);
            k.proto = rand_proto();
            k.sport = rand_port();
            k.dport = rand_port();
        }
        k.no_ports = rnd_below(8) == 0;
        if (k.no_ports)
            k.sport = k.dport = 0;
        const struct oracle_rule6 *want = NULL;
        for (size_t j = 0; j < n_rules && !want; j++)
            if (oracle_match6(&rules[order[j]].m, &k))
                want = &rules[order[j]];
        uint32_t action = 0;
        int32_t prio = 0;
        bool got = vf_cls_lookup6(c, &k, &action, &prio);
        if (got != (want != NULL) || (want && (action != want->action ||
                                               prio != want->prio))) {
            print_message("seed %llu packet %zu: want %d/%u got %d/%u\n",
                          (unsigned long long)seed, i, want != NULL,
                          want ? want->action : 0, got, action);
            fail();
        }
        hits += got;
    }
    print_message("IPv6 seed %llu: %zu rules -> %zu pieces in %zu subtables; "
                  "%zu/%zu packets matched\n", (unsigned long long)seed, n_rules,
                  vf_cls_n_rules(c), vf_cls_n_subtables(c), hits, n_packets);
    assert_true(hits > 0);
    assert_true(hits < n_packets);
    /* A classifier answers its own family only. */
    struct vf_cls_match m4;
    memset(&m4, 0, sizeof(m4));
    m4.sport_hi = m4.dport_hi = 65535;
    assert_int_equal(vf_cls_add(c, &m4, 1, 1), -EINVAL);
    vf_cls_destroy(c);
    free(order);
    free(rules);
}

static void test_random6_vs_oracle(void **state)
{
    (void)state;
    const char *s = getenv("VF_TEST_SEED");
    run_random6(s ? strtoull(s, NULL, 0) : 0x6eed, 2000, 20000);
    for (uint64_t seed = 1; seed <= 10; seed++)
        run_random6(seed, 1 + seed * 7, 3000);
}

/* An IPv4 classifier refuses IPv6 rules and the reverse; a /0 IPv6 rule
 * is any address. */
static void test_families(void **state)
{
    (void)state;
    struct vf_classifier *c4 = vf_cls_create(), *c6 = vf_cls_create6();
    struct vf_cls_match6 m6;
    memset(&m6, 0, sizeof(m6));
    m6.sport_hi = m6.dport_hi = 65535;
    assert_int_equal(vf_cls_add6(c4, &m6, 1, 1), -EINVAL);
    m6.src_plen = 129;
    assert_int_equal(vf_cls_add6(c6, &m6, 1, 1), -EINVAL);
    m6.src_plen = 0;
    m6.proto = 58;
    assert_int_equal(vf_cls_add6(c6, &m6, 5, 7), 0);
    vf_cls_seal(c6);
    struct vf_cls_key6 k;
    memset(&k, 0, sizeof(k));
    k.proto = 58;
    memset(k.src, 0xab, 16);
    uint32_t a = 0;
    assert_true(vf_cls_lookup6(c6, &k, &a, NULL));
    assert_int_equal(a, 7);
    k.proto = 6;
    assert_false(vf_cls_lookup6(c6, &k, &a, NULL));
    vf_cls_destroy(c4);
    vf_cls_destroy(c6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_prefix_lengths),
        cmocka_unit_test(test_port_ranges),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_tie_across_subtables),
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_vs_oracle),
        cmocka_unit_test(test_no_ports),
        cmocka_unit_test(test_random6_vs_oracle),
        cmocka_unit_test(test_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
