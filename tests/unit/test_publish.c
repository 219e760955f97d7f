/* test_publish.c - lock-free table publication under stress.
 *
 * The management thread (this test's main thread) publishes 100,000+ new
 * table versions while reader threads behave like workers: one
 * rcu_dereference per burst, every packet of the burst handled with that
 * snapshot, a quiescent state between bursts. Each table is filled with its
 * own generation number; a reader that ever sees mixed values inside one
 * table (a half-built or recycled table) fails the test, and under ASan a
 * use after free aborts it. Freed tables are poisoned first so a premature
 * free is caught even without ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include <urcu-qsbr.h>

#include "mgmt/daemon/vf_publish.h"

#define ENTRIES 64
#define BURST 32

/* The test's own tables type: the publisher treats tables as opaque. */
struct vf_tables {
    uint64_t generation;
    uint64_t entry[ENTRIES];
};

static _Atomic uint64_t n_freed;

static void tables_free(struct vf_tables *t)
{
    for (unsigned i = 0; i < ENTRIES; i++)
        t->entry[i] = 0xdeadbeefdeadbeefull;   /* poison */
    t->generation = 0xdeadbeefdeadbeefull;
    free(t);
    atomic_fetch_add(&n_freed, 1);
}

static struct vf_tables *tables_new(uint64_t gen)
{
    struct vf_tables *t = malloc(sizeof(*t));
    t->generation = gen;
    for (unsigned i = 0; i < ENTRIES; i++)
        t->entry[i] = gen;
    return t;
}

struct reader {
    struct vf_publisher *pub;
    _Atomic int *stop;
    uint64_t packets, bursts, inconsistent, went_backwards, last_gen;
    pthread_t th;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    rcu_register_thread();
    while (!atomic_load(r->stop)) {
        struct vf_tables *t = rcu_dereference(r->pub->slot);
        if (t) {
            uint64_t gen = t->generation;
            if (gen < r->last_gen)
                r->went_backwards++;
            r->last_gen = gen;
            /* Every packet of the burst is handled by this one version. */
            for (unsigned p = 0; p < BURST; p++) {
                uint64_t v = t->entry[(p * 7 + r->bursts) % ENTRIES];
                if (v != gen)
                    r->inconsistent++;
                r->packets++;
            }
            r->bursts++;
        }
        rcu_quiescent_state();
    }
    rcu_unregister_thread();
    return NULL;
}

static void run_stress(unsigned n_readers, unsigned n_publish)
{
    struct vf_publisher pub;
    _Atomic int stop = 0;
    struct reader rd[4];
    atomic_store(&n_freed, 0);

    vf_publisher_init(&pub, tables_free);
    vf_publish(&pub, tables_new(1));
    for (unsigned i = 0; i < n_readers; i++) {
        memset(&rd[i], 0, sizeof(rd[i]));
        rd[i].pub = &pub;
        rd[i].stop = &stop;
        assert_int_equal(pthread_create(&rd[i].th, NULL, reader_main, &rd[i]), 0);
    }
    for (unsigned g = 2; g <= n_publish + 1; g++)
        vf_publish(&pub, tables_new(g));
    atomic_store(&stop, 1);
    uint64_t packets = 0;
    for (unsigned i = 0; i < n_readers; i++) {
        pthread_join(rd[i].th, NULL);
        assert_int_equal(rd[i].inconsistent, 0);
        assert_int_equal(rd[i].went_backwards, 0);
        packets += rd[i].packets;
    }
    if (n_readers)
        assert_true(packets > 0);
    assert_int_equal(pub.n_published, n_publish + 1);
    /* Every table but the current one has been freed, exactly once. */
    assert_int_equal(atomic_load(&n_freed), n_publish);
    assert_int_equal(vf_publisher_current(&pub)->generation, n_publish + 1);
    vf_publisher_fini(&pub);
    assert_int_equal(atomic_load(&n_freed), n_publish + 1);
    assert_null(vf_publisher_current(&pub));
}

static void test_publish_stress_100k(void **state)
{
    (void)state;
    run_stress(2, 100000);
}

static void test_publish_no_readers(void **state)
{
    (void)state;
    run_stress(0, 1000);
}

/* A reader that is offline (a sleeping worker) must not block publication. */
static void test_offline_reader_does_not_block(void **state)
{
    (void)state;
    struct vf_publisher pub;
    vf_publisher_init(&pub, tables_free);
    rcu_register_thread();
    rcu_thread_offline();
    for (unsigned g = 1; g <= 100; g++)
        vf_publish(&pub, tables_new(g));
    rcu_thread_online();
    struct vf_tables *t = rcu_dereference(pub.slot);
    assert_int_equal(t->generation, 100);
    rcu_thread_offline();
    vf_publisher_fini(&pub);
    rcu_unregister_thread();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_no_readers),
        cmocka_unit_test(test_offline_reader_does_not_block),
        cmocka_unit_test(test_publish_stress_100k),
    };
    return cmocka_run_group_tests_name("publish", tests, NULL, NULL);
}
