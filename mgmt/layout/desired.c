/* desired.c - the desired state's reads and guarded writes (vf_desired.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/layout/vf_desired.h"

#define KEY_MAX (VF_LAYOUT_KEY_MAX + 256)

struct reader {
    struct vf_desired *d;
    size_t plen;                 /* strlen(P"desired/") */
    int rc;
};

static int page(void *arg, const struct vf_store_kv *kvs, size_t n, int64_t revision)
{
    struct reader *r = arg;
    (void)revision;
    for (size_t i = 0; i < n && !r->rc; i++)
        r->rc = vf_layout_kvs_add(&r->d->kvs, kvs[i].key + r->plen, kvs[i].value,
                                  kvs[i].value_len, kvs[i].mod_revision);
    return r->rc;
}

static int64_t parse_serial(const struct vf_store_kv *kv)
{
    char b[32];
    size_t n = kv->value_len < sizeof(b) - 1 ? kv->value_len : sizeof(b) - 1;
    memcpy(b, kv->value, n);
    b[n] = '\0';
    return strtoll(b, NULL, 10);
}

/* key = P + name, read at revision rev into res. */
static int range_at(struct vf_store *s, const char *prefix, const char *name, int64_t rev,
                    struct vf_store_result *res)
{
    char key[KEY_MAX];
    snprintf(key, sizeof(key), "%s%s", prefix, name);
    struct vf_store_range_req q = {.key = key, .revision = rev};
    return vf_store_range(s, &q, res);
}

int vf_desired_read(struct vf_store *s, const char *prefix, struct vf_desired *d,
                    char *err, size_t errlen)
{
    char dp[KEY_MAX];
    struct vf_store_result res = {0};
    struct reader r = {.d = d};
    int rc;

    memset(d, 0, sizeof(*d));
    snprintf(dp, sizeof(dp), "%sdesired/", prefix);
    r.plen = strlen(dp);
    rc = vf_store_list(s, dp, 0, 0, page, &r, &res);
    if (rc || res.rc) {
        snprintf(err, errlen, "%s", r.rc ? "out of memory" : res.error);
        rc = r.rc ? r.rc : rc ? rc : res.rc;
        goto out;
    }
    d->revision = res.revision;
    vf_store_result_clear(&res);
    if ((rc = range_at(s, prefix, "serial", d->revision, &res)) != 0 ||
        (rc = res.rc) != 0) {
        snprintf(err, errlen, "%s", res.error);
        goto out;
    }
    if (res.n_kvs) {
        d->serial = parse_serial(&res.kvs[0]);
        d->serial_mod = res.kvs[0].mod_revision;
    }
    vf_store_result_clear(&res);
    if ((rc = range_at(s, prefix, "format", d->revision, &res)) != 0 ||
        (rc = res.rc) != 0) {
        snprintf(err, errlen, "%s", res.error);
        goto out;
    }
    if (res.n_kvs) {
        const struct vf_store_kv *kv = &res.kvs[0];
        d->has_format = true;
        if (kv->value_len != strlen(VF_LAYOUT_FORMAT) ||
            memcmp(kv->value, VF_LAYOUT_FORMAT, kv->value_len)) {
            snprintf(err, errlen, "the store under %s has layout format \"%.*s\" (key "
                     "%sformat); this program knows format " VF_LAYOUT_FORMAT
                     ": use a vfab that knows it", prefix,
                     (int)(kv->value_len > 16 ? 16 : kv->value_len), kv->value, prefix);
            rc = -EPROTO;
            goto out;
        }
    }
    vf_layout_kvs_sort(&d->kvs);
    rc = vf_layout_kvs_canonical(&d->kvs, dp, err, errlen);
out:
    vf_store_result_clear(&res);
    if (rc)
        vf_desired_free(d);
    return rc;
}

void vf_desired_free(struct vf_desired *d)
{
    if (d)
        vf_layout_kvs_free(&d->kvs);
}

/* ---- commit ---- */

/* etcd refused it before applying anything: no need to read back. */
static bool definite(int rc)
{
    return rc == -E2BIG || rc == -EINVAL || rc == -EPERM || rc == -EACCES ||
           rc == -ENOTSUP || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ||
           rc == -EPROTO || rc == -ENOMEM;
}

