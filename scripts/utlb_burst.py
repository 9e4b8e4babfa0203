#!/usr/bin/env python3
"""What one uTLB faults on between two replays when its SM's demand is known: cuda_tracer/utlb_burst.sh's
recordings (cuda_tracer/programs/utlb_burst_probe: every thread reads a page of its own in a 2 MiB block of
its own, all at once; demand per SM = warps x CTAs per SM x 32 pages).

Per case and events pass, from the fault entries the driver serviced (uvm_events.bin, cuda_tracer/src/
uvm_events.h), per (MMU client, round), a round being from one replay's GPU time to the next (the first
round: from the first entry): the distinct pages it faulted on (median / 90th percentile / most), those of
them written within 3 us after the round's replay, and the pages with two or more entries in one batch.
The first round is reported apart (the kernel's first misses, no replay before them). Then, per case, when
a replay's entries are written: the first after it, the first re-fault of a granule the uTLB held and the
first new granule (the 8-SM cases' pooled median is gpu.utlb_slot_rewalk_ns), and the write spacing.

With --uvmsim, the model's batches beside the driver's, per case: the probe as a generated trace (`uvmsim
generate --pattern seq --threads-per-cta 32W (or T) --page-stride 512 --host-init`, S x C or N CTAs) run
under --config with gpu.sm_count S and any --set; batches, and per batch the fault entries, distinct pages
and uTLBs (MMU clients) with an entry (medians), and the entries of the batch read after the first replay.

  scripts/utlb_burst.py DIR [--report FILE] [--uvmsim BIN [--config C] [--set k=v ...]]
      (DIR: utlb_burst.sh's archive, unpacked or not (cuda_tracer/recordings/utlb_burst_h200.tar.xz), or a
      folder of uvm_events.bin files)
"""
import argparse
import bisect
import glob
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda_tracer"))
import uvm_events  # noqa: E402  (the events pass's file: its layout and checks)


def entries(path):
    """(fault entries as (gpu_ns, client, page, batch), replay GPU times) of one uvm_events.bin."""
    loaded = uvm_events.load(path)
    if isinstance(loaded, str):
        sys.exit("%s: the events pass failed: %s" % (path, loaded))
    data, at, count = loaded[:3]
    faults, replays = [], []
    for i in range(count):
        off = at + i * uvm_events.ENTRY
        kind = data[off]
        if kind == 3:
            gpc, client, address, _, gpu_ns, batch = uvm_events.gpu_fault(data, off)
            faults.append((gpu_ns, (gpc, client), address >> 12, batch))
        elif kind == 4:
            replays.append(uvm_events.replay(data, off)[2])
    return sorted(faults), sorted(replays)


