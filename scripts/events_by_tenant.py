#!/usr/bin/env python3
"""The UVM driver's fault batches per tenant, from an events pass of uvm_serve (issue 23, item 6): a fault
belongs to the tenant whose managed range (weights or activations, from the log's summary line) holds its
address; a tenant's batches are the distinct batch ids among its faults (a batch holding two tenants'
faults counts for both, as `uvmsim` counts stats.tenants[].batches). Prints one JSON line.

  scripts/events_by_tenant.py SERVE_LOG.jsonl EVENTS_DIR/uvm_events.bin
"""
import bisect
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda_tracer"))
import uvm_events  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    log, events = sys.argv[1:]
    summary = None
    with open(log) as f:
        for line in f:
            if line.strip():
                j = json.loads(line)
                if "program" in j:
                    summary = j
    if summary is None or "tenants" not in summary:
        sys.exit(f"{log}: no summary line with the tenants' ranges")
    ranges = sorted((start, start + size, t["name"]) for t in summary["tenants"]
                    for start, size in (t["weights"], t["activations"]))
    starts = [r[0] for r in ranges]
    loaded = uvm_events.load(events)
    if isinstance(loaded, str):
        sys.exit(f"{events}: the events pass failed: {loaded}")
    data, at, count, dropped, _ = loaded
    per = {t["name"]: {"sms": t["sms"], "batches": set(), "faults": 0} for t in summary["tenants"]}
    other = set()
    for i in range(count):
        off = at + i * uvm_events.ENTRY
        if data[off] != 3:
            continue
        _, _, address, _, _, batch = uvm_events.gpu_fault(data, off)
        k = bisect.bisect_right(starts, address) - 1
        if k >= 0 and address < ranges[k][1]:
            per[ranges[k][2]]["batches"].add(batch)
            per[ranges[k][2]]["faults"] += 1
        else:
            other.add(batch)
    print(json.dumps({"log": os.path.basename(log),
                      "dropped": {uvm_events.KIND.get(k, str(k)): n for k, n in enumerate(dropped) if n},
                      "batches_outside_tenants": len(other),
                      "tenants": {n: {"sms": v["sms"], "batches": len(v["batches"]), "faults": v["faults"]}
                                  for n, v in per.items()}}))


if __name__ == "__main__":
    main()
