/* bench_classifier.c - classifier lookup and flow cache hit cost.
 *
 * BM_cls_lookup/N: N random ACL-like rules (per-port scope, the prefix
 * lengths and protocols ACLs use, well-known destination ports and a few
 * ranges, priorities with ties); packets are half drawn inside a random rule
 * and half random, looked up in bursts of 32. hit_rate and subtables are
 * reported beside the timings.
 *
 * BM_flow_cache_hit: a 4096-entry cache holding 1024 flows; nearly every
 * lookup hits (a few flows land in buckets with more than VF_FC_WAYS of
 * them). This is the per-packet cost the flow cache puts in front of the
 * classifier.
 */
#include <stdlib.h>
#include <string.h>

#include "perf/vf_bench.h"
#include "pipeline/vf_classifier.h"
#include "pipeline/vf_flow_cache.h"

#define BURST 32
#define N_PKTS 4096   /* power of two: the packet ring is indexed by & */

static uint64_t bench_rng = 0x5eed;

static uint64_t rnd(void)
{
    uint64_t z = (bench_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static uint8_t acl_plen(void)
{
    static const uint8_t plens[] = {0, 0, 0, 0, 32, 32, 24, 24, 16, 8};
    return plens[rnd_below(10)];
}

static uint32_t acl_addr(void)
{
    /* 10.0.0.0/16 worth of tenant addresses. */
    return 0x0a000000u | rnd_below(1u << 16);
}

static void acl_rule(struct vf_cls_match *m)
{
    static const uint8_t protos[] = {6, 6, 6, 6, 6, 17, 17, 17, 1, 0};
    static const uint16_t ports[] = {22, 53, 80, 443, 3306, 5432, 6379, 8080};

    memset(m, 0, sizeof(*m));
    m->match_scope = rnd_below(10) < 8;
    m->scope = rnd_below(64);
    m->ip_src = acl_addr();
    m->src_plen = acl_plen();
    m->ip_dst = acl_addr();
    m->dst_plen = acl_plen();
    m->proto = protos[rnd_below(10)];
    m->sport_hi = 65535;
    if (rnd_below(20) == 0)
        m->sport_lo = m->sport_hi = ports[rnd_below(8)];
    uint32_t r = rnd_below(10);
    if (r < 6) {
        m->dport_lo = m->dport_hi = ports[rnd_below(8)];
    } else if (r == 6) {
        m->dport_lo = 1024, m->dport_hi = 65535;   /* ephemeral ports */
    } else if (r == 7) {
        m->dport_lo = 8000, m->dport_hi = 8099;
    } else {
        m->dport_hi = 65535;
    }
}

static uint32_t in_prefix(uint32_t addr, uint8_t plen)
{
    uint32_t mask = plen ? ~0u << (32 - plen) : 0;
    return (addr & mask) | ((uint32_t)rnd() & ~mask);
}

static void acl_packet(struct vf_cls_key *k, const struct vf_cls_match *rules,
                       size_t n)
{
    memset(k, 0, sizeof(*k));
    if (rnd_below(2)) {
        const struct vf_cls_match *m = &rules[rnd_below((uint32_t)n)];
        k->scope = m->match_scope ? m->scope : rnd_below(64);
        k->ip_src = in_prefix(m->ip_src, m->src_plen);
        k->ip_dst = in_prefix(m->ip_dst, m->dst_plen);
        k->proto = m->proto ? m->proto : 6;
        k->sport = (uint16_t)(m->sport_lo +
                              rnd_below((uint32_t)m->sport_hi - m->sport_lo + 1));
        k->dport = (uint16_t)(m->dport_lo +
                              rnd_below((uint32_t)m->dport_hi - m->dport_lo + 1));
        return;
    }
    k->scope = rnd_below(64);
    k->ip_src = acl_addr();
    k->ip_dst = acl_addr();
    k->proto = rnd_below(2) ? 6 : 17;
    k->sport = (uint16_t)(1024 + rnd_below(64512));
    k->dport = (uint16_t)rnd_below(65536);
}

static void BM_cls_lookup(struct vf_bench_state *st, int64_t n_rules)
{
    struct vf_cls_match *rules = calloc((size_t)n_rules, sizeof(*rules));
    struct vf_cls_key *pkts = calloc(N_PKTS, sizeof(*pkts));
    struct vf_classifier *c = vf_cls_create();
    if (!rules || !pkts || !c) {
        vf_bench_skip(st, "out of memory");
        goto out;
    }
    bench_rng = 0x5eed;
    for (int64_t i = 0; i < n_rules; i++) {
        acl_rule(&rules[i]);
        if (vf_cls_add(c, &rules[i], (int32_t)rnd_below(1000),
                       (uint32_t)i) != 0) {
            vf_bench_skip(st, "vf_cls_add failed");
            goto out;
        }
    }
    vf_cls_seal(c);
    for (unsigned i = 0; i < N_PKTS; i++)
        acl_packet(&pkts[i], rules, (size_t)n_rules);

    uint64_t hits = 0, looked = 0;
    uint32_t sink = 0;
    unsigned pos = 0;
    while (vf_bench_next(st)) {
        for (unsigned i = 0; i < BURST; i++) {
            uint32_t action;
            if (vf_cls_lookup(c, &pkts[(pos + i) & (N_PKTS - 1)], &action, NULL)) {
                hits++;
                sink += action;
            }
        }
        pos += BURST;
        looked += BURST;
        vf_bench_items(st, BURST);
    }
    __asm__ volatile("" : : "r"(sink));   /* keep the lookups */
    vf_bench_counter(st, "hit_rate", looked ? (double)hits / (double)looked : 0);
    vf_bench_counter(st, "subtables", (double)vf_cls_n_subtables(c));
out:
    vf_cls_destroy(c);
    free(pkts);
    free(rules);
}
VF_BENCH_ARGS(BM_cls_lookup, 100, 1000, 10000)

#define FC_FLOWS 1024

/* A local key hash: the bench must not depend on which hash parse ships. */
static uint32_t flow_hash(const struct vf_flow_key *k)
{
    uint64_t w[sizeof(*k) / 8], h = 0;
    memcpy(w, k, sizeof(w));
    for (size_t i = 0; i < sizeof(w) / 8; i++)
        h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h ^ (h >> 32));
}

static void BM_flow_cache_hit(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    struct vf_flow_key *keys = calloc(FC_FLOWS, sizeof(*keys));
    uint32_t *hashes = calloc(FC_FLOWS, sizeof(*hashes));
    struct vf_flow_cache *fc = vf_fc_create(4 * FC_FLOWS, -1);
    if (!keys || !hashes || !fc) {
        vf_bench_skip(st, "setup failed");
        goto out;
    }
    uint8_t value[64];
    memset(value, 0xab, sizeof(value));
    bench_rng = 0xf10;
    for (unsigned i = 0; i < FC_FLOWS; i++) {
        keys[i].eth_type = 0x0800;
        keys[i].flags = 1 << 1;
        keys[i].ip_src = (uint32_t)rnd();
        keys[i].ip_dst = (uint32_t)rnd();
        keys[i].ip_proto = 6;
        keys[i].sport = (uint16_t)rnd();
        keys[i].dport = 80;
        hashes[i] = flow_hash(&keys[i]);
        vf_fc_insert(fc, i & 7, &keys[i], hashes[i], 1, value, sizeof(value));
    }

    uint64_t found = 0, looked = 0;
    unsigned pos = 0;
    while (vf_bench_next(st)) {
        for (unsigned i = 0; i < BURST; i++) {
            unsigned f = (pos + i * 37) & (FC_FLOWS - 1);
            found += vf_fc_lookup(fc, f & 7, &keys[f], hashes[f], 1) != NULL;
        }
        pos += BURST;
        looked += BURST;
        vf_bench_items(st, BURST);
    }
    vf_bench_counter(st, "hit_rate", looked ? (double)found / (double)looked : 0);
out:
    vf_fc_destroy(fc);
    free(hashes);
    free(keys);
}
VF_BENCH(BM_flow_cache_hit)
