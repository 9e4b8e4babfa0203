#!/usr/bin/env python3
"""Where a kernel's CTAs go beside another kernel's: the GPU's placements (cuda_tracer/placement.sh) against
the simulator's two dispatch rules (sim/gpu/cta_scheduler.cpp), applied to each recorded case's busy SMs.

- rotation (gpu.dispatch_by_tpc 0): passes over the SMs in index order from where the holder's dispatch
  ended, one CTA to each SM with room per pass;
- by TPC (gpu.dispatch_by_tpc 1): each CTA to the TPC (SMs 2t, 2t+1) with the fewest resident CTAs, ties
  in rotation from the TPC after the last one given a CTA, on its SM with fewer (ties: its first).

The holder holds one CTA on each busy SM (its other CTAs have exited); room per SM is the hardware's
(2048 threads, 32 CTAs). Prints, per case, the CTAs on busy SMs and the most on one free SM and on one busy
SM: recorded (every repetition and machine agreeing, else all values) and each rule's.

  python3 scripts/placement_check.py cuda_tracer/recordings/placement_h100*.jsonl [--report results/placement_cases.md]
"""
import argparse
import collections
import json

SMS, THREADS, CTAS = 132, 2048, 32


def place(rule, busy, holder_threads, b_ctas, b_threads):
    threads = [holder_threads if s in busy else 0 for s in range(SMS)]
    ctas = [1 if s in busy else 0 for s in range(SMS)]
    got = [0] * SMS

    def fits(s):
        return threads[s] + b_threads <= THREADS and ctas[s] + 1 <= CTAS

    def put(s):
        threads[s] += b_threads
        ctas[s] += 1
        got[s] += 1

    left = b_ctas
    if rule == "rotation":
        nxt = 0
        while left:
            placed = False
            start = nxt
            for i in range(SMS):
                s = (start + i) % SMS
                if left and fits(s):
                    put(s)
                    left -= 1
                    placed = True
                    nxt = (s + 1) % SMS
            if not placed:
                break
    else:
        tpcs = SMS // 2
        nxt = 0
        while left:
            start = nxt
            cands = [t for t in range(tpcs) if fits(2 * t) or fits(2 * t + 1)]
            if not cands:
                break
            t = min(cands, key=lambda t: (ctas[2 * t] + ctas[2 * t + 1], (t - start) % tpcs))
            a, b = 2 * t, 2 * t + 1
            if ctas[b] < ctas[a]:
                a, b = b, a
            put(a if fits(a) else b)
            left -= 1
            nxt = (t + 1) % tpcs
    on_busy = sum(got[s] for s in busy)
    return on_busy, max([got[s] for s in range(SMS) if s not in busy] or [0]), max([got[s] for s in busy] or [0])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recordings", nargs="+")
    ap.add_argument("--report")
    a = ap.parse_args()
    cases = collections.OrderedDict()
    for path in a.recordings:
        for line in open(path):
            d = json.loads(line)
            if "case" not in d:
                continue
            got = collections.Counter(d["b_sm"])
            busy = set(d["busy"])
            rec = (d["b_on_busy"], max([v for k, v in got.items() if k not in busy] or [0]),
                   max([v for k, v in got.items() if k in busy] or [0]))
            c = cases.setdefault(d["case"], {"d": d, "recorded": set(), "runs": 0})
            c["recorded"].add(rec)
            c["runs"] += 1
    lines = ["| case | holder | B CTAs | busy SMs | runs | recorded: on busy / most on a free SM / on a busy SM "
             "| rotation | by TPC |", "| --- | --- | ---: | ---: | ---: | --- | --- | --- |"]
    agree = {"rotation": 0, "tpc": 0}
    for name, c in cases.items():
        d = c["d"]
        busy = set(d["busy"])
        pred = {r: place(r, busy, d.get("a_threads", 32), d["b_ctas"], d.get("b_threads", 128))
                for r in ("rotation", "tpc")}
        rec = sorted(c["recorded"])
        for r in pred:
            agree[r] += len(rec) == 1 and pred[r] == rec[0]
        fmt = lambda v: f"{v[0]} / {v[1]} / {v[2]}"
        lines.append(f"| {name} | {d.get('a_ctas', SMS)} x {d.get('a_threads', 32)} threads | {d['b_ctas']} "
                     f"| {len(busy)} | {c['runs']} | " + ", ".join(fmt(v) for v in rec)
                     + f" | {fmt(pred['rotation'])} | {fmt(pred['tpc'])} |")
    lines += ["", f"Cases reproduced exactly: rotation {agree['rotation']} of {len(cases)}, by TPC "
              f"{agree['tpc']} of {len(cases)}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.report:
        open(a.report, "w").write(text)


if __name__ == "__main__":
    main()
