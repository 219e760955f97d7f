/* test_daemon.c - a whole vfabd in-process: ports, workers, publication and
 * live changes (vf_daemon_apply) while traffic flows.
 *
 * The property under test (issues 2, 3 and 6): while the management thread
 * applies changes that add and remove *other* ports, every packet between
 * two untouched ports arrives, in order, exactly once, at the right port;
 * a refused change leaves the daemon exactly as it was.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/control/vf_model_json.h"
#include "tests/unit/vf_test_pkt.h"

static const char *base_yaml =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
    "  - {name: hv2, underlay_ip: 192.0.2.2, encap: geneve}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: web\n"
    "        vni: 100\n"
    "        ports:\n"
    "          - {name: a, mac: '02:00:00:00:00:0a', ips: [10.0.0.10], chassis: hv1, port_security: true}\n"
    "          - {name: b, mac: '02:00:00:00:00:0b', ips: [10.0.0.11], chassis: hv1, port_security: true}\n"
    "%s"
    "local: {chassis: hv1, workers: %s, uplink: {type: ring}}\n";

static const char *extra_port =
    "          - {name: c, mac: '02:00:00:00:00:0c', ips: [10.0.0.12], chassis: hv1}\n";

static void load(struct vf_model *m, const char *extra, const char *workers)
{
    char y[4096], err[512];
    snprintf(y, sizeof(y), base_yaml, extra, workers);
    memset(m, 0, sizeof(*m));
    int rc = vf_config_load_string(y, strlen(y), m, err, sizeof(err));
    if (rc)
        fail_msg("config: %s", err);
}

static struct vf_pool *gen_pool;
static struct vf_pool_cache gen_cache;

/* UDP a -> b carrying a sequence number in the source port's payload. */
static struct vf_pkt *frame_a_to_b(uint32_t seq)
{
    struct vf_pkt *p = vf_pool_alloc(&gen_cache);
    assert_non_null(p);
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    static const uint8_t sa[6] = {2, 0, 0, 0, 0, 0x0a}, da[6] = {2, 0, 0, 0, 0, 0x0b};
    memcpy(t.eth_src, sa, 6);
    memcpy(t.eth_dst, da, 6);
    t.ip4_src = 0x0a00000a;
    t.ip4_dst = 0x0a00000b;
    t.sport = 1000;
    t.dport = 2000;
    uint8_t pl[8];
    memcpy(pl, &seq, 4);
    memcpy(pl + 4, "SEQ!", 4);
    t.payload = pl;
    t.payload_len = sizeof(pl);
    uint8_t buf[256];
    unsigned n = (unsigned)vf_tpkt_ip4_udp(buf, sizeof(buf), &t);
    assert_true(n > 0);
    vf_pkt_set(p, buf, n);
    return p;
}

struct counts {
    uint32_t next_seq;
    uint64_t got, out_of_order, misdelivered;
};

/* Drains every ring port: b must see a's packets in order; no one else
 * may see them. */
static void drain(struct vf_daemon *d, struct counts *c)
{
    struct vf_pkt *pk[64];
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port)
            continue;
        for (unsigned q = 0; q < dp->port->n_queues; q++) {
            unsigned n;
            while ((n = vf_ring_port_drain(dp->port, q, pk, 64))) {
                for (unsigned k = 0; k < n; k++) {
                    const uint8_t *f = vf_pkt_data(pk[k]);
                    if (pk[k]->len < 50 || memcmp(f + pk[k]->len - 4, "SEQ!", 4))
                        continue;
                    uint32_t seq;
                    memcpy(&seq, f + pk[k]->len - 8, 4);
                    if (strcmp(dp->name, "b")) {
                        c->misdelivered++;
                        continue;
                    }
                    if (seq != c->next_seq)
                        c->out_of_order++;
                    c->next_seq = seq + 1;
                    c->got++;
                }
                vf_pool_free_burst(&gen_cache, pk, n);
            }
        }
    }
}

static struct vf_daemon D;

/* At most this many of a's frames queued and not yet drained from b. Both
 * rings hold 1024 (start_opts): when the worker is starved (a loaded
 * machine, the spin tests' hog) a's ring fills, and a worker that then runs
 * would pass more to b than b's ring takes before the next drain; those
 * are tx drops on b, counted, but a gap in the sequence. Bounding what is
 * in flight keeps b's ring from ever filling, so every frame must arrive. */
