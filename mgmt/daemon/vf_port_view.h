/* vf_port_view.h - the daemon's open ports, for threads that are not workers.
 *
 * What: the management thread rebuilds d->ports on every apply (slots are
 * cleared, ports closed). A thread other than the workers that walks the
 * ports (the demo's generator, vf_demo.h) must not read d->ports: it
 * crashed doing so when a port was added or deleted (redteam 5). It reads
 * this immutable list instead, published the way the workers' rx queue
 * sets are: built whole, swapped in with rcu_assign_pointer in the same
 * change that publishes the tables, freed after that change's grace
 * period (vf_publish). A port that leaves is absent from the list that
 * the grace period waits out, so a reader that announces QSBR quiescent
 * states (rcu_quiescent_state between passes) never holds a closed port.
 *
 * Each entry names the port, its tenant (by name: tenant indexes shift
 * when tenants are added or removed) and whether it is the uplink.
 * `version` grows with every list, so a reader can tell a new list from
 * an old one that happens to reuse its address.
 *
 * Thread-safety: build and free on the management thread; readers are
 * registered QSBR threads and use rcu_dereference(d->view).
 */
#ifndef VF_PORT_VIEW_H
#define VF_PORT_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "fabric/vf_port.h"
#include "mgmt/control/vf_model.h"

struct vf_daemon;

struct vf_port_view_entry {
    struct vf_port *port;
    bool uplink;
    char name[VF_NAME_MAX];          /* logical port name ("uplink") */
    char tenant[VF_NAME_MAX];        /* "" for the uplink */
};

struct vf_port_view {
    uint64_t version;
    unsigned n;
    struct vf_port_view_entry e[];
};

/* The daemon's ports that stay open (not closing), with their tenants as
 * model m (the model in force after the change) has them. NULL when out
 * of memory. */
struct vf_port_view *vf_port_view_build(const struct vf_daemon *d,
                                        const struct vf_model *m);
/* Only after a grace period since it was replaced; accepts NULL. */
void vf_port_view_free(struct vf_port_view *v);

#endif
