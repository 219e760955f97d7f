/* test_port_packet.c - the physical network port (fabric/vf_port_packet.h)
 * on a real veth pair: one end in the root namespace carries the port, the
 * other sits in a namespace of the test's own with an address (the
 * "outside"), tx offload off so its frames carry whole checksums.
 *
 * rx: a datagram the outside sends reaches rx_burst byte for byte.
 * tx: an ICMP echo request the port sends is answered by the outside's
 * kernel, and the reply comes back through rx_burst. Two queues: the
 * fanout gives each frame to exactly one queue (never both), and what one
 * queue sends is never received by the other. A frame longer than a slot
 * is refused and counted. Needs root (exit 77 with a reason otherwise).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "fabric/vf_port_packet.h"
#include "numa/vf_pool.h"

static char g_ns[64], g_in[IFNAMSIZ], g_out[IFNAMSIZ];
static const uint8_t MY_MAC[6] = {0x02, 0, 0, 0, 0x77, 0x02};  /* 10.9.0.2 */
static uint8_t g_out_mac[6];

static __attribute__((format(printf, 1, 2))) int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void cleanup_all(void)
{
    sh("ip netns del %s 2>/dev/null", g_ns);
    sh("ip link del %s 2>/dev/null", g_in);
}

static int ns_socket(int domain, int type, int proto)
{
    char path[128];
    snprintf(path, sizeof(path), "/var/run/netns/%s", g_ns);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    int s = -1;
    if (self >= 0 && nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0) {
        s = socket(domain, type | SOCK_CLOEXEC, proto);
        if (setns(self, CLONE_NEWNET) != 0)
            abort();
    }
    if (self >= 0)
        close(self);
    if (nsfd >= 0)
        close(nsfd);
    return s;
}

static int read_out_mac(void)
{
    char cmd[256], line[64];
    snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /sys/class/net/%s/address",
             g_ns, g_out);
    FILE *f = popen(cmd, "r");
    unsigned m[6];
    if (!f)
        return -1;
    int ok = fgets(line, sizeof(line), f) &&
             sscanf(line, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
                    &m[4], &m[5]) == 6;
    pclose(f);
    for (int i = 0; ok && i < 6; i++)
        g_out_mac[i] = (uint8_t)m[i];
    return ok ? 0 : -1;
}

struct env {
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    struct vf_port *port;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char err[256];
    if (!e)
        return -1;
    e->pool = vf_pool_create(NULL, -1, 1024, VF_PKT_DEFAULT_DATA_ROOM, err,
                             sizeof(err));
    if (!e->pool)
        return -1;
    vf_pool_cache_init(&e->cache, e->pool);
    if (sh("ip netns add %s", g_ns) ||
        sh("ip link add %s type veth peer name %s", g_in, g_out) ||
        sh("ip link set %s netns %s", g_out, g_ns) ||
        sh("ip link set %s up", g_in) ||
        sh("ip netns exec %s ip link set %s up", g_ns, g_out) ||
        sh("ip netns exec %s ip addr add 10.9.0.1/24 dev %s", g_ns, g_out) ||
        sh("ip netns exec %s ethtool -K %s tx off >/dev/null", g_ns, g_out) ||
        sh("ip netns exec %s ip neigh replace 10.9.0.2 lladdr "
           "02:00:00:00:77:02 dev %s", g_ns, g_out) ||
        read_out_mac())
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    vf_port_close(e->port);
    vf_pool_cache_flush(&e->cache);
    unsigned leaked = vf_pool_in_use(e->pool);
    vf_pool_destroy(e->pool);
    free(e);
    cleanup_all();
    return leaked ? -1 : 0;
}

/* Receives on every queue until a frame matching want() comes or ~2 s of
 * polls pass (bounded; never a timing assertion). Returns the count of
 * matching frames per queue in got[] and frees everything. */
