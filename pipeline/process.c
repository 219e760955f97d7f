/* process.c - vf_pipeline_burst: parse, flow cache, stages, actions.
 *
 * Per packet: find what the fabric port is (a tenant port, the uplink,
 * or nothing), decapsulate if it came from the uplink, parse once, hash,
 * probe the worker's flow cache; on a miss run the stages (vf_logical.h)
 * into an action list and cache it, tagged with the tables' generation.
 * Then apply the list: header rewrites once, one copy per extra output
 * (flood), tunnel encap per remote output, and vf_worker_enqueue_tx/_drop.
 *
 * Who may tunnel to us: a decapsulated packet is accepted only from a
 * remote chassis of the fabric (vf_tables_chassis_by_src: one hash probe
 * per packet, before the cache, since the cache key does not hold the
 * outer source), else it is dropped as tunnel_unknown_chassis. OVS and OVN
 * get the same from one tunnel port per chassis with remote_ip.
 *
 * Cache key: (fabric port index, flow key) for tenant ports: within one
 * generation a fabric port is exactly one logical port. For tunnelled
 * packets the decision also depends on the VNI, the Geneve ports and the
 * sending chassis (decap-ingress checks that the named ingress port lives
 * there), so they are stamped into the key's tun fields, the padding
 * vf_parse leaves zero (with a tag byte no parsed key has; vf_parse.h),
 * and the ingress lport is the cache's port argument.
 *
 * Stateful ports: a list with conntrack checks (VF_ACT_CT) is looked up
 * in conntrack per packet, cached or not (stage_ct.c), before it is
 * applied; a reject (stateless, or a state's verdict) answers the sender
 * (vf_reject.h).
 *
 * Burst shape: two passes (vf_pipeline_burst): first every packet's port,
 * decap, parse and hash, with a prefetch of its flow-cache bucket; then
 * lookups, stages, conntrack and actions in arrival order. Measured in
 * docs/perf.md (0.41 of the time per burst when the cache misses the CPU
 * caches, +15 instructions per packet when it does not).
 *
 * Bounds: one pass of each kind per packet; routing is bounded by VF_LOGICAL_MAX_HOPS,
 * floods by VF_ACT_MAX_OUT. No malloc, lock or syscall: the only
 * allocation is a pool buffer per flood copy from the worker's cache.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_icmp.h"
#include "pipeline/vf_logical.h"
#include "pipeline/vf_reject.h"
#include "pipeline/vf_worker.h"
#include "tunnel/vf_segment.h"

#define TUN_KEY_TAG 0xa4     /* | has_ports: never 0, unlike parsed keys */

_Static_assert(_Alignof(struct vf_act) <= VF_FC_VALUE_ALIGN &&
                   _Alignof(struct vf_act_ct) <= VF_FC_VALUE_ALIGN,
               "a cached action list (and its checks, at an 8-byte offset) "
               "is used where the flow cache keeps it");
_Static_assert(sizeof(union vf_act_buf) <= VF_FC_VALUE_MAX,
               "every action list can be cached, the largest flood included");

void vf_logical_ingress(struct vf_lctx *c, const struct vf_dp *dp, uint32_t in)
{
    struct vf_act *a = c->act;
    const struct vf_lport *lp = &dp->ports[in];
    int r;

    c->dp = dp;
    c->in = in;
    c->hops = 0;
    a->datapath = dp->id;
    if (c->tr)
        vf_trace_note(c->tr, "physical_to_logical",
                      "port %s (lport %u) on switch %s (vni %u)", lp->name,
                      lp->id, dp->name, dp->vni);
    r = vf_stage_port_security(c);
    if (r)
        goto drop;
    /* Each round is one switch: the first, then one per router hop. The
     * router stage refuses to go past VF_LOGICAL_MAX_HOPS, so this loop is
     * bounded; the explicit bound below only guards that promise. */
    for (unsigned round = 0; round <= VF_LOGICAL_MAX_HOPS + 1; round++) {
        a->datapath = c->dp->id;
        r = vf_stage_acl(c, true, 0);
        if (r)
            goto drop;
        if (vf_stage_arp_responder(c))
            return;
        uint32_t out = vf_stage_l2(c, &r);
        if (out == VF_L2_DROP)
            goto drop;
        if (out == VF_L2_FLOOD) {
            r = vf_stage_flood(c, false, c->dp->ports[c->in].id);
            if (r)
                goto drop;
            break;
        }
        if (c->dp->ports[out].kind == VF_LPORT_ROUTER) {
            r = vf_stage_router(c, out);
            if (r)
                goto drop;
            continue;
        }
        r = vf_stage_output(c, out);
        if (r)
            goto drop;
        break;
    }
    if (a->n_out == 0) {
        r = VF_DROP_LOOP;
        goto drop;
    }
    if (c->hops) {
        a->flags |= VF_ACT_SET_MAC;
        a->ttl_dec = (uint8_t)c->hops;
        memcpy(a->eth_src, c->key.eth_src, 6);
        memcpy(a->eth_dst, c->key.eth_dst, 6);
    }
    return;
drop:
    a->n_out = 0;
    a->drop = (uint16_t)r;
    if (c->tr)
        vf_trace_note(c->tr, "result", "drop: %s", vf_drop_name((unsigned)r));
}

