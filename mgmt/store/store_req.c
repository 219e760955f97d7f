/* store_req.c - requests with one answer: start on the endpoint that last
 * worked, fail over to the next on a failure that never reached etcd,
 * wait for a token when auth is on (and fetch a new one once when etcd
 * says it expired), complete with a result that names the endpoint; and
 * the synchronous wrappers' wait (vf_store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store/store_int.h"

#define GRPC_UNAUTHENTICATED 16

struct store_req *store_req_new(struct vf_store *s, const char *path, json_t *body,
                                store_decode_fn *decode, vf_store_done_fn *done, void *arg)
{
    struct store_req *r = calloc(1, sizeof(*r));
    if (!r) {
        json_decref(body);
        return NULL;
    }
    r->x.kind = STORE_XFER_REQ;
    r->x.s = s;
    r->path = path;
    r->needs_auth = true;
    r->timeout_ms = s->request_timeout_ms;
    r->decode = decode;
    r->done = done;
    r->arg = arg;
    if (body) {
        r->body = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!r->body) {
            free(r);
            return NULL;
        }
        r->body_len = strlen(r->body);
    }
    r->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = r;
    s->reqs = r;
    return r;
}

void store_req_free(struct store_req *r)
{
    struct vf_store *s = r->x.s;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (s->auth_req == r)
        s->auth_req = NULL;
    if (r->early)
        s->n_early--;
    store_xfer_stop(&r->x);
    store_buf_free(&r->x.in);
    if (r->body && r->secret)
        explicit_bzero(r->body, r->body_len);
    free(r->body);
    free(r);
}

static void req_finish(struct store_req *r, struct vf_store_result *res)
{
    struct vf_store *s = r->x.s;
    vf_store_done_fn *done = r->done;
    void *arg = r->arg;
    s->st.requests++;
    if (res->rc)
        s->st.failures++;
    store_req_free(r);
    if (done) {
        s->cb_depth++;
        done(arg, res);
        s->cb_depth--;
    }
    vf_store_result_clear(res);
}

void store_req_fail_later(struct store_req *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fails, sizeof(r->fails), fmt, ap);
    va_end(ap);
    r->early_rc = rc;
    if (!r->early)
        r->x.s->n_early++;
    r->early = true;
}

int store_fail_later(struct vf_store *s, vf_store_done_fn *done, void *arg, int rc,
                     const char *fmt, ...)
{
    struct store_req *r = store_req_new(s, "", NULL, NULL, done, arg);
    if (!r)
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fails, sizeof(r->fails), fmt, ap);
    va_end(ap);
    r->early_rc = rc;
    r->early = true;
    s->n_early++;
    return 0;
}

void store_req_run_early(struct vf_store *s)
{
    /* A completion may queue more early failures: take one at a time. */
    while (s->n_early) {
        struct store_req *r = s->reqs;
        while (r && !r->early)
            r = r->next;
        if (!r)
            break;
        struct vf_store_result res = {0};
        store_result_error(&res, r->early_rc, "%s", r->fails);
        req_finish(r, &res);
    }
}

static void req_start(struct store_req *r)
{
    struct vf_store *s = r->x.s;
    if (r->needs_auth && !store_auth_ready(s)) {
        r->parked = true;
        store_auth_start(s);
        return;
    }
    r->parked = false;
    r->token_gen = s->token_gen;
    int64_t left_ms = (r->deadline_ns - store_now_ns()) / 1000000;
    if (left_ms < 1)
        left_ms = 1;
    int rc = store_xfer_start(&r->x, r->path, r->body, r->body_len, (long)left_ms);
    if (rc)
        store_req_fail_later(r, rc, "etcd %s: cannot start the request: %s",
                             s->eps[r->x.ep], strerror(-rc));
}

void store_req_submit(struct store_req *r)
{
    struct vf_store *s = r->x.s;
    r->deadline_ns = store_now_ns() + (int64_t)r->timeout_ms * 1000000;
    r->x.ep = s->cur_ep;
    req_start(r);
}

