#!/usr/bin/python3
"""Validation of the simulator on every recorded trace of the corpus, and its ratchet.

  scripts/validation.py --uvmsim build/release/uvmsim --update   # rewrite results/validation.{json,md} and the plot
  scripts/validation.py --uvmsim build/release/uvmsim --check    # CI: fail if an error grew beyond its slack

Runs `uvmsim validate --trace T --config sim/configs/h100.json --json` on each traces/corpus/*.uvmt. The
micro-workloads and the GEMM are what sim/configs/h100.json is calibrated on; the model traces (runtime_*,
torch_*) are held out. Then, for the traces traces/corpus/machines.json names with their recording machine,
the same under that machine's own fit (its micro-workloads measured in the same device call: "same
machine"). --check compares every scored error with results/validation.json, the last deliberate baseline
(only --update writes it, and a re-baseline's commit names what grew and why): an error may grow by at most
max(1 point, 10% of the baseline's error) (a point: 0.01 of a relative error, 1 of a share in points or of an
absolute error), and no set's mean error may grow (per quantity, over the traces scored in both: the fit
set, the check set of traces/corpus/split.json, the same-machine runs); a quantity scored there must still
be scored.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

from corpus_split import check_set  # traces/corpus/split.json's held-out traces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "traces", "corpus")
MACHINES = os.path.join(CORPUS, "machines.json")
BASELINE = os.path.join(ROOT, "results", "validation.json")
TABLE = os.path.join(ROOT, "results", "validation.md")
PLOT = os.path.join(ROOT, "results", "validation_overhead.png")
KEYS = ["e2e_ms", "kernel_ms", "paging_overhead_ms", "htod_mib", "dtoh_mib", "prefetch_share_pct", "cpu_faults",
        "htod_copies", "htod_copy_groups"]
SLACK = 1e-9  # the simulator is deterministic: same inputs, same numbers


def allowed_growth(key, base):
    """How much an error may grow over the baseline's: max(1 point, 10% of it)."""
    point = 1.0 if key.endswith("_abs") or key == "prefetch_share_pct" else 0.01
    return max(point, 0.10 * abs(base))


def set_of(key):
    """Which set a run belongs to: same-machine, check (split.json) or fit."""
    if " @ " in key:
        return "same machine"
    return "check" if key in check_set() else "fit"

