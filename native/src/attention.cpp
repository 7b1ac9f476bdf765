// Multi-head softmax attention (dense.h): one task per (batch, head) on the pool.
//
// Per head, with S = seq and D = head_dim: K^T is packed as GEMM panels [D, S] and the ISA's micro-kernel reads
// Q in place (row-major A) for scores [S, S]; softmax rows (scale, mask added); then V packed as panels [S, D]
// and out = P V (P read in place), stored straight into the concatenated-heads output. Scratch is thread-local.
#include <algorithm>

#include "fffbert/dense.h"
#include "gemm.h"

namespace fffbert {
namespace {

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

void attention_head(const DenseKernels& kern, const float* q, const float* k, const float* v, int64_t ld, int64_t S,
                    int64_t D, const float* mask_add, float scale, float* out, int64_t ld_out) {
  const int64_t s_pad = gemm::panel_count(S) * kPanelWidth;  // row stride of the scores
  const int64_t kt_size = round16(s_pad * D), sc_size = round16(S * s_pad);
  const int64_t vp_size = round16(gemm::panel_count(D) * kPanelWidth * S);
  thread_local gemm::FloatBuffer scratch;
  float* kt = scratch.reserve(size_t(kt_size + sc_size + vp_size));
  float* sc = kt + kt_size;
  float* vp = sc + sc_size;

  // K^T [D, S] as panels: element (d, j) = k[j * ld + d]. Q is read in place (row stride ld).
  gemm::pack_b(k, 1, ld, D, S, kt, D * kPanelWidth, 0, gemm::panel_count(S));
  gemm::gemm_block(kern, S, S, D, q, ld, kt, D * kPanelWidth, sc, s_pad, false, nullptr);
  for (int64_t i = 0; i < S; ++i) kern.softmax_row(sc + i * s_pad, S, scale, mask_add);
  // V [S, D] as panels: element (j, d) = v[j * ld + d]. P is read in place (row stride s_pad).
  gemm::pack_b(v, ld, 1, S, D, vp, S * kPanelWidth, 0, gemm::panel_count(D));
  gemm::gemm_block(kern, S, D, S, sc, s_pad, vp, S * kPanelWidth, out, ld_out, false, nullptr);
}

}  // namespace

void attention(const float* q, const float* k, const float* v, int64_t ld, int64_t head_stride,
               const AttentionShape& shape, const float* key_mask_add, float scale, float* out, int64_t ld_out, Isa isa,
               ThreadPool& pool) {
  const int64_t B = shape.batch, S = shape.seq, H = shape.heads, D = shape.head_dim;
  if (B <= 0 || S <= 0 || H <= 0 || D <= 0) return;
  const DenseKernels& kern = dense_kernels_for(isa);
  pool.parallel_tasks(B * H, [&](int64_t task, int) {
    const int64_t b = task / H, h = task % H;
    const int64_t in_off = b * S * ld + h * head_stride;
    float* o = out + b * S * ld_out + h * D;
    const float* mask = key_mask_add ? key_mask_add + b * S : nullptr;
    if (!kern.gemm_tile) {
      scalar::attention_naive(q + in_off, k + in_off, v + in_off, ld, S, D, mask, scale, o, ld_out);
    } else {
      attention_head(kern, q + in_off, k + in_off, v + in_off, ld, S, D, mask, scale, o, ld_out);
    }
  });
}

}  // namespace fffbert
