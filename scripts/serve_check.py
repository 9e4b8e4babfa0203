#!/usr/bin/env python3
"""The serving check (issue 22, item 6): uvmsim serve against the native server on the GPU.

The GPU side (workloads/serve_check.sh) serves each spec RUNS times with workloads/serve_runtime.cu and
logs every request. This script reads those logs, converts the first run of each spec to a trace
(`uvmsim trace requests`), replays its arrivals with `uvmsim serve` under the config of the GPU the runs
were recorded on, and compares each tenant's p50 and p99 latency (counted requests) with the median of
the GPU runs. The target: within max(20%, the GPU runs' own spread, (max - min) / median). Nothing is
fitted to these runs. Where the folder also holds events runs (SPECNAME.events.N.tenants.json,
`EVENTS=N workloads/serve_check.sh`), each tenant's count of the driver's fault batches holding its faults
is compared too (whole runs, warm-up included, as stats.tenants[].batches counts them), within
max(25%, the runs' spread).

  python3 scripts/serve_check.py --uvmsim build/release/uvmsim --logs DIR \
      --spec sim/serving/examples/check_warm.json --spec sim/serving/examples/check_cold.json \
      [--report results/serving_check.md]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile


def nearest_rank(values, p):
    v = sorted(values)
    r = max(1, math.ceil(p / 100.0 * len(v)))
    return v[r - 1]


def read_log(path):
    requests, summary = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                j = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON ({e})")
            if "program" in j:
                summary = j
            else:
                requests.append(j)
    if summary is None:
        sys.exit(f"{path}: no summary line: the run did not finish")
    return requests, summary


def latencies(requests, tenant):
    return [(r["end_ns"] - r["arrival_ns"]) / 1e6 for r in requests if r["tenant"] == tenant and r["counted"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--logs", required=True, help="folder of SPECNAME.RUN.jsonl from workloads/serve_check.sh")
    ap.add_argument("--spec", action="append", required=True)
    ap.add_argument("--config", help="config for the simulation (default: by the GPU the runs name)")
    ap.add_argument("--report")
    a = ap.parse_args()
    rows, devices = [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for spec_path in a.spec:
            name = os.path.splitext(os.path.basename(spec_path))[0]
            runs = sorted(f for f in os.listdir(a.logs) if f.startswith(name + ".") and f.endswith(".jsonl")
                          and ".events." not in f)
            events = [json.load(open(os.path.join(a.logs, f))) for f in sorted(os.listdir(a.logs))
                      if f.startswith(name + ".events.") and f.endswith(".tenants.json")]
            if not runs:
                sys.exit(f"{a.logs}: no {name}.N.jsonl")
            logs = [read_log(os.path.join(a.logs, f)) for f in runs]
            device = logs[0][1]["device"]
            devices.add(device)
            config = a.config or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim", "configs",
                                              "h200.json" if "H200" in device else "h100.json")
            spec = json.load(open(spec_path))
            trace = os.path.join(tmp, name + ".uvmt")
            subprocess.run([a.uvmsim, "trace", "requests", "--spec", spec_path, "--log",
                            os.path.join(a.logs, runs[0]), "--out", trace], check=True)
            replay = dict(spec)
            replay["slowdown"] = False
            replay["tenants"] = []
            for i, t in enumerate(spec["tenants"]):
                t = dict(t)
                t["arrivals"] = {"process": "trace", "trace": trace, "tenant": i}
                replay["tenants"].append(t)
            replay_path = os.path.join(tmp, name + ".replay.json")
            json.dump(replay, open(replay_path, "w"))
            out = os.path.join(tmp, name + ".out")
            subprocess.run([a.uvmsim, "serve", "--spec", replay_path, "--config", config, "--out", out],
                           check=True, stdout=subprocess.DEVNULL)
            st = json.load(open(os.path.join(out, "stats.json")))
            sim = {t["name"]: t for t in st["tenants"]}
            sim_fault_batches = {t["name"]: t["batches"] for t in st["stats"]["tenants"]}
            for i, t in enumerate(spec["tenants"]):
                tname = t.get("name", f'{t["model"]}#{i}')
                for p, key in ((50, "p50"), (99, "p99")):
                    per_run = [nearest_rank(latencies(r, tname), p) for r, _ in logs]
                    med = statistics.median(per_run)
                    spread = (max(per_run) - min(per_run)) / med
                    s = sim[tname]["latency_ms"][key]
                    err = (s - med) / med
                    rows.append({"spec": name, "tenant": tname, "quantity": key, "gpu_runs": per_run, "gpu": med,
                                 "spread": spread, "sim": s, "error": err,
                                 "target": max(0.20, spread), "config": os.path.basename(config),
                                 "batches_gpu": statistics.median(
                                     len({q["batch"] for q in r if q["tenant"] == tname and q["counted"]})
                                     for r, _ in logs),
                                 "batches_sim": sim[tname]["batches"]})
                if events:
                    per_run = [e["tenants"][tname]["batches"] for e in events]
                    med = statistics.median(per_run)
                    spread = (max(per_run) - min(per_run)) / med
                    s = sim_fault_batches[tname]
                    rows.append({"spec": name, "tenant": tname, "quantity": "fault batches", "gpu_runs": per_run,
                                 "gpu": med, "spread": spread, "sim": s, "error": (s - med) / med,
                                 "target": max(0.25, spread), "config": os.path.basename(config),
                                 "batches_gpu": rows[-1]["batches_gpu"], "batches_sim": rows[-1]["batches_sim"]})
    lines = ["# The serving check: uvmsim serve against the native server on the GPU", "",
             "Generated by `scripts/serve_check.py` from `" + a.logs + "` (GPU: " + ", ".join(sorted(devices)) +
             "): each spec served " + str(len(runs)) + " times by `workloads/serve_runtime.cu` "
             "(`workloads/serve_check.sh`), the first run's arrivals replayed by `uvmsim serve` (nothing fitted). "
             "Latency of the counted requests, ms; the target is max(20%, the GPU runs' spread). "
             "Fault batches (where recorded): the UVM driver's batches holding each tenant's faults over the "
             "whole run, from the tracer's events pass; the target is max(25%, the runs' spread).", "",
             "| spec | tenant | quantity | GPU runs | GPU median | spread | uvmsim | error | within | batches GPU / uvmsim | config |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in rows:
        lines.append(f'| {r["spec"]} | {r["tenant"]} | {r["quantity"]} | '
                     + ", ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r["gpu_runs"])
                     + f' | {r["gpu"]:.2f} | {100 * r["spread"]:.1f}% | {r["sim"]:.2f} | {100 * r["error"]:+.1f}% | '
                     + ("yes" if abs(r["error"]) <= r["target"] else "no")
                     + f' | {r["batches_gpu"]:.0f} / {r["batches_sim"]} | {r["config"]} |')
    within = sum(abs(r["error"]) <= r["target"] for r in rows)
    lines += ["", f"{within} of {len(rows)} within their target."]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.report:
        with open(a.report, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
