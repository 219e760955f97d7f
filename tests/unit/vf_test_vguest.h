/* vf_test_vguest.h - a fake virtio-net guest in shared memory, header-only,
 * for the vhost unit tests and benchmarks.
 *
 * What: the driver side of split virtqueues, written the way a guest kernel
 * writes them, in a memfd mapped MAP_SHARED (the same kind of memory QEMU
 * hands a vhost-user backend). Guest-physical addresses start at
 * VG_GPA_BASE (not 0, so a backend that mixes up guest-physical and host
 * addresses fails); the "QEMU-virtual" address of a byte is its address in
 * this process, as it would be in QEMU's.
 *
 *   struct vg g;  vg_open(&g, 8 << 20);
 *   struct vg_ring *tx = vg_ring_new(&g, 256, 2048);  // 256 slots, a 2 KB
 *                                                     // buffer per descriptor
 *   struct vf_virtq_config c; vg_config(&g, tx, true, features, &c);
 *   vg_tx_post(&g, tx, &hdr, 12, frame, len, 1);      // one chain, 1 desc
 *   ... vf_virtq_dequeue_burst ...
 *   vg_used_pop(tx, &id, &len);
 *
 * Descriptors are taken in order (slot = free-running counter mod size);
 * each slot owns a fixed buffer, so posting the same kind of frame again
 * costs only the avail ring writes (what the benchmarks need). Tests that
 * play a malicious guest write g.ring->desc[] and the avail ring directly
 * (vg_avail_push).
 *
 * Thread-safety: one thread plays the guest; the backend may run in
 * another (the stores that publish use release order, as a guest's barriers).
 */
#ifndef VF_TEST_VGUEST_H
#define VF_TEST_VGUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "fabric/vf_virtq.h"

#define VG_GPA_BASE 0x40000000ull

struct vg_ring {
    uint16_t size;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint8_t *bufs;         /* size buffers of buf_len bytes, slot order */
    uint32_t buf_len;
    uint64_t bufs_gpa;
    uint16_t avail_idx;    /* the driver's next avail index */
    uint16_t used_seen;    /* used entries consumed */
    uint16_t next_slot;    /* free-running descriptor counter */
};

struct vg {
    int fd;
    uint8_t *mem;
    size_t size;
    size_t brk;            /* bump allocator */
    struct vf_vhost_mem table;
    struct vg_ring rings[8];
    unsigned n_rings;
};

static inline uint64_t vg_gpa(const struct vg *g, const void *host)
{
    return VG_GPA_BASE + (uint64_t)((const uint8_t *)host - g->mem);
}

static inline void *vg_host(const struct vg *g, uint64_t gpa)
{
    return g->mem + (gpa - VG_GPA_BASE);
}

/* 0 or -1 (memfd/mmap failed). */
static inline int vg_open(struct vg *g, size_t size)
{
    memset(g, 0, sizeof(*g));
    g->fd = memfd_create("vf-test-guest", MFD_CLOEXEC);
    if (g->fd < 0 || ftruncate(g->fd, (off_t)size) < 0)
        return -1;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
    if (m == MAP_FAILED)
        return -1;
    g->mem = m;
    g->size = size;
    g->brk = 4096;   /* gpa VG_GPA_BASE itself stays unused */
    g->table.n = 1;
    g->table.r[0] = (struct vf_vhost_region){
        .gpa = VG_GPA_BASE, .size = size, .uva = (uint64_t)(uintptr_t)m,
        .host = m, .map = NULL, .map_len = 0,
    };
    return 0;
}

static inline void vg_close(struct vg *g)
{
    if (g->mem)
        munmap(g->mem, g->size);
    if (g->fd >= 0)
        close(g->fd);
    g->mem = NULL;
    g->fd = -1;
}

static inline void *vg_alloc(struct vg *g, size_t bytes, size_t align)
{
    size_t off = (g->brk + align - 1) & ~(align - 1);
    if (off + bytes > g->size)
        return NULL;
    g->brk = off + bytes;
    memset(g->mem + off, 0, bytes);
    return g->mem + off;
}

/* A ring of `size` slots, each with a buf_len-byte buffer. NULL if the
 * memory is too small. */
