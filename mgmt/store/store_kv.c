/* store_kv.c - range, put, delete and txn: their JSON (grpc-gateway's
 * mapping of etcdserverpb: base64 bytes, int64 as strings, enums by name,
 * zero values omitted in answers) and their answers decoded (vf_store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store/store_int.h"

/* etcd measures a request as protobuf; this bounds it from above: the raw
 * bytes plus a few bytes of tags and lengths per field. */
#define OP_OVERHEAD 24
#define TXN_OVERHEAD 64

static int too_big(struct vf_store *s, vf_store_done_fn *done, void *arg, const char *what,
                   size_t bytes)
{
    return store_fail_later(s, done, arg, -E2BIG,
                            "etcd: %s of about %zu bytes is over etcd's request limit of "
                            "%zu bytes (etcd --max-request-bytes, default %u); split it",
                            what, bytes, s->max_request, VF_STORE_DEFAULT_MAX_REQUEST);
}

static bool bad_key(const char *key)
{
    return !key || !*key;
}

/* ---- range ---- */

static int range_fill(json_t *resp, struct vf_store_kv **kvs, size_t *n, int64_t *count,
                      bool *more, struct store_arena *a)
{
    int rc;
    *kvs = store_kvs_decode(json_object_get(resp, "kvs"), a, n, &rc);
    *count = store_json_i64(resp, "count");
    *more = json_is_true(json_object_get(resp, "more"));
    return rc;
}

static int range_decode(struct store_req *r, json_t *root, struct vf_store_result *res)
{
    (void)r;
    struct store_arena a;
    if (store_arena_init(&a, store_kvs_bytes(json_object_get(root, "kvs"))))
        return -ENOMEM;
    res->mem_ = a.base;
    return range_fill(root, &res->kvs, &res->n_kvs, &res->count, &res->more, &a);
}

int store_range_submit(struct vf_store *s, const struct store_range_args *a,
                       vf_store_done_fn *done, void *arg, void (*drop)(void *arg))
{
    json_t *body = json_object();
    if (!body)
        return -ENOMEM;
    json_object_set_new(body, "key", store_json_b64(a->key, a->klen));
    if (a->end)
        json_object_set_new(body, "range_end", store_json_b64(a->end, a->elen));
    if (a->revision)
        store_json_set_i64(body, "revision", a->revision);
    if (a->limit)
        store_json_set_i64(body, "limit", a->limit);
    if (a->keys_only)
        json_object_set_new(body, "keys_only", json_true());
    if (a->count_only)
        json_object_set_new(body, "count_only", json_true());
    struct store_req *r = store_req_new(s, "/v3/kv/range", body, range_decode, done, arg);
    if (!r)
        return -ENOMEM;
    r->idempotent = true;
    r->drop = drop;
    store_req_submit(r);
    return 0;
}

int vf_store_range_async(struct vf_store *s, const struct vf_store_range_req *req,
                         vf_store_done_fn *done, void *arg)
{
    if (bad_key(req->key))
        return store_fail_later(s, done, arg, -EINVAL, "etcd: range: an empty key");
    size_t klen = strlen(req->key);
    char *end = NULL;
    size_t elen = 0;
    if (req->prefix) {
        end = malloc(klen);
        if (!end)
            return -ENOMEM;
        elen = store_prefix_end(req->key, klen, end);
    } else if (req->range_end) {
        end = strdup(req->range_end);
        if (!end)
            return -ENOMEM;
        elen = strlen(end);
    }
    struct store_range_args a = {.key = req->key, .klen = klen, .end = end, .elen = elen,
                                 .revision = req->revision, .limit = req->limit,
                                 .keys_only = req->keys_only, .count_only = req->count_only};
    int rc = store_range_submit(s, &a, done, arg, NULL);
    free(end);
    return rc;
}

int vf_store_range(struct vf_store *s, const struct vf_store_range_req *req,
                   struct vf_store_result *res)
{
    struct store_sync w;
    int rc = store_sync_begin(s, res, &w);
    return rc ? rc : store_sync_finish(s, vf_store_range_async(s, req, store_sync_done, &w), &w);
}

/* ---- put ---- */

