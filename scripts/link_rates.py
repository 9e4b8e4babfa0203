#!/usr/bin/env python3
"""The PCIe link's rate each way, read off a recorded trace's transfer records: each CUPTI unified-memory
record (OBSV htod and dtoh, start to end on the GPU) is a profiler's fixed cost per record plus its bytes at
the link's rate, so least squares of a record's duration on its bytes separates the two (the same reading as
scripts/gpu_configs.py --reproduce makes of the H200's and a GTX 1080 Ti's records).

sim/configs/h100.json takes its DtoH rate from here: the only DtoH the H100 table moves is the CPU's
touch-back, whose time the CPU's per-page fault work hides (the fit moves not one row with the rate at 37
or at 54 GB/s), so a fit leaves the rate undetermined, while an eviction's write-back waits on it. The
touch-back traces (traces/corpus/micro_touchback_*, fit set) hold every page's DtoH record (100% complete).

  scripts/link_rates.py --uvmsim build/release/uvmsim [TRACE.uvmt ...]
      (default: traces/corpus/micro_touchback_{64m,256m,1g}.uvmt; prints a table and the median rates)
"""
import argparse
import os
import statistics
import sys

from gpu_configs import per_record_cost
from trace_csv import sections

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = [os.path.join(ROOT, "traces", "corpus", f"micro_touchback_{s}.uvmt") for s in ("64m", "256m", "1g")]


def records(uvmsim, trace):
    """{"htod": (bytes, ns) lists, "dtoh": ...} of the trace's CUPTI records with a duration."""
    got = {"htod": ([], []), "dtoh": ([], [])}
    for r in sections(uvmsim, trace, "observed")[0]:
        if r["kind"] in got and int(r["end_ns"]) > int(r["start_ns"]):
            got[r["kind"]][0].append(int(r["value"]))
            got[r["kind"]][1].append(int(r["end_ns"]) - int(r["start_ns"]))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("traces", nargs="*", default=DEFAULT)
    a = ap.parse_args()
    rates = {"htod": [], "dtoh": []}
    print("| trace | way | records | mean KiB | per record (us) | link (GB/s) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for t in a.traces:
        for way, (nbytes, ns) in records(a.uvmsim, t).items():
            if len(nbytes) < 20 or len(set(nbytes)) < 2:  # too few, or one size: nothing to separate
                print(f"{t}: {len(nbytes)} {way} records of {len(set(nbytes))} sizes; left out", file=sys.stderr)
                continue
            t0, slope = per_record_cost(nbytes, ns)
            rates[way].append(1 / slope)
            print(f"| {os.path.basename(t)[:-5]} | {way} | {len(nbytes)} | {sum(nbytes) / len(nbytes) / 1024:.1f} | "
                  f"{t0 / 1e3:.2f} | {1 / slope:.2f} |")
    for way, v in rates.items():
        if v:
            print(f"{way}: median {statistics.median(v):.2f} GB/s over {len(v)} traces")


if __name__ == "__main__":
    main()
