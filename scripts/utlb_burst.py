#!/usr/bin/env python3
"""What one uTLB faults on between two replays when its SM's demand is known: cuda_tracer/utlb_burst.sh's
recordings (cuda_tracer/programs/utlb_burst_probe: every thread reads a page of its own in a 2 MiB block of
its own, all at once; demand per SM = warps x CTAs per SM x 32 pages).

Per case and events pass, from the fault entries the driver serviced (uvm_events.bin, cuda_tracer/src/
uvm_events.h), per (MMU client, round), a round being from one replay's GPU time to the next (the first
round: from the first entry): the distinct pages it faulted on (median / 90th percentile / most), those of
them written within 3 us after the round's replay, and the pages with two or more entries in one batch.
The first round is reported apart (the kernel's first misses, no replay before them).

  scripts/utlb_burst.py DIR [--report FILE]     (DIR: the unpacked burst.tar.gz, or any uvm_events.bin files)
"""
import argparse
import bisect
import glob
import os
import sys
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--report")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "**", "*.events.*.bin"), recursive=True) +
                   glob.glob(os.path.join(a.dir, "**", "uvm_events.bin"), recursive=True))
    if not files:
        sys.exit("%s: no uvm_events.bin files" % a.dir)
    lines = ["| case | pass | clients | batches | first round: pages per client | later rounds: pages per client | "
             "of them within 3 us of the replay | pages twice in a batch |",
             "| --- | --- | ---: | ---: | --- | --- | --- | ---: |"]
    for f in files:
        faults, replays = entries(f)
        per, twice = rounds(faults, replays)
        first = [len(c[0]) for (r, _), c in per.items() if r == 0]
        later = [len(c[0]) for (r, _), c in per.items() if r > 0]
        at = [len(c[1]) for (r, _), c in per.items() if r > 0]
        if os.path.basename(f) == "uvm_events.bin":  # a recording's own layout: <case>/events.<i>/
            case, run = os.path.basename(os.path.dirname(os.path.dirname(f))), os.path.basename(
                os.path.dirname(f))[len("events"):]
        else:  # utlb_burst.sh's archive: <case>.events.<i>.bin
            case, _, run = os.path.basename(f)[:-4].rpartition(".events")
        lines.append("| %s | events%s | %d | %d | %s | %s | %s | %d |" % (
            case, run, len({c for _, c, _, _ in faults}), len({b for *_, b in faults}), q(first),
            q(later), q(at), twice))
    text = "\n".join(lines) + "\n"
    if a.report:
        with open(a.report, "w") as out:
            out.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
