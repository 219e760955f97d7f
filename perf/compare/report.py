#!/usr/bin/env python3
"""Helpers for perf/compare/run.sh: parse one measurement, and assemble the
report (table on stdout, JSON file) from the per-system results.

Kept in Python because percentiles and JSON are awkward in bash; the shell
script owns every namespace and process, this file only reads and writes
files. Schema of the JSON: docs/compare.md.
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys

# metric -> (unit, higher_is_better). Ratios are always value / baseline,
# so for latency a ratio above 1 means slower than plain veth.
METRICS = {
    "tcp_gbps": ("Gb/s", True),
    "udp64_kpps": ("kpps", True),
    "rtt_p50_us": ("us", False),
    "rtt_p99_us": ("us", False),
}


def percentile(values, p):
    """Nearest-rank percentile: an observed sample, never an interpolation."""
    if not values:
        return None
    s = sorted(values)
    rank = max(1, min(len(s), int(-(-p * len(s) // 100))))
    return s[rank - 1]


def parse_tcp(path):
    d = json.load(open(path))
    end = d["end"]
    return {
        "tcp_gbps": end["sum_received"]["bits_per_second"] / 1e9,
        "tcp_retransmits": end["sum_sent"].get("retransmits"),
        "tcp_seconds": end["sum_received"]["seconds"],
    }


def parse_udp(send_path, recv_path):
    """Datagrams that arrived per second (udpblast's receiver), beside what
    the sender managed to hand to its socket."""
    rx = json.loads(open(recv_path).read().strip().splitlines()[-1])
    tx = json.loads(open(send_path).read().strip().splitlines()[-1])
    secs = rx["seconds"]
    return {
        "udp64_kpps": rx["received"] / secs / 1e3 if secs > 0 else None,
        "udp64_sent_kpps": tx["sent"] / tx["seconds"] / 1e3 if tx["seconds"] > 0 else None,
        "udp64_lost_pct": 100.0 * (1 - rx["received"] / tx["sent"]) if tx["sent"] else None,
    }


def parse_cpu(path0, path1, tcp_path):
    """CPU time of the whole machine during the TCP run, from two /proc/stat
    'cpu' lines: busy share of all CPUs, and gigabits moved per busy
    CPU-second (what each bit costs, wherever it is spent: endpoints,
    forwarder, kernel). The window also holds iperf3's start and end, so
    the figure is slightly low for every system alike."""
    def jiffies(p):
        # user nice system idle iowait irq softirq steal (guest time is
        # already in user). Busy excludes steal: in a VM that is time the
        # hypervisor gave to someone else, not a cost of the path.
        f = [int(x) for x in open(p).read().split()[1:9]]
        f += [0] * (8 - len(f))
        busy = f[0] + f[1] + f[2] + f[5] + f[6]
        return busy + f[3] + f[4], busy
    t0, b0 = jiffies(path0)
    t1, b1 = jiffies(path1)
    total, busy = t1 - t0, b1 - b0
    hz = os.sysconf("SC_CLK_TCK")
    tcp = parse_tcp(tcp_path)
    gbit = tcp["tcp_gbps"] * tcp["tcp_seconds"]
    return {
        "tcp_cpu_busy_share": busy / total if total > 0 else None,
        "tcp_gbit_per_cpu_s": gbit / (busy / hz) if busy > 0 else None,
    }


def parse_syscalls(path, tcp_path):
    """perf stat's count of the forwarders' system calls during the TCP run
    (run.sh), per GB the sender moved."""
    count = None
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 2 and f[2] == "raw_syscalls:sys_enter" and f[0].isdigit():
            count = int(f[0])
    sent = json.load(open(tcp_path))["end"]["sum_sent"]["bytes"]
    if count is None or not sent:
        return {}
    return {"tcp_syscalls": count, "tcp_syscalls_per_gb": count / (sent / 1e9)}


def parse_fwd_cpu(path0, path1, tcp_path):
    """The forwarders' own user and system CPU seconds (all threads, both
    hosts, /proc/PID/stat) during the TCP run, per GB the sender moved."""
    def ticks(p):
        u = s = 0
        for line in open(p):
            f = line.split()
            if len(f) == 2:
                u, s = u + int(f[0]), s + int(f[1])
        return u, s
    (u0, s0), (u1, s1) = ticks(path0), ticks(path1)
    hz = os.sysconf("SC_CLK_TCK")
    gb = json.load(open(tcp_path))["end"]["sum_sent"]["bytes"] / 1e9
    if gb <= 0:
        return {}
    return {"tcp_fwd_user_s_per_gb": (u1 - u0) / hz / gb,
            "tcp_fwd_sys_s_per_gb": (s1 - s0) / hz / gb}


def parse_ping(path):
    rtts = []
    for line in open(path):
        m = re.search(r"time=([0-9.]+) ms", line)
        if m:
            rtts.append(float(m.group(1)) * 1000.0)
    sent = None
    for line in open(path):
        m = re.search(r"(\d+) packets transmitted, (\d+) received", line)
        if m:
            sent = int(m.group(1))
    return {
        "rtt_p50_us": percentile(rtts, 50),
        "rtt_p99_us": percentile(rtts, 99),
        "rtt_p90_us": percentile(rtts, 90),
        "rtt_max_us": max(rtts) if rtts else None,
        "rtt_over_1ms": sum(1 for r in rtts if r > 1000.0),
        "rtt_samples": len(rtts),
        "rtt_sent": sent,
    }


def machine():
    model = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def ver(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            return out.stdout.splitlines()[0].strip() if out.stdout else None
        except (OSError, subprocess.SubprocessError):
            return None

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "iperf3": ver(["iperf3", "--version"]),
        "openvswitch": ver(["ovs-vswitchd", "--version"]),
    }


DESCRIPTIONS = {
    "veth": "plain veth pair between the two VM namespaces (no hosts, no tunnel)",
    "kernel-vxlan": "per host a Linux bridge holding a kernel VXLAN device; VMs joined to it by veth",
    "ovs-geneve": "per host Open vSwitch userspace datapath (datapath_type=netdev), Geneve; "
                  "internal ports moved into the VM namespaces",
    "vfab-geneve": "per host vfabd (1 worker, UDP uplink), Geneve with vfab's 12-byte option; "
                   "tap VMs, port security on",
    "vfab-vxlan": "per host vfabd (1 worker, UDP uplink), VXLAN; tap VMs, port security on",
    "relay-floor": "per host taprelay: a tap like vfabd's, each frame sent whole over UDP "
                   "(GSO/GRO), no tunnel header, no pipeline: the four kernel copies any "
                   "user-space forwarder on taps and a UDP underlay pays, and nothing else",
}
FLOOR = "relay-floor"


def parse_system(resdir, name):
    """Everything measured for one system; a missing or broken file leaves
    its metrics absent and an entry in errors."""
    base = os.path.join(resdir, name)
    res = {}
    steps = [("ping", parse_ping, [base + ".ping"]),
             ("tcp", parse_tcp, [base + ".tcp"]),
             ("udp", parse_udp, [base + ".udp_send", base + ".udp_recv"]),
             ("cpu", parse_cpu, [base + ".cpu0", base + ".cpu1", base + ".tcp"]),
             ("syscalls", parse_syscalls, [base + ".syscalls", base + ".tcp"]),
             ("fwd_cpu", parse_fwd_cpu, [base + ".fwdcpu0", base + ".fwdcpu1", base + ".tcp"])]
    for kind, fn, paths in steps:
        if not all(os.path.exists(p) for p in paths):
            continue
        try:
            res.update(fn(*paths))
        except (OSError, ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as e:
            res.setdefault("errors", []).append(f"{kind}: {type(e).__name__}: {e}")
    try:
        res["wall_s"] = int(open(base + ".wall_ms").read()) / 1000.0
    except (OSError, ValueError):
        pass
    return res


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "Gb/s":
        return f"{v:.2f}"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def cmd_report(resdir, out):
    meta = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(resdir, "meta")) if "=" in l)
    order = meta["systems"].split()
    baseline = "veth"
    raws = {n: parse_system(resdir, n) for n in order}
    base = raws.get(baseline, {})
    doc = {
        "schema": "vfab-compare/1",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": meta.get("git") or None,
        "machine": {**machine(),
                    # 1/5/15-minute load averages before and after the run:
                    # another job on the machine shows here, not in the table.
                    "loadavg_start": [float(x) for x in meta.get("loadavg_start", "").split()] or None,
                    "loadavg_end": [float(x) for x in open("/proc/loadavg").read().split()[:3]]},
        "quick": meta.get("quick") == "1",
        "vfabd_args": meta.get("vfabd_args", ""),
        "baseline": baseline,
        # TCP's ratio to the floor, where it was measured: what a
        # forwarder's own work costs beyond the copies through user space.
        # Only for TCP: the relay makes one system call per frame, which
        # is a floor for bulk bytes but not for small packets.
        "floor": FLOOR if FLOOR in order else None,
        "tenant_mtu": int(meta["tenant_mtu"]),
        "underlay_mtu": 1500,
        "durations": {
            "tcp_s": int(meta["tcp_s"]),
            "udp_s": int(meta["udp_s"]),
            "ping_count": int(meta["ping_count"]),
            "ping_interval_s": float(meta["ping_interval_s"]),
            "total_s": int(meta["total_ms"]) / 1000.0,
        },
        "metrics": {k: {"unit": u, "higher_is_better": h} for k, (u, h) in METRICS.items()},
        "systems": {},
    }
    for name in order:
        raw = raws[name]
        try:
            status = open(os.path.join(resdir, name + ".status")).read().strip() or "failed"
        except OSError:
            status = "not run"
        ms = {}
        for k in METRICS:
            v, b = raw.get(k), base.get(k)
            ms[k] = {"value": v, "ratio": (v / b) if (v is not None and b) else None}
        f = raws.get(FLOOR, {}).get("tcp_gbps")
        v = ms["tcp_gbps"]["value"]
        ms["tcp_gbps"]["ratio_to_floor"] = v / f if (v is not None and f) else None
        doc["systems"][name] = {
            "status": status,
            "description": DESCRIPTIONS.get(name, ""),
            "metrics": ms,
            "extra": {k: v for k, v in raw.items() if k not in METRICS},
        }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)

    # The table: value (ratio to the baseline) per metric.
    m = doc["machine"]
    print(f"\n{m['nproc']} x {m['cpu_model']}, kernel {m['kernel']}, {doc['date']}, "
          f"load average {m['loadavg_start']} -> {m['loadavg_end']}")
    d = doc["durations"]
    print(f"TCP {d['tcp_s']} s, UDP {d['udp_s']} s (64-byte payloads), ping {d['ping_count']} x "
          f"{d['ping_interval_s']} s; tenant MTU {doc['tenant_mtu']}; ratio = value / {baseline}")
    head = ["system", "TCP Gb/s", "UDP64 kpps", "RTT p50 us", "RTT p99 us", "status"]
    rows = []
    for name in order:
        e = doc["systems"][name]
        cells = [name]
        for k, (unit, _) in METRICS.items():
            mv = e["metrics"][k]
            c = fmt(mv["value"], unit)
            if mv["ratio"] is not None:
                c += f" ({mv['ratio']:.2f})"
            cells.append(c)
        cells.append(e["status"])
        rows.append(cells)
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w[i]) if i in (0, len(r) - 1) else c.rjust(w[i]) for i, c in enumerate(r))
    print(line(head))
    print("  ".join("-" * x for x in w))
    for r in rows:
        print(line(r))
    cost = [(n, doc["systems"][n]["extra"]) for n in order]
    cost = [(n, e) for n, e in cost if e.get("tcp_gbit_per_cpu_s")]
    if cost:
        b = doc["systems"].get(baseline, {}).get("extra", {}).get("tcp_gbit_per_cpu_s")
        print("TCP cost (all CPUs, during the TCP run): " + "; ".join(
            f"{n} {e['tcp_gbit_per_cpu_s']:.2f} Gb per CPU-s"
            + (f" ({e['tcp_gbit_per_cpu_s'] / b:.2f})" if b else "")
            + f", {100 * e['tcp_cpu_busy_share']:.0f}% busy" for n, e in cost))
    sc = [(n, doc["systems"][n]["extra"].get("tcp_syscalls_per_gb")) for n in order]
    sc = [(n, v) for n, v in sc if v]
    if sc:
        print("Forwarders' system calls per GB of TCP (both hosts, perf stat): "
              + "; ".join(f"{n} {v:,.0f}" for n, v in sc))
    fc = [(n, doc["systems"][n]["extra"]) for n in order]
    fc = [(n, e) for n, e in fc if "tcp_fwd_user_s_per_gb" in e]
    if fc:
        print("Forwarders' own CPU per GB of TCP (user + system s, both hosts): "
              + "; ".join(f"{n} {e['tcp_fwd_user_s_per_gb']:.3f} + {e['tcp_fwd_sys_s_per_gb']:.3f}"
                          for n, e in fc))
    if doc["floor"]:
        fl = [(n, doc["systems"][n]["metrics"]) for n in order if n.startswith("vfab")]
        fl = [(n, m) for n, m in fl if m["tcp_gbps"]["ratio_to_floor"] is not None]
        if fl:
            print(f"TCP against the floor ({FLOOR}: same taps and underlay, no forwarding work): "
                  + "; ".join(f"{n} {m['tcp_gbps']['ratio_to_floor']:.2f}" for n, m in fl))
    print(f"total {d['total_s']:.0f} s; wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RESDIR OUT.json  (RESDIR as written by run.sh)")
    cmd_report(sys.argv[1], sys.argv[2])
