// AVX2 int8 and bf16 GEMM tiles (compiled with the AVX2 flags only; layouts in kernels/lowp_kernels.h).
//
// int8: vpmaddubsw multiplies u8 by s8 and adds pairs into int16 with saturation. With |a| and sign(w, a) as
// its operands (vpabsb, vpsignb) both factors are within 127, a pair sums to at most 2 * 127 * 127 = 32258 and
// never saturates; vpmaddwd by 1 widens to int32. So the sums are exact and equal to the scalar oracle's.
// bf16: widened to fp32 (a shift or a mask), products of bf16 values are exact in fp32, so an FMA rounds as
// the oracle's add does (odd k first).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace avx2 {
namespace {

constexpr int kMr = 4;  // 4 rows x 16 columns: 8 accumulators + 2 B vectors + the broadcasts
constexpr int kNr = 16;

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// c has room for 16 columns per row (the driver's tile buffer): full vectors are stored.
template <int R>
void int8_tile(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride, const int32_t* colsum,
               const float* xs, const float* ws, float* c, int64_t ldc, int cols) {
  __m256i acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t g = 0; g < kg; ++g) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + g * 64));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + g * 64 + 32));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256i av = _mm256_set1_epi32(load_i32(a + r * lda + g * 4));
      const __m256i aa = _mm256_abs_epi8(av);
      acc[r][0] =
          _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(b0, av)), ones));
      acc[r][1] =
          _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(b1, av)), ones));
    }
  }
  const __m256 w0 = _mm256_loadu_ps(ws), w1 = _mm256_loadu_ps(ws + 8);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    const __m256 x = _mm256_set1_ps(xs[r]);
    _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(x, w0)));
    _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(x, w1)));
  }
}

using Int8TileFn = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, int64_t, const int32_t*, const float*,
                            const float*, float*, int64_t, int);
constexpr Int8TileFn kInt8ByRows[kMr] = {int8_tile<1>, int8_tile<2>, int8_tile<3>, int8_tile<4>};

void int8_tile_any(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride,
                   const int32_t* colsum, const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  kInt8ByRows[rows - 1](kg, a, lda, b, panel_stride, colsum, xs, ws, c, ldc, cols);
}

template <int R>
void bf16_tile(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
               int64_t ldc) {
  __m256 acc[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const __m256i hi = _mm256_set1_epi32(int32_t(0xffff0000u));
  for (int64_t p = 0; p < kp; ++p) {
    const __m256i v0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + p * 32));
    const __m256i v1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + p * 32 + 16));
    const __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(v0, hi)),
                 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(v0, 16));
    const __m256 o1 = _mm256_castsi256_ps(_mm256_and_si256(v1, hi)),
                 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(v1, 16));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint32_t pair = uint32_t(load_i32(a + r * lda + p * 2));
      const __m256 ao = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(pair & 0xffff0000u)));
      const __m256 ae = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(pair << 16)));
      acc[r][0] = _mm256_fmadd_ps(ae, e0, _mm256_fmadd_ps(ao, o0, acc[r][0]));
      acc[r][1] = _mm256_fmadd_ps(ae, e1, _mm256_fmadd_ps(ao, o1, acc[r][1]));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(c + r * ldc, acc[r][0]);
    _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
  }
}

using Bf16TileFn = void (*)(int64_t, const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t);
constexpr Bf16TileFn kBf16ByRows[kMr] = {bf16_tile<1>, bf16_tile<2>, bf16_tile<3>, bf16_tile<4>};

void bf16_tile_any(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
                   int64_t ldc, int rows, int cols) {
  kBf16ByRows[rows - 1](kp, a, lda, b, panel_stride, c, ldc);
}

}  // namespace

const Int8Kernels& int8_kernels() {
  static const Int8Kernels t{"avx2", Isa::avx2, kMr, kNr, false, int8_tile_any};
  return t;
}

const Bf16Kernels& bf16_kernels() {
  static const Bf16Kernels t{"widen-avx2", Isa::avx2, kMr, kNr, bf16_tile_any};
  return t;
}

}  // namespace avx2
}  // namespace fffbert
