// FFF kernels, NEON on AArch64 (4 floats per vector, baseline: no extra flags).
//
// Dot order (fixed by n alone): 4 accumulators take consecutive vectors of 16-float blocks; the remaining whole
// vectors go to accumulators 0, 1, 2; a last partial vector (x copied into a zeroed vector; the padded weight
// row reads zeros) to the next one; then (a0 + a1) + (a2 + a3) and a pairwise horizontal add. 32 registers
// hold 4 dots x 4 accumulators side by side.
#include <arm_neon.h>

#include "kernels/fff_kernels.h"

namespace fffbert {
namespace neon {
namespace {

constexpr int64_t kV = 4;

float32x4_t load_partial(const float* x, int64_t rem) {
  float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int64_t i = 0; i < rem; ++i) buf[i] = x[i];
  return vld1q_f32(buf);
}

float hsum(float32x4_t a0, float32x4_t a1, float32x4_t a2, float32x4_t a3) {
  const float32x4_t s = vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3));
  const float32x2_t h = vadd_f32(vget_low_f32(s), vget_high_f32(s));
  return vget_lane_f32(vpadd_f32(h, h), 0);
}

// P dots side by side, each in the order described above.
template <int P>
void fff_dot_p(const float* const* w, const float* const* x, int64_t n, float* out) {
  float32x4_t acc[P][4];
  for (int p = 0; p < P; ++p) {
    for (int a = 0; a < 4; ++a) acc[p][a] = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    for (int p = 0; p < P; ++p) {
      for (int a = 0; a < 4; ++a) {
        acc[p][a] = vfmaq_f32(acc[p][a], vld1q_f32(w[p] + i + a * kV), vld1q_f32(x[p] + i + a * kV));
      }
    }
  }
  int a = 0;
  for (; i + kV <= n; i += kV, ++a) {
    for (int p = 0; p < P; ++p) acc[p][a] = vfmaq_f32(acc[p][a], vld1q_f32(w[p] + i), vld1q_f32(x[p] + i));
  }
  if (i < n) {
    for (int p = 0; p < P; ++p) {
      acc[p][a] = vfmaq_f32(acc[p][a], vld1q_f32(w[p] + i), load_partial(x[p] + i, n - i));
    }
  }
  for (int p = 0; p < P; ++p) out[p] = hsum(acc[p][0], acc[p][1], acc[p][2], acc[p][3]);
}

void fff_dot_f32(const float* const* w, const float* const* x, int count, int64_t n, float* out) {
  switch (count) {
    case 1: fff_dot_p<1>(w, x, n, out); break;
    case 2: fff_dot_p<2>(w, x, n, out); break;
    case 3: fff_dot_p<3>(w, x, n, out); break;
    default: fff_dot_p<4>(w, x, n, out); break;
  }
}

// Output blocks of 4 vectors stay in registers over all rows: one load + one FMA per element and row, y
// written once.
void fff_gather_f32(const float* const* w, const float* g, int64_t count, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 4 * kV <= n; i += 4 * kV) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t j = 0; j < count; ++j) {
      const float32x4_t gj = vdupq_n_f32(g[j]);
      const float* r = w[j] + i;
      a0 = vfmaq_f32(a0, gj, vld1q_f32(r));
      a1 = vfmaq_f32(a1, gj, vld1q_f32(r + kV));
      a2 = vfmaq_f32(a2, gj, vld1q_f32(r + 2 * kV));
      a3 = vfmaq_f32(a3, gj, vld1q_f32(r + 3 * kV));
    }
    vst1q_f32(y + i, a0);
    vst1q_f32(y + i + kV, a1);
    vst1q_f32(y + i + 2 * kV, a2);
    vst1q_f32(y + i + 3 * kV, a3);
  }
  for (; i < n; i += kV) {
    float32x4_t a = vdupq_n_f32(0.0f);
    for (int64_t j = 0; j < count; ++j) a = vfmaq_f32(a, vdupq_n_f32(g[j]), vld1q_f32(w[j] + i));
    if (i + kV <= n) {
      vst1q_f32(y + i, a);
    } else {
      float buf[4];
      vst1q_f32(buf, a);
      for (int64_t e = 0; i + e < n; ++e) y[i + e] = buf[e];
    }
  }
}

}  // namespace

const FffKernels& fff_kernels() {
  static const FffKernels k{fff_dot_f32, fff_gather_f32};
  return k;
}

}  // namespace neon
}  // namespace fffbert
