// The automatic strategy's tuner (native/src/fff_tune.h) on synthetic timings: it settles on the faster walk and
// re-times the other one call in kExplore, follows a change of which one is faster, keeps classes of call (size,
// threads) apart, and does not count each walk's first (cold) call. Then a layer called again and again with
// `automatic`, so that it switches walks, gives bitwise the per-token walk's outputs and paths every time, also
// from two threads at once (run under ThreadSanitizer by scripts/test-native.sh --tsan).
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "fff_tune.h"
#include "fffbert/fff.h"
#include "test.h"

using namespace fffbert;

namespace {

// Runs `calls` calls of `rows` rows on `threads` threads against walks that take per_token_ns / batched_ns per
// row; returns how many took each walk.
void drive(FffTuner& t, int64_t rows, int threads, double per_token_ns, double batched_ns, int calls, int* n_per_token,
           int* n_batched) {
  *n_per_token = *n_batched = 0;
  for (int i = 0; i < calls; ++i) {
    const FffTuner::Ticket k = t.choose(rows, threads);
    const bool b = k.strategy == FffStrategy::batched;
    CHECK(b || k.strategy == FffStrategy::per_token);
    ++*(b ? n_batched : n_per_token);
    t.report(k, rows, (b ? batched_ns : per_token_ns) * double(rows) * 1e-9);
  }
}

}  // namespace

TEST(fff_tuner_settles_on_the_faster_walk) {
  constexpr int kFar = FffTuner::kExploreFar, kNear = FffTuner::kExplore;
  FffTuner t;
  int p = 0, b = 0;
  drive(t, 2048, 2, 800.0, 600.0, FffTuner::kWarmup, &p, &b);
  CHECK_MSG(p == FffTuner::kWarmup / 2 && b == FffTuner::kWarmup / 2, "warm-up alternates: %d / %d", p, b);
  // Until kSettle the other walk is re-timed once in kExplore calls; then, 800 being over kFar x 600, once in
  // kExploreFar.
  drive(t, 2048, 2, 800.0, 600.0, FffTuner::kSettle - FffTuner::kWarmup, &p, &b);
  // Calls kWarmup..kSettle-1 hold every n with n % kNear == kNear - 1 below kSettle (the first is 15 >= 8).
  CHECK_MSG(p == FffTuner::kSettle / kNear, "before settling: per-token %d, batched %d", p, b);
  drive(t, 2048, 2, 800.0, 600.0, 32 * kFar, &p, &b);
  CHECK_MSG(p == 32 && b == 32 * (kFar - 1), "settled: per-token %d, batched %d", p, b);
  float mp = 0.0f, mb = 0.0f;
  t.means(2048, 2, &mp, &mb);
  CHECK_MSG(std::fabs(mp - 800.0f) < 1.0f && std::fabs(mb - 600.0f) < 1.0f, "means %.1f / %.1f", mp, mb);

  // Batched turns 3x slower (the threads placed apart): per-token within a few calls.
  drive(t, 2048, 2, 800.0, 1800.0, 8, &p, &b);
  CHECK_MSG(p >= 4, "the change followed within 8 calls: per-token %d, batched %d", p, b);
  drive(t, 2048, 2, 800.0, 1800.0, kFar, &p, &b);
  drive(t, 2048, 2, 800.0, 1800.0, 32 * kFar, &p, &b);
  CHECK_MSG(p == 32 * (kFar - 1) && b == 32, "after the change: per-token %d, batched %d", p, b);
  // And back: the re-timed batched walk wins again at its next re-timing.
  drive(t, 2048, 2, 800.0, 600.0, kFar, &p, &b);
  drive(t, 2048, 2, 800.0, 600.0, 32 * kFar, &p, &b);
  CHECK_MSG(p == 32 && b == 32 * (kFar - 1), "back: per-token %d, batched %d", p, b);
  // Two walks within kFar of each other: the other is re-timed once in kExplore calls.
  drive(t, 2048, 2, 650.0, 600.0, 4 * kFar, &p, &b);
  drive(t, 2048, 2, 650.0, 600.0, 32 * kNear, &p, &b);
  CHECK_MSG(p == 32 && b == 32 * (kNear - 1), "close: per-token %d, batched %d", p, b);
}

