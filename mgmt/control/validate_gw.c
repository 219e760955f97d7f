/* validate_gw.c - the gateways' rules (issue 16): physical switches and
 * their gateway ports, NAT rules, load balancers and local
 * physical_networks, checked against the rest of the model
 * (validate_int.h). Each error names the entry and the field.
 *
 * The rules (docs/config.md "Gateways, NAT, load balancers"):
 * - a router port on a physical switch is a gateway port and lists its
 *   gateway_chassis (chassis of the fabric, each once); only such a port
 *   may; a router has at most one;
 * - a NAT rule needs its router's gateway port, and its external_ip lies
 *   inside that port's subnet; an external IP belongs to one router, and
 *   within it only snat rules share one; dnat and dnat_and_snat never take
 *   the gateway port's own address; snat's logical_ip is a prefix, the
 *   others' an address; one logical address per floating IP;
 * - a load balancer has backends (each once), a VIP that no port of its
 *   tenant has, and attaches to switches or routers of its tenant;
 * - local.physical_networks: interface names a host can have, each once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/validate_int.h"

static uint32_t mask_of(unsigned plen)
{
    return plen == 0 ? 0 : htonl(~0u << (32 - plen));
}

static bool unicast(uint32_t ip)
{
    uint32_t h = ntohl(ip);
    return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe;
}

static const struct vf_model_rport *gw_port(const struct vf_model_router *lr,
                                            size_t *idx)
{
    for (size_t p = 0; p < lr->n_ports; p++)
        if (lr->ports[p].n_gw_chassis) {
            if (idx)
                *idx = p;
            return &lr->ports[p];
        }
    return NULL;
}

/* ---- physical switches and gateway ports ---- */

static int check_physical(struct mv *v, size_t t)
{
    struct vf_model_tenant *tn = &v->m->tenants[t];

    for (size_t s = 0; s < tn->n_switches; s++) {
        const struct vf_model_physical *ph = &tn->switches[s].physical;
        struct ent e = ent2(VF_KIND_SWITCH, t, s);

        if (!ph->network[0] && ph->vlan)
            return mv_fail(v, e, "physical.network", "is missing (the "
                           "physical network the vlan is on)");
        if (ph->vlan > 4094)
            return mv_fail(v, e, "physical.vlan", "%u is out of range "
                           "0..4094 (0: untagged)", ph->vlan);
    }
    for (size_t r = 0; r < tn->n_routers; r++) {
        struct vf_model_router *lr = &tn->routers[r];
        size_t first = SIZE_MAX;

        for (size_t p = 0; p < lr->n_ports; p++) {
            struct vf_model_rport *rp = &lr->ports[p];
            struct ent e = ent3(VF_KIND_RPORT, t, r, p);
            const struct vf_model_switch *ls = &tn->switches[rp->switch_idx];
            bool phys = ls->physical.network[0] != '\0';

            if (rp->n_gw_chassis > VF_MODEL_MAX_GW_CHASSIS)
                return mv_fail(v, e, "gateway_chassis", "has %u chassis (at "
                               "most %d)", rp->n_gw_chassis,
                               VF_MODEL_MAX_GW_CHASSIS);
            if (rp->n_gw_chassis && !phys)
                return mv_fail(v, e, "gateway_chassis", "only applies to a "
                               "router port on a physical switch (switch %s "
                               "has no physical:)", ls->name);
            if (!rp->n_gw_chassis && phys)
                return mv_fail(v, e, "gateway_chassis", "is missing: switch "
                               "%s is physical (network %s), so this is a "
                               "gateway port and needs the chassis that "
                               "serve it, in order", ls->name,
                               ls->physical.network);
            if (rp->n_gw_chassis && first != SIZE_MAX)
                return mv_fail(v, e, "gateway_chassis", "is set but router "
                               "%s already has gateway port %s (one per "
                               "router)", lr->name, lr->ports[first].name);
            if (rp->n_gw_chassis)
                first = p;
            for (unsigned i = 0; i < rp->n_gw_chassis; i++) {
                rp->gw_chassis_idx[i] = vf_model_find_chassis(
                    v->m, rp->gw_chassis[i]);
                if (rp->gw_chassis_idx[i] < 0)
                    return mv_fail(v, e, "gateway_chassis", "\"%s\" is not "
                                   "a chassis of the fabric",
                                   rp->gw_chassis[i]);
                for (unsigned j = 0; j < i; j++)
                    if (rp->gw_chassis_idx[j] == rp->gw_chassis_idx[i])
                        return mv_fail(v, e, "gateway_chassis", "\"%s\" is "
                                       "listed twice", rp->gw_chassis[i]);
            }
        }
    }
    return 0;
}

