#!/usr/bin/python3
"""Writes the configs of GPUs no one measured here (sim/configs/{gtx1080ti,v100,a100}.json), each marked
"calibrated": false, from public specifications and the calibrated H100 config (sim/configs/h100.json) by
the rule sim/configs/README.md documents:

- from the GPU's specification: its name, SMs, memory, DRAM bandwidth, resident threads, CTAs, registers
  and shared memory per SM, SMs per TPC (a uTLB's SMs and the dispatcher's TPCs), GPCs, and its PCIe link;
- the link's bandwidth each way is the link's raw rate times the H100's efficiency on its PCIe 5.0 x16 link
  (h100.json's rate over 63.0 GB/s: HtoD fitted, DtoH measured from its records, scripts/link_rates.py);
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

from corpus_split import check_set  # traces/corpus/split.json's held-out traces
from trace_csv import sections

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


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_text(path):
    with open(path) as f:
        return f.read()


def htod_copies(timeline):
    """The HtoD copies of a `uvmsim run --timeline` file: (bytes, data phase in ns) each."""
    return [(e["args"]["bytes"], e["dur"] * 1e3) for e in read_json(timeline)["traceEvents"]
            if e.get("name") == "HtoD" and e.get("ph") == "X"]


def simulate(uvmsim, trace, config, tmp, name):
    """Runs `trace` under `config` with a timeline: (stats.json, HtoD copies)."""
    out, tl = os.path.join(tmp, name), os.path.join(tmp, name + ".json")
    subprocess.run([uvmsim, "run", "--trace", trace, "--config", config, "--out", out, "--timeline", tl],
                   check=True, stdout=subprocess.DEVNULL)
    return read_json(os.path.join(out, "stats.json")), htod_copies(tl)


def per_record_cost(nbytes, ns):
    """Least squares of records' durations (ns) on their sizes (bytes): (ns per record, ns per byte)."""
    mx, my = sum(nbytes) / len(nbytes), sum(ns) / len(ns)
    slope = sum((x - mx) * (y - my) for x, y in zip(nbytes, ns)) / sum((x - mx) ** 2 for x in nbytes)
    return my - slope * mx, slope


def hopper_records(uvmsim):
    """The H200's HtoD records: the driver's migration events CPU -> GPU of every whole-GPU corpus trace
    (traces/corpus/h200/*_sm132.uvmt), each a contiguous run of one cause inside one VA block's copy, timed on
    the GPU's clock in the recording's events passes (the driver's tools queue, as a profiler sees it).
    Returns {trace: (records, bytes, ns, runs, per-record ns, ns per byte, in the check set?)}, the cost and
    rate by least squares of a record's duration on its bytes."""
    held = check_set()
    folder = os.path.join(ROOT, "traces", "corpus", "h200")
    out = {}
    for f in sorted(os.listdir(folder)):
        if not f.endswith("_sm132.uvmt"):
            continue
        xs, ys, runs = [], [], set()
        for r in sections(uvmsim, os.path.join(folder, f), "driver_events")[0]:
            if r["kind"] == "migration" and r["gpc_or_src"] == "0" and int(r["gpu_end_ns"]) > int(r["gpu_ns"]):
                xs.append(int(r["bytes"]))
                ys.append(int(r["gpu_end_ns"]) - int(r["gpu_ns"]))
                runs.add(r["run"])
        if len(xs) < 50:
            continue
        t0, slope = per_record_cost(xs, ys)
        out["h200/" + f[:-5]] = (len(xs), sum(xs), sum(ys), len(runs), t0, slope, ("h200/" + f[:-5]) in held)
    return out


NVPROF_LOGS = os.path.join(ROOT, "tests", "data", "gtx1080ti_nvprof_uvmsmart.json")
NVPROF_SIZE = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
NVPROF_TIME = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def nvprof_quantity(text, units):
    """nvprof's "36.099KB" or "557.4801ms" in bytes or ns (its units are binary sizes and SI times)."""
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * units[unit]
            except ValueError:
                break
    raise ValueError(f"not an nvprof quantity: {text!r}")


def gtx1080ti_logs(way):
    """The real GTX 1080 Ti's nvprof summaries (tests/data/gtx1080ti_nvprof_uvmsmart.json), one direction
    ("htod" or "dtoh"): (log, fit set?, records, bytes, ns) each. The fit set is the runs at the 100% level
    (suffix _100), the check set those at 125% and 150%."""
    out = []
    for log in read_json(NVPROF_LOGS)["logs"]:
        r = log[way]
        out.append((log["log"][:-4], log["log"].endswith("_100.log"), r["count"],
                    nvprof_quantity(r["total_size"], NVPROF_SIZE), nvprof_quantity(r["total_time"], NVPROF_TIME)))
    return out


def records_at_rate(logs, rate):
    """A profiler's cost per record, from the fit set's logs (gtx1080ti_logs) at a link `rate` (bytes per
    ns): the mean of their time per record less their mean record at that rate. Returns it (ns) and, per
    log, (log, fit set?, records, mean bytes, recorded GB/s, GB/s at the rate with that cost, error in %)."""
    fit = [r for r in logs if r[1]]
    per_record = sum(ns / n - nbytes / n / rate for _, _, n, nbytes, ns in fit) / len(fit)
    rows = []
    for name, in_fit, n, nbytes, ns in logs:
        mean = nbytes / n
        seen = mean / (per_record + mean / rate)
        rows.append((name, in_fit, n, mean, nbytes / ns, seen, (seen / (nbytes / ns) - 1) * 100))
    return per_record, rows


