/* vf_pool.h - NUMA-local packet buffer pools with per-worker caches.
 *
 * What: a pool is one contiguous region of fixed-size slots (descriptor +
 * data room, see vf_pkt.h) bound to a NUMA node with hwloc
 * (hwloc_alloc_membind). It tries hugepages first (MAP_HUGETLB, only when
 * the system has them reserved) and falls back to normal pages; `hugepages`
 * in vf_pool_info says which one it got. Free slots sit on a shared stack
 * guarded by a mutex; each worker owns a vf_pool_cache (up to
 * VF_POOL_CACHE_MAX slots) and only touches the shared stack in bulk when
 * its cache runs dry or overflows, so the per-packet path takes no lock.
 *
 * Invariants: every slot is in exactly one place: the shared stack, one
 * cache, or in use. vf_pool_in_use() = total - on stack - in caches; after
 * everything is freed and caches flushed it is 0 (the leak test checks it).
 * Freeing a packet whose pool differs from the cache's pool returns it to
 * its own pool's shared stack (cross-node frees are correct, just slower).
 *
 * Caches are sized to the pool: a cache refills and spills in chunks of
 * cache_half slots (vf_pool_info), 1/64 of the pool, at least 16 and at
 * most VF_POOL_CACHE_MAX / 2, and holds at most two chunks; so a handful
 * of caches on a small pool of large buffers (the TSO pools) cannot hoard
 * it between them.
 *
 * Reserve (what keeps the underlay receiving when the pool runs low): a
 * pool may keep `reserve` slots on its shared stack that ordinary
 * allocations never take; only vf_pool_alloc_burst_reserve, which the
 * uplinks use to refill their receive rings, may. Everything else a
 * worker allocates (flood copies, segments, tap reads) fails first, as a
 * named drop, while the uplink's ring is still refilled. How much of the
 * rest each port may hold is mgmt's to bound (mgmt/daemon/vf_budget.h); the
 * reserve covers what no budget bounds (copies made inside one burst).
 * The check is made under the stack's lock, once per cache refill, so the
 * per-packet path is unchanged.
 *
 * Thread-safety: create/destroy from one thread with no user left. A cache
 * belongs to one thread. alloc/free through caches are safe from any number
 * of threads, each with its own cache.
 */
#ifndef VF_POOL_H
#define VF_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "numa/vf_pkt.h"
#include "numa/vf_topo.h"

#define VF_POOL_CACHE_MAX 512u

struct vf_pool;

struct vf_pool_info {
    unsigned n_bufs;
    unsigned reserve;     /* slots only vf_pool_alloc_burst_reserve takes */
    unsigned cache_half;  /* a cache's refill/spill chunk for this pool */
    unsigned data_room;   /* bytes of headroom + frame per slot */
    int numa_node;        /* node the memory is bound to (-1: unbound) */
    bool hugepages;       /* backed by hugepages */
    void *base;           /* the region (for RDMA/io_uring registration) */
    size_t size;          /* its length */
    size_t slot_size;     /* slot i is at base + i * slot_size: a multiple of
                           * the cache line, at least descriptor + data_room
                           * (more under ASan: a redzone, see pool.c) */
};

struct vf_pool_cache {
    struct vf_pool *pool;
    unsigned n;
    struct vf_pkt *slots[VF_POOL_CACHE_MAX];
} __attribute__((aligned(64)));

/* Creates a pool of n_bufs slots of data_room bytes on numa_node (-1: any).
 * topo may be NULL (no binding). NULL on failure with err filled. */
struct vf_pool *vf_pool_create(const struct vf_topo *topo, int numa_node,
                               unsigned n_bufs, unsigned data_room,
                               char *err, size_t errlen);
void vf_pool_destroy(struct vf_pool *p);      /* accepts NULL */
void vf_pool_get_info(const struct vf_pool *p, struct vf_pool_info *out);
unsigned vf_pool_in_use(const struct vf_pool *p);
/* Sets the reserve (clamped to n_bufs). Any thread, any time; it takes
 * effect at the next refill of any cache. */
void vf_pool_set_reserve(struct vf_pool *p, unsigned reserve);

void vf_pool_cache_init(struct vf_pool_cache *c, struct vf_pool *p);
/* Returns every cached slot to the shared stack. */
void vf_pool_cache_flush(struct vf_pool_cache *c);

/* Up to n fresh (reset) packets; returns how many (0 when exhausted, or
 * when only the reserve is left). */
unsigned vf_pool_alloc_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                             unsigned n);
/* The same, but may take the reserve: for an uplink's receive refills
 * only (see Reserve above). */
unsigned vf_pool_alloc_burst_reserve(struct vf_pool_cache *c,
                                     struct vf_pkt **pkts, unsigned n);
/* Frees n packets (any pool). */
void vf_pool_free_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                        unsigned n);

static inline struct vf_pkt *vf_pool_alloc(struct vf_pool_cache *c)
{
    struct vf_pkt *p = NULL;
    return vf_pool_alloc_burst(c, &p, 1) ? p : NULL;
}

static inline struct vf_pkt *vf_pool_alloc_reserve(struct vf_pool_cache *c)
{
    struct vf_pkt *p = NULL;
    return vf_pool_alloc_burst_reserve(c, &p, 1) ? p : NULL;
}

static inline void vf_pool_free(struct vf_pool_cache *c, struct vf_pkt *p)
{
    vf_pool_free_burst(c, &p, 1);
}

#endif
