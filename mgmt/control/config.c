/* config.c - YAML desired state to struct vf_model, with precise errors.
 *
 * libyaml's document API gives a node tree whose nodes keep their line and
 * column; a small table-driven walker maps it onto the model. Each mapping
 * in the schema is a table of fields (key, kind, required, where in the
 * struct); the walker refuses unknown keys (listing the allowed ones),
 * repeated keys, wrong node types and missing required fields, and parses
 * scalars (names, MACs, IPv4 and IPv6 addresses, CIDRs, ranges). Every
 * error reads
 *   FILE:LINE: ENTRY-PATH: field 'KEY': "VALUE" problem (hint)
 * e.g. demo.yaml:14: tenants[0] (blue) switches[0] (blue-web) ports[1]
 * (vm2): field 'mac': "02:00:zz" is not a MAC address (...).
 *
 * Whole-model checks (uniqueness, references, address sanity) are
 * vf_model_validate_loc()'s (model.c); it reports a path into the document
 * and this file turns it into a line number, so both kinds of error look
 * the same to the user.
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
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mgmt/control/vf_model.h"

#define CFG_MAX_FILE (64u << 20)
#define CFG_MAX_ENTRIES (1u << 20)
#define CFG_MAX_BYTES (64u << 20)
#define CFG_MAX_FIELDS 16
#define CFG_VALUE_SHOWN 48      /* longest value quoted back in an error */

_Static_assert(sizeof(enum vf_model_encap) == sizeof(int) &&
               sizeof(enum vf_attach_type) == sizeof(int) &&
               sizeof(enum vf_uplink_type) == sizeof(int) &&
               sizeof(enum vf_acl_dir) == sizeof(int) &&
               sizeof(enum vf_acl_action) == sizeof(int),
               "CFG_ENUM stores model enums as int");

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
typedef int (*cfg_fn)(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj);

enum cfg_kind {
    CFG_NAME,                   /* char[size], 1..size-1 characters */
    CFG_MAC,                    /* uint8_t[6] */
    CFG_IPV4,                   /* uint32_t, network order */
    CFG_UINT,                   /* size 1, 2 or 4 bytes, min..max */
    CFG_BOOL,
    CFG_ENUM,                   /* size 1 (uint8_t) or int */
    CFG_LIST,                   /* pointer at off, size_t count at off2 */
    CFG_MAP,                    /* nested mapping over obj + off */
    CFG_FN,                     /* custom parser */
};

struct cfg_enum {
    const char *text;
    int value;
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
    size_t off, off2, size;
    uint32_t min, max;
    const struct cfg_enum *enums;       /* NULL-terminated */
    const struct cfg_schema *sub;
    cfg_fn fn;
};

/* ---- errors ---- */

static unsigned long node_line(const yaml_node_t *n)
{
    return n ? (unsigned long)n->start_mark.line + 1 : 0;
}

