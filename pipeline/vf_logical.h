/* vf_logical.h - the logical pipeline's stages and the action list.
 *
 * What: NVP's per-host logical pipeline (Figure 4). A packet from a tenant
 * port runs, at this (the source) host:
 *   physical->logical  fabric port -> (datapath, logical port)
 *   port security      source MAC / IPv4 / ARP sender / IPv6 source and
 *                      ND must be the port's; no RAs or redirects
 *   ingress ACL        the switch's from-port rules (IPv4, IPv6);
 *                      stateful ports: a verdict per conntrack state
 *   ARP responder      requests for an address the switch knows are
 *                      answered here, out the in-port, never flooded
 *   L2                 dst MAC -> logical port; broadcast, multicast and
 *                      unknown unicast flood to every other VM port
 *   router             frames to a router port's MAC: TTL, longest prefix
 *                      match, MAC rewrite, then the next switch's ingress
 *                      ACL and L2 (several hops, at most VF_LOGICAL_MAX_HOPS)
 *   egress             local port: to-port ACL, deliver; remote port:
 *                      tunnel to its chassis (its egress ACL runs there)
 * A packet from the uplink (decap-ingress) must come from a remote chassis
 * of the fabric; it finds the datapath by VNI and the egress port from the
 * Geneve option or the destination MAC, runs the egress stage and is
 * delivered.
 *
 * Action list: the stages do not touch the packet. They read a working
 * copy of the flow key in struct vf_lctx and write a struct vf_act: a drop
 * reason, or the header rewrite (MACs, TTL decrement count, ARP reply) and
 * the outputs (local fabric port, or tunnel: chassis, VNI, ports). The
 * list is a pure function of (in port, flow key, tables), so it is what
 * the per-worker flow cache stores; process.c applies it to the packet.
 * Decisions never depend on fields outside the key (the key holds the TTL
 * and the ARP addresses), which is what makes caching exact.
 *
 * Stateful ports (vf_acl.h): what a tracked port's ACLs decide depends on
 * the packet's conntrack state, which is never cached. The ACL stage
 * records a check instead (the port's zone and a verdict for each state,
 * struct vf_ct_check: still a function of port, key and tables), the list
 * carries the checks after its outputs (VF_ACT_CT), and every packet,
 * cached or not, is looked up in those zones and takes its state's
 * verdict (stage_ct.c). docs/conntrack.md, "The flow-cache rule".
 *
 * Trace: every stage takes the context's optional recorder (ctx->tr) and
 * notes its decision when it is not NULL; trace.c runs exactly these
 * functions on a synthetic packet. On the hot path tr is NULL and the
 * note calls are skipped before any formatting.
 *
 * Non-IP traffic: ACLs match IPv4 and IPv6 fields and apply to IP
 * packets only (ARP passes them); routing is IPv4 only (others:
 * no_route); port security checks the MAC of every frame and the
 * addresses of IPv4, ARP, IPv6 and neighbour discovery.
 *
 * Thread-safety: stages are pure functions of the context; the tables are
 * read-only. Each worker uses its own context on its own stack.
 */
#ifndef VF_LOGICAL_H
#define VF_LOGICAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/vf_conntrack.h"
#include "pipeline/vf_parse.h"
#include "pipeline/vf_tables.h"
#include "pipeline/vf_flow_cache.h"

#define VF_LOGICAL_MAX_HOPS 8     /* router hops before VF_DROP_LOOP */
#define VF_ACT_MAX_OUT 256        /* outputs of one packet (a flood) */

struct vf_trace;

/* One output of a packet. Local: fport is the tenant fabric port. Tunnel:
 * fport is the uplink, chassis indexes t->chassis (the peer). */
struct vf_act_out {
    uint16_t fport;
    uint16_t chassis;            /* VF_CHASSIS_NONE for a local delivery */
    uint32_t vni;
    uint32_t in_lport, out_lport;
};

enum vf_act_flags {
    VF_ACT_SET_MAC = 1 << 0,     /* rewrite eth_src/eth_dst */
    VF_ACT_ARP_REPLY = 1 << 1,   /* turn the ARP request into the reply */
    VF_ACT_DECAP = 1 << 2,       /* arrived by tunnel (informational) */
    VF_ACT_CT = 1 << 3,          /* conntrack checks follow the outputs */
};

struct vf_act {
    uint16_t drop;               /* enum vf_drop_reason when n_out == 0 */
    uint8_t flags;               /* enum vf_act_flags */
    uint8_t ttl_dec;             /* router hops: decrement TTL this much */
    uint16_t n_out;
    uint16_t pad;
    uint32_t datapath;           /* last datapath (packet metadata) */
    uint32_t out_lport;          /* first output's logical port */
    uint8_t eth_src[6];          /* SET_MAC / ARP_REPLY: new source MAC */
    uint8_t eth_dst[6];          /* SET_MAC: new destination MAC */
    struct vf_act_out out[];
};

