/* test_store.c - the etcd client's parts that need no etcd: base64, key
 * ranges, the watch stream framer, configuration errors, and the errors a
 * caller sees when etcd is unreachable or silent (sockets on loopback that
 * refuse or never answer). Real etcd: tests/integration/t_store_client.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mgmt/store/store_int.h"
#include "mgmt/store/vf_store.h"

/* ---- codec ---- */

static void test_base64_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16], back[16];
        store_b64_encode(plain[i], strlen(plain[i]), out);
        assert_string_equal(out, enc[i]);
        assert_int_equal(store_b64_len(strlen(plain[i])), strlen(enc[i]));
        ssize_t n = store_b64_decode(enc[i], strlen(enc[i]), back);
        assert_int_equal(n, (ssize_t)strlen(plain[i]));
        assert_memory_equal(back, plain[i], (size_t)n);
    }
    char junk[8];
    assert_int_equal(store_b64_decode("Zm9v!", 5, junk), -1);
    assert_int_equal(store_b64_decode("Z", 1, junk), -1);
}

static void test_base64_roundtrip(void **state)
{
    (void)state;
    unsigned char in[300], back[300];
    char enc[512];
    uint32_t x = 12345;
    for (size_t len = 0; len <= sizeof(in); len++) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245 + 12345;
            in[i] = (unsigned char)(x >> 16);
        }
        store_b64_encode(in, len, enc);
        assert_int_equal(strlen(enc), store_b64_len(len));
        assert_int_equal(store_b64_decode(enc, strlen(enc), back), (ssize_t)len);
        assert_memory_equal(back, in, len);
    }
}

static void test_prefix_end(void **state)
{
    (void)state;
    char out[16];
    size_t n = store_prefix_end("/vfab/", 6, out);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "/vfab0", 6);
    n = store_prefix_end("a\xff", 2, out);
    assert_int_equal(n, 1);
    assert_memory_equal(out, "b", 1);
    /* Nothing above it: "\0", etcd's "every key from here". */
    n = store_prefix_end("\xff\xff", 2, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0);
}

static void test_json_i64(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:I, s:s}", "a", "-9223372036854775807", "b", (json_int_t)42,
                          "c", "12x");
    assert_int_equal(store_json_i64(o, "a"), -9223372036854775807LL);
    assert_int_equal(store_json_i64(o, "b"), 42);
    assert_int_equal(store_json_i64(o, "c"), 0);          /* not a number */
    assert_int_equal(store_json_i64(o, "missing"), 0);    /* the gateway omits zeros */
    json_decref(o);
}

/* An answer's kvs fit the arena store_kvs_bytes sizes, whatever the
 * lengths of keys and values (each allocation is aligned to 16). */
static void test_kvs_arena(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 8; n++)
        for (size_t klen = 1; klen <= 40; klen++)
            for (size_t vlen = 0; vlen <= 40; vlen++) {
                char plain[64], enc_k[96], enc_v[96];
                json_t *kvs = json_array();
                memset(plain, 'k', klen);
                store_b64_encode(plain, klen, enc_k);
                memset(plain, 'v', vlen);
                store_b64_encode(plain, vlen, enc_v);
                for (size_t i = 0; i < n; i++)
                    json_array_append_new(kvs, json_pack("{s:s, s:s}", "key", enc_k,
                                                         "value", enc_v));
                struct store_arena a;
                size_t got;
                int rc;
                assert_int_equal(store_arena_init(&a, store_kvs_bytes(kvs)), 0);
                struct vf_store_kv *kv = store_kvs_decode(kvs, &a, &got, &rc);
                if (rc)
                    fail_msg("%zu kvs, key %zu, value %zu bytes: rc %d", n, klen, vlen, rc);
                assert_non_null(kv);
                assert_int_equal(got, n);
                assert_int_equal(kv[n - 1].key_len, klen);
                assert_int_equal(kv[n - 1].value_len, vlen);
                free(a.base);
                json_decref(kvs);
            }
}

/* The stream, fed one byte at a time and whole: the same three objects,
 * whatever braces and quotes their strings hold. */