ANALYSIS = """## What cannot be validated on this hardware

- **Eviction and thrashing.** The GPU must never be oversubscribed (it is shared; the tracer refuses
  such runs), so no recording exercises eviction, thrashing detection, throttling or pinning. Those parts
  of the model rest on the driver's code (`uvm_gpu_replayable_faults.c` of the open GPU kernel modules) and published figures only.
- **Quantities the counter pass lost.** CUPTI's unified-memory records are lost under heavy fault load
  with a dropped count of 0; a stream whose records hold under 98% of the page moves the trace implies
  is not scored (the `-` above), and the prefetch share is scored only where HtoD is complete. The share
  counts pages, not bytes (`traces/coverage.h`): `torch_mobilenet_v2_b8` recorded 99.8% of its expected
  HtoD bytes, but 877 of the expected pages have no record (its last fault groups follow the stream's last
  HtoD record: the end of the stream was lost) and 544 untouched pages the prefetcher took along padded the
  sum; 97.7% of its moves were recorded, so its HtoD is not scored (it was +2.3%, the one miss of the HtoD
  target). Timing comes from the timing pass, which runs without the counters.
- **Machines and runs.** H100 machines differ by up to 30% and more, and runs on one machine by 10-50%.
  The model traces (`runtime_*`, and `torch_*` but for the two-process one) carry the median of 5 timing
  runs and of 3 (runtime) or 1 (PyTorch) resident runs on one H100 each (`uvmsim trace retime`,
  `cuda_tracer/retime_corpus.sh`, 2026-11-24; every run's summed kernel time in
  `cuda_tracer/recordings/retime_h100.jsonl`), and the micro-workloads were timed on the same GPU in the
  same session (`traces/corpus/machines.json`). Those two machines ran the table's sequential 64 MiB first
  touch in 7.8 and 7.1 ms (the table: 13.7) and its zero-fill 256 MiB in 27.1 and 16.0 ms (33.1), so under
  `h100.json` (the table's fit) their traces' errors include how far each machine is from the table's.
  "Same machine" above validates each under its own machine's fit; that is the model's error. The micro
  traces and the two-process trace are single cold runs on machines whose micro-workloads were not timed.
- **End to end for prefetched micro-workloads** spans only the two resident kernels after the prefetch
  (tens of microseconds), so its relative error is large and says little.

## Where the targets were missed, and why (the history of the figures above)

- **History of the default.** Before the recorded micro corpus (with the tiled GEMM) was in the fit,
  every fault entry cost `driver.fault_ns` and each service paid a 99.5 us wake-up: paging overhead mean
  +211%, worst +601%. With `driver.duplicate_fault_ns` separate and the GEMM in the fit: mean 47.4%,
  worst 127.3%, end to end 16.3%, prefetch share 11.4 / 31.1 points. The default now has fault arrival
  jitter on (1 us, runs of 3, cap 32; `sim/MODEL.md`, `results/calibration.md`), refitted to the table and
  the micro traces: the figures above (paging overhead mean 24.2%, worst 57.2%; prefetch share 6.4 / 15.0
  points; end to end 16.3%). The baseline of this file was re-recorded with that change (99 scored errors
  grew, 220 shrank).
- **Why jitter.** Without it every miss reached the simulated fault buffer at once in dispatch and address
  order, so a kernel whose CTA i touches page i (PyTorch's `FillFunctor` and implicit-GEMM convolutions;
  `micro_dense*`, recorded with `uvm_micro --threads-per-cta 1` and `OUT=$OUT SET=dense
  cuda_tracer/record_micro.sh`) got batches of 256 consecutive pages, half a block, just under the
  prefetcher's 51% threshold: nothing was prefetched, and those kernels were 1.5 to 4 times too slow. The
  H100 prefetched 86 to 91% of the bytes for 1 to 256 pages per CTA. With misses interleaved at random
  the model prefetches 88 to 94% for every pages-per-CTA, and its HtoD copy counts for those patterns
  are 10 to 46% short of the H100's, from 44 to 98% short without jitter (below).
- **Re-timed and repaired traces (2026-11-24).** A single cold run was too noisy to validate against:
  fresh-process runs of one model differed by up to 3x in summed kernel time, and the old
  `runtime_resnet18_b4` run (50.5 ms of paging overhead) was 2.5 times the new median (20.4 ms). The
  native-runtime traces now carry median runs (above). The PyTorch traces repeated the host gap of a call
  split per tensor piece for every piece (the converter's bug, fixed; the corpus repaired with `uvmsim trace
  recode --repair-split-call-gaps`), so the simulated host waited up to 107 ms too long (`torch_vgg16_b8`):
  their end-to-end error fell from mean 10.4% to 3.9%, all 12 within 10%. With both, against the figures
  before: paging overhead mean 24.2% -> 24.9%, worst 57.2% -> 88.3%; end to end 16.3% -> 12.2%. The
  baseline of this file was re-recorded with that data.
- **Same machine (2026-11-24, before the flush change below).** Fitted to its own machine's micro-workloads (the table's rows plus first
  touches and zero-fills of 4 KiB to 8 MiB; `results/calibration.md`), the model predicts that machine's
  held-out traces' paging overhead within 12.7% on average (26 traces), end to end within 8.2%; the
  native-runtime traces within 15.7% (worst ResNet-50 b8 -37.0%), the PyTorch ones within 8.5% (worst the
  four-model mix -19.3%, then ResNet-50 b1 +15.5%). Under `h100.json` the same traces are off by 24.8% and
  21.4% on average. With the two-process trace under `h100.json`, all 27: 13.1% mean, 37.0% worst
  (ResNet-50 b8; the two-process trace -25.4%, below), end to end 7.9%. HtoD bytes are within 0.8% on
  every complete stream. Missed there: the worst paging overhead (30%) and the prefetch share (5.3 points
  mean; MobileNetV2 at batch 1 is 11 to 12 points low in both frameworks).
- **The flush stops at the cached PUT (2026-11-24; the tables above).** With BATCH_FLUSH the driver
  re-reads PUT before its flush only when more than 50% of the batch were duplicates
  (`uvm_perf_fault_replay_update_put_ratio`, `uvm_gpu_replayable_faults.c`); otherwise the flush stops
  at the PUT read at the fetch and faults that arrived during the service wait for the next batch. The
  model flushed at the fetch instead, everything that had arrived by the batch's end, and never faults
  raised during the service; now the flush is an event after the service (`sim/MODEL.md`; test
  `Simulator.FlushStopsAtTheCachedPutUnlessTheBatchWasMostlyDuplicates`). The micro-workloads favour it:
  under the old fits the machines' losses fell from 1.0354 to 0.8998 (GPU-6f7b0be9) and 1.2314 to 1.1219
  (GPU-cf9f5a0b) with no refit, and refitted (two passes of 300 iterations each) to 0.6617 and 1.0676 (rms
  log error 0.140 and 0.177), with `gpu.fault_latency_ns` at its 20 us bound on both; `h100.json`
  refitted with the micro traces (150 iterations): 0.40396 (was 0.404). On the held-out traces, same
  machine: prefetch share 5.3 -> 4.2 points on average (MobileNetV2 b8 -6.3 -> -1.0, b4 -5.6 -> -2.6),
  paging overhead mean 12.7% -> 13.1%, worst 37.0% -> 46.9% (ResNet-18 b1 +32.4% -> +46.9%; ResNet-50 b8
  -37.0% -> -25.8%; MobileNetV2 b1 -24.2% -> -7.3%; the runtime traces 17.1% mean, too dear where they
  were too cheap, AlexNet +25 to +31%; PyTorch 7.7%), end to end 8.2% either way. Before the refits (the
  old fits under the new flush) the same traces were 11.8% / 34.2% with 4.5 points; the figures kept are
  the refitted configs', as the procedure says. Against the mean of four machines the runtime traces are
  14.2% / 34.5% under GPU-6f7b0be9's refit (12.6% / 27.3% before). The other machine configs
  (`h100_c85c9a1b`, `h100_20e0b451`, `h100_two_machines`, `h100_jitter`) were fitted before the change and
  still reproduce their rows within the tests' bounds; they were not refitted.
- **Copies are pushed per VA block (2026-11-24; the tables above).** After the flush change the worst
  trace was ResNet-18 b1 (+46.9%), nearly all of it in its seven late convolutions: 8 or 16 CTAs reading
  64 rows of 9 to 18 KiB of CPU-written weights, a fault every row and two copies per fault (the faulted
  page, then the prefetched run to the next), each copy paying the 4.7 us setup on a free engine. The
  driver pushes one VA block's migration to one channel, and the H100's counter pass shows a block's
  copies chained one after another; `cuda_tracer/programs/conv_progress_probe.cu` shows every CTA of the
  layer4 convolution waiting at its first chunk until the whole weight tensor had moved (about 1 ms, 7 of 8
  CTAs to the same moment) and never again (`results/calibration.md`, "Copies are pushed per VA block").
  The model now pays the setup once per push and `pcie.copy_ns` per copy in it (`sim/MODEL.md`); every
  machine's refit puts the per-copy cost at its 10 ns floor and the setup at 16 to 22 us per push, and the
  losses fall (GPU-6f7b0be9 0.6617 -> 0.5833, GPU-cf9f5a0b 1.0676 -> 0.7934; `h100.json` 0.40396 ->
  0.40390). Held out, same machine: paging overhead mean 13.1% -> 11.2%, worst 46.9% -> 29.0% (now
  ResNet-50 b8, -25.8% -> -29.0%; ResNet-18 b1 +13.1%, AlexNet b4 +31.0% -> +23.9%), end to end 8.2% ->
  6.9%, prefetch share 4.2 -> 4.4 points: every target is met, on the 26 same-machine traces and on all
  27. The margin on the worst is small and machines differ by more: ResNet-18 b1's paging overhead was
  9.4 ms on GPU-6f7b0be9 and 12.9 ms on GPU-14ec98bf (`traces/machines/h100_14ec98bf/`; -16.4% there
  under GPU-6f7b0be9's fit). What grew: the copy groups (24 of 27 scored; each push's setup leaves a gap
  between blocks where the H100's copies of a batch run back to back) and, in all, 198 of the 598 scored
  errors (222 shrank); the baseline was re-recorded. What is left of the worst: ResNet-50 b8's
  element-wise kernels, whose pages several small CTAs fault at once, are too cheap (the H100's rounds of
  replays, "A fifth machine" in `results/calibration.md`).
- **Shared VA blocks (2026-11-24).** The PyTorch traces allocate each tensor with its own
  `cudaMallocManaged`, and the CUDA driver packs them: of 19 managed allocations of
  `torch_mobilenet_v2_b8`, 6 share a 2 MiB block with the one before, and 9 of its HtoD records (7 to 34
  per PyTorch trace) cross from one allocation into the next, which only one VA block can do. The model
  gave each allocation its own blocks, so a fault in a small input tensor could not prefetch the weights
  beside it (the H100 moved `features.17.conv.0.0.weight` of MobileNetV2 b1 entirely as prefetch, with no
  fault in it). With shared blocks (`sim/MODEL.md`), the PyTorch traces' DtoH bytes match to 0.0% (were up
  to 1.2% short), HtoD of ResNet-18 b1 and the two-process trace -1.9% and -1.3% -> 0.0%, MobileNetV2 b1's
  paging overhead +11.6% -> -0.7% and its prefetch share -15.1 -> -11.6 points (same machine), and the
  PyTorch mean 10.9% -> 10.0%. The native runtime's two arenas per model share no block and are unchanged.
- **The prefetch share of MobileNetV2 at batch 1 (-11 to -12 points).** Block by block in
  `runtime_mobilenet_v2_b1`, the H100 moved the fifth 2 MiB block of the weight arena in one fault batch:
  41 faulted pages, one to three at intervals of about 20 pages (one group per CTA of the convolution
  whose 20 CTAs each read 20 consecutive pages of its weights), and 471 pages of prefetch. The model's one
  batch for that block faulted 203 pages in runs of 9 to 38 and prefetched 309. The trace gives each CTA's
  20 pages as one range in use from the start of its run, and the model issues a range's pages together;
  the H100's warps stream through them and stall at the first pages they miss, so the prefetcher (64 KiB
  big pages around each fault, then the 51% tree) takes the rest before they are reached. An experiment
  (not kept: a patch to `Workload::build` that issued each range in steps of 4 pages spread over its
  in-use interval) moved the runtime MobileNetV2 b1's share error from -10.9 to -1.6 points and its HtoD
  copy count from -20.6% to -1.5%, ResNet-50 b1's share from -5.1 to +0.3 points, the PyTorch MobileNetV2
  b1's from -11.6 to -9.8, while their paging overhead errors moved by 0.3 to 1.3 points (PyTorch
  ResNet-50 b1: +15.5% -> +10.9%; the micro-workloads, whose ranges have no in-use interval, are
  unchanged). But the fitted tiled GEMM's share went from +4.1 to +8.7 points, and a step chosen on the
  held-out traces would be fitted on them. What would settle it: the access capture recording when within
  a CTA's run each page is first touched (it keeps the pages of each range in address order with one begin
  and end time), so that the stream order comes from the recording.
- **Kernels of several streams at once (2026-11-24).** A simulated kernel's time began at its launch, also
  while its CTAs waited behind another stream's kernel (dispatch is in order across kernels), so the
  four-model mix's summed kernel time was 2.38 times the time any kernel ran (the H100's: 1.74) and its
  paging overhead +35.7%. Measured on the H100 (`cuda_tracer/programs/kernel_start_probe.cu`, 7 runs,
  `cuda_tracer/recordings/kernel_start_probe_h100.jsonl`): a one-CTA kernel launched on a second stream
  2 us before a grid that fills every SM for 803 us is recorded from 802 us to 808 us; with room on the
  SMs, from 4 to 7 us. CUPTI times a kernel from its first CTA, and so does the model now: the mix's summed
  kernel time is 1.48 times its busy time, its paging overhead -19.3% (per-kernel mean error 323% ->
  147%), the two-process trace's -36.7% -> -40.1% (its two processes' kernels share the SMs in the model;
  the H100 time-slices two contexts: next). Single-stream traces are unchanged.
- **Several processes (2026-11-24).** The two-process trace was -40.1% for two reasons. (1) The simulated
  processes both started at time 0, but the recording's second process made its first call 1.21 s after
  the first's (`host_ns` is one clock for a trace's processes): the model ran MobileNetV2 beside the
  start of ResNet-18, where the H100 ran it beside ResNet-18's end. Each process now starts at its first
  call's `host_ns` after the earliest (-40.1% -> -28.9%). (2) Two processes without MPS do not share the
  SMs: the H100 runs one context at a time. Measured with `cuda_tracer/programs/timeslice_probe.cu` (two
  processes, 7 runs, `cuda_tracer/recordings/timeslice_probe_h100.jsonl.gz`, `scripts/timeslice.py`):
  while both have work each runs in turns of 2081 us (median of 122 turns), a switch that preempts
  running CTAs takes 162 us, and a hand-over when the running process has no work 136 us (as in the
  trace, whose turns run 1.2 to 2.1 ms with about 140 us between them). The model now takes turns the same
  way (`gpu.timeslice_ns`, `gpu.context_switch_ns`, `gpu.preempt_ns`; `sim/MODEL.md`): -28.9% -> -25.4%
  (its 33 simulated turns after the second process starts against the H100's 31). Its per-kernel mean
  error grew (27.7% -> 47.9%, worst 684%): a short kernel that the model's turns cut in two while the
  H100's did not, or the other way round, is off by the length of the other process's turn; the summed
  overhead is what the turns leave comparable. The rest of its error looks like that of a single cold
  run: ResNet-18's kernels before the second process starts, alone on the GPU, are -27% here, while the
  median of five runs of the same model (`torch_resnet18_b1`) is +10.9% under `h100.json`. Single-process
  traces are unchanged.
- **Two machines, and an undetermined key (2026-11-24).** The native runtime's traces ran on a second H100
  too (GPU-256f1514; summed times only), where ResNet-50 b8's paging overhead was 116.6 ms against 183.9 ms.
  Against the two machines' mean, a fit to both machines' mean micro-workload rows
  (`sim/configs/h100_two_machines.json`) predicts the 15 runtime traces within 16.1% on average and 27.1%
  at worst (ResNet-18 b1); GPU-6f7b0be9's own fit within 15.0% and 27.8% (`scripts/machines_mean.py`,
  `results/calibration.md`, "Two machines"). So the worst case of 37% on one machine is largely that
  machine's. And `driver.duplicate_fault_ns`, which the model traces depend on strongly (ResNet-50 b8 -37.0%
  at 97 ns, -12.7% at 416 ns), is determined by no micro-workload (none has two CTAs fault on one page):
  the fits left it wherever the simplex went; `uvmsim calibrate` now holds such keys at their starting
  value and says so. Pages shared by 2, 4 and 8 CTAs (`uvm_micro --sharers`), timed on a fourth H100
  (GPU-c85c9a1b) with its runtime programs, determine it there (52 ns); that machine's runtime programs
  under its own fit: 14.7% mean, 42.4% worst (AlexNet b1). Against the mean of the three machines that ran
  them, the runtime traces are within 12.0% / 26.2% under GPU-6f7b0be9's fit, 19.5% / 39.1% under
  GPU-c85c9a1b's (`results/calibration.md`, "Two machines").
- **What is responsible for the rest.** (1) The native runtime's zero-fill-heavy models (MobileNetV2 and
  ResNet-50 at batch 4 and 8: 73 to 97% of their first-touched bytes are zero-filled activations) are 12
  to 37% too cheap, its HtoD-heavy AlexNet 7 to 13% too dear. Over their kernels, observed paging overhead
  regresses on 0.36 us per zero-filled page and 20 us per VA block, against the model's 0.23 us and 32 us;
  HtoD 0.38 us per page and 20 us per block against 0.33 us and 60 us. The micro-workloads write or read
  whole 2 MiB blocks in address order and do not separate per-page from per-block costs; a micro-workload
  in the activations' pattern (many CTAs writing partial blocks of a fresh arena) would, and the model's
  per-block migration cost (`driver.va_block_ns`, `pcie.copy_setup_ns`) needs the copy groups' structure
  (below) rather than total times. A fifth H100 timed that pattern (`results/calibration.md`, "A fifth
  machine"): one page per CTA shared by 4 CTAs, zero-fill, as an element-wise layer writes its output,
  took 7.29 ms for 64 MiB against 4.54 ms unshared, and the model under that machine's fit is 31% short
  of it (8% short unshared, within 10% when the pages come from the CPU): the model's handling of one
  page faulted by several small CTAs in zero-fill-bound batches is what makes these models too cheap
  (ResNet-50 b8's element-wise kernels -37.6%, its convolutions -35.4%). That machine's retimed runtime
  programs under its own fit: 17.5% mean, 39.1% worst (MobileNetV2 b1); against the mean of the four
  machines that ran them, 12.6% mean and 27.3% worst under GPU-6f7b0be9's fit. (2) A one-page first touch of CPU-written memory costs 33 us more than a
  one-page zero-fill on GPU-6f7b0be9 (13 us on GPU-cf9f5a0b), a per-call cost of migrating from the CPU
  that the model has only per page (its one-page first touch is 29 to 35% short). (3) The four-model mix runs four streams at once: its kernels overlap, and a mean per-kernel
  error of hundreds of percent says that the model serialises or splits their faults differently; it is the
  one trace where the overhead sum is not a sum of independent kernels. (4) Machines and runs: the 15
  runtime programs retimed on a third H100 had medians 0.68 to 1.32 times the first machine's, per trace;
  the first machine's fit is 16.7% off on average there (36.6% worst), with other traces worst (ResNet-50
  b8 -0.6% there, -37.0% here). Only MobileNetV2 too cheap and AlexNet too dear hold on both machines
  (`results/calibration.md`, "A strided pattern and a third machine").
- **PyTorch traces before the retime** (single cold runs, for the record): 9 of 12 within 30% of paging
  overhead under `h100.json` (mean 22%); end to end all within 10% (mean 3.9%) once the converter's
  repeated host gaps were repaired. The retime needed `retime` to match NVTX ranges by name and the kernels
  they hold: `trace_torch.py` now opens a "setup" range and a tenant range around set-up that the recorded
  runs lacked.
- **The micro-workloads the fit does not weigh** (`micro_dense*`, one machine's recordings): one page per
  CTA is +71% (`micro_dense_64m`), 4 pages per CTA +43%; the other pages-per-CTA within 17%, the
  one-page-per-CTA zero-fills -21% and -12%. The table's
  rows come from a machine where the sequential pattern took 13.7 ms, the dense recordings from one where
  it took about 7.7 ms (`results/calibration.md`), and the fit follows the table.
- **What would settle the rest:** how one warp's misses enter the uTLB relative to other warps' (runs of
  1 and of 3 fit the shares and copy counts about equally; the table's times prefer 3), which needs a
  batch-level trace of the real driver; the table re-measured on one machine with the one-page-per-CTA
  rows, medians over several machines; and thread order in recorded traces (the access capture keeps the
  set of pages per CTA, sorted by address, so a CTA whose threads touch random pages looks sequential:
  the recorded `micro_random_64m` is 29 points below the H100's prefetch share).
- **The structure of the migrations** (columns HtoD copies and copy groups: the counter pass's HtoD
  records, and runs of them with no gap over 5 us, about one per fault batch; `uvmsim validate` scores
  both where HtoD is complete). The H100 moved the 64 MiB sequential first touch (`micro_seq_64m`) in
  1307 copies in 242 groups: small batches of about 68 pages, mostly in one VA block, some 53 us apart.
  It moved one page per CTA (`micro_dense_64m`) in 3056 copies in 23 groups: large batches of about 700
  pages over up to 6 blocks, each 0.4 to 1.3 ms of back-to-back copies of 4 to 48 KiB, alternating
  between faulted and prefetched pages because the faulted pages are scattered through each block. The
  previous default (no jitter) moved them in 320 copies (12 batches of about 1.1 ms) and 64 copies (64
  batches): its faulted pages arrived in contiguous runs, so a block moved in a few large copies. The
  model's groups count blocks rather than batches (the per-block CPU work, `driver.va_block_ns`, leaves
  gaps over 5 us between a batch's blocks; the H100's copies within a batch run back to back). With
  jitter (the default now) the dense and PyTorch copy counts come close: `micro_dense_64m` 2282,
  `torch_resnet50_b1` 7969 against 7051, `torch_mobilenet_v2_b8` 4158 against 4387 (without jitter 64,
  7545 and 1934). Copy counts follow from the order in which faults arrive, not from the fitted costs, so
  this is evidence for interleaved arrival independent of the time fit (`scripts/structure_grid.py`,
  `results/calibration.md`). The sequential pattern stays short of copies with every structure tried
  (624 now): there the H100's batches are small and frequent, which points at how fast the GPU reports
  the faults of a warp whose 32 threads miss on 32 pages. Costs fitted to total times reproduce the times
  with too few batches there; fitting the arrival structure to copy counts and groups first, then the
  costs, is the next calibration step.
- **End to end** follows from the paging overhead (resident times are recorded, so the rest is paging).
- **HtoD bytes**: within 0.8% on every complete stream. The recorded streams hold 2-6% more bytes than
  the touched pages (the prefetcher's untouched pages, which the model moves too: for `torch_mobilenet_v2_b8`
  the same 544 pages in both).
"""


