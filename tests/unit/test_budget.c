/* test_budget.c - pool budgets (mgmt/daemon/vf_budget.h) in a whole vfabd.
 *
 * The property under test (issue 12, item 1): a tenant queue that nobody
 * drains costs that port its own packets, never another tenant's or the
 * underlay's. A vfabd in this process receives Geneve over its real UDP
 * uplink on loopback; one tenant port's reader never reads, another
 * tenant's port is read. Every datagram is received, the other tenant gets
 * every packet, and the stalled port holds exactly its tx limit and drops
 * exactly the rest as tx_queue_full on that port.
 *
 * Then the plan itself: the invariant holds as ports come and go, budgets
 * shrink and grow with the port count, and a pool too small for the ports
 * is refused at start and on a live change, with a message that says what
 * to raise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/daemon/vf_budget.h"
#include "mgmt/daemon/vf_daemon.h"
#include "tests/unit/vf_test_pkt.h"

#define N_EACH 3000u        /* datagrams to each of the two ports */
#define CHUNK 50u           /* sent per tenant before waiting for the worker */
#define WAIT_MS 5000u       /* bound on each wait */

static struct vf_daemon D;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A UDP port nobody holds now (a race with other programs is possible but
 * harmless: the start then fails loudly, naming the address). */
static unsigned free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Two tenants, one port each on hv1 (this host) and one each on hv2 (the
 * sender, 127.0.0.2). */
static void start_udp(unsigned port, unsigned pool_bufs, unsigned ring_size)
{
    char y[2048], err[512];
    snprintf(y, sizeof(y),
             "chassis:\n"
             "  - {name: hv1, underlay_ip: 127.0.0.1, port: %u, encap: geneve}\n"
             "  - {name: hv2, underlay_ip: 127.0.0.2, encap: geneve}\n"
             "tenants:\n"
             "  - name: blue\n"
             "    switches:\n"
             "      - name: bw\n"
             "        vni: 100\n"
             "        ports:\n"
             "          - {name: stuck, mac: '02:00:00:00:00:0a', ips: [10.0.0.10], chassis: hv1}\n"
             "          - {name: b2, mac: '02:00:00:00:00:1a', ips: [10.0.0.20], chassis: hv2}\n"
             "  - name: red\n"
             "    switches:\n"
             "      - name: rw\n"
             "        vni: 200\n"
             "        ports:\n"
             "          - {name: live, mac: '02:00:00:00:00:0b', ips: [10.0.0.10], chassis: hv1}\n"
             "          - {name: r2, mac: '02:00:00:00:00:1b', ips: [10.0.0.20], chassis: hv2}\n"
             "local: {chassis: hv1, workers: 1, uplink: {type: udp, bind: '127.0.0.1'}}\n",
             port);
    struct vf_model m;
    memset(&m, 0, sizeof(m));
    if (vf_config_load_string(y, strlen(y), &m, err, sizeof(err)))
        fail_msg("config: %s", err);
    struct vf_daemon_opts o = {.pool_bufs = pool_bufs, .ring_size = ring_size,
                               .idle_polls = 64};
    if (vf_daemon_start(&D, &m, &o, err, sizeof(err)))
        fail_msg("start: %s", err);
}

/* Geneve (no options) carrying UDP from hv2's VM to dst_mac, seq in the
 * payload. Returns the datagram's length. */
static size_t geneve(uint8_t *buf, size_t cap, unsigned vni,
                     const uint8_t *dst_mac, const uint8_t *src_mac,
                     uint32_t seq)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    memcpy(t.eth_dst, dst_mac, 6);
    memcpy(t.eth_src, src_mac, 6);
    t.ip4_src = 0x0a000014;
    t.ip4_dst = 0x0a00000a;
    uint8_t pl[8];
    memcpy(pl, &seq, 4);
    memcpy(pl + 4, "SEQ!", 4);
    t.payload = pl;
    t.payload_len = sizeof(pl);
    uint8_t *g = buf;
    memset(g, 0, 8);
    g[2] = 0x65;                    /* protocol: Ethernet (0x6558) */
    g[3] = 0x58;
    g[4] = (uint8_t)(vni >> 16);
    g[5] = (uint8_t)(vni >> 8);
    g[6] = (uint8_t)vni;
    size_t n = vf_tpkt_ip4_udp(buf + 8, cap - 8, &t);
    assert_true(n > 0);
    return 8 + n;
}

static void port_stats(const char *name, struct vf_port_stats *s)
{
    if (!strcmp(name, "uplink")) {
        vf_port_stats_sum(D.uplink, s);
        return;
    }
    struct vf_daemon_port *dp = vf_daemon_find_port(&D, name);
    assert_non_null(dp);
    vf_port_stats_sum(dp->port, s);
}

