/* capture.c - the worker side of packet capture (vf_capture.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fabric/vf_ring.h"
#include "pipeline/vf_capture.h"

struct vf_capture_tap *vf_capture_tap_create(uint32_t port_index,
                                             int numa_node)
{
    struct vf_capture_tap *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->port_index = port_index;
    t->recs = calloc(VF_CAPTURE_RECORDS, sizeof(*t->recs));
    /* Rings hold one slot less than their size: round up past it. */
    t->free = vf_ring_create(2 * VF_CAPTURE_RECORDS, numa_node);
    t->full = vf_ring_create(2 * VF_CAPTURE_RECORDS, numa_node);
    if (!t->recs || !t->free || !t->full)
        goto fail;
    for (unsigned i = 0; i < VF_CAPTURE_RECORDS; i++) {
        void *r = &t->recs[i];
        if (vf_ring_enqueue_burst(t->free, &r, 1) != 1)
            goto fail;
    }
    return t;
fail:
    vf_capture_tap_destroy(t);
    return NULL;
}

void vf_capture_tap_destroy(struct vf_capture_tap *t)
{
    if (!t)
        return;
    vf_ring_destroy(t->free);
    vf_ring_destroy(t->full);
    free(t->recs);
    free(t);
}

void vf_capture_copy_burst(struct vf_capture_tap *t, struct vf_pkt *const *pkts,
                           unsigned n, enum vf_capture_dir dir)
{
    struct vf_capture_rec *recs[VF_BURST_MAX];
    if (n > VF_BURST_MAX)
        n = VF_BURST_MAX;
    unsigned got = vf_ring_dequeue_burst(t->free, (void **)recs, n);
    /* A vDSO call, only while a capture runs. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    for (unsigned i = 0; i < got; i++) {
        const struct vf_pkt *p = pkts[i];
        struct vf_capture_rec *r = recs[i];
        r->ts_ns = now;
        r->len = p->len;
        r->caplen = p->len < VF_CAPTURE_SNAPLEN ? p->len : VF_CAPTURE_SNAPLEN;
        r->dir = (uint8_t)dir;
        memcpy(r->data, vf_pkt_data(p), r->caplen);
    }
    /* `full` has room for every record, so this takes them all. */
    vf_ring_enqueue_burst(t->full, (void *const *)recs, got);
    atomic_store_explicit(&t->copied, atomic_load_explicit(&t->copied,
                          memory_order_relaxed) + got, memory_order_relaxed);
    if (got < n)
        atomic_store_explicit(&t->dropped, atomic_load_explicit(&t->dropped,
                              memory_order_relaxed) + (n - got),
                              memory_order_relaxed);
}
