"""scripts/utlb_burst.py's rounds on a made-up uvm_events.bin: two clients, a replay, a page twice."""
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
import utlb_burst  # noqa: E402
import uvm_events  # noqa: E402  (utlb_burst put cuda_tracer/ on the path)


def fault(gpc, client, page, gpu_ns, batch):
    e = bytearray(uvm_events.ENTRY)
    e[0] = 3
    struct.pack_into("<HH", e, 4, gpc, client)
    struct.pack_into("<QQQI", e, 8, page << 12, 0, gpu_ns, batch)
    return bytes(e)


def replay(batch, gpu_ns):
    e = bytearray(uvm_events.ENTRY)
    e[0] = 4
    struct.pack_into("<IQQ", e, 4, batch, 0, gpu_ns)
    return bytes(e)


def events_file(records):
    body = b"".join(records)
    head = uvm_events.HEADER.pack(b"UVMTDRV1", uvm_events.ENTRY, 0, 0, 0, 0, b"")
    trailer = struct.pack("<Q64QQQQ", len(records), *([0] * 64), 0, 0, 0)
    f = tempfile.NamedTemporaryFile(suffix=".bin", delete=False)
    f.write(head + body + trailer)
    f.close()
    return f.name


class Rounds(unittest.TestCase):
    def test_first_round_a_replay_and_a_page_twice(self):
        # round 0: client (0, 1) faults on pages 1 and 2, client (0, 2) on page 3 (batch 1); replay at 10 us;
        # round 1: client (0, 1) on page 4 at the replay (+1 us) and page 1 again 50 us later, both in batch 2,
        # where page 1 has an entry of batch 1's too (not the same batch: not counted twice)
        path = events_file([fault(0, 1, 1, 1000, 1), fault(0, 1, 2, 1020, 1), fault(0, 2, 3, 1040, 1),
                            replay(1, 10000), fault(0, 1, 4, 11000, 2), fault(0, 1, 1, 60000, 2),
                            fault(0, 1, 1, 60020, 2)])
        try:
            faults, replays = utlb_burst.entries(path)
        finally:
            os.unlink(path)
        self.assertEqual(replays, [10000])
        per, twice = utlb_burst.rounds(faults, replays)
        self.assertEqual(len(per[(0, (0, 1))][0]), 2)
        self.assertEqual(len(per[(0, (0, 2))][0]), 1)
        self.assertEqual(per[(1, (0, 1))][0], {4, 1})
        self.assertEqual(per[(1, (0, 1))][1], {4})  # within 3 us of the replay
        self.assertEqual(twice, 1)  # page 1 twice in batch 2


class Batches(unittest.TestCase):
    def test_batches_in_order_of_their_earliest_entry(self):
        # batch 7 (earliest at 1 us): pages 1, 2 of client a and page 1 again of client b; batch 3 at 5 us
        faults = sorted([(1000, "a", 1, 7), (1100, "a", 2, 7), (1200, "b", 1, 7), (5000, "b", 9, 3)])
        self.assertEqual(utlb_burst.driver_batches(faults), [(3, 2, 2), (1, 1, 1)])
        self.assertEqual(utlb_burst.summary([(3, 2, 2), (1, 1, 1), (5, 5, 1)]), "3 | 3 | 2 | 1 | 1")
        self.assertEqual(utlb_burst.summary([]), "0 | - | - | - | -")


class Waves(unittest.TestCase):
    def test_refaults_and_new_granules_after_a_replay(self):
        # round 1: client a faults on pages 0 and 4 (granules 0 and 1); replay at 10 us; then a re-fault of
        # page 1 (granule 0, held) 32 ns after, a new granule (page 40) 740 ns after, page 5 (held) later;
        # a second replay at 20 us with nothing after it
        faults = sorted([(1000, "a", 0, 1), (1020, "a", 4, 1), (10032, "a", 1, 2), (10740, "a", 40, 2),
                         (10800, "a", 5, 2)])
        w = utlb_burst.waves(faults, [10000, 20000])
        self.assertEqual(w, [(32, 32, 740, None)])  # fewer than 65 entries: no spacing
        # another client's held granules are not a's: its page 0 after the replay is a new granule for b
        w = utlb_burst.waves(sorted(faults + [(10100, "b", 0, 2)]), [10000, 20000])
        self.assertEqual(w[0][:3], (32, 32, 100))


if __name__ == "__main__":
    unittest.main()
