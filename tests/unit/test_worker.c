/* test_worker.c - the worker's set-up and tear-down (pipeline/vf_worker.h).
 *
 * The loop itself is driven by test_daemon, test_logical and test_publish;
 * this file checks what they cannot see: which descriptors init and fini
 * own. A process may start without stdin (a daemon's fds closed), so the
 * kick eventfd may be descriptor 0, and a zeroed worker that was never
 * initialised must not close whatever descriptor 0 is.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "numa/vf_pool.h"
#include "pipeline/vf_worker.h"

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* A worker whose kick eventfd is descriptor 0 closes it at fini. */
static void test_kick_fd_zero_closed(void **state)
{
    (void)state;
    char err[128];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 256, VF_PKT_DEFAULT_DATA_ROOM,
                                          err, sizeof(err));
    assert_non_null(pool);
    struct vf_worker *w = aligned_alloc(64, sizeof(*w));
    assert_non_null(w);
    memset(w, 0, sizeof(*w));
    /* Descriptor 0 goes away for the test (stdin comes back after). */
    int saved = fd_open(0) ? dup(0) : -1;
    if (saved >= 0)
        close(0);
    assert_int_equal(vf_worker_init(w, 0, pool, 64), 0);
    assert_int_equal(w->kick_fd, 0);   /* the lowest free descriptor */
    vf_worker_kick(w);
    vf_worker_fini(w);
    bool leaked = fd_open(0);
    if (saved >= 0) {
        assert_int_equal(dup2(saved, 0), 0);
        close(saved);
    }
    assert_false(leaked);
    assert_int_equal(w->kick_fd, -1);
    free(w);
    vf_pool_destroy(pool);
}

/* A zeroed, never initialised worker (what mgmt's unwind may finish) leaves
 * descriptor 0 alone, and fini twice is harmless. */
static void test_zeroed_fini(void **state)
{
    (void)state;
    struct vf_worker *w = aligned_alloc(64, sizeof(*w));
    assert_non_null(w);
    memset(w, 0, sizeof(*w));
    int opened = -1;
    if (!fd_open(0)) {
        opened = open("/dev/null", O_RDONLY);
        assert_int_equal(opened, 0);
    }
    vf_worker_fini(w);
    vf_worker_fini(w);
    assert_true(fd_open(0));
    if (opened == 0)
        close(0);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kick_fd_zero_closed),
        cmocka_unit_test(test_zeroed_fini),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
