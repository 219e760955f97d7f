/* flow_cache.c - per-worker set-associative exact-match cache (vf_flow_cache.h).
 *
 * Layout: one mapping holds the cache struct, then one 64-byte tag line per
 * bucket (the 4 ways' hash tags, ingress ports and generations), then the
 * entries (key, value) bucket by bucket. A lookup reads the bucket's tag
 * line and touches an entry only when tag, port and generation all agree,
 * so a miss costs one cache line.
 *
 * Replacement: every way carries an insertion stamp; an insert of a key
 * already in the bucket (of any generation) rewrites that way, otherwise it
 * takes an empty way or else the one with the oldest stamp. Rewriting the
 * same key's way keeps one copy per key, so a lookup can never find an
 * older value for a key under the current generation.
 *
 * Compact entries: an entry is three cache lines (key, stamp, and up to
 * FC_INLINE value bytes: an action list of one or two outputs, the common
 * case), not six sized for the largest value. A longer value lives in a
 * slab slot the entry names: the middle class (FC_MID bytes: conntrack
 * checks, floods of up to 14 outputs) has capacity / FC_MID_SHARE slots,
 * the big class (VF_FC_VALUE_MAX: any action list, floods of up to
 * VF_ACT_MAX_OUT outputs) capacity / FC_BIG_SHARE. Slots are reused round
 * robin; a slot remembers the entry it was given to, and reusing it empties
 * that entry's way if the entry still names the slot, so a lookup never
 * returns another flow's value. The default 65,536-entry cache takes 18 MB
 * (25 MB with six-line entries), a 2^20-entry one 290 MB (400 MB).
 */
#include "pipeline/vf_flow_cache.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mempolicy.h>

_Static_assert((VF_FC_WAYS & (VF_FC_WAYS - 1)) == 0, "ways is a power of two");
_Static_assert(VF_FC_WAYS == 4, "a bucket's tags fill exactly one cache line");

/* The largest cache we agree to build: 2^26 entries is 24 GiB already. */
#define FC_ENTRIES_MAX (1u << 26)
/* Caches from this size up ask for transparent huge pages (see create). */
#define FC_THP_MIN_BYTES (128ul << 20)

struct fc_bucket {           /* one cache line: everything a miss reads */
    uint32_t tag[VF_FC_WAYS];     /* hash | 1; 0 = empty way */
    uint32_t in_port[VF_FC_WAYS];
    uint64_t gen[VF_FC_WAYS];
} __attribute__((aligned(64)));

#define FC_INLINE 72u        /* value bytes kept in the entry */
#define FC_MID 256u          /* value bytes of a middle slab slot */
#define FC_MID_SHARE 4u      /* middle slots: capacity / this */
#define FC_BIG_SHARE 256u    /* big slots: capacity / this */
#define FC_SLAB_MIN 8u       /* at least this many slots per class */
#define FC_SLOT_BIG 0x80000000u  /* in fc_entry.slot: the big class */

struct fc_entry {
    struct vf_flow_key key;
    uint64_t stamp;          /* insertion order within the bucket */
    uint16_t len;
    uint32_t slot;           /* 0: value inline; else slab slot + 1
                              * (| FC_SLOT_BIG for the big class) */
    uint8_t value[FC_INLINE] __attribute__((aligned(VF_FC_VALUE_ALIGN)));
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct fc_entry, value) % VF_FC_VALUE_ALIGN == 0 &&
                   sizeof(struct fc_entry) % VF_FC_VALUE_ALIGN == 0 &&
                   FC_MID % VF_FC_VALUE_ALIGN == 0 &&
                   VF_FC_VALUE_MAX % VF_FC_VALUE_ALIGN == 0,
               "every value, inline or in a slot, is VF_FC_VALUE_ALIGN-aligned");

_Static_assert(sizeof(struct fc_bucket) == 64, "tag line is one cache line");
_Static_assert(sizeof(struct fc_entry) == 192, "key and value: three cache lines");
_Static_assert(FC_INLINE < FC_MID && FC_MID < VF_FC_VALUE_MAX, "classes grow");

