/* vf_topo.h - the machine as vfab sees it, and where workers go.
 *
 * What: vf_topo_load() reads the topology with hwloc (cores, NUMA nodes,
 * which node each core belongs to). HWLOC_SYNTHETIC / HWLOC_XMLFILE in the
 * environment are honoured by hwloc, so placement is testable with made-up
 * machines ("pack:2 numa:2 core:4 pu:1"). A synthetic topology cannot be
 * bound to; vf_topo_pin_thread() then reports -ENOTSUP and callers carry on
 * unpinned (vf_topo.is_this_system says which case we are in).
 *
 * Placement (vf_topo_place):
 *   - auto: one worker per core; when the machine has more than two cores,
 *     the first core is kept for the management thread and the OS.
 *   - count N: N workers spread round-robin over the NUMA nodes (so pools
 *     land on every node), cores taken in order within each node; refused
 *     if N > cores.
 *   - list [cpu, ...]: exactly those OS cpu indexes; refused if one does not
 *     exist or appears twice.
 *   A refusal fills err with what was asked and what the machine has.
 *
 * Thread-safety: load/free from one thread; a loaded topology is read-only
 * and may be shared by all threads.
 */
#ifndef VF_TOPO_H
#define VF_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <hwloc.h>

#define VF_MAX_WORKERS 64

struct vf_topo_core {
    int cpu;       /* OS index of the core's first PU (what taskset names) */
    int core;      /* logical core index, 0..n_cores-1 */
    int numa_node; /* OS index of the NUMA node holding the core */
};

struct vf_topo {
    hwloc_topology_t hw;
    bool is_this_system;      /* false for synthetic/XML topologies */
    int n_cores;
    int n_numa;
    struct vf_topo_core *cores; /* n_cores entries, in logical order */
};

enum vf_workers_mode { VF_WORKERS_AUTO, VF_WORKERS_COUNT, VF_WORKERS_LIST };

struct vf_workers_spec {
    enum vf_workers_mode mode;
    int count;                 /* VF_WORKERS_COUNT */
    int n_cpus;                /* VF_WORKERS_LIST */
    int cpus[VF_MAX_WORKERS];
};

struct vf_placement {
    int n_workers;
    int cpu[VF_MAX_WORKERS];       /* OS cpu index of each worker */
    int numa_node[VF_MAX_WORKERS]; /* NUMA node of that cpu */
    int mgmt_cpu;                  /* cpu left for mgmt, -1 if shared */
};

int vf_topo_load(struct vf_topo *t);           /* 0 or -errno */
void vf_topo_free(struct vf_topo *t);          /* accepts a zeroed topo */
/* NUMA node of an OS cpu index, or -1 if unknown. */
int vf_topo_cpu_node(const struct vf_topo *t, int cpu);
int vf_topo_place(const struct vf_topo *t, const struct vf_workers_spec *spec,
                  struct vf_placement *out, char *err, size_t errlen);
/* Binds the calling thread to one cpu: 0, or -errno (-ENOTSUP when the
 * topology is not this system's). */
int vf_topo_pin_thread(const struct vf_topo *t, int cpu);
/* One-line description for logs: "2 cores, 1 NUMA node (this system)". */
void vf_topo_describe(const struct vf_topo *t, char *buf, size_t len);

#endif
