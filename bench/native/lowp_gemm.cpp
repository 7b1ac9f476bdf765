// Same-process A/B of the dense Linear in fp32 and in every int8 / bf16 kernel this CPU runs (dense.h
// LinearDtype, kernels/lowp_kernels.h) at BERT shapes: y = x W^T, one pool for all. Rounds alternate the
// kernels; prints the median ms per call and the speed-up over fp32 (the best ISA's SGEMM) per shape. Built
// against the core library of a native-tests build:
//   bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
//   g++ -O2 -std=c++17 -Inative/include -Inative/src bench/native/lowp_gemm.cpp \
//       build/native-tests/libfffbert_core.a -lpthread -o build/lowp_gemm
//   flock /tmp/bench.lock build/lowp_gemm [threads=2] [rounds=7] [isa=best: scalar|avx2|avx512|neon] [Ms=16,128,1024]
//       [columns: comma-separated name parts, e.g. fp32,vnni,amx; default all]
// With 1 thread the time is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared, loaded machine
// it leaves out the time the thread waits descheduled.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fffbert/dense.h"
#include "kernels/lowp_kernels.h"
#include "linear.h"

using namespace fffbert;

namespace {

double now_ms(bool cpu) {
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Column {
  std::string name;
  LinearDtype dtype;
  LowpVariant variant;  // unused for f32
};

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  Isa isa = isa_best();
  if (argc > 3 && (!isa_parse(argv[3], &isa) || !isa_supported(isa))) {
    std::fprintf(stderr, "isa %s is not supported here\n", argv[3]);
    return 1;
  }
  auto pool = make_pool(threads);
  // fp32 on `isa`, then every runnable int8 / bf16 kernel of that tier or below (not the scalar oracles).
  std::vector<int64_t> ms = {16, 128, 1024};
  if (argc > 4) {
    ms.clear();
    for (const char* p = argv[4]; *p;) {
      char* end;
      const long long m = std::strtoll(p, &end, 10);
      if (end == p || m <= 0) {
        std::fprintf(stderr, "Ms: a comma-separated list of row counts, not %s\n", argv[4]);
        return 1;
      }
      ms.push_back(m);
      p = *end == ',' ? end + 1 : end;
    }
  }
  auto wanted = [&](const std::string& name) {
    if (argc <= 5) return true;
    const std::string list = std::string(argv[5]) + ",";
    for (size_t at = 0, comma; (comma = list.find(',', at)) != std::string::npos; at = comma + 1) {
      if (comma > at && name.find(list.substr(at, comma - at)) != std::string::npos) return true;
    }
    return false;
  };
  std::vector<Column> cols = {{std::string("fp32-") + isa_name(isa), LinearDtype::f32, {}}};
  LowpVariant all[16];
  const int n = std::min(16, lowp_variants(all, 16));
  for (LinearDtype dtype : {LinearDtype::int8, LinearDtype::bf16}) {
    for (int i = 0; i < n; ++i) {
      const bool is8 = dtype == LinearDtype::int8;
      const char* name = is8 ? (all[i].int8 ? all[i].int8->name : nullptr) : (all[i].bf16 ? all[i].bf16->name : nullptr);
      const Isa tier = is8 ? (all[i].int8 ? all[i].int8->isa : Isa::scalar) : (all[i].bf16 ? all[i].bf16->isa : Isa::scalar);
      if (!name || !all[i].runnable || std::strcmp(name, "scalar") == 0 || int(tier) > int(isa)) continue;
      const std::string col = std::string(is8 ? "i8:" : "bf:") + name;
      if (wanted(col)) cols.push_back({col, dtype, all[i]});
    }
  }
  std::printf("isa %s, %d threads, %d rounds, median ms per call (speed-up over fp32)\n", isa_name(isa), threads, rounds);
  std::printf("%5s %5s %5s", "M", "N", "K");
  for (const Column& c : cols) std::printf(" | %18s", c.name.c_str());
  std::printf("\n");
  const int64_t nk[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}, {4095, 768}, {768, 4095}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
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
      const int reps = std::max(1, int(5e9 / (2.0 * double(M) * double(N) * double(K))));  // ~50 ms of fp32 work
      std::vector<std::vector<double>> t(cols.size());
      for (int r = 0; r < rounds + 1; ++r) {
        for (size_t c = 0; c < cols.size(); ++c) {
          const PackedLinear& w = *layers[int(cols[c].dtype)];
          const double t0 = now_ms(threads == 1);
          for (int i = 0; i < reps; ++i) {
            if (cols[c].dtype == LinearDtype::f32) {
              linear_forward(w, x.data(), M, K, y.data(), N, Epilogue{}, isa, *pool);
            } else {
              linear_forward_lowp(w, x.data(), M, K, y.data(), N, Epilogue{}, cols[c].variant, *pool);
            }
          }
          if (r > 0) t[c].push_back((now_ms(threads == 1) - t0) / reps);  // round 0 warms up
        }
      }
      std::printf("%5lld %5lld %5lld", (long long)M, (long long)N, (long long)K);
      double fp32 = 0;
      for (size_t c = 0; c < cols.size(); ++c) {
        std::sort(t[c].begin(), t[c].end());
        const double med = t[c][t[c].size() / 2];
        if (c == 0) fp32 = med;
        std::printf(" | %9.3f (%5.2fx)", med, fp32 / med);
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
}
