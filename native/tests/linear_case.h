// Data and set-up the dense and low-precision Linear tests share: random inputs, u, the exact GELU, and the
// outputs and epilogues of one residual case (the path under test and the scalar oracle side by side).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "fffbert/dense.h"

namespace fffbert_test {

// Unit roundoff of float32.
constexpr double kU = 1.0 / (1 << 24);

inline std::vector<float> random_vec(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline double gelu_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// Where a Linear case's residual comes from: none, a separate array r, or y itself (which then starts as r).
enum class Res { none, separate, aliased };

// The outputs [rows, ldy] of the path under test (got) and of the oracle (want), and their epilogues. got and
// want start as r when the residual is y itself, else as 7s (padding that must stay intact).
struct LinearOutputs {
  std::vector<float> got, want;
  fffbert::Epilogue eg, ew;
  LinearOutputs(Res res, fffbert::Activation act, const std::vector<float>& r, int64_t rows, int64_t ldy)
      : got(res == Res::aliased ? r : std::vector<float>(size_t(rows * ldy), 7.0f)), want(got) {
    eg.act = ew.act = act;
    if (res != Res::none) {
      eg.residual = res == Res::aliased ? got.data() : r.data();
      ew.residual = res == Res::aliased ? want.data() : r.data();
      eg.ldr = ew.ldr = ldy;
    }
  }
  LinearOutputs(const LinearOutputs&) = delete;  // the epilogues point into got and want
  LinearOutputs& operator=(const LinearOutputs&) = delete;
};

}  // namespace fffbert_test
