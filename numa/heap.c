/* heap.c - jemalloc heap statistics (vf_heap.h). */
#include <errno.h>
#include <stdint.h>
#include <jemalloc/jemalloc.h>

#include "numa/vf_heap.h"

int vf_heap_stats(struct vf_heap_stats *st)
{
    uint64_t epoch = 1;
    size_t len = sizeof(epoch), a = 0, r = 0, sl = sizeof(size_t);
    st->allocated = st->resident = 0;
    /* The statistics are a snapshot taken at the last epoch bump. */
    if (mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch)) ||
        mallctl("stats.allocated", &a, &sl, NULL, 0) ||
        mallctl("stats.resident", &r, &sl, NULL, 0))
        return -ENOSYS;
    st->allocated = a;
    st->resident = r;
    return 0;
}
