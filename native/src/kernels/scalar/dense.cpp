// Scalar dense kernels: the naive definitions. They are the oracle of the tests and the fallback on CPUs
// without a SIMD set, so they stay plain loops (compiled with -ffp-contract=off: no FMA contraction).
#include <cmath>
#include <vector>

#include "kernels/dense_kernels.h"

namespace fffbert {
namespace scalar {
namespace {

float activate(float x, Activation act) {
  switch (act) {
    case Activation::gelu_erf: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case Activation::tanh: return std::tanh(x);
    case Activation::none: break;
  }
  return x;
}

void epilogue(float* c, int64_t ldc, int rows, int cols, const float* bias, Activation act, const float* res,
              int64_t ldr) {
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < cols; ++j) {
      float v = activate(c[r * ldc + j] + (bias ? bias[j] : 0.0f), act);
      if (res) v += res[r * ldr + j];
      c[r * ldc + j] = v;
    }
  }
}

void gelu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = activate(x[i], Activation::gelu_erf);
}

void layernorm_row(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = sum / float(n);
  float sq = 0.0f;
  for (int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const float rstd = 1.0f / std::sqrt(sq / float(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i];
}

void softmax_row(float* s, int64_t n, float scale, const float* mask_add) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = scale * s[j] + (mask_add ? mask_add[j] : 0.0f);
    mx = s[j] > mx ? s[j] : mx;
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
  }
  for (int64_t j = 0; j < n; ++j) s[j] /= sum;
}

}  // namespace

void sgemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      float sum = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        const float a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
      }
      C[i * ldc + j] = alpha * sum + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
    }
  }
}

void linear_naive(const float* panels, const float* bias, int64_t N, int64_t K, const float* x, int64_t ldx, int64_t m0,
                  int64_t m1, float* y, int64_t ldy, Activation act, const float* res, int64_t ldr) {
  for (int64_t i = m0; i < m1; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      const float* w = panels + (j / kPanelWidth) * K * kPanelWidth + j % kPanelWidth;  // W[j, k] at w[k * 16]
      float sum = 0.0f;
      for (int64_t k = 0; k < K; ++k) sum += x[i * ldx + k] * w[k * kPanelWidth];
      y[i * ldy + j] = sum;
    }
    epilogue(y + i * ldy, ldy, 1, int(N), bias, act, res ? res + i * ldr : nullptr, ldr);
  }
}

void attention_naive(const float* q, const float* k, const float* v, int64_t ld, int64_t seq, int64_t head_dim,
                     const float* mask_add, float scale, float* out, int64_t ld_out) {
  std::vector<float> p(static_cast<size_t>(seq));
  for (int64_t s = 0; s < seq; ++s) {
    for (int64_t j = 0; j < seq; ++j) {
      float dot = 0.0f;
      for (int64_t d = 0; d < head_dim; ++d) dot += q[s * ld + d] * k[j * ld + d];
      p[size_t(j)] = dot;
    }
    softmax_row(p.data(), seq, scale, mask_add);
    for (int64_t d = 0; d < head_dim; ++d) {
      float acc = 0.0f;
      for (int64_t j = 0; j < seq; ++j) acc += p[size_t(j)] * v[j * ld + d];
      out[s * ld_out + d] = acc;
    }
  }
}

const DenseKernels& dense_kernels() {
  static const DenseKernels table = [] {
    DenseKernels t;
    t.epilogue = epilogue;
    t.gelu = gelu;
    t.layernorm_row = layernorm_row;
    t.softmax_row = softmax_row;
    return t;
  }();
  return table;
}

}  // namespace scalar
}  // namespace fffbert
