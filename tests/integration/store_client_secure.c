/* store_client_secure.c - TLS with a throwaway CA, and users and roles
 * (store-client-test tls, auth). */
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

/* ===================== TLS ===================== */

static char pki_buf[8][512];

static const char *pki(int slot, const char *file)
{
    snprintf(pki_buf[slot], sizeof(pki_buf[slot]), "%s/%s", env("VF_STORE_PKI"), file);
    return pki_buf[slot];
}

void t_tls(void **state)
{
    (void)state;
    struct vf_store_result r = {0};
    struct vf_store_config good = {.ca_file = pki(0, "ca.crt"), .cert_file = pki(1, "client.crt"),
                                   .key_file = pki(2, "client.key")};
    struct vf_store *s = client(&good, env("VF_STORE_EP"));
    put_ok(s, "/tls/a", "secret-free", 0, &r);
    assert_int_equal(vf_store_range(s, &(struct vf_store_range_req){.key = "/tls/a"}, &r), 0);
    assert_int_equal(r.n_kvs, 1);
    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    struct vf_store_watch *w = watch(s, "/tls/", r.revision + 1, &rec, false);
    put_ok(s, "/tls/b", "2", 0, &r);
    int64_t end = now_ms() + 10000;
    while (rec.n == 0 && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_int_equal(rec.n, 1);
    vf_store_watch_stop(w);
    vf_store_destroy(s);

    /* The wrong CA: etcd's certificate is not trusted. */
    struct vf_store_config bad_ca = good;
    bad_ca.ca_file = pki(3, "evil.crt");
    s = client(&bad_ca, env("VF_STORE_EP"));
    assert_int_equal(vf_store_put(s, "/tls/x", "1", 1, 0, &r), -EPROTO);
    assert_non_null(strstr(r.error, env("VF_STORE_EP")));
    assert_non_null(strstr(r.error, "TLS"));
    assert_non_null(strstr(r.error, "not signed by the CA"));
    printf("  wrong CA: %s\n", r.error);
    vf_store_destroy(s);

    /* A client certificate from another CA: etcd refuses us. */
    struct vf_store_config rogue = good;
    rogue.cert_file = pki(4, "rogue.crt");
    rogue.key_file = pki(5, "rogue.key");
    s = client(&rogue, env("VF_STORE_EP"));
    assert_int_equal(vf_store_put(s, "/tls/x", "1", 1, 0, &r), -EPROTO);
    assert_non_null(strstr(r.error, "refused our client certificate"));
    printf("  wrong client certificate: %s\n", r.error);
    vf_store_destroy(s);

    /* No client certificate at all. */
    struct vf_store_config none = {.ca_file = pki(0, "ca.crt")};
    s = client(&none, env("VF_STORE_EP"));
    assert_int_equal(vf_store_put(s, "/tls/x", "1", 1, 0, &r), -EPROTO);
    assert_non_null(strstr(r.error, "client certificate"));
    printf("  no client certificate: %s\n", r.error);
    vf_store_destroy(s);

    /* http:// to a TLS member: the message says to use https://. */
    char http[256];
    snprintf(http, sizeof(http), "http://%s", env("VF_STORE_EP") + strlen("https://"));
    s = plain(http);
    assert_true(vf_store_put(s, "/tls/x", "1", 1, 0, &r) < 0);
    assert_non_null(strstr(r.error, "https://"));
    printf("  plain http: %s\n", r.error);
    vf_store_destroy(s);

    /* A watch with the wrong CA never streams; it says why. */
    s = client(&bad_ca, env("VF_STORE_EP"));
    memset(&rec, 0, sizeof(rec));
    w = watch(s, "/tls/", 0, &rec, false);
    end = now_ms() + 10000;
    while (rec.lost == 0 && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_true(rec.lost >= 1);
    assert_non_null(strstr(rec.reason, "TLS"));
    vf_store_watch_stop(w);
    vf_store_destroy(s);
    vf_store_result_clear(&r);
}

/* ===================== auth ===================== */

void t_auth(void **state)
{
    (void)state;
    struct vf_store_result r = {0};
    struct vf_store_config alice = {.user = "alice", .password = "apw"};
    struct vf_store *s = client(&alice, env("VF_STORE_EP"));
    put_ok(s, "/vfab/a", "1", 0, &r);

    /* Her role covers /vfab/ only. */
    assert_int_equal(vf_store_put(s, "/other", "1", 1, 0, &r), -EPERM);
    assert_non_null(strstr(r.error, "permission denied"));
    printf("  outside the role: %s\n", r.error);

    /* The token expires after 2 s (--auth-token-ttl 2): the client gets a
     * new one and the request goes through. */
    static struct recorder rec;
    memset(&rec, 0, sizeof(rec));
    struct vf_store_watch *w = watch(s, "/vfab/", 0, &rec, false);
    run_for(s, 3500);
    put_ok(s, "/vfab/b", "2", 0, &r);
    struct vf_store_stats st;
    vf_store_get_stats(s, &st);
    assert_true(st.reauths >= 1);
    int64_t end = now_ms() + 10000;
    while (rec.n == 0 && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_int_equal(rec.n, 1);                /* the watch carried a token too */
    assert_string_equal(rec.ev[0].key, "/vfab/b");
    vf_store_watch_stop(w);

    /* Leases under auth. */
    assert_int_equal(vf_store_lease_grant(s, 5, &r), 0);
    assert_int_equal(vf_store_lease_revoke(s, r.lease_id, &r), 0);
    vf_store_destroy(s);

    /* A wrong password: refused, the message says so, no password in it. */
    struct vf_store_config wrong = {.user = "alice", .password = "not-the-password"};
    s = client(&wrong, env("VF_STORE_EP"));
    assert_int_equal(vf_store_put(s, "/vfab/c", "1", 1, 0, &r), -EACCES);
    assert_non_null(strstr(r.error, "authentication"));
    assert_null(strstr(r.error, "not-the-password"));
    printf("  wrong password: %s\n", r.error);
    memset(&rec, 0, sizeof(rec));
    w = watch(s, "/vfab/", 0, &rec, false);
    end = now_ms() + 10000;
    while (rec.failed == 0 && now_ms() < end)
        assert_int_equal(vf_store_run(s, 50), 0);
    assert_int_equal(rec.failed, 1);
    vf_store_watch_stop(w);
    vf_store_destroy(s);

    /* No user at all against a cluster with auth on. */
    s = plain(env("VF_STORE_EP"));
    assert_int_equal(vf_store_put(s, "/vfab/c", "1", 1, 0, &r), -EACCES);
    assert_non_null(strstr(r.error, "user and password"));
    printf("  no user: %s\n", r.error);
    vf_store_destroy(s);
    vf_store_result_clear(&r);
}

