/* ctl_server.c - JSON-RPC 2.0 over a Unix socket, one line per message.
 *
 * Everything runs on the management thread in a poll() loop with
 * non-blocking sockets. Bounds: VF_CTL_MAX_CLIENTS connections, a request
 * line of at most VF_CTL_MAX_REQUEST bytes, at most VF_CTL_MAX_PENDING
 * bytes of unsent output per client (see vf_ctl.h for why).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mgmt/rpc/vf_ctl.h"

struct ctl_client {
    int fd;
    char *in;          /* bytes received, not yet a full line */
    size_t in_len, in_cap;
    char *out;         /* bytes to send */
    size_t out_len, out_off, out_cap;
    int closing;       /* close once `out` is sent */
};

struct vf_ctl_server {
    int listen_fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const struct vf_ctl_method *methods;
    void *ctx;
    struct ctl_client clients[VF_CTL_MAX_CLIENTS];
    /* What vf_ctl_fds handed out: pfd[k] is client poll_idx[k] (-1: the
     * listener), for the vf_ctl_serve that follows. */
    int poll_idx[VF_CTL_MAX_CLIENTS + 1];
    unsigned n_polled;
};

json_t *vf_rpc_fail(struct vf_rpc_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return NULL;
}

static void client_reset(struct ctl_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

struct vf_ctl_server *vf_ctl_open(const char *path,
                                  const struct vf_ctl_method *methods,
                                  void *ctx, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "control socket path '%s' is too long (max %zu bytes)",
                 path, sizeof(sa.sun_path) - 1);
        return NULL;
    }
    strcpy(sa.sun_path, path);

    struct vf_ctl_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->methods = methods;
    s->ctx = ctx;
    snprintf(s->path, sizeof(s->path), "%s", path);
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++)
        s->clients[i].fd = -1;

    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto fail_errno;

    /* A socket file may be left by a crashed vfabd; refuse only if a live
     * server still answers on it. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            snprintf(err, errlen,
                     "control socket %s is in use by a running vfabd; stop it "
                     "or choose another path with -s", path);
            goto fail;
        }
        close(probe);
    }
    unlink(path);

    mode_t old = umask(0117);   /* srw-rw----: owner and group only */
    int rc = bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0)
        goto fail_errno;
    if (chmod(path, 0660) < 0 || listen(s->listen_fd, 64) < 0)
        goto fail_errno;
    return s;

fail_errno:
    snprintf(err, errlen, "control socket %s: %s (check the directory exists "
             "and is writable, or choose another path with -s)",
             path, strerror(errno));
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s);
    return NULL;
}

void vf_ctl_close(struct vf_ctl_server *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++)
        client_reset(&s->clients[i]);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    free(s);
}

static int buf_append(char **buf, size_t *len, size_t *cap, const char *d,
                      size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n)
            nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, d, n);
    *len += n;
    return 0;
}

static void client_send_json(struct ctl_client *c, json_t *msg)
{
    char *txt = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!txt) {
        c->closing = 1;
        return;
    }
    size_t n = strlen(txt);
    if (c->out_len - c->out_off + n + 1 > VF_CTL_MAX_PENDING ||
        buf_append(&c->out, &c->out_len, &c->out_cap, txt, n) < 0 ||
        buf_append(&c->out, &c->out_len, &c->out_cap, "\n", 1) < 0) {
        /* A client that does not read its answers is dropped. */
        c->closing = 2;
    }
    free(txt);
}

static json_t *error_msg(json_t *id, int code, const char *msg)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                     id ? id : json_null(), "error", "code", code,
                     "message", msg);
}

static void send_error(struct ctl_client *c, json_t *id, int code,
                       const char *msg)
{
    client_send_json(c, error_msg(id, code, msg));
}

/* The answer to one request line; *close_after set when the connection
 * must close after it (a malformed request). NULL only when out of memory. */
static json_t *dispatch(const struct vf_ctl_method *methods, void *ctx,
                        const char *line, size_t len, int *close_after)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr), *ans;
    *close_after = 1;
    if (!req) {
        char m[300];
        snprintf(m, sizeof(m), "parse error: %s (at byte %d)", jerr.text,
                 jerr.position);
        return error_msg(NULL, VF_RPC_PARSE_ERROR, m);
    }
    json_t *id = json_object_get(req, "id");
    const char *ver = json_string_value(json_object_get(req, "jsonrpc"));
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *params = json_object_get(req, "params");
    if (!json_is_object(req) || !ver || strcmp(ver, "2.0") || !method ||
        (params && !json_is_object(params) && !json_is_array(params))) {
        ans = error_msg(id, VF_RPC_INVALID_REQUEST,
                        "invalid request: want {\"jsonrpc\":\"2.0\", \"id\":..., "
                        "\"method\":\"...\", \"params\":{...}}");
        json_decref(req);
        return ans;
    }
    const struct vf_ctl_method *m = methods;
    while (m->name && strcmp(m->name, method))
        m++;
    if (!m->name) {
        char msg[256];
        snprintf(msg, sizeof(msg), "unknown method '%.100s' (try 'vfabctl --help')",
                 method);
        ans = error_msg(id, VF_RPC_METHOD_NOT_FOUND, msg);
        json_decref(req);
        return ans;
    }
    *close_after = 0;
    json_t *empty = NULL;
    if (!params)
        params = empty = json_object();
    struct vf_rpc_error err = {VF_RPC_INTERNAL_ERROR, "internal error"};
    json_t *result = m->fn(ctx, params, &err);
    json_decref(empty);
    if (result)
        ans = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                        id ? id : json_null(), "result", result);
    else
        ans = error_msg(id, err.code, err.message);
    json_decref(req);
    return ans;
}

