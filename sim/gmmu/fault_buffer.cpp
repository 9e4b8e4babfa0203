// The gmmu component: faults raised by uTLBs into the replayable fault buffer (outstanding caps, arrival
// latency and jitter), entries leaving it, and the flush that discards them.
#include <algorithm>

#include "sim/simulator.h"

namespace uvmsim {

void Simulator::raise_fault(uint32_t slot, uint32_t page, uint8_t kind, uint32_t utlb, bool* blocked) {
  if (utlb_outstanding_[utlb] >= uint32_t(cfg_.gpu.utlb_max_outstanding_faults) ||
      buffer_.size() >= size_t(cfg_.gpu.fault_buffer_entries)) {
    ++stats_.faults_not_entered;
    *blocked = true;
    return;
  }
  int64_t arrival = std::max(now() + cfg_.gpu.fault_latency_ns, utlb_next_[utlb]);
  utlb_next_[utlb] = arrival + cfg_.gpu.fault_issue_ns;
  ++utlb_outstanding_[utlb];
  buffer_.push_back(FaultEntry{arrival, fault_seq_++, page, kind, utlb, slot, slots_[slot].start,
                               w_.trace.kernels[slots_[slot].kernel].tenant});
  ++slots_[slot].in_buffer;
  std::push_heap(buffer_.begin(), buffer_.end(), FaultLater{});
  ++stats_.faults_raised;
  if (!in_service_ && !interrupt_pending_) {
    interrupt_pending_ = true;
    engine_.at(arrival + cfg_.driver.isr_latency_ns, kPrioDriver, uvm_id_, kEvInterrupt);
  }
}

// Uniform in [0, gpu.fault_jitter_ns): splitmix64 over (seed, draw count), so a run is reproducible.
int64_t Simulator::fault_jitter() {
  uint64_t z = cfg_.seed * 0x9e3779b97f4a7c15ull + ++jitter_draws_ * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return int64_t(z % uint64_t(cfg_.gpu.fault_jitter_ns));
}

void Simulator::entry_left_buffer(const FaultEntry& e) {
  --utlb_outstanding_[e.utlb];
  CtaSlot& c = slots_[e.slot];
  if (c.live && c.start == e.cta_start) --c.in_buffer;
}

// Discards the buffer's entries that arrived by `put`. One linear pass and one heap rebuild, not a pop per
// entry (the buffer can hold thousands).
void Simulator::flush(int64_t put) {
  auto kept = std::remove_if(buffer_.begin(), buffer_.end(), [&](const FaultEntry& e) {
    if (e.arrival > put) return false;
    entry_left_buffer(e);
    ++stats_.faults_flushed;
    return true;
  });
  buffer_.erase(kept, buffer_.end());
  std::make_heap(buffer_.begin(), buffer_.end(), FaultLater{});
}

}  // namespace uvmsim
