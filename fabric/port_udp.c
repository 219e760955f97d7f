/* port_udp.c - the UDP underlay uplink (vf_port_udp.h): options, frames,
 * open and close. The io_uring and syscall modes and the GSO batches have
 * their own files (udp_impl.h lists them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fabric/udp_impl.h"
#include "numa/vf_err.h"

#define UDP_CLOSE_WAIT_MS 200 /* bound on waiting for in-flight sends at close */

void vf_udp_opts_default(struct vf_udp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rx_mode = VF_UDP_RX_MULTISHOT;
    o->send_zc = false;
    o->fixed_bufs = false;
    o->ring_depth = VF_UDP_DEPTH_DEFAULT;
    o->burst = VF_BURST_MAX;
}

/* ---- frames ---- */

/* Finds the UDP payload of a full tunnel frame and its outer destination.
 * Returns the payload offset, or 0 when the frame is not Ethernet/IPv4/UDP
 * (0 is never a valid offset). */
uint32_t udp_frame_parse(const uint8_t *f, uint32_t len,
                         struct sockaddr_in *dst, uint32_t *plen,
                         bool batch)
{
    if (len < VF_UDP_OUTER_HDRS || vf_wire_get16(f + 12) != VF_ETH_P_IP)
        return 0;
    const uint8_t *ip = f + VF_ETH_HDR_LEN;
    uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    if ((ip[0] >> 4) != 4 || ihl < VF_IP4_HDR_LEN || ip[9] != IPPROTO_UDP)
        return 0;
    uint32_t off = VF_ETH_HDR_LEN + ihl + VF_UDP_HDR_LEN;
    uint32_t tot = (uint32_t)ip[2] << 8 | ip[3];
    uint32_t end = VF_ETH_HDR_LEN + tot;
    /* Honour the IP total length (a frame may carry Ethernet padding) but
     * never read past the buffer. */
    if (end > len || batch)
        end = len;   /* a GSO batch runs to the end of the frame */
    if (off > end)
        return 0;
    dst->sin_family = AF_INET;
    memcpy(&dst->sin_addr.s_addr, ip + 16, 4);
    memcpy(&dst->sin_port, ip + ihl + 2, 2);
    *plen = end - off;
    return off;
}

/* Writes outer Ethernet/IPv4/UDP headers in front of a payload that starts
 * at data_off + VF_UDP_OUTER_HDRS and makes them part of the frame. */
void udp_frame_synth(struct vf_pkt *p, uint32_t plen,
                     const struct sockaddr_in *src, uint32_t dst_ip,
                     uint16_t dst_port_be)
{
    uint8_t *f = vf_pkt_data(p);
    memset(f, 0, 12);
    vf_wire_put16(f + 12, VF_ETH_P_IP);
    uint8_t *ip = f + VF_ETH_HDR_LEN;
    uint16_t tot = (uint16_t)(VF_IP4_HDR_LEN + VF_UDP_HDR_LEN + plen);
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    memset(ip + 4, 0, 4);       /* id 0, no fragment: the kernel reassembled */
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    ip[10] = ip[11] = 0;
    memcpy(ip + 12, &src->sin_addr.s_addr, 4);
    memcpy(ip + 16, &dst_ip, 4);
    vf_wire_put16(ip + 10, vf_csum(ip, VF_IP4_HDR_LEN));
    uint8_t *udp = ip + VF_IP4_HDR_LEN;
    uint16_t ulen = (uint16_t)(VF_UDP_HDR_LEN + plen);
    memcpy(udp, &src->sin_port, 2);
    memcpy(udp + 2, &dst_port_be, 2);
    udp[4] = (uint8_t)(ulen >> 8);
    udp[5] = (uint8_t)ulen;
    udp[6] = udp[7] = 0;        /* zero UDP checksum is legal over IPv4 */
    p->len = VF_UDP_OUTER_HDRS + plen;
}

