/* layout_gw.c - what layout format 1 cannot hold of the gateways (issue
 * 16): physical switches, gateway ports, NAT rules and load balancers have
 * no keys in the store yet, so a model with them is refused by name
 * (vf_layout_check_model), never stored without them. */
#include <errno.h>
#include <stdio.h>

#include "mgmt/layout/layout_int.h"

static int refuse(const struct vf_model_tenant *tn, const char *what,
                  char *err, size_t errlen)
{
    snprintf(err, errlen, "tenant %s: the store (layout format 1) cannot "
             "hold %s yet; keep gateways, NAT and load balancers in a "
             "desired-state file (vfabd -c) for now", tn->name, what);
    return -EINVAL;
}

int layout_check_gateways(const struct vf_model *m, char *err, size_t errlen)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];

        for (size_t s = 0; s < tn->n_switches; s++)
            if (tn->switches[s].physical.network[0])
                return refuse(tn, "a switch's physical binding", err,
                              errlen);
        for (size_t r = 0; r < tn->n_routers; r++) {
            const struct vf_model_router *lr = &tn->routers[r];
            if (lr->n_nats)
                return refuse(tn, "nat", err, errlen);
            for (size_t p = 0; p < lr->n_ports; p++)
                if (lr->ports[p].n_gw_chassis)
                    return refuse(tn, "gateway_chassis", err, errlen);
        }
        if (tn->n_lbs)
            return refuse(tn, "load_balancers", err, errlen);
    }
    return 0;
}
