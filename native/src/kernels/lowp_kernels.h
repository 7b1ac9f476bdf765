// The int8 and bf16 GEMM micro-kernels of the low-precision Linear layers (dense.h LinearDtype), internal.
//
// Both read the B operand (the weight W [N, K]) from 16-column panels whose rows are 64 bytes: one 16-lane
// int32/fp32 vector of output columns, each lane holding the 4 (int8) or 2 (bf16) consecutive k it sums.
//   int8 "k4" panels: element (k, n) at panel n / 16, byte (k / 4) * 64 + (n % 16) * 4 + k % 4; K padded to a
//        multiple of 4 with zeros. This is vpdpbusd's operand, NEON sdot's (4 columns per q register) and an
//        AMX-INT8 B tile row.
//   bf16 "k2" panels: element (k, n) at panel n / 16, uint16 index (k / 2) * 32 + (n % 16) * 2 + k % 2; K padded
//        to even with zeros. vdpbf16ps's operand, NEON bfdot's (4 columns per q register), an AMX-BF16 B row.
// A (the activations) is quantized/rounded per call by the driver (lowp.cpp), rows of lda bytes/elements:
//   int8: q in [-127, 127] as int8, or q + 128 as uint8 when the kernel sets act_u8 (VNNI's u8 x s8: the kernel
//         then subtracts 128 * colsum[n], colsum[n] = sum_k q_w[n, k]); padding k hold 0 (q + 128: 128).
//   bf16: bf16 bit patterns, padding 0.
//   Rows are padded with zero rows to a multiple of 16: a tile may read 16 rows whatever its `rows` (AMX does).
// One tile computes the whole K (no k blocks), so an element's arithmetic never depends on the tile shape or
// the thread split.
#pragma once
#include <cstdint>

#include "fffbert/isa.h"

