/* stress_churn.c - vfab-stress: a whole vfabd in-process under load.
 *
 * Scenarios (one per run, chosen by the first argument):
 *   churn  model changes at --rate per second for --duration seconds while a
 *          generator thread forwards traffic; every frame carries its
 *          intended destination port and a per-(source, destination)
 *          sequence number, and every received frame is checked: zero lost,
 *          zero misdelivered, zero out of order is the pass condition.
 *          Reports apply latency (vf_daemon_apply alone) and visible latency
 *          (apply start until every worker's stats.generation reaches the
 *          new generation), p50/p99/max.
 *   flows  flow-cache thrash: traffic over F distinct 5-tuples for each F in
 *          --flows (default 1,1000,10000,100000,1000000), packets/s and RSS
 *          per step; the flow cache is fixed-size, so RSS must stay flat.
 *   bad    mixed bad traffic: --bad-share of the frames are runts, truncated
 *          IPv4, bad IPv4 version or spoofed source MACs; good frames must
 *          all arrive and every bad one must be counted under its reason.
 *   soak   churn at a low rate plus traffic for --duration seconds, RSS and
 *          counters sampled every second (flatness reported).
 *   scale  the same traffic with 1..--max-workers workers, packets/s each.
 *   latency  one frame at a time with --gap-us between frames (a ping, not
 *          a flood): how long from the inject until the frame is in the
 *          destination's tx ring, p50/p99/max, with the worker and the
 *          generator on cores of their own where there are two. Without
 *          --perf the worker has vfabd's default tuning (it sleeps after
 *          1024 empty polls), so a perf config's latency claim is measured
 *          against that default.
 * Generators: one thread (every scenario but scale) or one per worker
 * (scale, so that the generator is not what stops scaling). Each generator
 * owns a lane: it is the only producer of its source ports' rx rings and
 * the only consumer of its tx queues of the destination ports (worker w
 * transmits on queue w, so the lane of worker w's sources drains queue w),
 * and it keeps at most WINDOW frames in flight, so a full ring can never
 * lose a frame.
 * Output: a JSON document on stdout (or --json FILE); exit 1 when a
 * correctness check failed. Bounded: every loop has a deadline.
 */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_perfconfig.h"
#include "numa/vf_drop.h"
#include "numa/vf_heap.h"
#include "tests/unit/vf_test_pkt.h"

#define N_DST 4
#define MAX_SRC 16
#define MAX_GEN MAX_SRC
#define WINDOW 512
#define FRAME_LEN 58       /* eth 14 + ipv4 20 + udp 8 + payload 16 */
#define PL_OFF 42
#define MAGIC 0x56464142u  /* "VFAB" */

enum bad_kind { BAD_RUNT, BAD_IP4_TRUNC, BAD_IP4_VERSION, BAD_SPOOF, BAD__COUNT };
static const unsigned bad_reason[BAD__COUNT] = {
    VF_DROP_RUNT, VF_DROP_IP4_TRUNC, VF_DROP_IP4_BAD_VERSION, VF_DROP_PORT_SECURITY};
static const char *const bad_name[BAD__COUNT] = {"runt", "ipv4_truncated",
                                                 "ipv4_bad_version", "spoofed_mac"};

struct opts {
    const char *scenario;
    double rate, duration, bad_share;
    unsigned workers, max_workers;
    const char *json_out;
    const char *perf;
    unsigned long flows[16];
    unsigned n_flows;
    unsigned pings;
    double gap_us;
};

/* One generator's lane: owned by its thread while it runs. Source indices
 * (templates, sequence numbers, the payload's source field) are global, so
 * lanes never share a (source, destination) pair. */
