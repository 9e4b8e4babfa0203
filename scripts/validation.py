#!/usr/bin/python3
"""Validation of the simulator on every recorded trace of the corpus, and its ratchet.

  scripts/validation.py --uvmsim build/release/uvmsim --update   # rewrite results/validation.{json,md} and the plot
  scripts/validation.py --uvmsim build/release/uvmsim --check    # CI: fail if any error grew

Runs `uvmsim validate --trace T --config sim/configs/h100.json --json` on each traces/corpus/*.uvmt. The
micro-workloads and the GEMM are what sim/configs/h100.json is calibrated on; the model traces (runtime_*,
torch_*) are held out. --check compares every scored error with results/validation.json: an error may
shrink (then --update records it), never grow; a quantity scored there must still be scored.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "traces", "corpus")
BASELINE = os.path.join(ROOT, "results", "validation.json")
TABLE = os.path.join(ROOT, "results", "validation.md")
PLOT = os.path.join(ROOT, "results", "validation_overhead.png")
KEYS = ["e2e_ms", "kernel_ms", "paging_overhead_ms", "htod_mib", "dtoh_mib", "prefetch_share_pct", "cpu_faults",
        "htod_copies", "htod_copy_groups"]
SLACK = 1e-9  # the simulator is deterministic: same inputs, same numbers

ANALYSIS = """## What cannot be validated on this hardware

- **Eviction and thrashing.** The GPU must never be oversubscribed (it is shared; the tracer refuses
  such runs), so no recording exercises eviction, thrashing detection, throttling or pinning. Those parts
  of the model rest on the driver's code (`shared/reference/uvm-driver.md`) and published figures only.
- **Quantities the counter pass lost.** CUPTI's unified-memory records are lost under heavy fault load
  with a dropped count of 0; a stream under 98% of its expected bytes is not scored (the `-` above), and
  the prefetch share is scored only where HtoD is complete. Timing comes from the timing pass, which runs
  without the counters.
- **Machines and runs.** H100 machines differ by up to 30% and more, and runs on one machine by 10-50%.
  The native-runtime traces (`runtime_*`) carry the median of 5 timing runs and 3 resident runs on one
  H100 (`uvmsim trace retime`, `cuda_tracer/retime_corpus.sh`, 2026-11-24; each run's summed kernel time in
  `cuda_tracer/recordings/retime_h100.jsonl`, whose max/min spans 1.04 to 1.41 per trace). That machine
  ran the table's first touches in 0.59 to 0.71 of the table's times (`micro_retime_machine_h100.jsonl`:
  sequential 64 MiB 8.7 ms against 13.7, random 1 GiB 130 against 217, zero-fill 256 MiB 23.2 against
  33.1), and the model is calibrated to the table, so these traces' errors include that machine's speed.
  The PyTorch traces (`torch_*`) are single cold runs (five more per model on two other machines spanned
  1.1 to 2.4 in summed kernel time); the micro traces too, while the calibration's micro rows are medians
  of 5 (the fitted micro traces' paging-overhead errors of -47% to +24% are mostly that spread: the
  calibrated medians are within 14%).
- **End to end for prefetched micro-workloads** spans only the two resident kernels after the prefetch
  (tens of microseconds), so its relative error is large and says little.

## Where the targets are missed, and why

- **History of the default.** Before the recorded micro corpus (with the tiled GEMM) was in the fit,
  every fault entry cost `driver.fault_ns` and each service paid a 99.5 us wake-up: paging overhead mean
  +211%, worst +601%. With `driver.duplicate_fault_ns` separate and the GEMM in the fit: mean 47.4%,
  worst 127.3%, end to end 16.3%, prefetch share 11.4 / 31.1 points. The default now has fault arrival
  jitter on (1 us, runs of 3, cap 32; `sim/MODEL.md`, `results/calibration.md`), refitted to the table and
  the micro traces: the figures above (paging overhead mean 24.2%, worst 57.2%; prefetch share 6.4 / 15.0
  points; end to end 16.3%). The baseline of this file was re-recorded with that change (99 scored errors
  grew, 220 shrank).
- **Why jitter.** Without it every miss reached the simulated fault buffer at once in dispatch and address
  order, so a kernel whose CTA i touches page i (PyTorch's `FillFunctor` and implicit-GEMM convolutions;
  `micro_dense*`, recorded with `uvm_micro --threads-per-cta 1` and `OUT=$OUT SET=dense
  cuda_tracer/record_micro.sh`) got batches of 256 consecutive pages, half a block, just under the
  prefetcher's 51% threshold: nothing was prefetched, and those kernels were 1.5 to 4 times too slow. The
  H100 prefetched 86 to 91% of the bytes for 1 to 256 pages per CTA. With misses interleaved at random
  the model prefetches 88 to 94% for every pages-per-CTA, and its HtoD copy counts for those patterns
  are 10 to 46% short of the H100's, from 44 to 98% short without jitter (below).
