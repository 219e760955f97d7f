/* vf_port_tap.h - the tap port: a tenant VM or container attached through a
 * Linux tap device (`attach: {type: tap, name: NAME}`).
 *
 * What: vf_tap_port_open() creates (or attaches to an existing, persistent)
 * multiqueue tap device with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR|IFF_MULTI_QUEUE,
 * one non-blocking fd per queue, a 12-byte virtio_net_hdr_v1 in front of
 * every frame (TUNSETVNETHDRSZ), TUN_F_CSUM offload, and sets the link up.
 * Each queue has its own io_uring:
 *   - rx: a window of read SQEs is always in flight, each into a packet of
 *     that queue's pool, placed so that the frame lands at VF_PKT_HEADROOM
 *     and the vnet header just before it. rx_burst only harvests
 *     completions (it never waits) and re-arms the window, one submit per
 *     burst. The window is armed by the first rx_burst, so the reads belong
 *     to the worker's task (io_uring runs their completion work there, and
 *     cancels a task's requests when it exits). The pool region is
 *     registered as fixed buffers so reads are read_fixed (no per-I/O page
 *     pinning); opts.plain_io selects plain read/write instead. Measured on
 *     tun (perf/bench_tap.c) the two cost the same within noise: tun copies
 *     either way. Registration failing (RLIMIT_MEMLOCK) falls back to plain.
 *   - tx: tx_burst queues one write SQE per packet (vnet header prepended
 *     into the headroom; write_fixed when the packet lies in the registered
 *     region) and submits once per burst. A packet is freed when its write
 *     completes; tx never blocks and accepts fewer packets when the ring or
 *     the in-flight budget is full (the caller drops the rest).
 *   - wait_fd is the eventfd registered with the io_uring: it becomes
 *     readable whenever a completion is posted. sleep_notify(1) reports
 *     pending completions; sleep_notify(0) clears the eventfd. The kernel
 *     posts the CQE before it signals the eventfd, so a completion that the
 *     sleep_notify(1) check misses makes the poll() return: no lost wakeup.
 *
 * Offloads. rx: a frame with VIRTIO_NET_HDR_F_NEEDS_CSUM (CHECKSUM_PARTIAL,
 * the default for packets the guest's own stack sends) has its L4 checksum
 * completed at csum_start/csum_offset, so it leaves vfab valid. TSO is OFF
 * unless opts.tso is set: a TSO frame can be 64 KB, so opts.tso requires
 * that every queue's pool has a data room of at least VF_TAP_TSO_DATA_ROOM
 * (open fails otherwise). With TSO on, a TCP GSO frame arrives with
 * pkt->gso_size = the MSS and its L4 checksum left partial (the pseudo-header
 * sum, as the kernel gives it): whoever segments it fills each segment's
 * checksum. tx: the vnet header is zero, or, when pkt->gso_size is set, a
 * TCPv4/TCPv6 GSO header (NEEDS_CSUM, the pseudo-header sum rewritten) so
 * the kernel segments the frame for the tenant.
 *
 * rx mode. Where the kernel has IORING_OP_READ_MULTISHOT (Linux 6.7; the
 * open probes for it) and opts.no_multishot is not set, rx is instead one
 * multishot read per queue over a provided-buffer ring of rx_window pool
 * packets: the kernel picks the next buffer for each frame, one SQE serves
 * every frame until the ring runs dry (the read then ends with ENOBUFS and
 * the next rx_burst refills and re-arms it). Reads then use provided
 * buffers, not fixed ones; writes still use the registered region.
 * vf_tap_port_info says which mode is in force. Debian 12's kernel (6.1)
 * has no multishot read: the window is used there.
 *
 * Limits: tun cuts
 * a frame longer than the buffer to the buffer's length, so a read that
 * fills the whole buffer is dropped and counted in rx_errors (MTU raised on
 * a port without big pools): the largest frame taken is data_room -
 * VF_PKT_HEADROOM - 1 bytes. tun picks a flow's queue by its hash.
 *
 * Device loss. When the tap disappears under the port (`ip link del`, its
 * namespace deleted), reads fail with EBADFD. The first queue to see it sets
 * the port's `gone` flag (vf_port_gone; the port has VF_PORT_CAP_CAN_VANISH)
 * and counts one rx_error; every queue then stops re-arming reads and tx
 * accepts nothing. Nothing crashes
 * and nothing is retried in the data path. It comes back when mgmt closes
 * and re-opens the port (the next `apply` that lists it re-creates the tap).
 *
 * Namespaces: the fds keep working after `ip link set TAP netns NS`; the
 * device is then configured (addresses, link up: moving it sets it down)
 * from inside NS. Closing the port deletes a non-persistent tap.
 *
 * Thread-safety: open/close/info from the management thread while no worker
 * serves the port; rx_burst/tx_burst/wait_fd/sleep_notify on queue q from
 * q's worker only. The gone and info ops (vf_port.h) and vf_tap_port_gone/
 * vf_tap_port_info may be called from mgmt at any time (relaxed atomics: a
 * burst stale at worst).
 *
 * Capabilities: GSO_TX (the kernel segments a GSO frame for the tenant),
 * MQ_RX (tun spreads flows over the queues), CAN_VANISH.
 */
