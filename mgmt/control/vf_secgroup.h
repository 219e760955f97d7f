/* vf_secgroup.h - the model's security-group parts: port groups, address
 * sets, and what ACLs may say about them.
 *
 * What: a tenant's `port_groups` (named sets of its switch ports) and
 * `address_sets` (named lists of IPv4/IPv6 prefixes), ACLs scoped to a port
 * group and matching `$set` addresses or prefixes of either family, and
 * the actions allow-related and reject (docs/config.md, "Security
 * groups"; docs/conntrack.md has the exact rules). This file's jobs:
 * parsing and printing prefixes of both families, validating a tenant's
 * groups, sets and ACL references (vf_sg_validate_tenant, called by
 * validate.c), and answering the compiler which ACLs reach a switch
 * (vf_sg_acl_on_switch). The YAML fields and their JSON are in schema.c,
 * the kinds port-group and address-set in kinds.c (so edits, lists and
 * diffs know them), what hangs on them in edit_del.c, the compiled rules
 * in compile_acl.c.
 *
 * Design: names resolve to indexes once, at validation (acl->pgroup_idx,
 * src_set_idx, dst_set_idx), so the compiler never searches by name. A
 * group may hold ports of several switches of its tenant: an ACL scoped to
 * it is compiled into every switch that has one of its ports, each switch
 * keeping only its own ports (pipeline/vf_acl.h).
 *
 * Thread-safety: management thread only (the model is mgmt's).
 */
#ifndef VF_SECGROUP_H
#define VF_SECGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "mgmt/control/vf_kinds.h"
#include "mgmt/control/vf_model.h"

#define VF_PREFIX_STRLEN 56      /* INET6_ADDRSTRLEN, "/128" and a NUL */

/* "10.0.0.0/8", "10.0.0.5" (/32), "2001:db8::/32", "2001:db8::1" (/128).
 * need_plen: the "/N" must be there. False for anything else (the
 * prefix length out of range included); host bits past plen are allowed
 * here and refused by validation (vf_prefix_host_bits). */
bool vf_prefix_parse(const char *s, bool need_plen, struct vf_model_prefix *p);
/* "10.0.0.0/8" or "2001:db8::/32" into buf (VF_PREFIX_STRLEN bytes). */
const char *vf_prefix_str(const struct vf_model_prefix *p, char *buf);
/* Whether p has bits set past its prefix length. */
bool vf_prefix_host_bits(const struct vf_model_prefix *p);

/* Where a security-group error is: the kind (port group, address set,
 * ACL), the entry's index in its tenant's list, the field, and the
 * message (a value, or a sentence starting with a verb, as validate.c's). */
struct vf_sg_err {
    enum vf_kind kind;
    size_t idx;
    const char *field;
    char msg[384];
};

/* Checks the tenant's port groups (ports that are switch ports of the
 * tenant, none twice), address sets (prefixes without host bits, none
 * twice), and its ACLs' security-group fields: scope (port and port_group
 * are exclusive; a port group, or a switch, must be given), the group and
 * sets named (resolving the *_idx fields), prefixes, and that literal
 * addresses fit the protocol (ICMP is IPv4, ICMPv6 is IPv6) and each
 * other. Names (unique across the fabric, as switch names) and the ACL's
 * switch, port, action and protocol are validate.c's to check, before
 * this. 0, -EINVAL with e filled, or -ENOMEM. */
int vf_sg_validate_tenant(struct vf_model_tenant *tn, struct vf_sg_err *e);

/* Whether a validated ACL applies to ports of switch si of tn: its switch,
 * or a switch with a port of its group. */
bool vf_sg_acl_on_switch(const struct vf_model_tenant *tn,
                         const struct vf_model_acl *acl, size_t si);

/* The validated ACL's port group, or NULL (none: only a port_group name
 * with a resolved index counts, so models built in code without one need
 * no index). */
const struct vf_model_pgroup *vf_sg_acl_pgroup(const struct vf_model_tenant *tn,
                                               const struct vf_model_acl *acl);
/* Index of the port group / address set called name in tn, or -1. */
int vf_sg_find_pgroup(const struct vf_model_tenant *tn, const char *name);
int vf_sg_find_aset(const struct vf_model_tenant *tn, const char *name);

/* The names of local.ct_timeouts' entries, in the order of
 * pipeline/vf_conntrack.h's VF_CT_TIMEOUTS (test_secgroup checks). */
extern const char *const vf_model_ct_timeout_names[VF_MODEL_CT_TIMEOUTS];

#endif
