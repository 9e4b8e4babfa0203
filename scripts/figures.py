#!/usr/bin/python3
"""The study's figures (issue 24, item 4) from `uvmsim sweep` results, as PDF and PNG.

  scripts/figures.py --sweeps build/sweeps --uvmsim build/release/uvmsim --out results/figures

scripts/figures.sh runs the checked-in sweeps (sweeps/*.json) into --sweeps and then this. It reads:
- SWEEPS/study: the four-model mix under each policy set (axis policy_set) at each memory fraction
  (gpu.memory_fraction) and seed (spec.seed): normalised latency per policy at each oversubscription level,
  each tenant's latency CDF, faults per batch and batch counts, bytes migrated to the GPU and evicted;
- SWEEPS/memory: the mixes (axis mix) under a few sets over memory fractions and seeds: latency against
  memory fraction;
- the H200 corpus (traces/corpus/h200, its check set from traces/corpus/split.json): `uvmsim validate`
  under sim/configs/h200.json, simulated against measured kernel time, paging overhead and fault batches;
- the recorded native serving runs on the H200 (scripts/serve_check.py: the serving and green-context
  checks): each tenant's p50 and p99 latency, simulated against measured.

Every point's latencies are its counted requests (requests.csv, warm-up left out), over all tenants. Where
points differ only by seed, a figure shows the mean over seeds with its 95% confidence interval (Student's
t with n - 1 degrees of freedom); a set's latency is normalised to the baseline set's of the same memory
and seed before averaging. Figures are deterministic: no dates in the files, fixed fonts and sizes.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

from study import cell_of, mean_ci  # the study's quantities of a run, and Student's t intervals

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SET_ORDER = ["baseline", "thread_oversubscription", "barm", "etc", "per_layer_batch", "dstack"]
SET_LABEL = {"baseline": "baseline (driver)", "thread_oversubscription": "TLP + unobtrusive eviction",
             "barm": "BARM", "etc": "ETC", "per_layer_batch": "per-layer batch", "dstack": "D-STACK"}


def set_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def load_sweep(folder):
    """Each done point of a sweep folder: its axes and scripts/study.py's quantities of it (cell_of: the
    counted requests' mean and p99 latency, and by tenant; faults per batch, batches, bytes)."""
    points = []
    for r in csv.DictReader(open(os.path.join(folder, "results.csv"))):
        if r["status"] != "done":
            continue
        points.append(cell_of(os.path.join(folder, "points", r["key"])))
    if not points:
        sys.exit(f"figures: {folder}: no finished points")
    return points


def group(points, *axes):
    """Points by the values of the given axes (policy_set by its set's name)."""
    out = {}
    for p in points:
        k = tuple(set_name(p["axes"][a]) if a in ("policy_set", "mix") else p["axes"][a] for a in axes)
        out.setdefault(k, []).append(p)
    return out


def ordered_sets(names):
    return sorted(names, key=lambda n: (SET_ORDER.index(n) if n in SET_ORDER else len(SET_ORDER), n))


def setup_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 9,
                                "figure.dpi": 100, "savefig.dpi": 150, "pdf.compression": 6,
                                "svg.hashsalt": "uvmsim", "path.simplify": False})
    import matplotlib.pyplot as plt
    return plt


def save(plt, fig, out, name, written):
    """name.pdf and name.png, without dates (deterministic)."""
    fig.tight_layout()
    for ext, meta in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}),
                      ("png", {"Software": None})):
        path = os.path.join(out, f"{name}.{ext}")
        fig.savefig(path, metadata=meta)
        written.append(path)
    plt.close(fig)


def normalised(points):
    """Per (set, memory): the seeds' mean and p99 latency over the baseline's at the same memory and seed."""
    base = {(p["axes"]["gpu.memory_fraction"], p["axes"].get("spec.seed", 0)): p for p in points
            if set_name(p["axes"]["policy_set"]) == "baseline"}
    out = {}
    for p in points:
        k = (p["axes"]["gpu.memory_fraction"], p["axes"].get("spec.seed", 0))
        if k not in base:
            continue
        cell = out.setdefault((set_name(p["axes"]["policy_set"]), k[0]), {"mean": [], "p99": []})
        cell["mean"].append(p["mean_ms"] / base[k]["mean_ms"])
        cell["p99"].append(p["p99_ms"] / base[k]["p99_ms"])
    return out


