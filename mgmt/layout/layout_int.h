/* layout_int.h - what the layout_*.c files share (not for other users). */
#ifndef VF_LAYOUT_INT_H
#define VF_LAYOUT_INT_H

#include <jansson.h>

#include "mgmt/layout/vf_layout.h"

/* FNV-1a, 64 bits. */
uint64_t layout_fnv1a(const char *s, size_t n);
/* An ACL's key name: 16 hex digits of the hash of its value. */
void layout_acl_id(const char *value, size_t len, char id[17]);
/* Compact JSON with sorted keys (malloc'd), the form of every value. */
char *layout_dump(const json_t *o);
/* qsort comparator on vf_layout_kv keys. */
int layout_kv_cmp_key(const void *a, const void *b);

/* Two ACLs of tn that tie (vf_layout_check_model): -EINVAL with their
 * indexes, 0 when none, -ENOMEM. */
int layout_acl_tie(const struct vf_model_tenant *tn, size_t *first, size_t *second);
/* The message for a tie of ACLs named a and b (acl is one of them). */
void layout_acl_tie_msg(const struct vf_model_tenant *tn, const char *a, const char *b,
                        const struct vf_model_acl *acl, char *err, size_t errlen);

/* Gateways, NAT and load balancers (layout_gw.c): -EINVAL naming the
 * tenant and the field, since format 1 has no keys for them; else 0. */
int layout_check_gateways(const struct vf_model *m, char *err, size_t errlen);

#endif
