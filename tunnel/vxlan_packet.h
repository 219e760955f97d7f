/* vxlan_packet.h - VXLAN wire format (RFC 7348 section 5).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |R|R|R|R|I|R|R|R|            Reserved                           |
 * |                VXLAN Network Identifier (VNI) |   Reserved    |
 *
 * The I flag must be set for a valid VNI; the reserved bits are sent as
 * zero and ignored on receipt (so GBP and GPE senders are not refused for
 * bits we do not use). The payload is always an Ethernet frame.
 *
 * Thread-safety: constants and layouts only.
 */
#ifndef VF_VXLAN_PACKET_H
#define VF_VXLAN_PACKET_H

#include <stdint.h>

#include "numa/vf_wire.h"

#define VF_VXLAN_HDR_LEN 8
#define VF_VXLAN_FLAG_I 0x08

struct vf_vxlan_hdr {
    uint8_t flags;
    uint8_t rsvd1[3];
    uint8_t vni[3];
    uint8_t rsvd2;
} __attribute__((packed));

#define VF_VXLAN_TMPL_LEN                                                   \
    (VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN + VF_VXLAN_HDR_LEN)

_Static_assert(sizeof(struct vf_vxlan_hdr) == VF_VXLAN_HDR_LEN, "VXLAN");
_Static_assert(VF_VXLAN_TMPL_LEN == 50, "Eth 14 + IPv4 20 + UDP 8 + 8");

#endif
