/* sim_chassis.c - one simulated chassis of vfab-sim (vf_sim.h): register
 * on a lease, read its part of the fabric at one revision, compile, watch.
 * Everything runs in the client's completions on the chassis' thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/layout/vf_desired.h"
#include "mgmt/rpc/vf_rpc.h"
#include "perf/vf_sim.h"

#define READ_CHUNK 60            /* switches a txn (2 ranges each, < 128 ops) */
/* Switch txns in flight a chassis. A hundred chassis reading a whole
 * fabric with every txn sent at once put thousands of requests before one
 * etcd: all of them shared its CPU and all timed out together. One at a
 * time each, the same work completes. */
#define READ_WINDOW 1
#define RETRY_FIRST_MS 500       /* a failed read again after this, doubling */
#define RETRY_MAX_MS 8000
#define RETRY_TRIES 8            /* then the chassis gives up */
#define KEY_MAX 512

enum { S_GRANT, S_REGISTER, S_READ, S_LIVE, S_DEAD, S_FAILED };

static void read_start(struct sim_chassis *c);
static void process(struct sim_chassis *c);
static void on_watch(void *arg, const struct vf_store_watch_msg *m);

static void fail(struct sim_chassis *c, const char *what, const char *why)
{
    if (c->state == S_FAILED)
        return;
    char w[161];                     /* why may be c->err itself (a retry) */
    snprintf(w, sizeof(w), "%.160s", why);
    snprintf(c->err, sizeof(c->err), "%s: %s: %s", c->name, what, w);
    c->state = S_FAILED;
    vf_store_watch_stop(c->watch);
    c->watch = NULL;
    vf_store_lease_unkeep(c->keeper);
    c->keeper = NULL;
    atomic_store_explicit(&c->failed, 1, memory_order_release);   /* main: acquire */
}

static void publish_done(struct sim_chassis *c, int64_t rev)
{
    atomic_store_explicit(&c->done_ns, sim_now_ns(), memory_order_relaxed);
    /* Pairs with main's acquire load of done_rev: done_ns is visible then. */
    atomic_store_explicit(&c->done_rev, rev, memory_order_release);
}

static const char *rel_key(const struct sim_chassis *c, const char *key)
{
    size_t pl = strlen(c->cfg->prefix);
    if (strncmp(key, c->cfg->prefix, pl) || strncmp(key + pl, "desired/", 8))
        return NULL;
    return key + pl + 8;
}

static int add_kvs(struct sim_chassis *c, const struct vf_store_kv *kvs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = rel_key(c, kvs[i].key);
        if (k && vf_layout_kvs_set(&c->kvs, k, kvs[i].value, kvs[i].value_len,
                                   kvs[i].mod_revision))
            return -ENOMEM;
    }
    return 0;
}

/* ---- rebuild and compile ---- */

static void compile(struct sim_chassis *c)
{
    char err[1024];
    c->recompile = false;
    int idx = vf_model_find_chassis(&c->model, c->name);
    if (idx < 0)
        return;                  /* not (yet) a chassis of the fabric */
    struct vf_compile_env env = {.chassis_idx = idx, .uplink = &c->uplink};
    struct vf_tables *t = vf_compile(&c->model, c->tables, &env, ++c->gen, err, sizeof(err));
    if (!t) {
        fail(c, "compile", err);
        return;
    }
    /* No workers: the old snapshot can go at once (objects it shares with
     * the new one keep their references). */
    vf_tables_free(c->tables);
    c->tables = t;
    c->compiles++;
}

/* Its part of the fabric loaded again from its keys, then compiled. */
static void rebuild(struct sim_chassis *c)
{
    struct vf_layout_kvs sub;
    char err[1024];

    c->rebuild = false;
    vf_model_free(&c->model);
    c->have_model = false;
    if (vf_layout_subset(&c->kvs, c->name, &sub)) {
        fail(c, "subset", "out of memory");
        return;
    }
    int rc = vf_layout_to_model(&sub, VF_LAYOUT_SUBSET, c->cfg->prefix, &c->model, err,
                                sizeof(err));
    vf_layout_kvs_free(&sub);
    if (rc) {
        fail(c, "its part of the fabric does not load", err);
        return;
    }
    c->have_model = true;
    c->rebuilds++;
    compile(c);
}

/* ---- reading its part at one revision ---- */

