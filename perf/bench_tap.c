/* bench_tap.c - the tap port's packets/s, beside plain read()/write() loops.
 *
 * Each benchmark opens its own tap, moves it into a namespace created for
 * the run (vfbench-tap-<pid>, removed at exit) and sets it up there, so the
 * kernel side is a real stack and nothing touches the host's namespace.
 *
 *   BM_tap_tx/<plain>: the worker's tx_burst of 32 64-byte UDP frames per
 *     iteration (0: registered buffers, write_fixed; 1: plain write SQEs).
 *     The frames are addressed to a MAC nobody has, so the namespace drops
 *     them at L2: the number is the tap path, not a socket's.
 *   BM_tap_tx_write_loop: the same frames, one write() each on a tap fd.
 *   BM_tap_rx/<plain>: rx_burst of up to 32 (read_fixed vs plain reads);
 *     a generator thread inside the namespace floods the tap through an
 *     AF_PACKET socket (sendmmsg, qdisc bypass). Items are frames received.
 *   BM_tap_rx_read_loop: the same generator, one read() per frame.
 * rx numbers are bounded by the generator, which shares the machine; tx
 * numbers include the pool alloc + 64-byte copy per frame.
 *
 * Needs root and /dev/net/tun; otherwise every benchmark reports a skip.
 * Run: build/perf/vfab-bench --benchmark_filter='BM_tap|BM_null_forward/32'
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fabric/vf_port_tap.h"
#include "numa/vf_pool.h"
#include "perf/vf_bench.h"

#define TB_BURST 32u
#define TB_FRAME 64u
#define TB_POOL 8192u

static char tb_ns[64];
static bool tb_ns_made;

static int tb_sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void tb_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", tb_ns);
    tb_sh(cmd);
}

/* Creates the namespace once per process; NULL (with why) if we cannot. */
static const char *tb_env(void)
{
    if (geteuid() != 0)
        return "needs root";
    if (access("/dev/net/tun", R_OK | W_OK) != 0)
        return "needs /dev/net/tun";
    if (!tb_ns_made) {
        char cmd[128];
        snprintf(tb_ns, sizeof(tb_ns), "vfbench-tap-%d", (int)getpid());
        snprintf(cmd, sizeof(cmd), "ip netns add %s", tb_ns);
        if (tb_sh(cmd) != 0)
            return "cannot create a network namespace";
        tb_ns_made = true;
        atexit(tb_cleanup);
    }
    return NULL;
}

static int tb_move(const char *tap)
{
    char cmd[640];
    snprintf(cmd, sizeof(cmd),
             "ip link set %s netns %s && ip -n %s addr add 10.0.0.1/24 dev %s && "
             "ip -n %s link set %s up", tap, tb_ns, tb_ns, tap, tb_ns, tap);
    return tb_sh(cmd);
}

/* A 64-byte Ethernet/IPv4/UDP frame to 02:00:00:00:00:99 (nobody). */
static void tb_frame(uint8_t *f)
{
    static const uint8_t hdr[42] = {
        0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00,
        0x45, 0, 0, 50, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        0x30, 0x39, 0x27, 0x0f, 0, 30, 0, 0};
    memset(f, 0xab, TB_FRAME);
    memcpy(f, hdr, sizeof(hdr));
}

/* ---- generator: floods the tap from inside the namespace ---- */

struct tb_gen {
    pthread_t th;
    char tap[IFNAMSIZ];
    _Atomic bool stop;   /* bench: rw, generator: ro */
    _Atomic int ready;   /* generator: 1 running, -1 failed */
};

static void *tb_gen_run(void *arg)
{
    struct tb_gen *g = arg;
    char path[128];
    snprintf(path, sizeof(path), "/var/run/netns/%s", tb_ns);
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    int s = -1;
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) == 0)   /* this thread only */
        s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (nsfd >= 0)
        close(nsfd);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = 0};
    sll.sll_ifindex = (int)if_nametoindex(g->tap);
    int one = 1;
    if (s < 0 || sll.sll_ifindex == 0 || bind(s, (void *)&sll, sizeof(sll)) != 0) {
        atomic_store(&g->ready, -1);
        if (s >= 0)
            close(s);
        return NULL;
    }
    (void)setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    uint8_t f[TB_FRAME];
    tb_frame(f);
    struct iovec iov = {f, TB_FRAME};
    struct mmsghdr m[64];
    memset(m, 0, sizeof(m));
    for (unsigned i = 0; i < 64; i++) {
        m[i].msg_hdr.msg_iov = &iov;
        m[i].msg_hdr.msg_iovlen = 1;
    }
    atomic_store(&g->ready, 1);
    while (!atomic_load_explicit(&g->stop, memory_order_relaxed))
        (void)sendmmsg(s, m, 64, 0);
    close(s);
    return NULL;
}

static bool tb_gen_start(struct tb_gen *g, const char *tap)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->tap, sizeof(g->tap), "%s", tap);
    if (pthread_create(&g->th, NULL, tb_gen_run, g) != 0)
        return false;
    for (int i = 0; i < 2000 && atomic_load(&g->ready) == 0; i++)
        usleep(1000);
    if (atomic_load(&g->ready) != 1) {
        atomic_store(&g->stop, true);
        pthread_join(g->th, NULL);
        return false;
    }
    return true;
}

static void tb_gen_stop(struct tb_gen *g)
{
    atomic_store(&g->stop, true);
    pthread_join(g->th, NULL);
}

/* ---- the port ---- */

