/* sim_main.c - vfab-sim: N simulated chassis against a real etcd
 * (vf_sim.h); perf/vfab-sim.sh starts a throwaway etcd and runs it.
 *
 * Phases, each timed from the main thread's clock:
 *   load     the fabric written through the northbound path (vf_desired:
 *            the same read, validate, diff, cut and guarded txns as
 *            vfabctl --store apply);
 *   cold     every chassis started at once: lease, register, read its
 *            part, compile; until the last one compiled;
 *   add      one port added at a time (vfabctl's add path), timed from the
 *            txn's send until every chassis processed its revision (and
 *            recompiled if its tables hold the port's switch); before each,
 *            the baseline of the same run: a plain put of P"ping", a key no
 *            chassis compiles, timed from its send until every chassis
 *            processed it (etcd's watch fan-out and the sim's loops, with
 *            no vfab work), so that "add / ping" is vfab's share;
 *   kill     one chassis stops its keepalives and watch; until every other
 *            saw its record deleted (its lease expires: TTL after its last
 *            keepalive).
 * Then etcd's and the sim's CPU time and memory. Usage: see usage().
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt/control/vf_model_edit.h"
#include "mgmt/layout/vf_desired.h"
#include "perf/vf_sim.h"

static unsigned wait_s = 600;    /* --wait: cold start and settling */
static unsigned add_wait_s = 60; /* --add-wait: one ping or port add */

static void usage(FILE *f)
{
    fprintf(f,
"usage: vfab-sim --etcd URL[,URL...] [--chassis N] [--switches S] [--ports P]\n"
"                [--tenant-switches T] [--ttl S] [--threads T] [--adds K]\n"
"                [--etcd-pid PID] [--prefix P] [--wait S] [--add-wait S]\n"
"  N >= 2 chassis (default 100) in one process against etcd; a fabric of S\n"
"  switches (1000) and P ports (10000) in tenants of T switches (10) joined\n"
"  by a router; lease TTL S seconds (10); T loop threads (1); K port adds\n"
"  (20). With --etcd-pid, etcd's CPU time and memory are reported too.\n"
"  Waits: S seconds (600) for the cold start and for settling, S (60) for\n"
"  each ping and port add to reach every chassis (those that time out are\n"
"  left out of the figures and counted).\n");
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "vfab-sim: %s: %s\n", what, why);
    exit(1);
}

/* ---- resources ---- */

struct res {
    double cpu_s;                /* user + system */
    long rss_kb, hwm_kb;
};

static void res_of(long pid, struct res *r)
{
    char path[64], buf[4096];
    FILE *f;
    memset(r, 0, sizeof(*r));
    if (pid < 0)
        snprintf(path, sizeof(path), "/proc/self/stat");
    else
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) && fgets(buf, sizeof(buf), f)) {
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt
         * cminflt majflt cmajflt utime stime */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                        &st) == 2)
            r->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), pid < 0 ? "/proc/self/status" : "/proc/%ld/status", pid);
    if ((f = fopen(path, "r"))) {
        while (fgets(buf, sizeof(buf), f)) {
            sscanf(buf, "VmRSS: %ld", &r->rss_kb);
            sscanf(buf, "VmHWM: %ld", &r->hwm_kb);
        }
        fclose(f);
    }
}

static long etcd_pid = 0;
static struct res etcd0, sim0;

static void phase_res(const char *phase)
{
    struct res e = {0}, s;
    if (etcd_pid > 0)
        res_of(etcd_pid, &e);
    res_of(-1, &s);
    printf("  %-6s cpu: etcd %6.1f s, sim %6.1f s; memory: etcd %5ld MiB (peak %ld), "
           "sim %5ld MiB (peak %ld)\n", phase, e.cpu_s - etcd0.cpu_s, s.cpu_s - sim0.cpu_s,
           e.rss_kb / 1024, e.hwm_kb / 1024, s.rss_kb / 1024, s.hwm_kb / 1024);
    etcd0 = e;
    sim0 = s;
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(int64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), cmp_i64);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* ---- the operator's side ---- */

static struct vf_store *writer(const struct sim_cfg *cfg)
{
    struct vf_store_config sc = {.endpoints = cfg->endpoints, .request_timeout_ms = 30000};
    struct vf_store *s;
    char err[VF_STORE_ERR_LEN];
    if (vf_store_create(&sc, &s, err, sizeof(err)))
        die("client", err);
    return s;
}

