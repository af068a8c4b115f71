#!/usr/bin/python3
"""The run report for people, end to end through `virtiosim`.

  html_page_test.py summary  VIRTIOSIM OUTDIR   the text summary states what a fault did
  html_page_test.py chromium VIRTIOSIM OUTDIR   the HTML page, loaded in headless Chromium

The chromium case runs a short simulation with a fault that produces a
monitor finding, writes the JSON report and the page, dumps the DOM after the
page's script has run and checks its figures against the report's, then
takes a screenshot into OUTDIR. It exits 77 (skipped) only when no chromium
is installed (scripts/install-deps.sh installs it with the test group).
"""
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def run(virtiosim, outdir, name, *args):
    """`virtiosim run ARGS`: its summary and its JSON report."""
    report = os.path.join(outdir, name + ".json")
    done = subprocess.run([virtiosim, "run", *args, "--report", report], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"virtiosim run {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    with open(report) as f:
        return done.stdout, json.load(f)


def expect_line(summary, text):
    assert text in summary, f"the summary does not say {text!r}:\n{summary}"


def summary_case(virtiosim, outdir):
    # The examples of issue #16: figures the summary used to leave to the JSON.
    out, j = run(virtiosim, outdir, "kick_always", "--set", "fault.kick_always=1", "--packets", "20000")
    assert j["monitor"]["spurious_kicks"] > 0
    expect_line(out, f"{j['monitor']['spurious_kicks']} spurious kicks")
    expect_line(out, f"monitor: {j['monitor']['violations']} violations; first P10.ignored_suppression")

    out, j = run(virtiosim, outdir, "restarts", "--set", "vhost.restart_every_us=25", "--packets", "20000")
    assert j["faults"]["device_restarts"] > 0
    expect_line(out, f"fault effects: {j['faults']['device_restarts']} device restarts")

    # Loads the ordering model performed early are no fault's effect: their own line.
    out, j = run(virtiosim, outdir, "weak", "--set", "ordering=weak", "--packets", "20000")
    assert j["faults"]["loads_hoisted"] > 0
    assert "fault effects" not in out, out
    expect_line(out, f"memory ordering: {j['faults']['loads_hoisted']} loads performed early (weak)")
    expect_line(out, "monitor: no violations")

    # A reset while the wire still holds frames of the queue: some are lost.
    out, j = run(virtiosim, outdir, "reset", "--set", "driver.tx_batch=16", "--set", "fault.reset_tx_at_us=1500",
                 "--strict", "--packets", "20000")
    lost, taken_back = j["packets"]["lost_at_reset"], j["packets"]["tx_taken_back_at_reset"]
    assert lost > 0, j["packets"]
    expect_line(out, f"1 queue resets, {lost} frames lost at reset, {taken_back} TX buffers taken back at reset")
    expect_line(out, "features: VIRTIO_NET_F_MAC VIRTIO_NET_F_MRG_RXBUF VIRTIO_NET_F_STATUS VIRTIO_RING_F_EVENT_IDX "
                     "VIRTIO_F_VERSION_1 VIRTIO_F_RING_PACKED")

    out, j = run(virtiosim, outdir, "pcie", "--set", "path=pcie", "--set", "metadata=dma", "--packets", "20000")
    assert j["load"]["queueing_dominated"] is True, j["load"]
    expect_line(out, "latency was measured at full offered load (driver.offered_pps=0) and is queueing-dominated")


class Dom(html.parser.HTMLParser):
    """Elements of the dumped DOM: attributes by id, texts by id, attributes by class, link targets."""

    def __init__(self):
        super().__init__()
        self.by_id, self.text, self.classes, self.links, self.open = {}, {}, {}, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.by_id[a["id"]] = a
        # Texts by id, and of the fault effects' rows by "effect:NAME".
        key = a.get("id") or ("effect:" + a["data-effect"] if "data-effect" in a else None)
        if key is not None:
            self.text[key] = ""
        for c in a.get("class", "").split():
            self.classes.setdefault(c, []).append(a)
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag not in ("br", "meta", "img", "input", "link"):
            self.open.append(key)

    def handle_endtag(self, tag):
        if self.open:
            self.open.pop()

    def handle_data(self, data):
        for i in self.open:
            if i is not None:
                self.text[i] += data


def chromium(*args):
    profile = tempfile.mkdtemp(prefix="virtiosim-chromium-")
    try:
        return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--user-data-dir=" + profile, *args], capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def chromium_case(virtiosim, outdir):
    if shutil.which("chromium") is None:
        print("SKIP: no chromium on PATH (apt-get install chromium; scripts/install-deps.sh test installs it)")
        return SKIP
    page = os.path.join(outdir, "report.html")
    _, j = run(virtiosim, outdir, "report", "--set", "fault.kick_always=1", "--packets", "3000", "--html", page)
    assert j["monitor"]["violations"] > 0, "the fault should give a finding"
    # `virtiosim report` renders the same page from the JSON alone.
    again = os.path.join(outdir, "report-again.html")
    done = subprocess.run([virtiosim, "report", os.path.join(outdir, "report.json"), "--html", again], timeout=60)
    assert done.returncode == 0
    with open(page, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read(), "run --html and report --html differ"

    dumped = chromium("--dump-dom", "file://" + os.path.abspath(page))
    assert dumped.returncode == 0, dumped.stderr
    dom = Dom()
    dom.feed(dumped.stdout)

    def figure(element_id):
        assert element_id in dom.text, f"no #{element_id} in the page"
        return json.loads(dom.text[element_id])

    assert figure("packets-tx") == j["packets"]["tx"]
    assert figure("packets-rx") == j["packets"]["rx"]
    assert figure("kicks-per-packet") == j["kicks"]["per_packet"]
    assert figure("interrupts-per-packet") == j["interrupts"]["per_packet"]
    assert figure("violations") == j["monitor"]["violations"]
    rows = dom.classes.get("finding-row", [])
    assert rows and rows[0]["data-rule"] == j["monitor"]["first"][0]["rule"], rows[:1]
    anchor = "rule-" + j["monitor"]["first"][0]["rule"]
    assert "#" + anchor in dom.links and anchor in dom.by_id, "the finding does not link to its rule's statement"
    features = [t.strip() for t in dom.text["feature-names"].split() if t.strip()]
    assert features == j["negotiated_feature_names"], features
    spurious = dom.text.get("effect:spurious_kicks", "")
    assert spurious.replace("spurious_kicks", "") == str(j["monitor"]["spurious_kicks"]), spurious
    # Drawn by the page's script: one mark per timeline event, and its count.
    events = len(j["timeline"]["events"])
    assert events > 0
    assert int(dom.by_id["timeline-status"]["data-shown"]) == events, dom.by_id["timeline-status"]
    assert len(dom.classes.get("ev", [])) == events, len(dom.classes.get("ev", []))

    shot = os.path.join(outdir, "report.png")
    if os.path.exists(shot):
        os.remove(shot)
    taken = chromium("--screenshot=" + shot, "--window-size=1400,2000", "file://" + os.path.abspath(page))
    assert taken.returncode == 0, taken.stderr
    with open(shot, "rb") as f:
        png = f.read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20000, f"{shot}: {len(png)} bytes"
    print("screenshot:", shot)
    return 0


def main():
    case, virtiosim, outdir = sys.argv[1:4]
    os.makedirs(outdir, exist_ok=True)
    if case == "summary":
        summary_case(virtiosim, outdir)
        return 0
    return chromium_case(virtiosim, outdir)


if __name__ == "__main__":
    sys.exit(main())
