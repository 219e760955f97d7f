/* vf_model_edit.h - one add or delete on the model, validated whole.
 *
 * What: `vfabctl add|del|list KIND ...` (and the daemon's `add`, `del`,
 * `list` methods) change one object of the desired state while traffic
 * flows. vf_model_edit() builds the next model from the current one; the
 * caller applies it (compile, publish, persist) only if this returned 0.
 *
 * Basic design: the edit is made on the model's JSON form (vf_model_to_json,
 * the YAML schema's shape): the object is appended to, or removed from, the
 * right list, and the result is loaded back with vf_config_load_string(),
 * so a changed model passes exactly the checks and gives exactly the
 * messages that a desired-state file would. Only what the loader cannot
 * know is checked here: that the parent exists, that the object to delete
 * exists, and that nothing still hangs on a deleted object.
 *
 * Kinds and spec shapes (this is the vfabctl contract). PARENT names are
 * strings; OBJECT is a mapping with the schema's fields (docs/config.md).
 *
 *   kind          add spec                            del spec
 *   chassis       {"chassis": OBJECT}                 {"name": N}
 *   tenant        {"tenant": OBJECT}                  {"name": N}
 *   switch        {"tenant": T, "switch": OBJECT}     {"name": N}
 *   port          {"switch": S, "port": OBJECT}       {"name": N}
 *   router        {"tenant": T, "router": OBJECT}     {"name": N}
 *   router-port   {"router": R, "router-port": OBJ}   {"name": N}
 *   route         {"router": R, "route": OBJECT}      {"router": R, "prefix": P
 *                                                      [, "nexthop": H]}
 *                                                     or {"router": R,
 *                                                      "index": I}
 *   acl           {"tenant": T, "acl": OBJECT}        {"tenant": T, "index": I}
 *                 (T may be left out: the ACL's       or {"switch": S,
 *                 switch names its tenant)             "priority": P
 *                                                      [, "direction", "action",
 *                                                      "port", "match"]}
 *   port-group    {"tenant": T, "port-group": OBJ}    {"name": N}
 *   address-set   {"tenant": T, "address-set": OBJ}   {"name": N}
 *
 * Kinds under a tenant may also give "tenant": T in their add spec as a
 * cross-check. An add spec with any other key is refused. An ACL delete by
 * content compares the given fields after normalising them ("10.0.0.5" and
 * "10.0.0.5/32" are one address); it must match exactly one ACL.
 *
 * Deletes and what hangs on them (cascade = true deletes these too):
 *   tenant       its switches, routers and ACLs (and what hangs on those);
 *   switch       its ports (and their group memberships), the router
 *                ports attached to it, its ACLs;
 *   port         the ACLs that name it; its membership in port groups
 *                (cascade takes it out of them, the groups stay);
 *   port-group   the ACLs scoped to it;
 *   address-set  the ACLs whose match names it ($set);
 *   router       its ports and routes;
 *   router-port  the routes whose next hop is in its subnet.
 * A chassis still used by ports, or named by `local`, is never deleted
 * (cascading would delete tenants' machines): move or delete them first.
 *
 * Errors: 0; -EINVAL (bad kind, spec or field; the change would make the
 * model invalid; something still hangs on the object), -ENOENT (the object
 * or its parent does not exist), -ENOMEM. err reads "add port: ..." and
 * names the object and field, e.g. "add port: tenants[0] (blue)
 * switches[0] (blue-web) ports[4] (vm9): field 'mac': \"02:00:zz\" is not
 * a MAC address (...)".
 *
 * Ownership: cur and spec are only read. out is output only: on success it
 * holds a new, valid model (free it with vf_model_free); on failure it is
 * left empty (zeroed).
 *
 * Thread-safety: no shared state; the management thread calls it.
 */
#ifndef VF_MODEL_EDIT_H
#define VF_MODEL_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mgmt/control/vf_model.h"

enum vf_edit_op { VF_EDIT_ADD, VF_EDIT_DEL };

/* kind is a name from the kind table (vf_kinds.h: chassis, tenant, switch,
 * port, router, router-port, route, acl). */
int vf_model_edit(const struct vf_model *cur, enum vf_edit_op op,
                  const char *kind, json_t *spec, bool cascade,
                  struct vf_model *out, char *err, size_t errlen);

/* Every object of that kind, in model order, as a JSON array (new
 * reference), or NULL for an unknown kind. Each item is an add spec plus
 * facts: {"tenant": T, PARENT: P, KIND: OBJECT, ...}, where OBJECT leaves
 * out child lists (given as counts beside it: "ports": 4), and "id" (ports,
 * router ports, switches, routers) or "index" (routes, ACLs) says which
 * one it is. */
json_t *vf_model_list(const struct vf_model *m, const char *kind);

#endif
