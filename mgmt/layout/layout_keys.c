/* layout_keys.c - keys of the store layout and sorted key sets (vf_layout.h).
 *
 * A key set is a sorted array: lookups are binary searches, a single put
 * or delete moves the tail (a host applies a few watch events at a time;
 * whole sets are built by appending and sorting once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mgmt/layout/layout_int.h"

static const char *const kind_names[VF_LK_N] = {
    [VF_LK_CHASSIS] = "chassis",
    [VF_LK_TENANT] = "tenant",
    [VF_LK_ASET] = "address-set",
    [VF_LK_SWITCH] = "switch",
    [VF_LK_INDEX] = "chassis-switch",
    [VF_LK_ROUTER] = "router",
    [VF_LK_RPORT] = "router-port",
    [VF_LK_PORT] = "port",
    [VF_LK_ROUTE] = "route",
    [VF_LK_PGROUP] = "port-group",
    [VF_LK_ACL] = "acl",
    [VF_LK_PGACL] = "port-group-acl",
};

const char *vf_layout_kind_name(enum vf_layout_kind k)
{
    return (unsigned)k < VF_LK_N ? kind_names[k] : "?";
}

static bool has_parent(enum vf_layout_kind k)
{
    return k == VF_LK_PORT || k == VF_LK_ACL || k == VF_LK_ROUTE || k == VF_LK_INDEX ||
           k == VF_LK_PGACL;
}

/* '/' -> "%2F"; names never hold '%', so this is reversible. */
static int escape(const char *name, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = name; *p; p++) {
        size_t need = *p == '/' ? 3 : 1;
        if (o + need >= len)
            return -ENAMETOOLONG;
        if (*p == '/') {
            memcpy(out + o, "%2F", 3);
        } else {
            out[o] = *p;
        }
        o += need;
    }
    out[o] = '\0';
    return 0;
}

/* The segment [s, s + n) unescaped into out; -EINVAL for a bad escape or
 * an empty segment. */
static int unescape(const char *s, size_t n, char *out, size_t len)
{
    size_t o = 0;
    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || strncmp(s + i, "%2F", 3) != 0)
                return -EINVAL;
            c = '/';
            i += 2;
        }
        if (o + 1 >= len)
            return -EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int vf_layout_name_escape(const char *name, char *out, size_t len)
{
    return escape(name, out, len);
}

int vf_layout_name_unescape(const char *seg, char *out, size_t len)
{
    return unescape(seg, strlen(seg), out, len);
}

int vf_layout_key_make(enum vf_layout_kind kind, const char *parent,
                       const char *name, char *buf, size_t len)
{
    char p[VF_LAYOUT_KEY_MAX], n[VF_LAYOUT_KEY_MAX];
    int rc;

    if ((unsigned)kind >= VF_LK_N)
        return -EINVAL;
    /* A route's name is its prefix "a.b.c.d/len": kept as is. */
    if (kind == VF_LK_ROUTE)
        rc = snprintf(n, sizeof(n), "%s", name) >= (int)sizeof(n) ? -ENAMETOOLONG : 0;
    else
        rc = escape(name, n, sizeof(n));
    if (rc)
        return rc;
    if (has_parent(kind)) {
        if ((rc = escape(parent ? parent : "", p, sizeof(p))) != 0)
            return rc;
        rc = snprintf(buf, len, "%s/%s/%s", kind_names[kind], p, n);
    } else {
        rc = snprintf(buf, len, "%s/%s", kind_names[kind], n);
    }
    return rc < 0 || (size_t)rc >= len ? -ENAMETOOLONG : 0;
}

static int key_fail(char *err, size_t errlen, const char *key, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%.*s: %s", VF_LAYOUT_KEY_MAX, key, why);
    return -EINVAL;
}

