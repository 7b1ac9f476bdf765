// The FFF walk of a few tokens per call without Node (issue 10's one-token figure, docs/PERFORMANCE.md "One
// token"): fff_forward on a random UltraFastBERT-1x11 layer (I = O = 768 unless given, D = 11, K = 1), per-token
// strategy, 1 thread, at the best ISA; 1..4 tokens per call, the same x every call (rows hot in the caches, and a
// route the branch predictor learns) and x drawn at random from `inputs` different ones (from 1024, the default,
// routes it cannot learn). Prints the median (min) ns per token over `rounds` rounds of 20k calls.
//   bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
//   g++ -O2 -std=c++17 -Inative/include bench/native/fff_one_token.cpp build/native-tests/libfffbert_core.a
//       -lpthread -o build/fff_one_token
//   flock /tmp/bench.lock build/fff_one_token [weights=f32|bf16|bf16-dot] [width=768] [rounds=15]
//       [inputs=1024]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "fffbert/fff.h"
#include "fffbert/isa.h"
#include "fffbert/pool.h"
#include "fff_random_layer.h"

using namespace fffbert;

int main(int argc, char** argv) {
  const char* wname = argc > 1 ? argv[1] : "f32";
  const FffWeights weights = fffbench::weights_named(wname);
  const int64_t width = argc > 2 ? std::max(1, std::atoi(argv[2])) : 768;
  const int rounds = argc > 3 ? std::max(1, std::atoi(argv[3])) : 15;
  const int64_t n_inputs = argc > 4 ? std::max(1, std::atoi(argv[4])) : 1024;
  constexpr int64_t kDepth = 11, kCalls = 20000;
  std::mt19937 rng(1);
  FffLayerPtr layer = fffbench::random_layer(width, kDepth, weights, rng);
  if (!layer) return 1;
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::unique_ptr<ThreadPool> pool = make_pool(1);
  std::vector<float> x(size_t(n_inputs * 4 * width)), y(size_t(4 * width));
  for (float& v : x) v = normal(rng) * 20.0f;
  std::vector<int64_t> order(kCalls);
  std::uniform_int_distribution<int64_t> pick(0, n_inputs - 1);
  for (int64_t& o : order) o = pick(rng);
  const Isa isa = isa_best();
  std::printf("FFF I=O=%lld D=%lld K=1 %s, %s, 1 thread: ns per token, median (min) of %d rounds\n", (long long)width,
              (long long)kDepth, wname, isa_name(isa), rounds);
  for (int varied = 0; varied < 2; ++varied) {
    for (int64_t tokens = 1; tokens <= 4; ++tokens) {
      std::vector<double> ns;
      for (int r = 0; r < rounds; ++r) {
        for (int64_t i = 0; i < 500; ++i) {
          fff_forward(*layer, x.data(), tokens, width, y.data(), width, nullptr, FffStrategy::per_token, isa, *pool);
        }
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t i = 0; i < kCalls; ++i) {
          const float* xi = x.data() + (varied ? order[size_t(i)] * 4 * width : 0);
          fff_forward(*layer, xi, tokens, width, y.data(), width, nullptr, FffStrategy::per_token, isa, *pool);
        }
        const std::chrono::duration<double, std::nano> dt = std::chrono::steady_clock::now() - t0;
        ns.push_back(dt.count() / double(kCalls * tokens));
      }
      std::sort(ns.begin(), ns.end());
      std::printf("%s x, %lld token(s) per call: %.0f (%.0f)\n", varied ? "varied" : "same", (long long)tokens,
                  ns[ns.size() / 2], ns[0]);
    }
  }
  return 0;
}
