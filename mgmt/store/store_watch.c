/* store_watch.c - watch streams: one POST /v3/watch per watch, its answer
 * a chunked stream of {"result": ...} objects; events delivered in
 * revision order; the stream re-created after a loss from the revision
 * after the last one delivered (vf_store.h).
 *
 * Resuming exactly: etcd sends a revision's events in one answer, except
 * when the watch asks for fragments (we do, so that one huge transaction
 * cannot exceed the response cap): then an answer marked "fragment" may
 * end inside a revision. After such an answer the resume point is that
 * revision itself, with the number of its events already delivered
 * (skip_n); a re-created stream skips them. Progress notifications move
 * the resume point to their revision + 1 (etcd 3.4 sends them only to
 * watchers that have caught up). A batch's header revision is NOT a resume
 * point: while catching up, etcd sends batches of at most 1,000 revisions
 * under the store's current revision. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store/store_int.h"

#define GRPC_UNAUTHENTICATED 16

static void watch_notify(struct vf_store_watch *w, struct vf_store_watch_msg *m)
{
    if (!m->endpoint)
        m->endpoint = w->x.s->eps[w->x.ep];
    w->x.s->cb_depth++;
    w->fn(w->arg, m);
    w->x.s->cb_depth--;
}

static void watch_stopped(struct vf_store_watch *w, enum vf_store_watch_kind kind,
                          int64_t revision, const char *why)
{
    store_xfer_stop(&w->x);
    w->state = WATCH_STOPPED;
    store_log(w->x.s, kind == VF_STORE_WATCH_COMPACTED ? VF_STORE_LOG_INFO : VF_STORE_LOG_ERROR,
              "etcd watch: %s", why);
    struct vf_store_watch_msg m = {.kind = kind, .revision = revision, .reason = why};
    watch_notify(w, &m);
}

static void watch_lost(struct vf_store_watch *w, const char *why)
{
    struct vf_store *s = w->x.s;
    unsigned ep = w->x.ep;
    store_xfer_stop(&w->x);
    w->state = WATCH_WAIT;
    w->attempt++;
    w->due_ns = store_now_ns() + store_backoff_ns(s, w->attempt);
    w->x.ep = store_ep_failed(s, ep);
    char from[48] = "";
    if (w->next_rev)
        snprintf(from, sizeof(from), " from revision %" PRId64, w->next_rev);
    store_log(s, w->lost_quiet ? VF_STORE_LOG_DEBUG : VF_STORE_LOG_WARN,
              "etcd watch on %s: %s; trying again%s on %s", s->eps[ep], why, from,
              s->eps[w->x.ep]);
    w->lost_quiet = true;
    struct vf_store_watch_msg m = {.kind = VF_STORE_WATCH_LOST, .revision = w->next_rev,
                                   .reason = why, .endpoint = s->eps[ep]};
    watch_notify(w, &m);
}

static int watch_body(struct vf_store_watch *w)
{
    json_t *cr = json_object();
    if (!cr || store_json_key(cr, w->key, w->prefix)) {
        json_decref(cr);
        return -ENOMEM;
    }
    if (w->next_rev)
        store_json_set_i64(cr, "start_revision", w->next_rev);
    if (w->prev_kv)
        json_object_set_new(cr, "prev_kv", json_true());
    if (w->progress)
        json_object_set_new(cr, "progress_notify", json_true());
    json_object_set_new(cr, "fragment", json_true());
    json_t *body = json_pack("{s:o}", "create_request", cr);
    free(w->body);
    w->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return w->body ? 0 : -ENOMEM;
}

static void watch_connect(struct vf_store_watch *w)
{
    struct vf_store *s = w->x.s;
    if (!store_auth_ready(s)) {
        w->state = WATCH_TOKEN;
        store_auth_start(s);
        return;
    }
    int rc = watch_body(w);
    w->x.in.len = 0;
    w->fr = (struct store_framer){0};
    w->created = false;
    w->cur_rev = w->skip_rev;
    w->cur_n = w->skip_n;
    w->skip_left = w->skip_n;
    w->token_gen = s->token_gen;
    if (!rc)
        rc = store_xfer_start(&w->x, "/v3/watch", w->body, strlen(w->body), 0);
    if (rc) {
        char why[128];
        snprintf(why, sizeof(why), "cannot start the stream: %s", strerror(-rc));
        watch_lost(w, why);
        return;
    }
    w->state = WATCH_OPEN;
    w->opened_ns = store_now_ns();
    w->rx_ns = w->opened_ns;
}

static size_t events_bytes(json_t *evs)
{
    size_t n = json_array_size(evs), bytes = n * sizeof(struct vf_store_event) + 16;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(evs, i);
        json_t *kv = json_object_get(e, "kv"), *pv = json_object_get(e, "prev_kv");
        json_t *parts[] = {json_object_get(kv, "key"), json_object_get(kv, "value"),
                           json_object_get(pv, "key"), json_object_get(pv, "value")};
        for (int k = 0; k < 4; k++)
            bytes += (json_is_string(parts[k]) ? json_string_length(parts[k]) : 0) + 17;
    }
    return bytes;
}

/* Decodes, drops what a resumed stream repeats, delivers, and moves the
 * resume point. Returns -errno when the answer cannot be decoded. */
