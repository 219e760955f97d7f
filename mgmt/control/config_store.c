/* config_store.c - `local.store`: where a host's fabric comes from when it
 * is kept in etcd (vfabd --store, docs/store.md), and the check that a
 * host's file for the store holds only `local:`.
 *
 *   local:
 *     store:
 *       endpoints: [http://10.0.0.1:2379, http://10.0.0.2:2379]  # or "A,B"
 *       prefix: /vfab/         # default; must start and end with '/'
 *       lease_ttl: 10          # seconds, 2..300 (keepalive at a third)
 *       tls: {ca: FILE, cert: FILE, key: FILE}
 *
 * Parsed by hand (a mapping with a nested mapping and a list-or-string),
 * with the loader's helpers, so errors read like every other field's:
 * "FILE:LINE: local: field 'store.lease_ttl': 1 is out of range 2..300".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/cfg_schema.h"

#define STORE_TTL_MIN 2
#define STORE_TTL_MAX 300

/* "store.<key>" errors: the loader's prefix is "" inside local. */
static int bad(struct cfg *c, const yaml_node_t *at, const char *key,
               const char *fmt, const char *what)
{
    return cfg_fail(c, at, "field 'store.%s': %s%s", key, fmt, what ? what : "");
}

static int want_string(struct cfg *c, const yaml_node_t *v, const char *key,
                       char *out, size_t len)
{
    char b[CFG_VALUE_SHOWN + 8];

    if (v->type != YAML_SCALAR_NODE)
        return bad(c, v, key, "expected a string, got ", cfg_node_kind(v));
    if (strlen(cfg_sval(v)) != v->data.scalar.length || !v->data.scalar.length)
        return bad(c, v, key, "must be a non-empty string without NUL bytes",
                   NULL);
    if (v->data.scalar.length >= len) {
        snprintf(b, sizeof(b), "%zu", len - 1);
        return bad(c, v, key, "is longer than the limit of characters: ", b);
    }
    memcpy(out, cfg_sval(v), v->data.scalar.length + 1);
    return 0;
}

/* A string "A,B" or a list of strings, joined with ','. */
static int endpoints(struct cfg *c, const yaml_node_t *v,
                     struct vf_model_store *s)
{
    char one[VF_MODEL_STORE_URLS];
    size_t used = 0;

    if (v->type == YAML_SCALAR_NODE)
        return want_string(c, v, "endpoints", s->endpoints,
                           sizeof(s->endpoints));
    if (v->type != YAML_SEQUENCE_NODE)
        return bad(c, v, "endpoints", "expected a URL or a list of URLs, got ",
                   cfg_node_kind(v));
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++) {
        const yaml_node_t *u = cfg_node_at(c, *i);
        int rc;
        if (!u)
            return bad(c, v, "endpoints", "a list item is missing", NULL);
        rc = want_string(c, u, "endpoints", one, sizeof(one));
        if (rc)
            return rc;
        if (used + strlen(one) + 2 > sizeof(s->endpoints))
            return bad(c, u, "endpoints", "the URLs are too long together",
                       NULL);
        used += (size_t)snprintf(s->endpoints + used,
                                 sizeof(s->endpoints) - used, "%s%s",
                                 used ? "," : "", one);
    }
    if (!used)
        return bad(c, v, "endpoints", "lists no URL", NULL);
    return 0;
}

static int tls(struct cfg *c, const yaml_node_t *v, struct vf_model_store *s)
{
    if (v->type != YAML_MAPPING_NODE)
        return bad(c, v, "tls", "expected a mapping {ca, cert, key}, got ",
                   cfg_node_kind(v));
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = cfg_node_at(c, p->key), *x = cfg_node_at(c, p->value);
        const char *name = k && k->type == YAML_SCALAR_NODE ? cfg_sval(k) : "";
        char *out = !strcmp(name, "ca") ? s->ca : !strcmp(name, "cert") ? s->cert
                  : !strcmp(name, "key") ? s->key : NULL;
        char key[32];
        if (!out || !x)
            return bad(c, k ? k : v, "tls", "unknown field (allowed: ca, cert, "
                       "key): ", name);
        snprintf(key, sizeof(key), "tls.%s", name);
        int rc = want_string(c, x, key, out, VF_MODEL_STORE_PATH);
        if (rc)
            return rc;
    }
    if (!s->cert[0] != !s->key[0])
        return bad(c, v, "tls", "cert and key go together (a client "
                   "certificate needs its key)", NULL);
    return 0;
}

