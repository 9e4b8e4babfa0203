// The trace generator for model mixes: `uvmsim generate --models resnet50:8,vgg16:1 --out T` writes the
// exact per-CTA page accesses of workloads/'s layer kernels (from their schedules, kernels/schedule.h, not
// guessed), the tensors as allocations with their roles, and each kernel's compute time from the
// per-layer cost model. Tensor layout, kernels and launch order are those of the native runtime.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "traces/trace.h"
#include "workloads/layout.h"

namespace uvmsim {

struct GenerateOptions {
  std::vector<std::pair<std::string, uint32_t>> models;  // (model name or spec path, batch)
  uint32_t requests = 1;                                  // inferences per model, back to back
};

trace::Trace generate_models(const GenerateOptions& options);

struct PageUse {
  uint64_t page = 0;
  uint32_t first = 0, last = 0;
  bool write = false;
  bool operator==(const PageUse&) const = default;
};

// The pages one CTA touches with their first and last position, sorted by page: fast, from the schedule's
// structure (what tests compare with `cta_uses_by_thread`, the same from every thread's every access).
std::vector<PageUse> cta_uses(const LayerKernel& k, uint64_t cta);
std::vector<PageUse> cta_uses_by_thread(const LayerKernel& k, uint64_t cta);

// Per-layer compute time with data resident: ns = a + b x, x = waves x positions, per kernel kind
// (conv, dwconv, pool, eltwise, softmax): every thread walks `positions` dependent accesses (the kernels
// order them), so a kernel's time is its waves of CTAs times that chain. waves = ceil(CTAs / (132 SMs x
// the CTAs an SM holds at the kernel's registers and shared memory)).
struct CostModel {
  std::array<std::array<double, 2>, 5> coef{};  // per LayerKernel::Kind: a (ns), b (ns per wave-position)
  uint64_t predict(const LayerKernel& k) const;
  // Fitted on the H100 by fit_cost_model on the corpus's batch-1 recordings of uvm_runtime (see
  // workloads/README.md; a test re-fits them).
  static CostModel h100();
};
double cost_feature(const LayerKernel& k);
// Least squares per kind over (kernel, measured resident ns) samples.
CostModel fit_cost_model(const std::vector<std::pair<LayerKernel, uint64_t>>& samples);
// A recording of `uvm_runtime --models M:B` (one model): each kernel with its recorded resident duration.
std::vector<std::pair<LayerKernel, uint64_t>> recorded_costs(const trace::Trace& recorded, const std::string& model,
                                                             uint32_t batch);

// The closed loop: a generated trace against a recording of the native runtime running the same models
// (cuda_tracer, workloads/record_runtime.sh). Pages are compared as (region, page offset) — per tenant,
// the weights region and the activations region, each one managed allocation in the recording — so the
// two address spaces need not agree. Per CTA: the Jaccard index of the page sets, and whether each common
// page has the same first and last use (on the 1/64 grid) and kind, which also fixes the first-touch order.
struct ClosedLoop {
  uint64_t kernels = 0, ctas = 0, pages = 0;
  double min_jaccard = 1.0, mean_jaccard = 1.0;
  uint64_t ctas_below_099 = 0;
  uint64_t pages_other_use = 0;  // common pages whose interval or kind differs
  std::string first_mismatch;    // where the first difference is, if any
};
// Throws std::invalid_argument when the traces do not describe the same kernels.
ClosedLoop compare_with_recording(const trace::Trace& generated, const trace::Trace& recorded);

}  // namespace uvmsim
