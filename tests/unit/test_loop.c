/* test_loop.c - the management loop (mgmt/daemon/vf_loop.h): timers run
 * on time and never catch up, sources see only their descriptors, a
 * failing source stops the loop with its error, and the signal table does
 * what vf_loop.h says (HUP ignored, USR1/TERM/... stop, SEGV not handled).
 * No timing thresholds: counts and orders only.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/daemon/vf_loop.h"

struct ticks {
    struct vf_loop *l;
    unsigned n, stop_at;
};

static void tick(void *arg)
{
    struct ticks *t = arg;
    if (++t->n == t->stop_at)
        vf_loop_stop(t->l, "enough ticks");
}

static void test_timers(void **state)
{
    struct vf_loop l;
    struct ticks fast = { &l, 0, 5 }, slow = { &l, 0, 0 };

    (void)state;
    assert_int_equal(vf_loop_init(&l, false), 0);
    assert_int_equal(vf_loop_add_timer(&l, "fast", 1, tick, &fast), 0);
    assert_int_equal(vf_loop_add_timer(&l, "slow", 3600 * 1000, tick, &slow),
                     0);
    assert_int_equal(vf_loop_run(&l), 0);
    assert_int_equal(fast.n, 5);
    assert_int_equal(slow.n, 0);           /* never early */
    assert_string_equal(l.stop_why, "enough ticks");
    vf_loop_fini(&l);
}

struct pipe_src {
    int fds[2];
    unsigned reads;
    struct vf_loop *l;
};

static int on_pipe(void *arg, int fd, short revents)
{
    struct pipe_src *p = arg;
    char c;

    assert_true(revents & POLLIN);
    assert_int_equal(read(fd, &c, 1), 1);
    if (++p->reads == 3)
        vf_loop_stop(p->l, "read three");
    else
        assert_int_equal(write(p->fds[1], "x", 1), 1);
    return 0;
}

static unsigned multi_fds(void *arg, struct pollfd *pfd, unsigned max)
{
    struct pipe_src *p = arg;
    assert_true(max >= 1);
    pfd[0] = (struct pollfd){ .fd = p->fds[0], .events = POLLIN };
    return 1;
}

static int multi_ready(void *arg, const struct pollfd *pfd, unsigned n)
{
    (void)arg;
    assert_int_equal(n, 1);
    return pfd[0].revents ? -EPROTO : 0;
}

static void test_sources(void **state)
{
    struct vf_loop l;
    struct pipe_src p = { .l = &l }, q = { .l = &l };

    (void)state;
    assert_int_equal(pipe(p.fds), 0);
    assert_int_equal(pipe(q.fds), 0);
    assert_int_equal(vf_loop_init(&l, false), 0);
    assert_int_equal(vf_loop_add_fd(&l, "pipe", p.fds[0], POLLIN, on_pipe, &p),
                     0);
    assert_int_equal(write(p.fds[1], "x", 1), 1);
    assert_int_equal(vf_loop_run(&l), 0);
    assert_int_equal(p.reads, 3);

    /* A source that fails stops the loop with its error. */
    l.stop = false;
    assert_int_equal(vf_loop_add_source(&l, "failing", multi_fds, multi_ready,
                                        &q), 0);
    assert_int_equal(write(q.fds[1], "x", 1), 1);
    assert_int_equal(vf_loop_run(&l), -EPROTO);
    vf_loop_fini(&l);
    for (int i = 0; i < 2; i++) {
        close(p.fds[i]);
        close(q.fds[i]);
    }
}

static void test_signal_table(void **state)
{
    (void)state;
    assert_string_equal(vf_loop_signal_action(SIGHUP), "ignore");
    const int stop[] = { SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2,
                                SIGALRM, SIGXCPU, SIGRTMIN, SIGRTMAX };
    for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
        assert_string_equal(vf_loop_signal_action(stop[i]), "stop");
    assert_null(vf_loop_signal_action(SIGSEGV));
    assert_null(vf_loop_signal_action(SIGCHLD));
    assert_null(vf_loop_signal_action(SIGPIPE));   /* ignored outright */
}

/* Signals reach the loop through its signalfd: HUP is logged and changes
 * nothing, USR1 stops it like TERM, and SIGPIPE no longer kills. */
static void test_signals(void **state)
{
    struct vf_loop l;
    struct ticks t = { &l, 0, 1000000 };

    (void)state;
    assert_int_equal(vf_loop_block_signals(), 0);
    assert_int_equal(vf_loop_init(&l, true), 0);
    assert_int_equal(vf_loop_add_timer(&l, "tick", 1, tick, &t), 0);
    assert_int_equal(raise(SIGPIPE), 0);
    assert_int_equal(raise(SIGHUP), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(vf_loop_run(&l), 0);
    assert_int_equal(l.stop_signal, SIGUSR1);
    assert_string_equal(l.stop_why, "SIGUSR1");

    l.stop = false;
    l.stop_why[0] = '\0';
    assert_int_equal(raise(SIGHUP), 0);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(vf_loop_run(&l), 0);
    assert_int_equal(l.stop_signal, SIGTERM);
    vf_loop_fini(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_sources),
        cmocka_unit_test(test_signal_table),
        cmocka_unit_test(test_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
