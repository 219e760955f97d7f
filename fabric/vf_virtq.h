/* vf_virtq.h - split virtqueues in a guest's memory: the data path of a
 * vhost-user port.
 *
 * What: a vf_virtq is one virtio split ring (descriptor table, available
 * ring, used ring) that lives in memory the VM's QEMU shares with vfab. The
 * worker that owns it moves packets between the ring and pool buffers:
 *   - vf_virtq_dequeue_burst: the guest's TX ring -> vf_pkt (vfab's rx);
 *   - vf_virtq_enqueue_burst: vf_pkt -> the guest's RX ring (vfab's tx).
 * Both copy (DPDK dropped zero-copy dequeue for the same reasons: a buffer
 * the guest can still write is not a packet vfab can parse once and trust).
 * The 12-byte virtio-net header in front of every frame is the tap's vnet
 * header (vf_vnet_hdr.h): a NEEDS_CSUM frame from the guest has its L4
 * checksum completed, a TCP GSO frame keeps pkt->gso_size (HOST_TSO4/6), and
 * a frame with gso_size is handed to a guest that took GUEST_TSO4/6 whole.
 * Features handled: VERSION_1, MRG_RXBUF (a frame spans several rx heads,
 * num_buffers says how many), INDIRECT_DESC, EVENT_IDX, CSUM/GUEST_CSUM,
 * HOST_TSO4/6, GUEST_TSO4/6. Packed rings are not implemented.
 *
 * The guest is untrusted. Every index read from its memory is checked
 * against the ring size; every descriptor's buffer is translated through the
 * memory table (vf_vhost_mem) and refused if any byte of it lies outside
 * guest memory; a chain may not hold more descriptors than its table (that
 * is a loop), an indirect table must be the chain's only descriptor and may
 * not nest, a TX chain may not exceed VF_VIRTQ_TX_CHAIN_MAX bytes (64 KB of
 * frame plus headers), buffers must point the right way (device-readable on
 * TX, device-writable on RX). Descriptors are copied out of guest memory once
 * and only the copy is checked and used, so the guest cannot change one
 * between the check and the use. Any of these marks the ring broken (the
 * reason is kept and counted, the guest's error eventfd is signalled, the
 * kick eventfd leaves the worker's wait set): the ring does nothing more
 * until the frontend restarts it (GET_VRING_BASE, SET_VRING_*), and nothing
 * else is affected. Faults that concern one frame (a bad vnet header, a
 * frame larger than the pool buffer, a guest buffer too small for a frame)
 * drop that frame, count it, and the ring goes on.
 *
 * Notifications. A TX ring's kick eventfd is what an idle worker sleeps on:
 * vf_virtq_notify_enable() asks the guest for kicks (clears
 * VRING_USED_F_NO_NOTIFY, or with EVENT_IDX sets avail_event to the next
 * index), then a seq_cst fence, then re-reads avail->idx; the guest stores
 * avail->idx, issues a full barrier, then reads the flag/avail_event. That is
 * the store-buffering pattern of port_ring.c: either our re-read sees the new
 * entries (the worker does not sleep) or the guest sees the request and
 * kicks. While the worker is busy kicks stay off (vf_virtq_notify_disable).
 * An RX ring asks for no kicks at all: a guest that refills it is not waited
 * for (a full ring drops, see vf_virtq_enqueue_burst). Interrupts to the
 * guest (the call eventfd) are sent at most once per burst, and only when the
 * guest asks for them (VRING_AVAIL_F_NO_INTERRUPT, or used_event with
 * EVENT_IDX), after a seq_cst fence that orders the used->idx store before
 * reading the guest's request.
 *
 * Thread-safety. The configuration (ring pointers, size, features, memory
 * table, eventfds) is written by the management thread only while the ring
 * is not live, and read by workers only while it is. The handshake is a
 * per-ring spinlock plus a `live` flag: a worker calls vf_virtq_enter()
 * (lock, acquire; then `live`) before it touches the ring and
 * vf_virtq_leave() (release) after; mgmt stops a ring with
 * vf_virtq_quiesce() (lock, live = 0, unlock): once it returns no worker is
 * inside and none will enter, so mgmt may remap memory, move the ring or
 * close its eventfds, then vf_virtq_publish() (lock, live = 1, unlock; the
 * release publishes the new configuration). The lock is held by mgmt only to
 * flip `live`, and by a worker for one burst (bounded by the burst size), so
 * it is uncontended except in two cases: a reconfiguration (rare), and a
 * guest with fewer queue pairs than vfab has workers, where several workers
 * transmit into the same RX ring (the lock then serialises them, which is
 * what a single-producer ring needs). The worker-side state (last_avail,
 * last_used, broken) is written under the lock, so mgmt reads it safely after
 * a quiesce (GET_VRING_BASE). Counters are written under the lock (relaxed)
 * and read by mgmt at any time (relaxed, a burst stale at worst).
 */
