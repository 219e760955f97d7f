#!/usr/bin/env python3
"""gen_fabric.py TENANTS SWITCHES PORTS CHASSIS [LOCAL_CHASSIS]

Writes a desired-state file for a whole fabric to stdout, shaped like an
NVP deployment (NSDI 2014: 3,000 hypervisors, 7,000 logical switches,
63,000 logical ports): TENANTS tenants of SWITCHES switches with PORTS
ring ports each, spread round robin over CHASSIS chassis, one router per
tenant joining its switches, one ACL per tenant. With LOCAL_CHASSIS (a
number) the file ends with that host's `local` section.
"""
import sys

def main():
    tenants, sw, pps, nch = (int(a) for a in sys.argv[1:5])
    local = int(sys.argv[5]) if len(sys.argv) > 5 else None
    out = ["chassis:"]
    for c in range(nch):
        out.append("  - {name: hv%d, underlay_ip: 10.%d.%d.%d, encap: geneve}"
                   % (c + 1, (c >> 16) & 255, (c >> 8) & 255, c & 255))
    out.append("tenants:")
    n = 0
    for t in range(tenants):
        out += ["  - name: t%d" % t, "    switches:"]
        for s in range(sw):
            out += ["      - name: t%d-s%d" % (t, s),
                    "        vni: %d" % (1 + t * sw + s),
                    "        ports:"]
            for p in range(pps):
                mac = "02:%02x:%02x:%02x:%02x:00" % ((t >> 8) & 255, t & 255, s, p)
                out.append('          - {name: t%d-s%d-p%d, mac: "%s", ips: ["10.%d.%d.%d"], '
                           'chassis: hv%d, attach: {type: ring}}'
                           % (t, s, p, mac, s, p // 250, p % 250 + 1, n % nch + 1))
                n += 1
        out += ["    routers:", "      - name: t%d-r" % t, "        ports:"]
        for s in range(sw):
            out.append('          - {name: t%d-r-s%d, switch: t%d-s%d, mac: "02:ff:%02x:%02x:%02x:01", '
                       'cidr: "10.%d.0.254/16"}' % (t, s, t, s, (t >> 8) & 255, t & 255, s, s))
        out += ["    acls:",
                "      - {switch: t%d-s0, direction: to-port, priority: 100, action: drop, "
                "match: {proto: tcp, dst_port: 22}}" % t]
    if local is not None:
        out.append("local: {chassis: hv%d, workers: 1, uplink: {type: ring}}" % local)
    sys.stdout.write("\n".join(out) + "\n")

main()
