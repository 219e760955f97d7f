/* ctl_server.c - JSON-RPC 2.0 over a Unix socket, one line per message.
 *
 * Everything runs on the management thread in a poll() loop with
 * non-blocking sockets. The bounds (request size, read deadline, client
 * slots with eviction, one answer at a time, buffered bytes in all) and
 * why they are what they are: vf_ctl.h.
 *
 * A client's input buffer holds in[in_off..in_len): request lines not yet
 * served, then at most one unfinished line. `scanned` remembers how far no
 * newline was found, so a 100 MB line is searched once, not once per read.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/rpc/vf_ctl.h"

#define READ_CHUNK (256u << 10)
#define READ_ROUNDS 64             /* per client per poll turn: 16 MiB */
#define MAX_PASSED_FDS 4           /* received per read; extras are closed */
#define SHRINK_ABOVE (1u << 20)    /* an emptied buffer above this is freed */

struct ctl_client {
    int fd;                        /* -1: a free slot */
    char *in;
    size_t in_off, in_len, in_cap;
    size_t scanned;                /* in[in_off..scanned) has no newline */
    char *out;                     /* the answer being sent */
    size_t out_len, out_off, out_cap;
    int closing;                   /* 1: close once `out` is sent; 2: now */
    int64_t partial_since;         /* ms: the unfinished line's first bytes */
    int64_t last_seen;             /* ms: last bytes either way (eviction) */
    struct vf_ctl_deferred *waiting;   /* its answer comes later */
    int passed_fd;                 /* SCM_RIGHTS, for the next request; -1 */
};

struct vf_ctl_deferred {
    struct ctl_client *c;          /* mgmt: rw; NULL once the client left */
    json_t *id;
    vf_ctl_finish_fn finish;
    void *arg;
    _Atomic bool ready;            /* worker: store (release), mgmt: load (acquire) */
    struct vf_ctl_server *s;
    struct vf_ctl_deferred *next;  /* mgmt only */
};

struct vf_ctl_server {
    int listen_fd;
    int wake_fd;                   /* eventfd: a deferred answer is ready */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const struct vf_ctl_method *methods;
    void *ctx;
    unsigned read_deadline_ms;
    size_t buffered;               /* sum of unserved input, all clients */
    struct vf_ctl_deferred *deferred;  /* outstanding, mgmt only */
    struct ctl_client clients[VF_CTL_MAX_CLIENTS];
    /* What vf_ctl_fds handed out: pfd[k] is client poll_idx[k] (-1: the
     * listener or the wake descriptor), for the vf_ctl_serve that follows. */
    int poll_idx[VF_CTL_FDS];
    unsigned n_polled;
};

/* The request being dispatched on the socket path; mgmt thread only. */
static struct {
    struct vf_ctl_server *s;
    struct ctl_client *c;
    json_t *id;
    struct vf_ctl_deferred *deferred;
} cur;

json_t *vf_rpc_fail(struct vf_rpc_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_reset(struct vf_ctl_server *s, struct ctl_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->passed_fd >= 0)
        close(c->passed_fd);
    if (c->waiting)
        c->waiting->c = NULL;      /* its answer is dropped when ready */
    s->buffered -= c->in_len - c->in_off;
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->passed_fd = -1;
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
    s->read_deadline_ms = VF_CTL_READ_DEADLINE_MS;
    snprintf(s->path, sizeof(s->path), "%s", path);
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++) {
        s->clients[i].fd = -1;
        s->clients[i].passed_fd = -1;
    }
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 || s->wake_fd < 0)
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
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s);
    return NULL;
}

