/* kinds.c - the table of object kinds and the walks over it (vf_kinds.h).
 *
 * A kind's list is found through its parent's schema: the parent's field
 * whose key is the kind's list gives the array pointer, the count and the
 * element schema (cfg_schema.h), so the C structs are walked from the same
 * description the loader fills them from.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/vf_kinds.h"

#define ID_OF(st) true, offsetof(st, id)
#define NO_ID false, 0

static const struct vf_kind_desc kinds[VF_KIND__COUNT] = {
    [VF_KIND_CHASSIS] = { "chassis", "chassis", "chassis", VF_KIND_NONE,
                          "chassis", "name", VF_KIND_NONE, NULL, NO_ID,
                          &cfg_chassis_schema },
    [VF_KIND_TENANT] = { "tenant", "tenant", "tenants", VF_KIND_NONE,
                         "tenants", "name", VF_KIND_NONE, NULL, NO_ID,
                         &cfg_tenant_schema },
    [VF_KIND_SWITCH] = { "switch", "switch", "switches", VF_KIND_TENANT,
                         "switches", "name", VF_KIND_NONE, NULL,
                         ID_OF(struct vf_model_switch), &cfg_switch_schema },
    [VF_KIND_PORT] = { "port", "port", "ports", VF_KIND_SWITCH, "ports",
                       "name", VF_KIND_NONE, NULL,
                       ID_OF(struct vf_model_port), &cfg_port_schema },
    [VF_KIND_ROUTER] = { "router", "router", "routers", VF_KIND_TENANT,
                         "routers", "name", VF_KIND_NONE, NULL,
                         ID_OF(struct vf_model_router), &cfg_router_schema },
    [VF_KIND_RPORT] = { "router-port", "router port", "router ports",
                        VF_KIND_ROUTER, "ports", "name", VF_KIND_PORT, NULL,
                        ID_OF(struct vf_model_rport), &cfg_rport_schema },
    [VF_KIND_ROUTE] = { "route", "route", "routes", VF_KIND_ROUTER,
                        "routes", NULL, VF_KIND_NONE, "prefix", NO_ID,
                        &cfg_route_schema },
    [VF_KIND_ACL] = { "acl", "ACL", "ACLs", VF_KIND_TENANT, "acls", NULL,
                      VF_KIND_NONE, NULL, NO_ID, &cfg_acl_schema },
    [VF_KIND_PGROUP] = { "port-group", "port group", "port groups",
                         VF_KIND_TENANT, "port_groups", "name", VF_KIND_NONE,
                         NULL, NO_ID, &cfg_pgroup_schema },
    [VF_KIND_ASET] = { "address-set", "address set", "address sets",
                       VF_KIND_TENANT, "address_sets", "name", VF_KIND_NONE,
                       NULL, NO_ID, &cfg_aset_schema },
    [VF_KIND_NAT] = { "nat", "NAT rule", "NAT rules", VF_KIND_ROUTER, "nat",
                      NULL, VF_KIND_NONE, NULL, NO_ID, &cfg_nat_schema },
    [VF_KIND_LB] = { "load-balancer", "load balancer", "load balancers",
                     VF_KIND_TENANT, "load_balancers", "name", VF_KIND_NONE,
                     NULL, NO_ID, &cfg_lb_schema },
};

const struct vf_kind_desc *vf_kind(enum vf_kind k)
{
    return k >= 0 && k < VF_KIND__COUNT ? &kinds[k] : NULL;
}

enum vf_kind vf_kind_find(const char *name)
{
    for (int k = 0; name && k < VF_KIND__COUNT; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return (enum vf_kind)k;
    return VF_KIND_NONE;
}

void vf_kind_names(char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; k < VF_KIND__COUNT && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 k ? ", " : "", kinds[k].name);
}

unsigned vf_kind_depth(enum vf_kind k)
{
    unsigned d = 0;

    for (; k != VF_KIND_NONE; k = kinds[k].parent)
        d++;
    return d;
}

/* The parent's schema field that holds kind k's list. */
static const struct cfg_field *list_field(enum vf_kind k)
{
    const struct cfg_schema *ps = kinds[k].parent == VF_KIND_NONE
                                  ? &cfg_top_schema
                                  : kinds[kinds[k].parent].schema;

    for (size_t i = 0; i < ps->n_fields; i++)
        if (ps->fields[i].kind == CFG_LIST &&
            strcmp(ps->fields[i].key, kinds[k].list) == 0)
            return &ps->fields[i];
    return NULL;                /* a table error: test_kinds checks */
}