/* The step that failed again after a backoff: the loop calls
 * sim_chassis_retry at retry_ns. RETRY_TRIES failures in a row and the
 * chassis gives up. */
static bool retry_later(struct sim_chassis *c, const char *what, const char *why)
{
    if (++c->read_tries >= RETRY_TRIES) {
        fail(c, what, why);
        return false;
    }
    unsigned ms = RETRY_FIRST_MS << (c->read_tries - 1);
    ms = ms > RETRY_MAX_MS ? RETRY_MAX_MS : ms;
    ms = ms * 4 / 5 + (unsigned)rand_r(&c->seed) % (ms * 2 / 5 + 1);   /* +-20 % */
    c->retries++;
    c->retry_ns = sim_now_ns() + (int64_t)ms * 1000000;
    return true;
}

/* A read that failed (etcd overloaded, a timeout): when its txns in
 * flight are back, the whole read again after a backoff, as vfabd will. */
static void read_failed(struct sim_chassis *c, const char *what, const char *why)
{
    if (c->state == S_FAILED)
        return;
    snprintf(c->err, sizeof(c->err), "%s: %s: %.160s", c->name, what, why);
    c->read_err = true;
}

static void read_next(struct sim_chassis *c);

static void read_done(struct sim_chassis *c)
{
    if (c->state != S_READ)
        return;
    if (c->restart || c->read_err) {
        if (c->fetching)
            return;                  /* the others first */
        if (c->read_err) {           /* again after a backoff */
            c->read_err = false;
            c->restart = false;
            retry_later(c, "reading the fabric", c->err);
            return;
        }
        c->restart = false;          /* the desired state moved: again */
        read_start(c);
        return;
    }
    read_next(c);
    if (c->fetching || c->todo_at < json_array_size(c->todo))
        return;
    c->read_tries = 0;
    c->read_complete = true;
    c->want_settle = true;
}

static void switches_done(void *arg, struct vf_store_result *res)
{
    struct sim_chassis *c = arg;
    c->fetching--;
    if (res->rc)
        read_failed(c, "reading switches", res->error);
    else if (!res->succeeded)
        c->restart = true;
    else
        for (size_t i = 0; i < res->n_ops; i++)
            if (add_kvs(c, res->ops[i].kvs, res->ops[i].n_kvs))
                fail(c, "reading switches", "out of memory");
    read_done(c);
}

/* The port and ACL ranges of names[0..n) in one txn, guarded by the serial
 * read with the small kinds: all of it is one desired state. */
