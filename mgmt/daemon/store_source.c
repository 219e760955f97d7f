/* store_source.c - vfabd's fabric from etcd (vf_store_source.h): list,
 * watch, build this host's part, vf_apply; register on a lease.
 *
 * States of the source on the loop:
 *   listing    a vf_store_list_async of the prefix is in flight (into
 *              list_d/list_rt); when it completes the key sets are
 *              replaced, a watch starts at its revision + 1 and the part
 *              is applied;
 *   watching   events edit the key sets; `dirty` asks the loop's next
 *              round for one rebuild + vf_apply of everything that came;
 *   waiting    a failed list, or a COMPACTED / refused watch: a new list
 *              at list_at (backoff).
 * This host's own records (registration, bindings) are store_host.c's;
 * the loop runs both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/daemon/daemon_int.h"
#include "mgmt/daemon/store_source_int.h"
#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_loop.h"
#include "mgmt/daemon/vf_store_source.h"
#include "mgmt/layout/vf_desired.h"
#include "mgmt/layout/vf_layout.h"
#include "mgmt/store/vf_store.h"

#define FIRST_WAIT_LOG_MS 5000    /* cold start: "still waiting" at most this often */

static void store_log(void *arg, enum vf_store_log_level level, const char *msg)
{
    (void)arg;
    vf_log(level == VF_STORE_LOG_ERROR  ? VF_LOG_ERROR
           : level == VF_STORE_LOG_WARN ? VF_LOG_WARN
           : level == VF_STORE_LOG_INFO ? VF_LOG_INFO : VF_LOG_DEBUG,
           "store: %s", msg);
}

/* ---- key sets ---- */

/* key (absolute) into the desired or runtime set; other keys (format,
 * serial, ping) are not needed to build a part. */
static int keep_kv(struct vf_store_src *src, struct vf_layout_kvs *d,
                   struct vf_layout_kvs *rt, const char *key, const char *value,
                   size_t len, int64_t rev, bool del)
{
    size_t pl = strlen(src->prefix);
    struct vf_layout_kvs *set;
    const char *rel;

    if (strncmp(key, src->prefix, pl))
        return 0;
    rel = key + pl;
    if (!strncmp(rel, "desired/", 8)) {
        set = d;
        rel += 8;
    } else if (!strncmp(rel, "chassis/", 8) || !strncmp(rel, "bindings/", 9)) {
        set = rt;
    } else {
        return 0;
    }
    if (del) {
        vf_layout_kvs_del(set, rel);
        return 0;
    }
    return vf_layout_kvs_set(set, rel, value ? value : "", value ? len : 0, rev);
}

/* Is chassis `name` live (a record under chassis/)? */
static bool live(const struct vf_store_src *src, const char *name)
{
    char key[VF_LAYOUT_KEY_MAX + 16], esc[VF_LAYOUT_KEY_MAX];
    if (vf_layout_name_escape(name, esc, sizeof(esc)))
        return false;
    snprintf(key, sizeof(key), "chassis/%s", esc);
    return vf_layout_kvs_find(&src->rt, key) != NULL;
}

/* This host's part of the desired keys as a model (no local), and which of
 * its chassis are down (a new array, one byte a chassis, or NULL when all
 * are live). 0 or -EINVAL/-ENOMEM with err naming the key. */