static inline struct vg_ring *vg_ring_new(struct vg *g, uint16_t size, uint32_t buf_len)
{
    if (g->n_rings == sizeof(g->rings) / sizeof(g->rings[0]))
        return NULL;
    struct vg_ring *r = &g->rings[g->n_rings++];
    memset(r, 0, sizeof(*r));
    r->size = size;
    r->buf_len = buf_len;
    r->desc = vg_alloc(g, 16u * size, 16);
    r->avail = vg_alloc(g, 6u + 2u * size, 2);
    r->used = vg_alloc(g, 6u + 8u * size, 4);
    r->bufs = vg_alloc(g, (size_t)buf_len * size, 64);
    if (!r->desc || !r->avail || !r->used || !r->bufs)
        return NULL;
    r->bufs_gpa = vg_gpa(g, r->bufs);
    return r;
}

/* A vf_virtq_config for ring r ("QEMU-virtual" = our addresses). */
static inline void vg_config(const struct vg *g, const struct vg_ring *r, bool tx,
                             uint64_t features, struct vf_virtq_config *c)
{
    memset(c, 0, sizeof(*c));
    c->mem = &g->table;
    c->size = r->size;
    c->desc_uva = (uint64_t)(uintptr_t)r->desc;
    c->avail_uva = (uint64_t)(uintptr_t)r->avail;
    c->used_uva = (uint64_t)(uintptr_t)r->used;
    c->features = features;
    c->base = r->avail_idx;
    c->tx = tx;
    c->kick_fd = c->call_fd = c->err_fd = c->ep_fd = -1;
}

static inline uint8_t *vg_slot_buf(const struct vg_ring *r, uint16_t slot)
{
    return r->bufs + (size_t)(slot % r->size) * r->buf_len;
}

static inline uint64_t vg_slot_gpa(const struct vg_ring *r, uint16_t slot)
{
    return r->bufs_gpa + (uint64_t)(slot % r->size) * r->buf_len;
}

/* Publishes head as the next avail entry (the guest's barrier: release). */
static inline void vg_avail_push(struct vg_ring *r, uint16_t head)
{
    r->avail->ring[r->avail_idx % r->size] = head;
    r->avail_idx++;
    __atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
}

/* Posts header + frame as one chain of nseg descriptors (the header in the
 * first, the frame split evenly over the rest; nseg 1: both in one
 * buffer). Returns the head, or -1 when it does not fit. */
static inline int vg_tx_post(struct vg_ring *r, const void *hdr, uint32_t hdr_len,
                             const void *frame, uint32_t len, unsigned nseg)
{
    if (nseg == 0 || nseg > r->size)
        return -1;
    uint16_t head = r->next_slot % r->size;
    if (nseg == 1) {
        if (hdr_len + len > r->buf_len)
            return -1;
        uint16_t s = r->next_slot++;
        memcpy(vg_slot_buf(r, s), hdr, hdr_len);
        memcpy(vg_slot_buf(r, s) + hdr_len, frame, len);
        r->desc[s % r->size] = (struct vring_desc){vg_slot_gpa(r, s), hdr_len + len, 0, 0};
    } else {
        uint32_t per = (len + nseg - 2) / (nseg - 1), off = 0;
        if (hdr_len > r->buf_len || per > r->buf_len)
            return -1;
        for (unsigned i = 0; i < nseg; i++) {
            uint16_t s = r->next_slot++;
            const uint8_t *src = i == 0 ? hdr : (const uint8_t *)frame + off;
            uint32_t n = i == 0 ? hdr_len : (len - off < per ? len - off : per);
            memcpy(vg_slot_buf(r, s), src, n);
            if (i)
                off += n;
            uint16_t flags = i + 1 < nseg ? VRING_DESC_F_NEXT : 0;
            r->desc[s % r->size] = (struct vring_desc){
                vg_slot_gpa(r, s), n, flags, (uint16_t)((s + 1) % r->size)};
        }
    }
    vg_avail_push(r, head);
    return head;
}

/* Posts `count` device-writable buffers of the slot size, one descriptor
 * each (a mergeable-buffers guest). */
static inline void vg_rx_post(struct vg_ring *r, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        uint16_t s = r->next_slot++;
        r->desc[s % r->size] = (struct vring_desc){
            vg_slot_gpa(r, s), r->buf_len, VRING_DESC_F_WRITE, 0};
        vg_avail_push(r, s % r->size);
    }
}

/* The next used entry, if any (acquire: its data before it). */
static inline bool vg_used_pop(struct vg_ring *r, uint32_t *id, uint32_t *len)
{
    uint16_t idx = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
    if (idx == r->used_seen)
        return false;
    struct vring_used_elem e = r->used->ring[r->used_seen % r->size];
    r->used_seen++;
    *id = e.id;
    *len = e.len;
    return true;
}

#endif