static bool can_fail_over(const struct store_req *r)
{
    return r->tries + 1 < r->x.s->n_eps && store_now_ns() < r->deadline_ns;
}

static void fail_over(struct store_req *r, const char *why)
{
    struct vf_store *s = r->x.s;
    size_t used = strlen(r->fails);
    snprintf(r->fails + used, sizeof(r->fails) - used, "%s%s: %s", used ? "; " : "",
             s->eps[r->x.ep], why);
    unsigned next = store_ep_failed(s, r->x.ep);
    store_log(s, VF_STORE_LOG_WARN, "etcd %s: %s; trying %s", s->eps[r->x.ep], why,
              s->eps[next]);
    s->st.failovers++;
    store_xfer_stop(&r->x);
    r->tries++;
    r->x.ep = next;
    req_start(r);
}

static void complete_ok(struct store_req *r)
{
    struct vf_store *s = r->x.s;
    struct vf_store_result res = {0};
    json_error_t je;
    json_t *root = json_loadb(r->x.in.p ? r->x.in.p : "", r->x.in.len, 0, &je);
    if (!root) {
        store_result_error(&res, -EIO, "etcd %s: the answer is not JSON (%s)",
                           s->eps[r->x.ep], je.text);
    } else {
        store_note_revision(s, root);
        res.revision = store_json_i64(json_object_get(root, "header"), "revision");
        int rc = r->decode ? r->decode(r, root, &res) : 0;
        if (rc && !res.rc)
            store_result_error(&res, rc, "etcd %s: cannot decode the answer",
                               s->eps[r->x.ep]);
        json_decref(root);
    }
    req_finish(r, &res);
}

void store_req_transfer_done(struct store_req *r, CURLcode cc)
{
    struct vf_store *s = r->x.s;
    char why[VF_STORE_ERR_LEN];
    bool sent = true;
    int rc;

    if (cc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &status);
        s->st.connected = true;
        if (status == 200) {
            complete_ok(r);
            return;
        }
        int code;
        rc = store_http_error(s, status, r->x.in.p, r->x.in.len, why, sizeof(why), &code);
        if (code == GRPC_UNAUTHENTICATED && s->user && r->needs_auth && !r->auth_retried) {
            /* The token expired (--auth-token-ttl) or a member restarted:
             * a new one, and this request once more. */
            r->auth_retried = true;
            if (r->token_gen == s->token_gen && s->token) {
                explicit_bzero(s->token, strlen(s->token));
                free(s->token);
                s->token = NULL;
            }
            store_log(s, VF_STORE_LOG_INFO, "etcd %s: auth token refused; authenticating "
                      "again", s->eps[r->x.ep]);
            store_xfer_stop(&r->x);
            req_start(r);
            return;
        }
        if (rc == -EAGAIN && r->idempotent && can_fail_over(r)) {
            fail_over(r, why);
            return;
        }
    } else {
        rc = store_xfer_error(&r->x, cc, why, sizeof(why), &sent);
        if (!sent)
            s->st.connected = false;
        if ((!sent || r->idempotent) && rc != -EFBIG && can_fail_over(r)) {
            fail_over(r, why);
            return;
        }
        /* No time left to try another: the next request starts at the
         * next endpoint, not at one that just timed out or went away (a
         * frozen member would otherwise take every request's deadline). */
        if (rc != -EFBIG)
            store_ep_failed(s, r->x.ep);
    }

    struct vf_store_result res = {0};
    const char *maybe = !r->idempotent && sent && (rc == -ETIMEDOUT || rc == -ECONNRESET)
                            ? " (the request may have been applied)"
                            : "";
    if (r->fails[0])
        store_result_error(&res, rc, "etcd: no endpoint answered: %s; %s: %s%s", r->fails,
                           s->eps[r->x.ep], why, maybe);
    else
        store_result_error(&res, rc, "etcd %s: %s%s", s->eps[r->x.ep], why, maybe);
    req_finish(r, &res);
}

