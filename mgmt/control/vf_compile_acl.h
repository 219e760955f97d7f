/* vf_compile_acl.h - a switch's ACLs for the table compiler (control/
 * only; compile.c calls it).
 *
 * What: vf_compile_acls() turns the ACLs of a tenant that reach switch si
 * (its own, and those of port groups with a port on it) into dp's
 * classifiers through pipeline/vf_acl.h; vf_compile_acl_input() writes
 * the bytes they depend on (resolved group members and set prefixes
 * included) into the switch's compile input, so a group or set change
 * recompiles exactly the switches it reaches.
 *
 * Thread-safety: management thread; the model must be validated.
 */
#ifndef VF_COMPILE_ACL_H
#define VF_COMPILE_ACL_H

#include <stddef.h>

#include "mgmt/control/vf_model.h"
#include "pipeline/vf_tables.h"

typedef void (*vf_compile_put)(void *arg, const void *p, size_t n);

void vf_compile_acl_input(const struct vf_model_tenant *tn, size_t si,
                          vf_compile_put put, void *arg);
/* 0, or -EINVAL / -ENOMEM with err naming the tenant and rule. */
int vf_compile_acls(const struct vf_model_tenant *tn, size_t si,
                    struct vf_dp *dp, char *err, size_t errlen);

#endif
