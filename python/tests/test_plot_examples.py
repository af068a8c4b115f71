import os
import subprocess
import sys

import pytest

import virtiosim
from virtiosim import plot

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def test_sweep_figure(tmp_path):
    recs = [{"ring": r, "queue_size": q, "mpps": q / 100 + (r == "split"), "kicks_per_packet": 1 / q, "result": "ok"}
            for r in ("packed", "split") for q in (64, 256, 1024)]
    fig = plot.sweep_figure(recs, x="queue_size", y=["mpps", "kicks_per_packet"], by="ring", path=tmp_path / "s.png")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_ring_timeline(tmp_path):
    r = virtiosim.run(packets=500, vcd=tmp_path / "t.vcd")
    fig = plot.ring_timeline(r.paths["vcd"], queue="tx0", whole=True, path=tmp_path / "t.png")
    assert len(fig.axes) == 2
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    kicks = sum(e.count for e in virtiosim.Trace(r.paths["vcd"]).events("tx0", "kick"))
    assert any(f"kick ({len(virtiosim.Trace(r.paths['vcd']).events('tx0', 'kick'))})" == t for t in legend)
    assert kicks == next(q for q in r["queues"] if q["name"] == "tx0")["driver"]["kicks"]
    assert (tmp_path / "t.png").stat().st_size > 1000


@pytest.mark.parametrize("script,args,expect", [
    ("packed_vs_split.py", ["--packets", "1000", "--sizes", "64,256"], "-bound"),
    ("event_suppression.py", ["--packets", "1000"], "busy_poll"),
    ("kick_latency.py", ["--packets", "1000"], "longest kick-to-used"),
    ("fault_injection.py", ["--packets", "3000"], "caught"),
])
def test_examples_run(tmp_path, script, args, expect):
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args]
                       + (["--out", str(tmp_path)] if script != "event_suppression.py" else []),
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    assert p.returncode == 0, p.stderr
    assert expect in p.stdout
    if script == "fault_injection.py":  # every fault named by the rule it breaks
        assert " NO" not in p.stdout and (tmp_path / "fault_injection.csv").exists(), p.stdout
