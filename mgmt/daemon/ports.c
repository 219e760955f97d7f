/* ports.c - the port backends: one row per attach type says how mgmt
 * opens a VM port of that type; how workers poll it, whether it can vanish
 * and what it holds come from the open port's caps and optional ops
 * (fabric/vf_port.h). So a new backend (vhost-user) is its fabric file
 * plus one row here (and its model rule in mgmt/control/attach.c). Also
 * the uplink, and the daemon's port table (slots are fabric indexes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fabric/vf_port_tap.h"
#include "fabric/vf_port_udp.h"
#include "fabric/vf_port_verbs.h"
#include "fabric/vf_port_vhost.h"
#include "mgmt/daemon/daemon_int.h"
#include "mgmt/daemon/vf_log.h"

/* TSO taps: the reads each tap queue keeps in flight (a window of 64 big
 * buffers per queue would be 5 MB; 16 keeps a 64 KB frame per read in
 * reach of many ports), and the uplink ring when it receives with GRO. */
#define TSO_RX_WINDOW 16
#define TSO_UPLINK_DEPTH 128

/* ---- the backends ---- */

static struct vf_port *open_ring(struct vf_daemon *d,
                                 const struct vf_model_port *mp, char *err,
                                 size_t errlen)
{
    struct vf_port *p = vf_ring_port_open(mp->name, d->n_workers,
                                          d->opts.ring_size,
                                          d->place.numa_node[0]);
    if (!p)
        snprintf(err, errlen, "port %s: cannot create ring port (out of "
                 "memory?)", mp->name);
    return p;
}

/* A tap with TSO on when the large pools exist (vf_daemon.h). */
static struct vf_port *open_tap(struct vf_daemon *d,
                                const struct vf_model_port *mp, char *err,
                                size_t errlen)
{
    struct vf_tap_opts o = {.tso = true, .rx_window = TSO_RX_WINDOW};
    char e2[512];
    struct vf_port *p;

    if (!d->tso_pools[0])
        p = vf_tap_port_open(mp->name, mp->attach.name, d->n_workers,
                             d->pools, NULL, e2, sizeof(e2));
    else
        p = vf_tap_port_open(mp->name, mp->attach.name, d->n_workers,
                             d->tso_pools, &o, e2, sizeof(e2));
    if (!p)
        snprintf(err, errlen, "port %s: attach.name %s: %s", mp->name,
                 mp->attach.name, e2);
    return p;
}

static struct vf_port *open_verbs(struct vf_daemon *d,
                                  const struct vf_model_port *mp, char *err,
                                  size_t errlen)
{
    (void)d;
    snprintf(err, errlen, "port %s: attach type 'verbs' is for the uplink "
             "only in this build; attach VMs with {type: tap, name: ...} or "
             "{type: ring}", mp->name);
    return NULL;
}

/* The device's connection news (connected, disconnected, refused). */
static void vhost_log(void *arg, const char *msg)
{
    (void)arg;
    vf_log_info("%s", msg);
}

/* A VM through vhost-user (docs/vhost-user.md): one queue pair per
 * worker. A guest's frames are copied into the worker's own pool (the
 * cache its rx_burst gets), so the pools named here are those, and TSO
 * from the guest (HOST_TSO, 64 KB frames) stays off: those buffers hold
 * one MTU-sized frame. TSO to the guest (GUEST_TSO) needs no pool and is
 * on. The device connects (client) or listens (server) from the
 * management loop (vhost_mgmt.c), so opening never waits for the VM. */
static struct vf_port *open_vhost(struct vf_daemon *d,
                                  const struct vf_model_port *mp, char *err,
                                  size_t errlen)
{
    struct vf_vhost_port_opts o = {
        .socket = mp->attach.socket,
        .server = mp->attach.mode == VF_ATTACH_MODE_SERVER,
        .tso = false,
        .log = vhost_log,
    };
    char e2[512];
    struct vf_port *p;

    p = vf_vhost_port_open(mp->name, &o, d->n_workers, d->pools, e2,
                           sizeof(e2));
    if (!p)
        snprintf(err, errlen, "port %s: attach.socket %s: %s", mp->name,
                 mp->attach.socket, e2);
    return p;
}

