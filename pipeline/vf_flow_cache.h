/* vf_flow_cache.h - a worker's private exact-match flow cache.
 *
 * What: maps (logical ingress port, flow key) to the action list the logical
 * pipeline decided for that flow, so that the second packet of a flow costs
 * a hash probe instead of every stage. Bounded: a fixed number of entries
 * chosen at creation (power of two), set-associative (VF_FC_WAYS ways per
 * bucket), least-recently-inserted way replaced; it never allocates after
 * creation.
 *
 * Staleness: every entry carries the tables generation it was computed
 * under; a lookup passes the current generation and an entry of any other
 * generation is a miss. So after a table change no stale decision is ever
 * used, and no flush is needed.
 *
 * Values are opaque bytes (at most VF_FC_VALUE_MAX, room for any action
 * list) owned by the pipeline; a lookup returns them VF_FC_VALUE_ALIGN-
 * aligned, so a value that is a struct of no stricter alignment is used in
 * place. Short values (one or two outputs) live in the entry, longer ones
 * in slab slots shared round robin (flow_cache.c): a long value may also
 * be forgotten after vf_fc_value_slots() later inserts of its class.
 *
 * Thread-safety: none; each worker owns its cache. Counters are read by
 * mgmt as relaxed 64-bit loads (possibly a burst stale).
 */
#ifndef VF_FLOW_CACHE_H
#define VF_FLOW_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/vf_parse.h"

#define VF_FC_WAYS 4
/* Room for the largest action list: VF_ACT_MAX_OUT outputs and two
 * conntrack checks (process.c asserts it). */
#define VF_FC_VALUE_MAX 4352
#define VF_FC_VALUE_ALIGN 8

struct vf_flow_cache_stats {
    uint64_t hits, misses, inserts, evictions;
};

struct vf_flow_cache;

/* n_entries is rounded up to a power of two >= VF_FC_WAYS. */
struct vf_flow_cache *vf_fc_create(unsigned n_entries, int numa_node);
void vf_fc_destroy(struct vf_flow_cache *fc);   /* accepts NULL */
/* Pointer to the cached value (valid until the next insert) or NULL. */
const void *vf_fc_lookup(struct vf_flow_cache *fc, uint32_t in_port,
                         const struct vf_flow_key *key, uint32_t hash,
                         uint64_t gen);
/* Starts loading the bucket a lookup of hash will read (a hint: no
 * effect on the result). For a pass over a burst before its lookups. */
void vf_fc_prefetch(const struct vf_flow_cache *fc, uint32_t hash);
/* Stores a value (len <= VF_FC_VALUE_MAX; longer values are not cached). */
void vf_fc_insert(struct vf_flow_cache *fc, uint32_t in_port,
                  const struct vf_flow_key *key, uint32_t hash, uint64_t gen,
                  const void *value, size_t len);
void vf_fc_get_stats(const struct vf_flow_cache *fc,
                     struct vf_flow_cache_stats *out);
unsigned vf_fc_capacity(const struct vf_flow_cache *fc);
/* How many slab slots values of len bytes share (0: kept in the entry):
 * such a value survives at least that many - 1 later inserts of values
 * of its class. */
unsigned vf_fc_value_slots(const struct vf_flow_cache *fc, size_t len);

#endif
