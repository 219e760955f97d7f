/* edit_int.h - what edit.c, edit_del.c and edit_list.c share (control/
 * only; not an API). An edit works on the model's JSON form (the YAML
 * schema's shape); objects are found through the kind table (vf_kinds.h).
 *
 * Thread-safety: one edit per struct ed; no shared state.
 */
#ifndef VF_EDIT_INT_H
#define VF_EDIT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mgmt/control/vf_kinds.h"
#include "mgmt/control/vf_model_edit.h"

#define ED_NAMES_SHOWN 8        /* names listed in one error before "..." */

struct ed {
    const char *verb;           /* "add" | "del" */
    const char *kind;
    json_t *root;               /* the model as JSON, edited in place */
    bool cascade;
    char *err;
    size_t errlen;
};

/* Where an object sits: its tenant (the object itself for a tenant; NULL
 * at the top), its parent (the root at the top), the list that holds it
 * and its index. */
struct hit {
    json_t *tenant, *parent, *list, *obj;
    size_t idx;
};

/* A bounded "a, b, c, ..." list appended to buf. */
struct names {
    char *buf;
    size_t len;
    unsigned n;
};

int ed_fail(struct ed *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void names_add(struct names *nm, const char *s);
const char *str_of(json_t *o, const char *key);
bool str_is(json_t *o, const char *key, const char *want);

/* The object of kind k whose label is name. */
bool ed_find(json_t *root, enum vf_kind k, const char *name, struct hit *h);
/* The same, or -ENOENT with "field 'F': "N" is not a K (Ks: a, b, ...)". */
int ed_need(struct ed *e, const char *field, enum vf_kind k, const char *name,
            struct hit *h);
/* Refuses spec keys outside allowed (NULL-terminated). */
int spec_keys(struct ed *e, json_t *spec, const char *const *allowed);
/* A string field of the spec: 0, 1 when absent and optional, or -EINVAL. */
int spec_str(struct ed *e, json_t *spec, const char *key, bool req,
             const char *what, const char **out);
/* An index field: 0, 1 when absent, or -EINVAL. */
int spec_index(struct ed *e, json_t *spec, size_t *out);
/* The optional "tenant" cross-check of kinds under a switch or router. */
int check_tenant(struct ed *e, json_t *spec, const struct hit *h,
                 const char *parent_what, const char *parent);
/* A load error without "<string>:LINE: " (lines of a text the user never
 * saw). */
const char *strip_where(const char *msg);

/* edit_del.c: removes the object the spec names (and, with cascade, what
 * hangs on it). */
int ed_del(struct ed *e, enum vf_kind k, json_t *spec);
/* edit_gw.c: a load balancer by name; a NAT rule by {router, index}. */
int ed_del_lb(struct ed *e, const char *name);
int ed_del_nat(struct ed *e, json_t *spec);

#endif
