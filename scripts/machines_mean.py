#!/usr/bin/env python3
"""Paging overhead of the native-runtime traces against the mean of several H100s.

H100 machines differ from one another by more than the validation targets: the same program's median
paging overhead differed by up to 1.58x between two machines (results/calibration.md, "Two machines").
This compares the model, under a config fitted to the machines' mean micro-workload rows
(`scripts/micro_rows.py A.jsonl B.jsonl`), with the mean over the machines of each trace's observed paging
overhead: per machine, the median run's summed kernel time minus the median resident run's, from the
retime notes that `cuda_tracer/retime_corpus.sh` wrote (retime*.jsonl). The simulated overhead is
`uvmsim validate`'s for the corpus trace (its kernels and resident times are one machine's).

  scripts/machines_mean.py --uvmsim build/release/uvmsim --config sim/configs/h100_two_machines.json \\
      cuda_tracer/recordings/retime_h100.jsonl cuda_tracer/recordings/retime_runtime_h100_256f1514.jsonl
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMS = {kind: re.compile(kind + r" times: the median of \d+ runs by summed kernel time \(\S+; sums ([\d. ]+) ms\)")
        for kind in ("kernel", "resident")}


def overheads(path):
    """Trace name -> (GPU, observed paging overhead in ms) from one machine's retime lines."""
    out = {}
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            j = json.loads(line)
            last = {}
            for note in j.get("notes", []):
                for kind, rx in SUMS.items():
                    found = rx.findall(note)
                    if found:  # the latest retime comes last in a note
                        last[kind] = [float(x) for x in found[-1].split()]
            if len(last) != 2:
                sys.exit(f"{path}:{i}: no kernel and resident sums in the notes of {j.get('name')}")
            out[j["name"]] = (j.get("gpu", "?"), statistics.median(last["kernel"]) - statistics.median(last["resident"]))
    return out


def simulated(uvmsim, config, name):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "v.json")
        subprocess.run([uvmsim, "validate", "--trace", os.path.join(ROOT, "traces", "corpus", name + ".uvmt"),
                        "--config", config, "--json", out], check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            q = [q for q in json.load(f)["quantities"] if q["key"] == "paging_overhead_ms"]
    return q[0]["simulated"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--config", required=True, help="config fitted to the machines' mean rows")
    ap.add_argument("retimes", nargs="+", help="one retime JSONL per machine")
    a = ap.parse_args()
    machines = [overheads(p) for p in a.retimes]
    names = sorted(n for n in machines[0] if n.startswith("runtime_") and all(n in m for m in machines))
    gpus = [next(iter(m.values()))[0][:12] for m in machines]
    print("| trace | " + " | ".join(f"observed {g} (ms)" for g in gpus) + " | mean (ms) | simulated (ms) | error |")
    print("| --- " * (len(machines) + 4) + "|")
    errors = []
    for n in names:
        obs = [m[n][1] for m in machines]
        mean = sum(obs) / len(obs)
        sim = simulated(a.uvmsim, a.config, n)
        errors.append((abs(sim / mean - 1), n))
        print(f"| {n} | " + " | ".join(f"{o:.2f}" for o in obs) + f" | {mean:.2f} | {sim:.2f} | {sim / mean - 1:+.1%} |")
    print(f"\n{len(names)} traces: mean |error| {statistics.mean(e for e, _ in errors):.1%}, "
          f"worst {max(errors)[0]:.1%} ({max(errors)[1]})")


if __name__ == "__main__":
    main()
