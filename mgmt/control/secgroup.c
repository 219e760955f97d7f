/* secgroup.c - port groups, address sets and the ACL fields that use them:
 * prefixes of both families, validation, scope (vf_secgroup.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_secgroup.h"

const char *const vf_model_ct_timeout_names[VF_MODEL_CT_TIMEOUTS] = {
    "tcp_syn_sent", "tcp_syn_recv", "tcp_established", "tcp_fin_wait",
    "tcp_close_wait", "tcp_last_ack", "tcp_time_wait", "tcp_close",
    "tcp_syn_sent2", "udp_new", "udp_replied", "icmp", "other_new",
    "other_replied",
};

/* ---- prefixes ---- */

bool vf_prefix_parse(const char *s, bool need_plen, struct vf_model_prefix *p)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    unsigned long plen = 0;

    if (alen == 0 || alen >= INET6_ADDRSTRLEN || (need_plen && !slash))
        return false;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    memset(p, 0, sizeof(*p));
    if (inet_pton(AF_INET, buf, p->addr) == 1)
        p->family = 4;
    else if (inet_pton(AF_INET6, buf, p->addr) == 1)
        p->family = 6;
    else
        return false;
    if (slash) {
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3)
            return false;
        for (const char *c = d; *c; c++)
            if (*c < '0' || *c > '9')
                return false;
        plen = strtoul(d, NULL, 10);
    } else {
        plen = p->family == 4 ? 32 : 128;
    }
    if (plen > (p->family == 4 ? 32u : 128u))
        return false;
    p->plen = (uint8_t)plen;
    return true;
}

const char *vf_prefix_str(const struct vf_model_prefix *p, char *buf)
{
    char a[INET6_ADDRSTRLEN];

    inet_ntop(p->family == 6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a));
    snprintf(buf, VF_PREFIX_STRLEN, "%s/%u", a, p->plen);
    return buf;
}

bool vf_prefix_host_bits(const struct vf_model_prefix *p)
{
    unsigned bytes = p->family == 6 ? 16 : 4;

    for (unsigned i = 0; i < bytes; i++) {
        unsigned first = i * 8;         /* bit index of this byte's MSB */
        uint8_t keep = p->plen >= first + 8 ? 0xff
                       : p->plen <= first ? 0
                       : (uint8_t)(0xff << (8 - (p->plen - first)));
        if (p->addr[i] & (uint8_t)~keep)
            return true;
    }
    return false;
}

/* ---- lookups ---- */

int vf_sg_find_pgroup(const struct vf_model_tenant *tn, const char *name)
{
    for (size_t g = 0; g < tn->n_pgroups; g++)
        if (strcmp(tn->pgroups[g].name, name) == 0)
            return (int)g;
    return -1;
}

int vf_sg_find_aset(const struct vf_model_tenant *tn, const char *name)
{
    for (size_t s = 0; s < tn->n_asets; s++)
        if (strcmp(tn->asets[s].name, name) == 0)
            return (int)s;
    return -1;
}

const struct vf_model_pgroup *vf_sg_acl_pgroup(const struct vf_model_tenant *tn,
                                               const struct vf_model_acl *acl)
{
    if (!acl->port_group[0] || acl->pgroup_idx < 0 ||
        (size_t)acl->pgroup_idx >= tn->n_pgroups)
        return NULL;
    return &tn->pgroups[acl->pgroup_idx];
}

bool vf_sg_acl_on_switch(const struct vf_model_tenant *tn,
                         const struct vf_model_acl *acl, size_t si)
{
    const struct vf_model_pgroup *g = vf_sg_acl_pgroup(tn, acl);

    if (acl->switch_idx >= 0 && (size_t)acl->switch_idx != si)
        return false;
    if (!g)
        return acl->switch_idx >= 0;
    for (size_t i = 0; g->refs && i < g->n_ports; i++)
        if (g->refs[i].sw == si)
            return true;
    return false;
}

/* ---- validation ---- */

static int sg_fail(struct vf_sg_err *e, enum vf_kind kind, size_t idx,
                   const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int sg_fail(struct vf_sg_err *e, enum vf_kind kind, size_t idx,
                   const char *field, const char *fmt, ...)
{
    va_list ap;

    e->kind = kind;
    e->idx = idx;
    e->field = field;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* "a, b, c" (cut short) of the names of n entries of size sz. */
static void names_of(const void *arr, size_t n, size_t sz, char *buf,
                     size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(buf);
        if (used + 8 >= len) {
            snprintf(buf + used, len - used, ", ...");
            return;
        }
        snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                 (const char *)arr + i * sz);
    }
    if (!n)
        snprintf(buf, len, "none");
}

