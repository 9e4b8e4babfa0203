#!/usr/bin/env python3
"""What Nsight Compute measured in each kernel's whole-GPU run, as `uvmsim sm-sharing` reads it.

Reads the raw CSVs of `MODE=ncu_detail cuda_tracer/sm_share.sh` and the metric CSVs of `MODE=ncu` (gzipped or
not) and writes one JSON line per kernel of the SM-sharing recordings (sm_share_h200.jsonl,
sm_share_torch_h200.jsonl):

  {"probe": "sm_share_profile", "kernel": "conv", ...}            a layer kernel of the probe
  {"probe": "sm_share_profile", "op": "relu", "index": 0, ...}    the index-th kernel of a torch op

with the per-scheduler figures of its resident run (medians over the launches that match it):
  issue_active        share of active cycles its sub-partitions issued an instruction
  warps_active        warps resident per sub-partition, per active cycle
  contention_stalls   cycles per issued instruction its warps stalled only because others were
                      issuing or their pipes were busy (not_selected, math_pipe_throttle, dispatch_stall,
                      mio_throttle, lg_throttle, tex_throttle)
  memory_stalls       cycles per issued instruction its warps waited on memory: for a load's data
                      (long_scoreboard) and, once exited, for their stores to complete (drain)
  l1_wavefronts       share of its SMs' L1 data pipe (load/store unit wavefronts: global, local and
                      shared memory) it used, of the pipe's peak, per active cycle
and the bytes it moved to and from DRAM (dram_bytes), and from the metric CSVs (a run of their own):
  global_loads        warp-level global load instructions of the whole run: LDG, generic loads and
                      LDGSTS (global to shared) together
and, given MODE=ncu_source's SASS (--probe-sass, --torch-sass):
  loads_in_flight     global loads a waiting warp has in flight (ncu_sass.py)

The probe's launches are matched by order (it launches its ten kernels alone first, twice each, in the
order of its recording's whole-GPU cases; their grids and blocks are checked); a torch op's kernels by grid, block,
registers and function name.

  cuda_tracer/ncu_profile.py --probe-ncu P.csv.gz --probe-metrics PM.csv.gz --probe S.jsonl \
      --torch-ncu T.csv.gz --torch-metrics TM.csv.gz --torch S.jsonl \
      [--probe-sass PS.jsonl.gz --torch-sass TS.jsonl.gz]
"""
import argparse
import csv
import gzip
import io
import json
import re
import statistics
import sys

import ncu_sass

CONTENTION = ("not_selected", "math_pipe_throttle", "dispatch_stall", "mio_throttle", "lg_throttle",
              "tex_throttle")


def number(s):
    return float(s.replace(",", ""))


