#include "workloads/generate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <thread>

#include "sim/version.h"
#include "traces/trace_io.h"
#include "workloads/micro.h"

namespace uvmsim {

using namespace trace;
using kernels::Access;
using kernels::Tensor;

namespace {

// Page uses of one CTA: a table over the pages of the kernel's tensors (each tensor's pages at an offset),
// stamped per CTA so that nothing is cleared between CTAs.
// The table's storage, kept from kernel to kernel (one per worker) so that large tables are not allocated
// and zeroed again for every kernel.
struct UseStore {
  std::vector<uint32_t> stamp;
  std::vector<PageUse> use;
  std::vector<uint64_t> touched;
  uint32_t gen = 0;
};

class Uses {
 public:
  Uses(const LayerKernel& k, const uint64_t bytes[7], UseStore& store)
      : k_(k), stamp_(store.stamp), use_(store.use), touched_(store.touched), gen_(store.gen) {
    uint64_t n = 0;
    for (int i = 0; i < 7; ++i) {
      first_[i] = k.va[i] >> kPageShift;
      offset_[i] = n;
      if (bytes[i]) n += ((k.va[i] + bytes[i] - 1) >> kPageShift) - first_[i] + 1;
    }
    if (stamp_.size() < n) stamp_.resize(n, 0), use_.resize(n);  // new entries' stamp 0 is never current
  }
  void begin() {
    if (++gen_ == 0) std::fill(stamp_.begin(), stamp_.end(), 0), gen_ = 1;
    touched_.clear();
  }
  // Elements [lo, hi] of tensor `t` are accessed at position `pos`.
  void add(Tensor t, uint64_t lo, uint64_t hi, uint32_t pos, bool write) {
    const uint64_t p0 = (k_.va[t] + lo * 4) >> kPageShift, p1 = (k_.va[t] + hi * 4 + 3) >> kPageShift;
    for (uint64_t p = p0; p <= p1; ++p) {
      const uint64_t i = offset_[t] + (p - first_[t]);
      if (stamp_[i] != gen_) {
        stamp_[i] = gen_;
        use_[i] = {p, pos, pos, write};
        touched_.push_back(i);
      } else {
        PageUse& u = use_[i];
        u.first = std::min(u.first, pos);
        u.last = std::max(u.last, pos);
        u.write = u.write || write;
      }
    }
  }
  // The CTA's uses, sorted by page.
  std::vector<PageUse> end() {
    std::vector<PageUse> out;
    out.reserve(touched_.size());
    for (uint64_t i : touched_) out.push_back(use_[i]);
    std::sort(out.begin(), out.end(), [](const PageUse& a, const PageUse& b) { return a.page < b.page; });
    return out;
  }

