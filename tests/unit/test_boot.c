/* test_boot.c - the state vfabd starts from (vf_boot_state) and the
 * `local` rule (vf_local_check), mgmt/daemon/vf_apply.h.
 *
 * Each case is one of the hostile pass's restart defects (redteam #12,
 * #14, #15) and fails on the code before vf_apply: a missing or broken -c
 * seed with a good saved state starts from the saved state; a dangling
 * state.json symlink is refused and left as it is; a missing state
 * directory gets a message that says what to do; a first start seeds;
 * `local` comes from -c at start and an apply that changes it is refused
 * with the one way to change it. Also the store revision round trip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_state.h"

static const char FABRIC[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2}\n"
"tenants:\n"
"  - name: blue\n"
"    switches: [{name: web, vni: 100, ports: [{name: a, mac: \"02:00:00:00:00:0a\", chassis: hv1}]}]\n";

struct dirs {
    char root[64], sd[96], seed[96], state[128];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* The seed: FABRIC plus local with `workers`. */
static void write_seed(struct dirs *d, const char *workers, const char *chassis)
{
    char text[2048];
    snprintf(text, sizeof(text), "%slocal: {chassis: %s, workers: %s}\n",
             FABRIC, chassis, workers);
    write_file(d->seed, text);
}

/* A saved state: FABRIC plus a tenant the seed lacks (so the tests can
 * tell which one they got), local workers 1. */
static void write_state(struct dirs *d)
{
    char text[2048], err[512];
    struct vf_model m;
    snprintf(text, sizeof(text), "%s  - name: green\nlocal: {chassis: hv1, "
             "workers: 1}\n", FABRIC);
    if (vf_config_load_string(text, strlen(text), &m, err, sizeof(err)))
        fail_msg("state model: %s", err);
    if (vf_state_save(d->sd, &m, err, sizeof(err)))
        fail_msg("save: %s", err);
    vf_model_free(&m);
}

static int setup(void **state)
{
    struct dirs *d = calloc(1, sizeof(*d));
    snprintf(d->root, sizeof(d->root), "/tmp/vf-boot-XXXXXX");
    if (!mkdtemp(d->root))
        return -1;
    snprintf(d->sd, sizeof(d->sd), "%s/sd", d->root);
    snprintf(d->seed, sizeof(d->seed), "%s/seed.yaml", d->root);
    snprintf(d->state, sizeof(d->state), "%s/%s", d->sd, VF_STATE_FILE);
    mkdir(d->sd, 0700);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct dirs *d = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", d->root);
    if (system(cmd) != 0)
        return -1;
    free(d);
    return 0;
}

static void test_first_start_seeds(void **state)
{
    struct dirs *d = *state;
    struct vf_change c;
    char err[1024];

    write_seed(d, "2", "hv1");
    assert_int_equal(vf_boot_state(d->seed, NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(c.origin, VF_ORIGIN_FILE);
    vf_model_free(&c.model);
    /* An existing, empty state directory: a first start, from the seed,
     * saved by the first apply (not durable yet). */
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)), 0);
    assert_int_equal(c.origin, VF_ORIGIN_FILE);
    assert_false(c.durable);
    assert_int_equal(c.model.n_tenants, 1);
    vf_model_free(&c.model);
}

static void test_missing_dir(void **state)
{
    struct dirs *d = *state;
    struct vf_change c;
    char err[1024], dir[128];

    write_seed(d, "2", "hv1");
    snprintf(dir, sizeof(dir), "%s/not-there", d->root);
    assert_int_equal(vf_boot_state(d->seed, dir, &c, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "does not exist"));
    assert_non_null(strstr(err, "mkdir"));
}

/* redteam #15: an unmounted state disk must not be reseeded. */
static void test_dangling_symlink(void **state)
{
    struct dirs *d = *state;
    struct vf_change c;
    char err[1024], target[128], got[128];
    struct stat st;

    write_seed(d, "2", "hv1");
    snprintf(target, sizeof(target), "%s/unmounted/state.json", d->root);
    assert_int_equal(symlink(target, d->state), 0);
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)),
                     -ENOLINK);
    assert_non_null(strstr(err, "symbolic link"));
    assert_non_null(strstr(err, "mounted"));
    /* Left as it was. */
    assert_int_equal(lstat(d->state, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    ssize_t n = readlink(d->state, got, sizeof(got) - 1);
    assert_true(n > 0);
    got[n] = '\0';
    assert_string_equal(got, target);
}

/* redteam #14: a good saved state wins over a missing or broken seed. */
static void test_bad_seed_good_state(void **state)
{
    struct dirs *d = *state;
    struct vf_change c;
    char err[1024];

    write_state(d);
    /* No seed file at all. */
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)), 0);
    assert_int_equal(c.origin, VF_ORIGIN_STATE);
    assert_true(c.durable);
    assert_int_equal(c.model.n_tenants, 2);
    assert_int_equal(c.model.local.workers.count, 1);   /* the saved local */
    vf_model_free(&c.model);
    /* A seed with a YAML syntax error. */
    write_file(d->seed, "chassis: [unclosed\n");
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)), 0);
    assert_int_equal(c.origin, VF_ORIGIN_STATE);
    assert_int_equal(c.model.n_tenants, 2);
    vf_model_free(&c.model);
    /* Without a saved state the seed's problem is the error. */
    unlink(d->state);
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "YAML syntax error"));
}

