// What one FFF token's data movement costs on one core with its rows in L2 (issue 10's one-token target;
// docs/PERFORMANCE.md "Streamed input"): the layer's kernels do more (bias, logits, paths, GELU, the driver), so
// these loops are the floor they are held against. A 1x11 layer's node blocks (W_in row | W_out^T row, 768 fp32
// each, side by side as fff.cpp packs them), one token's 12 nodes visited over and over (the rows stay in L2, as
// with one x repeated):
//   dots     the 12 W_in rows dotted with x (4 accumulators, x read from L1), nodes fixed in advance;
//   gather   y = sum of 12 W_out rows scaled, 64 outputs at a time over all rows (y written once);
//   walk     the dots with each node chosen by the previous logit's sign (a branch, as walk1 routes), then
//            the gather of the 12 rows it visited.
// Prints the best ns per token over `rounds` rounds of 100k. Portable C++ (GCC vector extensions); the loops are
// compiled for x86-64-v4 (AVX-512), v3 (AVX2 + FMA) and plain x86-64 and the best the CPU runs is taken
// (target_clones; elsewhere, for the compiler's default target).
//   g++ -O2 -std=c++17 bench/native/one_token_bound.cpp -o build/one_token_bound
//   flock /tmp/bench.lock build/one_token_bound [rounds=7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

typedef float V __attribute__((vector_size(64), aligned(64)));  // 16 floats
constexpr int kWidth = 768, kLevels = 12, kVecs = kWidth / 16;
constexpr long kNodes = (1L << kLevels) - 1, kLd = 2 * kWidth;  // one node block: W_in | W_out^T

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), noinline))
#else
#define CLONES __attribute__((noinline))
#endif

__attribute__((always_inline)) inline float hsum(V v) {
  float s = 0.0f;
  for (int i = 0; i < 16; ++i) s += v[i];
  return s;
}

// The dot of one W_in row with x: vector v to accumulator v % 4, as the kernels order it.
__attribute__((always_inline)) inline float dot_row(const V* row, const V* x) {
  V a[4] = {};
  for (int v = 0; v < kVecs; v += 4) {
    a[0] += row[v] * x[v];
    a[1] += row[v + 1] * x[v + 1];
    a[2] += row[v + 2] * x[v + 2];
    a[3] += row[v + 3] * x[v + 3];
  }
  return hsum((a[0] + a[1]) + (a[2] + a[3]));
}

CLONES float dots(const float* w, const long* nodes, const V* x) {
  float s = 0.0f;
  for (int l = 0; l < kLevels; ++l) s += dot_row(reinterpret_cast<const V*>(w + nodes[l] * kLd), x);
  return s;
}

CLONES void gather(const float* const* rows, const float* g, V* y) {
  for (int v = 0; v < kVecs; v += 4) {
    V a[4] = {};
    for (int j = 0; j < kLevels; ++j) {
      const V* r = reinterpret_cast<const V*>(rows[j]) + v;
      a[0] += g[j] * r[0];
      a[1] += g[j] * r[1];
      a[2] += g[j] * r[2];
      a[3] += g[j] * r[3];
    }
    for (int k = 0; k < 4; ++k) y[v + k] = a[k];
  }
}

CLONES void walk(const float* w, const V* x, V* y) {
  const float* rows[kLevels];
  float g[kLevels];
  long node = 0;
  for (int l = 0; l < kLevels; ++l) {
    const float* row = w + node * kLd;
    rows[l] = row + kWidth;
    g[l] = dot_row(reinterpret_cast<const V*>(row), x);
    if (g[l] > 0.0f) {
      __asm__ volatile("");  // keep the branch (walk1's route), not a select
      node = 2 * node + 2;
    } else {
      node = 2 * node + 1;
    }
  }
  gather(rows, g, y);
}

template <typename F>
double best_ns(int rounds, F f) {
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    constexpr int kCalls = 100000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) f();
    const std::chrono::duration<double, std::nano> dt = std::chrono::steady_clock::now() - t0;
    best = std::min(best, dt.count() / kCalls);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const size_t bytes = size_t(kNodes * kLd) * sizeof(float);
  float* w = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!w) return 1;
  uint32_t s = 1;
  for (long i = 0; i < kNodes * kLd; ++i) {
    s = s * 1664525u + 1013904223u;
    w[i] = float(int32_t(s >> 8) - (1 << 23)) * 1e-7f;
  }
  static V x[kVecs], y[kVecs];
  for (int i = 0; i < kWidth; ++i) x[i / 16][i % 16] = float((i * 7) % 13) * 0.1f - 0.6f;
  long nodes[kLevels];
  const float* rows[kLevels];
  float g[kLevels];
  for (long l = 0, n = 0; l < kLevels; ++l, n = 2 * n + 1 + (l & 1)) {
    nodes[l] = n;
    rows[l] = w + n * kLd + kWidth;
    g[l] = 0.1f * float(l);
  }
  volatile float sink = 0.0f;
  const double t_dots = best_ns(rounds, [&] { sink = dots(w, nodes, x); });
  const double t_gather = best_ns(rounds, [&] {
    gather(rows, g, y);
    sink = y[1][0];
  });
  const double t_walk = best_ns(rounds, [&] {
    walk(w, x, y);
    sink = y[1][0];
  });
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  const char* isa = __builtin_cpu_supports("x86-64-v4")   ? "x86-64-v4"
                    : __builtin_cpu_supports("x86-64-v3") ? "x86-64-v3"
                                                          : "x86-64";
#else
  const char* isa = "default target";
#endif
  std::printf("one token, 1x11 fp32 rows in L2, 1 thread, %s, best of %d rounds (ns per token)\n", isa, rounds);
  std::printf("dots %.0f\ngather %.0f\nwalk %.0f\n", t_dots, t_gather, t_walk);
  std::free(w);
  return sink == 12345.0f;  // keeps the results live
}