def bars(ax, sets, fractions, value, ylabel, title, log=False):
    """Grouped bars: one group per memory fraction, one bar per set; value(set, fraction) -> (mean, ci)."""
    width = 0.8 / max(1, len(sets))
    for i, s in enumerate(sets):
        xs, ms, cis = [], [], []
        for j, fr in enumerate(fractions):
            v = value(s, fr)
            if v is None:
                continue
            xs.append(j + (i - (len(sets) - 1) / 2) * width)
            ms.append(v[0])
            cis.append(v[1])
        ax.bar(xs, ms, width, yerr=cis, capsize=2, label=SET_LABEL.get(s, s), color=f"C{i}")
    ax.set_xticks(range(len(fractions)))
    ax.set_xticklabels([f"{fr:.0%}" for fr in fractions])
    ax.set_xlabel("GPU memory (share of the mix's footprint)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if not log:
        ax.set_ylim(bottom=0)  # an interval reaching below 0: the seeds differ that widely
    if log:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(FixedLocator([0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def study_figures(plt, points, out, written):
    fractions = sorted({p["axes"]["gpu.memory_fraction"] for p in points}, reverse=True)
    sets = ordered_sets({set_name(p["axes"]["policy_set"]) for p in points})
    seeds = sorted({p["axes"].get("spec.seed", 0) for p in points})
    note = f"mean over seeds {seeds[0]} to {seeds[-1]} with 95% CI (Student's t)" if len(seeds) > 1 else f"seed {seeds[0]}"

    norm = normalised(points)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, q, label in ((axes[0], "mean", "mean latency"), (axes[1], "p99", "p99 latency")):
        bars(ax, sets, fractions, lambda s, fr: mean_ci(norm[(s, fr)][q]) if (s, fr) in norm else None,
             f"{label} / the baseline's (same seed)", f"{label}, normalised", log=True)
        ax.axhline(1.0, color="black", linewidth=0.6)
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Each policy set against the baseline: {note}", fontsize=9)
    save(plt, fig, out, "normalised_latency", written)

    cells = group(points, "policy_set", "gpu.memory_fraction")

    def quantity(q):
        return lambda s, fr: mean_ci([p[q] for p in cells[(s, fr)]]) if (s, fr) in cells else None

    for name, title, panels, legend_at in (
            ("faults_and_batches", "The UVM driver's fault batches",
             (("faults_per_batch", "fault entries per batch", "faults per batch"),
              ("batches", "fault batches", "batches")), 1),
            ("bytes_migrated_evicted", "Bytes moved over PCIe",
             (("htod_mib", "MiB", "migrated to the GPU"), ("evicted_mib", "MiB", "evicted to the host")), 0)):
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for ax, (q, ylabel, panel) in zip(axes, panels):
            bars(ax, sets, fractions, quantity(q), ylabel, panel)
        axes[legend_at].legend(fontsize=7)
        fig.suptitle(f"{title}: {note}", fontsize=9)
        save(plt, fig, out, name, written)

    # Latency CDFs per tenant at the smallest memory, the seeds' requests pooled.
    fr = fractions[-1]
    tenants = sorted({t for p in points for t in p["latency"]})
    cols = min(4, len(tenants))
    rows = -(-len(tenants) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for k, t in enumerate(tenants):
        ax = axes[k // cols][k % cols]
        for i, s in enumerate(sets):
            v = sorted(x for p in cells.get((s, fr), []) for x in p["latency"].get(t, []))
            if v:
                ax.step(v, [(j + 1) / len(v) for j in range(len(v))], where="post", color=f"C{i}",
                        label=SET_LABEL.get(s, s), linewidth=1)
        ax.set_xscale("log")
        ax.set_title(f"{t} at {fr:.0%} memory")
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("share of requests")
    for k in range(len(tenants), rows * cols):
        axes[k // cols][k % cols].axis("off")
    axes[0][0].legend(fontsize=6, loc="lower right")
    save(plt, fig, out, "latency_cdf", written)


def memory_figure(plt, points, out, written):
    mixes = sorted({set_name(p["axes"]["mix"]) if "mix" in p["axes"] else "mix" for p in points})
    fig, axes = plt.subplots(1, len(mixes), figsize=(4.5 * len(mixes), 3.4), squeeze=False)
    for m, mix in enumerate(mixes):
        ax = axes[0][m]
        mine = [p for p in points if ("mix" not in p["axes"] or set_name(p["axes"]["mix"]) == mix)]
        cells = group(mine, "policy_set", "gpu.memory_fraction")
        sets = ordered_sets({k[0] for k in cells})
        seeds = sorted({p["axes"].get("spec.seed", 0) for p in mine})
        for i, s in enumerate(sets):
            frs = sorted(fr for (ss, fr) in cells if ss == s)
            stats = [mean_ci([p["mean_ms"] for p in cells[(s, fr)]]) for fr in frs]
            c = f"C{SET_ORDER.index(s) if s in SET_ORDER else i}"
            ax.plot(frs, [v[0] for v in stats], marker="o", markersize=3, color=c, label=SET_LABEL.get(s, s))
            ax.fill_between(frs, [v[0] - v[1] for v in stats], [v[0] + v[1] for v in stats], color=c, alpha=0.2,
                            linewidth=0)
        ax.set_xlabel("GPU memory (share of the mix's footprint)")
        ax.set_ylabel("mean latency (ms)")
        ax.set_title(f"{mix}: mean over seeds {seeds[0]} to {seeds[-1]}, 95% CI")
        ax.invert_xaxis()
        ax.set_ylim(bottom=0)  # an interval reaching below 0 ms: the seeds differ that widely
        ax.legend(fontsize=7)
    save(plt, fig, out, "latency_vs_memory", written)


def validation_rows(uvmsim, config, jobs):
    """`uvmsim validate` on every H200 corpus trace: (name, check set?, {key: (observed, simulated)})."""
    import concurrent.futures
    import tempfile
    corpus = os.path.join(ROOT, "traces", "corpus")
    split = json.load(open(os.path.join(corpus, "split.json")))
    check = {c["trace"] for c in split["check"]}
    names = sorted(f for f in os.listdir(os.path.join(corpus, "h200")) if f.endswith(".uvmt"))
    tmp = tempfile.mkdtemp(prefix="uvmsim-figures-")

    def one(f):
        out = os.path.join(tmp, f + ".json")
        subprocess.run([uvmsim, "validate", "--trace", os.path.join(corpus, "h200", f), "--config", config,
                        "--json", out], check=True, stdout=subprocess.DEVNULL)
        q = {x["key"]: (x["observed"], x["simulated"]) for x in json.load(open(out))["quantities"]
             if x.get("scored") and "observed" in x}
        os.remove(out)
        return f[:-5], ("h200/" + f) in check, q

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        rows = list(ex.map(one, names))
    os.rmdir(tmp)
    return rows


def identity_axes(ax, lo, hi):
    """Log-log axes from lo to hi with simulated = measured (solid) and ±20% (dashed)."""
    xs = [lo * 0.8, hi * 1.25]
    ax.plot(xs, xs, color="black", linewidth=0.6)
    ax.plot(xs, [x * 1.2 for x in xs], color="gray", linewidth=0.5, linestyle="--")
    ax.plot(xs, [x / 1.2 for x in xs], color="gray", linewidth=0.5, linestyle="--")
    ax.set_xscale("log")
    ax.set_yscale("log")


def validation_figure(plt, rows, out, written):
    keys = [("kernel_ms", "kernel time (ms)"), ("paging_overhead_ms", "paging overhead (ms)"),
            ("batches", "fault batches")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6))
    for ax, (k, label) in zip(axes, keys):
        lo, hi = float("inf"), 0.0
        for is_check, marker, name in ((False, "o", "fit set"), (True, "^", "check set")):
            pts = [r[2][k] for r in rows if r[1] == is_check and k in r[2] and r[2][k][0] > 0 and r[2][k][1] > 0]
            if not pts:
                continue
            errs = [abs(s - o) / o for o, s in pts]
            ax.scatter([o for o, _ in pts], [s for _, s in pts], s=10, marker=marker,
                       label=f"{name}: {len(pts)} traces, mean |error| {sum(errs) / len(errs):.1%}")
            lo, hi = min(lo, *(min(p) for p in pts)), max(hi, *(max(p) for p in pts))
        if hi > 0:
            identity_axes(ax, lo, hi)
        ax.set_xlabel(f"measured on the H200: {label}")
        ax.set_ylabel(f"simulated: {label}")
        ax.set_title(f"{label} (dashed: ±20%)")
        ax.legend(fontsize=6, loc="upper left")
    save(plt, fig, out, "validation_h200", written)


SERVE_CHECKS = [("cuda_tracer/recordings/serving_check", ["check_warm", "check_cold"]),
                ("cuda_tracer/recordings/green_check_h200",
                 ["green_even", "green_uneven", "green_even_warm", "green_uneven_warm", "green_whole_cold"])]


def serving_rows(uvmsim):
    """scripts/serve_check.py's rows (the recorded native serving runs on the H200 replayed by uvmsim serve):
    (spec, tenant, quantity, GPU median, uvmsim)."""
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for logs, specs in SERVE_CHECKS:
            report = os.path.join(tmp, "report.md")
            cmd = [sys.executable, os.path.join(ROOT, "scripts", "serve_check.py"), "--uvmsim", uvmsim, "--logs",
                   os.path.join(ROOT, logs), "--report", report]
            for sp in specs:
                cmd += ["--spec", os.path.join(ROOT, "sim", "serving", "examples", sp + ".json")]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            for line in open(report):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) >= 8 and cells[0] in specs and cells[2] in ("p50", "p99"):
                    rows.append((cells[0], cells[1], cells[2], float(cells[4]), float(cells[6])))
    return rows


def serving_figure(plt, rows, out, written):
    fig, ax = plt.subplots(figsize=(5, 4.2))
    lo = min(min(r[3], r[4]) for r in rows)
    hi = max(max(r[3], r[4]) for r in rows)
    for q, marker in (("p50", "o"), ("p99", "^")):
        for warm, colour in ((True, "C0"), (False, "C3")):
            pts = [r for r in rows if r[2] == q and ("warm" in r[0]) == warm]
            if pts:
                err = sum(abs(r[4] - r[3]) / r[3] for r in pts) / len(pts)
                ax.scatter([r[3] for r in pts], [r[4] for r in pts], marker=marker, color=colour, s=14,
                           label=f"{q}, {'warm' if warm else 'cold'}: {len(pts)}, mean |error| {err:.1%}")
    identity_axes(ax, lo, hi)
    ax.set_xlabel("measured on the H200: latency (ms, median of the runs)")
    ax.set_ylabel("uvmsim serve: latency (ms)")
    ax.set_title("Serving checks, per tenant (dashed: ±20%)")
    ax.legend(fontsize=6, loc="upper left")
    save(plt, fig, out, "validation_serving_h200", written)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweeps", default=os.path.join(ROOT, "build", "sweeps"), help="the sweeps' output folders")
    ap.add_argument("--uvmsim", default=os.path.join(ROOT, "build", "release", "uvmsim"))
    ap.add_argument("--config", default=os.path.join(ROOT, "sim", "configs", "h200.json"), help="validation's config")
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "figures"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-validation", action="store_true", help="leave the validation figure out")
    a = ap.parse_args()
    plt = setup_matplotlib()
    os.makedirs(a.out, exist_ok=True)
    written = []
    study = os.path.join(a.sweeps, "study")
    if os.path.isfile(os.path.join(study, "results.csv")):
        study_figures(plt, load_sweep(study), a.out, written)
    memory = os.path.join(a.sweeps, "memory")
    if os.path.isfile(os.path.join(memory, "results.csv")):
        memory_figure(plt, load_sweep(memory), a.out, written)
    if not a.skip_validation:
        validation_figure(plt, validation_rows(a.uvmsim, a.config, a.jobs), a.out, written)
        serving_figure(plt, serving_rows(a.uvmsim), a.out, written)
    if not written:
        sys.exit(f"figures: nothing to draw: no sweep folders under {a.sweeps}")
    for w in written:
        print(os.path.relpath(w, ROOT))


if __name__ == "__main__":
    main()
