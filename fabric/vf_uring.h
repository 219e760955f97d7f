/* vf_uring.h - io_uring setup shared by the tap and UDP ports.
 *
 * What: the two steps both backends repeat per queue.
 *   - vf_uring_queue_init: an io_uring with a CQ of cq_entries and
 *     cooperative task work (IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG): a
 *     completion never interrupts the worker with an IPI (costly, above all
 *     in a VM); its work runs at the worker's next syscall, or wakes the
 *     worker sleeping in poll(), and the TASKRUN flag in the SQ ring tells
 *     a worker polling in user space to enter the kernel. A kernel before
 *     5.19 refuses the flags (-EINVAL): the ring is then set up with plain
 *     task work.
 *   - vf_uring_buf_ring_setup: a provided-buffer ring (IORING_REGISTER_PBUF_RING,
 *     Linux 5.19) of `entries` entries for buffer group bgid, in page-aligned
 *     anonymous memory the kernel reads entries from. liburing 2.3 (Debian
 *     12) has no io_uring_setup_buf_ring, hence this.
 *
 * Thread-safety: the caller's, at open (the management thread, while no
 * worker serves the queue).
 */
#ifndef VF_URING_H
#define VF_URING_H

#include <liburing.h>
#include <stddef.h>

/* 0 or a negative errno from io_uring_queue_init_params. */
int vf_uring_queue_init(struct io_uring *ring, unsigned sq_entries,
                        unsigned cq_entries);

/* Maps and registers the ring; *br and *bytes are set as soon as the
 * memory is mapped (so the caller's close path unmaps it whatever fails
 * after), NULL and 0 when mapping fails. 0 or a negative errno (mmap's, or
 * io_uring_register_buf_ring's). */
int vf_uring_buf_ring_setup(struct io_uring *ring, unsigned entries,
                            unsigned bgid, struct io_uring_buf_ring **br,
                            size_t *bytes);

#endif
