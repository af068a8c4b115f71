import subprocess

import pytest

import virtiosim
from virtiosim import EVENT_KINDS, Trace


@pytest.fixture(scope="module", params=["packed", "split"])
def waved(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("waves")
    r = virtiosim.run(virtiosim.Config(ring=request.param, queue_pairs=2), packets=3000, vcd=d / "run.vcd", seed=3)
    return r, Trace(r.paths["vcd"])


def queue_report(r, name):
    return next(q for q in r["queues"] if q["name"] == name)


def test_decoded_events_agree_with_the_report(waved):
    r, t = waved
    kicks = interrupts = 0
    for q in ("rx0", "tx0", "rx1", "tx1"):
        rep = queue_report(r, q)
        k = sum(e.count for e in t.events(queue=q, kind="kick"))
        assert k == rep["driver"]["kicks"], q
        kicks += k
        interrupts += sum(e.count for e in t.events(queue=q, kind="interrupt"))
        # Slots the driver took back and the device published: one per buffer here.
        assert sum(e.count for e in t.events(queue=q, kind="used_seen")) == rep["driver"]["used"], q
        assert sum(e.count for e in t.events(queue=q, kind="used_written")) == rep["device"]["used"], q
        assert sum(e.count for e in t.events(queue=q, kind="avail_seen")) == rep["device"]["popped"], q
    assert kicks == r["kicks"]["issued"]
    assert interrupts == r["interrupts"]["handled"]
    # Packets: every TX buffer the driver sent came back used.
    assert sum(e.count for q in ("tx0", "tx1") for e in t.events(queue=q, kind="used_seen")) == r.packets_tx


def test_events_filter_and_order(waved):
    r, t = waved
    all_events = t.events()
    assert {e.kind for e in all_events} <= {k[0] for k in EVENT_KINDS}
    assert [e.time_ns for e in all_events] == sorted(e.time_ns for e in all_events)
    tx_kicks = t.events(queue=1, kind="kick")
    assert tx_kicks == t.events(queue="tx0", kind="kick")
    assert all(e.name == "tx0" and e.kind == "kick" for e in tx_kicks)
    assert tx_kicks[0].to_idx - tx_kicks[0].from_idx == tx_kicks[0].count
    with pytest.raises(ValueError, match="unknown event kind 'barrier'"):
        t.events(kind="barrier")
    with pytest.raises(ValueError):
        t.events(queue="q7")
    assert "barrier" in virtiosim.NOT_DECODED and "store_visible" in virtiosim.NOT_DECODED


def test_summary_matches_events_and_cli(waved):
    r, t = waved
    s = t.summary()
    assert [q["name"] for q in s["queues"]] == ["rx0", "tx0", "rx1", "tx1"] == t.queues
    tx0 = s["queues"][1]
    assert tx0["layout"] == r["config"]["ring"] and tx0["size"] == 256
    assert tx0["events"]["kick"]["count"] == sum(e.count for e in t.events("tx0", "kick"))
    d = tx0["longest_kick_to_avail_seen"]
    assert d is None or d["delay_ps"] == d["effect_ps"] - d["cause_ps"] >= 0
    out = subprocess.run([virtiosim.simulator(), "waves", "summarize", t.path], capture_output=True, text=True,
                         check=True).stdout
    assert f"tx0: {r['config']['ring']} ring, 256 entries" in out
    assert "not decoded: barrier and store_visible" in out
    csv = subprocess.run([virtiosim.simulator(), "waves", "events", t.path, "--queue", "tx0", "--kind", "kick"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(csv) - 1 == len(t.events("tx0", "kick"))


def test_signals(waved):
    r, t = waved
    assert "SystemC.tx0.kicks" in t.signals()
    times, values = t.signal("tx0.kicks")
    assert values[-1] == queue_report(r, "tx0")["driver"]["kicks"]
    assert times == sorted(times)
    both = t.signal_values(["tx0.queue_size", "tx0.packed"])
    assert both["tx0.queue_size"][1][-1] == 256
    assert both["tx0.packed"][1][-1] == (r["config"]["ring"] == "packed")
    with pytest.raises(KeyError):
        t.signal("tx0.nothing")


def test_gtkw_names_only_signals_of_the_vcd(waved):
    r, t = waved
    present = {n + rng for n, rng, _ in virtiosim.trace._core.vcd_signals(t.path)}
    lines = open(r.paths["gtkw"]).read().splitlines()
    assert f'[dumpfile] "{r.paths["vcd"]}"' in lines
    # "+{tx0/driver/last_used_idx} SystemC.tx0.driver.last_used_idx[31:0]": shown by path, '/'-separated.
    traced = [l.split("} ", 1) for l in lines if l.startswith("+{")]
    assert traced and {name for _, name in traced} <= present
    assert all(name.startswith("SystemC." + alias[2:].replace("/", ".")) for alias, name in traced)
    # The monitor first, then per queue (with driver/device sub-groups), then memory: a begin and an end each.
    groups = [l[1:] for l in lines if l.startswith("-")]
    queues = [g for g in groups if "." not in g]
    assert queues[:10] == ["monitor", "monitor", "rx0", "rx0", "tx0", "tx0", "rx1", "rx1", "tx1", "tx1"]
    assert "memory" in queues and groups.count("tx1.driver") == 2 and groups.count("tx1.device") == 2
    filters = [l.split(" ", 1)[1] for l in lines if l.startswith("^")]
    assert filters and all(open(f).read() for f in filters)
    assert sorted(t.write_gtkw())[0].endswith((".gtkw", ".txt"))


def test_unreadable_vcd_raises(tmp_path):
    p = tmp_path / "x.vcd"
    p.write_text("$scope module a $end\n$var wire 1 ! x $end\n$upscope $end\n$enddefinitions $end\n")
    with pytest.raises(ValueError, match="no virtqueue signals"):
        Trace(p).events()
    with pytest.raises(ValueError, match="cannot open"):
        Trace(tmp_path / "missing.vcd")