#define IN_FLIGHT_MAX 512u

/* Sends up to 64 frames a -> b, fewer when IN_FLIGHT_MAX are in flight. */
static void send_a_to_b(struct vf_daemon_port *a, const struct counts *c,
                        uint32_t *sent)
{
    for (unsigned k = 0; k < 64 && *sent - c->got < IN_FLIGHT_MAX; k++) {
        struct vf_pkt *p = frame_a_to_b(*sent);
        if (vf_ring_port_inject(a->port, 0, &p, 1) == 1)
            (*sent)++;
        else
            vf_pool_free(&gen_cache, p);
    }
}

static void start_opts(const char *workers, unsigned idle_polls, bool fixed_spin)
{
    struct vf_model m;
    load(&m, "", workers);
    struct vf_daemon_opts o = {.pool_bufs = 4096, .ring_size = 1024,
                               .idle_polls = idle_polls, .fixed_spin = fixed_spin};
    char err[512];
    int rc = vf_daemon_start(&D, &m, &o, err, sizeof(err));
    if (rc)
        fail_msg("start: %s", err);
    char e2[256];
    gen_pool = vf_pool_create(NULL, -1, 8192, VF_PKT_DEFAULT_DATA_ROOM, e2, sizeof(e2));
    assert_non_null(gen_pool);
    vf_pool_cache_init(&gen_cache, gen_pool);
}

static void start(const char *workers)
{
    start_opts(workers, 64, false);
}

static void stop(void)
{
    vf_daemon_stop(&D);
    vf_pool_cache_flush(&gen_cache);
    assert_int_equal(vf_pool_in_use(gen_pool), 0);
    vf_pool_destroy(gen_pool);
}

static void test_live_changes_keep_untouched_flows(void **state)
{
    (void)state;
    start("1");
    struct vf_daemon_port *a = vf_daemon_find_port(&D, "a");
    assert_non_null(a);
    struct counts c = {0};
    uint32_t sent = 0;
    unsigned applies = 0;
    char err[512];
    /* 200 changes: port c comes and goes, with traffic a -> b in between. */
    for (unsigned round = 0; round < 200; round++) {
        send_a_to_b(a, &c, &sent);
        struct vf_model m;
        load(&m, round % 2 == 0 ? extra_port : "", "1");
        int rc = vf_daemon_apply(&D, &m, err, sizeof(err));
        if (rc)
            fail_msg("apply %u: %s", round, err);
        vf_model_free(&m);
        applies++;
        a = vf_daemon_find_port(&D, "a");
        drain(&D, &c);
    }
    /* Let the worker finish what is queued. */
    for (unsigned i = 0; i < 2000 && c.got < sent; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        drain(&D, &c);
    }
    assert_int_equal(applies, 200);
    assert_true(sent > 0);
    assert_int_equal(c.misdelivered, 0);
    assert_int_equal(c.out_of_order, 0);
    assert_int_equal(c.got, sent);
    assert_int_equal(D.generation, 201);
    stop();
}

static void test_new_port_forwards(void **state)
{
    (void)state;
    start("auto");
    struct vf_model m;
    char err[512];
    load(&m, extra_port, "auto");
    assert_int_equal(vf_daemon_apply(&D, &m, err, sizeof(err)), 0);
    vf_model_free(&m);
    assert_non_null(vf_daemon_find_port(&D, "c"));
    /* c's frame to b is delivered to b */
    struct vf_daemon_port *pc = vf_daemon_find_port(&D, "c");
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    static const uint8_t sc[6] = {2, 0, 0, 0, 0, 0x0c}, db[6] = {2, 0, 0, 0, 0, 0x0b};
    memcpy(t.eth_src, sc, 6);
    memcpy(t.eth_dst, db, 6);
    t.ip4_src = 0x0a00000c;
    t.ip4_dst = 0x0a00000b;
    uint8_t buf[256];
    unsigned n = (unsigned)vf_tpkt_ip4_udp(buf, sizeof(buf), &t);
    struct vf_pkt *p = vf_pool_alloc(&gen_cache);
    vf_pkt_set(p, buf, n);
    assert_int_equal(vf_ring_port_inject(pc->port, 0, &p, 1), 1);
    struct vf_daemon_port *pb = vf_daemon_find_port(&D, "b");
    unsigned got = 0;
    for (unsigned i = 0; i < 2000 && !got; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        for (unsigned q = 0; q < pb->port->n_queues && !got; q++) {
            got = vf_ring_port_drain(pb->port, q, &p, 1);
            if (got)
                vf_pool_free(&gen_cache, p);
        }
    }
    assert_int_equal(got, 1);
    stop();
}

