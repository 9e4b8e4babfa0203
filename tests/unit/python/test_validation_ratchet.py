"""scripts/validation.py's ratchet: an error may grow by max(1 point, 10% of the baseline's); the sets."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
import validation  # noqa: E402


class Slack(unittest.TestCase):
    def test_a_point_or_a_tenth_of_the_baseline(self):
        self.assertAlmostEqual(validation.allowed_growth("kernel_ms", 0.05), 0.01)   # 5%: one point
        self.assertAlmostEqual(validation.allowed_growth("kernel_ms", -0.40), 0.04)  # 40%: a tenth
        self.assertAlmostEqual(validation.allowed_growth("prefetch_share_pct", 3.0), 1.0)  # points
        self.assertAlmostEqual(validation.allowed_growth("cpu_faults_abs", 50.0), 5.0)

    def test_runs_fall_in_the_fit_the_check_or_the_same_machine_set(self):
        self.assertEqual(validation.set_of("micro_seq_64m"), "fit")
        self.assertEqual(validation.set_of("torch_vgg16_b1"), "check")  # traces/corpus/split.json
        self.assertEqual(validation.set_of("torch_vgg16_b1 @ h100_cf9f5a0b"), "same machine")


if __name__ == "__main__":
    unittest.main()
