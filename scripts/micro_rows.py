#!/usr/bin/env python3
"""Turns one machine's micro-workload timings (cuda_tracer/measure_micro.sh's JSON lines) into measurement
rows for `uvmsim calibrate --measurements` and the calibration test: first touches, resident touches,
touch-backs, prefetches and zero-fill writes, each the machine's median, plus the counter-pass prefetch
shares of reference/measurements.md (the recorded corpus shows them the same on every machine). Each timed
row carries the same workload's measured resident time ("resident_ms", its "touch again" kernel), so that
the simulated micro kernels compute as long as the machine's did and the fit sees only paging costs.

  scripts/micro_rows.py cuda_tracer/recordings/micro_h100_6f7b0be9.jsonl --source "..." --out rows.json

Given several machines' files, each row is the mean of their medians (and of their resident times), over the
rows every machine timed: a fit to several machines at once, validated against their mean (results/
calibration.md, "Two machines").
"""
import argparse
import json
import os
import sys

SHARES = [("seq", 85.9, "sequential"), ("random", 95.3, "random")]


def size_parts(n):
    """(64, "MiB"), (4, "KiB"), (1, "GiB"): the largest unit that divides n (a whole number of pages)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n % (1 << shift) == 0:
            return n >> shift, unit


def rows_of(m, where):
    """The rows one measured line gives; `where` names the line for errors."""
    for key in ("pattern", "bytes", "threads_per_cta", "host_init", "write", "prefetch", "touch_ms"):
        if key not in m:
            sys.exit(f"{where}: no '{key}'")
    if not isinstance(m["bytes"], int) or m["bytes"] <= 0 or m["bytes"] % 4096:
        sys.exit(f"{where}: bytes {m['bytes']} is not a positive number of 4 KiB pages")
    number, unit = size_parts(m["bytes"])
    base = {"pattern": m["pattern"], "bytes": f"{number}{unit}"}
    tpc = m["threads_per_cta"]
    if tpc != 256:
        base["threads_per_cta"] = tpc
    sharers = m.get("sharers", 1)  # lines of uvm_micro before --sharers: 1
    if sharers != 1:
        base["sharers"] = sharers
    shared = f"each page by {sharers} CTAs, " if sharers != 1 else ""
    run = m.get("run_pages", 0)  # uvm_micro --run-pages: R pages of every 2R
    if run:
        base["run_pages"] = run
        shared += f"runs of {run} page{'s' if run > 1 else ''} of every {2 * run}, "
    size = f"{number} {unit}"
    rel = {"rel_tolerance": 0.15, "unit": "ms", "resident_ms": m["touch_again_ms"]}
    if m["write"]:
        if m["host_init"] or m["prefetch"]:
            sys.exit(f"{where}: a zero-fill write must not be initialised or prefetched")
        order = "" if m["pattern"] == "seq" else m["pattern"] + ", "
        name = (f"GPU write of never-touched memory (zero-fill), {order}{shared}{size}" if tpc == 256 else
                f"GPU write of never-touched memory, {'one page' if tpc == 1 else f'{tpc} pages'} per CTA, "
                f"{shared}{size}")
        return [dict(name=name, **base, write=True, measure="first_touch", value=m["touch_ms"], **rel)]
    if not m["host_init"]:
        sys.exit(f"{where}: reads of never-touched memory are not a calibration row")
    base["host_init"] = True
    if m["prefetch"]:
        return [dict(name=f"cudaMemPrefetchAsync to the GPU, {size}", **base, prefetch=True,
                     measure="prefetch", value=m["prefetch_ms"], **rel)]
    order = {"seq": "sequential"}.get(m["pattern"], m["pattern"])
    what = (f"{order}, " if tpc == 256 else f"{tpc} page{'s' if tpc > 1 else ''} per CTA, ") + shared
    out = [dict(name=f"GPU first touch, {what}{size}", **base, measure="first_touch",
                value=m["touch_ms"], **rel)]
    # Lines of uvm_micro before its "touch_back" flag: only the table's rows touched back, in milliseconds.
    touch_back = m.get("touch_back", m["touch_back_ms"] > 0.01)
    if tpc == 256 and m["pattern"] == "seq" and sharers == 1 and not run:
        out.append(dict(name=f"GPU touch again, resident, {size}", **base, measure="resident", fit=False,
                        value=m["touch_again_ms"], unit="ms", abs_tolerance=0.05, resident_ms=m["touch_again_ms"]))
    if touch_back:
        out.append(dict(name=f"CPU touch-back, {size}", **base, touch_back=True, measure="touch_back",
                        value=m["touch_back_ms"], **rel))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("jsonl", nargs="+", help="measure_micro.sh output: one JSON object per line (one file per machine)")
    ap.add_argument("--source", required=True, help="where and how the lines were measured")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    machines = []
    for path in a.jsonl:
        rows = []
        with open(path) as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    try:
                        m = json.loads(line)
                    except json.JSONDecodeError as e:
                        sys.exit(f"{path}:{i}: {e}")
                    rows += rows_of(m, f"{path}:{i}")
        names = [r["name"] for r in rows]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            sys.exit(f"{path}: measured twice: {sorted(dup)}")
        machines.append({r["name"]: r for r in rows})
    rows = []
    for r in machines[0].values():
        same = [m[r["name"]] for m in machines if r["name"] in m]
        if len(same) < len(machines):
            continue
        r = dict(r)
        for key in ("value", "resident_ms"):
            if key in r and len(same) > 1:
                r[key] = round(sum(x[key] for x in same) / len(same), 4)
        rows.append(r)
    for pattern, value, words in SHARES:
        rows.append(dict(name=f"prefetch share of fault-driven HtoD bytes, {words} 64 MiB (counter pass)",
                         pattern=pattern, bytes="64MiB", host_init=True, measure="prefetch_share", value=value,
                         unit="%", abs_tolerance=5.0))
    with open(a.out + ".tmp", "w") as f:
        json.dump({"source": a.source, "rows": rows}, f, indent=1)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
