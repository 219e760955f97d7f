/* bench_wake.c - what a sleeping worker costs a packet: wake-up latency by
 * the way the worker waits.
 *
 * BM_wake/MODE: a waiter thread waits for an eventfd (what a worker's
 * rx queue or kick fd is) in one of these ways; the benchmark thread
 * stamps the clock, writes the eventfd, and spins until the waiter has
 * stamped the clock on waking; then pauses GAP_US (so the waiter is back
 * to waiting, and asleep unless it spins longer) before the next round.
 * Items are wake-ups; the counters are the write-to-wake latency p50 / p99
 * in microseconds and the waiter's CPU time per wake-up (its spinning).
 *   0 spin      busy polls the eventfd (non-blocking read): the floor
 *   1 poll      poll() with a 100 ms timeout, as worker_sleep does today
 *   2 uring     io_uring_wait_cqe on a POLL_ADD of the eventfd
 *   3 uring_to  io_uring_wait_cqe_timeout with a 50 us timeout, re-armed
 *               until the event comes (a short-timeout wait)
 *   4 hybrid    spins up to SPIN_US (about the measured poll wake-up)
 *               then poll()s: catches events that come within the spin
 *               at the spin's latency, sleeps for the rest
 * Read the ratios to mode 0 of the same run; on a shared VM the absolute
 * microseconds move with the load (docs/perf.md, "Latency").
 */
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "perf/vf_bench.h"

#define WAKE_GAP_US 300      /* between rounds: past any spin below */
#define WAKE_SPIN_US 100     /* the hybrid's spin, ~ a poll() wake-up here */
#define WAKE_MAX 100000      /* rounds kept for percentiles */

struct wake {
    int efd, mode;
    _Atomic uint64_t woke_ns;   /* waiter: stamps; bench: reads and clears */
    _Atomic bool stop;
    struct io_uring ring;
    uint64_t cpu_ns;            /* the waiter's CPU time, at its end */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool try_read(int fd)
{
    uint64_t v;
    return read(fd, &v, sizeof(v)) == sizeof(v);
}

/* Waits for one event the mode's way (bounded by wk->stop checks). */
static void wait_one(struct wake *wk)
{
    struct pollfd pfd = {.fd = wk->efd, .events = POLLIN};
    switch (wk->mode) {
    case 0:
        while (!try_read(wk->efd) && !atomic_load(&wk->stop))
            ;
        return;
    case 1:
        while (!try_read(wk->efd) && !atomic_load(&wk->stop))
            (void)poll(&pfd, 1, 100);
        return;
    case 2:
    case 3:
        while (!try_read(wk->efd) && !atomic_load(&wk->stop)) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&wk->ring);
            struct io_uring_cqe *cqe = NULL;
            io_uring_prep_poll_add(sqe, wk->efd, POLLIN);
            io_uring_submit(&wk->ring);
            if (wk->mode == 2) {
                if (io_uring_wait_cqe(&wk->ring, &cqe) == 0)
                    io_uring_cqe_seen(&wk->ring, cqe);
                continue;
            }
            struct __kernel_timespec ts = {.tv_nsec = 50000};
            for (;;) {
                int r = io_uring_wait_cqe_timeout(&wk->ring, &cqe, &ts);
                if (r == 0) {
                    io_uring_cqe_seen(&wk->ring, cqe);
                    break;
                }
                if (atomic_load(&wk->stop))
                    return;
            }
        }
        return;
    default: {
        uint64_t until = now_ns() + WAKE_SPIN_US * 1000u;
        while (now_ns() < until)
            if (try_read(wk->efd))
                return;
        while (!try_read(wk->efd) && !atomic_load(&wk->stop))
            (void)poll(&pfd, 1, 100);
        return;
    }
    }
}

static void *waiter(void *arg)
{
    struct wake *wk = arg;
    while (!atomic_load(&wk->stop)) {
        wait_one(wk);
        atomic_store(&wk->woke_ns, now_ns());
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    wk->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void BM_wake(struct vf_bench_state *st, int64_t mode)
{
    static struct wake wk;
    memset(&wk, 0, sizeof(wk));
    wk.mode = (int)mode;
    wk.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t *lat = malloc(WAKE_MAX * sizeof(*lat));
    if (wk.efd < 0 || !lat || (mode >= 2 && mode <= 3 &&
                               io_uring_queue_init(8, &wk.ring, 0) < 0)) {
        vf_bench_skip(st, "eventfd, memory or io_uring setup failed");
        if (wk.efd >= 0)
            close(wk.efd);
        free(lat);
        return;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, waiter, &wk)) {
        vf_bench_skip(st, "pthread_create");
        return;
    }
    uint64_t n = 0, one = 1, lost = 0;
    struct timespec gap = {.tv_nsec = WAKE_GAP_US * 1000};
    while (vf_bench_next(st)) {
        nanosleep(&gap, NULL);
        atomic_store(&wk.woke_ns, 0);
        uint64_t t0 = now_ns();
        (void)!write(wk.efd, &one, sizeof(one));
        uint64_t t1;
        /* Bounded: a waiter asleep in poll() wakes within its timeout. */
        while ((t1 = atomic_load(&wk.woke_ns)) == 0 && now_ns() - t0 < 200000000u)
            ;
        if (t1 == 0) {
            lost++;
            continue;
        }
        if (n < WAKE_MAX)
            lat[n] = t1 > t0 ? t1 - t0 : 0;
        n++;
    }
    atomic_store(&wk.stop, true);
    (void)!write(wk.efd, &one, sizeof(one));
    pthread_join(th, NULL);
    if (mode >= 2 && mode <= 3)
        io_uring_queue_exit(&wk.ring);
    close(wk.efd);
    unsigned k = n < WAKE_MAX ? (unsigned)n : WAKE_MAX;
    qsort(lat, k, sizeof(*lat), cmp_u64);
    vf_bench_items(st, n);
    if (k) {
        vf_bench_counter(st, "wake_us_p50", (double)lat[k / 2] / 1000.0);
        vf_bench_counter(st, "wake_us_p99", (double)lat[k * 99 / 100] / 1000.0);
        vf_bench_counter(st, "waiter_cpu_us_per_wake", (double)wk.cpu_ns / 1000.0 / (double)n);
    }
    vf_bench_counter(st, "lost", (double)lost);
    free(lat);
}
VF_BENCH_ARGS(BM_wake, 0, 1, 2, 3, 4)
