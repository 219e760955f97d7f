/* layout_host.c - a host's part of the fabric (vf_layout.h).
 *
 * A host compiles the switches with a port on its chassis and everything
 * its tenants' routers reach from them (a routed packet runs all of its
 * hops at the source host), so that is what it reads: its index keys name
 * the first switches, router ports lead from a switch to its routers and on
 * to their other switches. Work is linear in the keys given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mgmt/layout/layout_int.h"

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static json_t *value_of(const struct vf_layout_kv *kv)
{
    return json_loadb(kv->value, kv->value_len, 0, NULL);
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Adds name to set; true when it was not there. */
static bool add(json_t *set, const char *name)
{
    if (!name || json_object_get(set, name))
        return false;
    json_object_set_new(set, name, json_true());
    return true;
}

json_t *vf_layout_host_switches(const struct vf_layout_kvs *s, const char *chassis)
{
    char pfx[VF_LAYOUT_KEY_MAX];
    json_t *sws = json_object(), *rps = json_array();
    struct vf_layout_key k;
    bool grew = true;

    if (!sws || !rps || vf_layout_key_make(VF_LK_INDEX, chassis, "x", pfx, sizeof(pfx)))
        goto fail;
    pfx[strlen(pfx) - 1] = '\0';                 /* "chassis-switch/<c>/" */
    for (size_t i = 0; i < s->n; i++) {
        const struct vf_layout_kv *kv = &s->kv[i];
        if (starts(kv->key, pfx) && !vf_layout_key_parse(kv->key, &k, NULL, 0))
            add(sws, k.name);
        else if (starts(kv->key, "router-port/")) {
            json_t *v = value_of(kv);
            if (v && str(v, "router") && str(v, "switch"))
                json_array_append_new(rps, v);
            else
                json_decref(v);
        }
    }
    /* Switch -> its routers -> their switches, until nothing is added:
     * at most one round per router on the longest path. */
    json_t *routers = json_object();
    if (!routers)
        goto fail;
    while (grew) {
        size_t i;
        json_t *rp;
        grew = false;
        json_array_foreach(rps, i, rp)
            if (json_object_get(sws, str(rp, "switch")))
                grew |= add(routers, str(rp, "router"));
        json_array_foreach(rps, i, rp)
            if (json_object_get(routers, str(rp, "router")))
                grew |= add(sws, str(rp, "switch"));
    }
    json_decref(routers);
    json_decref(rps);
    return sws;
fail:
    json_decref(sws);
    json_decref(rps);
    return NULL;
}

int vf_layout_subset(const struct vf_layout_kvs *s, const char *chassis,
                     struct vf_layout_kvs *out)
{
    json_t *sws = vf_layout_host_switches(s, chassis), *routers = json_object(),
           *tenants = json_object(), *groups = json_object();
    struct vf_layout_key k;
    int rc = -ENOMEM;

    memset(out, 0, sizeof(*out));
    out->borrowed = true;
    if (!sws || !routers || !tenants || !groups)
        goto out;
    /* Routers on those switches, and the tenants of both. */
    for (size_t i = 0; i < s->n; i++) {
        const struct vf_layout_kv *kv = &s->kv[i];
        bool rp = starts(kv->key, "router-port/"), sw = starts(kv->key, "switch/");
        if (!rp && !sw)
            continue;
        json_t *v = value_of(kv);
        if (rp && json_object_get(sws, str(v, "switch") ? str(v, "switch") : ""))
            add(routers, str(v, "router"));
        if (sw && !vf_layout_key_parse(kv->key, &k, NULL, 0) &&
            json_object_get(sws, k.name))
            add(tenants, str(v, "tenant"));
        json_decref(v);
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct vf_layout_kv *kv = &s->kv[i];
        if (starts(kv->key, "router/") && !vf_layout_key_parse(kv->key, &k, NULL, 0) &&
            json_object_get(routers, k.name)) {
            json_t *v = value_of(kv);
            add(tenants, str(v, "tenant"));
            json_decref(v);
        }
    }
    /* Those tenants' port groups (their ACLs live under them). */
    for (size_t i = 0; i < s->n; i++) {
        const struct vf_layout_kv *kv = &s->kv[i];
        if (starts(kv->key, "port-group/") && !vf_layout_key_parse(kv->key, &k, NULL, 0)) {
            json_t *v = value_of(kv);
            if (str(v, "tenant") && json_object_get(tenants, str(v, "tenant")))
                add(groups, k.name);
            json_decref(v);
        }
    }
    out->cap = s->n ? s->n : 1;
    if (!(out->kv = calloc(out->cap, sizeof(*out->kv))))
        goto out;
    for (size_t i = 0; i < s->n; i++) {
        const struct vf_layout_kv *kv = &s->kv[i];
        bool keep = false;
        if (vf_layout_key_parse(kv->key, &k, NULL, 0))
            continue;
        switch (k.kind) {
        case VF_LK_CHASSIS:
            keep = true;
            break;
        case VF_LK_TENANT:
            keep = json_object_get(tenants, k.name) != NULL;
            break;
        case VF_LK_SWITCH:
            keep = json_object_get(sws, k.name) != NULL;
            break;
        case VF_LK_ROUTER:
            keep = json_object_get(routers, k.name) != NULL;
            break;
        case VF_LK_RPORT: {
            json_t *v = value_of(kv);
            keep = str(v, "router") && json_object_get(routers, str(v, "router"));
            json_decref(v);
            break;
        }
        case VF_LK_ROUTE:
            keep = json_object_get(routers, k.parent) != NULL;
            break;
        case VF_LK_PORT:
        case VF_LK_ACL:
            keep = json_object_get(sws, k.parent) != NULL;
            break;
        case VF_LK_PGROUP:
            keep = json_object_get(groups, k.name) != NULL;
            break;
        case VF_LK_PGACL:
            keep = json_object_get(groups, k.parent) != NULL;
            break;
        case VF_LK_ASET: {
            json_t *v = value_of(kv);
            keep = str(v, "tenant") && json_object_get(tenants, str(v, "tenant"));
            json_decref(v);
            break;
        }
        default:
            break;
        }
        if (keep)
            out->kv[out->n++] = *kv;
    }
    rc = 0;
out:
    json_decref(sws);
    json_decref(routers);
    json_decref(tenants);
    json_decref(groups);
    if (rc)
        vf_layout_kvs_free(out);
    return rc;
}
