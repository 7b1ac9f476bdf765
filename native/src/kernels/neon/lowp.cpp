// NEON int8 (FEAT_DotProd sdot) and bf16 (widening) GEMM tiles. Layouts in kernels/lowp_kernels.h.
// The sdot tile is compiled for armv8.2-a+dotprod through a target attribute and chosen only when HWCAP reports
// it; the bf16 one is baseline NEON: bf16 widened (shift or mask) and FMA, exact products, odd k first, as the
// scalar oracle.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace neon {
namespace {

constexpr int kMr = 4;   // 4 rows x 16 columns: 16 accumulators + 4 B registers
constexpr int kNr = 16;

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// A holds signed q (sdot is s8 x s8); c has room for 16 columns per row.
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
  for (int r = 0; r < R; ++r) {
    const float32x4_t x = vdupq_n_f32(xs[r]);
    for (int j = 0; j < 4; ++j) {
      const float32x4_t s = vmulq_f32(x, vld1q_f32(ws + 4 * j));
      vst1q_f32(c + r * ldc + 4 * j, vmulq_f32(vcvtq_f32_s32(acc[r][j]), s));
    }
  }
}

using Int8TileFn = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, const float*, const float*, float*,
                            int64_t);
constexpr Int8TileFn kInt8ByRows[kMr] = {int8_tile<1>, int8_tile<2>, int8_tile<3>, int8_tile<4>};

void int8_tile_any(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride,
                   const int32_t* colsum, const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  kInt8ByRows[rows - 1](kg, a, lda, b, xs, ws, c, ldc);
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

void bf16_tile_any(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
                   int64_t ldc, int rows, int cols) {
  kBf16ByRows[rows - 1](kp, a, lda, b, c, ldc);
}

}  // namespace

const Int8Kernels& int8_kernels_sdot() {
  static const Int8Kernels t{"neon-sdot", Isa::neon, kMr, kNr, false, int8_tile_any};
  return t;
}

const Bf16Kernels& bf16_kernels() {
  static const Bf16Kernels t{"widen-neon", Isa::neon, kMr, kNr, bf16_tile_any};
  return t;
}

}  // namespace neon
}  // namespace fffbert
