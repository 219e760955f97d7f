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

static const struct vf_ctl_method methods[] = {
    {"echo", m_echo},
    {"refuse", m_refuse},
    {NULL, NULL},
};

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&server_stop))
        vf_ctl_poll(server, 20);
    return NULL;
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
    atomic_store(&server_stop, 0);
    return pthread_create(&server_th, NULL, server_main, NULL);
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

static void test_too_large(void **state)
{
    (void)state;
    size_t n = VF_CTL_MAX_REQUEST + 4096;
    char *big = malloc(n);
    memset(big, 'a', n);   /* no newline: one endless line */
    expect_error_and_close(big, n, VF_RPC_INVALID_REQUEST);
    free(big);
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
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_socket_mode),
        cmocka_unit_test(test_second_server_refused),
    };
    return cmocka_run_group_tests_name("ctl", tests, setup, teardown);
}
