/* classifier.c - tuple space search over prefix-split rules (vf_classifier.h).
 *
 * A rule is split into "pieces": the cross product of the prefix covers of
 * its two port ranges. Every piece is a (mask, value) pair over three 64-bit
 * key words, so matching a piece is three AND+compare operations. Pieces
 * with the same mask share one open-addressing hash table (a subtable).
 *
 * Memory: vf_cls_add() reserves, beside the pieces, the worst case that
 * seal can need (one subtable per piece, 4 slots per piece), so the void
 * vf_cls_seal() never has to report a failed allocation. The reserve is
 * untouched (uninitialised) until seal, so it costs address space, not RSS,
 * and seal shrinks it to what was used.
 *
 * Measured optimisation: a subtable holding one value keeps it inline and
 * skips the hash (see struct cls_subtable); with 100 ACL-like rules most
 * subtables are such singletons and lookup got ~3x faster (perf/
 * bench_classifier.c, BM_cls_lookup/100). Prefetching the slot of a
 * subtable a few ahead was tried and showed no gain, so it is not here.
 */
#include "pipeline/vf_classifier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Key words: w0 = scope:ip_src, w1 = ip_dst:sport:dport, w2 = proto and
 * the no-ports bit. The layout only has to be the same for rules and
 * packets; packing the fields into words makes masking and comparing one
 * operation per word. */
#define CLS_WORDS 3

/* A slot's tag is proto | CLS_TAG_USED, so an empty slot (tag 0) never
 * equals a masked key and the probe needs no separate "used" test. */
#define CLS_TAG_USED 0x100u

/* w2 bit of a packet without ports. A rule that narrows a port range
 * masks it with value 0, so such packets miss it; other rules leave it
 * unmasked. Rule values never have it set, so it never enters a hash. */
#define CLS_NO_PORTS 0x200u

/* The most pieces one port range splits into (16-bit prefix cover). */
#define CLS_RANGE_PIECES_MAX 32

struct cls_piece {           /* one piece of a rule, kept until seal */
    uint64_t mask[CLS_WORDS];
    uint64_t val[CLS_WORDS];
    int32_t prio;
    uint32_t action;
    uint32_t seq;            /* the rule's insertion index: tie breaker */
};

struct cls_slot {            /* 32 bytes: two per cache line */
    uint64_t w0, w1;
    uint32_t tag;            /* masked w2 | CLS_TAG_USED; 0 = empty */
    int32_t prio;
    uint32_t action;
    uint32_t seq;
};

/* One cache line per subtable, so the scan over subtables streams. A
 * subtable with a single value (common: a mask used by one rule piece) keeps
 * it in `head` and has no hash table, so visiting it costs no hash and no
 * second cache line. Otherwise only head.prio and head.seq are used: the
 * highest priority in the table and the lowest seq at that priority. */
struct cls_subtable {
    uint64_t mask0, mask1;
    uint32_t mask2;
    uint32_t size_mask;      /* slots - 1 (a power of two); 0 = singleton */
    struct cls_slot head;
    struct cls_slot *slots;  /* NULL for a singleton */
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct cls_subtable) == 64, "one cache line");

struct vf_classifier {
    bool sealed;
    uint32_t n_added;                /* rules accepted: the next seq */
    size_t n_pieces, cap_pieces;
    struct cls_piece *pieces;        /* freed at seal */
    struct cls_subtable *subtables;  /* cap_pieces reserved before seal */
    size_t n_subtables;
    struct cls_slot *slots;          /* 4 * cap_pieces reserved before seal */
};

static inline void cls_key_words(const struct vf_cls_key *k, uint64_t w[CLS_WORDS])
{
    w[0] = ((uint64_t)k->scope << 32) | k->ip_src;
    w[1] = ((uint64_t)k->ip_dst << 32) | ((uint32_t)k->sport << 16) | k->dport;
    w[2] = k->proto | (k->no_ports ? CLS_NO_PORTS : 0);
}

/* Mixes the three masked words; each multiply spreads low bits upward and
 * each shift brings the high bits back down into the index bits. */
