/* daemon.c - bring a model up as a running forwarder, and take it down.
 *
 * Order matters and is the reverse on the way down: topology and placement
 * (refuse impossible requests before touching anything), pools per worker
 * on the worker's node, ports, first tables, then worker threads. Stop:
 * workers first (so no one polls a port), then tables (grace period), then
 * ports and pools. See vf_daemon.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "mgmt/vf_compile.h"
#include "fabric/vf_port_udp.h"
#include "fabric/vf_ring.h"
#include "mgmt/vf_daemon.h"
#include "pipeline/vf_tables.h"

#define DEFAULT_POOL_BUFS 16384
#define DEFAULT_RING_SIZE 1024
#define DEFAULT_FC_ENTRIES 65536
#define DEFAULT_IDLE_POLLS 1024

static struct vf_port *port_of(void *ctx, const struct vf_model_port *mp)
{
    struct vf_daemon *d = ctx;
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].mport == mp)
            return d->ports[i].port;
    return NULL;
}

struct vf_daemon_port *vf_daemon_find_port(struct vf_daemon *d,
                                           const char *name)
{
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].mport && !strcmp(d->ports[i].mport->name, name))
            return &d->ports[i];
    return NULL;
}

int vf_daemon_publish(struct vf_daemon *d, char *err, size_t errlen)
{
    struct vf_compile_env env = {
        .chassis_idx = d->model.local.chassis_idx,
        .port_of = port_of,
        .arg = d,
        .uplink = d->uplink,
    };
    struct vf_tables *t = vf_compile(&d->model, vf_publisher_current(&d->pub),
                                     &env, d->generation + 1, err, errlen);
    if (!t)
        return -EINVAL;
    d->generation++;
    vf_publish(&d->pub, t);
    return 0;
}

static int add_port(struct vf_daemon *d, struct vf_port *p,
                    const struct vf_model_port *mp, unsigned tenant,
                    char *err, size_t errlen)
{
    if (d->n_ports >= VF_DAEMON_MAX_PORTS || d->n_ports >= VF_MAX_FPORTS) {
        snprintf(err, errlen, "too many local ports (limit %u)",
                 VF_DAEMON_MAX_PORTS);
        vf_port_close(p);
        return -E2BIG;
    }
    p->index = d->n_ports;
    d->ports[d->n_ports++] = (struct vf_daemon_port){p, mp, tenant};
    return 0;
}

static int open_ports(struct vf_daemon *d, char *err, size_t errlen)
{
    const struct vf_model *m = &d->model;
    unsigned nq = d->n_workers;
    int node = d->place.numa_node[0];

    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++) {
            const struct vf_model_switch *sw = &m->tenants[t].switches[s];
            for (size_t i = 0; i < sw->n_ports; i++) {
                const struct vf_model_port *mp = &sw->ports[i];
                if (mp->chassis_idx != m->local.chassis_idx)
                    continue;
                struct vf_port *p = NULL;
                switch (mp->attach.type) {
                case VF_ATTACH_RING:
                    p = vf_ring_port_open(mp->name, nq, d->opts.ring_size, node);
                    if (!p) {
                        snprintf(err, errlen, "port %s: cannot create ring port "
                                 "(out of memory?)", mp->name);
                        return -ENOMEM;
                    }
                    break;
                case VF_ATTACH_TAP:
                case VF_ATTACH_VERBS:
                    snprintf(err, errlen,
                             "port %s: attach type '%s' is not supported by this "
                             "build; use attach: {type: ring}", mp->name,
                             mp->attach.type == VF_ATTACH_TAP ? "tap" : "verbs");
                    return -ENOTSUP;
                }
                int rc = add_port(d, p, mp, (unsigned)t, err, errlen);
                if (rc)
                    return rc;
            }
        }

    struct vf_port *up = NULL;
    switch (m->local.uplink) {
    case VF_UPLINK_RING:
        up = vf_ring_port_open("uplink", nq, d->opts.ring_size, node);
        if (!up) {
            snprintf(err, errlen, "uplink: cannot create ring port");
            return -ENOMEM;
        }
        break;
    case VF_UPLINK_UDP: {
        const struct vf_model_chassis *me = &m->chassis[m->local.chassis_idx];
        uint16_t port = m->local.bind_port ? m->local.bind_port
                        : me->udp_port ? me->udp_port
                        : me->encap == VF_ENCAP_VXLAN ? VF_VXLAN_UDP_PORT
                                                      : VF_GENEVE_UDP_PORT;
        char bind[64], ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &m->local.bind_ip, ip, sizeof(ip));
        snprintf(bind, sizeof(bind), "%s:%u", ip, port);
        struct vf_udp_opts uo;
        vf_udp_opts_default(&uo);
        char e2[512];
        up = vf_udp_port_open("uplink", bind, nq, &uo, d->pools, e2, sizeof(e2));
        if (!up) {
            snprintf(err, errlen, "local.uplink: %s", e2);
            return -EINVAL;
        }
        break;
    }
    case VF_UPLINK_VERBS:
        snprintf(err, errlen, "local.uplink: type 'verbs' is not in this build "
                 "yet; use uplink: {type: udp, bind: ADDR:PORT} or {type: ring}");
        return -ENOTSUP;
    }
    int rc = add_port(d, up, NULL, 0, err, errlen);
    if (rc)
        return rc;
    d->uplink = up;
    return 0;
}

/* Tenant ports round robin over workers (queue 0 is their rx queue);
 * uplink queue w goes to worker w. */