static void ip4_dec_ttl(uint8_t *ip, unsigned dec)
{
    /* RFC 1624 incremental update: TTL is the high byte of the 16-bit word
     * at offset 8 (TTL, protocol). */
    uint16_t old = vf_wire_get16(ip + 8);
    ip[8] = (uint8_t)(ip[8] - dec);
    vf_wire_put16(ip + 10, vf_csum_update16(vf_wire_get16(ip + 10), old,
                                            vf_wire_get16(ip + 8)));
}

void vf_act_rewrite(const struct vf_act *a, uint8_t *frame,
                    const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off)
{
    if (a->flags & VF_ACT_ARP_REPLY) {
        uint8_t *arp = frame + off->l3;
        memcpy(frame, key->eth_src, 6);
        memcpy(frame + 6, a->eth_src, 6);
        arp[6] = 0;
        arp[7] = 2;
        memcpy(arp + 8, a->eth_src, 6);        /* sender: the owner */
        memcpy(arp + 14, &key->ip_dst, 4);
        memcpy(arp + 18, key->arp_sha, 6);     /* target: the requester */
        memcpy(arp + 24, &key->ip_src, 4);
        return;
    }
    if (a->flags & VF_ACT_SET_MAC) {
        memcpy(frame, a->eth_dst, 6);
        memcpy(frame + 6, a->eth_src, 6);
        if (a->ttl_dec && (key->flags & VF_FLOW_IP4))
            ip4_dec_ttl(frame + off->l3, a->ttl_dec);
    }
}

/* A copy of p from the worker's pool, or NULL with *why: VF_DROP_NO_BUFFER
 * (the pool is empty) or VF_DROP_COPY_TOO_BIG (p, from a pool of larger
 * buffers, does not fit one of the worker's). */
static struct vf_pkt *clone_pkt(struct vf_worker *w, const struct vf_pkt *p,
                                int *why)
{
    struct vf_pkt *q = vf_pool_alloc(&w->cache);
    if (!q) {
        *why = VF_DROP_NO_BUFFER;
        return NULL;
    }
    if ((uint64_t)p->data_off + p->len > q->buf_len) {
        vf_pool_free(&w->cache, q);
        *why = VF_DROP_COPY_TOO_BIG;
        return NULL;
    }
    q->data_off = p->data_off;
    q->len = p->len;
    q->port = p->port;
    q->meta = p->meta;
    memcpy(vf_pkt_data(q), vf_pkt_data(p), p->len);
    return q;
}

/* p, from a tenant port, did not fit the tunnel to peer: answers it with
 * ICMP fragmentation-needed out the port it came in on (vf_icmp.h), at most
 * VF_WORKER_ICMP_PER_S a second per worker. key/off: p as parsed before any
 * rewrite; NULL when the caller has none (then no answer). */
