#!/usr/bin/python3
"""Play a buggy guest driver: point every descriptor of one ring at an
address outside guest memory, from the host, through the file that backs
the guest's RAM (QEMU -object memory-backend-file,mem-path=FILE,share=on).

usage: corrupt_ring.py MEM_FILE DESC_GPA NUM

DESC_GPA is the ring's descriptor area as serve logs it ("vring N started:
..., desc 0x..."), NUM its size. Guest RAM below 4 GiB starts at gpa 0 and
at offset 0 of the file. Packed and split descriptors share the layout of
their first 12 bytes (le64 addr, le32 len), so one loop serves both. The
next buffer the back-end takes from that ring breaks it
(ring.address_unmapped), which is what the broken-ring test wants to see
reported: serve's log line, the SET_VRING_ERR eventfd, QEMU's log line.
"""
import mmap
import os
import struct
import sys

BAD_ADDR = 0xDEAD00000000  # far above the guest's RAM


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, desc, num = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3], 0)
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if num <= 0 or desc + 16 * num > size:
            sys.exit(f"corrupt_ring.py: ring 0x{desc:x}+{num}x16 is outside {path} ({size} bytes)")
        with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
            for i in range(num):
                struct.pack_into("<Q", m, desc + 16 * i, BAD_ADDR)
    finally:
        os.close(fd)
    print(f"corrupt_ring.py: {num} descriptors at 0x{desc:x} now point at 0x{BAD_ADDR:x}")


if __name__ == "__main__":
    main()
