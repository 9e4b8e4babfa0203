#include "traces/trace_io.h"

#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <sstream>

#include "traces/files.h"

namespace uvmsim::trace {
namespace {

constexpr uint8_t kMagic[8] = {0x89, 'U', 'V', 'M', 'T', '\r', '\n', 0x1a};
constexpr size_t kFileHeaderBytes = 32;
constexpr uint64_t kMaxBodyBytes = uint64_t{64} << 30;  // sanity bound on the declared size
constexpr uint32_t kMaxStringBytes = 1 << 20;

constexpr uint32_t tag(const char (&s)[5]) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}

// Sections in the order they must appear.
struct SectionSpec {
  uint32_t tag;
  const char* name;
};
constexpr SectionSpec kSections[] = {
    {tag("HEAD"), "header"},        {tag("TNNT"), "tenants"},      {tag("ALOC"), "allocations"},
    {tag("KERN"), "kernels"},       {tag("CTAS"), "ctas"},         {tag("RNGS"), "ranges"},
    {tag("OPS_"), "ops"},           {tag("OBSV"), "observed"},     {tag("REQS"), "requests"},
    {tag("PASS"), "passes"},        {tag("CMPL"), "completeness"}, {tag("NVTX"), "nvtx"},
    {tag("DRVE"), "driver events"}, {tag("END_"), "end"},
};

// The unsigned integer type that stores T (an integer or an enum) on disk.
template <typename T, bool = std::is_enum_v<T>>
struct Stored {
  using type = std::make_unsigned_t<T>;
};
template <typename T>
struct Stored<T, true> {
  using type = std::make_unsigned_t<std::underlying_type_t<T>>;
};

class Writer {
 public:
  std::vector<uint8_t> buf;
  template <typename T>
  void put(T v) {
    static_assert(std::is_integral_v<T> || std::is_enum_v<T>);
    using U = typename Stored<T>::type;
    U u = static_cast<U>(v);
    for (size_t i = 0; i < sizeof(U); ++i) buf.push_back(uint8_t(u >> (8 * i)));
  }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf.push_back(uint8_t(v | 0x80));
      v >>= 7;
    }
    buf.push_back(uint8_t(v));
  }
  // A column: its byte length (u64) then its bytes.
  void column(const Writer& c) {
    put<uint64_t>(c.buf.size());
    buf.insert(buf.end(), c.buf.begin(), c.buf.end());
  }
  void str(const std::string& s) {
    put<uint32_t>(uint32_t(s.size()));
    buf.insert(buf.end(), s.begin(), s.end());
  }
  size_t begin_section(uint32_t t) {
    put<uint32_t>(t);
    size_t at = buf.size();
    put<uint64_t>(0);
    return at;
  }
  void end_section(size_t at) {
    uint64_t len = buf.size() - at - 8;
    for (size_t i = 0; i < 8; ++i) buf[at + i] = uint8_t(len >> (8 * i));
  }
};

class Reader {
 public:
  Reader(const uint8_t* d, size_t n, const std::string& name) : d_(d), n_(n), name_(name) {}

  [[noreturn]] void fail(const std::string& what, size_t at) const {
    std::ostringstream os;
    os << name_ << ": offset " << at << " (decompressed body): " << what;
    throw TraceError(os.str());
  }
  [[noreturn]] void fail(const std::string& what) const { fail(what, pos_); }

  size_t pos() const { return pos_; }
  size_t end() const { return end_; }
  void set_end(size_t e) { end_ = e; }
  size_t left() const { return end_ - pos_; }

  template <typename T>
  T get() {
    using U = typename Stored<T>::type;
    if (left() < sizeof(U)) fail("unexpected end of section reading " + std::to_string(sizeof(U)) + " bytes");
    U u = 0;
    for (size_t i = 0; i < sizeof(U); ++i) u |= U(d_[pos_ + i]) << (8 * i);
    pos_ += sizeof(U);
    return static_cast<T>(u);
  }
  template <typename E>
  E get_enum(uint8_t count, const char* what) {
    size_t at = pos_;
    uint8_t v = get<uint8_t>();
    if (v >= count) fail(std::string("invalid ") + what + " " + std::to_string(v), at);
    return static_cast<E>(v);
  }
  // LEB128, at most 10 bytes, no bits beyond 64.
  uint64_t varint() {
    size_t at = pos_;
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (left() == 0) fail("unexpected end of section reading a varint", at);
      uint8_t b = d_[pos_++];
      if (shift == 63 && b > 1) fail("varint overflows 64 bits", at);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      if (shift == 63) fail("varint longer than 10 bytes", at);
    }
  }
  // A column (u64 byte length, then bytes): returns a reader over it and moves past it.
  Reader column(const char* what) {
    size_t at = pos_;
    uint64_t len = get<uint64_t>();
    if (len > left()) fail(std::string("column '") + what + "' length " + std::to_string(len) + " runs past its section", at);
    Reader c = *this;
    c.end_ = pos_ + len;
    pos_ += len;
    return c;
  }
  void leave_column(const char* what) const {
    if (pos_ != end_) fail(std::string("trailing bytes in column '") + what + "'");
  }
  std::string str() {
    size_t at = pos_;
    uint32_t len = get<uint32_t>();
    if (len > kMaxStringBytes || len > left())
      fail("string length " + std::to_string(len) + " out of bounds", at);
    std::string s(reinterpret_cast<const char*>(d_ + pos_), len);
    pos_ += len;
    return s;
  }
  // A record count, checked against the bytes left so that memory is never sized by a bad count.
  uint64_t count(size_t min_record_bytes, const char* what) {
    size_t at = pos_;
    uint64_t c = get<uint64_t>();
    if (min_record_bytes > 0 && c > left() / min_record_bytes)
      fail(std::string("absurd ") + what + " count " + std::to_string(c) + " for " + std::to_string(left()) +
               " bytes left in the section",
           at);
    return c;
  }
  void enter_section(const SectionSpec& s) {
    size_t at = pos_;
    end_ = n_;
    uint32_t t = get<uint32_t>();
    if (t != s.tag) fail(std::string("expected section '") + s.name + "'", at);
    uint64_t len = get<uint64_t>();
    if (len > n_ - pos_)
      fail(std::string("section '") + s.name + "' length " + std::to_string(len) +
               " runs past the end of the body",
           at);
    end_ = pos_ + len;
  }
  void leave_section(const SectionSpec& s) {
    if (pos_ != end_) fail(std::string("trailing bytes in section '") + s.name + "'");
    end_ = n_;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
  size_t end_ = 0;
  std::string name_;
};

