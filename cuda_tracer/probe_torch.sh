set -u
cmake -S cuda_tracer -B build-gpu >/dev/null && cmake --build build-gpu -j16 >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
export PYTHONUNBUFFERED=1
python3 cuda_tracer/trace_torch.py --models resnet18:1 2>&1 | tail -3
python3 cuda_tracer/trace_torch.py --models resnet18:8 2>&1 | tail -3
timeout 420 build-gpu/uvmtrace --out /tmp/r18 -- python3 cuda_tracer/trace_torch.py --models resnet18:1; echo "uvmtrace exit $?"
cat /tmp/r18/passes.tsv /tmp/r18/passes.tsv.part 2>/dev/null
for p in timing counters access resident; do echo "== $p"; tail -3 /tmp/r18/$p/stdout /tmp/r18/$p/stderr 2>/dev/null; ls -la /tmp/r18/$p 2>/dev/null | tail -n +2; done
cd /tmp && tar cf - r18 | xz -3 -T16 > "$OUT/r18.tar.xz"; ls -la "$OUT"
