// The gmmu's parts on their own: the TLB's direct mapping and its cost in a run, the fault buffer's caps and
// arrival order, the page table's masks.
#include <gtest/gtest.h>

#include "sim/gmmu/fault_buffer.h"
#include "sim/gmmu/page_table.h"
#include "sim/gmmu/tlb.h"
#include "test_util.h"

namespace uvmsim {
namespace {

using namespace testing;

TEST(Tlb, DirectMappedByBlock) {
  Tlb t(2, 2);
  EXPECT_TRUE(t.miss(0, 5));
  EXPECT_FALSE(t.miss(0, 5));
  EXPECT_TRUE(t.miss(1, 5));  // per SM
  EXPECT_TRUE(t.miss(0, 6));  // the other entry
  EXPECT_FALSE(t.miss(0, 5));
  EXPECT_TRUE(t.miss(0, 7));  // same entry as 5 (tags 6 and 8 share entry 0)
  EXPECT_TRUE(t.miss(0, 5));
  EXPECT_FALSE(Tlb(4, 0).enabled());
}

TEST(Tlb, MissesCostTimeInARun) {
  // One CTA reading two blocks alternately, data resident after a first kernel: with one entry per SM every
  // access switches blocks and misses.
  trace::Trace t = base_trace(4 << 20);
  std::vector<uint64_t> pages;
  for (uint64_t i = 0; i < 8; ++i) pages.push_back(i % 2 ? 512 + i : i);
  add_kernel(t, {pages});
  add_sync(t);
  add_kernel(t, {pages});
  Config c;
  const Stats off = run(t, c);
  c.gpu.tlb_entries = 1;
  c.gpu.tlb_miss_ns = 1000;
  const Stats on = run(t, c);
  EXPECT_EQ(off.tlb_misses, 0u);
  EXPECT_GE(on.tlb_misses, 8u);
  EXPECT_GT(on.kernels[1].end_ns - on.kernels[1].start_ns, off.kernels[1].end_ns - off.kernels[1].start_ns);
}

class Left final : public FaultBuffer::Client {
 public:
  void entry_left(const FaultEntry& e) override { pages.push_back(e.page); }
  std::vector<uint32_t> pages;
};

TEST(FaultBuffer, CapsArrivalOrderAndFlush) {
  Left left;
  FaultBuffer b(2, 2, 3, 100, 10);
  b.connect(left);
  EXPECT_EQ(b.raise(0, 1, 0, 0, 0, 0, 0, 0), 100);
  EXPECT_EQ(b.raise(0, 2, 0, 0, 0, 0, 0, 0), 110);  // one at a time per uTLB
  EXPECT_EQ(b.raise(0, 3, 0, 0, 0, 0, 0, 0), -1);   // uTLB 0 has two outstanding
  EXPECT_EQ(b.raise(5, 4, 0, 1, 0, 0, 0, 0), 105);
  EXPECT_EQ(b.raise(5, 5, 0, 1, 0, 0, 0, 0), -1);  // the buffer holds three
  std::vector<FaultEntry> got;
  b.fetch(106, 10, got);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].page, 1u);
  EXPECT_EQ(got[1].page, 4u);
  EXPECT_EQ(b.flush(200), 1u);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(left.pages, (std::vector<uint32_t>{1, 4, 2}));
  EXPECT_EQ(b.raise(300, 6, 0, 0, 0, 0, 0, 0), 400);  // slots freed
}

