/* vf_vhost_user.h - the vhost-user protocol: one VM's virtio-net device.
 *
 * What: a vf_vhost_dev is the backend side of one vhost-user socket (QEMU's
 * docs/interop/vhost-user.rst). vfab is normally the socket's CLIENT: QEMU
 * serves it (`-chardev socket,path=PATH,server=on`), so vfabd can restart
 * without the VM restarting; the device connects, and after a disconnect (the
 * guest shut down, QEMU restarted) retries with a backoff from
 * backoff_min_ms doubling to backoff_max_ms. opts.server makes vfab listen
 * instead (one frontend at a time). The device answers the frontend's
 * messages: features and protocol features, owner, the memory table (every
 * region mmap()ed MAP_SHARED; guest-physical descriptor addresses and
 * QEMU-virtual ring addresses are both translated through it, vf_virtq.h),
 * vring num/addr/base/kick/call/err/enable, GET_VRING_BASE (stops the ring
 * and returns its next avail index), REPLY_ACK, MQ with GET_QUEUE_NUM, and
 * NET_SET_MTU. It offers no migration (no LOG_ALL, LOG_SHMFD, RARP), no
 * backend channel, no packed ring, no IOMMU.
 *
 * Rings: queue pair q is ring 2q (the guest's RX: vfab enqueues) and ring
 * 2q+1 (the guest's TX: vfab dequeues), as virtio-net numbers them. A ring
 * is live (served by its worker) when the memory table, its size and
 * addresses and its kick have all arrived and it is enabled (with
 * PROTOCOL_FEATURES it starts disabled until SET_VRING_ENABLE 1, as the spec
 * says; a started but disabled ring is simply not served). GET_VRING_BASE
 * stops it until the next SET_VRING_KICK.
 *
 * Waking workers: each queue pair has an epoll set (vf_vhost_dev_wait_fd)
 * holding a wake eventfd of the device's and, while the TX ring is live, the
 * guest's TX kick eventfd. The epoll fd stays the same for the device's
 * life, so a worker may poll it while the frontend changes the kick fd. The
 * device writes the wake eventfd when a ring goes live (a worker asleep
 * since before has work to look at); the worker clears it
 * (vf_vhost_dev_wake_clear) when it wakes.
 *
 * Trust: the guest is untrusted (vf_virtq.h). The frontend (QEMU, a host
 * process) is trusted not to shrink its memory files under us: a region is
 * refused if the file is shorter than the region when it arrives, but a later
 * truncation would fault (SIGBUS) on access, as with every vhost-user
 * backend. A frontend that sends a malformed message gets a failure reply
 * (REPLY_ACK) or loses its connection; the device then reconnects.
 *
 * Thread-safety: create, destroy, fd, timeout_ms, service and the info
 * calls belong to one thread (the management thread): protocol messages
 * change the memory map and the rings, so they are never handled on a
 * worker. Workers touch only what vf_vhost_dev_vq() and
 * vf_vhost_dev_wait_fd() return, under the ring handshake of vf_virtq.h
 * (vf_virtq_enter/leave), which is how a message that changes a live ring
 * waits for the ring's worker to be out of it. destroy needs no worker
 * serving the device's rings any more.
 */
#ifndef VF_VHOST_USER_H
#define VF_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/vf_virtq.h"

#define VF_VHOST_MAX_QP 64             /* == VF_PORT_MAX_QUEUES */
#define VF_VHOST_BACKOFF_MIN_MS 100
#define VF_VHOST_BACKOFF_MAX_MS 2000
#define VF_VHOST_SOCKET_MAX 108        /* sizeof(sun_path) */

enum vf_vhost_state {
    VF_VHOST_WAITING,     /* client: not connected, next try after a delay */
    VF_VHOST_LISTENING,   /* server: waiting for the frontend */
    VF_VHOST_CONNECTED,
};

