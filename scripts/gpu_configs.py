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
import json
import os
import subprocess
import sys
import tempfile

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


def reproduce(uvmsim):
    """First touches of host-initialised memory under gtx1080ti.json: each HtoD transfer's size and rate as
    a profiler's timeline shows them (uvmsim run --timeline), and the kernel's fault-driven throughput."""
    config = os.path.join(ROOT, "sim", "configs", "gtx1080ti.json")
    lines = ["| pattern | HtoD transfers | mean size (KiB) | rate per transfer: p10 / p50 / p90 (GB/s) | "
             "fault-driven throughput (GB/s) |", "| --- | ---: | ---: | --- | ---: |"]
    with tempfile.TemporaryDirectory() as tmp:
        for pattern in ("seq", "random"):
            trace = os.path.join(tmp, pattern + ".uvmt")
            subprocess.run([uvmsim, "generate", "--pattern", pattern, "--bytes", "256MiB", "--host-init", "--out",
                            trace], check=True, stdout=subprocess.DEVNULL)
            out, tl = os.path.join(tmp, pattern), os.path.join(tmp, pattern + ".json")
            subprocess.run([uvmsim, "run", "--trace", trace, "--config", config, "--out", out, "--timeline", tl],
                           check=True, stdout=subprocess.DEVNULL)
            st = json.load(open(os.path.join(out, "stats.json")))
            assert st["calibrated"] is False
            copies = [e for e in json.load(open(tl))["traceEvents"] if e.get("name") == "HtoD" and e.get("ph") == "X"]
            rates = sorted(e["args"]["bytes"] / (e["dur"] * 1e-6) / GB for e in copies)
            size = sum(e["args"]["bytes"] for e in copies) / len(copies) / 1024
            k = st["stats"]["kernels"][0]
            moved = sum(st["stats"]["bytes_htod"].values())
            pick = lambda q: rates[min(len(rates) - 1, int(q * len(rates)))]
            lines.append(f"| {pattern} 256 MiB | {len(copies)} | {size:.1f} | {pick(0.1):.2f} / {pick(0.5):.2f} / "
                         f"{pick(0.9):.2f} | {moved / ((k['end_ns'] - k['start_ns']) * 1e-9) / GB:.2f} |")
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