#ifndef VF_VIRTQ_H
#define VF_VIRTQ_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#include "numa/vf_pkt.h"
#include "numa/vf_pool.h"

#define VF_VHOST_MAX_REGIONS 8        /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VF_VIRTQ_MAX_SIZE 32768u      /* the split ring's largest size */
#define VF_VIRTQ_MAX_FRAME (65536u + 32u)   /* a 64 KB TSO frame + L2 headers */
#define VF_VIRTQ_HDR_MAX 12u          /* struct virtio_net_hdr_v1 */
/* Largest TX chain in bytes (vnet header + frame): past it the ring is
 * broken, whatever the pool could hold. */
#define VF_VIRTQ_TX_CHAIN_MAX (VF_VIRTQ_HDR_MAX + VF_VIRTQ_MAX_FRAME)

/* One guest memory region, mapped MAP_SHARED. `host` is where guest-physical
 * address gpa (and QEMU-virtual address uva) lies in our address space. */
struct vf_vhost_region {
    uint64_t gpa;
    uint64_t size;
    uint64_t uva;
    uint8_t *host;
    void *map;          /* the mmap() result (host - mmap offset) */
    size_t map_len;
};

/* The memory table: what SET_MEM_TABLE sent, mapped. Regions never wrap
 * (gpa + size and uva + size fit in 64 bits; checked when it is built). */
struct vf_vhost_mem {
    unsigned n;
    struct vf_vhost_region r[VF_VHOST_MAX_REGIONS];
};

/* Host address of guest-physical gpa, and in *len how many of the *len bytes
 * from there are contiguous in one region (at least 1); NULL when gpa is not
 * guest memory. *hint caches the region last hit (any value is safe). */
static inline uint8_t *vf_vhost_mem_gpa(const struct vf_vhost_mem *m,
                                        uint64_t gpa, uint64_t *len,
                                        unsigned *hint)
{
    unsigned h = *hint < m->n ? *hint : 0;
    for (unsigned k = 0; k < m->n; k++) {
        unsigned i = (h + k) % m->n;
        const struct vf_vhost_region *r = &m->r[i];
        uint64_t off = gpa - r->gpa;   /* wraps to a huge value below r->gpa */
        if (gpa >= r->gpa && off < r->size) {
            if (*len > r->size - off)
                *len = r->size - off;
            *hint = i;
            return r->host + off;
        }
    }
    return NULL;
}

/* Host address of [uva, uva + len) when the whole range lies in one region
 * (ring addresses from SET_VRING_ADDR are QEMU-virtual); NULL otherwise. */
void *vf_vhost_mem_uva(const struct vf_vhost_mem *m, uint64_t uva, uint64_t len);

/* Why a ring broke (breaks = 1) or a frame was dropped (breaks = 0). Names
 * are stable: stats and tests match on them. */
#define VF_VIRTQ_ERRORS(X)                                                   \
    X(AVAIL_IDX,    "avail_index_jump", 1)   /* moved past the ring size */  \
    X(BAD_HEAD,     "head_index_out_of_range", 1)                            \
    X(BAD_NEXT,     "next_index_out_of_range", 1)                            \
    X(LOOP,         "chain_loop", 1)        /* more descriptors than slots */\
    X(BAD_ADDR,     "address_outside_guest_memory", 1)                       \
    X(TOO_LONG,     "chain_too_long", 1)    /* TX: past 64 KB + headers */   \
    X(BAD_INDIRECT, "bad_indirect_table", 1)                                 \
    X(WRONG_DIR,    "descriptor_wrong_direction", 1)                         \
    X(RUNT,         "runt", 0)              /* TX: shorter than Ethernet */  \
    X(BAD_HDR,      "bad_vnet_header", 0)   /* TX: offsets/GSO refused */    \
    X(TOO_BIG,      "frame_too_big", 0)     /* TX: larger than the buffer */ \
    X(RX_TOO_SMALL, "guest_buffer_too_small", 0) /* RX without MRG_RXBUF */  \
    X(NO_GSO,       "guest_cannot_take_gso", 0)  /* RX: no GUEST_TSO4/6 */