struct vf_vhost_opts {
    const char *socket;     /* the Unix socket path */
    bool server;            /* listen on it instead of connecting */
    unsigned n_qp;          /* queue pairs offered, 1..VF_VHOST_MAX_QP */
    bool tso;               /* offer HOST_TSO4/6: frames up to 64 KB from the
                             * guest (the pools must hold them) */
    unsigned max_mtu;       /* largest MTU NET_SET_MTU may set (0: 1500) */
    unsigned backoff_min_ms, backoff_max_ms;   /* 0: the defaults */
    /* Optional: told about connections and refused messages (mgmt thread). */
    void (*log)(void *arg, const char *msg);
    void *log_arg;
    /* Optional: told the negotiated virtio features whenever they change
     * (SET_FEATURES; 0 at a disconnect), on the mgmt thread. */
    void (*on_features)(void *arg, uint64_t features);
    void *on_features_arg;
};

struct vf_vhost_dev;

/* NULL on failure with err naming the socket and the step. A client
 * device makes its first connection attempt at the first service call. */
struct vf_vhost_dev *vf_vhost_dev_create(const struct vf_vhost_opts *o,
                                         char *err, size_t errlen);
void vf_vhost_dev_destroy(struct vf_vhost_dev *d);   /* accepts NULL */

/* The fd to poll for POLLIN (the connection, or the listening socket), or
 * -1 while the device only waits for its reconnect delay. */
int vf_vhost_dev_fd(const struct vf_vhost_dev *d);
/* Milliseconds until service is due without fd activity (a reconnect
 * attempt), 0 when due now, -1 for never. */
int vf_vhost_dev_timeout_ms(const struct vf_vhost_dev *d);
/* Does whatever is due without blocking on the frontend: handles the
 * messages waiting on the connection (a bounded number per call), accepts
 * or connects. Calling it with nothing due is harmless. */
void vf_vhost_dev_service(struct vf_vhost_dev *d);

enum vf_vhost_state vf_vhost_dev_state(const struct vf_vhost_dev *d);
unsigned vf_vhost_dev_n_qp(const struct vf_vhost_dev *d);

/* Worker side. Ring `ring` (< 2 * n_qp) and queue pair qp's stable wait fd;
 * NULL / -1 when out of range. */
struct vf_virtq *vf_vhost_dev_vq(struct vf_vhost_dev *d, unsigned ring);
int vf_vhost_dev_wait_fd(const struct vf_vhost_dev *d, unsigned qp);
/* Clears qp's wake eventfd (a worker that has woken). */
void vf_vhost_dev_wake_clear(struct vf_vhost_dev *d, unsigned qp);

/* ---- introspection (mgmt thread) ---- */

struct vf_vhost_ring_info {
    bool started;        /* kick received, not stopped since */
    bool enabled;
    bool live;           /* served by a worker now */
    uint16_t size;
    uint16_t next_avail; /* as of the last quiesce or now (a burst stale) */
    unsigned broken;     /* enum vf_virtq_err, 0 = fine */
    uint64_t pkts, bytes, kicks, calls, full;
    uint64_t err[VF_VIRTQ_ERR__COUNT];
};

struct vf_vhost_info {
    char socket[VF_VHOST_SOCKET_MAX];
    bool server;
    enum vf_vhost_state state;
    unsigned n_qp;             /* offered */
    uint64_t features_offered, features;          /* virtio */
    uint64_t features_last;    /* of this or the last connection */
    uint64_t protocol_offered, protocol;          /* vhost-user */
    bool mem_mapped;
    unsigned mem_regions;
    unsigned mtu;              /* from NET_SET_MTU, 0 if none */
    uint64_t connects, disconnects, messages, refused;
    char last_error[160];
};

int vf_vhost_dev_info(const struct vf_vhost_dev *d, struct vf_vhost_info *out);
int vf_vhost_dev_ring_info(const struct vf_vhost_dev *d, unsigned ring,
                           struct vf_vhost_ring_info *out);
const char *vf_vhost_state_name(enum vf_vhost_state s);

#endif
