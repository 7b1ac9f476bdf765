// FFF layer tests: the scalar driver against a double-precision reference written straight from
// docs/FFF-SPEC.md section 1 (PyTorch layouts, no packing), every runnable ISA against scalar on a sampled grid of
// awkward shapes, and the invariants of fff.h (zero logit goes left, bitwise agreement of strategies and thread counts,
// strides, NaN, invalid shapes).
//
// Routing is discontinuous: paths are compared first. A path that differs must be explained by a logit within
// rounding of 0 at the first node where they part (checked against the double reference); outputs are compared
// only where paths agree. Flips are counted and printed.
//
// bf16 weights: a bf16 layer must compute exactly what the f32 layer computes from the rounded weights (same
// ISA: bitwise), so ISA vs scalar runs use the rounded weights as their reference; bf16 vs f32 accuracy is
// bounded by bf16's unit roundoff u = 2^-8 and reported.
//
// bf16_dot layers (x rounded to bf16 for the dots too): every product of two bf16 values is exact in fp32, so
// against the double reference of the rounded weights and the rounded x they carry fp32 rounding only, the
// widening ISAs compute bitwise the bf16 layer of the rounded x, and the bf16 dot ISAs (AVX512_BF16) are held
// to the fp32 tolerance against the scalar oracle.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "fff_tune.h"
#include "fffbert/fff.h"
#include "fffbert/memory.h"
#include "kernels/fff_kernels.h"
#include "prefetch.h"
#include "test.h"

using namespace fffbert;

namespace {

struct Weights {
  FffShape shape;
  std::vector<float> w_in;   // [R, I]
  std::vector<float> b_in;   // [R]
  std::vector<float> w_out;  // [O, R]
  int64_t R() const { return shape.trees * shape.nodes_per_tree(); }
};

// Weights ~ N(0, 1/sqrt(I)) and inputs ~ N(0, 1): logits O(1), like a trained layer after LayerNorm.
Weights make_weights(const FffShape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Weights w{s, {}, {}, {}};
  const int64_t R = w.R();
  const float scale = 1.0f / std::sqrt(float(s.input_width));
  w.w_in.resize(size_t(R * s.input_width));
  for (float& v : w.w_in) v = nd(rng) * scale;
  w.b_in.resize(size_t(R));
  for (float& v : w.b_in) v = 0.1f * nd(rng);
  w.w_out.resize(size_t(s.output_width * R));
  for (float& v : w.w_out) v = nd(rng) * scale;
  return w;
}

std::vector<float> make_inputs(int64_t rows, int64_t ld, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(rows * ld));
  for (float& v : x) v = nd(rng);
  return x;
}

FffLayerPtr make_layer(const Weights& w, FffWeights type = FffWeights::f32) {
  return fff_create(w.shape, w.w_in.data(), w.b_in.data(), w.w_out.data(), type);
}

// The weights a bf16 layer really holds: W_in and W_out rounded to bf16 (the bias stays fp32).
Weights round_to_bf16(Weights w) {
  for (float& v : w.w_in) v = fff_bf16_to_f32(fff_f32_to_bf16(v));
  for (float& v : w.w_out) v = fff_bf16_to_f32(fff_f32_to_bf16(v));
  return w;
}

// bf16 unit roundoff: 8 significant bits, round to nearest.
constexpr double kBf16U = 1.0 / 256.0;

double ref_logit(const Weights& w, int64_t r, const float* x) {
  double s = w.b_in[size_t(r)];
  for (int64_t i = 0; i < w.shape.input_width; ++i) s += double(w.w_in[size_t(r * w.shape.input_width + i)]) * x[i];
  return s;
}

// |terms| of a logit, the scale of its rounding error.
double ref_logit_scale(const Weights& w, int64_t r, const float* x) {
  double s = std::fabs(w.b_in[size_t(r)]);
  for (int64_t i = 0; i < w.shape.input_width; ++i) {
    s += std::fabs(double(w.w_in[size_t(r * w.shape.input_width + i)]) * x[i]);
  }
  return s;
}

double gelu_ref(double l) { return 0.5 * l * (1.0 + std::erf(l / std::sqrt(2.0))); }

// The spec's loop, in double, for one token: y [O], path [K, D+1].
void ref_token(const Weights& w, const float* x, std::vector<double>* y, std::vector<int32_t>* path) {
  const FffShape& s = w.shape;
  const int64_t nn = s.nodes_per_tree(), R = w.R();
  y->assign(size_t(s.output_width), 0.0);
  path->clear();
  for (int64_t k = 0; k < s.trees; ++k) {
    int64_t n = 0;
    for (int64_t level = 0; level <= s.depth; ++level) {
      const int64_t r = k * nn + n;
      const double l = ref_logit(w, r, x);
      const double g = gelu_ref(l);
      for (int64_t o = 0; o < s.output_width; ++o) (*y)[size_t(o)] += g * w.w_out[size_t(o * R + r)];
      path->push_back(int32_t(n));
      n = 2 * n + 1 + (l > 0 ? 1 : 0);
    }
  }
}

// ref_token for rows tokens of x [rows, I]: y [rows, O], paths [rows, K, D+1].
void ref_rows(const Weights& w, const float* x, int64_t rows, std::vector<double>* y, std::vector<int32_t>* paths) {
  std::vector<double> yt;
  std::vector<int32_t> pt;
  y->clear();
  paths->clear();
  for (int64_t t = 0; t < rows; ++t) {
    ref_token(w, x + t * w.shape.input_width, &yt, &pt);
    y->insert(y->end(), yt.begin(), yt.end());
    paths->insert(paths->end(), pt.begin(), pt.end());
  }
}

struct Run {
  std::vector<float> y;
  std::vector<int32_t> paths;
};

Run run(const FffLayer& L, const float* x, int64_t rows, int64_t ldx, int64_t ldy, FffStrategy st, Isa isa,
        ThreadPool& pool) {
  const FffShape& s = fff_shape(L);
  Run r;
  r.y.assign(size_t(rows * ldy), -7.0f);
  r.paths.assign(size_t(rows * s.trees * (s.depth + 1)), -1);
  fff_forward(L, x, rows, ldx, r.y.data(), ldy, r.paths.data(), st, isa, pool);
  return r;
}

// Tolerance of the outputs of a token on a path: output o gets `eps` (1e-6, ~8 float eps, for fp32 rounding) of
// the sum of |terms| it is made of, where a GELU value carries the error of its logit (~sqrt(n)*eps times the
// logit's |terms| scale A, n <= 768; GELU' <= 1.13 < 1.2). tol[o] for o < O.
std::vector<double> out_tols(const Weights& w, const float* x, const int32_t* path, double eps = 1e-6) {
  const FffShape& s = w.shape;
  const int64_t nn = s.nodes_per_tree(), R = w.R();
  std::vector<double> tol(size_t(s.output_width), 1e-30);
  for (int64_t k = 0; k < s.trees; ++k) {
    for (int64_t level = 0; level <= s.depth; ++level) {
      const int64_t r = k * nn + path[k * (s.depth + 1) + level];
      const double node = eps * (std::fabs(gelu_ref(ref_logit(w, r, x))) + 1.2 * ref_logit_scale(w, r, x));
      for (int64_t o = 0; o < s.output_width; ++o) tol[size_t(o)] += node * std::fabs(w.w_out[size_t(o * R + r)]);
    }
  }
  return tol;
}

struct Compare {
  int64_t flips = 0;          // tokens whose paths differ (each explained by a near-zero logit)
  int64_t compared = 0;       // tokens whose outputs were compared
  double max_rel = 0.0;       // max |a - b| / tol over compared outputs
  double max_abs = 0.0;       // max |a - b| over compared outputs
  double max_norm_rel = 0.0;  // max over compared tokens of ||a - b||_2 / ||b||_2
  double sum_norm_rel = 0.0;  // its sum (mean = sum / compared)
};

