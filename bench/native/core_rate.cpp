// Whether a machine's CPUs are free cores (issue 10: the 16-thread figures): each thread, pinned to a CPU of the
// list, runs independent FMA chains in registers for `ms` milliseconds, and the per-thread rates are printed
// (mean and the slowest). Two CPUs that are hyperthreads of one core give about half the rate each; a CPU shared
// with other load (a VM's vCPU on a busy host) gives less than it does alone; clocks that drop with all cores
// busy show as a lower mean. Linux (pthread_setaffinity_np); AVX2 + FMA, no memory traffic.
//   g++ -O2 -std=c++17 bench/native/core_rate.cpp -lpthread -o build/core_rate
//   build/core_rate [ms=400] CPU...      e.g. build/core_rate 400 0;  build/core_rate 400 0 1;  ... 0 1 2 ... 15
// On the lent 16-core Xeon (one run): CPU 0 alone 59-67 GFLOP/s; any pair (0, k) 50-64 per thread, slowest 43 (no
// hyperthread pairs); 8 at once 54.2 mean, 39.9 the slowest; all 16 at once 53.0 and 53.5 mean, 39.8 and 40.0 the
// slowest: with every vCPU busy the mean core runs ~0.87x of one alone and the slowest ~0.65x.
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_go{false};

// GFLOP/s of one thread on `cpu` (-1: not pinned): 16 independent chains of 8-float FMAs.
__attribute__((target("avx2,fma"))) double rate(int cpu, double seconds) {
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  while (!g_go.load(std::memory_order_acquire)) {}
  __m256 a[16];
  for (int i = 0; i < 16; ++i) a[i] = _mm256_set1_ps(1.0f + float(i) * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  long long steps = 0;
  double elapsed = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  do {
    for (int r = 0; r < 4096; ++r) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
    }
    steps += 4096;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  float sink = 0.0f;
  for (int i = 0; i < 16; ++i) {
    float v[8];
    _mm256_storeu_ps(v, a[i]);
    sink += v[0];
  }
  if (sink == 1234.5f) std::printf(" ");  // keeps the chains live
  return double(steps) * 16.0 * 8.0 * 2.0 / elapsed / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: core_rate ms CPU...\n");
    return 2;
  }
  const double seconds = std::max(1, std::atoi(argv[1])) / 1e3;
  std::vector<int> cpus;
  for (int i = 2; i < argc; ++i) cpus.push_back(std::atoi(argv[i]));
  std::vector<double> r(cpus.size(), 0.0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cpus.size(); ++i) threads.emplace_back([&, i] { r[i] = rate(cpus[i], seconds); });
  g_go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  double sum = 0.0;
  for (double v : r) sum += v;
  std::printf("cpus");
  for (int c : cpus) std::printf(" %d", c);
  std::printf(": per thread %.1f GFLOP/s, slowest %.1f\n", sum / double(r.size()), *std::min_element(r.begin(), r.end()));
  return 0;
}
