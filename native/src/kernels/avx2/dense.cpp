// AVX2 + FMA dense kernels (compiled with -mavx2 -mfma only; selected at run time).
//
// GEMM micro-kernel 6x16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers; per k,
// 2 loads of B and 6 broadcasts feed 12 FMAs (Zen 3: 2 FMA/cycle, so 6 cycles per k and the loads fit).
// Elementwise kernels run whole vectors with plain loads/stores and a tail with maskload/maskstore: the same
// lane-wise arithmetic for every element whatever its position (results independent of how rows and columns
// are split).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/dense_kernels.h"
#include "kernels/vector_math.h"

namespace fffbert {
namespace avx2 {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

// Lanes [0, n) set (n clamped to [0, 8]).
__m256i tail_mask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 0 ? 0 : n > 8 ? 8 : n)), idx);
}

// n lanes from p (zeros beyond n): plain loads and stores for full vectors, masked ones only for a tail
// (VMASKMOVPS stores are microcoded on Zen: masking every vector made softmax as slow as the attention GEMMs).
inline __m256 load_n(const float* p, int64_t n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask(n));
}
inline void store_n(float* p, int64_t n, __m256 v) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, tail_mask(n), v);
  }
}

// Row of a C tile: cols <= 16 of (lo, hi), added to what C holds when accumulating.
inline void store_row(float* cr, __m256 lo, __m256 hi, int cols, bool accumulate) {
  if (cols == kNr) {
    if (accumulate) {
      lo = _mm256_add_ps(_mm256_loadu_ps(cr), lo);
      hi = _mm256_add_ps(_mm256_loadu_ps(cr + 8), hi);
    }
    _mm256_storeu_ps(cr, lo);
    _mm256_storeu_ps(cr + 8, hi);
    return;
  }
  const __m256i m0 = tail_mask(cols), m1 = tail_mask(cols - 8);
  if (accumulate) {
    lo = _mm256_add_ps(_mm256_maskload_ps(cr, m0), lo);
    hi = _mm256_add_ps(_mm256_maskload_ps(cr + 8, m1), hi);
  }
  _mm256_maskstore_ps(cr, m0, lo);
  _mm256_maskstore_ps(cr + 8, m1, hi);
}

// One row of the rank-1 update: (lo, hi) += a * (b0, b1).
inline void fma_row(__m256& lo, __m256& hi, const float* a, __m256 b0, __m256 b1) {
  const __m256 ar = _mm256_broadcast_ss(a);
  lo = _mm256_fmadd_ps(ar, b0, lo);
  hi = _mm256_fmadd_ps(ar, b1, hi);
}

// C[R, cols] (= or +=) A B over kc; A a packed micro-panel a[k * 6 + r] (kRowMajor false) or rows a[r * lda + k];
// B panel b[k * 16 + j]. Named accumulators (not arrays): GCC 12 keeps an array of vectors in registers but also
// stores it to the stack every k. kStream: prefetch into L2 the B line kc rows ahead, one per k (gemm_tile_stream).
template <int R, bool kRowMajor, bool kStream = false>
void tile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int cols, bool accumulate) {
  const int64_t rs = kRowMajor ? lda : 1;
  const int64_t ahead = kc * kNr;
  constexpr int64_t step = kRowMajor ? 1 : kMr;
  // The C tile (R rows of 64 B, maybe straddling two lines) is read or written after the k loop: fetch it now,
  // or its misses stall the store (C blocks outgrow L2 at N >= 3072): +15% at 512x3072x768 and 2048x4095x768
  // (1 thread, CPU time, measured).
  for (int r = 0; r < R; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
  }
  const __m256 z = _mm256_setzero_ps();
  __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
  for (int64_t k = 0; k < kc; ++k) {
    if (kStream) _mm_prefetch(reinterpret_cast<const char*>(b + ahead), _MM_HINT_T1);
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    fma_row(c00, c01, a, b0, b1);
    if (R > 1) fma_row(c10, c11, a + 1 * rs, b0, b1);
    if (R > 2) fma_row(c20, c21, a + 2 * rs, b0, b1);
    if (R > 3) fma_row(c30, c31, a + 3 * rs, b0, b1);
    if (R > 4) fma_row(c40, c41, a + 4 * rs, b0, b1);
    if (R > 5) fma_row(c50, c51, a + 5 * rs, b0, b1);
    a += step;
    b += kNr;
  }
  store_row(c, c00, c01, cols, accumulate);
  if (R > 1) store_row(c + ldc, c10, c11, cols, accumulate);
  if (R > 2) store_row(c + 2 * ldc, c20, c21, cols, accumulate);
  if (R > 3) store_row(c + 3 * ldc, c30, c31, cols, accumulate);
  if (R > 4) store_row(c + 4 * ldc, c40, c41, cols, accumulate);
  if (R > 5) store_row(c + 5 * ldc, c50, c51, cols, accumulate);
}

