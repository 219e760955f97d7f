/* vf_reject.h - answers to packets a reject ACL refused.
 *
 * What: an ACL rule with verdict reject drops the packet (counted
 * `acl_reject`) and answers its sender so the sender's stack gives up at
 * once instead of retrying into silence: a TCP segment gets a RST (RFC 793
 * "reset generation": seq = the segment's ACK if it had one, else an ACK
 * of everything it carried), anything else an ICMP destination
 * unreachable / port unreachable (type 3 code 3) or ICMPv6 destination
 * unreachable / port unreachable (type 1 code 4), quoting the packet.
 * As Linux's `reject` and OVN's reject ACLs.
 *
 * The answer comes from the packet's destination (addresses and ports
 * swapped, MACs swapped: for a routed packet the source MAC is the router
 * port's, which the sender used) and goes back the way the packet came:
 *   - from a tenant port of this host: out that port, without passing the
 *     port's ACLs (like the frag-needed answers, vf_icmp.h);
 *   - from a tunnel, sent by a VM port of the same switch on the sending
 *     chassis: tunnelled back to that chassis and port, whose to-port ACLs
 *     run there (a stateful port finds it a reply or related);
 *   - from a tunnel through a logical router: not answered (the answer
 *     would have to be routed back; counted reject_unanswered).
 * Never answered (RFC 1122 3.2.2, RFC 4443 2.4): a RST, an ICMP/ICMPv6
 * error, a later fragment, link-layer group frames, and IPv4 sources or
 * destinations in 0/8, loopback, multicast or class E, IPv6 unspecified
 * or multicast ones. At most VF_WORKER_ICMP_PER_S answers a second per
 * worker, shared with the frag-needed answers (vf_worker_icmp_budget).
 *
 * Thread-safety: vf_reject_build is a pure function; vf_reject_send runs
 * on the worker that dropped the packet.
 */
#ifndef VF_REJECT_H
#define VF_REJECT_H

#include <stdint.h>

#include "numa/vf_pkt.h"
#include "pipeline/vf_parse.h"

struct vf_worker;
struct vf_tables;
struct vf_tunnel_md;

/* Builds in out (whose data it replaces) the answer to frame p as
 * received (key/off: its parse). 0, or -1 when p gets no answer (above)
 * or out is too small. */
int vf_reject_build(const struct vf_pkt *p, const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off, struct vf_pkt *out);

/* Answers rejected packet p (not consumed): md is NULL for a packet from
 * a tenant port, else its tunnel metadata and `from` the sending chassis
 * (process.c). Counts reject_answers or reject_unanswered. */
void vf_reject_send(struct vf_worker *w, const struct vf_tables *t,
                    const struct vf_pkt *p, const struct vf_flow_key *key,
                    const struct vf_hdr_offsets *off,
                    const struct vf_tunnel_md *md, uint32_t from);

#endif
