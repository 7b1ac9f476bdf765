// NEON (AArch64 Advanced SIMD) dense kernels. NEON is baseline on AArch64: no extra flags.
//
// GEMM micro-kernel 6x16: 24 of the 32 q registers accumulate, 4 hold the B row, A is broadcast per row
// (ld1r), leaving room for the compiler's pipelining. Elementwise tails go through a zero-padded 4-lane buffer,
// so every element runs the same vector code whatever its position.
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/dense_kernels.h"
#include "kernels/vector_math.h"

namespace fffbert {
namespace neon {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

// One row of the rank-1 update: c[0..3] += a * (b0, b1, b2, b3).
inline void fma_row(float32x4_t& c0, float32x4_t& c1, float32x4_t& c2, float32x4_t& c3, const float* a, float32x4_t b0,
                    float32x4_t b1, float32x4_t b2, float32x4_t b3) {
  const float32x4_t ar = vld1q_dup_f32(a);
  c0 = vfmaq_f32(c0, ar, b0);
  c1 = vfmaq_f32(c1, ar, b1);
  c2 = vfmaq_f32(c2, ar, b2);
  c3 = vfmaq_f32(c3, ar, b3);
}

// Row of a C tile: cols <= 16, added to what C holds when accumulating.
inline void store_row(float* cr, float32x4_t c0, float32x4_t c1, float32x4_t c2, float32x4_t c3, int cols,
                      bool accumulate) {
  float tmp[kNr];
  float* dst = cols == kNr ? cr : tmp;
  if (accumulate && cols == kNr) {
    c0 = vaddq_f32(vld1q_f32(cr), c0);
    c1 = vaddq_f32(vld1q_f32(cr + 4), c1);
    c2 = vaddq_f32(vld1q_f32(cr + 8), c2);
    c3 = vaddq_f32(vld1q_f32(cr + 12), c3);
  }
  vst1q_f32(dst, c0);
  vst1q_f32(dst + 4, c1);
  vst1q_f32(dst + 8, c2);
  vst1q_f32(dst + 12, c3);
  if (cols < kNr) {
    for (int j = 0; j < cols; ++j) cr[j] = accumulate ? cr[j] + tmp[j] : tmp[j];
  }
}

// C[R, cols] (= or +=) A B over kc; A a packed micro-panel a[k * 6 + r] (kRowMajor false) or rows a[r * lda + k];
// B panel b[k * 16 + j]. Named accumulators, as in the AVX2 file.
template <int R, bool kRowMajor>
void tile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int cols, bool accumulate) {
  const int64_t rs = kRowMajor ? lda : 1;
  constexpr int64_t step = kRowMajor ? 1 : kMr;
#if defined(__GNUC__) || defined(__clang__)
  // Fetch the C tile before the k loop (as in the AVX2 kernel: its misses would stall the stores).
  for (int r = 0; r < R; ++r) {
    __builtin_prefetch(c + r * ldc);
    __builtin_prefetch(c + r * ldc + 15);
  }
#endif
  const float32x4_t z = vdupq_n_f32(0.0f);
  float32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z,
              c23 = z, c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z,
              c52 = z, c53 = z;
  for (int64_t k = 0; k < kc; ++k) {
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
    fma_row(c00, c01, c02, c03, a, b0, b1, b2, b3);
    if (R > 1) fma_row(c10, c11, c12, c13, a + 1 * rs, b0, b1, b2, b3);
    if (R > 2) fma_row(c20, c21, c22, c23, a + 2 * rs, b0, b1, b2, b3);
    if (R > 3) fma_row(c30, c31, c32, c33, a + 3 * rs, b0, b1, b2, b3);
    if (R > 4) fma_row(c40, c41, c42, c43, a + 4 * rs, b0, b1, b2, b3);
    if (R > 5) fma_row(c50, c51, c52, c53, a + 5 * rs, b0, b1, b2, b3);
    a += step;
    b += kNr;
  }
  store_row(c, c00, c01, c02, c03, cols, accumulate);
  if (R > 1) store_row(c + ldc, c10, c11, c12, c13, cols, accumulate);
  if (R > 2) store_row(c + 2 * ldc, c20, c21, c22, c23, cols, accumulate);
  if (R > 3) store_row(c + 3 * ldc, c30, c31, c32, c33, cols, accumulate);
  if (R > 4) store_row(c + 4 * ldc, c40, c41, c42, c43, cols, accumulate);
  if (R > 5) store_row(c + 5 * ldc, c50, c51, c52, c53, cols, accumulate);
}

template <bool kRowMajor>
void tile_rows(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int rows, int cols,
               bool accumulate) {
  switch (rows) {
    case 1: tile<1, kRowMajor>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 2: tile<2, kRowMajor>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 3: tile<3, kRowMajor>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 4: tile<4, kRowMajor>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 5: tile<5, kRowMajor>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    default: tile<6, kRowMajor>(kc, a, lda, b, c, ldc, cols, accumulate); break;
  }
}

void gemm_tile(int64_t kc, const float* a, int64_t lda, const float* b, int64_t, float* c, int64_t ldc, int rows,
               int cols, bool accumulate) {
  if (lda > 0) {
    tile_rows<true>(kc, a, lda, b, c, ldc, rows, cols, accumulate);
  } else {
    tile_rows<false>(kc, a, 0, b, c, ldc, rows, cols, accumulate);
  }
}

// --- vector math (same algorithms and coefficients as the AVX2 file) ----------------------------------------

// FMAX/FMIN propagate NaN whatever the operand order.
float32x4_t clamp(float32x4_t x, float lo, float hi) {
  return vminq_f32(vmaxq_f32(x, vdupq_n_f32(lo)), vdupq_n_f32(hi));
}

// e^x: x = n ln2 + r, degree-6 polynomial (Cephes expf), 2^n through the exponent bits; x clamped to
// [-87.3, 88.7].
float32x4_t exp_ps(float32x4_t x) {
  x = clamp(x, vmath::kExpMin, vmath::kExpMax);
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, vmath::kLog2e));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(vmath::kLn2Hi));
  r = vfmsq_f32(r, n, vdupq_n_f32(vmath::kLn2Lo));
  float32x4_t p = vdupq_n_f32(vmath::kExpP[0]);
  for (int i = 1; i <= 5; ++i) p = vfmaq_f32(vdupq_n_f32(vmath::kExpP[i]), p, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

// GELU_erf with erf(z) = z P(z^2) / Q(z^2) on |z| <= 3.925 ([6/5] minimax-relative rational; see avx2/dense.cpp).
float32x4_t gelu_ps(float32x4_t x) {
  const float32x4_t z = clamp(vmulq_n_f32(x, vmath::kRsqrt2), -vmath::kErfClamp, vmath::kErfClamp);
  const float32x4_t t = vmulq_f32(z, z);
  float32x4_t p = vdupq_n_f32(vmath::kErfP[0]);
  for (int i = 1; i <= 6; ++i) p = vfmaq_f32(vdupq_n_f32(vmath::kErfP[i]), p, t);
  float32x4_t q = vdupq_n_f32(vmath::kErfQ[0]);
  for (int i = 1; i <= 5; ++i) q = vfmaq_f32(vdupq_n_f32(vmath::kErfQ[i]), q, t);
  const float32x4_t erf = clamp(vdivq_f32(vmulq_f32(z, p), q), -1.0f, 1.0f);
  const float32x4_t hx = vmulq_n_f32(x, 0.5f);
  return vfmaq_f32(hx, hx, erf);
}

// tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error ~1e-7.
float32x4_t tanh_ps(float32x4_t x) {
  const float32x4_t ax = vabsq_f32(x);
  const float32x4_t e = exp_ps(vaddq_f32(ax, ax));
  const float32x4_t t = vsubq_f32(vdupq_n_f32(1.0f), vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, vdupq_n_f32(1.0f))));
  const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(t), sign));
}