/* The datagram's destination address: from IP_PKTINFO when bound to the
 * wildcard, else the bound address. */
uint32_t udp_dgram_dst(const struct udp_port *u, struct msghdr *mh,
                       struct cmsghdr *first)
{
    if (!u->pktinfo)
        return u->addr.sin_addr.s_addr;
    for (struct cmsghdr *c = first; c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            return pi.ipi_addr.s_addr;
        }
    }
    return 0;
}

/* ---- open / close ---- */

/* Frees packets outside any worker: through a private cache that is then
 * flushed back to the pool. */
static void free_pkts(struct vf_pool *pool, struct vf_pkt **pkts, unsigned n)
{
    if (n == 0)
        return;
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    if (!c)
        return;   /* leak rather than crash while closing */
    vf_pool_cache_init(c, pool);
    vf_pool_free_burst(c, pkts, n);
    vf_pool_cache_flush(c);
    free(c);
}

static void q_close(struct udp_port *u, struct vf_port *p, unsigned qi)
{
    struct udp_q *q = &u->q[qi];
    unsigned depth = u->o.ring_depth;
    struct vf_pool_cache *c = NULL;

    if (q->has_ring && q->tx && q->stage && q->n_tx_free < depth) {
        /* Sends in flight still reference their packets: give them a
         * bounded time to complete (zero-copy notifications included). */
        c = aligned_alloc(64, sizeof(*c));
        if (c) {
            vf_pool_cache_init(c, q->pool);
            for (int i = 0; i < UDP_CLOSE_WAIT_MS && q->n_tx_free < depth; i++) {
                struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
                struct io_uring_cqe *cqe;
                io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts);
                udp_uring_cq_poll(p, qi, c);
                while (q->st_n) {   /* keep the stage from blocking tx CQEs */
                    vf_pool_free(c, q->stage[q->st_head]);
                    q->st_head = (q->st_head + 1) & (depth - 1);
                    q->st_n--;
                }
            }
        }
    }
    if (q->has_ring)
        io_uring_queue_exit(&q->ring);   /* cancels the multishot receive */
    if (q->bufs) {
        unsigned nb = 0;
        for (unsigned i = 0; i < depth; i++)
            if (q->bufs[i])
                q->bufs[nb++] = q->bufs[i];
        free_pkts(q->pool, q->bufs, nb);
    }
    if (q->stage) {
        for (unsigned i = 0; i < q->st_n; i++)
            q->stage[i] = q->stage[(q->st_head + i) & (depth - 1)];
        free_pkts(q->pool, q->stage, q->st_n);
    }
    if (q->tx) {
        for (unsigned i = 0; i < depth; i++)
            if (q->tx[i].pkt)
                free_pkts(q->pool, &q->tx[i].pkt, 1);
    }
    if (c) {
        vf_pool_cache_flush(c);
        free(c);
    }
    if (q->own_cache) {
        vf_pool_cache_flush(q->own_cache);
        free(q->own_cache);
    }
    if (q->br)
        munmap(q->br, q->br_bytes);
    if (q->efd >= 0)
        close(q->efd);
    if (q->fd >= 0)
        close(q->fd);
    free(q->bufs);
    free(q->stage);
    free(q->tx);
    free(q->tx_free);
    free(q->mm);
    free(q->mm_iov);
    free(q->mm_name);
    free(q->mm_ctl);
}

static void udp_close(struct vf_port *p)
{
    if (!p)
        return;
    struct udp_port *u = p->priv;
    if (u) {
        for (unsigned i = 0; i < u->n_queues; i++)
            q_close(u, p, i);
        free(u);
    }
    vf_port_free(p);
}

static int parse_bind(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s)
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535)
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -EINVAL;
    return 0;
}

/* Writes "udp port 'NAME': WHAT BIND: <errno text>" and returns -errno,
 * errno read before anything can change it. */
