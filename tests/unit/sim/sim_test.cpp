#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "sim/cli/run.h"
#include "test_util.h"
#include "workloads/generate.h"

namespace uvmsim {
namespace {

using namespace testing;

TEST(Simulator, CoalescesDuplicateFaults) {
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, {{0}, {0}, {0}, {0}});  // four CTAs on SMs 0..3 (uTLBs 0, 0, 1, 1) fault on one page
  Stats s = run(t);
  EXPECT_EQ(s.faults_fetched, 4u);
  EXPECT_EQ(s.faults_coalesced, 3u);
  EXPECT_EQ(s.faults_unique, 1u);
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.bytes_zero_filled, 64u << 10);  // the big page, populated in place
}

// Validation sees every batch the driver model serviced: its fetched entries (duplicates included), the
// distinct pages and blocks, the kernel its entries came from, and a replay no earlier than its first entry.
TEST(Simulator, RecordsEveryBatchForValidation) {
  trace::Trace t = base_trace(8 << 20);
  std::vector<std::vector<uint64_t>> ctas;
  for (uint64_t c = 0; c < 64; ++c) ctas.push_back({c * 16, c * 16 + 1, (c * 16 + 700) % 2048});
  add_kernel(t, ctas);
  add_kernel(t, {{5}, {5}, {1500}});
  std::vector<BatchRecord> records;
  const Stats s = run(t, Config{}, &records);
  ASSERT_EQ(records.size(), s.batches);
  uint64_t entries = 0, pages = 0;
  for (const BatchRecord& b : records) {
    entries += b.entries;
    pages += b.pages;
    EXPECT_LE(b.pages, b.entries);
    EXPECT_GE(b.blocks, 1u);
    EXPECT_LE(b.blocks, b.pages);
    EXPECT_LT(b.kernel, 2u);
    EXPECT_GE(b.replay_ns, b.first_arrival_ns);
  }
  EXPECT_EQ(entries, s.faults_fetched);
  EXPECT_EQ(pages, s.faults_unique);
  EXPECT_EQ(records.front().kernel, 0u);
}

TEST(Simulator, FaultBufferOverflowHoldsFaultsBack) {
  trace::Trace t = base_trace(64 << 20);
  std::vector<uint64_t> strided;
  for (uint64_t p = 0; p < 16384; p += 16) strided.push_back(p);  // one page per big page
  add_kernel(t, {strided});
  Config c;
  c.gpu.fault_buffer_entries = 16;
  c.gpu.utlb_max_outstanding_faults = 1000;
  Stats s = run(t, c);
  EXPECT_GT(s.faults_not_entered, 0u);
  EXPECT_LE(s.faults_per_batch.max, 16u);
  EXPECT_EQ(s.page_accesses, strided.size());
}

// With BATCH_FLUSH the driver re-reads PUT before its flush only when more than
// driver.fault_replay_update_put_ratio % (50) of the batch were duplicates; otherwise the flush stops at the
// PUT it cached when it fetched the batch (reference/uvm-driver.md), and a fault that reached the buffer
// while the batch was serviced stays for the next batch. Three CTAs fault at once on CPU-written pages of
// the first block, copied in at 10 MB/s; a fourth touches the second block halfway through its run, while
// that copy is under way. With three distinct pages its fault survives the flush and the next batch takes
// it; with three faults on one page (two thirds duplicates) PUT is re-read, it is flushed, and it faults
// again after the replay.
TEST(Simulator, FlushStopsAtTheCachedPutUnlessTheBatchWasMostlyDuplicates) {
  for (bool duplicates : {false, true}) {
    trace::Trace t = base_trace(4 << 20);
    add_op(t, trace::OpKind::kHostAccess, 0, 1024);
    const std::vector<std::vector<uint64_t>> pages =
        duplicates ? std::vector<std::vector<uint64_t>>{{0}, {0}, {0}, {}}
                   : std::vector<std::vector<uint64_t>>{{0}, {1}, {2}, {}};
    add_kernel(t, pages, trace::AccessKind::kRead, 200000, 32);
    trace::Cta& late = t.ctas.back();
    late.range_begin = t.ranges.size();
    late.range_count = 1;
    t.ranges.push_back(
        {kVaPage + 512, 1, trace::AccessKind::kRead, trace::kIntervalScale / 2, trace::kIntervalScale});
    Config c;
    c.pcie.htod_bytes_per_s = 10000000;
    const Stats s = run(t, c);
    const char* what = duplicates ? "duplicates" : "distinct pages";
    EXPECT_EQ(s.faults_flushed, duplicates ? 1u : 0u) << what;
    EXPECT_EQ(s.faults_raised, duplicates ? 5u : 4u) << what;
    EXPECT_EQ(s.batches, 2u) << what;
  }
}

TEST(Simulator, UtlbCapLimitsOutstandingFaults) {
  trace::Trace t = base_trace(64 << 20);
  std::vector<uint64_t> strided;
  for (uint64_t p = 0; p < 16384; p += 16) strided.push_back(p);
  add_kernel(t, {strided});
  Config c;
  c.gpu.utlb_max_outstanding_faults = 8;
  c.select("prefetch", "none");  // every page faults on its own
  Stats s = run(t, c);
  EXPECT_LE(s.faults_per_batch.max, 8u);
  EXPECT_GE(s.batches, strided.size() / 8);
}

// gpu.warp_interleave: a CTA's faulting accesses of one moment go a warp at a time in turn, each warp the
// next share of the pages in address order. One CTA of 64 threads (two warps) touches four pages of block 0
// and four of block 1 at once, and its uTLB holds two faults: in address order the first batch holds pages 0
// and 1 (one block); by warps in turn, page 0 (warp 0's first) and page 512 (warp 1's first): two blocks.
// Every page is touched either way, and each of the eight faults once.
TEST(Simulator, WarpsInTurnSpreadACtasFirstFaultsOverItsWarpsShares) {
  for (int interleave : {0, 1}) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {{0, 1, 2, 3, 512, 513, 514, 515}}, trace::AccessKind::kRead, 10000, 64);
    Config c;
    c.gpu.utlb_max_outstanding_faults = 2;
    c.gpu.fault_jitter_ns = 0;
    c.gpu.warp_interleave = interleave;
    c.select("prefetch", "none");
    std::vector<BatchRecord> records;
    const Stats s = run(t, c, &records);
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records.front().entries, 2u) << interleave;
    EXPECT_EQ(records.front().blocks, interleave ? 2u : 1u) << interleave;
    EXPECT_EQ(s.page_accesses, 8u);
    EXPECT_EQ(s.faults_unique, 8u);
  }
}

// gpu.warp_interleave 2: a CTA of two warps touches pages 0..3 (warp 0's share) and 512..515 (warp 1's)
// at once, its uTLB holds two faults: whichever warp is drawn first, the first batch holds two pages of its
// share (one block), where warps in turn take one page of each (two blocks).
TEST(Simulator, WarpsOneAfterAnotherFillABatchFromOneWarpsShare) {
  for (int64_t seed = 1; seed <= 6; ++seed) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {{0, 1, 2, 3, 512, 513, 514, 515}}, trace::AccessKind::kRead, 10000, 64);
    Config c;
    c.seed = seed;
    c.gpu.utlb_max_outstanding_faults = 2;
    c.gpu.fault_jitter_ns = 0;
    c.gpu.warp_interleave = 2;
    c.select("prefetch", "none");
    std::vector<BatchRecord> records;
    const Stats s = run(t, c, &records);
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records.front().entries, 2u) << seed;
    EXPECT_EQ(records.front().blocks, 1u) << seed;
    EXPECT_EQ(s.faults_unique, 8u);
  }
}

