/* schema.c - the desired state's fields, one table per mapping, with the
 * parsers and JSON writers of the fields that are not plain scalars
 * (cfg_schema.h). The object kinds' schemas (cfg_*_schema) are what
 * vf_kinds.h's table points at; `local` and its `uplink` are this host's
 * part and belong to no kind.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/vf_parse_util.h"
#include "mgmt/control/vf_secgroup.h"

/* ---- custom fields: parsers ---- */

/* `ips:` holds both families: IPv4 entries go to ips[], IPv6 ones to
 * ip6s[] (the model keeps them apart, the pipeline checks them apart). */
static int fn_ips(struct cfg *c, const yaml_node_t *val,
                  const struct cfg_field *f, void *obj)
{
    struct vf_model_port *p = obj;
    yaml_node_item_t *it = val->data.sequence.items.start;
    char b[CFG_VALUE_SHOWN + 8];
    size_t n;

    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected a list of IP addresses "
                              "([\"10.0.0.1\", \"2001:db8::1\"]), got %s",
                              cfg_node_kind(val));
    n = (size_t)(val->data.sequence.items.top - it);
    if (n > VF_MODEL_MAX_IPS + VF_MODEL_MAX_IP6S)
        return cfg_field_fail(c, val, f, "has %zu addresses (at most %d IPv4 "
                              "and %d IPv6)", n, VF_MODEL_MAX_IPS,
                              VF_MODEL_MAX_IP6S);
    p->n_ips = p->n_ip6s = 0;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = cfg_node_at(c, it[i]);
        uint8_t a6[16];
        uint32_t a4;
        bool dup = false;
        int rc = cfg_want_scalar(c, e, f, "an IP address");

        if (rc)
            return rc;
        if (vf_parse_ip4(cfg_sval(e), &a4)) {
            for (unsigned j = 0; j < p->n_ips; j++)
                dup |= p->ips[j] == a4;
            if (!dup && p->n_ips == VF_MODEL_MAX_IPS)
                return cfg_field_fail(c, e, f, "has more than %d IPv4 "
                                      "addresses", VF_MODEL_MAX_IPS);
            if (!dup)
                p->ips[p->n_ips++] = a4;
        } else if (inet_pton(AF_INET6, cfg_sval(e), a6) == 1) {
            for (unsigned j = 0; j < p->n_ip6s; j++)
                dup |= memcmp(p->ip6s[j], a6, 16) == 0;
            if (!dup && p->n_ip6s == VF_MODEL_MAX_IP6S)
                return cfg_field_fail(c, e, f, "has more than %d IPv6 "
                                      "addresses", VF_MODEL_MAX_IP6S);
            if (!dup)
                memcpy(p->ip6s[p->n_ip6s++], a6, 16);
        } else {
            return cfg_field_fail(c, e, f, "%s is not an IPv4 or IPv6 "
                                  "address (want e.g. 10.0.0.1 or "
                                  "2001:db8::1)", cfg_shown(e, b));
        }
        if (dup)
            return cfg_field_fail(c, e, f, "%s is listed twice",
                                  cfg_shown(e, b));
    }
    return 0;
}

/* CIDR into (uint32_t at off, uint8_t at off2); f->min = 1: "/N" needed. */
int cfg_fn_cidr(struct cfg *c, const yaml_node_t *val,
                const struct cfg_field *f, void *obj)
{
    char b[CFG_VALUE_SHOWN + 8];
    uint32_t ip;
    uint8_t plen;
    int rc = cfg_want_scalar(c, val, f, "an address with a prefix length");

    if (rc)
        return rc;
    if (!vf_parse_cidr(cfg_sval(val), f->min == 1, &ip, &plen))
        return cfg_field_fail(c, val, f, "%s is not %s", cfg_shown(val, b),
                              f->min == 1 ?
                              "an IPv4 prefix (want e.g. 10.0.0.254/24)" :
                              "an IPv4 address or prefix (want e.g. "
                              "10.0.0.5 or 10.0.0.0/24)");
    memcpy((char *)obj + f->off, &ip, sizeof(ip));
    *((uint8_t *)obj + f->off2) = plen;
    return 0;
}