static int cfg_fail(struct cfg *c, const yaml_node_t *at, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

static int cfg_fail(struct cfg *c, const yaml_node_t *at, const char *fmt,
                    ...)
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

/* "field 'k': VALUE problem", or "field 'k' is/has ..." when the message
 * starts with a verb (FMT is always a literal here). */
#define cfg_field_fail(c, at, f, fmt, ...)                                  \
    cfg_fail((c), (at), "field '%s%s'%s" fmt, (c)->prefix, (f)->key,        \
             (strncmp(fmt, "is ", 3) == 0 || strncmp(fmt, "has ", 4) == 0 ||\
              strncmp(fmt, "lists ", 6) == 0 ||                             \
              strncmp(fmt, "contains ", 9) == 0) ? " " : ": ",              \
             ##__VA_ARGS__)

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* The value as the user wrote it, cut short and made printable. */
static const char *clean(const yaml_node_t *n, char buf[CFG_VALUE_SHOWN + 8])
{
    size_t len = n->data.scalar.length, o = 0;

    for (size_t i = 0; i < len && i < CFG_VALUE_SHOWN; i++) {
        unsigned char ch = n->data.scalar.value[i];
        buf[o++] = (ch >= 32 && ch < 127 && ch != '"') ? (char)ch : '?';
    }
    if (len > CFG_VALUE_SHOWN) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* The same, quoted: how values appear in messages. */
static const char *shown(const yaml_node_t *n, char buf[CFG_VALUE_SHOWN + 8])
{
    char tmp[CFG_VALUE_SHOWN + 8];

    snprintf(buf, CFG_VALUE_SHOWN + 8, "\"%s\"", clean(n, tmp));
    return buf;
}

static const char *node_kind(const yaml_node_t *n)
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
    s = sval(n);
    return n->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* A scalar without embedded NULs (YAML "\0" escapes would cut C strings). */
static int want_scalar(struct cfg *c, const yaml_node_t *n,
                       const struct cfg_field *f, const char *what)
{
    if (n->type != YAML_SCALAR_NODE)
        return cfg_field_fail(c, n, f, "expected %s, got %s", what,
                              node_kind(n));
    if (strlen(sval(n)) != n->data.scalar.length)
        return cfg_field_fail(c, n, f, "contains a NUL character");
    return 0;
}

/* ---- scalar parsers ---- */

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned long d = (unsigned long)(*s - '0');
        if (*s < '0' || *s > '9' || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++, s++) {
            char ch = *s;
            v <<= 4;
            if (ch >= '0' && ch <= '9')
                v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v |= (unsigned)(ch - 'a' + 10);
            else if (ch >= 'A' && ch <= 'F')
                v |= (unsigned)(ch - 'A' + 10);
            else
                return false;
        }
        mac[i] = (uint8_t)v;
        if (*s != (i == 5 ? '\0' : ':'))
            return false;
        if (i < 5)
            s++;
    }
    return true;
}

static bool parse_ip(const char *s, uint32_t *ip)
{
    struct in_addr a;

    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *ip = a.s_addr;
    return true;
}

/* "A.B.C.D/N"; with need_plen false also "A.B.C.D" (a /32). */
static bool parse_cidr(const char *s, bool need_plen, uint32_t *ip,
                       uint8_t *plen)
{
    char buf[INET_ADDRSTRLEN + 4];
    const char *slash = strchr(s, '/');
    unsigned long n = 32;
    size_t len = slash ? (size_t)(slash - s) : strlen(s);

    if ((!slash && need_plen) || len >= INET_ADDRSTRLEN)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!parse_ip(buf, ip))
        return false;
    if (slash && !parse_uint(slash + 1, 32, &n))
        return false;
    *plen = (uint8_t)n;
    return true;
}

/* ---- the walker ---- */

static int walk_map(struct cfg *c, const yaml_node_t *map,
                    const struct cfg_schema *sc, void *obj);

static const yaml_node_t *node_at(struct cfg *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

/* The value of key in a mapping, or NULL (also for a null value). */
static const yaml_node_t *map_get(struct cfg *c, const yaml_node_t *map,
                                  const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key);
        const yaml_node_t *v = node_at(c, p->value);
        if (k && v && k->type == YAML_SCALAR_NODE &&
            strcmp(sval(k), key) == 0)
            return is_null(v) ? NULL : v;
    }
    return NULL;
}