 private:
  const LayerKernel& k_;
  uint64_t first_[7] = {}, offset_[7] = {};
  std::vector<uint32_t>& stamp_;
  std::vector<PageUse>& use_;
  std::vector<uint64_t>& touched_;
  uint32_t& gen_;
};

// The items [begin, end) cut at multiples of `block`: f(block index, first, last) for each piece, one
// division per piece.
template <typename F>
void blocks(uint64_t begin, uint64_t end, uint64_t block, F f) {
  while (begin < end) {
    const uint64_t index = begin / block, last = std::min(end, (index + 1) * block) - 1;
    f(index, begin, last);
    begin = last + 1;
  }
}

void conv_uses(const LayerKernel& k, uint64_t cta, Uses& u) {
  const kernels::ConvShape& g = k.conv;
  const uint64_t bx = cta % g.grid_x(), by = cta / g.grid_x();
  const uint64_t k0 = by * kernels::kConvTileM, p0 = bx * kernels::kConvTileN, crs = g.crs();
  const uint64_t pixels = g.pixels(), p_end = std::min(p0 + kernels::kConvTileN, pixels);
  const uint32_t chunks = g.chunks();
  // Weights: row k0 + 32 slot + q holds columns 0..crs-1, column col loaded at 4 (col / 8) + slot.
  for (uint32_t slot = 0; slot < 2; ++slot)
    for (uint64_t row = k0 + slot * 32; row < std::min<uint64_t>(k0 + slot * 32 + 32, g.k); ++row) {
      const uint64_t base = row * crs;
      const uint64_t byte0 = k.va[kernels::kWeight] + base * 4;
      // Page by page: the columns each page holds.
      for (uint64_t col = 0; col < crs;) {
        const uint64_t page_end = (((byte0 + col * 4) >> kPageShift) + 1) << kPageShift;
        const uint64_t last = std::min<uint64_t>(crs - 1, (page_end - byte0 - 1) / 4);
        u.add(kernels::kWeight, base + col, base + col, uint32_t(4 * (col / 8) + slot), false);
        u.add(kernels::kWeight, base + last, base + last, uint32_t(4 * (last / 8) + slot), false);
        col = last + 1;
      }
    }
  // Inputs: tap kk (c, r, s) for all 64 pixels at position 4 (kk / 8) + 2 + (kk % 8) / 4; the pixels of the
  // tile form runs of one (n, oh), whose taps read one input row each.
  const uint64_t hw = uint64_t(g.oh) * g.ow;
  blocks(p0, p_end, g.ow, [&](uint64_t row, uint64_t pa, uint64_t pb) {
    const uint64_t n = row / g.oh, oh = row % g.oh;
    const int64_t ow0 = int64_t(pa % g.ow), ow1 = int64_t(pb % g.ow);
    for (uint32_t c = 0; c < g.c; ++c)
      for (uint32_t r = 0; r < g.r; ++r) {
        const int64_t ih = int64_t(oh) * g.stride - g.pad + r;
        if (ih < 0 || ih >= g.h) continue;
        const uint64_t row_base = ((n * g.c + c) * g.h + uint64_t(ih)) * g.w;
        for (uint32_t s = 0; s < g.s; ++s) {
          // Valid ow: 0 <= ow * stride - pad + s < w.
          const int64_t off = int64_t(s) - g.pad;
          int64_t lo = ow0, hi = ow1;
          if (lo * g.stride + off < 0) lo = (-off + g.stride - 1) / g.stride;
          if (hi * g.stride + off >= g.w) hi = (int64_t(g.w) - 1 - off) / g.stride;
          if (lo > hi) continue;
          const uint64_t kk = (uint64_t(c) * g.r + r) * g.s + s;
          u.add(kernels::kIn, row_base + uint64_t(lo * g.stride + off), row_base + uint64_t(hi * g.stride + off),
                uint32_t(4 * (kk / 8) + 2 + (kk % 8) / 4), false);
        }
      }
  });
  // Epilogue: pair j loads the bias of channels k0 + 16 (j / 4) + [0, 16) and stores them for pixels
  // p0 + 16 (j % 4) + [0, 16).
  for (uint32_t j = 0; j < 16; ++j) {
    const uint64_t c0 = k0 + (j / 4) * 16, c1 = std::min<uint64_t>(c0 + 16, g.k);
    const uint64_t q0 = p0 + (j % 4) * 16, q1 = std::min<uint64_t>(q0 + 16, pixels);
    if (c0 >= c1 || q0 >= q1) continue;
    const uint32_t pos = 4 * chunks + 2 * j;
    if (g.bias) u.add(kernels::kBias, c0, c1 - 1, pos, false);
    for (uint64_t kc = c0; kc < c1; ++kc)
      blocks(q0, q1, hw, [&](uint64_t n, uint64_t pa, uint64_t pb) {
        u.add(kernels::kOut, (n * g.k + kc) * hw + pa % hw, (n * g.k + kc) * hw + pb % hw, pos + 1, true);
      });
  }
}

void dwconv_uses(const LayerKernel& k, uint64_t cta, Uses& u) {
  const kernels::ConvShape& g = k.conv;
  const uint64_t o0 = cta * kernels::kThreads, o1 = std::min(o0 + kernels::kThreads, kernels::dwconv_outputs(g));
  const uint32_t taps = g.r * g.s;
  blocks(o0, o1, g.ow, [&](uint64_t row, uint64_t oa, uint64_t ob) {
    const uint64_t oh = row % g.oh, c = row / g.oh % g.k, n = row / (uint64_t(g.oh) * g.k);
    const int64_t ow0 = int64_t(oa % g.ow), ow1 = int64_t(ob % g.ow);
    for (uint32_t tap = 0; tap < taps; ++tap) {
      const uint32_t r = tap / g.s, s = tap % g.s;
      const int64_t ih = int64_t(oh) * g.stride - g.pad + r, off = int64_t(s) - g.pad;
      if (ih >= 0 && ih < g.h) {
        int64_t lo = ow0, hi = ow1;
        if (lo * g.stride + off < 0) lo = (-off + g.stride - 1) / g.stride;
        if (hi * g.stride + off >= g.w) hi = (int64_t(g.w) - 1 - off) / g.stride;
        const uint64_t base = ((n * g.c + c) * g.h + uint64_t(ih)) * g.w;
        if (lo <= hi)
          u.add(kernels::kIn, base + uint64_t(lo * g.stride + off), base + uint64_t(hi * g.stride + off), 2 * tap, false);
      }
      u.add(kernels::kWeight, c * taps + tap, c * taps + tap, 2 * tap + 1, false);
    }
    if (g.bias) u.add(kernels::kBias, c, c, 2 * taps, false);
    u.add(kernels::kOut, oa, ob, 2 * taps + 1, true);
  });
}

void pool_uses(const LayerKernel& k, uint64_t cta, Uses& u) {
  const kernels::PoolShape& g = k.pool;
  const uint64_t o0 = cta * kernels::kThreads, o1 = std::min(o0 + kernels::kThreads, g.outputs());
  const uint32_t tx_n = g.taps_x(), taps = g.taps_y() * tx_n;
  blocks(o0, o1, g.ow, [&](uint64_t row, uint64_t oa, uint64_t ob) {
    const uint32_t y = uint32_t(row % g.oh);
    const uint64_t plane = row / g.oh;
    for (uint32_t tap = 0; tap < taps; ++tap) {
      // The valid inputs of this tap over the run's outputs; each output's window is its own.
      int64_t lo = INT64_MAX, hi = INT64_MIN, iy = -1;
      for (uint64_t o = oa; o <= ob; ++o) {
        int64_t y0, y1, x0, x1;
        g.window(y, uint32_t(o % g.ow), y0, y1, x0, x1);
        const int64_t yy = y0 + tap / tx_n, xx = x0 + tap % tx_n;
        if (yy < y1 && xx < x1 && yy >= 0 && xx >= 0 && yy < g.h && xx < g.w) {
          lo = std::min(lo, xx), hi = std::max(hi, xx), iy = yy;
        }
      }
      if (lo <= hi) {
        const uint64_t base = (plane * g.h + uint64_t(iy)) * g.w;
        u.add(kernels::kIn, base + uint64_t(lo), base + uint64_t(hi), tap, false);
      }
    }
    u.add(kernels::kOut, oa, ob, taps, true);
  });
}

void eltwise_uses(const LayerKernel& k, uint64_t cta, Uses& u) {
  const uint64_t i0 = cta * kernels::kThreads, i1 = std::min(i0 + kernels::kThreads, k.elems);
  if (i0 >= i1) return;
  const uint32_t n = kernels::eltwise_positions(k.eltwise);
  for (uint32_t pos = 0; pos < n; ++pos) {
    const Access a = kernels::eltwise_access(k.eltwise, k.elems, k.plane, k.channels, uint32_t(cta), 0, pos);
    if (a.tensor == kernels::kIn || a.tensor == kernels::kIn2 || a.tensor == kernels::kOut) {
      u.add(a.tensor, i0, i1 - 1, pos, a.write);
    } else {  // per-channel parameters: the channels of the CTA's elements
      blocks(i0, i1, k.plane, [&](uint64_t plane, uint64_t, uint64_t) {
        const uint64_t c = plane % k.channels;
        u.add(a.tensor, c, c, pos, false);
      });
    }
  }
}

void softmax_uses(const LayerKernel& k, uint64_t cta, Uses& u) {
  const uint32_t q_n = kernels::softmax_rounds(k.features);
  for (uint32_t q = 0; q < q_n; ++q) {
    const uint64_t j0 = uint64_t(q) * kernels::kThreads, j1 = std::min<uint64_t>(j0 + kernels::kThreads, k.features);
    const uint64_t b = cta * k.features;
    u.add(kernels::kIn, b + j0, b + j1 - 1, q, false);
    u.add(kernels::kIn, b + j0, b + j1 - 1, q_n + q, false);
    u.add(kernels::kIn, b + j0, b + j1 - 1, 2 * q_n + 2 * q, false);
    u.add(kernels::kOut, b + j0, b + j1 - 1, 2 * q_n + 2 * q + 1, true);
  }
}

void fill_uses(const LayerKernel& k, uint64_t cta, Uses& u) {
  u.begin();
  switch (k.kind) {
    case LayerKernel::Kind::kConv: conv_uses(k, cta, u); break;
    case LayerKernel::Kind::kDwConv: dwconv_uses(k, cta, u); break;
    case LayerKernel::Kind::kPool: pool_uses(k, cta, u); break;
    case LayerKernel::Kind::kEltwise: eltwise_uses(k, cta, u); break;
    case LayerKernel::Kind::kSoftmax: softmax_uses(k, cta, u); break;
  }
}

}  // namespace

std::vector<PageUse> cta_uses(const LayerKernel& k, uint64_t cta) {
  uint64_t bytes[7];
  tensor_bytes(k, bytes);
  UseStore store;
  Uses u(k, bytes, store);
  fill_uses(k, cta, u);
  return u.end();
}

std::vector<PageUse> cta_uses_by_thread(const LayerKernel& k, uint64_t cta) {
  std::map<uint64_t, PageUse> m;
  for (uint32_t pos = 0; pos < k.positions(); ++pos)
    for (uint32_t t = 0; t < kernels::kThreads; ++t) {
      const Access a = k.access(cta, t, pos);
      if (a.index == kernels::kOutside) continue;
      const uint64_t page = (k.va[a.tensor] + uint64_t(a.index) * 4) >> kPageShift;
      auto [it, fresh] = m.try_emplace(page, PageUse{page, pos, pos, a.write});
      if (!fresh) {
        it->second.first = std::min(it->second.first, pos);
        it->second.last = std::max(it->second.last, pos);
        it->second.write = it->second.write || a.write;
      }
    }
  std::vector<PageUse> v;
  for (auto& [p, use] : m) v.push_back(use);
  return v;
}

// ---- models to traces ---------------------------------------------------------------------------------

namespace {

constexpr uint64_t kTenantStride = uint64_t{1} << 40;  // each tenant's tensors in its own 1 TiB of addresses
constexpr uint64_t kVaBase = uint64_t{0x100} << 36;

// Register and shared-memory use of the kernels as compiled for sm_90 by CUDA 13.0 (from a recording of
// workloads/layer_check on the H100).
struct KernelInfo {
  const char* name;
  uint32_t regs, smem;
};
const KernelInfo kConvInfo{"uvmsim::kernels::conv_kernel(uvmsim::kernels::ConvShape, uvmsim::kernels::Tensors)", 47, 4096};
const KernelInfo kDwInfo{"uvmsim::kernels::dwconv_kernel(uvmsim::kernels::ConvShape, uvmsim::kernels::Tensors)", 34, 0};
const KernelInfo kPoolInfo{"uvmsim::kernels::pool_kernel(uvmsim::kernels::PoolShape, uvmsim::kernels::Tensors)", 34, 0};
const KernelInfo kEltInfo{
    "uvmsim::kernels::eltwise_kernel(uvmsim::kernels::Eltwise, unsigned long, unsigned long, unsigned int, "
    "uvmsim::kernels::Tensors)",
    26, 0};
const KernelInfo kSoftmaxInfo{"uvmsim::kernels::softmax_kernel(unsigned int, uvmsim::kernels::Tensors)", 29, 32};

const KernelInfo& kernel_info(LayerKernel::Kind kind) {
  switch (kind) {
    case LayerKernel::Kind::kConv: return kConvInfo;
    case LayerKernel::Kind::kDwConv: return kDwInfo;
    case LayerKernel::Kind::kPool: return kPoolInfo;
    case LayerKernel::Kind::kSoftmax: return kSoftmaxInfo;
    default: return kEltInfo;
  }
}

// Ranges of one CTA from its page uses (sorted by page), as the converter makes them from a recording:
// intervals on the 1/64 grid of the CTA's run, consecutive pages of one kind and interval merged within an
// allocation, ordered by first use then address.
void append_ranges(const std::vector<PageUse>& uses, uint32_t positions, const std::vector<uint64_t>& alloc_starts,
                   std::vector<Range>& ranges, std::vector<uint32_t>& counts) {
  const uint64_t scale = positions > 1 ? positions - 1 : 1;
  const size_t begin = ranges.size();
  for (const PageUse& p : uses) {
    Range r;
    r.page = p.page;
    r.kind = p.write ? AccessKind::kWrite : AccessKind::kRead;
    r.t_begin = interval_begin(p.first, scale);
    r.t_end = interval_end(p.last, scale);
    if (ranges.size() > begin) {
      Range& b = ranges.back();
      if (b.page + b.count == r.page && b.kind == r.kind && b.t_begin == r.t_begin && b.t_end == r.t_end &&
          !std::binary_search(alloc_starts.begin(), alloc_starts.end(), r.page)) {
        ++b.count;
        continue;
      }
    }
    ranges.push_back(r);
  }
  std::stable_sort(ranges.begin() + long(begin), ranges.end(),
                   [](const Range& a, const Range& b) { return std::pair(a.t_begin, a.page) < std::pair(b.t_begin, b.page); });
  counts.push_back(uint32_t(ranges.size() - begin));
}

// A worker's buffers, kept from kernel to kernel (a 4-model mix at batch 32 makes 62 M ranges: buffers
// made afresh for each kernel spent more time in the kernel's page clearing than in the generation).
struct Worker {
  UseStore store;
  std::vector<Range> ranges;
  std::vector<uint32_t> counts;
};

// Every CTA's ranges of one kernel, on all cores (contiguous blocks of CTAs per worker, joined in order:
// the result does not depend on the number of workers).
void append_kernel_ranges(const LayerKernel& lk, uint64_t ctas, const std::vector<uint64_t>& alloc_starts,
                          std::vector<Worker>& pool_workers, Trace& t) {
  const uint64_t n =
      std::clamp<uint64_t>(std::thread::hardware_concurrency(), 1, std::max<uint64_t>(1, ctas / 16));
  if (pool_workers.size() < n) pool_workers.resize(n);
  auto work = [&](uint64_t w) {
    uint64_t bytes[7];
    tensor_bytes(lk, bytes);
    Worker& me = pool_workers[w];
    me.ranges.clear();
    me.counts.clear();
    Uses u(lk, bytes, me.store);
    for (uint64_t c = ctas * w / n; c < ctas * (w + 1) / n; ++c) {
      fill_uses(lk, c, u);
      append_ranges(u.end(), lk.positions(), alloc_starts, me.ranges, me.counts);
    }
  };
  std::vector<std::thread> pool;
  for (uint64_t w = 1; w < n; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& th : pool) th.join();
  // Grow the trace's ranges to the projected total (ranges per CTA so far x every CTA of the trace, which
  // t.ctas' capacity holds), not by doubling: each fresh page costs a fault.
  uint64_t add = 0;
  for (uint64_t w = 0; w < n; ++w) add += pool_workers[w].ranges.size();
  if (t.ranges.size() + add > t.ranges.capacity()) {
    const double per_cta = double(t.ranges.size() + add) / double(t.ctas.size() + ctas);
    t.ranges.reserve(
        std::max<uint64_t>(t.ranges.size() + add, uint64_t(1.1 * per_cta * double(t.ctas.capacity()))));
  }
  for (uint64_t w = 0; w < n; ++w) {
    const Worker& p = pool_workers[w];
    uint64_t at = t.ranges.size();
    for (uint32_t n : p.counts) {
      t.ctas.push_back({at, n});
      at += n;
    }
    t.ranges.insert(t.ranges.end(), p.ranges.begin(), p.ranges.end());
  }
}

// The tenants of a generated trace: each one's tensors laid out for its batch, its weights region at its own
// 1 TiB of addresses and its activations region at the next 2 MiB boundary, one allocation per tensor.
struct Tenants {
  std::vector<TenantLayout> layouts;
  std::vector<std::pair<uint64_t, uint64_t>> bases;  // per tenant: weights and activations regions
  std::map<std::string, int> seen;                   // per model: tenants so far (names "resnet50#0", ...)
};

// A tenant's activations region: at the first 2 MiB boundary after its weights region.
uint64_t activations_base(uint64_t weights_base, uint64_t weights_bytes) {
  return weights_base + (weights_bytes + (uint64_t{2} << 20) - 1) / (uint64_t{2} << 20) * (uint64_t{2} << 20);
}

void add_tenant(Trace& t, Tenants& ts, const Model& m, uint32_t batch, uint32_t process) {
  const size_t ti = ts.layouts.size();
  const std::string tenant = m.name + "#" + std::to_string(ts.seen[m.name]++);
  t.tenants.push_back({tenant, m.name, batch, process});
  TenantLayout lay = layout_tenant(m, batch);
  const uint64_t wb = kVaBase + ti * kTenantStride;
  const uint64_t ab = activations_base(wb, lay.weights_bytes);
  ts.bases.push_back({wb, ab});
  for (size_t i = 0; i < lay.tensors.size(); ++i) {
    const TensorSlot& s = lay.tensors[i];
    const AllocRole role = s.role == TensorSlot::Role::kWeight   ? AllocRole::kWeight
                           : s.role == TensorSlot::Role::kInput  ? AllocRole::kInput
                           : s.role == TensorSlot::Role::kOutput ? AllocRole::kOutput
                                                                 : AllocRole::kActivation;
    t.allocations.push_back({uint32_t(ti), AllocKind::kManaged, role, lay.address(i, wb, ab), s.bytes, 0, -1,
                             tenant + "." + s.name});
  }
  ts.layouts.push_back(std::move(lay));
}

// The CPU writing [va, va + bytes), on the tenant's stream.
Op host_write(uint32_t tenant, uint64_t va, uint64_t bytes) {
  Op op;
  op.kind = OpKind::kHostAccess;
  op.access = AccessKind::kWrite;
  op.device = -1;
  op.tenant = tenant;
  op.stream = tenant;
  op.a = va;
  op.b = bytes;
  return op;
}

// The allocations' first pages, sorted (where the ranges of a CTA may not merge).
std::vector<uint64_t> allocation_starts(const Trace& t) {
  std::vector<uint64_t> starts;
  for (const Allocation& a : t.allocations) starts.push_back(a.va >> kPageShift);
  std::sort(starts.begin(), starts.end());
  return starts;
}

// The CPU initialises weights and inputs (one op each).
void host_initialises(Trace& t) {
  for (const Allocation& a : t.allocations)
    if (a.role == AllocRole::kWeight || a.role == AllocRole::kInput)
      t.ops.push_back(host_write(a.tenant, a.va, a.bytes));
}

// The kernel record of one layer's launch (its CTAs not yet placed), on its tenant's stream.
Kernel kernel_record(const LayerKernel& lk, uint32_t tenant, uint32_t layer, const CostModel& cost) {
  const KernelInfo& info = kernel_info(lk.kind);
  Kernel k;
  k.tenant = tenant;
  k.stream = tenant;
  k.layer = layer;
  k.name = info.name;
  k.grid = lk.grid();
  k.block = {kernels::kThreads, 1, 1};
  k.regs_per_thread = info.regs;
  k.smem_bytes = info.smem;
  k.resident_ns = cost.predict(lk);
  k.cta_count = k.ctas();
  return k;
}

}  // namespace

Trace generate_models(const GenerateOptions& o) {
  if (o.models.empty()) throw ModelError("--models names no model");
  if (o.requests == 0) throw ModelError("--requests: must be at least 1, not 0");
  if (o.requests > kMaxGenerateRequests)
    throw ModelError("--requests " + std::to_string(o.requests) + ": beyond the generator's limit of " +
                     std::to_string(kMaxGenerateRequests) + " (kMaxGenerateRequests)");
  uint64_t images = 0;
  for (const auto& [name, batch] : o.models) {
    if (batch > kMaxGenerateBatch)
      throw ModelError("--models " + name + ":" + std::to_string(batch) +
                       ": batch beyond the generator's limit of " + std::to_string(kMaxGenerateBatch) +
                       " (kMaxGenerateBatch: memory grows with the batch)");
    images += batch;
  }
  if (images > kMaxGenerateImages)
    throw ModelError("--models: " + std::to_string(images) +
                     " images (the batches summed over models), beyond the generator's limit of " +
                     std::to_string(kMaxGenerateImages) +
                     " (kMaxGenerateImages: the trace holds one inference's accesses of each model)");
  Trace t;
  t.header = generated_header();
  t.header.command = "uvmsim generate --models ";
  for (size_t i = 0; i < o.models.size(); ++i)
    t.header.command += (i ? "," : "") + o.models[i].first + ":" + std::to_string(o.models[i].second);
  t.header.command += " --requests " + std::to_string(o.requests);
  if (o.processes) t.header.command += " --processes";
  if (o.sync_requests) t.header.command += " --sync-requests";
  t.passes.push_back({PassKind::kGenerated, 0, "workloads/ layer kernels, exact accesses from their schedules"});

  std::vector<Model> models;
  const CostModel cost = CostModel::h100();
  std::vector<Worker> workers;  // reused by every kernel
  Tenants ts;
  for (size_t ti = 0; ti < o.models.size(); ++ti) {
    models.push_back(load_model(o.models[ti].first));
    add_tenant(t, ts, models.back(), o.models[ti].second, o.processes ? uint32_t(ti) : 0u);
  }
  host_initialises(t);
  const std::vector<uint64_t> starts = allocation_starts(t);
  // Kernels: every request of every tenant, the tenants' layers interleaved as a launcher issuing one
  // layer of each model in turn, each tenant on its own stream. A kernel's accesses are the same in every
  // request: the first request's launch stores its CTAs, later requests launch that template.
  size_t most = 0;
  uint64_t all_ctas = 0;
  std::vector<std::vector<LayerKernel>> plans(models.size());  // per tenant and layer, for every request
  for (size_t ti = 0; ti < models.size(); ++ti) {
    most = std::max(most, models[ti].layers.size());
    for (size_t li = 0; li < models[ti].layers.size(); ++li) {
      plans[ti].push_back(layer_kernel(models[ti], ts.layouts[ti], li, o.models[ti].second,
                                       ts.bases[ti].first, ts.bases[ti].second));
      all_ctas += plans[ti].back().ctas();
    }
  }
  t.ctas.reserve(all_ctas);
  std::vector<std::vector<uint64_t>> first_cta(models.size());  // per tenant and layer: its first launch's CTAs
  for (size_t ti = 0; ti < models.size(); ++ti) first_cta[ti].resize(models[ti].layers.size());
  // Each process's host waits for its streams (one process: one wait for every stream): at the end, and
  // after every request with sync_requests.
  const auto host_waits = [&] {
    for (size_t ti = 0; ti < (o.processes ? models.size() : 1); ++ti) {
      Op sync;
      sync.kind = OpKind::kSync;
      sync.tenant = uint32_t(ti);
      t.ops.push_back(sync);
    }
  };
  for (uint32_t req = 0; req < o.requests; ++req) {
    if (req > 0 && o.sync_requests) host_waits();
    for (size_t li = 0; li < most; ++li)
      for (size_t ti = 0; ti < models.size(); ++ti) {
        if (li >= plans[ti].size()) continue;
        const LayerKernel& lk = plans[ti][li];
        Kernel k = kernel_record(lk, uint32_t(ti), uint32_t(li), cost);
        if (req == 0) {
          k.cta_begin = first_cta[ti][li] = t.ctas.size();
          append_kernel_ranges(lk, k.cta_count, starts, workers, t);
        } else {
          k.cta_begin = first_cta[ti][li];
        }
        Op op;
        op.kind = OpKind::kKernel;
        op.tenant = uint32_t(ti);
        op.stream = uint32_t(ti);
        op.a = t.kernels.size();
        t.ops.push_back(op);
        t.kernels.push_back(std::move(k));
      }
  }
  host_waits();
  return t;
}

namespace {

bool is_recorded(const std::string& model) {
  return model.size() > 5 && model.compare(model.size() - 5, 5, ".uvmt") == 0;
}

Op prefetch_to_cpu(uint32_t tenant, uint32_t stream, uint64_t va, uint64_t bytes) {
  Op op;
  op.kind = OpKind::kPrefetch;
  op.device = -1;  // to the CPU
  op.tenant = tenant;
  op.stream = stream;
  op.a = va;
  op.b = bytes;
  return op;
}

struct RecordedTenant {
  std::vector<uint32_t> inference;  // the kernels of one inference (the warm_inference NVTX range)
  uint32_t stream = 0;
};

// A recorded model (a trace of one tenant, e.g. cuda_tracer/trace_torch.py's) as a serving tenant: its
// allocations moved to the tenant's own 1 TiB of addresses (2 MiB blocks kept), the ops before its
// warm_inference NVTX range (its setup and cold inference, host gaps dropped) issued at the start, and the
// kernels that range launched on its stream as the request template, at the recorded batch size. Each of
// its streams becomes one of the tenant's own (id kRecordedStream | tenant << 16 | stream).
RecordedTenant add_recorded_tenant(Trace& t, const ServingModel& sm, uint32_t tenant, uint32_t process,
                                   uint64_t base) {
  constexpr uint32_t kRecordedStream = 0x80000000u;
  Trace r = read_trace(sm.model);
  const std::string what = "serving: recorded model " + sm.model;
  if (r.tenants.size() != 1)
    throw ModelError(what + ": has " + std::to_string(r.tenants.size()) + " tenants, not one");
  if (sm.batches.size() != 1 || sm.batches[0] != r.tenants[0].batch)
    throw ModelError(what + ": runs at its recorded batch size only (batch_sizes [" +
                     std::to_string(r.tenants[0].batch) + "])");
  const NvtxRange* warm = nullptr;
  for (const NvtxRange& n : r.nvtx)
    if (n.name == "warm_inference") warm = &n;
  if (!warm) throw ModelError(what + ": no warm_inference NVTX range says which kernels are one inference");
  if (r.allocations.empty()) throw ModelError(what + ": no allocation");
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const Allocation& a : r.allocations) lo = std::min(lo, a.va), hi = std::max(hi, a.va + a.bytes);
  lo &= ~((uint64_t{2} << 20) - 1);
  if (hi - lo > kTenantStride) throw ModelError(what + ": its allocations span more than 1 TiB");
  const auto moved = [&](uint64_t va) { return va >= lo && va < hi ? va - lo + base : va; };
  for (Allocation a : r.allocations) {
    a.tenant = tenant;
    a.va = moved(a.va);
    a.alloc_ns = 0;
    a.free_ns = -1;  // a server keeps its memory
    t.allocations.push_back(a);
  }
  t.tenants.push_back({r.tenants[0].name, r.tenants[0].model, r.tenants[0].batch, process});
  // Kernels, CTAs and ranges, moved.
  const uint64_t cta0 = t.ctas.size(), range0 = t.ranges.size();
  const uint32_t kernel0 = uint32_t(t.kernels.size());
  const auto stream_of = [&](uint32_t s) { return kRecordedStream | tenant << 16 | (s & 0xffff); };
  for (Kernel k : r.kernels) {
    k.tenant = tenant;
    k.stream = stream_of(k.stream);
    k.cta_begin += cta0;
    t.kernels.push_back(std::move(k));
  }
  for (Cta c : r.ctas) {
    c.range_begin += range0;
    t.ctas.push_back(c);
  }
  for (Range g : r.ranges) {
    g.page = moved(g.page << kPageShift) >> kPageShift;
    t.ranges.push_back(g);
  }
  RecordedTenant out;
  bool in_warm = false;
  for (const Op& o : r.ops) {
    const bool warm_op = o.host_ns >= warm->start_ns && o.host_ns <= warm->end_ns;
    if (warm_op && o.kind == OpKind::kKernel &&
        (out.inference.empty() || stream_of(o.stream) == out.stream)) {
      if (out.inference.empty()) out.stream = stream_of(o.stream);
      out.inference.push_back(kernel0 + uint32_t(o.a));
    }
    in_warm |= warm_op;
    if (in_warm || o.kind == OpKind::kFree) continue;
    Op op = o;
    op.tenant = tenant;
    op.stream = stream_of(o.stream);
    op.host_ns = op.host_gap_ns = 0;
    if (op.kind == OpKind::kKernel) op.a += kernel0;
    if (op.kind == OpKind::kHostAccess || op.kind == OpKind::kPrefetch || op.kind == OpKind::kAdvise ||
        op.kind == OpKind::kMemset || op.kind == OpKind::kMemcpy)
      op.a = moved(op.a);
    if (op.kind == OpKind::kMemcpy) op.c = moved(op.c);
    t.ops.push_back(op);
  }
  if (out.inference.empty()) throw ModelError(what + ": its warm_inference range launches no kernel");
  return out;
}

}  // namespace

