/* store_host.c - this host's runtime records in etcd
 * (vf_store_source.h): P"chassis/<name>" on a lease, and P"bindings/<port>"
 * for the ports it has open, on the same lease.
 *
 * Registration: grant -> keep -> txn (CREATE == 0, vf_desired.h) ->
 * registered; a lost lease revokes the old one and starts over; a failed
 * step is retried at reg_at_ms (backoff). Bindings go with the lease, so a
 * new registration claims them all again.
 *
 * Bindings: after each apply, a port of this chassis that is open is
 * claimed (txn: CREATE(key) == 0 -> put {"chassis": me} on the lease; else
 * read the holder); a binding this host holds for a port it no longer has
 * open (the apply closed its attach first) is released (txn: VALUE(key) ==
 * {"chassis": me} -> delete). A port still bound to its old host is
 * retried until that host releases it or its lease ends, so a port is
 * bound to one chassis at a time and every host tunnels to that one.
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
#include "mgmt/daemon/vf_log.h"
#include "mgmt/layout/vf_desired.h"

int64_t vf_store_src_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vf_store_src_backoff(unsigned *b)
{
    unsigned ms = *b ? *b : BACKOFF_FIRST_MS;
    *b = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
    ms = ms * 4 / 5 + (unsigned)(rand() % (int)(ms * 2 / 5 + 1));
    return vf_store_src_now_ms() + ms;
}

/* ---- registration ---- */


/* This host's record from its own chassis entry in the model in force. */
static int my_record(const struct vf_store_src *src, const struct vf_model *m,
                     struct vf_layout_chassis_rec *r)
{
    int i = vf_model_find_chassis(m, src->chassis);
    if (i < 0)
        return -ENOENT;
    const struct vf_model_chassis *ch = &m->chassis[i];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", ch->name);
    inet_ntop(AF_INET, &ch->underlay_ip, r->underlay_ip, sizeof(r->underlay_ip));
    snprintf(r->encap, sizeof(r->encap), "%s", vf_model_encap_name(ch->encap));
    r->port = vf_model_chassis_port(ch);
    snprintf(r->version, sizeof(r->version), "%s", src->version);
    r->started = (int64_t)src->d->started;
    return 0;
}

/* A live chassis other than this one with the same underlay address and
 * port: its name in who. */
static bool addr_clash(const struct vf_store_src *src,
                       const struct vf_layout_chassis_rec *me, char *who, size_t len)
{
    for (size_t i = 0; i < src->rt.n; i++) {
        const struct vf_layout_kv *kv = &src->rt.kv[i];
        struct vf_layout_chassis_rec r;
        char name[VF_NAME_MAX];
        if (strncmp(kv->key, "chassis/", 8) ||
            vf_layout_name_unescape(kv->key + 8, name, sizeof(name)) ||
            !strcmp(name, me->name) ||
            vf_layout_chassis_rec_decode(name, kv->value, kv->value_len, &r, NULL, 0))
            continue;
        if (!strcmp(r.underlay_ip, me->underlay_ip) && r.port == me->port) {
            snprintf(who, len, "%s", name);
            return true;
        }
    }
    return false;
}

static void reg_retry(struct vf_store_src *src, enum reg_state back)
{
    src->reg = back;
    src->reg_at_ms = vf_store_src_backoff(&src->reg_backoff);
}

static void on_lease(void *arg, enum vf_store_lease_event ev, int64_t id, int rc,
                     const char *why);

static void revoked(void *arg, struct vf_store_result *res)
{
    struct vf_store_src *src = arg;
    (void)res;                      /* gone either way: its keys with it */
    src->reg = REG_IDLE;
    src->reg_at_ms = vf_store_src_now_ms();
}