void vf_ctl_set_read_deadline(struct vf_ctl_server *s, unsigned ms)
{
    s->read_deadline_ms = ms;
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
    if (!txt ||
        buf_append(&c->out, &c->out_len, &c->out_cap, txt, strlen(txt)) < 0 ||
        buf_append(&c->out, &c->out_len, &c->out_cap, "\n", 1) < 0)
        c->closing = 2;
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

/* A parse error in words an operator can act on: jansson's own text, but
 * a NUL byte (which JSON strings cannot carry raw) said plainly. */
static void parse_error_text(const json_error_t *e, char *m, size_t mlen)
{
    if (json_error_code(e) == json_error_null_character)
        snprintf(m, mlen, "parse error: the request holds a NUL byte (at byte "
                 "%d); requests are UTF-8 text without NUL bytes (vfabctl "
                 "apply refuses such files before sending them)", e->position);
    else
        snprintf(m, mlen, "parse error: %s (at byte %d)", e->text, e->position);
}

/* The answer to one request line; *close_after set when the connection
 * must close after it (a malformed request). NULL when out of memory, or
 * with *deferred set when the handler will answer later. */
static json_t *dispatch(const struct vf_ctl_method *methods, void *ctx,
                        const char *line, size_t len, int *close_after,
                        bool *deferred)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr), *ans;
    *close_after = 1;
    *deferred = false;
    if (!req) {
        char m[300];
        parse_error_text(&jerr, m, sizeof(m));
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
    cur.id = id;
    cur.deferred = NULL;
    json_t *result = m->fn(ctx, params, &err);
    json_decref(empty);
    if (!result && err.code == VF_RPC_DEFERRED) {
        if (cur.deferred) {
            *deferred = true;
            json_decref(req);
            return NULL;
        }
        vf_rpc_fail(&err, VF_RPC_INTERNAL_ERROR, "internal error: method %s "
                    "deferred its answer without vf_ctl_defer", method);
    }
    if (result)
        ans = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                        id ? id : json_null(), "result", result);
    else
        ans = error_msg(id, err.code, err.message);
    json_decref(req);
    return ans;
}

int vf_ctl_handle_line(const struct vf_ctl_method *methods, void *ctx,
                       const char *line, size_t len, char **out,
                       size_t *out_len)
{
    int close_after;
    bool deferred;
    json_t *ans = dispatch(methods, ctx, line, len, &close_after, &deferred);
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

struct vf_ctl_deferred *vf_ctl_defer(vf_ctl_finish_fn finish, void *arg)
{
    if (!cur.s || !cur.c || cur.deferred)
        return NULL;
    struct vf_ctl_deferred *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->c = cur.c;
    t->s = cur.s;
    t->id = json_incref(cur.id ? cur.id : json_null());
    t->finish = finish;
    t->arg = arg;
    atomic_init(&t->ready, false);
    t->next = cur.s->deferred;
    cur.s->deferred = t;
    cur.c->waiting = t;
    cur.deferred = t;
    return t;
}

void vf_ctl_deferred_ready(struct vf_ctl_deferred *t)
{
    uint64_t one = 1;
    /* Release: the finish function, run by mgmt after its acquire load,
     * sees everything the worker wrote before. */
    atomic_store_explicit(&t->ready, true, memory_order_release);
    (void)!write(t->s->wake_fd, &one, sizeof(one));
}

int vf_ctl_take_fd(void)
{
    if (!cur.c)
        return -1;
    int fd = cur.c->passed_fd;
    cur.c->passed_fd = -1;
    return fd;
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
        c->last_seen = now_ms();
    }
    c->out_off = c->out_len = 0;
    if (c->out_cap > SHRINK_ABOVE) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
}

/* Drops the first line (len bytes and its newline) from the input. */
static void consume_line(struct vf_ctl_server *s, struct ctl_client *c,
                         size_t len)
{
    c->in_off += len + 1;
    s->buffered -= len + 1;
    c->scanned = c->in_off;
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = c->scanned = 0;
        if (c->in_cap > SHRINK_ABOVE) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    } else {
        c->partial_since = now_ms();   /* what is left starts now */
    }
}