struct gen {
    struct vf_port *src[MAX_SRC], *dst[N_DST];
    unsigned src_id[MAX_SRC];    /* global index of this lane's source i */
    unsigned n_src, n_src_total; /* this lane's sources; all sources */
    unsigned q_first, n_q;       /* the destination tx queues it drains */
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    uint8_t tmpl[MAX_SRC][N_DST][FRAME_LEN];
    unsigned long flows;         /* distinct 5-tuples (sport x dport) */
    double bad_share;
    bool yield;                  /* shares cores with workers: yield when stalled */
    int cpu;                     /* the CPU it is pinned to, -1: not pinned */
    /* latency mode (pings > 0): one frame at a time, gap_us apart */
    unsigned pings;
    double gap_us;
    double *lat_us;              /* pings slots */
    unsigned lat_n, lat_lost;
    _Atomic bool stop;
    _Atomic bool pause;          /* flows/scale: between steps */
    /* results; read by main after join or with relaxed loads */
    _Atomic uint64_t sent, received, lost_checked;
    uint64_t misdelivered, out_of_order, bad_sent[BAD__COUNT];
    uint32_t next_seq[MAX_SRC][N_DST], rx_seq[MAX_SRC][N_DST];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A field of /proc/self/status in KiB ("VmRSS:", "RssAnon:", ...), -1 if
 * absent. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(field);
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, field, n))
            kb = strtol(line + n, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static long rss_kb(void)
{
    return status_kb("VmRSS:");
}

static void mac_of(uint8_t mac[6], unsigned kind, unsigned i)
{
    const uint8_t m[6] = {2, 0, 0, (uint8_t)kind, 0, (uint8_t)(i + 1)};
    memcpy(mac, m, 6);
}

/* The state: sources s0.. and destinations d0.. on hv1, port security on,
 * plus `extra` (the churned part). */
static unsigned g_acl_rules;   /* --acl-rules: extra never-matching ACLs */

static char *state_yaml(unsigned n_src, unsigned workers, unsigned variant)
{
    size_t cap = 16384 + (size_t)g_acl_rules * 160, off = 0;
    char *y = malloc(cap);
    off += (size_t)snprintf(y + off, cap - off,
        "chassis:\n  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
        "  - {name: hv2, underlay_ip: 192.0.2.2, encap: geneve}\n"
        "tenants:\n  - name: blue\n    switches:\n      - name: web\n"
        "        vni: 100\n        ports:\n");
    for (unsigned i = 0; i < n_src; i++)
        off += (size_t)snprintf(y + off, cap - off,
            "          - {name: s%u, mac: '02:00:00:01:00:%02x', ips: [10.0.1.%u], "
            "chassis: hv1, port_security: true}\n", i, i + 1, i + 1);
    for (unsigned i = 0; i < N_DST; i++)
        off += (size_t)snprintf(y + off, cap - off,
            "          - {name: d%u, mac: '02:00:00:02:00:%02x', ips: [10.0.2.%u], "
            "chassis: hv1}\n", i, i + 1, i + 1);
    /* The churn: a port that comes and goes (a ring port opened and closed),
     * a remote port, and an ACL whose priority moves, so every change
     * recompiles L2, port and ACL tables. */
    if (variant % 2)
        off += (size_t)snprintf(y + off, cap - off,
            "          - {name: c%u, mac: '02:00:00:03:00:01', ips: [10.0.3.1], chassis: hv1}\n",
            variant % 7);
    off += (size_t)snprintf(y + off, cap - off,
        "          - {name: r%u, mac: '02:00:00:04:00:%02x', ips: [10.0.4.%u], chassis: hv2}\n"
        "    acls:\n      - {switch: web, direction: to-port, priority: %u, action: drop,"
        " match: {proto: tcp, dst_port: 22}}\n",
        variant % 5, variant % 5 + 1, variant % 5 + 1, 100 + variant % 50);
    /* --acl-rules: rules the traffic never matches (TCP from 172.16/12,
     * the traffic is UDP from 10/8) with many different masks (prefix
     * lengths 8..32, with and without a port), so that a flow-cache miss
     * pays for a real classification, as on a host with many tenants. */
    for (unsigned i = 0; i < g_acl_rules; i++) {
        unsigned len = 8 + i % 25;
        uint32_t a = 0xac100000u | (i * 2654435761u >> 12);   /* 172.16/12 */
        a &= len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
        off += (size_t)snprintf(y + off, cap - off,
            "      - {switch: web, direction: from-port, priority: %u, action: drop,"
            " match: {proto: tcp, src_ip: '%u.%u.%u.%u/%u'%s%u}}\n",
            200 + i % 60000, a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, len,
            i % 2 ? ", dst_port: " : ", src_port: ", 1 + i % 65535);
    }
    off += (size_t)snprintf(y + off, cap - off,
        "local: {chassis: hv1, workers: %u, uplink: {type: ring}}\n", workers);
    return y;
}

static int load_state(unsigned n_src, unsigned workers, unsigned variant,
                      struct vf_model *m)
{
    char *y = state_yaml(n_src, workers, variant), err[1024];
    int rc = vf_config_load_string(y, strlen(y), m, err, sizeof(err));
    if (rc)
        fprintf(stderr, "vfab-stress: state: %s\n", err);
    free(y);
    return rc;
}

static void build_templates(struct gen *g)
{
    for (unsigned s = 0; s < g->n_src_total; s++)
        for (unsigned d = 0; d < N_DST; d++) {
            struct vf_tpkt t;
            vf_tpkt_init(&t);
            mac_of(t.eth_src, 1, s);
            mac_of(t.eth_dst, 2, d);
            t.ip4_src = 0x0a000100u + s + 1;
            t.ip4_dst = 0x0a000200u + d + 1;
            t.sport = 1000;
            t.dport = 2000;
            uint8_t pl[16] = {0};
            t.payload = pl;
            t.payload_len = sizeof(pl);
            size_t n = vf_tpkt_ip4_udp(g->tmpl[s][d], FRAME_LEN, &t);
            if (n != FRAME_LEN)
                abort();
            g->tmpl[s][d][40] = g->tmpl[s][d][41] = 0;   /* UDP csum 0: patched */
        }
}

/* One frame: good (magic, src, dst, seq) or one of the bad kinds. */
static struct vf_pkt *make_frame(struct gen *g, unsigned s, unsigned d,
                                 uint64_t i, int bad)   /* s: global index */
{
    struct vf_pkt *p = vf_pool_alloc(&g->cache);
    if (!p)
        return NULL;
    uint8_t f[FRAME_LEN];
    memcpy(f, g->tmpl[s][d], FRAME_LEN);
    unsigned len = FRAME_LEN;
    uint32_t w[4] = {MAGIC, s, d, g->next_seq[s][d]};
    if (g->flows > 1) {
        unsigned long k = i % g->flows;
        uint16_t sp = (uint16_t)(1024 + k % 1024), dp = (uint16_t)(2048 + k / 1024);
        f[34] = (uint8_t)(sp >> 8); f[35] = (uint8_t)sp;
        f[36] = (uint8_t)(dp >> 8); f[37] = (uint8_t)dp;
    }
    switch (bad) {
    case BAD_RUNT: len = 10; break;
    case BAD_IP4_TRUNC: len = 30; break;
    case BAD_IP4_VERSION: f[14] = 0x65; w[0] = 0; break;
    case BAD_SPOOF: f[11] ^= 0x40; w[0] = 0; break;
    default: break;
    }
    memcpy(f + PL_OFF, w, sizeof(w));
    vf_pkt_set(p, f, len);
    return p;
}

static void check_rx(struct gen *g, unsigned d, struct vf_pkt *p)
{
    const uint8_t *f = vf_pkt_data(p);
    uint32_t w[4];
    if (p->len < FRAME_LEN) {
        g->misdelivered++;
        return;
    }
    memcpy(w, f + PL_OFF, sizeof(w));
    if (w[0] != MAGIC || w[1] >= g->n_src_total || w[2] != d) {
        g->misdelivered++;
        return;
    }
    if (w[3] != g->rx_seq[w[1]][d])
        g->out_of_order++;
    g->rx_seq[w[1]][d] = w[3] + 1;
    atomic_fetch_add_explicit(&g->received, 1, memory_order_relaxed);
}

static unsigned drain_all(struct gen *g)
{
    struct vf_pkt *pk[64];
    unsigned total = 0;
    for (unsigned d = 0; d < N_DST; d++)
        for (unsigned q = g->q_first; q < g->q_first + g->n_q; q++) {
            unsigned n = vf_ring_port_drain(g->dst[d], q, pk, 64);
            for (unsigned k = 0; k < n; k++)
                check_rx(g, d, pk[k]);
            vf_pool_free_burst(&g->cache, pk, n);
            total += n;
        }
    return total;
}

/* Latency mode: one frame in flight, a gap between frames, so the worker
 * may fall asleep between them as it would between pings. A frame not seen
 * within 100 ms is counted lost and the run goes on. */
static void *lat_main(struct gen *g)
{
    uint64_t i = 0;
    for (unsigned k = 0; k < g->pings && g->n_src; k++) {
        double next = now_s() + g->gap_us / 1e6;
        while (now_s() < next &&
               !atomic_load_explicit(&g->stop, memory_order_acquire))
            ;   /* spin: a sleep's timer slack would be the gap's error */
        unsigned s = g->src_id[0], d = (unsigned)(k % N_DST);
        struct vf_pkt *p = make_frame(g, s, d, i++, -1);
        if (!p)
            break;
        double t0 = now_s();
        if (vf_ring_port_inject(g->src[0], 0, &p, 1) != 1) {
            vf_pool_free(&g->cache, p);
            break;
        }
        uint32_t want = ++g->next_seq[s][d];
        atomic_store_explicit(&g->sent, atomic_load(&g->sent) + 1, memory_order_relaxed);
        /* This very frame: check_rx moves rx_seq past its sequence number
         * (a late earlier frame of the pair does not). */
        while (g->rx_seq[s][d] != want && now_s() - t0 < 0.1)
            drain_all(g);
        double t1 = now_s();
        if (g->rx_seq[s][d] == want)
            g->lat_us[g->lat_n++] = (t1 - t0) * 1e6;
        else
            g->lat_lost++;
    }
    double end = now_s() + 1.0;
    while (atomic_load(&g->sent) > atomic_load(&g->received) && now_s() < end)
        drain_all(g);
    return NULL;
}

static void *gen_main(void *arg)
{
    struct gen *g = arg;
    if (g->pings)
        return lat_main(g);
    uint64_t i = 0, good_sent = 0;
    uint64_t rnd = 0x9e3779b97f4a7c15ull;
    while (!atomic_load_explicit(&g->stop, memory_order_acquire)) {
        unsigned got = drain_all(g);
        if (atomic_load_explicit(&g->pause, memory_order_acquire)) {
            usleep(100);
            continue;
        }
        uint64_t inflight = good_sent - atomic_load_explicit(&g->received,
                                                             memory_order_relaxed);
        if (inflight >= WINDOW) {
            /* Nothing to do until a worker forwards: on a core it shares
             * with that worker, spinning here would only delay it. */
            if (!got && g->yield)
                sched_yield();
            continue;
        }
        for (unsigned k = 0; k < 32; k++, i++) {
            if (!g->n_src)
                break;   /* a lane whose worker got no source: drains only */
            unsigned si = (unsigned)(i % g->n_src), d = (unsigned)((i / g->n_src) % N_DST);
            unsigned s = g->src_id[si];
            int bad = -1;
            rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17;
            if (g->bad_share > 0 && (double)(rnd % 1000000) / 1e6 < g->bad_share)
                bad = (int)((rnd >> 20) % BAD__COUNT);
            struct vf_pkt *p = make_frame(g, s, d, i, bad);
            if (!p)
                break;
            if (vf_ring_port_inject(g->src[si], 0, &p, 1) != 1) {
                vf_pool_free(&g->cache, p);
                break;
            }
            if (bad >= 0) {
                g->bad_sent[bad]++;
            } else {
                g->next_seq[s][d]++;
                good_sent++;
                atomic_store_explicit(&g->sent, good_sent, memory_order_relaxed);
            }
        }
    }
    /* Let the workers finish what is in flight (bounded: 2 s). */
    double end = now_s() + 2.0;
    while (good_sent > atomic_load(&g->received) && now_s() < end)
        drain_all(g);
    return NULL;
}

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return v[k];
}