// gpu.warp_lane_pages: a CTA of 256 threads (8 warps) reads 64 pages in one moment, each in its own granule
// of 4, the first 32 in block 0 and the last 32 in block 1, as a kernel whose thread t reads page t does
// with its first 64 threads (two warps at work). Warps in turn, its uTLB holding 4 granules: spread over all
// 8 warps (8 pages each) the first round takes the first page of warps 0 to 3, all in block 0; at 32 pages a
// warp (a page a lane) two warps hold them, and the round takes the first two pages of each: two blocks.
TEST(Simulator, LanePagesPutAMomentsPagesOnTheWarpsThatHoldThem) {
  std::vector<uint64_t> pages;
  for (uint64_t i = 0; i < 64; ++i) pages.push_back(i < 32 ? 4 * i : 512 + 4 * (i - 32));
  for (int64_t lane_pages : {0, 32}) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {pages}, trace::AccessKind::kRead, 10000, 256);
    Config c;
    c.gpu.fault_jitter_ns = 0;
    c.gpu.warp_interleave = 1;
    c.gpu.warp_lane_pages = lane_pages;
    c.gpu.utlb_miss_slots = 4;
    c.gpu.utlb_miss_granule_pages = 4;
    c.select("prefetch", "none");
    std::vector<BatchRecord> records;
    const Stats s = run(t, c, &records);
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records.front().entries, 4u) << lane_pages;
    EXPECT_EQ(records.front().blocks, lane_pages ? 2u : 1u) << lane_pages;
    EXPECT_EQ(s.faults_unique, 64u);
  }
}

// gpu.utlb_miss_slots: one CTA reads 20 pages, each in its own granule of 4; its uTLB holds 14 granules
// until the replay, so the first batch holds 14 entries and the rest fault after it. Writes: the first
// write takes the last slot, so each batch holds one page.
TEST(Simulator, MissSlotsLimitWhatAUtlbFaultsBeforeTheReplay) {
  std::vector<uint64_t> pages;
  for (uint64_t p = 0; p < 20; ++p) pages.push_back(4 * p);
  for (auto kind : {trace::AccessKind::kRead, trace::AccessKind::kWrite}) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {pages}, kind, 10000, 32);
    Config c;
    c.gpu.fault_jitter_ns = 0;
    c.gpu.utlb_miss_slots = 14;
    c.gpu.utlb_miss_granule_pages = 4;
    c.gpu.utlb_write_closes = 1;
    c.select("prefetch", "none");
    std::vector<BatchRecord> records;
    const Stats s = run(t, c, &records);
    const bool write = kind == trace::AccessKind::kWrite;
    ASSERT_EQ(records.size(), write ? 20u : 2u);
    EXPECT_EQ(records.front().entries, write ? 1u : 14u);
    EXPECT_EQ(s.faults_unique, 20u);
  }
}

// gpu.replay_wake_shuffle: six one-CTA kernels on six streams share one SM and a uTLB that holds one fault,
// so each round one CTA's fault gets in and the batch is its kernel's. In stall order the kernels take
// their turns the same way whatever the seed; shuffled, the order is a seeded permutation: each kernel
// once, the same for a seed, not the same for every seed.
TEST(Simulator, AReplayWakesStalledCtasInASeededOrderWhenShuffled) {
  auto order = [](int64_t shuffle, int64_t seed) {
    trace::Trace t = base_trace(16 << 20);
    for (uint32_t k = 0; k < 6; ++k) {
      add_kernel(t, {{512ull * k}});
      t.kernels.back().stream = k;
      t.ops.back().stream = k;
    }
    Config c;
    c.seed = seed;
    c.gpu.sm_count = 1;
    c.gpu.utlb_max_outstanding_faults = 1;
    c.gpu.fault_jitter_ns = 0;
    c.gpu.replay_wake_shuffle = shuffle;
    c.select("prefetch", "none");
    std::vector<BatchRecord> records;
    run(t, c, &records);
    std::vector<uint32_t> kernels;
    for (const BatchRecord& r : records) kernels.push_back(r.kernel);
    return kernels;
  };
  const std::vector<uint32_t> fifo = order(0, 1);
  ASSERT_EQ(fifo.size(), 6u);
  EXPECT_EQ(order(0, 2), fifo);
  std::set<std::vector<uint32_t>> seen;
  for (int64_t seed = 1; seed <= 4; ++seed) {
    std::vector<uint32_t> o = order(1, seed);
    EXPECT_EQ(o, order(1, seed));
    std::vector<uint32_t> sorted = o;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
    seen.insert(o);
  }
  EXPECT_GT(seen.size(), 1u);
}

// `sms` SMs with a uTLB each, faults reaching it without jitter, no prefetching: each CTA's faults its own.
Config a_utlb_per_sm(uint32_t sms) {
  Config c;
  c.gpu.sm_count = sms;
  c.gpu.sms_per_utlb = 1;
  c.gpu.fault_jitter_ns = 0;
  c.select("prefetch", "none");
  return c;
}

// Twelve CTAs on four SMs (a uTLB each, one fault outstanding; SMs 2t and 2t+1 are TPC t), dealt round-robin
// in three rounds, CTA i reading page 512 * (i / per_block) + i % per_block: each replay lets each SM's first
// re-issued CTA fault, so there is a round per batch. The batches, under that wake order and seed.
std::vector<BatchRecord> wake_rounds(uint64_t per_block, int64_t shuffle, int64_t seed) {
  trace::Trace t = base_trace(16 << 20);
  std::vector<std::vector<uint64_t>> ctas;
  for (uint64_t i = 0; i < 12; ++i) ctas.push_back({512 * (i / per_block) + i % per_block});
  add_kernel(t, ctas);
  Config c = a_utlb_per_sm(4);
  c.seed = seed;
  c.gpu.dispatch_by_tpc = 0;  // CTA i on SM i % 4, as the rounds above are dealt
  c.gpu.utlb_max_outstanding_faults = 1;
  c.gpu.replay_wake_shuffle = shuffle;
  std::vector<BatchRecord> records;
  const Stats s = run(t, c, &records);
  EXPECT_EQ(s.faults_unique, 12u);
  EXPECT_EQ(records.size(), 3u);
  return records;
}

// Over eight seeds, `order` gives no batch that `off` counts, and the shuffle per CTA (1) gives some.
template <class Off>
void no_batch_off_but_shuffled(uint64_t per_block, int64_t order, Off off) {
  auto count = [&](int64_t shuffle, int64_t seed) {
    uint32_t n = 0;
    for (const BatchRecord& r : wake_rounds(per_block, shuffle, seed)) n += off(r);
    return n;
  };
  uint32_t shuffled = 0;
  for (int64_t seed = 1; seed <= 8; ++seed) {
    EXPECT_EQ(count(order, seed), 0u) << seed;
    shuffled += count(1, seed);
  }
  EXPECT_GT(shuffled, 0u);
}

// gpu.replay_wake_shuffle 2: CTAs 4j+2t and 4j+2t+1 (TPC t, round j) read the two halves of one block. Drawn
// per TPC and round, the two SMs of a TPC fault in one block (each batch's blocks are half its entries);
// drawn per CTA, some seed splits a TPC.
TEST(Simulator, TheTwoSmsOfATpcWakeCtasOfOneDispatchRound) {
  no_batch_off_but_shuffled(2, 2, [](const BatchRecord& r) { return 2 * r.blocks != r.entries; });
}

