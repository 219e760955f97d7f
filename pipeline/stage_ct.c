/* stage_ct.c - the per-packet conntrack step of stateful ports.
 *
 * An action list with checks (VF_ACT_CT, vf_logical.h) came from a flow
 * through one or two tracked ports: the in port's zone (its from-port
 * ACLs) and the out port's (its to-port ACLs). For every packet, cached
 * or not (docs/conntrack.md, "The flow-cache rule"):
 *   0. the common packet first: a steady segment (a TCP ACK, with or
 *      without data, of an established connection; a UDP datagram of one
 *      that saw its reply), looked up straight from the cached packet by
 *      ct_lookup_steady (ct_impl.h, inlined here: about half the
 *      instructions of steps 1-2, no copy of the packet). The first check
 *      it does not cover goes on with step 1;
 *   1. each check's packet: the flow's cached one refreshed with this
 *      packet's TCP flags, numbers and length (vf_ct_pkt_refresh), or
 *      built anew where it cannot be reused (an ICMP error quotes its own
 *      connection);
 *   2. vf_ct_lookup in that zone; the verdict of the state it reports; the
 *      first verdict that drops ends the packet (nothing committed);
 *   3. when every check passed: vf_ct_commit for each zone where the
 *      packet is NEW (its refusal is a drop: ct_table_full, ct_zone_full).
 * Fragments: a later IP fragment has no ports, so conntrack cannot place
 * it (untracked). Each worker remembers, for a few seconds, the first
 * fragments its stateful ports passed (zone, addresses, protocol, IP id:
 * struct vf_ct_frag), and a later fragment passes a zone only if its
 * first fragment passed it here; else it is dropped as
 * ct_fragment_no_first (a later fragment that overtook its first one, or
 * one whose first fragment went to another worker: process.c gives every
 * fragment of a datagram the same tunnel entropy, so they reach the same
 * worker at the receiver).
 *
 * Bounds: at most VF_ACT_CT_MAX lookups and commits per packet; the
 * fragment table is a fixed set-associative array (no allocation after
 * vf_ct_frag_create).
 *
 * Thread-safety: a worker's own context, fragment table and counters; the
 * connection table is shared (vf_conntrack.h).
 */
#include <stdlib.h>
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/ct_impl.h"
#include "pipeline/vf_logical.h"
#include "pipeline/vf_worker.h"

#define FRAG_SETS 256u
#define FRAG_WAYS 4u
#define FRAG_TTL_MS 5000u        /* a datagram's pieces arrive within this */

struct frag_ent {
    uint8_t src[16], dst[16];    /* IPv4: the first 4 bytes */
    uint32_t id;                 /* IP identification (IPv6: 32 bits) */
    uint32_t expires;            /* ms (ct_now); 0: empty */
    uint16_t zone;
    uint8_t proto, family;
};

struct vf_ct_frag {
    struct frag_ent e[FRAG_SETS][FRAG_WAYS];
};

struct vf_ct_frag *vf_ct_frag_create(void)
{
    return calloc(1, sizeof(struct vf_ct_frag));
}

/* The IP identification of a fragment; false when it has none (IPv6
 * without a fragment header within the bounded walk). */
static bool frag_id(const uint8_t *frame, uint32_t len, const struct vf_flow_key *k,
                    const struct vf_hdr_offsets *off, uint32_t *id)
{
    uint32_t l3 = off->l3;
    if (k->flags & VF_FLOW_IP4) {
        if (l3 + 20 > len)
            return false;
        *id = vf_wire_get16(frame + l3 + 4);
        return true;
    }
    if (l3 + 40 > len)
        return false;
    uint8_t nh = frame[l3 + 6];
    uint32_t pos = l3 + 40;
    for (unsigned i = 0; i < VF_PARSE_IP6_EXT_MAX; i++) {
        if (pos + 8 > len)
            return false;
        if (nh == VF_IPPROTO_FRAGMENT) {
            *id = (uint32_t)vf_wire_get16(frame + pos + 4) << 16 |
                  vf_wire_get16(frame + pos + 6);
            return true;
        }
        if (nh != VF_IPPROTO_HOPOPTS && nh != VF_IPPROTO_ROUTING &&
            nh != VF_IPPROTO_DSTOPTS)
            return false;
        nh = frame[pos];
        pos += ((uint32_t)frame[pos + 1] + 1) * 8;
    }
    return false;
}

