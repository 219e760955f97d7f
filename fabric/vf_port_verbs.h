/* vf_port_verbs.h - the RDMA verbs uplink: zero-copy raw Ethernet (vf_port.h,
 * type "verbs"; config `uplink: {type: verbs, device: NAME, port: N}`).
 *
 * What: frames go between vfab's packet pools and the NIC with no copy and
 * no syscall. The port opens a verbs device by name, registers each queue's
 * pool region once as a memory region, and per queue creates an
 * IBV_QPT_RAW_PACKET queue pair: the NIC DMAs received frames straight into
 * pool buffers that were posted on the receive queue, and sends each packet
 * from its own buffer. Frames are whole Ethernet/IPv4/UDP/Geneve-or-VXLAN
 * frames (vf_tunnel.h), exactly what a UDP uplink's kernel puts on the wire,
 * so a verbs host and a UDP host interoperate.
 *
 * Receive queues and RSS:
 *   - Flow steering rules (ibv_create_flow) match UDP destination ports
 *     geneve_port and vxlan_port (6081, 4789 by default), and the local MAC
 *     and IPv4 address when given, so the port only takes tunnel traffic;
 *     everything else (ARP, ICMP, ssh) stays with the kernel's netdev.
 *   - With n_queues > 1 and a device that reports RSS for raw packet QPs
 *     (ibv_query_device_ex rss_caps), each queue gets a receive WQ and its
 *     own CQ; an indirection table over the WQs and one hashing QP (Toeplitz
 *     over IPv4 src/dst + UDP src/dst ports) spread the tunnel flows over
 *     the queues. The outer UDP source port carries the inner flow hash, so
 *     one inner flow stays on one queue.
 *   - Otherwise (one queue, no RSS support, or opts->no_rss) queue 0's QP
 *     receives everything and queues 1..n-1 are transmit only: their
 *     rx_burst returns 0. vf_verbs_port_info() says which mode is in force.
 *
 * Buffers:
 *   - Receive: buffers are posted at the standard headroom with length
 *     data_room - VF_PKT_HEADROOM. The wr_id of a receive WR is the index
 *     of a slot table entry that holds the packet (any completion order
 *     works, and close knows what is still posted). rx_burst polls the CQ
 *     in one batch of up to n, hands successful completions up (len =
 *     byte_len), frees the buffers of error completions back to their pool
 *     (counted in rx_errors), and refills the receive queue to full from
 *     the worker's cache when that cache's pool is registered, else from
 *     the queue's own cache on pools[q].
 *   - Transmit: one send WR per packet, SGE = vf_pkt_data()/len with the
 *     lkey of the packet's pool; a burst is one chain, one doorbell. Every
 *     tx_signal_every-th WR is signalled; its completion frees it and every
 *     WR before it (a send queue completes in order). So up to
 *     tx_signal_every - 1 sent packets stay held until a later signalled
 *     WR completes or the port closes; they are never freed early. A packet
 *     from a pool the port did not register is copied into a buffer of a
 *     registered pool (counted in tx_copies). When the send queue is full,
 *     tx_burst accepts a prefix (vf_port.h contract).
 *
 * Not done: wait_fd is -1 (the port is polled; the generic worker polls
 * such queues every millisecond when idle); a QP that goes to the error
 * state (a send error completion) is not recovered: reopen the port.
 *
 * Capabilities (vf_port.h): MQ_RX when RSS is in force. The info op gives
 * the device and what vf_verbs_port_info says.
 *
 * Thread-safety: open/close from the management thread while no worker
 * serves the port; rx/tx of queue q from q's worker only. vf_verbs_port_info
 * and the info op may be called from mgmt at any time; the counters may be
 * a burst stale.
 */
#ifndef VF_PORT_VERBS_H
#define VF_PORT_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/vf_port.h"

#define VF_VERBS_RQ_SIZE_DEFAULT 512u
#define VF_VERBS_SQ_SIZE_DEFAULT 512u
#define VF_VERBS_SIGNAL_DEFAULT 16u

struct vf_verbs_opts {
    unsigned rq_size;          /* receive WRs per queue; 0 = default */
    unsigned sq_size;          /* send WRs per queue; 0 = default */
    unsigned tx_signal_every;  /* signal one send WR in N; 0 = default */
    uint16_t geneve_port;      /* host order; 0 = 6081 */
    uint16_t vxlan_port;       /* host order; 0 = 4789 */
    bool has_mac;              /* steer only frames to local_mac */
    uint8_t local_mac[6];
    uint32_t local_ip;         /* network order; 0 = any destination IP */
    bool no_rss;               /* force one receive queue (queue 0) */
};

struct vf_verbs_info {
    bool rss;                  /* RSS over all queues is in force */
    unsigned n_rx_queues;      /* queues that receive (n_queues or 1) */
    unsigned n_flows;          /* steering rules installed */
    unsigned rq_size, sq_size;
    uint64_t tx_completions;   /* signalled send completions reaped */
    uint64_t tx_errors;        /* send completions with an error status */
    uint64_t tx_copies;        /* packets copied: pool not registered */
    uint64_t rx_refill_short;  /* receive WRs not reposted: pool empty */
};

/* Opens `device` (e.g. "mlx5_0") port ib_port (1-based) with n_queues
 * queues; pools[q] is queue q's pool (the same pool may be given for
 * several queues; each distinct pool is registered once). o may be NULL
 * for the defaults. Returns NULL with err filled: when the machine has no
 * RDMA device at all, the message says so and names the udp and ring
 * uplinks; when `device` is unknown, it lists the devices that exist. */
struct vf_port *vf_verbs_port_open(const char *name, const char *device,
                                   int ib_port, unsigned n_queues,
                                   struct vf_pool *const *pools,
                                   const struct vf_verbs_opts *o,
                                   char *err, size_t errlen);

/* Mode and counters of a verbs port; -EINVAL if p is not one. The per
 * queue counters of vf_port.h (rx_pkts, ...) are in p->qstats as usual. */
int vf_verbs_port_info(const struct vf_port *p, struct vf_verbs_info *out);

/* Receive WRs currently posted on queue q (rq_size when kept full). */
unsigned vf_verbs_port_rq_posted(const struct vf_port *p, unsigned q);

/* Sent packets not yet freed (posted, completion not yet seen) on q. */
unsigned vf_verbs_port_tx_inflight(const struct vf_port *p, unsigned q);

#endif
