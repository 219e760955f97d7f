/* model_edit.c - add or delete one object by editing the model's JSON form.
 *
 * The current model is turned into JSON (the YAML schema's shape), the edit
 * is made on that tree, and the tree is loaded back with the desired-state
 * loader, so an edited model is checked by the same code and refused with
 * the same messages as a file. This file only checks what the loader cannot
 * see: that parents and deleted objects exist, and what hangs on a deleted
 * object. Every loop walks the model once per edit, so an edit costs a few
 * passes over the model; edits are rare next to packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_model_edit.h"
#include "mgmt/control/vf_model_json.h"

#define ED_NAMES_SHOWN 8        /* names listed in one error before "..." */

const char *const vf_model_kinds[] = {
    "chassis", "tenant", "switch", "port", "router", "router-port", "route",
    "acl", NULL,
};

enum ed_kind { K_CHASSIS, K_TENANT, K_SWITCH, K_PORT, K_ROUTER, K_RPORT,
               K_ROUTE, K_ACL };

struct ed {
    const char *verb;           /* "add" | "del" */
    const char *kind;
    json_t *root;               /* the model as JSON, edited in place */
    bool cascade;
    char *err;
    size_t errlen;
};

/* Where an object sits: its tenant, its parent (the tenant again for
 * switches, routers and ACLs), the list that holds it and its index. */
struct hit {
    json_t *tenant, *parent, *list, *obj;
    size_t idx;
};

static int ed_fail(struct ed *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ed_fail(struct ed *e, int rc, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(e->err, e->errlen, "%s %s: %s", e->verb, e->kind, msg);
    return rc;
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool str_is(json_t *o, const char *key, const char *want)
{
    const char *s = str_of(o, key);
    return s && strcmp(s, want) == 0;
}

/* The list at key, created empty if the object has none. */
static json_t *list_of(json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);

    if (!json_is_array(a)) {
        a = json_array();
        if (!a || json_object_set_new(obj, key, a) != 0)
            return NULL;
    }
    return a;
}

/* Finds the object called name under every tenant: tenants[].lvl1[] when
 * lvl2 is NULL, else tenants[].lvl1[].lvl2[]. */
static bool find_obj(json_t *root, const char *lvl1, const char *lvl2,
                     const char *name, struct hit *h)
{
    json_t *tenants = json_object_get(root, "tenants"), *tn, *p, *o;
    size_t t, i, j;

    json_array_foreach(tenants, t, tn) {
        json_t *l1 = json_object_get(tn, lvl1);
        json_array_foreach(l1, i, p) {
            if (!lvl2) {
                if (str_is(p, "name", name)) {
                    *h = (struct hit){ tn, tn, l1, p, i };
                    return true;
                }
                continue;
            }
            json_t *l2 = json_object_get(p, lvl2);
            json_array_foreach(l2, j, o)
                if (str_is(o, "name", name)) {
                    *h = (struct hit){ tn, p, l2, o, j };
                    return true;
                }
        }
    }
    return false;
}

static bool find_top(json_t *root, const char *list, const char *name,
                     struct hit *h)
{
    json_t *l = json_object_get(root, list), *o;
    size_t i;

    json_array_foreach(l, i, o)
        if (str_is(o, "name", name)) {
            *h = (struct hit){ NULL, root, l, o, i };
            return true;
        }
    return false;
}

/* A bounded "a, b, c, ..." list appended to buf. */
struct names {
    char *buf;
    size_t len;
    unsigned n;
};

static void names_add(struct names *nm, const char *s)
{
    size_t used = strlen(nm->buf);

    if (nm->n < ED_NAMES_SHOWN)
        snprintf(nm->buf + used, nm->len - used, "%s%s", nm->n ? ", " : "",
                 s ? s : "?");
    else if (nm->n == ED_NAMES_SHOWN)
        snprintf(nm->buf + used, nm->len - used, ", ...");
    nm->n++;
}

/* Every name of a kind, for "is not a switch (switches: ...)". */
static void all_names(json_t *root, const char *lvl1, const char *lvl2,
                      char *buf, size_t len)
{
    struct names nm = { buf, len, 0 };
    json_t *tn, *p, *o;
    size_t t, i, j;

    buf[0] = '\0';
    json_array_foreach(json_object_get(root, "tenants"), t, tn)
        json_array_foreach(json_object_get(tn, lvl1), i, p) {
            if (!lvl2) {
                names_add(&nm, str_of(p, "name"));
                continue;
            }
            json_array_foreach(json_object_get(p, lvl2), j, o)
                names_add(&nm, str_of(o, "name"));
        }
    if (!nm.n)
        snprintf(buf, len, "none");
}

static void top_names(json_t *root, const char *list, char *buf, size_t len)
{
    struct names nm = { buf, len, 0 };
    json_t *o;
    size_t i;

    buf[0] = '\0';
    json_array_foreach(json_object_get(root, list), i, o)
        names_add(&nm, str_of(o, "name"));
    if (!nm.n)
        snprintf(buf, len, "none");
}

/* ---- the spec ---- */

/* Refuses keys outside allowed (NULL-terminated). */
static int spec_keys(struct ed *e, json_t *spec, const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach(spec, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char list[256] = "";
            struct names nm = { list, sizeof(list), 0 };
            for (const char *const *a = allowed; *a; a++)
                names_add(&nm, *a);
            return ed_fail(e, -EINVAL, "spec: unknown field '%s' (allowed: "
                           "%s)", key, list);
        }
    }
    return 0;
}

