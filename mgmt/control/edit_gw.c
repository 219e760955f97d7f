/* edit_gw.c - deleting the gateways' kinds (issue 16) for ed_del: a load
 * balancer by name; a NAT rule by its router and index (as `list nat`
 * shows). Nothing hangs on either. */
#include <errno.h>

#include "mgmt/control/edit_int.h"

int ed_del_lb(struct ed *e, const char *name)
{
    struct hit h;
    int rc = ed_need(e, "name", VF_KIND_LB, name, &h);

    if (rc)
        return rc;
    json_array_remove(h.list, h.idx);
    return 0;
}

int ed_del_nat(struct ed *e, json_t *spec)
{
    static const char *const keys[] = { "router", "index", "tenant", NULL };
    const char *router;
    struct hit h;
    json_t *nats;
    size_t idx;
    int rc;

    if ((rc = spec_keys(e, spec, keys)) != 0 ||
        (rc = spec_str(e, spec, "router", true, "the router the NAT rule "
                       "belongs to", &router)) != 0 ||
        (rc = ed_need(e, "router", VF_KIND_ROUTER, router, &h)) != 0 ||
        (rc = check_tenant(e, spec, &h, "router", router)) != 0)
        return rc;
    rc = spec_index(e, spec, &idx);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return ed_fail(e, -EINVAL, "spec: missing field 'index' (the NAT "
                       "rule's position in router %s's nat, as `list nat` "
                       "shows)", router);
    nats = json_object_get(h.obj, "nat");
    if (idx >= json_array_size(nats))
        return ed_fail(e, -ENOENT, "field 'index': router %s has %zu NAT "
                       "rules; there is no nat[%zu]", router,
                       json_array_size(nats), idx);
    json_array_remove(nats, idx);
    return 0;
}
