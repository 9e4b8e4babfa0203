#!/usr/bin/env python3
"""What the UVM driver's own events say about its fault batches, directly, before any model is fitted:
results/driver_batches.md from the traces with events passes (traces/corpus/h200/, DRVE).

For each trace (the median of its runs' figures, each run's first):
  batches           batches the driver serviced
  entries           fault entries per batch, median (every instance the driver fetched)
  clients, gpcs     distinct MMU clients (uTLBs) and GPCs a batch's entries came from, median
  per client        most entries one client had in a batch, median over batches: how many faults one uTLB
                    holds outstanding
  fill us           the span of a full batch's entries' GPU times (written into the buffer), median: how fast
                    the GPU writes 256 entries
  service us        a batch's CPU service span (its first entry's service start to its last's), median
  replay us         its replay's completion minus its last entry's write into the buffer (both on the GPU
                    clock), median
  gap ns            the time between two entries of one client written one after the other in a batch,
                    median (the GPU's timestamps tick by 32 ns); any gap ns: between any two entries

and, per trace, what one uTLB faults between two replays (a round; the first run): the pages and the
granules of 4 pages (16 KiB: one 32-byte sector of 8-byte PTEs) of its read faults and of its write faults;
and where the batches of its busiest kernel lie (distinct pages and their span), the driver's against the
model's batch log (`--set key=value`, repeatable, changes the model's runs there: to explore).

  scripts/driver_batches.py --uvmsim build/release/uvmsim [--report results/driver_batches.md] [--set k=v]
"""
import argparse
import bisect
import io
import math
import os
import re
import statistics
import subprocess
import tarfile
import tempfile
from collections import defaultdict

import corpus_split
from trace_csv import sections

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def med(v):
    return statistics.median(v) if v else 0


def runs_of(uvmsim, path):
    (rows,) = sections(uvmsim, path, "driver_events")
    runs = defaultdict(list)
    for r in rows:
        runs[int(r["run"])].append(r)
    return [runs[k] for k in sorted(runs)]


def figures(rows):
    batches = defaultdict(list)
    replay = {}
    for r in rows:
        if r["kind"] == "fault_entry":
            batches[int(r["batch"])].append(r)
        elif r["kind"] == "replay":
            replay[int(r["batch"])] = int(r["gpu_ns"])
    ent, clients, gpcs, per_client, fill, service, last_to_replay = [], [], [], [], [], [], []
    client_gap, any_gap = [], []
    for b, fs in batches.items():
        ent.append(len(fs))
        cl = defaultdict(int)
        for f in fs:
            cl[(f["gpc_or_src"], f["client_or_dst"])] += 1
        clients.append(len(cl))
        gpcs.append(len({f["gpc_or_src"] for f in fs}))
        per_client.append(max(cl.values()))
        g = sorted(int(f["gpu_ns"]) for f in fs)
        c = sorted(int(f["cpu_ns"]) for f in fs)
        any_gap += [g[i + 1] - g[i] for i in range(len(g) - 1)]
        per = defaultdict(list)
        for f in fs:
            per[(f["gpc_or_src"], f["client_or_dst"])].append(int(f["gpu_ns"]))
        for v in per.values():
            v.sort()
            client_gap += [v[i + 1] - v[i] for i in range(len(v) - 1)]
        if len(fs) == 256:
            fill.append((g[-1] - g[0]) / 1e3)
        service.append((c[-1] - c[0]) / 1e3)
        if b in replay:
            last_to_replay.append((replay[b] - g[-1]) / 1e3)
    return {"batches": len(batches), "entries": med(ent), "clients": med(clients), "gpcs": med(gpcs),
            "per_client": med(per_client), "fill_us": med(fill), "service_us": med(service),
            "replay_us": med(last_to_replay), "gap_ns": med(client_gap), "any_gap_ns": med(any_gap)}