struct run {
    struct vf_daemon d;
    struct gen g[MAX_GEN];
    pthread_t thr[MAX_GEN];
    unsigned n_gen;
    unsigned workers, n_src;
    unsigned variant;
};

/* Totals over every lane. */
static uint64_t run_sent(struct run *r)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < r->n_gen; i++)
        n += ld(&r->g[i].sent);
    return n;
}
static uint64_t run_received(struct run *r)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < r->n_gen; i++)
        n += ld(&r->g[i].received);
    return n;
}
/* After run_join only (plain fields of the lanes). */
static uint64_t run_misdelivered(const struct run *r)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < r->n_gen; i++)
        n += r->g[i].misdelivered;
    return n;
}
static uint64_t run_out_of_order(const struct run *r)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < r->n_gen; i++)
        n += r->g[i].out_of_order;
    return n;
}
static uint64_t run_bad_sent(const struct run *r, unsigned k)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < r->n_gen; i++)
        n += r->g[i].bad_sent[k];
    return n;
}
static void run_pause(struct run *r, bool on)
{
    for (unsigned i = 0; i < r->n_gen; i++)
        atomic_store(&r->g[i].pause, on);
}
/* Stops the generators and waits for them (each drains what is in flight). */
static void run_join(struct run *r)
{
    for (unsigned i = 0; i < r->n_gen; i++)
        atomic_store(&r->g[i].stop, true);
    for (unsigned i = 0; i < r->n_gen; i++)
        pthread_join(r->thr[i], NULL);
}
/* After run_join: the daemon, then the generators' pools (the daemon's
 * rings may still hold their packets until it stops). */
