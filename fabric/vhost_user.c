/* vhost_user.c - the vhost-user protocol (vf_vhost_user.h).
 *
 * Everything here runs on the management thread. A message that changes a
 * ring stops it first (vf_virtq_quiesce: after it no worker is inside), then
 * changes it, then restarts it if it is complete (ring_try_start). A message
 * that changes every ring (SET_FEATURES, SET_MEM_TABLE) stops them all.
 *
 * Messages are read with a blocking socket and SO_RCVTIMEO: service() reads
 * only after poll() said the socket is readable, and the frontend writes a
 * whole message with one sendmsg, so a read waits at most RW_TIMEOUT_MS for
 * the rest of a message that is already arriving. The fds of a message come
 * with its header (SCM_RIGHTS); every fd a handler does not keep is closed.
 *
 * Length: one protocol, one struct, one thread. The connection (connect,
 * listen, backoff, message I/O) is a quarter of the file and could move out,
 * but only by exposing vf_vhost_dev's fields to a second file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "fabric/vf_vhost_user.h"

/* Requests (front-end -> back-end). */
enum {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SEND_RARP = 19,
    VU_NET_SET_MTU = 20,
};

#define VU_F_PROTOCOL_FEATURES 30   /* virtio feature bit: protocol features */
#define VU_PF_MQ 0
#define VU_PF_REPLY_ACK 3
#define VU_PF_NET_MTU 4

#define VU_VERSION 0x1u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD 0x100u
#define VU_MAX_FDS 8
#define VU_HDR_SIZE 12u
#define RW_TIMEOUT_MS 1000
#define MSGS_PER_SERVICE 64   /* bounds one service() call */
#define MIN_MTU 68u

struct vu_region {
    uint64_t gpa;
    uint64_t size;
    uint64_t uva;
    uint64_t mmap_offset;
};

struct vu_msg {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
    union {
        uint64_t u64;
        struct {
            uint32_t index;
            uint32_t num;
        } state;
        struct {
            uint32_t index;
            uint32_t flags;
            uint64_t desc, used, avail, log;
        } addr;
        struct {
            uint32_t nregions;
            uint32_t padding;
            struct vu_region r[VF_VHOST_MAX_REGIONS];
        } mem;
        uint8_t raw[512];
    } p;
} __attribute__((packed));

_Static_assert(sizeof(((struct vu_msg *)0)->p.mem) == 8 + 32 * VF_VHOST_MAX_REGIONS,
               "the memory table payload of vhost-user.rst");

/* One ring as the protocol sees it; the worker-visible part is vq. */
struct vu_ring {
    struct vf_virtq vq;
    uint64_t desc_uva, avail_uva, used_uva;
    uint16_t num;
    uint16_t base;       /* from SET_VRING_BASE, used until configured */
    bool has_addr;
    bool started;        /* kick received and not stopped since */
    bool enabled;
    bool configured;     /* vq holds the indices (configure ran since BASE) */
    int kick_fd, call_fd, err_fd;   /* owned here; vq borrows them */
};

struct vu_qp {
    int ep_fd;           /* the workers' wait fd */
    int wake_fd;         /* in ep_fd's set for the device's life */
};

struct vf_vhost_dev {
    struct vf_vhost_opts o;
    char path[VF_VHOST_SOCKET_MAX];
    unsigned n_qp, n_rings;
    uint64_t features_offered, protocol_offered;
    /* Connection state: mgmt only. */
    enum vf_vhost_state state;
    int sock;            /* connection, or -1 */
    int lfd;             /* listening socket (server), or -1 */
    unsigned backoff_ms;
    uint64_t next_try_ms;
    /* Negotiated, reset on every disconnect. */
    uint64_t features, protocol;
    uint64_t features_last;    /* kept across disconnects, for stats */
    bool features_set, owned, mem_set;
    unsigned mtu;
    struct vf_vhost_mem mem;   /* rings point here; changed while quiesced */
    struct vu_qp qp[VF_VHOST_MAX_QP];
    struct vu_ring *ring;      /* n_rings, cache-aligned */
    /* Counters: mgmt writes, mgmt reads. */
    uint64_t connects, disconnects, messages, refused;
    char last_error[160];
};

