/* vf_daemon.h - one running vfabd: topology, pools, ports, workers, tables.
 *
 * What: vf_daemon_up() brings the forwarder up with an empty model: it
 * places workers on cores (vf_topo_place), creates one NUMA-local pool per
 * worker, opens the uplink, and starts one pinned thread per worker. Every
 * desired state then arrives through vf_apply() (vf_apply.h), the first
 * one included: it opens this chassis' tenant ports, gives each its share
 * of the pools (vf_budget.h: refused when the pools cannot hold the
 * ports), compiles and publishes the tables. vf_daemon_start() is both
 * steps for callers with a model in hand (tests, benchmarks).
 *
 * Queue ownership: every port gets one queue per worker. A tenant port's
 * rx is served by exactly one worker (round robin by port) unless its
 * backend is multi-queue (ports.c); every worker transmits on its own
 * queue (w->txq == worker id), so no ring or socket ever has two
 * producers. The uplink's queue q is received by worker q.
 *
 * Connection tracking (stateful ACLs): the host's connection table is
 * created with the daemon (opts.ct_max_conns; daemon_ct.c), every worker
 * gets a context on it and sweeps its share, mgmt has its own context
 * (flushes, zone limits after each publication) and gives killed entries
 * back every VF_DAEMON_CT_RECLAIM_MS (vf_daemon_ct_tick, from vfabd's
 * loop).
 *
 * Thread-safety: all functions run on the management thread. Workers touch
 * only their own struct vf_worker, the ports' queues they own, the
 * published tables and the shared connection table.
 */
#ifndef VF_DAEMON_H
#define VF_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fabric/vf_port.h"
#include "fabric/vf_port_udp.h"
#include "mgmt/control/vf_model.h"
#include "mgmt/daemon/vf_capture_mgmt.h"
#include "mgmt/daemon/vf_port_view.h"
#include "mgmt/daemon/vf_publish.h"
#include "numa/vf_pool.h"
#include "numa/vf_topo.h"
#include "pipeline/vf_acl.h"
#include "pipeline/vf_worker.h"

#define VF_DAEMON_MAX_PORTS 4096
#define VF_DAEMON_CT_CONNS 262144u   /* connections by default (~70 MB) */
#define VF_DAEMON_CT_RECLAIM_MS 100  /* killed entries given back this often */

struct vf_daemon_opts {
    unsigned pool_bufs;          /* per worker; default 16384 */
    unsigned ring_size;          /* ring port depth; default 1024 */
    unsigned flow_cache_entries; /* per worker; default 65536 */
    unsigned idle_polls;         /* empty polls before sleeping; 0 = busy poll */
    bool fixed_spin;             /* no adaptive spin (vf_worker.h, Idle) */
    /* Tuning knobs (mgmt/daemon/vf_perfconfig.h); zero keeps the default. */
    unsigned burst;              /* worker rx burst 1..VF_BURST_MAX; 0 = 32 */
    unsigned tx_batch;           /* staged per port before a send; 0 = max */
    bool flush_per_queue;        /* flush tx after each rx queue, not poll */
    bool hugepages_required;     /* refuse to start on normal pages */
    /* Connection table: live connections on this host (0: the default,
     * VF_DAEMON_CT_CONNS), each port's default limit (0: none), or none at
     * all (stateful ports then refuse new connections: ct_table_full). */
    unsigned ct_max_conns;
    unsigned ct_zone_max;
    bool no_conntrack;
    bool has_workers;            /* workers overrides the model's local.workers */
    struct vf_workers_spec workers;
    bool has_udp;                /* udp overrides vf_udp_opts_default */
    struct vf_udp_opts udp;
    char tuning_source[256];     /* perf config file, "" = built-in defaults */
    /* The -c file, named in messages about `local` (vf_apply.h); NULL:
     * "the -c file". */
    const char *config;
};

struct vf_gw;

/* One opened fabric port. Slots are reused: ports[i].port == NULL is a
 * free slot, and a port's fabric index (port->index) is its slot, stable
 * for the port's life (workers stage packets by it). */
struct vf_daemon_port {
    struct vf_port *port;
    const struct vf_model_port *mport;   /* into d->model; NULL: the uplink
                                          * or a physical network's port */
    char name[VF_NAME_MAX];              /* logical port name */
    unsigned tenant;                     /* index in model.tenants */
    unsigned rx_worker;                  /* worker that polls its queue 0 */
    bool closing;                        /* apply: leaves with this change */
    bool mq_rx;                          /* worker w polls queue w (ports.c) */
    bool reported_gone;                  /* device loss logged once */
    bool physical;                       /* a physical network's port
                                          * (vf_gateway.h); mport NULL */
    char ifname[16];                     /* physical: its interface */
};

/* Ownership: everything here is the management thread's (mgmt: rw)
 * unless a field says otherwise. Workers never read this struct: each
 * gets a pointer to its own struct vf_worker and reaches ports only
 * through its published rx set and the published tables. */
struct vf_daemon {
    struct vf_model model;               /* the model in force */
    struct vf_daemon_opts opts;
    struct vf_topo topo;                 /* read-only once loaded */
    struct vf_placement place;
    unsigned n_workers;
    struct vf_pool *pools[VF_MAX_WORKERS];
    /* Large-frame pools for TSO taps (daemon.c, open_tso_pools); all NULL
     * when they could not be made: taps then run without TSO. */
    struct vf_pool *tso_pools[VF_MAX_WORKERS];
    /* n_workers, cache aligned. Worker w: rw its own entry (stats, cache,
     * rxqs it reads under RCU); mgmt: builds them before the threads start,
     * then publishes rxqs/capture and reads the stats with relaxed loads. */
    struct vf_worker *workers;
    pthread_t threads[VF_MAX_WORKERS];
    _Atomic bool pinned[VF_MAX_WORKERS]; /* worker: w once, mgmt: r */
    bool running;

