/* bench_udp.c - the UDP uplink over loopback, per variant, beside plain
 * sockets.
 *
 * BM_udp_loopback/<variant>: one thread, two UDP ports on two loopback
 * ports; each iteration sends a burst of 32 tunnel frames (42 bytes of outer
 * headers + 100 bytes of UDP payload) from port A and receives them on B, so
 * items/s is packets carried per core with the sender's and the receiver's
 * work both on it. Variants: 0 = io_uring multishot recvmsg + sendmsg (the
 * default), 1 = + send_zc, 2 = + send_zc + fixed_bufs, 3 = recvmmsg/sendmmsg
 * through the port (VF_UDP_RX_SYSCALL).
 *
 * Beside each run, in the same process and just before it, the same number
 * of packets goes through two plain sockets with sendmmsg/recvmmsg (no pool,
 * no header parsing or synthesis): `vs_plain` is the variant's packets/s over
 * that baseline's, so the ratio holds on a noisy machine. BM_udp_plain is
 * that baseline on its own. Google Benchmark's items_per_second divides by
 * CPU time; on a loaded machine compare vs_plain and cycles_per_packet
 * (TSC, wall clock) instead. BM_udp_idle_poll measures an empty rx poll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fabric/vf_port_udp.h"
#include "numa/vf_pool.h"
#include "perf/vf_bench.h"

#define B_BURST 32
#define B_PAYLOAD 100
#define B_FRAME (VF_UDP_OUTER_HDRS + B_PAYLOAD)
#define B_SPINS 256             /* rx polls per burst before giving up */
#define B_BASELINE_PKTS 200000  /* plain-socket packets measured per run */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int plain_socket(struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(*a);
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (bind(fd, (struct sockaddr *)a, sizeof(*a)) ||
        getsockname(fd, (struct sockaddr *)a, &l)) {
        close(fd);
        return -1;
    }
    return fd;
}

struct plain {
    int tx, rx;
    struct sockaddr_in rx_addr;
    uint8_t txbuf[B_PAYLOAD];
    uint8_t rxbuf[B_BURST][2048];
    struct mmsghdr tmm[B_BURST], rmm[B_BURST];
    struct iovec tiov[B_BURST], riov[B_BURST];
};

static int plain_open(struct plain *pl)
{
    struct sockaddr_in a;
    memset(pl, 0, sizeof(*pl));
    pl->tx = plain_socket(&a);
    pl->rx = plain_socket(&pl->rx_addr);
    if (pl->tx < 0 || pl->rx < 0)
        return -1;
    for (unsigned i = 0; i < B_BURST; i++) {
        pl->tiov[i] = (struct iovec){pl->txbuf, B_PAYLOAD};
        pl->tmm[i].msg_hdr.msg_iov = &pl->tiov[i];
        pl->tmm[i].msg_hdr.msg_iovlen = 1;
        pl->tmm[i].msg_hdr.msg_name = &pl->rx_addr;
        pl->tmm[i].msg_hdr.msg_namelen = sizeof(pl->rx_addr);
        pl->riov[i] = (struct iovec){pl->rxbuf[i], sizeof(pl->rxbuf[i])};
        pl->rmm[i].msg_hdr.msg_iov = &pl->riov[i];
        pl->rmm[i].msg_hdr.msg_iovlen = 1;
    }
    return 0;
}

static void plain_close(struct plain *pl)
{
    if (pl->tx >= 0)
        close(pl->tx);
    if (pl->rx >= 0)
        close(pl->rx);
}

/* One burst through the plain sockets; returns packets received. */
static unsigned plain_burst(struct plain *pl)
{
    int s = sendmmsg(pl->tx, pl->tmm, B_BURST, MSG_DONTWAIT);
    if (s <= 0)
        return 0;
    unsigned got = 0;
    for (int spin = 0; spin < B_SPINS && got < (unsigned)s; spin++) {
        int r = recvmmsg(pl->rx, pl->rmm, B_BURST, MSG_DONTWAIT, NULL);
        if (r > 0)
            got += (unsigned)r;
    }
    return got;
}

/* Plain sockets' packets/s over B_BASELINE_PKTS packets. */
static double plain_pps(struct plain *pl)
{
    unsigned long done = 0;
    double t0 = now_s();
    for (unsigned i = 0; done < B_BASELINE_PKTS && i < 4 * B_BASELINE_PKTS / B_BURST; i++)
        done += plain_burst(pl);
    double dt = now_s() - t0;
    return dt > 0 ? (double)done / dt : 0;
}

static void BM_udp_plain(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    struct plain *pl = aligned_alloc(64, sizeof(*pl));
    if (!pl || plain_open(pl)) {
        vf_bench_skip(st, "plain sockets failed");
        free(pl);
        return;
    }
    while (vf_bench_next(st))
        vf_bench_items(st, plain_burst(pl));
    plain_close(pl);
    free(pl);
}
VF_BENCH(BM_udp_plain)

struct side {
    struct vf_pool *pool;
    struct vf_port *port;
    struct sockaddr_in addr;
};

static int side_open(struct side *s, const struct vf_udp_opts *o, char *err,
                     size_t errlen)
{
    s->pool = vf_pool_create(NULL, -1, 4096, VF_PKT_DEFAULT_DATA_ROOM, err,
                             errlen);
    if (!s->pool)
        return -1;
    s->port = vf_udp_port_open("bench", "127.0.0.1:0", 1, o, &s->pool, err,
                               errlen);
    if (!s->port)
        return -1;
    return vf_udp_port_addr(s->port, &s->addr);
}

