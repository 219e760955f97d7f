/* segment.c - TCP segmentation of large frames (vf_segment.h).
 *
 * Both shapes share seg_fix(), which turns a copy of the big frame's
 * headers followed by one segment's payload into a valid segment. It
 * reads the first segment's values (IP id, TCP sequence number) from the
 * header copy itself, so it must run on an unmodified copy exactly once.
 */
#include <errno.h>
#include <string.h>

#include "numa/vf_drop.h"
#include "numa/vf_wire.h"
#include "tunnel/geneve_packet.h"
#include "tunnel/vf_segment.h"
#include "tunnel/vxlan_packet.h"

int vf_seg_parse(const struct vf_pkt *p, uint16_t mss, struct vf_seg_info *si)
{
    const uint8_t *f = vf_pkt_data(p);
    uint32_t len = p->len, l3 = VF_ETH_HDR_LEN, l4, end;
    uint16_t type;

    if (mss == 0 || len < VF_ETH_HDR_LEN)
        return VF_DROP_RUNT;
    type = vf_wire_get16(f + 12);
    /* At most two tags (802.1ad + 802.1Q), which bounds the walk. */
    for (int i = 0; i < 2 && (type == VF_ETH_P_8021Q || type == VF_ETH_P_8021AD); i++) {
        if (l3 + 4 > len)
            return VF_DROP_VLAN_TRUNC;
        type = vf_wire_get16(f + l3 + 2);
        l3 += 4;
    }
    if (type == VF_ETH_P_IP) {
        if (l3 + 20 > len)
            return VF_DROP_IP4_TRUNC;
        if ((f[l3] >> 4) != 4)
            return VF_DROP_IP4_BAD_VERSION;
        if ((f[l3] & 0xf) < 5)
            return VF_DROP_IP4_BAD_IHL;
        l4 = l3 + (uint32_t)(f[l3] & 0xf) * 4;
        end = l3 + vf_wire_get16(f + l3 + 2);
        if (f[l3 + 9] != VF_IPPROTO_TCP ||
            (vf_wire_get16(f + l3 + 6) & VF_IP4_FRAG_MASK))
            return VF_DROP_IP4_BAD_LEN;   /* not a whole TCP datagram */
        if (end > len || end < l4)
            return VF_DROP_IP4_BAD_LEN;
        si->ip6 = false;
    } else if (type == VF_ETH_P_IPV6) {
        /* A Linux guest's TSO frame has TCP right after the fixed header. */
        if (l3 + 40 > len)
            return VF_DROP_IP6_TRUNC;
        if ((f[l3] >> 4) != 6)
            return VF_DROP_IP6_BAD_VERSION;
        if (f[l3 + 6] != VF_IPPROTO_TCP)
            return VF_DROP_IP6_BAD_LEN;
        l4 = l3 + 40;
        end = l4 + vf_wire_get16(f + l3 + 4);
        if (end > len)
            return VF_DROP_IP6_BAD_LEN;
        si->ip6 = true;
    } else {
        return VF_DROP_IP4_BAD_VERSION;  /* GSO is only ever TCP over IP */
    }
    if (l4 + 20 > end)
        return VF_DROP_TCP_TRUNC;
    uint32_t thl = (uint32_t)(f[l4 + 12] >> 4) * 4;
    if (thl < 20 || l4 + thl > end)
        return VF_DROP_TCP_BAD_OFF;
    si->l3 = (uint16_t)l3;
    si->l4 = (uint16_t)l4;
    si->hdr_len = (uint16_t)(l4 + thl);
    si->payload = end - si->hdr_len;
    si->mss = mss;
    si->n_segs = si->payload ? (si->payload + mss - 1) / mss : 1;
    return 0;
}

int vf_seg_clamp(struct vf_seg_info *si, uint32_t max_frame)
{
    if (max_frame <= si->hdr_len)
        return VF_DROP_MTU;
    if (si->mss > max_frame - si->hdr_len) {
        si->mss = (uint16_t)(max_frame - si->hdr_len);
        si->n_segs = si->payload ? (si->payload + si->mss - 1) / si->mss : 1;
    }
    return 0;
}

static uint32_t tunnel_hdr_len(const struct vf_tunnel_peer *peer)
{
    return peer->encap == VF_ENCAP_VXLAN ? VF_VXLAN_TMPL_LEN : VF_GENEVE_TMPL_LEN;
}

uint32_t vf_seg_tunnel_max_frame(const struct vf_tunnel_peer *peer)
{
    /* The outer IP length is the template minus outer Ethernet plus the
     * inner frame (vf_tunnel_encap's MTU check). */
    uint32_t over = tunnel_hdr_len(peer) - VF_ETH_HDR_LEN;
    return peer->mtu > over ? peer->mtu - over : 0;
}

