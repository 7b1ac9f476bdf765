// AMX-INT8 and AMX-BF16 GEMM tiles (compiled with the AVX-512 flags + -mamx-tile -mamx-int8 -mamx-bf16
// -mavx512vnni; chosen only when CPUID reports AMX-INT8 (AMX-BF16) and AVX512-VNNI, the OS enables tile state
// and the process was granted it: isa.cpp amx_permitted()).
//
// Up to 16 rows x 32 columns per call: C tiles 0 and 1 (16 x 16 int32 / fp32, one per panel), A tile 2 (16 rows
// x 64 bytes, row stride lda), B tiles 3 and 4 (16 rows of 64 bytes: 1 KB of a panel, stride 64). The tiles always
// have 16 rows (the driver pads A to whole 16-row blocks; C rows past `rows` land in the driver's tile buffer and
// are not used), so one configuration serves every call of a layer: it is loaded when the thread's last one
// differs and kept until the driver's release() at the end of its run of tiles (no other code runs on the thread
// in between).
//
// int8: each step of 64 k is one tdpbusd per panel: the same exact int32 sums as vpdpbusd, then the same 128 *
// colsum correction and fp32 rescale as the VNNI tile. A last partial step (K not a multiple of 64) adds its k
// groups with vpdpbusd to the stored sums (integer sums: any order is exact).
// bf16: each step of 16 k pairs is one tdpbf16ps per panel; a last partial step uses tiles 5 (A: rows x 4 * rest
// bytes), 6 and 7 (B: rest rows), so every k pair goes through tdpbf16ps and the sums follow Bf16Order::amx_block16.
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

// The configuration this thread's tiles hold: 0 none, 1 int8, 2 + rest (0-15) for bf16 with `rest` k pairs in
// the partial step.
thread_local int loaded = 0;

void load(int key) {
  if (key == loaded) return;
  TileConfig cfg;
  for (int t = 0; t < 5; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;  // C 0-1, A 2, B 3-4
  if (key > 2) {                                                    // bf16 partial step: A 5, B 6-7
    const int rest = key - 2;
    cfg.colsb[5] = uint16_t(4 * rest), cfg.rows[5] = 16;
    cfg.colsb[6] = cfg.colsb[7] = 64, cfg.rows[6] = cfg.rows[7] = uint8_t(rest);
  }
  _tile_loadconfig(&cfg);
  loaded = key;
}

void release() {
  if (loaded == 0) return;
  _tile_release();
  loaded = 0;
}

void int8_tile(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride, const int32_t* colsum,
               const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) {
  const bool two = cols > 16;
  load(1);
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

// bf16: a and b in uint16 elements (lda, panel_stride too); c gets 16 rows (the driver's buffer holds them).
void bf16_tile(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
               int64_t ldc, int rows, int cols) {
  const bool two = cols > 16;
  const int64_t steps = kp / 16;
  const int rest = int(kp % 16);
  load(2 + rest);
  _tile_zero(0);
  _tile_zero(1);
  const uint16_t* b1 = b + panel_stride;
  for (int64_t s = 0; s < steps; ++s) {
    _tile_loadd(2, a + s * 32, lda * 2);
    _tile_loadd(3, b + s * 512, 64);
    _tile_dpbf16ps(0, 2, 3);
    if (two) {
      _tile_loadd(4, b1 + s * 512, 64);
      _tile_dpbf16ps(1, 2, 4);
    }
  }
  if (rest) {
    _tile_loadd(5, a + steps * 32, lda * 2);
    _tile_loadd(6, b + steps * 512, 64);
    _tile_dpbf16ps(0, 5, 6);
    if (two) {
      _tile_loadd(7, b1 + steps * 512, 64);
      _tile_dpbf16ps(1, 5, 7);
    }
  }
  _tile_stored(0, c, ldc * 4);
  if (two) _tile_stored(1, c + 16, ldc * 4);
}

}  // namespace

const Int8Kernels& int8_kernels_amx() {
  static const Int8Kernels t{"amx-int8", Isa::avx512, 16, 32, true, int8_tile, release};
  return t;
}

const Bf16Kernels& bf16_kernels_amx() {
  static const Bf16Kernels t{"amx-bf16", Isa::avx512, 16, 32, bf16_tile, Bf16Order::amx_block16, release};
  return t;
}

}  // namespace avx512
}  // namespace fffbert
