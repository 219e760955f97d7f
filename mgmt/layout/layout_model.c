/* layout_model.c - a model as store keys (vf_layout_from_model) and what
 * the store cannot hold (vf_layout_check_model).
 *
 * Values are cut out of vf_model_to_json(), the JSON `vfabctl --json show`
 * prints, so the store and show never disagree on a field's spelling.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mgmt/layout/layout_int.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/control/vf_secgroup.h"

uint64_t layout_fnv1a(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void layout_acl_id(const char *value, size_t len, char id[17])
{
    snprintf(id, 17, "%016llx", (unsigned long long)layout_fnv1a(value, len));
}

char *layout_dump(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

/* ---- what the store cannot hold ---- */

/* One side of two ACLs' matches: a set may hold anything (so it may
 * overlap), no address is any of both families, and prefixes of two
 * families never meet. */
static bool prefixes_overlap(const char *set_a, const struct vf_model_prefix *a,
                             const char *set_b, const struct vf_model_prefix *b)
{
    if (set_a[0] || set_b[0] || !a->family || !b->family)
        return true;
    if (a->family != b->family)
        return false;
    unsigned plen = a->plen < b->plen ? a->plen : b->plen;
    for (unsigned i = 0; i < 16 && plen; i++) {
        unsigned bits = plen >= 8 ? 8 : plen;
        uint8_t m = (uint8_t)(0xff << (8 - bits));
        if ((a->addr[i] ^ b->addr[i]) & m)
            return false;
        plen -= bits;
    }
    return true;
}

/* As the compiler reads them: a range left 0-0 by the loader is any port. */
static bool ranges_overlap(uint16_t alo, uint16_t ahi, uint16_t blo, uint16_t bhi)
{
    if (alo == 0 && ahi == 0)
        ahi = 0xffff;
    if (blo == 0 && bhi == 0)
        bhi = 0xffff;
    return alo <= bhi && blo <= ahi;
}

/* Does acl apply to port `name` of switch si? */
static bool applies_to(const struct vf_model_tenant *tn, const struct vf_model_acl *acl,
                       uint32_t si, const char *name)
{
    const struct vf_model_pgroup *g = vf_sg_acl_pgroup(tn, acl);
    if (acl->sw[0] && (acl->switch_idx < 0 || (uint32_t)acl->switch_idx != si))
        return false;
    if (acl->port[0] && strcmp(acl->port, name))
        return false;
    if (!g)
        return acl->sw[0] != '\0';
    for (size_t i = 0; g->refs && i < g->n_ports; i++)
        if (g->refs[i].sw == si && !strcmp(g->ports[i], name))
            return true;
    return false;
}

/* Could a and b apply to one port? Without port groups: the same switch
 * (acls_overlap compares named ports), whether or not it has ports; with
 * one: a port of the group that the other applies to as well. */
static bool scopes_overlap(const struct vf_model_tenant *tn, const struct vf_model_acl *a,
                           const struct vf_model_acl *b)
{
    const struct vf_model_pgroup *ga = vf_sg_acl_pgroup(tn, a), *gb = vf_sg_acl_pgroup(tn, b);
    if (!ga && !gb)
        return !strcmp(a->sw, b->sw);
    if (!ga) {
        const struct vf_model_acl *t = a;
        a = b;
        b = t;
        ga = gb;
    }
    for (size_t i = 0; ga->refs && i < ga->n_ports; i++)
        if (applies_to(tn, a, ga->refs[i].sw, ga->ports[i]) &&
            applies_to(tn, b, ga->refs[i].sw, ga->ports[i]))
            return true;
    return false;
}

/* Could one packet match both? */
static bool acls_overlap(const struct vf_model_acl *a, const struct vf_model_acl *b)
{
    if (a->port[0] && b->port[0] && strcmp(a->port, b->port))
        return false;
    if (a->proto && b->proto && a->proto != b->proto)
        return false;
    return prefixes_overlap(a->src_set, &a->src, b->src_set, &b->src) &&
           prefixes_overlap(a->dst_set, &a->dst, b->dst_set, &b->dst) &&
           ranges_overlap(a->sport_lo, a->sport_hi, b->sport_lo, b->sport_hi) &&
           ranges_overlap(a->dport_lo, a->dport_hi, b->dport_lo, b->dport_hi);
}

