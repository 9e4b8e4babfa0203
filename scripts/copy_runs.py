#!/usr/bin/env python3
"""What a fault batch costs per copy: cuda_tracer/copy_runs.sh's recordings (uvm_micro --run-pages R: R pages
of every 2R, the same faults and VA blocks in runs of R) as a table, native times beside the events pass's
batches and migrations (copies), and with --uvmsim the model's time and copies for the same workloads
(`uvmsim generate --run-pages`) under --config.

  scripts/copy_runs.py cuda_tracer/recordings/copy_runs_h100b.jsonl \
      --events cuda_tracer/recordings/copy_runs_events_h100b.jsonl [--uvmsim build/release/uvmsim] \
      [--config sim/configs/h200.json] [--set KEY=VALUE]... [--report results/copy_runs.md]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def load(path):
    out = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{i}: {e}")
    return out


def key(run):
    return ("host" if run["host_init"] else "zero", run["bytes"] >> 20, run.get("run_pages", 0))


def model(uvmsim, config, sets, k):
    init, mib, r = k
    with tempfile.TemporaryDirectory() as d:
        args = [uvmsim, "generate", "--pattern", "seq", "--bytes", f"{mib}MiB",
                "--host-init" if init == "host" else "--write", "--out", f"{d}/t.uvmt"]
        if r:
            args += ["--run-pages", str(r)]
        subprocess.run(args, check=True, capture_output=True)
        subprocess.run([uvmsim, "run", "--trace", f"{d}/t.uvmt", "--config", config, "--out", f"{d}/o"] +
                       [x for s in sets for x in ("--set", s)], check=True, capture_output=True)
        s = json.load(open(f"{d}/o/stats.json"))["stats"]
    k0 = s["kernels"][0]
    return (k0["end_ns"] - k0["start_ns"]) / 1e6, s["batches"], s["htod_copies"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("native", help="copy_runs.sh's copy_runs.jsonl")
    ap.add_argument("--events", required=True, help="copy_runs.sh's copy_runs_events.jsonl, same machine")
    ap.add_argument("--uvmsim")
    ap.add_argument("--config", default="sim/configs/h200.json")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    ap.add_argument("--report")
    a = ap.parse_args()
    native = {key(r): r for r in load(a.native)}
    events = {key(e["run"]): e for e in load(a.events) if e.get("run")}
    head = ["pages", "size", "runs of", "native ms (min-max)", "events pass ms", "batches", "entries p50",
            "VA blocks p50", "copies", "MiB prefetched"]
    if a.uvmsim:
        head += ["model ms", "model batches", "model copies"]
    lines = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for k in sorted(native, key=lambda k: (k[0], k[1], k[2])):
        n, e = native[k], events.get(k)
        row = [k[0] == "host" and "CPU-initialised" or "zero-fill", f"{k[1]} MiB", str(k[2] or "all"),
               f"{n['touch_ms']:.3f} ({n['touch_ms_min']:.3f}-{n['touch_ms_max']:.3f})"]
        if e:
            row += [f"{e['run']['touch_ms']:.3f}", str(e["batches"]), f"{e['entries_per_batch']['median']:g}",
                    f"{e['blocks_per_batch']['median']:g}", str(e["kinds"].get("migration", 0)),
                    f"{e['migrated'].get('prefetch', 0) / 2**20:.1f}"]
        else:
            row += ["-"] * 6
        if a.uvmsim:
            ms, b, c = model(a.uvmsim, a.config, a.set, k)
            row += [f"{ms:.3f}", str(b), str(c)]
        lines.append("| " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.report:
        with open(a.report + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.report + ".tmp", a.report)


if __name__ == "__main__":
    main()
