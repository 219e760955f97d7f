/* test_daemon_vhost.c - a vhost-user port in a whole vfabd in-process,
 * with no VM: what the daemon does with the port before and without a
 * guest (tests/integration/t_vhost_vfabd.sh has the real QEMU guests).
 *
 *   - vf_apply opens a vhost-user port without waiting for its VM: in
 *     server mode the socket file is there and the device listens; in
 *     client mode it waits to connect (nobody serves the socket);
 *   - frames for it while no guest is connected are dropped as port_down
 *     (not tx_queue_full), and its counters say so;
 *   - a port removed by vf_apply is closed: a server's socket file goes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fabric/vf_port_vhost.h"
#include "mgmt/daemon/vf_daemon.h"
#include "numa/vf_drop.h"
#include "tests/unit/vf_test_pkt.h"

static const char *yaml_fmt =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: web\n"
    "        vni: 100\n"
    "        ports:\n"
    "          - {name: a, mac: '02:00:00:00:00:0a', ips: [10.0.0.10], chassis: hv1}\n"
    "%s"
    "local: {chassis: hv1, workers: 1, uplink: {type: ring}}\n";

static char dir[64], sock[128];
static struct vf_daemon D;

static void load(struct vf_model *m, const char *mode)
{
    char port[512] = "", y[2048], err[512];
    if (mode)
        snprintf(port, sizeof(port), "          - {name: v, mac: "
                 "'02:00:00:00:00:0b', ips: [10.0.0.11], chassis: hv1, "
                 "attach: {type: vhost-user, socket: '%s', mode: %s}}\n",
                 sock, mode);
    snprintf(y, sizeof(y), yaml_fmt, port);
    memset(m, 0, sizeof(*m));
    if (vf_config_load_string(y, strlen(y), m, err, sizeof(err)))
        fail_msg("config: %s", err);
}

static void apply(const char *mode)
{
    struct vf_model m;
    char err[512];
    load(&m, mode);
    if (vf_daemon_apply(&D, &m, err, sizeof(err)))
        fail_msg("apply: %s", err);
    vf_model_free(&m);
}

static bool is_socket(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static uint64_t drops(unsigned reason)
{
    uint64_t total[VF_DROP__COUNT];
    vf_daemon_drops(&D, total);
    return total[reason];
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_port_without_guest(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/vfdvhost.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/v.sock", dir);

    struct vf_model m;
    char err[512], e2[256];
    load(&m, "server");
    struct vf_daemon_opts o = {.pool_bufs = 4096, .ring_size = 1024,
                               .idle_polls = 64};
    if (vf_daemon_start(&D, &m, &o, err, sizeof(err)))
        fail_msg("start: %s", err);
    vf_model_free(&m);
    struct vf_pool *gp = vf_pool_create(NULL, -1, 64, VF_PKT_DEFAULT_DATA_ROOM,
                                        e2, sizeof(e2));
    assert_non_null(gp);
    struct vf_pool_cache gc;
    vf_pool_cache_init(&gc, gp);

    /* Server mode: open at apply, listening, the socket file there. */
    struct vf_daemon_port *v = vf_daemon_find_port(&D, "v");
    assert_non_null(v);
    struct vf_vhost_dev *dev = vf_vhost_port_dev(v->port);
    assert_non_null(dev);
    assert_int_equal(vf_vhost_dev_state(dev), VF_VHOST_LISTENING);
    assert_true(is_socket(sock));
    assert_true(vf_port_has(v->port, VF_PORT_CAP_FAR_DOWN));
    assert_false(vf_port_has(v->port, VF_PORT_CAP_GSO_TX));

    /* a -> v while no guest is there: port_down, not tx_queue_full. */
    struct vf_daemon_port *a = vf_daemon_find_port(&D, "a");
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    static const uint8_t sa[6] = {2, 0, 0, 0, 0, 0x0a}, dv[6] = {2, 0, 0, 0, 0, 0x0b};
    memcpy(t.eth_src, sa, 6);
    memcpy(t.eth_dst, dv, 6);
    t.ip4_src = 0x0a00000a;
    t.ip4_dst = 0x0a00000b;
    uint8_t buf[256];
    unsigned n = (unsigned)vf_tpkt_ip4_udp(buf, sizeof(buf), &t);
    for (unsigned k = 0; k < 3; k++) {
        struct vf_pkt *p = vf_pool_alloc(&gc);
        assert_non_null(p);
        vf_pkt_set(p, buf, n);
        assert_int_equal(vf_ring_port_inject(a->port, 0, &p, 1), 1);
    }
    for (unsigned i = 0; i < 5000 && drops(VF_DROP_PORT_DOWN) < 3; i++)
        sleep_ms(1);
    assert_int_equal(drops(VF_DROP_PORT_DOWN), 3);
    assert_int_equal(drops(VF_DROP_TX_FULL), 0);
    struct vf_port_stats ps;
    vf_port_stats_sum(v->port, &ps);
    assert_int_equal(ps.tx_drops, 3);
    assert_int_equal(ps.tx_pkts, 0);

    /* Removed by apply: closed, its socket file gone. */
    apply(NULL);
    assert_null(vf_daemon_find_port(&D, "v"));
    assert_false(is_socket(sock));

    /* Client mode, nobody serving the socket: opened all the same. */
    apply("client");
    v = vf_daemon_find_port(&D, "v");
    assert_non_null(v);
    dev = vf_vhost_port_dev(v->port);
    assert_non_null(dev);
    vf_vhost_dev_service(dev);             /* the first attempt */
    assert_int_equal(vf_vhost_dev_state(dev), VF_VHOST_WAITING);
    assert_true(vf_vhost_dev_timeout_ms(dev) > 0);
    assert_false(is_socket(sock));

    vf_daemon_stop(&D);
    vf_pool_cache_flush(&gc);
    assert_int_equal(vf_pool_in_use(gp), 0);
    vf_pool_destroy(gp);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_without_guest),
    };
    return cmocka_run_group_tests_name("daemon_vhost", tests, NULL, NULL);
}