int vf_store_put_async(struct vf_store *s, const char *key, const void *value,
                       size_t value_len, int64_t lease, vf_store_done_fn *done, void *arg)
{
    if (bad_key(key))
        return store_fail_later(s, done, arg, -EINVAL, "etcd: put: an empty key");
    size_t bytes = strlen(key) + value_len + OP_OVERHEAD;
    if (bytes > s->max_request)
        return too_big(s, done, arg, "a put", bytes);
    json_t *body = json_object();
    if (!body || store_json_key(body, key, false)) {
        json_decref(body);
        return -ENOMEM;
    }
    json_object_set_new(body, "value", store_json_b64(value ? value : "", value_len));
    if (lease)
        store_json_set_i64(body, "lease", lease);
    struct store_req *r = store_req_new(s, "/v3/kv/put", body, NULL, done, arg);
    if (!r)
        return -ENOMEM;
    store_req_submit(r);
    return 0;
}

int vf_store_put(struct vf_store *s, const char *key, const void *value, size_t value_len,
                 int64_t lease, struct vf_store_result *res)
{
    struct store_sync w;
    int rc = store_sync_begin(s, res, &w);
    return rc ? rc
              : store_sync_finish(s, vf_store_put_async(s, key, value, value_len, lease,
                                                        store_sync_done, &w),
                                  &w);
}

/* ---- delete ---- */

static int delete_decode(struct store_req *r, json_t *root, struct vf_store_result *res)
{
    (void)r;
    res->deleted = store_json_i64(root, "deleted");
    return 0;
}

int vf_store_delete_async(struct vf_store *s, const char *key, bool prefix,
                          vf_store_done_fn *done, void *arg)
{
    if (bad_key(key))
        return store_fail_later(s, done, arg, -EINVAL, "etcd: delete: an empty key");
    json_t *body = json_object();
    if (!body || store_json_key(body, key, prefix)) {
        json_decref(body);
        return -ENOMEM;
    }
    struct store_req *r = store_req_new(s, "/v3/kv/deleterange", body, delete_decode, done,
                                        arg);
    if (!r)
        return -ENOMEM;
    store_req_submit(r);
    return 0;
}

int vf_store_delete(struct vf_store *s, const char *key, bool prefix,
                    struct vf_store_result *res)
{
    struct store_sync w;
    int rc = store_sync_begin(s, res, &w);
    return rc ? rc
              : store_sync_finish(s, vf_store_delete_async(s, key, prefix, store_sync_done, &w),
                                  &w);
}

/* ---- txn ---- */

static const char *const cmp_target_name[] = {"VERSION", "CREATE", "MOD", "VALUE"};
static const char *const cmp_target_field[] = {"version", "create_revision",
                                               "mod_revision", "value"};
static const char *const cmp_result_name[] = {"EQUAL", "NOT_EQUAL", "LESS", "GREATER"};

static json_t *cmp_json(const struct vf_store_cmp *c)
{
    json_t *o = json_object();
    if (!o || store_json_key(o, c->key, c->prefix)) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "target", json_string(cmp_target_name[c->target]));
    json_object_set_new(o, "result", json_string(cmp_result_name[c->result]));
    if (c->target == VF_STORE_CMP_VALUE)
        json_object_set_new(o, "value",
                            store_json_b64(c->value ? c->value : "", c->value_len));
    else
        store_json_set_i64(o, cmp_target_field[c->target], c->number);
    return o;
}

static json_t *op_json(const struct vf_store_op *op)
{
    json_t *inner = json_object();
    if (!inner || store_json_key(inner, op->key, op->type != VF_STORE_OP_PUT && op->prefix)) {
        json_decref(inner);
        return NULL;
    }
    const char *name = "request_range";
    if (op->type == VF_STORE_OP_PUT) {
        name = "request_put";
        json_object_set_new(inner, "value",
                            store_json_b64(op->value ? op->value : "", op->value_len));
        if (op->lease)
            store_json_set_i64(inner, "lease", op->lease);
    } else if (op->type == VF_STORE_OP_DELETE) {
        name = "request_delete_range";
    } else {
        if (op->limit)
            store_json_set_i64(inner, "limit", op->limit);
        if (op->keys_only)
            json_object_set_new(inner, "keys_only", json_true());
    }
    return json_pack("{s:o}", name, inner);
}

static int ops_json(json_t *body, const char *field, const struct vf_store_op *ops, size_t n,
                    size_t *bytes)
{
    json_t *arr = json_array();
    if (!arr || json_object_set_new(body, field, arr))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (bad_key(ops[i].key) || (unsigned)ops[i].type > VF_STORE_OP_DELETE)
            return -EINVAL;
        *bytes += 2 * strlen(ops[i].key) + ops[i].value_len + OP_OVERHEAD;
        if (json_array_append_new(arr, op_json(&ops[i])))
            return -ENOMEM;
    }
    return 0;
}