struct acl_ref {
    const struct vf_model_acl *a;
    size_t idx;
};

static int acl_ref_cmp(const void *x, const void *y)
{
    const struct vf_model_acl *a = ((const struct acl_ref *)x)->a;
    const struct vf_model_acl *b = ((const struct acl_ref *)y)->a;
    if (a->dir != b->dir)
        return a->dir < b->dir ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    int c = strcmp(a->sw, b->sw);
    if (c)
        return c;
    size_t i = ((const struct acl_ref *)x)->idx, j = ((const struct acl_ref *)y)->idx;
    return i < j ? -1 : i > j;
}

static bool tie(const struct vf_model_tenant *tn, const struct acl_ref *x,
                const struct acl_ref *y, size_t *first, size_t *second)
{
    if (x->a->action == y->a->action || !acls_overlap(x->a, y->a) ||
        !scopes_overlap(tn, x->a, y->a))
        return false;
    *first = x->idx < y->idx ? x->idx : y->idx;
    *second = x->idx < y->idx ? y->idx : x->idx;
    return true;
}

/* Only ACLs of one direction and priority can tie; they are next to each
 * other once sorted, by switch within that run ("" first: port groups'
 * ACLs without one). Pairs of one switch are compared, and each ACL of a
 * port group with every other of the run (work: the run's ACLs times its
 * port groups' ones, not all pairs of a priority many switches use). */
int layout_acl_tie(const struct vf_model_tenant *tn, size_t *first, size_t *second)
{
    struct acl_ref *r = tn->n_acls ? calloc(tn->n_acls, sizeof(*r)) : NULL;
    int rc = 0;

    if (tn->n_acls && !r)
        return -ENOMEM;
    for (size_t i = 0; i < tn->n_acls; i++)
        r[i] = (struct acl_ref){&tn->acls[i], i};
    if (tn->n_acls > 1)
        qsort(r, tn->n_acls, sizeof(*r), acl_ref_cmp);
    for (size_t s = 0; s < tn->n_acls && !rc;) {
        size_t e = s + 1;
        while (e < tn->n_acls && r[e].a->dir == r[s].a->dir &&
               r[e].a->priority == r[s].a->priority)
            e++;
        for (size_t i = s; i < e && !rc; i++) {
            if (vf_sg_acl_pgroup(tn, r[i].a)) {
                /* With every other (two groups' pair once). */
                for (size_t j = s; j < e && !rc; j++)
                    if (j != i && (j > i || !vf_sg_acl_pgroup(tn, r[j].a)) &&
                        tie(tn, &r[i], &r[j], first, second))
                        rc = -EINVAL;
                continue;
            }
            /* With the rest of its switch (sorted: next to it). */
            for (size_t j = i + 1; j < e && !rc && !strcmp(r[i].a->sw, r[j].a->sw); j++)
                if (!vf_sg_acl_pgroup(tn, r[j].a) && tie(tn, &r[i], &r[j], first, second))
                    rc = -EINVAL;
        }
        s = e;
    }
    free(r);
    return rc;
}

void layout_acl_tie_msg(const struct vf_model_tenant *tn, const char *a, const char *b,
                        const struct vf_model_acl *acl, char *err, size_t errlen)
{
    snprintf(err, errlen, "tenant %s: %s and %s (%s %s, %s, priority %d) can match "
             "the same packet and one allows what the other drops; the store keeps "
             "ACLs without an order, so which wins would be arbitrary: give them "
             "different priorities", tn->name, a, b, acl->sw[0] ? "switch" : "port group",
             acl->sw[0] ? acl->sw : acl->port_group, vf_acl_dir_name(acl->dir),
             (int)acl->priority);
}

struct route_ref {
    uint32_t prefix;
    uint8_t plen;
    size_t idx;
};

