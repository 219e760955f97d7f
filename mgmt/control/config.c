/* config.c - YAML desired state to struct vf_model, with precise errors.
 *
 * libyaml's document API gives a node tree whose nodes keep their line and
 * column; a small table-driven walker maps it onto the model. Each mapping
 * in the schema is a table of fields (key, kind, required, where in the
 * struct: cfg_schema.h, the tables in schema.c); the walker refuses unknown
 * keys (listing the allowed ones), repeated keys, wrong node types and
 * missing required fields, and parses scalars (names, MACs, IPv4
 * addresses, numbers, enums; custom fields bring their own parser). Every
 * error reads
 *   FILE:LINE: ENTRY-PATH: field 'KEY': "VALUE" problem (hint)
 * e.g. demo.yaml:14: tenants[0] (blue) switches[0] (blue-web) ports[1]
 * (vm2): field 'mac': "02:00:zz" is not a MAC address (...).
 *
 * Whole-model checks (uniqueness, references, address sanity) are
 * vf_model_validate_loc()'s (validate.c); it reports a path into the
 * document and this file turns it into a line number, so both kinds of
 * error look the same to the user.
 *
 * Ownership: lists are allocated zeroed and hung on the model before their
 * elements are filled, so on any error vf_model_free() releases exactly
 * what was built and the caller gets an empty model.
 *
 * Bounds: the file is read whole (at most CFG_MAX_FILE bytes); list items
 * are counted before their array is allocated, at most CFG_MAX_ENTRIES
 * items and CFG_MAX_BYTES of arrays in all (a 100,000-port model needs
 * about 45 MiB), so YAML aliases cannot turn a small file into an unbounded
 * amount of memory or work.
 *
 * Thread-safety: no shared state; callers may load concurrently.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/vf_parse_util.h"
#include "mgmt/control/vf_yaml_guard.h"

#define CFG_MAX_FILE (64u << 20)
#define CFG_MAX_ENTRIES (1u << 20)
#define CFG_MAX_BYTES (64u << 20)

_Static_assert(sizeof(enum vf_model_encap) == sizeof(int) &&
               sizeof(enum vf_attach_type) == sizeof(int) &&
               sizeof(enum vf_uplink_type) == sizeof(int) &&
               sizeof(enum vf_acl_dir) == sizeof(int) &&
               sizeof(enum vf_acl_action) == sizeof(int),
               "CFG_ENUM stores model enums as int");

/* ---- errors ---- */

static unsigned long node_line(const yaml_node_t *n)
{
    return n ? (unsigned long)n->start_mark.line + 1 : 0;
}

int cfg_fail(struct cfg *c, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s:%lu: %s%s%s", c->file,
                 node_line(at), c->path, c->path[0] ? ": " : "", msg);
    return -EINVAL;
}

/* Writes the value as the user wrote it, cut short and made printable, to
 * out without a terminator; returns the length, at most CFG_VALUE_SHOWN + 3
 * (the "..." of a cut value). */
static size_t put_clean(const yaml_node_t *n, char *out)
{
    size_t len = n->data.scalar.length, o = 0;

    for (size_t i = 0; i < len && i < CFG_VALUE_SHOWN; i++) {
        unsigned char ch = n->data.scalar.value[i];
        out[o++] = (ch >= 32 && ch < 127 && ch != '"') ? (char)ch : '?';
    }
    if (len > CFG_VALUE_SHOWN) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    return o;
}

/* The value as the user wrote it, cut short and made printable. */
const char *cfg_clean(const yaml_node_t *n, char buf[CFG_VALUE_SHOWN + 8])
{
    buf[put_clean(n, buf)] = '\0';
    return buf;
}

/* The same, quoted: how values appear in messages. Built in place (two
 * quotes and the terminator on top of put_clean's bound fit the buffer), so
 * nothing can be cut short (snprintf("\"%s\"") was -Wformat-truncation at
 * -O3). */
const char *cfg_shown(const yaml_node_t *n, char buf[CFG_VALUE_SHOWN + 8])
{
    size_t o = 0;

    buf[o++] = '"';
    o += put_clean(n, buf + o);
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *cfg_node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a single value";
    }
}

