// Converter from uvmtrace's raw records (cuda_tracer/RAW.md) to a .uvmt trace (traces/FORMAT.md).
#include "cuda_tracer/convert.h"

#include <cxxabi.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "cuda_tracer/src/raw_format.h"
#include "cuda_tracer/src/uvm_events.h"
#include "sim/version.h"
#include "traces/coverage.h"
#include "traces/files.h"

#if __has_include(<cupti_activity.h>)
#include <cupti_activity.h>
#define UVMSIM_HAVE_CUPTI 1
#else
#define UVMSIM_HAVE_CUPTI 0
#endif

namespace uvmsim {

using namespace trace;
namespace fs = std::filesystem;

bool convert_supported() { return UVMSIM_HAVE_CUPTI != 0; }

size_t median_run(const std::vector<int64_t>& sums) {
  if (sums.empty()) throw ConvertError("median_run: no runs");
  std::vector<size_t> order(sums.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sums[a] < sums[b]; });
  return order[(order.size() - 1) / 2];
}

CallParts call_parts(const Trace& t) {
  CallParts c;
  c.call_of.assign(t.ops.size(), -1);
  c.first_part.assign(t.ops.size(), false);
  for (size_t i = 0, prev = t.ops.size(); i < t.ops.size(); ++i) {
    const Op& o = t.ops[i];
    if (o.kind == OpKind::kHostAccess) continue;
    c.first_part[i] = prev == t.ops.size() || t.ops[prev].kind != o.kind || t.ops[prev].host_ns != o.host_ns;
    c.calls += c.first_part[i];
    c.call_of[i] = c.calls - 1;
    prev = i;
  }
  return c;
}

size_t repair_split_call_gaps(Trace& t) {
  const CallParts c = call_parts(t);
  size_t fixed = 0;
  for (size_t i = 0; i < t.ops.size(); ++i)
    if (c.call_of[i] >= 0 && !c.first_part[i] && t.ops[i].host_gap_ns != 0) {
      t.ops[i].host_gap_ns = 0;
      ++fixed;
    }
  return fixed;
}

std::vector<int64_t> match_calls(const std::vector<OpKind>& a, const std::vector<OpKind>& b,
                                 size_t* unmatched) {
  std::vector<int64_t> m(a.size(), -1);
  size_t matched = 0;
  // Segments [i0, i1) of a and [j0, j1) of b between kernel launches, aligned by LCS of kinds.
  auto align = [&](size_t i0, size_t i1, size_t j0, size_t j1) {
    const size_t n = i1 - i0, k = j1 - j0;
    std::vector<uint32_t> L((n + 1) * (k + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return L[i * (k + 1) + j]; };
    for (size_t i = n; i-- > 0;)
      for (size_t j = k; j-- > 0;)
        at(i, j) = a[i0 + i] == b[j0 + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    for (size_t i = 0, j = 0; i < n && j < k;) {
      if (a[i0 + i] == b[j0 + j]) {
        m[i0 + i] = int64_t(j0 + j);
        ++matched, ++i, ++j;
      } else if (at(i + 1, j) >= at(i, j + 1)) {
        ++i;
      } else {
        ++j;
      }
    }
  };
  size_t i = 0, j = 0;
  for (;;) {
    size_t i1 = i, j1 = j;
    while (i1 < a.size() && a[i1] != OpKind::kKernel) ++i1;
    while (j1 < b.size() && b[j1] != OpKind::kKernel) ++j1;
    align(i, i1, j, j1);
    if (i1 == a.size() || j1 == b.size()) break;
    m[i1] = int64_t(j1);
    ++matched;
    i = i1 + 1;
    j = j1 + 1;
  }
  *unmatched = a.size() + b.size() - 2 * matched;
  return m;
}

std::vector<int64_t> match_nvtx(const std::vector<NvtxRange>& trace,
                                const std::vector<std::pair<int64_t, int64_t> >& trace_kernels,
                                const std::vector<NvtxRange>& run,
                                const std::vector<std::pair<int64_t, int64_t> >& run_kernels) {
  std::vector<int64_t> out(trace.size(), -1);
  size_t next = 0;
  for (size_t i = 0; i < trace.size(); ++i) {
    std::vector<size_t> inside;  // the trace's kernels that start within its range i
    for (size_t k = 0; k < trace_kernels.size() && k < run_kernels.size(); ++k)
      if (trace[i].start_ns <= trace_kernels[k].first && trace_kernels[k].first <= trace[i].end_ns)
        inside.push_back(k);
    int64_t best = -1, best_count = -1;
    for (size_t j = next; j < run.size(); ++j) {
      if (run[j].name != trace[i].name) continue;
      int64_t count = 0;
      for (size_t k : inside)
        count += run[j].start_ns <= run_kernels[k].first && run_kernels[k].first <= run[j].end_ns;
      if (count > best_count) best = int64_t(j), best_count = count;
    }
    if (best < 0) return out;
    out[i] = best;
    next = size_t(best) + 1;
  }
  return out;
}

#if !UVMSIM_HAVE_CUPTI

Trace convert_recording(const std::string& dir, const ConvertOptions&) {
  throw ConvertError(dir + ": this uvmsim was built without CUPTI's headers and cannot read CUPTI buffers");
}

Trace retime_recording(Trace, const std::string& dir) {
  throw ConvertError(dir + ": this uvmsim was built without CUPTI's headers and cannot read CUPTI buffers");
}

Trace stamp_lines(Trace, const std::string& lines_tsv) {
  throw ConvertError(lines_tsv + ": this uvmsim was built without the converter (CUPTI's headers)");
}

#else

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ConvertError(where + ": " + what); }

std::vector<uint8_t> read_file(const fs::path& p) {
  if (!fs::exists(p)) fail(p.string(), "missing (was the pass recorded, and did it finish?)");
  try {
    return files::read_regular_file(p.string());
  } catch (const files::FileError& e) {
    throw ConvertError(e.what());
  }
}

std::string demangle(const std::string& name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : name;
}

// ---- events.tsv and allocs.tsv ----------------------------------------------------------------------------
struct Line {
  std::vector<std::string> f;
  size_t number = 0;
};

struct TextFile {
  fs::path path;
  std::vector<Line> lines;
  std::string where(const Line& l) const { return path.string() + ":" + std::to_string(l.number); }
  uint64_t u64(const Line& l, size_t i, int base = 10) const {
    if (i >= l.f.size()) fail(where(l), "field " + std::to_string(i) + " missing in '" + l.f[0] + "' line");
    const std::string& s = l.f[i];
    size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(s, &used, base);
    } catch (const std::exception&) {
      used = std::string::npos;
    }
    if (used != s.size() || s.empty() || s[0] == '-') fail(where(l), "'" + s + "' is not a number");
    return v;
  }
  int64_t i64(const Line& l, size_t i) const {
    if (i >= l.f.size()) fail(where(l), "field " + std::to_string(i) + " missing in '" + l.f[0] + "' line");
    try {
      size_t used = 0;
      long long v = std::stoll(l.f[i], &used);
      if (used == l.f[i].size()) return v;
    } catch (const std::exception&) {
    }
    fail(where(l), "'" + l.f[i] + "' is not a number");
  }
  const std::string& str(const Line& l, size_t i) const {
    if (i >= l.f.size()) fail(where(l), "field " + std::to_string(i) + " missing in '" + l.f[0] + "' line");
    return l.f[i];
  }
};

TextFile read_text(const fs::path& p, const std::string& end_tag) {
  std::ifstream f(p);
  if (!f) fail(p.string(), "missing (was the pass recorded, and did it finish?)");
  if (!fs::is_regular_file(p)) fail(p.string(), "not a regular file");
  TextFile t{p, {}};
  std::string s;
  size_t n = 0;
  while (std::getline(f, s)) {
    ++n;
    if (s.empty()) continue;
    Line l;
    l.number = n;
    std::stringstream ss(s);
    std::string field;
    while (std::getline(ss, field, '\t')) l.f.push_back(field);
    t.lines.push_back(std::move(l));
  }
  if (t.lines.empty() || t.lines.back().f[0] != end_tag ||
      std::find(t.lines.back().f.begin(), t.lines.back().f.end(), "complete") == t.lines.back().f.end())
    fail(p.string(), "does not end with a complete '" + end_tag + "' line: the pass was interrupted");
  return t;
}

// ---- lines.tsv --------------------------------------------------------------------------------------------

// Per launch with accesses: the median lines per warp access of its reads and of its writes (atomics
// included), from the rows' histograms; and the row's mangled kernel name.
struct WarpLines {
  uint8_t read = 0, write = 0;
  std::string name;
  size_t line = 0;  // its first row, for errors
};

std::map<uint64_t, WarpLines> read_lines(const fs::path& p) {
  const TextFile f = read_text(p, "end");
  std::map<uint64_t, std::array<uint64_t, 33> > reads, writes;
  std::map<uint64_t, WarpLines> out;
  for (size_t i = 0; i + 1 < f.lines.size(); ++i) {
    const Line& l = f.lines[i];
    if (l.f.size() != 35) fail(f.where(l), "expected 35 fields (launch, kind, 32 counts, name)");
    const uint64_t launch = f.u64(l, 0);
    const std::string& kind = l.f[1];
    if (kind != "read" && kind != "write" && kind != "atomic")
      fail(f.where(l), "unknown access kind '" + kind + "'");
    auto& h = (kind == "read" ? reads : writes)[launch];
    for (size_t n = 1; n <= 32; ++n) h[n] += f.u64(l, n + 1);
    WarpLines& w = out[launch];
    if (w.name.empty()) {
      w.name = l.f[34];
      w.line = l.number;
    } else if (w.name != l.f[34]) {
      fail(f.where(l), "launch " + std::to_string(launch) + " has two kernel names");
    }
  }
  auto median = [](const std::array<uint64_t, 33>& h) -> uint8_t {
    uint64_t total = 0, seen = 0;
    for (uint64_t c : h) total += c;
    for (size_t n = 1; n <= 32; ++n)
      if ((seen += h[n]) * 2 >= total && total > 0) return uint8_t(n);
    return 0;
  };
  for (auto& [launch, w] : out) {
    if (auto it = reads.find(launch); it != reads.end()) w.read = median(it->second);
    if (auto it = writes.find(launch); it != writes.end()) w.write = median(it->second);
  }
  return out;
}

// ---- cupti.bin ------------------------------------------------------------------------------------------------
struct KernelRec {
  uint32_t corr = 0, stream_id = 0;
  uint64_t start = 0, end = 0;
  std::string name;
  std::array<uint32_t, 3> grid{}, block{};
  uint32_t regs = 0, smem = 0;
  uint32_t ordinal = 0;  // stream ordinal
};
struct UmRec {
  uint32_t counter = 0, flags = 0;
  uint64_t value = 0, start = 0, end = 0, address = 0;
};
struct MarkerRec {
  uint32_t flags = 0, id = 0;
  uint64_t ts = 0;
  std::string name;
};
struct Cupti {
  std::vector<KernelRec> kernels;
  std::vector<UmRec> um;
  std::vector<MarkerRec> markers;
  uint64_t dropped = 0;
  std::map<uint32_t, uint32_t> stream_ordinal;  // stream id -> ordinal, in order of first launch
  uint64_t min_ts = ~0ull;
};

template <typename T>
T record_at(const uint8_t* buf, uint64_t bytes, uint32_t off, const std::string& where) {
  T r;
  std::memset(&r, 0, sizeof r);
  if (off >= bytes) fail(where, "record offset " + std::to_string(off) + " beyond the buffer");
  std::memcpy(&r, buf + off, std::min<uint64_t>(sizeof r, bytes - off));
  return r;
}