ServingTrace generate_serving(const std::vector<ServingModel>& tenants) {
  if (tenants.empty()) throw ModelError("serving: no tenant");
  uint64_t images = 0;
  bool any_shared = false;
  for (const ServingModel& sm : tenants) {
    if (sm.batches.empty()) throw ModelError("serving: tenant " + sm.model + " has no batch size");
    for (size_t i = 0; i < sm.batches.size(); ++i) {
      const uint32_t b = sm.batches[i];
      if (b == 0 || b > kMaxGenerateBatch)
        throw ModelError("serving: " + sm.model + " batch size " + std::to_string(b) + " outside 1.." +
                         std::to_string(kMaxGenerateBatch) + " (kMaxGenerateBatch)");
      if (i > 0 && b <= sm.batches[i - 1])
        throw ModelError("serving: " + sm.model + " batch sizes must be ascending and distinct");
      images += b;
    }
    any_shared |= !sm.own_process;
  }
  if (images > kMaxGenerateImages)
    throw ModelError("serving: " + std::to_string(images) +
                     " images (every tenant's batch sizes summed), beyond the generator's limit of " +
                     std::to_string(kMaxGenerateImages) +
                     " (kMaxGenerateImages: the trace holds one inference's accesses at each batch size)");
  ServingTrace out;
  Trace& t = out.trace;
  t.header = generated_header();
  t.header.command = "uvmsim serve";
  t.passes.push_back(
      {PassKind::kGenerated, 0,
       "workloads/ layer kernels, exact accesses from their schedules, one inference per tenant "
       "and batch size"});
  const CostModel cost = CostModel::h100();
  std::vector<Worker> workers;
  std::vector<Model> models(tenants.size());
  std::vector<uint64_t> act_bases(tenants.size());  // generated tenants' activations regions
  std::map<std::string, int> seen;                  // per model: tenants so far (names "resnet50#0", ...)
  uint32_t next_process = any_shared ? 1 : 0;
  out.kernels.resize(tenants.size());
  out.cold_ops.resize(tenants.size());
  std::vector<Op> cold;  // the cold tenants' prefetches to the CPU, placed after the issued ops
  for (size_t ti = 0; ti < tenants.size(); ++ti) {
    const ServingModel& sm = tenants[ti];
    const uint32_t tenant = uint32_t(ti), process = sm.own_process ? next_process++ : 0u;
    const uint64_t wb = kVaBase + ti * kTenantStride;
    if (is_recorded(sm.model)) {
      const RecordedTenant rec = add_recorded_tenant(t, sm, tenant, process, wb);
      out.kernels[ti].push_back(rec.inference);
      if (sm.cold)
        for (const Allocation& a : t.allocations)
          if (a.tenant == tenant && a.role == AllocRole::kWeight && a.kind == AllocKind::kManaged)
            cold.push_back(prefetch_to_cpu(tenant, rec.stream, a.va, a.bytes));
      continue;
    }
    models[ti] = load_model(sm.model);
    // As the native runtime allocates: one managed allocation for the weights and one for the input and
    // activations, at the largest batch; a smaller batch's tensors lie at their own offsets inside them.
    const Model& m = models[ti];
    const std::string name = m.name + "#" + std::to_string(seen[m.name]++);
    t.tenants.push_back({name, m.name, sm.batches.back(), process});
    const TenantLayout lay = layout_tenant(m, sm.batches.back());
    const uint64_t ab = act_bases[ti] = activations_base(wb, lay.weights_bytes);
    if (lay.weights_bytes > 0)
      t.allocations.push_back(
          {tenant, AllocKind::kManaged, AllocRole::kWeight, wb, lay.weights_bytes, 0, -1, name + ".weights"});
    t.allocations.push_back({tenant, AllocKind::kManaged, AllocRole::kActivation, ab, lay.activations_bytes,
                             0, -1, name + ".activations"});
    // The CPU initialises the weights and the input.
    if (lay.weights_bytes > 0) t.ops.push_back(host_write(tenant, wb, lay.weights_bytes));
    if (lay.tensors[lay.input].bytes > 0)
      t.ops.push_back(host_write(tenant, lay.address(lay.input, wb, ab), lay.tensors[lay.input].bytes));
    if (sm.cold && lay.weights_bytes > 0)
      cold.push_back(prefetch_to_cpu(tenant, tenant, wb, lay.weights_bytes));
  }
  const std::vector<uint64_t> starts = allocation_starts(t);
  out.issued_ops = t.ops.size();
  for (const Op& op : cold) {
    out.cold_ops[op.tenant].push_back(uint32_t(t.ops.size()));
    t.ops.push_back(op);
  }
  for (size_t ti = 0; ti < tenants.size(); ++ti) {
    if (is_recorded(tenants[ti].model)) continue;
    const Model& m = models[ti];
    for (uint32_t b : tenants[ti].batches) {
      const TenantLayout lay = layout_tenant(m, b);
      std::vector<uint32_t>& ks = out.kernels[ti].emplace_back();
      for (size_t li = 0; li < m.layers.size(); ++li) {
        const LayerKernel lk = layer_kernel(m, lay, li, b, kVaBase + ti * kTenantStride, act_bases[ti]);
        Kernel k = kernel_record(lk, uint32_t(ti), uint32_t(li), cost);
        k.cta_begin = t.ctas.size();
        append_kernel_ranges(lk, k.cta_count, starts, workers, t);
        ks.push_back(uint32_t(t.kernels.size()));
        t.kernels.push_back(std::move(k));
      }
    }
  }
  return out;
}

