/* store_lease.c - lease grant, revoke, time-to-live, and keepers that send
 * a keepalive every TTL/3 from the loop (vf_store.h). Each keepalive is
 * one POST /v3/lease/keepalive: the gateway maps etcd's bidirectional
 * stream to a request body of one message and an answer of one
 * {"result": ...}, so a keepalive fails over like any request. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store/store_int.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

static int lease_decode(struct store_req *r, json_t *root, struct vf_store_result *res)
{
    json_t *body = json_object_get(root, "result");
    if (!body)
        body = root;                 /* keepalive wraps its answer in "result" */
    const char *err = json_string_value(json_object_get(body, "error"));
    if (err && *err) {
        store_result_error(res, -EIO, "etcd %s: %s", r->x.s->eps[r->x.ep], err);
        return -EIO;
    }
    if (body != root) {
        store_note_revision(r->x.s, body);
        res->revision = store_json_i64(json_object_get(body, "header"), "revision");
    }
    res->lease_id = store_json_i64(body, "ID");
    /* TTL is omitted when 0: a keepalive of an expired lease answers no TTL. */
    res->ttl = store_json_i64(body, "TTL");
    res->granted_ttl = store_json_i64(body, "grantedTTL");
    return 0;
}

static int lease_req(struct vf_store *s, const char *path, json_t *body, bool idempotent,
                     unsigned timeout_ms, vf_store_done_fn *done, void *arg)
{
    if (!body)
        return -ENOMEM;
    struct store_req *r = store_req_new(s, path, body, lease_decode, done, arg);
    if (!r)
        return -ENOMEM;
    r->idempotent = idempotent;
    if (timeout_ms)
        r->timeout_ms = timeout_ms;
    store_req_submit(r);
    return 0;
}

static json_t *id_body(const char *field, int64_t v)
{
    json_t *o = json_object();
    if (o)
        store_json_set_i64(o, field, v);
    return o;
}

/* The three lease calls share a shape: (client, one number) -> result. */
typedef int lease_async_fn(struct vf_store *s, int64_t v, vf_store_done_fn *done, void *arg);

static int lease_sync(struct vf_store *s, lease_async_fn *fn, int64_t v,
                      struct vf_store_result *res)
{
    struct store_sync w;
    int rc = store_sync_begin(s, res, &w);
    return rc ? rc : store_sync_finish(s, fn(s, v, store_sync_done, &w), &w);
}

int vf_store_lease_grant_async(struct vf_store *s, int64_t ttl_s, vf_store_done_fn *done,
                               void *arg)
{
    if (ttl_s <= 0)
        return store_fail_later(s, done, arg, -EINVAL,
                                "etcd lease grant: TTL %" PRId64 " s (want > 0)", ttl_s);
    return lease_req(s, "/v3/lease/grant", id_body("TTL", ttl_s), false, 0, done, arg);
}

int vf_store_lease_grant(struct vf_store *s, int64_t ttl_s, struct vf_store_result *res)
{
    return lease_sync(s, vf_store_lease_grant_async, ttl_s, res);
}

int vf_store_lease_revoke_async(struct vf_store *s, int64_t id, vf_store_done_fn *done,
                                void *arg)
{
    return lease_req(s, "/v3/lease/revoke", id_body("ID", id), false, 0, done, arg);
}

int vf_store_lease_revoke(struct vf_store *s, int64_t id, struct vf_store_result *res)
{
    return lease_sync(s, vf_store_lease_revoke_async, id, res);
}

int vf_store_lease_ttl_async(struct vf_store *s, int64_t id, vf_store_done_fn *done,
                             void *arg)
{
    return lease_req(s, "/v3/lease/timetolive", id_body("ID", id), true, 0, done, arg);
}

int vf_store_lease_ttl(struct vf_store *s, int64_t id, struct vf_store_result *res)
{
    return lease_sync(s, vf_store_lease_ttl_async, id, res);
}

/* ---- keepers ---- */

static void lease_notify(struct vf_store_lease *l, enum vf_store_lease_event ev, int rc,
                         const char *why)
{
    if (!l->fn)
        return;
    l->s->cb_depth++;
    l->fn(l->arg, ev, l->id, rc, why);
    l->s->cb_depth--;
}

static void lease_lost(struct vf_store_lease *l, int rc, const char *why)
{
    l->lost = true;
    store_log(l->s, VF_STORE_LOG_WARN, "etcd lease %" PRId64 " lost: %s", l->id, why);
    lease_notify(l, VF_STORE_LEASE_LOST, rc, why);
}

