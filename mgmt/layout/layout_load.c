/* layout_load.c - store keys back to a model (vf_layout_to_model), and a
 * host's part of the fabric (vf_layout_subset).
 *
 * Every key and value is checked against the layout first (kind, names
 * that agree between key and value, parents that exist, ACL ids, the
 * index); then the objects are nested into one desired-state document in
 * key order and loaded by vf_config_load_string, the loader and validator
 * of vfabd -c FILE. The loader's error path ("tenants[0] (blue) switches[1]
 * (blue-db) ports[2] (vm3): field ...") is walked back to the element, and
 * so to the key that gave it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mgmt/layout/layout_int.h"

struct ent {
    struct vf_layout_key k;
    const struct vf_layout_kv *kv;
    json_t *v;                   /* the parsed value */
};

struct origin {
    json_t *elem;                /* an element of the assembled document */
    const char *key;             /* the key it came from */
};

struct ld {
    const char *prefix;          /* for messages */
    char *err;
    size_t errlen;
    struct ent *ents;
    size_t n;
    json_t *tenants, *switches, *routers,   /* name -> element of the doc */
           *groups;
    json_t *ports;               /* names of the ports loaded (-> true) */
    struct origin *orig;
    size_t n_orig, cap_orig;
};

static int ld_fail(struct ld *l, const struct ent *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ld_fail(struct ld *l, const struct ent *e, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(l->err, l->errlen, "key %s%s: %s", l->prefix, e->kv->key, msg);
    return -EINVAL;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Field f of e's value must be the string want. */
static int want_field(struct ld *l, const struct ent *e, const char *f, const char *want)
{
    const char *v = str(e->v, f);
    if (!v)
        return ld_fail(l, e, "field '%s' is missing or not a string", f);
    if (strcmp(v, want))
        return ld_fail(l, e, "field '%s': \"%.64s\" does not match the key (\"%s\")", f,
                       v, want);
    return 0;
}

/* Field f of e's value must name an object in map (of that kind). */
static json_t *want_parent(struct ld *l, const struct ent *e, const char *f, json_t *map,
                           int *rc)
{
    const char *v = str(e->v, f);
    json_t *p = v ? json_object_get(map, v) : NULL;
    if (!v)
        *rc = ld_fail(l, e, "field '%s' is missing or not a string", f);
    else if (!p)
        *rc = ld_fail(l, e, "field '%s': \"%.64s\" is not a %s in the store", f, v,
                      !strcmp(f, "router") ? "router" : !strcmp(f, "tenant") ? "tenant"
                      : !strcmp(f, "port_group") ? "port group" : "switch");
    return p;
}

static int remember(struct ld *l, json_t *elem, const char *key)
{
    if (l->n_orig == l->cap_orig) {
        size_t cap = l->cap_orig ? 2 * l->cap_orig : 64;
        struct origin *o = realloc(l->orig, cap * sizeof(*o));
        if (!o)
            return -ENOMEM;
        l->orig = o;
        l->cap_orig = cap;
    }
    l->orig[l->n_orig++] = (struct origin){elem, key};
    return 0;
}

/* Appends a copy of e's value without the fields in drop to list; the
 * element is remembered as e's. */
static json_t *append(struct ld *l, json_t *list, const struct ent *e,
                      const char *const *drop, int *rc)
{
    json_t *c = json_copy(e->v);
    if (!c || json_array_append_new(list, c) || remember(l, c, e->kv->key)) {
        *rc = -ENOMEM;
        return NULL;
    }
    for (; drop && *drop; drop++)
        json_object_del(c, *drop);
    return c;
}

static int parse_all(struct ld *l, const struct vf_layout_kvs *s)
{
    l->ents = s->n ? calloc(s->n, sizeof(*l->ents)) : NULL;
    if (s->n && !l->ents)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        struct ent *e = &l->ents[l->n];
        char why[512];
        json_error_t je;
        e->kv = &s->kv[i];
        if (vf_layout_key_parse(s->kv[i].key, &e->k, why, sizeof(why))) {
            snprintf(l->err, l->errlen, "key %s%s", l->prefix, why);
            return -EINVAL;
        }
        e->v = json_loadb(s->kv[i].value, s->kv[i].value_len, 0, &je);
        l->n++;
        if (!json_is_object(e->v))
            return ld_fail(l, e, "the value is not a JSON object (%s)",
                           e->v ? "other JSON" : je.text);
    }
    return 0;
}

/* Pass 1: the containers (tenants, switches, routers) as document
 * elements, and the names of every named kind checked against its key. */
static int containers(struct ld *l, json_t *doc)
{
    json_t *chassis = json_object_get(doc, "chassis"), *tl = json_object_get(doc, "tenants");
    int rc = 0;

    for (size_t i = 0; i < l->n && !rc; i++) {
        struct ent *e = &l->ents[i];
        switch (e->k.kind) {
        case VF_LK_CHASSIS:
        case VF_LK_TENANT:
        case VF_LK_SWITCH:
        case VF_LK_ROUTER:
        case VF_LK_RPORT:
        case VF_LK_PORT:
        case VF_LK_ASET:
        case VF_LK_PGROUP:
            rc = want_field(l, e, "name", e->k.name);
            break;
        default:
            break;
        }
        if (rc)
            break;
        json_t *c;
        if (e->k.kind == VF_LK_CHASSIS) {
            append(l, chassis, e, NULL, &rc);
        } else if (e->k.kind == VF_LK_TENANT) {
            c = append(l, tl, e, NULL, &rc);
            if (c) {
                json_object_set_new(c, "switches", json_array());
                json_object_set_new(c, "routers", json_array());
                json_object_set_new(c, "acls", json_array());
                json_object_set_new(c, "port_groups", json_array());
                json_object_set_new(c, "address_sets", json_array());
                json_object_set(l->tenants, e->k.name, c);
            }
        }
    }
    /* Switches, routers, sets and groups need their tenant, which sorts
     * after some of them; port groups' ACLs need their group, which sorts
     * after them ("port-group-acl/" < "port-group/"). */
    for (size_t i = 0; i < l->n && !rc; i++) {
        struct ent *e = &l->ents[i];
        static const char *const drop[] = {"tenant", NULL};
        enum vf_layout_kind kd = e->k.kind;
        if (kd != VF_LK_SWITCH && kd != VF_LK_ROUTER && kd != VF_LK_ASET &&
            kd != VF_LK_PGROUP)
            continue;
        json_t *tn = want_parent(l, e, "tenant", l->tenants, &rc), *c;
        if (!tn)
            break;
        bool sw = kd == VF_LK_SWITCH;
        c = append(l, json_object_get(tn, sw ? "switches" : kd == VF_LK_ROUTER ? "routers"
                                      : kd == VF_LK_ASET ? "address_sets" : "port_groups"),
                   e, drop, &rc);
        if (!c)
            break;
        if (kd == VF_LK_ASET)
            continue;
        if (kd == VF_LK_PGROUP) {
            json_object_set(l->groups, e->k.name, c);
            json_object_set_new(c, "tenant_", json_string(str(tn, "name")));
        } else if (sw) {
            json_object_set_new(c, "ports", json_array());
            json_object_set(l->switches, e->k.name, c);
            json_object_set_new(c, "tenant_", json_string(str(tn, "name")));
        } else {
            json_object_set_new(c, "ports", json_array());
            json_object_set_new(c, "routes", json_array());
            json_object_set(l->routers, e->k.name, c);
        }
    }
    return rc;
}

/* A part of the fabric: a group keeps the ports the part holds (the
 * others are on switches this host does not compile; the validator would
 * refuse their names). */
static int keep_loaded_ports(struct ld *l, json_t *ports)
{
    for (size_t i = 0; i < json_array_size(ports);) {
        const char *name = json_string_value(json_array_get(ports, i));
        if (name && !json_object_get(l->ports, name)) {
            if (json_array_remove(ports, i))
                return -ENOMEM;
        } else {
            i++;
        }
    }
    return 0;
}

/* Pass 2: everything that hangs on a switch, a router or a port group. */
static int children(struct ld *l, const struct vf_layout_kvs *s, unsigned flags)
{
    int rc = 0;
    for (size_t i = 0; i < l->n && !rc; i++) {
        struct ent *e = &l->ents[i];
        json_t *p;
        char key[VF_LAYOUT_KEY_MAX];
        switch (e->k.kind) {
        case VF_LK_PORT: {
            static const char *const drop[] = {"switch", NULL};
            if ((rc = want_field(l, e, "switch", e->k.parent)) ||
                !(p = want_parent(l, e, "switch", l->switches, &rc)))
                break;
            const char *ch = str(e->v, "chassis");
            if (!(flags & VF_LAYOUT_SUBSET) && ch &&
                (vf_layout_key_make(VF_LK_INDEX, ch, e->k.parent, key, sizeof(key)) ||
                 !vf_layout_kvs_find(s, key))) {
                rc = ld_fail(l, e, "its index key %schassis-switch/%s/%s is missing (the "
                             "store holds one per chassis and switch with a port there; "
                             "was it written by something other than vfabctl? apply "
                             "the fabric again to repair it)", l->prefix, ch, e->k.parent);
                break;
            }
            if (append(l, json_object_get(p, "ports"), e, drop, &rc))
                json_object_set_new(l->ports, e->k.name, json_true());
            break;
        }
        case VF_LK_RPORT: {
            static const char *const drop[] = {"router", NULL};
            if ((p = want_parent(l, e, "router", l->routers, &rc)))
                append(l, json_object_get(p, "ports"), e, drop, &rc);
            break;
        }
        case VF_LK_ROUTE: {
            static const char *const drop[] = {"router", NULL};
            if ((rc = want_field(l, e, "router", e->k.parent)) ||
                (rc = want_field(l, e, "prefix", e->k.name)))
                break;
            if ((p = want_parent(l, e, "router", l->routers, &rc)))
                append(l, json_object_get(p, "routes"), e, drop, &rc);
            break;
        }
        case VF_LK_ACL:
        case VF_LK_PGACL: {
            char id[17], *canon;
            bool grp = e->k.kind == VF_LK_PGACL;
            const char *f = grp ? "port_group" : "switch";
            if ((rc = want_field(l, e, f, e->k.parent)) ||
                !(p = want_parent(l, e, f, grp ? l->groups : l->switches, &rc)))
                break;
            if (grp && json_object_get(e->v, "switch")) {
                rc = ld_fail(l, e, "an ACL with a switch is stored under "
                             "%sacl/SWITCH/, not under its port group", l->prefix);
                break;
            }
            if (!(canon = layout_dump(e->v))) {
                rc = -ENOMEM;
                break;
            }
            layout_acl_id(canon, strlen(canon), id);
            free(canon);
            if (strcmp(id, e->k.name)) {
                rc = ld_fail(l, e, "the id should be %s (the hash of the value); was "
                             "it written by hand? apply the fabric again to repair it",
                             id);
                break;
            }
            json_t *tn = json_object_get(l->tenants, str(p, "tenant_"));
            append(l, json_object_get(tn, "acls"), e, NULL, &rc);
            break;
        }
        case VF_LK_INDEX:
            if (!(rc = want_field(l, e, "chassis", e->k.parent)))
                rc = want_field(l, e, "switch", e->k.name);
            break;
        default:
            break;
        }
    }
    /* The helper field that found an ACL's tenant goes before loading. */
    const char *k;
    json_t *sw;
    json_object_foreach(l->switches, k, sw)
        json_object_del(sw, "tenant_");
    json_object_foreach(l->groups, k, sw) {
        json_object_del(sw, "tenant_");
        if (!rc && (flags & VF_LAYOUT_SUBSET))
            rc = keep_loaded_ports(l, json_object_get(sw, "ports"));
    }
    return rc;
}

static const char *origin_key(const struct ld *l, json_t *elem)
{
    for (size_t i = 0; i < l->n_orig; i++)
        if (l->orig[i].elem == elem)
            return l->orig[i].key;
    return "?";
}

/* "tenants[0] (blue) switches[1] (blue-db): field ..." -> the key of that
 * element and the text after the path; NULL when it does not parse. */
static const char *key_of_path(const struct ld *l, json_t *doc, const char *msg,
                               const char **rest)
{
    const char *p = msg;
    json_t *cur = doc;
    while (cur) {
        const char *br = strchr(p, '[');
        if (!br || br == p)
            return NULL;
        char name[32];
        size_t n = (size_t)(br - p);
        if (n >= sizeof(name))
            return NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        char *end;
        unsigned long idx = strtoul(br + 1, &end, 10);
        if (*end != ']')
            return NULL;
        cur = json_array_get(json_object_get(cur, name), idx);
        p = end + 1;
        if (!strncmp(p, " (", 2)) {
            const char *cl = strchr(p, ')');
            if (!cl)
                return NULL;
            p = cl + 1;
        }
        if (!strncmp(p, ": ", 2) || !*p) {
            *rest = *p ? p + 2 : p;
            return cur ? origin_key(l, cur) : NULL;
        }
        if (*p != ' ')
            return NULL;
        p++;
    }
    return NULL;
}

/* The loader's message without "<string>:LINE: " (lines of a text no one
 * saw), with the path turned into the key it came from. */
static void loader_error(struct ld *l, json_t *doc, const char *msg)
{
    const char *p = msg, *rest = NULL, *key;
    if (!strncmp(p, "<string>:", 9)) {
        p += 9;
        while ((*p >= '0' && *p <= '9') || *p == ':')
            p++;
        if (*p == ' ')
            p++;
    }
    key = key_of_path(l, doc, p, &rest);
    if (key)
        snprintf(l->err, l->errlen, "key %s%s: %s", l->prefix, key, rest);
    else
        snprintf(l->err, l->errlen, "the store under %s: %s", l->prefix, p);
}

/* What vf_layout_check_model refuses, named by key. Route prefixes are
 * one per key already. */
static int store_only_checks(struct ld *l, json_t *doc, const struct vf_model *m)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        json_t *acls = json_object_get(json_array_get(json_object_get(doc, "tenants"), t),
                                       "acls");
        size_t i, j;
        int rc = layout_acl_tie(tn, &i, &j);
        if (rc == -EINVAL) {
            char a[VF_LAYOUT_KEY_MAX + 64], b[VF_LAYOUT_KEY_MAX + 64];
            snprintf(a, sizeof(a), "key %s%s", l->prefix,
                     origin_key(l, json_array_get(acls, i)));
            snprintf(b, sizeof(b), "key %s%s", l->prefix,
                     origin_key(l, json_array_get(acls, j)));
            layout_acl_tie_msg(tn, a, b, &tn->acls[i], l->err, l->errlen);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int vf_layout_to_model(const struct vf_layout_kvs *s, unsigned flags,
                       const char *key_prefix, struct vf_model *out, char *err,
                       size_t errlen)
{
    struct ld l = {.prefix = key_prefix ? key_prefix : "", .err = err, .errlen = errlen};
    json_t *doc = json_pack("{s:[], s:[]}", "chassis", "tenants");
    char *txt = NULL, msg[1024];
    int rc = -ENOMEM;

    memset(out, 0, sizeof(*out));
    l.tenants = json_object();
    l.switches = json_object();
    l.routers = json_object();
    l.groups = json_object();
    l.ports = json_object();
    if (!doc || !l.tenants || !l.switches || !l.routers || !l.groups || !l.ports)
        goto out;
    if ((rc = parse_all(&l, s)) || (rc = containers(&l, doc)) ||
        (rc = children(&l, s, flags)))
        goto out;
    if (!(txt = json_dumps(doc, JSON_COMPACT))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = vf_config_load_string(txt, strlen(txt), out, msg, sizeof(msg));
    if (rc == -EINVAL)
        loader_error(&l, doc, msg);
    else if (rc)
        snprintf(err, errlen, "loading the store under %s: %s", l.prefix, msg);
    if (!rc && (rc = store_only_checks(&l, doc, out)) != 0) {
        vf_model_free(out);
        memset(out, 0, sizeof(*out));
    }
out:
    free(txt);
    for (size_t i = 0; i < l.n; i++)
        json_decref(l.ents[i].v);
    free(l.ents);
    free(l.orig);
    json_decref(l.tenants);
    json_decref(l.switches);
    json_decref(l.routers);
    json_decref(l.groups);
    json_decref(l.ports);
    json_decref(doc);
    return rc;
}
