/* validate.c - checks a desired state as a whole.
 *
 * The loader (config.c) only knows YAML shapes and syntax; everything that
 * needs the whole model lives here and in validate_unique.c, so a model
 * built by code (vfabctl add, tests) gets exactly the same checks: unique
 * names and VNIs, references that resolve, addresses that make sense,
 * then ids (ids.c).
 *
 * Every error names the entry by its path in the document and the field,
 * and fills a struct vf_model_errloc so the loader can add the line
 * number; paths come from the kind table (vf_kinds.h). The per-router and
 * per-chassis checks are quadratic only in the ports of one router or in
 * the chassis count, which stay small.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/validate_int.h"
#include "mgmt/control/vf_secgroup.h"

/* ---- error paths ---- */

void vf_app(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* The kinds from the top down to e's: chain[0] at the top. */
static unsigned ent_chain(struct ent e, enum vf_kind chain[VF_KIND_DEPTH])
{
    unsigned depth = vf_kind_depth(e.kind), d = depth;

    for (enum vf_kind k = e.kind; k != VF_KIND_NONE && d > 0;
         k = vf_kind(k)->parent)
        chain[--d] = k;
    return depth;
}

/* "tenants[0] (blue) switches[1] (blue-db) ports[2] (vm3)" for an entry. */
void ent_path(const struct vf_model *m, struct ent e, char *buf, size_t len)
{
    enum vf_kind chain[VF_KIND_DEPTH];
    const void *obj = m;

    buf[0] = '\0';
    if (e.kind == VF_KIND_NONE) {
        vf_app(buf, len, "local");
        return;
    }
    for (unsigned d = 0, n = ent_chain(e, chain); d < n && obj; d++) {
        const char *name;

        obj = vf_kind_at(chain[d], obj, e.idx[d]);
        name = vf_kind_label(chain[d], obj);
        vf_app(buf, len, "%s%s[%zu]", d ? " " : "", vf_kind(chain[d])->list,
               e.idx[d]);
        if (name && name[0])
            vf_app(buf, len, " (%s)", name);
    }
}

static void ent_loc(struct ent e, const char *field, struct vf_model_errloc *l)
{
    enum vf_kind chain[VF_KIND_DEPTH];

    memset(l, 0, sizeof(*l));
    l->field = field ? field : "";
    if (e.kind == VF_KIND_NONE) {
        l->depth = 1, l->key[0] = "local", l->idx[0] = SIZE_MAX;
        return;
    }
    l->depth = ent_chain(e, chain);
    for (unsigned d = 0; d < l->depth; d++) {
        l->key[d] = vf_kind(chain[d])->list;
        l->idx[d] = e.idx[d];
    }
}

/* A message that starts with a verb continues "field 'x' ..." as one
 * sentence; any other is a value and follows a colon. */
static bool continues(const char *msg)
{
    return strncmp(msg, "is ", 3) == 0 || strncmp(msg, "has ", 4) == 0 ||
           strncmp(msg, "only ", 5) == 0 || strncmp(msg, "needs ", 6) == 0;
}

int mv_fail(struct mv *v, struct ent e, const char *field, const char *fmt,
            ...)
{
    char path[512], msg[768];
    va_list ap;

    ent_path(v->m, e, path, sizeof(path));
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (v->err && v->errlen) {
        if (field)
            snprintf(v->err, v->errlen, "%s: field '%s'%s%s", path, field,
                     continues(msg) ? " " : ": ", msg);
        else
            snprintf(v->err, v->errlen, "%s: %s", path, msg);
    }
    if (v->loc)
        ent_loc(e, field, v->loc);
    return -EINVAL;
}

/* "7 is not geneve or vxlan": a value set by code that no spelling has. */
static int enum_fail(struct mv *v, struct ent e, const char *field, int value,
                     const struct vf_model_enum *en)
{
    char list[128];

    vf_model_enum_list(en, list, sizeof(list));
    return mv_fail(v, e, field, "%d is not %s", value, list);
}

/* ---- value helpers ---- */

static uint32_t plen_mask(unsigned plen)
{
    return plen == 0 ? 0 : htonl(~0u << (32 - plen));
}

static bool mac_bad(const uint8_t mac[6], const char **why)
{
    static const uint8_t zero[6];

    if (memcmp(mac, zero, 6) == 0) {
        *why = "is the all-zero MAC address";
        return true;
    }
    if (mac[0] & 1) {
        *why = "is a multicast MAC address (a port needs a unicast one)";
        return true;
    }
    return false;
}

/* A port's own IPv6 address must be one a host could send from. */
static bool ip6_bad(const uint8_t a[16], const char **why)
{
    static const uint8_t zero[16];
    static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

    if (memcmp(a, zero, 16) == 0) {
        *why = "is the unspecified address";
        return true;
    }
    if (memcmp(a, zero, 15) == 0 && a[15] == 1) {
        *why = "is the loopback address";
        return true;
    }
    if (a[0] == 0xff) {
        *why = "is a multicast address (a port needs unicast ones)";
        return true;
    }
    if (memcmp(a, mapped, 12) == 0) {
        *why = "is an IPv4-mapped address (list the IPv4 address itself)";
        return true;
    }
    return false;
}

void mac_str(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);
}

