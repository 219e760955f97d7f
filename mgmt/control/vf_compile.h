/* vf_compile.h - the table compiler: desired state -> immutable tables.
 *
 * What: vf_compile() turns a validated model (vf_model.h) into this host's
 * tables (pipeline/vf_tables.h): the switches with a VM port on the local
 * chassis, every switch and router reachable from them through routers
 * (a routed packet runs all of its hops here, at the source host), every
 * chassis with its tunnel peer, and the fabric port maps.
 *
 * Incremental: pass the tables currently published as `prev`. A switch or
 * router whose compile inputs are byte-identical to prev's is shared (one
 * more reference), so a change recompiles only the switches it touches
 * (and a router whose own ports/routes changed). Logical port and switch
 * ids are inputs: they come from vf_model_validate() and must be stable
 * for sharing to happen.
 *
 * Errors: NULL with err naming the object ("switch blue-web: acl 3: port
 * 'vm9' is not on the switch"), or out of memory; prev is untouched.
 *
 * Thread-safety: call from the management thread. prev must stay alive
 * during the call; the result is immutable and may be published at once.
 * Free a snapshot with vf_tables_free() after an RCU grace period.
 */
#ifndef VF_COMPILE_H
#define VF_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/vf_port.h"
#include "mgmt/control/vf_model.h"
#include "pipeline/vf_tables.h"

/* A next hop learned on a gateway port (by its logical port id). */
struct vf_gw_neigh {
    uint32_t rport_id;
    struct vf_neigh n;
};

struct vf_compile_env {
    /* The local chassis: index in m->chassis; -1 takes m->local.chassis_idx. */
    int chassis_idx;
    /* Maps a local VM port of the model to the fabric port mgmt opened for
     * it (NULL: not open; packets for it are dropped as unknown_in_port).
     * Its index must be < VF_MAX_FPORTS and unique. May be NULL. */
    struct vf_port *(*port_of)(void *arg, const struct vf_model_port *mp);
    void *arg;
    struct vf_port *uplink;      /* NULL: no remote outputs (single host) */
    uint16_t underlay_mtu;       /* 0 = 1500 */
    bool udp_csum;               /* outer UDP checksum on encap */
    /* Liveness (vfabd --store): m->n_chassis bytes, nonzero = that chassis
     * is down: its ports unreachable (tunnel_chassis_down), no flood copies
     * to it. NULL: every chassis is up. */
    const uint8_t *chassis_down;
    /* Gateways (vf_compile_gw.h): the physical network port mgmt opened
     * for a physical switch this chassis serves (NULL: none open), and the
     * next hops mgmt learned on gateway ports. Both may be NULL. */
    struct vf_port *(*physical_of)(void *arg,
                                   const struct vf_model_switch *sw);
    const struct vf_gw_neigh *neigh;
    size_t n_neigh;
};

struct vf_tables *vf_compile(const struct vf_model *m,
                             const struct vf_tables *prev,
                             const struct vf_compile_env *env,
                             uint64_t generation, char *err, size_t errlen);

#endif