static int route_ref_cmp(const void *x, const void *y)
{
    const struct route_ref *a = x, *b = y;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    if (a->plen != b->plen)
        return a->plen < b->plen ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int check_routes(const struct vf_model_router *rt, char *err, size_t errlen)
{
    struct route_ref *r = rt->n_routes ? calloc(rt->n_routes, sizeof(*r)) : NULL;
    int rc = 0;

    if (rt->n_routes && !r)
        return -ENOMEM;
    for (size_t i = 0; i < rt->n_routes; i++)
        r[i] = (struct route_ref){ntohl(rt->routes[i].prefix), rt->routes[i].plen, i};
    if (rt->n_routes > 1)
        qsort(r, rt->n_routes, sizeof(*r), route_ref_cmp);
    for (size_t i = 1; i < rt->n_routes && !rc; i++) {
        if (r[i].prefix != r[i - 1].prefix || r[i].plen != r[i - 1].plen)
            continue;
        char b[INET_ADDRSTRLEN];
        uint32_t be = htonl(r[i].prefix);
        inet_ntop(AF_INET, &be, b, sizeof(b));
        snprintf(err, errlen, "router %s: routes[%zu] and routes[%zu] have the same "
                 "prefix %s/%u; the store keeps one route per prefix: drop one",
                 rt->name, r[i - 1].idx, r[i].idx, b, r[i].plen);
        rc = -EINVAL;
    }
    free(r);
    return rc;
}

int vf_layout_check_model(const struct vf_model *m, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t t = 0; t < m->n_tenants && !rc; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        size_t i, j;
        if ((rc = layout_acl_tie(tn, &i, &j)) == -EINVAL) {
            char a[32], b[32];
            snprintf(a, sizeof(a), "acls[%zu]", i);
            snprintf(b, sizeof(b), "acls[%zu]", j);
            layout_acl_tie_msg(tn, a, b, &tn->acls[i], err, errlen);
        }
        for (size_t r = 0; r < tn->n_routers && !rc; r++)
            rc = check_routes(&tn->routers[r], err, errlen);
    }
    return rc ? rc : layout_check_gateways(m, err, errlen);
}

/* ---- model -> keys ---- */

struct emit {
    struct vf_layout_kvs *out;
    char *err;
    size_t errlen;
    int rc;
};

/* Adds kind/parent/name = o (o is consumed). */
static void put(struct emit *e, enum vf_layout_kind kind, const char *parent,
                const char *name, json_t *o)
{
    char key[VF_LAYOUT_KEY_MAX], id[17];
    char *v = NULL;

    if (e->rc)
        goto out;
    if (!o || !(v = layout_dump(o))) {
        e->rc = -ENOMEM;
        goto out;
    }
    if (kind == VF_LK_ACL || kind == VF_LK_PGACL) {
        layout_acl_id(v, strlen(v), id);
        name = id;
    }
    if (vf_layout_key_make(kind, parent, name, key, sizeof(key))) {
        snprintf(e->err, e->errlen, "%s %s: the name is too long for a store key",
                 vf_layout_kind_name(kind), name);
        e->rc = -ENAMETOOLONG;
        goto out;
    }
    e->rc = vf_layout_kvs_add(e->out, key, v, strlen(v), 0);
out:
    free(v);
    json_decref(o);
}

/* o without the listed child keys, plus parent_key = parent (new ref). */
static json_t *bare(json_t *o, const char *const *drop, const char *parent_key,
                    const char *parent)
{
    json_t *c = json_copy(o);
    if (!c)
        return NULL;
    for (; drop && *drop; drop++)
        json_object_del(c, *drop);
    if (parent_key)
        json_object_set_new(c, parent_key, json_string(parent));
    return c;
}

/* Two identical ACLs of one switch are one key: refuse them by name. */
static int check_acl_dups(const struct vf_layout_kvs *s, const struct vf_model *m,
                          char *err, size_t errlen)
{
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->kv[i].key, s->kv[i - 1].key))
            continue;
        struct vf_layout_key k;
        if (vf_layout_key_parse(s->kv[i].key, &k, NULL, 0) ||
            (k.kind != VF_LK_ACL && k.kind != VF_LK_PGACL))
            continue;
        bool same = s->kv[i].value_len == s->kv[i - 1].value_len &&
                    !memcmp(s->kv[i].value, s->kv[i - 1].value, s->kv[i].value_len);
        bool grp = k.kind == VF_LK_PGACL;
        const char *tname = "?";
        for (size_t t = 0; t < m->n_tenants; t++) {
            const struct vf_model_tenant *tn = &m->tenants[t];
            for (size_t w = 0; !grp && w < tn->n_switches; w++)
                if (!strcmp(tn->switches[w].name, k.parent))
                    tname = tn->name;
            if (grp && vf_sg_find_pgroup(tn, k.parent) >= 0)
                tname = tn->name;
        }
        snprintf(err, errlen, "tenant %s: two ACLs of %s %s %s (key %s); the store "
                 "keeps one key per ACL: %s", tname, grp ? "port group" : "switch",
                 k.parent, same ? "are identical" : "have one hash", s->kv[i].key,
                 same ? "drop one" : "change one's priority");
        return -EINVAL;
    }
    return 0;
}