/* The first complete line's length, or -1 (remembering how far it looked). */
static ssize_t next_line(struct ctl_client *c)
{
    /* Nothing unscanned (c->in may still be NULL: memchr must not see it). */
    char *nl = c->in_len > c->scanned
                   ? memchr(c->in + c->scanned, '\n', c->in_len - c->scanned)
                   : NULL;
    if (!nl) {
        c->scanned = c->in_len;
        return -1;
    }
    return nl - (c->in + c->in_off);
}

/* Serves the client's complete lines, one answer at a time: the next line
 * only once the previous answer is sent and not while one is deferred. */
static int client_serve(struct vf_ctl_server *s, struct ctl_client *c)
{
    int served = 0;
    ssize_t len;
    while (!c->closing && !c->waiting && c->out_off == c->out_len &&
           (len = next_line(c)) >= 0) {
        if (len > 0) {
            int close_after;
            bool deferred;
            cur.s = s;
            cur.c = c;
            json_t *ans = dispatch(s->methods, s->ctx, c->in + c->in_off,
                                   (size_t)len, &close_after, &deferred);
            cur.s = NULL;
            cur.c = NULL;
            if (ans)
                client_send_json(c, ans);
            else if (!deferred)
                c->closing = 1;        /* out of memory */
            if (close_after)
                c->closing = 1;
            if (!deferred)
                served++;
            /* A descriptor the request did not use goes no further. */
            if (c->passed_fd >= 0) {
                close(c->passed_fd);
                c->passed_fd = -1;
            }
        }
        consume_line(s, c, (size_t)len);
        client_write(c);
    }
    return served;
}

/* Keeps the passed descriptors' first; closes any others. */
static void take_rights(struct ctl_client *c, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[MAX_PASSED_FDS];
        memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
        for (size_t i = 0; i < n; i++) {
            if (c->passed_fd < 0)
                c->passed_fd = fds[i];
            else
                close(fds[i]);
        }
    }
}

static void refuse_large(struct ctl_client *c, const char *why)
{
    send_error(c, NULL, VF_RPC_INVALID_REQUEST, why);
    c->closing = 1;
}

static int client_read(struct vf_ctl_server *s, struct ctl_client *c)
{
    for (int rounds = 0; rounds < READ_ROUNDS && !c->closing; rounds++) {
        /* A full buffer of whole lines waits for the client to read its
         * answers; a line longer than the limit is refused. */
        if (c->in_len - c->in_off >= VF_CTL_MAX_REQUEST)
            break;
        if (c->in_off && c->in_len + READ_CHUNK > c->in_cap) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->scanned -= c->in_off;
            c->in_off = 0;
        }
        if (c->in_len + READ_CHUNK > c->in_cap) {
            size_t nc = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
            while (nc < c->in_len + READ_CHUNK)
                nc *= 2;
            char *nb = realloc(c->in, nc);
            if (!nb) {
                c->closing = 2;
                break;
            }
            c->in = nb;
            c->in_cap = nc;
        }
        union {
            char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
            struct cmsghdr align;
        } ctrl;
        struct iovec iov = {c->in + c->in_len, READ_CHUNK};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = ctrl.buf,
                            .msg_controllen = sizeof(ctrl.buf)};
        ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n == 0) {
            c->closing = 2;     /* peer closed: nothing more to send */
            break;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                c->closing = 2;
            break;
        }
        take_rights(c, &mh);
        if (s->buffered + (size_t)n > VF_CTL_MAX_BUFFERED) {
            char m[200];
            snprintf(m, sizeof(m), "request refused: vfabd is receiving %zu "
                     "MiB of other requests (at most %u MiB at once); try again",
                     s->buffered >> 20, VF_CTL_MAX_BUFFERED >> 20);
            refuse_large(c, m);
            break;
        }
        if (c->in_off == c->in_len)
            c->partial_since = now_ms();
        c->in_len += (size_t)n;
        s->buffered += (size_t)n;
        c->last_seen = now_ms();
        if (next_line(c) < 0 && c->in_len - c->in_off > VF_CTL_MAX_REQUEST) {
            char m[128];
            snprintf(m, sizeof(m), "request too large (limit %u bytes)",
                     VF_CTL_MAX_REQUEST);
            refuse_large(c, m);
        }
    }
    return client_serve(s, c);
}

