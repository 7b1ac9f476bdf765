// FFF kernels, scalar: the oracle for the tests and the fallback on unknown CPUs. Plain loops, sequential sums,
// no FMA (compiled with -ffp-contract=off). bf16 rows: each element widened to fp32, then the same loops.
// bf16_dot layers: no bf16 dot entries, so the drivers run dot_bf16 on x rounded by round_bf16 and widened back:
// the oracle of the bf16 dot instructions (every product exact, sequential fp32 sums).
#include "kernels/fff_kernels.h"

namespace fffbert {
namespace scalar {
namespace {

float widen(float v) { return v; }
float widen(uint16_t v) { return fff_bf16_to_f32(v); }

// W: float (fp32 rows) or uint16_t (bf16 rows, widened element by element).
template <typename W>
float fff_dot1(const W* w, const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += widen(w[i]) * x[i];
  return s;
}

template <typename W>
void fff_dot(const W* const* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) out[t] = fff_dot1(w[t], x[t], n);
}

template <typename W>
void fff_dot_shared(const W* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) out[t] = fff_dot1(w, x[t], n);
}

template <typename W>
void fff_gather(const W* const* w, const float* g, int64_t count, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    for (int64_t i = 0; i < n; ++i) y[i] += g[j] * widen(w[j][i]);
  }
}

}  // namespace

const FffKernels& fff_kernels() {
  static const FffKernels k{fff_dot<float>,
                            fff_dot_shared<float>,
                            fff_gather<float>,
                            fff_dot<uint16_t>,
                            fff_dot_shared<uint16_t>,
                            fff_gather<uint16_t>,
                            nullptr,
                            nullptr,
                            fff_round_bf16_rows,
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,  // no streamed gathers: y through the caches
                            nullptr,
                            nullptr,
                            nullptr,
                            nullptr,  // gather4: AVX-512 only
                            nullptr};
  return k;
}

}  // namespace scalar
}  // namespace fffbert
