/* test_port_udp.c - the UDP underlay uplink over loopback, every variant.
 *
 * Two ports on two loopback UDP ports exchange frames both ways; the test
 * checks the payload bytes, the synthesised outer headers, the counters and
 * that every pool buffer comes back. Every wait is bounded by a poll()
 * timeout and an iteration cap, so a lost packet fails the test instead of
 * hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fabric/vf_port_udp.h"
#include "numa/vf_pool.h"
#include "tests/unit/vf_test_pkt.h"

#define N_FRAMES 300
#define POOL_BUFS 2048
#define WAIT_ROUNDS 400        /* x 5 ms poll: a 2 s bound per wait */

struct side {
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    struct vf_port *port;
    struct sockaddr_in addr;
};

static const struct vf_udp_opts *variant_opts(int v, struct vf_udp_opts *o)
{
    vf_udp_opts_default(o);
    switch (v) {
    case 0: break;                                             /* multishot */
    case 1: o->send_zc = true; break;                          /* + zc */
    case 2: o->send_zc = true; o->fixed_bufs = true; break;    /* + fixed */
    case 3: o->rx_mode = VF_UDP_RX_SYSCALL; break;             /* syscalls */
    }
    return o;
}

static void side_open(struct side *s, const struct vf_udp_opts *o)
{
    char err[256];
    s->pool = vf_pool_create(NULL, -1, POOL_BUFS, VF_PKT_DEFAULT_DATA_ROOM,
                             err, sizeof(err));
    assert_non_null(s->pool);
    vf_pool_cache_init(&s->cache, s->pool);
    s->port = vf_udp_port_open("up", "127.0.0.1:0", 1, o, &s->pool, err,
                               sizeof(err));
    if (!s->port)
        fail_msg("open: %s", err);
    assert_int_equal(vf_udp_port_addr(s->port, &s->addr), 0);
    assert_int_not_equal(s->addr.sin_port, 0);
}

static void side_close(struct side *s)
{
    vf_port_close(s->port);
    vf_pool_cache_flush(&s->cache);
    assert_int_equal(vf_pool_in_use(s->pool), 0);
    vf_pool_destroy(s->pool);
}

static uint32_t payload_len(unsigned seq)
{
    return 16 + (seq * 37) % 1400;   /* 16..1415 bytes, varied */
}

static uint8_t payload_byte(unsigned seq, unsigned i)
{
    return (uint8_t)(seq * 7 + i * 13 + 1);
}

/* A full tunnel-style frame toward `to` (tunnel header and inner frame are
 * just payload bytes to the port). The outer source fields are junk on
 * purpose: the kernel uses the socket's own. */
static void build_frame(struct vf_pkt *p, const struct sockaddr_in *to,
                        unsigned seq)
{
    uint32_t plen = payload_len(seq);
    uint8_t *f = vf_pkt_data(p);
    memset(f, 0xee, 12);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    uint16_t tot = (uint16_t)(28 + plen);
    ip[2] = (uint8_t)(tot >> 8);
    ip[3] = (uint8_t)tot;
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    ip[12] = 10;                       /* junk source address */
    memcpy(ip + 16, &to->sin_addr.s_addr, 4);
    uint8_t *udp = ip + 20;
    udp[0] = 0x12;                     /* junk source port */
    udp[1] = 0x34;
    memcpy(udp + 2, &to->sin_port, 2);
    udp[4] = (uint8_t)((8 + plen) >> 8);
    udp[5] = (uint8_t)(8 + plen);
    uint8_t *pl = udp + 8;
    memcpy(pl, &seq, 4);
    for (uint32_t i = 4; i < plen; i++)
        pl[i] = payload_byte(seq, i);
    p->len = 42 + plen;
}

