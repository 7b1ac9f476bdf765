// Two builds of the FFF layer in one process, round by round (issue 10): the A/B this project's machines need.
// On the 2-vCPU VM and the lent Xeon a process's speed moves 10-20% from one run to the next (the host's placement
// of the vCPUs, neighbours on the L3 and DRAM), so two binaries run one after the other compare the machine's
// spells as much as the code. Here each build is a shared object (bench/native/ab_shim.cpp linked with that build's
// core by scripts/ab-native.sh), both are loaded at once, and rounds alternate A B, B A, ...: each round's pair
// ran within a second of each other, and the paired ratio B / A is what to read. Same random layer (seed 1) and
// the same inputs for both.
//   bash scripts/ab-native.sh A B [weights] [tokens] [threads] [strategy] [inputs] [rounds]
//   build/ab/ab_fff A.so B.so [f32|bf16|bf16-dot] [tokens=1] [threads=1] [auto|per-token|batched]
//       [stream|repeat|random] [rounds=12]
// AB_CALLS=N: N calls per side per round.
// inputs: stream, each call the next tokens of 2048 distinct ones (bench/layer.mjs's default); repeat, one x every
// call (rows hot, the route learned by the branch predictor); random, calls at random offsets into 4096 tokens.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

using CreateFn = void* (*)(const char*, int64_t, int64_t, uint32_t, int);
using ForwardFn = void (*)(void*, const float*, int64_t, float*, int);
using DestroyFn = void (*)(void*);

struct Side {
  void* so = nullptr;
  void* layer = nullptr;
  ForwardFn forward = nullptr;
  DestroyFn destroy = nullptr;
};

