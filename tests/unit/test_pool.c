/* test_pool.c - packet buffer pools and per-worker caches (numa/vf_pool.h).
 *
 * Correctness tests first (every slot handed out once, descriptors sane,
 * exhaustion, foreign frees, NUMA node recorded), then a two-thread stress
 * test with cross-frees that must end with nothing in use, then (under
 * ASan only) the poisoning of free slots and redzones.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "numa/vf_pool.h"
#include "numa/vf_topo.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* The least slot a data room needs: descriptor + room, in cache lines. */
static size_t slot_size(unsigned data_room)
{
    return (sizeof(struct vf_pkt) + data_room + VF_CACHE_LINE - 1) /
           VF_CACHE_LINE * VF_CACHE_LINE;
}

/* Slot index of a packet, checking it is a slot start inside the region. */
static size_t slot_index(const struct vf_pool_info *in, const struct vf_pkt *p)
{
    size_t off = (size_t)((const uint8_t *)p - (const uint8_t *)in->base);
    size_t ss = in->slot_size;
    assert_true(ss >= slot_size(in->data_room) && ss % VF_CACHE_LINE == 0);
    assert_true((const uint8_t *)p >= (const uint8_t *)in->base);
    assert_int_equal(off % ss, 0);
    assert_true(off / ss < in->n_bufs);
    return off / ss;
}

static void check_fresh(const struct vf_pool *pool, const struct vf_pkt *p,
                        unsigned data_room)
{
    assert_ptr_equal(p->pool, pool);
    assert_ptr_equal(p->buf, (const uint8_t *)p + sizeof(*p));
    assert_int_equal(p->buf_len, data_room);
    assert_int_equal(p->data_off, VF_PKT_HEADROOM);
    assert_int_equal(p->len, 0);
    assert_int_equal(p->user, 0);
    assert_int_equal(p->meta.flow_hash, 0);
}

/* Allocates the whole pool through one cache in bursts of `burst`, checks
 * each slot comes out exactly once, and returns how many came out. */
static unsigned drain(struct vf_pool *pool, struct vf_pool_cache *c,
                      struct vf_pkt **all, unsigned cap, unsigned burst)
{
    struct vf_pool_info in;
    unsigned got = 0;

    vf_pool_get_info(pool, &in);
    bool *seen = calloc(in.n_bufs, sizeof(*seen));
    assert_non_null(seen);
    for (unsigned guard = 0; guard <= cap; guard++) {
        unsigned k = vf_pool_alloc_burst(c, &all[got],
                                         cap - got < burst ? cap - got : burst);
        if (k == 0)
            break;
        for (unsigned i = got; i < got + k; i++) {
            size_t idx = slot_index(&in, all[i]);
            assert_false(seen[idx]);
            seen[idx] = true;
            check_fresh(pool, all[i], in.data_room);
        }
        got += k;
    }
    free(seen);
    return got;
}

static void test_alloc_all_free_all(void **state)
{
    (void)state;
    char err[256];
    enum { N = 1000 };
    struct vf_pool *pool = vf_pool_create(NULL, -1, N, 2048, err, sizeof(err));
    assert_non_null(pool);
    static struct vf_pool_cache c;
    static struct vf_pkt *all[N + 1];

    vf_pool_cache_init(&c, pool);
    assert_int_equal(vf_pool_in_use(pool), 0);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(drain(pool, &c, all, N + 1, 32), N);
        assert_int_equal(vf_pool_in_use(pool), N);
        assert_int_equal(vf_pool_alloc_burst(&c, all, 32), 0);
        assert_null(vf_pool_alloc(&c));
        /* Free in uneven bursts to exercise cache overflow. */
        for (unsigned i = 0; i < N; i += 7)
            vf_pool_free_burst(&c, &all[i], N - i < 7 ? N - i : 7);
        assert_int_equal(vf_pool_in_use(pool), 0);
        vf_pool_cache_flush(&c);
        assert_int_equal(c.n, 0);
        assert_int_equal(vf_pool_in_use(pool), 0);
    }
    vf_pool_destroy(pool);
    vf_pool_destroy(NULL);
}