// Compares run `a` against expected outputs `b` (paths `pb`) token by token. `what` names the pair in messages.
// eps: the relative error of a product term that the pair may differ by (1e-6: fp32 rounding; more for bf16):
// parting paths need |logit| <= eps * its |terms| scale, outputs stay within out_tols(eps).
void compare_runs(const Weights& w, const float* x, int64_t rows, int64_t ldx, const float* ya, int64_t lda,
                  const int32_t* pa, const double* yb_d, const float* yb_f, int64_t ldb, const int32_t* pb,
                  const char* what, Compare* c, double eps = 1e-6) {
  const FffShape& s = w.shape;
  const int64_t P = s.trees * (s.depth + 1), nn = s.nodes_per_tree();
  for (int64_t t = 0; t < rows; ++t) {
    const float* xt = x + t * ldx;
    int64_t j = 0;
    while (j < P && pa[t * P + j] == pb[t * P + j]) ++j;
    if (j < P) {
      // First divergence at (tree k, level): the node before it is shared, so its logit decided differently.
      const int64_t k = j / (s.depth + 1), level = j % (s.depth + 1);
      CHECK_MSG(level > 0, "%s: token %lld: root differs in tree %lld", what, (long long)t, (long long)k);
      if (level == 0) continue;
      const int64_t r = k * nn + pb[t * P + j - 1];
      const double l = ref_logit(w, r, xt), scale = ref_logit_scale(w, r, xt);
      CHECK_MSG(std::fabs(l) <= eps * scale,
                "%s: token %lld: path differs at tree %lld level %lld, logit %g "
                "(scale %g) is not within rounding of 0",
                what, (long long)t, (long long)k, (long long)level, l, scale);
      ++c->flips;
      continue;
    }
    ++c->compared;
    const std::vector<double> tols = out_tols(w, xt, pa + t * P, eps);
    double d2 = 0.0, b2 = 0.0;
    for (int64_t o = 0; o < s.output_width; ++o) {
      const double a = ya[t * lda + o];
      const double b = yb_d ? yb_d[t * ldb + o] : double(yb_f[t * ldb + o]);
      const double tol = tols[size_t(o)];
      const double rel = std::fabs(a - b) / tol;
      if (rel > c->max_rel) c->max_rel = rel;
      if (std::fabs(a - b) > c->max_abs) c->max_abs = std::fabs(a - b);
      d2 += (a - b) * (a - b);
      b2 += b * b;
      CHECK_MSG(rel <= 1.0, "%s: token %lld output %lld: %.9g vs %.9g (tol %.3g)", what, (long long)t, (long long)o, a,
                b, tol);
    }
    const double nr = b2 > 0.0 ? std::sqrt(d2 / b2) : 0.0;
    c->sum_norm_rel += nr;
    if (nr > c->max_norm_rel) c->max_norm_rel = nr;
  }
}

using fffbert_test::pool;
using fffbert_test::runnable_isas;

struct Case {
  int64_t I, O, D, K, rows;
};

// A sample of the grid I, O in 1..67 and 768, rows 1..17 and 1000, D 0..11, K 1..3; wide shapes get fewer rows
// and levels so the whole file stays well under a minute under qemu.
std::vector<Case> grid_cases() {
  std::vector<Case> v = {
      {1, 1, 0, 1, 1},    {1, 67, 3, 2, 5},   {67, 1, 2, 3, 17},    {16, 16, 4, 1, 16}, {17, 15, 5, 2, 9},
      {31, 33, 11, 1, 7}, {8, 8, 0, 3, 13},   {7, 9, 1, 1, 1000},   {64, 65, 6, 2, 3},  {768, 768, 11, 1, 17},
      {768, 67, 3, 2, 5}, {5, 768, 2, 1, 11}, {40, 24, 7, 3, 1000},
  };
  std::mt19937 rng(12345);
  auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint32_t(hi - lo + 1)); };
  for (int i = 0; i < 12; ++i) { v.push_back({pick(1, 67), pick(1, 67), pick(0, 11), pick(1, 3), pick(1, 17)}); }
  return v;
}

}  // namespace

TEST(fff_create_rejects_invalid_shapes) {
  const std::vector<float> a(64, 0.5f);
  auto bad = [&](FffShape s) { return fff_create(s, a.data(), a.data(), a.data()) == nullptr; };
  CHECK(bad({0, 1, 0, 1}));
  CHECK(bad({1, 0, 0, 1}));
  CHECK(bad({1, 1, -1, 1}));
  CHECK(bad({1, 1, 0, 0}));
  CHECK(bad({1, 1, kFffMaxDepth + 1, 1}));
  CHECK(bad({1, 1, 0, int64_t(1) << 62}));
  CHECK(bad({int64_t(1) << 50, 1, 0, 1}));
  CHECK(fff_create({1, 1, 0, 1}, nullptr, a.data(), a.data()) == nullptr);
  FffLayerPtr ok = fff_create({3, 2, 1, 2}, a.data(), a.data(), a.data());
  CHECK(ok != nullptr);
  if (ok) {
    // 6 rows of W_in and W_out^T, each padded to 16 floats, plus 6 biases.
    CHECK_MSG(fff_weight_bytes(*ok) == 4 * 6 * (16 + 16 + 1), "bytes %lld", (long long)fff_weight_bytes(*ok));
  }
}

TEST(fff_scalar_matches_reference) {
  Compare total;
  uint32_t seed = 1;
  for (const Case& cs : grid_cases()) {
    const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    const FffLayerPtr L = make_layer(w);
    CHECK(L != nullptr);
    if (!L) continue;
    const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
    const Run r = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, Isa::scalar, pool(1));
    std::vector<double> yref;
    std::vector<int32_t> pref;
    ref_rows(w, x.data(), cs.rows, &yref, &pref);
    compare_runs(w, x.data(), cs.rows, cs.I, r.y.data(), cs.O, r.paths.data(), yref.data(), nullptr, cs.O, pref.data(),
                 "scalar vs reference", &total);
  }
  std::printf("     scalar vs reference: %lld tokens compared, %lld path flips, max err %.3f of tol\n",
              (long long)total.compared, (long long)total.flips, total.max_rel);
  CHECK(total.compared > 2000);
}

TEST(fff_isa_matches_scalar) {
  for (Isa isa : runnable_isas(true)) {
    if (isa == Isa::scalar) continue;
    Compare total;
    uint32_t seed = 100;
    for (const Case& cs : grid_cases()) {
      const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
      const FffLayerPtr L = make_layer(w);
      if (!L) continue;
      const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
      const Run s = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, Isa::scalar, pool(1));
      const Run v = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::automatic, isa, pool(1));
      compare_runs(w, x.data(), cs.rows, cs.I, v.y.data(), cs.O, v.paths.data(), nullptr, s.y.data(), cs.O,
                   s.paths.data(), isa_name(isa), &total);
    }
    std::printf("     %s vs scalar: %lld tokens compared, %lld path flips, max err %.3f of tol\n", isa_name(isa),
                (long long)total.compared, (long long)total.flips, total.max_rel);
    CHECK(total.compared > 2000);
  }
}

// Every strategy and 1..3 threads give the paths and outputs (bitwise) of the single-threaded per-token walk.
// batched walks most of these over the whole pool (fff.cpp forward_planned), D = 0 per thread range.
static void check_strategies_and_threads_bitwise(FffWeights type, uint32_t seed) {
  const Case cases[] = {
      {33, 17, 5, 2, 1000}, {768, 768, 9, 1, 67}, {5, 3, 11, 3, 40},     {19, 21, 0, 2, 3},
      {3, 5, 6, 1, 5000},   {768, 96, 8, 1, 700}, {200, 50, 7, 2, 2000},
  };
  for (Isa isa : runnable_isas(false)) {
    for (const Case& cs : cases) {
      const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
      const FffLayerPtr L = make_layer(w, type);
      const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
      const Run base = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, isa, pool(1));
      for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched, FffStrategy::automatic}) {
        for (int p = 0; p < 3; ++p) {
          const Run r = run(*L, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(p + 1));
          CHECK_MSG(r.paths == base.paths, "%s I=%lld strategy %d threads %d: paths differ", isa_name(isa),
                    (long long)cs.I, int(st), p + 1);
          CHECK_MSG(std::memcmp(r.y.data(), base.y.data(), r.y.size() * sizeof(float)) == 0,
                    "%s I=%lld strategy %d threads %d: outputs not bitwise equal", isa_name(isa), (long long)cs.I,
                    int(st), p + 1);
        }
      }
    }
  }
}

TEST(fff_strategies_and_threads_agree_bitwise) { check_strategies_and_threads_bitwise(FffWeights::f32, 500); }

static const char* type_name(FffWeights type) {
  return type == FffWeights::bf16 ? "bf16" : type == FffWeights::bf16_dot ? "bf16_dot" : "f32";
}

// A layer called with `automatic` often enough that its tuner (fff_tune.h) times and takes both walks: every call
// gives the paths and outputs of the per-token walk, bitwise (2 threads, 300 tokens: the planned batched walk).
TEST(fff_automatic_switching_walks_is_bitwise_invisible) {
  const Weights w = make_weights({48, 40, 9, 1}, 77);
  const int64_t rows = 300, I = w.shape.input_width, O = w.shape.output_width;
  const std::vector<float> x = make_inputs(rows, I, 78);
  for (FffWeights type : {FffWeights::f32, FffWeights::bf16, FffWeights::bf16_dot}) {
    const FffLayerPtr L = make_layer(w, type);
    CHECK(L != nullptr);
    if (!L) continue;
    const Run base = run(*L, x.data(), rows, I, O, FffStrategy::per_token, isa_active(), pool(1));
    int differ = 0;
    for (int call = 0; call < 3 * FffTuner::kExplore; ++call) {
      const Run r = run(*L, x.data(), rows, I, O, FffStrategy::automatic, isa_active(), pool(2));
      if (r.paths != base.paths || std::memcmp(r.y.data(), base.y.data(), r.y.size() * sizeof(float)) != 0) ++differ;
    }
    CHECK_MSG(differ == 0, "weights %s: %d of %d automatic calls differ from the per-token walk", type_name(type),
              differ, 3 * FffTuner::kExplore);
  }
}

