import numpy as np
import pytest

from virtiosim import ring

BASE = 0x100000
DATA = BASE + 0x1000


@pytest.mark.parametrize("layout", ["packed", "split"])
@pytest.mark.parametrize("make_buffer", [bytearray, lambda n: memoryview(bytearray(n)),
                                         lambda n: np.zeros(n, dtype=np.uint8)])
def test_round_trip_over_python_buffers(layout, make_buffer):
    buf = make_buffer(1 << 16)
    r = ring.Ring(buf, layout=layout, queue_size=8, gpa_base=BASE)
    assert r.num == 8 and "entries" in repr(r)
    payload = b"hello ring"
    r.memory.write_bytes(DATA, payload)
    for lap in range(4):  # 3 buffers of 2 descriptors a lap: past the wrap of an 8-entry ring
        for i in range(3):
            r.driver.add(readable=[(DATA, len(payload))], writable=[(DATA + 0x100, 32)], token=100 * lap + i)
        assert r.driver.num_free == 2
        assert r.driver.kick_prepare() in (True, False)
        for i in range(3):
            c = r.device.pop()
            assert c.readable == [(DATA, len(payload))] and c.writable == [(DATA + 0x100, 32)]
            assert r.memory.read_bytes(c.readable[0][0], c.readable[0][1]) == payload
            r.memory.write_bytes(c.writable[0][0], b"x" * (i + 1))
            r.device.push_used(c, i + 1)
        assert r.device.pop() is None and r.device.pending_used == 3
        r.device.flush()
        got = [r.driver.get_used() for _ in range(3)]
        assert got == [ring.UsedBuffer(100 * lap + i, i + 1) for i in range(3)]
        assert r.driver.get_used() is None
    # The buffer itself holds the ring: the Python object sees what the core wrote.
    assert bytes(buf[0x1100:0x1104]) == b"xxx\0"
    st = r.device.state()
    # packed: 24 descriptor slots mod 8, second lap's wrap; split: 12 heads, free-running
    assert isinstance(st, ring.RingState) and st.last_avail_idx == (0 if layout == "packed" else 12)


def test_packed_descriptors_and_event_areas_as_objects():
    r = ring.Ring(bytearray(1 << 16), layout="packed", queue_size=4, gpa_base=BASE, event_idx=True)
    r.driver.add(readable=[(DATA, 64)], writable=[(DATA + 64, 128)], token=7)
    d = r.descriptors()
    assert len(d) == 4
    assert d[0] == ring.Descriptor(0, DATA, 64, 0, d[0].flags, ("NEXT", "AVAIL"))
    assert d[1].flag_names == ("WRITE", "AVAIL") and d[1].len == 128
    assert d[2].flags == 0
    assert r.device.enable_notifications() is True  # a buffer is already there
    dev_area = r.device_area()
    assert dev_area.flags_name == "DESC" and dev_area.off == 0 and dev_area.wrap is True
    r.driver.disable_cb()
    assert r.driver_area().flags_name == "DISABLE"
    c = r.device.pop()
    r.device.push_used(c, 100)
    r.device.flush()
    assert r.descriptors()[0].flag_names == ("WRITE", "AVAIL", "USED")
    assert r.driver.get_used() == ring.UsedBuffer(7, 100)


def test_split_rings_as_objects():
    r = ring.Ring(bytearray(1 << 16), layout="split", queue_size=4, gpa_base=BASE, event_idx=True)
    r.driver.add(readable=[(DATA, 64)], token=1)
    r.driver.add(readable=[(DATA, 32)], token=2)
    avail = r.driver_area()
    assert avail.idx == 2 and avail.ring[:2] == [0, 1]
    assert r.descriptors()[1] == ring.SplitDescriptor(1, DATA, 32, 0, r.descriptors()[1].next, ())
    assert r.driver.kick_prepare() is True
    for _ in range(2):
        r.device.push_used(r.device.pop(), 0)
    r.device.flush()
    used = r.device_area()
    assert used.idx == 2 and used.ring[:2] == [(0, 0), (1, 0)]
    assert [r.driver.get_used().token for _ in range(2)] == [1, 2]


