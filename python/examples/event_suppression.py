#!/usr/bin/env python3
"""Event suppression modes vs kicks and interrupts per packet: flags only,
EVENT_IDX, and the device busy-polling (notifications off while it polls),
for both ring layouts.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/event_suppression.py [--packets N]
"""
import argparse

import virtiosim

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--packets", type=int, default=20000)
args = ap.parse_args()

modes = {
    "flags": {"event_idx": False},
    "event_idx": {"event_idx": True},
    "busy_poll": {"event_idx": True, "vhost.busy_poll_ns": 20000},
}
configs, names = [], []
for ring in ("packed", "split"):
    for mode, values in modes.items():
        configs.append(virtiosim.Config(values, ring=ring))
        names.append(mode)
res = virtiosim.sweep(configs, packets=args.packets)
for rec, mode in zip(res, names):
    rec["mode"] = mode
print(res.table(["ring", "mode", "kicks_per_packet", "interrupts_per_packet", "mpps", "latency_p50_ns"]))
# Notifications cost CPU on both sides; the rate follows the slower side.
for rec in res:
    b = virtiosim.bottleneck(rec)
    if b:
        print(f"  {rec['ring']:6} {rec['mode']:9}: {b[0]}-bound (driver {b[1]:.0f} ns, device {b[2]:.0f} ns per packet)")
