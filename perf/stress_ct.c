/* stress_ct.c - vfab-stress-ct: connection churn through a security group
 * at the highest rate one worker holds (perf/run stress --only ct).
 *
 * One worker thread (pinned to CPU 0 when there are two), the pipeline on
 * vfab's tables (vf_test_logical.h; stateful ACLs from vf_test_sg.h until
 * the model has them): vm1 is in a security group (out: allow-related;
 * in: replies only), vm2 has no ACLs. The worker drives SLOTS connections
 * at a time through their whole life, one step per burst each: SYN (vm1),
 * SYN-ACK (vm2), ACK, FIN (vm1), FIN (vm2), ACK (vm1), so every packet
 * after the first is a reply or established in vm1's zone, and then the
 * next connection takes the slot (a new tuple each time). Closed-loop: as
 * fast as the worker goes. Connections end in TIME_WAIT, whose timeout is
 * short (--time-wait-ms), so they expire while traffic runs: the worker
 * sweeps its share as vfabd's does (by elapsed time, a pass every
 * --pass-ms) and a second thread plays mgmt: vf_ct_reclaim every 100 ms
 * (real RCU grace periods with the worker online) and RSS each second.
 *
 * Pass conditions: every packet of every connection delivered (zero
 * tracked connections lost: none refused as table or zone full, none
 * invalid), after the run and one timeout every ended connection expired
 * (created = expired + the ones still in flight), and RSS flat over the
 * run's second half (growth under 1 MiB). Output: JSON on stdout.
 */

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "fabric/vf_ring.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_sg.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define SLOTS 4096u
#define STEPS 6u
#define BURST 32u
#define MAX_SAMPLES 3600

struct run {
    struct lt_fabric f;
    struct vf_model m;
    struct sg_set sg;
    struct vf_port *vm1, *vm2;
    double duration;
    unsigned conns_max, tw_ms, pass_ms;
    _Atomic bool stop;
    /* worker: rw; mgmt: ro at the end */
    uint64_t sent, delivered, completed, started;
    unsigned step[SLOTS];
    uint32_t conn[SLOTS];
    /* mgmt */
    unsigned n_samples;
    long rss_kb[MAX_SAMPLES];
    uint64_t live[MAX_SAMPLES], created[MAX_SAMPLES];
    unsigned reclaims, reclaimed;
    double worker_cpu_s;         /* the worker thread's CPU time */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* The frame of step `step` of connection c. */
static size_t frame(uint8_t *buf, uint32_t c, unsigned step, bool *from_vm2)
{
    static const uint8_t flags[STEPS] = {
        VF_TPKT_TCP_SYN, VF_TPKT_TCP_SYN | VF_TPKT_TCP_ACK, VF_TPKT_TCP_ACK,
        VF_TPKT_TCP_FIN | VF_TPKT_TCP_ACK, VF_TPKT_TCP_FIN | VF_TPKT_TCP_ACK,
        VF_TPKT_TCP_ACK};
    static const uint32_t seq[STEPS] = {100, 900, 101, 101, 901, 102};
    static const uint32_t ack[STEPS] = {0, 101, 901, 901, 102, 902};
    bool b = step == 1 || step == 4;
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    lt_mac(t.eth_src, b ? 0x102 : 0x101);
    lt_mac(t.eth_dst, b ? 0x101 : 0x102);
    t.ip4_src = b ? IP(10, 0, 0, 2) : IP(10, 0, 0, 1);
    t.ip4_dst = b ? IP(10, 0, 0, 1) : IP(10, 0, 0, 2);
    uint16_t cport = (uint16_t)(1024 + c % 60000), sport = (uint16_t)(2000 + (c / 60000) % 4000);
    t.sport = b ? sport : cport;
    t.dport = b ? cport : sport;
    t.tcp_flags = flags[step];
    t.tcp_seq = seq[step];
    t.tcp_ack = ack[step];
    *from_vm2 = b;
    return vf_tpkt_ip4_tcp(buf, 128, &t);
}

static void *worker_main(void *arg)
{
    struct run *r = arg;
    struct vf_worker *w = r->f.host[0].w;
    const struct vf_tables *t = r->f.host[0].t;
    /* The generator writes templates and patches the ports (the pipeline
     * checks no TCP checksum), so the worker's work is what is measured. */
    uint8_t tmpl[STEPS][128];
    size_t tlen[STEPS];
    bool from_b[STEPS];
    for (unsigned st = 0; st < STEPS; st++)
        tlen[st] = frame(tmpl[st], 0, st, &from_b[st]);
    unsigned cursor = 0;
    double end = now_s() + r->duration;

    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
        cpu_set_t cs;
        CPU_ZERO(&cs);
        CPU_SET(0, &cs);
        pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs);
    }
    rcu_register_thread();
    for (unsigned i = 0; i < SLOTS; i++)
        r->conn[i] = r->started++;
    for (uint64_t it = 0; !atomic_load_explicit(&r->stop, memory_order_relaxed); it++) {
        if ((it & 255) == 0 && now_s() >= end)
            break;
        struct vf_pkt *pk[BURST];
        unsigned slot[BURST];
        for (unsigned i = 0; i < BURST; i++) {
            unsigned s = (cursor + i) % SLOTS, st = r->step[s];
            bool b = from_b[st];
            uint32_t c = r->conn[s];
            uint16_t cport = (uint16_t)(1024 + c % 60000), sport = (uint16_t)(2000 + (c / 60000) % 4000);
            pk[i] = vf_pool_alloc(&w->cache);
            if (!pk[i] || vf_pkt_set(pk[i], tmpl[st], (uint32_t)tlen[st])) {
                fprintf(stderr, "stress-ct: out of buffers\n");
                atomic_store(&r->stop, true);
                break;
            }
            uint8_t *l4 = vf_pkt_data(pk[i]) + 34;
            vf_tpkt_put16(l4, b ? sport : cport);
            vf_tpkt_put16(l4 + 2, b ? cport : sport);
            pk[i]->port = (uint16_t)(b ? r->vm2 : r->vm1)->index;
            slot[i] = s;
        }
        cursor = (cursor + BURST) % SLOTS;
        w->ct_now = vf_ct_now_ms();
        vf_pipeline_burst(w, t, pk, BURST);
        vf_worker_flush(w);
        vf_worker_ct_sweep(w);
        r->sent += BURST;
        struct vf_pkt *got[BURST];
        unsigned g = vf_ring_port_drain(r->vm1, 0, got, BURST);
        g += vf_ring_port_drain(r->vm2, 0, got + g, BURST - g);
        r->delivered += g;
        vf_pool_free_burst(&w->cache, got, g);
        for (unsigned i = 0; i < BURST; i++) {
            unsigned s = slot[i];
            if (++r->step[s] == STEPS) {
                r->step[s] = 0;
                r->conn[s] = r->started++;
                r->completed++;
            }
        }
        rcu_quiescent_state();
        if (g != BURST)
            break;   /* lost: the run failed; stop and report */
    }
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    r->worker_cpu_s = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
    atomic_store(&r->stop, true);
    rcu_unregister_thread();
    return NULL;
}

