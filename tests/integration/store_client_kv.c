/* store_client_kv.c - keys, pages, transactions, sizes, leases, failover
 * and timeouts against one etcd member (store-client-test single). */
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

/* ===================== single member ===================== */

void t_put_range_delete(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    put_ok(s, "/kv/a", "alpha", 0, &r);
    int64_t rev_a = r.revision;
    put_ok(s, "/kv/b", "beta", 0, &r);
    put_ok(s, "/kv/a", "alpha2", 0, &r);
    put_ok(s, "/kvx", "outside", 0, &r);

    assert_int_equal(vf_store_range(s, &(struct vf_store_range_req){.key = "/kv/a"}, &r), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_string_equal(r.kvs[0].value, "alpha2");
    assert_int_equal(r.kvs[0].version, 2);
    assert_int_equal(r.kvs[0].create_revision, rev_a);

    /* At an older revision: the first value. */
    struct vf_store_range_req at = {.key = "/kv/a", .revision = rev_a};
    assert_int_equal(vf_store_range(s, &at, &r), 0);
    assert_string_equal(r.kvs[0].value, "alpha");

    struct vf_store_range_req pre = {.key = "/kv/", .prefix = true};
    assert_int_equal(vf_store_range(s, &pre, &r), 0);
    assert_int_equal(r.n_kvs, 2);             /* /kvx is not under /kv/ */
    assert_string_equal(r.kvs[0].key, "/kv/a");
    assert_string_equal(r.kvs[1].key, "/kv/b");

    pre.keys_only = true;
    assert_int_equal(vf_store_range(s, &pre, &r), 0);
    assert_int_equal(r.n_kvs, 2);
    assert_null(r.kvs[0].value);

    /* A missing key: no kvs, not an error. */
    assert_int_equal(vf_store_range(s, &(struct vf_store_range_req){.key = "/kv/zz"}, &r), 0);
    assert_int_equal(r.n_kvs, 0);

    /* A future revision is refused clearly. */
    at.revision = r.revision + 1000;
    assert_int_equal(vf_store_range(s, &at, &r), -ERANGE);
    assert_non_null(strstr(r.error, "future revision"));

    assert_int_equal(vf_store_delete(s, "/kv/a", false, &r), 0);
    assert_int_equal(r.deleted, 1);
    assert_int_equal(vf_store_delete(s, "/kv/", true, &r), 0);
    assert_int_equal(r.deleted, 1);
    assert_int_equal(vf_store_delete(s, "/kvx", false, &r), 0);
    assert_int_equal(count_prefix(s, "/kv"), 0);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

void t_pagination(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP"));
    struct vf_store *other = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    for (int i = 0; i < 250; i++) {
        char k[32];
        snprintf(k, sizeof(k), "/pg/k%03d", i);
        put_ok(s, k, "v", 0, &r);
    }
    struct pager p = {.other = other};
    assert_int_equal(vf_store_list(s, "/pg/", 0, 100, on_page, &p, &r), 0);
    assert_int_equal(p.pages, 3);
    assert_int_equal(p.keys, 250);             /* not the late key */
    assert_int_equal(r.count, 250);
    assert_false(p.rev_changed);
    assert_false(p.unordered);
    int64_t list_rev = r.revision;
    assert_int_equal(count_prefix(s, "/pg/"), 251);

    struct vf_store_range_req q = {.key = "/pg/", .prefix = true, .limit = 10};
    assert_int_equal(vf_store_range(s, &q, &r), 0);
    assert_int_equal(r.n_kvs, 10);
    assert_true(r.more);
    assert_int_equal(r.count, 251);
    q = (struct vf_store_range_req){.key = "/pg/", .prefix = true, .revision = list_rev,
                                    .count_only = true};
    assert_int_equal(vf_store_range(s, &q, &r), 0);
    assert_int_equal(r.count, 250);

    assert_int_equal(vf_store_delete(s, "/pg/", true, &r), 0);
    assert_int_equal(r.deleted, 251);
    vf_store_result_clear(&r);
    vf_store_destroy(other);
    vf_store_destroy(s);
}

/* ---- txn ---- */

struct txn_wait {
    bool done;
    struct vf_store_result res;
};

static void txn_done(void *arg, struct vf_store_result *res)
{
    struct txn_wait *w = arg;
    vf_store_result_move(&w->res, res);
    w->done = true;
}

void t_txn_race(void **state)
{
    (void)state;
    struct vf_store *a = plain(env("VF_STORE_EP")), *b = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    for (int round = 0; round < 5; round++) {
        put_ok(a, "/tx/guard", "start", 0, &r);
        int64_t guard_rev = r.revision;
        struct txn_wait wa = {0}, wb = {0};
        struct vf_store_cmp cmp = {.key = "/tx/guard", .target = VF_STORE_CMP_MOD,
                                   .result = VF_STORE_CMP_EQUAL, .number = guard_rev};
        struct vf_store_op fail_ops[] = {{.type = VF_STORE_OP_RANGE, .key = "/tx/owner"}};
        struct vf_store_op ops_a[] = {
            {.type = VF_STORE_OP_PUT, .key = "/tx/guard", .value = "A", .value_len = 1},
            {.type = VF_STORE_OP_PUT, .key = "/tx/owner", .value = "A", .value_len = 1}};
        struct vf_store_op ops_b[] = {
            {.type = VF_STORE_OP_PUT, .key = "/tx/guard", .value = "B", .value_len = 1},
            {.type = VF_STORE_OP_PUT, .key = "/tx/owner", .value = "B", .value_len = 1}};
        struct vf_store_txn ta = {&cmp, 1, ops_a, 2, fail_ops, 1};
        struct vf_store_txn tb = {&cmp, 1, ops_b, 2, fail_ops, 1};
        /* Both in flight before either loop runs: a real race at etcd. */
        assert_int_equal(vf_store_txn_async(a, &ta, txn_done, &wa), 0);
        assert_int_equal(vf_store_txn_async(b, &tb, txn_done, &wb), 0);
        int64_t end = now_ms() + 10000;
        while ((!wa.done || !wb.done) && now_ms() < end) {
            assert_int_equal(vf_store_run(a, 5), 0);
            assert_int_equal(vf_store_run(b, 5), 0);
        }
        assert_true(wa.done && wb.done);
        if (wa.res.rc || wb.res.rc)
            fail_msg("txn: %s / %s", wa.res.error, wb.res.error);
        assert_int_equal(wa.res.succeeded + wb.res.succeeded, 1);
        struct txn_wait *loser = wa.res.succeeded ? &wb : &wa;
        const char *winner = wa.res.succeeded ? "A" : "B";
        /* The loser's failure branch saw the winner's write. */
        assert_int_equal(loser->res.n_ops, 1);
        assert_int_equal(loser->res.ops[0].type, VF_STORE_OP_RANGE);
        assert_int_equal(loser->res.ops[0].n_kvs, 1);
        assert_string_equal(loser->res.ops[0].kvs[0].value, winner);
        assert_int_equal(vf_store_range(a, &(struct vf_store_range_req){.key = "/tx/owner"}, &r),
                         0);
        assert_string_equal(r.kvs[0].value, winner);
        vf_store_result_clear(&wa.res);
        vf_store_result_clear(&wb.res);
    }

    /* Create-if-absent (CREATE == 0), then VALUE and VERSION compares. */
    struct vf_store_cmp absent = {.key = "/tx/new", .target = VF_STORE_CMP_CREATE,
                                  .result = VF_STORE_CMP_EQUAL, .number = 0};
    struct vf_store_op mk = {.type = VF_STORE_OP_PUT, .key = "/tx/new", .value = "1",
                             .value_len = 1};
    struct vf_store_txn t = {&absent, 1, &mk, 1, NULL, 0};
    assert_int_equal(vf_store_txn(a, &t, &r), 0);
    assert_true(r.succeeded);
    int64_t created_at = r.revision;
    assert_int_equal(vf_store_txn(a, &t, &r), 0);
    assert_false(r.succeeded);
    assert_int_equal(r.revision, created_at);  /* nothing written */
    struct vf_store_cmp val = {.key = "/tx/new", .target = VF_STORE_CMP_VALUE,
                               .result = VF_STORE_CMP_EQUAL, .value = "1", .value_len = 1};
    struct vf_store_cmp ver = {.key = "/tx/new", .target = VF_STORE_CMP_VERSION,
                               .result = VF_STORE_CMP_LESS, .number = 2};
    struct vf_store_cmp both[] = {val, ver};
    struct vf_store_op del = {.type = VF_STORE_OP_DELETE, .key = "/tx/", .prefix = true};
    t = (struct vf_store_txn){both, 2, &del, 1, NULL, 0};
    assert_int_equal(vf_store_txn(a, &t, &r), 0);
    assert_true(r.succeeded);
    assert_int_equal(r.ops[0].deleted, 3);
    vf_store_result_clear(&r);
    vf_store_destroy(b);
    vf_store_destroy(a);
}

/* ---- sizes ---- */

void t_sizes(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};
    size_t big = 1600 * 1024;
    char *v = malloc(2300 * 1024);
    assert_non_null(v);
    memset(v, 'x', 2300 * 1024);

    /* Over the limit this client assumes: refused before sending. */
    assert_int_equal(vf_store_put(s, "/big/one", v, big, 0, &r), -E2BIG);
    assert_non_null(strstr(r.error, "1572864"));
    printf("  local refusal: %s\n", r.error);

    /* A client told the limit is higher: etcd itself refuses, clearly. */
    struct vf_store_config cfg = {.max_request_bytes = 8u << 20};
    struct vf_store *loose = client(&cfg, env("VF_STORE_EP"));
    assert_int_equal(vf_store_put(loose, "/big/one", v, big, 0, &r), -E2BIG);
    assert_non_null(strstr(r.error, "request is too large"));
    printf("  etcd's refusal: %s\n", r.error);
    assert_int_equal(vf_store_put(loose, "/big/one", v, 2300 * 1024, 0, &r), -E2BIG);
    printf("  gRPC's refusal: %s\n", r.error);
    vf_store_destroy(loose);

    /* A response cap of 256 KiB: a range of 800 KiB is refused, a list
     * pages down until its pages fit. */
    for (int i = 0; i < 20; i++) {
        char k[32];
        snprintf(k, sizeof(k), "/big/k%02d", i);
        assert_int_equal(vf_store_put(s, k, v, 40 * 1024, 0, &r), 0);
    }
    cfg = (struct vf_store_config){.max_response_bytes = 256 * 1024};
    struct vf_store *capped = client(&cfg, env("VF_STORE_EP"));
    struct vf_store_range_req q = {.key = "/big/", .prefix = true};
    assert_int_equal(vf_store_range(capped, &q, &r), -EFBIG);
    assert_non_null(strstr(r.error, "max_response_bytes"));
    struct pager p = {0};
    assert_int_equal(vf_store_list(capped, "/big/", 0, 20, on_page, &p, &r), 0);
    assert_int_equal(p.keys, 20);
    assert_true(p.pages > 1);
    assert_false(p.unordered);
    vf_store_destroy(capped);
    assert_int_equal(vf_store_delete(s, "/big/", true, &r), 0);
    free(v);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

/* ---- leases ---- */

void t_lease(void **state)
{
    (void)state;
    struct vf_store *s = plain(env("VF_STORE_EP"));
    struct vf_store_result r = {0};

    /* Expiry: a key on a 2 s lease with no keepalive goes away. */
    assert_int_equal(vf_store_lease_grant(s, 2, &r), 0);
    int64_t dying = r.lease_id;
    assert_int_equal(r.ttl, 2);
    put_ok(s, "/ls/dies", "x", dying, &r);
    assert_int_equal(count_prefix(s, "/ls/dies"), 1);
    int64_t end = now_ms() + 10000;
    while (count_prefix(s, "/ls/dies") != 0 && now_ms() < end)
        run_for(s, 200);
    assert_int_equal(count_prefix(s, "/ls/dies"), 0);
    assert_int_equal(vf_store_lease_ttl(s, dying, &r), 0);
    assert_int_equal(r.ttl, -1);                /* etcd: no such lease */

    /* Keepalive: the same TTL, kept for 3 TTLs, the key stays. */
    assert_int_equal(vf_store_lease_grant(s, 2, &r), 0);
    int64_t kept = r.lease_id;
    struct lease_seen seen = {0};
    struct vf_store_lease *l = vf_store_lease_keep(s, kept, 2, on_lease, &seen);
    assert_non_null(l);
    put_ok(s, "/ls/stays", "y", kept, &r);
    run_for(s, 6000);
    assert_int_equal(count_prefix(s, "/ls/stays"), 1);
    assert_true(seen.kept >= 1);
    assert_int_equal(seen.lost, 0);
    assert_int_equal(vf_store_lease_ttl(s, kept, &r), 0);
    assert_int_equal(r.granted_ttl, 2);
    assert_true(r.ttl >= 0);

    /* Revoked behind the keeper's back: it reports the loss. */
    struct vf_store *other = plain(env("VF_STORE_EP"));
    assert_int_equal(vf_store_lease_revoke(other, kept, &r), 0);
    vf_store_destroy(other);
    assert_int_equal(count_prefix(s, "/ls/stays"), 0);
    end = now_ms() + 5000;
    while (!seen.lost && now_ms() < end)
        run_for(s, 100);
    assert_int_equal(seen.lost, 1);
    assert_int_equal(seen.rc, -ENOENT);
    vf_store_lease_unkeep(l);
    assert_int_equal(vf_store_lease_revoke(s, kept, &r), -ENOENT);
    printf("  revoke again: %s\n", r.error);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

/* ---- failover and timeouts ---- */

void t_failover_timeout(void **state)
{
    (void)state;
    char eps[256];
    snprintf(eps, sizeof(eps), "http://127.0.0.1:1,%s", env("VF_STORE_EP"));
    struct vf_store *s = plain(eps);
    struct vf_store_result r = {0};
    put_ok(s, "/fo/a", "1", 0, &r);
    struct vf_store_stats st;
    vf_store_get_stats(s, &st);
    assert_true(st.failovers >= 1);
    assert_string_equal(st.endpoint, env("VF_STORE_EP"));
    vf_store_destroy(s);

    /* A member that stops answering: the request times out, the message
     * names the endpoint and that the write may have been applied. */
    struct vf_store_config cfg = {.request_timeout_ms = 500};
    s = client(&cfg, env("VF_STORE_EP"));
    put_ok(s, "/fo/b", "warm", 0, &r);          /* a connection in the cache */
    pid_t pid = (pid_t)atoi(env("VF_STORE_PID"));
    assert_int_equal(kill(pid, SIGSTOP), 0);
    int rc = vf_store_put(s, "/fo/b", "x", 1, 0, &r);
    int rc2 = vf_store_range(s, &(struct vf_store_range_req){.key = "/fo/b"}, &r);
    char msg[VF_STORE_ERR_LEN];
    snprintf(msg, sizeof(msg), "%s", r.error);
    kill(pid, SIGCONT);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_int_equal(rc2, -ETIMEDOUT);
    assert_non_null(strstr(msg, env("VF_STORE_EP")));
    printf("  %s\n", msg);
    int64_t end = now_ms() + 10000;
    while (vf_store_put(s, "/fo/b", "back", 4, 0, &r) != 0 && now_ms() < end)
        run_for(s, 100);
    assert_int_equal(r.rc, 0);
    assert_int_equal(vf_store_delete(s, "/fo/", true, &r), 0);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
}

