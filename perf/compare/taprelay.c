/* taprelay.c - the least a user-space forwarder with tap ports and a UDP
 * underlay must do, as a floor for perf/compare/run.sh (built by that
 * script with cc; not part of vfab).
 *
 * Per host: one tap (vnet header, TSO offloads, like vfabd's) and one UDP
 * socket. A frame read from the tap is sent to the peer as it is, as one
 * UDP GSO send cut at MTU-sized datagrams; the peer receives with UDP GRO
 * and writes the frame to its tap. That is the four kernel copies every
 * such forwarder pays (tap read, UDP send, UDP receive, tap write) and
 * nothing else: no tunnel header, no lookup, no per-segment headers or
 * checksums, no copy in user space. vfab over the same path, divided by
 * this, is what vfab's own work costs; this divided by plain veth is what
 * the copies through user space cost.
 *
 *   taprelay TAP BIND_IP PORT PEER_IP SECONDS
 *
 * Creates TAP (the caller moves it where it wants), relays for SECONDS or
 * until SIGTERM/SIGINT, then prints {"tap_rx": N, "udp_tx": N, "udp_rx": N,
 * "tap_tx": N, "bad": N} (frames and datagrams; bad = bytes thrown away
 * to find a frame start again).
 *
 * Wire format: the UDP payloads form a byte stream of records
 * [u32 magic][u32 length][vnet header + frame][u32 magic], so a frame
 * longer than one datagram (a 64 KB TSO frame with its header) goes as two
 * sends, and the receiver may get several records, or part of one, per GRO
 * buffer. A record whose trailing magic is wrong (a datagram was lost and
 * the next one completed it) is thrown away, never written to the tap.
 *
 * Thread-safety: single-threaded program.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define MAGIC 0x76667231u        /* "vfr1" */
