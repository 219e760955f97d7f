/* vf_ring.h - lock-free single-producer / single-consumer ring of pointers.
 *
 * What: the in-memory queue under ring ports, and the hand-off between a
 * traffic generator and a worker. Capacity is a power of two; one producer
 * thread and one consumer thread at a time.
 *
 * Design: `head` is written only by the producer and `tail` only by the
 * consumer; they live on separate cache lines so the two threads never
 * write the same line. Each side keeps a cached copy of the other side's
 * index and re-reads the shared one only when the cached value says the
 * ring looks full (producer) or empty (consumer), so a steady stream costs
 * one shared-line read per burst, not per packet.
 *
 * Memory order: the producer stores the slots, then publishes head with a
 * release store; the consumer's acquire load of head pairs with it, so it
 * sees the slots. Symmetrically the consumer releases tail after reading the
 * slots, and the producer's acquire load of tail pairs with it before it
 * overwrites them.
 *
 * Naming (as DPDK): _burst moves up to n and returns how many; _bulk moves
 * all n or none.
 *
 * Thread-safety: one producer, one consumer; vf_ring_count() is a snapshot
 * usable from any thread.
 */
#ifndef VF_RING_H
#define VF_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "numa/vf_pkt.h"

struct vf_ring {
    /* producer's line: producer rw, consumer ro (head) */
    alignas(VF_CACHE_LINE) _Atomic uint32_t head;
    uint32_t tail_cache;   /* producer only */
    /* consumer's line: consumer rw, producer ro (tail) */
    alignas(VF_CACHE_LINE) _Atomic uint32_t tail;
    uint32_t head_cache;   /* consumer only */
    /* read-only after creation */
    alignas(VF_CACHE_LINE) uint32_t mask;
    uint32_t size;
    void *slots[];
};

/* size must be a power of two >= 2; NULL on bad size or no memory. */
struct vf_ring *vf_ring_create(uint32_t size, int numa_node);
void vf_ring_destroy(struct vf_ring *r);      /* accepts NULL */

unsigned vf_ring_enqueue_burst(struct vf_ring *r, void *const *objs, unsigned n);
/* As _burst, but never fills the ring past fill_max slots (clamped to the
 * size): a bound below the capacity that the producer may change between
 * calls (a ring port's tx budget). A ring already holding more than
 * fill_max takes nothing until the consumer brings it below. */
unsigned vf_ring_enqueue_burst_max(struct vf_ring *r, void *const *objs,
                                   unsigned n, unsigned fill_max);
unsigned vf_ring_dequeue_burst(struct vf_ring *r, void **objs, unsigned n);
/* All-or-nothing variants: return n or 0. */
unsigned vf_ring_enqueue_bulk(struct vf_ring *r, void *const *objs, unsigned n);
unsigned vf_ring_dequeue_bulk(struct vf_ring *r, void **objs, unsigned n);
unsigned vf_ring_count(const struct vf_ring *r);
unsigned vf_ring_free_count(const struct vf_ring *r);

#endif
