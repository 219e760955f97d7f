#!/usr/bin/python3
"""ct_kernel_ref.py - vfab's conntrack against the Linux kernel's, packet by packet.

  run TRACE --seed S --flows N --pauses P1,P2,...
      Runs in the endpoints namespace of t_conntrack_kernel.sh: generates
      random connections between A (the port with the security group) and B,
      sends each packet as a raw frame through the router namespace, whose
      forward chain holds the security group as an nftables ruleset over the
      kernel's conntrack, and records whether it came out on the other side.
      The next packet is chosen knowing what arrived, as real endpoints
      would: a side acknowledges only data it received. TRACE gets one line
      per packet: "T_MS A|B HEX KERNEL_VERDICT FLOW WHAT".
  compare TRACE VFAB
      VFAB is vfab-ct-replay's output for TRACE (TRACE may be gzipped);
      every verdict must agree. Prints each disagreement with the history
      of its connection.
  sysctls
      The kernel's side of TIMEOUTS (the trace carries vfab's side as
      "# timeout" lines, which vfab-ct-replay applies).

What is generated (per connection, interleaved, with global pauses that let
connections expire under the short timeouts both sides are configured with):
TCP handshakes, data both ways, retransmissions, out-of-order segments,
FIN closes from either side, RSTs (at the expected sequence number, inside
the window but not at it, below what the peer acknowledged, answering a
SYN), SYNs on closed tuples, unsolicited ACKs and SYN-ACKs (with and without
a connection), SYNs from B, bad flag combinations; UDP requests and replies
and unsolicited datagrams from B; ICMP and ICMPv6 echo (and replies or
requests from the wrong side); ICMP errors quoting a connection's packet,
from the peer or from a router on the way, in both directions, and errors
quoting nothing tracked. IPv4 and IPv6.
"""
import argparse
import gzip
import os
import random
import select
import socket
import sys
import time

# Addressing (t_conntrack_kernel.sh sets the router up the same way).
VA_MAC, VB_MAC = "02:71:00:00:00:0a", "02:71:00:00:00:0b"
RA_MAC, RB_MAC = "02:71:00:00:01:0a", "02:71:00:00:01:0b"
A4, B4, RTR4 = "10.71.1.2", "10.71.2.2", "10.71.2.9"
A6, B6, RTR6 = "fd71:1::2", "fd71:2::2", "fd71:2::9"
IF_A, IF_B = "vctA", "vctB"
# Timeouts in seconds, the same on both sides (the .sh passes them on).
TIMEOUTS = {"tcp_syn_sent": 2, "tcp_syn_recv": 2, "tcp_established": 5,
            "tcp_fin_wait": 2, "tcp_close_wait": 2, "tcp_last_ack": 2,
            "tcp_time_wait": 2, "tcp_close": 2, "udp_new": 2,
            "udp_replied": 2, "icmp": 2}
BOUNDARY_MARGIN = 0.15   # s: no packet this close to any timeout of its flow
ARRIVAL_WAIT = 0.015     # s: how long a packet may take through the router
PACKET_OUTGOING = 4
ETH_P_ALL = 3


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Side:
    """One TCP endpoint as far as numbers go: what it sent, what it got."""

    def __init__(self, rng):
        self.new_isn(rng)

    def new_isn(self, rng):
        self.isn = rng.randrange(1 << 20, 1 << 30)
        self.nxt = self.isn
        self.rcv = None          # next byte expected from the peer
        self.held = []           # out-of-order segments received

    def ack(self):
        return self.rcv if self.rcv is not None else 0

    def receive(self, seq, end, syn):
        if syn:
            self.rcv = end
            self.held = []
            return
        if self.rcv is None:
            return
        self.held.append((seq, end))
        moved = True
        while moved:
            moved = False
            for s, e in self.held:
                if s <= self.rcv < e:
                    self.rcv = e
                    moved = True
        self.held = [(s, e) for s, e in self.held if e > self.rcv]


