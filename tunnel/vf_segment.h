/* vf_segment.h - software TCP segmentation of large (GSO/TSO) frames.
 *
 * What: a guest behind a TSO tap hands vfab TCP frames of up to 64 KB
 * (pkt->gso_size = the MSS), so the logical pipeline runs once per 64 KB,
 * not once per 1.4 KB segment (NVP's STT lesson). This module cuts such a
 * frame into MTU-sized TCP segments after the pipeline has decided where it
 * goes, in one of two shapes:
 *   - vf_seg_build(): segment i as a plain inner frame in a separate
 *     packet (local deliveries to ports that cannot take GSO frames, flood
 *     copies, uplinks other than UDP, and the fallback of the batch);
 *   - vf_seg_tunnel_batch(): in place, the whole frame as one batch of
 *     tunnel datagrams for a UDP_SEGMENT send: outer Ethernet/IPv4/UDP
 *     headers once (their lengths are those of the first datagram), then
 *     N datagram payloads back to back, each its own tunnel header plus a
 *     complete inner segment. Every payload but the last is exactly
 *     pkt->gso_size bytes, which is what the kernel's UDP GSO needs to cut
 *     the batch into datagrams (vf_port_udp.h, "GSO batches").
 * Each segment gets its own inner headers: IPv4 total length, id (first
 * id + i), header checksum; IPv6 payload length; TCP sequence number
 * (first + i * mss), FIN/PSH only on the last segment, CWR only on the
 * first, and a complete TCP checksum (the receiver's kernel verifies it;
 * the partial checksum the tap left in the big frame is ignored).
 *
 * Invariants: the input frame is Ethernet (up to 2 VLAN tags) / IPv4
 * (options allowed) or IPv6 (no extension headers) / TCP, as Linux guests
 * send TSO frames; anything else is refused by vf_seg_parse() with a drop
 * reason and never touched. vf_seg_build() never changes its input; a
 * refused vf_seg_tunnel_batch() leaves the packet unchanged.
 *
 * Bounds: at most VF_SEG_MAX_SEGS segments per batch (the kernel's UDP GSO
 * limit); a frame that needs more goes through vf_seg_build(). The batch
 * grows the frame by (N - 1) * (tunnel + inner headers) bytes of tailroom
 * plus the outer headers' headroom; VF_SEG_BATCH_TAILROOM is enough for
 * any frame the batch accepts. The work per frame is one pass over the
 * payload to move it and one to checksum it.
 *
 * Thread-safety: pure functions of their arguments; the caller owns the
 * packets.
 */
#ifndef VF_SEGMENT_H
#define VF_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "numa/vf_pkt.h"
#include "tunnel/vf_tunnel.h"

#define VF_SEG_MAX_SEGS 64u          /* UDP_MAX_SEGMENTS of older kernels */
#define VF_SEG_MAX_HDR 142u          /* Eth + 2 VLAN + IPv4 60 + TCP 60 */
/* Tailroom that any batch of at most VF_SEG_MAX_SEGS segments fits in. */
#define VF_SEG_BATCH_TAILROOM (VF_SEG_MAX_SEGS * (VF_SEG_MAX_HDR + 24u))

struct vf_seg_info {
    uint16_t l3;        /* offset of the IP header in the frame */
    uint16_t l4;        /* offset of the TCP header */
    uint16_t hdr_len;   /* l4 + TCP header: the bytes repeated per segment */
    uint16_t mss;       /* payload bytes per segment (the last may be fewer) */
    bool ip6;
    uint32_t payload;   /* TCP payload bytes of the whole frame */
    unsigned n_segs;    /* ceil(payload / mss), at least 1 */
};

/* Reads the headers of a large TCP frame and plans segments of at most
 * `mss` payload bytes (normally pkt->gso_size). Returns 0 or the
 * VF_DROP_* reason the frame is refused for. */
int vf_seg_parse(const struct vf_pkt *p, uint16_t mss, struct vf_seg_info *si);

/* Lowers si->mss (and recounts segments) so that each segment's inner
 * frame, headers included, is at most max_frame bytes. Returns 0, or
 * VF_DROP_MTU when not even one payload byte fits. */
int vf_seg_clamp(struct vf_seg_info *si, uint32_t max_frame);

/* The largest inner frame a tunnel to peer carries within its MTU. */
uint32_t vf_seg_tunnel_max_frame(const struct vf_tunnel_peer *peer);

/* Writes segment i (0 <= i < si->n_segs) of p into out, an empty packet,
 * as a complete frame; out->meta and out->port are copied from p and
 * out->gso_size is 0. Returns 0, or VF_DROP_SEG_NO_ROOM when out is too
 * small (then out is unchanged). */
int vf_seg_build(const struct vf_pkt *p, const struct vf_seg_info *si,
                 unsigned i, struct vf_pkt *out);

/* Turns p, in place, into a UDP GSO batch of tunnel datagrams toward peer
 * (see above; si as from vf_seg_parse, clamped here to the peer's MTU).
 * On success p->gso_size is the datagram payload size when there are two
 * or more segments, or 0 when the frame became one ordinary tunnel frame.
 * Returns 0; VF_DROP_MTU when the headers alone exceed the MTU;
 * VF_DROP_SEG_NO_ROOM when head- or tailroom is short; -E2BIG when it needs
 * more than VF_SEG_MAX_SEGS segments. Refused: p unchanged. */
int vf_seg_tunnel_batch(struct vf_pkt *p, const struct vf_seg_info *si,
                        const struct vf_tunnel_peer *peer, uint32_t vni,
                        uint32_t in_lport, uint32_t out_lport,
                        uint32_t flow_hash);

/* ---- receive side: UDP GRO buffers (vf_port_udp.h, "GRO") ----
 * p is a full tunnel frame from the UDP uplink whose payload holds several
 * datagrams of p->gso_size bytes each (the last may be shorter). */

/* Merges, in place, the datagrams of a GRO buffer that are consecutive
 * segments of one TCP flow behind one tunnel header (what a peer's
 * vf_seg_tunnel_batch sent) into one tunnel frame around one large TCP
 * frame: p->gso_size becomes the inner MSS, the inner IP length covers
 * the whole payload (the TCP checksum is left for whoever segments: a tap
 * recomputes it). Returns 0, or -EINVAL (p unchanged) when any datagram
 * differs in its tunnel header, addresses, ports, ack, window, options or
 * flags, or its sequence number does not follow; split it then.
 * vxlan_port (host order) tells VXLAN from Geneve. */
int vf_seg_gro_merge(struct vf_pkt *p, uint16_t vxlan_port);

/* How many datagrams the GRO buffer p holds (the last may be short); 0
 * when it is too short to hold one. */
unsigned vf_seg_gro_count(const struct vf_pkt *p);

/* Copies datagram k of a GRO buffer into out (an empty packet) as an
 * ordinary uplink frame (outer lengths and IP checksum rewritten). Returns
 * 0, VF_DROP_TUN_TRUNC when there is no datagram k, or VF_DROP_SEG_NO_ROOM
 * when out is too small. */
int vf_seg_gro_split(const struct vf_pkt *p, unsigned k, struct vf_pkt *out);

#endif
