/* test_ctl.c - the control socket: framing, errors, bounds, permissions.
 *
 * The server runs in a thread of its own here (in vfabd it is the
 * management thread); clients are plain sockets in the test thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/rpc/vf_ctl.h"

static char sock_path[108];
static _Atomic int server_stop;
static struct vf_ctl_server *server;
static pthread_t server_th;

static json_t *m_echo(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    (void)ctx;
    (void)err;
    return json_pack("{s:O}", "echo", params);
}

static json_t *m_refuse(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    (void)ctx;
    (void)params;
    return vf_rpc_fail(err, VF_RPC_REFUSED, "refused: field '%s' is bad", "x");
}

/* "later": answers from another thread after params.ms milliseconds. */
struct later {
    struct vf_ctl_deferred *t;
    unsigned ms;
    pthread_t th;
};
static _Atomic int later_gone;     /* finish calls for a client that left */

static void *later_main(void *arg)
{
    struct later *l = arg;
    usleep(l->ms * 1000u);
    vf_ctl_deferred_ready(l->t);
    return NULL;
}

static json_t *later_finish(void *arg, bool gone, struct vf_rpc_error *err)
{
    struct later *l = arg;
    (void)err;
    pthread_join(l->th, NULL);
    json_t *r = json_pack("{s:i}", "waited_ms", (int)l->ms);
    free(l);
    if (gone)
        atomic_fetch_add(&later_gone, 1);
    return r;
}

static json_t *m_later(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    (void)ctx;
    struct later *l = calloc(1, sizeof(*l));
    l->ms = (unsigned)json_integer_value(json_object_get(params, "ms"));
    l->t = vf_ctl_defer(later_finish, l);
    assert_non_null(l->t);
    assert_int_equal(pthread_create(&l->th, NULL, later_main, l), 0);
    err->code = VF_RPC_DEFERRED;
    return NULL;
}

/* "fdsize": the size of the file passed with the request, -1 without. */
static json_t *m_fdsize(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    (void)ctx;
    (void)params;
    (void)err;
    int fd = vf_ctl_take_fd();
    struct stat st;
    long long size = fd >= 0 && fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
    if (fd >= 0)
        close(fd);
    return json_pack("{s:I}", "size", (json_int_t)size);
}

static const struct vf_ctl_method methods[] = {
    {"echo", m_echo},
    {"refuse", m_refuse},
    {"later", m_later},
    {"fdsize", m_fdsize},
    {NULL, NULL},
};

#define TEST_DEADLINE_MS 1500

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&server_stop))
        vf_ctl_poll(server, 20);
    return NULL;
}

/* The read deadline is set while the server's thread is stopped (it is
 * the management thread's setting). */
static int serve_with_deadline(unsigned ms)
{
    vf_ctl_set_read_deadline(server, ms);
    atomic_store(&server_stop, 0);
    return pthread_create(&server_th, NULL, server_main, NULL);
}

static void stop_serving(void)
{
    atomic_store(&server_stop, 1);
    pthread_join(server_th, NULL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(sock_path, sizeof(sock_path), "/tmp/vf-test-ctl-%d.sock", getpid());
    char err[256];
    server = vf_ctl_open(sock_path, methods, NULL, err, sizeof(err));
    if (!server) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return serve_with_deadline(TEST_DEADLINE_MS);
}

/* The tests that send 64-129 MiB in one line use vfabd's own deadline:
 * under ASan on a loaded machine such a line can take longer than the
 * short one the deadline tests use, and must not be cut by it. */
static int setup_vfabd_deadline(void **state)
{
    (void)state;
    stop_serving();
    return serve_with_deadline(VF_CTL_READ_DEADLINE_MS);
}

static int teardown_vfabd_deadline(void **state)
{
    (void)state;
    stop_serving();
    return serve_with_deadline(TEST_DEADLINE_MS);
}

static int teardown(void **state)
{
    (void)state;
    atomic_store(&server_stop, 1);
    pthread_join(server_th, NULL);
    vf_ctl_close(server);
    return 0;
}

static int client(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;   /* server closed: the caller checks the answer */
        s += k;
        n -= (size_t)k;
    }
}

/* Reads one answer line (NULL if the server closed first). Bytes after the
 * line are kept for the next call on the same fd. */
static json_t *recv_json(int fd)
{
    static char buf[1 << 16];
    static size_t got;
    static int buf_fd = -1;
    if (fd != buf_fd) {
        got = 0;
        buf_fd = fd;
    }
    for (int i = 0; i < 500; i++) {
        char *nl = memchr(buf, '\n', got);
        if (nl) {
            json_t *r = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, buf + used, got - used);
            got -= used;
            return r;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = read(fd, buf + got, sizeof(buf) - got - 1);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    return NULL;
}

/* true if the server closed the connection within ~2 s */
static int closed_by_server(int fd)
{
    char b[256];
    for (int i = 0; i < 100; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0) {
            ssize_t n = read(fd, b, sizeof(b));
            if (n == 0 || (n < 0))
                return 1;
        }
    }
    return 0;
}

