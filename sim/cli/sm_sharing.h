// `uvmsim sm-sharing`: the SM-sharing model (sim/gpu/sm_share.h) against the H200's measurements of kernels
// on SM partitions (green contexts), with a CTA limit per SM, and two at once on shared SMs
// (cuda_tracer/sm_share.sh). Each case is simulated from the kernels' whole-GPU resident times, launch
// shapes and what a profile of those runs measured (DRAM bytes, issue share, warps, stalls:
// cuda_tracer/ncu_profile.py's lines, read like the recordings) only. Kernels are split in two halves by
// name: the fit (--fit) moves the model's two gpu.* loads on the alone cases of the first half (the
// bandwidths are the config's, measured by cuda_tracer/mem_latency.sh); the
// report shows the error on both halves, on the pairs, of the model given no profiles and of CTA slots as
// whole processors (the engine before the model) for comparison. With --memory-curve the report also
// gives the memory side's error on its own microbenchmark for DRAM saturation exponents around the
// config's, and --fit takes the exponent with the least error there.
#pragma once

#include <string>
#include <vector>

namespace uvmsim {

struct SmSharingArgs {
  std::vector<std::string> recordings;  // sm_share_h200.jsonl, sm_share_torch_h200.jsonl
  std::string config, out, report;
  std::string
      memory_curve;  // mem_latency_h200.jsonl (cuda_tracer/mem_latency.sh): the memory side's own check
  bool fit = false;
  int iterations = 60;
  int jobs = 2;
};

int run_sm_sharing(const SmSharingArgs& a);

}  // namespace uvmsim
