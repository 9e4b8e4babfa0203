#!/usr/bin/env python3
"""Summarise the events pass's uvm_events.bin (cuda_tracer/src/uvm_events.h): what the UVM driver's event
queue reported, one JSON line per file.

  kinds             events of each type received
  dropped           events of each type the driver dropped because the ring was full (its own count)
  batches           distinct batch ids among the GPU fault entries
  entries_per_batch median, p90 and max of fault entries per batch (every instance the driver reports,
                    duplicates included), and distinct pages per batch beside
  blocks_per_batch  median and p90 of distinct 2 MiB VA blocks per batch
  batch_us          median and p90 of a batch's duration: its replay's GPU time minus its earliest entry's
                    GPU time (batches without a replay event are counted in batches_without_replay)
  migrated          bytes migrated per cause (user, coherence, prefetch, eviction, access_counters)
  evicted_bytes, thrashing, throttling_start, fault_buffer_overflows

  cuda_tracer/uvm_events.py OUT/events/uvm_events.bin [...]
"""
import json
import statistics
import struct
import sys

HEADER = struct.Struct("<8sII QQQ 96s")
ENTRY = 72
TYPES_ALL = 64
KIND = {1: "cpu_fault", 2: "migration", 3: "gpu_fault", 4: "replay", 5: "fault_buffer_overflow", 6: "fatal_fault",
        7: "read_duplicate", 8: "read_duplicate_invalidate", 9: "page_size_change", 10: "thrashing",
        11: "throttling_start", 12: "throttling_end", 13: "map_remote", 14: "eviction"}
CAUSE = {1: "user", 2: "coherence", 3: "prefetch", 4: "eviction", 5: "access_counters"}


def percentile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0


def gpu_fault(data, off):
    """The GPU fault entry (kind 3) at `off`: (gpc, MMU client, address, cpu_ns, gpu_ns, batch)."""
    return struct.unpack_from("<HH", data, off + 4) + struct.unpack_from("<QQQI", data, off + 8)


def replay(data, off):
    """The replay entry (kind 4) at `off`: (batch, cpu_ns, gpu_ns)."""
    return struct.unpack_from("<IQQ", data, off + 4)


def load(path):
    """One uvm_events.bin: (its bytes, the offset of its first entry, its entry count, the dropped count per
    type, the reader's flushes), or the recording's own error note (a str) where the events pass failed. A
    malformed file ends the program with one line naming it."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER.size:
        sys.exit("%s: %d bytes, shorter than the header" % (path, len(data)))
    magic, entry_bytes, flags, _, _, _, note = HEADER.unpack_from(data, 0)
    if magic != b"UVMTDRV1" or entry_bytes != ENTRY:
        sys.exit("%s: not a uvm_events.bin (magic %r, entry bytes %d)" % (path, magic, entry_bytes))
    if flags & 1:
        return note.rstrip(b"\0").decode()
    trailer = 8 + 8 * TYPES_ALL + 24
    body = len(data) - HEADER.size - trailer
    if body < 0 or body % ENTRY:
        sys.exit("%s: %d bytes of entries, not a whole number of %d-byte entries" % (path, body, ENTRY))
    count = body // ENTRY
    t = struct.unpack_from("<Q%dQQQQ" % TYPES_ALL, data, HEADER.size + body)
    if t[0] != count:
        sys.exit("%s: the trailer counts %d entries, the file holds %d" % (path, t[0], count))
    dropped, flushes = t[1:1 + TYPES_ALL], {"ok": t[-3], "failed": t[-2], "every_us": t[-1] / 1e3}
    return data, HEADER.size, count, dropped, flushes


def read(path):
    loaded = load(path)
    if isinstance(loaded, str):
        return {"file": path, "error": loaded}
    return summarise(path, *loaded)


def summarise(path, data, at, count, dropped, flushes):
    kinds, batches, replays, migrated = {}, {}, {}, {}
    evicted = thrashing = 0
    for i in range(count):
        off = at + i * ENTRY
        kind = data[off]
        kinds[KIND.get(kind, str(kind))] = kinds.get(KIND.get(kind, str(kind)), 0) + 1
        if kind == 3:
            _, _, address, _, gpu_ns, batch = gpu_fault(data, off)
            b = batches.setdefault(batch, {"entries": 0, "pages": set(), "blocks": set(), "first_gpu": gpu_ns})
            b["entries"] += 1
            b["pages"].add(address >> 12)
            b["blocks"].add(address >> 21)
            b["first_gpu"] = min(b["first_gpu"], gpu_ns)
        elif kind == 4:
            batch, _, gpu_ns = replay(data, off)
            replays[batch] = gpu_ns
        elif kind == 2:
            cause = data[off + 1]
            nbytes = struct.unpack_from("<Q", data, off + 24)[0]
            migrated[CAUSE.get(cause, str(cause))] = migrated.get(CAUSE.get(cause, str(cause)), 0) + nbytes
        elif kind == 14:
            evicted += struct.unpack_from("<Q", data, off + 24)[0]
        elif kind == 10:
            thrashing += 1
    entries = [b["entries"] for b in batches.values()]
    pages = [len(b["pages"]) for b in batches.values()]
    blocks = [len(b["blocks"]) for b in batches.values()]
    durations = [(replays[k] - b["first_gpu"]) / 1e3 for k, b in batches.items() if k in replays]
    return {
        "file": path, "entries": count, "kinds": kinds, "flushes": flushes,
        "dropped": {KIND.get(k, str(k)): n for k, n in enumerate(dropped) if n},
        "batches": len(batches), "replays": len(replays),
        "batches_without_replay": sum(1 for k in batches if k not in replays),
        "entries_per_batch": {"median": statistics.median(entries) if entries else 0,
                              "p90": percentile(entries, 0.9), "max": max(entries, default=0)},
        "pages_per_batch": {"median": statistics.median(pages) if pages else 0, "p90": percentile(pages, 0.9)},
        "blocks_per_batch": {"median": statistics.median(blocks) if blocks else 0,
                             "p90": percentile(blocks, 0.9)},
        "batch_us": {"median": round(statistics.median(durations), 2) if durations else 0,
                     "p90": round(percentile(durations, 0.9), 2)},
        "migrated": migrated, "evicted_bytes": evicted, "thrashing": thrashing,
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        print(json.dumps(read(path)))


if __name__ == "__main__":
    main()