// Two threads calling one layer with `automatic` at once, each on its own pool: the tuner's shared state is
// atomics (the ThreadSanitizer job runs this), and every call still gives the per-token walk's outputs bitwise.
TEST(fff_automatic_from_two_threads_at_once) {
  const Weights w = make_weights({32, 24, 7, 1}, 79);
  const int64_t rows = 64, I = w.shape.input_width, O = w.shape.output_width;
  const std::vector<float> x = make_inputs(rows, I, 80);
  const FffLayerPtr L = make_layer(w);
  CHECK(L != nullptr);
  if (!L) return;
  const Run base = run(*L, x.data(), rows, I, O, FffStrategy::per_token, isa_active(), pool(1));
  std::atomic<int> differ{0};
  auto caller = [&] {
    std::unique_ptr<ThreadPool> p = make_pool(2);
    for (int call = 0; call < 2 * FffTuner::kExplore; ++call) {
      const Run r = run(*L, x.data(), rows, I, O, FffStrategy::automatic, isa_active(), *p);
      if (std::memcmp(r.y.data(), base.y.data(), r.y.size() * sizeof(float)) != 0) ++differ;
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  CHECK_MSG(differ == 0, "%d calls differ from the per-token walk", differ.load());
}

// The batched walk over the whole pool (fff.cpp forward_planned: top levels split by tokens, then subtrees handed
// out one at a time, each thread gathering its subtrees' tokens) against the single-threaded per-token walk,
// bitwise, on 1..5 threads: skewed routing (every token to the same leaf), a single token (which walks a thread
// range instead), the fewest tokens planned (kPlanMinRows = 256), token counts that are no multiple of anything,
// more tokens than one plan takes (kPlanMax = 16384), K > 1, trees just deep enough for the split (D = 3,
// 1 thread) and too shallow for it (D = 2). Every weight type and runnable ISA.
TEST(fff_planned_walk_threads_agree_bitwise) {
  const Case cases[] = {{48, 40, 11, 1, 1},     {48, 40, 11, 1, 256}, {48, 40, 11, 1, 257},
                        {21, 13, 9, 2, 999},    {16, 16, 3, 1, 300},  {16, 16, 2, 3, 300},
                        {768, 768, 11, 1, 300}, {9, 7, 7, 1, 4099},   {3, 2, 4, 1, 16500}};
  std::unique_ptr<ThreadPool> pools[5] = {make_pool(1), make_pool(2), make_pool(3), make_pool(4), make_pool(5)};
  uint32_t seed = 9000;
  for (const Case& cs : cases) {
    const Weights w0 = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
    for (int skew = 0; skew < 3; ++skew) {
      // skew 1: every bias +1e4, so every token goes right at every node (all in one subtree, one leaf);
      // skew 2: every bias -1e4, so every token goes left.
      Weights w = w0;
      if (skew > 0) {
        for (float& b : w.b_in) b = skew == 1 ? 1e4f : -1e4f;
      }
      for (FffWeights type : {FffWeights::f32, FffWeights::bf16, FffWeights::bf16_dot}) {
        const FffLayerPtr L = make_layer(w, type);
        for (Isa isa : runnable_isas(false)) {
          const Run base = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, isa, *pools[0]);
          for (int p = 0; p < 5; ++p) {
            const Run r = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::batched, isa, *pools[p]);
            CHECK_MSG(r.paths == base.paths && std::memcmp(r.y.data(), base.y.data(), r.y.size() * 4) == 0,
                      "%s %s I=%lld D=%lld K=%lld rows=%lld skew %d, %d threads: differs from per-token",
                      type_name(type), isa_name(isa), (long long)cs.I, (long long)cs.D, (long long)cs.K,
                      (long long)cs.rows, skew, p + 1);
          }
          if (skew == 1 && cs.K == 1) {
            // Every token on the rightmost path: the last node of each level.
            bool rightmost = true;
            for (int64_t t = 0; t < cs.rows; ++t) {
              for (int64_t l = 0; l <= cs.D; ++l) rightmost &= base.paths[size_t(t * (cs.D + 1) + l)] == (2 << l) - 2;
            }
            CHECK_MSG(rightmost, "skewed biases did not send every token right");
          }
        }
      }
    }
  }
}

// A token alone (a call of one row, or a per-token range's last) walks each tree with the kernel's walk1 (every
// SIMD ISA, any width; AVX-512 holds x in registers at I = 512, 768, 1024): its paths and outputs are
// bitwise those of the same token walked among others (batched: shared-row dots and chains), for every weight
// type and runnable ISA, on widths with walk1 and without (767), with a NaN token (all left) among them.
TEST(fff_one_token_walk_agrees_bitwise) {
  const Case cases[] = {
      {768, 768, 11, 1, 9}, {512, 40, 6, 2, 9}, {1024, 17, 3, 3, 6}, {767, 768, 5, 1, 5}, {768, 5, 0, 2, 5}};
  uint32_t seed = 9500;
  int64_t checked = 0;
  for (const Case& cs : cases) {
    const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
    x[size_t(2 * cs.I + 5)] = std::numeric_limits<float>::quiet_NaN();  // token 2
    const int64_t P = cs.K * (cs.D + 1);
    for (FffWeights type : {FffWeights::f32, FffWeights::bf16, FffWeights::bf16_dot}) {
      const FffLayerPtr L = make_layer(w, type);
      for (Isa isa : runnable_isas(false)) {
        const Run base = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::batched, isa, pool(1));
        for (int64_t t = 0; t < cs.rows; ++t) {
          const Run one = run(*L, x.data() + t * cs.I, 1, cs.I, cs.O, FffStrategy::automatic, isa, pool(2));
          const bool paths = std::equal(one.paths.begin(), one.paths.end(), base.paths.begin() + t * P);
          const bool y = std::memcmp(one.y.data(), &base.y[size_t(t * cs.O)], size_t(cs.O) * sizeof(float)) == 0;
          CHECK_MSG(paths && y, "%s %s I=%lld D=%lld K=%lld token %lld alone: %s differ from the batched walk",
                    type_name(type), isa_name(isa), (long long)cs.I, (long long)cs.D, (long long)cs.K, (long long)t,
                    paths ? "outputs" : "paths");
          ++checked;
        }
        for (int64_t j = 0; j < P; ++j) {
          CHECK_MSG(base.paths[size_t(2 * P + j)] == (int32_t(1) << (j % (cs.D + 1))) - 1, "NaN token not all-left");
        }
      }
    }
  }
  CHECK(checked >= 3 * 34);
}

static void zero_logit_goes_left(FffWeights type) {
  // Tree 0 (D=2): node 0 has logit exactly 0 (x0*1 + x1*(-1) with x0 == x1, bias 0), node 1 (its left child)
  // has logit 0 from bias -0.5 against a dot of exactly 0.5, node 3 positive. Tree 1: every logit exactly 0
  // (zero row, zero bias). Expected paths: tree 0 -> 0, 1, 3; tree 1 -> 0, 1, 3; GELU(0) = 0 adds nothing.
  const FffShape s{2, 3, 2, 2};
  const int64_t nn = s.nodes_per_tree(), R = 2 * nn;
  std::vector<float> w_in(size_t(R * 2), 0.0f), b(size_t(R), 0.0f), w_out(size_t(3 * R));
  for (size_t i = 0; i < w_out.size(); ++i) w_out[i] = 0.25f + float(i);
  w_in[0] = 1.0f;  // node 0: 1*1 + (-1)*1
  w_in[1] = -1.0f;
  w_in[2] = 0.25f;  // node 1: 0.25*1 + 0.25*1 - 0.5
  w_in[3] = 0.25f;
  b[1] = -0.5f;
  w_in[6] = 1.0f;  // node 3: logit 1 (goes right, past the path's end)
  const FffLayerPtr L = fff_create(s, w_in.data(), b.data(), w_out.data(), type);
  CHECK(L != nullptr);
  if (!L) return;
  if (type != FffWeights::f32) {  // what the layer holds (these W_in values are exact in bf16)
    for (float& v : w_out) v = fff_bf16_to_f32(fff_f32_to_bf16(v));
  }
  const float x[2] = {1.0f, 1.0f};
  const float g3 = 0.5f * 1.0f * (1.0f + std::erf(1.0f / std::sqrt(2.0f)));
  for (Isa isa : runnable_isas(false)) {
    for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched}) {
      const Run r = run(*L, x, 1, 2, 3, st, isa, pool(2));
      const std::vector<int32_t> expect = {0, 1, 3, 0, 1, 3};
      CHECK_MSG(r.paths == expect, "%s %s: paths %d %d %d / %d %d %d", isa_name(isa), type_name(type), r.paths[0],
                r.paths[1], r.paths[2], r.paths[3], r.paths[4], r.paths[5]);
      for (int64_t o = 0; o < 3; ++o) {
        const float want = g3 * w_out[size_t(o * R + 3)];
        CHECK_MSG(std::fabs(r.y[size_t(o)] - want) <= 1e-6f * std::fabs(want), "%s %s: y[%lld] = %g, want %g",
                  isa_name(isa), type_name(type), (long long)o, r.y[size_t(o)], want);
      }
    }
  }
}