/* Checks one received frame; returns its sequence number. */
static unsigned check_frame(const struct vf_pkt *p, const struct side *from,
                            const struct side *to)
{
    const uint8_t *f = vf_pkt_data(p);
    assert_true(p->len >= 42 + 16);
    assert_true(vf_pkt_headroom(p) >= 42);
    assert_int_equal(p->port, to->port->index);
    for (int i = 0; i < 12; i++)
        assert_int_equal(f[i], 0);
    assert_int_equal(f[12], 0x08);
    assert_int_equal(f[13], 0x00);
    const uint8_t *ip = f + 14;
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(ip[9], IPPROTO_UDP);
    assert_int_equal((ip[2] << 8 | ip[3]), p->len - 14);
    assert_true(vf_tpkt_ip4_csum_ok(ip));   /* header checksum verifies */
    assert_memory_equal(ip + 12, &from->addr.sin_addr.s_addr, 4);
    assert_memory_equal(ip + 16, &to->addr.sin_addr.s_addr, 4);
    const uint8_t *udp = ip + 20;
    assert_memory_equal(udp, &from->addr.sin_port, 2);
    assert_memory_equal(udp + 2, &to->addr.sin_port, 2);
    assert_int_equal((udp[4] << 8 | udp[5]), p->len - 34);
    unsigned seq;
    memcpy(&seq, udp + 8, 4);
    assert_true(seq < N_FRAMES);
    uint32_t plen = payload_len(seq);
    assert_int_equal(p->len, 42 + plen);
    for (uint32_t i = 4; i < plen; i++)
        if (udp[8 + i] != payload_byte(seq, i))
            fail_msg("seq %u: payload byte %u differs", seq, i);
    return seq;
}

/* Receives on `to` until `want` frames arrived (each checked, each seq seen
 * once), reaping the sender's completions meanwhile. Bounded. */
static void recv_all(struct side *from, struct side *to, unsigned want,
                     uint8_t *seen, unsigned *got)
{
    for (unsigned round = 0; *got < want && round < WAIT_ROUNDS; ) {
        struct vf_pkt *pkts[VF_BURST_MAX];
        unsigned k = vf_port_rx_burst(to->port, 0, pkts, VF_BURST_MAX,
                                      &to->cache);
        for (unsigned i = 0; i < k; i++) {
            unsigned seq = check_frame(pkts[i], from, to);
            assert_int_equal(seen[seq], 0);
            seen[seq] = 1;
        }
        vf_pool_free_burst(&to->cache, pkts, k);
        *got += k;
        vf_udp_port_reap(from->port, 0, &from->cache);
        if (k == 0) {
            struct pollfd pfd = {.fd = to->port->ops->wait_fd(to->port, 0),
                                 .events = POLLIN};
            poll(&pfd, 1, 5);
            round++;
        }
    }
}

/* Sends N_FRAMES from -> to in bursts of `burst`, resubmitting what a call
 * did not accept, and receives them all. Returns the not-accepted count. */
static uint64_t send_and_recv(struct side *from, struct side *to,
                              unsigned burst)
{
    uint8_t seen[N_FRAMES] = {0};
    unsigned sent = 0, got = 0;
    uint64_t refused = 0;
    for (unsigned iter = 0; sent < N_FRAMES && iter < 100000; iter++) {
        struct vf_pkt *pkts[VF_BURST_MAX];
        unsigned n = N_FRAMES - sent < burst ? N_FRAMES - sent : burst;
        assert_int_equal(vf_pool_alloc_burst(&from->cache, pkts, n), n);
        for (unsigned i = 0; i < n; i++)
            build_frame(pkts[i], &to->addr, sent + i);
        unsigned acc = vf_port_tx_burst(from->port, 0, pkts, n, &from->cache);
        assert_true(acc <= n);
        refused += n - acc;
        vf_pool_free_burst(&from->cache, pkts + acc, n - acc);
        sent += acc;
        /* Keep the receiver's socket from overflowing: take what came. */
        recv_all(from, to, sent, seen, &got);
    }
    assert_int_equal(sent, N_FRAMES);
    recv_all(from, to, N_FRAMES, seen, &got);
    assert_int_equal(got, N_FRAMES);
    /* Drain the sender: every send (and zero-copy notification) completes. */
    for (unsigned i = 0; i < WAIT_ROUNDS &&
                         vf_udp_port_reap(from->port, 0, &from->cache);
         i++)
        usleep(1000);
    assert_int_equal(vf_udp_port_reap(from->port, 0, &from->cache), 0);
    return refused;
}