/* s for an error message: bytes outside printable ASCII become '?'. */
static const char *printable(const char *s, char *buf, size_t len)
{
    size_t i = 0;

    for (; s[i] && i + 1 < len; i++)
        buf[i] = s[i] >= 32 && s[i] < 127 ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* Object names go into CLI arguments, JSON and log lines unquoted. */
static bool name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
           ch == ':' || ch == '@' || ch == '/';
}

int check_name(struct mv *v, struct ent e, const char *name, size_t size)
{
    size_t len = strnlen(name, size);

    if (len == 0)
        return mv_fail(v, e, "name", "is empty (every %s needs a name)",
                       vf_kind(e.kind)->noun);
    if (len >= size)
        return mv_fail(v, e, "name", "is not NUL-terminated");
    for (size_t i = 0; i < len; i++)
        if (!name_char_ok(name[i]))
            return mv_fail(v, e, "name",
                           "\"%s\" has the character '%c' (allowed: letters, "
                           "digits and - _ . : @ /)", name,
                           name[i] >= 32 && name[i] < 127 ? name[i] : '?');
    return 0;
}

/* ---- per-entry checks ---- */

/* The attach type's field is there and good, and no other type's field
 * is set (attach.c holds each type's rule). */
static int check_attach(struct mv *v, struct ent e,
                        const struct vf_model_attach *at)
{
    static const struct { const char *field; size_t off; } fields[] = {
        { "attach.name", offsetof(struct vf_model_attach, name) },
        { "attach.device", offsetof(struct vf_model_attach, device) },
        { "attach.socket", offsetof(struct vf_model_attach, socket) },
    };
    const struct vf_attach_rule *ar = vf_attach_rule(at->type);
    char buf[512];
    const char *why;

    if (!ar)
        return enum_fail(v, e, "attach.type", (int)at->type,
                         &vf_attach_types);
    if (ar->field) {
        const char *val = (const char *)at + ar->off;
        if (!val[0])
            return mv_fail(v, e, ar->field, "is required with attach type "
                           "%s (%s)", vf_attach_type_name(at->type), ar->hint);
        why = ar->problem ? ar->problem(val) : NULL;
        if (why)
            return mv_fail(v, e, ar->field, "\"%s\" %s",
                           printable(val, buf, sizeof(buf)), why);
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *owner = NULL;
        if (!((const char *)at + fields[i].off)[0] ||
            (ar->field && strcmp(ar->field, fields[i].field) == 0))
            continue;
        for (int t = 0; t < (int)vf_attach_types.n && !owner; t++) {
            const struct vf_attach_rule *o = vf_attach_rule(
                (enum vf_attach_type)t);
            if (o->field && strcmp(o->field, fields[i].field) == 0)
                owner = vf_attach_type_name((enum vf_attach_type)t);
        }
        return mv_fail(v, e, fields[i].field, "only applies to attach type "
                       "%s, not %s", owner ? owner : "?",
                       vf_attach_type_name(at->type));
    }
    if (at->mode != VF_ATTACH_MODE_CLIENT && at->type != VF_ATTACH_VHOST_USER)
        return mv_fail(v, e, "attach.mode", "only applies to attach type "
                       "%s, not %s",
                       vf_attach_type_name(VF_ATTACH_VHOST_USER),
                       vf_attach_type_name(at->type));
    return 0;
}