/* Makes the store's fabric m (vfabctl apply's path); *rev: the revision
 * after, *parts: txns. Returns the seconds it took. With t_send, the clock
 * starts at the first txn's send (after reading and validating). */
static double write_model(struct vf_store *s, const struct sim_cfg *cfg,
                          const struct vf_desired *d, const struct vf_model *m,
                          int64_t *rev, size_t *parts, int64_t *t_send)
{
    struct vf_layout_kvs want;
    struct vf_layout_change c;
    struct vf_desired_result res;
    size_t *ends, n;
    char err[4096];
    int64_t t0 = sim_now_ns();
    if (vf_layout_from_model(m, &want, err, sizeof(err)))
        die("fabric", err);
    if (vf_layout_diff(&d->kvs, &want, &c))
        die("diff", "out of memory");
    struct vf_layout_limits lim = {.reserved_ops = VF_DESIRED_TXN_OPS,
                                   .reserved_bytes = VF_DESIRED_TXN_BYTES,
                                   .key_prefix_len = strlen(cfg->prefix) + 8};
    if (vf_layout_plan(&d->kvs, &c, &lim, &ends, &n, err, sizeof(err)))
        die("plan", err);
    if (t_send)
        *t_send = sim_now_ns();
    if (n && vf_desired_commit(s, cfg->prefix, d, &c, ends, n, &res, err, sizeof(err)))
        die("commit", err);
    *rev = n ? res.revision : d->revision;
    *parts = n;
    free(ends);
    vf_layout_change_free(&c);
    vf_layout_kvs_free(&want);
    return (double)(sim_now_ns() - t0) / 1e9;
}

static void read_model(struct vf_store *s, const struct sim_cfg *cfg, struct vf_desired *d,
                       struct vf_model *m)
{
    char err[4096];
    if (vf_desired_read(s, cfg->prefix, d, err, sizeof(err)))
        die("read", err);
    if (m && vf_layout_to_model(&d->kvs, 0, cfg->prefix, m, err, sizeof(err)))
        die("the store's fabric", err);
}

/* ---- waiting on the chassis ---- */

static unsigned n_failed(struct sim_chassis *cs, unsigned n)
{
    unsigned f = 0;
    for (unsigned i = 0; i < n; i++)
        f += atomic_load_explicit(&cs[i].failed, memory_order_acquire) != 0;
    return f;
}

static void report_failures(struct sim_chassis *cs, unsigned n)
{
    unsigned shown = 0;
    for (unsigned i = 0; i < n && shown < 5; i++)
        if (atomic_load_explicit(&cs[i].failed, memory_order_acquire)) {
            fprintf(stderr, "vfab-sim: %s\n", cs[i].err);
            shown++;
        }
}

/* The latency to every live chassis, and each one's, of what reached
 * revision rev (sent at ts): appended to *worst (when all got there in
 * time: ok) and per[] (those that did). */
static bool collect(struct sim_chassis *cs, unsigned n, int64_t ts, int64_t rev, bool ok,
                    int64_t *worst, size_t *nw, int64_t *per, size_t *np)
{
    int64_t last = 0;
    for (unsigned i = 0; i < n; i++) {
        if (atomic_load_explicit(&cs[i].failed, memory_order_acquire) ||
            atomic_load_explicit(&cs[i].done_rev, memory_order_acquire) < rev)
            continue;
        int64_t t = atomic_load_explicit(&cs[i].done_ns, memory_order_relaxed) - ts;
        per[(*np)++] = t;
        if (t > last)
            last = t;
    }
    if (ok)
        worst[(*nw)++] = last;
    return ok;
}

/* Until every live chassis has processed revision rev (or failed). */
static bool wait_rev(struct sim_chassis *cs, unsigned n, int64_t rev, int skip, unsigned secs)
{
    int64_t end = sim_now_ns() + (int64_t)secs * 1000000000;
    for (;;) {
        unsigned behind = 0;
        for (unsigned i = 0; i < n; i++)
            if ((int)i != skip && !atomic_load_explicit(&cs[i].failed, memory_order_acquire) &&
                atomic_load_explicit(&cs[i].done_rev, memory_order_acquire) < rev)
                behind++;
        if (!behind)
            return true;
        if (sim_now_ns() > end)
            return false;
        usleep(2000);
    }
}