static uint64_t bytes_of_all(void)
{
    uint64_t b = 0;
    for (unsigned s = 0; s < N_FRAMES; s++)
        b += 42 + payload_len(s);
    return b;
}

static void exchange(int variant)
{
    struct vf_udp_opts o;
    struct side a, b;
    variant_opts(variant, &o);
    side_open(&a, &o);
    side_open(&b, &o);
    assert_int_not_equal(a.addr.sin_port, b.addr.sin_port);

    uint64_t ra = send_and_recv(&a, &b, 16);
    uint64_t rb = send_and_recv(&b, &a, 32);

    struct vf_port_stats sa, sb;
    vf_port_stats_sum(a.port, &sa);
    vf_port_stats_sum(b.port, &sb);
    assert_int_equal(sa.tx_pkts, N_FRAMES);
    assert_int_equal(sb.rx_pkts, N_FRAMES);
    assert_int_equal(sb.tx_pkts, N_FRAMES);
    assert_int_equal(sa.rx_pkts, N_FRAMES);
    assert_int_equal(sa.tx_bytes, bytes_of_all());
    assert_int_equal(sb.rx_bytes, bytes_of_all());
    /* Refused packets are the caller's to count (vf_port.h): the port
     * itself counts none here, whatever it refused (ra, rb). */
    (void)ra;
    (void)rb;
    assert_int_equal(sa.tx_drops, 0);
    assert_int_equal(sb.tx_drops, 0);
    assert_int_equal(sa.rx_errors, 0);
    assert_int_equal(sb.rx_errors, 0);

    /* Zero copy: every send's notification came back (and freed it). */
    struct vf_udp_q_info ia, ib;
    assert_int_equal(vf_udp_port_q_info(a.port, 0, &ia), 0);
    assert_int_equal(vf_udp_port_q_info(b.port, 0, &ib), 0);
    assert_int_equal(ia.zc_notifs, o.send_zc ? N_FRAMES : 0);
    assert_int_equal(ib.zc_notifs, o.send_zc ? N_FRAMES : 0);
    assert_int_equal(ia.tx_inflight, 0);

    side_close(&a);
    side_close(&b);
}

static void test_exchange_multishot(void **st) { (void)st; exchange(0); }
static void test_exchange_send_zc(void **st) { (void)st; exchange(1); }
static void test_exchange_zc_fixed(void **st) { (void)st; exchange(2); }
static void test_exchange_syscall(void **st) { (void)st; exchange(3); }

/* A port anyone holds is refused with the address in the message, whether
 * the holder used SO_REUSEPORT (another uplink) or not (any program). */
static void test_bind_in_use(void **st)
{
    (void)st;
    char err[256], bind_s[64];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 1024,
                                          VF_PKT_DEFAULT_DATA_ROOM, err,
                                          sizeof(err));
    assert_non_null(pool);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    snprintf(bind_s, sizeof(bind_s), "127.0.0.1:%u", ntohs(a.sin_port));
    for (int v = 0; v < 4; v++) {
        struct vf_udp_opts o;
        err[0] = '\0';
        assert_null(vf_udp_port_open("up", bind_s, 1, variant_opts(v, &o),
                                     &pool, err, sizeof(err)));
        assert_non_null(strstr(err, bind_s));
        assert_non_null(strstr(err, "in use"));
    }
    close(fd);

    struct vf_port *first = vf_udp_port_open("up", bind_s, 1, NULL, &pool,
                                             err, sizeof(err));
    if (!first)
        fail_msg("open after release: %s", err);
    assert_null(vf_udp_port_open("up2", bind_s, 1, NULL, &pool, err,
                                 sizeof(err)));
    assert_non_null(strstr(err, bind_s));
    vf_port_close(first);

    /* Malformed addresses are named too. */
    assert_null(vf_udp_port_open("up", "127.0.0.1", 1, NULL, &pool, err,
                                 sizeof(err)));
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_null(vf_udp_port_open("up", "300.0.0.1:5", 1, NULL, &pool, err,
                                 sizeof(err)));
    assert_non_null(strstr(err, "300.0.0.1:5"));
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

