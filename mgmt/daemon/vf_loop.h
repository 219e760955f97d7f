/* vf_loop.h - the management thread's event loop.
 *
 * What: one poll() loop over registered descriptors and timers. vfabd
 * registers the control socket, the signals, the capture drain, the
 * metrics refresh, the lost-port report, the demo's live view and, with
 * --store, the etcd client (a timed source: its fds and its own timers);
 * later sources (vhost-user sockets) register the same way, so nothing on
 * the management thread waits on anything but this poll.
 *
 * Sources: a source hands its descriptors to the loop before each poll
 * (fds) and serves what poll reported (ready), so one source may watch
 * many descriptors that come and go (the control socket's clients). A
 * source that watches one fixed descriptor uses vf_loop_add_fd. A timed
 * source (vf_loop_add_timed_source) also says how long poll may wait for
 * it, and its ready() runs every turn, fds ready or not.
 *
 * Timers: each runs every period_ms, at most once per loop turn, never
 * early; a turn that ran late does not make a timer catch up (it runs
 * once and is rescheduled a period later). A poll waits at most until
 * the next timer is due.
 *
 * Signals: vf_loop_block_signals() blocks, in the calling thread and so in
 * every thread it starts afterwards, the signals vfabd handles; the loop
 * then reads them from a signalfd. One table in loop.c decides what each
 * does: SIGHUP is logged and ignored (vfabd logs to stderr or syslog, so
 * there is no file to reopen); every other signal whose default would
 * kill the process (INT, TERM, QUIT, USR1, USR2, ALRM, ...) stops the loop
 * as TERM does, so vfabd unwinds, removes its socket file and exits 0.
 * SIGPIPE is ignored (a client that hangs up is a socket error, not a
 * death).
 *
 * Errors: a source's ready() returning -errno stops the loop with that
 * error (vf_loop_run returns it); a timer cannot fail the loop.
 *
 * Thread-safety: one thread (the management thread) calls everything
 * here, callbacks included; vf_loop_stop may also be called from a
 * callback.
 */
#ifndef VF_LOOP_H
#define VF_LOOP_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#define VF_LOOP_MAX_SOURCES 16
#define VF_LOOP_MAX_TIMERS 16
#define VF_LOOP_MAX_FDS 256

struct vf_loop_source {
    const char *name;
    /* Fills pfd (at most max) with the descriptors to wait on. */
    unsigned (*fds)(void *arg, struct pollfd *pfd, unsigned max);
    /* Serves what poll reported for those; 0, or -errno to stop the loop. */
    int (*ready)(void *arg, const struct pollfd *pfd, unsigned n);
    /* Timed sources (vf_loop_add_timed_source): how long poll may wait for
     * them (-1: no limit); their ready() then runs every turn, fds ready or
     * not (the etcd client's own timers). NULL for the others. */
    int (*timeout_ms)(void *arg);
    void *arg;
    /* One fixed descriptor (vf_loop_add_fd); fds/ready then unused. */
    int fd;
    short events;
    int (*on_fd)(void *arg, int fd, short revents);
};

struct vf_loop_timer {
    const char *name;
    unsigned period_ms;
    void (*fn)(void *arg);
    void *arg;
    struct timespec next;
};

struct vf_loop {
    struct vf_loop_source src[VF_LOOP_MAX_SOURCES];
    unsigned n_src;
    struct vf_loop_timer tm[VF_LOOP_MAX_TIMERS];
    unsigned n_tm;
    int sig_fd;                 /* -1: signals not watched */
    bool stop;
    int stop_signal;            /* the signal that stopped it, or 0 */
    char stop_why[64];
};

/* Blocks the signals the loop handles in the calling thread (call it
 * before starting threads, so they inherit the mask) and ignores SIGPIPE.
 * 0 or -errno. */
int vf_loop_block_signals(void);

/* An empty loop; with watch_signals, also the signalfd for the signals
 * vf_loop_block_signals blocked. 0 or -errno. */
int vf_loop_init(struct vf_loop *l, bool watch_signals);
void vf_loop_fini(struct vf_loop *l);

/* 0, or -ENOSPC when the table is full. */
int vf_loop_add_source(struct vf_loop *l, const char *name,
                       unsigned (*fds)(void *, struct pollfd *, unsigned),
                       int (*ready)(void *, const struct pollfd *, unsigned),
                       void *arg);
int vf_loop_add_timed_source(struct vf_loop *l, const char *name,
                             unsigned (*fds)(void *, struct pollfd *, unsigned),
                             int (*ready)(void *, const struct pollfd *, unsigned),
                             int (*timeout_ms)(void *), void *arg);
int vf_loop_add_fd(struct vf_loop *l, const char *name, int fd, short events,
                   int (*on_fd)(void *arg, int fd, short revents), void *arg);
int vf_loop_add_timer(struct vf_loop *l, const char *name, unsigned period_ms,
                      void (*fn)(void *arg), void *arg);

/* Runs until vf_loop_stop or a stop signal (0), or a source fails
 * (-errno). */
int vf_loop_run(struct vf_loop *l);
/* Makes vf_loop_run return after the current turn; why is logged. */
void vf_loop_stop(struct vf_loop *l, const char *why);

/* What the loop does with signal sig: "stop", "ignore" (logged), or
 * NULL when it does not handle it. */
const char *vf_loop_signal_action(int sig);

#endif
