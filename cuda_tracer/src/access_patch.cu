// Device side of the access capture: Compute Sanitizer patches called at every global memory access
// and every global-to-shared asynchronous copy of an instrumented kernel. Each (CTA, page) pair is
// recorded once, in a hash table in device memory, with the kinds of access and the first and last use
// (the accessing thread's count of global accesses so far). Built with
// `nvcc --fatbin --keep-device-functions -Xptxas --compile-as-tools-patch`; needs no Sanitizer header.
#include <cstdint>

#include "access_state.h"

namespace {

// (ordinal << 32) | warps: keep the warps of the earliest ordinal seen, adding this one's at a tie.
__device__ __forceinline__ void first_use(unsigned long long* w, uint32_t ord, uint32_t bit) {
  unsigned long long old = *reinterpret_cast<volatile unsigned long long*>(w);
  for (;;) {
    const uint32_t at = uint32_t(old >> 32);
    unsigned long long want;
    if (ord < at) {
      want = (static_cast<unsigned long long>(ord) << 32) | bit;
    } else if (ord == at && !(old & bit)) {
      want = old | bit;
    } else {
      return;
    }
    const unsigned long long seen = atomicCAS(w, old, want);
    if (seen == old) return;
    old = seen;
  }
}

enum PatchResult : int { kPatchSuccess = 0 };

__device__ __forceinline__ void record(uvmtrace::DeviceState* s, uint64_t page, uint64_t cta, uint32_t flags,
                                       uint32_t ord, uint32_t warp_bit, uint32_t line_bit) {
  const uint32_t reads = (flags & 1u) ? warp_bit : 0u, writes = (flags & 6u) ? warp_bit : 0u;
  if (page >= (1ull << 36) || cta >= (1ull << 27)) {
    atomicOr(&s->overflow, 1u);
    return;
  }
  const unsigned long long key = ((page + 1) << 27) | cta;
  unsigned long long slot = ((key * 0x9E3779B97F4A7C15ull) >> 17) & s->table_mask;
  for (unsigned long long probe = 0; probe <= s->table_mask; ++probe) {
    unsigned long long prev = atomicCAS(&s->keys[slot], 0ull, key);
    if (prev == 0ull) {
      unsigned long long idx = atomicAdd(&s->count, 1ull);
      if (idx >= s->capacity) {
        atomicOr(&s->overflow, 1u);
        atomicExch(&s->slot_entry[slot], 0xffffffffu);
        return;
      }
      uvmtrace::AccessEntry& e = s->entries[idx];
      e.page = page;
      e.cta = uint32_t(cta);
      e.flags = flags;
      e.first = ord;
      e.last = ord;
      s->warps[2 * idx] = reads;
      s->warps[2 * idx + 1] = writes;
      s->first_warps[2 * idx] = reads ? (static_cast<unsigned long long>(ord) << 32) | reads : ~0ull;
      s->first_warps[2 * idx + 1] = writes ? (static_cast<unsigned long long>(ord) << 32) | writes : ~0ull;
      s->first_lines[2 * idx] = reads ? (static_cast<unsigned long long>(ord) << 32) | line_bit : ~0ull;
      s->first_lines[2 * idx + 1] = writes ? (static_cast<unsigned long long>(ord) << 32) | line_bit : ~0ull;
      __threadfence();
      atomicExch(&s->slot_entry[slot], uint32_t(idx + 1));
      return;
    }
    if (prev == key) {
      unsigned int at;
      while ((at = *reinterpret_cast<volatile unsigned int*>(&s->slot_entry[slot])) == 0u) {
      }
      if (at == 0xffffffffu) return;
      __threadfence();
      uvmtrace::AccessEntry& e = s->entries[at - 1];
      atomicOr(&e.flags, flags);
      atomicMin(&e.first, ord);
      atomicMax(&e.last, ord);
      for (uint32_t k = 0; k < 2; ++k) {
        const uint32_t bit = k == 0 ? reads : writes;
        if (bit == 0) continue;
        atomicOr(&s->warps[2 * (at - 1) + k], bit);
        first_use(&s->first_warps[2 * (at - 1) + k], ord, bit);
        first_use(&s->first_lines[2 * (at - 1) + k], ord, line_bit);
      }
      return;
    }
    slot = (slot + 1) & s->table_mask;
  }
  atomicOr(&s->overflow, 1u);
}

// The warp's access as the uTLB sees it: per page its converged lanes touch, the distinct 128-byte lines
// (a float4 store by 32 lanes: 4 lines of one page; a float store: 1), counted once per (access, page) by
// the page's lowest lane.
__device__ __forceinline__ void count_lines(uvmtrace::DeviceState* s, uint64_t addr, uint32_t flags) {
  const unsigned mask = __activemask();
  const unsigned same_page = __match_any_sync(mask, addr >> 12);
  const unsigned same_line = __match_any_sync(mask, addr >> 7);
  unsigned lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
  const unsigned leaders = __ballot_sync(mask, unsigned(__ffs(same_line) - 1) == lane);
  if (unsigned(__ffs(same_page) - 1) != lane) return;
  const unsigned kind = (flags & 4u) ? 2u : (flags & 2u) ? 1u : 0u;
  atomicAdd(&s->lines[kind][__popc(leaders & same_page)], 1ull);
}

__device__ __forceinline__ void on_access(void* userdata, uint64_t addr, uint32_t size, uint32_t flags) {
  auto* s = static_cast<uvmtrace::DeviceState*>(userdata);
  if (s == nullptr || size == 0) return;
  count_lines(s, addr, flags);
  const uint64_t cta = blockIdx.x + uint64_t(gridDim.x) * (blockIdx.y + uint64_t(gridDim.y) * blockIdx.z);
  const uint64_t threads = uint64_t(blockDim.x) * blockDim.y * blockDim.z;
  const uint64_t tid = threadIdx.x + uint64_t(blockDim.x) * (threadIdx.y + uint64_t(blockDim.y) * threadIdx.z);
  const uint64_t gtid = cta * threads + tid;
  uint32_t ord = 0;
  if (gtid < s->thread_capacity) {
    ord = s->thread_counts[gtid]++;
  } else {
    atomicOr(&s->overflow, 2u);
  }
  const uint64_t first = addr >> 12, last = (addr + size - 1) >> 12;
  const uint32_t warp_bit = 1u << ((tid / 32) & 31);  // a CTA has at most 32 warps
  for (uint64_t p = first; p <= last; ++p)
    record(s, p, cta, flags & 7u, ord, warp_bit, 1u << (p == first ? (addr >> 7) & 31 : 0));
}

}  // namespace

// Sanitizer_DeviceMemoryFlags: 1 read, 2 write, 4 system-scoped atomic.
extern "C" __device__ __noinline__ int uvmt_global_access(void* userdata, uint64_t pc, void* ptr, uint32_t size,
                                                          uint32_t flags, const void* new_value) {
  (void)pc;
  (void)new_value;
  on_access(userdata, reinterpret_cast<uint64_t>(ptr), size, flags);
  return kPatchSuccess;
}

// cp.async: a global read into shared memory.
extern "C" __device__ __noinline__ int uvmt_memcpy_async(void* userdata, uint64_t pc, void* src, uint32_t dst,
                                                         uint32_t size) {
  (void)pc;
  (void)dst;
  if (src != nullptr) on_access(userdata, reinterpret_cast<uint64_t>(src), size, 1u);
  return kPatchSuccess;
}