def test_typed_errors_are_exceptions():
    r = ring.Ring(bytearray(1 << 16), layout="packed", queue_size=2, gpa_base=BASE)
    with pytest.raises(ring.EmptyBuffer) as e:
        r.driver.add(token=1)
    assert e.value.error == "empty_buffer" and isinstance(e.value, ring.RingError)
    r.driver.add(readable=[(DATA, 8)], token=1)
    r.driver.add(readable=[(DATA, 8)], token=2)
    with pytest.raises(ring.NoSpace):
        r.driver.add(readable=[(DATA, 8)], token=3)
    # A device that returns an id not in flight breaks the driver's queue.
    c = r.device.pop()
    r.device.push_used(c._replace(id=1), 0)
    r.device.push_used(c._replace(id=1), 0)
    r.device.flush()
    r.driver.get_used()
    with pytest.raises(ring.BadUsedId) as e:
        r.driver.get_used()
    assert "bad_used_id" in str(e.value) and r.driver.broken and r.driver.last_error == "bad_used_id"
    with pytest.raises(ring.QueueBroken):
        r.driver.add(readable=[(DATA, 8)], token=4)


def test_device_refuses_a_buffer_outside_guest_memory():
    r = ring.Ring(bytearray(1 << 16), layout="split", queue_size=4, gpa_base=BASE)
    r.driver.add(readable=[(0x10, 8)], token=1)
    with pytest.raises(ring.AddressUnmapped) as e:
        r.device.pop()
    assert e.value.error == "address_unmapped"
    assert r.device.broken and r.device.stats["errors"] == {"address_unmapped": 1}
    with pytest.raises(ring.QueueBroken):
        r.device.pop()
    r.device.reset()
    assert not r.device.broken


def test_setup_errors_and_memory_bounds():
    with pytest.raises(ring.BadQueueSize):
        ring.Ring(bytearray(1 << 16), layout="split", queue_size=6)
    with pytest.raises(ring.BadLayout):
        ring.Ring(bytearray(64), layout="packed", queue_size=8)
    with pytest.raises(ValueError):
        ring.Ring(bytearray(64), layout="circular")
    with pytest.raises(BufferError, match="not writable"):
        ring.Ring(b"read-only bytes", queue_size=1)
    m = ring.Memory(bytearray(16), 0x1000)
    m.write32(0x1004, 0xdeadbeef)
    assert m.read32(0x1004) == 0xdeadbeef and m.maps(0x1000, 16) and not m.maps(0x1000, 17)
    with pytest.raises(ring.AddressUnmapped):
        m.read64(0x100c)
    assert ring.Ring.bytes_needed("packed", 8) == 8 * 16 + 8


def test_indirect_tables_and_state_restore():
    r = ring.Ring(bytearray(1 << 16), layout="packed", queue_size=4, gpa_base=BASE, indirect_desc=True,
                  indirect_pool=(BASE + 0x8000, 4, 8))
    r.driver.add(readable=[(DATA, 8), (DATA + 8, 8)], writable=[(DATA + 64, 8)], token=5)
    assert r.descriptors()[0].flag_names == ("INDIRECT", "AVAIL") and r.driver.stats["indirect"] == 1
    c = r.device.pop()
    assert c.indirect and len(c.readable) == 2 and c.count == 1
    r.device.push_used(c, 8)
    r.device.flush()
    assert r.driver.get_used() == ring.UsedBuffer(5, 8)
    saved = r.device.state()
    r.device.reset()
    r.device.set_state(saved)
    assert r.device.state() == saved
    with pytest.raises(ring.BadRingState):
        r.device.set_state(ring.RingState(9, True, 0, True))