/* "22" or "1000-2000" into (uint16_t lo at off, uint16_t hi at off2). */
int cfg_fn_port_range(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj)
{
    char buf[16], b[CFG_VALUE_SHOWN + 8], *dash;
    unsigned long lo, hi;
    uint16_t l16, h16;
    int rc = cfg_want_scalar(c, val, f, "a port or port range");

    if (rc)
        return rc;
    if (val->data.scalar.length >= sizeof(buf))
        goto bad;
    memcpy(buf, cfg_sval(val), val->data.scalar.length + 1);
    dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    if (!vf_parse_uint(buf, 65535, &lo))
        goto bad;
    hi = lo;
    if (dash && !vf_parse_uint(dash + 1, 65535, &hi))
        goto bad;
    if (lo > hi)
        return cfg_field_fail(c, val, f, "%s is an empty range (low > high; "
                              "want e.g. 1000-2000)", cfg_shown(val, b));
    l16 = (uint16_t)lo, h16 = (uint16_t)hi;
    memcpy((char *)obj + f->off, &l16, sizeof(l16));
    memcpy((char *)obj + f->off2, &h16, sizeof(h16));
    return 0;
bad:
    return cfg_field_fail(c, val, f, "%s is not a port or port range (want "
                          "22 or 1000-2000, within 0..65535)",
                          cfg_shown(val, b));
}

/* An ACL's src_ip / dst_ip: "$set" (the name into the char[VF_NAME_MAX]
 * at off2) or a prefix of either family (struct vf_model_prefix at off). */
static int fn_match_addr(struct cfg *c, const yaml_node_t *val,
                         const struct cfg_field *f, void *obj)
{
    char b[CFG_VALUE_SHOWN + 8];
    struct vf_model_prefix p;
    const char *v;
    int rc = cfg_want_scalar(c, val, f, "an address, prefix or $address-set");

    if (rc)
        return rc;
    v = cfg_sval(val);
    if (v[0] == '$') {
        if (!v[1] || val->data.scalar.length - 1 >= VF_NAME_MAX)
            return cfg_field_fail(c, val, f, "%s is not an address set name "
                                  "($ and 1..%d characters)",
                                  cfg_shown(val, b), VF_NAME_MAX - 1);
        memcpy((char *)obj + f->off2, v + 1, val->data.scalar.length);
        return 0;
    }
    if (!vf_prefix_parse(v, false, &p))
        return cfg_field_fail(c, val, f, "%s is not an address, prefix or "
                              "address set (want e.g. 10.0.0.0/24, "
                              "2001:db8::/32 or $web-clients)",
                              cfg_shown(val, b));
    memcpy((char *)obj + f->off, &p, sizeof(p));
    return 0;
}

/* A list of scalars: each checked by one(), n at off2, array at off. */
int cfg_fn_scalars(struct cfg *c, const yaml_node_t *val,
                   const struct cfg_field *f, void *obj, size_t size,
                   const char *what,
                   int (*one)(struct cfg *c, const yaml_node_t *e,
                              const struct cfg_field *f, void *item))
{
    yaml_node_item_t *it = val->data.sequence.items.start;
    char *arr = NULL;
    size_t n;
    int rc;

    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected a list of %s, got %s",
                              what, cfg_node_kind(val));
    n = (size_t)(val->data.sequence.items.top - it);
    rc = cfg_budget(c, val, n, size);
    if (rc)
        return rc;
    if (n && !(arr = calloc(n, size)))
        return cfg_fail(c, val, "out of memory for %zu %s", n, f->key);
    /* Hung on the model at once so vf_model_free() finds it on error. */
    memcpy((char *)obj + f->off, &arr, sizeof(arr));
    memcpy((char *)obj + f->off2, &n, sizeof(n));
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = cfg_node_at(c, it[i]);
        rc = cfg_want_scalar(c, e, f, what);
        if (rc == 0)
            rc = one(c, e, f, arr + i * size);
        if (rc)
            return rc;
    }
    return 0;
}

int cfg_one_name(struct cfg *c, const yaml_node_t *e,
                 const struct cfg_field *f, void *item)
{
    char b[CFG_VALUE_SHOWN + 8];

    if (e->data.scalar.length == 0 || e->data.scalar.length >= VF_NAME_MAX)
        return cfg_field_fail(c, e, f, "%s is not a name (1..%d "
                              "characters)", cfg_shown(e, b), VF_NAME_MAX - 1);
    memcpy(item, cfg_sval(e), e->data.scalar.length + 1);
    return 0;
}

static int one_prefix(struct cfg *c, const yaml_node_t *e,
                      const struct cfg_field *f, void *item)
{
    char b[CFG_VALUE_SHOWN + 8];

    if (!vf_prefix_parse(cfg_sval(e), false, item))
        return cfg_field_fail(c, e, f, "%s is not an IPv4 or IPv6 address "
                              "or prefix (want e.g. 10.0.0.0/24 or "
                              "2001:db8::/32)", cfg_shown(e, b));
    return 0;
}