/* Bytes of an action list with n outputs (what the flow cache stores). */
static inline unsigned vf_act_size(unsigned n_out)
{
    return (unsigned)(sizeof(struct vf_act) + n_out * sizeof(struct vf_act_out));
}

#define VF_ACT_CACHE_MAX_OUT                                               \
    ((VF_FC_VALUE_MAX - sizeof(struct vf_act)) / sizeof(struct vf_act_out))

/* The index of a packet's conntrack result in a check's verdicts. */
enum vf_ctv {
    VF_CTV_NEW = 0,          /* may open a connection: committed if allowed */
    VF_CTV_EST,              /* established, in the direction that opened it */
    VF_CTV_REPLY,            /* established, the other direction */
    VF_CTV_RELATED,          /* an ICMP error about a connection */
    VF_CTV_INVALID,
    VF_CTV_UNTRACKED,        /* ND/MLD (later fragments: stage_ct.c) */
    VF_CTV__COUNT
};

static inline unsigned vf_ctv_of(const struct vf_ct_result *r)
{
    switch (r->state) {
    case VF_CT_NEW:
        return VF_CTV_NEW;
    case VF_CT_ESTABLISHED:
        return r->dir == VF_CT_REPLY ? VF_CTV_REPLY : VF_CTV_EST;
    case VF_CT_RELATED:
        return VF_CTV_RELATED;
    case VF_CT_INVALID:
        return VF_CTV_INVALID;
    default:
        return VF_CTV_UNTRACKED;
    }
}

#define VF_CTV_ANSWER 0x8000u    /* verdict flag: a reject, answer the sender */
#define VF_ACT_CT_MAX 2          /* checks per packet: in port, out port */

/* One conntrack lookup a packet needs: a tracked port's zone and what its
 * ACLs say for each state (VF_DROP_NONE: pass; else the drop reason, with
 * VF_CTV_ANSWER for a reject). pkt: the flow's first packet in that zone,
 * refreshed for every later one (vf_ct_pkt_refresh). */
struct vf_ct_check {
    struct vf_ct_pkt pkt;
    uint16_t zone;
    uint16_t verdict[VF_CTV__COUNT];
};

/* The checks of an action list, at vf_act_ct_off(n_out) after it. */
struct vf_act_ct {
    uint8_t n;
    struct vf_ct_check chk[VF_ACT_CT_MAX];
};

static inline unsigned vf_act_ct_off(unsigned n_out)
{
    return (vf_act_size(n_out) + 7u) & ~7u;
}

/* Bytes of an action list with n_out outputs and n conntrack checks. */
static inline unsigned vf_act_ct_size(unsigned n_out, unsigned n)
{
    return vf_act_ct_off(n_out) + (unsigned)offsetof(struct vf_act_ct, chk) +
           n * (unsigned)sizeof(struct vf_ct_check);
}

static inline const struct vf_act_ct *vf_act_ct_of(const struct vf_act *a)
{
    return (const struct vf_act_ct *)((const uint8_t *)a + vf_act_ct_off(a->n_out));
}

/* A miss-path buffer big enough for the largest action list. */
union vf_act_buf {
    struct vf_act act;
    uint64_t align;
    uint8_t raw[sizeof(struct vf_act) + VF_ACT_MAX_OUT * sizeof(struct vf_act_out) +
                8 + sizeof(struct vf_act_ct)];
};

/* The working state of one packet through the stages. */
struct vf_lctx {
    const struct vf_tables *t;
    struct vf_trace *tr;         /* NULL on the hot path */
    struct vf_act_ct *ct;        /* checks the ACL stage records; NULL:
                                  * tracked ports are checked statelessly */
    bool flooding;               /* adding flood copies: to-port checks of
                                  * tracked ports are stateless (never
                                  * committed, default deny applies) */
    /* trace only: the table to peek the packet's state in (NULL: the
     * trace lists the verdict of every state), and the packet as built */
    const struct vf_ct *trace_ct;
    uint64_t trace_now;
    const uint8_t *frame;
    uint32_t frame_len;
    const struct vf_hdr_offsets *off;
    struct vf_flow_key key;      /* working copy; routers rewrite MACs/TTL */
    const struct vf_dp *dp;      /* current datapath */
    uint32_t in;                 /* index of the current in port in dp */
    uint32_t hops;               /* router hops taken */
    struct vf_act *act;          /* being built; room for VF_ACT_MAX_OUT */
};

/* ---- stages (pipeline/stage_*.c). Each returns VF_DROP_NONE to go on
 * or the drop reason (also stored in ctx->act->drop by the driver). ---- */
