/* cfg_schema.h - the desired state's schema, one table of fields per
 * mapping (control/ only; not an API).
 *
 * What: every mapping of the YAML desired state (a chassis, a port, an ACL,
 * `local`, ...) is a struct cfg_schema: its fields with their YAML key, kind
 * (name, MAC, IPv4, number, enum, list, nested mapping, custom), whether
 * they are required, and where they live in the model's C struct. Three
 * walkers read the same tables, so a field is described once:
 *   - config.c loads YAML into the model (refusing unknown keys, wrong
 *     types, missing required fields, with FILE:LINE errors);
 *   - model_json.c writes the model back as JSON in the same shape (what
 *     `show`, the state file and edits use);
 *   - kinds.c finds an object kind's list inside its parent (vf_kinds.h).
 * Custom fields (CFG_FN) bring their own parser and writer (schema.c).
 *
 * Thread-safety: the tables are constant.
 */
#ifndef VF_CFG_SCHEMA_H
#define VF_CFG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <yaml.h>

#include "mgmt/control/vf_model.h"

#define CFG_MAX_FIELDS 16
#define CFG_VALUE_SHOWN 48      /* longest value quoted back in an error */

/* The loader's state while it walks one document (config.c). */
struct cfg {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    char path[512];             /* entry path, e.g. "tenants[0] (blue)" */
    char prefix[64];            /* nested mapping keys, e.g. "attach." */
    size_t entries, bytes;      /* list items and array bytes so far */
};

struct cfg_field;
/* Parses val into obj: 0 or -EINVAL with the error set (cfg_fail). */
typedef int (*cfg_fn)(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj);
/* The field of obj as JSON (new reference), or NULL to leave it out. */
typedef json_t *(*cfg_out_fn)(const struct cfg_field *f, const void *obj);

enum cfg_kind {
    CFG_NAME,                   /* char[size], 1..size-1 characters */
    CFG_MAC,                    /* uint8_t[6] */
    CFG_IPV4,                   /* uint32_t, network order */
    CFG_UINT,                   /* size 1, 2 or 4 bytes, min..max */
    CFG_BOOL,
    CFG_ENUM,                   /* size 1 (uint8_t) or int */
    CFG_LIST,                   /* pointer at off, size_t count at off2 */
    CFG_MAP,                    /* nested mapping over obj + off */
    CFG_FN,                     /* custom parser and writer */
};

struct cfg_schema {
    size_t size;                /* element size when used as a list */
    const struct cfg_field *fields;
    size_t n_fields;
    const char *label;          /* key whose value labels list items */
    void (*init)(void *obj);    /* defaults before the fields */
    int (*check)(struct cfg *c, const yaml_node_t *map, void *obj);
};

struct cfg_field {
    const char *key;
    enum cfg_kind kind;
    bool required;
    bool omit_zero;             /* JSON: left out while all zero bytes */
    size_t off, off2, size;
    uint32_t min, max;
    const struct vf_model_enum *enums;
    const struct cfg_schema *sub;
    cfg_fn fn;                  /* CFG_FN: the parser */
    cfg_out_fn out;             /* CFG_FN: the writer; others: NULL */
    /* JSON: written only when this says so (NULL: always). */
    bool (*emit)(const void *obj);
};

/* The schemas of the document, of `local` and of each object kind
 * (schema.c). */
extern const struct cfg_schema cfg_top_schema, cfg_local_schema,
    cfg_chassis_schema,
    cfg_tenant_schema, cfg_switch_schema, cfg_port_schema,
    cfg_router_schema, cfg_rport_schema, cfg_route_schema, cfg_acl_schema,
    cfg_pgroup_schema, cfg_aset_schema, cfg_nat_schema, cfg_lb_schema;

