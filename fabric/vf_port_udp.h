/* vf_port_udp.h - the UDP underlay uplink: tunnel frames over kernel UDP.
 *
 * What: an uplink port whose queues are UDP sockets bound to one IPv4
 * ADDR:PORT with SO_REUSEPORT, so the kernel spreads the tunnel flows (whose
 * UDP source port carries the inner flow hash) across the queues; each queue
 * is served by one worker and has its own socket and (io_uring modes) its
 * own io_uring.
 *
 * Frames: tx_burst takes full tunnel frames (outer Ethernet 14 + IPv4 + UDP 8
 * + tunnel header + inner frame, as vf_tunnel_encap builds them) and sends
 * only the UDP payload to the outer IPv4 destination address and UDP
 * destination port read from the frame; the kernel builds its own outer
 * headers (so the frame's outer source port is not used). rx_burst returns
 * full frames too: the datagram lands in a pool buffer with 42 bytes of room
 * before it and the port synthesises outer Ethernet (MACs zero, type IPv4),
 * IPv4 (source = sender, destination = our address, protocol UDP, lengths
 * and header checksum right, TTL 64) and UDP (ports from the datagram,
 * checksum 0) headers, so vf_tunnel_decap is one code path for every uplink.
 * A bind to 0.0.0.0 asks the kernel for IP_PKTINFO to learn each
 * datagram's destination address.
 *
 * Variants (struct vf_udp_opts, chosen per port at open):
 *   VF_UDP_RX_MULTISHOT: one multishot recvmsg per queue fills pool buffers
 *     handed to the kernel through a provided-buffer ring (one bid per pool
 *     packet, replenished from the worker's cache after every completion,
 *     allowed to take the pool's reserve (vf_pool.h); when even that is
 *     empty the datagram is dropped, counted in rx_no_buffer, and its
 *     buffer reused, so the ring never runs dry). Tx is one sendmsg SQE
 *     per packet and one io_uring_submit per burst; completions free the
 *     packets.
 *   send_zc: tx uses SENDMSG_ZC; a packet stays in flight until its
 *     notification CQE (IORING_CQE_F_NOTIF) and is freed only then.
 *   fixed_bufs (with send_zc): the queue's pool region is registered as one
 *     fixed buffer and packets from it go out with SEND_ZC + the fixed index
 *     (no per-send page pinning); packets from other pools use SENDMSG_ZC.
 *   VF_UDP_RX_SYSCALL: no io_uring at all: recvmmsg / sendmmsg with
 *     MSG_DONTWAIT, the baseline the io_uring modes are measured against.
 * The default (vf_udp_opts_default) is VF_UDP_RX_MULTISHOT without send_zc,
 * depth 256, burst 64, from perf/bench_udp.c on the 2-core dev VM (noisy,
 * +-50%): carrying 32-frame bursts over loopback, syscall mode ran at
 * 0.8-1.0x of plain sendmmsg/recvmmsg sockets and multishot at 0.75-0.95x
 * (10-40% more CPU per packet than syscall mode: a CQE and buffer refill per
 * datagram plus task work), but an empty rx poll costs ~20 cycles in
 * multishot mode (a CQ ring read) against ~5000 (a recvmmsg syscall) in
 * syscall mode, and a worker polls its uplink queue on every loop whether
 * traffic is there or not; only a queue that is never idle would prefer
 * VF_UDP_RX_SYSCALL. send_zc measured 0.6-0.75x
 * of plain: over loopback the kernel always copies (every notification says
 * so) and the notification CQE costs extra; the kernel's MSG_ZEROCOPY
 * guidance is that zero copy pays off only well above MTU-sized sends, and
 * tunnel frames are at most one MTU. Measure on a real NIC before turning
 * it on.
 *
 * GSO batches (tx, both modes): a frame with pkt->gso_size != 0 carries
 * many datagrams to one destination (tunnel/vf_segment.h builds them): its
 * outer headers are read for the destination only, and its UDP payload,
 * running to the end of the frame, is cut by the kernel into datagrams of
 * gso_size bytes (the last may be shorter) with UDP_SEGMENT. It goes out
 * in one sendmsg per VF_UDP_GSO_MAX_SEGS datagrams / VF_UDP_GSO_MAX_BYTES,
 * synchronously (the kernel copies the payload inside the call, so no tx
 * slot is held), in order with the burst's other frames; tx_pkts counts
 * its datagrams, and datagrams a send refused (EAGAIN included) count in
 * tx_drops: the TCP inside them recovers.
 *
 * GRO (rx, opts.gro, multishot mode only): the sockets set UDP_GRO, so the
 * kernel may hand over several datagrams of one flow as one buffer; such a
 * frame arrives with pkt->gso_size = the size of each datagram (the last
 * may be shorter), its synthesised outer headers covering the whole
 * buffer. Its consumer splits or merges it (vf_segment.h). The buffers must
 * hold 64 KB: every queue's pool needs a data room of at least
 * VF_UDP_GRO_DATA_ROOM (open fails otherwise). Copy-break: a datagram the
 * kernel did not coalesce, when rx_burst is called with a cache of another
 * pool (the worker's), is copied into a buffer of that pool and the large
 * buffer goes straight back to the ring; so large buffers never wait in a
 * tenant's queue, and single datagrams need no fresh large buffer.
 *
 * Accounting: tx_burst accepts a prefix of the burst (at most the free tx
 * slots, ring_depth in flight per queue) and counts the rest in tx_drops.
 * An accepted frame that is not Ethernet/IPv4/UDP, or whose send fails, is
 * freed by the port and counted in tx_drops too; tx_pkts/tx_bytes count
 * frames the kernel took (io_uring modes: on completion). rx_errors counts
 * real receive failures only: truncated datagrams and receive errors.
 * rx_no_buffer counts datagrams dropped for lack of a fresh buffer (the
 * pool and its reserve empty). Byte counters count whole frames (outer
 * headers included). The socket's receive buffer is VF_UDP_RCVBUF (not
 * capped by net.core.rmem_max when vfabd has CAP_NET_ADMIN); the kernel
 * counts what overflows it (UdpRcvbufErrors in /proc/net/snmp).
 *
 * wait_fd: io_uring modes return the ring's eventfd (signalled on every
 * CQE); rx_burst drains it before it reports an empty queue, so a sleeping
 * worker never misses a completion and never spins on a stale count. The
 * syscall mode returns the socket itself.
 *
 * Bounds: each queue holds at most ring_depth rx buffers (taken from its pool
 * at open, so the pool must have more than ring_depth free buffers per
 * queue), ring_depth tx packets in flight and ring_depth received packets
 * staged (rx_hold and tx_hold, vf_port.h); rx and tx handle at most
 * `burst` packets per call.
 *
 * Capabilities (vf_port.h): UDP_GSO (the batches above), MQ_RX. The info
 * op gives the bound address and the options in force.
 *
 * Thread-safety: as vf_port.h: open/close from the management thread while no
 * worker serves the port; rx/tx/reap on queue q from q's worker only. The
 * io_uring is created without SINGLE_ISSUER because open and close (mgmt
 * thread) and the worker all touch it. The multishot receive is armed by
 * the worker's first rx_burst/tx_burst/reap on the queue (io_uring runs a
 * request's receive work in the task that submitted it), so a worker must
 * poll a queue once before it sleeps on wait_fd.
 */