static void run_finish(struct run *r)
{
    vf_daemon_stop(&r->d);
    for (unsigned i = 0; i < r->n_gen; i++) {
        vf_pool_cache_flush(&r->g[i].cache);
        vf_pool_destroy(r->g[i].pool);
        free(r->g[i].lat_us);
        r->g[i].lat_us = NULL;
    }
}

/* Pins generator thread i to the i-th core that no worker has, when there
 * is one, so it measures the workers, not the scheduler; otherwise the
 * scheduler places it. */
static void pin_generator(struct run *r, unsigned i)
{
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    unsigned free_seen = 0;
    for (int cpu = 0; cpu < ncpu && cpu < CPU_SETSIZE; cpu++) {
        bool used = false;
        for (unsigned w = 0; w < r->d.n_workers; w++)
            used |= r->d.place.cpu[w] == cpu;
        if (used || free_seen++ < i)
            continue;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (pthread_setaffinity_np(r->thr[i], sizeof(set), &set) == 0)
            r->g[i].cpu = cpu;
        return;
    }
}

/* Starts a daemon with `workers` workers and the generators: one that owns
 * every source and queue, or (per_worker) one per worker owning the
 * sources that worker receives and the queue it transmits on. */
static int run_start(struct run *r, const struct opts *o, unsigned workers,
                     bool per_worker)
{
    char err[1024];
    struct vf_model m;
    r->workers = workers;
    r->n_src = workers < MAX_SRC ? workers : MAX_SRC;
    if (load_state(r->n_src, workers, 0, &m))
        return -EINVAL;
    /* Busy workers measure the forwarder; the latency scenario keeps
     * vfabd's default (sleep after 1024 empty polls) unless --perf. */
    struct vf_daemon_opts dop = {.pool_bufs = 16384, .ring_size = 1024,
                                 .flow_cache_entries = 65536,
                                 .idle_polls = o->pings ? 1024 : 0};
    if (o->perf) {
        struct vf_perfconfig pc;
        if (vf_perfconfig_load(o->perf, &pc, err, sizeof(err))) {
            fprintf(stderr, "vfab-stress: %s\n", err);
            vf_model_free(&m);
            return -EINVAL;
        }
        vf_perfconfig_to_opts(&pc, &dop);
        dop.has_workers = false;   /* the scenario decides the worker count */
    }
    int rc = vf_daemon_start(&r->d, &m, &dop, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "vfab-stress: start: %s\n", err);
        return rc;
    }
    r->n_gen = per_worker ? r->d.n_workers : 1;
    if (r->n_gen > MAX_GEN)
        r->n_gen = MAX_GEN;
    char name[16];
    for (unsigned i = 0; i < r->n_gen; i++) {
        struct gen *g = &r->g[i];
        memset(g, 0, sizeof(*g));
        g->n_src_total = r->n_src;
        g->cpu = -1;
        g->q_first = per_worker ? i : 0;
        g->n_q = per_worker ? 1 : r->d.n_workers;
        g->bad_share = o->bad_share;
        g->flows = 1;
        g->yield = (int)(r->d.n_workers + r->n_gen) > (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (o->pings && !per_worker) {
            g->pings = o->pings;
            g->gap_us = o->gap_us;
            g->lat_us = calloc(o->pings, sizeof(double));
            if (!g->lat_us) {
                vf_daemon_stop(&r->d);
                return -ENOMEM;
            }
        }
        for (unsigned s = 0; s < r->n_src; s++) {
            snprintf(name, sizeof(name), "s%u", s);
            struct vf_daemon_port *dp = vf_daemon_find_port(&r->d, name);
            if (per_worker && dp->rx_worker != i)
                continue;
            g->src_id[g->n_src] = s;
            g->src[g->n_src++] = dp->port;
        }
        for (unsigned d = 0; d < N_DST; d++) {
            snprintf(name, sizeof(name), "d%u", d);
            g->dst[d] = vf_daemon_find_port(&r->d, name)->port;
        }
        g->pool = vf_pool_create(NULL, -1, 8192, VF_PKT_DEFAULT_DATA_ROOM, err, sizeof(err));
        if (!g->pool) {
            fprintf(stderr, "vfab-stress: generator pool: %s\n", err);
            for (unsigned k = 0; k < i; k++) {
                vf_pool_cache_flush(&r->g[k].cache);
                vf_pool_destroy(r->g[k].pool);
                free(r->g[k].lat_us);
            }
            free(g->lat_us);
            vf_daemon_stop(&r->d);
            return -ENOMEM;
        }
        vf_pool_cache_init(&g->cache, g->pool);
        build_templates(g);
    }
    for (unsigned i = 0; i < r->n_gen; i++) {
        int rc2 = -pthread_create(&r->thr[i], NULL, gen_main, &r->g[i]);
        if (rc2) {
            unsigned all = r->n_gen;
            r->n_gen = i;   /* join what started, then free everything */
            run_join(r);
            r->n_gen = all;
            run_finish(r);
            return rc2;
        }
        pin_generator(r, i);
    }
    return 0;
}