/* A request line that has not arrived whole within the deadline. */
static void check_deadline(struct vf_ctl_server *s, struct ctl_client *c,
                           int64_t now)
{
    if (c->closing || c->waiting || c->in_len == c->in_off ||
        c->scanned < c->in_len || now - c->partial_since < s->read_deadline_ms)
        return;
    char m[200];
    snprintf(m, sizeof(m), "request incomplete after %u ms (%zu bytes, no "
             "newline); send each request as one line, ending in a newline",
             s->read_deadline_ms, c->in_len - c->in_off);
    send_error(c, NULL, VF_RPC_INVALID_REQUEST, m);
    c->closing = 1;
}

static void send_now(int fd, int code, const char *msg)
{
    json_t *j = error_msg(NULL, code, msg);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (txt) {
        size_t n = strlen(txt);
        txt[n] = '\n';
        (void)!send(fd, txt, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    free(txt);
}

/* A slot for a new client: a free one, else the one quiet longest that
 * is not waiting for a deferred answer (told why, then closed). */
static struct ctl_client *free_slot(struct vf_ctl_server *s)
{
    struct ctl_client *best = NULL;
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++) {
        struct ctl_client *c = &s->clients[i];
        if (c->fd < 0)
            return c;
        if (!c->waiting && (!best || c->last_seen < best->last_seen))
            best = c;
    }
    if (best) {
        send_now(best->fd, VF_RPC_BUSY, "vfabd closed this connection to make "
                 "room for a new client: it serves at most 64 at once and "
                 "this one had been quiet longest; connect again");
        client_reset(s, best);
    }
    return best;
}

static void accept_clients(struct vf_ctl_server *s, int64_t now)
{
    for (unsigned tries = 0; tries < VF_CTL_MAX_CLIENTS; tries++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        struct ctl_client *c = free_slot(s);
        if (!c) {
            send_now(fd, VF_RPC_BUSY, "vfabd is busy: all 64 connections "
                     "wait for answers still being worked on; try again");
            close(fd);
            continue;
        }
        c->fd = fd;
        c->last_seen = now;
    }
}

/* Runs the finish functions of deferred answers that are ready. */
static int finish_ready(struct vf_ctl_server *s)
{
    int served = 0;
    struct vf_ctl_deferred **pp = &s->deferred;
    while (*pp) {
        struct vf_ctl_deferred *t = *pp;
        /* Acquire: pairs with the release store in vf_ctl_deferred_ready. */
        if (!atomic_load_explicit(&t->ready, memory_order_acquire)) {
            pp = &t->next;
            continue;
        }
        *pp = t->next;
        struct vf_rpc_error err = {VF_RPC_INTERNAL_ERROR, "internal error"};
        struct ctl_client *c = t->c;
        json_t *res = t->finish(t->arg, c == NULL, &err);
        if (c) {
            c->waiting = NULL;
            client_send_json(c, res ? json_pack("{s:s, s:O, s:o}", "jsonrpc",
                                                "2.0", "id", t->id, "result", res)
                                    : error_msg(t->id, err.code, err.message));
            client_write(c);
            served += 1 + client_serve(s, c);
        } else {
            json_decref(res);
        }
        json_decref(t->id);
        free(t);
    }
    return served;
}

void vf_ctl_close(struct vf_ctl_server *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++)
        client_reset(s, &s->clients[i]);
    /* Work still in progress reads state the caller frees next: wait for
     * it, and let it clean up as for a client that left. */
    while (s->deferred) {
        struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
        uint64_t v;
        finish_ready(s);
        if (s->deferred && poll(&p, 1, 100) > 0)
            (void)!read(s->wake_fd, &v, sizeof(v));
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    close(s->wake_fd);
    free(s);
}

unsigned vf_ctl_fds(struct vf_ctl_server *s, struct pollfd *pfd,
                    unsigned max)
{
    unsigned n = 0;

    s->n_polled = 0;
    if (max < 2)
        return 0;
    pfd[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
    s->poll_idx[n++] = -1;
    pfd[n] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    s->poll_idx[n++] = -1;
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS && n < max; i++) {
        struct ctl_client *c = &s->clients[i];
        if (c->fd < 0)
            continue;
        /* A buffer full of whole lines is read again once they are served. */
        bool full = c->in_len - c->in_off >= VF_CTL_MAX_REQUEST;
        short ev = c->closing || full ? 0 : POLLIN;
        if (c->out_len > c->out_off)
            ev |= POLLOUT;
        pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
        s->poll_idx[n++] = (int)i;
    }
    s->n_polled = n;
    return n;
}

/* The time until the first partial request's deadline, or timeout_ms when
 * that comes first (-1: none). */
static int deadline_wait(const struct vf_ctl_server *s, int timeout_ms)
{
    int64_t now = now_ms();
    int wait = timeout_ms;
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++) {
        const struct ctl_client *c = &s->clients[i];
        if (c->fd < 0 || c->in_len == c->in_off || c->scanned < c->in_len ||
            c->waiting || c->closing)
            continue;
        int64_t left = c->partial_since + s->read_deadline_ms - now;
        if (left < 0)
            left = 0;
        if (wait < 0 || left < wait)
            wait = (int)left;
    }
    return wait;
}

