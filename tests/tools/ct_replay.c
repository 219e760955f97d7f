/* ct_replay.c - vfab's conntrack verdicts for a recorded packet sequence.
 *
 * vfab-ct-replay [--timeout NAME=MS]... < TRACE
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

int main(int argc, char **argv)
{
    struct vf_ct_config cfg = {.max_conns = 100000};
    for (int i = 1; i < argc; i++) {
        unsigned t;
        uint32_t ms;
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc &&
            parse_timeout(argv[i + 1], &t, &ms) == 0) {
            cfg.timeouts_ms[t] = ms;
            i++;
            continue;
        }
        fprintf(stderr, "usage: %s [--timeout NAME=MS]... < TRACE\n", argv[0]);
        return 2;
    }
    struct vf_ct *ct = vf_ct_create(&cfg);
    struct vf_ct_worker w;
    if (!ct || vf_ct_worker_init(&w, ct, 0, 1)) {
        perror("vf_ct_create");
        return 2;
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
    vf_ct_worker_fini(&w);
    vf_ct_destroy(ct);
    return rc;
}