TEST(fff_zero_logit_goes_left) {
  zero_logit_goes_left(FffWeights::f32);
  zero_logit_goes_left(FffWeights::bf16);
  zero_logit_goes_left(FffWeights::bf16_dot);  // x = 1 and these W_in values are exact in bf16
}

static void strides_larger_than_widths(FffWeights type) {
  const Case cs{37, 29, 6, 2, 23};
  const int64_t ldx = 45, ldy = 41;
  const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, 900);
  const FffLayerPtr L = make_layer(w, type);
  const std::vector<float> x = make_inputs(cs.rows, cs.I, 901);
  std::vector<float> xs(size_t(cs.rows * ldx), std::numeric_limits<float>::quiet_NaN());
  for (int64_t t = 0; t < cs.rows; ++t) std::copy_n(&x[size_t(t * cs.I)], cs.I, &xs[size_t(t * ldx)]);
  for (Isa isa : runnable_isas(false)) {
    for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched}) {
      const Run dense = run(*L, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(2));
      const Run strided = run(*L, xs.data(), cs.rows, ldx, ldy, st, isa, pool(2));
      CHECK(strided.paths == dense.paths);
      int bad = 0, touched = 0;
      for (int64_t t = 0; t < cs.rows; ++t) {
        for (int64_t o = 0; o < ldy; ++o) {
          const float v = strided.y[size_t(t * ldy + o)];
          if (o >= cs.O) {
            touched += v != -7.0f;  // padding between rows stays as it was
          } else {
            bad += std::memcmp(&v, &dense.y[size_t(t * cs.O + o)], sizeof v) != 0;
          }
        }
      }
      CHECK_MSG(bad == 0 && touched == 0, "%s %s strategy %d: %d outputs differ, %d padding floats written",
                isa_name(isa), type_name(type), int(st), bad, touched);
    }
  }
}

TEST(fff_strides_larger_than_widths) {
  strides_larger_than_widths(FffWeights::f32);
  strides_larger_than_widths(FffWeights::bf16);
  strides_larger_than_widths(FffWeights::bf16_dot);
}

static void nan_input_goes_left_and_stays_in_its_row(FffWeights type) {
  const Case cs{21, 13, 4, 2, 9};
  const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, 77);
  const FffLayerPtr L = make_layer(w, type);
  std::vector<float> x = make_inputs(cs.rows, cs.I, 78);
  const std::vector<float> clean = x;
  x[size_t(4 * cs.I + 3)] = std::numeric_limits<float>::quiet_NaN();  // token 4
  const int64_t P = cs.K * (cs.D + 1);
  for (Isa isa : runnable_isas(false)) {
    for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched}) {
      const Run r = run(*L, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(3));
      const Run c = run(*L, clean.data(), cs.rows, cs.I, cs.O, st, isa, pool(3));
      for (int64_t j = 0; j < P; ++j) {
        const int64_t level = j % (cs.D + 1);
        CHECK_MSG(r.paths[size_t(4 * P + j)] == (int32_t(1) << level) - 1, "%s %s: NaN token not all-left at %lld",
                  isa_name(isa), type_name(type), (long long)j);
      }
      for (int64_t o = 0; o < cs.O; ++o) CHECK(std::isnan(r.y[size_t(4 * cs.O + o)]));
      for (int64_t t = 0; t < cs.rows; ++t) {
        if (t == 4) continue;
        CHECK_MSG(std::memcmp(&r.y[size_t(t * cs.O)], &c.y[size_t(t * cs.O)], cs.O * sizeof(float)) == 0,
                  "%s %s: token %lld changed by another token's NaN", isa_name(isa), type_name(type), (long long)t);
      }
    }
  }
}

TEST(fff_nan_input_goes_left_and_stays_in_its_row) {
  nan_input_goes_left_and_stays_in_its_row(FffWeights::f32);
  nan_input_goes_left_and_stays_in_its_row(FffWeights::bf16);
  nan_input_goes_left_and_stays_in_its_row(FffWeights::bf16_dot);
}