/* Out of descriptors: the reuse probe's socket() fails, and the message
 * says so (not "bind ...: in use", which would send an operator looking
 * for another program on the port). */
static void test_open_out_of_fds(void **st)
{
    (void)st;
    char err[256];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 1024,
                                          VF_PKT_DEFAULT_DATA_ROOM, err,
                                          sizeof(err));
    assert_non_null(pool);
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = dup(0);      /* the next descriptor socket() would get */
    assert_true(lowest >= 0);
    close(lowest);
    low = old;
    low.rlim_cur = (rlim_t)lowest;   /* no descriptor left below the limit */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    err[0] = '\0';
    struct vf_port *p = vf_udp_port_open("up", "127.0.0.1:47999", 1, NULL,
                                         &pool, err, sizeof(err));
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_null(p);
    assert_non_null(strstr(err, "socket"));
    assert_non_null(strstr(err, "127.0.0.1:47999"));
    assert_non_null(strstr(err, strerror(EMFILE)));
    assert_null(strstr(err, "in use"));
    assert_int_equal(vf_pool_in_use(pool), 0);
    vf_pool_destroy(pool);
}

/* Zero copy: a packet stays owned by the port (counted in use) until its
 * notification; after draining, every buffer but the rx ring's is back. */
static void test_send_zc_release(void **st)
{
    (void)st;
    struct vf_udp_opts o;
    struct side a, b;
    variant_opts(1, &o);
    side_open(&a, &o);
    side_open(&b, &o);
    unsigned ring = o.ring_depth;
    vf_pool_cache_flush(&a.cache);
    assert_int_equal(vf_pool_in_use(a.pool), ring);

    struct vf_pkt *pkts[32];
    assert_int_equal(vf_pool_alloc_burst(&a.cache, pkts, 32), 32);
    for (unsigned i = 0; i < 32; i++)
        build_frame(pkts[i], &b.addr, i);
    assert_int_equal(vf_port_tx_burst(a.port, 0, pkts, 32, &a.cache), 32);
    /* Whatever has completed so far, in_use must cover every packet the
     * port still holds: the ring's buffers plus the sends in flight. */
    for (unsigned i = 0; i < WAIT_ROUNDS; i++) {
        unsigned inflight = vf_udp_port_reap(a.port, 0, &a.cache);
        vf_pool_cache_flush(&a.cache);
        assert_int_equal(vf_pool_in_use(a.pool), ring + inflight);
        if (inflight == 0)
            break;
        usleep(1000);
    }
    assert_int_equal(vf_udp_port_reap(a.port, 0, &a.cache), 0);
    vf_pool_cache_flush(&a.cache);
    assert_int_equal(vf_pool_in_use(a.pool), ring);

    uint8_t seen[N_FRAMES] = {0};
    unsigned got = 0;
    recv_all(&a, &b, 32, seen, &got);
    assert_int_equal(got, 32);
    side_close(&a);      /* asserts in_use 0 once the port is closed */
    side_close(&b);
}

/* A burst above the ring depth: the port accepts what fits, the caller
 * resubmits the rest, and nothing accepted is lost (the receiver, with the
 * same small ring, also runs its buffer ring dry and must rearm). */