/* Takes what the worker delivered to `live`: counts it, checks the
 * sequence (one flow, in order), frees it. */
static void drain_live(uint32_t *next, uint64_t *wrong)
{
    struct vf_daemon_port *dp = vf_daemon_find_port(&D, "live");
    struct vf_pkt *pk[64];
    unsigned n;
    for (unsigned q = 0; q < dp->port->n_queues; q++)
        while ((n = vf_ring_port_drain(dp->port, q, pk, 64)) > 0) {
            for (unsigned k = 0; k < n; k++) {
                const uint8_t *f = vf_pkt_data(pk[k]);
                uint32_t seq;
                memcpy(&seq, f + pk[k]->len - 8, 4);
                if (memcmp(f + pk[k]->len - 4, "SEQ!", 4) || seq != *next)
                    (*wrong)++;
                *next = seq + 1;
            }
            vf_pool_free_burst(&D.mgmt_cache, pk, n);
        }
}

static void test_stalled_port_costs_only_itself(void **state)
{
    (void)state;
    static const uint8_t stuck_mac[6] = {2, 0, 0, 0, 0, 0x0a},
                         live_mac[6] = {2, 0, 0, 0, 0, 0x0b},
                         b2_mac[6] = {2, 0, 0, 0, 0, 0x1a},
                         r2_mac[6] = {2, 0, 0, 0, 0, 0x1b};
    unsigned port = free_udp_port();
    /* Rings as large as the pool: without a budget the stalled port alone
     * could take every buffer. */
    start_udp(port, 4096, 4096);
    struct vf_daemon_port *stuck = vf_daemon_find_port(&D, "stuck");
    assert_non_null(stuck);
    uint32_t limit = vf_port_tx_limit(stuck->port);
    assert_true(limit >= VF_BUDGET_MIN && limit < N_EACH);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in src = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(0x7f000002)};
    struct sockaddr_in dst = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)port)};
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);

    uint8_t buf[256];
    uint32_t next = 0;
    uint64_t wrong = 0, sent = 0;
    struct vf_port_stats up;
    for (uint32_t base = 0; base < N_EACH; base += CHUNK) {
        for (uint32_t k = base; k < base + CHUNK; k++) {
            size_t n = geneve(buf, sizeof(buf), 100, stuck_mac, b2_mac, k);
            assert_int_equal(sendto(fd, buf, n, 0, (struct sockaddr *)&dst,
                                    sizeof(dst)), (ssize_t)n);
            n = geneve(buf, sizeof(buf), 200, live_mac, r2_mac, k);
            assert_int_equal(sendto(fd, buf, n, 0, (struct sockaddr *)&dst,
                                    sizeof(dst)), (ssize_t)n);
            sent += 2;
        }
        /* Pace on the worker, so the socket buffer never overflows: wait
         * until every datagram is accounted for at the uplink. */
        for (unsigned ms = 0; ms < WAIT_MS; ms++) {
            drain_live(&next, &wrong);
            port_stats("uplink", &up);
            if (up.rx_pkts + up.no_buffer + up.rx_errors >= sent)
                break;
            sleep_ms(1);
        }
    }
    /* The worker finishes what it received. */
    for (unsigned ms = 0; ms < WAIT_MS && next < N_EACH && !wrong; ms++) {
        drain_live(&next, &wrong);
        sleep_ms(1);
    }
    close(fd);

    port_stats("uplink", &up);
    assert_int_equal(up.rx_pkts, 2 * N_EACH);   /* the underlay lost nothing */
    assert_int_equal(up.no_buffer, 0);
    assert_int_equal(up.rx_errors, 0);
    assert_int_equal(wrong, 0);                  /* the other tenant neither */
    assert_int_equal(next, N_EACH);
    struct vf_port_stats ls, ss;
    port_stats("live", &ls);
    assert_int_equal(ls.tx_pkts, N_EACH);
    assert_int_equal(ls.tx_drops + ls.no_buffer, 0);
    /* The stalled port holds exactly its limit, and the rest is counted on
     * it, under one reason. */
    port_stats("stuck", &ss);
    assert_int_equal(ss.tx_pkts, limit);
    assert_int_equal(ss.tx_drops, N_EACH - limit);
    uint64_t drops[VF_DROP__COUNT];
    vf_daemon_drops(&D, drops);
    for (unsigned r = 1; r < VF_DROP__COUNT; r++)
        assert_int_equal(drops[r], r == VF_DROP_TX_FULL ? N_EACH - limit : 0);
    /* What it holds are the first `limit` packets, in order. */
    struct vf_pkt *pk[64];
    unsigned n, held = 0;
    while ((n = vf_ring_port_drain(stuck->port, 0, pk, 64)) > 0) {
        for (unsigned k = 0; k < n; k++, held++) {
            uint32_t seq;
            memcpy(&seq, vf_pkt_data(pk[k]) + pk[k]->len - 8, 4);
            assert_int_equal(seq, held);
        }
        vf_pool_free_burst(&D.mgmt_cache, pk, n);
    }
    assert_int_equal(held, limit);
    vf_daemon_stop(&D);
}