#ifndef VF_PORT_UDP_H
#define VF_PORT_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include "fabric/vf_port.h"
#include "numa/vf_wire.h"

/* Bytes of synthesised outer headers in front of a received datagram:
 * Ethernet 14 + IPv4 20 + UDP 8 (tunnel/'s VF_TUNNEL_OUTER_HDRS). */
#define VF_UDP_OUTER_HDRS (VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN)
#define VF_UDP_DEPTH_DEFAULT 256u
#define VF_UDP_DEPTH_MAX 4096u
/* Socket receive (and send) buffer asked for: 16 MB, which the kernel
 * doubles. A small datagram costs about 830 bytes of it (its skb), so a
 * queue absorbs about 40,000 while its worker is away: 0.13 s of a
 * 300,000/s burst. It is a limit, not an allocation: memory is used only
 * while datagrams wait (the kernel's udp_mem bounds the sum). */
#define VF_UDP_RCVBUF (16 << 20)
/* One UDP_SEGMENT send: the kernel's UDP_MAX_SEGMENTS (64 before Linux
 * 6.11), and a UDP payload under the 64 KB IPv4 limit. */
#define VF_UDP_GSO_MAX_SEGS 64u
#define VF_UDP_GSO_MAX_BYTES 65000u
/* Smallest pool data room for opts.gro: headroom + a 64 KB datagram. */
#define VF_UDP_GRO_DATA_ROOM (VF_PKT_HEADROOM + 65536u)