static void rx_until(struct env *e, bool (*want)(const uint8_t *, uint32_t),
                     unsigned need, unsigned got[2], uint8_t *copy,
                     uint32_t *copy_len)
{
    unsigned total = 0;
    got[0] = got[1] = 0;
    for (int round = 0; round < 200 && total < need; round++) {
        struct pollfd pf[2];
        for (unsigned q = 0; q < e->port->n_queues; q++)
            pf[q] = (struct pollfd){ .fd = e->port->ops->wait_fd(e->port, q),
                                     .events = POLLIN };
        poll(pf, e->port->n_queues, 10);
        for (unsigned q = 0; q < e->port->n_queues; q++) {
            struct vf_pkt *b[32];
            unsigned n = vf_port_rx_burst(e->port, q, b, 32, &e->cache);
            for (unsigned i = 0; i < n; i++) {
                assert_int_equal(b[i]->port, e->port->index);
                if (want(vf_pkt_data(b[i]), b[i]->len)) {
                    got[q]++;
                    total++;
                    if (copy && copy_len) {
                        memcpy(copy, vf_pkt_data(b[i]), b[i]->len);
                        *copy_len = b[i]->len;
                    }
                }
            }
            vf_pool_free_burst(&e->cache, b, n);
        }
    }
}

static bool is_udp_to_7000(const uint8_t *f, uint32_t len)
{
    return len >= 42 && f[12] == 0x08 && f[13] == 0 && f[23] == 17 &&
           f[36] == 0x1b && f[37] == 0x58;
}

static int send_udp(unsigned count)
{
    int s = ns_socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(7000),
                               .sin_addr.s_addr = htonl(0x0a090002) };
    if (s < 0)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        /* A socket per datagram: a new source port, a new flow. */
        int t = i ? ns_socket(AF_INET, SOCK_DGRAM, 0) : s;
        char msg[32];
        int n = snprintf(msg, sizeof(msg), "hello %u", i);
        if (t < 0 || sendto(t, msg, (size_t)n, 0, (struct sockaddr *)&dst,
                            sizeof(dst)) != n)
            return -1;
        if (t != s)
            close(t);
    }
    close(s);
    return 0;
}