static void registered(void *arg, struct vf_store_result *res)
{
    struct vf_store_src *src = arg;
    struct vf_store_kv holder;

    if (res->rc) {
        vf_log_warn("store: registering chassis %s failed, again in a moment: %s",
                    src->chassis, res->error);
        reg_retry(src, REG_PUTTING);
        return;
    }
    if (!vf_desired_registered(res, src->lease, &holder)) {
        if (!src->clash_logged)
            vf_log_warn("store: chassis %s is held by another live lease (a vfabd "
                        "with this name elsewhere, or this host's previous one "
                        "until its lease of up to %u s runs out): registering "
                        "again until it is free", src->chassis, src->ttl);
        src->clash_logged = true;
        reg_retry(src, REG_PUTTING);
        return;
    }
    src->reg = REG_DONE;
    src->reg_backoff = 0;
    src->clash_logged = false;
    src->bind_dirty = true;             /* bindings went with any old lease */
    vf_log_info("store: registered chassis %s on lease %" PRIx64 " (TTL %u s)",
                src->chassis, (uint64_t)src->lease, src->ttl);
}

static void granted(void *arg, struct vf_store_result *res)
{
    struct vf_store_src *src = arg;
    if (res->rc) {
        vf_log_warn("store: lease grant failed, again in a moment: %s", res->error);
        reg_retry(src, REG_IDLE);
        return;
    }
    src->lease = res->lease_id;
    src->keeper = vf_store_lease_keep(src->s, src->lease, src->ttl, on_lease, src);
    if (!src->keeper) {
        reg_retry(src, REG_IDLE);
        return;
    }
    src->reg = REG_PUTTING;
    vf_store_src_reg_step(src);
}

/* A lost lease: the old one revoked first (etcd may still hold it and our
 * record on it), then a new one and the record again. */
static void on_lease(void *arg, enum vf_store_lease_event ev, int64_t id, int rc,
                     const char *why)
{
    struct vf_store_src *src = arg;
    (void)id;
    (void)rc;
    if (ev != VF_STORE_LEASE_LOST)
        return;
    vf_log_warn("store: lease of chassis %s lost (%s): registering again",
                src->chassis, why ? why : "?");
    vf_store_lease_unkeep(src->keeper);
    src->keeper = NULL;
    src->reg = REG_REVOKING;
    src->reg_at_ms = 0;
    if (vf_store_lease_revoke_async(src->s, src->lease, revoked, src))
        reg_retry(src, REG_IDLE);
}

void vf_store_src_reg_step(struct vf_store_src *src)
{
    struct vf_layout_chassis_rec me;

    src->reg_at_ms = 0;
    switch (src->reg) {
    case REG_IDLE:
        src->reg = REG_GRANTING;
        if (vf_store_lease_grant_async(src->s, src->ttl, granted, src))
            reg_retry(src, REG_IDLE);
        break;
    case REG_PUTTING:
        if (my_record(src, &src->d->model, &me) ||
            vf_desired_register_async(src->s, src->prefix, &me, src->lease,
                                      registered, src))
            reg_retry(src, REG_PUTTING);
        break;
    default:
        break;
    }
}