static void frag_needed(struct vf_worker *w, const struct vf_tables *t,
                        const struct vf_pkt *p, const struct vf_flow_key *key,
                        const struct vf_hdr_offsets *off,
                        const struct vf_tunnel_peer *peer)
{
    if (!key || p->port >= t->n_fports || !t->fports[p->port].dp)
        return;   /* from the uplink, or a frame we cannot quote */
    uint32_t max_frame = vf_seg_tunnel_max_frame(peer);
    if (max_frame <= off->l3 + 68u)
        return;   /* RFC 791: every IPv4 link carries 68 bytes */
    if (!vf_worker_icmp_budget(w))
        return;
    struct vf_pkt *r = vf_pool_alloc(&w->cache);
    if (!r)
        return;
    if (vf_icmp4_frag_needed(p, key, off, (uint16_t)(max_frame - off->l3), r)) {
        vf_pool_free(&w->cache, r);
        return;
    }
    vf_stat_add(&w->stats.icmp_frag_needed, 1);
    r->port = p->port;
    vf_worker_enqueue_tx(w, t->fports[p->port].port, r);
}

/* Sends p to every output of a: one copy per extra output (copies are
 * taken before the original is encapsulated: the original is the last
 * output, so every copy starts from the same inner frame). key/off: p as
 * parsed before any rewrite, for an ICMP answer when it is too big for a
 * tunnel (NULL: no answer). */
static void outputs(struct vf_worker *w, const struct vf_tables *t,
                    struct vf_pkt *p, const struct vf_act *a, uint32_t hash,
                    const struct vf_flow_key *key, const struct vf_hdr_offsets *off)
{
    bool answered = false;   /* one ICMP answer per packet, however many tunnels */
    for (unsigned i = 0; i < a->n_out; i++) {
        const struct vf_act_out *o = &a->out[i];
        int why = 0;
        struct vf_pkt *q = i + 1 == a->n_out ? p : clone_pkt(w, p, &why);
        if (!q) {
            struct vf_port *to = o->chassis == VF_CHASSIS_NONE
                                     ? t->fports[o->fport].port : t->uplink;
            if (why == VF_DROP_NO_BUFFER)
                vf_worker_count_no_buffer(w, to, 1);
            else
                vf_worker_count_drop(w, (unsigned)why, 1);
            continue;
        }
        if (o->chassis == VF_CHASSIS_NONE) {
            vf_worker_enqueue_tx(w, t->fports[o->fport].port, q);
            continue;
        }
        int r = vf_tunnel_encap(q, &t->chassis[o->chassis].peer, o->vni,
                                o->in_lport, o->out_lport, hash);
        if (r == VF_DROP_MTU && !answered) {
            frag_needed(w, t, q, key, off, &t->chassis[o->chassis].peer);
            answered = true;
        }
        if (r)
            vf_worker_drop(w, q, (unsigned)r);
        else
            vf_worker_enqueue_tx(w, t->uplink, q);
    }
}

/* The fabric port p came in on (the uplink or a tenant port), or NULL. */
static struct vf_port *in_port(const struct vf_tables *t, const struct vf_pkt *p)
{
    if (t->uplink && p->port == t->uplink->index)
        return t->uplink;
    return p->port < t->n_fports ? t->fports[p->port].port : NULL;
}

/* A large TCP frame (p->gso_size, from a TSO tap) after one pipeline pass.
 * The common cases keep it whole: one local output to a port that takes
 * GSO frames (VF_PORT_CAP_GSO_TX: a tap, a vhost-user guest with TSO) goes
 * out as is, one tunnel output over an uplink that takes UDP GSO batches
 * (VF_PORT_CAP_UDP_GSO) becomes one batch (vf_segment.h). Anything else
 * (floods, ring ports, other uplinks, a batch that does not fit) is cut
 * into separate segments here, each sent to every output like an ordinary
 * frame. Bounded by the segment count (payload / mss, at most 64 KB /
 * clamped mss). */
