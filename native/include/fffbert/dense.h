// Dense kernels a BERT needs besides the FFF: packed SGEMM with fused epilogues, LayerNorm, softmax attention.
//
// Every entry takes the instruction set and the pool explicitly (tests run each ISA side by side); results do
// not depend on the thread count (bitwise: the work split never changes an element's order of operations). An
// `isa` that is not supported here runs the scalar reference instead of faulting (isa_runnable).
#pragma once
#include <cstdint>
#include <memory>

#include "fffbert/isa.h"
#include "fffbert/pool.h"

namespace fffbert {

enum class Activation : int { none = 0, gelu_erf = 1, tanh = 2 };

// Epilogue applied to y = x @ W^T (+ bias): y = act(y + bias) (+ residual). residual: [M, N] with row stride ldr.
struct Epilogue {
  Activation act = Activation::none;
  const float* residual = nullptr;
  int64_t ldr = 0;
};

// A Linear layer's weight in PyTorch layout [N (out), K (in)] plus optional bias [N], packed once into the
// GEMM's B panels (16 output columns x all K, zero-padded to a multiple of 16 columns). Copies its inputs.
struct PackedLinear;
struct PackedLinearDeleter {
  void operator()(PackedLinear* p) const;
};
using PackedLinearPtr = std::unique_ptr<PackedLinear, PackedLinearDeleter>;

// Null when N < 1 or K < 1, weight is null, or memory runs out. The packing serves every ISA: 16 columns are one
// AVX-512 vector, two AVX2 or four NEON vectors; the 16-wide micro-kernels (AVX2, NEON) read one panel, the
// 32-wide AVX-512 one reads two adjacent panels, the scalar reference reads it element by element.
//
// dtype (the storage and arithmetic of the product; bias, activation and residual stay fp32):
//   f32:  the SGEMM above, bitwise as without the argument.
//   int8: W quantized once per output row n (symmetric: s_n = max|W[n,:]| / 127, q = round(W / s_n) in
//         [-127, 127], round half to even); each call quantizes every x row the same way (its own scale s_x),
//         sums q_x q_w exactly in int32 and rescales y = float(sum) * (s_x * s_n) before the fp32 epilogue. The
//         integer sums are bitwise the same on every kernel (VNNI, AVX2, NEON, scalar), the rescale is one fixed
//         sequence. A row with a NaN or infinite element gives NaN for its whole output row. K <= 65536 (int32
//         sums cannot overflow); larger K returns null.
//   bf16: W rounded once to bf16 (nearest even, subnormals flushed to zero), each x row rounded likewise per
//         call; fp32 accumulation of the exact products, per output over k pairs in order, odd k before even
//         (vdpbf16ps's order), so every kernel rounds as the scalar oracle (partial sums below 2^-126 aside).
//         Except the matrix units, each in its own fixed order (kernels/lowp_kernels.h Bf16Order, each with its
//         oracle): amx-bf16 (even and odd products summed apart per 16 k pairs) and neon-bf16 (bfmmla: adds
//         rounded to odd). Results then depend on the CPU, as fp32's do on the ISA.
enum class LinearDtype : int { f32 = 0, int8 = 1, bf16 = 2 };
PackedLinearPtr linear_create(const float* weight, const float* bias, int64_t out_features, int64_t in_features,
                              LinearDtype dtype = LinearDtype::f32);
LinearDtype linear_dtype(const PackedLinear& w);
// The kernel a layer of `dtype` runs on for `isa` ("avx512-vnni", "avx2", "neon-sdot", "avx512-bf16",
// "widen-avx2", "scalar", ...; f32: the ISA's name), as isa() reports it.
const char* linear_kernel_name(LinearDtype dtype, Isa isa);
int64_t linear_out_features(const PackedLinear& w);
int64_t linear_in_features(const PackedLinear& w);
int64_t linear_weight_bytes(const PackedLinear& w);
// Rows [n0, n0 + rows) of the weight as given to linear_create (PyTorch layout: row n = output n, K floats)
// into out[rows, K], gathered from the panels (exact copies; int8 and bf16 layers give the weights they
// multiply with: q * s_n, the bf16 values). Requires 0 <= n0 <= n0 + rows <= N. Lets a table
// that is also a Linear's weight (a BERT's word embedding and its tied MLM decoder) be held once, packed.
void linear_copy_rows(const PackedLinear& w, int64_t n0, int64_t rows, float* out);
// Replaces the bias (N floats, copied; null = none). False when memory runs out (the layer is unchanged).
bool linear_set_bias(PackedLinear& w, const float* bias);

// y[M, N] (row stride ldy) = epilogue(x[M, K] (row stride ldx) @ W^T + bias). y must not alias x; it may alias
// the residual only when ldy == ldr (residual == y without activation: y accumulates in place, summed as
// r + x W^T + bias; otherwise the residual is copied first). Threads split rows when there are at
// least 4 micro-tile rows (24 for AVX2) per thread, else output columns (one sentence still uses every thread).
void linear_forward(const PackedLinear& w, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
                    const Epilogue& ep, Isa isa, ThreadPool& pool);

// General SGEMM (BLAS semantics, row-major): C = alpha * op(A) @ op(B) + beta * C, op(A) [M, K], op(B) [K, N].
// trans_a: A is stored [K, M]; trans_b: B is stored [N, K]. Packs B per call (for tests and the benchmark).
// beta == 0: C is not read (NaN in C does not propagate); alpha == 0 or K == 0: A and B are not read.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, Isa isa, ThreadPool& pool);

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta over rows of length n (biased variance, as PyTorch).
// y may alias x (same stride).
void layernorm(const float* x, int64_t rows, int64_t n, int64_t ldx, const float* gamma, const float* beta, float eps,
               float* y, int64_t ldy, Isa isa, ThreadPool& pool);

// h[r] += f[r] (a residual add, elementwise), then y[r] = LayerNorm(h[r]) as layernorm() computes it, over
// contiguous rows of length n; one pass and one pool job instead of two. y may alias h; f must not.
void add_layernorm(float* h, const float* f, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps,
                   float* y, Isa isa, ThreadPool& pool);

// y = GELU_erf(x) = x/2 (1 + erf(x / sqrt 2)), elementwise, in place allowed. The SIMD sets use a rational erf:
// within 4 ulp for x >= 0 and 3 u |x| + 4 ulp absolute for x < 0 (u = 2^-24; native/tests/test_dense.cpp).
void gelu(const float* x, float* y, int64_t n, Isa isa);

// Multi-head softmax attention over a batch of sequences.
// Token t = b*seq + s. For head h and dim d: Q at q[t*ld + h*head_stride + d], K and V likewise (k, v, same
// ld and head_stride), so both the crammedBERT interleaved QKV row (q=qkv, k=qkv+hd, v=qkv+2hd, ld=3H,
// head_stride=3hd) and the HF Q|K|V block layout (q=qkv, k=qkv+H, v=qkv+2H, ld=3H, head_stride=hd) fit.
// scores = scale * Q K^T + key_mask_add[b, key] (additive, [batch, seq], or null), softmax over keys, P V.
// The mask must keep each row's maximum finite (-10000 or finfo.min style values, not -inf on every key).
// out: [batch*seq, heads*head_dim], row stride ld_out, heads concatenated; must not overlap q, k, v.
// One task per (batch, head) on the pool.
struct AttentionShape {
  int64_t batch, seq, heads, head_dim;
};
void attention(const float* q, const float* k, const float* v, int64_t ld, int64_t head_stride,
               const AttentionShape& shape, const float* key_mask_add, float scale, float* out, int64_t ld_out, Isa isa,
               ThreadPool& pool);

}  // namespace fffbert
