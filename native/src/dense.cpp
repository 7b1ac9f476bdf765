// Dense drivers besides GEMM and attention: the kernel-table selection, LayerNorm and GELU.
#include "fffbert/dense.h"

#include <algorithm>

#include "kernels/dense_kernels.h"

namespace fffbert {

const DenseKernels& dense_kernels_for(Isa isa) {
  switch (isa_runnable(isa)) {
#if defined(FFFBERT_HAVE_AVX2)
    case Isa::avx2: return avx2::dense_kernels();
#endif
#if defined(FFFBERT_HAVE_AVX512)
    case Isa::avx512: return avx512::dense_kernels();
#endif
#if defined(FFFBERT_HAVE_NEON)
    case Isa::neon: return neon::dense_kernels();
#endif
    default: return scalar::dense_kernels();
  }
}

void layernorm(const float* x, int64_t rows, int64_t n, int64_t ldx, const float* gamma, const float* beta, float eps,
               float* y, int64_t ldy, Isa isa, ThreadPool& pool) {
  if (rows <= 0 || n <= 0) return;
  const DenseKernels& kern = dense_kernels_for(isa);
  // Rows of at least ~16K elements per chunk: a 768-wide row takes ~0.3 us, a pool hand-off more.
  const int64_t grain = std::max<int64_t>(1, 16384 / n);
  pool.parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) kern.layernorm_row(x + r * ldx, n, gamma, beta, eps, y + r * ldy);
  });
}

void gelu(const float* x, float* y, int64_t n, Isa isa) {
  if (n > 0) dense_kernels_for(isa).gelu(x, y, n);
}

}  // namespace fffbert