static void test_framer(void **state)
{
    (void)state;
    const char *stream = "{\"result\":{\"a\":\"}{\\\"\"}}\n"
                         "  {\"result\":{\"events\":[{\"k\":\"[\"}]}}\r\n"
                         "{\"error\":{\"message\":\"x\\\\\"}}\n";
    const char *want[] = {"{\"result\":{\"a\":\"}{\\\"\"}}",
                          "{\"result\":{\"events\":[{\"k\":\"[\"}]}}",
                          "{\"error\":{\"message\":\"x\\\\\"}}"};
    size_t total = strlen(stream);
    for (size_t step = 1; step <= total; step += (step < 4 ? 1 : 17)) {
        struct store_buf b = {0};
        struct store_framer f = {0};
        size_t fed = 0, got = 0, begin, end;
        while (fed < total || got < 3) {
            size_t n = total - fed < step ? total - fed : step;
            assert_int_equal(store_buf_append(&b, stream + fed, n, 1 << 20), 0);
            fed += n;
            int rc;
            while ((rc = store_framer_next(&f, b.p, b.len, &begin, &end)) == 1) {
                assert_true(got < 3);
                assert_int_equal(end - begin, strlen(want[got]));
                assert_memory_equal(b.p + begin, want[got], end - begin);
                json_error_t je;
                json_t *o = json_loadb(b.p + begin, end - begin, 0, &je);
                assert_non_null(o);
                json_decref(o);
                store_buf_consume(&b, end);
                store_framer_shift(&f, end);
                got++;
            }
            assert_int_equal(rc, 0);
            if (fed == total)
                break;
        }
        assert_int_equal(got, 3);
        store_buf_free(&b);
    }
    struct store_framer f = {0};
    size_t begin, end;
    assert_int_equal(store_framer_next(&f, "oops{}", 6, &begin, &end), -1);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct store_buf b = {0};
    assert_int_equal(store_buf_append(&b, "abcd", 4, 6), 0);
    assert_int_equal(store_buf_append(&b, "efg", 3, 6), -EFBIG);
    assert_int_equal(b.len, 4);
    store_buf_free(&b);
}

/* ---- configuration ---- */

static int create(const char *eps, struct vf_store_config cfg, char *err, size_t len)
{
    struct vf_store *s = NULL;
    cfg.endpoints = eps;
    int rc = vf_store_create(&cfg, &s, err, len);
    vf_store_destroy(s);
    return rc;
}