static int build(struct vf_store_src *src, struct vf_model *m, uint8_t **down,
                 char *err, size_t errlen)
{
    struct vf_layout_kvs sub;
    int rc;

    *down = NULL;
    if (vf_layout_subset(&src->desired, src->chassis, &sub)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = vf_layout_to_model(&sub, VF_LAYOUT_SUBSET, src->desired_pfx, m, err, errlen);
    vf_layout_kvs_free(&sub);
    if (rc)
        return rc;
    vf_store_src_bound(src, m);     /* where the others' ports are open */
    src->n_down = 0;
    for (size_t i = 0; i < m->n_chassis; i++) {
        if (!strcmp(m->chassis[i].name, src->chassis) || live(src, m->chassis[i].name))
            continue;
        if (!*down && !(*down = calloc(m->n_chassis, 1))) {
            vf_model_free(m);
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        (*down)[i] = 1;
        src->n_down++;
    }
    return 0;
}

/* ---- applying ---- */

static void apply_now(struct vf_store_src *src)
{
    struct vf_change c = {.origin = VF_ORIGIN_STORE, .revision = (uint64_t)src->rev};
    struct vf_apply_result res;
    char err[2048], source[64];
    int rc;

    src->dirty = false;
    snprintf(source, sizeof(source), "store revision %" PRId64, src->rev);
    c.source = source;
    rc = build(src, &c.model, &c.down, err, sizeof(err));
    if (!rc) {
        rc = vf_apply(src->d, &c, &res, err, sizeof(err));
        json_decref(res.diff);
    } else {
        vf_change_free(&c);
    }
    if (rc) {
        src->refused++;
        snprintf(src->last_refusal, sizeof(src->last_refusal), "revision %" PRId64
                 ": %.400s", src->rev, err);
        if (src->refused_rev != src->rev)
            vf_log_warn("store: %s refused, the tables in force stay: %s", source,
                        err);
        src->refused_rev = src->rev;
        return;
    }
    src->applied_rev = src->rev;
    src->bind_dirty = true;         /* ports opened or closed: bindings */
    if (res.applied) {
        src->applied++;
        vf_log_info("store: applied revision %" PRId64 " (generation %llu)",
                    src->rev, (unsigned long long)res.generation);
    }
    /* Which chassis are down, said once each time it changes. */
    char now[sizeof(src->down_names)] = "";
    const struct vf_model *m = &src->d->model;
    for (size_t i = 0; i < m->n_chassis; i++)
        if (src->d->down && src->d->down[i])
            snprintf(now + strlen(now), sizeof(now) - strlen(now), "%s%s",
                     now[0] ? ", " : "", m->chassis[i].name);
    if (strcmp(now, src->down_names)) {
        vf_log_info("store: chassis down (no live record; not tunnelled to): %s",
                    now[0] ? now : "none");
        snprintf(src->down_names, sizeof(src->down_names), "%s", now);
    }
}

/* ---- listing ---- */

static void on_watch(void *arg, const struct vf_store_watch_msg *m);

static int list_page(void *arg, const struct vf_store_kv *kvs, size_t n,
                     int64_t revision)
{
    struct vf_store_src *src = arg;
    (void)revision;
    for (size_t i = 0; i < n; i++)
        if (keep_kv(src, &src->list_d, &src->list_rt, kvs[i].key, kvs[i].value,
                    kvs[i].value_len, kvs[i].mod_revision, false))
            return -ENOMEM;
    return 0;
}

static int watch_from(struct vf_store_src *src, int64_t rev, char *err, size_t errlen)
{
    struct vf_store_watch_req q = {.key = src->prefix, .prefix = true,
                                   .start_revision = rev, .prev_kv = false,
                                   .progress_notify = true};
    vf_store_watch_stop(src->watch);
    src->watch = vf_store_watch_start(src->s, &q, on_watch, src, err, errlen);
    return src->watch ? 0 : -ENOMEM;
}

/* The list's key sets in place of the old ones, at its revision. */
static void list_take(struct vf_store_src *src, int64_t revision)
{
    vf_layout_kvs_free(&src->desired);
    vf_layout_kvs_free(&src->rt);
    vf_layout_kvs_sort(&src->list_d);
    vf_layout_kvs_sort(&src->list_rt);
    src->desired = src->list_d;
    src->rt = src->list_rt;
    memset(&src->list_d, 0, sizeof(src->list_d));
    memset(&src->list_rt, 0, sizeof(src->list_rt));
    src->rev = revision;
    src->have_list = true;
    src->lists++;
}

static void list_done(void *arg, struct vf_store_result *res)
{
    struct vf_store_src *src = arg;
    char err[256];

    src->listing = false;
    if (res->rc) {
        vf_layout_kvs_free(&src->list_d);
        vf_layout_kvs_free(&src->list_rt);
        src->list_at_ms = vf_store_src_backoff(&src->list_backoff);
        vf_log_warn("store: listing %s failed, again in a moment: %s", src->prefix,
                    res->error);
        return;
    }
    src->list_backoff = 0;
    list_take(src, res->revision);
    vf_log_info("store: listed %s at revision %" PRId64 " (%zu desired keys, %zu "
                "live chassis and bindings)", src->prefix, src->rev, src->desired.n,
                src->rt.n);
    if (watch_from(src, src->rev + 1, err, sizeof(err))) {
        vf_log_warn("store: cannot watch: %s", err);
        src->list_at_ms = vf_store_src_backoff(&src->list_backoff);
        return;
    }
    src->dirty = true;
}

static void list_start(struct vf_store_src *src)
{
    src->list_at_ms = 0;
    vf_store_watch_stop(src->watch);
    src->watch = NULL;
    src->connected = false;
    vf_layout_kvs_free(&src->list_d);
    vf_layout_kvs_free(&src->list_rt);
    if (vf_store_list_async(src->s, src->prefix, 0, 0, list_page, list_done, src)) {
        src->list_at_ms = vf_store_src_backoff(&src->list_backoff);
        return;
    }
    src->listing = true;
}

/* ---- watching ---- */

static void on_watch(void *arg, const struct vf_store_watch_msg *m)
{
    struct vf_store_src *src = arg;

    switch (m->kind) {
    case VF_STORE_WATCH_CREATED:
        if (!src->connected)
            vf_log_info("store: watching %s from revision %" PRId64 " at %s",
                        src->prefix, src->rev + 1, m->endpoint ? m->endpoint : "?");
        src->connected = true;
        break;
    case VF_STORE_WATCH_PROGRESS:
        src->last_event_ms = vf_store_src_now_ms();
        break;
    case VF_STORE_WATCH_EVENTS:
        for (size_t i = 0; i < m->n_events; i++) {
            const struct vf_store_event *e = &m->events[i];
            if (keep_kv(src, &src->desired, &src->rt, e->kv.key, e->kv.value,
                        e->kv.value_len, e->kv.mod_revision,
                        e->type == VF_STORE_EVENT_DELETE)) {
                vf_log_error("store: out of memory holding an event: listing again");
                src->list_at_ms = vf_store_src_now_ms();
                return;
            }
            src->rev = e->kv.mod_revision;
        }
        src->events += m->n_events;
        src->last_event_ms = vf_store_src_now_ms();
        src->dirty = true;
        break;
    case VF_STORE_WATCH_LOST:
        if (src->connected)
            vf_log_warn("store: watch lost (%s); forwarding goes on with the tables "
                        "in force, reconnecting", m->reason ? m->reason : "?");
        src->connected = false;
        break;
    case VF_STORE_WATCH_COMPACTED:
        vf_log_info("store: revision %" PRId64 " is compacted (at %" PRId64 "): "
                    "listing again", src->rev + 1, m->revision);
        src->watch = NULL;          /* stopped by the client */
        src->connected = false;
        src->list_at_ms = vf_store_src_now_ms();
        break;
    case VF_STORE_WATCH_FAILED:
        vf_log_warn("store: etcd refused the watch (%s): listing again in a moment",
                    m->reason ? m->reason : "?");
        src->watch = NULL;
        src->connected = false;
        src->list_at_ms = vf_store_src_backoff(&src->list_backoff);
        break;
    }
}

/* ---- the loop ---- */

static unsigned src_fds(void *arg, struct pollfd *pfd, unsigned max)
{
    struct vf_store_src *src = arg;
    int n = vf_store_pollfds(src->s, pfd, max);
    return n > 0 ? (unsigned)n : 0;
}

static int src_timeout(void *arg)
{
    struct vf_store_src *src = arg;
    int t = vf_store_timeout_ms(src->s);
    int64_t now = vf_store_src_now_ms();
    int64_t due[3] = {src->list_at_ms, src->reg_at_ms,
                      src->bind_dirty && src->reg == REG_DONE && !src->bind_busy
                          ? (src->bind_at_ms ? src->bind_at_ms : now) : 0};

    if (src->dirty)
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!due[i])
            continue;
        int64_t d = due[i] - now;
        d = d < 0 ? 0 : d;
        if (t < 0 || d < t)
            t = (int)d;
    }
    return t;
}

