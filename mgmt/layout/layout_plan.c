/* layout_plan.c - the puts and deletes from one key set to another, and
 * their cut into etcd txns that each leave a valid model (vf_layout.h).
 *
 * Order: puts parent to child, then deletes child to parent, so that a
 * prefix of the list never leaves a child without its parent or a port
 * without its index key. That is not enough for every change (two switches
 * swapping VNIs are invalid half-way), so each cut is checked by loading
 * the model it leaves; a cut that does not load is moved to an earlier
 * place (kind boundaries, then halves), at most PLAN_TRIES places a part.
 * A change that only adds keys needs no check: each prefix of it is then a
 * part of the final fabric that holds the parents of what it holds, and
 * every rule of the validator (uniqueness, references, checks of one
 * object) holds for such a part when it holds for the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/layout/layout_int.h"

#define OP_OVERHEAD 24           /* as mgmt/store/store_kv.c counts an op */
#define TXN_OVERHEAD 64
#define PLAN_TRIES 12

static int op_rank(const struct vf_layout_op *op)
{
    /* Unknown keys (kind VF_LK_N) are deleted first. */
    return op->del ? VF_LK_N + (VF_LK_N - (int)op->kind) : (int)op->kind;
}

static int op_cmp(const void *x, const void *y)
{
    const struct vf_layout_op *a = x, *b = y;
    int ra = op_rank(a), rb = op_rank(b);
    return ra != rb ? (ra < rb ? -1 : 1) : strcmp(a->key, b->key);
}

static int push(struct vf_layout_change *c, size_t *cap, bool del, const char *key,
                const char *value, size_t value_len)
{
    struct vf_layout_key k;
    if (c->n == *cap) {
        size_t n = *cap ? *cap * 2 : 32;
        struct vf_layout_op *ops = realloc(c->ops, n * sizeof(*ops));
        if (!ops)
            return -ENOMEM;
        c->ops = ops;
        *cap = n;
    }
    struct vf_layout_op *op = &c->ops[c->n];
    memset(op, 0, sizeof(*op));
    op->del = del;
    op->kind = vf_layout_key_parse(key, &k, NULL, 0) ? VF_LK_N : k.kind;
    op->key = strdup(key);
    if (!del) {
        op->value = malloc(value_len + 1);
        if (op->value) {
            memcpy(op->value, value, value_len);
            op->value[value_len] = '\0';
        }
        op->value_len = value_len;
    }
    if (!op->key || (!del && !op->value)) {
        free(op->key);
        free(op->value);
        return -ENOMEM;
    }
    c->n++;
    if (del)
        c->n_dels++;
    else
        c->n_puts++;
    return 0;
}

int vf_layout_diff(const struct vf_layout_kvs *a, const struct vf_layout_kvs *b,
                   struct vf_layout_change *out)
{
    size_t i = 0, j = 0, cap = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    while (!rc && (i < a->n || j < b->n)) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->kv[i].key, b->kv[j].key);
        if (c < 0) {
            rc = push(out, &cap, true, a->kv[i++].key, NULL, 0);
        } else if (c > 0) {
            rc = push(out, &cap, false, b->kv[j].key, b->kv[j].value, b->kv[j].value_len);
            j++;
        } else {
            const struct vf_layout_kv *x = &a->kv[i++], *y = &b->kv[j++];
            if (x->value_len != y->value_len || memcmp(x->value, y->value, x->value_len))
                rc = push(out, &cap, false, y->key, y->value, y->value_len);
        }
    }
    if (rc) {
        vf_layout_change_free(out);
        return rc;
    }
    if (out->n)
        qsort(out->ops, out->n, sizeof(*out->ops), op_cmp);
    return 0;
}

void vf_layout_change_free(struct vf_layout_change *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->ops[i].key);
        free(c->ops[i].value);
    }
    free(c->ops);
    memset(c, 0, sizeof(*c));
}

int vf_layout_kvs_apply(struct vf_layout_kvs *s, const struct vf_layout_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ops[i].del)
            vf_layout_kvs_del(s, ops[i].key);
        else if (vf_layout_kvs_set(s, ops[i].key, ops[i].value, ops[i].value_len, 0))
            return -ENOMEM;
    }
    return 0;
}

