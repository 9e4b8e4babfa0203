// The conservation audit's part over GPU memory: walks the page table independently of the counters and
// checks that every page is in exactly one place and GPU residency fits its chunks and capacity.
#include "sim/uvm/uvm.h"

namespace uvmsim {

uint64_t Uvm::audit(const std::function<void(const std::string&)>& say) const {
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
  return gpu_pages;
}

}  // namespace uvmsim
