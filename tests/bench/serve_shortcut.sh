#!/usr/bin/env bash
# The resident-kernel shortcut (engine.resident_shortcut) changes nothing but its own counts: serves the
# four-model mix (sim/serving/examples/mix4.json, REQUESTS in all, warm-up included) under
# sim/configs/h200.json at each memory fraction with the shortcut off and on, then compares requests.csv
# byte for byte and stats.json without the setting and the shortcut's counts (resident_launches,
# resident_launches_dropped), which it prints. Exits non-zero on a difference.
#   tests/bench/serve_shortcut.sh [build/release/uvmsim] [FRACTIONS...]        (default: 0.75 0.5)
set -euo pipefail
uvmsim=${1:-build/release/uvmsim}
shift || true
fractions=("$@")
[ ${#fractions[@]} -gt 0 ] || fractions=(0.75 0.5)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "${REQUESTS:-240}" >"$work/spec.json" <<'PY'
import json, sys
s = json.load(open("sim/serving/examples/mix4.json"))
s["requests"], s["slowdown"] = int(sys.argv[1]) // len(s["tenants"]), False
print(json.dumps(s))
PY
status=0
for f in "${fractions[@]}"; do
  for on in 0 1; do
    "$uvmsim" serve --spec "$work/spec.json" --config sim/configs/h200.json --set gpu.memory_fraction="$f" \
      --set engine.resident_shortcut=$on --out "$work/$f.$on" >/dev/null
  done
  python3 - "$work/$f" "$f" <<'PY' || status=1
import json, sys
base, f = sys.argv[1], sys.argv[2]
csv = [open(f"{base}.{on}/requests.csv", "rb").read() for on in (0, 1)]
st = [json.load(open(f"{base}.{on}/stats.json")) for on in (0, 1)]
counts = {k: st[1]["stats"][k] for k in ("resident_launches", "resident_launches_dropped")}
for s in st:
    del s["config"]["engine"]["resident_shortcut"]
    for k in counts:
        del s["stats"][k]
same = csv[0] == csv[1] and st[0] == st[1]
print(f"memory {f}: {'identical' if same else 'DIFFERENT'} (requests.csv {len(csv[0])} bytes; shortcut on: "
      f"{counts['resident_launches']} resident launches, {counts['resident_launches_dropped']} taken off by an eviction; "
      f"{st[1]['stats']['chunks_evicted']} chunks evicted)")
sys.exit(0 if same else 1)
PY
done
exit $status