struct tb_port {
    char tap[IFNAMSIZ];
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    struct vf_port *port;
};

static const char *tb_port_open(struct tb_port *t, bool plain, const char *sfx)
{
    const char *why = tb_env();
    char err[256];
    if (why)
        return why;
    snprintf(t->tap, sizeof(t->tap), "vfb%d%s", (int)getpid() % 100000, sfx);
    t->pool = vf_pool_create(NULL, -1, TB_POOL, VF_PKT_DEFAULT_DATA_ROOM, err, sizeof(err));
    if (!t->pool)
        return "pool";
    vf_pool_cache_init(&t->cache, t->pool);
    struct vf_tap_opts o = {.plain_io = plain};
    t->port = vf_tap_port_open("bench", t->tap, 1, &t->pool, &o, err, sizeof(err));
    if (!t->port || tb_move(t->tap) != 0)
        return "tap open / namespace setup failed";
    return NULL;
}

static void tb_port_close(struct tb_port *t)
{
    vf_port_close(t->port);   /* deletes the (non-persistent) tap */
    if (t->pool) {
        vf_pool_cache_flush(&t->cache);
        vf_pool_destroy(t->pool);
    }
}

static void BM_tap_tx(struct vf_bench_state *st, int64_t plain)
{
    struct tb_port t = {0};
    const char *why = tb_port_open(&t, plain != 0, "t");
    if (why) {
        vf_bench_skip(st, why);
        tb_port_close(&t);
        return;
    }
    uint8_t f[TB_FRAME];
    tb_frame(f);
    struct vf_pkt *pkts[TB_BURST];
    uint64_t sent = 0;
    while (vf_bench_next(st)) {
        unsigned n = vf_pool_alloc_burst(&t.cache, pkts, TB_BURST);
        for (unsigned i = 0; i < n; i++)
            vf_pkt_set(pkts[i], f, TB_FRAME);
        unsigned k = vf_port_tx_burst(t.port, 0, pkts, n, &t.cache);
        vf_pool_free_burst(&t.cache, pkts + k, n - k);
        sent += k;
    }
    vf_bench_items(st, sent);
    struct vf_tap_info info;
    vf_tap_port_info(t.port, &info);
    vf_bench_counter(st, "tx_errors", (double)info.tx_errors);
    tb_port_close(&t);
}
VF_BENCH_ARGS(BM_tap_tx, 0, 1)

static void BM_tap_rx(struct vf_bench_state *st, int64_t plain)
{
    struct tb_port t = {0};
    struct tb_gen g;
    const char *why = tb_port_open(&t, plain != 0, "r");
    if (!why && !tb_gen_start(&g, t.tap))
        why = "generator failed";
    if (why) {
        vf_bench_skip(st, why);
        tb_port_close(&t);
        return;
    }
    struct vf_pkt *pkts[TB_BURST];
    uint64_t got = 0;
    while (vf_bench_next(st)) {
        unsigned n = vf_port_rx_burst(t.port, 0, pkts, TB_BURST, &t.cache);
        vf_pool_free_burst(&t.cache, pkts, n);
        got += n;
    }
    vf_bench_items(st, got);
    tb_gen_stop(&g);
    struct vf_tap_info info;
    vf_tap_port_info(t.port, &info);
    vf_bench_counter(st, "rx_bad", (double)info.rx_bad);
    tb_port_close(&t);
}
VF_BENCH_ARGS(BM_tap_rx, 0, 1)

/* ---- the baseline: one syscall per frame on a tap fd ---- */

static int tb_raw_open(const char *tap)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq ifr;
    int hdr = VF_TAP_VNET_HDR_LEN;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0 || tb_move(tap) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void BM_tap_tx_write_loop(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    char tap[IFNAMSIZ];
    const char *why = tb_env();
    int fd = -1;
    snprintf(tap, sizeof(tap), "vfb%dw", (int)getpid() % 100000);
    if (!why && (fd = tb_raw_open(tap)) < 0)
        why = "tap open / namespace setup failed";
    if (why) {
        vf_bench_skip(st, why);
        return;
    }
    uint8_t b[VF_TAP_VNET_HDR_LEN + TB_FRAME] = {0};
    tb_frame(b + VF_TAP_VNET_HDR_LEN);
    uint64_t sent = 0;
    while (vf_bench_next(st))
        for (unsigned i = 0; i < TB_BURST; i++)
            sent += write(fd, b, sizeof(b)) == (ssize_t)sizeof(b);
    vf_bench_items(st, sent);
    close(fd);
}
VF_BENCH(BM_tap_tx_write_loop)

static void BM_tap_rx_read_loop(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    char tap[IFNAMSIZ];
    const char *why = tb_env();
    int fd = -1;
    struct tb_gen g;
    snprintf(tap, sizeof(tap), "vfb%dd", (int)getpid() % 100000);
    if (!why && (fd = tb_raw_open(tap)) < 0)
        why = "tap open / namespace setup failed";
    if (!why && !tb_gen_start(&g, tap))
        why = "generator failed";
    if (why) {
        vf_bench_skip(st, why);
        if (fd >= 0)
            close(fd);
        return;
    }
    static uint8_t b[2048];
    uint64_t got = 0;
    while (vf_bench_next(st))
        for (unsigned i = 0; i < TB_BURST; i++)
            got += read(fd, b, sizeof(b)) > 0;
    vf_bench_items(st, got);
    tb_gen_stop(&g);
    close(fd);
}
VF_BENCH(BM_tap_rx_read_loop)
