// Dense drivers besides GEMM and attention: the kernel-table selection, LayerNorm (with a residual add) and GELU.
#include "fffbert/dense.h"

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
  pool.parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) kern.layernorm_row(x + r * ldx, n, gamma, beta, eps, y + r * ldy);
  });
}

void add_layernorm(float* h, const float* f, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps,
                   float* y, Isa isa, ThreadPool& pool) {
  if (rows <= 0 || n <= 0) return;
  const DenseKernels& kern = dense_kernels_for(isa);
  pool.parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* hr = h + r * n;
      const float* fr = f + r * n;
      for (int64_t j = 0; j < n; ++j) hr[j] += fr[j];
      kern.layernorm_row(hr, n, gamma, beta, eps, y + r * n);
    }
  });
}

void gelu(const float* x, float* y, int64_t n, Isa isa) {
  if (n > 0) dense_kernels_for(isa).gelu(x, y, n);
}

}  // namespace fffbert