/* ---- NAT ---- */

static int check_nat(struct mv *v, size_t t, size_t r, size_t i)
{
    const struct vf_model_router *lr = &v->m->tenants[t].routers[r];
    const struct vf_model_nat *n = &lr->nats[i];
    const struct vf_model_rport *gw = gw_port(lr, NULL);
    struct ent e = ent3(VF_KIND_NAT, t, r, i);
    char ip[INET_ADDRSTRLEN], ip2[INET_ADDRSTRLEN];
    uint32_t gm;
    bool any_range = n->port_lo == 0 && n->port_hi == 65535;

    if (!vf_model_enum_name(&vf_nat_types, (int)n->type))
        return mv_fail(v, e, "type", "%d is not snat, dnat or dnat_and_snat",
                       (int)n->type);
    if (!gw)
        return mv_fail(v, e, "external_ip", "needs a gateway port on router "
                       "%s (a router port on a physical switch, with "
                       "gateway_chassis)", lr->name);
    gm = mask_of(gw->plen);
    if (!unicast(n->external_ip) || (n->external_ip & gm) != (gw->ip & gm))
        return mv_fail(v, e, "external_ip", "%s is not in the subnet of "
                       "gateway port %s (%s/%u)", ip_str(n->external_ip, ip),
                       gw->name, ip_str(gw->ip, ip2), gw->plen);
    if (gw->plen <= 30 && ((n->external_ip & ~gm) == 0 ||
                           (n->external_ip & ~gm) == ~gm))
        return mv_fail(v, e, "external_ip", "%s is the %s address of "
                       "gateway port %s's subnet", ip_str(n->external_ip, ip),
                       (n->external_ip & ~gm) == 0 ? "network" : "broadcast",
                       gw->name);
    if (n->type != VF_NAT_SNAT && n->external_ip == gw->ip)
        return mv_fail(v, e, "external_ip", "%s is gateway port %s's own "
                       "address (only snat may use it; a %s needs an "
                       "address of its own)", ip_str(n->external_ip, ip),
                       gw->name, vf_model_enum_name(&vf_nat_types,
                                                    (int)n->type));
    if (n->logical_plen > 32 || (n->logical_ip & ~mask_of(n->logical_plen)))
        return mv_fail(v, e, "logical_ip", "%s/%u has host bits set",
                       ip_str(n->logical_ip, ip), n->logical_plen);
    if (n->type != VF_NAT_SNAT && n->logical_plen != 32)
        return mv_fail(v, e, "logical_ip", "%s/%u is a prefix; %s needs "
                       "one address", ip_str(n->logical_ip, ip),
                       n->logical_plen, vf_model_enum_name(&vf_nat_types,
                                                           (int)n->type));
    if (n->type != VF_NAT_SNAT && !unicast(n->logical_ip))
        return mv_fail(v, e, "logical_ip", "%s is not a unicast host "
                       "address", ip_str(n->logical_ip, ip));
    if (!any_range && n->type != VF_NAT_SNAT)
        return mv_fail(v, e, "external_port_range", "only applies to type "
                       "snat");
    if (!any_range && (n->port_lo == 0 || n->port_lo > n->port_hi))
        return mv_fail(v, e, "external_port_range", "%u-%u is not a range "
                       "of ports 1..65535", n->port_lo, n->port_hi);
    for (size_t j = 0; j < i; j++) {
        const struct vf_model_nat *o = &lr->nats[j];
        bool both_snat = n->type == VF_NAT_SNAT && o->type == VF_NAT_SNAT;

        if (o->external_ip == n->external_ip && !both_snat)
            return mv_fail(v, e, "external_ip", "%s overlaps nat[%zu] (%s "
                           "of the same address; only snat rules may share "
                           "an external IP)", ip_str(n->external_ip, ip), j,
                           vf_model_enum_name(&vf_nat_types, (int)o->type));
        if (both_snat && o->logical_ip == n->logical_ip &&
            o->logical_plen == n->logical_plen)
            return mv_fail(v, e, "logical_ip", "%s/%u is already SNATed by "
                           "nat[%zu]", ip_str(n->logical_ip, ip),
                           n->logical_plen, j);
        if (n->type != VF_NAT_SNAT && o->type != VF_NAT_SNAT &&
            o->logical_ip == n->logical_ip)
            return mv_fail(v, e, "logical_ip", "%s already has nat[%zu] "
                           "(external %s)", ip_str(n->logical_ip, ip), j,
                           ip_str(o->external_ip, ip2));
    }
    return 0;
}

