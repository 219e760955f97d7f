/* udp_impl.h - the UDP uplink's parts (vf_port_udp.h), one job per file:
 *   port_udp.c   options, frames (find the payload, synthesise the outer
 *                headers), open and close, the ops tables, info;
 *   udp_uring.c  the io_uring mode: multishot receive into a
 *                provided-buffer ring, sendmsg (or zero-copy) per frame;
 *   udp_sys.c    the syscall mode: recvmmsg / sendmmsg;
 *   udp_gso.c    GSO batches (UDP_SEGMENT sends), for both modes.
 *
 * io_uring mode: per queue one io_uring whose completion queue carries
 * two kinds of CQE, told apart by the tag in the top bits of user_data:
 * the multishot recvmsg (UDP_TAG_RECV), and sends (UDP_TAG_SEND | slot),
 * which in zero-copy mode complete twice (result, then notification).
 * Whoever polls the CQ (rx_burst, tx_burst, reap) handles every kind, so a
 * datagram received during a tx call is staged for the next rx_burst and a
 * send completed during an rx call frees its packet at once.
 *
 * Thread-safety: as vf_port_udp.h. Each field of struct udp_q says who
 * writes it: open and close run on the management thread while no worker
 * serves the queue; everything else belongs to the queue's worker.
 */
#ifndef VF_UDP_IMPL_H
#define VF_UDP_IMPL_H

#include <liburing.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fabric/vf_port_udp.h"
#include "numa/vf_wire.h"

/* user_data of the io_uring mode's CQEs (see above). */
#define UDP_TAG_SHIFT 60
#define UDP_TAG_RECV (1ull << UDP_TAG_SHIFT)
#define UDP_TAG_SEND (2ull << UDP_TAG_SHIFT)
#define UDP_TAG_SLOT_MASK ((1ull << UDP_TAG_SHIFT) - 1)
#define UDP_BGID 0            /* each queue has its own ring: one group */
#define UDP_FILE_IDX 0        /* the socket is fixed file 0 of its ring */
/* Room for IP_PKTINFO in a control buffer; a macro so arrays can use it. */
#define UDP_CTL_LEN CMSG_SPACE(sizeof(struct in_pktinfo))
/* Room for the UDP_GRO segment size as well (opts.gro). */
#define UDP_GRO_CTL_LEN CMSG_SPACE(sizeof(int))

struct udp_txslot {
    struct vf_pkt *pkt;
    uint32_t frame_len;
    struct msghdr msg;    /* must live until the send's first CQE */
    struct iovec iov;
    struct sockaddr_in dst;
};

/* One queue. "open" fields are written by vf_udp_port_open on the
 * management thread and only read afterwards; "worker" fields are the
 * queue's worker's (rw), touched by mgmt only at open and close, when no
 * worker serves the queue. */
struct udp_q {
    /* open */
    int fd;
    int efd;              /* io_uring mode: eventfd registered with ring */
    bool has_ring;
    struct vf_pool *pool;
    struct io_uring_buf_ring *br;   /* provided-buffer ring (kernel reads) */
    size_t br_bytes;
    uintptr_t fb_base;    /* the fixed buffer (fixed_bufs): the pool's region */
    size_t fb_len;
    /* The io_uring: submitted to and polled by the worker; set up and
     * torn down by mgmt (no SINGLE_ISSUER, vf_port_udp.h). */
    struct io_uring ring;

    /* worker */
    bool rx_armed;        /* the multishot recvmsg is live */
    bool armed_once;      /* the worker armed it at least once */
    bool cqe_since_drain; /* a CQE was seen since the eventfd was drained */
    unsigned br_pending;  /* buffers added to br but not yet published */
    /* Refills the provided buffers when the worker's cache serves another
     * pool (a GRO port on large buffers). */
    struct vf_pool_cache *own_cache;
    /* udp_copy_breaks(): the worker's pool and its data room. */
    const struct vf_pool *cb_pool;
    uint32_t cb_room;
    struct vf_pkt **bufs; /* bid -> packet whose data room the kernel owns */
    struct msghdr rx_msg; /* multishot template: name and control lengths
                           * (open: set; the kernel reads it) */
    /* received, not yet returned by rx_burst: FIFO of depth entries */
    struct vf_pkt **stage;
    unsigned st_head, st_n;
    /* tx slots: free stack and per-slot state */
    struct udp_txslot *tx;
    unsigned *tx_free;
    unsigned n_tx_free;
    /* Plain counters: read by vf_udp_port_q_info from the worker, or while
     * no worker serves the queue. */
    uint64_t zc_notifs, zc_copied, rx_rearms;
    /* syscall mode scratch, burst entries each */
    struct mmsghdr *mm;
    struct iovec *mm_iov;
    struct sockaddr_in *mm_name;
    uint8_t (*mm_ctl)[UDP_CTL_LEN];
};

