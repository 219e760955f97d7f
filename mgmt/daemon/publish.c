/* publish.c - one pointer swap, one grace period, one free (vf_publish.h). */
#include <time.h>

#include <urcu-qsbr.h>

#include "mgmt/daemon/vf_publish.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vf_publisher_init(struct vf_publisher *p,
                       void (*free_fn)(struct vf_tables *))
{
    p->slot = NULL;
    p->free_fn = free_fn;
    p->kick = NULL;
    p->kick_arg = NULL;
    p->n_published = 0;
    p->last_grace_ns = 0;
    p->max_grace_ns = 0;
}

void vf_publish(struct vf_publisher *p, struct vf_tables *next)
{
    struct vf_tables *old = p->slot;
    /* Release: pairs with rcu_dereference in the workers. */
    rcu_assign_pointer(p->slot, next);
    uint64_t t0 = now_ns();
    if (p->kick)
        p->kick(p->kick_arg);
    /* After this, no worker is inside a burst that began before the swap. */
    synchronize_rcu();
    p->last_grace_ns = now_ns() - t0;
    if (p->last_grace_ns > p->max_grace_ns)
        p->max_grace_ns = p->last_grace_ns;
    p->n_published++;
    if (old && p->free_fn)
        p->free_fn(old);
}

void vf_publisher_fini(struct vf_publisher *p)
{
    vf_publish(p, NULL);
}
