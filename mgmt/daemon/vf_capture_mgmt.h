/* vf_capture_mgmt.h - the management side of `vfabctl capture`.
 *
 * What: one capture at a time per vfabd. vf_capture_start() checks the
 * port and opens the pcap file, then publishes one tap per worker
 * (pipeline/vf_capture.h) and returns at once: the RPC that started it
 * never blocks the management loop. vf_capture_poll(), called from vfabd's
 * main loop, drains the taps into the file (libpcap, Ethernet link type)
 * and ends the capture when COUNT frames are written, the time is up, the
 * port left, or vf_capture_stop() is called; then the taps are unpublished,
 * a grace period passes and they are freed.
 *
 * The file: vfabd never opens a path a client names (it often runs as
 * root, and every member of the socket's group may ask). `vfabctl capture`
 * opens the file with its user's own rights, a new file unless told to
 * overwrite (mgmt/vf_capture_file.h), and passes the descriptor with
 * capture_start (SCM_RIGHTS, vf_ctl.h); vfabd writes to it, and only if it
 * is a regular file open for writing (a pipe could block the management
 * thread). The name the client gives is for messages only.
 *
 * Bounds: VF_CAPTURE_RECORDS records per worker are in flight at most;
 * vfabd drains them at every main-loop turn (<= 200 ms), so a capture
 * writes at most about 5 * VF_CAPTURE_RECORDS frames per second per worker
 * and drops (and counts) the rest, never the traffic itself.
 *
 * State: one struct vf_capture per daemon (vf_daemon.capture), so two
 * daemons in one process (tests, perf/stress_churn.c) capture apart.
 *
 * Thread-safety: management thread only; workers see only the taps it
 * publishes (vf_worker.capture, release store).
 */
#ifndef VF_CAPTURE_MGMT_H
#define VF_CAPTURE_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "mgmt/control/vf_model.h"
#include "numa/vf_topo.h"

struct vf_daemon;
struct pcap;                    /* libpcap's pcap_t */
struct pcap_dumper;             /* libpcap's pcap_dumper_t */
struct vf_capture_tap;          /* pipeline/vf_capture.h */

/* The running (or last) capture; mgmt: rw, workers: never. */
struct vf_capture {
    bool active;
    char port[VF_NAME_MAX];
    char path[4096];
    uint32_t port_index;
    uint64_t count, written, dropped;
    struct timespec deadline;      /* tv_sec 0: none */
    struct pcap *pd;
    struct pcap_dumper *dumper;
    struct vf_capture_tap *taps[VF_MAX_WORKERS];
    unsigned n_taps;
    char ended[128];
};

/* fd: the pcap file (taken over, closed on failure); name: what messages
 * call it. count 0: no count limit; seconds 0: no time limit (one of them
 * must be set). 0, or -errno with err filled (-EBUSY: a capture runs). */
int vf_capture_start(struct vf_daemon *d, const char *port, int fd,
                     const char *name, uint64_t count, double seconds,
                     char *err, size_t errlen);
/* Drains the taps; ends the capture when a bound is reached. */
void vf_capture_poll(struct vf_daemon *d);
/* Ends the running capture now (drains first); no-op without one. */
void vf_capture_stop(struct vf_daemon *d);
/* {"active", "port", "file", "written", "dropped", "ended"} of the running
 * or last capture. */
json_t *vf_capture_status(const struct vf_daemon *d);

#endif