static void read_switches(struct sim_chassis *c, const char **names, size_t n)
{
    char (*keys)[KEY_MAX] = calloc(2 * n, KEY_MAX);
    struct vf_store_op *ops = calloc(2 * n, sizeof(*ops));
    char serial[KEY_MAX], esc[VF_LAYOUT_KEY_MAX];
    if (!keys || !ops) {
        fail(c, "read", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        vf_layout_name_escape(names[i], esc, sizeof(esc));
        snprintf(keys[2 * i], KEY_MAX, "%sdesired/port/%s/", c->cfg->prefix, esc);
        snprintf(keys[2 * i + 1], KEY_MAX, "%sdesired/acl/%s/", c->cfg->prefix, esc);
        ops[2 * i] = (struct vf_store_op){.type = VF_STORE_OP_RANGE, .key = keys[2 * i],
                                          .prefix = true};
        ops[2 * i + 1] = (struct vf_store_op){.type = VF_STORE_OP_RANGE,
                                              .key = keys[2 * i + 1], .prefix = true};
    }
    snprintf(serial, sizeof(serial), "%sserial", c->cfg->prefix);
    struct vf_store_cmp cmp = {.key = serial, .target = VF_STORE_CMP_MOD,
                               .number = c->serial_mod};
    struct vf_store_txn t = {.cmp = &cmp, .n_cmp = 1, .success = ops, .n_success = 2 * n};
    c->fetching++;
    if (vf_store_txn_async(c->s, &t, switches_done, c)) {
        c->fetching--;
        fail(c, "read", "cannot start a txn");
    }
out:
    free(keys);
    free(ops);
}

static void small_done(void *arg, struct vf_store_result *res)
{
    struct sim_chassis *c = arg;
    c->fetching--;
    if (res->rc) {
        read_failed(c, "reading the fabric", res->error);
        read_done(c);
        return;
    }
    c->read_rev = res->revision;
    c->serial_mod = 0;
    vf_layout_kvs_free(&c->kvs);
    for (size_t i = 0; i < res->n_ops; i++) {
        const struct vf_store_op_result *r = &res->ops[i];
        if (i + 1 == res->n_ops)         /* the serial */
            c->serial_mod = r->n_kvs ? r->kvs[0].mod_revision : 0;
        else if (add_kvs(c, r->kvs, r->n_kvs)) {
            fail(c, "reading the fabric", "out of memory");
            return;
        }
    }
    json_decref(c->switches);
    c->switches = vf_layout_host_switches(&c->kvs, c->name);
    if (!c->switches) {
        fail(c, "reading the fabric", "out of memory");
        return;
    }
    json_decref(c->todo);
    c->todo = json_array();
    c->todo_at = 0;
    if (!c->todo) {
        fail(c, "reading the fabric", "out of memory");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(c->switches, k, v)
        if (json_array_append_new(c->todo, json_string(k))) {
            fail(c, "reading the fabric", "out of memory");
            return;
        }
    read_done(c);
}

/* The next chunks of switches, up to READ_WINDOW txns in flight. */
static void read_next(struct sim_chassis *c)
{
    size_t total = json_array_size(c->todo);
    while (c->fetching < READ_WINDOW && c->todo_at < total && c->state == S_READ) {
        const char *names[READ_CHUNK];
        size_t n = total - c->todo_at < READ_CHUNK ? total - c->todo_at : READ_CHUNK;
        for (size_t i = 0; i < n; i++)
            names[i] = json_string_value(json_array_get(c->todo, c->todo_at + i));
        c->todo_at += n;
        read_switches(c, names, n);
    }
}

static void granted(void *arg, struct vf_store_result *res);
static void register_send(struct sim_chassis *c);

void sim_chassis_retry(struct sim_chassis *c)
{
    c->retry_ns = 0;
    if ((c->regranting || c->state == S_GRANT) && !c->keeper) {
        if (vf_store_lease_grant_async(c->s, c->cfg->ttl_s, granted, c))
            fail(c, "lease grant", "cannot start");
    } else if (c->regranting || c->state == S_REGISTER) {
        register_send(c);
    } else if (c->state == S_READ) {
        read_start(c);
    }
}

static void read_start(struct sim_chassis *c)
{
    static const char *const small[] = {"chassis/", "tenant/", "switch/", "router/",
                                        "router-port/", "route/"};
    char keys[8][KEY_MAX], esc[VF_LAYOUT_KEY_MAX];
    struct vf_store_op ops[8];
    size_t n = 0;

    c->state = S_READ;
    vf_layout_name_escape(c->name, esc, sizeof(esc));
    snprintf(keys[n], KEY_MAX, "%sdesired/chassis-switch/%s/", c->cfg->prefix, esc);
    ops[n] = (struct vf_store_op){.type = VF_STORE_OP_RANGE, .key = keys[n], .prefix = true};
    n++;
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++, n++) {
        snprintf(keys[n], KEY_MAX, "%sdesired/%s", c->cfg->prefix, small[i]);
        ops[n] = (struct vf_store_op){.type = VF_STORE_OP_RANGE, .key = keys[n],
                                      .prefix = true};
    }
    snprintf(keys[n], KEY_MAX, "%sserial", c->cfg->prefix);
    ops[n] = (struct vf_store_op){.type = VF_STORE_OP_RANGE, .key = keys[n]};
    n++;
    struct vf_store_txn t = {.success = ops, .n_success = n};
    c->fetching++;
    if (vf_store_txn_async(c->s, &t, small_done, c)) {
        c->fetching--;
        fail(c, "read", "cannot start a txn");
    }
}

/* ---- lease and registration ---- */

/* The old lease revoked (or gone already: either way its keys are gone):
 * a new lease, or with one already, the record put again. */
static void revoked(void *arg, struct vf_store_result *res)
{
    struct sim_chassis *c = arg;
    (void)res;
    if (c->state == S_DEAD || c->state == S_FAILED)
        return;
    if (!c->keeper) {
        if (vf_store_lease_grant_async(c->s, c->cfg->ttl_s, granted, c))
            fail(c, "lease grant", "cannot start");
    } else {
        register_send(c);
    }
}

/* A lost lease: the keeper heard that etcd dropped it, or got no keepalive
 * through for a whole TTL, in which case etcd may still hold it and the
 * record on it. So the old lease is revoked first (its record goes with
 * it), then a new one granted and the record put again (vfabd will do the
 * same). */
static void on_lease(void *arg, enum vf_store_lease_event ev, int64_t id, int rc,
                     const char *why)
{
    struct sim_chassis *c = arg;
    (void)id;
    (void)rc;
    (void)why;
    if (ev != VF_STORE_LEASE_LOST || c->state == S_DEAD || c->state == S_FAILED)
        return;
    vf_store_lease_unkeep(c->keeper);
    c->keeper = NULL;
    c->regranting = true;
    c->old_lease = c->lease;
    c->reg_tries = 0;
    c->reregs++;
    if (vf_store_lease_revoke_async(c->s, c->old_lease, revoked, c))
        fail(c, "lease revoke", "cannot start");
}

static void registered(void *arg, struct vf_store_result *res)
{
    struct sim_chassis *c = arg;
    if (res->rc) {
        /* Maybe applied ("request timed out"): the next try's failure
         * branch tells, by the record's lease. */
        retry_later(c, "register", res->error);
        return;
    }
    if (!vf_desired_registered(res, c->lease, NULL)) {
        /* After a lost lease the record may still be on the old one (a
         * revoke that did not get through): revoke it again, a few times. */
        if (c->regranting && ++c->reg_tries < 5) {
            if (vf_store_lease_revoke_async(c->s, c->old_lease, revoked, c))
                fail(c, "lease revoke", "cannot start");
            return;
        }
        fail(c, "register", "a live chassis has this name");
        return;
    }
    c->read_tries = 0;
    if (!c->regranting) {
        read_start(c);
    } else {
        c->regranting = false;   /* it was reading or live already */
        /* A read retry that the regrant's took the place of: now. */
        if (c->state == S_READ && !c->fetching && !c->read_complete && !c->retry_ns)
            read_start(c);
    }
}

static void granted(void *arg, struct vf_store_result *res)
{
    struct sim_chassis *c = arg;
    if (res->rc) {
        retry_later(c, "lease grant", res->error);
        return;
    }
    c->lease = res->lease_id;
    if (!c->regranting)
        c->state = S_REGISTER;
    /* Kept from now on: registering may take a while on a busy etcd. */
    c->keeper = vf_store_lease_keep(c->s, c->lease, c->cfg->ttl_s, on_lease, c);
    if (!c->keeper) {
        fail(c, "lease", "cannot keep it");
        return;
    }
    register_send(c);
}

/* P"chassis/<name>" on c->lease if no one holds it (vf_desired.h). */
static void register_send(struct sim_chassis *c)
{
    struct vf_layout_chassis_rec r = {.started = (int64_t)time(NULL)};
    snprintf(r.name, sizeof(r.name), "%s", c->name);
    sim_chassis_addr(c->idx, r.underlay_ip, sizeof(r.underlay_ip));
    snprintf(r.encap, sizeof(r.encap), "geneve");
    snprintf(r.version, sizeof(r.version), "%s", VF_VERSION);
    if (vf_desired_register_async(c->s, c->cfg->prefix, &r, c->lease, registered, c))
        fail(c, "register", "cannot start a txn");
}

/* ---- watching ---- */

static void apply_event(struct sim_chassis *c, const struct sim_event *e)
{
    const char *rk = rel_key(c, e->key);
    size_t pl = strlen(c->cfg->prefix);
    struct vf_layout_key k;

    c->last_rev = e->rev;
    c->events++;
    if (!rk) {
        /* Runtime: a chassis record that went is a host to stop
         * tunnelling to (vfabd recompiles; the sim notes the time). */
        if (e->del && !strncmp(e->key + pl, "chassis/", 8) && c->cfg->victim &&
            !strcmp(e->key + pl + 8, c->cfg->victim)) {
            int64_t zero = 0;
            atomic_compare_exchange_strong(&c->dropped_ns, &zero, sim_now_ns());
        }
        return;
    }
    if (vf_layout_key_parse(rk, &k, NULL, 0))
        return;
    bool keep = true;
    switch (k.kind) {
    case VF_LK_INDEX:
        keep = !strcmp(k.parent, c->name);
        c->regrow |= keep;
        break;
    case VF_LK_RPORT:
        c->regrow = true;
        break;
    case VF_LK_PORT:
    case VF_LK_ACL:
        keep = json_object_get(c->switches, k.parent) != NULL;
        break;
    default:
        break;
    }
    if (!keep)
        return;
    if (e->del)
        vf_layout_kvs_del(&c->kvs, rk);
    else if (vf_layout_kvs_set(&c->kvs, rk, e->value, e->value_len, e->rev))
        fail(c, "event", "out of memory");
    if (k.kind == VF_LK_PORT && c->have_model && !c->rebuild) {
        char err[1024];
        if (!vf_layout_model_update(&c->model, rk, e->value, e->value_len, e->del, err,
                                    sizeof(err))) {
            c->recompile = true;
            return;
        }
    }
    c->rebuild = true;
}

static void fetch_done(void *arg, struct vf_store_result *res)
{
    struct sim_chassis *c = arg;
    if (res->rc)
        fail(c, "reading a new switch", res->error);
    else if (add_kvs(c, res->kvs, res->n_kvs))
        fail(c, "reading a new switch", "out of memory");
    if (--c->fetching == 0)
        c->want_settle = true;
}

/* Its switch set after an index or router-port change: read the new ones
 * at the event's revision (later events wait), forget the ones it left. */
static void regrow(struct sim_chassis *c)
{
    json_t *now = vf_layout_host_switches(&c->kvs, c->name), *v;
    const char *name;
    c->regrow = false;
    if (!now) {
        fail(c, "switches", "out of memory");
        return;
    }
    json_object_foreach(now, name, v) {
        if (json_object_get(c->switches, name))
            continue;
        static const char *const kinds[] = {"port", "acl"};
        char key[KEY_MAX], esc[VF_LAYOUT_KEY_MAX];
        vf_layout_name_escape(name, esc, sizeof(esc));
        for (int i = 0; i < 2; i++) {
            snprintf(key, sizeof(key), "%sdesired/%s/%s/", c->cfg->prefix, kinds[i], esc);
            struct vf_store_range_req q = {.key = key, .prefix = true,
                                           .revision = c->last_rev};
            c->fetching++;
            if (vf_store_range_async(c->s, &q, fetch_done, c)) {
                c->fetching--;
                fail(c, "reading a new switch", "cannot start a range");
            }
        }
        c->fetches++;
    }
    json_object_foreach(c->switches, name, v) {
        if (json_object_get(now, name))
            continue;
        char esc[VF_LAYOUT_KEY_MAX], p1[KEY_MAX], p2[KEY_MAX];
        vf_layout_name_escape(name, esc, sizeof(esc));
        snprintf(p1, sizeof(p1), "port/%s/", esc);
        snprintf(p2, sizeof(p2), "acl/%s/", esc);
        for (size_t i = c->kvs.n; i-- > 0;)
            if (!strncmp(c->kvs.kv[i].key, p1, strlen(p1)) ||
                !strncmp(c->kvs.kv[i].key, p2, strlen(p2)))
                vf_layout_kvs_del(&c->kvs, c->kvs.kv[i].key);
    }
    if (json_object_size(now) != json_object_size(c->switches))
        c->rebuild = true;
    json_decref(c->switches);
    c->switches = now;
}

static void process(struct sim_chassis *c)
{
    while (!c->fetching && c->q_len && c->state == S_LIVE) {
        struct sim_event *e = &c->queue[c->q_head];
        apply_event(c, e);
        free(e->key);
        free(e->value);
        c->q_head++;
        c->q_len--;
        /* The next event may be of another revision: widen first. */
        bool boundary = !c->q_len || c->queue[c->q_head].rev != c->last_rev;
        if (c->regrow && boundary)
            regrow(c);
    }
    if (c->fetching || c->state != S_LIVE)
        return;
    c->q_head = 0;
    if (c->rebuild)
        rebuild(c);
    else if (c->recompile)
        compile(c);
    if (c->state == S_LIVE)
        publish_done(c, c->last_rev);
}

void sim_chassis_settle(struct sim_chassis *c)
{
    c->want_settle = false;
    if (c->state == S_READ && c->read_complete) {
        c->read_complete = false;
        rebuild(c);
        if (c->state == S_FAILED)
            return;
        int64_t zero = 0;
        atomic_compare_exchange_strong(&c->compiled_ns, &zero, sim_now_ns());
        c->last_rev = c->read_rev;
        publish_done(c, c->read_rev);
        if (!c->watch) {
            char key[KEY_MAX], err[256];
            snprintf(key, sizeof(key), "%s", c->cfg->prefix);
            struct vf_store_watch_req q = {.key = key, .prefix = true,
                                           .start_revision = c->read_rev + 1};
            c->watch = vf_store_watch_start(c->s, &q, on_watch, c, err, sizeof(err));
            if (!c->watch) {
                fail(c, "watch", err);
                return;
            }
        }
        c->state = S_LIVE;
    }
    if (c->state == S_LIVE)
        process(c);
}

static void on_watch(void *arg, const struct vf_store_watch_msg *m)
{
    struct sim_chassis *c = arg;
    if (m->kind == VF_STORE_WATCH_COMPACTED) {
        fail(c, "watch", "compacted (the sim does not re-list)");
        return;
    }
    if (m->kind == VF_STORE_WATCH_FAILED) {
        fail(c, "watch", m->reason ? m->reason : "refused");   /* frees the watch */
        return;
    }
    if (m->kind != VF_STORE_WATCH_EVENTS)
        return;
    if (c->q_head + c->q_len + m->n_events > c->q_cap) {
        if (c->q_len)
            memmove(c->queue, c->queue + c->q_head, c->q_len * sizeof(*c->queue));
        c->q_head = 0;
        size_t cap = c->q_cap ? c->q_cap : 64;
        while (cap < c->q_len + m->n_events)
            cap *= 2;
        struct sim_event *q = realloc(c->queue, cap * sizeof(*q));
        if (!q) {
            fail(c, "watch", "out of memory");
            return;
        }
        c->queue = q;
        c->q_cap = cap;
    }
    for (size_t i = 0; i < m->n_events; i++) {
        const struct vf_store_event *ev = &m->events[i];
        struct sim_event *e = &c->queue[c->q_head + c->q_len++];
        e->del = ev->type == VF_STORE_EVENT_DELETE;
        e->key = strdup(ev->kv.key);
        e->value = ev->kv.value ? malloc(ev->kv.value_len + 1) : NULL;
        if (e->value)
            memcpy(e->value, ev->kv.value, ev->kv.value_len + 1);
        e->value_len = ev->kv.value_len;
        e->rev = ev->kv.mod_revision;
    }
    c->want_settle = true;
}

/* ---- life ---- */

int sim_chassis_init(struct sim_chassis *c, const struct sim_cfg *cfg, unsigned idx)
{
    memset(c, 0, sizeof(*c));
    c->idx = idx;
    c->cfg = cfg;
    c->uplink.index = 1;
    c->due_ns = -1;
    c->poll_dirty = true;
    c->seed = idx + 1;
    snprintf(c->name, sizeof(c->name), "hv%u", idx + 1);
    c->switches = json_object();
    return c->switches ? 0 : -ENOMEM;
}

void sim_chassis_start(struct sim_chassis *c)
{
    struct vf_store_config sc = {.endpoints = c->cfg->endpoints,
                                 .request_timeout_ms = 30000};
    char err[VF_STORE_ERR_LEN];
    if (vf_store_create(&sc, &c->s, err, sizeof(err))) {
        fail(c, "client", err);
        return;
    }
    c->state = S_GRANT;
    if (vf_store_lease_grant_async(c->s, c->cfg->ttl_s, granted, c))
        fail(c, "lease grant", "cannot start");
}

void sim_chassis_kill(struct sim_chassis *c)
{
    atomic_store_explicit(&c->lease_left_ms,
                          c->keeper ? vf_store_lease_left_ms(c->keeper) : -1,
                          memory_order_relaxed);
    vf_store_lease_unkeep(c->keeper);
    c->keeper = NULL;
    vf_store_watch_stop(c->watch);
    c->watch = NULL;
    c->state = S_DEAD;
}

void sim_chassis_fini(struct sim_chassis *c)
{
    vf_store_destroy(c->s);      /* its watch and keeper with it */
    c->s = NULL;
    for (size_t i = 0; i < c->q_len; i++) {
        free(c->queue[c->q_head + i].key);
        free(c->queue[c->q_head + i].value);
    }
    free(c->queue);
    free(c->fds);
    vf_layout_kvs_free(&c->kvs);
    json_decref(c->switches);
    json_decref(c->todo);
    vf_tables_free(c->tables);
    vf_model_free(&c->model);
}
