"""cuda_tracer/ncu_sass.py on SASS the H200 ran (recordings/sm_share_sass_*_h200.jsonl.gz), cut short."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "cuda_tracer"))
import ncu_sass  # noqa: E402


def sass(lines, count=100):
    return [["0x%x" % (0x1000 + 16 * i), count, t] for i, t in enumerate(lines)]


class LoadsInFlight(unittest.TestCase):
    def test_a_load_use_loop_waits_with_one(self):
        # the probe's copy: a float4 load, used by the add before the store, then the loop's back edge
        loop = sass(["IADD3 R6, P0, R3, UR10, RZ", "LDG.E.128 R4, desc[UR6][R6.64]", "IADD3 R8, P0, R8, UR4, RZ",
                     "FADD R4, R4, 1", "STG.E.128 desc[UR6][R2.64], R4", "@!P0 BRA 0x1000"])
        self.assertEqual(ncu_sass.loads_in_flight(loop), 1.0)

    def test_loads_issued_together_are_waited_for_together(self):
        # PyTorch's vectorised add: two float4s of each input, then the FFMAs that use them
        add = sass(["LDG.E.128 R12, desc[UR4][R20.64]", "LDG.E.128 R4, desc[UR4][R20.64+0x800]",
                    "LDG.E.128 R16, desc[UR4][R22.64]", "LDG.E.128 R8, desc[UR4][R22.64+0x800]",
                    "IMAD.WIDE.U32 R24, R0, 0x4, R24", "FFMA R15, R19, UR6, R15", "FFMA R7, R11, UR6, R7",
                    "STG.E.128 desc[UR4][R24.64], R12", "EXIT"])
        self.assertEqual(ncu_sass.loads_in_flight(add), 4.0)

    def test_a_path_no_warp_took_waits_for_nothing(self):
        # PyTorch's clamp: two loads, a branch past code that never ran, then the use
        clamp = sass(["LDG.E.128 R4, desc[UR4][R12.64]", "LDG.E.128 R8, desc[UR4][R12.64+0x800]",
                      "@!P0 BRA 0x1040"]) + [["0x1030", 0, "FMNMX R4, R4, R3, PT"]] + \
            [["0x1040", 100, "FMNMX R4, R4, R3, PT"], ["0x1050", 100, "EXIT"]]
        self.assertEqual(ncu_sass.loads_in_flight(clamp), 2.0)

    def test_loads_used_at_the_next_turn_are_waited_for_at_the_back_edge(self):
        loop = sass(["FADD R2, R4, 1", "STG.E desc[UR6][R8.64], R2", "LDG.E R4, desc[UR6][R6.64]",
                     "LDG.E R5, desc[UR6][R6.64+0x80]", "@!P0 BRA 0x1000"])
        self.assertEqual(ncu_sass.loads_in_flight(loop), 2.0)

    def test_async_copies_are_waited_for_by_depbar(self):
        gemm = sass(["LDGSTS.E [R3], desc[UR4][R8.64]", "LDGSTS.E [R3+0x80], desc[UR4][R8.64+0x80]",
                     "LDGSTS.E [R3+0x100], desc[UR4][R8.64+0x100]", "DEPBAR.LE SB0, 0x1", "LDS R4, [R3]"])
        self.assertEqual(ncu_sass.loads_in_flight(gemm), 3.0)

    def test_no_global_load_is_one(self):
        self.assertEqual(ncu_sass.loads_in_flight(sass(["FFMA R1, R1, R2, R3", "EXIT"])), 1.0)


if __name__ == "__main__":
    unittest.main()