static int src_ready(void *arg, const struct pollfd *pfd, unsigned n)
{
    struct vf_store_src *src = arg;
    int64_t now;

    vf_store_dispatch(src->s, pfd, n);  /* a curl failure is the request's */
    now = vf_store_src_now_ms();
    if (src->list_at_ms && now >= src->list_at_ms && !src->listing)
        list_start(src);
    if (src->reg_at_ms && now >= src->reg_at_ms)
        vf_store_src_reg_step(src);
    /* A batch: everything this round brought, in one apply. Not while a
     * list is in flight (it replaces the key sets). */
    if (src->dirty && !src->listing && src->have_list)
        apply_now(src);
    if (src->bind_dirty && (!src->bind_at_ms || now >= src->bind_at_ms))
        vf_store_src_bind_sync(src);
    return 0;
}

/* ---- life ---- */

int vf_store_src_create(const struct vf_model_local *local, const char *endpoints,
                        const char *version, struct vf_store_src **out, char *err,
                        size_t errlen)
{
    const struct vf_model_store *st = &local->store;
    struct vf_store_src *src = calloc(1, sizeof(*src));
    int rc;

    *out = NULL;
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(src->endpoints, sizeof(src->endpoints), "%s",
             endpoints && *endpoints ? endpoints : st->endpoints);
    snprintf(src->prefix, sizeof(src->prefix), "%s",
             st->prefix[0] ? st->prefix : VF_LAYOUT_DEFAULT_PREFIX);
    snprintf(src->desired_pfx, sizeof(src->desired_pfx), "%sdesired/", src->prefix);
    snprintf(src->chassis, sizeof(src->chassis), "%s", local->chassis);
    snprintf(src->version, sizeof(src->version), "%s", version);
    src->ttl = st->lease_ttl ? st->lease_ttl : VF_MODEL_STORE_TTL_DEFAULT;
    struct vf_store_config sc = {
        .endpoints = src->endpoints,
        .ca_file = st->ca[0] ? st->ca : NULL,
        .cert_file = st->cert[0] ? st->cert : NULL,
        .key_file = st->key[0] ? st->key : NULL,
        .log = store_log,
    };
    rc = vf_store_create(&sc, &src->s, err, errlen);
    if (rc) {
        free(src);
        return rc;
    }
    *out = src;
    return 0;
}

