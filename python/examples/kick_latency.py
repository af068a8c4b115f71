#!/usr/bin/env python3
"""From a wave to a reason: run with waves on, decode the ring events, and
find the longest delay from a driver's kick until the device had used every
slot the kick announced. Also draws the ring timeline around it.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/kick_latency.py [--packets N] [--out DIR]
"""
import argparse
import os

import virtiosim
from virtiosim import plot

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--packets", type=int, default=5000)
ap.add_argument("--queue", default="tx0")
ap.add_argument("--out", default="out/examples")
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)

r = virtiosim.run(packets=args.packets, vcd=os.path.join(args.out, "kick_latency.vcd"))
t = virtiosim.Trace(r.paths["vcd"])
events = t.events(queue=args.queue)

# Running slot positions: published by the driver, used by the device.
published = used = 0
pending = []  # (kick time, slots published by then)
worst = None
for e in events:
    if e.kind == "avail_published":
        published += e.count
    elif e.kind == "kick":
        pending.append((e.time_ns, published, e))
    elif e.kind == "used_written":
        used += e.count
        while pending and pending[0][1] <= used:
            kick_ns, upto, kick = pending.pop(0)
            delay = e.time_ns - kick_ns
            if worst is None or delay > worst[0]:
                worst = (delay, kick_ns, e.time_ns, upto, e)

print(f"{args.queue}: {sum(e.count for e in events if e.kind == 'kick')} kicks "
      f"(report: {next(q for q in r['queues'] if q['name'] == args.queue)['driver']['kicks']})")
if worst:
    delay, kick_ns, done_ns, upto, e = worst
    print(f"longest kick-to-used: {delay / 1000:.3f} us: kick at {kick_ns / 1000:.3f} us announced slots up to "
          f"#{upto}; the device had used them all at {done_ns / 1000:.3f} us (used index {e.to_idx}, "
          f"wrap {int(e.to_wrap)})")
    png = os.path.join(args.out, "kick_latency_timeline.png")
    plot.ring_timeline(t, queue=args.queue, start_ns=max(0, kick_ns - 20000), end_ns=done_ns + 20000, path=png)
    print("timeline:", png)
s = next(q for q in t.summary()["queues"] if q["name"] == args.queue)["longest_kick_to_avail_seen"]
if s:
    print(f"longest kick-to-avail-seen (decoder): {s['delay_ps'] / 1e6:.3f} us, the device took slot {s['slot']} "
          f"at {s['effect_ps'] / 1e6:.3f} us")
print("gtkwave", r.paths["gtkw"])
