/* test_topo.c - topology loading and worker placement (numa/vf_topo.h).
 *
 * Synthetic machines (HWLOC_SYNTHETIC) give known shapes to check core ->
 * node mapping and placement; the real machine checks loading and pinning.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "numa/vf_topo.h"

/* Loads a made-up machine; the variable is unset again so later loads see
 * the real one. */
static void load_synth(struct vf_topo *t, const char *shape)
{
    assert_int_equal(setenv("HWLOC_SYNTHETIC", shape, 1), 0);
    int rc = vf_topo_load(t);
    unsetenv("HWLOC_SYNTHETIC");
    assert_int_equal(rc, 0);
    assert_false(t->is_this_system);
}

static void load_real(struct vf_topo *t)
{
    unsetenv("HWLOC_SYNTHETIC");
    unsetenv("HWLOC_XMLFILE");
    assert_int_equal(vf_topo_load(t), 0);
    assert_true(t->is_this_system);
}

static void test_synth_pack_numa_core(void **state)
{
    (void)state;
    struct vf_topo t;
    char d[128];

    load_synth(&t, "pack:2 numa:2 core:4 pu:1");
    assert_int_equal(t.n_cores, 16);
    assert_int_equal(t.n_numa, 4);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(t.cores[i].core, i);
        assert_int_equal(t.cores[i].cpu, i);
        assert_int_equal(t.cores[i].numa_node, i / 4);
        assert_int_equal(vf_topo_cpu_node(&t, i), i / 4);
    }
    assert_int_equal(vf_topo_cpu_node(&t, 16), -1);
    assert_int_equal(vf_topo_cpu_node(&t, -3), -1);
    vf_topo_describe(&t, d, sizeof(d));
    assert_non_null(strstr(d, "16 cores, 4 NUMA nodes"));
    assert_non_null(strstr(d, "not this system"));
    vf_topo_free(&t);
    assert_null(t.cores);
    vf_topo_free(&t); /* a zeroed topology is fine too */
}

static void test_synth_smt(void **state)
{
    (void)state;
    struct vf_topo t;

    load_synth(&t, "numa:2 core:2 pu:2");
    assert_int_equal(t.n_cores, 4);
    assert_int_equal(t.n_numa, 2);
    static const int cpu[] = {0, 2, 4, 6}, node[] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t.cores[i].cpu, cpu[i]);
        assert_int_equal(t.cores[i].numa_node, node[i]);
    }
    /* A hyperthread sibling is a cpu too and maps to its core's node. */
    assert_int_equal(vf_topo_cpu_node(&t, 3), 0);
    assert_int_equal(vf_topo_cpu_node(&t, 5), 1);
    assert_int_equal(vf_topo_cpu_node(&t, 8), -1);
    vf_topo_free(&t);
}

static void test_synth_single_node(void **state)
{
    (void)state;
    struct vf_topo t;

    load_synth(&t, "core:2 pu:1");
    assert_int_equal(t.n_cores, 2);
    assert_int_equal(t.n_numa, 1);
    assert_int_equal(t.cores[0].numa_node, 0);
    assert_int_equal(t.cores[1].numa_node, 0);
    vf_topo_free(&t);
}

static void test_place_auto(void **state)
{
    (void)state;
    struct vf_topo t;
    struct vf_workers_spec s = {.mode = VF_WORKERS_AUTO};
    struct vf_placement pl;
    char err[256];

    /* Many cores: the first is kept for mgmt and the OS. */
    load_synth(&t, "pack:2 numa:2 core:4 pu:1");
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.n_workers, 15);
    assert_int_equal(pl.mgmt_cpu, 0);
    for (int w = 0; w < 15; w++) {
        assert_int_equal(pl.cpu[w], w + 1);
        assert_int_equal(pl.numa_node[w], (w + 1) / 4);
    }
    vf_topo_free(&t);

    /* Two cores: both run workers and mgmt shares. */
    load_synth(&t, "core:2 pu:1");
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.n_workers, 2);
    assert_int_equal(pl.cpu[0], 0);
    assert_int_equal(pl.cpu[1], 1);
    assert_int_equal(pl.mgmt_cpu, -1);
    vf_topo_free(&t);

    /* Three cores is the first shape that keeps one back. */
    load_synth(&t, "core:3 pu:1");
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.n_workers, 2);
    assert_int_equal(pl.mgmt_cpu, 0);
    assert_int_equal(pl.cpu[0], 1);
    assert_int_equal(pl.cpu[1], 2);
    vf_topo_free(&t);
}

