/* ct_mem.c - conntrack's memory: one mapping, batches of entry indices,
 * credits against the connection limit, and reclaim after a grace period.
 *
 * Every entry, slot and batch is allocated and touched when the table is
 * created; nothing is allocated after. Entry indices travel in batches of
 * VF_CT_BATCH between three lock-free stacks and the threads' contexts:
 *   free     entries no reader can still see; a thread pops a batch when
 *            its own `alloc` batch runs dry (one CAS per VF_CT_BATCH
 *            connections);
 *   empty    batch descriptors with no entries; a thread pops one when its
 *            `limbo` batch of killed entries is full;
 *   retired  full (or, at the end of a sweep pass or a flush, partial)
 *            limbos; vf_ct_reclaim takes the whole stack, waits for one RCU
 *            grace period and pushes the batches onto `free`.
 * free and empty are popped by many threads, so their heads carry a tag
 * that every change bumps (an ABA on the head cannot match an old tag);
 * retired is only pushed and taken whole, for which an ABA is harmless.
 *
 * Sizing (so a thread never waits for a batch): entries = max_conns plus
 * an eighth (killed entries waiting for reclaim) plus two batches per
 * context (its alloc and limbo batches, which others cannot use); batch
 * descriptors = entries / VF_CT_BATCH plus two per context plus two, so
 * one is always empty while any thread needs one.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "pipeline/ct_impl.h"

#define CT_THP_MIN_BYTES (64ul << 20)

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static uint32_t batch_index(const struct vf_ct *ct, const struct vf_ct_batch *b)
{
    return (uint32_t)(b - ct->batches);
}

/* Tagged push: release, so a popper that acquires the head sees the
 * batch's contents and link. */