// For checks outside per-record loops (the message is built eagerly).
void check(bool ok, Reader& r, size_t at, const std::string& what) {
  if (!ok) r.fail(what, at);
}

// A point in time must lie in [0, kMaxTimeNs], a duration within kMaxDurationNs of 0 (trace.h says why).
bool is_time(int64_t v) { return v >= 0 && v <= kMaxTimeNs; }
bool is_duration(int64_t v) { return v >= -kMaxDurationNs && v <= kMaxDurationNs; }

uint64_t zigzag(uint64_t v) { return (v << 1) ^ (0 - (v >> 63)); }
uint64_t unzigzag(uint64_t v) { return (v >> 1) ^ (0 - (v & 1)); }

// Version 2 codes each range's first page as a residual against a prediction from the previous CTA that
// has ranges: its first range's page predicts this CTA's first, and its k-th step (page[k] - page[k-1])
// predicts this CTA's k-th step (0 beyond its length). Neighbouring CTAs of a kernel walk their tiles
// with the same strides, so most residuals are 0 and compress to almost nothing. Arithmetic wraps.
class PagePredictor {
 public:
  explicit PagePredictor(const std::vector<Range>& ranges) : ranges_(ranges) {}
  // Prediction of range `i`, the k-th of a CTA (whose previous range is i - 1 when k > 0).
  uint64_t predict(uint64_t i, uint32_t k) const {
    if (k == 0) return prev_count_ ? ranges_[prev_begin_].page : 0;
    uint64_t step = k < prev_count_ ? ranges_[prev_begin_ + k].page - ranges_[prev_begin_ + k - 1].page : 0;
    return ranges_[i - 1].page + step;
  }
  void end_cta(const Cta& c) {
    if (c.range_count) prev_begin_ = c.range_begin, prev_count_ = c.range_count;
  }

 private:
  const std::vector<Range>& ranges_;
  uint64_t prev_begin_ = 0;
  uint32_t prev_count_ = 0;
};