static int fn_port_names(struct cfg *c, const yaml_node_t *val,
                         const struct cfg_field *f, void *obj)
{
    return cfg_fn_scalars(c, val, f, obj, VF_NAME_MAX, "port names",
                          cfg_one_name);
}

static int fn_prefixes(struct cfg *c, const yaml_node_t *val,
                       const struct cfg_field *f, void *obj)
{
    return cfg_fn_scalars(c, val, f, obj, sizeof(struct vf_model_prefix),
                          "addresses or prefixes", one_prefix);
}

static int fn_workers(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj)
{
    struct vf_model_workers *w = &((struct vf_model_local *)obj)->workers;
    char b[CFG_VALUE_SHOWN + 8];
    unsigned long u;

    memset(w, 0, sizeof(*w));
    if (val->type == YAML_SCALAR_NODE) {
        if (strcmp(cfg_sval(val), "auto") == 0) {
            w->mode = VF_MODEL_WORKERS_AUTO;
            return 0;
        }
        if (vf_parse_all_digits(cfg_sval(val))) {
            if (!vf_parse_uint(cfg_sval(val), VF_MODEL_MAX_WORKERS, &u) ||
                u < 1)
                return cfg_field_fail(c, val, f, "%s is out of range 1..%d",
                                      cfg_shown(val, b), VF_MODEL_MAX_WORKERS);
            w->mode = VF_MODEL_WORKERS_COUNT;
            w->count = (int)u;
            return 0;
        }
        return cfg_field_fail(c, val, f, "%s is not auto, a worker count "
                              "(1..%d) or a list of cpus", cfg_shown(val, b),
                              VF_MODEL_MAX_WORKERS);
    }
    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected auto, a count or a list "
                              "of cpus, got %s", cfg_node_kind(val));
    w->mode = VF_MODEL_WORKERS_LIST;
    for (yaml_node_item_t *it = val->data.sequence.items.start;
         it < val->data.sequence.items.top; it++) {
        const yaml_node_t *e = cfg_node_at(c, *it);
        int rc = cfg_want_scalar(c, e, f, "a cpu number");
        if (rc)
            return rc;
        if (w->n_cpus >= VF_MODEL_MAX_WORKERS)
            return cfg_field_fail(c, e, f, "lists more than %d cpus",
                                  VF_MODEL_MAX_WORKERS);
        if (!vf_parse_uint(cfg_sval(e), 1u << 20, &u))
            return cfg_field_fail(c, e, f, "%s is not a cpu number",
                                  cfg_shown(e, b));
        w->cpus[w->n_cpus++] = (int)u;
    }
    if (w->n_cpus == 0)
        return cfg_field_fail(c, val, f, "is an empty list of cpus");
    return 0;
}

/* "ADDR[:PORT]" for the udp uplink. */
static int fn_bind(struct cfg *c, const yaml_node_t *val,
                   const struct cfg_field *f, void *obj)
{
    struct vf_model_local *l = obj;
    char b[CFG_VALUE_SHOWN + 8];
    int rc = cfg_want_scalar(c, val, f, "ADDR[:PORT]");

    if (rc)
        return rc;
    if (!vf_parse_ip_port(cfg_sval(val), false, &l->bind_ip, &l->bind_port))
        return cfg_field_fail(c, val, f, "%s is not ADDR[:PORT] (want e.g. "
                              "192.0.2.1:6081; port 1..65535)",
                              cfg_shown(val, b));
    return 0;
}

/* "ADDR:PORT" where vfabd serves Prometheus metrics (off when absent). */
static int fn_metrics(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj)
{
    struct vf_model_local *l = obj;
    char b[CFG_VALUE_SHOWN + 8];
    int rc = cfg_want_scalar(c, val, f, "ADDR:PORT");

    if (rc)
        return rc;
    if (!vf_parse_ip_port(cfg_sval(val), true, &l->metrics_ip,
                          &l->metrics_port))
        return cfg_field_fail(c, val, f, "%s is not ADDR:PORT (want e.g. "
                              "127.0.0.1:9464; port 1..65535)",
                              cfg_shown(val, b));
    return 0;
}

/* ---- custom fields: writers (the parsers' inverse) ---- */

static json_t *ip_json(uint32_t ip)
{
    char b[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &ip, b, sizeof(b));
    return json_string(b);
}

static json_t *ip_port_json(uint32_t ip, uint16_t port)
{
    char b[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN + 8];

    inet_ntop(AF_INET, &ip, b, sizeof(b));
    if (port)
        snprintf(o, sizeof(o), "%s:%u", b, port);
    else
        snprintf(o, sizeof(o), "%s", b);
    return json_string(o);
}

