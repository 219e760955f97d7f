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
#include "numa/vf_wire.h"
#include "pipeline/ct_impl.h"

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
    if (flags & VF_TCP_RST)
        return SEG_RST;
    if (flags & VF_TCP_SYN)
        return (flags & VF_TCP_ACK) ? SEG_SYNACK : SEG_SYN;
    if (flags & VF_TCP_FIN)
        return SEG_FIN;
    return (flags & VF_TCP_ACK) ? SEG_ACK : SEG_NONE;
}

/* The connection is closing or closed: a RST then needs no checking (the
 * tuple may already be in use again, and the entry goes soon anyway). */
static bool closing(unsigned st)
{
    return st == FW || st == CW || st == LA || st == TW || st == CL;
}

/* The LAST fields after an accepted or ignored segment of class seg. */
static uint64_t last_of(unsigned seg, unsigned dir)
{
    if (seg == SEG_SYN)
        return CT_S_LAST_SYN | (dir ? CT_S_LAST_DIR : 0);
    if (seg == SEG_RST)
        return CT_S_LAST_RST | (dir ? CT_S_LAST_DIR : 0);
    return 0;
}

struct ct_tcp_step ct_tcp_next(uint64_t s, unsigned dir, const struct vf_ct_pkt *p,
                               const struct ct_tcp_seq *q)
{
    struct ct_tcp_step r = {.state = s, .verdict = CT_V_OK};
    unsigned old = ct_s_cs(s), seg = seg_of(p->tcp_flags);
    uint64_t last = s & CT_S_LAST_MASK;
    unsigned last_dir = (s & CT_S_LAST_DIR) ? 1u : 0u;
    unsigned next = old < N_TCP_STATES ? next_state[dir][seg][old] : IV;
    uint64_t reply = dir == VF_CT_REPLY ? CT_S_SEEN_REPLY : 0;

    /* A SYN on a closed tuple: a new connection when the old one ended by
     * a FIN exchange, or by a RST this same side sent last (it aborted and
     * starts over); otherwise the endpoints may still hold the old one. */
    if (next == SS && (old == TW || old == CL)) {
        if ((s & CT_S_CLOSE_INIT) || (last == CT_S_LAST_RST && last_dir == dir)) {
            r.verdict = CT_V_REOPEN;
            return r;
        }
        next = IG;
    }
    /* A SYN-ACK that answers a SYN we let pass without believing it: the
     * endpoints agree on a new connection we did not follow; follow it
     * from here, as if from SYN_SENT. */
    if (next == IG && seg == SEG_SYNACK && last == CT_S_LAST_SYN &&
        (s & CT_S_LAST_SYN_IGN) && last_dir != dir && q->peer_has_syn_end &&
        p->ack == q->peer_syn_end) {
        old = SS;
        next = SR;
        r.resync = true;
    }
    if (next == IV) {
        r.verdict = CT_V_INVALID;
        r.cause = VF_CT_WHY_TCP_STATE;
        return r;
    }
    if (next == IG) {
        r.verdict = CT_V_IGNORE;
        r.state = (s & ~CT_S_LAST_ALL) | last_of(seg, dir) | reply;
        if (seg == SEG_SYN) {
            r.state |= CT_S_LAST_SYN_IGN;
            r.syn_end = true;
            if (dir == VF_CT_ORIG && old == LA)
                r.state |= CT_S_CHALLENGE;
        }
        return r;
    }
    /* The ACK that answers a SYN let through in LAST_ACK is the peer's
     * challenge ACK, not the last ACK of the close. */
    if (next == TW && old == LA && seg == SEG_ACK && last == CT_S_LAST_SYN &&
        last_dir != dir && (s & CT_S_CHALLENGE)) {
        r.verdict = CT_V_IGNORE;
        r.state = (s & ~CT_S_CHALLENGE) | reply;
        return r;
    }
    uint64_t ns = s & ~(CT_S_CS_MASK | CT_S_LAST_ALL);
    if (r.resync)
        ns &= ~CT_S_CLOSE_INIT;
    if (next == S2)
        ns |= CT_S_SIMOPEN;
    /* In a simultaneous open the answering side's ACK completes it. */
    if (next == SR && dir == VF_CT_REPLY && seg == SEG_ACK && (s & CT_S_SIMOPEN))
        next = ES;
    /* A RST is checked against the highest ACK the peer sent, unless the
     * connection is closing, or a SYN just passed (the peer's numbers may
     * belong to an older connection). */
    if (seg == SEG_RST && !closing(old) && q->peer_has_ack && last != CT_S_LAST_SYN) {
        bool est = old == ES && (s & CT_S_ASSURED);
        if (p->seq == 0 && !est) {
            /* a RST answering a SYN we let through: it closes */
        } else if (seq_before(p->seq, q->peer_max_ack)) {
            /* Below what the peer already acknowledged: not from the
             * sender it claims to be (a blind RST), or very old. */
            r.verdict = CT_V_INVALID;
            r.cause = VF_CT_WHY_TCP_RST;
            return r;
        } else if (est && p->seq != q->peer_max_ack &&
                   !(q->own_has_end && p->seq == q->own_last_end)) {
            /* An established connection closes only on a RST at exactly
             * the next expected sequence number, or right after the
             * sender's own last segment; another one in the window may be
             * answered with a challenge ACK (RFC 5961): the state stays. */
            next = old;
        }
    }
    ns |= next | last_of(seg, dir);
    if (next == FW && old != FW)
        ns |= CT_S_CLOSE_INIT;
    if ((s & CT_S_SEEN_REPLY) && (old == SR || old == ES) && next == ES)
        ns |= CT_S_ASSURED;
    /* A RST before any reply: the connection never was; it goes now. */
    if (seg == SEG_RST && !(s & CT_S_SEEN_REPLY))
        r.kill = true;
    /* SYNs repeated before any reply do not keep the entry alive: else a
     * client (or a NAT) reusing the port keeps it forever. */
    if (seg == SEG_SYN && old == SS && !(s & CT_S_SEEN_REPLY))
        r.no_refresh = true;
    else   /* the timer restarts: the new state's timeout, or after a RST
            * (even one that kept the state) the close timeout */
        ns = ct_s_with_to(ns, seg == SEG_RST ? VF_CT_TO_TCP_CLOSE : ct_cs_timeout[next]);
    r.state = ns | reply;
    return r;
}
