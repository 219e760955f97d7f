/* topo.c - machine topology (hwloc) and worker placement (vf_topo.h).
 *
 * Everything here runs at start-up or reconfiguration, never per packet, so
 * it favours clear error messages over speed.
 */
#include "numa/vf_topo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Some machines (and synthetic descriptions such as "pack:2 pu:2") report
 * no Core objects; each PU then counts as a core so placement still works. */
static hwloc_obj_type_t core_type(hwloc_topology_t hw)
{
    return hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE
                                                            : HWLOC_OBJ_PU;
}

/* OS index of the NUMA node whose cpuset holds `set`; 0 when the machine
 * reports no node that does (hwloc 2 always has one, but XML files may
 * not). */
static int node_of_cpuset(hwloc_topology_t hw, hwloc_const_cpuset_t set)
{
    int n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);

    for (int i = 0; i < n; i++) {
        hwloc_obj_t node = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, i);
        if (node->cpuset && hwloc_bitmap_isincluded(set, node->cpuset))
            return (int)node->os_index;
    }
    return 0;
}

int vf_topo_load(struct vf_topo *t)
{
    int err;

    memset(t, 0, sizeof(*t));
    if (hwloc_topology_init(&t->hw) < 0)
        return errno ? -errno : -ENOMEM;
    /* hwloc itself picks up HWLOC_SYNTHETIC / HWLOC_XMLFILE here. */
    if (hwloc_topology_load(t->hw) < 0) {
        err = errno ? -errno : -EINVAL;
        goto fail;
    }
    t->is_this_system = hwloc_topology_is_thissystem(t->hw) == 1;

    hwloc_obj_type_t type = core_type(t->hw);
    int n = hwloc_get_nbobjs_by_type(t->hw, type);
    if (n <= 0) {
        err = -ENODEV;
        goto fail;
    }
    int n_numa = hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_NUMANODE);
    t->n_numa = n_numa > 0 ? n_numa : 1;

    t->cores = calloc((size_t)n, sizeof(*t->cores));
    if (!t->cores) {
        err = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        hwloc_obj_t obj = hwloc_get_obj_by_type(t->hw, type, (unsigned)i);
        t->cores[i].core = i;
        /* cpuset bits are OS PU indexes: the first one is what taskset
         * and sched_getcpu() call this core. */
        t->cores[i].cpu = hwloc_bitmap_first(obj->cpuset);
        t->cores[i].numa_node = node_of_cpuset(t->hw, obj->cpuset);
    }
    t->n_cores = n;
    return 0;

fail:
    vf_topo_free(t);
    return err;
}

void vf_topo_free(struct vf_topo *t)
{
    if (!t)
        return;
    if (t->hw)
        hwloc_topology_destroy(t->hw);
    free(t->cores);
    memset(t, 0, sizeof(*t));
}

int vf_topo_cpu_node(const struct vf_topo *t, int cpu)
{
    if (!t || !t->hw || cpu < 0)
        return -1;
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t->hw, (unsigned)cpu);
    if (!pu)
        return -1;
    return node_of_cpuset(t->hw, pu->cpuset);
}

/* "2 cores (cpus 0-1) on 1 NUMA node": what every refusal says the machine
 * has, so the operator can fix the config without running lstopo. */
static void machine_summary(const struct vf_topo *t, char *buf, size_t len)
{
    char cpus[128];
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(t->hw);

    if (hwloc_bitmap_list_snprintf(cpus, sizeof(cpus), all) < 0)
        snprintf(cpus, sizeof(cpus), "?");
    snprintf(buf, len, "%d core%s (cpus %s) on %d NUMA node%s", t->n_cores,
             t->n_cores == 1 ? "" : "s", cpus, t->n_numa,
             t->n_numa == 1 ? "" : "s");
}