Cupti read_cupti(const fs::path& p) {
  const std::vector<uint8_t> d = read_file(p);
  const std::string name = p.string();
  auto at = [&](size_t off) { return name + ": offset " + std::to_string(off); };
  if (d.size() < 8 || std::memcmp(d.data(), uvmtrace::kCuptiFileMagic, 8) != 0)
    fail(at(0), "not a uvmtrace CUPTI buffer file (bad magic)");
  Cupti c;
  size_t pos = 8;
  while (pos < d.size()) {
    const size_t frame_at = pos;
    uvmtrace::FrameHeader h;
    if (d.size() - pos < sizeof h) fail(at(pos), "truncated frame header");
    std::memcpy(&h, d.data() + pos, sizeof h);
    pos += sizeof h;
    if (h.magic != uvmtrace::kFrameMagic) fail(at(frame_at), "bad frame magic");
    if (h.records > (d.size() - pos) / sizeof(uvmtrace::RecordIndex)) fail(at(frame_at), "absurd record count");
    std::vector<uvmtrace::RecordIndex> index(h.records);
    if (h.records) std::memcpy(index.data(), d.data() + pos, h.records * sizeof(uvmtrace::RecordIndex));
    pos += h.records * sizeof(uvmtrace::RecordIndex);
    std::map<std::pair<uint32_t, uint32_t>, std::string> strings;
    for (uint32_t i = 0; i < h.strings; ++i) {
      uvmtrace::StringRef s;
      if (d.size() - pos < sizeof s) fail(at(pos), "truncated string reference");
      std::memcpy(&s, d.data() + pos, sizeof s);
      pos += sizeof s;
      if (s.length > d.size() - pos) fail(at(pos), "string length " + std::to_string(s.length) + " out of bounds");
      strings[{s.record_offset, s.field}] = std::string(reinterpret_cast<const char*>(d.data() + pos), s.length);
      pos += s.length;
    }
    if (h.bytes > d.size() - pos) fail(at(frame_at), "buffer of " + std::to_string(h.bytes) + " bytes is truncated");
    const uint8_t* buf = d.data() + pos;
    const std::string where = at(pos);
    c.dropped += h.dropped;
    uint32_t prev_off = 0;
    for (size_t i = 0; i < index.size(); ++i) {
      const auto& ix = index[i];
      if (i > 0 && ix.offset <= prev_off) fail(where, "record offsets out of order");
      prev_off = ix.offset;
      switch (ix.kind) {
        case CUPTI_ACTIVITY_KIND_KERNEL:
        case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
          auto k = record_at<CUpti_ActivityKernel10>(buf, h.bytes, ix.offset, where);
          KernelRec r;
          r.corr = k.correlationId;
          r.stream_id = k.streamId;
          r.start = k.start;
          r.end = k.end;
          r.grid = {uint32_t(k.gridX), uint32_t(k.gridY), uint32_t(k.gridZ)};
          r.block = {uint32_t(k.blockX), uint32_t(k.blockY), uint32_t(k.blockZ)};
          r.regs = k.registersPerThread;
          r.smem = uint32_t(k.staticSharedMemory + k.dynamicSharedMemory);
          auto it = strings.find({ix.offset, uvmtrace::kKernelName});
          if (it == strings.end()) fail(where, "kernel record without its name");
          r.name = it->second;
          if (r.end < r.start) fail(where, "kernel record ends before it starts");
          c.min_ts = std::min(c.min_ts, r.start);
          c.kernels.push_back(std::move(r));
          break;
        }
        case CUPTI_ACTIVITY_KIND_UNIFIED_MEMORY_COUNTER: {
          auto u = record_at<CUpti_ActivityUnifiedMemoryCounter3>(buf, h.bytes, ix.offset, where);
          c.um.push_back({uint32_t(u.counterKind), u.flags, u.value, u.start, std::max(u.start, u.end), u.address});
          break;
        }
        case CUPTI_ACTIVITY_KIND_MARKER: {
          auto m = record_at<CUpti_ActivityMarker2>(buf, h.bytes, ix.offset, where);
          MarkerRec r{uint32_t(m.flags), m.id, m.timestamp, {}};
          if (m.timestamp != 0) c.min_ts = std::min(c.min_ts, m.timestamp);
          auto it = strings.find({ix.offset, uvmtrace::kMarkerName});
          if (it != strings.end()) r.name = it->second;
          c.markers.push_back(r);
          break;
        }
        default:
          break;
      }
    }
    pos += h.bytes;
  }
  std::sort(c.kernels.begin(), c.kernels.end(), [](const KernelRec& a, const KernelRec& b) { return a.corr < b.corr; });
  for (auto& k : c.kernels)
    k.ordinal = c.stream_ordinal.emplace(k.stream_id, uint32_t(c.stream_ordinal.size())).first->second;
  return c;
}

// ---- access.bin -----------------------------------------------------------------------------------------------
struct Launch {
  uvmtrace::LaunchHeader h;
  std::string name;
  std::vector<uvmtrace::AccessEntry> entries;
};

std::vector<Launch> read_access(const fs::path& p) {
  const std::vector<uint8_t> d = read_file(p);
  const std::string name = p.string();
  auto at = [&](size_t off) { return name + ": offset " + std::to_string(off); };
  if (d.size() < 8 || std::memcmp(d.data(), uvmtrace::kAccessFileMagic, 8) != 0)
    fail(at(0), "not a uvmtrace access file (bad magic)");
  std::vector<Launch> out;
  size_t pos = 8;
  while (pos < d.size()) {
    const size_t launch_at = pos;
    Launch l;
    if (d.size() - pos < sizeof l.h) fail(at(pos), "truncated launch header");
    std::memcpy(&l.h, d.data() + pos, sizeof l.h);
    pos += sizeof l.h;
    if (l.h.magic != uvmtrace::kLaunchMagic) fail(at(launch_at), "bad launch magic");
    if (l.h.flags & uvmtrace::kLaunchOverflow) fail(at(launch_at), "the device table overflowed: the capture is incomplete");
    if (l.h.name_bytes > 65536 || l.h.name_bytes > d.size() - pos) fail(at(launch_at), "kernel name out of bounds");
    l.name.assign(reinterpret_cast<const char*>(d.data() + pos), l.h.name_bytes);
    pos += l.h.name_bytes;
    if (l.h.entries > (d.size() - pos) / sizeof(uvmtrace::AccessEntry))
      fail(at(launch_at), "entry count " + std::to_string(l.h.entries) + " exceeds the file");
    for (int i = 0; i < 3; ++i)
      if (l.h.grid[i] == 0 || l.h.block[i] == 0) fail(at(launch_at), "zero grid or block dimension");
    l.entries.resize(l.h.entries);
    if (l.h.entries) std::memcpy(l.entries.data(), d.data() + pos, l.h.entries * sizeof(uvmtrace::AccessEntry));
    pos += l.h.entries * sizeof(uvmtrace::AccessEntry);
    const uint64_t ctas = uint64_t(l.h.grid[0]) * l.h.grid[1] * l.h.grid[2];
    for (size_t i = 0; i < l.entries.size(); ++i) {
      const auto& e = l.entries[i];
      if (e.cta >= ctas || e.first > e.last) fail(at(launch_at), "entry " + std::to_string(i) + " is inconsistent");
      if (i > 0 && std::pair(e.cta, e.page) <= std::pair(l.entries[i - 1].cta, l.entries[i - 1].page))
        fail(at(launch_at), "entries are not sorted by CTA and page");
    }
    out.push_back(std::move(l));
  }
  return out;
}

// ---- allocations and their matching across passes --------------------------------------------------------------

struct RawAlloc {
  bool managed = false;
  uint64_t va = 0, bytes = 0;
  int64_t alloc_ts = 0, free_ts = -1;
};

// Address translation from one pass's address space into the timing pass's, by allocation order and size.
struct VaMap {
  struct Span {
    uint64_t va, bytes, to;
    bool managed;
  };
  std::vector<Span> spans;  // sorted by va
  void build(const std::vector<RawAlloc>& from, const std::vector<RawAlloc>& to, const std::string& what) {
    // Managed allocations must match one to one; plain device ones are matched where order and size agree.
    std::vector<const RawAlloc*> fm, tm;
    for (auto& a : from)
      if (a.managed) fm.push_back(&a);
    for (auto& a : to)
      if (a.managed) tm.push_back(&a);
    if (fm.size() != tm.size())
      fail(what, std::to_string(fm.size()) + " managed allocations against " + std::to_string(tm.size()) +
                     " in the timing pass: the passes did not run the same program");
    for (size_t i = 0; i < fm.size(); ++i) {
      if (fm[i]->bytes != tm[i]->bytes)
        fail(what, "managed allocation " + std::to_string(i) + " has " + std::to_string(fm[i]->bytes) +
                       " bytes against " + std::to_string(tm[i]->bytes) + " in the timing pass");
      spans.push_back({fm[i]->va, fm[i]->bytes, tm[i]->va, true});
    }
    size_t j = 0;
    for (auto& a : from) {
      if (a.managed) continue;
      while (j < to.size() && (to[j].managed || to[j].bytes != a.bytes)) ++j;
      if (j == to.size()) break;
      spans.push_back({a.va, a.bytes, to[j].va, false});
      ++j;
    }
    std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.va < y.va; });
  }
  const Span* find(uint64_t va) const {
    auto it = std::upper_bound(spans.begin(), spans.end(), va, [](uint64_t v, const Span& s) { return v < s.va; });
    if (it == spans.begin()) return nullptr;
    --it;
    return va < it->va + it->bytes ? &*it : nullptr;
  }
  // A span holding some byte of the page at `va`, a managed one first: small allocations share pages, and
  // one may begin inside the page.
  const Span* find_page(uint64_t va) const {
    const Span* s = find(va);
    if (s && s->managed) return s;
    auto it = std::upper_bound(spans.begin(), spans.end(), va, [](uint64_t v, const Span& x) { return v < x.va; });
    for (; it != spans.end() && it->va < va + kPageBytes; ++it)
      if (it->managed) return &*it;
    return s;
  }
};

std::vector<RawAlloc> allocs_of(const TextFile& ev) {
  std::vector<RawAlloc> out;
  for (const Line& l : ev.lines) {
    if (l.f[0] != "alloc") continue;
    const bool timed = l.f.size() >= 6;  // events.tsv: alloc ts kind va bytes corr; allocs.tsv: alloc kind va bytes
    const size_t k = timed ? 2 : 1;
    RawAlloc a;
    a.managed = ev.str(l, k) == "managed";
    a.va = ev.u64(l, k + 1, 16);
    a.bytes = ev.u64(l, k + 2);
    a.alloc_ts = timed ? int64_t(ev.u64(l, 1)) : 0;
    out.push_back(a);
  }
  return out;
}

// ---- one CUPTI pass -------------------------------------------------------------------------------------------
struct CuptiPass {
  std::string name;
  TextFile events;
  Cupti cupti;
  std::vector<RawAlloc> allocs;
  uint64_t t0 = 0;
};

// `dir`: the pass's folder (its proc_<label> folder in a multi-process recording).
CuptiPass read_cupti_pass(const fs::path& dir, const std::string& name) {
  CuptiPass p{name, read_text(dir / "events.tsv", "end"), read_cupti(dir / "cupti.bin"), {}, 0};
  const Line& first = p.events.lines.front();
  if (first.f[0] != "uvmtrace" || p.events.str(first, 2) != name)
    fail(p.events.where(first), "not the events of the " + name + " pass");
  if (p.events.u64(first, 1) != uvmtrace::kRawVersion)
    fail(p.events.where(first), "raw format version " + first.f[1] + " is not supported");
  p.allocs = allocs_of(p.events);
  p.t0 = p.cupti.min_ts;
  for (const Line& l : p.events.lines)
    if (l.f[0] != "uvmtrace" && l.f[0] != "cmd" && l.f[0] != "device" && l.f[0] != "uvm_param" &&
        l.f[0] != "soft_dirty" && l.f[0] != "present" && l.f[0] != "um_counter_unavailable" &&
        l.f[0] != "nvtx_unavailable" && l.f[0] != "refused" && l.f[0] != "stream" &&
        l.f[0] != "driver_events" && l.f.size() > 1)
      p.t0 = std::min<uint64_t>(p.t0, p.events.u64(l, 1));
  return p;
}

