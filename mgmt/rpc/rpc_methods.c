/* rpc_methods.c - the method table of the control socket. */
#include "mgmt/rpc/vf_rpc.h"

const struct vf_ctl_method vf_rpc_methods[] = {
    {"status", vf_rpc_status},
    {"stats", vf_rpc_stats},
    {"flows", vf_rpc_flows},
    {"show", vf_rpc_show},
    {"trace", vf_rpc_trace},
    {"conntrack", vf_rpc_conntrack},
    {"conntrack_flush", vf_rpc_conntrack_flush},
    {"add", vf_rpc_add},
    {"del", vf_rpc_del},
    {"list", vf_rpc_list},
    {"apply", vf_rpc_apply},
    {"capture_start", vf_rpc_capture_start},
    {"capture_status", vf_rpc_capture_status},
    {"capture_stop", vf_rpc_capture_stop},
    {NULL, NULL},
};
