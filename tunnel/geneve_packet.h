/* geneve_packet.h - Geneve wire format (RFC 8926 section 3).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
 * |        Virtual Network Identifier (VNI)       |    Reserved   |
 * |                    Variable-Length Options                    |
 *
 * Each option (section 3.5):
 * |          Option Class         |      Type     |R|R|R| Length  |
 * |                 Variable-Length Option Data                   |
 * Opt Len and an option's Length count 4-byte words, excluding the 8-byte
 * base header and the 4-byte option header respectively. The high bit of
 * Type marks a critical option: a receiver that does not know it must drop.
 *
 * Our option (class VF_GENEVE_OPT_CLASS, type VF_GENEVE_OPT_TYPE, not
 * critical so other receivers may skip it) carries the logical ingress and
 * egress port ids, 8 bytes, so our encap is 8 + 4 + 8 = 20 bytes.
 *
 * Thread-safety: constants and layouts only.
 */
#ifndef VF_GENEVE_PACKET_H
#define VF_GENEVE_PACKET_H

#include <stdint.h>

#include "numa/vf_wire.h"

#define VF_GENEVE_HDR_LEN 8
#define VF_GENEVE_VER_SHIFT 6
#define VF_GENEVE_OPTLEN_MASK 0x3f      /* in the first byte */
#define VF_GENEVE_FLAG_O 0x80           /* control (OAM) packet */
#define VF_GENEVE_FLAG_C 0x40           /* critical options present */
#define VF_GENEVE_OPT_HDR_LEN 4
#define VF_GENEVE_OPT_CRITICAL 0x80     /* high bit of an option's type */
#define VF_GENEVE_OPT_LEN_MASK 0x1f     /* low 5 bits of the fourth byte */
#define VF_ETH_TYPE_TEB 0x6558          /* Transparent Ethernet Bridging */

struct vf_geneve_hdr {
    uint8_t ver_optlen;     /* version (2 bits), option length (6 bits) */
    uint8_t flags;          /* O, C, 6 reserved bits */
    uint16_t proto;
    uint8_t vni[3];
    uint8_t rsvd;
} __attribute__((packed));

struct vf_geneve_opt {
    uint16_t opt_class;
    uint8_t type;
    uint8_t len;            /* 3 reserved bits, length in words (5 bits) */
} __attribute__((packed));

/* Our option, right after the base header in the frames we send. */
struct vf_geneve_lport_opt {
    struct vf_geneve_opt hdr;
    uint32_t in_lport;      /* network order */
    uint32_t out_lport;     /* network order; 0: flood / find by MAC */
} __attribute__((packed));

#define VF_GENEVE_LPORT_OPT_WORDS 2
#define VF_GENEVE_ENCAP_LEN                                                 \
    (VF_GENEVE_HDR_LEN + (int)sizeof(struct vf_geneve_lport_opt))
/* The whole outer header in front of the inner frame. */
#define VF_GENEVE_TMPL_LEN                                                  \
    (VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN + VF_GENEVE_ENCAP_LEN)

_Static_assert(sizeof(struct vf_geneve_hdr) == VF_GENEVE_HDR_LEN, "Geneve");
_Static_assert(sizeof(struct vf_geneve_lport_opt) ==
                   VF_GENEVE_OPT_HDR_LEN + 4 * VF_GENEVE_LPORT_OPT_WORDS,
               "our option is a header plus two 32-bit ids");
_Static_assert(VF_GENEVE_TMPL_LEN == 62, "Eth 14 + IPv4 20 + UDP 8 + 20");

#endif
