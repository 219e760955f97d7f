/* store_bench.c - vfab-store-bench URL: round trips of the etcd client
 * (mgmt/store) against one etcd member, beside a baseline in the same run:
 * the same range request sent with plain libcurl (one easy handle, no
 * vf_store), so the ratio shows what the client adds. Also: puts with
 * many in flight, and how long a put takes to reach a watch (p50/p99).
 * perf/store-bench.sh starts a throwaway member and runs this. A
 * measurement, not a test: nothing here passes or fails on time. */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/store/vf_store.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "vfab-store-bench: %s: %s\n", what, why);
    exit(1);
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* Baseline: a range of one key with a bare libcurl easy handle. */
static double raw_range_per_s(const char *url, int n)
{
    char full[256];
    snprintf(full, sizeof(full), "%s/v3/kv/range", url);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    const char *body = "{\"key\":\"L2JlbmNoL2E=\"}";       /* /bench/a */
    curl_easy_setopt(e, CURLOPT_URL, full);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        if (curl_easy_perform(e) != CURLE_OK)
            die("raw range", "curl failed");
    double s = (double)(now_ns() - t0) / 1e9;
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return n / s;
}

static double sync_per_s(struct vf_store *s, bool put, int n)
{
    struct vf_store_result r = {0};
    struct vf_store_range_req q = {.key = "/bench/a"};
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        int rc = put ? vf_store_put(s, "/bench/a", "value-16-bytes!!", 16, 0, &r)
                     : vf_store_range(s, &q, &r);
        if (rc)
            die(put ? "put" : "range", r.error);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    vf_store_result_clear(&r);
    return n / secs;
}

struct inflight {
    int left, running, failed;
};

static void put_done(void *arg, struct vf_store_result *res)
{
    struct inflight *f = arg;
    f->running--;
    if (res->rc)
        f->failed++;
}

static double async_puts_per_s(struct vf_store *s, int n, int depth)
{
    struct inflight f = {.left = n};
    char key[32];
    int64_t t0 = now_ns();
    while (f.left > 0 || f.running > 0) {
        while (f.left > 0 && f.running < depth) {
            snprintf(key, sizeof(key), "/bench/p%d", f.left % 1000);
            if (vf_store_put_async(s, key, "v", 1, 0, put_done, &f))
                die("put_async", "out of memory");
            f.left--;
            f.running++;
        }
        vf_store_run(s, 100);
    }
    if (f.failed)
        die("async puts", "some failed");
    return n / ((double)(now_ns() - t0) / 1e9);
}

struct lat {
    int64_t sent, acked;
    bool got_ack, got_event;
    int64_t *ack_ns, *event_ns;
    int i;
};

static void lat_ack(void *arg, struct vf_store_result *res)
{
    struct lat *l = arg;
    if (res->rc)
        die("latency put", res->error);
    l->ack_ns[l->i] = now_ns() - l->sent;
    l->got_ack = true;
}

static void lat_event(void *arg, const struct vf_store_watch_msg *m)
{
    struct lat *l = arg;
    if (m->kind == VF_STORE_WATCH_EVENTS && !l->got_event) {
        l->event_ns[l->i] = now_ns() - l->sent;
        l->got_event = true;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(int64_t *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    return (double)v[(int)(p * (n - 1))] / 1e3;
}

static void watch_latency(struct vf_store *writer, struct vf_store *watcher, int n)
{
    struct lat l = {.ack_ns = calloc((size_t)n, 8), .event_ns = calloc((size_t)n, 8)};
    char err[256];
    struct vf_store_watch_req q = {.key = "/bench/w/", .prefix = true};
    struct vf_store_watch *w = vf_store_watch_start(watcher, &q, lat_event, &l, err,
                                                    sizeof(err));
    if (!w)
        die("watch", err);
    while (!vf_store_watch_endpoint(w))
        vf_store_run(watcher, 100);
    for (l.i = 0; l.i < n; l.i++) {
        l.got_ack = l.got_event = false;
        l.sent = now_ns();
        if (vf_store_put_async(writer, "/bench/w/k", "v", 1, 0, lat_ack, &l))
            die("put_async", "out of memory");
        while (!l.got_ack || !l.got_event) {
            vf_store_run(writer, 0);
            vf_store_run(watcher, 1);
        }
    }
    printf("put -> ack          p50 %7.0f us  p99 %7.0f us  (%d puts)\n",
           pct_us(l.ack_ns, n, 0.5), pct_us(l.ack_ns, n, 0.99), n);
    printf("put -> watch event  p50 %7.0f us  p99 %7.0f us\n", pct_us(l.event_ns, n, 0.5),
           pct_us(l.event_ns, n, 0.99));
    vf_store_watch_stop(w);
    free(l.ack_ns);
    free(l.event_ns);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [N]   (perf/store-bench.sh runs it)\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    struct vf_store_config cfg = {.endpoints = argv[1]};
    struct vf_store *s, *s2;
    char err[256];
    if (vf_store_create(&cfg, &s, err, sizeof(err)) ||
        vf_store_create(&cfg, &s2, err, sizeof(err)))
        die("create", err);
    sync_per_s(s, true, 10);         /* connections warm */
    raw_range_per_s(argv[1], 10);

    double raw = raw_range_per_s(argv[1], n);
    double range = sync_per_s(s, false, n);
    double put = sync_per_s(s, true, n);
    printf("raw libcurl range   %8.0f /s  (baseline)\n", raw);
    printf("vf_store range      %8.0f /s  (%.2f x baseline)\n", range, range / raw);
    printf("vf_store put        %8.0f /s  (%.2f x baseline)\n", put, put / raw);
    for (int depth = 8; depth <= 64; depth *= 8) {
        double a = async_puts_per_s(s, n, depth);
        printf("async put, %2d deep  %8.0f /s  (%.2f x one at a time)\n", depth, a, a / put);
    }
    watch_latency(s, s2, n / 4 > 100 ? n / 4 : 100);
    struct vf_store_result r = {0};
    vf_store_delete(s, "/bench/", true, &r);
    vf_store_result_clear(&r);
    vf_store_destroy(s2);
    vf_store_destroy(s);
    return 0;
}