static void side_close(struct side *s)
{
    vf_port_close(s->port);
    vf_pool_destroy(s->pool);
}

static void build_template(uint8_t *f, const struct sockaddr_in *to)
{
    memset(f, 0, B_FRAME);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((B_FRAME - 14) >> 8);
    ip[3] = (uint8_t)(B_FRAME - 14);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    memcpy(ip + 16, &to->sin_addr.s_addr, 4);
    memcpy(ip + 22, &to->sin_port, 2);
    ip[24] = 0;
    ip[25] = 8 + B_PAYLOAD;
    for (unsigned i = VF_UDP_OUTER_HDRS; i < B_FRAME; i++)
        f[i] = (uint8_t)i;
}

static void BM_udp_loopback(struct vf_bench_state *st, int64_t variant)
{
    struct vf_udp_opts o;
    vf_udp_opts_default(&o);
    if (variant == 1 || variant == 2)
        o.send_zc = true;
    if (variant == 2)
        o.fixed_bufs = true;
    if (variant == 3)
        o.rx_mode = VF_UDP_RX_SYSCALL;
    if (variant < 0 || variant > 3) {
        vf_bench_skip(st, "unknown variant");
        return;
    }

    char err[256];
    struct side a = {0}, b = {0};
    struct vf_pool_cache *ca = aligned_alloc(64, sizeof(*ca));
    struct vf_pool_cache *cb = aligned_alloc(64, sizeof(*cb));
    struct plain *pl = aligned_alloc(64, sizeof(*pl));
    uint8_t frame[B_FRAME];
    err[0] = '\0';
    if (pl)
        pl->tx = pl->rx = -1;
    if (!ca || !cb || !pl || plain_open(pl) ||
        side_open(&a, &o, err, sizeof(err)) ||
        side_open(&b, &o, err, sizeof(err))) {
        vf_bench_skip(st, err[0] ? err : "setup failed");
        goto out;
    }
    vf_pool_cache_init(ca, a.pool);
    vf_pool_cache_init(cb, b.pool);
    build_template(frame, &b.addr);

    double base = plain_pps(pl);
    uint64_t items = 0;
    double t0 = now_s();
    while (vf_bench_next(st)) {
        struct vf_pkt *pk[B_BURST];
        unsigned n = vf_pool_alloc_burst(ca, pk, B_BURST);
        for (unsigned i = 0; i < n; i++) {
            memcpy(vf_pkt_data(pk[i]), frame, B_FRAME);
            pk[i]->len = B_FRAME;
        }
        unsigned acc = vf_port_tx_burst(a.port, 0, pk, n, ca);
        vf_pool_free_burst(ca, pk + acc, n - acc);
        unsigned got = 0;
        for (int spin = 0; spin < B_SPINS && got < acc; spin++) {
            unsigned k = vf_port_rx_burst(b.port, 0, pk, B_BURST, cb);
            vf_pool_free_burst(cb, pk, k);
            got += k;
        }
        items += got;
        vf_bench_items(st, got);
    }
    double dt = now_s() - t0;
    double pps = dt > 0 ? (double)items / dt : 0;
    vf_bench_counter(st, "plain_pps", base);
    vf_bench_counter(st, "vs_plain", base > 0 ? pps / base : 0);
    struct vf_udp_q_info qi;
    if (vf_udp_port_q_info(a.port, 0, &qi) == 0 && qi.zc_notifs)
        vf_bench_counter(st, "zc_copied_frac",
                         (double)qi.zc_copied / (double)qi.zc_notifs);
    for (int i = 0; i < 1000 && vf_udp_port_reap(a.port, 0, ca); i++)
        usleep(100);
    vf_pool_cache_flush(ca);
    vf_pool_cache_flush(cb);
out:
    side_close(&a);
    side_close(&b);
    if (pl) {
        plain_close(pl);
        free(pl);
    }
    free(ca);
    free(cb);
}
VF_BENCH_ARGS(BM_udp_loopback, 0, 1, 2, 3)

/* BM_udp_idle_poll/<variant>: rx_burst on a queue with nothing to receive,
 * the cost a worker pays per loop for its uplink when traffic is elsewhere.
 * One "packet" here is one empty poll. */
static void BM_udp_idle_poll(struct vf_bench_state *st, int64_t variant)
{
    struct vf_udp_opts o;
    vf_udp_opts_default(&o);
    if (variant == 3)
        o.rx_mode = VF_UDP_RX_SYSCALL;
    char err[256] = "";
    struct side a = {0};
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    if (!c || side_open(&a, &o, err, sizeof(err))) {
        vf_bench_skip(st, err[0] ? err : "setup failed");
        goto out;
    }
    vf_pool_cache_init(c, a.pool);
    while (vf_bench_next(st)) {
        struct vf_pkt *pk[B_BURST];
        for (int i = 0; i < 64; i++) {
            unsigned k = vf_port_rx_burst(a.port, 0, pk, B_BURST, c);
            vf_pool_free_burst(c, pk, k);
        }
        vf_bench_items(st, 64);
    }
    vf_pool_cache_flush(c);
out:
    side_close(&a);
    free(c);
}
VF_BENCH_ARGS(BM_udp_idle_poll, 0, 3)
