/* vf_gateway.h - gateways on this chassis (issue 16): the physical
 * network ports and the gateway ports this chassis serves.
 *
 * What: for each physical switch this chassis serves (the active chassis
 * of its gateway port: without the store, the first of gateway_chassis;
 * mgmt/control/vf_compile_gw.h), mgmt opens a physical network port
 * (fabric/vf_port_packet.h) on the interface local.physical_networks
 * names for the switch's network; it is the switch's localnet in the
 * tables. A switch served here whose network this host does not offer is
 * refused at apply with the switch and network named.
 *
 * For each gateway port served here, mgmt keeps a small ARP socket of its
 * own on that interface (never a worker's): it sends a gratuitous ARP for
 * the port's address when it starts serving it (so the outside's caches
 * point at this chassis), asks for the MACs of the router's next hops in
 * the port's subnet (the static routes' next hops) every second until they
 * answer and every 30 s after, and learns from the answers. A learned or
 * changed MAC recompiles and republishes the tables (vf_apply_republish),
 * where the router stage finds it (vf_tables.h's vf_rport neigh). Frames
 * from the outside reach the gateway port through the workers like any
 * other; only this chassis answers ARP for the port's addresses, because
 * only it has the localnet.
 *
 * Limits (static gateway, this slice): a physical switch is served on one
 * chassis, and one physical switch per interface on a chassis; VLAN tags
 * are not applied yet (a vlan other than 0 is refused at apply). A VM on
 * another chassis reaches the outside through a redirect to this one
 * (pipeline/vf_tables.h, vf_rport.redirect; docs/gateway.md).
 *
 * Thread-safety: management thread only (the timer calls vf_gw_tick).
 */
#ifndef VF_GATEWAY_H
#define VF_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "mgmt/daemon/vf_daemon.h"

struct vf_model;
struct vf_model_switch;
struct vf_daemon_port;

#define VF_GW_TICK_MS 200

/* apply's prepare: opens the physical network ports next needs here that
 * are not open yet, each added to the port table and its slot appended to
 * opened[*n]. 0 or -errno with err naming the switch and network. */
int vf_gw_open_ports(struct vf_daemon *d, const struct vf_model *next,
                     unsigned *opened, unsigned *n, char *err, size_t errlen);
/* Whether an open physical network port stays with next. */
bool vf_gw_keep_port(const struct vf_daemon *d, const struct vf_model *next,
                     const struct vf_daemon_port *dp);
/* The compiler's physical_of (vf_compile.h). */
struct vf_port *vf_gw_physical_of(void *arg, const struct vf_model_switch *sw);
/* The timer: ARP for the gateway ports served here; republishes when a
 * next hop's MAC is learned or changes. */
void vf_gw_tick(void *arg);
/* The next hops learned so far, for the compiler (vf_compile.h). */
const struct vf_gw_neigh *vf_gw_neigh_of(const struct vf_daemon *d,
                                         size_t *n);
/* Frees the gateway state (vf_daemon_stop). */
void vf_gw_free(struct vf_daemon *d);

#endif