/* A burst larger than the cache is served in pieces. */
static void test_big_burst(void **state)
{
    (void)state;
    char err[256];
    enum { N = 3000 };
    struct vf_pool *pool = vf_pool_create(NULL, -1, N, 256, err, sizeof(err));
    assert_non_null(pool);
    static struct vf_pool_cache c;
    static struct vf_pkt *all[N];

    vf_pool_cache_init(&c, pool);
    assert_int_equal(drain(pool, &c, all, N, 2000), N);
    assert_int_equal(vf_pool_in_use(pool), N);
    vf_pool_free_burst(&c, all, N);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_true(c.n <= VF_POOL_CACHE_MAX);
    vf_pool_cache_flush(&c);
    vf_pool_destroy(pool);
}

static void test_exhaustion(void **state)
{
    (void)state;
    char err[256];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 10, 512, err, sizeof(err));
    assert_non_null(pool);
    static struct vf_pool_cache a, b;
    struct vf_pkt *pk[32];

    vf_pool_cache_init(&a, pool);
    vf_pool_cache_init(&b, pool);
    assert_int_equal(vf_pool_alloc_burst(&a, pk, 32), 10);
    assert_int_equal(vf_pool_alloc_burst(&a, pk + 10, 4), 0);
    assert_int_equal(vf_pool_alloc_burst(&b, pk + 10, 4), 0);
    assert_int_equal(vf_pool_in_use(pool), 10);

    vf_pool_free(&a, pk[3]);
    assert_int_equal(vf_pool_in_use(pool), 9);
    struct vf_pkt *again = vf_pool_alloc(&a);
    assert_ptr_equal(again, pk[3]);
    /* Slots sitting in a's cache are not visible to b until a flushes. */
    vf_pool_free_burst(&a, pk, 10);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_int_equal(vf_pool_alloc_burst(&b, pk, 32), 0);
    vf_pool_cache_flush(&a);
    assert_int_equal(vf_pool_alloc_burst(&b, pk, 32), 10);
    vf_pool_free_burst(&b, pk, 10);
    vf_pool_cache_flush(&b);
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

/* The reserve: ordinary allocations leave it on the stack, whatever the
 * cache's refill size; the reserve allocation takes it; frees give it
 * back. */
static void test_reserve(void **state)
{
    (void)state;
    char err[256];
    enum { N = 1000, R = 300 };
    struct vf_pool *pool = vf_pool_create(NULL, -1, N, 256, err, sizeof(err));
    assert_non_null(pool);
    static struct vf_pool_cache a, b;
    static struct vf_pkt *pk[N];
    struct vf_pool_info in;

    vf_pool_set_reserve(pool, R);
    vf_pool_get_info(pool, &in);
    assert_int_equal(in.reserve, R);
    vf_pool_cache_init(&a, pool);
    vf_pool_cache_init(&b, pool);
    unsigned got = drain(pool, &a, pk, N, 7);
    assert_int_equal(got, N - R);
    assert_int_equal(vf_pool_alloc_burst(&b, pk + got, 5), 0);
    /* Dipping into the reserve takes what was asked for, and leaves none
     * of it in the cache for an ordinary allocation. */
    struct vf_pkt *one = vf_pool_alloc_reserve(&b);
    assert_non_null(one);
    assert_int_equal(b.n, 0);
    assert_null(vf_pool_alloc(&b));
    vf_pool_free(&b, one);
    vf_pool_cache_flush(&b);
    /* b's reserve allocations take exactly the reserve, nothing more. */
    unsigned k, more = 0;
    while ((k = vf_pool_alloc_burst_reserve(&b, pk + got + more, 32)) > 0)
        more += k;
    assert_int_equal(more, R);
    assert_null(vf_pool_alloc_reserve(&a));
    assert_int_equal(vf_pool_in_use(pool), N);

    /* Given back, the reserve is whole again for the next round. */
    vf_pool_free_burst(&a, pk, N);
    vf_pool_cache_flush(&a);
    assert_int_equal(vf_pool_in_use(pool), 0);
    assert_int_equal(drain(pool, &b, pk, N, 32), N - R);
    vf_pool_free_burst(&b, pk, N - R);
    vf_pool_cache_flush(&b);

    /* A reserve larger than the pool is the whole pool. */
    vf_pool_set_reserve(pool, 5 * N);
    vf_pool_get_info(pool, &in);
    assert_int_equal(in.reserve, N);
    assert_null(vf_pool_alloc(&a));
    assert_non_null(pk[0] = vf_pool_alloc_reserve(&a));
    vf_pool_free(&a, pk[0]);
    vf_pool_cache_flush(&a);
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

/* A cache holds at most two chunks of its pool's cache_half, which is
 * 1/64 of the pool (16..VF_POOL_CACHE_MAX/2): small pools of big buffers
 * are not hoarded by a few caches. */
static void test_cache_sized_to_pool(void **state)
{
    (void)state;
    static const unsigned sizes[] = {10, 768, 4096, 16384, 65536};
    static const unsigned halves[] = {16, 16, 64, 256, 256};
    char err[256];
    static struct vf_pkt *pk[4096];
    static struct vf_pool_cache c;

    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct vf_pool *pool = vf_pool_create(NULL, -1, sizes[i], 256, err,
                                              sizeof(err));
        assert_non_null(pool);
        struct vf_pool_info in;
        vf_pool_get_info(pool, &in);
        assert_int_equal(in.cache_half, halves[i]);
        vf_pool_cache_init(&c, pool);
        unsigned n = sizes[i] < 4096 ? sizes[i] : 4096;
        unsigned got = 0;
        for (unsigned k; got < n && (k = vf_pool_alloc_burst(&c, pk + got, 1)); got++)
            assert_true(c.n <= 2 * in.cache_half);
        assert_int_equal(got, n);
        for (unsigned j = 0; j < got; j++) {
            vf_pool_free(&c, pk[j]);
            assert_true(c.n <= 2 * in.cache_half);
        }
        vf_pool_cache_flush(&c);
        assert_int_equal(vf_pool_in_use(pool), 0);
        vf_pool_destroy(pool);
    }
}

