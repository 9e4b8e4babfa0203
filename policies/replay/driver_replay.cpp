// The four replay policies of the real driver (uvm_gpu_replayable_faults.c,
// uvm_perf_fault_replay_policy 0..3): BLOCK, BATCH, BATCH_FLUSH (the default) and ONCE.
#include "policies/replay/replay_policy.h"

namespace uvmsim {
namespace {

class FixedReplay final : public ReplayPolicy {
 public:
  FixedReplay(ReplayPoint p, bool flush) : point_(p), flush_(flush) {}
  ReplayPoint point() const override { return point_; }
  bool flush() const override { return flush_; }

 private:
  ReplayPoint point_;
  bool flush_;
};

ReplayRegistry::Entry entry(const char* name, const char* desc, ReplayPoint p, bool flush) {
  return {name, desc, {}, [p, flush](const PolicyParams&, const ReplayContext&) {
            return std::make_unique<FixedReplay>(p, flush);
          }};
}

const ReplayRegistrar kBlock(entry("block", "policy 0: replay after each VA block", ReplayPoint::kAfterBlock,
                                   false));
const ReplayRegistrar kBatch(entry("batch", "policy 1: replay after each batch, no flush",
                                   ReplayPoint::kAfterBatch, false));
const ReplayRegistrar kBatchFlush(
    entry("batch_flush", "policy 2 (default): discard remaining entries, replay after each batch",
          ReplayPoint::kAfterBatch, true));
const ReplayRegistrar kOnce(entry("once", "policy 3: one replay at the end of the bottom half",
                                  ReplayPoint::kAfterService, false));

}  // namespace
}  // namespace uvmsim
