/* vf_conntrack.h - per-host connection tracking in zones, shared by workers.
 *
 * What: the state that stateful ACLs (security groups) need: which
 * connections exist, in which direction each was opened, and where each is
 * in its protocol's life. A packet is classified as
 *   NEW          it may open a connection (TCP SYN, any UDP, an ICMP or
 *                ICMPv6 request, another IP protocol) and none exists, or
 *                it goes the opening way of a connection that has seen no
 *                reply yet;
 *   ESTABLISHED  it belongs to a tracked connection that has seen a reply,
 *                or it is that reply;
 *   RELATED      an ICMP/ICMPv6 error quoting a packet of a tracked
 *                connection, sent to that packet's source;
 *   INVALID      it cannot be part of a connection: a TCP segment other than
 *                a SYN (an unsolicited ACK, SYN-ACK, FIN or RST) with no
 *                connection, a TCP flag combination no stack sends, a move
 *                the TCP state machine does not allow, an ICMP reply or
 *                error with nothing to answer;
 *   UNTRACKED    not for conntrack: not IP, a later IP fragment (no ports
 *                to find a connection by), IPv6 neighbour discovery and
 *                multicast listener messages.
 * Connections live in zones: the zone is part of the key, so two tenants'
 * ports (one zone per logical port) with the same addresses never share an
 * entry. Tracked: TCP (the handshake, established, closing, time-wait,
 * close; no sequence-window check, like the kernel's
 * nf_conntrack_tcp_be_liberal, but an unsolicited ACK or SYN-ACK never
 * creates an entry and a RST is checked against the peer's highest ACK),
 * UDP (new, replied), ICMP and ICMPv6 request/reply pairs (by id), other IP
 * protocols by address pair (new, replied). IPv4 and IPv6.
 * docs/conntrack.md has the rules, their differences from the Linux
 * kernel's conntrack, and the measurements behind the design.
 *
 * Use (the caller owns the policy):
 *   vf_ct_pkt_init(ct, frame, len, key, off, zone, &p)   once per packet
 *   vf_ct_lookup(w, &p, now, &r)   finds the connection and applies the
 *                                  packet to it (state, timers, counters);
 *                                  r.state says NEW/ESTABLISHED/...
 *   vf_ct_commit(w, &p, now, &r)   if the policy allows a NEW packet: creates
 *                                  its connection (may refuse: table or
 *                                  zone full, a named drop reason)
 * A NEW packet that is not committed leaves nothing behind, as the kernel's
 * unconfirmed entries; vf_ct_lookup_burst does a burst with prefetching;
 * vf_ct_pkt_refresh reuses a flow's packet from a flow cache instead of
 * vf_ct_pkt_init; vf_ct_peek answers without changing anything (trace).
 *
 * Basic design (the measurements are in docs/conntrack.md):
 *   - One table per host, shared by every worker: the two directions of a
 *     connection may arrive on different workers (a tap queue on one, the
 *     underlay on another), and a shared table reads the same entry from
 *     both without moving packets between cores.
 *   - Buckets of 8 slots, one cache line each; a slot is one 64-bit word:
 *     32 bits of hash signature and the entry's index. A key has two
 *     candidate buckets (two independent hashes); an insert takes a free
 *     slot in the first while it holds fewer than six, else in the emptier
 *     of the two. The table has four slots per connection, so at most a
 *     quarter are ever in use and nearly every lookup reads one bucket;
 *     both buckets full is counted (bucket_full) and refused as a full
 *     table. The hash is keyed by a per-table random seed, so a tenant
 *     cannot aim its flows at one bucket.
 *   - Lookups take no lock and, in the steady state, write nothing shared:
 *     read the slot, compare the key. An entry is three cache lines: a read-mostly one (key, state
 *     word, last-seen time) and one per direction (packet and byte
 *     counters, the highest ACK, the end of the last segment), written only
 *     by packets of that direction. An established packet reads the first
 *     line and writes its own direction's line; the shared line is written
 *     on a state change (a compare-and-swap of the state word) and when the
 *     last-seen time moves (in steps of 16 ms: CT_SEEN_STEP_MS).
 *   - Inserts claim an empty slot with a compare-and-swap. Two workers that
 *     open the same connection at once both insert; each rescans both
 *     buckets after its claim (sequentially consistent, so at least one of
 *     the two sees the other), and whoever sees two entries for one key
 *     kills the one in the later slot. The packets of the loser are applied
 *     to the winner.
 *   - Expiry: an entry whose timeout has passed is treated as absent by
 *     every lookup from that moment (timeouts are exact to the 16 ms of a
 *     last-seen step, as the kernel's are to its jiffy);
 *     memory comes back through vf_ct_sweep, called by each worker off the
 *     packet path with a bounded budget over its own share of the buckets,
 *     and through lookups that meet an expired entry.
 *   - Memory: every entry is allocated at creation (no malloc after).
 *     Free entries move in batches of VF_CT_BATCH indices between lock-free
 *     stacks and each thread's context; a killed entry goes to its killer's
 *     batch of the retired, and vf_ct_reclaim (mgmt, periodically) makes
 *     retired batches free again after one RCU grace period.
 *   - Limits: the whole table (max_conns live connections, checked with
 *     per-thread credits taken from a global count VF_CT_CREDIT at a time)
 *     and each zone (max connections per zone, an atomic count per zone).
 *
 * Invariants: a linked entry's key never changes; an entry is reused only
 * after a grace period that followed its unlinking; a killed entry is
 * killed once (its DEAD bit is set by one compare-and-swap, and that thread
 * unlinks it, updates the counts and retires it).
 *
 * Time: callers pass `now` in milliseconds of a monotonic clock (tests pass
 * their own); entries keep 32-bit milliseconds, so a timeout may not exceed
 * VF_CT_TIMEOUT_MAX_MS (24 days).
 *
 * Thread-safety:
 *   - struct vf_ct_worker: one per thread (each worker, mgmt, a test); only
 *     that thread uses it, except `stats` (owner: rw relaxed; mgmt: ro).
 *   - lookup/commit/sweep: any number of threads at once, each with its own
 *     context, each a registered RCU (QSBR) reader that is online: a result's
 *     conn index stays valid until the thread's next quiescent state.
 *   - vf_ct_reclaim: one thread at a time (mgmt), registered with RCU; it
 *     waits for a grace period (kick sleeping workers first, as a table
 *     publication does).
 *   - vf_ct_set_timeout / vf_ct_zone_set_max: any thread; workers see the
 *     change at their next packet (relaxed: a timeout or limit is a single
 *     value, nothing depends on seeing two of them together).
 *   - vf_ct_peek / vf_ct_flush / vf_ct_iter: any registered, online RCU
 *     thread, at the same time as traffic (flush with its own context).
 *   - vf_ct_get_stats: any thread.
 *   - vf_ct_create/destroy: alone (no other thread uses the table).
 */
