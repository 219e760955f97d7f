/* bench_pool.c - cost of taking packets from a pool and giving them back.
 *
 * BM_pool_alloc_free: one worker allocates a burst through its cache and
 * frees it again; the arg is the burst size. The pool sits on the NUMA node
 * of the cpu the benchmark starts on, as a worker's would. This is the
 * steady state of a worker whose rx and tx keep pace: the cache never runs
 * dry or overflows, so it measures the lock-free path plus vf_pkt_reset.
 */
#include <sched.h>
#include <stdio.h>

#include "numa/vf_pool.h"
#include "numa/vf_topo.h"
#include "perf/vf_bench.h"

static void BM_pool_alloc_free(struct vf_bench_state *st, int64_t arg)
{
    static struct vf_pool_cache c; /* 4 KiB: kept off the stack */
    struct vf_pkt *pkts[VF_BURST_MAX];
    unsigned burst = arg > 0 && arg <= VF_BURST_MAX ? (unsigned)arg : 32;
    struct vf_topo t;
    char err[256];
    int node = -1;
    bool have_topo = vf_topo_load(&t) == 0;

    if (have_topo)
        node = vf_topo_cpu_node(&t, sched_getcpu());
    struct vf_pool *p = vf_pool_create(have_topo ? &t : NULL, node,
                                       8192, VF_PKT_DEFAULT_DATA_ROOM, err,
                                       sizeof(err));
    if (!p) {
        vf_bench_skip(st, err);
        vf_topo_free(&t);
        return;
    }
    vf_pool_cache_init(&c, p);
    while (vf_bench_next(st)) {
        unsigned n = vf_pool_alloc_burst(&c, pkts, burst);
        vf_pool_free_burst(&c, pkts, n);
        vf_bench_items(st, n);
    }
    vf_pool_cache_flush(&c);
    vf_pool_destroy(p);
    vf_topo_free(&t);
}
VF_BENCH_ARGS(BM_pool_alloc_free, 1, 32)
