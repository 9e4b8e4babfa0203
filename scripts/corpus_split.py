#!/usr/bin/env python3
"""Writes traces/corpus/split.json: the check set that calibration never reads (`uvmsim calibrate` refuses
every trace listed there, by content hash, wherever it lies). Whole workloads are held out, all their SM
partitions with them:
  - the H100 model traces (runtime_*, torch_*): sim/configs/h100.json was fitted on the micro-workloads and
    the GEMM only (results/calibration.md);
  - of the H200 partition traces (traces/corpus/h200/), the random and shared-page micro-workloads and the
    runtime's and PyTorch's ResNet-18, PyTorch's MobileNetV2 (recorded after the H200's refit), and of the
    runtime's four layer kernels on their own the depthwise convolution and the 4096-wide linear layer: seven
    of sixteen.
Run after adding traces: scripts/corpus_split.py --uvmsim build/release/uvmsim
"""
import argparse
import functools
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "traces", "corpus")
CHECK = [r"^runtime_", r"^torch_", r"^h200/micro_random_64m_sm\d+$", r"^h200/micro_shared_64m_sm\d+$",
         r"^h200/runtime_resnet18_b1_sm\d+$", r"^h200/torch_resnet18_b1_sm\d+$",
         r"^h200/torch_mobilenet_v2_b1_sm\d+$", r"^h200/runtime_dwconv3x3_b1_sm\d+$",
         r"^h200/runtime_linear4096_b1_sm\d+$"]


@functools.lru_cache(maxsize=None)
def check_set():
    """The traces split.json holds out, as corpus-relative names without ".uvmt" ("h200/micro_random_64m_sm8",
    "torch_vgg16_b1"); read once."""
    with open(os.path.join(CORPUS, "split.json")) as f:
        return frozenset(c["trace"][:-5] for c in json.load(f)["check"])


def workload(name):
    return re.sub(r"_sm\d+$", "", name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uvmsim", required=True)
    a = ap.parse_args()
    names = []
    for d, _, files in os.walk(CORPUS):
        for f in files:
            if f.endswith(".uvmt"):
                names.append(os.path.relpath(os.path.join(d, f), CORPUS)[:-5])
    names.sort()
    check = []
    for n in names:
        if not any(re.search(p, n) for p in CHECK):
            continue
        info = subprocess.run([a.uvmsim, "trace", "info", os.path.join(CORPUS, n + ".uvmt")], check=True,
                              capture_output=True, text=True).stdout
        check.append({"trace": n + ".uvmt", "workload": workload(n),
                      "hash": re.search(r"content hash ([0-9a-f]{16})", info).group(1)})
    workloads = sorted({workload(n) for n in names})
    held = sorted({c["workload"] for c in check})
    out = {"description": "the check set: uvmsim calibrate refuses these traces (by content hash); "
                          "scripts/corpus_split.py writes this file",
           "workloads": len(workloads), "check_workloads": held, "check": check}
    with open(os.path.join(CORPUS, "split.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("%d of %d workloads held out (%d traces)" % (len(held), len(workloads), len(check)))


if __name__ == "__main__":
    main()
