// Scalar int8 / bf16 pieces: the activation conversions every kernel shares and the naive GEMM oracles.
// Compiled with -ffp-contract=off: x * inv and the rounding add must stay two roundings on every compiler.
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/dense_kernels.h"
#include "linear.h"

namespace fffbert {
namespace scalar {

float quantize_row_int8(const float* x, int64_t K, int64_t kpad, bool u8, uint8_t* q) {
  // max |x| on the bit patterns: exact, and NaN / infinity (exponent all ones) compare above every finite value.
  uint32_t amax_bits = 0;
  for (int64_t k = 0; k < K; ++k) {
    uint32_t b;
    std::memcpy(&b, x + k, 4);
    b &= 0x7fffffffu;
    amax_bits = b > amax_bits ? b : amax_bits;
  }
  const uint8_t zero = u8 ? 128 : 0;
  float amax;
  std::memcpy(&amax, &amax_bits, 4);
  if (amax_bits >= 0x7f800000u || amax_bits == 0) {
    std::memset(q, zero, size_t(kpad));
    return amax_bits == 0 ? 0.0f : NAN;
  }
  const float inv = 127.0f / amax;
  const float magic = 12582912.0f;  // 1.5 * 2^23: (v + magic) - magic rounds |v| < 2^22 half to even
  for (int64_t k = 0; k < K; ++k) {
    float v = (x[k] * inv + magic) - magic;
    v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
    q[k] = uint8_t(int32_t(v) + zero);
  }
  for (int64_t k = K; k < kpad; ++k) q[k] = zero;
  return amax / 127.0f;
}

uint16_t bf16_round(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u) return uint16_t((b >> 16) | 0x40);  // NaN: quiet, sign kept
  if ((b & 0x7f800000u) == 0) return uint16_t((b >> 16) & 0x8000);         // zero or subnormal: signed zero
  b += 0x7fffu + ((b >> 16) & 1u);  // a normal value never rounds to a subnormal; overflow gives infinity
  return uint16_t(b >> 16);
}

void round_row_bf16(const float* x, int64_t K, int64_t kpad, uint16_t* out) {
  for (int64_t k = 0; k < K; ++k) out[k] = bf16_round(x[k]);
  for (int64_t k = K; k < kpad; ++k) out[k] = 0;
}

namespace {
inline float bf16_to_f32(uint16_t h) {
  const uint32_t b = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
}  // namespace

void linear_int8_naive(const int8_t* panels, int64_t panel_stride, const float* ws, int64_t N, int64_t K,
                       const int8_t* a, int64_t lda, const float* xs, int64_t rows, float* y, int64_t ldy) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t n = 0; n < N; ++n) {
      const int8_t* w = panels + (n / 16) * panel_stride + (n % 16) * 4;  // W[n, k] at w[(k / 4) * 64 + k % 4]
      int32_t sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += int32_t(a[i * lda + k]) * int32_t(w[(k / 4) * 64 + k % 4]);
      y[i * ldy + n] = float(sum) * (xs[i] * ws[n]);
    }
  }
}

namespace {
// FTZ: a result below the smallest normal becomes a zero of its sign (TDPBF16PS's adds).
inline float ftz(float x) { return std::fabs(x) < 1.17549435e-38f ? std::copysign(0.0f, x) : x; }

// Bf16Order::amx_block16 for one row: blocks of 16 k pairs, the even and the odd products summed apart (FMA:
// exact product, one rounding), then c + (e + o). e, o: scratch of N floats each.
void bf16_row_amx(const uint16_t* panels, int64_t panel_stride, int64_t N, int64_t kp, const uint16_t* ar, float* yr,
                  float* e, float* o) {
  for (int64_t n = 0; n < N; ++n) yr[n] = 0.0f;
  for (int64_t p0 = 0; p0 < kp; p0 += 16) {
    for (int64_t n = 0; n < N; ++n) e[n] = o[n] = 0.0f;
    for (int64_t p = p0; p < kp && p < p0 + 16; ++p) {
      const float ae = bf16_to_f32(ar[2 * p]), ao = bf16_to_f32(ar[2 * p + 1]);
      for (int64_t n = 0; n < N; ++n) {
        const uint16_t* w = panels + (n / 16) * panel_stride + (n % 16) * 2 + p * 32;
        e[n] = ftz(std::fma(ae, bf16_to_f32(w[0]), e[n]));
        o[n] = ftz(std::fma(ao, bf16_to_f32(w[1]), o[n]));
      }
    }
    for (int64_t n = 0; n < N; ++n) yr[n] = ftz(yr[n] + ftz(e[n] + o[n]));
  }
}
// a + b rounded to odd (Arm's BFloat16 adds): the exact sum's nearer-to-zero float, with bit 0 set when inexact;
// overflow gives infinity, a result below 2^-126 a zero of its sign. TwoSum gives the double sum's exact error.
float add_round_odd(float a, float b) {
  const double s = double(a) + double(b), bb = s - double(a);
  const double err = (double(a) - (s - bb)) + (double(b) - bb);
  if (std::fabs(s) >= 0x1p128) return std::copysign(INFINITY, s);  // truncation leaves the range
  float f = float(s);
  if (std::fabs(double(f)) > std::fabs(s)) f = std::nextafter(f, 0.0f);  // toward zero
  bool inexact = double(f) != s;
  if (!inexact && err != 0.0) {  // s is a float, the exact sum a hair off it
    inexact = true;
    if ((err < 0) != (s < 0)) f = std::nextafter(f, 0.0f);  // exact sum nearer zero than s: truncate below it
  }
  if (inexact) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits |= 1u;
    std::memcpy(&f, &bits, 4);
  }
  return ftz(f);
}