static int error_code(json_t *r)
{
    return (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
}

static void test_roundtrip_and_ids(void **state)
{
    (void)state;
    int fd = client();
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":{\"a\":1}}\n"
                      "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"echo\"}\n";
    send_all(fd, req, strlen(req));
    json_t *r1 = recv_json(fd);
    assert_non_null(r1);
    assert_int_equal(json_integer_value(json_object_get(r1, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(
        json_object_get(json_object_get(r1, "result"), "echo"), "a")), 1);
    json_decref(r1);
    json_t *r2 = recv_json(fd);
    assert_non_null(r2);
    assert_string_equal(json_string_value(json_object_get(r2, "id")), "x");
    json_decref(r2);
    close(fd);
}

static void expect_error_and_close(const char *req, size_t len, int code)
{
    int fd = client();
    send_all(fd, req, len);
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(error_code(r), code);
    json_decref(r);
    assert_true(closed_by_server(fd));
    close(fd);
}

static void test_malformed_json(void **state)
{
    (void)state;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\n";
    expect_error_and_close(req, strlen(req), VF_RPC_PARSE_ERROR);
}

static void test_not_jsonrpc(void **state)
{
    (void)state;
    const char *a = "[1,2,3]\n";
    expect_error_and_close(a, strlen(a), VF_RPC_INVALID_REQUEST);
    const char *b = "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"echo\"}\n";
    expect_error_and_close(b, strlen(b), VF_RPC_INVALID_REQUEST);
    const char *c = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":5}\n";
    expect_error_and_close(c, strlen(c), VF_RPC_INVALID_REQUEST);
}

static void test_unknown_method(void **state)
{
    (void)state;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}\n";
    expect_error_and_close(req, strlen(req), VF_RPC_METHOD_NOT_FOUND);
}

static void test_handler_error(void **state)
{
    (void)state;
    int fd = client();
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"refuse\"}\n";
    send_all(fd, req, strlen(req));
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(error_code(r), VF_RPC_REFUSED);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"),
                                                             "message")), "field 'x'"));
    json_decref(r);
    close(fd);
}

static const char *error_message(json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "error"), "message"));
}

static void test_too_large(void **state)
{
    (void)state;
    size_t n = VF_CTL_MAX_REQUEST + 4096;
    char *big = malloc(n);
    memset(big, 'a', n);   /* no newline: one endless line */
    int fd = client();
    send_all(fd, big, n);
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(error_code(r), VF_RPC_INVALID_REQUEST);
    assert_non_null(strstr(error_message(r), "too large"));
    json_decref(r);
    assert_true(closed_by_server(fd));
    close(fd);
    free(big);
}

/* A request as large as the largest desired-state file is served (a
 * whole fabric's file applies in one request). */
static void test_large_request(void **state)
{
    (void)state;
    size_t text = 8u << 20;
    char *req = malloc(text + 128);
    int k = snprintf(req, 128, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
                     "\"echo\",\"params\":{\"yaml\":\"");
    memset(req + k, 'y', text);
    size_t n = (size_t)k + text;
    n += (size_t)sprintf(req + n, "\"}}\n");
    int fd = client();
    send_all(fd, req, n);
    /* The echo is as large as the request: read it whole. */
    size_t cap = text + 4096, got = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < 1000 && !memchr(buf, '\n', got); i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t r = read(fd, buf + got, cap - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    char *nl = memchr(buf, '\n', got);
    assert_non_null(nl);
    json_t *r = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
    assert_non_null(r);
    json_t *y = json_object_get(json_object_get(json_object_get(r, "result"),
                                                "echo"), "yaml");
    assert_int_equal(json_string_length(y), text);
    json_decref(r);
    free(buf);
    free(req);
    close(fd);
}

/* Half a request, then nothing: told so and closed after the deadline. */
static void test_partial_deadline(void **state)
{
    (void)state;
    int fd = client();
    const char *half = "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth";
    send_all(fd, half, strlen(half));
    json_t *r = NULL;
    /* recv_json waits about 10 s at most: the deadline is 1.5 s. */
    r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(error_code(r), VF_RPC_INVALID_REQUEST);
    assert_non_null(strstr(error_message(r), "incomplete"));
    json_decref(r);
    assert_true(closed_by_server(fd));
    close(fd);
}

/* Every slot held by a client that sent half a request: a new client is
 * still served, and the quietest of the others is told why it is closed. */
static void test_evict_quiet_client(void **state)
{
    (void)state;
    int fds[VF_CTL_MAX_CLIENTS];
    const char *half = "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth";
    for (int i = 0; i < VF_CTL_MAX_CLIENTS; i++) {
        fds[i] = client();
        send_all(fds[i], half, strlen(half));
    }
    usleep(100 * 1000);   /* the server has accepted them all */
    int fd = client();
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"echo\"}\n";
    send_all(fd, req, strlen(req));
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 5);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    close(fd);
    json_t *ev = recv_json(fds[0]);   /* the first one is the quietest */
    assert_non_null(ev);
    assert_int_equal(error_code(ev), VF_RPC_BUSY);
    assert_non_null(strstr(error_message(ev), "make room"));
    json_decref(ev);
    for (int i = 0; i < VF_CTL_MAX_CLIENTS; i++)
        close(fds[i]);
}

