/* layout_update.c - one store key applied to a model in place
 * (vf_layout_model_update, vf_layout.h).
 *
 * A host that rebuilt its model from keys for every watch event would load
 * its whole part of the fabric each time. A port (the object that changes
 * most: machines come, go and move) is instead parsed by the ordinary
 * loader inside a stub document (its chassis and switch as placeholders),
 * spliced into the model, and the model validated whole with
 * vf_model_validate, which is cheap next to loading: the same checks as a
 * full load, at a fraction of the work. Other kinds, and ports of a
 * tenant with port groups (see find_switch), say -EAGAIN and the caller
 * rebuilds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mgmt/layout/layout_int.h"

/* The switch called name, if its tenant has no port groups: a part of
 * the fabric loaded its groups with only the ports it held, so a port that
 * comes may belong in one and only a rebuild from keys can say. */
static int find_switch(struct vf_model *m, const char *name, struct vf_model_switch **out)
{
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            if (!strcmp(m->tenants[t].switches[s].name, name)) {
                *out = &m->tenants[t].switches[s];
                return m->tenants[t].n_pgroups ? -EAGAIN : 0;
            }
    return -ENOENT;
}

/* The port in value, parsed by the loader in a stub fabric. */
static int parse_port(const struct vf_layout_key *k, const char *value, size_t len,
                      struct vf_model_port *out, char *err, size_t errlen)
{
    json_t *p = json_loadb(value, len, 0, NULL), *doc = NULL;
    struct vf_model stub;
    char msg[1024], *txt = NULL;
    int rc = -EINVAL;

    if (!json_is_object(p) || !json_string_value(json_object_get(p, "chassis")) ||
        strcmp(json_string_value(json_object_get(p, "name")) ?: "", k->name) ||
        strcmp(json_string_value(json_object_get(p, "switch")) ?: "", k->parent)) {
        snprintf(err, errlen, "port/%s/%s: not a port value that matches its key",
                 k->parent, k->name);
        goto out;
    }
    json_object_del(p, "switch");
    doc = json_pack("{s:[{s:O, s:s}], s:[{s:s, s:[{s:s, s:i, s:[O]}]}]}", "chassis", "name",
                    json_object_get(p, "chassis"), "underlay_ip", "192.0.2.1", "tenants",
                    "name", "t", "switches", "name", "s", "vni", 1, "ports", p);
    if (!doc || !(txt = json_dumps(doc, JSON_COMPACT))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = vf_config_load_string(txt, strlen(txt), &stub, msg, sizeof(msg));
    if (rc) {
        snprintf(err, errlen, "port/%s/%s: %s", k->parent, k->name, msg);
        goto out;
    }
    *out = stub.tenants[0].switches[0].ports[0];
    vf_model_free(&stub);
out:
    free(txt);
    json_decref(doc);
    json_decref(p);
    return rc;
}

int vf_layout_model_update(struct vf_model *m, const char *key, const char *value,
                           size_t len, bool del, char *err, size_t errlen)
{
    struct vf_layout_key k;
    struct vf_model_switch *sw;
    struct vf_model_port np;
    size_t at;
    int rc;

    if (vf_layout_key_parse(key, &k, NULL, 0) || k.kind != VF_LK_PORT ||
        find_switch(m, k.parent, &sw))
        return -EAGAIN;
    for (at = 0; at < sw->n_ports && strcmp(sw->ports[at].name, k.name); at++)
        ;
    if (del) {
        if (at == sw->n_ports)
            return 0;
        memmove(&sw->ports[at], &sw->ports[at + 1],
                (sw->n_ports - at - 1) * sizeof(*sw->ports));
        sw->n_ports--;
    } else {
        if ((rc = parse_port(&k, value, len, &np, err, errlen)) != 0)
            return rc;
        if (at == sw->n_ports) {
            struct vf_model_port *p = realloc(sw->ports, (sw->n_ports + 1) * sizeof(*p));
            if (!p)
                return -ENOMEM;
            sw->ports = p;
            /* Where a load from keys would put it: in name order. */
            for (at = 0; at < sw->n_ports && strcmp(sw->ports[at].name, k.name) < 0; at++)
                ;
            memmove(&sw->ports[at + 1], &sw->ports[at], (sw->n_ports - at) * sizeof(*p));
            sw->n_ports++;
        }
        sw->ports[at] = np;
    }
    return vf_model_validate(m, err, errlen);
}
