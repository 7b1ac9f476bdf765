// AVX-512 (F/BW/DQ/VL) dense kernels (compiled with the AVX-512 flags only; selected at run time).
//
// GEMM micro-kernel 12x32 over two adjacent 16-wide B panels: 24 zmm accumulators + 2 B vectors, A broadcast
// from memory ({1to16} operands), so per k 2 loads of B and 12 broadcasts feed 24 FMAs. The last odd panel of a
// row uses the 12x16 instance. Tails of elementwise kernels use masked loads/stores: every element goes through
// the same vector code whatever its position.
#include "kernels/avx512/intrinsics.h"

#include <cmath>
#include <cstdint>

#include "kernels/dense_kernels.h"
#include "kernels/vector_math.h"

namespace fffbert {
namespace avx512 {
namespace {

constexpr int kMr = 12;
constexpr int kNr = 32;

// Lanes [0, n) set (n clamped to [0, 16]).
__mmask16 tail_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << unsigned(n)) - 1u);
}

// One row of the rank-1 update: (lo, hi) += a * (b0, b1); hi only for 2 panels.
template <int P>
inline void fma_row(__m512& lo, __m512& hi, const float* a, __m512 b0, __m512 b1) {
  const __m512 ar = _mm512_set1_ps(*a);
  lo = _mm512_fmadd_ps(ar, b0, lo);
  if (P > 1) hi = _mm512_fmadd_ps(ar, b1, hi);
}

// Row of a C tile: cols <= 16 * P of (lo, hi), added to what C holds when accumulating. Full vectors use plain
// loads/stores, a partial one k-masked ones.
inline void store_vec(float* p, int cols, __m512 v, bool accumulate) {
  if (cols >= 16) {
    if (accumulate) v = _mm512_add_ps(_mm512_loadu_ps(p), v);
    _mm512_storeu_ps(p, v);
  } else {
    const __mmask16 m = tail_mask(cols);
    if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), v);
    _mm512_mask_storeu_ps(p, m, v);
  }
}
template <int P>
inline void store_row(float* cr, __m512 lo, __m512 hi, int cols, bool accumulate) {
  store_vec(cr, cols, lo, accumulate);
  if (P > 1) store_vec(cr + 16, cols - 16, hi, accumulate);
}

