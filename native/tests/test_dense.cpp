// Dense kernels (dense.h) of every runnable ISA against the scalar oracle, on awkward shapes and thread counts.
//
// Tolerances are error bounds, not fitted numbers. u = 2^-24. A float dot product of length K differs from the
// exact one by at most ~K u sum|a_k b_k| (each FMA/add rounds once; k blocking adds one rounding per block), so
// two implementations differ by at most 2 (K + 4) u sum|a b| per element.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "fffbert/dense.h"
#include "linear_case.h"
#include "test.h"

using namespace fffbert;

namespace {

// The SIMD sets this CPU runs (scalar is the oracle); the others are reported as skipped.
std::vector<Isa> simd_isas() {
  std::vector<Isa> v = fffbert_test::runnable_isas(true);
  v.erase(std::remove(v.begin(), v.end(), Isa::scalar), v.end());
  return v;
}

using fffbert_test::pool;
using namespace fffbert_test;

// Counts elements outside tolerance; prints the first few.
int compare(const char* what, const float* got, const float* want, const double* tol, size_t n) {
  int bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    if (!(err <= tol[i]) && ++bad <= 3) {  // !(<=) also catches NaN
      CHECK_MSG(false, "%s: element %zu got %.9g want %.9g (err %.3g > tol %.3g)", what, i, got[i], want[i], err,
                tol[i]);
    }
  }
  CHECK_MSG(bad <= 3, "%s: %d elements out of tolerance in all", what, bad);
  return bad;
}

}  // namespace

// --- SGEMM ---------------------------------------------------------------------------------------------------

namespace {

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
  int threads;
};

// Runs one case on `isa` and on the scalar oracle with offset, padded views; checks the padding is untouched.
void check_sgemm(Isa isa, const GemmCase& t, std::mt19937& rng) {
  const int64_t pad = 3;  // every leading dimension is wider than the view, views start at an offset
  const int64_t a_rows = t.ta ? t.K : t.M, a_cols = t.ta ? t.M : t.K;
  const int64_t b_rows = t.tb ? t.N : t.K, b_cols = t.tb ? t.K : t.N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = t.N + pad;
  const std::vector<float> A = random_vec(rng, size_t(a_rows * lda + 1));
  const std::vector<float> B = random_vec(rng, size_t(b_rows * ldb + 1));
  std::vector<float> C0 = random_vec(rng, size_t(t.M * ldc + 1));
  if (t.beta == 0.0f) {  // beta == 0: C must not be read (NaN must not leak in)
    for (int64_t i = 0; i < t.M; ++i) C0[size_t(1 + i * ldc)] = NAN;
  }
  std::vector<float> got = C0, want = C0;
  sgemm(t.ta, t.tb, t.M, t.N, t.K, t.alpha, A.data() + 1, lda, B.data() + 1, ldb, t.beta, got.data() + 1, ldc, isa,
        pool(t.threads));
  sgemm(t.ta, t.tb, t.M, t.N, t.K, t.alpha, A.data() + 1, lda, B.data() + 1, ldb, t.beta, want.data() + 1, ldc,
        Isa::scalar, pool(1));
  std::vector<double> tol(got.size(), 0.0);
  for (int64_t i = 0; i < t.M; ++i) {
    for (int64_t j = 0; j < t.N; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < t.K; ++k) {
        const float a = t.ta ? A[size_t(1 + k * lda + i)] : A[size_t(1 + i * lda + k)];
        const float b = t.tb ? B[size_t(1 + j * ldb + k)] : B[size_t(1 + k * ldb + j)];
        s += std::fabs(double(a) * double(b));
      }
      const size_t at = size_t(1 + i * ldc + j);
      const double c_old = t.beta == 0.0f ? 0.0 : std::fabs(double(t.beta) * C0[at]);
      tol[at] = 2.0 * (t.K + 4) * kU * std::fabs(t.alpha) * s + 4.0 * kU * c_old;
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "%s sgemm ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g threads=%d",
                isa_name(isa), t.ta, t.tb, (long long)t.M, (long long)t.N, (long long)t.K, t.alpha, t.beta, t.threads);
  compare(what, got.data(), want.data(), tol.data(), got.size());  // padding has tol 0: must be bitwise intact
}

}  // namespace