/* A string field of the spec: 0, 1 when absent and optional, or -EINVAL. */
static int spec_str(struct ed *e, json_t *spec, const char *key, bool req,
                    const char *what, const char **out)
{
    json_t *v = json_object_get(spec, key);

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (req)
            return ed_fail(e, -EINVAL, "spec: missing field '%s' (%s)", key,
                           what);
        return 1;
    }
    if (!json_is_string(v))
        return ed_fail(e, -EINVAL, "spec: field '%s': expected a string "
                       "(%s)", key, what);
    *out = json_string_value(v);
    return 0;
}

/* An index field: 0, 1 when absent, or -EINVAL. */
static int spec_index(struct ed *e, json_t *spec, size_t *out)
{
    json_t *v = json_object_get(spec, "index");

    if (!v || json_is_null(v))
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return ed_fail(e, -EINVAL, "spec: field 'index': expected a number "
                       "0.. (the position in the list, as `list` shows)");
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* ---- lookups that fail with a message ---- */

static int need_tenant(struct ed *e, const char *field, const char *name,
                       struct hit *h)
{
    char names[512];

    if (find_top(e->root, "tenants", name, h))
        return 0;
    top_names(e->root, "tenants", names, sizeof(names));
    return ed_fail(e, -ENOENT, "field '%s': \"%s\" is not a tenant "
                   "(tenants: %s)", field, name, names);
}

static int need_obj(struct ed *e, const char *field, const char *what,
                    const char *lvl1, const char *lvl2, const char *name,
                    struct hit *h)
{
    char names[512];

    if (find_obj(e->root, lvl1, lvl2, name, h))
        return 0;
    all_names(e->root, lvl1, lvl2, names, sizeof(names));
    /* Plural for the list: "switches", "ports", "router ports". */
    return ed_fail(e, -ENOENT, "field '%s': \"%s\" is not a %s (%s%s: %s)",
                   field, name, what, what,
                   what[strlen(what) - 1] == 'h' ? "es" : "s", names);
}

/* The optional "tenant" cross-check of kinds under a switch or router. */
static int check_tenant(struct ed *e, json_t *spec, const struct hit *h,
                        const char *parent_what, const char *parent)
{
    const char *t;
    int rc = spec_str(e, spec, "tenant", false, "the tenant, as a check", &t);

    if (rc < 0)
        return rc;
    if (rc == 0 && !str_is(h->tenant, "name", t))
        return ed_fail(e, -EINVAL, "field 'tenant': \"%s\" is not the tenant "
                       "of %s %s (it is %s's)", t, parent_what, parent,
                       str_of(h->tenant, "name"));
    return 0;
}

/* ---- add ---- */

static int append(struct ed *e, json_t *list, json_t *obj)
{
    json_t *copy = json_deep_copy(obj);

    if (!list || !copy || json_array_append_new(list, copy) != 0) {
        snprintf(e->err, e->errlen, "%s %s: out of memory", e->verb, e->kind);
        return -ENOMEM;
    }
    return 0;
}

static int do_add(struct ed *e, enum ed_kind k, json_t *spec)
{
    static const char *const keys[][4] = {
        [K_CHASSIS] = { "chassis", NULL },
        [K_TENANT] = { "tenant", NULL },
        [K_SWITCH] = { "tenant", "switch", NULL },
        [K_PORT] = { "switch", "port", "tenant", NULL },
        [K_ROUTER] = { "tenant", "router", NULL },
        [K_RPORT] = { "router", "router-port", "tenant", NULL },
        [K_ROUTE] = { "router", "route", "tenant", NULL },
        [K_ACL] = { "tenant", "acl", NULL },
    };
    json_t *obj = json_object_get(spec, e->kind);
    const char *parent;
    struct hit h;
    int rc = spec_keys(e, spec, keys[k]);

    if (rc)
        return rc;
    if (!obj)
        return ed_fail(e, -EINVAL, "spec: missing field '%s' (the %s to add, "
                       "a mapping with its fields)", e->kind, e->kind);
    if (!json_is_object(obj))
        return ed_fail(e, -EINVAL, "spec: field '%s': expected a mapping "
                       "with the %s's fields", e->kind, e->kind);
    switch (k) {
    case K_CHASSIS:
        return append(e, list_of(e->root, "chassis"), obj);
    case K_TENANT:
        return append(e, list_of(e->root, "tenants"), obj);
    case K_SWITCH:
    case K_ROUTER:
        if ((rc = spec_str(e, spec, "tenant", true, "the tenant it belongs "
                           "to", &parent)) != 0 ||
            (rc = need_tenant(e, "tenant", parent, &h)) != 0)
            return rc;
        return append(e, list_of(h.obj, k == K_SWITCH ? "switches" :
                                 "routers"), obj);
    case K_PORT:
        if ((rc = spec_str(e, spec, "switch", true, "the switch the port "
                           "goes on", &parent)) != 0 ||
            (rc = need_obj(e, "switch", "switch", "switches", NULL, parent,
                           &h)) != 0 ||
            (rc = check_tenant(e, spec, &h, "switch", parent)) != 0)
            return rc;
        return append(e, list_of(h.obj, "ports"), obj);
    case K_RPORT:
    case K_ROUTE:
        if ((rc = spec_str(e, spec, "router", true, "the router it belongs "
                           "to", &parent)) != 0 ||
            (rc = need_obj(e, "router", "router", "routers", NULL, parent,
                           &h)) != 0 ||
            (rc = check_tenant(e, spec, &h, "router", parent)) != 0)
            return rc;
        return append(e, list_of(h.obj, k == K_RPORT ? "ports" : "routes"),
                      obj);
    case K_ACL:
        rc = spec_str(e, spec, "tenant", false, "the tenant it belongs to",
                      &parent);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if ((rc = need_tenant(e, "tenant", parent, &h)) != 0)
                return rc;
            return append(e, list_of(h.obj, "acls"), obj);
        }
        /* No tenant: the ACL's switch says which (switch names are unique
         * across the fabric). */
        if (!json_is_string(json_object_get(obj, "switch")))
            return ed_fail(e, -EINVAL, "spec: missing field 'tenant' (the "
                           "tenant it belongs to; or give acl.switch)");
        if ((rc = need_obj(e, "acl.switch", "switch", "switches", NULL,
                           str_of(obj, "switch"), &h)) != 0)
            return rc;
        return append(e, list_of(h.tenant, "acls"), obj);
    }
    return -EINVAL;
}

