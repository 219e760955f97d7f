/* ct_impl.h - conntrack's private layout, shared by its files only.
 *
 * What: the table (buckets of slots, entries, zones, timeouts), the entry
 * (three cache lines), the state word's bits, the batches of entry indices
 * and the internal calls between conntrack.c (lookup, commit, kill, sweep),
 * ct_tcp.c (the TCP state machine, a pure function of the state word and
 * one segment), ct_pkt.c (frame -> struct vf_ct_pkt), ct_mem.c (memory,
 * batches, credits, reclaim) and ct_admin.c (life cycle, statistics,
 * flush, listing), plus the inline pieces of the data path that
 * stage_ct.c (conntrack's step in the pipeline) inlines as well: the find,
 * and the steady segment of a cached flow (ct_lookup_steady). The design
 * is in vf_conntrack.h.
 *
 * Thread-safety: as vf_conntrack.h; every field shared between threads
 * says who writes it.
 */
#ifndef VF_CT_IMPL_H
#define VF_CT_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fabric/vf_port.h"
#include "pipeline/vf_conntrack.h"

#define CT_WAYS 8u                  /* slots per bucket: one cache line */
/* last_seen moves in steps of at least this (ms): a connection may expire
 * up to this much before its timeout, and its packets write the shared
 * line at most 1000 / CT_SEEN_STEP_MS times a second. */
#define CT_SEEN_STEP_MS 16
#define CT_NIL 0xffffffffu          /* end of a batch list */

/* ---- the state word (struct ct_conn.state) ----
 * bits 0-3   enum vf_ct_conn_state
 * bit  4     SEEN_REPLY   a reply-direction packet was accepted
 * bit  5     ASSURED      TCP: reached ESTABLISHED after the handshake
 * bit  6     CLOSE_INIT   TCP: a FIN started the close
 * bit  7     SIMOPEN      TCP: simultaneous open (SYN from both sides)
 * bits 8-9   LAST         TCP: the last accepted (or ignored) segment was
 *                         a SYN (1) or a RST (2), from LAST_DIR; 0: other.
 *                         Kept only for those two kinds, so a connection
 *                         exchanging data never has to change it.
 * bit  10    (free)
 * bit  11    DEAD         killed: lookups skip it, its killer retires it
 * bit  12    LAST_DIR     direction of that SYN or RST
 * bit  13    LAST_SYN_IGN that SYN was ignored (its end: ct_dir.syn_end)
 * bit  14    CHALLENGE    that SYN came in LAST_ACK: the ACK answering it
 *                         is a challenge ACK (RFC 5961), not the last ACK
 * bits 16-19 TIMEOUT      the enum vf_ct_timeout chosen by the last packet
 *                         that restarted the timer: the connection expires
 *                         that long after last_seen. Chosen when the timer
 *                         restarts (the state's, the close one after any
 *                         RST), so a packet that moves the state without
 *                         restarting the timer leaves the deadline alone.
 * Written only by compare-and-swap (acq_rel; readers load it acquire). */
#define CT_S_CS_MASK 0xfull
#define CT_S_SEEN_REPLY (1ull << 4)
#define CT_S_ASSURED (1ull << 5)
#define CT_S_CLOSE_INIT (1ull << 6)
#define CT_S_SIMOPEN (1ull << 7)
#define CT_S_LAST_SHIFT 8
#define CT_S_LAST_MASK (3ull << CT_S_LAST_SHIFT)
#define CT_S_LAST_SYN (1ull << CT_S_LAST_SHIFT)
#define CT_S_LAST_RST (2ull << CT_S_LAST_SHIFT)
#define CT_S_DEAD (1ull << 11)
#define CT_S_LAST_DIR (1ull << 12)
#define CT_S_LAST_SYN_IGN (1ull << 13)
#define CT_S_CHALLENGE (1ull << 14)
#define CT_S_LAST_ALL (CT_S_LAST_MASK | CT_S_LAST_DIR | CT_S_LAST_SYN_IGN | CT_S_CHALLENGE)
#define CT_S_TO_SHIFT 16
#define CT_S_TO_MASK (0xfull << CT_S_TO_SHIFT)
_Static_assert(VF_CT_TO__COUNT <= 16, "a timeout index fits 4 bits");