def held_out(name):
    return name.startswith("runtime_") or name.startswith("torch_")


def trace_set(name):
    # micro_dense*: recorded after sim/configs/h100.json was fitted, and kept out of it (validation.md says why)
    return "held out" if held_out(name) else "not fitted" if name.startswith("micro_dense") else "fitted"


def validate(uvmsim, trace, config, json_path, settings=()):
    """`uvmsim validate` of one trace (with --set for each of `settings`): its JSON, or exit with its error."""
    cmd = [uvmsim, "validate", "--trace", trace, "--config", config, "--json", json_path]
    for s in settings:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"validation of {trace} failed:\n{r.stderr}")
    with open(json_path) as f:
        return json.load(f)


def same_machine_runs():
    """(key, trace name, config) for each trace machines.json names, under its recording machine's fit;
    the key is "NAME @ CONFIG" (the config file's name without .json)."""
    try:
        with open(MACHINES) as f:
            machines = json.load(f)["machines"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"{MACHINES}: {e}")
    runs = []
    for m in machines:
        config = os.path.join(ROOT, m["config"])
        if not os.path.exists(config):
            raise SystemExit(f"{MACHINES}: machine {m['gpu']}: no config {m['config']}")
        label = os.path.splitext(os.path.basename(config))[0]
        for name in m["traces"]:
            if not os.path.exists(os.path.join(CORPUS, name + ".uvmt")):
                raise SystemExit(f"{MACHINES}: machine {m['gpu']}: no trace {name}")
            runs.append((f"{name} @ {label}", name, config))
    return runs


