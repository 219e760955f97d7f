/* vhost_echo.c - a standalone vhost-user backend for tests with real QEMU
 * guests: fabric/ alone (no pipeline, no mgmt), one thread.
 *
 * It serves one or two vhost-user sockets (vfab as the client of the socket
 * QEMU serves, unless --server) and, on each port:
 *   - answers ARP requests for --ip with --mac, and ICMP echo requests to
 *     --ip with echo replies (a guest can `ping` it);
 *   - with two ports (--socket twice) and --forward, sends every other frame
 *     to the other port unchanged (two guests ping each other).
 * The loop is the worker's and the management thread's in one: poll the
 * devices' control fds and the ports' wait fds (after sleep_notify(1), so a
 * frame that arrives meanwhile is not missed), service the devices, move
 * frames. It runs until SIGTERM/SIGINT or --seconds, then prints one line
 * of counters per port (`port N: rx ... arp_replies ... broken ...`) that
 * the test script checks, and exits 0.
 *
 * With --queues N each port offers N queue pairs (GET_QUEUE_NUM); frames
 * are answered on the queue they came in on (forwarded ones on the same
 * queue number of the other port).
 *
 * Usage: vhost_echo --socket PATH [--socket PATH2] [--server] [--forward]
 *                   [--tso] [--queues N] [--ip A.B.C.D] [--mac XX:..]
 *                   [--seconds N] [-v]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fabric/vf_port_vhost.h"
#include "fabric/vf_vnet_hdr.h"
#include "numa/vf_pool.h"
#include "numa/vf_wire.h"

#define MAX_PORTS 2
#define MAX_QUEUES 8
#define BURST 32

static volatile sig_atomic_t stop;

struct eport {
    struct vf_port *p;
    struct vf_vhost_dev *dev;
    uint64_t rx, tx, arp, icmp, fwd, other, tx_refused;
    uint64_t rxq[MAX_QUEUES];   /* frames received per queue */
};

struct echo {
    struct eport ports[MAX_PORTS];
    unsigned n, nq;
    bool forward, verbose;
    uint8_t mac[6];
    uint32_t ip;   /* network order */
};

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void log_line(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "vhost_echo: %s\n", msg);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Turns an ARP request for our address into the reply; false if it is not
 * one. */
static bool arp_answer(const struct echo *e, uint8_t *f, uint32_t len)
{
    if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 1)
        return false;
    uint8_t *a = f + 14;
    if (memcmp(a + 24, &e->ip, 4) != 0)
        return false;
    uint8_t smac[6], sip[4];
    memcpy(smac, a + 8, 6);
    memcpy(sip, a + 14, 4);
    memcpy(f, smac, 6);
    memcpy(f + 6, e->mac, 6);
    a[7] = 2;                       /* reply */
    memcpy(a + 8, e->mac, 6);
    memcpy(a + 14, &e->ip, 4);
    memcpy(a + 18, smac, 6);
    memcpy(a + 24, sip, 4);
    return true;
}

/* Turns an ICMP echo request to our address into the reply. */
static bool icmp_answer(const struct echo *e, uint8_t *f, uint32_t len)
{
    if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800)
        return false;
    uint8_t *ip = f + 14;
    uint32_t ihl = (ip[0] & 0xfu) * 4u, tot = get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 1 || tot < ihl + 8 ||
        14 + tot > len || memcmp(ip + 16, &e->ip, 4) != 0)
        return false;
    uint8_t *icmp = ip + ihl;
    if (icmp[0] != 8)
        return false;
    uint8_t tmp[6];
    memcpy(tmp, f + 6, 6);
    memcpy(f, tmp, 6);
    memcpy(f + 6, e->mac, 6);
    uint8_t src[4];
    memcpy(src, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);   /* swapping keeps the IP checksum */
    memcpy(ip + 16, src, 4);
    icmp[0] = 0;
    icmp[2] = icmp[3] = 0;
    vf_wire_put16(icmp + 2, vf_csum(icmp, tot - ihl));
    return true;
}