// The write port: entries reach the buffer one at a time, GPCs in turn entry by entry, a GPC's uTLBs in
// turns of `burst` entries (uTLBs 0 and 1 in GPC 0, 2 and 3 in GPC 1; bursts of 2, 10 ns apart).
TEST(FaultBuffer, AWritePortTakesGpcsInTurnAndUtlbsInBursts) {
  Left left;
  FaultBuffer b(4, 8, 64, 100, 0);
  b.connect(left);
  b.configure_port(10, 2, {0, 0, 1, 1});
  for (uint32_t i = 0; i < 3; ++i) {
    b.raise(0, 10 + i, 0, 0, 0, 0, 0, 0);
    b.raise(0, 20 + i, 0, 1, 0, 0, 0, 0);
    b.raise(0, 30 + i, 0, 2, 0, 0, 0, 0);
  }
  EXPECT_EQ(b.size(), 9u);
  EXPECT_EQ(b.earliest_arrival(), 100);
  std::vector<FaultEntry> got;
  b.fetch(135, 64, got);  // the port has written four by then
  ASSERT_EQ(got.size(), 4u);
  b.fetch(1000, 64, got);
  std::vector<uint32_t> pages;
  std::vector<int64_t> at;
  for (const FaultEntry& e : got) pages.push_back(e.page), at.push_back(e.arrival);
  EXPECT_EQ(pages, (std::vector<uint32_t>{10, 30, 11, 31, 20, 32, 21, 12, 22}));
  EXPECT_EQ(at, (std::vector<int64_t>{100, 110, 120, 130, 140, 150, 160, 170, 180}));
  EXPECT_TRUE(b.empty());
}

// With the write port, gpu.fault_issue_ns still spaces one uTLB's entries: uTLB 0's three faults are ready
// 100, 150 and 200 ns after they are raised at 0 (latency 100, issue 50); the port writes each when ready.
TEST(FaultBuffer, AWritePortKeepsAUtlbsIssueSpacing) {
  Left left;
  FaultBuffer b(2, 8, 64, 100, 50);
  b.connect(left);
  b.configure_port(10, 4, {0, 0});
  for (uint32_t i = 0; i < 3; ++i) b.raise(0, 10 + i, 0, 0, 0, 0, 0, 0);
  b.raise(0, 20, 0, 1, 0, 0, 0, 0);
  std::vector<FaultEntry> got;
  b.fetch(1000, 64, got);
  std::vector<int64_t> at;
  for (const FaultEntry& e : got) at.push_back(e.arrival);
  EXPECT_EQ(at, (std::vector<int64_t>{100, 110, 150, 200}));
}

// Miss slots: a uTLB holds at most 3 granules of 4 pages until the replay; faults in a held granule join it
// (an entry each), a fault in a fourth waits; fetching the entries frees nothing, the replay frees all; a
// write in a new granule takes the last slot, so only the granules held fault after it.
TEST(FaultBuffer, MissSlotsHoldGranulesUntilTheReplayAndAWriteTakesTheLast) {
  Left left;
  FaultBuffer b(2, 100, 100, 10, 0);
  b.connect(left);
  b.configure_slots(3, 4, true);
  EXPECT_GE(b.raise(0, 0, 0, 0, 0, 0, 0, 0), 0);    // granule 0
  EXPECT_GE(b.raise(0, 3, 0, 0, 0, 0, 0, 0), 0);    // granule 0 again: no slot taken
  EXPECT_GE(b.raise(0, 4, 0, 0, 0, 0, 0, 0), 0);    // granule 1
  EXPECT_GE(b.raise(0, 9, 0, 0, 0, 0, 0, 0), 0);    // granule 2
  EXPECT_EQ(b.raise(0, 12, 0, 0, 0, 0, 0, 0), -1);  // a fourth granule waits
  EXPECT_GE(b.raise(0, 12, 0, 1, 0, 0, 0, 0), 0);   // the other uTLB has its own slots
  EXPECT_GE(b.raise(0, 5, 0, 0, 0, 0, 0, 0), 0);    // granule 1 is held
  std::vector<FaultEntry> got;
  b.fetch(100, 100, got);
  EXPECT_EQ(got.size(), 6u);
  EXPECT_EQ(b.raise(100, 12, 0, 0, 0, 0, 0, 0), -1);  // fetched, still held
  b.replayed(150);
  EXPECT_GE(b.raise(200, 12, 1, 0, 0, 0, 0, 0), 0);   // a write in a new granule closes uTLB 0
  EXPECT_EQ(b.raise(200, 16, 0, 0, 0, 0, 0, 0), -1);  // no other granule faults
  EXPECT_GE(b.raise(200, 13, 0, 0, 0, 0, 0, 0), 0);   // its own granule does
  EXPECT_GE(b.raise(200, 16, 0, 1, 0, 0, 0, 0), 0);   // uTLB 1 had its slots freed by the replay too
  b.configure_slots(3, 4, false);                     // writes take one slot, as reads do
  EXPECT_GE(b.raise(300, 0, 1, 0, 0, 0, 0, 0), 0);
  EXPECT_GE(b.raise(300, 4, 0, 0, 0, 0, 0, 0), 0);
}