#define REC_HDR 8u
#define REC_TRAILER 4u
#define SEG 1472u                /* datagram payload on a 1500-byte underlay */
#define MAX_DGRAM (44u * SEG)    /* one send: whole segments, under 64 KB */
#define FRAME_MAX 65600u         /* vnet header + a 64 KB TSO frame */
#define RXBUF (4u * 65536u)
#define RX_ROOM (2u * 65536u)    /* free space kept for one receive */
#define DRAIN 64                 /* reads per fd per wake-up, bounds a turn */

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static int tap_open(const char *name)
{
    struct ifreq ifr = {0};
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
    if (fd < 0)
        return -1;
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int udp_open(const char *bind_ip, const char *peer_ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, sz = 8 << 20;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0 ||
        inet_pton(AF_INET, bind_ip, &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        inet_pton(AF_INET, peer_ip, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One send of iov[0..n) as MTU-sized datagrams (UDP GSO when longer). */
static int udp_send(int fd, struct iovec *iov, int n, size_t len)
{
    char ctl[CMSG_SPACE(sizeof(uint16_t))] = {0};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    if (len > SEG) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t g = SEG;
        memcpy(CMSG_DATA(c), &g, sizeof g);
    }
    for (int tries = 0; tries < 1000; tries++) {   /* bounded: socket full */
        if (sendmsg(fd, &m, 0) >= 0)
            return 0;
        if (errno != EAGAIN && errno != ENOBUFS)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 1);
    }
    return -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 6 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: taprelay TAP BIND_IP PORT PEER_IP SECONDS\n");
        return argc == 2 ? 0 : 2;
    }
    int port = atoi(argv[3]);
    double secs = atof(argv[5]);
    if (port <= 0 || port > 65535 || secs <= 0 || secs > 3600) {
        fprintf(stderr, "taprelay: PORT 1..65535 and SECONDS 0..3600\n");
        return 2;
    }
    int tap = tap_open(argv[1]);
    if (tap < 0) {
        fprintf(stderr, "taprelay: tap %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int udp = udp_open(argv[2], argv[4], port);
    if (udp < 0) {
        fprintf(stderr, "taprelay: UDP %s:%d -> %s: %s\n", argv[2], port, argv[4],
                strerror(errno));
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    static uint8_t txbuf[FRAME_MAX], rxbuf[RXBUF];
    size_t head = 0, fill = 0;   /* rxbuf[head, fill): received, not written */
    uint64_t tap_rx = 0, udp_tx = 0, udp_rx = 0, tap_tx = 0, bad = 0;
    struct pollfd pf[2] = {{.fd = tap, .events = POLLIN}, {.fd = udp, .events = POLLIN}};
    const double end = now() + secs;

    while (!stop && now() < end) {
        if (poll(pf, 2, 100) <= 0)
            continue;
        for (int i = 0; i < DRAIN; i++) {   /* tap -> UDP */
            ssize_t n = read(tap, txbuf, sizeof txbuf);
            if (n <= 0)
                break;
            tap_rx++;
            if ((size_t)n > sizeof txbuf)
                continue;   /* cut short by the buffer: not relayed */
            uint32_t hdr[2] = {MAGIC, (uint32_t)n}, trailer = MAGIC;
            size_t rec = REC_HDR + (size_t)n + REC_TRAILER;
            if (rec <= MAX_DGRAM) {
                struct iovec iov[3] = {{hdr, REC_HDR}, {txbuf, (size_t)n}, {&trailer, REC_TRAILER}};
                if (udp_send(udp, iov, 3, rec) == 0)
                    udp_tx++;
                continue;
            }
            size_t first = MAX_DGRAM - REC_HDR;
            struct iovec iov[2] = {{hdr, REC_HDR}, {txbuf, first}};
            if (udp_send(udp, iov, 2, MAX_DGRAM) != 0)
                continue;   /* no tail without its head */
            udp_tx++;
            struct iovec rest[2] = {{txbuf + first, (size_t)n - first}, {&trailer, REC_TRAILER}};
            if (udp_send(udp, rest, 2, rest[0].iov_len + REC_TRAILER) == 0)
                udp_tx++;
        }
        for (int i = 0; i < DRAIN; i++) {   /* UDP -> tap */
            if (RXBUF - fill < RX_ROOM) {    /* room for one GRO buffer */
                memmove(rxbuf, rxbuf + head, fill - head);
                fill -= head;
                head = 0;
            }
            struct iovec iov = {rxbuf + fill, RXBUF - fill};
            struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
            ssize_t n = recvmsg(udp, &m, 0);
            if (n <= 0)
                break;
            udp_rx++;
            if (m.msg_flags & MSG_TRUNC) {   /* lost its tail: resync */
                bad += fill - head + (size_t)n;
                head = fill = 0;
                continue;
            }
            fill += (size_t)n;
            while (fill - head >= REC_HDR) {
                uint32_t h[2];
                memcpy(h, rxbuf + head, sizeof h);
                if (h[0] != MAGIC || h[1] > FRAME_MAX) {   /* lost data: resync */
                    bad += fill - head;
                    head = fill;
                    break;
                }
                size_t rec = REC_HDR + h[1] + REC_TRAILER;
                if (fill - head < rec)
                    break;                   /* the rest is in the next datagram */
                uint32_t t;
                memcpy(&t, rxbuf + head + REC_HDR + h[1], sizeof t);
                if (t != MAGIC) {            /* completed by another record */
                    bad += fill - head;
                    head = fill;
                    break;
                }
                if (write(tap, rxbuf + head + REC_HDR, h[1]) == (ssize_t)h[1])
                    tap_tx++;
                head += rec;
            }
            if (head == fill)
                head = fill = 0;
        }
    }
    printf("{\"tap_rx\": %llu, \"udp_tx\": %llu, \"udp_rx\": %llu, \"tap_tx\": %llu, \"bad\": %llu}\n",
           (unsigned long long)tap_rx, (unsigned long long)udp_tx,
           (unsigned long long)udp_rx, (unsigned long long)tap_tx, (unsigned long long)bad);
    return 0;
}