struct name_ref {
    const char *name;
    size_t idx;                 /* position in its list */
    uint32_t sw, port;          /* for switch ports */
};

static int by_name(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The first name listed twice among n (sorted in place), or NULL. */
static const struct name_ref *first_dup(struct name_ref *r, size_t n)
{
    const struct name_ref *dup = NULL;

    qsort(r, n, sizeof(*r), by_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(r[i - 1].name, r[i].name) == 0 &&
            (!dup || r[i].idx < dup->idx))
            dup = &r[i];
    return dup;
}

static int check_pgroups(struct vf_model_tenant *tn, struct vf_sg_err *e)
{
    size_t np = 0, k = 0;
    struct name_ref *ports, *r = NULL, key;
    int rc = 0;

    for (size_t s = 0; s < tn->n_switches; s++)
        np += tn->switches[s].n_ports;
    ports = calloc(np + 1, sizeof(*ports));
    if (!ports)
        return -ENOMEM;
    for (size_t s = 0; s < tn->n_switches; s++)
        for (size_t p = 0; p < tn->switches[s].n_ports; p++)
            ports[k++] = (struct name_ref){ tn->switches[s].ports[p].name, 0,
                                            (uint32_t)s, (uint32_t)p };
    qsort(ports, np, sizeof(*ports), by_name);
    for (size_t g = 0; rc == 0 && g < tn->n_pgroups; g++) {
        struct vf_model_pgroup *pg = &tn->pgroups[g];
        const struct name_ref *d;

        free(pg->refs);
        pg->refs = calloc(pg->n_ports + 1, sizeof(*pg->refs));
        free(r);
        r = calloc(pg->n_ports + 1, sizeof(*r));
        if (!pg->refs || !r) {
            rc = -ENOMEM;
            break;
        }
        for (size_t i = 0; rc == 0 && i < pg->n_ports; i++) {
            const struct name_ref *hit;
            key = (struct name_ref){ pg->ports[i], 0, 0, 0 };
            hit = bsearch(&key, ports, np, sizeof(*ports), by_name);
            if (!hit) {
                char names[160];
                names_of(tn->switches, tn->n_switches,
                         sizeof(tn->switches[0]), names, sizeof(names));
                rc = sg_fail(e, VF_KIND_PGROUP, g, "ports", "\"%s\" is not a "
                             "port of a switch of tenant %s (switches: %s)",
                             pg->ports[i], tn->name, names);
                break;
            }
            pg->refs[i] = (struct vf_model_pgref){ hit->sw, hit->port };
            r[i] = (struct name_ref){ pg->ports[i], i, 0, 0 };
        }
        if (rc == 0 && (d = first_dup(r, pg->n_ports)) != NULL)
            rc = sg_fail(e, VF_KIND_PGROUP, g, "ports", "\"%s\" is listed "
                         "twice", d->name);
    }
    free(r);
    free(ports);
    return rc;
}

static int by_prefix(const void *a, const void *b)
{
    const struct vf_model_prefix *x = a, *y = b;
    if (x->family != y->family)
        return x->family - y->family;
    if (x->plen != y->plen)
        return x->plen - y->plen;
    return memcmp(x->addr, y->addr, 16);
}

static int check_asets(struct vf_model_tenant *tn, struct vf_sg_err *e)
{
    for (size_t s = 0; s < tn->n_asets; s++) {
        const struct vf_model_aset *as = &tn->asets[s];
        struct vf_model_prefix *sorted;
        char b[VF_PREFIX_STRLEN];

        for (size_t i = 0; i < as->n_addrs; i++) {
            const struct vf_model_prefix *p = &as->addrs[i];
            if ((p->family != 4 && p->family != 6) ||
                p->plen > (p->family == 4 ? 32 : 128))
                return sg_fail(e, VF_KIND_ASET, s, "addresses", "entry %zu "
                               "is not an IPv4 or IPv6 prefix", i);
            if (vf_prefix_host_bits(p))
                return sg_fail(e, VF_KIND_ASET, s, "addresses", "%s has "
                               "host bits set", vf_prefix_str(p, b));
        }
        sorted = malloc((as->n_addrs + 1) * sizeof(*sorted));
        if (!sorted)
            return -ENOMEM;
        if (as->n_addrs)
            memcpy(sorted, as->addrs, as->n_addrs * sizeof(*sorted));
        qsort(sorted, as->n_addrs, sizeof(*sorted), by_prefix);
        for (size_t i = 1; i < as->n_addrs; i++)
            if (by_prefix(&sorted[i - 1], &sorted[i]) == 0) {
                vf_prefix_str(&sorted[i], b);
                free(sorted);
                return sg_fail(e, VF_KIND_ASET, s, "addresses", "%s is "
                               "listed twice", b);
            }
        free(sorted);
    }
    return 0;
}

static const char *proto_name(uint8_t proto)
{
    switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "icmp6";
    default: return "any";
    }
}