static void frag_key(struct frag_ent *e, const struct vf_flow_key *k, uint16_t zone,
                     uint32_t id)
{
    memset(e, 0, sizeof(*e));
    if (k->flags & VF_FLOW_IP4) {
        memcpy(e->src, &k->ip_src, 4);
        memcpy(e->dst, &k->ip_dst, 4);
        e->family = 4;
    } else {
        memcpy(e->src, k->ip6_src, 16);
        memcpy(e->dst, k->ip6_dst, 16);
        e->family = 6;
    }
    e->id = id;
    e->zone = zone;
    e->proto = k->ip_proto;
}

static bool frag_same(const struct frag_ent *a, const struct frag_ent *b)
{
    return a->id == b->id && a->zone == b->zone && a->proto == b->proto &&
           a->family == b->family && !memcmp(a->src, b->src, 16) &&
           !memcmp(a->dst, b->dst, 16);
}

static unsigned frag_set(const struct frag_ent *e)
{
    uint32_t a, b;
    memcpy(&a, e->src + 12, 4);
    memcpy(&b, e->dst + 12, 4);
    uint64_t h = ((uint64_t)e->id << 16 | e->zone) ^ (uint64_t)a << 32 ^ b;
    memcpy(&a, e->src, 4);
    memcpy(&b, e->dst, 4);
    h ^= (uint64_t)a * 0x9e3779b97f4a7c15ull ^ (uint64_t)b << 7;
    h *= 0xff51afd7ed558ccdull;
    return (unsigned)(h >> 40) % FRAG_SETS;
}

static bool live(const struct frag_ent *e, uint32_t now)
{
    return e->expires && (int32_t)(e->expires - now) > 0;
}

static void frag_add(struct vf_ct_frag *f, const struct frag_ent *key, uint32_t now)
{
    struct frag_ent *set = f->e[frag_set(key)];
    struct frag_ent *victim = &set[0];
    for (unsigned i = 0; i < FRAG_WAYS; i++) {
        if (live(&set[i], now) && frag_same(&set[i], key)) {
            victim = &set[i];
            break;
        }
        if (!live(&set[i], now)) {
            victim = &set[i];
            continue;
        }
        /* else the one that expires first */
        if (live(victim, now) && (int32_t)(set[i].expires - victim->expires) < 0)
            victim = &set[i];
    }
    *victim = *key;
    victim->expires = (now + FRAG_TTL_MS) | 1;
}

static bool frag_find(const struct vf_ct_frag *f, const struct frag_ent *key, uint32_t now)
{
    const struct frag_ent *set = f->e[frag_set(key)];
    for (unsigned i = 0; i < FRAG_WAYS; i++)
        if (live(&set[i], now) && frag_same(&set[i], key))
            return true;
    return false;
}

unsigned vf_ct_stage_attach(struct vf_worker *w, struct vf_act *a,
                            const struct vf_act_ct *checks, const uint8_t *frame,
                            uint32_t len, const struct vf_flow_key *k,
                            const struct vf_hdr_offsets *off)
{
    struct vf_act_ct *dst = (struct vf_act_ct *)((uint8_t *)a + vf_act_ct_off(a->n_out));
    dst->n = checks->n;
    for (unsigned i = 0; i < checks->n; i++) {
        dst->chk[i] = checks->chk[i];
        if (w->ct.ct)
            vf_ct_pkt_init(w->ct.ct, frame, len, k, off, checks->chk[i].zone,
                           &dst->chk[i].pkt);
    }
    a->flags |= VF_ACT_CT;
    return vf_act_ct_size(a->n_out, checks->n);
}

/* Steps 1-3 of the top comment for one whole packet (or first fragment),
 * from check `first` on (the ones before it passed as steady segments:
 * established, nothing to commit). */
