/* vnet_hdr.c - virtio-net header handling for tap frames (vf_vnet_hdr.h). */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "fabric/vf_vnet_hdr.h"

#define ETH_HLEN_ 14u
#define ETHERTYPE_IP4_ 0x0800
#define ETHERTYPE_IP6_ 0x86dd
#define ETHERTYPE_VLAN_ 0x8100
#define ETHERTYPE_QINQ_ 0x88a8
#define IPPROTO_TCP_ 6
#define TCP_CSUM_OFF_ 16u

/* 32-bit native loads into a 64-bit accumulator: a sum of 32-bit words is
 * congruent to the sum of their 16-bit halves modulo 0xffff, and 2^32 words
 * cannot overflow 64 bits, so no carry handling is needed in the loop. */
uint64_t vf_csum_add(uint64_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t w;
    uint16_t h;

    while (len >= 4) {
        memcpy(&w, p, 4);
        sum += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        memcpy(&h, p, 2);
        sum += h;
        p += 2;
        len -= 2;
    }
    if (len) {
        /* The odd byte is the high-order byte of a zero-padded word in
         * network order, i.e. the first byte in memory. */
        uint8_t pad[2] = {p[0], 0};
        memcpy(&h, pad, 2);
        sum += h;
    }
    return sum;
}

uint16_t vf_csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)sum;
}

static inline uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

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
            uint16_t c = (uint16_t)~vf_csum_fold(vf_csum_add(0, f + start, len - start));
            if (c == 0)
                c = 0xffff;
            memcpy(f + start + off, &c, 2);
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
    uint32_t l3 = ETH_HLEN_, l4, thl;
    uint16_t type;
    uint64_t sum;
    uint8_t gso_type;

    memset(h, 0, sizeof(*h));
    if (pkt->gso_size == 0)
        return 0;
    if (len < ETH_HLEN_)
        return -EINVAL;
    type = get_be16(f + 12);
    /* At most two tags (802.1ad + 802.1Q), which bounds the walk. */
    for (int i = 0; i < 2 && (type == ETHERTYPE_VLAN_ || type == ETHERTYPE_QINQ_); i++) {
        if (l3 + 4 > len)
            return -EINVAL;
        type = get_be16(f + l3 + 2);
        l3 += 4;
    }
    if (type == ETHERTYPE_IP4_) {
        if (l3 + 20 > len || (f[l3] >> 4) != 4 || f[l3 + 9] != IPPROTO_TCP_)
            return -EINVAL;
        l4 = l3 + (uint32_t)(f[l3] & 0xf) * 4;
        if ((f[l3] & 0xf) < 5 || l4 + 20 > len)
            return -EINVAL;
        sum = vf_csum_add(0, f + l3 + 12, 8);
        gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    } else if (type == ETHERTYPE_IP6_) {
        /* Extension headers are not walked: a TSO frame from a Linux guest
         * has TCP right after the fixed header. */
        if (l3 + 40 > len || f[l3 + 6] != IPPROTO_TCP_)
            return -EINVAL;
        l4 = l3 + 40;
        if (l4 + 20 > len)
            return -EINVAL;
        sum = vf_csum_add(0, f + l3 + 8, 32);
        gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    } else {
        return -EINVAL;
    }
    thl = (uint32_t)(f[l4 + 12] >> 4) * 4;
    if (thl < 20 || l4 + thl > len)
        return -EINVAL;
    /* Pseudo-header: addresses (summed above), protocol and L4 length, in
     * network order; stored natively, the folded sum is in network order. */
    uint8_t tail[8] = {0};
    uint32_t l4len = len - l4;
    tail[1] = 0;
    tail[2] = (uint8_t)(l4len >> 24);
    tail[3] = (uint8_t)(l4len >> 16);
    tail[4] = (uint8_t)(l4len >> 8);
    tail[5] = (uint8_t)l4len;
    tail[7] = IPPROTO_TCP_;
    uint16_t ps = vf_csum_fold(vf_csum_add(sum, tail, sizeof(tail)));
    memcpy(f + l4 + TCP_CSUM_OFF_, &ps, 2);

    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->gso_type = gso_type;
    h->hdr_len = htole16((uint16_t)(l4 + thl));
    h->gso_size = htole16(pkt->gso_size);
    h->csum_start = htole16((uint16_t)l4);
    h->csum_offset = htole16(TCP_CSUM_OFF_);
    return 1;
}
