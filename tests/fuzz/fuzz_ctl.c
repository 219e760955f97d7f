/* fuzz_ctl.c - libFuzzer target for the control socket's request handler.
 *
 * Each input is split at newlines into request lines, as the socket does,
 * and each line goes through vf_ctl_handle_line() with vfabd's real method
 * table against a real (small) running daemon: the JSON-RPC framing and
 * every handler's parameter checking see arbitrary bytes. Methods that
 * write files (capture_start) are left out of the table, so the fuzzer
 * cannot create or truncate files. Build: cmake -DVF_FUZZ=ON with clang;
 * see docs/fuzzing.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/rpc/vf_ctl.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/control/vf_model.h"
#include "mgmt/rpc/vf_rpc.h"

static const char model_yaml[] =
    "chassis:\n"
    "  - {name: hv1, underlay_ip: 192.0.2.1, encap: geneve}\n"
    "  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan}\n"
    "tenants:\n"
    "  - name: blue\n"
    "    switches:\n"
    "      - name: blue-web\n"
    "        vni: 1001\n"
    "        ports:\n"
    "          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [\"10.0.0.1\"], chassis: hv1, attach: {type: ring}, port_security: true}\n"
    "          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [\"10.0.0.2\"], chassis: hv2, attach: {type: ring}}\n"
    "    routers:\n"
    "      - name: blue-r\n"
    "        ports:\n"
    "          - {name: blue-r-web, switch: blue-web, mac: \"02:00:00:00:ff:01\", cidr: \"10.0.0.254/24\"}\n"
    "    acls:\n"
    "      - {switch: blue-web, direction: to-port, priority: 100, action: drop, match: {proto: tcp, dst_port: 22}}\n"
    "local:\n"
    "  chassis: hv1\n"
    "  workers: 1\n";

static struct vf_daemon g_daemon;
static struct vf_ctl_method g_methods[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct vf_model m = {0};
    struct vf_daemon_opts o = {.pool_bufs = 1024, .ring_size = 64,
                               .flow_cache_entries = 1024, .idle_polls = 16};
    char err[1024];
    (void)argc;
    (void)argv;
    if (vf_config_load_string(model_yaml, sizeof(model_yaml) - 1, &m, err,
                              sizeof(err)) ||
        vf_daemon_start(&g_daemon, &m, &o, err, sizeof(err))) {
        fprintf(stderr, "fuzz_ctl: cannot start the daemon: %s\n", err);
        abort();
    }
    unsigned n = 0;
    for (const struct vf_ctl_method *k = vf_rpc_methods; k->name; k++)
        if (strncmp(k->name, "capture_start", 13) && n + 1 < 32)
            g_methods[n++] = *k;
    g_methods[n] = (struct vf_ctl_method){NULL, NULL};
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        if (i > start) {
            char *out;
            size_t out_len;
            int rc = vf_ctl_handle_line(g_methods, &g_daemon,
                                        (const char *)data + start, i - start,
                                        &out, &out_len);
            /* Every answer is one JSON line (no raw newline inside). */
            if (rc >= 0 && (!out || memchr(out, '\n', out_len)))
                abort();
            free(out);
            if (rc == 1)
                break;   /* the server would close the connection here */
        }
        start = i + 1;
    }
    return 0;
}