float32x4_t activate(float32x4_t v, Activation act) {
  switch (act) {
    case Activation::gelu_erf: return gelu_ps(v);
    case Activation::tanh: return tanh_ps(v);
    case Activation::none: break;
  }
  return v;
}

// Loads n <= 4 floats (zeros beyond); stores back the first n.
float32x4_t load_tail(const float* p, int64_t n) {
  float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  std::memcpy(tmp, p, size_t(n) * sizeof(float));
  return vld1q_f32(tmp);
}
void store_tail(float* p, int64_t n, float32x4_t v) {
  float tmp[4];
  vst1q_f32(tmp, v);
  std::memcpy(p, tmp, size_t(n) * sizeof(float));
}
float32x4_t load_n(const float* p, int64_t n) { return n >= 4 ? vld1q_f32(p) : load_tail(p, n); }
void store_n(float* p, int64_t n, float32x4_t v) {
  if (n >= 4) {
    vst1q_f32(p, v);
  } else {
    store_tail(p, n, v);
  }
}

// --- table entries -----------------------------------------------------------------------------------------

void epilogue(float* c, int64_t ldc, int rows, int cols, const float* bias, Activation act, const float* res,
              int64_t ldr) {
  for (int r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; j += 4) {
      const int64_t n = cols - j;
      float32x4_t v = load_n(cr + j, n);
      if (bias) v = vaddq_f32(v, load_n(bias + j, n));
      v = activate(v, act);
      if (res) v = vaddq_f32(v, load_n(res + r * ldr + j, n));
      store_n(cr + j, n, v);
    }
  }
}