TEST(fff_depth_20_does_not_overflow) {
  // 2^21 - 1 nodes, the deepest node index 2^21 - 2 in paths; I = O = 1 keeps it at ~290 MB packed.
  const FffShape s{1, 1, 20, 1};
  CHECK(s.nodes_per_tree() == (int64_t(1) << 21) - 1);
  Weights w = make_weights(s, 31);
  for (float& v : w.w_in) v = std::fabs(v) + 0.01f;  // every logit > 0 for x > 0: the rightmost path
  for (float& v : w.b_in) v = 0.0f;
  const FffLayerPtr L = make_layer(w);
  CHECK(L != nullptr);
  if (!L) return;
  const float x = 2.0f;
  for (Isa isa : runnable_isas(false)) {
    const Run r = run(*L, &x, 1, 1, 1, FffStrategy::automatic, isa, pool(1));
    CHECK_MSG(r.paths[20] == (int32_t(1) << 21) - 2, "%s: last node %d", isa_name(isa), r.paths[20]);
    std::vector<double> yref;
    std::vector<int32_t> pref;
    ref_token(w, &x, &yref, &pref);
    CHECK(r.paths == pref);
    CHECK_MSG(std::fabs(r.y[0] - yref[0]) <= 1e-5 * (1.0 + std::fabs(yref[0])), "%s: %g vs %g", isa_name(isa), r.y[0],
              yref[0]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// bf16 weights

TEST(fff_bf16_rounding_is_nearest_even) {
  auto bits = [](float f) { return fff_f32_to_bf16(f); };
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  CHECK(bits(1.0f) == 0x3f80);
  CHECK(bits(-2.0f) == 0xc000);
  CHECK(bits(from_bits(0x3f808000u)) == 0x3f80);  // tie, even below: down
  CHECK(bits(from_bits(0x3f818000u)) == 0x3f82);  // tie, odd below: up
  CHECK(bits(from_bits(0x3f808001u)) == 0x3f81);  // above the tie: up
  CHECK(bits(from_bits(0x3f807fffu)) == 0x3f80);  // below the tie: down
  CHECK(bits(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(bits(std::numeric_limits<float>::max()) == 0x7f80);  // rounds past the largest bf16: infinity
  CHECK(bits(-0.0f) == 0x8000);
  CHECK(bits(from_bits(0x00000001u)) == 0x0000);  // smallest subnormal rounds to 0
  const uint16_t nan = bits(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x007f) != 0);
  CHECK(std::isnan(fff_bf16_to_f32(bits(from_bits(0x7f800001u)))));  // a NaN with only low payload bits stays NaN
  // Relative error <= 2^-8 over a range of magnitudes.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> ud(-30.0f, 30.0f);
  double worst = 0.0;
  for (int i = 0; i < 100000; ++i) {
    const float f = std::ldexp(1.0f + std::fabs(ud(rng)) / 30.0f, int(ud(rng))) * (i % 2 ? 1.0f : -1.0f);
    const double r = std::fabs(double(fff_bf16_to_f32(bits(f))) - f) / std::fabs(f);
    if (r > worst) worst = r;
  }
  CHECK_MSG(worst <= kBf16U, "worst relative rounding error %g", worst);
}

TEST(fff_bf16_create_and_bytes) {
  const std::vector<float> a(64, 0.5f);
  FffLayerPtr L = fff_create({3, 2, 1, 2}, a.data(), a.data(), a.data(), FffWeights::bf16);
  CHECK(L != nullptr);
  if (L) {
    CHECK(fff_weights(*L) == FffWeights::bf16);
    // 6 rows of W_in and W_out^T, each padded to 32 bf16, plus 6 fp32 biases.
    CHECK_MSG(fff_weight_bytes(*L) == 6 * (2 * (32 + 32) + 4), "bytes %lld", (long long)fff_weight_bytes(*L));
  }
  FffLayerPtr F = fff_create({3, 2, 1, 2}, a.data(), a.data(), a.data());
  CHECK(F != nullptr && fff_weights(*F) == FffWeights::f32);
  CHECK(fff_create({3, 2, 1, 2}, a.data(), a.data(), a.data(), FffWeights(7)) == nullptr);
  CHECK(fff_create({0, 2, 1, 2}, a.data(), a.data(), a.data(), FffWeights::bf16) == nullptr);
  // The 1x11 layer: 4095 rows of 768 + 768 bf16 and a bias each, half the fp32 bytes (plus the biases).
  const FffShape big{768, 768, 11, 1};
  const Weights w = make_weights(big, 5);
  const FffLayerPtr b16 = make_layer(w, FffWeights::bf16), b32 = make_layer(w);
  CHECK(fff_weight_bytes(*b16) == 4095 * (2 * 1536 + 4));
  std::printf("     1x11 layer: %.1f MB fp32, %.1f MB bf16\n", fff_weight_bytes(*b32) / 1e6,
              fff_weight_bytes(*b16) / 1e6);
}

// Same ISA: a bf16 layer is the fp32 layer of the rounded weights, bitwise (paths and outputs).
TEST(fff_bf16_is_f32_of_rounded_weights_bitwise) {
  uint32_t seed = 2000;
  int64_t tokens = 0;
  for (Isa isa : runnable_isas(false)) {
    for (const Case& cs : grid_cases()) {
      const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
      const FffLayerPtr b = make_layer(w, FffWeights::bf16);
      const FffLayerPtr f = make_layer(round_to_bf16(w));
      const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
      for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched}) {
        const Run rb = run(*b, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(2));
        const Run rf = run(*f, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(2));
        CHECK_MSG(rb.paths == rf.paths, "%s I=%lld O=%lld D=%lld K=%lld strategy %d: paths differ", isa_name(isa),
                  (long long)cs.I, (long long)cs.O, (long long)cs.D, (long long)cs.K, int(st));
        CHECK_MSG(std::memcmp(rb.y.data(), rf.y.data(), rb.y.size() * sizeof(float)) == 0,
                  "%s I=%lld O=%lld D=%lld K=%lld strategy %d: outputs not bitwise equal", isa_name(isa),
                  (long long)cs.I, (long long)cs.O, (long long)cs.D, (long long)cs.K, int(st));
        tokens += cs.rows;
      }
    }
  }
  CHECK(tokens > 4000);
}

TEST(fff_bf16_scalar_matches_reference) {
  Compare total;
  uint32_t seed = 3000;
  for (const Case& cs : grid_cases()) {
    const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    const Weights wr = round_to_bf16(w);
    const FffLayerPtr L = make_layer(w, FffWeights::bf16);
    const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
    const Run r = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, Isa::scalar, pool(1));
    std::vector<double> yref;
    std::vector<int32_t> pref;
    ref_rows(wr, x.data(), cs.rows, &yref, &pref);
    compare_runs(wr, x.data(), cs.rows, cs.I, r.y.data(), cs.O, r.paths.data(), yref.data(), nullptr, cs.O, pref.data(),
                 "bf16 scalar vs reference of the rounded weights", &total);
  }
  std::printf(
      "     bf16 scalar vs reference (rounded weights): %lld tokens compared, %lld path flips, max err %.3f "
      "of tol\n",
      (long long)total.compared, (long long)total.flips, total.max_rel);
  CHECK(total.compared > 2000);
}

TEST(fff_bf16_isa_matches_scalar) {
  for (Isa isa : runnable_isas(true)) {
    if (isa == Isa::scalar) continue;
    Compare total;
    uint32_t seed = 4000;
    for (const Case& cs : grid_cases()) {
      const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
      const Weights wr = round_to_bf16(w);
      const FffLayerPtr L = make_layer(w, FffWeights::bf16);
      const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
      const Run s = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, Isa::scalar, pool(1));
      for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched}) {
        const Run v = run(*L, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(1));
        compare_runs(wr, x.data(), cs.rows, cs.I, v.y.data(), cs.O, v.paths.data(), nullptr, s.y.data(), cs.O,
                     s.paths.data(), isa_name(isa), &total);
      }
    }
    std::printf("     bf16 %s vs bf16 scalar: %lld token walks compared, %lld path flips, max err %.3f of tol\n",
                isa_name(isa), (long long)total.compared, (long long)total.flips, total.max_rel);
    CHECK(total.compared > 4000);
  }
}

TEST(fff_bf16_strategies_and_threads_agree_bitwise) { check_strategies_and_threads_bitwise(FffWeights::bf16, 5000); }

