/* loop.c - the management thread's poll() loop, its timers and what each
 * signal does (vf_loop.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_loop.h"

/* ---- signals: the one place that decides what each does ---- */

enum sig_action { SIG_STOP, SIG_IGNORE };

/* Every signal whose default action ends the process, bar the faults a
 * handler cannot recover from (SEGV, BUS, FPE, ILL, ABRT, TRAP, SYS) and
 * SIGPIPE (ignored outright). Real-time signals stop too (rt_action). */
static const struct {
    int sig;
    enum sig_action action;
} sig_table[] = {
    { SIGHUP, SIG_IGNORE },     /* logrotate and friends: nothing to reopen */
    { SIGINT, SIG_STOP },
    { SIGTERM, SIG_STOP },
    { SIGQUIT, SIG_STOP },
    { SIGUSR1, SIG_STOP },
    { SIGUSR2, SIG_STOP },
    { SIGALRM, SIG_STOP },
    { SIGVTALRM, SIG_STOP },
    { SIGPROF, SIG_STOP },
    { SIGXCPU, SIG_STOP },
    { SIGXFSZ, SIG_STOP },
    { SIGIO, SIG_STOP },
    { SIGPWR, SIG_STOP },
    { SIGSTKFLT, SIG_STOP },
};

#define N_SIGS (sizeof(sig_table) / sizeof(sig_table[0]))

static int sig_action(int sig, enum sig_action *a)
{
    for (size_t i = 0; i < N_SIGS; i++)
        if (sig_table[i].sig == sig) {
            *a = sig_table[i].action;
            return 0;
        }
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        *a = SIG_STOP;
        return 0;
    }
    return -ENOENT;
}

const char *vf_loop_signal_action(int sig)
{
    enum sig_action a;

    if (sig_action(sig, &a))
        return NULL;
    return a == SIG_STOP ? "stop" : "ignore";
}

static void handled_set(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < N_SIGS; i++)
        sigaddset(set, sig_table[i].sig);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigaddset(set, s);
}

int vf_loop_block_signals(void)
{
    sigset_t set;
    struct sigaction ign = { .sa_handler = SIG_IGN };

    sigemptyset(&ign.sa_mask);
    if (sigaction(SIGPIPE, &ign, NULL) != 0)
        return -errno;
    handled_set(&set);
    return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int on_signal(void *arg, int fd, short revents)
{
    struct vf_loop *l = arg;
    struct signalfd_siginfo si;
    enum sig_action a;

    (void)revents;
    /* Bounded: the signalfd is non-blocking and holds at most one entry
     * per pending signal. */
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        const char *name = sigabbrev_np(sig);
        if (sig_action(sig, &a))
            continue;
        if (a == SIG_IGNORE) {
            vf_log_info("SIG%s from pid %u: ignored (vfabd logs to stderr or "
                        "syslog, so there is no log file to reopen; stop it "
                        "with SIGTERM)", name ? name : "?", si.ssi_pid);
            continue;
        }
        l->stop_signal = sig;
        char why[48];
        snprintf(why, sizeof(why), "SIG%s", name ? name : "RT");
        vf_loop_stop(l, why);
    }
    return 0;
}

/* ---- the loop ---- */