// gpu.replay_wake_shuffle 3: after a replay each SM re-issues its oldest stalled CTA first. The CTAs of round
// r each fault on a page of block r, so each batch holds one round's four pages, one block; a shuffled wake
// order mixes rounds in some batch.
TEST(Simulator, EachSmReissuesItsOldestStalledCtaFirst) {
  no_batch_off_but_shuffled(4, 3, [](const BatchRecord& r) { return r.blocks != 1; });
}

// gpu.write_fault_per_line: a write miss writes one entry per line its warp access touches in the page (the
// kernel's write_lines: 4 for a float4 store by a whole warp); a read miss writes one; off, one each.
TEST(Simulator, AWriteMissWritesAnEntryPerLineItsWarpAccessTouches) {
  auto first_batch = [](trace::AccessKind kind, int64_t per_line, uint8_t lines) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {{3}}, kind);
    t.kernels[0].write_lines = lines;
    Config c;
    c.gpu.write_fault_per_line = per_line;
    c.select("prefetch", "none");
    std::vector<BatchRecord> records;
    run(t, c, &records);
    EXPECT_EQ(records.size(), 1u);
    return records.front();
  };
  const BatchRecord b = first_batch(trace::AccessKind::kWrite, 1, 4);
  EXPECT_EQ(b.entries, 4u);
  EXPECT_EQ(b.pages, 1u);
  EXPECT_EQ(first_batch(trace::AccessKind::kWrite, 0, 4).entries, 1u);
  EXPECT_EQ(first_batch(trace::AccessKind::kRead, 1, 4).entries, 1u);
  EXPECT_EQ(first_batch(trace::AccessKind::kWrite, 1, 0).entries, 1u);  // not recorded: one
}

// gpu.max_faulting_utlbs: at most that many uTLBs fault between two replays. Four CTAs on four SMs (a uTLB
// each) fault on a page each; with a cap of 2 the first batch holds two uTLBs' entries and the other two
// fault after its replay.
TEST(Simulator, AtMostMaxFaultingUtlbsFaultBetweenTwoReplays) {
  auto batches = [](int64_t cap) {
    trace::Trace t = base_trace(8 << 20);
    add_kernel(t, {{0}, {512}, {1024}, {1536}});
    Config c = a_utlb_per_sm(4);
    c.gpu.max_faulting_utlbs = cap;
    std::vector<BatchRecord> records;
    const Stats s = run(t, c, &records);
    EXPECT_EQ(s.faults_unique, 4u);
    return records;
  };
  const auto capped = batches(2);
  ASSERT_EQ(capped.size(), 2u);
  EXPECT_EQ(capped[0].utlbs, 2u);
  EXPECT_EQ(capped[1].utlbs, 2u);
  const auto free = batches(0);
  ASSERT_EQ(free.size(), 1u);
  EXPECT_EQ(free[0].utlbs, 4u);
}

// gpu.utlb_one_warp: between two replays a uTLB faults on one warp access's misses. One CTA of two warps
// reads a page of its own per warp, each in a VA block of its own, at the same moment: one round takes
// both without it, two rounds with it (the second warp's miss waits for the first replay).
TEST(Simulator, AUtlbFaultsOnOneWarpAccessARound) {
  auto batches = [](int64_t one_warp) {
    trace::Trace t = base_trace(8 << 20);
    add_kernel(t, {{0, 600}}, trace::AccessKind::kRead, 10000, 64);
    Config c;
    c.select("prefetch", "none");
    c.gpu.warp_interleave = 1;
    c.gpu.utlb_one_warp = one_warp;
    const Stats s = run(t, c);
    EXPECT_EQ(s.faults_unique, 2u);
    return s.batches;
  };
  EXPECT_EQ(batches(0), 1u);
  EXPECT_EQ(batches(1), 2u);
}

