// The 12 x 32 register tile of the AVX-512 int8 (VNNI) and bf16 GEMM kernels (lowp_vnni.cpp, lowp_bf16.cpp),
// included by each with its own flags. Layouts in kernels/lowp_kernels.h.
//
// Two 16-wide panels, 24 named zmm accumulators (GCC 12 copies arrays of vectors through the stack every k), per
// k step 2 loads of B, 12 broadcasts of a 32-bit group of A (4 int8 or 2 bf16 k) and 24 dot-product instructions.
#pragma once
#include "kernels/avx512/intrinsics.h"

#include <cstdint>
#include <cstring>

namespace fffbert {
namespace avx512 {
namespace lowp {

constexpr int kMr = 12;
constexpr int kNr = 32;

// One row of the update: (lo, hi) = Dot::row(.., 32 bits of A at a, (b0, b1)); hi only for 2 panels.
template <class Dot, int P, class Acc>
inline void dot_row(Acc& lo, Acc& hi, const uint8_t* a, __m512i b0, __m512i b1) {
  Dot::row(lo, hi, a, b0, b1, P > 1);
}

// Dot: { using Acc; static Acc zero(); static void row(Acc& lo, Acc& hi, const uint8_t* a, __m512i b0, __m512i b1,
// bool two): lo += a . b0 (and hi += a . b1 when two) with the 32-bit group at a broadcast }. A: R rows of lda bytes,
// 4 bytes per k step; B: 64 bytes per k step, the second panel panel_stride bytes on. store(r, lo, hi) per row.
template <class Dot, int R, int P, class Store>
inline void tile(int64_t steps, const uint8_t* a, int64_t lda, const uint8_t* b, int64_t panel_stride,
                 const Store& store) {
  using Acc = typename Dot::Acc;
  const Acc z = Dot::zero();
  Acc c00a = z, c00b = z, c01a = z, c01b = z, c02a = z, c02b = z, c03a = z, c03b = z, c04a = z, c04b = z, c05a = z,
      c05b = z, c06a = z, c06b = z, c07a = z, c07b = z, c08a = z, c08b = z, c09a = z, c09b = z, c10a = z, c10b = z,
      c11a = z, c11b = z;
  const uint8_t* b_hi = b + (P > 1 ? panel_stride : 0);
  for (int64_t k = 0; k < steps; ++k) {
    const __m512i b0 = _mm512_load_si512(b + k * 64);
    const __m512i b1 = P > 1 ? _mm512_load_si512(b_hi + k * 64) : b0;
    const uint8_t* ak = a + k * 4;
    dot_row<Dot, P>(c00a, c00b, ak, b0, b1);
    if (R > 1) dot_row<Dot, P>(c01a, c01b, ak + 1 * lda, b0, b1);
    if (R > 2) dot_row<Dot, P>(c02a, c02b, ak + 2 * lda, b0, b1);
    if (R > 3) dot_row<Dot, P>(c03a, c03b, ak + 3 * lda, b0, b1);
    if (R > 4) dot_row<Dot, P>(c04a, c04b, ak + 4 * lda, b0, b1);
    if (R > 5) dot_row<Dot, P>(c05a, c05b, ak + 5 * lda, b0, b1);
    if (R > 6) dot_row<Dot, P>(c06a, c06b, ak + 6 * lda, b0, b1);
    if (R > 7) dot_row<Dot, P>(c07a, c07b, ak + 7 * lda, b0, b1);
    if (R > 8) dot_row<Dot, P>(c08a, c08b, ak + 8 * lda, b0, b1);
    if (R > 9) dot_row<Dot, P>(c09a, c09b, ak + 9 * lda, b0, b1);
    if (R > 10) dot_row<Dot, P>(c10a, c10b, ak + 10 * lda, b0, b1);
    if (R > 11) dot_row<Dot, P>(c11a, c11b, ak + 11 * lda, b0, b1);
  }
  store(0, c00a, c00b);
  if (R > 1) store(1, c01a, c01b);
  if (R > 2) store(2, c02a, c02b);
  if (R > 3) store(3, c03a, c03b);
  if (R > 4) store(4, c04a, c04b);
  if (R > 5) store(5, c05a, c05b);
  if (R > 6) store(6, c06a, c06b);
  if (R > 7) store(7, c07a, c07b);
  if (R > 8) store(8, c08a, c08b);
  if (R > 9) store(9, c09a, c09b);
  if (R > 10) store(10, c10a, c10b);
  if (R > 11) store(11, c11a, c11b);
}

// F::run<R, P>(args...) for rows R in [1, 12] and P = 2 panels when cols > 16, else 1.
template <class F, class... Args>
inline void by_shape(int rows, int cols, Args... args) {
  const bool two = cols > 16;
  switch (rows) {
    case 1: return two ? F::template run<1, 2>(args...) : F::template run<1, 1>(args...);
    case 2: return two ? F::template run<2, 2>(args...) : F::template run<2, 1>(args...);
    case 3: return two ? F::template run<3, 2>(args...) : F::template run<3, 1>(args...);
    case 4: return two ? F::template run<4, 2>(args...) : F::template run<4, 1>(args...);
    case 5: return two ? F::template run<5, 2>(args...) : F::template run<5, 1>(args...);
    case 6: return two ? F::template run<6, 2>(args...) : F::template run<6, 1>(args...);
    case 7: return two ? F::template run<7, 2>(args...) : F::template run<7, 1>(args...);
    case 8: return two ? F::template run<8, 2>(args...) : F::template run<8, 1>(args...);
    case 9: return two ? F::template run<9, 2>(args...) : F::template run<9, 1>(args...);
    case 10: return two ? F::template run<10, 2>(args...) : F::template run<10, 1>(args...);
    case 11: return two ? F::template run<11, 2>(args...) : F::template run<11, 1>(args...);
    default: return two ? F::template run<12, 2>(args...) : F::template run<12, 1>(args...);
  }
}

}  // namespace lowp
}  // namespace avx512
}  // namespace fffbert