static void test_headroom_and_reset(void **state)
{
    (void)state;
    char err[256];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 64,
                                          VF_PKT_DEFAULT_DATA_ROOM, err,
                                          sizeof(err));
    assert_non_null(pool);
    static struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);

    struct vf_pkt *p = vf_pool_alloc(&c);
    assert_non_null(p);
    assert_true(vf_pkt_headroom(p) >= 128);
    static uint8_t frame[VF_PKT_DEFAULT_DATA_ROOM];
    memset(frame, 0x5a, sizeof(frame));
    /* The whole room after the headroom holds a frame; one byte more does
     * not fit. */
    assert_int_equal(vf_pkt_set(p, frame, VF_PKT_DEFAULT_DATA_ROOM -
                                              VF_PKT_HEADROOM + 1), -ENOSPC);
    assert_int_equal(vf_pkt_set(p, frame, 100), 0);
    uint8_t *hdr = vf_pkt_prepend(p, 50); /* e.g. outer Eth+IPv4+UDP+Geneve */
    assert_non_null(hdr);
    assert_ptr_equal(hdr, p->buf + VF_PKT_HEADROOM - 50);
    assert_int_equal(p->len, 150);
    assert_non_null(vf_pkt_prepend(p, VF_PKT_HEADROOM - 50));
    assert_null(vf_pkt_prepend(p, 1));
    assert_int_equal(p->data_off, 0);

    p->meta.flow_hash = 0xdead;
    p->meta.out_port = 3;
    p->user = 42;
    p->port = 7;
    p->gso_size = 1448;
    vf_pool_free(&c, p);
    /* LIFO cache: the same slot comes back, reset. */
    struct vf_pkt *q = vf_pool_alloc(&c);
    assert_ptr_equal(q, p);
    check_fresh(pool, q, VF_PKT_DEFAULT_DATA_ROOM);
    assert_int_equal(q->port, 0);
    assert_int_equal(q->gso_size, 0);
    assert_int_equal(q->meta.out_port, 0);
    vf_pool_free(&c, q);
    vf_pool_cache_flush(&c);
    vf_pool_destroy(pool);
}

/* Filling every data room to the brim must not touch any descriptor: the
 * slot size really leaves data_room bytes (odd sizes included). */
static void test_data_room_respected(void **state)
{
    (void)state;
    static const unsigned rooms[] = {VF_PKT_HEADROOM, 1000, 2048, 9216};
    char err[256];

    for (unsigned r = 0; r < sizeof(rooms) / sizeof(rooms[0]); r++) {
        enum { N = 200 };
        struct vf_pool *pool = vf_pool_create(NULL, -1, N, rooms[r], err,
                                              sizeof(err));
        assert_non_null(pool);
        struct vf_pool_info in;
        vf_pool_get_info(pool, &in);
        assert_int_equal(in.n_bufs, N);
        assert_int_equal(in.data_room, rooms[r]);
        assert_non_null(in.base);
        assert_true(in.slot_size >= slot_size(rooms[r]));
        assert_true(in.size >= N * in.slot_size);
        assert_int_equal((uintptr_t)in.base % VF_CACHE_LINE, 0);

        static struct vf_pool_cache c;
        static struct vf_pkt *all[N];
        vf_pool_cache_init(&c, pool);
        assert_int_equal(drain(pool, &c, all, N, 32), N);
        for (unsigned i = 0; i < N; i++)
            memset(all[i]->buf, 0xab, all[i]->buf_len);
        for (unsigned i = 0; i < N; i++) {
            assert_ptr_equal(all[i]->pool, pool);
            assert_int_equal(all[i]->buf_len, rooms[r]);
            assert_ptr_equal(all[i]->buf, (uint8_t *)all[i] + 64);
            assert_int_equal((uintptr_t)all[i] % VF_CACHE_LINE, 0);
        }
        vf_pool_free_burst(&c, all, N);
        vf_pool_cache_flush(&c);
        assert_int_equal(vf_pool_in_use(pool), 0);
        vf_pool_destroy(pool);
    }
}