// gpu.independent_window_ns: a CTA issues with its group's first access those its resident run issued
// within the window after it, so their misses fault in one round. One CTA (a 100 us run) reads a page at
// 0, one 46 ns later and one 4.6 us later, each in a VA block of its own: with a 100 ns window the first two
// fault in one batch and the third after its replay; without, each waits for the replay before it.
TEST(Simulator, AccessesWithinTheIndependentWindowFaultInOneRound) {
  auto batches = [](int64_t window_ns) {
    trace::Trace t = base_trace(8 << 20);
    add_kernel(t, {{0, 600, 1200}}, trace::AccessKind::kRead, 100000);
    t.ranges[1].t_begin = t.ranges[1].t_end = 30;  // 30 / 65535 of 100 us: 46 ns
    t.ranges[2].t_begin = t.ranges[2].t_end = 3000;
    Config c;
    c.select("prefetch", "none");
    c.gpu.independent_window_ns = window_ns;
    std::vector<BatchRecord> records;
    const Stats s = run(t, c, &records);
    EXPECT_EQ(s.faults_unique, 3u);
    std::vector<uint64_t> pages;
    for (const BatchRecord& b : records) pages.push_back(b.pages);
    return pages;
  };
  EXPECT_EQ(batches(100), (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(batches(0), (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(batches(10000), (std::vector<uint64_t>{3}));
}

// `ctas` one-CTA-per-SM CTAs (a uTLB each, holding one fault) each reading pages {512 i, 512 i + 256} at
// once under `c`: every batch's record, the run having faulted on every page.
std::vector<BatchRecord> two_pages_per_cta(uint32_t ctas, Config c) {
  trace::Trace t = base_trace(8 << 20);
  std::vector<std::vector<uint64_t>> pages;
  for (uint64_t i = 0; i < ctas; ++i) pages.push_back({512 * i, 512 * i + 256});
  add_kernel(t, pages);
  c.gpu.utlb_max_outstanding_faults = 1;
  std::vector<BatchRecord> records;
  const Stats s = run(t, c, &records);
  EXPECT_EQ(s.faults_unique, 2u * ctas);
  return records;
}

// gpu.faulting_cap_reissues_only: the cap binds only CTAs re-issuing at a replay. Four CTAs on four SMs read
// two pages each at once: their first pages fault fresh, all four in the first batch whatever the cap of 2;
// after its replay each re-issues and faults on its second page, two uTLBs per round. With the cap on every
// access the first batch holds two uTLBs.
TEST(Simulator, TheFaultingUtlbCapCanBindOnlyReissuedAccesses) {
  auto utlbs = [](int64_t reissues_only) {
    Config c = a_utlb_per_sm(4);
    c.gpu.max_faulting_utlbs = 2;
    c.gpu.faulting_cap_reissues_only = reissues_only;
    std::vector<uint32_t> n;
    for (const BatchRecord& r : two_pages_per_cta(4, c)) n.push_back(r.utlbs);
    return n;
  };
  EXPECT_EQ(utlbs(1), (std::vector<uint32_t>{4, 2, 2}));
  const std::vector<uint32_t> every = utlbs(0);
  ASSERT_FALSE(every.empty());
  EXPECT_EQ(every.front(), 2u);
  EXPECT_GT(every.size(), 3u);
}

// driver.replay_fetch_ns: the batch after a replay reads the buffer that long after the replay completed.
// Two CTAs on two SMs (a uTLB each, holding one fault) read two pages each; after the first batch's replay
// both re-issue and fault on their second pages, the write port putting the two entries 20 ns apart. Read
// at the replay, the buffer holds only the first (a batch of one, the other in a batch of its own); read
// 1 us later, both.
TEST(Simulator, TheBatchAfterAReplayFetchesWhatTheReplayReissuedByItsRead) {
  auto sizes = [](int64_t fetch_ns) {
    Config c = a_utlb_per_sm(2);
    c.gpu.fault_write_ns = 20;
    c.gpu.fault_latency_ns = 0;  // re-issued misses reach the port as the replay completes
    c.driver.replay_fetch_ns = fetch_ns;
    std::vector<uint32_t> n;
    for (const BatchRecord& r : two_pages_per_cta(2, c)) n.push_back(r.entries);
    return n;
  };
  EXPECT_EQ(sizes(0), (std::vector<uint32_t>{2, 1, 1}));
  EXPECT_EQ(sizes(1000), (std::vector<uint32_t>{2, 2}));
}

// driver.wake_ns and driver.deep_wake_ns: a fault that finds the driver idle waits for its servicing thread
// to wake, longer after a long idle. One-CTA kernels fault one page each; a second kernel faults after the
// first has computed for `gap` ns, so its batch finds the driver idle for about `gap` (under
// driver.deep_idle_ns: the shallow wake; over it: the deep one). The first batch finds it idle since the
// run's start, well under a millisecond.
TEST(Simulator, AFaultAfterAnIdleWaitsForTheDriverToWake) {
  auto end_ns = [](int kernels, uint64_t gap, int64_t wake, int64_t deep, int64_t wake_idle = 2000) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {{0}}, trace::AccessKind::kRead, gap);
    if (kernels == 2) add_kernel(t, {{512}});
    Config c;
    c.driver.wake_ns = wake;
    c.driver.deep_wake_ns = deep;
    c.driver.wake_idle_ns = wake_idle;
    c.select("prefetch", "none");
    const Stats s = run(t, c);
    EXPECT_EQ(s.batches, uint64_t(kernels));
    return s.kernels.back().end_ns;
  };
  const int64_t first = end_ns(1, 100000, 40000, 300000) - end_ns(1, 100000, 0, 0);
  EXPECT_TRUE(first == 0 || first == 40000) << first;  // the run's start is not a deep idle
  const int64_t base = end_ns(2, 100000, 0, 0);
  EXPECT_EQ(end_ns(2, 100000, 40000, 300000) - base, first + 40000);
  EXPECT_EQ(end_ns(2, 100000, 40000, 0) - base, first + 40000);  // deep 0: as the shallow wake
  const int64_t long_base = end_ns(2, 3000000, 0, 0);
  EXPECT_EQ(end_ns(2, 3000000, 40000, 300000) - long_base, first + 300000);
  // an idle shorter than driver.wake_idle_ns (the thread still awake) waits only driver.isr_latency_ns
  EXPECT_EQ(end_ns(2, 100000, 40000, 0, 1ll << 40), base);
}

// driver.migrate_block_ns is paid once per VA block whose service migrates pages, after its copies are
// pushed: one block of faults costs it once, the same faults spread over two blocks twice.
TEST(Simulator, AMigratingBlockPaysItsCostOnce) {
  auto kernel_ns = [](const std::vector<uint64_t>& pages, int64_t migrate_block_ns) {
    trace::Trace t = base_trace(4 << 20);
    add_kernel(t, {pages});
    Config c;
    c.driver.migrate_block_ns = migrate_block_ns;
    c.select("prefetch", "none");
    const Stats s = run(t, c);
    return s.kernels.front().end_ns - s.kernels.front().start_ns;
  };
  EXPECT_EQ(kernel_ns({0, 1}, 100000) - kernel_ns({0, 1}, 0), 100000);
  EXPECT_EQ(kernel_ns({0, 512}, 100000) - kernel_ns({0, 512}, 0), 200000);
}

// Managed allocations of one process whose pages share a 2 MiB block share its VA block, at their real
// offsets, as the H100's do (its counter passes hold single copies that cross from one cudaMallocManaged
// allocation into the next). Faults in the second allocation then count the first's resident pages: with
// all 256 pages of A and 50 of B, the block is over the prefetcher's 51% and moves whole. An allocation of
// another kind or in another 2 MiB block keeps its own blocks.
TEST(Simulator, AllocationsSharingA2MiBBlockShareItsVaBlock) {
  trace::Trace t = base_trace(1 << 20);  // A: pages 0..255
  t.allocations.push_back({0, trace::AllocKind::kManaged, trace::AllocRole::kWeight, kVa + (1 << 20),
                           512 << 10, 0, -1, "B"});  // pages 256..383
  t.allocations.push_back({0, trace::AllocKind::kDevice, trace::AllocRole::kOther, kVa + (1536 << 10), 4096,
                           0, -1, "device"});  // page 384
  t.allocations.push_back(
      {0, trace::AllocKind::kManaged, trace::AllocRole::kOther, kVa + (4 << 20), 4096, 0, -1, "C"});
  add_op(t, trace::OpKind::kHostAccess, 0, 256);
  add_op(t, trace::OpKind::kHostAccess, 256, 128);
  std::vector<uint64_t> a, b;
  for (uint64_t p = 0; p < 256; ++p) a.push_back(p);
  for (uint64_t p = 256; p < 306; ++p) b.push_back(p);
  add_kernel(t, {a});
  add_sync(t);
  add_kernel(t, {b});
  const Workload w = Workload::build(t, "shared");
  EXPECT_EQ(w.alloc_first[1], w.alloc_first[0] + 256);
  EXPECT_EQ(w.alloc_first[1] / 512, w.alloc_first[0] / 512);
  EXPECT_NE(w.alloc_first[2] / 512, w.alloc_first[0] / 512);  // a device allocation: its own block
  EXPECT_NE(w.alloc_first[3] / 512, w.alloc_first[0] / 512);
  EXPECT_EQ(w.blocks, 3u);
  const Stats s = simulate(w, Config{}, true).stats;
  EXPECT_EQ(s.bytes_htod[kCauseCoherence] + s.bytes_htod[kCausePrefetch], 384u * 4096u);
  EXPECT_GE(s.bytes_htod[kCausePrefetch], (384u - 306u) * 4096u);  // B's untouched pages came along
}

// A kernel starts when its first CTA does, as CUPTI times it: a one-CTA kernel launched on a second stream
// right behind a two-wave grid that fills every SM starts when the grid's last wave frees a slot, and runs
// for its own compute time (the H100: launched 2 us before, started 802 us into an 803 us grid;
// cuda_tracer/recordings/kernel_start_probe_h100.jsonl).
TEST(Simulator, AKernelQueuedBehindAnotherStartsWithItsFirstCta) {
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, std::vector<std::vector<uint64_t>>(2 * 2 * 132, std::vector<uint64_t>{}),
             trace::AccessKind::kRead, 100000, 1024);  // two 1024-thread CTAs per SM, two waves of 50 us
  add_kernel(t, {{}}, trace::AccessKind::kRead, 5000, 32);
  t.kernels[1].stream = 1;
  t.ops[1].stream = 1;
  const Stats s = run(t);
  EXPECT_GE(s.kernels[1].start_ns - s.kernels[0].start_ns, 100000 - 1000);
  EXPECT_LE(s.kernels[1].start_ns, s.kernels[0].end_ns);
  // Its own compute time, give or take the nanosecond of rounding when the grid's last CTA on its SM leaves
  // at the moment it starts.
  EXPECT_NEAR(double(s.kernels[1].end_ns - s.kernels[1].start_ns), 5000, 1);
}

// Two processes (tenant 1 in process 1 has its own address space with the same VA), each launching one
// kernel whose CTA i touches cta_pages[i] of its own `bytes` of managed memory.
trace::Trace two_processes(uint64_t bytes, const std::vector<std::vector<uint64_t>>& cta_pages,
                           trace::AccessKind kind, uint64_t resident_ns, uint32_t threads) {
  trace::Trace t = base_trace(bytes);
  t.tenants.push_back({"u#0", "u", 1, 1});
  t.allocations.push_back(
      {1, trace::AllocKind::kManaged, trace::AllocRole::kInput, kVa, bytes, 0, -1, "data"});
  add_kernel(t, cta_pages, kind, resident_ns, threads);
  add_kernel(t, cta_pages, kind, resident_ns, threads);
  t.kernels[1].tenant = 1;
  t.ops[1].tenant = 1;
  return t;
}

// Processes without MPS take turns on the GPU (the H100: turns of 2081 us, 136 us to hand over, 26 us more
// to save running CTAs; cuda_tracer/recordings/timeslice_probe_h100.jsonl.gz). Two one-CTA kernels of 5 ms
// in two processes, with turns of 2 ms, 100 us switches and 50 us to preempt: A runs [0, 2), B [2.15, 4.15),
// A [4.3, 6.3), B [6.45, 8.45), A [8.6, 9.6) and ends, B gets the GPU after a plain hand-over at 9.7 and
// ends at 10.7 ms. With gpu.timeslice_ns 0 (as under MPS) they share the SMs and both end at 5 ms.
TEST(Simulator, ProcessesTakeTurnsOnTheGpu) {
  const trace::Trace t = two_processes(2 << 20, {{}}, trace::AccessKind::kRead, 5000000, 32);
  Config c;
  c.gpu.timeslice_ns = 2000000;
  c.gpu.context_switch_ns = 100000;
  c.gpu.preempt_ns = 50000;
  Stats s = run(t, c);
  EXPECT_EQ(s.kernels[0].start_ns, 0);
  EXPECT_EQ(s.kernels[0].end_ns, 9600000);
  EXPECT_EQ(s.kernels[1].start_ns, 2150000);
  EXPECT_EQ(s.kernels[1].end_ns, 10700000);
  EXPECT_EQ(s.context_switches, 5u);
  c.gpu.timeslice_ns = 0;
  s = run(t, c);
  EXPECT_EQ(s.kernels[0].end_ns, 5000000);
  EXPECT_EQ(s.kernels[1].end_ns, 5000000);
  EXPECT_EQ(s.context_switches, 0u);
}

// Faults raised by a process's CTAs are serviced while it is switched out; the CTAs re-issue their
// accesses on its next turn. Both processes first-touch 8 MiB, one page per CTA: every access completes
// and the audit finds the page tables consistent, with the GPU handed over at least twice.
TEST(Simulator, FaultsOfASwitchedOutProcessWaitForItsTurn) {
  std::vector<std::vector<uint64_t>> pages;
  for (uint64_t p = 0; p < 2048; ++p) pages.push_back({p});
  const trace::Trace t = two_processes(8 << 20, pages, trace::AccessKind::kWrite, 3000000, 256);
  Config c;
  c.gpu.timeslice_ns = 200000;
  const Workload w = Workload::build(t, "two processes");
  const Stats s = simulate(w, c, true).stats;
  EXPECT_EQ(s.page_accesses, 2u * 2048u);
  EXPECT_EQ(s.bytes_zero_filled, 2u * (8u << 20));
  EXPECT_GE(s.context_switches, 2u);
  EXPECT_GE(s.kernels[1].start_ns, 200000);
}

// Processes start as far apart as they did in the recording: host_ns is one clock for a trace's processes.
// The second process's first call came 3 ms after the first's, so its kernel starts at 3 ms, not at 0.
// The cause of a livelock seen with short time slices: a CTA raises a fault, pauses at its next miss (the
// fault jitter) and, while it is paused, the batch serves that fault, its prefetch makes the next access
// hit, and the replay comes and goes. The CTA ends its round stalled with nothing left in the buffer and no
// replay to come: it must re-issue at once, not wait forever. One CTA touches one page twice in one group;
// jitter of up to a second makes the pause outlast the batch (about 25 us).
TEST(Simulator, ACtaWhoseFaultsWereReplayedWhileItStillIssuedReissuesAtOnce) {
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, {{0, 0}});
  Config c;
  c.gpu.fault_jitter_ns = 1000000000;
  c.gpu.fault_jitter_accesses = 1;
  const Stats s = run(t, c);
  EXPECT_EQ(s.page_accesses, 2u);
  EXPECT_EQ(s.faults_raised, 1u);
  EXPECT_EQ(s.replays, 1u);
  EXPECT_EQ(s.reissues, 1u);
}