static inline uint32_t seg_payload(const struct vf_seg_info *si, unsigned i)
{
    return i + 1 < si->n_segs ? si->mss : si->payload - (si->n_segs - 1) * si->mss;
}

/* f: a copy of the big frame's headers followed by segment i's payload
 * (plen bytes, whose sum psum is: vf_csum_move took it while moving the
 * payload there). Fixes the IP and TCP headers and the TCP checksum. */
static void seg_fix(uint8_t *f, const struct vf_seg_info *si, unsigned i,
                    uint32_t plen, uint64_t psum)
{
    uint8_t *ip = f + si->l3, *tcp = f + si->l4;
    uint32_t tcp_len = si->hdr_len - si->l4 + plen;
    uint64_t sum;

    if (si->ip6) {
        vf_wire_put16(ip + 4, (uint16_t)tcp_len);
        sum = vf_csum_pseudo6(ip, VF_IPPROTO_TCP, tcp_len);
    } else {
        uint32_t ihl = si->l4 - si->l3;
        vf_wire_put16(ip + 2, (uint16_t)(ihl + tcp_len));
        vf_wire_put16(ip + 4, (uint16_t)(vf_wire_get16(ip + 4) + i));
        vf_wire_put16(ip + 10, 0);
        vf_wire_put16(ip + 10, vf_csum(ip, ihl));
        sum = vf_csum_pseudo4(ip, VF_IPPROTO_TCP, tcp_len);
    }
    vf_wire_put32(tcp + 4, vf_wire_get32(tcp + 4) + i * (uint32_t)si->mss);
    if (i + 1 < si->n_segs)
        tcp[13] &= (uint8_t)~(VF_TCP_FIN | VF_TCP_PSH);
    if (i > 0)
        tcp[13] &= (uint8_t)~VF_TCP_CWR;
    vf_wire_put16(tcp + VF_TCP_CSUM_OFF, 0);
    /* The TCP header's length is a multiple of 4: the payload's sum adds. */
    sum = vf_csum_add(sum, tcp, si->hdr_len - si->l4) + psum;
    vf_wire_put16(tcp + VF_TCP_CSUM_OFF, (uint16_t)~vf_csum_fold(sum));
}

int vf_seg_build(const struct vf_pkt *p, const struct vf_seg_info *si,
                 unsigned i, struct vf_pkt *out)
{
    uint32_t plen = seg_payload(si, i);
    const uint8_t *f = vf_pkt_data(p);

    if (i >= si->n_segs || out->data_off + si->hdr_len + plen > out->buf_len)
        return VF_DROP_SEG_NO_ROOM;
    uint8_t *o = vf_pkt_data(out);
    memcpy(o, f, si->hdr_len);
    uint64_t psum = vf_csum_move(0, o + si->hdr_len,
                                 f + si->hdr_len + (size_t)i * si->mss, plen);
    seg_fix(o, si, i, plen, psum);
    out->len = si->hdr_len + plen;
    out->gso_size = 0;
    out->port = p->port;
    out->meta = p->meta;
    return 0;
}

int vf_seg_tunnel_batch(struct vf_pkt *p, const struct vf_seg_info *in,
                        const struct vf_tunnel_peer *peer, uint32_t vni,
                        uint32_t in_lport, uint32_t out_lport,
                        uint32_t flow_hash)
{
    struct vf_seg_info si = *in;
    const uint32_t hl = tunnel_hdr_len(peer);
    const uint32_t tl = hl - VF_TUNNEL_OUTER_HDRS;  /* tunnel header per datagram */
    int r = vf_seg_clamp(&si, vf_seg_tunnel_max_frame(peer));

    if (r)
        return r;
    if (si.n_segs > VF_SEG_MAX_SEGS)
        return -E2BIG;
    const uint32_t n = si.n_segs, h = si.hdr_len;
    const uint32_t chunk = tl + h + si.mss;   /* one datagram's payload */
    const uint32_t last = seg_payload(&si, n - 1);
    if (hl > p->data_off ||
        (uint64_t)p->data_off + (n - 1) * chunk + h + last > p->buf_len)
        return VF_DROP_SEG_NO_ROOM;

    /* Segment i's inner frame starts at base + i * chunk: segment 0 stays
     * where the frame is. Payloads move right, the last first, so each
     * move only overwrites bytes already moved (i * chunk >= (i+1) * mss
     * for i >= 1 because chunk > mss). */
    uint8_t *base = vf_pkt_data(p);
    uint64_t psum[VF_SEG_MAX_SEGS];   /* each payload's sum, taken as it moves */
    for (uint32_t i = n - 1; i >= 1; i--)
        psum[i] = vf_csum_move(0, base + (size_t)i * chunk + h,
                               base + h + (size_t)i * si.mss, seg_payload(&si, i));
    psum[0] = vf_csum_add(0, base + h, seg_payload(&si, 0));
    for (uint32_t i = 1; i < n; i++)
        memcpy(base + (size_t)i * chunk, base, h);
    for (uint32_t i = 0; i < n; i++)
        seg_fix(base + (size_t)i * chunk, &si, i, seg_payload(&si, i), psum[i]);

    /* Segment 0 gets the outer headers with the first datagram's lengths
     * from the ordinary encap (it cannot fail: room and MTU are checked),
     * and every other segment a copy of its tunnel header. */
    p->len = h + seg_payload(&si, 0);
    p->gso_size = 0;
    r = vf_tunnel_encap(p, peer, vni, in_lport, out_lport, flow_hash);
    if (r)
        return r;   /* unreachable; the payloads are already moved */
    for (uint32_t i = 1; i < n; i++)
        memcpy(base + (size_t)i * chunk - tl, base - tl, tl);
    p->len = hl + (n - 1) * chunk + h + last;
    p->gso_size = n > 1 ? (uint16_t)chunk : 0;
    return 0;
}

