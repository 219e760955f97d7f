/* vf_ctl.h - the control socket: JSON-RPC 2.0 over a Unix stream socket.
 *
 * What: vfabd serves `vfabctl` (and scripts) here. Framing: one JSON
 * object per line, both ways. A request is {"jsonrpc":"2.0","id":..,
 * "method":..,"params":{..}}; the answer carries the same id and either
 * "result" or "error" {code, message}.
 *
 * Safety: the socket file is created mode 0660 (owner and group only). A
 * request line longer than VF_CTL_MAX_REQUEST, malformed JSON, a request
 * that is not a JSON-RPC 2.0 object, or an unknown method gets an error
 * response and the connection is closed. At most VF_CTL_MAX_CLIENTS are
 * served at once; sockets are non-blocking, and a client that does not
 * read its answers (output above VF_CTL_MAX_PENDING) is dropped, so no
 * client can stall the management thread.
 *
 * Thread-safety: one management thread calls everything here; handlers run
 * on that thread.
 */
#ifndef VF_CTL_H
#define VF_CTL_H

#include <poll.h>
#include <stddef.h>

#include <jansson.h>

#define VF_CTL_MAX_REQUEST (1u << 20)
#define VF_CTL_MAX_PENDING (16u << 20)
#define VF_CTL_MAX_CLIENTS 64
#define VF_CTL_DEFAULT_SOCKET "/run/vfab/vfabd.sock"

/* JSON-RPC error codes */
#define VF_RPC_PARSE_ERROR -32700
#define VF_RPC_INVALID_REQUEST -32600
#define VF_RPC_METHOD_NOT_FOUND -32601
#define VF_RPC_INVALID_PARAMS -32602
#define VF_RPC_INTERNAL_ERROR -32603
#define VF_RPC_REFUSED -32000   /* a valid request the daemon refused */

struct vf_rpc_error {
    int code;
    char message[1024];
};

/* Returns a new reference to the result, or NULL with err filled. */
typedef json_t *(*vf_ctl_handler)(void *ctx, json_t *params,
                                  struct vf_rpc_error *err);

struct vf_ctl_method {
    const char *name;
    vf_ctl_handler fn;
};

struct vf_ctl_server;

/* Binds and listens at path (removing a stale socket file; refusing if a
 * live server answers there). methods ends with {NULL, NULL}. */
struct vf_ctl_server *vf_ctl_open(const char *path,
                                  const struct vf_ctl_method *methods,
                                  void *ctx, char *err, size_t errlen);
/* Waits up to timeout_ms for activity and serves it. Returns the number of
 * requests answered, or -errno on a fatal listener error. */
int vf_ctl_poll(struct vf_ctl_server *s, int timeout_ms);
/* The same in two halves, for a poll() loop that waits on more (vfabd's
 * mgmt loop, mgmt/daemon/vf_loop.h): the server's descriptors and events
 * into pfd (at most max; VF_CTL_MAX_CLIENTS + 1 always fits), then, after
 * poll, serve what it reported for them (same array, same order). */
unsigned vf_ctl_fds(struct vf_ctl_server *s, struct pollfd *pfd,
                    unsigned max);
int vf_ctl_serve(struct vf_ctl_server *s, const struct pollfd *pfd,
                 unsigned n);
void vf_ctl_close(struct vf_ctl_server *s);        /* accepts NULL */

/* Serves one request line without a socket (the socket path does the
 * same): *out is the malloc'd answer line without its newline. Returns 1
 * when a connection would be closed after it (malformed request), 0 when
 * it would stay open, -ENOMEM. Fuzzers and tests drive the parser here. */
int vf_ctl_handle_line(const struct vf_ctl_method *methods, void *ctx,
                       const char *line, size_t len, char **out,
                       size_t *out_len);

/* Helper for handlers: fill err and return NULL. */
json_t *vf_rpc_fail(struct vf_rpc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
