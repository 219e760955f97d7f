/* ct_impl.h - conntrack's private layout, shared by its files only.
 *
 * What: the table (buckets of slots, entries, zones, timeouts), the entry
 * (three cache lines), the state word's bits, the batches of entry indices
 * and the internal calls between conntrack.c (lookup, commit, kill, sweep),
 * ct_tcp.c (the TCP state machine, a pure function of the state word and
 * one segment), ct_pkt.c (frame -> struct vf_ct_pkt), ct_mem.c (memory,
 * batches, credits, reclaim) and ct_admin.c (life cycle, statistics,
 * flush, listing). The design is in vf_conntrack.h.
 *
 * Thread-safety: as vf_conntrack.h; every field shared between threads
 * says who writes it.
 */
#ifndef VF_CT_IMPL_H
#define VF_CT_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

#endif
