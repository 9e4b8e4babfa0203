"""scripts/driver_costs.py's readings on made-up events: a chain's one-entry batch, a batch fetched while its
entries waited, its VA blocks' service, and a push's copies."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
import driver_costs  # noqa: E402


def row(kind, batch=0, cpu=0, gpu=0, gpu_end=0, address=0, nbytes=0, flags="1"):
    return {"kind": kind, "batch": str(batch), "cpu_ns": str(cpu), "gpu_ns": str(gpu), "gpu_end_ns": str(gpu_end),
            "address": str(address), "bytes": str(nbytes), "flags": flags}


class Readings(unittest.TestCase):
    def test_a_chain_batch(self):
        # Batch 1 replays at GPU 100 us; batch 2's entry is written at GPU 100 us (CPU 1000 us), its service
        # starts then, its copy is queued 10 us later and runs at GPU 118..128 us, its replay completes at
        # GPU 137 us; batch 3's entry is written at 137.5 us.
        rows = [row("fault_entry", 1, cpu=900_000, gpu=50_000, address=0),
                row("replay", 1, cpu=950_000, gpu=100_000),
                row("fault_entry", 2, cpu=1_000_000, gpu=100_000, address=4096 * 700),
                row("migration", 0, cpu=1_010_000, gpu=118_000, gpu_end=128_000, address=4096 * 700, nbytes=65536),
                row("replay", 2, cpu=1_020_000, gpu=137_000),
                row("fault_entry", 3, cpu=1_040_000, gpu=137_500, address=4096 * 900),
                row("replay", 3, cpu=1_060_000, gpu=160_000)]
        s = driver_costs.Samples()
        s.add_run(rows, chain=True)
        self.assertEqual(s.write_to_service, [(118_000 - 100_000) - (1_010_000 - 1_000_000)])
        self.assertEqual(s.copy_end_to_replay, [137_000 - 128_000])
        self.assertIn(500, s.replay_to_next)  # batch 2's replay to batch 3's entry
        self.assertEqual(s.cycle["replay push to next service start"], [1_000_000 - 950_000])

    def test_blocks_of_a_waiting_batch(self):
        # Batch 2's three entries were written before batch 1's replay: its first block (two entries, one
        # page twice) starts 40 us after that replay's push and migrates 16 pages in two copies; its second
        # block (one entry) starts 30 us later and migrates nothing.
        rows = [row("fault_entry", 1, cpu=0, gpu=1_000, address=0), row("replay", 1, cpu=100_000, gpu=200_000)]
        rows += [row("fault_entry", 2, cpu=140_000, gpu=150_000, address=4096 * 5),
                 row("fault_entry", 2, cpu=140_100, gpu=150_020, address=4096 * 5),
                 row("fault_entry", 2, cpu=170_000, gpu=150_040, address=2**21 + 4096),
                 row("migration", 0, cpu=150_000, gpu=300_000, gpu_end=301_000, address=0, nbytes=4096 * 8),
                 row("migration", 0, cpu=150_000, gpu=301_000, gpu_end=303_000, address=4096 * 8, nbytes=4096 * 8),
                 row("replay", 2, cpu=200_000, gpu=400_000)]
        s = driver_costs.Samples()
        s.add_run(rows, chain=False)
        self.assertEqual(s.batch_x, [[1, 3]])
        self.assertEqual(s.batch_y, [40_000])
        # [1, duplicate entries, distinct pages, copies, pages migrated] and its span to the next block
        self.assertEqual(s.block_x, [[1, 1, 1, 2, 16.0]])
        self.assertEqual(s.block_y, [30_000])
        self.assertEqual(s.push_x, [[1, 2]])
        self.assertAlmostEqual(s.push_y[0], 3_000 - 4096 * 16 / driver_costs.HTOD_BYTES_PER_NS)

    def test_least_squares(self):
        X = [[1, x] for x in range(5)]
        self.assertEqual([round(v, 9) for v in driver_costs.solve(X, [2 + 3 * x for x in range(5)])], [2, 3])


if __name__ == "__main__":
    unittest.main()
