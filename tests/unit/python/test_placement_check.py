"""scripts/placement_check.py's two dispatch rules on worked examples, and on the checked-in H100 recordings:
the rule by TPC gives the free SM of each TPC first, rotation ignores what the SMs hold."""
import glob
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import placement_check  # noqa: E402


class Rules(unittest.TestCase):
    def test_half_the_sms_busy(self):
        busy = set(range(1, 132, 2))  # the second SM of every TPC
        # 66 CTAs: by TPC, one on each free SM; rotation from SM 0, one on every SM of 0-65, half busy.
        self.assertEqual(placement_check.place("tpc", busy, 32, 66, 128), (0, 1, 0))
        self.assertEqual(placement_check.place("rotation", busy, 32, 66, 128), (33, 1, 1))
        # 132: the free SM takes a second before its busy neighbour takes one (the tie goes to the first SM).
        self.assertEqual(placement_check.place("tpc", busy, 32, 132, 128), (0, 2, 0))

    def test_room_bounds_a_free_sm(self):
        # 1024-thread CTAs: two fill a free SM, one fits beside the 32-thread holder; the rest never start.
        busy = set(range(1, 132, 2))
        self.assertEqual(placement_check.place("tpc", busy, 32, 264, 1024), (66, 2, 1))

    def test_the_recordings(self):
        files = sorted(glob.glob(os.path.join(ROOT, "cuda_tracer", "recordings", "placement_h100*.jsonl")))
        self.assertEqual(len(files), 3)
        out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "placement_check.py")] + files,
                             check=True, capture_output=True, text=True).stdout
        self.assertIn("Cases reproduced exactly: rotation 0 of 13, by TPC 9 of 13.", out)


if __name__ == "__main__":
    unittest.main()
