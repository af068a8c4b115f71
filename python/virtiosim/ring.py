"""The ring core in-process, without SystemC: packed and split rings over a
Python buffer (bytearray, memoryview, numpy array), driver and device sides
driven step by step, descriptors and event areas read back as Python objects.
Every access is the C++ core's own (models/ring) through its native memory
policy; bad input raises the core's typed error as an exception.

    from virtiosim import ring
    r = ring.Ring(bytearray(1 << 16), layout="packed", queue_size=8, gpa_base=0x100000)
    r.driver.add(readable=[(0x101000, 64)], token=42)
    r.driver.kick_prepare()              # True: the device wants a kick
    c = r.device.pop()                   # Chain(id=0, readable=[(0x101000, 64)], ...)
    r.device.push_used(c, 0); r.device.flush()
    r.driver.get_used()                  # UsedBuffer(token=42, len=0)
    r.descriptors()[0]                   # Descriptor(slot=0, ..., flag_names=('AVAIL', 'USED'))
"""

from collections import namedtuple

from . import _virtiosim as _core

# Typed errors: RingError and one subclass per kind (BadUsedId, QueueBroken, ...); .error is the kind's name.
RingError = _core.RingError
ERRORS = {}
for _name, _camel, _describe, _fatal in _core.ring_errors:
    if _name != "ok":
        globals()[_camel] = getattr(_core, _camel)
        ERRORS[_name] = getattr(_core, _camel)

F_INDIRECT_DESC = _core.F_INDIRECT_DESC
F_EVENT_IDX = _core.F_EVENT_IDX
F_IN_ORDER = _core.F_IN_ORDER
F_NOTIFICATION_DATA = _core.F_NOTIFICATION_DATA

Chain = namedtuple("Chain", "id count indirect readable writable readable_bytes writable_bytes")
Chain.__doc__ = "One available buffer as the device popped it: segments (addr, len), readable first."
UsedBuffer = namedtuple("UsedBuffer", "token len")
RingState = namedtuple("RingState", "last_avail_idx avail_wrap_counter last_used_idx used_wrap_counter")
Descriptor = namedtuple("Descriptor", "slot addr len id flags flag_names")
SplitDescriptor = namedtuple("SplitDescriptor", "index addr len flags next flag_names")
EventArea = namedtuple("EventArea", "flags flags_name off wrap off_wrap")
AvailRing = namedtuple("AvailRing", "flags idx ring used_event")
UsedRing = namedtuple("UsedRing", "flags idx ring avail_event")

_DESC_FLAGS = [(_core.DESC_F_NEXT, "NEXT"), (_core.DESC_F_WRITE, "WRITE"), (_core.DESC_F_INDIRECT, "INDIRECT"),
               (_core.DESC_F_AVAIL, "AVAIL"), (_core.DESC_F_USED, "USED")]
_EVENT_FLAGS = {0: "ENABLE", 1: "DISABLE", 2: "DESC"}


def _flag_names(flags):
    return tuple(n for bit, n in _DESC_FLAGS if flags & bit)


def features(event_idx=False, indirect_desc=False, in_order=False, notification_data=False):
    """Feature bits the ring acts on, as the core's Features."""
    return ((F_EVENT_IDX if event_idx else 0) | (F_INDIRECT_DESC if indirect_desc else 0)
            | (F_IN_ORDER if in_order else 0) | (F_NOTIFICATION_DATA if notification_data else 0))


class Memory(_core.Memory):
    """Guest memory over a writable contiguous buffer: guest-physical
    [gpa_base, gpa_base + len(buffer)). The buffer cannot be resized while
    rings use it. read16/32/64, write16/32/64, read_bytes, write_bytes, maps."""


class _Side:
    def __init__(self, core):
        self._core = core

    def __getattr__(self, name):
        return getattr(self._core, name)


class Driver(_Side):
    """The driver side (PackedDriver / SplitDriver of models/ring)."""

    def add(self, readable=(), writable=(), token=0):
        """Make a buffer of device-readable then device-writable (addr, len) segments available.
        Raises NoSpace when the ring is full, EmptyBuffer without segments."""
        self._core.add(list(readable), list(writable), token)

    def get_used(self):
        """The next used buffer as UsedBuffer(token, len), or None."""
        u = self._core.get_used()
        return None if u is None else UsedBuffer(*u)


class Device(_Side):
    """The device side (PackedDevice / SplitDevice of models/ring)."""

    def pop(self):
        """The next available buffer as a Chain, or None. Bad input raises its typed error
        and breaks the queue (NEEDS_RESET)."""
        c = self._core.pop()
        return None if c is None else Chain(*c)

    def push_used(self, chain, len=0, complete=None):
        """Record the completion of a popped Chain with `len` bytes written; flush() publishes it."""
        self._core.push_used(chain.id, len, chain.count, bool(chain.writable),
                             len == chain.writable_bytes if complete is None else complete)

    def discard(self, chain):
        """Put back the most recent pop (vhost_discard_vq_desc): the next pop() takes `chain` again.
        Several go back in the reverse order of their pops; recorded completions and the
        used-buffer signal window are untouched."""
        self._core.discard(chain.count)

    def state(self):
        return RingState(*self._core.state())

    def set_state(self, state):
        self._core.set_state(*state)