// The SMs a pass's kernels ran on: the green-context partition of their streams (the stream lines' fourth
// field, cuda_tracer/src/inject.cpp), 0 for the whole GPU (a stream without one, or a recording from before
// the field). Every kernel of a trace must run on partitions of one size.
unsigned partition_of(const CuptiPass& p, const std::string& where) {
  std::map<uint64_t, unsigned> sms_of_stream;  // CUPTI stream id -> SMs
  for (const Line& l : p.events.lines)
    if (l.f[0] == "stream" && l.f.size() > 3)
      sms_of_stream[p.events.u64(l, 2)] = unsigned(p.events.u64(l, 3));
  std::set<unsigned> sizes;
  for (const KernelRec& k : p.cupti.kernels) {
    const auto it = sms_of_stream.find(k.stream_id);
    sizes.insert(it == sms_of_stream.end() ? 0u : it->second);
  }
  if (sizes.size() > 1)
    fail(where, "kernels ran on partitions of " + std::to_string(*sizes.begin()) + " and " +
                    std::to_string(*sizes.rbegin()) +
                    " SMs (0: the whole GPU); a trace holds one partition size");
  return sizes.empty() ? 0u : *sizes.begin();
}

// NVTX ranges of a pass: start and end markers paired by id, in the order they end.
std::vector<NvtxRange> nvtx_of(const CuptiPass& p) {
  std::vector<NvtxRange> out;
  std::map<uint32_t, MarkerRec> open;
  for (const MarkerRec& m : p.cupti.markers) {
    if (m.flags & CUPTI_ACTIVITY_FLAG_MARKER_START) {
      open[m.id] = m;
    } else if (m.flags & CUPTI_ACTIVITY_FLAG_MARKER_END) {
      auto it = open.find(m.id);
      if (it == open.end()) continue;
      out.push_back({it->second.name, 0, int64_t(it->second.ts - p.t0), int64_t(m.ts - p.t0)});
      open.erase(it);
    }
  }
  return out;
}

// The ops a CUPTI pass's calls make, in program order. `probe_ops[i]` is the op index before which the
// i-th host-residency probe stands (counters pass).
struct OpList {
  std::vector<Op> ops;
  std::vector<int64_t> kernel_of_op;  // index into the pass's kernels (by correlation order), or -1
  std::vector<std::pair<size_t, size_t>> probes;  // (op index the probe precedes, line index of the probe)
};

OpList ops_of(const CuptiPass& p) {
  const std::map<uint32_t, uint32_t>& stream_ordinal = p.cupti.stream_ordinal;
  OpList out;
  std::map<uint32_t, size_t> kernel_by_corr;
  for (size_t i = 0; i < p.cupti.kernels.size(); ++i) kernel_by_corr[p.cupti.kernels[i].corr] = i;
  std::map<uint64_t, uint32_t> live;  // va -> allocation index
  uint32_t next_alloc = 0;
  auto ordinal = [&](uint32_t sid) {
    auto it = stream_ordinal.find(sid);
    return it == stream_ordinal.end() ? uint32_t(stream_ordinal.size()) : it->second;
  };
  int64_t prev_ts = -1;
  uint64_t last_call_corr = ~0ull;  // correlation of the last launch, prefetch, memcpy or memset
  std::vector<size_t> pending_probes;
  auto push = [&](Op o, const Line& l, int64_t kernel) {
    const int64_t t = int64_t(p.events.u64(l, 1) - p.t0);
    o.host_ns = t;
    o.host_gap_ns = prev_ts < 0 ? 0 : t - prev_ts;
    prev_ts = t;
    for (size_t pr : pending_probes) out.probes.push_back({out.ops.size(), pr});
    pending_probes.clear();
    out.ops.push_back(o);
    out.kernel_of_op.push_back(kernel);
  };
  for (size_t li = 0; li < p.events.lines.size(); ++li) {
    const Line& l = p.events.lines[li];
    const std::string& k = l.f[0];
    const TextFile& e = p.events;
    Op o;
    if (k == "alloc") {
      live[e.u64(l, 3, 16)] = next_alloc++;
    } else if (k == "free") {
      auto it = live.find(e.u64(l, 2, 16));
      if (it == live.end()) fail(e.where(l), "free of an unknown allocation");
      o.kind = OpKind::kFree;
      o.a = it->second;
      live.erase(it);
      push(o, l, -1);
    } else if (k == "memset") {
      o.kind = OpKind::kMemset;
      o.a = e.u64(l, 2, 16), o.b = e.u64(l, 3), o.c = uint64_t(e.i64(l, 4));
      o.stream = ordinal(uint32_t(e.u64(l, 5)));
      push(o, l, -1);
      last_call_corr = e.u64(l, 6);
    } else if (k == "memcpy") {
      o.kind = OpKind::kMemcpy;
      o.a = e.u64(l, 2, 16), o.c = e.u64(l, 3, 16), o.b = e.u64(l, 4);
      const int64_t kind = e.i64(l, 5);  // cudaMemcpyKind: 0 HtoH, 1 HtoD, 2 DtoH, 3 DtoD, 4 default
      o.device = kind == 1 ? 0 : kind == 2 ? 1 : kind == 3 ? 2 : kind == 0 ? 3 : 0;
      o.stream = ordinal(uint32_t(e.u64(l, 6)));
      push(o, l, -1);
      last_call_corr = e.u64(l, 7);
    } else if (k == "prefetch") {
      o.kind = OpKind::kPrefetch;
      o.a = e.u64(l, 2, 16), o.b = e.u64(l, 3);
      o.device = e.i64(l, 4) >= 0 ? 0 : -1;
      o.stream = ordinal(uint32_t(e.u64(l, 5)));
      push(o, l, -1);
      last_call_corr = e.u64(l, 6);
    } else if (k == "advise") {
      o.kind = OpKind::kAdvise;
      o.a = e.u64(l, 2, 16), o.b = e.u64(l, 3);
      const int64_t adv = e.i64(l, 4);  // cudaMemoryAdvise: 1 set read-mostly, 3 preferred location, 5 accessed by
      o.c = uint64_t(adv == 1 ? Advice::kSetReadMostly
                              : adv == 3 ? Advice::kSetPreferredLocation
                                         : adv == 5 ? Advice::kSetAccessedBy : Advice::kUnset);
      o.device = e.i64(l, 5) >= 0 ? 0 : -1;
      push(o, l, -1);
    } else if (k == "event_record") {
      o.kind = OpKind::kEventRecord;
      o.c = e.u64(l, 2);
      o.stream = ordinal(uint32_t(e.u64(l, 3)));
      push(o, l, -1);
    } else if (k == "event_wait") {
      o.kind = OpKind::kEventWait;
      o.stream = ordinal(uint32_t(e.u64(l, 2)));
      o.c = e.u64(l, 3);
      push(o, l, -1);
    } else if (k == "sync") {
      o.kind = OpKind::kSync;
      o.c = e.str(l, 2) == "device" ? 0 : 1;
      o.stream = o.c ? ordinal(uint32_t(e.u64(l, 3))) : 0;
      push(o, l, -1);
    } else if (k == "launch") {
      const uint32_t corr = uint32_t(e.u64(l, 3));
      auto it = kernel_by_corr.find(corr);
      if (it == kernel_by_corr.end()) fail(e.where(l), "launch without a kernel record (correlation " + std::to_string(corr) + ")");
      o.kind = OpKind::kKernel;
      o.stream = p.cupti.kernels[it->second].ordinal;
      push(o, l, int64_t(it->second));
      last_call_corr = corr;
    } else if (k == "probe") {
      // A probe at a launch stands before that launch (logged just before the probe); at a free, before
      // the free (logged after it); at a sync, after the sync: before the next op.
      const std::string& where = e.str(l, 2);
      if ((where == "launch" || where == "prefetch" || where == "memcpy" || where == "memset") && !out.ops.empty() &&
          last_call_corr == e.u64(l, 3))
        out.probes.push_back({out.ops.size() - 1, li});
      else
        pending_probes.push_back(li);
    } else if (k == "end") {
      for (size_t pr : pending_probes) out.probes.push_back({out.ops.size(), pr});
      pending_probes.clear();
    }
  }
  return out;
}

TransferCause cause_of(uint32_t flags) {
  switch (flags) {
    case CUPTI_ACTIVITY_UNIFIED_MEMORY_MIGRATION_CAUSE_USER: return TransferCause::kUser;
    case CUPTI_ACTIVITY_UNIFIED_MEMORY_MIGRATION_CAUSE_COHERENCE: return TransferCause::kCoherence;
    case CUPTI_ACTIVITY_UNIFIED_MEMORY_MIGRATION_CAUSE_PREFETCH: return TransferCause::kPrefetch;
    case CUPTI_ACTIVITY_UNIFIED_MEMORY_MIGRATION_CAUSE_EVICTION: return TransferCause::kEviction;
    case CUPTI_ACTIVITY_UNIFIED_MEMORY_MIGRATION_CAUSE_ACCESS_COUNTERS: return TransferCause::kAccessCounters;
    default: return TransferCause::kUnknown;
  }
}