/* An external IP is one router's: found across the fabric by sorting. */
struct ext_ent {
    uint32_t ip;
    size_t t, r, i;             /* model order */
};

static int ext_cmp(const void *pa, const void *pb)
{
    const struct ext_ent *a = pa, *b = pb;

    if (a->ip != b->ip)
        return ntohl(a->ip) < ntohl(b->ip) ? -1 : 1;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->r != b->r)
        return a->r < b->r ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

int check_nat_fabric(struct mv *v)
{
    const struct vf_model *m = v->m;
    struct ext_ent *x;
    size_t n = 0, k = 0;
    int rc = 0;

    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t r = 0; r < m->tenants[t].n_routers; r++)
            n += m->tenants[t].routers[r].n_nats;
    if (n < 2)
        return 0;
    x = calloc(n, sizeof(*x));
    if (!x)
        return -ENOMEM;
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t r = 0; r < m->tenants[t].n_routers; r++)
            for (size_t i = 0; i < m->tenants[t].routers[r].n_nats; i++)
                x[k++] = (struct ext_ent){
                    m->tenants[t].routers[r].nats[i].external_ip, t, r, i };
    qsort(x, n, sizeof(*x), ext_cmp);
    for (size_t i = 1; i < n && rc == 0; i++) {
        const struct ext_ent *a = &x[i - 1], *b = &x[i];
        char ip[INET_ADDRSTRLEN];

        if (a->ip != b->ip || (a->t == b->t && a->r == b->r))
            continue;
        rc = mv_fail(v, ent3(VF_KIND_NAT, b->t, b->r, b->i), "external_ip",
                     "%s overlaps nat[%zu] of router %s (tenant %s): an "
                     "external IP belongs to one router", ip_str(b->ip, ip),
                     a->i, m->tenants[a->t].routers[a->r].name,
                     m->tenants[a->t].name);
    }
    free(x);
    return rc;
}

/* ---- load balancers ---- */

