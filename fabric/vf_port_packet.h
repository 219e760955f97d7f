/* vf_port_packet.h - the physical network port: a host interface (a NIC,
 * a bond, a veth) reached through AF_PACKET with memory-mapped rings, for
 * a switch's `physical:` binding (local.physical_networks names the
 * interface; docs/config.md).
 *
 * What: vf_packet_port_open() opens one AF_PACKET socket per queue bound
 * to the interface, each with a TPACKET_V2 receive ring and transmit ring
 * mapped into the process, and puts the interface in promiscuous mode (the
 * logical ports' MACs are not the NIC's). With more than one queue the
 * sockets form a PACKET_FANOUT group (hash): the kernel gives each frame
 * to one queue, a flow always to the same one (VF_PORT_CAP_MQ_RX).
 *   - rx: rx_burst walks its ring from its cursor and copies each frame
 *     the kernel handed over (TP_STATUS_USER) into a packet of the
 *     worker's pool, then gives the slot back: no system call while frames
 *     are waiting. A tag the kernel took off (TP_STATUS_VLAN_VALID) is put
 *     back, so the pipeline sees the frame as it was on the wire. Frames
 *     this host sent (the sockets set PACKET_IGNORE_OUTGOING, and outgoing
 *     ones are skipped where the kernel lacks it) are never received back.
 *   - tx: tx_burst copies each frame into a free slot of its ring, frees
 *     the packet at once, and kicks the kernel with one send() per burst
 *     (PACKET_QDISC_BYPASS where the kernel allows it). A full ring accepts
 *     fewer packets (the caller drops the rest as tx_queue_full); a frame
 *     longer than a slot is refused and counted in tx_drops.
 *   - wait_fd is the socket: poll() says readable when its ring holds a
 *     frame; sleep_notify(1) reports a frame already there.
 *
 * Why AF_PACKET rings (docs/gateway.md):
 * one copy each way and no system call per frame on rx (the ring is
 * shared memory) and one per burst on tx. An io_uring read per frame on a
 * packet socket costs a submission per frame and the same copy; a tap
 * enslaved to a bridge adds a second kernel hop (bridge, then tun) and two
 * copies. AF_XDP would save the copy but needs driver support and a
 * program per interface; it is the next step for NICs that have it.
 *
 * Limits: frames up to VF_PACKET_FRAME_MAX bytes (a 1500-byte MTU with a
 * tag, not jumbo frames); no offloads: a frame the local kernel sent with
 * its checksum left to the NIC (CHECKSUM_PARTIAL, as a veth peer in the
 * same host does unless tx offload is off) arrives with that checksum
 * unfinished, which a real NIC never gives. No GSO (the pipeline segments
 * before tx: no VF_PORT_CAP_GSO_TX).
 *
 * Holds: rx_hold 0 (frames wait in the kernel's ring, not in pool
 * buffers), tx_hold the tx ring's slots (copied, the packets are freed).
 *
 * Thread-safety: open/close/info from the management thread while no worker
 * serves the port; rx_burst/tx_burst/wait_fd/sleep_notify on queue q from
 * q's worker only.
 */
#ifndef VF_PORT_PACKET_H
#define VF_PORT_PACKET_H

#include "fabric/vf_port.h"

#define VF_PACKET_FRAME_MAX 1522u   /* Ethernet + 802.1Q + 1500 */

struct vf_packet_opts {
    unsigned ring_frames;           /* per ring and queue; 0: 512 */
};

/* Opens the port on interface ifname with n_queues queues (1..64). NULL
 * with err ("interface eth9: no such device", "needs CAP_NET_RAW"). */
struct vf_port *vf_packet_port_open(const char *name, const char *ifname,
                                    unsigned n_queues,
                                    const struct vf_packet_opts *o,
                                    char *err, size_t errlen);

#endif
