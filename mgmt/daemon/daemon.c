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

#include "mgmt/daemon/vf_budget.h"
#include "mgmt/daemon/vf_capture_mgmt.h"
#include "mgmt/control/vf_compile.h"
#include "fabric/vf_port_udp.h"
#include "fabric/vf_port_tap.h"
#include "fabric/vf_port_verbs.h"
#include "fabric/vf_ring.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"
#include "pipeline/vf_tables.h"
#include "tunnel/vf_segment.h"

#define DEFAULT_POOL_BUFS 16384
#define DEFAULT_RING_SIZE 1024
#define DEFAULT_FC_ENTRIES 65536
#define DEFAULT_IDLE_POLLS 1024
/* TSO taps: buffers per worker for frames of up to 64 KB, and the reads
 * each tap queue keeps in flight (a window of 64 big buffers per queue
 * would be 5 MB; 16 keeps a 64 KB frame per read in reach of many ports). */
#define TSO_POOL_BUFS 768
#define TSO_RX_WINDOW 16
#define TSO_UPLINK_DEPTH 128
/* A TSO frame, plus the tailroom the tunnel batch grows it by. */
#define TSO_DATA_ROOM (VF_TAP_TSO_DATA_ROOM + VF_SEG_BATCH_TAILROOM)

/* Opens one large-buffer pool per worker so taps can take TSO frames
 * whole (one pipeline pass per 64 KB, vf_segment.h). Best effort: without
 * the memory the taps run without TSO, as before. */
static void open_tso_pools(struct vf_daemon *d)
{
    char e[256];
    for (unsigned w = 0; w < d->n_workers; w++) {
        d->tso_pools[w] = vf_pool_create(&d->topo, d->place.numa_node[w],
                                         TSO_POOL_BUFS, TSO_DATA_ROOM, e,
                                         sizeof(e));
        if (!d->tso_pools[w]) {
            vf_log_warn("no memory for TSO buffers (%s); taps run without "
                        "TSO", e);
            for (unsigned k = 0; k < w; k++) {
                vf_pool_destroy(d->tso_pools[k]);
                d->tso_pools[k] = NULL;
            }
            return;
        }
    }
}

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

/* Opens a tap port with TSO on when the large pools exist. */
static struct vf_port *open_tap(struct vf_daemon *d,
                                const struct vf_model_port *mp, char *e,
                                size_t elen)
{
    if (!d->tso_pools[0])
        return vf_tap_port_open(mp->name, mp->attach.name, d->n_workers,
                                d->pools, NULL, e, elen);
    struct vf_tap_opts o = {.tso = true, .rx_window = TSO_RX_WINDOW};
    return vf_tap_port_open(mp->name, mp->attach.name, d->n_workers,
                            d->tso_pools, &o, e, elen);
}

/* By name, so the compiler can map a model that is not yet in force. */
static struct vf_port *port_of(void *ctx, const struct vf_model_port *mp)
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

int vf_daemon_set_state_dir(struct vf_daemon *d, const char *dir)
{
    if (!dir) {
        d->state_dir[0] = '\0';
        return 0;
    }
    if (strlen(dir) >= sizeof(d->state_dir))
        return -ENAMETOOLONG;
    strcpy(d->state_dir, dir);
    return 0;
}

struct vf_daemon_port *vf_daemon_find_port(struct vf_daemon *d,
                                           const char *name)
{
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].port && d->ports[i].mport &&
            !strcmp(d->ports[i].name, name))
            return &d->ports[i];
    return NULL;
}

unsigned vf_daemon_lost_ports(const struct vf_daemon *d)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].port && d->ports[i].mq_rx &&
            vf_tap_port_gone(d->ports[i].port))
            n++;
    return n;
}

void vf_daemon_report_lost(struct vf_daemon *d)
{
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || !dp->mq_rx || dp->reported_gone ||
            !vf_tap_port_gone(dp->port))
            continue;
        dp->reported_gone = true;
        vf_log_warn("port %s: tap device %s disappeared; its traffic "
                "is dropped (counted in rx_errors) until the device is back and "
                "the state is re-applied (vfabctl apply FILE)", dp->name,
                dp->mport ? dp->mport->attach.name : "?");
    }
}

void vf_daemon_drops(const struct vf_daemon *d, uint64_t out[VF_DROP__COUNT])
{
    for (unsigned r = 0; r < VF_DROP__COUNT; r++)
        out[r] = 0;
    for (unsigned w = 0; d->workers && w < d->n_workers; w++)
        for (unsigned r = 1; r < VF_DROP__COUNT; r++)
            out[r] += atomic_load_explicit(&d->workers[w].stats.drops[r],
                                           memory_order_relaxed);
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_port_stats s;
        if (!d->ports[i].port)
            continue;
        vf_port_stats_sum(d->ports[i].port, &s);
        out[VF_DROP_NO_BUFFER] += s.rx_no_buffer;
    }
}

