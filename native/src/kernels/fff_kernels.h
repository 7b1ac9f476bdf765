// The FFF kernel table: the only ISA-specific code the FFF drivers (native/src/fff.cpp) call.
//
// One table per instruction set, each in its own file and namespace (kernels/<isa>/fff.cpp), compiled with that
// set's flags only. The drivers hold the walk logic (routing, GELU, paths, threads); kernels only do the wide
// arithmetic, so every ISA routes with the same code and the same scalar GELU.
//
// Layout the kernels may rely on (made by fff_create):
//   - weight rows (W_in rows, W_out^T rows) start 64-byte aligned and are zero-padded to kFffRowAlign floats,
//     so reading a whole vector past n (up to the padded stride) is safe and adds zeros;
//   - activations x and outputs y are caller memory: never read or write past n there.
#pragma once
#include <cstdint>

namespace fffbert {

// Weight row stride granule in floats (64 bytes: one cache line, one AVX-512 vector).
constexpr int64_t kFffRowAlign = 16;
// Most (row, token) pairs one dot call takes: the drivers interleave this many independent dots.
constexpr int kFffMaxDots = 4;

struct FffKernels {
  // out[t] = dot(w[t][0..n), x[t][0..n)) for t < count (1 <= count <= kFffMaxDots). Each ISA has one fixed
  // summation order that depends only on n, so out[t] is bitwise the same whatever count, position t or the
  // other pairs are, here and in dot_shared: per-token and batched walks agree bitwise.
  void (*dot)(const float* const* w, const float* const* x, int count, int64_t n, float* out);
  // out[t] = dot(w[0..n), x[t][0..n)) for t < count (1 <= count <= kFffMaxDots): tokens on one node, the row
  // read once for all of them. Bitwise equal to `dot`.
  void (*dot_shared)(const float* w, const float* const* x, int count, int64_t n, float* out);
  // y[0..n) = sum over j < count, in order j = 0, 1, ..., of g[j] * w[j][0..n) (starting from 0; y overwritten).
  // Per element this is the same sequence of multiply-adds as count successive axpys into y.
  void (*gather)(const float* const* w, const float* g, int64_t count, int64_t n, float* y);
};

namespace scalar { const FffKernels& fff_kernels(); }
namespace avx2 { const FffKernels& fff_kernels(); }
namespace avx512 { const FffKernels& fff_kernels(); }
namespace neon { const FffKernels& fff_kernels(); }

}  // namespace fffbert