// The guard against runs that never end counts events without progress (no CTA, access group or op
// completing), not simulated time, and names the likely key. Two processes whose one CTA each computes for
// 10 s take turns of 162 us: every turn is two events without progress, so a limit of 1000 events stops
// the run long before its end and names gpu.timeslice_ns; the default limit lets it finish.
TEST(Simulator, AStuckRunStopsWithAnErrorNamingTheLikelyKey) {
  const trace::Trace t = two_processes(2 << 20, {{}}, trace::AccessKind::kRead, 10000000000, 32);
  Config c;
  c.gpu.timeslice_ns = 162000;
  c.engine.max_events_without_progress = 1000;
  try {
    run(t, c);
    ADD_FAILURE() << "the guard did not stop the run";
  } catch (const SimError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the run is stuck"), std::string::npos) << m;
    EXPECT_NE(m.find("gpu.timeslice_ns"), std::string::npos) << m;
    EXPECT_NE(m.find("engine.max_events_without_progress"), std::string::npos) << m;
  }
  c.engine.max_events_without_progress = 1000000;
  const Stats s = run(t, c);
  EXPECT_EQ(s.kernels[1].end_ns > 20000000000, true);
}

// The two-process corpus trace with the shortest turn the config allows (one context switch with its
// preemption) ends; it livelocked at turns of a few microseconds before CTAs re-issued on stalling with
// nothing left to wake them (issue 19's reproducing input; shorter turns are now a config error).
TEST(Simulator, TheTwoProcessTraceEndsAtTheShortestAllowedTurn) {
  const Workload w =
      Workload::load(source_dir() + "/traces/corpus/torch_2proc_resnet18_b1_mobilenet_v2_b1.uvmt");
  Config c = load_config(source_dir() + "/sim/configs/h100.json", {});
  c.gpu.timeslice_ns = c.gpu.context_switch_ns + c.gpu.preempt_ns;
  const Stats s = simulate(w, c, true).stats;
  EXPECT_TRUE(all_kernels_ran(s));
  EXPECT_GT(s.context_switches, 50u);  // 33 at the measured 2081 us
}

TEST(Simulator, ProcessesStartAsFarApartAsRecorded) {
  trace::Trace t = two_processes(2 << 20, {{}}, trace::AccessKind::kRead, 10000, 32);
  t.ops[0].host_ns = 1000000;
  t.ops[1].host_ns = 4000000;
  Config c;
  c.gpu.timeslice_ns = 0;  // no hand-over between the processes
  const Stats s = run(t, c);
  EXPECT_EQ(s.kernels[0].start_ns, 0);
  EXPECT_EQ(s.kernels[1].start_ns, 3000000);
}

TEST(Simulator, ResidentDataCostsOnlyCompute) {
  Workload w = micro(false, 64 << 20, true, false, true);
  Stats s = simulate(w, Config{}, true).stats;
  EXPECT_EQ(s.faults_raised, 0u);  // prefetched before the kernels
  EXPECT_EQ(s.kernels[0].end_ns - s.kernels[0].start_ns, int64_t(micro_resident_ns(16384)));
  EXPECT_EQ(s.bytes_htod[kCauseUser], 64u << 20);
}

