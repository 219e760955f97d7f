/* rpc_stats.c - `status`, `stats` and `flows`: what the daemon is doing.
 *
 * All counters are per worker (or per port queue) and summed here, on the
 * management thread, with relaxed loads: never torn, at most a burst stale.
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "fabric/vf_port_udp.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_store_source.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/rpc/vf_rpc.h"
#include "numa/vf_drop.h"

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The tuning in force: the values the daemon actually runs with (defaults
 * filled in), not what the perf config file said. */
static json_t *tuning_json(const struct vf_daemon *d)
{
    const struct vf_daemon_opts *o = &d->opts;
    struct vf_udp_opts uo;
    if (o->has_udp)
        uo = o->udp;
    else
        vf_udp_opts_default(&uo);
    bool huge = false;
    for (unsigned w = 0; w < d->n_workers; w++) {
        struct vf_pool_info pi;
        vf_pool_get_info(d->pools[w], &pi);
        huge |= pi.hugepages;
    }
    json_t *cpus = json_array();
    for (unsigned w = 0; w < d->n_workers; w++)
        json_array_append_new(cpus, json_integer(d->place.cpu[w]));
    const char *uplink = d->uplink ? d->uplink->ops->type : "none";
    return json_pack(
        "{s:s, s:i, s:o, s:i, s:i, s:s, s:i, s:i, s:b, s:b, s:i, s:i, s:s,"
        " s:{s:s, s:s, s:b, s:b, s:i, s:i}}",
        "source", o->tuning_source[0] ? o->tuning_source : "defaults",
        "workers", (int)d->n_workers, "cpus", cpus,
        "burst", (int)(o->burst ? o->burst : VF_WORKER_BURST),
        "tx_batch", (int)(o->tx_batch ? o->tx_batch : VF_BURST_MAX),
        "tx_flush", o->flush_per_queue ? "per-queue" : "per-poll",
        "ring_size", (int)o->ring_size,
        "pool_bufs", (int)o->pool_bufs,
        "hugepages_required", o->hugepages_required,
        "hugepages", huge,
        "flow_cache_entries", (int)o->flow_cache_entries,
        "idle_polls", (int)o->idle_polls,
        "idle_spin", o->fixed_spin ? "fixed" : "adaptive",
        "uplink", "type", uplink,
        "rx", uo.rx_mode == VF_UDP_RX_SYSCALL ? "syscall" : "multishot",
        "send_zc", uo.send_zc, "fixed_bufs", uo.fixed_bufs,
        "depth", (int)(uo.ring_depth ? uo.ring_depth : VF_UDP_DEPTH_DEFAULT),
        "burst", (int)(uo.burst ? uo.burst : VF_BURST_MAX));
}

json_t *vf_rpc_status(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    (void)params;
    (void)err;
    char desc[256];
    vf_topo_describe(&d->topo, desc, sizeof(desc));
    json_t *workers = json_array();
    for (unsigned w = 0; w < d->n_workers; w++) {
        struct vf_worker *wk = &d->workers[w];
        uint64_t busy = ld(&wk->stats.busy_tsc), idle = ld(&wk->stats.idle_tsc);
        json_array_append_new(workers, json_pack(
            "{s:i, s:i, s:i, s:b, s:i, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I}",
            "id", (int)w, "cpu", wk->cpu, "numa_node", wk->numa_node,
            "pinned", atomic_load(&d->pinned[w]), "rx_queues", wk->rxqs ? (int)wk->rxqs->n : 0,
            "rx_pkts", (json_int_t)ld(&wk->stats.rx_pkts),
            "tx_pkts", (json_int_t)ld(&wk->stats.tx_pkts),
            "sleeps", (json_int_t)ld(&wk->stats.sleeps),
            "busy_ratio", busy + idle ? (double)busy / (double)(busy + idle) : 0.0,
            "generation", (json_int_t)ld(&wk->stats.generation),
            "idle_polls_before_sleep", (json_int_t)wk->idle_polls_before_sleep,
            "spin_budget", (json_int_t)ld(&wk->stats.spin_budget),
            "spin_cuts", (json_int_t)ld(&wk->stats.spin_cuts),
            "icmp_frag_needed", (json_int_t)ld(&wk->stats.icmp_frag_needed)));
    }
    const struct vf_model *m = &d->model;
    json_t *st = json_pack(
        "{s:s, s:s, s:I, s:I, s:{s:s, s:i, s:i, s:b}, s:o, s:i,"
        " s:{s:I, s:I, s:I, s:I}, s:o}",
        "version", VF_VERSION,
        "chassis", m->local.chassis,
        "pid", (json_int_t)getpid(),
        "uptime_s", (json_int_t)(time(NULL) - d->started),
        "topology", "description", desc, "cores", d->topo.n_cores,
        "numa_nodes", d->topo.n_numa, "this_system", d->topo.is_this_system,
        "workers", workers,
        "ports", (int)d->n_ports,
        "tables", "generation", (json_int_t)d->generation,
        "publications", (json_int_t)d->pub.n_published,
        "last_grace_us", (json_int_t)(d->pub.last_grace_ns / 1000),
        "max_grace_us", (json_int_t)(d->pub.max_grace_ns / 1000),
        "tuning", tuning_json(d));
    if (st && d->store)
        json_object_set_new(st, "store", vf_store_src_status(d->store));
    return st;
}

/* A vf_port_info_sink that fills a JSON object (arg). A dotted key
 * ("rings.0.kicks") is a path of nested objects, made as needed. */
