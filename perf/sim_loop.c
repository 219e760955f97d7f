/* sim_loop.c - vfab-sim's loop threads: each polls the clients of its share
 * of the chassis in one poll(2) (vf_sim.h).
 *
 * A client's fds and due time change only when it runs (dispatch, or the
 * start and kill calls made here), so they are cached per chassis and
 * recomputed for those that ran; a round copies the cached fds into one
 * array (O(fds), no syscalls) and dispatches only the clients with an fd
 * ready or a timer due. The work completions leave (events to apply,
 * models to rebuild and compile) runs after that for at most SETTLE_NS a
 * round, round-robin, so that no chassis' keepalive waits behind a
 * thousand others' compiles.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/vf_sim.h"

#define SETTLE_NS (20 * 1000000LL)

struct thr {
    pthread_t tid;
    struct sim_chassis *cs;
    unsigned n;
};

static struct thr *thrs;
static unsigned n_thrs;
static atomic_int stop_flag;     /* main: rw; threads: ro */

static void refresh(struct sim_chassis *c)
{
    if (!c->s)
        return;
    unsigned need = vf_store_nfds(c->s);
    if (need > c->cap_fds) {
        struct pollfd *f = realloc(c->fds, need * sizeof(*f));
        if (!f)
            return;
        c->fds = f;
        c->cap_fds = need;
    }
    int n = vf_store_pollfds(c->s, c->fds, c->cap_fds);
    c->nfds = n > 0 ? (unsigned)n : 0;
    int ms = vf_store_timeout_ms(c->s);
    c->due_ns = ms < 0 ? -1 : sim_now_ns() + (int64_t)ms * 1000000;
    c->poll_dirty = false;
}

static void *run(void *arg)
{
    struct thr *t = arg;
    struct pollfd *all = NULL;
    size_t cap = 0;
    unsigned next = 0;           /* where settling starts this round */
    bool behind = false;         /* settling left work for the next round */

    for (unsigned i = 0; i < t->n; i++) {
        sim_chassis_start(&t->cs[i]);
        t->cs[i].poll_dirty = true;
    }
    while (!atomic_load_explicit(&stop_flag, memory_order_acquire)) {
        size_t total = 0;
        int64_t now = sim_now_ns(), due = now + 100 * 1000000LL;
        for (unsigned i = 0; i < t->n; i++) {
            struct sim_chassis *c = &t->cs[i];
            if (atomic_load_explicit(&c->kill, memory_order_acquire) == 1) {
                sim_chassis_kill(c);
                atomic_store_explicit(&c->kill, 2, memory_order_release);
                c->poll_dirty = true;
            }
            if (c->retry_ns && c->retry_ns <= now) {
                sim_chassis_retry(c);
                c->poll_dirty = true;
            }
            if (c->poll_dirty)
                refresh(c);
            if (c->retry_ns && c->retry_ns < due)
                due = c->retry_ns;
            total += c->nfds;
            if (c->due_ns >= 0 && c->due_ns < due)
                due = c->due_ns;
        }
        if (total > cap) {
            struct pollfd *a = realloc(all, total * sizeof(*a));
            if (!a)
                break;
            all = a;
            cap = total;
        }
        size_t o = 0;
        for (unsigned i = 0; i < t->n; i++) {
            if (t->cs[i].nfds)
                memcpy(all + o, t->cs[i].fds, t->cs[i].nfds * sizeof(*all));
            o += t->cs[i].nfds;
        }
        int ms = due <= now || behind ? 0 : (int)((due - now + 999999) / 1000000);
        if (poll(all, total, ms) < 0 && errno != EINTR)
            break;
        now = sim_now_ns();
        o = 0;
        for (unsigned i = 0; i < t->n; i++) {
            struct sim_chassis *c = &t->cs[i];
            bool ready = c->due_ns >= 0 && c->due_ns <= now;
            for (unsigned k = 0; k < c->nfds && !ready; k++)
                ready = all[o + k].revents != 0;
            if (ready && c->s) {
                vf_store_dispatch(c->s, all + o, c->nfds);
                c->poll_dirty = true;
            }
            o += c->nfds;
        }
        int64_t until = sim_now_ns() + SETTLE_NS;
        behind = false;
        for (unsigned j = 0; j < t->n; j++) {
            struct sim_chassis *c = &t->cs[(next + j) % t->n];
            if (!c->want_settle)
                continue;
            if (sim_now_ns() > until) {
                behind = true;
                next = (next + j) % t->n;
                break;
            }
            sim_chassis_settle(c);
            c->poll_dirty = true;
        }
    }
    free(all);
    return NULL;
}

int sim_loop_start(struct sim_chassis *cs, unsigned n, unsigned threads)
{
    if (!threads)
        threads = 1;
    thrs = calloc(threads, sizeof(*thrs));
    if (!thrs)
        return -ENOMEM;
    n_thrs = threads;
    for (unsigned i = 0, at = 0; i < threads; i++) {
        unsigned share = n / threads + (i < n % threads);
        thrs[i].cs = cs + at;
        thrs[i].n = share;
        at += share;
        if (pthread_create(&thrs[i].tid, NULL, run, &thrs[i]))
            return -errno;
    }
    return 0;
}

void sim_loop_stop(void)
{
    atomic_store_explicit(&stop_flag, 1, memory_order_release);
    for (unsigned i = 0; i < n_thrs; i++)
        pthread_join(thrs[i].tid, NULL);
    free(thrs);
    thrs = NULL;
    n_thrs = 0;
}