static void test_create_refusals(void **state)
{
    (void)state;
    char err[256];
    struct vf_topo t;

    assert_null(vf_pool_create(NULL, -1, 0, 2048, err, sizeof(err)));
    assert_non_null(strstr(err, "n_bufs"));
    assert_null(vf_pool_create(NULL, -1, 16, 64, err, sizeof(err)));
    assert_non_null(strstr(err, "data_room 64"));
    assert_null(vf_pool_create(NULL, -2, 16, 2048, err, sizeof(err)));
    assert_non_null(strstr(err, "-2"));

    assert_int_equal(setenv("HWLOC_SYNTHETIC", "numa:2 core:1 pu:1", 1), 0);
    assert_int_equal(vf_topo_load(&t), 0);
    unsetenv("HWLOC_SYNTHETIC");
    assert_null(vf_pool_create(&t, 5, 16, 2048, err, sizeof(err)));
    assert_non_null(strstr(err, "NUMA node 5"));
    assert_non_null(strstr(err, "2 NUMA"));
    vf_topo_free(&t);
}

/* A packet freed through another pool's cache goes home, not into the
 * freeing cache. */
static void test_foreign_free(void **state)
{
    (void)state;
    char err[256];
    /* a is large enough that its cache (cache_half 64) keeps all 40 of
     * its own packets freed below. */
    struct vf_pool *a = vf_pool_create(NULL, 0, 4096, 512, err, sizeof(err));
    struct vf_pool *b = vf_pool_create(NULL, 1, 100, 512, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    static struct vf_pool_cache ca, cb;
    struct vf_pkt *pa[40], *pb[40], *mix[80];

    vf_pool_cache_init(&ca, a);
    vf_pool_cache_init(&cb, b);
    assert_int_equal(vf_pool_alloc_burst(&ca, pa, 40), 40);
    assert_int_equal(vf_pool_alloc_burst(&cb, pb, 40), 40);
    vf_pool_cache_flush(&cb); /* b's spare slots back on its stack */
    for (unsigned i = 0; i < 40; i++) {
        mix[2 * i] = pa[i];
        mix[2 * i + 1] = pb[i];
    }
    unsigned before = ca.n;
    vf_pool_free_burst(&ca, mix, 80);
    assert_int_equal(vf_pool_in_use(a), 0);
    assert_int_equal(vf_pool_in_use(b), 0);
    assert_int_equal(ca.n, before + 40);
    /* b's 100 slots are all on b's stack again. */
    struct vf_pkt *all[101];
    assert_int_equal(drain(b, &cb, all, 101, 64), 100);
    vf_pool_free_burst(&cb, all, 100);
    vf_pool_cache_flush(&cb);
    vf_pool_cache_flush(&ca);

    /* A cache without a pool can still free (everything is foreign). */
    static struct vf_pool_cache none;
    vf_pool_cache_init(&none, NULL);
    assert_null(vf_pool_alloc(&none));
    assert_int_equal(vf_pool_alloc_burst(&ca, pa, 5), 5);
    vf_pool_free_burst(&none, pa, 5);
    assert_int_equal(vf_pool_in_use(a), 0);
    assert_int_equal(none.n, 0);
    vf_pool_destroy(a);
    vf_pool_destroy(b);
}

static void test_numa_node_recorded(void **state)
{
    (void)state;
    char err[256];
    struct vf_topo t;
    struct vf_pool_info in;

    assert_int_equal(setenv("HWLOC_SYNTHETIC", "pack:2 numa:2 core:4 pu:1",
                            1), 0);
    assert_int_equal(vf_topo_load(&t), 0);
    unsetenv("HWLOC_SYNTHETIC");
    assert_false(t.is_this_system);
    for (int node = 0; node < t.n_numa; node++) {
        struct vf_pool *p = vf_pool_create(&t, node, 64, 2048, err,
                                           sizeof(err));
        assert_non_null(p);
        vf_pool_get_info(p, &in);
        assert_int_equal(in.numa_node, node);
        vf_pool_destroy(p);
    }
    vf_topo_free(&t);

    struct vf_pool *p = vf_pool_create(NULL, 3, 64, 2048, err, sizeof(err));
    assert_non_null(p);
    vf_pool_get_info(p, &in);
    assert_int_equal(in.numa_node, 3);
    vf_pool_destroy(p);

    /* The real machine: node of cpu 0's core, bound with hwloc. */
    unsetenv("HWLOC_XMLFILE");
    assert_int_equal(vf_topo_load(&t), 0);
    assert_true(t.is_this_system);
    int node = t.cores[0].numa_node;
    p = vf_pool_create(&t, node, 256, 2048, err, sizeof(err));
    assert_non_null(p);
    vf_pool_get_info(p, &in);
    assert_int_equal(in.numa_node, node);
    vf_pool_destroy(p);
    p = vf_pool_create(&t, -1, 256, 2048, err, sizeof(err));
    assert_non_null(p);
    vf_pool_get_info(p, &in);
    assert_int_equal(in.numa_node, -1);
    vf_pool_destroy(p);
    vf_topo_free(&t);
}

/* Stress: two workers, each with its own cache on its own pool (or both on
 * one pool). Every other burst goes into the peer's inbox (a locked ring);
 * each worker frees what it finds in its own inbox through its own cache,
 * so with two pools those are foreign-pool frees. */
#define HANDOFF_CAP 1024u
#define STRESS_ITERS 40000u /* x ~16 pkts x 2 threads = ~1.3M alloc/free */

struct handoff {
    pthread_mutex_t lock;
    unsigned n;
    struct vf_pkt *pkts[HANDOFF_CAP];
};

struct worker {
    struct vf_pool *pool;
    struct handoff *inbox, *peer;
    pthread_barrier_t *start;
    unsigned id;
    unsigned long allocs, frees, cross, bad;
};

static void *stress_main(void *arg)
{
    struct worker *w = arg;
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    struct vf_pkt *pk[32], *in[32];
    unsigned seed = 12345u + w->id;

    if (!c)
        return NULL;
    vf_pool_cache_init(c, w->pool);
    pthread_barrier_wait(w->start);
    for (unsigned it = 0; it < STRESS_ITERS; it++) {
        unsigned want = 1 + (unsigned)(rand_r(&seed) % 32);
        unsigned got = vf_pool_alloc_burst(c, pk, want);
        w->allocs += got;
        for (unsigned i = 0; i < got; i++) {
            if (pk[i]->user != 0 || pk[i]->data_off != VF_PKT_HEADROOM ||
                pk[i]->pool != w->pool)
                w->bad++;
            pk[i]->user = ((uint64_t)w->id << 32) | it;
        }
        unsigned give = (it & 1) ? got : 0;
        pthread_mutex_lock(&w->peer->lock);
        if (w->peer->n + give > HANDOFF_CAP)
            give = 0; /* peer is behind: free locally instead */
        memcpy(&w->peer->pkts[w->peer->n], pk, give * sizeof(pk[0]));
        w->peer->n += give;
        pthread_mutex_unlock(&w->peer->lock);

        pthread_mutex_lock(&w->inbox->lock);
        unsigned take = w->inbox->n < 32 ? w->inbox->n : 32;
        w->inbox->n -= take;
        memcpy(in, &w->inbox->pkts[w->inbox->n], take * sizeof(in[0]));
        pthread_mutex_unlock(&w->inbox->lock);
        for (unsigned i = 0; i < take; i++)
            if ((in[i]->user >> 32) == w->id)
                w->bad++; /* our own packet came back: a double hand-out */

        vf_pool_free_burst(c, pk + give, got - give);
        vf_pool_free_burst(c, in, take);
        w->frees += got - give + take;
        w->cross += take;
    }
    vf_pool_cache_flush(c);
    free(c);
    return NULL;
}

static void run_stress(struct vf_pool *pa, struct vf_pool *pb)
{
    static struct handoff h[2] = {{.lock = PTHREAD_MUTEX_INITIALIZER},
                                  {.lock = PTHREAD_MUTEX_INITIALIZER}};
    pthread_barrier_t start;
    struct worker w[2] = {
        {.pool = pa, .inbox = &h[0], .peer = &h[1], .start = &start, .id = 1},
        {.pool = pb, .inbox = &h[1], .peer = &h[0], .start = &start, .id = 2}};
    pthread_t th[2];

    h[0].n = h[1].n = 0;
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, stress_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    assert_int_equal(w[0].bad + w[1].bad, 0);
    assert_true(w[0].allocs + w[1].allocs >= 1000000);
    /* Whichever worker ran second found the first one's gifts. */
    assert_true(w[0].cross + w[1].cross > 0);

    /* Leftovers in the inboxes go home through a cache with no pool, so
     * every one takes the foreign path. */
    static struct vf_pool_cache none;
    vf_pool_cache_init(&none, NULL);
    unsigned left = h[0].n + h[1].n;
    vf_pool_free_burst(&none, h[0].pkts, h[0].n);
    vf_pool_free_burst(&none, h[1].pkts, h[1].n);
    assert_int_equal(none.n, 0);
    assert_int_equal(w[0].allocs + w[1].allocs,
                     w[0].frees + w[1].frees + left);
    h[0].n = h[1].n = 0;
    assert_int_equal(vf_pool_in_use(pa), 0);
    assert_int_equal(vf_pool_in_use(pb), 0);
}

static void check_whole(struct vf_pool *p, unsigned n)
{
    static struct vf_pool_cache c;
    struct vf_pkt **all = calloc(n + 1, sizeof(*all));
    assert_non_null(all);
    vf_pool_cache_init(&c, p);
    /* Every slot is back exactly once: no leak, no duplicate. */
    assert_int_equal(drain(p, &c, all, n + 1, 64), n);
    vf_pool_free_burst(&c, all, n);
    vf_pool_cache_flush(&c);
    free(all);
}

static void test_stress_two_pools(void **state)
{
    (void)state;
    char err[256];
    enum { N = 4096 };
    struct vf_pool *a = vf_pool_create(NULL, 0, N, 256, err, sizeof(err));
    struct vf_pool *b = vf_pool_create(NULL, 1, N, 256, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    run_stress(a, b);
    check_whole(a, N);
    check_whole(b, N);
    vf_pool_destroy(a);
    vf_pool_destroy(b);
}

static void test_stress_one_pool(void **state)
{
    (void)state;
    char err[256];
    enum { N = 4096 };
    struct vf_pool *a = vf_pool_create(NULL, 0, N, 256, err, sizeof(err));
    assert_non_null(a);
    run_stress(a, a);
    check_whole(a, N);
    vf_pool_destroy(a);
}

/* Under ASan a packet's data room is usable only while it is allocated,
 * and the bytes after it never are, so overruns and uses after free of
 * pool buffers stop the sanitized tests and fuzzers. */
static void test_asan_poison(void **state)
{
    (void)state;
#ifdef TEST_ASAN
    char err[256];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 8, 1000, err, sizeof(err));
    static struct vf_pool_cache c;
    assert_non_null(pool);
    vf_pool_cache_init(&c, pool);
    struct vf_pkt *p = vf_pool_alloc(&c);
    assert_non_null(p);
    assert_null(__asan_region_is_poisoned(p->buf, p->buf_len));
    assert_true(__asan_address_is_poisoned(p->buf + p->buf_len));
    vf_pool_free(&c, p);
    assert_true(__asan_address_is_poisoned(p->buf));
    assert_true(__asan_address_is_poisoned(p->buf + p->buf_len - 1));
    struct vf_pkt *q = vf_pool_alloc(&c);
    assert_ptr_equal(q, p);     /* the cache hands back the warmest slot */
    assert_null(__asan_region_is_poisoned(q->buf, q->buf_len));
    vf_pool_free(&c, q);
    vf_pool_cache_flush(&c);
    vf_pool_destroy(pool);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_all_free_all),
        cmocka_unit_test(test_big_burst),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_cache_sized_to_pool),
        cmocka_unit_test(test_headroom_and_reset),
        cmocka_unit_test(test_data_room_respected),
        cmocka_unit_test(test_create_refusals),
        cmocka_unit_test(test_foreign_free),
        cmocka_unit_test(test_numa_node_recorded),
        cmocka_unit_test(test_stress_two_pools),
        cmocka_unit_test(test_stress_one_pool),
        cmocka_unit_test(test_asan_poison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