/* ---- del ---- */

static bool parse_cidr(const char *s, uint32_t *ip, unsigned *plen)
{
    char buf[INET_ADDRSTRLEN + 4], *slash, *end;
    struct in_addr a;
    unsigned long l = 32;

    if (!s || strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        l = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || l > 32)
            return false;
    }
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    *ip = ntohl(a.s_addr);
    *plen = (unsigned)l;
    return true;
}

/* Whether a route's next hop lies in a router port's subnet. */
static bool route_via(json_t *route, json_t *rport)
{
    uint32_t nh, ip, mask;
    unsigned nl, plen;

    if (!parse_cidr(str_of(route, "nexthop"), &nh, &nl) ||
        !parse_cidr(str_of(rport, "cidr"), &ip, &plen))
        return false;
    mask = plen ? ~0u << (32 - plen) : 0;
    return (nh & mask) == (ip & mask);
}

/* Removes list items for which keep[] is false, last first so indexes hold. */
static void remove_marked(json_t *list, const bool *gone, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (gone[i])
            json_array_remove(list, i);
}

/* Dependents of a deleted object: described for the refusal, removed on
 * cascade. */
struct deps {
    char text[640];
    unsigned n;
};

static void deps_add(struct deps *d, const char *what, struct names *nm)
{
    size_t used = strlen(d->text);

    if (!nm->n)
        return;
    snprintf(d->text + used, sizeof(d->text) - used, "%s%s %s",
             d->n ? "; " : "", what, nm->buf);
    d->n += nm->n;
}

static int refuse_deps(struct ed *e, const char *name, struct deps *d)
{
    return ed_fail(e, -EINVAL, "%s '%s' still has %s (delete them first, or "
                   "use cascade)", e->kind, name, d->text);
}

/* Router ports of a tenant attached to switch sw, and the routes that go
 * through them; removes them when cascading. */
static int rports_on_switch(struct ed *e, json_t *tenant, const char *sw,
                            struct deps *d)
{
    json_t *rt, *rp, *ro;
    size_t r, i, j;
    char b1[256] = "", b2[256] = "";
    struct names rps = { b1, sizeof(b1), 0 }, routes = { b2, sizeof(b2), 0 };