def client_rounds(rows, granule_pages=4):
    """Per (client, round): the distinct pages and granules of its read-only and of its write faults, and its
    entries per distinct page (duplicates included). A round
    is the time after one replay up to the next; an entry written up to 0.5 us before a replay's GPU time
    counts after it (the SMs re-issue as the replay lands: the first entries of a round precede its
    timestamp by a few hundred ns)."""
    replays = sorted(int(r["gpu_ns"]) for r in rows if r["kind"] == "replay")
    rounds = defaultdict(list)
    for r in rows:
        if r["kind"] != "fault_entry":
            continue
        i = bisect.bisect_right(replays, int(r["gpu_ns"]) + 500)
        rounds[(i, r["gpc_or_src"], r["client_or_dst"])].append((int(r["address"]) >> 12, r["flags"]))
    reads, writes = [], []
    for v in rounds.values():
        pages = {p for p, _ in v}
        figure = (len(pages), len({p // granule_pages for p in pages}), len(v) / len(pages))
        (reads if all(f == "1" for _, f in v) else writes).append(figure)
    return reads, writes


def wake_delays(rows):
    """Per batch after the first, of every run: (idle, delay). `idle`: its earliest entry's write into the
    buffer minus the previous batch's replay completion (GPU clock), the time the driver had nothing to do;
    `delay`: from that write to the driver's service start of the batch's first entry, on the CPU clock
    through the previous replay (its push on the CPU, its completion on the GPU: their difference, the
    replay's own latency, errs the delay by a few microseconds)."""
    per_run = defaultdict(list)
    for r in rows:
        per_run[r["run"]].append(r)
    out = []
    for rs in per_run.values():
        first = {}
        replay = {}
        for r in rs:
            if r["kind"] == "fault_entry":
                b, g, c = int(r["batch"]), int(r["gpu_ns"]), int(r["cpu_ns"])
                f = first.get(b)
                first[b] = (min(g, f[0]), min(c, f[1])) if f else (g, c)
            elif r["kind"] == "replay":
                replay[int(r["batch"])] = (int(r["gpu_ns"]), int(r["cpu_ns"]))
        ids = sorted(first)
        for prev, b in zip(ids, ids[1:]):
            if prev not in replay:
                continue
            idle = first[b][0] - replay[prev][0]
            if idle >= 0:
                out.append((idle, first[b][1] - replay[prev][1] - idle))
    return out


def round_sources(rows):
    """Per batch after the first of a run (one run's rows): the share of its entries written into the buffer
    from 1 us before to 3 us after the previous batch's replay (the SMs re-issuing as it lands), and the share
    of its uTLBs (GPC, client) that had entries in the previous batch too. Medians over the run's batches."""
    batches = defaultdict(list)
    replay = {}
    for r in rows:
        if r["kind"] == "fault_entry":
            batches[int(r["batch"])].append((int(r["gpu_ns"]), (r["gpc_or_src"], r["client_or_dst"])))
        elif r["kind"] == "replay":
            replay[int(r["batch"])] = int(r["gpu_ns"])
    ids = sorted(batches)
    at_replay, overlap = [], []
    for prev, b in zip(ids, ids[1:]):
        if prev not in replay:
            continue
        es = batches[b]
        at_replay.append(sum(1 for g, _ in es if -1000 <= g - replay[prev] <= 3000) / len(es))
        clients, before = {c for _, c in es}, {c for _, c in batches[prev]}
        overlap.append(len(clients & before) / len(clients))
    return med(at_replay), med(overlap)


def kernel_spans(rows):
    """The batches of the kernel that took the most (one run's rows): that kernel, its batches, and medians over
    them of the distinct pages a batch faulted on and of their span (its highest page minus its lowest)."""
    batches = defaultdict(list)
    for r in rows:
        if r["kind"] == "fault_entry":
            batches[int(r["batch"])].append((r["kernel"], int(r["address"]) >> 12))
    per_kernel = defaultdict(list)
    for es in batches.values():
        kernels = defaultdict(int)
        for k, _ in es:
            kernels[k] += 1
        per_kernel[max(kernels, key=lambda k: (kernels[k], k))].append({p for _, p in es})
    kernel = max((k for k in per_kernel if k != "-"), key=lambda k: (len(per_kernel[k]), k))
    pages = per_kernel[kernel]
    return int(kernel), len(pages), med([len(p) for p in pages]), med([max(p) - min(p) for p in pages])


def model_spans(uvmsim, path, kernel, extra=()):
    """The same for the simulator's batches of that kernel (the batch log of `uvmsim validate`, which runs the
    trace under its GPU's config and the recording's settings; pages in its dense page space, numbered in a
    row through an allocation)."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "batches.log")
        cmd = [uvmsim, "validate", "--trace", path, "--batch-log", log]
        for s in extra:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True, capture_output=True)
        pages, spans = [], []
        with open(log) as f:
            for line in f:
                if line.startswith("#"):
                    continue
                v = line.split()
                if int(v[7]) == kernel:
                    pages.append(int(v[2]))
                    spans.append(int(v[9]) - int(v[8]))
    return len(pages), med(pages), med(spans)


WAKE_BINS = [(0, 2000, "under 2 us"), (2000, 1000000, "2 us to 1 ms"), (1000000, 1 << 62, "1 ms or more")]


def access_means(archive):
    """Per workload and kind ('read', 'write': atomics with the writes), from record_lines.sh's archive: the
    mean lines per (warp access, page) of lines/<w>.tsv and the mean warps per (CTA, page) of warps/<w>.tsv,
    all of them (kind), those at the (CTA, page)'s first use (kind + '_first') and the distinct lines touched
    at it (kind + '_first_lines'); the later kinds only where the archive's recording has them."""
    out = defaultdict(dict)
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            folder, _, name = m.name.partition("/")
            if not m.isfile() or folder not in ("lines", "warps") or not name.endswith(".tsv"):
                continue
            hist = defaultdict(lambda: [0] * 33)
            for line in tar.extractfile(m).read().decode().splitlines():
                f = line.split("\t")
                if f[0] == "end":
                    continue
                h = hist["write" if f[1] == "atomic" else f[1]]
                for n in range(1, 33):
                    h[n] += int(f[1 + n])
            for kind, h in hist.items():
                out[name[:-4]][(folder, kind)] = sum(n * c for n, c in enumerate(h)) / max(1, sum(h))
    return out


def entries_per_page(rows):
    """Per kind, the mean entries of one (batch, uTLB, page): how many entries one uTLB wrote for one page."""
    pairs = {"read": defaultdict(int), "write": defaultdict(int)}
    for r in rows:
        if r["kind"] == "fault_entry":
            kind = "read" if r["flags"] == "1" else "write"
            pairs[kind][(r["batch"], r["gpc_or_src"], r["client_or_dst"], int(r["address"]) >> 12)] += 1
    return {k: sum(v.values()) / len(v) for k, v in pairs.items() if v}


def quantiles(v):
    v = sorted(v)
    return "%d / %d / %d" % (statistics.median(v), v[int(len(v) * 0.9)], v[-1]) if v else "-"


def one_entry_batches(rows):
    """A dependent chain's batches hold one entry each: the driver's costs of a batch, read off its events.
    Per batch (GPU clock unless said): the entry's write to its first copy's start, the copies' span, the
    last copy's end to the replay's completion, the whole; on the CPU clock, the service's start to the
    first copy's queueing and to the replay's push; and the copies' bytes."""
    faults = sorted((int(r["gpu_ns"]), int(r["batch"]), int(r["cpu_ns"])) for r in rows if r["kind"] == "fault_entry")
    replay = {int(r["batch"]): (int(r["gpu_ns"]), int(r["cpu_ns"])) for r in rows if r["kind"] == "replay"}
    migs = sorted((int(r["gpu_ns"]), int(r["gpu_end_ns"]), int(r["bytes"]), int(r["cpu_ns"]))
                  for r in rows if r["kind"] == "migration")
    cols = defaultdict(list)
    for g, b, cpu in faults:
        if b not in replay:
            continue
        rg, rc = replay[b]
        m = [x for x in migs if g <= x[0] <= rg]
        if not m:
            continue
        cols["to_copy_us"].append((m[0][0] - g) / 1e3)
        cols["copies_us"].append((m[-1][1] - m[0][0]) / 1e3)
        cols["to_replay_us"].append((rg - m[-1][1]) / 1e3)
        cols["batch_us"].append((rg - g) / 1e3)
        cols["cpu_to_copy_us"].append((m[0][3] - cpu) / 1e3)
        cols["cpu_to_replay_us"].append((rc - cpu) / 1e3)
        cols["copies"].append(len(m))
        cols["kib"].append(sum(x[2] for x in m) / 1024)
    return {k: med(v) for k, v in cols.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--report", default=os.path.join(ROOT, "results", "driver_batches.md"))
    ap.add_argument("--set", action="append", default=[],
                    help="key=value: a setting of the model's runs (the span section) over the config's")
    a = ap.parse_args()
    corpus = os.path.join(ROOT, "traces", "corpus", "h200")
    names = sorted(f[:-5] for f in os.listdir(corpus) if f.endswith(".uvmt"))
    keys = ["batches", "entries", "clients", "gpcs", "per_client", "fill_us", "service_us", "replay_us", "gap_ns",
            "any_gap_ns"]
    out = io.StringIO()
    out.write("# The driver's fault batches, as its own events show them\n\n"
              "Generated by `scripts/driver_batches.py --uvmsim build/release/uvmsim` from the H200 partition "
              "traces (`traces/corpus/h200/`, their events runs: `DRVE`). Per trace, the median run's figure "
              "(of three); per batch figures are medians over the run's batches. `clients`: distinct (GPC, MMU "
              "client) pairs, the uTLBs whose entries a batch holds; `per client`: most entries of one of them; "
              "`fill`: the span of a full batch's GPU write times; `service`: its CPU service span (first to "
              "last entry's service start); `replay`: its last entry's write to its replay's completion (GPU "
              "clock); `gap`: between two entries of one client written one after the other in a batch, `any "
              "gap`: between any two (the GPU's timestamps tick by 32 ns). Nothing here is fitted.\n\n")
    out.write("| trace | " + " | ".join(k.replace("_", " ") for k in keys) + " |\n")
    out.write("| --- |" + " ---: |" * len(keys) + "\n")
    order = {"132": 0, "72": 1, "32": 2, "16": 3, "8": 4}
    names.sort(key=lambda n: (re.sub(r"_sm\d+$", "", n), order.get(n.rsplit("_sm", 1)[-1], 9)))
    runs = {n: runs_of(a.uvmsim, os.path.join(corpus, n + ".uvmt")) for n in names}
    for n in names:
        per_run = [figures(r) for r in runs[n]]
        row = {k: sorted(f[k] for f in per_run)[(len(per_run) - 1) // 2] for k in keys}
        out.write("| %s | %s |\n" % (n, " | ".join(
            "%d" % row[k] if k in ("batches", "clients", "gpcs") else "%.1f" % row[k] for k in keys)))
    chains = [n for n in names if "_chain_" in n]
    if chains:
        ck = ["batch_us", "to_copy_us", "copies_us", "to_replay_us", "cpu_to_copy_us", "cpu_to_replay_us", "copies",
              "kib"]
        out.write("\n## One-entry batches: the driver's costs read off its events\n\n"
                  "A dependent chain faults one page at a time, so each batch holds one entry: its events give the "
                  "costs of a batch directly (medians over the first run's batches). GPU clock: `batch` the "
                  "entry's write into the buffer to the replay's completion, `to copy` that write to the first "
                  "copy's start on the GPU, `copies` the span of its copies (the fault's page and what the "
                  "prefetcher adds), `to replay` the last copy's end to the replay's completion; CPU clock: "
                  "`cpu to copy` and `cpu to replay` from the service's start (the entry's CPU time) to the first "
                  "copy's queueing and to the replay's push; `copies` and `KiB` of the batch.\n\n")
        out.write("| trace | " + " | ".join(k.replace("_us", " us").replace("_", " ") for k in ck) + " |\n")
        out.write("| --- |" + " ---: |" * len(ck) + "\n")
        for n in chains:
            f = one_entry_batches(runs[n][0])
            out.write("| %s | %s |\n" % (n, " | ".join("%.1f" % f.get(k, 0) for k in ck)))
    check = corpus_split.check_set()
    # every trace but the chain's (one-entry batches), with its part of the split
    structured = [(n, "check" if "h200/" + n in check else "fit") for n in names if "_chain_" not in n]
    out.write("\n## What one uTLB faults between two replays\n\n"
              "Per (MMU client, round) of the first run, a round being the time from one replay to the next: the "
              "distinct pages and the distinct granules of 4 pages (16 KiB, one 32-byte sector of 8-byte PTEs) "
              "it faulted on, median / 90th percentile / most, for the clients whose faults of the round were "
              "all reads and for those with a write among them; `one page`: the share of those write rounds "
              "that faulted on a single page; `entries / page`: a write round's entries per distinct page, "
              "median (duplicates included: the driver reports every instance). `set`: the trace's part of "
              "`traces/corpus/split.json`.\n\n"
              "| trace | set | read rounds | pages | granules | write rounds | pages | one page | entries / page |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for n, part in structured:
        reads, writes = client_rounds(runs[n][0])
        one = "%.0f%%" % (100 * sum(1 for p, _, _ in writes if p == 1) / len(writes)) if writes else "-"
        per_page = "%.1f" % statistics.median(e for _, _, e in writes) if writes else "-"
        out.write("| %s | %s | %d | %s | %s | %d | %s | %s | %s |\n" % (
            n, part, len(reads), quantiles([p for p, _, _ in reads]),
            quantiles([g for _, g, _ in reads]), len(writes), quantiles([p for p, _, _ in writes]), one, per_page))
    out.write("\n## Where a batch's entries come from\n\n"
              "Per trace, the first run's batches after the first (medians): `at replay`, the share of a "
              "batch's entries written into the buffer from 1 us before to 3 us after the previous batch's "
              "replay (the SMs re-issuing as it lands; 0 when the batch filled with entries that waited in the "
              "buffer); `same uTLBs`, the share of its uTLBs that had entries in the previous batch too; "
              "`uTLBs`, those with an entry in it (`clients` above). PyTorch's and the runtime's elementwise "
              "kernels at many SMs fault only as a replay lands, from a few uTLBs that change from batch to "
              "batch; the micro-workloads' full batches come from the same uTLBs batch after batch.\n\n"
              "| trace | set | at replay | same uTLBs | uTLBs |\n| --- | --- | ---: | ---: | ---: |\n")
    for n, part in structured:
        share, same = round_sources(runs[n][0])
        out.write("| %s | %s | %.2f | %.2f | %d |\n" % (n, part, share, same, figures(runs[n][0])["clients"]))
    out.write("\n## Where a batch's faults lie in its kernel's pages\n\n"
              "Per trace, the kernel that took the most of the first run's batches (`kernel`, its index in the "
              "trace) and, over its batches, the medians of the distinct pages a batch faulted on and of their "
              "span (the highest page minus the lowest, in 4 KiB pages), the driver's against the model's "
              "(`uvmsim validate --batch-log`: `sim/configs/h200.json` and the recording's settings). A span "
              "near the pages a batch holds means SMs faulting on neighbouring CTAs (each SM's oldest waiting "
              "one, the CTAs being dealt out in order); one near the kernel's whole window of resident CTAs "
              "means SMs faulting anywhere in it. `oldest first`: the model's batches and span with "
              "`gpu.replay_wake_shuffle` 3 (each SM re-issues its oldest stalled CTA first; `sim/MODEL.md`, "
              "tried and not kept).\n\n"
              "| trace | set | kernel | batches | pages | span | oldest first: batches | span |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    fit_spans = []  # (driver batches, span, model's, oldest first's) of the fit set's traces
    for n, part in structured:
        k, nb, pg, sp = kernel_spans(runs[n][0])
        path = os.path.join(corpus, n + ".uvmt")
        mb, mpg, msp = model_spans(a.uvmsim, path, k, a.set)
        ob, _, osp = model_spans(a.uvmsim, path, k, a.set + ["gpu.replay_wake_shuffle=3"])
        out.write("| %s | %s | %d | %d / %d | %.0f / %.0f | %.0f / %.0f | %d | %.0f |\n" % (
            n, part, k, nb, mb, pg, mpg, sp, msp, ob, osp))
        if part == "fit" and sp > 0 and msp > 0 and osp > 0:
            fit_spans.append((nb, sp, mb, msp, ob, osp))
    if fit_spans:
        def summary(batches, span):
            logs = [math.log(f[span] / f[1]) for f in fit_spans]
            return ("batch count %.1f%% mean error, span %.2fx the driver's (geometric mean; a factor %.2f off "
                    "either way, geometric mean of the absolute ratio)" % (
                        100 * statistics.mean(abs(f[batches] / f[0] - 1) for f in fit_spans),
                        math.exp(statistics.mean(logs)), math.exp(statistics.mean(abs(x) for x in logs))))
        out.write("\nFit set, the busiest kernel's batches (%d traces whose spans are not 0): the model %s; each SM "
                  "oldest first %s.\n" % (len(fit_spans), summary(2, 3), summary(4, 5)))
    means = access_means(os.path.join(ROOT, "cuda_tracer", "recordings", "lines_h200.tar.gz"))
    out.write("\n## Lines and warps per page, against the driver's entries per page\n\n"
              "Per workload, from the access capture (`cuda_tracer/record_lines.sh`, "
              "`cuda_tracer/recordings/lines_h200.tar.gz`, whole GPU): `lines`, the mean distinct 128-byte "
              "lines one warp access touched in a page; `warps`, the mean warps of one CTA that touched a "
              "(CTA, page), `at first use` those of them that touched it at its first use (the earliest "
              "ordinal of a global access among its threads') and `lines at first use` the distinct lines "
              "touched at it; and from the first events run at 132 and at 8 SMs, `entries`, the mean entries "
              "one uTLB wrote for one page in one batch (reads, and writes with atomics, apart). One entry per "
              "line of a warp's write holds for PyTorch's vectorized kernels at 132 SMs; the reads of a page by "
              "several warps of a CTA give 1 to 3 entries, as many as 8 warps at once (the runtime's relu) or "
              "about one when the warps reach it over the CTA's run (its conv3x3). Nor do the lines at first use "
              "give the entries (recorded 2026-12-05, the fit set): the relu's reads 8.00 lines against 2.29 "
              "entries at 132 SMs, PyTorch AlexNet's writes 10.07 against 3.29, the conv3x3's reads 2.57 "
              "against 1.07, so a uTLB does not write an entry per distinct line missing at once.\n\n"
              "| workload | set | kind | lines | warps | at first use | lines at first use | entries at 132 | "
              "entries at 8 |\n"
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for w in sorted({re.sub(r"_sm\d+$", "", n) for n, _ in structured}):
        part = dict(structured).get(w + "_sm132", "fit")
        at = [entries_per_page(runs[w + "_sm" + sm][0]) if w + "_sm" + sm in runs else {} for sm in ("132", "8")]
        for kind in ("read", "write"):
            m = means.get(w, {})
            if ("lines", kind) not in m:
                continue
            cells = [m[("lines", kind)], m.get(("warps", kind), 0), m.get(("warps", kind + "_first"), 0),
                     m.get(("warps", kind + "_first_lines"))] + [e.get(kind) for e in at]
            out.write("| %s | %s | %s | %s |\n" % (
                w, part, kind, " | ".join("-" if c is None else "%.2f" % c for c in cells)))
    delays = {"fit": defaultdict(list), "check": defaultdict(list)}
    for n, part in structured:
        rows = [r for run in runs[n] for r in run]
        for idle, d in wake_delays(rows):
            for k, (lo, hi, _) in enumerate(WAKE_BINS):
                if lo <= idle < hi:
                    delays[part][k].append(d)
    out.write("\n## The driver's wake-up after an idle\n\n"
              "Per batch after a run's first (every run of every partition trace but the chain): how long the "
              "driver had been idle when the batch's first entry reached the buffer (that write minus the "
              "previous replay's completion) and how long the entry then waited for its service to start "
              "(`wake_delays`): quantiles 10 / 25 / 50 / 75 / 90 in us. Below 2 us the servicing thread is "
              "still awake (it checks the buffer again after a replay); from 2 us it has gone to sleep and "
              "waits for the interrupt and its CPU's wake-up, longer after 1 ms. `sim/configs/h200.json` takes "
              "`driver.wake_ns` and `driver.deep_wake_ns` as the fit set's medians minus its median under 2 us "
              "(the path `driver.isr_latency_ns` already covers), with `driver.wake_idle_ns` 2 us and "
              "`driver.deep_idle_ns` 1 ms; the check set is shown, not used.\n\n"
              "| set | idle | batches | delay us: p10 | p25 | p50 | p75 | p90 |\n"
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for part in ("fit", "check"):
        for k, (_, _, label) in enumerate(WAKE_BINS):
            v = sorted(delays[part][k])
            if v:
                out.write("| %s | %s | %d | %s |\n" % (part, label, len(v), " | ".join(
                    "%.1f" % (v[int(q * (len(v) - 1))] / 1e3) for q in (0.1, 0.25, 0.5, 0.75, 0.9))))
    fit = delays["fit"]
    if fit[0] and fit[1] and fit[2]:
        base = statistics.median(fit[0])
        out.write("\nFit set: `driver.wake_ns` = %.0f, `driver.deep_wake_ns` = %.0f (ns).\n" % (
            statistics.median(fit[1]) - base, statistics.median(fit[2]) - base))
    os.makedirs(os.path.dirname(a.report), exist_ok=True)
    with open(a.report, "w") as f:
        f.write(out.getvalue())
    print(out.getvalue())


if __name__ == "__main__":
    main()