/* IPv4 entries, then IPv6 ones: the order show has always used. */
static json_t *out_ips(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_port *p = obj;
    json_t *ips = json_array();
    char b[INET6_ADDRSTRLEN];

    (void)f;
    for (unsigned i = 0; ips && i < p->n_ips; i++)
        json_array_append_new(ips, ip_json(p->ips[i]));
    for (unsigned i = 0; ips && i < p->n_ip6s; i++) {
        inet_ntop(AF_INET6, p->ip6s[i], b, sizeof(b));
        json_array_append_new(ips, json_string(b));
    }
    return ips;
}

/* "A.B.C.D/N"; an optional prefix (min 0) of length 0 means "any": left
 * out. */
json_t *cfg_out_cidr(const struct cfg_field *f, const void *obj)
{
    uint32_t ip;
    uint8_t plen = *((const uint8_t *)obj + f->off2);
    char b[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN + 4];

    if (f->min == 0 && plen == 0)
        return NULL;
    memcpy(&ip, (const char *)obj + f->off, sizeof(ip));
    inet_ntop(AF_INET, &ip, b, sizeof(b));
    snprintf(o, sizeof(o), "%s/%u", b, plen);
    return json_string(o);
}

/* "22" or "1000-2000"; the whole range (any port) is left out. */
json_t *cfg_out_port_range(const struct cfg_field *f, const void *obj)
{
    uint16_t lo, hi;
    char b[16];

    memcpy(&lo, (const char *)obj + f->off, sizeof(lo));
    memcpy(&hi, (const char *)obj + f->off2, sizeof(hi));
    if (lo == 0 && hi == 65535)
        return NULL;
    if (lo == hi)
        snprintf(b, sizeof(b), "%u", lo);
    else
        snprintf(b, sizeof(b), "%u-%u", lo, hi);
    return json_string(b);
}

/* "$set", a prefix, or nothing (any address). */
static json_t *out_match_addr(const struct cfg_field *f, const void *obj)
{
    const char *set = (const char *)obj + f->off2;
    struct vf_model_prefix p;
    char b[VF_PREFIX_STRLEN + VF_NAME_MAX];

    if (set[0]) {
        snprintf(b, sizeof(b), "$%s", set);
        return json_string(b);
    }
    memcpy(&p, (const char *)obj + f->off, sizeof(p));
    return p.family ? json_string(vf_prefix_str(&p, b)) : NULL;
}

static json_t *out_port_names(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_pgroup *g = obj;
    json_t *a = json_array();

    (void)f;
    for (size_t i = 0; a && i < g->n_ports; i++)
        json_array_append_new(a, json_string(g->ports[i]));
    return a;
}

static json_t *out_prefixes(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_aset *as = obj;
    json_t *a = json_array();
    char b[VF_PREFIX_STRLEN];

    (void)f;
    for (size_t i = 0; a && i < as->n_addrs; i++)
        json_array_append_new(a, json_string(vf_prefix_str(&as->addrs[i], b)));
    return a;
}

/* Port ranges are TCP/UDP's, types and codes ICMP's (one storage). */
static bool acl_is_icmp(const void *obj)
{
    uint8_t p = ((const struct vf_model_acl *)obj)->proto;
    return p == VF_ACL_PROTO_ICMP || p == VF_ACL_PROTO_ICMP6;
}

static bool acl_not_icmp(const void *obj)
{
    return !acl_is_icmp(obj);
}

static bool has_pgroups(const void *obj)
{
    return ((const struct vf_model_tenant *)obj)->n_pgroups != 0;
}

static bool has_asets(const void *obj)
{
    return ((const struct vf_model_tenant *)obj)->n_asets != 0;
}

static bool has_ct_timeouts(const void *obj)
{
    const struct vf_model_local *l = obj;
    for (size_t i = 0; i < VF_MODEL_CT_TIMEOUTS; i++)
        if (l->ct_timeouts[i])
            return true;
    return false;
}

static json_t *out_workers(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_workers *w = &((const struct vf_model_local *)obj)
                                           ->workers;
    json_t *cpus;

    (void)f;
    switch (w->mode) {
    case VF_MODEL_WORKERS_COUNT:
        return json_integer(w->count);
    case VF_MODEL_WORKERS_LIST:
        cpus = json_array();
        for (int i = 0; cpus && i < w->n_cpus; i++)
            json_array_append_new(cpus, json_integer(w->cpus[i]));
        return cpus;
    default:
        return json_string("auto");
    }
}

