// The process-wide thread pool: T-1 worker threads plus the calling thread.
//
// A job is published as (fn, n_tasks) plus a 64-bit claim word: job id in the high 32 bits, next task index in
// the low 32. Threads claim tasks with a compare-exchange that only succeeds while the word still names the
// same job, so a worker that wakes late (descheduled on a busy machine) can never run a task twice or touch a
// finished job. The caller works on its own job and waits only for the tasks to be done, not for every worker
// to check in: on a loaded machine a sleeping worker used to cost the caller a whole scheduler slice per job
// (attention at 1x16 went from 0.5 to 37 ms, measured). Callers are serialised by job_mutex_ (several
// AsyncWorkers may submit at once). Workers spin briefly before sleeping on the condition variable: a model
// forward submits hundreds of small jobs in a row, and a futex wake per job costs more than the smallest ones.
#include "fffbert/pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#define FFFBERT_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define FFFBERT_PAUSE() __asm__ __volatile__("yield")
#else
#define FFFBERT_PAUSE() ((void)0)
#endif

namespace fffbert {
namespace {

thread_local bool t_inside_job = false;

class Pool final : public ThreadPool {
 public:
  explicit Pool(int threads) { start(threads); }
  ~Pool() override { stop(); }

  int threads() const override { return threads_.load(std::memory_order_relaxed); }

  void resize(int threads) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop();
    start(threads);
  }

  void parallel_for(int64_t n, int64_t grain, const RangeFn& fn) override {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t max_chunks = (n + grain - 1) / grain;
    const int64_t chunks = std::min<int64_t>(max_chunks, threads());
    if (chunks <= 1 || t_inside_job) {
      fn(0, n, 0);
      return;
    }
    // Contiguous chunks of nearly equal size; chunk c -> [c*n/chunks, (c+1)*n/chunks).
    parallel_tasks(chunks, [&](int64_t c, int thread) { fn(c * n / chunks, (c + 1) * n / chunks, thread); });
  }

  void parallel_tasks(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) override {
    if (n_tasks <= 0) return;
    if (threads() <= 1 || n_tasks == 1 || t_inside_job || uint64_t(n_tasks) >= kIndexMask) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
      return;
    }
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    const uint64_t job = ++job_id_ & 0xffffffffu;
    // Close first: a worker still holding the previous job's final claim word fails its compare-exchange from
    // here on, and one that reads the new n_tasks (acquire) is guaranteed to see the closed word.
    claim_.store((job << 32) | kIndexMask, std::memory_order_release);
    job_fn_.store(&fn, std::memory_order_release);
    job_tasks_.store(uint64_t(n_tasks), std::memory_order_release);
    done_.store(0, std::memory_order_relaxed);
    claim_.store(job << 32, std::memory_order_release);  // open: task 0 of this job
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    run_tasks(0);
    // Wait for the tasks (some may still run on workers), not for the workers.
    while (done_.load(std::memory_order_acquire) != uint64_t(n_tasks)) FFFBERT_PAUSE();
  }

 private:
  static constexpr uint64_t kIndexMask = 0xffffffffu;

  // Claims and runs tasks of whatever job is current until none is left.
  void run_tasks(int thread) {
    t_inside_job = true;
    uint64_t v = claim_.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t index = v & kIndexMask;
      // Read after v: if a newer job was published meanwhile, the compare-exchange below fails.
      const uint64_t n = job_tasks_.load(std::memory_order_acquire);
      const auto* fn = job_fn_.load(std::memory_order_acquire);
      if (index >= n) break;
      if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      // The job cannot finish before this task is done, so fn is still valid.
      (*fn)(int64_t(index), thread);
      done_.fetch_add(1, std::memory_order_acq_rel);
      v = claim_.load(std::memory_order_acquire);
    }
    t_inside_job = false;
  }

  // `seen` is the generation at the time the worker was created: a job posted before the thread got to run
  // must still be seen as new by it.
  void worker(int thread, uint64_t seen) {
    for (;;) {
      // Spin a little for the next job, then sleep.
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (int spin = 0; g == seen && spin < kSpins; ++spin) {
        FFFBERT_PAUSE();
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen || stopping_; });
        g = generation_.load(std::memory_order_acquire);
      }
      if (stopping_) return;
      seen = g;
      run_tasks(thread);
    }
  }

  void start(int threads) {
    threads_.store(std::max(1, threads), std::memory_order_relaxed);
    stopping_ = false;
    const uint64_t g = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < this->threads(); ++i) workers_.emplace_back([this, i, g] { worker(i, g); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  static constexpr int kSpins = 1 << 14;  // ~50 us of pause on Zen

  // Written by resize() under job_mutex_, read by callers before they take it (to size their split): a caller
  // that read the old size still gets its tasks done (by whoever runs; the caller always takes part).
  std::atomic<int> threads_{1};
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;      // sleeping workers
  std::condition_variable cv_;
  // Each of the words every thread touches per task on a cache line of its own: the claim (compare-exchanged by
  // every claim), the done count (added to at every task's end, spun on by the caller), the job's description
  // (written once per job, read at every claim) and the generation (spun on by idle workers). Side by side, each
  // claim and each done moved the line the others were reading. An empty job of one task per thread, 16-core Xeon:
  // 16 threads 4.2-4.3 -> 3.2-3.4 us, 8 threads 2.0-2.1 -> 1.5; the whole encoder at 1x16 tokens (encoder_dtype,
  // builds alternating) 16 threads fp32 3.38-3.56 -> 2.98-3.19 ms, int8 1.74-1.89 -> 1.51-1.71; Zen 4 2 threads
  // fp32 11.7-13.2 -> 10.0-10.3 ms; 8x128 and the FFF layer's calls alike within noise.
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<uint64_t> claim_{0};  // job id << 32 | next task index
  alignas(64) std::atomic<uint64_t> done_{0};
  alignas(64) std::atomic<uint64_t> job_tasks_{0};
  std::atomic<const std::function<void(int64_t, int)>*> job_fn_{nullptr};
  uint64_t job_id_ = 0;  // under job_mutex_
  std::atomic<bool> stopping_{false};
};

int threads_from_env() {
  if (const char* env = std::getenv("FFFBERT_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return int(v);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}

Pool& global_pool() {
  // Intentionally leaked: worker threads must not be joined during static destruction at process exit.
  static Pool* pool = new Pool(threads_from_env());
  return *pool;
}

}  // namespace

ThreadPool& default_pool() { return global_pool(); }

bool set_default_threads(int n) {
  if (n < 1 || n > 1024) return false;
  if (global_pool().threads() != n) global_pool().resize(n);
  return true;
}

int default_threads() { return global_pool().threads(); }

std::unique_ptr<ThreadPool> make_pool(int threads) { return std::make_unique<Pool>(threads); }

}  // namespace fffbert