#ifndef VF_CONNTRACK_H
#define VF_CONNTRACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/vf_parse.h"

#define VF_CT_ZONES 65536u          /* zone ids are 16 bits */
#define VF_CT_MAX_CTX 72u           /* thread contexts per table: 64 workers
                                     * (VF_MAX_WORKERS), mgmt, spares */
#define VF_CT_BATCH 256u            /* entries moved between threads at once */
#define VF_CT_CREDIT 64u            /* global-count units a thread takes */
#define VF_CT_TIMEOUT_MAX_MS (24u * 86400u * 1000u)
#define VF_CT_MAX_CONNS (1u << 26)  /* 64M connections: 13 GB of entries */
#define VF_CT_NONE 0xffffffffu      /* no connection (vf_ct_result.conn) */

/* Timeouts, in milliseconds: name, default (the kernel's defaults). A
 * connection expires when it has seen no packet for its state's timeout. */
#define VF_CT_TIMEOUTS(X)                                                     \
    X(TCP_SYN_SENT,    "tcp_syn_sent",    120000u)                           \
    X(TCP_SYN_RECV,    "tcp_syn_recv",     60000u)                           \
    X(TCP_ESTABLISHED, "tcp_established", 432000000u) /* 5 days */           \
    X(TCP_FIN_WAIT,    "tcp_fin_wait",    120000u)                           \
    X(TCP_CLOSE_WAIT,  "tcp_close_wait",   60000u)                           \
    X(TCP_LAST_ACK,    "tcp_last_ack",     30000u)                           \
    X(TCP_TIME_WAIT,   "tcp_time_wait",   120000u)                           \
    X(TCP_CLOSE,       "tcp_close",        10000u) /* also after any RST */  \
    X(TCP_SYN_SENT2,   "tcp_syn_sent2",   120000u) /* simultaneous open */   \
    X(UDP_NEW,         "udp_new",          30000u)                           \
    X(UDP_REPLIED,     "udp_replied",     120000u)                           \
    X(ICMP,            "icmp",             30000u)                           \
    X(OTHER_NEW,       "other_new",       600000u)                           \
    X(OTHER_REPLIED,   "other_replied",   600000u)

