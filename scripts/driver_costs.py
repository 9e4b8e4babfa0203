#!/usr/bin/env python3
"""The UVM driver's service costs read off its own events (the DRVE section of the H200 partition traces), on
the fit set only (traces of traces/corpus/split.json's check set are never read): the costs that
sim/configs/h200.json takes as measured and `uvmsim calibrate --hold` keeps fixed, and results/driver_costs.md.

What each figure is, and where it comes from (medians over every events run of every fit-set trace):
  from a dependent chain's one-entry batches (micro_chain_16m at every partition):
    isr_latency_ns     an entry's write into the buffer (GPU clock) to its service start (CPU clock, through the
                       trace's clock anchor): the interrupt, the bottom half's wake-up and the fetch's start
    replay_ns          the batch's last copy's end to its replay's completion (GPU clock): the mapping pushed
                       behind the copies, the membar and the replay itself
    fault_latency_ns   a replay's completion to the chain's next entry's write (GPU clock): the retried access,
                       the next access's miss, its walk and its entry (a median below the 32 ns tick is 0)
  from the entries written as a replay lands (GPU clock; every batch but the chain's):
    replay_fetch_ns    a replay's completion to the next batch's read of PUT: per replay whose entries (written
                       from 1 us before to 50 us after it) were split between the next batch and a later one with
                       at most 500 ns between the next batch's latest and the later batch's earliest (so the read
                       lies between them), the midpoint
  from batches fetched while entries waited in the buffer (every entry written before the previous replay):
    batch_fixed_ns,    the previous replay's push to the batch's first VA block's service start (CPU clock):
    fetch_entry_ns     the line through the medians of small batches (at most 64 entries) and of full ones
                       (256): fetching, parsing and sorting. (Least squares over every batch is ruled by the
                       full ones, whose spread leaves the fixed part undetermined.)
  from the VA blocks of every batch (the CPU time from one block's service start to the next's), least
  squares over the block's duplicate entries, distinct faulted pages and pages migrated:
    va_block_ns        the fixed part of the blocks that migrate nothing (their pages were resident by
                       then: entries of an earlier batch's faults)
    migrate_block_ns,  the fixed part of the blocks that migrate, beyond va_block_ns, and their costs per
    service_fault_ns,  distinct faulted page and per page migrated (the copies' count adds 36 ns each, so the
    page_ns            CPU's cost per copy is left out)
  from the faulted pages of every block (a page's entries, duplicates included, share one CPU timestamp, so
  the time to the block's next page is the driver's loop over that page's entries):
    service_dup_ns     the slope, per entry beyond a page's first, of the least-squares line through the median
                       time per entry count (1 to 16 entries, weighted by their samples). The block fit's
                       coefficient for duplicates, also reported, is ruled by the blocks of the elementwise
                       kernels, whose many duplicates come with other work of the block.
  from the copies of one block's push (GPU clock, the first copy's start to the last's end):
    copy_setup_ns, copy_ns  least squares over the push's copies, its bytes at the measured bandwidth taken off

The model's keys follow: driver.fault_ns = fetch_entry_ns + service_fault_ns, driver.duplicate_fault_ns =
fetch_entry_ns + service_dup_ns, driver.page_ns = page_ns (every migrated page of these traces was
CPU-resident, so driver.cpu_unmap_page_ns cannot be told apart from it and is 0), driver.pte_ns = 0 (no cost
in the events scales with PTEs apart from the per-block and per-page costs, which hold the CPU's share of
mapping; the GPU's share is in replay_ns). The CPU's cost per copy (copy_cpu_ns) has no key of its own: it is
reported, not modelled.

  scripts/driver_costs.py --uvmsim build/release/uvmsim [--report results/driver_costs.md] [--json out.json]
"""
import argparse
import json
import os
import statistics
from collections import defaultdict

from corpus_split import check_set  # traces/corpus/split.json's held-out traces
from driver_batches import runs_of  # every events run of a trace, as driver_events.csv rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "traces", "corpus")
HTOD_BYTES_PER_NS = 64 * 2**20 / 1.4399e6  # cudaMemPrefetchAsync of 64 MiB, tests/data/h200_micro.json


