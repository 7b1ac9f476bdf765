// AVX512-VNNI int8 GEMM tile (compiled with the AVX-512 flags + -mavx512vnni; chosen only when CPUID reports
// AVX512_VNNI). The 12 x 32 tile of lowp_tile.h with vpdpbusd: u8 x s8, so A holds q + 128 and the tile
// subtracts 128 * colsum; the int32 sums equal the oracle's exactly (K <= 65536 keeps them below 2^31).
#include "kernels/avx512/lowp_tile.h"
#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace avx512 {
namespace {

struct Dpbusd {
  using Acc = __m512i;
  static Acc zero() { return _mm512_setzero_si512(); }
  // acc += dot4(u8 a, s8 b) per int32 lane. GCC 12 moves the intrinsic's accumulator through other registers and
  // the stack every k (2x slower at 1024 x 2304 x 768, perf annotate); the asm ties it to one register.
  static Acc dot(Acc acc, __m512i a, __m512i b) {
#if defined(__GNUC__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, a, b);
#endif
  }
  // The u8 operand (A) must be a register: broadcast once for both panels.
  static void row(Acc& lo, Acc& hi, const uint8_t* a, __m512i b0, __m512i b1, bool two) {
    int32_t v;
    std::memcpy(&v, a, 4);
    const __m512i av = _mm512_set1_epi32(v);
    lo = dot(lo, av, b0);
    if (two) hi = dot(hi, av, b1);
  }
};

struct Int8Tile {
  // Row r: (sum - 128 colsum) as float times (xs[r] * ws); c has room for 32 columns per row (the driver's tile
  // buffer), so whole vectors are stored.
  template <int R, int P>
  static void run(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride,
                  const int32_t* colsum, const float* xs, const float* ws, float* c, int64_t ldc) {
    const __m512i corr0 = _mm512_slli_epi32(_mm512_loadu_si512(colsum), 7);
    const __m512i corr1 = _mm512_slli_epi32(_mm512_loadu_si512(colsum + 16), 7);
    const __m512 w0 = _mm512_loadu_ps(ws), w1 = _mm512_loadu_ps(ws + 16);
    lowp::tile<Dpbusd, R, P>(
        kg, a, lda, reinterpret_cast<const uint8_t*>(b), panel_stride, [&](int r, __m512i lo, __m512i hi) {
          const __m512 x = _mm512_set1_ps(xs[r]);
          float* cr = c + r * ldc;
          _mm512_storeu_ps(cr, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, corr0)), _mm512_mul_ps(x, w0)));
          if (P > 1) {
            _mm512_storeu_ps(cr + 16,
                             _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, corr1)), _mm512_mul_ps(x, w1)));
          }
        });
  }
};

void int8_tile(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride, const int32_t* colsum,
               const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  lowp::by_shape<Int8Tile>(rows, cols, kg, a, lda, b, panel_stride, colsum, xs, ws, c, ldc);
}

}  // namespace

const Int8Kernels& int8_kernels_vnni() {
  static const Int8Kernels t{"avx512-vnni", Isa::avx512, lowp::kMr, lowp::kNr, true, int8_tile};
  return t;
}

}  // namespace avx512
}  // namespace fffbert