enum vf_ct_timeout {
#define VF_CT_TO_ENUM_(id, name, def) VF_CT_TO_##id,
    VF_CT_TIMEOUTS(VF_CT_TO_ENUM_)
#undef VF_CT_TO_ENUM_
    VF_CT_TO__COUNT
};

/* What a connection is doing, for counters and listings: the TCP states,
 * and new/replied for the others. */
#define VF_CT_STATES(X)                                                       \
    X(TCP_SYN_SENT,    "tcp_syn_sent")                                        \
    X(TCP_SYN_RECV,    "tcp_syn_recv")                                        \
    X(TCP_ESTABLISHED, "tcp_established")                                     \
    X(TCP_FIN_WAIT,    "tcp_fin_wait")                                        \
    X(TCP_CLOSE_WAIT,  "tcp_close_wait")                                      \
    X(TCP_LAST_ACK,    "tcp_last_ack")                                        \
    X(TCP_TIME_WAIT,   "tcp_time_wait")                                       \
    X(TCP_CLOSE,       "tcp_close")                                           \
    X(TCP_SYN_SENT2,   "tcp_syn_sent2")                                       \
    X(UDP_NEW,         "udp_new")                                             \
    X(UDP_REPLIED,     "udp_replied")                                         \
    X(ICMP_NEW,        "icmp_new")                                            \
    X(ICMP_REPLIED,    "icmp_replied")                                        \
    X(OTHER_NEW,       "other_new")                                           \
    X(OTHER_REPLIED,   "other_replied")

enum vf_ct_conn_state {
#define VF_CT_CS_ENUM_(id, name) VF_CT_CS_##id,
    VF_CT_STATES(VF_CT_CS_ENUM_)
#undef VF_CT_CS_ENUM_
    VF_CT_CS__COUNT
};

/* What a packet is to conntrack (see the top of this file). */
enum vf_ct_state {
    VF_CT_NEW = 0,
    VF_CT_ESTABLISHED,
    VF_CT_RELATED,
    VF_CT_INVALID,
    VF_CT_UNTRACKED,
    VF_CT_STATE__COUNT
};

enum vf_ct_dir { VF_CT_ORIG = 0, VF_CT_REPLY = 1 };

/* Why a packet is INVALID or UNTRACKED (counted per cause). */
#define VF_CT_CAUSES(X)                                                       \
    X(NONE,         "none")                                                   \
    X(NOT_IP,       "not_ip")           /* untracked */                       \
    X(FRAGMENT,     "fragment")         /* untracked: later fragment */       \
    X(ND,           "ipv6_nd_mld")      /* untracked: ND / MLD */             \
    X(TCP_FLAGS,    "tcp_bad_flags")    /* SYN+FIN, no flags, FIN w/o ACK */  \
    X(TCP_NO_CONN,  "tcp_not_syn")      /* not a SYN, no connection */        \
    X(TCP_STATE,    "tcp_bad_transition")                                     \
    X(TCP_RST,      "tcp_rst_before_ack") /* RST below the peer's ACK */      \
    X(ICMP_TYPE,    "icmp_untracked_type")                                    \
    X(ICMP_NO_CONN, "icmp_reply_no_request")                                  \
    X(ICMP_ERR,     "icmp_error_unrelated")                                   \
    X(ICMP_ERR_DST, "icmp_error_wrong_dst") /* not sent to the quoted src */  \
    X(TRUNC,        "truncated")        /* quoted packet too short */

enum vf_ct_cause {
#define VF_CT_CAUSE_ENUM_(id, name) VF_CT_WHY_##id,
    VF_CT_CAUSES(VF_CT_CAUSE_ENUM_)
#undef VF_CT_CAUSE_ENUM_
    VF_CT_WHY__COUNT
};

/* A connection's key, normalised so both directions find it: endpoint 0
 * is the smaller (address, port) of the two, except for ICMP requests and
 * replies, where endpoint 0 is the requester (an echo request from either
 * side is its own connection, as in the kernel). ICMP: port[0] is the id,
 * port[1] the request type. Addresses: IPv4 in the first 4 bytes, the rest
 * zero; every byte is written so keys compare as memory. */
