/* vf_tunnel.h - Geneve (RFC 8926) and VXLAN (RFC 7348) encap and decap.
 *
 * What: the source host has run the logical pipeline; encap wraps the inner
 * Ethernet frame in outer Ethernet + IPv4 + UDP + Geneve/VXLAN headers toward
 * one destination chassis. Decap on the receiving host validates and strips
 * them and returns the tunnel metadata (VNI, and with our Geneve option the
 * logical ingress/egress port ids).
 *
 * Outer headers: always a full frame (Ethernet/IPv4/UDP/tunnel), so ring and
 * verbs uplinks carry exactly what goes on the wire. The UDP uplink sends
 * only the UDP payload, cutting the first VF_TUNNEL_OUTER_HDRS bytes
 * (Ethernet + IPv4 + UDP: the kernel builds its own), and synthesises them
 * on receive, so decap is one code path for all uplinks.
 * Headers come from a per-peer template (vf_tunnel_peer_init) so encap is a
 * copy plus a few field updates: IP total length, IP id, IP checksum
 * (incremental from the template's), UDP length, UDP source port from the
 * inner flow hash (ECMP entropy, range 49152-65535), UDP checksum zero or
 * computed as configured.
 *
 * Our Geneve option (class VF_GENEVE_OPT_CLASS, type VF_GENEVE_OPT_TYPE, 8
 * bytes of data): ingress logical port id, egress logical port id, both
 * 32-bit network order; egress 0 means "flood / find by destination MAC".
 * Geneve without options (as Open vSwitch sends it) is accepted: md has
 * has_ports = false and the receiver finds the port by destination MAC.
 *
 * Who sent it: decap only reports the outer source (address and UDP port
 * in md); it knows no chassis. The pipeline accepts a decapsulated packet
 * only from a chassis of the fabric (vf_tables_chassis_by_src) before it
 * looks at the tenant frame.
 *
 * Invariants: decap never reads past the packet; every rejection returns
 * its own VF_DROP_TUN_* reason and leaves the packet unchanged.
 *
 * Thread-safety: peers are immutable after init; encap/decap are pure
 * functions of their arguments.
 */
#ifndef VF_TUNNEL_H
#define VF_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "numa/vf_drop.h"
#include "numa/vf_pkt.h"
#include "numa/vf_wire.h"

#define VF_GENEVE_UDP_PORT 6081
#define VF_VXLAN_UDP_PORT 4789
#define VF_GENEVE_OPT_CLASS 0xff7f  /* ours: RFC 8926 IANA experimental range 0xff00-0xffff */
#define VF_GENEVE_OPT_TYPE 0x01
/* Outer Ethernet 14 + IPv4 20 (no options) + UDP 8: what the UDP uplink
 * cuts on send and synthesises on receive (vf_port_udp.h). */
#define VF_TUNNEL_OUTER_HDRS (VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN)
#define VF_UDP_SPORT_MIN 49152      /* RFC 6335 dynamic range, ECMP entropy */
#define VF_TUNNEL_TMPL_MAX 96

enum vf_encap { VF_ENCAP_GENEVE = 0, VF_ENCAP_VXLAN = 1 };

struct vf_tunnel_peer {
    enum vf_encap encap;
    uint32_t src_ip, dst_ip;    /* network order */
    uint16_t dst_port;          /* host order; default by encap */
    uint16_t mtu;               /* underlay IP MTU (default 1500) */
    bool udp_csum;              /* compute the outer UDP checksum */
    uint16_t tmpl_len;          /* outer header bytes for this peer */
    uint8_t tmpl[VF_TUNNEL_TMPL_MAX];
};

struct vf_tunnel_md {
    enum vf_encap encap;
    uint32_t vni;
    uint32_t outer_src_ip;      /* network order: which chassis sent it */
    uint32_t outer_dst_ip;
    uint16_t outer_src_port;    /* host order: tells apart chassis that
                                 * share an address (pipeline's check) */
    bool has_ports;             /* our Geneve option was present */
    uint32_t in_lport, out_lport;
};

/* Builds the template. src_mac/dst_mac are the outer Ethernet addresses
 * (zeros are fine for UDP uplinks). dst_port 0 = the encap's default. */
void vf_tunnel_peer_init(struct vf_tunnel_peer *peer, enum vf_encap encap,
                         uint32_t src_ip, uint32_t dst_ip, uint16_t dst_port,
                         const uint8_t src_mac[6], const uint8_t dst_mac[6],
                         uint16_t mtu, bool udp_csum);

/* Encapsulates p (an inner Ethernet frame) in place. Returns 0, VF_DROP_MTU
 * when the result exceeds peer->mtu, or VF_DROP_ENCAP_NO_HEADROOM when
 * headroom is short. With Geneve, in_lport/out_lport go into our option. */
int vf_tunnel_encap(struct vf_pkt *p, const struct vf_tunnel_peer *peer,
                    uint32_t vni, uint32_t in_lport, uint32_t out_lport,
                    uint32_t flow_hash);

/* Validates and strips the outer headers of a full frame; on success p is
 * the inner Ethernet frame. Returns 0 or a VF_DROP_TUN_* reason. Accepts
 * UDP destination ports geneve_port / vxlan_port (host order). */
int vf_tunnel_decap(struct vf_pkt *p, uint16_t geneve_port,
                    uint16_t vxlan_port, struct vf_tunnel_md *md);

#endif