int vf_layout_from_model(const struct vf_model *m, struct vf_layout_kvs *out,
                         char *err, size_t errlen)
{
    static const char *const sw_kids[] = {"ports", NULL};
    static const char *const rt_kids[] = {"ports", "routes", NULL};
    struct emit e = {.out = out, .err = err, .errlen = errlen};
    json_t *root = NULL, *o, *tn;
    size_t i, t;

    memset(out, 0, sizeof(*out));
    if ((e.rc = vf_layout_check_model(m, err, errlen)) != 0)
        return e.rc;
    if (!(root = vf_model_to_json(m)))
        return -ENOMEM;
    json_array_foreach(json_object_get(root, "chassis"), i, o)
        put(&e, VF_LK_CHASSIS, NULL, json_string_value(json_object_get(o, "name")),
            json_incref(o));
    json_array_foreach(json_object_get(root, "tenants"), t, tn) {
        const char *tname = json_string_value(json_object_get(tn, "name"));
        json_t *sw, *rt, *p;
        size_t s, r, k;
        put(&e, VF_LK_TENANT, NULL, tname, json_pack("{s:s}", "name", tname));
        json_array_foreach(json_object_get(tn, "address_sets"), k, p)
            put(&e, VF_LK_ASET, NULL, json_string_value(json_object_get(p, "name")),
                bare(p, NULL, "tenant", tname));
        json_array_foreach(json_object_get(tn, "port_groups"), k, p)
            put(&e, VF_LK_PGROUP, NULL, json_string_value(json_object_get(p, "name")),
                bare(p, NULL, "tenant", tname));
        json_array_foreach(json_object_get(tn, "switches"), s, sw) {
            const char *sname = json_string_value(json_object_get(sw, "name"));
            put(&e, VF_LK_SWITCH, NULL, sname, bare(sw, sw_kids, "tenant", tname));
            json_array_foreach(json_object_get(sw, "ports"), k, p) {
                const char *ch = json_string_value(json_object_get(p, "chassis"));
                put(&e, VF_LK_PORT, sname, json_string_value(json_object_get(p, "name")),
                    bare(p, NULL, "switch", sname));
                put(&e, VF_LK_INDEX, ch, sname,
                    json_pack("{s:s, s:s}", "chassis", ch, "switch", sname));
            }
        }
        json_array_foreach(json_object_get(tn, "routers"), r, rt) {
            const char *rname = json_string_value(json_object_get(rt, "name"));
            put(&e, VF_LK_ROUTER, NULL, rname, bare(rt, rt_kids, "tenant", tname));
            json_array_foreach(json_object_get(rt, "ports"), k, p)
                put(&e, VF_LK_RPORT, NULL, json_string_value(json_object_get(p, "name")),
                    bare(p, NULL, "router", rname));
            json_array_foreach(json_object_get(rt, "routes"), k, p)
                put(&e, VF_LK_ROUTE, rname,
                    json_string_value(json_object_get(p, "prefix")),
                    bare(p, NULL, "router", rname));
        }
        json_array_foreach(json_object_get(tn, "acls"), k, p) {
            /* A port group's ACL without a switch lives under its group. */
            const char *sname = json_string_value(json_object_get(p, "switch"));
            if (sname)
                put(&e, VF_LK_ACL, sname, NULL, json_incref(p));
            else
                put(&e, VF_LK_PGACL, json_string_value(json_object_get(p, "port_group")),
                    NULL, json_incref(p));
        }
    }
    json_decref(root);
    if (!e.rc) {
        /* Sort without folding equal keys first, to find identical ACLs. */
        if (out->n > 1)
            qsort(out->kv, out->n, sizeof(*out->kv), layout_kv_cmp_key);
        e.rc = check_acl_dups(out, m, err, errlen);
    }
    if (e.rc) {
        vf_layout_kvs_free(out);
        return e.rc;
    }
    /* Index keys repeat once per port: sorting folds them. */
    vf_layout_kvs_sort(out);
    return 0;
}