// bf16 against fp32 weights on 1x11 (and a K=2 variant), random weights: the accuracy bf16 costs. Each weight
// moves by at most u = 2^-8 relative, so a logit moves by at most u * (its |terms| scale A) and an output by at
// most u * sum over the path of (|g| + 1.2 A) |W_out| (out_tols with eps = u; plus fp32 rounding): a worst-case
// bound, not a fitted one. Paths may part only where the fp32 logit is within u * A of 0. Reported: flipped
// paths, max abs error, the error relative to the bound, and ||dy|| / ||y|| per token.
TEST(fff_bf16_accuracy_vs_f32) {
  const Case cases[] = {{768, 768, 11, 1, 2000}, {768, 768, 11, 2, 500}};
  uint32_t seed = 6000;
  for (const Case& cs : cases) {
    const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    const FffLayerPtr f = make_layer(w), b = make_layer(w, FffWeights::bf16);
    const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
    for (Isa isa : runnable_isas(false)) {
      Compare c;
      const Run rf = run(*f, x.data(), cs.rows, cs.I, cs.O, FffStrategy::automatic, isa, pool(2));
      const Run rb = run(*b, x.data(), cs.rows, cs.I, cs.O, FffStrategy::automatic, isa, pool(2));
      compare_runs(w, x.data(), cs.rows, cs.I, rb.y.data(), cs.O, rb.paths.data(), nullptr, rf.y.data(), cs.O,
                   rf.paths.data(), "bf16 vs f32", &c, kBf16U + 2e-6);
      double ymax = 0.0;
      for (float v : rf.y) ymax = std::max(ymax, double(std::fabs(v)));
      std::printf(
          "     bf16 vs f32, %s, I=O=%lld D=%lld K=%lld, %lld tokens: %lld paths flipped (%.2f%%); on the "
          "others max abs err %.2e (max |y| %.2f), max err %.3f of the worst-case bound, ||dy||/||y|| "
          "mean %.2e max %.2e\n",
          isa_name(isa), (long long)cs.I, (long long)cs.D, (long long)cs.K, (long long)cs.rows, (long long)c.flips,
          100.0 * double(c.flips) / double(cs.rows), c.max_abs, ymax, c.max_rel,
          c.compared ? c.sum_norm_rel / double(c.compared) : 0.0, c.max_norm_rel);
      // Each parted path was excused above (logit within rounding of 0); the outputs compared must still be
      // most tokens, and they must differ from f32 somewhere, or the layer did not round its weights at all.
      CHECK_MSG(c.compared * 10 >= cs.rows * 9, "%lld of %lld tokens compared", (long long)c.compared,
                (long long)cs.rows);
      CHECK_MSG(c.max_abs > 0.0, "bf16 outputs are bitwise the f32 ones: weights not rounded");
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// bf16_dot layers

namespace {

// What a bf16_dot layer holds (W_in, W_out rounded, subnormals flushed) and computes with (x rounded likewise).
Weights round_to_bf16_daz(Weights w) {
  for (float& v : w.w_in) v = fff_bf16_to_f32(fff_f32_to_bf16_daz(v));
  for (float& v : w.w_out) v = fff_bf16_to_f32(fff_f32_to_bf16_daz(v));
  return w;
}
std::vector<float> round_inputs(std::vector<float> x) {
  for (float& v : x) v = fff_bf16_to_f32(fff_f32_to_bf16_daz(v));
  return x;
}

const char* dot_kind(Isa isa) {
  const FffKernels* k = fff_kernels_for(isa);
  return k && k->dot_bf16x ? "bf16 dot instructions" : "widened";
}

}  // namespace

// Every SIMD kernel table walks a lone token with walk1 (fff_one_token_walk_agrees_bitwise holds its results to the
// other walks; this holds the table to having one, for f32 and bf16 rows, and for bf16_dot layers wherever the
// ISA has the bf16 dot kernels). Only the scalar oracle goes through the chains.
TEST(fff_walk1_in_every_simd_table) {
  int simd = 0;
  for (Isa isa : runnable_isas(false)) {
    const FffKernels* k = fff_kernels_for(isa);
    CHECK(k != nullptr);
    if (!k || isa == Isa::scalar) continue;
    ++simd;
    CHECK_MSG(k->walk1 && k->walk1_bf16, "%s: no walk1 for f32 or bf16 rows", isa_name(isa));
    CHECK_MSG(!k->dot_bf16x == !k->walk1_bf16x, "%s: bf16 dot kernels %s, walk1 for them %s", isa_name(isa),
              k->dot_bf16x ? "present" : "absent", k->walk1_bf16x ? "present" : "absent");
  }
  std::printf("     %d SIMD kernel tables checked\n", simd);
}

TEST(fff_bf16_daz_rounding) {
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  CHECK(fff_f32_to_bf16_daz(from_bits(0x00000001u)) == 0x0000);  // subnormals flush to signed zero
  CHECK(fff_f32_to_bf16_daz(from_bits(0x807fffffu)) == 0x8000);
  CHECK(fff_f32_to_bf16_daz(from_bits(0x00800000u)) == 0x0080);  // the smallest normal stays
  CHECK(fff_f32_to_bf16_daz(1.00390625f) == 0x3f80);             // tie to even
  CHECK(fff_f32_to_bf16_daz(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(std::isnan(fff_bf16_to_f32(fff_f32_to_bf16_daz(std::numeric_limits<float>::quiet_NaN()))));
}

// Every ISA's round_bf16 is bitwise the scalar rule: random values, ties, subnormals, NaN, infinities, lengths
// 1..67 and 768 (vector bodies and tails).
// gather2 (two tokens' gathers, a row both take at the same position read once) against two gathers, bitwise, on
// every runnable ISA that has it: fp32 and bf16 rows, widths around each ISA's block and vector sizes, 1..12 rows,
// rows shared at every position, none, a prefix (leaf-order neighbours) and every other one; nothing is written
// past n.
// What the gather tests feed the kernels: 24 rows of kLd, fp32 and bf16, as the kernels may assume them
// (fff_kernels.h: 64-byte aligned, padded past n), and two tokens' 12 GELU values.
struct GatherInputs {
  static constexpr int64_t kRows = 24, kLd = 1024;
  std::vector<float> wf_buf = std::vector<float>(size_t(kRows * kLd + 16));
  std::vector<uint16_t> wb_buf = std::vector<uint16_t>(size_t(kRows * kLd + 32));
  float* wf = on_cache_line(wf_buf.data());
  uint16_t* wb = on_cache_line(wb_buf.data());
  std::vector<float> g0 = std::vector<float>(12), g1 = std::vector<float>(12);
  GatherInputs(const GatherInputs&) = delete;
  explicit GatherInputs(uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int64_t i = 0; i < kRows * kLd; ++i) {
      wf[i] = nd(rng);
      wb[i] = fff_f32_to_bf16(nd(rng));
    }
    for (int j = 0; j < 12; ++j) {
      g0[size_t(j)] = nd(rng);
      g1[size_t(j)] = nd(rng);
    }
  }
};

TEST(fff_gather2_is_two_gathers_bitwise) {
  constexpr int64_t kMaxN = 1000, kLd = GatherInputs::kLd;
  const GatherInputs in(47);
  const float* wf = in.wf;
  const uint16_t* wb = in.wb;
  const std::vector<float>& g0 = in.g0;
  const std::vector<float>& g1 = in.g1;
  int64_t checked = 0;
  for (Isa isa : runnable_isas(false)) {
    const FffKernels* k = fff_kernels_for(isa);
    if (!k || !k->gather2 || !k->gather2_bf16) continue;
    int bad = 0;
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(16), int64_t(33), int64_t(64), int64_t(65), int64_t(127),
                      int64_t(128), int64_t(129), int64_t(768), kMaxN}) {
      for (int64_t count : {int64_t(1), int64_t(5), int64_t(12)}) {
        for (int share = 0; share < 4; ++share) {
          // Token 0 takes rows 0..count-1; token 1 the same row at j when shared, else row 12 + j. `pair` and
          // `one` are gather2 and gather of one row type; counts a pair whose outputs differ or that writes past n.
          auto differs = [&](auto* w, auto pair, auto one) {
            decltype(w) r0s[12];
            decltype(w) r1s[12];
            for (int64_t j = 0; j < count; ++j) {
              const bool same = share == 0 || (share == 2 && j < count / 2 + 1) || (share == 3 && j % 2 == 0);
              r0s[j] = w + j * kLd;
              r1s[j] = w + (same ? j : 12 + j) * kLd;
            }
            const size_t len = size_t(n);
            std::vector<float> y0(len + 1, 7.0f), y1(len + 1, 7.0f), e0(len), e1(len);
            pair(r0s, r1s, g0.data(), g1.data(), count, n, y0.data(), y1.data());
            one(r0s, g0.data(), count, n, e0.data());
            one(r1s, g1.data(), count, n, e1.data());
            return int(std::memcmp(y0.data(), e0.data(), len * 4) != 0 ||
                       std::memcmp(y1.data(), e1.data(), len * 4) != 0 || y0[len] != 7.0f || y1[len] != 7.0f);
          };
          bad += differs(static_cast<const float*>(wf), k->gather2, k->gather);
          bad += differs(static_cast<const uint16_t*>(wb), k->gather2_bf16, k->gather_bf16);
          checked += 2;
        }
      }
    }
    CHECK_MSG(bad == 0, "%s gather2: %d cases differ from two gathers or write past n", isa_name(isa), bad);
  }
  std::printf("     gather2 vs two gathers: %lld cases\n", (long long)checked);
}

// The streamed gathers (y written past the caches) write what the cached ones do, bitwise, and nothing past n:
// fp32 and bf16 rows, one token and two, on every ISA that has them (y 64-byte aligned, n a multiple of 16, as
// fff_kernels.h asks). ISAs without them (scalar, NEON) have null entries.
TEST(fff_streamed_gathers_are_the_cached_ones_bitwise) {
  constexpr int64_t kLd = GatherInputs::kLd;
  const GatherInputs in(48);
  const float* wf = in.wf;
  const uint16_t* wb = in.wb;
  const std::vector<float>& g0 = in.g0;
  const std::vector<float>& g1 = in.g1;
  // Two aligned outputs of up to kLd floats, each followed by a sentinel line.
  std::vector<float> ybuf(size_t(4 * (kLd + 16) + 16));
  float* ya = on_cache_line(ybuf.data());
  float* yb = ya + kLd + 16;
  int64_t checked = 0;
  for (Isa isa : runnable_isas(false)) {
    const FffKernels* k = fff_kernels_for(isa);
    if (!k) continue;
    const bool has = k->gather_stream && k->gather_bf16_stream && k->gather2_stream && k->gather2_bf16_stream;
    const bool expected = isa == Isa::avx2 || isa == Isa::avx512;
    CHECK_MSG(has == expected, "%s: streamed gathers %s", isa_name(isa), has ? "present" : "missing");
    if (!has) continue;
    int bad = 0;
    for (int64_t n : {int64_t(16), int64_t(48), int64_t(64), int64_t(128), int64_t(144), int64_t(768), int64_t(1008)}) {
      for (int64_t count : {int64_t(1), int64_t(5), int64_t(12)}) {
        for (int share = 0; share < 2; ++share) {
          auto differs = [&](auto* w, auto one, auto one_stream, auto pair_stream) {
            decltype(w) r0s[12];
            decltype(w) r1s[12];
            for (int64_t j = 0; j < count; ++j) {
              r0s[j] = w + j * kLd;
              r1s[j] = w + ((share && j % 2 == 0) ? j : 12 + j) * kLd;
            }
            const size_t len = size_t(n);
            std::vector<float> e0(len), e1(len);
            one(r0s, g0.data(), count, n, e0.data());
            one(r1s, g1.data(), count, n, e1.data());
            int d = 0;
            std::fill(ya, ya + kLd + 16, 7.0f);
            one_stream(r0s, g0.data(), count, n, ya);
            FFFBERT_STORE_FENCE();
            d += std::memcmp(ya, e0.data(), len * 4) != 0 || ya[len] != 7.0f || ya[len + 15] != 7.0f;
            std::fill(ya, ya + kLd + 16, 7.0f);
            std::fill(yb, yb + kLd + 16, 7.0f);
            pair_stream(r0s, r1s, g0.data(), g1.data(), count, n, ya, yb);
            FFFBERT_STORE_FENCE();
            d += std::memcmp(ya, e0.data(), len * 4) != 0 || std::memcmp(yb, e1.data(), len * 4) != 0 ||
                 ya[len] != 7.0f || yb[len] != 7.0f;
            return d;
          };
          bad += differs(static_cast<const float*>(wf), k->gather, k->gather_stream, k->gather2_stream);
          bad +=
              differs(static_cast<const uint16_t*>(wb), k->gather_bf16, k->gather_bf16_stream, k->gather2_bf16_stream);
          checked += 4;
        }
      }
    }
    CHECK_MSG(bad == 0, "%s: %d streamed gathers differ from the cached ones or write past n", isa_name(isa), bad);
  }
  std::printf("     streamed vs cached gathers: %lld cases\n", (long long)checked);
}

// gather4 (four tokens' gathers, a row that a token takes at the same position as the token before it loaded once)
// against four gathers, bitwise, cached and streamed, on every runnable ISA (AVX-512 has it; the others have null
// entries): widths around the 64-output block and the vector, 1..12 rows, rows shared by all four at every
// position, by none, by runs of neighbours over a prefix of positions (leaf order: a shorter prefix for each later
// pair), by the first and third token only (not neighbours: loaded again) and every other position; nothing is
// written past n.
TEST(fff_gather4_is_four_gathers_bitwise) {
  constexpr int64_t kLd = GatherInputs::kLd;
  const GatherInputs in(49);
  const float* wf = in.wf;
  std::vector<float> g[4];
  for (int t = 0; t < 4; ++t) {
    g[t].resize(12);
    for (int j = 0; j < 12; ++j)
      g[t][size_t(j)] = t == 0   ? in.g0[size_t(j)]
                        : t == 1 ? in.g1[size_t(j)]
                                 : (t == 2 ? 0.5f : -1.25f) * in.g0[size_t(11 - j)];
  }
  const float* gp[4] = {g[0].data(), g[1].data(), g[2].data(), g[3].data()};
  // Four aligned outputs of up to kLd floats, each followed by a sentinel line.
  std::vector<float> ybuf(size_t(4 * (kLd + 16) + 16));
  float* y[4];
  y[0] = on_cache_line(ybuf.data());
  for (int t = 1; t < 4; ++t) y[t] = y[t - 1] + kLd + 16;
  int64_t checked = 0;
  for (Isa isa : runnable_isas(false)) {
    const FffKernels* k = fff_kernels_for(isa);
    if (!k) continue;
    const bool has = k->gather4 && k->gather4_stream;
    CHECK_MSG(has == (isa == Isa::avx512), "%s: gather4 %s", isa_name(isa), has ? "present" : "missing");
    if (!has) continue;
    int bad = 0;
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(16), int64_t(33), int64_t(48), int64_t(64), int64_t(65),
                      int64_t(127), int64_t(128), int64_t(144), int64_t(768), int64_t(1000)}) {
      for (int64_t count : {int64_t(1), int64_t(5), int64_t(12)}) {
        for (int share = 0; share < 5; ++share) {
          // Token t's row at position j: row j where shared, else row (6 t + j) mod 24 (never row j for t > 0).
          const float* rows[4][12];
          for (int t = 0; t < 4; ++t) {
            for (int64_t j = 0; j < count; ++j) {
              const bool same = share == 0 || (share == 2 && j < count - 2 * t) || (share == 3 && (t == 0 || t == 2)) ||
                                (share == 4 && j % 2 == 0);
              rows[t][j] = wf + (same ? j : (6 * t + j) % 24) * kLd;
            }
          }
          const float* const* wp[4] = {rows[0], rows[1], rows[2], rows[3]};
          const size_t len = size_t(n);
          std::vector<float> e[4];
          for (int t = 0; t < 4; ++t) {
            e[t].resize(len);
            k->gather(rows[t], gp[t], count, n, e[t].data());
          }
          auto differs = [&](bool stream) {
            for (int t = 0; t < 4; ++t) std::fill(y[t], y[t] + kLd + 16, 7.0f);
            (stream ? k->gather4_stream : k->gather4)(wp, gp, count, n, y);
            if (stream) FFFBERT_STORE_FENCE();
            int d = 0;
            for (int t = 0; t < 4; ++t) {
              d += std::memcmp(y[t], e[t].data(), len * 4) != 0 || y[t][len] != 7.0f || y[t][len + 15] != 7.0f;
            }
            return int(d != 0);
          };
          bad += differs(false);
          ++checked;
          if (n % 16 == 0) {  // what the streamed form asks
            bad += differs(true);
            ++checked;
          }
        }
      }
    }
    CHECK_MSG(bad == 0, "%s: %d gather4 cases differ from four gathers or write past n", isa_name(isa), bad);
  }
  std::printf("     gather4 vs four gathers: %lld cases\n", (long long)checked);
}