static int handle_line(struct vf_ctl_server *s, struct ctl_client *c,
                       const char *line, size_t len)
{
    int close_after;
    json_t *ans = dispatch(s->methods, s->ctx, line, len, &close_after);
    if (ans)
        client_send_json(c, ans);
    if (!ans || close_after)
        c->closing = 1;
    return 1;
}

int vf_ctl_handle_line(const struct vf_ctl_method *methods, void *ctx,
                       const char *line, size_t len, char **out,
                       size_t *out_len)
{
    int close_after;
    json_t *ans = dispatch(methods, ctx, line, len, &close_after);
    char *txt = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
    json_decref(ans);
    *out = NULL;
    *out_len = 0;
    if (!txt)
        return -ENOMEM;
    *out_len = strlen(txt);
    *out = txt;
    return close_after;
}

static int client_read(struct vf_ctl_server *s, struct ctl_client *c)
{
    char buf[65536];
    int served = 0;
    for (int rounds = 0; rounds < 64 && !c->closing; rounds++) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n == 0) {
            c->closing = 2;     /* peer closed: nothing more to send */
            break;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                c->closing = 2;
            break;
        }
        if (buf_append(&c->in, &c->in_len, &c->in_cap, buf, (size_t)n) < 0) {
            c->closing = 2;
            break;
        }
        /* Serve every complete line. */
        size_t start = 0;
        for (size_t i = 0; i < c->in_len && !c->closing; i++) {
            if (c->in[i] != '\n')
                continue;
            if (i > start)
                served += handle_line(s, c, c->in + start, i - start);
            start = i + 1;
        }
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
        if (c->in_len > VF_CTL_MAX_REQUEST) {
            char m[128];
            snprintf(m, sizeof(m), "request too large (limit %u bytes)",
                     VF_CTL_MAX_REQUEST);
            send_error(c, NULL, VF_RPC_INVALID_REQUEST, m);
            c->closing = 1;
        }
    }
    return served;
}

static void client_write(struct ctl_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                c->closing = 2;
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
}

unsigned vf_ctl_fds(struct vf_ctl_server *s, struct pollfd *pfd,
                    unsigned max)
{
    unsigned n = 0;

    if (max == 0)
        return 0;
    pfd[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    s->poll_idx[n++] = -1;
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS && n < max; i++) {
        struct ctl_client *c = &s->clients[i];
        if (c->fd < 0)
            continue;
        short ev = c->closing ? 0 : POLLIN;
        if (c->out_len > c->out_off)
            ev |= POLLOUT;
        pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
        s->poll_idx[n++] = (int)i;
    }
    s->n_polled = n;
    return n;
}

int vf_ctl_serve(struct vf_ctl_server *s, const struct pollfd *pfd,
                 unsigned n)
{
    int served = 0;

    if (n > s->n_polled)
        n = s->n_polled;
    for (unsigned k = 1; k < n; k++) {
        struct ctl_client *c = &s->clients[s->poll_idx[k]];
        if (c->fd != pfd[k].fd)
            continue;   /* closed since vf_ctl_fds */
        if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
            served += client_read(s, c);
        if (c->out_len > c->out_off)
            client_write(c);
        if (c->closing == 2 || (c->closing && c->out_len == c->out_off))
            client_reset(c);
    }
    if (n && (pfd[0].revents & POLLIN)) {
        for (unsigned tries = 0; tries < VF_CTL_MAX_CLIENTS; tries++) {
            int fd = accept4(s->listen_fd, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                break;
            unsigned i = 0;
            while (i < VF_CTL_MAX_CLIENTS && s->clients[i].fd >= 0)
                i++;
            if (i == VF_CTL_MAX_CLIENTS) {
                static const char busy[] =
                    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
                    "\"message\":\"too many clients; try again\"}}\n";
                (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
                close(fd);
                continue;
            }
            s->clients[i].fd = fd;
        }
    }
    return served;
}

int vf_ctl_poll(struct vf_ctl_server *s, int timeout_ms)
{
    struct pollfd pfd[VF_CTL_MAX_CLIENTS + 1];
    unsigned n = vf_ctl_fds(s, pfd, VF_CTL_MAX_CLIENTS + 1);
    int rc = poll(pfd, n, timeout_ms);

    if (rc < 0)
        return errno == EINTR ? 0 : -errno;
    return vf_ctl_serve(s, pfd, n);
}
