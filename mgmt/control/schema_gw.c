/* schema_gw.c - the gateways' fields (issue 16): a switch's `physical:`
 * binding, a router port's `gateway_chassis`, a router's `nat` rules, a
 * tenant's `load_balancers` and local `physical_networks`, with their
 * parsers and JSON writers (cfg_schema.h). schema.c hangs them on the
 * switch, router port, router, tenant and local tables; what they must
 * agree with elsewhere in the model is validate_gw.c's.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/vf_parse_util.h"

/* ---- physical: {network, vlan} on a switch ---- */

static const struct cfg_field physical_fields[] = {
    { .key = "network", .kind = CFG_NAME, .required = true,
      .off = offsetof(struct vf_model_physical, network),
      .size = VF_NAME_MAX },
    { .key = "vlan", .kind = CFG_UINT, .omit_zero = true,
      .off = offsetof(struct vf_model_physical, vlan),
      .size = sizeof(uint16_t), .min = 0, .max = 4094 },
};
const struct cfg_schema cfg_physical_schema = {
    .size = sizeof(struct vf_model_physical), .fields = physical_fields,
    .n_fields = sizeof(physical_fields) / sizeof(physical_fields[0]),
};

bool cfg_switch_is_physical(const void *sw)
{
    return ((const struct vf_model_switch *)sw)->physical.network[0] != '\0';
}

/* ---- gateway_chassis: [hv1, hv2] on a router port ---- */

int cfg_fn_gw_chassis(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj)
{
    struct vf_model_rport *rp = obj;
    yaml_node_item_t *it = val->data.sequence.items.start;
    char b[CFG_VALUE_SHOWN + 8];
    size_t n;

    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected a list of chassis names "
                              "([hv1, hv2]), got %s", cfg_node_kind(val));
    n = (size_t)(val->data.sequence.items.top - it);
    if (n == 0)
        return cfg_field_fail(c, val, f, "is an empty list (a gateway port "
                              "needs a chassis to be served on)");
    if (n > VF_MODEL_MAX_GW_CHASSIS)
        return cfg_field_fail(c, val, f, "has %zu chassis (at most %d)", n,
                              VF_MODEL_MAX_GW_CHASSIS);
    rp->n_gw_chassis = 0;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = cfg_node_at(c, it[i]);
        int rc = cfg_want_scalar(c, e, f, "a chassis name");

        if (rc == 0)
            rc = cfg_one_name(c, e, f, rp->gw_chassis[i]);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(rp->gw_chassis[j], rp->gw_chassis[i]) == 0)
                return cfg_field_fail(c, e, f, "%s is listed twice",
                                      cfg_shown(e, b));
        rp->gw_chassis_idx[i] = -1;
        rp->n_gw_chassis = (unsigned)i + 1;
    }
    return 0;
}

json_t *cfg_out_gw_chassis(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_rport *rp = obj;
    json_t *a;

    (void)f;
    if (!rp->n_gw_chassis)
        return NULL;
    a = json_array();
    for (unsigned i = 0; a && i < rp->n_gw_chassis; i++)
        json_array_append_new(a, json_string(rp->gw_chassis[i]));
    return a;
}

/* ---- nat: [...] on a router ---- */

static void nat_init(void *obj)
{
    struct vf_model_nat *n = obj;

    n->port_lo = 0;
    n->port_hi = 65535;
}

static const struct cfg_field nat_fields[] = {
    { .key = "type", .kind = CFG_ENUM, .required = true,
      .off = offsetof(struct vf_model_nat, type),
      .size = sizeof(enum vf_nat_type), .enums = &vf_nat_types },
    { .key = "external_ip", .kind = CFG_IPV4, .required = true,
      .off = offsetof(struct vf_model_nat, external_ip),
      .size = sizeof(uint32_t) },
    { .key = "logical_ip", .kind = CFG_FN, .required = true,
      .fn = cfg_fn_cidr, .out = cfg_out_cidr,
      .off = offsetof(struct vf_model_nat, logical_ip),
      .off2 = offsetof(struct vf_model_nat, logical_plen) },
    { .key = "external_port_range", .kind = CFG_FN,
      .fn = cfg_fn_port_range, .out = cfg_out_port_range,
      .off = offsetof(struct vf_model_nat, port_lo),
      .off2 = offsetof(struct vf_model_nat, port_hi) },
};
const struct cfg_schema cfg_nat_schema = {
    .size = sizeof(struct vf_model_nat), .fields = nat_fields,
    .n_fields = sizeof(nat_fields) / sizeof(nat_fields[0]),
    .init = nat_init,
};

bool cfg_router_has_nat(const void *rt)
{
    return ((const struct vf_model_router *)rt)->n_nats != 0;
}

/* ---- load_balancers: [...] in a tenant ---- */

static int one_ep(struct cfg *c, const yaml_node_t *e,
                  const struct cfg_field *f, void *item)
{
    struct vf_model_lb_ep *ep = item;
    char b[CFG_VALUE_SHOWN + 8];

    if (!vf_parse_ip_port(cfg_sval(e), true, &ep->ip, &ep->port))
        return cfg_field_fail(c, e, f, "%s is not IP:PORT (want e.g. "
                              "10.0.0.5:80; port 1..65535)", cfg_shown(e, b));
    return 0;
}

static int fn_backends(struct cfg *c, const yaml_node_t *val,
                       const struct cfg_field *f, void *obj)
{
    return cfg_fn_scalars(c, val, f, obj, sizeof(struct vf_model_lb_ep),
                          "backends (IP:PORT)", one_ep);
}

static int fn_names(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj)
{
    return cfg_fn_scalars(c, val, f, obj, VF_NAME_MAX, "names",
                          cfg_one_name);
}