/* The timeout of each connection state (conntrack.c). */
extern const uint8_t ct_cs_timeout[VF_CT_CS__COUNT];

/* The state word's TIMEOUT field set to `to`. */
static inline uint64_t ct_s_with_to(uint64_t s, unsigned to)
{
    return (s & ~CT_S_TO_MASK) | (uint64_t)to << CT_S_TO_SHIFT;
}

static inline unsigned ct_s_cs(uint64_t s)
{
    return (unsigned)(s & CT_S_CS_MASK);
}

/* Per-direction flags (struct ct_dir.flags). */
#define CT_D_MAXACK 1u     /* max_ack holds an ACK this direction sent */
#define CT_D_END 2u        /* last_end holds a segment's end */
#define CT_D_SYN_END 4u    /* syn_end holds an ignored SYN's end */

/* One direction's line: written by packets of that direction only, but
 * for a resync (a SYN-ACK answering an ignored SYN clears both directions'
 * flags, atomically). A direction normally arrives on one worker; if two
 * workers receive the same direction at once, an update may be lost:
 * statistics and the RST check's inputs, never the connection's state.
 * Readers: the other direction's RST and SYN-ACK checks, listings. */
struct ct_dir {
    _Atomic uint64_t pkts, bytes;
    _Atomic uint32_t max_ack;    /* highest ACK this direction sent */
    _Atomic uint32_t last_end;   /* seq + len of its last plain ACK segment */
    _Atomic uint32_t syn_end;    /* seq + 1 of its last ignored SYN */
    _Atomic uint32_t flags;      /* CT_D_* */
} __attribute__((aligned(64)));

struct ct_conn {
    /* line 0, read by every packet of both directions */
    struct vf_ct_key key;        /* set before linking; immutable while linked */
    _Atomic uint64_t state;      /* the state word (above) */
    _Atomic uint32_t last_seen;  /* ms (32-bit wrap); any thread: relaxed,
                                  * stored when it moves CT_SEEN_STEP_MS on */
    uint32_t created;            /* ms; set before linking */
    uint8_t orig;                /* key endpoint that opened it */
    /* lines 1 and 2 */
    struct ct_dir dir[2];        /* [VF_CT_ORIG], [VF_CT_REPLY] */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ct_conn) == 192, "an entry is three cache lines");

/* A slot: signature (hash bits, never 0) << 32 | entry index; 0: empty.
 * Written by compare-and-swap only (seq_cst: the duplicate rescan of an
 * insert relies on a single order of claims and loads). */
struct ct_bucket {
    _Atomic uint64_t slot[CT_WAYS];
} __attribute__((aligned(64)));

/* A batch of entry indices: free ones, or killed ones waiting for a grace
 * period. Owned by one thread at a time, or on one of the table's stacks. */
struct vf_ct_batch {
    _Atomic uint32_t next;       /* stack link (written while owned) */
    uint32_t n;
    uint32_t idx[VF_CT_BATCH];
};

struct ct_zone {
    _Atomic uint32_t live;       /* any thread: fetch_add/sub (relaxed) */
    _Atomic uint32_t max;        /* mgmt: w; workers: r (relaxed); 0: default */
};

struct vf_ct {
    /* set at creation, read-only after */
    uint64_t seed[4];
    uint32_t bucket_mask;
    uint32_t n_entries;          /* entries allocated (> max_conns: room
                                  * for the killed, waiting for reclaim) */
    uint32_t max_conns;
    uint32_t n_batches;
    struct ct_bucket *buckets;
    struct ct_conn *conns;
    struct vf_ct_batch *batches;
    struct ct_zone *zones;       /* VF_CT_ZONES */
    void *map;                   /* one mapping for all of the above */
    size_t map_len;

    /* any thread: relaxed (a single value each; see vf_conntrack.h) */
    _Atomic uint32_t timeouts[VF_CT_TO__COUNT];
    _Atomic uint32_t zone_max_default;