static int budget(struct cfg *c, const yaml_node_t *n, size_t items,
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
                              node_kind(val));
    items = val->data.sequence.items.start;
    n = (size_t)(val->data.sequence.items.top - items);
    rc = budget(c, val, n, sc->size);
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
        const yaml_node_t *item = node_at(c, items[i]);
        const yaml_node_t *label = sc->label ? map_get(c, item, sc->label)
                                             : NULL;
        size_t used = strlen(c->path);

        snprintf(c->path + used, sizeof(c->path) - used, "%s%s[%zu]",
                 used ? " " : "", f->key, i);
        if (label && label->type == YAML_SCALAR_NODE) {
            char b[CFG_VALUE_SHOWN + 8];
            used = strlen(c->path);
            snprintf(c->path + used, sizeof(c->path) - used, " (%s)",
                     clean(label, b));
        }
        if (!item || item->type != YAML_MAPPING_NODE)
            rc = cfg_fail(c, item, "expected a mapping (key: value, ...), "
                          "got %s", item ? node_kind(item) : "nothing");
        else
            rc = walk_map(c, item, sc, arr + i * sc->size);
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
                                  node_kind(val));
        snprintf(c->prefix + saved, sizeof(c->prefix) - saved, "%s.",
                 f->key);
        rc = walk_map(c, val, f->sub, dst);
        if (rc == 0)
            c->prefix[saved] = '\0';
        return rc;
    }
    case CFG_FN:
        return f->fn(c, val, f, obj);
    default:
        break;
    }
    rc = want_scalar(c, val, f, "a single value");
    if (rc)
        return rc;
    switch (f->kind) {
    case CFG_NAME:
        if (val->data.scalar.length == 0)
            return cfg_field_fail(c, val, f, "is empty");
        if (val->data.scalar.length >= f->size)
            return cfg_field_fail(c, val, f, "%s is longer than %zu "
                                  "characters", shown(val, b), f->size - 1);
        memcpy(dst, sval(val), val->data.scalar.length + 1);
        return 0;
    case CFG_MAC:
        if (!parse_mac(sval(val), (uint8_t *)dst))
            return cfg_field_fail(c, val, f, "%s is not a MAC address (want "
                                  "six hex bytes like 02:00:00:00:01:02)",
                                  shown(val, b));
        return 0;
    case CFG_IPV4:
        if (!parse_ip(sval(val), &ip))
            return cfg_field_fail(c, val, f, "%s is not an IPv4 address "
                                  "(want e.g. 192.0.2.1)", shown(val, b));
        memcpy(dst, &ip, sizeof(ip));
        return 0;
    case CFG_UINT:
        if (!parse_uint(sval(val), f->max, &u) || u < f->min) {
            if (!all_digits(sval(val)))
                return cfg_field_fail(c, val, f, "%s is not a whole number",
                                      shown(val, b));
            return cfg_field_fail(c, val, f, "%s is out of range %u..%u",
                                  shown(val, b), f->min, f->max);
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
            if (strcmp(sval(val), yes[i]) == 0 ||
                strcmp(sval(val), no[i]) == 0) {
                *(bool *)dst = strcmp(sval(val), yes[i]) == 0;
                return 0;
            }
        }
        return cfg_field_fail(c, val, f, "%s is not true or false",
                              shown(val, b));
    }
    case CFG_ENUM: {
        char allowed[256] = "";
        for (const struct cfg_enum *e = f->enums; e->text; e++) {
            if (strcmp(sval(val), e->text) == 0) {
                if (f->size == 1)
                    *(uint8_t *)dst = (uint8_t)e->value;
                else
                    *(int *)dst = e->value;
                return 0;
            }
            snprintf(allowed + strlen(allowed),
                     sizeof(allowed) - strlen(allowed), "%s%s",
                     e == f->enums ? "" : e[1].text ? ", " : " or ",
                     e->text);
        }
        return cfg_field_fail(c, val, f, "%s is not %s", shown(val, b),
                              allowed);
    }
    default:
        return cfg_field_fail(c, val, f, "internal: unknown field kind");
    }
}

static int walk_map(struct cfg *c, const yaml_node_t *map,
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
        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const struct cfg_field *f = NULL;
        size_t i;

        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return cfg_fail(c, k, "a field name must be a plain word, got "
                            "%s", k ? node_kind(k) : "nothing");
        for (i = 0; i < sc->n_fields && !f; i++)
            if (strcmp(sc->fields[i].key, sval(k)) == 0)
                f = &sc->fields[i];
        if (!f) {
            char allowed[256] = "", b[CFG_VALUE_SHOWN + 8];
            for (i = 0; i < sc->n_fields; i++)
                snprintf(allowed + strlen(allowed),
                         sizeof(allowed) - strlen(allowed), "%s%s",
                         i ? ", " : "", sc->fields[i].key);
            return cfg_fail(c, k, "unknown field '%s%s' (allowed: %s)",
                            c->prefix, clean(k, b), allowed);
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

/* ---- custom fields ---- */

/* `ips:` holds both families: IPv4 entries go to ips[], IPv6 ones to
 * ip6s[] (the model keeps them apart, the pipeline checks them apart). */
static int fn_ips(struct cfg *c, const yaml_node_t *val,
                  const struct cfg_field *f, void *obj)
{
    struct vf_model_port *p = obj;
    yaml_node_item_t *it = val->data.sequence.items.start;
    char b[CFG_VALUE_SHOWN + 8];
    size_t n;

    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected a list of IP addresses "
                              "([\"10.0.0.1\", \"2001:db8::1\"]), got %s",
                              node_kind(val));
    n = (size_t)(val->data.sequence.items.top - it);
    if (n > VF_MODEL_MAX_IPS + VF_MODEL_MAX_IP6S)
        return cfg_field_fail(c, val, f, "has %zu addresses (at most %d IPv4 "
                              "and %d IPv6)", n, VF_MODEL_MAX_IPS,
                              VF_MODEL_MAX_IP6S);
    p->n_ips = p->n_ip6s = 0;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = node_at(c, it[i]);
        uint8_t a6[16];
        uint32_t a4;
        bool dup = false;
        int rc = want_scalar(c, e, f, "an IP address");

        if (rc)
            return rc;
        if (parse_ip(sval(e), &a4)) {
            for (unsigned j = 0; j < p->n_ips; j++)
                dup |= p->ips[j] == a4;
            if (!dup && p->n_ips == VF_MODEL_MAX_IPS)
                return cfg_field_fail(c, e, f, "has more than %d IPv4 "
                                      "addresses", VF_MODEL_MAX_IPS);
            if (!dup)
                p->ips[p->n_ips++] = a4;
        } else if (inet_pton(AF_INET6, sval(e), a6) == 1) {
            for (unsigned j = 0; j < p->n_ip6s; j++)
                dup |= memcmp(p->ip6s[j], a6, 16) == 0;
            if (!dup && p->n_ip6s == VF_MODEL_MAX_IP6S)
                return cfg_field_fail(c, e, f, "has more than %d IPv6 "
                                      "addresses", VF_MODEL_MAX_IP6S);
            if (!dup)
                memcpy(p->ip6s[p->n_ip6s++], a6, 16);
        } else {
            return cfg_field_fail(c, e, f, "%s is not an IPv4 or IPv6 "
                                  "address (want e.g. 10.0.0.1 or "
                                  "2001:db8::1)", shown(e, b));
        }
        if (dup)
            return cfg_field_fail(c, e, f, "%s is listed twice",
                                  shown(e, b));
    }
    return 0;
}