size_t vf_layout_op_bytes(const struct vf_layout_op *op, size_t key_prefix_len)
{
    /* The client's own bound (store_kv.c): the key twice (a range end may
     * go with it), the value, tags and lengths. */
    return 2 * (key_prefix_len + strlen(op->key)) + op->value_len + OP_OVERHEAD;
}

/* ---- cutting into txns ---- */

/* What ops[a..b) replaced in a working set, to put it back. */
struct undo {
    char **old;                  /* old value, or NULL: the key was absent */
    size_t *old_len;
};

static int apply_undoable(struct vf_layout_kvs *w, const struct vf_layout_change *c,
                          size_t a, size_t b, struct undo *u)
{
    for (size_t i = a; i < b; i++) {
        const struct vf_layout_kv *kv = vf_layout_kvs_find(w, c->ops[i].key);
        u->old[i - a] = NULL;
        if (kv) {
            if (!(u->old[i - a] = malloc(kv->value_len + 1)))
                return -ENOMEM;
            memcpy(u->old[i - a], kv->value, kv->value_len + 1);
            u->old_len[i - a] = kv->value_len;
        }
        if (vf_layout_kvs_apply(w, &c->ops[i], 1))
            return -ENOMEM;
    }
    return 0;
}

static void undo(struct vf_layout_kvs *w, const struct vf_layout_change *c, size_t a,
                 size_t b, struct undo *u)
{
    for (size_t i = b; i-- > a;) {
        char *old = u->old[i - a];
        if (old)
            vf_layout_kvs_set(w, c->ops[i].key, old, u->old_len[i - a], 0);
        else
            vf_layout_kvs_del(w, c->ops[i].key);
        free(old);
        u->old[i - a] = NULL;
    }
}

static void forget(struct undo *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(u->old[i]);
        u->old[i] = NULL;
    }
}

/* Places to try cutting [a, bmax): bmax, the kind boundaries below it,
 * then halves; at most PLAN_TRIES, each once. */
static size_t candidates(const struct vf_layout_change *c, size_t a, size_t bmax,
                         size_t *out)
{
    size_t n = 0;
    out[n++] = bmax;
    for (size_t b = bmax - 1; b > a && n < PLAN_TRIES / 2; b--)
        if (op_rank(&c->ops[b]) != op_rank(&c->ops[b - 1]))
            out[n++] = b;
    for (size_t d = (bmax - a) / 2; d > 0 && n < PLAN_TRIES; d /= 2) {
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= out[i] == a + d;
        if (!seen)
            out[n++] = a + d;
    }
    return n;
}

static int copy_set(const struct vf_layout_kvs *src, struct vf_layout_kvs *dst)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++)
        if (vf_layout_kvs_add(dst, src->kv[i].key, src->kv[i].value, src->kv[i].value_len,
                              src->kv[i].mod_revision)) {
            vf_layout_kvs_free(dst);
            return -ENOMEM;
        }
    vf_layout_kvs_sort(dst);
    return 0;
}

