/* test_verbs_hw.c - the verbs uplink on a real RDMA device (the real
 * libibverbs; no fake here).
 *
 * Skips (exit 77) and says why when the machine has no RDMA device, no
 * Ethernet (RoCE) port, or no right to create raw packet QPs (root or
 * CAP_NET_RAW). Otherwise it opens the device (VF_VERBS_DEVICE, or the
 * first one with an Ethernet port 1; VF_VERBS_PORT picks the port), sends
 * 64 Geneve-port UDP frames addressed to its own MAC and waits up to two
 * seconds to receive them back through its steering rule: the NIC's
 * embedded switch loops unicast frames to the local MAC back to the
 * function. Every frame must come back intact, and every buffer must be
 * back in the pool after close.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <infiniband/verbs.h>

#include "fabric/vf_port_verbs.h"
#include "numa/vf_pool.h"
#include "vf_test_pkt.h"

#define SKIP 77
#define N_FRAMES 64
#define MAGIC 0x76666162u   /* "vfab" */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The MAC of the netdev behind an RDMA device, from sysfs. */
static int read_mac(const char *dev, uint8_t mac[6])
{
    char path[512];
    snprintf(path, sizeof(path), "/sys/class/infiniband/%s/device/net", dev);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = -1;
    while (rc != 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char ap[1024];
        snprintf(ap, sizeof(ap), "%s/%s/address", path, e->d_name);
        FILE *f = fopen(ap, "r");
        if (!f)
            continue;
        unsigned m[6];
        if (fscanf(f, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
                   &m[5]) == 6) {
            for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)m[i];
            rc = 0;
        }
        fclose(f);
    }
    closedir(d);
    return rc;
}

/* The device to test: VF_VERBS_DEVICE, or the first with an Ethernet port. */
static int pick_device(char *name, size_t len, int port)
{
    int num = 0;
    errno = 0;
    struct ibv_device **list = ibv_get_device_list(&num);
    if (!list || num == 0) {
        printf("SKIP: no RDMA device on this machine (ibv_get_device_list: %s)\n",
               list ? "no devices" : strerror(errno ? errno : ENODEV));
        if (list)
            ibv_free_device_list(list);
        return SKIP;
    }
    const char *want = getenv("VF_VERBS_DEVICE");
    int rc = SKIP;
    for (int i = 0; i < num && rc != 0; i++) {
        const char *nm = ibv_get_device_name(list[i]);
        if (want && strcmp(want, nm) != 0)
            continue;
        struct ibv_context *ctx = ibv_open_device(list[i]);
        if (!ctx)
            continue;
        struct ibv_port_attr pa;
        if (ibv_query_port(ctx, (uint8_t)port, &pa) == 0 &&
            pa.link_layer == IBV_LINK_LAYER_ETHERNET) {
            snprintf(name, len, "%s", nm);
            rc = 0;
        }
        ibv_close_device(ctx);
    }
    ibv_free_device_list(list);
    if (rc)
        printf("SKIP: no RDMA device%s%s with an Ethernet port %d (raw packet "
               "QPs need RoCE/Ethernet)\n", want ? " named " : "",
               want ? want : "", port);
    return rc;
}