static void test_burst_over_depth(void **st)
{
    (void)st;
    struct vf_udp_opts o;
    struct side a, b;
    vf_udp_opts_default(&o);
    o.ring_depth = 8;
    for (int zc = 0; zc < 2; zc++) {
        o.send_zc = zc;
        side_open(&a, &o);
        side_open(&b, &o);
        uint64_t refused = send_and_recv(&a, &b, 64);
        assert_true(refused > 0);     /* 64 > 8 slots: some were refused */
        struct vf_port_stats sa, sb;
        vf_port_stats_sum(a.port, &sa);
        vf_port_stats_sum(b.port, &sb);
        assert_int_equal(sa.tx_pkts, N_FRAMES);
        assert_int_equal(sa.tx_drops, 0);   /* refusals: the caller's count */
        assert_int_equal(sb.rx_pkts, N_FRAMES);
        assert_int_equal(sb.rx_errors, 0);
        struct vf_udp_q_info ib;
        assert_int_equal(vf_udp_port_q_info(b.port, 0, &ib), 0);
        assert_true(ib.rx_rearms > 0);   /* the small ring did run dry */
        side_close(&a);
        side_close(&b);
    }
}

/* wait_fd: not readable once rx_burst reported empty (no spinning worker),
 * readable again when a datagram arrives. */
