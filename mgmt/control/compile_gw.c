/* compile_gw.c - the gateways' part of the tables (vf_compile_gw.h). */
#include <stdio.h>
#include <string.h>

#include "mgmt/control/vf_compile_gw.h"

int vf_gw_switch_chassis(const struct vf_model_tenant *tn, size_t si)
{
    if (!tn->switches[si].physical.network[0])
        return -1;
    for (size_t r = 0; r < tn->n_routers; r++)
        for (size_t p = 0; p < tn->routers[r].n_ports; p++) {
            const struct vf_model_rport *rp = &tn->routers[r].ports[p];
            if (rp->switch_idx == (int)si && rp->n_gw_chassis)
                return rp->gw_chassis_idx[0];
        }
    return -1;
}

void vf_gw_add_localnet(const struct vf_model_tenant *tn, size_t si,
                        int local, struct vf_port *fp, struct vf_dp *dp,
                        uint8_t *seen)
{
    const struct vf_model_switch *sw = &tn->switches[si];
    int ch = vf_gw_switch_chassis(tn, si);
    struct vf_lport *lp;

    if (ch < 0)
        return;
    lp = &dp->ports[dp->n_ports];
    memset(lp, 0, sizeof(*lp));
    lp->id = vf_gw_localnet_id(sw->vni);
    lp->kind = VF_LPORT_VM;
    lp->chassis = (uint16_t)ch;
    lp->local = ch == local;
    lp->fport = lp->local ? fp : NULL;
    snprintf(lp->name, sizeof(lp->name), "%.40s/physical", sw->name);
    if (lp->local) {
        dp->flood_local[dp->n_flood_local++] = dp->n_ports;
    } else if (!seen[ch]) {
        seen[ch] = 1;
        dp->flood_remote[dp->n_flood_remote++] = (uint16_t)ch;
    }
    dp->n_ports++;
}

void vf_gw_switch_input(const struct vf_model_tenant *tn, size_t si,
                        int local, const struct vf_port *fp,
                        void (*put)(void *bl, const void *p, size_t n),
                        void *bl)
{
    const struct vf_model_switch *sw = &tn->switches[si];
    int32_t ch = vf_gw_switch_chassis(tn, si);
    uint32_t fi = ch == local && fp ? fp->index : UINT32_MAX;

    if (!sw->physical.network[0])
        return;
    put(bl, "P", 1);
    put(bl, sw->physical.network, strlen(sw->physical.network) + 1);
    put(bl, &sw->physical.vlan, sizeof(sw->physical.vlan));
    put(bl, &ch, sizeof(ch));
    put(bl, &fp, sizeof(fp));
    put(bl, &fi, sizeof(fi));
}

void vf_gw_rport_input(const struct vf_compile_env *env,
                       const struct vf_model_rport *rp, int local,
                       void (*put)(void *bl, const void *p, size_t n),
                       void *bl)
{
    uint32_t rport_id = rp->id;
    uint8_t redirect = rp->n_gw_chassis && rp->gw_chassis_idx[0] != local;

    put(bl, &redirect, 1);
    for (size_t i = 0; env && env->neigh && i < env->n_neigh; i++)
        if (env->neigh[i].rport_id == rport_id) {
            put(bl, "N", 1);
            put(bl, &env->neigh[i].n.ip, 4);
            put(bl, env->neigh[i].n.mac, 6);
        }
}

void vf_gw_rport(const struct vf_compile_env *env,
                 const struct vf_model_rport *rp, int local,
                 struct vf_rport *o)
{
    o->redirect = rp->n_gw_chassis && rp->gw_chassis_idx[0] != local;
    o->n_neigh = 0;
    for (size_t i = 0; env && env->neigh && i < env->n_neigh &&
                       o->n_neigh < VF_RPORT_MAX_NEIGH; i++)
        if (env->neigh[i].rport_id == o->lport_id)
            o->neigh[o->n_neigh++] = env->neigh[i].n;
}