// gpu.utlb_slot_rewalk_ns: after a replay a uTLB that held slots re-walks them before it takes a new granule;
// a granule it held that faults again re-takes its slot at once (the H200's probe: a uTLB's re-faults come
// as the replay lands, its first new granule 0.74 us after, results/utlb_burst.md).
TEST(FaultBuffer, AfterAReplayAUtlbReWalksItsHeldGranulesBeforeTakingNewOnes) {
  Left left;
  FaultBuffer b(2, 100, 100, 10, 0);
  b.connect(left);
  b.configure_slots(3, 4, false);
  b.configure_rewalk(500);
  EXPECT_EQ(b.raise(0, 0, 0, 0, 0, 0, 0, 0), 10);  // granule 0 of uTLB 0
  EXPECT_EQ(b.raise(0, 4, 0, 0, 0, 0, 0, 0), 10);  // granule 1
  std::vector<FaultEntry> got;
  b.fetch(100, 100, got);
  b.replayed(1000);
  EXPECT_EQ(b.raise(1000, 1, 0, 0, 0, 0, 0, 0), 1010);   // granule 0 again: at once
  EXPECT_EQ(b.raise(1000, 8, 0, 0, 0, 0, 0, 0), 1500);   // granule 2, new: after the re-walk
  EXPECT_EQ(b.raise(1000, 8, 0, 1, 0, 0, 0, 0), 1010);   // uTLB 1 held nothing: nothing to re-walk
  EXPECT_EQ(b.raise(2000, 12, 0, 0, 0, 0, 0, 0), 2010);  // after the re-walk: at once
  b.configure_rewalk(0);
  b.replayed(3000);
  EXPECT_EQ(b.raise(3000, 40, 0, 0, 0, 0, 0, 0), 3010);  // off: a new granule at once
}

// gpu.utlb_round_window_ns: a uTLB takes new granules for the window after its round's first; a later miss
// in a new granule waits for the replay (raise refuses it), one in a granule it holds still faults, and the
// replay opens a new round (the H200's staggered-warp probe: about 400 ns, results/utlb_stagger.md).
TEST(FaultBuffer, AUtlbTakesNewGranulesOnlyForTheWindowAfterItsRoundsFirst) {
  Left left;
  FaultBuffer b(2, 100, 100, 10, 0);
  b.connect(left);
  b.configure_slots(14, 4, false);
  b.configure_round_window(400);
  EXPECT_EQ(b.raise(1000, 0, 0, 0, 0, 0, 0, 0), 1010);  // the round's first: granule 0
  EXPECT_EQ(b.raise(1400, 4, 0, 0, 0, 0, 0, 0), 1410);  // 400 ns later: in the window
  EXPECT_EQ(b.raise(1401, 8, 0, 0, 0, 0, 0, 0), -1);    // past it: waits for the replay
  EXPECT_EQ(b.raise(5000, 1, 0, 0, 0, 0, 0, 0), 5010);  // granule 0, held: faults
  EXPECT_EQ(b.raise(5000, 8, 0, 1, 0, 0, 0, 0), 5010);  // uTLB 1's own round
  b.replayed(6000);
  EXPECT_EQ(b.raise(6000, 8, 0, 0, 0, 0, 0, 0), 6010);  // the replay: a new round
  EXPECT_EQ(b.raise(6000, 12, 0, 0, 0, 0, 0, 0), 6010);
}

