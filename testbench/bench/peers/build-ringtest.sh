#!/usr/bin/env bash
# Builds Linux's tools/virtio/ringtest from the Debian package
# linux-source-6.1, with ringtest's own Makefile: only that folder comes out
# of the tarball, into DEST. Nothing of it is checked in.
#
# usage: build-ringtest.sh TARBALL DEST
# Leaves DEST/ring, DEST/virtio_ring_0_9, DEST/virtio_ring_inorder and
# DEST/main.o (the harness our adapters link against: the very object the
# three programs are linked from).
set -euo pipefail
tarball=${1:?tarball}
dest=${2:?destination}
if [ ! -r "$tarball" ]; then
  echo "build-ringtest.sh: $tarball not found: apt-get install linux-source-6.1" >&2
  exit 1
fi
# The tarball's top folder is its name without .tar.xz (linux-source-6.1).
top=$(basename "$tarball" .tar.xz)
work=$(mktemp -d "$(dirname "$dest")/ringtest-extract.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xJf "$tarball" -C "$work" "$top/tools/virtio/ringtest"
rm -rf "$dest"
mv "$work/$top/tools/virtio/ringtest" "$dest"
# ringtest's Makefile appends to CFLAGS/LDFLAGS: build with its flags alone
# (-O2 -flto -fwhole-program), whatever the caller's environment says.
env -u CFLAGS -u LDFLAGS -u CPPFLAGS make -C "$dest" --no-print-directory ring virtio_ring_0_9 virtio_ring_inorder main.o