template <bool kRowMajor, bool kStream = false>
void tile_rows(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int rows, int cols,
               bool accumulate) {
  switch (rows) {
    case 1: tile<1, kRowMajor, kStream>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 2: tile<2, kRowMajor, kStream>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 3: tile<3, kRowMajor, kStream>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 4: tile<4, kRowMajor, kStream>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    case 5: tile<5, kRowMajor, kStream>(kc, a, lda, b, c, ldc, cols, accumulate); break;
    default: tile<6, kRowMajor, kStream>(kc, a, lda, b, c, ldc, cols, accumulate); break;
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

// Few rows, B streamed panel after panel from L3/DRAM: 16 x 2304 x 768 and 16 x 768 x 768 over 16 cold weight
// matrices, 2 threads, +16-20% against the same walk without it (prefetching into L1 instead: about the same at 1
// thread, less consistent; bursts of prefetches issued by the driver between tiles lost 5-15%).
void gemm_tile_stream(int64_t kc, const float* a, int64_t lda, const float* b, int64_t, float* c, int64_t ldc, int rows,
                      int cols, bool accumulate) {
  tile_rows<true, true>(kc, a, lda, b, c, ldc, rows, cols, accumulate);
}

// --- vector math -------------------------------------------------------------------------------------------

// max/min return their second operand when one is NaN: written so that a NaN x passes through.
__m256 clamp(__m256 x, float lo, float hi) {
  return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), x));
}

// e^x: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (Cephes expf), 2^n through the exponent bits.
// Max relative error ~2 ulp; inputs clamped to [-87.3, 88.7] (no infinities, no denormals).
__m256 exp_ps(__m256 x) {
  x = clamp(x, vmath::kExpMin, vmath::kExpMax);
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(vmath::kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(vmath::kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(vmath::kLn2Lo), r);
  __m256 p = _mm256_set1_ps(vmath::kExpP[0]);
  for (int i = 1; i <= 5; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(vmath::kExpP[i]));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// GELU_erf(x) = x/2 (1 + erf(x/sqrt2)); erf(z) = z P(z^2) / Q(z^2) on |z| <= 3.925 (erf rounds to +-1 beyond),
// a [6/5] rational fitted for minimax relative error (1.8e-9 in exact arithmetic; the fp32 evaluation adds
// ~1-2 ulp). The coefficients live in kernels/vector_math.h, shared by every ISA file.
__m256 gelu_ps(__m256 x) {
  const __m256 z = clamp(_mm256_mul_ps(x, _mm256_set1_ps(vmath::kRsqrt2)), -vmath::kErfClamp, vmath::kErfClamp);
  const __m256 t = _mm256_mul_ps(z, z);
  __m256 p = _mm256_set1_ps(vmath::kErfP[0]);
  for (int i = 1; i <= 6; ++i) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(vmath::kErfP[i]));
  __m256 q = _mm256_set1_ps(vmath::kErfQ[0]);
  for (int i = 1; i <= 5; ++i) q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(vmath::kErfQ[i]));
  const __m256 erf = clamp(_mm256_div_ps(_mm256_mul_ps(z, p), q), -1.0f, 1.0f);
  const __m256 hx = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(hx, erf, hx);
}

// tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); absolute error ~1e-7 (relative error grows near 0).
__m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 e = exp_ps(_mm256_add_ps(ax, ax));
  const __m256 t =
      _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
  return _mm256_or_ps(t, _mm256_and_ps(sign, x));
}

