/* pool.c - NUMA-local packet buffer pools with per-worker caches (vf_pool.h).
 *
 * Layout: one mmap'd region of n_bufs slots; slot i starts at
 * base + i * slot_size with the 64-byte vf_pkt descriptor, followed by
 * data_room bytes; slot_size is rounded up to a cache line so every
 * descriptor is line aligned.
 *
 * Memory placement: the region is mmap'd by hand and then bound with
 * hwloc_set_area_membind() before any page is touched, rather than with
 * hwloc_alloc_membind(): that call cannot ask for MAP_HUGETLB, and without
 * HWLOC_MEMBIND_STRICT it silently returns unbound memory, whereas we want
 * to report in vf_pool_info whether binding really happened.
 *
 * Under AddressSanitizer (sanitized test builds and the fuzz targets) the
 * region is one mapping ASan knows nothing about, so a write past one
 * packet's data room would land unseen in the next slot's descriptor, and
 * a packet touched after its free would go unnoticed. There each slot gets
 * a poisoned redzone after its data room, and a free slot's data room is
 * poisoned until it is allocated again. Elsewhere both cost nothing.
 *
 * In-use accounting: vf_pool_in_use() reads one atomic counter of slots
 * held by users (neither on the stack nor in a cache). alloc_burst adds and
 * free_burst subtracts once per burst, not per packet, so the counter's
 * cache line moves at most once per burst. It is exact whenever no alloc or
 * free is in flight (e.g. after the workers are joined); while workers run
 * it is a snapshot.
 */
#include "numa/vf_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "numa/vf_err.h"

/* A cache moves at most half its capacity per refill or spill, and never
 * more than 1/POOL_CACHE_SHARE of its pool (but at least POOL_CACHE_MIN, a
 * burst's worth): every cache then holds at most 2 chunks, so 16 caches on
 * one pool hold at most half of it. */
#define POOL_CACHE_SHARE 64u
#define POOL_CACHE_MIN 16u

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_REDZONE VF_CACHE_LINE   /* poisoned bytes after each data room */
#define POOL_POISON(pkt) ASAN_POISON_MEMORY_REGION((pkt)->buf, (pkt)->buf_len)
#define POOL_UNPOISON(pkt) ASAN_UNPOISON_MEMORY_REGION((pkt)->buf, (pkt)->buf_len)
#else
#define POOL_REDZONE 0
#define POOL_POISON(pkt) ((void)(pkt))
#define POOL_UNPOISON(pkt) ((void)(pkt))
#endif

struct vf_pool {
    /* Shared free stack. Any thread, only under lock. stack[0..n_free) are
     * free slots; the top is reused first, so it is the warmest. */
    pthread_mutex_t lock;
    unsigned n_free;
    struct vf_pkt **stack;
    /* Free slots only vf_pool_alloc_burst_reserve takes (vf_pool.h).
     * mgmt: w, any thread: r; relaxed: read under the lock at each pop,
     * and a pop that sees the old value is as right as one just before. */
    atomic_uint reserve;

    /* Set by create, read-only afterwards. */
    uint8_t *base;
    size_t size;
    size_t slot_size;
    unsigned n_bufs;
    unsigned cache_half;   /* a cache's refill/spill chunk */
    unsigned data_room;
    int numa_node;
    bool hugepages;

    /* Slots held by users. Workers: relaxed add/sub once per burst; the
     * value is exact once the threads are joined (join orders every RMW
     * before the reader). Own cache line so it does not bounce with the
     * lock. */
    _Alignas(VF_CACHE_LINE) atomic_uint in_use;
};

static size_t round_up(size_t v, size_t align)
{
    return (v + align - 1) / align * align;
}

/* The hugepage size when the system has hugepages reserved, else 0: an
 * MAP_HUGETLB mmap cannot succeed without a reservation, so we skip it. */