/* Bytes of the tunnel header at d (Geneve: fixed part plus options), or 0
 * when it does not fit in dlen. */
static uint32_t gro_tunnel_len(const uint8_t *d, uint32_t dlen, bool vxlan)
{
    uint32_t tl = vxlan ? VF_VXLAN_HDR_LEN
                        : VF_GENEVE_HDR_LEN + 4u * (d[0] & VF_GENEVE_OPTLEN_MASK);
    return tl <= dlen ? tl : 0;
}

int vf_seg_gro_merge(struct vf_pkt *p, uint16_t vxlan_port)
{
    uint8_t *f = vf_pkt_data(p);
    const uint32_t seg = p->gso_size;

    if (seg == 0 || p->len <= VF_TUNNEL_OUTER_HDRS + seg)
        return -EINVAL;
    const uint32_t total = p->len - VF_TUNNEL_OUTER_HDRS;
    const uint32_t n = (total + seg - 1) / seg;
    uint8_t *d0 = f + VF_TUNNEL_OUTER_HDRS;
    bool vxlan = vf_wire_get16(f + VF_ETH_HDR_LEN + VF_IP4_HDR_LEN + 2) == vxlan_port;
    uint32_t tl = gro_tunnel_len(d0, seg, vxlan);
    if (!tl)
        return -EINVAL;

    /* Datagram 0's inner frame, seen as a packet of its own. */
    struct vf_pkt view = {.buf = d0 + tl, .buf_len = seg - tl, .len = seg - tl};
    struct vf_seg_info si;
    if (vf_seg_parse(&view, 1, &si) || si.payload == 0 ||
        si.hdr_len + si.payload != seg - tl)
        return -EINVAL;
    const uint32_t h = si.hdr_len, l3 = si.l3, l4 = si.l4;
    const uint32_t mss = si.payload;
    const uint8_t *t0 = d0 + tl + l4;
    /* Only plain data segments merge: no SYN/RST/URG/FIN/PSH before the
     * last, which may carry FIN/PSH. */
    if (t0[13] & (VF_TCP_SYN | VF_TCP_RST | VF_TCP_URG | VF_TCP_FIN | VF_TCP_PSH))
        return -EINVAL;
    uint32_t seq0 = vf_wire_get32(t0 + 4);

    /* Check everything before moving anything: a refusal leaves p as is. */
    for (uint32_t k = 1; k < n; k++) {
        const uint8_t *dk = d0 + (size_t)k * seg;
        uint32_t dlen = k + 1 < n ? seg : total - k * seg;
        const uint8_t *ik = dk + tl, *i0 = d0 + tl;
        if (dlen <= tl + h || memcmp(dk, d0, tl + l3) != 0)
            return -EINVAL;
        uint32_t plen = dlen - tl - h;
        if (si.ip6) {
            if (memcmp(ik + l3 + 6, i0 + l3 + 6, 34) != 0 ||
                vf_wire_get16(ik + l3 + 4) != h - l4 + plen)
                return -EINVAL;
        } else {
            if (memcmp(ik + l3, i0 + l3, 2) != 0 ||
                memcmp(ik + l3 + 6, i0 + l3 + 6, 4) != 0 ||
                memcmp(ik + l3 + 12, i0 + l3 + 12, l4 - l3 - 12) != 0 ||
                vf_wire_get16(ik + l3 + 2) != h - l3 + plen)
                return -EINVAL;
        }
        const uint8_t *tk = ik + l4;
        uint8_t extra = k + 1 == n ? (VF_TCP_FIN | VF_TCP_PSH) : 0;
        if (memcmp(tk, t0, 4) != 0 || memcmp(tk + 8, t0 + 8, 5) != 0 ||
            (tk[13] & (uint8_t)~extra) != t0[13] ||
            memcmp(tk + 14, t0 + 14, 2) != 0 ||
            memcmp(tk + 20, t0 + 20, h - l4 - 20) != 0 ||
            vf_wire_get32(tk + 4) != seq0 + k * mss)
            return -EINVAL;
    }

    /* Payloads move left behind datagram 0's, in order, so each move reads
     * bytes not yet overwritten. */
    uint8_t *dst = d0 + tl + h + mss;
    uint8_t last_flags = 0;
    for (uint32_t k = 1; k < n; k++) {
        const uint8_t *dk = d0 + (size_t)k * seg;
        uint32_t dlen = k + 1 < n ? seg : total - k * seg;
        uint32_t plen = dlen - tl - h;
        last_flags = dk[tl + l4 + 13];
        memmove(dst, dk + tl + h, plen);
        dst += plen;
    }
    uint8_t *inner = d0 + tl;
    uint32_t inner_len = (uint32_t)(dst - inner);
    if (si.ip6) {
        vf_wire_put16(inner + l3 + 4, (uint16_t)(inner_len - l4));
    } else {
        vf_wire_put16(inner + l3 + 2, (uint16_t)(inner_len - l3));
        vf_wire_put16(inner + l3 + 10, 0);
        vf_wire_put16(inner + l3 + 10,
             vf_csum(inner + l3, l4 - l3));
    }
    inner[l4 + 13] |= (uint8_t)(last_flags & (VF_TCP_FIN | VF_TCP_PSH));
    /* The outer headers now describe one datagram around the big frame,
     * which is what decap expects. */
    uint8_t *ip = f + VF_ETH_HDR_LEN;
    uint32_t udp_len = VF_UDP_HDR_LEN + tl + inner_len;
    vf_wire_put16(ip + 2, (uint16_t)(VF_IP4_HDR_LEN + udp_len));
    vf_wire_put16(ip + 10, 0);
    vf_wire_put16(ip + 10, vf_csum(ip, VF_IP4_HDR_LEN));
    vf_wire_put16(ip + VF_IP4_HDR_LEN + 4, (uint16_t)udp_len);
    p->len = VF_TUNNEL_OUTER_HDRS + tl + inner_len;
    p->gso_size = (uint16_t)mss;
    return 0;
}