/* One change: the next variant of the state. Returns apply and visible
 * latency in microseconds; -1 on error. */
static int churn_once(struct run *r, double *apply_us, double *visible_us)
{
    struct vf_model m;
    char err[1024];
    if (load_state(r->n_src, r->workers, ++r->variant, &m))
        return -1;
    double t0 = now_s();
    int rc = vf_daemon_apply(&r->d, &m, err, sizeof(err));
    double t1 = now_s();
    vf_model_free(&m);
    if (rc) {
        fprintf(stderr, "vfab-stress: apply: %s\n", err);
        return -1;
    }
    uint64_t want = r->d.generation;
    for (unsigned spins = 0; spins < 10000000; spins++) {
        unsigned seen = 0;
        for (unsigned w = 0; w < r->d.n_workers; w++)
            seen += ld(&r->d.workers[w].stats.generation) >= want;
        if (seen == r->d.n_workers)
            break;
        if (now_s() - t0 > 1.0)
            return -1;
    }
    *apply_us = (t1 - t0) * 1e6;
    *visible_us = (now_s() - t0) * 1e6;
    return 0;
}

static json_t *traffic_json(struct run *r)
{
    uint64_t drops[VF_DROP__COUNT] = {0};
    for (unsigned w = 0; w < r->d.n_workers; w++)
        for (unsigned k = 1; k < VF_DROP__COUNT; k++)
            drops[k] += ld(&r->d.workers[w].stats.drops[k]);
    json_t *dj = json_object();
    for (unsigned k = 1; k < VF_DROP__COUNT; k++)
        if (drops[k])
            json_object_set_new(dj, vf_drop_name(k), json_integer((json_int_t)drops[k]));
    uint64_t sent = run_sent(r), got = run_received(r);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "sent", (json_int_t)sent,
                     "received", (json_int_t)got,
                     "lost", (json_int_t)(sent > got ? sent - got : 0),
                     "misdelivered", (json_int_t)run_misdelivered(r),
                     "out_of_order", (json_int_t)run_out_of_order(r), "drops", dj);
}

static bool traffic_ok(struct run *r)
{
    return run_sent(r) == run_received(r) && run_misdelivered(r) == 0 &&
           run_out_of_order(r) == 0 && run_sent(r) > 0;
}

/* One soak/churn sample, once a second. */
struct sample {
    double t_s;
    long rss_kb, heap_kb, heap_resident_kb;
    long rss_anon_kb, rss_file_kb;   /* VmRSS = these + RssShmem */
    uint64_t received;
};

/* Least-squares slope of y over t, per minute. */
static double slope_per_min(const struct sample *sm, size_t a, size_t b,
                            long (*y)(const struct sample *))
{
    double n = (double)(b - a), st = 0, sy = 0, stt = 0, sty = 0;
    if (b - a < 2)
        return 0;
    for (size_t i = a; i < b; i++) {
        double t = sm[i].t_s, v = (double)y(&sm[i]);
        st += t; sy += v; stt += t * t; sty += t * v;
    }
    double den = n * stt - st * st;
    return den > 0 ? 60.0 * (n * sty - st * sy) / den : 0;
}
static long y_rss(const struct sample *x) { return x->rss_kb; }
static long y_heap(const struct sample *x) { return x->heap_kb; }
static long y_heap_res(const struct sample *x) { return x->heap_resident_kb; }
static long y_anon(const struct sample *x) { return x->rss_anon_kb; }
static long y_file(const struct sample *x) { return x->rss_file_kb; }

/* Memory growth over the second half of the run (the first half warms
 * the caches, pools and allocator up): first/last values and slopes. A
 * leak is heap_kb rising; RSS rising while heap_kb stays flat is the
 * allocator keeping pages. */
static json_t *growth_json(const struct sample *sm, size_t n)
{
    if (n < 4)
        return json_pack("{s:s}", "note", "too few samples (run at least 4 s)");
    size_t a = n / 2;
    return json_pack("{s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f}",
        "from_s", sm[a].t_s,
        "rss_kb_from", (json_int_t)sm[a].rss_kb, "rss_kb_to", (json_int_t)sm[n - 1].rss_kb,
        "heap_kb_from", (json_int_t)sm[a].heap_kb, "heap_kb_to", (json_int_t)sm[n - 1].heap_kb,
        "rss_kb_per_min", slope_per_min(sm, a, n, y_rss),
        "heap_kb_per_min", slope_per_min(sm, a, n, y_heap),
        "heap_resident_kb_per_min", slope_per_min(sm, a, n, y_heap_res),
        "rss_anon_kb_per_min", slope_per_min(sm, a, n, y_anon),
        "rss_file_kb_per_min", slope_per_min(sm, a, n, y_file));
}