static void test_wait_fd(void **st)
{
    (void)st;
    for (int v = 0; v < 4; v += 3) {
        struct vf_udp_opts o;
        struct side a, b;
        variant_opts(v, &o);
        side_open(&a, &o);
        side_open(&b, &o);
        struct vf_pkt *pk[VF_BURST_MAX];
        int fd = b.port->ops->wait_fd(b.port, 0);
        assert_true(fd >= 0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(vf_port_rx_burst(b.port, 0, pk, VF_BURST_MAX,
                                          &b.cache), 0);
        assert_int_equal(poll(&pfd, 1, 0), 0);

        struct vf_pkt *p = vf_pool_alloc(&a.cache);
        assert_non_null(p);
        build_frame(p, &b.addr, 7);
        assert_int_equal(vf_port_tx_burst(a.port, 0, &p, 1, &a.cache), 1);
        assert_int_equal(poll(&pfd, 1, 2000), 1);
        unsigned k = 0;
        for (int i = 0; i < WAIT_ROUNDS && k == 0; i++) {
            k = vf_port_rx_burst(b.port, 0, pk, VF_BURST_MAX, &b.cache);
            if (!k)
                usleep(1000);
        }
        assert_int_equal(k, 1);
        assert_int_equal(check_frame(pk[0], &a, &b), 7);
        vf_pool_free(&b.cache, pk[0]);
        for (int i = 0; i < WAIT_ROUNDS &&
                        vf_udp_port_reap(a.port, 0, &a.cache); i++)
            usleep(1000);
        side_close(&a);
        side_close(&b);
    }
}

/* Frames that are not Ethernet/IPv4/UDP are accepted, freed and counted
 * as drops, so one bad frame cannot stall a burst. */
static void test_malformed_tx(void **st)
{
    (void)st;
    for (int v = 0; v < 4; v += 3) {
        struct vf_udp_opts o;
        struct side a, b;
        variant_opts(v, &o);
        side_open(&a, &o);
        side_open(&b, &o);
        struct vf_pkt *pkts[3];
        assert_int_equal(vf_pool_alloc_burst(&a.cache, pkts, 3), 3);
        build_frame(pkts[0], &b.addr, 1);
        build_frame(pkts[1], &b.addr, 2);
        vf_pkt_data(pkts[1])[12] = 0x86;       /* IPv6 ethertype */
        build_frame(pkts[2], &b.addr, 3);
        assert_int_equal(vf_port_tx_burst(a.port, 0, pkts, 3, &a.cache), 3);
        uint8_t seen[N_FRAMES] = {0};
        unsigned got = 0;
        recv_all(&a, &b, 2, seen, &got);
        assert_int_equal(got, 2);
        assert_true(seen[1] && seen[3] && !seen[2]);
        for (int i = 0; i < WAIT_ROUNDS &&
                        vf_udp_port_reap(a.port, 0, &a.cache); i++)
            usleep(1000);
        struct vf_port_stats sa;
        vf_port_stats_sum(a.port, &sa);
        assert_int_equal(sa.tx_pkts, 2);
        assert_int_equal(sa.tx_drops, 1);
        side_close(&a);
        side_close(&b);
    }
}

/* The deployment shape: the management thread opens, a worker thread
 * serves the queue and sleeps in poll() on wait_fd between bursts; every
 * frame sent from another thread wakes it and arrives. */
struct worker_arg {
    struct side *from, *to;
    unsigned got, sleeps;
    uint8_t seen[N_FRAMES];
};

static void *worker_main(void *p)
{
    struct worker_arg *w = p;
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    if (!c)
        return NULL;
    vf_pool_cache_init(c, w->to->pool);
    int fd = w->to->port->ops->wait_fd(w->to->port, 0);
    for (unsigned round = 0; w->got < N_FRAMES && round < WAIT_ROUNDS;) {
        struct vf_pkt *pk[VF_BURST_MAX];
        unsigned k = vf_port_rx_burst(w->to->port, 0, pk, VF_BURST_MAX, c);
        for (unsigned i = 0; i < k; i++) {
            unsigned seq;
            memcpy(&seq, vf_pkt_data(pk[i]) + 42, 4);
            if (seq < N_FRAMES)
                w->seen[seq]++;
        }
        vf_pool_free_burst(c, pk, k);
        w->got += k;
        if (k == 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            w->sleeps++;
            if (poll(&pfd, 1, 5) == 0)
                round++;
        }
    }
    vf_pool_cache_flush(c);
    free(c);
    return NULL;
}

static void test_worker_thread(void **st)
{
    (void)st;
    for (int v = 0; v < 4; v += 3) {
        struct vf_udp_opts o;
        struct side a, b;
        variant_opts(v, &o);
        side_open(&a, &o);
        side_open(&b, &o);
        struct worker_arg *w = calloc(1, sizeof(*w));
        assert_non_null(w);
        w->from = &a;
        w->to = &b;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, worker_main, w), 0);
        usleep(20000);              /* let the worker arm and go to sleep */
        for (unsigned sent = 0; sent < N_FRAMES;) {
            struct vf_pkt *pk[10];
            assert_int_equal(vf_pool_alloc_burst(&a.cache, pk, 10), 10);
            for (unsigned i = 0; i < 10; i++)
                build_frame(pk[i], &b.addr, sent + i);
            unsigned acc = vf_port_tx_burst(a.port, 0, pk, 10, &a.cache);
            vf_pool_free_burst(&a.cache, pk + acc, 10 - acc);
            sent += acc;
            usleep(200);            /* trickle: the worker sleeps between */
        }
        pthread_join(t, NULL);
        assert_int_equal(w->got, N_FRAMES);
        for (unsigned i = 0; i < N_FRAMES; i++)
            assert_int_equal(w->seen[i], 1);
        assert_true(w->sleeps > 0);
        for (int i = 0; i < WAIT_ROUNDS &&
                        vf_udp_port_reap(a.port, 0, &a.cache); i++)
            usleep(1000);
        free(w);
        side_close(&a);
        side_close(&b);
    }
}

/* A multishot port of ring depth `depth` on a fresh pool of n_bufs
 * buffers of data_room bytes. */
