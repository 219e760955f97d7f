/* test_ct_live.c - local.ct_timeouts and max_connections follow every
 * apply (vf_apply, mgmt/daemon/apply.c), not only vfabd's start (issue 15).
 *
 * Oracle: after each apply of a whole model, the connection table's
 * timeouts are the model's (or the defaults, VF_CT_TIMEOUTS, for a field
 * left out) and each tracked port's zone limit is its max_connections.
 * On the code before this test the table kept the timeouts of the model
 * before the apply (they were read before the swap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_publish.h"

/* Port a is in a security group (tracked: it has a zone); %u is its
 * max_connections, %s local's ct_timeouts line (or ""). */
static const char *yaml =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: web\n"
    "        vni: 100\n"
    "        ports:\n"
    "          - {name: a, mac: '02:00:00:00:00:0a', ips: [10.0.0.10], chassis: hv1,"
    " max_connections: %u}\n"
    "          - {name: b, mac: '02:00:00:00:00:0b', ips: [10.0.0.11], chassis: hv1}\n"
    "    port_groups:\n"
    "      - {name: sg, ports: [a]}\n"
    "    acls:\n"
    "      - {port_group: sg, direction: from-port, priority: 100, action: allow-related}\n"
    "local:\n"
    "  chassis: hv1\n"
    "  workers: 1\n"
    "  uplink: {type: ring}\n"
    "%s";

static struct vf_daemon D;

static void load(struct vf_model *m, unsigned max_conns, const char *timeouts)
{
    char y[2048], err[512];
    snprintf(y, sizeof(y), yaml, max_conns, timeouts);
    memset(m, 0, sizeof(*m));
    if (vf_config_load_string(y, strlen(y), m, err, sizeof(err)))
        fail_msg("config: %s", err);
}

static void apply(unsigned max_conns, const char *timeouts)
{
    struct vf_model m;
    char err[512];
    load(&m, max_conns, timeouts);
    if (vf_daemon_apply(&D, &m, err, sizeof(err)))
        fail_msg("apply: %s", err);
    vf_model_free(&m);
}

/* The zone limit of port `name`, from the tables in force. */
static uint32_t zone_max(const char *name)
{
    const struct vf_tables *t = vf_publisher_current(&D.pub);
    for (uint32_t d = 0; t && d < t->n_dps; d++)
        for (uint32_t i = 0; i < t->dps[d]->n_ports; i++) {
            const struct vf_lport *lp = &t->dps[d]->ports[i];
            if (!strcmp(lp->name, name)) {
                assert_true(lp->ct_zone != 0);
                return vf_ct_zone_get_max(D.ct, lp->ct_zone);
            }
        }
    fail_msg("no port %s in the tables", name);
    return 0;
}

static uint32_t timeout(enum vf_ct_timeout which)
{
    return vf_ct_get_timeout(D.ct, which);
}

static void test_ct_follows_apply(void **state)
{
    (void)state;
    struct vf_model m;
    char err[512];
    struct vf_daemon_opts o = {.pool_bufs = 2048, .ring_size = 256, .idle_polls = 64,
                               .ct_max_conns = 4096};

    load(&m, 100, "  ct_timeouts: {udp_new: 5, tcp_established: 3600}\n");
    if (vf_daemon_start(&D, &m, &o, err, sizeof(err)))
        fail_msg("start: %s", err);
    assert_non_null(D.ct);
    assert_int_equal(timeout(VF_CT_TO_UDP_NEW), 5000);
    assert_int_equal(timeout(VF_CT_TO_TCP_ESTABLISHED), 3600000);
    assert_int_equal(zone_max("a"), 100);
    uint64_t gen = D.generation;

    /* Only a timeout changes: a change of its own, applied at once. */
    apply(100, "  ct_timeouts: {udp_new: 7, tcp_established: 3600}\n");
    assert_true(D.generation > gen);
    assert_int_equal(timeout(VF_CT_TO_UDP_NEW), 7000);
    assert_int_equal(timeout(VF_CT_TO_TCP_ESTABLISHED), 3600000);

    /* A field left out goes back to its default; others untouched. */
    apply(100, "  ct_timeouts: {tcp_established: 60}\n");
    assert_int_equal(timeout(VF_CT_TO_UDP_NEW), 30000);
    assert_int_equal(timeout(VF_CT_TO_TCP_ESTABLISHED), 60000);
    assert_int_equal(timeout(VF_CT_TO_ICMP), 30000);

    /* max_connections with the same apply as a timeout, then alone. */
    apply(20, "  ct_timeouts: {tcp_established: 90}\n");
    assert_int_equal(zone_max("a"), 20);
    assert_int_equal(timeout(VF_CT_TO_TCP_ESTABLISHED), 90000);
    apply(30, "  ct_timeouts: {tcp_established: 90}\n");
    assert_int_equal(zone_max("a"), 30);

    /* No ct_timeouts at all: every default. */
    apply(30, "");
    assert_int_equal(timeout(VF_CT_TO_TCP_ESTABLISHED), 432000000);
    assert_int_equal(timeout(VF_CT_TO_UDP_NEW), 30000);

    /* A model without `local` keeps this host's (and its timeouts). */
    apply(30, "  ct_timeouts: {udp_new: 9}\n");
    load(&m, 40, "");
    m.has_local = false;
    memset(&m.local, 0, sizeof(m.local));
    if (vf_daemon_apply(&D, &m, err, sizeof(err)))
        fail_msg("apply without local: %s", err);
    vf_model_free(&m);
    assert_int_equal(timeout(VF_CT_TO_UDP_NEW), 9000);
    assert_int_equal(zone_max("a"), 40);
    vf_daemon_stop(&D);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_follows_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
