/* fuzz_ct.c - libFuzzer target for connection tracking (pipeline/ct_*.c,
 * pipeline/conntrack.c): the frames tenants send, as the stateful ACL
 * stage hands them to conntrack, on a small table shared by two workers.
 *
 * Input: one config byte, then records until the input ends.
 *   config: bits 0-1: the table's max_conns (4, 16, 64, 256); bits 4-5:
 *           the zones' limit (none, 2, 8, 32).
 *   record: a control byte, then (bit 3) 4 bytes of milliseconds the
 *           clock moves on (little-endian), then (bit 7 clear) a 2-byte
 *           length and the frame.
 *     bit 0: zone 1 or 2; bit 1: worker context 0 or 1; bit 2: the policy
 *     allows the packet (a NEW one is committed); bits 4-6: what mgmt or
 *     the worker does after it: 1 sweep (8 buckets), 2 flush the zone,
 *     3 flush every zone, 4 reclaim, else nothing.
 * Every frame goes through vf_parse and vf_ct_pkt_init, as the pipeline's
 * conntrack step does.
 *
 * Checks, besides memory safety (libFuzzer's input buffer is exactly the
 * record, so a read past a quoted packet is caught):
 *   - vf_ct_pkt_init is a function of the frame: twice, the same packet;
 *   - the flow cache's shortcut: a packet kept from an earlier frame with
 *     the same flow key and zone, refreshed with vf_ct_pkt_refresh, is
 *     the packet vf_ct_pkt_init builds (or refresh says it cannot be);
 *   - vf_ct_peek says what the vf_ct_lookup that follows it says (state,
 *     direction, connection state, cause, entry), changing nothing;
 *   - a NEW packet that the commit gave a connection finds it (still NEW:
 *     no reply yet); a refusal is one of the two named drops;
 *   - the counts agree: live connections = the sum of the zones' counts,
 *     within max_conns and each zone's limit; a listing shows at most
 *     that many, each in a zone we used, no key twice; a flushed zone is
 *     empty, and after every input a flush of all zones empties the
 *     table (which the next input reuses).
 * Build and run: docs/fuzzing.md.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_conntrack.h"
#include "pipeline/vf_parse.h"
#include "tests/fuzz/vf_fuzz_check.h"

#define N_ZONES 2u          /* zones 1 and 2 */
#define N_WORKERS 2u
#define KEEP 8u             /* flows whose packet the "flow cache" keeps */
#define LIST_MAX 512u

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rcu_register_thread();   /* lookups are QSBR reads; reclaim waits */
    return 0;
}

struct reader {
    const uint8_t *p;
    size_t n;
};

static bool rd(struct reader *r, unsigned n, uint64_t *v)
{
    if (r->n < n)
        return false;
    *v = 0;
    for (unsigned i = 0; i < n; i++)
        *v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    r->n -= n;
    return true;
}

/* Field by field: the struct has padding that init need not write. */
static bool pkt_eq(const struct vf_ct_pkt *a, const struct vf_ct_pkt *b)
{
    return !memcmp(&a->key, &b->key, sizeof(a->key)) && a->hash == b->hash &&
           a->kind == b->kind && a->sender == b->sender &&
           a->tcp_flags == b->tcp_flags && a->cause == b->cause &&
           a->seq == b->seq && a->ack == b->ack && a->end == b->end &&
           a->bytes == b->bytes;
}

static bool res_eq(const struct vf_ct_result *a, const struct vf_ct_result *b)
{
    return a->state == b->state && a->dir == b->dir &&
           a->conn_state == b->conn_state && a->cause == b->cause &&
           a->conn == b->conn;
}

/* The packets a flow cache would keep: one per (flow key, zone). */
struct kept {
    bool used;
    uint16_t zone;
    struct vf_flow_key key;
    struct vf_ct_pkt pkt;
};

static struct kept g_kept[KEEP];
static unsigned g_kept_next;

static struct kept *kept_find(const struct vf_flow_key *k, uint16_t zone)
{
    for (unsigned i = 0; i < KEEP; i++)
        if (g_kept[i].used && g_kept[i].zone == zone &&
            vf_flow_key_eq(&g_kept[i].key, k))
            return &g_kept[i];
    return NULL;
}

static void kept_add(const struct vf_flow_key *k, uint16_t zone,
                     const struct vf_ct_pkt *p)
{
    struct kept *e = &g_kept[g_kept_next++ % KEEP];
    *e = (struct kept){.used = true, .zone = zone, .key = *k, .pkt = *p};
}