static void info_set(json_t *o, const char *key, json_t *val)
{
    const char *dot;
    char part[64];

    while (o && (dot = strchr(key, '.')) && (size_t)(dot - key) < sizeof(part)) {
        json_t *sub;
        memcpy(part, key, (size_t)(dot - key));
        part[dot - key] = '\0';
        sub = json_object_get(o, part);
        if (!json_is_object(sub)) {
            sub = json_object();
            json_object_set_new(o, part, sub);
        }
        o = sub;
        key = dot + 1;
    }
    if (o)
        json_object_set_new(o, key, val);
    else
        json_decref(val);
}

static void info_str(void *arg, const char *key, const char *val)
{
    info_set(arg, key, json_string(val));
}

static void info_u64(void *arg, const char *key, uint64_t val)
{
    info_set(arg, key, json_integer((json_int_t)val));
}

static void info_flag(void *arg, const char *key, bool val)
{
    info_set(arg, key, json_boolean(val));
}

static json_t *port_json(const struct vf_daemon_port *dp)
{
    struct vf_port_stats s;
    vf_port_stats_sum(dp->port, &s);
    /* no_buffer: frames this port lost for want of a buffer; tx_limit:
     * the most it may hold on tx per queue (its budget, vf_budget.h). */
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                          "name", dp->mport ? dp->mport->name : dp->port->name,
                          "type", dp->port->ops->type,
                          "rx_pkts", (json_int_t)s.rx_pkts,
                          "rx_bytes", (json_int_t)s.rx_bytes,
                          "tx_pkts", (json_int_t)s.tx_pkts,
                          "tx_bytes", (json_int_t)s.tx_bytes,
                          "tx_drops", (json_int_t)s.tx_drops,
                          "rx_errors", (json_int_t)s.rx_errors,
                          "no_buffer", (json_int_t)s.no_buffer,
                          "tx_limit", (json_int_t)vf_port_tx_limit(dp->port));
    /* The backend's own facts (a tap's device, mode and offload counters,
     * vf_port_tap.h), under its type's name. */
    json_t *info = json_object();
    const struct vf_port_info_sink sink = {
        .str = info_str, .u64 = info_u64, .flag = info_flag, .arg = info,
    };
    if (j && info && vf_port_info(dp->port, &sink))
        json_object_set(j, dp->port->ops->type, info);
    json_decref(info);
    return j;
}

json_t *vf_rpc_stats(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    (void)params;
    (void)err;
    json_t *ports = json_array();
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].port)   /* slots of deleted ports are NULL */
            json_array_append_new(ports, port_json(&d->ports[i]));

    uint64_t total[VF_DROP__COUNT];
    vf_daemon_drops(d, total);
    json_t *workers = json_array();
    for (unsigned w = 0; w < d->n_workers; w++) {
        struct vf_worker *wk = &d->workers[w];
        json_t *drops = json_object();
        for (unsigned r = 1; r < VF_DROP__COUNT; r++) {
            uint64_t v = ld(&wk->stats.drops[r]);
            json_object_set_new(drops, vf_drop_name(r), json_integer((json_int_t)v));
        }
        struct vf_flow_cache_stats fc = {0};
        if (wk->fc)
            vf_fc_get_stats(wk->fc, &fc);
        json_array_append_new(workers, json_pack(
            "{s:i, s:i, s:i, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I}}",
            "id", (int)w, "cpu", wk->cpu, "numa_node", wk->numa_node,
            "rx_pkts", (json_int_t)ld(&wk->stats.rx_pkts),
            "tx_pkts", (json_int_t)ld(&wk->stats.tx_pkts),
            "drops", drops,
            "flow_cache", "hits", (json_int_t)fc.hits,
            "misses", (json_int_t)fc.misses, "inserts", (json_int_t)fc.inserts,
            "evictions", (json_int_t)fc.evictions));
    }
    /* Every reason is listed, zero or not: scripts can rely on the keys. */
    json_t *drops = json_object();
    for (unsigned r = 1; r < VF_DROP__COUNT; r++)
        json_object_set_new(drops, vf_drop_name(r), json_integer((json_int_t)total[r]));
    return json_pack("{s:o, s:o, s:o, s:I, s:o}", "ports", ports, "workers",
                     workers, "drops", drops, "generation",
                     (json_int_t)d->generation, "conntrack", vf_rpc_ct_stats(d));
}

json_t *vf_rpc_flows(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    (void)params;
    (void)err;
    json_t *workers = json_array();
    for (unsigned w = 0; w < d->n_workers; w++) {
        struct vf_worker *wk = &d->workers[w];
        struct vf_flow_cache_stats fc = {0};
        if (wk->fc)
            vf_fc_get_stats(wk->fc, &fc);
        uint64_t lookups = fc.hits + fc.misses;
        json_array_append_new(workers, json_pack(
            "{s:i, s:i, s:I, s:I, s:I, s:I, s:f}", "worker", (int)w,
            "capacity", wk->fc ? (int)vf_fc_capacity(wk->fc) : 0,
            "hits", (json_int_t)fc.hits, "misses", (json_int_t)fc.misses,
            "inserts", (json_int_t)fc.inserts, "evictions", (json_int_t)fc.evictions,
            "hit_rate", lookups ? (double)fc.hits / (double)lookups : 0.0));
    }
    return json_pack("{s:I, s:o}", "generation", (json_int_t)d->generation,
                     "workers", workers);
}

json_t *vf_rpc_show(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    (void)params;
    (void)err;
    return vf_model_to_json(&d->model);
}