/* A plain empty, ~ or null scalar: the key is there but says nothing. */
static bool is_null(const yaml_node_t *n)
{
    const char *s;

    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = cfg_sval(n);
    return n->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* A scalar without embedded NULs (YAML "\0" escapes would cut C strings). */
int cfg_want_scalar(struct cfg *c, const yaml_node_t *n,
                    const struct cfg_field *f, const char *what)
{
    if (n->type != YAML_SCALAR_NODE)
        return cfg_field_fail(c, n, f, "expected %s, got %s", what,
                              cfg_node_kind(n));
    if (strlen(cfg_sval(n)) != n->data.scalar.length)
        return cfg_field_fail(c, n, f, "contains a NUL character");
    return 0;
}

/* ---- the walker ---- */

const yaml_node_t *cfg_node_at(struct cfg *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

const yaml_node_t *cfg_map_get(struct cfg *c, const yaml_node_t *map,
                               const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = cfg_node_at(c, p->key);
        const yaml_node_t *v = cfg_node_at(c, p->value);
        if (k && v && k->type == YAML_SCALAR_NODE &&
            strcmp(cfg_sval(k), key) == 0)
            return is_null(v) ? NULL : v;
    }
    return NULL;
}

int cfg_budget(struct cfg *c, const yaml_node_t *n, size_t items,
               size_t size)
{
    c->entries += items;
    c->bytes += items * size;
    if (c->entries > CFG_MAX_ENTRIES || c->bytes > CFG_MAX_BYTES)
        return cfg_fail(c, n, "the model has more than %u entries or %u MiB "
                        "(aliases count every time they are used)",
                        CFG_MAX_ENTRIES, CFG_MAX_BYTES >> 20);
    return 0;
}

static int do_list(struct cfg *c, const yaml_node_t *val,
                   const struct cfg_field *f, void *obj)
{
    const struct cfg_schema *sc = f->sub;
    size_t saved = strlen(c->path), n;
    yaml_node_item_t *items;
    char *arr = NULL;
    int rc = 0;

    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected a list, got %s",
                              cfg_node_kind(val));
    items = val->data.sequence.items.start;
    n = (size_t)(val->data.sequence.items.top - items);
    rc = cfg_budget(c, val, n, sc->size);
    if (rc)
        return rc;
    if (n) {
        arr = calloc(n, sc->size);
        if (!arr)
            return cfg_fail(c, val, "out of memory for %zu %s", n, f->key);
    }
    /* Hung on the model at once so vf_model_free() finds it on error. */
    memcpy((char *)obj + f->off, &arr, sizeof(arr));
    memcpy((char *)obj + f->off2, &n, sizeof(n));
    for (size_t i = 0; i < n && rc == 0; i++) {
        const yaml_node_t *item = cfg_node_at(c, items[i]);
        const yaml_node_t *label = sc->label ? cfg_map_get(c, item, sc->label)
                                             : NULL;
        size_t used = strlen(c->path);

        snprintf(c->path + used, sizeof(c->path) - used, "%s%s[%zu]",
                 used ? " " : "", f->key, i);
        if (label && label->type == YAML_SCALAR_NODE) {
            char b[CFG_VALUE_SHOWN + 8];
            used = strlen(c->path);
            snprintf(c->path + used, sizeof(c->path) - used, " (%s)",
                     cfg_clean(label, b));
        }
        if (!item || item->type != YAML_MAPPING_NODE)
            rc = cfg_fail(c, item, "expected a mapping (key: value, ...), "
                          "got %s", item ? cfg_node_kind(item) : "nothing");
        else
            rc = cfg_walk_map(c, item, sc, arr + i * sc->size);
        if (rc == 0)
            c->path[saved] = '\0';
    }
    return rc;
}