/* One class of slab slots: n slots of size bytes, and for each the entry
 * (index + 1; 0: none) it was last given to. */
struct fc_slab {
    uint8_t *slots;
    uint32_t *owner;
    uint32_t n, next, size;
};

struct vf_flow_cache {
    struct fc_bucket *buckets;    /* n_buckets tag lines */
    struct fc_entry *entries;     /* n_buckets * VF_FC_WAYS */
    struct fc_slab mid, big;      /* values longer than FC_INLINE */
    uint32_t bucket_mask;         /* n_buckets - 1 */
    unsigned capacity;
    size_t map_len;               /* the mapping that holds all of it */
    /* worker: rw (plain read, relaxed store); mgmt: ro (relaxed load) */
    struct vf_flow_cache_stats stats;
} __attribute__((aligned(64)));

/* The worker is the counters' only writer, so a plain read plus a relaxed
 * store is enough; the atomic store only keeps mgmt's relaxed 64-bit loads
 * from racing in the C11 sense (no read-modify-write, no fence). */
static inline void fc_count(uint64_t *ctr, uint64_t n)
{
    __atomic_store_n(ctr, *ctr + n, __ATOMIC_RELAXED);
}

static inline uint32_t fc_tag(uint32_t hash)
{
    /* Bit 0 forced on so no tag is 0; a tag false positive only costs a key
     * compare. */
    return hash | 1u;
}

static inline struct fc_entry *fc_entry(const struct vf_flow_cache *fc,
                                        uint32_t b, unsigned w)
{
    return &fc->entries[(size_t)b * VF_FC_WAYS + w];
}

/* Prefers memory on numa_node without insisting: a cache on the wrong node
 * is slower, not wrong, so a failed mbind (no NUMA, bad node) is ignored. */
static void fc_prefer_node(void *p, size_t len, int numa_node)
{
    unsigned long mask[16] = {0};
    const unsigned bits = sizeof(unsigned long) * 8;

    /* The kernel reads maxnode - 1 bits, hence the - 1 on both sides. */
    if (numa_node < 0 || (unsigned)numa_node >= 16 * bits - 1)
        return;
    mask[numa_node / bits] = 1ul << (numa_node % bits);
    (void)syscall(SYS_mbind, p, len, MPOL_PREFERRED, mask, 16 * bits, 0);
}

struct vf_flow_cache *vf_fc_create(unsigned n_entries, int numa_node)
{
    if (n_entries > FC_ENTRIES_MAX) {
        errno = EINVAL;
        return NULL;
    }
    unsigned cap = VF_FC_WAYS;
    while (cap < n_entries)
        cap *= 2;
    size_t n_buckets = cap / VF_FC_WAYS;
    size_t head = sizeof(struct vf_flow_cache);
    uint32_t n_mid = cap / FC_MID_SHARE > FC_SLAB_MIN ? cap / FC_MID_SHARE : FC_SLAB_MIN;
    uint32_t n_big = cap / FC_BIG_SHARE > FC_SLAB_MIN ? cap / FC_BIG_SHARE : FC_SLAB_MIN;
    size_t len = head + n_buckets * sizeof(struct fc_bucket) +
                 (size_t)cap * sizeof(struct fc_entry) +
                 (size_t)n_mid * (FC_MID + sizeof(uint32_t)) +
                 (size_t)n_big * (VF_FC_VALUE_MAX + sizeof(uint32_t));

