/* vf_fuzz_fabric.h - the two-tenant fabric the packet fuzz targets attack.
 *
 * What: one model (FZ_MODEL_YAML: three chassis, tenants blue and red that
 * reuse the same MACs and IPs, a router each, ACLs, port security) compiled
 * once per chassis with vf_test_logical.h's lt_fabric: every chassis is a
 * host with its own worker, ring ports for its tenant ports and a ring
 * uplink. On top of lt_fabric this header knows who owns what, which is
 * what the isolation checks need: the tenant of every ring port, VNI and
 * logical port id, the chassis a logical port lives on, and the host behind
 * an underlay address. A few tenant ports have a tight tx budget. fuzz_decap.c, fuzz_pipeline.c and fuzz_seeds.c
 * (which writes their seed corpora) share it.
 *
 * Design: the answers come from the model structs by linear scans, never
 * from the compiled tables, so the checks do not trust what they check.
 *
 * Thread-safety: single-threaded fuzz targets only.
 */
#ifndef VF_FUZZ_FABRIC_H
#define VF_FUZZ_FABRIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/vf_port.h"
#include "mgmt/control/vf_model.h"
#include "tests/fuzz/vf_fuzz_check.h"
#include "tests/unit/vf_test_logical.h"
#include "tunnel/vf_tunnel.h"

/* hv2 is VXLAN, the others Geneve, so both decap paths carry tenant
 * traffic; hv3 and hv4 share one address and are told apart by UDP port,
 * as two vfabd on one machine are. blue and red number their machines
 * alike (same MACs and IPs on their web switches), as the demo does. */
static const char FZ_MODEL_YAML[] =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
    "  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}\n"
    "  - {name: hv3, underlay_ip: 192.0.2.3, encap: geneve}\n"
    "  - {name: hv4, underlay_ip: 192.0.2.3, port: 6082, encap: geneve}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: blue-web\n"
    "        vni: 1001\n"
    "        ports:\n"
    "          - {name: blue-vm1, mac: \"02:00:00:00:01:01\", ips: [\"10.0.0.1\"], chassis: hv1, attach: {type: ring}, port_security: true}\n"
    "          - {name: blue-vm2, mac: \"02:00:00:00:01:02\", ips: [\"10.0.0.2\"], chassis: hv1, attach: {type: ring}}\n"
    "          - {name: blue-vm3, mac: \"02:00:00:00:01:03\", ips: [\"10.0.0.3\"], chassis: hv2, attach: {type: ring}, port_security: true}\n"
    "          - {name: blue-vm4, mac: \"02:00:00:00:01:04\", ips: [\"10.0.0.4\"], chassis: hv3, attach: {type: ring}}\n"
    "      - name: blue-db\n"
    "        vni: 1002\n"
    "        ports:\n"
    "          - {name: blue-db1, mac: \"02:00:00:00:02:01\", ips: [\"10.0.1.1\"], chassis: hv1, attach: {type: ring}}\n"
    "          - {name: blue-db2, mac: \"02:00:00:00:02:02\", ips: [\"10.0.1.2\"], chassis: hv3, attach: {type: ring}, port_security: true}\n"
    "          - {name: blue-db3, mac: \"02:00:00:00:02:03\", ips: [\"10.0.1.3\"], chassis: hv4, attach: {type: ring}}\n"
    "    routers:\n"
    "      - name: blue-r\n"
    "        ports:\n"
    "          - {name: blue-r-web, switch: blue-web, mac: \"02:00:00:00:ff:01\", cidr: \"10.0.0.254/24\"}\n"
    "          - {name: blue-r-db, switch: blue-db, mac: \"02:00:00:00:ff:02\", cidr: \"10.0.1.254/24\"}\n"
    "        routes:\n"
    "          - {prefix: \"10.9.0.0/16\", nexthop: \"10.0.1.2\"}\n"
    "    acls:\n"
    "      - {switch: blue-web, direction: to-port, priority: 100, action: drop, match: {proto: tcp, dst_port: 22}}\n"
    "      - {switch: blue-db, direction: from-port, priority: 10, action: allow, match: {proto: udp, dst_port: 53}}\n"
    "      - {switch: blue-db, direction: from-port, priority: 5, action: drop, match: {proto: udp}}\n"
    "  - name: red\n"
    "    switches:\n"
    "      - name: red-web\n"
    "        vni: 2001\n"
    "        ports:\n"
    "          - {name: red-vm1, mac: \"02:00:00:00:01:01\", ips: [\"10.0.0.1\"], chassis: hv1, attach: {type: ring}}\n"
    "          - {name: red-vm2, mac: \"02:00:00:00:01:02\", ips: [\"10.0.0.2\"], chassis: hv2, attach: {type: ring}}\n"
    "          - {name: red-vm3, mac: \"02:00:00:00:01:03\", ips: [\"10.0.0.3\"], chassis: hv3, attach: {type: ring}, port_security: true}\n"
    "          - {name: red-vm4, mac: \"02:00:00:00:01:04\", ips: [\"10.0.0.4\"], chassis: hv1, attach: {type: ring}, port_security: true}\n"
    "          - {name: red-vm5, mac: \"02:00:00:00:01:05\", ips: [\"10.0.0.5\"], chassis: hv4, attach: {type: ring}}\n"
    "      - name: red-db\n"
    "        vni: 2002\n"
    "        ports:\n"
    "          - {name: red-db1, mac: \"02:00:00:00:02:01\", ips: [\"10.0.1.1\"], chassis: hv2, attach: {type: ring}}\n"
    "    routers:\n"
    "      - name: red-r\n"
    "        ports:\n"
    "          - {name: red-r-web, switch: red-web, mac: \"02:00:00:00:ff:01\", cidr: \"10.0.0.254/24\"}\n"
    "          - {name: red-r-db, switch: red-db, mac: \"02:00:00:00:ff:02\", cidr: \"10.0.1.254/24\"}\n"
    "    acls:\n"
    "      - {switch: red-web, direction: from-port, priority: 50, action: drop, match: {proto: tcp, src_port: 1000-2000}}\n"
    "local:\n"
    "  chassis: hv1\n"
    "  uplink: {type: ring}\n";