    json_array_foreach(json_object_get(tenant, "routers"), r, rt) {
        json_t *ports = json_object_get(rt, "ports");
        json_t *rlist = json_object_get(rt, "routes");
        size_t np = json_array_size(ports), nr = json_array_size(rlist);
        bool *gone_p = calloc(np + 1, sizeof(bool));
        bool *gone_r = calloc(nr + 1, sizeof(bool));

        if (!gone_p || !gone_r) {
            free(gone_p);
            free(gone_r);
            return -ENOMEM;
        }
        json_array_foreach(ports, i, rp) {
            if (sw && !str_is(rp, "switch", sw))
                continue;
            gone_p[i] = true;
            names_add(&rps, str_of(rp, "name"));
            json_array_foreach(rlist, j, ro)
                if (!gone_r[j] && route_via(ro, rp)) {
                    char b[96];
                    gone_r[j] = true;
                    snprintf(b, sizeof(b), "%s via %s", str_of(ro, "prefix"),
                             str_of(ro, "nexthop"));
                    names_add(&routes, b);
                }
        }
        if (e->cascade) {
            remove_marked(rlist, gone_r, nr);
            remove_marked(ports, gone_p, np);
        }
        free(gone_p);
        free(gone_r);
    }
    deps_add(d, "router ports", &rps);
    deps_add(d, "routes", &routes);
    return 0;
}

/* ACLs of a tenant on switch sw (sw NULL: all) or naming port. */
static int acls_matching(struct ed *e, json_t *tenant, const char *sw,
                         const char *port, struct deps *d)
{
    json_t *acls = json_object_get(tenant, "acls"), *a;
    size_t n = json_array_size(acls), i;
    bool *gone = calloc(n + 1, sizeof(bool));
    char b[256] = "";
    struct names nm = { b, sizeof(b), 0 };

    if (!gone)
        return -ENOMEM;
    json_array_foreach(acls, i, a) {
        char what[128];
        if (sw && !str_is(a, "switch", sw))
            continue;
        if (port && !str_is(a, "port", port))
            continue;
        gone[i] = true;
        snprintf(what, sizeof(what), "acls[%zu] (%s %s priority %lld)", i,
                 str_of(a, "switch"), str_of(a, "direction"),
                 (long long)json_integer_value(json_object_get(a,
                                                               "priority")));
        names_add(&nm, what);
    }
    if (e->cascade)
        remove_marked(acls, gone, n);
    free(gone);
    deps_add(d, "ACLs", &nm);
    return 0;
}

static void list_names(json_t *list, struct names *nm)
{
    json_t *o;
    size_t i;

    json_array_foreach(list, i, o)
        names_add(nm, str_of(o, "name"));
}

static int del_chassis(struct ed *e, const char *name)
{
    json_t *tn, *sw, *p;
    size_t t, s, i;
    struct hit h;
    char names[512] = "";
    struct names nm = { names, sizeof(names), 0 };

    if (!find_top(e->root, "chassis", name, &h)) {
        top_names(e->root, "chassis", names, sizeof(names));
        return ed_fail(e, -ENOENT, "field 'name': \"%s\" is not a chassis "
                       "(chassis: %s)", name, names);
    }
    json_array_foreach(json_object_get(e->root, "tenants"), t, tn)
        json_array_foreach(json_object_get(tn, "switches"), s, sw)
            json_array_foreach(json_object_get(sw, "ports"), i, p)
                if (str_is(p, "chassis", name))
                    names_add(&nm, str_of(p, "name"));
    /* Cascading would delete tenants' machines; never do it implicitly. */
    if (nm.n)
        return ed_fail(e, -EINVAL, "chassis '%s' still hosts ports %s "
                       "(move or delete them first)", name, names);
    if (str_is(json_object_get(e->root, "local"), "chassis", name))
        return ed_fail(e, -EINVAL, "chassis '%s' is this host's own (field "
                       "'local.chassis')", name);
    json_array_remove(h.list, h.idx);
    return 0;
}

static int del_tenant(struct ed *e, const char *name)
{
    struct hit h;
    struct deps d = { "", 0 };
    char b1[256] = "", b2[256] = "";
    struct names sws = { b1, sizeof(b1), 0 }, rts = { b2, sizeof(b2), 0 };
    int rc;

    if ((rc = need_tenant(e, "name", name, &h)) != 0)
        return rc;
    list_names(json_object_get(h.obj, "switches"), &sws);
    list_names(json_object_get(h.obj, "routers"), &rts);
    deps_add(&d, "switches", &sws);
    deps_add(&d, "routers", &rts);
    if ((rc = acls_matching(e, h.obj, NULL, NULL, &d)) != 0)
        return rc;
    if (d.n && !e->cascade)
        return refuse_deps(e, name, &d);
    json_array_remove(h.list, h.idx);
    return 0;
}

static int del_switch(struct ed *e, const char *name)
{
    struct hit h;
    struct deps d = { "", 0 };
    char b[256] = "";
    struct names ports = { b, sizeof(b), 0 };
    int rc;

    if ((rc = need_obj(e, "name", "switch", "switches", NULL, name, &h)) != 0)
        return rc;
    list_names(json_object_get(h.obj, "ports"), &ports);
    deps_add(&d, "ports", &ports);
    if ((rc = rports_on_switch(e, h.tenant, name, &d)) != 0 ||
        (rc = acls_matching(e, h.tenant, name, NULL, &d)) != 0)
        return rc;
    if (d.n && !e->cascade)
        return refuse_deps(e, name, &d);
    json_array_remove(h.list, h.idx);
    return 0;
}