TEST(dense_sgemm_small_shapes) {
  std::mt19937 rng(1);
  const int64_t ms[] = {1, 2, 5, 6, 7, 11, 12, 13, 17, 25, 67};
  const int64_t ns[] = {1, 3, 15, 16, 17, 31, 32, 33, 48, 67};
  const int64_t ks[] = {1, 2, 7, 16, 33, 67};
  const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-1.5f, 0.25f}, {0.5f, 0.0f}};
  for (Isa isa : simd_isas()) {
    int n = 0;
    for (int64_t M : ms) {
      for (int64_t N : ns) {
        const int64_t K = ks[(M + N) % 6];
        const int v = int(n++);
        check_sgemm(isa, {(v & 1) != 0, (v & 2) != 0, M, N, K, ab[v % 4][0], ab[v % 4][1], 1 + v % 3}, rng);
      }
    }
  }
}

TEST(dense_sgemm_deep_and_wide) {
  // K over several cache blocks (kc = 256), N over odd panel counts, M over several A blocks (mc = 96).
  std::mt19937 rng(2);
  const GemmCase cases[] = {
      {false, true, 128, 96, 768, 1.0f, 0.0f, 2},  {false, false, 200, 33, 600, 1.0f, 1.0f, 3},
      {true, true, 16, 190, 513, 0.75f, -0.5f, 2}, {true, false, 7, 41, 1031, 1.0f, 0.0f, 1},
      {false, true, 97, 47, 257, 2.0f, 0.0f, 3},
  };
  for (Isa isa : simd_isas()) {
    for (const GemmCase& t : cases) check_sgemm(isa, t, rng);
  }
}

TEST(dense_sgemm_degenerate) {
  // K = 0 or alpha = 0: C = beta C without reading A or B (null here); beta = 0 overwrites NaN.
  for (Isa isa : {Isa::scalar, isa_best()}) {
    std::vector<float> C = {1.0f, NAN, 3.0f, 4.0f};
    sgemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 1, 0.0f, C.data(), 2, isa, pool(2));
    CHECK_MSG(C[0] == 0.0f && C[1] == 0.0f && C[3] == 0.0f, "%s K=0 beta=0", isa_name(isa));
    C = {1.0f, 2.0f, 3.0f, 4.0f};
    sgemm(false, false, 2, 2, 5, 0.0f, nullptr, 5, nullptr, 2, 2.0f, C.data(), 2, isa, pool(2));
    CHECK_MSG(C[0] == 2.0f && C[3] == 8.0f, "%s alpha=0 beta=2", isa_name(isa));
  }
}

TEST(dense_sgemm_thread_independent) {
  // Bitwise: the split over threads never changes the k blocking or an element's FMA sequence.
  std::mt19937 rng(3);
  for (Isa isa : simd_isas()) {
    for (const int64_t M : {1, 16, 50, 128, 300}) {
      const int64_t N = 200, K = 700;
      const std::vector<float> A = random_vec(rng, size_t(M * K)), B = random_vec(rng, size_t(N * K));
      std::vector<float> c1(size_t(M * N)), c2(size_t(M * N)), c3(size_t(M * N));
      sgemm(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, c1.data(), N, isa, pool(1));
      sgemm(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, c2.data(), N, isa, pool(2));
      sgemm(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, c3.data(), N, isa, pool(3));
      CHECK_MSG(std::memcmp(c1.data(), c2.data(), c1.size() * 4) == 0 &&
                    std::memcmp(c1.data(), c3.data(), c1.size() * 4) == 0,
                "%s M=%lld: results differ between 1, 2 and 3 threads", isa_name(isa), (long long)M);
    }
  }
}

// --- GELU ----------------------------------------------------------------------------------------------------

