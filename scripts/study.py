#!/usr/bin/env python3
"""The study (issue 23, item 7), quick version: the four-model mix serving requests
(sim/serving/examples/mix4_study.json: AlexNet, VGG16, ResNet-50, MobileNetV2; sim/serving/examples/mix4.json
with each set's own batching policy and no runs alone) at GPU memory of
100%, 75% and 50% of its footprint, under every policy set in policies/sets/ (each a full tuple of every
kind), on sim/configs/h200.json. Prints and writes a table: per set and memory, mean and p99 latency over
all tenants' counted requests normalised to the baseline set's at the same memory, faults per batch,
batches, bytes migrated to the GPU and evicted, and pages re-faulted after their eviction.

  python3 scripts/study.py [--uvmsim build/release/uvmsim] [--requests 60] [--jobs 2] [--out results/study.md]
  python3 scripts/study.py --publication [--jobs N]     # 200 requests per tenant, seeds 1 to 5
  python3 scripts/study.py --publication --sweep build/sweeps/study   # the same table from `uvmsim sweep
                                                        # --spec sweeps/study.json`'s points (scripts/figures.sh)

--requests is per tenant (plus the spec's 20 warm-up requests). --seeds N runs every cell with seeds 1 to N
(the arrivals' draws) and reports the mean over seeds, with the p99's 95% confidence interval (Student's t
over the seeds' p99s); --publication is --requests 200 --seeds 5 --out results/study_publication.md.
"""
import argparse
import concurrent.futures
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Student's t at 97.5% (a 95% two-sided interval) for 1 to 30 degrees of freedom.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def mean_ci(values):
    """The mean and the half-width of its 95% interval (Student's t; 0 for fewer than two values)."""
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    sd = (sum((v - m) ** 2 for v in values) / (n - 1)) ** 0.5
    return m, T975[min(n - 1, len(T975)) - 1] * sd / n ** 0.5


def over_seeds(runs):
    """One cell from its seeds' runs: each quantity's mean; the p99's 95% half-width (0 for one seed)."""
    cell = {k: sum(r[k] for r in runs) / len(runs) for k in runs[0] if k not in ("slo", "latency", "axes")}
    cell["p99_ci"] = mean_ci([r["p99_ms"] for r in runs])[1]
    return cell


