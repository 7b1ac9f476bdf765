// Same-process A/B of the dense Linear in fp32, int8 and bf16 (dense.h LinearDtype) at BERT shapes: y = x W^T,
// the addon's kernels for the best ISA, one pool for all. Rounds alternate the dtypes; prints the median ms per
// call and the speed-up over fp32 per shape. Built against the core library of a native-tests build:
//   bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
//   g++ -O2 -std=c++17 -Inative/include -Inative/src bench/native/lowp_gemm.cpp \
//       build/native-tests/libfffbert_core.a -lpthread -o build/lowp_gemm
//   flock /tmp/bench.lock build/lowp_gemm [threads=2] [rounds=7] [isa=best: scalar|avx2|avx512|neon]
// With 1 thread the time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared, loaded machine
// it leaves out the time the thread waits descheduled.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fffbert/dense.h"
#include "kernels/lowp_kernels.h"

using namespace fffbert;

double now_ms(bool cpu) {
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  auto pool = make_pool(threads);
  Isa isa = isa_best();
  if (argc > 3 && (!isa_parse(argv[3], &isa) || !isa_supported(isa))) {
    std::fprintf(stderr, "isa %s is not supported here\n", argv[3]);
    return 1;
  }
  std::printf("isa %s, int8 %s, bf16 %s, %d threads, %d rounds, median ms per call\n", isa_name(isa),
              int8_kernels_for(isa).name, bf16_kernels_for(isa).name, threads, rounds);
  const int64_t ms[] = {16, 128, 1024};
  const int64_t nk[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}, {4095, 768}, {768, 4095}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::printf("%6s %5s %5s | %9s %9s %9s | %6s %6s\n", "M", "N", "K", "fp32", "int8", "bf16", "int8x", "bf16x");
  for (const auto& s : nk) {
    const int64_t N = s[0], K = s[1];
    std::vector<float> W(static_cast<size_t>(N * K)), b(static_cast<size_t>(N));
    for (float& v : W) v = d(rng);
    for (float& v : b) v = d(rng);
    PackedLinearPtr layers[3] = {linear_create(W.data(), b.data(), N, K, LinearDtype::f32),
                                 linear_create(W.data(), b.data(), N, K, LinearDtype::int8),
                                 linear_create(W.data(), b.data(), N, K, LinearDtype::bf16)};
    for (int64_t M : ms) {
      std::vector<float> x(static_cast<size_t>(M * K)), y(static_cast<size_t>(M * N));
      for (float& v : x) v = d(rng);
      // ~50 ms of work per measurement
      const double flop = 2.0 * double(M) * double(N) * double(K);
      const int reps = std::max(1, int(5e9 / flop));
      std::vector<double> t[3];
      for (int r = 0; r < rounds + 1; ++r) {
        for (int l = 0; l < 3; ++l) {
          const double t0 = now_ms(threads == 1);
          for (int i = 0; i < reps; ++i) linear_forward(*layers[l], x.data(), M, K, y.data(), N, Epilogue{}, isa, *pool);
          const double dt = now_ms(threads == 1) - t0;
          if (r > 0) t[l].push_back(dt / reps);  // round 0 warms up
        }
      }
      double med[3];
      for (int l = 0; l < 3; ++l) {
        std::sort(t[l].begin(), t[l].end());
        med[l] = t[l][t[l].size() / 2];
      }
      std::printf("%6lld %5lld %5lld | %9.3f %9.3f %9.3f | %6.2f %6.2f\n", (long long)M, (long long)N, (long long)K,
                  med[0], med[1], med[2], med[0] / med[1], med[0] / med[2]);
      std::fflush(stdout);
    }
  }
}