    /* Connections that may still be created (max_conns - live - what
     * contexts hold as credit): any thread, CAS / fetch_add (relaxed: a
     * count, it orders nothing). */
    _Atomic int64_t avail __attribute__((aligned(64)));
    /* Batch stacks. free/empty: tagged heads (tag << 32 | index), popped and
     * pushed by any thread (acq_rel CAS: a pop reads the batch a push
     * released). retired: index head, pushed by any thread, taken whole by
     * vf_ct_reclaim (exchange). */
    _Atomic uint64_t free_head __attribute__((aligned(64)));
    _Atomic uint64_t empty_head __attribute__((aligned(64)));
    _Atomic uint32_t retired_head __attribute__((aligned(64)));

    /* Registered contexts, for the statistics: a thread registers its own
     * (release), mgmt reads (acquire). `gone` keeps the sums of contexts
     * that finished (atomic adds by the finishing thread). */
    struct vf_ct_worker *_Atomic ctx[VF_CT_MAX_CTX] __attribute__((aligned(64)));
    _Atomic unsigned n_ctx;
    struct vf_ct_stats gone;
};

/* ---- hashing and keys (ct_pkt.c) ---- */
uint64_t ct_key_hash(const struct vf_ct_key *k, const uint64_t seed[4]);
/* The hash's plain definition, for the test that the inlined one agrees. */
uint64_t ct_key_hash_ref(const struct vf_ct_key *k, const uint64_t seed[4]);

/* Five word compares, no branch per word (a libc memcmp call cost a
 * sixth of a hit). */
static inline uint64_t ct_word(const void *p, unsigned i)
{
    uint64_t w;
    __builtin_memcpy(&w, (const uint8_t *)p + 8 * i, 8);
    return w;
}

static inline bool ct_key_eq(const struct vf_ct_key *a, const struct vf_ct_key *b)
{
    return ((ct_word(a, 0) ^ ct_word(b, 0)) | (ct_word(a, 1) ^ ct_word(b, 1)) |
            (ct_word(a, 2) ^ ct_word(b, 2)) | (ct_word(a, 3) ^ ct_word(b, 3)) |
            (ct_word(a, 4) ^ ct_word(b, 4))) == 0;
}

/* ---- the TCP state machine (ct_tcp.c) ---- */
enum ct_verdict {
    CT_V_OK = 0,        /* accepted; state, timers and sequence data move */
    CT_V_IGNORE,        /* accepted; nothing moves but SEEN_REPLY/LAST_RST */
    CT_V_INVALID,       /* not accepted; nothing moves */
    CT_V_REOPEN,        /* a SYN reuses a closed connection's tuple: kill
                         * it; the SYN then opens a new one */
};

struct ct_tcp_step {
    uint64_t state;     /* the new state word (== old if nothing changes) */
    uint8_t verdict;    /* enum ct_verdict */
    uint8_t cause;      /* enum vf_ct_cause when INVALID */
    bool kill;          /* accepted, then the connection ends now (a RST
                         * before any reply) */
    bool resync;        /* a SYN-ACK answered a SYN we had ignored: the
                         * endpoints started over; forget both directions'
                         * sequence data */
    bool syn_end;       /* an ignored SYN: keep its end (ct_dir.syn_end) */
    bool no_refresh;    /* accepted, but the timer does not restart */
};

/* The sequence data a RST or a SYN-ACK is checked against (the caller
 * loads it only for those). */
struct ct_tcp_seq {
    bool peer_has_ack;
    uint32_t peer_max_ack;   /* highest ACK the receiver sent */
    bool own_has_end;
    uint32_t own_last_end;   /* end of the sender's last plain ACK */
    bool peer_has_syn_end;
    uint32_t peer_syn_end;   /* end of the receiver's last ignored SYN */
};

/* One segment from direction dir against state word s. Pure. */
struct ct_tcp_step ct_tcp_next(uint64_t s, unsigned dir, const struct vf_ct_pkt *p,
                               const struct ct_tcp_seq *seq);
