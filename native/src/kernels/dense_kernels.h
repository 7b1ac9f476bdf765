// The table of dense kernels each instruction set provides (internal to the core).
//
// One table per ISA, defined in kernels/<isa>/dense.cpp inside namespace fffbert::<isa>, compiled with that
// ISA's flags only. The drivers (dense.cpp, gemm.cpp, attention.cpp) hold the loops, blocking and threading and
// call only through the table. The scalar table is the oracle: its functions are the naive definitions, and the
// scalar GEMM/attention paths bypass the micro-kernel entirely (sgemm_naive, linear_naive, attention_naive).
#pragma once
#include <cstdint>

#include "fffbert/dense.h"

namespace fffbert {

// B operand of every GEMM: "panels" of kPanelWidth columns, zero-padded, each holding all K rows:
// element (k, n) of op(B) [K, N] at panel (n / 16), offset k * 16 + n % 16; panel p starts at p * panel_stride
// (panel_stride >= K * 16). 16 columns are one AVX-512 vector, two AVX2 vectors, four NEON vectors, so a single
// packing serves every kernel: 16-wide kernels read one panel, the AVX-512 32-wide kernel two adjacent panels.
constexpr int kPanelWidth = 16;

struct DenseKernels {
  // --- GEMM micro-kernel: C tile [rows <= mr, cols <= nr] ---------------------------------------------------
  int mr = 0;  // rows of the register tile
  int nr = 0;  // columns of the register tile: a multiple of kPanelWidth
  int kc = 0;  // depth of one cache block (A micro-panel kc x mr and B micro-panel kc x nr stay in L1/L2)
  int mc = 0;  // rows of one packed A block (a multiple of mr; mc x kc stays in L2)
  // C[rows, cols] (row stride ldc) = (accumulate ? C : 0) + A B over kc.
  // a: lda == 0: a packed A micro-panel, a[k * mr + i] (rows i >= `rows` are never read); lda > 0: A read in
  // place, row-major a[i * lda + k] (attention's Q and P: packing them cost as much as their GEMMs);
  // b: panel 0 at its k offset, b[k * 16 + j]; panel 1 (32-wide kernels) at b + panel_stride, read only when
  // cols > 16. Every element is the same sequence of FMAs whatever rows/cols are, so edge tiles round exactly as
  // full ones (results independent of the thread split).
  void (*gemm_tile)(int64_t kc, const float* a, int64_t lda, const float* b, int64_t panel_stride, float* c,
                    int64_t ldc, int rows, int cols, bool accumulate) = nullptr;
  // Optional (null: gemm_tile is used): gemm_tile with A read in place (lda > 0), which also prefetches into L2,
  // one line per k, the B line kc rows further on (b + kc * 16 at k = 0). For the panel-sequential walk of few rows
  // (gemm.cpp): there the next k block, or the next panel, follows in memory, and every tile, not only the first
  // one to touch a block, keeps the stream ahead. Prefetches past the end of B are harmless. Bitwise gemm_tile.
  void (*gemm_tile_stream)(int64_t kc, const float* a, int64_t lda, const float* b, int64_t panel_stride, float* c,
                           int64_t ldc, int rows, int cols, bool accumulate) = nullptr;
  // c[r, j] = act(c[r, j] + bias[j]) + res[r, j] for r < rows, j < cols; bias and res may be null.
  void (*epilogue)(float* c, int64_t ldc, int rows, int cols, const float* bias, Activation act, const float* res,
                   int64_t ldr) = nullptr;
  // y = GELU_erf(x) over n elements (in place allowed).
  void (*gelu)(const float* x, float* y, int64_t n) = nullptr;
  // One LayerNorm row of n: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance; y may be x).
  void (*layernorm_row)(const float* x, int64_t n, const float* gamma, const float* beta, float eps,
                        float* y) = nullptr;
  // s[j] = softmax(scale * s + mask_add)[j] over n (mask_add may be null), max-subtracted.
  void (*softmax_row)(float* s, int64_t n, float scale, const float* mask_add) = nullptr;
};

namespace scalar {
const DenseKernels& dense_kernels();
// The oracles. C = alpha * op(A) op(B) + beta * C (beta == 0: C is not read), plain triple loop.
void sgemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// Rows [m0, m1) of y = epilogue(x W^T + bias), W read from its panels (layout above, panel_stride = K * 16).
void linear_naive(const float* panels, const float* bias, int64_t N, int64_t K, const float* x, int64_t ldx, int64_t m0,
                  int64_t m1, float* y, int64_t ldy, Activation act, const float* res, int64_t ldr);
// One (batch, head): out[s, d] = sum_j softmax_j(scale * q_s . k_j + mask[j]) v_j[d]; rows of q/k/v at stride ld.
void attention_naive(const float* q, const float* k, const float* v, int64_t ld, int64_t seq, int64_t head_dim,
                     const float* mask_add, float scale, float* out, int64_t ld_out);
}  // namespace scalar
// Defined only where that kernel file is compiled (x86: avx2, avx512; aarch64: neon); dense.cpp calls them under
// the FFFBERT_HAVE_* definitions CMake sets.
namespace avx2 {
const DenseKernels& dense_kernels();
}
namespace avx512 {
const DenseKernels& dense_kernels();
}
namespace neon {
const DenseKernels& dense_kernels();
}

// The table for `isa` (the scalar one for sets not compiled in). Defined in dense.cpp.
const DenseKernels& dense_kernels_for(Isa isa);

}  // namespace fffbert
