"""Plots with matplotlib: a figure against a swept parameter, and the ring
timeline of one run drawn from its VCD."""

import bisect

import matplotlib.pyplot as plt  # without a display matplotlib picks a file backend (Agg)

from .trace import Trace


def sweep_figure(records, x, y=("mpps", "kicks_per_packet"), by=None, path=None, title=None):
    """One panel per figure in `y`, plotted against the swept parameter `x`,
    one line per value of `by` (e.g. by="ring" for packed vs split). Records
    are sweep() output (or any dicts). Saves to `path` when given; returns the Figure."""
    ys = [y] if isinstance(y, str) else list(y)
    fig, axes = plt.subplots(len(ys), 1, figsize=(7, 2.8 * len(ys)), sharex=True, squeeze=False)
    groups = {}
    for r in records:
        if r.get("result", "ok") != "ok":
            continue
        groups.setdefault(r.get(by) if by else None, []).append(r)
    for ax, fig_name in zip(axes[:, 0], ys):
        for g, rows in groups.items():
            rows = sorted(rows, key=lambda r: r[x])
            ax.plot([r[x] for r in rows], [r[fig_name] for r in rows], marker="o",
                    label=f"{by}={g}" if by else None)
        ax.set_ylabel(fig_name)
        ax.grid(True, alpha=0.3)
        if by:
            ax.legend()
    axes[-1, 0].set_xlabel(x)
    if all(isinstance(r[x], (int, float)) and r[x] > 0 for rows in groups.values() for r in rows):
        values = sorted({r[x] for rows in groups.values() for r in rows})
        if len(values) > 2 and values[-1] / values[0] >= 16:
            axes[-1, 0].set_xscale("log", base=2)
    fig.suptitle(title or f"virtiosim: {', '.join(ys)} vs {x}")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def ring_timeline(trace, queue="tx0", start_ns=None, end_ns=None, path=None):
    """The ring of one queue over time, from a run's VCD: the driver's and
    device's indices (as running positions: slot + laps x queue size), slots
    owned by the device (made available, not yet used back) and available but
    not yet taken, with kicks and interrupts marked. Returns the Figure."""
    t = trace if isinstance(trace, Trace) else Trace(trace)
    # Running positions from the decoded events (one definition of index arithmetic: the C++ decoder).
    kind_of = {"avail_published": "published", "avail_seen": "seen", "used_written": "used", "used_seen": "taken"}
    series = {k: ([0.0], [0]) for k in ("published", "seen", "used", "taken")}
    kicks, irqs = [], []
    for e in t.events(queue=queue):
        if e.kind in kind_of:
            ts, vs = series[kind_of[e.kind]]
            ts.append(e.time_ns)
            vs.append(vs[-1] + e.count)
        elif e.kind == "kick":
            kicks.append(e.time_ns)
        elif e.kind == "interrupt":
            irqs.append(e.time_ns)
    end = max([ts[-1] for ts, _ in series.values()] + kicks + irqs + [0.0])
    for ts, vs in series.values():
        ts.append(end)
        vs.append(vs[-1])

    def at(key, when):
        ts, vs = series[key]
        return vs[max(0, bisect.bisect_right(ts, when) - 1)]

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    labels = {"published": "driver: made available", "seen": "device: taken (avail seen)",
              "used": "device: used written", "taken": "driver: used taken back"}
    for k, (ts, vs) in series.items():
        a1.step([x / 1000 for x in ts], vs, where="post", label=labels[k])
    a1.set_ylabel("slots (running)")
    a1.legend(loc="upper left", fontsize=8)
    grid = sorted({x for ts, _ in series.values() for x in ts})
    a2.step([x / 1000 for x in grid], [at("published", x) - at("taken", x) for x in grid], where="post",
            label="owned by the device (in flight)")
    a2.step([x / 1000 for x in grid], [at("published", x) - at("seen", x) for x in grid], where="post",
            label="available, not yet taken")
    a2.set_ylabel("slots")
    for ax in (a1, a2):
        for k in kicks:
            ax.axvline(k / 1000, color="tab:green", alpha=0.25, lw=0.8)
        for k in irqs:
            ax.axvline(k / 1000, color="tab:red", alpha=0.25, lw=0.8)
        ax.grid(True, alpha=0.3)
    a2.plot([], [], color="tab:green", label=f"kick ({len(kicks)})")
    a2.plot([], [], color="tab:red", label=f"interrupt ({len(irqs)})")
    a2.legend(loc="upper left", fontsize=8)
    a2.set_xlabel("simulated time (us)")
    if start_ns is not None or end_ns is not None:
        lo, hi = start_ns or 0, end_ns or end
        a2.set_xlim(lo / 1000, hi / 1000)
        seen = [at(k, lo) for k in series] + [v for ts, vs in series.values() for x, v in zip(ts, vs) if lo <= x <= hi]
        a1.set_ylim(min(seen) - 1, max(seen) + 1)
    fig.suptitle(f"{t.path}: {queue}")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig
