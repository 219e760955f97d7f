/* vf_demo.h - generated tenant traffic for the demo (vfabd --demo).
 *
 * What: a generator thread plays every local VM on a ring port. From the
 * model it builds frames each VM would send: UDP to every other port of its
 * switch (local ones are delivered, remote ones tunnelled), UDP across its
 * tenant's router to the other subnets, ARP requests for its neighbours
 * (answered by the ARP responder), and a small share of bad traffic:
 * spoofed source addresses (port security) and TCP to port 22 (the demo's
 * ACL). Each frame's payload carries the sender's tenant; the generator
 * drains every port's tx rings and counts a delivery to a port of another
 * tenant as an isolation violation (there must be none). The payload also
 * names the sending chassis, so deliveries that crossed the underlay from
 * another vfabd are counted apart. The sink drains every ring until it is
 * empty and sleeps (200 us) only when a pass found nothing; a port named
 * as `stall` is never drained: a VM that stopped reading, whose queue may
 * hold only its tx budget (mgmt/daemon/vf_budget.h) and drops the rest.
 *
 * Ports come and go while the demo runs (vfabctl add/del port, apply):
 * the generator never reads the daemon's port table, which mgmt rewrites;
 * it reads the port view mgmt publishes with RCU (vf_port_view.h) as a
 * registered QSBR thread, finds its VMs' ports again by name and tenant
 * in each new view (a VM whose port left sends nothing), and checks
 * isolation against the tenant names the view gives (a port of a tenant
 * added later counts as no demo tenant).
 *
 * Thread-safety: the generator thread owns its pool and the outside end of
 * every ring port in the current view (rx producer, tx consumer); counters
 * are relaxed atomics read by the main thread. Stop the demo before
 * vf_daemon_stop (it frees the view).
 */
#ifndef VF_DEMO_H
#define VF_DEMO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mgmt/daemon/vf_daemon.h"

#define VF_DEMO_MAX_TENANTS 64

struct vf_demo_stats {
    _Atomic uint64_t sent;
    _Atomic uint64_t delivered[VF_DEMO_MAX_TENANTS];  /* by receiving tenant */
    _Atomic uint64_t arp_replies;
    _Atomic uint64_t tunnelled;           /* frames that left on the uplink */
    _Atomic uint64_t isolation_violations;
    _Atomic uint64_t from_remote;         /* delivered, sent by another chassis */
    _Atomic uint64_t no_buffer;           /* generator pool empty */
};

struct vf_demo {
    struct vf_daemon *d;
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    pthread_t th;
    _Atomic int stop;
    long long limit;                      /* frames to send; -1 = no limit */
    char stall[VF_NAME_MAX];              /* port never drained; "" = none */
    unsigned n_templates;
    struct vf_demo_tmpl *tmpl;            /* frames to send, per sender */
    /* Built at start; the generator thread's own afterwards. */
    unsigned n_senders;
    struct vf_demo_sender *senders;       /* the VMs it plays, by name */
    unsigned n_tenants;
    char (*tenants)[VF_NAME_MAX];         /* demo tenant id -> name */
    int local_chassis;
    /* The port view last resolved (generator thread only). */
    uint64_t view_version;
    unsigned view_n, rx_cap;
    uint16_t *rx_tenant;                  /* per view entry: demo tenant id */
    struct vf_demo_stats stats;
};

/* Builds the traffic from d's model and starts the generator. It sends
 * `limit` frames (-1: until stopped; 0: none, it only receives and checks)
 * and keeps receiving until stopped. stall (NULL: none) names a local
 * ring port whose tx ring the sink never drains. */
int vf_demo_start(struct vf_demo *g, struct vf_daemon *d, long long limit,
                  const char *stall, char *err, size_t errlen);
/* Stops the generator thread; packets it sent may still be in flight. */
void vf_demo_stop(struct vf_demo *g);
/* Frees the generator's pool: only after vf_daemon_stop() has drained the
 * ports and stopped the workers, since their packets come from it. */
void vf_demo_free(struct vf_demo *g);

#endif
