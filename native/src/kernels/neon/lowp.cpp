// NEON int8 (FEAT_DotProd sdot, FEAT_I8MM smmla) and bf16 (widening; FEAT_BF16 bfmmla) GEMM tiles. Layouts in
// kernels/lowp_kernels.h. The extension tiles are compiled for it through target attributes and chosen only when
// HWCAP reports it. The widening bf16 tile is baseline NEON: bf16 widened (shift or mask) and FMA, exact
// products, odd k first (Bf16Order::odd_even). BFMMLA rounds its sums to odd (Bf16Order::arm_bf16, the scalar
// oracle computes that order).
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace neon {
namespace {

constexpr int kMr = 4;  // 4 rows x 16 columns: 16 accumulators + 4 B registers
constexpr int kNr = 16;

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Row r of a tile from its four int32 quartets (columns 0-3, ..., 12-15): float(sum) * (xs[r] * ws); c has room
// for 16 columns per row.
inline void store_row(float* c, const int32x4_t q[4], float x, const float* ws) {
  const float32x4_t xv = vdupq_n_f32(x);
  for (int j = 0; j < 4; ++j)
    vst1q_f32(c + 4 * j, vmulq_f32(vcvtq_f32_s32(q[j]), vmulq_f32(xv, vld1q_f32(ws + 4 * j))));
}

// A holds signed q (sdot is s8 x s8).
template <int R>
__attribute__((target("arch=armv8.2-a+dotprod"))) void int8_tile(int64_t kg, const uint8_t* a, int64_t lda,
                                                                 const int8_t* b, const float* xs, const float* ws,
                                                                 float* c, int64_t ldc) {
  int32x4_t acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_s32(0);
  }
  for (int64_t g = 0; g < kg; ++g) {
    int8x16_t bv[4];
    for (int j = 0; j < 4; ++j) bv[j] = vld1q_s8(b + g * 64 + 16 * j);
    for (int r = 0; r < R; ++r) {
      const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(load_i32(a + r * lda + g * 4)));
      for (int j = 0; j < 4; ++j) acc[r][j] = vdotq_s32(acc[r][j], bv[j], av);
    }
  }
  for (int r = 0; r < R; ++r) store_row(c + r * ldc, acc[r], xs[r], ws);
}

// smmla: a 2 x 8 block of A (two rows, 8 k) times a 2 x 8 block of W (two columns, 8 k) into [r0c0 r0c1 r1c0
// r1c1]. The k4 layout gives 4 k of 4 columns per 16 bytes: zipping two consecutive groups' 32-bit lanes makes
// the (column pair, 8 k) operands. Rows pair up (a missing second row repeats the first; its sums are dropped);
// an odd last group pairs with zeros (A's padding up to lda is written, so its 8-byte loads stay in the row).
template <int R>
__attribute__((target("arch=armv8.2-a+i8mm"))) void int8_tile_mmla(int64_t kg, const uint8_t* a, int64_t lda,
                                                                   const int8_t* b, const float* xs, const float* ws,
                                                                   float* c, int64_t ldc) {
  constexpr int kPairs = (R + 1) / 2;
  const int8_t* rows[4];
  for (int r = 0; r < 4; ++r) rows[r] = reinterpret_cast<const int8_t*>(a + (r < R ? r : R - 1) * lda);
  int32x4_t acc[kPairs][8];
  for (int p = 0; p < kPairs; ++p) {
    for (int j = 0; j < 8; ++j) acc[p][j] = vdupq_n_s32(0);
  }
  for (int64_t g = 0; g < kg; g += 2) {
    int8x16_t bq[8];
    for (int j = 0; j < 4; ++j) {
      const int32x4_t g0 = vreinterpretq_s32_s8(vld1q_s8(b + g * 64 + 16 * j));
      const int32x4_t g1 = g + 1 < kg ? vreinterpretq_s32_s8(vld1q_s8(b + (g + 1) * 64 + 16 * j)) : vdupq_n_s32(0);
      bq[2 * j] = vreinterpretq_s8_s32(vzip1q_s32(g0, g1));
      bq[2 * j + 1] = vreinterpretq_s8_s32(vzip2q_s32(g0, g1));
    }
    for (int p = 0; p < kPairs; ++p) {
      const int8x16_t a2 = vcombine_s8(vld1_s8(rows[2 * p] + g * 4), vld1_s8(rows[2 * p + 1] + g * 4));
      for (int j = 0; j < 8; ++j) acc[p][j] = vmmlaq_s32(acc[p][j], a2, bq[j]);
    }
  }
  for (int p = 0; p < kPairs; ++p) {
    int32x4_t lo[4], hi[4];
    for (int j = 0; j < 4; ++j) {
      lo[j] = vcombine_s32(vget_low_s32(acc[p][2 * j]), vget_low_s32(acc[p][2 * j + 1]));
      hi[j] = vcombine_s32(vget_high_s32(acc[p][2 * j]), vget_high_s32(acc[p][2 * j + 1]));
    }
    store_row(c + 2 * p * ldc, lo, xs[2 * p], ws);
    if (2 * p + 1 < R) store_row(c + (2 * p + 1) * ldc, hi, xs[2 * p + 1], ws);
  }
}