static int del_port(struct ed *e, const char *name)
{
    struct hit h;
    struct deps d = { "", 0 };
    int rc;

    if ((rc = need_obj(e, "name", "port", "switches", "ports", name, &h)) != 0)
        return rc;
    if ((rc = acls_matching(e, h.tenant, NULL, name, &d)) != 0)
        return rc;
    if (d.n && !e->cascade)
        return refuse_deps(e, name, &d);
    json_array_remove(h.list, h.idx);
    return 0;
}

static int del_router(struct ed *e, const char *name)
{
    struct hit h;
    struct deps d = { "", 0 };
    char b1[256] = "", b2[256] = "";
    struct names ports = { b1, sizeof(b1), 0 }, routes = { b2, sizeof(b2), 0 };
    json_t *ro;
    size_t i;
    int rc;

    if ((rc = need_obj(e, "name", "router", "routers", NULL, name, &h)) != 0)
        return rc;
    list_names(json_object_get(h.obj, "ports"), &ports);
    json_array_foreach(json_object_get(h.obj, "routes"), i, ro) {
        char w[96];
        snprintf(w, sizeof(w), "%s via %s", str_of(ro, "prefix"),
                 str_of(ro, "nexthop"));
        names_add(&routes, w);
    }
    deps_add(&d, "ports", &ports);
    deps_add(&d, "routes", &routes);
    if (d.n && !e->cascade)
        return refuse_deps(e, name, &d);
    json_array_remove(h.list, h.idx);
    return 0;
}

static int del_rport(struct ed *e, const char *name)
{
    struct hit h;
    struct deps d = { "", 0 };
    json_t *routes, *ro;
    size_t n, i;
    bool *gone;
    char b[256] = "";
    struct names nm = { b, sizeof(b), 0 };
    int rc;

    if ((rc = need_obj(e, "name", "router port", "routers", "ports", name,
                       &h)) != 0)
        return rc;
    routes = json_object_get(h.parent, "routes");
    n = json_array_size(routes);
    gone = calloc(n + 1, sizeof(bool));
    if (!gone)
        return -ENOMEM;
    json_array_foreach(routes, i, ro)
        if (route_via(ro, h.obj)) {
            char w[96];
            gone[i] = true;
            snprintf(w, sizeof(w), "%s via %s", str_of(ro, "prefix"),
                     str_of(ro, "nexthop"));
            names_add(&nm, w);
        }
    deps_add(&d, "routes", &nm);
    if (d.n && !e->cascade) {
        free(gone);
        return refuse_deps(e, name, &d);
    }
    remove_marked(routes, gone, n);
    free(gone);
    json_array_remove(h.list, h.idx);
    return 0;
}

static int del_route(struct ed *e, json_t *spec)
{
    static const char *const keys[] = { "router", "prefix", "nexthop",
                                        "index", "tenant", NULL };
    const char *router, *prefix, *nexthop;
    struct hit h;
    json_t *routes, *ro;
    size_t idx, i, found = SIZE_MAX, n_found = 0;
    int rc, has_idx;

    if ((rc = spec_keys(e, spec, keys)) != 0 ||
        (rc = spec_str(e, spec, "router", true, "the router the route "
                       "belongs to", &router)) != 0 ||
        (rc = need_obj(e, "router", "router", "routers", NULL, router,
                       &h)) != 0 ||
        (rc = check_tenant(e, spec, &h, "router", router)) != 0)
        return rc;
    routes = json_object_get(h.obj, "routes");
    if ((has_idx = spec_index(e, spec, &idx)) < 0 ||
        (rc = spec_str(e, spec, "prefix", false, "the route's prefix, e.g. "
                       "10.9.0.0/16", &prefix)) < 0 ||
        spec_str(e, spec, "nexthop", false, "the route's next hop",
                 &nexthop) < 0)
        return has_idx < 0 ? has_idx : -EINVAL;
    if (has_idx == 1 && !prefix)
        return ed_fail(e, -EINVAL, "spec: missing field 'prefix' (the "
                       "route's prefix, e.g. 10.9.0.0/16; or give 'index')");
    if (has_idx == 0 && idx >= json_array_size(routes))
        return ed_fail(e, -ENOENT, "field 'index': router %s has %zu "
                       "routes; there is no routes[%zu]", router,
                       json_array_size(routes), idx);
    json_array_foreach(routes, i, ro) {
        uint32_t a, b;
        unsigned la, lb;
        if (has_idx == 0 && i != idx)
            continue;
        if (prefix) {
            if (!parse_cidr(prefix, &a, &la))
                return ed_fail(e, -EINVAL, "field 'prefix': \"%s\" is not "
                               "an IPv4 prefix (want e.g. 10.9.0.0/16)",
                               prefix);
            if (!parse_cidr(str_of(ro, "prefix"), &b, &lb) || a != b ||
                la != lb)
                continue;
        }
        if (nexthop) {
            if (!parse_cidr(nexthop, &a, &la) || la != 32)
                return ed_fail(e, -EINVAL, "field 'nexthop': \"%s\" is not "
                               "an IPv4 address", nexthop);
            if (!parse_cidr(str_of(ro, "nexthop"), &b, &lb) || a != b)
                continue;
        }
        found = i;
        n_found++;
    }
    if (!n_found)
        return ed_fail(e, -ENOENT, "router %s has no route %s%s%s", router,
                       prefix ? prefix : "", nexthop ? " via " : "",
                       nexthop ? nexthop : "");
    if (n_found > 1)
        return ed_fail(e, -EINVAL, "%zu routes of router %s match %s (give "
                       "'nexthop' or 'index')", n_found, router, prefix);
    json_array_remove(routes, found);
    return 0;
}