static json_t *txn_json(const struct vf_store_txn *t, size_t *bytes, int *rc)
{
    json_t *body = json_object(), *cmps = json_array();
    *bytes = TXN_OVERHEAD;
    *rc = -ENOMEM;
    if (!body || !cmps || json_object_set_new(body, "compare", cmps)) {
        json_decref(body);
        return NULL;
    }
    for (size_t i = 0; i < t->n_cmp; i++) {
        const struct vf_store_cmp *c = &t->cmp[i];
        if (bad_key(c->key) || (unsigned)c->target > VF_STORE_CMP_VALUE ||
            (unsigned)c->result > VF_STORE_CMP_GREATER) {
            *rc = -EINVAL;
            json_decref(body);
            return NULL;
        }
        *bytes += 2 * strlen(c->key) + c->value_len + OP_OVERHEAD;
        if (json_array_append_new(cmps, cmp_json(c))) {
            json_decref(body);
            return NULL;
        }
    }
    if ((*rc = ops_json(body, "success", t->success, t->n_success, bytes)) ||
        (*rc = ops_json(body, "failure", t->failure, t->n_failure, bytes))) {
        json_decref(body);
        return NULL;
    }
    *rc = 0;
    return body;
}

static int txn_decode(struct store_req *r, json_t *root, struct vf_store_result *res)
{
    (void)r;
    json_t *resps = json_object_get(root, "responses");
    size_t n = json_array_size(resps);
    size_t bytes = n * sizeof(struct vf_store_op_result) + 16;
    for (size_t i = 0; i < n; i++)
        bytes += store_kvs_bytes(
            json_object_get(json_object_get(json_array_get(resps, i), "response_range"), "kvs"));
    struct store_arena a;
    if (store_arena_init(&a, bytes))
        return -ENOMEM;
    res->mem_ = a.base;
    res->succeeded = json_is_true(json_object_get(root, "succeeded"));
    res->n_ops = n;
    if (n == 0)
        return 0;
    res->ops = store_arena_alloc(&a, n * sizeof(*res->ops));
    if (!res->ops)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(resps, i), *v;
        struct vf_store_op_result *op = &res->ops[i];
        *op = (struct vf_store_op_result){0};
        if ((v = json_object_get(item, "response_range"))) {
            struct vf_store_kv *kvs;
            op->type = VF_STORE_OP_RANGE;
            int rc = range_fill(v, &kvs, &op->n_kvs, &op->count, &op->more, &a);
            op->kvs = kvs;
            if (rc)
                return rc;
        } else if ((v = json_object_get(item, "response_delete_range"))) {
            op->type = VF_STORE_OP_DELETE;
            op->deleted = store_json_i64(v, "deleted");
        } else {
            op->type = VF_STORE_OP_PUT;
        }
    }
    return 0;
}

int vf_store_txn_async(struct vf_store *s, const struct vf_store_txn *txn,
                       vf_store_done_fn *done, void *arg)
{
    size_t bytes;
    int rc;
    json_t *body = txn_json(txn, &bytes, &rc);
    if (rc == -EINVAL)
        return store_fail_later(s, done, arg, -EINVAL,
                                "etcd: txn: a compare or op with an empty key or an "
                                "unknown kind");
    if (rc)
        return rc;
    if (bytes > s->max_request) {
        json_decref(body);
        char what[64];
        snprintf(what, sizeof(what), "a txn of %zu ops", txn->n_success + txn->n_failure);
        return too_big(s, done, arg, what, bytes);
    }
    struct store_req *r = store_req_new(s, "/v3/kv/txn", body, txn_decode, done, arg);
    if (!r)
        return -ENOMEM;
    /* Only reads: safe to send again on another endpoint. */
    r->idempotent = true;
    for (size_t i = 0; i < txn->n_success; i++)
        r->idempotent &= txn->success[i].type == VF_STORE_OP_RANGE;
    for (size_t i = 0; i < txn->n_failure; i++)
        r->idempotent &= txn->failure[i].type == VF_STORE_OP_RANGE;
    store_req_submit(r);
    return 0;
}

int vf_store_txn(struct vf_store *s, const struct vf_store_txn *txn,
                 struct vf_store_result *res)
{
    struct store_sync w;
    int rc = store_sync_begin(s, res, &w);
    return rc ? rc : store_sync_finish(s, vf_store_txn_async(s, txn, store_sync_done, &w), &w);
}
