/* stage_acl.c - ACLs: the switch's from-port and to-port rules.
 *
 * Each datapath has up to four sealed classifiers (vf_acl.h): from-port and
 * to-port, IPv4 and IPv6; a rule's scope is the logical port id it is
 * limited to, or wildcarded for a switch-wide rule. The action word holds
 * the rule's index and verdict (vf_acl_word). ACLs apply to IP packets
 * only (ARP and other EtherTypes pass). Fragments are never reassembled:
 * a first fragment carries the ports and is matched like a whole packet;
 * later ones carry none and only rules without a port range match them.
 *
 * A port that is not tracked (no allow-related rule applies to it) is
 * decided here, statelessly: the best rule's verdict, allow when none
 * matches. A tracked port's decision depends on the packet's conntrack
 * state, so this stage records a check (the port's zone and a verdict per
 * state, docs/conntrack.md "Stateful ACLs") and lets the packet go on;
 * stage_ct.c applies it per packet. The verdicts, for direction D of
 * port P and packet k:
 *   opener(D, k)   the best rule of D: allow / allow-related -> pass,
 *                  drop -> acl_ingress / acl_egress, reject -> acl_reject
 *                  (answered); none -> pass, or acl_stateful_default_deny
 *                  when D is stateful
 *   new            opener(D, k), committed when it passes
 *   established    opener(D, k) passes, else acl_ct_blocked (the rules
 *                  changed since the connection opened)
 *   reply          opener(other direction, k reversed) passes, else
 *                  acl_ct_blocked: a reply passes without a rule of its
 *                  own as long as its connection's opening packet would
 *                  still be allowed
 *   related        passes
 *   invalid        ct_invalid
 *   untracked      (ND, MLD) the best rule, pass when none matches
 * A flood copy to a tracked port is checked statelessly (opener, never
 * committed). Work per call: one classifier lookup, three for a tracked
 * port (D, the reverse in the other direction, and the stateless one).
 */
#include <arpa/inet.h>
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_acl.h"
#include "pipeline/vf_logical.h"

/* The request type of an ICMP/ICMPv6 reply and the reverse (echo,
 * timestamp, information, address mask; ICMPv6 echo, node information);
 * other types map to themselves. */
static uint16_t icmp_reverse_type(bool v6, uint16_t type)
{
    static const uint8_t v4[][2] = {{8, 0}, {13, 14}, {15, 16}, {17, 18}};
    static const uint8_t v6p[][2] = {{128, 129}, {139, 140}};
    const uint8_t (*t)[2] = v6 ? v6p : v4;
    unsigned n = v6 ? 2 : 4;
    for (unsigned i = 0; i < n; i++) {
        if (type == t[i][0])
            return t[i][1];
        if (type == t[i][1])
            return t[i][0];
    }
    return type;
}

/* The best rule of direction to_port for packet k at port scope, reversed
 * (the packet the other side would send) when `reverse`. */
static bool acl_match(const struct vf_dp *dp, bool to_port, const struct vf_flow_key *k,
                      uint32_t scope, bool reverse, uint32_t *word, int32_t *prio)
{
    bool v6 = k->flags & VF_FLOW_IP6;
    uint16_t sp = 0, dp_ = 0;
    bool ports = k->flags & VF_FLOW_L4;
    if (ports) {
        sp = ntohs(k->sport);
        dp_ = ntohs(k->dport);
        if (reverse) {
            if (k->ip_proto == VF_IPPROTO_ICMP || k->ip_proto == VF_IPPROTO_ICMPV6) {
                sp = icmp_reverse_type(v6, sp);   /* type; the code stays */
            } else {
                uint16_t x = sp;
                sp = dp_;
                dp_ = x;
            }
        }
    }
    if (!v6) {
        const struct vf_classifier *cls = to_port ? dp->acl_out : dp->acl_in;
        if (!cls)
            return false;
        struct vf_cls_key ck = {
            .scope = scope,
            .ip_src = ntohl(reverse ? k->ip_dst : k->ip_src),
            .ip_dst = ntohl(reverse ? k->ip_src : k->ip_dst),
            .proto = k->ip_proto,
            .sport = sp, .dport = dp_, .no_ports = !ports,
        };
        return vf_cls_lookup(cls, &ck, word, prio);
    }
    const struct vf_classifier *cls = to_port ? dp->acl_out6 : dp->acl_in6;
    if (!cls)
        return false;
    struct vf_cls_key6 ck = {
        .scope = scope, .proto = k->ip_proto,
        .sport = sp, .dport = dp_, .no_ports = !ports,
    };
    memcpy(ck.src, reverse ? k->ip6_dst : k->ip6_src, 16);
    memcpy(ck.dst, reverse ? k->ip6_src : k->ip6_dst, 16);
    return vf_cls_lookup6(cls, &ck, word, prio);
}

/* The drop (or pass) a rule verdict means for direction to_port. */
static uint16_t verdict_drop(enum vf_acl_verdict v, bool to_port)
{
    switch (v) {
    case VF_ACL_V_DROP:
        return to_port ? VF_DROP_ACL_EGRESS : VF_DROP_ACL_INGRESS;
    case VF_ACL_V_REJECT:
        return VF_DROP_ACL_REJECT | VF_CTV_ANSWER;
    default:
        return VF_DROP_NONE;
    }
}

/* opener(D, k): what direction to_port of port lp says of k (reversed when
 * `reverse`) as the first packet of a connection. */
