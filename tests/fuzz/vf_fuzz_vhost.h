/* vf_fuzz_vhost.h - the fake guest of fuzz_vhost.c: its memory, its rings
 * and the input format, shared with the seed writer (seeds_vhost.c).
 *
 * What: guest memory is three regions. A (at FV_GPA_A) holds both rings
 * and buffers; B and C follow each other in guest-physical space but not
 * in the backend's, so a buffer may run from B into C; between A and B
 * lies no memory. Ring 0 is the guest's RX ring (vfab enqueues), ring 1
 * its TX ring (vfab dequeues), as virtio-net numbers them; ring r's tables
 * sit at fixed offsets in A (FV_DESC_OFF and so on).
 *
 * Input: two header bytes, then operations until the input ends.
 *   byte 0: FV_F_* feature bits
 *   byte 1: ring sizes: bits 0-2 the RX ring's log2, bits 4-6 the TX
 *           ring's (each mod 7: 1 to 64 entries)
 *   operations: one byte (mod FV_OP__COUNT), then its arguments; "r" is a
 *   byte whose bit 0 picks the ring; numbers are little-endian:
 *     DESC    r, index (1), addr (8), len (4), flags (2), next (2)
 *     PUSH    r, head (2): the next avail entry, then avail->idx moves on
 *     IDX     r, idx (2): avail->idx set to anything
 *     WRITE   offset (4), n (1), n bytes: raw bytes anywhere in guest
 *             memory (offset into A, B, C laid end to end), rings included
 *     DEQ     n (1): one dequeue burst of up to n % 64 + 1 frames
 *     ENQ     count (1), then per packet len (2), gso (2), len bytes: one
 *             enqueue burst of count % 8 + 1 packets; gso bit 15 set: a
 *             TCP GSO packet with that MSS
 *     RESTART r: the frontend restarts the ring (quiesce, configure from
 *             its next avail index, publish)
 *     EVENT   r, avail flags (2), used_event (2)
 *     NOTIFY  r, on (1): vf_virtq_notify_enable or _disable
 *
 * Thread-safety: constants only.
 */
#ifndef VF_FUZZ_VHOST_H
#define VF_FUZZ_VHOST_H

#define FV_N_REG 3
#define FV_GPA_A 0x10000ull
#define FV_SIZE_A 0x10000u
#define FV_GPA_B 0x28000ull
#define FV_SIZE_B 0x2000u
#define FV_GPA_C (FV_GPA_B + FV_SIZE_B)
#define FV_SIZE_C 0x2000u
#define FV_MEM_TOTAL (FV_SIZE_A + FV_SIZE_B + FV_SIZE_C)

#define FV_RX 0
#define FV_TX 1
#define FV_QMAX 64u
/* Ring r's tables, as offsets in A (each fits the largest ring). */
#define FV_DESC_OFF(r) ((uint32_t)(r) * 0x1000u)
#define FV_AVAIL_OFF(r) (FV_DESC_OFF(r) + 0x400u)
#define FV_USED_OFF(r) (FV_DESC_OFF(r) + 0x600u)
/* Where buffers may go without touching a ring: A from here on, B, C. */
#define FV_DATA_OFF 0x2000u

/* Byte 0. */
#define FV_F_VERSION_1 0x01
#define FV_F_MRG_RXBUF 0x02
#define FV_F_INDIRECT 0x04
#define FV_F_EVENT_IDX 0x08
#define FV_F_GUEST_TSO4 0x10
#define FV_F_GUEST_TSO6 0x20
#define FV_F_BIG_BUFS 0x40       /* dequeue into 64 KB buffers (TSO pool) */

enum fv_op {
    FV_OP_DESC, FV_OP_PUSH, FV_OP_IDX, FV_OP_WRITE, FV_OP_DEQ, FV_OP_ENQ,
    FV_OP_RESTART, FV_OP_EVENT, FV_OP_NOTIFY, FV_OP__COUNT
};

#endif