namespace fffbert {

// The fp32 accumulation order of a bf16 kernel. Products of two bf16 values are exact in fp32, so only the order
// and rounding of the adds differ between kernels; each add rounds to nearest even. The scalar oracle computes
// every order (scalar::linear_bf16_naive), so every kernel is checked bitwise against its own.
enum class Bf16Order : int {
  // Per k pair p from 0: c = (c + a[2p+1] w[2p+1]) + a[2p] w[2p] (vdpbf16ps, the widening kernels).
  odd_even = 0,
  // Per k pair: the even product first (the order of the SDM's older TDPBF16PS pseudo-code; no kernel uses it).
  even_odd = 1,
  // TDPBF16PS as a Sapphire Rapids-class Xeon computes it (bitwise, test_lowp.cpp lowp_amx_bf16_rule) and the
  // SDM's current pseudo-code says: per block of 16 k pairs (one instruction; the last block the pairs left), e =
  // the even products and o = the odd ones summed from +0 in k order, one FMA rounding each; then c = c + (e + o).
  // Every add flushes a result below 2^-126 to zero (FTZ).
  amx_block16 = 2,
  // Arm BFDOT and BFMMLA with FPCR.EBF = 0 (the Arm ARM's BFDotAdd: "2-way unfused dot products"; QEMU's
  // bfdotadd): per k pair from 0, t = a[2p] w[2p] + a[2p+1] w[2p+1], then c = c + t, each add rounded to odd
  // (an inexact result gets bit 0 set; overflow gives infinity), results below 2^-126 flushed to zero.
  arm_bf16 = 3,
};

struct Int8Kernels {
  const char* name = nullptr;  // reported by isa(): "avx512-vnni", "avx2", "neon-sdot", "scalar", ...
  Isa isa = Isa::scalar;       // the tier whose dense epilogue (bias, activation, residual) runs after it
  int mr = 0, nr = 0;          // tile rows; tile columns (16 or 32: one or two panels)
  bool act_u8 = false;         // A holds q + 128 (see above)
  // c[r, j] = float(sum_k a[r, k] w[n0 + j, k]) * (xs[r] * ws[j]) for r < rows, j < cols; kg = K / 4 groups.
  // c is the driver's tile buffer, with room for nr columns per row: kernels may store whole vectors.
  // b: the first panel of the tile, the next at b + panel_stride bytes; colsum, ws: from the tile's column 0.
  // Null in the scalar table: the driver runs the naive oracle (scalar::linear_int8_naive) instead.
  void (*tile)(int64_t kg, const uint8_t* a, int64_t lda, const int8_t* b, int64_t panel_stride, const int32_t* colsum,
               const float* xs, const float* ws, float* c, int64_t ldc, int rows, int cols) = nullptr;
  // Called by the driver on each thread after its run of tiles (AMX: releases the tile state the tiles keep
  // configured between calls); null when there is nothing to release.
  void (*release)() = nullptr;
};

struct Bf16Kernels {
  const char* name = nullptr;  // "avx512-bf16", "widen-avx512", "widen-avx2", "neon-bfdot", "scalar"
  Isa isa = Isa::scalar;
  int mr = 0, nr = 0;
  // c[r, j] = sum over k pairs of a[r, k] w[n0 + j, k] from 0, in `order`; kp = K / 2. c and A as for Int8Kernels.
  void (*tile)(int64_t kp, const uint16_t* a, int64_t lda, const uint16_t* b, int64_t panel_stride, float* c,
               int64_t ldc, int rows, int cols) = nullptr;
  Bf16Order order = Bf16Order::odd_even;
  void (*release)() = nullptr;  // as Int8Kernels::release
};

namespace scalar {
const Int8Kernels& int8_kernels();
const Bf16Kernels& bf16_kernels();
// The oracles: the raw products (before bias and epilogue) of `rows` rows into y[rows, N] (row stride ldy).
// int8: a [rows, lda] signed q (not + 128), xs [rows]; panels k4, panel_stride bytes apart; ws [N].
void linear_int8_naive(const int8_t* panels, int64_t panel_stride, const float* ws, int64_t N, int64_t K,
                       const int8_t* a, int64_t lda, const float* xs, int64_t rows, float* y, int64_t ldy);
// bf16: a [rows, lda] bf16 bits; panels k2, panel_stride uint16 elements apart; the adds in `order`.
void linear_bf16_naive(const uint16_t* panels, int64_t panel_stride, int64_t N, int64_t K, const uint16_t* a,
                       int64_t lda, int64_t rows, float* y, int64_t ldy, Bf16Order order = Bf16Order::odd_even);
}  // namespace scalar
namespace avx2 {
const Int8Kernels& int8_kernels();          // vpsignb + vpmaddubsw + vpmaddwd (|a| <= 127: no int16 saturation)
const Bf16Kernels& bf16_kernels();          // widening: bf16 << 16, FMA
const Int8Kernels& int8_kernels_avxvnni();  // VEX vpdpbusd (AVX-VNNI)
}  // namespace avx2
namespace avx512 {
const Int8Kernels& int8_kernels_vnni();  // vpdpbusd (AVX512-VNNI)
const Bf16Kernels& bf16_kernels_dot();   // vdpbf16ps (AVX512_BF16)
const Int8Kernels& int8_kernels_amx();   // tdpbusd (AMX-INT8), 16 x 32 tiles
const Bf16Kernels& bf16_kernels_amx();   // tdpbf16ps (AMX-BF16), 16 x 32 tiles, Bf16Order::amx_block16
// linear.h's scalar::quantize_row_int8 / round_row_bf16 in AVX-512F/BW, byte for byte (lowp_convert.cpp).
float quantize_row_int8(const float* x, int64_t K, int64_t kpad, bool u8, uint8_t* q);
void round_row_bf16(const float* x, int64_t K, int64_t kpad, uint16_t* out);
}  // namespace avx512
namespace neon {
const Int8Kernels& int8_kernels_sdot();  // sdot (FEAT_DotProd)
const Int8Kernels& int8_kernels_i8mm();  // smmla (FEAT_I8MM)
const Bf16Kernels& bf16_kernels();       // widening: bf16 << 16, FMA
const Bf16Kernels& bf16_kernels_bf16();  // bfmmla (FEAT_BF16), Bf16Order::arm_bf16
}  // namespace neon

// Every int8 / bf16 kernel compiled into this binary, with whether this CPU runs it (tests loop over them).
struct LowpVariant {
  const Int8Kernels* int8 = nullptr;
  const Bf16Kernels* bf16 = nullptr;
  bool runnable = false;
};
int lowp_variants(LowpVariant* out, int capacity);
// The kernel the drivers use for `isa` (the best one runnable within that tier; scalar when unsupported). int8 on
// the avx512 tier: AMX when permitted, except for a single row (M = 1), where VNNI is as fast or faster (16-core
// Xeon, 2 threads, bench/native/lowp_gemm.cpp: 768 x 3072, 29 us against AMX's 40; from M = 2 on AMX is equal
// or faster, 1.3-1.9x at M >= 128 now that the tile configuration stays loaded between tiles). int8 results are
// the same bits on either. M = 0: the choice for M > 1 (what isa() reports).
const Int8Kernels& int8_kernels_for(Isa isa, int64_t M = 0, int64_t N = 0, int64_t K = 0);
// bf16 on the avx512 tier: AMX-BF16 whenever permitted (for every M: a row's bits then never depend on the batch
// it came in, and vdpbf16ps is no faster even at M = 1), else vdpbf16ps, else widening.
const Bf16Kernels& bf16_kernels_for(Isa isa);

}  // namespace fffbert
