/* stage_arp_responder.c - answer ARP for addresses the model knows.
 *
 * An ARP request for an IPv4 address of a VM port or router port on the
 * same switch is answered at the source host: the reply goes back out the
 * in-port and the request is never flooded (NVP/OVN's ARP suppression: the
 * controller knows every binding, so broadcast need not cross the fabric).
 * Not answered, so they are switched as usual: gratuitous ARP (sender IP
 * == target IP) and requests for the requester's own address (duplicate
 * address detection must not see a conflict).
 */
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

bool vf_stage_arp_responder(struct vf_lctx *c)
{
    const struct vf_flow_key *k = &c->key;
    if (!(k->flags & VF_FLOW_ARP) || k->arp_op != 1)
        return false;
    char ip[16];
    if (c->tr)
        vf_fmt_ip(ip, k->ip_dst);
    if (k->ip_dst == k->ip_src) {
        if (c->tr)
            vf_trace_note(c->tr, "arp_responder", "gratuitous ARP for %s: not answered", ip);
        return false;
    }
    uint32_t owner = vf_hmap_get(&c->dp->by_ip, k->ip_dst);
    if (owner == UINT32_MAX || owner == c->in) {
        if (c->tr)
            vf_trace_note(c->tr, "arp_responder", "%s: %s", ip,
                          owner == UINT32_MAX ? "not known on this switch"
                                              : "is the requester's own");
        return false;
    }
    const struct vf_lport *in = &c->dp->ports[c->in];
    const struct vf_lport *o = &c->dp->ports[owner];
    struct vf_act *a = c->act;
    a->flags |= VF_ACT_ARP_REPLY;
    memcpy(a->eth_src, o->mac, 6);
    a->out[0] = (struct vf_act_out){
        .fport = in->fport ? (uint16_t)in->fport->index : 0,
        .chassis = VF_CHASSIS_NONE,
        .out_lport = in->id,
    };
    a->n_out = in->fport ? 1 : 0;
    if (!in->fport)
        a->drop = VF_DROP_UNKNOWN_PORT;
    a->out_lport = in->id;
    a->datapath = c->dp->id;
    if (c->tr) {
        char mac[18];
        vf_fmt_mac(mac, o->mac);
        vf_trace_note(c->tr, "arp_responder", "%s is at %s (%s): reply out %s",
                      ip, mac, o->name, in->name);
    }
    return true;
}