static int find_name(const char (*names)[VF_NAME_MAX], size_t n,
                     const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

/* The port of tenant tn that has address ip, or NULL. */
static const char *port_with_ip(const struct vf_model_tenant *tn, uint32_t ip)
{
    for (size_t s = 0; s < tn->n_switches; s++)
        for (size_t p = 0; p < tn->switches[s].n_ports; p++)
            for (unsigned i = 0; i < tn->switches[s].ports[p].n_ips; i++)
                if (tn->switches[s].ports[p].ips[i] == ip)
                    return tn->switches[s].ports[p].name;
    for (size_t r = 0; r < tn->n_routers; r++)
        for (size_t p = 0; p < tn->routers[r].n_ports; p++)
            if (tn->routers[r].ports[p].ip == ip)
                return tn->routers[r].ports[p].name;
    return NULL;
}

static int check_lb(struct mv *v, size_t t, size_t l)
{
    const struct vf_model_tenant *tn = &v->m->tenants[t];
    const struct vf_model_lb *lb = &tn->lbs[l];
    struct ent e = ent2(VF_KIND_LB, t, l);
    char ip[INET_ADDRSTRLEN];
    const char *owner;

    if (!vf_model_enum_name(&vf_lb_protos, (int)lb->proto))
        return mv_fail(v, e, "protocol", "%d is not tcp or udp",
                       (int)lb->proto);
    if (!unicast(lb->vip) || !lb->vip_port)
        return mv_fail(v, e, "vip", "%s:%u is not a unicast address and a "
                       "port 1..65535", ip_str(lb->vip, ip), lb->vip_port);
    owner = port_with_ip(tn, lb->vip);
    if (owner)
        return mv_fail(v, e, "vip", "%s is the address of port %s (a VIP "
                       "must be an address no port has)", ip_str(lb->vip, ip),
                       owner);
    if (lb->n_backends == 0)
        return mv_fail(v, e, "backends", "is empty (a load balancer needs at "
                       "least one backend)");
    for (size_t i = 0; i < lb->n_backends; i++) {
        const struct vf_model_lb_ep *b = &lb->backends[i];

        if (!unicast(b->ip) || !b->port)
            return mv_fail(v, e, "backends", "%s:%u is not a unicast "
                           "address and a port 1..65535", ip_str(b->ip, ip),
                           b->port);
        if (b->ip == lb->vip)
            return mv_fail(v, e, "backends", "%s:%u is the VIP itself",
                           ip_str(b->ip, ip), b->port);
        for (size_t j = 0; j < i; j++)
            if (lb->backends[j].ip == b->ip && lb->backends[j].port == b->port)
                return mv_fail(v, e, "backends", "%s:%u is listed twice",
                               ip_str(b->ip, ip), b->port);
    }
    if (!lb->n_switches && !lb->n_routers)
        return mv_fail(v, e, "switches", "is missing: attach the load "
                       "balancer to switches or routers of tenant %s "
                       "(switches: [...] or routers: [...])", tn->name);
    for (size_t i = 0; i < lb->n_switches; i++) {
        bool found = false;
        for (size_t s = 0; s < tn->n_switches && !found; s++)
            found = strcmp(tn->switches[s].name, lb->switches[i]) == 0;
        if (!found)
            return mv_fail(v, e, "switches", "\"%s\" is not a switch of "
                           "tenant %s", lb->switches[i], tn->name);
        if (find_name(lb->switches, i, lb->switches[i]) >= 0)
            return mv_fail(v, e, "switches", "\"%s\" is listed twice",
                           lb->switches[i]);
    }
    for (size_t i = 0; i < lb->n_routers; i++) {
        bool found = false;
        for (size_t r = 0; r < tn->n_routers && !found; r++)
            found = strcmp(tn->routers[r].name, lb->routers[i]) == 0;
        if (!found)
            return mv_fail(v, e, "routers", "\"%s\" is not a router of "
                           "tenant %s", lb->routers[i], tn->name);
        if (find_name(lb->routers, i, lb->routers[i]) >= 0)
            return mv_fail(v, e, "routers", "\"%s\" is listed twice",
                           lb->routers[i]);
    }
    /* One VIP:port per protocol where two balancers meet. */
    for (size_t j = 0; j < l; j++) {
        const struct vf_model_lb *o = &tn->lbs[j];
        const char *where = NULL;

        if (o->vip != lb->vip || o->vip_port != lb->vip_port ||
            o->proto != lb->proto)
            continue;
        for (size_t i = 0; i < lb->n_switches && !where; i++)
            if (find_name(o->switches, o->n_switches, lb->switches[i]) >= 0)
                where = lb->switches[i];
        for (size_t i = 0; i < lb->n_routers && !where; i++)
            if (find_name(o->routers, o->n_routers, lb->routers[i]) >= 0)
                where = lb->routers[i];
        if (where)
            return mv_fail(v, e, "vip", "%s:%u is already load balancer "
                           "%s's on %s", ip_str(lb->vip, ip), lb->vip_port,
                           o->name, where);
    }
    return 0;
}

int check_gateways(struct mv *v, size_t t)
{
    struct vf_model_tenant *tn = &v->m->tenants[t];
    int rc = check_physical(v, t);

    for (size_t r = 0; rc == 0 && r < tn->n_routers; r++)
        for (size_t i = 0; rc == 0 && i < tn->routers[r].n_nats; i++)
            rc = check_nat(v, t, r, i);
    for (size_t l = 0; rc == 0 && l < tn->n_lbs; l++)
        rc = check_lb(v, t, l);
    return rc;
}

int check_physnets(struct mv *v)
{
    const struct vf_model_local *l = &v->m->local;
    const struct vf_attach_rule *tap = vf_attach_rule(VF_ATTACH_TAP);
    struct ent e = ent_local();

    if (l->n_physnets > VF_MODEL_MAX_PHYSNETS)
        return mv_fail(v, e, "physical_networks", "has %u networks (at most "
                       "%d)", l->n_physnets, VF_MODEL_MAX_PHYSNETS);
    for (unsigned i = 0; i < l->n_physnets; i++) {
        const struct vf_model_physnet *p = &l->physnets[i];
        const char *why = tap && tap->problem ? tap->problem(p->ifname)
                                              : NULL;

        if (!p->name[0] || !p->ifname[0])
            return mv_fail(v, e, "physical_networks", "has an empty %s",
                           p->name[0] ? "interface name" : "network name");
        if (why)
            return mv_fail(v, e, "physical_networks", "%s: \"%s\" %s",
                           p->name, p->ifname, why);
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(l->physnets[j].name, p->name) == 0)
                return mv_fail(v, e, "physical_networks", "network %s is "
                               "listed twice", p->name);
            if (strcmp(l->physnets[j].ifname, p->ifname) == 0)
                return mv_fail(v, e, "physical_networks", "%s and %s both "
                               "name interface %s (one network per "
                               "interface)", l->physnets[j].name, p->name,
                               p->ifname);
        }
    }
    return 0;
}