static void execute_gso(struct vf_worker *w, const struct vf_tables *t,
                        struct vf_pkt *p, const struct vf_act *a,
                        uint32_t hash)
{
    struct vf_seg_info si;
    int r = vf_seg_parse(p, p->gso_size, &si);
    if (r) {
        vf_worker_drop(w, p, (unsigned)r);
        return;
    }
    if (a->n_out == 1) {
        const struct vf_act_out *o = &a->out[0];
        if (o->chassis == VF_CHASSIS_NONE) {
            struct vf_port *port = t->fports[o->fport].port;
            if (vf_port_has(port, VF_PORT_CAP_GSO_TX)) {
                vf_worker_enqueue_tx(w, port, p);
                return;
            }
        } else if (vf_port_has(t->uplink, VF_PORT_CAP_UDP_GSO)) {
            r = vf_seg_tunnel_batch(p, &si, &t->chassis[o->chassis].peer,
                                    o->vni, o->in_lport, o->out_lport, hash);
            if (r == 0) {
                vf_worker_enqueue_tx(w, t->uplink, p);
                return;
            }
            if (r == VF_DROP_MTU) {
                vf_worker_drop(w, p, (unsigned)r);
                return;
            }
        }
    }
    /* Every segment must fit every tunnel it takes. */
    for (unsigned i = 0; i < a->n_out; i++) {
        if (a->out[i].chassis == VF_CHASSIS_NONE)
            continue;
        r = vf_seg_clamp(&si, vf_seg_tunnel_max_frame(
                                  &t->chassis[a->out[i].chassis].peer));
        if (r) {
            vf_worker_drop(w, p, (unsigned)r);
            return;
        }
    }
    for (unsigned i = 0; i < si.n_segs; i++) {
        struct vf_pkt *s = vf_pool_alloc(&w->cache);
        if (!s) {
            vf_worker_count_no_buffer(w, in_port(t, p), 1);
            continue;
        }
        r = vf_seg_build(p, &si, i, s);
        if (r) {
            vf_pool_free(&w->cache, s);
            vf_worker_count_drop(w, (unsigned)r, 1);
            continue;
        }
        outputs(w, t, s, a, hash, NULL, NULL);   /* segments fit: clamped */
    }
    vf_pool_free(&w->cache, p);
}

static void execute(struct vf_worker *w, const struct vf_tables *t,
                    struct vf_pkt *p, const struct vf_act *a,
                    const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off, uint32_t hash)
{
    if (a->n_out == 0) {
        /* An empty list always names its reason; NO_ACTION would be a
         * stage that forgot to, counted rather than silent. */
        vf_worker_drop(w, p, a->drop ? a->drop : VF_DROP_NO_ACTION);
        return;
    }
    p->meta.datapath = a->datapath;
    p->meta.out_port = a->out_lport;
    p->meta.flow_hash = hash;
    if (a->flags & (VF_ACT_ARP_REPLY | VF_ACT_SET_MAC))
        vf_act_rewrite(a, vf_pkt_data(p), key, off);
    if (p->gso_size)
        execute_gso(w, t, p, a, hash);
    else
        outputs(w, t, p, a, hash, key, off);
}

static void process_one(struct vf_worker *w, const struct vf_tables *t,
                        struct vf_pkt *p);

int vf_pipeline_decap(const struct vf_tables *t, struct vf_pkt *p,
                      struct vf_tunnel_md *md, uint32_t *from)
{
    uint32_t data_off = p->data_off, len = p->len;
    int r = vf_tunnel_decap(p, t->geneve_port, t->vxlan_port, md);
    if (r)
        return r;
    *from = vf_tables_chassis_by_src(t, md->outer_src_ip, md->outer_src_port);
    if (*from == UINT32_MAX) {
        /* Decap wrote nothing: restoring the bounds restores the packet. */
        p->data_off = data_off;
        p->len = len;
        return VF_DROP_TUN_UNKNOWN_CHASSIS;
    }
    return 0;
}

/* A UDP GRO buffer that is not one TCP run (vf_seg_gro_merge refused it):
 * each datagram goes through the pipeline on its own. Bounded by the
 * datagram count; the copies have gso_size 0, so this does not recurse
 * further. */
static void gro_split(struct vf_worker *w, const struct vf_tables *t,
                      struct vf_pkt *p)
{
    unsigned n = vf_seg_gro_count(p);
    if (n == 0) {   /* cannot hold one datagram */
        vf_worker_drop(w, p, VF_DROP_TUN_TRUNC);
        return;
    }
    for (unsigned k = 0; k < n; k++) {
        struct vf_pkt *s = vf_pool_alloc(&w->cache);
        if (!s) {
            vf_worker_count_no_buffer(w, t->uplink, 1);
            continue;
        }
        int r = vf_seg_gro_split(p, k, s);
        if (r) {
            vf_pool_free(&w->cache, s);
            vf_worker_count_drop(w, (unsigned)r, 1);
            continue;
        }
        process_one(w, t, s);
    }
    vf_pool_free(&w->cache, p);
}

