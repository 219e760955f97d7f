/* vnet_hdr.c - virtio-net header handling for tap frames (vf_vnet_hdr.h). */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "fabric/vf_vnet_hdr.h"
#include "numa/vf_wire.h"

int vf_vnet_hdr_rx(const struct virtio_net_hdr_v1 *h, struct vf_pkt *pkt)
{
    uint8_t *f = vf_pkt_data(pkt);
    uint32_t len = pkt->len;
    uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    int done = 0;

    pkt->gso_size = 0;
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        uint32_t start = le16toh(h->csum_start);
        uint32_t off = le16toh(h->csum_offset);

        if (start >= len || off + 2u > len - start)
            return -EINVAL;
        /* A GSO frame's checksum covers each segment, not the whole frame,
         * so completing it here would be wasted work: the segmenter does. */
        if (gso == VIRTIO_NET_HDR_GSO_NONE) {
            /* The field holds the pseudo-header sum (CHECKSUM_PARTIAL);
             * summing from csum_start over it and inverting gives the final
             * value. 0 becomes 0xffff: the same number in ones' complement,
             * and UDP reserves 0 for "no checksum". */
            uint16_t c = vf_csum(f + start, len - start);
            if (c == 0)
                c = 0xffff;
            vf_wire_put16(f + start + off, c);
            done |= VF_VNET_RX_CSUM;
        }
    }
    if (gso != VIRTIO_NET_HDR_GSO_NONE) {
        uint16_t mss = le16toh(h->gso_size);

        if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
            return -EPROTONOSUPPORT;
        /* A tiny MSS would make one 64 KB frame thousands of segments, each
         * a buffer and a copy: one guest could drain the shared pool. */
        if (mss < VF_VNET_MIN_GSO_SIZE)
            return -EINVAL;
        pkt->gso_size = mss;
        done |= VF_VNET_RX_GSO;
    }
    return done;
}

int vf_vnet_hdr_tx(struct virtio_net_hdr_v1 *h, struct vf_pkt *pkt)
{
    uint8_t *f = vf_pkt_data(pkt);
    uint32_t len = pkt->len;
    uint32_t l3 = VF_ETH_HDR_LEN, l4, thl;
    uint16_t type;
    uint64_t sum;
    uint8_t gso_type;

    memset(h, 0, sizeof(*h));
    if (pkt->gso_size == 0)
        return 0;
    if (len < VF_ETH_HDR_LEN)
        return -EINVAL;
    type = vf_wire_get16(f + 12);
    /* At most two tags (802.1ad + 802.1Q), which bounds the walk. */
    for (int i = 0; i < 2 && (type == VF_ETH_P_8021Q || type == VF_ETH_P_8021AD);
         i++) {
        if (l3 + VF_VLAN_HDR_LEN > len)
            return -EINVAL;
        type = vf_wire_get16(f + l3 + 2);
        l3 += VF_VLAN_HDR_LEN;
    }
    if (type == VF_ETH_P_IP) {
        if (l3 + VF_IP4_HDR_LEN > len || (f[l3] >> 4) != 4 ||
            f[l3 + 9] != VF_IPPROTO_TCP)
            return -EINVAL;
        l4 = l3 + (uint32_t)(f[l3] & 0xf) * 4;
        if ((f[l3] & 0xf) < 5 || l4 + VF_TCP_HDR_LEN > len)
            return -EINVAL;
        sum = vf_csum_pseudo4(f + l3, VF_IPPROTO_TCP, len - l4);
        gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    } else if (type == VF_ETH_P_IPV6) {
        /* Extension headers are not walked: a TSO frame from a Linux guest
         * has TCP right after the fixed header. */
        if (l3 + VF_IP6_HDR_LEN > len || f[l3 + 6] != VF_IPPROTO_TCP)
            return -EINVAL;
        l4 = l3 + VF_IP6_HDR_LEN;
        if (l4 + VF_TCP_HDR_LEN > len)
            return -EINVAL;
        sum = vf_csum_pseudo6(f + l3, VF_IPPROTO_TCP, len - l4);
        gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    } else {
        return -EINVAL;
    }
    thl = (uint32_t)(f[l4 + 12] >> 4) * 4;
    if (thl < VF_TCP_HDR_LEN || l4 + thl > len)
        return -EINVAL;
    /* NEEDS_CSUM wants the pseudo-header sum in the field, not inverted. */
    vf_wire_put16(f + l4 + VF_TCP_CSUM_OFF, vf_csum_fold(sum));

    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->gso_type = gso_type;
    h->hdr_len = htole16((uint16_t)(l4 + thl));
    h->gso_size = htole16(pkt->gso_size);
    h->csum_start = htole16((uint16_t)l4);
    h->csum_offset = htole16(VF_TCP_CSUM_OFF);
    return 1;
}