__m256 activate(__m256 v, Activation act) {
  switch (act) {
    case Activation::gelu_erf: return gelu_ps(v);
    case Activation::tanh: return tanh_ps(v);
    case Activation::none: break;
  }
  return v;
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// --- table entries -----------------------------------------------------------------------------------------

void epilogue(float* c, int64_t ldc, int rows, int cols, const float* bias, Activation act, const float* res,
              int64_t ldr) {
  for (int r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; j += 8) {
      __m256 v = load_n(cr + j, cols - j);
      if (bias) v = _mm256_add_ps(v, load_n(bias + j, cols - j));
      v = activate(v, act);
      if (res) v = _mm256_add_ps(v, load_n(res + r * ldr + j, cols - j));
      store_n(cr + j, cols - j, v);
    }
  }
}

void gelu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) store_n(y + i, n - i, gelu_ps(load_n(x + i, n - i)));
}

void layernorm_row(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
  }
  for (; i < n; i += 8) s0 = _mm256_add_ps(s0, load_n(x + i, n - i));  // zeros beyond n
  const float mean = hsum(_mm256_add_ps(s0, s1)) / float(n);
  const __m256 vm = _mm256_set1_ps(mean);
  __m256 q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
    q0 = _mm256_fmadd_ps(d0, d0, q0);
    q1 = _mm256_fmadd_ps(d1, d1, q1);
  }
  for (; i < n; i += 8) {
    const __m256i m = tail_mask(n - i);
    const __m256 d = _mm256_and_ps(_mm256_sub_ps(load_n(x + i, n - i), vm), _mm256_castsi256_ps(m));
    q0 = _mm256_fmadd_ps(d, d, q0);
  }
  const __m256 rstd =
      _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_sqrt_ps(_mm256_set1_ps(hsum(_mm256_add_ps(q0, q1)) / float(n) + eps)));
  for (i = 0; i < n; i += 8) {
    const __m256 d = _mm256_mul_ps(_mm256_sub_ps(load_n(x + i, n - i), vm), rstd);
    store_n(y + i, n - i, _mm256_fmadd_ps(d, load_n(gamma + i, n - i), load_n(beta + i, n - i)));
  }
}

void softmax_row(float* s, int64_t n, float scale, const float* mask_add) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY), vscale = _mm256_set1_ps(scale);
  __m256 mx = neg_inf;
  for (int64_t j = 0; j < n; j += 8) {
    __m256 v = _mm256_mul_ps(vscale, load_n(s + j, n - j));
    if (mask_add) v = _mm256_add_ps(v, load_n(mask_add + j, n - j));
    store_n(s + j, n - j, v);
    if (n - j < 8) v = _mm256_blendv_ps(neg_inf, v, _mm256_castsi256_ps(tail_mask(n - j)));
    mx = _mm256_max_ps(mx, v);
  }
  const __m256 vmax = _mm256_set1_ps(hmax(mx));
  __m256 sum = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; j += 8) {
    __m256 e = exp_ps(_mm256_sub_ps(load_n(s + j, n - j), vmax));
    if (n - j < 8) e = _mm256_and_ps(e, _mm256_castsi256_ps(tail_mask(n - j)));
    store_n(s + j, n - j, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / hsum(sum));
  for (int64_t j = 0; j < n; j += 8) store_n(s + j, n - j, _mm256_mul_ps(load_n(s + j, n - j), inv));
}

}  // namespace

const DenseKernels& dense_kernels() {
  static const DenseKernels table = [] {
    DenseKernels t;
    t.mr = kMr;
    t.nr = kNr;
    // kc 256 (B micro-panel 16 KB in L1), mc 96 (A block 96 KB in L2). Measured at 512x3072x768 and 2048x768x768
    // (1 thread, CPU time): kc 128 or 192 lose 10-20%; kc 320/384 and mc 48..240 are within the +-10% noise.
    t.kc = 256;
    t.mc = 96;
    t.gemm_tile = gemm_tile;
    t.gemm_tile_stream = gemm_tile_stream;
    t.epilogue = epilogue;
    t.gelu = gelu;
    t.layernorm_row = layernorm_row;
    t.softmax_row = softmax_row;
    return t;
  }();
  return table;
}

}  // namespace avx2
}  // namespace fffbert
