#!/usr/bin/env python3
"""Packed vs split over queue sizes: Mpps and kicks per packet, as a table,
a CSV and a plot.

    PYTHONPATH=build/python /usr/bin/python3 python/examples/packed_vs_split.py [--packets N] [--out DIR]
"""
import argparse
import os

import virtiosim
from virtiosim import plot

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--packets", type=int, default=20000)
ap.add_argument("--sizes", default="64,256,1024")
ap.add_argument("--out", default="out/examples")
args = ap.parse_args()
os.makedirs(args.out, exist_ok=True)

configs = [virtiosim.Config(ring=ring, queue_size=int(q)) for ring in ("packed", "split") for q in args.sizes.split(",")]
res = virtiosim.sweep(configs, packets=args.packets)
print(res.table(["ring", "queue_size", "mpps", "kicks_per_packet", "interrupts_per_packet", "latency_p99_ns"]))
res.to_csv(os.path.join(args.out, "packed_vs_split.csv"))
png = os.path.join(args.out, "packed_vs_split.png")
plot.sweep_figure(res, x="queue_size", y=["mpps", "kicks_per_packet"], by="ring", path=png)
print("plot:", png)
