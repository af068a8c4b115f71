"""sweep(): many runs in parallel on any concurrent.futures.Executor, results
as flat records (one per configuration), writable to CSV and JSON."""

import concurrent.futures as cf
import csv
import json
import os

from .config import Config
from .run import RunError, run


def _one(cfg, seed, packets):
    """One point of a sweep (module level, so process pools and dask can pickle it)."""
    from .config import ConfigError
    try:
        r = run(cfg, seed=seed, packets=packets)
    except (RunError, ConfigError) as e:
        rec = {"result": "failed", "error": str(e)}
        if isinstance(e, RunError) and e.result is not None:
            rec.update(e.result.flat())
            rec["error"] = str(e)
        return rec
    rec = r.flat()
    rec["error"] = ""
    return rec


# Figures every record carries under a short name, after the swept keys:
# short name -> (report key, unit, what it is). Plots label axes from here.
SHORT = {
    "mpps": ("rates.tx_mpps", "Mpps", "TX rate"),
    "gbps": ("rates.tx_gbps", "Gbit/s", "TX throughput"),
    "kicks_per_packet": ("kicks.per_packet", "kicks/packet", "kicks per packet"),
    "interrupts_per_packet": ("interrupts.per_packet", "interrupts/packet", "interrupts per packet"),
    "latency_p50_ns": ("latency_ns.p50", "ns", "latency p50"),
    "latency_p99_ns": ("latency_ns.p99", "ns", "latency p99"),
    "accesses_per_packet": ("memory.accesses_per_packet", "accesses/packet", "guest-memory accesses per packet"),
    "kicks": ("kicks.issued", "kicks", "kicks issued"),
    "interrupts": ("interrupts.issued", "interrupts", "interrupts issued"),
    "packets_tx": ("packets.tx", "packets", "packets sent"),
}


def bottleneck(record):
    """What limits one run: the side that spends more CPU time per packet
    (report cpu_ns_per_packet.driver / .device), and the rate that sets, as
    ("driver" or "device", driver ns, device ns, at most Mpps); None for a
    failed run or one without the figures."""
    drv, dev = record.get("cpu_ns_per_packet.driver"), record.get("cpu_ns_per_packet.device")
    if record.get("result", "ok") != "ok" or not drv or not dev:
        return None
    return ("driver" if drv >= dev else "device", drv, dev, 1e3 / max(drv, dev))


class SweepResult(list):
    """Flat records, one per configuration, in the order given. Each holds the
    keys the configuration set (swept parameters), the short figures of
    SHORT (mpps, kicks_per_packet, ...), "result"/"error", and the whole
    flattened report ("rates.tx_mpps", "config.queue_size", ...)."""

    def columns(self):
        cols = []
        for r in self:
            for k in r:
                if k not in cols:
                    cols.append(k)
        return cols

    def to_csv(self, path):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns())
            w.writeheader()
            w.writerows(self)
        return path

    def to_json(self, path):
        with open(path, "w") as f:
            json.dump(list(self), f, indent=1)
            f.write("\n")
        return path

    def table(self, columns=None, floatfmt="{:.3f}"):
        """A plain-text table of some columns (default: swept keys and short figures)."""
        if columns is None:
            swept = [c for c in self.columns() if c in getattr(self, "swept", [])]
            columns = swept + ["mpps", "kicks_per_packet", "interrupts_per_packet", "latency_p99_ns", "result"]
        rows = [[floatfmt.format(v) if isinstance(v, float) else str(v) for v in (r.get(c, "") for c in columns)]
                for r in self]
        widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(columns)]
        line = lambda cells: "  ".join(s.rjust(w) for s, w in zip(cells, widths))
        return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows])


def sweep(configs, executor=None, progress=True, seed=None, packets=None, max_workers=None):
    """Run every configuration (Config or dict) and return a SweepResult.

    executor: any concurrent.futures.Executor (a ProcessPoolExecutor, or a
      dask.distributed Client's get_executor() to run on a cluster); by
      default a ThreadPoolExecutor of max_workers (os.cpu_count()) threads,
      each waiting on its own simulator process, so runs are parallel
      processes either way.
    progress: a tqdm bar on stderr (False to hide).
    A run that fails yields a record with result "failed" and its error;
    a configuration error is raised before anything runs.
    """
    cfgs = [c if isinstance(c, Config) else Config(c) for c in configs]
    swept = []
    for c in cfgs:
        for k in c.changed():
            if k not in swept:
                swept.append(k)
    own = executor is None
    if own:
        executor = cf.ThreadPoolExecutor(max_workers=max_workers or os.cpu_count() or 2)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(cfgs), desc="virtiosim sweep", unit="run")
    try:
        futures = {executor.submit(_one, c, seed, packets): i for i, c in enumerate(cfgs)}
        records = [None] * len(cfgs)
        for fut in cf.as_completed(futures):
            records[futures[fut]] = fut.result()
            if bar:
                bar.update(1)
    finally:
        if bar:
            bar.close()
        if own:
            executor.shutdown(wait=True)
    out = SweepResult()
    out.swept = swept
    for c, rec in zip(cfgs, records):
        row = {k: c[k] for k in swept}
        row.update({s: rec.get(full) for s, (full, _, _) in SHORT.items()})
        row["result"] = rec.get("result")
        row["error"] = rec.get("error", "")
        row.update({k: v for k, v in rec.items() if k not in row})
        out.append(row)
    return out
