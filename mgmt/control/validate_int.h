/* validate_int.h - what validate.c, validate_unique.c and ids.c share
 * (control/ only; not an API).
 *
 * An entry of the model is named by its kind and its index at each level
 * (struct ent); errors turn it into the document path the user sees,
 * "tenants[0] (blue) switches[1] (blue-db) ports[2] (vm3)", and into a
 * struct vf_model_errloc the loader turns into a line number.
 *
 * Thread-safety: one validation per struct mv; no shared state.
 */
#ifndef VF_VALIDATE_INT_H
#define VF_VALIDATE_INT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt/control/vf_kinds.h"
#include "mgmt/control/vf_model.h"

/* An entry: kind (VF_KIND_NONE: the `local` section) and its index at
 * every level from the top. */
struct ent {
    enum vf_kind kind;
    size_t idx[VF_KIND_DEPTH];
};

static inline struct ent ent_local(void)
{
    return (struct ent){ VF_KIND_NONE, { 0 } };
}

static inline struct ent ent1(enum vf_kind k, size_t i)
{
    return (struct ent){ k, { i } };
}

static inline struct ent ent2(enum vf_kind k, size_t i, size_t j)
{
    return (struct ent){ k, { i, j } };
}

static inline struct ent ent3(enum vf_kind k, size_t i, size_t j, size_t l)
{
    return (struct ent){ k, { i, j, l } };
}

struct mv {
    struct vf_model *m;
    char *err;
    size_t errlen;
    struct vf_model_errloc *loc;
};

/* Fills err with "PATH: field 'F': MSG" (or "PATH: MSG" without a field)
 * and loc; returns -EINVAL. */
int mv_fail(struct mv *v, struct ent e, const char *field, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));
/* The entry's document path, e.g. "tenants[0] (blue) acls[2]". */
void ent_path(const struct vf_model *m, struct ent e, char *buf, size_t len);
/* printf appended to buf (bounded). */
void vf_app(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline const char *ip_str(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

void mac_str(const uint8_t mac[6], char buf[18]);
/* An entry's name against the naming rules (empty, characters). */
int check_name(struct mv *v, struct ent e, const char *name, size_t size);

/* What a port's attach type needs in the model (attach.c): the attach
 * field naming its backend object, a check of that name, and whether the
 * object belongs to one logical port per chassis. The daemon's side of a
 * backend (how to open it) is mgmt/daemon/ports.c. */
struct vf_attach_rule {
    const char *field;          /* "attach.name"; NULL: needs no field */
    const char *hint;           /* what the field holds, for messages */
    size_t off;                 /* the field in struct vf_model_attach */
    /* What is wrong with the value (a sentence), or NULL; may be NULL. */
    const char *(*problem)(const char *value);
    const char *unique;         /* "tap interface": unique per chassis;
                                 * NULL: nothing shared */
};
/* NULL for a value that is not an attach type. */
const struct vf_attach_rule *vf_attach_rule(enum vf_attach_type t);

/* validate_unique.c: names and underlay endpoints, VNIs, one switch's
 * MACs and IPs, backend objects (one per logical port). */
int check_unique_names(struct mv *v);
int check_unique_vnis(struct mv *v);
int check_switch_addrs(struct mv *v, size_t t, size_t s);
int check_backends(struct mv *v);

/* validate_gw.c (issue 16): a tenant's physical switches, gateway ports,
 * NAT rules and load balancers; external IPs across the fabric; local
 * physical_networks. */
int check_gateways(struct mv *v, size_t t);
int check_nat_fabric(struct mv *v);
int check_physnets(struct mv *v);

/* ids.c: a switch's id is its VNI; ports, router ports and routers get
 * name hashes. 0 or -ENOMEM. */
int assign_ids(struct vf_model *m);

#endif