namespace {

// (region, page offset) of a page: regions are the tenant's weights and activations, numbered 2 tenant +
// (0 weights, 1 activations); `bases` gives each region's first page.
struct RegionMap {
  std::vector<std::pair<uint64_t, uint64_t>> spans;  // (first page, end page) per region
  std::pair<uint64_t, uint64_t> locate(uint64_t page) const {
    for (size_t r = 0; r < spans.size(); ++r)
      if (page >= spans[r].first && page < spans[r].second) return {r, page - spans[r].first};
    return {UINT64_MAX, page};
  }
};

RegionMap regions_of_generated(const Trace& t) {
  RegionMap m;
  m.spans.assign(2 * t.tenants.size(), {UINT64_MAX, 0});
  for (const Allocation& a : t.allocations) {
    auto& s = m.spans[2 * a.tenant + (a.role == AllocRole::kWeight ? 0 : 1)];
    s.first = std::min(s.first, a.va >> kPageShift);
    s.second = std::max(s.second, ((a.va + a.bytes - 1) >> kPageShift) + 1);
  }
  return m;
}

// The recording's managed allocations in order: weights and activations of each tenant in turn.
RegionMap regions_of_recorded(const Trace& t) {
  RegionMap m;
  for (const Allocation& a : t.allocations)
    if (a.kind == AllocKind::kManaged) {
      if (a.va % kPageBytes) throw std::invalid_argument("recorded region " + a.name + " is not page aligned");
      m.spans.emplace_back(a.va >> kPageShift, ((a.va + a.bytes - 1) >> kPageShift) + 1);
    }
  return m;
}

}  // namespace

