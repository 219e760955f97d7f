/* stage_acl.c - stateless ACLs: the switch's from-port and to-port rules.
 *
 * Each datapath has up to two sealed classifiers (vf_classifier.h), one per
 * direction; a rule's scope is the logical port id it is limited to, or
 * wildcarded for a switch-wide rule. The rule's action word holds the
 * model rule's index in the low 31 bits and "drop" in the top bit, so the
 * trace can name the rule. No rule matched means allow. ACLs match IPv4
 * fields and apply to IPv4 packets only. Fragments are never reassembled:
 * a first fragment carries the ports and is matched like a whole packet;
 * later ones carry none and only rules without a port range match them.
 */
#include <arpa/inet.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

int vf_stage_acl(struct vf_lctx *c, bool from_port, uint32_t out)
{
    const struct vf_classifier *cls = from_port ? c->dp->acl_in : c->dp->acl_out;
    const char *stage = from_port ? "acl_ingress" : "acl_egress";
    const struct vf_lport *lp = &c->dp->ports[from_port ? c->in : out];
    const struct vf_flow_key *k = &c->key;

    if (!cls || !(k->flags & VF_FLOW_IP4)) {
        if (c->tr)
            vf_trace_note(c->tr, stage, "%s: allow (%s)", lp->name,
                          cls ? "not IPv4" : "no rules");
        return VF_DROP_NONE;
    }
    struct vf_cls_key ck = {
        .scope = lp->id,
        .ip_src = ntohl(k->ip_src),
        .ip_dst = ntohl(k->ip_dst),
        .proto = k->ip_proto,
    };
    /* Ports only exist for an L4 header. A later fragment has none, so it
     * is matched on L3 only: a rule with a port range never matches it,
     * rules on proto and addresses do (docs/config.md, fragments). */
    if (k->flags & VF_FLOW_L4) {
        ck.sport = ntohs(k->sport);
        ck.dport = ntohs(k->dport);
    } else {
        ck.no_ports = 1;
    }
    uint32_t action;
    int32_t prio;
    if (!vf_cls_lookup(cls, &ck, &action, &prio)) {
        if (c->tr)
            vf_trace_note(c->tr, stage, "%s: no rule matched: allow (default)",
                          lp->name);
        return VF_DROP_NONE;
    }
    bool drop = action >> 31;
    if (c->tr)
        vf_trace_note(c->tr, stage, "%s: rule %u (priority %d): %s", lp->name,
                      action & 0x7fffffffu, (int)prio, drop ? "drop" : "allow");
    if (!drop)
        return VF_DROP_NONE;
    return from_port ? VF_DROP_ACL_INGRESS : VF_DROP_ACL_EGRESS;
}