// One HtoD copy per contiguous run of pages of one cause: an 8 MiB cudaMemPrefetchAsync moves each 2 MiB
// block in one copy. Copies closer than kCopyGroupGapNs form one group: back to back while the driver's
// per-block work is shorter than a copy, one group per block when it is much longer.
TEST(Simulator, CountsHtodCopiesAndTheirGroups) {
  Workload w = micro(false, 8 << 20, true, false, true);
  Config c;
  c.driver.prefetch_op_block_ns = 0;
  Stats s = simulate(w, c, true).stats;
  EXPECT_EQ(s.htod_copies, 4u);
  EXPECT_EQ(s.htod_copy_groups, 1u);
  c.driver.prefetch_op_block_ns = 200000;  // each 2 MiB copy (38 us at 55 GB/s) then stands alone
  s = simulate(w, c, true).stats;
  EXPECT_EQ(s.htod_copies, 4u);
  EXPECT_EQ(s.htod_copy_groups, 4u);
}

TEST(Simulator, CpuTouchBackFaultsLikeTheH100) {
  // reference/uvm-driver.md: a CPU loop over 64 MiB raised 192 CPU faults and 384 DtoH records.
  Workload w = micro(false, 64 << 20, true, true);
  Stats s = simulate(w, Config{}, true).stats;
  EXPECT_EQ(s.cpu_faults, 192u);
  EXPECT_EQ(s.cpu_fault_pages, 16384u);
  EXPECT_EQ(s.bytes_dtoh[kCauseCoherence] + s.bytes_dtoh[kCausePrefetch], 64u << 20);
  EXPECT_GT(s.bytes_dtoh[kCausePrefetch], 30 * s.bytes_dtoh[kCauseCoherence]);
}

TEST(Simulator, PrefetcherMovesMostBytesOnFirstTouch) {
  // reference/measurements.md: 86% (sequential) and 95% (random) of HtoD bytes were speculative.
  for (bool random : {false, true}) {
    Workload w = micro(random, 64 << 20);
    Stats s = simulate(w, Config{}, true).stats;
    double all = double(s.bytes_htod[kCauseCoherence] + s.bytes_htod[kCausePrefetch]);
    EXPECT_EQ(all, double(64 << 20));
    EXPECT_GT(s.bytes_htod[kCausePrefetch] / all, 0.8) << random;
  }
}

// 64 MiB of CPU-initialised pages, CTA i touching pages [n i, n i + n) (uvm_micro --threads-per-cta n).
Workload pages_per_cta(uint32_t n) {
  MicroSpec spec;
  spec.bytes = 64 << 20;
  spec.threads_per_cta = n;
  spec.host_init = true;
  return Workload::build(generate_micro(spec), "pages per CTA");
}

TEST(FaultJitter, OnePagePerCtaStillPrefetchesMostOfEachBlock) {
  // H100, micro_dense_64m: one page per CTA (CTA i reads page i), 89% of the HtoD bytes prefetched. With
  // every miss arriving at once in dispatch and address order, each batch holds 256 consecutive pages,
  // half a block, just under the prefetcher's 51% threshold: nothing is prefetched.
  Workload w = pages_per_cta(1);
  Config at_once;
  at_once.gpu.fault_jitter_ns = 0;
  at_once.gpu.fault_jitter_accesses = 1;
  Stats s0 = simulate(w, at_once, true).stats;
  EXPECT_LT(prefetch_share_pct(s0), 5.0);
  for (int64_t runs : {1, 3}) {  // 3: the default
    Config jittered;
    jittered.gpu.fault_jitter_ns = 1000;
    jittered.gpu.fault_jitter_accesses = runs;
    Stats s1 = simulate(w, jittered, true).stats;
    EXPECT_GT(prefetch_share_pct(s1), 80.0) << runs;
    EXPECT_EQ(htod_bytes(s1), uint64_t{64} << 20);
    EXPECT_LT(s1.kernels[0].end_ns - s1.kernels[0].start_ns,
              (s0.kernels[0].end_ns - s0.kernels[0].start_ns) * 3 / 4)
        << runs;
  }
}

TEST(FaultJitter, RunsOfAccessesFillTheUtlbFromFewerCtas) {
  // One 64 KiB big page per CTA (micro_dense16_64m). Misses arriving one by one spread each batch over many
  // CTAs' big pages; arriving as a CTA's whole group, a uTLB's slots hold whole big pages of few CTAs, so
  // less of each block is prefetched.
  Workload w = pages_per_cta(16);
  Config one;
  one.gpu.fault_jitter_ns = 1000;
  Config whole = one;
  whole.gpu.fault_jitter_accesses = 16;
  EXPECT_GT(prefetch_share_pct(simulate(w, one, true).stats),
            prefetch_share_pct(simulate(w, whole, true).stats) + 20.0);
}

TEST(FaultJitter, SeededAndReproducible) {
  Workload w = pages_per_cta(1);
  Config c;
  c.gpu.fault_jitter_ns = 2000;
  std::string a = result_json(w, c, simulate(w, c, true).stats).dump();
  std::string b = result_json(w, c, simulate(w, c, true).stats).dump();
  EXPECT_EQ(a, b);
  Stats first = simulate(w, c, true).stats;
  c.seed = 2;
  Stats other = simulate(w, c, true).stats;
  EXPECT_NE(other.kernels[0].end_ns, first.kernels[0].end_ns);  // another seed, other arrival orders
  EXPECT_EQ(other.page_accesses, first.page_accesses);
}

TEST(Simulator, ZeroFillNeedsNoCopy) {
  Workload w = micro(false, 64 << 20, false, false, false, true);
  Stats s = simulate(w, Config{}, true).stats;
  EXPECT_EQ(s.bytes_zero_filled, 64u << 20);
  EXPECT_EQ(s.bytes_htod[kCauseCoherence] + s.bytes_htod[kCausePrefetch], 0u);
}

// gpu.zero_fill_chunk: a block's new chunk is zeroed whole when it is allocated (block_zero_new_gpu_chunk
// zeroes every page resident nowhere), so the first fault of a 2 MiB block waits for a 2 MiB memset and a
// later fault in the same block for none; without it, each waits for its 64 KiB big page's. Either way the
// pages populated (bytes_zero_filled) are the two big pages.
TEST(Simulator, ZeroFillChunkZeroesTheWholeNewChunkOnce) {
  for (int whole : {0, 1}) {
    trace::Trace t = base_trace(2 << 20);
    add_kernel(t, {{0}});
    add_kernel(t, {{300}});
    Config c;
    c.gpu.zero_fill_chunk = whole;
    c.gpu.zero_fill_bytes_per_s = 2000000000;  // 2 GB/s: 2 MiB take about 1 ms, 64 KiB 33 us
    const Stats s = run(t, c);
    EXPECT_EQ(s.bytes_zero_filled, 2u * (64u << 10)) << whole;
    EXPECT_EQ(s.chunks_allocated, 1u);
    const int64_t first = s.kernels[0].end_ns - s.kernels[0].start_ns;
    const int64_t second = s.kernels[1].end_ns - s.kernels[1].start_ns;
    if (whole) {
      EXPECT_GT(first, 1000000) << "the first fault waits for the whole chunk's memset";
      EXPECT_LT(second, first / 4) << "the second zero-fills nothing";
    } else {
      EXPECT_LT(first, 1000000);
    }
  }
}

