/* port_view.c - build the list of open ports for non-worker readers (vf_port_view.h). */
#include <stdlib.h>
#include <string.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_port_view.h"

static uint64_t next_version;   /* mgmt only */

struct vf_port_view *vf_port_view_build(const struct vf_daemon *d,
                                        const struct vf_model *m)
{
    struct vf_port_view *v = calloc(1, sizeof(*v) + (size_t)d->n_ports *
                                    sizeof(v->e[0]));
    if (!v)
        return NULL;
    v->version = ++next_version;
    for (unsigned i = 0; i < d->n_ports; i++) {
        const struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || dp->closing)
            continue;
        struct vf_port_view_entry *e = &v->e[v->n++];
        e->port = dp->port;
        e->uplink = dp->port == d->uplink;
        strcpy(e->name, dp->name);
    }
    /* Tenants from m's ports on this chassis: local ports x open ports,
     * not every port of the fabric per open port. */
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            for (size_t k = 0; k < m->tenants[t].switches[s].n_ports; k++) {
                const struct vf_model_port *mp = &m->tenants[t].switches[s].ports[k];
                if (mp->chassis_idx != m->local.chassis_idx)
                    continue;
                for (unsigned i = 0; i < v->n; i++)
                    if (!v->e[i].uplink && !strcmp(v->e[i].name, mp->name)) {
                        strcpy(v->e[i].tenant, m->tenants[t].name);
                        break;
                    }
            }
    return v;
}

void vf_port_view_free(struct vf_port_view *v)
{
    free(v);
}