/* What a port can do once open (multiqueue rx, vanishing, drain) is not
 * here: the backend says it in the port's caps and optional ops
 * (fabric/vf_port.h), which the helpers below read. */
struct backend {
    struct vf_port *(*open)(struct vf_daemon *d,
                            const struct vf_model_port *mp, char *err,
                            size_t errlen);
};

static const struct backend backends[] = {
    [VF_ATTACH_RING] = { open_ring },
    [VF_ATTACH_TAP] = { open_tap },
    [VF_ATTACH_VERBS] = { open_verbs },
    [VF_ATTACH_VHOST_USER] = { open_vhost },
};

#define ONE_(id, s) + 1
_Static_assert(sizeof(backends) / sizeof(backends[0]) ==
               0 VF_ATTACH_TYPES(ONE_), "every attach type has a backend");

static const struct backend *backend_of(const struct vf_model_port *mp)
{
    return mp && (unsigned)mp->attach.type < sizeof(backends) /
                                             sizeof(backends[0])
           ? &backends[mp->attach.type] : NULL;
}

struct vf_port *vf_ports_open_tenant(struct vf_daemon *d,
                                     const struct vf_model_port *mp,
                                     char *err, size_t errlen)
{
    const struct backend *b = backend_of(mp);

    if (!b) {
        snprintf(err, errlen, "port %s: attach type %d has no backend",
                 mp->name, (int)mp->attach.type);
        return NULL;
    }
    return b->open(d, mp, err, errlen);
}

bool vf_ports_mq_rx(const struct vf_daemon_port *dp)
{
    return (dp->mport || dp->physical) && dp->port &&
           vf_port_has(dp->port, VF_PORT_CAP_MQ_RX);
}

bool vf_ports_gone(const struct vf_daemon_port *dp)
{
    return vf_port_gone(dp->port);
}

/* ---- the uplink ---- */

/* With the large pools, the UDP uplink receives with UDP GRO into them, so
 * a peer's batch arrives as one buffer and crosses the pipeline once. A
 * smaller ring keeps the pool's buffers for the taps' reads too. */
static void tso_uplink_opts(const struct vf_daemon *d, struct vf_udp_opts *uo)
{
    /* GRO needs the multishot receive (a perf config may choose syscalls). */
    if (!d->tso_pools[0] || uo->rx_mode != VF_UDP_RX_MULTISHOT)
        return;
    uo->gro = true;
    uo->ring_depth = TSO_UPLINK_DEPTH;
}

static struct vf_port *open_udp_uplink(struct vf_daemon *d,
                                       const struct vf_model_local *l,
                                       const struct vf_model_chassis *me,
                                       char *err, size_t errlen)
{
    uint16_t port = l->bind_port ? l->bind_port : vf_model_chassis_port(me);
    char bind[64], ip[INET_ADDRSTRLEN], e2[512];
    struct vf_udp_opts uo;
    struct vf_port *up;

    inet_ntop(AF_INET, &l->bind_ip, ip, sizeof(ip));
    snprintf(bind, sizeof(bind), "%s:%u", ip, port);
    if (d->opts.has_udp)
        uo = d->opts.udp;      /* the perf config's choice */
    else
        vf_udp_opts_default(&uo);
    tso_uplink_opts(d, &uo);
    up = vf_udp_port_open("uplink", bind, d->n_workers, &uo,
                          uo.gro ? d->tso_pools : d->pools, e2, sizeof(e2));
    if (!up) {
        snprintf(err, errlen, "local.uplink: %s", e2);
        return NULL;
    }
    /* GRO buffers that hold coalesced datagrams need fresh large buffers
     * to refill the ring; the taps' reads must leave them a ring's worth
     * (the worker pools get theirs from vf_budget). */
    for (unsigned w = 0; uo.gro && w < d->n_workers; w++)
        vf_pool_set_reserve(d->tso_pools[w], uo.ring_depth);
    return up;
}