enum vf_udp_rx_mode {
    VF_UDP_RX_MULTISHOT = 0,   /* io_uring multishot recvmsg + buffer ring */
    VF_UDP_RX_SYSCALL = 1,     /* recvmmsg/sendmmsg, no io_uring */
};

struct vf_udp_opts {
    enum vf_udp_rx_mode rx_mode;
    bool send_zc;       /* io_uring zero-copy send (ignored in SYSCALL mode) */
    bool fixed_bufs;    /* register the pool for send_zc (needs send_zc) */
    unsigned ring_depth;/* power of two, 8..VF_UDP_DEPTH_MAX; 0 = default */
    unsigned burst;     /* max packets per rx/tx call, 1..VF_BURST_MAX; 0 = max */
    bool gro;           /* UDP_GRO receive (multishot mode; big pools) */
};

/* Fills the recommended options (see the default above). */
void vf_udp_opts_default(struct vf_udp_opts *o);

/* Opens a UDP uplink of n_queues queues bound to `bind` ("ADDR:PORT", IPv4;
 * PORT 0 picks a free port shared by all queues). pools[q] feeds queue q's
 * receive buffers. o NULL = defaults. On failure returns NULL and writes a
 * message naming the address (e.g. "udp port 'up0': bind 127.0.0.1:6081:
 * Address already in use") into err. A port already bound by anyone, with
 * or without SO_REUSEPORT, is refused: two forwarders must not silently
 * split one port's traffic. */
struct vf_port *vf_udp_port_open(const char *name, const char *bind,
                                 unsigned n_queues,
                                 const struct vf_udp_opts *o,
                                 struct vf_pool *const *pools,
                                 char *err, size_t errlen);

/* The address the port is bound to (after PORT 0 was resolved). 0 or
 * -EINVAL if p is not a UDP port. */
int vf_udp_port_addr(const struct vf_port *p, struct sockaddr_in *out);

/* Handles queue q's pending completions (frees sent packets, stages received
 * ones) without blocking and returns how many tx packets are still in
 * flight. Lets a caller drain before close or check zero-copy release. */
unsigned vf_udp_port_reap(struct vf_port *p, unsigned q,
                          struct vf_pool_cache *cache);

/* Queue q's internals for tests and benchmarks. Call from q's worker (or
 * while no worker serves it). */
struct vf_udp_q_info {
    unsigned tx_inflight;   /* sends whose packet the port still holds */
    unsigned rx_staged;     /* received, not yet returned by rx_burst */
    uint64_t zc_notifs;     /* zero-copy notifications handled */
    uint64_t zc_copied;     /* ... of which the kernel copied anyway
                             * (always so over loopback) */
    uint64_t rx_rearms;     /* multishot receives re-armed after ending */
};
int vf_udp_port_q_info(const struct vf_port *p, unsigned q,
                       struct vf_udp_q_info *out);

#endif
