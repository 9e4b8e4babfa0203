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


class KernelSpans(unittest.TestCase):
    def test_the_kernel_with_most_batches_and_its_pages(self):
        # kernel 3 takes batches 1 and 2 (pages 0x100..0x103, then 0x200 and 0x280), kernel 7 batch 3; an
        # entry with no kernel ("-") does not count
        def fault(batch, kernel, page):
            return {"kind": "fault_entry", "batch": str(batch), "kernel": kernel, "address": str(page << 12)}
        rows = [fault(1, "3", 0x100 + i) for i in range(4)] + [fault(1, "3", 0x100)]
        rows += [fault(2, "3", 0x200), fault(2, "3", 0x280), fault(2, "-", 0x900)]
        rows += [fault(3, "7", 0x500)]
        kernel, batches, pages, span = driver_batches.kernel_spans(rows)
        self.assertEqual((kernel, batches), (3, 2))
        self.assertEqual(pages, (4 + 3) / 2)  # distinct pages, the unattributed entry's included
        self.assertEqual(span, (3 + 0x700) / 2)


if __name__ == "__main__":
    unittest.main()
