/* conntrack.c - the shared connection table's data path: lookup, peek,
 * commit, kill, sweep (ct_admin.c has the rest).
 *
 * Design and thread-safety in vf_conntrack.h; the layout in ct_impl.h.
 * Work per call: a lookup reads at most two buckets (two cache lines) and
 * the entries whose signature matches (one line each, almost always one),
 * and may kill the expired entries it meets there; a commit adds one
 * claim and a rescan of the same two buckets; a sweep reads `budget`
 * buckets and the entries in them. The compare-and-swap loops on a state
 * word retry only when another packet of the same connection changed it
 * in between, which a connection does a handful of times in its life
 * (state changes, the first reply, RST marks).
 */
#include <string.h>

#include "fabric/vf_port.h"
#include "numa/vf_drop.h"
#include "pipeline/ct_impl.h"

/* The timeout of each connection state. The TCP ones share their names. */
const uint8_t ct_cs_timeout[VF_CT_CS__COUNT] = {
    [VF_CT_CS_TCP_SYN_SENT] = VF_CT_TO_TCP_SYN_SENT,
    [VF_CT_CS_TCP_SYN_RECV] = VF_CT_TO_TCP_SYN_RECV,
    [VF_CT_CS_TCP_ESTABLISHED] = VF_CT_TO_TCP_ESTABLISHED,
    [VF_CT_CS_TCP_FIN_WAIT] = VF_CT_TO_TCP_FIN_WAIT,
    [VF_CT_CS_TCP_CLOSE_WAIT] = VF_CT_TO_TCP_CLOSE_WAIT,
    [VF_CT_CS_TCP_LAST_ACK] = VF_CT_TO_TCP_LAST_ACK,
    [VF_CT_CS_TCP_TIME_WAIT] = VF_CT_TO_TCP_TIME_WAIT,
    [VF_CT_CS_TCP_CLOSE] = VF_CT_TO_TCP_CLOSE,
    [VF_CT_CS_TCP_SYN_SENT2] = VF_CT_TO_TCP_SYN_SENT2,
    [VF_CT_CS_UDP_NEW] = VF_CT_TO_UDP_NEW,
    [VF_CT_CS_UDP_REPLIED] = VF_CT_TO_UDP_REPLIED,
    [VF_CT_CS_ICMP_NEW] = VF_CT_TO_ICMP,
    [VF_CT_CS_ICMP_REPLIED] = VF_CT_TO_ICMP,
    [VF_CT_CS_OTHER_NEW] = VF_CT_TO_OTHER_NEW,
    [VF_CT_CS_OTHER_REPLIED] = VF_CT_TO_OTHER_REPLIED,
};

/* A protocol's replied state follows its new one (ct_apply adds 1). */
_Static_assert(VF_CT_CS_UDP_REPLIED == VF_CT_CS_UDP_NEW + 1 &&
                   VF_CT_CS_ICMP_REPLIED == VF_CT_CS_ICMP_NEW + 1 &&
                   VF_CT_CS_OTHER_REPLIED == VF_CT_CS_OTHER_NEW + 1,
               "replied = new + 1");