/* CIDR into (uint32_t at off, uint8_t at off2); f->min = 1: "/N" needed. */
static int fn_cidr(struct cfg *c, const yaml_node_t *val,
                   const struct cfg_field *f, void *obj)
{
    char b[CFG_VALUE_SHOWN + 8];
    uint32_t ip;
    uint8_t plen;
    int rc = want_scalar(c, val, f, "an address with a prefix length");

    if (rc)
        return rc;
    if (!parse_cidr(sval(val), f->min == 1, &ip, &plen))
        return cfg_field_fail(c, val, f, "%s is not %s", shown(val, b),
                              f->min == 1 ?
                              "an IPv4 prefix (want e.g. 10.0.0.254/24)" :
                              "an IPv4 address or prefix (want e.g. "
                              "10.0.0.5 or 10.0.0.0/24)");
    memcpy((char *)obj + f->off, &ip, sizeof(ip));
    *((uint8_t *)obj + f->off2) = plen;
    return 0;
}

/* "22" or "1000-2000" into (uint16_t lo at off, uint16_t hi at off2). */
static int fn_port_range(struct cfg *c, const yaml_node_t *val,
                         const struct cfg_field *f, void *obj)
{
    char buf[16], b[CFG_VALUE_SHOWN + 8], *dash;
    unsigned long lo, hi;
    uint16_t l16, h16;
    int rc = want_scalar(c, val, f, "a port or port range");

    if (rc)
        return rc;
    if (val->data.scalar.length >= sizeof(buf))
        goto bad;
    memcpy(buf, sval(val), val->data.scalar.length + 1);
    dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    if (!parse_uint(buf, 65535, &lo))
        goto bad;
    hi = lo;
    if (dash && !parse_uint(dash + 1, 65535, &hi))
        goto bad;
    if (lo > hi)
        return cfg_field_fail(c, val, f, "%s is an empty range (low > high; "
                              "want e.g. 1000-2000)", shown(val, b));
    l16 = (uint16_t)lo, h16 = (uint16_t)hi;
    memcpy((char *)obj + f->off, &l16, sizeof(l16));
    memcpy((char *)obj + f->off2, &h16, sizeof(h16));
    return 0;
bad:
    return cfg_field_fail(c, val, f, "%s is not a port or port range (want "
                          "22 or 1000-2000, within 0..65535)", shown(val, b));
}