// C[R, cols] (= or +=) A B over kc with P (1 or 2) panels; A a packed micro-panel a[k * 12 + r] (kRowMajor
// false) or rows a[r * lda + k]; panel p at b + p * panel_stride, b[k * 16 + j]. Named accumulators: GCC 12
// spills arrays of vectors every k.
template <int R, int P, bool kRowMajor>
void tile(int64_t kc, const float* a, int64_t lda, const float* b, int64_t panel_stride, float* c, int64_t ldc,
          int cols, bool accumulate) {
  const int64_t rs = kRowMajor ? lda : 1;
  constexpr int64_t step = kRowMajor ? 1 : kMr;
  // Fetch the C tile before the k loop (as in the AVX2 kernel: its misses would stall the stores).
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16 * P - 1), _MM_HINT_T0);
  }
  const __m512 z = _mm512_setzero_ps();
  __m512 c00a = z, c00b = z, c01a = z, c01b = z, c02a = z, c02b = z, c03a = z, c03b = z, c04a = z, c04b = z, c05a = z,
         c05b = z, c06a = z, c06b = z, c07a = z, c07b = z, c08a = z, c08b = z, c09a = z, c09b = z, c10a = z, c10b = z,
         c11a = z, c11b = z;
  const float* b_hi = b + (P > 1 ? panel_stride : 0);
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * 16);
    const __m512 b1 = P > 1 ? _mm512_load_ps(b_hi + k * 16) : z;
    fma_row<P>(c00a, c00b, a, b0, b1);
    if (R > 1) fma_row<P>(c01a, c01b, a + 1 * rs, b0, b1);
    if (R > 2) fma_row<P>(c02a, c02b, a + 2 * rs, b0, b1);
    if (R > 3) fma_row<P>(c03a, c03b, a + 3 * rs, b0, b1);
    if (R > 4) fma_row<P>(c04a, c04b, a + 4 * rs, b0, b1);
    if (R > 5) fma_row<P>(c05a, c05b, a + 5 * rs, b0, b1);
    if (R > 6) fma_row<P>(c06a, c06b, a + 6 * rs, b0, b1);
    if (R > 7) fma_row<P>(c07a, c07b, a + 7 * rs, b0, b1);
    if (R > 8) fma_row<P>(c08a, c08b, a + 8 * rs, b0, b1);
    if (R > 9) fma_row<P>(c09a, c09b, a + 9 * rs, b0, b1);
    if (R > 10) fma_row<P>(c10a, c10b, a + 10 * rs, b0, b1);
    if (R > 11) fma_row<P>(c11a, c11b, a + 11 * rs, b0, b1);
    a += step;
  }
  store_row<P>(c, c00a, c00b, cols, accumulate);
  if (R > 1) store_row<P>(c + 1 * ldc, c01a, c01b, cols, accumulate);
  if (R > 2) store_row<P>(c + 2 * ldc, c02a, c02b, cols, accumulate);
  if (R > 3) store_row<P>(c + 3 * ldc, c03a, c03b, cols, accumulate);
  if (R > 4) store_row<P>(c + 4 * ldc, c04a, c04b, cols, accumulate);
  if (R > 5) store_row<P>(c + 5 * ldc, c05a, c05b, cols, accumulate);
  if (R > 6) store_row<P>(c + 6 * ldc, c06a, c06b, cols, accumulate);
  if (R > 7) store_row<P>(c + 7 * ldc, c07a, c07b, cols, accumulate);
  if (R > 8) store_row<P>(c + 8 * ldc, c08a, c08b, cols, accumulate);
  if (R > 9) store_row<P>(c + 9 * ldc, c09a, c09b, cols, accumulate);
  if (R > 10) store_row<P>(c + 10 * ldc, c10a, c10b, cols, accumulate);
  if (R > 11) store_row<P>(c + 11 * ldc, c11a, c11b, cols, accumulate);
}

template <int R, bool kRowMajor>
void tile_cols(int64_t kc, const float* a, int64_t lda, const float* b, int64_t panel_stride, float* c, int64_t ldc,
               int cols, bool accumulate) {
  if (cols > 16) {
    tile<R, 2, kRowMajor>(kc, a, lda, b, panel_stride, c, ldc, cols, accumulate);
  } else {
    tile<R, 1, kRowMajor>(kc, a, lda, b, panel_stride, c, ldc, cols, accumulate);
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, int, bool);
template <bool kRowMajor>
constexpr TileFn kByRows[kMr] = {tile_cols<1, kRowMajor>,  tile_cols<2, kRowMajor>,  tile_cols<3, kRowMajor>,
                                 tile_cols<4, kRowMajor>,  tile_cols<5, kRowMajor>,  tile_cols<6, kRowMajor>,
                                 tile_cols<7, kRowMajor>,  tile_cols<8, kRowMajor>,  tile_cols<9, kRowMajor>,
                                 tile_cols<10, kRowMajor>, tile_cols<11, kRowMajor>, tile_cols<12, kRowMajor>};

void gemm_tile(int64_t kc, const float* a, int64_t lda, const float* b, int64_t panel_stride, float* c, int64_t ldc,
               int rows, int cols, bool accumulate) {
  const TileFn fn = lda > 0 ? kByRows<true>[rows - 1] : kByRows<false>[rows - 1];
  fn(kc, a, lda, b, panel_stride, c, ldc, cols, accumulate);
}

// --- vector math (same algorithms and coefficients as the AVX2 file) ----------------------------------------

// max/min return their second operand when one is NaN: written so that a NaN x passes through.
__m512 clamp(__m512 x, float lo, float hi) {
  return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x));
}

