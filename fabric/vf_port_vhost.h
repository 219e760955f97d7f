/* vf_port_vhost.h - the vhost-user port: a VM attached through virtio rings
 * in shared memory (`attach: {type: vhost-user, socket: PATH}`).
 *
 * What: a vf_port ("vhost-user") over one vf_vhost_dev (vf_vhost_user.h),
 * one port queue per guest queue pair, each served by one worker:
 *   - rx_burst(q): frames the guest sent on TX ring 2q+1, copied into
 *     buffers from the worker's pool cache (vf_virtq_dequeue_burst);
 *   - tx_burst(q): frames copied into the guest's RX ring 2q
 *     (vf_virtq_enqueue_burst). A guest with fewer queue pairs than the port
 *     has queues (the VM's choice, e.g. `queues=1` with four workers): a
 *     queue whose RX ring is not live sends on queue pair 0's, whose ring
 *     lock then serialises the workers (vf_virtq.h). A guest that stops
 *     refilling its RX ring makes tx_burst accept fewer frames: the worker
 *     drops the rest (tx_queue_full) and nothing else waits for it;
 *   - wait_fd(q): queue pair q's epoll set (the TX kick eventfd and the
 *     device's wake eventfd), stable for the port's life;
 *   - sleep_notify(q, 1): asks the guest for kicks on TX ring 2q+1, then
 *     re-reads its avail index (vf_virtq_notify_enable): nonzero when frames
 *     are already there, so no wake-up is lost; sleep_notify(q, 0): clears
 *     the wake and kick eventfds and turns kicks off again while busy.
 * A queue whose guest rings are not live (not connected yet, guest down,
 * ring broken) receives nothing, sends nothing, and its worker sleeps.
 *
 * The control side (the socket, reconnecting, protocol messages) is the
 * device's, driven by the management thread through vf_vhost_port_dev():
 * poll vf_vhost_dev_fd() with vf_vhost_dev_timeout_ms() and call
 * vf_vhost_dev_service(). Offloads: CSUM and GUEST_CSUM/GUEST_TSO4/6 always,
 * HOST_TSO4/6 only with opts.tso, which needs pools that hold a 64 KB frame
 * (VF_VHOST_TSO_DATA_ROOM), as the tap's does.
 *
 * Capabilities (vf_port.h): MQ_RX always; GSO_TX while the connected guest
 * has negotiated GUEST_TSO4 and GUEST_TSO6 (set and cleared on the
 * management thread as the features change), so the pipeline hands such a
 * guest TCP GSO frames whole. A frame that was decided on the old value
 * and meets a guest without them is refused and counted
 * (guest_cannot_take_gso). The info op gives vf_vhost_dev_info's state,
 * socket, features and counters.
 *
 * Thread-safety: open/close/info from the management thread while no worker
 * serves the port; the data ops per queue from that queue's worker (tx_burst
 * may share queue pair 0's RX ring with other workers, see above); the
 * device's control calls from the management thread at any time.
 */
#ifndef VF_PORT_VHOST_H
#define VF_PORT_VHOST_H

#include <stdbool.h>
#include <stddef.h>

#include "fabric/vf_port.h"
#include "fabric/vf_vhost_user.h"

#define VF_VHOST_TSO_DATA_ROOM (VF_PKT_HEADROOM + VF_VIRTQ_MAX_FRAME)

struct vf_vhost_port_opts {
    const char *socket;    /* QEMU's vhost-user socket */
    bool server;           /* vfab listens (default: vfab connects) */
    bool tso;              /* accept TSO frames from the guest */
    void (*log)(void *arg, const char *msg);   /* optional, mgmt thread */
    void *log_arg;
};

/* Opens port `name` with n_queues queues (= queue pairs offered to the
 * guest). pools[q] is the pool queue q's worker allocates from (pools may
 * repeat): their data room bounds the MTU the guest may set and must hold
 * VF_VHOST_TSO_DATA_ROOM for opts.tso. NULL on failure with err naming the
 * socket and the field. */
struct vf_port *vf_vhost_port_open(const char *name,
                                   const struct vf_vhost_port_opts *o,
                                   unsigned n_queues,
                                   struct vf_pool *const *pools,
                                   char *err, size_t errlen);

/* The port's device for the control loop and stats; NULL if p is not a
 * vhost-user port. */
struct vf_vhost_dev *vf_vhost_port_dev(struct vf_port *p);

#endif
