/* gateway.c - gateways on this chassis (vf_gateway.h): the physical
 * network ports, and ARP for the gateway ports served here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fabric/vf_port_packet.h"
#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_compile_gw.h"
#include "mgmt/daemon/daemon_int.h"
#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_gateway.h"
#include "mgmt/daemon/vf_log.h"

#define GW_MAX 32                   /* gateway ports served by one chassis */
#define ASK_TICKS (1000 / VF_GW_TICK_MS)          /* unresolved: each 1 s */
#define REFRESH_TICKS (30000 / VF_GW_TICK_MS)     /* resolved: each 30 s */
#define RX_MAX 64                   /* ARP frames read per tick */

struct gw_nh {
    uint32_t ip;                    /* network order */
    uint8_t mac[6];
    bool known;
};

/* A gateway port this chassis serves. */
struct gw_port {
    uint32_t rport_id;
    char name[VF_NAME_MAX];
    char ifname[VF_MODEL_IFNAME_MAX];
    uint8_t mac[6];
    uint32_t ip;                    /* network order */
    int fd;                         /* ARP socket, -1: not open */
    int ifindex;
    bool garp_done;
    unsigned ticks;
    unsigned n_nh;
    struct gw_nh nh[VF_RPORT_MAX_NEIGH];
    bool seen;                      /* still served (sync) */
};

struct vf_gw {
    uint64_t told_gen;              /* generation the missing parts were
                                     * last reported for */
    unsigned n;
    struct gw_port p[GW_MAX];
    size_t n_neigh;                 /* what the tables were compiled with */
    struct vf_gw_neigh neigh[GW_MAX * VF_RPORT_MAX_NEIGH];
};

/* ---- the physical network ports ---- */

static const char *physnet_if(const struct vf_model *m, const char *network)
{
    for (unsigned i = 0; i < m->local.n_physnets; i++)
        if (strcmp(m->local.physnets[i].name, network) == 0)
            return m->local.physnets[i].ifname;
    return NULL;
}

static void port_name(const struct vf_model_switch *sw, char *buf, size_t len)
{
    snprintf(buf, len, "%.40s/physical", sw->name);
}

/* The switch an open physical port stands for in m, or NULL. */
static const struct vf_model_switch *port_switch(const struct vf_model *m,
                                                 const struct vf_daemon_port *dp,
                                                 const struct vf_model_tenant **tn_out,
                                                 size_t *si_out)
{
    char name[VF_NAME_MAX];

    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++) {
            const struct vf_model_switch *sw = &m->tenants[t].switches[s];
            port_name(sw, name, sizeof(name));
            if (strcmp(name, dp->name) == 0) {
                *tn_out = &m->tenants[t];
                *si_out = s;
                return sw;
            }
        }
    return NULL;
}

bool vf_gw_keep_port(const struct vf_daemon *d, const struct vf_model *next,
                     const struct vf_daemon_port *dp)
{
    const struct vf_model_tenant *tn;
    size_t si;
    const struct vf_model_switch *sw = port_switch(next, dp, &tn, &si);
    const char *ifn;

    (void)d;
    if (!sw || vf_gw_switch_chassis(tn, si) != next->local.chassis_idx)
        return false;
    ifn = physnet_if(next, sw->physical.network);
    return ifn && strcmp(ifn, dp->ifname) == 0;
}