ClosedLoop compare_with_recording(const Trace& g, const Trace& r) {
  if (g.kernels.size() != r.kernels.size())
    throw std::invalid_argument("the generated trace has " + std::to_string(g.kernels.size()) + " kernels, the recording " +
                                std::to_string(r.kernels.size()));
  const RegionMap gm = regions_of_generated(g), rm = regions_of_recorded(r);
  ClosedLoop out;
  double sum = 0;
  using Key = std::pair<uint64_t, uint64_t>;
  struct Use {
    uint16_t b, e;
    AccessKind k;
  };
  auto pages_of = [](const Trace& t, const Kernel& k, uint64_t c, const RegionMap& m) {
    std::map<Key, Use> v;
    const Cta& cta = t.ctas[k.cta_begin + c];
    for (uint64_t i = cta.range_begin; i < cta.range_begin + cta.range_count; ++i)
      for (uint32_t p = 0; p < t.ranges[i].count; ++p)
        v[m.locate(t.ranges[i].page + p)] = {t.ranges[i].t_begin, t.ranges[i].t_end, t.ranges[i].kind};
    return v;
  };
  for (size_t ki = 0; ki < g.kernels.size(); ++ki) {
    const Kernel &gk = g.kernels[ki], &rk = r.kernels[ki];
    if (gk.name != rk.name || gk.grid != rk.grid || gk.block != rk.block)
      throw std::invalid_argument("kernel " + std::to_string(ki) + " differs: generated " + gk.name + " against recorded " +
                                  rk.name);
    ++out.kernels;
    for (uint64_t c = 0; c < gk.cta_count; ++c) {
      const auto a = pages_of(g, gk, c, gm), b = pages_of(r, rk, c, rm);
      uint64_t common = 0;
      for (const auto& [key, use] : a) {
        auto it = b.find(key);
        if (it == b.end()) continue;
        ++common;
        if (use.b != it->second.b || use.e != it->second.e || use.k != it->second.k) {
          ++out.pages_other_use;
          if (out.first_mismatch.empty())
            out.first_mismatch = "kernel " + std::to_string(ki) + " CTA " + std::to_string(c) + " region " +
                                 std::to_string(key.first) + " page " + std::to_string(key.second);
        }
      }
      const uint64_t uni = a.size() + b.size() - common;
      const double j = uni ? double(common) / double(uni) : 1.0;
      if (j < 1.0 && out.first_mismatch.empty())
        out.first_mismatch = "kernel " + std::to_string(ki) + " CTA " + std::to_string(c) + ": page sets differ";
      out.min_jaccard = std::min(out.min_jaccard, j);
      out.ctas_below_099 += j < 0.99;
      sum += j;
      out.pages += a.size();
      ++out.ctas;
    }
  }
  out.mean_jaccard = out.ctas ? sum / double(out.ctas) : 1.0;
  std::vector<double> errs;
  for (size_t ki = 0; ki < g.kernels.size(); ++ki) {
    const double gen = double(g.kernels[ki].resident_ns), rec = double(r.kernels[ki].resident_ns);
    out.generated_ms += gen / 1e6, out.recorded_ms += rec / 1e6;
    if (rec <= 0) continue;  // a recording without a resident pass
    const double e = std::abs(gen - rec) / rec;
    errs.push_back(e);
    out.kernels_over_20pct += e > 0.2;
    if (e > out.time_error_worst) {
      const std::string& name = g.kernels[ki].name;
      out.time_error_worst = e;
      out.worst_time_kernel = "kernel " + std::to_string(ki) + " " + name.substr(0, name.find('('));
    }
  }
  if (!errs.empty()) {
    std::sort(errs.begin(), errs.end());
    out.time_error_median = errs[errs.size() / 2];
  }
  return out;
}