static uint16_t opener(const struct vf_dp *dp, const struct vf_lport *lp, bool to_port,
                       const struct vf_flow_key *k, bool reverse)
{
    uint32_t w;
    int32_t prio;
    if (acl_match(dp, to_port, k, lp->id, reverse, &w, &prio))
        return verdict_drop(vf_acl_word_verdict(w), to_port);
    bool stateful = lp->ct_flags & (to_port ? VF_LPORT_CT_TO : VF_LPORT_CT_FROM);
    return stateful ? VF_DROP_ACL_STATEFUL_DENY : VF_DROP_NONE;
}

static const char *v_name(uint16_t v)
{
    return v ? vf_drop_name(v & ~VF_CTV_ANSWER) : "pass";
}

/* A tracked port: records the check (or, for a flood copy, decides as a
 * new packet that is never committed). */
static int acl_tracked(struct vf_lctx *c, const struct vf_lport *lp, bool to_port,
                       const char *stage)
{
    const struct vf_flow_key *k = &c->key;
    uint16_t open = opener(c->dp, lp, to_port, k, false);

    if (c->flooding || !c->ct) {
        if (c->tr)
            vf_trace_note(c->tr, stage, "%s: stateful, %s: %s", lp->name,
                          c->flooding ? "flood copy" : "no conntrack", v_name(open));
        return open & ~VF_CTV_ANSWER;
    }
    if (c->ct->n >= VF_ACT_CT_MAX)
        return VF_DROP_NO_ACTION;   /* two checks at most by construction */
    struct vf_ct_check *ck = &c->ct->chk[c->ct->n++];
    uint32_t w;
    int32_t prio;
    uint16_t untracked = acl_match(c->dp, to_port, k, lp->id, false, &w, &prio)
                             ? verdict_drop(vf_acl_word_verdict(w), to_port)
                             : VF_DROP_NONE;
    uint16_t reply = opener(c->dp, lp, !to_port, k, true);
    memset(ck, 0, sizeof(*ck));
    ck->zone = lp->ct_zone;
    ck->verdict[VF_CTV_NEW] = open;
    ck->verdict[VF_CTV_EST] = open ? VF_DROP_ACL_CT_BLOCKED : VF_DROP_NONE;
    ck->verdict[VF_CTV_REPLY] = reply ? VF_DROP_ACL_CT_BLOCKED : VF_DROP_NONE;
    ck->verdict[VF_CTV_RELATED] = VF_DROP_NONE;
    ck->verdict[VF_CTV_INVALID] = VF_DROP_CT_INVALID;
    ck->verdict[VF_CTV_UNTRACKED] = untracked;
    if (!c->tr)
        return VF_DROP_NONE;

    vf_trace_note(c->tr, stage, "%s: stateful (zone %u): new %s%s, established "
                  "%s, reply %s, invalid drop", lp->name, lp->ct_zone, v_name(open),
                  open ? "" : " + commit", v_name(ck->verdict[VF_CTV_EST]),
                  v_name(ck->verdict[VF_CTV_REPLY]));
    if (!c->trace_ct || !c->frame)
        return VF_DROP_NONE;
    /* Trace: the state this packet would have now (nothing changes). */
    struct vf_ct_pkt p;
    struct vf_ct_result r;
    vf_ct_pkt_init(c->trace_ct, c->frame, c->frame_len, k, c->off, lp->ct_zone, &p);
    vf_ct_peek(c->trace_ct, &p, c->trace_now, &r);
    unsigned s = vf_ctv_of(&r);
    uint16_t v = ck->verdict[s];
    vf_trace_note(c->tr, "conntrack", "zone %u: %s%s%s -> %s", lp->ct_zone,
                  vf_ct_state_name(r.state),
                  r.state == VF_CT_ESTABLISHED && r.dir == VF_CT_REPLY ? " (reply)" : "",
                  r.conn != VF_CT_NONE ? "" : " (no connection)", v_name(v));
    vf_trace_ct_seen(c->tr, lp->ct_zone, r.state, r.dir == VF_CT_REPLY);
    return v & ~VF_CTV_ANSWER;
}

int vf_stage_acl(struct vf_lctx *c, bool from_port, uint32_t out)
{
    const char *stage = from_port ? "acl_ingress" : "acl_egress";
    const struct vf_lport *lp = &c->dp->ports[from_port ? c->in : out];
    const struct vf_flow_key *k = &c->key;
    bool v6 = k->flags & VF_FLOW_IP6;
    const struct vf_classifier *cls = from_port ? (v6 ? c->dp->acl_in6 : c->dp->acl_in)
                                                : (v6 ? c->dp->acl_out6 : c->dp->acl_out);

    if (!(k->flags & (VF_FLOW_IP4 | VF_FLOW_IP6))) {
        if (c->tr)
            vf_trace_note(c->tr, stage, "%s: allow (not IP)", lp->name);
        return VF_DROP_NONE;
    }
    if (lp->kind == VF_LPORT_VM && lp->local && lp->ct_flags)
        return acl_tracked(c, lp, !from_port, stage);
    if (!cls) {
        if (c->tr)
            vf_trace_note(c->tr, stage, "%s: allow (no rules)", lp->name);
        return VF_DROP_NONE;
    }
    uint32_t action;
    int32_t prio;
    if (!acl_match(c->dp, !from_port, k, lp->id, false, &action, &prio)) {
        if (c->tr)
            vf_trace_note(c->tr, stage, "%s: no rule matched: allow (default)",
                          lp->name);
        return VF_DROP_NONE;
    }
    enum vf_acl_verdict v = vf_acl_word_verdict(action);
    if (c->tr)
        vf_trace_note(c->tr, stage, "%s: rule %u (priority %d): %s", lp->name,
                      action & VF_ACL_W_INDEX, (int)prio, vf_acl_verdict_name(v));
    return verdict_drop(v, !from_port) & ~VF_CTV_ANSWER;
}