TEST(dense_gelu_accuracy) {
  // Dense sweep of [-10, 10] (every 2^-14, ~330K points) plus the fp32 neighbours of 0 and large magnitudes,
  // against erf in double. Bound: the rational erf is accurate to 1.8e-9 relative in exact arithmetic; its fp32
  // evaluation (13 FMAs, a division) and the final fma add a few ulp: for x >= 0, GELU(x) lies within 4 ulp
  // (4 u |GELU|, relative; measured 3.0 on AVX2). For x < 0, 1 + erf cancels: the absolute error of erf near -1
  // (<= 6 u; measured 4.7 u at x = -5.3, where t = z^2 ~ 14 makes the Horner terms largest) is scaled by |x|/2,
  // so |err| <= 3 u |x| + 4 u |GELU|.
  std::vector<float> xs;
  for (int i = -10 * 16384; i <= 10 * 16384; ++i) xs.push_back(float(i) / 16384.0f);
  for (float x : {1e-30f, -1e-30f, 1e-7f, -1e-7f, 20.0f, -20.0f, 1e6f, -1e6f, 3.4e38f, -3.4e38f}) xs.push_back(x);
  for (Isa isa : simd_isas()) {
    std::vector<float> y(xs.size());
    gelu(xs.data(), y.data(), int64_t(xs.size()), isa);
    double worst_rel = 0.0, worst_abs_neg = 0.0;
    int bad = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double x = xs[i], want = gelu_exact(x), err = std::fabs(y[i] - want);
      const double tol = (x >= 0 ? 0.0 : 3 * kU * std::fabs(x)) + 4 * kU * std::fabs(want) + 1e-45;
      if (x >= 0 && want > 0) worst_rel = std::max(worst_rel, err / std::fabs(want));
      if (x < 0) worst_abs_neg = std::max(worst_abs_neg, err / std::fabs(x));
      if (!(err <= tol) && ++bad <= 3) {
        CHECK_MSG(false, "%s gelu(%.9g) = %.9g, want %.9g (err %.3g > %.3g)", isa_name(isa), x, y[i], want, err, tol);
      }
    }
    CHECK_MSG(bad == 0, "%s: %d GELU values out of bound", isa_name(isa), bad);
    std::printf("  %s gelu: max rel err (x >= 0) %.2f u, max |err|/|x| (x < 0) %.2f u\n", isa_name(isa), worst_rel / kU,
                worst_abs_neg / kU);
  }
  // In place; NaN stays NaN, +inf stays +inf, -inf gives NaN as the formula does (-inf * 0) in the oracle too.
  for (Isa isa : {Isa::scalar, isa_best()}) {
    float v[4] = {NAN, INFINITY, -INFINITY, 1.0f};
    gelu(v, v, 4, isa);
    CHECK_MSG(std::isnan(v[0]) && v[1] == INFINITY && std::isnan(v[2]) && std::fabs(v[3] - 0.8413447f) < 1e-7f,
              "%s gelu special values: %g %g %g %g", isa_name(isa), v[0], v[1], v[2], v[3]);
  }
}

// --- Linear with fused epilogues ---------------------------------------------------------------------------

namespace {

void check_linear(Isa isa, int64_t M, int64_t N, int64_t K, Activation act, bool with_bias, Res res, int threads,
                  std::mt19937& rng) {
  const std::vector<float> W = random_vec(rng, size_t(N * K)), bias = random_vec(rng, size_t(N));
  const int64_t ldx = K + 5, ldy = N + 2;  // strided views; y's padding must stay intact
  const std::vector<float> x = random_vec(rng, size_t(M * ldx));
  const std::vector<float> r = random_vec(rng, size_t(M * ldy), -2.0f, 2.0f);
  PackedLinearPtr w = linear_create(W.data(), with_bias ? bias.data() : nullptr, N, K);
  CHECK_MSG(w && linear_out_features(*w) == N && linear_in_features(*w) == K &&
                linear_weight_bytes(*w) >= N * K * int64_t(sizeof(float)),
            "linear_create N=%lld K=%lld", (long long)N, (long long)K);
  if (!w) return;
  LinearOutputs out(res, act, r, M, ldy);
  std::vector<float>&got = out.got, &want = out.want;
  linear_forward(*w, x.data(), M, ldx, got.data(), ldy, out.eg, isa, pool(threads));
  linear_forward(*w, x.data(), M, ldx, want.data(), ldy, out.ew, Isa::scalar, pool(1));
  // Pre-activation bound as for sgemm (+ the bias add); GELU is 1.13-Lipschitz and its approximation adds
  // 3 u |v| + 4 u |GELU| (dense_gelu_accuracy), tanh is 1-Lipschitz with 4 u absolute approximation error; the
  // residual add rounds once more on each side. A residual that is y itself (no activation) starts the
  // accumulation instead: r + s_1 + ... + s_nb + b against (s + b) + r, up to nb + 2 more roundings of
  // magnitude <= |r| + sum|x w| + |b|, with nb <= K / 64 + 1 k blocks (every ISA's kc is >= 64).
  std::vector<double> tol(got.size(), 0.0);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0, v = with_bias ? bias[size_t(j)] : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        s += std::fabs(double(x[size_t(i * ldx + k)]) * W[size_t(j * K + k)]);
        v += double(x[size_t(i * ldx + k)]) * W[size_t(j * K + k)];
      }
      double t = 2.0 * (K + 4) * kU * s + 2 * kU * std::fabs(v);
      if (act == Activation::gelu_erf) t = 1.13 * t + 3 * kU * std::fabs(v) + 4 * kU * std::fabs(gelu_exact(v));
      if (act == Activation::tanh) t += 4 * kU;
      if (res != Res::none) t += 2 * kU * (std::fabs(v) + 1.0 + std::fabs(r[size_t(i * ldy + j)]));
      if (res == Res::aliased) t += (K / 64 + 3) * kU * (std::fabs(r[size_t(i * ldy + j)]) + s + 1.0);
      tol[size_t(i * ldy + j)] = t;
    }
  }
  char what[160];
  std::snprintf(what, sizeof what, "%s linear M=%lld N=%lld K=%lld act=%d bias=%d res=%d threads=%d", isa_name(isa),
                (long long)M, (long long)N, (long long)K, int(act), with_bias, int(res), threads);
  compare(what, got.data(), want.data(), tol.data(), got.size());
}

}  // namespace

