// AVX512_BF16 GEMM tile (compiled with the AVX-512 flags + -mavx512bf16; chosen only when CPUID reports
// AVX512_BF16). The 12 x 32 tile of lowp_tile.h with vdpbf16ps, which adds the odd product then the even one,
// one rounding each (products of bf16 values are exact in fp32): the scalar oracle's order.
#include "kernels/avx512/lowp_tile.h"
#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace avx512 {
namespace {

struct Dpbf16 {
  using Acc = __m512;
  static Acc zero() { return _mm512_setzero_ps(); }
  // acc += a . b over bf16 pairs. GCC 12 moves the intrinsic's accumulator through other registers and the stack
  // every k (perf annotate); the asm ties it to one register.
  static Acc dot(Acc acc, __m512i a, __m512i b) {
#if defined(__GNUC__)
    __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
#else
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
#endif
  }
};

struct Bf16Tile {
  // c has room for 32 columns per row (the driver's tile buffer): whole vectors are stored.
  template <int R, int P>
  static void run(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
                  int64_t ldc) {
    lowp::tile<Dpbf16, R, P>(kp, reinterpret_cast<const uint8_t*>(a), lda * 2, reinterpret_cast<const uint8_t*>(b),
                             panel_stride * 2, [&](int r, __m512 lo, __m512 hi) {
                               _mm512_storeu_ps(c + r * ldc, lo);
                               if (P > 1) _mm512_storeu_ps(c + r * ldc + 16, hi);
                             });
  }
};

void bf16_tile(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
               int64_t ldc, int rows, int cols) {
  lowp::by_shape<Bf16Tile>(rows, cols, kp, a, lda, b, panel_stride, c, ldc);
}

}  // namespace

const Bf16Kernels& bf16_kernels_dot() {
  static const Bf16Kernels t{"avx512-bf16", Isa::avx512, lowp::kMr, lowp::kNr, bf16_tile};
  return t;
}

}  // namespace avx512
}  // namespace fffbert
