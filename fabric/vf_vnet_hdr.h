/* vf_vnet_hdr.h - the virtio-net header in front of tap and vhost-user
 * frames.
 *
 * What: pure functions on one packet, shared by the tap port (and any later
 * vhost-style backend). vf_vnet_hdr_rx() applies a received header to the
 * frame that follows it: completes a partial (NEEDS_CSUM) L4 checksum,
 * records TCP GSO in pkt->gso_size. vf_vnet_hdr_tx() builds the header for
 * a frame we send: all zero, or TCPv4/TCPv6 GSO when pkt->gso_size is set.
 * The header is 12 bytes (struct virtio_net_hdr_v1, little-endian fields:
 * the tap uses the legacy native order, and vfab only builds for x86-64).
 * The checksums are numa/vf_wire.h's.
 *
 * Thread-safety: none needed; they only touch the packet given, which the
 * caller owns.
 */
#ifndef VF_VNET_HDR_H
#define VF_VNET_HDR_H

#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "numa/vf_pkt.h"

_Static_assert(sizeof(struct virtio_net_hdr_v1) == 12,
               "the tap vnet header is 12 bytes (TUNSETVNETHDRSZ)");

/* Bits of vf_vnet_hdr_rx()'s non-negative result. */
#define VF_VNET_RX_CSUM 1   /* an L4 checksum was completed */
#define VF_VNET_RX_GSO 2    /* a TCP GSO frame: pkt->gso_size is set */
/* Smallest MSS accepted in a GSO frame from a guest (IPv4's minimum of 536
 * would also do; 88 keeps odd but legal stacks working). */
#define VF_VNET_MIN_GSO_SIZE 88

/* Applies h to the frame in pkt (data/len already exclude the header).
 * Returns VF_VNET_RX_* bits, -EINVAL for offsets outside the frame or a
 * gso_size below VF_VNET_MIN_GSO_SIZE, -EPROTONOSUPPORT for a GSO type other than TCPv4/v6. A GSO
 * frame's checksum is left partial (whoever segments fills it per segment). */
int vf_vnet_hdr_rx(const struct virtio_net_hdr_v1 *h, struct vf_pkt *pkt);

/* Fills h for pkt. 0: a plain frame (zero header); 1: a GSO header (the TCP
 * checksum field is rewritten to the pseudo-header sum, as NEEDS_CSUM
 * wants); -EINVAL: pkt->gso_size is set but the frame is not Ethernet
 * (+ up to 2 VLAN tags) / IPv4 or IPv6 / TCP with headers inside it. */
int vf_vnet_hdr_tx(struct virtio_net_hdr_v1 *h, struct vf_pkt *pkt);

#endif