/* Cold start: register before anything forwards; a clash refuses. */
int vf_store_src_register_first(struct vf_store_src *src, char *err, size_t errlen)
{
    struct vf_store_result res = {0};
    struct vf_layout_chassis_rec me;
    struct vf_store_kv holder;
    char who[VF_NAME_MAX];
    int rc;

    if (my_record(src, &src->d->model, &me))
        return 0;
    if (addr_clash(src, &me, who, sizeof(who))) {
        snprintf(err, errlen, "chassis %s: the live chassis %s has the same "
                 "underlay address %s port %u: refusing to start (two hosts "
                 "would receive each other's tunnels)", src->chassis, who,
                 me.underlay_ip, me.port);
        return -EEXIST;
    }
    rc = vf_store_lease_grant(src->s, src->ttl, &res);
    if (rc) {
        vf_log_warn("store: lease grant failed (registering from the loop): %s",
                    res.error);
        vf_store_result_clear(&res);
        src->reg_at_ms = vf_store_src_now_ms();
        return 0;
    }
    src->lease = res.lease_id;
    vf_store_result_clear(&res);
    src->keeper = vf_store_lease_keep(src->s, src->lease, src->ttl, on_lease, src);
    src->reg = REG_PUTTING;
    if (!src->keeper) {
        src->reg_at_ms = vf_store_src_now_ms();
        return 0;
    }
    rc = vf_desired_register(src->s, src->prefix, &me, src->lease, &res);
    if (rc) {
        vf_log_warn("store: registering chassis %s failed (again from the loop): %s",
                    src->chassis, res.error);
        vf_store_result_clear(&res);
        src->reg_at_ms = vf_store_src_now_ms();
        return 0;
    }
    if (!vf_desired_registered(&res, src->lease, &holder)) {
        struct vf_layout_chassis_rec r2 = {0};
        if (holder.value)
            vf_layout_chassis_rec_decode(me.name, holder.value, holder.value_len,
                                         &r2, NULL, 0);
        snprintf(err, errlen, "chassis %s is live already (underlay %s, started at "
                 "%" PRId64 ", lease %" PRIx64 "): another vfabd runs with this "
                 "name; refusing to start (if that was this host's previous "
                 "vfabd, its record goes when its lease of up to %u s runs out)",
                 src->chassis, r2.underlay_ip[0] ? r2.underlay_ip : "?", r2.started,
                 (uint64_t)holder.lease, src->ttl);
        vf_store_result_clear(&res);
        vf_store_lease_unkeep(src->keeper);
        src->keeper = NULL;
        vf_store_lease_revoke(src->s, src->lease, &res);
        vf_store_result_clear(&res);
        src->lease = 0;
        return -EEXIST;
    }
    vf_store_result_clear(&res);
    src->reg = REG_DONE;
    src->bind_dirty = true;
    vf_log_info("store: registered chassis %s on lease %" PRIx64 " (TTL %u s)",
                src->chassis, (uint64_t)src->lease, src->ttl);
    return 0;
}


/* ---- bindings ---- */

/* P"bindings/<port>" relative to P into buf. 0 or -ENAMETOOLONG. */
static int bind_key(const char *port, char *buf, size_t len)
{
    char esc[VF_LAYOUT_KEY_MAX];
    int rc = vf_layout_name_escape(port, esc, sizeof(esc));
    if (rc)
        return rc;
    return (size_t)snprintf(buf, len, "bindings/%s", esc) >= len ? -ENAMETOOLONG : 0;
}

/* The chassis port is bound to as held (NULL: none), into buf. */
static const char *bound_to(const struct vf_store_src *src, const char *port,
                            char *buf, size_t len)
{
    char key[VF_LAYOUT_KEY_MAX + 16];
    const struct vf_layout_kv *kv;

    if (bind_key(port, key, sizeof(key)) || !(kv = vf_layout_kvs_find(&src->rt, key)))
        return NULL;
    if (vf_layout_binding_decode(kv->value, kv->value_len, buf, len, NULL, 0))
        return NULL;
    return buf;
}

void vf_store_src_bound(const struct vf_store_src *src, struct vf_model *m)
{
    char at[VF_NAME_MAX];

    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++)
            for (size_t k = 0; k < m->tenants[t].switches[s].n_ports; k++) {
                struct vf_model_port *p = &m->tenants[t].switches[s].ports[k];
                /* Its own ports this host opens whatever the binding says
                 * (the old host releases it); a binding to this host of a
                 * port that left is being released. */
                if (!strcmp(p->chassis, src->chassis) ||
                    !bound_to(src, p->name, at, sizeof(at)) ||
                    !strcmp(at, src->chassis) || !strcmp(at, p->chassis) ||
                    vf_model_find_chassis(m, at) < 0)
                    continue;
                snprintf(p->chassis, sizeof(p->chassis), "%s", at);
            }
}