/* open: written by vf_udp_port_open, read-only afterwards. */
struct udp_port {
    struct vf_udp_opts o;
    struct sockaddr_in addr;  /* bound address, port resolved */
    bool pktinfo;             /* bound to 0.0.0.0: learn dst per datagram */
    unsigned rx_hdr;          /* recvmsg_out + name + control before payload */
    unsigned n_queues;
    struct udp_q q[];
};

static inline struct udp_port *udp_of(struct vf_port *p)
{
    return p->priv;
}

/* rx_burst's epilogue in both modes: n frames of `bytes` bytes received. */
static inline void udp_count_rx(struct vf_port *p, unsigned qi, unsigned n,
                                uint64_t bytes)
{
    if (n) {
        vf_stat_add(&p->qstats[qi].rx_pkts, n);
        vf_stat_add(&p->qstats[qi].rx_bytes, bytes);
    }
}

/* ---- frames (port_udp.c) ---- */

/* The UDP payload's offset in a full tunnel frame and its outer
 * destination; 0 when the frame is not Ethernet/IPv4/UDP. batch: a GSO
 * batch, whose payload runs to the end of the frame. */
uint32_t udp_frame_parse(const uint8_t *f, uint32_t len,
                         struct sockaddr_in *dst, uint32_t *plen, bool batch);
/* Outer Ethernet/IPv4/UDP headers in front of a payload that starts at
 * data_off + VF_UDP_OUTER_HDRS, made part of the frame. */
void udp_frame_synth(struct vf_pkt *p, uint32_t plen,
                     const struct sockaddr_in *src, uint32_t dst_ip,
                     uint16_t dst_port_be);
/* A received datagram's destination address (IP_PKTINFO or the bound one). */
uint32_t udp_dgram_dst(const struct udp_port *u, struct msghdr *mh,
                       struct cmsghdr *first);

/* ---- the io_uring mode (udp_uring.c) ---- */
int udp_uring_q_open(struct udp_port *u, struct udp_q *q, const char *name,
                     char *err, size_t errlen);
/* Handles the ready CQEs of queue qi (see udp_uring.c); the worker's, or
 * mgmt's at close. */
void udp_uring_cq_poll(struct vf_port *p, unsigned qi, struct vf_pool_cache *cache);
unsigned udp_uring_rx_burst(struct vf_port *p, unsigned qi, struct vf_pkt **pkts,
                            unsigned n, struct vf_pool_cache *cache);
/* Sends a run of ordinary frames (no GSO batch among them). */
unsigned udp_uring_tx_run(struct vf_port *p, unsigned qi, struct vf_pkt **pkts,
                          unsigned n, struct vf_pool_cache *cache);
int udp_uring_wait_fd(struct vf_port *p, unsigned qi);

/* ---- the syscall mode (udp_sys.c) ---- */
int udp_sys_q_open(struct udp_port *u, struct udp_q *q);
unsigned udp_sys_rx_burst(struct vf_port *p, unsigned qi, struct vf_pkt **pkts,
                          unsigned n, struct vf_pool_cache *cache);
unsigned udp_sys_tx_run(struct vf_port *p, unsigned qi, struct vf_pkt **pkts,
                        unsigned n, struct vf_pool_cache *cache);
int udp_sys_wait_fd(struct vf_port *p, unsigned qi);

/* ---- tx_burst of both modes: runs and GSO batches in order (udp_gso.c) ---- */
unsigned udp_uring_tx_burst(struct vf_port *p, unsigned qi, struct vf_pkt **pkts,
                            unsigned n, struct vf_pool_cache *cache);
unsigned udp_sys_tx_burst(struct vf_port *p, unsigned qi, struct vf_pkt **pkts,
                          unsigned n, struct vf_pool_cache *cache);

#endif