def read_text(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read()


def read_ncu(path):
    rows = list(csv.reader(io.StringIO(read_text(path))))
    head, units, launches = rows[0], rows[1], rows[2:]
    unit = dict(zip(head, units))
    for k, want in (("dram__bytes.sum.per_second", "byte/s"), ("gpu__time_duration.sum", "ns")):
        if unit[k] != want:
            sys.exit("%s: %s is in %s, expected %s" % (path, k, unit[k], want))
    out = []
    for r in launches:
        m = dict(zip(head, r))
        stall = lambda s: number(m["smsp__average_warps_issue_stalled_%s_per_issue_active.ratio" % s])
        out.append({
            "name": m["Kernel Name"],
            "grid": int(number(m["launch__grid_size"])),
            "block": int(number(m["launch__block_size"])),
            "regs": int(number(m["launch__registers_per_thread"])),
            "issue_active": number(m["smsp__issue_active.avg.pct_of_peak_sustained_active"]) / 100,
            "warps_active": number(m["smsp__warps_active.avg.per_cycle_active"]),
            "contention_stalls": sum(stall(s) for s in CONTENTION),
            "memory_stalls": stall("long_scoreboard") + stall("drain"),
            # Nsight Compute gives the pipe's use per elapsed cycle only: over the cycles the SMs were active.
            "l1_wavefronts": number(m["l1tex__data_pipe_lsu_wavefronts.avg.pct_of_peak_sustained_elapsed"]) / 100 *
            number(m["gpc__cycles_elapsed.avg"]) / number(m["sm__cycles_active.avg"]),
            "dram_bytes": number(m["dram__bytes.sum.per_second"]) * number(m["gpu__time_duration.sum"]) / 1e9,
        })
    return out


LOADS = ("smsp__inst_executed_op_global_ld.sum", "smsp__inst_executed_op_generic_ld.sum",
         "smsp__inst_executed_op_ldgsts.sum")


def read_metrics(path):
    """MODE=ncu's CSV: one row per (launch, metric); per launch, its shape and global loads."""
    rows = list(csv.DictReader(io.StringIO(read_text(path))))
    launches = {}
    for r in rows:
        launches.setdefault(r["ID"], {"name": r["Kernel Name"]})[r["Metric Name"]] = r["Metric Value"]
    out = []
    for m in launches.values():
        missing = [k for k in LOADS if k not in m]
        if missing:
            sys.exit("%s: launch %s has no %s" % (path, m["name"][:40], ", ".join(missing)))
        out.append({
            "name": m["name"],
            "grid": int(number(m["launch__grid_size"])),
            "block": int(number(m["launch__block_size"])),
            "regs": int(number(m["launch__registers_per_thread"])),
            "global_loads": sum(number(m[k]) for k in LOADS),
        })
    return out


def read_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def base_name(n):
    n = n.replace("void ", "").replace("native::", "").replace("(anonymous namespace)::", "")
    n = n.replace("<unnamed>::", "")
    return re.split(r"[<(]", n, maxsplit=1)[0].split("::")[-1].strip()


def figures(launches, counted):
    keys = ("issue_active", "warps_active", "contention_stalls", "memory_stalls", "l1_wavefronts")
    out = {k: round(statistics.median(l[k] for l in launches), 4) for k in keys}
    out["dram_bytes"] = int(round(statistics.median(l["dram_bytes"] for l in launches)))
    out["global_loads"] = int(round(statistics.median(l["global_loads"] for l in counted)))
    if all("loads_in_flight" in l for l in launches):
        out["loads_in_flight"] = round(statistics.median(l["loads_in_flight"] for l in launches), 3)
    return out


def add_sass(launches, path):
    """Each launch's loads in flight from MODE=ncu_source's SASS: a listed launch of the same function whose
    first instruction ran once per warp of this launch's grid (the same template, where the two pages'
    spellings of the full names agree)."""
    def plain(n):
        n = re.sub(r"\((int|bool|unsigned int|long|unsigned long)\)", "", n)
        for s in ("void ", "native::", "(anonymous namespace)::", "<unnamed>::", " "):
            n = n.replace(s, "")
        return n

    sass = [(plain(s["kernel"]), base_name(s["kernel"]), s["sass"][0][1] if s["sass"] else 0, s)
            for s in ncu_sass.read(path)]
    for l in launches:
        name, base, warps = plain(l["name"]), base_name(l["name"]), l["grid"] * ((l["block"] + 31) // 32)
        match = [(n, s) for n, b, w, s in sass if w == warps and b == base]
        # PyTorch's element-wise kernels share a function name: their functors tell them apart
        match = [s for n, s in match if n.startswith(name) or name.startswith(n)] or [s for n, s in match]
        if not match:
            sys.exit("%s: no launch of %s with %d warps" % (path, l["name"][:60], warps))
        l["loads_in_flight"] = ncu_sass.loads_in_flight(match[0]["sass"])


def matching(launches, want, name):
    return [l for l in launches if (l["grid"], l["block"], l["regs"]) == want and base_name(l["name"]).startswith(name)]


def product(v):
    return v[0] * v[1] * v[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--probe-ncu", required=True)
    ap.add_argument("--probe", required=True, help="the probe's recording (its kernel order and shapes)")
    ap.add_argument("--probe-metrics", required=True, help="MODE=ncu's CSV of the probe")
    ap.add_argument("--torch-ncu", required=True)
    ap.add_argument("--torch-metrics", required=True, help="MODE=ncu's CSV of the torch ops")
    ap.add_argument("--torch", required=True, help="the torch ops' recording (their shape lines)")
    ap.add_argument("--probe-sass", help="MODE=ncu_source's SASS of the probe (loads in flight)")
    ap.add_argument("--torch-sass", help="MODE=ncu_source's SASS of the torch ops")
    a = ap.parse_args()

    order, shape = [], {}
    for r in read_lines(a.probe):
        if r["mode"] == "alone" and r["sms"] == 132 and r["cap"] == 0 and r["kernel"] not in shape:
            order.append(r["kernel"])
            shape[r["kernel"]] = (r["grid"], r["threads"])
    probe = read_ncu(a.probe_ncu)
    if a.probe_sass:
        add_sass(probe, a.probe_sass)
    counts = read_metrics(a.probe_metrics)  # the alone launches first, then the pairs'
    if len(probe) != 2 * len(order) or len(counts) < 2 * len(order):
        sys.exit("%s, %s: %d and %d launches, expected two for each of %d kernels" %
                 (a.probe_ncu, a.probe_metrics, len(probe), len(counts), len(order)))
    for i, k in enumerate(order):
        pair, counted = probe[2 * i:2 * i + 2], counts[2 * i:2 * i + 2]
        for l in pair + counted:
            if (l["grid"], l["block"]) != shape[k]:  # (ncu counts registers as allocated, rounded up)
                sys.exit("%s: launch %d (%s) does not have %s's shape %s" % (a.probe_ncu, 2 * i, l["name"][:40], k,
                                                                           shape[k]))
        print(json.dumps({"probe": "sm_share_profile", "kernel": k, **figures(pair, counted)}))

    torch = read_ncu(a.torch_ncu)
    if a.torch_sass:
        add_sass(torch, a.torch_sass)
    torch_counts = read_metrics(a.torch_metrics)
    seen = set()
    for r in read_lines(a.torch):
        if r["mode"] != "shape" or r["op"] in seen:
            continue
        seen.add(r["op"])
        for i, k in enumerate(r["kernels"]):
            want = (product(k["grid"]), product(k["block"]), k["regs"])
            name = base_name(k["name"])  # the recording cuts names short
            match, counted = matching(torch, want, name), matching(torch_counts, want, name)
            if not match or not counted:
                sys.exit("%s, %s: no launch of %s's kernel %d %s %s" %
                         (a.torch_ncu, a.torch_metrics, r["op"], i, name, want))
            print(json.dumps({"probe": "sm_share_profile", "op": r["op"], "index": i, **figures(match, counted)}))


if __name__ == "__main__":
    main()