TEST(dense_linear_epilogues) {
  std::mt19937 rng(4);
  const int64_t shapes[][3] = {{1, 1, 1},   {1, 67, 33}, {2, 16, 16},   {5, 17, 7},    {6, 32, 64},
                               {7, 33, 67}, {13, 48, 5}, {17, 67, 300}, {33, 96, 520}, {67, 31, 19}};
  const Activation acts[] = {Activation::none, Activation::gelu_erf, Activation::tanh};
  for (Isa isa : simd_isas()) {
    int v = 0;
    for (const auto& s : shapes) {
      for (Activation act : acts) {
        for (Res res : {Res::none, Res::separate, Res::aliased}) {
          check_linear(isa, s[0], s[1], s[2], act, (v & 1) == 0, res, 1 + v % 3, rng);
          ++v;
        }
      }
    }
  }
  const float one[1] = {1.0f};
  CHECK_MSG(!linear_create(nullptr, nullptr, 4, 4) && !linear_create(one, nullptr, 0, 1) &&
                !linear_create(one, nullptr, 1, 0),
            "linear_create must refuse null weights and sizes < 1");
}

TEST(dense_linear_bert_shapes) {
  // BERT-ish widths: 768 -> 768 / 2304 and 3072 -> 768 with the GELU and residual epilogues, one sentence and a
  // few; and the result of 1 vs 2 threads bitwise equal.
  std::mt19937 rng(5);
  for (Isa isa : simd_isas()) {
    check_linear(isa, 16, 768, 768, Activation::none, true, Res::aliased, 2, rng);
    check_linear(isa, 20, 2304, 768, Activation::none, false, Res::none, 2, rng);
    check_linear(isa, 9, 768, 3072, Activation::gelu_erf, true, Res::separate, 2, rng);
    const int64_t M = 40, N = 3072, K = 768;
    const std::vector<float> W = random_vec(rng, size_t(N * K)), b = random_vec(rng, size_t(N));
    const std::vector<float> x = random_vec(rng, size_t(M * K));
    PackedLinearPtr w = linear_create(W.data(), b.data(), N, K);
    std::vector<float> y1(size_t(M * N)), y2(size_t(M * N));
    Epilogue ep;
    ep.act = Activation::gelu_erf;
    linear_forward(*w, x.data(), M, K, y1.data(), N, ep, isa, pool(1));
    linear_forward(*w, x.data(), M, K, y2.data(), N, ep, isa, pool(2));
    CHECK_MSG(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0, "%s linear: 1 and 2 threads differ",
              isa_name(isa));
  }
}

