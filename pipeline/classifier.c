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
 * operation per word.
 * IPv6 (a "wide" classifier): w0 = scope:sport:dport, w1 = the source's
 * first 8 bytes, w2 as IPv4, and three extension words: the source's last
 * 8 bytes, the destination's first and last 8 (big-endian values). */
#define CLS_WORDS 3
#define CLS_EXT 3
#define CLS_ALL_WORDS (CLS_WORDS + CLS_EXT)

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
    uint64_t mask[CLS_ALL_WORDS];   /* IPv4: the extension words are 0 */
    uint64_t val[CLS_ALL_WORDS];
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
    bool wide;                       /* IPv6: six key words */
    uint32_t n_added;                /* rules accepted: the next seq */
    size_t n_pieces, cap_pieces;
    struct cls_piece *pieces;        /* freed at seal */
    struct cls_subtable *subtables;  /* cap_pieces reserved before seal */
    size_t n_subtables;
    struct cls_slot *slots;          /* 4 * cap_pieces reserved before seal */
    /* wide only: per subtable its extension masks then its head's
     * extension words (2 * CLS_EXT), per slot its extension words
     * (CLS_EXT); same indexes as subtables[] and slots[] */
    uint64_t *ext;
    uint64_t *slot_ext;
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

/* The wide classifier's hash: the extension words folded into the three
 * (the same function at insert and at lookup is all that matters). */