static void check_counts(struct vf_ct *ct, uint64_t now, uint32_t max_conns,
                         uint32_t zone_max)
{
    struct vf_ct_totals t;
    uint64_t zones = 0;
    static struct vf_ct_info list[LIST_MAX];

    vf_ct_get_stats(ct, &t);
    for (uint16_t z = 1; z <= N_ZONES; z++) {
        uint32_t c = vf_ct_zone_count(ct, z);
        FZ_CHECK(!zone_max || c <= zone_max, "zone %u holds %u, its limit "
                 "is %u", z, c, zone_max);
        zones += c;
    }
    FZ_CHECK(t.live == zones, "%llu live connections, the zones count %llu",
             (unsigned long long)t.live, (unsigned long long)zones);
    FZ_CHECK(t.live <= max_conns, "%llu live connections in a table of %u",
             (unsigned long long)t.live, max_conns);
    uint32_t pos = 0;
    unsigned n = 0;
    while (pos != UINT32_MAX && n + 8 <= LIST_MAX) {
        unsigned k = vf_ct_iter(ct, &pos, -1, now, list + n, LIST_MAX - n);
        n += k;
        if (!k && pos != UINT32_MAX)
            break;
    }
    FZ_CHECK(n <= t.live, "the listing shows %u connections, %llu are live",
             n, (unsigned long long)t.live);
    for (unsigned i = 0; i < n; i++) {
        FZ_CHECK(list[i].key.zone >= 1 && list[i].key.zone <= N_ZONES,
                 "a connection in zone %u", list[i].key.zone);
        for (unsigned j = 0; j < i; j++)
            FZ_CHECK(memcmp(&list[i].key, &list[j].key, sizeof(list[i].key)),
                     "one connection listed twice (entries %u and %u)", j, i);
    }
}

static void one_packet(struct vf_ct *ct, struct vf_ct_worker *w, uint16_t zone,
                       bool allow, uint64_t now, const uint8_t *f, uint32_t len)
{
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    struct vf_ct_pkt p, p2;
    struct vf_ct_result pr, r;

    (void)vf_parse(f, len, &key, &off);   /* a refused frame still has a key */
    vf_ct_pkt_init(ct, f, len, &key, &off, zone, &p);
    vf_ct_pkt_init(ct, f, len, &key, &off, zone, &p2);
    FZ_CHECK(pkt_eq(&p, &p2), "vf_ct_pkt_init gave two packets for one frame "
             "(kind %u/%u cause %u/%u key %s hash %s seq %u/%u end %u/%u bytes "
             "%u/%u)", p.kind, p2.kind, p.cause, p2.cause,
             memcmp(&p.key, &p2.key, sizeof(p.key)) ? "differs" : "same",
             p.hash == p2.hash ? "same" : "differs", p.seq, p2.seq, p.end,
             p2.end, p.bytes, p2.bytes);

    struct kept *k = kept_find(&key, zone);
    if (k) {
        struct vf_ct_pkt q = k->pkt;
        if (vf_ct_pkt_refresh(&q, f, len, &off))
            FZ_CHECK(pkt_eq(&q, &p), "a refreshed packet differs from the "
                     "frame's own (kind %u/%u, cause %u/%u, key %s, sender "
                     "%u/%u, flags %#x/%#x, seq %u/%u, ack %u/%u, end %u/%u, "
                     "bytes %u/%u)", q.kind, p.kind, q.cause, p.cause,
                     memcmp(&q.key, &p.key, sizeof(p.key)) ? "differs" : "same",
                     q.sender, p.sender, q.tcp_flags, p.tcp_flags, q.seq, p.seq,
                     q.ack, p.ack, q.end, p.end, q.bytes, p.bytes);
        k->pkt = p;
    } else {
        kept_add(&key, zone, &p);
    }

    vf_ct_peek(ct, &p, now, &pr);
    vf_ct_lookup(w, &p, now, &r);
    FZ_CHECK(res_eq(&pr, &r), "peek says %s/%s conn %u, lookup %s/%s conn %u",
             vf_ct_state_name(pr.state), vf_ct_conn_state_name(pr.conn_state),
             pr.conn, vf_ct_state_name(r.state),
             vf_ct_conn_state_name(r.conn_state), r.conn);
    if (r.state != VF_CT_NEW || !allow)
        return;
    /* NEW with a connection: one unreplied that this packet went along
     * (lookup applied it; a RST may have closed it). Nothing to create. */
    bool creates = r.conn == VF_CT_NONE;
    int d = vf_ct_commit(w, &p, now, &r);
    FZ_CHECK(d == VF_DROP_NONE || d == VF_DROP_CT_TABLE_FULL ||
             d == VF_DROP_CT_ZONE_FULL, "commit returned %d", d);
    FZ_CHECK(creates || d == VF_DROP_NONE, "commit refused a packet of an "
             "existing connection (%d)", d);
    if (d != VF_DROP_NONE || !creates)
        return;
    vf_ct_peek(ct, &p, now, &pr);
    FZ_CHECK(pr.state == VF_CT_NEW && pr.conn != VF_CT_NONE,
             "after its commit the packet (kind %u, flags %#x) is %s/%s "
             "(cause %s, conn %u)", p.kind, p.tcp_flags,
             vf_ct_state_name(pr.state), vf_ct_conn_state_name(pr.conn_state),
             vf_ct_cause_name(pr.cause), pr.conn);
}

