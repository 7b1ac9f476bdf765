// The addon's own thread pool.
//
// One process-wide pool (worker_threads share it). parallel_for splits [0, n) into contiguous chunks over the
// pool's threads; the calling thread takes part, so with T threads there are T-1 workers. Jobs from several
// callers (several AsyncWorkers) run one after the other; a parallel_for called from inside a job runs inline
// on the calling thread (no nested parallelism, no deadlock).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace fffbert {

class ThreadPool {
 public:
  // fn(begin, end, thread_index) for a contiguous range [begin, end); thread_index in [0, threads()).
  using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;

  virtual ~ThreadPool() = default;
  virtual int threads() const = 0;
  // Runs fn over [0, n) split into at most threads() chunks of at least `grain` items; returns when all are done.
  virtual void parallel_for(int64_t n, int64_t grain, const RangeFn& fn) = 0;
  // Runs fn(task, thread) for task in [0, n_tasks), tasks handed out dynamically (for uneven work).
  virtual void parallel_tasks(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn) = 0;
};

// The grain of an elementwise loop over rows `width` floats wide: at least ~16K elements per chunk (a 768-wide
// row takes ~0.3 us, a pool hand-off more).
inline int64_t row_grain(int64_t width) { return width >= 16384 ? 1 : 16384 / (width > 0 ? width : 1); }

// The process-wide pool. Default size: FFFBERT_THREADS when set to a positive integer, else the available cores.
ThreadPool& default_pool();
// Resizes the process-wide pool (waits for running jobs). n >= 1; returns false for n outside [1, 1024].
bool set_default_threads(int n);
int default_threads();
// A pool of a given size that runs everything on the calling thread + n-1 own workers (for tests).
std::unique_ptr<ThreadPool> make_pool(int threads);

}  // namespace fffbert