static void test_rx(void **state)
{
    struct env *e = *state;
    char err[256];
    uint8_t f[2048];
    uint32_t len = 0;
    unsigned got[2];

    e->port = vf_packet_port_open("ext", g_in, 1, NULL, err, sizeof(err));
    if (!e->port)
        fail_msg("open: %s", err);
    assert_int_equal(send_udp(1), 0);
    rx_until(e, is_udp_to_7000, 1, got, f, &len);
    assert_int_equal(got[0], 1);
    assert_memory_equal(f, MY_MAC, 6);
    assert_memory_equal(f + 6, g_out_mac, 6);
    assert_int_equal(len, 14 + 20 + 8 + 7);
    assert_memory_equal(f + 42, "hello 0", 7);
    struct vf_port_stats st;
    vf_port_stats_sum(e->port, &st);
    assert_true(st.rx_pkts >= 1);
    assert_int_equal(st.rx_errors, 0);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static bool is_echo_reply(const uint8_t *f, uint32_t len)
{
    return len >= 42 && f[12] == 0x08 && f[13] == 0 && f[23] == 1 &&
           f[34] == 0 && f[38] == 0x12 && f[39] == 0x34;
}

/* Builds an echo request 10.9.0.2 -> 10.9.0.1 in a pool packet. */
static struct vf_pkt *echo_request(struct env *e)
{
    struct vf_pkt *p = vf_pool_alloc(&e->cache);
    uint8_t *f;
    assert_non_null(p);
    f = vf_pkt_data(p);
    memset(f, 0, 14 + 20 + 16);
    memcpy(f, g_out_mac, 6);
    memcpy(f + 6, MY_MAC, 6);
    f[12] = 0x08;
    f[14] = 0x45;
    f[17] = 20 + 16;
    f[22] = 64;
    f[23] = 1;
    uint8_t src[4] = {10, 9, 0, 2}, dst[4] = {10, 9, 0, 1};
    memcpy(f + 26, src, 4);
    memcpy(f + 30, dst, 4);
    uint16_t c = htons(csum(f + 14, 20));
    memcpy(f + 24, &c, 2);
    f[34] = 8;                  /* echo request */
    f[38] = 0x12;               /* id */
    f[39] = 0x34;
    f[41] = 1;                  /* seq */
    memcpy(f + 42, "vfabping", 8);
    c = htons(csum(f + 34, 16));
    memcpy(f + 36, &c, 2);
    p->len = 14 + 20 + 16;
    return p;
}

static void test_tx_echo(void **state)
{
    struct env *e = *state;
    char err[256];
    unsigned got[2];

    e->port = vf_packet_port_open("ext", g_in, 1, NULL, err, sizeof(err));
    if (!e->port)
        fail_msg("open: %s", err);
    struct vf_pkt *p = echo_request(e);
    assert_int_equal(vf_port_tx_burst(e->port, 0, &p, 1, &e->cache), 1);
    rx_until(e, is_echo_reply, 1, got, NULL, NULL);
    assert_int_equal(got[0], 1);
    struct vf_port_stats st;
    vf_port_stats_sum(e->port, &st);
    assert_int_equal(st.tx_pkts, 1);
    assert_int_equal(st.tx_drops, 0);
}

/* With two queues each frame reaches one of them, and what queue 0 sends
 * does not come back on queue 1 (no loop through our own sockets). */
static void test_fanout(void **state)
{
    struct env *e = *state;
    char err[256];
    unsigned got[2];

    e->port = vf_packet_port_open("ext", g_in, 2, NULL, err, sizeof(err));
    if (!e->port)
        fail_msg("open: %s", err);
    assert_true(vf_port_has(e->port, VF_PORT_CAP_MQ_RX));
    assert_int_equal(send_udp(40), 0);
    rx_until(e, is_udp_to_7000, 40, got, NULL, NULL);
    assert_int_equal(got[0] + got[1], 40);
    /* Every further poll finds no copy of them. */
    unsigned more[2];
    rx_until(e, is_udp_to_7000, 1, more, NULL, NULL);
    assert_int_equal(more[0] + more[1], 0);

    /* The outside's reply to queue 0's request reaches one queue. */
    struct vf_pkt *p = echo_request(e);
    assert_int_equal(vf_port_tx_burst(e->port, 0, &p, 1, &e->cache), 1);
    rx_until(e, is_echo_reply, 1, got, NULL, NULL);
    assert_int_equal(got[0] + got[1], 1);
}

static bool is_echo_request(const uint8_t *f, uint32_t len)
{
    return len >= 42 && f[12] == 0x08 && f[23] == 1 && f[34] == 8;
}

static void test_no_echo_of_own_tx(void **state)
{
    struct env *e = *state;
    char err[256];
    unsigned got[2];

    e->port = vf_packet_port_open("ext", g_in, 2, NULL, err, sizeof(err));
    if (!e->port)
        fail_msg("open: %s", err);
    struct vf_pkt *p = echo_request(e);
    assert_int_equal(vf_port_tx_burst(e->port, 1, &p, 1, &e->cache), 1);
    rx_until(e, is_echo_request, 1, got, NULL, NULL);
    assert_int_equal(got[0] + got[1], 0);
}

static void test_too_long(void **state)
{
    struct env *e = *state;
    char err[256];

    e->port = vf_packet_port_open("ext", g_in, 1, NULL, err, sizeof(err));
    if (!e->port)
        fail_msg("open: %s", err);
    struct vf_pkt *p = echo_request(e);
    p->len = VF_PACKET_FRAME_MAX + 1;
    assert_int_equal(vf_port_tx_burst(e->port, 0, &p, 1, &e->cache), 1);
    struct vf_port_stats st;
    vf_port_stats_sum(e->port, &st);
    assert_int_equal(st.tx_drops, 1);
    assert_int_equal(st.tx_pkts, 0);
}

static void test_bad_interface(void **state)
{
    char err[256];
    (void)state;
    assert_null(vf_packet_port_open("ext", "vfp-nosuch0", 1, NULL, err,
                                    sizeof(err)));
    assert_non_null(strstr(err, "interface vfp-nosuch0"));
    assert_null(vf_packet_port_open("ext", "", 1, NULL, err, sizeof(err)));
}

int main(void)
{
    int pid = (int)getpid() % 100000;
    snprintf(g_ns, sizeof(g_ns), "vfpkt-%d", pid);
    snprintf(g_in, sizeof(g_in), "vfpi%d", pid);
    snprintf(g_out, sizeof(g_out), "vfpo%d", pid);
    if (geteuid() != 0) {
        printf("test_port_packet: needs root (packet sockets, namespaces), "
               "skipped\n");
        return 77;
    }
    if (sh("ip netns add %s 2>/dev/null && ip netns del %s", g_ns, g_ns)) {
        printf("test_port_packet: cannot create network namespaces, "
               "skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_interface),
        cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_echo_of_own_tx, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cleanup_all();
    return rc;
}
