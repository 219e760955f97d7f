/* vf_perfconfig.h - tuning knobs (perf configs), kept apart from the
 * desired state.
 *
 * What: a perf config is a small YAML mapping of knobs that change how fast
 * vfabd forwards, never what it forwards: workers and their cores, burst
 * size, tx batching and flush policy, ring and uplink queue depths, pool
 * size and hugepage use, flow cache size, the io_uring variant of the UDP
 * uplink and the idle polls before a worker sleeps. `vfabd -c STATE -p
 * PERF` loads one with vf_perfconfig_load() and folds it into struct
 * vf_daemon_opts with vf_perfconfig_to_opts(). Shipped examples live in
 * perf/configs/ (docs/perf.md explains when to use which).
 *
 * Invariants: a loaded config has passed every check a knob can be given
 * alone or with the other knobs of the same file (ranges, powers of two,
 * send_zc needs the io_uring receive, fixed_bufs needs send_zc, the pool
 * must outlast the uplink's receive ring). An unknown knob, a wrong type
 * or an impossible value is refused whole with an error that names the
 * file, line, knob and what is allowed. A knob that is absent keeps
 * vfabd's default (the `set` mask says which ones the file gave).
 *
 * Thread-safety: plain data, loaded and read by the management thread.
 */
#ifndef VF_PERFCONFIG_H
#define VF_PERFCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "fabric/vf_port_udp.h"
#include "mgmt/daemon/vf_daemon.h"
#include "numa/vf_topo.h"

/* One bit per knob, in file order; `set` says which ones the file gave. */
#define VF_PERF_KNOBS(X)                                                     \
    X(WORKERS, "workers", "auto, a count 1..64 or a list of cpu numbers")    \
    X(BURST, "burst", "packets per rx poll, 1..64")                          \
    X(TX_BATCH, "tx_batch", "packets staged per port before a send, 1..64")  \
    X(TX_FLUSH, "tx_flush", "per-poll or per-queue")                         \
    X(RING_SIZE, "ring_size", "a power of two in 64..65536")                 \
    X(UPLINK_DEPTH, "uplink_depth", "a power of two in 8..4096")             \
    X(POOL_BUFS, "pool_bufs", "buffers per worker, 1024..4194304")           \
    X(HUGEPAGES, "hugepages", "auto or required")                            \
    X(FLOW_CACHE, "flow_cache_entries", "1024..67108864 (rounded up to a power of two)") \
    X(UPLINK_RX, "uplink_rx", "multishot or syscall")                        \
    X(SEND_ZC, "send_zc", "true or false")                                   \
    X(FIXED_BUFS, "fixed_bufs", "true or false")                             \
    X(IDLE_POLLS, "idle_polls", "0 (busy poll) .. 100000000")               \
    X(IDLE_SPIN, "idle_spin", "adaptive or fixed")

enum vf_perf_knob {
#define VF_PERF_ENUM(id, name, allowed) VF_PERF_##id,
    VF_PERF_KNOBS(VF_PERF_ENUM)
#undef VF_PERF_ENUM
    VF_PERF__COUNT
};

enum vf_perf_flush { VF_PERF_FLUSH_PER_POLL = 0, VF_PERF_FLUSH_PER_QUEUE = 1 };

struct vf_perfconfig {
    char source[256];              /* file name the knobs came from */
    unsigned set;                  /* 1u << VF_PERF_* for each knob given */
    struct vf_workers_spec workers;
    unsigned burst;
    unsigned tx_batch;
    enum vf_perf_flush tx_flush;
    unsigned ring_size;
    unsigned uplink_depth;
    unsigned pool_bufs;
    bool hugepages_required;
    unsigned flow_cache_entries;
    enum vf_udp_rx_mode uplink_rx;
    bool send_zc;
    bool fixed_bufs;
    unsigned idle_polls;
    bool fixed_spin;               /* idle_spin: fixed */
};

/* Loads and checks a perf config file. 0, -EINVAL (err names the file,
 * line and knob) or -errno when the file cannot be read. */
int vf_perfconfig_load(const char *file, struct vf_perfconfig *pc, char *err,
                       size_t errlen);
/* Same, from memory; `name` is used in messages. */
int vf_perfconfig_load_string(const char *name, const char *yaml, size_t len,
                              struct vf_perfconfig *pc, char *err,
                              size_t errlen);
/* Overwrites in *o the knobs that pc sets; others keep their value. */
void vf_perfconfig_to_opts(const struct vf_perfconfig *pc,
                           struct vf_daemon_opts *o);
/* The knob's name as written in the file. */
const char *vf_perfconfig_knob_name(enum vf_perf_knob k);

#endif