static int fn_workers(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj)
{
    struct vf_model_workers *w = &((struct vf_model_local *)obj)->workers;
    char b[CFG_VALUE_SHOWN + 8];
    unsigned long u;

    memset(w, 0, sizeof(*w));
    if (val->type == YAML_SCALAR_NODE) {
        if (strcmp(sval(val), "auto") == 0) {
            w->mode = VF_MODEL_WORKERS_AUTO;
            return 0;
        }
        if (all_digits(sval(val))) {
            if (!parse_uint(sval(val), VF_MODEL_MAX_WORKERS, &u) || u < 1)
                return cfg_field_fail(c, val, f, "%s is out of range 1..%d",
                                      shown(val, b), VF_MODEL_MAX_WORKERS);
            w->mode = VF_MODEL_WORKERS_COUNT;
            w->count = (int)u;
            return 0;
        }
        return cfg_field_fail(c, val, f, "%s is not auto, a worker count "
                              "(1..%d) or a list of cpus", shown(val, b),
                              VF_MODEL_MAX_WORKERS);
    }
    if (val->type != YAML_SEQUENCE_NODE)
        return cfg_field_fail(c, val, f, "expected auto, a count or a list "
                              "of cpus, got %s", node_kind(val));
    w->mode = VF_MODEL_WORKERS_LIST;
    for (yaml_node_item_t *it = val->data.sequence.items.start;
         it < val->data.sequence.items.top; it++) {
        const yaml_node_t *e = node_at(c, *it);
        int rc = want_scalar(c, e, f, "a cpu number");
        if (rc)
            return rc;
        if (w->n_cpus >= VF_MODEL_MAX_WORKERS)
            return cfg_field_fail(c, e, f, "lists more than %d cpus",
                                  VF_MODEL_MAX_WORKERS);
        if (!parse_uint(sval(e), 1u << 20, &u))
            return cfg_field_fail(c, e, f, "%s is not a cpu number",
                                  shown(e, b));
        w->cpus[w->n_cpus++] = (int)u;
    }
    if (w->n_cpus == 0)
        return cfg_field_fail(c, val, f, "is an empty list of cpus");
    return 0;
}

/* Parses "ADDR[:PORT]" (port 1..65535; required when want_port). */
static bool parse_addr_port(const yaml_node_t *val, bool want_port,
                            uint32_t *ip, uint16_t *port)
{
    char buf[INET_ADDRSTRLEN + 8], *colon;
    unsigned long p = 0;

    if (val->data.scalar.length >= sizeof(buf))
        return false;
    memcpy(buf, sval(val), val->data.scalar.length + 1);
    colon = strchr(buf, ':');
    if (!colon && want_port)
        return false;
    if (colon) {
        *colon = '\0';
        if (!parse_uint(colon + 1, 65535, &p) || p == 0)
            return false;
    }
    if (!parse_ip(buf, ip))
        return false;
    *port = (uint16_t)p;
    return true;
}

/* "ADDR[:PORT]" for the udp uplink. */
static int fn_bind(struct cfg *c, const yaml_node_t *val,
                   const struct cfg_field *f, void *obj)
{
    struct vf_model_local *l = obj;
    char b[CFG_VALUE_SHOWN + 8];
    int rc = want_scalar(c, val, f, "ADDR[:PORT]");

    if (rc)
        return rc;
    if (!parse_addr_port(val, false, &l->bind_ip, &l->bind_port))
        return cfg_field_fail(c, val, f, "%s is not ADDR[:PORT] (want e.g. "
                              "192.0.2.1:6081; port 1..65535)", shown(val, b));
    return 0;
}

/* "ADDR:PORT" where vfabd serves Prometheus metrics (off when absent). */
static int fn_metrics(struct cfg *c, const yaml_node_t *val,
                      const struct cfg_field *f, void *obj)
{
    struct vf_model_local *l = obj;
    char b[CFG_VALUE_SHOWN + 8];
    int rc = want_scalar(c, val, f, "ADDR:PORT");

    if (rc)
        return rc;
    if (!parse_addr_port(val, true, &l->metrics_ip, &l->metrics_port))
        return cfg_field_fail(c, val, f, "%s is not ADDR:PORT (want e.g. "
                              "127.0.0.1:9464; port 1..65535)", shown(val, b));
    return 0;
}

/* ---- the schema ---- */

#define NAME(k, st, fld, req) { .key = k, .kind = CFG_NAME, .required = req, \
    .off = offsetof(st, fld), .size = sizeof(((st *)0)->fld) }
#define FIELD(k, knd, st, fld, req) { .key = k, .kind = knd,                \
    .required = req, .off = offsetof(st, fld), .size = sizeof(((st *)0)->fld) }
