#!/usr/bin/env bash
# Builds the Linux guest of the guest tests: a Debian kernel (downloaded with
# apt-get, unpacked, never installed) and a busybox initramfs whose /init
# runs the scenario named on the kernel command line (see init.sh).
#
# usage: make-guest.sh OUTDIR
# Leaves OUTDIR/vmlinuz, OUTDIR/initramfs.cpio and OUTDIR/kernel-version.
# Idempotent: exits at once when OUTDIR holds both and the initramfs was
# built from the current init.sh and this script; a changed init.sh
# rebuilds the initramfs only (the kernel is kept).
set -euo pipefail
out=${1:?usage: make-guest.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# One builder at a time per OUTDIR.
exec 9>"$out/.lock"
flock 9

stamp=$(cat "$here/init.sh" "$here/ethstats.c" "$here/make-guest.sh" | sha256sum | cut -c1-16)
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio" ] && [ "$(cat "$out/initramfs.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio cc; do
  command -v "$tool" >/dev/null || { echo "make-guest.sh: $tool not found" >&2; exit 1; }
done
busybox=/bin/busybox
# busybox-static's binary; a dynamically linked busybox would not run alone
# in the initramfs.
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "make-guest.sh: $busybox is not static; install busybox-static (scripts/install-deps.sh test)" >&2
  exit 1
fi

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Kernel: the package linux-image-amd64 depends on today, so the version is
# never hard-coded (old ABI numbers leave the mirror).
if [ ! -f "$out/vmlinuz" ] || [ ! -d "$out/modules" ] || [ ! -f "$out/kernel-version" ]; then
  kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\(-unsigned\)\?\)$/\1/p' | head -1
  }
  pkg=$(kernel_pkg)
  # No package list yet (a fresh machine), or an outdated one naming a
  # version the mirror no longer has: update the lists once and retry.
  if [ -z "$pkg" ] || ! (cd "$work" && apt-get download "$pkg" >"$work/download.log" 2>&1); then
    apt-get update -qq >/dev/null 2>&1 || true
    pkg=$(kernel_pkg)
    [ -n "$pkg" ] || {
      echo "make-guest.sh: cannot resolve the kernel package (apt-cache depends linux-image-amd64)" >&2; exit 1; }
    echo "make-guest.sh: downloading $pkg"
    (cd "$work" && apt-get download "$pkg" >"$work/download.log" 2>&1) || {
      echo "make-guest.sh: apt-get download $pkg failed:" >&2; cat "$work/download.log" >&2; exit 1; }
  fi
  dpkg-deb -x "$work"/linux-image-*.deb "$work/x"
  kver=$(ls "$work/x/lib/modules" | head -1)
  mods=$work/x/lib/modules/$kver
  # modules.dep is generated at install time (depmod), so it is not in the
  # package: follow each module's own "depends=" from its .modinfo.
  modpath() { find "$mods/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" \) | head -1; }
  declare -A seen=()
  want=(virtio_net virtio_pci)  # virtio_pci and virtio_ring are modules in Debian's config
  for m in virtio_net virtio_pci; do
    grep -q "^CONFIG_$(echo "$m" | tr a-z A-Z)=[ym]" "$work/x/boot/config-$kver" ||
      { echo "make-guest.sh: $m is not in this kernel's config" >&2; exit 1; }
  done
  while [ ${#want[@]} -gt 0 ]; do
    m=${want[0]}; want=("${want[@]:1}")
    [ -n "${seen[$m]:-}" ] && continue
    f=$(modpath "$m")
    if [ -z "$f" ]; then
      # built in: nothing to load
      grep -q "/$m.ko" "$mods/modules.builtin" || { echo "make-guest.sh: module $m not found" >&2; exit 1; }
      seen[$m]=builtin; continue
    fi
    seen[$m]=${f#$mods/}
    deps=$(grep -a -o 'depends=[A-Za-z0-9_,-]*' "$f" | head -1 | cut -d= -f2 | tr ',' ' ')
    for d in $deps; do want+=("$d"); done
  done
  rm -rf "$out/modules" "$out/vmlinuz"
  for m in "${!seen[@]}"; do
    [ "${seen[$m]}" = builtin ] && continue
    mkdir -p "$out/modules/$kver/$(dirname "${seen[$m]}")"
    cp "$mods/${seen[$m]}" "$out/modules/$kver/${seen[$m]}"
  done
  cp "$mods/modules.builtin" "$mods/modules.order" "$out/modules/$kver/"
  echo "make-guest.sh: kernel $kver ($pkg), modules: ${!seen[*]}"
  cp "$work/x/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
  echo "$kver" >"$out/kernel-version"
  mv "$out/vmlinuz.tmp" "$out/vmlinuz"
fi
kver=$(cat "$out/kernel-version")

# Initramfs: busybox, its applet links, ethstats, the modules (with a
# modules.dep from busybox depmod) and /init.
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
cp -r "$out/modules/$kver" "$root/lib/modules/"
"$busybox" depmod -b "$root" "$kver"
grep -q virtio_net "$root/lib/modules/$kver/modules.dep" || { echo "make-guest.sh: depmod gave no virtio_net" >&2; exit 1; }
# ethstats: the driver's ethtool counters (per queue), static like busybox
cc -static -O2 -Wall -o "$root/bin/ethstats" "$here/ethstats.c"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
echo "$stamp" >"$out/initramfs.stamp"
echo "make-guest.sh: $out/vmlinuz, $out/initramfs.cpio ($(du -k "$out/initramfs.cpio" | cut -f1) KiB)"