static int check_chassis(struct mv *v)
{
    char ip[INET_ADDRSTRLEN];

    for (size_t c = 0; c < v->m->n_chassis; c++) {
        const struct vf_model_chassis *ch = &v->m->chassis[c];
        struct ent e = ent1(VF_KIND_CHASSIS, c);

        if (!vf_model_enum_name(&vf_model_encaps, (int)ch->encap))
            return enum_fail(v, e, "encap", (int)ch->encap, &vf_model_encaps);
        if (ch->underlay_ip == 0 || ch->underlay_ip == 0xffffffffu ||
            (ntohl(ch->underlay_ip) >> 28) == 0xe)
            return mv_fail(v, e, "underlay_ip",
                           "%s is not a unicast host address",
                           ip_str(ch->underlay_ip, ip));
    }
    return 0;
}

/* Lists the chassis names for "is not a chassis" errors (first few). */
static void chassis_list(const struct vf_model *m, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t c = 0; c < m->n_chassis && c < 8; c++)
        vf_app(buf, len, "%s%s", c ? ", " : "", m->chassis[c].name);
    if (m->n_chassis > 8)
        vf_app(buf, len, ", ...");
    if (m->n_chassis == 0)
        vf_app(buf, len, "none defined");
}

static int check_port(struct mv *v, size_t t, size_t s, size_t p)
{
    struct vf_model_port *lp = &v->m->tenants[t].switches[s].ports[p];
    struct ent e = ent3(VF_KIND_PORT, t, s, p);
    char buf[512], ip[INET_ADDRSTRLEN];
    const char *why;
    int rc;

    if (mac_bad(lp->mac, &why)) {
        mac_str(lp->mac, buf);
        return mv_fail(v, e, "mac", "%s %s", buf, why);
    }
    if (lp->n_ips > VF_MODEL_MAX_IPS)
        return mv_fail(v, e, "ips", "has %u IPv4 addresses (at most %d)",
                       lp->n_ips, VF_MODEL_MAX_IPS);
    if (lp->n_ip6s > VF_MODEL_MAX_IP6S)
        return mv_fail(v, e, "ips", "has %u IPv6 addresses (at most %d)",
                       lp->n_ip6s, VF_MODEL_MAX_IP6S);
    for (unsigned i = 0; i < lp->n_ips; i++) {
        uint32_t h = ntohl(lp->ips[i]);
        if (h == 0 || h == 0xffffffffu || (h >> 28) == 0xe)
            return mv_fail(v, e, "ips", "%s is not a unicast host address",
                           ip_str(lp->ips[i], ip));
    }
    for (unsigned i = 0; i < lp->n_ip6s; i++) {
        if (ip6_bad(lp->ip6s[i], &why)) {
            inet_ntop(AF_INET6, lp->ip6s[i], buf, sizeof(buf));
            return mv_fail(v, e, "ips", "%s %s", buf, why);
        }
    }
    lp->chassis_idx = vf_model_find_chassis(v->m, lp->chassis);
    if (lp->chassis_idx < 0) {
        chassis_list(v->m, buf, sizeof(buf));
        return mv_fail(v, e, "chassis",
                       "\"%s\" is not a chassis of the fabric (chassis: %s)",
                       lp->chassis, buf);
    }
    rc = check_attach(v, e, &lp->attach);
    if (rc)
        return rc;
    if (lp->port_security && lp->n_ips == 0 && lp->n_ip6s == 0)
        return mv_fail(v, e, "port_security",
                       "is true but the port has no ips to enforce (add "
                       "'ips' or set port_security: false)");
    return 0;
}