int main(int argc, char **argv)
{
    struct sim_cfg cfg = {.n_chassis = 100, .n_switches = 1000, .n_ports = 10000,
                          .tenant_switches = 10, .ttl_s = 10, .threads = 1, .adds = 20};
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'}, {"chassis", required_argument, 0, 'n'},
        {"switches", required_argument, 0, 's'}, {"ports", required_argument, 0, 'p'},
        {"tenant-switches", required_argument, 0, 'T'}, {"ttl", required_argument, 0, 'l'},
        {"threads", required_argument, 0, 't'}, {"adds", required_argument, 0, 'a'},
        {"etcd-pid", required_argument, 0, 'P'}, {"prefix", required_argument, 0, 'x'},
        {"wait", required_argument, 0, 'w'}, {"add-wait", required_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    int c;
    setvbuf(stdout, NULL, _IOLBF, 0);    /* phases show as they end, also into a file */
    snprintf(cfg.prefix, sizeof(cfg.prefix), "/vfab-sim/");
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': cfg.endpoints = optarg; break;
        case 'n': cfg.n_chassis = (unsigned)atoi(optarg); break;
        case 's': cfg.n_switches = (unsigned)atoi(optarg); break;
        case 'p': cfg.n_ports = (unsigned)atoi(optarg); break;
        case 'T': cfg.tenant_switches = (unsigned)atoi(optarg); break;
        case 'l': cfg.ttl_s = (unsigned)atoi(optarg); break;
        case 't': cfg.threads = (unsigned)atoi(optarg); break;
        case 'a': cfg.adds = (unsigned)atoi(optarg); break;
        case 'P': etcd_pid = atol(optarg); break;
        case 'x': snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", optarg); break;
        case 'w': wait_s = (unsigned)atoi(optarg); break;
        case 'W': add_wait_s = (unsigned)atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cfg.endpoints || cfg.n_chassis < 2 || !cfg.n_switches || cfg.ttl_s < 2 ||
        cfg.adds > 250 || cfg.n_ports / cfg.n_switches > 60000) {
        usage(stderr);
        return 2;
    }
    char victim[VF_NAME_MAX];
    unsigned vi = cfg.n_chassis / 2;
    snprintf(victim, sizeof(victim), "hv%u", vi + 1);
    cfg.victim = victim;
    if (etcd_pid > 0)
        res_of(etcd_pid, &etcd0);
    res_of(-1, &sim0);

    /* ---- load ---- */
    struct vf_store *w = writer(&cfg);
    struct vf_desired d;
    struct vf_model fab;
    char *yaml, err[4096];
    int64_t rev;
    size_t parts;
    if (sim_fabric_yaml(&cfg, &yaml))
        die("fabric", "out of memory");
    if (vf_config_load_string(yaml, strlen(yaml), &fab, err, sizeof(err)))
        die("fabric", err);
    free(yaml);
    read_model(w, &cfg, &d, NULL);
    double load_s = write_model(w, &cfg, &d, &fab, &rev, &parts, NULL);
    vf_desired_free(&d);
    vf_model_free(&fab);
    printf("vfab-sim: %u chassis, %u switches, %u ports (tenants of %u switches), lease TTL "
           "%u s, %u loop thread%s\n", cfg.n_chassis, cfg.n_switches, cfg.n_ports,
           cfg.tenant_switches, cfg.ttl_s, cfg.threads, cfg.threads == 1 ? "" : "s");
    printf("load      %.1f s: %zu txns through the northbound path (revision %" PRId64 ")\n",
           load_s, parts, rev);
    phase_res("load");

    /* ---- cold start ---- */
    struct sim_chassis *cs = calloc(cfg.n_chassis, sizeof(*cs));
    if (!cs)
        die("chassis", "out of memory");
    for (unsigned i = 0; i < cfg.n_chassis; i++)
        if (sim_chassis_init(&cs[i], &cfg, i))
            die("chassis", "out of memory");
    int64_t t0 = sim_now_ns();
    if (sim_loop_start(cs, cfg.n_chassis, cfg.threads))
        die("threads", strerror(errno));
    int64_t end = t0 + (int64_t)wait_s * 1000000000, *lat = calloc(cfg.n_chassis *
                                                                   (size_t)(cfg.adds + 1),
                                                                   sizeof(*lat));
    if (!lat)
        die("latencies", "out of memory");
    for (;;) {
        unsigned done = 0;
        for (unsigned i = 0; i < cfg.n_chassis; i++)
            done += atomic_load_explicit(&cs[i].compiled_ns, memory_order_acquire) != 0 ||
                    atomic_load_explicit(&cs[i].failed, memory_order_acquire);
        if (done == cfg.n_chassis || sim_now_ns() > end)
            break;
        usleep(10000);
    }
    size_t nl = 0;
    for (unsigned i = 0; i < cfg.n_chassis; i++) {
        int64_t t = atomic_load_explicit(&cs[i].compiled_ns, memory_order_acquire);
        if (t)
            lat[nl++] = t - t0;
    }
    unsigned failed = n_failed(cs, cfg.n_chassis);
    printf("cold      %.2f s until all %zu chassis compiled (p50 %.2f s)%s\n",
           pct_ms(lat, nl, 100) / 1e3, nl, pct_ms(lat, nl, 50) / 1e3,
           failed ? " -- some failed:" : "");
    if (failed)
        report_failures(cs, cfg.n_chassis);
    /* Every chassis has seen every registration before anything is timed. */
    read_model(w, &cfg, &d, NULL);
    int64_t settle_rev = d.revision;
    vf_desired_free(&d);
    {
        struct vf_store_result r = {0};
        char key[256];
        snprintf(key, sizeof(key), "%schassis/", cfg.prefix);
        struct vf_store_range_req q = {.key = key, .prefix = true, .count_only = true};
        if (!vf_store_range(w, &q, &r) && !r.rc && r.revision > settle_rev)
            settle_rev = r.revision;
        vf_store_result_clear(&r);
    }
    bool settled = wait_rev(cs, cfg.n_chassis, settle_rev, -1, wait_s);
    printf("settle    %.2f s after the start, every chassis at revision %" PRId64 "%s\n",
           (double)(sim_now_ns() - t0) / 1e9, settle_rev, settled ? "" : " (timed out)");
    phase_res("cold");

    /* ---- port adds ---- */
    int64_t *worst = calloc(cfg.adds + 1, sizeof(*worst));
    int64_t *pworst = calloc(cfg.adds + 1, sizeof(*pworst));
    int64_t *plat = calloc(cfg.n_chassis * (size_t)(cfg.adds + 1), sizeof(*plat));
    if (!worst || !pworst || !plat)
        die("latencies", "out of memory");
    size_t nw = 0, npw = 0, npl = 0;
    char ping[256];
    snprintf(ping, sizeof(ping), "%sping", cfg.prefix);
    nl = 0;
    srand(42);
    for (unsigned k = 0; k < cfg.adds; k++) {
        struct vf_model cur, next;
        unsigned s = (unsigned)rand() % cfg.n_switches, ch = (unsigned)rand() % cfg.n_chassis;
        char name[32], mac[32], ip[32], sw[32], chn[32];
        snprintf(name, sizeof(name), "added%u", k);
        snprintf(mac, sizeof(mac), "02:01:%02x:%02x:00:%02x", s >> 8, s & 255, k);
        snprintf(ip, sizeof(ip), "10.%u.254.%u", s % cfg.tenant_switches, k + 1);
        snprintf(sw, sizeof(sw), "sw%u", s);
        if (ch == vi)            /* not on the chassis the kill phase stops */
            ch = (ch + 1) % cfg.n_chassis;
        snprintf(chn, sizeof(chn), "hv%u", ch + 1);
        json_t *spec = json_pack("{s:s, s:{s:s, s:s, s:[s], s:s, s:{s:s}}}", "switch", sw,
                                 "port", "name", name, "mac", mac, "ips", ip, "chassis", chn,
                                 "attach", "type", "ring");
        /* The baseline: a put every chassis hears and none compiles. */
        struct vf_store_result pr = {0};
        char pv[16];
        snprintf(pv, sizeof(pv), "%u", k);
        int64_t tp = sim_now_ns();
        if (vf_store_put(w, ping, pv, strlen(pv), 0, &pr) || pr.rc)
            die("ping", pr.error[0] ? pr.error : "put failed");
        collect(cs, cfg.n_chassis, tp, pr.revision, wait_rev(cs, cfg.n_chassis, pr.revision, -1,
                add_wait_s), pworst, &npw, plat, &npl);
        vf_store_result_clear(&pr);
        read_model(w, &cfg, &d, &cur);
        if (vf_model_edit(&cur, VF_EDIT_ADD, "port", spec, false, &next, err, sizeof(err)))
            die("add", err);
        int64_t ts;
        write_model(w, &cfg, &d, &next, &rev, &parts, &ts);
        collect(cs, cfg.n_chassis, ts, rev, wait_rev(cs, cfg.n_chassis, rev, -1, add_wait_s), worst,
                &nw, lat, &nl);
        json_decref(spec);
        vf_model_free(&cur);
        vf_model_free(&next);
        vf_desired_free(&d);
    }
    double a50 = pct_ms(worst, nw, 50), a99 = pct_ms(worst, nw, 99);
    double p50 = pct_ms(pworst, npw, 50), p99 = pct_ms(pworst, npw, 99);
    printf("ping      until every chassis has it: p50 %.0f ms, p99 %.0f ms (%zu of %u puts); "
           "per chassis: p50 %.0f ms, p99 %.0f ms  (baseline)\n", p50, p99, npw, cfg.adds,
           pct_ms(plat, npl, 50), pct_ms(plat, npl, 99));
    printf("add       until every chassis has it: p50 %.0f ms, p99 %.0f ms (%zu of %u adds); "
           "per chassis: p50 %.0f ms, p99 %.0f ms  (%.2f x / %.2f x baseline)\n", a50, a99,
           nw, cfg.adds, pct_ms(lat, nl, 50), pct_ms(lat, nl, 99), p50 > 0 ? a50 / p50 : 0,
           p99 > 0 ? a99 / p99 : 0);
    phase_res("add");

    /* ---- kill one ---- */
    /* Only the DELETE that follows the kill counts (a record can go
     * before, when a starved chassis lost its lease and put it again). */
    for (unsigned i = 0; i < cfg.n_chassis; i++)
        atomic_store_explicit(&cs[i].dropped_ns, 0, memory_order_relaxed);
    t0 = sim_now_ns();
    atomic_store_explicit(&cs[vi].kill, 1, memory_order_release);   /* thread: acquire */
    vf_store_wakeup(cs[vi].s);
    end = t0 + (int64_t)(cfg.ttl_s + 60) * 1000000000;
    for (;;) {
        unsigned seen = 0;
        for (unsigned i = 0; i < cfg.n_chassis; i++)
            seen += i != vi && (atomic_load_explicit(&cs[i].dropped_ns, memory_order_acquire) ||
                                atomic_load_explicit(&cs[i].failed, memory_order_acquire));
        if (seen == cfg.n_chassis - 1 || sim_now_ns() > end)
            break;
        usleep(10000);
    }
    nl = 0;
    for (unsigned i = 0; i < cfg.n_chassis; i++) {
        int64_t t = atomic_load_explicit(&cs[i].dropped_ns, memory_order_acquire);
        if (i != vi && t)
            lat[nl++] = t - t0;
    }
    while (atomic_load_explicit(&cs[vi].kill, memory_order_acquire) != 2)
        usleep(1000);
    int64_t left = atomic_load_explicit(&cs[vi].lease_left_ms, memory_order_relaxed);
    double all_s = pct_ms(lat, nl, 100) / 1e3;
    printf("kill      %s: %zu of %u others dropped it after %.2f s (p50 %.2f s); its lease "
           "had %.2f s left, so %.2f s after expiry\n", victim, nl, cfg.n_chassis - 1, all_s,
           pct_ms(lat, nl, 50) / 1e3, (double)left / 1e3, all_s - (double)left / 1e3);
    phase_res("kill");
    failed = n_failed(cs, cfg.n_chassis);
    if (failed) {
        printf("failed    %u chassis\n", failed);
        report_failures(cs, cfg.n_chassis);
    }
    unsigned long compiles = 0, fetches = 0, events = 0, retries = 0, reregs = 0;
    sim_loop_stop();
    for (unsigned i = 0; i < cfg.n_chassis; i++) {
        compiles += cs[i].compiles;
        fetches += cs[i].fetches;
        events += cs[i].events;
        retries += cs[i].retries;
        reregs += cs[i].reregs;
        sim_chassis_fini(&cs[i]);
    }
    printf("totals    %lu compiles, %lu switch reads after start, %lu watch events, %lu "
           "steps tried again (etcd busy), %lu leases lost and registered again\n", compiles,
           fetches, events, retries, reregs);
    free(cs);
    free(lat);
    free(worst);
    free(pworst);
    free(plat);
    vf_store_destroy(w);
    return failed ? 1 : 0;
}