size_t vf_kind_count(enum vf_kind k, const void *parent)
{
    const struct cfg_field *f = list_field(k);
    size_t n = 0;

    if (f && parent)
        memcpy(&n, (const char *)parent + f->off2, sizeof(n));
    return n;
}

void *vf_kind_at(enum vf_kind k, const void *parent, size_t i)
{
    const struct cfg_field *f = list_field(k);
    char *arr = NULL;

    if (!f || !parent || i >= vf_kind_count(k, parent))
        return NULL;
    memcpy(&arr, (const char *)parent + f->off, sizeof(arr));
    return arr ? arr + i * f->sub->size : NULL;
}

const char *vf_kind_label(enum vf_kind k, const void *obj)
{
    const struct cfg_schema *sc = kinds[k].schema;

    if (!kinds[k].label || !obj)
        return NULL;
    for (size_t i = 0; i < sc->n_fields; i++)
        if (strcmp(sc->fields[i].key, kinds[k].label) == 0)
            return (const char *)obj + sc->fields[i].off;
    return NULL;
}

uint32_t vf_kind_id(enum vf_kind k, const void *obj)
{
    uint32_t id = 0;

    if (kinds[k].has_id && obj)
        memcpy(&id, (const char *)obj + kinds[k].id_off, sizeof(id));
    return id;
}

struct walk {
    enum vf_kind only;          /* VF_KIND_NONE: every kind */
    vf_kind_fn fn;
    void *arg;
};

/* Whether walking into kind c can reach kind `only` (NONE: any). */
static bool leads_to(enum vf_kind c, enum vf_kind only)
{
    if (only == VF_KIND_NONE)
        return true;
    for (; only != VF_KIND_NONE; only = kinds[only].parent)
        if (only == c)
            return true;
    return false;
}

/* Visits ref's object (when wanted), then its children kind by kind. */
static int visit(struct walk *w, struct vf_kind_ref *ref)
{
    enum vf_kind k = ref->kind;
    int rc = 0;

    if (w->only == VF_KIND_NONE || w->only == k)
        rc = w->fn(ref, w->arg);
    for (int c = 0; rc == 0 && c < VF_KIND__COUNT; c++) {
        if (kinds[c].parent != k || !leads_to((enum vf_kind)c, w->only))
            continue;
        void *parent = ref->obj[ref->depth - 1];
        size_t n = vf_kind_count((enum vf_kind)c, parent);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            struct vf_kind_ref child = *ref;
            child.kind = (enum vf_kind)c;
            child.idx[ref->depth] = i;
            child.obj[ref->depth] = vf_kind_at((enum vf_kind)c, parent, i);
            child.depth = ref->depth + 1;
            rc = visit(w, &child);
        }
    }
    return rc;
}

static int walk(const struct vf_model *m, struct walk *w)
{
    int rc = 0;

    for (int k = 0; rc == 0 && k < VF_KIND__COUNT; k++) {
        if (kinds[k].parent != VF_KIND_NONE ||
            !leads_to((enum vf_kind)k, w->only))
            continue;
        size_t n = vf_kind_count((enum vf_kind)k, m);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            struct vf_kind_ref r = { .kind = (enum vf_kind)k, .depth = 1,
                                     .idx = { i },
                                     .obj = { vf_kind_at((enum vf_kind)k, m,
                                                         i) } };
            rc = visit(w, &r);
        }
    }
    return rc;
}

int vf_kind_walk(const struct vf_model *m, enum vf_kind k, vf_kind_fn fn,
                 void *arg)
{
    struct walk w = { k, fn, arg };

    return k == VF_KIND_NONE ? 0 : walk(m, &w);
}

int vf_kind_walk_all(const struct vf_model *m, vf_kind_fn fn, void *arg)
{
    struct walk w = { VF_KIND_NONE, fn, arg };

    return walk(m, &w);
}