static json_t *ep_json(uint32_t ip, uint16_t port)
{
    char b[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN + 8];

    inet_ntop(AF_INET, &ip, b, sizeof(b));
    snprintf(o, sizeof(o), "%s:%u", b, port);
    return json_string(o);
}

static int fn_vip(struct cfg *c, const yaml_node_t *val,
                  const struct cfg_field *f, void *obj)
{
    struct vf_model_lb *lb = obj;
    char b[CFG_VALUE_SHOWN + 8];
    int rc = cfg_want_scalar(c, val, f, "IP:PORT");

    if (rc)
        return rc;
    if (!vf_parse_ip_port(cfg_sval(val), true, &lb->vip, &lb->vip_port))
        return cfg_field_fail(c, val, f, "%s is not IP:PORT (want e.g. "
                              "10.0.0.100:80; port 1..65535)",
                              cfg_shown(val, b));
    return 0;
}

static json_t *out_vip(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_lb *lb = obj;

    (void)f;
    return ep_json(lb->vip, lb->vip_port);
}

static json_t *out_backends(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_lb *lb = obj;
    json_t *a = json_array();

    (void)f;
    for (size_t i = 0; a && i < lb->n_backends; i++)
        json_array_append_new(a, ep_json(lb->backends[i].ip,
                                         lb->backends[i].port));
    return a;
}

/* A list of names at (off, off2); left out while empty. */
static json_t *out_names(const struct cfg_field *f, const void *obj)
{
    char (*names)[VF_NAME_MAX];
    size_t n;
    json_t *a;

    memcpy(&names, (const char *)obj + f->off, sizeof(names));
    memcpy(&n, (const char *)obj + f->off2, sizeof(n));
    if (!n)
        return NULL;
    a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static const struct cfg_field lb_fields[] = {
    { .key = "name", .kind = CFG_NAME, .required = true,
      .off = offsetof(struct vf_model_lb, name), .size = VF_NAME_MAX },
    { .key = "vip", .kind = CFG_FN, .required = true, .fn = fn_vip,
      .out = out_vip },
    { .key = "protocol", .kind = CFG_ENUM,
      .off = offsetof(struct vf_model_lb, proto),
      .size = sizeof(enum vf_lb_proto), .enums = &vf_lb_protos },
    { .key = "backends", .kind = CFG_FN, .required = true, .fn = fn_backends,
      .out = out_backends, .off = offsetof(struct vf_model_lb, backends),
      .off2 = offsetof(struct vf_model_lb, n_backends) },
    { .key = "switches", .kind = CFG_FN, .fn = fn_names, .out = out_names,
      .off = offsetof(struct vf_model_lb, switches),
      .off2 = offsetof(struct vf_model_lb, n_switches) },
    { .key = "routers", .kind = CFG_FN, .fn = fn_names, .out = out_names,
      .off = offsetof(struct vf_model_lb, routers),
      .off2 = offsetof(struct vf_model_lb, n_routers) },
};
const struct cfg_schema cfg_lb_schema = {
    .size = sizeof(struct vf_model_lb), .fields = lb_fields,
    .n_fields = sizeof(lb_fields) / sizeof(lb_fields[0]), .label = "name",
};

bool cfg_tenant_has_lbs(const void *tn)
{
    return ((const struct vf_model_tenant *)tn)->n_lbs != 0;
}

/* ---- local.physical_networks: {NAME: IFNAME} ---- */

int cfg_fn_physnets(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj)
{
    struct vf_model_local *l = obj;
    char b[CFG_VALUE_SHOWN + 8];

    if (val->type != YAML_MAPPING_NODE)
        return cfg_field_fail(c, val, f, "expected a mapping of network "
                              "names to host interfaces ({ext: eth1}), got "
                              "%s", cfg_node_kind(val));
    l->n_physnets = 0;
    for (yaml_node_pair_t *p = val->data.mapping.pairs.start;
         p < val->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = cfg_node_at(c, p->key);
        const yaml_node_t *v = cfg_node_at(c, p->value);
        struct vf_model_physnet *pn = &l->physnets[l->n_physnets];
        int rc = cfg_want_scalar(c, k, f, "a network name");

        if (rc == 0)
            rc = cfg_want_scalar(c, v, f, "a host interface name");
        if (rc)
            return rc;
        if (l->n_physnets == VF_MODEL_MAX_PHYSNETS)
            return cfg_field_fail(c, k, f, "has more than %d networks",
                                  VF_MODEL_MAX_PHYSNETS);
        if (k->data.scalar.length == 0 ||
            k->data.scalar.length >= VF_NAME_MAX)
            return cfg_field_fail(c, k, f, "%s is not a network name (1..%d "
                                  "characters)", cfg_shown(k, b),
                                  VF_NAME_MAX - 1);
        if (v->data.scalar.length == 0 ||
            v->data.scalar.length >= VF_MODEL_IFNAME_MAX)
            return cfg_field_fail(c, v, f, "%s is not an interface name "
                                  "(1..%d characters)", cfg_shown(v, b),
                                  VF_MODEL_IFNAME_MAX - 1);
        memcpy(pn->name, cfg_sval(k), k->data.scalar.length + 1);
        memcpy(pn->ifname, cfg_sval(v), v->data.scalar.length + 1);
        l->n_physnets++;
    }
    return 0;
}

json_t *cfg_out_physnets(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_local *l = obj;
    json_t *o;

    (void)f;
    if (!l->n_physnets)
        return NULL;
    o = json_object();
    for (unsigned i = 0; o && i < l->n_physnets; i++)
        json_object_set_new(o, l->physnets[i].name,
                            json_string(l->physnets[i].ifname));
    return o;
}
