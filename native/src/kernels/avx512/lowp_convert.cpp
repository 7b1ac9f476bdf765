// The activation conversions of the int8 / bf16 Linear layers (linear.h scalar::quantize_row_int8 and
// scalar::round_row_bf16) with AVX-512F/BW, 16 elements a step: the same operations in the same order (x * inv,
// + magic, - magic as separate roundings; the bf16 rounding on the bit patterns), so the bytes are the scalar
// functions' own (test_lowp.cpp lowp_convert_avx512_is_scalar, and every avx512 kernel's bitwise comparison with
// the oracle, whose driver converts with the scalar functions). Rows holding a NaN or an infinity, and all-zero
// rows, go to the scalar function.
#include "kernels/avx512/intrinsics.h"

#include <cstring>

#include "kernels/lowp_kernels.h"
#include "linear.h"

namespace fffbert {
namespace avx512 {

float quantize_row_int8(const float* x, int64_t K, int64_t kpad, bool u8, uint8_t* q) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  __m512i amax = _mm512_setzero_si512();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
    amax = _mm512_max_epu32(amax, _mm512_and_si512(_mm512_maskz_loadu_epi32(m, x + k), abs_mask));
  }
  const uint32_t amax_bits = uint32_t(_mm512_reduce_max_epu32(amax));
  if (amax_bits >= 0x7f800000u || amax_bits == 0) return scalar::quantize_row_int8(x, K, kpad, u8, q);
  float amax_f;
  std::memcpy(&amax_f, &amax_bits, 4);
  const __m512 inv = _mm512_set1_ps(127.0f / amax_f), magic = _mm512_set1_ps(12582912.0f);
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512i zero = _mm512_set1_epi32(u8 ? 128 : 0);
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
    __m512 v = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), inv), magic), magic);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __m512i qi = _mm512_add_epi32(_mm512_cvttps_epi32(v), zero);
    _mm_mask_storeu_epi8(q + k, m, _mm512_cvtepi32_epi8(qi));
  }
  std::memset(q + K, u8 ? 128 : 0, size_t(kpad - K));
  return amax_f / 127.0f;
}

void round_row_bf16(const float* x, int64_t K, int64_t kpad, uint16_t* out) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i one = _mm512_set1_epi32(1), half = _mm512_set1_epi32(0x7fff), quiet = _mm512_set1_epi32(0x40);
  const __m512i sign = _mm512_set1_epi32(0x8000);
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
    const __m512i b = _mm512_maskz_loadu_epi32(m, x + k);
    const __m512i top = _mm512_srli_epi32(b, 16);
    // normal and infinite: nearest even (a normal value never rounds to a subnormal; overflow gives infinity)
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(half, _mm512_and_si512(top, one))), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, abs_mask), inf);
    const __mmask16 tiny = _mm512_testn_epi32_mask(b, inf);  // exponent 0: zero or subnormal
    r = _mm512_mask_or_epi32(r, nan, top, quiet);            // NaN: quiet, sign kept
    r = _mm512_mask_and_epi32(r, tiny, top, sign);           // signed zero
    _mm256_mask_storeu_epi16(out + k, m, _mm512_cvtepi32_epi16(r));
  }
  for (int64_t k = K; k < kpad; ++k) out[k] = 0;
}

}  // namespace avx512
}  // namespace fffbert