static void side_open_on(struct side *b, unsigned n_bufs, unsigned data_room,
                         unsigned depth)
{
    struct vf_udp_opts o;
    char err[256];
    vf_udp_opts_default(&o);
    o.ring_depth = depth;
    b->pool = vf_pool_create(NULL, -1, n_bufs, data_room, err, sizeof(err));
    assert_non_null(b->pool);
    vf_pool_cache_init(&b->cache, b->pool);
    b->port = vf_udp_port_open("up", "127.0.0.1:0", 1, &o, &b->pool, err,
                               sizeof(err));
    if (!b->port)
        fail_msg("open: %s", err);
    assert_int_equal(vf_udp_port_addr(b->port, &b->addr), 0);
}

/* Sends n datagrams of plen bytes (byte i of datagram k is k*3+i) from a
 * plain socket to `to`; returns the socket for more. */
static int plain_send(int fd, const struct sockaddr_in *to, unsigned first,
                      unsigned n, uint32_t plen)
{
    static uint8_t buf[4096];
    if (fd < 0)
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0 && plen <= sizeof(buf));
    for (unsigned k = first; k < first + n; k++) {
        for (uint32_t i = 0; i < plen; i++)
            buf[i] = (uint8_t)(k * 3 + i);
        assert_int_equal(sendto(fd, buf, plen, 0, (const struct sockaddr *)to,
                                sizeof(*to)), (ssize_t)plen);
    }
    return fd;
}

/* Receives into held[] until the port has accounted for `want` datagrams
 * (received or dropped for want of a buffer). Bounded. */
static unsigned recv_until(struct side *b, struct vf_pool_cache *c,
                           struct vf_pkt **held, unsigned cap, uint64_t want)
{
    unsigned got = 0;
    for (unsigned round = 0; round < WAIT_ROUNDS;) {
        unsigned k = vf_port_rx_burst(b->port, 0, held + got,
                                      cap - got < VF_BURST_MAX ? cap - got
                                                               : VF_BURST_MAX,
                                      c);
        got += k;
        struct vf_port_stats st;
        vf_port_stats_sum(b->port, &st);
        if (st.rx_pkts + st.rx_no_buffer >= want)
            break;
        if (k == 0) {
            struct pollfd pfd = {.fd = b->port->ops->wait_fd(b->port, 0),
                                 .events = POLLIN};
            poll(&pfd, 1, 5);
            round++;
        }
    }
    return got;
}

/* The pool runs dry while every received frame is held: the ring is still
 * refilled from the pool's reserve, which ordinary allocations cannot
 * touch, and once that is gone each datagram is dropped and counted in
 * rx_no_buffer, never in rx_errors; frees bring reception back. */
static void test_rx_no_buffer(void **st)
{
    (void)st;
    enum { DEPTH = 8, SPARE = 40, N = 100 };
    struct side b;
    static struct vf_pkt *held[N + 10];

    side_open_on(&b, DEPTH + SPARE, VF_PKT_DEFAULT_DATA_ROOM, DEPTH);
    assert_int_equal(b.port->rx_hold, 2 * DEPTH);
    assert_int_equal(b.port->tx_hold, DEPTH);
    vf_pool_set_reserve(b.pool, SPARE);
    assert_null(vf_pool_alloc(&b.cache));    /* all of it is reserve */

    int fd = -1;
    unsigned got = 0;
    for (unsigned sent = 0; sent < N; sent += 10) {
        fd = plain_send(fd, &b.addr, sent, 10, 64);
        got += recv_until(&b, &b.cache, held + got, N - got, sent + 10);
    }
    struct vf_port_stats s;
    vf_port_stats_sum(b.port, &s);
    assert_int_equal(got, SPARE);
    assert_int_equal(s.rx_pkts, SPARE);
    assert_int_equal(s.rx_no_buffer, N - SPARE);
    assert_int_equal(s.no_buffer, N - SPARE);
    assert_int_equal(s.rx_errors, 0);

    /* Given back, the buffers carry the next datagrams again. */
    vf_pool_free_burst(&b.cache, held, got);
    got = 0;
    fd = plain_send(fd, &b.addr, N, 10, 64);
    got = recv_until(&b, &b.cache, held, 10, N + 10);
    assert_int_equal(got, 10);
    for (unsigned i = 0; i < got; i++)
        assert_int_equal(vf_pkt_data(held[i])[42], (uint8_t)((N + i) * 3));
    vf_pool_free_burst(&b.cache, held, got);
    vf_port_stats_sum(b.port, &s);
    assert_int_equal(s.rx_no_buffer, N - SPARE);
    assert_int_equal(s.rx_errors, 0);
    close(fd);
    side_close(&b);
}