/* A deferred answer: other clients are served meanwhile, and it comes
 * with its request's id; a client that left has its finish still run. */
static void test_deferred_answer(void **state)
{
    (void)state;
    int slow = client();
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"later\","
                      "\"params\":{\"ms\":600}}\n"
                      "{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"echo\"}\n";
    send_all(slow, req, strlen(req));
    int fd = client();
    const char *echo = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\"}\n";
    send_all(fd, echo, strlen(echo));
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    json_decref(r);
    close(fd);
    /* The deferred answer first, then the line queued behind it. */
    r = recv_json(slow);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 42);
    assert_int_equal(json_integer_value(json_object_get(
        json_object_get(r, "result"), "waited_ms")), 600);
    json_decref(r);
    r = recv_json(slow);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 43);
    json_decref(r);
    close(slow);

    int before = atomic_load(&later_gone);
    int gone = client();
    const char *req2 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"later\","
                       "\"params\":{\"ms\":300}}\n";
    send_all(gone, req2, strlen(req2));
    usleep(100 * 1000);
    close(gone);
    for (int i = 0; i < 100 && atomic_load(&later_gone) == before; i++)
        usleep(20 * 1000);
    assert_int_equal(atomic_load(&later_gone), before + 1);
}

static void send_with_fd(int sock, const char *req, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    struct iovec iov = {(void *)req, strlen(req)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)strlen(req));
}

/* A descriptor passed with a request reaches its handler, once. */
static void test_pass_fd(void **state)
{
    (void)state;
    char path[] = "/tmp/vf-test-ctl-fd-XXXXXX";
    int f = mkstemp(path);
    assert_true(f >= 0);
    assert_int_equal(write(f, "12345", 5), 5);
    unlink(path);
    int fd = client();
    send_with_fd(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"fdsize\"}\n", f);
    close(f);
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"),
                                                        "size")), 5);
    json_decref(r);
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"fdsize\"}\n";
    send_all(fd, req, strlen(req));
    r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"),
                                                        "size")), -1);
    json_decref(r);
    close(fd);
}

/* A NUL byte is named as such, not in the JSON parser's words. */
static void test_nul_message(void **state)
{
    (void)state;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\","
                      "\"params\":{\"yaml\":\"a\\u0000b\"}}\n";
    int fd = client();
    send_all(fd, req, strlen(req));
    json_t *r = recv_json(fd);
    assert_non_null(r);
    assert_int_equal(error_code(r), VF_RPC_PARSE_ERROR);
    assert_non_null(strstr(error_message(r), "NUL byte"));
    assert_null(strstr(error_message(r), "JSON_ALLOW_NUL"));
    json_decref(r);
    close(fd);
}

static void test_many_clients(void **state)
{
    (void)state;
    enum { N = 40 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = client();
    for (int i = 0; i < N; i++) {
        char req[128];
        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"echo\"}\n", i);
        send_all(fds[i], req, strlen(req));
    }
    for (int i = N - 1; i >= 0; i--) {
        json_t *r = recv_json(fds[i]);
        assert_non_null(r);
        assert_int_equal(json_integer_value(json_object_get(r, "id")), i);
        json_decref(r);
        close(fds[i]);
    }
}

/* A client that never reads must not stall the others. */
static void test_slow_client(void **state)
{
    (void)state;
    int slow = client();
    char req[128];
    snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\"}\n");
    for (int i = 0; i < 2000; i++)
        send_all(slow, req, strlen(req));
    int fd = client();
    send_all(fd, req, strlen(req));
    json_t *r = recv_json(fd);
    assert_non_null(r);
    json_decref(r);
    close(fd);
    close(slow);
}

static void test_socket_mode(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(stat(sock_path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
}

static void test_second_server_refused(void **state)
{
    (void)state;
    char err[256];
    struct vf_ctl_server *s2 = vf_ctl_open(sock_path, methods, NULL, err, sizeof(err));
    assert_null(s2);
    assert_non_null(strstr(err, "in use"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_ids),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_not_jsonrpc),
        cmocka_unit_test(test_unknown_method),
        cmocka_unit_test(test_handler_error),
        cmocka_unit_test_setup_teardown(test_too_large, setup_vfabd_deadline,
                                        teardown_vfabd_deadline),
        cmocka_unit_test_setup_teardown(test_large_request, setup_vfabd_deadline,
                                        teardown_vfabd_deadline),
        cmocka_unit_test(test_partial_deadline),
        cmocka_unit_test(test_evict_quiet_client),
        cmocka_unit_test(test_deferred_answer),
        cmocka_unit_test(test_pass_fd),
        cmocka_unit_test(test_nul_message),
        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_socket_mode),
        cmocka_unit_test(test_second_server_refused),
    };
    return cmocka_run_group_tests_name("ctl", tests, setup, teardown);
}