static void assign_queues(struct vf_daemon *d)
{
    unsigned next = 0;
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_port *p = d->ports[i].port;
        if (p == d->uplink) {
            for (unsigned w = 0; w < d->n_workers && w < p->n_queues; w++) {
                struct vf_worker *wk = &d->workers[w];
                if (wk->n_rxq < VF_WORKER_MAX_RXQ)
                    wk->rxq[wk->n_rxq++] = (struct vf_rxq){p, w};
            }
            continue;
        }
        struct vf_worker *wk = &d->workers[next++ % d->n_workers];
        if (wk->n_rxq < VF_WORKER_MAX_RXQ)
            wk->rxq[wk->n_rxq++] = (struct vf_rxq){p, 0};
    }
}

/* Worker threads pin themselves first: hwloc binds the calling thread. */
struct worker_start {
    struct vf_daemon *d;
    unsigned w;
};

static void *worker_main(void *arg)
{
    struct worker_start *ws = arg;
    struct vf_daemon *d = ws->d;
    unsigned w = ws->w;
    free(ws);
    int rc = vf_topo_pin_thread(&d->topo, d->place.cpu[w]);
    atomic_store_explicit(&d->pinned[w], rc == 0, memory_order_release);
    return vf_worker_run(&d->workers[w]);
}

static void tables_free_cb(struct vf_tables *t)
{
    vf_tables_free(t);
}

