/* ct_tcp.c - the TCP state machine of conntrack: one segment, one step.
 *
 * A connection is in one of nine states (SYN_SENT ... CLOSE, SYN_SENT2 for
 * a simultaneous open); a segment is classified by its flags (RST first,
 * then SYN or SYN-ACK, then FIN, then ACK) and its direction. The table
 * below gives the next state, or IV (the segment cannot belong here: the
 * packet is invalid) or IG (it might: the endpoints may know better than
 * we do, so it passes but moves nothing). The behaviour follows the Linux
 * kernel's conntrack so that the two can be compared packet by packet
 * (tests/integration/t_conntrack_kernel.sh); docs/conntrack.md lists where
 * vfab differs on purpose. Chief among them: no sequence-window check (as
 * the kernel with nf_conntrack_tcp_be_liberal), but a RST is checked
 * against the highest ACK the other side sent, so a blind RST cannot close
 * a connection.
 *
 * Pure: the caller loads the state word and, for a RST, the sequence data,
 * and stores the result with a compare-and-swap (conntrack.c).
 */
#include "pipeline/ct_impl.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

enum seg { SEG_SYN, SEG_SYNACK, SEG_FIN, SEG_ACK, SEG_RST, SEG_NONE, SEG__COUNT };

/* Local short names of the TCP states (enum vf_ct_conn_state). */
#define SS VF_CT_CS_TCP_SYN_SENT
#define SR VF_CT_CS_TCP_SYN_RECV
#define ES VF_CT_CS_TCP_ESTABLISHED
#define FW VF_CT_CS_TCP_FIN_WAIT
#define CW VF_CT_CS_TCP_CLOSE_WAIT
#define LA VF_CT_CS_TCP_LAST_ACK
#define TW VF_CT_CS_TCP_TIME_WAIT
#define CL VF_CT_CS_TCP_CLOSE
#define S2 VF_CT_CS_TCP_SYN_SENT2
#define IV 0xfeu  /* invalid */
#define IG 0xffu  /* ignored */
#define N_TCP_STATES 9u

_Static_assert(SS == 0 && S2 == 8, "the TCP states come first, in this order");
_Static_assert(VF_CT_CS__COUNT < IV, "IV and IG are not states");

/* next[direction][segment][state]; columns SS SR ES FW CW LA TW CL S2. */
static const uint8_t next_state[2][SEG__COUNT][N_TCP_STATES] = {
    [VF_CT_ORIG] = {
        /* SYN: a retransmission in SYN_SENT; after a close it may reopen
         * the tuple (decided below); elsewhere the receiver will answer
         * (RST or challenge ACK) and we stay out of it. */
        [SEG_SYN]    = {SS, IG, IG, IG, IG, IG, SS, SS, S2},
        /* SYN-ACK from the opener only makes sense in a simultaneous open. */
        [SEG_SYNACK] = {IV, SR, IV, IV, IV, IV, IV, IV, SR},
        /* FIN: not before the other side answered the SYN. */
        [SEG_FIN]    = {IV, FW, FW, LA, LA, LA, TW, CL, IV},
        /* ACK: completes the handshake, acknowledges FINs. */
        [SEG_ACK]    = {IV, ES, ES, CW, CW, TW, TW, CL, IV},
        [SEG_RST]    = {CL, CL, CL, CL, CL, CL, CL, CL, CL},
        [SEG_NONE]   = {IV, IV, IV, IV, IV, IV, IV, IV, IV},
    },
    [VF_CT_REPLY] = {
        /* SYN from the answering side: a simultaneous open; after a
         * time-wait the server may open the tuple the other way. */
        [SEG_SYN]    = {S2, IV, IV, IV, IV, IV, SS, IV, S2},
        /* SYN-ACK: the answer; again later is a retransmission. */
        [SEG_SYNACK] = {SR, IG, IG, IG, IG, IG, IG, IG, SR},
        [SEG_FIN]    = {IV, FW, FW, LA, LA, LA, TW, CL, IV},
        /* An ACK before the SYN-ACK may be a half-open peer: let it pass. */
        [SEG_ACK]    = {IG, SR, ES, CW, CW, TW, TW, CL, IG},
        [SEG_RST]    = {CL, CL, CL, CL, CL, CL, CL, CL, CL},
        [SEG_NONE]   = {IV, IV, IV, IV, IV, IV, IV, IV, IV},
    },
};

static unsigned seg_of(uint8_t flags)
{
    if (flags & TH_RST)
        return SEG_RST;
    if (flags & TH_SYN)
        return (flags & TH_ACK) ? SEG_SYNACK : SEG_SYN;
    if (flags & TH_FIN)
        return SEG_FIN;
    return (flags & TH_ACK) ? SEG_ACK : SEG_NONE;
}

