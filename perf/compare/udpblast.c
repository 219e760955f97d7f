/* udpblast.c - a bounded UDP packet generator and counter for
 * perf/compare/run.sh (built by that script with cc; not part of vfab).
 *
 * iperf3 receives one datagram per system call and, on a small VM, its
 * receiver tops out below what the paths under test forward, so every system
 * would measure iperf3. This pair batches with sendmmsg/recvmmsg so the path
 * between them, not the endpoints, is what saturates first.
 *
 *   udpblast send DST_IP PORT SECONDS PAYLOAD_BYTES
 *   udpblast recv BIND_IP PORT SECONDS
 *
 * The sender sends as fast as it can for SECONDS and prints
 * {"sent": N, "seconds": S}. The receiver counts datagrams from the first
 * one until SECONDS after it, or until nothing has arrived for one second,
 * and prints {"received": N, "seconds": S} where S spans the first to the
 * last arrival. Both stop by SECONDS + 10 at the latest.
 *
 * Thread-safety: single-threaded program.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PAYLOAD 1472

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)atoi(port));
    return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int do_send(int fd, double secs, size_t len)
{
    static char payload[MAX_PAYLOAD];
    struct iovec iov[BATCH];
    struct mmsghdr msg[BATCH];
    memset(msg, 0, sizeof(msg));
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = payload;
        iov[i].iov_len = len;
        msg[i].msg_hdr.msg_iov = &iov[i];
        msg[i].msg_hdr.msg_iovlen = 1;
    }
    unsigned long long sent = 0;
    double t0 = now(), t = t0;
    /* A full queue (ENOBUFS/EAGAIN) is the path pushing back; keep trying
     * until the time is up rather than counting it as sent. */
    while (t - t0 < secs) {
        int n = sendmmsg(fd, msg, BATCH, 0);
        if (n > 0)
            sent += (unsigned long long)n;
        else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
                 errno != ECONNREFUSED) {
            perror("sendmmsg");
            return 1;
        }
        t = now();
    }
    printf("{\"sent\": %llu, \"seconds\": %.6f}\n", sent, t - t0);
    return 0;
}

static int do_recv(int fd, double secs)
{
    static char buf[BATCH][MAX_PAYLOAD + 64];
    struct iovec iov[BATCH];
    struct mmsghdr msg[BATCH];
    memset(msg, 0, sizeof(msg));
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = buf[i];
        iov[i].iov_len = sizeof(buf[i]);
        msg[i].msg_hdr.msg_iov = &iov[i];
        msg[i].msg_hdr.msg_iovlen = 1;
    }
    int rcvbuf = 8 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    struct timeval tv = {0, 100000};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    unsigned long long got = 0;
    double start = now(), first = 0, last = 0;
    for (;;) {
        double t = now();
        if (t - start > secs + 10)
            break;
        if (got && (t - first > secs || t - last > 1.0))
            break;
        int n = recvmmsg(fd, msg, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        last = now();
        if (!got)
            first = last;
        got += (unsigned long long)n;
    }
    printf("{\"received\": %llu, \"seconds\": %.6f}\n", got, got ? last - first : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    int sending = argc == 6 && strcmp(argv[1], "send") == 0;
    int receiving = argc == 5 && strcmp(argv[1], "recv") == 0;
    if ((!sending && !receiving) || addr_of(argv[2], argv[3], &sa) < 0) {
        fprintf(stderr, "usage: udpblast send DST_IP PORT SECONDS PAYLOAD | recv BIND_IP PORT SECONDS\n");
        return 2;
    }
    double secs = atof(argv[4]);
    if (secs <= 0 || secs > 600) {
        fprintf(stderr, "udpblast: SECONDS must be in (0, 600]\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    if (sending) {
        long len = atol(argv[5]);
        if (len < 1 || len > MAX_PAYLOAD) {
            fprintf(stderr, "udpblast: PAYLOAD must be 1..%d\n", MAX_PAYLOAD);
            return 2;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("connect");
            return 1;
        }
        return do_send(fd, secs, (size_t)len);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("bind");
        return 1;
    }
    return do_recv(fd, secs);
}