static void test_refused_change_leaves_state(void **state)
{
    (void)state;
    start("1");
    json_t *jb = vf_model_to_json(&D.model);
    char *before = json_dumps(jb, JSON_SORT_KEYS);
    json_decref(jb);
    uint64_t gen = D.generation;
    unsigned nports = D.n_ports;
    struct vf_model m;
    char err[512] = "";
    load(&m, extra_port, "2");     /* local.workers differs: refused */
    assert_int_equal(vf_daemon_apply(&D, &m, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "local.workers"));
    vf_model_free(&m);
    json_t *ja = vf_model_to_json(&D.model);
    char *after = json_dumps(ja, JSON_SORT_KEYS);
    json_decref(ja);
    assert_string_equal(before, after);
    assert_int_equal(D.generation, gen);
    assert_int_equal(D.n_ports, nports);
    assert_null(vf_daemon_find_port(&D, "c"));
    free(before);
    free(after);
    stop();
}

/* A thread that spins on one CPU until told to stop: whoever else runs
 * there has to wait for it. */
static atomic_bool hog_stop;
static void *hog(void *arg)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(*(int *)arg, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    while (!atomic_load_explicit(&hog_stop, memory_order_relaxed))
        ;
    return NULL;
}

/* One round of traffic: a burst a -> b, drained, then a pause long enough
 * for the worker to spin out and sleep. */
static void traffic_round(struct counts *c, uint32_t *sent)
{
    send_a_to_b(vf_daemon_find_port(&D, "a"), c, sent);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    drain(&D, c);
}

static uint64_t wstat(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Pins the calling thread to one cpu (only >= 0), or to every cpu but
 * `except`. */
static void pin_self(int only, int except)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (int c = 0; c < n && c < CPU_SETSIZE; c++)
        if (only >= 0 ? c == only : c != except)
            CPU_SET(c, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static uint64_t self_run_delay(void)
{
    unsigned long long run = 0, wait = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
            wait = 0;
        fclose(f);
    }
    return wait;
}

/* Does this kernel count run-queue waits (CONFIG_SCHED_INFO, and on old
 * kernels delay accounting)? Runs 50 ms on `cpu` beside a hog. */
static bool run_delay_counted(int cpu)
{
    pthread_t th;
    pin_self(cpu, -1);
    atomic_store(&hog_stop, false);
    assert_int_equal(pthread_create(&th, NULL, hog, &cpu), 0);
    uint64_t before = self_run_delay();
    for (double end = now_s() + 0.05; now_s() < end;)
        ;
    uint64_t after = self_run_delay();
    atomic_store(&hog_stop, true);
    pthread_join(th, NULL);
    pin_self(-1, -1);
    return after > before;
}

/* The adaptive spin (vf_worker.h, Idle): with a thread spinning on the
 * worker's CPU, the worker waits for its CPU and cuts its spin; once the
 * CPU is its own again, the spin grows back to idle_polls. The test thread
 * itself stays off the worker's CPU. */
static void test_spin_adapts_to_a_shared_cpu(void **state)
{
    (void)state;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        skip();   /* the test thread needs a CPU beside the worker's */
    start_opts("1", 1024, false);
    struct vf_worker *w = &D.workers[0];
    for (unsigned i = 0; i < 100 && !atomic_load(&D.pinned[0]); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);   /* the worker pins itself once started */
    }
    int cpu = w->cpu;
    if (cpu < 0 || !atomic_load(&D.pinned[0]) || !run_delay_counted(cpu)) {
        stop();
        skip();   /* no CPU to share, or a kernel that does not count waits */
    }
    pin_self(-1, cpu);
    struct counts c = {0};
    uint32_t sent = 0;
    pthread_t th;
    atomic_store(&hog_stop, false);
    assert_int_equal(pthread_create(&th, NULL, hog, &cpu), 0);
    for (double end = now_s() + 10; now_s() < end && wstat(&w->stats.spin_cuts) == 0;)
        traffic_round(&c, &sent);
    atomic_store(&hog_stop, true);
    pthread_join(th, NULL);
    assert_true(wstat(&w->stats.spin_cuts) > 0);

    uint64_t budget = 0;
    for (double end = now_s() + 10; now_s() < end && budget < 1024;) {
        traffic_round(&c, &sent);
        budget = wstat(&w->stats.spin_budget);
    }
    assert_int_equal(budget, 1024);
    for (unsigned i = 0; i < 2000 && c.got < sent; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        drain(&D, &c);
    }
    pin_self(-1, -1);
    assert_int_equal(c.got, sent);   /* and nothing was lost meanwhile */
    assert_int_equal(c.out_of_order, 0);
    stop();
}

