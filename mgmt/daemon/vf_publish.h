/* vf_publish.h - lock-free publication of new tables to the workers.
 *
 * What: the management thread builds a complete, immutable tables object,
 * then vf_publish() makes it current with one pointer store
 * (rcu_assign_pointer: its release pairs with the workers' rcu_dereference,
 * so a worker that sees the new pointer sees the fully built tables), waits
 * for a QSBR grace period (synchronize_rcu: every registered worker has
 * passed a quiescent state, i.e. finished the burst that might still hold
 * the old pointer, or is offline/asleep) and only then frees the old one.
 *
 * Invariants: `slot` always points to a complete tables object or NULL; a
 * tables object is freed exactly once, after no worker can hold it.
 * Workers announce quiescent states between bursts (worker.c), so a grace
 * period lasts about one burst.
 *
 * Thread-safety: vf_publish and vf_publisher_fini are called by the
 * management thread only (one publisher, one writer). `slot` is read by
 * workers with rcu_dereference. The counters are written by mgmt only.
 */
#ifndef VF_PUBLISH_H
#define VF_PUBLISH_H

#include <stdint.h>

struct vf_tables;

struct vf_publisher {
    struct vf_tables *slot;      /* mgmt: rw (rcu_assign_pointer), workers: ro */
    void (*free_fn)(struct vf_tables *);
    /* Optional: wakes sleeping readers so the grace period is short. */
    void (*kick)(void *arg);
    void *kick_arg;
    uint64_t n_published;        /* mgmt only */
    uint64_t last_grace_ns;      /* duration of the last grace period */
    uint64_t max_grace_ns;
};

void vf_publisher_init(struct vf_publisher *p,
                       void (*free_fn)(struct vf_tables *));
/* Makes next current, waits a grace period, frees the previous tables.
 * The calling thread must not be an online RCU reader holding tables. */
void vf_publish(struct vf_publisher *p, struct vf_tables *next);
/* The current tables, for the management thread only (it is the writer, so
 * no RCU read section is needed). */
static inline struct vf_tables *vf_publisher_current(const struct vf_publisher *p)
{
    return p->slot;
}
/* Unpublishes and frees the current tables (after a grace period). */
void vf_publisher_fini(struct vf_publisher *p);

#endif
