// Pages of one 2 MiB VA block as a 512-bit mask: the core type of the page table, the driver model and the
// policies that reason about blocks (prefetch, thrashing).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace uvmsim {

constexpr uint32_t kPagesPerBlock = 512;   // 2 MiB VA block of 4 KiB pages
constexpr uint32_t kPagesPerBigPage = 16;  // 64 KiB big page

// A set of pages of one VA block: 8 words of 64 bits, with word-level operations for the hot paths.
struct BlockMask {
  uint64_t w[8] = {};
  static BlockMask range(uint32_t lo, uint32_t hi) {  // pages [lo, hi)
    BlockMask m;
    for (uint32_t i = 0; i < 8; ++i) {
      uint32_t a = std::max(lo, i * 64), b = std::min(hi, i * 64 + 64);
      if (a >= b) continue;
      uint32_t n = b - a;
      m.w[i] = (n == 64 ? ~0ull : ((1ull << n) - 1)) << (a - i * 64);
    }
    return m;
  }
  bool test(uint32_t i) const { return (w[i >> 6] >> (i & 63)) & 1; }
  void set(uint32_t i) { w[i >> 6] |= 1ull << (i & 63); }
  void set(uint32_t i, bool v) { v ? set(i) : reset(i); }
  void reset(uint32_t i) { w[i >> 6] &= ~(1ull << (i & 63)); }
  uint32_t count() const {
    uint32_t c = 0;
    for (uint64_t x : w) c += uint32_t(std::popcount(x));
    return c;
  }
  // Set pages in [lo, lo + n) where n is a power of two and lo is n-aligned.
  uint32_t count_aligned(uint32_t lo, uint32_t n) const {
    if (n >= 64) {
      uint32_t c = 0;
      for (uint32_t i = lo >> 6; i < (lo + n) >> 6; ++i) c += uint32_t(std::popcount(w[i]));
      return c;
    }
    return uint32_t(std::popcount((w[lo >> 6] >> (lo & 63)) & ((1ull << n) - 1)));
  }
  bool none() const {
    uint64_t x = 0;
    for (uint64_t y : w) x |= y;
    return x == 0;
  }
  bool any() const { return !none(); }
  // The lowest set page; the mask must not be empty.
  uint32_t first() const {
    uint32_t i = 0;
    while (w[i] == 0) ++i;
    return i * 64 + uint32_t(std::countr_zero(w[i]));
  }
  // Calls f(page) for each set page in increasing order.
  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < 8; ++i)
      for (uint64_t x = w[i]; x; x &= x - 1) f(i * 64 + uint32_t(std::countr_zero(x)));
  }
  BlockMask& operator|=(const BlockMask& o) {
    for (int i = 0; i < 8; ++i) w[i] |= o.w[i];
    return *this;
  }
  BlockMask& operator&=(const BlockMask& o) {
    for (int i = 0; i < 8; ++i) w[i] &= o.w[i];
    return *this;
  }
  friend BlockMask operator|(BlockMask a, const BlockMask& b) { return a |= b; }
  friend BlockMask operator&(BlockMask a, const BlockMask& b) { return a &= b; }
  BlockMask operator~() const {
    BlockMask m;
    for (int i = 0; i < 8; ++i) m.w[i] = ~w[i];
    return m;
  }
  bool operator==(const BlockMask& o) const = default;
};

}  // namespace uvmsim