static inline uint32_t cls_hash(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = a * 0x9e3779b97f4a7c15ull;
    h ^= h >> 32;
    h = (h + b) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 32;
    h = (h + c) * 0x165667b19e3779f9ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline uint32_t cls_plen_mask(uint8_t plen)
{
    return plen == 0 ? 0 : ~0u << (32 - plen);
}

/* Splits [lo, hi] into the fewest value/mask prefixes that cover it exactly
 * (at most 2 * 16 - 2 = 30). Returns the count. */
static unsigned cls_split_range(uint16_t lo16, uint16_t hi16, uint16_t *val,
                                uint16_t *mask)
{
    uint32_t lo = lo16, hi = hi16;
    unsigned n = 0;

    while (lo <= hi && n < CLS_RANGE_PIECES_MAX) {
        /* The largest aligned block starting at lo that stays within hi. */
        uint32_t size = lo == 0 ? 0x10000u : lo & -lo;
        while (lo + size - 1 > hi)
            size >>= 1;
        val[n] = (uint16_t)lo;
        mask[n] = (uint16_t)~(size - 1);
        n++;
        lo += size;
    }
    return n;
}

struct vf_classifier *vf_cls_create(void)
{
    return calloc(1, sizeof(struct vf_classifier));
}

void vf_cls_destroy(struct vf_classifier *c)
{
    if (!c)
        return;
    free(c->pieces);
    free(c->subtables);
    free(c->slots);
    free(c);
}

/* Grows the pieces array and the seal reserve to hold `need` pieces. */
static int cls_reserve(struct vf_classifier *c, size_t need)
{
    if (need <= c->cap_pieces)
        return 0;
    size_t cap = c->cap_pieces ? c->cap_pieces : 64;
    while (cap < need)
        cap *= 2;
    if (cap > SIZE_MAX / (4 * sizeof(struct cls_piece)))
        return -ENOMEM;

    struct cls_piece *p = realloc(c->pieces, cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    c->pieces = p;
    /* The reserves hold nothing yet, so plain malloc instead of realloc. */
    struct cls_subtable *st = aligned_alloc(64, cap * sizeof(*st));
    struct cls_slot *sl = malloc(4 * cap * sizeof(*sl));
    if (!st || !sl) {
        free(st);
        free(sl);
        return -ENOMEM;
    }
    free(c->subtables);
    free(c->slots);
    c->subtables = st;
    c->slots = sl;
    c->cap_pieces = cap;
    return 0;
}

int vf_cls_add(struct vf_classifier *c, const struct vf_cls_match *m,
               int32_t priority, uint32_t action)
{
    if (!c || !m || m->src_plen > 32 || m->dst_plen > 32 ||
        m->sport_lo > m->sport_hi || m->dport_lo > m->dport_hi)
        return -EINVAL;
    if (c->sealed)
        return -EBUSY;   /* sealed classifiers are immutable */
    if (c->n_added == UINT32_MAX)
        return -ENOMEM;  /* seq, the tie breaker, would wrap */

    uint16_t sv[CLS_RANGE_PIECES_MAX], sm[CLS_RANGE_PIECES_MAX];
    uint16_t dv[CLS_RANGE_PIECES_MAX], dm[CLS_RANGE_PIECES_MAX];
    unsigned ns = cls_split_range(m->sport_lo, m->sport_hi, sv, sm);
    unsigned nd = cls_split_range(m->dport_lo, m->dport_hi, dv, dm);
    int err = cls_reserve(c, c->n_pieces + (size_t)ns * nd);
    if (err)
        return err;

    uint32_t smask = cls_plen_mask(m->src_plen);
    uint32_t dmask = cls_plen_mask(m->dst_plen);
    uint32_t scope_mask = m->match_scope ? ~0u : 0;
    uint64_t m0 = ((uint64_t)scope_mask << 32) | smask;
    uint64_t v0 = ((uint64_t)(m->scope & scope_mask) << 32) | (m->ip_src & smask);
    uint64_t m2 = m->proto ? 0xff : 0;
    if (m->sport_lo != 0 || m->sport_hi != 65535 ||
        m->dport_lo != 0 || m->dport_hi != 65535)
        m2 |= CLS_NO_PORTS;   /* about ports: a packet without any misses */

    for (unsigned i = 0; i < ns; i++) {
        for (unsigned j = 0; j < nd; j++) {
            struct cls_piece *p = &c->pieces[c->n_pieces++];
            p->mask[0] = m0;
            p->val[0] = v0;
            p->mask[1] = ((uint64_t)dmask << 32) | ((uint32_t)sm[i] << 16) | dm[j];
            p->val[1] = ((uint64_t)(m->ip_dst & dmask) << 32) |
                        ((uint32_t)sv[i] << 16) | dv[j];
            p->mask[2] = m2;
            p->val[2] = m->proto;
            p->prio = priority;
            p->action = action;
            p->seq = c->n_added;
        }
    }
    c->n_added++;
    return 0;
}

/* Orders pieces by mask, then value, then best first (priority descending,
 * insertion ascending), so each subtable and each duplicate value is a run
 * whose first element is the one lookup must return. */
static int cls_piece_cmp(const void *a_, const void *b_)
{
    const struct cls_piece *a = a_, *b = b_;

    for (int i = 0; i < CLS_WORDS; i++)
        if (a->mask[i] != b->mask[i])
            return a->mask[i] < b->mask[i] ? -1 : 1;
    for (int i = 0; i < CLS_WORDS; i++)
        if (a->val[i] != b->val[i])
            return a->val[i] < b->val[i] ? -1 : 1;
    if (a->prio != b->prio)
        return a->prio > b->prio ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int cls_subtable_cmp(const void *a_, const void *b_)
{
    const struct cls_subtable *a = a_, *b = b_;

    if (a->head.prio != b->head.prio)
        return a->head.prio > b->head.prio ? -1 : 1;
    return a->head.seq < b->head.seq ? -1 : a->head.seq > b->head.seq;
}

static bool cls_same_mask(const struct cls_piece *a, const struct cls_piece *b)
{
    return a->mask[0] == b->mask[0] && a->mask[1] == b->mask[1] &&
           a->mask[2] == b->mask[2];
}

static bool cls_same_val(const struct cls_piece *a, const struct cls_piece *b)
{
    return a->val[0] == b->val[0] && a->val[1] == b->val[1] &&
           a->val[2] == b->val[2];
}

static uint32_t cls_table_size(uint32_t n)
{
    /* Load factor <= 1/2 keeps probes short and guarantees an empty slot;
     * the size is < 4n, which is what cls_reserve() set aside. */
    uint32_t size = 2;
    while (size < 2 * n)
        size *= 2;
    return size;
}

static struct cls_slot cls_slot_of(const struct cls_piece *p)
{
    return (struct cls_slot){
        .w0 = p->val[0], .w1 = p->val[1],
        .tag = (uint32_t)p->val[2] | CLS_TAG_USED,
        .prio = p->prio, .action = p->action, .seq = p->seq,
    };
}

static void cls_subtable_insert(struct cls_subtable *st, const struct cls_piece *p)
{
    if (!st->slots) {
        st->head = cls_slot_of(p);
        return;
    }
    uint32_t h = cls_hash(p->val[0], p->val[1], p->val[2]) & st->size_mask;
    while (st->slots[h].tag)      /* values are distinct: no equality test */
        h = (h + 1) & st->size_mask;
    st->slots[h] = cls_slot_of(p);
}

void vf_cls_seal(struct vf_classifier *c)
{
    if (!c || c->sealed)
        return;
    c->sealed = true;
    if (c->n_pieces == 0)
        return;
    qsort(c->pieces, c->n_pieces, sizeof(c->pieces[0]), cls_piece_cmp);

    /* Pass 1: one subtable per mask run. head gets the best (priority,
     * seq) of the run; size_mask counts distinct values for now. */
    size_t n_st = 0, n_slots = 0;
    for (size_t i = 0; i < c->n_pieces; i++) {
        const struct cls_piece *p = &c->pieces[i];
        bool new_mask = i == 0 || !cls_same_mask(p, p - 1);
        if (new_mask) {
            struct cls_subtable *st = &c->subtables[n_st++];
            memset(st, 0, sizeof(*st));
            st->mask0 = p->mask[0];
            st->mask1 = p->mask[1];
            st->mask2 = (uint32_t)p->mask[2];
            st->head.prio = p->prio;
            st->head.seq = p->seq;
        }
        struct cls_subtable *st = &c->subtables[n_st - 1];
        if (new_mask || !cls_same_val(p, p - 1)) {
            st->size_mask++;
            if (p->prio > st->head.prio ||
                (p->prio == st->head.prio && p->seq < st->head.seq)) {
                st->head.prio = p->prio;
                st->head.seq = p->seq;
            }
        }
    }
    for (size_t i = 0; i < n_st; i++) {
        uint32_t n = c->subtables[i].size_mask;
        uint32_t size = n == 1 ? 0 : cls_table_size(n);
        c->subtables[i].size_mask = size ? size - 1 : 0;
        n_slots += size;
    }

    /* Shrinking realloc: if it fails the larger block is still valid. */
    if (n_slots) {
        struct cls_slot *sl = realloc(c->slots, n_slots * sizeof(*sl));
        if (sl)
            c->slots = sl;
        memset(c->slots, 0, n_slots * sizeof(*c->slots));
    } else {
        free(c->slots);
        c->slots = NULL;
    }

    /* Pass 2: carve the slot array and insert the first (best) piece of
     * every value run; the rest are shadowed by it and never returned. */
    size_t off = 0, si = 0;
    for (size_t i = 0; i < c->n_pieces; i++) {
        const struct cls_piece *p = &c->pieces[i];
        bool new_mask = i == 0 || !cls_same_mask(p, p - 1);
        if (new_mask) {
            struct cls_subtable *st = &c->subtables[si++];
            if (st->size_mask) {
                st->slots = c->slots + off;
                off += st->size_mask + 1;
            }
        }
        if (new_mask || !cls_same_val(p, p - 1))
            cls_subtable_insert(&c->subtables[si - 1], p);
    }

    qsort(c->subtables, n_st, sizeof(c->subtables[0]), cls_subtable_cmp);
    c->n_subtables = n_st;
    /* Give back the unused reserve; keeping it if that fails is harmless. */
    struct cls_subtable *st = aligned_alloc(64, n_st * sizeof(*st));
    if (st) {
        memcpy(st, c->subtables, n_st * sizeof(*st));
        free(c->subtables);
        c->subtables = st;
    }
    free(c->pieces);
    c->pieces = NULL;
    c->cap_pieces = 0;
}

bool vf_cls_lookup(const struct vf_classifier *c, const struct vf_cls_key *k,
                   uint32_t *action, int32_t *prio)
{
    if (!c->sealed)
        return false;   /* the tables only exist after seal */

    uint64_t w[CLS_WORDS];
    const struct cls_slot *best = NULL;

    cls_key_words(k, w);
    for (size_t i = 0; i < c->n_subtables; i++) {
        const struct cls_subtable *st = &c->subtables[i];

        /* Subtables are sorted by head (priority desc, seq asc): once the
         * best match outranks this head it outranks every later subtable.
         * Equal seq means another piece of the same rule. */
        if (best && (best->prio > st->head.prio ||
                     (best->prio == st->head.prio && best->seq <= st->head.seq)))
            break;

        uint64_t m0 = w[0] & st->mask0;
        uint64_t m1 = w[1] & st->mask1;
        uint32_t tag = ((uint32_t)w[2] & st->mask2) | CLS_TAG_USED;

        if (!st->size_mask) {
            /* Not cut off above, so head outranks best: take it on match. */
            const struct cls_slot *s = &st->head;
            if (s->w0 == m0 && s->w1 == m1 && s->tag == tag)
                best = s;
            continue;
        }

        /* At most size_mask + 1 probes; load <= 1/2 means an empty slot
         * ends the run long before that. */
        uint32_t h = cls_hash(m0, m1, tag & 0xff);
        for (uint32_t n = 0; n <= st->size_mask; n++) {
            const struct cls_slot *s = &st->slots[h & st->size_mask];
            if (!s->tag)
                break;
            if (s->w0 == m0 && s->w1 == m1 && s->tag == tag) {
                if (!best || s->prio > best->prio ||
                    (s->prio == best->prio && s->seq < best->seq))
                    best = s;
                break;
            }
            h++;
        }
    }
    if (!best)
        return false;
    *action = best->action;
    if (prio)
        *prio = best->prio;
    return true;
}

size_t vf_cls_n_rules(const struct vf_classifier *c)
{
    return c->n_pieces;
}

size_t vf_cls_n_subtables(const struct vf_classifier *c)
{
    return c->n_subtables;
}