/* Tunnel entropy (the outer source port, the receiver's queue): the flow
 * hash, except for IP fragments, which all take a hash of their addresses
 * and protocol, since later fragments have no ports: every piece of a
 * datagram then reaches the same worker at the receiver (stage_ct.c's
 * fragment table is per worker) over the same underlay path. */
static uint32_t frag_entropy(const struct vf_flow_key *key)
{
    struct vf_flow_key k;
    memset(&k, 0, sizeof(k));
    k.ip_src = key->ip_src;
    k.ip_dst = key->ip_dst;
    memcpy(k.ip6_src, key->ip6_src, 16);
    memcpy(k.ip6_dst, key->ip6_dst, 16);
    k.ip_proto = key->ip_proto;
    return vf_flow_key_hash(&k, 0);
}

/* A packet its ACLs refused (reason, with VF_CTV_ANSWER for a reject
 * that answers the sender): answered if so, counted, freed. */
static void refuse(struct vf_worker *w, const struct vf_tables *t, struct vf_pkt *p,
                   unsigned reason, const struct vf_flow_key *key,
                   const struct vf_hdr_offsets *off, const struct vf_tunnel_md *md,
                   uint32_t from)
{
    if (reason & VF_CTV_ANSWER || reason == VF_DROP_ACL_REJECT)
        vf_reject_send(w, t, p, key, off, md, from);
    vf_worker_drop(w, p, reason & ~VF_CTV_ANSWER);
}

/* What the first pass learns of a packet for the second (a burst's
 * packets are parsed and hashed before any is looked up: vf_pipeline_burst). */
struct pkt_ctx {
    struct vf_flow_key key;
    struct vf_hdr_offsets off;
    struct vf_tunnel_md md;
    const struct vf_fport_map *fm;   /* tenant port; NULL: from the uplink */
    uint32_t cache_in, from, hash;
};

enum prep { PREP_DONE, PREP_READY, PREP_SPLIT };

/* Pass 1: which port, decap, parse, hash. PREP_DONE: p was dropped;
 * PREP_SPLIT: p is a GRO buffer that is not one TCP run, for gro_split
 * in pass 2 (where it keeps its place among the burst's packets);
 * PREP_READY: x holds what the lookup needs. */
static inline __attribute__((always_inline)) enum prep prepare(struct vf_worker *w, const struct vf_tables *t,
                         struct vf_pkt *p, struct pkt_ctx *x)
{
    int r;

    x->fm = NULL;
    x->from = 0;
    if (t->uplink && p->port == t->uplink->index) {
        if (p->gso_size && vf_seg_gro_merge(p, t->vxlan_port))
            return PREP_SPLIT;
        r = vf_pipeline_decap(t, p, &x->md, &x->from);
        if (r) {
            vf_worker_drop(w, p, (unsigned)r);
            return PREP_DONE;
        }
    } else if (p->port < t->n_fports && t->fports[p->port].dp) {
        x->fm = &t->fports[p->port];
    } else {
        vf_worker_drop(w, p, VF_DROP_UNKNOWN_PORT);
        return PREP_DONE;
    }
    r = vf_parse(vf_pkt_data(p), p->len, &x->key, &x->off);
    if (r) {
        vf_worker_drop(w, p, (unsigned)r);
        return PREP_DONE;
    }
    if (!x->fm) {
        const struct vf_tunnel_md *md = &x->md;
        x->key.tun.out_lport = md->out_lport;
        x->key.tun.vni[0] = (uint8_t)md->vni;
        x->key.tun.vni[1] = (uint8_t)(md->vni >> 8);
        x->key.tun.vni[2] = (uint8_t)(md->vni >> 16);
        x->key.tun.from = (uint16_t)x->from;
        x->key.tun.tag = (uint8_t)(TUN_KEY_TAG | md->has_ports);
        x->cache_in = md->has_ports ? md->in_lport : 0;
        p->meta.in_port = x->cache_in;
    } else {
        x->cache_in = p->port;
        p->meta.in_port = x->fm->dp->ports[x->fm->lport].id;
    }
    x->hash = vf_flow_key_hash(&x->key, 0);
    return PREP_READY;
}

