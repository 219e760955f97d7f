/* port.c - allocation and counters shared by every port backend. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fabric/vf_port.h"

struct vf_port *vf_port_alloc(const struct vf_port_ops *ops, const char *name,
                              unsigned n_queues)
{
    if (n_queues == 0 || n_queues > VF_PORT_MAX_QUEUES)
        return NULL;
    struct vf_port *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->qstats = aligned_alloc(64, sizeof(*p->qstats) * n_queues);
    if (!p->qstats) {
        free(p);
        return NULL;
    }
    memset(p->qstats, 0, sizeof(*p->qstats) * n_queues);
    p->ops = ops;
    p->n_queues = n_queues;
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    return p;
}

void vf_port_free(struct vf_port *p)
{
    if (!p)
        return;
    free(p->qstats);
    free(p);
}

void vf_port_stats_sum(const struct vf_port *p, struct vf_port_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned q = 0; q < p->n_queues; q++) {
        const struct vf_port_q_stats *s = &p->qstats[q];
        out->rx_pkts += atomic_load_explicit(&s->rx_pkts, memory_order_relaxed);
        out->rx_bytes += atomic_load_explicit(&s->rx_bytes, memory_order_relaxed);
        out->tx_pkts += atomic_load_explicit(&s->tx_pkts, memory_order_relaxed);
        out->tx_bytes += atomic_load_explicit(&s->tx_bytes, memory_order_relaxed);
        out->tx_drops += atomic_load_explicit(&s->tx_drops, memory_order_relaxed);
        out->rx_errors += atomic_load_explicit(&s->rx_errors, memory_order_relaxed);
        uint64_t rxnb = atomic_load_explicit(&s->rx_no_buffer, memory_order_relaxed);
        out->rx_no_buffer += rxnb;
        out->no_buffer += rxnb + atomic_load_explicit(&s->pipe_no_buffer,
                                                      memory_order_relaxed);
    }
}
