// The thread pool: every index covered exactly once, jobs right after creation (workers not yet started),
// nested calls run inline, resizing the default pool.
#include <atomic>
#include <thread>
#include <vector>

#include "fffbert/pool.h"
#include "test.h"

using fffbert::ThreadPool;

TEST(pool_covers_each_index_once) {
  for (int threads = 1; threads <= 4; ++threads) {
    auto pool = fffbert::make_pool(threads);
    CHECK(pool->threads() == threads);
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000}) {
      for (int64_t grain : {1, 3, 100}) {
        std::vector<std::atomic<int>> hits(size_t(n > 0 ? n : 1));
        std::atomic<int> max_thread{0};
        pool->parallel_for(n, grain, [&](int64_t b, int64_t e, int t) {
          for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
          if (t > max_thread) max_thread = t;
        });
        for (int64_t i = 0; i < n; ++i)
          CHECK_MSG(hits[size_t(i)] == 1, "threads=%d n=%lld i=%lld", threads, (long long)n, (long long)i);
        CHECK(max_thread < threads);
      }
    }
  }
}

TEST(pool_job_right_after_creation) {
  // A job posted before the workers first run must still be taken (it used to hang the caller).
  for (int rep = 0; rep < 200; ++rep) {
    auto pool = fffbert::make_pool(3);
    std::atomic<int64_t> sum{0};
    pool->parallel_tasks(10, [&](int64_t t, int) { sum += t; });
    CHECK(sum == 45);
  }
}

TEST(pool_nested_calls_run_inline) {
  auto pool = fffbert::make_pool(2);
  std::atomic<int64_t> sum{0};
  pool->parallel_tasks(8, [&](int64_t, int) {
    pool->parallel_for(100, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
  });
  CHECK(sum == 8 * 4950);
}

TEST(pool_default_resize) {
  const int before = fffbert::default_threads();
  CHECK(!fffbert::set_default_threads(0));
  for (int n : {1, 3, 2}) {
    CHECK(fffbert::set_default_threads(n));
    CHECK(fffbert::default_threads() == n);
    std::atomic<int64_t> count{0};
    fffbert::default_pool().parallel_for(1000, 1, [&](int64_t b, int64_t e, int) { count += e - b; });
    CHECK(count == 1000);
  }
  fffbert::set_default_threads(before);
}

TEST(pool_many_small_jobs_each_task_once) {
  // Back-to-back jobs: a worker waking late for job j must never run a task of j twice or one of j+1 early.
  for (int threads : {2, 3, 5}) {
    auto pool = fffbert::make_pool(threads);
    for (int job = 0; job < 5000; ++job) {
      const int64_t n = 2 + job % 7;
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool->parallel_tasks(n, [&](int64_t t, int) { hits[size_t(t)]++; });
      for (int64_t t = 0; t < n; ++t)
        CHECK_MSG(hits[size_t(t)] == 1, "threads=%d job=%d task=%lld", threads, job, (long long)t);
    }
  }
}

TEST(pool_concurrent_callers_and_resize) {
  // Several threads submitting to the default pool at once (the addon's dispatcher threads, worker_threads),
  // while another resizes it: every job covers its range exactly once. Run under ThreadSanitizer by
  // scripts/test-native.sh --tsan.
  const int before = fffbert::default_threads();
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&, c] {
      for (int job = 0; job < 200; ++job) {
        const int64_t n = 1 + (job * 7 + c) % 97;
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        fffbert::default_pool().parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        });
        for (int64_t i = 0; i < n; ++i) bad += hits[size_t(i)] != 1;
      }
    });
  }
  for (int n : {2, 3, 1, 4}) fffbert::set_default_threads(n);
  for (auto& t : callers) t.join();
  CHECK(bad == 0);
  fffbert::set_default_threads(before);
}

TEST(pool_row_grain) {
  // ~16K elements per chunk, at least one row, and no division by a zero width.
  CHECK(fffbert::row_grain(768) == 21);
  CHECK(fffbert::row_grain(1) == 16384);
  CHECK(fffbert::row_grain(16384) == 1);
  CHECK(fffbert::row_grain(100000) == 1);
  CHECK(fffbert::row_grain(0) == 16384);
  for (int64_t w = 1; w <= 40000; w += 37) CHECK(fffbert::row_grain(w) >= 1 && fffbert::row_grain(w) * w <= 16384 + w);
}