static void send_to(struct eport *to, unsigned q, struct vf_pkt **pkts, unsigned n,
                    struct vf_pool_cache *c)
{
    if (!n)
        return;
    unsigned k = vf_port_tx_burst(to->p, q, pkts, n, c);
    to->tx += k;
    if (k < n) {
        to->tx_refused += n - k;
        vf_pool_free_burst(c, pkts + k, n - k);
    }
}

static void poll_port(struct echo *e, unsigned i, unsigned q, struct vf_pool_cache *c)
{
    struct eport *ep = &e->ports[i];
    struct vf_pkt *pkts[BURST], *back[BURST], *fwd[BURST], *drop[BURST];
    unsigned n = vf_port_rx_burst(ep->p, q, pkts, BURST, c), nb = 0, nf = 0, nd = 0;
    ep->rx += n;
    ep->rxq[q] += n;
    for (unsigned k = 0; k < n; k++) {
        uint8_t *f = vf_pkt_data(pkts[k]);
        if (arp_answer(e, f, pkts[k]->len)) {
            ep->arp++;
            back[nb++] = pkts[k];
        } else if (icmp_answer(e, f, pkts[k]->len)) {
            ep->icmp++;
            back[nb++] = pkts[k];
        } else if (e->forward && e->n == 2) {
            ep->fwd++;
            fwd[nf++] = pkts[k];
        } else {
            ep->other++;
            drop[nd++] = pkts[k];
        }
    }
    send_to(ep, q, back, nb, c);
    send_to(&e->ports[1 - i], q, fwd, nf, c);
    if (nd)
        vf_pool_free_burst(c, drop, nd);
}