uint64_t fnv1a64_from(uint64_t h, const uint8_t* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

uint64_t fnv1a64(const uint8_t* data, size_t size) {
  return fnv1a64_from(14695981039346656037ull, data, size);
}

std::vector<uint64_t> template_of(const Trace& t) {
  std::vector<uint64_t> out(t.kernels.size());
  std::vector<std::pair<uint64_t, uint64_t>> stored;  // (cta_begin, kernel), in increasing cta_begin
  uint64_t end = 0;
  for (uint64_t i = 0; i < t.kernels.size(); ++i) {
    const Kernel& k = t.kernels[i];
    if (k.cta_begin >= end || k.cta_count == 0) {
      out[i] = i;
      if (k.cta_count) stored.emplace_back(k.cta_begin, i);
      end = std::max(end, k.cta_begin + k.cta_count);
      continue;
    }
    auto it = std::lower_bound(stored.begin(), stored.end(), std::make_pair(k.cta_begin, uint64_t{0}));
    out[i] = it != stored.end() && it->first == k.cta_begin ? it->second : i;
  }
  return out;
}

uint64_t body_hash(uint32_t version, const uint8_t* data, size_t size) {
  return version <= 2 ? fnv1a64_from(1469598103934665603ull, data, size) : fnv1a64(data, size);
}

ReadLimits& default_read_limits() {
  static ReadLimits limits;
  return limits;
}

std::vector<uint8_t> encode_body(const Trace& t) {
  Writer w;
  const Header& h = t.header;
  size_t s = w.begin_section(kSections[0].tag);
  w.put<uint32_t>(kFormatVersion);
  w.put(h.producer);
  w.str(h.producer_version);
  w.str(h.device_name);
  w.put<uint32_t>(h.sm_count);
  w.put<uint64_t>(h.device_memory_bytes);
  w.put<uint32_t>(h.max_threads_per_sm);
  w.put<uint32_t>(h.max_ctas_per_sm);
  w.put<uint32_t>(h.regs_per_sm);
  w.put<uint32_t>(h.smem_per_sm_bytes);
  w.put<uint64_t>(h.driver_params.size());
  for (auto& [k, v] : h.driver_params) {
    w.str(k);
    w.put<int64_t>(v);
  }
  w.put<uint32_t>(h.page_bytes);
  w.put<uint32_t>(h.time_unit_ns);
  w.put<uint32_t>(h.flags);
  w.str(h.command);
  w.end_section(s);

  s = w.begin_section(kSections[1].tag);
  w.put<uint64_t>(t.tenants.size());
  for (auto& x : t.tenants) {
    w.str(x.name);
    w.str(x.model);
    w.put<uint32_t>(x.batch);
    w.put<uint32_t>(x.process);
  }
  w.end_section(s);

  s = w.begin_section(kSections[2].tag);
  w.put<uint64_t>(t.allocations.size());
  for (auto& a : t.allocations) {
    w.put<uint32_t>(a.tenant);
    w.put(a.kind);
    w.put(a.role);
    w.put<uint64_t>(a.va);
    w.put<uint64_t>(a.bytes);
    w.put<int64_t>(a.alloc_ns);
    w.put<int64_t>(a.free_ns);
    w.str(a.name);
  }
  w.end_section(s);

  s = w.begin_section(kSections[3].tag);
  w.put<uint64_t>(t.kernels.size());
  for (auto& k : t.kernels) {
    w.put<uint32_t>(k.tenant);
    w.put<uint32_t>(k.stream);
    w.put<uint32_t>(k.layer);
    w.str(k.name);
    for (uint32_t g : k.grid) w.put<uint32_t>(g);
    for (uint32_t b : k.block) w.put<uint32_t>(b);
    w.put<uint32_t>(k.regs_per_thread);
    w.put<uint32_t>(k.smem_bytes);
    w.put<uint64_t>(k.resident_ns);
    w.put<uint8_t>(k.read_lines);
    w.put<uint8_t>(k.write_lines);
    w.put<uint64_t>(k.cta_begin);
    w.put<uint64_t>(k.cta_count);
  }
  w.end_section(s);

  s = w.begin_section(kSections[4].tag);
  w.put<uint64_t>(t.ctas.size());
  Writer counts;
  for (auto& c : t.ctas) counts.varint(c.range_count);
  w.column(counts);
  w.end_section(s);

  s = w.begin_section(kSections[5].tag);
  w.put<uint64_t>(t.ranges.size());
  Writer lengths, kinds, begins, ends, pages;
  for (auto& r : t.ranges) {
    lengths.varint(uint64_t(r.count) - 1);
    kinds.put(r.kind);
    begins.put<uint16_t>(r.t_begin);
    ends.put<uint16_t>(r.t_end);
  }
  PagePredictor predict(t.ranges);
  for (auto& c : t.ctas) {
    for (uint32_t k = 0; k < c.range_count; ++k)
      pages.varint(zigzag(t.ranges[c.range_begin + k].page - predict.predict(c.range_begin + k, k)));
    predict.end_cta(c);
  }
  for (const Writer* c : {&lengths, &kinds, &begins, &ends, &pages}) w.column(*c);
  w.end_section(s);

  s = w.begin_section(kSections[6].tag);
  w.put<uint64_t>(t.ops.size());
  for (auto& o : t.ops) {
    w.put(o.kind);
    w.put(o.access);
    w.put<int32_t>(o.device);
    w.put<uint32_t>(o.tenant);
    w.put<uint32_t>(o.stream);
    w.put<uint64_t>(o.a);
    w.put<uint64_t>(o.b);
    w.put<uint64_t>(o.c);
    w.put<int64_t>(o.host_ns);
    w.put<int64_t>(o.host_gap_ns);
  }
  w.end_section(s);

  s = w.begin_section(kSections[7].tag);
  w.put<uint64_t>(t.observed.size());
  for (auto& e : t.observed) {
    w.put(e.kind);
    w.put<uint8_t>(e.flags);
    w.put<int64_t>(e.start_ns);
    w.put<int64_t>(e.end_ns);
    w.put<uint64_t>(e.address);
    w.put<uint64_t>(e.value);
  }
  w.end_section(s);

  s = w.begin_section(kSections[8].tag);
  w.put<uint64_t>(t.requests.size());
  for (auto& q : t.requests) {
    w.put<uint32_t>(q.tenant);
    w.put<int64_t>(q.arrival_ns);
    w.put<int64_t>(q.start_ns);
    w.put<int64_t>(q.end_ns);
    w.put<uint64_t>(q.batch);
    w.put<uint32_t>(q.batch_size);
  }
  w.end_section(s);

  s = w.begin_section(kSections[9].tag);
  w.put<uint64_t>(t.passes.size());
  for (auto& p : t.passes) {
    w.put(p.kind);
    w.put<int64_t>(p.wall_ns);
    w.str(p.note);
  }
  w.end_section(s);

  s = w.begin_section(kSections[10].tag);
  w.put<uint64_t>(t.completeness.size());
  for (auto& c : t.completeness) {
    w.put(c.stream);
    w.put<uint64_t>(c.expected);
    w.put<uint64_t>(c.recorded);
    w.put<uint64_t>(c.dropped_records);
  }
  w.end_section(s);

  s = w.begin_section(kSections[11].tag);
  w.put<uint64_t>(t.nvtx.size());
  for (auto& n : t.nvtx) {
    w.str(n.name);
    w.put<uint32_t>(n.stream);
    w.put<int64_t>(n.start_ns);
    w.put<int64_t>(n.end_ns);
  }
  w.end_section(s);

  s = w.begin_section(kSections[12].tag);
  w.put<uint64_t>(t.driver_runs.size());
  for (const DriverRun& run : t.driver_runs) {
    w.put<int64_t>(run.wall_ns);
    w.put<int64_t>(run.flush_every_ns);
    for (uint64_t d : run.dropped) w.put<uint64_t>(d);
    w.str(run.note);
  }
  w.put<uint64_t>(t.driver_events.size());
  for (const DriverEvent& e : t.driver_events) {
    w.put(e.kind);
    w.put<uint8_t>(e.flags);
    w.put<uint16_t>(e.run);
    w.put<uint16_t>(e.gpc);
    w.put<uint16_t>(e.client);
    w.put<uint32_t>(e.batch);
    w.put<uint32_t>(e.kernel);
    w.put<uint64_t>(e.address);
    w.put<uint64_t>(e.bytes);
    w.put<uint64_t>(e.aux);
    w.put<int64_t>(e.cpu_ns);
    w.put<int64_t>(e.gpu_ns);
    w.put<int64_t>(e.gpu_end_ns);
  }
  w.end_section(s);

  s = w.begin_section(kSections[13].tag);
  w.end_section(s);
  return std::move(w.buf);
}

namespace {

// The record count of a CTAS or RNGS section, which must equal the total the section before it gave
// ("CTA count 5 differs from the kernels' total 6").
uint64_t checked_count(Reader& r, size_t min_record_bytes, const char* what, const char* name, uint64_t total,
                       const char* whose) {
  const size_t at = r.pos();
  const uint64_t n = r.count(min_record_bytes, what);
  check(n == total, r, at,
        std::string(name) + " count " + std::to_string(n) + " differs from the " + whose + " total " +
            std::to_string(total));
  return n;
}

// CTAS and RNGS of version 1: fixed-size records.
template <typename FindAlloc>
void decode_accesses_v1(Reader& r, Trace& t, uint64_t cta_sum, const FindAlloc& find_alloc) {
  r.enter_section(kSections[4]);
  uint64_t n = checked_count(r, 12, "cta", "CTA", cta_sum, "kernels'");
  t.ctas.resize(n);
  uint64_t range_sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t at = r.pos();
    auto& c = t.ctas[i];
    c.range_begin = r.get<uint64_t>();
    c.range_count = r.get<uint32_t>();
    if (!(c.range_begin == range_sum))
      r.fail("CTA " + std::to_string(i) + " ranges do not follow the previous CTA's", at);
    range_sum += c.range_count;
  }
  r.leave_section(kSections[4]);

  r.enter_section(kSections[5]);
  n = checked_count(r, 17, "range", "range", range_sum, "CTAs'");
  t.ranges.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const size_t at = r.pos();
    auto& g = t.ranges[i];
    g.page = r.get<uint64_t>();
    g.count = r.get<uint32_t>();
    g.kind = r.get_enum<AccessKind>(3, "access kind");
    g.t_begin = r.get<uint16_t>();
    g.t_end = r.get<uint16_t>();
    if (!(g.count > 0)) r.fail("range " + std::to_string(i) + " is empty", at);
    if (!(g.t_begin <= g.t_end)) r.fail("range " + std::to_string(i) + " ends before it begins", at);
    if (!(g.page < (uint64_t{1} << 45) && find_alloc(g.page, g.count)))
      r.fail("range " + std::to_string(i) + " (pages " + std::to_string(g.page) + "+" +
                 std::to_string(g.count) + ") lies outside every allocation",
             at);
  }
  r.leave_section(kSections[5]);
}

