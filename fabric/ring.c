/* ring.c - the lock-free SPSC ring of vf_ring.h.
 *
 * Indices are free-running uint32 counters: head counts every slot ever
 * produced, tail every slot ever consumed, so head - tail (mod 2^32) is the
 * fill level and a slot's position is index & mask. Because the size is a
 * power of two no larger than 2^31, "full" (head - tail == size) and "empty"
 * (head == tail) never look alike, and wrapping the counters past 2^32 needs
 * no special case.
 *
 * numa_node is accepted for the contract but not used for placement: the
 * ring is a plain cache-aligned allocation. Only the header is cleared at
 * creation; the slot array is first written by the producer, so with the
 * kernel's first-touch policy the slots land on the producer's node.
 */
#include <stdlib.h>
#include <string.h>

#include "fabric/vf_ring.h"

/* The largest power of two a uint32 holds; above it full and empty collide. */
#define VF_RING_SIZE_MAX (1u << 31)

struct vf_ring *vf_ring_create(uint32_t size, int numa_node)
{
    (void)numa_node;
    if (size < 2 || size > VF_RING_SIZE_MAX || (size & (size - 1)) != 0)
        return NULL;
    size_t bytes = sizeof(struct vf_ring) + (size_t)size * sizeof(void *);
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    bytes = (bytes + VF_CACHE_LINE - 1) & ~((size_t)VF_CACHE_LINE - 1);
    struct vf_ring *r = aligned_alloc(VF_CACHE_LINE, bytes);
    if (!r)
        return NULL;
    /* Slots need no clearing: a slot is never read before it is written. */
    memset(r, 0, sizeof(*r));
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    r->mask = size - 1;
    r->size = size;
    return r;
}

void vf_ring_destroy(struct vf_ring *r)
{
    free(r);
}

/* Copies n pointers into the slots starting at index `at`, splitting the copy
 * where it wraps past the end of the array. */
static inline void ring_put(struct vf_ring *r, uint32_t at, void *const *objs,
                            unsigned n)
{
    uint32_t pos = at & r->mask;
    uint32_t first = r->size - pos;
    if (first >= n) {
        for (unsigned i = 0; i < n; i++)
            r->slots[pos + i] = objs[i];
    } else {
        for (unsigned i = 0; i < first; i++)
            r->slots[pos + i] = objs[i];
        for (unsigned i = first; i < n; i++)
            r->slots[i - first] = objs[i];
    }
}

static inline void ring_get(const struct vf_ring *r, uint32_t at, void **objs,
                            unsigned n)
{
    uint32_t pos = at & r->mask;
    uint32_t first = r->size - pos;
    if (first >= n) {
        for (unsigned i = 0; i < n; i++)
            objs[i] = r->slots[pos + i];
    } else {
        for (unsigned i = 0; i < first; i++)
            objs[i] = r->slots[pos + i];
        for (unsigned i = first; i < n; i++)
            objs[i] = r->slots[i - first];
    }
}

/* Room below a fill level of cap (<= size) for `used` slots in use; 0 when
 * the ring already holds cap or more (cap may have been lowered). */
static inline uint32_t ring_room(uint32_t cap, uint32_t used)
{
    return used >= cap ? 0 : cap - used;
}

/* Producer side: room for up to n slots below a fill level of cap (<=
 * size), re-reading the shared tail only when the cached copy says there
 * is not enough. Returns min(n, room) when `all` is false, and n or 0 when
 * it is true. */
static inline unsigned ring_enqueue(struct vf_ring *r, void *const *objs,
                                    unsigned n, int all, uint32_t cap)
{
    /* Relaxed: head is written only by this thread. */
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t room = ring_room(cap, head - r->tail_cache);
    if (room < n) {
        /* Acquire pairs with the consumer's release store of tail: the
         * consumer has finished reading the slots we are about to reuse. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        room = ring_room(cap, head - r->tail_cache);
        if (room < n) {
            if (all)
                return 0;
            n = room;
        }
    }
    if (n == 0)
        return 0;
    ring_put(r, head, objs, n);
    /* Release pairs with the consumer's acquire load of head: the slots
     * written above are visible before the new head is. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

static inline unsigned ring_dequeue(struct vf_ring *r, void **objs,
                                    unsigned n, int all)
{
    /* Relaxed: tail is written only by this thread. */
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t avail = r->head_cache - tail;
    if (avail < n) {
        /* Acquire pairs with the producer's release store of head, so the
         * slots it published are visible to the reads below. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
        if (avail < n) {
            if (all)
                return 0;
            n = avail;
        }
    }
    if (n == 0)
        return 0;
    ring_get(r, tail, objs, n);
    /* Release pairs with the producer's acquire load of tail: our reads of
     * the slots are done before the producer may overwrite them. */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

unsigned vf_ring_enqueue_burst(struct vf_ring *r, void *const *objs, unsigned n)
{
    return ring_enqueue(r, objs, n, 0, r->size);
}

unsigned vf_ring_enqueue_burst_max(struct vf_ring *r, void *const *objs,
                                   unsigned n, unsigned fill_max)
{
    return ring_enqueue(r, objs, n, 0, fill_max < r->size ? fill_max : r->size);
}

unsigned vf_ring_dequeue_burst(struct vf_ring *r, void **objs, unsigned n)
{
    return ring_dequeue(r, objs, n, 0);
}

unsigned vf_ring_enqueue_bulk(struct vf_ring *r, void *const *objs, unsigned n)
{
    return ring_enqueue(r, objs, n, 1, r->size);
}

unsigned vf_ring_dequeue_bulk(struct vf_ring *r, void **objs, unsigned n)
{
    return ring_dequeue(r, objs, n, 1);
}

unsigned vf_ring_count(const struct vf_ring *r)
{
    /* Tail first: tail never passes head, so a tail read before head gives
     * head - tail >= 0. Both may move meanwhile, so the difference can
     * overstate the fill level by what was produced in between; clamp it to
     * the size so a snapshot is never impossible. Acquire, not relaxed, so a
     * consumer that re-checks an empty ring (the ring port's sleep protocol)
     * sees slots published before the head it reads. */
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint32_t n = head - tail;
    return n > r->size ? r->size : n;
}

unsigned vf_ring_free_count(const struct vf_ring *r)
{
    return r->size - vf_ring_count(r);
}
