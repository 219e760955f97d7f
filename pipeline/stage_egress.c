/* stage_egress.c - logical->physical: deliver locally or tunnel.
 *
 * A local VM port gets the switch's to-port ACLs and then its fabric
 * port. A VM port on another chassis gets a tunnel output toward that
 * chassis carrying the datapath's VNI and the in/out logical ports; its
 * to-port ACLs run on the receiving host (decap-ingress), which owns the
 * port. A flood is every VM port of the switch but the in port: each local
 * one through its own egress ACL, and one tunnel copy (out port 0) per
 * remote chassis with ports on the switch; the receiver floods locally.
 * A flood copy to a port with stateful ACLs is checked without conntrack
 * (as a new packet that is never committed).
 */
#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

static int add_out(struct vf_lctx *c, struct vf_act_out o)
{
    struct vf_act *a = c->act;
    if (a->n_out >= VF_ACT_MAX_OUT)
        return VF_DROP_FLOOD_TOO_MANY;   /* bounded flood; counted, not silent */
    if (a->n_out == 0)
        a->out_lport = o.out_lport;
    a->out[a->n_out++] = o;
    return VF_DROP_NONE;
}

int vf_stage_output(struct vf_lctx *c, uint32_t out)
{
    const struct vf_dp *dp = c->dp;
    const struct vf_lport *lp = &dp->ports[out];
    int r;

    if (lp->kind != VF_LPORT_VM) {
        if (c->tr)
            vf_trace_note(c->tr, "output", "%s is a router port: drop", lp->name);
        return VF_DROP_OUTPUT_ROUTER_PORT;
    }
    if (lp->local) {
        if (!lp->fport) {
            if (c->tr)
                vf_trace_note(c->tr, "output", "%s has no fabric port", lp->name);
            return VF_DROP_UNKNOWN_PORT;
        }
        r = vf_stage_acl(c, false, out);
        if (r)
            return r;
        r = add_out(c, (struct vf_act_out){
            .fport = (uint16_t)lp->fport->index,
            .chassis = VF_CHASSIS_NONE,
            .vni = dp->vni,
            .out_lport = lp->id,
        });
        if (!r && c->tr)
            vf_trace_note(c->tr, "output", "deliver to %s", lp->name);
        return r;
    }
    if (!c->t->uplink) {
        if (c->tr)
            vf_trace_note(c->tr, "output", "%s is remote and there is no uplink",
                          lp->name);
        return VF_DROP_TUN_NO_UPLINK;
    }
    if (lp->chassis_down) {
        if (c->tr)
            vf_trace_note(c->tr, "output", "%s is on chassis %s, which is down",
                          lp->name, c->t->chassis[lp->chassis].name);
        return VF_DROP_TUN_CHASSIS_DOWN;
    }
    r = add_out(c, (struct vf_act_out){
        .fport = (uint16_t)c->t->uplink->index,
        .chassis = lp->chassis,
        .vni = dp->vni,
        .in_lport = dp->ports[c->in].id,
        .out_lport = lp->id,
    });
    if (!r && c->tr)
        vf_trace_note(c->tr, "output", "tunnel to %s (chassis %s, vni %u)",
                      lp->name, c->t->chassis[lp->chassis].name, dp->vni);
    return r;
}

int vf_stage_flood(struct vf_lctx *c, bool tunnelled, uint32_t in_lport)
{
    const struct vf_dp *dp = c->dp;
    int first = VF_DROP_NONE;

    /* A copy to a tracked port is checked as a new packet and never
     * committed (stage_acl.c): one packet cannot carry a conntrack
     * check per copy. */
    c->flooding = true;
    for (uint32_t i = 0; i < dp->n_flood_local; i++) {
        uint32_t idx = dp->flood_local[i];
        if (dp->ports[idx].id == in_lport)
            continue;
        int r = vf_stage_output(c, idx);
        if (r && !first)
            first = r;
    }
    c->flooding = false;
    if (!tunnelled && c->t->uplink) {
        for (uint32_t i = 0; i < dp->n_flood_remote; i++) {
            uint16_t ch = dp->flood_remote[i];
            int r = add_out(c, (struct vf_act_out){
                .fport = (uint16_t)c->t->uplink->index,
                .chassis = ch,
                .vni = dp->vni,
                .in_lport = in_lport,
                .out_lport = 0,
            });
            if (r && !first)
                first = r;
            if (!r && c->tr)
                vf_trace_note(c->tr, "output", "flood copy to chassis %s (vni %u)",
                              c->t->chassis[ch].name, dp->vni);
        }
    }
    if (c->act->n_out)
        return VF_DROP_NONE;
    if (c->tr)
        vf_trace_note(c->tr, "output", "flood on %s reached no port", dp->name);
    return first ? first : VF_DROP_FLOOD_EMPTY;
}