int vf_ports_open_uplink(struct vf_daemon *d,
                         const struct vf_model_local *local,
                         const struct vf_model_chassis *me, char *err,
                         size_t errlen)
{
    struct vf_port *up = NULL;
    char e2[512];
    int rc = -EINVAL;

    switch (local->uplink) {
    case VF_UPLINK_RING:
        up = vf_ring_port_open("uplink", d->n_workers, d->opts.ring_size,
                               d->place.numa_node[0]);
        if (!up) {
            snprintf(err, errlen, "uplink: cannot create ring port");
            rc = -ENOMEM;
        }
        break;
    case VF_UPLINK_UDP:
        up = open_udp_uplink(d, local, me, err, errlen);
        break;
    case VF_UPLINK_VERBS:
        up = vf_verbs_port_open("uplink", local->device, local->device_port,
                                d->n_workers, d->pools, NULL, e2,
                                sizeof(e2));
        if (!up) {
            snprintf(err, errlen, "local.uplink: %s", e2);
            rc = -ENODEV;
        }
        break;
    }
    if (!up)
        return rc;
    rc = vf_ports_add(d, up, NULL, 0, err, errlen);
    if (rc == 0)
        d->uplink = up;
    return rc;
}

/* ---- the port table ---- */

/* The tenant port's rx goes to the worker with the fewest tenant ports. */
static unsigned least_loaded_worker(const struct vf_daemon *d)
{
    unsigned load[VF_MAX_WORKERS] = {0};
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].port && d->ports[i].port != d->uplink &&
            !d->ports[i].closing)
            load[d->ports[i].rx_worker]++;
    unsigned best = 0;
    for (unsigned w = 1; w < d->n_workers; w++)
        if (load[w] < load[best])
            best = w;
    return best;
}

int vf_ports_add(struct vf_daemon *d, struct vf_port *p,
                 const struct vf_model_port *mp, unsigned tenant, char *err,
                 size_t errlen)
{
    unsigned slot = 0;
    while (slot < d->n_ports && d->ports[slot].port)
        slot++;
    if (slot >= VF_DAEMON_MAX_PORTS || slot >= VF_MAX_FPORTS) {
        snprintf(err, errlen, "too many local ports (limit %u)",
                 VF_DAEMON_MAX_PORTS);
        vf_port_close(p);
        return -E2BIG;
    }
    unsigned rxw = mp ? least_loaded_worker(d) : 0;
    /* Written before any worker can see p (its rx set and the tables are
     * published after, with a grace period). */
    p->index = slot;
    d->ports[slot] = (struct vf_daemon_port){.port = p, .mport = mp,
                                             .tenant = tenant, .rx_worker = rxw};
    snprintf(d->ports[slot].name, sizeof(d->ports[slot].name), "%s",
             mp ? mp->name : p->name);
    d->ports[slot].mq_rx = vf_ports_mq_rx(&d->ports[slot]);
    if (slot == d->n_ports)
        d->n_ports++;
    return 0;
}

size_t vf_ports_local(struct vf_daemon *d, const struct vf_model *m)
{
    size_t n = 0;

    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            for (size_t i = 0; i < m->tenants[t].switches[s].n_ports; i++) {
                const struct vf_model_port *mp = &m->tenants[t].switches[s].ports[i];
                if (mp->chassis_idx != m->local.chassis_idx ||
                    n == VF_DAEMON_MAX_PORTS)
                    continue;
                d->scratch.tenant[n] = (unsigned)t;
                d->scratch.port[n++] = mp;
            }
    return n;
}

void vf_ports_drain(struct vf_daemon *d, struct vf_port *p)
{
    vf_port_drain(p, &d->mgmt_cache);
}

struct vf_port *vf_ports_of(void *ctx, const struct vf_model_port *mp)
{
    struct vf_daemon *d = ctx;
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (dp->port && dp->port != d->uplink && !dp->closing &&
            !strcmp(dp->name, mp->name))
            return dp->port;
    }
    return NULL;
}