static int sock_fail(const char *name, const char *what, const char *bind_s,
                     char *err, size_t errlen)
{
    int e = errno;
    snprintf(err, errlen, "udp port '%s': %s %s: %s", name, what, bind_s,
             strerror(e));
    return -e;
}

/* Refuses an address anyone holds, with or without SO_REUSEPORT: a socket
 * without it fails to bind then, even where a reuseport group would let us
 * silently join. Its own failures (EMFILE...) are reported as they are. */
static int probe_free(const struct udp_port *u, const char *name,
                      const char *bind_s, char *err, size_t errlen)
{
    int t = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (t < 0)
        return sock_fail(name, "socket for", bind_s, err, errlen);
    int r = 0;
    if (bind(t, (const struct sockaddr *)&u->addr, sizeof(u->addr)))
        r = sock_fail(name, "bind", bind_s, err, errlen);
    close(t);
    return r;
}

static int q_open_socket(struct udp_port *u, struct udp_q *q, bool probe_first,
                         const char *name, const char *bind_s, char *err,
                         size_t errlen)
{
    int one = 1, r;
    if (probe_first && (r = probe_free(u, name, bind_s, err, errlen)))
        return r;
    q->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0)
        return sock_fail(name, "socket for", bind_s, err, errlen);
    if (setsockopt(q->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
        return sock_fail(name, "SO_REUSEPORT on", bind_s, err, errlen);
    if (bind(q->fd, (struct sockaddr *)&u->addr, sizeof(u->addr)))
        return sock_fail(name, "bind", bind_s, err, errlen);
    if (u->addr.sin_port == 0) {
        /* PORT 0: the first queue's socket picks; the others join it. */
        socklen_t l = sizeof(u->addr);
        getsockname(q->fd, (struct sockaddr *)&u->addr, &l);
    }
    /* Bigger socket buffers ride out a worker's scheduling hiccup and a
     * peer's burst: the receive buffer is the queue in front of the ring
     * (VF_UDP_RCVBUF). With CAP_NET_ADMIN the FORCE variant is not capped
     * by net.core.rmem_max (212992 bytes on a stock kernel, doubled: ~500
     * small datagrams); without it, best effort under the cap. */
    int sz = VF_UDP_RCVBUF;
    if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
        setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (setsockopt(q->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
        setsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if (u->o.gro && setsockopt(q->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)))
        return sock_fail(name, "UDP_GRO on", bind_s, err, errlen);
    if (u->pktinfo &&
        setsockopt(q->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)))
        return sock_fail(name, "IP_PKTINFO on", bind_s, err, errlen);
    return 0;
}

/* The info op: the options in force (immutable after open, so safe to
 * read while workers run; the per-queue counters are not: q_info). */
static void udp_info(const struct vf_port *p, const struct vf_port_info_sink *s)
{
    const struct udp_port *u = p->priv;
    char a[INET_ADDRSTRLEN + 8], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &u->addr.sin_addr, ip, sizeof(ip));
    snprintf(a, sizeof(a), "%s:%u", ip, ntohs(u->addr.sin_port));
    s->str(s->arg, "bind", a);
    s->str(s->arg, "rx_mode",
           u->o.rx_mode == VF_UDP_RX_SYSCALL ? "syscall" : "multishot");
    s->flag(s->arg, "send_zc", u->o.send_zc);
    s->flag(s->arg, "fixed_bufs", u->o.fixed_bufs);
    s->flag(s->arg, "gro", u->o.gro);
    s->u64(s->arg, "ring_depth", u->o.ring_depth);
}

static const struct vf_port_ops udp_ops = {
    .type = "udp",
    .rx_burst = udp_uring_rx_burst,
    .tx_burst = udp_uring_tx_burst,
    .wait_fd = udp_uring_wait_fd,
    .close = udp_close,
    .info = udp_info,
};

static const struct vf_port_ops udp_sys_ops = {
    .type = "udp",
    .rx_burst = udp_sys_rx_burst,
    .tx_burst = udp_sys_tx_burst,
    .wait_fd = udp_sys_wait_fd,
    .close = udp_close,
    .info = udp_info,
};

