/* daemon.c - bring the forwarder up and take it down.
 *
 * Order matters and is the reverse on the way down: topology and placement
 * (refuse impossible requests before touching anything), pools per worker
 * on the worker's node, the uplink, then worker threads; the model comes
 * after, through vf_apply (apply.c) like every later change. Stop: workers
 * first (so no one polls a port), then tables (grace period), then ports
 * and pools. See vf_daemon.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "fabric/vf_port_tap.h"
#include "mgmt/daemon/daemon_int.h"
#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_budget.h"
#include "mgmt/daemon/vf_gateway.h"
#include "mgmt/daemon/vf_log.h"
#include "pipeline/vf_tables.h"
#include "tunnel/vf_segment.h"

#define DEFAULT_POOL_BUFS 16384
#define DEFAULT_RING_SIZE 1024
#define DEFAULT_FC_ENTRIES 65536
#define DEFAULT_IDLE_POLLS 1024
/* TSO taps: buffers per worker for frames of up to 64 KB (ports.c opens
 * the taps and the uplink into them). */
#define TSO_POOL_BUFS 768
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
        n += vf_ports_gone(&d->ports[i]);
    return n;
}

void vf_daemon_report_lost(struct vf_daemon *d)
{
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || dp->reported_gone || !vf_ports_gone(dp))
            continue;
        dp->reported_gone = true;
        vf_log_warn("port %s: %s device %s disappeared; its traffic "
                "is dropped (counted in rx_errors) until the device is back and "
                "the state is re-applied (vfabctl apply FILE)", dp->name,
                dp->port->ops->type, dp->mport ? dp->mport->attach.name : "?");
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

int vf_daemon_build_rx_sets(struct vf_daemon *d, struct vf_rxq_set **set)
{
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
        /* The uplink and multi-queue ports (taps): the kernel spreads their
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
    return 0;
}

void vf_daemon_swap_rx_sets(struct vf_daemon *d, struct vf_rxq_set **set,
                            struct vf_rxq_set **old)
{
    for (unsigned w = 0; w < d->n_workers; w++) {
        old[w] = d->workers[w].rxqs;
        rcu_assign_pointer(d->workers[w].rxqs, set[w]);
    }
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

int vf_daemon_up(struct vf_daemon *d, const struct vf_model *first,
                 const struct vf_daemon_opts *opts, char *err, size_t errlen)
{
    int rc;
    memset(d, 0, sizeof(*d));
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

    if (!first->has_local || first->local.chassis_idx < 0 ||
        (size_t)first->local.chassis_idx >= first->n_chassis) {
        snprintf(err, errlen, "the desired state has no 'local' section: "
                 "vfabd needs local.chassis to know which host it is");
        rc = -EINVAL;
        goto fail;
    }
    /* The model in force is empty until the first vf_apply; its local is
     * this host's from now on (vf_apply.h). */
    d->model.has_local = true;
    d->model.local = first->local;
    if (opts->config)
        snprintf(d->config, sizeof(d->config), "%s", opts->config);
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
    rc = vf_ports_open_uplink(d, &first->local,
                              &first->chassis[first->local.chassis_idx], err,
                              errlen);
    if (rc)
        goto fail;
    /* What the uplink may hold of the pools (vf_budget.h); tenant ports get
     * theirs with the first vf_apply. */
    struct vf_budget budget;
    rc = vf_budget_plan(d, &budget, err, errlen);
    if (rc)
        goto fail;
    vf_budget_apply(d, &budget);
    /* No worker runs yet: the uplink's rx sets need no grace period, and
     * there are no tables until the first apply (workers drop what they
     * receive meanwhile as unknown_in_port). */
    struct vf_rxq_set *sets[VF_MAX_WORKERS], *old_sets[VF_MAX_WORKERS];
    rc = vf_daemon_build_rx_sets(d, sets);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    vf_daemon_swap_rx_sets(d, sets, old_sets);

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

int vf_daemon_start(struct vf_daemon *d, struct vf_model *model,
                    const struct vf_daemon_opts *opts, char *err,
                    size_t errlen)
{
    struct vf_change c = { .origin = VF_ORIGIN_FILE, .source = "start",
                           .model = *model, .validated = true };
    struct vf_apply_result res;
    int rc;

    memset(model, 0, sizeof(*model));
    rc = vf_daemon_up(d, &c.model, opts, err, errlen);
    if (rc) {
        vf_model_free(&c.model);
        return rc;
    }
    rc = vf_apply(d, &c, &res, err, errlen);
    json_decref(res.diff);
    if (rc)
        vf_daemon_stop(d);
    return rc;
}

int vf_daemon_apply(struct vf_daemon *d, struct vf_model *next, char *err,
                    size_t errlen)
{
    struct vf_change c = { .origin = VF_ORIGIN_RPC, .source = "apply",
                           .model = *next, .validated = true };
    struct vf_apply_result res;
    int rc;

    memset(next, 0, sizeof(*next));
    rc = vf_apply(d, &c, &res, err, errlen);
    json_decref(res.diff);
    return rc;
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
            vf_ports_drain(d, d->ports[i].port);
    vf_publisher_fini(&d->pub);
    for (unsigned w = 0; d->workers && w < d->n_workers; w++) {
        free(d->workers[w].rxqs);
        d->workers[w].rxqs = NULL;
        vf_worker_fini(&d->workers[w]);   /* flushes the pool caches */
    }
    vf_daemon_ct_stop(d);
    vf_gw_free(d);
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
    /* Its readers (the demo) were stopped before vf_daemon_stop. */
    vf_port_view_free(d->view);
    d->view = NULL;
    vf_topo_free(&d->topo);
    vf_model_free(&d->model);
    free(d->down);
    d->down = NULL;
}
