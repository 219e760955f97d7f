/* daemon_int.h - what daemon.c, ports.c and apply.c share (daemon/ only;
 * not an API). Management thread only, like struct vf_daemon.
 */
#ifndef VF_DAEMON_INT_H
#define VF_DAEMON_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "mgmt/daemon/vf_daemon.h"

/* ports.c: the port backends (one row per attach type) and the port
 * table's bookkeeping. */

/* Opens the fabric port for a VM port of this chassis: NULL with err. */
struct vf_port *vf_ports_open_tenant(struct vf_daemon *d,
                                     const struct vf_model_port *mp,
                                     char *err, size_t errlen);
/* Opens the uplink local describes (me: this chassis' entry). 0 or -errno
 * with err; d->uplink is set and in the port table. */
int vf_ports_open_uplink(struct vf_daemon *d,
                         const struct vf_model_local *local,
                         const struct vf_model_chassis *me, char *err,
                         size_t errlen);
/* Puts p in a free slot (its fabric index); closes p on failure. mp NULL:
 * the uplink. 0 or -E2BIG with err. */
int vf_ports_add(struct vf_daemon *d, struct vf_port *p,
                 const struct vf_model_port *mp, unsigned tenant, char *err,
                 size_t errlen);
/* The VM ports of m on this chassis (m->local.chassis_idx), with their
 * tenants, into d->scratch; returns how many. */
size_t vf_ports_local(struct vf_daemon *d, const struct vf_model *m);
/* Whether a VM port lets worker w poll queue w (VF_PORT_CAP_MQ_RX: the
 * far side spreads its frames over the queues), and whether its device
 * has vanished under vfabd (the gone op; vf_daemon_lost_ports). */
bool vf_ports_mq_rx(const struct vf_daemon_port *dp);
bool vf_ports_gone(const struct vf_daemon_port *dp);
/* Returns packets still queued inside a port to their pools; only when
 * no worker polls it any more. */
void vf_ports_drain(struct vf_daemon *d, struct vf_port *p);
/* The compiler's port_of (vf_compile.h): by name, so it can map a model
 * that is not yet in force; closing ports are not mapped. */
struct vf_port *vf_ports_of(void *ctx, const struct vf_model_port *mp);

/* daemon.c: builds each worker's rx queue set from the open ports
 * (leaving out closing ones) into set[] (n_workers, malloc'd). 0 or
 * -ENOMEM. */
int vf_daemon_build_rx_sets(struct vf_daemon *d, struct vf_rxq_set **set);
/* Makes set[] the workers' rx sets (rcu_assign_pointer); the previous
 * ones go to old[], to be freed after the next grace period. */
void vf_daemon_swap_rx_sets(struct vf_daemon *d, struct vf_rxq_set **set,
                            struct vf_rxq_set **old);

#endif