// driver.block_populate_ns: paid once per VA block, when its GPU chunk is allocated: a kernel faulting in
// two new blocks pays it twice, one faulting again in a block already on the GPU does not.
TEST(Simulator, BlockPopulateIsPaidOncePerNewBlock) {
  trace::Trace t = base_trace(4 << 20);
  add_kernel(t, {{0}, {512}});  // pages of blocks 0 and 1
  add_kernel(t, {{300}});       // block 0 again
  Config c;
  const Stats off = run(t, c);
  c.driver.block_populate_ns = 1000000;
  const Stats on = run(t, c);
  EXPECT_EQ(on.chunks_allocated, 2u);
  auto span = [](const Stats& s, int k) { return s.kernels[k].end_ns - s.kernels[k].start_ns; };
  EXPECT_GE(span(on, 0) - span(off, 0), 2000000);  // both blocks' populate in the one batch
  EXPECT_LT(span(on, 0) - span(off, 0), 2100000);
  EXPECT_EQ(span(on, 1), span(off, 1));  // block 0 is already there
}

TEST(Oversubscription, HalfTheFootprintCompletesWithEvictions) {
  for (bool random : {false, true}) {
    Workload w = micro(random, 256 << 20);
    Config c;
    c.gpu.memory_fraction = 0.5;
    RunResult r = simulate(w, c, true);
    EXPECT_TRUE(r.audit.empty());
    EXPECT_EQ(r.stats.gpu_capacity_bytes, 128u << 20);
    EXPECT_GT(r.stats.chunks_evicted, 0u) << random;
    EXPECT_GT(r.stats.bytes_dtoh[kCauseEviction], 0u);
    EXPECT_EQ(r.stats.page_accesses, 2u * 65536);
  }
}

}  // namespace

// Forgets one GPU-resident page without telling any counter (a friend of Simulator and PageTable).
struct AuditProbe {
  static void drop_page(Simulator& s) {
    for (uint32_t p = 0; p < s.w_.pages; ++p)
      if (s.pages_.loc_[p] == kOnGpu) {
        s.pages_.loc_[p] = kNowhere;
        s.pages_.set_mapped(p, false);
        return;
      }
  }
};