struct vf_ct_key {
    uint8_t addr[2][16];
    uint16_t port[2];        /* network order */
    uint16_t zone;
    uint8_t proto;
    uint8_t family;          /* 4 or 6 */
};
_Static_assert(sizeof(struct vf_ct_key) == 40, "the key is hashed as 5 words");

enum vf_ct_kind {
    VF_CT_K_UNTRACKED = 0,
    VF_CT_K_INVALID,         /* invalid whatever the table holds (cause) */
    VF_CT_K_TCP,
    VF_CT_K_UDP,
    VF_CT_K_OTHER,           /* another IP protocol: addresses only */
    VF_CT_K_ICMP_REQ,
    VF_CT_K_ICMP_REPLY,
    VF_CT_K_ICMP_ERR,        /* key: the quoted packet's connection */
};

/* One packet as conntrack sees it (vf_ct_pkt_init fills every field). */
struct vf_ct_pkt {
    struct vf_ct_key key;
    uint64_t hash;           /* of key, with the table's seed */
    uint8_t kind;            /* enum vf_ct_kind */
    uint8_t sender;          /* key endpoint that sent it (ICMP error: that
                              * sent the quoted packet) */
    uint8_t tcp_flags;       /* FIN 0x01 SYN 0x02 RST 0x04 ACK 0x10 ... */
    uint8_t cause;           /* enum vf_ct_cause for K_INVALID/K_UNTRACKED */
    uint32_t seq, ack;       /* TCP, host order */
    uint32_t end;            /* TCP: seq + payload + SYN + FIN */
    uint32_t bytes;          /* IP packet length, for the counters */
};

struct vf_ct_result {
    uint8_t state;           /* enum vf_ct_state */
    uint8_t dir;             /* enum vf_ct_dir (when a connection was found) */
    uint8_t conn_state;      /* enum vf_ct_conn_state after the packet */
    uint8_t cause;           /* enum vf_ct_cause when INVALID/UNTRACKED */
    uint32_t conn;           /* entry index, or VF_CT_NONE; valid until the
                              * caller's next quiescent state */
};

struct vf_ct_config {
    uint32_t max_conns;      /* live connections on this host (> 0) */
    uint32_t zone_max;       /* default per-zone limit; 0: none */
    uint32_t timeouts_ms[VF_CT_TO__COUNT];   /* 0: the default */
    uint64_t seed;           /* hash seed; 0: random */
};

/* Counters of one thread context: every field written by its thread only
 * (relaxed stores) and summed by mgmt (relaxed loads). `conns` are
 * gauges' deltas: a connection counts +1 where it entered a state and -1
 * where it left it, so only the sum over contexts means anything. */
struct vf_ct_stats {
    _Atomic uint64_t lookups, found, created, expired, flushed;
    /* Lookups that were a cached flow's steady segment
     * (vf_ct_lookup_steady): counted here only, one add on the hot path;
     * vf_ct_get_stats adds them to lookups, found and
     * by_state[ESTABLISHED]. */
    _Atomic uint64_t steady;
    _Atomic uint64_t by_state[VF_CT_STATE__COUNT];   /* lookup results */
    _Atomic uint64_t by_cause[VF_CT_WHY__COUNT];
    _Atomic uint64_t table_full, zone_full, bucket_full;
    _Atomic uint64_t dup_resolved;   /* simultaneous inserts merged */
    _Atomic uint64_t reopened;       /* TCP SYN reused a closed tuple */
    _Atomic uint64_t swept_buckets;
    _Atomic uint64_t retire_stalls;  /* a kill waited for a free batch */
    _Atomic int64_t conns[VF_CT_CS__COUNT];
};

/* Sums over every context of a table. */
struct vf_ct_totals {
    uint64_t lookups, found, created, expired, flushed;
    uint64_t steady;         /* of lookups: steady segments (included) */
    uint64_t by_state[VF_CT_STATE__COUNT];
    uint64_t by_cause[VF_CT_WHY__COUNT];
    uint64_t table_full, zone_full, bucket_full, dup_resolved, reopened;
    uint64_t swept_buckets, retire_stalls;
    int64_t conns[VF_CT_CS__COUNT];
    uint64_t live;           /* connections counted against max_conns */
    uint64_t max_conns;
};