bool open_side(const char* path, const char* weights, int threads, Side* s) {
  s->so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!s->so) {
    std::fprintf(stderr, "ab_fff: %s\n", dlerror());
    return false;
  }
  auto create = reinterpret_cast<CreateFn>(dlsym(s->so, "ab_create"));
  s->forward = reinterpret_cast<ForwardFn>(dlsym(s->so, "ab_forward"));
  s->destroy = reinterpret_cast<DestroyFn>(dlsym(s->so, "ab_destroy"));
  if (!create || !s->forward || !s->destroy) {
    std::fprintf(stderr, "ab_fff: %s lacks ab_create / ab_forward / ab_destroy\n", path);
    return false;
  }
  s->layer = create(weights, 768, 11, 1, threads);
  if (!s->layer) std::fprintf(stderr, "ab_fff: %s refused the layer\n", path);
  return s->layer != nullptr;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ab_fff A.so B.so [weights] [tokens] [threads] [strategy] [inputs] [rounds]\n");
    return 2;
  }
  const char* weights = argc > 3 ? argv[3] : "f32";
  const int64_t tokens = argc > 4 ? std::max(1, std::atoi(argv[4])) : 1;
  const int threads = argc > 5 ? std::max(1, std::atoi(argv[5])) : 1;
  const char* sname = argc > 6 ? argv[6] : "auto";
  const int strategy = std::strcmp(sname, "per-token") == 0 ? 1 : std::strcmp(sname, "batched") == 0 ? 2 : 0;
  const char* inputs = argc > 7 ? argv[7] : "stream";
  const int rounds = argc > 8 ? std::max(2, std::atoi(argv[8])) : 12;
  constexpr int64_t kWidth = 768, kStream = 2048, kPool = 4096;

  Side side[2];
  for (int i = 0; i < 2; ++i) {
    if (!open_side(argv[1 + i], weights, threads, &side[i])) return 1;
  }
  const bool random = std::strcmp(inputs, "random") == 0, repeat = std::strcmp(inputs, "repeat") == 0;
  const int64_t n_x = std::max(random ? kPool : kStream, tokens);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Each side's x and y start 64-byte aligned plus AB_OFFSET_A / AB_OFFSET_B bytes (a multiple of 4; default 0):
  // a JS Float32Array of this size is usually only 16-byte aligned.
  // AB_YOFFSET_A / AB_YOFFSET_B move y alone (default: as x).
  int64_t offset[2], yoffset[2];
  for (int i = 0; i < 2; ++i) {
    const char* e = std::getenv(i ? "AB_OFFSET_B" : "AB_OFFSET_A");
    const char* ey = std::getenv(i ? "AB_YOFFSET_B" : "AB_YOFFSET_A");
    offset[i] = e ? (std::atoi(e) & 60) / 4 : 0;
    yoffset[i] = ey ? (std::atoi(ey) & 60) / 4 : offset[i];
  }
  std::vector<float> xbuf[2], ybuf[2];
  float* xs[2];
  float* ys[2];
  for (int i = 0; i < 2; ++i) {
    xbuf[i].resize(static_cast<size_t>(n_x * kWidth + 32));
    ybuf[i].resize(static_cast<size_t>(tokens * kWidth + 32));
    auto align = [](float* p) { return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63)); };
    xs[i] = align(xbuf[i].data()) + offset[i];
    ys[i] = align(ybuf[i].data()) + yoffset[i];
  }
  for (int64_t k = 0; k < n_x * kWidth; ++k) xs[0][k] = normal(rng);
  std::copy(xs[0], xs[0] + n_x * kWidth, xs[1]);
  // AB_CALLS: calls per side per round (default: at least 8, ~16K tokens); many-thread runs of large calls
  // take ~3 ms a side by default, too short to average out the machine.
  const char* ecalls = std::getenv("AB_CALLS");
  const int64_t calls = ecalls && std::atoi(ecalls) > 0 ? std::atoi(ecalls) : std::max<int64_t>(8, 16384 / tokens);
  std::vector<int64_t> start(static_cast<size_t>(calls));
  std::uniform_int_distribution<int64_t> pick(0, n_x - tokens);
  for (int64_t i = 0, next = 0; i < calls; ++i) {
    start[size_t(i)] = repeat ? 0 : random ? pick(rng) : next;
    next = next + 2 * tokens > n_x ? 0 : next + tokens;
  }
  auto run = [&](int side_index, int64_t n) {
    const Side& s = side[side_index];
    for (int64_t i = 0; i < n; ++i)
      s.forward(s.layer, xs[side_index] + start[size_t(i)] * kWidth, tokens, ys[side_index], strategy);
  };

  std::vector<double> ns[2], ratio;
  for (int r = 0; r < rounds; ++r) {
    double t[2] = {0.0, 0.0};
    for (int k = 0; k < 2; ++k) {
      const int i = (r % 2) ? 1 - k : k;  // A B, B A, A B, ...
      // Each side has a pool of its own, whose workers spin for a while (pool.cpp kSpins: ~50 us on Zen, ~1 ms
      // on a Xeon, where PAUSE takes ~140 cycles) after its last job before they sleep. Without this wait the
      // side just timed had its workers spinning beside the next side's for its first calls (on the 16-core
      // Xeon, 15 spinning threads beside 16 working ones at 16 threads).
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      run(i, std::max<int64_t>(2, calls / 8));
      const auto t0 = std::chrono::steady_clock::now();
      run(i, calls);
      t[i] = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
             double(calls * tokens);
      ns[i].push_back(t[i]);
    }
    ratio.push_back(t[1] / t[0]);
  }
  std::sort(ratio.begin(), ratio.end());
  std::printf("%s %lld tok %d thr %s %s: A %.0f, B %.0f ns/token (medians of %d rounds); B / A paired %.3f (%.3f-%.3f)\n",
              weights, (long long)tokens, threads, sname, inputs, median(ns[0]), median(ns[1]), rounds,
              median(ratio), ratio.front(), ratio.back());
  for (Side& s : side) s.destroy(s.layer);
  return 0;
}
