#!/usr/bin/env python3
"""Which ring-core barriers are necessary? For every named barrier, every
ordering mode and a set of seeds, run the simulator with that barrier
dropped and record whether the ring broke and which conformance rule caught
it. Prints a Markdown table (the one in docs/barrier-table.md).

Usage: scripts/barrier_table.py [--build DIR] [--seeds N] [--packets N] [--jobs N]

The scenario keeps the reordering windows open: the vhost worker busy-polls
(it reads the ring while the driver writes it), the driver queues 16
packets per kick decision, and weak stores may take up to 200 ns to become
visible. Every run is deterministic: same seed, same result."""
import argparse
import concurrent.futures
import json
import os
import subprocess
import tempfile

BARRIERS = [  # (site, kind, what it orders) -- models/ring/memory_policy.h
    ("driver_publish", "wmb", "descriptor bodies before head flags / avail idx"),
    ("driver_kick_check", "mb", "publish before reading the device's event suppression"),
    ("driver_used_read", "rmb", "used flags / used idx before id and len"),
    ("driver_event_write", "wmb", "driver area off_wrap before its flags"),
    ("driver_enable_recheck", "mb", "enabling callbacks before re-checking used"),
    ("device_avail_read", "rmb", "avail flags / avail idx before descriptor bodies"),
    ("device_used_publish", "wmb", "used id/len before used flags / used idx"),
    ("device_signal_check", "mb", "used publish before reading the driver's event suppression"),
    ("device_event_write", "wmb", "device area off_wrap before its flags"),
    ("device_enable_recheck", "mb", "enabling notifications before re-checking avail"),
]
MODES = ["sc", "tso", "weak"]
SCENARIO = ["--set", "vhost.busy_poll_ns=5000", "--set", "driver.tx_batch=16",
            "--set", "memory.weak_max_delay_ns=200", "--set", "stall_timeout_us=300"]


def run(sim, barrier, mode, seed, packets, ring):
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        args = [sim, "run", "--quiet", "--packets", str(packets), "--ring", ring, "--seed", str(seed),
                "--set", "ordering=" + mode, "--report", report] + SCENARIO
        if barrier:
            args += ["--set", "fault.drop_barriers=" + barrier]
        subprocess.run(args, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = json.load(open(report))
        rules = sorted(r["monitor"]["by_rule"].keys())
        return bool(r["errors"]) or bool(rules), rules


def cell(results):
    broken = [rules for failed, rules in results if failed]
    if not broken:
        return f"not observed (0/{len(results)})"
    rules = sorted({x for rs in broken for x in rs}) or ["run failed"]
    return f"**broken**: {', '.join(rules)} ({len(broken)}/{len(results)})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--packets", type=int, default=3000)
    ap.add_argument("--ring", default="packed", choices=["packed", "split"])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    sim = os.path.join(a.build, "sim", "virtiosim")
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for b, _, _ in [(None, "", "")] + BARRIERS:
            for m in MODES:
                for s in range(1, a.seeds + 1):
                    jobs[(b, m, s)] = pool.submit(run, sim, b, m, s, a.packets, a.ring)
    res = {k: f.result() for k, f in jobs.items()}
    print(f"Ring: {a.ring}; {a.seeds} seeds x {a.packets} packets per cell; command: "
          f"`scripts/barrier_table.py --build {a.build} --seeds {a.seeds} --packets {a.packets} --ring {a.ring}`\n")
    print("| barrier dropped | kind | orders | sc | tso | weak |")
    print("|---|---|---|---|---|---|")
    print("| (none) | | all barriers in place | " +
          " | ".join(cell([res[(None, m, s)] for s in range(1, a.seeds + 1)]) for m in MODES) + " |")
    for b, kind, what in BARRIERS:
        print(f"| `{b}` | {kind} | {what} | " +
              " | ".join(cell([res[(b, m, s)] for s in range(1, a.seeds + 1)]) for m in MODES) + " |")


if __name__ == "__main__":
    main()
