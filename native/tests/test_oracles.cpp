// The scalar oracles themselves against float64 references written from the definitions: every SIMD set is
// tested against scalar (test_dense.cpp), so scalar must be checked against something it was not derived from.
//
// Bounds are a priori error bounds (u = 2^-24), computed per element in float64, not fitted numbers:
//   SGEMM, sequential sums of K products: |C - C64| <= (K + 2) u (|alpha| sum_k |a_k b_k| + |beta c|) + tiny.
//   Attention: a score with error ds_j moves softmax weight p_j by <= p_j (|ds_j| + max |ds|) plus (S + 4) u p_j
//   for exp, sum and division; the output sum_j p_j v_j adds S u sum_j p_j |v_j|. With
//   D = max_j (hd + 2) u scale sum_i |q_i k_ij| (the dot, scaling and mask add), the bound is
//   sum_j p_j |v_j| (2 D + (2 S + 8) u).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "fffbert/dense.h"
#include "fffbert/isa.h"
#include "linear_case.h"
#include "test.h"

using namespace fffbert;
using namespace fffbert_test;

namespace {

constexpr double kTiny = 1e-30;  // keeps a zero bound from failing on an exact zero difference

// Returns the worst error as a fraction of the bound.
double check_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, std::mt19937& rng) {
  const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
  const auto A = random_vec(rng, size_t((ta ? K : M) * lda), -1.0f, 1.0f);
  const auto B = random_vec(rng, size_t((tb ? N : K) * ldb), -1.0f, 1.0f);
  const auto C0 = random_vec(rng, size_t(M * ldc), -1.0f, 1.0f);
  std::vector<float> C = C0;
  sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc, Isa::scalar, pool(1));
  int bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double exact = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
        const double b = tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
        exact += a * b;
        mag += std::fabs(a * b);
      }
      const double c0 = C0[size_t(i * ldc + j)];
      const double ref = double(alpha) * exact + (beta == 0.0f ? 0.0 : double(beta) * c0);
      const double bound = double(K + 2) * kU * (std::fabs(alpha) * mag + std::fabs(beta) * std::fabs(c0)) + kTiny;
      const double err = std::fabs(double(C[size_t(i * ldc + j)]) - ref);
      worst = std::max(worst, err / bound);
      if (!(err <= bound)) ++bad;
    }
  }
  CHECK_MSG(bad == 0,
            "sgemm ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g: %d elements beyond the bound (worst %.2f)",
            int(ta), int(tb), (long long)M, (long long)N, (long long)K, alpha, beta, bad, worst);
  return worst;
}

}  // namespace

TEST(oracle_scalar_sgemm_vs_float64) {
  std::mt19937 rng(11);
  const int64_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 48, 300}, {5, 129, 1000}};
  double worst = 0;
  for (const auto& s : sizes) {
    for (int t = 0; t < 4; ++t) {
      worst = std::max(worst, check_sgemm(t & 1, t & 2, s[0], s[1], s[2], 1.0f, 0.0f, rng));
      worst = std::max(worst, check_sgemm(t & 1, t & 2, s[0], s[1], s[2], -0.75f, 0.5f, rng));
    }
  }
  std::printf("     scalar sgemm, 40 shapes x transposes x (alpha, beta): worst error %.3f of the bound\n", worst);
}

TEST(oracle_scalar_attention_vs_float64) {
  std::mt19937 rng(12);
  struct Case {
    int64_t batch, seq, heads, hd;
    bool masked;
  };
  for (const Case& c : {Case{1, 1, 1, 1, false}, Case{2, 7, 3, 5, true}, Case{1, 33, 2, 16, true},
                        Case{3, 64, 4, 12, false}, Case{1, 128, 1, 64, true}}) {
    const int64_t H = c.heads * c.hd, ld = 3 * H, T = c.batch * c.seq;
    const auto qkv = random_vec(rng, size_t(T * ld), -2.0f, 2.0f);
    std::vector<float> mask(size_t(T), 0.0f);
    if (c.masked) {
      for (int64_t b = 0; b < c.batch; ++b) {
        for (int64_t s = c.seq - c.seq / 3; s < c.seq; ++s) mask[size_t(b * c.seq + s)] = -10000.0f;
        if (c.seq > 1) mask[size_t(b * c.seq)] = -10000.0f;  // a masked key first, too
      }
    }
    const float scale = float(1.0 / std::sqrt(double(c.hd)));
    std::vector<float> out(size_t(T * H));
    // Interleaved per head as crammedBERT's QKV: q at h*3hd, k at +hd, v at +2hd.
    attention(qkv.data(), qkv.data() + c.hd, qkv.data() + 2 * c.hd, ld, 3 * c.hd, {c.batch, c.seq, c.heads, c.hd},
              mask.data(), scale, out.data(), H, Isa::scalar, pool(1));
    int bad = 0;
    double worst = 0;
    std::vector<double> score(size_t(c.seq)), p(size_t(c.seq));
    for (int64_t b = 0; b < c.batch; ++b) {
      for (int64_t h = 0; h < c.heads; ++h) {
        for (int64_t i = 0; i < c.seq; ++i) {
          const float* q = &qkv[size_t((b * c.seq + i) * ld + h * 3 * c.hd)];
          double m = -INFINITY, ds = 0;
          for (int64_t j = 0; j < c.seq; ++j) {
            const float* k = &qkv[size_t((b * c.seq + j) * ld + h * 3 * c.hd + c.hd)];
            double dot = 0, mag = 0;
            for (int64_t d = 0; d < c.hd; ++d) {
              dot += double(q[d]) * k[d];
              mag += std::fabs(double(q[d]) * k[d]);
            }
            score[size_t(j)] = double(scale) * dot + mask[size_t(b * c.seq + j)];
            ds = std::max(ds, double(c.hd + 2) * kU * double(scale) * mag);
            m = std::max(m, score[size_t(j)]);
          }
          double z = 0;
          for (int64_t j = 0; j < c.seq; ++j) z += p[size_t(j)] = std::exp(score[size_t(j)] - m);
          for (int64_t j = 0; j < c.seq; ++j) p[size_t(j)] /= z;
          for (int64_t d = 0; d < c.hd; ++d) {
            double ref = 0, mag = 0;
            for (int64_t j = 0; j < c.seq; ++j) {
              const double v = qkv[size_t((b * c.seq + j) * ld + h * 3 * c.hd + 2 * c.hd + d)];
              ref += p[size_t(j)] * v;
              mag += p[size_t(j)] * std::fabs(v);
            }
            const double bound = mag * (2 * ds + double(2 * c.seq + 8) * kU) + kTiny;
            const double err = std::fabs(double(out[size_t((b * c.seq + i) * H + h * c.hd + d)]) - ref);
            worst = std::max(worst, err / bound);
            if (!(err <= bound)) ++bad;
          }
        }
      }
    }
    CHECK_MSG(bad == 0, "attention B=%lld S=%lld heads=%lld hd=%lld: %d elements beyond the bound (worst %.2f)",
              (long long)c.batch, (long long)c.seq, (long long)c.heads, (long long)c.hd, bad, worst);
    std::printf("     scalar attention B=%lld S=%lld heads=%lld hd=%lld: worst error %.3f of the bound\n",
                (long long)c.batch, (long long)c.seq, (long long)c.heads, (long long)c.hd, worst);
  }
}
