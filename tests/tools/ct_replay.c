/* ct_replay.c - vfab's conntrack verdicts for a recorded packet sequence.
 *
 * vfab-ct-replay [--pipeline] [--timeout NAME=MS]... < TRACE
 *
 * TRACE has one packet per line: "T_MS DIR HEX [ANYTHING]", where T_MS is
 * the time the packet was sent (milliseconds, may have a fraction), DIR is
 * A (from the port the security group is on: outbound) or B (toward it:
 * inbound), and HEX the Ethernet frame. Each packet goes through vf_parse
 * and the conntrack of one zone, under the policy of the reference test
 * (tests/integration/t_conntrack_kernel.sh): outbound is allowed and
 * tracked (NEW is committed), inbound only when ESTABLISHED or RELATED;
 * INVALID is dropped both ways. One line out per packet:
 * "accept|drop CT_STATE CAUSE". The trace's own clock drives every timeout,
 * and the table is swept and reclaimed along the way, as workers would.
 *
 * --pipeline: the same policy as a security group in vfab's real pipeline
 * instead of direct conntrack calls: ports A and B on one logical switch
 * (vf_test_logical.h's in-memory fabric, flow cache on), A in a group of
 * an allow-related from-port rule for everything and a to-port
 * allow-related rule that matches nothing (so A's to-port direction denies
 * by default and lets replies in), built by vf_acl_build. Each frame is
 * sent from its side's port with the other port's MAC as destination;
 * accept means it was delivered. The state printed is what vf_ct_peek
 * said just before.
 *
 * Lines starting with '#' are comments, except "# timeout NAME=MS", which
 * sets a timeout as --timeout does (a trace says what it was recorded
 * with). Exit: 0, or 2 on a malformed trace or option.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "numa/vf_drop.h"
#include "pipeline/vf_conntrack.h"
#include "pipeline/vf_parse.h"
#include "tests/unit/vf_test_logical.h"
#include "tests/unit/vf_test_sg.h"

#define LINE_MAX_BYTES 8192

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "NAME=MS" -> *which, *ms; -1 if NAME is no timeout's name. */
static int parse_timeout(const char *arg, unsigned *which, uint32_t *ms)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return -1;
    for (unsigned t = 0; t < VF_CT_TO__COUNT; t++) {
        const char *name = vf_ct_timeout_name(t);
        if (strlen(name) == (size_t)(eq - arg) && !strncmp(arg, name, (size_t)(eq - arg))) {
            *which = t;
            *ms = (uint32_t)strtoul(eq + 1, NULL, 10);
            return 0;
        }
    }
    return -1;
}

/* --pipeline: the fabric of ports A and B (MACs of the test's endpoint
 * veths) and A's security group. */
static struct lt_fabric fab;
static struct vf_model model;
static struct sg_set group;
static const uint8_t mac_a[6] = {0x02, 0x71, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0x71, 0, 0, 0, 0x0b};

