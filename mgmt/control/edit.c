/* edit.c - add or delete one object by editing the model's JSON form.
 *
 * The current model is turned into JSON (the YAML schema's shape), the edit
 * is made on that tree, and the tree is loaded back with the desired-state
 * loader, so an edited model is checked by the same code and refused with
 * the same messages as a file. This file finds objects and parents through
 * the kind table (vf_kinds.h) and adds; edit_del.c deletes, checking what
 * hangs on the object; edit_list.c lists. Every loop walks the model once
 * per edit, so an edit costs a few passes over the model; edits are rare
 * next to packets.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/edit_int.h"
#include "mgmt/control/vf_model_json.h"

/* ---- helpers ---- */

int ed_fail(struct ed *e, int rc, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(e->err, e->errlen, "%s %s: %s", e->verb, e->kind, msg);
    return rc;
}

const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

bool str_is(json_t *o, const char *key, const char *want)
{
    const char *s = str_of(o, key);
    return s && strcmp(s, want) == 0;
}

void names_add(struct names *nm, const char *s)
{
    size_t used = strlen(nm->buf);

    if (nm->n < ED_NAMES_SHOWN)
        snprintf(nm->buf + used, nm->len - used, "%s%s", nm->n ? ", " : "",
                 s ? s : "?");
    else if (nm->n == ED_NAMES_SHOWN)
        snprintf(nm->buf + used, nm->len - used, ", ...");
    nm->n++;
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

/* ---- finding objects through the kind table ---- */

/* The kinds from the top down to k. */
static unsigned chain_of(enum vf_kind k, enum vf_kind chain[VF_KIND_DEPTH])
{
    unsigned depth = vf_kind_depth(k), d = depth;

    for (; k != VF_KIND_NONE && d > 0; k = vf_kind(k)->parent)
        chain[--d] = k;
    return depth;
}

struct seek {
    enum vf_kind chain[VF_KIND_DEPTH];
    unsigned depth;
    const char *name;           /* NULL: collect names into nm */
    struct hit *h;
    struct names *nm;
};

/* Walks parent's list of level d; true when name was found. */
static bool seek(struct seek *s, json_t *parent, json_t *tenant, unsigned d)
{
    const struct vf_kind_desc *kd = vf_kind(s->chain[d]);
    json_t *list = json_object_get(parent, kd->list), *o;
    size_t i;

    json_array_foreach(list, i, o) {
        json_t *tn = s->chain[d] == VF_KIND_TENANT ? o : tenant;
        /* depth <= VF_KIND_DEPTH (chain_of); saying so bounds the inlined
         * recursion for GCC's -O3 -Warray-bounds. */
        if (d + 1 < s->depth && d + 1 < VF_KIND_DEPTH) {
            if (seek(s, o, tn, d + 1))
                return true;
            continue;
        }
        if (!s->name) {
            names_add(s->nm, str_of(o, kd->label));
        } else if (str_is(o, kd->label, s->name)) {
            *s->h = (struct hit){ tn, parent, list, o, i };
            return true;
        }
    }
    return false;
}

bool ed_find(json_t *root, enum vf_kind k, const char *name, struct hit *h)
{
    struct seek s = { .name = name, .h = h };

    s.depth = chain_of(k, s.chain);
    return name && vf_kind(k)->label && seek(&s, root, NULL, 0);
}

int ed_need(struct ed *e, const char *field, enum vf_kind k, const char *name,
            struct hit *h)
{
    const struct vf_kind_desc *kd = vf_kind(k);
    char buf[512] = "";
    struct names nm = { buf, sizeof(buf), 0 };
    struct seek s = { .nm = &nm };

    if (ed_find(e->root, k, name, h))
        return 0;
    s.depth = chain_of(k, s.chain);
    seek(&s, e->root, NULL, 0);
    if (!nm.n)
        snprintf(buf, sizeof(buf), "none");
    return ed_fail(e, -ENOENT, "field '%s': \"%s\" is not %s %s (%s: %s)",
                   field, name, strchr("aeiou", kd->noun[0]) ? "an" : "a",
                   kd->noun, kd->plural, buf);
}

/* ---- the spec ---- */

/* Refuses keys outside allowed (NULL-terminated). */
int spec_keys(struct ed *e, json_t *spec, const char *const *allowed)
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
int spec_str(struct ed *e, json_t *spec, const char *key, bool req,
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
int spec_index(struct ed *e, json_t *spec, size_t *out)
{
    json_t *v = json_object_get(spec, "index");

    *out = SIZE_MAX;            /* defined on every return, used or not */
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return ed_fail(e, -EINVAL, "spec: field 'index': expected a number "
                       "0.. (the position in the list, as `list` shows)");
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* The optional "tenant" cross-check of kinds under a switch or router. */
int check_tenant(struct ed *e, json_t *spec, const struct hit *h,
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

static int append(struct ed *e, json_t *list, json_t *obj)
{
    json_t *copy = json_deep_copy(obj);

    if (!list || !copy || json_array_append_new(list, copy) != 0) {
        snprintf(e->err, e->errlen, "%s %s: out of memory", e->verb, e->kind);
        return -ENOMEM;
    }
    return 0;
}

/* ---- add ---- */

/* The spec names the object ({KIND: OBJECT}) and, under a parent, the
 * parent ({PARENT: NAME}); three levels down it may also name the tenant
 * as a cross-check. */
static int do_add(struct ed *e, enum vf_kind k, json_t *spec)
{
    const struct vf_kind_desc *kd = vf_kind(k);
    const struct vf_kind_desc *pd = vf_kind(kd->parent);
    const char *keys[4] = { NULL }, *parent;
    json_t *obj = json_object_get(spec, e->kind);
    struct hit h;
    char what[64];
    unsigned n = 0;
    int rc;

    if (pd)
        keys[n++] = pd->name;
    keys[n++] = kd->name;
    if (vf_kind_depth(k) == 3)
        keys[n++] = "tenant";
    if ((rc = spec_keys(e, spec, keys)) != 0)
        return rc;
    if (!obj)
        return ed_fail(e, -EINVAL, "spec: missing field '%s' (the %s to add, "
                       "a mapping with its fields)", e->kind, e->kind);
    if (!json_is_object(obj))
        return ed_fail(e, -EINVAL, "spec: field '%s': expected a mapping "
                       "with the %s's fields", e->kind, e->kind);
    if (!pd)
        return append(e, list_of(e->root, kd->list), obj);
    snprintf(what, sizeof(what), "the %s it belongs to", pd->noun);
    rc = spec_str(e, spec, pd->name, k != VF_KIND_ACL, what, &parent);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        /* An ACL without its tenant: its switch says which (switch names
         * are unique across the fabric). */
        if (!json_is_string(json_object_get(obj, "switch")))
            return ed_fail(e, -EINVAL, "spec: missing field 'tenant' (the "
                           "tenant it belongs to; or give acl.switch)");
        if ((rc = ed_need(e, "acl.switch", VF_KIND_SWITCH,
                          str_of(obj, "switch"), &h)) != 0)
            return rc;
        return append(e, list_of(h.tenant, kd->list), obj);
    }
    if ((rc = ed_need(e, pd->name, kd->parent, parent, &h)) != 0)
        return rc;
    if (vf_kind_depth(k) == 3 &&
        (rc = check_tenant(e, spec, &h, pd->noun, parent)) != 0)
        return rc;
    return append(e, list_of(h.obj, kd->list), obj);
}

/* The message of a load that failed, without "<string>:LINE: ": the lines
 * are those of a JSON text the user never saw. */
const char *strip_where(const char *msg)
{
    const char *p = msg;

    if (strncmp(p, "<string>:", 9) != 0)
        return msg;
    p += 9;
    while ((*p >= '0' && *p <= '9') || *p == ':')
        p++;
    return *p == ' ' ? p + 1 : p;
}

int vf_model_edit(const struct vf_model *cur, enum vf_edit_op op,
                  const char *kind, json_t *spec, bool cascade,
                  struct vf_model *out, char *err, size_t errlen)
{
    struct ed e = { .verb = op == VF_EDIT_DEL ? "del" : "add",
                    .kind = kind ? kind : "?", .cascade = cascade,
                    .err = err, .errlen = errlen };
    char none[1], msg[1024], kinds[128], *txt = NULL;
    enum vf_kind k = vf_kind_find(kind);
    int rc;

    if (!err || !errlen)
        e.err = none, e.errlen = sizeof(none);
    e.err[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (k == VF_KIND_NONE) {
        vf_kind_names(kinds, sizeof(kinds));
        return ed_fail(&e, -EINVAL, "unknown kind (kinds: %s)", kinds);
    }
    if (op != VF_EDIT_ADD && op != VF_EDIT_DEL)
        return ed_fail(&e, -EINVAL, "unknown operation %d", (int)op);
    if (!json_is_object(spec))
        return ed_fail(&e, -EINVAL, "the spec is not a JSON object");
    e.root = vf_model_to_json(cur);
    if (!e.root)
        return ed_fail(&e, -ENOMEM, "out of memory");
    rc = op == VF_EDIT_ADD ? do_add(&e, k, spec) : ed_del(&e, k, spec);
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