using Int8TileFn = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, const float*, const float*, float*,
                            int64_t);
constexpr Int8TileFn kInt8ByRows[kMr] = {int8_tile<1>, int8_tile<2>, int8_tile<3>, int8_tile<4>};
constexpr Int8TileFn kMmlaByRows[kMr] = {int8_tile_mmla<1>, int8_tile_mmla<2>, int8_tile_mmla<3>, int8_tile_mmla<4>};

void int8_tile_any(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride,
                   const int32_t* colsum, const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  kInt8ByRows[rows - 1](kg, a, lda, b, xs, ws, c, ldc);
}

void int8_tile_mmla_any(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride,
                        const int32_t* colsum, const float* xs, const float* ws, float* c, int64_t ldc, int rows,
                        int cols) {
  kMmlaByRows[rows - 1](kg, a, lda, b, xs, ws, c, ldc);
}

#if defined(__GNUC__) && !defined(__clang__)
#define FFFBERT_LOWP_BF16 __attribute__((target("arch=armv8.2-a+bf16")))
#else
#define FFFBERT_LOWP_BF16 __attribute__((target("bf16")))
#endif

// bfmmla: a 2 x 4 block of A (two rows, 2 k pairs) times a 4 x 2 block of W (2 k pairs, two columns) into [r0c0
// r0c1 r1c0 r1c1], per element BFDotAdd of the first pair then the second: the pairs in k order, as BFDOT. B
// operands from two consecutive k2 pairs zipped by 32-bit lanes (as the smmla tile's k groups); rows pair up (a
// missing second row repeats the first; its sums are dropped). An odd last pair goes through bfdot per row, so
// no zero pair is ever added (it would turn a flushed -0 into +0).
template <int R>
FFFBERT_LOWP_BF16 void bf16_tile_mmla(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, float* c,
                                      int64_t ldc) {
  constexpr int kPairs = (R + 1) / 2;
  const uint16_t* rows[4];
  for (int r = 0; r < 4; ++r) rows[r] = a + (r < R ? r : R - 1) * lda;
  float32x4_t acc[kPairs][8];
  for (int p = 0; p < kPairs; ++p) {
    for (int j = 0; j < 8; ++j) acc[p][j] = vdupq_n_f32(0.0f);
  }
  int64_t k = 0;
  for (; k + 2 <= kp; k += 2) {
    bfloat16x8_t bq[8];
    for (int j = 0; j < 4; ++j) {
      const uint32x4_t g0 = vld1q_u32(reinterpret_cast<const uint32_t*>(b + k * 32 + 8 * j));
      const uint32x4_t g1 = vld1q_u32(reinterpret_cast<const uint32_t*>(b + (k + 1) * 32 + 8 * j));
      bq[2 * j] = vreinterpretq_bf16_u32(vzip1q_u32(g0, g1));
      bq[2 * j + 1] = vreinterpretq_bf16_u32(vzip2q_u32(g0, g1));
    }
    for (int p = 0; p < kPairs; ++p) {
      const bfloat16x8_t a2 =
          vreinterpretq_bf16_u16(vcombine_u16(vld1_u16(rows[2 * p] + 2 * k), vld1_u16(rows[2 * p + 1] + 2 * k)));
      for (int j = 0; j < 8; ++j) acc[p][j] = vbfmmlaq_f32(acc[p][j], a2, bq[j]);
    }
  }
  for (int p = 0; p < kPairs; ++p) {
    for (int h = 0; h < 2 && 2 * p + h < R; ++h) {
      const int r = 2 * p + h;
      float32x4_t q[4];
      for (int j = 0; j < 4; ++j) {
        q[j] = h == 0 ? vcombine_f32(vget_low_f32(acc[p][2 * j]), vget_low_f32(acc[p][2 * j + 1]))
                      : vcombine_f32(vget_high_f32(acc[p][2 * j]), vget_high_f32(acc[p][2 * j + 1]));
      }
      if (k < kp) {  // the odd last pair
        const bfloat16x8_t av = vreinterpretq_bf16_u32(vdupq_n_u32(uint32_t(load_i32(rows[r] + 2 * k))));
        for (int j = 0; j < 4; ++j) q[j] = vbfdotq_f32(q[j], vreinterpretq_bf16_u16(vld1q_u16(b + k * 32 + 8 * j)), av);
      }
      for (int j = 0; j < 4; ++j) vst1q_f32(c + r * ldc + 4 * j, q[j]);
    }
  }
}