struct vf_ct;
struct vf_ct_batch;

/* One thread's handle on the table. Embed it (cache-aligned) in the
 * thread's own state; vf_ct_worker_init registers it for the statistics. */
struct vf_ct_worker {
    struct vf_ct *ct;
    /* owner-private */
    struct vf_ct_batch *alloc;   /* free entries to create from */
    struct vf_ct_batch *limbo;   /* killed entries, not yet retired */
    uint32_t credit;             /* connections it may still create */
    uint32_t sweep_lo, sweep_hi, sweep_pos;   /* its share of buckets */
    uint64_t sweep_limbo_at;     /* sweep_pos wraps: retire a partial limbo */
    /* owner: rw relaxed; mgmt: ro */
    struct vf_ct_stats stats;
} __attribute__((aligned(64)));

/* ---- life cycle (mgmt) ---- */
/* A table for cfg->max_conns connections (its memory is allocated and
 * touched now). NULL with errno: EINVAL (max_conns 0 or above
 * VF_CT_MAX_CONNS, a timeout above VF_CT_TIMEOUT_MAX_MS), ENOMEM. */
struct vf_ct *vf_ct_create(const struct vf_ct_config *cfg);
void vf_ct_destroy(struct vf_ct *ct);           /* accepts NULL */
/* Sets up w for thread `index` of `n_sweepers` threads that share the
 * sweeping (index >= n_sweepers: a context that never sweeps, e.g. mgmt's).
 * 0 or -ENOSPC (VF_CT_MAX_CTX contexts already). */
int vf_ct_worker_init(struct vf_ct_worker *w, struct vf_ct *ct,
                      unsigned index, unsigned n_sweepers);
/* Gives back the context's free entries and credit; kills nothing. */
void vf_ct_worker_fini(struct vf_ct_worker *w);

/* ---- per packet (any worker) ---- */
/* Fills p from a parsed frame (vf_parse's key and offsets) for zone.
 * Never fails: what conntrack cannot use is K_UNTRACKED or K_INVALID. */
void vf_ct_pkt_init(const struct vf_ct *ct, const uint8_t *frame, uint32_t len,
                    const struct vf_flow_key *k, const struct vf_hdr_offsets *off,
                    uint16_t zone, struct vf_ct_pkt *p);
/* The flow cache's shortcut. In what vf_ct_pkt_init fills, only the TCP
 * flags and numbers and the length differ between packets of one flow
 * (same flow key, same zone): a cache entry can keep p from the flow's
 * first packet and refresh it for each hit, which skips the
 * normalisation and the hash. False when p cannot be reused (an ICMP
 * error: its key comes from the packet it quotes; an ICMP request or
 * reply with another id than p's, which the flow key does not hold):
 * call vf_ct_pkt_init. */
bool vf_ct_pkt_refresh(struct vf_ct_pkt *p, const uint8_t *frame, uint32_t len,
                       const struct vf_hdr_offsets *off);
void vf_ct_lookup(struct vf_ct_worker *w, const struct vf_ct_pkt *p,
                  uint64_t now_ms, struct vf_ct_result *r);
/* The cached path's common packet in one call: with p a flow's cached
 * packet (as vf_ct_pkt_refresh takes it, left unchanged) and the frame
 * either a TCP segment with ACK and none of SYN, FIN, RST, of a connection
 * that is established, assured and whose last segment was neither SYN nor
 * RST (ct_tcp_steady), or a UDP datagram of a connection that has seen
 * its reply (so its state word does not move): applies it as
 * vf_ct_pkt_refresh + vf_ct_lookup would
 * (counters, timer, the direction's sequence data), fills r (ESTABLISHED)
 * and returns true. False for any other packet, or when an expired entry
 * of its key comes first, having changed nothing: refresh and look up as
 * usual. */
bool vf_ct_lookup_steady(struct vf_ct_worker *w, const struct vf_ct_pkt *p,
                         const uint8_t *frame, uint32_t len,
                         const struct vf_hdr_offsets *off, uint64_t now_ms,
                         struct vf_ct_result *r);
/* What vf_ct_lookup would say, changing nothing (for `vfabctl trace`):
 * no state moves, no timer restarts, nothing expires or is counted. Any
 * registered thread; no context. */
