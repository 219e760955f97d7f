/* validate_unique.c - what must be unique across the model, found by
 * sorting (O(n log n)), so a model with many thousands of ports validates
 * in milliseconds: names (per kind, vf_kinds.h), chassis underlay
 * endpoints, VNIs, the MACs and IPs on one switch, and the backend objects
 * ports attach to (one tap per logical port on a chassis). Each reports
 * the later of two equal entries, naming the earlier.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/validate_int.h"

#define VNI_MAX 16777215u

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

/* Namespaces of names: one per kind with a label, kinds that share one
 * (router ports and ports) under the first; then the chassis' underlay
 * endpoints. */
#define NS_UNDERLAY VF_KIND__COUNT

static int name_space(enum vf_kind k)
{
    enum vf_kind ns = vf_kind(k)->name_space;
    return ns == VF_KIND_NONE ? (int)k : (int)ns;
}

/* "port and router port names are unique across the fabric" */
static void ns_rule(int ns, char *buf, size_t len)
{
    unsigned n = 0;

    buf[0] = '\0';
    for (int k = 0; k < VF_KIND__COUNT; k++)
        if (vf_kind(k)->label && name_space(k) == ns)
            vf_app(buf, len, "%s%s", n++ ? " and " : "", vf_kind(k)->noun);
    vf_app(buf, len, " names are unique%s",
           vf_kind(ns)->parent == VF_KIND_NONE ? "" : " across the fabric");
}

static int count_one(const struct vf_kind_ref *r, void *arg)
{
    (void)r;
    ++*(size_t *)arg;
    return 0;
}

/* Entries of the model (every kind) plus one per chassis for its
 * underlay endpoint: what a key array needs at most. */
static size_t count_entries(const struct vf_model *m)
{
    size_t n = m->n_chassis;

    vf_kind_walk_all(m, count_one, &n);
    return n;
}

static struct ent ent_of(const struct vf_kind_ref *r)
{
    struct ent e = { r->kind, { 0 } };

    for (unsigned d = 0; d < r->depth; d++)
        e.idx[d] = r->idx[d];
    return e;
}

struct names {
    struct mv *v;
    struct key_ent *ke;
    size_t n;
};

static int add_name(const struct vf_kind_ref *r, void *arg)
{
    struct names *nm = arg;
    const char *name = vf_kind_label(r->kind, r->obj[r->depth - 1]);
    struct ent e = ent_of(r);
    int rc;

    if (!name)
        return 0;
    rc = check_name(nm->v, e, name, VF_NAME_MAX);
    if (rc)
        return rc;
    nm->ke[nm->n] = (struct key_ent){ .ns = name_space(r->kind), .s = name,
                                      .seq = nm->n, .e = e };
    nm->n++;
    if (r->kind == VF_KIND_CHASSIS) {
        const struct vf_model_chassis *ch = r->obj[0];
        nm->ke[nm->n] = (struct key_ent){
            .ns = NS_UNDERLAY, .seq = nm->n, .e = e,
            .k = (uint64_t)ch->underlay_ip << 16 | vf_model_chassis_port(ch) };
        nm->n++;
    }
    return 0;
}

/* Names of every kind, and the chassis underlay endpoints; empty and
 * malformed names are reported here too, in model order. */
int check_unique_names(struct mv *v)
{
    struct vf_model *m = v->m;
    struct names nm = { v, NULL, 0 };
    size_t first = 0;
    long dup;
    int rc;

    nm.ke = calloc(count_entries(m) + 1, sizeof(*nm.ke));
    if (!nm.ke)
        return -ENOMEM;
    rc = vf_kind_walk_all(m, add_name, &nm);
    dup = rc ? -1 : key_find_dup(nm.ke, nm.n, &first);
    if (dup >= 0) {
        char where[512], ip[INET_ADDRSTRLEN], rule[160];
        const struct key_ent *d = &nm.ke[dup];

        ent_path(m, nm.ke[first].e, where, sizeof(where));
        if (d->ns == NS_UNDERLAY) {
            const struct vf_model_chassis *ch = &m->chassis[d->e.idx[0]];
            rc = mv_fail(v, d->e, "underlay_ip",
                         "%s port %u is already the underlay endpoint of %s "
                         "(two chassis on one address need different "
                         "'port's)", ip_str(ch->underlay_ip, ip),
                         (unsigned)(d->k & 0xffff), where);
        } else {
            ns_rule(d->ns, rule, sizeof(rule));
            rc = mv_fail(v, d->e, "name", "\"%s\" is already used by %s (%s)",
                         d->s, where, rule);
        }
    }
    free(nm.ke);
    return rc;
}

int check_unique_vnis(struct mv *v)
{
    struct vf_model *m = v->m;
    struct key_ent *ke;
    size_t n = 0, first = 0;
    long dup;
    int rc = 0;

    ke = calloc(count_entries(m) + 1, sizeof(*ke));
    if (!ke)
        return -ENOMEM;
    for (size_t t = 0; t < m->n_tenants; t++) {
        for (size_t s = 0; s < m->tenants[t].n_switches; s++) {
            const struct vf_model_switch *ls = &m->tenants[t].switches[s];
            struct ent e = ent2(VF_KIND_SWITCH, t, s);

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
int check_switch_addrs(struct mv *v, size_t t, size_t s)
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
        struct ent e = ent3(VF_KIND_PORT, t, s, p);
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
            struct ent e = ent3(VF_KIND_RPORT, t, r, p);
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
        bool rport = d->e.kind == VF_KIND_RPORT;
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
                vf_app(txt, sizeof(txt), " (the link-local address of this "
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

/* Two ports of one chassis naming the same backend object would share it
 * (a second open of a multiqueue tap joins it as more queues, so the
 * kernel splits one VM's frames between the two ports, even of two
 * tenants), so the attach rules (attach.c) say which attach field names an
 * object that is unique per chassis. Runs after check_port has resolved
 * every port's chassis. */
int check_backends(struct mv *v)
{
    struct vf_model *m = v->m;
    size_t n = 0, first = 0;
    struct key_ent *ke;
    long dup;
    int rc = 0;

    ke = calloc(count_entries(m) + 1, sizeof(*ke));
    if (!ke)
        return -ENOMEM;
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            for (size_t p = 0; p < tn->switches[s].n_ports; p++) {
                const struct vf_model_port *lp = &tn->switches[s].ports[p];
                const struct vf_attach_rule *ar = vf_attach_rule(
                    lp->attach.type);

                if (!ar || !ar->unique)
                    continue;
                ke[n] = (struct key_ent){
                    .ns = (int)lp->attach.type, .k = (uint64_t)lp->chassis_idx,
                    .s = (const char *)&lp->attach + ar->off,
                    .seq = n, .e = ent3(VF_KIND_PORT, t, s, p) };
                n++;
            }
        }
    }
    dup = key_find_dup(ke, n, &first);
    if (dup >= 0) {
        const struct vf_attach_rule *ar = vf_attach_rule(
            (enum vf_attach_type)ke[dup].ns);
        char where[512];

        ent_path(m, ke[first].e, where, sizeof(where));
        rc = mv_fail(v, ke[dup].e, ar->field, "%s %s on chassis %s already "
                     "backs %s (one %s backs one logical port)", ar->unique,
                     ke[dup].s, m->chassis[ke[dup].k].name, where,
                     ar->unique);
    }
    free(ke);
    return rc;
}
