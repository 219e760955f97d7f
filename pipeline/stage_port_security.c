/* stage_port_security.c - a port with port_security only sends as itself.
 *
 * The source MAC must be the port's; an IPv4 source must be one of its
 * addresses (0.0.0.0 is allowed so DHCP can start); an ARP packet's sender
 * MAC must be the port's and its sender IP one of the port's addresses or
 * 0.0.0.0 (an ARP probe). Other EtherTypes are checked on the MAC only:
 * the model carries no other addresses to enforce.
 */
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

static bool port_has_ip(const struct vf_lport *lp, uint32_t ip)
{
    for (unsigned i = 0; i < lp->n_ips; i++)
        if (lp->ips[i] == ip)
            return true;
    return false;
}

int vf_stage_port_security(struct vf_lctx *c)
{
    const struct vf_lport *lp = &c->dp->ports[c->in];
    const struct vf_flow_key *k = &c->key;
    const char *why = NULL;

    if (!lp->port_security) {
        if (c->tr)
            vf_trace_note(c->tr, "port_security", "off for port %s", lp->name);
        return VF_DROP_NONE;
    }
    if (memcmp(k->eth_src, lp->mac, 6) != 0)
        why = "source MAC is not the port's";
    else if ((k->flags & VF_FLOW_IP4) && k->ip_src != 0 &&
             !port_has_ip(lp, k->ip_src))
        why = "source IPv4 is not the port's";
    else if ((k->flags & VF_FLOW_ARP) && memcmp(k->arp_sha, lp->mac, 6) != 0)
        why = "ARP sender MAC is not the port's";
    else if ((k->flags & VF_FLOW_ARP) && k->ip_src != 0 &&
             !port_has_ip(lp, k->ip_src))
        why = "ARP sender IP is not the port's";

    if (why) {
        if (c->tr)
            vf_trace_note(c->tr, "port_security", "drop: %s", why);
        return VF_DROP_PORT_SECURITY;
    }
    if (c->tr)
        vf_trace_note(c->tr, "port_security", "allowed: source is port %s's",
                      lp->name);
    return VF_DROP_NONE;
}
