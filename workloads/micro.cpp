#include "workloads/micro.h"

#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "sim/version.h"

namespace uvmsim {

using namespace trace;

uint64_t micro_resident_ns(uint64_t pages) { return 40000 + pages / 20; }

namespace {
// Each pattern's name, as `uvmsim generate --pattern`, calibration rows and uvm_micro spell it.
constexpr std::pair<const char*, MicroPattern> kPatternNames[] = {
    {"seq", MicroPattern::kSeq}, {"random", MicroPattern::kRandom}, {"strided", MicroPattern::kStrided}};
}  // namespace

const char* micro_pattern_name(const MicroSpec& s) {
  for (const auto& [name, pattern] : kPatternNames)
    if (pattern == s.pattern) return name;
  return "seq";
}

void set_micro_pattern(MicroSpec& s, const std::string& name) {
  for (const auto& [known, pattern] : kPatternNames)
    if (name == known) {
      s.pattern = pattern;
      return;
    }
  throw std::invalid_argument("pattern '" + name + "' is not seq, random or strided");
}

const char* const kMicroSettingNames =
    "pattern, bytes, threads_per_cta, sharers, page_stride, run_pages, host_init, write, prefetch, "
    "touch_back, "
    "seed, resident_ns";

std::string micro_key(const MicroSpec& s) {
  return std::string(micro_pattern_name(s)) + " " + std::to_string(s.bytes) + " " +
         std::to_string(s.threads_per_cta) + "x" + std::to_string(s.sharers) + "/" +
         std::to_string(s.page_stride) + "r" + std::to_string(s.run_pages) + " " +
         std::to_string(s.host_init) + std::to_string(s.write) + std::to_string(s.prefetch) +
         std::to_string(s.touch_back) + " " + std::to_string(s.seed) + " " + std::to_string(s.resident_ns);
}

bool set_micro_setting(MicroSpec& s, const std::string& key, const nlohmann::json& v) {
  const auto u32 = [&](uint32_t& to, uint32_t lo, uint32_t hi) {
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      throw std::invalid_argument("expected an integer in [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "]");
    to = v.get<uint32_t>();
  };
  const auto flag = [&](bool& to) {
    if (!v.is_boolean()) throw std::invalid_argument("expected true or false");
    to = v.get<bool>();
  };
  if (key == "pattern") {
    if (!v.is_string()) throw std::invalid_argument(v.dump() + " is not seq, random or strided");
    try {
      set_micro_pattern(s, v.get<std::string>());
    } catch (const std::invalid_argument&) {  // its message names "pattern", which the caller's key does
      throw std::invalid_argument("'" + v.get<std::string>() + "' is not seq, random or strided");
    }
  } else if (key == "bytes") {
    if (v.is_string())
      s.bytes = parse_bytes(v.get<std::string>());
    else if (v.is_number_unsigned())
      s.bytes = v.get<uint64_t>();
    else
      throw std::invalid_argument("expected a size (64MiB) or a number");
  } else if (key == "threads_per_cta") {
    u32(s.threads_per_cta, 1, 1024);
  } else if (key == "sharers") {
    u32(s.sharers, 1, 1024);
  } else if (key == "page_stride") {
    u32(s.page_stride, 1, 1 << 20);
  } else if (key == "run_pages") {
    u32(s.run_pages, 0, 4096);
  } else if (key == "host_init") {
    flag(s.host_init);
  } else if (key == "write") {
    flag(s.write);
  } else if (key == "prefetch") {
    flag(s.prefetch);
  } else if (key == "touch_back") {
    flag(s.touch_back);
  } else if (key == "seed" || key == "resident_ns") {
    if (!v.is_number_unsigned()) throw std::invalid_argument("expected a non-negative integer");
    (key == "seed" ? s.seed : s.resident_ns) = v.get<uint64_t>();
  } else {
    return false;
  }
  return true;
}

uint64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("not a size: '" + text + "'");
  }
  std::string unit = text.substr(used);
  uint64_t mul = 1;
  if (unit == "" || unit == "B")
    mul = 1;
  else if (unit == "KiB" || unit == "K")
    mul = 1ull << 10;
  else if (unit == "MiB" || unit == "M")
    mul = 1ull << 20;
  else if (unit == "GiB" || unit == "G")
    mul = 1ull << 30;
  else
    throw std::invalid_argument("unknown size unit in '" + text + "' (use B, KiB, MiB or GiB)");
  if (v > (~0ull) / mul) throw std::invalid_argument("size too large: '" + text + "'");
  return v * mul;
}