TEST(dense_linear_copy_rows_and_bias) {
  // The weight's rows read back from the panels exactly (N not a multiple of 16, single rows and ranges across
  // panel boundaries); a bias set afterwards acts as one given to linear_create.
  std::mt19937 rng(6);
  const int64_t N = 37, K = 13, M = 5;
  const std::vector<float> W = random_vec(rng, size_t(N * K)), b = random_vec(rng, size_t(N));
  PackedLinearPtr w = linear_create(W.data(), nullptr, N, K);
  std::vector<float> rows(size_t(N * K), -1.0f);
  linear_copy_rows(*w, 0, N, rows.data());
  CHECK_MSG(std::memcmp(rows.data(), W.data(), rows.size() * 4) == 0, "linear_copy_rows: all rows differ");
  for (int64_t n0 : {0, 15, 16, 30, 36}) {
    const int64_t r = std::min<int64_t>(3, N - n0);
    std::vector<float> part(size_t(r * K));
    linear_copy_rows(*w, n0, r, part.data());
    CHECK_MSG(std::memcmp(part.data(), W.data() + n0 * K, part.size() * 4) == 0, "linear_copy_rows: rows %lld..",
              (long long)n0);
  }
  const std::vector<float> x = random_vec(rng, size_t(M * K));
  PackedLinearPtr wb = linear_create(W.data(), b.data(), N, K);
  CHECK(linear_set_bias(*w, b.data()));
  CHECK(linear_weight_bytes(*w) == linear_weight_bytes(*wb));
  for (Isa isa : simd_isas()) {
    std::vector<float> y1(size_t(M * N)), y2(size_t(M * N));
    linear_forward(*w, x.data(), M, K, y1.data(), N, Epilogue{}, isa, pool(1));
    linear_forward(*wb, x.data(), M, K, y2.data(), N, Epilogue{}, isa, pool(1));
    CHECK_MSG(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0, "%s linear_set_bias", isa_name(isa));
  }
  CHECK(linear_set_bias(*w, nullptr));
  std::vector<float> y(size_t(M * N)), want(size_t(M * N));
  PackedLinearPtr w0 = linear_create(W.data(), nullptr, N, K);
  linear_forward(*w, x.data(), M, K, y.data(), N, Epilogue{}, Isa::scalar, pool(1));
  linear_forward(*w0, x.data(), M, K, want.data(), N, Epilogue{}, Isa::scalar, pool(1));
  CHECK_MSG(std::memcmp(y.data(), want.data(), y.size() * 4) == 0, "linear_set_bias(null) removes the bias");
}

// --- LayerNorm -----------------------------------------------------------------------------------------------

TEST(dense_layernorm) {
  // Against a double-precision reference. Float sums of n terms err by <= n u sum|x| (mean) and likewise for the
  // squared deviations; the normalised value (x - mean) rstd then errs by <= (n + 8) u (|x - mean| rstd +
  // rstd sum|x| / n), times |gamma|, plus a rounding of the final fma. Rows 1..17, widths 1..67 and 768,
  // strided, in place, several threads; a constant row gives beta exactly (0 * rstd).
  std::mt19937 rng(6);
  const int64_t widths[] = {1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 67, 768};
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::scalar);
  for (Isa isa : isas) {
    int v = 0;
    for (int64_t n : widths) {
      const int64_t rows = 1 + (v * 5) % 17, ldx = n + 3, ldy = n + 1;
      const bool in_place = v % 3 == 0;
      std::vector<float> x = random_vec(rng, size_t(rows * ldx), -3.0f, 5.0f);
      const std::vector<float> g = random_vec(rng, size_t(n), 0.5f, 1.5f), b = random_vec(rng, size_t(n));
      if (rows > 1) {
        for (int64_t j = 0; j < n; ++j) x[size_t(ldx + j)] = 2.5f;  // constant row 1
      }
      std::vector<float> y(size_t(rows * ldy), 9.0f);
      std::vector<float> out = in_place ? x : y;
      const int64_t ld_out = in_place ? ldx : ldy;
      layernorm(x.data(), rows, n, ldx, g.data(), b.data(), 1e-5f, out.data(), ld_out, isa, pool(1 + v % 3));
      std::vector<float> want = in_place ? x : y;
      std::vector<double> tol(want.size(), 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        double mean = 0.0, var = 0.0, abs_sum = 0.0;
        for (int64_t j = 0; j < n; ++j) mean += x[size_t(r * ldx + j)], abs_sum += std::fabs(x[size_t(r * ldx + j)]);
        mean /= double(n);
        for (int64_t j = 0; j < n; ++j) var += (x[size_t(r * ldx + j)] - mean) * (x[size_t(r * ldx + j)] - mean);
        const double rstd = 1.0 / std::sqrt(var / double(n) + 1e-5);
        for (int64_t j = 0; j < n; ++j) {
          const double d = (x[size_t(r * ldx + j)] - mean) * rstd;
          want[size_t(r * ld_out + j)] = float(d * g[size_t(j)] + b[size_t(j)]);
          tol[size_t(r * ld_out + j)] =
              (n + 8) * kU * (std::fabs(d) + rstd * abs_sum / double(n)) * g[size_t(j)] + 2 * kU * (std::fabs(d) + 1.0);
        }
      }
      char what[96];
      std::snprintf(what, sizeof what, "%s layernorm rows=%lld n=%lld in_place=%d", isa_name(isa), (long long)rows,
                    (long long)n, in_place);
      compare(what, out.data(), want.data(), tol.data(), out.size());
      if (rows > 1) {
        for (int64_t j = 0; j < n; ++j) {
          CHECK_MSG(out[size_t(ld_out + j)] == b[size_t(j)], "%s constant row: y[%lld] = %g, want beta %g", what,
                    (long long)j, out[size_t(ld_out + j)], b[size_t(j)]);
        }
      }
      ++v;
    }
  }
}