    unsigned n_ports;                    /* slots in use (high-water mark) */
    struct vf_daemon_port ports[VF_DAEMON_MAX_PORTS];
    struct vf_port *uplink;

    /* The open ports for readers that are not workers (the demo):
     * mgmt: rw (rcu_assign_pointer with each apply, vf_apply.h), demo: ro. */
    struct vf_port_view *view;
    struct vf_pool_cache mgmt_cache;     /* mgmt's own, for draining ports */
    /* The connection table (NULL: none), mgmt's context on it, the zones
     * of the current tables (vf_acl_zones_sync) and the last reclaim. */
    struct vf_ct *ct;
    struct vf_ct_worker *ct_mgmt;
    uint64_t ct_zones[VF_ACL_ZONE_WORDS];
    uint64_t ct_reclaimed_ms;
    struct vf_publisher pub;
    uint64_t generation;
    time_t started;

    /* Where accepted changes are saved before they are published and
     * acknowledged (vf_state.h); "" = not saved. */
    char state_dir[4096];
    char config[4096];                   /* opts.config, or "" */
    uint64_t revision;                   /* store revision in force; 0 */
    /* The chassis down in the tables in force (vf_change.down, taken over
     * by vf_apply; model.n_chassis bytes; NULL: all up). mgmt. */
    uint8_t *down;
    /* vfabd --store: the source (vf_store_source.h); NULL without. mgmt. */
    struct vf_store_src *store;
    struct vf_capture capture;           /* `vfabctl capture`; mgmt only */
    struct vf_gw *gw;                    /* gateways served here
                                          * (vf_gateway.h); NULL: none */
    /* Scratch of one apply (local_ports, the ports it opened); kept here
     * so no daemon shares it with another in the same process. mgmt. */
    struct {
        const struct vf_model_port *port[VF_DAEMON_MAX_PORTS];
        unsigned tenant[VF_DAEMON_MAX_PORTS];
        unsigned opened[VF_DAEMON_MAX_PORTS];
    } scratch;
};

/* Brings the forwarder up with an empty model; first gives this host's
 * `local` (workers, uplink) and its own chassis entry (the uplink's UDP
 * port). Nothing is published until the first vf_apply. 0 or -errno with
 * err filled; on failure everything is stopped. */
int vf_daemon_up(struct vf_daemon *d, const struct vf_model *first,
                 const struct vf_daemon_opts *opts, char *err, size_t errlen);
/* vf_daemon_up, then vf_apply of *model (taken over, left empty; origin
 * FILE). 0 or -errno with err filled; on failure everything is stopped. */
int vf_daemon_start(struct vf_daemon *d, struct vf_model *model,
                    const struct vf_daemon_opts *opts, char *err,
                    size_t errlen);
/* Stops workers, unpublishes tables, closes ports and frees everything. */
void vf_daemon_stop(struct vf_daemon *d);   /* stop the demo first */
/* vf_apply of next (taken over, left empty) as a change from the control
 * socket, for callers that want only the error: all or nothing, and the
 * `local` section cannot change at run time (vf_apply.h). */
int vf_daemon_apply(struct vf_daemon *d, struct vf_model *next, char *err,
                    size_t errlen);
/* Number of ports whose device disappeared (a deleted tap); the next
 * vf_daemon_apply re-creates them. */
unsigned vf_daemon_lost_ports(const struct vf_daemon *d);
/* Logs each port whose device disappeared, once (a loop timer). */
void vf_daemon_report_lost(struct vf_daemon *d);
/* Packets dropped, by reason (numa/vf_drop.h), summed over the workers,
 * plus the frames the ports' receive paths lost for want of a buffer
 * (rx_no_buffer, in no_buffer): what `stats` and the metrics show. */
void vf_daemon_drops(const struct vf_daemon *d, uint64_t out[VF_DROP__COUNT]);
/* daemon_ct.c. Creates the connection table and gives every worker and
 * mgmt a context (before the workers start). 0 or -errno with err. */
int vf_daemon_ct_start(struct vf_daemon *d, char *err, size_t errlen);
/* After every publication, once the new model is in force: its
 * local.ct_timeouts, zone limits, and zones that left flushed. */
void vf_daemon_ct_published(struct vf_daemon *d);
/* Periodic (vfabd's loop): every VF_DAEMON_CT_RECLAIM_MS, if entries wait,
 * kicks the workers and reclaims them (one grace period). */
void vf_daemon_ct_tick(struct vf_daemon *d);
/* After the workers' contexts are gone (vf_daemon_stop). */
void vf_daemon_ct_stop(struct vf_daemon *d);

/* Sets (dir) or clears (NULL) where accepted changes are saved. 0 or
 * -ENAMETOOLONG. */
int vf_daemon_set_state_dir(struct vf_daemon *d, const char *dir);
/* Finds a port by logical name; NULL if it is not local. */
struct vf_daemon_port *vf_daemon_find_port(struct vf_daemon *d,
                                           const char *name);

#endif