/* One table per size, kept between inputs (a table of every context's
 * batches and every zone is megabytes: creating one per input would run
 * a hundred inputs a second). Each input starts with fresh worker
 * contexts and an empty table, and leaves it empty: flushed by a context
 * of its own and reclaimed. */
static struct vf_ct *g_ct[4];

static struct vf_ct *table(unsigned i)
{
    static const uint32_t maxes[4] = {4, 16, 64, 256};
    if (!g_ct[i]) {
        struct vf_ct_config cfg = {.max_conns = maxes[i], .seed = 0x5eed};
        g_ct[i] = vf_ct_create(&cfg);
        FZ_CHECK(g_ct[i], "cannot create a table of %u", maxes[i]);
    }
    return g_ct[i];
}

static void table_empty(struct vf_ct *ct)
{
    struct vf_ct_worker m;
    struct vf_ct_totals t;

    FZ_CHECK(vf_ct_worker_init(&m, ct, N_WORKERS, N_WORKERS) == 0,
             "mgmt context refused");
    (void)vf_ct_flush(&m, -1);
    vf_ct_worker_fini(&m);
    (void)vf_ct_reclaim(ct);
    vf_ct_get_stats(ct, &t);
    FZ_CHECK(t.live == 0 && vf_ct_zone_count(ct, 1) == 0 &&
             vf_ct_zone_count(ct, 2) == 0, "%llu connections live after a "
             "flush of every zone", (unsigned long long)t.live);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t zone_maxes[4] = {0, 2, 8, 32};
    static struct vf_ct_worker w[N_WORKERS];
    struct reader rdr = {data, size};
    uint64_t cfg_b, ctl, v, now = 1000;

    if (!rd(&rdr, 1, &cfg_b))
        return 0;
    struct vf_ct *ct = table(cfg_b & 3);
    uint32_t zone_max = zone_maxes[(cfg_b >> 4) & 3];
    struct vf_ct_totals t0;
    vf_ct_get_stats(ct, &t0);
    uint32_t max_conns = (uint32_t)t0.max_conns;
    for (uint16_t z = 1; z <= N_ZONES; z++)
        vf_ct_zone_set_max(ct, z, zone_max);
    for (unsigned i = 0; i < N_WORKERS; i++)
        FZ_CHECK(vf_ct_worker_init(&w[i], ct, i, N_WORKERS) == 0,
                 "worker context %u refused", i);
    memset(g_kept, 0, sizeof(g_kept));
    g_kept_next = 0;

    while (rd(&rdr, 1, &ctl)) {
        uint16_t zone = (uint16_t)(1 + (ctl & 1));
        struct vf_ct_worker *cw = &w[(ctl >> 1) & 1];
        if ((ctl & 8) && rd(&rdr, 4, &v))
            now += v;
        if (!(ctl & 0x80)) {
            if (!rd(&rdr, 2, &v))
                break;
            uint32_t len = (uint32_t)(v < rdr.n ? v : rdr.n);
            /* The frame alone in a buffer of its own size: ASan sees a
             * read past it. */
            uint8_t *f = malloc(len ? len : 1);
            FZ_CHECK(f, "out of memory");
            memcpy(f, rdr.p, len);
            rdr.p += len;
            rdr.n -= len;
            one_packet(ct, cw, zone, ctl & 4, now, f, len);
            free(f);
        }
        switch ((ctl >> 4) & 7) {
        case 1:
            (void)vf_ct_sweep(cw, now, 8);
            break;
        case 2:
            (void)vf_ct_flush(cw, zone);
            FZ_CHECK(vf_ct_zone_count(ct, zone) == 0, "zone %u holds %u after "
                     "its flush", zone, vf_ct_zone_count(ct, zone));
            break;
        case 3:
            (void)vf_ct_flush(cw, -1);
            break;
        case 4:
            (void)vf_ct_reclaim(ct);
            break;
        }
        check_counts(ct, now, max_conns, zone_max);
        rcu_quiescent_state();   /* between bursts, as a worker */
    }
    for (unsigned i = 0; i < N_WORKERS; i++)
        vf_ct_worker_fini(&w[i]);
    table_empty(ct);
    rcu_quiescent_state();
    return 0;
}
