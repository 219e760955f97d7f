/* model.c - checks a desired state as a whole and gives it identities.
 *
 * The loader (config.c) only knows YAML shapes and syntax; everything that
 * needs the whole model lives here, so a model built by code (vfabctl add,
 * tests) gets exactly the same checks: unique names and VNIs, references
 * that resolve, addresses that make sense, then ids.
 *
 * Every error names the entry by its path in the document and the field,
 * and fills a struct vf_model_errloc so the loader can add the line number.
 * Uniqueness is found by sorting (O(n log n)), so a model with many
 * thousands of ports validates in milliseconds: names, VNIs, addresses on
 * a switch, and the backend objects ports attach to (one tap per logical
 * port on a chassis, see backend_keys[]); the per-router and
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

#include "fabric/vf_port_tap.h"
#include "mgmt/control/vf_model.h"
#include "tunnel/vf_tunnel.h"

#define VNI_MAX 16777215u

/* One entry of the model, by position; paths and locations come from it. */
enum ent_kind {
    ENT_CHASSIS, ENT_TENANT, ENT_SWITCH, ENT_PORT, ENT_ROUTER, ENT_RPORT,
    ENT_ROUTE, ENT_ACL, ENT_LOCAL,
};

struct ent {
    enum ent_kind kind;
    size_t t, a, b;             /* tenant, then entry, then sub-entry */
};

struct mv {
    struct vf_model *m;
    char *err;
    size_t errlen;
    struct vf_model_errloc *loc;
};

/* ---- enum names ---- */

const char *vf_model_encap_name(enum vf_model_encap e)
{
    switch (e) {
    case VF_MODEL_ENCAP_GENEVE: return "geneve";
    case VF_MODEL_ENCAP_VXLAN: return "vxlan";
    }
    return "?";
}

const char *vf_attach_type_name(enum vf_attach_type t)
{
    switch (t) {
    case VF_ATTACH_RING: return "ring";
    case VF_ATTACH_TAP: return "tap";
    case VF_ATTACH_VERBS: return "verbs";
    }
    return "?";
}

const char *vf_uplink_type_name(enum vf_uplink_type t)
{
    switch (t) {
    case VF_UPLINK_RING: return "ring";
    case VF_UPLINK_UDP: return "udp";
    case VF_UPLINK_VERBS: return "verbs";
    }
    return "?";
}

const char *vf_acl_dir_name(enum vf_acl_dir d)
{
    switch (d) {
    case VF_ACL_FROM_PORT: return "from-port";
    case VF_ACL_TO_PORT: return "to-port";
    }
    return "?";
}

const char *vf_acl_action_name(enum vf_acl_action a)
{
    switch (a) {
    case VF_ACL_ALLOW: return "allow";
    case VF_ACL_DROP: return "drop";
    }
    return "?";
}

/* ---- lifetime and lookups ---- */

void vf_model_free(struct vf_model *m)
{
    if (!m)
        return;
    for (size_t t = 0; m->tenants && t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; tn->switches && s < tn->n_switches; s++)
            free(tn->switches[s].ports);
        for (size_t r = 0; tn->routers && r < tn->n_routers; r++) {
            free(tn->routers[r].ports);
            free(tn->routers[r].routes);
        }
        free(tn->switches);
        free(tn->routers);
        free(tn->acls);
    }
    free(m->tenants);
    free(m->chassis);
    memset(m, 0, sizeof(*m));
}

int vf_model_find_port(const struct vf_model *m, const char *name,
                       size_t *tenant, size_t *sw, size_t *port)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            const struct vf_model_switch *ls = &tn->switches[s];
            for (size_t p = 0; p < ls->n_ports; p++) {
                if (strcmp(ls->ports[p].name, name) != 0)
                    continue;
                if (tenant)
                    *tenant = t;
                if (sw)
                    *sw = s;
                if (port)
                    *port = p;
                return 0;
            }
        }
    }
    return -ENOENT;
}

uint16_t vf_model_chassis_port(const struct vf_model_chassis *ch)
{
    if (ch->udp_port)
        return ch->udp_port;
    return ch->encap == VF_MODEL_ENCAP_VXLAN ? VF_VXLAN_UDP_PORT
                                             : VF_GENEVE_UDP_PORT;
}