static size_t hugepage_size(void)
{
    FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
    unsigned long nr = 0, kb = 0;
    char line[128];

    if (!f)
        return 0;
    if (fscanf(f, "%lu", &nr) != 1)
        nr = 0;
    fclose(f);
    if (nr == 0)
        return 0;
    f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* Binds [m, m+len) to node; true on success. Called before the pages are
 * first touched, so they are allocated on that node. */
static bool bind_area(const struct vf_topo *topo, hwloc_obj_t node, void *m,
                      size_t len)
{
    if (!topo || !node)
        return false;
    return hwloc_set_area_membind(topo->hw, m, len, node->nodeset,
                                  HWLOC_MEMBIND_BIND,
                                  HWLOC_MEMBIND_BYNODESET) == 0;
}

/* Maps the region: hugepages first when reserved, else normal pages. Every
 * page is faulted in here so the data path never takes a page fault.
 * node is NULL when the memory is not to be bound. */
static int region_map(struct vf_pool *p, size_t need,
                      const struct vf_topo *topo, hwloc_obj_t node)
{
    size_t huge = hugepage_size();
    size_t len;
    void *m;

    if (huge) {
        len = round_up(need, huge);
        m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (m != MAP_FAILED) {
            bool bound = bind_area(topo, node, m, len);
            /* MADV_POPULATE_WRITE reports a shortage of hugepages on the
             * node as an error instead of a SIGBUS at first touch; kernels
             * before 5.14 say EINVAL and we accept the (rare) risk. */
            if (madvise(m, len, MADV_POPULATE_WRITE) == 0 || errno == EINVAL) {
                p->base = m;
                p->size = len;
                p->hugepages = true;
                if (node && !bound)
                    p->numa_node = -1;
                return 0;
            }
            munmap(m, len);
        }
    }

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    len = round_up(need, page);
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    if (node && !bind_area(topo, node, m, len))
        p->numa_node = -1; /* e.g. mbind refused in a container: unbound */
    /* One write per page: a large data_room leaves pages the descriptor
     * initialisation would not touch. */
    for (size_t off = 0; off < len; off += page)
        ((volatile uint8_t *)m)[off] = 0;
    p->base = m;
    p->size = len;
    p->hugepages = false;
    return 0;
}

struct vf_pool *vf_pool_create(const struct vf_topo *topo, int numa_node,
                               unsigned n_bufs, unsigned data_room,
                               char *err, size_t errlen)
{
    struct vf_pool *p = NULL;
    hwloc_obj_t node = NULL;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (n_bufs == 0) {
        vf_errf(err, errlen, "pool: n_bufs is 0, need at least 1");
        return NULL;
    }
    if (data_room < VF_PKT_HEADROOM) {
        vf_errf(err, errlen,
                "pool: data_room %u is smaller than the %u-byte headroom",
                data_room, VF_PKT_HEADROOM);
        return NULL;
    }
    if (numa_node < -1) {
        vf_errf(err, errlen, "pool: numa_node %d is not a node (-1 means any)",
                numa_node);
        return NULL;
    }
    if (topo && topo->hw && numa_node >= 0) {
        node = hwloc_get_numanode_obj_by_os_index(topo->hw,
                                                  (unsigned)numa_node);
        if (!node) {
            vf_errf(err, errlen,
                    "pool: NUMA node %d requested but this machine has %d "
                    "NUMA node(s)",
                    numa_node, topo->n_numa);
            return NULL;
        }
    }
    size_t slot = round_up(sizeof(struct vf_pkt) + (size_t)data_room +
                           POOL_REDZONE, VF_CACHE_LINE);
    if (n_bufs > SIZE_MAX / slot) {
        vf_errf(err, errlen, "pool: %u slots of %zu bytes do not fit in memory",
                n_bufs, slot);
        return NULL;
    }

    p = aligned_alloc(VF_CACHE_LINE, round_up(sizeof(*p), VF_CACHE_LINE));
    if (!p)
        goto nomem;
    memset(p, 0, sizeof(*p));
    p->stack = calloc(n_bufs, sizeof(*p->stack));
    if (!p->stack)
        goto nomem;
    p->n_bufs = n_bufs;
    p->cache_half = n_bufs / POOL_CACHE_SHARE;
    if (p->cache_half > VF_POOL_CACHE_MAX / 2)
        p->cache_half = VF_POOL_CACHE_MAX / 2;
    if (p->cache_half < POOL_CACHE_MIN)
        p->cache_half = POOL_CACHE_MIN;
    p->data_room = data_room;
    p->slot_size = slot;
    /* A synthetic topology (or none) cannot be bound to: the memory is
     * unbound but the requested node is recorded, so placement is still
     * visible to tests and logs. */
    p->numa_node = numa_node;
    if (!(topo && topo->is_this_system))
        node = NULL;
    rc = region_map(p, (size_t)n_bufs * slot, topo, node);
    if (rc < 0) {
        vf_errf(err, errlen, "pool: cannot map %u slots of %zu bytes: %s",
                n_bufs, slot, strerror(-rc));
        goto fail;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        munmap(p->base, p->size);
        goto nomem;
    }

    /* Push in reverse so the first allocations hand out slot 0, 1, ... in
     * address order (friendlier to the prefetcher on a fresh pool). */
    for (unsigned i = 0; i < n_bufs; i++) {
        struct vf_pkt *pkt = (struct vf_pkt *)(p->base + (size_t)i * slot);
        pkt->buf = (uint8_t *)pkt + sizeof(*pkt);
        pkt->pool = p;
        pkt->buf_len = data_room;
        vf_pkt_reset(pkt);
#ifdef POOL_ASAN
        ASAN_POISON_MEMORY_REGION(pkt->buf + data_room,
                                  slot - sizeof(*pkt) - data_room);
#endif
        POOL_POISON(pkt);
        p->stack[n_bufs - 1 - i] = pkt;
    }
    p->n_free = n_bufs;
    atomic_init(&p->reserve, 0);
    atomic_init(&p->in_use, 0);
    return p;

nomem:
    vf_errf(err, errlen, "pool: out of memory creating %u slots", n_bufs);
fail:
    if (p)
        free(p->stack);
    free(p);
    return NULL;
}

void vf_pool_destroy(struct vf_pool *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
#ifdef POOL_ASAN
    /* The next mapping at this address must not inherit the poison. */
    ASAN_UNPOISON_MEMORY_REGION(p->base, p->size);
#endif
    munmap(p->base, p->size);
    free(p->stack);
    free(p);
}

void vf_pool_get_info(const struct vf_pool *p, struct vf_pool_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    out->n_bufs = p->n_bufs;
    out->reserve = atomic_load_explicit(&p->reserve, memory_order_relaxed);
    out->cache_half = p->cache_half;
    out->data_room = p->data_room;
    out->numa_node = p->numa_node;
    out->hugepages = p->hugepages;
    out->base = p->base;
    out->size = p->size;
    out->slot_size = p->slot_size;
}

unsigned vf_pool_in_use(const struct vf_pool *p)
{
    if (!p)
        return 0;
    /* Relaxed: a statistic; see the accounting note at the top. */
    return atomic_load_explicit(&p->in_use, memory_order_relaxed);
}

void vf_pool_set_reserve(struct vf_pool *p, unsigned reserve)
{
    if (!p)
        return;
    atomic_store_explicit(&p->reserve, reserve < p->n_bufs ? reserve : p->n_bufs,
                          memory_order_relaxed);
}

/* Pushes k slots onto p's shared stack. More pushes than slots can only be
 * a double free; carrying on would corrupt the stack, so we stop. */
static void stack_push(struct vf_pool *p, struct vf_pkt *const *pkts,
                       unsigned k)
{
    pthread_mutex_lock(&p->lock);
    if (k > p->n_bufs - p->n_free) {
        pthread_mutex_unlock(&p->lock);
        fprintf(stderr, "vf_pool: %u slots freed into a pool with %u of %u "
                "free: double free\n", k, p->n_free, p->n_bufs);
        abort();
    }
    memcpy(&p->stack[p->n_free], pkts, k * sizeof(*pkts));
    p->n_free += k;
    pthread_mutex_unlock(&p->lock);
}

/* Pops up to k slots, leaving the reserve unless use_reserve; returns how
 * many it got. */
static unsigned stack_pop(struct vf_pool *p, struct vf_pkt **pkts, unsigned k,
                          bool use_reserve)
{
    pthread_mutex_lock(&p->lock);
    unsigned avail = p->n_free;
    if (!use_reserve) {
        unsigned r = atomic_load_explicit(&p->reserve, memory_order_relaxed);
        avail = avail > r ? avail - r : 0;
    }
    if (k > avail)
        k = avail;
    p->n_free -= k;
    memcpy(pkts, &p->stack[p->n_free], k * sizeof(*pkts));
    pthread_mutex_unlock(&p->lock);
    return k;
}

void vf_pool_cache_init(struct vf_pool_cache *c, struct vf_pool *p)
{
    c->pool = p;
    c->n = 0;
}

void vf_pool_cache_flush(struct vf_pool_cache *c)
{
    if (c->pool && c->n)
        stack_push(c->pool, c->slots, c->n);
    c->n = 0;
}

static unsigned alloc_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                            unsigned n, bool use_reserve)
{
    struct vf_pool *p = c->pool;
    unsigned done = 0;

    if (!p)
        return 0;
    const unsigned half = p->cache_half;
    /* Chunks of at most half a cache, so one refill always covers a chunk;
     * every pass either finishes a chunk or stops on exhaustion. */
    while (done < n) {
        unsigned want = n - done < half ? n - done : half;
        if (c->n < want) {
            /* Refill to this chunk plus half a cache, so the next
             * refill is ~half a cache away. Fits: want + half <=
             * 2 * half <= VF_POOL_CACHE_MAX. */
            c->n += stack_pop(p, &c->slots[c->n], want + half - c->n,
                              false);
            /* The reserve gives only what this chunk lacks, so none of it
             * lingers in the cache for ordinary allocations. */
            if (c->n < want && use_reserve)
                c->n += stack_pop(p, &c->slots[c->n], want - c->n, true);
        }
        unsigned take = c->n < want ? c->n : want;
        for (unsigned i = 0; i < take; i++) {
            struct vf_pkt *pkt = c->slots[--c->n];
            POOL_UNPOISON(pkt);
            vf_pkt_reset(pkt);
            pkts[done++] = pkt;
        }
        if (take < want)
            break; /* pool exhausted */
    }
    if (done)
        atomic_fetch_add_explicit(&p->in_use, done, memory_order_relaxed);
    return done;
}