// See the call in convert_recording. `kernel_pages[k]`: the pages kernel k touches.
void apply_roles(Trace& t, const fs::path& path, const std::vector<std::vector<uint64_t>>& kernel_pages,
                 const std::map<uint64_t, uint32_t>& ordinal_of_handle) {
  nlohmann::json j;
  try {
    std::ifstream f(path);
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail(path.string(), std::string("not valid JSON: ") + e.what());
  }
  struct RoleRange {
    uint64_t va, bytes;
    uint32_t tenant;
    AllocRole role;
    std::string name;
  };
  std::vector<RoleRange> rr;
  std::map<uint32_t, uint32_t> tenant_of_stream;  // stream ordinal -> tenant, from the streams' handles
  try {
    t.tenants.clear();
    for (auto& x : j.at("tenants")) {
      if (x.contains("stream")) {
        auto it = ordinal_of_handle.find(x.at("stream").get<uint64_t>());
        if (it != ordinal_of_handle.end()) tenant_of_stream.emplace(it->second, uint32_t(t.tenants.size()));
      }
      t.tenants.push_back({x.at("name").get<std::string>(), x.at("model").get<std::string>(),
                           x.at("batch").get<uint32_t>(), 0});
    }
    for (auto& x : j.at("ranges")) {
      const std::string role = x.at("role").get<std::string>();
      AllocRole r = role == "weight" ? AllocRole::kWeight
                    : role == "input" ? AllocRole::kInput
                    : role == "output" ? AllocRole::kOutput
                                        : AllocRole::kOther;
      if (r == AllocRole::kOther) fail(path.string(), "unknown role '" + role + "'");
      rr.push_back({x.at("va").get<uint64_t>(), x.at("bytes").get<uint64_t>(), x.at("tenant").get<uint32_t>(), r,
                    x.at("name").get<std::string>()});
      if (rr.back().tenant >= t.tenants.size()) fail(path.string(), "range names a missing tenant");
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path.string(), e.what());
  }
  if (t.tenants.empty()) fail(path.string(), "no tenants");
  // Kernels and ops: the tenant whose stream they run on (when several streams serve several tenants),
  // else the tenant whose NVTX range encloses the call.
  std::map<std::string, uint32_t> tenant_of_name;
  for (uint32_t i = 0; i < t.tenants.size(); ++i) tenant_of_name[t.tenants[i].name] = i;
  // Calls that neither claims (set-up on the default stream: weight copies, input initialisation, the
  // pool's move to the CPU) go, once the pieces are known, to the tenant whose memory they touch.
  const bool by_stream = tenant_of_stream.size() > 1;
  std::vector<uint8_t> claimed(t.ops.size(), 0);
  for (size_t i = 0; i < t.ops.size(); ++i) {
    Op& o = t.ops[i];
    o.tenant = 0;
    for (const NvtxRange& r : t.nvtx) {
      auto it = tenant_of_name.find(r.name);
      if (it != tenant_of_name.end() && r.start_ns <= o.host_ns && o.host_ns <= r.end_ns) {
        o.tenant = it->second;
        claimed[i] = 1;
      }
    }
    if (by_stream) {
      auto it = tenant_of_stream.find(o.stream);
      if (it != tenant_of_stream.end()) {
        o.tenant = it->second;
        claimed[i] = 1;
      }
    }
    if (o.kind == OpKind::kKernel) t.kernels[o.a].tenant = o.tenant;
  }
  // Role of each page of the segments: the role covering most of it; other pages are activations.
  std::map<uint64_t, std::pair<uint64_t, const RoleRange*>> best;  // page -> (bytes covered, range)
  for (const RoleRange& r : rr) {
    for (uint64_t p = r.va >> kPageShift; p <= (r.va + r.bytes - 1) >> kPageShift; ++p) {
      const uint64_t lo = std::max(r.va, p << kPageShift), hi = std::min(r.va + r.bytes, (p + 1) << kPageShift);
      auto& b = best[p];
      if (hi - lo > b.first) b = {hi - lo, &r};
    }
  }
  std::unordered_map<uint64_t, uint32_t> first_toucher;  // page -> tenant of the first kernel touching it
  for (size_t k = 0; k < kernel_pages.size(); ++k)
    for (uint64_t p : kernel_pages[k]) first_toucher.emplace(p, t.kernels[k].tenant);
  std::vector<Allocation> out;
  std::vector<std::vector<uint32_t>> pieces(t.allocations.size());
  for (size_t i = 0; i < t.allocations.size(); ++i) {
    const Allocation& a = t.allocations[i];
    if (a.kind != AllocKind::kManaged || a.va % kPageBytes != 0) {
      pieces[i].push_back(uint32_t(out.size()));
      out.push_back(a);
      continue;
    }
    const uint64_t first = a.va >> kPageShift, pages = (a.bytes + kPageBytes - 1) / kPageBytes;
    auto role_of = [&](uint64_t p) -> const RoleRange* {
      auto it = best.find(p);
      return it == best.end() ? nullptr : it->second.second;
    };
    // A piece: consecutive pages of one role (and, for tensors, one tenant).
    auto same_piece = [](const RoleRange* x, const RoleRange* y) {
      return x == nullptr || y == nullptr ? x == y : x->role == y->role && x->tenant == y->tenant;
    };
    for (uint64_t p = first; p < first + pages;) {
      const RoleRange* r = role_of(p);
      const AllocRole role = r ? r->role : AllocRole::kActivation;
      uint64_t q = p + 1;
      while (q < first + pages && same_piece(r, role_of(q))) ++q;
      Allocation piece = a;
      piece.va = p << kPageShift;
      piece.bytes = std::min(a.va + a.bytes, q << kPageShift) - piece.va;
      piece.role = role;
      if (r) {
        piece.tenant = r->tenant;
        piece.name = r->name;
      } else {
        auto ft = first_toucher.find(p);
        piece.tenant = ft == first_toucher.end() ? 0 : ft->second;
        piece.name = a.name + ".activation";
      }
      pieces[i].push_back(uint32_t(out.size()));
      out.push_back(piece);
      p = q;
    }
  }
  t.allocations = std::move(out);
  // Piece boundaries (first page of each piece): ranges and ops that cross one are split there.
  std::set<uint64_t> starts;
  for (const Allocation& a : t.allocations) starts.insert(a.va >> kPageShift);
  auto split = [&](uint64_t first, uint64_t count, auto&& emit) {
    while (count > 0) {
      auto it = starts.upper_bound(first);
      const uint64_t n = it == starts.end() ? count : std::min(count, *it - first);
      emit(first, n);
      first += n;
      count -= n;
    }
  };
  std::vector<Range> ranges;
  for (Cta& c : t.ctas) {
    const uint64_t begin = ranges.size();
    for (uint64_t r = c.range_begin; r < c.range_begin + c.range_count; ++r) {
      split(t.ranges[r].page, t.ranges[r].count, [&](uint64_t p, uint64_t n) {
        Range g = t.ranges[r];
        g.page = p;
        g.count = uint32_t(n);
        ranges.push_back(g);
      });
    }
    c.range_begin = begin;
    c.range_count = uint32_t(ranges.size() - begin);
  }
  t.ranges = std::move(ranges);
  // The tenant owning a page (pieces of one process never overlap), or none.
  std::map<uint64_t, size_t> piece_at;  // first page -> piece
  for (size_t i = 0; i < t.allocations.size(); ++i) piece_at[t.allocations[i].va >> kPageShift] = i;
  auto owner = [&](uint64_t page) -> std::optional<uint32_t> {
    auto it = piece_at.upper_bound(page);
    if (it == piece_at.begin()) return std::nullopt;
    const Allocation& a = t.allocations[std::prev(it)->second];
    if (page > (a.va + a.bytes - 1) >> kPageShift) return std::nullopt;
    return a.tenant;
  };
  std::vector<Op> ops;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    Op o = t.ops[i];
    if (!claimed[i] && o.kind == OpKind::kKernel) {  // the tenant owning most of the kernel's pages
      std::map<uint32_t, uint64_t> pages_of;
      for (uint64_t p : kernel_pages[o.a])
        if (auto w = owner(p)) ++pages_of[*w];
      if (!pages_of.empty()) {
        o.tenant = std::max_element(pages_of.begin(), pages_of.end(), [](auto& x, auto& y) {
                     return x.second < y.second;
                   })->first;
        t.kernels[o.a].tenant = o.tenant;
      }
    } else if (!claimed[i] && o.kind != OpKind::kFree && o.b > 0) {  // memory ops: where they write or read
      const bool from_device = o.kind == OpKind::kMemcpy && o.device == 1;  // DtoH: the source is the GPU's
      if (auto w = owner((from_device ? o.c : o.a) >> kPageShift)) o.tenant = *w;
    }
    // The parts of one call keep its host time; only the first waits the host gap before it (the call's
    // own), the rest follow at once.
    if (o.kind == OpKind::kFree) {
      for (uint32_t id : pieces[o.a]) {  // freeing a segment frees each of its pieces
        Op f = o;
        f.a = id;
        if (id != pieces[o.a].front()) f.host_gap_ns = 0;
        ops.push_back(f);
      }
    } else if (o.kind == OpKind::kHostAccess || o.kind == OpKind::kPrefetch || o.kind == OpKind::kAdvise ||
               o.kind == OpKind::kMemset) {
      const uint64_t first = o.a >> kPageShift, last = (o.a + o.b - 1) >> kPageShift;
      bool first_part = true;
      split(first, last - first + 1, [&](uint64_t p, uint64_t n) {
        Op x = o;
        x.a = std::max(o.a, p << kPageShift);
        x.b = std::min(o.a + o.b, (p + n) << kPageShift) - x.a;
        if (!first_part) x.host_gap_ns = 0;
        first_part = false;
        ops.push_back(x);
      });
    } else {
      ops.push_back(o);
    }
  }
  t.ops = std::move(ops);
}

using PassWalls = std::map<std::string, int64_t>;

// ---- the driver's event queue (events passes) ------------------------------------------------------------
// uvm_events.bin (cuda_tracer/src/uvm_events.h): the header, the driver's 72-byte entries, the trailer.
struct UvmEventsFile {
  uvmtrace::UvmEventsFileHeader header;
  std::vector<uint8_t> entries;  // entry_count * kUvmEntryBytes
  uvmtrace::UvmEventsTrailer trailer;
  uint64_t entry_count = 0;
};

UvmEventsFile read_uvm_events(const fs::path& p) {
  const std::vector<uint8_t> b = read_file(p);
  const std::string where = p.string();
  UvmEventsFile f;
  if (b.size() < sizeof f.header)
    fail(where + ": offset " + std::to_string(b.size()), "truncated: shorter than the 136-byte header");
  std::memcpy(&f.header, b.data(), sizeof f.header);
  if (std::memcmp(f.header.magic, uvmtrace::kUvmEventsFileMagic, 8) != 0)
    fail(where + ": offset 0", "not a uvm_events.bin (bad magic)");
  if (f.header.entry_bytes != uvmtrace::kUvmEntryBytes)
    fail(where + ": offset 8", "entries of " + std::to_string(f.header.entry_bytes) + " bytes, expected 72");
  if (f.header.flags & 1) {
    if (b.size() != sizeof f.header) fail(where, "a failed tracker's file holds more than its header");
    return f;
  }
  const size_t body = b.size() - sizeof f.header;
  if (body < sizeof f.trailer || (body - sizeof f.trailer) % uvmtrace::kUvmEntryBytes != 0)
    fail(where + ": offset " + std::to_string(b.size()),
         "truncated: not a whole number of entries and a trailer (was the pass interrupted?)");
  f.entry_count = (body - sizeof f.trailer) / uvmtrace::kUvmEntryBytes;
  f.entries.assign(b.begin() + long(sizeof f.header), b.end() - long(sizeof f.trailer));
  std::memcpy(&f.trailer, b.data() + b.size() - sizeof f.trailer, sizeof f.trailer);
  if (f.trailer.entries != f.entry_count)
    fail(where + ": offset " + std::to_string(b.size() - sizeof f.trailer),
         "the trailer counts " + std::to_string(f.trailer.entries) + " entries, the file holds " +
             std::to_string(f.entry_count));
  return f;
}

// The driver's event type as the trace's kind (DriverEventKind), or -1 for types the trace leaves out.
int driver_kind(uint8_t type) {
  switch (type) {
    case uvmtrace::kUvmGpuFault:
      return int(DriverEventKind::kFaultEntry);
    case uvmtrace::kUvmGpuFaultReplay:
      return int(DriverEventKind::kReplay);
    case uvmtrace::kUvmMigration:
      return int(DriverEventKind::kMigration);
    case uvmtrace::kUvmEviction:
      return int(DriverEventKind::kEviction);
    case uvmtrace::kUvmThrashingDetected:
      return int(DriverEventKind::kThrashing);
    case uvmtrace::kUvmThrottlingStart:
      return int(DriverEventKind::kThrottleStart);
    case uvmtrace::kUvmThrottlingEnd:
      return int(DriverEventKind::kThrottleEnd);
    case uvmtrace::kUvmFaultBufferOverflow:
      return int(DriverEventKind::kBufferOverflow);
    case uvmtrace::kUvmFatalFault:
      return int(DriverEventKind::kFatalFault);
    case uvmtrace::kUvmCpuFault:
      return int(DriverEventKind::kCpuFault);
    case uvmtrace::kUvmMapRemote:
      return int(DriverEventKind::kMapRemote);
    case uvmtrace::kUvmReadDuplicate:
      return int(DriverEventKind::kReadDuplicate);
    case uvmtrace::kUvmReadDuplicateInvalidate:
      return int(DriverEventKind::kReadDuplicateInvalidate);
    default:
      return -1;
  }
}

template <typename T>
T entry_as(const uint8_t* e) {
  T v;
  std::memcpy(&v, e, sizeof v);
  return v;
}