Header generated_header() {
  Header h;
  h.producer = Producer::kGenerator;
  h.producer_version = kVersion;
  h.device_name = "NVIDIA H100 80GB HBM3";
  h.sm_count = 132;
  h.device_memory_bytes = uint64_t{81559} << 20;
  h.driver_params = {{"uvm_perf_fault_batch_count", 256},
                     {"uvm_perf_fault_replay_policy", 2},
                     {"uvm_perf_fault_max_batches_per_service", 20},
                     {"uvm_perf_prefetch_threshold", 51},
                     {"uvm_perf_thrashing_lapse_usec", 500}};
  return h;
}

Trace generate_micro(const MicroSpec& s) {
  if (s.bytes == 0 || s.bytes % kPageBytes != 0)
    throw std::invalid_argument("--bytes must be a positive multiple of 4096, not " +
                                std::to_string(s.bytes));
  if (s.bytes > kMaxMicroBytes)
    throw std::invalid_argument("--bytes " + std::to_string(s.bytes) +
                                " is beyond the generator's limit of " +
                                std::to_string(kMaxMicroBytes >> 30) + " GiB (kMaxMicroBytes)");
  if (s.threads_per_cta == 0 || s.threads_per_cta > 1024)
    throw std::invalid_argument("--threads-per-cta must be in 1..1024");
  if (s.sharers == 0 || s.sharers > 1024) throw std::invalid_argument("--sharers must be in 1..1024");
  if (s.page_stride == 0 || s.page_stride > 262144)
    throw std::invalid_argument("--page-stride must be in 1..262144");
  if ((s.bytes / kPageBytes) % s.page_stride != 0)
    throw std::invalid_argument("--bytes " + std::to_string(s.bytes) +
                                " is not a whole number of strides of " + std::to_string(s.page_stride) +
                                " pages");
  if (s.run_pages > 0 && (s.pattern != MicroPattern::kSeq || s.page_stride != 1 ||
                          (s.bytes / kPageBytes) % (2 * uint64_t{s.run_pages}) != 0))
    throw std::invalid_argument("--run-pages " + std::to_string(s.run_pages) +
                                " needs --pattern seq, no --page-stride and a size of whole " +
                                std::to_string(2 * uint64_t{s.run_pages}) + " pages");
  if (s.pattern == MicroPattern::kStrided && (s.bytes / kPageBytes / s.page_stride) % s.threads_per_cta != 0)
    throw std::invalid_argument(
        "--pattern strided needs whole CTAs: " + std::to_string(s.bytes / kPageBytes / s.page_stride) +
        " pages are not a multiple of " + std::to_string(s.threads_per_cta));
  Trace t;
  Header& h = t.header;
  h = generated_header();
  h.command = std::string("uvmsim generate --pattern ") + micro_pattern_name(s) + " --bytes " +
              std::to_string(s.bytes) + " --threads-per-cta " + std::to_string(s.threads_per_cta) +
              (s.sharers > 1 ? " --sharers " + std::to_string(s.sharers) : std::string()) +
              (s.page_stride > 1 ? " --page-stride " + std::to_string(s.page_stride) : std::string()) +
              (s.run_pages > 0 ? " --run-pages " + std::to_string(s.run_pages) : std::string()) +
              (s.host_init ? " --host-init" : "") + (s.write ? " --write" : "") +
              (s.prefetch ? " --prefetch" : "") + (s.touch_back ? " --touch-back" : "") + " --seed " +
              std::to_string(s.seed);
  std::string model = std::string("micro_") + micro_pattern_name(s);
  t.tenants.push_back({model + "#0", model, 1, 0});
  const uint64_t va = 0x7f0000000000ull;
  t.allocations.push_back({0, AllocKind::kManaged, AllocRole::kInput, va, s.bytes, 0, -1, "data"});
  t.passes.push_back({PassKind::kGenerated, 0, "micro-workload"});

  const uint64_t pages = s.bytes / kPageBytes / s.page_stride / (s.run_pages > 0 ? 2 : 1);  // touched
  std::vector<uint64_t> order(pages);
  for (uint64_t i = 0; i < pages; ++i)  // with --run-pages, runs of run_pages pages of every twice as many
    order[i] = s.run_pages > 0 ? i / s.run_pages * 2 * s.run_pages + i % s.run_pages : i;
  if (s.pattern == MicroPattern::kRandom) {
    std::mt19937_64 rng(s.seed);
    for (uint64_t i = pages - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
  }
  const uint64_t ctas = (pages + s.threads_per_cta - 1) / s.threads_per_cta;
  if (s.pattern == MicroPattern::kStrided)
    for (uint64_t i = 0; i < pages; ++i) order[i] = (i % s.threads_per_cta) * ctas + i / s.threads_per_cta;
  if (ctas * s.sharers > 0x7fffffffull) throw std::invalid_argument("too many CTAs");
  auto add_kernel = [&](const std::string& name) {
    Kernel k;
    k.tenant = 0;
    k.stream = 0;
    k.name = name;
    k.grid = {uint32_t(ctas * s.sharers), 1, 1};
    k.block = {s.threads_per_cta, 1, 1};
    k.regs_per_thread = 16;
    k.resident_ns = s.resident_ns ? s.resident_ns : micro_resident_ns(pages);
    k.cta_begin = t.ctas.size();
    k.cta_count = ctas * s.sharers;
    AccessKind kind = s.write ? AccessKind::kWrite : AccessKind::kRead;
    for (uint64_t cs = 0; cs < ctas * s.sharers; ++cs) {
      const uint64_t c = cs / s.sharers;  // the chunk of pages this CTA shares with its neighbours
      Cta cta{t.ranges.size(), 0};
      for (uint64_t i = c * s.threads_per_cta; i < std::min(pages, (c + 1) * s.threads_per_cta); ++i) {
        uint64_t page = (va >> kPageShift) + order[i] * s.page_stride;
        if (cta.range_count > 0 && t.ranges.back().page + t.ranges.back().count == page) {
          ++t.ranges.back().count;
          continue;
        }
        t.ranges.push_back({page, 1, kind, 0, 0});
        ++cta.range_count;
      }
      t.ctas.push_back(cta);
    }
    Op o;
    o.kind = OpKind::kKernel;
    o.a = t.kernels.size();
    t.kernels.push_back(k);
    t.ops.push_back(o);
  };
  // An op on [address, address + bytes).
  auto add_op = [&](OpKind kind, AccessKind access, int32_t device, uint64_t address, uint64_t bytes) {
    Op o;
    o.kind = kind;
    o.access = access;
    o.device = device;
    o.a = address;
    o.b = bytes;
    t.ops.push_back(o);
  };
  auto sync = [&]() {
    Op o;
    o.kind = OpKind::kSync;
    t.ops.push_back(o);
  };
  // The CPU's accesses cover the touched pages: the whole allocation, or with a stride each touched page
  // alone, in address order (as utlb_burst_probe's loop).
  auto host = [&](AccessKind access) {
    if (s.page_stride == 1) return add_op(OpKind::kHostAccess, access, -1, va, s.bytes);
    for (uint64_t i = 0; i < pages; ++i)
      add_op(OpKind::kHostAccess, access, -1, va + i * s.page_stride * kPageBytes, kPageBytes);
  };
  if (s.host_init) host(AccessKind::kWrite);
  if (s.prefetch) {
    add_op(OpKind::kPrefetch, AccessKind::kRead, 0, va, s.bytes);
    sync();
  }
  add_kernel("touch");
  sync();
  add_kernel("touch_again");
  sync();
  if (s.touch_back) host(AccessKind::kRead);
  return t;
}

}  // namespace uvmsim