// A layer with its outputs streamed (fff_set_output_stores(streamed), y on cache lines) gives the paths and outputs
// of the cached single-threaded per-token walk, bitwise, for every weight type, strategy and 1..3 threads.
TEST(fff_streamed_outputs_are_the_cached_ones_bitwise) {
  struct Shape {
    int64_t I, O, D, K, rows, ldy;
  };
  const Shape shapes[] = {{48, 32, 6, 1, 700, 32}, {96, 64, 9, 2, 300, 80}, {768, 768, 8, 1, 260, 768}};
  int64_t checked = 0;
  for (FffWeights type : {FffWeights::f32, FffWeights::bf16, FffWeights::bf16_dot}) {
    for (const Shape& sh : shapes) {
      const Weights w = make_weights({sh.I, sh.O, sh.D, sh.K}, uint32_t(90 + sh.I));
      const FffLayerPtr L = make_layer(w, type);
      CHECK(L != nullptr);
      if (!L) continue;
      const std::vector<float> x = make_inputs(sh.rows, sh.I, uint32_t(91 + sh.O));
      std::vector<float> buf(size_t(sh.rows * sh.ldy + 16));
      float* y = on_cache_line(buf.data());
      std::vector<int32_t> paths(size_t(sh.rows * sh.K * (sh.D + 1)));
      for (Isa isa : runnable_isas(false)) {
        fff_set_output_stores(FffOutputStores::cached);
        const Run base = run(*L, x.data(), sh.rows, sh.I, sh.ldy, FffStrategy::per_token, isa, pool(1));
        fff_set_output_stores(FffOutputStores::streamed);
        for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched, FffStrategy::automatic}) {
          for (int p = 1; p <= 3; ++p) {
            std::fill(buf.begin(), buf.end(), -7.0f);
            fff_forward(*L, x.data(), sh.rows, sh.I, y, sh.ldy, paths.data(), st, isa, pool(p));
            CHECK_MSG(paths == base.paths, "%s %s I=%lld strategy %d threads %d: paths differ", isa_name(isa),
                      type_name(type), (long long)sh.I, int(st), p);
            int bad_rows = 0;  // each row's O outputs bitwise; with ldy > O the gap left as it was
            for (int64_t r = 0; r < sh.rows; ++r) {
              bad_rows += std::memcmp(y + r * sh.ldy, base.y.data() + r * sh.ldy, size_t(sh.O) * sizeof(float)) != 0;
              for (int64_t o = sh.O; o < sh.ldy; ++o) bad_rows += y[r * sh.ldy + o] != -7.0f;
            }
            CHECK_MSG(bad_rows == 0, "%s %s I=%lld strategy %d threads %d: %d rows differ", isa_name(isa),
                      type_name(type), (long long)sh.I, int(st), p, bad_rows);
            ++checked;
          }
        }
      }
    }
  }
  fff_set_output_stores(FffOutputStores::automatic);
  std::printf("     streamed vs cached layer calls: %lld\n", (long long)checked);
}

// The automatic rule (fff_streams_output) on the machines of docs/PERFORMANCE.md: the Zen 4 VM (1 MB L2, 32 MB L3)
// streams a 1x11 layer's 2048- and 512-token outputs on 2 threads and not its 256- or 128-token ones; the 16-core Xeon
// (2 MB L2, 300 MB L3) streams neither; misaligned or strided-off-line outputs and unknown caches never stream.
TEST(fff_output_stores_rule) {
  const CacheSizes zen4{int64_t(1) << 20, int64_t(32) << 20}, xeon{int64_t(2) << 20, int64_t(300) << 20}, none{};
  const int64_t f32 = 2 * 4095 * 768 * 4, bf16 = f32 / 2;
  alignas(64) static float y[64];
  CHECK(fff_streams_output(f32, 2048, 768, 768, y, 768, 2, zen4));
  CHECK(fff_streams_output(bf16, 2048, 768, 768, y, 768, 2, zen4));
  CHECK(fff_streams_output(f32, 2048, 768, 768, y, 768, 1, zen4));
  CHECK(fff_streams_output(f32, 512, 768, 768, y, 768, 2, zen4));
  CHECK(!fff_streams_output(f32, 256, 768, 768, y, 768, 2, zen4));
  CHECK(!fff_streams_output(f32, 128, 768, 768, y, 768, 2, zen4));
  CHECK(!fff_streams_output(f32, 2048, 768, 768, y, 768, 16, xeon));
  CHECK(!fff_streams_output(f32, 2048, 768, 768, y, 768, 2, xeon));
  CHECK(!fff_streams_output(f32, 2048, 768, 768, y + 4, 768, 2, zen4));  // 16 bytes past a line
  CHECK(!fff_streams_output(f32, 2048, 768, 768, y, 770, 2, zen4));      // rows off the lines
  CHECK(!fff_streams_output(f32, 2048, 768, 760, y, 768, 2, zen4));      // O not whole lines
  CHECK(!fff_streams_output(f32, 2048, 768, 768, y, 768, 2, none));
  CHECK(!fff_streams_output(f32, 0, 768, 768, y, 768, 2, zen4));
  const CacheSizes& here = cache_sizes();
  std::printf("     caches here: L2 %lld KB, last level %lld KB\n", (long long)(here.l2 >> 10),
              (long long)(here.llc >> 10));
}