TEST(dense_add_layernorm) {
  // The residual add fused into the norm: h ends as the float sums h + f and y bitwise as layernorm() of them,
  // on every ISA, in place (y == h) and not, with 1 and 3 threads.
  std::mt19937 rng(7);
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::scalar);
  for (Isa isa : isas) {
    int v = 0;
    for (int64_t n : {1, 7, 16, 33, 768}) {
      const int64_t rows = 1 + (v * 7) % 13;
      const bool in_place = v % 2 == 0;
      std::vector<float> h = random_vec(rng, size_t(rows * n), -3.0f, 5.0f);
      const std::vector<float> f = random_vec(rng, size_t(rows * n), -2.0f, 2.0f);
      const std::vector<float> g = random_vec(rng, size_t(n), 0.5f, 1.5f), b = random_vec(rng, size_t(n));
      std::vector<float> sum(h.size()), want(h.size()), y(h.size(), 9.0f);
      for (size_t i = 0; i < h.size(); ++i) sum[i] = h[i] + f[i];
      layernorm(sum.data(), rows, n, n, g.data(), b.data(), 1e-5f, want.data(), n, isa, pool(1));
      add_layernorm(h.data(), f.data(), rows, n, g.data(), b.data(), 1e-5f, in_place ? h.data() : y.data(), isa,
                    pool(1 + 2 * (v % 2)));
      const std::vector<float>& out = in_place ? h : y;
      CHECK_MSG(std::memcmp(out.data(), want.data(), out.size() * 4) == 0, "%s add_layernorm n=%lld: y differs",
                isa_name(isa), (long long)n);
      if (!in_place) {
        CHECK_MSG(std::memcmp(h.data(), sum.data(), h.size() * 4) == 0, "%s add_layernorm n=%lld: h != h + f",
                  isa_name(isa), (long long)n);
      }
      ++v;
    }
  }
}

// --- Attention -----------------------------------------------------------------------------------------------

namespace {

struct AttnCase {
  int64_t batch, seq, heads, head_dim;
  bool interleaved;  // crammedBERT [.., heads, 3*hd] rows, else the HF Q|K|V blocks
  bool masked;
  int threads;
};

// Runs `isa` and the scalar oracle on one packed QKV buffer. Bound: each score s = scale q.k errs by
// <= 2 (D + 2) u scale sum|q k| between the two; softmax turns a score error d into a relative probability
// error <= 2 d plus ~(S + 8) u from exp and the normalising sum; the output sum_j p_j v_j then errs by that
// times max|v| plus (S + 2) u max|v| of its own summation on each side.
void check_attention(Isa isa, const AttnCase& t, std::mt19937& rng) {
  const int64_t H = t.heads * t.head_dim, ld = 3 * H, tokens = t.batch * t.seq, ld_out = H + 3;
  const std::vector<float> qkv = random_vec(rng, size_t(tokens * ld), -2.0f, 2.0f);
  const float* q = qkv.data();
  const float* k = qkv.data() + (t.interleaved ? t.head_dim : H);
  const float* v = qkv.data() + (t.interleaved ? 2 * t.head_dim : 2 * H);
  const int64_t head_stride = t.interleaved ? 3 * t.head_dim : t.head_dim;
  std::vector<float> mask;
  if (t.masked) {  // sequence b keeps its first seq - b*seq/4 keys (always >= 1): padding masked as crammedBERT
    for (int64_t b = 0; b < t.batch; ++b) {
      for (int64_t s = 0; s < t.seq; ++s) mask.push_back(s < t.seq - b * t.seq / 4 ? 0.0f : -10000.0f);
    }
  }
  const float scale = 1.0f / std::sqrt(float(t.head_dim));
  std::vector<float> got(size_t(tokens * ld_out), 5.0f), want = got;
  const AttentionShape shape{t.batch, t.seq, t.heads, t.head_dim};
  attention(q, k, v, ld, head_stride, shape, t.masked ? mask.data() : nullptr, scale, got.data(), ld_out, isa,
            pool(t.threads));
  attention(q, k, v, ld, head_stride, shape, t.masked ? mask.data() : nullptr, scale, want.data(), ld_out, Isa::scalar,
            pool(1));
  const double score_err = 2.0 * (t.head_dim + 2) * kU * scale * t.head_dim * 4.0;  // |q|, |k| <= 2
  const double vmax = 2.0;
  const double bound = (2 * score_err + 2 * (t.seq + 8) * kU) * vmax + 2 * (t.seq + 2) * kU * vmax;
  std::vector<double> tol(got.size(), 0.0);
  for (int64_t i = 0; i < tokens; ++i) {
    for (int64_t j = 0; j < H; ++j) tol[size_t(i * ld_out + j)] = bound;
  }
  char what[160];
  std::snprintf(what, sizeof what, "%s attention B=%lld S=%lld heads=%lld hd=%lld interleaved=%d masked=%d threads=%d",
                isa_name(isa), (long long)t.batch, (long long)t.seq, (long long)t.heads, (long long)t.head_dim,
                t.interleaved, t.masked, t.threads);
  compare(what, got.data(), want.data(), tol.data(), got.size());
}

}  // namespace

