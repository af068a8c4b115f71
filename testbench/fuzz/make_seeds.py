#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets: for each, a few well-formed
sessions (a packed and a split ring moving buffers, a vhost-user front-end
setting a ring up and using it) that a fuzzer would take long to find alone.

Usage: make_seeds.py OUT_DIR   (writes OUT_DIR/<target>/<name>)

The targets read their input through LLVM's FuzzedDataProvider, which takes
integers from the END of the input (the first byte taken is the most
significant) and byte strings from the FRONT. `Input` mirrors that, call for
call, in the order the harness makes them. The checked-in corpus
(testbench/fuzz/corpus/<target>/) is these seeds merged with -merge=1:
  build-fuzz/testbench/fuzz/<target> -merge=1 testbench/fuzz/corpus/<target> OUT_DIR/<target>
"""
import os
import struct
import sys


class Input:
    def __init__(self):
        self.front = bytearray()
        self.back = bytearray()  # integer bytes in the order they are taken

    def int_range(self, v, lo, hi):
        """ConsumeIntegralInRange(lo, hi) returning v."""
        assert lo <= v <= hi
        rng, x = hi - lo, v - lo
        n = (rng.bit_length() + 7) // 8
        self.back += x.to_bytes(n, "big") if n else b""
        return self

    def u8(self, v): return self.int_range(v, 0, 0xff)
    def u16(self, v): return self.int_range(v, 0, 0xffff)
    def u32(self, v): return self.int_range(v, 0, 0xffffffff)
    def u64(self, v): return self.int_range(v, 0, 0xffffffffffffffff)
    def bool(self, b): return self.u8(1 if b else 0)

    def bytes(self, b):
        """ConsumeBytes(len(b)) returning b."""
        self.front += b
        return self

    def data(self):
        return bytes(self.front) + bytes(reversed(self.back))


# --- ring_device_fuzz -------------------------------------------------------
# Operations (DeviceHarness::Op).
POKE, PUT_DESC, PUBLISH, POP, POP_DISCARD, COMPLETE, FLUSH, SIGNAL, NOTIFY_ON, NOTIFY_OFF, RESET = range(11)
NEXT, WRITE, INDIRECT = 1, 2, 4
MEM = 4096


def device_put_desc(i, at16, offset, length, id_or_next, flags):
    # pick_addr: kBase + x - 8 for x in [0, MEM + 16]; pick_len in [0, 600].
    i.u8(PUT_DESC).int_range(at16, 0, MEM // 16 - 1)
    i.u8(0).int_range(offset + 8, 0, MEM + 16)
    i.u8(0).int_range(length, 0, 600)
    i.u16(id_or_next).u8(flags)


def device_seed(packed, features, num_sel):
    """features: bit 1 INDIRECT_DESC, bit 2 EVENT_IDX, bit 3 IN_ORDER (cfg byte)."""
    i = Input()
    i.u8((1 if packed else 0) | features).u8(num_sel)
    num = 1 + num_sel % 16 if packed else 1 << (num_sel % 5)
    in_order = features & 8
    # Ring at offset 0 (descriptors from slot 0); buffers from 0x400, an
    # indirect table at 0x800 (entry 0x80).
    popped = 0

    def publish(head):
        if packed:
            i.u8(PUBLISH).bool(True)
        else:
            i.u8(PUBLISH).int_range(head, 0, num).int_range(1, 1, 2)

    def complete(length):
        nonlocal popped
        i.u8(COMPLETE)
        if not in_order:
            i.int_range(0, 0, popped - 1)
        i.u32(length)
        popped -= 1

    # A readable buffer, then a readable+writable list (packed: slots 1-2;
    # split: descriptors 1 -> 2).
    device_put_desc(i, 0, 0x400, 64, 0, 0)
    publish(0)
    if packed:
        device_put_desc(i, 1, 0x440, 16, 1, NEXT)
        device_put_desc(i, 2, 0x480, 64, 1, WRITE)
        publish(1)
        publish(1)
    else:
        device_put_desc(i, 1, 0x440, 16, 2, NEXT)
        device_put_desc(i, 2, 0x480, 64, 0, WRITE)
        publish(1)
    i.u8(POP)
    popped += 1
    i.u8(POP_DISCARD)
    popped += 1
    complete(0)
    complete(48)
    i.u8(FLUSH).u8(SIGNAL).u8(NOTIFY_ON).u8(NOTIFY_OFF)
    if features & 2:
        # An indirect buffer at slot / descriptor 3: a table of two entries,
        # readable then writable (split tables chain by next, P7).
        device_put_desc(i, 0x80, 0x500, 32, 0 if packed else 1, 0 if packed else NEXT)
        device_put_desc(i, 0x81, 0x540, 32, 0, WRITE)
        device_put_desc(i, 3, 0x800, 32, 3, INDIRECT)
        publish(3)
        i.u8(POP)
        popped += 1
        complete(32)
        i.u8(FLUSH).u8(SIGNAL)
    i.u8(RESET)
    return i.data()


# --- ring_driver_fuzz -------------------------------------------------------
ADD, KICK, GET_USED, DEVICE_USED, DEVICE_POKE, DEVICE_EVENT, ENABLE_CB, ENABLE_CB_DELAYED, DISABLE_CB, DETACH = range(10)


def driver_seed(packed, cfg, num_sel):
    i = Input()
    i.u8((1 if packed else 0) | cfg).u8(num_sel)
    in_flight = 0

    def add(outs, ins):
        nonlocal in_flight
        i.u8(ADD).int_range(outs, 0, 6).int_range(ins, 0, 6 - outs)
        for k in range(outs + ins):
            i.int_range(64 * k, 0, 960).int_range(32, 1, 64)
        in_flight += 1

    def device_used(length):
        # The oldest buffer in flight, in the device's lap.
        i.u8(DEVICE_USED).u16(0xffff).u8(0).int_range(0, 0, in_flight - 1).int_range(length, 0, 256)
        if packed:
            i.u8(0)
        else:
            i.u8(0).int_range(1, 1, 2)

    def get_used():
        nonlocal in_flight
        i.u8(GET_USED)
        in_flight -= 1

    add(1, 1)
    add(2, 0)
    i.u8(KICK)
    device_used(32)
    get_used()
    i.u8(ENABLE_CB).u8(DEVICE_EVENT).u16(0).u16(0).u8(KICK)
    device_used(0)
    get_used()
    i.u8(GET_USED).u8(DISABLE_CB).u8(ENABLE_CB_DELAYED)
    add(0, 3)
    i.u8(DETACH)
    return i.data()


# --- vhost_user_codec_fuzz --------------------------------------------------
V, NEED_REPLY, REPLY = 1, 8, 4
GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
SET_STATUS, GET_STATUS = 39, 40
SET_BACKEND_REQ_FD, IOTLB_MSG, BACKEND_IOTLB_MSG = 21, 22, 1
IOTLB_MISS, IOTLB_UPDATE, IOTLB_INVALIDATE = 1, 2, 3


def codec_seed(reply, sent, request, flags, payload, fds, backend_channel=False):
    i = Input()
    i.u8((1 if reply else 0) | 2 | (fds << 2) | (0x40 if backend_channel else 0)).u8(sent)
    i.u32(request).u32(flags).u32(len(payload)).bytes(payload)
    return i.data()


def iotlb_msg(iova, size, uaddr, perm, kind):
    # struct vhost_iotlb_msg: 26 bytes of fields, 6 of padding
    return struct.pack("<QQQBB6x", iova, size, uaddr, perm, kind)


def mem_table(regions):
    return struct.pack("<II", len(regions), 0) + b"".join(struct.pack("<QQQQ", *r) for r in regions)


# --- vhost_user_backend_fuzz ------------------------------------------------
REQUEST, RAW, B_POKE, POLL, CUT_SHORT, HANG_UP = range(6)
F_VERSION_1, F_RING_PACKED, F_EVENT_IDX, F_INDIRECT = 1 << 32, 1 << 34, 1 << 29, 1 << 28
F_PROTOCOL = 1 << 30
PF_REPLY_ACK, PF_STATUS = 1 << 3, 1 << 16
GPA, B_MEM = 0x100000, 64 * 1024


class Frontend:
    """One vhost-user session as BackendHarness reads it."""

    def __init__(self, cfg):
        self.i = Input().u8(cfg)

    def req(self, r, need_reply=False):
        self.i.u8(REQUEST).u8(r).u8(1 if need_reply else 0)
        return self.i

    def vring_state(self, r, index, num, need_reply=False):
        self.req(r, need_reply).int_range(index, 0, 4).u32(num)

    def vring_fd(self, r, index):  # KICK/CALL/ERR without an fd (the no-fd bit)
        self.req(r).int_range(index, 0, 4).bool(True)

    def vring_addr(self, index, desc, driver_area, device_area):
        # SET_VRING_ADDR's used field is the device area, avail the driver area.
        self.req(SET_VRING_ADDR).int_range(index, 0, 4)
        self.i.int_range(desc, 0, B_MEM).int_range(device_area, 0, B_MEM).int_range(driver_area, 0, B_MEM)

    def mem_table(self):
        self.req(SET_MEM_TABLE).int_range(1, 1, 2).u8(0).u8(0)

    def poke(self, offset, data):
        self.i.u8(B_POKE).int_range(offset, 0, B_MEM - 1).int_range(len(data), 1, 64).bytes(data)

    def poll(self, how=0):
        self.i.u8(POLL).u8(how)

    def data(self):
        return self.i.data()


def packed_desc(addr, length, id_, flags):
    return struct.pack("<QIHH", addr, length, id_, flags)


def split_desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def frame(n):
    # virtio-net header (12 bytes with VERSION_1), then a frame of n bytes.
    return bytes(12) + bytes(range(n))


def backend_seed(packed, echo, protocol):
    f = Frontend(1 if echo else 0)
    features = F_VERSION_1 | F_EVENT_IDX | F_INDIRECT | (F_RING_PACKED if packed else 0)
    f.req(SET_OWNER)
    f.req(GET_FEATURES)
    if protocol:
        features |= F_PROTOCOL
        f.req(GET_PROTOCOL_FEATURES)
        f.req(SET_PROTOCOL_FEATURES).u64(PF_REPLY_ACK | PF_STATUS)
        f.req(GET_QUEUE_NUM)
    f.req(SET_FEATURES).u64(features)
    f.mem_table()
    rings = [0, 1] if echo else [1]
    for q in rings:
        desc, driver_area = 0x1000 * (q + 1), 0x1000 * (q + 1) + 0x100
        device_area = driver_area + (4 if packed else 0x100)
        f.vring_state(SET_VRING_NUM, q, 8, need_reply=protocol)
        f.vring_state(SET_VRING_BASE, q, 0x80008000 if packed else 0)
        f.vring_addr(q, desc, driver_area, device_area)
        f.vring_fd(SET_VRING_CALL, q)
        f.vring_fd(SET_VRING_KICK, q)
        if protocol:
            f.vring_state(SET_VRING_ENABLE, q, 1)
    if protocol:
        f.req(SET_STATUS).u64(0xf)
    # The front-end makes buffers available: a TX frame on ring 1 and, for
    # echo, an RX buffer on ring 0 (addresses are guest-physical).
    for q in rings:
        desc, driver_area = 0x1000 * (q + 1), 0x1000 * (q + 1) + 0x100
        buf = GPA + 0x8000 + 0x800 * q
        if q == 1:
            f.poke(0x8000 + 0x800 * q, frame(40))
        if packed:
            f.poke(desc, packed_desc(buf, 52 if q == 1 else 0x400, 0, 0x80 | (2 if q == 0 else 0)))
        else:
            f.poke(desc, split_desc(buf, 52 if q == 1 else 0x400, 2 if q == 0 else 0, 0))
            f.poke(driver_area + 4, struct.pack("<H", 0))  # avail ring[0] = head 0
            f.poke(driver_area + 2, struct.pack("<H", 1))  # avail idx = 1
    f.poll(1)
    f.poll(2)
    for q in rings:
        f.vring_state(GET_VRING_BASE, q, 0)
    if protocol:
        f.req(GET_STATUS)
    return f.data()


def main():
    out = sys.argv[1]
    seeds = {
        "ring_device_fuzz": {
            "packed_plain": device_seed(True, 0, 3),
            "packed_indirect_event_idx": device_seed(True, 2 | 4, 4),
            "packed_in_order": device_seed(True, 2 | 8, 6),
            "split_plain": device_seed(False, 0, 2),
            "split_indirect_event_idx": device_seed(False, 2 | 4, 3),
            "split_in_order": device_seed(False, 2 | 8, 3),
        },
        "ring_driver_fuzz": {
            "packed_plain": driver_seed(True, 0, 3),
            "packed_indirect_pool_event_idx": driver_seed(True, 2 | 4 | 16, 4),
            "packed_in_order": driver_seed(True, 8, 5),
            "split_plain": driver_seed(False, 0, 2),
            "split_indirect_pool_event_idx": driver_seed(False, 2 | 4 | 16, 3),
            "split_in_order": driver_seed(False, 8, 3),
        },
        "vhost_user_codec_fuzz": {
            "set_features": codec_seed(False, 0, SET_FEATURES, V, struct.pack("<Q", F_VERSION_1), 0),
            "set_mem_table": codec_seed(False, 0, SET_MEM_TABLE, V,
                                        mem_table([(GPA, B_MEM, 0x7f0000000000, 0), (0, 0x1000, 0x7f1000000000, 0)]), 2),
            "set_vring_addr": codec_seed(False, 0, SET_VRING_ADDR, V | NEED_REPLY,
                                         struct.pack("<IIQQQQ", 1, 0, 0x1000, 0x1200, 0x1100, 0), 0),
            "set_vring_kick": codec_seed(False, 0, SET_VRING_KICK, V, struct.pack("<Q", 1), 1),
            "set_vring_call_no_fd": codec_seed(False, 0, SET_VRING_CALL, V, struct.pack("<Q", 0x100), 0),
            "get_vring_base_reply": codec_seed(True, GET_VRING_BASE, GET_VRING_BASE, V | REPLY,
                                               struct.pack("<II", 1, 0x80008000), 0),
            "reply_ack": codec_seed(True, SET_VRING_NUM, SET_VRING_NUM, V | REPLY, struct.pack("<Q", 0), 0),
            "set_backend_req_fd": codec_seed(False, 0, SET_BACKEND_REQ_FD, V | NEED_REPLY, b"", 1),
            "iotlb_update": codec_seed(False, 0, IOTLB_MSG, V | NEED_REPLY,
                                       iotlb_msg(0x7ffff000, 0x1000, 0x7f0000001000, 3, IOTLB_UPDATE), 0),
            "iotlb_invalidate": codec_seed(False, 0, IOTLB_MSG, V | NEED_REPLY,
                                           iotlb_msg(0x7ffff000, 0x1000, 0, 0, IOTLB_INVALIDATE), 0),
            "backend_iotlb_miss": codec_seed(False, 0, BACKEND_IOTLB_MSG, V | NEED_REPLY,
                                             iotlb_msg(0x7ffff000, 0, 0, 1, IOTLB_MISS), 0, True),
            "backend_iotlb_ack": codec_seed(True, 0, BACKEND_IOTLB_MSG, V | REPLY, struct.pack("<Q", 1), 0, True),
        },
        "vhost_user_backend_fuzz": {
            "packed_sink": backend_seed(True, False, False),
            "split_sink": backend_seed(False, False, False),
            "packed_echo_protocol_features": backend_seed(True, True, True),
            "split_echo_protocol_features": backend_seed(False, True, True),
        },
    }
    for target, files in seeds.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(out, target, name), "wb") as fh:
                fh.write(data)


if __name__ == "__main__":
    main()
