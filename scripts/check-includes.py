#!/usr/bin/env python3
"""check-includes.py - the include graph points one way.

vfab's parts may use only the parts below them (docs/architecture.md):

    mgmt -> pipeline -> tunnel -> fabric -> numa
    inside mgmt:  rpc -> daemon -> layout -> control      (store: on its own;
                  layout, the fabric's keys in etcd, and above it may use it)

A file includes a project header ("dir/.../x.h") only from its own part or
one below it. CMake's target_link_libraries catches a call across the line
when something links; this catches the include itself, before anything
calls across it. Prints every upward include as FILE:LINE: PART includes
HEADER (PART2) and exits 1 if there is one; 0 and a one-line summary
otherwise. `make test` runs it (ctest: include_graph).

Usage: check-includes.py [SOURCE_DIR]
"""
import os
import re
import sys

# Rank of each part: a file may include parts of equal or lower rank, and
# the parts listed in ALSO. Programs (mgmt/*.c, mgmt/vfabctl/) sit on top.
RANK = {
    "numa": 0,
    "fabric": 1,
    "tunnel": 2,
    "pipeline": 3,
    "mgmt/control": 4,
    "mgmt/layout": 4.5,
    "mgmt/daemon": 5,
    "mgmt/rpc": 6,
    "mgmt/programs": 7,
}
# The etcd client uses nothing of vfab; layout, the daemon and programs may
# use it, the pure control part may not.
ALSO = {
    "mgmt/layout": {"mgmt/store"},
    "mgmt/daemon": {"mgmt/store"},
    "mgmt/rpc": {"mgmt/store"},
    "mgmt/programs": {"mgmt/store"},
}
ONLY = {"mgmt/store": {"mgmt/store"}}
# Headers that must stand alone: the model is read by programs that know
# nothing of the data plane (its enums are its own; compile maps them).
ALONE = {"mgmt/control/vf_model.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def part_of(path):
    """The part a file (relative to the source dir) belongs to, or None."""
    parts = path.split("/")
    if parts[0] in ("numa", "fabric", "tunnel", "pipeline"):
        return parts[0]
    if parts[0] != "mgmt":
        return None
    if len(parts) > 2 and parts[1] in ("control", "layout", "daemon", "rpc", "store"):
        return "mgmt/" + parts[1]
    return "mgmt/programs"


def allowed(src, dst):
    if src in ONLY or dst in ONLY:
        return dst in ONLY.get(src, set()) or dst in ALSO.get(src, set())
    return RANK[dst] <= RANK[src]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad = files = edges = 0
    for top in ("numa", "fabric", "tunnel", "pipeline", "mgmt"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                src = part_of(rel)
                files += 1
                with open(os.path.join(root, rel), encoding="utf-8",
                          errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = part_of(m.group(1))
                        if dst is None:       # local or tests/ helper
                            continue
                        edges += 1
                        if rel in ALONE:
                            bad += 1
                            print(f"{rel}:{lineno}: includes {m.group(1)}; "
                                  "this header stands alone")
                        elif not allowed(src, dst):
                            bad += 1
                            print(f"{rel}:{lineno}: {src} includes "
                                  f"{m.group(1)} ({dst}), which it may not use")
    if bad:
        print(f"check-includes: {bad} upward include(s); the arrows are "
              "mgmt/rpc -> mgmt/daemon -> mgmt/control -> pipeline -> "
              "tunnel -> fabric -> numa")
        return 1
    print(f"check-includes: {files} files, {edges} project includes, all "
          "point down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