static inline uint32_t cls_hash_wide(uint64_t a, uint64_t b, uint64_t c,
                                     const uint64_t e[CLS_EXT])
{
    return cls_hash(a ^ e[1] * 0xd6e8feb86659fd93ull,
                    b ^ e[0] * 0xa0761d6478bd642full, c ^ e[2] * 0xe7037ed1a0b428dbull);
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The 128-bit mask of a prefix length as two words. */
static inline void cls_plen_mask128(uint8_t plen, uint64_t *hi, uint64_t *lo)
{
    *hi = plen == 0 ? 0 : plen >= 64 ? ~0ull : ~0ull << (64 - plen);
    *lo = plen <= 64 ? 0 : plen >= 128 ? ~0ull : ~0ull << (128 - plen);
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

struct vf_classifier *vf_cls_create6(void)
{
    struct vf_classifier *c = calloc(1, sizeof(struct vf_classifier));
    if (c)
        c->wide = true;
    return c;
}

void vf_cls_destroy(struct vf_classifier *c)
{
    if (!c)
        return;
    free(c->pieces);
    free(c->subtables);
    free(c->slots);
    free(c->ext);
    free(c->slot_ext);
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
    uint64_t *ext = c->wide ? malloc(cap * 2 * CLS_EXT * sizeof(*ext)) : NULL;
    uint64_t *sext = c->wide ? malloc(4 * cap * CLS_EXT * sizeof(*sext)) : NULL;
    if (!st || !sl || (c->wide && (!ext || !sext))) {
        free(st);
        free(sl);
        free(ext);
        free(sext);
        return -ENOMEM;
    }
    free(c->subtables);
    free(c->slots);
    free(c->ext);
    free(c->slot_ext);
    c->subtables = st;
    c->slots = sl;
    c->ext = ext;
    c->slot_ext = sext;
    c->cap_pieces = cap;
    return 0;
}

/* What both families' rules have in common, for cls_add_pieces. */
struct cls_rule {
    uint32_t scope_mask, scope;
    uint8_t proto;
    uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
    /* the address words and masks, by family (cls_add_pieces places them) */
    uint64_t am[4], av[4];
};

/* Splits r's port ranges into pieces and adds them (either family). */
static int cls_add_pieces(struct vf_classifier *c, const struct cls_rule *r,
                          int32_t priority, uint32_t action)
{
    if (r->sport_lo > r->sport_hi || r->dport_lo > r->dport_hi)
        return -EINVAL;
    if (c->sealed)
        return -EBUSY;   /* sealed classifiers are immutable */
    if (c->n_added == UINT32_MAX)
        return -ENOMEM;  /* seq, the tie breaker, would wrap */

    uint16_t sv[CLS_RANGE_PIECES_MAX], sm[CLS_RANGE_PIECES_MAX];
    uint16_t dv[CLS_RANGE_PIECES_MAX], dm[CLS_RANGE_PIECES_MAX];
    unsigned ns = cls_split_range(r->sport_lo, r->sport_hi, sv, sm);
    unsigned nd = cls_split_range(r->dport_lo, r->dport_hi, dv, dm);
    int err = cls_reserve(c, c->n_pieces + (size_t)ns * nd);
    if (err)
        return err;

    uint64_t m2 = r->proto ? 0xff : 0;
    if (r->sport_lo != 0 || r->sport_hi != 65535 ||
        r->dport_lo != 0 || r->dport_hi != 65535)
        m2 |= CLS_NO_PORTS;   /* about ports: a packet without any misses */

    for (unsigned i = 0; i < ns; i++) {
        for (unsigned j = 0; j < nd; j++) {
            struct cls_piece *p = &c->pieces[c->n_pieces++];
            uint64_t pm = ((uint32_t)sm[i] << 16) | dm[j];
            uint64_t pv = ((uint32_t)sv[i] << 16) | dv[j];
            memset(p->mask, 0, sizeof(p->mask));
            memset(p->val, 0, sizeof(p->val));
            if (!c->wide) {
                /* w0 = scope:src, w1 = dst:sport:dport */
                p->mask[0] = ((uint64_t)r->scope_mask << 32) | r->am[0];
                p->val[0] = ((uint64_t)(r->scope & r->scope_mask) << 32) | r->av[0];
                p->mask[1] = (r->am[1] << 32) | pm;
                p->val[1] = (r->av[1] << 32) | pv;
            } else {
                /* w0 = scope:sport:dport, w1 = src hi, ext: src lo, dst */
                p->mask[0] = ((uint64_t)r->scope_mask << 32) | pm;
                p->val[0] = ((uint64_t)(r->scope & r->scope_mask) << 32) | pv;
                p->mask[1] = r->am[0];
                p->val[1] = r->av[0];
                for (int k = 0; k < CLS_EXT; k++) {
                    p->mask[CLS_WORDS + k] = r->am[1 + k];
                    p->val[CLS_WORDS + k] = r->av[1 + k];
                }
            }
            p->mask[2] = m2;
            p->val[2] = r->proto;
            p->prio = priority;
            p->action = action;
            p->seq = c->n_added;
        }
    }
    c->n_added++;
    return 0;
}

int vf_cls_add(struct vf_classifier *c, const struct vf_cls_match *m,
               int32_t priority, uint32_t action)
{
    if (!c || !m || c->wide || m->src_plen > 32 || m->dst_plen > 32)
        return -EINVAL;
    uint32_t smask = cls_plen_mask(m->src_plen);
    uint32_t dmask = cls_plen_mask(m->dst_plen);
    struct cls_rule r = {
        .scope_mask = m->match_scope ? ~0u : 0, .scope = m->scope,
        .proto = m->proto,
        .sport_lo = m->sport_lo, .sport_hi = m->sport_hi,
        .dport_lo = m->dport_lo, .dport_hi = m->dport_hi,
        .am = {smask, dmask}, .av = {m->ip_src & smask, m->ip_dst & dmask},
    };
    return cls_add_pieces(c, &r, priority, action);
}

int vf_cls_add6(struct vf_classifier *c, const struct vf_cls_match6 *m,
                int32_t priority, uint32_t action)
{
    if (!c || !m || !c->wide || m->src_plen > 128 || m->dst_plen > 128)
        return -EINVAL;
    struct cls_rule r = {
        .scope_mask = m->match_scope ? ~0u : 0, .scope = m->scope,
        .proto = m->proto,
        .sport_lo = m->sport_lo, .sport_hi = m->sport_hi,
        .dport_lo = m->dport_lo, .dport_hi = m->dport_hi,
    };
    cls_plen_mask128(m->src_plen, &r.am[0], &r.am[1]);
    cls_plen_mask128(m->dst_plen, &r.am[2], &r.am[3]);
    r.av[0] = be64(m->src) & r.am[0];
    r.av[1] = be64(m->src + 8) & r.am[1];
    r.av[2] = be64(m->dst) & r.am[2];
    r.av[3] = be64(m->dst + 8) & r.am[3];
    return cls_add_pieces(c, &r, priority, action);
}

/* Orders pieces by mask, then value, then best first (priority descending,
 * insertion ascending), so each subtable and each duplicate value is a run
 * whose first element is the one lookup must return. */
static int cls_piece_cmp(const void *a_, const void *b_)
{
    const struct cls_piece *a = a_, *b = b_;

    for (int i = 0; i < CLS_ALL_WORDS; i++)
        if (a->mask[i] != b->mask[i])
            return a->mask[i] < b->mask[i] ? -1 : 1;
    for (int i = 0; i < CLS_ALL_WORDS; i++)
        if (a->val[i] != b->val[i])
            return a->val[i] < b->val[i] ? -1 : 1;
    if (a->prio != b->prio)
        return a->prio > b->prio ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A subtable's place in lookup order: its head, then where it was built. */
struct cls_order {
    int32_t prio;
    uint32_t seq;
    size_t idx;
};

static int cls_order_cmp(const void *a_, const void *b_)
{
    const struct cls_order *a = a_, *b = b_;

    if (a->prio != b->prio)
        return a->prio > b->prio ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool cls_same_mask(const struct cls_piece *a, const struct cls_piece *b)
{
    return memcmp(a->mask, b->mask, sizeof(a->mask)) == 0;
}

static bool cls_same_val(const struct cls_piece *a, const struct cls_piece *b)
{
    return memcmp(a->val, b->val, sizeof(a->val)) == 0;
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

/* Inserts piece p into subtable si (for a wide classifier, also its
 * extension words beside the slot). */
static void cls_subtable_insert(struct vf_classifier *c, size_t si,
                                const struct cls_piece *p)
{
    struct cls_subtable *st = &c->subtables[si];
    uint64_t *ext;
    if (!st->slots) {
        st->head = cls_slot_of(p);
        ext = c->wide ? c->ext + si * 2 * CLS_EXT + CLS_EXT : NULL;
    } else {
        uint32_t h = c->wide ? cls_hash_wide(p->val[0], p->val[1], p->val[2],
                                             p->val + CLS_WORDS)
                             : cls_hash(p->val[0], p->val[1], p->val[2]);
        h &= st->size_mask;
        while (st->slots[h].tag)  /* values are distinct: no equality test */
            h = (h + 1) & st->size_mask;
        st->slots[h] = cls_slot_of(p);
        ext = c->wide ? c->slot_ext + (size_t)(&st->slots[h] - c->slots) * CLS_EXT
                      : NULL;
    }
    if (ext)
        memcpy(ext, p->val + CLS_WORDS, CLS_EXT * sizeof(*ext));
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
            if (c->wide)
                memcpy(c->ext + (n_st - 1) * 2 * CLS_EXT, p->mask + CLS_WORDS,
                       CLS_EXT * sizeof(uint64_t));
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
        if (c->wide) {
            uint64_t *e = realloc(c->slot_ext, n_slots * CLS_EXT * sizeof(*e));
            if (e)
                c->slot_ext = e;
        }
    } else {
        free(c->slots);
        c->slots = NULL;
        free(c->slot_ext);
        c->slot_ext = NULL;
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
            cls_subtable_insert(c, si - 1, p);
    }

    /* Lookup order (best head first), applied to the subtables and, for a
     * wide classifier, their extension rows alike. Built in place when
     * the memory for a permuted copy cannot be had (the reserve then
     * stays, which is harmless). */
    c->n_subtables = n_st;
    struct cls_order *ord = malloc(n_st * sizeof(*ord));
    struct cls_subtable *st = aligned_alloc(64, n_st * sizeof(*st));
    uint64_t *ext = c->wide ? malloc(n_st * 2 * CLS_EXT * sizeof(*ext)) : NULL;
    if (!ord || !st || (c->wide && !ext)) {
        /* Without room to permute, sort in place by selection: O(n^2) but
         * only on an allocation failure, and it keeps seal void. */
        for (size_t i = 0; i < n_st; i++) {
            size_t best = i;
            for (size_t j = i + 1; j < n_st; j++) {
                const struct cls_slot *a = &c->subtables[j].head;
                const struct cls_slot *b = &c->subtables[best].head;
                if (a->prio > b->prio || (a->prio == b->prio && a->seq < b->seq))
                    best = j;
            }
            struct cls_subtable tmp = c->subtables[i];
            c->subtables[i] = c->subtables[best];
            c->subtables[best] = tmp;
            for (size_t k = 0; c->wide && k < 2 * CLS_EXT; k++) {
                uint64_t e = c->ext[i * 2 * CLS_EXT + k];
                c->ext[i * 2 * CLS_EXT + k] = c->ext[best * 2 * CLS_EXT + k];
                c->ext[best * 2 * CLS_EXT + k] = e;
            }
        }
        free(ord);
        free(st);
        free(ext);
    } else {
        for (size_t i = 0; i < n_st; i++)
            ord[i] = (struct cls_order){c->subtables[i].head.prio,
                                        c->subtables[i].head.seq, i};
        qsort(ord, n_st, sizeof(ord[0]), cls_order_cmp);
        for (size_t i = 0; i < n_st; i++) {
            st[i] = c->subtables[ord[i].idx];
            if (c->wide)
                memcpy(ext + i * 2 * CLS_EXT, c->ext + ord[i].idx * 2 * CLS_EXT,
                       2 * CLS_EXT * sizeof(*ext));
        }
        free(ord);
        free(c->subtables);
        c->subtables = st;
        if (c->wide) {
            free(c->ext);
            c->ext = ext;
        }
    }
    free(c->pieces);
    c->pieces = NULL;
    c->cap_pieces = 0;
}

/* The search of both families: `wide` is a constant at each call, so the
 * IPv4 lookup compiles to the loop it was before IPv6 (no extension word
 * is read). e: the packet's extension words (wide only). */
static inline __attribute__((always_inline)) bool
cls_search(const struct vf_classifier *c, const uint64_t w[CLS_WORDS],
           const uint64_t *e, bool wide, uint32_t *action, int32_t *prio)
{
    const struct cls_slot *best = NULL;

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
        uint64_t me[CLS_EXT] = {0, 0, 0};
        const uint64_t *xr = NULL;
        if (wide) {
            xr = c->ext + i * 2 * CLS_EXT;
            for (int k = 0; k < CLS_EXT; k++)
                me[k] = e[k] & xr[k];
        }

        if (!st->size_mask) {
            /* Not cut off above, so head outranks best: take it on match. */
            const struct cls_slot *s = &st->head;
            if (s->w0 == m0 && s->w1 == m1 && s->tag == tag &&
                (!wide || (xr[CLS_EXT] == me[0] && xr[CLS_EXT + 1] == me[1] &&
                           xr[CLS_EXT + 2] == me[2])))
                best = s;
            continue;
        }

        /* At most size_mask + 1 probes; load <= 1/2 means an empty slot
         * ends the run long before that. */
        uint32_t h = wide ? cls_hash_wide(m0, m1, tag & 0xff, me)
                          : cls_hash(m0, m1, tag & 0xff);
        for (uint32_t n = 0; n <= st->size_mask; n++) {
            const struct cls_slot *s = &st->slots[h & st->size_mask];
            if (!s->tag)
                break;
            if (s->w0 == m0 && s->w1 == m1 && s->tag == tag) {
                const uint64_t *se = wide ? c->slot_ext + (size_t)(s - c->slots) * CLS_EXT
                                          : NULL;
                if (!wide || (se[0] == me[0] && se[1] == me[1] && se[2] == me[2])) {
                    if (!best || s->prio > best->prio ||
                        (s->prio == best->prio && s->seq < best->seq))
                        best = s;
                    break;
                }
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

bool vf_cls_lookup(const struct vf_classifier *c, const struct vf_cls_key *k,
                   uint32_t *action, int32_t *prio)
{
    if (!c->sealed || c->wide)
        return false;   /* the tables only exist after seal */
    uint64_t w[CLS_WORDS];
    cls_key_words(k, w);
    return cls_search(c, w, NULL, false, action, prio);
}

bool vf_cls_lookup6(const struct vf_classifier *c, const struct vf_cls_key6 *k,
                    uint32_t *action, int32_t *prio)
{
    if (!c->sealed || !c->wide)
        return false;
    uint64_t w[CLS_WORDS] = {
        ((uint64_t)k->scope << 32) | ((uint32_t)k->sport << 16) | k->dport,
        be64(k->src),
        k->proto | (k->no_ports ? CLS_NO_PORTS : 0),
    };
    uint64_t e[CLS_EXT] = {be64(k->src + 8), be64(k->dst), be64(k->dst + 8)};
    return cls_search(c, w, e, true, action, prio);
}

size_t vf_cls_n_rules(const struct vf_classifier *c)
{
    return c->n_pieces;
}

size_t vf_cls_n_subtables(const struct vf_classifier *c)
{
    return c->n_subtables;
}