static int do_field(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj)
{
    char *dst = (char *)obj + f->off, b[CFG_VALUE_SHOWN + 8];
    unsigned long u;
    uint32_t ip;
    int rc = 0;

    switch (f->kind) {
    case CFG_LIST:
        return do_list(c, val, f, obj);
    case CFG_MAP: {
        size_t saved = strlen(c->prefix);

        if (val->type != YAML_MAPPING_NODE)
            return cfg_field_fail(c, val, f, "expected a mapping, got %s",
                                  cfg_node_kind(val));
        snprintf(c->prefix + saved, sizeof(c->prefix) - saved, "%s.",
                 f->key);
        rc = cfg_walk_map(c, val, f->sub, dst);
        if (rc == 0)
            c->prefix[saved] = '\0';
        return rc;
    }
    case CFG_FN:
        return f->fn(c, val, f, obj);
    default:
        break;
    }
    rc = cfg_want_scalar(c, val, f, "a single value");
    if (rc)
        return rc;
    switch (f->kind) {
    case CFG_NAME:
        if (val->data.scalar.length == 0)
            return cfg_field_fail(c, val, f, "is empty");
        if (val->data.scalar.length >= f->size)
            return cfg_field_fail(c, val, f, "%s is longer than %zu "
                                  "characters", cfg_shown(val, b), f->size - 1);
        memcpy(dst, cfg_sval(val), val->data.scalar.length + 1);
        return 0;
    case CFG_MAC:
        if (!vf_parse_mac(cfg_sval(val), (uint8_t *)dst))
            return cfg_field_fail(c, val, f, "%s is not a MAC address (want "
                                  "six hex bytes like 02:00:00:00:01:02)",
                                  cfg_shown(val, b));
        return 0;
    case CFG_IPV4:
        if (!vf_parse_ip4(cfg_sval(val), &ip))
            return cfg_field_fail(c, val, f, "%s is not an IPv4 address "
                                  "(want e.g. 192.0.2.1)", cfg_shown(val, b));
        memcpy(dst, &ip, sizeof(ip));
        return 0;
    case CFG_UINT:
        if (!vf_parse_uint(cfg_sval(val), f->max, &u) || u < f->min) {
            if (!vf_parse_all_digits(cfg_sval(val)))
                return cfg_field_fail(c, val, f, "%s is not a whole number",
                                      cfg_shown(val, b));
            return cfg_field_fail(c, val, f, "%s is out of range %u..%u",
                                  cfg_shown(val, b), f->min, f->max);
        }
        if (f->size == 1)
            *(uint8_t *)dst = (uint8_t)u;
        else if (f->size == 2)
            *(uint16_t *)dst = (uint16_t)u;
        else if (f->size == 4)
            *(uint32_t *)dst = (uint32_t)u;
        else
            *(int32_t *)dst = (int32_t)u;
        return 0;
    case CFG_BOOL: {
        static const char *const yes[] = { "true", "True", "TRUE" };
        static const char *const no[] = { "false", "False", "FALSE" };
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(cfg_sval(val), yes[i]) == 0 ||
                strcmp(cfg_sval(val), no[i]) == 0) {
                *(bool *)dst = strcmp(cfg_sval(val), yes[i]) == 0;
                return 0;
            }
        }
        return cfg_field_fail(c, val, f, "%s is not true or false",
                              cfg_shown(val, b));
    }
    case CFG_ENUM: {
        char allowed[256];
        int v;
        if (vf_model_enum_parse(f->enums, cfg_sval(val), &v)) {
            if (f->size == 1)
                *(uint8_t *)dst = (uint8_t)v;
            else
                *(int *)dst = v;
            return 0;
        }
        vf_model_enum_list(f->enums, allowed, sizeof(allowed));
        return cfg_field_fail(c, val, f, "%s is not %s", cfg_shown(val, b),
                              allowed);
    }
    default:
        return cfg_field_fail(c, val, f, "internal: unknown field kind");
    }
}

