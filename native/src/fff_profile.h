// Opt-in timing of the planned walk (fff.cpp forward_planned), for work on the FFF kernel: configure with
// -DFFFBERT_PROFILE=ON and the process prints to stderr at exit, per planned call and averaged over all of them:
// the wall time of the top levels (A), of the regroup (B, the calling thread alone) and of the subtrees (C); per
// phase the threads' busy time summed and the largest one thread had (what the phase's wall time waits for); and
// C's busy time split into the walks and the gathers. docs/PERFORMANCE.md ("Streamed input", "Phase times as a
// build option") has what it showed. Off (the default, and every shipped build), WalkProfile is empty and its
// calls compile away.
#pragma once
#include <cstdint>

#if defined(FFFBERT_PROFILE) && FFFBERT_PROFILE
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <vector>
#endif

namespace fffbert {

#if defined(FFFBERT_PROFILE) && FFFBERT_PROFILE

class WalkProfile {
 public:
  enum Phase { kTop, kRegroup, kSubtrees, kPhases };

  explicit WalkProfile(int threads) : busy_(size_t(kPhases) * size_t(threads) * kPad, 0), threads_(threads) {
    mark_ = now();
  }
  ~WalkProfile() {
    Totals& t = totals();
    for (int p = 0; p < kPhases; ++p) {
      int64_t sum = 0, most = 0;
      for (int i = 0; i < threads_; ++i) {
        const int64_t b = busy_[(size_t(p) * size_t(threads_) + size_t(i)) * kPad];
        sum += b;
        most = std::max(most, b);
      }
      t.wall[p] += wall_[p];
      t.busy[p] += sum;
      t.most[p] += most;
    }
    t.walks += walks_;
    t.gathers += gathers_;
    t.calls += 1;
  }

  // The calling thread, at the end of phase p: its wall time since the previous mark (or the start).
  void end_phase(Phase p) {
    const int64_t t = now();
    wall_[p] += t - mark_;
    mark_ = t;
  }
  // A task of phase p on pool thread `thread` starts; its busy time runs until task_end.
  int64_t task_start() const { return now(); }
  void task_end(Phase p, int thread, int64_t start) {
    // A pool resized during the call (set_default_threads from another thread) may number its threads past ours.
    if (thread < 0 || thread >= threads_) return;
    busy_[(size_t(p) * size_t(threads_) + size_t(thread)) * kPad] += now() - start;
  }
  // A subtree task's walk took [start, mid), its gathers [mid, now).
  void split(int64_t start, int64_t mid) {
    walks_.fetch_add(mid - start, std::memory_order_relaxed);
    gathers_.fetch_add(now() - mid, std::memory_order_relaxed);
  }
  static int64_t now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  static constexpr size_t kPad = 8;  // a thread's slots a cache line apart
  struct Totals {
    std::atomic<int64_t> wall[kPhases]{}, busy[kPhases]{}, most[kPhases]{}, walks{0}, gathers{0}, calls{0};
    ~Totals() {
      const double n = double(calls.load());
      if (n == 0) return;
      auto us = [&](const std::atomic<int64_t>& v) { return double(v.load()) / n / 1e3; };
      std::fprintf(stderr,
                   "fffbert profile, %lld planned calls, us per call: A wall %.1f (busy %.1f, most %.1f), B %.1f, "
                   "C wall %.1f (busy %.1f, most %.1f; walks %.1f, gathers %.1f)\n",
                   static_cast<long long>(calls.load()), us(wall[kTop]), us(busy[kTop]), us(most[kTop]),
                   us(wall[kRegroup]), us(wall[kSubtrees]), us(busy[kSubtrees]), us(most[kSubtrees]), us(walks),
                   us(gathers));
    }
  };
  static Totals& totals() {
    static Totals t;
    return t;
  }

  std::vector<int64_t> busy_;
  int threads_;
  int64_t mark_ = 0;
  int64_t wall_[kPhases] = {};
  std::atomic<int64_t> walks_{0}, gathers_{0};
};

#else

class WalkProfile {
 public:
  enum Phase { kTop, kRegroup, kSubtrees, kPhases };
  explicit WalkProfile(int) {}
  void end_phase(Phase) {}
  int64_t task_start() const { return 0; }
  void task_end(Phase, int, int64_t) {}
  void split(int64_t, int64_t) {}
  static int64_t now() { return 0; }
};

#endif

}  // namespace fffbert