void vf_ct_peek(const struct vf_ct *ct, const struct vf_ct_pkt *p, uint64_t now_ms,
                struct vf_ct_result *r);
/* The same for n packets (n <= 64), prefetching their buckets and entries
 * first; results equal n calls of vf_ct_lookup in order. */
void vf_ct_lookup_burst(struct vf_ct_worker *w, const struct vf_ct_pkt *const *p,
                        unsigned n, uint64_t now_ms, struct vf_ct_result *r);
/* Creates the connection of a packet vf_ct_lookup called NEW (r from that
 * call; updated). Returns VF_DROP_NONE, VF_DROP_CT_TABLE_FULL or
 * VF_DROP_CT_ZONE_FULL. If another worker created the same connection
 * meanwhile, the packet is applied to that one (r says how). */
int vf_ct_commit(struct vf_ct_worker *w, const struct vf_ct_pkt *p,
                 uint64_t now_ms, struct vf_ct_result *r);
/* Expires connections in the next `budget` buckets of w's share (bounded
 * work: budget cache lines plus one per entry found); returns the number
 * of connections it expired. */
unsigned vf_ct_sweep(struct vf_ct_worker *w, uint64_t now_ms, unsigned budget);

/* ---- management ---- */
/* Makes every batch retired before the call free again: one RCU grace
 * period (blocks). Returns the number of entries made free. */
unsigned vf_ct_reclaim(struct vf_ct *ct);
/* Whether vf_ct_reclaim has anything to do (so a caller kicks sleeping
 * workers only then). Any thread. */
bool vf_ct_reclaim_pending(const struct vf_ct *ct);
/* Kills every connection of `zone` (all zones if zone < 0) through w; the
 * bounded walk of the whole table. Returns the number killed. */
unsigned vf_ct_flush(struct vf_ct_worker *w, int zone);
/* The same for every zone whose bit is set in zones (VF_CT_ZONES bits),
 * in one walk. */
unsigned vf_ct_flush_zones(struct vf_ct_worker *w, const uint64_t *zones);
int vf_ct_set_timeout(struct vf_ct *ct, enum vf_ct_timeout which, uint32_t ms);
uint32_t vf_ct_get_timeout(const struct vf_ct *ct, enum vf_ct_timeout which);
/* Per-zone limit (0: only the table's); applies to new connections. */
void vf_ct_zone_set_max(struct vf_ct *ct, uint16_t zone, uint32_t max);
uint32_t vf_ct_zone_get_max(const struct vf_ct *ct, uint16_t zone);
uint32_t vf_ct_zone_count(const struct vf_ct *ct, uint16_t zone);
void vf_ct_get_stats(const struct vf_ct *ct, struct vf_ct_totals *out);

/* One connection as listed (vf_ct_iter). */
struct vf_ct_info {
    struct vf_ct_key key;    /* as stored (normalised) */
    uint8_t orig;            /* endpoint that opened it */
    uint8_t conn_state;      /* enum vf_ct_conn_state */
    bool seen_reply, assured;
    uint32_t age_ms, expires_ms;   /* since creation, until expiry */
    uint64_t pkts[2], bytes[2];    /* by direction: [VF_CT_ORIG], [REPLY] */
};
/* Visits live connections from bucket *pos on (start at 0), at most
 * `max` of them (max >= 8: a bucket's worth, else it returns 0), in zone
 * (< 0: all); returns how many it wrote; *pos is UINT32_MAX when the table
 * was walked to the end. Entries come whole bucket by bucket, so a walk in
 * several calls sees each connection that lived through it once. */
unsigned vf_ct_iter(const struct vf_ct *ct, uint32_t *pos, int zone,
                    uint64_t now_ms, struct vf_ct_info *out, unsigned max);

/* ---- names ---- */
const char *vf_ct_state_name(unsigned s);        /* "new", "established" */
const char *vf_ct_conn_state_name(unsigned s);   /* "tcp_established" */
const char *vf_ct_cause_name(unsigned c);
const char *vf_ct_timeout_name(unsigned t);
/* Bytes of memory per connection the table holds (entry + its slots). */
size_t vf_ct_bytes_per_conn(const struct vf_ct *ct);
uint32_t vf_ct_capacity(const struct vf_ct *ct);   /* entries allocated */
/* A monotonic millisecond clock for callers without their own (vDSO). */
uint64_t vf_ct_now_ms(void);

#endif