/* Copy-break: a port whose ring holds buffers of another pool than the
 * caller's cache (a GRO port on 64 KB buffers) hands single datagrams over
 * in the caller's pool and keeps its own buffers in the ring; a datagram
 * too big for the caller's buffers stays in the large one, whose place a
 * fresh large buffer takes. */
static void test_copy_break(void **st)
{
    (void)st;
    enum { DEPTH = 8, SMALL = 20, BIG = 2 };
    struct side b;
    char err[256];
    struct vf_pkt *held[SMALL + BIG];

    side_open_on(&b, 64, 8192, DEPTH);
    struct vf_pool *small = vf_pool_create(NULL, -1, 64,
                                           VF_PKT_DEFAULT_DATA_ROOM, err,
                                           sizeof(err));
    assert_non_null(small);
    static struct vf_pool_cache sc;
    vf_pool_cache_init(&sc, small);

    int fd = plain_send(-1, &b.addr, 0, SMALL, 100);
    unsigned got = recv_until(&b, &sc, held, SMALL, SMALL);
    assert_int_equal(got, SMALL);
    assert_int_equal(vf_pool_in_use(b.pool), DEPTH);    /* only the ring */
    assert_int_equal(vf_pool_in_use(small), SMALL);
    plain_send(fd, &b.addr, SMALL, BIG, 3000);
    got += recv_until(&b, &sc, held + got, BIG, SMALL + BIG);
    assert_int_equal(got, SMALL + BIG);
    assert_int_equal(vf_pool_in_use(b.pool), DEPTH + BIG);
    for (unsigned k = 0; k < got; k++) {
        const uint8_t *f = vf_pkt_data(held[k]);
        uint32_t plen = k < SMALL ? 100 : 3000;
        assert_ptr_equal(held[k]->pool, k < SMALL ? small : b.pool);
        assert_int_equal(held[k]->len, 42 + plen);
        assert_int_equal(held[k]->gso_size, 0);
        for (uint32_t i = 0; i < plen; i++)
            if (f[42 + i] != (uint8_t)(k * 3 + i))
                fail_msg("datagram %u: byte %u differs", k, i);
    }
    struct vf_port_stats s;
    vf_port_stats_sum(b.port, &s);
    assert_int_equal(s.rx_pkts, SMALL + BIG);
    assert_int_equal(s.no_buffer + s.rx_errors, 0);
    vf_pool_free_burst(&sc, held, got);
    vf_pool_cache_flush(&sc);
    assert_int_equal(vf_pool_in_use(small), 0);
    close(fd);
    side_close(&b);
    vf_pool_destroy(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_multishot),
        cmocka_unit_test(test_exchange_send_zc),
        cmocka_unit_test(test_exchange_zc_fixed),
        cmocka_unit_test(test_exchange_syscall),
        cmocka_unit_test(test_bind_in_use),
        cmocka_unit_test(test_open_out_of_fds),
        cmocka_unit_test(test_send_zc_release),
        cmocka_unit_test(test_burst_over_depth),
        cmocka_unit_test(test_wait_fd),
        cmocka_unit_test(test_malformed_tx),
        cmocka_unit_test(test_worker_thread),
        cmocka_unit_test(test_rx_no_buffer),
        cmocka_unit_test(test_copy_break),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
