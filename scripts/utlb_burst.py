#!/usr/bin/env python3
"""What one uTLB faults on between two replays when its SM's demand is known: cuda_tracer/utlb_burst.sh's
recordings (cuda_tracer/programs/utlb_burst_probe: every thread reads a page of its own in a 2 MiB block of
its own, all at once; demand per SM = warps x CTAs per SM x 32 pages).

Per case and events pass, from the fault entries the driver serviced (uvm_events.bin, cuda_tracer/src/
uvm_events.h), per (MMU client, round), a round being from one replay's GPU time to the next (the first
round: from the first entry): the distinct pages it faulted on (median / 90th percentile / most), those of
them written within 3 us after the round's replay, and the pages with two or more entries in one batch.
The first round is reported apart (the kernel's first misses, no replay before them).

With --uvmsim, the model's batches beside the driver's, per case: the probe as a generated trace (`uvmsim
generate --pattern seq --threads-per-cta 32W --page-stride 512 --host-init`, S x C CTAs) run under --config
with gpu.sm_count S and any --set; batches, and per batch the fault entries, distinct pages and uTLBs (MMU
clients) with an entry (medians), and the entries of the batch read after the first replay.

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


def waves(faults, replays):
    """Per replay but the last with 65 entries written after it and before the next: the delay to the first
    (ns) and the mean spacing of the 64 after it (ns; the clock's tick is 32 ns)."""
    times = [f[0] for f in faults]
    out = []
    for r, nxt in zip(replays, replays[1:]):
        i = bisect.bisect_right(times, r)
        run = [t for t in times[i:i + 65] if t < nxt]
        if len(run) == 65:
            out.append((run[0] - r, (run[-1] - run[0]) / 64))
    return out


def model_batches(uvmsim, config, sets, sms, warps, per_sm):
    """The model's batches of the probe's kernel (kernel 0 of the generated trace), as driver_batches."""
    pages = sms * per_sm * warps * 32
    with tempfile.TemporaryDirectory() as d:
        trace, log = os.path.join(d, "probe.uvmt"), os.path.join(d, "batches.txt")
        subprocess.run([uvmsim, "generate", "--pattern", "seq", "--bytes", str(pages << 21), "--threads-per-cta",
                        str(warps * 32), "--page-stride", "512", "--host-init", "--out", trace],
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


def compare(files, uvmsim, config, sets):
    """Markdown rows: per case, each events pass's batches and the model's."""
    lines = ["| case | source | batches | entries per batch | pages per batch | uTLBs per batch | "
             "second batch's entries |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    cases = defaultdict(list)
    for f in files:
        m = re.match(r"sm(\d+)_w(\d+)_c(\d+)\.events\.(\d+)\.bin$", os.path.basename(f))
        if m:
            cases[tuple(int(x) for x in m.groups()[:3])].append((m.group(4), f))
    if not cases:
        sys.exit("--uvmsim needs utlb_burst.sh's files (sm<S>_w<W>_c<C>.events.<i>.bin)")
    for (sms, warps, per_sm), runs in sorted(cases.items()):
        case = "sm%d_w%d_c%d" % (sms, warps, per_sm)
        for run, f in sorted(runs):
            lines.append("| %s | driver, events.%s | %s |" % (case, run, summary(driver_batches(entries(f)[0]))))
        lines.append("| %s | model | %s |" % (case, summary(model_batches(uvmsim, config, sets, sms, warps,
                                                                            per_sm))))
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
    lines = ["Per MMU client and round (replay to replay) of the probe's kernel, the driver's entries:", "",
             "| case | pass | clients | batches | first round: pages per client | later rounds: pages per client | "
             "of them within 3 us of the replay | pages twice in a batch |",
             "| --- | --- | ---: | ---: | --- | --- | --- | ---: |"]
    for f in files:
        faults, replays = entries(f)
        per, twice = rounds(faults, replays)
        first = [len(c[0]) for (r, _), c in per.items() if r == 0]
        later = [len(c[0]) for (r, _), c in per.items() if r > 0]
        at = [len(c[1]) for (r, _), c in per.items() if r > 0]
        case, run = case_of(f)
        lines.append("| %s | events%s | %d | %d | %s | %s | %s | %d |" % (
            case, run, len({c for _, c, _, _ in faults}), len({b for *_, b in faults}), q(first),
            q(later), q(at), twice))
    lines += ["", "When the entries after a replay are written (GPU clock), per case and events pass: the delay from "
              "a replay to the first entry after it and the mean spacing of the 64 after that, median over the "
              "replays with 65 entries before the next (10th and 90th percentiles):", "",
              "| case | pass | replays | first entry after the replay (us) | spacing (ns) |", "| --- | --- | ---: | --- | --- |"]
    for f in files:
        w = waves(*entries(f))
        pct = lambda v, p: sorted(v)[int(p * (len(v) - 1))]
        d, sp = [x[0] / 1000 for x in w], [x[1] for x in w]
        lines.append("| %s | events%s | %d | %s | %s |" % (
            case_of(f)[0], case_of(f)[1], len(w),
            "%.2f (%.2f, %.2f)" % (statistics.median(d), pct(d, .1), pct(d, .9)) if d else "-",
            "%.0f (%.0f, %.0f)" % (statistics.median(sp), pct(sp, .1), pct(sp, .9)) if sp else "-"))
    if a.uvmsim:
        lines += ["", "The model's batches beside the driver's (`--uvmsim`, config `%s`%s):" % (
            os.path.relpath(a.config), "".join(" --set " + kv for kv in a.set)), ""]
        lines += compare(files, a.uvmsim, a.config, a.set)
    text = "\n".join(lines) + "\n"
    if a.report:
        with open(a.report, "w") as out:
            out.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