static void kick_workers(void *arg)
{
    struct vf_daemon *d = arg;
    for (unsigned w = 0; w < d->n_workers; w++)
        vf_worker_kick(&d->workers[w]);
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
    vf_daemon_ct_published(d);
    return 0;
}

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

static int add_port(struct vf_daemon *d, struct vf_port *p,
                    const struct vf_model_port *mp, unsigned tenant,
                    char *err, size_t errlen)
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
    p->index = slot;
    d->ports[slot] = (struct vf_daemon_port){.port = p, .mport = mp,
                                             .tenant = tenant, .rx_worker = rxw};
    snprintf(d->ports[slot].name, sizeof(d->ports[slot].name), "%s",
             mp ? mp->name : p->name);
    d->ports[slot].mq_rx = mp && mp->attach.type == VF_ATTACH_TAP;
    if (slot == d->n_ports)
        d->n_ports++;
    return 0;
}

/* Opens the fabric port for a VM port of this chassis. */
static struct vf_port *open_tenant_port(struct vf_daemon *d,
                                        const struct vf_model_port *mp,
                                        char *err, size_t errlen)
{
    struct vf_port *p = NULL;
    switch (mp->attach.type) {
    case VF_ATTACH_RING:
        p = vf_ring_port_open(mp->name, d->n_workers, d->opts.ring_size,
                              d->place.numa_node[0]);
        if (!p)
            snprintf(err, errlen, "port %s: cannot create ring port "
                     "(out of memory?)", mp->name);
        break;
    case VF_ATTACH_TAP: {
        char e2[512];
        p = open_tap(d, mp, e2, sizeof(e2));
        if (!p)
            snprintf(err, errlen, "port %s: attach.name %s: %s", mp->name,
                     mp->attach.name, e2);
        break;
    }
    case VF_ATTACH_VERBS:
        snprintf(err, errlen,
                 "port %s: attach type 'verbs' is for the uplink only in this "
                 "build; attach VMs with {type: tap, name: ...} or {type: ring}",
                 mp->name);
        break;
    }
    return p;
}

/* The VM ports of model m placed on this chassis, with their tenants;
 * returns how many (at most max). */
static size_t local_ports(const struct vf_model *m,
                          const struct vf_model_port **out, unsigned *tenant,
                          size_t max)
{
    size_t n = 0;
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            for (size_t i = 0; i < m->tenants[t].switches[s].n_ports; i++) {
                const struct vf_model_port *mp = &m->tenants[t].switches[s].ports[i];
                if (mp->chassis_idx != m->local.chassis_idx || n == max)
                    continue;
                tenant[n] = (unsigned)t;
                out[n++] = mp;
            }
    return n;
}

static int open_ports(struct vf_daemon *d, char *err, size_t errlen)
{
    const struct vf_model *m = &d->model;
    unsigned nq = d->n_workers;
    int node = d->place.numa_node[0];

    const struct vf_model_port **lp_port = d->scratch.port;
    unsigned *lp_tenant = d->scratch.tenant;
    size_t n = local_ports(m, lp_port, lp_tenant, VF_DAEMON_MAX_PORTS);
    for (size_t i = 0; i < n; i++) {
        struct vf_port *p = open_tenant_port(d, lp_port[i], err, errlen);
        if (!p)
            return -EINVAL;
        int rc = add_port(d, p, lp_port[i], lp_tenant[i], err, errlen);
        if (rc)
            return rc;
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
                                           : vf_model_chassis_port(me);
        char bind[64], ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &m->local.bind_ip, ip, sizeof(ip));
        snprintf(bind, sizeof(bind), "%s:%u", ip, port);
        struct vf_udp_opts uo;
        if (d->opts.has_udp)
            uo = d->opts.udp;      /* the perf config's choice */
        else
            vf_udp_opts_default(&uo);
        tso_uplink_opts(d, &uo);
        char e2[512];
        up = vf_udp_port_open("uplink", bind, nq, &uo,
                              uo.gro ? d->tso_pools : d->pools, e2, sizeof(e2));
        if (!up) {
            snprintf(err, errlen, "local.uplink: %s", e2);
            return -EINVAL;
        }
        /* GRO buffers that hold coalesced datagrams need fresh large
         * buffers to refill the ring; the taps' reads must leave them a
         * ring's worth (the worker pools get theirs from vf_budget). */
        for (unsigned w = 0; uo.gro && w < d->n_workers; w++)
            vf_pool_set_reserve(d->tso_pools[w], uo.ring_depth);
        break;
    }
    case VF_UPLINK_VERBS: {
        char e2[512];
        up = vf_verbs_port_open("uplink", m->local.device, m->local.device_port,
                                nq, d->pools, NULL, e2, sizeof(e2));
        if (!up) {
            snprintf(err, errlen, "local.uplink: %s", e2);
            return -ENODEV;
        }
        break;
    }
    }
    int rc = add_port(d, up, NULL, 0, err, errlen);
    if (rc)
        return rc;
    d->uplink = up;
    return 0;
}