static json_t *scenario_churn(const struct opts *o, double rate, bool *ok)
{
    static struct run r;
    memset(&r, 0, sizeof(r));
    if (run_start(&r, o, o->workers, false)) {
        *ok = false;
        return json_pack("{s:s}", "error", "cannot start");
    }
    size_t max = (size_t)(rate * o->duration) + 2;
    double *ap = calloc(max, sizeof(double)), *vis = calloc(max, sizeof(double));
    /* The harness's own memory is allocated and touched before the clock
     * starts, so the RSS and heap samples show vfab's, not the harness's
     * growing bookkeeping (it was most of an earlier soak's slow rise). */
    size_t max_samples = (size_t)o->duration + 2;
    struct sample *sm = calloc(max_samples, sizeof(*sm));
    if (!ap || !vis || !sm) {
        fprintf(stderr, "vfab-stress: out of memory\n");
        exit(1);
    }
    memset(ap, 0, max * sizeof(double));
    memset(vis, 0, max * sizeof(double));
    memset(sm, 0, max_samples * sizeof(*sm));
    size_t n = 0, failed = 0, n_samples = 0;
    double start = now_s(), next = start;
    double last_sample = start;
    while (now_s() - start < o->duration && n < max) {
        double a, v;
        if (churn_once(&r, &a, &v))
            failed++;
        else {
            ap[n] = a;
            vis[n++] = v;
        }
        next += 1.0 / rate;
        double wait = next - now_s();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6));
        if (now_s() - last_sample >= 1.0 && n_samples < max_samples) {
            last_sample = now_s();
            struct sample *x = &sm[n_samples++];
            struct vf_heap_stats hs;
            vf_heap_stats(&hs);
            x->t_s = last_sample - start;
            x->rss_kb = rss_kb();
            x->rss_anon_kb = status_kb("RssAnon:");
            x->rss_file_kb = status_kb("RssFile:");
            x->heap_kb = (long)(hs.allocated / 1024);
            x->heap_resident_kb = (long)(hs.resident / 1024);
            x->received = run_received(&r);
        }
    }
    double elapsed = now_s() - start;
    run_join(&r);
    json_t *traffic = traffic_json(&r);
    *ok = traffic_ok(&r) && failed == 0;
    json_t *samples = json_array();
    for (size_t i = 0; i < n_samples; i++)
        json_array_append_new(samples, json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:I}",
            "t_s", sm[i].t_s, "rss_kb", (json_int_t)sm[i].rss_kb,
            "rss_anon_kb", (json_int_t)sm[i].rss_anon_kb,
            "rss_file_kb", (json_int_t)sm[i].rss_file_kb,
            "heap_kb", (json_int_t)sm[i].heap_kb,
            "heap_resident_kb", (json_int_t)sm[i].heap_resident_kb,
            "received", (json_int_t)sm[i].received));
    json_t *growth = growth_json(sm, n_samples);
    free(sm);
    qsort(ap, n, sizeof(double), cmp_double);
    qsort(vis, n, sizeof(double), cmp_double);
    json_t *res = json_pack(
        "{s:i, s:f, s:f, s:f, s:I, s:I, s:I,"
        " s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:o, s:o, s:o, s:f, s:b}",
        "workers", (int)r.d.n_workers, "target_rate", rate, "duration_s", elapsed,
        "achieved_rate", (double)n / elapsed, "changes", (json_int_t)n,
        "failed_changes", (json_int_t)failed, "final_generation", (json_int_t)r.d.generation,
        "apply_us", "p50", pct(ap, n, 0.5), "p99", pct(ap, n, 0.99), "max", n ? ap[n - 1] : 0.0,
        "visible_us", "p50", pct(vis, n, 0.5), "p99", pct(vis, n, 0.99), "max", n ? vis[n - 1] : 0.0,
        "traffic", traffic, "samples", samples, "growth", growth,
        "pps", (double)run_received(&r) / elapsed, "ok", *ok);
    run_finish(&r);
    free(ap);
    free(vis);
    return res;
}

/* Forwarded packets per second over `secs` with the generator's current
 * settings; the window keeps the generator from running ahead. */
static double measure_pps(struct run *r, double secs)
{
    uint64_t a = run_received(r);
    double t0 = now_s();
    usleep((useconds_t)(secs * 1e6));
    return (double)(run_received(r) - a) / (now_s() - t0);
}