def run_all(uvmsim, config, jobs):
    """Every corpus trace under `config` (keyed by name), then the same-machine runs (keyed NAME @ CONFIG)."""
    names = sorted(f[:-5] for f in os.listdir(CORPUS) if f.endswith(".uvmt"))
    runs = [(n, n, config) for n in names] + same_machine_runs()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        def one(run):
            key, name, cfg = run
            return key, validate(uvmsim, os.path.join(CORPUS, name + ".uvmt"), cfg,
                                 os.path.join(tmp, key.replace(" @ ", "@") + ".json"))
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for key, j in pool.map(one, runs):
                out[key] = j
    return out


def same_machine(key):
    return " @ " in key


def summary(v):
    """The scored errors of one trace: key -> error (relative, or points for shares); a quantity observed
    as 0 has an absolute error (in its unit) under key + "_abs"."""
    s = {}
    for q in v["quantities"]:
        if q["scored"]:
            if "error_absolute" in q:
                s[q["key"] + "_abs"] = q["error_absolute"]
            else:
                s[q["key"]] = q.get("error", q.get("error_points"))
    ko = v["kernel_overhead"]
    if ko["scored_kernels"]:
        s["kernel_overhead_mean"] = ko["mean_abs_error"]
        s["kernel_overhead_worst"] = ko["worst_abs_error"]
    return s


