#!/usr/bin/python3
"""Scores fault-arrival structures by the structure of the migrations they produce.

  scripts/structure_grid.py --uvmsim build/release/uvmsim --config sim/configs/h100_jitter.json \\
      --grid gpu.fault_jitter_ns=0,1000 --grid gpu.fault_jitter_accesses=1,3 \\
      --traces traces/corpus/micro_seq_64m.uvmt traces/corpus/micro_dense_64m.uvmt

For every combination of the --grid values (applied to --config with `uvmsim validate --set`), each trace
is validated and three things are compared with its recording: the number of HtoD migration copies, the
groups of copies with no gap over 5 us between them (about one per fault batch), and the prefetch share.
Copy counts follow from the order in which faults reach the driver (faulted pages scattered through a
block make many small copies), not from the costs, so they test the arrival structure on its own. Prints a
markdown table, best mean |log(simulated / observed)| of the copy counts first; traces whose HtoD stream is
incomplete are left out of the means.
"""
import argparse
import concurrent.futures
import itertools
import math
import os
import sys
import tempfile

from validation import validate


def quantities(uvmsim, config, settings, trace, out):
    return {q["key"]: q for q in validate(uvmsim, trace, config, out, settings)["quantities"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--config", required=True, help="config whose costs every combination keeps")
    ap.add_argument("--grid", action="append", default=[], help="key=v1,v2,... (repeatable)")
    ap.add_argument("--traces", nargs="+", required=True, help="recorded traces (.uvmt)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    axes = []
    for g in a.grid:
        key, sep, values = g.partition("=")
        if not sep or not values:
            sys.exit(f"structure_grid: --grid {g!r}: expected key=v1,v2,...")
        axes.append([f"{key}={v}" for v in values.split(",")])
    combos = [list(c) for c in itertools.product(*axes)] if axes else [[]]
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        jobs = {(i, t): ex.submit(quantities, a.uvmsim, a.config, c, t, os.path.join(tmp, f"{i}_{j}.json"))
                for i, c in enumerate(combos) for j, t in enumerate(a.traces)}
        res = {k: f.result() for k, f in jobs.items()}
    names = [os.path.basename(t).removesuffix(".uvmt") for t in a.traces]
    rows = []
    for i, c in enumerate(combos):
        copies, groups, shares, cells = [], [], [], []
        for t in a.traces:
            q = res[(i, t)]
            cp, gr, sh = q["htod_copies"], q["htod_copy_groups"], q["prefetch_share_pct"]
            if cp["scored"]:
                copies.append(abs(math.log(max(cp["simulated"], 1) / cp["observed"])))
                groups.append(abs(math.log(max(gr["simulated"], 1) / gr["observed"])))
                cells.append(f"{cp['simulated']:.0f} / {gr['simulated']:.0f}")
            else:
                cells.append("-")
            if sh["scored"]:
                shares.append(abs(sh["error_points"]))
        mean = lambda v: sum(v) / len(v) if v else float("nan")
        rows.append((mean(copies), mean(groups), mean(shares), " ".join(c) or "(the config)", cells))
    rows.sort(key=lambda r: r[0])
    observed = []
    for t in a.traces:
        q = res[(0, t)]
        observed.append(f"{q['htod_copies']['observed']:.0f} / {q['htod_copy_groups']['observed']:.0f}"
                        if q["htod_copies"]["scored"] else "-")
    head = ["settings", "copies: mean abs log error", "groups: mean abs log error", "prefetch share: mean pt"] + \
        [f"{n}: copies / groups" for n in names]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    print("| observed (H100 counter pass) | | | | " + " | ".join(observed) + " |")
    for c, g, s, label, cells in rows:
        print(f"| {label} | {c:.3f} | {g:.3f} | {s:.1f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