void vf_store_src_destroy(struct vf_store_src *src)
{
    if (!src)
        return;
    /* The lease is revoked on a clean stop, so the others drop this
     * chassis at once instead of after its TTL. */
    if (src->keeper && src->lease) {
        struct vf_store_result r = {0};
        vf_store_lease_unkeep(src->keeper);
        src->keeper = NULL;
        vf_store_lease_revoke(src->s, src->lease, &r);
        vf_store_result_clear(&r);
    }
    vf_store_destroy(src->s);       /* its watch and keeper with it */
    vf_layout_kvs_free(&src->desired);
    vf_layout_kvs_free(&src->rt);
    vf_layout_kvs_free(&src->list_d);
    vf_layout_kvs_free(&src->list_rt);
    free(src);
}

const char *vf_store_src_endpoints(const struct vf_store_src *src)
{
    return src->endpoints;
}

int vf_store_src_first(struct vf_store_src *src, const struct vf_model_local *local,
                       struct vf_change *c, char *err, size_t errlen)
{
    struct vf_store_result res = {0};
    int64_t logged = 0;
    uint8_t *down = NULL;
    char msg[2048];
    int rc;

    memset(c, 0, sizeof(*c));
    /* Nothing forwards yet: waiting here costs nothing but the wait. */
    for (;;) {
        rc = vf_store_list(src->s, src->prefix, 0, 0, list_page, src, &res);
        if (!rc)
            break;
        vf_layout_kvs_free(&src->list_d);
        vf_layout_kvs_free(&src->list_rt);
        if (vf_store_src_now_ms() - logged >= FIRST_WAIT_LOG_MS) {
            vf_log_warn("store: waiting for etcd (no saved state to forward from): "
                        "%s", res.error);
            logged = vf_store_src_now_ms();
        }
        vf_store_result_clear(&res);
        struct timespec ts = {0, 0};
        int64_t until = vf_store_src_backoff(&src->list_backoff) - vf_store_src_now_ms();
        ts.tv_sec = until / 1000;
        ts.tv_nsec = (until % 1000) * 1000000;
        nanosleep(&ts, NULL);
    }
    src->list_backoff = 0;
    list_take(src, res.revision);
    vf_store_result_clear(&res);
    rc = build(src, &c->model, &down, msg, sizeof(msg));
    if (!rc) {
        c->model.has_local = true;
        c->model.local = *local;
        if (vf_model_find_chassis(&c->model, local->chassis) < 0) {
            snprintf(msg, sizeof(msg), "local.chassis: \"%s\" is not a chassis of "
                     "the fabric in the store (%s at revision %" PRId64 "): add it "
                     "with vfabctl --store URL apply", local->chassis, src->prefix,
                     src->rev);
            rc = -EINVAL;
        } else {
            rc = vf_model_validate(&c->model, msg, sizeof(msg));
        }
    }
    if (rc) {
        snprintf(err, errlen, "the store's fabric (%s, revision %" PRId64 ") cannot "
                 "run here: %s", src->prefix, src->rev, msg);
        free(down);
        vf_model_free(&c->model);
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    c->origin = VF_ORIGIN_STORE;
    c->source = "the store";
    c->revision = (uint64_t)src->rev;
    c->validated = true;
    c->down = down;
    src->applied_rev = src->rev;
    return 0;
}

int vf_store_src_start(struct vf_store_src *src, struct vf_daemon *d,
                       struct vf_loop *loop, char *err, size_t errlen)
{
    int rc;

