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
 * response and the connection is closed. Sockets are non-blocking and no
 * client can stall the management thread or lock the others out:
 *   - a request line must arrive whole within VF_CTL_READ_DEADLINE_MS of
 *     its first byte (a client that sends half a request and stalls is
 *     told so and closed);
 *   - at most VF_CTL_MAX_CLIENTS are connected; when all slots are taken,
 *     a new client takes the slot of the one that has been quiet longest
 *     (told why before it is closed), so an operator can always connect;
 *     only clients whose own request is still being worked on are kept;
 *   - a client gets one answer at a time: the next request line is served
 *     once the previous answer is sent, so a client that does not read its
 *     answers holds at most one of them in memory;
 *   - all clients together buffer at most VF_CTL_MAX_BUFFERED bytes of
 *     unfinished requests.
 * VF_CTL_MAX_REQUEST holds the largest desired-state file `vfabd -c`
 * loads (64 MiB, config.c) as a JSON string, so `vfabctl apply` takes any
 * file `vfabd -c` does.
 *
 * Answers that take long: a handler may call vf_ctl_defer() and return
 * NULL with err->code VF_RPC_DEFERRED; the work goes on elsewhere (a
 * thread), which calls vf_ctl_deferred_ready() when it is done. The
 * management thread then runs the deferred's finish function inside
 * vf_ctl_poll() and sends what it returns. Meanwhile every other client is
 * served; the deferring client's later lines wait for its answer.
 *
 * Descriptors: a client may pass one open file descriptor (SCM_RIGHTS)
 * with a request; the handler of that request takes it with
 * vf_ctl_take_fd() (vfabctl capture passes the pcap file it opened with
 * the user's own rights). A descriptor no handler takes is closed after
 * the request. Send one request at a time when passing one: it goes to
 * the first request line that ends after it arrived.
 *
 * Thread-safety: one management thread calls everything here; handlers
 * and finish functions run on that thread. vf_ctl_deferred_ready() is the
 * one call for any thread.
 */
#ifndef VF_CTL_H
#define VF_CTL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* 64 MiB of YAML as a JSON string: newlines and quotes take two bytes. */
#define VF_CTL_MAX_FILE (64u << 20)
#define VF_CTL_MAX_REQUEST (2u * VF_CTL_MAX_FILE + (1u << 20))
#define VF_CTL_MAX_BUFFERED (2u * VF_CTL_MAX_REQUEST)
#define VF_CTL_MAX_CLIENTS 64
#define VF_CTL_FDS (VF_CTL_MAX_CLIENTS + 2)  /* listener, wake, clients */
#define VF_CTL_TICK_MS 250
#define VF_CTL_READ_DEADLINE_MS 10000
#define VF_CTL_SYSTEM_SOCKET "/run/vfab/vfabd.sock"

/* JSON-RPC error codes */
#define VF_RPC_PARSE_ERROR -32700
#define VF_RPC_INVALID_REQUEST -32600
#define VF_RPC_METHOD_NOT_FOUND -32601
#define VF_RPC_INVALID_PARAMS -32602
#define VF_RPC_INTERNAL_ERROR -32603
#define VF_RPC_REFUSED -32000   /* a valid request the daemon refused */
#define VF_RPC_BUSY -32001      /* no room now (too many clients); try again */
#define VF_RPC_DEFERRED 1       /* not sent: the handler called vf_ctl_defer */

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
 * into pfd (at most max; VF_CTL_FDS always fits), then, after poll, serve
 * what it reported for them (same array, same order). Such a loop must
 * also call vf_ctl_tick every VF_CTL_TICK_MS or so: a client that stalls
 * half-way through a request makes no event, and its read deadline is
 * enforced there. */
unsigned vf_ctl_fds(struct vf_ctl_server *s, struct pollfd *pfd,
                    unsigned max);
int vf_ctl_serve(struct vf_ctl_server *s, const struct pollfd *pfd,
                 unsigned n);
void vf_ctl_tick(struct vf_ctl_server *s);
/* Closes every connection and the listener. Deferred answers still being
 * worked on are waited for, and finished as if their client had left. */
void vf_ctl_close(struct vf_ctl_server *s);        /* accepts NULL */
/* How long a request line may take to arrive (tests shorten it). */
void vf_ctl_set_read_deadline(struct vf_ctl_server *s, unsigned ms);

/* Serves one request line without a socket (the socket path does the
 * same): *out is the malloc'd answer line without its newline. Returns 1
 * when a connection would be closed after it (malformed request), 0 when
 * it would stay open, -ENOMEM. Fuzzers and tests drive the parser here;
 * handlers cannot defer here (vf_ctl_defer returns NULL). */
int vf_ctl_handle_line(const struct vf_ctl_method *methods, void *ctx,
                       const char *line, size_t len, char **out,
                       size_t *out_len);

/* Helper for handlers: fill err and return NULL. */
json_t *vf_rpc_fail(struct vf_rpc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- answers that come later ---- */

struct vf_ctl_deferred;
/* Runs on the management thread once the work is ready: returns the
 * result (new reference) or NULL with err filled, like a handler. gone is
 * true when the client left meanwhile (the answer is then dropped; the
 * function must still release arg). */
typedef json_t *(*vf_ctl_finish_fn)(void *arg, bool gone,
                                    struct vf_rpc_error *err);
/* Only inside a handler called for a socket client: the answer to this
 * request will come from finish(arg, ...). NULL when the request cannot
 * be deferred (vf_ctl_handle_line, out of memory): answer at once then. */
struct vf_ctl_deferred *vf_ctl_defer(vf_ctl_finish_fn finish, void *arg);
/* Any thread, once per deferred: the work is done; wakes vf_ctl_poll. */
void vf_ctl_deferred_ready(struct vf_ctl_deferred *t);

/* Inside a handler: the descriptor passed with this request (the caller
 * owns it now), or -1 when none came. */
int vf_ctl_take_fd(void);

#endif