/* ---- auth ---- */

bool store_auth_ready(const struct vf_store *s)
{
    return !s->user || s->token;
}

static int auth_decode(struct store_req *r, json_t *root, struct vf_store_result *res)
{
    struct vf_store *s = r->x.s;
    const char *tok = json_string_value(json_object_get(root, "token"));
    if (!tok || !*tok) {
        store_result_error(res, -EACCES, "etcd %s: authenticate answered without a token",
                           s->eps[r->x.ep]);
        return -EACCES;
    }
    s->token = strdup(tok);
    if (!s->token)
        return -ENOMEM;
    s->token_gen++;
    return 0;
}

static void auth_done(void *arg, struct vf_store_result *res)
{
    struct vf_store *s = arg;
    if (res->rc == 0 || strstr(res->error, "authentication is not enabled")) {
        if (res->rc) {
            /* etcd runs without auth: requests go without a token. */
            store_log(s, VF_STORE_LOG_WARN, "etcd has authentication disabled; the store's "
                      "user is not used");
            s->token = strdup("");
            if (!s->token) {
                store_watch_token_ready(s, -ENOMEM, "out of memory");
                return;
            }
            s->token_gen++;
        }
        if (s->authed_once)
            s->st.reauths++;
        s->authed_once = true;
        for (struct store_req *r = s->reqs, *next; r; r = next) {
            next = r->next;
            if (r->parked)
                req_start(r);
        }
        store_watch_token_ready(s, 0, NULL);
        return;
    }
    int rc = res->rc == -EINVAL ? -EACCES : res->rc;
    store_log(s, VF_STORE_LOG_ERROR, "etcd authentication as user %s failed: %s", s->user,
              res->error);
    for (struct store_req *r = s->reqs; r; r = r->next) {
        if (!r->parked)
            continue;
        r->parked = false;
        store_req_fail_later(r, rc, "etcd authentication as user %s failed: %s", s->user,
                             res->error);
    }
    store_watch_token_ready(s, rc, res->error);
}

void store_auth_start(struct vf_store *s)
{
    if (s->auth_req || !s->user)
        return;
    json_t *body = json_pack("{s:s, s:s}", "name", s->user, "password", s->password);
    struct store_req *r = body ? store_req_new(s, "/v3/auth/authenticate", body,
                                               auth_decode, auth_done, s)
                               : NULL;
    if (!r) {
        for (struct store_req *p = s->reqs; p; p = p->next)
            if (p->parked) {
                p->parked = false;
                store_req_fail_later(p, -ENOMEM, "etcd: out of memory");
            }
        return;
    }
    r->needs_auth = false;
    r->idempotent = true;
    r->secret = true;
    s->auth_req = r;
    store_req_submit(r);
}

/* ---- synchronous calls ---- */

int store_sync_begin(struct vf_store *s, struct vf_store_result *res, struct store_sync *w)
{
    vf_store_result_clear(res);
    *w = (struct store_sync){.out = res};
    if (s->cb_depth) {
        store_result_error(res, -EDEADLK, "etcd: a synchronous call from inside a store "
                           "callback (use the _async form there)");
        return -EDEADLK;
    }
    return 0;
}

void store_sync_done(void *arg, struct vf_store_result *res)
{
    struct store_sync *w = arg;
    w->done = true;
    vf_store_result_move(w->out, res);
}

int store_sync_wait(struct vf_store *s, const bool *done)
{
    /* Every request ends by its deadline (curl's timeout), so this ends. */
    while (!*done) {
        int rc = vf_store_run(s, 1000);
        if (rc == -EDEADLK)
            return rc;
    }
    return 0;
}

int store_sync_finish(struct vf_store *s, int rc, struct store_sync *w)
{
    if (rc) {
        store_result_error(w->out, rc, "etcd: %s", strerror(-rc));
        return rc;
    }
    store_sync_wait(s, &w->done);
    return w->out->rc;
}