static void bind_done(void *arg, struct vf_store_result *res)
{
    struct vf_store_src *src = arg;
    char key[VF_LAYOUT_KEY_MAX + 16];
    struct vf_store_kv holder;
    bool ok;

    src->bind_busy = false;
    if (res->rc) {
        vf_log_warn("store: %s the binding of port %s failed, again in a moment: %s",
                    src->bind_claim ? "claiming" : "releasing", src->bind_port,
                    res->error);
        src->bind_at_ms = vf_store_src_backoff(&src->bind_backoff);
        return;
    }
    ok = src->bind_claim ? vf_desired_registered(res, src->lease, &holder) : true;
    if (!ok) {
        /* Still bound to its old host: again until it lets go. */
        vf_log_debug("store: port %s is still bound elsewhere; claiming it again "
                     "in a moment", src->bind_port);
        src->bind_at_ms = vf_store_src_backoff(&src->bind_backoff);
        return;
    }
    src->bind_backoff = 0;
    src->bind_at_ms = 0;
    /* Held as done now; the watch's event says the same later. */
    if (!bind_key(src->bind_port, key, sizeof(key))) {
        if (src->bind_claim) {
            char *v = vf_layout_binding_encode(src->chassis);
            if (v)
                vf_layout_kvs_set(&src->rt, key, v, strlen(v), res->revision);
            free(v);
            src->claims++;
        } else {
            vf_layout_kvs_del(&src->rt, key);
            src->releases++;
        }
    }
    vf_log_info("store: port %s %s", src->bind_port,
                src->bind_claim ? "bound here" : "released");
    src->bind_dirty = true;              /* the next one */
}

/* One claim (CREATE == 0 -> put on the lease, else who holds it) or one
 * release (VALUE == ours -> delete) of port's binding. */
static void bind_send(struct vf_store_src *src, const char *port, bool claim)
{
    char rel[VF_LAYOUT_KEY_MAX + 16], key[VF_LAYOUT_KEY_MAX + VF_MODEL_STORE_PATH + 16];
    char *val = vf_layout_binding_encode(src->chassis);

    if (!val || bind_key(port, rel, sizeof(rel))) {
        free(val);
        src->bind_at_ms = vf_store_src_backoff(&src->bind_backoff);
        return;
    }
    snprintf(key, sizeof(key), "%s%s", src->prefix, rel);
    struct vf_store_cmp cmp = claim
        ? (struct vf_store_cmp){.key = key, .target = VF_STORE_CMP_CREATE}
        : (struct vf_store_cmp){.key = key, .target = VF_STORE_CMP_VALUE,
                                .value = val, .value_len = strlen(val)};
    struct vf_store_op put = {.type = VF_STORE_OP_PUT, .key = key, .value = val,
                              .value_len = strlen(val), .lease = src->lease};
    struct vf_store_op del = {.type = VF_STORE_OP_DELETE, .key = key};
    struct vf_store_op get = {.type = VF_STORE_OP_RANGE, .key = key};
    struct vf_store_txn t = {.cmp = &cmp, .n_cmp = 1,
                             .success = claim ? &put : &del, .n_success = 1,
                             .failure = &get, .n_failure = 1};
    snprintf(src->bind_port, sizeof(src->bind_port), "%s", port);
    src->bind_claim = claim;
    src->bind_busy = vf_store_txn_async(src->s, &t, bind_done, src) == 0;
    if (!src->bind_busy)
        src->bind_at_ms = vf_store_src_backoff(&src->bind_backoff);
    free(val);
}

void vf_store_src_bind_sync(struct vf_store_src *src)
{
    struct vf_daemon *d = src->d;
    char at[VF_NAME_MAX], name[VF_NAME_MAX];

    if (src->reg != REG_DONE || src->bind_busy)
        return;
    src->bind_at_ms = 0;
    /* Claims: the ports this host has open. */
    for (unsigned i = 0; i < d->n_ports; i++) {
        const struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || !dp->mport || dp->port == d->uplink || dp->closing)
            continue;
        const char *b = bound_to(src, dp->name, at, sizeof(at));
        if (b && !strcmp(b, src->chassis))
            continue;
        bind_send(src, dp->name, true);
        return;
    }
    /* Releases: bindings of ports it no longer has open. */
    for (size_t i = 0; i < src->rt.n; i++) {
        const struct vf_layout_kv *kv = &src->rt.kv[i];
        if (strncmp(kv->key, "bindings/", 9) ||
            vf_layout_name_unescape(kv->key + 9, name, sizeof(name)) ||
            vf_layout_binding_decode(kv->value, kv->value_len, at, sizeof(at), NULL, 0) ||
            strcmp(at, src->chassis) || vf_daemon_find_port(d, name))
            continue;
        bind_send(src, name, false);
        return;
    }
    src->bind_dirty = false;
}
