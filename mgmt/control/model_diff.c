/* model_diff.c - added, removed and changed objects between two models.
 *
 * Each model is flattened into one record per object (kind, name, a match
 * key and the object's own fields with its parents' names), in model
 * order. Records of b are indexed by key in a JSON object (a hash table);
 * each record of a then takes the first unmatched record of b with its
 * key. So the work is linear in the size of the models, and routes and
 * ACLs, whose keys may repeat, pair up in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/vf_kinds.h"
#include "mgmt/control/vf_secgroup.h"
#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_json.h"

/* Appends {kind, name, key, object}; steals obj. Returns false when out of
 * memory. */
static bool rec(json_t *out, const char *kind, const char *name,
                const char *key, json_t *obj)
{
    char k[256];

    if (!obj)
        return false;
    if (!key) {
        snprintf(k, sizeof(k), "%s\n%s", kind, name);
        key = k;
    }
    return json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}",
                                                 "kind", kind, "name", name,
                                                 "key", key, "object",
                                                 obj)) == 0;
}

/* One record per object, walked through the kind table: its own fields
 * (cfg_to_json without child lists) plus its ancestors' names. Named
 * kinds match by kind and name; routes by router and prefix; ACLs by
 * their whole content within their tenant. */
static int flat_one(const struct vf_kind_ref *r, void *arg)
{
    const struct vf_kind_desc *kd = vf_kind(r->kind);
    const void *obj = r->obj[r->depth - 1];
    json_t *out = arg, *x = cfg_to_json(kd->schema, obj, false);
    const char *label = vf_kind_label(r->kind, obj), *parent = NULL;
    char name[192], *key = NULL, *dump = NULL;
    bool ok;

    if (!x)
        return -1;
    dump = label ? NULL : json_dumps(x, JSON_SORT_KEYS | JSON_COMPACT);
    for (unsigned d = 0; d + 1 < r->depth; d++) {
        enum vf_kind k = r->kind;
        for (unsigned up = r->depth - 1; up > d; up--)
            k = vf_kind(k)->parent;
        parent = vf_kind_label(k, r->obj[d]);
        json_object_set_new(x, vf_kind(k)->name, json_string(parent));
    }
    if (label) {
        snprintf(name, sizeof(name), "%s", label);
    } else if (kd->diff_key) {
        const char *v = json_string_value(json_object_get(x, kd->diff_key));
        size_t klen = strlen(kd->name) + strlen(parent) + strlen(v) + 3;
        snprintf(name, sizeof(name), "%s %s", parent, v);
        if ((key = malloc(klen)) != NULL)
            snprintf(key, klen, "%s\n%s\n%s", kd->name, parent, v);
    } else {
        size_t klen = dump ? strlen(kd->name) + strlen(parent) +
                             strlen(dump) + 3 : 0;
        snprintf(name, sizeof(name), "%s %s[%zu]", parent, kd->list,
                 r->idx[r->depth - 1]);
        if (dump && (key = malloc(klen)) != NULL)
            snprintf(key, klen, "%s\n%s\n%s", kd->name, parent, dump);
    }
    ok = (label || key) && rec(out, kd->name, name, key, x);
    if (!ok && !(label || key))
        json_decref(x);
    free(key);
    free(dump);
    return ok ? 0 : -1;
}