static __attribute__((noinline)) unsigned
run_checks(struct vf_worker *w, const struct vf_act_ct *ac, unsigned first, unsigned n,
           const uint8_t *frame, uint32_t len, const struct vf_flow_key *k,
           const struct vf_hdr_offsets *off)
{
    struct vf_ct_worker *cw = &w->ct;
    struct vf_ct_pkt pk[VF_ACT_CT_MAX];
    struct vf_ct_result r[VF_ACT_CT_MAX];

    for (unsigned i = first; i < n; i++) {
        const struct vf_ct_check *ck = &ac->chk[i];
        pk[i] = ck->pkt;
        if (!vf_ct_pkt_refresh(&pk[i], frame, len, off))
            vf_ct_pkt_init(cw->ct, frame, len, k, off, ck->zone, &pk[i]);
        vf_ct_lookup(cw, &pk[i], w->ct_now, &r[i]);
        uint16_t v = ck->verdict[vf_ctv_of(&r[i])];
        if (v)
            return v;
    }
    for (unsigned i = first; i < n; i++) {
        if (r[i].state != VF_CT_NEW)
            continue;
        int d = vf_ct_commit(cw, &pk[i], w->ct_now, &r[i]);
        if (d)
            return (unsigned)d;
    }
    return VF_DROP_NONE;
}

/* A fragment's checks: a first one runs them and is remembered, a later
 * one passes where its first one did (the top comment). */
static __attribute__((noinline)) unsigned
run_fragment(struct vf_worker *w, const struct vf_act_ct *ac, unsigned n,
             const uint8_t *frame, uint32_t len, const struct vf_flow_key *k,
             const struct vf_hdr_offsets *off)
{
    uint32_t now = (uint32_t)w->ct_now;
    struct frag_ent fe[VF_ACT_CT_MAX];
    uint32_t id;
    if (!frag_id(frame, len, k, off, &id))
        return VF_DROP_CT_FRAG_NO_FIRST;
    for (unsigned i = 0; i < n; i++)
        frag_key(&fe[i], k, ac->chk[i].zone, id);
    if (k->flags & VF_FLOW_FRAG_LATER) {
        for (unsigned i = 0; i < n; i++)
            if (!frag_find(w->frag, &fe[i], now))
                return VF_DROP_CT_FRAG_NO_FIRST;
        return VF_DROP_NONE;
    }
    unsigned v = run_checks(w, ac, 0, n, frame, len, k, off);
    if (v == VF_DROP_NONE)
        for (unsigned i = 0; i < n; i++)
            frag_add(w->frag, &fe[i], now);
    return v;
}

unsigned vf_ct_stage_run(struct vf_worker *w, const struct vf_act_ct *ac,
                         const uint8_t *frame, uint32_t len,
                         const struct vf_flow_key *k, const struct vf_hdr_offsets *off)
{
    unsigned n = ac->n < VF_ACT_CT_MAX ? ac->n : VF_ACT_CT_MAX;

    if (__builtin_expect(!w->ct.ct, 0))
        return VF_DROP_CT_TABLE_FULL;   /* no table: a table of no room */
    if (__builtin_expect(k->flags & (VF_FLOW_FRAG_FIRST | VF_FLOW_FRAG_LATER), 0))
        return run_fragment(w, ac, n, frame, len, k, off);
    /* Most packets: a steady segment in every zone, straight from the
     * cached packet (step 0). The first check that is anything else goes
     * the whole way from there. */
    uint64_t now = w->ct_now;
    for (unsigned i = 0; i < n; i++) {
        const struct vf_ct_check *ck = &ac->chk[i];
        struct vf_ct_result r;
        if (!ct_lookup_steady(&w->ct, &ck->pkt, frame, len, off, now, &r))
            return run_checks(w, ac, i, n, frame, len, k, off);
        _Static_assert(VF_CTV_REPLY == VF_CTV_EST + 1, "reply follows est");
        uint16_t v = ck->verdict[VF_CTV_EST + (r.dir == VF_CT_REPLY)];
        if (v)
            return v;
    }
    return VF_DROP_NONE;
}