/* fixed + sum over tenant ports of (rx_hold + tx limit) <= pool_bufs, and
 * every tenant port's limit is the plan's (or its own tx_hold). */
static void check_invariant(const struct vf_daemon *d, unsigned *n_tenant,
                            uint32_t *limit)
{
    struct vf_budget b;
    char err[512];
    assert_int_equal(vf_budget_plan(d, &b, err, sizeof(err)), 0);
    uint64_t sum = b.fixed;
    *n_tenant = 0;
    for (unsigned i = 0; i < d->n_ports; i++) {
        const struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || dp->port == d->uplink)
            continue;
        uint32_t l = vf_port_tx_limit(dp->port);
        assert_int_equal(l, b.tx_budget < dp->port->tx_hold ? b.tx_budget
                                                            : dp->port->tx_hold);
        assert_true(l >= VF_BUDGET_MIN);
        sum += dp->port->rx_hold + l;
        *limit = l;
        (*n_tenant)++;
    }
    assert_true(sum <= b.pool_bufs);
    struct vf_pool_info pi;
    vf_pool_get_info(d->pools[0], &pi);
    assert_int_equal(pi.reserve, b.reserve);
}

static const char *ring_yaml =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: web\n"
    "        vni: 100\n"
    "        ports:\n"
    "%s"
    "local: {chassis: hv1, workers: 1, uplink: {type: ring}}\n";

/* n (<= 255) ring ports p0..p(n-1) on hv1. */
static void ring_model(struct vf_model *m, unsigned n)
{
    static char ports[256 * 96], y[256 * 96 + 512];
    char err[512];
    size_t off = 0;
    for (unsigned i = 0; i < n; i++)
        off += (size_t)snprintf(ports + off, sizeof(ports) - off,
                                "          - {name: p%u, mac: '02:00:00:00:01:%02x', "
                                "chassis: hv1}\n", i, i);
    snprintf(y, sizeof(y), ring_yaml, ports);
    memset(m, 0, sizeof(*m));
    if (vf_config_load_string(y, strlen(y), m, err, sizeof(err)))
        fail_msg("config: %s", err);
}

static void test_budgets_follow_the_ports(void **state)
{
    (void)state;
    struct vf_model m;
    char err[512];
    unsigned n;
    uint32_t l4, l20, l4again;

    ring_model(&m, 4);
    struct vf_daemon_opts o = {.pool_bufs = 4096, .ring_size = 1024,
                               .idle_polls = 64};
    if (vf_daemon_start(&D, &m, &o, err, sizeof(err)))
        fail_msg("start: %s", err);
    check_invariant(&D, &n, &l4);
    assert_int_equal(n, 4);
    ring_model(&m, 20);
    assert_int_equal(vf_daemon_apply(&D, &m, err, sizeof(err)), 0);
    check_invariant(&D, &n, &l20);
    assert_int_equal(n, 20);
    assert_true(l20 < l4);                   /* more ports: smaller shares */
    ring_model(&m, 4);
    assert_int_equal(vf_daemon_apply(&D, &m, err, sizeof(err)), 0);
    check_invariant(&D, &n, &l4again);
    assert_int_equal(l4again, l4);           /* and back when they leave */

    /* A change whose ports the pool cannot hold is refused whole. */
    ring_model(&m, 100);
    assert_int_equal(vf_daemon_apply(&D, &m, err, sizeof(err)), -ENOSPC);
    assert_non_null(strstr(err, "pool_bufs: 4096 buffers per worker"));
    assert_non_null(strstr(err, "raise pool_bufs"));
    vf_model_free(&m);
    assert_null(vf_daemon_find_port(&D, "p4"));
    check_invariant(&D, &n, &l4again);
    assert_int_equal(n, 4);
    assert_int_equal(l4again, l4);
    vf_daemon_stop(&D);

    /* The same at start: refused, with the number to raise it to. */
    ring_model(&m, 100);
    int rc = vf_daemon_start(&D, &m, &o, err, sizeof(err));
    vf_model_free(&m);
    assert_int_equal(rc, -ENOSPC);
    assert_non_null(strstr(err, "too few for 100 local ports"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_port_costs_only_itself),
        cmocka_unit_test(test_budgets_follow_the_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