static int parse_mac(const char *s, uint8_t *mac)
{
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const struct echo *e)
{
    for (unsigned i = 0; i < e->n; i++) {
        const struct eport *ep = &e->ports[i];
        struct vf_vhost_info info;
        vf_vhost_dev_info(ep->dev, &info);
        unsigned broken = 0;
        uint64_t kicks = 0, calls = 0, full = 0;
        for (unsigned r = 0; r < 2 * info.n_qp; r++) {
            struct vf_vhost_ring_info ri;
            vf_vhost_dev_ring_info(ep->dev, r, &ri);
            if (ri.broken)
                broken = ri.broken;
            kicks += ri.kicks;
            calls += ri.calls;
            full += ri.full;
        }
        printf("port %u: rx %llu tx %llu arp_replies %llu icmp_replies %llu "
               "forwarded %llu other %llu tx_refused %llu kicks %llu calls %llu "
               "rx_full %llu connects %llu disconnects %llu refused %llu "
               "features 0x%llx mtu %u broken %s rxq", i,
               (unsigned long long)ep->rx, (unsigned long long)ep->tx,
               (unsigned long long)ep->arp, (unsigned long long)ep->icmp,
               (unsigned long long)ep->fwd, (unsigned long long)ep->other,
               (unsigned long long)ep->tx_refused, (unsigned long long)kicks,
               (unsigned long long)calls, (unsigned long long)full,
               (unsigned long long)info.connects, (unsigned long long)info.disconnects,
               (unsigned long long)info.refused, (unsigned long long)info.features_last,
               info.mtu, vf_virtq_err_name(broken));
        for (unsigned q = 0; q < e->nq; q++)
            printf(" %llu", (unsigned long long)ep->rxq[q]);
        printf("\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct echo e = {.mac = {0x02, 0xfa, 0xb0, 0, 0, 0x01}, .nq = 1};
    const char *socks[MAX_PORTS];
    unsigned nsock = 0;
    bool server = false, tso = false;
    double seconds = 0;
    e.ip = htonl(0x0a000001);   /* 10.0.0.1 */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--socket") && v && nsock < MAX_PORTS) {
            socks[nsock++] = v;
            i++;
        } else if (!strcmp(a, "--server")) {
            server = true;
        } else if (!strcmp(a, "--forward")) {
            e.forward = true;
        } else if (!strcmp(a, "--tso")) {
            tso = true;
        } else if (!strcmp(a, "--queues") && v && atoi(v) >= 1 && atoi(v) <= MAX_QUEUES) {
            e.nq = (unsigned)atoi(v);
            i++;
        } else if (!strcmp(a, "-v")) {
            e.verbose = true;
        } else if (!strcmp(a, "--ip") && v && inet_pton(AF_INET, v, &e.ip) == 1) {
            i++;
        } else if (!strcmp(a, "--mac") && v && parse_mac(v, e.mac) == 0) {
            i++;
        } else if (!strcmp(a, "--seconds") && v) {
            seconds = atof(v);
            i++;
        } else {
            fprintf(stderr, "usage: %s --socket PATH [--socket PATH2] [--server] "
                    "[--forward] [--tso] [--queues N] [--ip A.B.C.D] [--mac MAC] "
                    "[--seconds N] [-v]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nsock == 0) {
        fprintf(stderr, "vhost_echo: --socket is required\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    char err[256];
    unsigned room = tso ? VF_VHOST_TSO_DATA_ROOM : VF_PKT_DEFAULT_DATA_ROOM;
    struct vf_pool *pool = vf_pool_create(NULL, -1, tso ? 1024 : 4096, room, err, sizeof(err));
    if (!pool) {
        fprintf(stderr, "vhost_echo: pool: %s\n", err);
        return 1;
    }
    struct vf_pool_cache *cache = aligned_alloc(64, sizeof(*cache));
    vf_pool_cache_init(cache, pool);
    for (unsigned i = 0; i < nsock; i++) {
        struct vf_vhost_port_opts o = {
            .socket = socks[i], .server = server, .tso = tso,
            .log = e.verbose ? log_line : NULL,
        };
        char name[16];
        snprintf(name, sizeof(name), "vm%u", i);
        struct vf_pool *pools[MAX_QUEUES];
        for (unsigned q = 0; q < e.nq; q++)
            pools[q] = pool;
        e.ports[i].p = vf_vhost_port_open(name, &o, e.nq, pools, err, sizeof(err));
        if (!e.ports[i].p) {
            fprintf(stderr, "vhost_echo: %s\n", err);
            return 1;
        }
        e.ports[i].p->index = i;
        e.ports[i].dev = vf_vhost_port_dev(e.ports[i].p);
        e.n++;
    }

    double end = seconds > 0 ? now_s() + seconds : 0;
    unsigned idle = 0;
    while (!stop && (end == 0 || now_s() < end)) {
        uint64_t before = 0, after = 0;
        for (unsigned i = 0; i < e.n; i++) {
            before += e.ports[i].rx;
            vf_vhost_dev_service(e.ports[i].dev);
            for (unsigned q = 0; q < e.nq; q++)
                poll_port(&e, i, q, cache);
            after += e.ports[i].rx;
        }
        if (after != before) {
            idle = 0;
            continue;
        }
        if (++idle < 64)
            continue;
        /* Sleep: control fds, wait fds, the nearest reconnect. */
        struct pollfd pfd[MAX_PORTS * (1 + MAX_QUEUES)];
        unsigned np = 0;
        int timeout = 100, pending = 0;
        for (unsigned i = 0; i < e.n; i++) {
            int fd = vf_vhost_dev_fd(e.ports[i].dev);
            int t = vf_vhost_dev_timeout_ms(e.ports[i].dev);
            if (fd >= 0)
                pfd[np++] = (struct pollfd){fd, POLLIN, 0};
            if (t >= 0 && t < timeout)
                timeout = t;
            struct vf_port *p = e.ports[i].p;
            for (unsigned q = 0; q < e.nq; q++) {
                pfd[np++] = (struct pollfd){p->ops->wait_fd(p, q), POLLIN, 0};
                pending |= p->ops->sleep_notify(p, q, 1);
            }
        }
        if (!pending)
            (void)poll(pfd, np, timeout);
        for (unsigned i = 0; i < e.n; i++)
            for (unsigned q = 0; q < e.nq; q++)
                e.ports[i].p->ops->sleep_notify(e.ports[i].p, q, 0);
        idle = 0;
    }
    report(&e);
    for (unsigned i = 0; i < e.n; i++)
        vf_port_close(e.ports[i].p);
    vf_pool_cache_flush(cache);
    free(cache);
    unsigned leaked = vf_pool_in_use(pool);
    vf_pool_destroy(pool);
    if (leaked) {
        fprintf(stderr, "vhost_echo: %u buffers not returned\n", leaked);
        return 1;
    }
    return 0;
}
