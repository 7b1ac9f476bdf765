// alloc_aligned (native/include/fffbert/memory.h): alignment by size, the whole range writable, and on x86-64 Linux
// with transparent huge pages the huge-page advice on the arrays of 2 MiB and more.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "fffbert/memory.h"
#include "test.h"

namespace {

bool aligned(const void* p, uintptr_t a) { return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0; }

#if defined(__linux__) && defined(__x86_64__)
// The VmFlags line of the mapping of /proc/self/smaps that holds p ("" when none does).
std::string vm_flags_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = a >= lo && a < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}
#endif

}  // namespace

TEST(memory_alignment_by_size) {
  CHECK(fffbert::alloc_aligned(0) == nullptr);
  fffbert::free_aligned(nullptr);
  for (size_t bytes :
       {size_t(1), size_t(63), size_t(64), size_t(4095), size_t(2 << 20) - 1, size_t(2 << 20), size_t(5 << 20) + 3}) {
    auto* p = static_cast<unsigned char*>(fffbert::alloc_aligned(bytes));
    CHECK_MSG(p != nullptr, "%zu bytes", bytes);
    if (!p) continue;
    const uintptr_t want = bytes >= (size_t(2) << 20) ? uintptr_t(2) << 20 : 64;
    CHECK_MSG(aligned(p, want), "%zu bytes at %p, want %zu-byte alignment", bytes, static_cast<void*>(p), size_t(want));
    std::memset(p, 0xab, bytes);
    CHECK(p[0] == 0xab && p[bytes - 1] == 0xab);
    fffbert::free_aligned(p);
  }
}

#if defined(__linux__) && defined(__x86_64__)
// Registered on x86-64 Linux only (elsewhere, and under qemu-user, there is nothing to check), so it never
// counts as a pass where it cannot run.
TEST(memory_huge_page_advice) {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  if (!std::getline(thp, mode)) {
    std::printf("     skipped: this kernel has no transparent huge pages\n");
    return;
  }
  const size_t bytes = size_t(8) << 20;
  void* p = fffbert::alloc_aligned(bytes);
  CHECK(p != nullptr);
  if (!p) return;
  std::memset(p, 1, bytes);
  const std::string flags = vm_flags_of(p);
  // "hg": MADV_HUGEPAGE was given for the mapping (whether the kernel then found huge pages is its business).
  CHECK_MSG(flags.find(" hg") != std::string::npos, "THP %s; VmFlags of the array: '%s'", mode.c_str(), flags.c_str());
  std::printf("     THP %s; the array's %s\n", mode.c_str(), flags.c_str());
  fffbert::free_aligned(p);
}
#endif