CostModel CostModel::h100() {
  CostModel m;
  // fit_cost_model on traces/corpus/runtime_*_b1 and _b8 (the five models; tests/unit/workloads re-fits),
  // whose resident times are the median of 3 runs on one H100 (uvmsim trace retime, GPU-6f7b0be9).
  m.conv_latency = {7237.4960, 2896.0805};
  m.conv_throughput = {9872.2377, 1244.3804, 1196.9284};
  m.coef = {{{0, 0, 0},
             {8101.0484, 0, 1299.2406},         // dwconv
             {0, 590.7206, 1577.0972},          // max pool
             {553.5021, 1439.5119, 3184.0324},  // adaptive average pool
             {0, 650.8820, 529.4226},           // relu, relu6
             {1454.7881, 0, 562.5314},          // add
             {0, 518.6272, 710.1897},           // batch norm
             {3464.1720, 0, 185.8263}}};        // softmax
  return m;
}

CostModel::Class cost_class(const LayerKernel& k) {
  switch (k.kind) {
    case LayerKernel::Kind::kConv:
      return CostModel::kConv;
    case LayerKernel::Kind::kDwConv:
      return CostModel::kDwConv;
    case LayerKernel::Kind::kPool:
      return k.pool.adaptive_avg ? CostModel::kAvgPool : CostModel::kMaxPool;
    case LayerKernel::Kind::kSoftmax:
      return CostModel::kSoftmax;
    case LayerKernel::Kind::kEltwise:
      break;
  }
  return k.eltwise == kernels::Eltwise::kAdd         ? CostModel::kAdd
         : k.eltwise == kernels::Eltwise::kBatchNorm ? CostModel::kBatchNorm
                                                     : CostModel::kRelu;
}

