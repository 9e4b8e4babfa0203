"""scripts/batch_grid.py's H200 ratchet on made-up figures: growth within max(1 point, 10%) passes, beyond it
fails, a fallen count within the batch target fails, and a quantity no longer scored fails."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
import batch_grid  # noqa: E402

BASE = {"check": {"batches": [0.20, 0.50], "kernel_ms": [0.05, 0.20], "batches_in_target": [15, 23]}}


class Ratchet(unittest.TestCase):
    def test_within_the_slack(self):
        # 0.20 -> 0.215 (10% is 0.02), 0.50 -> 0.54 (0.05); 0.05 -> 0.059 (a point, 0.01, beats 10%)
        now = {"check": {"batches": (0.215, 0.54), "kernel_ms": (0.059, 0.20), "batches_in_target": (16, 23)}}
        self.assertEqual(batch_grid.ratchet(BASE, now), [])

    def test_beyond_the_slack(self):
        now = {"check": {"batches": (0.23, 0.50), "kernel_ms": (0.05, 0.20), "batches_in_target": (15, 23)}}
        grew = batch_grid.ratchet(BASE, now)
        self.assertEqual(len(grew), 1)
        self.assertIn("batches mean", grew[0])

    def test_fewer_traces_in_target_and_a_lost_quantity(self):
        now = {"check": {"batches": (0.20, 0.50), "batches_in_target": (14, 23)}}
        grew = batch_grid.ratchet(BASE, now)
        self.assertEqual(len(grew), 2)
        self.assertTrue(any("14 traces" in g for g in grew))
        self.assertTrue(any("kernel_ms: no longer scored" in g for g in grew))


if __name__ == "__main__":
    unittest.main()