static void ts_add_ms(struct timespec *t, unsigned ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static long long ts_diff_ms(const struct timespec *a, const struct timespec *b)
{
    return (long long)(a->tv_sec - b->tv_sec) * 1000 +
           (a->tv_nsec - b->tv_nsec) / 1000000;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int vf_loop_init(struct vf_loop *l, bool watch_signals)
{
    sigset_t set;

    memset(l, 0, sizeof(*l));
    l->sig_fd = -1;
    if (!watch_signals)
        return 0;
    handled_set(&set);
    l->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (l->sig_fd < 0)
        return -errno;
    return vf_loop_add_fd(l, "signals", l->sig_fd, POLLIN, on_signal, l);
}

void vf_loop_fini(struct vf_loop *l)
{
    if (l->sig_fd >= 0)
        close(l->sig_fd);
    l->sig_fd = -1;
    l->n_src = l->n_tm = 0;
}

int vf_loop_add_source(struct vf_loop *l, const char *name,
                       unsigned (*fds)(void *, struct pollfd *, unsigned),
                       int (*ready)(void *, const struct pollfd *, unsigned),
                       void *arg)
{
    if (l->n_src == VF_LOOP_MAX_SOURCES)
        return -ENOSPC;
    l->src[l->n_src++] = (struct vf_loop_source){
        .name = name, .fds = fds, .ready = ready, .arg = arg, .fd = -1 };
    return 0;
}

int vf_loop_add_timed_source(struct vf_loop *l, const char *name,
                             unsigned (*fds)(void *, struct pollfd *, unsigned),
                             int (*ready)(void *, const struct pollfd *, unsigned),
                             int (*timeout_ms)(void *), void *arg)
{
    int rc = vf_loop_add_source(l, name, fds, ready, arg);
    if (rc == 0)
        l->src[l->n_src - 1].timeout_ms = timeout_ms;
    return rc;
}

int vf_loop_add_fd(struct vf_loop *l, const char *name, int fd, short events,
                   int (*on_fd)(void *arg, int fd, short revents), void *arg)
{
    if (l->n_src == VF_LOOP_MAX_SOURCES)
        return -ENOSPC;
    l->src[l->n_src++] = (struct vf_loop_source){
        .name = name, .arg = arg, .fd = fd, .events = events,
        .on_fd = on_fd };
    return 0;
}

int vf_loop_add_timer(struct vf_loop *l, const char *name, unsigned period_ms,
                      void (*fn)(void *arg), void *arg)
{
    struct vf_loop_timer *t;

    if (l->n_tm == VF_LOOP_MAX_TIMERS)
        return -ENOSPC;
    t = &l->tm[l->n_tm++];
    *t = (struct vf_loop_timer){ name, period_ms ? period_ms : 1, fn, arg,
                                 { 0, 0 } };
    clock_gettime(CLOCK_MONOTONIC, &t->next);
    ts_add_ms(&t->next, t->period_ms);
    return 0;
}

void vf_loop_stop(struct vf_loop *l, const char *why)
{
    if (!l->stop && why)
        snprintf(l->stop_why, sizeof(l->stop_why), "%s", why);
    l->stop = true;
}

/* How long poll may wait: until the next timer, at most a second. */
static int poll_timeout(const struct vf_loop *l)
{
    struct timespec now;
    long long wait = 1000;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (unsigned i = 0; i < l->n_tm; i++) {
        long long d = ts_diff_ms(&l->tm[i].next, &now);
        if (d < wait)
            wait = d < 0 ? 0 : d;
    }
    for (unsigned i = 0; i < l->n_src; i++) {
        int d = l->src[i].timeout_ms ? l->src[i].timeout_ms(l->src[i].arg) : -1;
        if (d >= 0 && d < wait)
            wait = d;
    }
    return (int)wait;
}

static void run_timers(struct vf_loop *l)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (unsigned i = 0; i < l->n_tm && !l->stop; i++) {
        struct vf_loop_timer *t = &l->tm[i];
        if (ts_before(&now, &t->next))
            continue;
        t->fn(t->arg);
        ts_add_ms(&t->next, t->period_ms);
        if (ts_before(&t->next, &now)) {      /* late: no catching up */
            t->next = now;
            ts_add_ms(&t->next, t->period_ms);
        }
    }
}

int vf_loop_run(struct vf_loop *l)
{
    struct pollfd pfd[VF_LOOP_MAX_FDS];
    unsigned first[VF_LOOP_MAX_SOURCES], count[VF_LOOP_MAX_SOURCES];
    int rc = 0;

    while (!l->stop && rc == 0) {
        unsigned n = 0;
        for (unsigned i = 0; i < l->n_src; i++) {
            struct vf_loop_source *s = &l->src[i];
            first[i] = n;
            if (s->on_fd) {
                count[i] = n < VF_LOOP_MAX_FDS ? 1 : 0;
                if (count[i])
                    pfd[n] = (struct pollfd){ .fd = s->fd,
                                              .events = s->events };
            } else {
                count[i] = s->fds(s->arg, pfd + n, VF_LOOP_MAX_FDS - n);
            }
            n += count[i];
        }
        int k = poll(pfd, n, poll_timeout(l));
        if (k < 0 && errno != EINTR)
            return -errno;
        for (unsigned i = 0; i < l->n_src && rc == 0; i++) {
            struct vf_loop_source *s = &l->src[i];
            if (k <= 0 && !s->timeout_ms)
                continue;       /* a timed source runs its timers every turn */
            if (s->on_fd) {
                if (count[i] && pfd[first[i]].revents)
                    rc = s->on_fd(s->arg, s->fd, pfd[first[i]].revents);
            } else {
                rc = s->ready(s->arg, pfd + first[i], count[i]);
            }
            if (rc)
                vf_log_error("%s failed: %s", s->name, strerror(-rc));
        }
        if (rc == 0)
            run_timers(l);
    }
    if (rc == 0 && l->stop_why[0])
        vf_log_info("%s: stopping", l->stop_why);
    return rc;
}
