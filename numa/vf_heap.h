/* vf_heap.h - what the process heap holds, from jemalloc's own statistics.
 *
 * What: malloc is jemalloc (linked by vf_numa), which counts the bytes the
 * application has live (allocated) and the bytes of physical memory its
 * arenas hold (resident, which includes freed pages not yet returned to
 * the kernel). A leak shows as allocated that keeps rising; a flat
 * allocated with a rising RSS is the allocator keeping pages, not a leak.
 * Packet pools are mmap'd (vf_pool.h) and are not part of either figure.
 *
 * Thread-safety: any thread; each call refreshes jemalloc's statistics
 * epoch (a global, briefly locked operation: call it per sample, not per
 * packet). Returns 0, or -ENOSYS when the statistics cannot be read (then
 * both values are 0).
 */
#ifndef VF_HEAP_H
#define VF_HEAP_H

#include <stddef.h>

struct vf_heap_stats {
    size_t allocated;   /* bytes the application holds */
    size_t resident;    /* bytes of physical memory jemalloc holds */
};

int vf_heap_stats(struct vf_heap_stats *st);

#endif