static json_t *scenario_flows(const struct opts *o, bool *ok)
{
    static struct run r;
    memset(&r, 0, sizeof(r));
    if (run_start(&r, o, o->workers, false)) {
        *ok = false;
        return json_pack("{s:s}", "error", "cannot start");
    }
    double step = o->duration / (o->n_flows ? o->n_flows : 1);
    if (step < 0.2)
        step = 0.2;
    json_t *points = json_array();
    long rss0 = rss_kb(), rss_max = rss0;
    for (unsigned i = 0; i < o->n_flows; i++) {
        run_pause(&r, true);
        usleep(20000);
        r.g[0].flows = o->flows[i];   /* generator paused: it only re-reads */
        run_pause(&r, false);
        double pps = measure_pps(&r, step);
        long rss = rss_kb();
        if (rss > rss_max)
            rss_max = rss;
        uint64_t hits = 0, misses = 0;
        for (unsigned w = 0; w < r.d.n_workers; w++) {
            struct vf_flow_cache_stats fc;
            vf_fc_get_stats(r.d.workers[w].fc, &fc);
            hits += fc.hits;
            misses += fc.misses;
        }
        json_array_append_new(points, json_pack("{s:I, s:f, s:I, s:I, s:I}",
            "flows", (json_int_t)o->flows[i], "pps", pps, "rss_kb", (json_int_t)rss,
            "fc_hits_total", (json_int_t)hits, "fc_misses_total", (json_int_t)misses));
    }
    run_join(&r);
    json_t *traffic = traffic_json(&r);
    *ok = traffic_ok(&r);
    json_t *res = json_pack("{s:i, s:I, s:o, s:I, s:I, s:o, s:b}", "workers",
                            (int)r.d.n_workers, "flow_cache_entries_per_worker",
                            (json_int_t)r.d.opts.flow_cache_entries, "points", points,
                            "rss_start_kb", (json_int_t)rss0, "rss_max_kb",
                            (json_int_t)rss_max, "traffic", traffic, "ok", *ok);
    json_object_set_new(res, "acl_rules", json_integer((json_int_t)g_acl_rules + 1));
    run_finish(&r);
    return res;
}

static json_t *scenario_bad(const struct opts *o, bool *ok)
{
    static struct run r;
    memset(&r, 0, sizeof(r));
    struct opts o2 = *o;
    if (o2.bad_share <= 0)
        o2.bad_share = 0.2;
    if (run_start(&r, &o2, o->workers, false)) {
        *ok = false;
        return json_pack("{s:s}", "error", "cannot start");
    }
    usleep((useconds_t)(o->duration * 1e6));
    run_join(&r);
    json_t *kinds = json_object();
    *ok = traffic_ok(&r);
    for (unsigned k = 0; k < BAD__COUNT; k++) {
        uint64_t counted = 0;
        for (unsigned w = 0; w < r.d.n_workers; w++)
            counted += ld(&r.d.workers[w].stats.drops[bad_reason[k]]);
        bool match = counted == run_bad_sent(&r, k);
        *ok = *ok && match;
        json_object_set_new(kinds, bad_name[k], json_pack("{s:I, s:s, s:I, s:b}",
            "sent", (json_int_t)run_bad_sent(&r, k), "reason", vf_drop_name(bad_reason[k]),
            "counted", (json_int_t)counted, "match", match));
    }
    json_t *res = json_pack("{s:i, s:f, s:f, s:o, s:o, s:b}", "workers",
                            (int)r.d.n_workers, "bad_share", o2.bad_share,
                            "duration_s", o->duration, "bad", kinds,
                            "traffic", traffic_json(&r), "ok", *ok);
    run_finish(&r);
    return res;
}

/* Throughput with 1..max_workers workers, one generator per worker. The
 * baseline is the 1-worker point of the same run (speedup = pps / that).
 * Where workers and generators together outnumber the cores they share
 * them, and the point says so (cores_shared). */
static json_t *scenario_scale(const struct opts *o, bool *ok)
{
    json_t *points = json_array();
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    double base = 0;
    *ok = true;
    for (unsigned w = 1; w <= o->max_workers; w++) {
        static struct run r;
        memset(&r, 0, sizeof(r));
        if (run_start(&r, o, w, true)) {
            *ok = false;
            break;
        }
        usleep(100000);   /* warm the caches */
        double pps = measure_pps(&r, o->duration / o->max_workers);
        run_join(&r);
        bool good = traffic_ok(&r);
        *ok = *ok && good;
        if (w == 1)
            base = pps;
        json_t *lanes = json_array();
        for (unsigned i = 0; i < r.n_gen; i++)
            json_array_append_new(lanes, json_integer((json_int_t)r.g[i].n_src));
        json_array_append_new(points, json_pack("{s:i, s:i, s:o, s:f, s:f, s:b, s:b}",
            "workers", (int)r.d.n_workers, "generators", (int)r.n_gen,
            "sources_per_generator", lanes, "pps", pps,
            "speedup", base > 0 ? pps / base : 0.0,
            "cores_shared", (int)(r.d.n_workers + r.n_gen) > ncpu, "ok", good));
        fprintf(stderr, "vfab-stress: scale: %u worker(s), %u generator(s): %.0f pps (%.2fx)\n",
                r.d.n_workers, r.n_gen, pps, base > 0 ? pps / base : 0.0);
        run_finish(&r);
    }
    return json_pack("{s:o, s:i, s:b}", "points", points, "cpus_online", ncpu, "ok", *ok);
}