int main(int argc, char **argv)
{
    static struct run r;
    r.duration = 10;
    r.conns_max = 1u << 20;
    r.tw_ms = 500;
    r.pass_ms = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--duration"))
            r.duration = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns"))
            r.conns_max = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--time-wait-ms"))
            r.tw_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--pass-ms"))
            r.pass_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: vfab-stress-ct [--duration S] [--conns N] "
                    "[--time-wait-ms MS] [--pass-ms MS]\n");
            return 2;
        }
    }
    lt_chassis(&r.m, "hv1", IP(192, 0, 2, 1), VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(&r.m, "blue");
    int sw = lt_switch(&r.m, t, "a", 100);
    lt_port(&r.m, t, sw, "vm1", 0x101, IP(10, 0, 0, 1), 0, true);
    lt_port(&r.m, t, sw, "vm2", 0x102, IP(10, 0, 0, 2), 0, true);
    lt_assign_ids(&r.m);
    struct sg_rule *rule = sg_add(&r.sg, "a", false, VF_ACL_V_ALLOW_RELATED, 10);
    rule->ports[0] = "vm1";
    rule = sg_add(&r.sg, "a", true, VF_ACL_V_ALLOW_RELATED, 10);
    rule->ports[0] = "vm1";
    rule->proto = VF_IPPROTO_UDP;
    rule->dport_lo = rule->dport_hi = 9999;   /* in: replies only */
    if (lt_fabric_init_ct(&r.f, &r.m, true, r.conns_max, sg_post, &r.sg)) {
        fprintf(stderr, "stress-ct: setup failed\n");
        return 1;
    }
    struct vf_ct *ct = r.f.host[0].ct;
    vf_ct_set_timeout(ct, VF_CT_TO_TCP_TIME_WAIT, r.tw_ms);
    r.f.host[0].w->ct_pass_ms = r.pass_ms;
    r.vm1 = r.f.ports[lt_port_idx(&r.f, "vm1")];
    r.vm2 = r.f.ports[lt_port_idx(&r.f, "vm2")];

    pthread_t th;
    double t0 = now_s();
    pthread_create(&th, NULL, worker_main, &r);
    double next_sample = t0 + 1;
    while (!atomic_load(&r.stop)) {
        usleep(100000);
        r.reclaimed += vf_ct_reclaim(ct);   /* mgmt: kicks nobody, the worker spins */
        r.reclaims++;
        if (now_s() >= next_sample && r.n_samples < MAX_SAMPLES) {
            struct vf_ct_totals tot;
            vf_ct_get_stats(ct, &tot);
            r.rss_kb[r.n_samples] = rss_kb();
            r.live[r.n_samples] = tot.live;
            r.created[r.n_samples] = tot.created;
            r.n_samples++;
            next_sample += 1;
        }
    }
    pthread_join(th, NULL);
    double secs = now_s() - t0;

    /* After one more timeout and a pass, only the connections in flight
     * (at most SLOTS) may still be there. */
    struct vf_worker *w = r.f.host[0].w;
    w->ct_now = vf_ct_now_ms() + r.tw_ms + 100;
    vf_ct_sweep(&w->ct, w->ct_now, w->ct.sweep_hi - w->ct.sweep_lo);   /* a pass */
    r.reclaimed += vf_ct_reclaim(ct);
    struct vf_ct_totals tot;
    vf_ct_get_stats(ct, &tot);
    uint64_t drops = 0;
    json_t *dj = json_object();
    for (unsigned d = 0; d < VF_DROP__COUNT; d++) {
        uint64_t n = atomic_load(&w->stats.drops[d]);
        drops += n;
        if (n)
            json_object_set_new(dj, vf_drop_name(d), json_integer((json_int_t)n));
    }
    long grow = 0;
    json_t *sj = json_array();
    for (unsigned i = 0; i < r.n_samples; i++)
        json_array_append_new(sj, json_pack("{s:I, s:I, s:I}", "rss_kb",
                                            (json_int_t)r.rss_kb[i], "live",
                                            (json_int_t)r.live[i], "created",
                                            (json_int_t)r.created[i]));
    if (r.n_samples >= 2)
        grow = r.rss_kb[r.n_samples - 1] - r.rss_kb[r.n_samples / 2];
    uint64_t in_flight = r.started - r.completed;
    bool all_delivered = r.delivered == r.sent && drops == 0;
    bool none_lost = tot.created == tot.expired + tot.live && tot.live <= in_flight &&
                     tot.by_state[VF_CT_INVALID] == 0 && tot.table_full == 0;
    bool flat = grow < 1024;
    uint64_t peak_live = 0;
    for (unsigned i = 0; i < r.n_samples; i++)
        if (r.live[i] > peak_live)
            peak_live = r.live[i];
    json_t *doc = json_pack(
        "{s:s, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, "
        "s:I, s:o, s:o, s:b, s:b, s:b, s:b}",
        "scenario", "ct", "duration_s", secs,
        "packets_sent", (json_int_t)r.sent, "packets_delivered", (json_int_t)r.delivered,
        "connections_completed", (json_int_t)r.completed,
        "connections_per_s", (double)r.completed / secs,
        "packets_per_s", (double)r.sent / secs,
        "worker_cpu_s", r.worker_cpu_s,
        "connections_per_cpu_s", r.worker_cpu_s > 0 ? (double)r.completed / r.worker_cpu_s : 0.0,
        "ct_created", (json_int_t)tot.created, "ct_expired", (json_int_t)tot.expired,
        "ct_live_after", (json_int_t)tot.live, "ct_live_peak", (json_int_t)peak_live,
        "ct_table_full", (json_int_t)tot.table_full, "reclaimed", (json_int_t)r.reclaimed,
        "time_wait_ms", (int)r.tw_ms, "pass_ms", (int)r.pass_ms,
        "rss_growth_2nd_half_kb", (json_int_t)grow, "drops", dj, "samples", sj,
        "all_delivered", all_delivered, "none_lost", none_lost, "memory_flat", flat,
        "ok", all_delivered && none_lost && flat);
    char *s = json_dumps(doc, JSON_INDENT(1));
    printf("%s\n", s);
    free(s);
    bool ok = all_delivered && none_lost && flat;
    json_decref(doc);
    lt_fabric_fini(&r.f);
    lt_model_free(&r.m);
    return ok ? 0 : 1;
}