unsigned vf_seg_gro_count(const struct vf_pkt *p)
{
    if (p->gso_size == 0 || p->len <= VF_TUNNEL_OUTER_HDRS)
        return 0;
    return (p->len - VF_TUNNEL_OUTER_HDRS + p->gso_size - 1u) / p->gso_size;
}

int vf_seg_gro_split(const struct vf_pkt *p, unsigned k, struct vf_pkt *out)
{
    const uint8_t *f = vf_pkt_data(p);
    const uint32_t seg = p->gso_size;
    if (seg == 0 || p->len <= VF_TUNNEL_OUTER_HDRS)
        return VF_DROP_TUN_TRUNC;
    const uint32_t total = p->len - VF_TUNNEL_OUTER_HDRS;
    if ((uint64_t)k * seg >= total)
        return VF_DROP_TUN_TRUNC;
    uint32_t dlen = total - k * seg < seg ? total - k * seg : seg;
    if (out->data_off + VF_TUNNEL_OUTER_HDRS + dlen > out->buf_len)
        return VF_DROP_SEG_NO_ROOM;
    uint8_t *o = vf_pkt_data(out);
    memcpy(o, f, VF_TUNNEL_OUTER_HDRS);
    memcpy(o + VF_TUNNEL_OUTER_HDRS, f + VF_TUNNEL_OUTER_HDRS + (size_t)k * seg, dlen);
    uint8_t *ip = o + VF_ETH_HDR_LEN;
    vf_wire_put16(ip + 2, (uint16_t)(VF_IP4_HDR_LEN + VF_UDP_HDR_LEN + dlen));
    vf_wire_put16(ip + 10, 0);
    vf_wire_put16(ip + 10, vf_csum(ip, VF_IP4_HDR_LEN));
    vf_wire_put16(ip + VF_IP4_HDR_LEN + 4, (uint16_t)(VF_UDP_HDR_LEN + dlen));
    out->len = VF_TUNNEL_OUTER_HDRS + dlen;
    out->gso_size = 0;
    out->port = p->port;
    out->meta = p->meta;
    return 0;
}
