#!/usr/bin/env python3
"""The tracer's timing pass against the H100 table of reference/measurements.md, from the corpus.

For each micro trace: the first-touch kernel's and the resident kernel's durations under the tracer
(CUPTI kernel records of the timing pass), the CPU touch-back (host time from the last synchronisation to
the free that follows it) and the explicit prefetch (host time of the synchronisation that waits for it).
Usage: scripts/tracer_timing.py [--uvmsim build/release/uvmsim] [--corpus traces/corpus] > table.md
"""
import argparse
import os

from trace_csv import sections

H100 = {  # reference/measurements.md, medians (ms)
    ("seq", "64m"): 13.7, ("seq", "256m"): 61.2, ("seq", "1g"): 239.1,
    ("again", "64m"): 0.041, ("again", "256m"): 0.048, ("again", "1g"): 0.053,
    ("touchback", "64m"): 21.1, ("touchback", "256m"): 85.7, ("touchback", "1g"): 336.9,
    ("random", "64m"): 10.0, ("random", "256m"): 47.7, ("random", "1g"): 217.1,
    ("prefetch", "64m"): 1.53, ("prefetch", "256m"): 5.94, ("prefetch", "1g"): 23.35,
    ("zerofill", "256m"): 33.1,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvmsim", default="build/release/uvmsim")
    ap.add_argument("--corpus", default="traces/corpus")
    a = ap.parse_args()
    table = []
    for size in ("64m", "256m", "1g"):
        for kind in ("seq", "random", "prefetch", "touchback", "zerofill"):
            path = os.path.join(a.corpus, f"micro_{kind}_{size}.uvmt")
            if not os.path.exists(path):
                continue
            ops, obs = sections(a.uvmsim, path, "ops", "observed")
            execs = sorted((int(o["value"]), (int(o["end_ns"]) - int(o["start_ns"])) / 1e6)
                           for o in obs if o["kind"] == "kernel_exec")
            row = {"seq": execs[0][1], "random": execs[0][1], "zerofill": execs[0][1]}
            if kind == "seq":
                table.append((f"GPU touch again, resident ({size})", H100[("again", size)], execs[1][1]))
            if kind in ("seq", "random", "zerofill"):
                label = {"seq": "GPU first touch, sequential", "random": "GPU first touch, random",
                         "zerofill": "256 MiB zero-fill write"}[kind]
                table.append((f"{label} ({size})", H100[(kind, size)], row[kind]))
            if kind == "touchback":
                syncs = [i for i, o in enumerate(ops) if o["kind"] == "sync"]
                free = next(i for i, o in enumerate(ops) if o["kind"] == "free" and i > syncs[-1])
                ms = (int(ops[free]["host_ns"]) - int(ops[syncs[-1]]["host_ns"])) / 1e6
                table.append((f"CPU touch-back ({size})", H100[("touchback", size)], ms))
            if kind == "prefetch":
                pf = next(i for i, o in enumerate(ops) if o["kind"] == "prefetch")
                sync = next(i for i, o in enumerate(ops) if o["kind"] == "sync" and i > pf)
                ms = (int(ops[sync]["host_ns"]) - int(ops[pf]["host_ns"])) / 1e6
                table.append((f"cudaMemPrefetchAsync ({size})", H100[("prefetch", size)], ms))
    print("| step | H100 table (ms) | tracer timing pass (ms) | difference |")
    print("| --- | --- | --- | --- |")
    for label, ref, got in table:
        print(f"| {label} | {ref:g} | {got:.3f} | {100 * (got - ref) / ref:+.1f}% |")


if __name__ == "__main__":
    main()