def run(uvmsim, spec, policy_set, fraction, out):
    cmd = [uvmsim, "serve", "--spec", spec, "--config", os.path.join(ROOT, "sim/configs/h200.json"),
           "--set", f"gpu.memory_fraction={fraction}", "--out", out]
    for kind, p in policy_set["policies"].items():
        cmd += ["--set", f"policies.{kind}.name={p['name']}"]
        for k, v in p.get("params", {}).items():
            cmd += ["--set", f"policies.{kind}.params.{k}={v}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return cell_of(out)


def cell_of(out):
    """One run's quantities from its folder (a serve --out or a sweep point): stats.json and requests.csv.
    "latency": each tenant's counted requests' latencies (ms), by name; "axes": a sweep point's axes."""
    st = json.load(open(os.path.join(out, "stats.json")))
    by_tenant = {}
    with open(os.path.join(out, "requests.csv")) as f:
        for r in csv.DictReader(f):
            if r["counted"] == "1":
                by_tenant.setdefault(r["tenant"], []).append((int(r["end_ns"]) - int(r["arrival_ns"])) / 1e6)
    lat = sorted(v for vs in by_tenant.values() for v in vs)
    s = st["stats"]
    return {
        "mean_ms": sum(lat) / len(lat),
        "p99_ms": lat[max(0, -(-99 * len(lat) // 100) - 1)],
        "faults_per_batch": s["faults_fetched"] / s["batches"] if s["batches"] else 0.0,
        "batches": s["batches"],
        "htod_mib": sum(s["bytes_htod"].values()) / 2**20,
        "evicted_mib": s["bytes_dtoh"]["eviction"] / 2**20,
        "chunks_evicted": s["chunks_evicted"],
        "refaults": sum(t["refaults"] for t in s["tenants"]),
        "slo": {t["name"]: t["slo_attainment"] for t in st["tenants"]},
        "latency": by_tenant,
        "axes": st.get("sweep_point", {}).get("axes", {}),
    }


def from_sweep(folder, a):
    """The cells from a sweep of sweeps/study.json's form (axes policy_set, gpu.memory_fraction, spec.seed,
    spec.requests): by (set name, fraction), over the seeds 1 to a.seeds; every point must be done."""
    runs = {}
    with open(os.path.join(folder, "results.csv")) as f:
        for r in csv.DictReader(f):
            if r["status"] != "done":
                sys.exit(f"study: {folder}: point {r['key']} did not finish: {r['error']}")
            if int(r.get("spec.requests") or 0) != a.requests:
                continue
            name = os.path.splitext(os.path.basename(r["policy_set"]))[0]
            runs[(name, float(r["gpu.memory_fraction"]), int(r["spec.seed"]))] = os.path.join(folder, "points", r["key"])
    cells = {}
    for (name, fr, seed) in runs:
        if (name, fr) in cells:
            continue
        got = [runs.get((name, fr, k)) for k in range(1, a.seeds + 1)]
        if None in got:
            sys.exit(f"study: {folder}: {name} at {fr:.0%} lacks a seed of 1 to {a.seeds} at {a.requests} requests")
        cells[(name, fr)] = over_seeds([cell_of(d) for d in got])
    return cells


def run_all(a, sets):
    """Every (set, memory, seed) run here, a.jobs at a time."""
    tmp = tempfile.mkdtemp(prefix="uvmsim-study-")
    try:
        spec = json.load(open(os.path.join(ROOT, "sim/serving/examples/mix4_study.json")))
        spec["requests"] = a.requests
        spec_paths = []
        for seed in range(1, a.seeds + 1):
            spec["seed"] = seed
            spec_paths.append(os.path.join(tmp, f"spec{seed}.json"))
            json.dump(spec, open(spec_paths[-1], "w"))
        jobs = {}
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            for s in sets:
                for fr in (1.0, 0.75, 0.5):
                    for k, sp in enumerate(spec_paths):
                        out = os.path.join(tmp, f"{s['name']}_{fr}_{k}")
                        jobs[(s["name"], fr, k)] = ex.submit(run, a.uvmsim, sp, s, fr, out)
            return {(n, fr): over_seeds([jobs[(n, fr, k)].result() for k in range(len(spec_paths))])
                    for (n, fr, k) in jobs if k == 0}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uvmsim", default=os.path.join(ROOT, "build/release/uvmsim"))
    ap.add_argument("--requests", type=int, default=60, help="counted requests per tenant")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=1, help="seeds 1 to N per cell")
    ap.add_argument("--publication", action="store_true", help="--requests 200 --seeds 5, its own table")
    ap.add_argument("--out")
    ap.add_argument("--sweep", help="read the runs from this `uvmsim sweep` folder instead of running them")
    a = ap.parse_args()
    if a.publication:
        a.requests, a.seeds = max(a.requests, 200), max(a.seeds, 5)
    if not a.out:
        a.out = os.path.join(ROOT, "results/study_publication.md" if a.publication else "results/study.md")
    sets_dir = os.path.join(ROOT, "policies/sets")
    sets = [json.load(open(os.path.join(sets_dir, f))) for f in sorted(os.listdir(sets_dir)) if f.endswith(".json")]
    sets.sort(key=lambda s: s["name"] != "baseline")
    if not sets or sets[0]["name"] != "baseline":
        sys.exit("study: policies/sets/baseline.json is missing")
    if a.sweep:
        res = from_sweep(a.sweep, a)
        missing = [s["name"] for s in sets for fr in (1.0, 0.75, 0.5) if (s["name"], fr) not in res]
        if missing:
            sys.exit(f"study: {a.sweep}: no points for {', '.join(sorted(set(missing)))}")
    else:
        res = run_all(a, sets)
    seeds = "seed 1" if a.seeds == 1 else f"seeds 1 to {a.seeds} (each quantity the mean over seeds; p99 ± its 95% confidence interval)"
    lines = ["# The study, " + ("publication version" if a.publication else "quick version"), "",
             f"Generated by `scripts/study.py --requests {a.requests} --seeds {a.seeds}"
             + (" --sweep` from `uvmsim sweep --spec sweeps/study.json`'s points (`scripts/figures.sh`)" if a.sweep else "`")
             + ": `sim/serving/examples/mix4_study.json` with "
             f"{a.requests} counted requests per tenant (after 20 of warm-up), {seeds}, under `sim/configs/h200.json`, "
             "GPU memory a fraction of the mix's footprint (each tenant's weights and activations at batch 8). "
             "Latency over all tenants' counted requests, normalised to the baseline at the same memory; "
             "each set's own batching policy.", "",
             "| set | memory | mean latency | p99 latency | mean (ms) | p99 (ms) | faults/batch | batches | HtoD (MiB) | evicted (MiB) | re-faults |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for fr in (1.0, 0.75, 0.5):
        b = res[("baseline", fr)]
        for s in sets:
            r = res[(s["name"], fr)]
            lines.append(f"| {s['name']} | {fr:.0%} | {r['mean_ms'] / b['mean_ms']:.3f} | {r['p99_ms'] / b['p99_ms']:.3f} | "
                         f"{r['mean_ms']:.2f} | {r['p99_ms']:.2f}" + (f" ± {r['p99_ci']:.2f}" if a.seeds > 1 else "") +
                         f" | {r['faults_per_batch']:.1f} | {r['batches']:.0f} | "
                         f"{r['htod_mib']:.0f} | {r['evicted_mib']:.0f} | {r['refaults']:.0f} |")
    lines += ["", "Policy sets (`policies/sets/`):", ""]
    for s in sets:
        lines.append(f"- `{s['name']}`: {s['description']}; " +
                     ", ".join(f"{k} `{p['name']}`" for k, p in s["policies"].items()))
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    open(a.out, "w").write(text)


if __name__ == "__main__":
    main()
