/* stage_router.c - the distributed logical router, one hop.
 *
 * A frame sent to a router port's MAC is routed right here at the source
 * host (every host runs every router of its tenants): TTL check, longest
 * prefix match over the router's connected networks and static routes
 * (sorted longest first at compile time, so the first match wins), next
 * hop's MAC from the model (no ARP on the wire; outside the fabric, behind
 * a gateway port, the next hops mgmt learned by ARP on the physical
 * network and compiled into the port), and the frame continues
 * as the ingress of the next switch from the outgoing router port. The
 * header rewrite itself is recorded in the key copy and applied once to
 * the packet (process.c) whatever the number of hops.
 */
#include <arpa/inet.h>
#include <string.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_logical.h"

static int route_drop(struct vf_lctx *c, int reason, const char *fmt,
                      const char *arg)
{
    if (c->tr)
        vf_trace_note(c->tr, "router", fmt, arg);
    return reason;
}

/* The first (longest) route of r that holds d (host order), or NULL. */
static const struct vf_route *lpm(const struct vf_router *r, uint32_t d)
{
    for (uint32_t i = 0; i < r->n_routes; i++)
        if ((d & r->routes[i].mask) == r->routes[i].prefix)
            return &r->routes[i];
    return NULL;
}

int vf_stage_gw_resolve(struct vf_lctx *c)
{
    struct vf_flow_key *k = &c->key;
    uint32_t si = vf_hmap_get(&c->dp->by_mac, vf_mac_key(k->eth_src));
    const struct vf_lport *sp = si == UINT32_MAX ? NULL : &c->dp->ports[si];
    const struct vf_router *r = sp && sp->kind == VF_LPORT_ROUTER
        ? vf_tables_router_by_id(c->t, sp->router_id) : NULL;
    const struct vf_route *rt;
    char nhs[16];

    if (!r || sp->rport_idx >= r->n_ports || !(k->flags & VF_FLOW_IP4))
        return route_drop(c, VF_DROP_ROUTER_NO_NH_MAC, "%s: not routed out "
                          "a gateway port of this switch", c->dp->name);
    rt = lpm(r, ntohl(k->ip_dst));
    const struct vf_rport *orp = &r->ports[sp->rport_idx];
    uint32_t nh = rt && rt->connected ? k->ip_dst : rt ? rt->nexthop : 0;
    for (uint32_t i = 0; rt && rt->out == sp->rport_idx && i < orp->n_neigh;
         i++)
        if (orp->neigh[i].ip == nh) {
            memcpy(k->eth_dst, orp->neigh[i].mac, 6);
            c->act->flags |= VF_ACT_SET_MAC;
            memcpy(c->act->eth_src, k->eth_src, 6);
            memcpy(c->act->eth_dst, k->eth_dst, 6);
            if (c->tr) {
                char dmac[18];
                vf_fmt_ip(nhs, nh);
                vf_fmt_mac(dmac, k->eth_dst);
                vf_trace_note(c->tr, "router", "%s: next hop %s of gateway "
                              "port %s is %s here", r->name, nhs, orp->name,
                              dmac);
            }
            return VF_DROP_NONE;
        }
    vf_fmt_ip(nhs, nh);
    return route_drop(c, VF_DROP_ROUTER_NO_NH_MAC, "next hop %s has no known "
                      "MAC at the gateway chassis either", nhs);
}

int vf_stage_router(struct vf_lctx *c, uint32_t rport)
{
    const struct vf_lport *lp = &c->dp->ports[rport];
    const struct vf_router *r = vf_tables_router_by_id(c->t, lp->router_id);
    struct vf_flow_key *k = &c->key;
    char dst[16] = "";

    if (!r)
        return route_drop(c, VF_DROP_ROUTER_MISSING, "router of %s not in the tables",
                          lp->name);
    if (!(k->flags & VF_FLOW_IP4))
        return route_drop(c, VF_DROP_ROUTER_NOT_IP4, "%s: only IPv4 is routed",
                          r->name);
    if (c->hops >= VF_LOGICAL_MAX_HOPS)
        return route_drop(c, VF_DROP_LOOP, "%s: too many router hops", r->name);
    if (k->ip_ttl <= 1)
        return route_drop(c, VF_DROP_TTL_EXPIRED, "%s: TTL expired", r->name);
    if (c->tr)
        vf_fmt_ip(dst, k->ip_dst);
    for (uint32_t i = 0; i < r->n_ports; i++)
        if (r->ports[i].ip == k->ip_dst)
            return route_drop(c, VF_DROP_ROUTER_OWN_ADDR,
                              "%s is the router's own address: not answered", dst);

    const struct vf_route *rt = lpm(r, ntohl(k->ip_dst));
    if (!rt || rt->out == UINT32_MAX)
        return route_drop(c, VF_DROP_NO_ROUTE, "no route to %s", dst);

    const struct vf_rport *orp = &r->ports[rt->out];
    uint32_t nh = rt->connected ? k->ip_dst : rt->nexthop;
    const struct vf_dp *ndp = vf_tables_dp_by_id(c->t, orp->dp_id);
    if (!ndp)
        return route_drop(c, VF_DROP_ROUTER_OUT_SWITCH, "switch of %s not in the tables",
                          orp->name);
    uint32_t nin = vf_hmap_get(&ndp->by_id, orp->lport_id);
    uint32_t nhi = vf_hmap_get(&ndp->by_ip, nh);
    if (nin == UINT32_MAX)
        return route_drop(c, VF_DROP_ROUTER_OUT_PORT, "port %s not on its switch",
                          orp->name);
    /* A next hop the model has, else one learned outside (a gateway
     * port's physical network, at most VF_RPORT_MAX_NEIGH). */
    const uint8_t *nh_mac = NULL;
    const char *nh_name = "learned";
    if (nhi != UINT32_MAX && nhi != nin) {
        nh_mac = ndp->ports[nhi].mac;
        nh_name = ndp->ports[nhi].name;
    }
    for (uint32_t i = 0; !nh_mac && i < orp->n_neigh; i++)
        if (orp->neigh[i].ip == nh)
            nh_mac = orp->neigh[i].mac;
    static const uint8_t to_gateway[6];
    if (!nh_mac && orp->redirect) {
        nh_mac = to_gateway;
        nh_name = "resolved at the gateway chassis";
    }
    if (!nh_mac) {
        char nhs[16];
        vf_fmt_ip(nhs, nh);
        return route_drop(c, VF_DROP_ROUTER_NO_NH_MAC, "next hop %s has no known MAC",
                          nhs);
    }
    if (c->tr) {
        char nhs[16], smac[18], dmac[18], pfx[16];
        vf_fmt_ip(nhs, nh);
        vf_fmt_mac(smac, orp->mac);
        vf_fmt_mac(dmac, nh_mac);
        vf_fmt_ip(pfx, htonl(rt->prefix));
        vf_trace_note(c->tr, "router",
                      "%s: %s via %s/%u (%s) out %s, next hop %s (%s), "
                      "ttl %u -> %u, eth %s -> %s",
                      r->name, dst, pfx, rt->plen,
                      rt->connected ? "connected" : "static", orp->name, nhs,
                      nh_name, k->ip_ttl, k->ip_ttl - 1, smac, dmac);
    }
    memcpy(k->eth_src, orp->mac, 6);
    memcpy(k->eth_dst, nh_mac, 6);
    k->ip_ttl--;
    c->hops++;
    c->dp = ndp;
    c->in = nin;
    return VF_DROP_NONE;
}
