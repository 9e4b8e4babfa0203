"""scripts/driver_batches.py's per-batch figures on a made-up run: two batches, one full."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
import driver_batches  # noqa: E402


def entry(batch, gpc, client, gpu_ns, cpu_ns):
    return {"kind": "fault_entry", "batch": str(batch), "gpc_or_src": str(gpc), "client_or_dst": str(client),
            "gpu_ns": str(gpu_ns), "cpu_ns": str(cpu_ns)}


class Figures(unittest.TestCase):
    def test_a_full_batch_and_a_small_one(self):
        # batch 1: 256 entries from two clients of GPC 0 (200 and 56), written 20 ns apart, serviced over
        # 100 us, replayed 1 ms after its last write; batch 2: 3 entries of one client of GPC 1
        rows = [entry(1, 0, i % 2 if i < 112 else 0, 1000 + 20 * i, 5000 + 400 * i) for i in range(256)]
        rows[0]["cpu_ns"] = "5000"
        rows.append({"kind": "replay", "batch": "1", "gpu_ns": str(1000 + 20 * 255 + 1000000)})
        rows += [entry(2, 1, 4, 2000000 + i, 2100000 + 10 * i) for i in range(3)]
        f = driver_batches.figures(rows)
        self.assertEqual(f["batches"], 2)
        self.assertEqual(f["entries"], (256 + 3) / 2)
        self.assertEqual(f["clients"], 1.5)  # two in the first, one in the second
        self.assertEqual(f["gpcs"], 1)
        self.assertEqual(f["per_client"], (200 + 3) / 2)
        self.assertEqual(f["fill_us"], 20 * 255 / 1e3)  # full batches only
        self.assertEqual(f["replay_us"], 1000.0)  # batch 2 has no replay


if __name__ == "__main__":
    unittest.main()
