// The FFF layer on a stream of distinct tokens without Node (issue 10): fff_forward on a random
// UltraFastBERT-1x11 layer (I = O = 768, D = 11, K = 1) at the best ISA, each call taking the next `tokens` of
// 2048 distinct tokens (as bench/layer.mjs --inputs stream does), or one x again and again (`repeat`). Prints
// the median (min) ns per token over `rounds` rounds of at least 16384 tokens.
//   bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
//   g++ -O2 -std=c++17 -Inative/include bench/native/fff_stream.cpp build/native-tests/libfffbert_core.a
//       -lpthread -o build/fff_stream
//   flock /tmp/bench.lock build/fff_stream [f32|bf16|bf16-dot] [tokens=128] [threads=1] [auto|per-token|batched|all]
//       [stream|repeat] [rounds=9]
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
  const int64_t tokens = argc > 2 ? std::max(1, std::atoi(argv[2])) : 128;
  const int threads = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  const char* sname = argc > 4 ? argv[4] : "auto";
  // `all`: the three strategies in turn, round by round in this one process (an A/B free of the machine's drift).
  const bool all = std::strcmp(sname, "all") == 0;
  const FffStrategy one = std::strcmp(sname, "per-token") == 0 ? FffStrategy::per_token
                          : std::strcmp(sname, "batched") == 0 ? FffStrategy::batched
                                                               : FffStrategy::automatic;
  const std::vector<FffStrategy> strategies =
      all ? std::vector<FffStrategy>{FffStrategy::per_token, FffStrategy::batched, FffStrategy::automatic}
          : std::vector<FffStrategy>{one};
  const bool repeat = argc > 5 && std::strcmp(argv[5], "repeat") == 0;
  const int rounds = argc > 6 ? std::max(1, std::atoi(argv[6])) : 9;
  constexpr int64_t kWidth = 768, kDepth = 11, kStream = 2048;
  std::mt19937 rng(1);
  FffLayerPtr layer = fffbench::random_layer(kWidth, kDepth, weights, rng);
  if (!layer) return 1;
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::unique_ptr<ThreadPool> pool = make_pool(threads);
  const int64_t n_x = std::max(kStream, tokens);
  std::vector<float> x(size_t(n_x * kWidth)), y(size_t(tokens * kWidth));
  for (float& v : x) v = normal(rng) * 20.0f;
  const Isa isa = isa_best();
  const int64_t calls = std::max<int64_t>(4, 16384 / tokens);
  int64_t next = 0;
  auto call = [&](FffStrategy strategy) {
    const float* xi = x.data() + (repeat ? 0 : next * kWidth);
    fff_forward(*layer, xi, tokens, kWidth, y.data(), kWidth, nullptr, strategy, isa, *pool);
    next += tokens;
    if (next + tokens > n_x) next = 0;
  };
  for (FffStrategy st : strategies) {
    for (int64_t i = 0; i < calls; ++i) call(st);
  }
  std::vector<std::vector<double>> ns(strategies.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < strategies.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < calls; ++i) call(strategies[k]);
      const std::chrono::duration<double, std::nano> dt = std::chrono::steady_clock::now() - t0;
      ns[k].push_back(dt.count() / double(calls * tokens));
    }
  }
  static const char* const kNames[] = {"auto", "per-token", "batched"};
  for (size_t k = 0; k < strategies.size(); ++k) {
    std::sort(ns[k].begin(), ns[k].end());
    std::printf("%s %s %lld tok %d thr %s %s: %.0f (%.0f) ns/token\n", wname, isa_name(isa), (long long)tokens,
                threads, kNames[int(strategies[k])], repeat ? "repeat" : "stream", ns[k][ns[k].size() / 2], ns[k][0]);
  }
  return 0;
}