struct part {
    const char *prefix;
    char (*keys)[KEY_MAX];       /* absolute keys of the ops */
    struct vf_store_op *ops;     /* success: the ops, serial, format */
    size_t n_ops;
    size_t n_change;             /* of which the change's */
    char serial_key[KEY_MAX], format_key[KEY_MAX], serial_val[32];
};

static int part_build(struct part *p, const char *prefix, const struct vf_layout_change *c,
                      size_t a, size_t b, int64_t serial, bool has_format)
{
    size_t n = b - a;
    p->prefix = prefix;
    p->keys = calloc(n ? n : 1, sizeof(*p->keys));
    p->ops = calloc(n + 2, sizeof(*p->ops));
    if (!p->keys || !p->ops)
        return -ENOMEM;
    snprintf(p->serial_key, sizeof(p->serial_key), "%sserial", prefix);
    snprintf(p->format_key, sizeof(p->format_key), "%sformat", prefix);
    snprintf(p->serial_val, sizeof(p->serial_val), "%" PRId64, serial + 1);
    for (size_t i = 0; i < n; i++) {
        const struct vf_layout_op *op = &c->ops[a + i];
        snprintf(p->keys[i], KEY_MAX, "%sdesired/%s", prefix, op->key);
        p->ops[i] = (struct vf_store_op){.type = op->del ? VF_STORE_OP_DELETE
                                                         : VF_STORE_OP_PUT,
                                         .key = p->keys[i], .value = op->value,
                                         .value_len = op->value_len};
    }
    p->n_change = n;
    p->ops[n] = (struct vf_store_op){.type = VF_STORE_OP_PUT, .key = p->serial_key,
                                     .value = p->serial_val,
                                     .value_len = strlen(p->serial_val)};
    p->n_ops = n + 1;
    if (!has_format)
        p->ops[p->n_ops++] = (struct vf_store_op){.type = VF_STORE_OP_PUT,
                                                  .key = p->format_key,
                                                  .value = VF_LAYOUT_FORMAT,
                                                  .value_len = strlen(VF_LAYOUT_FORMAT)};
    return 0;
}

static void part_free(struct part *p)
{
    free(p->keys);
    free(p->ops);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

enum verdict { APPLIED, NOT_APPLIED, OVERTAKEN, UNKNOWN };

/* Reads the serial and the part's keys back (one read-only txn: one
 * revision) to learn whether the part went in. */
static enum verdict verify(struct vf_store *s, const struct part *p,
                           const struct vf_layout_change *c, size_t a, int64_t serial,
                           int64_t serial_mod, int64_t *new_mod, int64_t *other,
                           char *why, size_t whylen)
{
    size_t n = p->n_change;
    struct vf_store_op *reads = calloc(n + 1, sizeof(*reads));
    struct vf_store_result res = {0};
    enum verdict v = UNKNOWN;

    if (!reads)
        return UNKNOWN;
    reads[0] = (struct vf_store_op){.type = VF_STORE_OP_RANGE, .key = p->serial_key};
    for (size_t i = 0; i < n; i++)
        reads[i + 1] = (struct vf_store_op){.type = VF_STORE_OP_RANGE, .key = p->keys[i]};
    struct vf_store_txn t = {.success = reads, .n_success = n + 1};
    int rc = vf_store_txn(s, &t, &res);
    if (rc || res.rc || res.n_ops != n + 1) {
        snprintf(why, whylen, "%s", res.rc ? res.error : "reading back failed");
        goto out;
    }
    const struct vf_store_op_result *sr = &res.ops[0];
    int64_t now = sr->n_kvs ? parse_serial(&sr->kvs[0]) : 0;
    int64_t mod = sr->n_kvs ? sr->kvs[0].mod_revision : 0;
    if (mod == serial_mod) {
        v = NOT_APPLIED;
        goto out;
    }
    *other = now;
    v = OVERTAKEN;
    if (now != serial + 1)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct vf_layout_op *op = &c->ops[a + i];
        const struct vf_store_op_result *r = &res.ops[i + 1];
        bool ok = op->del ? r->n_kvs == 0
                          : r->n_kvs == 1 && r->kvs[0].value_len == op->value_len &&
                                !memcmp(r->kvs[0].value, op->value, op->value_len);
        if (!ok)
            goto out;
    }
    *new_mod = mod;
    v = APPLIED;
out:
    vf_store_result_clear(&res);
    free(reads);
    return v;
}

