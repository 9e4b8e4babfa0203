// The native multi-model runtime: runs several models at once, one CUDA stream per model, every tensor in
// managed memory (per model one cudaMallocManaged region for its weights and one for its input and
// activations, tensors 4 KiB aligned: workloads/layout.h), with workloads/'s layer kernels, at any batch.
// The CPU initialises weights (deterministic) and inputs, so the first inference migrates them on demand.
// `uvmsim generate --models` with the same list describes exactly these accesses.
//   uvm_runtime --models resnet50:8,vgg16:1 [--sms 48,84] [--iters N] [--checksum]
// --sms gives each model, in order, the SMs its kernels may use: 0 for the whole GPU (shared with every other
// model), else its own green context on SMs no other model's partition has (cuda_tracer/src/green_context.h,
// the launcher the recording programs share; the H200 hands SMs out in steps of 8, and the last partition
// takes what is left if it asks for at least that).
// Prints one JSON line: the models, the SMs each got, the bytes of managed memory, and each iteration's wall time; with
// --checksum also each model's output summed (weighted by position) on the CPU after the last iteration
// (which migrates the outputs back, so recordings leave it off): a model gives the same sums alone and in any
// mix.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_tracer/src/green_context.h"
#include "workloads/layout.h"
#include "workloads/tenant_memory.cuh"

using namespace uvmsim;

namespace {

#define CK(x) UVMSIM_CUDA_CHECK("uvm_runtime", x)

struct Tenant {
  Model model;
  uint32_t batch = 1;
  TenantLayout layout;
  TenantMemory mem;
  cudaStream_t stream = nullptr;
  bool partitioned = false;  // its stream is a green context's (--sms), kept with it
};

}  // namespace

int main(int argc, char** argv) {
  std::string list, sm_list;
  int iters = 1;
  bool checksum = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--models") && i + 1 < argc) {
      list = argv[++i];
    } else if (!std::strcmp(argv[i], "--sms") && i + 1 < argc) {
      sm_list = argv[++i];
    } else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--checksum")) {
      checksum = true;
    } else {
      std::fprintf(
          stderr,
          "usage: uvm_runtime --models name:batch,... [--sms n,...] [--iters N] [--checksum] (unknown argument "
          "'%s')\n",
          argv[i]);
      return 2;
    }
  }
  if (list.empty() || iters < 1) {
    std::fprintf(stderr, "usage: uvm_runtime --models name:batch,... [--sms n,...] [--iters N] [--checksum]\n");
    return 2;
  }
  std::vector<unsigned> sms;  // per model: SMs asked for, 0 for the whole GPU
  for (size_t at = 0; !sm_list.empty() && at <= sm_list.size();) {
    const size_t comma = std::min(sm_list.find(',', at), sm_list.size());
    const std::string item = sm_list.substr(at, comma - at);
    char* end = nullptr;
    const unsigned long n = std::strtoul(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || n > 100000) {
      std::fprintf(stderr, "uvm_runtime: --sms: '%s' is not a count of SMs\n", item.c_str());
      return 2;
    }
    sms.push_back(unsigned(n));
    at = comma + 1;
  }
  std::vector<Tenant> tenants;
  try {
    for (const auto& [name, batch] : parse_model_list(list)) {
      Tenant t;
      t.model = load_model(name);
      t.batch = batch;
      t.layout = layout_tenant(t.model, t.batch);
      tenants.push_back(std::move(t));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uvm_runtime: %s\n", e.what());
    return 2;
  }
  if (!sms.empty() && sms.size() != tenants.size()) {
    std::fprintf(stderr, "uvm_runtime: --sms gives %zu counts for %zu models\n", sms.size(), tenants.size());
    return 2;
  }
  uint64_t need = 0;
  for (auto& t : tenants) need += t.layout.weights_bytes + t.layout.activations_bytes;
  if (!managed_fits(need, "uvm_runtime")) return 3;
  for (auto& t : tenants) t.mem = make_tenant_memory(t.model, t.layout, "uvm_runtime");
  // Streams: a model with an SM count gets its own green context (disjoint from the others'), the rest a
  // stream of the primary context (the whole GPU).
  std::vector<unsigned> wants;
  for (unsigned n : sms)
    if (n > 0) wants.push_back(n);
  std::vector<uvmtrace::SmPartition> parts;
  if (!wants.empty()) parts = uvmtrace::SmPartition::split(0, wants);
  int total_sms = 0;
  CK(cudaDeviceGetAttribute(&total_sms, cudaDevAttrMultiProcessorCount, 0));
  std::vector<unsigned> got(tenants.size(), unsigned(total_sms));
  for (size_t ti = 0, pi = 0; ti < tenants.size(); ++ti) {
    tenants[ti].partitioned = ti < sms.size() && sms[ti] > 0;
    if (tenants[ti].partitioned) {
      tenants[ti].stream = parts[pi].stream();
      got[ti] = parts[pi++].sms();
    } else {
      CK(cudaStreamCreateWithFlags(&tenants[ti].stream, cudaStreamNonBlocking));
    }
  }
  std::vector<std::vector<LayerKernel>> plans(tenants.size());
  size_t most = 0;
  for (size_t ti = 0; ti < tenants.size(); ++ti) {
    Tenant& t = tenants[ti];
    for (size_t li = 0; li < t.model.layers.size(); ++li)
      plans[ti].push_back(
          layer_kernel(t.model, t.layout, li, t.batch, uint64_t(t.mem.weights), uint64_t(t.mem.activations)));
    most = std::max(most, plans[ti].size());
  }
  std::vector<double> ms;
  for (int it = 0; it < iters; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t li = 0; li < most; ++li)  // one layer of each model in turn, as the generator orders them
      for (size_t ti = 0; ti < tenants.size(); ++ti)
        if (li < plans[ti].size()) launch_layer(plans[ti][li], tenants[ti].mem.spill, tenants[ti].stream);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("{\"program\": \"uvm_runtime\", \"models\": \"%s\", \"sms\": [", list.c_str());
  for (size_t ti = 0; ti < got.size(); ++ti) std::printf("%s%u", ti ? ", " : "", got[ti]);
  std::printf("], \"managed_bytes\": %llu, \"iter_ms\": [", (unsigned long long)need);
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.3f", i ? ", " : "", ms[i]);
  std::printf("]");
  if (checksum) {
    std::printf(", \"checksums\": [");
    for (size_t ti = 0; ti < tenants.size(); ++ti) {
      const Tenant& t = tenants[ti];
      const size_t o = t.layout.out.back();
      const float* p =
          reinterpret_cast<const float*>(t.layout.address(o, uint64_t(t.mem.weights), uint64_t(t.mem.activations)));
      double sum = 0;
      for (uint64_t j = 0; j < t.layout.tensors[o].bytes / 4; ++j)
        sum += p[j] * double(j % 97 + 1);  // softmax rows sum to 1
      std::printf("%s%.9g", ti ? ", " : "", sum);
    }
    std::printf("]");
  }
  std::printf("}\n");
  for (auto& t : tenants) {
    free_tenant_memory(t.mem, "uvm_runtime");
    if (!t.partitioned) CK(cudaStreamDestroy(t.stream));
  }
  return 0;
}
