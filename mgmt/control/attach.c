/* attach.c - what each attach type needs in the model (validate_int.h):
 * one row per backend. Adding a backend: its spelling in VF_ATTACH_TYPES
 * (vf_model.h), its row here, its open in mgmt/daemon/ports.c. */
#include <stddef.h>
#include <string.h>

#include "fabric/vf_port_tap.h"
#include "mgmt/control/validate_int.h"

/* A vhost-user socket path: absolute (vfabd's working directory is no
 * one's business), no spaces or control characters (it is quoted in logs
 * and QEMU command lines), a file not a directory. The length (a sun_path)
 * is the field's size. */
static const char *socket_problem(const char *path)
{
    if (path[0] != '/')
        return "is not an absolute path (want e.g. /run/vfab/vm1.sock)";
    if (path[strlen(path) - 1] == '/')
        return "names a directory, not a socket file";
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return "has a space or control character";
    return NULL;
}

static const struct vf_attach_rule rules[] = {
    [VF_ATTACH_RING] = { NULL, NULL, 0, NULL, NULL },
    [VF_ATTACH_TAP] = { "attach.name", "the interface name",
                        offsetof(struct vf_model_attach, name),
                        vf_tap_ifname_problem, "tap interface" },
    [VF_ATTACH_VERBS] = { "attach.device", "the RDMA device, e.g. mlx5_0",
                          offsetof(struct vf_model_attach, device), NULL,
                          NULL },
    [VF_ATTACH_VHOST_USER] = { "attach.socket",
                               "the vhost-user socket path QEMU serves, e.g. "
                               "/run/vfab/vm1.sock",
                               offsetof(struct vf_model_attach, socket),
                               socket_problem, "vhost-user socket" },
};

#define N_ATTACH (0 VF_ATTACH_TYPES(ONE_))
#define ONE_(id, s) + 1
_Static_assert(sizeof(rules) / sizeof(rules[0]) == N_ATTACH,
               "every attach type has its row");

const struct vf_attach_rule *vf_attach_rule(enum vf_attach_type t)
{
    return (unsigned)t < sizeof(rules) / sizeof(rules[0]) ? &rules[t] : NULL;
}