static void keepalive_done(void *arg, struct vf_store_result *res)
{
    struct vf_store_lease *l = arg;
    l->inflight = false;
    if (l->dead || l->lost)
        return;
    int64_t now = store_now_ns();
    if (res->rc == 0 && res->ttl > 0) {
        l->s->st.keepalives++;
        l->expire_ns = now + res->ttl * NS_PER_S;
        l->due_ns = now + res->ttl * NS_PER_S / 3;
        lease_notify(l, VF_STORE_LEASE_KEPT, 0, NULL);
        return;
    }
    if (res->rc == 0 || res->rc == -ENOENT) {
        lease_lost(l, -ENOENT, "etcd says the lease is gone (expired or revoked)");
        return;
    }
    l->last_rc = res->rc;
    snprintf(l->last_err, sizeof(l->last_err), "%s", res->error);
    if (now >= l->expire_ns) {
        char why[VF_STORE_ERR_LEN + 64];
        snprintf(why, sizeof(why), "no keepalive got through for %" PRId64 " s: %s",
                 l->ttl_s, l->last_err);
        lease_lost(l, l->last_rc, why);
        return;
    }
    /* Again soon, on the next endpoint (the failed one moved cur_ep on). */
    int64_t retry = l->ttl_s * NS_PER_S / 6;
    if (retry < 200 * NS_PER_MS)
        retry = 200 * NS_PER_MS;
    l->due_ns = now + retry < l->expire_ns ? now + retry : l->expire_ns;
    store_log(l->s, VF_STORE_LOG_WARN, "etcd lease %" PRId64 " keepalive failed: %s", l->id,
              res->error);
}

static void keepalive_send(struct vf_store_lease *l, int64_t now)
{
    /* An answer must come before the next one is due. */
    int64_t left_ms = (l->expire_ns - now) / NS_PER_MS;
    unsigned timeout = l->s->request_timeout_ms;
    if (left_ms > 0 && left_ms < timeout)
        timeout = (unsigned)left_ms;
    if (timeout < 200)
        timeout = 200;
    int rc = lease_req(l->s, "/v3/lease/keepalive", id_body("ID", l->id), true, timeout,
                       keepalive_done, l);
    if (rc == 0)
        l->inflight = true;
    else
        l->due_ns = now + 100 * NS_PER_MS;
}

struct vf_store_lease *vf_store_lease_keep(struct vf_store *s, int64_t id, int64_t ttl_s,
                                           vf_store_lease_fn *fn, void *arg)
{
    if (ttl_s <= 0)
        return NULL;
    struct vf_store_lease *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    int64_t now = store_now_ns();
    l->s = s;
    l->id = id;
    l->ttl_s = ttl_s;
    l->expire_ns = now + ttl_s * NS_PER_S;      /* as if just granted */
    l->due_ns = now + ttl_s * NS_PER_S / 3;
    l->fn = fn;
    l->arg = arg;
    l->next = s->leases;
    s->leases = l;
    return l;
}

void vf_store_lease_unkeep(struct vf_store_lease *l)
{
    if (!l)
        return;
    l->dead = true;                  /* freed at reap, once no keepalive is in flight */
    if (!l->s->cb_depth)
        store_lease_reap(l->s, false);
}

int64_t vf_store_lease_left_ms(const struct vf_store_lease *l)
{
    int64_t left = (l->expire_ns - store_now_ns()) / NS_PER_MS;
    return left > 0 && !l->lost ? left : 0;
}

int64_t store_lease_next_due(const struct vf_store *s)
{
    int64_t due = -1;
    for (const struct vf_store_lease *l = s->leases; l; l = l->next) {
        /* In flight: the request ends by its deadline (before the expiry). */
        if (l->dead || l->lost || l->inflight)
            continue;
        if (due < 0 || l->due_ns < due)
            due = l->due_ns;
    }
    return due;
}

void store_lease_timers(struct vf_store *s, int64_t now)
{
    for (struct vf_store_lease *l = s->leases; l; l = l->next) {
        if (l->dead || l->lost)
            continue;
        if (l->inflight)
            continue;
        if (now >= l->expire_ns) {
            char why[VF_STORE_ERR_LEN + 64];
            snprintf(why, sizeof(why), "no keepalive got through for %" PRId64 " s%s%s",
                     l->ttl_s, l->last_err[0] ? ": " : "", l->last_err);
            lease_lost(l, l->last_rc ? l->last_rc : -ETIMEDOUT, why);
            continue;
        }
        if (now >= l->due_ns)
            keepalive_send(l, now);
    }
}

void store_lease_reap(struct vf_store *s, bool all)
{
    for (struct vf_store_lease **pp = &s->leases; *pp;) {
        struct vf_store_lease *l = *pp;
        if (all || (l->dead && !l->inflight)) {
            *pp = l->next;
            free(l);
        } else {
            pp = &l->next;
        }
    }
}