static void test_place_count_round_robin(void **state)
{
    (void)state;
    struct vf_topo t;
    struct vf_workers_spec s = {.mode = VF_WORKERS_COUNT};
    struct vf_placement pl;
    char err[256];

    load_synth(&t, "pack:2 numa:2 core:4 pu:1");
    /* One worker per node first, then the second core of each node. */
    s.count = 6;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    static const int cpu6[] = {0, 4, 8, 12, 1, 5};
    static const int node6[] = {0, 1, 2, 3, 0, 1};
    assert_int_equal(pl.n_workers, 6);
    for (int w = 0; w < 6; w++) {
        assert_int_equal(pl.cpu[w], cpu6[w]);
        assert_int_equal(pl.numa_node[w], node6[w]);
    }
    assert_int_equal(pl.mgmt_cpu, 2); /* first core nobody took */

    /* Every core: each node gets exactly four workers. */
    s.count = 16;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.n_workers, 16);
    int per_node[4] = {0}, seen[16] = {0};
    for (int w = 0; w < 16; w++) {
        per_node[pl.numa_node[w]]++;
        seen[pl.cpu[w]]++;
        assert_int_equal(pl.numa_node[w], w % 4);
    }
    for (int k = 0; k < 4; k++)
        assert_int_equal(per_node[k], 4);
    for (int c = 0; c < 16; c++)
        assert_int_equal(seen[c], 1);
    assert_int_equal(pl.mgmt_cpu, -1);
    vf_topo_free(&t);

    load_synth(&t, "numa:2 core:2 pu:2");
    s.count = 3;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.n_workers, 3);
    assert_int_equal(pl.cpu[0], 0);
    assert_int_equal(pl.cpu[1], 4);
    assert_int_equal(pl.cpu[2], 2);
    assert_int_equal(pl.numa_node[2], 0);
    assert_int_equal(pl.mgmt_cpu, 6);
    vf_topo_free(&t);
}

static void test_place_list(void **state)
{
    (void)state;
    struct vf_topo t;
    struct vf_workers_spec s = {.mode = VF_WORKERS_LIST};
    struct vf_placement pl;
    char err[256];

    load_synth(&t, "numa:2 core:2 pu:2");
    s.n_cpus = 3;
    s.cpus[0] = 7;
    s.cpus[1] = 1;
    s.cpus[2] = 4;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.n_workers, 3);
    assert_int_equal(pl.cpu[0], 7);
    assert_int_equal(pl.numa_node[0], 1);
    assert_int_equal(pl.cpu[1], 1);
    assert_int_equal(pl.numa_node[1], 0);
    assert_int_equal(pl.cpu[2], 4);
    assert_int_equal(pl.numa_node[2], 1);
    /* cpu 1 shares core 0, so the first free core is the one at cpu 2. */
    assert_int_equal(pl.mgmt_cpu, 2);
    vf_topo_free(&t);
}