namespace {

constexpr double kSms = 132;  // H100 SXM

// The features of each part of the formulas (CostModel's comment).
std::array<double, 2> conv_latency_features(const LayerKernel& k) { return {1, double(k.conv.chunks())}; }
std::array<double, 3> conv_throughput_features(const LayerKernel& k) {
  const double n = double(k.ctas()) / kSms;
  return {1, n * double(k.conv.chunks()), n};
}
std::array<double, 3> linear_features(const LayerKernel& k) {
  const double p = k.positions();
  return {1, p, double(k.ctas()) * p / 1000};
}

template <size_t N>
double dot(const std::array<double, N>& c, const std::array<double, N>& x) {
  double s = 0;
  for (size_t i = 0; i < N; ++i) s += c[i] * x[i];
  return s;
}

// Non-negative least squares of sum ((c . x_i) / y_i - 1)^2 (relative errors), by trying every subset of
// free coefficients (N <= 3: at most 7 small solves) and keeping the best with no negative coefficient.
template <size_t N>
std::array<double, N> fit_relative(const std::vector<std::pair<std::array<double, N>, double>>& rows) {
  std::array<double, N> best{};
  double best_res = -1;
  for (uint32_t mask = 1; mask < (1u << N); ++mask) {
    std::vector<size_t> free;
    for (size_t i = 0; i < N; ++i)
      if (mask >> i & 1) free.push_back(i);
    const size_t m = free.size();
    std::vector<std::vector<double>> a(m, std::vector<double>(m + 1, 0.0));  // normal equations, augmented
    for (const auto& [x, y] : rows)
      for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < m; ++j) a[i][j] += x[free[i]] * x[free[j]] / (y * y);
        a[i][m] += x[free[i]] / y;
      }
    bool ok = true;
    for (size_t i = 0; i < m && ok; ++i) {  // Gauss-Jordan with partial pivoting
      size_t piv = i;
      for (size_t r = i + 1; r < m; ++r)
        if (std::abs(a[r][i]) > std::abs(a[piv][i])) piv = r;
      ok = std::abs(a[piv][i]) > 1e-300;
      if (!ok) break;
      std::swap(a[i], a[piv]);
      for (size_t r = 0; r < m; ++r) {
        if (r == i) continue;
        const double f = a[r][i] / a[i][i];
        for (size_t c = i; c <= m; ++c) a[r][c] -= f * a[i][c];
      }
    }
    if (!ok) continue;
    std::array<double, N> c{};
    for (size_t i = 0; i < m; ++i) {
      c[free[i]] = a[i][m] / a[i][i];
      ok = ok && c[free[i]] >= 0;
    }
    if (!ok) continue;
    double res = 0;
    for (const auto& [x, y] : rows) res += (dot(c, x) / y - 1) * (dot(c, x) / y - 1);
    if (best_res < 0 || res < best_res) best = c, best_res = res;
  }
  return best;
}

}  // namespace

