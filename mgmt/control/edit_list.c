/* edit_list.c - `list KIND`: every object of a kind as an add spec plus
 * facts, walked through the kind table (vf_model_edit.h says the shape). */
#include <stdio.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/edit_int.h"

static int list_one(const struct vf_kind_ref *r, void *arg)
{
    const struct vf_kind_desc *kd = vf_kind(r->kind);
    const void *obj = r->obj[r->depth - 1];
    json_t *out = arg, *item = json_object();

    if (!item)
        return -1;
    /* Its ancestors by name: the tenant, then its parent. */
    for (unsigned d = 0; d + 1 < r->depth; d++) {
        enum vf_kind k = r->kind;
        for (unsigned up = r->depth - 1; up > d; up--)
            k = vf_kind(k)->parent;
        json_object_set_new(item, vf_kind(k)->name,
                            json_string(vf_kind_label(k, r->obj[d])));
    }
    json_object_set_new(item, kd->name, cfg_to_json(kd->schema, obj, false));
    /* How many children of each kind it has (they are listed apart). */
    for (int c = 0; c < VF_KIND__COUNT; c++)
        if (vf_kind(c)->parent == r->kind)
            json_object_set_new(item, vf_kind(c)->list, json_integer(
                (json_int_t)vf_kind_count((enum vf_kind)c, obj)));
    if (kd->has_id)
        json_object_set_new(item, "id",
                            json_integer(vf_kind_id(r->kind, obj)));
    else if (!kd->label)
        json_object_set_new(item, "index",
                            json_integer((json_int_t)r->idx[r->depth - 1]));
    return json_array_append_new(out, item) == 0 ? 0 : -1;
}

json_t *vf_model_list(const struct vf_model *m, const char *kind)
{
    enum vf_kind k = vf_kind_find(kind);
    json_t *out;

    if (k == VF_KIND_NONE)
        return NULL;
    out = json_array();
    if (out && vf_kind_walk(m, k, list_one, out) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}
