/* store_loop.c - the client's loop: curl's socket and timer callbacks kept
 * as a pollfd set and a deadline, dispatch after poll(2), and the client's
 * own timers (watch reconnects, lease keepalives) folded in (vf_store.h). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt/store/store_int.h"

/* curl asks to watch (or stop watching) a socket. Runs inside curl: only
 * bookkeeping here. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct vf_store *s = userp;
    (void)easy;
    (void)socketp;
    unsigned i = 0;
    while (i < s->n_socks && s->socks[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < s->n_socks)
            s->socks[i] = s->socks[--s->n_socks];
        return 0;
    }
    if (i == s->n_socks) {
        if (s->n_socks == s->cap_socks) {
            unsigned cap = s->cap_socks ? s->cap_socks * 2 : 8;
            struct store_sock *p = realloc(s->socks, cap * sizeof(*p));
            if (!p)
                return -1;           /* curl fails this transfer */
            s->socks = p;
            s->cap_socks = cap;
        }
        s->n_socks++;
    }
    s->socks[i] = (struct store_sock){.fd = fd, .what = what};
    return 0;
}

/* curl's single timer: -1 removes it. Runs inside curl. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct vf_store *s = userp;
    (void)multi;
    s->curl_due_ns = timeout_ms < 0 ? -1 : store_now_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

int store_loop_init(struct vf_store *s)
{
    if (curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket) ||
        curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s) ||
        curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer) ||
        curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s))
        return -EIO;
    return 0;
}

unsigned vf_store_nfds(const struct vf_store *s)
{
    return s->n_socks + 1;
}

int vf_store_pollfds(const struct vf_store *s, struct pollfd *fds, unsigned max)
{
    if (max < s->n_socks + 1)
        return -ENOSPC;
    fds[0] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
    for (unsigned i = 0; i < s->n_socks; i++) {
        short ev = 0;
        if (s->socks[i].what & CURL_POLL_IN)
            ev |= POLLIN;
        if (s->socks[i].what & CURL_POLL_OUT)
            ev |= POLLOUT;
        fds[i + 1] = (struct pollfd){.fd = s->socks[i].fd, .events = ev};
    }
    return (int)s->n_socks + 1;
}

/* The earliest of curl's timer and the client's own (watch reconnects,
 * keepalives); 0 when early failures wait for their completion. */
static int64_t next_due_ns(const struct vf_store *s)
{
    if (s->n_early)
        return 0;
    int64_t due = s->curl_due_ns;
    int64_t own[2] = {store_watch_next_due(s), store_lease_next_due(s)};
    for (int i = 0; i < 2; i++)
        if (own[i] >= 0 && (due < 0 || own[i] < due))
            due = own[i];
    return due;
}

int vf_store_timeout_ms(const struct vf_store *s)
{
    int64_t due = next_due_ns(s);
    if (due < 0)
        return -1;
    int64_t left = due - store_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Finished transfers: requests complete (or fail over), watch streams end. */
static void reap_transfers(struct vf_store *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct store_xfer *x = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            continue;
        if (x->kind == STORE_XFER_REQ)
            store_req_transfer_done((struct store_req *)x, cc);
        else
            store_watch_transfer_done((struct vf_store_watch *)x, cc);
    }
}

static void run_timers(struct vf_store *s)
{
    int64_t now = store_now_ns();
    store_watch_timers(s, now);
    store_lease_timers(s, now);
}

int vf_store_dispatch(struct vf_store *s, const struct pollfd *fds, unsigned n)
{
    int running;
    CURLMcode mc = CURLM_OK;
    if (s->cb_depth)
        return -EDEADLK;
    for (unsigned i = 0; i < n && mc == CURLM_OK; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == s->wake_fd) {
            uint64_t v;
            (void)!read(s->wake_fd, &v, sizeof(v));
            continue;
        }
        int mask = 0;
        if (fds[i].revents & POLLIN)
            mask |= CURL_CSELECT_IN;
        if (fds[i].revents & POLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL))
            mask |= CURL_CSELECT_ERR;
        mc = curl_multi_socket_action(s->multi, fds[i].fd, mask, &running);
    }
    if (mc == CURLM_OK && s->curl_due_ns >= 0 && s->curl_due_ns <= store_now_ns()) {
        s->curl_due_ns = -1;
        mc = curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    /* Watch bytes first: a stream's last events come before its end. */
    for (struct vf_store_watch *w = s->watches; w; w = w->next)
        store_watch_input(w);
    reap_transfers(s);
    store_req_run_early(s);
    run_timers(s);
    store_watch_reap(s, false);
    store_lease_reap(s, false);
    if (mc != CURLM_OK) {
        store_log(s, VF_STORE_LOG_ERROR, "etcd client: libcurl: %s", curl_multi_strerror(mc));
        return -EIO;
    }
    return 0;
}

int vf_store_run(struct vf_store *s, int timeout_ms)
{
    if (s->cb_depth)
        return -EDEADLK;
    unsigned cap = vf_store_nfds(s);
    struct pollfd stack[16];
    struct pollfd *fds = cap <= 16 ? stack : malloc(cap * sizeof(*fds));
    if (!fds)
        return -ENOMEM;
    int n = vf_store_pollfds(s, fds, cap);
    int t = vf_store_timeout_ms(s);
    if (t < 0 || (timeout_ms >= 0 && timeout_ms < t))
        t = timeout_ms;
    int rc = poll(fds, (nfds_t)n, t);
    if (rc < 0 && errno != EINTR) {
        rc = -errno;
    } else {
        if (rc < 0)
            for (int i = 0; i < n; i++)
                fds[i].revents = 0;
        rc = vf_store_dispatch(s, fds, (unsigned)n);
    }
    if (fds != stack)
        free(fds);
    return rc;
}

void vf_store_wakeup(struct vf_store *s)
{
    uint64_t one = 1;
    (void)!write(s->wake_fd, &one, sizeof(one));
}
