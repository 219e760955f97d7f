/* stage_decap_ingress.c - the receiving host: tunnel -> local port.
 *
 * The source host ran the whole pipeline; here only the datapath (from
 * the VNI) and the egress port are found, the port's to-port ACLs run and
 * the frame is delivered. With our Geneve option the egress port is named
 * and must be a local VM port of that VNI's switch (anything else would
 * let one tenant address another's port); out port 0 means flood. VXLAN
 * and option-less Geneve name no port: the destination MAC decides, and a
 * group or unknown MAC floods to this host's ports of the switch.
 *
 * The sender: process.c accepted the packet only from a remote chassis
 * (`from`). A named ingress port must be a VM port on that chassis, or a
 * router port of the switch (routers are distributed: every chassis runs
 * them, so any chassis may send from one); anything else is a chassis
 * speaking for another's port (tunnel_in_port_not_on_chassis). VXLAN and
 * option-less Geneve name no ingress port: only the chassis is checked.
 */
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

static void fail(struct vf_lctx *c, int reason, const char *why)
{
    if (c->tr)
        vf_trace_note(c->tr, "decap_ingress", "drop: %s", why);
    c->act->drop = (uint16_t)reason;
    c->act->n_out = 0;
}

/* true when the Geneve ingress port may come from chassis `from`. */
static bool in_port_from(const struct vf_lctx *c, const struct vf_dp *dp,
                         uint32_t in_lport, uint32_t from)
{
    uint32_t i = vf_hmap_get(&dp->by_id, in_lport);
    if (i == UINT32_MAX)
        return false;
    const struct vf_lport *lp = &dp->ports[i];
    if (lp->kind == VF_LPORT_ROUTER)
        return true;
    if (lp->chassis == from)
        return true;
    if (c->tr)
        vf_trace_note(c->tr, "decap_ingress", "ingress port %s lives on %s, "
                      "not on the sender %s", lp->name,
                      c->t->chassis[lp->chassis].name, c->t->chassis[from].name);
    return false;
}

void vf_stage_decap_ingress(struct vf_lctx *c, const struct vf_tunnel_md *md,
                            uint32_t from)
{
    const struct vf_dp *dp = vf_tables_dp_by_vni(c->t, md->vni);
    struct vf_act *a = c->act;
    int r;

    a->flags |= VF_ACT_DECAP;
    if (!dp) {
        fail(c, VF_DROP_TUN_UNKNOWN_VNI, "VNI not known here");
        return;
    }
    c->dp = dp;
    a->datapath = dp->id;
    if (md->has_ports && !in_port_from(c, dp, md->in_lport, from)) {
        fail(c, VF_DROP_TUN_IN_PORT_NOT_ON_CHASSIS,
             "ingress port not on the sending chassis");
        return;
    }
    c->in = vf_hmap_get(&dp->by_id, md->in_lport);
    uint32_t in_lport = md->has_ports ? md->in_lport : 0;
    uint32_t out = UINT32_MAX;

    if (md->has_ports && md->out_lport != 0) {
        out = vf_hmap_get(&dp->by_id, md->out_lport);
        if (out == UINT32_MAX) {
            fail(c, VF_DROP_TUN_BAD_EGRESS, "egress port not in this VNI");
            return;
        }
    } else if (!(c->key.eth_dst[0] & 1)) {
        out = vf_hmap_get(&dp->by_mac, vf_mac_key(c->key.eth_dst));
    }
    if (out == UINT32_MAX) {
        if (c->tr)
            vf_trace_note(c->tr, "decap_ingress", "vni %u (%s): flood locally",
                          md->vni, dp->name);
        r = vf_stage_flood(c, true, in_lport);
        if (r)
            fail(c, r, "flood reached no port");
        return;
    }
    const struct vf_lport *lp = &dp->ports[out];
    if (lp->kind != VF_LPORT_VM || !lp->local) {
        fail(c, VF_DROP_TUN_BAD_EGRESS, "egress port is not a local VM port");
        return;
    }
    if (c->tr)
        vf_trace_note(c->tr, "decap_ingress", "vni %u (%s): egress %s",
                      md->vni, dp->name, lp->name);
    /* Redirected to this gateway chassis to learn its next hop's MAC
     * (vf_tables.h, vf_rport.redirect). */
    static const uint8_t to_gateway[6];
    if ((lp->id & 1u << 31) && !memcmp(c->key.eth_dst, to_gateway, 6) &&
        (r = vf_stage_gw_resolve(c)) != VF_DROP_NONE) {
        fail(c, r, "next hop unknown at the gateway");
        return;
    }
    r = vf_stage_output(c, out);
    if (r)
        fail(c, r, "egress refused");
}