int main(void)
{
    char dev[64];
    const char *ps = getenv("VF_VERBS_PORT");
    int port = ps ? atoi(ps) : 1;
    int rc = pick_device(dev, sizeof(dev), port);
    if (rc)
        return rc;

    struct vf_verbs_opts o = {.rq_size = 256, .sq_size = 256};
    uint8_t mac[6] = {0x02, 0x76, 0x66, 0x61, 0x62, 0x01};
    if (read_mac(dev, mac) == 0) {
        o.has_mac = true;
        memcpy(o.local_mac, mac, 6);
    }
    char err[512];
    struct vf_pool *pool = vf_pool_create(NULL, -1, 4096, VF_PKT_DEFAULT_DATA_ROOM,
                                          err, sizeof(err));
    if (!pool) {
        printf("FAIL: pool: %s\n", err);
        return 1;
    }
    struct vf_port *p = vf_verbs_port_open("hw-uplink", dev, port, 1, &pool, &o,
                                           err, sizeof(err));
    if (!p) {
        vf_pool_destroy(pool);
        if (strstr(err, "CAP_NET_RAW")) {
            printf("SKIP: %s\n", err);
            return SKIP;
        }
        printf("FAIL: open: %s\n", err);
        return 1;
    }
    struct vf_verbs_info info;
    vf_verbs_port_info(p, &info);
    printf("device %s port %d: rss %d, %u flows, rq %u, sq %u, mac %02x:%02x:%02x:%02x:%02x:%02x\n",
           dev, port, info.rss, info.n_flows, info.rq_size, info.sq_size,
           mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);

    struct vf_pool_cache c;
    vf_pool_cache_init(&c, pool);
    struct vf_pkt *tx[N_FRAMES];
    uint8_t frames[N_FRAMES][128];
    size_t lens[N_FRAMES];
    if (vf_pool_alloc_burst(&c, tx, N_FRAMES) != N_FRAMES) {
        printf("FAIL: pool empty\n");
        return 1;
    }
    for (unsigned i = 0; i < N_FRAMES; i++) {
        struct vf_tpkt t;
        uint8_t pay[24];
        vf_tpkt_init(&t);
        memcpy(t.eth_dst, mac, 6);
        memcpy(t.eth_src, mac, 6);
        t.ip4_src = 0xc6120001;   /* 198.18.0.1: benchmarking range */
        t.ip4_dst = 0xc6120002;
        t.sport = (uint16_t)(49152 + i);
        t.dport = 6081;
        uint32_t magic = htonl(MAGIC), idx = htonl(i);
        memset(pay, 0xab, sizeof(pay));
        memcpy(pay, &magic, 4);
        memcpy(pay + 4, &idx, 4);
        t.payload = pay;
        t.payload_len = sizeof(pay);
        lens[i] = vf_tpkt_ip4_udp(frames[i], sizeof(frames[i]), &t);
        vf_pkt_set(tx[i], frames[i], (uint32_t)lens[i]);
    }
    unsigned sent = vf_port_tx_burst(p, 0, tx, N_FRAMES, &c);
    if (sent < N_FRAMES)
        vf_pool_free_burst(&c, tx + sent, N_FRAMES - sent);

    bool seen[N_FRAMES] = {false};
    unsigned got = 0, other = 0, bad = 0;
    double end = now_s() + 2.0;
    while (got < sent && now_s() < end) {
        struct vf_pkt *r[VF_BURST_MAX];
        unsigned n = vf_port_rx_burst(p, 0, r, VF_BURST_MAX, &c);
        for (unsigned i = 0; i < n; i++) {
            const uint8_t *d = vf_pkt_data(r[i]);
            uint32_t magic, idx;
            if (r[i]->len < 42 + 8) {
                other++;
                continue;
            }
            memcpy(&magic, d + 42, 4);
            memcpy(&idx, d + 46, 4);
            idx = ntohl(idx);
            if (ntohl(magic) != MAGIC || idx >= N_FRAMES) {
                other++;
                continue;
            }
            /* The NIC may pad short frames to 60 bytes. */
            if (r[i]->len < lens[idx] || memcmp(d, frames[idx], lens[idx]) != 0 ||
                seen[idx])
                bad++;
            else
                got++;
            seen[idx] = true;
        }
        vf_pool_free_burst(&c, r, n);
        vf_port_tx_burst(p, 0, NULL, 0, &c);   /* reap send completions */
    }
    struct vf_port_stats st;
    vf_port_stats_sum(p, &st);
    printf("sent %u, received %u of ours (%u damaged/duplicate), %u other frames; "
           "rx_errors %llu\n", sent, got, bad, other,
           (unsigned long long)st.rx_errors);
    vf_pool_cache_flush(&c);
    vf_port_close(p);
    unsigned left = vf_pool_in_use(pool);
    vf_pool_destroy(pool);

    if (sent != N_FRAMES) {
        printf("FAIL: the send queue took %u of %u frames\n", sent, N_FRAMES);
        return 1;
    }
    if (got != N_FRAMES || bad) {
        printf("FAIL: frames did not all come back. If none did, the NIC does "
               "not loop frames to its own MAC back to this function (check "
               "the eswitch / local loopback setting) or the steering rule "
               "did not match.\n");
        return 1;
    }
    if (left) {
        printf("FAIL: %u buffers still in use after close\n", left);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