int cfg_walk_map(struct cfg *c, const yaml_node_t *map,
                 const struct cfg_schema *sc, void *obj)
{
    const yaml_node_t *seen[CFG_MAX_FIELDS] = { 0 };
    int rc;

    if (sc->n_fields > CFG_MAX_FIELDS)
        return cfg_fail(c, map, "internal: schema has too many fields");
    if (sc->init)
        sc->init(obj);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = cfg_node_at(c, p->key);
        const yaml_node_t *v = cfg_node_at(c, p->value);
        const struct cfg_field *f = NULL;
        size_t i;

        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return cfg_fail(c, k, "a field name must be a plain word, got "
                            "%s", k ? cfg_node_kind(k) : "nothing");
        for (i = 0; i < sc->n_fields && !f; i++)
            if (strcmp(sc->fields[i].key, cfg_sval(k)) == 0)
                f = &sc->fields[i];
        if (!f) {
            char allowed[256] = "", b[CFG_VALUE_SHOWN + 8];
            for (i = 0; i < sc->n_fields; i++)
                snprintf(allowed + strlen(allowed),
                         sizeof(allowed) - strlen(allowed), "%s%s",
                         i ? ", " : "", sc->fields[i].key);
            return cfg_fail(c, k, "unknown field '%s%s' (allowed: %s)",
                            c->prefix, cfg_clean(k, b), allowed);
        }
        i = (size_t)(f - sc->fields);
        if (seen[i])
            return cfg_fail(c, k, "field '%s%s' is given twice (first on "
                            "line %lu)", c->prefix, f->key,
                            node_line(seen[i]));
        seen[i] = k;
        if (is_null(v)) {
            if (f->required)
                return cfg_field_fail(c, v, f, "has no value (required)");
            continue;
        }
        rc = do_field(c, v, f, obj);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < sc->n_fields; i++)
        if (sc->fields[i].required && !seen[i])
            return cfg_fail(c, map, "missing field '%s%s' (required)",
                            c->prefix, sc->fields[i].key);
    return sc->check ? sc->check(c, map, obj) : 0;
}

/* ---- entry points ---- */

/* The node a validation error points at: the field's value, else the
 * deepest entry found on the way. */
static const yaml_node_t *locate(struct cfg *c, const yaml_node_t *root,
                                 const struct vf_model_errloc *loc)
{
    const yaml_node_t *n = root, *next;
    char field[128], *part, *save = NULL;

    for (unsigned d = 0; d < loc->depth && d < VF_MODEL_LOC_DEPTH; d++) {
        next = cfg_map_get(c, n, loc->key[d]);
        if (!next)
            return n;
        n = next;
        if (loc->idx[d] == SIZE_MAX)
            continue;
        if (n->type != YAML_SEQUENCE_NODE ||
            loc->idx[d] >= (size_t)(n->data.sequence.items.top -
                                    n->data.sequence.items.start))
            return n;
        n = cfg_node_at(c, n->data.sequence.items.start[loc->idx[d]]);
    }
    snprintf(field, sizeof(field), "%s", loc->field ? loc->field : "");
    for (part = strtok_r(field, ".", &save); part && n;
         part = strtok_r(NULL, ".", &save)) {
        next = cfg_map_get(c, n, part);
        if (!next)
            break;
        n = next;
    }
    return n;
}

/* vfabd --store's file holds `local` alone: anything else at the top is
 * named, with what to do instead. 0 or -EINVAL. */
static int local_only_keys(struct cfg *c, const yaml_node_t *root)
{
    char extra[256] = "";
    const yaml_node_t *first = NULL;

    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = cfg_node_at(c, p->key);
        char b[CFG_VALUE_SHOWN + 8];
        if (!k || (k->type == YAML_SCALAR_NODE && !strcmp(cfg_sval(k), "local")))
            continue;
        first = first ? first : k;
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s'%s'",
                 extra[0] ? ", " : "", k->type == YAML_SCALAR_NODE
                                        ? cfg_clean(k, b) : cfg_node_kind(k));
    }
    if (!first)
        return 0;
    return cfg_fail(c, first, "with a store (vfabd --store or local.store) the "
                    "fabric comes from etcd and this file holds only this "
                    "host's local section: drop %s from it (write the fabric "
                    "with: vfabctl --store URL apply FILE)", extra);
}