int vf_layout_key_parse(const char *key, struct vf_layout_key *k, char *err,
                        size_t errlen)
{
    const char *slash = strchr(key, '/');
    size_t klen = slash ? (size_t)(slash - key) : strlen(key);
    int kind = -1;

    memset(k, 0, sizeof(*k));
    for (int i = 0; i < VF_LK_N; i++)
        if (strlen(kind_names[i]) == klen && !strncmp(key, kind_names[i], klen))
            kind = i;
    if (kind < 0 || !slash)
        return key_fail(err, errlen, key, "not a key of the layout (format "
                        VF_LAYOUT_FORMAT ": chassis/, tenant/, address-set/, "
                        "switch/, router/, router-port/, port/SWITCH/, "
                        "route/ROUTER/, port-group/, acl/SWITCH/, "
                        "port-group-acl/GROUP/, chassis-switch/CHASSIS/)");
    k->kind = kind;
    const char *rest = slash + 1;
    if (has_parent(k->kind)) {
        const char *s2 = strchr(rest, '/');
        if (!s2 || unescape(rest, (size_t)(s2 - rest), k->parent, sizeof(k->parent)))
            return key_fail(err, errlen, key, k->kind == VF_LK_ROUTE
                            ? "want route/ROUTER/A.B.C.D/LEN"
                            : k->kind == VF_LK_INDEX ? "want chassis-switch/CHASSIS/SWITCH"
                            : k->kind == VF_LK_PORT ? "want port/SWITCH/NAME"
                            : k->kind == VF_LK_PGACL ? "want port-group-acl/GROUP/ID"
                            : "want acl/SWITCH/ID");
        rest = s2 + 1;
    }
    if (k->kind == VF_LK_ROUTE) {
        if (!*rest || !strchr(rest, '/') || strlen(rest) >= sizeof(k->name))
            return key_fail(err, errlen, key, "want route/ROUTER/A.B.C.D/LEN");
        strcpy(k->name, rest);
        return 0;
    }
    if (strchr(rest, '/') || unescape(rest, strlen(rest), k->name, sizeof(k->name)))
        return key_fail(err, errlen, key, "the name is empty, too long, has a '/' "
                        "(write it %2F) or a bad %-escape");
    return 0;
}

/* ---- key sets ---- */

void vf_layout_kvs_free(struct vf_layout_kvs *s)
{
    if (!s)
        return;
    if (!s->borrowed)
        for (size_t i = 0; i < s->n; i++) {
            free(s->kv[i].key);
            free(s->kv[i].value);
        }
    free(s->kv);
    memset(s, 0, sizeof(*s));
}

static int grow(struct vf_layout_kvs *s)
{
    if (s->n < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 64;
    struct vf_layout_kv *kv = realloc(s->kv, cap * sizeof(*kv));
    if (!kv)
        return -ENOMEM;
    s->kv = kv;
    s->cap = cap;
    return 0;
}

static int fill(struct vf_layout_kv *kv, const char *key, const char *value,
                size_t value_len, int64_t mod_revision)
{
    kv->key = strdup(key);
    kv->value = malloc(value_len + 1);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        return -ENOMEM;
    }
    memcpy(kv->value, value, value_len);
    kv->value[value_len] = '\0';
    kv->value_len = value_len;
    kv->mod_revision = mod_revision;
    return 0;
}

int vf_layout_kvs_add(struct vf_layout_kvs *s, const char *key, const char *value,
                      size_t value_len, int64_t mod_revision)
{
    if (s->borrowed || grow(s))
        return -ENOMEM;
    int rc = fill(&s->kv[s->n], key, value, value_len, mod_revision);
    if (!rc)
        s->n++;
    return rc;
}

static int kv_cmp(const void *a, const void *b)
{
    const struct vf_layout_kv *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    /* Equal keys keep their order of addition (pointer order in the array). */
    return c ? c : (x < y ? -1 : x > y);
}

void vf_layout_kvs_sort(struct vf_layout_kvs *s)
{
    if (s->n < 2)
        return;
    qsort(s->kv, s->n, sizeof(*s->kv), kv_cmp);
    size_t o = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (o && !strcmp(s->kv[o - 1].key, s->kv[i].key)) {
            if (!s->borrowed) {
                free(s->kv[o - 1].key);
                free(s->kv[o - 1].value);
            }
            s->kv[o - 1] = s->kv[i];
        } else {
            s->kv[o++] = s->kv[i];
        }
    }
    s->n = o;
}