int vf_layout_plan(const struct vf_layout_kvs *base, const struct vf_layout_change *c,
                   const struct vf_layout_limits *lim, size_t **ends, size_t *n_parts,
                   char *err, size_t errlen)
{
    size_t max_bytes = lim->max_request_bytes ? lim->max_request_bytes : 1572864u;
    unsigned max_ops = lim->max_txn_ops ? lim->max_txn_ops : VF_LAYOUT_DEFAULT_TXN_OPS;
    size_t room_bytes = max_bytes > lim->reserved_bytes + TXN_OVERHEAD
                        ? max_bytes - lim->reserved_bytes - TXN_OVERHEAD : 0;
    size_t room_ops = max_ops > lim->reserved_ops ? max_ops - lim->reserved_ops : 0;
    size_t total = 0, cap = 0, cand[PLAN_TRIES];
    struct vf_layout_kvs w = {0};
    struct undo u = {0};
    char why[1024] = "";
    int rc = 0;

    *ends = NULL;
    *n_parts = 0;
    for (size_t i = 0; i < c->n; i++)
        total += vf_layout_op_bytes(&c->ops[i], lim->key_prefix_len);
    if (c->n == 0)
        return 0;
    if (c->n <= room_ops && total <= room_bytes) {
        if (!(*ends = malloc(sizeof(**ends))))
            return -ENOMEM;
        (*ends)[0] = c->n;
        *n_parts = 1;
        return 0;
    }
    if (lim->atomic) {
        snprintf(err, errlen, "the change is %zu puts and deletes of about %zu bytes: "
                 "over one etcd txn's limits of %zu ops (etcd --max-txn-ops, default "
                 "%u; vfabctl --max-txn-ops) and %zu bytes (etcd --max-request-bytes, "
                 "default 1572864; vfabctl --max-request-bytes), %u ops and %zu bytes "
                 "of which are vfab's own; nothing was written. Leave out --atomic to "
                 "write it as several txns that each leave a valid fabric",
                 c->n, total, (size_t)max_ops, VF_LAYOUT_DEFAULT_TXN_OPS, max_bytes,
                 lim->reserved_ops, lim->reserved_bytes + TXN_OVERHEAD);
        return -E2BIG;
    }
    bool only_adds = true;
    for (size_t i = 0; i < c->n && only_adds; i++)
        only_adds = !c->ops[i].del && !vf_layout_kvs_find(base, c->ops[i].key);
    if (!room_ops || (!only_adds && (rc = copy_set(base, &w))))
        return room_ops ? rc : -EINVAL;
    u.old = calloc(room_ops, sizeof(*u.old));
    u.old_len = calloc(room_ops, sizeof(*u.old_len));
    if (!u.old || !u.old_len) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t a = 0; a < c->n;) {
        size_t bmax = a, bytes = 0, chosen = 0;
        while (bmax < c->n && bmax - a < room_ops &&
               bytes + vf_layout_op_bytes(&c->ops[bmax], lim->key_prefix_len) <= room_bytes)
            bytes += vf_layout_op_bytes(&c->ops[bmax++], lim->key_prefix_len);
        if (bmax == a) {
            snprintf(err, errlen, "key %s alone is about %zu bytes, over etcd's request "
                     "limit of %zu bytes (etcd --max-request-bytes; vfabctl "
                     "--max-request-bytes); nothing was written", c->ops[a].key,
                     vf_layout_op_bytes(&c->ops[a], lim->key_prefix_len), max_bytes);
            rc = -E2BIG;
            goto out;
        }
        if (bmax == c->n || only_adds) {
            chosen = bmax;   /* the end state (the caller validated it), or safe */
        } else {
            size_t nc = candidates(c, a, bmax, cand);
            for (size_t i = 0; i < nc && !chosen; i++) {
                struct vf_model m;
                char msg[1024];
                if ((rc = apply_undoable(&w, c, a, cand[i], &u)))
                    goto out;
                rc = vf_layout_to_model(&w, 0, "", &m, msg, sizeof(msg));
                vf_model_free(&m);
                if (rc == -ENOMEM)
                    goto out;
                if (rc == 0) {
                    chosen = cand[i];
                    forget(&u, cand[i] - a);
                } else {
                    if (i == 0)
                        snprintf(why, sizeof(why), "%s", msg);
                    undo(&w, c, a, cand[i], &u);
                }
            }
            rc = 0;
            if (!chosen) {
                snprintf(err, errlen, "the change is %zu puts and deletes, more than one "
                         "etcd txn holds (%zu ops, %zu bytes: etcd --max-txn-ops, "
                         "--max-request-bytes), and it cannot be cut into txns that "
                         "each leave a valid fabric: after %s %s the fabric would be "
                         "invalid (%s); nothing was written. Apply it in smaller steps, "
                         "or raise etcd's limits and tell vfabctl (--max-txn-ops, "
                         "--max-request-bytes)", c->n, room_ops, room_bytes,
                         c->ops[bmax - 1].del ? "deleting" : "putting",
                         c->ops[bmax - 1].key, why);
                rc = -E2BIG;
                goto out;
            }
        }
        if (*n_parts == cap) {
            size_t nc = cap ? cap * 2 : 8;
            size_t *e = realloc(*ends, nc * sizeof(*e));
            if (!e) {
                rc = -ENOMEM;
                goto out;
            }
            *ends = e;
            cap = nc;
        }
        (*ends)[(*n_parts)++] = chosen;
        a = chosen;
    }
out:
    if (u.old)
        forget(&u, room_ops);
    free(u.old);
    free(u.old_len);
    vf_layout_kvs_free(&w);
    if (rc) {
        free(*ends);
        *ends = NULL;
        *n_parts = 0;
    }
    return rc;
}