// CTAS and RNGS of version 2: columns (FORMAT.md), pages decoded against PagePredictor.
template <typename FindAlloc>
void decode_accesses_v2(Reader& r, Trace& t, uint64_t cta_sum, const FindAlloc& find_alloc) {
  r.enter_section(kSections[4]);
  size_t at = r.pos();
  uint64_t n = checked_count(r, 1, "cta", "CTA", cta_sum, "kernels'");
  Reader counts = r.column("range counts");
  if (n > counts.left()) r.fail("column 'range counts' is shorter than its " + std::to_string(n) + " CTAs", at);
  t.ctas.resize(n);
  uint64_t range_sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    at = counts.pos();
    uint64_t c = counts.varint();
    if (!(c <= UINT32_MAX)) counts.fail("CTA " + std::to_string(i) + " has too many ranges", at);
    t.ctas[i] = Cta{range_sum, uint32_t(c)};
    range_sum += c;
  }
  counts.leave_column("range counts");
  r.leave_section(kSections[4]);

  r.enter_section(kSections[5]);
  n = checked_count(r, 7, "range", "range", range_sum, "CTAs'");
  t.ranges.resize(n);
  Reader lengths = r.column("lengths"), kinds = r.column("kinds"), begins = r.column("t_begin"),
         ends = r.column("t_end"), pages = r.column("pages");
  for (uint64_t i = 0; i < n; ++i) {
    auto& g = t.ranges[i];
    at = lengths.pos();
    uint64_t len = lengths.varint();
    if (!(len < UINT32_MAX)) lengths.fail("range " + std::to_string(i) + " is longer than 2^32 - 1 pages", at);
    g.count = uint32_t(len + 1);
    g.kind = kinds.get_enum<AccessKind>(3, "access kind");
    g.t_begin = begins.get<uint16_t>();
    at = ends.pos();
    g.t_end = ends.get<uint16_t>();
    if (!(g.t_begin <= g.t_end)) ends.fail("range " + std::to_string(i) + " ends before it begins", at);
  }
  lengths.leave_column("lengths");
  kinds.leave_column("kinds");
  begins.leave_column("t_begin");
  ends.leave_column("t_end");
  PagePredictor predict(t.ranges);
  for (const Cta& c : t.ctas) {
    for (uint32_t k = 0; k < c.range_count; ++k) {
      uint64_t i = c.range_begin + k;
      at = pages.pos();
      auto& g = t.ranges[i];
      g.page = predict.predict(i, k) + unzigzag(pages.varint());
      if (!(g.page < (uint64_t{1} << 45) && find_alloc(g.page, g.count)))
        pages.fail("range " + std::to_string(i) + " (pages " + std::to_string(g.page) + "+" +
                       std::to_string(g.count) + ") lies outside every allocation",
                   at);
    }
    predict.end_cta(c);
  }
  pages.leave_column("pages");
  r.leave_section(kSections[5]);
}

}  // namespace