static int watch_events(struct vf_store_watch *w, json_t *evs, bool fragment, int64_t hdr_rev)
{
    size_t n = json_array_size(evs), k = 0;
    struct store_arena a;
    if (store_arena_init(&a, events_bytes(evs)))
        return -ENOMEM;
    struct vf_store_event *out = store_arena_alloc(&a, n * sizeof(*out));
    int rc = out ? 0 : -EIO;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *e = json_array_get(evs, i), *pv = json_object_get(e, "prev_kv");
        struct vf_store_event *ev = &out[k];
        *ev = (struct vf_store_event){0};
        const char *type = json_string_value(json_object_get(e, "type"));
        /* PUT is enum value 0: the gateway omits it. */
        ev->type = type && strcmp(type, "DELETE") == 0 ? VF_STORE_EVENT_DELETE
                                                       : VF_STORE_EVENT_PUT;
        rc = store_kv_decode(json_object_get(e, "kv"), &ev->kv, &a);
        if (!rc && pv) {
            rc = store_kv_decode(pv, &ev->prev_kv, &a);
            ev->has_prev = true;
        }
        if (rc)
            break;
        int64_t rev = ev->kv.mod_revision;
        if (w->skip_left && rev == w->skip_rev) {
            w->skip_left--;          /* delivered before the stream broke */
            continue;
        }
        if (rev < w->next_rev)
            continue;                /* never twice */
        if (rev == w->cur_rev) {
            w->cur_n++;
        } else {
            w->cur_rev = rev;
            w->cur_n = 1;
        }
        k++;
    }
    if (!rc) {
        if (fragment) {
            w->next_rev = w->cur_rev;
            w->skip_rev = w->cur_rev;
            w->skip_n = w->cur_n;
        } else if (w->cur_rev >= w->next_rev) {
            w->next_rev = w->cur_rev + 1;
            w->skip_rev = 0;
            w->skip_n = 0;
        }
        w->skip_left = 0;
        if (k) {
            struct vf_store_watch_msg m = {.kind = VF_STORE_WATCH_EVENTS, .revision = hdr_rev,
                                           .events = out, .n_events = k};
            watch_notify(w, &m);
        }
    }
    free(a.base);
    return rc;
}

