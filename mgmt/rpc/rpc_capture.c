/* rpc_capture.c - capture_start, capture_status, capture_stop: the RPCs
 * behind `vfabctl capture` (see vf_capture_mgmt.h). capture_start takes the
 * pcap file's descriptor passed with the request and returns as soon as the
 * taps are in place; the client polls capture_status. */
#include <errno.h>
#include <unistd.h>

#include "mgmt/daemon/vf_capture_mgmt.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/rpc/vf_rpc.h"

#define MAX_SECONDS 3600

json_t *vf_rpc_capture_start(void *ctx, json_t *params,
                             struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    const char *port = json_string_value(json_object_get(params, "port"));
    const char *file = json_string_value(json_object_get(params, "file"));
    json_t *jc = json_object_get(params, "count");
    json_t *js = json_object_get(params, "seconds");
    char msg[1024];
    int fd = vf_ctl_take_fd();

    if (!port) {
        if (fd >= 0)
            close(fd);
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: want "
                           "{\"port\": NAME, \"file\"?: NAME FOR MESSAGES, "
                           "\"count\"?: N, \"seconds\"?: S} and the file's "
                           "descriptor passed with the request");
    }
    if (fd < 0)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "capture_start needs "
                           "the pcap file's descriptor passed with the request "
                           "(SCM_RIGHTS): vfabd does not open paths for its "
                           "clients; use vfabctl capture PORT -w FILE, which "
                           "opens FILE with your own rights");
    if ((jc && (!json_is_integer(jc) || json_integer_value(jc) < 0)) ||
        (js && (!json_is_number(js) || json_number_value(js) < 0 ||
                json_number_value(js) > MAX_SECONDS))) {
        close(fd);
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: 'count' "
                           "must be an integer >= 0 and 'seconds' a number "
                           "in 0..%d", MAX_SECONDS);
    }
    uint64_t count = jc ? (uint64_t)json_integer_value(jc) : 0;
    double seconds = js ? json_number_value(js) : 0;
    int rc = vf_capture_start(d, port, fd, file ? file : "(passed file)",
                              count, seconds, msg, sizeof(msg));
    if (rc)
        return vf_rpc_fail(err, rc == -ENOMEM ? VF_RPC_INTERNAL_ERROR :
                           rc == -EINVAL ? VF_RPC_INVALID_PARAMS :
                           VF_RPC_REFUSED, "%s", msg);
    return vf_capture_status(d);
}

json_t *vf_rpc_capture_status(void *ctx, json_t *params,
                              struct vf_rpc_error *err)
{
    (void)ctx;
    (void)params;
    (void)err;
    return vf_capture_status(ctx);
}

json_t *vf_rpc_capture_stop(void *ctx, json_t *params,
                            struct vf_rpc_error *err)
{
    (void)params;
    (void)err;
    vf_capture_stop(ctx);
    return vf_capture_status(ctx);
}