static int load(const char *file, const char *yaml, size_t len,
                struct vf_model *m, char *err, size_t errlen, bool local_only)
{
    struct cfg c = { .file = file, .err = err, .errlen = errlen };
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    const yaml_node_t *root;
    struct vf_model_errloc loc;
    char vmsg[1024];
    bool have_doc = false;
    int rc = -EINVAL;

    memset(m, 0, sizeof(*m));
    err[0] = '\0';
    /* Not UTF-8, or nested past the schema: refused in linear time. */
    rc = vf_yaml_guard(file, yaml, len, err, errlen);
    if (rc)
        return rc;
    rc = -EINVAL;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", file);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc))
        goto syntax;
    have_doc = true;
    c.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (!root) {
        snprintf(err, errlen, "%s:1: the file is empty (want a mapping with "
                 "chassis, tenants and local)", file);
        goto out;
    }
    if (!yaml_parser_load(&parser, &extra))
        goto syntax;
    if (yaml_document_get_root_node(&extra)) {
        snprintf(err, errlen, "%s:%lu: a second YAML document ('---'); the "
                 "desired state is one document", file,
                 (unsigned long)extra.start_mark.line + 1);
        yaml_document_delete(&extra);
        goto out;
    }
    yaml_document_delete(&extra);
    if (root->type != YAML_MAPPING_NODE) {
        rc = cfg_fail(&c, root, "expected a mapping with chassis, tenants "
                      "and local at the top, got %s", cfg_node_kind(root));
        goto out;
    }
    if (local_only) {
        rc = local_only_keys(&c, root);
        if (!rc)
            rc = cfg_walk_map(&c, root, &cfg_top_local_schema, m);
        if (!rc)
            m->local.chassis_idx = -1;      /* resolved against the store's */
        goto out;
    }
    rc = cfg_walk_map(&c, root, &cfg_top_schema, m);
    if (rc)
        goto out;
    rc = vf_model_validate_loc(m, vmsg, sizeof(vmsg), &loc);
    if (rc == -EINVAL)
        snprintf(err, errlen, "%s:%lu: %s", file,
                 node_line(locate(&c, root, &loc)), vmsg);
    else if (rc)
        snprintf(err, errlen, "%s: %s", file, vmsg);
    goto out;
syntax:
    snprintf(err, errlen, "%s:%lu:%lu: YAML syntax error: %s%s%s", file,
             (unsigned long)parser.problem_mark.line + 1,
             (unsigned long)parser.problem_mark.column + 1,
             parser.problem ? parser.problem : "malformed document",
             parser.context ? " " : "", parser.context ? parser.context : "");
    rc = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc)
        vf_model_free(m);
    return rc;
}

int vf_config_load_string(const char *yaml, size_t len, struct vf_model *m,
                          char *err, size_t errlen)
{
    char none[1];

    if (!err || !errlen)
        err = none, errlen = sizeof(none);
    return load("<string>", yaml, len, m, err, errlen, false);
}

static int load_file(const char *path, struct vf_model *m, char *err,
                     size_t errlen, bool local_only)
{
    FILE *f;
    char *buf = NULL, none[1];
    long size;
    int rc;

    if (!err || !errlen)
        err = none, errlen = sizeof(none);
    memset(m, 0, sizeof(*m));
    f = fopen(path, "rb");
    if (!f)
        goto io;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto io;
    if ((unsigned long)size > CFG_MAX_FILE) {
        snprintf(err, errlen, "%s: %ld bytes is more than the %u allowed",
                 path, size, CFG_MAX_FILE);
        fclose(f);
        return -EFBIG;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) {
        errno = ENOMEM;
        goto io;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        if (!ferror(f))
            errno = EIO;
        goto io;
    }
    fclose(f);
    rc = load(path, buf, (size_t)size, m, err, errlen, local_only);
    free(buf);
    return rc;
io:
    rc = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (f)
        fclose(f);
    free(buf);
    return rc ? rc : -EIO;
}

int vf_config_load(const char *path, struct vf_model *m, char *err,
                   size_t errlen)
{
    return load_file(path, m, err, errlen, false);
}

int vf_config_load_local(const char *path, struct vf_model *m, char *err,
                         size_t errlen)
{
    return load_file(path, m, err, errlen, true);
}
