/* test_perfconfig.c - perf configs: the shipped files load, every bad knob
 * is refused with an error naming it, and a loaded config reaches the
 * running daemon (its workers and `vfabctl status` tuning object).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_perfconfig.h"
#include "mgmt/rpc/vf_rpc.h"

static int load_str(const char *y, struct vf_perfconfig *pc, char *err,
                    size_t errlen)
{
    return vf_perfconfig_load_string("t.yaml", y, strlen(y), pc, err, errlen);
}

static void test_shipped_configs_load(void **state)
{
    (void)state;
    static const char *const files[] = {"latency-first", "throughput-first",
                                        "many-tenants"};
    const char *src = getenv("VF_SOURCE_DIR");
    if (!src)
        src = ".";
    for (unsigned i = 0; i < 3; i++) {
        char path[512], err[512];
        struct vf_perfconfig pc;
        snprintf(path, sizeof(path), "%s/perf/configs/%s.yaml", src, files[i]);
        int rc = vf_perfconfig_load(path, &pc, err, sizeof(err));
        if (rc)
            fail_msg("%s: %s", path, err);
        /* Every shipped file states every knob, so none silently drifts. */
        assert_int_equal(pc.set, (1u << VF_PERF__COUNT) - 1);
        /* And its first line is the one-line "when to use it" comment. */
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[512];
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        assert_true(line[0] == '#' && strstr(line, "use"));
    }
}

static void test_values_parsed(void **state)
{
    (void)state;
    struct vf_perfconfig pc;
    char err[512];
    assert_int_equal(load_str("workers: [0, 1]\nburst: 16\ntx_flush: per-queue\n"
                              "uplink_rx: syscall\nidle_polls: 0\n"
                              "flow_cache_entries: 4096\n", &pc, err, sizeof(err)), 0);
    assert_int_equal(pc.workers.mode, VF_WORKERS_LIST);
    assert_int_equal(pc.workers.n_cpus, 2);
    assert_int_equal(pc.workers.cpus[1], 1);
    assert_int_equal(pc.burst, 16);
    assert_int_equal(pc.tx_flush, VF_PERF_FLUSH_PER_QUEUE);
    assert_int_equal(pc.uplink_rx, VF_UDP_RX_SYSCALL);
    assert_int_equal(pc.idle_polls, 0);
    assert_true(pc.set & (1u << VF_PERF_IDLE_POLLS));
    assert_false(pc.set & (1u << VF_PERF_POOL_BUFS));

    struct vf_daemon_opts o = {.pool_bufs = 777, .idle_polls = 5};
    vf_perfconfig_to_opts(&pc, &o);
    assert_int_equal(o.pool_bufs, 777);          /* not in the file: kept */
    assert_int_equal(o.idle_polls, 0);
    assert_false(o.fixed_spin);                  /* not in the file: default */
    assert_int_equal(o.burst, 16);
    assert_true(o.flush_per_queue);
    assert_true(o.has_workers);
    assert_true(o.has_udp);
    assert_int_equal(o.udp.rx_mode, VF_UDP_RX_SYSCALL);
    assert_int_equal(o.udp.burst, 16);
    assert_int_equal(o.udp.ring_depth, VF_UDP_DEPTH_DEFAULT);
    assert_string_equal(o.tuning_source, "t.yaml");

    /* An empty file (comments only) is every default. */
    assert_int_equal(load_str("# nothing\n", &pc, err, sizeof(err)), 0);
    assert_int_equal(pc.set, 0);
}

/* Each bad file must be refused and the message must name the knob (or
 * the problem) and the line. */