// One events pass as a run of the trace: its events in the driver's order, CPU times on the run's CUPTI
// clock from its first timestamp (the driver's CLOCK_MONOTONIC_RAW through the file's anchor), GPU times
// from the run's earliest, each event given the kernel (trace index) that was running at its CPU time.
// `kernel_of[i]`: the trace kernel of the pass's i-th kernel record.
void add_driver_run(Trace& t, const std::string& pass, const CuptiPass& p, const UvmEventsFile& f,
                    const std::vector<int64_t>& kernel_of, int64_t wall_ns) {
  DriverRun run;
  run.wall_ns = wall_ns;
  run.flush_every_ns = int64_t(f.trailer.flush_every_ns);
  run.note = pass;
  if (f.header.flags & 1) {
    run.note += ": the driver's event queue could not be attached: " +
                std::string(f.header.note, strnlen(f.header.note, sizeof f.header.note));
    t.driver_runs.push_back(run);
    return;
  }
  for (uint32_t type = 0; type < uvmtrace::kUvmEventTypesAll; ++type) {
    const int k = type < 256 ? driver_kind(uint8_t(type)) : -1;
    if (k >= 0) run.dropped[size_t(k)] += f.trailer.dropped[type];
  }
  run.note += "; " + std::to_string(f.trailer.flushes) + " flushes of delayed events";
  const uint16_t index = uint16_t(t.driver_runs.size());
  t.driver_runs.push_back(run);
  // Kernels of the run by start time, for the kernel running at an event's CPU time.
  std::vector<std::pair<uint64_t, size_t> > starts;
  for (size_t i = 0; i < p.cupti.kernels.size(); ++i) starts.push_back({p.cupti.kernels[i].start, i});
  std::sort(starts.begin(), starts.end());
  const int64_t to_cupti = int64_t(f.header.anchor_cupti_ns) - int64_t(f.header.anchor_raw_ns);
  // The latest-started kernel still running at a CUPTI time (of the last 64 started: kernels of other
  // streams may overlap), else none.
  auto kernel_at = [&](int64_t cupti_ns) -> uint32_t {
    auto it = std::upper_bound(starts.begin(), starts.end(),
                               std::pair<uint64_t, size_t>(uint64_t(cupti_ns), SIZE_MAX));
    for (int step = 0; it != starts.begin() && step < 64; ++step) {
      --it;
      const size_t i = it->second;
      if (int64_t(p.cupti.kernels[i].end) >= cupti_ns)
        return kernel_of[i] >= 0 ? uint32_t(kernel_of[i]) : kNoKernel;
    }
    return kNoKernel;
  };
  std::vector<DriverEvent> events;  // CPU times on the CUPTI clock until rebased below
  int64_t origin = int64_t(p.t0);
  uint64_t gpu_origin = UINT64_MAX;
  for (uint64_t i = 0; i < f.entry_count; ++i) {
    const uint8_t* e = f.entries.data() + i * uvmtrace::kUvmEntryBytes;
    const int k = driver_kind(e[0]);
    if (k < 0) continue;
    DriverEvent d;
    d.kind = DriverEventKind(k);
    d.run = index;
    uint64_t cpu_raw = 0, gpu = 0, gpu_end = 0;
    switch (d.kind) {
      case DriverEventKind::kFaultEntry: {
        const auto x = entry_as<uvmtrace::UvmGpuFaultEntry>(e);
        d.flags = x.access, d.gpc = x.gpc, d.client = x.client, d.batch = x.batch, d.address = x.address;
        cpu_raw = x.cpu_ns, gpu = x.gpu_ns;
        break;
      }
      case DriverEventKind::kReplay: {
        const auto x = entry_as<uvmtrace::UvmReplayEntry>(e);
        d.flags = x.client_type, d.batch = x.batch, cpu_raw = x.cpu_ns, gpu = x.gpu_ns;
        break;
      }
      case DriverEventKind::kMigration: {
        const auto x = entry_as<uvmtrace::UvmMigrationEntry>(e);
        d.flags = uint8_t(x.cause >= 1 && x.cause <= 5 ? x.cause - 1 : uint8_t(TransferCause::kUnknown));
        d.gpc = x.src, d.client = x.dst, d.address = x.address, d.bytes = x.bytes;
        cpu_raw = x.cpu_begin_ns, gpu = x.gpu_begin_ns, gpu_end = x.gpu_end_ns;
        break;
      }
      case DriverEventKind::kEviction: {
        const auto x = entry_as<uvmtrace::UvmEvictionEntry>(e);
        d.gpc = x.src, d.client = x.dst, d.address = x.address_out, d.aux = x.address_in, d.bytes = x.bytes;
        cpu_raw = x.cpu_ns;
        break;
      }
      case DriverEventKind::kThrashing: {
        const auto x = entry_as<uvmtrace::UvmThrashingEntry>(e);
        d.address = x.address, d.bytes = x.bytes, cpu_raw = x.cpu_ns;
        break;
      }
      case DriverEventKind::kThrottleStart:
      case DriverEventKind::kThrottleEnd: {
        const auto x = entry_as<uvmtrace::UvmThrottlingEntry>(e);
        d.gpc = x.processor, d.address = x.address, cpu_raw = x.cpu_ns;
        break;
      }
      case DriverEventKind::kCpuFault: {
        const auto x = entry_as<uvmtrace::UvmCpuFaultEntry>(e);
        d.flags = x.access, d.address = x.address, d.aux = x.pc, cpu_raw = x.cpu_ns;
        break;
      }
      case DriverEventKind::kMapRemote: {
        const auto x = entry_as<uvmtrace::UvmMapRemoteEntry>(e);
        d.flags = x.cause, d.gpc = x.src, d.client = x.dst, d.address = x.address, d.bytes = x.bytes;
        cpu_raw = x.cpu_ns, gpu = x.gpu_ns;
        break;
      }
      default: {  // fatal faults, overflows, read duplication: the CPU time where the common layout has one
        const auto x = entry_as<uvmtrace::UvmThrashingEntry>(e);
        d.address = x.address, cpu_raw = x.cpu_ns;
        break;
      }
    }
    const int64_t c = int64_t(cpu_raw) + to_cupti;
    d.cpu_ns = c;
    origin = std::min(origin, c);
    if (gpu) gpu_origin = std::min(gpu_origin, gpu);
    if (gpu_end) gpu_origin = std::min(gpu_origin, gpu_end);
    d.gpu_ns = int64_t(gpu), d.gpu_end_ns = int64_t(gpu_end);
    d.kernel = kernel_at(c);
    events.push_back(d);
  }
  for (DriverEvent& d : events) {
    d.cpu_ns -= origin;
    if (d.gpu_ns) d.gpu_ns -= int64_t(gpu_origin);
    if (d.gpu_end_ns) d.gpu_end_ns -= int64_t(gpu_origin);
    if (d.gpu_end_ns < d.gpu_ns) d.gpu_end_ns = d.gpu_ns;  // an asynchronous copy without its end time
  }
  t.driver_events.insert(t.driver_events.end(), events.begin(), events.end());
}

// passes.tsv: "pass exit wall_ns" then one line per pass; written whole only when every pass succeeded.
// Passes in the order they ran.
std::vector<std::pair<std::string, int64_t> > read_pass_list(const fs::path& dir) {
  if (!fs::exists(dir / "passes.tsv"))
    fail((dir / "passes.tsv").string(), "missing: the recording did not finish (uvmtrace writes it last)");
  std::vector<std::pair<std::string, int64_t> > passes;
  std::ifstream f(dir / "passes.tsv");
  std::string name, header;
  int64_t rc = 0, ns = 0;
  std::getline(f, header);
  while (f >> name >> rc >> ns) {
    if (rc != 0) fail((dir / "passes.tsv").string(), "pass " + name + " failed");
    passes.push_back({name, ns});
  }
  return passes;
}

PassWalls read_passes(const fs::path& dir) {
  PassWalls wall;
  for (auto& [name, ns] : read_pass_list(dir)) wall[name] = ns;
  for (const char* need : {"timing", "counters", "access", "resident"})
    if (!wall.count(need)) fail((dir / "passes.tsv").string(), std::string("the ") + need + " pass is missing");
  return wall;
}

