#!/usr/bin/env python3
"""Run torchvision models on CUDA unified memory, for uvmtrace (one process per pass).

Every tensor lives in managed memory: a torch.cuda.MemPool over a CUDAPluggableAllocator whose segments
are plain cudaMallocManaged allocations (torch/uvm_pool_alloc.cpp), with no memory advice. Models have
random weights (nothing is downloaded), run in fp32 with deterministic algorithm choice so that every
pass launches the same kernels. Phases, each an NVTX range:
  setup            build the models and their inputs, one untraced-in-spirit forward that initialises
                   cuDNN/cuBLAS and their workspaces
  cold_inference   every managed segment moved to the CPU first (as in an oversubscribed server), then
                   one forward per model: weights and inputs migrate HtoD on demand
  warm_inference   the same forward again, data resident
Each model runs on its own stream when several are given; its forward is inside an NVTX range named
after its tenant ("resnet50#0"). NVTX ranges go through the pool library's uvm_nvtx_push/pop (the
toolkit's NVTX, which CUPTI records; torch.cuda.nvtx's did not reach it). With UVMTRACE_OUT set, the
address ranges of parameters and buffers (weights), inputs and outputs are written to roles.json for the
converter, in $UVMTRACE_OUT or, for one of several processes recorded at once (cuda_tracer/together sets
UVMTRACE_PROCESS), in its proc_<label> folder; UVMTRACE_BARRIER makes the processes start their cold
inferences together.

With --sms N every kernel runs on a green-context partition of N SMs (or the next step up the GPU hands
out): the model's streams are the partition's (cuda_tracer/src/green_context.h through libuvm_green.so,
wrapped in torch.cuda.ExternalStream), and the setup runs on the first of them, so that no kernel runs
elsewhere (a trace holds one partition size). cuDNN and cuBLAS pick their kernels from the device's
properties, not the partition's, so every partition runs the same kernels as the whole GPU, and the access
capture of a run without --sms joins each partition's recording.

  python3 cuda_tracer/trace_torch.py --models resnet50:8,vgg16:1 [--allocator PATH] [--one-stream] [--repeat N]
                                     [--sms N [--green-lib PATH]]
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import torch
import torchvision

MODELS = {
    "alexnet": torchvision.models.alexnet,
    "vgg16": torchvision.models.vgg16,
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
}


class Nvtx:
    """An NVTX range through the pool library (the CUDA toolkit's NVTX, recorded by uvmtrace)."""

    lib = None

    def __init__(self, name):
        self.name = name.encode()

    def __enter__(self):
        Nvtx.lib.uvm_nvtx_push(self.name)

    def __exit__(self, *exc):
        Nvtx.lib.uvm_nvtx_pop()


def nvtx(name):
    return Nvtx(name)


def barrier():
    """Wait until every process started by cuda_tracer/together reaches this point (at most 300 s)."""
    where, n = os.environ.get("UVMTRACE_BARRIER"), int(os.environ.get("UVMTRACE_BARRIER_N", "1"))
    if not where or n <= 1:
        return
    open(os.path.join(where, f"ready.{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 300
    while sum(1 for f in os.listdir(where) if f.startswith("ready.")) < n:
        if time.monotonic() > deadline:
            sys.exit("trace_torch: the other processes never reached the barrier")
        time.sleep(0.001)


def green_streams(lib_path, want, n):
    """n streams of one green-context partition of `want` SMs, as torch streams."""
    lib = ctypes.CDLL(os.path.abspath(lib_path))
    lib.uvm_green_streams.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p),
                                      ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint)]
    arr = (ctypes.c_void_p * n)()
    sms, total = ctypes.c_uint(), ctypes.c_uint()
    if lib.uvm_green_streams(torch.cuda.current_device(), want, n, arr, ctypes.byref(sms), ctypes.byref(total)) != 0:
        sys.exit(f"trace_torch: no green-context partition of {want} SMs")
    print(f"partition: asked {want}, got {sms.value} of {total.value} SMs", file=sys.stderr, flush=True)
    return [torch.cuda.ExternalStream(arr[i]) for i in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="model:batch,... e.g. resnet50:8,vgg16:1")
    ap.add_argument("--allocator", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "..", "build-gpu", "libuvm_pool_alloc.so"))
    ap.add_argument("--one-stream", action="store_true", help="run every model on the default stream")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1,
                    help="cold and warm inferences to time (each cold one after moving the pool to the CPU "
                         "again); medians are printed. For native timing runs: a traced run uses 1")
    ap.add_argument("--sms", type=int, default=0,
                    help="run on a green-context partition of this many SMs (0: the whole GPU)")
    ap.add_argument("--green-lib", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                        "build-gpu", "libuvm_green.so"))
    a = ap.parse_args()
    if a.sms < 0:
        sys.exit("--sms must be 0 (the whole GPU) or a count of SMs")

    specs = []
    for item in a.models.split(","):
        name, _, batch = item.partition(":")
        if name not in MODELS:
            sys.exit(f"unknown model '{name}' (known: {', '.join(MODELS)})")
        specs.append((name, int(batch or 1)))

    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)

    lib = ctypes.CDLL(os.path.abspath(a.allocator))
    lib.uvm_nvtx_push.argtypes = [ctypes.c_char_p]
    Nvtx.lib = lib
    lib.uvm_pool_to_host.restype = ctypes.c_longlong
    lib.uvm_pool_bytes.restype = ctypes.c_longlong
    allocator = torch.cuda.memory.CUDAPluggableAllocator(os.path.abspath(a.allocator), "uvm_pool_malloc",
                                                         "uvm_pool_free")
    pool = torch.cuda.MemPool(allocator.allocator())

    tenants, ranges = [], []
    counts = {}
    torch.cuda.init()  # a CUDA context first: uvmtrace's CUPTI records NVTX ranges from its creation on
    torch.cuda.synchronize()
    green = green_streams(a.green_lib, a.sms, len(specs)) if a.sms else None
    with torch.cuda.use_mem_pool(pool), torch.no_grad(), torch.cuda.stream(green[0] if green else None):
        with nvtx("setup"):
            runs = []
            for name, batch in specs:
                n = counts.get(name, 0)
                counts[name] = n + 1
                tenant = f"{name}#{n}"
                if green:
                    stream = green[0] if a.one_stream else green[len(runs)]
                else:
                    stream = torch.cuda.current_stream() if a.one_stream or len(specs) == 1 else torch.cuda.Stream()
                # On the tenant's stream and inside its NVTX range, so that its weight copies and input
                # initialisation are attributed to it.
                with torch.cuda.stream(stream), nvtx(tenant):
                    model = MODELS[name](weights=None).eval().cuda()
                    x = torch.randn(batch, 3, 224, 224, device="cuda")
                runs.append((tenant, name, batch, model, x, stream))
                t = len(tenants)
                tenants.append({"name": tenant, "model": name, "batch": batch, "stream": stream.cuda_stream})
                for pname, p in list(model.named_parameters()) + list(model.named_buffers()):
                    if p.numel():
                        ranges.append({"tenant": t, "role": "weight", "va": p.data_ptr(),
                                       "bytes": p.numel() * p.element_size(), "name": f"{tenant}.{pname}"})
                ranges.append({"tenant": t, "role": "input", "va": x.data_ptr(),
                               "bytes": x.numel() * x.element_size(), "name": f"{tenant}.input"})
            outputs = {}

            def forward_all(tag):
                for tenant, name, batch, model, x, stream in runs:
                    with torch.cuda.stream(stream), nvtx(tenant):
                        outputs[tenant] = model(x)
                torch.cuda.synchronize()

            forward_all("setup")  # cuDNN/cuBLAS handles, workspaces, lazy modules
        times = {"cold_inference": [], "warm_inference": []}
        for rep in range(a.repeat):
            moved = lib.uvm_pool_to_host()
            if moved < 0:
                sys.exit("moving the pool's segments to the CPU failed")
            if rep == 0:
                barrier()
            for phase in ("cold_inference", "warm_inference"):
                start = time.perf_counter()
                with nvtx(phase):
                    forward_all(phase)
                times[phase].append((time.perf_counter() - start) * 1e3)
        for t, (tenant, *_rest) in enumerate(runs):
            out = outputs[tenant]
            ranges.append({"tenant": t, "role": "output", "va": out.data_ptr(),
                           "bytes": out.numel() * out.element_size(), "name": f"{tenant}.output"})
    out_dir = os.environ.get("UVMTRACE_OUT")
    if out_dir:
        if os.environ.get("UVMTRACE_PROCESS"):
            out_dir = os.path.join(out_dir, "proc_" + os.environ["UVMTRACE_PROCESS"])
            os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "roles.json.part"), "w") as f:
            json.dump({"tenants": tenants, "ranges": ranges}, f)
        os.replace(os.path.join(out_dir, "roles.json.part"), os.path.join(out_dir, "roles.json"))
    result = {"program": "trace_torch", "models": a.models, "sms": a.sms, "pool_bytes": lib.uvm_pool_bytes(),
              "moved_to_host": moved, "cold_ms": round(times["cold_inference"][0], 3),
              "warm_ms": round(times["warm_inference"][0], 3)}
    if a.repeat > 1:
        for phase, key in (("cold_inference", "cold"), ("warm_inference", "warm")):
            result[key + "_ms_reps"] = [round(v, 3) for v in times[phase]]
            result[key + "_ms_median"] = round(statistics.median(times[phase]), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