/* Fills *opt from o (NULL: the defaults) and checks it with the queues'
 * pools and the bind address: 0, or -EINVAL with err naming the field. */
static int opts_check(const char *name, const char *bind_s, unsigned n_queues,
                      const struct vf_udp_opts *o, struct vf_pool *const *pools,
                      struct vf_udp_opts *opt, struct sockaddr_in *addr,
                      char *err, size_t errlen)
{
    if (o)
        *opt = *o;
    else
        vf_udp_opts_default(opt);
    if (opt->ring_depth == 0)
        opt->ring_depth = VF_UDP_DEPTH_DEFAULT;
    if (opt->burst == 0)
        opt->burst = VF_BURST_MAX;
    if (opt->ring_depth < 8 || opt->ring_depth > VF_UDP_DEPTH_MAX ||
        (opt->ring_depth & (opt->ring_depth - 1)))
        return vf_errf(err, errlen, "udp port '%s': ring_depth %u is not a "
                       "power of two in 8..%u", name, opt->ring_depth,
                       VF_UDP_DEPTH_MAX);
    if (opt->burst > VF_BURST_MAX)
        return vf_errf(err, errlen, "udp port '%s': burst %u exceeds %u", name,
                       opt->burst, VF_BURST_MAX);
    if (opt->rx_mode != VF_UDP_RX_MULTISHOT && opt->rx_mode != VF_UDP_RX_SYSCALL)
        return vf_errf(err, errlen, "udp port '%s': unknown rx mode %d", name,
                       (int)opt->rx_mode);
    if (opt->gro && opt->rx_mode != VF_UDP_RX_MULTISHOT)
        return vf_errf(err, errlen, "udp port '%s': gro needs the multishot "
                       "rx mode", name);
    if (opt->fixed_bufs && !opt->send_zc)
        return vf_errf(err, errlen, "udp port '%s': fixed_bufs needs send_zc",
                       name);
    if (n_queues == 0 || n_queues > VF_PORT_MAX_QUEUES)
        return vf_errf(err, errlen, "udp port '%s': n_queues %u not in 1..%u",
                       name, n_queues, VF_PORT_MAX_QUEUES);
    for (unsigned i = 0; i < n_queues; i++) {
        struct vf_pool_info info;
        if (!pools || !pools[i])
            return vf_errf(err, errlen, "udp port '%s': no pool for queue %u",
                           name, i);
        vf_pool_get_info(pools[i], &info);
        if (opt->gro && info.data_room < VF_UDP_GRO_DATA_ROOM)
            return vf_errf(err, errlen, "udp port '%s': gro needs pools with "
                           "a data room of at least %u (queue %u has %u)",
                           name, VF_UDP_GRO_DATA_ROOM, i, info.data_room);
    }
    if (parse_bind(bind_s, addr) < 0)
        return vf_errf(err, errlen, "udp port '%s': bind address '%s' is not "
                       "IPv4 ADDR:PORT", name, bind_s ? bind_s : "(null)");
    return 0;
}

