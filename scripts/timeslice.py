#!/usr/bin/env python3
"""Time slices and context switches between two processes on one GPU, from timeslice_probe's JSON lines
(cuda_tracer/programs/timeslice_probe.cu).

For each case and repetition the moments each process was seen running (kernel starts and ends, or the
ends of the stretches a spinning kernel saw its clock run without a jump) are merged on the one clock: a
turn is a maximal run of moments of one process, a switch the time from the end of one process's turn to
the start of the other's. Only turns with the other process still busy after them count (while one process is
alone it runs on). Prints the median turn and switch per case, over every repetition:

    scripts/timeslice.py cuda_tracer/recordings/timeslice_probe_h100.jsonl.gz
"""
import argparse
import gzip
import json
import statistics
import sys


def turns(rows):
    """rows: {process: [[begin, end], ...]} -> (turn lengths, switch gaps) in ns while both are busy.

    Every begin and end is a moment its process was running: a turn is a maximal run of moments of one
    process (a kernel preempted mid-run has its begin in one turn and its end in a later one)."""
    pts = sorted((t, p) for p, iv in rows.items() for b, e in iv for t in (b, e))
    if len({p for _, p in pts}) < 2:
        return [], []
    last = {p: max(t for t, q in pts if q == p) for p in rows}
    runs = []  # [process, first moment, last moment]
    for t, p in pts:
        if runs and runs[-1][0] == p:
            runs[-1][2] = t
        else:
            runs.append([p, t, t])
    lengths, gaps = [], []
    for i in range(1, len(runs) - 1):
        p, b, e = runs[i]
        if runs[i - 1][0] != p and last[runs[i + 1][0]] > e:
            lengths.append(e - b)
    for i in range(len(runs) - 1):
        p, _, e = runs[i]
        b = runs[i + 1][1]
        if last[p] > b:  # p still had work: a switch, not an idle hand-over
            gaps.append(b - e)
    return lengths, gaps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl")
    args = ap.parse_args()
    by = {}
    header = None
    opener = gzip.open if args.jsonl.endswith(".gz") else open
    with opener(args.jsonl, "rt") as f:
        for n, line in enumerate(f, 1):
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{args.jsonl}:{n}: not JSON: {e}")
            if "case" not in d:
                header = d
                continue
            by.setdefault((d["case"], d["rep"]), {})[d["process"]] = d["intervals"]
    if header:
        print(f"{header.get('gpu', '?')} ({header.get('device', '?')}, driver {header.get('driver', '?')})")
    cases = sorted({c for c, _ in by}, key=["long", "stream", "sync"].index)
    print(f"{'case':8} {'reps':>4} {'turns':>6} {'turn us (median)':>17} {'switch us (median)':>19} "
          f"{'switch us (p10-p90)':>20}")
    for c in cases:
        ls, gs, reps = [], [], 0
        for (cc, _), rows in sorted(by.items()):
            if cc != c:
                continue
            reps += 1
            l, g = turns(rows)
            ls += l
            gs += g
        if not ls or not gs:
            print(f"{c:8} {reps:>4} {len(ls):>6} {'-':>17} {'-':>19}")
            continue
        q = statistics.quantiles(gs, n=10) if len(gs) > 1 else [gs[0]] * 9
        print(f"{c:8} {reps:>4} {len(ls):>6} {statistics.median(ls) / 1e3:>17.1f} "
              f"{statistics.median(gs) / 1e3:>19.1f} {q[0] / 1e3:>9.1f}-{q[-1] / 1e3:<10.1f}")


if __name__ == "__main__":
    main()