static inline void ct_gauge(struct vf_ct_worker *w, unsigned cs, int64_t d)
{
    _Atomic int64_t *g = &w->stats.conns[cs];
    atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

/* Ends connection c, linked in *slot as sval: marks it DEAD (the one
 * compare-and-swap that decides its killer), unlinks it, gives back its
 * zone and table counts and retires it. False if another thread killed it
 * first, or (never with the sizing of ct_mem.c) no batch had room. */
bool ct_kill(struct vf_ct_worker *w, struct ct_conn *c, _Atomic uint64_t *slot,
             uint64_t sval)
{
    if (!ct_limbo_room(w)) {
        ct_count(&w->stats.retire_stalls);
        return false;
    }
    uint64_t s = atomic_load_explicit(&c->state, memory_order_relaxed);
    do {
        if (s & CT_S_DEAD)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&c->state, &s, s | CT_S_DEAD,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    /* Only a killer unlinks, and only its own entry's slot: this succeeds. */
    uint64_t expect = sval;
    atomic_compare_exchange_strong_explicit(slot, &expect, 0, memory_order_seq_cst,
                                            memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->ct->zones[c->key.zone].live, 1, memory_order_relaxed);
    ct_credit_give(w);
    ct_gauge(w, ct_s_cs(s), -1);
    ct_limbo_put(w, (uint32_t)sval);
    return true;
}

/* The state a new connection of packet p starts in. */
static unsigned ct_initial_cs(const struct vf_ct_pkt *p)
{
    switch (p->kind) {
    case VF_CT_K_TCP:
        return VF_CT_CS_TCP_SYN_SENT;
    case VF_CT_K_UDP:
        return VF_CT_CS_UDP_NEW;
    case VF_CT_K_ICMP_REQ:
        return VF_CT_CS_ICMP_NEW;
    default:
        return VF_CT_CS_OTHER_NEW;
    }
}

/* What an accepted packet of direction d leaves in d's own line. */
static void ct_dir_update(struct ct_dir *d, const struct vf_ct_pkt *p, bool moved)
{
    vf_stat_add(&d->pkts, 1);
    vf_stat_add(&d->bytes, p->bytes);
    if (moved && p->kind == VF_CT_K_TCP)
        ct_dir_tcp(d, p->tcp_flags, p->ack, p->end);
}

static void ct_seq_load(const struct ct_conn *c, unsigned dir, struct ct_tcp_seq *q)
{
    const struct ct_dir *peer = &c->dir[!dir], *own = &c->dir[dir];
    uint32_t pf = atomic_load_explicit(&peer->flags, memory_order_relaxed);
    uint32_t of = atomic_load_explicit(&own->flags, memory_order_relaxed);
    q->peer_has_ack = pf & CT_D_MAXACK;
    q->peer_max_ack = atomic_load_explicit(&peer->max_ack, memory_order_relaxed);
    q->peer_has_syn_end = pf & CT_D_SYN_END;
    q->peer_syn_end = atomic_load_explicit(&peer->syn_end, memory_order_relaxed);
    q->own_has_end = of & CT_D_END;
    q->own_last_end = atomic_load_explicit(&own->last_end, memory_order_relaxed);
}

/* What packet p of direction dir does to a connection in state s: the
 * step (st->state is the new state word; st->verdict CT_V_INVALID or
 * CT_V_REOPEN stop there). Reads c's sequence data for a RST or SYN-ACK,
 * writes nothing. */
static void ct_decide(const struct ct_conn *c, uint64_t s, unsigned dir,
                      const struct vf_ct_pkt *p, struct ct_tcp_step *st)
{
    if (p->kind == VF_CT_K_TCP && ct_tcp_steady(s, p->tcp_flags)) {
        /* an ACK or data in an established connection */
        *st = (struct ct_tcp_step){.state = s, .verdict = CT_V_OK};
    } else if (p->kind == VF_CT_K_TCP) {
        struct ct_tcp_seq q = {0};
        /* Only a RST or a SYN-ACK looks at the sequence data, and only
         * they read the other direction's line. */
        if ((p->tcp_flags & TH_RST) || (p->tcp_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
            ct_seq_load(c, dir, &q);
        *st = ct_tcp_next(s, dir, p, &q);
    } else {
        uint64_t ns = s;
        if (dir == VF_CT_REPLY && !(s & CT_S_SEEN_REPLY)) {
            /* UDP_NEW -> UDP_REPLIED, ICMP_NEW -> ..., OTHER_NEW -> ...:
             * each protocol's replied state follows its new one. */
            ns = (s & ~CT_S_CS_MASK) | (ct_s_cs(s) + 1) | CT_S_SEEN_REPLY;
            ns = ct_s_with_to(ns, ct_cs_timeout[ct_s_cs(ns)]);
        }
        *st = (struct ct_tcp_step){.state = ns, .verdict = CT_V_OK};
    }
}

/* The result of a packet found in connection c (index sval) whose state
 * went from s to ns (what lookup, commit and peek report alike). */
static void ct_report(struct vf_ct_result *r, uint64_t sval, unsigned dir, uint64_t s,
                      uint64_t ns)
{
    r->conn = (uint32_t)sval;
    r->dir = (uint8_t)dir;
    r->conn_state = (uint8_t)ct_s_cs(ns);
    r->state = (dir == VF_CT_REPLY || (s & CT_S_SEEN_REPLY)) ? VF_CT_ESTABLISHED : VF_CT_NEW;
}

static void ct_report_invalid(struct vf_ct_result *r, uint64_t sval, unsigned dir,
                              uint64_t s, uint8_t cause)
{
    r->state = VF_CT_INVALID;
    r->cause = cause;
    r->dir = (uint8_t)dir;
    r->conn = (uint32_t)sval;
    r->conn_state = (uint8_t)ct_s_cs(s);
}

/* Applies p to connection c (state s, linked in *slot as sval). False when
 * the packet finds no connection after all: a SYN reopened the tuple, or
 * another thread killed c meanwhile. */
static bool ct_apply(struct vf_ct_worker *w, struct ct_conn *c, _Atomic uint64_t *slot,
                     uint64_t sval, uint64_t s, const struct vf_ct_pkt *p, uint32_t now,
                     struct vf_ct_result *r)
{
    unsigned dir = p->sender == c->orig ? VF_CT_ORIG : VF_CT_REPLY;
    struct ct_tcp_step st;

    for (;;) {
        if (s & CT_S_DEAD)
            return false;
        ct_decide(c, s, dir, p, &st);
        if (st.verdict == CT_V_INVALID) {
            ct_report_invalid(r, sval, dir, s, st.cause);
            return true;
        }
        if (st.verdict == CT_V_REOPEN) {
            if (ct_kill(w, c, slot, sval))
                ct_count(&w->stats.reopened);
            return false;
        }
        if (st.state == s)
            break;
        /* acq_rel: pairs with the acquire loads of the state word. */
        if (atomic_compare_exchange_weak_explicit(&c->state, &s, st.state,
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    uint64_t ns = st.state;
    if (ct_s_cs(ns) != ct_s_cs(s)) {
        ct_gauge(w, ct_s_cs(s), -1);
        ct_gauge(w, ct_s_cs(ns), +1);
    }
    ct_report(r, sval, dir, s, ns);
    if (st.verdict == CT_V_OK && !st.no_refresh)
        ct_touch(c, now);
    if (st.resync) {
        /* The endpoints started over: the old numbers mean nothing. This
         * writes the other direction's line, once per resync. */
        for (unsigned d = 0; d < 2; d++)
            atomic_fetch_and_explicit(&c->dir[d].flags, ~(CT_D_MAXACK | CT_D_END | CT_D_SYN_END),
                                      memory_order_relaxed);
    }
    if (st.syn_end) {
        struct ct_dir *d = &c->dir[dir];
        atomic_store_explicit(&d->syn_end, p->end, memory_order_relaxed);
        atomic_fetch_or_explicit(&d->flags, CT_D_SYN_END, memory_order_relaxed);
    }
    ct_dir_update(&c->dir[dir], p, st.verdict == CT_V_OK);
    if (st.kill)
        ct_kill(w, c, slot, sval);
    return true;
}

/* No connection: NEW if the packet may open one, else INVALID. */
static void ct_not_found(const struct vf_ct_pkt *p, struct vf_ct_result *r)
{
    r->conn = VF_CT_NONE;
    r->dir = VF_CT_ORIG;
    r->conn_state = (uint8_t)ct_initial_cs(p);
    r->state = VF_CT_NEW;
    if (p->kind == VF_CT_K_TCP &&
        (p->tcp_flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN) {
        r->state = VF_CT_INVALID;
        r->cause = VF_CT_WHY_TCP_NO_CONN;
    } else if (p->kind == VF_CT_K_ICMP_REPLY) {
        r->state = VF_CT_INVALID;
        r->cause = VF_CT_WHY_ICMP_NO_CONN;
    }
}

/* Lookup's and peek's common part. With a context (a lookup) the packet
 * is applied to its connection and expired entries met are killed; without
 * (a peek) nothing is written. True when a connection was found. */
static inline __attribute__((always_inline)) bool
ct_classify(const struct vf_ct *ct, struct vf_ct_worker *w, const struct vf_ct_pkt *p,
            uint32_t now, struct vf_ct_result *r)
{
    _Atomic uint64_t *slot;
    uint64_t sval, s;
    struct ct_conn *c;

    r->conn = VF_CT_NONE;
    r->dir = VF_CT_ORIG;
    r->conn_state = 0;
    r->cause = p->cause;
    switch (p->kind) {
    case VF_CT_K_UNTRACKED:
        r->state = VF_CT_UNTRACKED;
        return false;
    case VF_CT_K_INVALID:
        r->state = VF_CT_INVALID;
        return false;
    case VF_CT_K_ICMP_ERR:
        c = ct_find(ct, w, p, now, &slot, &sval, &s, false);
        if (!c) {
            r->state = VF_CT_INVALID;
            r->cause = VF_CT_WHY_ICMP_ERR;
            return false;
        }
        /* The error travels against the packet it quotes. */
        r->state = VF_CT_RELATED;
        r->conn = (uint32_t)sval;
        r->dir = p->sender == c->orig ? VF_CT_REPLY : VF_CT_ORIG;
        r->conn_state = (uint8_t)ct_s_cs(s);
        return true;
    default:
        c = ct_find(ct, w, p, now, &slot, &sval, &s, false);
        if (c && w && ct_apply(w, c, slot, sval, s, p, now, r))
            return true;
        if (c && !w) {
            unsigned dir = p->sender == c->orig ? VF_CT_ORIG : VF_CT_REPLY;
            struct ct_tcp_step st;
            ct_decide(c, s, dir, p, &st);
            if (st.verdict == CT_V_INVALID) {
                ct_report_invalid(r, sval, dir, s, st.cause);
                return true;
            }
            if (st.verdict != CT_V_REOPEN) {
                ct_report(r, sval, dir, s, st.state);
                return true;
            }
        }
        ct_not_found(p, r);
        return false;
    }
}

void vf_ct_lookup(struct vf_ct_worker *w, const struct vf_ct_pkt *p, uint64_t now_ms,
                  struct vf_ct_result *r)
{
    ct_count(&w->stats.lookups);
    if (ct_classify(w->ct, w, p, (uint32_t)now_ms, r))
        ct_count(&w->stats.found);
    ct_count(&w->stats.by_state[r->state]);
    if (r->cause)
        ct_count(&w->stats.by_cause[r->cause]);
}

bool vf_ct_lookup_steady(struct vf_ct_worker *w, const struct vf_ct_pkt *p,
                         const uint8_t *frame, uint32_t len,
                         const struct vf_hdr_offsets *off, uint64_t now_ms,
                         struct vf_ct_result *r)
{
    return ct_lookup_steady(w, p, frame, len, off, now_ms, r);
}

void vf_ct_peek(const struct vf_ct *ct, const struct vf_ct_pkt *p, uint64_t now_ms,
                struct vf_ct_result *r)
{
    ct_classify(ct, NULL, p, (uint32_t)now_ms, r);
}

void vf_ct_lookup_burst(struct vf_ct_worker *w, const struct vf_ct_pkt *const *p,
                        unsigned n, uint64_t now_ms, struct vf_ct_result *r)
{
    const struct vf_ct *ct = w->ct;
    struct ct_where wh[64];

    if (n > 64)
        n = 64;
    /* Two passes of prefetching hide the misses of a big table behind each
     * other: every packet's first bucket, then the entry its signature
     * points at there. Results are the plain calls' (prefetches only warm
     * caches). */
    for (unsigned i = 0; i < n; i++) {
        ct_where(ct, p[i]->hash, &wh[i]);
        __builtin_prefetch(&ct->buckets[wh[i].b[0]]);
    }
    for (unsigned i = 0; i < n; i++) {
        const struct ct_bucket *b = &ct->buckets[wh[i].b[0]];
        for (unsigned k = 0; k < CT_WAYS; k++) {
            uint64_t v = atomic_load_explicit(&b->slot[k], memory_order_relaxed);
            if ((uint32_t)(v >> 32) == wh[i].sig) {
                __builtin_prefetch(&ct->conns[(uint32_t)v]);
                break;
            }
        }
    }
    for (unsigned i = 0; i < n; i++)
        vf_ct_lookup(w, p[i], now_ms, &r[i]);
}

static void ct_init_conn(struct ct_conn *c, const struct vf_ct_pkt *p, uint32_t now,
                         unsigned cs)
{
    memcpy(&c->key, &p->key, sizeof(c->key));
    c->orig = p->sender;
    c->created = now;
    atomic_store_explicit(&c->last_seen, now, memory_order_relaxed);
    for (unsigned d = 0; d < 2; d++) {
        atomic_store_explicit(&c->dir[d].pkts, 0, memory_order_relaxed);
        atomic_store_explicit(&c->dir[d].bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&c->dir[d].max_ack, 0, memory_order_relaxed);
        atomic_store_explicit(&c->dir[d].last_end, 0, memory_order_relaxed);
        atomic_store_explicit(&c->dir[d].syn_end, 0, memory_order_relaxed);
        atomic_store_explicit(&c->dir[d].flags, 0, memory_order_relaxed);
    }
    ct_dir_update(&c->dir[VF_CT_ORIG], p, true);
    atomic_store_explicit(&c->state, ct_s_with_to(cs, ct_cs_timeout[cs]),
                          memory_order_relaxed);
}

static unsigned ct_used(const struct ct_bucket *b)
{
    unsigned n = 0;
    for (unsigned i = 0; i < CT_WAYS; i++)
        n += atomic_load_explicit(&b->slot[i], memory_order_relaxed) != 0;
    return n;
}

/* Links val in a free slot of one of the key's buckets: the first one
 * while it holds fewer than CT_PREFER_FIRST entries (so nearly every
 * lookup reads one bucket), else the emptier of the two, else any room
 * left. Returns the slot and its position (bucket order), or NULL. */
#define CT_PREFER_FIRST 6u
static _Atomic uint64_t *ct_claim(struct vf_ct *ct, const struct ct_where *wh, uint64_t val,
                                  unsigned *pos)
{
    struct ct_bucket *b[2] = {&ct->buckets[wh->b[0]], &ct->buckets[wh->b[1]]};
    unsigned first = 0;
    if (ct_used(b[0]) >= CT_PREFER_FIRST && ct_used(b[1]) < ct_used(b[0]))
        first = 1;
    for (unsigned t = 0; t < 2; t++) {
        unsigned k = first ^ t;
        for (unsigned i = 0; i < CT_WAYS; i++) {
            uint64_t zero = 0;
            /* seq_cst (also the release that publishes the entry): the
             * duplicate rescan needs one order of every claim and load. */
            if (atomic_load_explicit(&b[k]->slot[i], memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong_explicit(&b[k]->slot[i], &zero, val,
                                                        memory_order_seq_cst,
                                                        memory_order_relaxed)) {
                *pos = k * CT_WAYS + i;
                return &b[k]->slot[i];
            }
        }
    }
    return NULL;
}

/* Gives back what a commit took before it could link the entry. */
static void ct_commit_undo(struct vf_ct_worker *w, const struct vf_ct_pkt *p, uint32_t idx)
{
    if (idx != CT_NIL)
        ct_unalloc(w, idx);
    ct_credit_give(w);
    atomic_fetch_sub_explicit(&w->ct->zones[p->key.zone].live, 1, memory_order_relaxed);
}

int vf_ct_commit(struct vf_ct_worker *w, const struct vf_ct_pkt *p, uint64_t now_ms,
                 struct vf_ct_result *r)
{
    struct vf_ct *ct = w->ct;
    uint32_t now = (uint32_t)now_ms;

    if (r->state != VF_CT_NEW || r->conn != VF_CT_NONE)
        return VF_DROP_NONE;   /* nothing to create: it exists, unreplied */
    struct ct_zone *z = &ct->zones[p->key.zone];
    uint32_t zmax = atomic_load_explicit(&z->max, memory_order_relaxed);
    if (!zmax)
        zmax = atomic_load_explicit(&ct->zone_max_default, memory_order_relaxed);
    uint32_t live = atomic_fetch_add_explicit(&z->live, 1, memory_order_relaxed) + 1;
    if (zmax && live > zmax) {
        atomic_fetch_sub_explicit(&z->live, 1, memory_order_relaxed);
        ct_count(&w->stats.zone_full);
        return VF_DROP_CT_ZONE_FULL;
    }
    if (!ct_credit_take(w)) {
        atomic_fetch_sub_explicit(&z->live, 1, memory_order_relaxed);
        ct_count(&w->stats.table_full);
        return VF_DROP_CT_TABLE_FULL;
    }
    uint32_t idx = ct_alloc(w);
    if (idx == CT_NIL) {   /* every entry live or waiting for reclaim */
        ct_commit_undo(w, p, idx);
        ct_count(&w->stats.table_full);
        return VF_DROP_CT_TABLE_FULL;
    }
    struct ct_conn *c = &ct->conns[idx];
    unsigned cs = ct_initial_cs(p);
    ct_init_conn(c, p, now, cs);

    struct ct_where wh;
    ct_where(ct, p->hash, &wh);
    uint64_t val = (uint64_t)wh.sig << 32 | idx;
    unsigned mypos = 0;
    _Atomic uint64_t *mine = ct_claim(ct, &wh, val, &mypos);
    if (!mine) {   /* both buckets full: the table is at its load limit */
        ct_commit_undo(w, p, idx);
        ct_count(&w->stats.bucket_full);
        ct_count(&w->stats.table_full);
        return VF_DROP_CT_TABLE_FULL;
    }
    ct_count(&w->stats.created);
    ct_gauge(w, cs, +1);

    /* Another thread may have linked the same connection meanwhile. Of two
     * claims, the second one's rescan sees the first (seq_cst), and every
     * thread that sees both kills the one in the later slot. */
    for (unsigned k = 0; k < 2; k++) {
        struct ct_bucket *b = &ct->buckets[wh.b[k]];
        for (unsigned i = 0; i < CT_WAYS; i++) {
            if (&b->slot[i] == mine)
                continue;
            uint64_t v = atomic_load_explicit(&b->slot[i], memory_order_seq_cst);
            if ((uint32_t)(v >> 32) != wh.sig)
                continue;
            struct ct_conn *o = &ct->conns[(uint32_t)v];
            uint64_t os = atomic_load_explicit(&o->state, memory_order_acquire);
            if (!ct_key_eq(&o->key, &p->key) || (os & CT_S_DEAD) ||
                ct_expired(ct, o, os, now))
                continue;
            ct_count(&w->stats.dup_resolved);
            if (k * CT_WAYS + i > mypos) {
                ct_kill(w, o, &b->slot[i], v);
                continue;
            }
            /* Ours is the later one: the packet belongs to the other. */
            ct_kill(w, c, mine, val);
            if (!ct_apply(w, o, &b->slot[i], v, os, p, now, r))
                ct_not_found(p, r);
            return VF_DROP_NONE;
        }
    }
    r->conn = idx;
    r->state = VF_CT_NEW;
    r->dir = VF_CT_ORIG;
    r->conn_state = (uint8_t)cs;
    return VF_DROP_NONE;
}

unsigned vf_ct_sweep(struct vf_ct_worker *w, uint64_t now_ms, unsigned budget)
{
    struct vf_ct *ct = w->ct;
    uint32_t now = (uint32_t)now_ms;
    unsigned killed = 0, n;

    if (w->sweep_lo >= w->sweep_hi)
        return 0;
    for (n = 0; n < budget; n++) {
        struct ct_bucket *b = &ct->buckets[w->sweep_pos];
        for (unsigned i = 0; i < CT_WAYS; i++) {
            uint64_t v = atomic_load_explicit(&b->slot[i], memory_order_acquire);
            if (!v)
                continue;
            struct ct_conn *c = &ct->conns[(uint32_t)v];
            uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);
            if (!(s & CT_S_DEAD) && ct_expired(ct, c, s, now) && ct_kill(w, c, &b->slot[i], v))
                killed++;
        }
        if (++w->sweep_pos == w->sweep_hi) {
            /* A pass over the share is done: what it killed goes to reclaim
             * now rather than when the limbo fills. */
            w->sweep_pos = w->sweep_lo;
            ct_limbo_flush(w);
        }
    }
    vf_stat_add(&w->stats.swept_buckets, n);
    vf_stat_add(&w->stats.expired, killed);
    return killed;
}