static void test_bad_knobs_refused(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want1, *want2;
    } cases[] = {
        {"bust: 32\n", "unknown knob 'bust'", "known knobs: workers, burst"},
        {"burst: 0\n", "burst: '0' is not allowed", "1..64"},
        {"burst: 65\n", "burst", "1..64"},
        {"burst: 32k\n", "burst: '32k'", "1..64"},
        {"burst: -4\n", "burst: '-4'", "1..64"},
        {"ring_size: 1000\n", "ring_size: '1000'", "power of two"},
        {"uplink_depth: 8192\n", "uplink_depth", "8..4096"},
        {"tx_flush: sometimes\n", "tx_flush: 'sometimes'", "per-poll or per-queue"},
        {"hugepages: yes\n", "hugepages: 'yes'", "auto or required"},
        {"uplink_rx: epoll\n", "uplink_rx: 'epoll'", "multishot or syscall"},
        {"send_zc: 1\n", "send_zc: '1'", "true or false"},
        {"idle_spin: sometimes\n", "idle_spin: 'sometimes'", "adaptive or fixed"},
        {"workers: 0\n", "workers: '0'", "auto, a count"},
        {"workers: [0, 0]\n", "cpu 0 is listed twice", "t.yaml:1"},
        {"workers: []\n", "cpu list is empty", "t.yaml:1"},
        {"burst: {a: 1}\n", "burst: 'a mapping or list'", "1..64"},
        {"fixed_bufs: true\n", "fixed_bufs: true needs send_zc: true", "t.yaml:1"},
        {"uplink_rx: syscall\nsend_zc: true\n", "send_zc: true needs uplink_rx: multishot", "t.yaml:2"},
        {"pool_bufs: 2048\nuplink_depth: 1024\n", "pool_bufs: 2048 is too small", "t.yaml:1"},
        {"burst: 8\nburst: 16\n", "burst is given twice", "t.yaml:2"},
        {"- burst\n", "expected a mapping", "t.yaml:1"},
        {"burst: [\n", "YAML syntax error", "t.yaml:"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vf_perfconfig pc;
        char err[1024];
        int rc = load_str(cases[i].yaml, &pc, err, sizeof(err));
        if (rc != -EINVAL || !strstr(err, cases[i].want1) ||
            !strstr(err, cases[i].want2))
            fail_msg("case %u (%s): rc %d, err '%s'", i, cases[i].yaml, rc, err);
    }
    char err[256];
    struct vf_perfconfig pc;
    assert_int_equal(vf_perfconfig_load("/nonexistent/p.yaml", &pc, err,
                                        sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/p.yaml"));
}

/* The knobs reach the daemon: workers override the state's local.workers,
 * each worker gets the burst and flush policy, and status reports them. */
static void test_daemon_runs_with_tuning(void **state)
{
    (void)state;
    static const char *yaml =
        "chassis:\n"
        "  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
        "tenants:\n"
        "  - name: blue\n"
        "    switches:\n"
        "      - name: web\n"
        "        vni: 100\n"
        "        ports:\n"
        "          - {name: a, mac: '02:00:00:00:00:0a', ips: [10.0.0.10], chassis: hv1}\n"
        "local: {chassis: hv1, workers: 2, uplink: {type: ring}}\n";
    struct vf_model m;
    char err[512];
    assert_int_equal(vf_config_load_string(yaml, strlen(yaml), &m, err, sizeof(err)), 0);
    struct vf_perfconfig pc;
    assert_int_equal(load_str("workers: 1\nburst: 8\ntx_batch: 4\n"
                              "tx_flush: per-queue\nring_size: 256\n"
                              "pool_bufs: 4096\nflow_cache_entries: 2048\n"
                              "idle_polls: 16\nidle_spin: fixed\n", &pc, err, sizeof(err)), 0);
    struct vf_daemon_opts o = {0};
    vf_perfconfig_to_opts(&pc, &o);
    static struct vf_daemon d;
    int rc = vf_daemon_start(&d, &m, &o, err, sizeof(err));
    if (rc)
        fail_msg("start: %s", err);
    assert_int_equal(d.n_workers, 1);
    assert_int_equal(d.model.local.workers.count, 2);   /* the state is untouched */
    assert_int_equal(d.workers[0].rx_burst, 8);
    assert_int_equal(d.workers[0].tx_batch, 4);
    assert_true(d.workers[0].flush_per_queue);
    assert_int_equal(d.workers[0].idle_polls_before_sleep, 16);
    assert_true(d.workers[0].fixed_spin);

    struct vf_rpc_error rerr = {0};
    json_t *st = vf_rpc_status(&d, NULL, &rerr);
    assert_non_null(st);
    json_t *t = json_object_get(st, "tuning");
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(t, "source")), "t.yaml");
    assert_int_equal(json_integer_value(json_object_get(t, "workers")), 1);
    assert_int_equal(json_integer_value(json_object_get(t, "burst")), 8);
    assert_int_equal(json_integer_value(json_object_get(t, "tx_batch")), 4);
    assert_string_equal(json_string_value(json_object_get(t, "tx_flush")), "per-queue");
    assert_int_equal(json_integer_value(json_object_get(t, "ring_size")), 256);
    assert_int_equal(json_integer_value(json_object_get(t, "pool_bufs")), 4096);
    assert_int_equal(json_integer_value(json_object_get(t, "flow_cache_entries")), 2048);
    assert_int_equal(json_integer_value(json_object_get(t, "idle_polls")), 16);
    assert_string_equal(json_string_value(json_object_get(t, "idle_spin")), "fixed");
    json_t *w0 = json_array_get(json_object_get(st, "workers"), 0);
    assert_int_equal(json_integer_value(json_object_get(w0, "spin_budget")), 16);
    assert_non_null(json_object_get(w0, "spin_cuts"));
    json_t *up = json_object_get(t, "uplink");
    assert_string_equal(json_string_value(json_object_get(up, "type")), "ring");
    json_decref(st);
    vf_daemon_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_configs_load),
        cmocka_unit_test(test_values_parsed),
        cmocka_unit_test(test_bad_knobs_refused),
        cmocka_unit_test(test_daemon_runs_with_tuning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
