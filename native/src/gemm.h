// Internal GEMM building blocks shared by the linear/sgemm driver (gemm.cpp) and attention (attention.cpp).
//
// Goto/BLIS structure: op(B) lives in 16-wide panels (kernels/dense_kernels.h) packed once (PackedLinear) or
// per call (sgemm, attention); A is packed per (mc x kc) block into mr-row micro-panels; the ISA's micro-kernel
// computes one mr x nr tile of C per call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/dense_kernels.h"

namespace fffbert {
namespace gemm {

// 64-byte aligned float storage (panel loads are aligned vector loads), on huge pages from 2 MiB (memory.h).
class FloatBuffer {
 public:
  FloatBuffer() = default;
  explicit FloatBuffer(size_t n) { reserve(n); }
  // Capacity for n floats (contents are not kept when it grows).
  float* reserve(size_t n);
  float* data() const { return data_.get(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Free> data_;
  size_t capacity_ = 0;
};

inline int64_t panel_count(int64_t N) { return (N + kPanelWidth - 1) / kPanelWidth; }

// Packs op(B) [K, N], element (k, n) at src[k * rs + n * cs], into panel_count(N) panels of panel_stride floats
// (>= K * 16; columns beyond N are zero). Panels [p0, p1) only.
void pack_b(const float* src, int64_t rs, int64_t cs, int64_t K, int64_t N, float* dst, int64_t panel_stride,
            int64_t p0, int64_t p1);

// Packs alpha * A[rows, kc], element (i, k) at src[i * rs + k * cs], into mr-row micro-panels:
// dst[(i / mr) * kc * mr + k * mr + i % mr]. The rows of a last partial micro-panel beyond `rows` are not written
// (the micro-kernel never reads them).
void pack_a(const float* src, int64_t rs, int64_t cs, int64_t rows, int64_t kc, float alpha, int mr, float* dst);

// Epilogue of finished tiles; bias indexed from the block's first column, res from its (0, 0).
struct TileEpilogue {
  const float* bias = nullptr;
  Activation act = Activation::none;
  const float* res = nullptr;
  int64_t ldr = 0;
  bool active() const { return bias || res || act != Activation::none; }
};

// One k block: C[M, N] (= or +=) A B with A packed by pack_a (kc deep; lda == 0) or row-major in place (row
// stride lda > 0), and B the panels starting at b (already offset to this k block; panel p at
// b + p * panel_stride). Loops panels outside (B micro-panel stays in L1), micro-panels of A inside; applies `ep`
// to each tile right after it is stored when ep is non-null.
void gemm_block(const DenseKernels& kern, int64_t M, int64_t N, int64_t kc, const float* a, int64_t lda, const float* b,
                int64_t panel_stride, float* c, int64_t ldc, bool accumulate, const TileEpilogue* ep);

// A whole multiply C = epilogue(alpha * A op(B) (+ C)) with B packed, split over the pool.
struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const float* a = nullptr;  // element (i, k) at a[i * a_rs + k * a_cs]
  int64_t a_rs = 0, a_cs = 0;
  float alpha = 1.0f;
  const float* b = nullptr;  // panels
  int64_t panel_stride = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;  // add into C (the caller applied beta) instead of overwriting it
  TileEpilogue ep;          // applied after the last k block
};
void gemm_parallel(const DenseKernels& kern, const GemmArgs& g, ThreadPool& pool);

}  // namespace gemm
}  // namespace fffbert
