#!/usr/bin/python3
"""Writes the configs of GPUs no one measured here (sim/configs/{gtx1080ti,v100,a100}.json), each marked
"calibrated": false, from public specifications and the calibrated H100 config (sim/configs/h100.json) by
the rule sim/configs/README.md documents:

- from the GPU's specification: its name, SMs, memory, DRAM bandwidth, resident threads, CTAs, registers
  and shared memory per SM, SMs per TPC (a uTLB's SMs and the dispatcher's TPCs), GPCs, and its PCIe link;
- the link's bandwidth each way is the link's raw rate times the efficiency the H100's fit found on its
  PCIe 5.0 x16 link (the fitted rate over 63.0 GB/s);
- the DRAM bandwidth one SM can draw keeps the H100 fit's ratio to the GPU's DRAM bandwidth per SM;
- memory usable by managed data is the GPU's memory less the share the H100's driver reserved;
- everything else, the UVM driver's and the host's costs (CPU work) and the fault path's structure (GMMU,
  uTLB, fault buffer), is the H100 fit's: nothing measured says how those differ on another GPU.

  python3 scripts/gpu_configs.py            # rewrite the three files
  python3 scripts/gpu_configs.py --check    # fail if a file differs from what the rule gives
  python3 scripts/gpu_configs.py --reproduce build/release/uvmsim
      # the GTX 1080 Ti's fault-driven HtoD transfers against the published figures (sim/configs/README.md)
"""
import argparse
import copy
import csv
import json
import os
import subprocess
import sys
import tempfile

from corpus_split import check_set  # traces/corpus/split.json's held-out traces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GB = 1e9
# Raw rate of a x16 link, each way, by PCIe generation (GB/s): 8, 16 and 32 GT/s with 128b/130b coding.
PCIE_X16 = {3: 15.754, 4: 31.508, 5: 63.015}
H100_PCIE = 5
H100_MEMORY_TOTAL = 80 * 2**30  # the H100 80GB's memory, of which h100.json's memory_bytes is usable

# Public specifications (NVIDIA's product pages and architecture whitepapers).
GPUS = {
    "gtx1080ti": {
        "name": "NVIDIA GeForce GTX 1080 Ti",
        "sm_count": 28, "memory_total": 11 * 2**30, "dram_gb_s": 484, "pcie": 3,
        "max_threads_per_sm": 2048, "max_ctas_per_sm": 32, "regs_per_sm": 65536, "smem_per_sm_bytes": 96 * 1024,
        "sms_per_tpc": 1, "gpcs": 6,
    },
    "v100": {
        "name": "NVIDIA Tesla V100 16GB",
        "sm_count": 80, "memory_total": 16 * 2**30, "dram_gb_s": 900, "pcie": 3,
        "max_threads_per_sm": 2048, "max_ctas_per_sm": 32, "regs_per_sm": 65536, "smem_per_sm_bytes": 96 * 1024,
        "sms_per_tpc": 2, "gpcs": 6,
    },
    "a100": {
        "name": "NVIDIA A100 40GB",
        "sm_count": 108, "memory_total": 40 * 2**30, "dram_gb_s": 1555, "pcie": 4,
        "max_threads_per_sm": 2048, "max_ctas_per_sm": 32, "regs_per_sm": 65536, "smem_per_sm_bytes": 164 * 1024,
        "sms_per_tpc": 2, "gpcs": 7,
    },
}


