/* edit_del.c - `del KIND`: the object the spec names goes, and what hangs
 * on it is refused or, with cascade, goes too (vf_model_edit.h lists what
 * hangs on what). Routes and ACLs have no names: a route is named by its
 * router and prefix (and next hop), an ACL by its switch and content, or
 * either by index. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/edit_int.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/control/vf_parse_util.h"

/* A prefix or address as a number (host order) and a length. */
static bool parse_cidr(const char *s, uint32_t *ip, unsigned *plen)
{
    uint8_t l;

    if (!vf_parse_cidr(s, false, ip, &l))
        return false;
    *ip = ntohl(*ip);
    *plen = l;
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

/* What an ACL is looked for by (NULL: anything): its switch, its port,
 * its port group, an address set its match names ("$set"). */
struct acl_filter {
    const char *sw, *port, *group, *set;
};

/* ACLs of a tenant that the filter selects (none: all). */
static int acls_matching(struct ed *e, json_t *tenant, struct acl_filter f,
                         struct deps *d)
{
    json_t *acls = json_object_get(tenant, "acls"), *a;
    size_t n = json_array_size(acls), i;
    bool *gone = calloc(n + 1, sizeof(bool));
    char b[256] = "", ref[VF_NAME_MAX + 2];
    struct names nm = { b, sizeof(b), 0 };

    if (!gone)
        return -ENOMEM;
    snprintf(ref, sizeof(ref), "$%s", f.set ? f.set : "");
    json_array_foreach(acls, i, a) {
        json_t *m = json_object_get(a, "match");
        char what[128];
        if (f.sw && !str_is(a, "switch", f.sw))
            continue;
        if (f.port && !str_is(a, "port", f.port))
            continue;
        if (f.group && !str_is(a, "port_group", f.group))
            continue;
        if (f.set && !str_is(m, "src_ip", ref) && !str_is(m, "dst_ip", ref))
            continue;
        gone[i] = true;
        snprintf(what, sizeof(what), "acls[%zu] (%s %s priority %lld)", i,
                 str_of(a, "switch") ? str_of(a, "switch")
                                     : str_of(a, "port_group"),
                 str_of(a, "direction"),
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

/* Port groups of a tenant listing port; on cascade the port leaves them
 * (the groups stay). */
static int groups_with_port(struct ed *e, json_t *tenant, const char *port,
                            struct deps *d)
{
    json_t *g, *p;
    size_t i, j;
    char b[256] = "";
    struct names nm = { b, sizeof(b), 0 };

    json_array_foreach(json_object_get(tenant, "port_groups"), i, g) {
        json_t *ports = json_object_get(g, "ports");
        for (j = json_array_size(ports); j-- > 0;) {
            p = json_array_get(ports, j);
            if (!json_is_string(p) || strcmp(json_string_value(p), port))
                continue;
            names_add(&nm, str_of(g, "name"));
            if (e->cascade)
                json_array_remove(ports, j);
        }
    }
    deps_add(d, "membership in port groups", &nm);
    return 0;
}

/* port-group / address-set: the ACLs that use it. */
static int del_sg(struct ed *e, enum vf_kind k, const char *name)
{
    struct hit h;
    struct deps d = { "", 0 };
    int rc;

    if ((rc = ed_need(e, "name", k, name, &h)) != 0)
        return rc;
    rc = acls_matching(e, h.tenant, (struct acl_filter){
                           .group = k == VF_KIND_PGROUP ? name : NULL,
                           .set = k == VF_KIND_ASET ? name : NULL }, &d);
    if (rc)
        return rc;
    if (d.n && !e->cascade)
        return refuse_deps(e, name, &d);
    json_array_remove(h.list, h.idx);
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
    int rc;

    if ((rc = ed_need(e, "name", VF_KIND_CHASSIS, name, &h)) != 0)
        return rc;
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

    if ((rc = ed_need(e, "name", VF_KIND_TENANT, name, &h)) != 0)
        return rc;
    list_names(json_object_get(h.obj, "switches"), &sws);
    list_names(json_object_get(h.obj, "routers"), &rts);
    deps_add(&d, "switches", &sws);
    deps_add(&d, "routers", &rts);
    if ((rc = acls_matching(e, h.obj, (struct acl_filter){ 0 }, &d)) != 0)
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

    if ((rc = ed_need(e, "name", VF_KIND_SWITCH, name, &h)) != 0)
        return rc;
    list_names(json_object_get(h.obj, "ports"), &ports);
    deps_add(&d, "ports", &ports);
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(h.obj, "ports"), i, p)
        if ((rc = groups_with_port(e, h.tenant, str_of(p, "name"), &d)) != 0)
            return rc;
    if ((rc = rports_on_switch(e, h.tenant, name, &d)) != 0 ||
        (rc = acls_matching(e, h.tenant, (struct acl_filter){ .sw = name },
                            &d)) != 0)
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

    if ((rc = ed_need(e, "name", VF_KIND_PORT, name, &h)) != 0)
        return rc;
    if ((rc = acls_matching(e, h.tenant, (struct acl_filter){ .port = name },
                            &d)) != 0 ||
        (rc = groups_with_port(e, h.tenant, name, &d)) != 0)
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

    if ((rc = ed_need(e, "name", VF_KIND_ROUTER, name, &h)) != 0)
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

    if ((rc = ed_need(e, "name", VF_KIND_RPORT, name, &h)) != 0)
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
        (rc = ed_need(e, "router", VF_KIND_ROUTER, router, &h)) != 0 ||
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

/* An ACL in the loader's normal form: the given fields (defaults for the
 * missing required ones) loaded inside a throwaway one-switch model, so
 * "10.0.0.5" and "10.0.0.5/32", "22" and "22-22" compare equal. */
/* The port group and address sets the spec names, empty, in the
 * throwaway model of acl_normal (so the names resolve). */
static int acl_normal_refs(json_t *doc, json_t *spec)
{
    json_t *tn = json_array_get(json_object_get(doc, "tenants"), 0);
    json_t *match = json_object_get(spec, "match");
    json_t *sets = json_array(), *groups = json_array();
    const char *keys[] = { "src_ip", "dst_ip" };

    if (!tn || !sets || !groups ||
        json_object_set_new(tn, "address_sets", sets) ||
        json_object_set_new(tn, "port_groups", groups))
        return -ENOMEM;
    for (size_t i = 0; i < 2; i++) {
        const char *v = str_of(match, keys[i]);
        if (v && v[0] == '$' && (i == 0 || !str_is(match, "src_ip", v)))
            json_array_append_new(sets, json_pack("{s:s, s:[]}", "name", v + 1,
                                                  "addresses"));
    }
    if (str_of(spec, "port_group"))
        json_array_append_new(groups, json_pack("{s:s, s:[]}", "name",
                                                str_of(spec, "port_group"),
                                                "ports"));
    return 0;
}

static int acl_normal(struct ed *e, json_t *spec, json_t **out)
{
    static const char *const acl_keys[] = { "switch", "port", "direction",
                                            "priority", "action", "match",
                                            "port_group" };
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
    if (acl_normal_refs(doc, spec)) {
        rc = -ENOMEM;
        goto out;
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
                                        "priority", "action", "match",
                                        "port_group" };

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
                                        "match", "port_group", NULL };
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
        if ((rc = ed_need(e, "tenant", VF_KIND_TENANT, tenant, &h)) != 0)
            return rc;
    } else if (sw) {
        if ((rc = ed_need(e, "switch", VF_KIND_SWITCH, sw, &h)) != 0)
            return rc;
    } else {
        return ed_fail(e, -EINVAL, "spec: missing field 'switch' (the ACL's "
                       "switch, with its priority and match; or give "
                       "'tenant' and 'index')");
    }
    acls = json_object_get(h.tenant, "acls");
    if (has_idx == 1 && (!sw || !json_object_get(spec, "priority")))
        return ed_fail(e, -EINVAL, "spec: missing field '%s' (an ACL is "
                       "named by switch and priority, with direction, "
                       "action, port and match to tell apart; or by "
                       "'index')", sw ? "priority" : "switch");
    if (has_idx == 0 && idx >= json_array_size(acls))
        return ed_fail(e, -ENOENT, "field 'index': tenant %s has %zu ACLs; "
                       "there is no acls[%zu]", str_of(h.tenant, "name"),
                       json_array_size(acls), idx);
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

int ed_del(struct ed *e, enum vf_kind k, json_t *spec)
{
    static const char *const name_only[] = { "name", NULL };
    const char *name;
    int rc;

    if (k == VF_KIND_ROUTE)
        return del_route(e, spec);
    if (k == VF_KIND_ACL)
        return del_acl(e, spec);
    if (k == VF_KIND_NAT)
        return ed_del_nat(e, spec);
    if ((rc = spec_keys(e, spec, name_only)) != 0 ||
        (rc = spec_str(e, spec, "name", true, "the name of the object to "
                       "delete", &name)) != 0)
        return rc;
    switch (k) {
    case VF_KIND_CHASSIS: return del_chassis(e, name);
    case VF_KIND_TENANT: return del_tenant(e, name);
    case VF_KIND_SWITCH: return del_switch(e, name);
    case VF_KIND_PORT: return del_port(e, name);
    case VF_KIND_ROUTER: return del_router(e, name);
    case VF_KIND_RPORT: return del_rport(e, name);
    case VF_KIND_PGROUP:
    case VF_KIND_ASET: return del_sg(e, k, name);
    case VF_KIND_LB: return ed_del_lb(e, name);
    default: return -EINVAL;
    }
}