#define UINT(k, st, fld, req, lo, hi) { .key = k, .kind = CFG_UINT,         \
    .required = req, .off = offsetof(st, fld),                              \
    .size = sizeof(((st *)0)->fld), .min = lo, .max = hi }
#define ENUM(k, st, fld, req, tbl) { .key = k, .kind = CFG_ENUM,            \
    .required = req, .off = offsetof(st, fld),                              \
    .size = sizeof(((st *)0)->fld), .enums = tbl }
#define LIST(k, st, arr, cnt, req, sch) { .key = k, .kind = CFG_LIST,       \
    .required = req, .off = offsetof(st, arr), .off2 = offsetof(st, cnt),   \
    .sub = &sch }
#define MAP(k, st, fld, req, sch) { .key = k, .kind = CFG_MAP,              \
    .required = req, .off = fld, .sub = &sch }
#define FN(k, req, f, st, a, b, lo) { .key = k, .kind = CFG_FN,             \
    .required = req, .fn = f, .off = a, .off2 = b, .min = lo }
#define SCHEMA(st, tbl, lbl, in, chk) { .size = sizeof(st), .fields = tbl,  \
    .n_fields = sizeof(tbl) / sizeof(tbl[0]), .label = lbl, .init = in,     \
    .check = chk }

static const struct cfg_enum encaps[] = {
    { "geneve", VF_MODEL_ENCAP_GENEVE }, { "vxlan", VF_MODEL_ENCAP_VXLAN }, { NULL, 0 } };
static const struct cfg_enum attach_types[] = {
    { "ring", VF_ATTACH_RING }, { "tap", VF_ATTACH_TAP },
    { "verbs", VF_ATTACH_VERBS }, { NULL, 0 } };
static const struct cfg_enum uplink_types[] = {
    { "ring", VF_UPLINK_RING }, { "udp", VF_UPLINK_UDP },
    { "verbs", VF_UPLINK_VERBS }, { NULL, 0 } };
static const struct cfg_enum dirs[] = {
    { "from-port", VF_ACL_FROM_PORT }, { "to-port", VF_ACL_TO_PORT },
    { NULL, 0 } };
static const struct cfg_enum actions[] = {
    { "allow", VF_ACL_ALLOW }, { "drop", VF_ACL_DROP }, { NULL, 0 } };