#ifndef VF_PORT_TAP_H
#define VF_PORT_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/vf_port.h"

#define VF_TAP_VNET_HDR_LEN 12u          /* sizeof(struct virtio_net_hdr_v1) */
#define VF_TAP_RX_WINDOW_DEFAULT 64u     /* reads in flight per queue */
#define VF_TAP_TX_DEPTH_DEFAULT 256u     /* writes in flight per queue */
#define VF_TAP_WINDOW_MAX 4096u
/* Smallest pool data room for opts.tso: headroom + a 64 KB frame + L2. */
#define VF_TAP_TSO_DATA_ROOM (VF_PKT_HEADROOM + 65536u + 32u)

struct vf_tap_opts {
    unsigned rx_window;  /* reads kept in flight per queue; 0: default */
    unsigned tx_depth;   /* writes in flight per queue; 0: default */
    bool plain_io;       /* plain read/write, no registered buffers */
    bool no_multishot;   /* the read window even where multishot exists */
    bool tso;            /* accept TSO4/TSO6 frames (needs big pools) */
};

struct vf_tap_info {
    char ifname[16];
    unsigned n_queues;
    bool fixed_bufs;     /* every queue registered its pool (write_fixed; read_fixed in window mode) */
    bool multishot;      /* rx is one multishot read per queue */
    bool tso;
    bool gone;           /* the device disappeared; re-open to recover */
    uint64_t rx_csum_completed; /* NEEDS_CSUM frames fixed up on rx */
    uint64_t rx_gso;            /* TSO frames received (gso_size set) */
    uint64_t rx_bad;            /* runts, bad vnet headers, read errors */
    uint64_t tx_gso;            /* frames sent with a GSO header */
    uint64_t tx_errors;         /* writes the kernel refused */
    uint64_t rx_rearms;         /* multishot reads re-armed (ran dry, ...) */
};

/* Opens port `name` on tap device `ifname` (created if missing) with
 * n_queues queues; pools[q] supplies queue q's rx buffers (pools may repeat).
 * o may be NULL (defaults). NULL on failure with err naming the device and
 * the step that failed. */
struct vf_port *vf_tap_port_open(const char *name, const char *ifname,
                                 unsigned n_queues,
                                 struct vf_pool *const *pools,
                                 const struct vf_tap_opts *o,
                                 char *err, size_t errlen);

/* Why ifname cannot name a tap of its own, or NULL when it can: Linux's
 * rules for interface names (1..15 bytes, not "." or "..", no '/', ':' or
 * whitespace), no '%' (TUNSETIFF would make up a name from it) and only
 * printable ASCII (the name goes into logs and CLI output unquoted). The
 * model validator and vf_tap_port_open() both ask it. A phrase that
 * follows the name: "is longer than 15 bytes". */
const char *vf_tap_ifname_problem(const char *ifname);

/* true once the device has disappeared (see "Device loss"). */
bool vf_tap_port_gone(const struct vf_port *p);

/* Fills out with the device name, options in effect and the tap-specific
 * counters summed over queues; -EINVAL if p is not a tap port. */
int vf_tap_port_info(const struct vf_port *p, struct vf_tap_info *out);

#endif