/* Gateways' fields that hang on the schemas above (schema_gw.c). */
extern const struct cfg_schema cfg_physical_schema;
bool cfg_switch_is_physical(const void *sw);
bool cfg_router_has_nat(const void *rt);
bool cfg_tenant_has_lbs(const void *tn);
int cfg_fn_gw_chassis(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj);
json_t *cfg_out_gw_chassis(const struct cfg_field *f, const void *obj);
int cfg_fn_physnets(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj);
json_t *cfg_out_physnets(const struct cfg_field *f, const void *obj);

/* A document of `local` alone (vfabd --store's file): config.c. */
extern const struct cfg_schema cfg_top_local_schema;
/* local.store's parser and writer (config_store.c). */
int cfg_store_parse(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj);
json_t *cfg_store_out(const struct cfg_field *f, const void *obj);

/* ---- the loader's helpers, shared by config.c and schema.c ---- */

int cfg_fail(struct cfg *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "field 'k': VALUE problem", or "field 'k' is/has ..." when the message
 * starts with a verb (FMT is always a literal here). */
#define cfg_field_fail(c, at, f, fmt, ...)                                  \
    cfg_fail((c), (at), "field '%s%s'%s" fmt, (c)->prefix, (f)->key,        \
             (strncmp(fmt, "is ", 3) == 0 || strncmp(fmt, "has ", 4) == 0 ||\
              strncmp(fmt, "lists ", 6) == 0 ||                             \
              strncmp(fmt, "contains ", 9) == 0) ? " " : ": ",              \
             ##__VA_ARGS__)

static inline const char *cfg_sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

const char *cfg_node_kind(const yaml_node_t *n);
/* The value as written, cut short and made printable, and quoted. */
const char *cfg_clean(const yaml_node_t *n, char buf[CFG_VALUE_SHOWN + 8]);
const char *cfg_shown(const yaml_node_t *n, char buf[CFG_VALUE_SHOWN + 8]);
/* A scalar without embedded NULs, else a field error naming `what`. */
int cfg_want_scalar(struct cfg *c, const yaml_node_t *n,
                    const struct cfg_field *f, const char *what);
const yaml_node_t *cfg_node_at(struct cfg *c, int id);
/* The value of key in a mapping, or NULL (also for a null value). */
const yaml_node_t *cfg_map_get(struct cfg *c, const yaml_node_t *map,
                               const char *key);
/* Counts n list items of size bytes against the model's bounds (a file
 * or alias bomb cannot make the loader allocate without end). */
int cfg_budget(struct cfg *c, const yaml_node_t *n, size_t items,
               size_t size);
/* Shared field parsers and writers (schema.c): a CIDR into (uint32_t at
 * off, uint8_t at off2; min 1: "/N" needed); "22" or "1000-2000" into two
 * uint16_t at off and off2; a list of scalars, each parsed by one() into
 * an array of size-byte items (pointer at off, size_t count at off2); a
 * name into char[VF_NAME_MAX]. */
int cfg_fn_cidr(struct cfg *c, const yaml_node_t *val,
                const struct cfg_field *f, void *obj);
json_t *cfg_out_cidr(const struct cfg_field *f, const void *obj);
int cfg_fn_port_range(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj);
json_t *cfg_out_port_range(const struct cfg_field *f, const void *obj);
int cfg_fn_scalars(struct cfg *c, const yaml_node_t *val,
                   const struct cfg_field *f, void *obj, size_t size,
                   const char *what,
                   int (*one)(struct cfg *c, const yaml_node_t *e,
                              const struct cfg_field *f, void *item));
int cfg_one_name(struct cfg *c, const yaml_node_t *e,
                 const struct cfg_field *f, void *item);
/* Walks a mapping against a schema into obj. */
int cfg_walk_map(struct cfg *c, const yaml_node_t *map,
                 const struct cfg_schema *sc, void *obj);

/* ---- JSON (model_json.c) ---- */

/* obj as JSON in the schema's shape; children false leaves out the
 * fields that are lists (an object's own fields, for diff and list). */
json_t *cfg_to_json(const struct cfg_schema *sc, const void *obj,
                    bool children);

#endif