static const struct cfg_enum protos[] = {
    { "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "any", 0 }, { NULL, 0 } };

static const struct cfg_field chassis_fields[] = {
    NAME("name", struct vf_model_chassis, name, true),
    FIELD("underlay_ip", CFG_IPV4, struct vf_model_chassis, underlay_ip,
          true),
    ENUM("encap", struct vf_model_chassis, encap, false, encaps),
    UINT("port", struct vf_model_chassis, udp_port, false, 1, 65535),
};
static const struct cfg_schema chassis_schema =
    SCHEMA(struct vf_model_chassis, chassis_fields, "name", NULL, NULL);

static const struct cfg_field attach_fields[] = {
    ENUM("type", struct vf_model_attach, type, true, attach_types),
    NAME("name", struct vf_model_attach, name, false),
    NAME("device", struct vf_model_attach, device, false),
};
static const struct cfg_schema attach_schema =
    SCHEMA(struct vf_model_attach, attach_fields, NULL, NULL, NULL);

static void port_init(void *obj)
{
    ((struct vf_model_port *)obj)->chassis_idx = -1;
}

static const struct cfg_field port_fields[] = {
    NAME("name", struct vf_model_port, name, true),
    FIELD("mac", CFG_MAC, struct vf_model_port, mac, true),
    FN("ips", false, fn_ips, struct vf_model_port, 0, 0, 0),
    NAME("chassis", struct vf_model_port, chassis, true),
    MAP("attach", struct vf_model_port, offsetof(struct vf_model_port, attach),
        false, attach_schema),
    FIELD("port_security", CFG_BOOL, struct vf_model_port, port_security,
          false),
};
static const struct cfg_schema port_schema =
    SCHEMA(struct vf_model_port, port_fields, "name", port_init, NULL);

static const struct cfg_field switch_fields[] = {
    NAME("name", struct vf_model_switch, name, true),
    UINT("vni", struct vf_model_switch, vni, true, 1, 16777215),
    LIST("ports", struct vf_model_switch, ports, n_ports, false, port_schema),
};
static const struct cfg_schema switch_schema =
    SCHEMA(struct vf_model_switch, switch_fields, "name", NULL, NULL);

static void rport_init(void *obj)
{
    ((struct vf_model_rport *)obj)->switch_idx = -1;
}

static const struct cfg_field rport_fields[] = {
    NAME("name", struct vf_model_rport, name, true),
    NAME("switch", struct vf_model_rport, sw, true),
    FIELD("mac", CFG_MAC, struct vf_model_rport, mac, true),
    FN("cidr", true, fn_cidr, struct vf_model_rport,
       offsetof(struct vf_model_rport, ip),
       offsetof(struct vf_model_rport, plen), 1),
};
static const struct cfg_schema rport_schema =
    SCHEMA(struct vf_model_rport, rport_fields, "name", rport_init, NULL);

static const struct cfg_field route_fields[] = {
    FN("prefix", true, fn_cidr, struct vf_model_route,
       offsetof(struct vf_model_route, prefix),
       offsetof(struct vf_model_route, plen), 1),
    FIELD("nexthop", CFG_IPV4, struct vf_model_route, nexthop, true),
};
static const struct cfg_schema route_schema =
    SCHEMA(struct vf_model_route, route_fields, NULL, NULL, NULL);

static const struct cfg_field router_fields[] = {
    NAME("name", struct vf_model_router, name, true),
    LIST("ports", struct vf_model_router, ports, n_ports, false,
         rport_schema),
    LIST("routes", struct vf_model_router, routes, n_routes, false,
         route_schema),
};
static const struct cfg_schema router_schema =
    SCHEMA(struct vf_model_router, router_fields, "name", NULL, NULL);

static const struct cfg_field match_fields[] = {
    ENUM("proto", struct vf_model_acl, proto, false, protos),
    FN("src_ip", false, fn_cidr, struct vf_model_acl,
       offsetof(struct vf_model_acl, ip_src),
       offsetof(struct vf_model_acl, src_plen), 0),
    FN("dst_ip", false, fn_cidr, struct vf_model_acl,
       offsetof(struct vf_model_acl, ip_dst),
       offsetof(struct vf_model_acl, dst_plen), 0),
    FN("src_port", false, fn_port_range, struct vf_model_acl,
       offsetof(struct vf_model_acl, sport_lo),
       offsetof(struct vf_model_acl, sport_hi), 0),
    FN("dst_port", false, fn_port_range, struct vf_model_acl,
       offsetof(struct vf_model_acl, dport_lo),
       offsetof(struct vf_model_acl, dport_hi), 0),
};
static const struct cfg_schema match_schema =
    SCHEMA(struct vf_model_acl, match_fields, NULL, NULL, NULL);

static void acl_init(void *obj)
{
    struct vf_model_acl *a = obj;

    a->switch_idx = -1;
    a->sport_hi = 65535;
    a->dport_hi = 65535;
}

static const struct cfg_field acl_fields[] = {
    NAME("switch", struct vf_model_acl, sw, true),
    NAME("port", struct vf_model_acl, port, false),
    ENUM("direction", struct vf_model_acl, dir, true, dirs),
    UINT("priority", struct vf_model_acl, priority, true, 0, 65535),
    ENUM("action", struct vf_model_acl, action, true, actions),
    MAP("match", struct vf_model_acl, 0, false, match_schema),
};
static const struct cfg_schema acl_schema =
    SCHEMA(struct vf_model_acl, acl_fields, NULL, acl_init, NULL);

static const struct cfg_field tenant_fields[] = {
    NAME("name", struct vf_model_tenant, name, true),
    LIST("switches", struct vf_model_tenant, switches, n_switches, false,
         switch_schema),
    LIST("routers", struct vf_model_tenant, routers, n_routers, false,
         router_schema),
    LIST("acls", struct vf_model_tenant, acls, n_acls, false, acl_schema),
};
static const struct cfg_schema tenant_schema =
    SCHEMA(struct vf_model_tenant, tenant_fields, "name", NULL, NULL);

/* Presence rules the values alone cannot show (bind 0.0.0.0 is legal). */
static int uplink_check(struct cfg *c, const yaml_node_t *map, void *obj)
{
    const struct vf_model_local *l = obj;
    const yaml_node_t *bind = map_get(c, map, "bind");

    if (l->uplink == VF_UPLINK_UDP && !bind)
        return cfg_fail(c, map, "missing field '%sbind' (required with "
                        "uplink type udp, e.g. 192.0.2.1:6081)", c->prefix);
    if (l->uplink != VF_UPLINK_UDP && bind)
        return cfg_fail(c, bind, "field '%sbind' only applies to uplink "
                        "type udp, not %s", c->prefix,
                        vf_uplink_type_name(l->uplink));
    if (l->uplink != VF_UPLINK_VERBS && map_get(c, map, "port"))
        return cfg_fail(c, map_get(c, map, "port"),
                        "field '%sport' only applies to uplink type "
                        "verbs", c->prefix);
    return 0;
}

static const struct cfg_field uplink_fields[] = {
    ENUM("type", struct vf_model_local, uplink, true, uplink_types),
    FN("bind", false, fn_bind, struct vf_model_local, 0, 0, 0),
    NAME("device", struct vf_model_local, device, false),
    UINT("port", struct vf_model_local, device_port, false, 1, 255),
};
static const struct cfg_schema uplink_schema =
    SCHEMA(struct vf_model_local, uplink_fields, NULL, NULL, uplink_check);

static void local_init(void *obj)
{
    struct vf_model_local *l = obj;

    l->chassis_idx = -1;
    l->device_port = 1;
}

static const struct cfg_field local_fields[] = {
    NAME("chassis", struct vf_model_local, chassis, true),
    FN("workers", false, fn_workers, struct vf_model_local, 0, 0, 0),
    MAP("uplink", struct vf_model_local, 0, false, uplink_schema),
    FN("metrics", false, fn_metrics, struct vf_model_local, 0, 0, 0),
};
static const struct cfg_schema local_schema =
    SCHEMA(struct vf_model_local, local_fields, NULL, local_init, NULL);

static int fn_local(struct cfg *c, const yaml_node_t *val,
                    const struct cfg_field *f, void *obj)
{
    struct vf_model *m = obj;
    int rc;

    (void)f;
    if (val->type != YAML_MAPPING_NODE)
        return cfg_fail(c, val, "field 'local': expected a mapping, got %s",
                        node_kind(val));
    snprintf(c->path, sizeof(c->path), "local");
    rc = walk_map(c, val, &local_schema, &m->local);
    if (rc)
        return rc;
    c->path[0] = '\0';
    m->has_local = true;
    return 0;
}

static const struct cfg_field top_fields[] = {
    LIST("chassis", struct vf_model, chassis, n_chassis, true,
         chassis_schema),
    LIST("tenants", struct vf_model, tenants, n_tenants, false,
         tenant_schema),
    FN("local", false, fn_local, struct vf_model, 0, 0, 0),
};
static const struct cfg_schema top_schema =
    SCHEMA(struct vf_model, top_fields, NULL, NULL, NULL);

/* ---- entry points ---- */

/* The node a validation error points at: the field's value, else the
 * deepest entry found on the way. */
static const yaml_node_t *locate(struct cfg *c, const yaml_node_t *root,
                                 const struct vf_model_errloc *loc)
{
    const yaml_node_t *n = root, *next;
    char field[128], *part, *save = NULL;

    for (unsigned d = 0; d < loc->depth && d < VF_MODEL_LOC_DEPTH; d++) {
        next = map_get(c, n, loc->key[d]);
        if (!next)
            return n;
        n = next;
        if (loc->idx[d] == SIZE_MAX)
            continue;
        if (n->type != YAML_SEQUENCE_NODE ||
            loc->idx[d] >= (size_t)(n->data.sequence.items.top -
                                    n->data.sequence.items.start))
            return n;
        n = node_at(c, n->data.sequence.items.start[loc->idx[d]]);
    }
    snprintf(field, sizeof(field), "%s", loc->field ? loc->field : "");
    for (part = strtok_r(field, ".", &save); part && n;
         part = strtok_r(NULL, ".", &save)) {
        next = map_get(c, n, part);
        if (!next)
            break;
        n = next;
    }
    return n;
}

static int load(const char *file, const char *yaml, size_t len,
                struct vf_model *m, char *err, size_t errlen)
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
                      "and local at the top, got %s", node_kind(root));
        goto out;
    }
    rc = walk_map(&c, root, &top_schema, m);
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
    return load("<string>", yaml, len, m, err, errlen);
}

int vf_config_load(const char *path, struct vf_model *m, char *err,
                   size_t errlen)
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
    rc = load(path, buf, (size_t)size, m, err, errlen);
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