static json_t *flatten(const struct vf_model *m)
{
    json_t *out = json_array();
    bool ok = out && vf_kind_walk_all(m, flat_one, out) == 0;

    if (ok && m->has_local)
        ok = rec(out, "local", "local", NULL,
                 cfg_to_json(&cfg_local_schema, &m->local, true));
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *item(json_t *r, bool with_object)
{
    json_t *o = json_pack("{s:O, s:O}", "kind", json_object_get(r, "kind"),
                          "name", json_object_get(r, "name"));

    if (o && with_object)
        json_object_set(o, "object", json_object_get(r, "object"));
    return o;
}

/* {"kind", "name", "fields", "from", "to"} for two unequal objects. */
static json_t *changed_item(json_t *ra, json_t *rb)
{
    json_t *x = json_object_get(ra, "object"), *y = json_object_get(rb,
                                                                    "object");
    json_t *o = item(rb, false), *fields = json_array(), *from = json_object(),
           *to = json_object(), *v;
    const char *key;

    if (!o || !fields || !from || !to)
        goto fail;
    /* Keys of x in order, then keys only y has. */
    json_object_foreach(x, key, v)
        if (!json_equal(v, json_object_get(y, key))) {
            json_array_append_new(fields, json_string(key));
            json_object_set(from, key, v);
            json_object_set(to, key, json_object_get(y, key) ?
                            json_object_get(y, key) : json_null());
        }
    json_object_foreach(y, key, v)
        if (!json_object_get(x, key)) {
            json_array_append_new(fields, json_string(key));
            json_object_set(from, key, json_null());
            json_object_set(to, key, v);
        }
    json_object_set_new(o, "fields", fields);
    json_object_set_new(o, "from", from);
    json_object_set_new(o, "to", to);
    return o;
fail:
    json_decref(o);
    json_decref(fields);
    json_decref(from);
    json_decref(to);
    return NULL;
}

json_t *vf_model_diff(const struct vf_model *a, const struct vf_model *b)
{
    json_t *ra = flatten(a), *rb = flatten(b), *index = json_object();
    json_t *added = json_array(), *removed = json_array();
    json_t *changed = json_array(), *r, *out = NULL;
    size_t nb = json_array_size(rb), i;
    bool *matched = calloc(nb + 1, sizeof(bool)), ok;

    ok = ra && rb && index && added && removed && changed && matched;
    json_array_foreach(rb, i, r) {
        const char *key = json_string_value(json_object_get(r, "key"));
        json_t *slot;
        if (!ok)
            break;
        slot = json_object_get(index, key);
        if (!slot) {
            slot = json_array();
            ok = slot && json_object_set_new(index, key, slot) == 0;
        }
        ok = ok && json_array_append_new(slot, json_integer((json_int_t)i))
                   == 0;
    }
    json_array_foreach(ra, i, r) {
        json_t *slot;
        if (!ok)
            break;
        slot = json_object_get(index, json_string_value(json_object_get(
                                   r, "key")));
        if (json_array_size(slot) == 0) {
            ok = json_array_append_new(removed, item(r, true)) == 0;
            continue;
        }
        size_t j = (size_t)json_integer_value(json_array_get(slot, 0));
        json_t *other = json_array_get(rb, j);
        json_array_remove(slot, 0);
        matched[j] = true;
        if (!json_equal(json_object_get(r, "object"),
                        json_object_get(other, "object")))
            ok = json_array_append_new(changed, changed_item(r, other)) == 0;
    }
    json_array_foreach(rb, i, r)
        if (ok && !matched[i])
            ok = json_array_append_new(added, item(r, true)) == 0;
    if (ok)
        out = json_pack("{s:O, s:O, s:O}", "added", added, "removed",
                        removed, "changed", changed);
    free(matched);
    json_decref(ra);
    json_decref(rb);
    json_decref(index);
    json_decref(added);
    json_decref(removed);
    json_decref(changed);
    return out;
}

size_t vf_model_diff_count(const json_t *diff)
{
    return json_array_size(json_object_get(diff, "added")) +
           json_array_size(json_object_get(diff, "removed")) +
           json_array_size(json_object_get(diff, "changed"));
}

/* ---- switches to recompile ---- */

/* An ACL as a switch sees it: its fields, its group's ports on the switch
 * and its sets' addresses (what compile_acl.c compiles). */
static json_t *acl_sig(const struct vf_model_tenant *mt,
                       const struct vf_model_acl *acl, size_t s, json_t *o)
{
    const struct vf_model_pgroup *g = vf_sg_acl_pgroup(mt, acl);
    json_t *x = json_pack("{s:O, s:[], s:[]}", "acl", o, "on", "sets");
    char b[VF_PREFIX_STRLEN];

    for (size_t i = 0; x && g && g->refs && i < g->n_ports; i++)
        if (g->refs[i].sw == s)
            json_array_append_new(json_object_get(x, "on"),
                                  json_string(g->ports[i]));
    for (int side = 0; x && side < 2; side++) {
        int idx = side ? acl->dst_set_idx : acl->src_set_idx;
        const char *set = side ? acl->dst_set : acl->src_set;
        if (!set[0] || idx < 0 || (size_t)idx >= mt->n_asets)
            continue;
        for (size_t i = 0; i < mt->asets[idx].n_addrs; i++)
            json_array_append_new(json_object_get(x, "sets"), json_string(
                vf_prefix_str(&mt->asets[idx].addrs[i], b)));
    }
    return x;
}

/* What one switch's tables are made of, as JSON: its fields and id, its
 * ports with their ids and their chassis' tunnel endpoint, the router
 * ports attached to it, and its ACLs. Keyed by switch name in sw_sigs;
 * routers (fields, ids, ports, routes) likewise in rt_sigs. */
static bool signatures(const struct vf_model *m, json_t *sw_sigs,
                       json_t *rt_sigs)
{
    json_t *root = vf_model_to_json(m), *tn, *sw, *rt, *o;
    size_t t, s, i;
    bool ok = root != NULL;

    json_array_foreach(json_object_get(root, "tenants"), t, tn) {
        const struct vf_model_tenant *mt = &m->tenants[t];
        json_t *routers = json_object_get(tn, "routers");
        if (!ok)
            break;
        json_array_foreach(json_object_get(tn, "switches"), s, sw) {
            const struct vf_model_switch *ms = &mt->switches[s];
            json_t *sig = json_pack("{s:s, s:I, s:I, s:[], s:[], s:[]}",
                                    "tenant", mt->name, "id",
                                    (json_int_t)ms->id, "vni",
                                    (json_int_t)ms->vni, "ports", "rports",
                                    "acls");
            if (!sig || json_object_set_new(sw_sigs, ms->name, sig) != 0) {
                ok = false;
                break;
            }
            json_array_foreach(json_object_get(sw, "ports"), i, o) {
                const struct vf_model_port *mp = &ms->ports[i];
                json_t *p = json_copy(o);
                json_object_set_new(p, "id", json_integer(mp->id));
                if (mp->chassis_idx >= 0) {
                    const struct vf_model_chassis *c =
                        &m->chassis[mp->chassis_idx];
                    json_object_set_new(p, "at", json_pack("{s:I, s:i, s:i}",
                        "ip", (json_int_t)c->underlay_ip, "port",
                        (int)c->udp_port, "encap", (int)c->encap));
                }
                ok = ok && json_array_append_new(json_object_get(sig,
                                                 "ports"), p) == 0;
            }
            for (size_t r = 0; r < mt->n_routers; r++)
                for (size_t p = 0; p < mt->routers[r].n_ports; p++) {
                    const struct vf_model_rport *rp =
                        &mt->routers[r].ports[p];
                    json_t *x;
                    if (rp->switch_idx != (int)s)
                        continue;
                    x = json_copy(json_array_get(json_object_get(
                        json_array_get(routers, r), "ports"), p));
                    json_object_set_new(x, "id", json_integer(rp->id));
                    json_object_set_new(x, "router",
                                        json_string(mt->routers[r].name));
                    ok = ok && json_array_append_new(json_object_get(sig,
                                                     "rports"), x) == 0;
                }
            json_array_foreach(json_object_get(tn, "acls"), i, o)
                if (vf_sg_acl_on_switch(mt, &mt->acls[i], s))
                    ok = ok && json_array_append_new(json_object_get(sig,
                                 "acls"), acl_sig(mt, &mt->acls[i], s, o)) == 0;
        }
        json_array_foreach(routers, s, rt) {
            json_t *sig = json_pack("{s:s, s:I, s:O}", "tenant", mt->name,
                                    "id", (json_int_t)mt->routers[s].id,
                                    "router", rt);
            ok = ok && sig &&
                 json_object_set_new(rt_sigs, mt->routers[s].name, sig) == 0;
        }
    }
    json_decref(root);
    return ok;
}

int vf_model_changed_switches(const struct vf_model *a,
                              const struct vf_model *b, bool *changed,
                              size_t n)
{
    json_t *swa = json_object(), *swb = json_object(), *rta = json_object(),
           *rtb = json_object(), *la = NULL, *lb = NULL;
    size_t total = 0, n_routers = 0, *first = NULL;
    bool *dirty = NULL, all, more = true;
    int rc = -ENOMEM, count = 0;

    for (size_t t = 0; t < b->n_tenants; t++) {
        total += b->tenants[t].n_switches;
        n_routers += b->tenants[t].n_routers;
    }
    if (n != total) {
        rc = -EINVAL;
        goto out;
    }
    first = calloc(b->n_tenants + 1, sizeof(*first));
    dirty = calloc(n_routers + 1, sizeof(*dirty));
    if (!swa || !swb || !rta || !rtb || !first || !dirty ||
        !signatures(a, swa, rta) || !signatures(b, swb, rtb))
        goto out;
    la = vf_model_to_json(a);
    lb = vf_model_to_json(b);
    if (!la || !lb)
        goto out;
    all = !json_equal(json_object_get(la, "local"),
                      json_object_get(lb, "local"));
    /* Own signatures first, then spread through routers: a router whose
     * own signature changed, or that touches a changed switch, changes
     * every switch it touches. Each round marks at least one more switch
     * or router or stops, so it ends within n + n_routers + 1 rounds. */
    for (size_t t = 0, g = 0, r = 0; t < b->n_tenants; t++) {
        const struct vf_model_tenant *mt = &b->tenants[t];
        first[t] = g;
        for (size_t s = 0; s < mt->n_switches; s++, g++) {
            const char *name = mt->switches[s].name;
            changed[g] = all || !json_equal(json_object_get(swa, name),
                                            json_object_get(swb, name));
        }
        for (size_t k = 0; k < mt->n_routers; k++, r++) {
            const char *name = mt->routers[k].name;
            dirty[r] = !json_equal(json_object_get(rta, name),
                                   json_object_get(rtb, name));
        }
    }
    for (size_t round = 0; more && round <= n + n_routers; round++) {
        more = false;
        for (size_t t = 0, r = 0; t < b->n_tenants; t++) {
            const struct vf_model_tenant *mt = &b->tenants[t];
            for (size_t k = 0; k < mt->n_routers; k++, r++) {
                const struct vf_model_router *rt = &mt->routers[k];
                for (size_t p = 0; p < rt->n_ports && !dirty[r]; p++) {
                    int si = rt->ports[p].switch_idx;
                    if (si >= 0 && changed[first[t] + (size_t)si])
                        dirty[r] = more = true;
                }
                for (size_t p = 0; p < rt->n_ports && dirty[r]; p++) {
                    int si = rt->ports[p].switch_idx;
                    if (si >= 0 && !changed[first[t] + (size_t)si])
                        changed[first[t] + (size_t)si] = more = true;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        count += changed[i];
    rc = count;
out:
    json_decref(swa);
    json_decref(swb);
    json_decref(rta);
    json_decref(rtb);
    json_decref(la);
    json_decref(lb);
    free(first);
    free(dirty);
    return rc;
}