def solve(X, y):
    """Least squares by the normal equations (a handful of unknowns)."""
    k = len(X[0])
    A = [[sum(r[i] * r[j] for r in X) for j in range(k)] for i in range(k)]
    b = [sum(r[i] * v for r, v in zip(X, y)) for i in range(k)]
    for i in range(k):
        p = max(range(i, k), key=lambda r: abs(A[r][i]))
        A[i], A[p], b[i], b[p] = A[p], A[i], b[p], b[i]
        for r in range(k):
            if r != i:
                f = A[r][i] / A[i][i]
                A[r] = [a - f * c for a, c in zip(A[r], A[i])]
                b[r] -= f * b[i]
    return [b[i] / A[i][i] for i in range(k)]


class Samples:
    def __init__(self):
        self.write_to_service, self.copy_end_to_replay, self.replay_to_next = [], [], []
        self.replay_fetch = []  # per split replay: the midpoint of its fetch's window (GPU clock, from the replay)
        self.cycle = {"replay push to next service start": [], "service start to first copy queued": [],
                      "first copy queued to replay push": []}  # the chain's cycle on the CPU clock alone
        self.batch_x, self.batch_y = [], []
        self.block_x, self.block_y = [], []
        self.page_gaps = defaultdict(list)  # a page's entries -> CPU time to the block's next page
        self.push_x, self.push_y = [], []

    def add_run(self, rows, chain):
        entries = defaultdict(list)  # batch -> (cpu, gpu, page)
        replay = {}  # batch -> (cpu push, gpu completion)
        migrations = []  # (cpu queued, gpu start, gpu end, bytes, block)
        for r in rows:
            if r["kind"] == "fault_entry":
                entries[int(r["batch"])].append((int(r["cpu_ns"]), int(r["gpu_ns"]), int(r["address"]) >> 12))
            elif r["kind"] == "replay":
                replay[int(r["batch"])] = (int(r["cpu_ns"]), int(r["gpu_ns"]))
            elif r["kind"] == "migration" and r["flags"] in ("1", "2"):  # to the GPU
                migrations.append((int(r["cpu_ns"]), int(r["gpu_ns"]), int(r["gpu_end_ns"]), int(r["bytes"]),
                                   int(r["address"]) >> 21))
        migrations.sort()
        pushes = defaultdict(list)
        for m in migrations:
            pushes[(m[0], m[4])].append(m)
        for ms in pushes.values():
            ms.sort(key=lambda m: m[1])
            nbytes = sum(m[3] for m in ms)
            self.push_x.append([1, len(ms)])
            self.push_y.append(ms[-1][2] - ms[0][1] - nbytes / HTOD_BYTES_PER_NS)
        if not chain:
            for b, (_, done) in replay.items():
                window = lambda n: [e[1] - done for e in entries.get(n, []) if -1000 <= e[1] - done <= 50000]
                ahead, later = window(b + 1), window(b + 2) + window(b + 3)
                if ahead and later and 0 <= min(later) - max(ahead) <= 500:
                    self.replay_fetch.append((max(ahead) + min(later)) / 2)
        for b, es in entries.items():
            if b not in replay:
                continue
            es.sort()
            if chain and len(es) == 1:
                ms = [m for m in migrations if es[0][0] <= m[0] <= replay[b][0]]
                if ms and es[0][1] > 0:
                    first = min(ms, key=lambda m: m[1])
                    # GPU write to copy start, less the CPU's service start to the copy's queueing
                    self.write_to_service.append((first[1] - es[0][1]) - (first[0] - es[0][0]))
                    self.copy_end_to_replay.append(replay[b][1] - max(m[2] for m in ms))
                    self.cycle["service start to first copy queued"].append(first[0] - es[0][0])
                    self.cycle["first copy queued to replay push"].append(replay[b][0] - first[0])
                    if b - 1 in replay:
                        self.cycle["replay push to next service start"].append(es[0][0] - replay[b - 1][0])
                if b + 1 in entries and entries[b + 1][0][1] > 0:
                    self.replay_to_next.append(min(e[1] for e in entries[b + 1]) - replay[b][1])
                continue
            if b - 1 in replay and max(e[1] for e in es) < replay[b - 1][1]:
                self.batch_x.append([1, len(es)])
                self.batch_y.append(es[0][0] - replay[b - 1][0])
            groups = []  # per VA block in service order: [service start, entries, distinct pages, block]
            for cpu, _, page in es:
                if groups and groups[-1][3] == page >> 9:
                    groups[-1][1] += 1
                    groups[-1][2].add(page)
                else:
                    groups.append([cpu, 1, {page}, page >> 9])
            pages = []  # per faulted page in service order: [CPU timestamp, entries, page]
            for cpu, _, page in es:
                if pages and pages[-1][2] == page and pages[-1][0] == cpu:
                    pages[-1][1] += 1
                else:
                    pages.append([cpu, 1, page])
            for p, nxt in zip(pages, pages[1:]):
                if p[2] >> 9 == nxt[2] >> 9 and nxt[0] > p[0]:
                    self.page_gaps[p[1]].append(nxt[0] - p[0])
            for g, nxt in zip(groups, groups[1:]):
                ms = [m for m in migrations if m[4] == g[3] and g[0] <= m[0] <= nxt[0]]
                self.block_x.append([1, g[1] - len(g[2]), len(g[2]), len(ms), sum(m[3] for m in ms) / 4096])
                self.block_y.append(nxt[0] - g[0])