int vf_desired_commit(struct vf_store *s, const char *prefix,
                      const struct vf_desired *base, const struct vf_layout_change *c,
                      const size_t *ends, size_t n_parts, struct vf_desired_result *out,
                      char *err, size_t errlen)
{
    int64_t serial = base->serial, serial_mod = base->serial_mod;
    bool has_format = base->has_format;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->revision = base->revision;
    out->serial = serial;
    for (size_t k = 0, a = 0; k < n_parts && !rc; a = ends[k++]) {
        struct part p = {0};
        if ((rc = part_build(&p, prefix, c, a, ends[k], serial, has_format)) != 0) {
            part_free(&p);
            break;
        }
        struct vf_store_cmp cmp[2] = {
            {.key = p.serial_key, .target = VF_STORE_CMP_MOD, .number = serial_mod},
            has_format ? (struct vf_store_cmp){.key = p.format_key,
                                               .target = VF_STORE_CMP_VALUE,
                                               .value = VF_LAYOUT_FORMAT,
                                               .value_len = strlen(VF_LAYOUT_FORMAT)}
                       : (struct vf_store_cmp){.key = p.format_key,
                                               .target = VF_STORE_CMP_CREATE},
        };
        struct vf_store_op fail = {.type = VF_STORE_OP_RANGE, .key = p.serial_key};
        struct vf_store_txn t = {.cmp = cmp, .n_cmp = 2, .success = p.ops,
                                 .n_success = p.n_ops, .failure = &fail, .n_failure = 1};
        for (unsigned sends = 0;; sends++) {
            struct vf_store_result res = {0};
            int trc = vf_store_txn(s, &t, &res);
            if (!trc)
                trc = res.rc;
            if (!trc && res.succeeded) {
                serial_mod = res.revision;
                out->revision = res.revision;
                vf_store_result_clear(&res);
                break;
            }
            /* A resent part that finds the serial moved may be meeting its
             * own first send, applied late: read back as below. */
            if ((!trc && !sends) || definite(trc)) {
                if (trc) {
                    snprintf(err, errlen, "%s", res.error);
                    rc = trc;
                } else {
                    const struct vf_store_op_result *r = res.n_ops ? &res.ops[0] : NULL;
                    out->other_serial = r && r->n_kvs ? parse_serial(&r->kvs[0]) : 0;
                    out->revision = res.revision;
                    rc = -EBUSY;
                }
                vf_store_result_clear(&res);
                break;
            }
            /* It may have gone in: read back until that is known. */
            char first[VF_STORE_ERR_LEN], why[VF_STORE_ERR_LEN] = "";
            snprintf(first, sizeof(first), "%s", trc ? res.error : "the guard failed");
            vf_store_result_clear(&res);
            enum verdict v = UNKNOWN;
            int64_t new_mod = 0;
            for (unsigned waited = 0; v == UNKNOWN && waited < VF_DESIRED_VERIFY_MS;
                 waited += 500) {
                v = verify(s, &p, c, a, serial, serial_mod, &new_mod, &out->other_serial,
                           why, sizeof(why));
                if (v == UNKNOWN)
                    sleep_ms(500);
            }
            if (v == APPLIED) {
                out->verified++;
                serial_mod = new_mod;
                out->revision = new_mod;
                break;
            }
            if (v == NOT_APPLIED && sends < VF_DESIRED_RESENDS) {
                out->resent++;
                continue;
            }
            rc = v == OVERTAKEN ? -EBUSY : trc;
            if (v != OVERTAKEN)
                snprintf(err, errlen, "%s; %s", first,
                         v == NOT_APPLIED ? "it was not applied (read back)"
                                          : why[0] ? why : "could not read back");
            break;
        }
        part_free(&p);
        if (!rc) {
            serial++;
            has_format = true;
            out->parts_done++;
            out->serial = serial;
        }
    }
    return rc;
}