int vf_gw_open_ports(struct vf_daemon *d, const struct vf_model *next,
                     unsigned *opened, unsigned *n, char *err, size_t errlen)
{
    char name[VF_NAME_MAX], e2[512];

    for (size_t t = 0; t < next->n_tenants; t++)
        for (size_t s = 0; s < next->tenants[t].n_switches; s++) {
            const struct vf_model_tenant *tn = &next->tenants[t];
            const struct vf_model_switch *sw = &tn->switches[s];
            const struct vf_daemon_port *have;
            const char *ifn;
            struct vf_port *p;
            int rc;

            if (vf_gw_switch_chassis(tn, s) != next->local.chassis_idx)
                continue;
            port_name(sw, name, sizeof(name));
            have = NULL;
            for (unsigned i = 0; i < d->n_ports && !have; i++)
                if (d->ports[i].port && d->ports[i].physical &&
                    !d->ports[i].closing && !strcmp(d->ports[i].name, name))
                    have = &d->ports[i];
            if (have)
                continue;
            ifn = physnet_if(next, sw->physical.network);
            if (!ifn) {
                snprintf(err, errlen, "switch %s: this chassis serves its "
                         "gateway port but local.physical_networks has no "
                         "network %s (add {%s: IFNAME} there)", sw->name,
                         sw->physical.network, sw->physical.network);
                return -EINVAL;
            }
            if (sw->physical.vlan) {
                snprintf(err, errlen, "switch %s: physical.vlan %u: VLAN "
                         "tags are not applied yet; use an untagged "
                         "interface (vlan 0)", sw->name, sw->physical.vlan);
                return -EINVAL;
            }
            for (unsigned i = 0; i < d->n_ports; i++)
                if (d->ports[i].port && d->ports[i].physical &&
                    !d->ports[i].closing && !strcmp(d->ports[i].ifname, ifn)) {
                    snprintf(err, errlen, "switch %s: interface %s already "
                             "carries %s (one physical switch per interface "
                             "on a chassis, for now)", sw->name, ifn,
                             d->ports[i].name);
                    return -EINVAL;
                }
            p = vf_packet_port_open(name, ifn, d->n_workers, NULL, e2,
                                    sizeof(e2));
            if (!p) {
                snprintf(err, errlen, "switch %s: physical network %s: %s",
                         sw->name, sw->physical.network, e2);
                return -ENODEV;
            }
            rc = vf_ports_add(d, p, NULL, (unsigned)t, err, errlen);
            if (rc)
                return rc;
            d->ports[p->index].physical = true;
            d->ports[p->index].mq_rx = vf_ports_mq_rx(&d->ports[p->index]);
            snprintf(d->ports[p->index].ifname,
                     sizeof(d->ports[p->index].ifname), "%s", ifn);
            opened[(*n)++] = p->index;
        }
    return 0;
}

struct vf_port *vf_gw_physical_of(void *arg, const struct vf_model_switch *sw)
{
    struct vf_daemon *d = arg;
    char name[VF_NAME_MAX];

    port_name(sw, name, sizeof(name));
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].port && d->ports[i].physical &&
            !d->ports[i].closing && !strcmp(d->ports[i].name, name))
            return d->ports[i].port;
    return NULL;
}

/* ---- ARP for the gateway ports ---- */

struct arp_frame {
    uint8_t dst[6], src[6];
    uint16_t type;
    uint16_t htype, ptype;
    uint8_t hlen, plen;
    uint16_t op;
    uint8_t sha[6];
    uint8_t spa[4];
    uint8_t tha[6];
    uint8_t tpa[4];
} __attribute__((packed));

static void arp_send(struct gw_port *g, uint32_t tpa)
{
    struct arp_frame f = {
        .type = htons(ETH_P_ARP), .htype = htons(1), .ptype = htons(ETH_P_IP),
        .hlen = 6, .plen = 4, .op = htons(1),
    };
    struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                               .sll_ifindex = g->ifindex, .sll_halen = 6 };

    memset(f.dst, 0xff, 6);
    memcpy(f.src, g->mac, 6);
    memcpy(f.sha, g->mac, 6);
    memcpy(f.spa, &g->ip, 4);
    memcpy(f.tpa, &tpa, 4);
    memset(sll.sll_addr, 0xff, 6);
    if (sendto(g->fd, &f, sizeof(f), MSG_DONTWAIT, (struct sockaddr *)&sll,
               sizeof(sll)) < 0)
        vf_log_debug("gateway port %s: ARP on %s: %s", g->name, g->ifname,
                     strerror(errno));
}

static int arp_open(struct gw_port *g)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                               .sll_protocol = htons(ETH_P_ARP) };

    g->ifindex = (int)if_nametoindex(g->ifname);
    if (!g->ifindex)
        return -errno;
    sll.sll_ifindex = g->ifindex;
    g->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   htons(ETH_P_ARP));
    if (g->fd < 0)
        return -errno;
    if (bind(g->fd, (struct sockaddr *)&sll, sizeof(sll))) {
        int rc = -errno;
        close(g->fd);
        g->fd = -1;
        return rc;
    }
    return 0;
}

