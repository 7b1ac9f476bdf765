// Aligned storage for large arrays: packed weights (FFF rows, dense panels) and the scratch that grows with a
// call. 64-byte aligned (rows and panels start on a cache line); from 2 MiB on aligned to 2 MiB and, on Linux,
// advised as transparent huge pages (MADV_HUGEPAGE: honoured where THP is "always" or "madvise", a no-op under
// "never"). The FFF walk reads rows scattered over 25 MB (a 1x11 layer): with 4 KiB pages nearly every row is a
// TLB miss, a page walk (two-dimensional inside a VM). Measured (Zen 4 VM, bench/native/fff_stream.cpp, one
// process alternating a 4 KiB-page layer and a huge-page layer, median ns per token over 11 rounds, streamed
// input): f32 1 thread 1 / 128 / 2048 tokens 3419 -> 2937, 2747 -> 2268, 2548 -> 2368; 2 threads 128 / 2048
// tokens 1209 -> 1165, 1269 -> 1214; bf16-dot 2 threads 595 -> 578, 775 -> 763.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fffbert {

// A cache line: what alloc_aligned's blocks, the binding's input copies and outputs, and the streamed FFF outputs
// start on (and JavaScript's alignedFloat32Array, through the addon).
constexpr size_t kCacheLine = 64;

// Bytes from p to the next cache-line boundary (0 when p is on one).
inline size_t bytes_to_cache_line(const void* p) {
  return (kCacheLine - reinterpret_cast<uintptr_t>(p) % kCacheLine) % kCacheLine;
}

// p moved forward to the next cache line (p itself when on one); T's size divides kCacheLine, p is T-aligned.
template <typename T>
T* on_cache_line(T* p) {
  return p + bytes_to_cache_line(p) / sizeof(T);
}

// `bytes` (> 0) of uninitialised storage, aligned as above; nullptr when it cannot be had.
void* alloc_aligned(size_t bytes) noexcept;
// Frees what alloc_aligned returned (nullptr allowed).
void free_aligned(void* p) noexcept;

}  // namespace fffbert
