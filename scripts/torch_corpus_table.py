#!/usr/bin/env python3
"""Tables of the PyTorch model corpus (issue: trace PyTorch models) from what the recordings measured.

Reads cuda_tracer/recordings/torch_h100.jsonl (written by cuda_tracer/record_torch.sh on the H100: each
pass's exit, wall time and in-process cold/warm inference times, the access tool's (CTA, page) pair count,
and a native run timing REPS cold and warm inferences) and `uvmsim trace info` of each corpus trace
(sizes, kernels, CTAs, completeness). Prints markdown.

Usage: scripts/torch_corpus_table.py [--uvmsim build/uvmsim] [--corpus traces/corpus]
       [--summary cuda_tracer/recordings/torch_h100.jsonl] > table.md
"""
import argparse
import json
import os
import re
import statistics
import subprocess


def trace_name(rec):
    return "torch_" + rec["name"].replace("procs_", "2proc_") + ".uvmt"


def info(uvmsim, path):
    text = subprocess.run([uvmsim, "trace", "info", path], check=True, capture_output=True, text=True).stdout
    out = {"bytes": os.path.getsize(path)}
    m = re.search(r"kernels (\d+), CTAs (\d+), ranges (\d+)", text)
    out["kernels"], out["ctas"], out["ranges"] = (int(x) for x in m.groups())
    for stream, rec, exp in re.findall(r"completeness\s+(\w+) (\d+) of (\d+) bytes", text):
        out[stream] = 100.0 * int(rec) / int(exp) if int(exp) else float("nan")
    return out


def inference(r, p):
    """Cold + warm inference ms of a pass (summed over processes)."""
    return sum(s["cold_ms"] + s["warm_ms"] for s in r["passes"][p]["stdout"])


def native_inference(r):
    rep = r.get("native_repeat") or []
    if rep and "cold_ms_median" in rep[0]:
        return rep[0]["cold_ms_median"] + rep[0]["warm_ms_median"]
    return inference(r, "native")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uvmsim", default="build/uvmsim")
    ap.add_argument("--corpus", default="traces/corpus")
    ap.add_argument("--summary", default="cuda_tracer/recordings/torch_h100.jsonl")
    a = ap.parse_args()
    recs = [json.loads(line) for line in open(a.summary) if line.strip()]

    print("### Traces: size, accesses and completeness\n")
    print("| trace | bytes | kernels | CTAs | (CTA, page) pairs | bytes / pair | HtoD complete | DtoH complete |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total = 0
    for r in recs:
        name = trace_name(r)
        i = info(a.uvmsim, os.path.join(a.corpus, name))
        total += i["bytes"]
        pairs = r["passes"]["access"].get("pairs", 0)
        print(f"| {name} | {i['bytes']:,} | {i['kernels']:,} | {i['ctas']:,} | {pairs:,} | "
              f"{i['bytes'] / pairs:.3f} | {i.get('htod', float('nan')):.1f}% | {i.get('dtoh', float('nan')):.1f}% |")
    print(f"\nTotal: {total:,} bytes.\n")

    print("### Cold against warm inference (native, no tool)\n")
    print("Medians of the native timing run's repetitions (each cold inference after the pool is moved to the "
          "CPU again); the native pass's single run beside them.\n")
    print("| recording | cold ms (median) | warm ms (median) | cold / warm | reps | native pass cold / warm ms |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in recs:
        native = r["passes"]["native"]["stdout"]
        single = ", ".join(f"{s['cold_ms']:.2f} / {s['warm_ms']:.2f}" for s in native)
        rep = r.get("native_repeat") or []
        if rep and "cold_ms_median" in rep[0]:
            c, w = rep[0]["cold_ms_median"], rep[0]["warm_ms_median"]
            print(f"| {r['name']} | {c:.2f} | {w:.2f} | {c / w:.1f} | {len(rep[0]['cold_ms_reps'])} | {single} |")
        else:
            print(f"| {r['name']} | | | | | {single} (one per process) |")

    print("\n### The tracer's slowdown\n")
    print("Per pass: the inference time inside the process (cold + warm, from the script's own clock; single "
          "runs) against the native medians (the native pass's single run where there are none), and the whole "
          "process's wall time (Python and CUDA start-up included) against the native pass's.\n")
    passes = ["timing", "counters", "access", "resident"]
    print("| recording | " + " | ".join(f"{p} inference" for p in passes) + " | " +
          " | ".join(f"{p} wall" for p in passes) + " |")
    print("| --- |" + " ---: |" * (2 * len(passes)))
    for r in recs:
        ps = r["passes"]

        cells = [f"{inference(r, p) / native_inference(r):.2f}x" for p in passes]
        cells += [f"{ps[p]['wall_ms'] / ps['native']['wall_ms']:.2f}x" for p in passes]
        print(f"| {r['name']} | " + " | ".join(cells) + " |")
    med = {p: statistics.median(inference(r, p) / native_inference(r) for r in recs) for p in passes}
    print("\nMedian inference slowdown: " + ", ".join(f"{p} {v:.2f}x" for p, v in med.items()) + ".")


if __name__ == "__main__":
    main()