static void stack_push(struct vf_ct *ct, _Atomic uint64_t *head, struct vf_ct_batch *b)
{
    uint64_t h = atomic_load_explicit(head, memory_order_relaxed);
    uint64_t bi = batch_index(ct, b);
    do {
        atomic_store_explicit(&b->next, (uint32_t)h, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(
        head, &h, (((h >> 32) + 1) << 32) | bi, memory_order_release,
        memory_order_relaxed));
}

/* Tagged pop. The link is read before the CAS and may be stale if another
 * thread popped the batch meanwhile; then the tag has moved and the CAS
 * fails. Acquire pairs with stack_push's release. */
static struct vf_ct_batch *stack_pop(struct vf_ct *ct, _Atomic uint64_t *head)
{
    uint64_t h = atomic_load_explicit(head, memory_order_acquire);
    for (;;) {
        uint32_t bi = (uint32_t)h;
        if (bi == CT_NIL)
            return NULL;
        uint32_t next = atomic_load_explicit(&ct->batches[bi].next, memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(
                head, &h, (((h >> 32) + 1) << 32) | next, memory_order_acquire,
                memory_order_acquire))
            return &ct->batches[bi];
    }
}

/* Release: vf_ct_reclaim's exchange (acquire) sees the batch's contents. */
static void retire(struct vf_ct *ct, struct vf_ct_batch *b)
{
    uint32_t h = atomic_load_explicit(&ct->retired_head, memory_order_relaxed);
    do {
        atomic_store_explicit(&b->next, h, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(
        &ct->retired_head, &h, batch_index(ct, b), memory_order_release,
        memory_order_relaxed));
}

int ct_mem_create(struct vf_ct *ct, uint32_t max_conns)
{
    uint64_t n_entries = (uint64_t)max_conns + max_conns / 8 +
                         2ull * VF_CT_BATCH * VF_CT_MAX_CTX;
    uint64_t n_batches = (n_entries + VF_CT_BATCH - 1) / VF_CT_BATCH +
                         2ull * VF_CT_MAX_CTX + 2;
    /* Four slots per connection that can be linked: a quarter of them in
     * use at most, two per bucket on average, so with the insert rule of
     * conntrack.c (ct_claim) a key finds room in one of its two buckets
     * with all but vanishing odds (counted as bucket_full if not). */
    uint64_t n_buckets = 2;
    while (n_buckets * CT_WAYS < 4ull * max_conns)
        n_buckets *= 2;
    if (n_entries >= CT_NIL)
        return -EINVAL;

    size_t off_conns = align64(n_buckets * sizeof(struct ct_bucket));
    size_t off_batches = off_conns + align64(n_entries * sizeof(struct ct_conn));
    size_t off_zones = off_batches + align64(n_batches * sizeof(struct vf_ct_batch));
    size_t len = off_zones + align64(VF_CT_ZONES * sizeof(struct ct_zone));

    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return -ENOMEM;
    /* Lookups land anywhere in the table: huge pages save a TLB miss per
     * lookup on a big one (a hint; ignored where refused). Then every page
     * now, not on the first connection that touches it. */
    if (len >= CT_THP_MIN_BYTES)
        (void)madvise(map, len, MADV_HUGEPAGE);
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    if (madvise(map, len, MADV_POPULATE_WRITE) != 0) {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE);
        for (size_t o = 0; o < len; o += pg)
            ((volatile char *)map)[o] = 0;
    }
    ct->map = map;
    ct->map_len = len;
    ct->buckets = map;
    ct->conns = (struct ct_conn *)((char *)map + off_conns);
    ct->batches = (struct vf_ct_batch *)((char *)map + off_batches);
    ct->zones = (struct ct_zone *)((char *)map + off_zones);
    ct->bucket_mask = (uint32_t)(n_buckets - 1);
    ct->n_entries = (uint32_t)n_entries;
    ct->n_batches = (uint32_t)n_batches;

    atomic_init(&ct->free_head, (uint64_t)CT_NIL);
    atomic_init(&ct->empty_head, (uint64_t)CT_NIL);
    atomic_init(&ct->retired_head, CT_NIL);
    uint32_t b = 0;
    for (uint64_t e = 0; e < n_entries; b++) {
        struct vf_ct_batch *bt = &ct->batches[b];
        bt->n = 0;
        while (bt->n < VF_CT_BATCH && e < n_entries)
            bt->idx[bt->n++] = (uint32_t)e++;
        stack_push(ct, &ct->free_head, bt);
    }
    for (; b < n_batches; b++) {
        ct->batches[b].n = 0;
        stack_push(ct, &ct->empty_head, &ct->batches[b]);
    }
    return 0;
}

void ct_mem_destroy(struct vf_ct *ct)
{
    if (ct->map)
        munmap(ct->map, ct->map_len);
    ct->map = NULL;
}

uint32_t ct_alloc(struct vf_ct_worker *w)
{
    struct vf_ct_batch *b = w->alloc;
    if (!b || b->n == 0) {
        struct vf_ct_batch *nb = stack_pop(w->ct, &w->ct->free_head);
        if (!nb)
            return CT_NIL;
        if (b)
            stack_push(w->ct, &w->ct->empty_head, b);
        w->alloc = b = nb;
    }
    return b->idx[--b->n];
}

void ct_unalloc(struct vf_ct_worker *w, uint32_t idx)
{
    /* ct_alloc just took it from this batch: there is room. */
    w->alloc->idx[w->alloc->n++] = idx;
}

bool ct_limbo_room(struct vf_ct_worker *w)
{
    if (w->limbo && w->limbo->n < VF_CT_BATCH)
        return true;
    struct vf_ct_batch *e = stack_pop(w->ct, &w->ct->empty_head);
    if (!e)
        return false;
    if (w->limbo)
        retire(w->ct, w->limbo);
    e->n = 0;
    w->limbo = e;
    return true;
}

void ct_limbo_put(struct vf_ct_worker *w, uint32_t idx)
{
    w->limbo->idx[w->limbo->n++] = idx;
}

void ct_limbo_flush(struct vf_ct_worker *w)
{
    if (w->limbo && w->limbo->n) {
        retire(w->ct, w->limbo);
        w->limbo = NULL;
    }
}

bool ct_credit_take(struct vf_ct_worker *w)
{
    if (w->credit == 0) {
        int64_t a = atomic_load_explicit(&w->ct->avail, memory_order_relaxed);
        int64_t take;
        do {
            if (a <= 0)
                return false;
            take = a < VF_CT_CREDIT ? a : VF_CT_CREDIT;
        } while (!atomic_compare_exchange_weak_explicit(
            &w->ct->avail, &a, a - take, memory_order_relaxed, memory_order_relaxed));
        w->credit = (uint32_t)take;
    }
    w->credit--;
    return true;
}

void ct_credit_give(struct vf_ct_worker *w)
{
    /* Keep up to two units, so a thread that creates and kills at the same
     * rate touches the global count once per VF_CT_CREDIT connections. */
    if (++w->credit >= 2 * VF_CT_CREDIT) {
        atomic_fetch_add_explicit(&w->ct->avail, VF_CT_CREDIT, memory_order_relaxed);
        w->credit -= VF_CT_CREDIT;
    }
}

void ct_credit_return_all(struct vf_ct_worker *w)
{
    atomic_fetch_add_explicit(&w->ct->avail, w->credit, memory_order_relaxed);
    w->credit = 0;
}

void ct_alloc_return_all(struct vf_ct_worker *w)
{
    /* The alloc batch's entries were free already: straight back. */
    if (w->alloc)
        stack_push(w->ct, w->alloc->n ? &w->ct->free_head : &w->ct->empty_head,
                   w->alloc);
    w->alloc = NULL;
    ct_limbo_flush(w);
    if (w->limbo) {   /* an empty limbo */
        stack_push(w->ct, &w->ct->empty_head, w->limbo);
        w->limbo = NULL;
    }
}

bool vf_ct_reclaim_pending(const struct vf_ct *ct)
{
    /* Relaxed: a hint for whether to kick workers before vf_ct_reclaim;
     * a batch retired right after is simply reclaimed next time. */
    return atomic_load_explicit(&((struct vf_ct *)ct)->retired_head,
                                memory_order_relaxed) != CT_NIL;
}

unsigned vf_ct_reclaim(struct vf_ct *ct)
{
    /* Everything retired before this exchange was unlinked before it; the
     * grace period that starts after it covers every reader that could
     * have seen one of those entries. */
    uint32_t h = atomic_exchange_explicit(&ct->retired_head, CT_NIL, memory_order_acquire);
    if (h == CT_NIL)
        return 0;
    synchronize_rcu();
    unsigned n = 0;
    while (h != CT_NIL) {
        struct vf_ct_batch *b = &ct->batches[h];
        h = atomic_load_explicit(&b->next, memory_order_relaxed);
        n += b->n;
        stack_push(ct, &ct->free_head, b);
    }
    return n;
}