int cfg_store_parse(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj)
{
    struct vf_model_store *s = &((struct vf_model_local *)obj)->store;
    char b[CFG_VALUE_SHOWN + 8];
    int rc = 0;

    (void)f;
    memset(s, 0, sizeof(*s));
    if (val->type != YAML_MAPPING_NODE)
        return cfg_fail(c, val, "field 'store': expected a mapping {endpoints, "
                        "prefix, lease_ttl, tls}, got %s", cfg_node_kind(val));
    for (yaml_node_pair_t *p = val->data.mapping.pairs.start;
         p < val->data.mapping.pairs.top && !rc; p++) {
        const yaml_node_t *k = cfg_node_at(c, p->key), *v = cfg_node_at(c, p->value);
        const char *name = k && k->type == YAML_SCALAR_NODE ? cfg_sval(k) : "";
        if (!v)
            return bad(c, k, name, "has no value", NULL);
        if (!strcmp(name, "endpoints")) {
            rc = endpoints(c, v, s);
        } else if (!strcmp(name, "prefix")) {
            rc = want_string(c, v, "prefix", s->prefix, sizeof(s->prefix));
            size_t n = strlen(s->prefix);
            if (!rc && (s->prefix[0] != '/' || s->prefix[n - 1] != '/'))
                rc = bad(c, v, "prefix", "must start and end with '/' (e.g. "
                         "/vfab/), got ", cfg_shown(v, b));
        } else if (!strcmp(name, "lease_ttl")) {
            char *end;
            unsigned long t = v->type == YAML_SCALAR_NODE
                                  ? strtoul(cfg_sval(v), &end, 10) : 0;
            if (v->type != YAML_SCALAR_NODE || *end || !*cfg_sval(v) ||
                cfg_sval(v)[0] == '-' || t < STORE_TTL_MIN || t > STORE_TTL_MAX)
                rc = bad(c, v, "lease_ttl", "want seconds 2..300, got ",
                         v->type == YAML_SCALAR_NODE ? cfg_shown(v, b)
                                                     : cfg_node_kind(v));
            else
                s->lease_ttl = (uint32_t)t;
        } else if (!strcmp(name, "tls")) {
            rc = tls(c, v, s);
        } else {
            rc = bad(c, k ? k : val, name, "unknown field (allowed: endpoints, "
                     "prefix, lease_ttl, tls)", NULL);
        }
    }
    s->given = rc == 0;
    return rc;          /* no endpoints: vfabd --store gives them */
}

json_t *cfg_store_out(const struct cfg_field *f, const void *obj)
{
    const struct vf_model_store *s = &((const struct vf_model_local *)obj)->store;
    json_t *o;

    (void)f;
    if (!s->given)
        return NULL;
    o = json_object();
    if (o && s->endpoints[0])
        json_object_set_new(o, "endpoints", json_string(s->endpoints));
    if (o && s->prefix[0])
        json_object_set_new(o, "prefix", json_string(s->prefix));
    if (o && s->lease_ttl)
        json_object_set_new(o, "lease_ttl", json_integer(s->lease_ttl));
    if (o && (s->ca[0] || s->cert[0])) {
        json_t *t = json_object();
        if (t && s->ca[0])
            json_object_set_new(t, "ca", json_string(s->ca));
        if (t && s->cert[0])
            json_object_set_new(t, "cert", json_string(s->cert));
        if (t && s->key[0])
            json_object_set_new(t, "key", json_string(s->key));
        json_object_set_new(o, "tls", t);
    }
    return o;
}