void gelu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 4) store_n(y + i, n - i, gelu_ps(load_n(x + i, n - i)));
}

void layernorm_row(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
  float32x4_t s = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < n; i += 4) s = vaddq_f32(s, load_n(x + i, n - i));
  const float mean = vaddvq_f32(s) / float(n);
  const float32x4_t vm = vdupq_n_f32(mean);
  float32x4_t q = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < n; i += 4) {
    float32x4_t d = vsubq_f32(load_n(x + i, n - i), vm);
    if (n - i < 4) {  // zero the padding lanes
      float tmp[4];
      vst1q_f32(tmp, d);
      d = load_tail(tmp, n - i);
    }
    q = vfmaq_f32(q, d, d);
  }
  const float rstd = 1.0f / std::sqrt(vaddvq_f32(q) / float(n) + eps);
  for (int64_t i = 0; i < n; i += 4) {
    const float32x4_t d = vmulq_n_f32(vsubq_f32(load_n(x + i, n - i), vm), rstd);
    store_n(y + i, n - i, vfmaq_f32(load_n(beta + i, n - i), d, load_n(gamma + i, n - i)));
  }
}

void softmax_row(float* s, int64_t n, float scale, const float* mask_add) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; j += 4) {
    float32x4_t v = vmulq_n_f32(load_n(s + j, n - j), scale);
    if (mask_add) v = vaddq_f32(v, load_n(mask_add + j, n - j));
    store_n(s + j, n - j, v);
    for (int64_t l = 0; l < 4 && j + l < n; ++l) mx = s[j + l] > mx ? s[j + l] : mx;
  }
  const float32x4_t vmax = vdupq_n_f32(mx);
  float32x4_t sum = vdupq_n_f32(0.0f);
  for (int64_t j = 0; j < n; j += 4) {
    const float32x4_t e = exp_ps(vsubq_f32(load_n(s + j, n - j), vmax));
    store_n(s + j, n - j, e);
    sum = vaddq_f32(sum, load_n(s + j, n - j));  // reload: padding lanes are zero
  }
  const float inv = 1.0f / vaddvq_f32(sum);
  for (int64_t j = 0; j < n; j += 4) store_n(s + j, n - j, vmulq_n_f32(load_n(s + j, n - j), inv));
}

}  // namespace

const DenseKernels& dense_kernels() {
  static const DenseKernels table = [] {
    DenseKernels t;
    t.mr = kMr;
    t.nr = kNr;
    // Not tuned (runs under qemu here): the AVX2 blocking.
    t.kc = 256;
    t.mc = 96;
    t.gemm_tile = gemm_tile;
    t.epilogue = epilogue;
    t.gelu = gelu;
    t.layernorm_row = layernorm_row;
    t.softmax_row = softmax_row;
    return t;
  }();
  return table;
}

}  // namespace neon
}  // namespace fffbert
