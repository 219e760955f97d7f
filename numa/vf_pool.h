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
    unsigned data_room;   /* bytes of headroom + frame per slot */
    int numa_node;        /* node the memory is bound to (-1: unbound) */
    bool hugepages;       /* backed by hugepages */
    void *base;           /* the region (for RDMA/io_uring registration) */
    size_t size;          /* its length */
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

void vf_pool_cache_init(struct vf_pool_cache *c, struct vf_pool *p);
/* Returns every cached slot to the shared stack. */
void vf_pool_cache_flush(struct vf_pool_cache *c);

/* Up to n fresh (reset) packets; returns how many (0 when exhausted). */
unsigned vf_pool_alloc_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                             unsigned n);
/* Frees n packets (any pool). */
void vf_pool_free_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                        unsigned n);

static inline struct vf_pkt *vf_pool_alloc(struct vf_pool_cache *c)
{
    struct vf_pkt *p = NULL;
    return vf_pool_alloc_burst(c, &p, 1) ? p : NULL;
}

static inline void vf_pool_free(struct vf_pool_cache *c, struct vf_pkt *p)
{
    vf_pool_free_burst(c, &p, 1);
}

#endif
