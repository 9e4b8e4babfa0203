// Fixed-size batching with a timeout, as in static batching servers (e.g. TensorFlow Serving's
// max_batch_size and batch_timeout_micros): a batch of `batch_size` runs as soon as that many requests are
// queued and the tenant is idle; when the oldest queued request has waited `timeout_ns`, whatever is queued
// runs (the largest allowed size not above it).
#include <algorithm>

#include "policies/batching/batching_policy.h"

namespace uvmsim {
namespace {

class Fixed final : public BatchingPolicy {
 public:
  Fixed(uint32_t size, int64_t timeout) : size_(size), timeout_(timeout) {}
  BatchDecision decide(const BatchQueueView& v) override {
    if (v.busy || v.queued == 0) return {};
    uint32_t want = std::min(size_, v.queued);
    if (want < size_ && v.now < v.oldest_arrival_ns + timeout_) return {0, v.oldest_arrival_ns + timeout_};
    // The largest allowed size not above what is wanted; the smallest allowed one if none is.
    uint32_t pick = 0;
    for (uint32_t s : v.sizes)
      if (s <= want) pick = s;
    if (pick == 0 && !v.sizes.empty() && v.sizes.front() <= v.queued) pick = v.sizes.front();
    if (v.sizes.empty()) pick = want;
    return {pick, -1};
  }

 private:
  uint32_t size_;
  int64_t timeout_;
};

const BatchingRegistrar kReg(
    {"fixed",
     "a batch of batch_size requests, or what is queued once the oldest has waited timeout_ns",
     {{"batch_size", ParamType::kInt, "requests", 1, 65536, 1, "requests per batch"},
      {"timeout_ns", ParamType::kInt, "ns", 0, 1e15, 0,
       "longest a queued request waits for its batch to fill before a smaller batch runs"}},
     [](const PolicyParams& p, const BatchingContext&) {
       return std::make_unique<Fixed>(uint32_t(p.get_int("batch_size")), p.get_int("timeout_ns"));
     }});

}  // namespace
}  // namespace uvmsim
