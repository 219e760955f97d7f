/* peer.c - builds a peer's outer header template once, at configuration
 * time, so that encap is a copy plus the few fields that vary per packet.
 *
 * The template holds every field that is the same for all packets to the
 * peer; the per-packet fields (IP total length, UDP source port, UDP length,
 * UDP checksum, VNI, our option's port ids) are zero in it. The IPv4
 * checksum is computed over the header with total length 0, so encap only
 * adds the real length to it (RFC 1624 incremental update).
 */
#include <arpa/inet.h>
#include <string.h>

#include "tunnel/geneve_packet.h"
#include "tunnel/vf_tunnel.h"
#include "tunnel/vxlan_packet.h"

_Static_assert(VF_GENEVE_TMPL_LEN <= VF_TUNNEL_TMPL_MAX, "Geneve template");
_Static_assert(VF_VXLAN_TMPL_LEN <= VF_TUNNEL_TMPL_MAX, "VXLAN template");
_Static_assert(VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN ==
                   VF_TUNNEL_OUTER_HDRS,
               "the UDP uplink strips exactly Ethernet + IPv4 + UDP");
_Static_assert(VF_GENEVE_TMPL_LEN <= VF_PKT_HEADROOM, "encap fits headroom");

#define VF_TUNNEL_TTL 64
#define VF_TUNNEL_DEFAULT_MTU 1500

static void peer_build_l2l3(struct vf_tunnel_peer *peer,
                            const uint8_t src_mac[6], const uint8_t dst_mac[6])
{
    struct vf_eth_hdr *eth = (struct vf_eth_hdr *)peer->tmpl;
    struct vf_ip4_hdr *ip = (struct vf_ip4_hdr *)(eth + 1);
    struct vf_udp_hdr *udp = (struct vf_udp_hdr *)(ip + 1);

    /* NULL MACs are zeros: the UDP uplink never sends these bytes. */
    if (dst_mac)
        memcpy(eth->dst, dst_mac, 6);
    if (src_mac)
        memcpy(eth->src, src_mac, 6);
    eth->type = htons(VF_ETH_P_IP);

    ip->ver_ihl = 0x45;
    /* id 0 with DF set: an atomic datagram needs no unique id (RFC 6864),
     * and we never send a frame that would need fragmenting (see mtu). */
    ip->frag_off = htons(VF_IP4_DF);
    ip->ttl = VF_TUNNEL_TTL;
    ip->proto = VF_IPPROTO_UDP;
    ip->src = peer->src_ip;
    ip->dst = peer->dst_ip;
    ip->csum = htons(vf_csum(ip, sizeof(*ip)));

    udp->dport = htons(peer->dst_port);
}

static void peer_build_geneve(struct vf_tunnel_peer *peer)
{
    uint8_t *t = peer->tmpl + VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN;
    struct vf_geneve_hdr *g = (struct vf_geneve_hdr *)t;
    struct vf_geneve_lport_opt *o = (struct vf_geneve_lport_opt *)(g + 1);

    /* Version 0; no O bit (data, not control) and no C bit (our option is
     * not critical, so receivers that do not know it may skip it). */
    g->ver_optlen = sizeof(*o) / 4;
    g->proto = htons(VF_ETH_TYPE_TEB);
    o->hdr.opt_class = htons(VF_GENEVE_OPT_CLASS);
    o->hdr.type = VF_GENEVE_OPT_TYPE;
    o->hdr.len = VF_GENEVE_LPORT_OPT_WORDS;
    peer->tmpl_len = VF_GENEVE_TMPL_LEN;
}

static void peer_build_vxlan(struct vf_tunnel_peer *peer)
{
    uint8_t *t = peer->tmpl + VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + VF_UDP_HDR_LEN;
    struct vf_vxlan_hdr *v = (struct vf_vxlan_hdr *)t;

    v->flags = VF_VXLAN_FLAG_I;
    peer->tmpl_len = VF_VXLAN_TMPL_LEN;
}

void vf_tunnel_peer_init(struct vf_tunnel_peer *peer, enum vf_encap encap,
                         uint32_t src_ip, uint32_t dst_ip, uint16_t dst_port,
                         const uint8_t src_mac[6], const uint8_t dst_mac[6],
                         uint16_t mtu, bool udp_csum)
{
    memset(peer, 0, sizeof(*peer));
    peer->encap = encap;
    peer->src_ip = src_ip;
    peer->dst_ip = dst_ip;
    if (!dst_port)
        dst_port = encap == VF_ENCAP_VXLAN ? VF_VXLAN_UDP_PORT
                                           : VF_GENEVE_UDP_PORT;
    peer->dst_port = dst_port;
    peer->mtu = mtu ? mtu : VF_TUNNEL_DEFAULT_MTU;
    peer->udp_csum = udp_csum;

    peer_build_l2l3(peer, src_mac, dst_mac);
    if (encap == VF_ENCAP_VXLAN)
        peer_build_vxlan(peer);
    else
        peer_build_geneve(peer);
}