def derive(h100, g):
    c = copy.deepcopy(h100)
    c["calibrated"] = False
    gpu = c["gpu"]
    gpu["name"] = g["name"]
    for k in ("sm_count", "max_threads_per_sm", "max_ctas_per_sm", "regs_per_sm", "smem_per_sm_bytes", "gpcs"):
        gpu[k] = g[k]
    gpu["gpc_sm_step"] = -(-g["sm_count"] // g["gpcs"])
    gpu["memory_bytes"] = int(g["memory_total"] * h100["gpu"]["memory_bytes"] / H100_MEMORY_TOTAL) // (2 << 20) * (2 << 20)
    gpu["dram_bytes_per_s"] = int(g["dram_gb_s"] * GB)
    per_sm = h100["gpu"]["sm_dram_bytes_per_s"] / (h100["gpu"]["dram_bytes_per_s"] / h100["gpu"]["sm_count"])
    gpu["sm_dram_bytes_per_s"] = int(per_sm * g["dram_gb_s"] * GB / g["sm_count"])
    gpu["sms_per_utlb"] = g["sms_per_tpc"]
    # The dispatcher's TPCs are SM pairs; a GPU of one SM per TPC keeps rotation.
    gpu["dispatch_by_tpc"] = h100["gpu"]["dispatch_by_tpc"] if g["sms_per_tpc"] == 2 else 0
    for way in ("htod_bytes_per_s", "dtoh_bytes_per_s"):
        c["pcie"][way] = int(h100["pcie"][way] / PCIE_X16[H100_PCIE] * PCIE_X16[g["pcie"]])
    return c


def htod_copies(timeline):
    """The HtoD copies of a `uvmsim run --timeline` file: (bytes, data phase in ns) each."""
    return [(e["args"]["bytes"], e["dur"] * 1e3) for e in json.load(open(timeline))["traceEvents"]
            if e.get("name") == "HtoD" and e.get("ph") == "X"]


def simulate(uvmsim, trace, config, tmp, name):
    """Runs `trace` under `config` with a timeline: (stats.json, HtoD copies)."""
    out, tl = os.path.join(tmp, name), os.path.join(tmp, name + ".json")
    subprocess.run([uvmsim, "run", "--trace", trace, "--config", config, "--out", out, "--timeline", tl],
                   check=True, stdout=subprocess.DEVNULL)
    return json.load(open(os.path.join(out, "stats.json"))), htod_copies(tl)


def per_record_cost(nbytes, ns):
    """Least squares of records' durations (ns) on their sizes (bytes): (ns per record, ns per byte)."""
    mx, my = sum(nbytes) / len(nbytes), sum(ns) / len(ns)
    slope = sum((x - mx) * (y - my) for x, y in zip(nbytes, ns)) / sum((x - mx) ** 2 for x in nbytes)
    return my - slope * mx, slope


def hopper_records(uvmsim, tmp):
    """The H200's HtoD records: the driver's migration events CPU -> GPU of every whole-GPU corpus trace
    (traces/corpus/h200/*_sm132.uvmt), each a contiguous run of one cause inside one VA block's copy, timed on
    the GPU's clock in the recording's events passes (the driver's tools queue, as a profiler sees it).
    Returns {trace: (records, bytes, ns, runs, per-record ns, ns per byte)}, the last two by least squares of
    a record's duration on its bytes."""
    held = check_set()
    folder = os.path.join(ROOT, "traces", "corpus", "h200")
    out = {}
    for f in sorted(os.listdir(folder)):
        if not f.endswith("_sm132.uvmt"):
            continue
        csvs = os.path.join(tmp, "records_" + f[:-5])
        subprocess.run([uvmsim, "trace", "export", os.path.join(folder, f), "--csv", csvs], check=True,
                       stdout=subprocess.DEVNULL)
        xs, ys, runs = [], [], set()
        with open(os.path.join(csvs, "driver_events.csv")) as rows:
            for r in csv.DictReader(rows):
                if r["kind"] == "migration" and r["gpc_or_src"] == "0" and int(r["gpu_end_ns"]) > int(r["gpu_ns"]):
                    xs.append(int(r["bytes"]))
                    ys.append(int(r["gpu_end_ns"]) - int(r["gpu_ns"]))
                    runs.add(r["run"])
        if len(xs) < 50:
            continue
        t0, slope = per_record_cost(xs, ys)
        out["h200/" + f[:-5]] = (len(xs), sum(xs), sum(ys), len(runs), t0, slope, ("h200/" + f[:-5]) in held)
    return out


def reproduce(uvmsim):
    """First touches of host-initialised memory under gtx1080ti.json: each HtoD transfer's size and rate as
    the model makes it (uvmsim run --timeline) and as a profiler would record it, with the per-record cost
    the H200's records show (measured on the fit set's traces, checked on the check set's)."""
    config = os.path.join(ROOT, "sim", "configs", "gtx1080ti.json")
    pick = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
    with tempfile.TemporaryDirectory() as tmp:
        recs = hopper_records(uvmsim, tmp)
        fit = sorted(r[4] for r in recs.values() if not r[6])
        per_record = fit[len(fit) // 2]
        lines = ["### The H200's HtoD records: a fixed cost per record, then the link", "",
                 "| trace | set | records per run | mean KiB | per record (us) | rate beyond it (GB/s) | "
                 "recorded rate (GB/s) | model: copies per run, mean KiB | model as recorded (GB/s) | error |",
                 "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
        h200 = os.path.join(ROOT, "sim", "configs", "h200.json")
        for name, (n, nbytes, ns, runs, t0, slope, held) in recs.items():
            row = (f"| {name.split('/')[1]} | {'check' if held else 'fit'} | {n / runs:.0f} | {nbytes / n / 1024:.1f} "
                   f"| {t0 / 1e3:.2f} | {1 / slope:.1f} | {nbytes / ns:.2f} |")
            if held:
                _, copies = simulate(uvmsim, os.path.join(ROOT, "traces", "corpus", name + ".uvmt"), h200, tmp,
                                     name.split("/")[1])
                cb = sum(b for b, _ in copies)
                seen = cb / sum(per_record + d for _, d in copies)
                row += (f" {len(copies)}, {cb / len(copies) / 1024:.1f} | {seen:.2f} | "
                        f"{(seen / (nbytes / ns) - 1) * 100:+.0f}% |")
            else:
                row += " | | |"
            lines.append(row)
        lines += ["", f"Per-record cost: median of the fit set's {len(fit)} traces, {per_record / 1e3:.2f} us "
                  f"(range {fit[0] / 1e3:.2f} to {fit[-1] / 1e3:.2f}).", "",
                  "### The GTX 1080 Ti (gtx1080ti.json)", "",
                  "| pattern | HtoD transfers | mean size (KiB) | model's rate per transfer: p10 / p50 / p90 (GB/s) | "
                  "as recorded with the H200's per-record cost: p10 / p50 / p90, all (GB/s) | "
                  "fault-driven throughput (GB/s) |", "| --- | ---: | ---: | --- | --- | ---: |"]
        for pattern in ("seq", "random"):
            trace = os.path.join(tmp, pattern + ".uvmt")
            subprocess.run([uvmsim, "generate", "--pattern", pattern, "--bytes", "256MiB", "--host-init", "--out",
                            trace], check=True, stdout=subprocess.DEVNULL)
            st, copies = simulate(uvmsim, trace, config, tmp, pattern)
            assert st["calibrated"] is False
            rates = sorted(b / d for b, d in copies)
            seen = sorted(b / (per_record + d) for b, d in copies)
            total = sum(b for b, _ in copies)
            k = st["stats"]["kernels"][0]
            moved = sum(st["stats"]["bytes_htod"].values())
            lines.append(f"| {pattern} 256 MiB | {len(copies)} | {total / len(copies) / 1024:.1f} | "
                         f"{pick(rates, 0.1):.2f} / {pick(rates, 0.5):.2f} / {pick(rates, 0.9):.2f} | "
                         f"{pick(seen, 0.1):.2f} / {pick(seen, 0.5):.2f} / {pick(seen, 0.9):.2f}, "
                         f"{total / sum(per_record + d for _, d in copies):.2f} | "
                         f"{moved / ((k['end_ns'] - k['start_ns']) * 1e-9) / GB:.2f} |")
        link = json.load(open(config))["pcie"]["htod_bytes_per_s"] / 1e9  # bytes per ns
        lines += ["", "At the published mean sizes, one record of 21 KiB and one of 158 KiB with the H200's "
                  f"per-record cost on this link: {21 * 1024 / (per_record + 21 * 1024 / link):.1f} and "
                  f"{158 * 1024 / (per_record + 158 * 1024 / link):.1f} GB/s."]
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--reproduce", metavar="UVMSIM", help="run the GTX 1080 Ti's HtoD check with this uvmsim")
    a = ap.parse_args()
    if a.reproduce:
        reproduce(a.reproduce)
        return
    h100 = json.load(open(os.path.join(ROOT, "sim", "configs", "h100.json")))
    bad = 0
    for name, g in GPUS.items():
        path = os.path.join(ROOT, "sim", "configs", f"{name}.json")
        text = json.dumps(derive(h100, g), indent=2, sort_keys=True) + "\n"
        if a.check:
            if not os.path.exists(path) or open(path).read() != text:
                print(f"gpu_configs: {path} is not what the rule gives from h100.json", file=sys.stderr)
                bad += 1
        else:
            open(path, "w").write(text)
            print(os.path.relpath(path, ROOT))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