static void test_place_refusals(void **state)
{
    (void)state;
    struct vf_topo t;
    struct vf_workers_spec s;
    struct vf_placement pl;
    char err[256];

    load_synth(&t, "core:2 pu:1");
    memset(&s, 0, sizeof(s));
    s.mode = VF_WORKERS_COUNT;
    s.count = 5;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "workers: 5 requested but this machine has 2 "
                             "cores (cpus 0-1) on 1 NUMA node");
    assert_int_equal(pl.n_workers, 0);

    s.count = 0;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "0 requested"));

    s.mode = VF_WORKERS_LIST;
    s.n_cpus = 2;
    s.cpus[0] = 0;
    s.cpus[1] = 9;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cpu 9"));
    assert_non_null(strstr(err, "2 cores (cpus 0-1)"));

    s.cpus[0] = 1;
    s.cpus[1] = 1;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cpu 1 listed twice"));
    assert_int_equal(pl.n_workers, 0);

    s.n_cpus = 0;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "empty"));

    s.cpus[0] = -1;
    s.n_cpus = 1;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cpu -1"));
    vf_topo_free(&t);

    load_synth(&t, "pack:2 numa:2 core:4 pu:1");
    memset(&s, 0, sizeof(s));
    s.mode = VF_WORKERS_COUNT;
    s.count = 17;
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "workers: 17 requested but this machine has 16 "
                             "cores (cpus 0-15) on 4 NUMA nodes");
    vf_topo_free(&t);
}

static void test_real_system(void **state)
{
    (void)state;
    struct vf_topo t;
    struct vf_workers_spec s = {.mode = VF_WORKERS_AUTO};
    struct vf_placement pl;
    char err[256], d[128];

    load_real(&t);
    assert_true(t.n_cores >= 1);
    assert_true(t.n_numa >= 1);
    for (int i = 0; i < t.n_cores; i++) {
        assert_true(t.cores[i].cpu >= 0);
        assert_int_equal(vf_topo_cpu_node(&t, t.cores[i].cpu),
                         t.cores[i].numa_node);
    }
    assert_int_equal(vf_topo_place(&t, &s, &pl, err, sizeof(err)), 0);
    if (t.n_cores > 2) {
        assert_int_equal(pl.n_workers, t.n_cores - 1);
        assert_int_equal(pl.mgmt_cpu, t.cores[0].cpu);
    } else {
        assert_int_equal(pl.n_workers, t.n_cores);
        assert_int_equal(pl.mgmt_cpu, -1);
    }
    vf_topo_describe(&t, d, sizeof(d));
    assert_non_null(strstr(d, "(this system)"));
    vf_topo_free(&t);
}

struct pin_job {
    const struct vf_topo *t;
    int cpu;
    int rc;
    int ran_on;
};

static void *pin_main(void *arg)
{
    struct pin_job *j = arg;
    j->rc = vf_topo_pin_thread(j->t, j->cpu);
    j->ran_on = sched_getcpu();
    return NULL;
}

/* Pins a fresh thread per core (so the test runner's own affinity is left
 * alone) and checks the kernel runs it there. */
static void test_pin_real(void **state)
{
    (void)state;
    struct vf_topo t;

    load_real(&t);
    for (int i = 0; i < t.n_cores && i < 8; i++) {
        struct pin_job j = {.t = &t, .cpu = t.cores[i].cpu, .rc = 1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, pin_main, &j), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(j.rc, 0);
        assert_int_equal(j.ran_on, t.cores[i].cpu);
    }
    assert_int_equal(vf_topo_pin_thread(&t, 100000), -EINVAL);
    assert_int_equal(vf_topo_pin_thread(&t, -1), -EINVAL);
    vf_topo_free(&t);
}

static void test_pin_synthetic(void **state)
{
    (void)state;
    struct vf_topo t;

    load_synth(&t, "core:2 pu:1");
    assert_int_equal(vf_topo_pin_thread(&t, 0), -ENOTSUP);
    vf_topo_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_pack_numa_core),
        cmocka_unit_test(test_synth_smt),
        cmocka_unit_test(test_synth_single_node),
        cmocka_unit_test(test_place_auto),
        cmocka_unit_test(test_place_count_round_robin),
        cmocka_unit_test(test_place_list),
        cmocka_unit_test(test_place_refusals),
        cmocka_unit_test(test_real_system),
        cmocka_unit_test(test_pin_real),
        cmocka_unit_test(test_pin_synthetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
