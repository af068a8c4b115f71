import json
import os

import pytest

import virtiosim
from virtiosim import Config, RunError


def test_run_returns_the_report(packets):
    r = virtiosim.run(Config(ring="split", queue_size=128), packets=packets, seed=5)
    assert isinstance(r, dict) and r.ok and r["result"] == "ok"
    assert r["config"]["ring"] == "split" and r["seed"] == 5
    assert r.packets_tx == packets and r.packets_rx == packets
    assert r.mpps == r["rates"]["tx_mpps"] > 0
    assert r.rates.tx_mpps == r.mpps
    assert r.kicks == r["kicks"]["issued"] and 0 <= r.kicks_per_packet <= 1
    assert r.interrupts_handled == r["interrupts"]["handled"]
    assert r.latency_p99_ns >= r.latency_p50_ns > 0
    assert r.paths == {"report": None} and r.config["queue_size"] == 128
    flat = r.flat()
    assert flat["rates.tx_mpps"] == r.mpps and flat["queues.tx0.driver.added"] == packets
    assert "wall.seconds" not in flat and "wall.seconds" in r.flat(wall=True)
    assert "Mpps" in repr(r)
    with pytest.raises(AttributeError):
        r.no_such_figure


def test_same_seed_same_report(packets):
    a = virtiosim.run(packets=packets, seed=9, ordering="weak")
    b = virtiosim.run(Config(ordering="weak"), packets=packets, seed=9)
    a.pop("wall"), b.pop("wall")
    assert a == b


def test_run_keeps_report_and_waves(tmp_path, packets):
    r = virtiosim.run(packets=packets, report=tmp_path / "r.json", vcd=tmp_path / "w" / "run.vcd")
    assert r.paths["report"] == str(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["result"] == "ok"
    for k in ("vcd", "gtkw"):
        assert os.path.exists(r.paths[k]), k
    assert r.paths["gtkw"] == str(tmp_path / "w" / "run.gtkw")


def test_failed_run_raises_with_the_simulators_message():
    with pytest.raises(RunError) as e:
        virtiosim.run(packets=200, driver__offered_pps=1000, stall_timeout_us=1)
    assert "stall: no progress for 1 us" in str(e.value)
    assert e.value.returncode == 1 and e.value.result["result"] == "failed"


def test_simulator_is_found_and_overridable(monkeypatch):
    assert os.access(virtiosim.simulator(), os.X_OK)
    monkeypatch.setenv("VIRTIOSIM_BIN", "/nonexistent/virtiosim")
    assert virtiosim.simulator() == "/nonexistent/virtiosim"


def test_faults_from_python_are_replayable_and_named_by_the_monitor():
    cfg = Config({"fault.corrupt_used": "write_order", "fault.corrupt_used_at": 50})
    a = virtiosim.run(cfg, packets=1000, seed=3)
    assert a.ok  # a used entry out of completion order breaks nothing the driver sees
    assert a["monitor"]["by_rule"] == {"P4": 1}
    assert a["monitor"]["first"][0]["queue"] == "tx0"
    b = virtiosim.run(cfg, packets=1000, seed=3)
    a.pop("wall"), b.pop("wall")
    assert a == b
    # Kicking against a DISABLE the driver has just read is named once per
    # queue (P10.ignored_suppression); every such kick is counted as spurious.
    spurious = virtiosim.run(packets=1000, fault__kick_always=True, vhost__busy_poll_ns=5000)
    assert set(spurious["monitor"]["by_rule"]) == {"P10.ignored_suppression"}
    assert spurious["monitor"]["spurious_kicks"] > 0


def test_simulator_refusal_names_the_key():
    # Cross-parameter rules are the simulator's: the key comes back through
    # `virtiosim run --error-json`, not from parsing its message.
    with pytest.raises(virtiosim.ConfigError) as e:
        virtiosim.run(packets=10, ring="split", queue_size=1000)
    assert e.value.key == "queue_size"
    assert "power of two" in str(e.value)
    with pytest.raises(virtiosim.ConfigError) as e:
        virtiosim.run(packets=10, path="pcie", metadata="direct")
    assert e.value.key == "metadata"


def test_unwritable_report_is_refused_before_simulating():
    # Exit 2 before the run: ConfigError with the simulator's message, no key to blame.
    with pytest.raises(virtiosim.ConfigError) as e:
        virtiosim.run(packets=10**9, report="/proc/nope/x.json")
    assert e.value.key is None
    assert str(e.value) == "--report /proc/nope/x.json: cannot write: No such file or directory"
