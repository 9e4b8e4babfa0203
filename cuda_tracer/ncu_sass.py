#!/usr/bin/env python3
"""How many global loads a kernel's warps keep in flight while they wait, from its SASS and execution counts.

Nsight Compute's source page (`ncu --section SourceCounters --page source --print-source sass --csv`, what
`MODE=ncu_source cuda_tracer/sm_share.sh` runs) lists every SASS instruction of every profiled launch with
the number of times warps executed it. A warp that issues several loads before it uses the first one's data
waits with all of them in flight (an unrolled or vectorised element-wise kernel: PyTorch's add loads both
inputs' float4s, then adds); one that uses each load's data before the next load waits with one. The
SM-sharing model needs the bytes a waiting warp keeps in flight (sim/gpu/sm_share.h), so:

  loads in flight = executed global loads / executed waits

where walking the SASS in address order, a wait is an instruction that reads (or overwrites) a register a
load issued since the last wait writes: the warp stalls there with every load issued since the last wait in
flight, and loads issued together return together, so after it none is pending (a second use right after
the first costs a few cycles, not a memory latency: PyTorch's add issues four float4 loads, then adds, a
wait with four in flight). A backward branch or an EXIT with loads pending waits for them all (a loop whose
loads are used at the top of its next turn). LDGSTS (global to shared) are waited for by DEPBAR. The figure
is per kernel, weighted by execution counts; 1 when a kernel has no global load.

  ncu_sass.py reduce SRC.csv OUT.jsonl.gz   keep each launch's name and its executed instructions'
                                            addresses, counts and SASS
  ncu_sass.py show OUT.jsonl.gz             print each launch's loads in flight
"""
import csv
import gzip
import json
import re
import sys

REG = re.compile(r"\bR(\d+)(?:\.64)?\b")


def reduce(src, out):
    """The source page's CSV (the profiled program's own lines mixed in) to one JSON line per launch."""
    launches = []
    head = None
    with open(src, newline="") as f:
        rows = csv.reader(l for l in f if l.startswith('"'))
        for r in rows:
            if r and r[0] == "Kernel Name":
                launches.append({"launch": len(launches), "kernel": r[1], "sass": []})
                head = None
            elif r and r[0] == "Address":
                head = {k: i for i, k in enumerate(r)}
            elif head is not None and launches:
                executed = int(float(r[head["Instructions Executed"]] or 0))
                if executed:  # never executed: no load, no wait
                    launches[-1]["sass"].append([r[head["Address"]], executed, r[head["Source"]].strip()])
    if not launches:
        sys.exit("%s: no kernel in the source page" % src)
    with gzip.open(out, "wt") as f:
        for l in launches:
            f.write(json.dumps(l) + "\n")


def registers(operand):
    """Registers an operand names: R6.64 is R6 and R7."""
    regs = set()
    for m in REG.finditer(operand):
        r = int(m.group(1))
        regs.add(r)
        if m.group(0).endswith(".64"):
            regs.add(r + 1)
    return regs


def split(text):
    """(predicate, opcode, operands) of one SASS line."""
    text = text.rstrip(" ;")
    pred = ""
    if text.startswith("@"):
        pred, text = text.split(None, 1)
    op, _, rest = text.partition(" ")
    operands = [o.strip() for o in rest.split(",")] if rest else []
    return pred, op, operands


def width(op):
    for bits, n in ((".128", 4), (".64", 2)):
        if bits in op:
            return n
    return 1


def loads_in_flight(sass):
    """Executed global loads over executed waits (see the module's description); 1 without loads."""
    loads = waits = 0.0
    pending = []  # registers of each load issued since the last wait
    async_pending = 0
    for addr, executed, text in sass:
        if not executed:  # a path no warp took waits for nothing
            continue
        pred, op, operands = split(text)
        base = op.split(".")[0]
        if base == "LDGSTS":
            loads += executed
            async_pending += executed
            continue
        if base == "DEPBAR" and async_pending:
            waits += executed
            async_pending = 0
            continue
        dest = registers(operands[0]) if operands and not op.startswith("ST") else set()
        reads = set()
        for o in operands[1:] if dest else operands:
            reads |= registers(o)
        if pred:
            reads |= registers(pred)
        if base == "BRA" or base == "EXIT":
            target = re.search(r"0x([0-9a-f]+)", text)
            back = base == "EXIT" or (target and int(target.group(1), 16) <= int(addr, 16))
            if back and pending:
                waits += executed
                pending = []
            continue
        if any(regs & (reads | dest) for regs in pending):
            waits += executed
            pending = []
        if base in ("LDG", "LD") and dest:  # global and generic loads
            first = min(dest)
            loads += executed
            pending.append({first + i for i in range(width(op))})
    if loads == 0 or waits == 0:
        return 1.0
    return max(1.0, loads / waits)


def read(path):
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "reduce":
        reduce(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "show":
        for l in read(sys.argv[2]):
            print("%3d %5.2f %s" % (l["launch"], loads_in_flight(l["sass"]), l["kernel"][:100]))
    else:
        sys.exit(__doc__.split("\n\n")[-1])


if __name__ == "__main__":
    main()