/* The message of a load that failed, without "<string>:LINE: ": the lines
 * are those of a JSON text the user never saw. */
static const char *strip_where(const char *msg)
{
    const char *p = msg;

    if (strncmp(p, "<string>:", 9) != 0)
        return msg;
    p += 9;
    while ((*p >= '0' && *p <= '9') || *p == ':')
        p++;
    return *p == ' ' ? p + 1 : p;
}

/* An ACL in the loader's normal form: the given fields (defaults for the
 * missing required ones) loaded inside a throwaway one-switch model, so
 * "10.0.0.5" and "10.0.0.5/32", "22" and "22-22" compare equal. */
static int acl_normal(struct ed *e, json_t *spec, json_t **out)
{
    static const char *const acl_keys[] = { "switch", "port", "direction",
                                            "priority", "action", "match" };
    json_t *acl = json_object(), *doc = NULL, *mj = NULL;
    struct vf_model m;
    char msg[1024], *txt = NULL;
    const char *port = str_of(spec, "port");
    int rc = -ENOMEM;

    *out = NULL;
    if (!acl)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(acl_keys) / sizeof(acl_keys[0]); i++) {
        json_t *v = json_object_get(spec, acl_keys[i]);
        if (v)
            json_object_set(acl, acl_keys[i], v);
    }
    if (!json_object_get(acl, "direction"))
        json_object_set_new(acl, "direction", json_string("from-port"));
    if (!json_object_get(acl, "action"))
        json_object_set_new(acl, "action", json_string("allow"));
    if (!json_object_get(acl, "priority"))
        json_object_set_new(acl, "priority", json_integer(0));
    doc = json_pack("{s:[{s:s, s:s}], s:[{s:s, s:[{s:O, s:i, s:[]}], s:[o]}]}",
                    "chassis", "name", "c", "underlay_ip", "192.0.2.1",
                    "tenants", "name", "t", "switches", "name",
                    json_object_get(spec, "switch"), "vni", 1, "ports",
                    "acls", acl);
    acl = NULL;                 /* doc owns it now (or it was freed) */
    if (!doc)
        goto out;
    if (port) {
        json_t *ports = json_object_get(json_array_get(json_object_get(
            json_array_get(json_object_get(doc, "tenants"), 0), "switches"),
            0), "ports");
        json_array_append_new(ports, json_pack("{s:s, s:s, s:s}", "name",
                                               port, "mac",
                                               "02:00:00:00:00:01",
                                               "chassis", "c"));
    }
    txt = json_dumps(doc, 0);
    if (!txt)
        goto out;
    rc = vf_config_load_string(txt, strlen(txt), &m, msg, sizeof(msg));
    if (rc == -ENOMEM)
        goto out;
    if (rc) {
        const char *s = strip_where(msg), *at = strstr(s, "acls[0]: ");
        rc = ed_fail(e, -EINVAL, "%s", at ? at + 9 : s);
        goto out;
    }
    mj = vf_model_to_json(&m);
    vf_model_free(&m);
    if (!mj) {
        rc = -ENOMEM;
        goto out;
    }
    *out = json_incref(json_array_get(json_object_get(json_array_get(
        json_object_get(mj, "tenants"), 0), "acls"), 0));
    rc = *out ? 0 : -ENOMEM;
out:
    json_decref(mj);
    free(txt);
    json_decref(doc);
    json_decref(acl);
    return rc;
}

/* Whether the ACL has every field the spec gives, in normal form. */
static bool acl_matches(json_t *acl, json_t *spec, json_t *norm)
{
    static const char *const keys[] = { "switch", "port", "direction",
                                        "priority", "action", "match" };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(spec, keys[i]) &&
            !json_equal(json_object_get(acl, keys[i]),
                        json_object_get(norm, keys[i])))
            return false;
    return true;
}

