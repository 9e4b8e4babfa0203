#include "traces/trace_io.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "test_util.h"

namespace uvmsim {
namespace {

using namespace testing;

trace::Trace sample() {
  trace::Trace t = base_trace(uint64_t{4} << 20);
  add_op(t, trace::OpKind::kHostAccess, 0, 1024);
  add_kernel(t, {{0, 1, 2, 700}, {5, 6}});
  t.kernels[0].read_lines = 1;
  t.kernels[0].write_lines = 4;
  t.ranges[1].t_end = 30000;
  add_sync(t);
  t.observed.push_back({trace::ObservedKind::kHtoD, 2, 100, 200, kVa, 65536});
  t.requests.push_back({0, 5});
  t.passes.push_back({trace::PassKind::kTiming, 1000, "timing"});
  t.completeness.push_back({trace::ObservedKind::kHtoD, 100, 98, 0});
  t.nvtx.push_back({"layer1", 0, 10, 20});
  t.header.driver_params = {{"uvm_perf_fault_batch_count", 256}};
  trace::DriverRun run;
  run.wall_ns = 5000;
  run.dropped[0] = 3;
  run.note = "events.1";
  t.driver_runs.push_back(run);
  trace::DriverEvent fault;
  fault.address = kVa;
  fault.batch = 7;
  fault.kernel = 0;
  fault.cpu_ns = 120;
  fault.gpu_ns = 40;
  trace::DriverEvent replay = fault;
  replay.kind = trace::DriverEventKind::kReplay;
  replay.gpu_ns = 90;
  t.driver_events = {fault, replay};
  return t;
}

std::vector<uint8_t> file_bytes(const trace::Trace& t) {
  std::string path = ::testing::TempDir() + "/sample.uvmt";
  trace::write_trace(t, path);
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The message of the TraceError `read` throws, or "" when it reads cleanly.
template <typename Read>
std::string trace_error(Read read) {
  try {
    read();
  } catch (const trace::TraceError& e) {
    return e.what();
  }
  return "";
}

std::string read_error(const std::vector<uint8_t>& bytes) {
  return trace_error([&] { trace::read_trace_bytes(bytes.data(), bytes.size(), "bad.uvmt"); });
}

TEST(TraceIo, RoundTripPreservesEverySection) {
  trace::Trace t = sample();
  std::string path = ::testing::TempDir() + "/rt.uvmt";
  trace::write_trace(t, path);
  std::string hash;
  trace::Trace r = trace::read_trace(path, &hash);
  EXPECT_EQ(hash.size(), 16u);
  EXPECT_EQ(trace::encode_body(r), trace::encode_body(t));
  ASSERT_EQ(r.ranges.size(), t.ranges.size());
  EXPECT_EQ(r.ranges[1].t_end, 30000);
  EXPECT_EQ(r.observed[0].value, 65536u);
  EXPECT_EQ(r.nvtx[0].name, "layer1");
  EXPECT_EQ(r.header.driver_params[0].second, 256);
  ASSERT_EQ(r.driver_events.size(), 2u);
  EXPECT_EQ(r.driver_events[1].kind, trace::DriverEventKind::kReplay);
  EXPECT_EQ(r.driver_events[0].batch, 7u);
  EXPECT_EQ(r.driver_runs[0].dropped[0], 3u);
  EXPECT_EQ(r.header.format_version, trace::kFormatVersion);
  EXPECT_EQ(r.kernels[0].read_lines, 1u);
  EXPECT_EQ(r.kernels[0].write_lines, 4u);
}

// Version 6's lines per warp access: at most 32 (a warp's 32 lanes), else an error naming the kernel.
TEST(TraceIo, LinesPerWarpAccessBeyond32AreRejected) {
  trace::Trace t = sample();
  t.kernels[0].write_lines = 33;
  const auto body = trace::encode_body(t);
  try {
    trace::decode_body(body.data(), body.size(), "lines.uvmt");
    FAIL() << "accepted";
  } catch (const trace::TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("kernel 0 lines per warp access 1/33 beyond 32"), std::string::npos)
        << e.what();
  }
}

TEST(TraceIo, TruncatedFileNamesFileAndOffset) {
  auto bytes = file_bytes(sample());
  for (size_t cut : {size_t(10), size_t(31), bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> b(bytes.begin(), bytes.begin() + long(cut));
    std::string e = read_error(b);
    EXPECT_NE(e.find("bad.uvmt: offset"), std::string::npos) << e;
    EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("corrupt") != std::string::npos) << e;
  }
}

TEST(TraceIo, EveryFlippedByteIsRejectedWithAClearError) {
  const trace::Trace t = sample();
  const auto want = trace::encode_body(t);
  auto bytes = file_bytes(t);
  size_t rejected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = bytes;
    b[i] ^= 0x5a;
    try {
      trace::Trace r = trace::read_trace_bytes(b.data(), b.size(), "bad.uvmt");
      // A few zstd frame-header bits do not change the content: then the content must be intact.
      EXPECT_EQ(trace::encode_body(r), want) << "byte " << i << " flipped, corrupt content accepted";
    } catch (const trace::TraceError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.uvmt: offset "), std::string::npos) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, bytes.size() * 9 / 10);
}

TEST(TraceIo, AbsurdCountIsRejectedWithoutAllocating) {
  auto body = trace::encode_body(sample());
  // The tenants section starts after the header section: tag(4) + len(8) + payload.
  uint64_t head_len = 0;
  for (int i = 0; i < 8; ++i) head_len |= uint64_t(body[4 + i]) << (8 * i);
  size_t tenants_count_at = 12 + head_len + 12;
  for (int i = 0; i < 8; ++i) body[tenants_count_at + i] = 0xff;
  try {
    trace::decode_body(body.data(), body.size(), "absurd.uvmt");
    FAIL() << "accepted";
  } catch (const trace::TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("absurd tenant count"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("offset " + std::to_string(tenants_count_at)), std::string::npos) << e.what();
  }
}

TEST(TraceIo, SemanticErrorsNameTheRecord) {
  trace::Trace t = sample();
  t.ranges[0].page = kVaPage + 100000;  // outside the 4 MiB allocation
  auto body = trace::encode_body(t);
  try {
    trace::decode_body(body.data(), body.size(), "sem.uvmt");
    FAIL();
  } catch (const trace::TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("range 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside every allocation"), std::string::npos) << e.what();
  }
  trace::Trace u = sample();
  u.ops.pop_back();
  u.ops.erase(u.ops.begin() + 1);  // the kernel is never launched
  body = trace::encode_body(u);
  EXPECT_THROW(trace::decode_body(body.data(), body.size(), "x"), trace::TraceError);
  trace::Trace v = sample();
  v.allocations.push_back(v.allocations[0]);  // overlapping allocations
  body = trace::encode_body(v);
  EXPECT_THROW(trace::decode_body(body.data(), body.size(), "x"), trace::TraceError);
}

// Version 7's served requests: start, end, batch and size round-trip, all recorded or none.
TEST(TraceIo, ServedRequestsRoundTripAndPartialOnesAreRejected) {
  trace::Trace t = sample();
  t.requests.push_back({0, 7, 9, 20, 1, 2});
  t.requests.push_back({0, 8, 9, 20, 1, 2});
  auto body = trace::encode_body(t);
  const trace::Trace r = trace::decode_body(body.data(), body.size(), "r.uvmt");
  ASSERT_EQ(r.requests.size(), 3u);
  EXPECT_EQ(r.requests[0].start_ns, -1);
  EXPECT_EQ(r.requests[2].start_ns, 9);
  EXPECT_EQ(r.requests[2].end_ns, 20);
  EXPECT_EQ(r.requests[2].batch, 1u);
  EXPECT_EQ(r.requests[2].batch_size, 2u);
  for (int bad = 0; bad < 3; ++bad) {
    trace::Trace u = sample();
    u.requests.push_back({0, 7, 9, 20, 1, 2});
    if (bad == 0) u.requests.back().start_ns = 6;    // before its arrival
    if (bad == 1) u.requests.back().end_ns = 8;      // before its start
    if (bad == 2) u.requests.back().batch_size = 0;  // partly recorded
    body = trace::encode_body(u);
    try {
      trace::decode_body(body.data(), body.size(), "u.uvmt");
      ADD_FAILURE() << "case " << bad;
    } catch (const trace::TraceError& e) {
      EXPECT_NE(std::string(e.what()).find("request 1: its start, end, batch and batch size"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(TraceIo, BadMagicAndVersion) {
  auto bytes = file_bytes(sample());
  auto b = bytes;
  b[1] = 'X';
  EXPECT_NE(read_error(b).find("bad magic"), std::string::npos);
  b = bytes;
  b[8] = 9;
  EXPECT_NE(read_error(b).find("unsupported format version 9"), std::string::npos);
}

// Payload offset of a section of an encoded body.
size_t section_payload(const std::vector<uint8_t>& body, const char* tag) {
  size_t at = 0;
  while (at + 12 <= body.size()) {
    uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len |= uint64_t(body[at + 4 + i]) << (8 * i);
    if (std::memcmp(body.data() + at, tag, 4) == 0) return at + 12;
    at += 12 + len;
  }
  ADD_FAILURE() << "no section " << tag;
  return 0;
}

std::string decode_error(const std::vector<uint8_t>& body) {
  return trace_error([&] { trace::decode_body(body.data(), body.size(), "bad.uvmt"); });
}

// A driver event is checked like every other record: its run and kernel must exist, its times lie in
// range and its GPU interval not end before it starts.
TEST(TraceIo, DriverEventsAreChecked) {
  const auto bad = [](auto change) {
    trace::Trace t = sample();
    change(t);
    return decode_error(trace::encode_body(t));
  };
  EXPECT_NE(
      bad([](trace::Trace& t) { t.driver_events[1].run = 1; }).find("driver event 1 names a missing run"),
      std::string::npos);
  EXPECT_NE(bad([](trace::Trace& t) {
              t.driver_events[0].kernel = 5;
            }).find("driver event 0 names a missing kernel"),
            std::string::npos);
  EXPECT_NE(bad([](trace::Trace& t) { t.driver_events[0].cpu_ns = -1; }).find("outside [0, 2^62]"),
            std::string::npos);
  EXPECT_NE(bad([](trace::Trace& t) {
              t.driver_events[0].gpu_end_ns = 10;
            }).find("driver event 0 ends before it starts"),
            std::string::npos);
  auto body = trace::encode_body(sample());
  body[section_payload(body, "DRVE") + 8 + 16 + 8 * trace::kDriverEventKindCount + 4 + 8 + 8] = 99;
  EXPECT_NE(decode_error(body).find("invalid driver event kind 99"), std::string::npos) << decode_error(body);
}

// A CTA's uses go on a grid of 64 steps of its run, unless its pages are first used at more moments than
// that (a thread's dependent chain): then each moment keeps its own step, up to 65535.
TEST(TraceIo, ADependentChainKeepsItsStepsApart) {
  using trace::interval_begin;
  using trace::interval_steps;
  EXPECT_EQ(interval_steps(1, 256), trace::kIntervalSteps);
  EXPECT_EQ(interval_steps(64, 4096), trace::kIntervalSteps);
  EXPECT_EQ(interval_steps(65, 4096), 4096u);
  EXPECT_EQ(interval_steps(100000, 1u << 20), uint64_t(trace::kIntervalScale));
  // 4096 steps of a chain: on the 64-step grid 64 uses share each step; on the chain's own, none do.
  std::set<uint16_t> coarse, fine;
  for (uint64_t i = 1; i <= 4096; ++i) {
    coarse.insert(interval_begin(i, 4096));
    fine.insert(interval_begin(i, 4096, interval_steps(4096, 4096)));
  }
  EXPECT_EQ(coarse.size(), 65u);
  EXPECT_EQ(fine.size(), 4096u);
  // At most 64 moments: the 64-step grid as before.
  EXPECT_EQ(interval_begin(7, 100, interval_steps(10, 100)), interval_begin(7, 100));
}

// Pages are coded against the previous CTA's first page and steps: irregular CTAs (backward steps, huge
// jumps, empty CTAs, CTAs longer and shorter than their predecessor) must come back exactly.
TEST(TraceIo, PagePredictionRoundTripsIrregularAccesses) {
  trace::Trace t = base_trace(uint64_t{1} << 30);  // 262144 pages
  std::mt19937_64 rng(7);
  for (int k = 0; k < 3; ++k) {
    std::vector<std::vector<uint64_t>> ctas(97);
    for (auto& c : ctas) {
      size_t n = rng() % 9 == 0 ? 0 : rng() % 40;
      uint64_t p = rng() % 262144;
      for (size_t i = 0; i < n; ++i) {
        c.push_back(p);
        p = rng() % 4 == 0 ? rng() % 262144 : (p + 3 + rng() % 2) % 262144;
      }
    }
    add_kernel(t, ctas, k == 1 ? trace::AccessKind::kWrite : trace::AccessKind::kRead);
  }
  for (size_t i = 0; i < t.ranges.size(); ++i) t.ranges[i].t_end = uint16_t(i * 31 % 65536);
  auto body = trace::encode_body(t);
  trace::Trace r = trace::decode_body(body.data(), body.size(), "rt");
  ASSERT_EQ(r.ranges.size(), t.ranges.size());
  for (size_t i = 0; i < t.ranges.size(); ++i) {
    EXPECT_EQ(r.ranges[i].page, t.ranges[i].page) << i;
    EXPECT_EQ(r.ranges[i].count, t.ranges[i].count) << i;
    EXPECT_EQ(r.ranges[i].kind, t.ranges[i].kind) << i;
    EXPECT_EQ(r.ranges[i].t_end, t.ranges[i].t_end) << i;
  }
  for (size_t i = 0; i < t.ctas.size(); ++i) {
    EXPECT_EQ(r.ctas[i].range_begin, t.ctas[i].range_begin) << i;
    EXPECT_EQ(r.ctas[i].range_count, t.ctas[i].range_count) << i;
  }
}

// Version 1 files (fixed-size CTA and range records) stay readable: the tiled GEMM as first recorded
// reads back equal to the corpus's version 2 copy of it.
TEST(TraceIo, VersionOneFilesStillRead) {
  trace::Trace v1 = trace::read_trace(source_dir() + "/tests/data/v1_gemm_tiled_1024.uvmt");
  trace::Trace v2 = trace::read_trace(source_dir() + "/traces/corpus/gemm_tiled_1024.uvmt");
  EXPECT_EQ(v1.header.format_version, 1u);
  EXPECT_EQ(v2.header.format_version, 2u);
  EXPECT_GT(v1.ranges.size(), 1000u);
  EXPECT_EQ(trace::encode_body(v1), trace::encode_body(v2));
}

TEST(TraceIo, CorruptColumnsNameTheColumn) {
  trace::Trace t = sample();
  const auto good = trace::encode_body(t);
  const size_t rngs = section_payload(good, "RNGS");
  // Layout after the count: five columns (u64 length, bytes): lengths, kinds, t_begin, t_end, pages.
  auto column_at = [&](int c) {
    size_t at = rngs + 8;
    for (int i = 0; i < c; ++i) {
      uint64_t len = 0;
      for (int b = 0; b < 8; ++b) len |= uint64_t(good[at + b]) << (8 * b);
      at += 8 + len;
    }
    return at;
  };
  auto b = good;
  b[column_at(0)] += 1;  // the lengths column claims one byte more: its last varint reads into 'kinds'
  std::string e = decode_error(b);
  EXPECT_NE(e.find("bad.uvmt: offset"), std::string::npos) << e;
  EXPECT_TRUE(e.find("column") != std::string::npos || e.find("runs past") != std::string::npos) << e;
  b = good;
  b[column_at(0) + 7] = 0x7f;  // absurd column length
  e = decode_error(b);
  EXPECT_NE(e.find("column 'lengths' length"), std::string::npos) << e;
  b = good;
  size_t pages = column_at(4) + 8;
  b[column_at(5) - 1] |= 0x80;  // the last page's varint runs past its column
  e = decode_error(b);
  EXPECT_NE(e.find("unexpected end of section reading a varint"), std::string::npos) << e;
  b = good;
  std::vector<uint8_t> eleven(11, 0xff);
  eleven.back() = 0x01;
  b.insert(b.begin() + long(pages), eleven.begin(), eleven.end());  // an 11-byte varint (lengths not fixed)
  e = decode_error(b);
  EXPECT_FALSE(e.empty());
  // A CTA claiming 2^32 ranges.
  trace::Trace u = sample();
  b = trace::encode_body(u);
  size_t ctas = section_payload(b, "CTAS");
  const uint8_t big[] = {0x80, 0x80, 0x80, 0x80, 0x10};  // 2^32
  b.erase(b.begin() + long(ctas + 16), b.begin() + long(ctas + 17));
  b.insert(b.begin() + long(ctas + 16), std::begin(big), std::end(big));
  e = decode_error(b);
  EXPECT_NE(e.find("offset " + std::to_string(ctas + 16)), std::string::npos) << e;
}

TEST(TraceIo, WriteIsAtomic) {
  std::string path = ::testing::TempDir() + "/atomic.uvmt";
  trace::write_trace(sample(), path);
  EXPECT_FALSE(
      std::ifstream(::testing::TempDir() + "/.atomic.uvmt.uvmsim-tmp." + std::to_string(::getpid())).good());
  EXPECT_NO_THROW(trace::read_trace(path));
}

TEST(TraceIo, ExportCsvWritesEverySection) {
  std::map<std::string, std::ostringstream> files;
  trace::export_csv(sample(), [&](const char* name) -> std::ostream& { return files[name]; });
  std::istringstream f(files["ranges.csv"].str());
  std::string header, line;
  std::getline(f, header);
  EXPECT_EQ(header, "kernel,cta,order,va,pages,kind,t_begin,t_end");
  int n = 0;
  while (std::getline(f, line)) ++n;
  EXPECT_EQ(n, 3);  // CTA 0: pages 0-2 and 700; CTA 1: pages 5-6
  for (const char* s : {"tenants", "allocations", "ops", "kernels", "observed", "driver_events"})
    EXPECT_GT(files[std::string(s) + ".csv"].str().size(), 10u) << s;
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// Every fuzzer seed and every input the fuzzer ever crashed on stays a regression input: each must parse
// or be rejected with TraceError (the fuzzer's own contract), never crash.
TEST(TraceIo, FuzzCorpusAndCrashInputsAreHandled) {
  size_t n = 0;
  for (const char* d : {"/tests/fuzz/corpus", "/tests/fuzz/crashes"}) {
    std::string dir = testing::source_dir() + d;
    if (!std::filesystem::exists(dir)) continue;
    for (auto& e : std::filesystem::directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
      std::ifstream f(e.path(), std::ios::binary);
      std::vector<uint8_t> b{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
      if (b.empty()) continue;
      try {
        if (b[0] & 1) {
          trace::read_trace_bytes(b.data() + 1, b.size() - 1, "fuzz");
        } else {
          trace::decode_body(b.data() + 1, b.size() - 1, "fuzz");
        }
      } catch (const trace::TraceError&) {
      }
      ++n;
    }
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace uvmsim
