/* model_json.c - the model as JSON, written from the loader's own schema
 * (cfg_schema.h), so `show`, the state file and edits use exactly the
 * field names, spellings and shapes a desired-state file has, and a field
 * added to the schema appears here by itself. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/control/cfg_schema.h"
#include "mgmt/control/vf_model_json.h"

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static uint32_t read_uint(const void *p, size_t size)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;

    switch (size) {
    case 1: memcpy(&u8, p, 1); return u8;
    case 2: memcpy(&u16, p, 2); return u16;
    default: memcpy(&u32, p, 4); return u32;
    }
}

static json_t *field_json(const struct cfg_field *f, const void *obj)
{
    const char *p = (const char *)obj + f->off, *name;
    char b[INET_ADDRSTRLEN];
    uint32_t ip;
    int v;

    switch (f->kind) {
    case CFG_NAME:
        return json_string(p);
    case CFG_MAC: {
        const uint8_t *m = (const uint8_t *)p;
        char mac[18];
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0],
                 m[1], m[2], m[3], m[4], m[5]);
        return json_string(mac);
    }
    case CFG_IPV4:
        memcpy(&ip, p, sizeof(ip));
        inet_ntop(AF_INET, &ip, b, sizeof(b));
        return json_string(b);
    case CFG_UINT:
        return json_integer(read_uint(p, f->size));
    case CFG_BOOL:
        return json_boolean(*(const bool *)p);
    case CFG_ENUM:
        /* A value the table does not spell (set by code) shows as its
         * number rather than vanishing. */
        v = f->size == 1 ? *(const uint8_t *)p : *(const int *)p;
        name = vf_model_enum_name(f->enums, v);
        return name ? json_string(name) : json_integer(v);
    case CFG_LIST: {
        const char *arr;
        size_t n;
        json_t *a = json_array();
        memcpy(&arr, p, sizeof(arr));
        memcpy(&n, (const char *)obj + f->off2, sizeof(n));
        for (size_t i = 0; a && i < n; i++)
            json_array_append_new(a, cfg_to_json(f->sub, arr + i * f->sub->size,
                                                 true));
        return a;
    }
    case CFG_MAP:
        return cfg_to_json(f->sub, p, true);
    case CFG_FN:
        return f->out(f, obj);
    }
    return NULL;
}

json_t *cfg_to_json(const struct cfg_schema *sc, const void *obj,
                    bool children)
{
    json_t *o = json_object();

    for (size_t i = 0; o && i < sc->n_fields; i++) {
        const struct cfg_field *f = &sc->fields[i];
        json_t *v;

        if ((!children && f->kind == CFG_LIST) ||
            (f->omit_zero && (f->kind == CFG_NAME
                              ? !((const char *)obj)[f->off]
                              : all_zero((const char *)obj + f->off,
                                         f->size))) ||
            (f->emit && !f->emit(obj)))
            continue;
        v = field_json(f, obj);
        if (v)
            json_object_set_new(o, f->key, v);
    }
    return o;
}

json_t *vf_model_to_json(const struct vf_model *m)
{
    return cfg_to_json(&cfg_top_schema, m, true);
}
