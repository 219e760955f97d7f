/* vf_capture.h - copies of one port's frames, from the workers to mgmt.
 *
 * What: `vfabctl capture PORT` mirrors what a tenant sees on a logical
 * port: the frames the port receives from the VM and the frames delivered
 * to it. Each worker gets its own tap (struct vf_capture_tap) through
 * vf_worker.capture; when it is set, the worker copies the frames of a
 * burst received on port_index (right after rx_burst, before the pipeline
 * touches them) and the frames it is about to send on port_index (right
 * before tx_burst, after every rewrite) into records, and hands them to the
 * management thread, which writes the pcap file (mgmt/daemon/capture.c).
 *
 * Basic design: two SPSC rings of record pointers per tap: `free` (mgmt
 * produces empty records, the worker consumes) and `full` (the worker
 * produces copies, mgmt consumes and gives them back to `free`). The number
 * of records bounds the memory and the copies in flight: when `free` is
 * empty the frame is not copied and `dropped` counts it; the frame itself
 * is never held up. With no capture running, a worker pays one relaxed
 * load of vf_worker.capture per loop iteration.
 *
 * Thread-safety: port_index and the records' storage are set before the
 * tap is published (ro afterwards). The worker is the only producer of
 * `full`, consumer of `free`, and writer of `copied`/`dropped` (relaxed;
 * mgmt reads them relaxed). mgmt publishes and unpublishes a tap with
 * release stores to vf_worker.capture, and frees it only after an RCU grace
 * period (the worker reads the pointer once per iteration, between
 * quiescent states).
 */
#ifndef VF_CAPTURE_H
#define VF_CAPTURE_H

#include <stdatomic.h>
#include <stdint.h>

#include "numa/vf_pkt.h"

#define VF_CAPTURE_SNAPLEN 2048
#define VF_CAPTURE_RECORDS 512     /* per worker tap */

enum vf_capture_dir {
    VF_CAPTURE_FROM_VM = 0,        /* the port received it (VM -> vfab) */
    VF_CAPTURE_TO_VM = 1,          /* the port sent it (vfab -> VM) */
};

struct vf_capture_rec {
    uint64_t ts_ns;                /* CLOCK_REALTIME */
    uint32_t len;                  /* frame length on the wire */
    uint32_t caplen;               /* bytes kept, <= VF_CAPTURE_SNAPLEN */
    uint8_t dir;                   /* enum vf_capture_dir */
    uint8_t data[VF_CAPTURE_SNAPLEN];
};

struct vf_ring;

struct vf_capture_tap {
    uint32_t port_index;           /* fabric index of the port; ro */
    struct vf_ring *free;          /* mgmt: produce, worker: consume */
    struct vf_ring *full;          /* worker: produce, mgmt: consume */
    struct vf_capture_rec *recs;   /* VF_CAPTURE_RECORDS; ro */
    _Atomic uint64_t copied;       /* worker: w relaxed, mgmt: r relaxed */
    _Atomic uint64_t dropped;      /* no free record: worker w, mgmt r */
};

/* A tap for fabric port index `port_index` with all its records free.
 * NULL when out of memory. */
struct vf_capture_tap *vf_capture_tap_create(uint32_t port_index,
                                             int numa_node);
void vf_capture_tap_destroy(struct vf_capture_tap *t);   /* accepts NULL */

/* Worker side: copies n frames (as they are now) into records on `full`;
 * frames without a free record are counted in `dropped`. */
void vf_capture_copy_burst(struct vf_capture_tap *t, struct vf_pkt *const *pkts,
                           unsigned n, enum vf_capture_dir dir);

#endif
