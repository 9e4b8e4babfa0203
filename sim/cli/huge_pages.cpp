// The uvmsim command's global operator new: allocations of 2 MiB or more are 2 MiB aligned and advised onto
// transparent huge pages (madvise MADV_HUGEPAGE; the kernel's "madvise" mode, Debian's default). A run's
// large arrays (a trace's ranges, the prepared access points: a gigabyte or more for a model mix) then take
// one page fault per 2 MiB instead of one per 4 KiB: preparing the four-model serving mix took 14.2 s, half
// of it in page faults, and takes 7.2 s so (tests/bench/README.md). Memory placement only: outputs do not
// change. Left out of sanitizer builds, whose allocators track new and delete themselves.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

void* allocate(std::size_t n) {
  if (n >= kHugePage) {
    const std::size_t rounded = (n + kHugePage - 1) / kHugePage * kHugePage;
    if (void* p = std::aligned_alloc(kHugePage, rounded)) {
      madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without huge pages it runs as before
      return p;
    }
  } else if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
