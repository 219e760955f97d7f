/* vf_compile_gw.h - what gateways (issue 16) add to the tables.
 *
 * What: a physical switch (`physical:` in the model) gets one more logical
 * port, its localnet: a VM-kind port with no MAC of its own that stands
 * for the outside. It lives on the chassis that serves the switch (the
 * active chassis of the first gateway port on it: without the store, the
 * first of its gateway_chassis), where its fabric port is the physical
 * network's interface (fabric/vf_port_packet.h). So unknown unicast and
 * broadcast on the switch reach the outside there, from any chassis
 * through a tunnel, and frames from the outside enter the switch as from
 * this port. A gateway port's learned next hops (vf_compile.h's neigh)
 * become its vf_rport neighbours, which the router stage uses when the
 * model has no port with the next hop's address.
 *
 * Ids: the localnet's logical port id is 1 << 31 | the switch's VNI:
 * model port ids are 31-bit hashes (ids.c), so it never meets one, and it
 * is the same on every chassis.
 *
 * Thread-safety: pure functions of the model (management thread).
 */
#ifndef VF_COMPILE_GW_H
#define VF_COMPILE_GW_H

#include <stddef.h>
#include <stdint.h>

#include "mgmt/control/vf_compile.h"

static inline uint32_t vf_gw_localnet_id(uint32_t vni)
{
    return 1u << 31 | vni;
}

/* The chassis that serves switch si's physical network: the active
 * chassis of the first gateway port on it; -1 when it is not physical or
 * has no gateway port. */
int vf_gw_switch_chassis(const struct vf_model_tenant *tn, size_t si);

/* Adds the localnet of switch si to dp (room reserved by the caller),
 * with its flood entry; fp: its fabric port when local (may be NULL).
 * seen: the chassis already in dp's remote flood list. */
void vf_gw_add_localnet(const struct vf_model_tenant *tn, size_t si,
                        int local, struct vf_port *fp, struct vf_dp *dp,
                        uint8_t *seen);

/* Compile inputs of both, for sharing (vf_compile.c's blobs). */
void vf_gw_switch_input(const struct vf_model_tenant *tn, size_t si,
                        int local, const struct vf_port *fp,
                        void (*put)(void *bl, const void *p, size_t n),
                        void *bl);
void vf_gw_rport_input(const struct vf_compile_env *env,
                       const struct vf_model_rport *rp, int local,
                       void (*put)(void *bl, const void *p, size_t n),
                       void *bl);
/* Fills o's neighbours from env (those of its logical port id), and its
 * redirect flag: a gateway port served on another chassis. */
void vf_gw_rport(const struct vf_compile_env *env,
                 const struct vf_model_rport *rp, int local,
                 struct vf_rport *o);

#endif