/* ---- small helpers --------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static __attribute__((format(printf, 2, 3)))
void dev_log(struct vf_vhost_dev *d, const char *fmt, ...)
{
    char msg[sizeof(d->last_error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->o.log)
        d->o.log(d->o.log_arg, msg);
}

/* A refused message: remembered, counted, logged. */
static __attribute__((format(printf, 2, 3)))
int refuse(struct vf_vhost_dev *d, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(d->last_error, sizeof(d->last_error), "vhost-user '%s': ", d->path);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(d->last_error))
        vsnprintf(d->last_error + n, sizeof(d->last_error) - (size_t)n, fmt, ap);
    va_end(ap);
    d->refused++;
    if (d->o.log)
        d->o.log(d->o.log_arg, d->last_error);
    return -EINVAL;
}

/* Tells the owner (the port's capabilities) what the guest negotiated. */
static void features_changed(struct vf_vhost_dev *d)
{
    if (d->o.on_features)
        d->o.on_features(d->o.on_features_arg, d->features);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void close_fds(int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        close_fd(&fds[i]);
}

static void wake(struct vf_vhost_dev *d, unsigned qp)
{
    uint64_t one = 1;
    (void)!write(d->qp[qp].wake_fd, &one, sizeof(one));
}

/* ---- rings ------------------------------------------------------------------ */

static void ring_stop(struct vf_vhost_dev *d, unsigned i)
{
    vf_virtq_quiesce(&d->ring[i].vq);
}

/* Makes ring i live if everything it needs has arrived: 0, or -EINVAL
 * when it has all arrived and does not fit the memory table. */
static int ring_try_start(struct vf_vhost_dev *d, unsigned i)
{
    struct vu_ring *r = &d->ring[i];
    if (!d->mem_set || !r->has_addr || !r->num || !r->started || !r->enabled)
        return 0;
    struct vf_virtq_config c = {
        .mem = &d->mem,
        .size = r->num,
        .desc_uva = r->desc_uva,
        .avail_uva = r->avail_uva,
        .used_uva = r->used_uva,
        .features = d->features,
        .base = r->configured ? r->vq.last_avail : r->base,
        .tx = i & 1,
        .kick_fd = r->kick_fd,
        .call_fd = r->call_fd,
        .err_fd = r->err_fd,
        .ep_fd = d->qp[i / 2].ep_fd,
    };
    int rc = vf_virtq_configure(&r->vq, &c);
    if (rc < 0)
        return refuse(d, "ring %u: addresses outside guest memory or misaligned "
                      "(size %u): %s", i, r->num, strerror(-rc));
    r->configured = true;
    vf_virtq_publish(&r->vq);
    wake(d, i / 2);
    return 0;
}

static int rings_try_start(struct vf_vhost_dev *d)
{
    int rc = 0;
    for (unsigned i = 0; i < d->n_rings; i++)
        if (ring_try_start(d, i) < 0)
            rc = -EINVAL;
    return rc;
}

/* Forgets ring i's configuration (disconnect): stopped, fds closed. */
static void ring_forget(struct vf_vhost_dev *d, unsigned i)
{
    struct vu_ring *r = &d->ring[i];
    ring_stop(d, i);
    vf_virtq_reset(&r->vq);
    close_fd(&r->kick_fd);
    close_fd(&r->call_fd);
    close_fd(&r->err_fd);
    r->desc_uva = r->avail_uva = r->used_uva = 0;
    r->num = 0;
    r->base = 0;
    r->has_addr = r->started = r->enabled = r->configured = false;
}

/* ---- memory table ------------------------------------------------------------ */

static void mem_unmap(struct vf_vhost_mem *m)
{
    for (unsigned i = 0; i < m->n; i++)
        if (m->r[i].map)
            munmap(m->r[i].map, m->r[i].map_len);
    memset(m, 0, sizeof(*m));
}

/* Maps the regions of msg into out; closes every fd. */
static int mem_map(struct vf_vhost_dev *d, const struct vu_msg *m, int *fds,
                   unsigned nfds, struct vf_vhost_mem *out)
{
    uint32_t n = m->p.mem.nregions;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (m->size < 8 + 32ull * n || n == 0 || n > VF_VHOST_MAX_REGIONS || nfds != n) {
        rc = refuse(d, "SET_MEM_TABLE: %u regions with %u fds (payload %u bytes)",
                    n, nfds, m->size);
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct vu_region reg;
        const struct vu_region *g = &reg;
        memcpy(&reg, (const uint8_t *)m->p.raw + 8 + 32 * i, sizeof(reg));
        struct stat st;
        if (g->size == 0 || g->gpa + g->size < g->gpa || g->uva + g->size < g->uva ||
            g->mmap_offset + g->size < g->mmap_offset ||
            g->mmap_offset + g->size > (uint64_t)SIZE_MAX) {
            rc = refuse(d, "SET_MEM_TABLE: region %u wraps (gpa 0x%llx size 0x%llx)",
                        i, (unsigned long long)g->gpa, (unsigned long long)g->size);
            goto out;
        }
        /* A file shorter than the region would fault (SIGBUS) on access. */
        if (fstat(fds[i], &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) ||
            (uint64_t)st.st_size < g->mmap_offset + g->size) {
            rc = refuse(d, "SET_MEM_TABLE: region %u: the file (%lld bytes) does "
                        "not hold offset 0x%llx + size 0x%llx", i,
                        (long long)st.st_size, (unsigned long long)g->mmap_offset,
                        (unsigned long long)g->size);
            goto out;
        }
        size_t len = (size_t)(g->mmap_offset + g->size);
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
        if (p == MAP_FAILED) {
            rc = refuse(d, "SET_MEM_TABLE: mmap of region %u (%zu bytes): %s",
                        i, len, strerror(errno));
            goto out;
        }
        out->r[i] = (struct vf_vhost_region){
            .gpa = g->gpa, .size = g->size, .uva = g->uva,
            .host = (uint8_t *)p + g->mmap_offset, .map = p, .map_len = len,
        };
        out->n = i + 1;
    }
out:
    close_fds(fds, nfds);
    if (rc)
        mem_unmap(out);
    return rc;
}

/* ---- the connection ------------------------------------------------------------ */

static void disconnect(struct vf_vhost_dev *d, const char *why)
{
    if (d->sock < 0)
        return;
    for (unsigned i = 0; i < d->n_rings; i++)
        ring_forget(d, i);
    mem_unmap(&d->mem);
    d->mem_set = false;
    d->features = d->protocol = 0;
    d->features_set = d->owned = false;
    d->mtu = 0;
    features_changed(d);
    close_fd(&d->sock);
    d->disconnects++;
    dev_log(d, "vhost-user '%s': disconnected (%s)", d->path, why);
    if (d->o.server) {
        d->state = VF_VHOST_LISTENING;
    } else {
        d->state = VF_VHOST_WAITING;
        d->backoff_ms = d->o.backoff_min_ms;
        d->next_try_ms = now_ms() + d->backoff_ms;
    }
}

static void set_connected(struct vf_vhost_dev *d, int fd)
{
    struct timeval tv = {RW_TIMEOUT_MS / 1000, (RW_TIMEOUT_MS % 1000) * 1000};
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    d->sock = fd;
    d->state = VF_VHOST_CONNECTED;
    d->backoff_ms = d->o.backoff_min_ms;
    d->connects++;
    dev_log(d, "vhost-user '%s': connected", d->path);
}

static void try_connect(struct vf_vhost_dev *d)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, d->path, strlen(d->path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        set_connected(d, fd);
        return;
    }
    /* Absent, refused, or a full backlog (EAGAIN): retry later, slower. */
    if (fd >= 0)
        close(fd);
    d->next_try_ms = now_ms() + d->backoff_ms;
    d->backoff_ms = d->backoff_ms * 2 > d->o.backoff_max_ms ? d->o.backoff_max_ms
                                                            : d->backoff_ms * 2;
}