/* Finds a switch by name in tenant t; on a miss names the tenant that has
 * it, if any, since "wrong tenant" is the likely mistake. */
static int find_switch(struct mv *v, struct ent e, const char *field,
                       const char *name, int *idx)
{
    const struct vf_model *m = v->m;
    const struct vf_model_tenant *tn = &m->tenants[e.idx[0]];

    for (size_t s = 0; s < tn->n_switches; s++) {
        if (strcmp(tn->switches[s].name, name) == 0) {
            *idx = (int)s;
            return 0;
        }
    }
    *idx = -1;
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            if (strcmp(m->tenants[t].switches[s].name, name) == 0)
                return mv_fail(v, e, field,
                               "\"%s\" is a switch of tenant %s, not of "
                               "tenant %s (tenants never share switches)",
                               name, m->tenants[t].name, tn->name);
    return mv_fail(v, e, field, "\"%s\" is not a switch of tenant %s", name,
                   tn->name);
}

static int check_router(struct mv *v, size_t t, size_t r)
{
    struct vf_model_router *lr = &v->m->tenants[t].routers[r];
    char ip[INET_ADDRSTRLEN], ip2[INET_ADDRSTRLEN], buf[24];
    const char *why;
    int rc;

    for (size_t p = 0; p < lr->n_ports; p++) {
        struct vf_model_rport *rp = &lr->ports[p];
        struct ent e = ent3(VF_KIND_RPORT, t, r, p);
        uint32_t mask = plen_mask(rp->plen);

        rc = find_switch(v, e, "switch", rp->sw, &rp->switch_idx);
        if (rc)
            return rc;
        if (mac_bad(rp->mac, &why)) {
            mac_str(rp->mac, buf);
            return mv_fail(v, e, "mac", "%s %s", buf, why);
        }
        if (rp->plen < 1 || rp->plen > 31)
            return mv_fail(v, e, "cidr", "prefix length /%u is not in "
                           "1..31 (want the router's address and its "
                           "subnet, e.g. 10.0.0.254/24)", rp->plen);
        if (rp->plen <= 30 && ((rp->ip & ~mask) == 0 ||
                               (rp->ip & ~mask) == ~mask))
            return mv_fail(v, e, "cidr", "%s/%u is the subnet's %s address, "
                           "not an address inside it",
                           ip_str(rp->ip, ip), rp->plen,
                           (rp->ip & ~mask) == 0 ? "network" : "broadcast");
        for (size_t q = 0; q < p; q++) {
            const struct vf_model_rport *o = &lr->ports[q];
            uint32_t m2 = plen_mask(rp->plen < o->plen ? rp->plen : o->plen);

            if (o->switch_idx == rp->switch_idx)
                return mv_fail(v, e, "switch", "\"%s\" already has router "
                               "port %s of this router (one port per "
                               "switch)", rp->sw, o->name);
            if ((o->ip & m2) == (rp->ip & m2))
                return mv_fail(v, e, "cidr", "%s/%u overlaps %s/%u of "
                               "router port %s", ip_str(rp->ip, ip),
                               rp->plen, ip_str(o->ip, ip2), o->plen,
                               o->name);
        }
    }
    for (size_t i = 0; i < lr->n_routes; i++) {
        const struct vf_model_route *rt = &lr->routes[i];
        struct ent e = ent3(VF_KIND_ROUTE, t, r, i);
        bool on_link = false;

        if (rt->plen > 32)
            return mv_fail(v, e, "prefix", "prefix length /%u is over 32",
                           rt->plen);
        if (rt->prefix & ~plen_mask(rt->plen)) {
            uint32_t net = rt->prefix & plen_mask(rt->plen);
            return mv_fail(v, e, "prefix", "%s/%u has host bits set (did "
                           "you mean %s/%u?)", ip_str(rt->prefix, ip),
                           rt->plen, ip_str(net, ip2), rt->plen);
        }
        for (size_t p = 0; p < lr->n_ports && !on_link; p++) {
            const struct vf_model_rport *rp = &lr->ports[p];
            uint32_t mask = plen_mask(rp->plen);

            if (rt->nexthop == rp->ip)
                return mv_fail(v, e, "nexthop", "%s is the router's own "
                               "address on port %s",
                               ip_str(rt->nexthop, ip), rp->name);
            on_link = (rt->nexthop & mask) == (rp->ip & mask);
        }
        if (!on_link)
            return mv_fail(v, e, "nexthop", "%s is not inside the subnet of "
                           "any port of router %s",
                           ip_str(rt->nexthop, ip), lr->name);
    }
    return 0;
}

