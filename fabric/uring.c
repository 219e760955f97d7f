/* uring.c - io_uring setup shared by the tap and UDP ports (vf_uring.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fabric/vf_uring.h"

int vf_uring_queue_init(struct io_uring *ring, unsigned sq_entries,
                        unsigned cq_entries)
{
    struct io_uring_params prm;

    memset(&prm, 0, sizeof(prm));
    prm.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
                IORING_SETUP_TASKRUN_FLAG;
    prm.cq_entries = cq_entries;
    int r = io_uring_queue_init_params(sq_entries, ring, &prm);
    if (r == -EINVAL) {   /* a kernel before 5.19: plain task work */
        memset(&prm, 0, sizeof(prm));
        prm.flags = IORING_SETUP_CQSIZE;
        prm.cq_entries = cq_entries;
        r = io_uring_queue_init_params(sq_entries, ring, &prm);
    }
    return r;
}

int vf_uring_buf_ring_setup(struct io_uring *ring, unsigned entries,
                            unsigned bgid, struct io_uring_buf_ring **br,
                            size_t *bytes)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (entries * sizeof(struct io_uring_buf) + pg - 1) & ~(pg - 1);
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    *br = NULL;
    *bytes = 0;
    if (m == MAP_FAILED)
        return -errno;
    *br = m;
    *bytes = len;
    io_uring_buf_ring_init(*br);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)(uintptr_t)m,
        .ring_entries = entries,
        .bgid = (uint16_t)bgid,
    };
    return io_uring_register_buf_ring(ring, &reg, 0);
}
