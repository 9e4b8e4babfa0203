"""PyTorch's own kernels (cuDNN convolutions, cuBLAS GEMMs, its batch norm, pooling and element-wise
kernels) on SM partitions, for the engine's SM-sharing model: sm_share_probe.cu measures workloads/'s layer
kernels the same way. The partitions come from cuda_tracer/src/green_context.h through libuvm_green.so
(ctypes); their streams are wrapped in torch.cuda.ExternalStream, so every kernel an op launches runs on
the partition's SMs. Tensors are plain device memory (data resident).

Per op, one "shape" line (the kernels it launches on the whole GPU, from torch.profiler: grid, block,
registers, shared memory, duration) and, per partition, one "alone" line (medians over --reps of the op's
span between CUDA events on its stream) and "pair" lines (two ops at once on two streams of the partition:
each op's span, and second_start_ms, from the first stream's start event to the second's: when the host
had launched the second op, since an event on an idle stream is taken as soon as it is launched).
  python3 sm_share_torch.py --lib build-gpu/libuvm_green.so [--reps 7] [--sms 132,72,32,16,8] [--no-shapes]
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import tempfile

import torch
import torch.nn.functional as F


def ops(dev):
    """name -> (make(copy) -> callable, DRAM bytes of its tensors read once and written once)."""
    def t(*shape):
        return torch.randn(*shape, device=dev)

    def conv(c, hw, k, r, stride, pad):
        def make(_):
            x, w, b = t(8, c, hw, hw), t(k, c, r, r), t(k)
            return lambda: F.conv2d(x, w, b, stride=stride, padding=pad)
        oh = (hw + 2 * pad - r) // stride + 1
        return make, 4 * (8 * c * hw * hw + k * c * r * r + k + 8 * k * oh * oh)

    def linear(i, o):
        def make(_):
            x, w, b = t(8, i), t(o, i), t(o)
            return lambda: F.linear(x, w, b)
        return make, 4 * (8 * i + o * i + o + 8 * o)

    def bn():
        def make(_):
            x, m, v, g, b = t(8, 256, 56, 56), t(256), t(256).abs(), t(256), t(256)
            return lambda: F.batch_norm(x, m, v, g, b, training=False)
        return make, 4 * 2 * 8 * 256 * 56 * 56

    def relu():
        def make(_):
            x = t(8, 256, 56, 56)
            return lambda: F.relu(x)
        return make, 4 * 2 * 8 * 256 * 56 * 56

    def pool():
        def make(_):
            x = t(8, 64, 112, 112)
            return lambda: F.max_pool2d(x, 3, 2, 1)
        return make, 4 * (8 * 64 * 112 * 112 + 8 * 64 * 56 * 56)

    def add():
        def make(_):
            x, y = t(8, 256, 56, 56), t(8, 256, 56, 56)
            return lambda: torch.add(x, y)
        return make, 4 * 3 * 8 * 256 * 56 * 56

    return {
        "conv_stem": conv(3, 224, 64, 7, 2, 3),
        "conv3x3_56": conv(64, 56, 64, 3, 1, 1),
        "conv1x1_56": conv(256, 56, 64, 1, 1, 0),
        "conv3x3_14": conv(256, 14, 256, 3, 1, 1),
        "conv3x3_vgg28": conv(512, 28, 512, 3, 1, 1),
        "linear_fc6": linear(9216, 4096),
        "linear_fc": linear(2048, 1000),
        "batchnorm": bn(),
        "relu": relu(),
        "maxpool": pool(),
        "add": add(),
    }


PAIRS = [("conv3x3_56", "conv3x3_56"), ("conv_stem", "relu"), ("linear_fc6", "conv3x3_14"),
         ("conv1x1_56", "batchnorm"), ("conv3x3_vgg28", "add"), ("maxpool", "linear_fc")]


def stats(v):
    v = sorted(v)
    return {"median": round(statistics.median(v), 4), "min": round(v[0], 4), "max": round(v[-1], 4)}


def shapes(fn):
    """The kernels one call launches on the whole GPU, from the profiler's trace."""
    fn()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    prof.export_chrome_trace(path)
    with open(path) as f:
        trace = json.load(f)
    os.unlink(path)
    out = []
    for e in trace.get("traceEvents", []):
        if e.get("cat") != "kernel":
            continue
        a = e.get("args", {})
        out.append({"name": e.get("name", "")[:120], "grid": a.get("grid"), "block": a.get("block"),
                    "regs": a.get("registers per thread"), "smem": a.get("shared memory"),
                    "blocks_per_sm": a.get("blocks per SM"), "occupancy": a.get("est. achieved occupancy %"),
                    "us": e.get("dur")})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--sms", default="132,72,32,16,8")
    ap.add_argument("--no-shapes", action="store_true", help="skip torch.profiler (under Nsight Compute)")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda:0")
    torch.zeros(1, device=dev)
    lib = ctypes.CDLL(a.lib)
    lib.uvm_green_streams.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p),
                                      ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint)]
    gpu = torch.cuda.get_device_name(0)
    table = ops(dev)
    calls = {name: [make(0), make(1)] for name, (make, _) in table.items()}
    for name, (_, nbytes) in ([] if a.no_shapes else table.items()):
        print(json.dumps({"probe": "sm_share_torch", "gpu": gpu, "op": name, "mode": "shape", "dram_bytes": nbytes,
                          "kernels": shapes(calls[name][0])}), flush=True)
    for want in [int(x) for x in a.sms.split(",")]:
        arr = (ctypes.c_void_p * 2)()
        sms, total = ctypes.c_uint(), ctypes.c_uint()
        if lib.uvm_green_streams(0, want, 2, arr, ctypes.byref(sms), ctypes.byref(total)) != 0:
            sys.exit("uvm_green_streams failed")
        streams = [torch.cuda.ExternalStream(arr[i]) for i in range(2)]
        print(f"partition: asked {want}, got {sms.value} of {total.value}", file=sys.stderr, flush=True)

        def run(names):
            ev = []
            for i, n in enumerate(names):
                with torch.cuda.stream(streams[i]):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record(streams[i])
                    calls[n][i]()
                    e.record(streams[i])
                    ev.append((s, e))
            torch.cuda.synchronize()
            return [s.elapsed_time(e) for s, e in ev] + [ev[0][0].elapsed_time(s) for s, _ in ev[1:]]

        for name in table:
            run([name])
            t = [run([name])[0] for _ in range(a.reps)]
            print(json.dumps({"probe": "sm_share_torch", "gpu": gpu, "op": name, "mode": "alone", "sms_asked": want,
                              "sms": sms.value, "ms": stats(t)}), flush=True)
        for x, y in PAIRS:
            run([x, y])
            r = [run([x, y]) for _ in range(a.reps)]
            print(json.dumps({"probe": "sm_share_torch", "gpu": gpu, "op": x + "+" + y, "mode": "pair",
                              "sms_asked": want, "sms": sms.value, "first_ms": stats([p[0] for p in r]),
                              "second_ms": stats([p[1] for p in r]), "span_ms": stats([max(p[:2]) for p in r]),
                              "second_start_ms": stats([p[2] for p in r])}),
                  flush=True)


if __name__ == "__main__":
    main()