int vf_daemon_start(struct vf_daemon *d, struct vf_model *model,
                    const struct vf_daemon_opts *opts, char *err,
                    size_t errlen)
{
    int rc;
    memset(d, 0, sizeof(*d));
    d->model = *model;
    memset(model, 0, sizeof(*model));
    d->opts = *opts;
    if (!d->opts.pool_bufs)
        d->opts.pool_bufs = DEFAULT_POOL_BUFS;
    if (!d->opts.ring_size)
        d->opts.ring_size = DEFAULT_RING_SIZE;
    if (!d->opts.flow_cache_entries)
        d->opts.flow_cache_entries = DEFAULT_FC_ENTRIES;
    d->started = time(NULL);
    vf_publisher_init(&d->pub, tables_free_cb);

    if (!d->model.has_local) {
        snprintf(err, errlen, "the desired state has no 'local' section: "
                 "vfabd needs local.chassis to know which host it is");
        rc = -EINVAL;
        goto fail;
    }
    rc = vf_topo_load(&d->topo);
    if (rc) {
        snprintf(err, errlen, "cannot read the machine topology with hwloc: %s",
                 strerror(-rc));
        goto fail;
    }
    rc = vf_topo_place(&d->topo, &d->model.local.workers, &d->place, err, errlen);
    if (rc)
        goto fail;
    d->n_workers = (unsigned)d->place.n_workers;

    d->workers = aligned_alloc(64, sizeof(*d->workers) * d->n_workers);
    if (!d->workers) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memset(d->workers, 0, sizeof(*d->workers) * d->n_workers);
    for (unsigned w = 0; w < d->n_workers; w++) {
        d->pools[w] = vf_pool_create(&d->topo, d->place.numa_node[w],
                                     d->opts.pool_bufs, VF_PKT_DEFAULT_DATA_ROOM,
                                     err, errlen);
        if (!d->pools[w]) {
            rc = -ENOMEM;
            goto fail;
        }
        struct vf_worker *wk = &d->workers[w];
        wk->cpu = d->place.cpu[w];
        wk->numa_node = d->place.numa_node[w];
        wk->txq = w;
        wk->idle_polls_before_sleep = d->opts.idle_polls;
        wk->tables = &d->pub.slot;
        rc = vf_worker_init(wk, w, d->pools[w], d->opts.flow_cache_entries);
        if (rc) {
            snprintf(err, errlen, "worker %u: out of memory", w);
            goto fail;
        }
    }
    rc = open_ports(d, err, errlen);
    if (rc)
        goto fail;
    assign_queues(d);
    rc = vf_daemon_publish(d, err, errlen);
    if (rc)
        goto fail;

    for (unsigned w = 0; w < d->n_workers; w++) {
        struct worker_start *ws = malloc(sizeof(*ws));
        if (ws)
            *ws = (struct worker_start){d, w};
        rc = ws ? -pthread_create(&d->threads[w], NULL, worker_main, ws) : -ENOMEM;
        if (rc) {
            free(ws);
            snprintf(err, errlen, "cannot start worker %u: %s", w, strerror(-rc));
            for (unsigned k = 0; k < w; k++) {
                atomic_store_explicit(&d->workers[k].stop, true, memory_order_release);
                pthread_join(d->threads[k], NULL);
            }
            goto fail;
        }
    }
    d->running = true;
    return 0;

fail:
    vf_daemon_stop(d);
    return rc;
}

void vf_daemon_stop(struct vf_daemon *d)
{
    if (d->running) {
        for (unsigned w = 0; w < d->n_workers; w++)
            atomic_store_explicit(&d->workers[w].stop, true, memory_order_release);
        for (unsigned w = 0; w < d->n_workers; w++)
            pthread_join(d->threads[w], NULL);
        d->running = false;
    }
    for (unsigned i = 0; d->workers && i < d->n_ports; i++) {
        struct vf_port *p = d->ports[i].port;
        /* Packets still queued inside ring ports go back to their pools. */
        if (!strcmp(p->ops->type, "ring")) {
            struct vf_pkt *b[64];
            for (unsigned q = 0; q < p->n_queues; q++) {
                unsigned n;
                struct vf_ring *rings[2] = {vf_ring_port_rx_ring(p, q),
                                            vf_ring_port_tx_ring(p, q)};
                for (unsigned r = 0; r < 2; r++)
                    while ((n = vf_ring_dequeue_burst(rings[r], (void **)b, 64)))
                        for (unsigned k = 0; k < n; k++)
                            vf_pool_free(&d->workers[0].cache, b[k]);
            }
        }
    }
    vf_publisher_fini(&d->pub);
    for (unsigned w = 0; d->workers && w < d->n_workers; w++)
        vf_worker_fini(&d->workers[w]);   /* flushes the pool caches */
    for (unsigned i = 0; i < d->n_ports; i++)
        vf_port_close(d->ports[i].port);
    d->n_ports = 0;
    for (unsigned w = 0; w < d->n_workers; w++) {
        vf_pool_destroy(d->pools[w]);
        d->pools[w] = NULL;
    }
    free(d->workers);
    d->workers = NULL;
    vf_topo_free(&d->topo);
    vf_model_free(&d->model);
}
