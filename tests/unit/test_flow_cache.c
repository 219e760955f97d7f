/* test_flow_cache.c - the flow cache against a naive oracle map.
 *
 * The oracle remembers, for every (port, key) ever inserted, the latest
 * generation and value. The cache may forget (it is bounded), but whatever
 * it returns must be exactly the oracle's value for the generation asked.
 * Since the test chooses the hashes, it also knows each key's bucket and
 * checks the replacement promise: a key survives at least VF_FC_WAYS - 1
 * later inserts of other keys into its bucket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pipeline/vf_flow_cache.h"

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

/* Flow i: a distinct key; its in_port is i % 5 so ports differ as well. */
static void flow_key(unsigned i, struct vf_flow_key *k)
{
    memset(k, 0, sizeof(*k));
    k->eth_type = 0x0800;
    k->flags = VF_FLOW_IP4 | VF_FLOW_L4;
    k->ip_src = 0x0a000000u + i;
    k->ip_dst = 0x0a800000u + i * 7;
    k->ip_proto = 6;
    k->sport = (uint16_t)(i * 13);
    k->dport = 80;
}

static uint32_t flow_port(unsigned i)
{
    return i % 5;
}

/* A scrambled but fixed hash per flow, as a real key hash would be. */
static uint32_t flow_hash(unsigned i)
{
    uint64_t h = (i + 1) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

static void test_create(void **state)
{
    (void)state;
    static const unsigned want[][2] = {
        {0, 4}, {1, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {1025, 2048},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct vf_flow_cache *fc = vf_fc_create(want[i][0], i % 2 ? 0 : -1);
        assert_non_null(fc);
        assert_int_equal(vf_fc_capacity(fc), want[i][1]);
        struct vf_flow_cache_stats s;
        vf_fc_get_stats(fc, &s);
        assert_int_equal(s.hits + s.misses + s.inserts + s.evictions, 0);
        vf_fc_destroy(fc);
    }
    assert_null(vf_fc_create(~0u, -1));
    vf_fc_destroy(NULL);
}

/* 0..300 one by one, then every 37th, then VF_FC_VALUE_MAX; past it, an
 * end. */
static unsigned next_len(unsigned len)
{
    if (len < 300)
        return len + 1;
    if (len < VF_FC_VALUE_MAX && len + 37 > VF_FC_VALUE_MAX)
        return VF_FC_VALUE_MAX;
    return len + 37;
}

static void test_round_trip(void **state)
{
    (void)state;
    /* Big enough that no bucket and no slab class is full: nothing here
     * is evicted. */
    struct vf_flow_cache *fc = vf_fc_create(1u << 16, -1);
    uint8_t val[VF_FC_VALUE_MAX + 1];
    struct vf_flow_key k;
    unsigned n = 0;

    rng_state = 7;
    /* Every length from 0 to 300 (the inline and middle classes and their
     * edges), then every 37th and the maximum, each in its own flow. */
    for (unsigned len = 0; len <= VF_FC_VALUE_MAX; len = next_len(len)) {
        n++;
        for (unsigned j = 0; j < len; j++)
            val[j] = (uint8_t)(len * 31 + j);
        flow_key(len, &k);
        vf_fc_insert(fc, flow_port(len), &k, len, 3, val, len);
        const uint8_t *got = vf_fc_lookup(fc, flow_port(len), &k, len, 3);
        assert_non_null(got);
        assert_memory_equal(got, val, len);
    }
    /* The same key on another port is another flow. */
    flow_key(10, &k);
    assert_null(vf_fc_lookup(fc, flow_port(10) + 1, &k, 10, 3));
    /* A key differing in one byte is another flow, even with equal hash. */
    flow_key(10, &k);
    k.pad[9] = 1;
    assert_null(vf_fc_lookup(fc, flow_port(10), &k, 10, 3));

    /* Overwrite in place: the new value, never the old one. */
    flow_key(20, &k);
    memset(val, 0x5a, 8);
    vf_fc_insert(fc, flow_port(20), &k, 20, 3, val, 8);
    const uint8_t *got = vf_fc_lookup(fc, flow_port(20), &k, 20, 3);
    assert_non_null(got);
    assert_memory_equal(got, val, 8);

    struct vf_flow_cache_stats s;
    vf_fc_get_stats(fc, &s);
    assert_int_equal(s.inserts, n + 1);
    assert_int_equal(s.hits, n + 1);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.evictions, 0);
    vf_fc_destroy(fc);
}

static void test_too_long(void **state)
{
    (void)state;
    struct vf_flow_cache *fc = vf_fc_create(64, -1);
    uint8_t val[VF_FC_VALUE_MAX + 1];
    struct vf_flow_key k;

    memset(val, 1, sizeof(val));
    flow_key(1, &k);
    vf_fc_insert(fc, 0, &k, 1, 1, val, VF_FC_VALUE_MAX + 1);
    assert_null(vf_fc_lookup(fc, 0, &k, 1, 1));
    /* A too-long value also drops the shorter one cached before it. */
    vf_fc_insert(fc, 0, &k, 1, 1, val, 4);
    assert_non_null(vf_fc_lookup(fc, 0, &k, 1, 1));
    vf_fc_insert(fc, 0, &k, 1, 1, val, VF_FC_VALUE_MAX + 1);
    assert_null(vf_fc_lookup(fc, 0, &k, 1, 1));

    struct vf_flow_cache_stats s;
    vf_fc_get_stats(fc, &s);
    assert_int_equal(s.inserts, 1);
    vf_fc_destroy(fc);
}

static void test_generation(void **state)
{
    (void)state;
    struct vf_flow_cache *fc = vf_fc_create(64, -1);
    struct vf_flow_key k;
    uint32_t v1 = 111, v2 = 222;

    flow_key(1, &k);
    vf_fc_insert(fc, 0, &k, 99, 5, &v1, sizeof(v1));
    assert_null(vf_fc_lookup(fc, 0, &k, 99, 6));
    assert_null(vf_fc_lookup(fc, 0, &k, 99, 4));
    assert_null(vf_fc_lookup(fc, 0, &k, 99, 5 + (1ull << 32)));
    assert_non_null(vf_fc_lookup(fc, 0, &k, 99, 5));
    /* The entry recomputed under generation 6 replaces generation 5's. */
    vf_fc_insert(fc, 0, &k, 99, 6, &v2, sizeof(v2));
    const uint32_t *got = vf_fc_lookup(fc, 0, &k, 99, 6);
    assert_non_null(got);
    assert_int_equal(*got, v2);
    assert_null(vf_fc_lookup(fc, 0, &k, 99, 5));
    vf_fc_destroy(fc);
}

/* Hashes 0..cap-1 fill every way of every bucket exactly; cap more flows
 * then evict exactly cap entries, and the cache never holds more than cap. */
static void test_fill_and_evict(void **state)
{
    (void)state;
    struct vf_flow_cache *fc = vf_fc_create(256, -1);
    unsigned cap = vf_fc_capacity(fc);
    struct vf_flow_key k;
    uint32_t v;

    for (unsigned i = 0; i < 2 * cap; i++) {
        flow_key(i, &k);
        v = i;
        vf_fc_insert(fc, 0, &k, i, 1, &v, sizeof(v));
    }
    struct vf_flow_cache_stats s;
    vf_fc_get_stats(fc, &s);
    assert_int_equal(s.inserts, 2 * cap);
    assert_int_equal(s.evictions, cap);
    unsigned resident = 0;
    for (unsigned i = 0; i < 2 * cap; i++) {
        flow_key(i, &k);
        const uint32_t *got = vf_fc_lookup(fc, 0, &k, i, 1);
        /* The second (newer) half replaced the first. */
        if (i < cap) {
            assert_null(got);
        } else {
            assert_non_null(got);
            assert_int_equal(*got, i);
        }
        resident += got != NULL;
    }
    assert_int_equal(resident, cap);
    vf_fc_destroy(fc);
}

struct oracle_entry {
    bool valid;          /* inserted (and not dropped by a too-long value) */
    uint64_t gen;
    uint16_t len;
    uint8_t val[VF_FC_VALUE_MAX];
    uint64_t bucket_inserts_at;  /* its bucket's insert count when inserted */
    uint64_t class_inserts_at;   /* its value class's insert count then */
};

/* A value's slab class: 0 inline, 1 the middle slots, 2 the big ones. */
static unsigned value_class(const struct vf_flow_cache *fc, size_t len)
{
    unsigned n = vf_fc_value_slots(fc, len);
    return n == 0 ? 0 : n == vf_fc_value_slots(fc, VF_FC_VALUE_MAX) ? 2 : 1;
}

#define N_FLOWS 6000
#define N_OPS 400000

static void test_random_vs_oracle(void **state)
{
    (void)state;
    struct vf_flow_cache *fc = vf_fc_create(1024, -1);
    unsigned cap = vf_fc_capacity(fc);
    uint32_t bmask = cap / VF_FC_WAYS - 1;
    struct oracle_entry *o = calloc(N_FLOWS, sizeof(*o));
    uint64_t *bucket_inserts = calloc(bmask + 1, sizeof(*bucket_inserts));
    assert_non_null(o);
    assert_non_null(bucket_inserts);

    uint64_t gen = 1, n_lookups = 0, n_inserts = 0, n_hits = 0, n_must = 0;
    uint64_t class_inserts[3] = {0, 0, 0};
    uint8_t val[VF_FC_VALUE_MAX + 8];
    struct vf_flow_key k;
    rng_state = 0xcafe;

    for (unsigned op = 0; op < N_OPS; op++) {
        /* A hot set of flows and a long tail, so some stay cached. */
        unsigned i = rnd_below(4) ? rnd_below(N_FLOWS / 10) : rnd_below(N_FLOWS);
        uint32_t h = flow_hash(i), b = h & bmask;
        uint32_t r = rnd_below(1000);
        flow_key(i, &k);

        if (r < 2) {
            gen++;                      /* a table change */
        } else if (r < 400) {
            size_t len = rnd_below(20) ? rnd_below(64) : rnd_below(VF_FC_VALUE_MAX + 8);
            for (size_t j = 0; j < len; j++)
                val[j] = (uint8_t)rnd();
            vf_fc_insert(fc, flow_port(i), &k, h, gen, val, len);
            if (len > VF_FC_VALUE_MAX) {
                o[i].valid = false;
                continue;
            }
            n_inserts++;
            bucket_inserts[b]++;
            class_inserts[value_class(fc, len)]++;
            o[i] = (struct oracle_entry){.valid = true, .gen = gen,
                                         .len = (uint16_t)len,
                                         .bucket_inserts_at = bucket_inserts[b],
                                         .class_inserts_at =
                                             class_inserts[value_class(fc, len)]};
            memcpy(o[i].val, val, len);
        } else {
            /* Mostly the current generation, sometimes an older one. */
            uint64_t g = rnd_below(10) ? gen : gen - rnd_below((uint32_t)gen);
            const uint8_t *got = vf_fc_lookup(fc, flow_port(i), &k, h, g);
            n_lookups++;
            bool fresh = o[i].valid && o[i].gen == g;
            if (got) {
                n_hits++;
                assert_true(fresh);
                assert_memory_equal(got, o[i].val, o[i].len);
            }
            /* At most WAYS - 1 other inserts into the bucket since this
             * key's insert cannot have evicted it, nor fewer other values
             * of its slab class than the class has slots. */
            unsigned c = value_class(fc, o[i].len);
            bool must = fresh &&
                        bucket_inserts[b] - o[i].bucket_inserts_at < VF_FC_WAYS &&
                        (c == 0 || class_inserts[c] - o[i].class_inserts_at <
                                       vf_fc_value_slots(fc, o[i].len));
            if (must) {
                assert_non_null(got);
                n_must++;
            }
        }

        if (op % 50000 == 0) {
            /* Bounded: never more entries than the capacity, counted by
             * asking for every flow at its latest generation. */
            struct vf_flow_cache_stats before;
            vf_fc_get_stats(fc, &before);
            unsigned resident = 0;
            for (unsigned j = 0; j < N_FLOWS; j++) {
                if (!o[j].valid)
                    continue;
                flow_key(j, &k);
                resident += vf_fc_lookup(fc, flow_port(j), &k, flow_hash(j),
                                         o[j].gen) != NULL;
            }
            assert_true(resident <= cap);
            struct vf_flow_cache_stats after;
            vf_fc_get_stats(fc, &after);
            n_lookups += after.hits + after.misses - before.hits - before.misses;
            n_hits += after.hits - before.hits;
        }
    }

    struct vf_flow_cache_stats s;
    vf_fc_get_stats(fc, &s);
    assert_int_equal(s.hits + s.misses, n_lookups);
    assert_int_equal(s.hits, n_hits);
    assert_int_equal(s.inserts, n_inserts);
    assert_true(s.evictions > 0 && s.evictions <= s.inserts);
    /* The stream must exercise hits, forced hits and misses. */
    assert_true(n_must > 1000);
    assert_true(s.hits > 1000 && s.misses > 1000);
    print_message("gens %llu lookups %llu hits %llu inserts %llu evictions %llu\n",
                  (unsigned long long)gen, (unsigned long long)n_lookups,
                  (unsigned long long)s.hits, (unsigned long long)s.inserts,
                  (unsigned long long)s.evictions);
    free(bucket_inserts);
    free(o);
    vf_fc_destroy(fc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_fill_and_evict),
        cmocka_unit_test(test_random_vs_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
