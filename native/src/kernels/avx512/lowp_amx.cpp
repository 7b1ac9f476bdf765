// AMX-INT8 GEMM tile (compiled with the AVX-512 flags + -mamx-tile -mamx-int8 -mavx512vnni; chosen only when
// CPUID reports AMX-INT8 and AVX512-VNNI, the OS enables tile state and the process was granted it: isa.cpp
// amx_permitted()).
//
// Up to 16 rows x 32 columns per call: C tiles 0 and 1 (16 x 16 int32, one per k4 panel), A tile 2 (16 rows x
// 64 k of u8 = q + 128, row stride lda), B tiles 3 and 4 (16 k groups x 16 columns x 4 bytes: 1 KB of a panel,
// stride 64). Each step of 64 k is one tdpbusd per panel: the same exact int32 sums as vpdpbusd, then the same
// 128 * colsum correction and fp32 rescale as the VNNI tile. A last partial step (K not a multiple of 64) adds
// its k groups with vpdpbusd to the stored sums (integer sums: any order is exact). The tile configuration
// (rows of A and C = the call's rows) is loaded per call: other code on the thread may have changed it.
#include "kernels/avx512/intrinsics.h"

#include <cstdint>
#include <cstring>

#include "kernels/lowp_kernels.h"

namespace fffbert {
namespace avx512 {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of tile i
  uint8_t rows[16] = {};
};

void int8_tile(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride, const int32_t* colsum,
               const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  const bool two = cols > 16;
  TileConfig cfg;
  cfg.colsb[0] = cfg.colsb[1] = 64, cfg.rows[0] = cfg.rows[1] = uint8_t(rows);  // C: rows x 16 int32
  cfg.colsb[2] = 64, cfg.rows[2] = uint8_t(rows);                               // A: rows x 64 u8
  cfg.colsb[3] = cfg.colsb[4] = 64, cfg.rows[3] = cfg.rows[4] = 16;             // B: 16 groups x 16 x 4 s8
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  const int64_t steps = kg / 16;
  for (int64_t s = 0; s < steps; ++s) {
    _tile_loadd(2, a + s * 64, lda);
    _tile_loadd(3, b + s * 1024, 64);
    _tile_dpbusd(0, 2, 3);
    if (two) {
      _tile_loadd(4, b + panel_stride + s * 1024, 64);
      _tile_dpbusd(1, 2, 4);
    }
  }
  alignas(64) int32_t acc[16][32];
  _tile_stored(0, &acc[0][0], 128);
  if (two) _tile_stored(1, &acc[0][16], 128);
  _tile_release();
  for (int64_t g = steps * 16; g < kg; ++g) {  // the partial step
    const __m512i b0 = _mm512_load_si512(b + g * 64);
    const __m512i b1 = two ? _mm512_load_si512(b + panel_stride + g * 64) : b0;
    for (int r = 0; r < rows; ++r) {
      int32_t v;
      std::memcpy(&v, a + r * lda + g * 4, 4);
      const __m512i av = _mm512_set1_epi32(v);
      _mm512_store_si512(&acc[r][0], _mm512_dpbusd_epi32(_mm512_load_si512(&acc[r][0]), av, b0));
      if (two) _mm512_store_si512(&acc[r][16], _mm512_dpbusd_epi32(_mm512_load_si512(&acc[r][16]), av, b1));
    }
  }
  const __m512i corr0 = _mm512_slli_epi32(_mm512_loadu_si512(colsum), 7);
  const __m512i corr1 = _mm512_slli_epi32(_mm512_loadu_si512(colsum + 16), 7);
  const __m512 w0 = _mm512_loadu_ps(ws), w1 = _mm512_loadu_ps(ws + 16);
  for (int r = 0; r < rows; ++r) {  // c has room for 32 columns per row: whole vectors are stored
    const __m512 x = _mm512_set1_ps(xs[r]);
    const __m512i lo = _mm512_load_si512(&acc[r][0]);
    _mm512_storeu_ps(c + r * ldc, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, corr0)), _mm512_mul_ps(x, w0)));
    if (two) {
      const __m512i hi = _mm512_load_si512(&acc[r][16]);
      _mm512_storeu_ps(c + r * ldc + 16,
                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, corr1)), _mm512_mul_ps(x, w1)));
    }
  }
}

}  // namespace

const Int8Kernels& int8_kernels_amx() {
  static const Int8Kernels t{"amx-int8", Isa::avx512, 16, 32, true, int8_tile};
  return t;
}

}  // namespace avx512
}  // namespace fffbert