static int __attribute__((format(printf, 4, 5)))
refuse(const struct vf_topo *t, char *err, size_t errlen,
       const char *fmt, ...)
{
    char what[160], have[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    machine_summary(t, have, sizeof(have));
    if (err && errlen)
        snprintf(err, errlen, "workers: %s but this machine has %s", what,
                 have);
    return -EINVAL;
}

/* First core no worker sits on (checking every PU of the core, since a list
 * may name a hyperthread sibling), for the management thread; -1 if every
 * core runs a worker and mgmt shares one. */
static int spare_cpu(const struct vf_topo *t, const struct vf_placement *pl)
{
    hwloc_obj_type_t type = core_type(t->hw);

    for (int i = 0; i < t->n_cores; i++) {
        hwloc_obj_t obj = hwloc_get_obj_by_type(t->hw, type, (unsigned)i);
        bool used = false;
        for (int w = 0; w < pl->n_workers && !used; w++)
            used = hwloc_bitmap_isset(obj->cpuset, (unsigned)pl->cpu[w]);
        if (!used)
            return t->cores[i].cpu;
    }
    return -1;
}

static void add_worker(struct vf_placement *pl, int cpu, int node)
{
    pl->cpu[pl->n_workers] = cpu;
    pl->numa_node[pl->n_workers] = node;
    pl->n_workers++;
}

static int place_auto(const struct vf_topo *t, struct vf_placement *pl)
{
    int first = 0;

    /* With one or two cores, reserving one would halve (or zero) the data
     * plane; mgmt then shares a core. */
    if (t->n_cores > 2) {
        first = 1;
        pl->mgmt_cpu = t->cores[0].cpu;
    }
    for (int i = first; i < t->n_cores && pl->n_workers < VF_MAX_WORKERS; i++)
        add_worker(pl, t->cores[i].cpu, t->cores[i].numa_node);
    return 0;
}

/* Worker w goes to the (w % nodes)-th node while every node still has a
 * free core; within a node, cores are taken in logical order. Nodes are
 * ordered by their first core. Each round adds at least one worker and
 * n <= n_cores, so the loop ends within n rounds. */
static int place_count(const struct vf_topo *t, int n, struct vf_placement *pl)
{
    int *nodes = calloc((size_t)t->n_cores, sizeof(*nodes));
    int *cursor = calloc((size_t)t->n_cores, sizeof(*cursor));
    int n_nodes = 0;

    if (!nodes || !cursor) {
        free(nodes);
        free(cursor);
        return -ENOMEM;
    }
    for (int i = 0; i < t->n_cores; i++) {
        int k = 0;
        while (k < n_nodes && nodes[k] != t->cores[i].numa_node)
            k++;
        if (k == n_nodes)
            nodes[n_nodes++] = t->cores[i].numa_node;
    }
    for (int round = 0; round < n && pl->n_workers < n; round++) {
        for (int k = 0; k < n_nodes && pl->n_workers < n; k++) {
            while (cursor[k] < t->n_cores &&
                   t->cores[cursor[k]].numa_node != nodes[k])
                cursor[k]++;
            if (cursor[k] == t->n_cores)
                continue; /* this node has no free core left */
            const struct vf_topo_core *c = &t->cores[cursor[k]++];
            add_worker(pl, c->cpu, c->numa_node);
        }
    }
    free(nodes);
    free(cursor);
    pl->mgmt_cpu = spare_cpu(t, pl);
    return 0;
}

static int place_list(const struct vf_topo *t, const struct vf_workers_spec *s,
                      struct vf_placement *pl, char *err, size_t errlen)
{
    if (s->n_cpus <= 0)
        return refuse(t, err, errlen, "an empty cpu list was given");
    if (s->n_cpus > VF_MAX_WORKERS)
        return refuse(t, err, errlen,
                      "%d cpus listed (vfab supports at most %d workers)",
                      s->n_cpus, VF_MAX_WORKERS);
    for (int i = 0; i < s->n_cpus; i++) {
        int cpu = s->cpus[i];
        int node = vf_topo_cpu_node(t, cpu);
        if (node < 0)
            return refuse(t, err, errlen, "cpu %d requested", cpu);
        for (int j = 0; j < i; j++)
            if (s->cpus[j] == cpu)
                return refuse(t, err, errlen,
                              "cpu %d listed twice (entries %d and %d)", cpu,
                              j, i);
        add_worker(pl, cpu, node);
    }
    pl->mgmt_cpu = spare_cpu(t, pl);
    return 0;
}

int vf_topo_place(const struct vf_topo *t, const struct vf_workers_spec *spec,
                  struct vf_placement *out, char *err, size_t errlen)
{
    int rc;

    if (err && errlen)
        err[0] = '\0';
    memset(out, 0, sizeof(*out));
    out->mgmt_cpu = -1;
    if (!t || !t->hw || t->n_cores <= 0) {
        if (err && errlen)
            snprintf(err, errlen, "workers: no topology loaded");
        return -EINVAL;
    }
    switch (spec->mode) {
    case VF_WORKERS_AUTO:
        rc = place_auto(t, out);
        break;
    case VF_WORKERS_COUNT:
        if (spec->count <= 0)
            rc = refuse(t, err, errlen, "%d requested (need at least 1)",
                        spec->count);
        else if (spec->count > t->n_cores)
            rc = refuse(t, err, errlen, "%d requested", spec->count);
        else if (spec->count > VF_MAX_WORKERS)
            rc = refuse(t, err, errlen,
                        "%d requested (vfab supports at most %d)",
                        spec->count, VF_MAX_WORKERS);
        else
            rc = place_count(t, spec->count, out);
        break;
    case VF_WORKERS_LIST:
        rc = place_list(t, spec, out, err, errlen);
        break;
    default:
        if (err && errlen)
            snprintf(err, errlen, "workers: unknown mode %d", (int)spec->mode);
        rc = -EINVAL;
        break;
    }
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        out->mgmt_cpu = -1;
    }
    return rc;
}

int vf_topo_pin_thread(const struct vf_topo *t, int cpu)
{
    if (!t || !t->hw || !t->is_this_system)
        return -ENOTSUP;
    if (cpu < 0)
        return -EINVAL;
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t->hw, (unsigned)cpu);
    if (!pu)
        return -EINVAL;
    if (hwloc_set_cpubind(t->hw, pu->cpuset, HWLOC_CPUBIND_THREAD) < 0)
        return errno ? -errno : -EINVAL;
    return 0;
}

void vf_topo_describe(const struct vf_topo *t, char *buf, size_t len)
{
    const char *where = "this system";

    if (!buf || !len)
        return;
    if (!t || !t->hw) {
        snprintf(buf, len, "no topology");
        return;
    }
    if (!t->is_this_system) {
        /* hwloc names the backend that built the topology: "Synthetic",
         * "XML", ... so the log says why pinning is off. */
        const char *b = hwloc_obj_get_info_by_name(hwloc_get_root_obj(t->hw),
                                                   "Backend");
        where = b ? b : "unknown";
    }
    snprintf(buf, len, "%d core%s, %d NUMA node%s (%s%s)", t->n_cores,
             t->n_cores == 1 ? "" : "s", t->n_numa, t->n_numa == 1 ? "" : "s",
             where, t->is_this_system ? "" : ", not this system");
}
