/* attach.c - what each attach type needs in the model (validate_int.h):
 * one row per backend. Adding a backend: its spelling in VF_ATTACH_TYPES
 * (vf_model.h), its row here, its open in mgmt/daemon/ports.c. */
#include <stddef.h>

#include "fabric/vf_port_tap.h"
#include "mgmt/control/validate_int.h"

static const struct vf_attach_rule rules[] = {
    [VF_ATTACH_RING] = { NULL, NULL, 0, NULL, NULL },
    [VF_ATTACH_TAP] = { "attach.name", "the interface name",
                        offsetof(struct vf_model_attach, name),
                        vf_tap_ifname_problem, "tap interface" },
    [VF_ATTACH_VERBS] = { "attach.device", "the RDMA device, e.g. mlx5_0",
                          offsetof(struct vf_model_attach, device), NULL,
                          NULL },
};

#define N_ATTACH (0 VF_ATTACH_TYPES(ONE_))
#define ONE_(id, s) + 1
_Static_assert(sizeof(rules) / sizeof(rules[0]) == N_ATTACH,
               "every attach type has its row");

const struct vf_attach_rule *vf_attach_rule(enum vf_attach_type t)
{
    return (unsigned)t < sizeof(rules) / sizeof(rules[0]) ? &rules[t] : NULL;
}
