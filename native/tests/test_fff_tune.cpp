// The automatic strategy's tuner (native/src/fff_tune.h) on synthetic timings: it settles on the faster walk and
// re-times the other one call in kExplore, follows a change of which one is faster, keeps classes of call (size,
// threads) apart, and does not count each walk's first (cold) call. Layers driven through it: test_fff.cpp
// (fff_automatic_*).
#include <cmath>

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
