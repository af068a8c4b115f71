"""run(): one simulation in its own process (the `virtiosim` executable),
its JSON report returned as a Result."""

import json
import os
import shutil
import subprocess
import tempfile


def simulator():
    """Path of the `virtiosim` executable: $VIRTIOSIM_BIN, else the build this package came from, else PATH."""
    env = os.environ.get("VIRTIOSIM_BIN")
    if env:
        return env
    try:
        from ._build import VIRTIOSIM_BIN
        if os.path.exists(VIRTIOSIM_BIN):
            return VIRTIOSIM_BIN
    except ImportError:
        pass
    found = shutil.which("virtiosim")
    if found:
        return found
    raise FileNotFoundError("no virtiosim executable: build it (make build) or set VIRTIOSIM_BIN")


class RunError(RuntimeError):
    """The simulator reported a failed run (or died); the message is the simulator's.
    .result holds the report when one was written."""

    def __init__(self, message, result=None, returncode=None):
        super().__init__(message)
        self.result = result
        self.returncode = returncode


class _Attr(dict):
    """A dict whose keys also read as attributes (report sections)."""

    def __getattr__(self, name):
        try:
            v = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return _Attr(v) if isinstance(v, dict) and not isinstance(v, _Attr) else v


# Common figures: attribute -> path in the report.
FIGURES = {
    "mpps": ("rates", "tx_mpps"),
    "rx_mpps": ("rates", "rx_mpps"),
    "gbps": ("rates", "tx_gbps"),
    "packets_tx": ("packets", "tx"),
    "packets_rx": ("packets", "rx"),
    "kicks": ("kicks", "issued"),
    "kicks_suppressed": ("kicks", "suppressed"),
    "kicks_per_packet": ("kicks", "per_packet"),
    "interrupts": ("interrupts", "issued"),
    "interrupts_handled": ("interrupts", "handled"),
    "interrupts_per_packet": ("interrupts", "per_packet"),
    "latency_mean_ns": ("latency_ns", "mean"),
    "latency_p50_ns": ("latency_ns", "p50"),
    "latency_p99_ns": ("latency_ns", "p99"),
    "accesses_per_packet": ("memory", "accesses_per_packet"),
    "transfers_per_packet": ("memory", "cache_line_transfers_per_packet"),
    "driver_cpu_ns_per_packet": ("cpu_ns_per_packet", "driver"),
    "device_cpu_ns_per_packet": ("cpu_ns_per_packet", "device"),
}


class Result(_Attr):
    """The report of one run (a dict, as `virtiosim run --report` writes it),
    with the common figures as attributes (r.mpps, r.kicks_per_packet,
    r.latency_p99_ns, ... see FIGURES), report sections as attributes
    (r.rates.tx_mpps), and what the run wrote in r.paths (report, vcd, gtkw)."""

    def __init__(self, report, paths=None, config=None):
        super().__init__(report)
        self.__dict__["paths"] = dict(paths or {})
        self.__dict__["config"] = config

    def __getattr__(self, name):
        if name in FIGURES:
            a, b = FIGURES[name]
            return self[a][b]
        return super().__getattr__(name)

    @property
    def ok(self):
        return self.get("result") == "ok"

    def flat(self, wall=False):
        """The report as one flat record: "rates.tx_mpps": 1.2, ...; per-queue
        figures as "queues.tx0.driver.kicks"; config under "config.*"."""
        out = {}

        def walk(prefix, v):
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(f"{prefix}.{k}" if prefix else k, x)
            elif isinstance(v, list) and prefix == "queues":
                for q in v:
                    walk(f"queues.{q.get('name')}", {k: x for k, x in q.items() if k != "name"})
            elif isinstance(v, list):
                out[prefix] = "; ".join(map(str, v))
            else:
                out[prefix] = v

        walk("", {k: v for k, v in self.items() if wall or k != "wall"})
        return out

    def __repr__(self):
        return (f"Result({self.get('result')}: {self.packets_tx} packets, {self.mpps:.3f} Mpps, "
                f"{self.kicks_per_packet:.3f} kicks/pkt, {self.interrupts_per_packet:.3f} irqs/pkt, "
                f"paths={self.paths})")


def run(config=None, vcd=None, seed=None, report=None, packets=None, timeout=None, **overrides):
    """Simulate one configuration in its own process and return its Result.

    config: a Config, a dict of key: value, or None (defaults); overrides
      (queue_size=512, memory__dram_ns=90) apply on top.
    vcd: path of the VCD to write (a FILE.gtkw save file lands next to it).
    seed, packets: shortcuts for those keys.
    report: where to keep the JSON report (default: read, then removed).
    Raises ConfigError for a configuration the simulator refuses, RunError
    (with the simulator's message) for a run that failed.
    """
    from .config import Config, ConfigError  # config imports this module

    cfg = config.copy() if isinstance(config, Config) else Config(config or {})
    cfg.update(**overrides)
    if seed is not None:
        cfg["seed"] = seed
    if packets is not None:
        cfg["packets"] = packets
    # The report (unless kept) and, on a refused configuration, the
    # simulator's --error-json (which parameter, for ConfigError.key).
    tmp = tempfile.mkdtemp(prefix="virtiosim-run-")
    report_path = os.path.join(tmp, "report.json") if report is None else os.fspath(report)
    error_path = os.path.join(tmp, "error.json")
    cmd = [simulator(), "run", "--quiet", "--error-json", error_path, *cfg.args(), "--report", report_path]
    paths = {"report": None if report is None else os.path.abspath(report_path)}
    if vcd is not None:
        vcd = os.path.abspath(os.fspath(vcd))
        cmd += ["--vcd", vcd]
        paths["vcd"] = vcd
        paths["gtkw"] = os.path.splitext(vcd)[0] + ".gtkw"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if p.returncode == 2:
            try:
                with open(error_path) as f:
                    refused = json.load(f)
            except (OSError, ValueError):
                lines = p.stderr.strip().splitlines()
                refused = {"key": None, "message": lines[0].removeprefix("virtiosim run: ") if lines else "bad configuration"}
            raise ConfigError(refused.get("key"), refused["message"])
        result = None
        if os.path.exists(report_path):
            with open(report_path) as f:
                result = Result(json.load(f), paths, cfg)
        # The simulator says why on stderr (with --quiet too); the report's
        # errors are the same reasons.
        said = p.stderr.strip()
        if p.returncode == 1 and result is not None:
            reasons = "; ".join(result.get("errors", [])) or said.removeprefix("virtiosim run: failed: ")
            raise RunError("virtiosim run failed: " + (reasons or "no reason given"), result, 1)
        if p.returncode != 0 or result is None:
            how = f"died of signal {-p.returncode}" if p.returncode < 0 else f"exited with {p.returncode}"
            raise RunError(f"virtiosim run {how}" + (f": {said}" if said else " and said nothing"), result,
                           p.returncode)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
