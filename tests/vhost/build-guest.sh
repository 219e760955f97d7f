#!/usr/bin/env bash
# build-guest.sh OUTDIR - a tiny Linux guest for vhost-user tests, made from
# Debian packages only: Debian's cloud kernel (apt-get download + dpkg -x,
# its virtio modules) and a busybox-static initramfs. Nothing else is
# downloaded. Cached: a second run with the same kernel package does nothing.
#
# Writes OUTDIR/vmlinuz, OUTDIR/initramfs.cpio (uncompressed: boots faster),
# OUTDIR/kernel-package (the package it came from) and OUTDIR/cache-key. Exit 0 on success;
# 77 with a reason on stderr when something it needs is missing (no
# busybox-static/cpio, the package cannot be downloaded).
#
# The guest's /init (kernel command line -> init's environment):
#   vip=A.B.C.D/N     address for eth0
#   vcmd="..."        run it, print "CMD-END rc=N", power off
# It prints "NET-UP" once eth0 is configured.
set -euo pipefail
OUT=${1:?usage: build-guest.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

need() { command -v "$1" >/dev/null 2>&1 || { echo "build-guest: $1 missing (install $2)" >&2; exit 77; }; }
need busybox busybox-static
need cpio cpio
need apt-cache apt
need dpkg dpkg

PKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
      grep -o 'linux-image-[0-9][^ ]*-cloud-amd64' | head -1 || true)
[ -n "$PKG" ] || { echo "build-guest: apt-cache knows no linux-image-cloud-amd64 (apt-get update?)" >&2; exit 77; }
# The cache key: the kernel package and this script.
KEY="$PKG $(cksum <"$0" | cut -d' ' -f1)"
if [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initramfs.cpio" ] &&
   [ "$(cat "$OUT/cache-key" 2>/dev/null)" = "$KEY" ]; then
  exit 0
fi

W=$(mktemp -d "$OUT/work.XXXXXX")
trap 'rm -rf "$W"' EXIT
( cd "$W" && apt-get download "$PKG" >/dev/null 2>&1 ) ||
  { echo "build-guest: apt-get download $PKG failed (no access to Debian's registry?)" >&2; exit 77; }
dpkg -x "$W"/"$PKG"_*.deb "$W/k"
KVER=${PKG#linux-image-}
KM="$W/k/lib/modules/$KVER"

R="$W/root"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,lib/modules,etc}
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
  [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done
# Dependency order (modinfo -F depends; the .deb has no modules.dep).
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
for m in $MODS; do
  f=$(find "$KM" -name "$m.ko*" | head -1)
  [ -n "$f" ] || { echo "build-guest: module $m not in $PKG" >&2; exit 77; }
  case "$f" in
    *.ko) cp "$f" "$R/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$R/lib/modules/$m.ko" ;;
    *) echo "build-guest: cannot unpack $f" >&2; exit 77 ;;
  esac
done
# iperf3 and ethtool when the host has them (scripts/install-deps.sh
# installs both), with their libraries, for throughput checks by hand.
for b in /usr/bin/iperf3 /usr/sbin/ethtool; do
  [ -x "$b" ] || continue
  rm -f "$R/bin/$(basename "$b")"
  cp "$b" "$R/bin/"
  for l in $(ldd "$b" | grep -o '/[^ ]*'); do
    mkdir -p "$R$(dirname "$l")"
    cp -L "$l" "$R$l"
  done
done
echo 'root:x:0:0:root:/:/bin/sh' >"$R/etc/passwd"
cat >"$R/init" <<EOF
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $MODS; do insmod /lib/modules/\$m.ko 2>/dev/null; done
ip link set lo up
n=0; while [ ! -e /sys/class/net/eth0 ] && [ \$n -lt 50 ]; do sleep 0.1; n=\$((n+1)); done
if [ -n "\$vip" ]; then ip addr add "\$vip" dev eth0; ip link set eth0 up; fi
echo "NET-UP uptime=\$(cut -d' ' -f1 /proc/uptime)"
if [ -n "\$vcmd" ]; then
  echo "CMD-BEGIN: \$vcmd"; sh -c "\$vcmd"; echo "CMD-END rc=\$?"
  poweroff -f
fi
exec sh
EOF
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet) >"$W/initramfs.cpio"
cp "$W/k/boot/vmlinuz-$KVER" "$W/vmlinuz"
mv "$W/initramfs.cpio" "$OUT/initramfs.cpio"
mv "$W/vmlinuz" "$OUT/vmlinuz"
echo "$PKG" >"$OUT/kernel-package"
echo "$KEY" >"$OUT/cache-key"