/* The receiving host drops tunnel frames from no remote chassis and Geneve
 * ingress ports that do not live on the sender (issue 12 item 2). */
#define FZ_EXPECT_CHASSIS_CHECK 1

#define FZ_FLOW_CACHE 64    /* small: evictions happen within one input */

/* These tenant ports take at most FZ_TIGHT_BUDGET frames at a time, as a
 * queue whose reader lags behind has only that much of its tx budget left
 * (mgmt/vf_budget.h): partial sends, flood copies that do not fit and
 * their tx_queue_full drops are part of what the targets run. */
#define FZ_TIGHT_BUDGET 3
static const char *const FZ_TIGHT_PORTS[] = {"blue-vm2", "blue-db2", "red-vm1",
                                             "red-vm3"};
#define FZ_UNKNOWN_IP 0xcb007109u   /* 203.0.113.9: no chassis (host order) */

struct fz_fabric {
    struct vf_model m;
    struct lt_fabric lt;
    /* per ring port (lt.ports[i]) */
    int port_tenant[LT_MAX_PORTS];
    uint32_t port_vni[LT_MAX_PORTS];     /* VNI of the port's switch */
};

/* The tenant that owns logical port id (VM or router port), or -1. */
static inline int fz_tenant_of_lport(const struct vf_model *m, uint32_t id)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++)
            for (size_t p = 0; p < tn->switches[s].n_ports; p++)
                if (tn->switches[s].ports[p].id == id)
                    return (int)t;
        for (size_t r = 0; r < tn->n_routers; r++)
            for (size_t p = 0; p < tn->routers[r].n_ports; p++)
                if (tn->routers[r].ports[p].id == id)
                    return (int)t;
    }
    return -1;
}

/* The chassis a VM port lives on; -1 for router ports and unknown ids. */
static inline int fz_chassis_of_lport(const struct vf_model *m, uint32_t id)
{
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++) {
            const struct vf_model_switch *sw = &m->tenants[t].switches[s];
            for (size_t p = 0; p < sw->n_ports; p++)
                if (sw->ports[p].id == id)
                    return sw->ports[p].chassis_idx;
        }
    return -1;
}

/* The tenant whose switch has this VNI, or -1. */
static inline int fz_tenant_of_vni(const struct vf_model *m, uint32_t vni)
{
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            if (m->tenants[t].switches[s].vni == vni)
                return (int)t;
    return -1;
}

/* The UDP port chassis c listens on (host order). */
static inline uint16_t fz_chassis_port(const struct vf_model *m, int c)
{
    const struct vf_model_chassis *ch = &m->chassis[c];
    if (ch->udp_port)
        return ch->udp_port;
    return ch->encap == VF_MODEL_ENCAP_VXLAN ? VF_VXLAN_UDP_PORT : VF_GENEVE_UDP_PORT;
}

/* The chassis at underlay address ip (network order) and UDP port (host
 * order), or -1. */