int vf_stage_port_security(struct vf_lctx *c);
/* from_port: the datapath's from-port ACLs for the current in port;
 * else its to-port ACLs for out port index `out`. */
int vf_stage_acl(struct vf_lctx *c, bool from_port, uint32_t out);
/* true when the packet was answered (act holds the ARP reply). */
bool vf_stage_arp_responder(struct vf_lctx *c);
/* The L2 decision: VF_L2_FLOOD, a port index in c->dp, or
 * VF_L2_DROP with *reason set. */
#define VF_L2_FLOOD 0xfffffffeu
#define VF_L2_DROP 0xffffffffu
uint32_t vf_stage_l2(struct vf_lctx *c, int *reason);
/* Routes a frame sent to router port `rport` (index in c->dp): on success
 * c->dp/c->in/c->key are the next switch's ingress. */
int vf_stage_router(struct vf_lctx *c, uint32_t rport);
/* Receiving host, a frame tunnelled to a localnet (port index `out` of
 * c->dp) with destination MAC 00:00:00:00:00:00: routed at its source
 * host out a gateway port served here, its next hop unknown there. Finds
 * the next hop again (the router of the port that sent it, by source MAC)
 * and sets the destination MAC from the port's learned neighbours
 * (VF_ACT_SET_MAC); VF_DROP_NONE or why not. */
int vf_stage_gw_resolve(struct vf_lctx *c);
/* Adds the output toward port index `out` of c->dp (egress ACL, deliver
 * or tunnel); returns VF_DROP_NONE or why that output was dropped. */
int vf_stage_output(struct vf_lctx *c, uint32_t out);
/* Floods to every VM port of c->dp but the in port (local copies, one
 * tunnel copy per remote chassis); tunnelled tells whether this is the
 * receiving host (no remote copies then). Returns the reason when no
 * copy at all goes out. */
int vf_stage_flood(struct vf_lctx *c, bool tunnelled, uint32_t in_lport);
/* Receiving host: md from vf_tunnel_decap, key of the inner frame, from
 * the sending chassis (index in t->chassis, vf_pipeline_decap). A named
 * ingress port must live on `from` or be a router port of the switch.
 * Fills c->act completely. */
void vf_stage_decap_ingress(struct vf_lctx *c, const struct vf_tunnel_md *md,
                            uint32_t from);

/* ---- drivers (process.c) ---- */
/* Decapsulates a full tunnel frame from the uplink (vf_tunnel_decap) and
 * finds the remote chassis that sent it (*from, an index in t->chassis).
 * Returns 0, a VF_DROP_TUN_* reason of decap, or
 * VF_DROP_TUN_UNKNOWN_CHASSIS when the outer source is no remote chassis
 * of the fabric; p is unchanged when it returns a reason. Per packet: one
 * or two hash probes beside decap. */
int vf_pipeline_decap(const struct vf_tables *t, struct vf_pkt *p,
                      struct vf_tunnel_md *md, uint32_t *from);
/* Runs the whole source-host pipeline for a frame received on local port
 * `in` of dp; fills c->act (drop reason or outputs). c->key must hold the
 * parsed key. */
void vf_logical_ingress(struct vf_lctx *c, const struct vf_dp *dp, uint32_t in);

/* ---- conntrack per packet (stage_ct.c) ---- */
struct vf_worker;
/* Appends the recorded checks to action list a (VF_ACT_CT), their flow
 * packets built from this frame; returns the list's size in bytes. */
unsigned vf_ct_stage_attach(struct vf_worker *w, struct vf_act *a,
                            const struct vf_act_ct *checks, const uint8_t *frame,
                            uint32_t len, const struct vf_flow_key *k,
                            const struct vf_hdr_offsets *off);
/* Runs a list's checks on one packet (lookups, verdicts, commits) at
 * w->ct_now: VF_DROP_NONE, or the drop reason, with VF_CTV_ANSWER when a
 * reject rule wants the sender answered. */
unsigned vf_ct_stage_run(struct vf_worker *w, const struct vf_act_ct *ac,
                         const uint8_t *frame, uint32_t len,
                         const struct vf_flow_key *k, const struct vf_hdr_offsets *off);

/* Applies the header rewrites of an action list to a frame. */
void vf_act_rewrite(const struct vf_act *a, uint8_t *frame,
                    const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off);

/* ---- trace recorder hook (trace.c) ---- */
void vf_trace_note(struct vf_trace *tr, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records that the trace's packet would have conntrack state `state`
 * (enum vf_ct_state) in zone (reply: in the replying direction). */
void vf_trace_ct_seen(struct vf_trace *tr, uint16_t zone, unsigned state, bool reply);

/* Small formatting helpers for trace notes. */
void vf_fmt_mac(char out[18], const uint8_t mac[6]);
void vf_fmt_ip(char out[16], uint32_t ip_net);

#endif
