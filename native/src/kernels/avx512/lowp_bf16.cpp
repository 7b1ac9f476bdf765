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
  // acc += b . broadcast(pair at a) over bf16 pairs (the products commute; the odd-then-even order is by lane
  // position, the same for both operands). The A pair is the instruction's {1to16} memory operand, as the fp32
  // tile's broadcasts (a load, no shuffle; no faster on Zen 4, and on a Sapphire Rapids-class Xeon vdpbf16ps
  // stays at 0.5-0.8x of our fp32 either way). GCC 12 moves the intrinsic's accumulator through other registers and the
  // stack every k; the asm ties it.
  static Acc dot(Acc acc, const uint8_t* a, __m512i b) {
#if defined(__GNUC__)
    __asm__("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(b), "m"(*reinterpret_cast<const int32_t*>(a)));
    return acc;
#else
    int32_t v;
    std::memcpy(&v, a, 4);
    return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_set1_epi32(v), (__m512bh)b);
#endif
  }
  static void row(Acc& lo, Acc& hi, const uint8_t* a, __m512i b0, __m512i b1, bool two) {
    lo = dot(lo, a, b0);
    if (two) hi = dot(hi, a, b1);
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