template <int R>
void bf16_tile(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, float* c, int64_t ldc) {
  float32x4_t acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 4; ++j) acc[r][j] = vdupq_n_f32(0.0f);
  }
  const uint32x4_t hi = vdupq_n_u32(0xffff0000u);
  for (int64_t p = 0; p < kp; ++p) {
    float32x4_t wo[4], we[4];
    for (int j = 0; j < 4; ++j) {
      const uint32x4_t v = vreinterpretq_u32_u16(vld1q_u16(b + p * 32 + 8 * j));
      wo[j] = vreinterpretq_f32_u32(vandq_u32(v, hi));
      we[j] = vreinterpretq_f32_u32(vshlq_n_u32(v, 16));
    }
    for (int r = 0; r < R; ++r) {
      const uint32_t pair = uint32_t(load_i32(a + r * lda + p * 2));
      const float32x4_t ao = vreinterpretq_f32_u32(vdupq_n_u32(pair & 0xffff0000u));
      const float32x4_t ae = vreinterpretq_f32_u32(vdupq_n_u32(pair << 16));
      for (int j = 0; j < 4; ++j) acc[r][j] = vfmaq_f32(vfmaq_f32(acc[r][j], ao, wo[j]), ae, we[j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < 4; ++j) vst1q_f32(c + r * ldc + 4 * j, acc[r][j]);
  }
}

using Bf16TileFn = void (*)(int64_t, const uint16_t*, int64_t, const uint16_t*, float*, int64_t);
constexpr Bf16TileFn kBf16ByRows[kMr] = {bf16_tile<1>, bf16_tile<2>, bf16_tile<3>, bf16_tile<4>};

constexpr Bf16TileFn kBfmmlaByRows[kMr] = {bf16_tile_mmla<1>, bf16_tile_mmla<2>, bf16_tile_mmla<3>, bf16_tile_mmla<4>};

void bf16_tile_any(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
                   int64_t ldc, int rows, int cols) {
  kBf16ByRows[rows - 1](kp, a, lda, b, c, ldc);
}

void bf16_tile_mmla_any(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
                        int64_t ldc, int rows, int cols) {
  kBfmmlaByRows[rows - 1](kp, a, lda, b, c, ldc);
}

}  // namespace

const Int8Kernels& int8_kernels_sdot() {
  static const Int8Kernels t{"neon-sdot", Isa::neon, kMr, kNr, false, int8_tile_any};
  return t;
}

const Int8Kernels& int8_kernels_i8mm() {
  static const Int8Kernels t{"neon-i8mm", Isa::neon, kMr, kNr, false, int8_tile_mmla_any};
  return t;
}

const Bf16Kernels& bf16_kernels() {
  static const Bf16Kernels t{"widen-neon", Isa::neon, kMr, kNr, bf16_tile_any};
  return t;
}

const Bf16Kernels& bf16_kernels_bf16() {
  static const Bf16Kernels t{"neon-bf16", Isa::neon, kMr, kNr, bf16_tile_mmla_any, Bf16Order::arm_bf16};
  return t;
}

}  // namespace neon
}  // namespace fffbert