enum vf_virtq_err {
    VF_VIRTQ_OK = 0,
#define VF_VIRTQ_ERR_ENUM_(id, name, brk) VF_VIRTQ_ERR_##id,
    VF_VIRTQ_ERRORS(VF_VIRTQ_ERR_ENUM_)
#undef VF_VIRTQ_ERR_ENUM_
    VF_VIRTQ_ERR__COUNT
};

/* Stable name of a reason ("chain_loop"); "none" for 0, "unknown" past the
 * table. */
const char *vf_virtq_err_name(unsigned err);
/* true when the reason breaks the ring (false: one frame dropped). */
bool vf_virtq_err_breaks(unsigned err);

/* Counters of one ring. Written under the ring lock (relaxed), read by mgmt
 * (relaxed). err[0] is unused. */
struct vf_virtq_stats {
    _Atomic uint64_t pkts;      /* frames moved (delivered) */
    _Atomic uint64_t bytes;
    _Atomic uint64_t kicks;     /* guest notifications that woke the worker */
    _Atomic uint64_t calls;     /* interrupts sent to the guest */
    _Atomic uint64_t full;      /* RX: frames refused, no guest buffer */
    _Atomic uint64_t err[VF_VIRTQ_ERR__COUNT];
};

/* Feature bits of a ring (a digest of the negotiated virtio features). */
#define VF_VIRTQ_F_EVENT_IDX  (1u << 0)
#define VF_VIRTQ_F_MRG_RXBUF  (1u << 1)
#define VF_VIRTQ_F_INDIRECT   (1u << 2)
#define VF_VIRTQ_F_GUEST_TSO4 (1u << 3)
#define VF_VIRTQ_F_GUEST_TSO6 (1u << 4)

/* What mgmt (or a test) gives vf_virtq_configure(). */
struct vf_virtq_config {
    const struct vf_vhost_mem *mem;  /* must outlive the ring's live time */
    uint16_t size;                   /* power of two, 1..VF_VIRTQ_MAX_SIZE */
    uint64_t desc_uva, avail_uva, used_uva;  /* QEMU-virtual addresses */
    uint64_t features;               /* negotiated virtio feature bits */
    uint16_t base;                   /* next avail index (SET_VRING_BASE) */
    bool tx;                         /* the guest's TX ring (vfab receives) */
    int kick_fd, call_fd, err_fd;    /* -1: none; the ring does not own them */
    int ep_fd;                       /* epoll set the kick joins (TX), or -1 */
};

struct vf_virtq {
    /* Configuration. mgmt: rw while not live; worker: ro while live. */
    alignas(VF_CACHE_LINE) struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    const struct vf_vhost_mem *mem;
    uint16_t size;
    uint16_t mask;
    uint8_t hdr_len;     /* 12 (VERSION_1 or MRG_RXBUF) or 10 */
    uint8_t flags;       /* VF_VIRTQ_F_* */
    bool tx;
    int kick_fd, call_fd, err_fd, ep_fd;
    /* Worker state: written under the lock (mgmt: while not live). */
    bool kick_in_ep;     /* kick_fd is in ep_fd's set */
    uint16_t last_avail; /* next avail entry to take */
    uint16_t last_used;  /* next used entry to fill (== last_avail between bursts) */
    unsigned hint;       /* memory region last hit */
    _Atomic uint8_t broken;  /* enum vf_virtq_err that broke it; mgmt reads any time */
    /* The handshake (see Thread-safety). */
    alignas(VF_CACHE_LINE) _Atomic uint32_t lock;
    _Atomic uint32_t live;   /* under lock */
    alignas(VF_CACHE_LINE) struct vf_virtq_stats st;
};

