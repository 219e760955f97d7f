/* vf_icmp.h - ICMPv4 "fragmentation needed" for frames too big for their
 * tunnel (path MTU discovery through the overlay).
 *
 * What: a tenant IPv4 packet with DF set that does not fit the tunnel to
 * its destination is dropped (counted `mtu_exceeded`) and answered with an
 * ICMP destination unreachable / fragmentation needed (type 3, code 4, RFC
 * 1191) that names the largest inner IP packet the tunnel carries. The
 * sender's stack lowers its path MTU and resends smaller; without the
 * answer a VM whose MTU is larger than the overlay allows would see those
 * packets vanish (a PMTU black hole). Same idea as the Linux VXLAN
 * driver's PMTU discovery on bridged links, and OVN's check_pkt_larger.
 *
 * The answer goes back out the port the packet came in on, from the
 * packet's own destination: IPv4 source = the original destination, MACs
 * swapped (for a routed packet, the source MAC is the router port's, which
 * the sender used). Linux and other stacks take frag-needed from any
 * source: they match the quoted header to a socket.
 *
 * Never answered (RFC 1122 3.2.2): DF clear (the packet is just dropped),
 * non-first fragments, ICMP errors themselves, link-layer broadcast or
 * group frames, and IP addresses in 0/8, loopback, multicast or class E.
 * A flood answers once, however many tunnels it did not fit. The answer
 * quotes the packet as forwarded (after a router's TTL decrement; senders
 * match on addresses and ports) and, like the router's own replies, does
 * not pass the port's ACLs. IPv6 gets no Packet Too Big yet.
 *
 * Thread-safety: pure functions of their arguments.
 */
#ifndef VF_ICMP_H
#define VF_ICMP_H

#include <stdint.h>

#include "numa/vf_pkt.h"
#include "pipeline/vf_parse.h"

/* Bytes of the dropped packet an answer quotes at most: its IP header and
 * as much payload as keeps the answer's IP packet within 576 bytes. */
#define VF_ICMP_QUOTE_MAX (576u - 20u - 8u)

/* Builds in out (whose data it replaces) the answer to frame p (key and
 * off: p as parsed before any rewrite: its MACs are the sender's and the
 * ones it sent to), advertising next-hop MTU mtu (the
 * largest inner IP packet that fits). The L2 header keeps p's VLAN tags.
 * Returns 0, or -1 when p gets no answer (above), its IP packet is not
 * longer than mtu, or out is too small. */
int vf_icmp4_frag_needed(const struct vf_pkt *p, const struct vf_flow_key *key,
                         const struct vf_hdr_offsets *off, uint16_t mtu,
                         struct vf_pkt *out);

#endif
