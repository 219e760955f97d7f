/* vf_budget.h - what each port may hold of a worker's packet pool.
 *
 * What: every worker has one pool of pool_bufs buffers (vf_daemon.h) and
 * serves one queue of every port, so every port can take buffers out of
 * it: the uplink's receive ring, staged frames and sends in flight, a
 * tap's reads, and what a tenant port keeps on tx until its reader takes
 * it. All but the last are fixed by the port's own depth (rx_hold and
 * tx_hold, fabric/vf_port.h). The last grows with a reader that stopped (a
 * hung VM, a sink that does not drain its ring), and once it had the
 * whole pool, every other tenant and the underlay lost packets for want
 * of a buffer. So mgmt gives each tenant port a tx budget, and the
 * backends never hold more than that: a queue nobody drains costs that
 * port its own packets (tx_queue_full on that port), never another's.
 *
 * The plan, the same for every worker pool (they are all pool_bufs big):
 *   reserve  = max(uplink rx_hold, VF_BURST_MAX): kept on every pool for
 *              the uplink's receive refills only (numa/vf_pool.h), for
 *              what no budget bounds (flood copies inside one burst)
 *   fixed    = uplink rx_hold + uplink tx_hold + reserve + slack, where
 *              slack = one burst in the pipeline + one cache of the pool
 *              that is not a worker's (mgmt's, draining ports)
 *   share    = pool_bufs - fixed - sum of the tenant ports' rx_hold
 *   budget   = share / number of tenant ports, at most the largest
 *              tenant tx_hold (no port can use more)
 * and each tenant port's tx limit is min(its tx_hold, budget). So
 *   fixed + sum over tenant ports of (rx_hold + tx limit) <= pool_bufs.
 * A budget under VF_BUDGET_MIN (one worker burst) is refused: the start,
 * or the change that adds ports, fails with a message that says how many
 * buffers are needed.
 *
 * Limits: the plan is per worker pool and assumes what a worker sends
 * comes from its own pool (vf_daemon.h: worker w receives on queue w and
 * sends on queue w). Frames injected into ring ports by someone else (the
 * demo, tests) come from the injector's pool and only make it safer. The
 * large-buffer (TSO) pools are not budgeted: the uplink copy-breaks single
 * datagrams out of them (fabric/vf_port_udp.h) and their reserve keeps
 * its ring filled; taps share the rest.
 *
 * Thread-safety: management thread only. Budgets reach the workers as
 * relaxed stores (vf_port_set_tx_budget): a worker may use the old value
 * for a burst.
 */
#ifndef VF_BUDGET_H
#define VF_BUDGET_H

#include <stddef.h>

#include "mgmt/daemon/vf_daemon.h"

#define VF_BUDGET_MIN VF_WORKER_BURST   /* least tx budget of a port */

struct vf_budget {
    unsigned pool_bufs;   /* per worker pool */
    unsigned reserve;     /* per pool, for the uplink's refills */
    unsigned fixed;       /* uplink + reserve + slack */
    unsigned n_tenant;    /* tenant ports planned for */
    unsigned tenant_rx;   /* sum of their rx_hold */
    unsigned tx_budget;   /* per tenant port queue (before min tx_hold) */
};

/* Plans budgets for d's open ports, leaving out those marked closing.
 * 0, or -ENOSPC with err saying what the pool lacks and how to fix it. */
int vf_budget_plan(const struct vf_daemon *d, struct vf_budget *b, char *err,
                   size_t errlen);

/* Gives every tenant port (closing ones too: they leave soon) the plan's
 * tx budget and every worker pool its reserve. */
void vf_budget_apply(struct vf_daemon *d, const struct vf_budget *b);

#endif