static int check_range(struct mv *v, struct ent e, const char *field,
                       uint16_t lo, uint16_t hi, uint8_t proto)
{
    if (lo > hi)
        return mv_fail(v, e, field, "range %u-%u is empty (low > high)",
                       lo, hi);
    if ((lo != 0 || hi != 65535) && proto != 6 && proto != 17 &&
        proto != 1 && proto != 58)
        return mv_fail(v, e, field, "needs match.proto tcp or udp (ports "
                       "only exist for those; icmp_type and icmp_code for "
                       "icmp and icmp6)");
    return 0;
}

static int check_acl(struct mv *v, size_t t, size_t a)
{
    struct vf_model_acl *acl = &v->m->tenants[t].acls[a];
    struct ent e = ent2(VF_KIND_ACL, t, a);
    const struct vf_model_switch *ls;
    bool found = false;
    int rc;

    /* With a port group and no switch: the group's switches (secgroup.c
     * checks the rest of the scope). */
    acl->switch_idx = -1;
    if (!acl->sw[0] && acl->port_group[0] && !acl->port[0])
        goto match;
    if (!acl->sw[0])
        return mv_fail(v, e, "switch", "is missing (an ACL applies to a "
                       "switch, one of its ports, or a port_group)");
    rc = find_switch(v, e, "switch", acl->sw, &acl->switch_idx);
    if (rc)
        return rc;
    ls = &v->m->tenants[t].switches[acl->switch_idx];
    for (size_t p = 0; acl->port[0] && p < ls->n_ports && !found; p++)
        found = strcmp(ls->ports[p].name, acl->port) == 0;
    if (acl->port[0] && !found)
        return mv_fail(v, e, "port", "\"%s\" is not a port of switch %s",
                       acl->port, ls->name);
match:
    if (!vf_model_enum_name(&vf_acl_dirs, (int)acl->dir))
        return enum_fail(v, e, "direction", (int)acl->dir, &vf_acl_dirs);
    if (!vf_model_enum_name(&vf_acl_actions, (int)acl->action))
        return enum_fail(v, e, "action", (int)acl->action, &vf_acl_actions);
    if (acl->priority < 0 || acl->priority > 65535)
        return mv_fail(v, e, "priority", "%d is out of range 0..65535",
                       (int)acl->priority);
    if (!vf_model_enum_name(&vf_acl_protos, acl->proto))
        return enum_fail(v, e, "match.proto", acl->proto, &vf_acl_protos);
    rc = check_range(v, e, "match.src_port", acl->sport_lo, acl->sport_hi,
                     acl->proto);
    if (rc == 0)
        rc = check_range(v, e, "match.dst_port", acl->dport_lo,
                         acl->dport_hi, acl->proto);
    return rc;
}

/* Port groups, address sets and the ACL fields that use them
 * (secgroup.c). */
static int check_secgroups(struct mv *v, size_t t)
{
    struct vf_sg_err se = { 0 };
    int rc = vf_sg_validate_tenant(&v->m->tenants[t], &se);

    if (rc != -EINVAL)
        return rc;
    return mv_fail(v, ent2(se.kind, t, se.idx), se.field, "%s", se.msg);
}