uint64_t CostModel::predict(const LayerKernel& k) const {
  const Class c = cost_class(k);
  const double ns = c == kConv ? std::max(dot(conv_latency, conv_latency_features(k)),
                                          dot(conv_throughput, conv_throughput_features(k)))
                               : dot(coef[c], linear_features(k));
  return uint64_t(std::max(1000.0, std::round(ns)));
}

CostModel fit_cost_model(const std::vector<std::pair<LayerKernel, uint64_t>>& samples) {
  if (samples.empty()) throw std::invalid_argument("fit_cost_model: no samples");
  CostModel m;
  for (size_t cls = 0; cls < CostModel::kClasses; ++cls) {
    if (cls == CostModel::kConv) continue;
    std::vector<std::pair<std::array<double, 3>, double>> rows;
    for (const auto& [k, ns] : samples)
      if (cost_class(k) == cls && ns > 0) rows.push_back({linear_features(k), double(ns)});
    if (!rows.empty()) m.coef[cls] = fit_relative(rows);
  }
  // Conv: a hinge of two lines. Start with the kernels of more than 1.5 CTAs per SM throughput bound; refit
  // each regime on its samples and move each sample to the regime that predicts more, until none moves.
  std::vector<const std::pair<LayerKernel, uint64_t>*> conv;
  for (const auto& s : samples)
    if (cost_class(s.first) == CostModel::kConv && s.second > 0) conv.push_back(&s);
  std::vector<bool> bound(conv.size());
  for (size_t i = 0; i < conv.size(); ++i) bound[i] = double(conv[i]->first.ctas()) / kSms > 1.5;
  for (int round = 0; round < 100; ++round) {
    std::vector<std::pair<std::array<double, 2>, double>> lat;
    std::vector<std::pair<std::array<double, 3>, double>> thr;
    for (size_t i = 0; i < conv.size(); ++i) {
      if (bound[i])
        thr.push_back({conv_throughput_features(conv[i]->first), double(conv[i]->second)});
      else
        lat.push_back({conv_latency_features(conv[i]->first), double(conv[i]->second)});
    }
    if (!lat.empty()) m.conv_latency = fit_relative(lat);
    if (!thr.empty()) m.conv_throughput = fit_relative(thr);
    bool moved = false;
    for (size_t i = 0; i < conv.size(); ++i) {
      const bool b = dot(m.conv_throughput, conv_throughput_features(conv[i]->first)) >
                     dot(m.conv_latency, conv_latency_features(conv[i]->first));
      moved = moved || b != bound[i];
      bound[i] = b;
    }
    if (!moved) break;
  }
  return m;
}

std::vector<std::pair<LayerKernel, uint64_t>> recorded_costs(const Trace& rec, const std::string& name, uint32_t batch) {
  const Model m = load_model(name);
  const TenantLayout lay = layout_tenant(m, batch);
  if (rec.kernels.size() != m.layers.size())
    throw std::invalid_argument("the recording has " + std::to_string(rec.kernels.size()) + " kernels, " + name + " " +
                                std::to_string(m.layers.size()) + " layers");
  std::vector<std::pair<LayerKernel, uint64_t>> out;
  for (size_t li = 0; li < m.layers.size(); ++li)
    out.emplace_back(layer_kernel(m, lay, li, batch, 0, 0), rec.kernels[li].resident_ns);
  return out;
}

SubBatchKernels add_sub_batches(ServingTrace& st, const std::vector<ServingModel>& tenants) {
  trace::Trace& t = st.trace;
  SubBatchKernels sub(tenants.size());
  for (size_t ti = 0; ti < tenants.size() && ti < st.kernels.size(); ++ti) {
    const auto& variants = st.kernels[ti];
    const std::vector<uint32_t>& sizes = tenants[ti].batches;
    sub[ti].resize(variants.size());
    if (variants.size() != sizes.size()) continue;  // a recorded tenant: one inference
    bool aligned = true;
    for (const auto& ks : variants) aligned &= ks.size() == variants.front().size();
    if (!aligned) continue;
    for (size_t v = 0; v < variants.size(); ++v) {
      sub[ti][v].resize(variants[v].size(), std::vector<std::vector<uint32_t>>(sizes.size()));
      for (size_t l = 0; l < variants[v].size(); ++l) {
        for (size_t sz = 0; sz < v; ++sz) {
          if (sizes[v] % sizes[sz] != 0) continue;
          const uint32_t parts = sizes[v] / sizes[sz];
          const trace::Kernel whole = t.kernels[variants[v][l]];
          const uint64_t small_ns = t.kernels[variants[sz][l]].resident_ns;
          const uint32_t gx = whole.grid[0], gy = whole.grid[1], gz = whole.grid[2];
          for (uint32_t j = 0; j < parts; ++j) {
            const uint32_t x0 = uint32_t(uint64_t(j) * gx / parts),
                           x1 = uint32_t(uint64_t(j + 1) * gx / parts);
            if (x1 == x0) continue;
            trace::Kernel k = whole;
            k.name = whole.name + " [" + std::to_string(j + 1) + "/" + std::to_string(parts) + "]";
            k.grid = {x1 - x0, gy, gz};
            k.cta_begin = t.ctas.size();
            k.cta_count = uint64_t(x1 - x0) * gy * gz;
            for (uint32_t z = 0; z < gz; ++z)
              for (uint32_t y = 0; y < gy; ++y)
                for (uint32_t x = x0; x < x1; ++x) {
                  const trace::Cta c = t.ctas[whole.cta_begin + x + uint64_t(gx) * (y + uint64_t(gy) * z)];
                  t.ctas.push_back(c);
                }
            k.resident_ns = uint64_t(double(small_ns) * double(parts) * double(x1 - x0) / double(gx));
            sub[ti][v][l][sz].push_back(uint32_t(t.kernels.size()));
            t.kernels.push_back(std::move(k));
          }
        }
      }
    }
  }
  return sub;
}

}  // namespace uvmsim