// With the re-walk too: after a replay a granule the window held back faults at once (the probe: the misses
// that waited come within 0.03 us of the replay), a granule never seen waits for the re-walk.
TEST(FaultBuffer, GranulesTheWindowHeldBackFaultAtOnceAfterTheReplay) {
  Left left;
  FaultBuffer b(1, 100, 100, 10, 0);
  b.connect(left);
  b.configure_slots(14, 4, false);
  b.configure_rewalk(700);
  b.configure_round_window(400);
  EXPECT_EQ(b.raise(0, 0, 0, 0, 0, 0, 0, 0), 10);     // granule 0
  EXPECT_EQ(b.raise(1000, 4, 0, 0, 0, 0, 0, 0), -1);  // granule 1, past the window: held back
  b.replayed(2000);
  EXPECT_EQ(b.raise(2000, 4, 0, 0, 0, 0, 0, 0), 2010);  // held back: at once, opening the round
  EXPECT_EQ(b.raise(2000, 8, 0, 0, 0, 0, 0, 0), -1);    // new: after the re-walk, 2700, past the window
}

// gpu.utlb_one_warp: between two replays a uTLB faults on the misses of the first warp access that faulted
// on it (CTA start ordinal and warp); another warp's or CTA's miss is refused with kOtherAccess, while the
// same access's further misses and other uTLBs' fault. The replay frees it.
TEST(FaultBuffer, OneWarpAccessARoundPerUtlb) {
  Left left;
  FaultBuffer b(2, 100, 100, 10, 0);
  b.connect(left);
  b.configure_one_access();
  // raise(now, page, kind, utlb, slot, cta_start, tenant, kernel, reissue, warp)
  EXPECT_EQ(b.raise(0, 0, 0, 0, 0, 7, 0, 0, true, 3), 10);  // CTA 7's warp 3 takes uTLB 0
  EXPECT_EQ(b.raise(0, 1, 0, 0, 0, 7, 0, 0, true, 3), 10);  // its further miss
  EXPECT_EQ(b.raise(0, 2, 0, 0, 0, 7, 0, 0, true, 4), FaultBuffer::kOtherAccess);  // another warp
  EXPECT_EQ(b.raise(0, 3, 0, 0, 1, 8, 0, 0, true, 3), FaultBuffer::kOtherAccess);  // another CTA
  EXPECT_EQ(b.raise(0, 3, 0, 1, 1, 8, 0, 0, true, 3), 10);                         // another uTLB
  std::vector<FaultEntry> got;
  b.fetch(100, 100, got);
  EXPECT_EQ(got.size(), 3u);
  b.replayed(200);
  EXPECT_EQ(b.raise(200, 2, 0, 0, 0, 7, 0, 0, true, 4), 210);  // the next round: warp 4 first
  EXPECT_EQ(b.raise(200, 0, 0, 0, 0, 7, 0, 0, true, 3), FaultBuffer::kOtherAccess);
}

TEST(PageTable, MasksFollowLocations) {
  trace::Trace t = base_trace(3 << 20);
  Workload w = Workload::build(t, "t");
  PageTable pt(w);
  EXPECT_EQ(pt.valid(0).count(), 512u);
  EXPECT_EQ(pt.hi(1), 256u);
  pt.set_loc(3, kOnGpu);
  pt.set_loc(4, kOnCpu);
  EXPECT_TRUE(pt.mapped(3));
  EXPECT_TRUE(pt.on_gpu(0).test(3));
  EXPECT_TRUE(pt.on_cpu(0).test(4));
  pt.map_remote(4);
  EXPECT_TRUE(pt.mapped(4));
  pt.set_loc(3, kNowhere);
  EXPECT_FALSE(pt.mapped(3));
  EXPECT_TRUE(pt.on_gpu(0).none());
}

}  // namespace
}  // namespace uvmsim