/* Pass 2: the flow cache (the stages on a miss), conntrack, execute. */
static inline __attribute__((always_inline)) void finish(struct vf_worker *w, const struct vf_tables *t,
                   struct vf_pkt *p, struct pkt_ctx *x)
{
    const bool tun = x->fm == NULL;
    const uint32_t cache_in = x->cache_in, from = x->from;
    uint32_t hash = x->hash;
    union vf_act_buf buf;
    const struct vf_act *a;
    const void *v = w->fc ? vf_fc_lookup(w->fc, cache_in, &x->key, hash,
                                         t->generation) : NULL;
    if (v) {
        a = v;      /* aligned for the struct (the assert above): in place */
    } else {
        struct vf_act_ct checks;
        struct vf_lctx c = { .t = t, .key = x->key, .act = &buf.act, .ct = &checks };
        checks.n = 0;
        memset(&buf.act, 0, sizeof(buf.act));
        if (tun) {
            x->md.in_lport = cache_in;
            vf_stage_decap_ingress(&c, &x->md, from);
        } else {
            vf_logical_ingress(&c, x->fm->dp, x->fm->lport);
        }
        unsigned size = vf_act_size(buf.act.n_out);
        if (checks.n && buf.act.n_out)   /* a drop needs no lookup */
            size = vf_ct_stage_attach(w, &buf.act, &checks, vf_pkt_data(p), p->len,
                                      &x->key, &x->off);
        if (w->fc && size <= VF_FC_VALUE_MAX)
            vf_fc_insert(w->fc, cache_in, &x->key, hash, t->generation, &buf, size);
        a = &buf.act;
    }
    if (a->n_out && (a->flags & VF_ACT_CT)) {
        /* The cached value is read before anything else is inserted. */
        unsigned v = vf_ct_stage_run(w, vf_act_ct_of(a), vf_pkt_data(p), p->len,
                                     &x->key, &x->off);
        if (v) {
            refuse(w, t, p, v, &x->key, &x->off, tun ? &x->md : NULL, from);
            return;
        }
    } else if (a->n_out == 0 && a->drop == VF_DROP_ACL_REJECT) {
        refuse(w, t, p, a->drop, &x->key, &x->off, tun ? &x->md : NULL, from);
        return;
    }
    if (x->key.flags & (VF_FLOW_FRAG_FIRST | VF_FLOW_FRAG_LATER))
        hash = frag_entropy(&x->key);
    execute(w, t, p, a, &x->key, &x->off, hash);
}

static void process_one(struct vf_worker *w, const struct vf_tables *t,
                        struct vf_pkt *p)
{
    struct pkt_ctx x;
    switch (prepare(w, t, p, &x)) {
    case PREP_READY:
        finish(w, t, p, &x);
        break;
    case PREP_SPLIT:
        gro_split(w, t, p);
        break;
    case PREP_DONE:
        break;
    }
}

void vf_pipeline_burst(struct vf_worker *w, const struct vf_tables *t,
                       struct vf_pkt **pkts, unsigned n)
{
    if (!t) {
        /* No tables published yet: nothing is known about any port. */
        for (unsigned i = 0; i < n; i++)
            vf_worker_drop(w, pkts[i], VF_DROP_UNKNOWN_PORT);
        vf_worker_free_dropped(w);
        return;
    }
    /* Two passes over the burst, as OVS's dfc_processing: every packet's
     * parse and hash first, with a prefetch of its flow-cache bucket, so
     * the bucket lines load while the following packets are parsed; then
     * the lookups and actions, in arrival order (a miss's insert is seen
     * by the packets after it, exactly as one packet at a time). */
    struct pkt_ctx x[VF_BURST_MAX];
    uint8_t st[VF_BURST_MAX];
    while (n > 0) {
        unsigned k = n < VF_BURST_MAX ? n : VF_BURST_MAX;
        for (unsigned i = 0; i < k; i++) {
            st[i] = (uint8_t)prepare(w, t, pkts[i], &x[i]);
            if (st[i] == PREP_READY && w->fc)
                vf_fc_prefetch(w->fc, x[i].hash);
        }
        for (unsigned i = 0; i < k; i++) {
            if (st[i] == PREP_READY)
                finish(w, t, pkts[i], &x[i]);
            else if (st[i] == PREP_SPLIT)
                gro_split(w, t, pkts[i]);
        }
        pkts += k;
        n -= k;
    }
    vf_worker_free_dropped(w);
}
