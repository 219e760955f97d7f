/* vf_ctl_client.h - the client end of the control socket (vfabctl).
 *
 * What: connecting, and one request and its answer, with messages that
 * say what happened and what to do: no daemon at the path (start one),
 * permission denied (the socket's owner and group, and how to join the
 * group), no answer in time. A server that refuses a connection (busy)
 * sends its reason and closes; the request that fails to go out then is
 * reported with that reason, not with the send error ("Broken pipe").
 * A request may pass one open file descriptor (SCM_RIGHTS) to vfabd.
 *
 * Thread-safety: one caller; nothing shared.
 */
#ifndef VF_CTL_CLIENT_H
#define VF_CTL_CLIENT_H

#include <stddef.h>

#include <jansson.h>

/* The connected socket, or -errno with err filled. */
int vf_ctl_client_connect(const char *path, char *err, size_t errlen);

/* Sends {"jsonrpc", "id", "method", "params"} (params borrowed) with
 * pass_fd attached when >= 0, and waits up to timeout_ms for the answer.
 * Returns the answer (new reference; it may hold "error"), or NULL with
 * err filled when none came. */
json_t *vf_ctl_client_call(int fd, const char *method, json_t *params,
                           int pass_fd, int timeout_ms, char *err,
                           size_t errlen);

#endif
