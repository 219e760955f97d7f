/* store_codec.c - base64, key ranges, int64 fields, the JSON stream framer
 * and results decoded into one allocation (store_int.h). No I/O here. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store/store_int.h"

/* ---- buffer ---- */

int store_buf_append(struct store_buf *b, const void *data, size_t n, size_t limit)
{
    if (n > limit || b->len > limit - n)
        return -EFBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';            /* jansson and messages read it as text */
    return 0;
}

void store_buf_consume(struct store_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p)
        b->p[b->len] = '\0';
    /* A stream that once carried a huge response gives the memory back. */
    if (b->cap > (1u << 20) && b->len < b->cap / 8) {
        char *p = realloc(b->p, b->len + 4096);
        if (p) {
            b->p = p;
            b->cap = b->len + 4096;
        }
    }
}

void store_buf_free(struct store_buf *b)
{
    free(b->p);
    *b = (struct store_buf){0};
}

/* ---- base64 (RFC 4648, with padding, as Go's encoding/json writes []byte) ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t store_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void store_b64_encode(const void *src, size_t n, char *dst)
{
    const unsigned char *p = src;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *dst++ = b64_alphabet[v >> 18];
        *dst++ = b64_alphabet[(v >> 12) & 63];
        *dst++ = b64_alphabet[(v >> 6) & 63];
        *dst++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        *dst++ = b64_alphabet[v >> 18];
        *dst++ = b64_alphabet[(v >> 12) & 63];
        *dst++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *dst++ = '=';
    }
    *dst = '\0';
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

ssize_t store_b64_decode(const char *src, size_t n, void *dst)
{
    unsigned char *out = dst;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    while (n > 0 && src[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)src[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6)                   /* one lone character: not base64 */
        return -1;
    return (ssize_t)o;
}

json_t *store_json_b64(const void *p, size_t n)
{
    size_t len = store_b64_len(n);
    char *buf = malloc(len + 1);
    if (!buf)
        return NULL;
    store_b64_encode(p, n, buf);
    json_t *j = json_stringn_nocheck(buf, len);
    free(buf);
    return j;
}

size_t store_prefix_end(const char *key, size_t klen, char *out)
{
    memcpy(out, key, klen);
    while (klen > 0) {
        unsigned char c = (unsigned char)out[klen - 1];
        if (c < 0xff) {
            out[klen - 1] = (char)(c + 1);
            return klen;
        }
        klen--;
    }
    out[0] = '\0';                   /* etcd: range_end "\0" = every key >= key */
    return 1;
}

int store_json_key(json_t *obj, const char *key, bool prefix)
{
    size_t klen = strlen(key);
    if (json_object_set_new(obj, "key", store_json_b64(key, klen)))
        return -ENOMEM;
    if (!prefix)
        return 0;
    char *end = malloc(klen ? klen : 1);
    if (!end)
        return -ENOMEM;
    size_t elen = store_prefix_end(key, klen, end);
    int rc = json_object_set_new(obj, "range_end", store_json_b64(end, elen));
    free(end);
    return rc ? -ENOMEM : 0;
}

/* grpc-gateway writes int64 as a JSON string and omits zero values; it
 * accepts numbers too. Missing or unparsable: 0. */
int64_t store_json_i64(json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        errno = 0;
        long long x = strtoll(json_string_value(v), &end, 10);
        if (errno == 0 && *end == '\0')
            return (int64_t)x;
    }
    return 0;
}

void store_json_set_i64(json_t *obj, const char *field, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    json_object_set_new(obj, field, json_string(buf));
}

/* ---- the JSON stream framer ----
 * etcd's watch stream is a sequence of JSON objects ({"result": ...}\n),
 * cut into chunks anywhere. The framer tracks nesting depth and strings
 * incrementally, so every byte is scanned once however the stream is cut;
 * jansson then parses each complete object. */
int store_framer_next(struct store_framer *f, const char *buf, size_t len, size_t *begin,
                      size_t *end)
{
    for (; f->pos < len; f->pos++) {
        char c = buf[f->pos];
        if (f->in_str) {
            if (f->esc)
                f->esc = false;
            else if (c == '\\')
                f->esc = true;
            else if (c == '"')
                f->in_str = false;
            continue;
        }
        if (f->depth == 0) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
                continue;
            if (c != '{' && c != '[')
                return -1;
            f->begin = f->pos;
        }
        if (c == '"') {
            f->in_str = true;
        } else if (c == '{' || c == '[') {
            f->depth++;
        } else if (c == '}' || c == ']') {
            if (--f->depth == 0) {
                *begin = f->begin;
                *end = ++f->pos;
                return 1;
            }
        }
    }
    return 0;
}