void vf_ctl_tick(struct vf_ctl_server *s)
{
    int64_t now = now_ms();
    for (unsigned i = 0; i < VF_CTL_MAX_CLIENTS; i++) {
        struct ctl_client *c = &s->clients[i];
        if (c->fd < 0)
            continue;
        check_deadline(s, c, now);
        if (c->out_len > c->out_off)
            client_write(c);
        if (c->closing == 2 || (c->closing && c->out_len == c->out_off))
            client_reset(s, c);
    }
}

int vf_ctl_serve(struct vf_ctl_server *s, const struct pollfd *pfd,
                 unsigned n)
{
    int served = 0;
    int64_t now = now_ms();

    if (n > s->n_polled)
        n = s->n_polled;
    if (n > 1 && (pfd[1].revents & POLLIN)) {
        uint64_t v;
        (void)!read(s->wake_fd, &v, sizeof(v));
        served += finish_ready(s);
    }
    for (unsigned k = 2; k < n; k++) {
        struct ctl_client *c = &s->clients[s->poll_idx[k]];
        if (c->fd < 0 || c->fd != pfd[k].fd)
            continue;   /* closed since vf_ctl_fds */
        if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
            served += client_read(s, c);
        if (c->out_len > c->out_off) {
            client_write(c);
            served += client_serve(s, c);   /* the next line may go now */
        }
        check_deadline(s, c, now);
        if (c->out_len > c->out_off)
            client_write(c);
        if (c->closing == 2 || (c->closing && c->out_len == c->out_off))
            client_reset(s, c);
    }
    if (n > 0 && (pfd[0].revents & POLLIN))
        accept_clients(s, now);
    s->n_polled = 0;
    return served;
}

int vf_ctl_poll(struct vf_ctl_server *s, int timeout_ms)
{
    struct pollfd pfd[VF_CTL_FDS];
    unsigned n = vf_ctl_fds(s, pfd, VF_CTL_FDS);
    /* A partial request's deadline must be noticed without traffic. */
    int rc = poll(pfd, n, deadline_wait(s, timeout_ms));
    if (rc < 0)
        return errno == EINTR ? 0 : -errno;
    return vf_ctl_serve(s, pfd, n);
}