static inline int fz_chassis_at(const struct vf_model *m, uint32_t ip,
                                uint16_t port)
{
    for (size_t c = 0; c < m->n_chassis; c++)
        if (m->chassis[c].underlay_ip == ip && fz_chassis_port(m, (int)c) == port)
            return (int)c;
    return -1;
}

/* Whether any chassis has underlay address ip (network order). */
static inline bool fz_ip_is_chassis(const struct vf_model *m, uint32_t ip)
{
    for (size_t c = 0; c < m->n_chassis; c++)
        if (m->chassis[c].underlay_ip == ip)
            return true;
    return false;
}

/* Whether chassis c shares its underlay address with another one. */
static inline bool fz_addr_shared(const struct vf_model *m, int c)
{
    for (size_t k = 0; k < m->n_chassis; k++)
        if ((int)k != c && m->chassis[k].underlay_ip == m->chassis[c].underlay_ip)
            return true;
    return false;
}

/* The remote chassis (not `local`) that a tunnel frame from ip:sport
 * (network order, host order) comes from, or -1: the address alone where
 * one chassis has it, the address and port where several share it. */
static inline int fz_sender(const struct vf_model *m, int local, uint32_t ip,
                            uint16_t sport)
{
    for (size_t c = 0; c < m->n_chassis; c++) {
        if (m->chassis[c].underlay_ip != ip)
            continue;
        if (fz_addr_shared(m, (int)c) && fz_chassis_port(m, (int)c) != sport)
            continue;
        return (int)c == local ? -1 : (int)c;
    }
    return -1;
}

/* Whether Geneve may name logical port `id` as the ingress port of a frame
 * on the switch with VNI vni sent by chassis `from`: a VM port of that
 * switch on `from`, or a router port on that switch (routers run on every
 * chassis). */
static inline bool fz_in_port_ok(const struct vf_model *m, uint32_t vni,
                                 uint32_t id, int from)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            const struct vf_model_switch *sw = &tn->switches[s];
            if (sw->vni != vni)
                continue;
            for (size_t p = 0; p < sw->n_ports; p++)
                if (sw->ports[p].id == id)
                    return sw->ports[p].chassis_idx == from;
            for (size_t r = 0; r < tn->n_routers; r++)
                for (size_t p = 0; p < tn->routers[r].n_ports; p++)
                    if (tn->routers[r].ports[p].id == id)
                        return tn->routers[r].ports[p].switch_idx == (int)s;
            return false;
        }
    }
    return false;
}

/* The outer UDP source port of a full tunnel frame (host order; the
 * frame has passed decap, so the headers are there). */
static inline uint16_t fz_outer_sport(const uint8_t *f)
{
    const uint8_t *udp = f + 14 + 4u * (f[14] & 0xf);
    return (uint16_t)(udp[0] << 8 | udp[1]);
}

/* Whether a decapsulated frame (md) may be delivered at all by host
 * `local`: it comes from a remote chassis, and a Geneve ingress port it
 * names lives there. Always true before the chassis check. */
static inline bool fz_sender_ok(const struct vf_model *m, int local,
                                const struct vf_tunnel_md *md, uint16_t sport)
{
    if (!FZ_EXPECT_CHASSIS_CHECK)
        return true;
    int from = fz_sender(m, local, md->outer_src_ip, sport);
    return from >= 0 && (!md->has_ports ||
                         fz_in_port_ok(m, md->vni, md->in_lport, from));
}

/* Loads the model and builds the fabric; aborts on failure (the target
 * cannot run without it). use_cache: workers with a small flow cache. */
static inline void fz_fabric_init(struct fz_fabric *f, bool use_cache)
{
    char err[1024];

    memset(f, 0, sizeof(*f));
    if (vf_config_load_string(FZ_MODEL_YAML, sizeof(FZ_MODEL_YAML) - 1, &f->m,
                              err, sizeof(err))) {
        fprintf(stderr, "fuzz fabric: model: %s\n", err);
        abort();
    }
    if (lt_fabric_init(&f->lt, &f->m, use_cache)) {
        fprintf(stderr, "fuzz fabric: cannot build the fabric\n");
        abort();
    }
    /* hv1's and hv3's uplinks are ring ports that say they are UDP
     * uplinks, so a TSO frame leaves them as one UDP GSO batch
     * (vf_seg_tunnel_batch), which fuzz_pipeline cuts into datagrams as
     * the kernel would; hv2's and hv4's take separate segments. */
    static struct vf_port_ops udp_like;
    udp_like = *f->lt.host[0].uplink->ops;
    udp_like.type = "udp";
    for (unsigned h = 0; h < f->lt.n_hosts; h += 2)
        f->lt.host[h].uplink->ops = &udp_like;
    for (unsigned i = 0; i < f->lt.n_ports; i++) {
        size_t t, s, p;
        if (vf_model_find_port(&f->m, f->lt.names[i], &t, &s, &p)) {
            fprintf(stderr, "fuzz fabric: no model port %s\n", f->lt.names[i]);
            abort();
        }
        f->port_tenant[i] = (int)t;
        f->port_vni[i] = f->m.tenants[t].switches[s].vni;
        for (size_t k = 0; k < sizeof(FZ_TIGHT_PORTS) / sizeof(FZ_TIGHT_PORTS[0]); k++)
            if (!strcmp(f->lt.names[i], FZ_TIGHT_PORTS[k]))
                vf_port_set_tx_budget(f->lt.ports[i], FZ_TIGHT_BUDGET);
    }
}