void store_framer_shift(struct store_framer *f, size_t n)
{
    f->pos = f->pos > n ? f->pos - n : 0;
    f->begin = f->begin > n ? f->begin - n : 0;
}

/* ---- results in one allocation ---- */

static size_t field_len(json_t *obj, const char *field)
{
    json_t *v = json_object_get(obj, field);
    return json_is_string(v) ? json_string_length(v) : 0;
}

/* Upper bound of what store_kvs_decode takes from the arena: the structs,
 * and each key and value decoded (never longer than its base64) + NUL,
 * each of those two allocations aligned up to 16 (15 bytes of padding). */
size_t store_kvs_bytes(json_t *kvs)
{
    size_t n = json_array_size(kvs);
    size_t bytes = n * sizeof(struct vf_store_kv) + 16;
    for (size_t i = 0; i < n; i++) {
        json_t *kv = json_array_get(kvs, i);
        bytes += field_len(kv, "key") + field_len(kv, "value") + 2 + 2 * 15;
    }
    return bytes;
}

int store_arena_init(struct store_arena *a, size_t bytes)
{
    a->base = bytes ? malloc(bytes) : NULL;
    a->used = 0;
    a->cap = bytes;
    return bytes && !a->base ? -ENOMEM : 0;
}

void *store_arena_alloc(struct store_arena *a, size_t n)
{
    size_t at = (a->used + 15) & ~(size_t)15;
    if (at > a->cap || n > a->cap - at)
        return NULL;                 /* a sizing bug: callers report -EIO */
    a->used = at + n;
    return a->base + at;
}

static int b64_field(json_t *obj, const char *field, struct store_arena *a,
                     const char **out, size_t *out_len)
{
    json_t *v = json_object_get(obj, field);
    if (!json_is_string(v)) {
        *out = NULL;
        *out_len = 0;
        return 0;
    }
    size_t n = json_string_length(v);
    char *dst = store_arena_alloc(a, n + 1);
    if (!dst)
        return -EIO;
    ssize_t len = store_b64_decode(json_string_value(v), n, dst);
    if (len < 0)
        return -EIO;
    dst[len] = '\0';
    *out = dst;
    *out_len = (size_t)len;
    return 0;
}

int store_kv_decode(json_t *obj, struct vf_store_kv *kv, struct store_arena *a)
{
    *kv = (struct vf_store_kv){0};
    int rc = b64_field(obj, "key", a, &kv->key, &kv->key_len);
    if (!rc)
        rc = b64_field(obj, "value", a, &kv->value, &kv->value_len);
    if (rc)
        return rc;
    if (!kv->key)
        kv->key = "";
    kv->create_revision = store_json_i64(obj, "create_revision");
    kv->mod_revision = store_json_i64(obj, "mod_revision");
    kv->version = store_json_i64(obj, "version");
    kv->lease = store_json_i64(obj, "lease");
    return 0;
}

struct vf_store_kv *store_kvs_decode(json_t *kvs, struct store_arena *a, size_t *n, int *rc)
{
    *n = json_array_size(kvs);
    *rc = 0;
    if (*n == 0)
        return NULL;
    struct vf_store_kv *out = store_arena_alloc(a, *n * sizeof(*out));
    if (!out) {
        *rc = -EIO;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        *rc = store_kv_decode(json_array_get(kvs, i), &out[i], a);
        if (*rc)
            return NULL;
    }
    return out;
}

void store_result_error(struct vf_store_result *r, int rc, const char *fmt, ...)
{
    va_list ap;
    r->rc = rc;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

void vf_store_result_clear(struct vf_store_result *r)
{
    if (!r)
        return;
    free(r->mem_);
    *r = (struct vf_store_result){0};
}

void vf_store_result_move(struct vf_store_result *dst, struct vf_store_result *src)
{
    free(dst->mem_);
    *dst = *src;
    *src = (struct vf_store_result){0};
}