def reproduce(uvmsim):
    """The published GTX 1080 Ti figure (nvprof's fault-driven HtoD records, 8 to 11 GB/s) from
    gtx1080ti.json's link and a profiler's cost per record, measured on the logs at the 100% level and
    checked on those at 125% and 150%; the same cost on the H200's own records; and the model's transfers
    under gtx1080ti.json as such a profiler would record them."""
    config = os.path.join(ROOT, "sim", "configs", "gtx1080ti.json")
    link = read_json(config)["pcie"]
    pick = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
    lines = []
    # 1. The real GTX 1080 Ti: a record's time is a fixed cost plus its bytes at the link's rate.
    htod = gtx1080ti_logs("htod")
    rate = link["htod_bytes_per_s"] / 1e9  # bytes per ns
    per_record, rows = records_at_rate(htod, rate)
    fit = [r for r in htod if r[1]]
    free_t0, free_slope = per_record_cost([r[3] / r[2] for r in fit], [r[4] / r[2] for r in fit])
    lines += ["### A real GTX 1080 Ti's HtoD records against gtx1080ti.json's link", "",
              "| log | set | records | mean KiB | recorded (GB/s) | link + per-record cost (GB/s) | error |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, in_fit, n, mean, recorded, seen, err in rows:
        lines.append(f"| {name} | {'fit' if in_fit else 'check'} | {n} | {mean / 1024:.1f} | {recorded:.2f} | "
                     f"{seen:.2f} | {err:+.1f}% |")
    errors = [r[6] for r in rows if not r[1]]
    dtoh = gtx1080ti_logs("dtoh")
    d_t0, d_slope = per_record_cost([r[3] / r[2] for r in dtoh], [r[4] / r[2] for r in dtoh])
    d_rates = sorted(r[3] / r[4] for r in dtoh)
    lines += ["", f"- Per-record cost over the fit set's {len(fit)} logs at the config's HtoD rate "
              f"({rate:.2f} GB/s): {per_record / 1e3:.2f} us. The check set's {len(errors)} logs: mean |error| "
              f"{sum(abs(e) for e in errors) / len(errors):.1f}%, worst {max(errors, key=abs):+.1f}%.",
              f"- Fitting the rate too (least squares on the fit set): {free_t0 / 1e3:.2f} us per record and "
              f"{1 / free_slope:.2f} GB/s, against the config's {rate:.2f} GB/s from the rule.",
              f"- DtoH, every log (least squares): {d_t0 / 1e3:.2f} us per record and {1 / d_slope:.2f} GB/s; "
              f"recorded rates {d_rates[0]:.2f} to {d_rates[-1]:.2f} GB/s, against the config's "
              f"{link['dtoh_bytes_per_s'] / 1e9:.2f} GB/s.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        # 2. The H200's own records: the same shape, a larger cost per record.
        recs = hopper_records(uvmsim)
        h_fit = sorted(r[4] for r in recs.values() if not r[6])
        h_record = h_fit[len(h_fit) // 2]
        lines += ["### The H200's HtoD records (the driver's migration events of its whole-GPU corpus traces)", "",
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
                seen = cb / sum(h_record + d for _, d in copies)
                row += (f" {len(copies)}, {cb / len(copies) / 1024:.1f} | {seen:.2f} | "
                        f"{(seen / (nbytes / ns) - 1) * 100:+.0f}% |")
            else:
                row += " | | |"
            lines.append(row)
        lines += ["", f"Per-record cost: median of the fit set's {len(h_fit)} traces, {h_record / 1e3:.2f} us "
                  f"(range {h_fit[0] / 1e3:.2f} to {h_fit[-1] / 1e3:.2f}).", "",
                  "### The model's transfers under gtx1080ti.json: first touches of 256 MiB of host-initialised "
                  "memory", "",
                  "| pattern | HtoD transfers | mean size (KiB) | model's rate per transfer: p10 / p50 / p90 (GB/s) | "
                  "as the GTX 1080 Ti's profiler would record them: p10 / p50 / p90, all (GB/s) | "
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
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--reproduce", metavar="UVMSIM", help="run the GTX 1080 Ti's HtoD check with this uvmsim")
    a = ap.parse_args()
    if a.reproduce:
        reproduce(a.reproduce)
        return
    h100 = read_json(os.path.join(ROOT, "sim", "configs", "h100.json"))
    bad = 0
    for name, g in GPUS.items():
        path = os.path.join(ROOT, "sim", "configs", f"{name}.json")
        text = json.dumps(derive(h100, g), indent=2, sort_keys=True) + "\n"
        if a.check:
            if not os.path.exists(path) or read_text(path) != text:
                print(f"gpu_configs: {path} is not what the rule gives from h100.json", file=sys.stderr)
                bad += 1
        else:
            with open(path, "w") as f:
                f.write(text)
            print(os.path.relpath(path, ROOT))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
