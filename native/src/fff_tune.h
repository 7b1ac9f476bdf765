// The `automatic` FFF strategy's choice between the per-token and the batched walk, made by timing both.
//
// Which walk is faster depends on more than the call's size: the weight type, the thread count, the machine,
// and where the threads run at the time. On the 2-vCPU Zen 4 VM (streamed 2048-token calls, 2 threads, ns per
// token, batched / per-token): f32 661 / 820 and bf16-dot 456 / 456 while its two vCPUs bounce a cache line in
// ~53 ns; in spells of a minute or so where that takes ~320 ns (the host has placed them apart), f32 780-820 /
// 810 and bf16-dot 810-850 / 420: the batched walk hands tokens and their data from thread to thread, the
// per-token walk does not. On the 16-core Xeon at 128 tokens per-token was 7-14% faster at 1-4 threads (f32),
// on the Zen 4 VM not. The walks give bitwise the same outputs and paths, so the choice can follow the clock.
//
// Per layer, per class of call (rows rounded down to a power of two, and the pool's thread count): the first kWarmup
// calls alternate the two walks, each walk's first kCold calls not counted (cold caches, page faults, a clock ramping
// up); then every call takes the walk with the lower estimate of ns per row, except every kExplore-th, which re-times
// the other one (every kExploreFar-th from call kSettle on while the other is estimated over kFar times the chosen one:
// a re-timing costs the gap, up to 1.7x on the 16-core Xeon at 128 tokens and 16 threads). The walk in use keeps a
// running mean (a quarter of each new call); a re-timed walk takes its new time as it is, so one slow call (early ones
// are: on the 16-core Xeon a fresh process at 2 threads, 128 tokens took 4.5 us per row in its first call, ~1.9 in
// calls 2-5, ~1.2 by call 100 and ~1.05 by call 300) keeps a walk out only until its next re-timing, not for the
// several a mean would need. Races between concurrent calls of one layer only blur the estimates (relaxed atomics; the
// outputs are unaffected).
#pragma once
#include <atomic>
#include <cstdint>

#include "fffbert/fff.h"

namespace fffbert {

class FffTuner {
 public:
  static constexpr int kCold = 2;         // calls of each walk not counted at first
  static constexpr int kWarmup = 8;       // calls that alternate the two walks at first (kCold + 2 of each)
  static constexpr int kExplore = 16;     // later, one call in this many re-times the walk not chosen ...
  static constexpr int kExploreFar = 64;  // ... or in this many, past the first kSettle calls, while its estimate
  static constexpr float kFar = 1.25f;    // is more than kFar times the chosen one's (a re-timing costs the gap)
  static constexpr int kSettle = 256;
  static constexpr int kSlots = 64;  // classes of call remembered per layer

  // Calls between re-timings of the walk not chosen, at call n, given the two estimates.
  static int explore_period(uint32_t n, float a, float b) {
    const float lo = a < b ? a : b, hi = a < b ? b : a;
    return n >= uint32_t(kSettle) && hi > kFar * lo ? kExploreFar : kExplore;
  }

  struct Ticket {
    FffStrategy strategy;
    int slot;
    uint32_t call;  // this class's call number
    bool explore;   // a re-timing of the walk not chosen
  };

  // The walk for a call of `rows` rows (>= 1) on `threads` threads.
  Ticket choose(int64_t rows, int threads) {
    const uint64_t key = class_key(rows, threads);
    const int slot = slot_of(key);
    Slot& s = slots_[slot];
    if (s.key.load(std::memory_order_relaxed) != key) {
      // A new class (or one evicted by another): start over.
      s.calls.store(0, std::memory_order_relaxed);
      s.mean[0].store(0.0f, std::memory_order_relaxed);
      s.mean[1].store(0.0f, std::memory_order_relaxed);
      s.key.store(key, std::memory_order_relaxed);
    }
    const uint32_t n = s.calls.fetch_add(1, std::memory_order_relaxed);
    const float per_token = s.mean[0].load(std::memory_order_relaxed);
    const float batched = s.mean[1].load(std::memory_order_relaxed);
    int pick;
    bool explore = false;
    if (n < uint32_t(kWarmup) || per_token == 0.0f || batched == 0.0f) {
      pick = int(n % 2);
    } else {
      pick = batched < per_token ? 1 : 0;
      const uint32_t period = uint32_t(explore_period(n, per_token, batched));
      explore = n % period == period - 1;
      if (explore) pick = 1 - pick;
    }
    return {pick ? FffStrategy::batched : FffStrategy::per_token, slot, n, explore};
  }

  // The time the call of `ticket` took, for `rows` rows.
  void report(const Ticket& t, int64_t rows, double seconds) {
    if (t.call < uint32_t(2 * kCold) || rows < 1 || !(seconds >= 0.0)) return;
    std::atomic<float>& m = slots_[t.slot].mean[t.strategy == FffStrategy::batched ? 1 : 0];
    const float ns = float(seconds * 1e9 / double(rows));
    const float old = m.load(std::memory_order_relaxed);
    m.store(old == 0.0f || t.explore ? ns : old + (ns - old) * 0.25f, std::memory_order_relaxed);
  }

  // The estimates (ns per row) of a class, 0 where not yet timed; for tests.
  void means(int64_t rows, int threads, float* per_token, float* batched) const {
    const uint64_t key = class_key(rows, threads);
    const Slot& s = slots_[slot_of(key)];
    const bool mine = s.key.load(std::memory_order_relaxed) == key;
    *per_token = mine ? s.mean[0].load(std::memory_order_relaxed) : 0.0f;
    *batched = mine ? s.mean[1].load(std::memory_order_relaxed) : 0.0f;
  }

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};
    std::atomic<uint32_t> calls{0};
    std::atomic<float> mean[2]{};  // per_token, batched
  };

  // The bit length of rows and the thread count, mixed (an odd multiplier: distinct classes, never 0).
  static uint64_t class_key(int64_t rows, int threads) {
    uint64_t bits = 0;
    for (uint64_t r = uint64_t(rows); r; r >>= 1) ++bits;
    return (bits << 16 | uint64_t(threads & 0xffff)) * 0x9e3779b97f4a7c15ull;
  }
  static int slot_of(uint64_t key) { return int(key >> 58); }  // the top 6 bits: kSlots = 64

  Slot slots_[kSlots];
};

}  // namespace fffbert