/* The combinations of FIN, SYN, RST, ACK and URG a TCP stack sends (PSH,
 * ECE and CWR go with anything): SYN, SYN+URG, SYN+ACK, RST, RST+ACK,
 * FIN+ACK, FIN+ACK+URG, ACK, ACK+URG. One bit per combination's value. */
#define CT_TCP_VALID_FLAGS                                                   \
    (1ull << 0x02 | 1ull << 0x22 | 1ull << 0x12 | 1ull << 0x04 | 1ull << 0x14 | \
     1ull << 0x11 | 1ull << 0x31 | 1ull << 0x10 | 1ull << 0x30)

static inline bool ct_tcp_flags_valid(uint8_t flags)
{
    return (CT_TCP_VALID_FLAGS >> (flags & 0x37)) & 1;
}

/* ---- memory (ct_mem.c) ---- */
int ct_mem_create(struct vf_ct *ct, uint32_t max_conns);
void ct_mem_destroy(struct vf_ct *ct);
/* A free entry index for w (CT_NIL when none). */
uint32_t ct_alloc(struct vf_ct_worker *w);
/* Returns an index ct_alloc gave and that was never linked. */
void ct_unalloc(struct vf_ct_worker *w, uint32_t idx);
/* Room for one more killed entry in w's limbo (false: none to be had). */
bool ct_limbo_room(struct vf_ct_worker *w);
void ct_limbo_put(struct vf_ct_worker *w, uint32_t idx);
/* Hands w's partial limbo to the retired stack. */
void ct_limbo_flush(struct vf_ct_worker *w);
/* One connection's worth of the global count (false: table full). */
bool ct_credit_take(struct vf_ct_worker *w);
void ct_credit_give(struct vf_ct_worker *w);
void ct_credit_return_all(struct vf_ct_worker *w);
void ct_alloc_return_all(struct vf_ct_worker *w);

/* The timeout that applies to state word s (enum vf_ct_timeout). */
static inline unsigned ct_timeout_of(uint64_t s)
{
    return (unsigned)((s & CT_S_TO_MASK) >> CT_S_TO_SHIFT);
}

/* Has c, in state s, been idle for its timeout at `now` (ms)? */
static inline bool ct_expired(const struct vf_ct *ct, const struct ct_conn *c,
                              uint64_t s, uint32_t now)
{
    uint32_t last = atomic_load_explicit(&c->last_seen, memory_order_relaxed);
    int32_t idle = (int32_t)(now - last);
    uint32_t to = atomic_load_explicit(&ct->timeouts[ct_timeout_of(s)], memory_order_relaxed);
    return idle >= 0 && (uint32_t)idle >= to;
}

/* Ends connection c, linked in *slot as sval (conntrack.c): marks it
 * DEAD, unlinks it, counts it out, retires it through w. False if another
 * thread killed it first (or no batch had room). */
bool ct_kill(struct vf_ct_worker *w, struct ct_conn *c, _Atomic uint64_t *slot,
             uint64_t sval);


/* ---- the data path's pieces, inlined where packets go (conntrack.c,
 * and the steady segment in stage_ct.c) ---- */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* A counter of a context (its thread is the only writer). */
static inline void ct_count(_Atomic uint64_t *c)
{
    vf_stat_add(c, 1);
}

/* ---- where a key lives ---- */
struct ct_where {
    uint32_t b[2];
    uint32_t sig;
};

static inline uint32_t ct_bucket0(const struct vf_ct *ct, uint64_t h)
{
    return (uint32_t)h & ct->bucket_mask;
}

static inline uint32_t ct_bucket1(const struct vf_ct *ct, uint64_t h, uint32_t b0)
{
    uint32_t b1 = (uint32_t)(h >> 32) & ct->bucket_mask;
    return b1 == b0 ? b1 ^ 1 : b1;   /* the table has at least two buckets */
}

/* Every bit of the hash moves the signature, whichever bits picked the
 * bucket; bit 0 set, so no signature is an empty slot's 0. */
static inline uint32_t ct_sig(uint64_t h)
{
    return (uint32_t)((h * 0x9e3779b97f4a7c15ull) >> 32) | 1u;
}