static int del_acl(struct ed *e, json_t *spec)
{
    static const char *const keys[] = { "tenant", "index", "switch", "port",
                                        "direction", "priority", "action",
                                        "match", NULL };
    const char *tenant, *sw;
    json_t *acls, *a, *norm = NULL;
    struct hit h;
    size_t idx, i, found = SIZE_MAX, n_found = 0;
    int rc, has_idx;

    if ((rc = spec_keys(e, spec, keys)) != 0)
        return rc;
    if ((has_idx = spec_index(e, spec, &idx)) < 0 ||
        (rc = spec_str(e, spec, "tenant", false, "the tenant the ACL "
                       "belongs to", &tenant)) < 0 ||
        (rc = spec_str(e, spec, "switch", false, "the ACL's switch",
                       &sw)) < 0)
        return has_idx < 0 ? has_idx : rc;
    if (tenant) {
        if ((rc = need_tenant(e, "tenant", tenant, &h)) != 0)
            return rc;
    } else if (sw) {
        if ((rc = need_obj(e, "switch", "switch", "switches", NULL, sw,
                           &h)) != 0)
            return rc;
    } else {
        return ed_fail(e, -EINVAL, "spec: missing field 'switch' (the ACL's "
                       "switch, with its priority and match; or give "
                       "'tenant' and 'index')");
    }
    acls = json_object_get(h.tenant ? h.tenant : h.obj, "acls");
    if (has_idx == 1 && (!sw || !json_object_get(spec, "priority")))
        return ed_fail(e, -EINVAL, "spec: missing field '%s' (an ACL is "
                       "named by switch and priority, with direction, "
                       "action, port and match to tell apart; or by "
                       "'index')", sw ? "priority" : "switch");
    if (has_idx == 0 && idx >= json_array_size(acls))
        return ed_fail(e, -ENOENT, "field 'index': tenant %s has %zu ACLs; "
                       "there is no acls[%zu]", str_of(h.tenant ? h.tenant :
                       h.obj, "name"), json_array_size(acls), idx);
    if (sw && (rc = acl_normal(e, spec, &norm)) != 0)
        return rc;
    json_array_foreach(acls, i, a) {
        if (has_idx == 0 && i != idx)
            continue;
        if (norm && !acl_matches(a, spec, norm))
            continue;
        found = i;
        n_found++;
    }
    json_decref(norm);
    if (!n_found)
        return ed_fail(e, -ENOENT, "no ACL matches the spec (see `list "
                       "acl`)");
    if (n_found > 1)
        return ed_fail(e, -EINVAL, "%zu ACLs match the spec (give "
                       "direction, action, port or match to tell them apart, "
                       "or 'index')", n_found);
    json_array_remove(acls, found);
    return 0;
}

static int do_del(struct ed *e, enum ed_kind k, json_t *spec)
{
    static const char *const name_only[] = { "name", NULL };
    const char *name;
    int rc;

    if (k == K_ROUTE)
        return del_route(e, spec);
    if (k == K_ACL)
        return del_acl(e, spec);
    if ((rc = spec_keys(e, spec, name_only)) != 0 ||
        (rc = spec_str(e, spec, "name", true, "the name of the object to "
                       "delete", &name)) != 0)
        return rc;
    switch (k) {
    case K_CHASSIS: return del_chassis(e, name);
    case K_TENANT: return del_tenant(e, name);
    case K_SWITCH: return del_switch(e, name);
    case K_PORT: return del_port(e, name);
    case K_ROUTER: return del_router(e, name);
    case K_RPORT: return del_rport(e, name);
    default: return -EINVAL;
    }
}

static int kind_of(const char *kind)
{
    for (int i = 0; kind && vf_model_kinds[i]; i++)
        if (strcmp(vf_model_kinds[i], kind) == 0)
            return i;
    return -1;
}

static void kinds_text(char *buf, size_t len)
{
    struct names nm = { buf, len, 0 };

    buf[0] = '\0';
    for (int i = 0; vf_model_kinds[i]; i++)
        names_add(&nm, vf_model_kinds[i]);
}

int vf_model_edit(const struct vf_model *cur, enum vf_edit_op op,
                  const char *kind, json_t *spec, bool cascade,
                  struct vf_model *out, char *err, size_t errlen)
{
    struct ed e = { .verb = op == VF_EDIT_DEL ? "del" : "add",
                    .kind = kind ? kind : "?", .cascade = cascade,
                    .err = err, .errlen = errlen };
    char none[1], msg[1024], kinds[128], *txt = NULL;
    int k = kind_of(kind), rc;