TEST(dense_attention) {
  std::mt19937 rng(7);
  const int64_t dims[] = {1, 2, 3, 5, 8, 16, 17, 64};
  const int64_t seqs[] = {1, 2, 5, 16, 17, 33};
  for (Isa isa : simd_isas()) {
    int v = 0;
    for (int64_t hd : dims) {
      for (int64_t seq : seqs) {
        check_attention(isa, {1 + v % 3, seq, 1 + v % 4, hd, v % 2 == 0, v % 5 != 0, 1 + v % 3}, rng);
        ++v;
      }
    }
    check_attention(isa, {2, 128, 12, 64, true, true, 2}, rng);
    check_attention(isa, {1, 100, 3, 64, false, true, 3}, rng);
  }
}

TEST(dense_attention_mask_hides_keys) {
  // Keys masked with -10000 must not influence the output: changing their K and V rows changes nothing beyond
  // rounding (their weights are e^-10000 = 0). And large scores (|s| ~ 100) must not overflow the softmax.
  std::mt19937 rng(8);
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::scalar);
  for (Isa isa : isas) {
    const int64_t S = 19, heads = 2, hd = 8, H = heads * hd, ld = 3 * H;
    std::vector<float> qkv = random_vec(rng, size_t(S * ld), -10.0f, 10.0f);
    std::vector<float> mask(size_t(S), 0.0f);
    for (int64_t s = 12; s < S; ++s) mask[size_t(s)] = -10000.0f;
    const AttentionShape shape{1, S, heads, hd};
    std::vector<float> a(size_t(S * H)), b(size_t(S * H));
    attention(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, ld, 3 * hd, shape, mask.data(), 1.0f, a.data(), H, isa,
              pool(2));
    std::uniform_real_distribution<float> other(-10.0f, 10.0f);
    for (int64_t s = 12; s < S; ++s) {
      for (int64_t j = 0; j < ld; ++j) {  // every head's K (new values, |score| stays < 10000) and V (huge)
        if (j % (3 * hd) >= 2 * hd) {
          qkv[size_t(s * ld + j)] = 1000.0f;
        } else if (j % (3 * hd) >= hd) {
          qkv[size_t(s * ld + j)] = other(rng);
        }
      }
    }
    attention(qkv.data(), qkv.data() + hd, qkv.data() + 2 * hd, ld, 3 * hd, shape, mask.data(), 1.0f, b.data(), H, isa,
              pool(2));
    double worst = 0.0;
    bool finite = true;
    for (size_t i = 0; i < a.size(); ++i) {
      worst = std::max(worst, double(std::fabs(a[i] - b[i])));
      finite = finite && std::isfinite(a[i]);
    }
    CHECK_MSG(finite && worst == 0.0, "%s: masked keys changed the output by %g (finite %d)", isa_name(isa), worst,
              finite);
  }
}