static void try_accept(struct vf_vhost_dev *d)
{
    int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        set_connected(d, fd);
}

static int msg_send(struct vf_vhost_dev *d, const struct vu_msg *req,
                    const void *payload, uint32_t size)
{
    struct vu_msg m;
    m.request = req->request;
    m.flags = VU_VERSION | VU_FLAG_REPLY;
    m.size = size;
    memcpy(&m.p, payload, size);
    ssize_t w = send(d->sock, &m, VU_HDR_SIZE + size, MSG_NOSIGNAL);
    return w == (ssize_t)(VU_HDR_SIZE + size) ? 0 : -EIO;
}

static int reply_u64(struct vf_vhost_dev *d, const struct vu_msg *req, uint64_t v)
{
    return msg_send(d, req, &v, sizeof(v));
}

/* Reads one message; fds (up to VU_MAX_FDS) into fds/nfds. 0, -EAGAIN
 * (nothing to read), or another -errno (the connection must go). */
static int msg_recv(struct vf_vhost_dev *d, struct vu_msg *m, int *fds,
                    unsigned *nfds)
{
    char ctl[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
    struct iovec iov = {.iov_base = m, .iov_len = VU_HDR_SIZE};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl, .msg_controllen = sizeof(ctl),
    };
    *nfds = 0;
    ssize_t r = recvmsg(d->sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    if (r == 0)
        return -ECONNRESET;
    if (r < 0)
        return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (unsigned i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < VU_MAX_FDS)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    if (r != VU_HDR_SIZE || (mh.msg_flags & MSG_CTRUNC) ||
        (m->flags & 0x3u) != VU_VERSION || m->size > sizeof(m->p)) {
        close_fds(fds, *nfds);
        *nfds = 0;
        return -EPROTO;
    }
    if (m->size) {
        r = recv(d->sock, &m->p, m->size, MSG_WAITALL);
        if (r != (ssize_t)m->size) {
            close_fds(fds, *nfds);
            *nfds = 0;
            return -EPROTO;
        }
    }
    return 0;
}

/* ---- message handlers --------------------------------------------------------- */

/* The ring a message names, or NULL (refused). */
static struct vu_ring *msg_ring(struct vf_vhost_dev *d, const char *what,
                                uint32_t idx, unsigned *out)
{
    if (idx >= d->n_rings) {
        refuse(d, "%s: ring %u out of range (%u rings)", what, idx, d->n_rings);
        return NULL;
    }
    *out = idx;
    return &d->ring[idx];
}

static int h_set_features(struct vf_vhost_dev *d, uint64_t f)
{
    if (f & ~d->features_offered)
        return refuse(d, "SET_FEATURES 0x%llx asks for bits not offered (0x%llx)",
                      (unsigned long long)f,
                      (unsigned long long)(f & ~d->features_offered));
    for (unsigned i = 0; i < d->n_rings; i++)
        ring_stop(d, i);
    d->features = f;
    d->features_last = f;
    d->features_set = true;
    features_changed(d);
    /* Without protocol features a ring is enabled from the start. */
    if (!(f & (1ull << VU_F_PROTOCOL_FEATURES)))
        for (unsigned i = 0; i < d->n_rings; i++)
            d->ring[i].enabled = true;
    return rings_try_start(d);
}

static int h_set_mem_table(struct vf_vhost_dev *d, const struct vu_msg *m,
                           int *fds, unsigned nfds)
{
    struct vf_vhost_mem nm;
    int rc = mem_map(d, m, fds, nfds, &nm);
    if (rc)
        return rc;
    for (unsigned i = 0; i < d->n_rings; i++)
        ring_stop(d, i);
    mem_unmap(&d->mem);
    d->mem = nm;   /* the rings' mem pointer stays &d->mem */
    d->mem_set = true;
    return rings_try_start(d);
}

/* SET_VRING_KICK / CALL / ERR: one eventfd (or none with the NOFD bit). */
static int h_vring_fd(struct vf_vhost_dev *d, const struct vu_msg *m, int *fds,
                      unsigned nfds, const char *what)
{
    unsigned i;
    bool nofd = m->p.u64 & VU_VRING_NOFD;
    struct vu_ring *r = msg_ring(d, what, (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK), &i);
    if (!r || (nofd ? nfds != 0 : nfds != 1)) {
        close_fds(fds, nfds);
        return r ? refuse(d, "%s: %u fds with the no-fd bit %s", what, nfds,
                          nofd ? "set" : "clear")
                 : -EINVAL;
    }
    int fd = nofd ? -1 : fds[0];
    ring_stop(d, i);
    if (m->request == VU_SET_VRING_KICK) {
        close_fd(&r->kick_fd);
        r->kick_fd = fd;
        /* Polling (no fd) works, but a worker sleeps up to its longest
         * sleep before it looks again. */
        r->started = true;
    } else if (m->request == VU_SET_VRING_CALL) {
        close_fd(&r->call_fd);
        r->call_fd = fd;
    } else {
        close_fd(&r->err_fd);
        r->err_fd = fd;
    }
    return ring_try_start(d, i);
}

static int h_get_vring_base(struct vf_vhost_dev *d, const struct vu_msg *m)
{
    unsigned i;
    struct vu_ring *r = msg_ring(d, "GET_VRING_BASE", m->p.state.index, &i);
    if (!r)
        return -EPROTO;   /* a reply is expected: the connection must go */
    ring_stop(d, i);
    uint16_t base = r->configured ? r->vq.last_avail : r->base;
    /* Stopped until the next kick (vhost-user.rst, "Ring states"). */
    r->started = false;
    r->configured = false;
    r->base = base;
    close_fd(&r->kick_fd);
    r->vq.kick_fd = -1;
    struct { uint32_t index, num; } st = {i, base};
    return msg_send(d, m, &st, sizeof(st));
}

/* Handles one message; 0 (answered or nothing to answer), -EINVAL (refused:
 * an ack says so if asked for), or another -errno (the connection goes). */
static int handle(struct vf_vhost_dev *d, struct vu_msg *m, int *fds,
                  unsigned nfds)
{
    unsigned i;
    struct vu_ring *r;
    bool ack = (m->flags & VU_FLAG_NEED_REPLY) && (d->protocol & (1ull << VU_PF_REPLY_ACK));
    int rc = 0;

    /* Messages that carry no fd must come without one. */
    switch (m->request) {
    case VU_SET_MEM_TABLE:
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR:
        break;
    default:
        close_fds(fds, nfds);
        nfds = 0;
    }

    switch (m->request) {
    case VU_GET_FEATURES:
        return reply_u64(d, m, d->features_offered);
    case VU_GET_PROTOCOL_FEATURES:
        return reply_u64(d, m, d->protocol_offered);
    case VU_GET_QUEUE_NUM:
        return reply_u64(d, m, d->n_qp);
    case VU_GET_VRING_BASE:
        return h_get_vring_base(d, m);
    case VU_SET_FEATURES:
        rc = m->size >= 8 ? h_set_features(d, m->p.u64) : -EPROTO;
        break;
    case VU_SET_PROTOCOL_FEATURES:
        if (m->size < 8)
            rc = -EPROTO;
        else if (m->p.u64 & ~d->protocol_offered)
            rc = refuse(d, "SET_PROTOCOL_FEATURES 0x%llx: bits not offered",
                        (unsigned long long)m->p.u64);
        else
            d->protocol = m->p.u64;
        /* REPLY_ACK applies from this message on. */
        ack = (m->flags & VU_FLAG_NEED_REPLY) && (d->protocol & (1ull << VU_PF_REPLY_ACK));
        break;
    case VU_SET_OWNER:
        d->owned = true;
        break;
    case VU_RESET_OWNER:
        /* Deprecated; the spec suggests disabling every ring. */
        for (i = 0; i < d->n_rings; i++) {
            ring_stop(d, i);
            d->ring[i].enabled = false;
        }
        break;
    case VU_SET_MEM_TABLE:
        rc = h_set_mem_table(d, m, fds, nfds);
        break;
    case VU_SET_VRING_NUM:
        if (!(r = msg_ring(d, "SET_VRING_NUM", m->p.state.index, &i)))
            rc = -EINVAL;
        else if (m->p.state.num == 0 || m->p.state.num > VF_VIRTQ_MAX_SIZE ||
                 (m->p.state.num & (m->p.state.num - 1)))
            rc = refuse(d, "SET_VRING_NUM: ring %u size %u is not a power of "
                        "two in 1..%u", i, m->p.state.num, VF_VIRTQ_MAX_SIZE);
        else {
            ring_stop(d, i);
            r->num = (uint16_t)m->p.state.num;
            rc = ring_try_start(d, i);
        }
        break;
    case VU_SET_VRING_ADDR:
        if (!(r = msg_ring(d, "SET_VRING_ADDR", m->p.addr.index, &i))) {
            rc = -EINVAL;
        } else {
            ring_stop(d, i);
            r->desc_uva = m->p.addr.desc;
            r->avail_uva = m->p.addr.avail;
            r->used_uva = m->p.addr.used;
            r->has_addr = true;
            rc = ring_try_start(d, i);
        }
        break;
    case VU_SET_VRING_BASE:
        if (!(r = msg_ring(d, "SET_VRING_BASE", m->p.state.index, &i))) {
            rc = -EINVAL;
        } else {
            ring_stop(d, i);
            r->base = (uint16_t)m->p.state.num;
            r->configured = false;
            rc = ring_try_start(d, i);
        }
        break;
    case VU_SET_VRING_KICK:
        rc = h_vring_fd(d, m, fds, nfds, "SET_VRING_KICK");
        break;
    case VU_SET_VRING_CALL:
        rc = h_vring_fd(d, m, fds, nfds, "SET_VRING_CALL");
        break;
    case VU_SET_VRING_ERR:
        rc = h_vring_fd(d, m, fds, nfds, "SET_VRING_ERR");
        break;
    case VU_SET_VRING_ENABLE:
        if (!(r = msg_ring(d, "SET_VRING_ENABLE", m->p.state.index, &i))) {
            rc = -EINVAL;
        } else {
            ring_stop(d, i);
            r->enabled = m->p.state.num != 0;
            rc = ring_try_start(d, i);
        }
        break;
    case VU_NET_SET_MTU: {
        unsigned max = d->o.max_mtu;
        if (m->size < 8 || m->p.u64 < MIN_MTU || m->p.u64 > max)
            rc = refuse(d, "NET_SET_MTU %llu outside %u..%u",
                        (unsigned long long)m->p.u64, MIN_MTU, max);
        else
            d->mtu = (unsigned)m->p.u64;
        break;
    }
    case VU_SET_LOG_BASE:
    case VU_SET_LOG_FD:
    case VU_SEND_RARP:
    default:
        rc = refuse(d, "request %u not supported (not offered)", m->request);
        break;
    }
    if (rc == -EPROTO)
        return rc;
    if (ack && reply_u64(d, m, rc ? 1 : 0) < 0)
        return -EIO;
    return rc == -EINVAL ? 0 : rc;
}

static void service_connection(struct vf_vhost_dev *d)
{
    for (unsigned k = 0; k < MSGS_PER_SERVICE && d->sock >= 0; k++) {
        struct pollfd pfd = {.fd = d->sock, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0)
            return;
        struct vu_msg m;
        int fds[VU_MAX_FDS];
        unsigned nfds;
        int rc = msg_recv(d, &m, fds, &nfds);
        if (rc == -EAGAIN)
            return;
        if (rc == 0) {
            d->messages++;
            rc = handle(d, &m, fds, nfds);
        }
        if (rc < 0) {
            char why[64];
            snprintf(why, sizeof(why), "%s", rc == -ECONNRESET ? "closed by the peer"
                     : rc == -EPROTO ? "malformed message" : strerror(-rc));
            disconnect(d, why);
            return;
        }
    }
}

/* ---- public ------------------------------------------------------------------ */

static int listen_on(struct vf_vhost_dev *d, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    memcpy(sa.sun_path, d->path, strlen(d->path));
    /* A socket left by an earlier run would make bind fail; only a socket
     * is removed, never another kind of file. */
    if (lstat(d->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(d->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        snprintf(err, errlen, "vhost-user '%s': bind: %s", d->path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    /* From here the socket file is ours: destroy removes it. */
    d->lfd = fd;
    if (listen(fd, 1) < 0) {
        snprintf(err, errlen, "vhost-user '%s': listen: %s", d->path, strerror(errno));
        return -errno;
    }
    return 0;
}

struct vf_vhost_dev *vf_vhost_dev_create(const struct vf_vhost_opts *o,
                                         char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!o || !o->socket || !o->socket[0] || strlen(o->socket) >= VF_VHOST_SOCKET_MAX) {
        snprintf(err, errlen, "vhost-user: socket path must be 1-%d characters",
                 VF_VHOST_SOCKET_MAX - 1);
        return NULL;
    }
    if (o->n_qp == 0 || o->n_qp > VF_VHOST_MAX_QP) {
        snprintf(err, errlen, "vhost-user '%s': queue pairs must be 1-%d",
                 o->socket, VF_VHOST_MAX_QP);
        return NULL;
    }
    struct vf_vhost_dev *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "vhost-user '%s': out of memory", o->socket);
        return NULL;
    }
    d->o = *o;
    snprintf(d->path, sizeof(d->path), "%s", o->socket);
    d->o.socket = d->path;
    if (!d->o.backoff_min_ms)
        d->o.backoff_min_ms = VF_VHOST_BACKOFF_MIN_MS;
    if (d->o.backoff_max_ms < d->o.backoff_min_ms)
        d->o.backoff_max_ms = d->o.backoff_min_ms > VF_VHOST_BACKOFF_MAX_MS
                                  ? d->o.backoff_min_ms : VF_VHOST_BACKOFF_MAX_MS;
    if (!d->o.max_mtu)
        d->o.max_mtu = 1500;
    d->n_qp = o->n_qp;
    d->n_rings = 2 * o->n_qp;
    d->sock = d->lfd = -1;
    for (unsigned q = 0; q < VF_VHOST_MAX_QP; q++)
        d->qp[q].ep_fd = d->qp[q].wake_fd = -1;

    d->features_offered =
        (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
        (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_MQ) |
        (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |
        (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_F_ANY_LAYOUT) |
        (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
        (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VIRTIO_F_VERSION_1);
    if (o->tso)
        d->features_offered |= (1ull << VIRTIO_NET_F_HOST_TSO4) |
                               (1ull << VIRTIO_NET_F_HOST_TSO6);
    d->protocol_offered = (1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) |
                          (1ull << VU_PF_NET_MTU);

    size_t bytes = sizeof(struct vu_ring) * d->n_rings;
    bytes = (bytes + VF_CACHE_LINE - 1) & ~((size_t)VF_CACHE_LINE - 1);
    d->ring = aligned_alloc(VF_CACHE_LINE, bytes);
    if (!d->ring) {
        snprintf(err, errlen, "vhost-user '%s': out of memory", d->path);
        goto fail;
    }
    memset(d->ring, 0, bytes);
    for (unsigned i = 0; i < d->n_rings; i++) {
        vf_virtq_init(&d->ring[i].vq);
        d->ring[i].kick_fd = d->ring[i].call_fd = d->ring[i].err_fd = -1;
    }
    for (unsigned q = 0; q < d->n_qp; q++) {
        struct vu_qp *qp = &d->qp[q];
        qp->ep_fd = epoll_create1(EPOLL_CLOEXEC);
        qp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = qp->wake_fd};
        if (qp->ep_fd < 0 || qp->wake_fd < 0 ||
            epoll_ctl(qp->ep_fd, EPOLL_CTL_ADD, qp->wake_fd, &ev) < 0) {
            snprintf(err, errlen, "vhost-user '%s': epoll/eventfd: %s", d->path,
                     strerror(errno));
            goto fail;
        }
    }
    if (o->server) {
        if (listen_on(d, err, errlen) < 0)
            goto fail;
        d->state = VF_VHOST_LISTENING;
    } else {
        d->state = VF_VHOST_WAITING;
        d->backoff_ms = d->o.backoff_min_ms;
        d->next_try_ms = 0;   /* the first service call connects */
    }
    return d;
fail:
    vf_vhost_dev_destroy(d);
    return NULL;
}

void vf_vhost_dev_destroy(struct vf_vhost_dev *d)
{
    if (!d)
        return;
    if (d->ring) {
        if (d->sock >= 0)
            disconnect(d, "closed");
        free(d->ring);
    }
    close_fd(&d->sock);
    if (d->lfd >= 0) {
        close_fd(&d->lfd);
        unlink(d->path);
    }
    for (unsigned q = 0; q < VF_VHOST_MAX_QP; q++) {
        close_fd(&d->qp[q].ep_fd);
        close_fd(&d->qp[q].wake_fd);
    }
    free(d);
}

int vf_vhost_dev_fd(const struct vf_vhost_dev *d)
{
    switch (d->state) {
    case VF_VHOST_CONNECTED:
        return d->sock;
    case VF_VHOST_LISTENING:
        return d->lfd;
    default:
        return -1;
    }
}

int vf_vhost_dev_timeout_ms(const struct vf_vhost_dev *d)
{
    if (d->state != VF_VHOST_WAITING)
        return -1;
    uint64_t now = now_ms();
    return d->next_try_ms <= now ? 0 : (int)(d->next_try_ms - now);
}

void vf_vhost_dev_service(struct vf_vhost_dev *d)
{
    switch (d->state) {
    case VF_VHOST_WAITING:
        if (now_ms() >= d->next_try_ms)
            try_connect(d);
        break;
    case VF_VHOST_LISTENING:
        try_accept(d);
        break;
    case VF_VHOST_CONNECTED:
        break;
    }
    if (d->state == VF_VHOST_CONNECTED)
        service_connection(d);
}

enum vf_vhost_state vf_vhost_dev_state(const struct vf_vhost_dev *d)
{
    return d->state;
}

unsigned vf_vhost_dev_n_qp(const struct vf_vhost_dev *d)
{
    return d->n_qp;
}

struct vf_virtq *vf_vhost_dev_vq(struct vf_vhost_dev *d, unsigned ring)
{
    return ring < d->n_rings ? &d->ring[ring].vq : NULL;
}

int vf_vhost_dev_wait_fd(const struct vf_vhost_dev *d, unsigned qp)
{
    return qp < d->n_qp ? d->qp[qp].ep_fd : -1;
}

void vf_vhost_dev_wake_clear(struct vf_vhost_dev *d, unsigned qp)
{
    uint64_t v;
    if (qp < d->n_qp)
        (void)!read(d->qp[qp].wake_fd, &v, sizeof(v));
}

const char *vf_vhost_state_name(enum vf_vhost_state s)
{
    switch (s) {
    case VF_VHOST_WAITING:
        return "waiting";
    case VF_VHOST_LISTENING:
        return "listening";
    case VF_VHOST_CONNECTED:
        return "connected";
    }
    return "unknown";
}

int vf_vhost_dev_info(const struct vf_vhost_dev *d, struct vf_vhost_info *out)
{
    if (!d || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    snprintf(out->socket, sizeof(out->socket), "%s", d->path);
    out->server = d->o.server;
    out->state = d->state;
    out->n_qp = d->n_qp;
    out->features_offered = d->features_offered;
    out->features = d->features;
    out->features_last = d->features_last;
    out->protocol_offered = d->protocol_offered;
    out->protocol = d->protocol;
    out->mem_mapped = d->mem_set;
    out->mem_regions = d->mem.n;
    out->mtu = d->mtu;
    out->connects = d->connects;
    out->disconnects = d->disconnects;
    out->messages = d->messages;
    out->refused = d->refused;
    snprintf(out->last_error, sizeof(out->last_error), "%s", d->last_error);
    return 0;
}

int vf_vhost_dev_ring_info(const struct vf_vhost_dev *d, unsigned ring,
                           struct vf_vhost_ring_info *out)
{
    if (!d || !out || ring >= d->n_rings)
        return -EINVAL;
    const struct vu_ring *r = &d->ring[ring];
    const struct vf_virtq *vq = &r->vq;
    memset(out, 0, sizeof(*out));
    out->started = r->started;
    out->enabled = r->enabled;
    out->live = atomic_load_explicit(&vq->live, memory_order_relaxed);
    out->size = r->num;
    /* Written by the worker under the ring lock: may be a burst stale. */
    out->next_avail = r->configured ? __atomic_load_n(&vq->last_avail, __ATOMIC_RELAXED)
                                    : r->base;
    out->broken = atomic_load_explicit(&vq->broken, memory_order_relaxed);
    out->pkts = atomic_load_explicit(&vq->st.pkts, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&vq->st.bytes, memory_order_relaxed);
    out->kicks = atomic_load_explicit(&vq->st.kicks, memory_order_relaxed);
    out->calls = atomic_load_explicit(&vq->st.calls, memory_order_relaxed);
    out->full = atomic_load_explicit(&vq->st.full, memory_order_relaxed);
    for (unsigned e = 0; e < VF_VIRTQ_ERR__COUNT; e++)
        out->err[e] = atomic_load_explicit(&vq->st.err[e], memory_order_relaxed);
    return 0;
}
