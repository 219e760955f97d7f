/* store_client_watch.c - watches against one member (order, progress,
 * compaction, a frozen member) and a 3-member cluster whose leader is
 * killed and whose quorum is lost (store-client-test single, cluster). */
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

/* ---- watch ---- */

void t_watch_stream(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP")), *writer = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    put_ok(writer, "/w/seed", "0", 0, &r);
    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    struct vf_store_watch *w = watch(s, "/w/", r.revision + 1, &rec, false);
    int64_t revs[200];
    for (int i = 0; i < 200; i++) {
        char k[32], val[16];
        snprintf(k, sizeof(k), "/w/k%02d", i % 50);
        snprintf(val, sizeof(val), "%d", i);
        put_ok(writer, k, val, 0, &r);
        revs[i] = r.revision;
        vf_store_run(s, 0);
    }
    assert_int_equal(vf_store_delete(writer, "/w/k00", false, &r), 0);
    int64_t del_rev = r.revision;
    int64_t end = now_ms() + 10000;
    while (rec.n < 201 && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_int_equal(rec.n, 201);
    assert_false(rec.order_broken);
    for (int i = 0; i < 200; i++) {
        char k[32], val[16];
        snprintf(k, sizeof(k), "/w/k%02d", i % 50);
        snprintf(val, sizeof(val), "%d", i);
        assert_string_equal(rec.ev[i].key, k);
        assert_string_equal(rec.ev[i].value, val);
        assert_int_equal(rec.ev[i].rev, revs[i]);
        assert_int_equal(rec.ev[i].type, VF_STORE_EVENT_PUT);
        assert_int_equal(rec.ev[i].has_prev, i >= 50);
    }
    assert_int_equal(rec.ev[200].type, VF_STORE_EVENT_DELETE);
    assert_int_equal(rec.ev[200].rev, del_rev);
    assert_true(rec.ev[200].has_prev);
    assert_int_equal(vf_store_watch_next_revision(w), del_rev + 1);
    assert_int_equal(rec.lost + rec.failed, 0);
    vf_store_watch_stop(w);
    assert_int_equal(vf_store_delete(writer, "/w/", true, &r), 0);
    vf_store_result_clear(&r);
    vf_store_destroy(writer);
    vf_store_destroy(s);
}

void t_watch_progress(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    put_ok(s, "/other/x", "1", 0, &r);         /* outside the watched prefix */
    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    struct vf_store_watch *w = watch(s, "/quiet/", 0, &rec, true);
    /* etcd runs with --experimental-watch-progress-notify-interval 1s. */
    int64_t end = now_ms() + 10000;
    while (rec.progress == 0 && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_true(rec.progress > 0);
    assert_true(rec.progress_rev >= r.revision);
    assert_int_equal(vf_store_watch_next_revision(w), rec.progress_rev + 1);
    assert_int_equal(rec.n, 0);
    vf_store_watch_stop(w);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

void t_watch_compacted(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    put_ok(s, "/cp/a", "1", 0, &r);
    int64_t old = r.revision;
    put_ok(s, "/cp/a", "2", 0, &r);
    put_ok(s, "/cp/b", "3", 0, &r);
    int64_t compact_at = r.revision;
    etcdctl("compact %lld --physical", (long long)compact_at);

    struct vf_store_range_req at = {.key = "/cp/a", .revision = old};
    assert_int_equal(vf_store_range(s, &at, &r), -ESTALE);

    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    struct vf_store_watch *w = watch(s, "/cp/", old + 1, &rec, false);
    bool got = false;
    int64_t end = now_ms() + 10000;
    while (!got && now_ms() < end) {
        assert_int_equal(vf_store_run(s, 50), 0);
        got = rec.compacted > 0;
    }
    assert_true(got);
    assert_int_equal(rec.compact_rev, compact_at);
    assert_non_null(strstr(rec.reason, "re-list"));
    printf("  %s\n", rec.reason);
    vf_store_watch_stop(w);

    /* Re-list, then watch from the list's revision + 1: the next change. */
    struct pager p = {0};
    assert_int_equal(vf_store_list(s, "/cp/", 0, 0, on_page, &p, &r), 0);
    assert_int_equal(p.keys, 2);
    memset(&rec, 0, sizeof(rec));
    w = watch(s, "/cp/", r.revision + 1, &rec, false);
    put_ok(s, "/cp/c", "4", 0, &r);
    int64_t end2 = now_ms() + 10000;
    while (rec.n == 0 && now_ms() < end2)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_int_equal(rec.n, 1);
    assert_string_equal(rec.ev[0].key, "/cp/c");
    vf_store_watch_stop(w);
    assert_int_equal(vf_store_delete(s, "/cp/", true, &r), 0);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

/* A member that freezes (SIGSTOP: TCP stays open, nothing comes): the
 * watch notices by its idle timeout, retries, and resumes exactly once the
 * member runs again. */
void t_watch_frozen(void **state)
{
    (void)state;
    struct vf_store_config cfg = {.request_timeout_ms = 1000};
    struct vf_store *s = client(&cfg, env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    put_ok(s, "/fz/a", "1", 0, &r);
    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    /* etcd sends progress every second; 2.5 s of nothing means trouble. */
    struct vf_store_watch *w = watch_idle(s, "/fz/", r.revision + 1, &rec, true, 2500);
    put_ok(s, "/fz/b", "2", 0, &r);
    wait_event(s, &rec, r.revision, 10000);
    pid_t pid = (pid_t)atoi(env("VF_STORE_PID"));
    assert_int_equal(kill(pid, SIGSTOP), 0);
    run_for(s, 5000);
    kill(pid, SIGCONT);
    int64_t end = now_ms() + 10000;
    while (vf_store_put(s, "/fz/c", "3", 1, 0, &r) != 0 && now_ms() < end)
        run_for(s, 100);
    assert_int_equal(r.rc, 0);
    wait_event(s, &rec, r.revision, 15000);
    printf("  while frozen: %s\n", rec.reasons);
    assert_non_null(strstr(rec.reasons, "nothing from etcd for 2500 ms"));
    assert_int_equal(rec.n, 2);                /* b, then c: nothing twice */
    assert_string_equal(rec.ev[0].key, "/fz/b");
    assert_string_equal(rec.ev[1].key, "/fz/c");
    vf_store_watch_stop(w);
    assert_int_equal(vf_store_delete(s, "/fz/", true, &r), 0);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

/* ===================== 3-member cluster ===================== */

void t_cluster_kill_leader(void **state)
{
    (void)state;
    const char *eps = env("VF_STORE_EPS");
    char leader[128];
    snprintf(leader, sizeof(leader), "%.*s", (int)strcspn(eps, ","), eps);
    struct vf_store *s = plain(eps);
    struct vf_store_result r = {0};
    put_ok(s, "/c/seed", "0", 0, &r);
    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    struct vf_store_watch *w = watch(s, "/c/", r.revision + 1, &rec, false);
    int64_t end = now_ms() + 10000;
    while (!vf_store_watch_endpoint(w) && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_non_null(vf_store_watch_endpoint(w));
    assert_string_equal(vf_store_watch_endpoint(w), leader);

    /* A lease kept across the kill (TTL 5 s: longer than an election). */
    assert_int_equal(vf_store_lease_grant(s, 5, &r), 0);
    int64_t lease = r.lease_id;
    struct lease_seen seen = {0};
    struct vf_store_lease *l = vf_store_lease_keep(s, lease, 5, on_lease, &seen);
    put_ok(s, "/cl/alive", "1", lease, &r);

    int acked = 0, failed = 0;
    for (int i = 0; i < 100; i++) {
        char k[32], v[16];
        snprintf(k, sizeof(k), "/c/k%03d", i);
        snprintf(v, sizeof(v), "%d", i);
        if (i == 30)
            member_signal("KILL", leader);
        /* Retried until acknowledged; a failed try may still have been
         * applied (then the key has two versions: checked below). */
        int64_t until = now_ms() + 30000;
        while (vf_store_put(s, k, v, strlen(v), 0, &r) != 0 && now_ms() < until) {
            failed++;
            printf("  put %s: %s\n", k, r.error);
            run_for(s, 100);
        }
        assert_int_equal(r.rc, 0);
        acked++;
    }
    int64_t last = r.revision;
    end = now_ms() + 20000;
    while ((rec.n == 0 || rec.ev[rec.n - 1].rev < last) && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_true(rec.n > 0);
    assert_int_equal(rec.ev[rec.n - 1].rev, last);
    assert_false(rec.order_broken);
    assert_true(rec.lost >= 1);
    assert_true(rec.created >= 2);
    printf("  acked %d puts (%d failed tries); watch lost the stream %u time(s): %s\n", acked,
           failed, rec.lost, rec.reason);
    assert_non_null(vf_store_watch_endpoint(w));
    assert_string_not_equal(vf_store_watch_endpoint(w), leader);

    /* Every key's events are exactly its versions, the last at its
     * mod_revision: nothing lost, nothing twice. */
    struct vf_store_range_req q = {.key = "/c/k", .prefix = true};
    assert_int_equal(vf_store_range(s, &q, &r), 0);
    assert_int_equal(r.n_kvs, 100);
    for (size_t i = 0; i < r.n_kvs; i++) {
        int64_t n = 0, last_rev = 0, prev = 0;
        for (size_t e = 0; e < rec.n; e++) {
            if (strcmp(rec.ev[e].key, r.kvs[i].key) != 0)
                continue;
            assert_true(rec.ev[e].rev > prev);
            prev = last_rev = rec.ev[e].rev;
            n++;
        }
        assert_int_equal(n, r.kvs[i].version);
        assert_int_equal(last_rev, r.kvs[i].mod_revision);
    }
    struct vf_store_stats st;
    vf_store_get_stats(s, &st);
    assert_true(st.watch_reconnects >= 1);

    /* The lease lived through the election. */
    assert_int_equal(seen.lost, 0);
    assert_int_equal(count_prefix(s, "/cl/"), 1);
    vf_store_lease_unkeep(l);
    assert_int_equal(vf_store_lease_revoke(s, lease, &r), 0);

    /* Freeze the other survivor: the member we stream from loses its
     * leader and (metadata "hasleader") ends the stream instead of going
     * quiet. Thawed, the watch resumes where it was. */
    char streaming[128], other[128] = "";
    snprintf(streaming, sizeof(streaming), "%s", vf_store_watch_endpoint(w));
    for (const char *p = eps; *p;) {
        size_t len = strcspn(p, ",");
        if (len < sizeof(other) && strncmp(p, leader, len) != 0 &&
            strncmp(p, streaming, len) != 0)
            snprintf(other, sizeof(other), "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    assert_true(other[0]);
    unsigned lost_before = rec.lost;
    member_signal("STOP", other);
    end = now_ms() + 20000;
    while (!strstr(rec.reasons, "no leader") && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    member_signal("CONT", other);
    assert_true(rec.lost > lost_before);
    assert_non_null(strstr(rec.reasons, "no leader"));
    size_t before = rec.n;
    end = now_ms() + 30000;
    while (vf_store_put(s, "/c/after", "1", 1, 0, &r) != 0 && now_ms() < end)
        run_for(s, 100);
    assert_int_equal(r.rc, 0);
    wait_event(s, &rec, r.revision, 30000);
    assert_false(rec.order_broken);
    assert_string_equal(rec.ev[rec.n - 1].key, "/c/after");
    assert_true(rec.n >= before + 1);
    printf("  quorum lost and back: %s\n", rec.reasons);
    vf_store_watch_stop(w);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

