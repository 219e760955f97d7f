/* vf_pkt.h - the packet buffer every layer passes around.
 *
 * What: a packet lives in one fixed-size slot of a vf_pool. The slot starts
 * with this descriptor (one cache line), then VF_PKT_HEADROOM bytes of
 * headroom, then the frame. Encapsulation prepends into the headroom without
 * copying; decapsulation just moves data_off forward.
 *
 * Invariants:
 *   - data_off >= 0, data_off + len <= buf_len; buf points just after the
 *     descriptor and buf_len is the slot's data room (headroom included).
 *   - A fresh buffer from a pool has data_off == VF_PKT_HEADROOM, len == 0.
 *   - pool is the pool the slot belongs to; freeing always returns it there,
 *     whichever worker frees it.
 *
 * Thread-safety: a packet has exactly one owner at a time (a worker, or a
 * ring in flight between two threads); the owner may touch every field.
 */
#ifndef VF_PKT_H
#define VF_PKT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VF_CACHE_LINE 64
#define VF_PKT_HEADROOM 128u /* room for outer Eth+IPv6+UDP+Geneve+options */
#define VF_PKT_DEFAULT_DATA_ROOM 2048u /* headroom + 1920 bytes of frame */
#define VF_BURST_MAX 64u     /* the largest burst any layer handles */

struct vf_pool;

/* Per-packet metadata the pipeline writes for whatever handles the packet
 * after its own stage: kept in the descriptor so a burst needs no side
 * arrays, copied with the packet (flood copies, segments). Written by
 * process.c once per packet; no code reads them yet besides tests (they
 * are the hook for stages that run after the decision, e.g. conntrack
 * zones per logical port). A drop's reason is not kept here: it is counted
 * where the packet is freed (vf_worker_drop). */
struct vf_pkt_meta {
    uint32_t in_port;    /* logical ingress port id */
    uint32_t out_port;   /* logical egress port id, or 0 when none */
    uint32_t datapath;   /* logical datapath (switch) id */
    uint32_t flow_hash;  /* hash of the inner flow, ECMP entropy for tunnels */
};

struct vf_pkt {
    uint8_t *buf;          /* start of data room (after this descriptor) */
    struct vf_pool *pool;  /* owning pool */
    uint32_t buf_len;      /* data room size in bytes */
    uint32_t data_off;     /* frame start, from buf */
    uint32_t len;          /* frame length in bytes */
    uint16_t port;         /* fabric port index it arrived on (worker-local) */
    uint16_t gso_size;     /* >0: a large TCP frame to be segmented at this MSS */
    struct vf_pkt_meta meta;
    uint64_t user;         /* free for the current owner (tests, benches) */
} __attribute__((aligned(VF_CACHE_LINE)));

_Static_assert(sizeof(struct vf_pkt) == VF_CACHE_LINE,
               "the packet descriptor must stay one cache line");

static inline uint8_t *vf_pkt_data(const struct vf_pkt *p)
{
    return p->buf + p->data_off;
}

static inline uint32_t vf_pkt_headroom(const struct vf_pkt *p)
{
    return p->data_off;
}

static inline uint32_t vf_pkt_tailroom(const struct vf_pkt *p)
{
    return p->buf_len - p->data_off - p->len;
}

/* Grows the frame at the front by n bytes; NULL (unchanged) if no room. */
static inline uint8_t *vf_pkt_prepend(struct vf_pkt *p, uint32_t n)
{
    if (n > p->data_off)
        return NULL;
    p->data_off -= n;
    p->len += n;
    return vf_pkt_data(p);
}

/* Removes n bytes from the front; NULL (unchanged) if the frame is shorter. */
static inline uint8_t *vf_pkt_adj(struct vf_pkt *p, uint32_t n)
{
    if (n > p->len)
        return NULL;
    p->data_off += n;
    p->len -= n;
    return vf_pkt_data(p);
}

/* Resets a buffer to empty with the standard headroom. */
static inline void vf_pkt_reset(struct vf_pkt *p)
{
    p->data_off = VF_PKT_HEADROOM;
    p->len = 0;
    p->port = 0;
    p->gso_size = 0;
    memset(&p->meta, 0, sizeof(p->meta));
    p->user = 0;
}

/* Copies a frame into an empty buffer; 0, or -ENOSPC (p unchanged) if it
 * does not fit. */
static inline int vf_pkt_set(struct vf_pkt *p, const void *frame, uint32_t n)
{
    if (n > p->buf_len - p->data_off)
        return -ENOSPC;
    memcpy(vf_pkt_data(p), frame, n);
    p->len = n;
    return 0;
}

#endif