TEST(fff_tuner_keeps_classes_apart) {
  FffTuner t;
  int p = 0, b = 0;
  // Same size class (1024..2047 rows), two thread counts, opposite winners; another size class on 2 threads.
  drive(t, 1500, 2, 500.0, 900.0, 16 * FffTuner::kExplore, &p, &b);
  drive(t, 1100, 4, 900.0, 500.0, 16 * FffTuner::kExplore, &p, &b);
  drive(t, 100, 2, 900.0, 500.0, 16 * FffTuner::kExplore, &p, &b);
  drive(t, 2000, 2, 500.0, 900.0, 16 * FffTuner::kExplore, &p, &b);
  CHECK_MSG(p > 14 * FffTuner::kExplore, "1024..2047 rows, 2 threads: per-token %d, batched %d", p, b);
  drive(t, 1024, 4, 900.0, 500.0, 16 * FffTuner::kExplore, &p, &b);
  CHECK_MSG(b > 14 * FffTuner::kExplore, "4 threads: per-token %d, batched %d", p, b);
  drive(t, 127, 2, 900.0, 500.0, 16 * FffTuner::kExplore, &p, &b);
  CHECK_MSG(b > 14 * FffTuner::kExplore, "64..127 rows: per-token %d, batched %d", p, b);
  float mp = 0.0f, mb = 0.0f;
  t.means(1500, 3, &mp, &mb);
  CHECK_MSG(mp == 0.0f && mb == 0.0f, "a class never called has no means: %.1f / %.1f", mp, mb);
}

TEST(fff_tuner_skips_each_walks_first_calls) {
  FffTuner t;
  for (int i = 0; i < FffTuner::kWarmup; ++i) {
    const FffTuner::Ticket k = t.choose(512, 1);
    // The first kCold calls of each walk 1000x slower (cold); the rest 100 (per-token) and 200 (batched) ns a row.
    const double ns = i < 2 * FffTuner::kCold ? 1e5 : k.strategy == FffStrategy::per_token ? 100.0 : 200.0;
    t.report(k, 512, ns * 512 * 1e-9);
  }
  float mp = 0.0f, mb = 0.0f;
  t.means(512, 1, &mp, &mb);
  CHECK_MSG(std::fabs(mp - 100.0f) < 0.5f && std::fabs(mb - 200.0f) < 0.5f, "means %.1f / %.1f", mp, mb);
  CHECK(t.choose(512, 1).strategy == FffStrategy::per_token);
}

// A walk that timed slow once (a cold call past the warm-up, a preempted thread) is not kept out for long: its next
// re-timing replaces the estimate, where a running mean would need several.
TEST(fff_tuner_retimed_walk_takes_its_new_time) {
  FffTuner t;
  int p = 0, b = 0;
  for (int i = 0; i < FffTuner::kWarmup; ++i) {
    const FffTuner::Ticket k = t.choose(2048, 1);
    // Batched's counted warm-up calls 5x slow; the truth is batched 150, per-token 250 ns a row.
    const double ns = k.strategy == FffStrategy::per_token ? 250.0 : 750.0;
    t.report(k, 2048, ns * 2048 * 1e-9);
  }
  drive(t, 2048, 1, 250.0, 150.0, FffTuner::kExplore, &p, &b);
  drive(t, 2048, 1, 250.0, 150.0, 8 * FffTuner::kExplore, &p, &b);
  CHECK_MSG(p == 8 && b == 8 * (FffTuner::kExplore - 1), "after one re-timing: per-token %d, batched %d", p, b);
}