/* One {"result": ...} (or {"error": ...}) of the stream. */
static void watch_handle(struct vf_store_watch *w, json_t *o)
{
    struct vf_store *s = w->x.s;
    json_t *res = json_object_get(o, "result");
    if (!res) {
        /* The gateway's stream error: {"error": {"message": ...}}. */
        const char *msg = json_string_value(json_object_get(json_object_get(o, "error"),
                                                            "message"));
        char why[VF_STORE_ERR_LEN];
        snprintf(why, sizeof(why), "etcd ended the stream: %s", msg ? msg : "(no reason)");
        watch_lost(w, why);
        return;
    }
    store_note_revision(s, res);
    int64_t hdr_rev = store_json_i64(json_object_get(res, "header"), "revision");
    int64_t compact = store_json_i64(res, "compact_revision");
    bool created = json_is_true(json_object_get(res, "created"));

    if (json_is_true(json_object_get(res, "canceled")) || compact > 0) {
        const char *reason = json_string_value(json_object_get(res, "cancel_reason"));
        char why[VF_STORE_ERR_LEN];
        if (compact > 0) {
            snprintf(why, sizeof(why), "compacted: etcd no longer has revision %" PRId64
                     " (compacted up to %" PRId64 "); re-list, then watch from the list's "
                     "revision + 1", w->next_rev, compact);
            watch_stopped(w, VF_STORE_WATCH_COMPACTED, compact, why);
            return;
        }
        if (reason && strstr(reason, "invalid auth token") && s->user) {
            /* The token expired: a new one, then the stream again. */
            if (s->token && w->token_gen == s->token_gen) {
                explicit_bzero(s->token, strlen(s->token));
                free(s->token);
                s->token = NULL;
            }
            watch_lost(w, "auth token refused; authenticating again");
            return;
        }
        snprintf(why, sizeof(why), "etcd refused the watch: %s",
                 reason && *reason ? reason : "(no reason given)");
        watch_stopped(w, VF_STORE_WATCH_FAILED, hdr_rev, why);
        return;
    }
    if (created) {
        if (w->lost_quiet) {
            s->st.watch_reconnects++;
            store_log(s, VF_STORE_LOG_INFO, "etcd watch resumed on %s from revision %" PRId64,
                      s->eps[w->x.ep], w->next_rev);
        }
        w->created = true;
        w->lost_quiet = false;
        w->attempt = 0;
        if (w->next_rev == 0)
            w->next_rev = hdr_rev + 1;
        struct vf_store_watch_msg m = {.kind = VF_STORE_WATCH_CREATED, .revision = hdr_rev};
        watch_notify(w, &m);
        if (w->dead || w->state != WATCH_OPEN)
            return;
    }
    json_t *evs = json_object_get(res, "events");
    if (json_array_size(evs)) {
        int rc = watch_events(w, evs, json_is_true(json_object_get(res, "fragment")), hdr_rev);
        if (rc)
            watch_lost(w, rc == -ENOMEM ? "out of memory" : "an event etcd sent is not valid");
        return;
    }
    if (!created) {
        /* A progress notification: nothing changed up to hdr_rev. */
        if (w->skip_n == 0 && hdr_rev >= w->next_rev)
            w->next_rev = hdr_rev + 1;
        struct vf_store_watch_msg m = {.kind = VF_STORE_WATCH_PROGRESS, .revision = hdr_rev};
        watch_notify(w, &m);
    }
}

