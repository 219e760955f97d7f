/* budget.c - pool budgets for the daemon's ports (see vf_budget.h). */
#include <errno.h>
#include <stdio.h>

#include "mgmt/daemon/vf_budget.h"

static unsigned max_u(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

int vf_budget_plan(const struct vf_daemon *d, struct vf_budget *b, char *err,
                   size_t errlen)
{
    const struct vf_port *up = d->uplink;
    struct vf_pool_info pi;
    unsigned max_tx = 0;

    vf_pool_get_info(d->pools[0], &pi);
    *b = (struct vf_budget){.pool_bufs = pi.n_bufs};
    b->reserve = max_u(up ? up->rx_hold : 0, VF_BURST_MAX);
    /* Sums in 64 bits: holds are bounded, but thousands of ports add up. */
    uint64_t fixed = (uint64_t)b->reserve + VF_BURST_MAX + 2u * pi.cache_half;
    if (up)
        fixed += (uint64_t)up->rx_hold + up->tx_hold;
    uint64_t tenant_rx = 0;
    for (unsigned i = 0; i < d->n_ports; i++) {
        const struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || dp->port == up || dp->closing)
            continue;
        b->n_tenant++;
        tenant_rx += dp->port->rx_hold;
        max_tx = max_u(max_tx, dp->port->tx_hold);
    }
    uint64_t need = fixed + tenant_rx + (uint64_t)b->n_tenant * VF_BUDGET_MIN;
    if (need > b->pool_bufs) {
        snprintf(err, errlen,
                 "pool_bufs: %u buffers per worker are too few for %u local "
                 "ports: the uplink keeps %llu (receive ring, sends, reserve) "
                 "and each port needs its reads plus at least %u for its tx "
                 "queue, %llu in all; raise pool_bufs to %llu or more in the "
                 "perf config (vfabd -p)",
                 b->pool_bufs, b->n_tenant, (unsigned long long)fixed,
                 VF_BUDGET_MIN, (unsigned long long)need,
                 (unsigned long long)need);
        return -ENOSPC;
    }
    b->fixed = (unsigned)fixed;
    b->tenant_rx = (unsigned)tenant_rx;
    uint64_t share = b->pool_bufs - fixed - tenant_rx;
    uint64_t per = b->n_tenant ? share / b->n_tenant : share;
    b->tx_budget = (unsigned)(per < max_tx || !b->n_tenant ? per : max_tx);
    return 0;
}

void vf_budget_apply(struct vf_daemon *d, const struct vf_budget *b)
{
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (dp->port && dp->port != d->uplink)
            vf_port_set_tx_budget(dp->port, b->tx_budget);
    }
    for (unsigned w = 0; w < d->n_workers; w++)
        vf_pool_set_reserve(d->pools[w], b->reserve);
}