// A layer called with `automatic` often enough that its tuner times and takes both walks: every call gives the
// paths and outputs of the per-token walk, bitwise (2 threads, 300 tokens: the planned batched walk).
TEST(fff_automatic_switching_walks_is_bitwise_invisible) {
  const FffShape s{48, 40, 9, 1};
  const int64_t R = s.trees * s.nodes_per_tree(), rows = 300;
  std::mt19937 rng(77);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w_in(size_t(R * s.input_width));
  std::vector<float> b_in(static_cast<size_t>(R));
  std::vector<float> w_out(size_t(s.output_width * R));
  for (float& v : w_in) v = nd(rng) * 0.15f;
  for (float& v : b_in) v = 0.1f * nd(rng);
  for (float& v : w_out) v = nd(rng) * 0.15f;
  std::vector<float> x(size_t(rows * s.input_width));
  for (float& v : x) v = nd(rng);
  for (FffWeights type : {FffWeights::f32, FffWeights::bf16, FffWeights::bf16_dot}) {
    const FffLayerPtr L = fff_create(s, w_in.data(), b_in.data(), w_out.data(), type);
    CHECK(L != nullptr);
    if (!L) continue;
    std::vector<float> y0(size_t(rows * s.output_width)), y(y0.size());
    std::vector<int32_t> p0(size_t(rows * (s.depth + 1))), p(p0.size());
    const Isa isa = isa_active();
    fff_forward(*L, x.data(), rows, s.input_width, y0.data(), s.output_width, p0.data(), FffStrategy::per_token, isa,
                fffbert_test::pool(1));
    int differ = 0;
    for (int call = 0; call < 3 * FffTuner::kExplore; ++call) {
      fff_forward(*L, x.data(), rows, s.input_width, y.data(), s.output_width, p.data(), FffStrategy::automatic, isa,
                  fffbert_test::pool(2));
      if (p != p0 || std::memcmp(y.data(), y0.data(), y.size() * sizeof(float)) != 0) ++differ;
    }
    CHECK_MSG(differ == 0, "weights %d: %d of %d automatic calls differ from the per-token walk", int(type), differ,
              3 * FffTuner::kExplore);
  }
}

// Two threads calling one layer with `automatic` at once, each on its own pool: the tuner's shared state is
// atomics (the ThreadSanitizer job runs this), and every call still gives the per-token walk's outputs bitwise.
TEST(fff_automatic_from_two_threads_at_once) {
  const FffShape s{32, 24, 7, 1};
  const int64_t R = s.trees * s.nodes_per_tree(), rows = 64;
  std::mt19937 rng(78);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w_in(size_t(R * s.input_width));
  std::vector<float> b_in(static_cast<size_t>(R));
  std::vector<float> w_out(size_t(s.output_width * R));
  for (float& v : w_in) v = nd(rng) * 0.2f;
  for (float& v : b_in) v = 0.1f * nd(rng);
  for (float& v : w_out) v = nd(rng) * 0.2f;
  std::vector<float> x(size_t(rows * s.input_width));
  for (float& v : x) v = nd(rng);
  const FffLayerPtr L = fff_create(s, w_in.data(), b_in.data(), w_out.data(), FffWeights::f32);
  CHECK(L != nullptr);
  if (!L) return;
  const Isa isa = isa_active();
  std::vector<float> y0(size_t(rows * s.output_width));
  fff_forward(*L, x.data(), rows, s.input_width, y0.data(), s.output_width, nullptr, FffStrategy::per_token, isa,
              fffbert_test::pool(1));
  std::atomic<int> differ{0};
  auto caller = [&] {
    std::unique_ptr<ThreadPool> pool = make_pool(2);
    std::vector<float> y(y0.size());
    for (int call = 0; call < 2 * FffTuner::kExplore; ++call) {
      fff_forward(*L, x.data(), rows, s.input_width, y.data(), s.output_width, nullptr, FffStrategy::automatic, isa,
                  *pool);
      if (std::memcmp(y.data(), y0.data(), y.size() * sizeof(float)) != 0) ++differ;
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  CHECK_MSG(differ == 0, "%d calls differ from the per-token walk", differ.load());
}