// e^x: x = n ln2 + r, degree-6 polynomial (Cephes expf), 2^n by scalef. Inputs clamped to [-87.3, 88.7].
__m512 exp_ps(__m512 x) {
  x = clamp(x, vmath::kExpMin, vmath::kExpMax);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(vmath::kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(vmath::kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(vmath::kLn2Lo), r);
  __m512 p = _mm512_set1_ps(vmath::kExpP[0]);
  for (int i = 1; i <= 5; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(vmath::kExpP[i]));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// GELU_erf with erf(z) = z P(z^2) / Q(z^2) on |z| <= 3.925 ([6/5] minimax-relative rational; see avx2/dense.cpp).
__m512 gelu_ps(__m512 x) {
  const __m512 z = clamp(_mm512_mul_ps(x, _mm512_set1_ps(vmath::kRsqrt2)), -vmath::kErfClamp, vmath::kErfClamp);
  const __m512 t = _mm512_mul_ps(z, z);
  __m512 p = _mm512_set1_ps(vmath::kErfP[0]);
  for (int i = 1; i <= 6; ++i) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(vmath::kErfP[i]));
  __m512 q = _mm512_set1_ps(vmath::kErfQ[0]);
  for (int i = 1; i <= 5; ++i) q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(vmath::kErfQ[i]));
  const __m512 erf = clamp(_mm512_div_ps(_mm512_mul_ps(z, p), q), -1.0f, 1.0f);
  const __m512 hx = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(hx, erf, hx);
}

// tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error ~1e-7.
__m512 tanh_ps(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 e = exp_ps(_mm512_add_ps(ax, ax));
  const __m512 t =
      _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(int32_t(0x80000000u)));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}

__m512 activate(__m512 v, Activation act) {
  switch (act) {
    case Activation::gelu_erf: return gelu_ps(v);
    case Activation::tanh: return tanh_ps(v);
    case Activation::none: break;
  }
  return v;
}

// --- table entries -----------------------------------------------------------------------------------------

void epilogue(float* c, int64_t ldc, int rows, int cols, const float* bias, Activation act, const float* res,
              int64_t ldr) {
  for (int r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; j += 16) {
      const __mmask16 m = tail_mask(cols - j);
      __m512 v = _mm512_maskz_loadu_ps(m, cr + j);
      if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + j));
      v = activate(v, act);
      if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + r * ldr + j));
      _mm512_mask_storeu_ps(cr + j, m, v);
    }
  }
}

void gelu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, gelu_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void layernorm_row(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
  __m512 s = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  const float mean = _mm512_reduce_add_ps(s) / float(n);
  const __m512 vm = _mm512_set1_ps(mean);
  __m512 q = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vm);
    q = _mm512_fmadd_ps(d, d, q);
  }
  const __m512 rstd =
      _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(_mm512_set1_ps(_mm512_reduce_add_ps(q) / float(n) + eps)));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm), rstd);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, gamma + i), _mm512_maskz_loadu_ps(m, beta + i)));
  }
}

void softmax_row(float* s, int64_t n, float scale, const float* mask_add) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_maskz_loadu_ps(m, s + j));
    if (mask_add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, mask_add + j));
    _mm512_mask_storeu_ps(s + j, m, v);
    mx = _mm512_mask_max_ps(mx, m, mx, v);
  }
  const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vmax)));
    _mm512_mask_storeu_ps(s + j, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
  }
}

}  // namespace

const DenseKernels& dense_kernels() {
  static const DenseKernels table = [] {
    DenseKernels t;
    t.mr = kMr;
    t.nr = kNr;
    // Not tuned (no AVX-512 machine at hand): the AVX2 blocking. Two B micro-panels are 32 KB at kc 256, so on
    // 32 KB-L1 parts (Zen 4) they are re-read from L2 per tile: ~7 B/cycle, well within L2 bandwidth.
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

}  // namespace avx512
}  // namespace fffbert