class Flow:
    """A connection's generator: next() gives (dir, l3 builder, on_arrival)
    or None when done. `last` keeps each direction's last L3 bytes for
    ICMP errors to quote."""
    kinds = ("tcp", "udp", "echo", "stray")

    def __init__(self, idx, rng):
        self.idx = idx
        self.rng = rng
        self.v6 = rng.random() < 0.5
        self.kind = rng.choices(self.kinds, weights=(50, 25, 15, 10))[0]
        self.aport = 20000 + idx
        self.bport = rng.choice((80, 443, 53, 5001))
        self.steps = rng.randrange(4, 26)
        self.last = {"A": None, "B": None}
        self.times = []          # send times of its packets
        self.phase = "none"
        self.a, self.b = Side(rng), Side(rng)
        self.pending = []        # an out-of-order segment sent later
        self.last_data = None

    def addrs(self, d):
        a, b = (A6, B6) if self.v6 else (A4, B4)
        return (a, b) if d == "A" else (b, a)

    # ---- packet builders (scapy imported lazily by main) ----
    def ip(self, d, src=None, dst=None):
        s, t = self.addrs(d)
        s = src or s
        t = dst or t
        if self.v6:
            return lambda mk: IPv6(src=s, dst=t, fl=mk, hlim=64)
        return lambda mk: IP(src=s, dst=t, id=mk, ttl=64)

    def tcp(self, d, flags, seq, ack, n=0, what=""):
        me, peer = (self.a, self.b) if d == "A" else (self.b, self.a)
        sport, dport = (self.aport, self.bport) if d == "A" else (self.bport, self.aport)
        ipf = self.ip(d)
        syn, fin = "S" in flags, "F" in flags
        end = seq + n + syn + fin

        def build(mk):
            return ipf(mk) / TCP(sport=sport, dport=dport, flags=flags,
                                 seq=seq & 0xffffffff, ack=ack & 0xffffffff,
                                 window=65535) / (b"x" * n)

        def arrived():
            if "R" not in flags:
                peer.receive(seq, end, syn)
        return d, build, arrived, what or f"tcp {flags} seq={seq - me.isn} len={n}"

    def udp(self, d, what):
        sport, dport = (self.aport, self.bport) if d == "A" else (self.bport, self.aport)
        ipf = self.ip(d)
        return d, lambda mk: ipf(mk) / UDP(sport=sport, dport=dport) / (b"u" * 20), None, what

    def echo(self, d, request, what):
        ipf = self.ip(d)
        if self.v6:
            msg = ICMPv6EchoRequest if request else ICMPv6EchoReply
            return d, lambda mk: ipf(mk) / msg(id=self.aport, seq=1) / (b"e" * 8), None, what
        return d, lambda mk: ipf(mk) / ICMP(type=8 if request else 0, id=self.aport,
                                            seq=1) / (b"e" * 8), None, what

    def error(self, d, quoted, what, from_router=False):
        """An ICMP error travelling in direction d quoting L3 bytes."""
        src = (RTR6 if self.v6 else RTR4) if from_router else None
        ipf = self.ip(d, src=src)
        r = self.rng.randrange(3)
        if self.v6:
            msg = (ICMPv6DestUnreach(code=4), ICMPv6PacketTooBig(mtu=1280),
                   ICMPv6TimeExceeded(code=0))[r]
        else:
            msg = (ICMP(type=3, code=3), ICMP(type=3, code=4, nexthopmtu=1400),
                   ICMP(type=11, code=0))[r]
        return d, lambda mk: ipf(mk) / msg / Raw(quoted), None, what

    def quote_fake(self, d):
        """L3 bytes of a packet of this flow's tuple that was never sent."""
        s, t = self.addrs(d)
        l3 = IPv6(src=s, dst=t) if self.v6 else IP(src=s, dst=t)
        return bytes(l3 / UDP(sport=self.aport + 30000, dport=self.bport) / b"q")

    # ---- what comes next ----
    def next(self):
        if self.steps <= 0:
            return None
        self.steps -= 1
        rng = self.rng
        if self.kind != "stray" and self.last["A"] and rng.random() < 0.08:
            return self.error("B", self.last["A"], "error about A's packet",
                              from_router=rng.random() < 0.5)
        if self.kind != "stray" and self.last["B"] and rng.random() < 0.05:
            return self.error("A", self.last["B"], "error about B's packet")
        return getattr(self, "next_" + self.kind)()

    def next_stray(self):
        rng = self.rng
        c = rng.randrange(6)
        d = rng.choice("AB")
        if c == 0:
            return self.error(d, self.quote_fake("A" if d == "B" else "B"),
                              "error quoting nothing tracked")
        if c == 1:
            return self.tcp(d, "A", rng.randrange(1 << 30), rng.randrange(1 << 30), 10,
                            "unsolicited ACK")
        if c == 2:
            return self.tcp(d, "SA", rng.randrange(1 << 30), rng.randrange(1 << 30), 0,
                            "unsolicited SYN-ACK")
        if c == 3:
            return self.tcp(d, rng.choice(("SF", "F", "", "FPU", "SR")), 5, 0, 0, "bad flags")
        if c == 4:
            return self.echo(d, False, "echo reply to nothing")
        return self.tcp(d, "R", rng.randrange(1 << 30), 0, 0, "unsolicited RST")

    def next_udp(self):
        rng = self.rng
        if self.phase == "none":
            self.phase = "open"
            d = "B" if rng.random() < 0.15 else "A"
            return self.udp(d, "first datagram")
        d = "B" if rng.random() < 0.5 else "A"
        return self.udp(d, "datagram")

    def next_echo(self):
        rng = self.rng
        c = rng.random()
        if self.phase == "none" or c < 0.35:
            self.phase = "open"
            return self.echo("A", True, "echo request")
        if c < 0.75:
            return self.echo("B", False, "echo reply")
        if c < 0.88:
            return self.echo("B", True, "echo request from B, A's id")
        return self.echo("A", False, "echo reply from A")

    def data(self, d, what="data"):
        me = self.a if d == "A" else self.b
        n = self.rng.randrange(1, 200)
        seq = me.nxt
        me.nxt += n
        self.last_data = (d, seq, n)
        return self.tcp(d, "PA", seq, me.ack(), n, what)

    def next_tcp(self):
        rng = self.rng
        a, b = self.a, self.b
        if self.pending and rng.random() < 0.5:
            d, seq, n = self.pending.pop()
            me = a if d == "A" else b
            return self.tcp(d, "PA", seq, me.ack(), n, "the held-back segment")
        ph, c = self.phase, rng.random()
        if ph == "none":
            if c < 0.8:
                self.phase = "syn"
                a.nxt = a.isn + 1
                return self.tcp("A", "S", a.isn, 0, 0, "SYN")
            if c < 0.9:
                b.nxt = b.isn + 1
                return self.tcp("B", "S", b.isn, 0, 0, "SYN from B")
            return self.tcp("B", "A", b.isn, a.isn + 1, 0, "ACK before any SYN")
        if ph == "syn":
            if c < 0.55:
                self.phase = "synack"
                b.nxt = b.isn + 1
                return self.tcp("B", "SA", b.isn, b.ack(), 0, "SYN-ACK")
            if c < 0.65:
                return self.tcp("A", "S", a.isn, 0, 0, "SYN again")
            if c < 0.75:
                self.phase = "closed"
                return self.tcp("B", "RA", 0, b.ack(), 0, "RST answering the SYN")
            if c < 0.85:
                return self.tcp("B", "A", b.isn, a.nxt, 0, "ACK from B before SYN-ACK")
            if c < 0.92:
                return self.tcp("A", "A", a.nxt, 0, 0, "ACK from A before SYN-ACK")
            return self.tcp("B", "S", b.isn, 0, 0, "SYN from B too")
        if ph == "synack":
            if c < 0.6:
                self.phase = "est"
                return self.tcp("A", "A", a.nxt, a.ack(), 0, "handshake ACK")
            if c < 0.7:
                self.phase = "est"
                return self.data("A", "data completing the handshake")
            if c < 0.8:
                return self.tcp("B", "SA", b.isn, b.ack(), 0, "SYN-ACK again")
            if c < 0.9:
                return self.tcp("A", "S", a.isn, 0, 0, "SYN again")
            self.phase = "closed"
            return self.tcp("A", "R", a.nxt, 0, 0, "RST from A")
        if ph == "est":
            d = rng.choice("AB")
            me, peer = (a, b) if d == "A" else (b, a)
            if c < 0.55:
                return self.data(d)
            if c < 0.63:
                return self.tcp(d, "A", me.nxt, me.ack(), 0, "pure ACK")
            if c < 0.68 and self.last_data:
                ld, seq, n = self.last_data
                m = a if ld == "A" else b
                return self.tcp(ld, "PA", seq, m.ack(), n, "retransmission")
            if c < 0.72:
                n1, n2 = rng.randrange(1, 100), rng.randrange(1, 100)
                seq = me.nxt
                me.nxt += n1 + n2
                self.pending.append((d, seq, n1))
                return self.tcp(d, "PA", seq + n1, me.ack(), n2, "segment ahead of a gap")
            if c < 0.86:
                self.phase = "fin"
                self.fin_by = d
                me.nxt += 1
                return self.tcp(d, "FA", me.nxt - 1, me.ack(), 0, "FIN")
            if c < 0.90:
                self.phase = "closed"
                return self.tcp(d, rng.choice(("R", "RA")), me.nxt, me.ack(), 0,
                                "RST at the next sequence number")
            if c < 0.94:
                return self.tcp(d, "R", me.nxt + 3000, 0, 0, "RST in the window, not exact")
            if c < 0.97 and peer.rcv is not None and peer.rcv - 5000 > me.isn:
                return self.tcp(d, "R", peer.rcv - 5000, 0, 0, "RST below the ACKed data")
            return self.tcp(d, "SA", me.isn, me.ack(), 0, "stray SYN-ACK")
        if ph == "fin":
            other = "B" if self.fin_by == "A" else "A"
            me = a if other == "A" else b
            if c < 0.35:
                return self.tcp(other, "A", me.nxt, me.ack(), 0, "ACK of the FIN")
            if c < 0.6:
                self.phase = "lastack"
                self.fin_by = other
                me.nxt += 1
                return self.tcp(other, "FA", me.nxt - 1, me.ack(), 0, "FIN back")
            if c < 0.8:
                return self.data(other, "data after the FIN")
            self.phase = "closed"
            return self.tcp(other, "R", me.nxt, 0, 0, "RST after the FIN")
        if ph == "lastack":
            other = "B" if self.fin_by == "A" else "A"
            me = a if other == "A" else b
            if c < 0.7:
                self.phase = "closed"
                return self.tcp(other, "A", me.nxt, me.ack(), 0, "last ACK")
            return self.tcp(self.fin_by, "FA", (a if self.fin_by == "A" else b).nxt - 1,
                            (a if self.fin_by == "A" else b).ack(), 0, "FIN again")
        # closed
        if c < 0.4:
            a.new_isn(rng)
            b.new_isn(rng)
            self.pending = []
            self.last_data = None
            self.phase = "syn"
            a.nxt = a.isn + 1
            return self.tcp("A", "S", a.isn, 0, 0, "SYN on the closed tuple")
        if c < 0.55:
            b.nxt = b.isn + 1
            return self.tcp("B", "S", b.isn, 0, 0, "SYN from B on the closed tuple")
        d = rng.choice("AB")
        me = a if d == "A" else b
        return self.tcp(d, "A", me.nxt, me.ack(), 0, "ACK after the close")


