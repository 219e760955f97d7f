/* ids.c - logical port, router and datapath ids (validate_int.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/validate_int.h"

/* Stable ids. What Geneve carries between hosts must not depend on when
 * a host learned of a change, and an unchanged switch must compile to the
 * same bytes (so incremental compiles share it). So ids are functions of
 * names, not of positions: a switch's datapath id is its VNI (unique,
 * chosen by the operator); a port's (and router port's, one space) and a
 * router's id is a 31-bit FNV-1a hash of its globally unique name. Hash
 * collisions are settled by probing upward, visiting names in sorted order,
 * so the ids depend only on the set of names; adding one object moves no
 * other id unless it collides (about one in 30,000 at NVP's 63,000 ports).
 * Ids only once everything is known good, so a refused model never looks
 * half-numbered to a caller that ignores the return value. */
struct id_slot {
    const char *name;
    uint32_t *id;
};

static int id_slot_cmp(const void *a, const void *b)
{
    return strcmp(((const struct id_slot *)a)->name,
                  ((const struct id_slot *)b)->name);
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    h &= 0x7fffffffu;
    return h ? h : 1;
}

/* Assigns hash ids to n slots; 0 or -ENOMEM. */
static int hash_ids(struct id_slot *slot, size_t n)
{
    qsort(slot, n, sizeof(*slot), id_slot_cmp);
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *used = calloc(cap, sizeof(*used));   /* open addressing set */
    if (!used)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = name_hash(slot[i].name);
        for (;;) {
            size_t h = (id * 2654435761u) & (cap - 1);
            while (used[h] && used[h] != id)
                h = (h + 1) & (cap - 1);
            if (!used[h]) {
                used[h] = id;
                break;
            }
            id = (id + 1) & 0x7fffffffu;   /* taken: probe upward */
            if (!id)
                id = 1;
        }
        *slot[i].id = id;
    }
    free(used);
    return 0;
}

int assign_ids(struct vf_model *m)
{
    size_t n_lports = 0, n_routers = 0;
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            tn->switches[s].id = tn->switches[s].vni;
            n_lports += tn->switches[s].n_ports;
        }
        n_routers += tn->n_routers;
        for (size_t r = 0; r < tn->n_routers; r++)
            n_lports += tn->routers[r].n_ports;
    }
    struct id_slot *lp = calloc(n_lports + 1, sizeof(*lp));
    struct id_slot *rt = calloc(n_routers + 1, sizeof(*rt));
    int rc = -ENOMEM;
    if (!lp || !rt)
        goto out;
    size_t nl = 0, nr = 0;
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++)
            for (size_t p = 0; p < tn->switches[s].n_ports; p++)
                lp[nl++] = (struct id_slot){tn->switches[s].ports[p].name,
                                            &tn->switches[s].ports[p].id};
        for (size_t r = 0; r < tn->n_routers; r++) {
            rt[nr++] = (struct id_slot){tn->routers[r].name, &tn->routers[r].id};
            for (size_t p = 0; p < tn->routers[r].n_ports; p++)
                lp[nl++] = (struct id_slot){tn->routers[r].ports[p].name,
                                            &tn->routers[r].ports[p].id};
        }
    }
    rc = hash_ids(lp, nl);
    if (!rc)
        rc = hash_ids(rt, nr);
out:
    free(lp);
    free(rt);
    return rc;
}

