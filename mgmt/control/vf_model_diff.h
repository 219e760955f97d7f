/* vf_model_diff.h - what changed between two models.
 *
 * What: `vfabctl apply --dry-run` shows what a file would change, and every
 * applied change answers with one (vf_apply). The table compiler does not
 * use it: it shares switches and routers whose input bytes are unchanged
 * (vf_compile.h).
 *
 * Identity: objects are matched by kind and name (names are unique per
 * kind in a valid model; kinds from vf_kinds.h); routes by router and
 * prefix, ACLs by their whole content within their tenant (ACLs have no
 * name, so an edited ACL is one removed and one added). Moving a port to
 * another switch, or a switch to another tenant, is a change of its
 * "switch" or "tenant" field. Assigned ids are not part of the diff: they
 * are functions of names (vf_model.h), so they follow from what the diff
 * shows.
 *
 * Thread-safety: reads both models; management thread only.
 */
#ifndef VF_MODEL_DIFF_H
#define VF_MODEL_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mgmt/control/vf_model.h"

/* New reference, or NULL when out of memory:
 *   {"added":   [{"kind": K, "name": N, "object": {...}}, ...],
 *    "removed": [{"kind": K, "name": N, "object": {...}}, ...],
 *    "changed": [{"kind": K, "name": N, "fields": ["vni", ...],
 *                 "from": {"vni": 1001}, "to": {"vni": 1003}}, ...]}
 * Kinds are those of vf_model_edit.h plus "local". "object" holds the
 * object's own fields (without child lists) and its parents' names
 * ("tenant", "switch", "router"). Added objects are in b's model order,
 * removed and changed ones in a's. Routes are named "ROUTER PREFIX", ACLs
 * "TENANT acls[I]" (I: the index in b if added, in a if removed). */
json_t *vf_model_diff(const struct vf_model *a, const struct vf_model *b);

/* The number of added, removed and changed objects in a diff. */
size_t vf_model_diff_count(const json_t *diff);

/* Which of b's switches may compile to different tables than in a: new
 * switches, and those whose own fields, ids, ports (with their chassis'
 * address and encap), attached router ports or ACLs differ, and every
 * switch reachable through a router from such a switch or from a router
 * whose ports or routes differ. A change of `local` changes every switch.
 * changed[i] is set for b's i-th switch in model order; n must be the
 * number of switches in b. (Tests use it to check which switches an edit
 * reaches; the compiler decides by input bytes.) Returns how many are set, or
 * -EINVAL (n wrong) or -ENOMEM. Switches of a that b lacks are not
 * reported: the caller drops their tables. */
int vf_model_changed_switches(const struct vf_model *a,
                              const struct vf_model *b, bool *changed,
                              size_t n);

#endif