static json_t *out_bind(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_local *l = obj;

    (void)f;
    return l->uplink == VF_UPLINK_UDP ? ip_port_json(l->bind_ip, l->bind_port)
                                      : NULL;
}

static json_t *out_metrics(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_local *l = obj;

    (void)f;
    return l->metrics_port ? ip_port_json(l->metrics_ip, l->metrics_port)
                           : NULL;
}

static bool uplink_is_verbs(const void *obj)
{
    return ((const struct vf_model_local *)obj)->uplink == VF_UPLINK_VERBS;
}


static json_t *out_local(const struct cfg_field *f, const void *obj)
{
    const struct vf_model *m = obj;

    (void)f;
    return m->has_local ? cfg_to_json(&cfg_local_schema, &m->local, true)
                        : NULL;
}

/* ---- the schema ---- */

/* Field macros; trailing designators add options (.omit_zero = true). */
#define NAME(k, st, fld, req, ...) { .key = k, .kind = CFG_NAME,           \
    .required = req, .off = offsetof(st, fld),                              \
    .size = sizeof(((st *)0)->fld), __VA_ARGS__ }
#define FIELD(k, knd, st, fld, req, ...) { .key = k, .kind = knd,           \
    .required = req, .off = offsetof(st, fld),                              \
    .size = sizeof(((st *)0)->fld), __VA_ARGS__ }
#define UINT(k, st, fld, req, lo, hi, ...) { .key = k, .kind = CFG_UINT,    \
    .required = req, .off = offsetof(st, fld),                              \
    .size = sizeof(((st *)0)->fld), .min = lo, .max = hi, __VA_ARGS__ }
#define ENUM(k, st, fld, req, tbl, ...) { .key = k, .kind = CFG_ENUM,       \
    .required = req, .off = offsetof(st, fld),                              \
    .size = sizeof(((st *)0)->fld), .enums = tbl, __VA_ARGS__ }
#define LIST(k, st, arr, cnt, req, sch) { .key = k, .kind = CFG_LIST,       \
    .required = req, .off = offsetof(st, arr), .off2 = offsetof(st, cnt),   \
    .sub = &sch }
#define MAP(k, st, fld, req, sch) { .key = k, .kind = CFG_MAP,              \
    .required = req, .off = fld, .sub = &sch }
/* A custom field: parser p, JSON writer w, offsets a and b for them. */
#define FN(k, req, p, w, a, b, lo, ...) { .key = k, .kind = CFG_FN,         \
    .required = req, .fn = p, .out = w, .off = a, .off2 = b, .min = lo,     \
    __VA_ARGS__ }
#define SCHEMA(st, tbl, lbl, in, chk) { .size = sizeof(st), .fields = tbl,  \
    .n_fields = sizeof(tbl) / sizeof(tbl[0]), .label = lbl, .init = in,     \
    .check = chk }

static const struct cfg_field chassis_fields[] = {
    NAME("name", struct vf_model_chassis, name, true),
    FIELD("underlay_ip", CFG_IPV4, struct vf_model_chassis, underlay_ip,
          true),
    ENUM("encap", struct vf_model_chassis, encap, false, &vf_model_encaps),
    UINT("port", struct vf_model_chassis, udp_port, false, 1, 65535,
         .omit_zero = true),
};
const struct cfg_schema cfg_chassis_schema =
    SCHEMA(struct vf_model_chassis, chassis_fields, "name", NULL, NULL);

static const struct cfg_field attach_fields[] = {
    ENUM("type", struct vf_model_attach, type, true, &vf_attach_types),
    NAME("name", struct vf_model_attach, name, false, .omit_zero = true),
    NAME("device", struct vf_model_attach, device, false, .omit_zero = true),
    NAME("socket", struct vf_model_attach, socket, false, .omit_zero = true),
    ENUM("mode", struct vf_model_attach, mode, false, &vf_attach_modes,
         .omit_zero = true),
};
static const struct cfg_schema attach_schema =
    SCHEMA(struct vf_model_attach, attach_fields, NULL, NULL, NULL);

static void port_init(void *obj)
{
    ((struct vf_model_port *)obj)->chassis_idx = -1;
}