/* redteam #12: local comes from -c at start, with the saved fabric. */
static void test_local_from_seed(void **state)
{
    struct dirs *d = *state;
    struct vf_change c;
    char err[1024];

    write_state(d);
    write_seed(d, "2", "hv1");
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)), 0);
    assert_int_equal(c.origin, VF_ORIGIN_STATE);
    assert_int_equal(c.model.n_tenants, 2);             /* saved fabric */
    assert_int_equal(c.model.local.workers.count, 2);   /* seed's local */
    assert_false(c.durable);                            /* saved again */
    vf_model_free(&c.model);
    /* A seed that is invalid in itself is a broken seed: the saved state
     * with its own local (logged). */
    write_seed(d, "2", "hv9");
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)), 0);
    assert_int_equal(c.model.local.workers.count, 1);
    vf_model_free(&c.model);
    /* A valid seed whose local names a chassis the saved fabric lacks is
     * refused at start, saying so. */
    char text[2048];
    snprintf(text, sizeof(text), "%s  - {name: hv3, underlay_ip: 192.0.2.3}\n"
             "local: {chassis: hv3}\n", "chassis:\n"
             "  - {name: hv1, underlay_ip: 192.0.2.1}\n"
             "  - {name: hv2, underlay_ip: 192.0.2.2}\n");
    write_file(d->seed, text);
    assert_int_equal(vf_boot_state(d->seed, d->sd, &c, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "does not fit the saved state"));
    assert_non_null(strstr(err, "hv3"));
}

/* The rule at run time: a change without local keeps the running one; one
 * that changes it names the field and the file to edit. */
static void test_local_rule(void **state)
{
    static struct vf_daemon dm;
    struct vf_model next;
    char err[1024], text[2048];
    bool taken;

    (void)state;
    snprintf(text, sizeof(text), "%slocal: {chassis: hv1, workers: 2}\n",
             FABRIC);
    assert_int_equal(vf_config_load_string(text, strlen(text), &dm.model, err,
                                           sizeof(err)), 0);
    snprintf(dm.config, sizeof(dm.config), "/etc/vfab/state.yaml");

    assert_int_equal(vf_config_load_string(FABRIC, strlen(FABRIC), &next, err,
                                           sizeof(err)), 0);
    assert_int_equal(vf_local_check(&dm, &next, &taken, err, sizeof(err)), 0);
    assert_true(taken);
    assert_int_equal(next.local.workers.count, 2);
    vf_model_free(&next);

    snprintf(text, sizeof(text), "%slocal: {chassis: hv1, workers: 1}\n",
             FABRIC);
    assert_int_equal(vf_config_load_string(text, strlen(text), &next, err,
                                           sizeof(err)), 0);
    assert_int_equal(vf_local_check(&dm, &next, &taken, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "local.workers is this host's own setting: "
                           "edit /etc/vfab/state.yaml and restart vfabd"));
    vf_model_free(&next);
    vf_model_free(&dm.model);
}

static void test_revision_round_trip(void **state)
{
    struct dirs *d = *state;
    struct vf_model m;
    char err[512];
    uint64_t rev = 7;

    write_state(d);
    assert_int_equal(vf_state_load_rev(d->sd, &m, &rev, err, sizeof(err)), 0);
    assert_int_equal(rev, 0);                 /* written without one */
    assert_int_equal(vf_state_save_rev(d->sd, &m, 18446744073709551615ull, err,
                                       sizeof(err)), 0);
    vf_model_free(&m);
    assert_int_equal(vf_state_load_rev(d->sd, &m, &rev, err, sizeof(err)), 0);
    assert_true(rev == 18446744073709551615ull);
    vf_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_start_seeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_seed_good_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_from_seed, setup, teardown),
        cmocka_unit_test(test_local_rule),
        cmocka_unit_test_setup_teardown(test_revision_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
