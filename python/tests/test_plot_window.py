"""Plots people can read: axis labels with units, y axes from zero, and
ring_timeline on the window the GTKWave save file opens on (around the first
monitor finding, else a few ring laps in steady state)."""
import pytest

import virtiosim
from virtiosim import plot


def test_sweep_figure_labels_carry_units_and_start_at_zero():
    # 0.872 .. 0.891 Mpps: a 2 % difference must not look like a cliff.
    recs = [{"ring": r, "queue_size": q, "mpps": m, "latency_p99_ns": 1000 + q, "result": "ok"}
            for r, q, m in (("packed", 64, 0.891), ("packed", 256, 0.884), ("split", 64, 0.872), ("split", 256, 0.88))]
    fig = plot.sweep_figure(recs, x="queue_size", y=["mpps", "latency_p99_ns"], by="ring")
    a_mpps, a_lat = fig.axes
    assert a_mpps.get_ylabel() == "TX rate (Mpps)"
    assert a_lat.get_ylabel() == "latency p99 (ns)"
    assert a_lat.get_xlabel() == "queue_size (entries)"  # the parameter's declared unit
    assert a_mpps.get_ylim()[0] == 0 and a_lat.get_ylim()[0] == 0


def test_axis_label_units_come_from_the_declarations():
    unit = {p["key"]: p["unit"] for p in virtiosim.params()}
    assert plot.axis_label("vcd_sample_ns") == f"vcd_sample_ns ({unit['vcd_sample_ns']})"
    assert plot.axis_label("kicks_per_packet") == "kicks per packet (kicks/packet)"
    assert plot.axis_label("latency_ns.p50") == "latency_ns.p50 (ns)"
    assert plot.axis_label("ring") == "ring"  # a layout has no unit


def test_ring_timeline_opens_on_steady_state_laps(tmp_path):
    r = virtiosim.run(packets=3000, vcd=tmp_path / "t.vcd")
    t = virtiosim.Trace(r.paths["vcd"])
    view = t.view_window()
    assert not view["findings"] and "steady state" in view["reason"]
    first_kick = t.events("tx0", "kick")[0].time_ns
    assert first_kick < view["start_ns"] < view["end_ns"] < view["trace_end_ns"]  # after probing, not the whole run
    fig = plot.ring_timeline(t, queue="tx0", path=tmp_path / "t.png")
    lo, hi = fig.axes[1].get_xlim()
    assert (lo, hi) == pytest.approx((view["start_ns"] / 1000, view["end_ns"] / 1000))
    assert view["reason"] in fig._suptitle.get_text()
    assert all(ax.get_ylim()[0] == 0 for ax in fig.axes)
    # Kicks counted in the legend are those in the window.
    in_window = sum(1 for e in t.events("tx0", "kick") if view["start_ns"] <= e.time_ns <= view["end_ns"])
    assert f"kick ({in_window})" in [x.get_text() for x in fig.axes[1].get_legend().get_texts()]
    whole = plot.ring_timeline(t, queue="tx0", whole=True)
    assert whole.axes[1].get_xlim()[0] == 0


def test_ring_timeline_opens_on_the_first_finding(tmp_path):
    cfg = virtiosim.Config({"ordering": "weak", "fault.drop_barriers": "device_avail_read", "monitor.strict": 1})
    with pytest.raises(virtiosim.RunError) as failed:
        virtiosim.run(cfg, vcd=tmp_path / "bad.vcd")
    first = failed.value.result["monitor"]["first"][0]["rule"]
    t = virtiosim.Trace(tmp_path / "bad.vcd")
    view = t.view_window()
    when, _, rule = view["findings"][0]
    assert rule == first and view["reason"].startswith("first finding " + first)
    fig = plot.ring_timeline(t, queue="tx0")
    lo, hi = fig.axes[1].get_xlim()
    assert lo < when / 1000 < hi
    legend = [x.get_text() for x in fig.axes[1].get_legend().get_texts()]
    assert f"monitor finding ({first})" in legend[-1] or any(first in x for x in legend)


def test_bottleneck_is_the_slower_side():
    rec = {"cpu_ns_per_packet.driver": 1250.0, "cpu_ns_per_packet.device": 670.0, "result": "ok"}
    side, drv, dev, most = virtiosim.bottleneck(rec)
    assert (side, drv, dev) == ("driver", 1250.0, 670.0) and most == pytest.approx(0.8)
    assert virtiosim.bottleneck({**rec, "cpu_ns_per_packet.device": 2000.0})[0] == "device"
    assert virtiosim.bottleneck({**rec, "result": "failed"}) is None