/* Makes every input start alike: empty flow caches, a full ICMP budget. */
static inline void fz_fabric_reset(struct fz_fabric *f)
{
    for (unsigned h = 0; h < f->lt.n_hosts; h++) {
        struct vf_worker *w = f->lt.host[h].w;
        if (w->fc) {
            vf_fc_destroy(w->fc);
            w->fc = vf_fc_create(FZ_FLOW_CACHE, -1);
            if (!w->fc)
                abort();
        }
        w->icmp_sec = 0;
    }
}

/* The ring port index (in lt.ports) with this fabric index, or -1. */
static inline int fz_port_by_index(const struct fz_fabric *f, uint32_t index)
{
    for (unsigned i = 0; i < f->lt.n_ports; i++)
        if (f->lt.ports[i]->index == index)
            return (int)i;
    return -1;
}

/* What one host sent after a burst: deliveries on its tenant ports and
 * frames on its uplink. The caller checks them, then fz_out_free(). */
#define FZ_OUT_MAX 512
struct fz_out {
    unsigned n_dlv;
    int dlv_port[FZ_OUT_MAX];            /* index in lt.ports */
    struct vf_pkt *dlv[FZ_OUT_MAX];
    unsigned n_up;
    struct vf_pkt *up[FZ_OUT_MAX];
};

/* Drains host h's ring ports and uplink into o (what does not fit in o is
 * freed uncounted: FZ_OUT_MAX is far above what one burst can send). */
static inline void fz_collect(struct fz_fabric *f, unsigned h, struct fz_out *o)
{
    struct lt_host *ho = &f->lt.host[h];
    struct vf_pkt *pk[64];
    unsigned n;

    o->n_dlv = o->n_up = 0;
    for (unsigned i = 0; i < f->lt.n_ports; i++) {
        if (f->lt.port_host[i] != (int)h)
            continue;
        while ((n = vf_ring_port_drain(f->lt.ports[i], 0, pk, 64)) > 0)
            for (unsigned k = 0; k < n; k++) {
                if (o->n_dlv == FZ_OUT_MAX) {
                    vf_pool_free(&ho->w->cache, pk[k]);
                    continue;
                }
                o->dlv_port[o->n_dlv] = (int)i;
                o->dlv[o->n_dlv++] = pk[k];
            }
    }
    while ((n = vf_ring_port_drain(ho->uplink, 0, pk, 64)) > 0)
        for (unsigned k = 0; k < n; k++) {
            if (o->n_up == FZ_OUT_MAX) {
                vf_pool_free(&ho->w->cache, pk[k]);
                continue;
            }
            o->up[o->n_up++] = pk[k];
        }
}

static inline void fz_out_free(struct fz_fabric *f, unsigned h, struct fz_out *o)
{
    struct vf_pool_cache *c = &f->lt.host[h].w->cache;
    for (unsigned i = 0; i < o->n_dlv; i++)
        vf_pool_free(c, o->dlv[i]);
    for (unsigned i = 0; i < o->n_up; i++)
        vf_pool_free(c, o->up[i]);
    o->n_dlv = o->n_up = 0;
}

/* Runs one burst (all packets already stamped with their fabric port) on
 * host h and collects what it sent. */
static inline void fz_burst(struct fz_fabric *f, unsigned h,
                            struct vf_pkt **pkts, unsigned n, struct fz_out *o)
{
    struct lt_host *ho = &f->lt.host[h];
    vf_pipeline_burst(ho->w, ho->t, pkts, n);
    vf_worker_flush(ho->w);
    fz_collect(f, h, o);
}

#endif
