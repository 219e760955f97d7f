/* vf_live.h - vfabd's live view: one line per worker (packets/s, busy
 * share, drops by reason, core and NUMA node) and one for the demo,
 * redrawn in place on a terminal (vfabd --demo without -q), and the demo's
 * summary at exit.
 *
 * Thread-safety: management thread; counters are read with relaxed loads
 * (a line may be a burst stale).
 */
#ifndef VF_LIVE_H
#define VF_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_demo.h"
#include "numa/vf_drop.h"

/* The counters at the last line, to print rates. */
struct vf_live {
    struct vf_daemon *d;
    struct vf_demo *demo;       /* NULL: no demo line */
    bool tty;                   /* redraw in place */
    uint64_t rx[VF_MAX_WORKERS], tx[VF_MAX_WORKERS];
    uint64_t busy[VF_MAX_WORKERS], idle[VF_MAX_WORKERS];
    uint64_t drops[VF_MAX_WORKERS][VF_DROP__COUNT];
    uint64_t delivered[VF_DEMO_MAX_TENANTS], sent, tunnelled, arp;
    struct timespec at;
    unsigned lines;
};

void vf_live_init(struct vf_live *lv, struct vf_daemon *d,
                  struct vf_demo *demo, bool tty);
/* Prints the lines for the time since the last call (a loop timer). */
void vf_live_print(struct vf_live *lv);
/* "demo summary: ..." on stdout; returns the isolation violations. */
uint64_t vf_demo_summary(struct vf_demo *g, struct vf_daemon *d);

#endif