def rawsock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def marker_of(fr):
    if len(fr) < 20:
        return None
    et = int.from_bytes(fr[12:14], "big")
    if et == 0x0800:
        return int.from_bytes(fr[18:20], "big")
    if et == 0x86dd:
        return int.from_bytes(fr[14:18], "big") & 0xfffff
    return None


def run(args):
    global IP, IPv6, TCP, UDP, ICMP, Raw, Ether
    global ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6DestUnreach
    global ICMPv6PacketTooBig, ICMPv6TimeExceeded
    from scapy.all import (Ether, IP, IPv6, TCP, UDP, ICMP, Raw, ICMPv6EchoRequest,
                           ICMPv6EchoReply, ICMPv6DestUnreach, ICMPv6PacketTooBig,
                           ICMPv6TimeExceeded)
    rng = random.Random(args.seed)
    socks = {"A": rawsock(IF_A), "B": rawsock(IF_B)}
    eth = {"A": Ether(src=VA_MAC, dst=RA_MAC), "B": Ether(src=VB_MAC, dst=RB_MAC)}
    arrived = {}

    def drain():
        for name, s in socks.items():
            while True:
                try:
                    fr, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                m = marker_of(fr)
                if m is not None:
                    arrived[m] = name

    flows = [Flow(i, rng) for i in range(args.flows)]
    pauses = [float(p) for p in args.pauses.split(",") if p]
    total = sum(f.steps for f in flows)
    pause_at = sorted(rng.randrange(total // 4, total) for _ in pauses)
    active, waiting = [], list(flows)
    out = open(args.trace, "w")
    out.write(f"# ct_kernel_ref.py run --seed {args.seed} --flows {args.flows} "
              f"--pauses {args.pauses}\n")
    for name, sec in TIMEOUTS.items():
        out.write(f"# timeout {name}={sec * 1000}\n")
    t0 = time.monotonic()
    mk, sent = 0, 0
    bounds = sorted(set(TIMEOUTS.values()))
    while active or waiting:
        while waiting and len(active) < args.active:
            active.append(waiting.pop(0))
        f = rng.choice(active)
        step = f.next()
        if step is None:
            active.remove(f)
            continue
        if pause_at and sent >= pause_at[0]:
            pause_at.pop(0)
            time.sleep(pauses.pop(0))
        d, build, on_arrival, what = step
        # Never near a timeout of this flow: a packet a few milliseconds
        # either side of one would test the two clocks, not conntrack.
        while True:
            now = time.monotonic()
            close = [t + T + BOUNDARY_MARGIN - now for t in f.times[-40:] for T in bounds
                     if abs(now - t - T) < BOUNDARY_MARGIN]
            if not close:
                break
            time.sleep(max(close) + 0.001)
        mk += 1
        if mk >= 65536:
            log("too many packets for 16-bit markers")
            return 2
        l3 = build(mk)
        frame = bytes(eth[d] / l3)
        drain()
        t = time.monotonic()
        socks[d].send(frame)
        ok = False
        deadline = t + ARRIVAL_WAIT
        while True:
            drain()
            if mk in arrived:
                ok = arrived[mk] != d
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            select.select(list(socks.values()), [], [], left)
        f.times.append(t)
        f.last[d] = bytes(l3)
        if ok and on_arrival:
            on_arrival()
        sent += 1
        out.write(f"{(t - t0) * 1000 + 1000:.3f} {d} {frame.hex()} "
                  f"{'accept' if ok else 'drop'} {f.idx} {f.kind}/{'v6' if f.v6 else 'v4'}: {what}\n")
    time.sleep(0.3)
    drain()
    out.close()
    late = [m for m in range(1, mk + 1) if m in arrived]
    with open(args.trace) as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    bad = [i + 1 for i, ln in enumerate(lines) if ln.split()[3] == "drop" and (i + 1) in late]
    if bad:
        log(f"packets seen after their wait ({ARRIVAL_WAIT * 1000:.0f} ms): {bad[:10]}: "
            "the machine is too loaded for the verdicts to be read")
        return 3
    log(f"sent {sent} packets in {args.flows} flows, {time.monotonic() - t0:.1f} s")
    return 0


def compare(args):
    opener = gzip.open if args.trace.endswith(".gz") else open
    with opener(args.trace, "rt") as fh:
        trace = [ln.rstrip("\n").split(" ", 5) for ln in fh if not ln.startswith("#")]
    with open(args.vfab) as fh:
        vf = [ln.split() for ln in fh]
    if len(vf) != len(trace):
        log(f"vfab gave {len(vf)} verdicts for {len(trace)} packets")
        return 1
    by_flow = {}
    for i, t in enumerate(trace):
        by_flow.setdefault(t[4], []).append(i)
    bad = [i for i, (t, v) in enumerate(zip(trace, vf)) if t[3] != v[0]]
    counts = {}
    for t in trace:
        counts[t[3]] = counts.get(t[3], 0) + 1
    print(f"{len(trace)} packets, kernel: {counts}, disagreements: {len(bad)}")
    shown = set()
    for i in bad[:5]:
        fl = trace[i][4]
        if fl in shown:
            continue
        shown.add(fl)
        print(f"-- packet {i + 1} (flow {fl}): kernel {trace[i][3]}, vfab {' '.join(vf[i])}")
        for j in by_flow[fl]:
            mark = ">>" if j == i else "  "
            print(f"  {mark} {float(trace[j][0]) / 1000:8.3f}s {trace[j][1]} "
                  f"kernel={trace[j][3]:6} vfab={vf[j][0]:6} ({vf[j][1]} {vf[j][2]}) "
                  f"{trace[j][5]}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("trace")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--flows", type=int, default=60)
    r.add_argument("--active", type=int, default=12)
    r.add_argument("--pauses", default="1.3,3.3")
    c = sub.add_parser("compare")
    c.add_argument("trace")
    c.add_argument("vfab")
    sub.add_parser("sysctls", help="the kernel's timeouts, as sysctl NAME=VALUE")
    args = ap.parse_args()
    if args.cmd == "sysctls":
        for name, sec in TIMEOUTS.items():
            proto, _, state = name.partition("_")
            if proto == "tcp":
                print(f"net.netfilter.nf_conntrack_tcp_timeout_{state}={sec}")
            elif name == "udp_new":
                print(f"net.netfilter.nf_conntrack_udp_timeout={sec}")
            elif name == "udp_replied":
                print(f"net.netfilter.nf_conntrack_udp_timeout_stream={sec}")
            else:
                print(f"net.netfilter.nf_conntrack_icmp_timeout={sec}")
                print(f"net.netfilter.nf_conntrack_icmpv6_timeout={sec}")
        return 0
    return run(args) if args.cmd == "run" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