// Bf16Order::arm_bf16 for one row.
void bf16_row_arm(const uint16_t* panels, int64_t panel_stride, int64_t N, int64_t kp, const uint16_t* ar, float* yr) {
  for (int64_t n = 0; n < N; ++n) yr[n] = 0.0f;
  for (int64_t p = 0; p < kp; ++p) {
    const float ae = bf16_to_f32(ar[2 * p]), ao = bf16_to_f32(ar[2 * p + 1]);
    for (int64_t n = 0; n < N; ++n) {
      const uint16_t* w = panels + (n / 16) * panel_stride + (n % 16) * 2 + p * 32;
      const float pe = ftz(ae * bf16_to_f32(w[0])), po = ftz(ao * bf16_to_f32(w[1]));  // exact unless out of range
      yr[n] = add_round_odd(yr[n], add_round_odd(pe, po));
    }
  }
}
}  // namespace

void linear_bf16_naive(const uint16_t* panels, int64_t panel_stride, int64_t N, int64_t K, const uint16_t* a,
                       int64_t lda, int64_t rows, float* y, int64_t ldy, Bf16Order order) {
  // k pairs outside, outputs inside: each y[i, n] is its own chain of adds in k order. (The transposed loop nest,
  // two dependent adds per k pair inside, is miscompiled by GCC 12.2's loop vectorizer at -O3.)
  const int64_t kp = (K + 1) / 2;
  std::vector<float> e, o;
  if (order == Bf16Order::amx_block16) e.resize(size_t(N)), o.resize(size_t(N));
  for (int64_t i = 0; i < rows; ++i) {
    const uint16_t* ar = a + i * lda;
    float* yr = y + i * ldy;
    if (order == Bf16Order::amx_block16) {
      bf16_row_amx(panels, panel_stride, N, kp, ar, yr, e.data(), o.data());
      continue;
    }
    if (order == Bf16Order::arm_bf16) {
      bf16_row_arm(panels, panel_stride, N, kp, ar, yr);
      continue;
    }
    const bool odd_first = order == Bf16Order::odd_even;
    for (int64_t n = 0; n < N; ++n) yr[n] = 0.0f;
    for (int64_t p = 0; p < kp; ++p) {  // products of bf16 values are exact in fp32: one rounding per add
      const float ao = bf16_to_f32(ar[2 * p + 1]), ae = bf16_to_f32(ar[2 * p]);
      const float a1 = odd_first ? ao : ae, a2 = odd_first ? ae : ao;
      const int j1 = odd_first ? 1 : 0, j2 = 1 - j1;
      for (int64_t n = 0; n < N; ++n) {
        const uint16_t* w = panels + (n / 16) * panel_stride + (n % 16) * 2 + p * 32;  // W[n, 2p], W[n, 2p + 1]
        yr[n] += a1 * bf16_to_f32(w[j1]);
        yr[n] += a2 * bf16_to_f32(w[j2]);
      }
    }
  }
}

// No tile: the driver runs the naive oracles above.
const Int8Kernels& int8_kernels() {
  static const Int8Kernels t{"scalar"};
  return t;
}

const Bf16Kernels& bf16_kernels() {
  static const Bf16Kernels t{"scalar"};
  return t;
}

}  // namespace scalar
}  // namespace fffbert