/* Reads what came: an answer (or a request) from one of g's next hops
 * gives its MAC. Returns whether a MAC was learned or changed. */
static bool arp_read(struct gw_port *g)
{
    bool changed = false;

    for (unsigned i = 0; i < RX_MAX; i++) {
        struct arp_frame f;
        struct sockaddr_ll from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(g->fd, &f, sizeof(f), MSG_DONTWAIT,
                             (struct sockaddr *)&from, &fl);
        uint32_t spa;

        if (n < 0)
            break;
        if ((size_t)n < sizeof(f) || from.sll_pkttype == PACKET_OUTGOING ||
            f.type != htons(ETH_P_ARP) || f.htype != htons(1) ||
            f.ptype != htons(ETH_P_IP) || f.hlen != 6 || f.plen != 4)
            continue;
        memcpy(&spa, f.spa, 4);
        for (unsigned k = 0; k < g->n_nh; k++) {
            struct gw_nh *h = &g->nh[k];
            if (h->ip != spa || (h->known && !memcmp(h->mac, f.sha, 6)))
                continue;
            memcpy(h->mac, f.sha, 6);
            h->known = changed = true;
        }
    }
    return changed;
}

/* The gateway ports d's model has this chassis serve, synced into gw. */
static void sync_ports(struct vf_daemon *d, struct vf_gw *gw)
{
    const struct vf_model *m = &d->model;

    for (unsigned i = 0; i < gw->n; i++)
        gw->p[i].seen = false;
    for (size_t t = 0; m->has_local && t < m->n_tenants; t++)
        for (size_t r = 0; r < m->tenants[t].n_routers; r++) {
            const struct vf_model_tenant *tn = &m->tenants[t];
            const struct vf_model_router *rt = &tn->routers[r];
            for (size_t p = 0; p < rt->n_ports; p++) {
                const struct vf_model_rport *rp = &rt->ports[p];
                const struct vf_model_switch *sw;
                const char *ifn;
                struct gw_port *g = NULL;

                if (!rp->n_gw_chassis ||
                    rp->gw_chassis_idx[0] != m->local.chassis_idx)
                    continue;
                sw = &tn->switches[rp->switch_idx];
                ifn = physnet_if(m, sw->physical.network);
                if (!ifn)
                    continue;
                for (unsigned i = 0; i < gw->n && !g; i++)
                    if (gw->p[i].rport_id == rp->id &&
                        !strcmp(gw->p[i].ifname, ifn) &&
                        !memcmp(gw->p[i].mac, rp->mac, 6) &&
                        gw->p[i].ip == rp->ip)
                        g = &gw->p[i];
                if (!g && gw->n < GW_MAX) {
                    g = &gw->p[gw->n++];
                    memset(g, 0, sizeof(*g));
                    g->fd = -1;
                    g->rport_id = rp->id;
                    snprintf(g->name, sizeof(g->name), "%s", rp->name);
                    snprintf(g->ifname, sizeof(g->ifname), "%s", ifn);
                    memcpy(g->mac, rp->mac, 6);
                    g->ip = rp->ip;
                }
                if (!g)
                    continue;
                g->seen = true;
                /* Next hops: the routes' that lie in the port's subnet. */
                uint32_t mask = rp->plen ? htonl(~0u << (32 - rp->plen)) : 0;
                struct gw_nh old[VF_RPORT_MAX_NEIGH];
                unsigned n_old = g->n_nh;
                memcpy(old, g->nh, sizeof(old));
                g->n_nh = 0;
                for (size_t i = 0; i < rt->n_routes &&
                                   g->n_nh < VF_RPORT_MAX_NEIGH; i++) {
                    uint32_t nh = rt->routes[i].nexthop;
                    bool dup = false;
                    if ((nh & mask) != (rp->ip & mask) || nh == rp->ip)
                        continue;
                    for (unsigned k = 0; k < g->n_nh; k++)
                        dup |= g->nh[k].ip == nh;
                    if (dup)
                        continue;
                    g->nh[g->n_nh] = (struct gw_nh){ .ip = nh };
                    for (unsigned k = 0; k < n_old; k++)
                        if (old[k].ip == nh)
                            g->nh[g->n_nh] = old[k];
                    g->n_nh++;
                }
            }
        }
    for (unsigned i = 0; i < gw->n;) {
        if (gw->p[i].seen) {
            i++;
            continue;
        }
        if (gw->p[i].fd >= 0)
            close(gw->p[i].fd);
        gw->p[i] = gw->p[--gw->n];
    }
}

