// The conservation audit: walks the page table independently of the counters and checks that every
// page is in exactly one place, GPU residency fits its chunks and capacity, bytes moved in minus bytes
// moved out equal the audited resident bytes, and no CTA, fault or op was lost.
#include <sstream>

#include "sim/simulator.h"

namespace uvmsim {

std::vector<std::string> Simulator::audit() const {
  std::vector<std::string> bad;
  auto say = [&](const std::string& s) {
    if (bad.size() < 20) bad.push_back(s);
  };
  uint64_t gpu_pages = 0;
  std::vector<uint32_t> per_block(w_.blocks, 0);
  for (uint32_t p = 0; p < w_.pages; ++p) {
    uint8_t l = pages_.loc(p);
    if (l > kOnGpu) say("page " + std::to_string(p) + " has an invalid location");
    if (!w_.page_valid[p] && (l != kNowhere || pages_.mapped(p)))
      say("padding page " + std::to_string(p) + " is resident");
    if (l == kOnGpu) {
      ++gpu_pages;
      ++per_block[p / kPagesPerBlock];
      if (!pages_.mapped(p)) say("GPU-resident page " + std::to_string(p) + " is not mapped on the GPU");
    }
    if (l == kNowhere && pages_.mapped(p))
      say("page " + std::to_string(p) + " is mapped on the GPU but resident nowhere");
  }
  std::vector<uint8_t> chunk_seen(chunk_block_.size(), 0);
  uint64_t chunks_used = 0;
  for (uint32_t b = 0; b < w_.blocks; ++b) {
    if (per_block[b] != pages_.on_gpu(b).count())
      say("block " + std::to_string(b) + ": " + std::to_string(per_block[b]) +
          " GPU-resident pages, its mask says " + std::to_string(pages_.on_gpu(b).count()));
    for (uint32_t q = 0; q < kPagesPerBlock; ++q) {
      uint8_t l = pages_.loc(b * kPagesPerBlock + q);
      if (pages_.on_gpu(b).test(q) != (l == kOnGpu) || pages_.on_cpu(b).test(q) != (l == kOnCpu)) {
        say("block " + std::to_string(b) + " page " + std::to_string(q) +
            ": residency mask disagrees with the page table");
        break;
      }
    }
    uint32_t c = block_chunk_[b];
    if (per_block[b] > 0 && c == kNoChunk) say("block " + std::to_string(b) + " has GPU pages but no chunk");
    if (c != kNoChunk) {
      ++chunks_used;
      if (c >= chunk_block_.size() || chunk_block_[c] != b)
        say("block " + std::to_string(b) + " chunk link broken");
      else if (chunk_seen[c]++)
        say("chunk " + std::to_string(c) + " held by two blocks");
    }
  }
  if (chunks_used > capacity_chunks_)
    say("GPU holds " + std::to_string(chunks_used) + " chunks, capacity " + std::to_string(capacity_chunks_));
  if (chunks_used + free_chunks_.size() != capacity_chunks_)
    say("chunks used plus free differ from capacity");
  const Stats& s = stats_;
  const uint64_t in = s.bytes_zero_filled + htod_bytes(s), out = s.bytes_freed_on_gpu + dtoh_bytes(s);
  if (in - out != gpu_pages * trace::kPageBytes) {
    std::ostringstream os;
    os << "bytes in (" << in << ") minus bytes out (" << out << ") != audited GPU-resident bytes ("
       << gpu_pages * trace::kPageBytes << ")";
    say(os.str());
  }
  uint64_t total_ctas = 0;
  for (auto& k : w_.trace.kernels) total_ctas += k.cta_count;
  if (ctas_done_ != total_ctas)
    say("CTAs completed " + std::to_string(ctas_done_) + " of " + std::to_string(total_ctas));
  if (!stalled_.empty()) say(std::to_string(stalled_.size()) + " CTAs still stalled");
  if (!buffer_.empty()) say(std::to_string(buffer_.size()) + " fault entries left in the buffer");
  for (size_t i = 0; i < s.ops.size(); ++i)
    if (s.ops[i].end_ns < 0) say("op " + std::to_string(i) + " never completed");
  return bad;
}

}  // namespace uvmsim