static void test_config_errors(void **state)
{
    (void)state;
    char err[512];
    struct vf_store_config none = {0};
    assert_int_equal(create("", none, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "endpoints"));
    assert_int_equal(create("ftp://h:1", none, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "ftp://h:1"));
    assert_int_equal(create("http://h:1/v3", none, err, sizeof(err)), -EINVAL);
    assert_int_equal(create("http://a,,http://b", none, err, sizeof(err)), -EINVAL);
    /* user:password in a URL: refused, and the password is not echoed. */
    assert_int_equal(create("http://me:hunter2@h:1", none, err, sizeof(err)), -EINVAL);
    assert_null(strstr(err, "hunter2"));
    struct vf_store_config ca = {.ca_file = "/nonexistent/ca.crt"};
    assert_int_equal(create("h:1", ca, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/ca.crt"));
    struct vf_store_config half = {.cert_file = "/etc/hostname"};
    assert_int_equal(create("h:1", half, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "key"));
    struct vf_store_config nopw = {.user = "alice"};
    assert_int_equal(create("h:1", nopw, err, sizeof(err)), -EINVAL);
    assert_int_equal(create("127.0.0.1:2379, http://10.0.0.1:2379/", none, err, sizeof(err)), 0);
}

/* ---- unreachable and silent endpoints (loopback sockets) ---- */

/* A loopback port that refuses connections (bound, never listening) or
 * accepts them and never answers (listening, never accepting). */
static int loopback(bool listening, char *url, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    if (listening)
        assert_int_equal(listen(fd, 16), 0);
    snprintf(url, len, "http://127.0.0.1:%u", ntohs(a.sin_port));
    return fd;
}

static struct vf_store *client(const char *eps, unsigned timeout_ms)
{
    struct vf_store_config cfg = {.endpoints = eps, .request_timeout_ms = timeout_ms};
    struct vf_store *s;
    char err[256];
    assert_int_equal(vf_store_create(&cfg, &s, err, sizeof(err)), 0);
    return s;
}

static void test_refused(void **state)
{
    (void)state;
    char u1[64], u2[64], both[160];
    int f1 = loopback(false, u1, sizeof(u1)), f2 = loopback(false, u2, sizeof(u2));
    snprintf(both, sizeof(both), "%s,%s", u1, u2);
    struct vf_store *s = client(u1, 2000);
    struct vf_store_result r = {0};
    assert_int_equal(vf_store_put(s, "/k", "v", 1, 0, &r), -ECONNREFUSED);
    assert_non_null(strstr(r.error, u1));
    assert_non_null(strstr(r.error, "Connection refused"));
    assert_null(strstr(r.error, "may have been applied"));   /* never sent */
    vf_store_destroy(s);

    s = client(both, 2000);
    assert_int_equal(vf_store_range(s, &(struct vf_store_range_req){.key = "/k"}, &r),
                     -ECONNREFUSED);
    assert_non_null(strstr(r.error, "no endpoint answered"));
    assert_non_null(strstr(r.error, u1));
    assert_non_null(strstr(r.error, u2));
    struct vf_store_stats st;
    vf_store_get_stats(s, &st);
    assert_int_equal(st.failovers, 1);
    assert_int_equal(st.failures, 1);
    assert_false(st.connected);
    vf_store_destroy(s);
    vf_store_result_clear(&r);
    close(f1);
    close(f2);
}

static void test_silent(void **state)
{
    (void)state;
    char url[64];
    int fd = loopback(true, url, sizeof(url));
    struct vf_store *s = client(url, 300);
    struct vf_store_result r = {0};
    assert_int_equal(vf_store_put(s, "/k", "v", 1, 0, &r), -ETIMEDOUT);
    assert_non_null(strstr(r.error, url));
    assert_non_null(strstr(r.error, "may have been applied"));
    assert_int_equal(vf_store_range(s, &(struct vf_store_range_req){.key = "/k"}, &r),
                     -ETIMEDOUT);
    assert_null(strstr(r.error, "may have been applied"));   /* a read */
    vf_store_destroy(s);
    vf_store_result_clear(&r);
    close(fd);
}

/* ---- the async contract ---- */

struct seen {
    bool done;
    int rc;
    int nested_rc;
    char error[VF_STORE_ERR_LEN];
    struct vf_store *s;
};

static void on_done(void *arg, struct vf_store_result *res)
{
    struct seen *w = arg;
    w->done = true;
    w->rc = res->rc;
    snprintf(w->error, sizeof(w->error), "%s", res->error);
    if (w->s) {
        struct vf_store_result r = {0};
        w->nested_rc = vf_store_range(w->s, &(struct vf_store_range_req){.key = "/k"}, &r);
        vf_store_result_clear(&r);
    }
}

static void test_async_contract(void **state)
{
    (void)state;
    char url[64];
    int fd = loopback(false, url, sizeof(url));
    struct vf_store *s = client(url, 2000);
    struct vf_store_result r = {0};

    /* Too large: refused before sending, the limit named; the completion
     * runs from the loop, never inside the _async call. */
    size_t big = 2u << 20;
    char *v = calloc(1, big);
    struct seen w = {.s = s};
    assert_int_equal(vf_store_put_async(s, "/big", v, big, 0, on_done, &w), 0);
    assert_false(w.done);
    assert_int_equal(vf_store_timeout_ms(s), 0);
    assert_int_equal(vf_store_run(s, 1000), 0);
    assert_true(w.done);
    assert_int_equal(w.rc, -E2BIG);
    assert_non_null(strstr(w.error, "1572864"));
    /* A synchronous call from a completion: refused, not a deadlock. */
    assert_int_equal(w.nested_rc, -EDEADLK);
    assert_int_equal(vf_store_put(s, "/big", v, big, 0, &r), -E2BIG);
    free(v);

    /* A txn op with an empty key: refused with a message, nothing sent. */
    struct vf_store_op op = {.type = VF_STORE_OP_PUT, .key = ""};
    struct vf_store_txn t = {.success = &op, .n_success = 1};
    assert_int_equal(vf_store_txn(s, &t, &r), -EINVAL);
    assert_non_null(strstr(r.error, "empty key"));
    struct vf_store_stats st;
    vf_store_get_stats(s, &st);
    assert_true(st.connected == false && st.failovers == 0);

    /* The loop's fds: the wakeup fd at least; a wakeup makes poll return. */
    struct pollfd fds[8];
    assert_true(vf_store_nfds(s) >= 1);
    int n = vf_store_pollfds(s, fds, 8);
    assert_true(n >= 1);
    vf_store_wakeup(s);
    assert_int_equal(poll(fds, (nfds_t)n, 1000), 1);
    assert_int_equal(vf_store_dispatch(s, fds, (unsigned)n), 0);
    vf_store_result_clear(&r);
    vf_store_destroy(s);
    close(fd);
}

/* ---- watches and keepers with nobody answering ---- */

struct wseen {
    unsigned lost;
    char reason[VF_STORE_ERR_LEN];
    char endpoints[4][64];
};

static void on_watch(void *arg, const struct vf_store_watch_msg *m)
{
    struct wseen *w = arg;
    if (m->kind != VF_STORE_WATCH_LOST)
        return;
    if (w->lost < 4)
        snprintf(w->endpoints[w->lost], sizeof(w->endpoints[0]), "%s", m->endpoint);
    w->lost++;
    snprintf(w->reason, sizeof(w->reason), "%s", m->reason);
}

static struct lseen {
    unsigned lost;
    int rc;
    char why[VF_STORE_ERR_LEN];
} lseen;

static void on_lease(void *arg, enum vf_store_lease_event ev, int64_t id, int rc,
                     const char *why)
{
    (void)arg;
    (void)id;
    if (ev == VF_STORE_LEASE_LOST) {
        lseen.lost++;
        lseen.rc = rc;
        snprintf(lseen.why, sizeof(lseen.why), "%s", why);
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_unreachable_watch_and_lease(void **state)
{
    (void)state;
    char u1[64], u2[64], both[160], err[256];
    int f1 = loopback(false, u1, sizeof(u1)), f2 = loopback(false, u2, sizeof(u2));
    snprintf(both, sizeof(both), "%s,%s", u1, u2);
    struct vf_store *s = client(both, 500);
    struct wseen w = {0};
    struct vf_store_watch_req q = {.key = "/vfab/", .prefix = true};
    struct vf_store_watch *wa = vf_store_watch_start(s, &q, on_watch, &w, err, sizeof(err));
    assert_non_null(wa);
    assert_null(vf_store_watch_start(s, &(struct vf_store_watch_req){.key = ""}, on_watch, &w,
                                     err, sizeof(err)));
    assert_non_null(strstr(err, "empty key"));

    /* A keeper of a 1 s lease that no keepalive reaches. */
    memset(&lseen, 0, sizeof(lseen));
    struct vf_store_lease *l = vf_store_lease_keep(s, 42, 1, on_lease, NULL);
    assert_non_null(l);
    int64_t end = now_ms() + 10000;
    while ((w.lost < 4 || !lseen.lost) && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    /* The watch tries both endpoints in turn, saying why each failed. */
    assert_true(w.lost >= 4);
    assert_string_equal(w.endpoints[0], u1);
    assert_string_equal(w.endpoints[1], u2);
    assert_string_equal(w.endpoints[2], u1);
    assert_non_null(strstr(w.reason, "Connection refused"));
    assert_null(vf_store_watch_endpoint(wa));
    assert_int_equal(vf_store_watch_next_revision(wa), 0);
    assert_int_equal(lseen.lost, 1);
    assert_int_equal(lseen.rc, -ECONNREFUSED);
    assert_non_null(strstr(lseen.why, "no keepalive got through"));
    assert_int_equal(vf_store_lease_left_ms(l), 0);
    vf_store_lease_unkeep(l);
    vf_store_watch_stop(wa);
    vf_store_destroy(s);
    close(f1);
    close(f2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_prefix_end),
        cmocka_unit_test(test_json_i64),
        cmocka_unit_test(test_kvs_arena),
        cmocka_unit_test(test_framer),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_silent),
        cmocka_unit_test(test_async_contract),
        cmocka_unit_test(test_unreachable_watch_and_lease),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