static int check_local(struct mv *v)
{
    struct vf_model_local *l = &v->m->local;
    const struct vf_model_workers *w = &l->workers;
    struct ent e = ent_local();
    char buf[512];

    l->chassis_idx = vf_model_find_chassis(v->m, l->chassis);
    if (l->chassis_idx < 0) {
        chassis_list(v->m, buf, sizeof(buf));
        return mv_fail(v, e, "chassis",
                       "\"%s\" is not a chassis of the fabric (chassis: %s)",
                       l->chassis, buf);
    }
    switch (w->mode) {
    case VF_MODEL_WORKERS_AUTO:
        break;
    case VF_MODEL_WORKERS_COUNT:
        if (w->count < 1 || w->count > VF_MODEL_MAX_WORKERS)
            return mv_fail(v, e, "workers", "%d is out of range 1..%d",
                           w->count, VF_MODEL_MAX_WORKERS);
        break;
    case VF_MODEL_WORKERS_LIST:
        if (w->n_cpus < 1 || w->n_cpus > VF_MODEL_MAX_WORKERS)
            return mv_fail(v, e, "workers", "a list of %d cpus (want "
                           "1..%d)", w->n_cpus, VF_MODEL_MAX_WORKERS);
        for (int i = 0; i < w->n_cpus; i++) {
            if (w->cpus[i] < 0)
                return mv_fail(v, e, "workers", "cpu %d is negative",
                               w->cpus[i]);
            for (int j = 0; j < i; j++)
                if (w->cpus[j] == w->cpus[i])
                    return mv_fail(v, e, "workers", "cpu %d is listed "
                                   "twice", w->cpus[i]);
        }
        break;
    default:
        return mv_fail(v, e, "workers", "mode %d is not auto, a count or a "
                       "list", (int)w->mode);
    }
    switch (l->uplink) {
    case VF_UPLINK_RING:
    case VF_UPLINK_UDP:
        break;
    case VF_UPLINK_VERBS:
        if (!l->device[0])
            return mv_fail(v, e, "uplink.device", "is required with uplink "
                           "type verbs (the RDMA device, e.g. mlx5_0)");
        if (l->device_port < 1 || l->device_port > 255)
            return mv_fail(v, e, "uplink.device_port", "%d is out of range "
                           "1..255", l->device_port);
        break;
    default:
        return enum_fail(v, e, "uplink.type", (int)l->uplink,
                         &vf_uplink_types);
    }
    if (l->device[0] && l->uplink != VF_UPLINK_VERBS)
        return mv_fail(v, e, "uplink.device", "only applies to uplink type "
                       "verbs, not %s", vf_uplink_type_name(l->uplink));
    return 0;
}

int vf_model_validate_loc(struct vf_model *m, char *err, size_t errlen,
                          struct vf_model_errloc *loc)
{
    struct mv v = { .m = m, .err = err, .errlen = errlen, .loc = loc };
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (loc)
        memset(loc, 0, sizeof(*loc));
    rc = check_unique_names(&v);
    if (rc == 0)
        rc = check_unique_vnis(&v);
    if (rc == 0)
        rc = check_chassis(&v);
    for (size_t t = 0; rc == 0 && t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];

        for (size_t s = 0; rc == 0 && s < tn->n_switches; s++)
            for (size_t p = 0; rc == 0 && p < tn->switches[s].n_ports; p++)
                rc = check_port(&v, t, s, p);
        for (size_t r = 0; rc == 0 && r < tn->n_routers; r++)
            rc = check_router(&v, t, r);
        for (size_t s = 0; rc == 0 && s < tn->n_switches; s++)
            rc = check_switch_addrs(&v, t, s);
        for (size_t a = 0; rc == 0 && a < tn->n_acls; a++)
            rc = check_acl(&v, t, a);
        if (rc == 0)
            rc = check_secgroups(&v, t);
        if (rc == 0)
            rc = check_gateways(&v, t);
    }
    if (rc == 0)
        rc = check_nat_fabric(&v);
    if (rc == 0)
        rc = check_backends(&v);
    if (rc == 0 && m->has_local)
        rc = check_local(&v);
    if (rc == 0 && m->has_local)
        rc = check_physnets(&v);
    if (rc == 0)
        rc = assign_ids(m);
    if (rc == -ENOMEM && err && errlen)
        snprintf(err, errlen, "out of memory while validating the model");
    return rc;
}

int vf_model_validate(struct vf_model *m, char *err, size_t errlen)
{
    return vf_model_validate_loc(m, err, errlen, NULL);
}