/* Index of key, or of where it would go (*found false). */
static size_t lookup(const struct vf_layout_kvs *s, const char *key, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->kv[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const struct vf_layout_kv *vf_layout_kvs_find(const struct vf_layout_kvs *s,
                                              const char *key)
{
    bool found;
    size_t i = lookup(s, key, &found);
    return found ? &s->kv[i] : NULL;
}

int vf_layout_kvs_set(struct vf_layout_kvs *s, const char *key, const char *value,
                      size_t value_len, int64_t mod_revision)
{
    bool found;
    size_t i = lookup(s, key, &found);
    struct vf_layout_kv kv;

    if (s->borrowed)
        return -EINVAL;
    if (fill(&kv, key, value, value_len, mod_revision))
        return -ENOMEM;
    if (found) {
        free(s->kv[i].key);
        free(s->kv[i].value);
        s->kv[i] = kv;
        return 0;
    }
    if (grow(s)) {
        free(kv.key);
        free(kv.value);
        return -ENOMEM;
    }
    memmove(&s->kv[i + 1], &s->kv[i], (s->n - i) * sizeof(*s->kv));
    s->kv[i] = kv;
    s->n++;
    return 0;
}

void vf_layout_kvs_del(struct vf_layout_kvs *s, const char *key)
{
    bool found;
    size_t i = lookup(s, key, &found);
    if (!found)
        return;
    if (!s->borrowed) {
        free(s->kv[i].key);
        free(s->kv[i].value);
    }
    memmove(&s->kv[i], &s->kv[i + 1], (s->n - i - 1) * sizeof(*s->kv));
    s->n--;
}

int vf_layout_kvs_canonical(struct vf_layout_kvs *s, const char *key_prefix,
                            char *err, size_t errlen)
{
    if (s->borrowed)
        return -EINVAL;
    for (size_t i = 0; i < s->n; i++) {
        json_error_t je;
        json_t *v = json_loadb(s->kv[i].value, s->kv[i].value_len, 0, &je);
        if (!v) {
            snprintf(err, errlen, "key %s%s: the value is not JSON (%s)",
                     key_prefix ? key_prefix : "", s->kv[i].key, je.text);
            return -EINVAL;
        }
        char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(v);
        if (!t)
            return -ENOMEM;
        free(s->kv[i].value);
        s->kv[i].value = t;
        s->kv[i].value_len = strlen(t);
    }
    return 0;
}

bool vf_layout_kvs_equal(const struct vf_layout_kvs *a, const struct vf_layout_kvs *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->kv[i].key, b->kv[i].key) || a->kv[i].value_len != b->kv[i].value_len ||
            memcmp(a->kv[i].value, b->kv[i].value, a->kv[i].value_len))
            return false;
    return true;
}

/* ---- runtime records ---- */

char *vf_layout_chassis_rec_encode(const struct vf_layout_chassis_rec *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I}", "name", r->name,
                          "underlay_ip", r->underlay_ip, "encap", r->encap, "port",
                          (int)r->port, "version", r->version, "started",
                          (json_int_t)r->started);
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return t;
}

static int rec_str(json_t *o, const char *field, char *dst, size_t len, char *err,
                   size_t errlen)
{
    const char *v = json_string_value(json_object_get(o, field));
    if (!v || strlen(v) >= len) {
        snprintf(err, errlen, "field '%s': %s", field,
                 v ? "too long" : "missing or not a string");
        return -EINVAL;
    }
    strcpy(dst, v);
    return 0;
}

int vf_layout_chassis_rec_decode(const char *name, const char *value, size_t len,
                                 struct vf_layout_chassis_rec *r, char *err,
                                 size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(value, len, 0, &je);
    int rc = -EINVAL;

    memset(r, 0, sizeof(*r));
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not a JSON object (%s)", o ? "other JSON" : je.text);
        goto out;
    }
    snprintf(r->name, sizeof(r->name), "%s", name);
    if ((rc = rec_str(o, "underlay_ip", r->underlay_ip, sizeof(r->underlay_ip), err,
                      errlen)) ||
        (rc = rec_str(o, "encap", r->encap, sizeof(r->encap), err, errlen)))
        goto out;
    /* version and started are informative: absent reads as unknown. */
    const char *ver = json_string_value(json_object_get(o, "version"));
    snprintf(r->version, sizeof(r->version), "%s", ver ? ver : "");
    json_int_t port = json_integer_value(json_object_get(o, "port"));
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "field 'port': %lld is out of range 0..65535",
                 (long long)port);
        rc = -EINVAL;
        goto out;
    }
    r->port = (unsigned)port;
    r->started = json_integer_value(json_object_get(o, "started"));
    rc = 0;
out:
    json_decref(o);
    return rc;
}

char *vf_layout_binding_encode(const char *chassis)
{
    json_t *o = json_pack("{s:s}", "chassis", chassis);
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return t;
}

int vf_layout_binding_decode(const char *value, size_t len, char *chassis,
                             size_t chassis_len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(value, len, 0, &je);
    int rc = json_is_object(o) ? rec_str(o, "chassis", chassis, chassis_len, err, errlen)
                               : -EINVAL;
    if (!json_is_object(o))
        snprintf(err, errlen, "not a JSON object (%s)", o ? "other JSON" : je.text);
    json_decref(o);
    return rc;
}

int layout_kv_cmp_key(const void *a, const void *b)
{
    return strcmp(((const struct vf_layout_kv *)a)->key, ((const struct vf_layout_kv *)b)->key);
}