/* Builds each worker's rx queue set from the open ports and publishes it
 * (rcu_assign_pointer). The previous sets go to old[], to be freed after
 * the next grace period. Tenant port queue 0 goes to its rx_worker; uplink
 * queue w to worker w. */
static int publish_rx_sets(struct vf_daemon *d, struct vf_rxq_set **old)
{
    struct vf_rxq_set *set[VF_MAX_WORKERS];
    for (unsigned w = 0; w < d->n_workers; w++) {
        set[w] = calloc(1, sizeof(*set[w]));
        if (!set[w]) {
            while (w--)
                free(set[w]);
            return -ENOMEM;
        }
    }
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || dp->closing)
            continue;
        /* The uplink and taps are multi-queue: the kernel spreads their
         * traffic over the queues, so worker w polls queue w. */
        if (dp->port == d->uplink || dp->mq_rx) {
            for (unsigned w = 0; w < d->n_workers && w < dp->port->n_queues; w++)
                if (set[w]->n < VF_WORKER_MAX_RXQ)
                    set[w]->q[set[w]->n++] = (struct vf_rxq){dp->port, w};
            continue;
        }
        struct vf_rxq_set *rs = set[dp->rx_worker];
        if (rs->n < VF_WORKER_MAX_RXQ)
            rs->q[rs->n++] = (struct vf_rxq){dp->port, 0};
    }
    for (unsigned w = 0; w < d->n_workers; w++) {
        old[w] = d->workers[w].rxqs;
        rcu_assign_pointer(d->workers[w].rxqs, set[w]);
    }
    return 0;
}

/* local.workers as the topology layer places workers. */
_Static_assert(VF_MODEL_MAX_WORKERS == VF_MAX_WORKERS,
               "local.workers lists at most as many cpus as there are workers");
static void workers_spec(const struct vf_model_workers *w,
                         struct vf_workers_spec *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = w->mode == VF_MODEL_WORKERS_COUNT ? VF_WORKERS_COUNT
                : w->mode == VF_MODEL_WORKERS_LIST ? VF_WORKERS_LIST
                                                   : VF_WORKERS_AUTO;
    out->count = w->count;
    out->n_cpus = w->n_cpus;
    memcpy(out->cpus, w->cpus, sizeof(out->cpus));
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
    d->pub.kick = kick_workers;
    d->pub.kick_arg = d;

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
    /* A perf config's workers override the model's without changing it, so
     * a later apply of the same state file still matches local.workers. */
    struct vf_workers_spec spec;
    if (d->opts.has_workers)
        spec = d->opts.workers;
    else
        workers_spec(&d->model.local.workers, &spec);
    rc = vf_topo_place(&d->topo, &spec, &d->place, err, errlen);
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
        struct vf_pool_info pi;
        vf_pool_get_info(d->pools[w], &pi);
        if (d->opts.hugepages_required && !pi.hugepages) {
            snprintf(err, errlen, "hugepages: required, but worker %u's pool "
                     "(%u buffers) got normal pages; reserve hugepages "
                     "(vm.nr_hugepages) or set hugepages: auto", w,
                     d->opts.pool_bufs);
            rc = -ENOMEM;
            goto fail;
        }
        struct vf_worker *wk = &d->workers[w];
        wk->cpu = d->place.cpu[w];
        wk->numa_node = d->place.numa_node[w];
        wk->txq = w;
        wk->idle_polls_before_sleep = d->opts.idle_polls;
        wk->fixed_spin = d->opts.fixed_spin;
        wk->rx_burst = d->opts.burst;
        wk->tx_batch = d->opts.tx_batch;
        wk->flush_per_queue = d->opts.flush_per_queue;
        wk->tables = &d->pub.slot;
        rc = vf_worker_init(wk, w, d->pools[w], d->opts.flow_cache_entries);
        if (rc) {
            snprintf(err, errlen, "worker %u: out of memory", w);
            goto fail;
        }
        /* What status shows until the worker's first sleep adapts it. */
        atomic_store(&wk->stats.spin_budget, wk->idle_polls_before_sleep);
    }
    vf_pool_cache_init(&d->mgmt_cache, d->pools[0]);
    rc = vf_daemon_ct_start(d, err, errlen);
    if (rc)
        goto fail;
    open_tso_pools(d);
    rc = open_ports(d, err, errlen);
    if (rc)
        goto fail;
    /* What each port may hold of the pools; refuses pools too small for
     * the ports (vf_budget.h). */
    struct vf_budget budget;
    rc = vf_budget_plan(d, &budget, err, errlen);
    if (rc)
        goto fail;
    vf_budget_apply(d, &budget);
    struct vf_rxq_set *old_sets[VF_MAX_WORKERS];
    rc = publish_rx_sets(d, old_sets);   /* no worker runs yet: nothing old */
    if (rc) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
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
                vf_worker_kick(&d->workers[k]);
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