// One process of a recording: its records are in DIR/<pass>/<sub> (sub empty, or proc_<label> when several
// processes were recorded at once). Times are relative to *t0, the process's first timing-pass timestamp.
Trace convert_process(const fs::path& dir, const std::string& sub, const PassWalls& walls,
                      const ConvertOptions& options, uint64_t* t0) {
  const std::string dir_name = sub.empty() ? dir.string() : (dir / "timing" / sub).string();
  auto pass_dir = [&](const char* pass) { return sub.empty() ? dir / pass : dir / pass / sub; };
  PassWalls wall = walls;
  Trace t;
  CuptiPass timing = read_cupti_pass(pass_dir("timing"), "timing");
  CuptiPass counters = read_cupti_pass(pass_dir("counters"), "counters");
  CuptiPass resident = read_cupti_pass(pass_dir("resident"), "resident");
  *t0 = timing.t0;
  const std::vector<Launch> launches = read_access(pass_dir("access") / "access.bin");
  // lines.tsv: recordings since 2026-12-05 (before, kernels keep 0 lines: not recorded)
  const fs::path lines_path = pass_dir("access") / "lines.tsv";
  const std::map<uint64_t, WarpLines> lines =
      fs::exists(lines_path) ? read_lines(lines_path) : std::map<uint64_t, WarpLines>{};
  const TextFile access_allocs = read_text(pass_dir("access") / "allocs.tsv", "end");

  // Kernels: the same per stream, in the same order, with the same names, in every pass.
  const auto& tk = timing.cupti.kernels;
  using Names = std::vector<std::pair<uint32_t, std::string>>;  // (stream ordinal, mangled name) per launch
  auto names_of = [](const std::vector<KernelRec>& ks) {
    Names v;
    for (auto& k : ks) v.push_back({k.ordinal, k.name});
    return v;
  };
  auto by_stream = [](const Names& ks) {
    std::map<uint32_t, std::vector<std::string>> m;
    for (auto& [ord, name] : ks) m[ord].push_back(name);
    return m;
  };
  const auto timing_streams = by_stream(names_of(tk));
  auto check_same = [&](const Names& other, const std::string& pass) {
    auto b = by_stream(other);
    if (timing_streams.size() != b.size())
      fail(dir_name, pass + " pass launched on " + std::to_string(b.size()) + " streams, the timing pass on " +
                         std::to_string(timing_streams.size()));
    for (auto& [ord, names] : timing_streams) {
      const auto& o = b[ord];
      if (o.size() != names.size())
        fail(dir_name, pass + " pass launched " + std::to_string(o.size()) + " kernels on stream " +
                           std::to_string(ord) + ", the timing pass " + std::to_string(names.size()));
      for (size_t i = 0; i < names.size(); ++i)
        if (o[i] != names[i])
          fail(dir_name, "kernel " + std::to_string(i) + " of stream " + std::to_string(ord) + " is " + demangle(o[i]) +
                             " in the " + pass + " pass but " + demangle(names[i]) + " in the timing pass");
    }
  };
  const Names resident_names = names_of(resident.cupti.kernels);
  Names access_names;
  for (auto& l : launches) access_names.push_back({l.h.stream_ordinal, l.name});
  check_same(names_of(counters.cupti.kernels), "counters");
  check_same(resident_names, "resident");
  check_same(access_names, "access");
  // Position of each kernel within its stream, to find its counterpart in another pass.
  auto per_stream_index = [](const Names& ks) {
    std::map<std::pair<uint32_t, size_t>, size_t> m;
    std::map<uint32_t, size_t> n;
    for (size_t i = 0; i < ks.size(); ++i) m[{ks[i].first, n[ks[i].first]++}] = i;
    return m;
  };
  const auto timing_pos = [&] {
    std::vector<std::pair<uint32_t, size_t>> pos(tk.size());
    std::map<uint32_t, size_t> n;
    for (size_t i = 0; i < tk.size(); ++i) pos[i] = {tk[i].ordinal, n[tk[i].ordinal]++};
    return pos;
  }();
  const auto resident_at = per_stream_index(resident_names);
  const auto access_at = per_stream_index(access_names);

  // Address spaces: each pass ran in its own process.
  VaMap from_access, from_counters;
  from_access.build(allocs_of(access_allocs), timing.allocs, (pass_dir("access") / "allocs.tsv").string());
  from_counters.build(counters.allocs, timing.allocs, (pass_dir("counters") / "events.tsv").string());

  // Header.
  Header& h = t.header;
  h.producer = Producer::kTracer;
  h.producer_version = kVersion;
  for (const Line& l : timing.events.lines) {
    if (l.f[0] == "device") {
      h.device_name = timing.events.str(l, 1);
      h.sm_count = uint32_t(timing.events.u64(l, 2));
      h.device_memory_bytes = timing.events.u64(l, 3);
      h.max_threads_per_sm = uint32_t(timing.events.u64(l, 6));
      h.regs_per_sm = uint32_t(timing.events.u64(l, 7));
      h.smem_per_sm_bytes = uint32_t(timing.events.u64(l, 8));
      h.max_ctas_per_sm = uint32_t(timing.events.u64(l, 9));
    } else if (l.f[0] == "uvm_param") {
      h.driver_params.push_back({timing.events.str(l, 1), timing.events.i64(l, 2)});
    } else if (l.f[0] == "cmd") {
      h.command = l.f.size() > 1 ? l.f[1] : "";
    }
  }
  if (h.sm_count == 0) fail(timing.events.path.string(), "no device line");
  // A recording on a green-context partition is a trace of a GPU of that many SMs (its resident times too).
  const unsigned device_sms = h.sm_count, partition = partition_of(timing, timing.events.path.string());
  if (partition_of(resident, resident.events.path.string()) != partition)
    fail(resident.events.path.string(), "the resident pass ran on another partition than the timing pass");
  if (partition > 0) h.sm_count = partition;
  // The tracer describes the device, the module's parameters with it, for each context created (a green
  // context is one more): keep each parameter once.
  std::sort(h.driver_params.begin(), h.driver_params.end());
  h.driver_params.erase(std::unique(h.driver_params.begin(), h.driver_params.end()), h.driver_params.end());
  for (size_t i = 1; i < h.driver_params.size(); ++i)
    if (h.driver_params[i].first == h.driver_params[i - 1].first)
      fail(timing.events.path.string(),
           "UVM module parameter " + h.driver_params[i].first + " changed while recording");

  std::string prog = h.command.substr(0, h.command.find(' '));
  prog = fs::path(prog).filename().string();
  const std::string tenant = options.tenant.empty() ? prog + "#0" : options.tenant;
  const std::string model = options.model.empty() ? tenant.substr(0, tenant.find('#')) : options.model;
  t.tenants.push_back({tenant, model, options.batch, 0});

  // Allocations (timing pass addresses and times).
  std::map<uint64_t, uint32_t> alloc_by_va;
  for (const RawAlloc& a : timing.allocs) {
    Allocation al;
    al.kind = a.managed ? AllocKind::kManaged : AllocKind::kDevice;
    al.role = AllocRole::kOther;
    al.va = a.va;
    al.bytes = a.bytes;
    al.alloc_ns = a.alloc_ts - int64_t(timing.t0);
    al.name = (a.managed ? "managed" : "device") + std::to_string(t.allocations.size());
    alloc_by_va[a.va] = uint32_t(t.allocations.size());
    t.allocations.push_back(al);
  }
  OpList ops = ops_of(timing);
  for (size_t i = 0; i < ops.ops.size(); ++i)
    if (ops.ops[i].kind == OpKind::kFree) t.allocations[ops.ops[i].a].free_ns = ops.ops[i].host_ns;
  OpList cops = ops_of(counters);
  if (cops.ops.size() != ops.ops.size())
    fail(dir_name, "the counters pass made " + std::to_string(cops.ops.size()) + " calls, the timing pass " +
                       std::to_string(ops.ops.size()));
  for (size_t i = 0; i < ops.ops.size(); ++i)
    if (cops.ops[i].kind != ops.ops[i].kind)
      fail(dir_name, "call " + std::to_string(i) + " is " + to_string(cops.ops[i].kind) + " in the counters pass but " +
                         to_string(ops.ops[i].kind) + " in the timing pass");

  // Kernels and their CTAs' page ranges, in launch (op) order.
  uint64_t dropped_pages = 0, kept_pages = 0;
  std::vector<int64_t> trace_kernel_of_timing(tk.size(), -1);
  std::vector<std::vector<uint64_t>> kernel_pages;  // timing-pass page numbers each kernel touches (managed only)
  for (size_t oi = 0; oi < ops.ops.size(); ++oi) {
    if (ops.kernel_of_op[oi] < 0) continue;
    const size_t ti = size_t(ops.kernel_of_op[oi]);
    const KernelRec& kr = tk[ti];
    Kernel k;
    k.tenant = 0;
    k.stream = kr.ordinal;
    k.name = demangle(kr.name);
    k.grid = kr.grid;
    k.block = kr.block;
    k.regs_per_thread = kr.regs;
    k.smem_bytes = kr.smem;
    const auto& rk = resident.cupti.kernels[resident_at.at(timing_pos[ti])];
    k.resident_ns = rk.end - rk.start;
    const Launch& la = launches[access_at.at(timing_pos[ti])];
    for (int d = 0; d < 3; ++d)
      if (la.h.grid[d] != kr.grid[d] || la.h.block[d] != kr.block[d])
        fail(dir_name, "kernel " + k.name + " has other dimensions in the access pass");
    if (auto it = lines.find(la.h.launch); it != lines.end()) {
      if (it->second.name != la.name)
        fail(
            lines_path.string() + ":" + std::to_string(it->second.line),
            "launch " + std::to_string(la.h.launch) + " is " + it->second.name + " in access.bin " + la.name);
      k.read_lines = it->second.read;
      k.write_lines = it->second.write;
    }
    k.cta_begin = t.ctas.size();
    k.cta_count = k.ctas();
    // Entries are sorted by CTA then page; each CTA's ranges: consecutive pages of one kind and one
    // interval merge; ranges are ordered by first use, then address.
    std::vector<uint64_t> pages;
    size_t e = 0;
    for (uint64_t c = 0; c < k.cta_count; ++c) {
      size_t e_end = e;
      uint32_t max_ord = 0;
      std::set<uint32_t> moments;  // distinct first uses: more than the grid's steps, a dependent chain
      while (e_end < la.entries.size() && la.entries[e_end].cta == c) {
        max_ord = std::max(max_ord, la.entries[e_end].last);
        if (moments.size() <= kIntervalSteps) moments.insert(la.entries[e_end].first);
        ++e_end;
      }
      const uint64_t steps = interval_steps(moments.size(), max_ord == 0 ? 1 : max_ord);
      std::vector<Range> rs;
      const VaMap::Span* prev_span = nullptr;
      for (; e < e_end; ++e) {
        const auto& en = la.entries[e];
        const uint64_t va = en.page << kPageShift;
        const VaMap::Span* sp = from_access.find_page(va);
        if (sp == nullptr || !sp->managed) {
          ++dropped_pages;
          continue;
        }
        ++kept_pages;
        Range r;
        r.page = (va - sp->va + sp->to) >> kPageShift;
        r.kind = (en.flags & uvmtrace::kAtomic) ? AccessKind::kAtomic
                 : (en.flags & uvmtrace::kWrite) ? AccessKind::kWrite
                                                 : AccessKind::kRead;
        const uint64_t scale = max_ord == 0 ? 1 : max_ord;
        r.t_begin = interval_begin(en.first, scale, steps);
        r.t_end = interval_end(en.last, scale, steps);
        if (max_ord == 0) r.t_begin = r.t_end = 0;
        pages.push_back(r.page);
        // Runs stay inside one allocation (neighbouring small allocations are adjacent in memory).
        if (!rs.empty() && rs.back().page + rs.back().count == r.page && rs.back().kind == r.kind &&
            rs.back().t_begin == r.t_begin && rs.back().t_end == r.t_end && prev_span == sp) {
          ++rs.back().count;
        } else {
          rs.push_back(r);
        }
        prev_span = sp;
      }
      std::stable_sort(rs.begin(), rs.end(), [](const Range& a, const Range& b) {
        return std::pair(a.t_begin, a.page) < std::pair(b.t_begin, b.page);
      });
      t.ctas.push_back({t.ranges.size(), uint32_t(rs.size())});
      t.ranges.insert(t.ranges.end(), rs.begin(), rs.end());
    }
    std::sort(pages.begin(), pages.end());
    pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
    kernel_pages.push_back(std::move(pages));
    ops.ops[oi].a = t.kernels.size();
    trace_kernel_of_timing[ti] = int64_t(t.kernels.size());
    t.kernels.push_back(std::move(k));
  }

  // Host accesses, from the counters pass's residency probes: pages mapped on the CPU at a probe that were
  // not at the last one (or that a kernel or prefetch has since moved to the GPU) were touched by the CPU
  // in between. Without soft-dirty bits a page's first CPU touch counts as a write (initialisation) and a
  // later one, after the GPU had it, as a read.
  bool soft_dirty = false;
  for (const Line& l : counters.events.lines)
    if (l.f[0] == "soft_dirty") soft_dirty = counters.events.u64(l, 1) == 1;
  // Where each page is, as far as the recording tells (timing-pass page numbers): nowhere yet, on the CPU
  // or on the GPU (the bytes the counters should have seen move follow from the finished trace:
  // traces/coverage.h).
  enum Where : uint8_t { kNowhere = 0, kCpu, kGpu };
  std::unordered_map<uint64_t, uint8_t> where;
  std::vector<std::vector<Op> > host_before(ops.ops.size() + 1);
  {
    size_t next_probe = 0;
    size_t kernel_counter = 0;
    auto to_gpu = [&](uint64_t page) { where[page] = kGpu; };
    auto to_cpu = [&](uint64_t page) { where[page] = kCpu; };
    auto alloc_of = [&](uint64_t page) {
      auto it = alloc_by_va.upper_bound(page << kPageShift);
      return it == alloc_by_va.begin() ? ~0u : std::prev(it)->second;
    };
    for (size_t oi = 0; oi <= ops.ops.size(); ++oi) {
      while (next_probe < cops.probes.size() && cops.probes[next_probe].first == oi) {
        const size_t li = cops.probes[next_probe++].second;
        // Pages mapped on the CPU now that were not on the CPU: the CPU touched them since the last probe.
        std::vector<std::pair<uint64_t, bool>> fresh;  // page, write
        for (size_t lj = li + 1; lj < counters.events.lines.size() && counters.events.lines[lj].f[0] == "present"; ++lj) {
          const Line& pl = counters.events.lines[lj];
          std::stringstream ss(counters.events.str(pl, 2));
          std::string run;
          while (std::getline(ss, run, ',')) {
            unsigned long long first = 0, count = 0;
            int d = 0;
            if (std::sscanf(run.c_str(), "%llu:%llu:%d", &first, &count, &d) != 3)
              fail(counters.events.where(pl), "bad run '" + run + "'");
            for (uint64_t pg = first; pg < first + count; ++pg) {
              const VaMap::Span* sp = from_counters.find(pg << kPageShift);
              if (!sp) continue;
              const uint64_t tp = ((pg << kPageShift) - sp->va + sp->to) >> kPageShift;
              const uint8_t w = where[tp];
              if (w == kCpu) continue;
              fresh.push_back({tp, soft_dirty ? d != 0 : w == kNowhere});
              to_cpu(tp);
            }
          }
        }
        std::sort(fresh.begin(), fresh.end());
        for (size_t i = 0; i < fresh.size();) {  // as runs of one access kind within one allocation
          size_t j = i + 1;
          while (j < fresh.size() && fresh[j].first == fresh[j - 1].first + 1 && fresh[j].second == fresh[i].second &&
                 alloc_of(fresh[j].first) == alloc_of(fresh[i].first))
            ++j;
          Op o;
          o.kind = OpKind::kHostAccess;
          o.access = fresh[i].second ? AccessKind::kWrite : AccessKind::kRead;
          o.device = -1;
          o.a = fresh[i].first << kPageShift;
          o.b = (j - i) << kPageShift;
          host_before[oi].push_back(o);
          i = j;
        }
      }
      if (oi == ops.ops.size()) break;
      const Op& o = ops.ops[oi];
      if (o.kind == OpKind::kKernel) {
        for (uint64_t pg : kernel_pages[kernel_counter]) to_gpu(pg);
        ++kernel_counter;
      } else if (o.kind == OpKind::kPrefetch || o.kind == OpKind::kMemset) {
        // A prefetch to the CPU moves only pages that exist somewhere; one to the GPU (or a memset) all.
        for (uint64_t pg = o.a >> kPageShift; pg <= (o.a + o.b - 1) >> kPageShift; ++pg) {
          const uint32_t ai = alloc_of(pg);
          if (ai == ~0u || t.allocations[ai].kind != AllocKind::kManaged) continue;
          if (o.kind == OpKind::kPrefetch && o.device < 0) {
            if (where[pg] == kGpu) to_cpu(pg);
          } else {
            to_gpu(pg);
          }
        }
      }
    }
  }
  for (size_t oi = 0; oi <= ops.ops.size(); ++oi) {
    for (Op h_op : host_before[oi]) {
      h_op.host_ns = oi < ops.ops.size() ? ops.ops[oi].host_ns : (ops.ops.empty() ? 0 : ops.ops.back().host_ns);
      t.ops.push_back(h_op);
    }
    if (oi < ops.ops.size()) t.ops.push_back(ops.ops[oi]);
  }

  // Observed: kernel times under demand paging (timing pass), the driver's events (counters pass).
  for (size_t ti = 0; ti < tk.size(); ++ti) {
    if (trace_kernel_of_timing[ti] < 0) continue;
    ObservedEvent ev;
    ev.kind = ObservedKind::kKernelExec;
    ev.start_ns = int64_t(tk[ti].start - timing.t0);
    ev.end_ns = int64_t(tk[ti].end - timing.t0);
    ev.value = uint64_t(trace_kernel_of_timing[ti]);
    t.observed.push_back(ev);
  }
  uint64_t htod_bytes = 0, dtoh_bytes = 0;
  for (const UmRec& u : counters.cupti.um) {
    ObservedEvent ev;
    ev.start_ns = int64_t(u.start) - int64_t(counters.t0);
    ev.end_ns = int64_t(u.end) - int64_t(counters.t0);
    const VaMap::Span* sp = from_counters.find(u.address);
    ev.address = sp ? u.address - sp->va + sp->to : u.address;
    ev.value = u.value;
    switch (u.counter) {
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_GPU_PAGE_FAULT:
        ev.kind = ObservedKind::kGpuFault;
        ev.flags = uint8_t(u.flags);
        break;
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_HTOD:
        ev.kind = ObservedKind::kHtoD;
        ev.flags = uint8_t(cause_of(u.flags));
        htod_bytes += u.value;
        break;
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_DTOH:
        ev.kind = ObservedKind::kDtoH;
        ev.flags = uint8_t(cause_of(u.flags));
        dtoh_bytes += u.value;
        break;
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_THRASHING: ev.kind = ObservedKind::kThrashing; break;
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_THROTTLING: ev.kind = ObservedKind::kThrottling; break;
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_REMOTE_MAP:
        ev.kind = ObservedKind::kRemoteMap;
        ev.flags = uint8_t(u.flags);
        break;
      case CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_CPU_PAGE_FAULT_COUNT: ev.kind = ObservedKind::kCpuFault; break;
      default: continue;
    }
    t.observed.push_back(ev);
  }
  std::stable_sort(t.observed.begin(), t.observed.end(),
                   [](const ObservedEvent& a, const ObservedEvent& b) { return a.start_ns < b.start_ns; });
  const CounterCoverage coverage = counter_coverage(t);
  t.completeness.push_back(
      {ObservedKind::kHtoD, coverage.htod.expected_pages * kPageBytes, htod_bytes, counters.cupti.dropped});
  t.completeness.push_back(
      {ObservedKind::kDtoH, coverage.dtoh.expected_pages * kPageBytes, dtoh_bytes, counters.cupti.dropped});

  t.nvtx = nvtx_of(timing);

  // An allocation made inside NVTX ranges is named after the innermost one (e.g. a framework's tensor).
  std::map<std::string, int> used_names;
  for (Allocation& a : t.allocations) {
    const NvtxRange* best = nullptr;
    for (const NvtxRange& r : t.nvtx)
      if (r.start_ns <= a.alloc_ns && a.alloc_ns <= r.end_ns && (!best || r.start_ns >= best->start_ns)) best = &r;
    if (best == nullptr) continue;
    const int n = used_names[best->name]++;
    a.name = n == 0 ? best->name : best->name + "#" + std::to_string(n);
  }

  // Tenants and tensor roles (trace_torch.py writes timing/roles.json): tenants from the file, each
  // kernel and op to the tenant whose NVTX range (named after it) encloses its call, and the pool's
  // segments split at page granularity into weight, input, output and activation pieces, so that
  // memory-allocation policies can tell them apart.
  if (fs::exists(pass_dir("timing") / "roles.json")) {
    std::map<uint64_t, uint32_t> ordinal_of_handle;
    for (const Line& l : timing.events.lines)
      if (l.f[0] == "stream") {
        auto it = timing.cupti.stream_ordinal.find(uint32_t(timing.events.u64(l, 2)));
        if (it != timing.cupti.stream_ordinal.end())
          ordinal_of_handle[timing.events.u64(l, 1, 16)] = it->second;
      }
    apply_roles(t, pass_dir("timing") / "roles.json", kernel_pages, ordinal_of_handle);
  }

  // Passes, with their wall times and slowdown against the native run.
  const double native = wall.count("native") ? double(wall["native"]) : 0;
  auto note = [&](const std::string& what, const std::string& pass) {
    std::ostringstream os;
    os << what;
    if (native > 0) os << "; " << std::fixed << std::setprecision(2) << double(wall[pass]) / native << "x native wall time";
    return os.str();
  };
  t.passes.push_back(
      {PassKind::kTiming, wall["timing"],
       note(partition > 0
                ? "CUPTI activity, no UM counters; on a green-context partition of " +
                      std::to_string(partition) + " of the GPU's " + std::to_string(device_sms) + " SMs"
                : std::string("CUPTI activity, no UM counters"),
            "timing")});
  t.passes.push_back({PassKind::kCounters, wall["counters"],
                      note("UM counters and host-residency probes (soft-dirty " +
                               std::string(soft_dirty ? "available" : "unavailable") + ")",
                           "counters")});
  t.passes.push_back({PassKind::kAccessCapture, wall["access"],
                      note("Compute Sanitizer patching, exact; " + std::to_string(kept_pages) + " (CTA, page) pairs kept, " +
                               std::to_string(dropped_pages) + " outside managed memory left out",
                           "access")});
  t.passes.push_back({PassKind::kResident, wall["resident"], note("managed memory prefetched before each kernel", "resident")});

  // The driver's own events, from each events pass (events, events.K): a run of its own, its kernels the
  // timing pass's, found by their place in their stream.
  std::map<std::pair<uint32_t, size_t>, size_t> timing_at;
  for (size_t ti = 0; ti < timing_pos.size(); ++ti) timing_at[timing_pos[ti]] = ti;
  for (const auto& [name, ns] : read_pass_list(dir)) {
    if (name != "events" && name.rfind("events.", 0) != 0) continue;
    const CuptiPass ep = read_cupti_pass(pass_dir(name.c_str()), "events");
    check_same(names_of(ep.cupti.kernels), name);
    if (partition_of(ep, ep.events.path.string()) != partition)
      fail(ep.events.path.string(), "the " + name + " pass ran on another partition than the timing pass");
    std::vector<int64_t> kernel_of(ep.cupti.kernels.size(), -1);
    std::map<uint32_t, size_t> n;
    for (size_t i = 0; i < ep.cupti.kernels.size(); ++i) {
      const auto it = timing_at.find({ep.cupti.kernels[i].ordinal, n[ep.cupti.kernels[i].ordinal]++});
      if (it != timing_at.end()) kernel_of[i] = trace_kernel_of_timing[it->second];
    }
    add_driver_run(t, name, ep, read_uvm_events(pass_dir(name.c_str()) / "uvm_events.bin"), kernel_of, ns);
    t.passes.push_back({PassKind::kDriverEvents, ns, note("timing and the UVM driver's event queue", name)});
  }
  return t;
}