    src->d = d;
    d->store = src;
    if (src->have_list) {
        rc = vf_store_src_register_first(src, err, errlen);
        if (rc)
            return rc;
        rc = watch_from(src, src->rev + 1, err, errlen);
        if (rc)
            return rc;
    } else {
        /* From saved state: the store when it answers. */
        src->list_at_ms = vf_store_src_now_ms();
        src->reg_at_ms = vf_store_src_now_ms();
    }
    if (vf_loop_add_timed_source(loop, "store", src_fds, src_ready, src_timeout,
                                 src)) {
        snprintf(err, errlen, "internal: the management loop is full");
        return -ENOSPC;
    }
    return 0;
}

json_t *vf_store_src_status(const struct vf_store_src *src)
{
    struct vf_store_stats st;
    json_t *down = json_array();
    const struct vf_model *m = src->d ? &src->d->model : NULL;

    vf_store_get_stats(src->s, &st);
    for (size_t i = 0; m && down && i < m->n_chassis; i++)
        if (src->d->down && src->d->down[i])
            json_array_append_new(down, json_string(m->chassis[i].name));
    return json_pack("{s:s, s:s, s:s, s:b, s:s?, s:I, s:I, s:I, s:f, s:s, s:I, "
                     "s:I, s:I, s:o, s:I, s:I, s:s, s:I, s:I}",
                     "endpoints", src->endpoints, "prefix", src->prefix,
                     "chassis", src->chassis, "connected", src->connected,
                     "endpoint", src->watch ? vf_store_watch_endpoint(src->watch)
                                            : NULL,
                     "revision", (json_int_t)src->applied_rev,
                     "revision_seen", (json_int_t)src->rev,
                     "store_revision", (json_int_t)st.revision,
                     "last_event_age_s",
                     src->last_event_ms ? (double)(vf_store_src_now_ms() - src->last_event_ms) / 1e3
                                        : -1.0,
                     "registration", src->reg == REG_DONE ? "registered"
                                     : src->reg == REG_PUTTING ? "registering"
                                     : "no lease",
                     "lease", (json_int_t)src->lease,
                     "lease_ttl_s", (json_int_t)src->ttl,
                     "lease_left_ms",
                     (json_int_t)(src->keeper ? vf_store_lease_left_ms(src->keeper) : -1),
                     "chassis_down", down ? down : json_array(),
                     "changes_applied", (json_int_t)src->applied,
                     "changes_refused", (json_int_t)src->refused,
                     "last_refusal", src->last_refusal,
                     "bindings_claimed", (json_int_t)src->claims,
                     "bindings_released", (json_int_t)src->releases);
}
