// AVX-VNNI int8 GEMM tile (compiled with the AVX2 flags + -mavxvnni; chosen only when CPUID reports AVX-VNNI):
// the VEX-encoded vpdpbusd on ymm registers, for CPUs with AVX-VNNI but no AVX512-VNNI (Alder Lake and later
// client cores). 6 rows x 16 columns: 12 accumulators, 2 B vectors, one broadcast. A holds q + 128 (u8 x s8) and
// the tile subtracts 128 * colsum: the int32 sums equal the oracle's. Layout in kernels/lowp_kernels.h.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace avx2 {
namespace {

constexpr int kMr = 6;
constexpr int kNr = 16;

// acc += dot4(u8 a, s8 b) per int32 lane; the asm keeps GCC 12 from copying the accumulator every k (as in
// the AVX-512 VNNI tile).
inline __m256i dpbusd(__m256i acc, __m256i a, __m256i b) {
#if defined(__GNUC__)
  __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
  return acc;
#else
  return _mm256_dpbusd_avx_epi32(acc, a, b);
#endif
}

// c has room for 16 columns per row (the driver's tile buffer): whole vectors are stored.
template <int R>
void tile(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, const int32_t* colsum, const float* xs,
          const float* ws, float* c, int64_t ldc) {
  __m256i acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t g = 0; g < kg; ++g) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + g * 64));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + g * 64 + 32));
    for (int r = 0; r < R; ++r) {
      int32_t v;
      std::memcpy(&v, a + r * lda + g * 4, 4);
      const __m256i av = _mm256_set1_epi32(v);
      acc[r][0] = dpbusd(acc[r][0], av, b0);
      acc[r][1] = dpbusd(acc[r][1], av, b1);
    }
  }
  const __m256i corr0 = _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum)), 7);
  const __m256i corr1 = _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum + 8)), 7);
  const __m256 w0 = _mm256_loadu_ps(ws), w1 = _mm256_loadu_ps(ws + 8);
  for (int r = 0; r < R; ++r) {
    const __m256 x = _mm256_set1_ps(xs[r]);
    _mm256_storeu_ps(c + r * ldc,
                     _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][0], corr0)), _mm256_mul_ps(x, w0)));
    _mm256_storeu_ps(c + r * ldc + 8,
                     _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][1], corr1)), _mm256_mul_ps(x, w1)));
  }
}

using TileFn = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, const int32_t*, const float*, const float*,
                        float*, int64_t);
constexpr TileFn kByRows[kMr] = {tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

void int8_tile(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride, const int32_t* colsum,
               const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  kByRows[rows - 1](kg, a, lda, b, colsum, xs, ws, c, ldc);
}

}  // namespace

const Int8Kernels& int8_kernels_avxvnni() {
  static const Int8Kernels t{"avx-vnni", Isa::avx2, kMr, kNr, true, int8_tile};
  return t;
}

}  // namespace avx2
}  // namespace fffbert