    if (!err || !errlen)
        e.err = none, e.errlen = sizeof(none);
    e.err[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (k < 0) {
        kinds_text(kinds, sizeof(kinds));
        return ed_fail(&e, -EINVAL, "unknown kind (kinds: %s)", kinds);
    }
    if (op != VF_EDIT_ADD && op != VF_EDIT_DEL)
        return ed_fail(&e, -EINVAL, "unknown operation %d", (int)op);
    if (!json_is_object(spec))
        return ed_fail(&e, -EINVAL, "the spec is not a JSON object");
    e.root = vf_model_to_json(cur);
    if (!e.root)
        return ed_fail(&e, -ENOMEM, "out of memory");
    rc = op == VF_EDIT_ADD ? do_add(&e, (enum ed_kind)k, spec)
                           : do_del(&e, (enum ed_kind)k, spec);
    if (rc == -ENOMEM)
        ed_fail(&e, rc, "out of memory");
    if (rc)
        goto out;
    /* JSON with ", " and ": " separators is YAML the loader reads. */
    txt = json_dumps(e.root, 0);
    if (!txt) {
        rc = ed_fail(&e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = vf_config_load_string(txt, strlen(txt), out, msg, sizeof(msg));
    if (rc)
        ed_fail(&e, rc == -ENOMEM ? rc : -EINVAL, "%s", strip_where(msg));
    if (rc && rc != -ENOMEM)
        rc = -EINVAL;
out:
    free(txt);
    json_decref(e.root);
    return rc;
}

/* ---- list ---- */

/* A shallow copy of obj without its child lists. */
static json_t *bare(json_t *obj, const char *const *drop)
{
    json_t *c = json_copy(obj);

    for (; c && *drop; drop++)
        json_object_del(c, *drop);
    return c;
}

static void add_item(json_t *out, json_t *item)
{
    if (item)
        json_array_append_new(out, item);
}

json_t *vf_model_list(const struct vf_model *m, const char *kind)
{
    static const char *const tenant_kids[] = { "switches", "routers", "acls",
                                               NULL };
    static const char *const switch_kids[] = { "ports", NULL };
    static const char *const router_kids[] = { "ports", "routes", NULL };
    int k = kind_of(kind);
    json_t *root, *out, *tn, *sw, *rt, *o;
    size_t t, s, i;

    if (k < 0)
        return NULL;
    root = vf_model_to_json(m);
    out = json_array();
    if (!root || !out) {
        json_decref(root);
        json_decref(out);
        return NULL;
    }
    if (k == K_CHASSIS)
        json_array_foreach(json_object_get(root, "chassis"), i, o)
            add_item(out, json_pack("{s:O}", "chassis", o));
    /* The JSON lists are in model order, so index t, s, i also index m. */
    json_array_foreach(json_object_get(root, "tenants"), t, tn) {
        const struct vf_model_tenant *mt = &m->tenants[t];
        const char *tname = mt->name;
        if (k == K_TENANT)
            add_item(out, json_pack("{s:o, s:I, s:I, s:I}", "tenant",
                                    bare(tn, tenant_kids), "switches",
                                    (json_int_t)mt->n_switches, "routers",
                                    (json_int_t)mt->n_routers, "acls",
                                    (json_int_t)mt->n_acls));
        json_array_foreach(json_object_get(tn, "switches"), s, sw) {
            const struct vf_model_switch *ms = &mt->switches[s];
            if (k == K_SWITCH)
                add_item(out, json_pack("{s:s, s:o, s:I, s:I}", "tenant",
                                        tname, "switch",
                                        bare(sw, switch_kids), "ports",
                                        (json_int_t)ms->n_ports, "id",
                                        (json_int_t)ms->id));
            if (k != K_PORT)
                continue;
            json_array_foreach(json_object_get(sw, "ports"), i, o)
                add_item(out, json_pack("{s:s, s:s, s:O, s:I}", "tenant",
                                        tname, "switch", ms->name, "port", o,
                                        "id",
                                        (json_int_t)ms->ports[i].id));
        }
        json_array_foreach(json_object_get(tn, "routers"), s, rt) {
            const struct vf_model_router *mr = &mt->routers[s];
            if (k == K_ROUTER)
                add_item(out, json_pack("{s:s, s:o, s:I, s:I, s:I}",
                                        "tenant", tname, "router",
                                        bare(rt, router_kids), "ports",
                                        (json_int_t)mr->n_ports, "routes",
                                        (json_int_t)mr->n_routes, "id",
                                        (json_int_t)mr->id));
            if (k == K_RPORT)
                json_array_foreach(json_object_get(rt, "ports"), i, o)
                    add_item(out, json_pack("{s:s, s:s, s:O, s:I}", "tenant",
                                            tname, "router", mr->name,
                                            "router-port", o, "id",
                                            (json_int_t)mr->ports[i].id));
            if (k == K_ROUTE)
                json_array_foreach(json_object_get(rt, "routes"), i, o)
                    add_item(out, json_pack("{s:s, s:s, s:O, s:I}", "tenant",
                                            tname, "router", mr->name,
                                            "route", o, "index",
                                            (json_int_t)i));
        }
        if (k == K_ACL)
            json_array_foreach(json_object_get(tn, "acls"), i, o)
                add_item(out, json_pack("{s:s, s:O, s:I}", "tenant", tname,
                                        "acl", o, "index", (json_int_t)i));
    }
    json_decref(root);
    return out;
}
