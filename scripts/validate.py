#!/usr/bin/env python3
"""Put the simulator next to measured systems. For every published
experiment in scripts/validation/rows.json, run the scenario that models
it (its presets, its own keys, then its 'before' and 'after' keys) and set
the simulated figures beside the published ones; then, unless --no-live,
measure one experiment on this machine in the same command (DPDK testpmd
virtio-user txonly into testpmd net_vhost rxonly, packed and split,
interleaved) and run its model. Writes docs/validation.md (--out FILE, or
- for stdout).

Usage: scripts/validate.py [--build DIR] [--packets N] [--out FILE]
                           [--no-live] [--live-reps N] [--live-seconds S]

How a row is judged (stated in the output too):
  change   before/after rows: the simulated change agrees when it is within
           a quarter of the published change or 2 percentage points of it,
           whichever is wider; otherwise it is 'off' and the table says by
           how much. A published range counts as agreeing anywhere inside it.
  level    where the source gives absolute figures, the simulated 'before'
           is compared with the published one: within 25% or 'off'. Most
           sources do not state their hardware, so this column is a sanity
           check; the change is the row's verdict.
Exit status: 0 when the table was written (rows that are off are findings,
not failures), 1 when a simulation failed, 2 on bad usage."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = os.path.join(ROOT, "scripts", "validation", "rows.json")

CHANGE_TOLERANCE = 0.25   # of the published change
CHANGE_FLOOR = 0.02       # or this much of a ratio (2 percentage points)
LEVEL_TOLERANCE = 0.25    # simulated/published level


def simulate(binary, settings, packets):
    """One run; returns the report (dict). Raises on a failed run."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [binary, "run", "--quiet", "--packets", str(packets), "--report", report]
        for key, value in settings.items():
            cmd += ["--set", f"{key}={value}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not os.path.exists(report):
            raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
        with open(report) as f:
            r = json.load(f)
        if r["result"] != "ok":
            raise RuntimeError(f"{' '.join(cmd)}: result {r['result']}: {r.get('errors')}")
        return r


def scenario(doc, row, side):
    """The keys of a row's 'before' or 'after' run, in the order they apply."""
    settings = {}
    for p in row["presets"]:
        settings.update(doc["presets"][p]["set"])
    settings.update(row.get("set", {}))
    settings.update(row[side])
    return settings


def change_verdict(sim_ratio, pub):
    lo, hi = pub.get("ratio_range", [pub["ratio"], pub["ratio"]])
    if lo <= sim_ratio <= hi:
        return "agrees (inside the published range)"
    delta_pub = pub["ratio"] - 1
    off = (sim_ratio - 1) - delta_pub
    allowed = max(CHANGE_FLOOR, CHANGE_TOLERANCE * abs(delta_pub))
    if abs(off) <= allowed:
        return "agrees"
    return f"off by {off * 100:+.1f} pp"


def level_verdict(sim, pub):
    q = sim / pub
    return ("agrees" if abs(q - 1) <= LEVEL_TOLERANCE else "off") + f" ({q:.2f}x)"


# Where a simulated level is off, what each cost accounts for: the 'before'
# run again with that cost taken out, and the time per packet it saves.
# (Savings overlap where costs hide behind each other: they need not add up.)
ATTRIBUTION = [
    ("cache-line transfers", {"memory.remote_transfer_ns": 0}),
    ("checked user accesses", {"device_memory.uaccess_ns": 0}),
    ("device per-packet work", {"vhost.tx_packet_cycles": 1}),
    ("driver per-packet work", {"driver.tx_packet_cycles": 1, "driver.pktgen_packet_cycles": 1,
                                "driver.pmd_tx_packet_cycles": 1}),
    ("kick exits and syscalls", {"pci.vhost_kick_guest_ns": 0, "pci.user_kick_caller_ns": 0}),
]


def attribute(binary, settings, metric, packets, base_rate):
    base_ns = 1e3 / base_rate
    out = []
    for what, without in ATTRIBUTION:
        rate = simulate(binary, dict(settings, **without), packets)["rates"][metric]
        out.append((what, base_ns - 1e3 / rate))
    return out


def published_ratio(pub):
    if "ratio" in pub:
        return pub
    return dict(pub, ratio=pub["after"] / pub["before"])


def run_rows(doc, binary, packets):
    out = []
    for row in doc["rows"]:
        pub = published_ratio(row["published"])
        before = simulate(binary, scenario(doc, row, "before"), packets)["rates"][row["metric"]]
        after = simulate(binary, scenario(doc, row, "after"), packets)["rates"][row["metric"]]
        sim_ratio = after / before
        level = level_verdict(before, pub["before"]) if "before" in pub else "not published"
        out.append({"row": row, "pub": pub, "sim_before": before, "sim_after": after, "sim_ratio": sim_ratio,
                    "change": change_verdict(sim_ratio, pub), "level": level,
                    "attribution": attribute(binary, scenario(doc, row, "before"), row["metric"], packets, before)
                    if level.startswith("off") else None})
        print(f"  {row['id']}: simulated {before:.3f} -> {after:.3f} Mpps ({sim_ratio:.3f}), "
              f"published ratio {pub['ratio']:.3f}: {out[-1]['change']}", file=sys.stderr)
    return out


# --- the live row -----------------------------------------------------------

def testpmd_rate(log, field):
    """Median per-second `field` of a testpmd log, the first two samples skipped."""
    with open(log) as f:
        values = [int(v) for v in re.findall(field + r":\s*(\d+)", f.read())][2:]
    return statistics.median(values) if values else 0


def testpmd_cycles_ns(log):
    """testpmd --record-core-cycles: busy ns per packet of its forwarding core
    (cycles spent in bursts that moved packets, over packets), or None."""
    with open(log) as f:
        m = re.findall(r"CPU cycles/packet=([\d.]+) .*? at (\d+) MHz Clock", f.read())
    return float(m[-1][0]) * 1e3 / float(m[-1][1]) if m else None


def live_run(ring, seconds, workdir, tag):
    """testpmd net_vhost rxonly on CPU 1 fed by testpmd virtio-user txonly on
    CPU 0 (64-byte frames, burst 32, 256 entries); returns the front-end's
    Tx-pps and each side's busy ns per packet."""
    sock = os.path.join(workdir, f"{tag}.sock")
    eal = lambda prefix, lcores: ["--no-huge", "-m", "512", "--no-pci", f"--file-prefix={prefix}{os.getpid()}",
                                  "--lcores", lcores]
    common = ["--total-num-mbufs=32768", "--stats-period", "1", "--auto-start", "--record-core-cycles"]
    be_log, fe_log = os.path.join(workdir, f"{tag}.be.log"), os.path.join(workdir, f"{tag}.fe.log")
    with open(be_log, "w") as be_out:
        be = subprocess.Popen(["timeout", "-s", "INT", str(seconds + 10), "dpdk-testpmd", *eal("vbe", "0@1,1@1"),
                               "--vdev", f"net_vhost0,iface={sock}", "--", *common, "--forward-mode=rxonly"],
                              stdout=be_out, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    packed = "1" if ring == "packed" else "0"
    with open(fe_log, "w") as fe_out:
        subprocess.run(["timeout", "-s", "INT", str(seconds), "dpdk-testpmd", *eal("vfe", "0@0,1@0"),
                        "--vdev", f"net_virtio_user0,path={sock},packed_vq={packed},queue_size=256", "--",
                        *common, "--forward-mode=txonly", "--txpkts=64"], stdout=fe_out, stderr=subprocess.STDOUT)
    be.send_signal(2)
    be.wait()
    rate = testpmd_rate(fe_log, "Tx-pps")
    if not rate:
        with open(fe_log) as f:
            tail = f.read().strip().splitlines()[-3:]
        print(f"  live {ring}: no rate; the front-end's log ends: {' / '.join(tail)}", file=sys.stderr)
    return {"rate": rate, "driver_ns": testpmd_cycles_ns(fe_log), "device_ns": testpmd_cycles_ns(be_log)}


def machine_probe(build):
    """This machine's core clock and core-to-core line transfer between the
    two CPUs the live row uses (testbench/bench/machine_probe), or None."""
    probe = os.path.join(build, "testbench", "bench", "machine_probe")
    if not os.access(probe, os.X_OK):
        print(f"  no {probe}: the live row's model of this machine is left out", file=sys.stderr)
        return None
    done = subprocess.run([probe, "0", "1"], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  machine_probe exited {done.returncode}: {done.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(done.stdout)


LIVE_MODEL = {"presets": ["pmd-user", "dpdk-vhost"]}  # the live row's scenario: virtio-user into DPDK vhost


def simulate_live(doc, binary, packets, extra):
    """The live row's model, packed and split: rate and each side's busy ns per packet."""
    out = {}
    for ring in ("packed", "split"):
        r = simulate(binary, dict(scenario(doc, dict(LIVE_MODEL, x={"ring": ring}), "x"), **extra), packets)
        out[ring] = {"rate": r["rates"]["tx_mpps"], "driver_ns": r["cpu_ns_per_packet"]["driver"],
                     "device_ns": r["cpu_ns_per_packet"]["device"]}
    return out


def live_row(doc, binary, build, packets, reps, seconds):
    load = [os.getloadavg()[0]]
    probe = machine_probe(build)
    measured = {"packed": [], "split": []}
    with tempfile.TemporaryDirectory() as work:
        for rep in range(reps):
            for ring in ("packed", "split"):
                measured[ring].append(live_run(ring, seconds, work, f"{ring}{rep}"))
                m = measured[ring][-1]
                print(f"  live {ring} rep {rep + 1}: {m['rate'] / 1e6:.3f} Mpps, busy ns per packet: "
                      f"front-end {m['driver_ns']}, back-end {m['device_ns']}", file=sys.stderr)
    load.append(os.getloadavg()[0])
    ratios = [p["rate"] / s["rate"] for p, s in zip(measured["packed"], measured["split"]) if p["rate"] and s["rate"]]
    if not ratios:
        raise RuntimeError("the live row measured no rep with both rings forwarding (testpmd did not start in "
                           "time or forwarded nothing); try more --live-seconds")
    sim = simulate_live(doc, binary, packets, {})
    machine_keys = ({"memory.remote_transfer_ns": probe["transfer_ns"], "driver.guest_ghz": probe["core_ghz"],
                     "vhost.host_ghz": probe["core_ghz"]} if probe else None)
    return {"measured": measured, "ratios": ratios, "load": load, "sim": sim,
            "sim_ratio": sim["packed"]["rate"] / sim["split"]["rate"], "probe": probe,
            "machine_keys": machine_keys,
            "sim_machine": simulate_live(doc, binary, packets, machine_keys) if probe else None,
            "scenario": scenario(doc, dict(LIVE_MODEL, x={}), "x")}


# --- the document -----------------------------------------------------------

def keys(settings):
    return " ".join(f"`{k}={v}`" for k, v in settings.items())


def render(doc, rows, live, args):
    o = []
    o.append("# Validation: the simulator beside measured systems (generated)\n")
    o.append(f"Generated by `scripts/validate.py --packets {args.packets}{'' if live else ' --no-live'}"
             f" --out docs/validation.md` from a fresh build; do not edit by hand. The published rows are\n"
             f"in `scripts/validation/rows.json` (source, hardware, what was measured, a verbatim quote).\n")
    o.append("Each row is a published experiment and the scenario that models it: the presets below, the\n"
             "row's own keys, then its *before* and *after* keys; every run sends "
             f"{args.packets} frames of 64 bytes with the default seed. The simulated figure is\n"
             "`rates.tx_mpps` of the report.\n")
    o.append(f"**Verdicts.** *Change*: the simulated after/before agrees when it is within a quarter of the\n"
             f"published change or {CHANGE_FLOOR * 100:.0f} percentage points of it, whichever is wider (inside a"
             " published range counts as agreeing); otherwise the table gives the difference in percentage\n"
             f"points. *Level*: the simulated *before* against the published one, within "
             f"{LEVEL_TOLERANCE * 100:.0f}% or off (most sources do not state their hardware: a sanity\n"
             "check, not the row's verdict).\n")
    o.append("| row | published before → after (ratio) | simulated before → after (ratio) | change | level |")
    o.append("|---|---|---|---|---|")
    for r in rows:
        pub = r["pub"]
        pub_text = (f"{pub['before']:.2f} → {pub['after']:.2f} Mpps ({pub['ratio']:.3f})" if "before" in pub
                    else f"ratio {pub['ratio_range'][0]:.2f}–{pub['ratio_range'][1]:.2f}" if "ratio_range" in pub
                    else f"ratio {pub['ratio']:.3f}")
        o.append(f"| {r['row']['id']} | {pub_text} | {r['sim_before']:.2f} → {r['sim_after']:.2f} Mpps "
                 f"({r['sim_ratio']:.3f}) | {r['change']} | {r['level']} |")
    if live:
        med = {k: statistics.median([x["rate"] for x in v if x["rate"]]) / 1e6 for k, v in live["measured"].items()}
        live_ratio = statistics.median(live["ratios"])
        o.append(f"| live: testpmd virtio-user txonly → testpmd net_vhost rxonly, split → packed (this machine) | "
                 f"{med['split']:.2f} → {med['packed']:.2f} Mpps ({live_ratio:.3f}, median of per-rep ratios) | "
                 f"{live['sim']['split']['rate']:.2f} → {live['sim']['packed']['rate']:.2f} Mpps "
                 f"({live['sim_ratio']:.3f}) | {change_verdict(live['sim_ratio'], {'ratio': live_ratio})} | "
                 f"{level_verdict(live['sim']['split']['rate'], med['split'])} |")
    o.append("\n## Presets\n")
    for name, p in doc["presets"].items():
        o.append(f"- **{name}**: {p['what']}. {keys(p['set'])}")
    o.append("\n## Rows\n")
    for r in rows:
        row = r["row"]
        o.append(f"### {row['id']}\n")
        o.append(f"- Source: {row['source']}")
        o.append(f"- Hardware: {row['hardware']}")
        o.append(f"- Measured: {row['measured']}")
        o.append(f"- Quote: \"{row['quote']}\"")
        if row.get("note"):
            o.append(f"- Note: {row['note']}")
        o.append(f"- Scenario: presets {', '.join(row['presets'])}; {keys(row.get('set', {}))}; "
                 f"before {keys(row['before'])}, after {keys(row['after'])}")
        if r["attribution"]:
            o.append(f"- Level off: {1e3 / r['sim_before']:.0f} ns per packet simulated, "
                     f"{1e3 / r['pub']['before']:.0f} ns published. Taken out one at a time, each cost saves "
                     "(ns per packet): " + ", ".join(f"{what} {ns:.0f}" for what, ns in r["attribution"]))
        if row.get("gap"):
            o.append(f"- Why it misses: {row['gap']}")
        o.append("")
    if live:
        o.append("### live: testpmd virtio-user → net_vhost rxonly, packed and split\n")
        o.append("- Measured here, in the same command: DPDK `dpdk-testpmd` (Debian's) net_vhost rxonly on CPU 1,\n"
                 "  fed by testpmd virtio-user txonly on CPU 0, 64-byte frames, burst 32, 256 entries,\n"
                 f"  `--no-huge`; {args.live_reps} interleaved reps of {args.live_seconds} s per ring, rate = the\n"
                 "  front-end's median Tx-pps after two warm-up seconds; a rep where either ring forwarded nothing\n"
                 "  (testpmd not up in time on a loaded machine) is listed and left out of the medians.")
        for ring in ("split", "packed"):
            o.append(f"- {ring}: " + ", ".join(f"{v['rate'] / 1e6:.3f}" for v in live["measured"][ring]) + " Mpps")
        o.append("- packed/split per rep: " + ", ".join(f"{x:.3f}" for x in live["ratios"]))
        o.append(f"- load average (1 min) at start and end: {live['load'][0]:.2f}, {live['load'][1]:.2f}")
        o.append(f"- Scenario: presets pmd-user, dpdk-vhost; {keys(live['scenario'])}; ring split, then packed")
        o.append("")
        o.append("Each side's busy time per packet (testpmd `--record-core-cycles`: cycles in bursts that moved\n"
                 "packets, over packets, at the TSC rate testpmd reports; the model: `cpu_ns_per_packet`, the\n"
                 "agent's clock advances, its polls included), medians over the reps:\n")
        o.append("| | split front-end | split back-end | packed front-end | packed back-end |")
        o.append("|---|---|---|---|---|")
        cells = lambda d: " | ".join(f"{d[ring][side]:.0f} ns" for ring in ("split", "packed")
                                     for side in ("driver_ns", "device_ns"))
        meas = {ring: {side: statistics.median([x[side] for x in live["measured"][ring] if x[side]] or [0])
                       for side in ("driver_ns", "device_ns")} for ring in ("split", "packed")}
        o.append(f"| measured | {cells(meas)} |")
        o.append(f"| model, defaults | {cells(live['sim'])} |")
        if live["probe"]:
            pr = live["probe"]
            o.append(f"| model, this machine's figures | {cells(live['sim_machine'])} |")
            o.append("")
            o.append(f"This machine's figures (`testbench/bench/machine_probe`, same command): core clock "
                     f"{pr['core_ghz']:.2f} GHz (dependent adds), one-way transfer of a modified line between CPUs 0 "
                     f"and 1 {pr['transfer_ns']:.0f} ns (ping-pong). The model with them: "
                     f"{live['sim_machine']['split']['rate']:.2f} → {live['sim_machine']['packed']['rate']:.2f} Mpps "
                     f"({live['sim_machine']['packed']['rate'] / live['sim_machine']['split']['rate']:.3f}); "
                     f"keys {keys(live['machine_keys'])}.")
        o.append("")
        o.append(f"- Why the level misses: {doc['live_gap']}\n")
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--packets", type=int, default=20000)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "validation.md"))
    ap.add_argument("--no-live", action="store_true", help="skip the run of DPDK testpmd on this machine")
    ap.add_argument("--live-reps", type=int, default=5)
    ap.add_argument("--live-seconds", type=int, default=8)
    args = ap.parse_args()
    binary = os.path.join(args.build, "sim", "virtiosim")
    if not os.access(binary, os.X_OK):
        print(f"validate: no simulator at {binary} (build first, or --build DIR)", file=sys.stderr)
        return 2
    with open(ROWS) as f:
        doc = json.load(f)
    live_ok = not args.no_live and shutil.which("dpdk-testpmd") and (os.cpu_count() or 1) >= 2
    if not args.no_live and not live_ok:
        print("validate: no dpdk-testpmd or fewer than 2 CPUs: the live row is left out", file=sys.stderr)
    try:
        rows = run_rows(doc, binary, args.packets)
        live = live_row(doc, binary, args.build, args.packets, args.live_reps, args.live_seconds) if live_ok else None
    except RuntimeError as e:
        print(f"validate: {e}", file=sys.stderr)
        return 1
    text = render(doc, rows, live, args)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"validate: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
