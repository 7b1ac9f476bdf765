#include "fffbert/memory.h"

#include <cstdint>
#include <cstdlib>

#if defined(_WIN32)
#include <malloc.h>
#elif defined(__linux__)
#include <sys/mman.h>
#endif

namespace fffbert {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

void* alloc_aligned(size_t bytes) noexcept {
  if (bytes == 0) return nullptr;
  const size_t align = bytes >= kHugePage ? kHugePage : kCacheLine;
#if defined(_WIN32)
  return _aligned_malloc(bytes, align);
#else
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Only the whole huge pages inside the array: the tail stays on small pages. Advice only: failure is harmless.
  if (align == kHugePage) (void)madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  return p;
#endif
}

void free_aligned(void* p) noexcept {
#if defined(_WIN32)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

}  // namespace fffbert