/* One side of a match: a set (resolved here) or a literal prefix. */
static int check_side(struct vf_model_tenant *tn, size_t a,
                      struct vf_sg_err *e, const char *field,
                      const char *set, int *set_idx,
                      const struct vf_model_prefix *p, uint8_t proto)
{
    char b[VF_PREFIX_STRLEN];

    *set_idx = -1;
    if (set[0]) {
        char names[160];
        *set_idx = vf_sg_find_aset(tn, set);
        if (*set_idx >= 0)
            return 0;
        names_of(tn->asets, tn->n_asets, sizeof(tn->asets[0]), names,
                 sizeof(names));
        return sg_fail(e, VF_KIND_ACL, a, field, "\"$%s\" is not an address set "
                       "of tenant %s (address sets: %s)", set, tn->name,
                       names);
    }
    if (p->family == 0)
        return 0;
    if ((p->family != 4 && p->family != 6) ||
        p->plen > (p->family == 4 ? 32 : 128))
        return sg_fail(e, VF_KIND_ACL, a, field, "is not an IPv4 or IPv6 prefix");
    if (vf_prefix_host_bits(p))
        return sg_fail(e, VF_KIND_ACL, a, field, "%s has host bits set",
                       vf_prefix_str(p, b));
    if ((proto == 1 && p->family == 6) || (proto == 58 && p->family == 4))
        return sg_fail(e, VF_KIND_ACL, a, field, "%s is IPv%u, but match.proto "
                       "%s is IPv%u only", vf_prefix_str(p, b), p->family,
                       proto_name(proto), proto == 1 ? 4 : 6);
    return 0;
}

static int check_acl(struct vf_model_tenant *tn, size_t a, struct vf_sg_err *e)
{
    struct vf_model_acl *acl = &tn->acls[a];
    int rc;

    acl->pgroup_idx = -1;
    if (acl->port_group[0]) {
        char names[160];
        if (acl->port[0])
            return sg_fail(e, VF_KIND_ACL, a, "port_group", "is given with "
                           "field 'port' (an ACL applies to one port, a "
                           "port group or a whole switch)");
        acl->pgroup_idx = vf_sg_find_pgroup(tn, acl->port_group);
        names_of(tn->pgroups, tn->n_pgroups, sizeof(tn->pgroups[0]), names,
                 sizeof(names));
        if (acl->pgroup_idx < 0)
            return sg_fail(e, VF_KIND_ACL, a, "port_group", "\"%s\" is not a port "
                           "group of tenant %s (port groups: %s)",
                           acl->port_group, tn->name, names);
    } else if (acl->switch_idx < 0) {
        return sg_fail(e, VF_KIND_ACL, a, "switch", "is missing (an ACL needs a "
                       "switch, or a port_group)");
    }
    rc = check_side(tn, a, e, "match.src_ip", acl->src_set,
                    &acl->src_set_idx, &acl->src, acl->proto);
    if (rc == 0)
        rc = check_side(tn, a, e, "match.dst_ip", acl->dst_set,
                        &acl->dst_set_idx, &acl->dst, acl->proto);
    if (rc == 0 && acl->src.family && acl->dst.family && !acl->src_set[0] &&
        !acl->dst_set[0] && acl->src.family != acl->dst.family)
        rc = sg_fail(e, VF_KIND_ACL, a, "match.dst_ip", "is IPv%u and "
                     "match.src_ip is IPv%u: the rule could match nothing",
                     acl->dst.family, acl->src.family);
    return rc;
}

int vf_sg_validate_tenant(struct vf_model_tenant *tn, struct vf_sg_err *e)
{
    int rc = check_pgroups(tn, e);
    if (rc == 0)
        rc = check_asets(tn, e);
    for (size_t a = 0; rc == 0 && a < tn->n_acls; a++)
        rc = check_acl(tn, a, e);
    return rc;
}
