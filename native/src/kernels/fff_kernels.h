// The FFF kernel table: the only ISA-specific code the FFF drivers (native/src/fff.cpp) call.
//
// One table per instruction set, each in its own file and namespace (kernels/<isa>/fff.cpp), compiled with that
// set's flags only. The drivers hold the walk logic (routing, GELU, paths, threads); kernels only do the wide
// arithmetic, so every ISA routes with the same code and the same scalar GELU.
//
// Layout the kernels may rely on (made by fff_create):
//   - weight rows (W_in rows, W_out^T rows) start 64-byte aligned and are zero-padded to kFffRowAlign elements
//     (fp32) or kFffRowAlignBf16 elements (bf16), so reading a whole vector past n (up to the padded stride) is
//     safe and adds zeros;
//   - activations x and outputs y are caller memory: never read or write past n there.
//
// bf16 weights (FffWeights::bf16) are the upper 16 bits of an fp32 (uint16_t here). Every kernel widens them
// to fp32 exactly (a 16-bit left shift) and then runs the very same arithmetic, in the same order, as its fp32
// kernel: a bf16 layer gives bitwise the result of the fp32 layer whose weights are the widened bf16 values.
// (AVX512_BF16's VDPBF16PS would also need bf16 activations, which changes the numerics: not used.)
#pragma once
#include <cstdint>
#include <cstring>

namespace fffbert {

// Weight row stride granule in floats (64 bytes: one cache line, one AVX-512 vector).
constexpr int64_t kFffRowAlign = 16;
// The same for bf16 rows (64 bytes).
constexpr int64_t kFffRowAlignBf16 = 32;
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
  // The same three with bf16 weight rows, each bitwise equal to its fp32 kernel on the widened rows.
  void (*dot_bf16)(const uint16_t* const* w, const float* const* x, int count, int64_t n, float* out);
  void (*dot_shared_bf16)(const uint16_t* w, const float* const* x, int count, int64_t n, float* out);
  void (*gather_bf16)(const uint16_t* const* w, const float* g, int64_t count, int64_t n, float* y);
};

// bf16 -> fp32, exact.
inline float fff_bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// fp32 -> bf16, round to nearest even; infinities stay, NaN stays a (quiet) NaN, overflow rounds to infinity.
inline uint16_t fff_f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

namespace scalar { const FffKernels& fff_kernels(); }
namespace avx2 { const FffKernels& fff_kernels(); }
namespace avx512 { const FffKernels& fff_kernels(); }
namespace neon { const FffKernels& fff_kernels(); }

}  // namespace fffbert