unsigned vf_pool_alloc_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                             unsigned n)
{
    return alloc_burst(c, pkts, n, false);
}

unsigned vf_pool_alloc_burst_reserve(struct vf_pool_cache *c,
                                     struct vf_pkt **pkts, unsigned n)
{
    return alloc_burst(c, pkts, n, true);
}

/* Returns packets of other pools to their own stacks, one lock per run of
 * packets from the same pool (a burst usually comes from one pool). */
static void free_foreign(struct vf_pkt **pkts, unsigned k)
{
    unsigned i = 0;

    while (i < k) {
        struct vf_pool *q = pkts[i]->pool;
        unsigned j = i + 1;
        while (j < k && pkts[j]->pool == q)
            j++;
        stack_push(q, &pkts[i], j - i);
        atomic_fetch_sub_explicit(&q->in_use, j - i, memory_order_relaxed);
        i = j;
    }
}

void vf_pool_free_burst(struct vf_pool_cache *c, struct vf_pkt **pkts,
                        unsigned n)
{
    struct vf_pool *own = c->pool;
    struct vf_pkt *foreign[VF_BURST_MAX];
    unsigned n_own = 0, n_foreign = 0;

    for (unsigned i = 0; i < n; i++) {
        struct vf_pkt *pkt = pkts[i];
        if (!pkt)
            continue;
        POOL_POISON(pkt);
        if (pkt->pool == own) {
            if (c->n >= 2 * own->cache_half) {
                /* Overflow: hand the upper half back in one push and keep
                 * the lower half for the next allocations. */
                stack_push(own, &c->slots[own->cache_half],
                           c->n - own->cache_half);
                c->n = own->cache_half;
            }
            c->slots[c->n++] = pkt;
            n_own++;
        } else {
            foreign[n_foreign++] = pkt;
            if (n_foreign == VF_BURST_MAX) {
                free_foreign(foreign, n_foreign);
                n_foreign = 0;
            }
        }
    }
    if (n_foreign)
        free_foreign(foreign, n_foreign);
    if (n_own)
        atomic_fetch_sub_explicit(&own->in_use, n_own, memory_order_relaxed);
}