static const struct cfg_field port_fields[] = {
    NAME("name", struct vf_model_port, name, true),
    FIELD("mac", CFG_MAC, struct vf_model_port, mac, true),
    FN("ips", false, fn_ips, out_ips, 0, 0, 0),
    NAME("chassis", struct vf_model_port, chassis, true),
    MAP("attach", struct vf_model_port, offsetof(struct vf_model_port, attach),
        false, attach_schema),
    FIELD("port_security", CFG_BOOL, struct vf_model_port, port_security,
          false),
    UINT("max_connections", struct vf_model_port, max_connections, false, 0,
         1u << 26, .omit_zero = true),
};
const struct cfg_schema cfg_port_schema =
    SCHEMA(struct vf_model_port, port_fields, "name", port_init, NULL);

static const struct cfg_field switch_fields[] = {
    NAME("name", struct vf_model_switch, name, true),
    UINT("vni", struct vf_model_switch, vni, true, 1, 16777215),
    LIST("ports", struct vf_model_switch, ports, n_ports, false,
         cfg_port_schema),
    { .key = "physical", .kind = CFG_MAP,
      .off = offsetof(struct vf_model_switch, physical),
      .sub = &cfg_physical_schema, .emit = cfg_switch_is_physical },
};
const struct cfg_schema cfg_switch_schema =
    SCHEMA(struct vf_model_switch, switch_fields, "name", NULL, NULL);

static void rport_init(void *obj)
{
    ((struct vf_model_rport *)obj)->switch_idx = -1;
}

static const struct cfg_field rport_fields[] = {
    NAME("name", struct vf_model_rport, name, true),
    NAME("switch", struct vf_model_rport, sw, true),
    FIELD("mac", CFG_MAC, struct vf_model_rport, mac, true),
    FN("cidr", true, cfg_fn_cidr, cfg_out_cidr,
       offsetof(struct vf_model_rport, ip),
       offsetof(struct vf_model_rport, plen), 1),
    FN("gateway_chassis", false, cfg_fn_gw_chassis, cfg_out_gw_chassis, 0,
       0, 0),
};
const struct cfg_schema cfg_rport_schema =
    SCHEMA(struct vf_model_rport, rport_fields, "name", rport_init, NULL);

static const struct cfg_field route_fields[] = {
    FN("prefix", true, cfg_fn_cidr, cfg_out_cidr,
       offsetof(struct vf_model_route, prefix),
       offsetof(struct vf_model_route, plen), 1),
    FIELD("nexthop", CFG_IPV4, struct vf_model_route, nexthop, true),
};
const struct cfg_schema cfg_route_schema =
    SCHEMA(struct vf_model_route, route_fields, NULL, NULL, NULL);

static const struct cfg_field router_fields[] = {
    NAME("name", struct vf_model_router, name, true),
    LIST("ports", struct vf_model_router, ports, n_ports, false,
         cfg_rport_schema),
    LIST("routes", struct vf_model_router, routes, n_routes, false,
         cfg_route_schema),
    { .key = "nat", .kind = CFG_LIST,
      .off = offsetof(struct vf_model_router, nats),
      .off2 = offsetof(struct vf_model_router, n_nats),
      .sub = &cfg_nat_schema, .emit = cfg_router_has_nat },
};
const struct cfg_schema cfg_router_schema =
    SCHEMA(struct vf_model_router, router_fields, "name", NULL, NULL);

static const struct cfg_field match_fields[] = {
    ENUM("proto", struct vf_model_acl, proto, false, &vf_acl_protos,
         .omit_zero = true),
    FN("src_ip", false, fn_match_addr, out_match_addr,
       offsetof(struct vf_model_acl, src),
       offsetof(struct vf_model_acl, src_set), 0),
    FN("dst_ip", false, fn_match_addr, out_match_addr,
       offsetof(struct vf_model_acl, dst),
       offsetof(struct vf_model_acl, dst_set), 0),
    FN("src_port", false, cfg_fn_port_range, cfg_out_port_range,
       offsetof(struct vf_model_acl, sport_lo),
       offsetof(struct vf_model_acl, sport_hi), 0, .emit = acl_not_icmp),
    FN("dst_port", false, cfg_fn_port_range, cfg_out_port_range,
       offsetof(struct vf_model_acl, dport_lo),
       offsetof(struct vf_model_acl, dport_hi), 0, .emit = acl_not_icmp),
    FN("icmp_type", false, cfg_fn_port_range, cfg_out_port_range,
       offsetof(struct vf_model_acl, sport_lo),
       offsetof(struct vf_model_acl, sport_hi), 0, .emit = acl_is_icmp),
    FN("icmp_code", false, cfg_fn_port_range, cfg_out_port_range,
       offsetof(struct vf_model_acl, dport_lo),
       offsetof(struct vf_model_acl, dport_hi), 0, .emit = acl_is_icmp),
};

