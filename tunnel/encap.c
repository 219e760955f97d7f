/* encap.c - Geneve and VXLAN encapsulation from a peer's template.
 *
 * Per packet: one fixed-size copy of the template into the headroom, then
 * the fields that vary (IP total length and checksum, UDP source port and
 * length, VNI, our Geneve option). The copy size is a constant per encap so
 * the compiler emits a few vector moves instead of a memcpy call. Without a
 * UDP checksum the work does not depend on the inner frame's length; with
 * one it reads the whole frame once (vf_csum_add).
 */
#include <arpa/inet.h>
#include <string.h>

#include "tunnel/geneve_packet.h"
#include "tunnel/vf_tunnel.h"
#include "tunnel/vxlan_packet.h"

#define VF_UDP_OFF (VF_ETH_HDR_LEN + VF_IP4_HDR_LEN)
#define VF_TUN_OFF (VF_UDP_OFF + VF_UDP_HDR_LEN)

static inline void encap_vni(uint8_t vni_out[3], uint32_t vni)
{
    vni_out[0] = (uint8_t)(vni >> 16);
    vni_out[1] = (uint8_t)(vni >> 8);
    vni_out[2] = (uint8_t)vni;
}

/* Maps the inner flow hash into 49152-65535 so that underlay ECMP spreads
 * flows and every packet of one flow takes one path (RFC 8926 3.3). The
 * high half is folded in because callers' hashes may vary only there. */
static inline uint16_t encap_sport(uint32_t flow_hash)
{
    uint32_t h = flow_hash ^ (flow_hash >> 16);

    return (uint16_t)(VF_UDP_SPORT_MIN | (h & 0x3fff));
}

/* The UDP checksum over the pseudo-header (RFC 768), the UDP header and the
 * payload; 0 is sent as 0xffff because 0 means "no checksum". */
static uint16_t encap_udp_csum(const struct vf_ip4_hdr *ip,
                               const struct vf_udp_hdr *udp, uint16_t udp_len)
{
    uint64_t sum = vf_csum_pseudo4(ip, VF_IPPROTO_UDP, udp_len);
    uint16_t c = (uint16_t)~vf_csum_fold(vf_csum_add(sum, udp, udp_len));

    return c ? c : 0xffff;
}

int vf_tunnel_encap(struct vf_pkt *p, const struct vf_tunnel_peer *peer,
                    uint32_t vni, uint32_t in_lport, uint32_t out_lport,
                    uint32_t flow_hash)
{
    const bool geneve = peer->encap != VF_ENCAP_VXLAN;
    const uint32_t hl = geneve ? VF_GENEVE_TMPL_LEN : VF_VXLAN_TMPL_LEN;
    const uint32_t ip_len = hl - VF_ETH_HDR_LEN + p->len;
    struct vf_ip4_hdr *ip;
    struct vf_udp_hdr *udp;
    uint8_t *h;

    /* Both checks come before any write so a refused packet is untouched.
     * p->len is bounded by the buffer, so ip_len cannot wrap. */
    if (ip_len > peer->mtu)
        return VF_DROP_MTU;
    if (hl > p->data_off)
        return VF_DROP_ENCAP_NO_HEADROOM;

    h = p->buf + p->data_off - hl;
    if (geneve) {
        struct vf_geneve_hdr *g = (struct vf_geneve_hdr *)(h + VF_TUN_OFF);
        struct vf_geneve_lport_opt *o = (struct vf_geneve_lport_opt *)(g + 1);

        memcpy(h, peer->tmpl, VF_GENEVE_TMPL_LEN);
        encap_vni(g->vni, vni);
        o->in_lport = htonl(in_lport);
        o->out_lport = htonl(out_lport);
    } else {
        struct vf_vxlan_hdr *v = (struct vf_vxlan_hdr *)(h + VF_TUN_OFF);

        memcpy(h, peer->tmpl, VF_VXLAN_TMPL_LEN);
        encap_vni(v->vni, vni);
    }

    ip = (struct vf_ip4_hdr *)(h + VF_ETH_HDR_LEN);
    ip->tot_len = htons((uint16_t)ip_len);
    /* The template's checksum covers a total length of 0 (peer.c). */
    ip->csum = htons(vf_csum_update16(ntohs(ip->csum), 0, (uint16_t)ip_len));

    udp = (struct vf_udp_hdr *)(h + VF_UDP_OFF);
    udp->sport = htons(encap_sport(flow_hash));
    udp->len = htons((uint16_t)(ip_len - VF_IP4_HDR_LEN));
    if (peer->udp_csum)
        udp->csum = htons(encap_udp_csum(ip, udp,
                                         (uint16_t)(ip_len - VF_IP4_HDR_LEN)));

    p->data_off -= hl;
    p->len += hl;
    return 0;
}