static json_t *scenario_latency(const struct opts *o, bool *ok)
{
    static struct run r;
    memset(&r, 0, sizeof(r));
    if (run_start(&r, o, 1, false)) {
        *ok = false;
        return json_pack("{s:s}", "error", "cannot start");
    }
    /* Bounded: every ping waits at most 100 ms, and the gap is bounded. */
    pthread_join(r.thr[0], NULL);
    r.n_gen = 1;
    struct gen *g = &r.g[0];
    qsort(g->lat_us, g->lat_n, sizeof(double), cmp_double);
    /* Where the generator ran: pinned by pin_generator (before the join). */
    bool same_core = g->cpu < 0 || g->cpu == r.d.place.cpu[0];
    *ok = g->lat_lost == 0 && g->lat_n == o->pings && g->misdelivered == 0 &&
          g->out_of_order == 0;
    json_t *res = json_pack("{s:s, s:i, s:f, s:I, s:I, s:{s:f, s:f, s:f, s:f},"
                            " s:b, s:i, s:b}",
        "tuning", o->perf ? o->perf : "vfabd defaults (idle_polls 1024, adaptive)",
        "workers", (int)r.d.n_workers, "gap_us", o->gap_us,
        "pings", (json_int_t)g->lat_n, "lost", (json_int_t)g->lat_lost,
        "latency_us", "min", g->lat_n ? g->lat_us[0] : 0.0,
        "p50", pct(g->lat_us, g->lat_n, 0.5), "p99", pct(g->lat_us, g->lat_n, 0.99),
        "max", g->lat_n ? g->lat_us[g->lat_n - 1] : 0.0,
        "generator_may_share_worker_core", same_core,
        "cpus_online", (int)sysconf(_SC_NPROCESSORS_ONLN), "ok", *ok);
    fprintf(stderr, "vfab-stress: latency (%s): p50 %.1f us p99 %.1f us over %u pings\n",
            o->perf ? o->perf : "defaults", pct(g->lat_us, g->lat_n, 0.5),
            pct(g->lat_us, g->lat_n, 0.99), g->lat_n);
    run_finish(&r);
    return res;
}

static void usage(void)
{
    fprintf(stderr,
"usage: vfab-stress churn|flows|bad|soak|scale|latency [--duration S] [--rate N]\n"
"       [--workers N] [--max-workers N] [--flows a,b,c] [--bad-share F]\n"
"       [--pings N] [--gap-us U] [--acl-rules N] [--perf PERFCONFIG] [--json FILE]\n"
"Defaults are CI-sized (seconds). Exit 0 ok, 1 a check failed, 2 usage.\n");
}

int main(int argc, char **argv)
{
    struct opts o = {.rate = 1000, .duration = 2, .workers = 1, .max_workers = 2,
                     .flows = {1, 1000, 10000, 100000, 1000000}, .n_flows = 5,
                     .gap_us = 200};
    if (argc < 2) {
        usage();
        return 2;
    }
    o.scenario = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--duration")) o.duration = atof(v);
        else if (!strcmp(a, "--rate")) o.rate = atof(v);
        else if (!strcmp(a, "--workers")) o.workers = (unsigned)atoi(v);
        else if (!strcmp(a, "--max-workers")) o.max_workers = (unsigned)atoi(v);
        else if (!strcmp(a, "--bad-share")) o.bad_share = atof(v);
        else if (!strcmp(a, "--json")) o.json_out = v;
        else if (!strcmp(a, "--perf")) o.perf = v;
        else if (!strcmp(a, "--pings")) o.pings = (unsigned)atoi(v);
        else if (!strcmp(a, "--acl-rules")) g_acl_rules = (unsigned)atoi(v);
        else if (!strcmp(a, "--gap-us")) o.gap_us = atof(v);
        else if (!strcmp(a, "--flows")) {
            char *s = strdup(v), *save = NULL;
            o.n_flows = 0;
            for (char *t = strtok_r(s, ",", &save); t && o.n_flows < 16;
                 t = strtok_r(NULL, ",", &save))
                o.flows[o.n_flows++] = strtoul(t, NULL, 10);
            free(s);
        } else {
            usage();
            return 2;
        }
    }
    if (o.duration <= 0 || o.duration > 3600 || o.rate <= 0 || o.rate > 100000 ||
        o.workers < 1 || o.workers > MAX_SRC || o.max_workers < 1 ||
        o.max_workers > MAX_SRC || o.bad_share < 0 || o.bad_share >= 1 ||
        o.pings > 1000000 || o.gap_us < 0 || o.gap_us > 100000 ||
        g_acl_rules > 100000) {
        fprintf(stderr, "vfab-stress: an option is out of range\n");
        usage();
        return 2;
    }
    if (strcmp(o.scenario, "latency"))
        o.pings = 0;            /* only the latency scenario sends one at a time */
    else if (!o.pings)
        o.pings = 2000;
    bool ok = false;
    json_t *res;
    if (!strcmp(o.scenario, "churn"))
        res = scenario_churn(&o, o.rate, &ok);
    else if (!strcmp(o.scenario, "soak"))
        res = scenario_churn(&o, o.rate > 10 ? 10 : o.rate, &ok);
    else if (!strcmp(o.scenario, "flows"))
        res = scenario_flows(&o, &ok);
    else if (!strcmp(o.scenario, "bad"))
        res = scenario_bad(&o, &ok);
    else if (!strcmp(o.scenario, "scale"))
        res = scenario_scale(&o, &ok);
    else if (!strcmp(o.scenario, "latency"))
        res = scenario_latency(&o, &ok);
    else {
        usage();
        return 2;
    }
    json_object_set_new(res, "scenario", json_string(o.scenario));
    if (o.json_out) {
        if (json_dump_file(res, o.json_out, JSON_INDENT(2))) {
            fprintf(stderr, "vfab-stress: cannot write %s\n", o.json_out);
            ok = false;
        }
    } else {
        json_dumpf(res, stdout, JSON_INDENT(2));
        printf("\n");
    }
    json_decref(res);
    return ok ? 0 : 1;
}