/* The neighbours as the compiler wants them; true when they differ from
 * what the tables have. */
static bool collect(struct vf_gw *gw)
{
    struct vf_gw_neigh nb[GW_MAX * VF_RPORT_MAX_NEIGH];
    size_t n = 0;

    for (unsigned i = 0; i < gw->n; i++)
        for (unsigned k = 0; k < gw->p[i].n_nh; k++)
            if (gw->p[i].nh[k].known) {
                nb[n].rport_id = gw->p[i].rport_id;
                nb[n].n.ip = gw->p[i].nh[k].ip;
                memcpy(nb[n].n.mac, gw->p[i].nh[k].mac, 6);
                n++;
            }
    if (n == gw->n_neigh && !memcmp(nb, gw->neigh, n * sizeof(nb[0])))
        return false;
    memcpy(gw->neigh, nb, n * sizeof(nb[0]));
    gw->n_neigh = n;
    return true;
}

/* NAT rules and load balancers are in the model but not built yet:
 * said once per model generation, not silently ignored. */
static void tell_missing(struct vf_daemon *d, struct vf_gw *gw)
{
    size_t nat = 0, lb = 0;

    if (gw->told_gen == d->generation)
        return;
    gw->told_gen = d->generation;
    for (size_t t = 0; t < d->model.n_tenants; t++) {
        lb += d->model.tenants[t].n_lbs;
        for (size_t r = 0; r < d->model.tenants[t].n_routers; r++)
            nat += d->model.tenants[t].routers[r].n_nats;
    }
    if (nat || lb)
        vf_log_warn("the model has %zu NAT rules and %zu load balancers: "
                    "vfab does not apply them yet (issue 16; "
                    "docs/gateway.md), traffic passes untranslated", nat,
                    lb);
}

void vf_gw_tick(void *arg)
{
    struct vf_daemon *d = arg;
    struct vf_gw *gw = d->gw;
    char err[512];

    if (!gw) {
        if (!d->model.has_local)
            return;
        gw = d->gw = calloc(1, sizeof(*gw));
        if (!gw)
            return;
    }
    tell_missing(d, gw);
    sync_ports(d, gw);
    for (unsigned i = 0; i < gw->n; i++) {
        struct gw_port *g = &gw->p[i];
        int rc;

        if (g->fd < 0 && (rc = arp_open(g)) != 0) {
            if (g->ticks++ % REFRESH_TICKS == 0)
                vf_log_warn("gateway port %s: ARP socket on %s: %s", g->name,
                            g->ifname, strerror(-rc));
            continue;
        }
        if (!g->garp_done) {
            /* Now active here: the outside learns where the port is. */
            arp_send(g, g->ip);
            g->garp_done = true;
            vf_log_info("gateway port %s active on this chassis (%s); "
                        "gratuitous ARP sent", g->name, g->ifname);
        }
        arp_read(g);
        for (unsigned k = 0; k < g->n_nh; k++)
            if (g->ticks % (g->nh[k].known ? REFRESH_TICKS : ASK_TICKS) == 0)
                arp_send(g, g->nh[k].ip);
        g->ticks++;
    }
    if (collect(gw) && vf_apply_republish(d, err, sizeof(err)))
        vf_log_warn("gateway: next hops learned, tables not republished: %s",
                    err);
}

const struct vf_gw_neigh *vf_gw_neigh_of(const struct vf_daemon *d,
                                         size_t *n)
{
    *n = d->gw ? d->gw->n_neigh : 0;
    return d->gw ? d->gw->neigh : NULL;
}

void vf_gw_free(struct vf_daemon *d)
{
    if (!d->gw)
        return;
    for (unsigned i = 0; i < d->gw->n; i++)
        if (d->gw->p[i].fd >= 0)
            close(d->gw->p[i].fd);
    free(d->gw);
    d->gw = NULL;
}
