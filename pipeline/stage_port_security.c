/* stage_port_security.c - a port with port_security only sends as itself.
 *
 * The source MAC must be the port's; an IPv4 source must be one of its
 * addresses (0.0.0.0 is allowed so DHCP can start); an ARP packet's sender
 * MAC must be the port's and its sender IP one of the port's addresses or
 * 0.0.0.0 (an ARP probe).
 *
 * IPv6, as OVN does it: the port's addresses are its MAC-derived link-local
 * address (always) and the IPv6 entries of its `ips`; with none modelled,
 * the link-local one is all it has. Checked in this order:
 *   - a router advertisement or a redirect never leaves a VM port
 *     (port_security_ra, port_security_redirect): routers are router
 *     ports, and one forged RA makes every neighbour route through the
 *     sender;
 *   - the source is one of the port's addresses, or `::` only for
 *     duplicate address detection: a neighbour solicitation to a
 *     solicited-node group for one of the port's own addresses without a
 *     link-layer option, or an MLD report to a link-scope group (Linux
 *     joins the solicited-node group that way before its address is
 *     valid); otherwise port_security_ipv6_source (port_security_nd for a
 *     DAD probe of an address that is not the port's: answering or
 *     probing another's tentative address takes it away);
 *   - neighbour discovery names only the port: the source link-layer
 *     option of a solicitation (neighbour or router) and the target
 *     link-layer option of an advertisement are the port's MAC or absent,
 *     and an advertisement's target is one of the port's addresses, the
 *     IPv6 twin of the ARP sender check (port_security_nd).
 * Other EtherTypes are checked on the MAC only: the model carries no other
 * addresses to enforce.
 *
 * Everything read is in the flow key (vf_parse.h keeps the ND target and
 * options there), so the decision is cached like every other.
 */
#include <arpa/inet.h>
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

static bool port_has_ip6(const struct vf_lport *lp, const uint8_t a[16])
{
    if (memcmp(a, lp->lla, 16) == 0)
        return true;
    for (unsigned i = 0; i < lp->n_ip6s; i++)
        if (memcmp(a, lp->ip6s[i], 16) == 0)
            return true;
    return false;
}

static bool ip6_is_unspecified(const uint8_t a[16])
{
    static const uint8_t zero[16];
    return memcmp(a, zero, 16) == 0;
}

/* ff02::1:ff00:0/104, where a DAD probe goes. */
static bool ip6_is_solicited_node(const uint8_t a[16])
{
    static const uint8_t pfx[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };
    return memcmp(a, pfx, 13) == 0;
}

static bool mac_is_zero(const uint8_t m[6])
{
    static const uint8_t zero[6];
    return memcmp(m, zero, 6) == 0;
}

/* The IPv6 rules above for a frame whose source MAC is the port's. */
static int check_ip6(const struct vf_lport *lp, const struct vf_flow_key *k,
                     const char **why)
{
    bool icmp = k->ip_proto == VF_IPPROTO_ICMPV6 && (k->flags & VF_FLOW_L4);
    unsigned type = icmp ? ntohs(k->sport) : 256;

    if (type == VF_ICMP6_RA) {
        *why = "a router advertisement from a VM port";
        return VF_DROP_PS_RA;
    }
    if (type == VF_ICMP6_REDIRECT) {
        *why = "a redirect from a VM port";
        return VF_DROP_PS_REDIRECT;
    }
    if (ip6_is_unspecified(k->ip6_src)) {
        bool mld = type == VF_ICMP6_MLD_REPORT || type == VF_ICMP6_MLD2_REPORT;

        if (mld && k->ip6_dst[0] == 0xff && k->ip6_dst[1] == 0x02)
            return VF_DROP_NONE;
        if (type != VF_ICMP6_NS || !ip6_is_solicited_node(k->ip6_dst)) {
            *why = "source :: outside duplicate address detection";
            return VF_DROP_PS_IP6_SOURCE;
        }
        if (!port_has_ip6(lp, k->nd_target)) {
            *why = "duplicate address detection for an address not the port's";
            return VF_DROP_PS_ND;
        }
        if (!mac_is_zero(k->arp_sha)) {
            *why = "duplicate address detection with a link-layer option";
            return VF_DROP_PS_ND;
        }
        return VF_DROP_NONE;
    }
    if (!port_has_ip6(lp, k->ip6_src)) {
        *why = "source IPv6 is not the port's";
        return VF_DROP_PS_IP6_SOURCE;
    }
    if ((type == VF_ICMP6_NS || type == VF_ICMP6_RS) &&
        !mac_is_zero(k->arp_sha) && memcmp(k->arp_sha, lp->mac, 6) != 0) {
        *why = "ND source link-layer address is not the port's MAC";
        return VF_DROP_PS_ND;
    }
    if (type == VF_ICMP6_NA) {
        if (!port_has_ip6(lp, k->nd_target)) {
            *why = "neighbour advertisement for an address not the port's";
            return VF_DROP_PS_ND;
        }
        if (!mac_is_zero(k->arp_tha) && memcmp(k->arp_tha, lp->mac, 6) != 0) {
            *why = "ND target link-layer address is not the port's MAC";
            return VF_DROP_PS_ND;
        }
    }
    return VF_DROP_NONE;
}

int vf_stage_port_security(struct vf_lctx *c)
{
    const struct vf_lport *lp = &c->dp->ports[c->in];
    const struct vf_flow_key *k = &c->key;
    const char *why = NULL;
    int reason = VF_DROP_PORT_SECURITY;

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
    else if (k->flags & VF_FLOW_IP6)
        reason = check_ip6(lp, k, &why);

    if (why) {
        if (c->tr)
            vf_trace_note(c->tr, "port_security", "drop: %s", why);
        return reason;
    }
    if (c->tr)
        vf_trace_note(c->tr, "port_security", "allowed: source is port %s's",
                      lp->name);
    return VF_DROP_NONE;
}
