// What one dot of the FFF's walk costs on one core by where x comes from (issue 10, docs/PERFORMANCE.md "Phase
// times as a build option"): the layer's own `dot_shared` kernel (one W_in row, 4 tokens, as the batched walk's
// upper levels call it; I=768) over a pool of `tokens` activations cycled in order, so x is read from L1 (4
// tokens, 12 KB), L2 (64-256) or the L3 / DRAM (4096 and up), the rows (8 of them) from L1. Prints the best ns per
// token and level over the rounds; 48 FMAs at `bench/native/core_rate.cpp`'s rate are its compute floor. The
// kernels are those of the ISA the library would run (FFFBERT_ISA applies).
//   g++ -O2 -std=c++17 -Inative/include -Inative/src bench/native/dot_rate.cpp LIB -lpthread -o build/dot_rate
//   (LIB: the core, build/native-tests/libfffbert_core.a as scripts/test-native.sh builds it)
//   flock /tmp/bench.lock build/dot_rate [rounds=5] [tokens...=4 64 256 4096]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fffbert/isa.h"
#include "fffbert/memory.h"
#include "kernels/fff_kernels.h"

namespace {

constexpr int kWidth = 768;
constexpr long kCalls = 200000;

// n floats on a cache line (the packed rows' alignment: the kernels load rows aligned).
struct Free {
  void operator()(float* p) const { fffbert::free_aligned(p); }
};
std::unique_ptr<float[], Free> floats(size_t n) {
  auto* p = static_cast<float*>(fffbert::alloc_aligned(n * sizeof(float)));
  if (!p) {
    std::fprintf(stderr, "dot_rate: out of memory\n");
    std::exit(1);
  }
  return std::unique_ptr<float[], Free>(p);
}

// ns per (token, level): kCalls calls of dot_shared, 4 tokens each, tokens t, t+1, t+2, t+3 of the pool in turn.
double dot_shared_ns(const fffbert::FffKernels& k, const float* xs, int tokens, const float* rows, float* sink) {
  float out[4];
  const auto t0 = std::chrono::steady_clock::now();
  for (long call = 0; call < kCalls; ++call) {
    const int t = int((call * 4) % tokens);
    const float* x[4];
    for (int j = 0; j < 4; ++j) x[j] = xs + int64_t((t + j) % tokens) * kWidth;
    k.dot_shared(rows + (call % 8) * kWidth, x, 4, kWidth, out);
    *sink += out[0];
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / (kCalls * 4.0);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::vector<int> pools;
  for (int i = 2; i < argc; ++i) pools.push_back(std::max(4, std::atoi(argv[i])));
  if (pools.empty()) pools = {4, 64, 256, 4096};
  fffbert::isa_apply_env();
  const fffbert::Isa isa = fffbert::isa_active();
  const fffbert::FffKernels& k = *fffbert::fff_kernels_for(isa);  // isa_active(): one this build has
  std::printf("dot_shared (1 row, 4 tokens, I=%d), %s kernels, best of %d rounds of %ld calls\n", kWidth,
              fffbert::isa_name(isa), rounds, kCalls);
  std::printf("%8s %10s %14s\n", "tokens", "x bytes", "ns/token/level");
  float sink = 0.0f;
  const size_t n_rows = size_t(8) * kWidth;
  auto rows = floats(n_rows);
  for (size_t i = 0; i < n_rows; ++i) rows[i] = float(int(i * 13 % 97) - 48) * 0.01f;
  for (int tokens : pools) {
    const size_t n_x = size_t(tokens) * kWidth;
    auto xs = floats(n_x);
    for (size_t i = 0; i < n_x; ++i) xs[i] = float(int(i * 37 % 101) - 50) * 0.01f;
    double best = 1e30;
    for (int r = 0; r < rounds; ++r) best = std::min(best, dot_shared_ns(k, xs.get(), tokens, rows.get(), &sink));
    std::printf("%8d %10ld %14.1f\n", tokens, long(tokens) * kWidth * 4, best);
  }
  return sink == 1.5f ? 2 : 0;  // keeps the sums live
}
