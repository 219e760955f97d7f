/* ctl_client.c - connect, send one request, read its answer (vf_ctl_client.h). */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mgmt/rpc/vf_ctl_client.h"

/* "permission denied" with the socket's owner and group, or its
 * directory's when the socket itself cannot be looked at. */
static void denied(const char *path, char *err, size_t errlen)
{
    char copy[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct stat st;
    snprintf(copy, sizeof(copy), "%s", path);
    const char *what = "socket";
    if (stat(path, &st) != 0) {
        what = "socket's directory";
        if (stat(dirname(copy), &st) != 0) {
            snprintf(err, errlen, "cannot connect to vfabd at %s: permission "
                     "denied: run vfabctl as the user vfabd runs as, or as "
                     "root", path);
            return;
        }
    }
    struct passwd *pw = getpwuid(st.st_uid);
    struct group *gr = getgrgid(st.st_gid);
    char user[64], group[64];
    snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "?");
    snprintf(group, sizeof(group), "%s", gr ? gr->gr_name : "?");
    if (!pw)
        snprintf(user, sizeof(user), "uid %u", (unsigned)st.st_uid);
    if (!gr)
        snprintf(group, sizeof(group), "gid %u", (unsigned)st.st_gid);
    snprintf(err, errlen, "cannot connect to vfabd at %s: permission denied: "
             "the %s belongs to user %s and group %s (mode %04o); run vfabctl "
             "as %s or root, or as a member of group %s (usermod -aG %s "
             "YOURNAME, then log in again)", path, what, user, group,
             (unsigned)(st.st_mode & 07777), user, group, group);
}

int vf_ctl_client_connect(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot make a socket: %s", strerror(e));
        return -e;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    int e = errno;
    close(fd);
    if (e == EACCES || e == EPERM)
        denied(path, err, errlen);
    else
        snprintf(err, errlen, "cannot connect to vfabd at %s: %s\n"
                 "  is vfabd running? (start it with: vfabd -c STATE.yaml -s %s)",
                 path, strerror(e), path);
    return -e;
}

static int send_all(int fd, const char *p, size_t n, int pass_fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    while (n) {
        struct iovec iov = {(void *)p, n};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (pass_fd >= 0) {
            /* With the first bytes only: vfabd gives it to this request. */
            mh.msg_control = ctrl.buf;
            mh.msg_controllen = sizeof(ctrl.buf);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
        }
        ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
        pass_fd = -1;
    }
    return 0;
}

/* One answer line, or NULL with err filled. */
static json_t *read_answer(int fd, int timeout_ms, char *err, size_t errlen)
{
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap);
    json_t *resp = NULL;
    while (buf) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) {
            snprintf(err, errlen, "no answer from vfabd within %d s",
                     timeout_ms / 1000);
            break;
        }
        if (got + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0) {
            snprintf(err, errlen, "vfabd closed the connection without an "
                     "answer");
            break;
        }
        char *nl = memchr(buf + got, '\n', (size_t)n);
        got += (size_t)n;
        if (nl) {
            json_error_t e;
            resp = json_loadb(buf, (size_t)(nl - buf), 0, &e);
            if (!resp)
                snprintf(err, errlen, "bad answer from vfabd: %s", e.text);
            break;
        }
    }
    if (!buf)
        snprintf(err, errlen, "out of memory");
    free(buf);
    return resp;
}

json_t *vf_ctl_client_call(int fd, const char *method, json_t *params,
                           int pass_fd, int timeout_ms, char *err,
                           size_t errlen)
{
    static int next_id = 1;
    json_t *req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id",
                            next_id++, "method", method, "params", params);
    char *txt = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!txt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t len = strlen(txt);
    txt[len] = '\n';
    int rc = send_all(fd, txt, len + 1, pass_fd);
    free(txt);
    if (rc == 0)
        return read_answer(fd, timeout_ms, err, errlen);
    /* A server that refused us (busy) said why before it closed: that is
     * the message, not the send error. */
    char why[256];
    json_t *said = read_answer(fd, 200, why, sizeof(why));
    if (said)
        return said;
    snprintf(err, errlen, "sending the request failed: %s", strerror(-rc));
    return NULL;
}