/* fixed_spin: the same contention changes nothing. */
static void test_fixed_spin_stays(void **state)
{
    (void)state;
    start_opts("1", 1024, true);
    struct vf_worker *w = &D.workers[0];
    struct counts c = {0};
    uint32_t sent = 0;
    int cpu = w->cpu >= 0 ? w->cpu : 0;
    pthread_t th;
    atomic_store(&hog_stop, false);
    assert_int_equal(pthread_create(&th, NULL, hog, &cpu), 0);
    for (unsigned r = 0; r < 100; r++)
        traffic_round(&c, &sent);
    atomic_store(&hog_stop, true);
    pthread_join(th, NULL);
    assert_int_equal(wstat(&w->stats.spin_cuts), 0);
    assert_int_equal(wstat(&w->stats.spin_budget), 1024);
    assert_true(wstat(&w->stats.sleeps) > 0);
    stop();
}

/* vf_apply_check on another thread (as mgmt's job thread runs it), then
 * vf_apply on this one: the checked change applies from step 3 with the
 * diff the check made; a change the check refuses leaves the daemon as it
 * was and is freed by vf_change_free. */
struct check_job {
    struct vf_change c;
    int rc;
    char err[512];
};

static void *check_thread(void *arg)
{
    struct check_job *j = arg;
    j->rc = vf_apply_check(&D, &j->c, j->err, sizeof(j->err));
    return NULL;
}

static void test_checked_change_applies(void **state)
{
    struct check_job j = { .c = { .origin = VF_ORIGIN_RPC, .source = "t" } };
    struct vf_apply_result res;
    pthread_t th;
    char err[512] = "";
    uint64_t gen;

    (void)state;
    start("1");
    gen = D.generation;
    load(&j.c.model, extra_port, "1");
    assert_int_equal(pthread_create(&th, NULL, check_thread, &j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(j.rc, 0);
    assert_non_null(j.c.diff);
    json_t *diff = json_incref(j.c.diff);
    assert_int_equal(vf_apply(&D, &j.c, &res, err, sizeof(err)), 0);
    assert_true(res.applied);
    assert_ptr_equal(res.diff, diff);          /* not computed again */
    assert_null(j.c.diff);
    assert_int_equal(D.generation, gen + 1);
    assert_non_null(vf_daemon_find_port(&D, "c"));
    json_decref(res.diff);
    json_decref(diff);

    /* Refused by the check: nothing to apply, nothing changed. */
    memset(&j, 0, sizeof(j));
    j.c.source = "t";
    load(&j.c.model, "", "2");              /* local.workers differs */
    assert_int_equal(pthread_create(&th, NULL, check_thread, &j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(j.rc, -EINVAL);
    assert_non_null(strstr(j.err, "local.workers is this host's own setting"));
    assert_null(j.c.diff);
    vf_change_free(&j.c);
    assert_int_equal(D.generation, gen + 1);
    assert_non_null(vf_daemon_find_port(&D, "c"));
    stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_change_leaves_state),
        cmocka_unit_test(test_new_port_forwards),
        cmocka_unit_test(test_checked_change_applies),
        cmocka_unit_test(test_live_changes_keep_untouched_flows),
        cmocka_unit_test(test_spin_adapts_to_a_shared_cpu),
        cmocka_unit_test(test_fixed_spin_stays),
    };
    return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