static inline void ct_where(const struct vf_ct *ct, uint64_t h, struct ct_where *o)
{
    o->b[0] = ct_bucket0(ct, h);
    o->b[1] = ct_bucket1(ct, h, o->b[0]);
    o->sig = ct_sig(h);
}

/* The live, unexpired connection of p's key, or NULL. An expired entry of
 * the key met on the way is killed through w (a lookup), skipped when w
 * is NULL (a peek), or, with `bail`, ends the search with NULL (the
 * steady path leaves it to the whole lookup, so it makes no call in the
 * loop). The first match in slot order wins, which is the order the
 * duplicate rule of vf_ct_commit keeps. */
static inline __attribute__((always_inline)) struct ct_conn *
ct_find(const struct vf_ct *ct, struct vf_ct_worker *w, const struct vf_ct_pkt *p,
        uint32_t now, _Atomic uint64_t **slotp, uint64_t *sval, uint64_t *state, bool bail)
{
    /* ct_where's buckets and signature; the second bucket only when the
     * first does not hold the connection. */
    uint64_t h = p->hash;
    uint32_t bi = ct_bucket0(ct, h), sig = ct_sig(h);
    for (unsigned k = 0; k < 2; k++) {
        if (k)
            bi = ct_bucket1(ct, h, bi);
        /* The table's memory is writable; const only says a peek does not
         * write it. */
        struct ct_bucket *b = (struct ct_bucket *)&ct->buckets[bi];
        for (unsigned i = 0; i < CT_WAYS; i++) {
            /* Acquire: pairs with the seq_cst claim that linked the
             * entry, so its key and state are seen as written. */
            uint64_t v = atomic_load_explicit(&b->slot[i], memory_order_acquire);
            if ((uint32_t)(v >> 32) != sig)
                continue;
            struct ct_conn *c = (struct ct_conn *)&ct->conns[(uint32_t)v];
            if (!ct_key_eq(&c->key, &p->key))
                continue;
            uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);
            if (s & CT_S_DEAD)
                continue;
            if (ct_expired(ct, c, s, now)) {
                if (bail)
                    return NULL;
                if (w && ct_kill(w, c, &b->slot[i], v))
                    ct_count(&w->stats.expired);
                continue;
            }
            *slotp = &b->slot[i];
            *sval = v;
            *state = s;
            return c;
        }
    }
    return NULL;
}

/* Sequence-number order with wrap-around (RFC 1982). */
static inline bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* The sequence data an accepted TCP segment (flags, ack, end) of
 * direction d leaves in d's own line. */
static inline void ct_dir_tcp(struct ct_dir *d, uint8_t flags, uint32_t ack, uint32_t end)
{
    uint32_t f = atomic_load_explicit(&d->flags, memory_order_relaxed), nf = f;
    if (flags & TH_ACK) {
        uint32_t m = atomic_load_explicit(&d->max_ack, memory_order_relaxed);
        if (!(f & CT_D_MAXACK) || seq_before(m, ack))
            atomic_store_explicit(&d->max_ack, ack, memory_order_relaxed);
        nf |= CT_D_MAXACK;
        if (!(flags & (TH_SYN | TH_FIN | TH_RST))) {
            atomic_store_explicit(&d->last_end, end, memory_order_relaxed);
            nf |= CT_D_END;
        }
    }
    if (nf != f)
        atomic_store_explicit(&d->flags, nf, memory_order_relaxed);
}

/* A packet that restarts c's timer: the shared line is written once per
 * CT_SEEN_STEP_MS at most, however many packets the connection carries. */
static inline void ct_touch(struct ct_conn *c, uint32_t now)
{
    uint32_t last = atomic_load_explicit(&c->last_seen, memory_order_relaxed);
    if ((int32_t)(now - last) >= CT_SEEN_STEP_MS)
        atomic_store_explicit(&c->last_seen, now, memory_order_relaxed);
}