int vf_model_find_chassis(const struct vf_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_chassis; i++)
        if (strcmp(m->chassis[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- error paths ---- */

static void app(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void app(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static void app_item(char *buf, size_t len, const char *key, size_t i,
                     const char *name)
{
    app(buf, len, "%s%s[%zu]", buf[0] ? " " : "", key, i);
    if (name && name[0])
        app(buf, len, " (%s)", name);
}

/* "tenants[0] (blue) switches[1] (blue-db) ports[2] (vm3)" for an entry. */
static void ent_path(const struct vf_model *m, struct ent e, char *buf,
                     size_t len)
{
    const struct vf_model_tenant *tn = NULL;

    buf[0] = '\0';
    switch (e.kind) {
    case ENT_CHASSIS:
        app_item(buf, len, "chassis", e.a, m->chassis[e.a].name);
        return;
    case ENT_LOCAL:
        app(buf, len, "local");
        return;
    default:
        break;
    }
    tn = &m->tenants[e.t];
    app_item(buf, len, "tenants", e.t, tn->name);
    switch (e.kind) {
    case ENT_SWITCH:
    case ENT_PORT:
        app_item(buf, len, "switches", e.a, tn->switches[e.a].name);
        if (e.kind == ENT_PORT)
            app_item(buf, len, "ports", e.b,
                     tn->switches[e.a].ports[e.b].name);
        break;
    case ENT_ROUTER:
    case ENT_RPORT:
    case ENT_ROUTE:
        app_item(buf, len, "routers", e.a, tn->routers[e.a].name);
        if (e.kind == ENT_RPORT)
            app_item(buf, len, "ports", e.b,
                     tn->routers[e.a].ports[e.b].name);
        else if (e.kind == ENT_ROUTE)
            app_item(buf, len, "routes", e.b, NULL);
        break;
    case ENT_ACL:
        app_item(buf, len, "acls", e.a, NULL);
        break;
    default:
        break;
    }
}

static void ent_loc(struct ent e, const char *field, struct vf_model_errloc *l)
{
    memset(l, 0, sizeof(*l));
    l->field = field ? field : "";
    switch (e.kind) {
    case ENT_CHASSIS:
        l->depth = 1, l->key[0] = "chassis", l->idx[0] = e.a;
        return;
    case ENT_LOCAL:
        l->depth = 1, l->key[0] = "local", l->idx[0] = SIZE_MAX;
        return;
    default:
        break;
    }
    l->depth = 1, l->key[0] = "tenants", l->idx[0] = e.t;
    switch (e.kind) {
    case ENT_TENANT:
        return;
    case ENT_SWITCH:
    case ENT_PORT:
        l->key[1] = "switches";
        break;
    case ENT_ROUTER:
    case ENT_RPORT:
        l->key[1] = "routers";
        break;
    case ENT_ROUTE:
        l->key[1] = "routers";
        l->key[2] = "routes";
        break;
    case ENT_ACL:
        l->key[1] = "acls";
        break;
    default:
        break;
    }
    l->depth = 2, l->idx[1] = e.a;
    if (e.kind == ENT_PORT || e.kind == ENT_RPORT || e.kind == ENT_ROUTE) {
        if (!l->key[2])
            l->key[2] = "ports";
        l->depth = 3, l->idx[2] = e.b;
    }
}

/* A message that starts with a verb continues "field 'x' ..." as one
 * sentence; any other is a value and follows a colon. */
static bool continues(const char *msg)
{
    return strncmp(msg, "is ", 3) == 0 || strncmp(msg, "has ", 4) == 0 ||
           strncmp(msg, "only ", 5) == 0 || strncmp(msg, "needs ", 6) == 0;
}

static int mv_fail(struct mv *v, struct ent e, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int mv_fail(struct mv *v, struct ent e, const char *field,
                   const char *fmt, ...)
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

/* ---- value helpers ---- */

static const char *ip_str(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
    return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

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

/* RFC 4291 appendix A: fe80::/64 and the MAC as a modified EUI-64 (the
 * universal/local bit flipped, ff:fe in the middle). */
void vf_model_lla(const uint8_t mac[6], uint8_t lla[16])
{
    memset(lla, 0, 16);
    lla[0] = 0xfe;
    lla[1] = 0x80;
    lla[8] = mac[0] ^ 0x02;
    lla[9] = mac[1];
    lla[10] = mac[2];
    lla[11] = 0xff;
    lla[12] = 0xfe;
    lla[13] = mac[3];
    lla[14] = mac[4];
    lla[15] = mac[5];
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

static void mac_str(const uint8_t mac[6], char buf[18])
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

static int check_name(struct mv *v, struct ent e, const char *name,
                      size_t size)
{
    size_t len = strnlen(name, size);

    if (len == 0)
        return mv_fail(v, e, "name", "is empty (every %s needs a name)",
                       e.kind == ENT_CHASSIS ? "chassis" :
                       e.kind == ENT_TENANT ? "tenant" :
                       e.kind == ENT_SWITCH ? "switch" :
                       e.kind == ENT_ROUTER ? "router" : "port");
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

/* ---- uniqueness by sorting ---- */

/* A key is (ns, k, s or bin): every entry of one namespace uses the same
 * parts (names: s; MACs, IPv4, VNIs: k; IPv6: bin; backends: k is the
 * chassis, s the object's name). */
struct key_ent {
    int ns;                     /* namespace: names of one kind */
    const char *s;              /* string key, or NULL */
    const uint8_t *bin;         /* 16-byte key (IPv6), or NULL */
    uint64_t k;
    bool derived;               /* IPv6: a port's MAC-derived link-local */
    size_t seq;                 /* model order, to name the later one */
    struct ent e;
};

static int key_order(const struct key_ent *a, const struct key_ent *b)
{
    if (a->ns != b->ns)
        return a->ns < b->ns ? -1 : 1;
    if (a->k != b->k)
        return a->k < b->k ? -1 : 1;
    if (a->s && b->s)
        return strcmp(a->s, b->s);
    if (a->bin && b->bin)
        return memcmp(a->bin, b->bin, 16);
    return 0;
}

static int key_cmp(const void *pa, const void *pb)
{
    const struct key_ent *a = pa, *b = pb;
    int c = key_order(a, b);

    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorts and finds the duplicate whose later occurrence comes first in the
 * model, so the error points at the same entry a reader would. Returns the
 * index of that later occurrence (its first occurrence is the index of the
 * group's first element, stored in *first), or -1. */
static long key_find_dup(struct key_ent *v, size_t n, size_t *first)
{
    long best = -1;
    size_t g = 0;

    if (n < 2)
        return -1;
    qsort(v, n, sizeof(*v), key_cmp);
    for (size_t i = 1; i < n; i++) {
        if (key_order(&v[i], &v[g]) != 0) {
            g = i;
            continue;
        }
        if (i == g + 1 && (best < 0 || v[i].seq < v[best].seq)) {
            best = (long)i;
            *first = g;
        }
    }
    return best;
}

enum { NS_CHASSIS, NS_TENANT, NS_SWITCH, NS_PORT, NS_ROUTER, NS_UNDERLAY };

static size_t count_entries(const struct vf_model *m, size_t *n_ports_out)
{
    size_t n = m->n_chassis * 2 + m->n_tenants, ports = 0;

    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        n += tn->n_switches + tn->n_routers;
        for (size_t s = 0; s < tn->n_switches; s++)
            n += tn->switches[s].n_ports, ports += tn->switches[s].n_ports;
        for (size_t r = 0; r < tn->n_routers; r++)
            n += tn->routers[r].n_ports, ports += tn->routers[r].n_ports;
    }
    if (n_ports_out)
        *n_ports_out = ports;
    return n;
}

static const char *ns_rule(int ns)
{
    switch (ns) {
    case NS_CHASSIS: return "chassis names are unique";
    case NS_TENANT: return "tenant names are unique";
    case NS_SWITCH: return "switch names are unique across the fabric";
    case NS_PORT: return "port and router port names are unique across the "
                         "fabric";
    case NS_ROUTER: return "router names are unique across the fabric";
    }
    return "";
}

/* Names of every kind, and the chassis underlay endpoints; empty and
 * malformed names are reported here too, in model order. */
static int check_unique_names(struct mv *v)
{
    struct vf_model *m = v->m;
    struct key_ent *ke;
    size_t n = 0, seq = 0, first = 0;
    long dup;
    int rc = 0;

#define ADD(ns_, str_, ent_) do {                                           \
        rc = check_name(v, (ent_), (str_), VF_NAME_MAX);                    \
        if (rc)                                                             \
            goto out;                                                       \
        ke[n++] = (struct key_ent){ .ns = (ns_), .s = (str_), .seq = seq++, \
                                    .e = (ent_) };                          \
    } while (0)

    ke = calloc(count_entries(m, NULL) + 1, sizeof(*ke));
    if (!ke)
        return -ENOMEM;
    for (size_t c = 0; c < m->n_chassis; c++) {
        const struct vf_model_chassis *ch = &m->chassis[c];
        uint16_t port = vf_model_chassis_port(ch);
        struct ent e = { ENT_CHASSIS, 0, c, 0 };

        ADD(NS_CHASSIS, ch->name, e);
        ke[n++] = (struct key_ent){ .ns = NS_UNDERLAY, .seq = seq++, .e = e,
                                    .k = (uint64_t)ch->underlay_ip << 16 |
                                         port };
    }
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];

        ADD(NS_TENANT, tn->name, ((struct ent){ ENT_TENANT, t, 0, 0 }));
        for (size_t s = 0; s < tn->n_switches; s++) {
            struct vf_model_switch *ls = &tn->switches[s];

            ADD(NS_SWITCH, ls->name, ((struct ent){ ENT_SWITCH, t, s, 0 }));
            for (size_t p = 0; p < ls->n_ports; p++)
                ADD(NS_PORT, ls->ports[p].name,
                    ((struct ent){ ENT_PORT, t, s, p }));
        }
        for (size_t r = 0; r < tn->n_routers; r++) {
            struct vf_model_router *lr = &tn->routers[r];

            ADD(NS_ROUTER, lr->name, ((struct ent){ ENT_ROUTER, t, r, 0 }));
            for (size_t p = 0; p < lr->n_ports; p++)
                ADD(NS_PORT, lr->ports[p].name,
                    ((struct ent){ ENT_RPORT, t, r, p }));
        }
    }
#undef ADD
    dup = key_find_dup(ke, n, &first);
    if (dup >= 0) {
        char where[512], ip[INET_ADDRSTRLEN];
        const struct key_ent *d = &ke[dup];

        ent_path(m, ke[first].e, where, sizeof(where));
        if (d->ns == NS_UNDERLAY) {
            const struct vf_model_chassis *ch = &m->chassis[d->e.a];
            rc = mv_fail(v, d->e, "underlay_ip",
                         "%s port %u is already the underlay endpoint of %s "
                         "(two chassis on one address need different "
                         "'port's)", ip_str(ch->underlay_ip, ip),
                         (unsigned)(d->k & 0xffff), where);
        } else {
            rc = mv_fail(v, d->e, "name", "\"%s\" is already used by %s (%s)",
                         d->s, where, ns_rule(d->ns));
        }
    }
out:
    free(ke);
    return rc;
}

static int check_unique_vnis(struct mv *v)
{
    struct vf_model *m = v->m;
    struct key_ent *ke;
    size_t n = 0, first = 0;
    long dup;
    int rc = 0;

    ke = calloc(count_entries(m, NULL) + 1, sizeof(*ke));
    if (!ke)
        return -ENOMEM;
    for (size_t t = 0; t < m->n_tenants; t++) {
        for (size_t s = 0; s < m->tenants[t].n_switches; s++) {
            const struct vf_model_switch *ls = &m->tenants[t].switches[s];
            struct ent e = { ENT_SWITCH, t, s, 0 };

            if (ls->vni < 1 || ls->vni > VNI_MAX) {
                rc = mv_fail(v, e, "vni", "%u is out of range 1..%u",
                             ls->vni, VNI_MAX);
                goto out;
            }
            ke[n] = (struct key_ent){ .k = ls->vni, .seq = n, .e = e };
            n++;
        }
    }
    dup = key_find_dup(ke, n, &first);
    if (dup >= 0) {
        char where[512];

        ent_path(m, ke[first].e, where, sizeof(where));
        rc = mv_fail(v, ke[dup].e, "vni", "%u is already the VNI of %s (VNIs "
                     "are unique across the fabric)", (unsigned)ke[dup].k,
                     where);
    }
out:
    free(ke);
    return rc;
}

enum { NS_MAC, NS_IP4, NS_IP6 };

/* MACs and IPs on one logical switch: its ports and the router ports
 * attached to it. Two equal ones would make L2 lookup or ARP ambiguous,
 * and port security would let one port send as the other. A port's
 * MAC-derived IPv6 link-local address counts as one of its addresses
 * (port security allows it), unless the port lists it itself. */
static int check_switch_addrs(struct mv *v, size_t t, size_t s)
{
    const struct vf_model_tenant *tn = &v->m->tenants[t];
    const struct vf_model_switch *ls = &tn->switches[s];
    size_t cap = 0, n = 0, first = 0;
    struct key_ent *ke;
    uint8_t (*lla)[16];
    long dup;
    int rc = 0;

    for (size_t p = 0; p < ls->n_ports; p++)
        cap += 2 + ls->ports[p].n_ips + ls->ports[p].n_ip6s;
    for (size_t r = 0; r < tn->n_routers; r++)
        cap += 2 * tn->routers[r].n_ports;
    ke = calloc(cap + 1, sizeof(*ke));
    lla = calloc(ls->n_ports + 1, sizeof(*lla));
    if (!ke || !lla) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t p = 0; p < ls->n_ports; p++) {
        const struct vf_model_port *lp = &ls->ports[p];
        struct ent e = { ENT_PORT, t, s, p };
        bool listed = false;
        uint64_t mac = 0;

        memcpy(&mac, lp->mac, 6);
        ke[n] = (struct key_ent){ .ns = NS_MAC, .k = mac, .seq = n, .e = e };
        n++;
        for (unsigned i = 0; i < lp->n_ips; i++, n++)
            ke[n] = (struct key_ent){ .ns = NS_IP4, .k = lp->ips[i],
                                      .seq = n, .e = e };
        vf_model_lla(lp->mac, lla[p]);
        for (unsigned i = 0; i < lp->n_ip6s; i++, n++) {
            ke[n] = (struct key_ent){ .ns = NS_IP6, .bin = lp->ip6s[i],
                                      .seq = n, .e = e };
            listed |= memcmp(lp->ip6s[i], lla[p], 16) == 0;
        }
        if (!listed) {
            ke[n] = (struct key_ent){ .ns = NS_IP6, .bin = lla[p],
                                      .derived = true, .seq = n, .e = e };
            n++;
        }
    }
    for (size_t r = 0; r < tn->n_routers; r++) {
        for (size_t p = 0; p < tn->routers[r].n_ports; p++) {
            const struct vf_model_rport *rp = &tn->routers[r].ports[p];
            struct ent e = { ENT_RPORT, t, r, p };
            uint64_t mac = 0;

            if (rp->switch_idx != (int)s)
                continue;
            memcpy(&mac, rp->mac, 6);
            ke[n] = (struct key_ent){ .ns = NS_MAC, .k = mac, .seq = n,
                                      .e = e };
            n++;
            ke[n] = (struct key_ent){ .ns = NS_IP4, .k = rp->ip, .seq = n,
                                      .e = e };
            n++;
        }
    }
    dup = key_find_dup(ke, n, &first);
    if (dup >= 0) {
        const struct key_ent *d = &ke[dup];
        bool rport = d->e.kind == ENT_RPORT;
        char where[512], txt[INET6_ADDRSTRLEN + 40];
        const char *field = rport ? "cidr" : "ips";
        uint8_t mac[6];

        ent_path(v->m, ke[first].e, where, sizeof(where));
        if (d->ns == NS_MAC) {
            memcpy(mac, &d->k, 6);
            mac_str(mac, txt);
            field = "mac";
        } else if (d->ns == NS_IP4) {
            ip_str((uint32_t)d->k, txt);
        } else {
            inet_ntop(AF_INET6, d->bin, txt, sizeof(txt));
            if (d->derived) {
                field = "mac";
                app(txt, sizeof(txt), " (the link-local address of this "
                    "MAC)");
            }
        }
        rc = mv_fail(v, d->e, field, "%s is already used on switch %s by "
                     "%s%s", txt, ls->name, where, ke[first].derived ?
                     " (its MAC-derived link-local address)" : "");
    }
out:
    free(lla);
    free(ke);
    return rc;
}

/* ---- one backend object, one logical port ---- */

/* What a port's attach opens on its chassis, per attach type: the field
 * naming the object. Two ports of one chassis naming the same object would
 * share it (a second open of a multiqueue tap joins it as more queues, so
 * the kernel splits one VM's frames between the two ports, even of two
 * tenants), so the name is unique per chassis. A new backend adds its line
 * here (vhost-user: its socket path; verbs, once ports attach by verbs:
 * device and port). Ring ports open nothing shared. */
struct backend_key {
    enum vf_attach_type type;
    const char *field;          /* the field, as errors name it */
    const char *what;           /* the object, in words */
    size_t off;                 /* the name's place in struct vf_model_attach */
};

static const struct backend_key backend_keys[] = {
    { VF_ATTACH_TAP, "attach.name", "tap interface",
      offsetof(struct vf_model_attach, name) },
};

#define N_BACKEND_KEYS (sizeof(backend_keys) / sizeof(backend_keys[0]))

/* Runs after check_port has resolved every port's chassis. */
static int check_backends(struct mv *v)
{
    struct vf_model *m = v->m;
    size_t n_ports = 0, n = 0, first = 0;
    struct key_ent *ke;
    long dup;
    int rc = 0;

    count_entries(m, &n_ports);
    ke = calloc(n_ports + 1, sizeof(*ke));
    if (!ke)
        return -ENOMEM;
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            for (size_t p = 0; p < tn->switches[s].n_ports; p++) {
                const struct vf_model_port *lp = &tn->switches[s].ports[p];

                for (size_t b = 0; b < N_BACKEND_KEYS; b++) {
                    if (lp->attach.type != backend_keys[b].type)
                        continue;
                    ke[n] = (struct key_ent){
                        .ns = (int)b, .k = (uint64_t)lp->chassis_idx,
                        .s = (const char *)&lp->attach + backend_keys[b].off,
                        .seq = n, .e = { ENT_PORT, t, s, p } };
                    n++;
                }
            }
        }
    }
    dup = key_find_dup(ke, n, &first);
    if (dup >= 0) {
        const struct backend_key *bk = &backend_keys[ke[dup].ns];
        char where[512];

        ent_path(m, ke[first].e, where, sizeof(where));
        rc = mv_fail(v, ke[dup].e, bk->field, "%s %s on chassis %s already "
                     "backs %s (one %s backs one logical port)", bk->what,
                     ke[dup].s, m->chassis[ke[dup].k].name, where, bk->what);
    }
    free(ke);
    return rc;
}

/* ---- per-entry checks ---- */

static int check_chassis(struct mv *v)
{
    char ip[INET_ADDRSTRLEN];

    for (size_t c = 0; c < v->m->n_chassis; c++) {
        const struct vf_model_chassis *ch = &v->m->chassis[c];
        struct ent e = { ENT_CHASSIS, 0, c, 0 };

        if (ch->encap != VF_MODEL_ENCAP_GENEVE && ch->encap != VF_MODEL_ENCAP_VXLAN)
            return mv_fail(v, e, "encap", "%d is not geneve or vxlan",
                           (int)ch->encap);
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
        app(buf, len, "%s%s", c ? ", " : "", m->chassis[c].name);
    if (m->n_chassis > 8)
        app(buf, len, ", ...");
    if (m->n_chassis == 0)
        app(buf, len, "none defined");
}

static int check_port(struct mv *v, size_t t, size_t s, size_t p)
{
    struct vf_model_port *lp = &v->m->tenants[t].switches[s].ports[p];
    struct ent e = { ENT_PORT, t, s, p };
    char buf[512], ip[INET_ADDRSTRLEN];
    const char *why;

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
    switch (lp->attach.type) {
    case VF_ATTACH_RING:
        break;
    case VF_ATTACH_TAP:
        if (!lp->attach.name[0])
            return mv_fail(v, e, "attach.name",
                           "is required with attach type tap (the interface "
                           "name)");
        why = vf_tap_ifname_problem(lp->attach.name);
        if (why)
            return mv_fail(v, e, "attach.name", "\"%s\" %s",
                           printable(lp->attach.name, buf, sizeof(buf)), why);
        break;
    case VF_ATTACH_VERBS:
        if (!lp->attach.device[0])
            return mv_fail(v, e, "attach.device",
                           "is required with attach type verbs (the RDMA "
                           "device, e.g. mlx5_0)");
        break;
    default:
        return mv_fail(v, e, "attach.type", "%d is not ring, tap or verbs",
                       (int)lp->attach.type);
    }
    if (lp->attach.name[0] && lp->attach.type != VF_ATTACH_TAP)
        return mv_fail(v, e, "attach.name",
                       "only applies to attach type tap, not %s",
                       vf_attach_type_name(lp->attach.type));
    if (lp->attach.device[0] && lp->attach.type != VF_ATTACH_VERBS)
        return mv_fail(v, e, "attach.device",
                       "only applies to attach type verbs, not %s",
                       vf_attach_type_name(lp->attach.type));
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
    const struct vf_model_tenant *tn = &m->tenants[e.t];

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
        struct ent e = { ENT_RPORT, t, r, p };
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
        struct ent e = { ENT_ROUTE, t, r, i };
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
    if ((lo != 0 || hi != 65535) && proto != 6 && proto != 17)
        return mv_fail(v, e, field, "needs match.proto tcp or udp (ports "
                       "only exist for those)");
    return 0;
}

static int check_acl(struct mv *v, size_t t, size_t a)
{
    struct vf_model_acl *acl = &v->m->tenants[t].acls[a];
    struct ent e = { ENT_ACL, t, a, 0 };
    char ip[INET_ADDRSTRLEN];
    const struct vf_model_switch *ls;
    bool found = false;
    int rc;

    rc = find_switch(v, e, "switch", acl->sw, &acl->switch_idx);
    if (rc)
        return rc;
    ls = &v->m->tenants[t].switches[acl->switch_idx];
    for (size_t p = 0; acl->port[0] && p < ls->n_ports && !found; p++)
        found = strcmp(ls->ports[p].name, acl->port) == 0;
    if (acl->port[0] && !found)
        return mv_fail(v, e, "port", "\"%s\" is not a port of switch %s",
                       acl->port, ls->name);
    if (acl->dir != VF_ACL_FROM_PORT && acl->dir != VF_ACL_TO_PORT)
        return mv_fail(v, e, "direction", "%d is not from-port or to-port",
                       (int)acl->dir);
    if (acl->action != VF_ACL_ALLOW && acl->action != VF_ACL_DROP)
        return mv_fail(v, e, "action", "%d is not allow or drop",
                       (int)acl->action);
    if (acl->priority < 0 || acl->priority > 65535)
        return mv_fail(v, e, "priority", "%d is out of range 0..65535",
                       (int)acl->priority);
    if (acl->proto != 0 && acl->proto != 1 && acl->proto != 6 &&
        acl->proto != 17)
        return mv_fail(v, e, "match.proto", "%u is not tcp, udp, icmp or any",
                       acl->proto);
    if (acl->src_plen > 32 || acl->dst_plen > 32)
        return mv_fail(v, e, acl->src_plen > 32 ? "match.src_ip" :
                       "match.dst_ip", "prefix length is over 32");
    if (acl->ip_src & ~plen_mask(acl->src_plen))
        return mv_fail(v, e, "match.src_ip", "%s/%u has host bits set",
                       ip_str(acl->ip_src, ip), acl->src_plen);
    if (acl->ip_dst & ~plen_mask(acl->dst_plen))
        return mv_fail(v, e, "match.dst_ip", "%s/%u has host bits set",
                       ip_str(acl->ip_dst, ip), acl->dst_plen);
    rc = check_range(v, e, "match.src_port", acl->sport_lo, acl->sport_hi,
                     acl->proto);
    if (rc == 0)
        rc = check_range(v, e, "match.dst_port", acl->dport_lo,
                         acl->dport_hi, acl->proto);
    return rc;
}

static int check_local(struct mv *v)
{
    struct vf_model_local *l = &v->m->local;
    const struct vf_model_workers *w = &l->workers;
    struct ent e = { ENT_LOCAL, 0, 0, 0 };
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
        return mv_fail(v, e, "uplink.type", "%d is not ring, udp or verbs",
                       (int)l->uplink);
    }
    if (l->device[0] && l->uplink != VF_UPLINK_VERBS)
        return mv_fail(v, e, "uplink.device", "only applies to uplink type "
                       "verbs, not %s", vf_uplink_type_name(l->uplink));
    return 0;
}

/* Stable ids. What Geneve carries between hosts must not depend on when
 * a host learned of a change, and an unchanged switch must compile to the
 * same bytes (so incremental compiles share it). So ids are functions of
 * names, not of positions: a switch's datapath id is its VNI (unique,
 * chosen by the operator); a port's (and router port's, one space) and a
 * router's id is a 31-bit FNV-1a hash of its globally unique name. Hash
 * collisions are settled by probing upward, visiting names in sorted order,
 * so the ids depend only on the set of names; adding one object moves no
 * other id unless it collides (about one in 30,000 at NVP's 63,000 ports).
 * Ids only once everything is known good, so a refused model never looks
 * half-numbered to a caller that ignores the return value. */
struct id_slot {
    const char *name;
    uint32_t *id;
};

static int id_slot_cmp(const void *a, const void *b)
{
    return strcmp(((const struct id_slot *)a)->name,
                  ((const struct id_slot *)b)->name);
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    h &= 0x7fffffffu;
    return h ? h : 1;
}

/* Assigns hash ids to n slots; 0 or -ENOMEM. */
static int hash_ids(struct id_slot *slot, size_t n)
{
    qsort(slot, n, sizeof(*slot), id_slot_cmp);
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *used = calloc(cap, sizeof(*used));   /* open addressing set */
    if (!used)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = name_hash(slot[i].name);
        for (;;) {
            size_t h = (id * 2654435761u) & (cap - 1);
            while (used[h] && used[h] != id)
                h = (h + 1) & (cap - 1);
            if (!used[h]) {
                used[h] = id;
                break;
            }
            id = (id + 1) & 0x7fffffffu;   /* taken: probe upward */
            if (!id)
                id = 1;
        }
        *slot[i].id = id;
    }
    free(used);
    return 0;
}

static int assign_ids(struct vf_model *m)
{
    size_t n_lports = 0, n_routers = 0;
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            tn->switches[s].id = tn->switches[s].vni;
            n_lports += tn->switches[s].n_ports;
        }
        n_routers += tn->n_routers;
        for (size_t r = 0; r < tn->n_routers; r++)
            n_lports += tn->routers[r].n_ports;
    }
    struct id_slot *lp = calloc(n_lports + 1, sizeof(*lp));
    struct id_slot *rt = calloc(n_routers + 1, sizeof(*rt));
    int rc = -ENOMEM;
    if (!lp || !rt)
        goto out;
    size_t nl = 0, nr = 0;
    for (size_t t = 0; t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++)
            for (size_t p = 0; p < tn->switches[s].n_ports; p++)
                lp[nl++] = (struct id_slot){tn->switches[s].ports[p].name,
                                            &tn->switches[s].ports[p].id};
        for (size_t r = 0; r < tn->n_routers; r++) {
            rt[nr++] = (struct id_slot){tn->routers[r].name, &tn->routers[r].id};
            for (size_t p = 0; p < tn->routers[r].n_ports; p++)
                lp[nl++] = (struct id_slot){tn->routers[r].ports[p].name,
                                            &tn->routers[r].ports[p].id};
        }
    }
    rc = hash_ids(lp, nl);
    if (!rc)
        rc = hash_ids(rt, nr);
out:
    free(lp);
    free(rt);
    return rc;
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
    }
    if (rc == 0)
        rc = check_backends(&v);
    if (rc == 0 && m->has_local)
        rc = check_local(&v);
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