TEST(fff_round_bf16_kernels_match_the_rule) {
  std::mt19937 rng(31);
  std::vector<float> x(800);
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t u = rng();
    if (i % 5 == 1) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
    if (i % 7 == 2) u &= 0x807fffffu;                 // subnormals
    float f;
    std::memcpy(&f, &u, sizeof f);
    x[i] = f;
  }
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[10] = -std::numeric_limits<float>::infinity();
  x[11] = std::numeric_limits<float>::max();
  for (Isa isa : runnable_isas(false)) {
    const FffKernels* k = fff_kernels_for(isa);
    CHECK(k != nullptr);
    if (!k) continue;
    int bad = 0;
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(31), int64_t(32), int64_t(33), int64_t(67), int64_t(768)}) {
      for (int64_t off : {int64_t(0), int64_t(5)}) {
        std::vector<uint16_t> out(size_t(n) + 1, 0xabcd);
        k->round_bf16(x.data() + off, n, out.data());
        for (int64_t i = 0; i < n; ++i) bad += out[size_t(i)] != fff_f32_to_bf16_daz(x[size_t(off + i)]);
        bad += out[size_t(n)] != 0xabcd;  // nothing written past n
      }
    }
    CHECK_MSG(bad == 0, "%s round_bf16: %d values differ from the rule", isa_name(isa), bad);
    std::printf("     %s: bf16_dot dots %s\n", isa_name(isa), dot_kind(isa));
  }
}

// The scalar oracle against the double reference of the rounded weights and rounded x: fp32 rounding only.
TEST(fff_bf16_dot_scalar_matches_reference) {
  Compare total;
  uint32_t seed = 8000;
  for (const Case& cs : grid_cases()) {
    const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    const Weights wr = round_to_bf16_daz(w);
    const FffLayerPtr L = make_layer(w, FffWeights::bf16_dot);
    const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++), xr = round_inputs(x);
    const Run r = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, Isa::scalar, pool(1));
    std::vector<double> yref;
    std::vector<int32_t> pref;
    ref_rows(wr, xr.data(), cs.rows, &yref, &pref);
    compare_runs(wr, xr.data(), cs.rows, cs.I, r.y.data(), cs.O, r.paths.data(), yref.data(), nullptr, cs.O,
                 pref.data(), "bf16_dot scalar vs reference of the rounded weights and x", &total);
  }
  std::printf("     bf16_dot scalar vs reference: %lld tokens compared, %lld path flips, max err %.3f of tol\n",
              (long long)total.compared, (long long)total.flips, total.max_rel);
  CHECK(total.compared > 2000);
}

// Every ISA against the scalar oracle, both walks, fp32 tolerance. Where the dots are widened, the layer is also
// bitwise the bf16 layer of the same ISA on the rounded x.
TEST(fff_bf16_dot_isa_matches_scalar) {
  for (Isa isa : runnable_isas(true)) {
    Compare total;
    int64_t bitwise = 0;
    uint32_t seed = 9000;
    const bool widened = fff_kernels_for(isa) && !fff_kernels_for(isa)->dot_bf16x;
    for (const Case& cs : grid_cases()) {
      const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
      const Weights wr = round_to_bf16_daz(w);
      const FffLayerPtr L = make_layer(w, FffWeights::bf16_dot), B = make_layer(wr, FffWeights::bf16);
      const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++), xr = round_inputs(x);
      const Run s = run(*L, x.data(), cs.rows, cs.I, cs.O, FffStrategy::per_token, Isa::scalar, pool(1));
      for (FffStrategy st : {FffStrategy::per_token, FffStrategy::batched}) {
        const Run v = run(*L, x.data(), cs.rows, cs.I, cs.O, st, isa, pool(1));
        if (isa != Isa::scalar) {
          compare_runs(wr, xr.data(), cs.rows, cs.I, v.y.data(), cs.O, v.paths.data(), nullptr, s.y.data(), cs.O,
                       s.paths.data(), isa_name(isa), &total);
        }
        if (widened) {
          const Run b = run(*B, xr.data(), cs.rows, cs.I, cs.O, st, isa, pool(1));
          CHECK_MSG(b.paths == v.paths && std::memcmp(b.y.data(), v.y.data(), b.y.size() * sizeof(float)) == 0,
                    "%s I=%lld O=%lld D=%lld K=%lld: bf16_dot is not bitwise bf16 of the rounded x", isa_name(isa),
                    (long long)cs.I, (long long)cs.O, (long long)cs.D, (long long)cs.K);
          bitwise += cs.rows;
        }
      }
    }
    if (isa == Isa::scalar) {
      CHECK(bitwise > 4000);
      continue;
    }
    std::printf(
        "     bf16_dot %s (%s) vs scalar: %lld token walks compared, %lld path flips, max err %.3f of tol; "
        "%lld bitwise bf16 of rounded x\n",
        isa_name(isa), dot_kind(isa), (long long)total.compared, (long long)total.flips, total.max_rel,
        (long long)bitwise);
    CHECK(total.compared > 4000);
  }
}

TEST(fff_bf16_dot_strategies_and_threads_agree_bitwise) {
  check_strategies_and_threads_bitwise(FffWeights::bf16_dot, 7000);
}

// bf16_dot against fp32 weights on 1x11 (and K=2), random weights: weights and x each move by at most u = 2^-8
// relative, a product by 2u + u^2: the worst-case bound of fff_bf16_accuracy_vs_f32 with that eps. Reported as
// there; the bf16 layer beside it for comparison.
TEST(fff_bf16_dot_accuracy_vs_f32) {
  const Case cases[] = {{768, 768, 11, 1, 2000}, {768, 768, 11, 2, 500}};
  uint32_t seed = 10000;
  for (const Case& cs : cases) {
    const Weights w = make_weights({cs.I, cs.O, cs.D, cs.K}, seed++);
    const FffLayerPtr f = make_layer(w);
    const std::vector<float> x = make_inputs(cs.rows, cs.I, seed++);
    for (Isa isa : runnable_isas(false)) {
      const Run rf = run(*f, x.data(), cs.rows, cs.I, cs.O, FffStrategy::automatic, isa, pool(2));
      for (FffWeights type : {FffWeights::bf16, FffWeights::bf16_dot}) {
        const FffLayerPtr b = make_layer(w, type);
        Compare c;
        const Run rb = run(*b, x.data(), cs.rows, cs.I, cs.O, FffStrategy::automatic, isa, pool(2));
        compare_runs(w, x.data(), cs.rows, cs.I, rb.y.data(), cs.O, rb.paths.data(), nullptr, rf.y.data(), cs.O,
                     rf.paths.data(), type_name(type), &c, 2 * kBf16U + kBf16U * kBf16U + 2e-6);
        double ymax = 0.0;
        for (float v : rf.y) ymax = std::max(ymax, double(std::fabs(v)));
        std::printf(
            "     %s vs f32, %s, D=%lld K=%lld, %lld tokens: %lld paths flipped (%.2f%%); max abs err %.2e "
            "(max |y| %.2f), %.3f of the bound, ||dy||/||y|| mean %.2e max %.2e\n",
            type_name(type), isa_name(isa), (long long)cs.D, (long long)cs.K, (long long)cs.rows, (long long)c.flips,
            100.0 * double(c.flips) / double(cs.rows), c.max_abs, ymax, c.max_rel,
            c.compared ? c.sum_norm_rel / double(c.compared) : 0.0, c.max_norm_rel);
        CHECK_MSG(c.compared * 10 >= cs.rows * 9, "%lld of %lld tokens compared", (long long)c.compared,
                  (long long)cs.rows);
        CHECK_MSG(c.max_abs > 0.0, "%s outputs are bitwise the f32 ones: weights not rounded", type_name(type));
      }
    }
  }
}