/* Ports are TCP/UDP's, types and codes ICMP's (both share the ranges). */
static int match_check(struct cfg *c, const yaml_node_t *map, void *obj)
{
    static const char *const keys[] = { "src_port", "dst_port", "icmp_type",
                                        "icmp_code" };
    bool icmp = acl_is_icmp(obj);

    for (size_t i = 0; i < 4; i++) {
        const yaml_node_t *v = cfg_map_get(c, map, keys[i]);
        if (v && (i < 2 ? icmp : !icmp))
            return cfg_fail(c, v, "field '%s%s' needs match.proto %s",
                            c->prefix, keys[i], i < 2 ? "tcp or udp "
                            "(icmp_type and icmp_code for icmp)" :
                            "icmp or icmp6");
    }
    return 0;
}

static const struct cfg_schema match_schema =
    SCHEMA(struct vf_model_acl, match_fields, NULL, NULL, match_check);

static void acl_init(void *obj)
{
    struct vf_model_acl *a = obj;

    a->switch_idx = -1;
    a->pgroup_idx = a->src_set_idx = a->dst_set_idx = -1;
    a->sport_hi = 65535;
    a->dport_hi = 65535;
}

static const struct cfg_field acl_fields[] = {
    NAME("switch", struct vf_model_acl, sw, false, .omit_zero = true),
    NAME("port", struct vf_model_acl, port, false, .omit_zero = true),
    NAME("port_group", struct vf_model_acl, port_group, false,
         .omit_zero = true),
    ENUM("direction", struct vf_model_acl, dir, true, &vf_acl_dirs),
    UINT("priority", struct vf_model_acl, priority, true, 0, 65535),
    ENUM("action", struct vf_model_acl, action, true, &vf_acl_actions),
    MAP("match", struct vf_model_acl, 0, false, match_schema),
};
const struct cfg_schema cfg_acl_schema =
    SCHEMA(struct vf_model_acl, acl_fields, NULL, acl_init, NULL);

static const struct cfg_field pgroup_fields[] = {
    NAME("name", struct vf_model_pgroup, name, true),
    FN("ports", false, fn_port_names, out_port_names,
       offsetof(struct vf_model_pgroup, ports),
       offsetof(struct vf_model_pgroup, n_ports), 0),
};
const struct cfg_schema cfg_pgroup_schema =
    SCHEMA(struct vf_model_pgroup, pgroup_fields, "name", NULL, NULL);

static const struct cfg_field aset_fields[] = {
    NAME("name", struct vf_model_aset, name, true),
    FN("addresses", false, fn_prefixes, out_prefixes,
       offsetof(struct vf_model_aset, addrs),
       offsetof(struct vf_model_aset, n_addrs), 0),
};
const struct cfg_schema cfg_aset_schema =
    SCHEMA(struct vf_model_aset, aset_fields, "name", NULL, NULL);

static const struct cfg_field tenant_fields[] = {
    NAME("name", struct vf_model_tenant, name, true),
    LIST("switches", struct vf_model_tenant, switches, n_switches, false,
         cfg_switch_schema),
    LIST("routers", struct vf_model_tenant, routers, n_routers, false,
         cfg_router_schema),
    LIST("acls", struct vf_model_tenant, acls, n_acls, false, cfg_acl_schema),
    { .key = "port_groups", .kind = CFG_LIST,
      .off = offsetof(struct vf_model_tenant, pgroups),
      .off2 = offsetof(struct vf_model_tenant, n_pgroups),
      .sub = &cfg_pgroup_schema, .emit = has_pgroups },
    { .key = "address_sets", .kind = CFG_LIST,
      .off = offsetof(struct vf_model_tenant, asets),
      .off2 = offsetof(struct vf_model_tenant, n_asets),
      .sub = &cfg_aset_schema, .emit = has_asets },
    { .key = "load_balancers", .kind = CFG_LIST,
      .off = offsetof(struct vf_model_tenant, lbs),
      .off2 = offsetof(struct vf_model_tenant, n_lbs),
      .sub = &cfg_lb_schema, .emit = cfg_tenant_has_lbs },
};
const struct cfg_schema cfg_tenant_schema =
    SCHEMA(struct vf_model_tenant, tenant_fields, "name", NULL, NULL);