    /* Fresh anonymous pages are zero: every tag starts empty. The pages are
     * bound before first touch so they land on the preferred node. */
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    fc_prefer_node(map, len, numa_node);
    /* A big cache is touched at random: on 4 KB pages nearly every lookup
     * is a TLB miss as well as a cache miss, so a big one asks for
     * transparent huge pages (a hint: no error where the system refuses).
     * Only a big one: on the dev VM, huge pages for the default 25 MB
     * cache cost tap-to-tap TCP about 30% (A/B, cause not found), while
     * for a 1M-entry cache they raise forwarding at 100k flows by half. */
    if (len >= FC_THP_MIN_BYTES)
        (void)madvise(map, len, MADV_HUGEPAGE);
    /* Every page now, not at a worker's first insert into it: a page fault
     * in the data path is a latency spike (microseconds; milliseconds for
     * a huge page being zeroed). Kernels before 5.14 lack the advice: then
     * one write per page does the same. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    if (madvise(map, len, MADV_POPULATE_WRITE) != 0) {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        for (size_t off = 0; off < len; off += pg)
            ((volatile char *)map)[off] = 0;
    }

    struct vf_flow_cache *fc = map;
    fc->buckets = (struct fc_bucket *)((char *)map + head);
    fc->entries = (struct fc_entry *)(fc->buckets + n_buckets);
    uint8_t *at = (uint8_t *)(fc->entries + cap);
    fc->mid = (struct fc_slab){.slots = at, .n = n_mid, .size = FC_MID};
    at += (size_t)n_mid * FC_MID;
    fc->big = (struct fc_slab){.slots = at, .n = n_big, .size = VF_FC_VALUE_MAX};
    at += (size_t)n_big * VF_FC_VALUE_MAX;
    fc->mid.owner = (uint32_t *)at;
    fc->big.owner = fc->mid.owner + n_mid;
    fc->bucket_mask = (uint32_t)(n_buckets - 1);
    fc->capacity = cap;
    fc->map_len = len;
    return fc;
}

void vf_fc_destroy(struct vf_flow_cache *fc)
{
    if (!fc)
        return;
    munmap(fc, fc->map_len);
}

static inline const struct fc_slab *fc_slab_of(const struct vf_flow_cache *fc,
                                               uint32_t slot)
{
    return slot & FC_SLOT_BIG ? &fc->big : &fc->mid;
}

/* The value bytes of an entry's slot (slot != 0). */
static inline uint8_t *fc_slot(const struct vf_flow_cache *fc, uint32_t slot)
{
    const struct fc_slab *sl = fc_slab_of(fc, slot);
    return sl->slots + (size_t)((slot & ~FC_SLOT_BIG) - 1) * sl->size;
}

/* Takes the next slot of the class for entry index ei (round robin): the
 * entry that held it loses its way if it still names the slot. Returns
 * the slot's name for fc_entry.slot. */
static uint32_t fc_slot_take(struct vf_flow_cache *fc, bool big, uint32_t ei)
{
    struct fc_slab *sl = big ? &fc->big : &fc->mid;
    uint32_t i = sl->next;
    uint32_t name = (i + 1) | (big ? FC_SLOT_BIG : 0);

    sl->next = i + 1 == sl->n ? 0 : i + 1;
    if (sl->owner[i] && sl->owner[i] - 1 != ei) {
        uint32_t old = sl->owner[i] - 1;
        if (fc->entries[old].slot == name) {
            fc->buckets[old / VF_FC_WAYS].tag[old % VF_FC_WAYS] = 0;
            fc->entries[old].slot = 0;
            fc_count(&fc->stats.evictions, 1);
        }
    }
    sl->owner[i] = ei + 1;
    return name;
}

/* The way holding (in_port, key) in any generation, or -1. */
static int fc_find_key(const struct vf_flow_cache *fc, uint32_t b, uint32_t tag,
                       uint32_t in_port, const struct vf_flow_key *key)
{
    const struct fc_bucket *bk = &fc->buckets[b];

    for (unsigned w = 0; w < VF_FC_WAYS; w++)
        if (bk->tag[w] == tag && bk->in_port[w] == in_port &&
            vf_flow_key_eq(&fc_entry(fc, b, w)->key, key))
            return (int)w;
    return -1;
}

void vf_fc_prefetch(const struct vf_flow_cache *fc, uint32_t hash)
{
    __builtin_prefetch(&fc->buckets[hash & fc->bucket_mask], 0, 3);
}

const void *vf_fc_lookup(struct vf_flow_cache *fc, uint32_t in_port,
                         const struct vf_flow_key *key, uint32_t hash,
                         uint64_t gen)
{
    uint32_t b = hash & fc->bucket_mask;
    uint32_t tag = fc_tag(hash);
    const struct fc_bucket *bk = &fc->buckets[b];

    /* An entry of another generation is a miss even if the key agrees:
     * it was computed from tables that no longer exist. */
    for (unsigned w = 0; w < VF_FC_WAYS; w++) {
        if (bk->tag[w] == tag && bk->in_port[w] == in_port &&
            bk->gen[w] == gen) {
            const struct fc_entry *e = fc_entry(fc, b, w);
            if (vf_flow_key_eq(&e->key, key)) {
                fc_count(&fc->stats.hits, 1);
                return e->slot ? fc_slot(fc, e->slot) : e->value;
            }
        }
    }
    fc_count(&fc->stats.misses, 1);
    return NULL;
}

void vf_fc_insert(struct vf_flow_cache *fc, uint32_t in_port,
                  const struct vf_flow_key *key, uint32_t hash, uint64_t gen,
                  const void *value, size_t len)
{
    uint32_t b = hash & fc->bucket_mask;
    uint32_t tag = fc_tag(hash);
    struct fc_bucket *bk = &fc->buckets[b];
    int way = fc_find_key(fc, b, tag, in_port, key);

    if (len > VF_FC_VALUE_MAX) {
        /* Not cached; an older value of this key must not outlive it. */
        if (way >= 0)
            bk->tag[way] = 0;
        return;
    }

    uint64_t newest = 0;
    if (way < 0) {
        /* An empty way if any, else the least recently inserted. */
        uint64_t oldest = UINT64_MAX;
        for (unsigned w = 0; w < VF_FC_WAYS; w++) {
            if (!bk->tag[w]) {
                way = (int)w;
                break;
            }
            if (fc_entry(fc, b, w)->stamp < oldest) {
                oldest = fc_entry(fc, b, w)->stamp;
                way = (int)w;
            }
        }
        if (bk->tag[way])
            fc_count(&fc->stats.evictions, 1);
    }
    for (unsigned w = 0; w < VF_FC_WAYS; w++)
        if (bk->tag[w] && fc_entry(fc, b, w)->stamp > newest)
            newest = fc_entry(fc, b, w)->stamp;

    struct fc_entry *e = fc_entry(fc, b, (unsigned)way);
    uint32_t ei = b * VF_FC_WAYS + (uint32_t)way;
    e->key = *key;
    e->stamp = newest + 1;
    e->len = (uint16_t)len;
    /* A slot taken now may empty another way of this very bucket (its
     * entry named the slot): that way then reads as empty, as it is. */
    e->slot = len <= FC_INLINE ? 0 : fc_slot_take(fc, len > FC_MID, ei);
    if (len)
        memcpy(e->slot ? fc_slot(fc, e->slot) : e->value, value, len);
    bk->tag[way] = tag;
    bk->in_port[way] = in_port;
    bk->gen[way] = gen;
    fc_count(&fc->stats.inserts, 1);
}

void vf_fc_get_stats(const struct vf_flow_cache *fc,
                     struct vf_flow_cache_stats *out)
{
    /* Relaxed loads pair with fc_count()'s relaxed stores: each counter is
     * whole, the four together may be a burst apart. */
    out->hits = __atomic_load_n(&fc->stats.hits, __ATOMIC_RELAXED);
    out->misses = __atomic_load_n(&fc->stats.misses, __ATOMIC_RELAXED);
    out->inserts = __atomic_load_n(&fc->stats.inserts, __ATOMIC_RELAXED);
    out->evictions = __atomic_load_n(&fc->stats.evictions, __ATOMIC_RELAXED);
}

unsigned vf_fc_value_slots(const struct vf_flow_cache *fc, size_t len)
{
    if (len <= FC_INLINE)
        return 0;
    return len <= FC_MID ? fc->mid.n : fc->big.n;
}

unsigned vf_fc_capacity(const struct vf_flow_cache *fc)
{
    return fc->capacity;
}