def med(v):
    return statistics.median(v) if v else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--report", default=os.path.join(ROOT, "results", "driver_costs.md"))
    ap.add_argument("--json", help="also write the measured keys as JSON (a regular file)")
    a = ap.parse_args()
    traces = sorted(t for t in os.listdir(os.path.join(CORPUS, "h200")) if t.endswith(".uvmt"))
    fit = [t for t in traces if "h200/" + t[:-5] not in check_set()]
    s = Samples()
    for t in fit:
        for rows in runs_of(a.uvmsim, os.path.join(CORPUS, "h200", t)):
            s.add_run(rows, chain=t.startswith("micro_chain"))
    small = [(x[1], y) for x, y in zip(s.batch_x, s.batch_y) if x[1] <= 64]
    full = [(x[1], y) for x, y in zip(s.batch_x, s.batch_y) if x[1] >= 256]
    (n0, y0), (n1, y1) = [(med([e for e, _ in g]), med([y for _, y in g])) for g in (small, full)]
    batch = [y0 - (y1 - y0) / (n1 - n0) * n0, (y1 - y0) / (n1 - n0)]
    idle = [(x, y) for x, y in zip(s.block_x, s.block_y) if x[4] == 0]
    moving = [(x, y) for x, y in zip(s.block_x, s.block_y) if x[4] > 0]
    idle_fit = solve([[1, x[1], x[2]] for x, _ in idle], [y for _, y in idle])
    block = solve([[1, x[1], x[2], x[4]] for x, _ in moving], [y for _, y in moving])
    push = solve(s.push_x, s.push_y)
    fetch_entry = batch[1]
    # A page's entries share one CPU timestamp: the time to the block's next page is the driver's loop over
    # that page's entries. Least squares through the median gap per entry count (1 to 16), weighted by count.
    counts = [n for n in range(1, 17) if len(s.page_gaps[n]) >= 30]
    page_line = solve([[len(s.page_gaps[n]) ** 0.5, len(s.page_gaps[n]) ** 0.5 * (n - 1)] for n in counts],
                      [len(s.page_gaps[n]) ** 0.5 * med(s.page_gaps[n]) for n in counts])
    measured = {
        "driver.isr_latency_ns": med(s.write_to_service),
        "driver.replay_ns": med(s.copy_end_to_replay),
        "gpu.fault_latency_ns": max(0.0, med(s.replay_to_next)),
        "driver.replay_fetch_ns": med(s.replay_fetch),
        "driver.batch_fixed_ns": batch[0],
        "driver.fault_ns": fetch_entry + block[2],
        "driver.duplicate_fault_ns": fetch_entry + page_line[1],
        "driver.va_block_ns": idle_fit[0],
        "driver.migrate_block_ns": block[0] - idle_fit[0],
        "driver.page_ns": block[3],
        "driver.cpu_unmap_page_ns": 0.0,
        "driver.pte_ns": 0.0,
        "pcie.copy_setup_ns": push[0],
        "pcie.copy_ns": push[1],
    }
    measured = {k: int(round(max(0.0, v))) for k, v in measured.items()}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(measured, f, indent=1, sort_keys=True)
            f.write("\n")
    lines = [
        "# The driver's service costs, read off its events",
        "",
        "Generated by `scripts/driver_costs.py --uvmsim build/release/uvmsim` from the events runs (`DRVE`) of "
        "the fit set's H200 partition traces (%d traces; the check set of `traces/corpus/split.json` is never "
        "read): the costs `sim/configs/h200.json` takes as measured, which `uvmsim calibrate --hold` keeps "
        "fixed. The script's docstring says how each is taken. Nothing here is fitted to a time." % len(fit),
        "",
        "| key | value | what it is | samples |",
        "| --- | ---: | --- | ---: |",
    ]
    what = {
        "driver.isr_latency_ns": ("an entry's write to its service start (one-entry batches)", s.write_to_service),
        "driver.replay_ns": ("the last copy's end to the replay's completion (one-entry batches)",
                             s.copy_end_to_replay),
        "gpu.fault_latency_ns": ("a replay's completion to the next entry's write (the chain)", s.replay_to_next),
        "driver.replay_fetch_ns": ("a replay's completion to the next batch's read of PUT (replays whose "
                                   "re-issued entries were split between two batches)", s.replay_fetch),
        "driver.batch_fixed_ns": ("the replay's push to the next batch's first block, fixed part (%d small "
                                  "batches: %.1f us; %d full: %.1f us)" % (len(small), y0 / 1e3, len(full), y1 / 1e3),
                                  s.batch_y),
        "driver.fault_ns": ("per distinct faulted page: fetch %.0f + service %.0f" % (fetch_entry, block[2]),
                            moving),
        "driver.duplicate_fault_ns": ("per duplicate entry: fetch %.0f + service %.0f (a page's CPU time per "
                                      "entry beyond its first; the block fit would say %.0f)" % (
                                          fetch_entry, page_line[1], block[1]),
                                      [g for n in counts for g in s.page_gaps[n]]),
        "driver.va_block_ns": ("per VA block serviced that migrates nothing, fixed part", idle),
        "driver.migrate_block_ns": ("per VA block that migrates, fixed part beyond va_block_ns", moving),
        "driver.page_ns": ("per page migrated (all CPU-resident here)", moving),
        "driver.cpu_unmap_page_ns": ("not separable from page_ns in these traces", []),
        "driver.pte_ns": ("no cost scales with PTEs apart from blocks and pages", []),
        "pcie.copy_setup_ns": ("a push's copies on the GPU, fixed part", s.push_y),
        "pcie.copy_ns": ("per copy of a push, its bytes at %.1f GB/s taken off" % HTOD_BYTES_PER_NS, s.push_y),
    }
    for k, v in measured.items():
        lines.append("| `%s` | %d | %s | %d |" % (k, v, what[k][0], len(what[k][1])))
    lines += [
        "",
        "Medians: the service of a VA block that migrates %.1f us, of one that does not %.1f us; a push's "
        "copies %.1f us beyond their bytes; the replay's push to the next batch's first block %.1f us." % (
            med([y for _, y in moving]) / 1e3, med([y for _, y in idle]) / 1e3, med(s.push_y) / 1e3,
            med(s.batch_y) / 1e3),
        "",
        "The chain's cycle on the CPU clock alone (no clock anchor), medians: %s. The GPU-clock figures "
        "above (`isr_latency_ns`, `replay_ns`) pass through the anchor between the two clocks and the replay "
        "event's timestamp, and they do not add up to this cycle: the replay's push to the next service "
        "start takes %.1f us, where `replay_ns` + `isr_latency_ns` alone would take %.1f us, leaving next to nothing for the "
        "chain's steps between two faults, which its resident run puts at about 12 us (1.37 ms over 109 "
        "faults). So `uvmsim calibrate` fits those two, from these values, and "
        "holds `batch_fixed_ns`, `pte_ns` and `gpu.fault_latency_ns` (CPU-clock or zero)." % (
            ", ".join("%s %.1f us" % (k, med(v) / 1e3) for k, v in s.cycle.items()),
            med(s.cycle["replay push to next service start"]) / 1e3,
            (med(s.write_to_service) + med(s.copy_end_to_replay)) / 1e3),
        "",
        "The events runs are slower than runs without the tracker where faults are many and small (one page "
        "per CTA: 1.87x; 64 MiB sequential and random: 1.0x; `cuda_tracer/recordings/"
        "driver_events_overhead_h200.jsonl`): the tracker's own work per event is in these costs.",
        "",
    ]
    os.makedirs(os.path.dirname(os.path.abspath(a.report)), exist_ok=True)
    with open(a.report, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
