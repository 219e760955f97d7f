/* vf_kinds.h - the kinds of object in the desired state, in one table.
 *
 * What: chassis, tenant, switch, port, router, router-port, route, acl,
 * port-group, address-set, nat and load-balancer,
 * each with its place in the model: the kind it hangs under, the YAML list
 * that holds it there, the field that names it (or "by index"), and its
 * schema (cfg_schema.h, where the loader and the JSON writer find its
 * fields). Validation messages, edits (vfabctl add/del/list), the diff and
 * the JSON all walk this table instead of naming kinds, so a new kind
 * (port group, NAT rule, load balancer, ...) is its struct in vf_model.h,
 * its schema in schema.c and one row in kinds.c; only the rules that are
 * its own (what it refers to, what hangs on it) are code.
 *
 * Walking: vf_kind_walk() visits every object of one kind in model order
 * (the order of the YAML file, parents before children) with a struct
 * vf_kind_ref that says where it sits: its index at every level, from the
 * top (idx[0] is the chassis' or the tenant's), and pointers to it and its
 * ancestors. Kinds nest at most VF_KIND_DEPTH deep.
 *
 * Thread-safety: the table is constant; walks only read the model.
 */
#ifndef VF_KINDS_H
#define VF_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt/control/vf_model.h"

#define VF_KIND_DEPTH 3

/* In model order: a parent comes before its children, and siblings are in
 * the order their lists appear in the parent's YAML mapping (a router's
 * nat after its routes, a tenant's load_balancers after its sets). */
enum vf_kind {
    VF_KIND_NONE = -1,
    VF_KIND_CHASSIS,
    VF_KIND_TENANT,
    VF_KIND_SWITCH,
    VF_KIND_PORT,
    VF_KIND_ROUTER,
    VF_KIND_RPORT,
    VF_KIND_ROUTE,
    VF_KIND_ACL,
    VF_KIND_PGROUP,             /* port groups (security groups) */
    VF_KIND_ASET,               /* address sets */
    VF_KIND_NAT,                /* a router's NAT rules (issue 16) */
    VF_KIND_LB,                 /* load balancers (issue 16) */
    VF_KIND__COUNT
};

struct cfg_schema;

struct vf_kind_desc {
    const char *name;           /* "router-port": vfabctl's and the diff's */
    const char *noun;           /* "router port": in messages */
    const char *plural;         /* "router ports" */
    enum vf_kind parent;        /* VF_KIND_NONE: at the top of the model */
    const char *list;           /* the YAML list holding it in its parent */
    const char *label;          /* the field naming one; NULL: by index */
    /* Names live in one space with another kind's (router ports share the
     * ports' space: both are logical ports); VF_KIND_NONE: its own. */
    enum vf_kind name_space;
    /* By index: the field that pairs it across two models in a diff
     * ("prefix": routes); NULL: its whole content (ACLs). */
    const char *diff_key;
    bool has_id;                /* an id assigned by validation (id_off) */
    size_t id_off;              /* offset of its uint32_t id */
    const struct cfg_schema *schema;
};

/* Where an object sits. */
struct vf_kind_ref {
    enum vf_kind kind;
    unsigned depth;                 /* levels from the top, 1.. */
    size_t idx[VF_KIND_DEPTH];      /* index in its list, per level */
    void *obj[VF_KIND_DEPTH];       /* the objects on the way; obj[depth-1]
                                     * is this one */
};

const struct vf_kind_desc *vf_kind(enum vf_kind k);
/* The kind called name ("router-port"), or VF_KIND_NONE. */
enum vf_kind vf_kind_find(const char *name);
/* "chassis, tenant, switch, ...": every kind's name, for messages. */
void vf_kind_names(char *buf, size_t len);

/* The number of objects of kind k in parent (the model itself for kinds at
 * the top), and the i-th of them. */
size_t vf_kind_count(enum vf_kind k, const void *parent);
void *vf_kind_at(enum vf_kind k, const void *parent, size_t i);
/* The object's name (its label field), or NULL for a by-index kind. */
const char *vf_kind_label(enum vf_kind k, const void *obj);
/* The object's id (0 when the kind has none). */
uint32_t vf_kind_id(enum vf_kind k, const void *obj);
/* The depth of kind k: 1 at the top. */
unsigned vf_kind_depth(enum vf_kind k);

/* Calls fn for every object of kind k in model order; stops at the first
 * non-zero return and returns it. */
typedef int (*vf_kind_fn)(const struct vf_kind_ref *r, void *arg);
int vf_kind_walk(const struct vf_model *m, enum vf_kind k, vf_kind_fn fn,
                 void *arg);
/* Every object of every kind, parents before their children, each
 * parent's children kind by kind in table order: the order of a file. */
int vf_kind_walk_all(const struct vf_model *m, vf_kind_fn fn, void *arg);

#endif