def q(v):
    v = sorted(v)
    return "%d / %d / %d" % (v[len(v) // 2], v[int(0.9 * (len(v) - 1))], v[-1]) if v else "-"


def rounds(faults, replays):
    """Per (round, client): [pages, pages written within 3 us after the round's replay]; round 0 is before the
    first replay. And the pages with two or more entries from one client in one batch."""
    per = defaultdict(lambda: [set(), set()])
    seen = defaultdict(int)
    for gpu_ns, client, page, batch in faults:
        r = bisect.bisect_right(replays, gpu_ns + 1000)  # an entry up to 1 us before a replay's time is its
        cell = per[(r, client)]
        cell[0].add(page)
        if r > 0 and gpu_ns - replays[r - 1] <= 3000:
            cell[1].add(page)
        seen[(batch, client, page)] += 1
    return per, sum(1 for n in seen.values() if n > 1)


def driver_batches(faults):
    """Per batch, in the order of their earliest entry: (fault entries, distinct pages, clients)."""
    per = defaultdict(list)
    for gpu_ns, client, page, batch in faults:
        per[batch].append((gpu_ns, client, page))
    order = sorted(per.values(), key=lambda es: min(es))
    return [(len(es), len({p for *_, p in es}), len({c for _, c, _ in es})) for es in order]


def case_of(f):
    """(case, run) of an events file: '<case>.events.<i>.bin' (utlb_burst.sh's archive) or
    '<case>/events.<i>/uvm_events.bin' (a recording's own layout); run is '.<i>'."""
    if os.path.basename(f) == "uvm_events.bin":
        return (os.path.basename(os.path.dirname(os.path.dirname(f))),
                os.path.basename(os.path.dirname(f))[len("events"):])
    case, _, run = os.path.basename(f)[:-4].rpartition(".events")
    return case, run


def waves(faults, replays, granule=4):
    """Per replay but the last, over the entries written after it and before the next (ns after it): the
    first entry's delay; the first re-fault of a granule (`granule` pages) its uTLB had an entry in since the
    previous replay, and the first entry of a granule it had not (None where there is none); and, where 65
    entries follow, the mean spacing of the 64 after the first (the clock's tick is 32 ns)."""
    times = [f[0] for f in faults]
    out = []
    for k, (r, nxt) in enumerate(zip(replays, replays[1:])):
        i, end = bisect.bisect_right(times, r), bisect.bisect_left(times, nxt)
        if i == end:
            continue
        held = defaultdict(set)
        for _, client, page, _ in faults[bisect.bisect_right(times, replays[k - 1]) if k else 0:i]:
            held[client].add(page // granule)
        old = next((t - r for t, c, p, _ in faults[i:end] if p // granule in held[c]), None)
        new = next((t - r for t, c, p, _ in faults[i:end] if p // granule not in held[c]), None)
        spacing = (times[i + 64] - times[i]) / 64 if end - i >= 65 else None
        out.append((times[i] - r, old, new, spacing))
    return out


def model_batches(uvmsim, config, sets, sms, threads, ctas):
    """The model's batches of the probe's kernel (kernel 0 of the generated trace), as driver_batches."""
    pages = ctas * threads
    with tempfile.TemporaryDirectory() as d:
        trace, log = os.path.join(d, "probe.uvmt"), os.path.join(d, "batches.txt")
        subprocess.run([uvmsim, "generate", "--pattern", "seq", "--bytes", str(pages << 21), "--threads-per-cta",
                        str(threads), "--page-stride", "512", "--host-init", "--out", trace],
                       check=True, capture_output=True)
        cmd = [uvmsim, "run", "--trace", trace, "--config", config, "--set", "gpu.sm_count=%d" % sms,
               "--out", os.path.join(d, "out"), "--batch-log", log]
        for kv in sets:
            cmd += ["--set", kv]
        subprocess.run(cmd, check=True, capture_output=True)
        rows = [line.split() for line in open(log) if not line.startswith("#")]
    # columns: time_ns faults unique_pages va_blocks bytes duration_ns utlbs kernel low_page high_page
    return [(int(r[1]), int(r[2]), int(r[6])) for r in rows if r[7] == "0"]


def summary(batches):
    """batches, median entries / pages / clients per batch, entries of the second batch."""
    if not batches:
        return "0 | - | - | - | -"
    med = lambda i: "%g" % statistics.median(b[i] for b in batches)
    return "%d | %s | %s | %s | %s" % (len(batches), med(0), med(1), med(2),
                                       batches[1][0] if len(batches) > 1 else "-")


def compare(files, parsed, uvmsim, config, sets):
    """Markdown rows: per case, each events pass's batches (`parsed`: file -> entries()) and the model's."""
    lines = ["| case | source | batches | entries per batch | pages per batch | uTLBs per batch | "
             "second batch's entries |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    cases = defaultdict(list)
    for f in files:
        m = re.match(r"sm(\d+)_([wt])(\d+)_([cn])(\d+)\.events\.(\d+)\.bin$", os.path.basename(f))
        if m:  # w<W>: CTAs of W warps, t<T>: of T threads; c<C>: C CTAs per SM, n<N>: N CTAs in all
            sms, threads = int(m.group(1)), int(m.group(3)) * (32 if m.group(2) == "w" else 1)
            ctas = int(m.group(5)) * (sms if m.group(4) == "c" else 1)
            cases[(sms, threads, ctas, os.path.basename(f).split(".")[0])].append((m.group(6), f))
    if not cases:
        sys.exit("--uvmsim needs utlb_burst.sh's files (sm<S>_w<W>_c<C>.events.<i>.bin)")
    for (sms, threads, ctas, case), runs in sorted(cases.items()):
        for run, f in sorted(runs):
            lines.append("| %s | driver, events.%s | %s |" % (case, run, summary(driver_batches(parsed[f][0]))))
        lines.append("| %s | model | %s |" % (case, summary(model_batches(uvmsim, config, sets, sms, threads,
                                                                            ctas))))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--report")
    ap.add_argument("--uvmsim", help="also run the model on each case (utlb_burst.sh's archive)")
    ap.add_argument("--config", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                      "sim", "configs", "h200.json"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    if os.path.isfile(a.dir):  # the archive itself: unpack it for the run
        with tempfile.TemporaryDirectory() as d:
            with tarfile.open(a.dir) as tar:
                # the data filter where this Python has it (3.11.4 on): no links or paths out of d
                tar.extractall(d, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
            a.dir = d
            return report(a)
    return report(a)


def report(a):
    files = sorted(glob.glob(os.path.join(a.dir, "**", "*.events.*.bin"), recursive=True) +
                   glob.glob(os.path.join(a.dir, "**", "uvm_events.bin"), recursive=True))
    if not files:
        sys.exit("%s: no uvm_events.bin files" % a.dir)
    parsed = {f: entries(f) for f in files}  # each file read once: (faults, replay times)
    timing = {f: waves(*parsed[f]) for f in files}
    lines = ["Per MMU client and round (replay to replay) of the probe's kernel, the driver's entries:", "",
             "| case | pass | clients | batches | first round: pages per client | later rounds: pages per client | "
             "of them within 3 us of the replay | pages twice in a batch |",
             "| --- | --- | ---: | ---: | --- | --- | --- | ---: |"]
    for f in files:
        faults, replays = parsed[f]
        per, twice = rounds(faults, replays)
        first = [len(c[0]) for (r, _), c in per.items() if r == 0]
        later = [len(c[0]) for (r, _), c in per.items() if r > 0]
        at = [len(c[1]) for (r, _), c in per.items() if r > 0]
        case, run = case_of(f)
        lines.append("| %s | events%s | %d | %d | %s | %s | %s | %d |" % (
            case, run, len({c for _, c, _, _ in faults}), len({b for *_, b in faults}), q(first),
            q(later), q(at), twice))
    lines += ["", "When the entries after a replay are written (GPU clock), per case and events pass, median over "
              "the replays (10th and 90th percentiles): the first entry after the replay; the first re-fault of a "
              "granule its uTLB had an entry in since the previous replay, and the first entry of a granule it "
              "had not (replays with one); the mean spacing of 64 entries after the first (replays with 65):", "",
              "| case | pass | replays | first entry (us) | first re-fault (us) | first new granule (us) | "
              "spacing (ns) |", "| --- | --- | ---: | --- | --- | --- | --- |"]

    def pct(v, scale, fmt):
        v = sorted(x / scale for x in v if x is not None)
        return (fmt + " (" + fmt + ", " + fmt + ")") % (statistics.median(v), v[int(.1 * (len(v) - 1))],
                                                          v[int(.9 * (len(v) - 1))]) if v else "-"
    for f in files:
        w = timing[f]
        lines.append("| %s | events%s | %d | %s | %s | %s | %s |" % (
            *case_of(f), len(w), pct([x[0] for x in w], 1000, "%.2f"),
            pct([x[1] for x in w], 1000, "%.2f"), pct([x[2] for x in w], 1000, "%.2f"),
            pct([x[3] for x in w], 1, "%.0f")))
    pooled = [x[2] for f in files if re.match(r"sm8_[wt]\d+_[cn]\d+$", case_of(f)[0]) for x in timing[f]]
    pooled = [x for x in pooled if x is not None]
    if pooled:
        lines += ["", "At 8 SMs, every case and run pooled: the first new granule %.2f us after the replay (median of "
                  "%d replays): `gpu.utlb_slot_rewalk_ns`." % (statistics.median(pooled) / 1000, len(pooled))]
    if a.uvmsim:
        lines += ["", "The model's batches beside the driver's (`--uvmsim`, config `%s`%s):" % (
            os.path.relpath(a.config), "".join(" --set " + kv for kv in a.set)), ""]
        lines += compare(files, parsed, a.uvmsim, a.config, a.set)
    text = "\n".join(lines) + "\n"
    if a.report:
        with open(a.report, "w") as out:
            out.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