// Several processes recorded at once (two address spaces): one trace, each process's tenants carrying its
// index, times on one clock (CUPTI's timestamps are system-wide), each process's ops in its own order and
// the processes' ops interleaved by host time. Kernel, allocation and event references are renumbered.
Trace merge_processes(std::vector<Trace> parts, const std::vector<uint64_t>& t0s,
                      const std::vector<std::string>& labels) {
  Trace out;
  out.header = parts[0].header;
  const uint64_t base = *std::min_element(t0s.begin(), t0s.end());
  std::vector<std::vector<Op>> ops(parts.size());
  std::set<std::string> names;
  std::map<std::pair<size_t, uint64_t>, uint64_t> event_id;
  std::map<ObservedKind, Completeness> complete;
  for (size_t p = 0; p < parts.size(); ++p) {
    Trace& t = parts[p];
    const int64_t shift = int64_t(t0s[p] - base);
    const uint32_t tenant0 = uint32_t(out.tenants.size());
    const uint64_t kernel0 = out.kernels.size(), alloc0 = out.allocations.size(), cta0 = out.ctas.size(),
                   range0 = out.ranges.size();
    out.header.flags |= t.header.flags;
    if (p > 0) out.header.command += " & " + t.header.command;
    for (Tenant tn : t.tenants) {
      tn.process = uint32_t(p);
      if (!names.insert(tn.name).second) tn.name += "@" + labels[p];
      names.insert(tn.name);
      out.tenants.push_back(tn);
    }
    for (Allocation a : t.allocations) {
      a.tenant += tenant0;
      a.alloc_ns += shift;
      if (a.free_ns >= 0) a.free_ns += shift;
      out.allocations.push_back(a);
    }
    for (Kernel k : t.kernels) {
      k.tenant += tenant0;
      k.cta_begin += cta0;
      out.kernels.push_back(k);
    }
    for (Cta c : t.ctas) {
      c.range_begin += range0;
      out.ctas.push_back(c);
    }
    out.ranges.insert(out.ranges.end(), t.ranges.begin(), t.ranges.end());
    for (Op o : t.ops) {
      o.tenant += tenant0;
      o.host_ns += shift;
      if (o.kind == OpKind::kKernel) o.a += kernel0;
      if (o.kind == OpKind::kFree) o.a += alloc0;
      if (o.kind == OpKind::kEventRecord || o.kind == OpKind::kEventWait)
        o.c = event_id.emplace(std::pair(p, o.c), event_id.size()).first->second;
      ops[p].push_back(o);
    }
    for (ObservedEvent e : t.observed) {
      e.start_ns += shift;
      e.end_ns += shift;
      if (e.kind == ObservedKind::kKernelExec) e.value += kernel0;
      out.observed.push_back(e);
    }
    for (NvtxRange r : t.nvtx) {
      r.name = labels[p] + ":" + r.name;
      r.start_ns += shift;
      r.end_ns += shift;
      out.nvtx.push_back(r);
    }
    const uint16_t run0 = uint16_t(out.driver_runs.size());
    for (DriverRun r : t.driver_runs) {
      if (parts.size() > 1) r.note = labels[p] + ": " + r.note;
      out.driver_runs.push_back(r);
    }
    for (DriverEvent e : t.driver_events) {
      e.run = uint16_t(e.run + run0);
      if (e.kernel != kNoKernel) e.kernel += uint32_t(kernel0);
      out.driver_events.push_back(e);
    }
    for (const Completeness& c : t.completeness) {
      Completeness& m = complete.try_emplace(c.stream, Completeness{c.stream, 0, 0, 0}).first->second;
      m.expected += c.expected;
      m.recorded += c.recorded;
      m.dropped_records += c.dropped_records;
    }
  }
  // Interleave by host time, each process's order kept.
  std::vector<size_t> next(parts.size(), 0);
  for (;;) {
    size_t best = parts.size();
    for (size_t p = 0; p < parts.size(); ++p)
      if (next[p] < ops[p].size() && (best == parts.size() || ops[p][next[p]].host_ns < ops[best][next[best]].host_ns))
        best = p;
    if (best == parts.size()) break;
    out.ops.push_back(ops[best][next[best]++]);
  }
  std::stable_sort(out.observed.begin(), out.observed.end(),
                   [](const ObservedEvent& a, const ObservedEvent& b) { return a.start_ns < b.start_ns; });
  for (auto& [kind, c] : complete) out.completeness.push_back(c);
  // One set of passes (they ran both processes); notes per process where they differ.
  for (size_t i = 0; i < parts[0].passes.size(); ++i) {
    Pass pass = parts[0].passes[i];
    bool same = true;
    for (auto& t : parts) same = same && t.passes[i].note == pass.note;
    if (!same) {
      pass.note.clear();
      for (size_t p = 0; p < parts.size(); ++p)
        pass.note += (p ? "; " : "") + labels[p] + ": " + parts[p].passes[i].note;
    }
    out.passes.push_back(pass);
  }
  return out;
}

}  // namespace