namespace {

TEST(Audit, CatchesAPlantedFault) {
  Workload w = micro(false, 16 << 20);
  Simulator s(w, Config{});
  s.run();
  EXPECT_TRUE(s.audit().empty());
  AuditProbe::drop_page(s);
  auto bad = s.audit();
  ASSERT_FALSE(bad.empty());
  bool bytes = false;
  for (auto& b : bad) bytes |= b.find("bytes in") != std::string::npos;
  EXPECT_TRUE(bytes);
}

TEST(Determinism, SameInputsGiveIdenticalBytes) {
  Workload w = micro(true, 64 << 20, true, true);
  Config c;
  c.gpu.memory_fraction = 0.75;
  std::string a = result_json(w, c, simulate(w, c, true).stats).dump(2);
  std::string b = result_json(w, c, simulate(w, c, true).stats).dump(2);
  EXPECT_EQ(a, b);
}

TEST(ReplayPolicies, ChangeBatchStructure) {
  Workload w = micro(true, 64 << 20);
  std::map<std::string, uint64_t> replays;
  for (std::string p : {"block", "batch", "batch_flush", "once"}) {
    Config c;
    c.select("replay", p);
    Stats s = simulate(w, c, true).stats;
    replays[p] = s.replays;
    if (p == "batch_flush") {
      EXPECT_GT(s.faults_flushed, 0u);
    } else {
      EXPECT_EQ(s.faults_flushed, 0u);
    }
  }
  EXPECT_GT(replays["block"], replays["batch"]);
  EXPECT_GE(replays["batch"], replays["once"]);
}

TEST(Generator, SequentialCtaTouchesItsOwnPages) {
  MicroSpec s;
  s.bytes = 4 << 20;
  trace::Trace t = generate_micro(s);
  ASSERT_EQ(t.kernels[0].cta_count, 4u);
  for (uint64_t i = 0; i < 4; ++i) {
    const auto& cta = t.ctas[t.kernels[0].cta_begin + i];
    ASSERT_EQ(cta.range_count, 1u);
    EXPECT_EQ(t.ranges[cta.range_begin].page, kVaPage + 256 * i);
    EXPECT_EQ(t.ranges[cta.range_begin].count, 256u);
  }
}

TEST(Generator, RandomOrderIsAPermutation) {
  MicroSpec s;
  s.bytes = 4 << 20;
  s.pattern = MicroPattern::kRandom;
  trace::Trace t = generate_micro(s);
  std::vector<int> seen(1024, 0);
  uint64_t ranges = 0;
  for (uint64_t c = 0; c < t.kernels[0].cta_count; ++c) {
    const auto& cta = t.ctas[c];
    for (uint64_t r = cta.range_begin; r < cta.range_begin + cta.range_count; ++r, ++ranges)
      for (uint32_t k = 0; k < t.ranges[r].count; ++k) ++seen[t.ranges[r].page + k - kVaPage];
  }
  for (int x : seen) EXPECT_EQ(x, 1);
  EXPECT_GT(ranges, 900u);  // hardly any neighbours in a random order
}

// Strided: CTA c's thread t touches page t * CTAs + c, as uvm_micro --pattern strided does: 4 MiB is 1024
// pages in 4 CTAs of 256, so CTA 1 touches pages 1, 5, 9, ... and every page is touched once.
TEST(Generator, StridedCtaTouchesEveryCtasPage) {
  MicroSpec s;
  s.bytes = 4 << 20;
  s.pattern = MicroPattern::kStrided;
  trace::Trace t = generate_micro(s);
  ASSERT_EQ(t.kernels[0].cta_count, 4u);
  std::vector<int> seen(1024, 0);
  for (uint64_t c = 0; c < 4; ++c) {
    const auto& cta = t.ctas[c];
    ASSERT_EQ(cta.range_count, 256u);  // no two neighbours in one CTA
    for (uint64_t r = cta.range_begin, k = 0; r < cta.range_begin + cta.range_count; ++r, ++k) {
      EXPECT_EQ(t.ranges[r].page - kVaPage, k * 4 + c);
      ++seen[t.ranges[r].page - kVaPage];
    }
  }
  for (int x : seen) EXPECT_EQ(x, 1);
  EXPECT_EQ(t.header.command.find("--pattern strided"), std::string("uvmsim generate ").size());
  s.bytes = 4096 * 300;  // 300 pages: not whole CTAs of 256
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
}

// --run-pages R: the threads touch R consecutive pages of every 2R (uvm_micro --run-pages), half of the
// allocation, and --host-init writes all of it.
TEST(Generator, RunPagesTouchRunsOfRPagesOfEvery2R) {
  MicroSpec s;
  s.bytes = 4 << 20;  // 1024 pages, 512 touched: 2 CTAs of 256
  s.run_pages = 4;
  s.host_init = true;
  const trace::Trace t = generate_micro(s);
  ASSERT_EQ(t.kernels[0].cta_count, 2u);
  std::vector<int> seen(1024, 0);
  for (uint64_t c = 0; c < 2; ++c) {
    const trace::Cta& cta = t.ctas[t.kernels[0].cta_begin + c];
    ASSERT_EQ(cta.range_count, 64u);  // 256 pages in runs of 4
    for (uint64_t r = cta.range_begin; r < cta.range_begin + cta.range_count; ++r) {
      EXPECT_EQ(t.ranges[r].count, 4u);
      for (uint32_t k = 0; k < t.ranges[r].count; ++k) ++seen[t.ranges[r].page + k - kVaPage];
    }
  }
  for (uint64_t p = 0; p < 1024; ++p) EXPECT_EQ(seen[p], (p / 4) % 2 == 0 ? 1 : 0) << p;
  EXPECT_EQ(t.ops[0].b, 4u << 20);  // the CPU writes the whole allocation
  EXPECT_NE(t.header.command.find("--run-pages 4"), std::string::npos);
  s.bytes = 4096 * 24;  // 24 pages: whole runs of 4 (3 of 8 pages), not of 8 (1.5 of 16)
  EXPECT_NO_THROW(generate_micro(s));
  s.run_pages = 8;
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
  s.bytes = 4 << 20;
  s.pattern = MicroPattern::kRandom;
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
}

// With a page stride the threads touch every N-th page (utlb_burst_probe: one page per 2 MiB VA block), and
// --host-init writes those pages alone, each as its own CPU access in address order.
TEST(Generator, PageStrideTouchesEveryNthPageAndTheCpuWritesOnlyThose) {
  MicroSpec s;
  s.bytes = 8 << 20;  // 2048 pages: 4 touched at a stride of 512
  s.threads_per_cta = 2;
  s.page_stride = 512;
  s.host_init = true;
  const trace::Trace t = generate_micro(s);
  ASSERT_EQ(t.kernels[0].cta_count, 2u);
  for (uint64_t c = 0; c < 2; ++c) {
    const trace::Cta& cta = t.ctas[t.kernels[0].cta_begin + c];
    ASSERT_EQ(cta.range_count, 2u);  // no two pages adjacent
    for (uint64_t k = 0; k < 2; ++k) {
      EXPECT_EQ(t.ranges[cta.range_begin + k].page - kVaPage, (2 * c + k) * 512);
      EXPECT_EQ(t.ranges[cta.range_begin + k].count, 1u);
    }
  }
  std::vector<uint64_t> written;
  for (const trace::Op& o : t.ops)
    if (o.kind == trace::OpKind::kHostAccess) {
      EXPECT_EQ(o.b, 4096u);
      written.push_back(o.a);
    }
  EXPECT_EQ(written, (std::vector<uint64_t>{kVaPage << 12, (kVaPage + 512) << 12, (kVaPage + 1024) << 12,
                                            (kVaPage + 1536) << 12}));
  EXPECT_NE(t.header.command.find(" --page-stride 512"), std::string::npos);
  s.page_stride = 3;  // 2048 pages are not whole strides of 3
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
  s.page_stride = 0;
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
}

// With sharers, neighbouring CTAs touch the same pages: CTA c the pages of chunk c / sharers. Every page
// is still touched, by `sharers` CTAs, and the simulator coalesces or counts their duplicate faults.
TEST(Generator, SharedPagesAreTouchedByNeighbouringCtas) {
  MicroSpec s;
  s.bytes = 8 << 20;  // 2048 pages, 8 chunks of 256
  s.sharers = 4;
  const trace::Trace t = generate_micro(s);
  const trace::Kernel& k = t.kernels[0];
  ASSERT_EQ(k.cta_count, 32u);
  EXPECT_EQ(k.grid[0], 32u);
  for (uint64_t c = 0; c < k.cta_count; ++c) {
    const trace::Cta& cta = t.ctas[k.cta_begin + c];
    ASSERT_EQ(cta.range_count, 1u);
    EXPECT_EQ(t.ranges[cta.range_begin].page, kVaPage + (c / 4) * 256) << c;
    EXPECT_EQ(t.ranges[cta.range_begin].count, 256u);
  }
  EXPECT_NE(t.header.command.find("--sharers 4"), std::string::npos);
  const Stats st = run(t);
  EXPECT_EQ(st.faults_unique, 2048u - st.pages_prefetched);
  EXPECT_GT(st.faults_fetched + st.faults_coalesced, st.faults_unique);  // the sharers' duplicates
  s.sharers = 0;
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
}

TEST(Generator, RejectsNonsense) {
  MicroSpec s;
  s.bytes = 1000;
  EXPECT_THROW(generate_micro(s), std::invalid_argument);
  EXPECT_THROW(parse_bytes("12 parsecs"), std::invalid_argument);
  EXPECT_EQ(parse_bytes("1GiB"), 1u << 30);
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// gpu.memory_fraction counts the chunks that hold the footprint (one per VA block touched), not its pages:
// 1.0 holds everything, even where allocations leave blocks part empty, and evicts nothing.
TEST(MemoryFraction, OneHoldsTheWholeFootprint) {
  GenerateOptions o;
  o.models = parse_model_list("resnet18:1,mobilenet_v2:1");
  const Workload w = Workload::build(generate_models(o), "two models");
  ASSERT_GT(w.footprint_blocks * kPagesPerBlock, w.footprint_pages);  // blocks part empty
  Config c;
  c.gpu.memory_fraction = 1.0;
  Simulator s(w, c);
  s.run();
  EXPECT_EQ(s.stats().chunks_evicted, 0u);
  EXPECT_EQ(s.stats().gpu_capacity_bytes, w.footprint_blocks * kPagesPerBlock * trace::kPageBytes);
  c.gpu.memory_fraction = 0.5;
  Simulator half(w, c);
  half.run();
  EXPECT_GT(half.stats().chunks_evicted, 0u);
  EXPECT_EQ(half.stats().gpu_capacity_bytes,
            (w.footprint_blocks + 1) / 2 * kPagesPerBlock * trace::kPageBytes);
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// engine.run_ahead passes access groups on mapped pages without their events; everything but the engine's
// own counts must come out as with one event per group: under evictions (pages of groups already passed
// over lose their mappings), speed changes (CTAs stalling and kernels starting on shared SMs), jittered
// faults and several tenants.
TEST(RunAhead, SameResultsAsAnEventPerGroup) {
  GenerateOptions o;
  o.models = parse_model_list("resnet18:2,mobilenet_v2:2");
  o.requests = 2;
  const Workload models = Workload::build(generate_models(o), "two models");
  MicroSpec spec;
  spec.bytes = 64 << 20;
  spec.pattern = MicroPattern::kRandom;
  spec.touch_back = true;
  spec.host_init = true;
  const Workload random = Workload::build(generate_micro(spec), "random");
  struct Case {
    const Workload* w;
    double fraction;
  };
  for (const Case& k : {Case{&models, 0.5}, Case{&models, 0.75}, Case{&models, 1.0}, Case{&random, 0.75}}) {
    nlohmann::json out[2];
    uint64_t events[2];
    for (int on : {0, 1}) {
      Config c;
      c.gpu.memory_fraction = k.fraction;
      c.engine.run_ahead = on;
      Simulator s(*k.w, c);
      s.run();
      events[on] = s.stats().events;
      out[on] = stats_to_json(s.stats());
      out[on].erase("events");
      out[on].erase("longest_stall_events");
      out[on].erase("resident_launches");  // the resident-kernel shortcut works with run-ahead only
      out[on].erase("resident_launches_dropped");
    }
    EXPECT_EQ(out[0].dump(1), out[1].dump(1)) << k.fraction;
    if (k.w == &models) {  // it does pass groups without events (the micro-workload's CTAs have one group)
      EXPECT_LT(events[1], events[0] * 9 / 10) << k.fraction;
    }
    EXPECT_GT(out[0]["chunks_evicted"].get<uint64_t>() + (k.fraction == 1.0), 0u) << k.fraction;
  }
}

}  // namespace
}  // namespace uvmsim