class Ring:
    """A virtqueue in `buffer`, with both sides: r.driver, r.device, r.memory.

    layout: "packed" or "split"; queue_size entries; the buffer is guest
    memory from gpa_base; the ring sits at `base` (default gpa_base),
    contiguous as the core places it. indirect_pool=(base, slots,
    max_entries) gives the driver guest memory for indirect tables.
    """

    def __init__(self, buffer, layout="packed", queue_size=8, gpa_base=0, base=None, event_idx=False,
                 indirect_desc=False, in_order=False, notification_data=False, indirect_pool=None,
                 indirect_threshold=2, max_segments=1024):
        if layout not in ("packed", "split"):
            raise ValueError(f"layout {layout!r} is not one of packed|split")
        self.layout = layout
        self.memory = buffer if isinstance(buffer, _core.Memory) else Memory(buffer, gpa_base)
        base = self.memory.gpa_base if base is None else base
        place = _core.packed_place if layout == "packed" else _core.split_place
        self.desc, self.driver_area_addr, self.device_area_addr, self.num = place(base, queue_size)
        self.features = features(event_idx, indirect_desc, in_order, notification_data)
        where = (self.memory, self.desc, self.driver_area_addr, self.device_area_addr, self.num, self.features)
        if layout == "packed":
            self.driver = Driver(_core.PackedDriver(*where, indirect_pool, indirect_threshold))
            self.device = Device(_core.PackedDevice(*where, max_segments))
        else:
            self.driver = Driver(_core.SplitDriver(*where, indirect_pool, indirect_threshold))
            self.device = Device(_core.SplitDevice(*where, max_segments))

    @staticmethod
    def bytes_needed(layout, queue_size):
        """Bytes a contiguous ring of this size takes."""
        return (_core.packed_bytes if layout == "packed" else _core.split_bytes)(queue_size)

    # -- reading the ring as memory holds it ---------------------------------
    def descriptors(self):
        """Every descriptor slot: packed Descriptor(slot, addr, len, id, flags, flag_names),
        split SplitDescriptor(index, addr, len, flags, next, flag_names)."""
        m = self.memory
        out = []
        if self.layout == "packed":
            o = _core.offsets["packed_desc"]
            for s in range(self.num):
                d = self.desc + 16 * s
                f = m.read16(d + o["flags"])
                out.append(Descriptor(s, m.read64(d + o["addr"]), m.read32(d + o["len"]), m.read16(d + o["id"]),
                                      f, _flag_names(f)))
        else:
            o = _core.offsets["split_desc"]
            for i in range(self.num):
                d = self.desc + 16 * i
                f = m.read16(d + o["flags"])
                out.append(SplitDescriptor(i, m.read64(d + o["addr"]), m.read32(d + o["len"]), f,
                                           m.read16(d + o["next"]), _flag_names(f)))
        return out

    def _event(self, addr):
        o = _core.offsets["packed_event"]
        f, ow = self.memory.read16(addr + o["flags"]), self.memory.read16(addr + o["off_wrap"])
        return EventArea(f, _EVENT_FLAGS.get(f, "reserved"), ow & 0x7fff, bool(ow >> 15), ow)

    def driver_area(self):
        """Packed: the driver event suppression area as an EventArea; split: the AvailRing."""
        if self.layout == "packed":
            return self._event(self.driver_area_addr)
        o, m, a = _core.offsets["split_avail"], self.memory, self.driver_area_addr
        ring = [m.read16(a + o["ring"] + 2 * i) for i in range(self.num)]
        return AvailRing(m.read16(a + o["flags"]), m.read16(a + o["idx"]), ring,
                         m.read16(a + o["ring"] + 2 * self.num))

    def device_area(self):
        """Packed: the device event suppression area as an EventArea; split: the UsedRing
        (ring entries as (id, len))."""
        if self.layout == "packed":
            return self._event(self.device_area_addr)
        o, m, u = _core.offsets["split_used"], self.memory, self.device_area_addr
        ring = [(m.read32(u + o["ring"] + 8 * i + o["elem_id"]), m.read32(u + o["ring"] + 8 * i + o["elem_len"]))
                for i in range(self.num)]
        return UsedRing(m.read16(u + o["flags"]), m.read16(u + o["idx"]), ring,
                        m.read16(u + o["ring"] + 8 * self.num))

    def __repr__(self):
        return f"Ring({self.layout}, {self.num} entries at {self.desc:#x}, features={self.features:#x})"
