/* store_client.c - vf_store against real etcd members that
 * t_store_client.sh starts (in a network namespace of its own).
 *
 * Usage: store-client-test GROUP, the endpoints in the environment:
 *   single   VF_STORE_EP (one member, progress notify 1 s), VF_STORE_PID
 *   cluster  VF_STORE_EPS (the leader first), VF_STORE_SIGNAL (a command:
 *            SIGNAL URL sends SIGNAL to the member serving client URL)
 *   tls      VF_STORE_EP (https), VF_STORE_PKI (ca, evil, client, rogue)
 *   auth     VF_STORE_EP (auth on, token TTL 2 s; user alice/apw may
 *            read and write /vfab/)
 * Every wait is bounded; no assertion is about time. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/store_client.h"

const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "store-client-test: %s is not set\n", name);
        exit(2);
    }
    return v;
}

static void log_line(void *arg, enum vf_store_log_level level, const char *msg)
{
    (void)arg;
    if (level <= VF_STORE_LOG_INFO)
        fprintf(stderr, "  [store] %s\n", msg);
}

struct vf_store *client(const struct vf_store_config *base, const char *eps)
{
    struct vf_store_config cfg = *base;
    struct vf_store *s = NULL;
    char err[512];
    cfg.endpoints = eps;
    cfg.log = log_line;
    int rc = vf_store_create(&cfg, &s, err, sizeof(err));
    if (rc)
        fail_msg("vf_store_create: %s", err);
    return s;
}

struct vf_store *plain(const char *eps)
{
    struct vf_store_config cfg = {0};
    return client(&cfg, eps);
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs s's loop until *flag or limit_ms passed (a bound, not a check). */
bool run_until(struct vf_store *s, const bool *flag, int limit_ms)
{
    int64_t end = now_ms() + limit_ms;
    while (!*flag && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    return *flag;
}

void run_for(struct vf_store *s, int ms)
{
    bool never = false;
    run_until(s, &never, ms);
}

void put_ok(struct vf_store *s, const char *key, const char *val, int64_t lease,
                   struct vf_store_result *r)
{
    int rc = vf_store_put(s, key, val, strlen(val), lease, r);
    if (rc)
        fail_msg("put: %s", r->error);
}

int64_t count_prefix(struct vf_store *s, const char *prefix)
{
    struct vf_store_result r = {0};
    struct vf_store_range_req q = {.key = prefix, .prefix = true, .count_only = true};
    if (vf_store_range(s, &q, &r))
        fail_msg("count %s: %s", prefix, r.error);
    int64_t n = r.count;
    vf_store_result_clear(&r);
    return n;
}

/* ---- a watch recorder ---- */


void record(void *arg, const struct vf_store_watch_msg *m)
{
    struct recorder *r = arg;
    switch (m->kind) {
    case VF_STORE_WATCH_CREATED:
        r->created++;
        break;
    case VF_STORE_WATCH_EVENTS:
        for (size_t i = 0; i < m->n_events && r->n < REC_MAX; i++) {
            const struct vf_store_event *e = &m->events[i];
            struct rec_event *x = &r->ev[r->n];
            if (r->n && e->kv.mod_revision < r->ev[r->n - 1].rev)
                r->order_broken = true;
            snprintf(x->key, sizeof(x->key), "%s", e->kv.key);
            snprintf(x->value, sizeof(x->value), "%s", e->kv.value ? e->kv.value : "");
            x->rev = e->kv.mod_revision;
            x->type = e->type;
            x->has_prev = e->has_prev;
            r->n++;
        }
        break;
    case VF_STORE_WATCH_PROGRESS:
        r->progress++;
        r->progress_rev = m->revision;
        break;
    case VF_STORE_WATCH_COMPACTED:
        r->compacted++;
        r->compact_rev = m->revision;
        snprintf(r->reason, sizeof(r->reason), "%s", m->reason);
        break;
    case VF_STORE_WATCH_LOST: {
        size_t used = strlen(r->reasons);
        r->lost++;
        snprintf(r->reason, sizeof(r->reason), "%s", m->reason);
        snprintf(r->reasons + used, sizeof(r->reasons) - used, "%s; ", m->reason);
        break;
    }
    case VF_STORE_WATCH_FAILED:
        r->failed++;
        snprintf(r->reason, sizeof(r->reason), "%s", m->reason);
        break;
    }
}

struct vf_store_watch *watch_idle(struct vf_store *s, const char *prefix, int64_t from,
                                         struct recorder *rec, bool progress, unsigned idle)
{
    char err[256];
    struct vf_store_watch_req q = {.key = prefix, .prefix = true, .start_revision = from,
                                   .prev_kv = true, .progress_notify = progress,
                                   .idle_timeout_ms = idle};
    struct vf_store_watch *w = vf_store_watch_start(s, &q, record, rec, err, sizeof(err));
    if (!w)
        fail_msg("watch: %s", err);
    return w;
}

struct vf_store_watch *watch(struct vf_store *s, const char *prefix, int64_t from,
                                    struct recorder *rec, bool progress)
{
    return watch_idle(s, prefix, from, rec, progress, 0);
}

/* Runs s until the watch has delivered an event at revision rev. */
void wait_event(struct vf_store *s, const struct recorder *rec, int64_t rev, int ms)
{
    int64_t end = now_ms() + ms;
    while ((rec->n == 0 || rec->ev[rec->n - 1].rev < rev) && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_true(rec->n > 0);
    assert_int_equal(rec->ev[rec->n - 1].rev, rev);
}


int on_page(void *arg, const struct vf_store_kv *kvs, size_t n, int64_t rev)
{
    struct pager *p = arg;
    if (p->pages && rev != p->rev)
        p->rev_changed = true;
    p->rev = rev;
    for (size_t i = 0; i < n; i++) {
        if (p->last[0] && strcmp(kvs[i].key, p->last) <= 0)
            p->unordered = true;
        snprintf(p->last, sizeof(p->last), "%s", kvs[i].key);
    }
    p->keys += n;
    if (p->pages++ == 0 && p->other) {
        /* A write after the first page: the list must not see it. */
        struct vf_store_result r = {0};
        put_ok(p->other, "/pg/k999", "late", 0, &r);
        vf_store_result_clear(&r);
    }
    return 0;
}

void on_lease(void *arg, enum vf_store_lease_event ev, int64_t id, int rc,
                     const char *why)
{
    struct lease_seen *l = arg;
    (void)id;
    (void)why;
    if (ev == VF_STORE_LEASE_KEPT)
        l->kept++;
    else {
        l->lost++;
        l->rc = rc;
    }
}

void etcdctl(const char *fmt, ...)
{
    char args[256], cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "etcdctl --endpoints %s %s >/dev/null", env("VF_STORE_EP"),
             args);
    if (system(cmd) != 0)
        fail_msg("%s failed", cmd);
}

void member_signal(const char *sig, const char *url)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s %s %s", env("VF_STORE_SIGNAL"), sig, url);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "";
    const struct CMUnitTest single[] = {
        cmocka_unit_test(t_put_range_delete), cmocka_unit_test(t_pagination),
        cmocka_unit_test(t_txn_race),         cmocka_unit_test(t_sizes),
        cmocka_unit_test(t_watch_stream),     cmocka_unit_test(t_watch_progress),
        cmocka_unit_test(t_watch_compacted),  cmocka_unit_test(t_watch_frozen),
        cmocka_unit_test(t_lease),
        cmocka_unit_test(t_failover_timeout),
    };
    const struct CMUnitTest cluster[] = {cmocka_unit_test(t_cluster_kill_leader)};
    const struct CMUnitTest tls[] = {cmocka_unit_test(t_tls)};
    const struct CMUnitTest auth[] = {cmocka_unit_test(t_auth)};
    if (strcmp(group, "single") == 0)
        return cmocka_run_group_tests_name("store single member", single, NULL, NULL);
    if (strcmp(group, "cluster") == 0)
        return cmocka_run_group_tests_name("store 3-member cluster", cluster, NULL, NULL);
    if (strcmp(group, "tls") == 0)
        return cmocka_run_group_tests_name("store TLS", tls, NULL, NULL);
    if (strcmp(group, "auth") == 0)
        return cmocka_run_group_tests_name("store auth", auth, NULL, NULL);
    fprintf(stderr, "usage: %s single|cluster|tls|auth (see t_store_client.sh)\n", argv[0]);
    return 2;
}