/* The combinations of FIN, SYN, RST, ACK and URG a TCP stack sends (PSH,
 * ECE and CWR go with anything): SYN, SYN+URG, SYN+ACK, RST, RST+ACK,
 * FIN+ACK, FIN+ACK+URG, ACK, ACK+URG. One bit per combination's value. */
#define VALID_FLAGS                                                        \
    (1ull << TH_SYN | 1ull << (TH_SYN | TH_URG) | 1ull << (TH_SYN | TH_ACK) | \
     1ull << TH_RST | 1ull << (TH_RST | TH_ACK) | 1ull << (TH_FIN | TH_ACK) | \
     1ull << (TH_FIN | TH_ACK | TH_URG) | 1ull << TH_ACK |                    \
     1ull << (TH_ACK | TH_URG))

bool ct_tcp_flags_valid(uint8_t flags)
{
    unsigned v = flags & ~(TH_PSH | TH_ECE | TH_CWR);
    return (VALID_FLAGS >> v) & 1;
}

/* Sequence-number order with wrap-around (RFC 1982). */
static bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

struct ct_tcp_step ct_tcp_next(uint64_t s, unsigned dir, const struct vf_ct_pkt *p,
                               const struct ct_tcp_seq *q)
{
    struct ct_tcp_step r = {.state = s, .verdict = CT_V_OK};
    unsigned old = ct_s_cs(s), seg = seg_of(p->tcp_flags);
    unsigned last_rst = (unsigned)((s & CT_S_LAST_RST_MASK) >> CT_S_LAST_RST_SHIFT);
    unsigned next = old < N_TCP_STATES ? next_state[dir][seg][old] : IV;

    /* A SYN on a closed tuple: a new connection when the old one ended by
     * a FIN exchange, or by a RST this same side sent last (it aborted and
     * starts over); otherwise the endpoints may still hold the old one. */
    if (next == SS && (old == TW || old == CL)) {
        if ((s & CT_S_CLOSE_INIT) || last_rst == dir + 1) {
            r.verdict = CT_V_REOPEN;
            return r;
        }
        next = IG;
    }
    if (next == IV) {
        r.verdict = CT_V_INVALID;
        r.cause = VF_CT_WHY_TCP_STATE;
        return r;
    }
    if (next == IG) {
        r.verdict = CT_V_IGNORE;
        r.state = (s & ~CT_S_LAST_RST_MASK) | (dir == VF_CT_REPLY ? CT_S_SEEN_REPLY : 0);
        return r;
    }
    uint64_t ns = s & ~(CT_S_CS_MASK | CT_S_LAST_RST_MASK | CT_S_RST_TIMEOUT);
    if (next == S2)
        ns |= CT_S_SIMOPEN;
    /* In a simultaneous open the answering side's ACK completes it. */
    if (next == SR && dir == VF_CT_REPLY && seg == SEG_ACK && (s & CT_S_SIMOPEN))
        next = ES;
    if (seg == SEG_RST && q->peer_has_ack) {
        /* Below what the peer already acknowledged: not from the sender
         * it claims to be (a blind RST), or very old. */
        if (seq_before(p->seq, q->peer_max_ack)) {
            r.verdict = CT_V_INVALID;
            r.cause = VF_CT_WHY_TCP_RST;
            return r;
        }
        /* An established connection closes only on a RST at exactly the
         * next expected sequence number, or right after the sender's own
         * last segment; another one in the window may be answered with a
         * challenge ACK (RFC 5961), so the state stays. */
        if (old == ES && (s & CT_S_ASSURED) && p->seq != q->peer_max_ack &&
            !(q->own_has_end && p->seq == q->own_last_end))
            next = old;
    }
    ns |= next;
    if (next == FW && old != FW)
        ns |= CT_S_CLOSE_INIT;
    if (seg == SEG_RST)
        ns |= (uint64_t)(dir + 1) << CT_S_LAST_RST_SHIFT | CT_S_RST_TIMEOUT;
    if ((s & CT_S_SEEN_REPLY) && (old == SR || old == ES) && next == ES)
        ns |= CT_S_ASSURED;
    /* A RST before any reply: the connection never was; it goes now. */
    if (seg == SEG_RST && !(s & CT_S_SEEN_REPLY))
        r.kill = true;
    if (dir == VF_CT_REPLY)
        ns |= CT_S_SEEN_REPLY;
    r.state = ns;
    return r;
}
