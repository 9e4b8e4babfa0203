"""scripts/figures.py: Student's t intervals, and every figure drawn from sweep folders as PDF and PNG, the
same bytes twice (no dates in the files)."""
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import figures  # noqa: E402


def fake_sweep(folder, points):
    """A sweep folder as `uvmsim sweep` leaves it: results.csv and each point's stats.json and requests.csv."""
    os.makedirs(os.path.join(folder, "points"))
    rng = random.Random(7)
    with open(os.path.join(folder, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["status", "key"] + sorted(points[0]))
        for i, axes in enumerate(points):
            key = f"{i:016x}"
            w.writerow(["done", key] + [axes[k] for k in sorted(axes)])
            d = os.path.join(folder, "points", key)
            os.makedirs(d)
            slow = 1.0 + (1.0 - axes["gpu.memory_fraction"]) * (2 if "baseline" in axes["policy_set"] else 1)
            with open(os.path.join(d, "stats.json"), "w") as out:
                json.dump({"tenants": [{"name": "a#0", "slo_attainment": 1.0}, {"name": "b#1", "slo_attainment": 1.0}],
                           "sweep_point": {"key": key, "axes": axes},
                           "stats": {"faults_fetched": 1000 + i, "batches": 10 + i % 3, "chunks_evicted": i,
                                     "tenants": [{"refaults": i}, {"refaults": 0}],
                                     "bytes_htod": {"prefetch": 2**20 * (i + 1), "user": 0},
                                     "bytes_dtoh": {"eviction": 2**19 * i}}}, out)
            with open(os.path.join(d, "requests.csv"), "w") as r:
                r.write("tenant,request,arrival_ns,start_ns,end_ns,batch,batch_size,faults,bytes_in,paging_ns,counted\n")
                for q in range(40):
                    lat = int(slow * rng.uniform(1e6, 5e6))
                    r.write(f"{'a#0' if q % 2 else 'b#1'},{q},{q * 1000},{q * 1000},{q * 1000 + lat},1,1,0,0,0,"
                            f"{int(q >= 4)}\n")


class Figures(unittest.TestCase):
    def test_mean_ci(self):
        m, h = figures.mean_ci([1, 2, 3, 4, 5])
        self.assertEqual(m, 3)
        self.assertAlmostEqual(h, 2.776 * (2.5 ** 0.5) / (5 ** 0.5), places=6)  # t(4) sd / sqrt(n)
        self.assertEqual(figures.mean_ci([2.0]), (2.0, 0.0))

    def test_every_figure_twice_the_same(self):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self.skipTest("python3-matplotlib is not installed (scripts/install-deps.sh installs it)")
        with tempfile.TemporaryDirectory() as tmp:
            sets = ["policies/sets/baseline.json", "policies/sets/barm.json"]
            fake_sweep(os.path.join(tmp, "sweeps", "study"),
                       [{"policy_set": s, "gpu.memory_fraction": fr, "spec.seed": seed}
                        for s in sets for fr in (1.0, 0.5) for seed in range(1, 6)])
            fake_sweep(os.path.join(tmp, "sweeps", "memory"),
                       [{"mix": "m/mix4_study.json", "policy_set": s, "gpu.memory_fraction": fr, "spec.seed": seed}
                        for s in sets for fr in (1.0, 0.7, 0.4) for seed in range(1, 6)])
            outs = []
            for k in range(2):
                out = os.path.join(tmp, f"figures{k}")
                subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "figures.py"), "--sweeps",
                                os.path.join(tmp, "sweeps"), "--out", out, "--skip-validation"], check=True,
                               capture_output=True)
                outs.append(out)
            names = sorted(os.listdir(outs[0]))
            self.assertEqual(names, sorted(f"{n}.{e}" for n in ("normalised_latency", "faults_and_batches",
                                                                "bytes_migrated_evicted", "latency_cdf",
                                                                "latency_vs_memory") for e in ("pdf", "png")))
            for n in names:
                with open(os.path.join(outs[0], n), "rb") as a, open(os.path.join(outs[1], n), "rb") as b:
                    self.assertEqual(a.read(), b.read(), n)

    def test_normalised_to_the_same_seeds_baseline(self):
        pts = [{"axes": {"policy_set": "x/baseline.json", "gpu.memory_fraction": 0.5, "spec.seed": s},
                "mean_ms": 10.0 * s, "p99_ms": 20.0 * s} for s in (1, 2)]
        pts += [{"axes": {"policy_set": "x/barm.json", "gpu.memory_fraction": 0.5, "spec.seed": s},
                 "mean_ms": 5.0 * s, "p99_ms": 30.0 * s} for s in (1, 2)]
        n = figures.normalised(pts)
        self.assertEqual(n[("barm", 0.5)], {"mean": [0.5, 0.5], "p99": [1.5, 1.5]})


if __name__ == "__main__":
    unittest.main()