def fmt(key, e):
    if e is None:
        return "-"
    if key.endswith("_abs"):
        return f"{e:+.4g} (observed 0)"
    if key == "prefetch_share_pct":
        return f"{e:+.1f} pt"
    if key.startswith("kernel_overhead"):
        return f"{100 * e:.0f}%"
    return f"{100 * e:+.1f}%"


def table_rows(results):
    head = ["trace", "set", "e2e", "kernels", "overhead", "HtoD", "DtoH", "prefetch share", "CPU faults",
            "HtoD copies", "copy groups", "per-kernel overhead (n: mean / worst)", "scored / skipped"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, v in results.items():
        s = summary(v)
        ko = v["kernel_overhead"]
        per = f"{ko['scored_kernels']}: {fmt('kernel_overhead', s.get('kernel_overhead_mean'))} / " \
              f"{fmt('kernel_overhead', s.get('kernel_overhead_worst'))}" if ko["scored_kernels"] else "-"
        row = [name, trace_set(name)] + [fmt(k, s[k]) if k in s else fmt(k + "_abs", s.get(k + "_abs"))
                                         for k in KEYS] + \
              [per, f"{v['scored']} / {v['skipped']}"]
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def targets(ho, title):
    """The issue's targets over the summaries `ho` of held-out traces."""
    def agg(key, points=False):
        vals = [abs(s[key]) for s in ho if key in s]
        if not vals:
            return "none scored"
        mean, worst = sum(vals) / len(vals), max(vals)
        if points:
            return f"{len(vals)} traces: mean {mean:.1f} pt, worst {worst:.1f} pt"
        return f"{len(vals)} traces: mean {100 * mean:.1f}%, worst {100 * worst:.1f}%"
    return [title, "", "| quantity | target | measured |", "| --- | --- | --- |",
            f"| paging overhead (per trace, summed) | 15% mean, 30% worst | {agg('paging_overhead_ms')} |",
            f"| end to end | 10% mean | {agg('e2e_ms')} |",
            f"| HtoD bytes, complete streams | 2% | {agg('htod_mib')} |",
            f"| prefetch share | 5 points | {agg('prefetch_share_pct', True)} |", ""]


def write_table(results):
    lines = ["# Validation against the H100", "",
             "Every recorded trace of `traces/corpus/` simulated by `uvmsim validate --trace T --config",
             "sim/configs/h100.json` under its recording's GPU and driver parameters, against what the H100 did",
             "(`scripts/validation.py --update` writes this file, `results/validation.json` and the plot; CI runs",
             "`--check`: an error may grow by at most max(1 point, 10%), no set's mean error may grow). Errors are simulated against observed: relative for times, bytes and",
             "counts, points for the prefetch share, absolute (`(observed 0)`) where the GPU observed none,",
             "never relative to a zero. `-`: not scored (the stream was incomplete, its records holding",
             "under 98% of the page moves the trace implies, or the quantity is absent; `uvmsim validate` prints",
             "why).",
             "",
             "Columns: end to end (first kernel start to last kernel end), kernel time under demand paging",
             "(summed), paging overhead (demand-paging time minus resident time, summed over kernels), HtoD and",
             "DtoH bytes, prefetch share of fault-driven HtoD bytes, CPU faults of touch-backs, HtoD migration",
             "copies (one counter-pass record each; the model makes one per contiguous run of pages of one cause)",
             "and their groups (copies with no gap over 5 us between them: about one group per fault batch), and",
             "per-kernel paging overhead (kernels with at least 20 us observed: mean and worst |error|).", ""]
    lines += table_rows({k: v for k, v in results.items() if not same_machine(k)})
    lines += targets([summary(v) for k, v in results.items() if held_out(k) and not same_machine(k)],
                     "## Targets on the held-out model traces")
    same = {k: v for k, v in results.items() if same_machine(k)}
    lines += ["## Same machine: the held-out traces under their recording machine's own fit", "",
              "`traces/corpus/machines.json` names the H100 each retimed trace ran on and that machine's fit:",
              "`cuda_tracer/measure_micro.sh` timed every micro-workload of the calibration (the table's rows,",
              "1 to 128 pages per CTA, and first touches and zero-fills of 4 KiB to 8 MiB) on the GPU in the same",
              "device call as the traces, and `uvmsim calibrate` fitted the model's costs to those rows alone",
              "(`results/calibration.md`, \"One machine's micro-workloads, and its traces\"). No model trace is in",
              "either fit. The rows below are keyed `TRACE @ CONFIG`; the ratchet covers them too.", ""]
    lines += table_rows(same)
    lines += targets([summary(v) for v in same.values()],
                     "### Targets on the held-out model traces, same machine" +
                     f" ({len(same)} of the {sum(1 for k in results if held_out(k) and not same_machine(k))})")
    own = {k.split(" @ ")[0]: v for k, v in same.items()}
    mixed = [summary(own.get(k, v)) for k, v in results.items() if held_out(k) and not same_machine(k)]
    lines += targets(mixed, f"### Targets on all {len(mixed)} held-out traces, each under its recording machine's "
                            "fit where it has one (else `h100.json`)")
    lines += ANALYSIS.splitlines()
    return "\n".join(lines) + "\n"


def plot(results):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 6))
    panels = [("sim/configs/h100.json (the reference table's fit)", {k: v for k, v in results.items() if not same_machine(k)}),
              ("each trace under its recording machine's fit", {k: v for k, v in results.items() if same_machine(k)})]
    for ax, (title, subset) in zip(axes, panels):
        groups = {"micro-workloads (fitted)": [], "native runtime (held out)": [], "PyTorch (held out)": []}
        for name, v in subset.items():
            g = "native runtime (held out)" if name.startswith("runtime_") else \
                "PyTorch (held out)" if name.startswith("torch_") else "micro-workloads (fitted)"
            for k in v["kernels"]:
                o, s = k["observed_ns"] - k["resident_ns"], k["simulated_ns"] - k["resident_ns"]
                if o >= 20000 and s > 0:
                    groups[g].append((o / 1e6, s / 1e6))
        lo, hi = 1e-2, 1e3
        for (g, pts), m, c in zip(groups.items(), ["o", ".", "x"], ["C0", "C1", "C2"]):
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=12, marker=m, color=c, alpha=0.6,
                           label=f"{g}: {len(pts)} kernels")
                lo = min(lo, min(min(p) for p in pts))
                hi = max(hi, max(max(p) for p in pts))
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="y = x")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("observed paging overhead per kernel (ms, H100)")
        ax.set_ylabel("simulated paging overhead per kernel (ms)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Kernels with at least 20 us of observed paging overhead")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110, metadata={"Software": None})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uvmsim", required=True)
    ap.add_argument("--config", default=os.path.join(ROOT, "sim", "configs", "h100.json"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true")
    mode.add_argument("--check", action="store_true")
    a = ap.parse_args()
    results = run_all(a.uvmsim, a.config, a.jobs)
    now = {n: summary(v) for n, v in results.items()}
    if a.update:
        with open(BASELINE, "w") as f:
            json.dump(now, f, indent=1, sort_keys=True)
            f.write("\n")
        with open(TABLE, "w") as f:
            f.write(write_table(results))
        plot(results)
        print(f"wrote {BASELINE}, {TABLE}, {PLOT}")
        return 0
    with open(BASELINE) as f:
        base = json.load(f)
    bad = []
    grew = 0
    means = {}  # (set, key) -> [sum |error| now, sum |error| baseline]
    for name, errs in base.items():
        if name not in now:
            bad.append(f"{name}: in results/validation.json but no longer in the corpus")
            continue
        for key, e in errs.items():
            if key not in now[name]:
                bad.append(f"{name} {key}: scored in results/validation.json, no longer scored")
                continue
            grew += abs(now[name][key]) > abs(e) + SLACK
            if abs(now[name][key]) > abs(e) + allowed_growth(key, e):
                bad.append(f"{name} {key}: error {now[name][key]:+.6f}, recorded {e:+.6f} (more than "
                           f"{allowed_growth(key, e):.4g} worse)")
            m = means.setdefault((set_of(name), key), [0.0, 0.0])
            m[0] += abs(now[name][key])
            m[1] += abs(e)
    for (group, key), (m_now, m_base) in sorted(means.items()):
        if m_now > m_base + SLACK:
            bad.append(f"{group} set {key}: mean error grew (sum {m_now:.6f} against {m_base:.6f})")
    better = sum(1 for n, errs in base.items() for k, e in errs.items()
                 if n in now and k in now[n] and abs(now[n][k]) < abs(e) - SLACK)
    new = [n for n in now if n not in base]
    for line in bad:
        print("validation ratchet: " + line, file=sys.stderr)
    print(f"validation ratchet: {len(now)} traces, {sum(len(e) for e in now.values())} scored errors; "
          f"{grew} grew ({len(bad)} beyond the slack or the sets' means), {better} shrank, {len(new)} traces new"
          + (" (run scripts/validation.py --update to record them)" if better or new else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