/* Returns packets still queued inside a ring port to their pools. Only
 * when no worker polls the port any more. */
static void drain_ring_port(struct vf_port *p, struct vf_pool_cache *c)
{
    if (strcmp(p->ops->type, "ring"))
        return;
    struct vf_pkt *b[64];
    for (unsigned q = 0; q < p->n_queues; q++) {
        struct vf_ring *rings[2] = {vf_ring_port_rx_ring(p, q),
                                    vf_ring_port_tx_ring(p, q)};
        for (unsigned r = 0; r < 2; r++) {
            unsigned n;
            while ((n = vf_ring_dequeue_burst(rings[r], (void **)b, 64)))
                vf_pool_free_burst(c, b, n);
        }
    }
}

static bool same_local(const struct vf_model_local *a,
                       const struct vf_model_local *b, const char **field)
{
    *field = strcmp(a->chassis, b->chassis) ? "chassis"
             : memcmp(&a->workers, &b->workers, sizeof(a->workers)) ? "workers"
             : a->uplink != b->uplink || a->bind_ip != b->bind_ip ||
                       a->bind_port != b->bind_port ||
                       strcmp(a->device, b->device) ||
                       a->device_port != b->device_port
                   ? "uplink"
               : a->metrics_ip != b->metrics_ip ||
                       a->metrics_port != b->metrics_port
                   ? "metrics"
                   : NULL;
    return *field == NULL;
}

static bool same_attach(const struct vf_model_attach *a,
                        const struct vf_model_attach *b)
{
    return a->type == b->type && !strcmp(a->name, b->name) &&
           !strcmp(a->device, b->device);
}