/* A stopped, unconfigured ring (fds -1). */
void vf_virtq_init(struct vf_virtq *vq);

/* mgmt, ring not live: checks and applies c (ring addresses translated and
 * checked against c->mem and the spec's alignment, indices from c->base or
 * from used->idx when the guest's used ring is elsewhere), clears `broken`,
 * sets up notifications (TX: kicks on; RX: kicks off) and joins kick_fd to
 * ep_fd for a TX ring. Does not publish. -EINVAL (ring outside memory,
 * misaligned, bad size), -errno from epoll_ctl. */
int vf_virtq_configure(struct vf_virtq *vq, const struct vf_virtq_config *c);

/* mgmt: stops workers from using the ring and leaves the kick out of the
 * worker's wait set; returns when no worker is inside. */
void vf_virtq_quiesce(struct vf_virtq *vq);
/* mgmt: makes a configured ring live (release: workers see c). */
void vf_virtq_publish(struct vf_virtq *vq);
/* mgmt, ring not live: forgets the configuration (eventfds are the
 * caller's to close) and resets the indices. */
void vf_virtq_reset(struct vf_virtq *vq);

/* Spins until the lock is free; a holder that lost its CPU (two threads on
 * one core) gets it back through sched_yield after VF_VIRTQ_SPIN tries. */
#define VF_VIRTQ_SPIN 1024u
void vf_virtq_lock_slow(struct vf_virtq *vq);

static inline void vf_virtq_lock(struct vf_virtq *vq)
{
    /* acquire: pairs with the release in vf_virtq_unlock of the previous
     * holder, so its ring state and mgmt's configuration are visible. */
    if (atomic_exchange_explicit(&vq->lock, 1, memory_order_acquire))
        vf_virtq_lock_slow(vq);
}

static inline void vf_virtq_unlock(struct vf_virtq *vq)
{
    atomic_store_explicit(&vq->lock, 0, memory_order_release);
}

/* Worker: true (lock held) when the ring is live; false (not held) else. */
static inline bool vf_virtq_enter(struct vf_virtq *vq)
{
    vf_virtq_lock(vq);
    if (atomic_load_explicit(&vq->live, memory_order_relaxed))
        return true;
    vf_virtq_unlock(vq);
    return false;
}

static inline void vf_virtq_leave(struct vf_virtq *vq)
{
    vf_virtq_unlock(vq);
}

/* What one burst did besides the packets it returns. */
struct vf_virtq_burst {
    unsigned delivered;  /* frames that reached the other side */
    unsigned dropped;    /* frames refused one by one (counted per reason) */
    uint64_t bytes;      /* bytes of the delivered frames */
};

/* Worker, entered, TX ring: up to n frames (n <= VF_BURST_MAX) into fresh
 * buffers from cache; returns how many. Frames refused one by one are freed
 * and counted in res->dropped (res may be NULL). The used entries are
 * published and the guest interrupted (if it asks) once per call. Buffers
 * the pool cannot give leave the frames in the guest's ring for the next
 * call. */
unsigned vf_virtq_dequeue_burst(struct vf_virtq *vq, struct vf_pkt **pkts,
                                unsigned n, struct vf_pool_cache *cache,
                                struct vf_virtq_burst *res);

/* Worker, entered, RX ring: copies a prefix of pkts into the guest's
 * buffers and returns its length; those packets are freed into cache
 * (delivered, or dropped for one frame's reason: res->dropped). The rest
 * (ring full, or broken) stay the caller's. */
unsigned vf_virtq_enqueue_burst(struct vf_virtq *vq, struct vf_pkt **pkts,
                                unsigned n, struct vf_pool_cache *cache,
                                struct vf_virtq_burst *res);

/* Worker, entered, TX ring, before sleeping: asks the guest for kicks and
 * returns true when the ring already has entries (then do not sleep). */
bool vf_virtq_notify_enable(struct vf_virtq *vq);
/* Worker, entered, TX ring, on waking: kicks off again, and the kick
 * eventfd read (and counted) so it is not readable any more. */
void vf_virtq_notify_disable(struct vf_virtq *vq);

/* Frames the guest has made available and the worker has not taken (0 on a
 * broken ring). Worker, entered. */
uint16_t vf_virtq_pending(const struct vf_virtq *vq);

#endif