static int pipeline_init(const struct vf_ct_config *cfg)
{
    lt_chassis(&model, "hv1", 0xc0000201u, VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(&model, "ref");
    int sw = lt_switch(&model, t, "sw", 71);
    lt_port(&model, t, sw, "A", 0, 0, 0, false);
    lt_port(&model, t, sw, "B", 0, 0, 0, false);
    memcpy(model.tenants[0].switches[0].ports[0].mac, mac_a, 6);
    memcpy(model.tenants[0].switches[0].ports[1].mac, mac_b, 6);
    lt_assign_ids(&model);
    struct sg_rule *r = sg_add(&group, "sw", false, VF_ACL_V_ALLOW_RELATED, 10);
    r->ports[0] = "A";
    r = sg_add(&group, "sw", true, VF_ACL_V_ALLOW_RELATED, 10);
    r->ports[0] = "A";
    r->src[0] = "-";        /* an empty address set: matches nothing */
    if (lt_fabric_init_ct(&fab, &model, true, cfg->max_conns, sg_post, &group))
        return -1;
    for (unsigned k = 0; k < VF_CT_TO__COUNT; k++)
        if (cfg->timeouts_ms[k])
            vf_ct_set_timeout(fab.host[0].ct, k, cfg->timeouts_ms[k]);
    return 0;
}

/* Sends the frame from dir's port; true if the other port got it. */
static bool pipeline_send(uint8_t *frame, uint32_t len, char dir, uint64_t now,
                          struct vf_ct_result *r)
{
    static struct lt_result res;
    memcpy(frame, dir == 'A' ? mac_b : mac_a, 6);
    struct vf_flow_key k;
    struct vf_hdr_offsets o;
    r->state = VF_CT_INVALID;
    r->cause = 0;
    if (vf_parse(frame, len, &k, &o) == VF_DROP_NONE) {
        uint32_t idx;
        const struct vf_dp *dp = vf_tables_find_port(fab.host[0].t, "A", &idx);
        struct vf_ct_pkt p;
        vf_ct_pkt_init(fab.host[0].ct, frame, len, &k, &o, dp->ports[idx].ct_zone, &p);
        vf_ct_peek(fab.host[0].ct, &p, now, r);
    }
    fab.now = now;
    if (lt_send(&fab, dir == 'A' ? "A" : "B", frame, len, &res))
        return false;
    return lt_find(&res, dir == 'A' ? "B" : "A") != NULL;
}

int main(int argc, char **argv)
{
    struct vf_ct_config cfg = {.max_conns = 100000};
    bool pipeline = false;
    for (int i = 1; i < argc; i++) {
        unsigned t;
        uint32_t ms;
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc &&
            parse_timeout(argv[i + 1], &t, &ms) == 0) {
            cfg.timeouts_ms[t] = ms;
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--pipeline")) {
            pipeline = true;
            continue;
        }
        fprintf(stderr, "usage: %s [--pipeline] [--timeout NAME=MS]... < TRACE\n", argv[0]);
        return 2;
    }
    struct vf_ct *ct = NULL;
    struct vf_ct_worker w;
    if (pipeline) {
        if (pipeline_init(&cfg)) {
            fprintf(stderr, "vfab-ct-replay: pipeline setup failed\n");
            return 2;
        }
        ct = fab.host[0].ct;
    } else {
        ct = vf_ct_create(&cfg);
        if (!ct || vf_ct_worker_init(&w, ct, 0, 1)) {
            perror("vf_ct_create");
            return 2;
        }
    }
    rcu_register_thread();
    static char line[LINE_MAX_BYTES];
    static uint8_t frame[LINE_MAX_BYTES / 2];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), stdin)) {
        lineno++;
        if (line[0] == '#') {
            unsigned t;
            uint32_t ms;
            if (!strncmp(line, "# timeout ", 10)) {
                line[strcspn(line, "\n")] = 0;
                if (parse_timeout(line + 10, &t, &ms) || vf_ct_set_timeout(ct, t, ms)) {
                    fprintf(stderr, "line %u: bad timeout '%s'\n", lineno, line + 10);
                    rc = 2;
                    break;
                }
            }
            continue;
        }
        double t_ms;
        char dir;
        int off = 0;
        if (sscanf(line, "%lf %c %n", &t_ms, &dir, &off) != 2 || (dir != 'A' && dir != 'B')) {
            fprintf(stderr, "line %u: expected 'T_MS A|B HEX'\n", lineno);
            rc = 2;
            break;
        }
        uint32_t len = 0;
        for (const char *h = line + off; hexval(h[0]) >= 0 && hexval(h[1]) >= 0; h += 2)
            frame[len++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
        uint64_t now = (uint64_t)t_ms;
        if (pipeline) {
            struct vf_ct_result pr;
            bool ok = pipeline_send(frame, len, dir, now, &pr);
            printf("%s %s %s\n", ok ? "accept" : "drop", vf_ct_state_name(pr.state),
                   vf_ct_cause_name(pr.cause));
            vf_ct_sweep(&fab.host[0].w->ct, now, 16);
            if (lineno % 64 == 0)
                vf_ct_reclaim(ct);
            continue;
        }
        struct vf_flow_key k;
        struct vf_hdr_offsets o;
        struct vf_ct_pkt p;
        struct vf_ct_result r = {.state = VF_CT_INVALID};
        bool accept = false;
        if (vf_parse(frame, len, &k, &o) == VF_DROP_NONE) {
            vf_ct_pkt_init(ct, frame, len, &k, &o, 1, &p);
            vf_ct_lookup(&w, &p, now, &r);
            if (dir == 'A')
                accept = r.state == VF_CT_NEW || r.state == VF_CT_ESTABLISHED ||
                         r.state == VF_CT_RELATED;
            else
                accept = r.state == VF_CT_ESTABLISHED || r.state == VF_CT_RELATED;
            if (accept && r.state == VF_CT_NEW && vf_ct_commit(&w, &p, now, &r) != VF_DROP_NONE)
                accept = false;
        }
        printf("%s %s %s\n", accept ? "accept" : "drop", vf_ct_state_name(r.state),
               vf_ct_cause_name(r.cause));
        /* What a worker's loop and mgmt would do between bursts. */
        vf_ct_sweep(&w, now, 16);
        if (lineno % 64 == 0)
            vf_ct_reclaim(ct);
    }
    rcu_unregister_thread();
    if (pipeline) {
        lt_fabric_fini(&fab);
        lt_model_free(&model);
        return rc;
    }
    vf_ct_worker_fini(&w);
    vf_ct_destroy(ct);
    return rc;
}
