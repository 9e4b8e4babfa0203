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
  bool processes = false;  // each model in its own process (CUDA context): time-sliced unless under MPS
  bool sync_requests = false;  // the host waits for the GPU after each request (uvm_runtime's iterations)
};

// The generator's limits: a trace holds every CTA's accesses of one inference of each model (later
// requests launch the first's kernels as templates), so its memory grows with the images of one request
// (the sum over models of the batch): VGG16 at batch 64 takes about 3 GB to generate; each request adds a
// kernel record and an op per layer. Beyond these, generate_models throws ModelError naming the limit.
constexpr uint32_t kMaxGenerateBatch = 128;
constexpr uint64_t kMaxGenerateImages = 256;
constexpr uint32_t kMaxGenerateRequests = 65536;

trace::Trace generate_models(const GenerateOptions& options);

// A serving workload (`uvmsim serve`): each tenant's model with the batch sizes it may run. The trace holds
// each tenant's tensors once, allocated for its largest batch as the native runtime allocates them (one
// managed allocation for the weights, one for the input and activations; the CPU initialises the weights
// and the input),
// and one inference's kernels at every batch size, whose CTAs and accesses are stored once and launched by
// every batch of that size; no kernel op: the server launches them as requests arrive.
struct ServingModel {
  std::string model;              // a built-in name, a spec path, or a recorded trace of one tenant (.uvmt)
  std::vector<uint32_t> batches;  // ascending, distinct, 1..kMaxGenerateBatch
  bool own_process = false;       // its own process (CUDA context), else a stream of the shared process 0
  bool cold = false;  // an op moving its weights to the CPU, for the server to run before each batch
};
struct ServingTrace {
  trace::Trace trace;
  // Per tenant and batch size (in the order given): the kernels one inference at that batch launches.
  std::vector<std::vector<std::vector<uint32_t>>> kernels;
  // Per tenant: the ops prefetching its weights to the CPU (cold tenants; else none). Such ops follow the
  // ops the tenants' processes issue at the start (the first `issued_ops`), and only the server runs them.
  std::vector<std::vector<uint32_t>> cold_ops;
  size_t issued_ops = 0;
};
// Throws ModelError naming the tenant for a bad batch size or an unknown model.
ServingTrace generate_serving(const std::vector<ServingModel>& tenants);

// Per-layer sub-batches, for batching policies that run a batch's layers in smaller pieces
// (per_layer_batch): sub[t][v][l][s] are the kernels that run layer position l of tenant t's inference at
// its batch size v as sizes[v] / sizes[s] sub-batches of sizes[s] (empty unless sizes[s] < sizes[v] divides
// it, and for recorded tenants). Sub-batch j is the CTAs of the layer's kernel at sizes[v] whose x index
// lies in the j-th of those equal parts of the grid's x extent, over all y and z (conv: output pixel tiles,
// batch-major, so a sub-batch is its share of the output pixels, tiles straddling two samples; the other
// layers: their 1-D grids over batch-major outputs), in their own launch order, sharing the kernel's
// accesses; each with the resident time of the layer's kernel at sizes[s] times its share of the CTAs of
// the sub-batches. Appends the kernels and their CTA records to st.trace.
using SubBatchKernels = std::vector<std::vector<std::vector<std::vector<std::vector<uint32_t>>>>>;
SubBatchKernels add_sub_batches(ServingTrace& st, const std::vector<ServingModel>& tenants);

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

// Per-layer compute time with data resident, per cost class (the kernel kind; pooling split into max and
// adaptive average, element-wise into ReLU/ReLU6, add and batch norm). Every thread of these kernels walks
// its accesses in order, each waiting for the last (volatile PTX), so a kernel is either latency bound (a
// chain of `positions` memory round trips, the CTAs of one SM overlapping) or throughput bound (the SMs'
// memory pipes full, time growing with CTAs x positions):
//   conv     ns = max(L0 + L1 x chunks, T0 + n x (T1 x chunks + T2)), n = CTAs / 132 SMs, chunks = K / 8
//            (each chunk: four loads, two barriers, 128 FMAs per thread; then a 32-access epilogue)
//   others   ns = a + b x positions + c x CTAs x positions / 1000
// Few constants, fitted by fit_cost_model on recordings of uvm_runtime at batch 1 and 8 (relative least
// squares, non-negative; conv as a hinge: each sample in the regime that predicts more, refitted until the
// regimes settle); batch 4 is held out (workloads/README.md gives the errors; a test re-fits and checks).
struct CostModel {
  enum Class : uint8_t { kConv, kDwConv, kMaxPool, kAvgPool, kRelu, kAdd, kBatchNorm, kSoftmax, kClasses };
  std::array<double, 2> conv_latency{};     // L0 (ns), L1 (ns per chunk)
  std::array<double, 3> conv_throughput{};  // T0 (ns), T1 (ns per chunk per CTA/SM), T2 (ns per CTA/SM)
  std::array<std::array<double, 3>, kClasses> coef{};  // a, b, c of the other classes (coef[kConv] unused)
  uint64_t predict(const LayerKernel& k) const;
  static CostModel h100();
};
CostModel::Class cost_class(const LayerKernel& k);
// Relative least squares over (kernel, measured resident ns) samples. Throws std::invalid_argument when
// there are no samples.
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
  // Compute times: each kernel's generated resident_ns (the cost model) against the recorded one.
  double time_error_median = 0, time_error_worst = 0;  // |generated - recorded| / recorded
  uint64_t kernels_over_20pct = 0;
  std::string worst_time_kernel;
  double generated_ms = 0, recorded_ms = 0;  // sums over the kernels
};
// Throws std::invalid_argument when the traces do not describe the same kernels.
ClosedLoop compare_with_recording(const trace::Trace& generated, const trace::Trace& recorded);

}  // namespace uvmsim
