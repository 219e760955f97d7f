/* desired_host.c - a host's runtime records in etcd (vf_desired.h): the
 * registration txn of P"chassis/<name>" on a lease, shared by vfabd's
 * store source and perf/vfab-sim's simulated chassis.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/layout/vf_desired.h"

int vf_desired_chassis_key(const char *prefix, const char *name, char *buf,
                           size_t len)
{
    char esc[VF_LAYOUT_KEY_MAX];
    int rc = vf_layout_name_escape(name, esc, sizeof(esc));

    if (rc)
        return rc;
    if ((size_t)snprintf(buf, len, "%schassis/%s", prefix, esc) >= len)
        return -ENAMETOOLONG;
    return 0;
}

/* The registration txn, sent synchronously (res) or not (done). */
static int reg_txn(struct vf_store *s, const char *prefix,
                   const struct vf_layout_chassis_rec *r, int64_t lease,
                   vf_store_done_fn *done, void *arg, struct vf_store_result *res)
{
    char key[VF_LAYOUT_KEY_MAX + 256];
    char *val = vf_layout_chassis_rec_encode(r);
    int rc = val ? vf_desired_chassis_key(prefix, r->name, key, sizeof(key)) : -ENOMEM;

    if (rc) {
        free(val);
        if (res) {
            res->rc = rc;
            snprintf(res->error, sizeof(res->error), "chassis %s: cannot make its "
                     "record (%s)", r->name, strerror(-rc));
        }
        return rc;
    }
    struct vf_store_cmp cmp = {.key = key, .target = VF_STORE_CMP_CREATE};
    struct vf_store_op put = {.type = VF_STORE_OP_PUT, .key = key, .value = val,
                              .value_len = strlen(val), .lease = lease};
    struct vf_store_op get = {.type = VF_STORE_OP_RANGE, .key = key};
    struct vf_store_txn t = {.cmp = &cmp, .n_cmp = 1, .success = &put, .n_success = 1,
                             .failure = &get, .n_failure = 1};
    rc = res ? vf_store_txn(s, &t, res) : vf_store_txn_async(s, &t, done, arg);
    free(val);
    return rc;
}

int vf_desired_register_async(struct vf_store *s, const char *prefix,
                              const struct vf_layout_chassis_rec *r, int64_t lease,
                              vf_store_done_fn *done, void *arg)
{
    return reg_txn(s, prefix, r, lease, done, arg, NULL);
}

int vf_desired_register(struct vf_store *s, const char *prefix,
                        const struct vf_layout_chassis_rec *r, int64_t lease,
                        struct vf_store_result *res)
{
    return reg_txn(s, prefix, r, lease, NULL, NULL, res);
}

bool vf_desired_registered(const struct vf_store_result *res, int64_t lease,
                           struct vf_store_kv *holder)
{
    const struct vf_store_op_result *held = res->n_ops ? &res->ops[0] : NULL;

    if (holder)
        memset(holder, 0, sizeof(*holder));
    if (res->rc)
        return false;
    if (res->succeeded)
        return true;
    if (held && held->n_kvs && holder)
        *holder = held->kvs[0];
    return held && held->n_kvs && held->kvs[0].lease == lease;
}