Trace convert_recording(const std::string& dir_name, const ConvertOptions& options) {
  const fs::path dir(dir_name);
  const PassWalls wall = read_passes(dir);
  // Processes recorded at once write to proc_<label> folders (UVMTRACE_PROCESS); one process writes to the
  // pass folder itself.
  std::vector<std::string> subs;
  if (fs::is_directory(dir / "timing"))
    for (auto& e : fs::directory_iterator(dir / "timing"))
      if (e.is_directory() && e.path().filename().string().rfind("proc_", 0) == 0)
        subs.push_back(e.path().filename().string());
  uint64_t t0 = 0;
  if (subs.empty()) return convert_process(dir, "", wall, options, &t0);
  std::sort(subs.begin(), subs.end());
  if (fs::exists(dir / "timing" / "events.tsv"))
    fail((dir / "timing").string(), "holds both a process's own records and proc_* folders");
  for (const char* pass : {"counters", "access", "resident"})
    for (const std::string& sub : subs)
      if (!fs::is_directory(dir / pass / sub))
        fail((dir / pass / sub).string(), "missing: the timing pass recorded this process, the " +
                                              std::string(pass) + " pass did not");
  std::vector<Trace> parts;
  std::vector<uint64_t> t0s;
  std::vector<std::string> labels;
  for (const std::string& sub : subs) {
    parts.push_back(convert_process(dir, sub, wall, options, &t0));
    t0s.push_back(t0);
    labels.push_back(sub.substr(5));
  }
  return merge_processes(std::move(parts), t0s, labels);
}

// ---- retime: kernel times from repeated runs
// ------------------------------------------------------------------
namespace {

// One run's kernel intervals in the trace's kernel order, relative to the run's first timestamp.
struct Run {
  std::string pass;
  std::vector<std::pair<int64_t, int64_t> > kernels;
  int64_t sum = 0;
  std::vector<Op> calls;  // the run's calls in program order, with their host times
  std::vector<NvtxRange> nvtx;
};

Run read_run(const fs::path& dir, const std::string& pass, const std::string& base, const Trace& t) {
  const fs::path pd = dir / pass;
  if (!fs::is_directory(pd)) fail(pd.string(), "missing: passes.tsv lists it");
  for (auto& e : fs::directory_iterator(pd))
    if (e.is_directory() && e.path().filename().string().rfind("proc_", 0) == 0)
      fail(pd.string(), "holds several processes' records: retime takes single-process recordings only");
  CuptiPass p = read_cupti_pass(pd, base);
  for (const Line& l : p.events.lines)
    if (l.f[0] == "device" && p.events.str(l, 1) != t.header.device_name)
      fail(p.events.where(l), "ran on " + p.events.str(l, 1) + ", the trace on " + t.header.device_name);
  // Kernels by stream ordinal, in launch order, against the trace's (whose kernels are in launch order).
  std::map<uint32_t, std::vector<size_t> > run_of_stream, trace_of_stream;
  for (size_t i = 0; i < p.cupti.kernels.size(); ++i) run_of_stream[p.cupti.kernels[i].ordinal].push_back(i);
  for (size_t i = 0; i < t.kernels.size(); ++i) trace_of_stream[t.kernels[i].stream].push_back(i);
  if (run_of_stream.size() != trace_of_stream.size())
    fail(pd.string(), "launched on " + std::to_string(run_of_stream.size()) + " streams, the trace on " +
                          std::to_string(trace_of_stream.size()));
  Run r{pass, std::vector<std::pair<int64_t, int64_t> >(t.kernels.size()), 0, ops_of(p).ops, nvtx_of(p)};
  for (auto& [stream, ks] : trace_of_stream) {
    const auto& rs = run_of_stream[stream];
    if (rs.size() != ks.size())
      fail(pd.string(), "launched " + std::to_string(rs.size()) + " kernels on stream " +
                            std::to_string(stream) + ", the trace " + std::to_string(ks.size()));
    for (size_t i = 0; i < ks.size(); ++i) {
      const KernelRec& k = p.cupti.kernels[rs[i]];
      if (demangle(k.name) != t.kernels[ks[i]].name)
        fail(pd.string(), "kernel " + std::to_string(i) + " of stream " + std::to_string(stream) + " is " +
                              demangle(k.name) + ", in the trace " + t.kernels[ks[i]].name);
      r.kernels[ks[i]] = {int64_t(k.start - p.t0), int64_t(k.end - p.t0)};
      r.sum += int64_t(k.end - k.start);
    }
  }
  return r;
}

// The median run of `runs` and a note listing every run's summed kernel time.
const Run& pick_median(const std::vector<Run>& runs, const char* what, std::string* note) {
  std::vector<int64_t> sums;
  for (const Run& r : runs) sums.push_back(r.sum);
  const Run& m = runs[median_run(sums)];
  std::ostringstream os;
  os << what << ": the median of " << runs.size() << " runs by summed kernel time (" << m.pass << "; sums";
  for (const Run& r : runs) os << ' ' << std::fixed << std::setprecision(3) << double(r.sum) / 1e6;
  os << " ms)";
  *note = os.str();
  return m;
}

}  // namespace

Trace stamp_lines(Trace t, const std::string& lines_tsv) {
  if (!fs::is_regular_file(lines_tsv)) fail(lines_tsv, "not a regular file");
  for (const auto& [launch, w] : read_lines(lines_tsv)) {
    const std::string where = lines_tsv + ":" + std::to_string(w.line);
    if (launch >= t.kernels.size())
      fail(where, "launch " + std::to_string(launch) + " but the trace has " +
                      std::to_string(t.kernels.size()) + " kernels");
    Kernel& k = t.kernels[launch];
    const std::string name = demangle(w.name);
    if (name != k.name)
      fail(where, "launch " + std::to_string(launch) + " is " + name + ", the trace's kernel " +
                      std::to_string(launch) + " " + k.name);
    k.read_lines = w.read;
    k.write_lines = w.write;
  }
  return t;
}

Trace retime_recording(Trace t, const std::string& dir_name) {
  const fs::path dir(dir_name);
  for (const Tenant& tn : t.tenants)
    if (tn.process != 0)
      fail(dir_name, "the trace has several processes: retime takes single-process traces only");
  std::vector<Run> timing, resident;
  for (auto& [pass, ns] : read_pass_list(dir)) {
    if (pass.rfind("timing.", 0) == 0)
      timing.push_back(read_run(dir, pass, "timing", t));
    else if (pass.rfind("resident.", 0) == 0)
      resident.push_back(read_run(dir, pass, "resident", t));
  }
  if (timing.empty())
    fail((dir / "passes.tsv").string(),
         "no timing.N pass (record with uvmtrace --passes timing.1,timing.2,...)");
  std::string timing_note, resident_note;
  const Run& tm = pick_median(timing, "kernel times", &timing_note);
  std::vector<std::pair<int64_t, int64_t> > recorded(t.kernels.size());  // the trace's own kernel times
  size_t replaced = 0;
  for (ObservedEvent& e : t.observed)
    if (e.kind == ObservedKind::kKernelExec) {
      const std::pair<int64_t, int64_t> run = tm.kernels.at(e.value);
      recorded[e.value] = {e.start_ns, e.end_ns};
      std::tie(e.start_ns, e.end_ns) = run;
      ++replaced;
    }
  if (replaced != t.kernels.size())
    fail(dir_name, "the trace has " + std::to_string(replaced) + " kernel times for " +
                       std::to_string(t.kernels.size()) + " kernels");
  // Host times of the calls from the same run, so that the host's gaps between calls belong to the run
  // whose kernel times are kept; CPU accesses seen by the counters pass take the next call's time.
  const CallParts parts = call_parts(t);
  const std::vector<int64_t>& call_of = parts.call_of;
  const std::vector<bool>& first_part = parts.first_part;
  const int64_t calls = parts.calls;
  std::vector<OpKind> trace_kinds(static_cast<size_t>(calls)), run_kinds;
  for (size_t i = 0; i < t.ops.size(); ++i)
    if (call_of[i] >= 0) trace_kinds[size_t(call_of[i])] = t.ops[i].kind;
  for (const Op& c : tm.calls) run_kinds.push_back(c.kind);
  size_t unmatched = 0;
  const std::vector<int64_t> run_call = match_calls(trace_kinds, run_kinds, &unmatched);
  // A few calls may differ (a library's lazy initialisation); a different program may not.
  if (unmatched > std::max<size_t>(4, trace_kinds.size() / 100))
    fail((dir / tm.pass).string(), "made " + std::to_string(tm.calls.size()) + " calls, the trace " +
                                       std::to_string(calls) + ", and " + std::to_string(unmatched) +
                                       " of them do not match: not the trace's program");
  // Each call's host time from the run; a call's gap from the previous call matched (an unmatched trace
  // call keeps the previous one's time and no gap).
  int64_t last_ns = 0;
  bool any = false;
  std::vector<int64_t> call_ns(static_cast<size_t>(calls)), call_gap(static_cast<size_t>(calls));
  for (size_t c = 0; c < size_t(calls); ++c) {
    if (run_call[c] < 0) {
      call_ns[c] = last_ns;
      call_gap[c] = 0;
      continue;
    }
    const Op& r = tm.calls[size_t(run_call[c])];
    call_ns[c] = r.host_ns;
    call_gap[c] = any ? r.host_ns - last_ns : r.host_gap_ns;
    last_ns = r.host_ns;
    any = true;
  }
  for (size_t i = t.ops.size(); i-- > 0;) {
    Op& o = t.ops[i];
    if (call_of[i] < 0) {  // a CPU access: the time of the next call (or of the last)
      o.host_ns = i + 1 < t.ops.size() ? t.ops[i + 1].host_ns : last_ns;
      continue;
    }
    o.host_ns = call_ns[size_t(call_of[i])];
    o.host_gap_ns = first_part[i] ? call_gap[size_t(call_of[i])] : 0;
  }
  if (unmatched > 0) timing_note += "; " + std::to_string(unmatched) + " calls unmatched";
  // NVTX ranges (the phases the kernels are attributed to) from the same run.
  const std::vector<int64_t> range_of = match_nvtx(t.nvtx, recorded, tm.nvtx, tm.kernels);
  for (size_t i = 0; i < t.nvtx.size(); ++i) {
    if (range_of[i] < 0)
      fail((dir / tm.pass).string(), "has no NVTX range " + t.nvtx[i].name + " for the trace's range " +
                                         std::to_string(i) + " (in order)");
    t.nvtx[i].start_ns = tm.nvtx[size_t(range_of[i])].start_ns;
    t.nvtx[i].end_ns = tm.nvtx[size_t(range_of[i])].end_ns;
  }
  if (tm.nvtx.size() > t.nvtx.size())
    timing_note +=
        "; " + std::to_string(tm.nvtx.size() - t.nvtx.size()) + " NVTX ranges of the run not in the trace";
  if (!resident.empty()) {
    const Run& rm = pick_median(resident, "resident times", &resident_note);
    for (size_t i = 0; i < t.kernels.size(); ++i)
      t.kernels[i].resident_ns = rm.kernels[i].second - rm.kernels[i].first;
  }
  const std::string from = " (retimed from " + fs::path(dir_name).filename().string() + ")";
  for (Pass& p : t.passes) {
    if (p.kind == PassKind::kTiming) p.note += "; " + timing_note + from;
    if (p.kind == PassKind::kResident && !resident.empty()) p.note += "; " + resident_note + from;
  }
  return t;
}

#endif

}  // namespace uvmsim
