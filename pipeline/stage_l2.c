/* stage_l2.c - logical switching: destination MAC -> logical port.
 *
 * The model gives every port's MAC (VM ports and the router ports attached
 * to the switch), so there is no learning. A group address (broadcast,
 * multicast) or a MAC the switch does not know floods; a frame addressed
 * to its own in port is a hairpin and is dropped.
 */
#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

uint32_t vf_stage_l2(struct vf_lctx *c, int *reason)
{
    const struct vf_flow_key *k = &c->key;
    char mac[18];
    if (c->tr)
        vf_fmt_mac(mac, k->eth_dst);
    if (k->eth_dst[0] & 1) {
        if (c->tr)
            vf_trace_note(c->tr, "l2", "%s is a group address: flood", mac);
        return VF_L2_FLOOD;
    }
    uint32_t i = vf_hmap_get(&c->dp->by_mac, vf_mac_key(k->eth_dst));
    if (i == UINT32_MAX) {
        if (c->tr)
            vf_trace_note(c->tr, "l2", "%s unknown on %s: flood", mac, c->dp->name);
        return VF_L2_FLOOD;
    }
    if (i == c->in) {
        if (c->tr)
            vf_trace_note(c->tr, "l2", "%s is the in port %s: drop", mac,
                          c->dp->ports[i].name);
        *reason = VF_DROP_HAIRPIN;
        return VF_L2_DROP;
    }
    if (c->tr)
        vf_trace_note(c->tr, "l2", "%s -> port %s (lport %u%s)", mac,
                      c->dp->ports[i].name, c->dp->ports[i].id,
                      c->dp->ports[i].kind == VF_LPORT_ROUTER ? ", router port" : "");
    return i;
}
