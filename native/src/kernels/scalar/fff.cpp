// FFF kernels, scalar: the oracle for the tests and the fallback on unknown CPUs. Plain loops, sequential sums,
// no FMA (compiled with -ffp-contract=off).
#include "kernels/fff_kernels.h"

namespace fffbert {
namespace scalar {
namespace {

float fff_dot1_f32(const float* w, const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += w[i] * x[i];
  return s;
}

void fff_dot_f32(const float* const* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) out[t] = fff_dot1_f32(w[t], x[t], n);
}

void fff_dot_shared_f32(const float* w, const float* const* x, int count, int64_t n, float* out) {
  for (int t = 0; t < count; ++t) out[t] = fff_dot1_f32(w, x[t], n);
}

void fff_gather_f32(const float* const* w, const float* g, int64_t count, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    for (int64_t i = 0; i < n; ++i) y[i] += g[j] * w[j][i];
  }
}

}  // namespace

const FffKernels& fff_kernels() {
  static const FffKernels k{fff_dot_f32, fff_dot_shared_f32, fff_gather_f32};
  return k;
}

}  // namespace scalar
}  // namespace fffbert