Trace decode_body(const uint8_t* data, size_t size, const std::string& name) {
  Trace t;
  Reader r(data, size, name);
  Header& h = t.header;

  r.enter_section(kSections[0]);
  size_t at = r.pos();
  h.format_version = r.get<uint32_t>();
  if (!(h.format_version >= kOldestFormatVersion && h.format_version <= kFormatVersion))
    r.fail("unsupported body format version " + std::to_string(h.format_version), at);
  h.producer = r.get_enum<Producer>(2, "producer");
  h.producer_version = r.str();
  h.device_name = r.str();
  at = r.pos();
  h.sm_count = r.get<uint32_t>();
  if (!(h.sm_count > 0 && h.sm_count <= 4096)) r.fail("device SM count out of range", at);
  h.device_memory_bytes = r.get<uint64_t>();
  at = r.pos();
  h.max_threads_per_sm = r.get<uint32_t>();
  h.max_ctas_per_sm = r.get<uint32_t>();
  h.regs_per_sm = r.get<uint32_t>();
  h.smem_per_sm_bytes = r.get<uint32_t>();
  check(h.max_threads_per_sm > 0 && h.max_ctas_per_sm > 0 && h.regs_per_sm > 0, r, at,
        "per-SM limits must be positive");
  uint64_t np = r.count(12, "driver parameter");
  for (uint64_t i = 0; i < np; ++i) {
    std::string k = r.str();
    h.driver_params.emplace_back(std::move(k), r.get<int64_t>());
  }
  at = r.pos();
  h.page_bytes = r.get<uint32_t>();
  if (!(h.page_bytes == kPageBytes))
    r.fail("page size must be 4096, not " + std::to_string(h.page_bytes), at);
  at = r.pos();
  h.time_unit_ns = r.get<uint32_t>();
  if (!(h.time_unit_ns == 1)) r.fail("time unit must be 1 ns", at);
  h.flags = r.get<uint32_t>();
  h.command = r.str();
  r.leave_section(kSections[0]);

  r.enter_section(kSections[1]);
  uint64_t n = r.count(16, "tenant");
  t.tenants.resize(n);
  for (auto& x : t.tenants) {
    x.name = r.str();
    x.model = r.str();
    x.batch = r.get<uint32_t>();
    at = r.pos();
    x.process = r.get<uint32_t>();
    // Processes are numbered densely from 0 (at most one per tenant): the simulator indexes by them.
    if (!(x.process < n))
      r.fail("tenant process " + std::to_string(x.process) + " is not below the tenant count", at);
  }
  r.leave_section(kSections[1]);

  r.enter_section(kSections[2]);
  n = r.count(42, "allocation");
  t.allocations.resize(n);
  std::vector<size_t> alloc_at(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto& a = t.allocations[i];
    alloc_at[i] = r.pos();
    a.tenant = r.get<uint32_t>();
    if (!(a.tenant < t.tenants.size()))
      r.fail("allocation " + std::to_string(i) + " names tenant " + std::to_string(a.tenant) +
                 " which does not exist",
             alloc_at[i]);
    a.kind = r.get_enum<AllocKind>(3, "allocation kind");
    a.role = r.get_enum<AllocRole>(6, "allocation role");
    a.va = r.get<uint64_t>();
    a.bytes = r.get<uint64_t>();
    if (!(a.bytes > 0 && a.va + a.bytes > a.va && a.va + a.bytes <= (uint64_t{1} << 57)))
      r.fail("allocation " + std::to_string(i) + " has an empty or overflowing address range", alloc_at[i]);
    a.alloc_ns = r.get<int64_t>();
    a.free_ns = r.get<int64_t>();
    if (!(is_time(a.alloc_ns) && (a.free_ns == -1 || is_time(a.free_ns))))
      r.fail("allocation " + std::to_string(i) + " has a time outside [0, 2^62] ns", alloc_at[i]);
    if (!(a.free_ns == -1 || a.free_ns >= a.alloc_ns))
      r.fail("allocation " + std::to_string(i) + " is freed before it is allocated", alloc_at[i]);
    a.name = r.str();
  }
  r.leave_section(kSections[2]);
  // Allocations of one process must not overlap (their pages would be ambiguous).
  std::vector<uint32_t> by_va(n);
  for (uint32_t i = 0; i < n; ++i) by_va[i] = i;
  auto proc = [&](uint32_t i) { return t.tenants[t.allocations[i].tenant].process; };
  std::sort(by_va.begin(), by_va.end(), [&](uint32_t x, uint32_t y) {
    return std::pair(proc(x), t.allocations[x].va) < std::pair(proc(y), t.allocations[y].va);
  });
  for (size_t i = 1; i < by_va.size(); ++i) {
    const auto& p = t.allocations[by_va[i - 1]];
    const auto& q = t.allocations[by_va[i]];
    if (proc(by_va[i - 1]) == proc(by_va[i]) && p.va + p.bytes > q.va)
      r.fail(
          "allocation " + std::to_string(by_va[i]) + " overlaps allocation " + std::to_string(by_va[i - 1]),
          alloc_at[by_va[i]]);
  }
  // Which allocation holds a page range (any process: the simulator gives each process its own space).
  uint64_t hit_first = 1, hit_last = 0;  // pages of the allocation that held the last range (ranges cluster)
  auto find_alloc = [&](uint64_t first_page, uint64_t pages) -> bool {
    if (first_page >= hit_first && first_page + pages - 1 <= hit_last) return true;
    uint64_t lo_va = first_page << kPageShift;
    auto it = std::upper_bound(by_va.begin(), by_va.end(), lo_va,
                               [&](uint64_t v, uint32_t i) { return v < t.allocations[i].va; });
    // Several processes may reuse addresses: scan back over allocations starting at or below lo_va.
    for (auto j = it; j != by_va.begin();) {
      --j;
      const auto& a = t.allocations[*j];
      uint64_t a_first = a.va >> kPageShift, a_last = (a.va + a.bytes - 1) >> kPageShift;
      if (first_page >= a_first && first_page + pages - 1 <= a_last) {
        hit_first = a_first, hit_last = a_last;
        return true;
      }
      if (a.va + (uint64_t{1} << 40) < lo_va) break;
    }
    return false;
  };

  r.enter_section(kSections[3]);
  n = r.count(60, "kernel");
  t.kernels.resize(n);
  uint64_t cta_sum = 0;
  std::vector<std::pair<uint64_t, uint64_t>> templates;  // (cta_begin, kernel) of kernels storing their CTAs
  for (uint64_t i = 0; i < n; ++i) {
    auto& k = t.kernels[i];
    at = r.pos();
    k.tenant = r.get<uint32_t>();
    if (!(k.tenant < t.tenants.size()))
      r.fail("kernel " + std::to_string(i) + " names a tenant that does not exist", at);
    k.stream = r.get<uint32_t>();
    k.layer = r.get<uint32_t>();
    k.name = r.str();
    for (auto& g : k.grid) g = r.get<uint32_t>();
    for (auto& b : k.block) b = r.get<uint32_t>();
    if (!(k.grid[0] && k.grid[1] && k.grid[2] && k.block[0] && k.block[1] && k.block[2]))
      r.fail("kernel " + std::to_string(i) + " has a zero grid or block dimension", at);
    if (!(k.threads_per_cta() <= 1024))
      r.fail("kernel " + std::to_string(i) + " has more than 1024 threads per CTA", at);
    k.regs_per_thread = r.get<uint32_t>();
    if (!(k.regs_per_thread <= 255))
      r.fail("kernel " + std::to_string(i) + " uses more than 255 registers per thread", at);
    k.smem_bytes = r.get<uint32_t>();
    if (!(k.smem_bytes <= h.smem_per_sm_bytes))
      r.fail("kernel " + std::to_string(i) + " needs more shared memory than an SM has", at);
    k.resident_ns = r.get<uint64_t>();
    if (!(k.resident_ns <= uint64_t(kMaxDurationNs)))
      r.fail("kernel " + std::to_string(i) + " resident time " + std::to_string(k.resident_ns) +
                 " ns is beyond 2^50 ns (13 days)",
             at);
    if (h.format_version >= 6) {
      k.read_lines = r.get<uint8_t>();
      k.write_lines = r.get<uint8_t>();
      if (!(k.read_lines <= 32 && k.write_lines <= 32))
        r.fail("kernel " + std::to_string(i) + " lines per warp access " + std::to_string(k.read_lines) +
                   "/" + std::to_string(k.write_lines) + " beyond 32",
               at);
    }
    k.cta_begin = r.get<uint64_t>();
    k.cta_count = r.get<uint64_t>();
    if (!(k.cta_count == k.ctas()))
      r.fail("kernel " + std::to_string(i) + " CTA count does not equal its grid", at);
    if (k.cta_begin != cta_sum) {
      // Version 4: a launch of an earlier kernel's template (its CTAs and accesses, stored once).
      if (h.format_version < 4)
        r.fail("kernel " + std::to_string(i) + " CTAs do not follow the previous kernel's", at);
      auto it =
          std::lower_bound(templates.begin(), templates.end(), std::make_pair(k.cta_begin, uint64_t{0}));
      if (it == templates.end() || it->first != k.cta_begin)
        r.fail("kernel " + std::to_string(i) +
                   " CTAs neither follow the previous kernel's nor begin where an "
                   "earlier kernel's do",
               at);
      const Kernel& tk = t.kernels[it->second];
      if (!(tk.cta_count == k.cta_count && tk.tenant == k.tenant && tk.block == k.block &&
            tk.regs_per_thread == k.regs_per_thread && tk.smem_bytes == k.smem_bytes))
        r.fail("kernel " + std::to_string(i) + " repeats kernel " + std::to_string(it->second) +
                   "'s CTAs with a different tenant, CTA count, block, registers or shared memory",
               at);
      continue;
    }
    if (k.cta_count) templates.emplace_back(k.cta_begin, i);
    cta_sum += k.cta_count;
    if (!(cta_sum < (uint64_t{1} << 40))) r.fail("kernel " + std::to_string(i) + " CTA total overflows", at);
  }
  r.leave_section(kSections[3]);

  if (h.format_version == 1)
    decode_accesses_v1(r, t, cta_sum, find_alloc);
  else
    decode_accesses_v2(r, t, cta_sum, find_alloc);

  r.enter_section(kSections[6]);
  n = r.count(54, "op");
  t.ops.resize(n);
  std::vector<uint8_t> launched(t.kernels.size(), 0);
  for (uint64_t i = 0; i < n; ++i) {
    at = r.pos();
    auto& o = t.ops[i];
    o.kind = r.get_enum<OpKind>(kOpKindCount, "op kind");
    o.access = r.get_enum<AccessKind>(3, "access kind");
    o.device = r.get<int32_t>();
    o.tenant = r.get<uint32_t>();
    if (!(o.tenant < t.tenants.size() || t.tenants.empty()))
      r.fail("op " + std::to_string(i) + " names a tenant that does not exist", at);
    o.stream = r.get<uint32_t>();
    o.a = r.get<uint64_t>();
    o.b = r.get<uint64_t>();
    o.c = r.get<uint64_t>();
    o.host_ns = r.get<int64_t>();
    o.host_gap_ns = r.get<int64_t>();
    if (!is_time(o.host_ns)) r.fail("op " + std::to_string(i) + " host time is outside [0, 2^62] ns", at);
    if (!is_duration(o.host_gap_ns))
      r.fail("op " + std::to_string(i) + " host gap " + std::to_string(o.host_gap_ns) +
                 " ns is beyond 2^50 ns (13 days)",
             at);
    if (!(o.b < (uint64_t{1} << 57)))
      r.fail("op " + std::to_string(i) + " size " + std::to_string(o.b) + " bytes is beyond 2^57", at);
    switch (o.kind) {
      case OpKind::kKernel:
        if (!(o.a < t.kernels.size()))
          r.fail(
              "op " + std::to_string(i) + " launches kernel " + std::to_string(o.a) + " which does not exist",
              at);
        if (!(!launched[o.a]))
          r.fail("op " + std::to_string(i) + " launches kernel " + std::to_string(o.a) + " a second time",
                 at);
        if (!(t.kernels[o.a].stream == o.stream))
          r.fail("op " + std::to_string(i) + " launches a kernel on another stream than its own", at);
        launched[o.a] = 1;
        break;
      case OpKind::kHostAccess:
      case OpKind::kPrefetch:
      case OpKind::kAdvise:
      case OpKind::kMemset:
        if (!(o.b > 0 && o.a + o.b > o.a &&
              find_alloc(o.a >> kPageShift, ((o.a + o.b - 1) >> kPageShift) - (o.a >> kPageShift) + 1)))
          r.fail("op " + std::to_string(i) + " (" + to_string(o.kind) +
                     ") covers addresses outside every allocation",
                 at);
        if (o.kind == OpKind::kAdvise)
          check(o.c < 4, r, at, "op " + std::to_string(i) + " has an unknown advice");
        break;
      case OpKind::kFree:
        if (!(o.a < t.allocations.size()))
          r.fail("op " + std::to_string(i) + " frees allocation " + std::to_string(o.a) +
                     " which does not exist",
                 at);
        break;
      case OpKind::kSync:
        if (!(o.c < 2)) r.fail("op " + std::to_string(i) + " has an unknown synchronisation scope", at);
        break;
      case OpKind::kMemcpy:
        if (!(o.device >= 0 && o.device < 4))
          r.fail("op " + std::to_string(i) + " has an unknown copy kind", at);
        break;
      default:
        break;
    }
  }
  for (size_t k = 0; k < launched.size(); ++k)
    if (!launched[k]) r.fail("kernel " + std::to_string(k) + " is never launched by any op");
  r.leave_section(kSections[6]);

  r.enter_section(kSections[7]);
  n = r.count(34, "observed event");
  t.observed.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    at = r.pos();
    auto& e = t.observed[i];
    e.kind = r.get_enum<ObservedKind>(kObservedKindCount, "observed event kind");
    e.flags = r.get<uint8_t>();
    e.start_ns = r.get<int64_t>();
    e.end_ns = r.get<int64_t>();
    e.address = r.get<uint64_t>();
    e.value = r.get<uint64_t>();
    if (!(is_time(e.start_ns) && is_time(e.end_ns)))
      r.fail("observed event " + std::to_string(i) + " has a time outside [0, 2^62] ns", at);
    if (!(e.end_ns >= e.start_ns))
      r.fail("observed event " + std::to_string(i) + " ends before it starts", at);
    if (e.kind == ObservedKind::kKernelExec)
      if (!(e.value < t.kernels.size()))
        r.fail("observed event " + std::to_string(i) + " names a missing kernel", at);
  }
  r.leave_section(kSections[7]);

  r.enter_section(kSections[8]);
  n = r.count(h.format_version >= 7 ? 40 : 12, "request");
  t.requests.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    at = r.pos();
    auto& q = t.requests[i];
    q.tenant = r.get<uint32_t>();
    q.arrival_ns = r.get<int64_t>();
    if (h.format_version >= 7) {
      q.start_ns = r.get<int64_t>();
      q.end_ns = r.get<int64_t>();
      q.batch = r.get<uint64_t>();
      q.batch_size = r.get<uint32_t>();
      const bool served = q.start_ns >= 0;
      if (served ? !(is_time(q.start_ns) && q.start_ns >= q.arrival_ns && is_time(q.end_ns) &&
                     q.end_ns >= q.start_ns && q.batch > 0 && q.batch_size > 0)
                 : !(q.start_ns == -1 && q.end_ns == -1 && q.batch == 0 && q.batch_size == 0))
        r.fail(
            "request " + std::to_string(i) +
                ": its start, end, batch and batch size must be all recorded (arrival <= start <= end, batch "
                "and size above 0) or all unrecorded (-1, -1, 0, 0)",
            at);
    }
    if (!(q.tenant < t.tenants.size()))
      r.fail("request " + std::to_string(i) + " names a missing tenant", at);
    if (!is_time(q.arrival_ns)) r.fail("request " + std::to_string(i) + " arrives outside [0, 2^62] ns", at);
    if (!(i == 0 || q.arrival_ns >= t.requests[i - 1].arrival_ns))
      r.fail("request " + std::to_string(i) + " arrives before the previous one", at);
  }
  r.leave_section(kSections[8]);

  r.enter_section(kSections[9]);
  n = r.count(13, "pass");
  t.passes.resize(n);
  for (auto& p : t.passes) {
    p.kind = r.get_enum<PassKind>(h.format_version >= 5 ? kPassKindCount : 5, "pass kind");
    at = r.pos();
    p.wall_ns = r.get<int64_t>();
    if (!is_time(p.wall_ns)) r.fail("a pass's wall time is outside [0, 2^62] ns", at);
    p.note = r.str();
  }
  r.leave_section(kSections[9]);

  r.enter_section(kSections[10]);
  n = r.count(25, "completeness");
  t.completeness.resize(n);
  for (auto& c : t.completeness) {
    c.stream = r.get_enum<ObservedKind>(kObservedKindCount, "counter stream");
    c.expected = r.get<uint64_t>();
    c.recorded = r.get<uint64_t>();
    c.dropped_records = r.get<uint64_t>();
  }
  r.leave_section(kSections[10]);

  r.enter_section(kSections[11]);
  n = r.count(24, "nvtx range");
  t.nvtx.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    at = r.pos();
    auto& x = t.nvtx[i];
    x.name = r.str();
    x.stream = r.get<uint32_t>();
    x.start_ns = r.get<int64_t>();
    x.end_ns = r.get<int64_t>();
    if (!(is_time(x.start_ns) && is_time(x.end_ns)))
      r.fail("NVTX range " + std::to_string(i) + " has a time outside [0, 2^62] ns", at);
    if (!(x.end_ns >= x.start_ns)) r.fail("NVTX range " + std::to_string(i) + " ends before it starts", at);
  }
  r.leave_section(kSections[11]);

  if (h.format_version >= 5) {
    r.enter_section(kSections[12]);
    constexpr size_t kRunBytes = 16 + 8 * kDriverEventKindCount + 4;
    n = r.count(kRunBytes, "driver run");
    check(n <= 65536, r, r.pos(), "more than 65536 driver runs");
    t.driver_runs.resize(n);
    for (auto& run : t.driver_runs) {
      at = r.pos();
      run.wall_ns = r.get<int64_t>();
      run.flush_every_ns = r.get<int64_t>();
      if (!(is_time(run.wall_ns) && is_time(run.flush_every_ns)))
        r.fail("a driver run's wall time or flush period is outside [0, 2^62] ns", at);
      for (uint64_t& d : run.dropped) d = r.get<uint64_t>();
      run.note = r.str();
    }
    n = r.count(64, "driver event");
    t.driver_events.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      at = r.pos();
      DriverEvent& e = t.driver_events[i];
      e.kind = r.get_enum<DriverEventKind>(kDriverEventKindCount, "driver event kind");
      e.flags = r.get<uint8_t>();
      e.run = r.get<uint16_t>();
      e.gpc = r.get<uint16_t>();
      e.client = r.get<uint16_t>();
      e.batch = r.get<uint32_t>();
      e.kernel = r.get<uint32_t>();
      e.address = r.get<uint64_t>();
      e.bytes = r.get<uint64_t>();
      e.aux = r.get<uint64_t>();
      e.cpu_ns = r.get<int64_t>();
      e.gpu_ns = r.get<int64_t>();
      e.gpu_end_ns = r.get<int64_t>();
      if (!(e.run < t.driver_runs.size()))
        r.fail("driver event " + std::to_string(i) + " names a missing run", at);
      if (i > 0 && e.run < t.driver_events[i - 1].run)
        r.fail("driver event " + std::to_string(i) + " is out of run order", at);
      if (!(e.kernel == kNoKernel || e.kernel < t.kernels.size()))
        r.fail("driver event " + std::to_string(i) + " names a missing kernel", at);
      if (!(is_time(e.cpu_ns) && is_time(e.gpu_ns) && is_time(e.gpu_end_ns)))
        r.fail("driver event " + std::to_string(i) + " has a time outside [0, 2^62] ns", at);
      if (e.gpu_end_ns != 0 && !(e.gpu_end_ns >= e.gpu_ns))
        r.fail("driver event " + std::to_string(i) + " ends before it starts", at);
    }
    r.leave_section(kSections[12]);
  }

  r.enter_section(kSections[13]);
  r.leave_section(kSections[13]);
  if (r.pos() != size) r.fail("trailing bytes after the end section");
  return t;
}

