#!/usr/bin/python3
"""Sends valid Geneve datagrams (no options) to a vfabd's UDP underlay.

usage: geneve_send.py SRC_IP:PORT DST_IP:PORT COUNT RATE VNI/MAC [VNI/MAC...]

Datagram k goes to target k % len(targets): Geneve with that VNI carrying
an Ethernet/IPv4/UDP frame to that MAC (from 02:00:00:00:01:01, 10.0.0.1
-> 10.0.0.4), the sequence number k in its payload. RATE is datagrams per
second (0: as fast as Python sends); the sender sleeps between batches of
100 when it is ahead, so it does not spin a CPU the receiver needs. The
source address and port are bound, so the datagrams come from a chassis of
the receiver's model. Prints the count sent and the rate achieved.
Used by the integration tests only; sends to loopback in the test's own
namespace.
"""
import socket
import struct
import sys
import time


def ip_csum(h):
    s = sum(struct.unpack("!10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def datagram(vni, mac, seq):
    payload = struct.pack("!Q", seq) + b"vfab-burst-test!"
    udp = struct.pack("!HHHH", 5000, 5001, 8 + len(payload), 0) + payload
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0,
                               0x4000, 64, 17, 0, bytes([10, 0, 0, 1]),
                               bytes([10, 0, 0, 4])))
    ip[10:12] = struct.pack("!H", ip_csum(bytes(ip)))
    eth = mac + bytes([2, 0, 0, 0, 1, 1]) + b"\x08\x00"
    geneve = struct.pack("!BBH", 0, 0, 0x6558) + struct.pack("!I", vni << 8)
    return geneve + eth + bytes(ip) + udp


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    src, dst = addr(sys.argv[1]), addr(sys.argv[2])
    count, rate = int(sys.argv[3]), float(sys.argv[4])
    targets = []
    for t in sys.argv[5:]:
        vni, mac = t.split("/")
        targets.append((int(vni), bytes(int(b, 16) for b in mac.split(":"))))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind(src)
    # Built before the clock starts: the loop below only sends.
    pkts = [datagram(*targets[k % len(targets)], k) for k in range(count)]
    send = s.sendto
    t0 = time.perf_counter()
    for k in range(count):
        # ENOBUFS/EAGAIN on loopback are not expected; let them raise.
        send(pkts[k], dst)
        if rate and k % 100 == 99:
            ahead = t0 + (k + 1) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    dt = time.perf_counter() - t0
    print("sent %d datagrams in %.3f s (%.0f per second)" % (count, dt,
                                                             count / dt))


if __name__ == "__main__":
    main()