- **Re-timed and repaired traces (2026-11-24).** A single cold run was too noisy to validate against:
  fresh-process runs of one model differed by up to 3x in summed kernel time, and the old
  `runtime_resnet18_b4` run (50.5 ms of paging overhead) was 2.5 times the new median (20.4 ms). The
  native-runtime traces now carry median runs (above). The PyTorch traces repeated the host gap of a call
  split per tensor piece for every piece (the converter's bug, fixed; the corpus repaired with `uvmsim trace
  recode --repair-split-call-gaps`), so the simulated host waited up to 107 ms too long (`torch_vgg16_b8`):
  their end-to-end error fell from mean 10.4% to 3.9%, all 12 within 10%. With both, against the figures
  before: paging overhead mean 24.2% -> 24.9%, worst 57.2% -> 88.3%; end to end 16.3% -> 12.2%. The
  baseline of this file was re-recorded with that data.
- **Native-runtime traces** (`runtime_*`, workloads/'s kernels), medians on one machine: 9 of 15 within
  30% (mean 27%). The errors now split by model, not by run: ResNet-18, ResNet-50 and MobileNetV2 are
  within -15% to +13% (ResNet-18 b1 +33%), AlexNet +44% to +88% and VGG16 +19% to +64%. AlexNet and VGG16
  are mostly HtoD of large weights (234 and 529 MiB), the others mostly zero-fill of activations (73 to 97%
  of the migrated bytes). That machine ran the table's first touches at 0.59 to 0.71 of the table's times,
  so in the table's terms (the model's calibration) the HtoD-heavy models are within about 20% and the
  zero-fill-heavy ones about 40% too cheap: the model's zero-fill of activations (partial blocks written by
  many CTAs at once, between HtoD faults) costs too little, while the table's one zero-fill row (a
  sequential 256 MiB write) fits within 5%. A regression of observed paging overhead on zero-filled and
  HtoD bytes over the runtime traces gave 131 and 176 us/MiB observed against 88 and 168 us/MiB simulated.
  What would fix it: a zero-fill micro-workload in the activations' pattern in the calibration, timed on
  the table's machine or with the table re-measured on one machine, so that a zero-filled page's cost is
  fitted where it matters; and the per-batch cost identified from batch structure (copy groups) rather than
  from total times (`driver.pte_ns` came out at 4.5 us, not a plausible PTE cost).
- **PyTorch traces** (`torch_*`): 9 of 12 within 30% (mean 22%); beyond: the mix of four models +44%,
  AlexNet b8 +39% and the two-process run -38%. End to end all within 10% (mean 3.9%). Their prefetch share
  is low where scored (4.5 to 15.0 points; before, up to 31). Re-timing them the same way needs about 75 s
  of device time per model (`cuda_tracer/retime_corpus.sh`, five timing runs and one resident run). Trial
  runs on two other machines (before `retime` carried the NVTX ranges over, which the corpus tests need,
  so not committed) moved AlexNet b8 to +12%, MobileNetV2 b8 to +4%, ResNet-18 b1 to +13% and the mix to
  +46%.
- **The micro-workloads the fit does not weigh** (`micro_dense*`, one machine's recordings): one page per
  CTA is +71% (`micro_dense_64m`), 4 pages per CTA +43%; the other pages-per-CTA within 17%, the
  one-page-per-CTA zero-fills -21% and -12%. The table's
  rows come from a machine where the sequential pattern took 13.7 ms, the dense recordings from one where
  it took about 7.7 ms (`results/calibration.md`), and the fit follows the table.
- **What would settle the rest:** how one warp's misses enter the uTLB relative to other warps' (runs of
  1 and of 3 fit the shares and copy counts about equally; the table's times prefer 3), which needs a
  batch-level trace of the real driver; the table re-measured on one machine with the one-page-per-CTA
  rows, medians over several machines; and thread order in recorded traces (the access capture keeps the
  set of pages per CTA, sorted by address, so a CTA whose threads touch random pages looks sequential:
  the recorded `micro_random_64m` is 29 points below the H100's prefetch share).
- **The structure of the migrations** (columns HtoD copies and copy groups: the counter pass's HtoD
  records, and runs of them with no gap over 5 us, about one per fault batch; `uvmsim validate` scores
  both where HtoD is complete). The H100 moved the 64 MiB sequential first touch (`micro_seq_64m`) in
  1307 copies in 242 groups: small batches of about 68 pages, mostly in one VA block, some 53 us apart.
  It moved one page per CTA (`micro_dense_64m`) in 3056 copies in 23 groups: large batches of about 700
  pages over up to 6 blocks, each 0.4 to 1.3 ms of back-to-back copies of 4 to 48 KiB, alternating
  between faulted and prefetched pages because the faulted pages are scattered through each block. The
  previous default (no jitter) moved them in 320 copies (12 batches of about 1.1 ms) and 64 copies (64
  batches): its faulted pages arrived in contiguous runs, so a block moved in a few large copies. The
  model's groups count blocks rather than batches (the per-block CPU work, `driver.va_block_ns`, leaves
  gaps over 5 us between a batch's blocks; the H100's copies within a batch run back to back). With
  jitter (the default now) the dense and PyTorch copy counts come close: `micro_dense_64m` 2282,
  `torch_resnet50_b1` 7969 against 7051, `torch_mobilenet_v2_b8` 4158 against 4387 (without jitter 64,
  7545 and 1934). Copy counts follow from the order in which faults arrive, not from the fitted costs, so
  this is evidence for interleaved arrival independent of the time fit (`scripts/structure_grid.py`,
  `results/calibration.md`). The sequential pattern stays short of copies with every structure tried
  (624 now): there the H100's batches are small and frequent, which points at how fast the GPU reports
  the faults of a warp whose 32 threads miss on 32 pages. Costs fitted to total times reproduce the times
  with too few batches there; fitting the arrival structure to copy counts and groups first, then the
  costs, is the next calibration step.
- **End to end** follows from the paging overhead (resident times are recorded, so the rest is paging).
- **HtoD bytes**: within 2% except PyTorch MobileNetV2 b8 (+2.3%): the recorded stream has 2-6% more bytes
  than the touched pages (prefetch beyond them), which the model reproduces only in part.
"""


def held_out(name):
    return name.startswith("runtime_") or name.startswith("torch_")


def trace_set(name):
    # micro_dense*: recorded after sim/configs/h100.json was fitted, and kept out of it (validation.md says why)
    return "held out" if held_out(name) else "not fitted" if name.startswith("micro_dense") else "fitted"


def validate(uvmsim, trace, config, json_path, settings=()):
    """`uvmsim validate` of one trace (with --set for each of `settings`): its JSON, or exit with its error."""
    cmd = [uvmsim, "validate", "--trace", trace, "--config", config, "--json", json_path]
    for s in settings:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"validation of {trace} failed:\n{r.stderr}")
    with open(json_path) as f:
        return json.load(f)


def run_all(uvmsim, config, jobs):
    names = sorted(f[:-5] for f in os.listdir(CORPUS) if f.endswith(".uvmt"))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        def one(name):
            return name, validate(uvmsim, os.path.join(CORPUS, name + ".uvmt"), config,
                                  os.path.join(tmp, name + ".json"))
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for name, j in pool.map(one, names):
                out[name] = j
    return out


def summary(v):
    """The scored errors of one trace: key -> error (relative, or points for shares)."""
    s = {}
    for q in v["quantities"]:
        if q["scored"]:
            s[q["key"]] = q.get("error", q.get("error_points"))
    ko = v["kernel_overhead"]
    if ko["scored_kernels"]:
        s["kernel_overhead_mean"] = ko["mean_abs_error"]
        s["kernel_overhead_worst"] = ko["worst_abs_error"]
    return s


def fmt(key, e):
    if e is None:
        return "-"
    if key == "prefetch_share_pct":
        return f"{e:+.1f} pt"
    if key.startswith("kernel_overhead"):
        return f"{100 * e:.0f}%"
    return f"{100 * e:+.1f}%"


def write_table(results):
    lines = ["# Validation against the H100", "",
             "Every recorded trace of `traces/corpus/` simulated by `uvmsim validate --trace T --config",
             "sim/configs/h100.json` under its recording's GPU and driver parameters, against what the H100 did",
             "(`scripts/validation.py --update` writes this file, `results/validation.json` and the plot; CI runs",
             "`--check`: no error may grow). Errors are simulated against observed: relative for times, bytes and",
             "counts, points for the prefetch share. `-`: not scored (the stream was incomplete, under 98% of the",
             "expected bytes recorded, or the quantity is absent; `uvmsim validate` prints why).",
             "",
             "Columns: end to end (first kernel start to last kernel end), kernel time under demand paging",
             "(summed), paging overhead (demand-paging time minus resident time, summed over kernels), HtoD and",
             "DtoH bytes, prefetch share of fault-driven HtoD bytes, CPU faults of touch-backs, HtoD migration",
             "copies (one counter-pass record each; the model makes one per contiguous run of pages of one cause)",
             "and their groups (copies with no gap over 5 us between them: about one group per fault batch), and",
             "per-kernel paging overhead (kernels with at least 20 us observed: mean and worst |error|).", ""]
    head = ["trace", "set", "e2e", "kernels", "overhead", "HtoD", "DtoH", "prefetch share", "CPU faults",
            "HtoD copies", "copy groups", "per-kernel overhead (n: mean / worst)", "scored / skipped"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + " --- |" * len(head))
    for name, v in results.items():
        s = summary(v)
        ko = v["kernel_overhead"]
        per = f"{ko['scored_kernels']}: {fmt('kernel_overhead', s.get('kernel_overhead_mean'))} / " \
              f"{fmt('kernel_overhead', s.get('kernel_overhead_worst'))}" if ko["scored_kernels"] else "-"
        row = [name, trace_set(name)] + [fmt(k, s.get(k)) for k in KEYS] + \
              [per, f"{v['scored']} / {v['skipped']}"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    # Targets on the held-out model traces.
    ho = [summary(v) for n, v in results.items() if held_out(n)]
    def agg(key, points=False):
        vals = [abs(s[key]) for s in ho if key in s]
        if not vals:
            return "none scored"
        mean, worst = sum(vals) / len(vals), max(vals)
        if points:
            return f"{len(vals)} traces: mean {mean:.1f} pt, worst {worst:.1f} pt"
        return f"{len(vals)} traces: mean {100 * mean:.1f}%, worst {100 * worst:.1f}%"
    lines += ["## Targets on the held-out model traces", "",
              "| quantity | target | measured |", "| --- | --- | --- |",
              f"| paging overhead (per trace, summed) | 15% mean, 30% worst | {agg('paging_overhead_ms')} |",
              f"| end to end | 10% mean | {agg('e2e_ms')} |",
              f"| HtoD bytes, complete streams | 2% | {agg('htod_mib')} |",
              f"| prefetch share | 5 points | {agg('prefetch_share_pct', True)} |", ""]
    lines += ANALYSIS.splitlines()
    return "\n".join(lines) + "\n"


def plot(results):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(6.5, 6))
    groups = {"micro-workloads (fitted)": [], "native runtime (held out)": [], "PyTorch (held out)": []}
    for name, v in results.items():
        g = "native runtime (held out)" if name.startswith("runtime_") else \
            "PyTorch (held out)" if name.startswith("torch_") else "micro-workloads (fitted)"
        for k in v["kernels"]:
            o, s = k["observed_ns"] - k["resident_ns"], k["simulated_ns"] - k["resident_ns"]
            if o >= 20000 and s > 0:
                groups[g].append((o / 1e6, s / 1e6))
    lo, hi = 1e-2, 1e3
    for (g, pts), m in zip(groups.items(), ["o", ".", "x"]):
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=12, marker=m, alpha=0.6, label=f"{g}: {len(pts)} kernels")
            lo = min(lo, min(min(p) for p in pts))
            hi = max(hi, max(max(p) for p in pts))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="y = x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("observed paging overhead per kernel (ms, H100)")
    ax.set_ylabel("simulated paging overhead per kernel (ms)")
    ax.set_title("Kernels with at least 20 us of observed paging overhead")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110, metadata={"Software": None})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--config", default=os.path.join(ROOT, "sim", "configs", "h100.json"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true")
    mode.add_argument("--check", action="store_true")
    a = ap.parse_args()
    results = run_all(a.uvmsim, a.config, a.jobs)
    now = {n: summary(v) for n, v in results.items()}
    if a.update:
        with open(BASELINE, "w") as f:
            json.dump(now, f, indent=1, sort_keys=True)
            f.write("\n")
        with open(TABLE, "w") as f:
            f.write(write_table(results))
        plot(results)
        print(f"wrote {BASELINE}, {TABLE}, {PLOT}")
        return 0
    with open(BASELINE) as f:
        base = json.load(f)
    bad = []
    for name, errs in base.items():
        if name not in now:
            bad.append(f"{name}: in results/validation.json but no longer in the corpus")
            continue
        for key, e in errs.items():
            if key not in now[name]:
                bad.append(f"{name} {key}: scored in results/validation.json, no longer scored")
            elif abs(now[name][key]) > abs(e) + SLACK:
                bad.append(f"{name} {key}: error {now[name][key]:+.6f}, recorded {e:+.6f}")
    better = sum(1 for n, errs in base.items() for k, e in errs.items()
                 if n in now and k in now[n] and abs(now[n][k]) < abs(e) - SLACK)
    new = [n for n in now if n not in base]
    for line in bad:
        print("validation ratchet: " + line, file=sys.stderr)
    print(f"validation ratchet: {len(now)} traces, {sum(len(e) for e in now.values())} scored errors; "
          f"{len(bad)} grew, {better} shrank, {len(new)} traces new"
          + (" (run scripts/validation.py --update to record them)" if better or new else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