int vf_daemon_apply(struct vf_daemon *d, struct vf_model *next, char *err,
                    size_t errlen)
{
    const char *field;
    if (!next->has_local || !same_local(&d->model.local, &next->local, &field)) {
        snprintf(err, errlen, "local.%s cannot change while vfabd runs (it "
                 "decides cores, pools and sockets); restart vfabd with the new "
                 "file instead", next->has_local ? field : "chassis");
        return -EINVAL;
    }
    /* 1. Ports leaving this chassis (or re-attached) are marked closing. */
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || dp->port == d->uplink)
            continue;
        size_t t, sw, k;
        bool keep = vf_model_find_port(next, dp->name, &t, &sw, &k) == 0;
        if (keep) {
            const struct vf_model_port *np = &next->tenants[t].switches[sw].ports[k];
            keep = np->chassis_idx == next->local.chassis_idx &&
                   same_attach(&np->attach, &dp->mport->attach);
            /* A tap whose device vanished is re-created by the apply. */
            if (keep && dp->mq_rx && vf_tap_port_gone(dp->port))
                keep = false;
        }
        dp->closing = !keep;
    }
    /* 2. Ports arriving are opened (not yet polled by any worker). */
    const struct vf_model_port **lp_port = d->scratch.port;
    unsigned *lp_tenant = d->scratch.tenant, *opened = d->scratch.opened;
    unsigned n_opened = 0;
    int rc = 0;
    size_t n = local_ports(next, lp_port, lp_tenant, VF_DAEMON_MAX_PORTS);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct vf_daemon_port *have = vf_daemon_find_port(d, lp_port[i]->name);
        if (have && !have->closing)
            continue;
        struct vf_port *p = open_tenant_port(d, lp_port[i], err, errlen);
        if (!p) {
            rc = -EINVAL;
            break;
        }
        rc = add_port(d, p, lp_port[i], lp_tenant[i], err, errlen);
        if (!rc)
            opened[n_opened++] = p->index;
    }
    /* 3. The pools must hold the new set of ports (vf_budget.h). */
    struct vf_budget budget;
    if (!rc)
        rc = vf_budget_plan(d, &budget, err, errlen);
    /* 4. Tables for the new model, sharing what did not change. */
    struct vf_tables *tables = NULL;
    if (!rc) {
        struct vf_compile_env env = {
            .chassis_idx = next->local.chassis_idx,
            .port_of = port_of,
            .arg = d,
            .uplink = d->uplink,
        };
        tables = vf_compile(next, vf_publisher_current(&d->pub), &env,
                            d->generation + 1, err, errlen);
        if (!tables)
            rc = -EINVAL;
    }
    struct vf_rxq_set *old_sets[VF_MAX_WORKERS] = {0};
    if (!rc && publish_rx_sets(d, old_sets)) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        vf_tables_free(tables);
    }
    if (rc) {
        /* Undo: nothing that workers see has changed yet. */
        for (unsigned k = 0; k < n_opened; k++) {
            vf_port_close(d->ports[opened[k]].port);
            d->ports[opened[k]].port = NULL;
        }
        for (unsigned i = 0; i < d->n_ports; i++)
            d->ports[i].closing = false;
        return rc;
    }
    /* 5. Budgets before anyone sends to the new ports; a port that leaves
     * keeps what it holds until it is closed below. One grace period
     * covers both the tables and the rx sets. */
    vf_budget_apply(d, &budget);
    d->generation++;
    vf_publish(&d->pub, tables);
    vf_daemon_ct_published(d);
    for (unsigned w = 0; w < d->n_workers; w++)
        free(old_sets[w]);
    /* 6. No worker can hold the leaving ports now: close them. */
    unsigned closed = 0;
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || !dp->closing)
            continue;
        drain_ring_port(dp->port, &d->mgmt_cache);
        vf_port_close(dp->port);
        memset(dp, 0, sizeof(*dp));
        closed++;
    }
    /* What the drains freed goes back to the pool, not into mgmt's cache,
     * and the ports that stay may now hold more. */
    if (closed) {
        vf_pool_cache_flush(&d->mgmt_cache);
        if (vf_budget_plan(d, &budget, err, errlen) == 0)
            vf_budget_apply(d, &budget);
    }
    /* A capture of a port that just left ends now, before a later apply
     * can give its slot (and fabric index) to another tenant's port. */
    if (closed)
        vf_capture_poll(d);
    /* 7. The new model is in force; repoint ports at its entries. */
    vf_model_free(&d->model);
    d->model = *next;
    memset(next, 0, sizeof(*next));
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        size_t t, sw, k;
        if (!dp->port || dp->port == d->uplink)
            continue;
        if (vf_model_find_port(&d->model, dp->name, &t, &sw, &k) == 0) {
            dp->mport = &d->model.tenants[t].switches[sw].ports[k];
            dp->tenant = (unsigned)t;
        }
    }
    return 0;
}

void vf_daemon_stop(struct vf_daemon *d)
{
    if (d->running) {
        for (unsigned w = 0; w < d->n_workers; w++)
            atomic_store_explicit(&d->workers[w].stop, true, memory_order_release);
        for (unsigned w = 0; w < d->n_workers; w++) {
            vf_worker_kick(&d->workers[w]);
            pthread_join(d->threads[w], NULL);
        }
        d->running = false;
    }
    /* Workers are gone: packets still inside ring ports go home. */
    for (unsigned i = 0; d->mgmt_cache.pool && i < d->n_ports; i++)
        if (d->ports[i].port)
            drain_ring_port(d->ports[i].port, &d->mgmt_cache);
    vf_publisher_fini(&d->pub);
    for (unsigned w = 0; d->workers && w < d->n_workers; w++) {
        free(d->workers[w].rxqs);
        d->workers[w].rxqs = NULL;
        vf_worker_fini(&d->workers[w]);   /* flushes the pool caches */
    }
    vf_daemon_ct_stop(d);
    if (d->mgmt_cache.pool)
        vf_pool_cache_flush(&d->mgmt_cache);
    for (unsigned i = 0; i < d->n_ports; i++)
        vf_port_close(d->ports[i].port);
    d->n_ports = 0;
    for (unsigned w = 0; w < d->n_workers; w++) {
        vf_pool_destroy(d->pools[w]);
        d->pools[w] = NULL;
        vf_pool_destroy(d->tso_pools[w]);
        d->tso_pools[w] = NULL;
    }
    free(d->workers);
    d->workers = NULL;
    vf_topo_free(&d->topo);
    vf_model_free(&d->model);
}