void store_watch_input(struct vf_store_watch *w)
{
    size_t b, e;
    int got = 0;
    long status = 0;
    /* Only a 200 carries the stream; an error body waits for the end. */
    if (w->x.easy)
        curl_easy_getinfo(w->x.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return;
    while (!w->dead && w->state == WATCH_OPEN &&
           (got = store_framer_next(&w->fr, w->x.in.p, w->x.in.len, &b, &e)) == 1) {
        json_error_t je;
        json_t *o = json_loadb(w->x.in.p + b, e - b, 0, &je);
        w->rx_ns = store_now_ns();
        store_buf_consume(&w->x.in, e);
        store_framer_shift(&w->fr, e);
        if (!o) {
            watch_lost(w, "etcd sent a watch answer that is not JSON");
            return;
        }
        watch_handle(w, o);
        json_decref(o);
    }
    if (got < 0 && !w->dead && w->state == WATCH_OPEN)
        watch_lost(w, "etcd's watch stream is not a sequence of JSON objects");
}

void store_watch_transfer_done(struct vf_store_watch *w, CURLcode cc)
{
    struct vf_store *s = w->x.s;
    store_watch_input(w);            /* the stream's last objects first */
    if (w->dead || w->state != WATCH_OPEN)
        return;
    char why[VF_STORE_ERR_LEN], reason[VF_STORE_ERR_LEN];
    bool sent;
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(w->x.easy, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && status == 200) {
        snprintf(why, sizeof(why), "etcd closed the stream");
    } else if (cc == CURLE_OK) {
        int code;
        int rc = store_http_error(s, status, w->x.in.p, w->x.in.len, reason, sizeof(reason),
                                  &code);
        snprintf(why, sizeof(why), "%s", reason);
        if (rc == -ENOTSUP || rc == -EACCES || rc == -EPERM) {
            watch_stopped(w, VF_STORE_WATCH_FAILED, 0, why);
            return;
        }
    } else {
        int rc = store_xfer_error(&w->x, cc, reason, sizeof(reason), &sent);
        if (rc == -EFBIG) {
            snprintf(why, sizeof(why), "one watch answer is larger than max_response_bytes "
                     "(%zu): raise it", s->max_response);
            watch_stopped(w, VF_STORE_WATCH_FAILED, 0, why);
            return;
        }
        snprintf(why, sizeof(why), "%s", reason);
    }
    watch_lost(w, why);
}

struct vf_store_watch *vf_store_watch_start(struct vf_store *s,
                                            const struct vf_store_watch_req *req,
                                            vf_store_watch_fn *fn, void *arg, char *err,
                                            size_t errlen)
{
    if (!req->key || !*req->key || !fn || req->start_revision < 0) {
        snprintf(err, errlen, "etcd watch: %s", !fn ? "no callback" : req->start_revision < 0
                                                        ? "a negative start revision"
                                                        : "an empty key");
        return NULL;
    }
    struct vf_store_watch *w = calloc(1, sizeof(*w));
    if (!w || !(w->key = strdup(req->key))) {
        free(w);
        snprintf(err, errlen, "etcd watch: out of memory");
        return NULL;
    }
    w->x.kind = STORE_XFER_WATCH;
    w->x.s = s;
    w->x.ep = s->cur_ep;
    w->prefix = req->prefix;
    w->prev_kv = req->prev_kv;
    w->progress = req->progress_notify;
    w->next_rev = req->start_revision;
    w->idle_ms = req->idle_timeout_ms;
    w->fn = fn;
    w->arg = arg;
    w->state = WATCH_WAIT;
    w->due_ns = store_now_ns();      /* connects at the next dispatch */
    w->next = s->watches;
    s->watches = w;
    return w;
}

void vf_store_watch_stop(struct vf_store_watch *w)
{
    if (!w)
        return;
    store_xfer_stop(&w->x);
    w->dead = true;                  /* freed at reap: a callback may be running */
    if (!w->x.s->cb_depth)
        store_watch_reap(w->x.s, false);
}

int64_t vf_store_watch_next_revision(const struct vf_store_watch *w)
{
    return w->next_rev;
}

const char *vf_store_watch_endpoint(const struct vf_store_watch *w)
{
    return w->state == WATCH_OPEN && w->created ? w->x.s->eps[w->x.ep] : NULL;
}

/* OPEN: when an unconfirmed stream or a quiet one is given up; -1: never. */
static int64_t open_deadline(const struct vf_store_watch *w)
{
    if (!w->created)
        return w->opened_ns + (int64_t)w->x.s->request_timeout_ms * 1000000;
    return w->idle_ms ? w->rx_ns + (int64_t)w->idle_ms * 1000000 : -1;
}

int64_t store_watch_next_due(const struct vf_store *s)
{
    int64_t due = -1;
    for (const struct vf_store_watch *w = s->watches; w; w = w->next) {
        int64_t t = w->dead                   ? -1
                    : w->state == WATCH_WAIT ? w->due_ns
                    : w->state == WATCH_OPEN ? open_deadline(w)
                                             : -1;
        if (t >= 0 && (due < 0 || t < due))
            due = t;
    }
    return due;
}

void store_watch_timers(struct vf_store *s, int64_t now)
{
    for (struct vf_store_watch *w = s->watches; w; w = w->next) {
        if (w->dead)
            continue;
        if (w->state == WATCH_WAIT && now >= w->due_ns) {
            watch_connect(w);
        } else if (w->state == WATCH_OPEN) {
            int64_t t = open_deadline(w);
            if (t < 0 || now < t)
                continue;
            char why[128];
            if (!w->created)
                snprintf(why, sizeof(why), "etcd did not confirm the watch within %u ms",
                         s->request_timeout_ms);
            else
                snprintf(why, sizeof(why), "nothing from etcd for %u ms (idle_timeout_ms)",
                         w->idle_ms);
            watch_lost(w, why);
        }
    }
}

void store_watch_token_ready(struct vf_store *s, int rc, const char *why)
{
    for (struct vf_store_watch *w = s->watches; w; w = w->next) {
        if (w->dead || w->state != WATCH_TOKEN)
            continue;
        if (rc == 0) {
            watch_connect(w);
        } else if (rc == -EACCES) {
            char msg[VF_STORE_ERR_LEN];
            snprintf(msg, sizeof(msg), "authentication failed: %s", why);
            watch_stopped(w, VF_STORE_WATCH_FAILED, 0, msg);
        } else {
            watch_lost(w, why);
        }
    }
}

void store_watch_reap(struct vf_store *s, bool all)
{
    for (struct vf_store_watch **pp = &s->watches; *pp;) {
        struct vf_store_watch *w = *pp;
        if (all || w->dead) {
            *pp = w->next;
            store_xfer_stop(&w->x);
            store_buf_free(&w->x.in);
            free(w->key);
            free(w->body);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}