/* Presence rules the values alone cannot show (bind 0.0.0.0 is legal). */
static int uplink_check(struct cfg *c, const yaml_node_t *map, void *obj)
{
    const struct vf_model_local *l = obj;
    const yaml_node_t *bind = cfg_map_get(c, map, "bind");

    if (l->uplink == VF_UPLINK_UDP && !bind)
        return cfg_fail(c, map, "missing field '%sbind' (required with "
                        "uplink type udp, e.g. 192.0.2.1:6081)", c->prefix);
    if (l->uplink != VF_UPLINK_UDP && bind)
        return cfg_fail(c, bind, "field '%sbind' only applies to uplink "
                        "type udp, not %s", c->prefix,
                        vf_uplink_type_name(l->uplink));
    if (l->uplink != VF_UPLINK_VERBS && cfg_map_get(c, map, "port"))
        return cfg_fail(c, cfg_map_get(c, map, "port"),
                        "field '%sport' only applies to uplink type "
                        "verbs", c->prefix);
    return 0;
}

static const struct cfg_field uplink_fields[] = {
    ENUM("type", struct vf_model_local, uplink, true, &vf_uplink_types),
    FN("bind", false, fn_bind, out_bind, 0, 0, 0),
    NAME("device", struct vf_model_local, device, false, .omit_zero = true),
    UINT("port", struct vf_model_local, device_port, false, 1, 255,
         .emit = uplink_is_verbs),
};
static const struct cfg_schema uplink_schema =
    SCHEMA(struct vf_model_local, uplink_fields, NULL, NULL, uplink_check);

static void local_init(void *obj)
{
    struct vf_model_local *l = obj;

    l->chassis_idx = -1;
    l->device_port = 1;
}

#define CT_TO(k, i) UINT(k, struct vf_model_local, ct_timeouts[i], false, 1, \
                         24u * 86400u, .omit_zero = true)
/* In the order of VF_CT_TIMEOUTS (pipeline/vf_conntrack.h; test_secgroup
 * checks the names), in seconds. */
static const struct cfg_field ct_timeout_fields[] = {
    CT_TO("tcp_syn_sent", 0), CT_TO("tcp_syn_recv", 1),
    CT_TO("tcp_established", 2), CT_TO("tcp_fin_wait", 3),
    CT_TO("tcp_close_wait", 4), CT_TO("tcp_last_ack", 5),
    CT_TO("tcp_time_wait", 6), CT_TO("tcp_close", 7),
    CT_TO("tcp_syn_sent2", 8), CT_TO("udp_new", 9), CT_TO("udp_replied", 10),
    CT_TO("icmp", 11), CT_TO("other_new", 12), CT_TO("other_replied", 13),
};
static const struct cfg_schema ct_timeout_schema =
    SCHEMA(struct vf_model_local, ct_timeout_fields, NULL, NULL, NULL);

static const struct cfg_field local_fields[] = {
    NAME("chassis", struct vf_model_local, chassis, true),
    FN("workers", false, fn_workers, out_workers, 0, 0, 0),
    MAP("uplink", struct vf_model_local, 0, false, uplink_schema),
    FN("metrics", false, fn_metrics, out_metrics, 0, 0, 0),
    { .key = "ct_timeouts", .kind = CFG_MAP, .sub = &ct_timeout_schema,
      .emit = has_ct_timeouts },
    FN("physical_networks", false, cfg_fn_physnets, cfg_out_physnets, 0, 0,
       0),
    FN("store", false, cfg_store_parse, cfg_store_out, 0, 0, 0),
};
const struct cfg_schema cfg_local_schema =
    SCHEMA(struct vf_model_local, local_fields, NULL, local_init, NULL);

static int fn_local(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj)
{
    struct vf_model *m = obj;
    int rc;

    (void)f;
    if (val->type != YAML_MAPPING_NODE)
        return cfg_fail(c, val, "field 'local': expected a mapping, got %s",
                        cfg_node_kind(val));
    snprintf(c->path, sizeof(c->path), "local");
    rc = cfg_walk_map(c, val, &cfg_local_schema, &m->local);
    if (rc)
        return rc;
    c->path[0] = '\0';
    m->has_local = true;
    return 0;
}

static const struct cfg_field top_fields[] = {
    LIST("chassis", struct vf_model, chassis, n_chassis, true,
         cfg_chassis_schema),
    LIST("tenants", struct vf_model, tenants, n_tenants, false,
         cfg_tenant_schema),
    FN("local", false, fn_local, out_local, 0, 0, 0),
};
const struct cfg_schema cfg_top_schema =
    SCHEMA(struct vf_model, top_fields, NULL, NULL, NULL);
static const struct cfg_field top_local_fields[] = {
    FN("local", true, fn_local, out_local, 0, 0, 0),
};
const struct cfg_schema cfg_top_local_schema =
    SCHEMA(struct vf_model, top_local_fields, NULL, NULL, NULL);