struct vf_port *vf_udp_port_open(const char *name, const char *bind_s,
                                 unsigned n_queues,
                                 const struct vf_udp_opts *o,
                                 struct vf_pool *const *pools,
                                 char *err, size_t errlen)
{
    struct vf_udp_opts opt;
    struct sockaddr_in addr;
    struct vf_port *p = NULL;
    struct udp_port *u = NULL;
    char dummy[1];

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!name)
        name = "";
    if (opts_check(name, bind_s, n_queues, o, pools, &opt, &addr, err, errlen))
        return NULL;

    bool sys = opt.rx_mode == VF_UDP_RX_SYSCALL;
    p = vf_port_alloc(sys ? &udp_sys_ops : &udp_ops, name, n_queues);
    u = calloc(1, sizeof(*u) + n_queues * sizeof(u->q[0]));
    if (!p || !u) {
        snprintf(err, errlen, "udp port '%s': out of memory", name);
        free(u);
        vf_port_free(p);
        return NULL;
    }
    p->priv = u;   /* from here udp_close() undoes whatever part is done */
    /* Buffers a queue holds (vf_port.h). Multishot: the provided ring and
     * the staged frames (copies in the worker's pool when GRO copy-breaks;
     * counted there either way), and the sends in flight. Syscall mode
     * holds nothing between calls: sendmmsg and recvmmsg are synchronous. */
    p->rx_hold = sys ? 0 : 2 * opt.ring_depth;
    p->tx_hold = sys ? 0 : opt.ring_depth;
    /* Both modes send GSO batches; SO_REUSEPORT spreads flows. */
    vf_port_set_caps(p, VF_PORT_CAP_UDP_GSO | VF_PORT_CAP_MQ_RX, true);
    u->o = opt;
    u->addr = addr;
    u->pktinfo = addr.sin_addr.s_addr == htonl(INADDR_ANY);
    u->rx_hdr = (unsigned)(sizeof(struct io_uring_recvmsg_out) +
                           sizeof(struct sockaddr_in) +
                           (u->pktinfo ? UDP_CTL_LEN : 0) +
                           (opt.gro ? UDP_GRO_CTL_LEN : 0));
    _Static_assert(sizeof(struct io_uring_recvmsg_out) +
                           sizeof(struct sockaddr_in) + UDP_CTL_LEN +
                           UDP_GRO_CTL_LEN <=
                       VF_PKT_HEADROOM,
                   "the recvmsg header must fit in the headroom");
    u->n_queues = n_queues;
    for (unsigned i = 0; i < n_queues; i++) {
        u->q[i].fd = -1;
        u->q[i].efd = -1;
        u->q[i].pool = pools[i];
    }

    for (unsigned i = 0; i < n_queues; i++) {
        struct udp_q *q = &u->q[i];
        int r = q_open_socket(u, q, i == 0 && addr.sin_port != 0, name,
                              bind_s, err, errlen);
        if (r == 0)
            r = sys ? udp_sys_q_open(u, q)
                    : udp_uring_q_open(u, q, name, err, errlen);
        if (r < 0) {
            if (!err[0])
                snprintf(err, errlen, "udp port '%s' on %s: queue %u: %s",
                         name, bind_s, i, strerror(-r));
            udp_close(p);
            return NULL;
        }
    }
    return p;
}

int vf_udp_port_addr(const struct vf_port *p, struct sockaddr_in *out)
{
    if (!p || (p->ops != &udp_ops && p->ops != &udp_sys_ops))
        return -EINVAL;
    *out = ((const struct udp_port *)p->priv)->addr;
    return 0;
}

unsigned vf_udp_port_reap(struct vf_port *p, unsigned qi,
                          struct vf_pool_cache *cache)
{
    struct udp_port *u = udp_of(p);
    struct udp_q *q = &u->q[qi];
    if (!q->has_ring)
        return 0;
    udp_uring_cq_poll(p, qi, cache);
    return u->o.ring_depth - q->n_tx_free;
}

int vf_udp_port_q_info(const struct vf_port *p, unsigned qi,
                       struct vf_udp_q_info *out)
{
    if (!p || (p->ops != &udp_ops && p->ops != &udp_sys_ops) ||
        qi >= p->n_queues)
        return -EINVAL;
    const struct udp_port *u = p->priv;
    const struct udp_q *q = &u->q[qi];
    memset(out, 0, sizeof(*out));
    if (q->has_ring)
        out->tx_inflight = u->o.ring_depth - q->n_tx_free;
    out->rx_staged = q->st_n;
    out->zc_notifs = q->zc_notifs;
    out->zc_copied = q->zc_copied;
    out->rx_rearms = q->rx_rearms;
    return 0;
}