void write_trace(const Trace& t, const std::string& path, int zstd_level) {
  files::check_output_file(path, "trace");  // before the work of encoding
  std::vector<uint8_t> body = encode_body(t);
  decode_body(body.data(), body.size(), path);  // never write a trace the reader would refuse
  std::vector<uint8_t> out(kFileHeaderBytes + ZSTD_compressBound(body.size()));
  std::memcpy(out.data(), kMagic, 8);
  auto put64 = [&](size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) out[at + i] = uint8_t(v >> (8 * i));
  };
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + i] = uint8_t(v >> (8 * i));
  };
  put32(8, kFormatVersion);
  put32(12, 0);
  put64(16, body.size());
  put64(24, body_hash(kFormatVersion, body.data(), body.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, zstd_level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  size_t z = ZSTD_compress2(cctx, out.data() + kFileHeaderBytes, out.size() - kFileHeaderBytes, body.data(),
                            body.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(z)) throw TraceError(path + ": compression failed: " + ZSTD_getErrorName(z));
  out.resize(kFileHeaderBytes + z);
  try {
    files::AtomicFile f(path, "trace");
    f.stream().write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
    f.commit();
  } catch (const files::FileError& e) {
    throw TraceError(e.what());
  }
}

Trace read_trace_bytes(const uint8_t* data, size_t size, const std::string& name, std::string* content_hash,
                       const ReadLimits& limits) {
  auto fail = [&](size_t at, const std::string& what) -> void {
    throw TraceError(name + ": offset " + std::to_string(at) + " (file): " + what);
  };
  if (size < kFileHeaderBytes)
    fail(size, "truncated: " + std::to_string(size) + " bytes, shorter than the 32-byte file header");
  if (std::memcmp(data, kMagic, 8) != 0) fail(0, "not a uvmsim trace (bad magic)");
  auto get32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(data[at + i]) << (8 * i);
    return v;
  };
  auto get64 = [&](size_t at) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(data[at + i]) << (8 * i);
    return v;
  };
  uint32_t version = get32(8);
  if (version < kOldestFormatVersion || version > kFormatVersion)
    fail(8, "unsupported format version " + std::to_string(version) + " (this build reads " +
                std::to_string(kOldestFormatVersion) + " to " + std::to_string(kFormatVersion) + ")");
  if (get32(12) != 0) fail(12, "unknown file flags");
  uint64_t body_bytes = get64(16);
  if (body_bytes > kMaxBodyBytes) fail(16, "declared body size " + std::to_string(body_bytes) + " is absurd");
  // The decompressed size is capped by the file's size and by an absolute bound, both checked before any
  // memory is sized and again while streaming: a small file cannot make the reader allocate gigabytes.
  const uint64_t ratio = std::max<uint64_t>(limits.max_ratio, 1);
  const uint64_t ratio_cap =
      std::max(kMinBodyCapBytes, size > kMaxBodyBytes / ratio ? kMaxBodyBytes : uint64_t(size) * ratio);
  if (body_bytes > ratio_cap)
    fail(16, "declared body size " + std::to_string(body_bytes) + " is more than " +
                 std::to_string(limits.max_ratio) + " times the file's " + std::to_string(size) +
                 " bytes (raise it with uvmsim --max-trace-ratio)");
  if (body_bytes > limits.max_body_bytes)
    fail(16, "declared body size " + std::to_string(body_bytes) + " is more than the reader's limit of " +
                 std::to_string(limits.max_body_bytes) + " bytes (raise it with uvmsim --max-trace-bytes)");
  uint64_t stored_hash = get64(24);

  // Stream the frame so that memory grows with real data only, never with the declared size alone.
  std::vector<uint8_t> body;
  body.reserve(std::min<uint64_t>(body_bytes, 64 << 20));
  const std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer in{data + kFileHeaderBytes, size - kFileHeaderBytes, 0};
  std::vector<uint8_t> chunk(ZSTD_DStreamOutSize());
  size_t ret = 1;
  auto append = [&](const ZSTD_outBuffer& out, size_t at) {
    if (body.size() + out.pos > body_bytes)
      fail(at, "decompressed data exceeds the declared body size " + std::to_string(body_bytes));
    body.insert(body.end(), chunk.data(), chunk.data() + out.pos);
  };
  try {
    while (in.pos < in.size) {
      ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
      ret = ZSTD_decompressStream(dctx.get(), &out, &in);
      if (ZSTD_isError(ret))
        fail(kFileHeaderBytes + in.pos, std::string("corrupt compressed data: ") + ZSTD_getErrorName(ret));
      append(out, kFileHeaderBytes + in.pos);
      if (ret == 0) break;
      if (out.pos == 0 && in.pos == in.size) break;
    }
    // Drain what the decoder still holds once the input is consumed.
    while (ret != 0) {
      ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
      ret = ZSTD_decompressStream(dctx.get(), &out, &in);
      if (ZSTD_isError(ret)) fail(size, std::string("corrupt compressed data: ") + ZSTD_getErrorName(ret));
      if (out.pos == 0) break;
      append(out, size);
    }
  } catch (const std::bad_alloc&) {
    fail(16, "out of memory decompressing a body of " + std::to_string(body_bytes) + " bytes");
  }
  if (ret != 0) fail(size, "truncated: the compressed frame ends early");
  if (in.pos != in.size) fail(kFileHeaderBytes + in.pos, "trailing bytes after the compressed frame");
  if (body.size() != body_bytes)
    fail(size, "truncated: body has " + std::to_string(body.size()) + " bytes, header declares " +
                   std::to_string(body_bytes));
  const uint64_t h = body_hash(version, body.data(), body.size());
  if (h != stored_hash) fail(24, "body checksum mismatch (corrupt file)");
  if (content_hash) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    *content_hash = buf;
  }
  Trace t = decode_body(body.data(), body.size(), name);
  if (t.header.format_version != version)
    fail(8, "file format version " + std::to_string(version) + " but body version " +
                std::to_string(t.header.format_version));
  return t;
}

Trace read_trace(const std::string& path, const ReadLimits& limits, std::string* content_hash) {
  std::vector<uint8_t> bytes;
  try {
    // The compressed file itself is bounded too: no more than the body it may declare.
    bytes = files::read_regular_file(path, limits.max_body_bytes);
  } catch (const files::FileError& e) {
    throw TraceError(e.what());
  }
  try {
    return read_trace_bytes(bytes.data(), bytes.size(), path, content_hash, limits);
  } catch (const std::bad_alloc&) {
    throw TraceError(path + ": out of memory decoding the trace");
  }
}

Trace read_trace(const std::string& path, std::string* content_hash) {
  return read_trace(path, default_read_limits(), content_hash);
}

}  // namespace uvmsim::trace