/* The common segment: an ACK (maybe with data) of an assured, established
 * connection, after a segment that was neither a SYN nor a RST, with the
 * established timeout running. ct_tcp_next would return the same state
 * word and CT_V_OK (the unit test checks that both agree). */
static inline bool ct_tcp_steady(uint64_t s, uint8_t tcp_flags)
{
    const uint64_t want = VF_CT_CS_TCP_ESTABLISHED | CT_S_SEEN_REPLY | CT_S_ASSURED |
                          (uint64_t)VF_CT_TO_TCP_ESTABLISHED << CT_S_TO_SHIFT;
    const uint64_t mask = CT_S_CS_MASK | CT_S_SEEN_REPLY | CT_S_ASSURED | CT_S_LAST_ALL |
                          CT_S_TO_MASK;
    return (s & mask) == want && (tcp_flags & (TH_SYN | TH_FIN | TH_RST | TH_ACK)) == TH_ACK;
}

/* vf_ct_lookup_steady (vf_conntrack.h), inlined into stage_ct.c: the
 * work of vf_ct_pkt_refresh, ct_find, ct_apply and vf_ct_lookup for the
 * one case where the state word does not move, without building the
 * refreshed packet or a state-machine step. ct_tcp_steady decides, as for
 * ct_decide, so both paths agree on which packets are steady. */
static inline __attribute__((always_inline)) bool
ct_lookup_steady(struct vf_ct_worker *w, const struct vf_ct_pkt *p, const uint8_t *frame,
                 uint32_t len, const struct vf_hdr_offsets *off, uint64_t now_ms,
                 struct vf_ct_result *r)
{
    _Atomic uint64_t *slot;
    uint64_t sval, s;
    uint32_t now = (uint32_t)now_ms;
    uint8_t flags = 0;

    /* TCP: vf_ct_pkt_refresh's conditions for reading the header, and
     * only an ACK without SYN, FIN, RST. UDP: any datagram (its state
     * moves only with the first reply, checked below). */
    if (p->kind == VF_CT_K_TCP) {
        if (!off->l4 || off->l4 >= len)
            return false;
        flags = frame[off->l4 + 13];
        if ((flags & (TH_SYN | TH_FIN | TH_RST | TH_ACK)) != TH_ACK)
            return false;
    } else if (p->kind != VF_CT_K_UDP) {
        return false;
    }
    struct ct_conn *c = ct_find(w->ct, NULL, p, now, &slot, &sval, &s, true);
    if (!c)
        return false;
    unsigned cs;
    if (p->kind == VF_CT_K_TCP) {
        if (!ct_tcp_steady(s, flags))
            return false;
        cs = VF_CT_CS_TCP_ESTABLISHED;
    } else {
        /* A reply seen: ct_decide leaves the state word as it is. */
        if (!(s & CT_S_SEEN_REPLY))
            return false;
        cs = ct_s_cs(s);
    }
    unsigned dir = p->sender == c->orig ? VF_CT_ORIG : VF_CT_REPLY;
    uint32_t bytes = off->l3 ? (off->l4 ? (uint32_t)(off->l4 - off->l3) + off->l4_len
                                        : (len > off->l3 ? len - off->l3 : 0))
                             : p->bytes;
    struct ct_dir *d = &c->dir[dir];
    ct_touch(c, now);
    vf_stat_add(&d->pkts, 1);
    vf_stat_add(&d->bytes, bytes);
    if (p->kind == VF_CT_K_TCP) {
        const uint8_t *l4 = frame + off->l4;
        uint32_t nums[2];
        memcpy(nums, l4 + 4, 8);
        uint32_t seq = __builtin_bswap32(nums[0]), ack = __builtin_bswap32(nums[1]);
        uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
        ct_dir_tcp(d, flags, ack, seq + (off->l4_len - doff));
    }
    r->conn = (uint32_t)sval;
    r->dir = (uint8_t)dir;
    r->conn_state = (uint8_t)cs;
    r->state = VF_CT_ESTABLISHED;
    r->cause = VF_CT_WHY_NONE;
    ct_count(&w->stats.steady);   /* also lookups, found, ESTABLISHED */
    return true;
}

#endif
